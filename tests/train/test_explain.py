"""Explanations point at what defines the class: the step that carries a temporal toy's signal, the moving
object's box for a 3D-CNN trained on object_up / object_down / static, the pasted object for a feature head
over the ONNX backbone; and ``explain`` writes its files and fails on bad input with one line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.support.actions import ClipTruth, render_action_clip  # noqa: E402
from tests.support.photos import list_photos, load_photo  # noqa: E402
from tests.support.temporal_toys import pulse_sequences  # noqa: E402
from vidlens.cli import main  # noqa: E402
from vidlens.errors import MediaNotFoundError, UsageError  # noqa: E402
from vidlens.media import probe  # noqa: E402
from vidlens.media.encode import encode_video  # noqa: E402
from vidlens.predict.bundle import InvalidBundleError, clip_input, feature_input  # noqa: E402
from vidlens.predict.inputs import prepare_clip  # noqa: E402
from vidlens.predict.predictor import OnnxPredictor, stack_inputs  # noqa: E402
from vidlens.runtime.backbone import backbone_input  # noqa: E402
from vidlens.train.attribution import grad_cam, spearman, step_importance  # noqa: E402
from vidlens.train.bundle import save_bundle  # noqa: E402
from vidlens.train.explain import (  # noqa: E402
    backbone_occlusion,
    explain_video,
    write_explanation,
)
from vidlens.train.export import export_onnx  # noqa: E402
from vidlens.train.loop import TrainConfig, seed_everything, train  # noqa: E402
from vidlens.train.models import build_model  # noqa: E402
from vidlens.train.torch_datasets import ClipDataset, FeatureSequenceDataset  # noqa: E402
from vidlens.train.video_inputs import clip_inputs  # noqa: E402

torch.set_num_threads(1)
SIZE, FRAMES = 48, 8
MOTION = ("object_up", "object_down", "static")


def box_share_over_chance(heat: np.ndarray, box: tuple[float, float, float, float]) -> float | None:
    """Share of the (positive) heat inside ``box`` divided by the box's share of the image: 1 = chance."""
    positive = np.clip(heat, 0, None)
    if positive.sum() <= 0:
        return None
    x0, y0, x1, y1 = (round(v) for v in box)
    mask = np.zeros(heat.shape, bool)
    mask[max(0, y0): y1, max(0, x0): x1] = True
    return float(positive[mask].sum() / positive.sum() / mask.mean())


def test_temporal_importance_points_at_the_step_that_carries_the_class(tmp_path):
    """One random step per sequence holds the class; integrated gradients and the occlusion check must both
    rank it first far more often than chance (1 in 8), and agree with each other."""
    train_set = FeatureSequenceDataset(*pulse_sequences(200, seed=0)[:2], steps=8)
    val_set = FeatureSequenceDataset(*pulse_sequences(64, seed=1)[:2], steps=8, train=False)
    seed_everything(0)
    model = build_model("gru", 2, input_dim=16, steps=8, hidden=32)
    train(model, train_set, val_set, TrainConfig(epochs=15, batch_size=16, lr=3e-3, patience=0), tmp_path,
          progress=False)
    hits_ig, hits_occlusion, agreement, explained = 0, 0, [], 0
    for x, label, pulse in zip(*pulse_sequences(60, seed=2)):
        xt = torch.from_numpy(x)[None]
        if int(model(xt).argmax()) != label:
            continue
        found = step_importance(model, xt, label)
        explained += 1
        hits_ig += found.top_steps(1)[0] == pulse
        hits_occlusion += int(np.argmax(found.occlusion)) == pulse
        agreement.append(found.agreement or 0.0)
        assert abs(found.completeness_gap) < 0.05 * max(1.0, abs(found.integrated_gradients.sum()))
    assert explained >= 45  # the model learned the task
    assert hits_ig / explained >= 0.7 and hits_occlusion / explained >= 0.6, (hits_ig, hits_occlusion, explained)
    assert np.mean(agreement) > 0.3


