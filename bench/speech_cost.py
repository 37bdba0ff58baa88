"""What the ``speech`` analyzer costs: per minute of audio, and inside ``vidlens analyze`` on 720p video.

    python bench/speech_cost.py [--repeat 3] [--json bench/_out/speech_cost.json]

1. Component cost per minute of audio, on 73 s of recorded speech (asterisk-core-sounds-en-wav's
   ``demo-instruct.wav``, looped to 3 minutes): Silero VAD inference (16 kHz mono, the analyzer's
   blocks of 256 chunks, one thread) and BS.1770 loudness (48 kHz stereo).
2. End to end on forensics-samples' 720p ``movie-hello.mp4`` looped 8 times with its AAC stereo
   track (66 s, ~2000 frames), interleaved rounds, best wall time of ``--repeat``:
   (d) VideoReader decode only (audio demuxed and decoded, as always), (s) ``pipeline.run(['speech']).timeline``,
   (g) the default analyzers, (g+s) the default analyzers plus speech.
   The speech analyzer's own time (its stage seconds: VAD + loudness + finish, on the main thread
   while the decode thread runs) is given as a share of the decode time (d).
"""

from __future__ import annotations

import argparse
import time
import wave
from pathlib import Path

import numpy as np

from _common import finish_run, hello_720p_long, markdown_table, print_machine_info
from vidlens import pipeline
from vidlens.analyzers import DEFAULT_ANALYZERS
from vidlens.analyzers.speech import VAD_SPEC, SpeechAnalyzer
from vidlens.media import AudioChunk, VideoReader, probe
from vidlens.media.loudness import LoudnessMeter

SPEECH = Path("/usr/share/asterisk/sounds/en_US_f_Allison/demo-instruct.wav")


def speech_16k(minutes: float) -> np.ndarray:
    with wave.open(str(SPEECH)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    x = np.interp(np.arange(2 * x.size) / 2, np.arange(x.size), x).astype(np.float32)  # 8 -> 16 kHz
    return np.resize(x, int(minutes * 60 * 16000))


def vad_seconds_per_minute(minutes: float = 3.0) -> tuple[float, float]:
    """(seconds of VAD work per minute of audio, speech ratio found) through the analyzer's own code."""
    x = speech_16k(minutes)
    analyzer = SpeechAnalyzer()
    analyzer.start(probe_stub())
    t0 = time.perf_counter()
    for i in range(0, x.size, 1024):  # decoder-sized chunks
        analyzer.process_audio(AudioChunk(VAD_SPEC, x[None, i: i + 1024], i / 16000, ("FC",)))
    analyzer._run_vad(final=True)
    seconds = time.perf_counter() - t0
    probs = np.concatenate(analyzer._probs)
    return seconds / minutes, float((probs >= 0.5).mean())


def loudness_seconds_per_minute(minutes: float = 3.0) -> float:
    x = np.resize(speech_16k(minutes), int(minutes * 60 * 48000))  # level, not content, matters here
    stereo = np.stack([x, x])
    meter = LoudnessMeter(("FL", "FR"))
    t0 = time.perf_counter()
    for i in range(0, stereo.shape[1], 1024):
        meter.push(stereo[:, i: i + 1024])
    meter.steps()
    return (time.perf_counter() - t0) / minutes


def probe_stub():
    """Any VideoInfo with audio: the analyzer only reads ``has_audio`` from it."""
    return probe(hello_720p_long(audio=True))


def end_to_end(path: Path, repeat: int) -> dict:
    runs = {
        "d": ("VideoReader decode only", lambda: sum(1 for _ in VideoReader(path).frames(prefetch=32))),
        "s": ("pipeline.run ['speech']", lambda: pipeline.run(path, ["speech"], hash_file=False)),
        "g": (f"pipeline.run default {list(DEFAULT_ANALYZERS)}", lambda: pipeline.run(path, None, hash_file=False)),
        "g+s": ("pipeline.run default + speech",
                lambda: pipeline.run(path, [*DEFAULT_ANALYZERS, "speech"], hash_file=False).timeline),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    stage: dict[str, list[float]] = {"s": [], "g+s": []}
    frames = 0
    for r in range(repeat):
        for key, (_, run) in runs.items():
            t0 = time.perf_counter()
            out = run()
            times[key].append(time.perf_counter() - t0)
            if key in stage:
                stage[key].append(out.analysis["stages_s"]["speech"])
                frames = out.video["frame_count"]
            print(f"  round {r + 1} ({key}) {times[key][-1]:.3f}s", flush=True)
    best = {k: min(v) for k, v in times.items()}
    return {"frames": frames, "wall_s": best, "all_wall_s": times,
            "speech_stage_s": {k: min(v) for k, v in stage.items()},
            "labels": {k: v[0] for k, v in runs.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    print_machine_info()
    if not SPEECH.is_file():
        raise SystemExit(f"{SPEECH} is missing (scripts/install-system-packages.sh installs it)")
    path = hello_720p_long(audio=True)
    info = probe(path)
    audio_min = (info.duration_s or 0) / 60
    vad, ratio = vad_seconds_per_minute()
    loud = loudness_seconds_per_minute()
    print(f"\nper minute of audio: VAD {vad:.3f}s (speech found in {ratio:.0%} of chunks), loudness {loud:.3f}s")
    e2e = end_to_end(path, args.repeat)
    w, st = e2e["wall_s"], e2e["speech_stage_s"]
    rows = [[k, e2e["labels"][k], f"{w[k]:.3f}", f"{e2e['frames'] / w[k]:.0f}", f"{w[k] / w['d']:.2f}"] for k in w]
    print(f"\n{path.name}: {e2e['frames']} frames, {audio_min * 60:.1f}s of audio\n")
    print(markdown_table(["key", "run", "best wall s", "frames/s", "x decode"], rows))
    share = st["g+s"] / w["d"]
    print(f"\nspeech stage (VAD + loudness + finish) inside g+s: {st['g+s']:.3f}s = {share:.1%} of decode (d); "
          f"alone (s): {st['s']:.3f}s; wall g+s vs g: {w['g+s'] / w['g'] - 1:+.1%}")
    finish_run(args.json, {"vad_s_per_audio_min": vad, "loudness_s_per_audio_min": loud, "vad_speech_ratio": ratio,
                           "file": path.name, "audio_s": audio_min * 60, **e2e, "speech_share_of_decode": share})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
