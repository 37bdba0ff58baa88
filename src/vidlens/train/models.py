"""Video classifiers in PyTorch: temporal heads over per-frame feature sequences, a compact R(2+1)D 3D-CNN
over raw low-resolution clips, and an ensemble of trained models.

Every model maps its input to class *logits* ``[B, C]`` and is built by :func:`build_model` from an
architecture name and JSON-able hyper-parameters, which is what the saved-model bundle records. Input
standardisation lives inside the model (buffers fitted on the training set with
:meth:`VideoClassifier.set_input_stats`), so an exported ONNX file takes raw features or ``[0, 1]``
pixels and nobody has to copy normalisation constants around.

All models export to ONNX (opset 17) and run in ONNX Runtime: attention is written out with matmul and
softmax rather than ``nn.TransformerEncoder`` (whose fused fast path does not export), and pooling is
a plain mean rather than adaptive pooling.

Input kinds:

- ``features``: ``[B, T, D]`` float32, ``T`` per-frame backbone features (EfficientNet-Lite0: ``D`` = 1280)
  taken TSN-style at ``steps`` positions over the clip;
- ``clip``: ``[B, 3, T, H, W]`` float32 RGB in ``[0, 1]``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import UsageError
from .settings import FuseMode

#: Dimension of the shipped backbone's per-frame features (EfficientNet-Lite0's pooled output).
BACKBONE_DIM = 1280
#: Smallest input spread used for standardisation, as a fraction of the median dimension's (see set_input_stats).
STD_FLOOR = 0.1


class Standardize(nn.Module):
    """``(x - mean) / std`` over the last axis (features) or the channel axis (clips), with fitted buffers."""

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(*shape))
        self.register_buffer("std", torch.ones(*shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class VideoClassifier(nn.Module):
    """Base of every model: records its architecture name, input kind and hyper-parameters."""

    arch: str = ""
    input_kind: str = ""  # "features", "clip" or "ensemble"
    #: Whether the model standardises its input with statistics fitted on the training set (the loop fits them).
    fits_input_stats: bool = True

    def __init__(self, num_classes: int, hyper_parameters: dict[str, Any]) -> None:
        super().__init__()
        if num_classes < 2:
            raise UsageError(f"a classifier needs at least 2 classes, got {num_classes}")
        self.num_classes = int(num_classes)
        self._hyper_parameters = dict(hyper_parameters)

    @property
    def hyper_parameters(self) -> dict[str, Any]:
        """The keyword arguments that :func:`build_model` needs to rebuild this model (JSON-able)."""
        return dict(self._hyper_parameters)

    @property
    def input_names(self) -> tuple[str, ...]:
        """ONNX input names, in ``forward`` argument order."""
        return (self.input_kind,)

    def example_inputs(self, batch: int = 1) -> tuple[torch.Tensor, ...]:
        """Zero tensors of the input shape this model was built for (for tracing and ONNX export)."""
        raise NotImplementedError

    def set_input_stats(self, mean: Any, std: Any) -> None:
        """Set the standardisation fitted on the training set (feature dims, or RGB channels for clips).

        A spread below a tenth of the median dimension's is raised to that floor: a backbone dimension that
        barely varied over a few training clips (often exactly 0 after ReLU6) carries no information, and
        dividing by its tiny spread turned ordinary values of it in new videos into inputs thousands of
        standard deviations out, which then decided the prediction (measured on cat vs coffee vs rocket from
        9 training clips, meanpool and gru, 3 seeds each: 0-67 % test accuracy without the floor, 100 % with
        any floor from 0.05 to 1 times the median).
        """
        norm: Standardize = self.norm  # type: ignore[assignment]
        mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(norm.mean.shape)
        std_t = torch.as_tensor(std, dtype=torch.float32).reshape(norm.std.shape)
        dims = getattr(self, "stream_dims", None)
        if dims and std_t.dim() == 1 and sum(dims) == std_t.numel():
            # each stream gets its own floor: motion numbers are on another scale than backbone features
            parts = std_t.split(list(dims))
            std_t = torch.cat([p.clamp_min(max(1e-6, STD_FLOOR * float(p.median()))) for p in parts])
        else:
            std_t = std_t.clamp_min(max(1e-6, STD_FLOOR * float(std_t.median())))
        norm.mean.copy_(mean_t)
        norm.std.copy_(std_t)


# --------------------------------------------------------------------------- heads over feature sequences

def _streams_hp(stream_dims: Sequence[int] | None, fusion: str = "early") -> dict[str, Any]:
    """The ``stream_dims`` (per-stream widths of the concatenated input) and ``fusion`` hyper-parameters, when
    there are several streams."""
    if fusion not in FUSIONS:
        raise UsageError(f"unknown fusion {fusion!r}; choose from {', '.join(FUSIONS)}")
    return {"stream_dims": [int(d) for d in stream_dims], "fusion": fusion} if stream_dims else {}


FUSIONS = ("early", "late")


class FeatureHead(VideoClassifier):
    """Common part of the heads over ``[B, T, D]``: standardisation and the declared input geometry."""

    input_kind = "features"

    def __init__(self, num_classes: int, hyper_parameters: dict[str, Any]) -> None:
        super().__init__(num_classes, hyper_parameters)
        self.input_dim = int(hyper_parameters["input_dim"])
        self.steps = int(hyper_parameters["steps"])
        self.stream_dims = [int(d) for d in hyper_parameters.get("stream_dims") or []]
        if self.stream_dims and sum(self.stream_dims) != self.input_dim:
            raise UsageError(f"stream_dims {self.stream_dims} do not add up to input_dim {self.input_dim}")
        if self.input_dim < 1 or self.steps < 1:
            raise UsageError(f"input_dim and steps must be >= 1, got {self.input_dim} and {self.steps}")
        self.norm = Standardize((self.input_dim,))

    def example_inputs(self, batch: int = 1) -> tuple[torch.Tensor, ...]:
        return (torch.zeros(batch, self.steps, self.input_dim),)


class FrameEmbedding(nn.Module):
    """Per-frame projection of the (high-dimensional) backbone feature to the head's width.

    With ``deltas`` each frame's feature is concatenated with its change from the previous step (zero at
    the first), the feature-level analogue of TSN's RGB-difference stream. What a clip looks like is
    constant over it and cancels in the difference, so what changes over time (motion, order) stands
    out instead of having to be found under per-video appearance, which a small training set invites
    a model to memorise.

    With several input streams (``stream_dims``) and ``fusion="late"`` each stream gets its own projection to an
    equal share of the width, joined after (late fusion); ``"early"`` projects the concatenated row at once.
    Late fusion keeps a 69-number motion row from being drowned by 1280 appearance dimensions.
    """

    def __init__(self, input_dim: int, hidden: int, dropout: float, deltas: bool,
                 stream_dims: Sequence[int] = (), fusion: str = "early") -> None:
        super().__init__()
        self.deltas = bool(deltas)
        self.drop = nn.Dropout(dropout)
        k = 2 if self.deltas else 1
        self.splits = list(stream_dims) if fusion == "late" and len(stream_dims) > 1 else []
        if self.splits:
            shares = [hidden // len(self.splits)] * len(self.splits)
            shares[0] += hidden - sum(shares)
            self.linears = nn.ModuleList(nn.Linear(d * k, w) for d, w in zip(self.splits, shares))
        else:
            self.linear = nn.Linear(input_dim * k, hidden)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = list(x.split(self.splits, dim=2)) if self.splits else [x]
        out = []
        for part in parts:
            if self.deltas:
                part = torch.cat([part, part - torch.cat([part[:, :1], part[:, :-1]], dim=1)], dim=2)
            out.append(self.drop(part))
        if not self.splits:
            return self.act(self.linear(out[0]))
        return self.act(torch.cat([linear(p) for linear, p in zip(self.linears, out)], dim=2))


class MeanPoolHead(FeatureHead):
    """Mean over time, then an MLP: the order-blind baseline (it cannot tell a clip from its reverse)."""

    arch = "meanpool"

    def __init__(self, num_classes: int, *, input_dim: int = BACKBONE_DIM, steps: int = 8, hidden: int = 256,
                 dropout: float = 0.3, stream_dims: Sequence[int] | None = None, fusion: str = "early") -> None:
        super().__init__(num_classes, {"input_dim": input_dim, "steps": steps, "hidden": hidden, "dropout": dropout,
                                       **_streams_hp(stream_dims, fusion)})
        self.late = fusion == "late" and bool(stream_dims) and len(stream_dims) > 1
        if self.late:  # a projection per stream of the time-averaged row, joined, then the classifier
            self.embed = FrameEmbedding(input_dim, hidden, dropout, False, stream_dims or (), "late")
            self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, num_classes))
        else:
            self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(input_dim, hidden), nn.GELU(),
                                     nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.norm(x).mean(dim=1)
        if self.late:
            return self.mlp(self.embed(pooled[:, None])[:, 0])
        return self.mlp(pooled)


class RecurrentHead(FeatureHead):
    """LSTM or GRU over the projected frame sequence; the last layer's final hidden state(s) classify."""

    cell: type[nn.Module] = nn.GRU

    def __init__(self, num_classes: int, *, input_dim: int = BACKBONE_DIM, steps: int = 8, hidden: int = 128,
                 layers: int = 1, bidirectional: bool = False, dropout: float = 0.3, deltas: bool = True,
                 stream_dims: Sequence[int] | None = None, fusion: str = "early") -> None:
        super().__init__(num_classes, {"input_dim": input_dim, "steps": steps, "hidden": hidden, "layers": layers,
                                       "bidirectional": bool(bidirectional), "dropout": dropout,
                                       "deltas": bool(deltas), **_streams_hp(stream_dims, fusion)})
        self.embed = FrameEmbedding(input_dim, hidden, dropout, deltas, stream_dims or (), fusion)
        self.rnn = self.cell(hidden, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional,
                             dropout=dropout if layers > 1 else 0.0)
        self.directions = 2 if bidirectional else 1
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden * self.directions, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, state = self.rnn(self.embed(self.norm(x)))
        h_n = state[0] if isinstance(state, tuple) else state  # LSTM returns (h_n, c_n)
        last = h_n[-self.directions:]  # [directions, B, hidden] of the top layer
        return self.classifier(torch.cat(list(last), dim=1))


