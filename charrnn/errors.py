"""The one error family the library raises; the CLI turns each into a single stderr line."""


class CharRNNError(Exception):
    """A problem the user can fix; its message fits on one line."""


class ConfigError(CharRNNError):
    """An option value that makes no sense (negative temperature, width 0, ...)."""


class CorpusError(CharRNNError):
    """A corpus that cannot be read or trained on."""


class VocabError(CharRNNError):
    """Text with characters the model's vocabulary does not contain."""


class CheckpointError(CharRNNError):
    """A checkpoint that is missing, corrupt, foreign or hostile."""
