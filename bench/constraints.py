"""Constrained generation against issue 38's goals, on the shipped `english` model and
a Tiny Shakespeare model (trained here for --train-time on its first 90%, kept in
checkpoints/bench-shakespeare for the next run), on this machine's cores:

- **exact**: --requests seeded requests, their constraints drawn at random from every
  option (words to include, in order or not, to exclude, banned characters, a pattern,
  only real words with a share of new ones, a verse form), a tenth drawn the default way
  (particles) and the rest masked, each text checked by the tests' checker
  (`tests/constraint_checker.py`), written apart from the engine; requests no text can
  meet are refused before anything is drawn, and counted apart. A line on stderr every
  100 requests shows the pace (1,000 take about half an hour on `english`).
- **faithful**: where the model's own distribution given a constraint is known (drawn by
  rejection: many unconstrained texts, those that meet it kept), the total variation
  distance of the masked sampler (particles 1) and of particle sampling from it, over
  where the forced word stands, and their mean log-probability per character beside the
  exact one. The noise floor is the distance between two halves of the exact draw.
- **natural**: constrained texts' mean log-probability per character (under the model,
  the same temperature) beside unconstrained texts of the same length: three words in
  300 characters, a date somewhere in 300 characters (in words for a model without
  digits: "the tenth of May"), a 5-7-5 haiku in at most 100 (it ends with its last line:
  room for the model to finish it in words it would write).
- **fast**: batch-1 sampling of three words and a pattern beside unconstrained batch-1
  sampling in the same run (characters per second, the median of rounds), and next-word
  suggestions after a 200-character prime (milliseconds, median).

    python bench/constraints.py
    python bench/constraints.py --requests 1000 --particles 1,4,16,64
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from pathlib import Path

import charrnn

charrnn.tune_for_speed()  # before numpy loads: its OpenBLAS threads then stop spinning soon

import numpy as np  # noqa: E402

from charrnn import Constraints  # noqa: E402
from charrnn.decoding.particles import DEFAULT_PARTICLES  # noqa: E402
from charrnn.errors import ConfigError  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.constraint_checker import WORD, fault  # noqa: E402  (the tests' own checker)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpora" / "tinyshakespeare.txt"
SHAKESPEARE_RUN = ROOT / "checkpoints" / "bench-shakespeare"
COMMON = ["the", "and", "night", "sea", "love", "king", "heart", "time", "house", "old",
          "day", "light", "hand", "door", "water", "good", "dark", "man", "fire", "way"]
PATTERNS = [r"[A-Za-z ,.;'\n]+", r"(?s)[A-Z].*", r"(?s).*\.", r"(?s).*[,;].*",
            r"[^0-9]+", r"(?s)(.{0,30}\n)*.{0,30}"]
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
PROGRESS_EVERY = 100  # requests between the exact case's progress lines (on stderr)
ORDINALS = "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|twelfth"


# ---- requests drawn at random from every option ----

def random_request(chooser: random.Random, chars: set[str]) -> tuple[Constraints, int]:
    """A constraint set and a length, each option present about a third of the time."""
    pick = lambda p: chooser.random() < p  # noqa: E731
    include = tuple(chooser.sample(COMMON, chooser.randint(1, 3))) if pick(0.5) else ()
    exclude = tuple(chooser.sample([w for w in COMMON if w not in include], 3)) \
        if pick(0.3) else ()
    ban = "".join(chooser.sample([x for x in "zqxjkv" if not any(x in w for w in include)],
                                 2)) if pick(0.3) else ""
    verse = pick(0.25)
    fields = dict(include=include, exclude=exclude, ban_chars=ban,
                  in_order=pick(0.3), ignore_case=pick(0.3),
                  pattern="" if verse or not pick(0.3) else chooser.choice(PATTERNS),
                  words_only=pick(0.3))
    if fields["words_only"] and pick(0.5):
        fields["new_words"] = chooser.choice([0.05, 0.1, 0.25])
    length = chooser.randint(40, 160)
    if verse:
        lines = chooser.randint(2, 4)
        if pick(0.6):
            fields["syllables"] = tuple(chooser.randint(3, 7) for _ in range(lines))
        if pick(0.5):
            fields["rhyme"] = chooser.choice(["AA", "ABAB", "AABB", "ABA"])[:lines].ljust(
                lines, "C")
        if pick(0.4) or not (fields.get("syllables") or fields.get("rhyme")):
            fields["acrostic"] = chooser.choice(["sea", "love", "night", "fire"])[:lines] \
                .ljust(lines, "a")
        fields["include"] = fields["include"][:1]
        length = 40 * lines
    return Constraints(**fields), length


def exactness(lm, name: str, requests: int, seed: int) -> None:
    chooser = random.Random(seed)
    listed = frozenset(lm.words or ())
    met = broke = refused = 0
    first_fault = ""
    started = time.perf_counter()
    for k in range(requests):
        constraints, length = random_request(chooser, set(lm.vocab.chars))
        particles = None if chooser.random() < 0.1 else 1  # the default (particles) or masked
        try:
            texts = lm.samples(2, length, seed=k, temperature=chooser.choice([0.6, 0.9, 1.1]),
                               constraints=constraints, particles=particles)
        except ConfigError:
            refused += 1
            continue
        for text in texts:
            why = fault(text, constraints, listed)
            if why is None:
                met += 1
            else:
                broke += 1
                first_fault = first_fault or f"{constraints.to_dict()}: {why}: {text!r}"
        if (k + 1) % PROGRESS_EVERY == 0 and k + 1 < requests:  # a long run shows its pace
            print(f"  {name}: {k + 1} of {requests} requests, {met + broke} texts, "
                  f"{broke} broken, {refused} refused, "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    print(f"{name:12} {requests:5} requests  {met + broke:5} texts  "
          f"{100 * met / max(met + broke, 1):6.2f}% meet them  {refused:4} refused before "
          f"drawing  {seconds:6.1f} s")
    if first_fault:
        print(f"  first fault: {first_fault}")


# ---- faithfulness: the model's distribution given a constraint, by rejection ----

def position_histogram(texts: list[str], word: str, length: int) -> np.ndarray:
    found = np.zeros(length + 1)
    for text in texts:
        m = re.search(rf"(?<!{WORD}){word}(?!{WORD})", text)
        found[m.start() if m else length] += 1
    return found / max(len(texts), 1)


def tv(a: np.ndarray, b: np.ndarray) -> float:
    return 0.5 * float(np.abs(a - b).sum())


def per_char(lm, texts: list[str], prime: str = "") -> float:
    return float(np.mean([lm.logprob(t, prime=prime) / max(len(t), 1) for t in texts]))


def faithfulness(lm, name: str, prime: str, word: str, length: int, draws: int,
                 particle_counts: list[int], seed: int) -> None:
    rule = Constraints(include=(word,))
    kept: list[str] = []
    tried = 0
    while len(kept) < draws and tried < 400 * draws:
        batch = lm.samples(256, length, prime=prime, seed=seed + tried, temperature=1.0)
        tried += 256
        kept += [t for t in batch if fault(t, rule) is None]
    exact = position_histogram(kept, word, length)
    floor = tv(position_histogram(kept[::2], word, length),
               position_histogram(kept[1::2], word, length))
    print(f"{name:12} include {word!r} in {length} characters after {prime!r}: exact by "
          f"rejection ({len(kept)} of {tried}), noise floor {floor:.3f}, exact "
          f"{per_char(lm, kept[:300], prime):.3f} nats/char")
    for particles in particle_counts:
        started = time.perf_counter()
        texts = lm.samples(min(draws, 300), length, prime=prime, seed=seed,
                           temperature=1.0, constraints=rule, particles=particles)
        seconds = time.perf_counter() - started
        label = "masked" if particles == 1 else f"{particles} particles"
        label += " (default)" if particles == DEFAULT_PARTICLES else ""
        print(f"  {label:23} TV {tv(position_histogram(texts, word, length), exact):.3f}  "
              f"{per_char(lm, texts, prime):.3f} nats/char  {seconds:5.1f} s")


# ---- naturalness and speed ----

def naturalness(lm, name: str, particle_counts: list[int], n: int, seed: int) -> None:
    digits = all(d in lm.vocab.chars for d in "0123456789")
    date = (rf"(?s).*\d{{1,2}} ({MONTHS}) 1[789]\d\d.*" if digits else  # else in words
            rf"(?s).*the ({ORDINALS}) (day )?of ({MONTHS}).*")
    cases = [("3 words in 300", Constraints(include=("night", "sea", "old")), 300, "", 0.8),
             ("a date in 300", Constraints(pattern=date), 300, "", 0.8),
             ("5-7-5 haiku", Constraints(syllables=(5, 7, 5)), 100, "", 0.8)]
    for label, rule, length, prime, temperature in cases:
        free = lm.samples(n, length, prime=prime, seed=seed, temperature=temperature)
        line = f"{name:12} {label:15} unconstrained {per_char(lm, free, prime):.3f}"
        for particles in particle_counts:
            try:
                texts = lm.samples(n, length, prime=prime, seed=seed, temperature=temperature,
                                   constraints=rule, particles=particles)
            except ConfigError as exc:
                line += f"  [{exc}]"
                break
            kind = "masked" if particles == 1 else f"{particles}p"
            kind += " (default)" if particles == DEFAULT_PARTICLES else ""
            line += f"  {kind} {per_char(lm, texts, prime):.3f}"
        print(line + "  nats/char")


def speed(lm, name: str, rounds: int, particle_counts: list[int]) -> None:
    rule = Constraints(include=("night", "sea", "old"), pattern=r"[A-Za-z ,.;'\n]+")
    length = 300
    ways = {"unconstrained": {}, **{("masked" if p == 1 else f"{p} particles" + (
        " (default)" if p == DEFAULT_PARTICLES else "")):
                                    {"constraints": rule, "particles": p}
                                    for p in particle_counts}}
    seconds: dict[str, list[float]] = {k: [] for k in ways}
    for r in range(rounds):
        for way, options in ways.items():
            started = time.perf_counter()
            lm.sample(length, seed=r, temperature=0.8, **options)
            seconds[way].append(time.perf_counter() - started)
    free = statistics.median(seconds["unconstrained"])
    cells = [f"{way} {length / statistics.median(s):6.0f} chars/s "
             f"({free / statistics.median(s):.2f}x)" for way, s in seconds.items()]
    print(f"{name:12} batch 1, 3 words + a pattern: " + "; ".join(cells))
    prime = (lm.sample(200, seed=1, temperature=0.8) + " ")[:200]
    lm.next_words(prime, 5)
    taken = []
    for _ in range(rounds * 4):
        started = time.perf_counter()
        lm.next_words(prime, 5)
        taken.append(time.perf_counter() - started)
    print(f"{name:12} next 5 words after 200 characters: "
          f"{1000 * statistics.median(taken):.1f} ms (median of {len(taken)})")


def shakespeare_model(train_time: str):
    best = SHAKESPEARE_RUN / "best.safetensors"
    if not best.exists():
        if not SHARED.exists():
            return None
        charrnn.train(SHARED, out=SHAKESPEARE_RUN, time=train_time, overwrite=True)
    return charrnn.load(SHAKESPEARE_RUN)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000,
                        help="seeded requests per model for exactness")
    parser.add_argument("--particles", default="1,8,32",
                        help="particle counts to compare (1: the masked sampler)")
    parser.add_argument("--draws", type=int, default=2000, help="exact draws by rejection")
    parser.add_argument("--natural", type=int, default=16, help="texts per natural case")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--train-time", default="5m")
    parser.add_argument("--only", default="exact,faithful,natural,fast")
    parser.add_argument("--models", default="english,shakespeare")
    args = parser.parse_args()
    counts = [int(p) for p in args.particles.split(",")]
    names = args.models.split(",")
    models = [("english", charrnn.load("english"))] if "english" in names else []
    shakespeare = shakespeare_model(args.train_time) if "shakespeare" in names else None
    if shakespeare is not None:
        models.append(("shakespeare", shakespeare))
    parts = args.only.split(",")
    if "fast" in parts:
        print("== fast ==")
        for name, lm in models:
            speed(lm, name, args.rounds, counts)
    if "faithful" in parts:
        print("== faithful ==")
        for name, lm in models:
            faithfulness(lm, name, "The ", "the", 12, args.draws, counts, seed=1)
    if "natural" in parts:
        print("== natural ==")
        for name, lm in models:
            naturalness(lm, name, counts, args.natural, seed=2)
    if "exact" in parts:
        print("== exact ==")
        for name, lm in models:
            exactness(lm, name, args.requests, seed=3)


if __name__ == "__main__":
    main()
