"""Why a trained model predicted what it did on one video: which steps (frames) and which regions mattered.

The model input is built from the video as the bundle describes it (``inputs`` of ``vidlens_model.json``),
by the same code as training's evaluation and :class:`~vidlens.predict.predictor.OnnxPredictor`
(:mod:`vidlens.train.video_inputs`): for a feature head the per-frame backbone features at the recorded rate
and their TSN segment centres, for the 3D-CNN the centred window of frames, centre square resized. Then:

- **temporal importance** of each step, for the predicted class or a given one
  (:mod:`vidlens.train.attribution`): integrated gradients from the model's average training input, summed
  per step, *checked* by occlusion (each step replaced by its predecessor, drop of the class's log-odds).
  The two are independent (a gradient path integral versus a forward-only ablation); their rank agreement
  is reported, so an importance that is only gradient noise shows up as disagreement.
- **spatial heat maps**:

  * 3D-CNN (``r2plus1d``): Grad-CAM on its deepest residual block whose map is still at least
    :data:`CAM_MIN_CELLS` cells a side (the last block for inputs of 96 px and more; one stage earlier at
    48-95 px, where the last block is 3-5 cells and its upsampled map says little more than "somewhere
    in this third"), for every frame of the window;
  * feature heads: the backbone is ONNX (no torch gradients), so the map is **occlusion sensitivity through
    the backbone**: a grid of grey patches (``grid`` x ``grid`` positions, each patch two strides wide so
    neighbours overlap) masks the frame one at a time, EfficientNet-Lite0 recomputes that frame's feature in
    ONNX Runtime, the head reruns with it, and each pixel gets the mean drop of the class's log-odds over the
    patches covering it (log-odds rather than probability: see :mod:`vidlens.train.attribution`). It costs
    ``grid**2 + 1`` backbone runs per frame, so only the ``top_frames`` most important steps get a map
    (7 x 7 and 3 frames: about 150 runs, ~3 s on two cores).

Outputs (:func:`write_explanation`): ``explain.json`` (prediction, methods, the agreement check, and per step
its frame index, time, importance, occlusion drop, heat-map statistics), ``importance.png`` (bar plot),
``steps/step_NN.png`` overlays (heat map blended over the square the model sees, with the class,
probability and step importance written on it) and, on request, ``explain.mp4`` with every step, two a second.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from ..errors import UsageError
from ..files import write_text_atomic
from ..media import probe
from ..objects.pose import KEYPOINT_NAMES
from ..predict.bundle import DEFAULT_BACKBONE, spec_fps
from ..predict.inputs import centre_square, prepare_clip, prepare_features, segment_positions, window_positions
from ..predict.motion import flow_grid
from ..predict.pose_stream import BOX, DXY, KEYPOINTS, PRESENT, XYC
from ..predict.streams import APPEARANCE, MOTION, POSE, STREAMS, spec_streams, stream_slice
from ..runtime.backbone import backbone_input
from .attribution import StepImportance, grad_cam, integrated_gradients, log_odds, step_importance
from .bundle import load_bundle
from .dataset import Sample
from .features import compute_features
from .plots import step_importance_image, write_png
from .sampling import read_frames
from .video_inputs import decode_clip_frames

EXPLAIN_SCHEMA = "vidlens.explain/1"
JSON_FILE = "explain.json"
PLOT_FILE = "importance.png"
STEPS_DIR = "steps"
VIDEO_FILE = "explain.mp4"
#: Side of the overlay images (the model's square view, scaled).
DISPLAY = 320
#: Smallest Grad-CAM grid (cells a side) worth showing; see the module docstring.
CAM_MIN_CELLS = 6
#: Grey that masks a patch: 127 is zero after the backbone's ``(x - 127) / 128``.
MASK_VALUE = 127
#: Overlay video rate: each step is shown for half a second.
VIDEO_FPS = Fraction(2)


@dataclass
class ExplainedStep:
    """One model input step: where it is in the video, how much it mattered, and its heat map if computed.

    ``heatmap`` is ``float32 [h, w]`` over the square the model sees, 0 = no support: Grad-CAM scaled so the
    clip's maximum is 1, or the occlusion drop of the class's log-odds (not rescaled; negative drops clipped
    to 0).
    """

    step: int
    frame: int
    time: float
    importance: float
    occlusion_drop: float
    image: np.ndarray  # uint8 RGB: the square the model sees, at the decoded resolution
    heatmap: np.ndarray | None = None
    cam_mass: float | None = None
    max_drop: float | None = None
    flow: np.ndarray | None = None  # motion inputs: [4, 4, 3] flow per cell of the whole frame (drawn as arrows)
    keypoints: np.ndarray | None = None  # pose inputs: [17, 3] x, y (fractions of the square) and attribution

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step, "frame": self.frame, "time": round(self.time, 6),
                               "importance": round(float(self.importance), 6),
                               "occlusion_drop": round(float(self.occlusion_drop), 6)}
        if self.cam_mass is not None:
            out["cam_mass"] = round(float(self.cam_mass), 6)
        if self.max_drop is not None:
            out["spatial_max_drop"] = round(float(self.max_drop), 6)
        return out


@dataclass
class Explanation:
    """What :func:`explain_video` found. ``target`` is the explained class (the predicted one by default)."""

    model_dir: Path
    video: Path
    start: float | None
    end: float | None
    arch: str
    classes: list[str]
    probabilities: np.ndarray
    target: int
    steps: list[ExplainedStep]
    importance: StepImportance
    methods: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.probabilities))

    def to_dict(self) -> dict[str, Any]:
        def named(index: int) -> dict[str, Any]:
            return {"class": self.classes[index], "index": index,
                    "probability": round(float(self.probabilities[index]), 6)}

        top = self.importance.top_steps(1)
        occlusion_top = int(np.argmax(self.importance.occlusion))
        agreement = self.importance.agreement
        return {
            "schema": EXPLAIN_SCHEMA,
            "model": {"path": str(self.model_dir), "arch": self.arch, "classes": self.classes},
            "video": {"path": str(self.video), "start": self.start, "end": self.end},
            "prediction": {**named(self.predicted),
                           "probabilities": {c: round(float(p), 6) for c, p in zip(self.classes, self.probabilities)}},
            "explained": named(self.target),
            "methods": self.methods,
            "check": {"spearman_importance_vs_occlusion": None if agreement is None else round(agreement, 4),
                      "top_step_importance": top[0] if top else None, "top_step_occlusion": occlusion_top,
                      "completeness_gap": round(self.importance.completeness_gap, 6)},
            "steps": [s.to_dict() | ({"overlay": self.files[f"step_{s.step}"]} if f"step_{s.step}" in self.files
                                     else {}) for s in self.steps],
            "files": {k: v for k, v in self.files.items() if not k.startswith("step_")},
        }


# --------------------------------------------------------------------------- inputs from a video

def _sample(video: Path, start: float | None, end: float | None) -> Sample:
    return Sample(video, "explained", start, end)


def _feature_input(video: Path, spec: dict[str, Any], start: float | None, end: float | None, backbone):
    """The head's input ``[steps, D]`` (as :mod:`vidlens.train.video_inputs` builds it) and the step frames'
    video indices and times."""
    if spec.get("backbone", DEFAULT_BACKBONE) != DEFAULT_BACKBONE:
        raise UsageError(f"this model reads features of {spec.get('backbone')!r}; vidlens ships {DEFAULT_BACKBONE}")
    streams = spec_streams(spec)
    cached = compute_features(_sample(video, start, end), backbone if APPEARANCE in streams else None,
                              fps=spec_fps(spec), side=streams)
    positions = segment_positions(len(cached), int(spec["steps"]))
    rows = cached.rows(streams)
    return prepare_features(rows, int(spec["steps"])), cached.indices[positions], cached.times[positions]


def _clip_input(video: Path, spec: dict[str, Any], start: float | None, end: float | None):
    """The clip model's input ``[3, T, size, size]`` (as :mod:`vidlens.train.video_inputs` builds it), the
    window's frames at the decoded resolution (for the overlays) and their video indices and times."""
    sampled = decode_clip_frames(_sample(video, start, end), spec)
    window = window_positions(len(sampled.frames), int(spec["frames"]))
    x = prepare_clip(sampled.frames, int(spec["frames"]), int(spec["size"]))
    indices, times = sampled.indices[window], sampled.times[window]
    return x, read_frames(video, indices, None), indices, times


