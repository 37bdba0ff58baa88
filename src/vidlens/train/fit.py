"""Training a video classifier end to end: dataset -> checked videos -> splits -> inputs -> training ->
bundle -> ONNX -> test-set evaluation. What ``vidlens train`` runs (through ``vidlens.api.train_classifier``).

The steps are the existing parts of :mod:`vidlens.train`, in order, with the decisions a user would
otherwise have to make spelled out:

* unreadable videos (and ones whose frames cannot be sampled) are listed with a reason and left out;
* feature heads train on the disk feature cache (each video decoded and run through the backbone once,
  ever); the 3D-CNN trains on clips decoded once into memory at its input size;
* the split lists are written into the model folder (``splits/``), so ``vidlens evaluate MODEL DATASET``
  scores the very test clips training never saw;
* the bundle records the settings, the training history, the test metrics and the median training clip
  length (the default window of ``vidlens predict`` and of the ``classifier`` analyzer);
* with ``inputs="auto"`` (the default) a feature head is trained on each candidate set of input streams
  and the one the validation clips favour is kept (:mod:`vidlens.train.auto_inputs`); every run stays under
  ``training/inputs-*`` (the kept one's files also in ``training/``) and every candidate's score is in the bundle.

Mirroring and reversal are off unless asked for (``flip`` / ``reverse``): they turn ``pan_left`` into
``pan_right`` and ``zoom_in`` into ``zoom_out``, so they are only valid when every class is its own mirror
image / reverse.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch.utils.data import Dataset as TorchDataset

from ..errors import UsageError
from ..files import write_text_atomic
from ..predict.bundle import clip_input, feature_input
from . import auto_inputs
from .bundle import save_bundle
from .dataset import SPLIT_NAMES, Dataset, Sample, balance_table, check_videos, load_dataset, load_splits, split_dataset
from .evaluation import evaluate
from .export import export_onnx
from .features import FeatureCache
from .loop import TrainResult, seed_everything, train
from .models import build_model
from .progress import ProgressArg, bar, console_for
from .settings import DEFAULT_FPS, TrainSettings
from .torch_datasets import ClipDataset, FeatureSequenceDataset
from .video_inputs import MAX_TRAIN_CLIP_FRAMES, covered_seconds, decode_clip_frames

# TrainSettings and DEFAULT_FPS live in .settings (no torch); re-exported here for existing imports.
__all__ = ["DEFAULT_FPS", "TrainSettings", "default_cache_dir", "train_classifier"]

SPLITS_DIR = "splits"
TRAINING_DIR = "training"
EVALUATION_DIR = "evaluation"


def default_cache_dir() -> Path:
    """``$VIDLENS_CACHE/features``, else ``$XDG_CACHE_HOME/vidlens/features`` (``~/.cache/vidlens/features``)."""
    if os.environ.get("VIDLENS_CACHE"):
        return Path(os.environ["VIDLENS_CACHE"]).expanduser() / "features"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vidlens" / "features"


def input_specs(settings: TrainSettings) -> list[dict[str, Any]]:
    """The bundle's input specs for the settings' architecture, sampling rate and clip shape."""
    if settings.input_kind == "features":
        return [feature_input(steps=settings.steps, fps=settings.rate, streams=settings.streams)]
    return [clip_input(frames=settings.frames, size=settings.size, fps=settings.rate)]


@dataclass
class Bad:
    """A sample left out, and why."""

    sample: Sample
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.sample.path), "label": self.sample.label, "start": self.sample.start,
                "end": self.sample.end, "reason": self.reason}


def prepare_dataset(dataset: str | Path | Dataset, console: Console) -> tuple[Dataset, list[Bad]]:
    """The dataset with its unreadable videos left out (listed, with reasons, on the console)."""
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    for warning in ds.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    progress, update = bar(console, "checking videos")
    with progress:
        usable, bad = check_videos(ds, progress=update)
    found = [Bad(s, r) for s, r in bad]
    report_bad(found, console)
    return usable, found


def report_bad(bad: Sequence[Bad], console: Console, limit: int = 20) -> None:
    if not bad:
        return
    console.print(f"[yellow]{len(bad)} sample(s) skipped:[/]", highlight=False)
    for item in bad[:limit]:
        console.print(f"  {item.sample.describe()}: {item.reason}", highlight=False)
    if len(bad) > limit:
        console.print(f"  ... and {len(bad) - limit} more (all listed in the model's vidlens_model.json)")


def make_splits(usable: Dataset, settings: TrainSettings) -> dict[str, Dataset]:
    if settings.splits is not None:
        return load_splits(usable, dict(zip(SPLIT_NAMES, settings.splits)))
    return split_dataset(usable, settings.split, seed=settings.optimisation.seed)


def without(ds: Dataset, dropped: set[Sample]) -> Dataset:
    return ds.subset([s for s in ds.samples if s not in dropped])


def _features_data(parts: dict[str, Dataset], settings: TrainSettings, cache: FeatureCache,
                   console: Console) -> tuple[dict[str, list[np.ndarray]], list[Bad], list[float]]:
    """Fill the feature cache for every split; per split, each usable sample's ``[N, 1280]`` features."""
    everything = Dataset([s for ds in parts.values() for s in ds.samples], next(iter(parts.values())).classes)
    progress, update = bar(console, "features")
    with progress:
        report = cache.build(everything, fps=settings.rate, progress=update, streams=settings.streams)
    console.print(f"features: {report.computed} computed, {report.cached} from the cache in {report.seconds:.1f}s "
                  f"({cache.root})", highlight=False)
    bad = [Bad(s, r) for s, r in report.failed]
    dropped = {b.sample for b in bad}
    arrays: dict[str, list[np.ndarray]] = {}
    spans: list[float] = []
    for name, ds in parts.items():
        arrays[name] = []
        for sample in ds.samples:
            if sample in dropped:
                continue
            cached = cache.features(sample, fps=settings.rate, streams=settings.streams)
            arrays[name].append(cached.rows(settings.streams))
            if name == "train":
                spans.append(covered_seconds(cached.times))
    return arrays, bad, spans


