"""Each flow's graph: targets that name no node, unreachable nodes, loops with no exit; and the graph algorithms."""

from __future__ import annotations

import difflib
from typing import Any

from ivr.errors import suggest
from ivr.flowlang.model import NodeKind
from ivr.flowlang.parsed import Diagnostics, FileState

#: Kinds of node where a call leaves the flow.
EXIT_KINDS = {NodeKind.HANGUP, NodeKind.RETURN, NodeKind.QUEUE, NodeKind.TRANSFER, NodeKind.VOICEMAIL}


def check_targets(sink: Diagnostics, st: FileState, start: Any, nodes_raw: dict[str, Any]) -> None:
    """The flow's ``start`` and every target its nodes name are nodes of the flow."""
    if isinstance(start, str) and start not in nodes_raw:
        sink.error(st, ("start",), f"no node '{start}'{suggest(start, nodes_raw)}")
    for path, _source, target in st.targets:
        if target not in nodes_raw:
            sink.error(st, path, f"no node '{target}'{suggest(target, nodes_raw)}")


def check_graph(sink: Diagnostics, st: FileState, start: str | None, names: list[str]) -> None:
    """Unreachable nodes (when the start is known) and loops with no exit, on the edges that are known: those
    of the nodes that were built, and those read from the YAML of the nodes that were not."""
    edges: dict[str, list[str]] = {n: [] for n in names}
    open_ended: set[str] = set()  # nodes with a target naming no node (reported): where they lead is unknown
    for _path, source, target in st.targets:
        if source in edges and target in edges:
            edges[source].append(target)
        elif source in edges:
            open_ended.add(source)
            # the nodes it may have meant (as in did-you-mean) count as reached
            edges[source] += difflib.get_close_matches(target, names, n=3, cutoff=0.6)
    for source, target in st.loose_edges:
        edges[source].append(target)
    seen = set(names)
    if start is not None:
        seen = {start}
        todo = [start]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        for name in names:
            if name not in seen:
                sink.error(st, ("nodes", name), f"unreachable: no path from start '{start}' leads here")
    # A node that failed to build, or that names a missing node, counts as an exit: its own errors are
    # reported, not a phantom loop.
    exits = {n for n in names if n not in st.nodes or n in open_ended or st.nodes[n].kind in EXIT_KINDS
             or (st.nodes[n].kind is NodeKind.SUBFLOW and st.nodes[n].next is None)}
    line = lambda n: st.smap.line(("nodes", n))  # noqa: E731
    for component in strongly_connected(edges):
        looped = len(component) > 1 or any(n in edges[n] for n in component)
        leaves = any(t not in component for n in component for t in edges[n])
        if looped and not leaves and not component & exits and component & seen:
            first = min(component, key=line)
            members = ", ".join(sorted(component, key=line))
            sink.error(st, ("nodes", first), f"loop with no exit: {members} lead only to each other and never "
                                             "hang up, transfer, queue or return")


def strongly_connected(edges: dict[str, list[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (flows can be large)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[set[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in edges:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                result.append(component)
    return result


def subflow_groups(calls: dict[str, set[str]]) -> dict[str, set[str]]:
    """Connected components of the (undirected) subflow call graph."""
    parent = {name: name for name in calls}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for caller, callees in calls.items():
        for callee in callees:
            parent[find(caller)] = find(callee)
    groups: dict[str, set[str]] = {}
    for name in calls:
        groups.setdefault(find(name), set()).add(name)
    return {name: groups[find(name)] for name in calls}