class LSTMHead(RecurrentHead):
    arch = "lstm"
    cell = nn.LSTM


class GRUHead(RecurrentHead):
    arch = "gru"
    cell = nn.GRU


class TCNHead(FeatureHead):
    """Residual temporal 1-D convolutions with growing dilation (1, 2, 4, ...), then a mean over time."""

    arch = "tcn"

    def __init__(self, num_classes: int, *, input_dim: int = BACKBONE_DIM, steps: int = 8, hidden: int = 128,
                 levels: int = 3, kernel: int = 3, dropout: float = 0.3, deltas: bool = True,
                 stream_dims: Sequence[int] | None = None, fusion: str = "early") -> None:
        super().__init__(num_classes, {"input_dim": input_dim, "steps": steps, "hidden": hidden, "levels": levels,
                                       "kernel": kernel, "dropout": dropout, "deltas": bool(deltas),
                                       **_streams_hp(stream_dims, fusion)})
        if kernel < 2 or kernel % 2 == 0:
            raise UsageError(f"tcn kernel must be odd and >= 3, got {kernel}")
        self.embed = FrameEmbedding(input_dim, hidden, dropout, deltas, stream_dims or (), fusion)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(hidden, hidden, kernel, padding=(kernel - 1) // 2 * 2**i, dilation=2**i),
                          nn.GELU(), nn.Dropout(dropout))
            for i in range(levels))
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(self.norm(x)).transpose(1, 2)  # [B, hidden, T]
        for block in self.blocks:
            h = h + block(h)
        return self.classifier(h.mean(dim=2))


