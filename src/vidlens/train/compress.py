"""Smaller and faster versions of a trained model, and one table to choose between them (``vidlens export``).

Variants of the bundle's ``model.onnx`` (fp32), each written next to it and listed in ``vidlens_model.json``
under ``variants`` so :class:`~vidlens.predict.predictor.OnnxPredictor` (``onnx_file=``) and ``vidlens
evaluate --onnx`` can run it:

- ``int8_dynamic`` / ``int8_static``: ONNX Runtime quantization (:mod:`vidlens.train.quantize`); static
  calibrates on prepared inputs of the training split;
- ``prunedNN``: ``NN`` % of the weights zeroed by global magnitude pruning (:mod:`vidlens.train.prune`),
  fine-tuned for a few epochs with the ordinary training loop on the training split (best epoch by
  validation macro-F1), then exported through :func:`~vidlens.train.export.export_onnx` from a copy of
  the bundle.

Every variant is then measured the same way, in the same process: file size (and gzip size: unstructured
zeros only pay off compressed), latency per clip in ONNX Runtime (median of ``runs`` single-clip runs after
warm-up, at 1 and 2 threads), and, on the SAME test clips (the split recorded in the bundle), accuracy,
macro-F1 and agreement with the fp32 model's predictions. A variant that loses more than
:data:`ACCURACY_TOLERANCE` of accuracy is flagged in the table and in ``compress.json``.

For a feature head the latency is the head's only: the backbone (EfficientNet-Lite0, once per sampled
frame) runs before it and is the same for every variant, and its time per clip is measured alongside
for scale.
"""

from __future__ import annotations

import gzip
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from ..errors import UsageError
from ..files import write_text_atomic
from ..predict.bundle import DEFAULT_BACKBONE, ONNX_FILE, read_meta, spec_fps, write_meta
from ..predict.predictor import OnnxPredictor, stack_inputs
from ..predict.streams import spec_streams
from .dataset import Dataset, Sample, check_videos, load_dataset, split_dataset
from .features import FeatureCache
from .metrics import accuracy, macro_f1
from .progress import ProgressArg, bar, console_for
from .quantize import calibration_subset, quantize_dynamic_file, quantize_static_file
from .settings import TrainConfig, recorded_settings
from .video_inputs import clip_inputs

COMPRESS_SCHEMA = "vidlens.compress/1"
REPORT_FILE = "compress.json"
INT8_MODES = ("dynamic", "static")
#: Accuracy a variant may lose against fp32 on the test clips before it is flagged (1 point).
ACCURACY_TOLERANCE = 0.01
#: Fine-tuning after pruning, when a dataset is given and no epoch count: a few epochs at a fraction of the
#: training learning rate, so the surviving weights adapt without forgetting.
DEFAULT_FINETUNE_EPOCHS = 3
FINETUNE_LR_FACTOR = 0.3
LATENCY_RUNS = 50
LATENCY_THREADS = (1, 2)
WARMUP_RUNS = 3


def variant_file(name: str) -> str:
    """``model.<name>.onnx`` (``model.onnx`` for ``fp32``)."""
    return ONNX_FILE if name == "fp32" else f"model.{name}.onnx"


def pruned_name(amount: float) -> str:
    return f"pruned{round(100 * amount)}"


def prune_amounts(values: Sequence[float] | None) -> list[float]:
    """The pruning amounts, checked (each a fraction in (0, 1)), repeats dropped: ``[0.3, 0.5, 0.3]`` ->
    ``[0.3, 0.5]``. A sequence of numbers: parsing ``"0.3,0.5"`` is the CLI's job."""
    if values is None:
        return []
    if isinstance(values, (str, bytes)):
        raise UsageError(f"pruning amounts are a sequence of fractions (e.g. [0.3, 0.5]), not the string {values!r}")
    amounts: list[float] = []
    for item in values:
        try:
            value = float(item)
        except (TypeError, ValueError):
            raise UsageError(f"pruning amounts are fractions like 0.3 or 0.5; got {item!r}") from None
        if not 0.0 < value < 1.0:
            raise UsageError(f"a pruning amount is a fraction between 0 and 1 (0.3 = 30 %), got {item}")
        if pruned_name(value) not in {pruned_name(a) for a in amounts}:
            amounts.append(value)
    return amounts


