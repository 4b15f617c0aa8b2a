"""No import cycles in flows/, bot/ or storage/: a cycle hides which module decides what, and works only as long as
nobody moves an import to the top.

Every import counts, also those under `if TYPE_CHECKING:` and inside functions (those are how cycles are usually
hidden). The graph is read from the source with `ast`, so nothing is imported to build it. The engine (flows/) must
have none; `KNOWN_CYCLES` lists the ones in bot/ that are being removed elsewhere, so they do not block this test
meanwhile (a cycle within a known one, left after part of it was removed, is allowed too). Take an entry off the list
once its cycle is gone.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("flows", "bot", "storage")

# Each entry: the modules of one cycle (a strongly connected group of modules that import each other).
KNOWN_CYCLES: set[frozenset[str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The modules of ours that `name` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import flows.engine.x` -> the longest module of ours
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: set(imported(name, path, known)) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(frozenset(group))
    return groups


def describe(group: frozenset[str], graph: dict[str, set[str]]) -> str:
    edges = sorted(f"{a} -> {b}" for a in group for b in graph[a] if b in group)
    return "{" + ", ".join(sorted(group)) + "}: " + "; ".join(edges)


def test_the_graph_sees_every_kind_of_import() -> None:
    graph = import_graph()
    assert "flows.engine" in graph["flows"]  # a package's __init__
    assert "flows.turn" in graph["flows.questionnaire"]  # from flows.turn import Turn
    assert "flows.phrases" in graph["flows.engine"]  # from flows import phrases (a submodule)


def test_the_cycle_finder_finds_cycles_hidden_in_functions_and_type_checking() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]


def test_no_import_cycles() -> None:
    graph = import_graph()
    found = cycles(graph)
    engine = [g for g in found if any(m == "flows" or m.startswith("flows.") for m in g)]
    assert not engine, "import cycles in the engine:\n" + "\n".join(describe(g, graph) for g in engine)
    unknown = [g for g in found if not any(g <= known for known in KNOWN_CYCLES)]
    assert not unknown, "new import cycles:\n" + "\n".join(describe(g, graph) for g in unknown)
