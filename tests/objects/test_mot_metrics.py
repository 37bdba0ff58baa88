"""Our metric code reproduces the TUD-Campus / TUD-Stadtmitte numbers of motmetrics and TrackEval."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.mot import evaluate, read_mot_txt
from tests.support.samples import package_file
from vidlens.objects.types import Detections

pytest.importorskip("motmetrics")

# motmetrics 1.4.0 tests/test_metrics.py::test_motchallenge_files (published in its repository);
# HOTA/DetA/AssA from TrackEval 1.3.0's HOTA class on the same files (bench/_trackeval_tud.py).
EXPECTED = {
    "TUD-Campus": dict(idf1=0.557659, idp=0.729730, idr=0.451253, recall=0.582173, precision=0.941441,
                       objects=8, mostly_tracked=1, mostly_lost=1, false_positives=13, misses=150,
                       id_switches=7, fragmentations=7, mota=0.526462, motp=0.277201,
                       hota=0.391397, deta=0.418047, assa=0.369121),
    "TUD-Stadtmitte": dict(idf1=0.644619, idp=0.819760, idr=0.531142, recall=0.608997, precision=0.939920,
                           objects=10, mostly_tracked=5, mostly_lost=1, false_positives=45, misses=452,
                           id_switches=7, fragmentations=6, mota=0.564014, motp=0.345904,
                           hota=0.397849, deta=0.392268, assa=0.408841),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reproduces_published_tud_numbers(name: str) -> None:
    gt = package_file("motmetrics", "data", name, "gt.txt")
    if gt is None:
        pytest.skip("motmetrics' data files are not installed")
    scores = evaluate(read_mot_txt(gt), read_mot_txt(Path(gt).with_name("test.txt"))).to_dict()
    for key, value in EXPECTED[name].items():
        assert scores[key] == pytest.approx(value, abs=1e-5), key


def _frames(rows: dict[int, list[tuple[int, list[float]]]]) -> dict[int, Detections]:
    return {f: Detections([b for _, b in r], [1.0] * len(r), [0] * len(r), [i for i, _ in r]) for f, r in rows.items()}


def test_perfect_tracking_scores_one_and_a_swap_is_one_switch() -> None:
    a, b = [0, 0, 10, 10], [20, 0, 30, 10]
    truth = _frames({f: [(1, a), (2, b)] for f in range(10)})
    perfect = evaluate(truth, _frames({f: [(7, a), (8, b)] for f in range(10)}))
    assert (perfect.mota, perfect.idf1, perfect.hota, perfect.id_switches) == (1.0, 1.0, pytest.approx(1.0), 0)
    swapped = evaluate(truth, _frames({f: [(7, a), (8 if f < 5 else 9, b)] for f in range(10)}))
    assert swapped.id_switches == 1 and swapped.idf1 < 1.0 and swapped.hota < 1.0


def test_empty_inputs() -> None:
    truth = _frames({0: [(1, [0, 0, 10, 10])]})
    s = evaluate(truth, {})
    assert s.misses == 1 and s.mota == 0.0 and s.hota == 0.0
    with pytest.raises(ValueError, match="track_ids"):
        evaluate({0: Detections([[0, 0, 1, 1]], [1], [0])}, {})
