"""No import cycles between modules (tools/import_cycles.py); the layer and import contracts
themselves are pyproject.toml's [tool.importlinter], checked by ``lint-imports`` in ``make test``."""

from __future__ import annotations

from tools.import_cycles import _strongly_connected, import_cycles, one_loop


def test_strongly_connected_groups_of_a_small_graph() -> None:
    edges = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": ["e"], "e": ["d"], "f": ["a"], "g": []}
    groups = sorted(sorted(g) for g in _strongly_connected(edges))
    assert groups == [["a", "b", "c"], ["d", "e"], ["f"], ["g"]]


def test_no_import_cycle() -> None:
    cycles = import_cycles()
    assert not cycles, [" -> ".join(one_loop(group)) for group in cycles]