@dataclass(frozen=True)
class EverySecondFrame:
    """A clip's truth after keeping frames 0, 2, 4...: frame ``t`` of the clip is frame ``2 t`` as rendered."""

    truth: ClipTruth

    @property
    def label(self) -> str:
        return self.truth.label

    @property
    def object_x(self) -> float | None:
        return self.truth.object_x

    def object_xyxy(self, frame: int) -> tuple[float, float, float, float] | None:
        return self.truth.object_xyxy(2 * frame)


@pytest.fixture(scope="module")
def motion_model(tmp_path_factory):
    """A tiny R(2+1)D trained on object_up / object_down / static clips from real photos (48 px, 8 frames).

    Clips are rendered at 16 frames and every second one is kept, so objects move 2-4 px a frame, and there are
    162 training clips: with the generator's own 1-2 px and 108 clips the model learned the task on 2 of 8
    seeds in the old budget (best validation macro-F1 0.37-1.0), and the Grad-CAM of a model that did not learn
    says nothing. Now 8 of 8 seeds (data, weights, order) and 2 threads reach 0.89-1.0. Threads are pinned
    (results differ between thread counts) and every epoch runs (early stopping cut slow starters short)."""
    pool = list_photos()

    def clips(n: int, seed: int):
        out, labels, truths = [], [], []
        for i in range(n):
            label = MOTION[i % len(MOTION)]
            frames, truth = render_action_clip(label, np.random.default_rng([seed, i]), frames=2 * FRAMES,
                                               size=(SIZE, SIZE), photos=pool)
            out.append(np.stack(frames[::2]))
            labels.append(i % len(MOTION))
            truths.append(EverySecondFrame(truth))
        return out, labels, truths

    train_clips, train_labels, _ = clips(162, 0)
    val_clips, val_labels, _ = clips(36, 1)
    seed_everything(0)
    model = build_model("r2plus1d", len(MOTION), frames=FRAMES, size=SIZE, width=8, dropout=0.1)
    result = train(model, ClipDataset(train_clips, train_labels, size=SIZE, frames=FRAMES),
                   ClipDataset(val_clips, val_labels, size=SIZE, frames=FRAMES, train=False),
                   TrainConfig(epochs=20, batch_size=12, lr=3e-3, patience=0, threads=1),
                   tmp_path_factory.mktemp("motion"), progress=False)
    assert result.best_score >= 0.8, [r["val_accuracy"] for r in result.history]
    return model, clips(36, 2)


def test_grad_cam_concentrates_on_the_moving_object(motion_model):
    """Grad-CAM on the last residual block (``grad_cam``'s default) puts more of its heat on the moving object's
    box than chance in nearly every correctly classified object clip.

    Measured over 8 seeds (data, weights and order; one thread) and seed 0 on 2 threads: median 1.45-1.77x
    chance, 96-100 % of clips above it. The finer block ``explain`` uses at 48-95 px (``cam_layer``: 6 cells a
    side but 2 time cells for 8 frames), which this test used to assert on, is not consistent across seeds
    (median 0.99-2.65x, 50-100 % of clips above chance), so the test passed or failed with the seed."""
    model, (clips, labels, truths) = motion_model
    ratios = []
    for clip, label, truth in zip(clips, labels, truths):
        if truth.object_x is None:  # static clips: no moving object to find
            continue
        x = torch.from_numpy(prepare_clip(clip, FRAMES, SIZE))[None]
        if int(model(x).argmax()) != label:
            continue
        cam = grad_cam(model, x, label)
        assert cam.shape == (FRAMES, SIZE, SIZE) and cam.min() >= 0 and cam.max() in (0.0, pytest.approx(1.0))
        per_frame = [box_share_over_chance(cam[t], truth.object_xyxy(t)) for t in range(FRAMES)]
        ratios.append(np.mean([r or 0.0 for r in per_frame]))  # an empty map counts as a miss
    assert len(ratios) >= 16, "the model should get most object clips right"
    assert np.median(ratios) > 1.2 and np.mean(np.array(ratios) > 1.0) >= 0.8, np.round(ratios, 2)


