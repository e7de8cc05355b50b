"""Prompts rendered to telephone audio with pyttsx3 (espeak-ng on Linux): text in, 8 kHz mu-law out.

pyttsx3 runs in a child process that a :class:`Synthesizer` owns and talks to over pipes, never in the calling
process, because measured here:

- espeak-ng synthesizes on a thread of its own; a process that forks after using it (a gunicorn or RQ parent)
  leaves the child without that thread, and the child's ``runAndWait`` waits forever;
- pyttsx3 holds one process-wide espeak callback, so two threads rendering at once would mix their audio;
- ``runAndWait`` never returns for empty text, and a stuck synthesis must not hold a webhook;
- ``runAndWait`` can return before espeak-ng's thread has finished: under CPU load the file was missing or half
  written, and a voice or rate set for the next render came out at the previous setting about one time in ten.

So a child waits for pyttsx3's end-of-utterance event, not just ``runAndWait``, and speaks with one voice at one
rate, set once before its first render; one render runs at a time per
:class:`Synthesizer` (a lock), each with a deadline; a child that misses it is killed and a fresh one started on
the next render. A warm child renders a short prompt in about 11 ms; starting one costs about 85 ms. Run as
``python -m speech.tts VOICE RATE`` this module is that child.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import wave
import weakref
from importlib import metadata
from typing import Any

from speech.audio import TWILIO_RATE, Resampler, pcm_to_ulaw
from speech.errors import RenderTimeout, TtsError

DEFAULT_RATE = 165
MIN_RATE, MAX_RATE = 80, 450
DEFAULT_LANGUAGE = "en-US"


def _pyttsx3_version() -> str:
    try:
        return metadata.version("pyttsx3")
    except metadata.PackageNotFoundError:  # renders then fail with TtsError, and callers hear <Say>
        return "missing"


#: Part of every cache key: a change of engine, voice mapping or audio conversion renders everything anew.
RENDERER_VERSION = f"pyttsx3-{_pyttsx3_version()}/espeak-ng/ulaw8k/1"

#: espeak-ng voices named by language and region; any other tag falls back to its primary language.
_REGIONAL = frozenset({"en-us", "en-gb", "en-029", "es-419", "fr-be", "fr-ch", "pt-br", "vi-vn"})
#: How long the child waits for espeak-ng to finish one utterance (the parent's deadline is usually shorter).
RENDER_WAIT = 30.0
_ALIASES = {"zh": "cmn", "nb": "nb", "no": "nb", "iw": "he", "in": "id"}


def espeak_voice(language: str | None) -> str:
    """The espeak-ng voice for a flow language: ``en-US`` → ``en-us``, ``es-US`` → ``es``, ``ko-KR`` → ``ko``."""
    tag = (language or DEFAULT_LANGUAGE).strip().lower().replace("_", "-")
    if tag in _REGIONAL:
        return tag
    primary = tag.split("-")[0]
    return _ALIASES.get(primary, primary)


def check_rate(rate: int) -> int:
    """Speaking rate in words per minute, within what espeak-ng accepts."""
    if not MIN_RATE <= int(rate) <= MAX_RATE:
        raise TtsError(f"speaking rate {rate} is outside {MIN_RATE}..{MAX_RATE} words per minute")
    return int(rate)


def to_telephone(pcm: bytes, rate: int, sample_width: int = 2, channels: int = 1) -> bytes:
    """16-bit mono PCM at ``rate`` Hz to Twilio's 8 kHz mu-law."""
    if sample_width != 2 or channels != 1:
        raise TtsError(f"expected 16-bit mono audio, got {8 * sample_width}-bit x {channels}")
    return pcm_to_ulaw(Resampler(rate, TWILIO_RATE).convert(pcm))


