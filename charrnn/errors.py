"""The one error family the library raises; the CLI turns each into a single stderr line."""


class CharRNNError(Exception):
    """A problem the user can fix; its message fits on one line. `field`, when given,
    is the setting at fault by its field name, which starts the message: each interface
    says it in its own terms (`--max-chars` on the command line, the JSON field in the
    server) with `in_terms_of`."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field

    def in_terms_of(self, name: str) -> str:
        """The message with its field called `name`."""
        message = str(self)
        if self.field and message.startswith(self.field):
            return name + message[len(self.field):]
        return message


class ConfigError(CharRNNError):
    """An option value that makes no sense (negative temperature, width 0, ...)."""


class CorpusError(CharRNNError):
    """A corpus that cannot be read or trained on."""


class VocabError(CharRNNError):
    """Text with characters the model's vocabulary does not contain."""


class CheckpointError(CharRNNError):
    """A checkpoint that is missing, corrupt, foreign or hostile."""