def _square(frame: np.ndarray) -> np.ndarray:
    x, y, w, h = centre_square(frame.shape[0], frame.shape[1])
    return frame[y: y + h, x: x + w]


# --------------------------------------------------------------------------- spatial maps

def cam_layer(model: torch.nn.Module, size: int, min_cells: int = CAM_MIN_CELLS) -> tuple[int, torch.nn.Module]:
    """The R(2+1)D block Grad-CAM uses: the deepest whose output is at least ``min_cells`` a side for
    ``size`` px inputs (else the first block), with its index in ``model.stages``."""
    stages = model.stages
    probe_input = torch.zeros(1, 3, 1, size, size)
    sizes: list[int] = []
    with torch.no_grad():
        h = model.stem(probe_input)
        for block in stages:
            h = block(h)
            sizes.append(int(h.shape[-1]))
    index = max((i for i, s in enumerate(sizes) if s >= min_cells), default=0)
    return index, stages[index]


def backbone_occlusion(model: torch.nn.Module, sequence: np.ndarray, steps: Sequence[int], square: np.ndarray,
                       target: int, backbone, *, grid: int = 7, batch: int = 16) -> tuple[np.ndarray, float]:
    """Occlusion sensitivity of one frame through the ONNX backbone: ``float32 [224, 224]`` drops of the
    class's log-odds (mean over the patches covering each pixel) and the unmasked probability.

    ``sequence`` is the head's input ``[T, D]``; the frame's recomputed feature replaces rows ``steps`` (a
    frame can fill several steps of a short clip). ``square`` is the frame's backbone view, ``uint8
    [224, 224, 3]`` RGB.
    """
    if grid < 2:
        raise UsageError(f"the occlusion grid needs at least 2 positions a side, got {grid}")
    side = square.shape[0]
    stride = side / (grid + 1)
    patch = round(2 * stride)
    corners = [(round(r * stride), round(c * stride)) for r in range(grid) for c in range(grid)]
    variants = [square]
    for y, x in corners:
        masked = square.copy()
        masked[y: y + patch, x: x + patch] = MASK_VALUE
        variants.append(masked)
    features = np.concatenate([backbone.run(backbone_input(variants[i: i + batch]))["features"]
                               for i in range(0, len(variants), batch)]).astype(np.float32)
    sequences = np.repeat(sequence[None].astype(np.float32), len(variants), axis=0)
    sequences[:, list(steps), : features.shape[1]] = features[:, None]  # appearance columns come first
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(chunk) for chunk in torch.from_numpy(sequences).split(batch)])
    odds = log_odds(logits, target).numpy()
    drops = odds[0] - odds[1:]
    total = np.zeros((side, side))
    count = np.zeros((side, side))
    for (y, x), drop in zip(corners, drops):
        total[y: y + patch, x: x + patch] += drop
        count[y: y + patch, x: x + patch] += 1
    p = float(torch.softmax(logits[:1].double(), dim=1)[0, target])
    return (total / np.maximum(count, 1)).astype(np.float32), p


