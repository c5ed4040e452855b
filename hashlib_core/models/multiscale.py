"""The multi-scale fusion hash head (paper 000 §3.2; paper 001 puts the same head on ResNet-50).

    conv taps  --1x1 conv-->  reduced maps --pool--> concat --Linear+ReLU--> fusion (1024)
                                                                               |
                                                                        hash layer (L)  --+
    global tap (fc1) ------------------------------------------------> hash layer (L)  --+--> concat (2L) --> final hash layer (L) = u
                                                                                                                  |
                                                                                                   classifier Linear(L -> K) = logits

Any registered backbone (:mod:`hashlib_core.models.common`) plugs in; the constructors that name
a paper's model (``dshfmdf``, ``fc1_hashnet``) live in :mod:`hashlib_core.models.dshfmdf`.
"""

from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn as nn

from .common import CONV_TAPS, Backbone, HashOutput, build_backbone, scale_width

__all__ = ["VARIANTS", "normalize_variant", "MultiScaleHashHead", "MultiScaleHashNet", "multiscale_hashnet"]

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
    variant = normalize_variant(variant)
    use_conv, use_global = VARIANTS[variant]
    if tap_pool is not None and int(tap_pool) < 1:
        raise ValueError(f"tap_pool must be >= 1 or None, got {tap_pool}")
    reduce_channels = scale_width(128, width) if reduce_channels is None else int(reduce_channels)
    fusion_dim = scale_width(1024, width) if fusion_dim is None else int(fusion_dim)
    trunk = build_backbone(
        name,
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

