"""The classifier commands of the CLI: ``vidlens train``, ``vidlens evaluate`` and ``vidlens predict``.

Thin: each parses, calls one function of ``vidlens.api`` and prints a table or JSON. ``train`` needs the
``train`` extra (PyTorch); ``evaluate`` and ``predict`` run the exported ONNX model and need only the base
install.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from .. import api
from ..api import Arch, FuseMode, Schedule, SplitChoice, TrainSettings
from ..errors import UsageError
from ..outputs import default_evaluation
from ..timebase import TimeSpec, duration_seconds
from .console import err, out, show
from .params import JsonFormatOpt, bounded, number_list, print_json

ModelArg = Annotated[Path, typer.Argument(help="A model folder written by `vidlens train`.")]


class PredictFormat(str, Enum):
    table = "table"
    json = "json"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


#: Every training option's default, read from the settings object (never repeated here).
DEFAULTS = TrainSettings()
OPT = DEFAULTS.optimisation
SPLIT_DEFAULT = ",".join(map(str, DEFAULTS.split))  # "0.7,0.15,0.15"

# The options of `vidlens train`, one alias each (named like the setting they set, see _settings).
InputsArg = Annotated[list[Path], typer.Argument(
    help="The dataset: a folder with one sub-folder of videos per class, or a CSV/JSON manifest "
    "(path,label[,start,end]). With --ensemble: the trained model folders to fuse.", show_default=False)]
OutputOpt = Annotated[Path, typer.Option("-o", "--output", help="Model folder to write (bundle, ONNX, splits, "
                                         "training history, test-set evaluation).")]
ArchOpt = Annotated[Arch, typer.Option(help="gru/lstm/tcn/transformer/meanpool: a head over per-frame "
                                       "EfficientNet-Lite0 features (cached on disk); r2plus1d: a small 3D-CNN "
                                       "trained on raw clips.")]
BidirectionalOpt = Annotated[bool, typer.Option(help="gru/lstm: read the sequence both ways.")]
StepsOpt = Annotated[int, typer.Option(help="Feature heads: frames per clip (segment centres).", **bounded(1, 1024))]
FpsOpt = Annotated[float | None, typer.Option(help="Frames sampled per second (default 4 for feature heads, 8 "
                                              "for r2plus1d).", show_default=False,
                                              **bounded(0, 1000, low_open=True))]
SizeOpt = Annotated[int, typer.Option(help="r2plus1d: clip side in pixels.", **bounded(16, 1024))]
FramesOpt = Annotated[int, typer.Option(help="r2plus1d: frames per clip.", **bounded(1, 512))]
EpochsOpt = Annotated[int, typer.Option(help="Most epochs (early stopping may end sooner).", **bounded(1, 10_000))]
BatchSizeOpt = Annotated[int, typer.Option(help="Clips per optimiser step.", **bounded(1, 4096))]
LrOpt = Annotated[float, typer.Option(help="Peak learning rate (AdamW).", **bounded(0, 10, low_open=True))]
WeightDecayOpt = Annotated[float, typer.Option(help="AdamW weight decay (weight matrices only).", **bounded(0, 10))]
ScheduleOpt = Annotated[Schedule, typer.Option(help="cosine (after warm-up) or step (x0.1 every 10 epochs).")]
WarmupOpt = Annotated[float, typer.Option(help="Warm-up epochs (linear).", **bounded(0, 10_000))]
LabelSmoothingOpt = Annotated[float, typer.Option(help="Label smoothing of the loss.",
                                                  **bounded(0, 1, high_open=True))]
DropoutOpt = Annotated[float | None, typer.Option(help="Dropout (default: the architecture's).", show_default=False,
                                                  **bounded(0, 1, high_open=True))]
MixupOpt = Annotated[float, typer.Option(help="Mixup Beta(a, a) strength; 0 = off.", **bounded(0, 100))]
PatienceOpt = Annotated[int, typer.Option(help="Stop after this many epochs without a better validation macro-F1; "
                                          "0 = never.", **bounded(0, 10_000))]
SeedOpt = Annotated[int, typer.Option(help="Seed of the split, the initialisation and every random draw.",
                                      **bounded(0, 2**32 - 1))]
LrFindOpt = Annotated[bool, typer.Option("--lr-find", help="Sweep the learning rate on the training set first "
                                         "and train at its steepest-descent point (instead of --lr).")]
BudgetOpt = Annotated[str | None, typer.Option(help="Time for training (sweep included), e.g. 90s, 10m, 1h: as many "
                                               "epochs as fit, at most --epochs; the schedule follows.",
                                               show_default=False)]
ThreadsOpt = Annotated[int | None, typer.Option(help="CPU threads for torch and ONNX Runtime.", show_default=False,
                                                **bounded(1, 1024))]
SplitOpt = Annotated[str, typer.Option(help="train,val,test ratios, split per class.")]
SplitsOpt = Annotated[str | None, typer.Option(help="Split list files instead: train.txt,val.txt,test.txt (UCF-101 "
                                               "style, paths relative to the dataset).", show_default=False)]
FlipOpt = Annotated[bool, typer.Option("--flip", help="r2plus1d: mirror training clips left-right at random. Off by "
                                       "default because mirroring changes motion labels (pan_left becomes "
                                       "pan_right); use it only if every class looks the same mirrored.")]
ReverseOpt = Annotated[bool, typer.Option("--reverse", help="Play training clips backwards at random. Off by default "
                                          "because it changes motion labels (zoom_in becomes zoom_out, up becomes "
                                          "down); use it only if every class is its own reverse.")]
InputStreamsOpt = Annotated[str, typer.Option("--inputs", help="Feature heads: per-frame input streams, e.g. "
                                              "appearance,motion (auto: appearance + motion).")]
ResumeOpt = Annotated[bool, typer.Option(help="Continue an interrupted run in the same folder (same settings).")]
CacheOpt = Annotated[Path | None, typer.Option(help="Feature cache folder (default: $VIDLENS_CACHE/features, else "
                                               "~/.cache/vidlens/features).", show_default=False)]
EnsembleOpt = Annotated[bool, typer.Option("--ensemble", help="Fuse the trained models given as arguments into one "
                                           "(no new training unless --mode learned).")]
ModeOpt = Annotated[FuseMode, typer.Option(help="--ensemble: mean of probabilities, or per-model weights learned "
                                           "on the validation clips.")]
DatasetOpt = Annotated[Path | None, typer.Option(help="--ensemble: the members' dataset (default: the one the first "
                                                 "member recorded).", show_default=False)]
SummaryJsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="No progress or tables on stderr.")]


def train(
    inputs: InputsArg,
    output: OutputOpt,
    arch: ArchOpt = DEFAULTS.arch,
    bidirectional: BidirectionalOpt = DEFAULTS.bidirectional,
    steps: StepsOpt = DEFAULTS.steps,
    fps: FpsOpt = DEFAULTS.fps,
    size: SizeOpt = DEFAULTS.size,
    frames: FramesOpt = DEFAULTS.frames,
    epochs: EpochsOpt = OPT.epochs,
    batch_size: BatchSizeOpt = OPT.batch_size,
    lr: LrOpt = OPT.lr,
    weight_decay: WeightDecayOpt = OPT.weight_decay,
    schedule: ScheduleOpt = OPT.schedule,
    warmup: WarmupOpt = OPT.warmup,
    label_smoothing: LabelSmoothingOpt = OPT.label_smoothing,
    dropout: DropoutOpt = DEFAULTS.dropout,
    mixup: MixupOpt = OPT.mixup,
    patience: PatienceOpt = OPT.patience,
    seed: SeedOpt = OPT.seed,
    threads: ThreadsOpt = OPT.threads,
    lr_find: LrFindOpt = OPT.lr_find,
    budget: BudgetOpt = OPT.budget,
    split: SplitOpt = SPLIT_DEFAULT,
    splits: SplitsOpt = None,
    flip: FlipOpt = DEFAULTS.flip,
    reverse: ReverseOpt = DEFAULTS.reverse,
    input_streams: InputStreamsOpt = "auto",
    fusion: Annotated[str, typer.Option(help="Several input streams: late (a projection per stream, then joined) "
                                        "or early (concatenated).")] = DEFAULTS.fusion,
    resume: ResumeOpt = False,
    cache: CacheOpt = None,
    ensemble: EnsembleOpt = False,
    mode: ModeOpt = FuseMode.mean,
    dataset: DatasetOpt = None,
    as_json: SummaryJsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train a video classifier on your labelled videos (needs the train extra: PyTorch, CPU).

    Example: vidlens train clips/ -o my_model --arch gru --epochs 30
    """
    progress = False if quiet else err
    if ensemble:
        summary = api.fuse_classifiers(inputs, output, mode=mode, dataset=dataset, cache=cache, threads=threads,
                                       progress=progress)
        _show_summary(summary, as_json, quiet, _print_fuse_summary)
        return
    if len(inputs) != 1:
        raise UsageError(f"give one dataset (a folder or a manifest), got {len(inputs)} arguments; "
                         "to fuse trained models use --ensemble")
    settings = _settings(locals())
    summary = api.train_classifier(inputs[0], output, settings, resume=resume, cache=cache, progress=progress)
    _show_summary(summary, as_json, quiet, _print_train_summary)


