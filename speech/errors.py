"""The one exception hierarchy of the ``speech`` package."""


class SpeechError(Exception):
    """Base of every error raised by the speech package."""


class ProtocolError(SpeechError):
    """A Media Streams message that is not valid JSON or lacks what its event needs."""


class TtsError(SpeechError):
    """A prompt could not be rendered to audio (no such voice, empty text, the synthesizer failed)."""


class RenderTimeout(TtsError):
    """The synthesizer did not answer in time; its process was stopped and is started again on next use."""


class WavError(SpeechError):
    """Bytes that are not a WAV file the package can read (or not the mu-law WAV it writes, where that is asked)."""
