"""Flow diagrams: a flow's nodes and transitions as a Graphviz graph, rendered to SVG by ``dot``.

Every node is drawn with its name and kind, every transition labelled with what takes it (a key, an intent, a
branch condition, fallback...), the entry node marked. Text from the flow only ever reaches Graphviz inside
quoted DOT strings (escaped here), and Graphviz escapes it again when it writes the SVG.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import yaml

from ivr.errors import IvrError
from ivr.flowlang.model import Branch, Collect, Flow, Hours, ListenSpec, LookupSpec, Menu, NodeKind, Transfer

#: How long ``dot`` may take for one flow before the diagram is given up.
DOT_TIMEOUT = 20.0
#: Longest edge label kept (a long condition is shortened with an ellipsis).
MAX_LABEL = 48
#: Node shapes and fills by kind: the shape alone tells decisions, questions and exits apart (not only colour).
_STYLE = {
    NodeKind.MENU: ("box", "rounded,filled", "#dbe9f9"),
    NodeKind.LISTEN: ("box", "rounded,filled", "#dbe9f9"),
    NodeKind.COLLECT: ("box", "rounded,filled", "#dbe9f9"),
    NodeKind.BRANCH: ("hexagon", "filled", "#fff4cc"),
    NodeKind.HOURS: ("hexagon", "filled", "#fff4cc"),
    NodeKind.LOOKUP: ("component", "filled", "#eef0f3"),
    NodeKind.SUBFLOW: ("box3d", "filled", "#eef0f3"),
    NodeKind.QUEUE: ("house", "filled", "#dcf5e3"),
    NodeKind.TRANSFER: ("house", "filled", "#dcf5e3"),
    NodeKind.VOICEMAIL: ("house", "filled", "#dcf5e3"),
    NodeKind.HANGUP: ("octagon", "filled", "#fde2df"),
    NodeKind.RETURN: ("invhouse", "filled", "#eef0f3"),
}
_DEFAULT_STYLE = ("box", "filled", "#ffffff")


class DiagramError(IvrError):
    """Graphviz could not draw a flow (not installed, too slow, or it failed)."""


@dataclass(frozen=True)
class Edge:
    """A transition from ``source`` to ``target``; ``label`` says what takes it ("" for plain 'next')."""

    source: str
    target: str
    label: str


def node_id(name: str) -> str:
    """The SVG id of a node's group (node names are letters, digits, '_' and '-', so valid in an id)."""
    return f"flow-node-{name}"


def edges(flow: Flow, raw: Any = None) -> list[Edge]:
    """Every transition of ``flow`` in node order. ``raw`` is the flow file's parsed YAML, from which branch
    conditions are written as their author wrote them."""
    raw_nodes = raw.get("nodes") if isinstance(raw, dict) and isinstance(raw.get("nodes"), dict) else {}
    found: list[Edge] = []
    for name, node in flow.nodes.items():
        body = node.body

        def add(target: str | None, label: str = "") -> None:
            if target:
                found.append(Edge(name, target, _shorten(label)))

        if isinstance(body, Menu):
            for option in body.options:
                parts = [f"key {option.key}"] if option.key is not None else []
                if option.intent:
                    parts.append(option.intent)
                elif option.phrases and option.key is None:
                    parts.append(f'"{option.phrases[0]}"')
                add(option.goto, " / ".join(parts) or "option")
            add(body.retry.fallback, "fallback")
        elif isinstance(body, ListenSpec):
            for intent, target in body.intents.items():
                add(target, intent)
            add(body.retry.fallback, "fallback")
            add(node.next, "other")
        elif isinstance(body, Collect):
            add(node.next, body.var and f"got {body.var}")
            add(body.retry.fallback, "fallback")
        elif isinstance(body, Branch):
            cases = _raw_cases(raw_nodes.get(name))
            for i, (_cond, target) in enumerate(body.cases):
                add(target, _condition_text(cases[i]) if i < len(cases) else f"case {i + 1}")
            add(body.otherwise, "else")
        elif isinstance(body, Hours):
            add(body.open, "open")
            add(body.closed, "closed")
            add(body.holiday, "holiday")
            add(body.closure, "closure")
        elif isinstance(body, LookupSpec):
            add(node.next, "found")
            add(body.on_not_found, "not found")
            add(body.on_failure, "failure")
        elif isinstance(body, Transfer):
            add(body.on_failure, "no answer")
            add(node.next, "after the call")
        else:
            add(node.next)
    return found