def test_explain_video_writes_json_plot_overlays_and_mp4(motion_model, tmp_path):
    model, (clips, _, truths) = motion_model
    bundle = save_bundle(tmp_path / "model", model, classes=list(MOTION), inputs=[clip_input(frames=FRAMES, size=SIZE)])
    pick = next(i for i, t in enumerate(truths) if t.label == "object_down")
    video = encode_video(tmp_path / "down.mp4", list(clips[pick]), fps=Fraction(8))
    explanation = explain_video(bundle, video)
    files = write_explanation(explanation, tmp_path / "out", mp4=True)
    report = json.loads((tmp_path / "out" / "explain.json").read_text())
    assert report["schema"] == "vidlens.explain/1" and report["model"]["arch"] == "r2plus1d"
    assert report["prediction"]["class"] in MOTION and report["explained"] == {
        k: report["prediction"][k] for k in ("class", "index", "probability")}
    assert [s["frame"] for s in report["steps"]] == list(range(FRAMES))
    assert [s["time"] for s in report["steps"]] == pytest.approx([i / 8 for i in range(FRAMES)])
    assert sum(s["cam_mass"] for s in report["steps"]) == pytest.approx(1.0, abs=1e-3)
    assert report["methods"]["spatial"]["method"] == "grad-cam"
    for step in report["steps"]:
        image = cv2.imread(str(tmp_path / "out" / step["overlay"]))
        assert image is not None and image.shape[1] == 320
    assert cv2.imread(str(tmp_path / "out" / files["plot"])) is not None
    assert probe(tmp_path / "out" / files["video"]).frame_count == FRAMES
    # the explained input is the deployed one: ONNX Runtime on the predictor's input gives the same probabilities
    export_onnx(bundle)
    predictor = OnnxPredictor(bundle)
    deployed = predictor.predict_arrays(stack_inputs([clip_inputs(predictor, video)]))[0]
    assert deployed == pytest.approx(explanation.probabilities, abs=1e-4)
    # another class on request; its probability is the model's for that class
    other = explain_video(bundle, video, class_name="static")
    assert other.target == MOTION.index("static")
    assert other.probabilities == pytest.approx(explanation.probabilities)


