"""Rebuild tests/data/golden/: tiny models of every kind and what today's code computes
with each (issue 37: a refactor must leave these outputs byte-identical).

    python tests/data/golden/make_golden.py                 # all of them
    python tests/data/golden/make_golden.py gru-2-byte ...  # some of them

Not run by the test suite: tests/test_golden_outputs.py reads what this wrote, and this
records through that module's own functions (`answer`, `javascript`, `retrained`), so
the two compute alike. Whatever `charrnn` imports is the code recorded; to record a
commit while the working tree is being edited, put a clean copy first on the path:

    git archive HEAD charrnn | tar -x -C /tmp/golden-src
    PYTHONPATH=/tmp/golden-src python tests/data/golden/make_golden.py

Each model in expected.json names the commit whose charrnn/ recorded it (`made_with`).

Each model is trained with `charrnn.train` on CPU (hidden 16, embed 8, batch 4, seq_len
16, 60 steps, seed 7; at byte level hidden 8, embed 4) and its `best.safetensors` kept as
<name>.safetensors. Then, with the kept file loaded as `charrnn.load` loads it, what
`python_calls` lists (seeded samples: temperature 0.8, top_k, top_p, repetition penalty,
stop, greedy, `samples(4)`; beams of width 4, n_best 3, one with a length penalty,
no_repeat_ngram and a stop; logprob, primed and `complete`; evaluate; evaluate_files on
one or two held-out files; classify), under each label, from an empty prime and a prime;
the model exported as a JS module and a page, sampled in Node with seeds (`js_spec`); a
4-step run of the same settings with its validation losses (and for a few its samples).
Floats are kept as JSON numbers: their repr.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
EXPECTED = HERE / "expected.json"

TINY = dict(hidden_size=16, embed_size=8, batch_size=4, seq_len=16, steps=60, eval_every=20,
            lr=0.03, dropout=0.0, seed=7, device="cpu", precision="fp32", samples=False)
BYTES = dict(hidden_size=8, embed_size=4)  # a byte-level head has 257 rows: kept small
SHORT = dict(steps=4, eval_every=2)  # the run whose validation losses are compared
# the short runs that also draw their samples at each evaluation (a second or more each,
# so only these): a stream of bytes, documents, labels over a stream and over files
GLIMPSES = {"gru-2-byte", "lstm-1-char-lines", "lstm-1-char-dirname-vector",
            "gru-1-char-files-dirname-vector"}


def _golden_module():
    """tests/test_golden_outputs.py, loaded by its path."""
    path = REPO / "tests" / "test_golden_outputs.py"
    spec = importlib.util.spec_from_file_location("golden_outputs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the corpora: deterministic, a few KB each ---------------------------------------------

_SENTENCES = ["the quick brown fox jumps over the lazy dog.", "a stitch in time saves nine.",
              "all that glitters is not gold.", "the early bird catches the worm."]
_SHOUTS = ["ZIP! ZAP! THE ENGINE ROARS AT NOON.", "GEARS GRIND; STEAM HISSES; WHEELS TURN.",
           "NO TIME, ALICE! THE TRAIN LEAVES AT SIX."]


def _accented(line: str) -> str:
    """Characters of two, three and four UTF-8 bytes, for a byte-level model."""
    return line.replace("over", "über").replace("time", "tîme €").replace("gold", "gold 🌹")


def prose(repeats: int = 60, accents: bool = False) -> str:
    lines = [_SENTENCES[(i * 3) % 4] for i in range(repeats)]
    return "\n".join(_accented(x) if accents else x for x in lines) + "\n"


def names(count: int = 200, accents: bool = False) -> str:
    first, middle, last = ["ma", "li", "so", "ka", "re", "to"], ["ri", "na", "", "la"], \
        ["", "n", "a", "e", "o"]
    out = [(first[i % 6] + middle[(i // 6) % 4] + last[(i // 24) % 5]).capitalize()
           for i in range(count)]
    if accents:
        out = [n.replace("e", "é").replace("o", "ø") if i % 3 == 0 else n
               for i, n in enumerate(out)]
    return "\n".join(out) + "\n"


def paragraphs(count: int = 40) -> str:
    return "\n\n".join(f"{_SENTENCES[i % 4]}\n{_SENTENCES[(i * 3 + 1) % 4]}"
                       for i in range(count)) + "\n"


def books(accents: bool = False) -> dict[str, str]:
    """books/alpha: lower-case prose; books/beta: shouted lines; three files each."""
    files = {}
    for k in range(3):
        quiet = [_SENTENCES[(i + k) % 4] for i in range(12)]
        loud = [_SHOUTS[(i * 2 + k) % 3] for i in range(10)]
        if accents:
            quiet = [_accented(x) for x in quiet]
        files[f"books/alpha/alpha{k}.txt"] = "\n".join(quiet) + "\n"
        files[f"books/beta/beta{k}.txt"] = "\n".join(loud) + "\n"
    return files


def tab_lines() -> str:
    return "".join("happy\twhat a lovely day it is\n" if i % 2 else "grim\tDOOM AND GLOOM!\n"
                   for i in range(80))


CORPORA: dict[str, dict[str, str]] = {
    "prose": {"prose.txt": prose()},
    "accents": {"accents.txt": prose(accents=True)},
    "names": {"names.txt": names()},
    "names-accents": {"names.txt": names(accents=True)},
    "paragraphs": {"paragraphs.txt": paragraphs()},
    "books": books(),
    "books-accents": books(accents=True),
    "quotes": {"quotes.tsv": tab_lines()},
}
PATHS = {"books": ["books"], "books-accents": ["books"]}  # else the corpus's one file

# what each corpus's models are asked about: a prime and a text (in the vocabulary)
ASKED = {
    "prose": ("the ", "the early bird catches the worm.\na stitch in time saves nine.\n"),
    "accents": ("a stitch in t", "a stitch in tîme € saves nine.\nthe quick brown fox "
                                 "jumps über the lazy dog.\n"),
    "names": ("Ma", "".join(names().splitlines(keepends=True)[30:35])),
    "names-accents": ("Ré", "".join(names(accents=True).splitlines(keepends=True)[26:31])),
    "paragraphs": ("the ", "the quick brown fox jumps over the lazy dog.\na stitch in time "
                           "saves nine.\n\nall that glitters is not gold.\nthe early bird "
                           "catches the worm.\n"),
    "books": ("the ", "the early bird catches the worm.\nGEARS GRIND; STEAM HISSES.\n"),
    "books-accents": ("the ", "the quick brown fox jumps über the lazy dog.\nNO TIME!\n"),
    "quotes": ("what", "what a lovely day it is\nDOOM AND GLOOM!\n"),
}

# name -> (corpus, options of charrnn.train beyond TINY)
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "lstm-1-char": ("prose", dict(model="lstm")),
    "lstm-2-char-tied": ("prose", dict(model="lstm", num_layers=2, hidden_size=12,
                                       embed_size=12, tie_weights=True)),
    "gru-1-char": ("prose", dict(model="gru")),
    "rnn-1-char": ("prose", dict(model="rnn")),
    "lstm-1-byte": ("accents", dict(model="lstm", level="byte", **BYTES)),
    "gru-2-byte": ("accents", dict(model="gru", num_layers=2, level="byte", **BYTES)),
    "rnn-2-byte": ("accents", dict(model="rnn", num_layers=2, level="byte", **BYTES)),
    "lstm-1-char-lines": ("names", dict(model="lstm", documents="lines")),
    "gru-2-byte-lines": ("names-accents", dict(model="gru", num_layers=2, level="byte",
                                               documents="lines", **BYTES)),
    "rnn-1-char-paragraphs": ("paragraphs", dict(model="rnn", documents="paragraphs")),
    "lstm-1-char-dirname-vector": ("books", dict(model="lstm", label_from="dirname",
                                                 label_input="vector")),
    "gru-2-char-dirname-prefix": ("books", dict(model="gru", num_layers=2,
                                                label_from="dirname", label_input="prefix")),
    "rnn-1-byte-dirname-prefix": ("books-accents", dict(model="rnn", level="byte",
                                                        label_from="dirname",
                                                        label_input="prefix", **BYTES)),
    "lstm-1-char-files": ("books", dict(model="lstm", documents="files")),
    "gru-1-char-files-dirname-vector": ("books", dict(model="gru", documents="files",
                                                      label_from="dirname",
                                                      label_input="vector")),
    "lstm-2-char-tab-lines-prefix": ("quotes", dict(model="lstm", num_layers=2,
                                                    documents="lines", label_from="tab",
                                                    label_input="prefix")),
}


# --- what each model is asked ---------------------------------------------------------------

def stops_in(text: str) -> list[str]:
    """Two stop strings the model knows (its text has them)."""
    return [s for s in (" ", ".", "a", "\n") if s in text][:2]


def python_calls(lm, prime: str, text: str, held: list[str]) -> list[dict[str, Any]]:
    """Every call recorded for a model: samples from an empty prime and from `prime`,
    samples together, a beam and log-probabilities under each label (and the default);
    the sampling options, a beam's options, the losses and classify once."""
    labels = [None, *lm.labels] if lm.labels else [None]
    calls: list[dict[str, Any]] = []

    def add(call: str, **args: Any) -> None:
        if args.get("label", 0) is None:
            del args["label"]
        calls.append({"call": call, "args": args})

    for label in labels:
        for p in ("", prime):
            add("sample", length=40, temperature=0.8, prime=p, seed=11, label=label)
        add("samples", n=4, length=24, temperature=0.8, prime="" if lm.documents else prime,
            seed=12, label=label)
        add("beam", length=20, width=4, n_best=3, prime=prime, label=label)
        add("logprob", text=text, label=label)
        add("logprob", text=text[len(prime):], prime=prime, label=label)
        if lm.documents is not None:
            add("logprob", text=text.split("\n")[0], complete=True, label=label)
    add("sample", length=40, temperature=0.0, prime=prime)
    add("sample", length=40, temperature=0.8, top_k=4, prime=prime, seed=13)
    add("sample", length=40, temperature=0.8, top_p=0.85, prime=prime, seed=14)
    add("sample", length=40, temperature=0.8, repetition_penalty=1.3, prime=prime, seed=15)
    add("sample", length=40, temperature=1.0, stop=stops_in(text), prime=prime, seed=16)
    add("beam", length=20, width=4, n_best=3, prime="", length_penalty=0.6, no_repeat_ngram=3,
        stop=stops_in(text)[-1:])
    if lm.documents != "files":  # today lm.evaluate refuses a model of files (a bug):
        add("evaluate", text=text)  # "documents must be one of lines, paragraphs"
    add("evaluate_files", paths=held)
    if lm.labels:
        add("classify", text=text)
    return calls