# --------------------------------------------------------------------------- the whole explanation

def explain_video(model_dir: str | Path, video: str | Path, *, class_name: str | None = None,
                  start: float | None = None, end: float | None = None, top_frames: int = 3,
                  grid: int = 7) -> Explanation:
    """Explain the model's prediction on ``video`` (or its clip ``[start, end)`` seconds) for the predicted
    class, or for ``class_name``. Nothing is written (see :func:`write_explanation`)."""
    model_dir, video = Path(model_dir), Path(video)
    if top_frames < 0:
        raise UsageError(f"top_frames must be >= 0, got {top_frames}")
    model, meta = _explainable_bundle(model_dir, class_name)
    classes = list(meta["classes"])
    probe(video)  # a clear error for a missing or undecodable file before any work
    spec = meta["inputs"][0]
    seen = _model_input(video, spec, start, end)
    x = seen.x
    with torch.no_grad():
        probabilities = torch.softmax(model(x).double(), dim=1)[0].numpy()
    target = classes.index(class_name) if class_name is not None else int(np.argmax(probabilities))
    importance = step_importance(model, x, target)
    steps = [ExplainedStep(i, int(seen.indices[i]), float(seen.times[i]), float(importance.integrated_gradients[i]),
                           float(importance.occlusion[i]), seen.squares[i]) for i in range(len(seen.indices))]
    methods: dict[str, Any] = {
        "temporal": "integrated gradients of the class log-probability from the model's mean training input, "
                    "summed per step",
        "check": "occlusion: each step replaced by the previous one (step 0 by step 1), drop of the class's "
                 "log-odds log(p / (1 - p))",
    }
    if spec["kind"] == "clip":
        methods["spatial"] = _grad_cam_maps(model, x, target, int(spec["size"]), steps)
    elif APPEARANCE in spec_streams(spec):
        methods["spatial"] = _occlusion_maps(model, seen, target, importance.top_steps(top_frames), steps, grid)
    else:
        methods["spatial"] = {"method": "none (no appearance input: the flow field or the keypoints are drawn)"}
    if MOTION in spec_streams(spec):
        _attach_flow(seen, spec, steps)
        methods["flow"] = "motion stream's 4x4 flow field drawn as arrows on each step's frame"
    if POSE in spec_streams(spec):
        methods["pose"] = _attach_keypoints(model, seen, spec, target, steps, probe(video))
    return Explanation(model_dir, video, start, end, meta["arch"], classes, probabilities, target, steps, importance,
                       methods)


