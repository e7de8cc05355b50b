"""Checking flows as ``ivr flows check`` and the supervisor console do: every error, or a valid bundle's warnings.

Errors come from compiling the bundle (:func:`ivr.flowlang.compile.load_bundle`); a valid bundle gets a warning for
each flow that listens for speech in a language no installed speech model serves
(:func:`ivr.flowlang.speechcheck.model_warnings`). Diagnostics are sorted by file, line, path and message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from ivr.errors import Diagnostic, FlowError
from ivr.flowlang.compile import load_bundle
from ivr.flowlang.sources import read_paths
from ivr.flowlang.speechcheck import model_warnings
from speech.models import discover


def check_files(paths: Sequence[str | Path], *, models_dir: str | Path | None = None) -> list[Diagnostic]:
    """Diagnostics for the given files or directories (empty when valid); used by ``ivr flows check``.

    Besides errors, a valid bundle gets a warning for each flow that listens for speech in a language no
    installed speech model (package, or directory in ``models_dir``) serves: such a flow works by keys only.
    """
    sources, diagnostics = read_paths(paths)
    if not sources and not diagnostics:
        diagnostics.append(Diagnostic(".", 1, "", "no flow files found"))
    if sources:
        diagnostics.extend(check_sources(sources, models_dir=models_dir))
    return sorted(diagnostics, key=lambda d: (d.file, d.line, d.path, d.message))


def check_sources(sources: Mapping[str, str], *, models_dir: str | Path | None = None,
                  service_urls: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """Diagnostics for an in-memory bundle ``{filename: yaml text}`` (empty when valid), exactly as
    :func:`check_files` reports them for the same files: every error, or for a valid bundle its speech-model
    warnings. The supervisor console checks drafts with it."""
    try:
        bundle = load_bundle(sources, service_urls=service_urls)
    except FlowError as e:
        diagnostics = list(e.diagnostics)
    else:
        diagnostics = model_warnings(bundle, discover(models_dir))
    return sorted(diagnostics, key=lambda d: (d.file, d.line, d.path, d.message))
