"""Fusing trained bundles into one ensemble bundle (``vidlens train --ensemble A B ... -o DIR``).

The members keep their weights; the ensemble averages their class probabilities, with equal weights
(``mean``) or with one weight per member learned on the validation split (``learned``: the members are
frozen, only the weights train). Members that read the same input (two feature heads over the same
backbone features at the same rate and steps) share it, so the exported ONNX file takes each distinct
input once.

Scoring needs the labelled data: by default the dataset and split lists recorded by the first member
(its ``splits/`` are copied, so ``vidlens evaluate ENSEMBLE DATASET`` scores the same test clips). Members
trained on different splits would leak each other's training clips into the test set; that is warned about.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch.utils.data import Dataset as TorchDataset

from ..errors import UsageError
from .bundle import load_bundle, save_bundle
from .dataset import Dataset, check_videos, load_dataset, load_splits
from .evaluation import evaluate
from .export import export_onnx
from .features import FeatureCache
from .fit import EVALUATION_DIR, SPLITS_DIR, TRAINING_DIR, default_cache_dir
from .loop import seed_everything, train
from .models import Ensemble
from .progress import ProgressArg, bar, console_for
from .settings import FuseMode, TrainConfig, choice
from .video_inputs import sample_inputs

#: Keys of an input spec that only name or shape it in one model; the rest says what the input is.
SPEC_LABELS = ("name", "shape")


class PreparedInputs(TorchDataset):
    """Items ``(tuple of input tensors, label)`` from inputs prepared once (evaluation-mode, no augmentation)."""

    def __init__(self, items: Sequence[Sequence[np.ndarray]], labels: Sequence[int]) -> None:
        self.items = [tuple(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)) for x in item)
                      for item in items]
        self.labels = [int(y) for y in labels]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[tuple[torch.Tensor, ...], int]:
        return self.items[index], self.labels[index]


def shared_inputs(metas: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
    """The distinct input specs of the members and, per member, the index of the one it reads."""
    specs: list[dict[str, Any]] = []
    index: list[int] = []
    for meta in metas:
        if len(meta["inputs"]) != 1:
            raise UsageError(f"cannot fuse a model with {len(meta['inputs'])} inputs (an ensemble); fuse its members")
        spec = {k: v for k, v in meta["inputs"][0].items() if k not in SPEC_LABELS}
        if spec not in specs:
            specs.append(spec)
        index.append(specs.index(spec))
    return specs, index


def _inputs_of(ds: Dataset, specs: list[dict[str, Any]], classes: list[str], cache: FeatureCache,
               console: Console, label: str) -> PreparedInputs:
    items, labels = [], []
    progress, update = bar(console, label)
    with progress:
        for done, sample in enumerate(ds.samples, 1):
            try:
                items.append(sample_inputs(sample, specs,
                                           lambda s, fps, streams: cache.features(s, fps=fps, streams=streams)))
                labels.append(classes.index(sample.label))
            except Exception as error:  # listed, never fatal
                console.print(f"[yellow]skipped[/] {sample.describe()}: {error}", highlight=False)
            update(done, len(ds.samples), 0.0)
    return PreparedInputs(items, labels)


def fuse_models(model_dirs: Sequence[str | Path], output_dir: str | Path, *, mode: FuseMode | str = FuseMode.mean,
                dataset: str | Path | None = None, epochs: int = 40, lr: float = 0.05, seed: int = 0,
                threads: int | None = None, cache_dir: str | Path | None = None,
                progress: ProgressArg = True) -> dict[str, Any]:
    """Write an ensemble bundle of the trained bundles ``model_dirs`` into ``output_dir``; returns a summary."""
    from .report import evaluate_bundle

    mode = choice(FuseMode, mode, "ensemble mode")
    if len(model_dirs) < 2:
        raise UsageError("an ensemble needs at least 2 trained models")
    console = console_for(progress)
    if threads:
        torch.set_num_threads(threads)
    members, metas, classes = _load_members(model_dirs)
    specs, index = shared_inputs(metas)
    seed_everything(seed)
    ensemble = Ensemble(members, mode=mode.value, inputs=index)
    out = Path(output_dir)
    source = dataset or (metas[0].get("training") or {}).get("dataset")
    splits = _recorded_splits(model_dirs, console)
    if mode is FuseMode.learned and (source is None or "val" not in splits):
        raise UsageError("learned weights need the validation clips: give the members' dataset and "
                         "members trained by vidlens train (their splits/val.txt)")
    parts = _split_parts(source, splits, console)
    cache = FeatureCache(cache_dir or default_cache_dir(), threads=threads)
    history = None
    if mode is FuseMode.learned:
        val = _inputs_of(parts["val"], specs, classes, cache, console, "validation inputs")
        config = TrainConfig(epochs=epochs, batch_size=32, lr=lr, weight_decay=0.0, warmup=0.0,
                             label_smoothing=0.0, patience=0, seed=seed, threads=threads)
        history = train(ensemble, val, None, config, out / TRAINING_DIR, progress=console).history
    test_metrics = None
    if parts.get("test") is not None and len(parts["test"]):
        test = _inputs_of(parts["test"], specs, classes, cache, console, "test inputs")
        test_metrics = evaluate(ensemble, test, classes) if len(test) else None
    weights = [round(float(w), 4) for w in ensemble.weights().detach()]
    clip_seconds = [s for s in ((m.get("training") or {}).get("clip_seconds") for m in metas) if s]
    training = {"ensemble": {"members": [str(Path(d).resolve()) for d in model_dirs],
                             "member_archs": [m["arch"] for m in metas], "mode": mode.value, "weights": weights},
                "dataset": str(source) if source is not None else None, "history": history,
                "clip_seconds": max(clip_seconds) if clip_seconds else None,
                "splits": {name: f"{SPLITS_DIR}/{name}.txt" for name in splits}}
    _write_bundle(out, ensemble, classes, specs, training, test_metrics, splits)
    evaluation = None
    if parts.get("test") is not None and len(parts["test"]):
        evaluation = evaluate_bundle(out, parts["test"], output_dir=out / EVALUATION_DIR, cache=cache,
                                     threads=threads)
    return {"model_dir": str(out), "mode": mode.value, "members": training["ensemble"]["members"],
            "weights": weights, "inputs": [s["kind"] for s in specs], "test": _scores(test_metrics),
            "test_onnx": _scores(evaluation["metrics"] if evaluation else None),
            "evaluation_dir": str(out / EVALUATION_DIR) if evaluation else None}


def _load_members(model_dirs: Sequence[str | Path]) -> tuple[list[Any], list[dict[str, Any]], list[str]]:
    """The members' models, their bundle metadata and their classes (refused unless all have the same)."""
    loaded = [load_bundle(d) for d in model_dirs]
    members, metas = [m for m, _ in loaded], [meta for _, meta in loaded]
    classes = metas[0]["classes"]
    for directory, meta in zip(model_dirs, metas):
        if meta["classes"] != classes:
            raise UsageError(f"{directory} has classes {meta['classes']}, but {model_dirs[0]} has {classes}: "
                             "fused models must be trained on the same classes")
    return members, metas, classes


