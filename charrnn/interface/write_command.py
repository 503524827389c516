"""`charrnn write`: write with the model in the terminal, on a `Session`.

Each line typed is fed to the session as typed (`\\n` and `\\t` escapes work; an empty
line feeds nothing) and the model continues the story, streamed, with the current
settings; the story so far is kept, so the next line continues it. Lines that start
with `/` are commands (`/help` lists them), among them the constraints every continuation
keeps to (`/include`, `/pattern`, ...: the session's `Constraints`, checked as the
command line checks them) and `/words`, the likeliest next words. The standard library's
readline, where Python has it (not on Windows), gives line editing and history on the
arrow keys. Ctrl-C stops a generation (what was shown is kept) and clears a half-typed
line; Ctrl-D or `/quit` leaves. A bad command or value is one line of help, and the
session goes on.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated

import typer

from charrnn.config import Constraints
from charrnn.errors import CharRNNError
from charrnn.interface import display
from charrnn.interface.constraint_options import DEFAULT as DEFAULT_CONSTRAINTS
from charrnn.interface.constraint_options import syllable_counts, with_constraints
from charrnn.interface.options import (
    DEFAULT_SAMPLE,
    CheckpointOption,
    LabelOption,
    ParticlesOption,
    PrimeOption,
    WeightsOption,
    one_line_errors,
    unescape,
)

HELP = """commands (the story so far is kept between lines):
  /temperature T     sampling temperature (0 is greedy)
  /top-p P | off     draw only from the likeliest characters holding P of the probability
  /top-k K | off     draw only from the K likeliest characters
  /length N          characters per continuation
  /stop S | off      end each continuation right after S (\\n escapes work)
  /particles N | auto  draw constrained text by N weighted rows (1: masked, fastest;
                     auto: 64 where they apply, else 1)
  /beam [W]          continue with the likeliest continuation a beam of W finds (8)
  /suggest [K]       K continuations side by side (5); pick one by number
  /label [NAME]      a model of labelled files: write on in NAME's style (the text so far
                     is read again under it; /undo starts afresh); alone: list the labels
  /undo [N]          take back the last N changes      /reset       back to the prime
  /show              the whole text so far             /save FILE   write it to FILE
  /words [K]         the K likeliest next words (5) and their probabilities
  /help              this list                         /quit        leave (or Ctrl-D)
