"""Compressed variants of trained models: INT8 files run and agree with fp32, pruned files hold the requested
zeros and still run, every variant is measured on the same test clips and registered in the bundle, losses
beyond a point are flagged, and bad requests fail with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from tests.support.actions import make_appearance_dataset  # noqa: E402
from vidlens import api  # noqa: E402
from vidlens.cli import main  # noqa: E402
from vidlens.errors import UsageError  # noqa: E402
from vidlens.predict.bundle import clip_input, read_meta  # noqa: E402
from vidlens.predict.predictor import OnnxPredictor  # noqa: E402
from vidlens.train.bundle import save_bundle  # noqa: E402
from vidlens.train.compress import (  # noqa: E402
    ACCURACY_TOLERANCE,
    REPORT_FILE,
    comparison_table,
    compress_bundle,
    prune_amounts,
    variant_path,
)
from vidlens.train.export import check_inputs, export_onnx  # noqa: E402
from vidlens.train.models import build_model  # noqa: E402
from vidlens.train.prune import make_permanent, prune_global, sparsity  # noqa: E402

torch.set_num_threads(1)
APPEARANCE = ("cat", "coffee", "rocket")


def weight_zero_share(path) -> float:
    """Share of exact zeros among the ONNX file's weight matrices and kernels (initializers of 2+ dims)."""
    from onnx import numpy_helper

    arrays = [numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer]
    weights = [a for a in arrays if a.ndim >= 2 and a.size > 16]
    return sum(int((a == 0).sum()) for a in weights) / sum(a.size for a in weights)


@pytest.fixture(scope="module")
def gru_bundle(tmp_path_factory):
    """A GRU head trained (in seconds) on cat / coffee / rocket clips, with its recorded splits."""
    root = tmp_path_factory.mktemp("compress")
    dataset = make_appearance_dataset(root / "data", 7, classes=APPEARANCE, frames=8, size=(64, 64), fps=8)
    summary = api.train_classifier(dataset, root / "model", cache=root / "cache", progress=False, arch="gru",
                                   epochs=10, hyper_parameters={"hidden": 32}, threads=1)
    assert summary["test"]["accuracy"] >= 0.6, summary
    return root / "model", dataset, root / "cache"


def test_every_variant_is_built_measured_on_the_same_test_clips_and_registered(gru_bundle):
    bundle, dataset, cache = gru_bundle
    report = compress_bundle(bundle, int8=["dynamic", "static"], prune=[0.3, 0.5], finetune_epochs=1, dataset=dataset,
                             cache_dir=cache, runs=5, progress=False)
    names = [v["name"] for v in report["variants"]]
    assert names == ["fp32", "int8_dynamic", "int8_static", "pruned30", "pruned50"]
    assert json.loads((bundle / REPORT_FILE).read_text())["variants"] == report["variants"]
    assert report["test_set"]["source"] == "the split recorded in the model" and report["test_set"]["samples"] >= 3
    table = comparison_table(report)
    assert table.row_count == len(names) and [c.header for c in table.columns][:2] == ["variant", "MB"]
    fp32 = report["variants"][0]
    assert fp32["agreement"] == 1.0 and fp32["accuracy"] is not None
    meta = read_meta(bundle)
    predictor = OnnxPredictor(bundle)
    inputs = [x.numpy() for x in check_inputs(torch_model(bundle), 16, seed=3)]
    reference = predictor.predict_arrays(inputs)
    for variant in report["variants"]:
        path = variant_path(bundle, variant["name"])
        assert path.is_file() and path.name == variant["file"] and variant["size_bytes"] == path.stat().st_size
        assert set(variant["latency_ms"]) == {"1", "2"} and all(v > 0 for v in variant["latency_ms"].values())
        # flagged exactly when it loses more than the tolerance against fp32 on the test clips
        assert bool(variant["warnings"]) == (variant["accuracy_change"] < -ACCURACY_TOLERANCE)
        if variant["name"] != "fp32":
            assert meta["variants"][variant["name"]]["file"] == variant["file"]
        probs = OnnxPredictor(bundle, path).predict_arrays(inputs)
        assert probs.shape == reference.shape and np.allclose(probs.sum(axis=1), 1.0)
        if variant["name"].startswith("int8"):
            assert variant["size_bytes"] < 0.6 * fp32["size_bytes"]
            agree = np.mean(probs.argmax(axis=1) == reference.argmax(axis=1))
            assert agree >= 0.75 and np.median(np.abs(probs - reference).max(axis=1)) < 0.1, (variant["name"], agree)
    for amount, name in ((0.3, "pruned30"), (0.5, "pruned50")):
        variant = next(v for v in report["variants"] if v["name"] == name)
        assert variant["sparsity"] == pytest.approx(amount, abs=0.005)
        assert weight_zero_share(bundle / variant["file"]) == pytest.approx(amount, abs=0.03)
        assert variant["gzip_bytes"] < fp32["gzip_bytes"] * (1 - amount / 2)  # zeros pay off compressed
    assert next(v for v in report["variants"] if v["name"] == "pruned30")["method"].endswith("fine-tuned 1 epoch(s)")


