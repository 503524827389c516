"""Rebuild the saved example checkpoints in tests/data/checkpoints/ from git history.

    python tests/data/make_saved_checkpoints.py            # all of them
    python tests/data/make_saved_checkpoints.py 0ce8eca-lstm-tied ...   # some of them

Not run by the test suite: tests/test_saved_checkpoints.py reads what this wrote.

A checkpoint is one safetensors file whose JSON header grew over the project's history
(fields added, the format version kept at 1), so every file ever written must still load.
For each example below this script checks the commit out as a git worktree
(/tmp/hist-<commit>), trains a tiny model with THAT commit's own code (the old package
first on PYTHONPATH, run from a scratch folder, with this interpreter's packages), keeps
its best checkpoint (latest if there is no best), and asks the same old code what a user
gets from it: greedy samples (temperature 0) of 40 characters after an empty prime and
after a short prime, and `lm.logprob` of a short text (under a label for a labelled
model; also `complete=True` for a model of documents). Those answers go to
checkpoints/expected.json, keyed by file name, with the commit and the calls used.

Why these commits (each wrote a checkpoint shape the ones before it could not):

    c0f3a1a  the first commit: model/train/vocab/corpus/metrics only; its tensor checksum
             is sha256 of the safetensors data section (changed in ef5fef8)
    2d8d997  the first byte-level model (level "byte": the vocabulary is bytes)
    0ce8eca  AdamW era: tied input/output weights (a head that is the embedding), optimiser,
             schedule and data sections, metrics.jsonl
    c1571af  processes/devices era: a GRU, presets, device and precision recorded
    f5bd886  documents (--documents lines): a reserved end-of-document id, documents held out
    2abcf32  --bptt-steps: a vanilla RNN (--model rnn) trained with bptt_steps < seq_len
    42a3957  chars_seen in the checkpoint; here a 2-layer LSTM over paragraphs, with a weight
             average (--ema: averaged tensors beside the raw ones) and --weight-drop
    31605d4  fine-tuning: a child trained --init-from a parent on a text with new characters
             (a merged vocabulary) that records its parent's lineage; only the child is kept
    6b67499  labelled folders: label_from="dirname" over two folders of files, each label a
             learned vector (label_input "vector"). That commit's CLI had no --label-from
             (the library took it first; the CLI option came in 629b543), so this one is
             trained with that commit's Python API, charrnn.train(...)

Every commit above ran as it was with today's installed packages. The test marks the files
today's code cannot read yet (KNOWN_FAILURES in tests/test_saved_checkpoints.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "checkpoints"
EXPECTED = OUT / "expected.json"
LENGTH = 40  # characters in each greedy sample
TINY = ["--hidden-size", "16", "--embed-size", "8", "--batch-size", "8", "--seq-len", "32",
        "--steps", "200", "--eval-every", "100", "--lr", "0.03", "--seed", "7"]


def tiny(**replace: str) -> list[str]:
    """TINY (enough steps for greedy samples that are words, not one repeated character)
    with some options replaced or added (`hidden_size="8"` for --hidden-size 8)."""
    args = list(TINY)
    for key, value in replace.items():
        flag = "--" + key.replace("_", "-")
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    return args


# --- the texts, all deterministic and a few KB --------------------------------------------

_SENTENCES = ["the quick brown fox jumps over the lazy dog.", "a stitch in time saves nine.",
              "all that glitters is not gold.", "the early bird catches the worm."]


def prose(repeats: int = 60, accents: bool = False) -> str:
    lines = [_SENTENCES[(i * 3) % 4] for i in range(repeats)]
    if accents:  # characters that take two or three UTF-8 bytes, for a byte-level model
        lines = [line.replace("over", "über").replace("time", "tîme €") for line in lines]
    return "\n".join(lines) + "\n"


def paragraphs(count: int = 40) -> str:
    return "\n\n".join(f"{_SENTENCES[i % 4]}\n{_SENTENCES[(i * 3 + 1) % 4]}"
                       for i in range(count)) + "\n"


def names(count: int = 240) -> str:
    first, middle, last = ["ma", "li", "so", "ka", "re", "to"], ["ri", "na", "", "la"], \
        ["", "n", "a", "e", "o"]
    out = [(first[i % 6] + middle[(i // 6) % 4] + last[(i // 24) % 5]).capitalize()
           for i in range(count)]
    return "\n".join(out) + "\n"


def write_corpus(kind: str, folder: Path) -> list[str]:
    """Write the corpus `kind` under `folder`; the paths to train on, relative to it."""
    if kind == "folders":  # two labels, three files each
        paths = []
        for label, text in (("alpha", prose(20)), ("beta", paragraphs(10))):
            (folder / "books" / label).mkdir(parents=True)
            for i in range(3):
                (folder / "books" / label / f"{label}{i}.txt").write_text(
                    text[i * 7:] + text[: i * 7], encoding="utf-8")
            paths.append(f"books/{label}")
        return paths
    texts = {"prose": prose(), "accents": prose(accents=True), "names": names(),
             "paragraphs": paragraphs(), "parent": prose(40),
             "child": prose(30).upper() + prose(10)}
    (folder / f"{kind}.txt").write_text(texts[kind], encoding="utf-8")
    return [f"{kind}.txt"]


# --- the examples --------------------------------------------------------------------------
# name: file stem; commit; corpus; train: CLI arguments after the corpus (or api: keyword
# arguments of that commit's charrnn.train); parent: a run trained first, passed as
# --init-from; prime/text/label: what is asked of the old code.

EXAMPLES = [
    dict(name="c0f3a1a-lstm", commit="c0f3a1a", corpus="prose", train=tiny(),
         prime="the ", text="the lazy dog."),
    dict(name="2d8d997-lstm-byte", commit="2d8d997", corpus="accents",
         train=tiny(level="byte"), prime="a stitch in t", text="jumps über the lazy dog."),
    dict(name="0ce8eca-lstm-tied", commit="0ce8eca", corpus="prose",
         train=tiny(embed_size="16") + ["--tie-weights"], prime="the ", text="the lazy dog."),
    dict(name="c1571af-gru", commit="c1571af", corpus="prose",
         train=tiny(model="gru", device="cpu", precision="fp32"), prime="all ",
         text="all that glitters"),
    dict(name="f5bd886-lstm-documents", commit="f5bd886", corpus="names",
         train=tiny(documents="lines", device="cpu"), prime="Ma", text="Kari",
         documents=True),
    dict(name="2abcf32-rnn-bptt", commit="2abcf32", corpus="prose",
         train=tiny(model="rnn", bptt_steps="4", device="cpu"), prime="a ",
         text="a stitch in time"),
    dict(name="42a3957-lstm-paragraphs-ema", commit="42a3957", corpus="paragraphs",
         train=tiny(num_layers="2", documents="paragraphs", ema="0.9", weight_drop="0.2",
                    device="cpu"),
         prime="the ", text="the early bird", documents=True),
    dict(name="31605d4-lstm-finetuned", commit="31605d4", corpus="child",
         parent=dict(corpus="parent", train=tiny(device="cpu")),
         train=tiny(steps="100", eval_every="50", device="cpu"), prime="THE ",
         text="THE LAZY dog."),
    dict(name="6b67499-lstm-labelled", commit="6b67499", corpus="folders",
         api=dict(documents="files", label_from="dirname", label_input="vector",
                  hidden_size=16, embed_size=8, batch_size=8, seq_len=32, steps=200,
                  eval_every=100, lr=0.03, seed=7, device="cpu"),
         prime="the ", text="the lazy dog.", label="beta", documents=True),
]

# What the old code is asked, run with the old package first on sys.path. Arguments only
# an old API has are never passed: label only for a labelled model, complete only for
# a model of documents.
_ASK = r"""
import json, sys
import charrnn
spec = json.loads(sys.argv[1])
lm = charrnn.load(spec["path"])
extra = {"label": spec["label"]} if spec.get("label") else {}
out = {"charrnn": charrnn.__file__, "samples": {}}
for prime in ("", spec["prime"]):
    out["samples"][prime] = lm.sample(spec["length"], temperature=0, prime=prime, **extra)
