"""`charrnn export`: the JavaScript step and sampler equal the Python decoder's (in Node
and in headless Chromium), the page writes offline, and bad requests are one line."""

import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from charrnn.api.language_model import LanguageModel
from charrnn.config import DataConfig, ModelConfig
from charrnn.data.vocab import ByteVocab, Vocab
from charrnn.errors import ConfigError
from charrnn.export import export
from charrnn.model.network import CharRNN
from charrnn.model.record import CorpusRecord, RunRecord

TEXT = ("It was the best of times, it was the worst of times; ROMEO: O that I were a glove "
        "upon that hand! — café, naïve, 🌹.\n")
NODE = shutil.which("node")


def random_lm(cell="lstm", layers=1, level="char", documents=False, labels=(),
              after_end=False, hidden=24, seed=0, adapter=False):
    """A model of random weights (the step's arithmetic is what is tested, not what it
    learned), sharpened so that its distributions are far from uniform."""
    vocab = ByteVocab() if level == "byte" else Vocab.from_text(TEXT)
    vocab.counts = [1 + (i * 7) % 13 for i in range(len(vocab.counts))]
    if documents or labels:
        vocab = vocab.with_end(5, {name: 3 + k for k, name in enumerate(labels)})
    config = ModelConfig(model=cell, num_layers=layers, hidden_size=hidden, embed_size=12,
                         vocab_size=len(vocab), label_count=len(labels),
                         label_input="adapter" if adapter else "vector")
    torch.manual_seed(seed)
    model = CharRNN(config)
    with torch.no_grad():
        model.head.weight.mul_(6.0)
        if labels:
            model.label_embed.weight.mul_(3.0)
        if adapter:  # (each label's output correction starts at zero: give it some)
            model.label_heads.weight[1:].normal_(0, 1.0)
            model.label_heads.bias[1:].normal_(0, 1.0)
    record = RunRecord(config, vocab, DataConfig(level=vocab.level),
                       corpus=CorpusRecord(files=2 if after_end else None))
    return LanguageModel(model, vocab, record)


