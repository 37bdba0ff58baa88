"""Copy, verify and measure Silero VAD.  Runs INSIDE the throwaway torch venv (the ``torch`` toolchain).

Not imported by vidlens: ``tools/convert_models.py`` runs it as
``<venv>/bin/python tools/convert/silero_vad_worker.py --model silero_vad --config CONFIG.json --work DIR``.

Nothing is converted: the silero-vad wheel already ships ONNX exports.  Two of them run the same network:
``silero_vad.onnx``, the streaming model (one 32 ms chunk of 512 samples at 16 kHz per call, plus 64 samples of
context, LSTM state in and out), and ``silero_vad_16k_sequence.onnx``, which takes a whole block of chunks (each
with its context) and runs the LSTM over them inside one call.  Both are checked against the package's own
reference runtime, its TorchScript model ``silero_vad.jit`` called chunk by chunk as ``get_speech_timestamps``
does, on real speech (Allison Smith's recorded prompts from Debian's asterisk-core-sounds-en-wav) with silence,
noise and a tone between the clips.  The file named in ``SHIPPED`` is copied to DIR; ``result.json`` holds the
figures: max abs difference of the per-chunk speech probabilities, the reference's speech timestamps, and
latency per chunk of both ONNX files.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import wave
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from worker import THREADS, log, median_ms, versions  # tools/convert is this script's folder

RATE = 16000
CHUNK = 512
CONTEXT = 64
BLOCK = 512  # chunks per sequence-model call (16.4 s), as the package's SileroVADSequence does
SHIPPED = "silero_vad/data/silero_vad_16k_sequence.onnx"
STREAMING = "silero_vad/data/silero_vad.onnx"
REFERENCE = "silero_vad/data/silero_vad.jit"


def package_root() -> Path:
    """The folder holding ``silero_vad/`` (found without importing the package, which loads torch hub code)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("silero-vad is not installed in this venv")
    return Path(next(iter(spec.submodule_search_locations))).parent


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise SystemExit(f"{path}: expected 16-bit mono PCM")
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    if rate == RATE:
        return x
    if rate * 2 != RATE:
        raise SystemExit(f"{path}: {rate} Hz; only 8 and 16 kHz are handled here")
    up = np.zeros(2 * x.size, dtype=np.float32)  # 2x: zero-stuff, then a windowed-sinc low-pass at 4 kHz
    up[::2] = x
    n = np.arange(-32, 33)
    h = np.sinc(n / 2) * np.hamming(n.size)
    return np.convolve(up, (h / h.sum() * 2).astype(np.float32), mode="same")


def test_signal(speech_files: list[str]) -> tuple[np.ndarray, list[dict]]:
    """Clips separated by 1.5 s of digital silence, faint noise or a 440 Hz tone; returns the signal and where
    each clip was put (seconds)."""
    rng = np.random.default_rng(0)
    fillers = [np.zeros(int(1.5 * RATE), np.float32),
               (0.003 * rng.standard_normal(int(1.5 * RATE))).astype(np.float32),
               (0.1 * np.sin(2 * np.pi * 440 * np.arange(int(1.5 * RATE)) / RATE)).astype(np.float32)]
    parts, placed, t = [], [], 0.0
    for k, path in enumerate(speech_files):
        parts.append(fillers[k % len(fillers)])
        t += parts[-1].size / RATE
        clip = read_wav(Path(path))
        placed.append({"file": Path(path).name, "start_s": round(t, 3), "end_s": round(t + clip.size / RATE, 3)})
        parts.append(clip)
        t += clip.size / RATE
    parts.append(fillers[0])
    return np.concatenate(parts), placed


