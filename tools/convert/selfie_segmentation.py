"""Convert, fix, verify and measure MediaPipe's selfie segmentation.  Runs INSIDE the "tf" conversion venv.

Not imported by vidlens and never run by users: ``tools/convert_models.py`` executes it as
``<venv>/bin/python tools/convert/selfie_segmentation.py --model NAME --config CONFIG.json --work DIR --wheel WHL``.
The mediapipe wheel is only unzipped (never installed: it would pull OpenCV, matplotlib, ...).

Steps: tf2onnx ``--tflite`` (opset 17); replace MediaPipe's custom op ``Convolution2DTransposeBias``, which
tf2onnx leaves in the graph as ``TFL_Convolution2DTransposeBias`` (onnxruntime refuses the model), by
Transpose -> ConvTranspose -> Transpose built from the op's ``custom_options`` read from the .tflite; make the
batch dimension dynamic (the Reshape targets of the squeeze-excite blocks hard-code batch 1); name the output
``mask``; run the onnx checker.  Then verify against ``tf.lite.Interpreter`` on real photos and measure the
latency of fp32 and a static INT8 QDQ candidate.  Writes ``DIR/result.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import tensorflow as tf
from onnx import helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from tf2onnx.tflite.Model import Model as TFLiteModel

OPSET = 17
THREADS = 2
WARMUP, RUNS = 3, 20
CUSTOM_OP = "Convolution2DTransposeBias"
#: the general (square) model only: the landscape one (144x256) is cheaper, but missed both people of opencv-doc's
#: basketball1.png and took more of coffee.png for a person; at a few sampled frames per second neither costs much
TFLITE = {"selfie_segmentation": "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"}
#: photos with people in them (and one without, the cat, which is the hard case for a person segmenter)
PHOTOS = ("astronaut", "messi", "basketball", "coffee", "chelsea", "motorcycle_left", "rocket")
PEOPLE = ("astronaut", "messi", "basketball")
PADDING = {1: "SAME", 2: "VALID"}  # TfLitePadding


def log(msg: str) -> None:
    print(f"[selfie] {msg}", flush=True)


def sci(x: float) -> float:
    return float(f"{x:.3g}")


# --------------------------------------------------------------------------------------------------------------
# conversion


def custom_op_params(tflite: Path) -> dict:
    """The custom op's options (a packed TfLiteTransposeConvParams: padding, stride_w, stride_h) and tensors."""
    buf = tflite.read_bytes()
    model = TFLiteModel.GetRootAsModel(buf, 0)
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    graph = model.Subgraphs(0)
    found = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        if codes[op.OpcodeIndex()].CustomCode() == CUSTOM_OP.encode():
            padding, stride_w, stride_h = np.frombuffer(op.CustomOptionsAsNumpy().tobytes(), np.int32)[:3]
            out = graph.Tensors(op.Outputs(0))
            found.append({"padding": PADDING[int(padding)], "stride_w": int(stride_w), "stride_h": int(stride_h),
                          "output": out.Name().decode(), "output_shape": out.ShapeAsNumpy().tolist()})
    if len(found) != 1:
        raise SystemExit(f"expected one {CUSTOM_OP} op in {tflite.name}, found {len(found)}")
    return found[0]


