"""DSHFMDF: Deep Supervised Hashing by Fusing Multiscale Deep Features (paper 000), and the
single-hash-layer network the deep baselines share.

The networks are a registered backbone (:mod:`hashlib_core.models.vgg` for the paper's VGG-19,
:mod:`~hashlib_core.models.efficientnet_lite`, :mod:`~hashlib_core.models.resnet`) under the
multi-scale head of :mod:`hashlib_core.models.multiscale`.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional, Union

from .multiscale import MultiScaleHashNet, multiscale_hashnet

__all__ = ["dshfmdf", "fc1_hashnet"]


def dshfmdf(
    backbone: str = "vgg19_bn",
    bits: int = 48,
    num_classes: int = 10,
    variant: str = "fused",
    width: float = 1.0,
    input_size: int = 224,
    weights: Union[None, str, os.PathLike, Mapping] = None,
    *,
    reduce_channels: Optional[int] = None,
    tap_pool: Optional[int] = 2,
    fusion_dim: Optional[int] = None,
    hash_activation: str = "tanh",
    dropout: float = 0.5,
    progress: bool = True,
) -> MultiScaleHashNet:
    """Build DSHFMDF (paper 000) or one of its Table-4 ablations.

    Args:
        backbone: ``"vgg13" | "vgg16" | "vgg19"`` (+ ``"_bn"``; also ``vgg11[_bn]``), or any name
            registered with :func:`hashlib_core.models.common.register_backbone`.
        bits: code length L.
        num_classes: classifier outputs (multi-label datasets: number of labels).
        variant: ``"fused"`` (the paper's model), ``"fc1"`` or ``"conv3-5"`` (Table 4 ablations).
        width: channel multiplier for every layer (conv channels, fc1=4096*w, reduction=128*w,
            fusion=1024*w; each rounded, at least 4).  1.0 = the paper / torchvision.
        input_size: side of the (square) input the model is built for; sets the fc1 grid
            ``max(1, input_size // 32)`` (7 at 224 px).  Other sizes still run.
        weights: ``None`` (random init), ``"imagenet"`` (torchvision ``IMAGENET1K_V1`` via its
            weights API; downloads; width must be 1.0), a torchvision ``WeightsEnum`` member, a path
            to a torchvision-format VGG state dict (``torch.load(weights_only=True)``) or a state dict.
        reduce_channels: channels of each 1x1 reduction conv (default ``128*width``).
        tap_pool: reduced maps are adaptive-avg-pooled to ``tap_pool x tap_pool`` (default 2; 1 = GAP;
            ``None`` = flatten the full map, needs inputs of exactly ``input_size``).
        fusion_dim: fusion layer nodes (default ``1024*width``).
        hash_activation: ``"tanh"`` (default; u in (-1, 1)) or ``"identity"``.
        dropout: dropout after fc1 (torchvision's 0.5).

    Returns:
        :class:`~hashlib_core.models.common.MultiScaleHashNet`; ``forward(x) -> HashOutput(u, logits)``.
    """
    return multiscale_hashnet(
        backbone,
        bits=bits,
        num_classes=num_classes,
        variant=variant,
        width=width,
        input_size=input_size,
        weights=weights,
        reduce_channels=reduce_channels,
        tap_pool=tap_pool,
        fusion_dim=fusion_dim,
        hash_activation=hash_activation,
        dropout=dropout,
        progress=progress,
    )


def fc1_hashnet(backbone: str = "vgg19_bn", bits: int = 48, num_classes: int = 10, width: float = 1.0,
                input_size: int = 224, weights=None, *, hash_activation: str = "identity", dropout: float = 0.5,
                progress: bool = True, **head) -> MultiScaleHashNet:
    """The network every deep baseline (DPSH, HashNet, DHN, DCH, CSQ, DSDH) trains: the backbone's
    global ``fc1`` feature -> one linear hash layer of ``bits`` (+ a classifier head the baselines'
    losses ignore). The same module as paper 000's Table 4 ``fc1`` variant with a linear
    (``"identity"``) hash activation, so "equal settings" means the same trunk and the same layer;
    the methods' own squashing functions are applied inside their losses."""
    return multiscale_hashnet(backbone, bits=bits, num_classes=num_classes, variant="fc1", width=width,
                              input_size=input_size, weights=weights, hash_activation=hash_activation,
                              dropout=dropout, progress=progress, **head)