def _clip_data(parts: dict[str, Dataset], settings: TrainSettings,
               console: Console) -> tuple[dict[str, list[np.ndarray]], list[Bad], list[float]]:
    """Decode every sample's clip frames once, into memory, at the clip size."""
    spec = input_specs(settings)[0]
    total = sum(len(ds) for ds in parts.values())
    arrays: dict[str, list[np.ndarray]] = {}
    bad: list[Bad] = []
    spans: list[float] = []
    started = time.perf_counter()
    progress, update = bar(console, "decoding clips")
    with progress:
        done = 0
        for name, ds in parts.items():
            arrays[name] = []
            for sample in ds.samples:
                try:
                    clip = decode_clip_frames(sample, spec, max_frames=MAX_TRAIN_CLIP_FRAMES)
                except Exception as error:  # one bad video never stops the run; it is listed
                    bad.append(Bad(sample, " ".join(str(error.args[0] if error.args else error).split())))
                else:
                    arrays[name].append(clip.frames)
                    if name == "train":
                        spans.append(clip.span_s)
                done += 1
                update(done, total, time.perf_counter() - started)
    megabytes = sum(a.nbytes for v in arrays.values() for a in v) / 1e6
    console.print(f"clips: {total - len(bad)} decoded at {settings.size} px in {time.perf_counter() - started:.1f}s "
                  f"({megabytes:.0f} MB in memory)", highlight=False)
    return arrays, bad, spans