def fix_custom_op(model: onnx.ModelProto, params: dict) -> None:
    """Replace the TFL_ node (NHWC in, NHWC out, weights OHWI, bias) by Transpose -> ConvTranspose -> Transpose."""
    graph = model.graph
    nodes = [n for n in graph.node if n.op_type == f"TFL_{CUSTOM_OP}"]
    if len(nodes) != 1:
        raise SystemExit(f"expected one TFL_{CUSTOM_OP} node, found {len(nodes)}")
    node = nodes[0]
    inits = {i.name: i for i in graph.initializer}
    weights = numpy_helper.to_array(inits[node.input[1]])  # OHWI (out, kh, kw, in)
    bias = numpy_helper.to_array(inits[node.input[2]])
    out_c, kh, kw, _ = weights.shape
    if params["padding"] != "SAME" or (kh, kw) != (params["stride_h"], params["stride_w"]):
        # SAME with kernel == stride needs no padding (out = in * stride); anything else would need pads here
        raise SystemExit(f"unexpected {CUSTOM_OP} params {params} for kernel {(kh, kw)}")
    name = node.name
    w_name, b_name = f"{name}_W_iohw", f"{name}_B"
    graph.initializer.extend([
        numpy_helper.from_array(np.ascontiguousarray(weights.transpose(3, 0, 1, 2)), w_name),  # (in, out, kh, kw)
        numpy_helper.from_array(bias.reshape(out_c).astype(np.float32), b_name),
    ])
    new = [
        helper.make_node("Transpose", [node.input[0]], [f"{name}_nchw"], perm=[0, 3, 1, 2], name=f"{name}_to_nchw"),
        helper.make_node("ConvTranspose", [f"{name}_nchw", w_name, b_name], [f"{name}_conv"], name=f"{name}_convt",
                         kernel_shape=[kh, kw], strides=[params["stride_h"], params["stride_w"]], pads=[0, 0, 0, 0]),
        helper.make_node("Transpose", [f"{name}_conv"], [node.output[0]], perm=[0, 2, 3, 1], name=f"{name}_to_nhwc"),
    ]
    at = list(graph.node).index(node)
    graph.node.remove(node)
    for k, n in enumerate(new):
        graph.node.insert(at + k, n)
    used = {i for n in graph.node for i in n.input}
    for init in [i for i in graph.initializer if i.name in (node.input[1], node.input[2]) and i.name not in used]:
        graph.initializer.remove(init)