def js_spec(lm, prime: str, text: str) -> dict[str, Any]:
    """The cases sampled in Node, as `python_calls` samples: from an empty prime and from
    `prime` under each label (and the default), then the sampling options once."""
    labels = [None, *lm.labels] if lm.labels else [None]
    cases = [{"label": label, "prime": p, "options": {"length": 40, "temperature": 0.8,
                                                      "seed": 11}}
             for label in labels for p in ("", prime)]
    for k, extra in enumerate([{"temperature": 0}, {"topK": 4}, {"topP": 0.85},
                               {"repetitionPenalty": 1.3},
                               {"temperature": 1.0, "stop": stops_in(text)}]):
        cases.append({"label": None, "prime": prime,
                      "options": {"length": 40, "temperature": 0.8, "seed": 12 + k, **extra}})
    return {"cases": cases, "labels": labels, "text": text}


def held_files(corpus: str, text: str) -> dict[str, str]:
    """What evaluate_files reads: the asked text as a file, or for a folder one file per
    label folder (a line of the text each), or for LABEL<TAB> lines a line per label."""
    first, second = text.splitlines(keepends=True)[:2]
    if corpus.startswith("books"):
        return {"held/alpha/a.txt": first, "held/beta/b.txt": second}
    if corpus == "quotes":
        return {"held.tsv": f"happy\t{first}grim\t{second}"}
    return {"held.txt": text}