def int8_modes(modes: str | Sequence[str] | None) -> list[str]:
    """The INT8 modes, checked, repeats dropped: one mode (``"dynamic"``) or a sequence of them."""
    if modes is None:
        return []
    listed = [modes] if isinstance(modes, str) else list(modes)
    unknown = [m for m in listed if m not in INT8_MODES]
    if unknown:
        raise UsageError(f"unknown INT8 mode {', '.join(map(repr, unknown))}; choose dynamic, static or both")
    return list(dict.fromkeys(listed))


@dataclass
class Variant:
    """One ONNX file of the model and what it measured."""

    name: str
    file: str
    method: str
    size_bytes: int = 0
    gzip_bytes: int = 0
    sparsity: float | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)
    accuracy: float | None = None
    macro_f1: float | None = None
    agreement: float | None = None
    accuracy_change: float | None = None
    build_s: float | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("accuracy", "macro_f1", "agreement", "accuracy_change", "sparsity"):
            if out[key] is not None:
                out[key] = round(float(out[key]), 5)
        return out


@dataclass
class _Data:
    """The dataset's splits as the model was trained on them, and the prepared test inputs."""

    splits: dict[str, Dataset]
    source: str
    predictor: OnnxPredictor
    test_items: list[list[np.ndarray]]
    test_labels: np.ndarray
    skipped: list[dict[str, Any]]
    cache: FeatureCache | None = None


def _sample_record(sample: Sample, reason: str) -> dict[str, Any]:
    return {"path": str(sample.path), "label": sample.label, "start": sample.start, "end": sample.end,
            "reason": reason}


def _splits(bundle: Path, dataset: str | Path, meta: dict[str, Any]) -> tuple[dict[str, Dataset], str]:
    """The bundle's recorded splits of ``dataset`` (``splits/*.txt`` of ``vidlens train``), else a fresh one."""
    from .report import select_split

    recorded = [name for name in ("train", "val", "test") if (bundle / "splits" / f"{name}.txt").is_file()]
    if "test" in recorded:
        return {name: select_split(bundle, dataset, name)[0] for name in recorded}, "the split recorded in the model"
    usable, _ = check_videos(load_dataset(dataset))
    settings = recorded_settings(meta)
    parts = split_dataset(usable, settings.get("split") or (0.7, 0.15, 0.15), seed=int(settings.get("seed") or 0))
    return parts, "a fresh stratified split (the model records none: its test clips may have been seen in training)"


def _prepare(predictor: OnnxPredictor, ds: Dataset, console: Console, label: str, skipped: list[dict[str, Any]],
             cache: FeatureCache | None = None) -> tuple[list[list[np.ndarray]], list[int]]:
    index = {name: i for i, name in enumerate(predictor.classes)}
    items, labels = [], []
    progress, update = bar(console, label)
    started = time.perf_counter()
    with progress:
        for done, sample in enumerate(ds.samples, 1):
            if sample.label not in index:
                skipped.append(_sample_record(sample, f"label {sample.label!r} is not a class of the model"))
            else:
                try:
                    items.append(clip_inputs(predictor, sample, cache=cache))
                    labels.append(index[sample.label])
                except Exception as error:  # one unusable video is listed, never fatal
                    skipped.append(_sample_record(sample, " ".join(str(error.args[0] if error.args else error)
                                                                   .split())))
            update(done, len(ds.samples), time.perf_counter() - started)
    return items, labels


def _file_sizes(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=9, mtime=0))


def _latency_ms(bundle: Path, path: Path, item: Sequence[np.ndarray], threads: int, runs: int) -> float:
    predictor = OnnxPredictor(bundle, path, threads=threads)
    inputs = stack_inputs([item])
    return _median_ms(lambda: predictor.predict_arrays(inputs), runs, WARMUP_RUNS)


