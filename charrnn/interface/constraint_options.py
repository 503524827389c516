"""The constraint options, declared once for every command that generates text.

`with_constraints` adds them to a command's signature (Typer reads the signature) and
hands the command one checked `Constraints` instead, so `sample` and `beam` cannot drift
apart, and the defaults are the dataclass's own.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Annotated

import typer

from charrnn.config import MAX_INCLUDED, MAX_LINES, Constraints, setting_error
from charrnn.data.reading import read_word_list
from charrnn.interface.options import unescape

DEFAULT = Constraints()
PANEL = "Constraints"
_KW = inspect.Parameter.KEYWORD_ONLY


def _option(help_text: str, **more) -> typer.models.OptionInfo:
    return typer.Option(help=help_text, rich_help_panel=PANEL, **more)


def syllable_counts(text: str) -> tuple[int, ...]:
    """'5,7,5' as (5, 7, 5); anything else is one error naming --syllables."""
    try:
        return tuple(int(part) for part in text.split(",")) if text.strip() else ()
    except ValueError:
        raise setting_error(f"syllables takes whole numbers separated by commas, like "
                            f"5,7,5, not {text!r}") from None


OPTIONS: dict[str, tuple[type, object]] = {  # name: (annotated type, default)
    "include": (Annotated[list[str] | None, _option(
        f"A whole word every text must hold (repeatable; at most {MAX_INCLUDED}).",
        show_default=False)], None),
    "in_order": (Annotated[bool, _option("The --include words appear in the order given.")],
                 DEFAULT.in_order),
    "exclude": (Annotated[list[str] | None, _option(
        "A whole word no text may hold (repeatable).", show_default=False)], None),
    "exclude_file": (Annotated[Path | None, _option(
        "A file of words no text may hold (separated by white space; at most 100,000).",
        show_default=False)], None),
    "ignore_case": (Annotated[bool, _option(
        "--include, --exclude and --ban-chars match whatever their case (a strict "
        "lipogram: --ban-chars e --ignore-case).")], DEFAULT.ignore_case),
    "ban_chars": (Annotated[str, _option(
        "Characters no text may hold (a lipogram: --ban-chars e).")], DEFAULT.ban_chars),
    "pattern": (Annotated[str, _option(
        "A regular expression (Python syntax) every whole text matches, e.g. "
        "'\\d{4}-\\d{2}-\\d{2}'.", metavar="REGEX")], DEFAULT.pattern),
    "words_only": (Annotated[bool, _option(
        "Write only words of the model's training text (compared lowercased).")],
        DEFAULT.words_only),
    "new_words": (Annotated[float, _option(
        "With --words-only: at most this share of a text's words may be other words "
        "(at most 0.5).", metavar="SHARE")], DEFAULT.new_words),
    "syllables": (Annotated[str, _option(
        f"A verse: lines of these syllable counts, like 5,7,5 (at most {MAX_LINES} lines "
        "of 30).", metavar="N,N,...")], ""),
    "rhyme": (Annotated[str, _option(
        "A verse whose line ends rhyme by this scheme, like ABAB (lines of one letter "
        "rhyme).", metavar="SCHEME")], DEFAULT.rhyme),
    "acrostic": (Annotated[str, _option(
        "A verse whose line i starts with this word's i-th letter.", metavar="WORD")],
        DEFAULT.acrostic),
}


def constraints_of(include: list[str] | None = None, in_order: bool = False,
                   exclude: list[str] | None = None, exclude_file: Path | None = None,
                   ignore_case: bool = False, ban_chars: str = "", pattern: str = "",
                   words_only: bool = False, new_words: float = 0.0, syllables: str = "",
                   rhyme: str = "", acrostic: str = "") -> Constraints:
    """The options as one checked `Constraints` (an --exclude-file's words join
    --exclude's; escapes like \\n in --ban-chars are understood)."""
    listed = read_word_list(exclude_file, "exclude") if exclude_file else ()
    return Constraints(tuple(include or ()), (*(exclude or ()), *listed), unescape(ban_chars),
                       in_order, ignore_case, pattern, words_only, new_words,
                       syllable_counts(syllables), rhyme, acrostic).validate()


def with_constraints(command):
    """`command` (which takes `constraints`) as a Typer command taking the options."""
    signature = inspect.signature(command, eval_str=True)  # (Typer reads it as it is)
    own = [p for p in signature.parameters.values() if p.name != "constraints"]
    added = [inspect.Parameter(name, _KW, default=default, annotation=kind)
             for name, (kind, default) in OPTIONS.items()]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        given = {name: kwargs.pop(name) for name in OPTIONS if name in kwargs}
        return command(*args, constraints=constraints_of(**given), **kwargs)

    wrapper.__signature__ = signature.replace(
        parameters=[*(p.replace(kind=_KW) for p in own), *added])
    wrapper.__annotations__ = {p.name: p.annotation for p in (*own, *added)}
    return wrapper