def _settings(options: dict[str, Any]) -> TrainSettings:
    """The training settings from the command's options: every option named like a setting sets it (the comma
    lists of --split and --splits parsed here; the API takes sequences)."""
    given = {name: options[name] for name in TrainSettings.option_names() if name in options}
    given["inputs"] = options.get("input_streams", "auto")  # `inputs` is the command's dataset argument
    if given.get("budget") is not None:
        given["budget"] = duration_seconds(given["budget"], "--budget")
    given["split"] = number_list(given["split"], "--split", "ratios like 0.7,0.15,0.15")
    given["splits"] = [p.strip() for p in given["splits"].split(",") if p.strip()] if given["splits"] else None
    return TrainSettings.from_options(**given)


def _show_summary(summary: dict[str, Any], as_json: bool, quiet: bool, table: Any) -> None:
    if as_json:
        print_json(summary)
    elif not quiet:
        table(summary)


def _print_train_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"trained {summary['arch']} -> {summary['model_dir']}", show_header=False)
    table.add_row("classes", ", ".join(summary["classes"]))
    if summary.get("inputs"):
        table.add_row("inputs", " + ".join(summary["inputs"]))
    table.add_row("clips", ", ".join(f"{k} {v}" for k, v in summary["samples"].items())
                  + (f" ({len(summary['skipped'])} skipped)" if summary["skipped"] else ""))
    stop = " (early stop)" if summary["stopped_early"] else ""
    table.add_row("epochs", f"{summary['epochs_run']}{stop}, best {summary['best_epoch']}, "
                  f"val macro-F1 {summary['best_val_macro_f1'] or 0:.3f}")
    test = summary.get("test_onnx") or summary.get("test")
    if test:
        table.add_row("test (ONNX)", f"accuracy {_pct(test['accuracy'])}, macro-F1 {_pct(test['macro_f1'])}, "
                      f"ECE {test['ece']:.3f} on {test['samples']} clips")
    table.add_row("time", f"training {summary['train_seconds']:.1f}s, total {summary['elapsed_s']:.1f}s")
    if summary.get("evaluation_dir"):
        table.add_row("report", f"{summary['evaluation_dir']}/report.html")
    err.print(table)


