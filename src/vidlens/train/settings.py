"""The training settings: one typed object, the single source of every name, default and check (no torch).

:class:`TrainSettings` is what ``vidlens train`` and :func:`vidlens.api.train_classifier` are told: the
model and data part (architecture, sampling, split, augmentation) plus its optimisation part
:class:`TrainConfig`, which the training loop (:func:`vidlens.train.loop.train`) takes as it is. The CLI
builds the object from its options (whose defaults are read from these dataclasses) and the Python API
from keyword options (:meth:`TrainSettings.from_options`), so a setting has one name everywhere: the
bundle's recorded ``training.settings``, the CLI option and the keyword argument.

The choices are enums shared by the CLI and the API (:class:`Arch`, :class:`Schedule`, :class:`FuseMode`,
:class:`SplitChoice`); plain strings are accepted and turned into them, an unknown one is a UsageError.

This module imports no torch: the CLI reads it at start-up on machines without the ``train`` extra.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..errors import UsageError


class Arch(str, Enum):
    """A trainable architecture: heads over per-frame backbone features, or the 3D-CNN over raw clips."""

    gru = "gru"
    lstm = "lstm"
    tcn = "tcn"
    transformer = "transformer"
    meanpool = "meanpool"
    r2plus1d = "r2plus1d"

    @property
    def input_kind(self) -> str:
        """``"clip"`` (decoded frames) for the 3D-CNN, ``"features"`` (cached backbone features) for the heads."""
        return "clip" if self is Arch.r2plus1d else "features"


class Schedule(str, Enum):
    """Learning-rate schedule after the linear warm-up."""

    cosine = "cosine"  # cosine decay to 0 at the last step
    step = "step"  # x step_gamma every step_epochs


class FuseMode(str, Enum):
    """How an ensemble combines its members' class probabilities."""

    mean = "mean"  # equal weights, no training
    learned = "learned"  # one weight per member, learned on the validation clips


class SplitChoice(str, Enum):
    """Which clips an evaluation scores: a split recorded at training, all of the dataset, or auto."""

    auto = "auto"  # the recorded test split of the training dataset, all of any other dataset
    test = "test"
    val = "val"
    train = "train"
    all = "all"


E = TypeVar("E", bound=Enum)


def choice(kind: type[E], value: E | str, what: str) -> E:
    """``value`` as a member of the enum ``kind``; an unknown one is a UsageError listing the choices."""
    try:
        return kind(value)
    except ValueError:
        raise UsageError(f"unknown {what} {value!r}; choose from {', '.join(m.value for m in kind)}") from None


#: Names the optimisation settings had in bundles and checkpoints written before they were unified.
LEGACY_NAMES = {"warmup_epochs": "warmup", "mixup_alpha": "mixup", "num_threads": "threads"}


@dataclass
class TrainConfig:
    """The optimisation part: what the training loop needs. Dropout is a model hyper-parameter (it is part of
    the architecture a saved model is rebuilt with), so it lives in :class:`TrainSettings`."""

    epochs: int = 30  # most epochs (early stopping may end sooner)
    batch_size: int = 16
    lr: float = 1e-3  # peak learning rate (AdamW)
    weight_decay: float = 0.05  # AdamW, on weight matrices only (not biases, norms or embeddings' 1-D params)
    schedule: Schedule = Schedule.cosine
    warmup: float = 1.0  # epochs of linear warm-up
    step_epochs: int = 10  # "step" schedule: multiply the learning rate by step_gamma every step_epochs
    step_gamma: float = 0.1
    label_smoothing: float = 0.1
    grad_clip: float = 1.0  # max global gradient norm; 0 = off
    patience: int = 8  # stop after this many epochs without a better validation macro-F1; 0 = off
    mixup: float = 0.0  # Beta(mixup, mixup) mixing of inputs and targets; 0 = off
    seed: int = 0  # the split, the initialisation and every random draw
    threads: int | None = None  # torch intra-op threads (and ONNX Runtime's); None = leave torch's setting
    lr_find: bool = False  # sweep the learning rate on the training set first and train at the found one (not lr)
    budget: float | None = None  # seconds for the loop (sweep included): epochs that fit, at most epochs; None = off

    def __post_init__(self) -> None:
        self.schedule = choice(Schedule, self.schedule, "schedule")
        check_types(self)
        checks = [
            (self.epochs >= 1, "epochs must be >= 1"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.lr >= 0, "lr must be >= 0"),
            (self.weight_decay >= 0, "weight_decay must be >= 0"),
            (self.warmup >= 0, "warmup must be >= 0"),
            (self.step_epochs >= 1, "step_epochs must be >= 1"),
            (0 < self.step_gamma <= 1, "step_gamma must be in (0, 1]"),
            (0 <= self.label_smoothing < 1, "label_smoothing must be in [0, 1)"),
            (self.grad_clip >= 0, "grad_clip must be >= 0"),
            (self.patience >= 0, "patience must be >= 0"),
            (self.mixup >= 0, "mixup must be >= 0"),
            (self.threads is None or self.threads >= 1, "threads must be >= 1"),
            (self.budget is None or self.budget > 0, "budget must be > 0 seconds"),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(f"{message}; check the training settings")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "schedule": self.schedule.value}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """From a recorded config (legacy names such as ``warmup_epochs`` read too); unknown keys are refused."""
        values = upgrade_names(values)
        _refuse_unknown(values, {f.name for f in fields(cls)})
        return cls(**values)


