"""Flow files on disk: which files of a directory are flows, the flow a file defines, reading paths into sources."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ivr.errors import Diagnostic, FlowError

FLOW_SUFFIXES = (".yaml", ".yml")
#: The file beside the flows that configures agent queues (routing), published with them.
QUEUES_FILE_NAMES = ("queues.yaml", "queues.yml")


def read_directory(directory: str | Path) -> dict[str, str]:
    """The flow files of a directory (top level ``*.yaml``/``*.yml``, with ``queues.yaml`` for the agent queues;
    scenario tests live in ``tests/``)."""
    root = Path(directory)
    if not root.is_dir():
        raise FlowError([Diagnostic(str(root), 1, "", "flows directory does not exist")])
    sources: dict[str, str] = {}
    for path in sorted(root.iterdir()):
        if path.is_file() and path.suffix in FLOW_SUFFIXES:
            sources[path.name] = path.read_bytes().decode("utf-8", errors="replace")
    return sources


def read_paths(paths: Sequence[str | Path]) -> tuple[dict[str, str], list[Diagnostic]]:
    """The files and directories ``paths`` names as ``{path: text}``, and a diagnostic for each that cannot be
    read. A file named twice (in a directory and by itself) is read once."""
    sources: dict[str, str] = {}
    diagnostics: list[Diagnostic] = []
    seen: set[Path] = set()

    def add(file: Path, text: str) -> None:
        if file.resolve() not in seen:
            seen.add(file.resolve())
            sources[str(file)] = text

    for raw in paths:
        path = Path(raw)
        try:
            if path.is_dir():
                for name, text in read_directory(path).items():
                    add(path / name, text)
            else:
                add(path, path.read_bytes().decode("utf-8", errors="replace"))
        except FlowError as e:
            diagnostics.extend(e.diagnostics)
        except OSError as e:
            diagnostics.append(Diagnostic(str(path), 1, "", f"cannot read: {e.strerror}"))
    return sources, diagnostics


def flow_name(filename: str) -> str:
    """The flow a file defines: its name without the suffix (``billing.yaml`` defines ``billing``)."""
    name = Path(filename).name
    for suffix in FLOW_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name