def _print_fuse_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"ensemble ({summary['mode']}) -> {summary['model_dir']}", show_header=False)
    for member, weight in zip(summary["members"], summary["weights"]):
        table.add_row(member, f"weight {weight:.3f}")
    test = summary.get("test_onnx") or summary.get("test")
    if test:
        table.add_row("test (ONNX)", f"accuracy {_pct(test['accuracy'])}, macro-F1 {_pct(test['macro_f1'])}")
    if summary.get("evaluation_dir"):
        table.add_row("report", f"{summary['evaluation_dir']}/report.html")
    err.print(table)


def evaluate(
    model: ModelArg,
    dataset: Annotated[Path, typer.Argument(help="The labelled dataset (folder or manifest) the model's split "
                                            "lists refer to.")],
    split: Annotated[SplitChoice, typer.Option(help="Which clips: the test (val, train) split recorded at "
                                               "training, or all of the dataset; auto: the test split of the "
                                               "training dataset, all of any other.")] = SplitChoice.auto,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Folder for metrics.json, plots and "
                                                "report.html (default: MODEL/evaluation, or "
                                                "MODEL/evaluation-SPLIT).", show_default=False)] = None,
    onnx: Annotated[Path | None, typer.Option(help="Score another ONNX file of this model (e.g. INT8).",
                                              show_default=False)] = None,
    threads: Annotated[int | None, typer.Option(help="ONNX Runtime threads.", show_default=False,
                                                **bounded(1, 1024))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics.json on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
) -> None:
    """Score a trained model on labelled videos: metrics, confusion matrix, calibration, HTML report (no torch)."""
    target = output or default_evaluation(model, split)
    result = api.evaluate_classifier(model, dataset, split=split, output_dir=target, onnx_file=onnx,
                                     threads=threads, progress=False if quiet else err)
    metrics = result["metrics"]
    if as_json:
        print_json(metrics)
        return
    if quiet:
        return
    table = Table(title=f"{model} on {result['split']}: {metrics['num_samples']} clips")
    for column in ("class", "precision", "recall", "F1", "clips"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, row in metrics["per_class"].items():
        table.add_row(name, _pct(row["precision"]), _pct(row["recall"]), _pct(row["f1"]), str(row["support"]))
    table.add_section()
    for kind in ("macro", "weighted"):
        avg = metrics[kind]
        table.add_row(f"{kind} avg", _pct(avg["precision"]), _pct(avg["recall"]), _pct(avg["f1"]),
                      str(metrics["num_samples"]))
    err.print(table)
    top = ", ".join(f"top-{k} {_pct(v)}" for k, v in metrics["top_k"].items())
    err.print(f"accuracy {_pct(metrics['accuracy'])} ({top}), ECE {metrics['ece']:.3f}", highlight=False)
    for item in result["skipped"][:10]:
        err.print(f"[yellow]skipped[/] {item['path']}: {item['reason']}", highlight=False)
    err.print(f"wrote {target}/report.html, metrics.json, confusion.png, reliability.png", highlight=False)


def _window(text: str | None) -> float | None:
    if text is None:
        return None
    spec = TimeSpec.parse(text if not text.replace(".", "", 1).isdigit() else f"{text}s")
    if spec.seconds is None or spec.seconds <= 0:
        raise UsageError(f"--window takes a duration in seconds (2.5 or 2.5s), got {text!r}")
    return float(spec.seconds)


def predict(
    model: ModelArg,
    videos: Annotated[list[Path], typer.Argument(help="Videos to classify.", show_default=False)],
    window: Annotated[str | None, typer.Option(help="Window length for per-window labels (2.5 or 2.5s; default: "
                                               "the training clip length).", show_default=False)] = None,
    top_k: Annotated[int, typer.Option(help="Classes listed per prediction.", **bounded(1, 1000))] = 3,
    fmt: Annotated[PredictFormat, typer.Option("--format", "-f", help="table or json.")] = PredictFormat.table,
    threads: Annotated[int | None, typer.Option(help="ONNX Runtime threads.", show_default=False,
                                                **bounded(1, 1024))] = None,
    as_json: JsonFormatOpt = False,
) -> None:
    """Label whole videos and their windows with a trained model (ONNX Runtime, no torch)."""
    run = api.predict(model, videos, window_s=_window(window), top_k=top_k, threads=threads)
    for skipped in run.skipped:
        err.print(f"[yellow]skipped[/] {skipped['path']}: {skipped['error']}", highlight=False)
    results = run.results
    if as_json or fmt is PredictFormat.json:
        print_json(results)
        return
    for result in results:
        video = result["video"]
        top = ", ".join(f"{t['label']} {t['confidence']:.2f}" for t in video["top"])
        out.print(f"[bold]{result['path']}[/]: {video['label']} ({video['confidence']:.2f}; {top})", highlight=False)
        table = Table("start", "end", "label", "confidence", box=None, padding=(0, 2))
        for segment in result["segments"]:
            table.add_row(segment["start"]["timecode"], segment["end"]["timecode"], segment["label"],
                          f"{segment['confidence']:.2f}")
        show(table)


def register(app: typer.Typer) -> None:
    """Add the commands to the main app."""
    app.command()(train)
    app.command()(evaluate)
    app.command()(predict)