def dynamic_batch(model: onnx.ModelProto, output_name: str) -> None:
    """Batch dimension 'batch' on the input and output; Reshape targets [1, ...] become [-1, ...]."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Reshape" and node.input[1] in inits:
            shape = numpy_helper.to_array(inits[node.input[1]])
            if shape[0] == 1 and -1 not in shape:
                shape = shape.copy()
                shape[0] = -1
                inits[node.input[1]].CopyFrom(numpy_helper.from_array(shape, node.input[1]))
    for value in [*graph.input, *graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    old = graph.output[0].name
    for node in graph.node:
        node.output[:] = [output_name if o == old else o for o in node.output]
        node.input[:] = [output_name if i == old else i for i in node.input]
    graph.output[0].name = output_name
    del graph.value_info[:]  # stale batch-1 shapes; the checker's inference redoes them


def canonical_names(model: onnx.ModelProto) -> None:
    """Make the graph's bytes independent of the run: tf2onnx's node order and generated names
    (``const_fold_opt__459``, ``Transpose__307``) change from run to run.  Each tensor gets a structural signature
    (a hash of what computes it: op, attributes, input signatures; initializer bytes), nodes are sorted
    topologically with ties broken by signature, and generated names are renumbered in that order."""
    graph = model.graph
    generated = re.compile(r"__\d+")
    sig: dict[str, str] = {v.name: v.name for v in graph.input}
    sig |= {i.name: hashlib.sha256(i.SerializeToString().replace(i.name.encode(), b"")).hexdigest()
            for i in graph.initializer}
    pending = list(graph.node)
    ordered = []
    while pending:
        ready = [n for n in pending if all(i in sig or not i for i in n.input)]
        if not ready:
            raise SystemExit("graph has a cycle or a dangling input")
        keyed = []
        for node in ready:
            attrs = b"".join(a.SerializeToString() for a in sorted(node.attribute, key=lambda a: a.name))
            key = hashlib.sha256(f"{node.domain}:{node.op_type}:{[sig.get(i, '') for i in node.input]}".encode()
                                 + attrs).hexdigest()
            keyed.append((key, node))
        key, node = min(keyed, key=lambda kn: kn[0])
        for k, out in enumerate(node.output):
            sig[out] = f"{key}:{k}"
        ordered.append(node)
        pending.remove(node)
    keep = {v.name for v in [*graph.input, *graph.output]}
    names: dict[str, str] = {}

    def canon(name: str, prefix: str) -> str:
        if not name or name in keep or not generated.search(name):
            return name
        return names.setdefault(name, f"{prefix}_{len(names)}")

    for node in ordered:
        node.input[:] = [canon(i, "t") for i in node.input]
        node.output[:] = [canon(o, "t") for o in node.output]
        node.name = canon(node.name, "n")
    nodes = [onnx.NodeProto.FromString(n.SerializeToString()) for n in ordered]
    del graph.node[:]
    graph.node.extend(nodes)
    first_use = {}
    for node in nodes:
        for i in node.input:
            first_use.setdefault(i, len(first_use))
    inits = []
    for init in graph.initializer:
        init = onnx.TensorProto.FromString(init.SerializeToString())
        init.name = names.get(init.name, init.name)
        inits.append(init)
    inits.sort(key=lambda i: (first_use.get(i.name, len(first_use)), i.name))
    del graph.initializer[:]
    graph.initializer.extend(inits)


def convert(name: str, wheel: Path, work: Path) -> tuple[Path, Path, dict, str]:
    with zipfile.ZipFile(wheel) as z:
        tflite = work / Path(TFLITE[name]).name
        tflite.write_bytes(z.read(TFLITE[name]))
    raw = work / f"{name}.tf2onnx.onnx"
    cmd = [sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite), "--output", str(raw),
           "--opset", str(OPSET)]
    log("$ " + " ".join(cmd[1:]))
    subprocess.run(cmd, check=True, capture_output=True)
    params = custom_op_params(tflite)
    model = onnx.load(str(raw))
    original_output = model.graph.output[0].name
    fix_custom_op(model, params)
    dynamic_batch(model, "mask")
    canonical_names(model)
    model.graph.doc_string = f"{TFLITE[name]} from {wheel.name}, converted by tf2onnx (vidlens tools/convert_models.py)"
    onnx.checker.check_model(model, full_check=True)
    fixed = work / f"{name}.onnx"
    onnx.save(model, str(fixed))
    log(f"fixed {fixed.name}: {fixed.stat().st_size / 1e6:.2f} MB, custom op params {params}")
    return tflite, fixed, params, original_output


# --------------------------------------------------------------------------------------------------------------
# verification and measurement


def session(path: Path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = THREADS, 1, 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def load_photo(path: str, height: int, width: int) -> np.ndarray:
    """RGB photo stretched to the model input (MediaPipe's ImageToTensorCalculator: keep_aspect_ratio false), [0,1]."""
    img = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    img = tf.image.resize(tf.cast(img, tf.float32) / 255.0, (height, width), method="bilinear", antialias=True)
    return img.numpy().astype(np.float32)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def median_ms(sessions: dict[str, ort.InferenceSession], feed: dict) -> dict[str, float]:
    """Median of RUNS timed runs after WARMUP, the sessions taking turns in 4 blocks (noisy shared machine)."""
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for sess in sessions.values():
        for _ in range(WARMUP):
            sess.run(None, feed)
    for _ in range(4):
        for key, sess in sessions.items():
            time.sleep(0.05)  # let the other session's pool threads stop spinning
            sess.run(None, feed)
            for _ in range(RUNS // 4):
                t0 = time.perf_counter()
                sess.run(None, feed)
                times[key].append((time.perf_counter() - t0) * 1000.0)
    return {k: round(statistics.median(v), 2) for k, v in times.items()}


class ListReader(CalibrationDataReader):
    def __init__(self, name: str, samples: list[np.ndarray]):
        self._it = iter([{name: s} for s in samples])

    def get_next(self):
        return next(self._it, None)


def run(name: str, cfg: dict, work: Path, wheel: Path) -> dict:
    tflite, fp32, params, original_output = convert(name, wheel, work)
    interp = tf.lite.Interpreter(model_path=str(tflite))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    _, height, width, _ = inp["shape"]
    photos = {k: load_photo(cfg["photos"][k], height, width) for k in PHOTOS if k in cfg["photos"]}
    x = np.stack(list(photos.values()))
    ref = []
    for img in x:
        interp.set_tensor(inp["index"], img[None])
        interp.invoke()
        ref.append(interp.get_tensor(out["index"])[0])
    ref = np.stack(ref)
    sess = session(fp32)
    onnx_batch = sess.run(None, {"input_1": x})[0]
    onnx_single = np.concatenate([sess.run(None, {"input_1": img[None]})[0] for img in x])
    diff = np.abs(onnx_batch.astype(np.float64) - ref)
    verification = {
        "reference": f"tf.lite.Interpreter (tensorflow {tf.__version__}) on the original .tflite",
        "photos": list(photos),
        "max_abs_diff": sci(diff.max()), "mean_abs_diff": sci(diff.mean()),
        "max_abs_diff_batch_vs_single": sci(np.abs(onnx_batch - onnx_single).max()),
        "mask_iou_at_0.5": {k: round(iou(ref[i] > 0.5, onnx_batch[i] > 0.5), 5) for i, k in enumerate(photos)},
        "person_fraction_tflite": {k: round(float((ref[i] > 0.5).mean()), 4) for i, k in enumerate(photos)},
        "person_fraction_onnx": {k: round(float((onnx_batch[i] > 0.5).mean()), 4) for i, k in enumerate(photos)},
    }
    log(f"verification: {json.dumps(verification)}")

    # ---- INT8 static QDQ candidate (calibrated on the photos and their mirrors)
    q_path = work / f"{name}.int8-qdq.onnx"
    calib = [img[None] for img in x] + [img[None, :, ::-1].copy() for img in x]
    quantize_static(str(fp32), str(q_path), ListReader("input_1", calib), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    for extra in work.glob("augmented_model*.onnx"):
        extra.unlink()
    qs = session(q_path)
    q_out = qs.run(None, {"input_1": x})[0]
    b1 = median_ms({"fp32": sess, "int8": qs}, {"input_1": x[:1]})
    x8 = np.concatenate([x, x[:, :, ::-1]])[:8]
    b8 = median_ms({"fp32": sess, "int8": qs}, {"input_1": x8})
    cand = {
        "tag": "default", "op_types_to_quantize": "default", "file": q_path.name, "bytes": q_path.stat().st_size,
        "latency_ms_batch1": b1["int8"], "latency_ms_batch8": b8["int8"],
        "max_abs_diff_vs_fp32": sci(np.abs(q_out - onnx_batch).max()),
        "mask_iou_vs_fp32": {k: round(iou(q_out[i] > 0.5, onnx_batch[i] > 0.5), 4) for i, k in enumerate(photos)},
    }
    cand["mask_iou_vs_fp32_min_people"] = min(cand["mask_iou_vs_fp32"][k] for k in PEOPLE if k in photos)
    log(f"int8 candidate: {json.dumps(cand)}; latency ms batch 1 {b1}, batch 8 {b8}")
    return {
        "model": name, "fp32": {"file": fp32.name, "bytes": fp32.stat().st_size},
        "weights_path": TFLITE[name], "custom_op": {"name": CUSTOM_OP, **params},
        "original_output": original_output, "input_size": [int(height), int(width)],
        "verification": verification,
        "fp32_latency_ms_batch1": b1["fp32"], "fp32_latency_ms_batch8": b8["fp32"],
        "frames": len(x8), "videos": {}, "int8_candidates": [cand],
        "versions": {"python": sys.version.split()[0], "tensorflow": tf.__version__,
                     "tf2onnx": __import__("tf2onnx").__version__, "onnx": onnx.__version__,
                     "onnxruntime": ort.__version__, "numpy": np.__version__},
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=list(TFLITE))
    ap.add_argument("--config", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--wheel", required=True, type=Path, help="the mediapipe wheel (unzipped, not installed)")
    args = ap.parse_args()
    cfg = json.loads(args.config.read_text())
    args.work.mkdir(parents=True, exist_ok=True)
    result = run(args.model, cfg, args.work, args.wheel)
    (args.work / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {args.work / 'result.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
