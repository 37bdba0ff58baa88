"""Models: the registry, shapes, order (in)variance, ONNX export parity, ensembles and saved bundles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from vidlens.errors import UsageError  # noqa: E402
from vidlens.predict import bundle  # noqa: E402
from vidlens.train.bundle import load_bundle, save_bundle  # noqa: E402
from vidlens.train.models import ARCHITECTURES, Ensemble, build_model  # noqa: E402

torch.set_num_threads(1)
DIM, STEPS, FRAMES, SIZE, CLASSES = 12, 6, 4, 32, 3

#: Small versions of every trainable architecture (name, hyper-parameters).
SMALL = [
    ("meanpool", {"input_dim": DIM, "steps": STEPS, "hidden": 16}),
    ("lstm", {"input_dim": DIM, "steps": STEPS, "hidden": 16, "layers": 2, "deltas": False}),
    ("gru", {"input_dim": DIM, "steps": STEPS, "hidden": 16, "bidirectional": True}),
    ("tcn", {"input_dim": DIM, "steps": STEPS, "hidden": 16, "levels": 2}),
    ("transformer", {"input_dim": DIM, "steps": STEPS, "width": 16, "heads": 2, "layers": 1}),
    ("r2plus1d", {"frames": FRAMES, "size": SIZE, "width": 4, "differences": True}),
]


def small(arch: str, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model(arch, CLASSES, **dict(SMALL)[arch])
    return model.eval()


def random_inputs(model, batch: int, seed: int = 1) -> tuple:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(batch, *t.shape[1:], generator=generator) for t in model.example_inputs(1))


def test_registry_covers_every_trainable_architecture():
    assert {name for name, _ in SMALL} | {"ensemble"} == set(ARCHITECTURES)
    assert {a.input_kind for a in ARCHITECTURES.values()} == {"features", "clip", "ensemble"}


@pytest.mark.parametrize(("arch", "hp"), SMALL, ids=[a for a, _ in SMALL])
def test_forward_gives_finite_logits_and_records_hyper_parameters(arch, hp):
    model = small(arch)
    logits = model(*random_inputs(model, 5))
    assert logits.shape == (5, CLASSES) and torch.isfinite(logits).all()
    assert model.arch == arch and model.hyper_parameters.items() >= hp.items()
    rebuilt = build_model(arch, CLASSES, **model.hyper_parameters)  # hyper-parameters are enough to rebuild
    rebuilt.load_state_dict(model.state_dict())


@pytest.mark.parametrize(("arch", "hp", "message"), [
    ("resnet3000", {}, "unknown architecture"),
    ("gru", {"hiden": 8}, "no hyper-parameter hiden"),
    ("tcn", {"kernel": 4}, "odd"),
    ("transformer", {"width": 10, "heads": 4}, "divisible"),
    ("r2plus1d", {"size": 4}, "size >= 16"),
])
def test_bad_architectures_and_hyper_parameters_are_usage_errors(arch, hp, message):
    with pytest.raises(UsageError, match=message):
        build_model(arch, CLASSES, **hp)


def test_meanpool_is_blind_to_order_and_temporal_heads_are_not():
    x = random_inputs(small("meanpool"), 4)[0]
    reversed_x = x.flip(1)
    with torch.no_grad():
        torch.testing.assert_close(small("meanpool")(x), small("meanpool")(reversed_x))
        for arch in ("lstm", "gru", "tcn", "transformer"):
            model = small(arch)
            assert not torch.allclose(model(x), model(reversed_x), atol=1e-5), arch


def test_input_standardisation_lives_in_the_model():
    x = random_inputs(small("gru"), 3)[0]
    mean, std = torch.linspace(0.2, 0.6, DIM), torch.linspace(0.5, 2.0, DIM)
    fitted = small("gru")
    fitted.set_input_stats(mean.numpy(), std.numpy())
    with torch.no_grad():
        torch.testing.assert_close(fitted(x), small("gru")((x - mean) / std))
    clip_model = small("r2plus1d")
    clip_model.set_input_stats([0.4, 0.5, 0.6], [0.2, 0.25, 0.3])
    assert clip_model.norm.mean.flatten().tolist() == pytest.approx([0.4, 0.5, 0.6])


def export_and_run(model, path: Path, batch: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Export with a dynamic batch axis, then compare ONNX Runtime with torch on a different batch size."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, model.example_inputs(2), str(path), dynamo=False, opset_version=17,
                          input_names=list(model.input_names), output_names=[bundle.OUTPUT_NAME],
                          dynamic_axes={name: {0: "batch"} for name in [*model.input_names, bundle.OUTPUT_NAME]})
    inputs = random_inputs(model, batch, seed=7)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {name: t.numpy() for name, t in zip(model.input_names, inputs)})[0]
    with torch.no_grad():
        return onnx_out, model(*inputs).numpy()


@pytest.mark.parametrize("arch", [a for a, _ in SMALL])
def test_onnx_export_matches_torch(arch, tmp_path):
    model = small(arch)
    if arch != "r2plus1d":
        model.set_input_stats(np.full(DIM, 0.5), np.full(DIM, 0.3))
    else:  # give batch-norm non-trivial running statistics, as after training
        model.train()
        with torch.no_grad():
            model(*random_inputs(model, 4, seed=3))
    onnx_out, torch_out = export_and_run(model, tmp_path / f"{arch}.onnx")
    assert onnx_out.shape == (3, CLASSES)
    np.testing.assert_allclose(onnx_out, torch_out, atol=1e-4)


def test_ensemble_averages_member_probabilities_and_exports_with_two_inputs(tmp_path):
    head, cnn = small("gru"), small("r2plus1d")
    ensemble = Ensemble([head, cnn], inputs=[0, 1]).eval()
    assert ensemble.input_names == ("features", "clip")
    features, clip = random_inputs(ensemble, 4)
    with torch.no_grad():
        expected = (torch.softmax(head(features), 1) + torch.softmax(cnn(clip), 1)) / 2
        torch.testing.assert_close(torch.softmax(ensemble(features, clip), 1), expected)
    onnx_out, torch_out = export_and_run(ensemble, tmp_path / "ensemble.onnx")
    np.testing.assert_allclose(onnx_out, torch_out, atol=1e-4)


def test_learned_ensemble_trains_only_its_weights_and_keeps_members_in_eval_mode():
    members = [small("gru"), small("tcn")]
    ensemble = Ensemble(members, mode="learned").train()
    assert [name for name, p in ensemble.named_parameters() if p.requires_grad] == ["weight_logits"]
    assert ensemble.training and not any(m.training for m in ensemble.members)
    with pytest.raises(UsageError, match="at least 2"):
        Ensemble(members[:1])
    with pytest.raises(UsageError, match="number of classes"):
        Ensemble([members[0], build_model("gru", CLASSES + 1, **dict(SMALL)["gru"])])


def save_small_bundle(directory: Path, arch: str = "gru"):
    model = small(arch)
    model.set_input_stats(np.full(DIM, 0.5), np.full(DIM, 0.3))
    classes = ["pan_left", "pan_right", "static"]
    save_bundle(directory, model, classes=classes, inputs=[bundle.feature_input(steps=STEPS, fps=4.0, dim=DIM)],
                       training={"config": {"epochs": 3}}, metrics={"accuracy": 0.5})
    return model, classes


def test_bundle_round_trip_gives_the_same_predictions(tmp_path):
    model, classes = save_small_bundle(tmp_path / "model")
    loaded, meta = load_bundle(tmp_path / "model")
    x = random_inputs(model, 4)[0]
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    on_disk = json.loads((tmp_path / "model" / bundle.META_FILE).read_text())
    assert on_disk == meta
    assert meta["format"] == bundle.BUNDLE_FORMAT and meta["classes"] == classes and meta["arch"] == "gru"
    assert meta["inputs"][0] == {**bundle.feature_input(steps=STEPS, fps=4.0, dim=DIM), "name": "features",
                                 "shape": ["batch", STEPS, DIM]}
    assert meta["output"] == {"name": "logits", "shape": ["batch", 3], "activation": "softmax"}
    assert meta["training"] == {"config": {"epochs": 3}} and meta["metrics"] == {"accuracy": 0.5}


def test_ensemble_bundle_round_trip(tmp_path):
    ensemble = Ensemble([small("gru"), small("r2plus1d")], inputs=[0, 1], mode="learned")
    with torch.no_grad():
        ensemble.weight_logits.copy_(torch.tensor([0.3, -0.2]))
    specs = [bundle.feature_input(steps=STEPS, fps=4.0, dim=DIM), bundle.clip_input(frames=FRAMES, size=SIZE, stride=2)]
    save_bundle(tmp_path / "ens", ensemble, classes=["a", "b", "c"], inputs=specs)
    loaded, meta = load_bundle(tmp_path / "ens")
    assert [s["name"] for s in meta["inputs"]] == ["features", "clip"]
    inputs = random_inputs(ensemble.eval(), 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded(*inputs), ensemble(*inputs))


@pytest.mark.parametrize(("spec", "message"), [
    (bundle.feature_input(steps=STEPS + 1, fps=4.0, dim=DIM), "steps"),
    (bundle.feature_input(steps=STEPS, fps=4.0), "dim"),
    (bundle.clip_input(frames=FRAMES, size=SIZE), "takes features, but its spec is of kind 'clip'"),
])
def test_save_refuses_input_specs_that_do_not_fit_the_model(tmp_path, spec, message):
    model = small("gru")
    with pytest.raises(UsageError, match=message):
        save_bundle(tmp_path / "m", model, classes=["a", "b", "c"], inputs=[spec])


def test_broken_bundles_raise_one_line_errors(tmp_path):
    with pytest.raises(bundle.InvalidBundleError, match="not a vidlens model"):
        load_bundle(tmp_path / "nothing")
    save_small_bundle(tmp_path / "m")
    meta = bundle.read_meta(tmp_path / "m")
    bundle.write_meta(tmp_path / "m", {**meta, "hyper_parameters": {**meta["hyper_parameters"], "hidden": 32}})
    with pytest.raises(bundle.InvalidBundleError, match="do not fit"):
        load_bundle(tmp_path / "m")
    bundle.write_meta(tmp_path / "m", {**meta, "format": "vidlens.model/99"})
    with pytest.raises(bundle.InvalidBundleError, match="unsupported model format"):
        bundle.read_meta(tmp_path / "m")
    bundle.write_meta(tmp_path / "m", meta)
    (tmp_path / "m" / bundle.WEIGHTS_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(bundle.InvalidBundleError, match="do not fit"):
        load_bundle(tmp_path / "m")


def test_metadata_and_input_preparation_need_no_torch(tmp_path):
    save_small_bundle(tmp_path / "m")
    code = ("import sys; sys.modules['torch'] = None\n"  # any import of torch now fails
            "from vidlens.predict import bundle, inputs, predictor\n"
            "from vidlens.train import metrics, plots, video_inputs\n"
            "import numpy as np\n"
            f"meta = bundle.read_meta({str(tmp_path / 'm')!r})\n"
            "spec = meta['inputs'][0]\n"
            "x = inputs.prepare_features(np.zeros((20, spec['dim'])), spec['steps'])\n"
            "print(meta['classes'][0], x.shape)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["pan_left", f"({STEPS},", f"{DIM})"]