def _median_ms(call: Callable[[], object], runs: int, warmup: int) -> float:
    """Median wall time of ``call`` over ``runs`` calls after ``warmup`` untimed ones, in milliseconds."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def _zeros_item(meta: dict[str, Any]) -> list[np.ndarray]:
    """An input of the right shape when no dataset is given (latency does not depend on the values)."""
    out = []
    for spec in meta["inputs"]:
        shape = ([spec["steps"], spec["dim"]] if spec["kind"] == "features"
                 else [3, spec["frames"], spec["size"], spec["size"]])
        out.append(np.zeros(shape, np.float32))
    return out


def _backbone_ms(meta: dict[str, Any], threads: int, runs: int = 5) -> float | None:
    """Time of the shipped backbone over one clip's frames (``steps`` frames at 224 px) at ``threads``."""
    steps = sum(int(s["steps"]) for s in meta["inputs"] if s["kind"] == "features")
    if not steps:
        return None
    from ..runtime import load_model

    backbone = load_model(DEFAULT_BACKBONE, threads=threads)
    batch = np.zeros((steps, 3, 224, 224), np.float32)
    return _median_ms(lambda: backbone.run(batch), runs, warmup=1)


# --------------------------------------------------------------------------- pruning (torch)

def _finetune_sets(meta: dict[str, Any], splits: dict[str, Dataset], cache_dir: Path, console: Console,
                   warnings: list[str]):
    """Training and validation torch datasets from the splits, as ``vidlens train`` built them (unreadable
    clips are left out and counted in ``warnings``)."""
    from .torch_datasets import ClipDataset, FeatureSequenceDataset
    from .video_inputs import MAX_TRAIN_CLIP_FRAMES, decode_clip_frames

    spec = meta["inputs"][0]
    settings = recorded_settings(meta)
    index = {name: i for i, name in enumerate(meta["classes"])}
    cache = FeatureCache(cache_dir)
    built = {}
    for name in ("train", "val"):
        ds = splits.get(name)
        if ds is None or not len(ds):
            continue
        arrays, labels, failed = [], [], 0
        progress, update = bar(console, f"fine-tuning data ({name})")
        started = time.perf_counter()
        with progress:
            for done, sample in enumerate(ds.samples, 1):
                if sample.label in index:
                    try:
                        if spec["kind"] == "features":
                            streams = spec_streams(spec)
                            arrays.append(cache.features(sample, fps=spec_fps(spec), streams=streams).rows(streams))
                        else:
                            arrays.append(decode_clip_frames(sample, spec, max_frames=MAX_TRAIN_CLIP_FRAMES).frames)
                        labels.append(index[sample.label])
                    except Exception:  # one unreadable clip is counted, never fatal
                        failed += 1
                update(done, len(ds.samples), time.perf_counter() - started)
        if failed:
            warnings.append(f"fine-tuning: {failed} {name} clip(s) could not be read and were left out")
        train_mode = name == "train"
        if spec["kind"] == "features":
            built[name] = FeatureSequenceDataset(arrays, labels, steps=int(spec["steps"]), train=train_mode,
                                                 reverse=bool(settings.get("reverse")) and train_mode)
        else:
            built[name] = ClipDataset(arrays, labels, train=train_mode, size=int(spec["size"]),
                                      frames=int(spec["frames"]), hflip=bool(settings.get("flip")) and train_mode,
                                      reverse=bool(settings.get("reverse")) and train_mode)
    if "train" not in built or not len(built["train"]):
        raise UsageError("fine-tuning needs training clips: the dataset's training split has none usable")
    return built["train"], built.get("val")


def finetune_config(meta: dict[str, Any], epochs: int) -> TrainConfig:
    """The fine-tuning after pruning: the model's recorded optimisation settings (bundles of any version) at a
    fraction of its learning rate, without warm-up or early stopping."""
    settings = recorded_settings(meta)
    return TrainConfig(epochs=epochs, batch_size=int(settings.get("batch_size") or 16),
                       lr=float(settings.get("lr") or 1e-3) * FINETUNE_LR_FACTOR,
                       weight_decay=float(settings.get("weight_decay") or 0.05), warmup=0,
                       label_smoothing=float(settings.get("label_smoothing") or 0.0), patience=0,
                       seed=int(settings.get("seed") or 0), threads=settings.get("threads"))