def train_classifier(dataset: str | Path | Dataset, output_dir: str | Path, settings: TrainSettings | None = None,
                     *, resume: bool = False, cache_dir: str | Path | None = None,
                     progress: ProgressArg = True) -> dict[str, Any]:
    """Train a classifier on ``dataset`` into the model folder ``output_dir`` and return a summary.

    The folder receives the bundle (``vidlens_model.json``, ``weights.pt``, ``model.onnx``), ``splits/``,
    ``training/`` (checkpoints, history, curves) and ``evaluation/`` (test-set metrics, plots, report.html).
    ``resume`` continues an interrupted run from ``training/checkpoint.pt`` (same settings required).
    ``progress``: a console, ``True`` (stderr) or ``False`` (see :mod:`vidlens.train.progress`).
    """
    from .report import evaluate_bundle

    settings = settings or TrainSettings()
    started = time.perf_counter()
    console = console_for(progress)
    out = Path(output_dir)
    threads = settings.optimisation.threads
    if threads:
        torch.set_num_threads(threads)
    data = _training_data(dataset, settings, cache_dir, console)
    classes, parts = data.usable.classes, data.parts
    if data.streams and tuple(settings.streams) != data.streams and not data.candidates:
        settings = replace(settings, inputs=",".join(data.streams))  # auto without validation clips
    auto = None
    if data.candidates:
        model, result, settings, auto = _train_candidates(data, settings, out, console, resume)
        data = data.with_streams(settings.streams)
    train_set, eval_sets = _torch_sets(data, settings)
    if "val" not in eval_sets:
        console.print("[yellow]warning:[/] no validation clips: no early stopping, the last epoch is kept",
                      highlight=False)
    if auto is None:
        seed_everything(settings.optimisation.seed)
        model = build_model(settings.arch.value, len(classes), **settings.model_hyper_parameters())
        result = train(model, train_set, eval_sets.get("val"), settings.optimisation, out / TRAINING_DIR,
                       progress=console, resume=resume)
    test_metrics = evaluate(model, eval_sets["test"], classes) if "test" in eval_sets else None
    training = _training_record(result, settings, dataset, data, write_split_files(out, data.usable, parts))
    if auto is not None:
        training["auto_inputs"] = auto
    save_bundle(out, model, classes=classes, inputs=input_specs(settings), training=training, metrics=test_metrics)
    export_onnx(out)
    evaluation = None
    if "test" in parts and len(parts["test"]):
        evaluation = evaluate_bundle(out, parts["test"], output_dir=out / EVALUATION_DIR, cache=data.cache,
                                     threads=threads)
    return {"model_dir": str(out), "arch": settings.arch.value, "classes": classes,
            "inputs": list(settings.streams) if settings.input_kind == "features" else ["clip"],
            "auto_inputs": auto,
            "samples": {name: len(ds) for name, ds in parts.items()}, "skipped": [b.to_dict() for b in data.bad],
            "epochs_run": result.epochs_run, "best_epoch": result.best_epoch, "best_val_macro_f1": result.best_score,
            "stopped_early": result.stopped_early, "train_seconds": round(result.elapsed_s, 2),
            "test": _headline(test_metrics), "test_onnx": _headline(evaluation["metrics"]) if evaluation else None,
            "evaluation_dir": str(out / EVALUATION_DIR) if evaluation else None,
            "elapsed_s": round(time.perf_counter() - started, 2)}


@dataclass
class _Data:
    """The training data, ready: the usable dataset, its splits (unusable samples left out), each split's
    per-sample arrays (features or decoded clips), the training clips' spans and every sample left out."""

    usable: Dataset
    parts: dict[str, Dataset]
    arrays: dict[str, list[np.ndarray]]
    spans: list[float]
    bad: list[Bad]
    cache: FeatureCache | None
    streams: tuple[str, ...] = ()  # feature inputs: the streams in each row of ``arrays``
    candidates: tuple[tuple[str, ...], ...] = ()  # inputs="auto" with a validation split: the sets to try

    def with_streams(self, chosen: Sequence[str]) -> _Data:
        """The same data with only ``chosen``'s columns in each row."""
        cols = auto_inputs.columns(self.streams, chosen)
        arrays = {name: [a[:, cols] for a in rows] for name, rows in self.arrays.items()}
        return replace(self, arrays=arrays, streams=tuple(chosen), candidates=())


def _training_data(dataset: str | Path | Dataset, settings: TrainSettings, cache_dir: str | Path | None,
                   console: Console) -> _Data:
    """Check the videos, split them, compute their inputs once; refuse a training split of fewer than 2
    classes and warn about classes it misses."""
    usable, bad = prepare_dataset(dataset, console)
    parts = make_splits(usable, settings)
    cache = None
    candidates: tuple[tuple[str, ...], ...] = ()
    if settings.input_kind == "features":
        cache = FeatureCache(cache_dir or default_cache_dir(), threads=settings.optimisation.threads)
        if settings.inputs == "auto":
            candidates = _auto_candidates(parts, settings, cache, console)
            settings = replace(settings, inputs=",".join(auto_inputs.union(candidates)))
        else:
            console.print(f"inputs: {auto_inputs.label(settings.streams)}", highlight=False)
        arrays, failed, spans = _features_data(parts, settings, cache, console)
    else:
        arrays, failed, spans = _clip_data(parts, settings, console)
    report_bad(failed, console)
    parts = {name: without(ds, {b.sample for b in failed}) for name, ds in parts.items()}
    console.print(balance_table(parts, title="Samples per class and split"))
    for ds in parts.values():
        for warning in ds.warnings[len(usable.warnings):]:
            console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    trained = sorted({s.label for s in parts["train"].samples})
    if len(trained) < 2:
        raise UsageError(f"the training split holds {len(trained)} class(es) with usable videos; need at least 2")
    if len(trained) < len(usable.classes):
        missing = ", ".join(sorted(set(usable.classes) - set(trained)))
        console.print(f"[yellow]warning:[/] no training sample for {missing}", highlight=False)
    streams = settings.streams if settings.input_kind == "features" else ()
    return _Data(usable, parts, arrays, spans, bad + failed, cache, streams, candidates if len(candidates) > 1 else ())


def _auto_candidates(parts: dict[str, Dataset], settings: TrainSettings, cache: FeatureCache,
                     console: Console) -> tuple[tuple[str, ...], ...]:
    """The stream sets ``inputs="auto"`` tries (one, appearance + motion, without validation clips)."""
    share = auto_inputs.person_share(cache, parts["train"].samples, settings.rate)
    people = share >= auto_inputs.PEOPLE_SHARE
    found = (f"person tracks in {share:.0%} of the training clips probed: "
             f"{'pose candidates added' if people else 'no pose'}")
    if not parts.get("val") or not len(parts["val"]):
        chosen = auto_inputs.union(auto_inputs.candidates(people)[-1:])
        console.print(f"inputs (auto): {auto_inputs.label(chosen)} ({found}; no validation clips to choose among "
                      f"streams with)", highlight=False)
        return (chosen,)
    options = auto_inputs.candidates(people)
    console.print(f"inputs (auto): trying {', '.join(auto_inputs.label(c) for c in options)} on the validation "
                  f"clips ({found})", highlight=False)
    return options