def _explainable_bundle(model_dir: Path, class_name: str | None) -> tuple[Any, dict[str, Any]]:
    """The bundle's model and metadata; refused: an unknown class, an ensemble or a model of several inputs."""
    model, meta = load_bundle(model_dir)
    classes = list(meta["classes"])
    if class_name is not None and class_name not in classes:
        raise UsageError(f"unknown class {class_name!r}; this model knows: {', '.join(classes)}")
    if len(meta["inputs"]) != 1 or meta["arch"] == "ensemble":
        raise UsageError(f"explain handles one feature head or one 3D-CNN, not a {meta['arch']} "
                         "(explain its members one by one)")
    return model, meta


@dataclass
class _Input:
    """What the model sees (``x``, batch of one) and where it comes from: frame indices, times, square crops
    (224 px for feature heads); for feature heads also the feature sequence and the backbone that made it."""

    x: torch.Tensor
    indices: Sequence[int]
    times: Sequence[float]
    squares: list[np.ndarray]
    sequence: np.ndarray | None = None
    backbone: Any = None


def _model_input(video: Path, spec: dict[str, Any], start: float | None, end: float | None) -> _Input:
    if spec["kind"] == "features":
        from ..runtime import load_model

        backbone = load_model(DEFAULT_BACKBONE)
        sequence, indices, times = _feature_input(video, spec, start, end, backbone)
        squares = [_square(f) for f in read_frames(video, indices, 224)]
        return _Input(torch.from_numpy(sequence)[None], indices, times, squares, sequence, backbone)
    clip, frames, indices, times = _clip_input(video, spec, start, end)
    return _Input(torch.from_numpy(clip)[None], indices, times, [_square(f) for f in frames])


def _grad_cam_maps(model: Any, x: torch.Tensor, target: int, size: int, steps: list[ExplainedStep]) -> dict[str, Any]:
    """3D-CNN: each step's Grad-CAM heat map and its share of the clip's total; returns the method's record."""
    index, layer = cam_layer(model, size)
    cam = grad_cam(model, x, target, layer=layer)
    mass = cam.sum(axis=(1, 2))
    for step, frame_cam, frame_mass in zip(steps, cam, mass):
        step.heatmap = frame_cam
        step.cam_mass = float(frame_mass / mass.sum()) if mass.sum() > 0 else 0.0
    return {"method": "grad-cam", "layer": f"stages.{index}", "blocks": len(model.stages)}


def _occlusion_maps(model: Any, seen: _Input, target: int, top: Sequence[int], steps: list[ExplainedStep],
                    grid: int) -> dict[str, Any]:
    """Feature heads: occlusion through the backbone for the frames of the most important steps (each frame
    once, its map shared by the steps that show it); returns the method's record."""
    explained: set[int] = set()
    for step_index in top:
        frame = steps[step_index].frame
        if frame in explained:
            continue
        explained.add(frame)
        same = [s.step for s in steps if s.frame == frame]
        drop_map, _ = backbone_occlusion(model, seen.sequence, same, seen.squares[step_index], target, seen.backbone,
                                         grid=grid)
        for s in same:
            steps[s].heatmap = np.clip(drop_map, 0, None)
            steps[s].max_drop = float(drop_map.max())
    return {"method": "occlusion through the backbone", "grid": grid, "patch_px": round(2 * 224 / (grid + 1)),
            "mask": "grey", "frames": sorted(explained)}


# --------------------------------------------------------------------------- drawing and writing

def _caption(image: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    band = np.full((18 * len(lines) + 8, image.shape[1], 3), 255, np.uint8)
    for i, line in enumerate(lines):
        text = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in line)
        cv2.putText(band, text, (6, 18 * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20), 1, cv2.LINE_AA)
    return np.concatenate([band, image])


