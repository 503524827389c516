"""An exported page's speed in headless Chromium beside `charrnn sample`'s, in one run,
and the size of the page at each weight precision.

Models: the default preset's (`medium`, 1 x 384 LSTM) and the 2 x 512 LSTM, freshly
initialised (speed does not depend on the values), with Tiny Shakespeare's 65
characters (a synthetic play's when ../shared is absent). Each is timed generating
--length characters at temperature 1, batch 1:

- `charrnn sample`: `lm.sample` in this process (what the command runs, without its
  start-up; the process tuned as the command tunes it, --threads torch threads);
- the page: `charrnnModel.model().sample(...)` inside the exported page in Debian's
  headless Chromium, opened from file:// (its WebAssembly SIMD step; and, for scale,
  the plain JavaScript loop the runtime falls back to).

Rounds alternate between Python and the browser, each after an untimed warm-up, and
the median is reported. Python is timed while no browser runs (an idle headless
Chromium slowed `lm.sample` by a third on this 2-core machine), and the browser while
Python waits for it. Goals: the page at least 20% of `charrnn sample`'s speed for
`medium` and 10% for 2 x 512; the `medium` page with fp16 weights under 2 MB (2,000,000
bytes).

    python bench/export_speed.py
    python bench/export_speed.py --length 4000 --rounds 5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import charrnn

charrnn.tune_for_speed()  # as every command runs, before numpy loads

import torch  # noqa: E402

from charrnn.api.language_model import LanguageModel  # noqa: E402
from charrnn.config import ModelConfig  # noqa: E402
from charrnn.data.vocab import Vocab  # noqa: E402
from charrnn.export import export  # noqa: E402
from charrnn.model.network import CharRNN  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"
PLAY = "".join(f"SPEAKER {i % 9}:\nA line of verse, number {i}; with (words) & marks!\n\n"
               for i in range(200))
MODELS = {"medium": ModelConfig(), "2 x 512": ModelConfig(hidden_size=512, num_layers=2)}
GOALS = {"medium": 0.20, "2 x 512": 0.10}
PAGE_LIMIT = 2_000_000


def model_of(config: ModelConfig, vocab: Vocab) -> LanguageModel:
    torch.manual_seed(0)
    import dataclasses

    return LanguageModel(CharRNN(dataclasses.replace(config, vocab_size=len(vocab))), vocab)


def python_speed(lm: LanguageModel, length: int) -> float:
    lm.sample(200, seed=0)  # untimed: the step's routes are chosen on first use
    started = time.perf_counter()
    lm.sample(length, temperature=1.0, seed=1)
    return length / (time.perf_counter() - started)


def page_speed(page, length: int, kernel: str) -> float:
    return page.evaluate("""([length, kernel]) => {
        const m = charrnnModel.model({kernel});
        m.sample({length: 200, seed: 0});
        m.reset();
        const started = performance.now();
        m.sample({length, seed: 1, temperature: 1});
        return length / ((performance.now() - started) / 1000);
    }""", [length, kernel])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--length", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    text = SHARED.read_text(encoding="utf-8") if SHARED.exists() else PLAY
    vocab = Vocab.from_text(text)
    work = Path(tempfile.mkdtemp(prefix="charrnn-export-speed-"))
    print(f"{len(vocab)} characters ({'Tiny Shakespeare' if SHARED.exists() else 'a play'}); "
          f"{args.length:,} characters per timing, median of {args.rounds} rounds\n")
    models = {name: model_of(config, vocab) for name, config in MODELS.items()}
    for name, lm in models.items():
        export(lm, "web", work / f"{name.replace(' ', '')}.html")
    speeds = {(name, path): [] for name in models for path in ("python", "auto", "js")}
    kernels = {}
    for _ in range(args.rounds):
        # Python with no browser running: an idle Chromium still slows it by a third here
        for name, lm in models.items():
            speeds[name, "python"].append(python_speed(lm, args.length))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            for name in models:
                page = browser.new_page()
                page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
                    ("file:", "data:")) else r.abort())
                page.goto((work / f"{name.replace(' ', '')}.html").as_uri())
                kernels[name] = page.evaluate("() => charrnnModel.model().net.kernel.name")
                speeds[name, "auto"].append(page_speed(page, args.length, "auto"))
                speeds[name, "js"].append(page_speed(page, args.length // 4, "js"))
                page.close()
            browser.close()
    met = True
    print(f"{'model':<9} {'charrnn sample':>15} {'page (wasm)':>12} {'ratio':>7} "
          f"{'goal':>6} {'page (js loop)':>15} {'ratio':>7}")
    for name in models:
        py, wasm, js = (statistics.median(speeds[name, k]) for k in ("python", "auto", "js"))
        ratio = wasm / py
        met &= ratio >= GOALS[name] and kernels[name] == "wasm-simd"
        print(f"{name:<9} {py:>11,.0f} c/s {wasm:>8,.0f} c/s {ratio:>7.1%} "
              f"{GOALS[name]:>6.0%} {js:>11,.0f} c/s {js / py:>7.1%}   ({kernels[name]})")
    print("\npage sizes (one HTML file, model and runtime inside):")
    for name, lm in models.items():
        row = []
        for weights in ("fp32", "fp16", "int8"):
            done = export(lm, "web", work / f"size-{weights}.html", weights, force=True)
            row.append(f"{weights} {done.bytes / 1e6:.2f} MB")
            if name == "medium" and weights == "fp16":
                met &= done.bytes < PAGE_LIMIT
        print(f"  {name:<9} " + ", ".join(row))
    print(f"  goal: medium with fp16 weights under {PAGE_LIMIT / 1e6:.0f} MB")
    print(f"\ngoals {'met' if met else 'missed'}")


if __name__ == "__main__":
    main()
