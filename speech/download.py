"""Official Vosk models, downloaded on request (``ivr speech download LANG``), never at run time.

The catalogue is Vosk's ``model-list.json`` (``IVR_VOSK_MODELS_URL`` points elsewhere, for a mirror or a test
server): one entry per model with its name, language, type (``small``, ``big``...), whether it is obsolete, the
archive's URL, size and MD5. The archive is streamed to a temporary file beside the target, checked against the
catalogue's size and MD5, unpacked member by member into a temporary directory (no member may land outside it),
and renamed into place in one step, so :func:`speech.models.discover` sees either the whole model or nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urljoin

import requests

from speech.errors import SpeechError
from speech.models import METADATA_FILE, is_model, vosk_language

CATALOGUE_URL = "https://alphacephei.com/vosk/models/model-list.json"
#: Model types that recognize speech (the catalogue also lists speaker-identification and other models).
RECOGNITION_TYPES = ("small", "big", "big-lgraph")
CHUNK_BYTES = 256 * 1024
#: An archive unpacking to more than this many times its own size is refused (a zip bomb, not a model).
MAX_EXPANSION = 20
TIMEOUT = (10, 60)


class DownloadError(SpeechError):
    """The catalogue or a model archive could not be fetched, checked or unpacked."""


class UnknownLanguage(DownloadError):
    """No model in the catalogue serves the language (the message lists the languages that have one)."""


class UnknownModel(DownloadError):
    """``--name`` names no model in the catalogue."""


class ChecksumMismatch(DownloadError):
    """The archive's size or MD5 differs from the catalogue's; the download was deleted."""


class UnsafeArchive(DownloadError):
    """An archive member would be written outside the target directory, or the archive is not a model."""


@dataclass(frozen=True)
class CatalogueModel:
    """One entry of Vosk's ``model-list.json``."""

    name: str
    lang: str
    lang_text: str
    version: str
    type: str
    obsolete: bool
    url: str
    size: int
    size_text: str
    md5: str

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], base_url: str) -> "CatalogueModel":
        return cls(name=str(raw["name"]), lang=str(raw["lang"]).lower(), lang_text=str(raw.get("lang_text", "")),
                   version=str(raw.get("version", "")), type=str(raw.get("type", "")),
                   obsolete=str(raw.get("obsolete", "false")).lower() == "true",
                   url=urljoin(base_url, str(raw["url"])), size=int(raw.get("size") or 0),
                   size_text=str(raw.get("size_text", "")), md5=str(raw.get("md5", "")).lower())


