"""The one trainer and the one encoder every method goes through.

A method brings a model (``forward(x) -> HashOutput``), a criterion
(``criterion(output, batch) -> (loss, {term: float})`` with ``batch`` a
:class:`Batch` of inputs, labels and training-set indices), an encoding
rule (``output -> continuous code``) and an input spec
(:class:`~hashlib_core.data.transforms.InputSpec`); :func:`fit` and :func:`encode` do the rest.

Determinism: the shuffling order and the augmentation draw from generators seeded from the
run's seed, the model is initialised under ``torch.manual_seed(seed)``, and CPU kernels are
deterministic for a fixed thread count, so the same config gives the same codes on the CPU.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, NamedTuple, Protocol

import numpy as np
import torch
from torch import nn
from hashlib_core.progress import tqdm

from hashlib_core.data.transforms import RGB_IMAGENET, InputSpec
from hashlib_core.models.common import Backbone, parameter_groups

class Batch(NamedTuple):
    """One training step's data as a criterion sees it."""

    inputs: Any      # the model input (an image tensor, or a dict of cached trunk taps)
    labels: Any      # (n,) class ids or (n, C) multi-hot
    index: Any       # (n,) positions in the training part (for memories of training codes)


class ImagePart(Protocol):
    """What the trainer needs of a split part (query / database / train)."""

    labels: np.ndarray

    def __len__(self) -> int: ...

    def get_batch(self, indices: np.ndarray) -> np.ndarray:
        """uint8 images (n, H, W, 3) for the given positions."""


class ImageInputs:
    """Model inputs read from an image part as the method's :class:`InputSpec` says (resize,
    channels, normalisation), plus the CIFAR augmentation (:func:`augment_batch`) when a generator
    is passed (training with ``augment``)."""

    def __init__(self, part: ImagePart, input_size: int, device: str = "cpu", input_spec: InputSpec = RGB_IMAGENET):
        self.part = part
        self.labels = part.labels
        self.input_size = input_size
        self.device = device
        self.input_spec = input_spec

    def __len__(self) -> int:
        return len(self.part)

    def inputs(self, idx: np.ndarray, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self.input_spec.prepare(self.part.get_batch(idx), self.input_size, device=self.device)
        return augment_batch(x, generator) if generator is not None else x


def as_inputs(part, input_size: int, device: str = "cpu", input_spec: InputSpec = RGB_IMAGENET):
    """``part`` itself when it already yields model inputs (e.g. cached trunk taps), else images."""
    return part if hasattr(part, "inputs") else ImageInputs(part, input_size, device, input_spec)


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    epochs: int
    batch_size: int
    lr: float
    backbone_lr: float
    weight_decay: float
    input_size: int
    augment: bool = True
    # train only the head on cached taps of the frozen pretrained trunk (hashlib_core.trunk)
    freeze_backbone: bool = False
    # with freeze_backbone: also train the trunk's layers after the conv5 tap (EfficientNet-Lite:
    # the 1x1 head conv and its BN) from the cached conv5 taps, at ``backbone_lr`` (issue 16)
    tune_tail: bool = False
    device: str = "cpu"
    num_threads: int | None = None
    # "adam" (paper 000 §4.2) or "sgd" with ``momentum`` (paper 004 §4.1's learning rate 0.1 is an SGD rate)
    optimizer: str = "adam"
    momentum: float = 0.9
    # multiply the learning rate by ``lr_gamma`` every ``lr_step`` epochs (paper 004 §4.1, NUS-WIDE: every 6); 0 = constant
    lr_step: int = 0
    lr_gamma: float = 0.1

    def __post_init__(self):
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"train.optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.tune_tail and not self.freeze_backbone:
            raise ValueError("train.tune_tail needs train.freeze_backbone: true (it trains the frozen trunk's "
                             "last layer from cached taps; with the whole network trained it trains anyway)")
        if self.lr_step < 0:
            raise ValueError(f"train.lr_step must be >= 0 (0: constant learning rate), got {self.lr_step}")


def set_determinism(seed: int, num_threads: int | None = None) -> None:
    """Seed torch and pin the CPU thread count (results depend on it)."""
    if num_threads:
        torch.set_num_threads(num_threads)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def augment_batch(x: torch.Tensor, generator: torch.Generator, pad_fraction: float = 0.125) -> torch.Tensor:
    """Per-image random translation (zero padding, then a crop back to size) and horizontal flip.

    The standard CIFAR augmentation (pad 4 px at 32 px, random crop, flip), done on the whole
    batch at once with one seeded generator so it is cheap and reproducible. Written here
    because torchvision.transforms.v2 draws one set of parameters per call, which on a batch
    tensor would give every image the same crop.
    """
    n, _, h, w = x.shape
    pad = max(1, int(round(pad_fraction * h)))
    padded = nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    rows = (torch.arange(h).view(1, h) + dy.view(n, 1))  # (n, h)
    cols = torch.arange(w).view(1, w) + dx.view(n, 1)    # (n, w)
    cols = torch.where(flip.view(n, 1), cols.flip(1), cols)
    c = x.shape[1]
    out = padded.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, padded.shape[3]))
    out = out.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w))
    return out