out["logprob"] = lm.logprob(spec["text"], **extra)
out["logprob_primed"] = lm.logprob(spec["text"][len(spec["prime"]):], prime=spec["prime"],
                                   **extra)
if spec.get("documents"):
    out["logprob_complete"] = lm.logprob(spec["text"], complete=True, **extra)
print(json.dumps(out, ensure_ascii=False))
"""

_API_TRAIN = r"""
import json, sys
import charrnn
spec = json.loads(sys.argv[1])
charrnn.train(spec["paths"], out=spec["out"], **spec["options"])
"""


def worktree(commit: str) -> Path:
    path = Path(f"/tmp/hist-{commit}")
    if not path.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path),
                        commit], check=True, capture_output=True)
    return path


def run(tree: Path, cwd: Path, args: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree), "CHARRNN_CACHE": str(cwd / "cache"),
           "COLUMNS": "120"}
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed in {tree}: {' '.join(args)}\n{done.stdout}\n{done.stderr}")
    return done.stdout


def kept(run_dir: Path) -> Path:
    best = run_dir / "best.safetensors"
    return best if best.exists() else run_dir / "latest.safetensors"


def make(example: dict, scratch: Path) -> dict:
    commit, name = example["commit"], example["name"]
    tree = worktree(commit)
    full = subprocess.run(["git", "-C", str(REPO), "rev-parse", commit], check=True,
                          capture_output=True, text=True).stdout.strip()
    folder = scratch / name
    folder.mkdir()
    trained_with = []
    init: list[str] = []
    if "parent" in example:
        parent = example["parent"]
        corpus = write_corpus(parent["corpus"], folder)
        args = ["-m", "charrnn", "train", *corpus, *parent["train"], "--out", "parent"]
        run(tree, folder, args)
        trained_with.append("python " + " ".join(args))
        init = ["--init-from", str(kept(folder / "parent").relative_to(folder))]
    paths = write_corpus(example["corpus"], folder)
    if "api" in example:
        spec = {"paths": paths, "out": "run", "options": example["api"]}
        run(tree, folder, ["-c", _API_TRAIN, json.dumps(spec)])
        trained_with.append(f"charrnn.train({paths!r}, out='run', **{example['api']!r})")
    else:
        args = ["-m", "charrnn", "train", *paths, *example["train"], *init, "--out", "run"]
        run(tree, folder, args)
        trained_with.append("python " + " ".join(args))
    source = kept(folder / "run")
    target = OUT / f"{name}.safetensors"
    shutil.copyfile(source, target)
    ask = {"path": str(target), "length": LENGTH, "prime": example["prime"],
           "text": example["text"], "label": example.get("label"),
           "documents": example.get("documents", False)}
    answers = json.loads(run(tree, folder, ["-c", _ASK, json.dumps(ask)]).splitlines()[-1])
    if not answers.pop("charrnn").startswith(str(tree)):
        raise SystemExit(f"{name}: the old package was not the one imported")
    extra = f", label={ask['label']!r}" if ask["label"] else ""
    return {
        "commit": full,
        "kept": source.name,
        "trained_with": trained_with,
        "api": (f"lm = charrnn.load(path); lm.sample({LENGTH}, temperature=0, prime=P{extra}) "
                f"for P in samples; lm.logprob(text{extra}); lm.logprob(text[len(prime):], "
                f"prime=prime{extra})"
                + (f"; lm.logprob(text, complete=True{extra})" if ask["documents"] else "")),
        "prime": ask["prime"],
        "text": ask["text"],
        "label": ask["label"],
        **answers,
    }


def main(names: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    expected = json.loads(EXPECTED.read_text(encoding="utf-8")) if EXPECTED.exists() else {}
    chosen = [e for e in EXAMPLES if not names or e["name"] in names]
    with tempfile.TemporaryDirectory(prefix="saved-checkpoints-") as scratch:
        for example in chosen:
            expected[example["name"] + ".safetensors"] = make(example, Path(scratch))
            size = (OUT / f"{example['name']}.safetensors").stat().st_size
            print(f"{example['name']}.safetensors  {size:,} bytes", flush=True)
    order = [e["name"] + ".safetensors" for e in EXAMPLES]
    expected = {k: expected[k] for k in sorted(expected, key=lambda k: (
        order.index(k) if k in order else len(order), k))}
    EXPECTED.write_text(json.dumps(expected, ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
    for commit in sorted({e["commit"] for e in chosen}):
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                        f"/tmp/hist-{commit}"], check=False, capture_output=True)


if __name__ == "__main__":
    main(sys.argv[1:])
