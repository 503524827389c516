"""`charrnn serve`: the HTTP server and its writing page.

    fields.py   a request's fields read and checked; each problem names its field (4xx)
    hosts.py    the host names a server answers to (against DNS rebinding)
    guards.py   Host, API key, origin and body-size checks before any route runs
    service.py  what the routes share: the model, its batcher and side decoder, waiting
    app.py      the routes (Starlette) over the continuous batcher (decoding/batcher.py)
    openai_requests.py  the OpenAI API's request bodies read into charrnn's generations
    openai_api.py       the OpenAI API's routes (models, completions, chat), its errors
    runner.py   uvicorn on a bound socket, with a graceful stop on SIGTERM or Ctrl-C
    page.html   the writing page: suggestions on Tab, streaming "continue", constraints,
                next words to click, no CDN
"""
