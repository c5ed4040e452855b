"""Backbone-independent pieces of the multi-scale fusion hashing networks.

DSHFMDF (paper 000, VGG) and MDFF-SH (paper 001, ResNet-50) share one head:

    conv taps  --1x1 conv-->  reduced maps --pool--> concat --Linear+ReLU--> fusion (1024)
                                                                               |
                                                                        hash layer (L)  --+
    global tap (fc1) ------------------------------------------------> hash layer (L)  --+--> concat (2L) --> final hash layer (L) = u
                                                                                                                  |
                                                                                                   classifier Linear(L -> K) = logits

A *backbone* is any ``nn.Module`` subclassing :class:`Backbone`: its ``forward`` returns a
dict of taps ``{"conv3", "conv4", "conv5", "fc1"}`` (only those it was built to produce) and it
declares their channel counts / spatial sizes so the head can be built before any forward pass.
Adding ResNet-50 or EfficientNet is a new :class:`Backbone` subclass plus a
:func:`register_backbone` call; the head and the model class are reused unchanged.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence

import torch
import torch.nn as nn

__all__ = [
    "HashOutput",
    "Backbone",
    "MultiScaleHashHead",
    "MultiScaleHashNet",
    "VARIANTS",
    "CONV_TAPS",
    "GLOBAL_TAP",
    "normalize_variant",
    "register_backbone",
    "BACKBONES",
    "parameter_groups",
    "scale_width",
]

CONV_TAPS: tuple = ("conv3", "conv4", "conv5")
GLOBAL_TAP: str = "fc1"

#: variant name -> (uses conv taps, uses the global fc1 tap); Table 4 of paper 000.
VARIANTS: Dict[str, tuple] = {
    "fused": (True, True),
    "fc1": (False, True),
    "conv3-5": (True, False),
}
_VARIANT_ALIASES = {"conv3_5": "conv3-5", "conv35": "conv3-5", "conv": "conv3-5", "dshfmdf": "fused"}


def normalize_variant(variant: str) -> str:
    v = str(variant).lower()
    v = _VARIANT_ALIASES.get(v, v)
    if v not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {sorted(VARIANTS)}")
    return v


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


BACKBONES: Dict[str, Callable[..., Backbone]] = {}


def register_backbone(name: str, factory: Callable[..., Backbone] = None):
    """Register ``factory(width=, input_size=, conv_taps=, with_global=, weights=, dropout=, progress=)``.

    Usable as a decorator.  Names are matched case-insensitively.
    """

    def deco(f):
        BACKBONES[name.lower()] = f
        return f

    return deco(factory) if factory is not None else deco


class MultiScaleHashHead(nn.Module):
    """Feature reduction + fusion + hash layers + classifier (paper 000, §3.2).

    Args:
        tap_channels / tap_sizes: from the backbone (conv taps only; empty for variant "fc1").
        global_dim: width of the fc1 tap, or ``None`` (variant "conv3-5").
        bits: code length L.
        num_classes: classifier outputs K.
        reduce_channels: output channels of each 1x1 reduction conv.
        tap_pool: reduced maps are adaptive-average-pooled to ``tap_pool x tap_pool``
            (1 = global average pooling); ``None`` keeps the full map (flattened; needs fixed input size).
        fusion_dim: nodes of the fusion layer (1024 in the paper).
        hash_activation: ``"tanh"`` (default) or ``"identity"`` applied to every hash layer output.
    """

    def __init__(
        self,
        tap_channels: Dict[str, int],
        tap_sizes: Dict[str, int],
        global_dim: Optional[int],
        bits: int,
        num_classes: int,
        reduce_channels: int,
        tap_pool: Optional[int],
        fusion_dim: int,
        hash_activation: str = "tanh",
    ) -> None:
        super().__init__()
        if bits < 1:
            raise ValueError(f"bits must be >= 1, got {bits}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if not tap_channels and global_dim is None:
            raise ValueError("the head needs at least one branch (conv taps or fc1)")
        if hash_activation not in ("tanh", "identity"):
            raise ValueError(f"hash_activation must be 'tanh' or 'identity', got {hash_activation!r}")
        self.bits = int(bits)
        self.conv_taps = tuple(tap_channels)
        self.tap_pool = tap_pool
        act = nn.Tanh if hash_activation == "tanh" else nn.Identity

        branches = []
        if self.conv_taps:
            # (2) feature reduction: 1x1 conv (+ReLU) on every conv tap
            self.reduce = nn.ModuleDict(
                {
                    t: nn.Sequential(nn.Conv2d(c, reduce_channels, kernel_size=1), nn.ReLU(inplace=True))
                    for t, c in tap_channels.items()
                }
            )
            self.pool = nn.AdaptiveAvgPool2d((tap_pool, tap_pool)) if tap_pool is not None else nn.Identity()
            fused_in = 0
            for t in self.conv_taps:
                side = tap_pool if tap_pool is not None else tap_sizes[t]
                fused_in += reduce_channels * side * side
            # (3) feature fusion: fully connected fusion layer
            self.fusion = nn.Sequential(nn.Linear(fused_in, fusion_dim), nn.ReLU(inplace=True))
            branches.append("fusion")
        else:
            self.reduce = None
            self.pool = None
            self.fusion = None
        if global_dim is not None:
            branches.append("fc1")
        self.branches = tuple(branches)

        # (4) hash coding
        in_dims = {"fusion": fusion_dim, "fc1": global_dim}
        self.branch_hash = nn.ModuleDict({b: nn.Sequential(nn.Linear(in_dims[b], bits), act()) for b in branches})
        if len(branches) > 1:
            self.final_hash = nn.Sequential(nn.Linear(bits * len(branches), bits), act())
        else:
            # single-branch ablations: the branch hash layer *is* the final hash layer
            self.final_hash = None
        # (5) classification on the (continuous) hash code
        self.classifier = nn.Linear(bits, num_classes)

    def forward(self, taps: Dict[str, torch.Tensor]) -> HashOutput:
        hs = []
        for b in self.branches:
            if b == "fusion":
                pooled = [torch.flatten(self.pool(self.reduce[t](taps[t])), 1) for t in self.conv_taps]
                feat = self.fusion(torch.cat(pooled, dim=1))
            else:
                feat = taps["fc1"]
            hs.append(self.branch_hash[b](feat))
        u = self.final_hash(torch.cat(hs, dim=1)) if self.final_hash is not None else hs[0]
        return HashOutput(u=u, logits=self.classifier(u))


class MultiScaleHashNet(nn.Module):
    """Backbone + :class:`MultiScaleHashHead`.  ``forward(x) -> HashOutput(u, logits)``.

    ``model.backbone(x)`` runs the trunk alone (returns the tap dict) - use it to time the
    overhead of the head; ``model.features`` is the convolutional trunk when the backbone has one.
    """

    def __init__(self, backbone: Backbone, head: MultiScaleHashHead, variant: str, config: dict) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.variant = variant
        self.bits = head.bits
        self.config = dict(config)

    @property
    def features(self) -> nn.Module:
        return self.backbone.features

    def forward(self, x: torch.Tensor) -> HashOutput:
        return self.forward_taps(self.backbone(x))

    def forward_taps(self, taps: Dict[str, torch.Tensor]) -> HashOutput:
        """Everything after the trunk (what a frozen-trunk run trains: hashlib_core.trunk)."""
        return self.head(taps)

    def extra_repr(self) -> str:
        return f"variant={self.variant!r}, bits={self.bits}"


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


def multiscale_hashnet(
    backbone: str,
    bits: int = 48,
    num_classes: int = 10,
    variant: str = "fused",
    width: float = 1.0,
    input_size: int = 224,
    weights=None,
    *,
    reduce_channels: Optional[int] = None,
    tap_pool: Optional[int] = 2,
    fusion_dim: Optional[int] = None,
    hash_activation: str = "tanh",
    dropout: float = 0.5,
    progress: bool = True,
) -> MultiScaleHashNet:
    """Generic builder behind :func:`hashlib_core.models.dshfmdf` (and later MDFF-SH).

    ``backbone`` is a name in :data:`BACKBONES`; the backbone factory handles ``weights``.
    """
    name = str(backbone).lower()
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; registered: {sorted(BACKBONES)}")
    variant = normalize_variant(variant)
    use_conv, use_global = VARIANTS[variant]
    if tap_pool is not None and int(tap_pool) < 1:
        raise ValueError(f"tap_pool must be >= 1 or None, got {tap_pool}")
    reduce_channels = scale_width(128, width) if reduce_channels is None else int(reduce_channels)
    fusion_dim = scale_width(1024, width) if fusion_dim is None else int(fusion_dim)
    trunk = BACKBONES[name](
        width=width,
        input_size=input_size,
        conv_taps=CONV_TAPS if use_conv else (),
        with_global=use_global,
        weights=weights,
        dropout=dropout,
        progress=progress,
    )
    head = MultiScaleHashHead(
        tap_channels={t: trunk.tap_channels[t] for t in trunk.conv_taps},
        tap_sizes={t: trunk.tap_sizes[t] for t in trunk.conv_taps},
        global_dim=trunk.global_dim if use_global else None,
        bits=bits,
        num_classes=num_classes,
        reduce_channels=reduce_channels,
        tap_pool=None if tap_pool is None else int(tap_pool),
        fusion_dim=fusion_dim,
        hash_activation=hash_activation,
    )
    config = dict(
        backbone=name,
        bits=int(bits),
        num_classes=int(num_classes),
        variant=variant,
        width=float(width),
        input_size=int(input_size),
        weights=None if weights is None else ("<state_dict>" if isinstance(weights, dict) else str(weights)),
        reduce_channels=reduce_channels,
        tap_pool=tap_pool,
        fusion_dim=fusion_dim,
        hash_activation=hash_activation,
        dropout=dropout,
    )
    return MultiScaleHashNet(trunk, head, variant=variant, config=config)


__all__ += ["count_parameters", "multiscale_hashnet"]
