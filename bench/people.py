"""The ``people`` analyzer: model latency, analyze throughput on 720p, and what it finds on vtest.avi.

    python bench/people.py [--json bench/_out/people.json] [--sheet bench/_out/people_vtest.png]

1. latency of the shipped selfie segmentation ONNX (fp32) per frame, batch 1 and batch 16, on real
   frames of opencv-doc's vtest.avi already stretched to 256x256 (3 warm-ups, median of 20 runs);
2. ``vidlens analyze`` throughput on the 720p benchmark file (``hello720p_x8.mp4``, 2000 frames):
   raw PyAV decode to RGB, the default analyzers, the defaults plus ``people`` and ``people`` alone;
3. vtest.avi (768x576, 10 fps, pedestrians seen from a first-floor window): person fraction per
   sampled frame and presence segments, plus a sheet of frames with their masks to count by eye
   how many of the visible pedestrians the mask covers.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from pathlib import Path

import av
import cv2
import numpy as np

from _common import finish_run, hello_720p_long, markdown_table, print_machine_info
from tests.support import samples
from vidlens import pipeline
from vidlens.analyzers.people import INPUT, PeopleAnalyzer, _run, person_masks
from vidlens.analyzers.registry import DEFAULT_ANALYZERS
from vidlens.media import VideoReader


def vtest_frames(step: int) -> list[np.ndarray]:
    reader = VideoReader(samples.vtest())
    with contextlib.closing(reader.frames()) as stream:
        return [f.av_frame.to_ndarray(format="rgb24") for f in stream if f.index % step == 0]


def latency(frames: list[np.ndarray]) -> dict[str, float]:
    x = np.stack([cv2.resize(f, (INPUT, INPUT), interpolation=cv2.INTER_AREA) for f in frames]).astype(np.float32)
    x /= 255.0
    out = {}
    for batch in (1, 16):
        feed = x[:batch]
        for _ in range(3):
            _run(feed)
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            _run(feed)
            times.append((time.perf_counter() - t0) * 1000)
        out[f"ms_per_frame_batch{batch}"] = round(statistics.median(times) / batch, 2)
    return out


def raw_decode_fps(path: Path) -> float:
    t0 = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        n = sum(1 for f in container.decode(stream) if f.to_ndarray(format="rgb24") is not None)
    return n / (time.perf_counter() - t0)


def analyze_fps(path: Path, analyzers: list[str]) -> tuple[float, dict]:
    t0 = time.perf_counter()
    timeline = pipeline.run(path, analyzers, hash_file=False).timeline
    return timeline.video["frame_count"] / (time.perf_counter() - t0), timeline.analysis["stages_s"]


def sheet(frames: list[np.ndarray], out: Path) -> None:
    """Frames with the person mask (> 0.5) tinted cyan (vtest has red coats), 3 per row, for counting by eye."""
    masks = person_masks(frames)
    tiles = []
    for f, m in zip(frames, masks, strict=True):
        tile = f.copy()
        tile[m > 0.5] = (0.3 * tile[m > 0.5] + [0, 178, 178]).astype(np.uint8)
        tiles.append(cv2.resize(tile, (384, 288), interpolation=cv2.INTER_AREA))
    rows = [np.concatenate(tiles[i:i + 3], axis=1) for i in range(0, len(tiles) - len(tiles) % 3, 3)]
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--sheet", type=Path, default=Path("bench/_out/people_vtest.png"))
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    print_machine_info()
    if samples.vtest() is None:
        raise SystemExit("opencv-doc's vtest.avi is not installed")
    numbers: dict = {"latency": latency(vtest_frames(step=25))}
    print(f"\nmodel latency on vtest frames (fp32): {numbers['latency']}")

    path = hello_720p_long()
    rows = []
    for run in range(args.runs):
        decode = raw_decode_fps(path)
        row = {"run": run + 1, "raw decode fps": round(decode, 1)}
        for label, names in (("default", list(DEFAULT_ANALYZERS)), ("default+people", [*DEFAULT_ANALYZERS, "people"]),
                             ("people", ["people"])):
            fps, stages = analyze_fps(path, names)
            row[f"{label} fps"] = round(fps, 1)
            row[f"{label} ratio"] = round(fps / decode, 2)
            if label == "default+people":
                row["people stage s"] = stages.get("people")
        rows.append(row)
    numbers["throughput_720p"] = rows
    print(f"\n{path.name} (720p, 2000 frames):\n")
    print(markdown_table(list(rows[0]), [list(r.values()) for r in rows]))

    timeline = pipeline.run(samples.vtest(), [PeopleAnalyzer(fps=2)], hash_file=False).timeline
    people = timeline["people"]
    fractions = np.asarray(people["samples"]["fractions"])
    numbers["vtest"] = {
        "frames": timeline.video["frame_count"], "sampled": len(fractions),
        "fraction_mean": round(float(fractions.mean()), 4), "fraction_max": round(float(fractions.max()), 4),
        "sampled_with_any_person_pixel": round(float(np.mean(fractions > 0)), 3),
        "sampled_present": round(float(np.mean(fractions >= PeopleAnalyzer().presence_on)), 3),
        "segments": [(s["start"]["time"], s["end"]["time"]) for s in people["segments"]],
    }
    print(f"\nvtest.avi: {numbers['vtest']}")
    sheet(vtest_frames(step=90)[:9], args.sheet)
    print(f"mask sheet (frames 0, 90, ..., 720; cyan = person > 0.5): {args.sheet}")
    finish_run(args.json, numbers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
