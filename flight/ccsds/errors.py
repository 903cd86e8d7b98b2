"""The one exception of the codecs: bytes that do not decode."""


class DecodeError(ValueError):
    """Bytes that are not a valid encoding; the message says which field and why."""
