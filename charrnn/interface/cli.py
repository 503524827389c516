"""The `charrnn` command: a Typer app whose commands live in their own modules.

    train_command.py     charrnn train
    decode_commands.py   charrnn sample, beam, eval, classify, novelty
    write_command.py     charrnn write: an interactive writing session
    serve_command.py     charrnn serve: the HTTP API and writing page (serve/)
    insight_commands.py  charrnn explain, neurons, gradients: inside the model
    run_commands.py      charrnn info, list, plot, corpus list, corpus get
    export_command.py    charrnn export: a web page, a JavaScript module, an ONNX graph
    options.py           option types and the one-line error wrapper they share

Commands parse options, call the library and print; they hold no policy of their own.
torch is imported inside the commands so that `--help` answers at once (and so that
`main` tunes the process before numpy loads).
"""

from __future__ import annotations

import sys

import typer

from charrnn import tune_for_speed
from charrnn.interface import (
    decode_commands,
    export_command,
    insight_commands,
    run_commands,
    serve_command,
    train_command,
    write_command,
)


def examples(*lines: str) -> str:
    """A command's epilog: its example lines, one paragraph each so Typer keeps them."""
    return "Examples:\n\n" + "\n\n".join(f"  {line}" for line in lines)


app = typer.Typer(
    name="charrnn",
    help="Character-level RNN text generator: train on any text, then sample or beam-search.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
corpus_app = typer.Typer(
    help="Well-known public-domain corpora: list them, or download one into corpora/.",
    no_args_is_help=True,
    epilog=examples("charrnn corpus list", "charrnn corpus get tinyshakespeare"),
)


app.command(epilog=examples(
    "charrnn train                                  # built-in corpus: Python's stdlib",
    "charrnn train corpus.txt --time 10m",
    "charrnn train corpus.txt --model gru --hidden-size 256 --steps 2000 --out runs/gru",
    "charrnn train letters/ --label-from dirname --weight 'drafts/*=0.5'",
    "charrnn train 'songs/**/*.txt' --documents files",
))(train_command.train)
app.command(epilog=examples(
    'charrnn sample --temperature 0.8 --length 500 --prime "ROMEO:"',
    "charrnn sample --temperature 0 --length 200          # greedy",
    'charrnn sample --top-p 0.9 --repetition-penalty 1.2 --stop "\\n\\n"',
    "charrnn sample --num-samples 4 --length 80 --seed 7 --json",
    "charrnn sample --label dickens --temperature 0.7   # a model trained with --label-from",
))(decode_commands.sample)
app.command(epilog=examples(
    'charrnn beam --width 8 --length 120 --prime "ROMEO:"',
    "charrnn beam --width 16 --n-best 5 --length 40 --json",
    'charrnn beam --no-repeat-ngram 4 --stop "\\n" --length-penalty 1.0 --n-best 3',
))(decode_commands.beam)
app.command(epilog=examples(
    "charrnn write",
    'charrnn write --checkpoint checkpoints/tinyshakespeare --prime "ROMEO:" --temperature 0.7',
))(write_command.write)
app.command(epilog=examples(
    "charrnn serve                                  # http://127.0.0.1:8080/",
    "charrnn serve --checkpoint checkpoints/tinyshakespeare --port 9000 --weights int8",
    "CHARRNN_API_KEY=s3cret-key charrnn serve --host 0.0.0.0",
))(serve_command.serve)
app.command(epilog=examples(
    'charrnn explain "O Romeo, Romeo! wherefore art thou Romeo?"',
    "charrnn explain --file held_out.txt --out surprise.html",
    "charrnn explain --file held_out.txt --max-chars 3000 --out surprise.png --json",
))(insight_commands.explain)
app.command(epilog=examples(
    "charrnn gradients --untrained lstm --untrained gru --untrained rnn --out reach.png",
    "charrnn gradients --checkpoint runs/lstm --checkpoint runs/gru --file held_out.txt --json",
))(insight_commands.gradients)
app.command(epilog=examples(
    "charrnn neurons --file held_out.txt",
    "charrnn neurons --file code.py --feature 'comment=#.*$' --out cells.html",
    "charrnn neurons --file held_out.txt --cell 0:212 --out cell.png",
))(insight_commands.neurons)
app.command("eval", epilog=examples(
    "charrnn eval held_out.txt",
    "charrnn eval held_out.txt --checkpoint checkpoints/tinyshakespeare --json",
))(decode_commands.evaluate)
app.command(epilog=examples(
    "charrnn classify letter.txt",
    'charrnn classify "It was the best of times" --checkpoint checkpoints/novels --json',
))(decode_commands.classify)
app.command(epilog=examples(
    "charrnn novelty --num-samples 50 --max-n 30",
    "charrnn novelty --file my_story.txt --plot novelty.png",
))(decode_commands.novelty)
app.command(epilog=examples(
    "charrnn export checkpoints/tinyshakespeare --out story.html",
    "charrnn export english --format web --weights fp16 --out english.html --force",
    "charrnn export checkpoints/novels --format js --out novels.js",
    "charrnn export checkpoints/novels --format onnx --out novels.onnx",
))(export_command.export)
app.command(epilog=examples(
    "charrnn info", "charrnn info checkpoints/tinyshakespeare --json",
))(run_commands.info)
app.command(epilog=examples(
    "charrnn plot checkpoints/tinyshakespeare",
    "charrnn plot runs/small runs/large --out compare.png",
))(run_commands.plot)
app.command("list", epilog=examples("charrnn list"))(run_commands.list_runs)
app.add_typer(corpus_app, name="corpus")
corpus_app.command("list", epilog=examples("charrnn corpus list"))(run_commands.corpus_list)
corpus_app.command("get", epilog=examples("charrnn corpus get tinyshakespeare"))(
    run_commands.corpus_get)


def main() -> None:
    """The `charrnn` command. Its process is tuned first (`charrnn.tune_for_speed`: before
    any command loads numpy). A mistyped command or option is one line on stderr too
    (Typer would draw a multi-line box), with exit code 2 as usual for usage errors."""
    from typer.exceptions import TyperException

    tune_for_speed()
    try:
        code = app(standalone_mode=False)
    except TyperException as exc:
        from charrnn.interface import display

        if getattr(exc, "format_message", None) is None:
            raise
        if message := exc.format_message():  # empty: bare `charrnn`, help already shown
            ctx = getattr(exc, "ctx", None)
            hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
            display.error(f"{message}{hint}")
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)
