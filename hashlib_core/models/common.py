"""What every hashing network shares: the model output, the backbone interface and its registry.

A *backbone* is any ``nn.Module`` subclassing :class:`Backbone`: its ``forward`` returns a dict of
taps ``{"conv3", "conv4", "conv5", "fc1"}`` (only those it was built to produce) and it declares
their channel counts / spatial sizes so a head can be built before any forward pass. One file per
network family registers its backbones here (``vgg.py``, ``resnet.py``, ``efficientnet_lite.py``);
``hashlib_core.models`` imports every family, so the registry is complete whatever is imported
first. The multi-scale head that DSHFMDF / MDFF-SH put on a backbone is in ``multiscale.py``.
"""

from __future__ import annotations

from typing import Callable, Dict, List, NamedTuple, Optional

import torch
import torch.nn as nn

__all__ = [
    "HashOutput",
    "Backbone",
    "CONV_TAPS",
    "GLOBAL_TAP",
    "register_backbone",
    "build_backbone",
    "BACKBONES",
    "parameter_groups",
    "count_parameters",
    "scale_width",
    "check_conv_taps",
]

CONV_TAPS: tuple = ("conv3", "conv4", "conv5")
GLOBAL_TAP: str = "fc1"


def scale_width(channels: int, width: float, minimum: int = 4) -> int:
    """``round(channels * width)`` but at least ``minimum`` (width=1.0 returns ``channels``)."""
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    return max(int(minimum), int(round(channels * float(width))))


class HashOutput(NamedTuple):
    """What every hashing model in :mod:`hashlib_core.models` returns.

    u:      continuous hash-layer output, shape (N, bits); the binary code is ``sign(u)``.
    logits: classifier output, shape (N, num_classes).
    """

    u: torch.Tensor
    logits: torch.Tensor


class Backbone(nn.Module):
    """Base class: a feature extractor that yields named taps.

    Subclasses set, in ``__init__``:

    * ``conv_taps``: tuple of conv tap names it produces (subset of :data:`CONV_TAPS`), may be empty;
    * ``tap_channels``: ``{tap: channels}`` for each conv tap;
    * ``tap_sizes``: ``{tap: spatial side length}`` at the ``input_size`` it was built for;
    * ``global_dim``: width of the global tap ``"fc1"`` (``None`` if not built);

    and implement ``forward(x) -> {tap: tensor}`` (conv taps are (N, C, H, W), ``"fc1"`` is (N, D)),
    plus ``pretrained_modules()`` naming the sub-modules that belong to the (possibly pretrained)
    trunk; everything else in the model is "head".
    """

    conv_taps: tuple = ()
    tap_channels: Dict[str, int]
    tap_sizes: Dict[str, int]
    global_dim: Optional[int] = None

    def pretrained_modules(self) -> List[nn.Module]:  # pragma: no cover - interface
        return [self]



def check_conv_taps(conv_taps) -> None:
    """One clear error for a conv tap name no backbone produces."""
    unknown = set(conv_taps) - set(CONV_TAPS)
    if unknown:
        raise ValueError(f"unknown conv taps {sorted(unknown)}; expected a subset of {CONV_TAPS}")


#: backbone name (lower case) -> factory(width=, input_size=, conv_taps=, with_global=, weights=, dropout=, progress=)
BACKBONES: Dict[str, Callable[..., Backbone]] = {}


def register_backbone(name: str, factory: Callable[..., Backbone] = None):
    """Register ``factory(width=, input_size=, conv_taps=, with_global=, weights=, dropout=, progress=)``
    under ``name`` (matched case-insensitively). Usable as a decorator. A second registration of
    the same name is refused (ValueError): two families must not silently shadow each other."""

    def deco(f):
        key = name.lower()
        if key in BACKBONES:
            raise ValueError(f"backbone {name!r} is already registered (by {BACKBONES[key].__module__})")
        BACKBONES[key] = f
        return f

    return deco(factory) if factory is not None else deco


def build_backbone(name: str, *, width: float = 1.0, input_size: int = 224, conv_taps=CONV_TAPS,
                   with_global: bool = True, weights=None, dropout: float = 0.5, progress: bool = True) -> Backbone:
    """The registered backbone ``name`` built with the given taps; one clear error for an unknown name."""
    key = str(name).lower()
    if key not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; registered: {sorted(BACKBONES)}")
    return BACKBONES[key](width=width, input_size=input_size, conv_taps=tuple(conv_taps), with_global=with_global,
                          weights=weights, dropout=dropout, progress=progress)


def parameter_groups(
    model: nn.Module,
    backbone_lr: Optional[float] = None,
    head_lr: Optional[float] = None,
    **group_options,
) -> List[dict]:
    """Split ``model``'s trainable parameters into the pretrained trunk and the new head.

    Returns ``[{"name": "backbone", "params": [...]}, {"name": "head", "params": [...]}]``, ready
    for ``torch.optim.Adam(groups, lr=...)``; ``backbone_lr`` / ``head_lr`` set a per-group ``lr``
    when given, ``group_options`` (e.g. ``weight_decay``) are copied into both groups.  Every
    trainable parameter lands in exactly one group; empty groups are dropped.
    """
    if hasattr(model, "backbone") and isinstance(model.backbone, Backbone):
        trunk_ids = set()
        for m in model.backbone.pretrained_modules():
            trunk_ids.update(id(p) for p in m.parameters())
    else:
        raise TypeError("parameter_groups expects a MultiScaleHashNet (a model with a .backbone Backbone)")
    backbone, head = [], []
    for p in model.parameters():
        if not p.requires_grad:
            continue
        (backbone if id(p) in trunk_ids else head).append(p)
    groups = []
    for name, params, lr in (("backbone", backbone, backbone_lr), ("head", head, head_lr)):
        if not params:
            continue
        g = {"name": name, "params": params, **group_options}
        if lr is not None:
            g["lr"] = lr
        groups.append(g)
    return groups


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)