def _pruned_variant(bundle: Path, meta: dict[str, Any], amount: float, epochs: int,
                    data: tuple | None, console: Console) -> tuple[Path, dict[str, Any]]:
    """Prune a fresh copy of the model, fine-tune it, export it; returns the ONNX file and its sparsity."""
    from .bundle import load_bundle, save_bundle
    from .export import export_onnx
    from .loop import train
    from .prune import make_permanent, prune_global, sparsity

    model, _ = load_bundle(bundle)
    if meta["arch"] == "ensemble":
        raise UsageError("prune the members of an ensemble, then fuse them again (its members are frozen)")
    prune_global(model, amount)
    name = pruned_name(amount)
    with tempfile.TemporaryDirectory(prefix=f".{name}.", dir=bundle) as work:
        if epochs > 0 and data is not None:
            model.fits_input_stats = False  # keep the standardisation the weights were trained with
            console.print(f"{name}: fine-tuning {epochs} epoch(s)", highlight=False)
            train(model, data[0], data[1], finetune_config(meta, epochs), Path(work) / "training", progress=console)
        make_permanent(model)
        copy = Path(work) / "bundle"
        save_bundle(copy, model, classes=meta["classes"], inputs=meta["inputs"], training=meta.get("training"))
        exported = export_onnx(copy)
        target = bundle / variant_file(name)
        shutil.move(str(exported), target)
    return target, sparsity(model)


# --------------------------------------------------------------------------- the whole run

def compress_bundle(bundle_dir: str | Path, *, int8: str | Sequence[str] | None = None,
                    prune: Sequence[float] | None = None, finetune_epochs: int | None = None,
                    dataset: str | Path | None = None, cache_dir: str | Path | None = None,
                    runs: int = LATENCY_RUNS, threads: Sequence[int] = LATENCY_THREADS,
                    progress: ProgressArg = True) -> dict[str, Any]:
    """Make the requested variants of the bundle's model, measure all of them (fp32 included) and write
    ``compress.json`` into the bundle; returns the report (see the module docstring)."""
    bundle = Path(bundle_dir)
    meta = read_meta(bundle)
    modes, amounts = int8_modes(int8), prune_amounts(prune)
    epochs = _check_request(modes, finetune_epochs, dataset, runs, threads)
    console = console_for(progress)
    started = time.perf_counter()
    fp32, meta = _fp32_file(bundle, meta)
    warnings: list[str] = []
    cache_root = Path(cache_dir) if cache_dir is not None else None
    data: _Data | None = None
    if dataset is not None:
        if cache_root is None:
            from .fit import default_cache_dir  # the feature cache training filled (fit imports torch)

            cache_root = default_cache_dir()
        data = _test_data(bundle, dataset, meta, fp32, cache_root, console, warnings)
    variants = [Variant("fp32", fp32.name, "float32 export")]
    variants += [_int8_variant(bundle, meta, fp32, mode, data, console) for mode in modes]
    if amounts:
        finetune_data = None
        if epochs > 0 and data is not None and cache_root is not None:
            finetune_data = _finetune_sets(meta, data.splits, cache_root, console, warnings)
        for amount in amounts:
            built = time.perf_counter()
            target, zeros = _pruned_variant(bundle, meta, amount, epochs if finetune_data else 0, finetune_data,
                                            console)
            method = (f"global L1 magnitude pruning of {100 * amount:.0f} % of the weights"
                      + (f", fine-tuned {epochs} epoch(s)" if finetune_data else ", not fine-tuned"))
            variants.append(Variant(pruned_name(amount), target.name, method, sparsity=zeros["prunable_sparsity"],
                                    build_s=round(time.perf_counter() - built, 2)))
    _measure(bundle, meta, variants, data, threads, runs)
    report = _report(bundle, meta, variants, data, dataset, threads, runs, epochs if amounts else None, warnings)
    report["elapsed_s"] = round(time.perf_counter() - started, 2)
    write_text_atomic(bundle / REPORT_FILE, json.dumps(report, indent=1) + "\n")
    _record_variants(bundle, variants)
    return report


def _check_request(modes: list[str], finetune_epochs: int | None, dataset: str | Path | None, runs: int,
                   threads: Sequence[int]) -> int:
    """Refuse what cannot be done; returns the fine-tuning epochs (the default with a dataset, else 0)."""
    if runs < 1 or not threads or any(t < 1 for t in threads):
        raise UsageError("latency needs runs >= 1 and thread counts >= 1")
    if finetune_epochs is not None and finetune_epochs < 0:
        raise UsageError(f"finetune_epochs must be >= 0, got {finetune_epochs}")
    if "static" in modes and dataset is None:
        raise UsageError("static INT8 calibrates on real inputs: give the dataset (the model's training data)")
    if finetune_epochs and dataset is None:
        raise UsageError("fine-tuning after pruning needs the dataset (the model's training data)")
    return finetune_epochs if finetune_epochs is not None else (DEFAULT_FINETUNE_EPOCHS if dataset else 0)