def make_optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    """Adam (or SGD with momentum) with one learning rate for the (possibly pretrained) backbone
    and one for the new layers."""
    if isinstance(getattr(model, "backbone", None), Backbone):
        groups = parameter_groups(model, backbone_lr=settings.backbone_lr, head_lr=settings.lr)
    else:
        groups = [{"params": [p for p in model.parameters() if p.requires_grad], "lr": settings.lr}]
    if settings.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay)
    return torch.optim.Adam(groups, lr=settings.lr, weight_decay=settings.weight_decay)


Criterion = Callable[..., tuple[torch.Tensor, dict[str, float]]]


def fit(
    model: nn.Module,
    criterion: Criterion,
    train,
    settings: TrainSettings,
    seed: int,
    progress: bool = True,
    desc: str = "train",
    input_spec: InputSpec = RGB_IMAGENET,
) -> list[dict[str, float]]:
    """Train ``model`` for ``settings.epochs`` epochs; returns the per-epoch mean loss terms.

    ``train``: an image part, or anything with ``labels``, ``len`` and ``inputs(idx, generator)``
    (e.g. :class:`hashlib_core.trunk.TapInputs` for a frozen trunk's head).
    The number of epochs is fixed by the config: nothing here looks at the query set.
    """
    device = settings.device
    train = as_inputs(train, settings.input_size, device, input_spec)
    model.to(device).train()
    optimizer = make_optimizer(model, settings)
    schedule = (torch.optim.lr_scheduler.StepLR(optimizer, step_size=settings.lr_step, gamma=settings.lr_gamma)
                if settings.lr_step else None)
    order_gen = torch.Generator().manual_seed(seed)
    aug_gen = torch.Generator().manual_seed(seed + 1_000_003)
    labels_all = torch.from_numpy(np.array(train.labels))  # a writable copy
    n = len(train)
    steps = math.ceil(n / settings.batch_size)
    history: list[dict[str, float]] = []
    bar = tqdm(range(settings.epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=order_gen).numpy()
        sums: dict[str, float] = {}
        for step in range(steps):
            idx = perm[step * settings.batch_size:(step + 1) * settings.batch_size]
            if len(idx) < 2:  # a pairwise loss needs two items; drop a last batch of one
                continue
            x = train.inputs(idx, aug_gen if settings.augment else None)
            y = labels_all[idx].to(device)
            output = model(x)
            loss, terms = criterion(output, Batch(inputs=x, labels=y, index=torch.as_tensor(idx)))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite loss at epoch {epoch}, step {step}: {terms}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            terms = {"loss": float(loss.detach()), **terms}
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(idx)
        if schedule is not None:
            schedule.step()
        record = {k: v / n for k, v in sums.items()}
        record["epoch"] = epoch + 1
        record["seconds"] = time.perf_counter() - t0
        history.append(record)
        bar.set_postfix(loss=f"{record.get('loss', float('nan')):.4f}")
    return history


@torch.no_grad()
def encode(
    model: nn.Module,
    part,
    input_size: int,
    encode_output: Callable[[object], torch.Tensor],
    batch_size: int = 500,
    device: str = "cpu",
    progress: bool = True,
    desc: str = "encode",
    input_spec: InputSpec = RGB_IMAGENET,
) -> np.ndarray:
    """Continuous codes (float32, (n, bits)) for every image of ``part``, in order."""
    model.to(device).eval()
    part = as_inputs(part, input_size, device, input_spec)
    n = len(part)
    outs = []
    for start in tqdm(range(0, n, batch_size), desc=desc, disable=not progress, leave=False):
        idx = np.arange(start, min(n, start + batch_size))
        x = part.inputs(idx)
        outs.append(encode_output(model(x)).float().cpu())
    return torch.cat(outs).numpy() if outs else np.zeros((0, 0), np.float32)
