"""Golden outputs (issue 37): what each kind of model gives, recorded before the refactor.

The refactor of issue 37 must leave sampled text, beam results, validation losses and the
exported page's output byte-identical for every kind of model. tests/data/golden/ holds
tiny trained models (LSTM, GRU and RNN; one and two layers; char and byte level; a plain
stream, documents of lines, paragraphs and files, labelled folders with each
`label_input`, LABEL<TAB> lines, tied weights) and expected.json, what the code of the
commit it names computed with each:

    python      lm.sample / samples (seeded; temperature, top_k, top_p, repetition
                penalty, stop, greedy), lm.beam (texts and scores; a length penalty,
                no_repeat_ngram and a stop), lm.logprob (primed, complete), lm.evaluate,
                lm.evaluate_files, lm.classify, for each label, from an empty prime and a
                prime: every call with its arguments and its answer
    javascript  the model exported as a JS module (`charrnn export --format js`) and as
                the writing page (`web`), run in Node: seeded samples through the
                WebAssembly kernel and the plain JavaScript one and through the page's
                own script, and log-probabilities of a text
    training    a short run of the same settings on the same files: the validation loss
                of each evaluation, per source too, and the samples it draws as it learns

Floats are kept as JSON numbers (Python writes their repr, which reads back to the same
bits) and compared exactly, texts too, except the floats of Python's decoding step (see
DECODING_TOLERANCE for why). tests/data/golden/make_golden.py trains the models and
writes expected.json (by hand; the suite only reads them) through this module's `answer`,
`javascript` and `retrained`, so what is recorded and what is compared are computed alike.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
EXPECTED_FILE = GOLDEN / "expected.json"
EXPECTED = (json.loads(EXPECTED_FILE.read_text(encoding="utf-8"))
            if EXPECTED_FILE.exists() else {"models": {}, "corpora": {}})
MODELS = EXPECTED["models"]
NODE = shutil.which("node")


# --- answers as plain JSON: floats as JSON numbers (their repr), tuples as lists ---------

def plain(value: Any) -> Any:
    """`value` as JSON that keeps every bit: floats stay floats (json writes their repr,
    which reads back to the same float), tuples become lists, dict keys strings."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _loss(loss) -> dict[str, Any]:
    return {"nats": loss.nats, "chars": loss.chars, "documents": loss.documents}


def answer(lm, call: dict[str, Any]) -> Any:
    """What `lm` answers to one recorded call, {"call": method name, "args": keywords},
    as plain JSON."""
    name, args = call["call"], call["args"]
    if name == "evaluate":
        return plain(_loss(lm.evaluate(**args)))
    if name == "evaluate_files":
        return plain({key: _loss(loss) for key, loss in lm.evaluate_files(**args).items()})
    if name == "classify":
        found = lm.classify(**args)
        return plain({"chars": found.chars, "logprobs": found.logprobs,
                      "priors": found.priors, "posteriors": found.posteriors,
                      "label": found.label})
    return plain(getattr(lm, name)(**args))


@contextlib.contextmanager
def inside(folder: Path) -> Iterator[None]:
    """Run the block in `folder`: corpus paths are relative, so sources are named alike
    wherever the files lie."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def write_corpus(files: dict[str, str], base: Path) -> Path:
    """A corpus's files (relative path -> text) written in base/corpus, which is returned:
    a file's source is named after its folder, so the folder is named alike everywhere."""
    folder = base / "corpus"
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
    return folder


# --- JavaScript: the exported module and page in Node --------------------------------------

