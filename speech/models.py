"""Vosk models: found, never downloaded at run time. Installed model packages (``vosk_model_<lang>`` from PyPI)
and model directories under the models directory (``IVR_SPEECH_MODELS_DIR``, else a per-user data directory;
``ivr speech download`` puts official archives there, for example ``vosk-model-small-en-us-0.15``) are
discovered; each is loaded once per process and shared by every stream."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from speech.errors import SpeechError

_DIR_NAME = re.compile(r"^vosk-model-(?:small-)?([a-z]{2,3}(?:-[a-z]{2,4})?)(?:-[\w.-]+)?$")
#: Written into each downloaded model directory: what the catalogue said about it (language, name, checksum).
METADATA_FILE = "ivr-model.json"
#: Flow languages (BCP 47) whose Vosk catalogue code differs.
LANGUAGE_ALIASES: Mapping[str, str] = {"zh": "cn", "uk": "ua", "vi": "vn"}


def default_models_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$IVR_SPEECH_MODELS_DIR``, else ``$XDG_DATA_HOME/ivr/speech-models`` (``~/.local/share/...``)."""
    env = os.environ if env is None else env
    if env.get("IVR_SPEECH_MODELS_DIR"):
        return Path(env["IVR_SPEECH_MODELS_DIR"]).expanduser()
    data_home = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "ivr" / "speech-models"


def vosk_language(language: str) -> str:
    """A flow language (``en-US``, ``zh-CN``, ``ko``) as Vosk's catalogue spells it (``en-us``, ``cn``, ``ko``)."""
    wanted = language.strip().lower().replace("_", "-")
    return LANGUAGE_ALIASES.get(wanted.split("-")[0], wanted)


@dataclass(frozen=True)
class ModelInfo:
    """An installed model: its language code (``ko``, ``en-us``), where it lives and how it was found."""

    language: str
    path: Path
    source: str

    def serves(self, language: str) -> bool:
        """Does this model recognize a flow language such as ``ko-KR`` or ``en-US``?"""
        wanted = vosk_language(language)
        return wanted == self.language or wanted.split("-")[0] == self.language.split("-")[0]

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


def is_model(path: Path) -> bool:
    """A Vosk model directory has at least ``am/`` and ``conf/``."""
    return (path / "am").is_dir() and (path / "conf").is_dir()


def _directory_model(child: Path) -> ModelInfo | None:
    if not child.is_dir() or not is_model(child):
        return None
    try:
        meta = json.loads((child / METADATA_FILE).read_text(encoding="utf-8"))
        language = str(meta["lang"]).lower()
        return ModelInfo(language, child, f"downloaded {meta.get('name') or child.name}")
    except (OSError, ValueError, KeyError, TypeError):
        match = _DIR_NAME.match(child.name)
        return ModelInfo(match.group(1), child, f"directory {child}") if match else None


def discover(models_dir: str | Path | None = None) -> list[ModelInfo]:
    """Every model this machine has: PyPI model packages first, then directories in ``models_dir`` (default:
    :func:`default_models_dir`)."""
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
        path = root / "model" if is_model(root / "model") else root
        if is_model(path):
            found.append(ModelInfo(name[len("vosk-model-"):], path, f"package {dist.metadata['Name']} {dist.version}"))
    directory = Path(models_dir) if models_dir else default_models_dir()
    if directory.is_dir():
        for child in sorted(directory.iterdir()):
            info = _directory_model(child)
            if info is not None:
                found.append(info)
    return found


#: Models loaded by this process, by path: shared by every registry, stream and job of the process.
_LOADED: dict[Path, Any] = {}
_LOAD_LOCK = threading.Lock()
#: How long the list of installed models is trusted before looking again (a model may be installed meanwhile).
DISCOVERY_TTL = 60.0


class ModelRegistry:
    """Loads each model at most once per process (loading takes seconds and hundreds of MB): the loaded models
    are shared by every registry of the process, whichever models directory it looks in."""

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
        """The installed model serving ``language`` (an exact language match before a same-family one)."""
        models = [m for m in self.installed() if m.serves(language)]
        exact = [m for m in models if m.language == vosk_language(language)]
        return (exact or models or [None])[0]

    def serves(self, language: str) -> bool:
        """Is there a model for ``language`` (so its prompts can listen for speech)?"""
        return self.info(language) is not None

    def get(self, language: str) -> Any:
        """The ``vosk.Model`` for ``language``; :class:`SpeechError` when none is installed."""
        info = self.info(language)
        if info is None:
            raise SpeechError(f"no speech model for {language}: install one (for example the PyPI package "
                              f"vosk-model-{language.split('-')[0].lower()}, or 'ivr speech download "
                              f"{language}') or put it in IVR_SPEECH_MODELS_DIR")
        with _LOAD_LOCK:
            model = _LOADED.get(info.path)
            if model is None:
                import vosk
                vosk.SetLogLevel(-1)
                model = vosk.Model(str(info.path))
                _LOADED[info.path] = model
            return model
