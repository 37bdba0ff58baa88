"""Ground-truth generator, scoring metric and sample locators (fast: tiny videos only)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from tests.support import samples, synth
from tests.support.photos import list_photos, load_photo
from tests.support.scoring import BoundaryScore, combine, micro_f1, score_boundaries
from tests.support.synth import (
    FAST_PAN_MIN_SPEED,
    Boundary,
    Flash,
    ShotSpec,
    SynthPlan,
    SynthVideo,
    TransitionSpec,
    Trap,
    coverage,
    random_recipe,
    render_video,
    standard_recipes,
    standard_set,
    truth_path_for,
)

SIZE = (160, 90)
FPS = Fraction(25)
SHOTS = [
    ShotSpec(0, 24, "static", flashes=(Flash(10, 2, 0.7),)),
    ShotSpec(1, 20, "pan"),
    ShotSpec(2, 30, "zoom"),
    ShotSpec(3, 20, "static"),
]
TRANSITIONS = [TransitionSpec.cut(), TransitionSpec.dissolve(10), TransitionSpec.fade(6, hold=3, fade_in=6)]
# Derived by hand from the conventions: B starts at 24; C overlaps B's last 10 frames, so starts at 34
# and the first frame with a=(i+1)/11 >= 0.5 is i=5; C ends at 64, fades out over 58..63, black
# holds 64..66, D fades in from 67 to 72.
CUT, DISSOLVE, FADE = 24, (34, 44, 39), (58, 73, 67)
FRAME_COUNT = 87


def mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthPlan, SynthVideo, list[np.ndarray], list]:
    path = tmp_path_factory.mktemp("synth") / "tiny.mp4"
    video = render_video(path, SHOTS, TRANSITIONS, size=SIZE, fps=FPS, seed=3)
    plan = SynthPlan(SHOTS, TRANSITIONS, size=SIZE, seed=3)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = [(f.to_ndarray(format="rgb24"), f.pts * stream.time_base) for f in container.decode(stream)]
    return plan, video, [f for f, _ in decoded], [t for _, t in decoded]


def test_frame_count_and_timestamps(tiny) -> None:
    plan, video, frames, times = tiny
    assert plan.frame_count == video.frame_count == len(frames) == FRAME_COUNT
    assert [t * FPS for t in times] == list(range(FRAME_COUNT))
    assert frames[0].shape == (SIZE[1], SIZE[0], 3)


def test_truth_is_exact_and_round_trips(tiny) -> None:
    _, video, _, _ = tiny
    assert video.boundaries == [
        Boundary("cut", CUT, CUT + 1, CUT),
        Boundary("dissolve", *DISSOLVE),
        Boundary("fade", *FADE),
    ]
    assert video.traps == [Trap("flash", 10, 12), Trap("zoom", 44, 58)]
    assert truth_path_for(video.path).is_file()
    assert SynthVideo.load(video.truth_path) == video


def test_encoding_is_faithful(tiny) -> None:
    plan, _, frames, _ = tiny
    for t in range(0, FRAME_COUNT, 3):
        mse = float(((frames[t].astype(np.float64) - plan.frame(t)) ** 2).mean())
        assert 10 * np.log10(255**2 / max(mse, 1e-9)) > 30, t


def test_cut_switches_content(tiny) -> None:
    plan, _, frames, _ = tiny
    a_last, b_first = plan.shot_frame(0, CUT - 1), plan.shot_frame(1, 0)
    assert mae(frames[CUT - 1], a_last) < 6 < 20 < mae(frames[CUT - 1], b_first)
    assert mae(frames[CUT], b_first) < 6 < 20 < mae(frames[CUT], a_last)


def test_dissolve_midpoint_is_a_blend(tiny) -> None:
    plan, _, frames, _ = tiny
    start, _, mid = DISSOLVE
    a = (mid - start + 1) / 11
    b_img, c_img = plan.shot_frame(1, mid - CUT), plan.shot_frame(2, mid - start)
    blend = (1 - a) * b_img + a * c_img
    err = mae(frames[mid], blend)
    assert err < 6
    assert min(mae(frames[mid], b_img), mae(frames[mid], c_img)) > err + 10


def test_fade_goes_through_black(tiny) -> None:
    _, _, frames, _ = tiny
    _, _, first_in = FADE
    for t in range(first_in - 4, first_in):  # last fade-out frame + 3 held frames
        assert frames[t].mean() < 2 and frames[t].max() < 16, t
    assert frames[first_in].mean() > 5  # B already visible
    means = [frames[t].mean() for t in range(FADE[0] - 1, first_in - 3)]
    assert means == sorted(means, reverse=True)


def test_flash_frames_are_brighter(tiny) -> None:
    _, _, frames, _ = tiny
    normal = np.mean([frames[t].mean() for t in (7, 8, 9, 12, 13)])
    assert all(frames[t].mean() > normal + 40 for t in (10, 11))


def test_fast_pan_moves_fast_only_inside_its_trap() -> None:
    shot = ShotSpec(4, 50, "fast_pan", noise=0.0, pan_frames=10)
    plan = SynthPlan([shot], [], size=SIZE)
    (trap,) = plan.traps
    assert (trap.kind, trap.end - trap.start) == ("fast_pan", 10)

    def shift(t: int) -> float:
        grey = [cv2.cvtColor(plan.frame(i), cv2.COLOR_RGB2GRAY).astype(np.float64) for i in (t - 1, t)]
        (dx, dy), _ = cv2.phaseCorrelate(*grey)
        return float(np.hypot(dx, dy))

    assert all(shift(t) >= FAST_PAN_MIN_SPEED * SIZE[0] * 0.9 for t in range(trap.start + 1, trap.end))
    assert all(shift(t) < 0.5 for t in (trap.start - 3, trap.end + 3))


def test_near_identical_and_edge_fades_are_traps() -> None:
    shots = [ShotSpec(5, 30, view=0.95), ShotSpec(5, 30, view=0.5, center=(0.9, 0.2))]
    plan = SynthPlan(shots, [TransitionSpec.cut()], size=SIZE, fade_in_start=8, fade_out_end=10)
    assert plan.boundaries == [Boundary("cut", 30, 31, 30)]
    assert plan.traps == [Trap("fade_in_start", 0, 8), Trap("near_identical", 30, 31), Trap("fade_out_end", 50, 60)]
    assert plan.frame(0).max() == 0 and plan.frame(59).max() == 0
    assert mae(plan.frame(29), plan.frame(30)) > 10


@pytest.mark.parametrize(
    ("shots", "transitions", "size"),
    [
        ([ShotSpec(0, 10), ShotSpec(1, 10)], [TransitionSpec.dissolve(10)], SIZE),  # no room left
        ([ShotSpec(0, 10)], [], (161, 90)),  # odd width
        ([ShotSpec(0, 30, flashes=(Flash(1),))], [], SIZE),  # flash at the very edge
        ([ShotSpec(0, 10), ShotSpec(1, 10)], [], SIZE),  # missing transition
    ],
)
def test_invalid_edits_are_rejected(shots, transitions, size) -> None:
    with pytest.raises(ValueError):
        SynthPlan(shots, transitions, size=size)


def test_audio_track(tmp_path: Path) -> None:
    video = render_video(tmp_path / "a.mp4", [ShotSpec(0, 12)], [], size=SIZE, fps=Fraction(30000, 1001), audio=True)
    with av.open(str(video.path)) as container:
        assert sorted(s.type for s in container.streams) == ["audio", "video"]
        assert sum(1 for _ in container.decode(video=0)) == 12


def test_random_recipes_are_deterministic_and_spaced() -> None:
    a, b = random_recipe(7, n_shots=6), random_recipe(7, n_shots=6)
    assert a == b and a != random_recipe(8, n_shots=6)
    plan = a.plan(SIZE, 7)
    events = sorted(
        [(x.start, x.end) for x in plan.boundaries] + [(t.start, t.end) for t in plan.traps if t.kind == "flash"]
    )
    assert all(nxt[0] - cur[1] >= 10 for cur, nxt in itertools.pairwise(events))


def test_standard_set_covers_everything() -> None:
    videos = [r.plan((64, 36), i).truth(Path(f"v{i}.mp4"), r.fps) for i, r in enumerate(standard_recipes())]
    required = {
        "cut", "dissolve", "fade", "fade_hold", "fade_nohold", "dissolve<=10", "dissolve>=36",
        "flash", "fast_pan", "shake", "zoom", "near_identical", "fade_in_start", "fade_out_end",
        "short_shot", "long_shot", "fps=30000/1001",
    }  # fmt: skip
    assert required <= coverage(videos)
    assert required <= coverage([r.plan((64, 36), 0).truth(Path("x.mp4"), r.fps) for r in standard_recipes(1)])


def test_photos_are_local_rgb() -> None:
    photos = list_photos()
    assert len(photos) >= 10 and photos == list_photos()
    assert not {"horse.png", "logo.png", "phantom.png"} & {p.name for p in photos}
    img = load_photo(photos[0], min_size=(1200, 1000))
    assert img.dtype == np.uint8 and img.shape[2] == 3 and img.shape[1] >= 1200 and img.shape[0] >= 1000


def test_sample_locators() -> None:
    for locate in (samples.bikes, samples.bigbuckbunny, samples.carphone, samples.megamind, samples.vtest):
        path = locate()
        assert path is None or path.is_file()
    assert set(samples.KNOWN_SHOT_STARTS) == {"bikes", "megamind"}
    with pytest.raises(ValueError):
        samples.movie_hello("mkv")


# ----------------------------------------------------------------------------- scoring

C50 = Boundary("cut", 50, 51, 50)
D100 = Boundary("dissolve", 100, 120, 110)
F200 = Boundary("fade", 200, 215, 208)


@pytest.mark.parametrize(
    ("detected", "truth", "tolerance", "counts"),
    [
        ([50], [C50], 2, (1, 0, 0)),
        ([52], [C50], 2, (1, 0, 0)),  # tolerance edge, inside
        ([48], [C50], 2, (1, 0, 0)),
        ([53], [C50], 2, (0, 1, 1)),  # just outside
        ([47], [C50], 2, (0, 1, 1)),
        ([51], [C50], 0, (0, 1, 1)),  # cuts get no span credit
        ([98], [D100], 2, (1, 0, 0)),  # start - tolerance
        ([97], [D100], 2, (0, 1, 1)),
        ([121], [D100], 2, (1, 0, 0)),  # end + tolerance is exclusive
        ([122], [D100], 2, (0, 1, 1)),
        ([100], [D100], 0, (1, 0, 0)),
        ([120], [D100], 0, (0, 1, 1)),
        ([201], [F200], 0, (1, 0, 0)),
        ([110, 111], [D100], 2, (1, 1, 0)),  # one detection per truth
        ([50, 50], [C50], 2, (1, 1, 0)),  # a duplicate is a false alarm
        ([12, 16], [Boundary("cut", 10, 11, 10), Boundary("cut", 14, 15, 14)], 2, (2, 0, 0)),  # max matching
        ([], [], 2, (0, 0, 0)),
        ([5], [], 2, (0, 1, 0)),
        ([], [C50, D100], 2, (0, 0, 2)),
        ([50, 105, 208, 300], [C50, D100, F200], 2, (3, 1, 0)),
    ],
)
def test_score_boundaries(detected, truth, tolerance, counts) -> None:
    score = score_boundaries(detected, truth, tolerance)
    assert (score.tp, score.fp, score.fn) == counts
    assert len(score.missed) == score.fn and len(score.false_detections) == score.fp


def test_score_details_and_rates() -> None:
    score = score_boundaries([49, 130, 300], [C50, D100, F200])
    assert score.missed == (D100, F200) and score.false_detections == (130, 300)
    assert score.precision == pytest.approx(1 / 3) and score.recall == pytest.approx(1 / 3)
    assert score_boundaries([], []).f1 == 1.0 and score_boundaries([], [C50]).f1 == 0.0


def test_micro_average() -> None:
    scores = [BoundaryScore(1, 1, 0), BoundaryScore(1, 0, 1)]
    total = combine(scores)
    assert (total.tp, total.fp, total.fn) == (2, 1, 1)
    assert micro_f1(scores) == pytest.approx(2 / 3)


def test_spec_helpers() -> None:
    shot = ShotSpec(0, 40, "pan")
    assert replace(shot, motion="fast_pan").pan_speed >= FAST_PAN_MIN_SPEED
    with pytest.raises(ValueError):
        ShotSpec(0, 40, "fast_pan", speed=0.03)
    with pytest.raises(ValueError):
        TransitionSpec("dissolve", 0)


def test_standard_set_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = standard_set(tmp_path, n_videos=1, size=(64, 36))
    assert first[0].path.is_file() and first[0].frame_count > 1000

    def no_render(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached video was rendered again")

    monkeypatch.setattr(synth, "render_video", no_render)
    assert standard_set(tmp_path, n_videos=1, size=(64, 36)) == first
    with pytest.raises(AssertionError):  # a different size must not reuse the cache
        standard_set(tmp_path, n_videos=1, size=(32, 18))