constraints: every continuation keeps to them (`off` clears one):
  /include WORD...   hold each WORD as a whole word    /exclude WORD...  hold none of them
  /ban CHARS         hold none of these characters     /pattern REGEX    match it, whole
  /words-only [SHARE]  only words of the training text (at most SHARE of others)
  /syllables 5,7,5   lines of these syllable counts    /rhyme ABAB  line ends rhyme so
  /acrostic WORD     line i starts with WORD's i-th letter
  /in-order on|off   the /include words in the order given
  /ignore-case on|off  /include, /exclude and /ban in either case
  /constraints [off] show those in force, or clear them all"""

# what an error about a setting says where its command is not its field name
COMMAND_OF = {"ban_chars": "/ban", "new_words": "/words-only SHARE", "k": "/words K"}


@dataclass(frozen=True)
class Settings:
    """How the next continuation is made; changed by the commands."""

    temperature: float = DEFAULT_SAMPLE.temperature
    top_k: int | None = None
    top_p: float | None = None
    length: int = 200
    stop: list[str] = field(default_factory=list)
    particles: int | None = None  # None: the library's default (particles where they apply)

    def sampling(self) -> dict:
        return {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p,
                "stop": self.stop, "particles": self.particles}


class Writer:
    """The loop of `charrnn write`: read a line, feed it or run it as a command."""

    def __init__(self, lm, prime: str, settings: Settings, out=sys.stdout,
                 label: str | None = None):
        self.lm, self.settings, self.out = lm, settings, out
        self.session = lm.session(prime, label=label)
        self.saved: set[Path] = set()  # files this session wrote, which /save may replace
        self.commands: dict[str, Callable[[str], None]] = {
            "temperature": self._temperature, "top-p": self._top_p, "top-k": self._top_k,
            "length": self._length, "stop": self._stop, "particles": self._particles,
            "beam": self._beam,
            "suggest": self._suggest, "undo": self._undo, "reset": self._reset,
            "show": self._show, "save": self._save, "help": self._help,
            "label": self._label, "words": self._words,
            "include": self._include, "exclude": self._exclude, "ban": self._ban,
            "pattern": self._pattern, "words-only": self._words_only,
            "syllables": self._syllables, "rhyme": self._rhyme, "acrostic": self._acrostic,
            "in-order": self._in_order, "ignore-case": self._ignore_case,
            "constraints": self._constraints,
        }

    def run(self, read: Callable[[str], str] = input) -> None:
        self.say(f"{self.session.text}" if self.session.text else "")
        while True:
            try:
                line = read("> ")
            except EOFError:
                self.say("")
                return
            except KeyboardInterrupt:  # a half-typed line is dropped, not the session
                self.say("")
                continue
            if line.strip() in ("/quit", "/exit"):
                return
            self.handle(line)

    def handle(self, line: str) -> None:
        """One typed line: a command, or text to feed and continue."""
        try:
            if line.startswith("/"):
                name, _, arg = line[1:].strip().partition(" ")
                if name not in self.commands:
                    raise CharRNNError(f"unknown command /{name}; /help lists them")
                self.commands[name](arg.strip())
            else:
                self.session.feed(unescape(line))
                self._continue()
        except CharRNNError as err:  # a setting by its session command: /temperature
            self.say(f"error: {err.in_terms_of(self._setting_name)}")

    def _setting_name(self, field: str) -> str:
        """A setting as this session says it: its command (/max-chars), else its flag."""
        if field in COMMAND_OF:
            return COMMAND_OF[field]
        command = field.replace("_", "-")
        return f"/{command}" if command in self.commands else display.option_name(field)

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _continue(self) -> None:
        """Stream a continuation with the current settings; Ctrl-C keeps what was shown."""
        try:
            for piece in self.session.stream(self.settings.length, **self.settings.sampling()):
                self.out.write(self.lm.vocab.display(piece))
                self.out.flush()
        except KeyboardInterrupt:
            self.say("\n[stopped]")
            return
        self.say("")

    def check(self, settings: Settings) -> None:
        """Refuse settings the sampler would refuse (the constraints in force among them:
        they must fit the length), before they are used."""
        self.session.check(settings.length, **settings.sampling())

    def _set(self, **changes) -> None:
        settings = replace(self.settings, **changes)
        self.check(settings)
        self.settings = settings
        self.say("  " + ", ".join(f"{k} {v!r}" for k, v in changes.items()))

    def _temperature(self, arg: str) -> None:
        self._set(temperature=_number(arg, float, "/temperature T"))

    def _top_p(self, arg: str) -> None:
        self._set(top_p=None if arg == "off" else _number(arg, float, "/top-p P or off"))

    def _top_k(self, arg: str) -> None:
        self._set(top_k=None if arg == "off" else _number(arg, int, "/top-k K or off"))

    def _length(self, arg: str) -> None:
        length = _number(arg, int, "/length N")
        if length < 1:
            raise CharRNNError("/length needs N >= 1")
        self._set(length=length)

    def _stop(self, arg: str) -> None:
        self._set(stop=[] if arg in ("", "off") else [unescape(arg)])

    def _particles(self, arg: str) -> None:
        asked = None if arg == "auto" else _number(arg, int, "/particles N or auto")
        self._set(particles=asked)

    def _beam(self, arg: str) -> None:
        width = _number(arg or "8", int, "/beam W")
        (text, score), = self.session.beam(self.settings.length, width=width,
                                           stop=self.settings.stop)
        self.session.feed(text)
        self.say(f"{self.lm.vocab.display(text)}\n  [beam {width}: log-probability {score:.2f}]")

    def _suggest(self, arg: str) -> None:
        k = _number(arg or "5", int, "/suggest K")
        if not 1 <= k <= 20:
            raise CharRNNError("/suggest needs K between 1 and 20")
        options = self.session.suggest(k, min(self.settings.length, 80),
                                       **self.settings.sampling())
        for i, text in enumerate(options, 1):
            self.say(f"  {i}: {self.lm.vocab.display(text)!r}")
        choice = ""
        with contextlib.suppress(EOFError, KeyboardInterrupt):
            choice = input(f"pick 1-{k} (Enter: none): ").strip()
        if not choice:
            return
        if not (choice.isdigit() and 1 <= int(choice) <= k):
            raise CharRNNError(f"pick a number 1-{k}; nothing was added")
        self.session.feed(options[int(choice) - 1])
        self._show("")

    def _label(self, arg: str) -> None:
        if not arg:
            labels = self.lm.record.text_format.labelled("there is no label to write as")
            current = self.session.label or self.lm.default_label
            self.say(f"  labels: {', '.join(labels)}; writing as {current}")
            return
        self.session = self.lm.session(self.session.text, label=arg,
                                       constraints=self.session.constraints)
        self.say(f"  writing as {arg} from here (the text so far is read again under it)")

    def _undo(self, arg: str) -> None:
        taken = self.session.undo(_number(arg or "1", int, "/undo [N]"))
        self.say(f"  undid {taken}; the text now ends: {self._tail()!r}")

    def _reset(self, arg: str) -> None:
        self.session.reset()
        self.say("  back to the prime (/undo brings the text back)")

    def _show(self, arg: str) -> None:
        self.say(self.lm.vocab.display(self.session.text))

    def _save(self, arg: str) -> None:
        if not arg:
            raise CharRNNError("/save needs a file name")
        path = Path(arg).expanduser().resolve()
        if path.exists() and path not in self.saved:
            raise CharRNNError(f"{arg} exists and was not written by this session; "
                               "choose another name")
        from charrnn.atomic import write_atomic

        try:
            write_atomic(path, self.session.text.encode("utf-8", "surrogateescape"))
        except OSError as err:
            raise CharRNNError(f"cannot write {arg}: {err.strerror}") from None
        self.saved.add(path)
        self.say(f"  saved {len(self.session.text):,} characters to {arg}")

    def _help(self, arg: str) -> None:
        self.say(HELP)

    def _words(self, arg: str) -> None:
        k = _number(arg or "5", int, "/words [K]")
        found = self.lm.next_words(self.session.text, k, label=self.session.label)
        for word, probability in found:
            self.say(f"  {self.lm.vocab.display(word):<16} {probability:7.2%}")
        if len(found) < k:
            self.say(f"  (only {len(found)} word(s) can follow here)")

    # the constraints: each command changes one field of the session's Constraints

    def _constrain(self, **changes) -> None:
        """The session's constraints with `changes`, kept only if they are valid and a
        continuation of the current length can meet them; then those in force."""
        before = self.session.constraints
        self.session.constraints = replace(before, **changes)  # (validates)
        try:
            self.check(self.settings)
        except CharRNNError:
            self.session.constraints = before
            raise
        self._constraints("")

    def _include(self, arg: str) -> None:
        self._constrain(include=_word_list(arg, "/include WORD..."))

    def _exclude(self, arg: str) -> None:
        self._constrain(exclude=_word_list(arg, "/exclude WORD..."))

    def _ban(self, arg: str) -> None:
        self._constrain(ban_chars="" if arg == "off" else unescape(_given(arg, "/ban CHARS")))

    def _pattern(self, arg: str) -> None:
        self._constrain(pattern="" if arg == "off" else _given(arg, "/pattern REGEX"))

    def _words_only(self, arg: str) -> None:
        if arg == "off":
            self._constrain(words_only=False, new_words=0.0)
        else:
            self._constrain(words_only=True,
                            new_words=_number(arg or "0", float, "/words-only [SHARE]"))

    def _syllables(self, arg: str) -> None:
        counts = "" if arg == "off" else _given(arg, "/syllables N,N,...")
        self._constrain(syllables=syllable_counts(counts))

    def _rhyme(self, arg: str) -> None:
        self._constrain(rhyme="" if arg == "off" else _given(arg, "/rhyme SCHEME"))

    def _acrostic(self, arg: str) -> None:
        self._constrain(acrostic="" if arg == "off" else _given(arg, "/acrostic WORD"))

    def _in_order(self, arg: str) -> None:
        self._constrain(in_order=_switch(arg, "/in-order on|off"))

    def _ignore_case(self, arg: str) -> None:
        self._constrain(ignore_case=_switch(arg, "/ignore-case on|off"))

    def _constraints(self, arg: str) -> None:
        if arg == "off":
            self.session.constraints = Constraints()
        elif arg:
            raise CharRNNError(f"usage: /constraints [off] (not {arg!r})")
        asked = self.session.constraints.to_dict()
        self.say("  constraints: " + (", ".join(f"{k} {v!r}" for k, v in asked.items())
                                      or "none"))

    def _tail(self) -> str:
        return self.lm.vocab.display(self.session.text[-40:])


def _number(text: str, kind: type, usage: str):
    try:
        return kind(text)
    except ValueError:
        raise CharRNNError(f"usage: {usage} (not {text!r})") from None


def _given(text: str, usage: str) -> str:
    if not text:
        raise CharRNNError(f"usage: {usage} or off")
    return text


def _word_list(text: str, usage: str) -> tuple[str, ...]:
    return () if text == "off" else tuple(_given(text, usage).split())


def _switch(text: str, usage: str) -> bool:
    if text not in ("on", "off"):
        raise CharRNNError(f"usage: {usage} (not {text!r})")
    return text == "on"


@one_line_errors
@with_constraints
def write(
    checkpoint: CheckpointOption = None,
    prime: PrimeOption = "",
    temperature: Annotated[float, typer.Option(
        help="Starting temperature (/temperature changes it).")] = DEFAULT_SAMPLE.temperature,
    length: Annotated[int, typer.Option(
        help="Characters per continuation (/length changes it).")] = 200,
    label: LabelOption = None,
    particles: ParticlesOption = None,
    weights: WeightsOption = "fp32",
    constraints: Constraints = DEFAULT_CONSTRAINTS,
) -> None:
    """Write with the model: type text, and it continues the story (/help in the session).
    The constraint options start the session with those rules (/constraints changes them)."""
    import signal

    with contextlib.suppress(ImportError):  # without it, input() still reads lines
        import readline  # noqa: F401  (line editing and history for input())

    # Ctrl-C must stop a generation even when started where SIGINT is ignored (a
    # background job of a script), which Python would otherwise keep ignoring
    signal.signal(signal.SIGINT, signal.default_int_handler)

    from charrnn.interface.options import load_model

    lm = load_model(checkpoint, weights)
    settings = Settings(temperature=temperature, length=length, particles=particles)
    if length < 1:
        raise CharRNNError(f"--length must be >= 1, not {length}")
    writer = Writer(lm, prime, settings, label=label)
    writer.session.constraints = constraints
    writer.check(settings)
    writer.say("charrnn write: type text and press Enter to continue it; /help for commands")
    writer.run()
