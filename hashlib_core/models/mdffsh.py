"""MDFF-SH (paper 001) and DMSH (paper 002): paper 000's multi-scale fusion network on other
backbones / tap sets, as named constructors.

* MDFF-SH — Redaoui et al., *Multiscale Deep Feature Fusion for High-Precision Image Retrieval
  through Supervised Hashing*, J. Imaging 11(1):20, 2025 (preprint Nov. 2024) §2.2: taps at the ends of ResNet-50's conv3_x /
  conv4_x / conv5_x (torchvision ``layer2`` / ``layer3`` / ``layer4``) and fc1 (= the pooled
  ``layer4`` feature, :mod:`hashlib_core.models.resnet`), 1x1 reduction, fusion, hash layers,
  classifier: :func:`hashlib_core.models.dshfmdf` with ``backbone="resnet50"``.
* DMSH — Redaoui, Belloulata, Belalia, *Deep Multi-Scale Hashing for Image Retrieval*, ICAITA 2022,
  doi:10.1007/978-3-031-28540-0_4 (abstract only): "multiscale features from multiple
  convolutional layers", fused — read as the same head on its conv taps only (no fc1 branch), on
  paper 000's VGG-19-BN: :func:`hashlib_core.models.dshfmdf` with ``variant="conv3-5"``.

Both return the very module :func:`~hashlib_core.models.dshfmdf.dshfmdf` builds for the same
arguments (same parameter order, so the same initialisation under one seed). docs/decisions.md,
"MDFF-SH (paper 001) and DMSH (paper 002)".

This module is imported by name (``from hashlib_core.models.mdffsh import mdffsh``), not by
``hashlib_core.models``: it registers no backbone.
"""

from __future__ import annotations

from .dshfmdf import dshfmdf
from .multiscale import MultiScaleHashNet, normalize_variant

__all__ = ["mdffsh", "dmsh", "MDFFSH_BACKBONE", "DMSH_BACKBONE", "DMSH_VARIANT"]

#: paper 001 §2.2: "the ResNet50 network serves as the backbone"
MDFFSH_BACKBONE = "resnet50"
#: paper 002 names no backbone; paper 000 (its journal successor) uses VGG-19 (our BN variant)
DMSH_BACKBONE = "vgg19_bn"
#: paper 002's abstract names convolutional layers only: the conv3/conv4/conv5 branches of the head
DMSH_VARIANT = "conv3-5"


def mdffsh(backbone: str = MDFFSH_BACKBONE, bits: int = 48, num_classes: int = 10, variant: str = "fused",
           width: float = 1.0, input_size: int = 224, weights=None, **head) -> MultiScaleHashNet:
    """MDFF-SH (paper 001 §2.2) or one of its Table 4 ablations (``variant`` ``"fc1"`` / ``"conv3-5"``).

    Arguments as :func:`hashlib_core.models.dshfmdf` (``head``: ``reduce_channels``, ``tap_pool``,
    ``fusion_dim``, ``hash_activation``, ``dropout``, ``progress``); ``weights="imagenet"`` loads
    torchvision's ``ResNet50_Weights.IMAGENET1K_V1`` through its weights API, a path or a mapping
    a torchvision-format ResNet-50 state dict.
    """
    return dshfmdf(backbone=backbone, bits=bits, num_classes=num_classes, variant=variant, width=width,
                   input_size=input_size, weights=weights, **head)


def dmsh(backbone: str = DMSH_BACKBONE, bits: int = 48, num_classes: int = 10, variant: str = DMSH_VARIANT,
         width: float = 1.0, input_size: int = 224, weights=None, **head) -> MultiScaleHashNet:
    """DMSH (paper 002, as assumed in docs/decisions.md): the multi-scale head on the conv taps only.

    ``variant`` exists so a resolved run config (which names it) can be passed through; anything but
    ``"conv3-5"`` is refused — with the fc1 branch the network is DSHFMDF.
    """
    if normalize_variant(variant) != DMSH_VARIANT:
        raise ValueError(f"DMSH fuses convolutional taps only (variant {DMSH_VARIANT!r}); got variant={variant!r} "
                         "(with fc1 the network is DSHFMDF: use method 'dshfmdf')")
    return dshfmdf(backbone=backbone, bits=bits, num_classes=num_classes, variant=DMSH_VARIANT, width=width,
                   input_size=input_size, weights=weights, **head)