class _Child:
    """One pyttsx3 process speaking with one voice at one rate, set before its first render and never changed."""

    def __init__(self, python: str, voice: str, rate: int, start_timeout: float):
        self.proc = subprocess.Popen([python, "-m", "speech.tts", voice, str(rate)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self.buffer = bytearray()
        try:
            ready = json.loads(self.read_line(time.monotonic() + start_timeout))
        except (TtsError, OSError, ValueError) as e:
            self.stop()
            raise TtsError(f"the synthesizer process did not start: {e}") from e
        if not ready.get("ok"):
            self.stop()
            raise TtsError(f"espeak-ng cannot speak with voice '{voice}': {ready.get('error')}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def render(self, text: str, timeout: float) -> bytes:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(text).encode() + b"\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        reply = json.loads(self.read_line(deadline))
        if not reply.get("ok"):
            raise TtsError(f"espeak-ng could not say it: {reply.get('error')}")
        return self.read_exact(int(reply["bytes"]), deadline)

    def stop(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def _fill(self, deadline: float) -> None:
        assert self.proc.stdout is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([self.proc.stdout], [], [], remaining)[0]:
            raise RenderTimeout("no answer from the synthesizer in time")
        chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
        if not chunk:
            raise TtsError("the synthesizer process exited")
        self.buffer += chunk

    def read_line(self, deadline: float) -> bytes:
        while (end := self.buffer.find(b"\n")) < 0:
            self._fill(deadline)
        line = bytes(self.buffer[:end])
        del self.buffer[:end + 1]
        return line

    def read_exact(self, size: int, deadline: float) -> bytes:
        while len(self.buffer) < size:
            self._fill(deadline)
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


class Synthesizer:
    """Renders text to 8 kHz mu-law through pyttsx3 child processes, one per espeak-ng voice and rate (started
    on first use, restarted after a failure or a fork). Thread-safe; one render at a time. ``timeout`` bounds
    each render in seconds."""

    def __init__(self, timeout: float = 5.0, start_timeout: float = 10.0, python: str = sys.executable):
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.python = python
        self._lock = threading.Lock()
        self._children: dict[tuple[str, int], _Child] = {}
        self._finalizer = weakref.finalize(self, _stop_all, self._children)
        ref = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: (ref() or (lambda: None))())

    def render(self, text: str, language: str | None = None, rate: int = DEFAULT_RATE) -> bytes:
        """Mu-law frames (8 kHz, mono) of ``text`` spoken by the espeak-ng voice for ``language``."""
        text = text.strip()
        if not text:
            raise TtsError("nothing to say: the text is empty")
        voice = (espeak_voice(language), check_rate(rate))
        with self._lock:
            child = self._children.get(voice)
            if child is None or not child.alive():
                if child is not None:
                    child.stop()
                child = self._children[voice] = _Child(self.python, *voice, self.start_timeout)
            try:
                audio = child.render(text, self.timeout)
            except (RenderTimeout, OSError, ValueError, TtsError) as e:
                if not isinstance(e, TtsError) or isinstance(e, RenderTimeout) or not child.alive():
                    child.stop()
                    del self._children[voice]
                if isinstance(e, TtsError):
                    raise
                raise TtsError(f"the synthesizer process failed: {e}") from e
        if not audio:
            raise TtsError(f"espeak-ng produced no audio for {text[:40]!r}")
        return audio

    def close(self) -> None:
        """Stop the child processes (they also stop by themselves when this process exits)."""
        with self._lock:
            _stop_all(self._children)

    def __enter__(self) -> "Synthesizer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _after_fork(self) -> None:
        # The child processes and the lock's state belong to the parent: start over without touching them.
        self._lock = threading.Lock()
        self._finalizer.detach()
        self._children = {}
        self._finalizer = weakref.finalize(self, _stop_all, self._children)


def _stop_all(children: dict[tuple[str, int], _Child]) -> None:
    """Stop every child process (also when a :class:`Synthesizer` is garbage-collected)."""
    for child in list(children.values()):
        child.stop()
    children.clear()


def _render_file(engine: Any, finished: threading.Event, text: str, path: str) -> bytes:
    finished.clear()
    engine.save_to_file(text, path)
    engine.runAndWait()
    # runAndWait can return before espeak-ng's thread has written the file (seen under CPU load: a missing or
    # half-written file); pyttsx3 announces the end of the utterance once the file is closed.
    if not finished.wait(RENDER_WAIT):
        raise TtsError("espeak-ng did not finish the utterance")
    with wave.open(path, "rb") as w:
        audio = to_telephone(w.readframes(w.getnframes()), w.getframerate(), w.getsampwidth(), w.getnchannels())
    os.unlink(path)
    return audio


def _serve(voice: str, rate: int) -> None:
    """The child: one JSON string per line on stdin, a JSON reply line (and the audio) on stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent; we stop at end of input
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # pyttsx3 prints "Audio saved to ..." on every file

    def reply(message: dict[str, object], audio: bytes = b"") -> None:
        out.write(json.dumps(message).encode() + b"\n" + audio)

    try:
        import pyttsx3
        engine = pyttsx3.init("espeak")
        # espeak-ng keeps its previous voice when asked for one it lacks: check the name against what it has.
        voices = {v.id.split("/")[-1] for v in engine.getProperty("voices")}
        voices |= {lang.lower() for v in engine.getProperty("voices") for lang in v.languages}
        if voice not in voices:
            raise TtsError(f"espeak-ng has no voice '{voice}'")
        engine.setProperty("voice", voice)
        engine.setProperty("rate", rate)
        finished = threading.Event()
        engine.connect("finished-utterance", lambda **_: finished.set())
    except Exception as e:  # no library, espeak-ng cannot start, or no such voice: say why, then stop
        reply({"ok": False, "error": f"{type(e).__name__}: {e}"})
        return
    reply({"ok": True, "renderer": RENDERER_VERSION})
    with tempfile.TemporaryDirectory(prefix="ivr-tts-") as tmp:
        path = os.path.join(tmp, "prompt.wav")
        for line in sys.stdin.buffer:
            try:
                audio = _render_file(engine, finished, json.loads(line), path)
            except Exception as e:
                reply({"ok": False, "error": f"{type(e).__name__}: {e}"})
                continue
            reply({"ok": True, "bytes": len(audio)}, audio)


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