def overlay(image: np.ndarray, heatmap: np.ndarray | None, *, scale: float | None = None,
            size: int = DISPLAY) -> np.ndarray:
    """The square ``image`` at ``size`` px with ``heatmap`` (values / ``scale``, clipped to [0, 1]) blended
    over it in the JET colours: the stronger the heat, the more colour (cold pixels keep the frame)."""
    base = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if image.shape[0] > size
                      else cv2.INTER_LINEAR).astype(np.float32)
    if heatmap is None:
        return base.astype(np.uint8)
    top = scale if scale is not None else float(heatmap.max())
    heat = np.clip(cv2.resize(heatmap.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
                   / (top if top > 0 else 1.0), 0, 1)
    colours = cv2.cvtColor(cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET),
                           cv2.COLOR_BGR2RGB).astype(np.float32)
    alpha = (0.15 + 0.55 * heat)[..., None]
    return np.clip(base * (1 - alpha) + colours * alpha, 0, 255).astype(np.uint8)


def _attach_flow(seen: _Input, spec: dict[str, Any], steps: list[ExplainedStep]) -> None:
    """Give each step its motion row's 4x4 flow field (dx, dy per cell, fractions of the frame per second)."""
    names = spec_streams(spec)
    lo = sum(STREAMS[n].dim for n in names[: names.index(MOTION)])
    sequence = seen.x[0].numpy()
    for step in steps:
        step.flow = flow_grid(sequence[step.step, lo: lo + STREAMS[MOTION].dim])


def _attach_keypoints(model: Any, seen: _Input, spec: dict[str, Any], target: int, steps: list[ExplainedStep],
                      info: Any) -> dict[str, Any]:
    """Which of the main person's keypoints mattered: integrated gradients of the pose columns, summed per
    keypoint (its position and its velocity), per step and over the clip; each step gets the keypoints placed
    on its square (positions from the in-box coordinates and the box) with their attribution."""
    columns = stream_slice(spec_streams(spec), POSE)
    attributions, _ = integrated_gradients(model, seen.x, target)
    pose_attr = attributions[0].detach().double().numpy()[:, columns]  # [steps, POSE_DIM]
    rows = seen.x[0].numpy()[:, columns]
    per_key = (pose_attr[:, XYC].reshape(len(rows), KEYPOINTS, 3).sum(axis=2)
               + pose_attr[:, DXY].reshape(len(rows), KEYPOINTS, 2).sum(axis=2))  # [steps, 17]
    width, height = float(info.width or 1), float(info.height or 1)
    side = min(width, height)
    for step in steps:
        row = rows[step.step]
        if row[PRESENT] < 0.5:
            continue
        cx, cy, bw, bh = row[BOX]
        xy = row[XYC].reshape(KEYPOINTS, 3)[:, :2]
        fx = (cx - bw / 2 + xy[:, 0] * bw) * width  # frame pixels
        fy = (cy - bh / 2 + xy[:, 1] * bh) * height
        sx, sy = (fx - (width - side) / 2) / side, (fy - (height - side) / 2) / side
        step.keypoints = np.stack([sx, sy, per_key[step.step]], axis=1).astype(np.float32)
    total = per_key.sum(axis=0)
    order = np.argsort(-total, kind="stable")
    return {"method": "integrated gradients of the pose stream's columns summed per keypoint (position and "
                      "velocity), drawn on each step's frame (larger, redder = supports the class more)",
            "keypoints": [{"name": KEYPOINT_NAMES[i], "attribution": round(float(total[i]), 6)} for i in order]}


