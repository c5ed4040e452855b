"""VGG-11/13/16/19 (with or without batch norm) trunks yielding multi-scale taps (paper 000's backbone).

Built from ``torchvision.models.vgg.cfgs`` with every channel count multiplied by ``width``
(``width=1.0`` reproduces torchvision's layers and parameter names exactly, so torchvision /
ImageNet state dicts load key-for-key).

Taps (paper 000 §3.2, Table 1, layers marked '#'):

* ``conv3`` / ``conv4`` / ``conv5``: output of the *last* conv of blocks 3, 4, 5 after its
  BatchNorm and ReLU, before that block's max-pool (Table 1 lists block 3 at 56x56 for a
  224 px input, i.e. the pre-pool resolution);
* ``fc1``: VGG's first classifier layer ``Linear -> ReLU -> Dropout`` applied to the block-5
  pooled output, adaptive-average-pooled to ``s x s`` with ``s = max(1, input_size // 32)``
  (``s = 7`` at 224 px, exactly torchvision's ``512*7*7 -> 4096``).

Registered as ``vgg11`` ... ``vgg19_bn``.
"""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models import vgg as tv_vgg

from .common import CONV_TAPS, Backbone, check_conv_taps, register_backbone, scale_width

__all__ = ["VGGBackbone", "VGG_CONFIGS", "map_torchvision_vgg_state_dict", "load_vgg_weights"]

#: backbone name -> (torchvision cfg key, batch_norm, torchvision weights enum class name)
VGG_CONFIGS: Dict[str, tuple] = {
    "vgg11": ("A", False, "VGG11_Weights"),
    "vgg11_bn": ("A", True, "VGG11_BN_Weights"),
    "vgg13": ("B", False, "VGG13_Weights"),
    "vgg13_bn": ("B", True, "VGG13_BN_Weights"),
    "vgg16": ("D", False, "VGG16_Weights"),
    "vgg16_bn": ("D", True, "VGG16_BN_Weights"),
    "vgg19": ("E", False, "VGG19_Weights"),
    "vgg19_bn": ("E", True, "VGG19_BN_Weights"),
}

_IMAGENET_NAMES = {"imagenet", "imagenet1k_v1", "default"}