def torch_model(bundle):
    from vidlens.train.bundle import load_bundle

    return load_bundle(bundle)[0]


def test_without_a_dataset_only_size_and_latency_are_measured(tmp_path):
    """An untrained 3D-CNN is enough to check the files: dynamic INT8 and 50 % pruning, no fine-tuning."""
    torch.manual_seed(0)
    model = build_model("r2plus1d", 3, frames=4, size=32, width=4)
    bundle = save_bundle(tmp_path / "model", model.eval(), classes=["a", "b", "c"],
                         inputs=[clip_input(frames=4, size=32)])
    report = compress_bundle(bundle, int8="dynamic", prune=[0.5], runs=3, progress=False)  # exports model.onnx
    assert [v["name"] for v in report["variants"]] == ["fp32", "int8_dynamic", "pruned50"]
    assert all(v["accuracy"] is None and v["agreement"] is None for v in report["variants"])
    assert report["test_set"] is None and report["finetune_epochs"] == 0 and report["backbone_ms_per_clip"] is None
    pruned = report["variants"][2]
    assert pruned["method"].endswith("not fine-tuned") and weight_zero_share(bundle / pruned["file"]) >= 0.47
    clip = np.random.default_rng(0).random((2, 3, 4, 32, 32), dtype=np.float32)
    for variant in report["variants"]:
        probs = OnnxPredictor(bundle, bundle / variant["file"]).predict_arrays([clip])
        assert probs.shape == (2, 3) and np.isfinite(probs).all()


def test_pruning_zeroes_the_smallest_weights_across_layers_and_keeps_them_zero():
    torch.manual_seed(0)
    model = build_model("gru", 2, input_dim=16, steps=4, hidden=8)
    prune_global(model, 0.4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    loss = model(torch.randn(4, 4, 16)).sum()
    loss.backward()
    optimizer.step()  # the masks keep pruned weights at zero through training
    make_permanent(model)
    found = sparsity(model)
    assert found["prunable_sparsity"] == pytest.approx(0.4, abs=0.002)
    assert 0 < found["parameter_sparsity"] < found["prunable_sparsity"]
    assert all(not name.endswith(("_orig", "_mask")) for name in model.state_dict())


@pytest.mark.parametrize(("args", "message"), [
    (["--int8", "static"], "calibrates on real inputs"),
    (["--int8", "fast"], "unknown INT8 mode"),
    (["--prune", "1.5"], "fraction between 0 and 1"),
    (["--prune", "half"], "fractions like 0.3,0.5"),
    (["--prune", "0.3", "--finetune-epochs", "2"], "needs the dataset"),
])
def test_bad_requests_fail_with_one_line(args, message, tmp_path, capsys):
    model = build_model("meanpool", 2, input_dim=8, steps=2, hidden=4)
    bundle = save_bundle(tmp_path / "m", model, classes=["x", "y"],
                         inputs=[{"kind": "features", "backbone": "efficientnet_lite0", "dim": 8, "steps": 2,
                                  "fps": 4.0}])
    export_onnx(bundle)
    assert main(["export", str(bundle), *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert main(["export", str(tmp_path / "nothing")]) == 2
    assert "vidlens_model.json" in capsys.readouterr().err
    with pytest.raises(UsageError, match="no variant 'int4'"):
        variant_path(bundle, "int4")
    assert prune_amounts([0.3, 0.5, 0.3]) == [0.3, 0.5]
    with pytest.raises(UsageError, match="not the string"):
        prune_amounts("0.3,0.5")  # parsing comma lists is the CLI's job