_JS = r"""
const fs = require("fs");
const vm = require("vm");
const spec = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
// the page's first <script> is its model: run as in a browser, with no `module`, in a
// context of its own whose global gets `charrnnModel`
const page = fs.readFileSync(spec.page, "utf8");
const start = page.indexOf("<script>") + "<script>".length;
const browser = vm.createContext({TextDecoder, TextEncoder, atob, console});
vm.runInContext(page.slice(start, page.indexOf("</script>", start)), browser);
const sources = {
  "module-auto": () => require(spec.module).model({kernel: "auto"}),
  "module-js": () => require(spec.module).model({kernel: "js"}),
  "page": () => browser.charrnnModel.model(),
};
const out = {};
for (const [name, make] of Object.entries(sources)) {
  const m = make();
  const samples = spec.cases.map((c) => {
    m.reset(c.label === null ? undefined : c.label);
    if (c.prime) m.feed(c.prime);
    const text = m.sample(c.options);
    return {text, stopped: m.stopped};
  });
  const logprobs = spec.labels.map((label) => {
    m.reset(label === null ? undefined : label);
    return m.logprob(spec.text);
  });
  out[name] = {kernel: m.net.kernel.name, samples, logprobs};
}
console.log(JSON.stringify(out));
"""


def node_path() -> str:
    if NODE is None:  # as tests/test_export.py: CI installs Node, so this fails there
        pytest.skip("needs Node.js (node) to run the exported JavaScript")
    return NODE


