"""Editing a published flow bundle: drafts made of the live files with one file replaced, and the unified diff
of what a draft (or a rollback) changes. No Flask here: the supervisor console uses it, and so could a tool."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Mapping

from ivr.flowlang.model import Bundle
from ivr.flowlang.sources import flow_name

#: A flow file name as the store keeps it: a flow name (or queues) and .yaml/.yml, no folders.
FILE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}\.ya?ml")
#: The largest file the console accepts (a request is limited to 64 KiB in all).
MAX_FILE_CHARS = 60_000


class DraftError(ValueError):
    """A draft cannot be made: a bad file name or text (the message says what to fix)."""


class LineKind(str, Enum):
    """A line of a unified diff; its text keeps the diff's own prefix (+, -, space, @@) so it reads without colour."""

    HEADER = "header"
    HUNK = "hunk"
    ADDED = "added"
    REMOVED = "removed"
    CONTEXT = "context"


@dataclass(frozen=True)
class DiffLine:
    kind: LineKind
    text: str


@dataclass(frozen=True)
class FileDiff:
    """What changes in one file: ``status`` is added, removed or changed."""

    file: str
    status: str
    lines: list[DiffLine] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(line.kind is LineKind.ADDED for line in self.lines)

    @property
    def removed(self) -> int:
        return sum(line.kind is LineKind.REMOVED for line in self.lines)


@dataclass(frozen=True)
class FileSummary:
    """One file of a version, as the flows list shows it."""

    file: str
    flow: str | None          # None for the queue settings file
    nodes: int
    language: str | None
    start: str | None
    default: bool = False


def check_file_name(name: str) -> str:
    """``name`` when it is a valid flow file name, else :class:`DraftError` saying why."""
    name = (name or "").strip()
    if not name:
        raise DraftError("give the file a name, such as billing.yaml")
    if not FILE_NAME.fullmatch(name):
        raise DraftError(f"'{name[:80]}' is not a flow file name: use letters, digits, '_' and '-', starting with "
                         "a letter, and end it in .yaml (no folders)")
    return name


def draft(live: Mapping[str, str], file: str, source: str) -> dict[str, str]:
    """The bundle ``live`` with ``file`` replaced by (or added as) ``source``."""
    file = check_file_name(file)
    if not isinstance(source, str):
        raise DraftError("'source' must be the file's text")
    if len(source) > MAX_FILE_CHARS:
        raise DraftError(f"the file is too long ({len(source)} characters; at most {MAX_FILE_CHARS})")
    source = source.replace("\r\n", "\n").replace("\r", "\n")  # what a browser's textarea sends
    others = {n for n in live if n != file and flow_name(n) == flow_name(file)}
    if others:
        raise DraftError(f"{sorted(others)[0]} already holds flow '{flow_name(file)}': edit that file instead")
    merged = dict(live)
    merged[file] = source
    return dict(sorted(merged.items()))


def without(live: Mapping[str, str], file: str) -> dict[str, str]:
    """The bundle ``live`` with ``file`` deleted (the checker then says who still needed it)."""
    file = check_file_name(file)
    if file not in live:
        raise DraftError(f"there is no file {file} to delete")
    if len(live) == 1:
        raise DraftError(f"{file} is the only file: a version needs at least one flow")
    return {name: text for name, text in sorted(live.items()) if name != file}


def diff(old: Mapping[str, str], new: Mapping[str, str], *, old_label: str, new_label: str,
         context: int = 3) -> list[FileDiff]:
    """The unified diff of each file that differs between two bundles, in file-name order."""
    result = []
    for file in sorted(set(old) | set(new)):
        before, after = old.get(file), new.get(file)
        if before == after:
            continue
        status = "added" if before is None else "removed" if after is None else "changed"
        raw = difflib.unified_diff((before or "").splitlines(), (after or "").splitlines(),
                                   fromfile=f"{old_label}/{file}" if before is not None else "/dev/null",
                                   tofile=f"{new_label}/{file}" if after is not None else "/dev/null",
                                   n=context, lineterm="")
        result.append(FileDiff(file, status, [DiffLine(_kind(line, i), line) for i, line in enumerate(raw)]))
    return result


def summaries(bundle: Bundle, sources: Mapping[str, str]) -> list[FileSummary]:
    """Each file of a version: its flow, node count and language (queue settings have no flow)."""
    by_file = {flow.file: flow for flow in bundle.flows.values()}
    listed = []
    for file in sorted(sources):
        flow = by_file.get(file)
        if flow is not None:
            listed.append(FileSummary(file, flow.name, len(flow.nodes), flow.language, flow.start,
                                      bundle.default_flow == flow.name))
        else:  # the queue settings (queues.yaml)
            listed.append(FileSummary(file, None, 0, None, None))
    return listed


def _kind(line: str, index: int) -> LineKind:
    if index < 2 and line.startswith(("---", "+++")):
        return LineKind.HEADER
    if line.startswith("@@"):
        return LineKind.HUNK
    if line.startswith("+"):
        return LineKind.ADDED
    if line.startswith("-"):
        return LineKind.REMOVED
    return LineKind.CONTEXT