def _fp32_file(bundle: Path, meta: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """The bundle's fp32 ONNX file, exported first (with torch) if the bundle was never exported."""
    fp32 = bundle / ((meta.get("files") or {}).get("onnx") or ONNX_FILE)
    if fp32.is_file():
        return fp32, meta
    try:
        from .export import export_onnx  # a bundle without its ONNX file was never exported: torch does it
    except ImportError:
        raise UsageError(f"{fp32.name} is missing and exporting it needs PyTorch: pip install 'vidlens[train]'",
                         path=bundle) from None
    fp32 = export_onnx(bundle)
    return fp32, read_meta(bundle)


def _test_data(bundle: Path, dataset: str | Path, meta: dict[str, Any], fp32: Path, cache_root: Path,
               console: Console, warnings: list[str]) -> _Data:
    """The test clips every variant is scored on, prepared once (the split recorded in the bundle)."""
    splits, source = _splits(bundle, dataset, meta)
    if "fresh" in source:
        warnings.append(f"test set: {source}")
    predictor = OnnxPredictor(bundle, fp32)
    cache = FeatureCache(cache_root)
    skipped: list[dict[str, Any]] = []
    items, labels = _prepare(predictor, splits.get("test", Dataset([], meta["classes"])), console,
                             "test inputs", skipped, cache)
    if not items:
        raise UsageError("no test clip could be prepared from the dataset (its test split is empty or unusable)")
    return _Data(splits, source, predictor, items, np.asarray(labels, np.int64), skipped, cache)


def _int8_variant(bundle: Path, meta: dict[str, Any], fp32: Path, mode: str, data: _Data | None,
                  console: Console) -> Variant:
    """The INT8 variant ``mode``; static quantization calibrates on a subset of the training clips."""
    name = f"int8_{mode}"
    built = time.perf_counter()
    target = bundle / variant_file(name)
    if mode == "dynamic":
        quantize_dynamic_file(fp32, target)
        method = "ONNX Runtime dynamic quantization (int8 weights, activations quantized at run time)"
    else:
        calibration: list[list[np.ndarray]] = []
        if data is not None and "train" in data.splits:  # (static INT8 without a dataset was refused above)
            subset = Dataset(calibration_subset(data.splits["train"].samples), meta["classes"])
            calibration, _ = _prepare(data.predictor, subset, console, "calibration inputs", [], data.cache)
        quantize_static_file(fp32, target, [s["name"] for s in meta["inputs"]], calibration)
        method = f"ONNX Runtime static quantization (QDQ, per-channel int8 weights, uint8 activations, " \
                 f"min/max over {len(calibration)} training clips)"
    return Variant(name, target.name, method, build_s=round(time.perf_counter() - built, 2))


def _measure(bundle: Path, meta: dict[str, Any], variants: list[Variant], data: _Data | None,
             threads: Sequence[int], runs: int) -> None:
    """Each variant's sizes and latencies and, with test data, its accuracy and agreement with fp32 (the first)."""
    latency_item = data.test_items[0] if data is not None else _zeros_item(meta)
    reference: np.ndarray | None = None
    for variant in variants:
        path = bundle / variant.file
        variant.size_bytes, variant.gzip_bytes = _file_sizes(path)
        for t in threads:
            variant.latency_ms[str(t)] = round(_latency_ms(bundle, path, latency_item, t, runs), 4)
        if data is None:
            continue
        predicted = OnnxPredictor(bundle, path).predict_samples(data.test_items).argmax(axis=1)
        if reference is None:
            reference = predicted
        variant.accuracy = accuracy(data.test_labels, predicted)
        variant.macro_f1 = macro_f1(data.test_labels, predicted, len(meta["classes"]))
        variant.agreement = float(np.mean(predicted == reference))
        variant.accuracy_change = variant.accuracy - variants[0].accuracy
        if variant.accuracy_change < -ACCURACY_TOLERANCE:
            variant.warnings.append(f"loses {-100 * variant.accuracy_change:.1f} points of accuracy against "
                                    f"fp32 on the {len(data.test_labels)} test clips")


def _report(bundle: Path, meta: dict[str, Any], variants: list[Variant], data: _Data | None,
            dataset: str | Path | None, threads: Sequence[int], runs: int, finetune_epochs: int | None,
            warnings: list[str]) -> dict[str, Any]:
    """compress.json without its ``elapsed_s`` (the backbone's time per clip measured here, for scale)."""
    backbone = {str(t): _backbone_ms(meta, t) for t in threads} if any(
        s["kind"] == "features" for s in meta["inputs"]) else None
    return {
        "schema": COMPRESS_SCHEMA, "model": str(bundle), "arch": meta["arch"],
        "test_set": None if data is None else {"dataset": str(dataset), "source": data.source,
                                               "samples": len(data.test_labels), "skipped": data.skipped},
        "latency": {"runs": runs, "warmup": WARMUP_RUNS, "batch": 1, "threads": list(threads),
                    "statistic": "median", "what": "the model's ONNX file only" + (
                        "; the backbone runs before it (backbone_ms_per_clip)" if backbone else "")},
        "backbone_ms_per_clip": None if backbone is None else {k: round(v, 3) for k, v in backbone.items() if v},
        "finetune_epochs": finetune_epochs,
        "variants": [v.to_dict() for v in variants],
        "warnings": warnings + [f"{v.name}: {w}" for v in variants for w in v.warnings],
    }


def _record_variants(bundle: Path, variants: list[Variant]) -> None:
    """List the variants (all but fp32) in the bundle's ``vidlens_model.json``."""
    meta = read_meta(bundle)
    meta["variants"] = {**(meta.get("variants") or {}), **{
        v.name: {"file": v.file, "method": v.method, "size_bytes": v.size_bytes,
                 "accuracy": None if v.accuracy is None else round(v.accuracy, 5),
                 "agreement_with_fp32": None if v.agreement is None else round(v.agreement, 5)}
        for v in variants if v.name != "fp32"}}
    write_meta(bundle, meta)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f}" if n >= 1e5 else f"{n / 1e6:.3f}"


