"""Multi-tap ResNet backbone (MDFF-SH, paper 001 §2.2; also DSHC's ResNet-50, paper 004 §4.1).

The trunk is torchvision's ResNet (``conv1, bn1, relu, maxpool, layer1..layer4``) rebuilt from
``torchvision.models.resnet.BasicBlock`` / ``Bottleneck`` with every stage's ``planes`` (and the
stem's 64 channels) multiplied by ``width``. At ``width=1.0`` module names, parameter names and
shapes are torchvision's ``resnet18/34/50/101()`` minus ``fc``, so ImageNet state dicts load key
for key.

Taps (He et al.'s stage names, which paper 001 uses):

* ``conv3`` / ``conv4`` / ``conv5`` = the output of the last residual block of ``conv3_x`` /
  ``conv4_x`` / ``conv5_x`` = torchvision's ``layer2`` / ``layer3`` / ``layer4`` (after the block's
  final ReLU; strides 8 / 16 / 32; 512 / 1024 / 2048 channels for ResNet-50 at width 1);
* ``fc1`` = global average pool of ``layer4`` (the input of torchvision's 1000-way ``fc``; 2048-d
  for ResNet-50), followed by ``Dropout(dropout)``. A ResNet has no fc1; this is our reading
  (docs/decisions.md, "MDFF-SH (paper 001) and DMSH (paper 002)").

The trunk stops after the deepest stage a requested tap needs (layers beyond it are not built).
"""

from __future__ import annotations

import math
import os
from typing import Dict, List, Mapping, Optional, Sequence

import torch
import torch.nn as nn
from torchvision.models import resnet as tv_resnet

from .common import CONV_TAPS, Backbone, check_conv_taps, register_backbone, scale_width

__all__ = [
    "RESNET_CONFIGS",
    "TAP_STAGES",
    "ResNetBackbone",
    "map_torchvision_resnet_state_dict",
    "load_resnet_weights",
]

#: arch -> (block class, blocks per stage, torchvision weights enum class name)
RESNET_CONFIGS: Dict[str, tuple] = {
    "resnet18": (tv_resnet.BasicBlock, (2, 2, 2, 2), "ResNet18_Weights"),
    "resnet34": (tv_resnet.BasicBlock, (3, 4, 6, 3), "ResNet34_Weights"),
    "resnet50": (tv_resnet.Bottleneck, (3, 4, 6, 3), "ResNet50_Weights"),
    "resnet101": (tv_resnet.Bottleneck, (3, 4, 23, 3), "ResNet101_Weights"),
}

#: conv tap -> index (1-based) of the torchvision stage ``layer<i>`` whose output it is
TAP_STAGES: Dict[str, int] = {"conv3": 2, "conv4": 3, "conv5": 4}

_IMAGENET_NAMES = {"imagenet", "imagenet1k_v1", "default"}
_STAGE_PLANES = (64, 128, 256, 512)


def _is_imagenet_name(weights) -> bool:
    return isinstance(weights, str) and weights.lower() in _IMAGENET_NAMES