def _pasted_object_clip(rng: np.random.Generator, label: int, backgrounds, objects, *, frames: int = 4,
                        side: int = 224, obj: int = 80):
    """Frames of a random background crop with a photo of the class object pasted at a random place."""
    background = load_photo(backgrounds[int(rng.integers(len(backgrounds)))])
    h, w = background.shape[:2]
    s = int(rng.integers(min(h, w) // 2, min(h, w) + 1))
    y0, x0 = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
    frame = cv2.resize(background[y0: y0 + s, x0: x0 + s], (side, side), interpolation=cv2.INTER_AREA)
    photo = load_photo(objects[label])
    ph, pw = photo.shape[:2]
    c = min(ph, pw)
    patch = cv2.resize(photo[(ph - c) // 2: (ph - c) // 2 + c, (pw - c) // 2: (pw - c) // 2 + c], (obj, obj),
                       interpolation=cv2.INTER_AREA)
    oy, ox = int(rng.integers(0, side - obj + 1)), int(rng.integers(0, side - obj + 1))
    frame[oy: oy + obj, ox: ox + obj] = patch
    clip = [np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8) for _ in range(frames)]
    return np.stack(clip), (ox, oy, ox + obj, oy + obj)


def test_feature_head_occlusion_map_finds_the_object_that_defines_the_class(tmp_path):
    """Cat vs coffee cup pasted anywhere over other photos: masking the object must cost the most."""
    from vidlens.runtime import load_model

    photos = {p.name: p for p in list_photos()}
    objects = [photos["chelsea.png"], photos["coffee.png"]]
    backgrounds = [p for p in photos.values() if p not in objects]
    backbone = load_model("efficientnet_lite0")
    rng = np.random.default_rng(0)

    def sequences(n: int):
        made = [_pasted_object_clip(rng, i % 2, backgrounds, objects) for i in range(n)]
        return [backbone.run(backbone_input(list(c)))["features"].astype(np.float32) for c, _ in made], \
            [i % 2 for i in range(n)], made

    train_x, train_y, _ = sequences(16)
    val_x, val_y, _ = sequences(8)
    seed_everything(0)
    model = build_model("gru", 2, input_dim=1280, steps=4, hidden=32)
    train(model, FeatureSequenceDataset(train_x, train_y, steps=4),
          FeatureSequenceDataset(val_x, val_y, steps=4, train=False), TrainConfig(epochs=10, batch_size=8, lr=3e-3),
          tmp_path / "run", progress=False)
    test_x, test_y, test_made = sequences(2)
    for x, label, (clip, box) in zip(test_x, test_y, test_made):
        top = step_importance(model, torch.from_numpy(x)[None], label).top_steps(1)  # the frame explain maps
        heat, p = backbone_occlusion(model, x, top, clip[top[0]], label, backbone, grid=7)
        assert heat.shape == (224, 224) and p > 0.5
        assert box_share_over_chance(heat, box) > 1.5
    # end to end from a video: the bundle's feature input, the maps on the top frame
    bundle = save_bundle(tmp_path / "model", model, classes=["cat", "coffee"],
                         inputs=[feature_input(steps=4, fps=None)])
    clip, box = test_made[0]
    video = encode_video(tmp_path / "cat.mp4", list(clip), fps=Fraction(4))
    explanation = explain_video(bundle, video, top_frames=1)
    assert explanation.classes[explanation.predicted] == "cat"
    mapped = [s for s in explanation.steps if s.heatmap is not None]
    assert len(mapped) == 1 and box_share_over_chance(mapped[0].heatmap, box) > 1.5
    write_explanation(explanation, tmp_path / "out")
    report = json.loads((tmp_path / "out" / "explain.json").read_text())
    assert report["methods"]["spatial"]["method"] == "occlusion through the backbone"
    assert [s["frame"] for s in report["steps"]] == [0, 1, 2, 3]
    assert sum("overlay" in s for s in report["steps"]) == 1


def test_spearman_matches_the_definition():
    assert spearman(np.array([1, 2, 3, 4.0]), np.array([10, 20, 30, 40.0])) == pytest.approx(1.0)
    assert spearman(np.array([1, 2, 3, 4.0]), np.array([4, 3, 2, 1.0])) == pytest.approx(-1.0)
    assert spearman(np.array([1, 1, 1.0]), np.array([1, 2, 3.0])) is None


def test_bad_inputs_fail_with_one_line(motion_model, tmp_path, capsys):
    model, (clips, _, _) = motion_model
    bundle = save_bundle(tmp_path / "model", model, classes=list(MOTION), inputs=[clip_input(frames=FRAMES, size=SIZE)])
    video = encode_video(tmp_path / "clip.mp4", list(clips[0]), fps=Fraction(8))
    with pytest.raises(UsageError, match=r"unknown class 'jumping'.*object_up"):
        explain_video(bundle, video, class_name="jumping")
    with pytest.raises(MediaNotFoundError):
        explain_video(bundle, tmp_path / "missing.mp4")
    with pytest.raises(InvalidBundleError):
        explain_video(tmp_path, video)
    not_video = tmp_path / "notes.mp4"
    not_video.write_bytes(b"not a video at all" * 100)
    cases = [([str(bundle), str(video), "-o", str(tmp_path / "o"), "--class", "jumping"], "unknown class"),
             ([str(bundle), str(not_video), "-o", str(tmp_path / "o")], "notes.mp4"),
             ([str(tmp_path / "nowhere"), str(video), "-o", str(tmp_path / "o")], "vidlens_model.json")]
    for args, message in cases:
        assert main(["explain", *args]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines
