"""Scoring a trained bundle on a labelled dataset through ONNX Runtime, and the evaluation report (no torch).

What ``vidlens evaluate MODEL DATASET`` writes into its output folder:

* ``metrics.json``: every metric of :func:`vidlens.train.metrics.evaluate_predictions` (accuracy, top-k,
  per-class precision / recall / F1, macro and weighted averages, confusion matrix, log loss, ECE and the
  reliability bins), plus the model, the split and the samples that could not be scored;
* ``predictions.json``: each sample's truth, prediction and top classes;
* ``confusion.png``, ``reliability.png`` and, when the bundle kept its training history, ``curves.png``;
* ``report.html``: one offline page (no script, no CDN) with the numbers, the plots and the worst
  mistakes (the most confident wrong predictions) with each clip's middle frame as ``mistakes/NN.jpg``.

Predictions go through :class:`~vidlens.predict.predictor.OnnxPredictor`, i.e. the deployed model and the
same inputs as in training's evaluation, so these numbers are the ones a user gets from ``vidlens predict``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from jinja2 import Environment, PackageLoader
from rich.console import Console

from .. import __version__
from ..errors import UsageError
from ..files import write_text_atomic
from ..media import probe
from ..media.images import write_jpeg
from ..predict.predictor import OnnxPredictor, top_labels
from .dataset import Dataset, Sample, SplitMismatchError, check_videos, load_dataset, load_splits
from .features import FeatureCache
from .metrics import evaluate_predictions
from .plots import confusion_matrix_image, reliability_diagram_image, training_curves_image, write_png
from .progress import ProgressArg, bar, console_for
from .sampling import estimate_frame_count, read_frames
from .settings import SplitChoice, choice
from .video_inputs import clip_inputs

#: Most confident wrong predictions shown in the report.
WORST_MISTAKES = 12
THUMBNAIL_SIDE = 160
SPLIT_CHOICES = tuple(c.value for c in SplitChoice)

_ENV = Environment(loader=PackageLoader("vidlens.report", "templates"), autoescape=True, trim_blocks=True,
                   lstrip_blocks=True)


def select_split(bundle_dir: Path, dataset: str | Path | Dataset, split: SplitChoice | str,
                 console: Console | None = None) -> tuple[Dataset, list[dict[str, Any]], str]:
    """The samples to score, with unreadable videos left out (returned as skipped records), and the split used.

    ``split`` is a split recorded in the bundle (``splits/NAME.txt``), ``all``, or ``auto``: the recorded test
    split when ``dataset`` is the one the model was trained on, else all of it (new videos were never seen)."""
    split = choice(SplitChoice, split, "split").value
    if isinstance(dataset, Dataset):
        return dataset, [], "test"
    ds = load_dataset(dataset)
    notes: list[str] = []
    if split != "all":
        wanted = "test" if split == "auto" else split
        file = bundle_dir / "splits" / f"{wanted}.txt"
        if file.is_file():
            try:
                ds, split = load_splits(ds, {wanted: file})[wanted], wanted
            except SplitMismatchError as error:
                if split != "auto":
                    raise UsageError(f"{error}: {dataset} is not the dataset the model was trained on; "
                                     "score split 'all' to score all of it") from None
                notes.append(f"{dataset} holds none of the model's recorded test clips (not its training "
                             f"dataset): scoring all {len(ds.samples)} of its clips (split 'all')")
                split = "all"
        elif split == "auto":
            split = "all"
        else:
            raise UsageError(f"the model records no {split} split (no splits/{split}.txt); score split 'all'",
                             path=bundle_dir)
    usable, bad = check_videos(ds)
    skipped = [{"path": str(s.path), "label": s.label, "start": s.start, "end": s.end, "reason": r} for s, r in bad]
    if console is not None:
        for warning in [*notes, *usable.warnings]:
            console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    return usable, skipped, split


def evaluate_bundle(bundle_dir: str | Path, dataset: str | Path | Dataset, *, split: SplitChoice | str = "auto",
                    output_dir: str | Path | None = None, cache: FeatureCache | None = None,
                    threads: int | None = None, onnx_file: str | Path | None = None,
                    progress: ProgressArg = False) -> dict[str, Any]:
    """Score the bundle on ``dataset`` (a folder / manifest, and ``split`` of it; or a ready ``Dataset``).

    Returns ``{"metrics", "predictions", "skipped", "files"}``; with ``output_dir`` the files above are
    written there. Samples whose label is not one of the model's classes are skipped (listed).
    """
    started = time.perf_counter()
    bundle = Path(bundle_dir)
    console = console_for(progress)
    predictor = OnnxPredictor(bundle, onnx_file, threads=threads)
    ds, skipped, split = select_split(bundle, dataset, split, console)
    index = {name: i for i, name in enumerate(predictor.classes)}
    items, samples = [], []
    bar_, update = bar(console, "predicting")
    with bar_:
        for done, sample in enumerate(ds.samples, 1):
            if sample.label not in index:
                reason = f"label {sample.label!r} is not a class of the model"
                skipped.append({**_sample_dict(sample), "reason": reason})
            else:
                try:
                    items.append(clip_inputs(predictor, sample, cache=cache))
                    samples.append(sample)
                except Exception as error:  # a video that decodes in a probe but not through: listed, not fatal
                    reason = " ".join(str(error.args[0] if error.args else error).split())
                    skipped.append({**_sample_dict(sample), "reason": reason})
            update(done, len(ds.samples), time.perf_counter() - started)
    if not samples:
        raise UsageError("no sample of the dataset could be scored (see the skipped list)" if ds.samples else
                         "the chosen split holds no sample")
    probs = predictor.predict_samples(items)
    truth = np.array([index[s.label] for s in samples], dtype=np.int64)
    metrics = evaluate_predictions(truth, probs, predictor.classes)
    predictions = [{**_sample_dict(s), "predicted": predictor.classes[int(np.argmax(p))],
                    "confidence": round(float(np.max(p)), 4), "correct": bool(int(np.argmax(p)) == t),
                    "top": top_labels(p, predictor.classes)}
                   for s, p, t in zip(samples, probs, truth)]
    result: dict[str, Any] = {"split": split, "metrics": metrics, "predictions": predictions, "skipped": skipped,
                              "files": {}}
    if output_dir is not None:
        result["files"] = write_evaluation(Path(output_dir), predictor, metrics, predictions, skipped,
                                           split=split,
                                           dataset=str(dataset) if not isinstance(dataset, Dataset) else None,
                                           seconds=time.perf_counter() - started)
    return result


def _sample_dict(sample: Sample) -> dict[str, Any]:
    return {"path": str(sample.path), "label": sample.label, "start": sample.start, "end": sample.end}


def write_evaluation(out: Path, predictor: OnnxPredictor, metrics: dict[str, Any], predictions: list[dict[str, Any]],
                     skipped: list[dict[str, Any]], *, split: str, dataset: str | None,
                     seconds: float) -> dict[str, str]:
    """Write the metrics, predictions, plots, mistake thumbnails and report.html into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    meta = predictor.meta
    context = {"model": predictor.name, "model_path": str(predictor.bundle_dir), "onnx": predictor.onnx_path.name,
               "split": split, "dataset": dataset, "evaluated_s": round(seconds, 2)}
    files = {"metrics": "metrics.json", "predictions": "predictions.json", "confusion": "confusion.png",
             "reliability": "reliability.png"}
    write_text_atomic(out / files["metrics"], json.dumps({**metrics, **context, "skipped": skipped}, indent=1) + "\n")
    write_text_atomic(out / files["predictions"], json.dumps(predictions, indent=1) + "\n")
    write_png(out / files["confusion"], confusion_matrix_image(metrics["confusion_matrix"], metrics["classes"]))
    write_png(out / files["reliability"], reliability_diagram_image(metrics["reliability"], ece=metrics["ece"]))
    history = (meta.get("training") or {}).get("history")
    if history:
        best = (meta.get("training") or {}).get("best_epoch")
        files["curves"] = "curves.png"
        write_png(out / files["curves"], training_curves_image(history, best_epoch=best))
    mistakes = worst_mistakes(predictions, out)
    files["report"] = "report.html"
    html = _ENV.get_template("evaluation.html.j2").render(
        **context, version=__version__, arch=meta.get("arch"), classes=metrics["classes"],
        headline=_headline_rows(metrics), per_class=_per_class_rows(metrics), mistakes=mistakes,
        skipped=skipped, files=files, training=_training_rows(meta), export=meta.get("export") or {},
        samples=metrics["num_samples"])
    write_text_atomic(out / files["report"], html)
    return files


def worst_mistakes(predictions: list[dict[str, Any]], out: Path, limit: int = WORST_MISTAKES) -> list[dict[str, Any]]:
    """The most confident wrong predictions, each with its clip's middle frame written as a thumbnail."""
    wrong = sorted((p for p in predictions if not p["correct"]), key=lambda p: -p["confidence"])[:limit]
    # an evaluation into the same folder before may have written more: its thumbnails (frames of other clips)
    # must not pass for this one's (only names written here are removed)
    for old in (out / "mistakes").glob("[0-9][0-9].jpg") if (out / "mistakes").is_dir() else ():
        if old.is_file() and not old.is_symlink():
            old.unlink()
    rows = []
    for number, item in enumerate(wrong, 1):
        thumb = f"mistakes/{number:02d}.jpg"
        try:
            info = probe(item["path"])
            middle = estimate_frame_count(info, item["start"], item["end"]) // 2
            frame = read_frames(item["path"], [middle], THUMBNAIL_SIDE, item["start"], item["end"])[0]
            write_jpeg(out / thumb, frame)
        except Exception:  # a thumbnail is a nicety: the row stays without it
            thumb = None
        span = "" if item["start"] is None and item["end"] is None else \
            f" [{item['start'] or 0:g}s-{'end' if item['end'] is None else format(item['end'], 'g') + 's'}]"
        rows.append({"name": PurePosixPath(item["path"]).name + span, "path": item["path"], "label": item["label"],
                     "predicted": item["predicted"], "confidence": f"{item['confidence']:.2f}",
                     "top": ", ".join(f"{t['label']} {t['confidence']:.2f}" for t in item["top"]), "thumb": thumb})
    return rows


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _headline_rows(metrics: dict[str, Any]) -> list[dict[str, str]]:
    rows = [{"name": "accuracy", "value": _pct(metrics["accuracy"])}]
    rows += [{"name": f"top-{k}", "value": _pct(v)} for k, v in metrics["top_k"].items() if k != "1"]
    rows += [{"name": "macro F1", "value": _pct(metrics["macro"]["f1"])},
             {"name": "weighted F1", "value": _pct(metrics["weighted"]["f1"])},
             {"name": "macro precision", "value": _pct(metrics["macro"]["precision"])},
             {"name": "macro recall", "value": _pct(metrics["macro"]["recall"])},
             {"name": "ECE", "value": f"{metrics['ece']:.3f}"},
             {"name": "log loss", "value": f"{metrics['log_loss']:.3f}"}]
    return rows


def _per_class_rows(metrics: dict[str, Any]) -> list[dict[str, str]]:
    rows = [{"name": name, "precision": _pct(v["precision"]), "recall": _pct(v["recall"]), "f1": _pct(v["f1"]),
             "support": str(v["support"])} for name, v in metrics["per_class"].items()]
    for kind in ("macro", "weighted"):
        rows.append({"name": f"{kind} average", "precision": _pct(metrics[kind]["precision"]),
                     "recall": _pct(metrics[kind]["recall"]), "f1": _pct(metrics[kind]["f1"]),
                     "support": str(metrics["num_samples"]), "average": True})
    return rows


def _training_rows(meta: dict[str, Any]) -> list[dict[str, str]]:
    training = meta.get("training") or {}
    settings = training.get("settings") or {}
    rows = [("architecture", meta.get("arch")), ("inputs", "; ".join(_spec_text(s) for s in meta.get("inputs", []))),
            ("epochs run", training.get("epochs_run")), ("best epoch", training.get("best_epoch")),
            ("best validation macro-F1", None if training.get("best_val_macro_f1") is None
             else f"{training['best_val_macro_f1']:.3f}"),
            ("training time", None if training.get("elapsed_s") is None else f"{training['elapsed_s']:.1f}s"),
            ("augmentation", ", ".join(k for k, v in (training.get("augmentation") or {}).items() if v) or None),
            ("learning rate", settings.get("lr")), ("schedule", settings.get("schedule")),
            ("training clip length", None if not training.get("clip_seconds") else f"{training['clip_seconds']}s")]
    return [{"name": k, "value": str(v)} for k, v in rows if v not in (None, "")]


def _spec_text(spec: dict[str, Any]) -> str:
    if spec.get("kind") == "features":
        return f"{spec.get('backbone')} features, {spec.get('steps')} steps at {spec.get('fps')} fps"
    rate = f"{spec.get('fps')} fps" if spec.get("fps") else f"every {spec.get('stride')} frame(s)"
    return f"clip of {spec.get('frames')} frames at {rate}, {spec.get('size')} px"