class _SelfAttentionBlock(nn.Module):
    """Pre-norm Transformer encoder block with attention written out (exports to any ONNX opset >= 17)."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        if width % heads:
            raise UsageError(f"transformer width {width} is not divisible by {heads} heads")
        self.heads = heads
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(2 * width, width))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, width = x.shape
        qkv = self.qkv(self.ln1(x)).reshape(b, t, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B, heads, T, head_dim]
        attention = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(width // self.heads), dim=-1)
        mixed = (attention @ v).transpose(1, 2).reshape(b, t, width)
        x = x + self.drop(self.out(mixed))
        return x + self.drop(self.mlp(self.ln2(x)))


def _sinusoid_table(length: int, width: int) -> torch.Tensor:
    """Sine/cosine positions (Vaswani et al.) used as the *initial* value of the learned embedding: a
    near-zero random start leaves attention blind to order for many epochs on small data sets."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: width // 2])
    return table


class TransformerHead(FeatureHead):
    """A small temporal Transformer: projected frames plus a learned positional embedding (one per step),
    a few self-attention blocks, then a mean over time. Sequences may be shorter than ``steps``, not longer."""

    arch = "transformer"

    def __init__(self, num_classes: int, *, input_dim: int = BACKBONE_DIM, steps: int = 8, width: int = 128,
                 heads: int = 4, layers: int = 2, dropout: float = 0.2, deltas: bool = True,
                 stream_dims: Sequence[int] | None = None, fusion: str = "early") -> None:
        super().__init__(num_classes, {"input_dim": input_dim, "steps": steps, "width": width, "heads": heads,
                                       "layers": layers, "dropout": dropout, "deltas": bool(deltas),
                                       **_streams_hp(stream_dims, fusion)})
        self.embed = FrameEmbedding(input_dim, width, dropout, deltas, stream_dims or (), fusion)
        self.position = nn.Parameter(_sinusoid_table(steps, width)[None])
        self.blocks = nn.ModuleList(_SelfAttentionBlock(width, heads, dropout) for _ in range(layers))
        self.ln = nn.LayerNorm(width)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(self.norm(x))
        h = h + self.position[:, : h.shape[1]]
        for block in self.blocks:
            h = block(h)
        return self.classifier(self.ln(h).mean(dim=1))