def to_dot(flow: Flow, raw: Any = None, link: Callable[[str, int], str] | None = None) -> str:
    """The DOT text of ``flow``'s graph. ``link(node name, line)`` gives each node a hyperlink (to the editor)."""
    lines = [
        "digraph flow {",
        '  graph [rankdir=TB, nodesep=0.35, ranksep=0.45, fontname="Helvetica", bgcolor="transparent"];',
        '  node [fontname="Helvetica", fontsize=11, margin="0.12,0.05", color="#3b4652"];',
        '  edge [fontname="Helvetica", fontsize=9, color="#59636e", fontcolor="#1b1f24"];',
        '  "(start)" [id="entry-marker", shape=plaintext, label="start", fontcolor="#1a7f37", fontsize=10];',
        f'  "(start)" -> {_q(flow.start)} [id="entry-edge", color="#1a7f37", penwidth=2];',
    ]
    for name, node in flow.nodes.items():
        shape, style, fill = _STYLE.get(node.kind, _DEFAULT_STYLE)
        label = f"{name}\n{node.kind.value}"
        if node.kind is NodeKind.SUBFLOW and isinstance(node.body, str):
            label += f" → {node.body}"
        attrs = {"id": node_id(name), "shape": shape, "style": style, "fillcolor": fill, "label": label,
                 "tooltip": f"{name} ({node.kind.value}), line {node.line}"}
        if name == flow.start:
            attrs.update(peripheries="2", penwidth="2", label=f"{label}\n(entry)")
        if link is not None:
            attrs.update(URL=link(name, node.line), target="_top")
        lines.append(f"  {_q(name)} [{_attrs(attrs)}];")
    for i, edge in enumerate(edges(flow, raw)):
        attrs = {"id": f"edge-{i}", "tooltip": f"{edge.source} → {edge.target}"
                                               + (f": {edge.label}" if edge.label else "")}
        if edge.label:
            attrs["label"] = edge.label
        lines.append(f"  {_q(edge.source)} -> {_q(edge.target)} [{_attrs(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_svg(dot_text: str, *, timeout: float = DOT_TIMEOUT, dot: str = "dot") -> str:
    """Lay out and draw ``dot_text`` with Graphviz; :class:`DiagramError` when that fails or takes too long."""
    try:
        result = subprocess.run([dot, "-Tsvg"], input=dot_text.encode(), capture_output=True, timeout=timeout,
                                check=False)
    except FileNotFoundError as e:
        raise DiagramError("Graphviz is not installed (Debian package graphviz): no diagram") from e
    except subprocess.TimeoutExpired as e:
        raise DiagramError(f"Graphviz took more than {timeout:g} s to draw this flow") from e
    if result.returncode != 0:
        raise DiagramError(f"Graphviz failed: {result.stderr.decode(errors='replace').strip()[:300]}")
    svg = result.stdout.decode()
    start = svg.find("<svg")  # drop the XML declaration and DOCTYPE: the SVG goes inside a page
    if start < 0:
        raise DiagramError("Graphviz wrote no SVG")
    return re.sub(r"<!--.*?-->\n?", "", svg[start:], flags=re.S)  # comments repeat names unescaped


class DiagramCache:
    """Rendered SVG by (version, flow name). Published versions never change, so an entry never goes stale;
    the least recently used go when ``size`` is reached."""

    def __init__(self, size: int = 64):
        self.size = size
        self._items: OrderedDict[tuple[int, str, str], str] = OrderedDict()
        self._lock = threading.Lock()
        self.renders = 0  # how many times Graphviz ran (the tests see the cache work)

    def get(self, version: int, flow: str, render: Callable[[], str], variant: str = "") -> str:
        """The cached SVG of ``flow`` in ``version`` (``variant``: a drawing option), drawn by ``render``
        when missing."""
        key = (version, flow, variant)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        svg = render()
        with self._lock:
            self.renders += 1
            self._items[key] = svg
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return svg


def _raw_cases(raw_node: Any) -> list[Any]:
    branch = raw_node.get("branch") if isinstance(raw_node, dict) else None
    cases = branch.get("cases") if isinstance(branch, dict) else None
    return [case.get("when") if isinstance(case, dict) else None for case in cases] if isinstance(cases, list) else []


def _condition_text(when: Any) -> str:
    """A branch condition as its author wrote it, on one line: ``{var: topic, equals: billing}``."""
    if when is None:
        return "case"
    return yaml.safe_dump(when, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10_000).strip()


def _shorten(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _q(text: str) -> str:
    """A DOT quoted string: backslashes (Graphviz escapes like \\N and \\l) and quotes escaped, newlines as \\n."""
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'


def _attrs(attrs: dict[str, str]) -> str:
    return ", ".join(f"{key}={_q(value)}" for key, value in attrs.items())
