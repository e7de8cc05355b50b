"""The project's layout, checked from the source: dependencies point one way and no module grows into a package.

The import graph is read with ``ast`` (function-level imports included: they are dependencies too), so a
circle or an upward import fails here before anyone has to untangle it. The layers, lowest first, are the ones the
README's "What is here" table draws; a package may import its own modules and anything in a lower layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("routing", "speech", "demo", "ivr", "webhooks")

# Lowest first. A module belongs to the longest prefix listed here.
LAYERS: list[tuple[str, ...]] = [
    ("routing",),
    ("speech",),
    ("demo",),
    ("ivr.errors", "ivr.config"),
    ("ivr.runner",),
    ("ivr.simulator",),
    ("ivr.flowlang",),
    ("ivr.engine",),
    ("ivr.store",),
    ("ivr.telephony",),
    ("ivr.services",),
    # the queue and what goes on it, and the services' Scheduler port over it: only a connection needed, wired in
    # by bootstrap
    ("ivr.jobs.queue", "ivr.jobs.scheduler"),
    ("ivr.bootstrap",),  # the composition root; the HTTP edge imports it, it imports no edge
    ("ivr.jobs",),  # the jobs themselves, run on the root's services (ivr.bootstrap.worker_services)
    ("webhooks",),
    ("ivr.cli",),
    ("ivr",),  # the package root: its old-job-path aliases look into ivr.jobs
]
# Packages that use nothing of ours outside themselves.
SELF_CONTAINED = ("routing", "speech", "demo")
MAX_LINES = 600
MAX_MODULES_PER_PACKAGE = 25

def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            modules[module_name(path)] = path
    return modules


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from pkg import mod" imports the module pkg.mod when there is one, else a name of pkg
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS in {__file__}"
    return rank


def top_package(module: str) -> str:
    for prefixes in LAYERS:
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                return prefix
    return module


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the list of modules around it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_imports(graph):
    # The reader itself can fail: these edges exist in the source, so an empty or partial graph is caught here.
    assert "ivr.errors" in graph["ivr.flowlang.check"]
    assert "ivr.store.keys" in graph["ivr.store.sessions"]
    assert "routing.acd" in graph["ivr.services.calls"]


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def all_cycles(graph: dict[str, set[str]]) -> list[str]:
    """Every circle, found by removing one edge of each circle found until none is left."""
    graph = {node: set(targets) for node, targets in graph.items()}
    cycles = []
    while cycle := find_cycle(graph):
        start = cycle.index(min(cycle[:-1]))  # the same circle reads the same wherever the search entered it
        ring = cycle[start:-1] + cycle[:start] + [cycle[start]]
        cycles.append(" -> ".join(ring))
        graph[cycle[-2]].discard(cycle[-1])
    return cycles


def test_no_import_circles(graph):
    cycles = all_cycles(graph)
    assert not cycles, "import circles:\n" + "\n".join(cycles)


def test_imports_point_down_the_layers(graph):
    upward = sorted(f"{source} imports {target}" for source, targets in graph.items() for target in targets
                    if layer_of(target) > layer_of(source))
    assert not upward, "imports against the layers (see LAYERS):\n" + "\n".join(upward)


def test_routing_speech_and_demo_import_nothing_of_ours(graph):
    outward = sorted(f"{source} imports {target}" for source, targets in graph.items() for target in targets
                     if top_package(source) in SELF_CONTAINED and top_package(target) != top_package(source))
    assert not outward, "\n".join(outward)


def test_only_the_entry_points_reach_the_edges(graph):
    # The HTTP app and the demo backend are started by the process entry points: the CLI (``ivr serve``, ``ivr
    # demo``, ``ivr flows test``...) names them; everything else gets them passed in.
    reaching = sorted(f"{source} imports {target}" for source, targets in graph.items() for target in targets
                      if source.startswith("ivr") and not source.startswith("ivr.cli")
                      and top_package(target) in ("webhooks", "demo"))
    assert not reaching, "library code importing the HTTP edge or the demo:\n" + "\n".join(reaching)


def test_modules_stay_small():
    big = sorted(f"{path.relative_to(ROOT)}: {lines} lines" for path in project_modules().values()
                 if (lines := len(path.read_text().splitlines())) > MAX_LINES)
    assert not big, f"modules over {MAX_LINES} lines (split them by concept):\n" + "\n".join(big)


def test_packages_stay_browsable():
    crowded = []
    for top in SOURCES:
        for directory in [ROOT / top, *(p for p in (ROOT / top).rglob("*") if p.is_dir())]:
            count = len([p for p in directory.glob("*.py") if p.name != "__init__.py"])
            if count > MAX_MODULES_PER_PACKAGE:
                crowded.append(f"{directory.relative_to(ROOT)}: {count} modules")
    assert not crowded, "\n".join(crowded)


def test_every_package_says_what_it_is():
    silent = [str(path.relative_to(ROOT)) for path in project_modules().values()
              if path.name == "__init__.py" and ast.get_docstring(ast.parse(path.read_text())) is None]
    assert not silent, "packages without an opening docstring:\n" + "\n".join(silent)
