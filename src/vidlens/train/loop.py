"""The training loop: AdamW, warm-up + cosine (or step) learning-rate schedule, label smoothing, mixup,
gradient clipping, early stopping on validation macro-F1 (ties broken by the lower validation loss),
checkpoints every epoch and exact resume; optionally a learning-rate sweep first (``lr_find``, see
:mod:`vidlens.train.lr_find`) and a time budget instead of a fixed number of epochs (``budget``).

A budget of ``budget`` seconds covers the sweep and the epochs. The first epoch (the warm-up, which does not
depend on the run's length) is timed; the run then plans as many epochs as fit in what is left, at most
``epochs``, and the cosine schedule decays to zero at the last planned one. If epochs get slower (a loaded
machine), it stops before an epoch would end past the budget. The planned number is recorded
(``planned_epochs``): ``epochs=planned_epochs`` without a budget repeats the run exactly.

Reproducibility contract: with the same seed, data, config and thread count, two runs give bit-identical
weights, and a run interrupted after any epoch and resumed with ``resume=True`` ends with the same
weights and history as one that never stopped. That holds because every random draw (model init if
the caller seeds first with :func:`seed_everything`, shuffling, augmentation, dropout, mixup) comes from
torch generators whose states are saved in each checkpoint.

Files written to ``out_dir``: ``checkpoint.pt`` (last epoch: model, optimiser, scheduler, RNG states,
history; atomic), ``best.pt`` (weights of the best epoch by validation macro-F1), ``history.json`` and
``curves.png``. When training ends the model holds the best epoch's weights.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..errors import UsageError
from ..files import replacing, write_text_atomic
from .evaluation import forward, predict_with_labels
from .lr_find import BUDGET_SHARE, find_lr
from .metrics import accuracy, log_loss, macro_f1
from .optimizer import adamw
from .plots import training_curves_image, write_png
from .progress import ProgressArg, console_for
from .settings import Schedule, TrainConfig, upgrade_names

__all__ = ["TrainConfig", "TrainResult", "lr_factor", "seed_everything", "train"]

SCHEDULES = tuple(s.value for s in Schedule)
CHECKPOINT_FILE = "checkpoint.pt"
BEST_FILE = "best.pt"
HISTORY_FILE = "history.json"
CURVES_FILE = "curves.png"
CHECKPOINT_FORMAT = "vidlens.checkpoint/1"
#: Config fields that may differ between an interrupted run and its resumption (they do not change results).
RESUME_MAY_DIFFER = frozenset({"threads"})


@dataclass
class TrainResult:
    """What a training run produced; ``history`` has one record per epoch (see :func:`train`)."""

    out_dir: Path
    config: TrainConfig
    history: list[dict[str, Any]]
    best_epoch: int
    best_score: float | None  # validation macro-F1 of the best epoch (None without a validation set)
    stopped_early: bool
    elapsed_s: float
    resumed_from_epoch: int | None = None
    lr: float | None = None  # the peak learning rate trained at (found by the sweep with lr_find)
    planned_epochs: int | None = None  # with a budget: the epochs that fit (the schedule's length)
    out_of_budget: bool = False  # stopped because the next epoch would have ended past the budget
    lr_finder: dict[str, Any] | None = None  # the sweep (LRFinding.to_dict) with lr_find

    @property
    def epochs_run(self) -> int:
        return len(self.history)

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT_FILE

    @property
    def best_weights_path(self) -> Path:
        return self.out_dir / BEST_FILE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (what a saved model's ``training`` section records)."""
        return {"config": self.config.to_dict(), "epochs_run": self.epochs_run, "best_epoch": self.best_epoch,
                "best_val_macro_f1": self.best_score, "stopped_early": self.stopped_early,
                "elapsed_s": round(self.elapsed_s, 3), "resumed_from_epoch": self.resumed_from_epoch,
                "lr": self.lr, "planned_epochs": self.planned_epochs, "out_of_budget": self.out_of_budget,
                "lr_finder": self.lr_finder}


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (call before building the model)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def lr_factor(config: TrainConfig, step: int, steps_per_epoch: int, epochs: int | None = None) -> float:
    """Learning-rate multiplier at optimiser step ``step`` (0-based): linear warm-up over ``warmup`` epochs,
    then a cosine decay to 0 at the last step of ``epochs`` (default ``config.epochs``; a budget's planned
    epochs), or a step decay by ``step_gamma`` every ``step_epochs``."""
    warmup = config.warmup * steps_per_epoch
    if step < warmup:
        return (step + 1) / warmup
    if config.schedule is Schedule.cosine:
        total = (epochs or config.epochs) * steps_per_epoch
        progress = min(1.0, (step - warmup) / max(1.0, total - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return config.step_gamma ** ((step // max(1, steps_per_epoch)) // config.step_epochs)


def _mix(x: torch.Tensor | tuple[torch.Tensor, ...], lam: float, order: torch.Tensor):
    if isinstance(x, (tuple, list)):
        return tuple(lam * t + (1 - lam) * t[order] for t in x)
    return lam * x + (1 - lam) * x[order]


def _rng_states(loader_generator: torch.Generator) -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(), "loader": loader_generator.get_state(),
            "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
            "python": random.getstate()}


def _set_rng_states(states: dict[str, Any], loader_generator: torch.Generator) -> None:
    torch.set_rng_state(states["torch"])
    loader_generator.set_state(states["loader"])
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


def _save_atomic(obj: Any, path: Path) -> None:
    with replacing(path) as tmp:
        torch.save(obj, tmp)


def _check_resumable(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
    if saved.get("format") != CHECKPOINT_FORMAT:
        raise UsageError(f"{path} is not a vidlens training checkpoint")
    current, before = config.to_dict(), upgrade_names(saved["config"])  # checkpoints of any version
    changed = [f"{k}: {before.get(k)!r} -> {v!r}" for k, v in current.items()
               if k not in RESUME_MAY_DIFFER and before.get(k) != v]
    if changed:
        raise UsageError(f"cannot resume {path} with different settings ({'; '.join(changed)}); "
                         "use the same settings or start over without resume")


@dataclass
class _Progress:
    epoch: int = 0
    best_score: float | None = None
    best_loss: float | None = None  # validation loss of the best epoch: breaks ties in macro-F1
    best_epoch: int = 0
    stale: int = 0
    finished: bool = False
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    lr: float | None = None  # peak learning rate (None in checkpoints older than lr_find: config.lr)
    lr_finder: dict[str, Any] | None = None
    planned_epochs: int | None = None  # set after the first epoch when there is a budget
    spent_s: float = 0.0  # seconds of the sweep and the epochs so far (what the budget counts)
    out_of_budget: bool = False

    def last_epoch(self, config: TrainConfig) -> int:
        return self.planned_epochs or config.epochs


def _train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler, criterion: nn.Module, config: TrainConfig,
                 report: Callable[[int, float, float], None]) -> tuple[float, float]:
    """One pass over the training set; returns the mean training loss and accuracy (against the unmixed
    labels when mixup is on)."""
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    params = [p for p in model.parameters() if p.requires_grad]
    for batch, (x, y) in enumerate(loader, start=1):
        if config.mixup > 0:
            lam = float(torch.distributions.Beta(config.mixup, config.mixup).sample())
            order = torch.randperm(y.shape[0])
            logits = forward(model, _mix(x, lam, order))
            loss = lam * criterion(logits, y) + (1 - lam) * criterion(logits, y[order])
        else:
            logits = forward(model, x)
            loss = criterion(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            nn.utils.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        scheduler.step()
        loss_sum += float(loss.detach()) * y.shape[0]
        correct += int((logits.detach().argmax(dim=1) == y).sum())
        seen += y.shape[0]
        report(batch, loss_sum / seen, correct / seen)
    return loss_sum / max(seen, 1), correct / max(seen, 1)


def train(model: nn.Module, train_set: Dataset, val_set: Dataset | None, config: TrainConfig,
          out_dir: str | Path, *, progress: ProgressArg = True, resume: bool = False,
          on_epoch_end: Callable[[dict[str, Any]], None] | None = None) -> TrainResult:
    """Train ``model`` on ``train_set`` (items ``(x, label)``), select the epoch with the best validation
    macro-F1 on ``val_set``, and leave those weights in ``model``.

    Without a validation set there is no early stopping and the last epoch is kept. Models with
    ``fits_input_stats`` get their input standardisation fitted on the training set (its
    ``input_stats()``) before the first epoch. ``resume=True`` continues from ``out_dir/checkpoint.pt`` when
    it exists (same settings required) and starts afresh otherwise. ``on_epoch_end`` receives each
    epoch's history record after its checkpoint is written (raising there interrupts the run safely).
    ``progress``: a console for the epoch lines and bar, ``True`` for stderr, ``False`` for silence.

    History records: ``epoch``, ``lr`` (at the epoch's first step), ``train_loss`` (the training objective,
    with smoothing and mixup), ``train_accuracy``, ``val_loss`` (plain cross-entropy), ``val_accuracy``,
    ``val_macro_f1``, ``best`` (this epoch became the best) and ``seconds``.
    """
    started = time.perf_counter()
    out = Path(out_dir)
    run = _start(model, train_set, config, out, resume)
    state = run.state
    console = console_for(progress)
    if resume and run.resumed_from is None:
        console.print(f"no checkpoint in {out}: starting from epoch 1")
    elif run.resumed_from is not None:
        console.print(f"resuming after epoch {state.epoch} of {state.last_epoch(config)}" +
                      (" (already finished)" if state.finished else ""))
    if state.lr_finder is not None and run.resumed_from is None:
        console.print(f"learning rate {state.lr:.2g} (steepest descent of a {state.lr_finder['steps']}-step sweep "
                      f"in {state.lr_finder['seconds']:.1f}s; lowest loss at {state.lr_finder['lowest_loss_lr']:.2g})",
                      highlight=False)
    bar = _epoch_bar(console)
    with bar:
        task = bar.add_task("train", total=run.steps_per_epoch, epoch="-", loss="-", acc="-")
        for epoch in range(state.epoch + 1, config.epochs + 1):
            if state.finished:
                break
            planned = state.planned_epochs
            record = _run_epoch(model, run, val_set, config, out, epoch, (bar, task))
            console.print(_epoch_line(record, state.last_epoch(config)), soft_wrap=True, highlight=False)
            if planned is None and state.planned_epochs is not None:
                console.print(f"budget {config.budget:g}s: {state.planned_epochs} epoch(s) fit "
                              f"({record['seconds']:.1f}s each)", highlight=False)
            if on_epoch_end is not None:
                on_epoch_end(dict(record))
        if state.stopped_early:
            console.print(f"early stop: no better validation macro-F1 for {config.patience} epochs")
        if state.out_of_budget:
            console.print(f"budget spent: stopped after epoch {state.epoch} of {state.last_epoch(config)}")

    model.load_state_dict(torch.load(out / BEST_FILE, map_location="cpu", weights_only=True))
    if state.history:
        write_png(out / CURVES_FILE, training_curves_image(state.history, best_epoch=state.best_epoch))
    return TrainResult(out_dir=out, config=config, history=state.history, best_epoch=state.best_epoch,
                       best_score=state.best_score, stopped_early=state.stopped_early,
                       elapsed_s=time.perf_counter() - started, resumed_from_epoch=run.resumed_from,
                       lr=state.lr if state.lr is not None else config.lr, planned_epochs=state.planned_epochs,
                       out_of_budget=state.out_of_budget, lr_finder=state.lr_finder)


@dataclass
class _Run:
    """What one run steps through: optimiser, schedule, data order and progress (restored on resume)."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    loader: DataLoader
    loader_generator: torch.Generator
    criterion: nn.Module
    state: _Progress
    resumed_from: int | None = None  # the epoch a resumed run continues after

    @property
    def steps_per_epoch(self) -> int:
        return len(self.loader)


def _start(model: nn.Module, train_set: Dataset, config: TrainConfig, out: Path, resume: bool) -> _Run:
    """A fresh run (seeded, stale files removed, input statistics fitted), or the checkpoint's run resumed.
    The order of the random draws here is part of the reproducibility contract."""
    out.mkdir(parents=True, exist_ok=True)
    if len(train_set) == 0:  # type: ignore[arg-type]
        raise UsageError("the training set is empty")
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    checkpoint_path = out / CHECKPOINT_FILE
    resuming = resume and checkpoint_path.exists()
    if not resuming:
        seed_everything(config.seed)
        for stale_file in (CHECKPOINT_FILE, BEST_FILE, HISTORY_FILE, CURVES_FILE):
            (out / stale_file).unlink(missing_ok=True)
        if getattr(model, "fits_input_stats", False) and hasattr(train_set, "input_stats"):
            model.set_input_stats(*train_set.input_stats())

    saved: dict[str, Any] | None = None
    if resuming:
        saved = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        _check_resumable(saved, config, checkpoint_path)
        state = _Progress(**saved["progress"])
    else:
        state = _Progress(lr=config.lr)
        if config.lr_find:  # after the input statistics: the sweep sees what training will see
            finding = find_lr(model, train_set, config,
                              max_seconds=BUDGET_SHARE * config.budget if config.budget else None)
            state.lr, state.lr_finder, state.spent_s = finding.lr, finding.to_dict(), finding.seconds
    optimizer = adamw(model, config.weight_decay, state.lr if state.lr is not None else config.lr)
    loader_generator = torch.Generator()
    loader_generator.manual_seed(config.seed)
    loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True, generator=loader_generator)
    steps_per_epoch = len(loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(config, s, steps_per_epoch, state.planned_epochs))
    run = _Run(optimizer, scheduler, loader, loader_generator,
               nn.CrossEntropyLoss(label_smoothing=config.label_smoothing), state)
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        _set_rng_states(saved["rng"], loader_generator)
        run.resumed_from = state.epoch
    return run


def _epoch_bar(console: Console) -> Progress:
    return Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]}  acc {task.fields[acc]}"), TimeElapsedColumn(),
                    console=console, transient=True, disable=console.quiet)


def _run_epoch(model: nn.Module, run: _Run, val_set: Dataset | None, config: TrainConfig, out: Path, epoch: int,
               shown: tuple[Progress, TaskID]) -> dict[str, Any]:
    """Train one epoch, score it on the validation set, keep its weights if best, write the checkpoint and the
    history; returns the epoch's history record."""
    epoch_start = time.perf_counter()
    lr = run.optimizer.param_groups[0]["lr"]
    bar, task = shown
    bar.reset(task, total=run.steps_per_epoch, epoch=f"{epoch}/{run.state.last_epoch(config)}", loss="-", acc="-")

    def report(done: int, loss: float, acc: float) -> None:
        bar.update(task, completed=done, loss=f"{loss:.4f}", acc=f"{acc:.3f}")

    train_loss, train_acc = _train_epoch(model, run.loader, run.optimizer, run.scheduler, run.criterion, config,
                                         report)
    record: dict[str, Any] = {"epoch": epoch, "lr": lr, "train_loss": train_loss, "train_accuracy": train_acc,
                              **_validation(model, val_set, config)}
    state = run.state
    score = record["val_macro_f1"]
    improved = score is None or state.best_score is None or score > state.best_score or (
        score == state.best_score and _lower(record["val_loss"], state.best_loss))
    record["best"] = improved
    if improved:
        state.best_score, state.best_epoch, state.stale = score, epoch, 0
        state.best_loss = record["val_loss"]
        _save_atomic(model.state_dict(), out / BEST_FILE)
    else:
        state.stale += 1
    record["seconds"] = round(time.perf_counter() - epoch_start, 3)
    state.history.append(record)
    state.epoch = epoch
    state.spent_s += record["seconds"]
    if config.budget is not None:
        _keep_to_budget(state, config.budget, config.epochs, record["seconds"])
    last = state.last_epoch(config)
    state.stopped_early = bool(config.patience and score is not None and state.stale >= config.patience
                               and epoch < last)
    state.finished = state.stopped_early or state.out_of_budget or epoch >= last
    _save_atomic({"format": CHECKPOINT_FORMAT, "config": config.to_dict(), "model": model.state_dict(),
                  "optimizer": run.optimizer.state_dict(), "scheduler": run.scheduler.state_dict(),
                  "rng": _rng_states(run.loader_generator), "progress": asdict(state)}, out / CHECKPOINT_FILE)
    write_text_atomic(out / HISTORY_FILE, json.dumps(state.history, indent=1))
    return record


def _keep_to_budget(state: _Progress, budget: float, epochs: int, epoch_seconds: float) -> None:
    """After the first epoch, plan the epochs that fit in the ``budget`` seconds (the schedule's length, at most
    ``epochs``); after any epoch, stop if the next one, as long as this one, would end past the budget."""
    left = budget - state.spent_s
    if state.planned_epochs is None:
        fit = int(left // epoch_seconds) if epoch_seconds > 0 else epochs
        state.planned_epochs = max(state.epoch, min(epochs, state.epoch + max(fit, 0)))
    state.out_of_budget = state.epoch < state.planned_epochs and epoch_seconds > left


def _validation(model: nn.Module, val_set: Dataset | None, config: TrainConfig) -> dict[str, float | None]:
    """``val_loss``, ``val_accuracy`` and ``val_macro_f1`` of the model on the validation set (``None`` without)."""
    if val_set is None or len(val_set) == 0:  # type: ignore[arg-type]
        return {"val_loss": None, "val_accuracy": None, "val_macro_f1": None}
    probs, labels = predict_with_labels(model, val_set, batch_size=max(config.batch_size, 32))
    predicted = probs.argmax(axis=1)
    num_classes = getattr(model, "num_classes", None) or probs.shape[1]
    return {"val_loss": log_loss(labels, probs), "val_accuracy": accuracy(labels, predicted),
            "val_macro_f1": macro_f1(labels, predicted, num_classes)}


def _lower(loss: float | None, best: float | None) -> bool:
    """A tie in validation macro-F1 goes to the lower validation loss: on an easy task macro-F1 reaches 1.0 in
    the first epoch, and keeping that epoch kept an under-confident model (ECE 0.69 with every test clip right,
    bench/train_actions.py); later epochs with the same F1 and a lower loss are as right and better calibrated."""
    return loss is not None and best is not None and loss < best


def _epoch_line(record: dict[str, Any], epochs: int) -> str:
    line = (f"epoch {record['epoch']:>3}/{epochs}  lr {record['lr']:.1e}  "
            f"train loss {record['train_loss']:.4f} acc {record['train_accuracy']:.3f}")
    if record["val_macro_f1"] is not None:
        line += (f"  val loss {record['val_loss']:.4f} acc {record['val_accuracy']:.3f} "
                 f"F1 {record['val_macro_f1']:.3f}")
    return line + f"  {record['seconds']:.1f}s" + ("  best" if record["best"] else "")