def chunks_of(audio: np.ndarray) -> np.ndarray:
    n = -(-audio.size // CHUNK)
    out = np.zeros(n * CHUNK, np.float32)
    out[: audio.size] = audio
    return out.reshape(n, CHUNK)


def reference_probs(jit_path: Path, audio: np.ndarray) -> tuple[np.ndarray, float]:
    model = torch.jit.load(str(jit_path), map_location="cpu").eval()
    model.reset_states()
    probs = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for chunk in chunks_of(audio):
            probs.append(model(torch.from_numpy(chunk), RATE).item())
    return np.asarray(probs, np.float32), (time.perf_counter() - t0) * 1000 / len(probs)


def with_context(chunks: np.ndarray) -> np.ndarray:
    """Each chunk prefixed with the last 64 samples of the previous one (zeros first), as the model expects."""
    ctx = np.zeros((len(chunks), CONTEXT), np.float32)
    ctx[1:] = chunks[:-1, -CONTEXT:]
    return np.concatenate([ctx, chunks], axis=1)


def streaming_probs(sess, audio: np.ndarray) -> np.ndarray:
    state = np.zeros((2, 1, 128), np.float32)
    sr = np.array(RATE, dtype=np.int64)
    probs = []
    for x in with_context(chunks_of(audio)):
        out, state = sess.run(None, {"input": x[None], "state": state, "sr": sr})
        probs.append(float(out[0, 0]))
    return np.asarray(probs, np.float32)


def sequence_probs(sess, audio: np.ndarray) -> np.ndarray:
    x = with_context(chunks_of(audio))
    h = np.zeros((1, 1, 128), np.float32)
    c = np.zeros((1, 1, 128), np.float32)
    probs = []
    for i in range(0, len(x), BLOCK):
        p, h, c = sess.run(None, {"input": x[i: i + BLOCK], "h": h, "c": c})
        probs.append(p)
    return np.concatenate(probs).astype(np.float32)


def session(path: Path, threads: int = THREADS) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def io_spec(sess) -> dict:
    return {"inputs": [{"name": i.name, "shape": i.shape, "type": i.type} for i in sess.get_inputs()],
            "outputs": [{"name": o.name, "shape": o.shape, "type": o.type} for o in sess.get_outputs()]}


def silero_vad(cfg: dict, work: Path) -> dict:
    root = package_root()
    audio, placed = test_signal(cfg["speech"])
    log(f"test signal: {audio.size / RATE:.1f} s, clips at {placed}")
    ref, jit_ms = reference_probs(root / REFERENCE, audio)
    shipped_sess, stream_sess = session(root / SHIPPED), session(root / STREAMING)
    seq, stream = sequence_probs(shipped_sess, audio), streaming_probs(stream_sess, audio)

    from silero_vad.utils_vad import get_speech_timestamps_from_probs
    ref_segments = get_speech_timestamps_from_probs(ref.tolist(), sampling_rate=RATE, return_seconds=True,
                                                    time_resolution=3, audio_length_samples=audio.size)
    verification = {
        "reference": f"{REFERENCE} (TorchScript, torch {torch.__version__.split('+')[0]}), called chunk by chunk",
        "audio": f"{audio.size / RATE:.1f} s at 16 kHz: {len(placed)} recorded speech clips between digital silence, "
                 "noise at -50 dBFS and a 440 Hz tone",
        "speech_clips": placed,
        "chunks": len(ref),
        "max_abs_diff_probs": float(np.abs(seq - ref).max()),
        "max_abs_diff_probs_streaming_onnx": float(np.abs(stream - ref).max()),
        "max_abs_diff_probs_sequence_vs_streaming_onnx": float(np.abs(seq - stream).max()),
        "chunks_over_0.5_reference": int((ref >= 0.5).sum()),
        "chunks_over_0.5_disagreeing": int(((seq >= 0.5) != (ref >= 0.5)).sum()),
        "reference_speech_timestamps_s": [{"start": s["start"], "end": s["end"]} for s in ref_segments],
    }
    log(f"verification: {json.dumps(verification)}")

    x = with_context(chunks_of(audio))
    h = np.zeros((1, 1, 128), np.float32)
    block = min(BLOCK, len(x))
    latency: dict[str, dict[str, float]] = {"sequence_onnx": {}, "streaming_onnx": {}}
    for threads in (1, THREADS):  # this small model may run faster on one thread (the vidlens analyzer's choice)
        key = f"{threads}_thread{'s' if threads > 1 else ''}"
        seq_ms = median_ms({"s": session(root / SHIPPED, threads)}, {"input": x[:block], "h": h, "c": h.copy()})["s"]
        latency["sequence_onnx"][key] = round(seq_ms / block, 4)
        latency["streaming_onnx"][key] = median_ms({"s": session(root / STREAMING, threads)}, {
            "input": x[:1], "state": np.zeros((2, 1, 128), np.float32), "sr": np.array(RATE, dtype=np.int64)})["s"]
    latency["torchscript_reference"] = {f"{THREADS}_threads": round(jit_ms, 3)}
    log(f"latency ms per chunk: {latency}")

    shipped = work / Path(SHIPPED).name
    shipped.write_bytes((root / SHIPPED).read_bytes())
    return {
        "model": "silero_vad", "copied": True,
        "fp32": {"file": shipped.name, "bytes": shipped.stat().st_size},
        "weights_path": SHIPPED,
        "io": {"shipped": io_spec(shipped_sess), "streaming": io_spec(stream_sess)},
        "verification": verification,
        "latency_ms_per_chunk": latency,
        "sequence_block_chunks": block,
        "threads": THREADS,
        "int8_candidates": [],
        "versions": versions(),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=["silero_vad"])
    ap.add_argument("--config", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    cfg = json.loads(args.config.read_text())
    if not cfg.get("speech"):
        raise SystemExit("no speech recordings in the config (install asterisk-core-sounds-en-wav)")
    args.work.mkdir(parents=True, exist_ok=True)
    result = silero_vad(cfg, args.work)
    (args.work / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {args.work / 'result.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