class ResNetBackbone(Backbone):
    """ResNet trunk yielding ``{"conv3", "conv4", "conv5", "fc1"}`` taps (those requested).

    Args:
        arch: ``"resnet18" | "resnet34" | "resnet50" | "resnet101"``.
        width: multiplier of the stem's 64 channels and of every stage's ``planes``
            (``scale_width``: rounded, at least 4); 1.0 = torchvision.
        input_size: side of the square input; sets ``tap_sizes`` (each stride-2 step gives
            ``ceil(side / 2)``: 224 px -> 28/14/7, 32 px -> 4/2/1). Other sizes still run.
        conv_taps: subset of :data:`~hashlib_core.models.common.CONV_TAPS`.
        with_global: build the ``fc1`` tap (pooled final feature).
        dropout: dropout on the ``fc1`` tap (0 = exactly torchvision's ``fc`` input).
    """

    def __init__(
        self,
        arch: str = "resnet50",
        width: float = 1.0,
        input_size: int = 224,
        conv_taps: Sequence[str] = CONV_TAPS,
        with_global: bool = True,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        arch = str(arch).lower()
        if arch not in RESNET_CONFIGS:
            raise ValueError(f"unknown ResNet arch {arch!r}; expected one of {sorted(RESNET_CONFIGS)}")
        if int(input_size) < 1:
            raise ValueError(f"input_size must be >= 1, got {input_size}")
        check_conv_taps(conv_taps)
        if not conv_taps and not with_global:
            raise ValueError("a backbone with no conv taps and no global (fc1) tap computes nothing")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        block, blocks, _ = RESNET_CONFIGS[arch]
        self.arch = arch
        self.width = float(width)
        self.input_size = int(input_size)
        self.conv_taps = tuple(t for t in CONV_TAPS if t in set(conv_taps))
        # deepest torchvision stage needed: layer4 for fc1, else the deepest requested tap's stage
        self.num_stages = 4 if with_global else max(TAP_STAGES[t] for t in self.conv_taps)

        stem = scale_width(64, width)
        self.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = stem
        stage_channels = []
        for i in range(self.num_stages):
            planes = scale_width(_STAGE_PLANES[i], width)
            layer, inplanes = self._make_layer(block, inplanes, planes, blocks[i], stride=1 if i == 0 else 2)
            self.add_module(f"layer{i + 1}", layer)
            stage_channels.append(inplanes)
        self.stage_channels = tuple(stage_channels)
        self.tap_channels = {t: stage_channels[TAP_STAGES[t] - 1] for t in self.conv_taps}
        # stem: conv1 (stride 2) and maxpool (stride 2); layer2..4 each halve the side (ceil)
        side = math.ceil(math.ceil(self.input_size / 2) / 2)
        stage_sides = [side]
        for _ in range(3):
            side = math.ceil(side / 2)
            stage_sides.append(side)
        self.tap_sizes = {t: stage_sides[TAP_STAGES[t] - 1] for t in self.conv_taps}
        self._tap_of_stage = {TAP_STAGES[t]: t for t in self.conv_taps}

        if with_global:
            self.fc1 = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(1), nn.Dropout(p=float(dropout)))
            self.global_dim = stage_channels[3]
        else:
            self.fc1 = None
            self.global_dim = None
        self._init_weights()

    @staticmethod
    def _make_layer(block, inplanes: int, planes: int, blocks: int, stride: int):
        """torchvision ``ResNet._make_layer`` (groups 1, no dilation) with explicit channel counts."""
        downsample = None
        out = planes * block.expansion
        if stride != 1 or inplanes != out:
            downsample = nn.Sequential(tv_resnet.conv1x1(inplanes, out, stride), nn.BatchNorm2d(out))
        layers = [block(inplanes, planes, stride, downsample)]
        layers += [block(out, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers), out

    def _init_weights(self) -> None:
        # torchvision's ResNet initialisation (zero_init_residual=False)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def stages(self) -> List[nn.Module]:
        return [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]

    @property
    def features(self) -> nn.Sequential:
        """The convolutional trunk as one ``Sequential`` (a view over the same modules)."""
        return nn.Sequential(self.conv1, self.bn1, self.relu, self.maxpool, *self.stages())

    def pretrained_modules(self) -> List[nn.Module]:
        # fc1 (pool + dropout) has no parameters
        return [self.conv1, self.bn1, *self.stages()]

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        taps: Dict[str, torch.Tensor] = {}
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i, layer in enumerate(self.stages(), start=1):
            x = layer(x)
            t = self._tap_of_stage.get(i)
            if t is not None:
                taps[t] = x
        if self.fc1 is not None:
            taps["fc1"] = self.fc1(x)
        return taps

    def extra_repr(self) -> str:
        return (f"arch={self.arch!r}, width={self.width}, input_size={self.input_size}, "
                f"taps={self.conv_taps}, fc1={self.global_dim}")


def map_torchvision_resnet_state_dict(state_dict: Mapping[str, torch.Tensor],
                                      backbone: ResNetBackbone) -> Dict[str, torch.Tensor]:
    """The entries of a torchvision ResNet state dict that ``backbone`` holds, under its names.

    Names are identical (``conv1.*``, ``bn1.*``, ``layer<i>.*``); ``fc.*`` and the stages the
    backbone did not build are ignored; a ``module.`` prefix is stripped. Raises ``ValueError`` on
    any missing key or shape mismatch (another arch, or width != 1).
    """
    sd = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state_dict.items()}
    out: Dict[str, torch.Tensor] = {}
    problems = []
    for k, tv in backbone.state_dict().items():
        if k not in sd:
            problems.append(f"missing {k}")
        elif tuple(sd[k].shape) != tuple(tv.shape):
            problems.append(f"{k}: source {tuple(sd[k].shape)} vs target {tuple(tv.shape)}")
        else:
            out[k] = sd[k]
    if problems:
        raise ValueError(
            f"state dict does not fit backbone {backbone.arch} (width={backbone.width}): "
            + "; ".join(problems[:6])
            + (f" ... ({len(problems)} problems)" if len(problems) > 6 else "")
        )
    return out