def _make_layers(cfg: Sequence, batch_norm: bool, width: float) -> nn.Sequential:
    """torchvision.models.vgg.make_layers with channel counts scaled by ``width``."""
    layers = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            out = scale_width(int(v), width)
            layers.append(nn.Conv2d(in_channels, out, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            in_channels = out
    return nn.Sequential(*layers)


def _pool_fold_matrix(src_side: int, dst_side: int) -> torch.Tensor:
    """Matrix P (dst_side**2, src_side**2) with ``flatten(adaptive_avg_pool2d(z, dst)) = P @ flatten(z)``."""
    eye = torch.eye(src_side * src_side, dtype=torch.float64).view(-1, 1, src_side, src_side)
    pooled = F.adaptive_avg_pool2d(eye, (dst_side, dst_side))  # (src^2, 1, dst, dst)
    return pooled.view(src_side * src_side, dst_side * dst_side).t().contiguous()


class VGGBackbone(Backbone):
    """VGG trunk yielding ``{"conv3", "conv4", "conv5", "fc1"}`` taps.

    Attributes: ``features`` (the conv trunk, torchvision layer indices), ``pool`` and
    ``fc1`` (``Sequential(Linear, ReLU, Dropout)`` = torchvision ``classifier[0:3]``) when
    ``with_global``.
    """

    def __init__(
        self,
        arch: str = "vgg19_bn",
        width: float = 1.0,
        input_size: int = 224,
        conv_taps: Sequence[str] = CONV_TAPS,
        with_global: bool = True,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        arch = arch.lower()
        if arch not in VGG_CONFIGS:
            raise ValueError(f"unknown VGG arch {arch!r}; expected one of {sorted(VGG_CONFIGS)}")
        if int(input_size) < 32:
            raise ValueError(f"input_size must be >= 32 for a VGG trunk (5 max-pools), got {input_size}")
        check_conv_taps(conv_taps)
        cfg_key, batch_norm, _ = VGG_CONFIGS[arch]
        cfg = tv_vgg.cfgs[cfg_key]
        self.arch = arch
        self.width = float(width)
        self.input_size = int(input_size)
        self.batch_norm = batch_norm
        self.features = _make_layers(cfg, batch_norm, width)

        # tap = the layer just before the max-pool closing blocks 3/4/5 (the last conv's ReLU)
        pool_idx = [i for i, m in enumerate(self.features) if isinstance(m, nn.MaxPool2d)]
        block_last = {f"conv{b + 1}": pool_idx[b] - 1 for b in range(5)}
        block_channels, c = {}, None
        blk = 0
        for v in cfg:
            if v == "M":
                blk += 1
                block_channels[f"conv{blk}"] = c
            else:
                c = scale_width(int(v), width)
        self.all_tap_channels = {t: block_channels[t] for t in CONV_TAPS}
        self.conv_taps = tuple(t for t in CONV_TAPS if t in set(conv_taps))
        self.tap_channels = {t: block_channels[t] for t in self.conv_taps}
        # block k (1-based) runs at input_size / 2**(k-1): conv3 -> /4, conv4 -> /8, conv5 -> /16
        self.tap_sizes = {t: self.input_size // 2 ** (int(t[-1]) - 1) for t in self.conv_taps}
        self._tap_index = {block_last[t]: t for t in self.conv_taps}

        if with_global:
            self.grid = max(1, self.input_size // 32)
            self.pool = nn.AdaptiveAvgPool2d((self.grid, self.grid))
            fc1_dim = scale_width(4096, width)
            self.fc1 = nn.Sequential(
                nn.Linear(block_channels["conv5"] * self.grid * self.grid, fc1_dim),
                nn.ReLU(inplace=True),
                nn.Dropout(p=dropout),
            )
            self.global_dim = fc1_dim
            self._stop = len(self.features) - 1
        else:
            self.grid = None
            self.pool = None
            self.fc1 = None
            self.global_dim = None
            # nothing after the deepest requested tap is needed
            self._stop = max(self._tap_index) if self._tap_index else len(self.features) - 1
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's VGG initialisation
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def pretrained_modules(self):
        return [m for m in (self.features, self.fc1) if m is not None]

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        taps: Dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            t = self._tap_index.get(i)
            if t is not None:
                taps[t] = x
            if i == self._stop:
                break
        if self.fc1 is not None:
            taps["fc1"] = self.fc1(torch.flatten(self.pool(x), 1))
        return taps

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}, width={self.width}, input_size={self.input_size}, taps={self.conv_taps}, fc1={self.global_dim}"


def map_torchvision_vgg_state_dict(
    state_dict: Mapping[str, torch.Tensor], backbone: VGGBackbone
) -> Dict[str, torch.Tensor]:
    """Map a torchvision VGG state dict onto ``backbone``'s parameter names.

    ``features.*`` -> ``features.*`` (same indices); ``classifier.0.*`` -> ``fc1.0.*``.  When the
    backbone's fc1 grid ``s`` differs from the source's (7 for torchvision), the fc1 weight is
    folded through torchvision's ``AdaptiveAvgPool2d((7, 7))``: ``W' = W @ P`` with ``P`` the
    s x s -> 7 x 7 pooling matrix.  For input sizes that are multiples of 32 the block-5 map is
    s x s, so fc1 then computes exactly what torchvision's ``classifier[0]`` computes on the
    same image.  Other keys (``classifier.3/6``) are ignored; a ``module.`` prefix is stripped.
    Raises ``ValueError`` on any missing key or shape mismatch (e.g. wrong arch or width != 1).
    """
    sd = {}
    for k, v in state_dict.items():
        if k.startswith("module."):
            k = k[len("module."):]
        sd[k] = v
    target = backbone.state_dict()
    out: Dict[str, torch.Tensor] = {}
    problems = []
    for k, tv in target.items():
        if k.startswith("features."):
            src_key = k
        elif k.startswith("fc1.0."):
            src_key = "classifier.0." + k[len("fc1.0."):]
        else:  # pragma: no cover - VGGBackbone has no other state
            continue
        if src_key not in sd:
            problems.append(f"missing {src_key}")
            continue
        v = sd[src_key]
        if src_key == "classifier.0.weight" and tuple(v.shape) != tuple(tv.shape):
            out_f, in_src = v.shape
            c5 = backbone.all_tap_channels["conv5"]
            s = backbone.grid
            g2 = in_src // c5 if c5 and in_src % c5 == 0 else 0
            g = int(round(g2 ** 0.5)) if g2 else 0
            if g * g != g2 or g == 0 or out_f != tv.shape[0]:
                problems.append(f"{src_key}: source {tuple(v.shape)} vs target {tuple(tv.shape)}")
                continue
            P = _pool_fold_matrix(s, g).to(v.device)  # (g*g, s*s)
            work = torch.float32 if v.dtype in (torch.float16, torch.bfloat16) else v.dtype
            v = (v.to(work).reshape(out_f, c5, g * g) @ P.to(work)).reshape(out_f, c5 * s * s).to(tv.dtype)
        if tuple(v.shape) != tuple(tv.shape):
            problems.append(f"{src_key}: source {tuple(v.shape)} vs target {tuple(tv.shape)}")
            continue
        out[k] = v
    if problems:
        raise ValueError(
            f"state dict does not fit backbone {backbone.arch} (width={backbone.width}): "
            + "; ".join(problems[:6])
            + (f" ... ({len(problems)} problems)" if len(problems) > 6 else "")
        )
    return out


def _resolve_state_dict(arch: str, weights, width: float, progress: bool) -> Optional[Mapping[str, torch.Tensor]]:
    if weights is None:
        return None
    from torchvision.models._api import WeightsEnum

    enum_member = None
    if isinstance(weights, WeightsEnum):
        enum_member = weights
    elif isinstance(weights, str) and weights.lower() in _IMAGENET_NAMES:
        enum_cls = getattr(tv_vgg, VGG_CONFIGS[arch][2])
        enum_member = enum_cls.IMAGENET1K_V1
    if enum_member is not None:
        if float(width) != 1.0:
            raise ValueError(
                f"weights={weights!r} (ImageNet) only fit the full-width VGG; got width={width}. "
                "Use width=1.0 or weights=None."
            )
        return enum_member.get_state_dict(progress=progress, check_hash=True)
    if isinstance(weights, (str, os.PathLike)):
        path = os.fspath(weights)
        if not os.path.isfile(path):
            raise ValueError(f"weights must be None, 'imagenet', a torchvision WeightsEnum or a state-dict path; {path!r} is not a file")
        try:  # mmap: only the tensors we map are read from disk
            sd = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # legacy (non-zip) serialization cannot be memory-mapped
            sd = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(sd, Mapping) and "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
            sd = sd["state_dict"]
        if not isinstance(sd, Mapping):
            raise ValueError(f"{path!r} does not hold a state dict")
        return sd
    if isinstance(weights, Mapping):
        return weights
    raise ValueError(f"unsupported weights={weights!r}")


def load_vgg_weights(backbone: VGGBackbone, weights, progress: bool = True) -> VGGBackbone:
    """Load ``weights`` (``"imagenet"``, a torchvision ``WeightsEnum``, a path or a state dict) into ``backbone``."""
    sd = _resolve_state_dict(backbone.arch, weights, backbone.width, progress)
    if sd is not None:
        mapped = map_torchvision_vgg_state_dict(sd, backbone)
        backbone.load_state_dict(mapped, strict=True)
    return backbone


def _vgg_factory(arch: str):
    def factory(*, width, input_size, conv_taps, with_global, weights, dropout, progress):
        if weights is not None and isinstance(weights, str) and weights.lower() in _IMAGENET_NAMES and float(width) != 1.0:
            # fail before building anything
            raise ValueError(f"weights={weights!r} (ImageNet) only fit the full-width VGG; got width={width}.")
        bb = VGGBackbone(arch, width=width, input_size=input_size, conv_taps=conv_taps, with_global=with_global, dropout=dropout)
        return load_vgg_weights(bb, weights, progress=progress)

    factory.__name__ = f"{arch}_backbone"
    return factory


for _arch in VGG_CONFIGS:
    register_backbone(_arch, _vgg_factory(_arch))