def _recorded_splits(model_dirs: Sequence[str | Path], console: Console) -> dict[str, Path]:
    """The first member's split lists; a member tested on other clips is warned about (its training clips may
    be in this test set)."""
    first = Path(model_dirs[0])
    splits = {name: first / SPLITS_DIR / f"{name}.txt" for name in ("train", "val", "test")
              if (first / SPLITS_DIR / f"{name}.txt").is_file()}
    for directory in model_dirs[1:]:
        theirs = Path(directory) / SPLITS_DIR / "test.txt"
        if "test" in splits and (not theirs.is_file() or theirs.read_text() != splits["test"].read_text()):
            console.print(f"[yellow]warning:[/] {directory} was tested on other clips than {first}: its training "
                          "clips may be in this test set", highlight=False)
    return splits


def _split_parts(source: str | Path | None, splits: dict[str, Path], console: Console) -> dict[str, Dataset]:
    """The recorded splits of the dataset, unreadable videos left out (listed); none without both."""
    if source is None or not splits:
        return {}
    usable, bad = check_videos(load_dataset(source))
    parts = load_splits(usable, splits)
    for sample, reason in bad:
        console.print(f"[yellow]skipped[/] {sample.describe()}: {reason}", highlight=False)
    return parts


def _write_bundle(out: Path, ensemble: Ensemble, classes: list[str], specs: list[dict[str, Any]],
                  training: dict[str, Any], metrics: dict[str, Any] | None, splits: dict[str, Path]) -> None:
    """The ensemble bundle with the first member's split lists copied (so evaluate scores the same clips), and
    its ONNX export."""
    save_bundle(out, ensemble, classes=classes, inputs=specs, training=training, metrics=metrics)
    for name, file in splits.items():
        (out / SPLITS_DIR).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, out / SPLITS_DIR / f"{name}.txt")
    export_onnx(out)


def _scores(metrics: dict[str, Any] | None) -> dict[str, float] | None:
    return None if metrics is None else {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro"]["f1"]}