# --------------------------------------------------------------------------- 3D-CNN over raw clips

def _spatio_temporal(c_in: int, c_out: int, stride_t: int, stride_s: int) -> nn.Sequential:
    """A (2+1)D convolution: 1x3x3 spatial, then 3x1x1 temporal, with BN + ReLU between (R(2+1)D, Tran et
    al. 2018): half the parameters of a full 3x3x3 kernel and an extra non-linearity."""
    mid = max(c_out, (27 * c_in * c_out) // (9 * c_in + 3 * c_out))  # the paper's parameter-matching width
    return nn.Sequential(
        nn.Conv3d(c_in, mid, (1, 3, 3), stride=(1, stride_s, stride_s), padding=(0, 1, 1), bias=False),
        nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
        nn.Conv3d(mid, c_out, (3, 1, 1), stride=(stride_t, 1, 1), padding=(1, 0, 0), bias=False))


class _R2Plus1DBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride_t: int, stride_s: int) -> None:
        super().__init__()
        self.conv1 = _spatio_temporal(c_in, c_out, stride_t, stride_s)
        self.bn1 = nn.BatchNorm3d(c_out)
        self.conv2 = _spatio_temporal(c_out, c_out, 1, 1)
        self.bn2 = nn.BatchNorm3d(c_out)
        nn.init.zeros_(self.bn2.weight)  # each block starts as the identity (Goyal et al. 2017): faster, steadier
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = (nn.Identity() if c_in == c_out and stride_t == stride_s == 1 else
                         nn.Sequential(nn.Conv3d(c_in, c_out, 1, stride=(stride_t, stride_s, stride_s), bias=False),
                                       nn.BatchNorm3d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class R2Plus1D(VideoClassifier):
    """A compact R(2+1)D network trained end to end on low-resolution clips ``[B, 3, T, H, W]`` in ``[0, 1]``.

    Four stages of widths ``w, 2w, 4w, 8w``; stages 2-4 halve time and space. With ``w`` = 16 it has about
    1 M parameters, small enough to train on a CPU in minutes on 64-112 px clips of 8-16 frames, which is
    what motion-defined classes (pans, zooms, objects moving up or down) need: single frames cannot
    tell them apart.

    With ``differences`` the standardised clip's frame-to-frame differences are stacked beside it as three
    more channels (zero for the first frame): the motion is then in the first layer's input instead of
    having to be found by it, which is what a network trained from scratch on a few hundred clips fails at
    (bench/RESULTS.md, "Issue 14"). Bundles saved before it read RGB only (their settings lack it).
    """

    arch = "r2plus1d"
    input_kind = "clip"

    def __init__(self, num_classes: int, *, frames: int = 8, size: int = 112, width: int = 16, blocks: int = 1,
                 dropout: float = 0.3, differences: bool = False) -> None:
        super().__init__(num_classes, {"frames": frames, "size": size, "width": width, "blocks": blocks,
                                       "dropout": dropout, "differences": bool(differences)})
        if frames < 1 or size < 16 or width < 1 or blocks < 1:
            raise UsageError(f"r2plus1d needs frames >= 1, size >= 16, width >= 1, blocks >= 1; got "
                             f"{frames}, {size}, {width}, {blocks}")
        self.frames, self.size = int(frames), int(size)
        self.norm = Standardize((1, 3, 1, 1, 1))
        self.differences = bool(differences)
        self.stem = nn.Sequential(
            nn.Conv3d(6 if self.differences else 3, width, (1, 5, 5), stride=(1, 2, 2), padding=(0, 2, 2), bias=False),
            nn.BatchNorm3d(width), nn.ReLU(inplace=True),
            nn.Conv3d(width, width, (3, 1, 1), padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(width), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        c_in = width
        for stage, c_out in enumerate((width, 2 * width, 4 * width, 8 * width)):
            for i in range(blocks):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(_R2Plus1DBlock(c_in, c_out, stride, stride))
                c_in = c_out
        self.stages = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(c_in, num_classes))

    def example_inputs(self, batch: int = 1) -> tuple[torch.Tensor, ...]:
        return (torch.zeros(batch, 3, self.frames, self.size, self.size),)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        if self.differences:
            x = torch.cat([x, torch.cat([torch.zeros_like(x[:, :, :1]), x[:, :, 1:] - x[:, :, :-1]], dim=2)], dim=1)
        h = self.stages(self.stem(x))
        return self.classifier(h.mean(dim=(2, 3, 4)))


# --------------------------------------------------------------------------- ensemble

ENSEMBLE_MODES = tuple(m.value for m in FuseMode)


class Ensemble(VideoClassifier):
    """Fusion of trained models: the (weighted) average of their class probabilities.

    ``mode="mean"`` averages with equal weights; ``mode="learned"`` learns one weight per member
    (softmax-normalised) on held-out data while the members stay frozen in eval mode. The output is the
    *log* of the fused probabilities, so it acts as logits everywhere (softmax gives back the average).
    Members may read different inputs (a feature head and a 3D-CNN): ``inputs[i]`` is the index of the
    ``forward`` argument that member ``i`` reads (default: all read the first). The members are frozen
    in place (``requires_grad`` off).
    """

    arch = "ensemble"
    input_kind = "ensemble"

    def __init__(self, members: Sequence[VideoClassifier], *, mode: str = "mean",
                 inputs: Sequence[int] | None = None) -> None:
        if len(members) < 2:
            raise UsageError("an ensemble needs at least 2 models")
        classes = {m.num_classes for m in members}
        if len(classes) != 1:
            raise UsageError(f"ensemble members disagree on the number of classes: {sorted(classes)}")
        if mode not in ENSEMBLE_MODES:
            raise UsageError(f"unknown ensemble mode {mode!r}; choose from {', '.join(ENSEMBLE_MODES)}")
        index = [0] * len(members) if inputs is None else [int(i) for i in inputs]
        if len(index) != len(members) or sorted(set(index)) != list(range(max(index) + 1)):
            raise UsageError(f"ensemble inputs {index} must give each member an input, numbered from 0 without gaps")
        super().__init__(classes.pop(), {"mode": mode, "inputs": index})
        self.members = nn.ModuleList(members)
        self.mode, self.inputs = mode, index
        self.weight_logits = nn.Parameter(torch.zeros(len(members)), requires_grad=mode == "learned")
        for member in self.members:
            member.requires_grad_(False)
            member.eval()

    @property
    def hyper_parameters(self) -> dict[str, Any]:
        return {"mode": self.mode, "inputs": list(self.inputs),
                "members": [{"arch": m.arch, "hyper_parameters": m.hyper_parameters} for m in self.members]}

    @property
    def input_names(self) -> tuple[str, ...]:
        names: list[str] = []
        for i in range(max(self.inputs) + 1):
            kind = self.members[self.inputs.index(i)].input_names[0]
            names.append(kind if kind not in names else f"{kind}_{i}")
        return tuple(names)

    def example_inputs(self, batch: int = 1) -> tuple[torch.Tensor, ...]:
        return tuple(self.members[self.inputs.index(i)].example_inputs(batch)[0] for i in range(max(self.inputs) + 1))

    fits_input_stats = False  # members carry their own

    def set_input_stats(self, mean: Any, std: Any) -> None:
        raise UsageError("an ensemble's members carry their own input statistics")

    def train(self, mode: bool = True) -> Ensemble:
        """Only the fusion weights train: members stay in eval mode (no dropout, frozen batch-norm)."""
        super().train(mode)
        for member in self.members:
            member.eval()
        return self

    def weights(self) -> torch.Tensor:
        return torch.softmax(self.weight_logits, dim=0)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        w = self.weights()
        fused = sum(w[i] * torch.softmax(m(xs[self.inputs[i]]), dim=1) for i, m in enumerate(self.members))
        return torch.log(fused.clamp_min(1e-12))


# --------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class Architecture:
    """A buildable model: its name, what input it reads, its constructor and a one-line description."""

    name: str
    input_kind: str
    factory: Callable[..., VideoClassifier]
    summary: str


def _build_ensemble(num_classes: int, *, members: Sequence[dict[str, Any]], mode: str = "mean",
                    inputs: Sequence[int] | None = None) -> Ensemble:
    """Rebuild an ensemble (untrained members) from its recorded hyper-parameters, e.g. to load its weights."""
    built = [build_model(m["arch"], num_classes, **m.get("hyper_parameters", {})) for m in members]
    return Ensemble(built, mode=mode, inputs=inputs)


ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (
    Architecture("meanpool", "features", MeanPoolHead, "mean over time + MLP (order-blind baseline)"),
    Architecture("lstm", "features", LSTMHead, "LSTM over the frame features (uni- or bidirectional)"),
    Architecture("gru", "features", GRUHead, "GRU over the frame features (uni- or bidirectional)"),
    Architecture("tcn", "features", TCNHead, "dilated temporal 1-D convolutions"),
    Architecture("transformer", "features", TransformerHead, "small temporal Transformer, learned positions"),
    Architecture("r2plus1d", "clip", R2Plus1D, "compact R(2+1)D 3D-CNN trained end to end on raw clips"),
    Architecture("ensemble", "ensemble", _build_ensemble, "average (or learned weights) of trained models"),
)}


def build_model(arch: str, num_classes: int, **hyper_parameters: Any) -> VideoClassifier:
    """A new (untrained) model of architecture ``arch`` (a key of :data:`ARCHITECTURES`).

    Unknown architectures or hyper-parameters raise :class:`UsageError` naming the valid choices.
    """
    spec = ARCHITECTURES.get(arch)
    if spec is None:
        raise UsageError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHITECTURES)}")
    accepted = [p for p in inspect.signature(spec.factory).parameters.values() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(hyper_parameters) - {p.name for p in accepted})
    if unknown:
        raise UsageError(f"{arch} has no hyper-parameter {', '.join(unknown)}; it accepts "
                         f"{', '.join(p.name for p in accepted)}")
    return spec.factory(int(num_classes), **hyper_parameters)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