def draw_keypoints(image: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """A copy of ``image`` with each keypoint as a dot sized and coloured by its attribution (red supports
    the class, blue speaks against it); ``keypoints`` ``[K, 3]``: x, y as fractions of the image, attribution."""
    out = np.ascontiguousarray(image.copy())
    h, w = out.shape[:2]
    span = float(np.abs(keypoints[:, 2]).max()) or 1.0
    for x, y, a in keypoints:
        if not (0 <= x <= 1 and 0 <= y <= 1):
            continue
        strength = abs(float(a)) / span
        colour = (255, int(200 * (1 - strength)), 0) if a >= 0 else (0, int(200 * (1 - strength)), 255)
        cv2.circle(out, (round(x * w), round(y * h)), max(2, round(2 + 6 * strength)), colour, -1, cv2.LINE_AA)
    return out


def draw_flow(image: np.ndarray, grid: np.ndarray, *, seconds: float = 0.5) -> np.ndarray:
    """A copy of ``image`` with one arrow per grid cell: where that cell's content moves in ``seconds``."""
    out = np.ascontiguousarray(image.copy())
    h, w = out.shape[:2]
    cells = grid.shape[0]
    for r in range(cells):
        for c in range(cells):
            x0, y0 = (c + 0.5) * w / cells, (r + 0.5) * h / cells
            x1, y1 = x0 + float(grid[r, c, 0]) * w * seconds, y0 + float(grid[r, c, 1]) * h * seconds
            cv2.arrowedLine(out, (round(x0), round(y0)), (round(x1), round(y1)), (255, 255, 0), 2, cv2.LINE_AA,
                            tipLength=0.3)
    return out


def _step_image(explanation: Explanation, step: ExplainedStep, scale: float | None) -> np.ndarray:
    name = explanation.classes[explanation.target]
    p = explanation.probabilities[explanation.target]
    lines = [f"{name} {100 * p:.1f}%" + ("" if explanation.target == explanation.predicted else " (not predicted)"),
             f"step {step.step + 1}/{len(explanation.steps)}  t={step.time:.2f}s  frame {step.frame}",
             f"importance {step.importance:+.3f}  occlusion {step.occlusion_drop:+.3f}"]
    picture = overlay(step.image, step.heatmap, scale=scale)
    if step.flow is not None:
        picture = draw_flow(picture, step.flow)
    if step.keypoints is not None:
        picture = draw_keypoints(picture, step.keypoints)
    return _caption(picture, lines)


def write_explanation(explanation: Explanation, out_dir: str | Path, *, mp4: bool = False) -> dict[str, str]:
    """Write ``explain.json``, ``importance.png``, overlays of the steps with a heat map and, with ``mp4``,
    ``explain.mp4`` (every step); returns the written files (relative to ``out_dir``) by role."""
    out = Path(out_dir)
    (out / STEPS_DIR).mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    # one colour scale for the whole clip, so frames compare (Grad-CAM is already 0..1 over the clip)
    maps = [s.heatmap for s in explanation.steps if s.heatmap is not None]
    scale = max((float(m.max()) for m in maps), default=0.0) or None
    images = []
    for step in explanation.steps:
        image = _step_image(explanation, step, scale)
        images.append(image)
        if step.heatmap is not None or step.flow is not None or step.keypoints is not None:
            name = f"{STEPS_DIR}/step_{step.step:02d}.png"
            write_png(out / name, image)
            files[f"step_{step.step}"] = name
    name = explanation.classes[explanation.target]
    plot = step_importance_image([f"{s.time:.2f}s" for s in explanation.steps],
                                 explanation.importance.integrated_gradients, explanation.importance.occlusion,
                                 title=f"{name} {100 * explanation.probabilities[explanation.target]:.1f}%: "
                                       "importance per step",
                                 highlight=[s.step for s in explanation.steps if s.heatmap is not None])
    write_png(out / PLOT_FILE, plot)
    files["plot"] = PLOT_FILE
    if mp4:
        from ..media.encode import encode_video

        encode_video(out / VIDEO_FILE, [_even(i) for i in images], fps=VIDEO_FPS)
        files["video"] = VIDEO_FILE
    explanation.files = {**files, "json": JSON_FILE}
    write_text_atomic(out / JSON_FILE, json.dumps(explanation.to_dict(), indent=1, allow_nan=False) + "\n")
    return explanation.files


def _even(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return image[: h - h % 2, : w - w % 2]


def summary_lines(explanation: Explanation) -> list[str]:
    """A few lines for a terminal: the prediction, the most important steps and the check."""
    report = explanation.to_dict()
    pred, explained, check = report["prediction"], report["explained"], report["check"]
    lines = [f"prediction: {pred['class']} ({100 * pred['probability']:.1f}%)"]
    if explained["index"] != pred["index"]:
        lines.append(f"explained class: {explained['class']} ({100 * explained['probability']:.1f}%)")
    for i in explanation.importance.top_steps(3):
        step = explanation.steps[i]
        lines.append(f"  step {i + 1}: frame {step.frame} at {step.time:.2f}s  importance {step.importance:+.3f}  "
                     f"occlusion drop {step.occlusion_drop:+.3f}")
    rho = check["spearman_importance_vs_occlusion"]
    agree = "n/a" if rho is None or (isinstance(rho, float) and math.isnan(rho)) else f"{rho:+.2f}"
    lines.append(f"importance vs occlusion rank agreement (Spearman): {agree}")
    return lines