def javascript(lm, spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    """What the exported module (WebAssembly and plain JavaScript kernels) and the
    exported page's script write in Node for `spec`'s cases ({label, prime, options}),
    and their log-probability of `spec["text"]` under each of `spec["labels"]`. The
    page's first script, its model, runs as a browser runs it (no `module`); its writing
    controls are tested in Chromium by tests/test_export.py."""
    from charrnn.export import export

    module, page = folder / "model.js", folder / "page.html"
    export(lm, "js", module, force=True)
    export(lm, "web", page, force=True)
    request = folder / "cases.json"
    request.write_text(json.dumps({"module": str(module), "page": str(page), **spec}),
                       encoding="utf-8")
    done = subprocess.run([node_path(), "-e", _JS, str(request)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --- training: the validation losses of a short run ----------------------------------------

class _Evaluations:
    """A Reporter that keeps each evaluation's loss and detail (per source, samples)."""

    def __init__(self):
        self.evals: list[Any] = []
        self.details: list[Any] = []

    def on_detail(self, detail) -> None:
        self.details.append({"step": detail.step, "by_source": detail.by_source,
                             "samples": detail.samples})

    def on_start(self, info) -> None: ...
    def on_step(self, stats) -> None: ...
    def on_message(self, text) -> None: ...
    def on_end(self, result) -> None: ...

    def on_eval(self, step, val_loss, improved) -> None:
        self.evals.append({"step": step, "val_loss": val_loss, "improved": improved})


def retrained(corpus: dict[str, str], paths: list[str], settings: dict[str, Any],
              folder: Path) -> dict[str, Any]:
    """A short run of `settings` on the corpus's files, written in folder/corpus and named
    from there: every evaluation's validation loss, its detail (per source, samples),
    and the result's losses."""
    import charrnn

    heard = _Evaluations()
    with inside(write_corpus(corpus, folder)):
        result = charrnn.train(paths, out="run", reporter=heard, **settings)
    return plain({"evals": heard.evals, "details": heard.details,
                  "val_loss": result.val_loss, "best_val_loss": result.best_val_loss,
                  "best_step": result.best_step, "steps": result.steps,
                  "by_source": result.by_source})


# --- the tests -----------------------------------------------------------------------------

# Python's decoding step does each matrix product by the route it timed fastest when it
# first met a batch size (charrnn/decoding/matmul_routes.py: torch addmm, numpy's OpenBLAS gemm
# or gemv, oneDNN's packed weights), so which route runs changes from run to run with the
# machine's load. The routes add in different orders: their float32 results differ in the
# last bits, and so do the log-probabilities, scores and losses summed from them. With
# each route forced in turn, every recorded text and beam stayed the same and those floats
# moved by at most 1.5e-7 of max(1, |value|) (1.1e-5 nats on a sum of thousands), far
# more than 1e-9. So the decoding step's floats are compared within DECODING_TOLERANCE of
# max(1, |value|); everything else exactly: every text, count and label, all of Node's
# numbers, and training's validation losses (torch's own layers, one route).
DECODING_TOLERANCE = 1e-5


def _differences(got: Any, expected: Any, at: str = "", tolerance: float = 0.0) -> list[str]:
    """Where two plain JSON answers differ, as readable lines; floats within `tolerance`
    of max(1, |expected|) are the same."""
    if isinstance(got, dict) and isinstance(expected, dict):
        out = [f"{at}: key {k!r} only in {'got' if k in got else 'expected'}"
               for k in sorted(set(got) ^ set(expected))]
        for k in expected:
            if k in got:
                out += _differences(got[k], expected[k], f"{at}.{k}", tolerance)
        return out
    if isinstance(got, list) and isinstance(expected, list) and len(got) == len(expected):
        return [line for i, (g, e) in enumerate(zip(got, expected, strict=True))
                for line in _differences(g, e, f"{at}[{i}]", tolerance)]
    if type(got) is float and type(expected) is float and tolerance:
        same = abs(got - expected) <= tolerance * max(1.0, abs(expected))
    else:
        same = type(got) is type(expected) and got == expected
    return [] if same else [f"{at}: got {got!r}, expected {expected!r}"]


def test_every_kind_of_model_is_saved_small_with_its_expectations():
    files = sorted(p.stem for p in GOLDEN.glob("*.safetensors"))
    assert files == sorted(MODELS) and len(files) >= 12
    sizes = {name: (GOLDEN / f"{name}.safetensors").stat().st_size for name in files}
    assert max(sizes.values()) < 40_000 and sum(sizes.values()) < 500_000, sizes
    kinds = [m["kind"] for m in MODELS.values()]
    assert {k["cell"] for k in kinds} == {"lstm", "gru", "rnn"}
    assert {k["layers"] for k in kinds} == {1, 2}
    assert {k["level"] for k in kinds} == {"char", "byte"}
    assert {k["documents"] for k in kinds} == {None, "lines", "paragraphs", "files"}
    assert {(k["label_from"], k["label_input"]) for k in kinds if k["label_from"]} >= {
        ("dirname", "vector"), ("dirname", "prefix"), ("tab", "prefix")}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_python_api_answers_as_recorded(name, tmp_path):
    """Samples, beams, log-probabilities and losses, as the recording code computed them
    (the decoding step's floats within DECODING_TOLERANCE, see above)."""
    import charrnn

    model = MODELS[name]
    lm = charrnn.load(GOLDEN / f"{name}.safetensors")
    folder = write_corpus(model["held"], tmp_path)  # what evaluate_files reads
    wrong = []
    for k, call in enumerate(model["python"]):
        with inside(folder):
            got = answer(lm, call)
        wrong += [f"{call['call']}({call['args']}): {line}" for line in
                  _differences(got, call["result"], f"#{k}", DECODING_TOLERANCE)]
    assert not wrong, "\n".join(wrong[:20])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_exported_module_and_page_write_as_recorded(name, tmp_path):
    """The JS module (both kernels) and the page's script in Node: seeded samples and
    log-probabilities, exactly as the recording code's export wrote them."""
    import charrnn

    model = MODELS[name]
    lm = charrnn.load(GOLDEN / f"{name}.safetensors")
    got = javascript(lm, model["js"]["spec"], tmp_path)
    wrong = _differences(got, model["js"]["result"])
    assert not wrong, "\n".join(wrong[:20])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_short_run_validates_as_recorded(name, tmp_path):
    """The same settings on the same files for a few steps: each evaluation's validation
    loss (per source too) and the samples it draws, exactly as the recording code."""
    model = MODELS[name]
    run = model["training"]
    got = retrained(EXPECTED["corpora"][model["corpus"]], model["paths"], run["settings"],
                    tmp_path)
    wrong = _differences(got, run["result"])
    assert not wrong, "\n".join(wrong[:20])
    assert all(math.isfinite(e["val_loss"]) for e in got["evals"])