# --- making and recording -------------------------------------------------------------------

def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True,
                          text=True).stdout


def code_recorded() -> dict[str, Any]:
    """The newest of the last 100 commits whose charrnn/ is exactly the `charrnn` imported
    (a `git archive` of it, or a clean working tree), else HEAD with a flag that says the
    code was not that commit's."""
    import charrnn

    package = Path(charrnn.__file__).resolve().parent
    files = sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    hashes = _git("hash-object", *map(str, files)).split()
    imported = {f"charrnn/{p.relative_to(package).as_posix()}": h
                for p, h in zip(files, hashes, strict=True)}
    for commit in _git("rev-list", "-n", "100", "HEAD").split():
        listed = _git("ls-tree", "-r", commit, "charrnn").splitlines()
        if {line.split("\t")[1]: line.split()[2] for line in listed} == imported:
            return {"commit": commit, "code_is_that_commit": True}
    return {"commit": _git("rev-parse", "HEAD").strip(), "code_is_that_commit": False}


def make(name: str, scratch: Path, golden) -> dict[str, Any]:
    import charrnn

    corpus, options = MODELS[name]
    files = CORPORA[corpus]
    paths = PATHS.get(corpus, list(files))
    prime, text = ASKED[corpus]
    settings = {**TINY, **options}
    folder = golden.write_corpus(files, scratch / name)
    with golden.inside(folder):
        result = charrnn.train(paths, out="run", **settings)
    target = HERE / f"{name}.safetensors"
    shutil.copyfile(folder / "run" / "best.safetensors", target)

    lm = charrnn.load(target)
    kind = {"cell": lm.model.config.model, "layers": lm.model.config.num_layers,
            "level": lm.vocab.level, "documents": lm.documents,
            "label_from": settings.get("label_from"),
            "label_input": settings.get("label_input") if lm.labels else None,
            "labels": list(lm.labels), "tie_weights": settings.get("tie_weights", False)}
    held = held_files(corpus, text)
    calls = python_calls(lm, prime, text, [n.split("/")[0] for n in held][:1])
    with golden.inside(golden.write_corpus(held, scratch / name / "held")):
        for call in calls:
            call["result"] = golden.answer(lm, call)
    spec = js_spec(lm, prime, text)
    js = golden.javascript(lm, spec, scratch / name)
    short = {**settings, **SHORT, "samples": name in GLIMPSES}
    run = golden.retrained(files, paths, short, scratch / f"{name}-short")
    return {"kind": kind, "corpus": corpus, "paths": paths,
            "trained_with": f"charrnn.train({paths!r}, **{settings!r})",
            "trained": {"steps": result.steps, "best_step": result.best_step,
                        "best_val_loss": result.best_val_loss},
            "prime": prime, "text": text, "held": held, "python": calls,
            "js": {"spec": spec, "result": js},
            "training": {"settings": short, "result": run}}


def main(names: list[str]) -> None:
    golden = _golden_module()
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        raise SystemExit(f"no such model: {', '.join(unknown)} (known: {', '.join(MODELS)})")
    expected = json.loads(EXPECTED.read_text(encoding="utf-8")) if EXPECTED.exists() else {}
    models = expected.get("models", {})
    made_with = code_recorded()
    with tempfile.TemporaryDirectory(prefix="golden-") as scratch:
        os.environ["CHARRNN_CACHE"] = str(Path(scratch) / "cache")
        for name in names or list(MODELS):
            models[name] = {"made_with": made_with, **make(name, Path(scratch), golden)}
            size = (HERE / f"{name}.safetensors").stat().st_size
            print(f"{name}.safetensors  {size:,} bytes", flush=True)
    expected = {
        "about": "what today's code computes with each model here; made by make_golden.py, "
                 "compared by tests/test_golden_outputs.py (floats as JSON numbers, their "
                 "repr); "
                 "each model's made_with names the commit whose code recorded it",
        "corpora": CORPORA,
        "models": {k: models[k] for k in MODELS if k in models},
    }
    EXPECTED.write_text(json.dumps(expected, ensure_ascii=True, indent=1) + "\n",
                        encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