def catalogue_url(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("IVR_VOSK_MODELS_URL") or CATALOGUE_URL


def fetch_catalogue(url: str | None = None, session: requests.Session | None = None) -> list[CatalogueModel]:
    """Every model listed by the catalogue at ``url`` (default: :func:`catalogue_url`)."""
    url = url or catalogue_url()
    http = session or requests.Session()
    try:
        response = http.get(url, timeout=TIMEOUT)
        response.raise_for_status()
        entries = response.json()
    except requests.RequestException as e:
        raise DownloadError(f"cannot fetch the model catalogue {url}: {e}") from e
    except ValueError as e:
        raise DownloadError(f"the model catalogue {url} is not JSON: {e}") from e
    if not isinstance(entries, list):
        raise DownloadError(f"the model catalogue {url} is not a list of models")
    models = []
    for raw in entries:
        try:
            models.append(CatalogueModel.from_json(raw, url))
        except (KeyError, TypeError, ValueError):
            continue  # an entry we cannot use is no reason to refuse the others
    return models


def _version_key(model: CatalogueModel) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", model.version))


def choose(models: Iterable[CatalogueModel], language: str, *, name: str | None = None,
           big: bool = False) -> CatalogueModel:
    """The model to install for ``language``: the one called ``name`` if given; otherwise the newest current
    small model (``big``: the newest big one) of the language, an exact match (``en-us``) before a same-family one
    (``en`` finds ``en-us`` first, then other English models)."""
    models = list(models)
    if name:
        match = next((m for m in models if m.name == name), None)
        if match is None:
            raise UnknownModel(f"no model named {name} in the catalogue")
        return match
    wanted = vosk_language(language)
    usable = [m for m in models if not m.obsolete and m.type in RECOGNITION_TYPES]
    family = [m for m in usable if m.lang.split("-")[0] == wanted.split("-")[0]]
    if not family:
        known = sorted({m.lang for m in usable})
        raise UnknownLanguage(f"no Vosk model for {language}; the catalogue has: {', '.join(known) or 'nothing'}")
    sized = [m for m in family if (m.type != "small") == big] or family
    primary = wanted.split("-")[0]
    return max(sized, key=lambda m: (m.lang == wanted, m.lang == primary, m.lang == f"{primary}-us",
                                     _version_key(m)))


def download(model: CatalogueModel, models_dir: str | Path, *, session: requests.Session | None = None,
             on_progress: Callable[[int], None] | None = None) -> Path:
    """Fetch, check and unpack ``model`` into ``models_dir``; returns the model directory. ``on_progress`` gets
    the number of bytes of each chunk received. A model already installed there is left as it is."""
    target = Path(models_dir) / model.name
    if is_model(target):
        return target
    try:
        return _download(model, target, session or requests.Session(), on_progress)
    except OSError as e:
        raise DownloadError(f"cannot install {model.name} in {target.parent}: {e}") from e


def _download(model: CatalogueModel, target: Path, session: requests.Session,
              on_progress: Callable[[int], None] | None) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, archive_name = tempfile.mkstemp(prefix=f".{model.name}-", suffix=".zip.part", dir=target.parent)
    archive = Path(archive_name)
    try:
        with os.fdopen(fd, "wb") as out:
            received, digest = _fetch(model, out, session, on_progress)
        if model.size and received != model.size:
            raise ChecksumMismatch(f"{model.name}: received {received} bytes, the catalogue says {model.size}; "
                                   "the download was deleted")
        if model.md5 and digest != model.md5:
            raise ChecksumMismatch(f"{model.name}: MD5 {digest} does not match the catalogue's {model.md5}; "
                                   "the download was deleted")
        return _install(model, archive, target)
    finally:
        archive.unlink(missing_ok=True)


def _fetch(model: CatalogueModel, out: Any, http: requests.Session,
           on_progress: Callable[[int], None] | None) -> tuple[int, str]:
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    try:
        with http.get(model.url, stream=True, timeout=TIMEOUT) as response:
            response.raise_for_status()
            for chunk in response.iter_content(CHUNK_BYTES):
                received += len(chunk)
                if model.size and received > model.size:
                    raise ChecksumMismatch(f"{model.name}: the server sent more than the catalogue's "
                                           f"{model.size} bytes; the download was deleted")
                digest.update(chunk)
                out.write(chunk)
                if on_progress is not None:
                    on_progress(len(chunk))
    except requests.RequestException as e:
        raise DownloadError(f"cannot download {model.url}: {e}") from e
    return received, digest.hexdigest()


def _install(model: CatalogueModel, archive: Path, target: Path) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=f".{model.name}-", suffix=".unpack", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                safe_extract(zf, staging, limit=max(archive.stat().st_size, 1) * MAX_EXPANSION)
        except zipfile.BadZipFile as e:
            raise UnsafeArchive(f"{model.name}: not a zip archive ({e})") from e
        root = _model_root(staging)
        if root is None:
            raise UnsafeArchive(f"{model.name}: the archive holds no Vosk model (am/ and conf/)")
        (root / METADATA_FILE).write_text(json.dumps(
            {"name": model.name, "lang": model.lang, "lang_text": model.lang_text, "version": model.version,
             "type": model.type, "url": model.url, "md5": model.md5}, indent=2), encoding="utf-8")
        try:
            root.rename(target)
        except OSError:
            if is_model(target):  # another download of the same model finished first
                return target
            raise
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _model_root(staging: Path) -> Path | None:
    """The archive's model directory: its single top-level directory (official archives), or its root."""
    if is_model(staging):
        return staging
    children = [c for c in staging.iterdir() if c.is_dir()]
    return children[0] if len(children) == 1 and is_model(children[0]) else None


def safe_extract(zf: zipfile.ZipFile, destination: Path, *, limit: int | None = None) -> None:
    """Unpack every member of ``zf`` under ``destination``; :class:`UnsafeArchive` (before anything is written)
    for an absolute path, a ``..`` step, a symbolic link, or more than ``limit`` bytes in total."""
    destination = destination.resolve()
    members = zf.infolist()
    total = 0
    for info in members:
        name = info.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        mode = info.external_attr >> 16
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
            raise UnsafeArchive(f"archive member {info.filename!r} would be written outside {destination}")
        if stat.S_ISLNK(mode):
            raise UnsafeArchive(f"archive member {info.filename!r} is a symbolic link")
        if not (destination / name).resolve().is_relative_to(destination):
            raise UnsafeArchive(f"archive member {info.filename!r} would be written outside {destination}")
        total += info.file_size
    if limit is not None and total > limit:
        raise UnsafeArchive(f"the archive would unpack to {total} bytes, more than {limit}")
    for info in members:
        path = destination / info.filename.replace("\\", "/")
        if info.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(path, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK_BYTES)
