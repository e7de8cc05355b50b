"""The one exception hierarchy of the ``speech`` package."""


class SpeechError(Exception):
    """Base of every error raised by the speech package."""


class ProtocolError(SpeechError):
    """A Media Streams message that is not valid JSON or lacks what its event needs."""