def _resolve_state_dict(arch: str, weights, progress: bool) -> Optional[Mapping[str, torch.Tensor]]:
    if weights is None:
        return None
    from torchvision.models._api import WeightsEnum

    if isinstance(weights, WeightsEnum):
        return weights.get_state_dict(progress=progress, check_hash=True)
    if _is_imagenet_name(weights):
        enum_cls = getattr(tv_resnet, RESNET_CONFIGS[arch][2])
        return enum_cls.IMAGENET1K_V1.get_state_dict(progress=progress, check_hash=True)
    if isinstance(weights, (str, os.PathLike)):
        path = os.fspath(weights)
        if not os.path.isfile(path):
            raise ValueError(f"weights must be None, 'imagenet', a torchvision WeightsEnum, a state-dict path "
                             f"or a mapping; {path!r} is not a file")
        try:  # mmap: only the tensors we keep are read from disk
            sd = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # legacy (non-zip) serialization cannot be memory-mapped
            sd = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(sd, Mapping) and isinstance(sd.get("state_dict"), Mapping):
            sd = sd["state_dict"]
        if not isinstance(sd, Mapping):
            raise ValueError(f"{path!r} does not hold a state dict")
        return sd
    if isinstance(weights, Mapping):
        return weights
    raise ValueError(f"unsupported weights={weights!r}: use None, 'imagenet', a torchvision WeightsEnum, "
                     "a state-dict path or a mapping")


def load_resnet_weights(backbone: ResNetBackbone, weights, progress: bool = True) -> ResNetBackbone:
    """Load ``weights`` (``"imagenet"``, a ``WeightsEnum``, a path or a state dict) into ``backbone``."""
    sd = _resolve_state_dict(backbone.arch, weights, progress)
    if sd is not None:
        backbone.load_state_dict(map_torchvision_resnet_state_dict(sd, backbone), strict=True)
    return backbone


def _resnet_factory(arch: str):
    def factory(*, width, input_size, conv_taps, with_global, weights, dropout, progress):
        from torchvision.models._api import WeightsEnum

        if (_is_imagenet_name(weights) or isinstance(weights, WeightsEnum)) and float(width) != 1.0:
            # fail before building or downloading anything
            raise ValueError(f"weights={weights!r} (ImageNet) only fit the full-width {arch}; got width={width}. "
                             "Use width=1.0 or weights=None.")
        bb = ResNetBackbone(arch, width=width, input_size=input_size, conv_taps=conv_taps,
                            with_global=with_global, dropout=dropout)
        return load_resnet_weights(bb, weights, progress=progress)

    factory.__name__ = f"{arch}_backbone"
    return factory


for _arch in RESNET_CONFIGS:
    register_backbone(_arch, _resnet_factory(_arch))
