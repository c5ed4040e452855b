"""DSHC's networks (paper 004, §3.3): a backbone's global feature -> a sub-class classifier.

Single-label: ``DSHCNet`` scores the ``(CH+1)·C`` sub-classes of a code book
(:mod:`hashlib_core.codebooks`); multi-label: ``DSHCMultiLabelNet`` is a C-way multi-label
classifier whose predicted multi-hot vector is the code. The paper's backbone is ResNet-50
(§4.1); any registered backbone with an ``fc1`` tap works.
"""
from __future__ import annotations

import torch
from torch import nn

from hashlib_core.codebooks import PAPER_KBC_THRESHOLD, Construction, build_construction, topk_code

from .common import Backbone, HashOutput, build_backbone

__all__ = ["DSHCNet", "DSHCMultiLabelNet", "dshc_model", "dshc_multilabel_model"]


def _global_backbone(name: str, width: float, input_size: int, weights, dropout: float, progress: bool) -> Backbone:
    """A registered backbone built with only its global ``"fc1"`` tap."""
    return build_backbone(name, width=width, input_size=input_size, conv_taps=(), with_global=True,
                          weights=weights, dropout=dropout, progress=progress)


class DSHCNet(nn.Module):
    """Backbone → Linear(global feature → S sub-classes). ``forward(x) -> HashOutput(u, logits)``
    with ``u`` = the top-K averaged sub-class code (:func:`topk_code`) and ``logits`` (n, S)."""

    def __init__(self, backbone: Backbone, construction: Construction, topk: int = 1):
        super().__init__()
        if backbone.global_dim is None:
            raise ValueError("DSHC needs a backbone with a global ('fc1') feature")
        if not 1 <= int(topk) <= construction.num_subclasses:
            raise ValueError(f"topk must lie in 1..{construction.num_subclasses}, got {topk}")
        self.backbone = backbone
        self.classifier = nn.Linear(backbone.global_dim, construction.num_subclasses)
        self.register_buffer("codes", torch.as_tensor(construction.codes, dtype=torch.float32), persistent=False)
        self.construction = construction
        self.topk = int(topk)
        self.bits = construction.bits

    def forward(self, x: torch.Tensor) -> HashOutput:
        return self.forward_taps(self.backbone(x))

    def forward_taps(self, taps) -> HashOutput:
        """Everything after the trunk (what a frozen-trunk run trains: hashlib_core.trunk)."""
        logits = self.classifier(taps["fc1"])
        with torch.no_grad():
            u = topk_code(logits.detach(), self.codes, self.topk)
        return HashOutput(u=u, logits=logits)

    def extra_repr(self) -> str:
        return f"construction={self.construction.name!r}, bits={self.bits}, subclasses={self.construction.num_subclasses}, topk={self.topk}"


class DSHCMultiLabelNet(nn.Module):
    """Backbone → Linear(global feature → C labels). ``forward(x) -> HashOutput(u=logits, logits)``:
    the code is ``sign(logits)``, i.e. the predicted multi-hot labels (+1 where p ≥ 0.5)."""

    def __init__(self, backbone: Backbone, num_labels: int):
        super().__init__()
        if backbone.global_dim is None:
            raise ValueError("DSHC needs a backbone with a global ('fc1') feature")
        self.backbone = backbone
        self.classifier = nn.Linear(backbone.global_dim, int(num_labels))
        self.bits = int(num_labels)

    def forward(self, x: torch.Tensor) -> HashOutput:
        return self.forward_taps(self.backbone(x))

    def forward_taps(self, taps) -> HashOutput:
        logits = self.classifier(taps["fc1"])
        return HashOutput(u=logits, logits=logits)


def dshc_model(bits: int, num_classes: int, *, backbone: str = "vgg19_bn", construction: str = "cpbc",
               topk: int = 1, kbc_threshold: int = PAPER_KBC_THRESHOLD, kbc_radius: int = 1, kbc_seed: int = 0,
               width: float = 1.0, input_size: int = 224, weights=None, dropout: float = 0.5,
               progress: bool = True) -> DSHCNet:
    cons = build_construction(construction, num_classes, bits, kbc_threshold=kbc_threshold,
                              kbc_radius=kbc_radius, kbc_seed=kbc_seed)
    trunk = _global_backbone(backbone, width, input_size, weights, dropout, progress)
    return DSHCNet(trunk, cons, topk=topk)


def dshc_multilabel_model(num_labels: int, *, backbone: str = "vgg19_bn", width: float = 1.0,
                          input_size: int = 224, weights=None, dropout: float = 0.5,
                          progress: bool = True) -> DSHCMultiLabelNet:
    trunk = _global_backbone(backbone, width, input_size, weights, dropout, progress)
    return DSHCMultiLabelNet(trunk, num_labels)
