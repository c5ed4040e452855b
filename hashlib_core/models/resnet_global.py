"""torchvision ResNet trunks with the global feature only (DSHC's backbone in the paper profile).

Temporary home: the multi-tap ResNet (taps at the ends of layer2/3/4 + the pooled feature) that
paper 001 needs replaces this module.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from .common import Backbone, register_backbone

__all__ = ["ResNetGlobalBackbone"]


class ResNetGlobalBackbone(Backbone):
    """torchvision ResNet trunk whose ``"fc1"`` tap is the pooled feature (2048-d for ResNet-50).

    The paper's backbone (§4.1). Registered as ``"resnet50"`` / ``"resnet101"`` when this module is
    imported and no backbone of that name exists; global feature only, full width only."""

    def __init__(self, arch: str = "resnet50", weights=None, progress: bool = True):
        super().__init__()
        from torchvision.models import resnet as tv_resnet

        arch = arch.lower()
        if arch not in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"):
            raise ValueError(f"unknown ResNet {arch!r}")
        enum_cls = getattr(tv_resnet, {"resnet18": "ResNet18_Weights", "resnet34": "ResNet34_Weights",
                                       "resnet50": "ResNet50_Weights", "resnet101": "ResNet101_Weights",
                                       "resnet152": "ResNet152_Weights"}[arch])
        net = getattr(tv_resnet, arch)(weights=None)
        if weights is not None:
            if isinstance(weights, str) and weights.lower() in {"imagenet", "imagenet1k_v1", "default"}:
                sd = enum_cls.IMAGENET1K_V1.get_state_dict(progress=progress, check_hash=True)
            elif isinstance(weights, Mapping):
                sd = weights
            else:
                sd = torch.load(weights, map_location="cpu", weights_only=True)
            net.load_state_dict(sd, strict=True)
        self.global_dim = int(net.fc.in_features)
        net.fc = nn.Identity()
        self.net = net
        self.conv_taps = ()
        self.tap_channels = {}
        self.tap_sizes = {}

    def pretrained_modules(self):
        return [self.net]

    def forward(self, x):
        return {"fc1": self.net(x)}


def _resnet_global_factory(arch: str):
    def factory(*, width, input_size, conv_taps, with_global, weights, dropout, progress):
        if conv_taps:
            raise ValueError(f"the {arch} backbone registered by hashlib_core.dshc yields only the global feature "
                             f"(variant 'fc1'); got conv taps {tuple(conv_taps)}")
        if float(width) != 1.0:
            raise ValueError(f"the torchvision {arch} backbone has no width multiplier; got width={width} "
                             "(use a VGG backbone in the cpu / smoke profiles)")
        return ResNetGlobalBackbone(arch, weights=weights, progress=progress)

    factory.__name__ = f"{arch}_global_backbone"
    return factory


# The paper's ResNet-50 (§4.1) for the `paper` profile — registered only where no backbone of that


for _arch in ("resnet50", "resnet101"):
    register_backbone(_arch, _resnet_global_factory(_arch))