def _train_candidates(data: _Data, settings: TrainSettings, out: Path, console: Console,
                      resume: bool) -> tuple[torch.nn.Module, TrainResult, TrainSettings, dict[str, Any]]:
    """Train one head per candidate stream set; keep the one :func:`auto_inputs.choose` picks."""
    runs: dict[tuple[str, ...], tuple[torch.nn.Module, TrainResult, TrainSettings]] = {}
    for streams in data.candidates:
        chosen = replace(settings, inputs=",".join(streams))
        train_set, eval_sets = _torch_sets(data.with_streams(streams), chosen)
        console.print(f"[bold]inputs {auto_inputs.label(streams)}[/]", highlight=False)
        seed_everything(settings.optimisation.seed)
        model = build_model(chosen.arch.value, len(data.usable.classes), **chosen.model_hyper_parameters())
        folder = out / TRAINING_DIR / f"inputs-{'+'.join(streams)}"
        result = train(model, train_set, eval_sets["val"], chosen.optimisation, folder, progress=console,
                       resume=resume)
        runs[streams] = (model, result, chosen)
    scores = {streams: run[1].best_score for streams, run in runs.items()}
    best = auto_inputs.choose(scores)
    listed = ", ".join(f"{auto_inputs.label(c)} {s:.3f}" if s is not None else f"{auto_inputs.label(c)} -"
                       for c, s in scores.items())
    console.print(f"inputs (auto): chose {auto_inputs.label(best)} (validation macro-F1: {listed}; the fewest "
                  f"numbers per frame within {auto_inputs.TOLERANCE} of the best)", highlight=False)
    model, result, chosen = runs[best]
    kept = out / TRAINING_DIR / f"inputs-{'+'.join(best)}"
    for file in kept.iterdir():  # the kept run's history, curves and weights where a single run puts them
        if file.is_file():
            shutil.copy2(file, out / TRAINING_DIR / file.name)
    record = {"chosen": list(best), "tolerance": auto_inputs.TOLERANCE,
              "candidates": [{"streams": list(c), "val_macro_f1": s} for c, s in scores.items()]}
    return model, result, chosen, record


def _torch_sets(data: _Data, settings: TrainSettings) -> tuple[TorchDataset, dict[str, TorchDataset]]:
    """The training set (augmented as the settings say) and the evaluation sets of the non-empty other splits."""
    labels = {name: ds.labels().tolist() for name, ds in data.parts.items()}
    arrays = data.arrays
    others = [name for name in data.parts if name != "train" and arrays[name]]
    if settings.input_kind == "features":
        train_set = FeatureSequenceDataset(arrays["train"], labels["train"], steps=settings.steps,
                                           reverse=settings.reverse)
        return train_set, {name: FeatureSequenceDataset(arrays[name], labels[name], steps=settings.steps,
                                                        train=False) for name in others}
    train_set = ClipDataset(arrays["train"], labels["train"], size=settings.size, frames=settings.frames,
                            hflip=settings.flip, reverse=settings.reverse)
    return train_set, {name: ClipDataset(arrays[name], labels[name], train=False, size=settings.size,
                                         frames=settings.frames) for name in others}


def _training_record(result: TrainResult, settings: TrainSettings, dataset: str | Path | Dataset, data: _Data,
                     split_files: dict[str, str]) -> dict[str, Any]:
    """The bundle's ``training`` section: the loop's summary, the settings, the data and its augmentation."""
    return {**result.to_dict(), "settings": settings.to_dict(), "history": result.history,
            "dataset": str(Path(dataset).resolve()) if not isinstance(dataset, Dataset) else None,
            "splits": split_files, "counts": {name: ds.counts() for name, ds in data.parts.items()},
            "clip_seconds": round(float(np.median(data.spans)), 4) if data.spans else None,
            "skipped": [b.to_dict() for b in data.bad],
            "augmentation": {"flip": settings.flip, "reverse": settings.reverse,
                             "colour_jitter_and_crops": settings.input_kind == "clip",
                             "temporal_jitter": True, "mixup": settings.optimisation.mixup}}


def _headline(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    if not metrics:
        return None
    return {"samples": metrics["num_samples"], "accuracy": metrics["accuracy"],
            "macro_f1": metrics["macro"]["f1"], "ece": metrics["ece"]}


def write_split_files(out: Path, usable: Dataset, parts: dict[str, Dataset]) -> dict[str, str]:
    """``splits/{train,val,test}.txt`` (paths relative to the dataset root, one per line, clips of a video once)."""
    written = {}
    for name, ds in parts.items():
        lines = list(dict.fromkeys(usable.relative_name(s) for s in ds.samples))
        rel = f"{SPLITS_DIR}/{name}.txt"
        write_text_atomic(out / rel, "".join(f"{line}\n" for line in lines))
        written[name] = rel
    return written

