"""Interface: what a person sees. Imports every layer below; nothing imports it.

    cli.py               the Typer app: which commands there are, and `main`
    train_command.py     charrnn train: its options, progress, the resume hint
    decode_commands.py   charrnn sample, beam, eval, novelty
    write_command.py     charrnn write: an interactive writing session on lm.session
    serve_command.py     charrnn serve: its options and limits; the server is serve/
    serve/               the HTTP API and writing page (Starlette on uvicorn)
    insight_commands.py  charrnn explain, neurons, gradients: inside a trained model
    pages/               self-contained HTML pages filled with figures
    pictures.py          text coloured character by character, as a PNG
    run_commands.py      charrnn info, list, plot, corpus list / get
    export_command.py    charrnn export: a web page, a JavaScript module, an ONNX graph
    options.py           the option types the commands share, and one-line errors
    constraint_options.py  the constraint options, declared once for sample, beam, write
    display.py           progress, tables, errors (the only module that imports Rich)
    plot.py              training curves of one or more runs to a PNG (matplotlib)
"""
