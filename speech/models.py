"""Vosk models: found, not downloaded at run time. Installed model packages (``vosk_model_<lang>`` from PyPI)
and model directories under ``IVR_SPEECH_MODELS_DIR`` (as unpacked from an official archive, for example
``vosk-model-small-en-us-0.15``) are discovered; each is loaded once per process and shared by every stream."""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speech.errors import SpeechError

_DIR_NAME = re.compile(r"^vosk-model-(?:small-)?([a-z]{2,3}(?:-[a-z]{2,4})?)(?:-[\w.]+)?$")


@dataclass(frozen=True)
class ModelInfo:
    """An installed model: its language code (``ko``, ``en-us``), where it lives and how it was found."""

    language: str
    path: Path
    source: str

    def serves(self, language: str) -> bool:
        """Does this model recognize a flow language such as ``ko-KR`` or ``en-US``?"""
        wanted = language.lower().replace("_", "-")
        return wanted == self.language or wanted.split("-")[0] == self.language.split("-")[0]


def _is_model(path: Path) -> bool:
    return (path / "am").is_dir() and (path / "conf").is_dir()


def discover(models_dir: str | Path | None = None) -> list[ModelInfo]:
    """Every model this machine has: PyPI model packages first, then directories in ``models_dir``."""
    found: list[ModelInfo] = []
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if not name.startswith("vosk-model-"):
            continue
        module_name = name.replace("-", "_")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        root = Path(module.__file__ or "").parent
        path = root / "model" if _is_model(root / "model") else root
        if _is_model(path):
            found.append(ModelInfo(name[len("vosk-model-"):], path, f"package {dist.metadata['Name']} {dist.version}"))
    if models_dir and Path(models_dir).is_dir():
        for child in sorted(Path(models_dir).iterdir()):
            match = _DIR_NAME.match(child.name)
            if match and child.is_dir() and _is_model(child):
                found.append(ModelInfo(match.group(1), child, f"directory {child}"))
    return found


#: Models loaded by this process, by path: shared by every registry, stream and job of the process.
_LOADED: dict[Path, Any] = {}
_LOAD_LOCK = threading.Lock()
#: How long the list of installed models is trusted before looking again (a model may be installed meanwhile).
DISCOVERY_TTL = 60.0


class ModelRegistry:
    """Loads each language's model at most once per process (loading takes seconds and hundreds of MB)."""

    def __init__(self, models_dir: str | Path | None = None):
        self.models_dir = models_dir
        self._found: tuple[float, list[ModelInfo]] | None = None

    def installed(self) -> list[ModelInfo]:
        """The models on this machine (looked up again at most every :data:`DISCOVERY_TTL` seconds)."""
        now = time.monotonic()
        if self._found is None or now - self._found[0] > DISCOVERY_TTL:
            self._found = (now, discover(self.models_dir))
        return self._found[1]

    def info(self, language: str) -> ModelInfo | None:
        return next((m for m in self.installed() if m.serves(language)), None)

    def serves(self, language: str) -> bool:
        """Is there a model for ``language`` (so its prompts can listen for speech)?"""
        return self.info(language) is not None

    def get(self, language: str) -> Any:
        """The ``vosk.Model`` for ``language``; :class:`SpeechError` when none is installed."""
        info = self.info(language)
        if info is None:
            raise SpeechError(f"no speech model for {language}: install one (for example the PyPI package "
                              f"vosk-model-{language.split('-')[0].lower()}) or put it in IVR_SPEECH_MODELS_DIR")
        with _LOAD_LOCK:
            model = _LOADED.get(info.path)
            if model is None:
                import vosk
                vosk.SetLogLevel(-1)
                model = vosk.Model(str(info.path))
                _LOADED[info.path] = model
            return model
