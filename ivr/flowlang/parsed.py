"""The state of a bundle being compiled: what is learnt about each flow file, and the sink every check reports to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ivr.errors import Diagnostic
from ivr.flowlang.model import Node, Speech
from ivr.flowlang.yamlsource import Path, SourceMap


@dataclass
class FileState:
    """Everything learnt about one file while checking it."""

    file: str
    name: str
    smap: SourceMap
    raw: dict[str, Any]
    defined: set[str] = field(default_factory=set)
    used: list[tuple[Path, str]] = field(default_factory=list)
    targets: list[tuple[Path, str, str]] = field(default_factory=list)  # (path, from node, target)
    subflows: list[tuple[Path, str]] = field(default_factory=list)
    schedules_used: list[tuple[Path, str]] = field(default_factory=list)
    queues_used: list[tuple[Path, str, dict[str, int]]] = field(default_factory=list)
    time_conditions: list[Path] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    speech: Speech | None = None
    speech_declared: bool = False
    intents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    loose_edges: list[tuple[str, str]] = field(default_factory=list)  # read from the raw YAML of broken nodes


class Diagnostics:
    """The problems found, in the order found (the order :class:`~ivr.errors.FlowError` reports them in)."""

    def __init__(self) -> None:
        self.found: list[Diagnostic] = []

    def __bool__(self) -> bool:
        return bool(self.found)

    def add(self, diagnostic: Diagnostic) -> None:
        self.found.append(diagnostic)

    def error(self, where: FileState | SourceMap, path: Path, message: str) -> None:
        """An error at ``path`` of a file (located by its source map)."""
        smap = where.smap if isinstance(where, FileState) else where
        self.found.append(smap.diag(path, message))

    def about(self, file: str) -> bool:
        """Whether any problem was found in ``file``."""
        return any(d.file == file for d in self.found)