def node(script: str, *args: str) -> str:
    if NODE is None:
        pytest.skip("needs Node.js (node) to run the exported JavaScript")
    done = subprocess.run([NODE, "-e", script, *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def reference(lm, text: str, label=None) -> np.ndarray:
    """The Python decoder's log-probabilities before each character of `text` (and
    after the last), read from the start of a text."""
    ids = lm.codec.encode(text)
    state, first = lm.decoder.start(lm.codec.prime("", label=label))
    out, _ = lm.decoder.feed(ids[None, :], state)
    return torch.cat([first, out[0]]).numpy().astype(np.float32)


VARIANTS = [dict(cell=c, layers=n, level=lv, documents=d)
            for c, n, lv, d in itertools.product(("lstm", "gru", "rnn"), (1, 2),
                                                 ("char", "byte"), (False, True))]
VARIANTS += [dict(cell="lstm", layers=2, labels=("austen", "dickens")),
             dict(cell="gru", layers=1, labels=("a", "b", "c"), after_end=True),
             dict(cell="lstm", layers=1, labels=("austen", "dickens"), adapter=True)]

_COMPARE = """
const fs = require("fs");
const cases = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const worst = [];
for (const c of cases) {
  for (const kernel of ["auto", "js"]) {
    const m = require(c.module).model({kernel});
    m.reset(c.label === null ? undefined : c.label);
    const ref = new Float32Array(fs.readFileSync(c.reference).buffer.slice(0));
    const v = m.manifest.vocab_size;
    let diff = 0, at = 0;
    const step = (logprobs) => {
      for (let i = 0; i < v; i++) diff = Math.max(diff, Math.abs(logprobs[i] - ref[at * v + i]));
      at++;
    };
    step(m.logprobs());
    for (const id of m.vocab.encode(c.text)) { m.feedIds([id]); step(m.logprobs()); }
    worst.push({name: c.name, kernel: m.net.kernel.name, diff, positions: at});
  }
}
console.log(JSON.stringify(worst));
"""


def test_the_javascript_step_equals_the_python_decoder_for_every_kind_of_model(tmp_path):
    """LSTM, GRU and RNN, one and two layers, char and byte level, stream and documents,
    labelled files: log-probabilities within 1e-4 over 2,000 characters, through the
    WebAssembly SIMD kernel and through the plain JavaScript loop."""
    cases = []
    for k, variant in enumerate(VARIANTS):
        lm = random_lm(**variant, seed=k)
        label = lm.labels[-1] if lm.labels else None
        text = (TEXT * 20)[:2000]
        module = tmp_path / f"m{k}.js"
        export(lm, "js", module)
        ref = tmp_path / f"ref{k}.f32"
        ref.write_bytes(reference(lm, text, label).tobytes())
        cases.append({"name": json.dumps(variant), "module": str(module),
                      "reference": str(ref), "text": text, "label": label})
    spec = tmp_path / "cases.json"
    spec.write_text(json.dumps(cases))
    found = json.loads(node(_COMPARE, str(spec)))
    assert len(found) == 2 * len(VARIANTS)
    assert {row["kernel"] for row in found} == {"wasm-simd", "js"}
    for row in found:
        assert row["positions"] > 1500, row
        assert row["diff"] < 1e-4, row


_SAMPLE = """
const c = JSON.parse(process.argv[1]);
const m = require(c.module).model();
m.reset(c.label === null ? undefined : c.label);
if (c.prime) m.feed(c.prime);
let at = 0;
const start = m.fork();
const text = m.sample(Object.assign({}, c.options, {random: () => c.uniforms[at++]}));
const seeded = start.sample(Object.assign({}, c.options, {seed: 5}));
console.log(JSON.stringify({text, seeded, stopped: m.stopped, prime: m.text}));
"""


@pytest.mark.parametrize("options", [
    {"temperature": 0.8}, {"temperature": 1.3, "top_k": 5}, {"top_p": 0.7},
    {"temperature": 0.9, "repetition_penalty": 1.4}, {"temperature": 0.0},
    {"temperature": 1.0, "stop": ["e"]},
])
def test_sampling_with_the_same_uniform_draws_writes_the_same_text(tmp_path, options):
    """Given numpy's uniforms, or the same seed (the runtime has numpy's generator), the
    JavaScript sampler writes what `lm.sample` writes."""
    for k, variant in enumerate([dict(cell="lstm", layers=2), dict(cell="gru", documents=True),
                                 dict(cell="rnn", labels=("x", "y"))]):
        lm = random_lm(**variant, seed=10 + k)
        label = lm.labels[0] if lm.labels else None
        prime = "" if variant.get("documents") else "It was "
        module = tmp_path / f"m{k}.js"
        export(lm, "js", module, force=True)
        expected = lm.sample(300, prime=prime, seed=5, label=label, **options)
        uniforms = np.random.default_rng(5).random(300).tolist()
        js_options = {"length": 300, **{_camel(k): v for k, v in options.items()}}
        got = json.loads(node(_SAMPLE, json.dumps({
            "module": str(module), "label": label, "prime": prime, "options": js_options,
            "uniforms": uniforms})))
        assert got["text"] == expected, variant
        assert got["seeded"] == expected  # the seed draws numpy's uniforms
        assert got["prime"] == prime + expected


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_BYTES = """
const c = JSON.parse(process.argv[1]);
const m = require(c.module).model();
const whole = c.rows.map((row) => m.vocab.decode(row));
const streamed = c.rows.map((row) => {
  const s = m.vocab.stream();
  return row.map((i) => s.feed(i)).join("") + s.flush();
});
console.log(JSON.stringify({whole, streamed}));
"""


def test_a_byte_level_model_shows_undecodable_bytes_as_python_prints_them(tmp_path):
    lm = random_lm(level="byte", documents=True)
    module = tmp_path / "bytes.js"
    export(lm, "js", module)
    rows = [list("café".encode()), [0xFF, 0x41], [0xE2, 0x82], [0xE2, 0x82, 0xAC, 0xC3],
            [0xED, 0xA0, 0x80, 0x42], [0xF0, 0x9F, 0x8C, 0xB9, 0x80], [0xC0, 0xAF]]
    got = json.loads(node(_BYTES, json.dumps({"module": str(module), "rows": rows})))
    expected = [lm.vocab.display(lm.vocab.decode(row)) for row in rows]
    assert got["whole"] == expected
    assert got["streamed"] == expected


def wait_for(page, selector: str, words: str, seconds: float = 20.0) -> None:
    """Until the element's text holds `words` (polled from here: the page's security
    policy forbids the string evaluation Playwright's own waiting uses)."""
    deadline = time.monotonic() + seconds
    while words not in (page.text_content(selector) or ""):
        assert time.monotonic() < deadline, page.text_content(selector)
        time.sleep(0.05)


def test_the_page_writes_offline_in_chromium_as_python_reads(tmp_path, offline_page):
    """The exported page in headless Chromium with every request off the file refused:
    its step equals Python's, a seeded "continue" writes what `charrnn sample --seed
    --label` writes, in the style picked, and Tab offers a suggestion that Enter takes."""
    lm = random_lm(cell="lstm", layers=2, labels=("austen", "dickens"), seed=3)
    path = tmp_path / "story.html"
    export(lm, "web", path)
    text = (TEXT * 3)[:300]
    ref = reference(lm, text, "dickens")
    with offline_page(path) as page:
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        wait_for(page, "#model", "step")
        assert "wasm-simd step" in page.text_content("#model")
        assert page.is_visible("#label-picker")
        diff = page.evaluate("""([text, ref]) => {
            const m = charrnnModel.model();
            m.reset("dickens");
            const v = charrnnModel.manifest.vocab_size;
            let worst = 0, at = 0;
            const step = (lp) => {
                for (let i = 0; i < v; i++) {
                    worst = Math.max(worst, Math.abs(lp[i] - ref[at * v + i]));
                }
                at++;
            };
            step(m.logprobs());
            for (const id of m.vocab.encode(text)) { m.feedIds([id]); step(m.logprobs()); }
            return worst;
        }""", [text, ref.ravel().tolist()])
        assert diff < 1e-4
        uniforms = np.random.default_rng(9).random(200).tolist()
        drawn = page.evaluate("""(uniforms) => {
            const m = charrnnModel.model();
            m.reset("austen");
            m.feed("It was ");
            let at = 0;
            return m.sample({length: 200, temperature: 0.9, topK: 12,
                             random: () => uniforms[at++]});
        }""", uniforms)
        assert drawn == lm.sample(200, prime="It was ", temperature=0.9, top_k=12, seed=9,
                                  label="austen")
        python = {name: [lm.sample(80, seed=seed, temperature=0.8, label=name)
                         for seed in range(20)] for name in lm.labels}
        seed = next(k for k in range(20) if python["austen"][k] != python["dickens"][k])
        page.fill("#seed", str(seed))
        page.fill("#length", "80")
        for name in ("dickens", "austen", "dickens"):
            page.select_option("#label", name)
            page.click("#clear")
            page.click("#continue")
            wait_for(page, "#status", "done")
            assert page.input_value("#text") == python[name][seed], name
        page.click("#clear")
        page.type("#text", "It was ")
        page.keyboard.press("Tab")
        wait_for(page, "#status", "suggestion 1")
        page.keyboard.press("Backspace")  # takes the suggestion back, and nothing else
        assert page.input_value("#text") == "It was "
        page.keyboard.press("Tab")
        wait_for(page, "#status", "suggestion 1")
        offered = page.evaluate("() => { const t = document.getElementById('text'); "
                                "return t.value.slice(t.selectionStart, t.selectionEnd); }")
        assert offered
        page.keyboard.press("Enter")
        assert page.input_value("#text") == "It was " + offered
        assert all(url.startswith("file:") for url in requests), requests


CRAFTED_NAME = "<!--</script><script>*/\u2028 end"
CRAFTED_LABEL = "<!--<script>a</script>*/\u2028"


def test_a_crafted_name_and_label_leave_the_page_and_module_working(tmp_path, offline_page,
                                                                      monkeypatch):
    """A model named, and a label, made of what would end or hide a script (`<!--`,
    `</script>`, `<script>`, `*/`, U+2028): the page still writes in the style picked in
    Chromium and shows the name as its title; the module still loads in Node."""
    monkeypatch.setattr("charrnn.export.bundle.model_name", lambda lm: CRAFTED_NAME)
    lm = random_lm(cell="gru", labels=(CRAFTED_LABEL, "plain"), seed=12)
    page, module = tmp_path / "crafted.html", tmp_path / "crafted.js"
    export(lm, "web", page)
    export(lm, "js", module)
    loaded = json.loads(node("const m = require(process.argv[1]);"
                             "console.log(JSON.stringify([m.manifest.name, "
                             "m.manifest.text_format.labels, m.model().sample({length: 20, "
                             "seed: 1})]))", str(module)))
    assert loaded == [CRAFTED_NAME, [CRAFTED_LABEL, "plain"],
                      lm.sample(20, seed=1, label=lm.default_label)]
    with offline_page(page) as view:
        wait_for(view, "#model", "step")
        assert view.title().startswith(CRAFTED_NAME)
        view.select_option("#label", CRAFTED_LABEL)
        view.fill("#seed", "2")
        view.fill("#length", "40")
        view.click("#continue")
        wait_for(view, "#status", "done")
        assert view.input_value("#text") == lm.sample(40, seed=2, temperature=0.8,
                                                      label=CRAFTED_LABEL)


# --- ONNX ------------------------------------------------------------------------------------

def test_the_onnx_graph_equals_the_python_decoder_and_loads_back(tmp_path):
    """Every kind of model: the graph, run by onnxruntime through `charrnn.load`, gives
    the log-probabilities of the checkpoint within 1e-5 at every character."""
    import charrnn

    for k, variant in enumerate(VARIANTS):
        lm = random_lm(**variant, seed=k)
        label = lm.labels[0] if lm.labels else None
        path = tmp_path / f"m{k}.onnx"
        export(lm, "onnx", path)
        back = charrnn.load(path)
        assert back.decoder.step_fn.weights == "onnx"  # every step through onnxruntime
        text = (TEXT * 5)[:500]
        assert np.abs(reference(back, text, label) - reference(lm, text, label)).max() < 1e-5
        assert back.logprob(text, label=label) == pytest.approx(
            lm.logprob(text, label=label), abs=1e-3)


def test_onnxruntime_alone_runs_the_graph_from_its_metadata(tmp_path):
    """What a program in another language does: read the metadata, encode the text, feed
    the opening and then each id from zero state, and read log-probabilities."""
    import onnxruntime

    lm = random_lm(cell="lstm", layers=2, labels=("austen", "dickens"), seed=4)
    path = tmp_path / "m.onnx"
    export(lm, "onnx", path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = json.loads(session.get_modelmeta().custom_metadata_map["charrnn"])
    chars, opening = meta["vocab"]["chars"], meta["text_format"]["openings"]["dickens"]
    layers, hidden = meta["model"]["num_layers"], meta["model"]["hidden_size"]
    state = {"h": np.zeros((layers, 1, hidden), np.float32),
             "c": np.zeros((layers, 1, hidden), np.float32),
             "label": np.zeros((1, 1, 1), np.float32)}
    text = "It was the best of times"
    read = opening + [chars.index(c) for c in text]
    total = 0.0
    for at, (i, next_id) in enumerate(zip(read[:-1], read[1:], strict=True)):
        logprobs, *new = session.run(None, {"ids": np.array([i], np.int64), **state})
        state = dict(zip(["h", "c", "label"], new, strict=True))
        total += float(logprobs[0, next_id]) if at >= len(opening) - 1 else 0.0
    assert total == pytest.approx(lm.logprob(text, label="dickens"), abs=1e-4)


def test_the_onnx_metadata_holds_the_text_format_as_the_checkpoint_has_it(tmp_path):
    """Every kind of model: the metadata's text_format is `TextFormat.manifest()` (the
    opening of each label, the first label), with no stand-in corpus and no separate
    opening, and the file loads back with that format."""
    import onnx

    import charrnn

    for k, variant in enumerate(VARIANTS):
        lm = random_lm(**variant, hidden=4, seed=k)
        path = tmp_path / f"m{k}.onnx"
        export(lm, "onnx", path)
        meta = json.loads(next(p.value for p in onnx.load(str(path)).metadata_props
                               if p.key == "charrnn"))
        assert meta["text_format"] == lm.record.text_format.manifest(), variant
        assert meta["version"] == 2 and not {"corpus", "opening"} & set(meta), variant
        assert charrnn.load(path).record.text_format == lm.record.text_format, variant


OLD_ONNX = Path(__file__).resolve().parent / "data" / "onnx"


@pytest.mark.parametrize("name", ["lstm-1-char-dirname-vector", "rnn-1-char-paragraphs"])
def test_an_onnx_file_exported_before_the_text_format_loads_as_its_checkpoint(name):
    """tests/data/onnx/NAME.onnx was exported by the code of cd23285 from
    tests/data/golden/NAME.safetensors (`charrnn export CHECKPOINT --format onnx`): its
    metadata has "opening" and, for files learned as one stream, "corpus": {"files":
    true}, and no text_format. It loads with the checkpoint's format and writes and
    scores as the checkpoint does."""
    import onnx

    import charrnn

    path = OLD_ONNX / f"{name}.onnx"
    meta = json.loads(next(p.value for p in onnx.load(str(path)).metadata_props
                           if p.key == "charrnn"))
    assert "opening" in meta and "text_format" not in meta  # as the old code wrote it
    old = charrnn.load(path)
    checkpoint = charrnn.load(Path(__file__).resolve().parent / "data" / "golden" /
                              f"{name}.safetensors")
    assert old.record.text_format == checkpoint.record.text_format
    assert meta["corpus"] == ({"files": True} if checkpoint.record.text_format.stream_of_files
                              else {})
    for label in (None, *checkpoint.labels):
        text = checkpoint.sample(60, seed=1, label=label)
        assert old.sample(60, seed=1, label=label) == text
        assert old.logprob(text, label=label) == pytest.approx(
            checkpoint.logprob(text, label=label), abs=1e-4)


def test_the_cli_exports_and_evaluates_the_onnx_file_as_the_checkpoint(trained_run, cli,
                                                                        tmp_path):
    out = tmp_path / "play.onnx"
    done = cli("export", trained_run, "--format", "onnx", "--out", out)
    assert done.exit_code == 0, done.output
    assert f"wrote {out}" in done.stdout
    text = tmp_path / "held_out.txt"
    text.write_text("ROMEO:\nGood night, good night! Parting is such sweet sorrow.\n")
    scores = []
    for model in (trained_run, out):
        run = cli("eval", text, "--checkpoint", model, "--json")
        assert run.exit_code == 0, run.output
        scores.append(json.loads(run.stdout)["nats_per_char"])
    assert scores[0] == pytest.approx(scores[1], abs=1e-5)


def test_smaller_weights_state_their_size_and_cost(trained_run, cli, tmp_path):
    sizes = {}
    for weights in ("fp32", "fp16", "int8"):
        out = tmp_path / f"play-{weights}.html"
        done = cli("export", trained_run, "--out", out, "--weights", weights)
        assert done.exit_code == 0, done.output
        sizes[weights] = out.stat().st_size
        assert "MB" in done.stdout
        if weights != "fp32":
            assert f"{weights} weights cost" in done.stdout and "bits/char" in done.stdout
    assert sizes["int8"] < sizes["fp16"] < sizes["fp32"]
    module = tmp_path / "play-fp16.js"
    assert cli("export", trained_run, "--format", "js", "--out", module,
               "--weights", "fp16").exit_code == 0
    found = node("const m = require(process.argv[1]).model(); m.feed('ROMEO:');"
                 "console.log(m.logprob('\\nGood night'))", str(module))
    import charrnn

    exact = charrnn.load(trained_run).logprob("\nGood night", prime="ROMEO:")
    assert float(found) == pytest.approx(exact, abs=0.05)


def test_bad_exports_are_one_line_and_write_nothing(trained_run, cli, one_error_line,
                                                    tmp_path, monkeypatch):
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"\x00" * 64)
    one_error_line(cli("export", damaged, "--out", tmp_path / "a.html"))
    with pytest.raises(ConfigError, match="format must be one of web, js, onnx"):
        export(charrnn_load(trained_run), "pdf", tmp_path / "a.pdf")
    one_error_line(cli("export", trained_run, "--out", tmp_path / "missing" / "a.html"))
    one_error_line(cli("export", trained_run, "--format", "onnx", "--weights", "int8",
                       "--out", tmp_path / "a.onnx"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.safetensors"]
    kept = tmp_path / "story.html"
    kept.write_text("my own page")
    one_error_line(cli("export", trained_run, "--out", kept))
    assert kept.read_text() == "my own page"

    def broken(bundle):
        raise RuntimeError("disk full")

    monkeypatch.setattr("charrnn.export.javascript.page_source", broken)
    with pytest.raises(RuntimeError):
        export(charrnn_load(trained_run), "web", kept, force=True)
    assert kept.read_text() == "my own page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.safetensors", "story.html"]
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07 not a graph")
    assert "cannot load" in one_error_line(cli("eval", kept, "--checkpoint", corrupt))


def crafted_onnx(path, change, meta_change=None):
    """A small export at `path`, its parsed graph handed to `change` (and its charrnn
    metadata to `meta_change`) before it is written back: a file someone crafted."""
    import onnx

    export(random_lm(cell="lstm", hidden=4, seed=30), "onnx", path)
    built = onnx.load(str(path))
    if meta_change is not None:
        prop = next(p for p in built.metadata_props if p.key == "charrnn")
        prop.value = meta_change(json.loads(prop.value))
    if change is not None:
        change(built)
    path.write_bytes(built.SerializeToString())
    return path


def test_an_onnx_file_cannot_carry_a_file_beside_it_into_its_weights(cli, one_error_line,
                                                                       tmp_path, monkeypatch):
    """A graph whose weights name a file beside it (external data) is refused, so the
    file's bytes reach neither the weights nor a page; so is an onnx with known path
    traversal."""
    import onnx

    import charrnn
    from charrnn.errors import CheckpointError

    secret = tmp_path / "secret.txt"

    def point_at_secret(built):
        tensor = next(t for t in built.graph.initializer if t.name == "embed")
        secret.write_bytes(b"my password" * (len(tensor.raw_data) // 11 + 1))
        tensor.ClearField("raw_data")
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", "secret.txt"), ("length", str(tensor.dims[0] *
                                                                       tensor.dims[1] * 4))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value

    evil = crafted_onnx(tmp_path / "evil.onnx", point_at_secret)
    with pytest.raises(CheckpointError, match="'embed' keeps its data in another file"):
        charrnn.load(evil)
    page = tmp_path / "evil.html"
    assert "another file" in one_error_line(cli("export", evil, "--format", "web",
                                                "--out", page))
    assert not page.exists()
    monkeypatch.setattr(onnx, "__version__", "1.20.1")
    good = tmp_path / "good.onnx"
    export(random_lm(hidden=4), "onnx", good)
    assert "needs onnx >= 1.21" in one_error_line(cli("export", good, "--format", "web"))


def test_the_onnx_floor_is_the_one_the_package_asks_for():
    from charrnn.export.onnx_model import ONNX_FLOOR

    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    floor = "onnx>={}.{}".format(*ONNX_FLOOR)
    assert pyproject.count(f'"{floor}') == 2  # the onnx extra and the dev extra


def _drop(part, name):
    """A change that takes the entry `name` out of the graph's `part` (input, initializer)."""
    def change(built):
        entries = getattr(built.graph, part)
        kept = [e for e in entries if e.name != name]
        del entries[:]
        entries.extend(kept)
    return change


def _model_field(**fields):
    return lambda meta: json.dumps(meta | {"model": meta["model"] | fields})


def _format_field(**fields):
    return lambda meta: json.dumps(meta | {"text_format": meta["text_format"] | fields})


CRAFTED = {  # the first few end in a traceback on a loader without its checks
    "no inputs listed": (None, lambda m: json.dumps({k: v for k, v in m.items()
                                                      if k != "inputs"})),
    "a larger hidden size": (None, _model_field(hidden_size=5)),
    "a lost initializer": (_drop("initializer", "head.bias"), None),
    "data that is a list": (None, lambda m: json.dumps(m | {"data": [1]})),
    "documents no corpus has": (None, lambda m: json.dumps(
        m | {"data": m["data"] | {"documents": "chapters"}})),
    "a missing graph input": (_drop("input", "c"), None),
    "metadata not JSON": (None, lambda m: "{not json"),
    "metadata not a dict": (None, lambda m: "[1, 2]"),
    "no charrnn metadata": (None, lambda m: json.dumps({"format": "other"})),
    "a model not a dict": (None, lambda m: json.dumps(m | {"model": 3})),
    "too few counts": (None, lambda m: json.dumps(m | {"vocab": m["vocab"] | {"counts": [1]}})),
    "a hidden size of 2**40": (None, _model_field(hidden_size=2**40)),
    "a billion layers": (None, _model_field(num_layers=10**9)),
    "a negative embedding": (None, _model_field(embed_size=-3)),
    "sizes in bounds, not in the file": (None, _model_field(hidden_size=8192,
                                                         num_layers=16)),
    "a text_format that is a list": (None, lambda m: json.dumps(m | {"text_format": [1]})),
    "a text_format of labels its vocabulary lacks": (None, _format_field(
        end_id=3, labels=["a"], label_input="vector", default_label=4)),
    "openings its fields do not make": (None, _format_field(openings={"": [0, 1]})),
    "a first label it does not have": (None, _format_field(first_label=2)),
    "documents its data settings lack": (None, _format_field(documents="lines")),
    "a default label that is not an id": (None, _format_field(default_label=True)),
}


def test_every_crafted_onnx_file_is_one_line(cli, one_error_line, tmp_path):
    """Each crafted file is refused with one line that names it, before anything of a
    size its metadata states is made, and no page is written."""
    for k, (why, (change, meta_change)) in enumerate(CRAFTED.items()):
        crafted = crafted_onnx(tmp_path / f"crafted{k}.onnx", change, meta_change)
        start = time.monotonic()
        done = cli("export", crafted, "--format", "web", "--out", tmp_path / "page.html")
        assert f"cannot load {crafted}" in one_error_line(done), why
        assert time.monotonic() - start < 10, why
        assert not (tmp_path / "page.html").exists()


def charrnn_load(path):
    import charrnn

    return charrnn.load(path)


def test_a_byte_level_page_shows_bytes_as_python_prints_them(tmp_path, offline_page):
    lm = random_lm(level="byte", seed=6)
    path = tmp_path / "bytes.html"
    export(lm, "web", path)
    rows = [[0xFF, 0x41], [0xE2, 0x82], [0xF0, 0x9F, 0x8C, 0xB9, 0x80], list("ñ".encode())]
    with offline_page(path) as page:
        shown = page.evaluate("(rows) => rows.map((r) => charrnnModel.model().vocab.decode(r))",
                              rows)
        written = page.evaluate("""() => {
            const m = charrnnModel.model();
            m.sample({length: 300, temperature: 1.5, seed: 4});
            return m.text;
        }""")
    assert shown == [lm.vocab.display(lm.vocab.decode(row)) for row in rows]
    assert "\ufffd" in written  # a random byte model writes invalid UTF-8; shown as �


def test_the_file_is_named_after_the_model_by_default(trained_run, cli, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for fmt, suffix in (("web", "html"), ("js", "js"), ("onnx", "onnx")):
        done = cli("export", trained_run, "--format", fmt)
        assert done.exit_code == 0, done.output
        assert (tmp_path / f"{trained_run.name}.{suffix}").is_file()


_SESSION = """
const m = require(process.argv[1]).model();
const out = {};
m.sample({length: 60, seed: 1});
m.sample({length: 60, seed: 2, topK: undefined});  // undefined keeps the default
out.after_two = [m.text, m.score];
m.reset();
m.feed("ab");
m.feed("");
out.undone = [m.undo(), m.text];
m.feed("ab");
m.reset();
out.reset_undone = [m.undo(), m.text];
out.nothing = [m.sample({length: 0}), m.undo(), m.text];
console.log(JSON.stringify(out));
"""


def test_the_module_keeps_its_text_and_history_as_a_python_session(tmp_path):
    """A document's end is read and kept (the next sample starts a new document, as in
    Python), and only a change can be undone, a reset included."""
    lm = random_lm(cell="gru", documents=True, seed=21)
    module = tmp_path / "docs.js"
    export(lm, "js", module)
    got = json.loads(node(_SESSION, str(module)))
    session = lm.session()
    session.sample(60, seed=1)
    session.sample(60, seed=2)
    assert got["after_two"][0] == session.text
    assert got["after_two"][1] == pytest.approx(session.score, abs=1e-3)
    assert got["undone"] == [1, ""]
    assert got["reset_undone"] == [1, "ab"]
    assert got["nothing"] == ["", 1, ""]  # sampling nothing is no change: undo takes "ab"


# --- what the manifest says, and the runtime reads from it ----------------------------------

def test_the_manifest_carries_the_text_format_and_the_sampling_rules():
    """The text format as `TextFormat.manifest()` gives it (nothing re-stated beside it),
    and every sampling setting's default and bound as charrnn/config.py declares them."""
    from charrnn.config import LENGTH, SAMPLE_BOUNDS, WRITING_LENGTH, SampleConfig
    from charrnn.export.bundle import bundle_of

    for k, variant in enumerate(VARIANTS):
        lm = random_lm(**variant, hidden=4, seed=k)
        manifest = bundle_of(lm).manifest
        text_format = lm.record.text_format
        assert manifest["text_format"] == text_format.manifest(), variant
        assert not {"end_id", "after_end", "default_label_id", "default_label"} & set(manifest)
        assert set(manifest["vocab"]) <= {"level", "chars"}
        assert ("first_logprobs" in manifest) == (text_format.openings()[""] == [])
    sampling = manifest["sampling"]
    assert sampling["length"] == {"default": WRITING_LENGTH, **LENGTH.to_dict()}
    for name, bound in SAMPLE_BOUNDS.items():
        assert sampling[name] == {"default": getattr(SampleConfig(), name), **bound.to_dict()}


_OPTIONS = """
const c = JSON.parse(process.argv[1]);
const m = require(c.module).model();
const special = {inf: Infinity, "-inf": -Infinity, nan: NaN};
const refused = c.cases.map(([key, value]) => {
  try {
    m.options({[key]: typeof value === "string" && value in special ? special[value] : value});
    return null;
  } catch (e) { return e.message; }
});
console.log(JSON.stringify({refused, defaults: m.options({})}));
"""

_SETTINGS = {
    "temperature": [0, -0.0, 1e-5, 0.0009, 0.001, 0.8, 1, 7, -1, "inf", "nan", None, "0.8",
                    True],
    "top_k": [None, 0, 1, 5, 2.5, -3, "inf"],
    "top_p": [None, 0, 1e-9, 0.5, 1, 1.5, -0.1, "nan"],
    "repetition_penalty": [1, 1.3, 0.99, 0, "inf", None],
    "length": [0, 5, 300, -1, 2.5, None],
}


def test_the_runtime_refuses_the_sampling_options_python_refuses(tmp_path):
    """Each sampling setting, at and around its bounds (infinity, NaN, null, a string, a
    boolean): the JavaScript runtime refuses exactly what Python refuses, in the same
    words under its own name (topK for top_k), and fills in Python's defaults."""
    from charrnn.config import LENGTH, WRITING_LENGTH, SampleConfig

    lm = random_lm(hidden=4)
    module = tmp_path / "m.js"
    export(lm, "js", module)
    special = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}
    cases = [[_camel(name), value] for name, values in _SETTINGS.items() for value in values]
    got = json.loads(node(_OPTIONS, json.dumps({"module": str(module), "cases": cases})))
    expected = []
    for name, values in _SETTINGS.items():
        for value in values:
            value = special.get(value, value) if isinstance(value, str) else value
            try:
                if name == "length":
                    LENGTH.check(name, value)
                else:
                    SampleConfig(**{name: value}).validate()
                expected.append(None)
            except ConfigError as exc:
                expected.append(str(exc).split(", not ")[0].replace(name, _camel(name), 1))
    assert [None if m is None else m.split(", not ")[0] for m in got["refused"]] == expected
    assert "temperature must be 0 (greedy) or at least 0.001" in expected  # 1e-5: refused
    defaults = SampleConfig()
    assert got["defaults"] == {"length": WRITING_LENGTH, "temperature": defaults.temperature,
                               "topK": defaults.top_k, "topP": defaults.top_p,
                               "repetitionPenalty": defaults.repetition_penalty,
                               "stop": [], "seed": None, "random": None}
    with pytest.raises(ConfigError, match="length must be a whole number >= 0"):
        lm.sample(-1)


_OPENING = """
const api = require(process.argv[1]);
const labels = api.manifest.text_format.labels;
const written = (label) => {
  const m = api.model();
  m.reset(label === null ? undefined : label);
  return m.sample({length: 40, seed: 3});
};
const before = labels.map(written);
api.manifest.text_format.openings[""] = api.manifest.text_format.openings[labels[1]];
console.log(JSON.stringify({before, unlabelled: written(null)}));
"""


def test_the_runtime_opens_a_text_with_the_manifests_opening(tmp_path):
    """The runtime reads what to read before a text from the manifest (it does not work
    it out): with the opening of "" made that of the second label, a text asked for
    without a label is written as that label's."""
    lm = random_lm(cell="gru", labels=("a", "b", "c"), after_end=True, seed=8)
    module = tmp_path / "m.js"
    export(lm, "js", module)
    got = json.loads(node(_OPENING, str(module)))
    assert got["before"] == [lm.sample(40, seed=3, label=name) for name in lm.labels]
    assert got["unlabelled"] == got["before"][1] != got["before"][0]
