"""The one error family the library raises; the CLI turns each into a single stderr line.

Messages speak of settings by their field names (`max_chars`), so that each interface can
say them in its own terms: `--max-chars` on the command line, `/max-chars` in `charrnn
write`, `max_chars` in a JSON request. A message names its own setting first (`field`)
and any other in backticks; `in_terms` rewrites both.
"""

import re
from collections.abc import Callable

_MENTION = re.compile(r"`([a-z][a-z0-9_]*)`")


def in_terms(message: str, name: Callable[[str], str], field: str | None = None) -> str:
    """`message` with each setting it names said as `name(setting)`: its leading
    `field`, and every other setting it writes in backticks."""
    if field and message.startswith(field):
        message = name(field) + message[len(field):]
    return _MENTION.sub(lambda m: name(m.group(1)), message)


class CharRNNError(Exception):
    """A problem the user can fix; its message fits on one line. `field`, when given,
    is the setting at fault by its field name, which starts the message."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field

    def in_terms_of(self, name: Callable[[str], str]) -> str:
        """The message with each setting it names said as `name(setting)`."""
        return in_terms(str(self), name, self.field)


class ConfigError(CharRNNError):
    """An option value that makes no sense (negative temperature, width 0, ...)."""


class CorpusError(CharRNNError):
    """A corpus that cannot be read or trained on."""


class VocabError(CharRNNError):
    """Text with characters the model's vocabulary does not contain."""


class CheckpointError(CharRNNError):
    """A checkpoint that is missing, corrupt, foreign or hostile."""
