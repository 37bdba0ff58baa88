"""Import cycles between the modules of ``src/vidlens`` (grimp's graph: every import, lazy ones included).

    python tools/import_cycles.py      # prints each cycle's modules and one loop through them; exit 1 if any

A cycle is a strongly connected group of modules (each reaches the others through imports). The layer
contract in pyproject.toml (``lint-imports``) rules out cycles between layers; this also counts the ones
inside a layer or a package. tests/test_import_layers.py holds the count at what is known.
"""

from __future__ import annotations

import sys

import grimp


def import_cycles(package: str = "vidlens") -> list[list[str]]:
    """Each group of modules that import each other in a loop (sorted), biggest first; [] when there is none."""
    graph = grimp.build_graph(package, cache_dir=None)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    return sorted((sorted(group) for group in _strongly_connected(edges) if len(group) > 1), key=lambda g: (-len(g), g))


def one_loop(group: list[str], package: str = "vidlens") -> list[str]:
    """A loop through the first module of ``group`` and back, as a readable chain of imports."""
    graph = grimp.build_graph(package, cache_dir=None)
    members = set(group)
    start = group[0]
    paths = {start: [start]}
    queue = [start]
    while queue:  # breadth-first inside the group: the shortest way back to the start
        module = queue.pop(0)
        for nxt in sorted(graph.find_modules_directly_imported_by(module)):
            if nxt == start:
                return [*paths[module], start]
            if nxt in members and nxt not in paths:
                paths[nxt] = [*paths[module], nxt]
                queue.append(nxt)
    return group


def _strongly_connected(edges: dict[str, list[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (a deep import chain must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
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
                    work.append((child, iter(edges.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def main() -> int:
    cycles = import_cycles()
    print(f"{len(cycles)} import cycle(s) between modules of vidlens")
    for group in cycles:
        print(f"- {len(group)} modules: {', '.join(group)}")
        print(f"  e.g. {' -> '.join(one_loop(group))}")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
