"""No import cycles between modules beyond the known ones (tools/import_cycles.py); the layer and import contracts
themselves are pyproject.toml's [tool.importlinter], checked by ``lint-imports`` in ``make test``."""

from __future__ import annotations

from tools.import_cycles import _strongly_connected, import_cycles, one_loop

#: Cycles that issue 13's in-memory Analysis removes (library ingest and query-by-clip call api.analyze today).
KNOWN = {"vidlens.api", "vidlens.library.ingest", "vidlens.library.search"}


def test_strongly_connected_groups_of_a_small_graph() -> None:
    edges = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": ["e"], "e": ["d"], "f": ["a"], "g": []}
    groups = sorted(sorted(g) for g in _strongly_connected(edges))
    assert groups == [["a", "b", "c"], ["d", "e"], ["f"], ["g"]]


def test_no_import_cycle_beyond_the_known_ones() -> None:
    cycles = import_cycles()
    for group in cycles:
        print(f"{len(group)} modules in a cycle, e.g. {' -> '.join(one_loop(group))}")
    assert all(set(group) <= KNOWN for group in cycles), cycles