_NUMBER_TYPES = {"int": (numbers.Integral,), "float": (numbers.Real,), "bool": (bool, np.bool_)}


def check_types(settings: Any) -> None:
    """Refuse a number or flag setting of the wrong type (``epochs="ten"``, ``lr=None``) with a UsageError naming
    it, instead of a TypeError deep inside; ``None`` only where the setting allows it."""
    for f in fields(settings):
        kind, _, optional = str(f.type).partition(" | ")
        if kind not in _NUMBER_TYPES:
            continue
        value = getattr(settings, f.name)
        if value is None and optional == "None":
            continue
        is_bool = isinstance(value, (bool, np.bool_))
        if not isinstance(value, _NUMBER_TYPES[kind]) or (is_bool and kind != "bool"):
            wanted = {"int": "a whole number", "float": "a number", "bool": "true or false"}[kind]
            raise UsageError(f"training setting {f.name} takes {wanted}" + (" or None" if optional else "")
                             + f", got {value!r}")


def upgrade_names(values: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded config or settings mapping with the legacy names renamed to today's."""
    return {LEGACY_NAMES.get(k, k): v for k, v in values.items()}


def _refuse_unknown(options: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(options) - known)
    if unknown:
        raise UsageError(f"unknown training option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


#: The optimisation settings' names (keyword options of the API and of :meth:`TrainSettings.from_options`).
OPTIMISATION_NAMES = tuple(f.name for f in fields(TrainConfig))
#: Sampling rate when none is given: feature heads see 4 frames a second, the 3D-CNN 8 (it needs
#: neighbouring frames close enough for motion between them to be a few pixels).
DEFAULT_FPS = {"features": 4.0, "clip": 8.0}


@dataclass
class TrainSettings:
    """Everything ``vidlens train`` can be told; recorded in the bundle. ``None`` means the documented default."""

    arch: Arch = Arch.gru
    bidirectional: bool = False  # gru/lstm: read the sequence both ways
    steps: int = 8  # feature heads: TSN segments per clip
    fps: float | None = None  # frames sampled per second (None: DEFAULT_FPS of the input kind)
    size: int = 112  # r2plus1d: clip side in pixels
    frames: int = 8  # r2plus1d: frames per clip
    dropout: float | None = None  # None: the architecture's default
    split: Sequence[float] = (0.7, 0.15, 0.15)  # train, val, test ratios, split per class
    splits: Sequence[str | Path] | None = None  # train[, val[, test]] list files instead of ratios
    flip: bool = False  # mirror training clips (clip models only): changes motion labels
    reverse: bool = False  # play training clips backwards: changes motion labels
    inputs: str | Sequence[str] = "auto"  # feature heads' per-frame streams ("appearance,motion"); auto: both
    fusion: str = "late"  # several streams: "late" (a projection per stream, then joined) or "early" (concatenated)
    hyper_parameters: dict[str, Any] = field(default_factory=dict)  # more model settings (e.g. hidden=64)
    optimisation: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        self.arch = choice(Arch, self.arch, "architecture")
        if isinstance(self.optimisation, Mapping):
            self.optimisation = TrainConfig.from_dict(self.optimisation)
        if not isinstance(self.optimisation, TrainConfig):
            raise UsageError(f"optimisation takes a TrainConfig, got {type(self.optimisation).__name__}")
        check_types(self)
        if self.fps is not None and not self.fps > 0:
            raise UsageError(f"{{fps}} must be > 0, got {self.fps}", params=("fps",))
        if self.bidirectional and self.arch not in (Arch.lstm, Arch.gru):
            raise UsageError("{bidirectional} applies to lstm and gru only", params=("bidirectional",))
        if self.flip and self.input_kind == "features":
            raise UsageError("{flip} needs raw clips (r2plus1d): feature heads learn from features of the frames "
                             "as they are, computed once", params=("flip",))
        from ..predict.streams import parse_streams

        self.streams = parse_streams(self.inputs)
        if self.fusion not in ("early", "late"):
            raise UsageError(f"unknown {{fusion}} {self.fusion!r}; choose from early, late", params=("fusion",))
        if isinstance(self.split, (str, bytes)):  # the API takes numbers; parsing "0.7,0.15,0.15" is the CLI's job
            raise UsageError(f"split takes a sequence of ratios (train, val[, test]), not the string {self.split!r}")
        if isinstance(self.splits, (str, bytes, Path)):
            raise UsageError("splits takes a sequence of 1 to 3 list files (train, val, test), not one path")
        if self.splits is not None and not 1 <= len(self.splits) <= 3:
            raise UsageError(f"give 1 to 3 split files (train, val, test) to {{splits}}, got {len(self.splits)}",
                             params=("splits",))

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """Every keyword option, flat: the model and data settings, then the optimisation ones."""
        return (*(f.name for f in fields(cls) if f.name != "optimisation"), *OPTIMISATION_NAMES)

    @classmethod
    def from_options(cls, base: TrainSettings | None = None, /, **options: Any) -> TrainSettings:
        """Settings from flat keyword options (``arch="gru", epochs=20, warmup=0.5``), over ``base`` (or the
        defaults). A misspelt option is a UsageError listing the known ones."""
        _refuse_unknown(options, set(cls.option_names()))
        if base is not None and not isinstance(base, TrainSettings):
            raise UsageError(f"settings takes a TrainSettings (or give the options by name), got "
                             f"{type(base).__name__}")
        base = base or cls()
        optimisation = {k: v for k, v in options.items() if k in OPTIMISATION_NAMES}
        own = {k: v for k, v in options.items() if k not in OPTIMISATION_NAMES}
        merged = {**{f.name: getattr(base, f.name) for f in fields(cls)}, **own}
        merged["optimisation"] = TrainConfig(**{**asdict(base.optimisation), **optimisation})
        return cls(**merged)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every option's default, flat (what the CLI's defaults must equal)."""
        return cls().flat()

    def flat(self) -> dict[str, Any]:
        """Every option and its value, flat (the keyword options that rebuild these settings)."""
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "optimisation"}
        return {**own, **{name: getattr(self.optimisation, name) for name in OPTIMISATION_NAMES}}

    @property
    def input_kind(self) -> str:
        return self.arch.input_kind

    @property
    def rate(self) -> float:
        return float(self.fps) if self.fps is not None else DEFAULT_FPS[self.input_kind]

    def model_hyper_parameters(self) -> dict[str, Any]:
        if self.input_kind == "features":
            from ..predict.streams import stream_dims

            dims = stream_dims(self.streams)
            hp: dict[str, Any] = {"steps": self.steps, "input_dim": sum(dims)}
            if len(dims) > 1:
                hp["stream_dims"] = dims
                hp["fusion"] = self.fusion
        else:
            hp = {"frames": self.frames, "size": self.size, "differences": True}  # see R2Plus1D
        if self.bidirectional:
            hp["bidirectional"] = True
        if self.dropout is not None:
            hp["dropout"] = float(self.dropout)
        return {**hp, **self.hyper_parameters}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready and flat: the bundle's ``training.settings`` (the rate resolved)."""
        out = {**self.flat(), "arch": self.arch.value, "schedule": self.optimisation.schedule.value}
        out["hyper_parameters"] = dict(self.hyper_parameters)
        out["split"] = list(self.split)
        out["splits"] = None if self.splits is None else [str(p) for p in self.splits]
        out["fps"] = self.rate
        out["inputs"] = self.inputs if isinstance(self.inputs, str) else ",".join(self.inputs)
        out["streams"] = list(self.streams) if self.input_kind == "features" else None
        return out


def recorded_settings(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A bundle's recorded ``training.settings`` with today's names (bundles of any version; ``{}`` if none)."""
    return upgrade_names((meta.get("training") or {}).get("settings") or {})