def comparison_table(report: dict[str, Any]) -> Table:
    """The report as a Rich table: one row per variant, flagged rows in red."""
    threads = report["latency"]["threads"]
    table = Table(title=f"{report['arch']}: size, latency per clip and accuracy"
                  + ("" if report["test_set"] is None else f" on {report['test_set']['samples']} test clips"),
                  caption="ms: median ONNX Runtime time of one clip at 1 / 2 threads" + (
                      "; the backbone adds " + " / ".join(f"{v:.0f}" for v in report["backbone_ms_per_clip"].values())
                      + " ms per clip to every variant" if report.get("backbone_ms_per_clip") else ""))
    table.add_column("variant")
    table.add_column("MB", justify="right")
    table.add_column("gzip MB", justify="right")
    table.add_column("zeros", justify="right")
    for t in threads:
        table.add_column(f"ms {t}T", justify="right")
    for name in ("acc", "F1", "agree"):
        table.add_column(name, justify="right")
    for v in report["variants"]:
        row = [v["name"], _mb(v["size_bytes"]), _mb(v["gzip_bytes"]),
               "-" if v["sparsity"] is None else f"{100 * v['sparsity']:.0f}%",
               *[f"{v['latency_ms'][str(t)]:.3g}" for t in threads],
               _pct(v["accuracy"]), _pct(v["macro_f1"]), _pct(v["agreement"])]
        table.add_row(*row, style="red" if v["warnings"] else None)
    return table


def variant_path(bundle_dir: str | Path, name: str) -> Path:
    """The ONNX file of variant ``name`` (``fp32``, ``int8_dynamic``, ``pruned30``...) recorded in the bundle."""
    bundle = Path(bundle_dir)
    meta = read_meta(bundle)
    if name == "fp32":
        return bundle / ((meta.get("files") or {}).get("onnx") or ONNX_FILE)
    known = meta.get("variants") or {}
    if name not in known:
        raise UsageError(f"the model has no variant {name!r}; it has: {', '.join(['fp32', *known]) }")
    return bundle / known[name]["file"]
