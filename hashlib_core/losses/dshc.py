"""DSHC's objectives (paper 004): eq. (2) soft cross-entropy over sub-classes, eq. (3) soft margin."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from hashlib_core.codebooks import Construction, subclass_targets

__all__ = ["DSHCLoss", "SoftMarginMultiLabelLoss"]


class DSHCLoss:
    """Eq. (2): soft cross-entropy ``−Σ_c y_c log p_c`` against :func:`subclass_targets`, mean over
    the batch. Logs ``ce`` and ``acc`` (the predicted sub-class's class = the true class)."""

    def __init__(self, construction: Construction, norm: str = "paper"):
        self.construction = construction
        self.norm = norm
        self.owner = torch.as_tensor(construction.subclass_class)
        subclass_targets(torch.zeros(1, dtype=torch.long), construction, norm)  # validates norm

    def __call__(self, output, batch):
        logits, labels = output.logits, batch.labels
        target = subclass_targets(labels, self.construction, self.norm).to(logits.dtype)
        ce = -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
        with torch.no_grad():
            acc = (self.owner.to(logits.device)[logits.argmax(dim=1)] == labels).float().mean()
        return ce, {"ce": float(ce.detach()), "acc": float(acc)}


class SoftMarginMultiLabelLoss:
    """Eq. (3): ``−[y log σ(x) + (1 − y) log σ(−x)]`` averaged over labels and batch
    (``torch.nn.MultiLabelSoftMarginLoss`` = mean BCE with logits), y ∈ {0, 1} multi-hot."""

    def __call__(self, output, batch):
        logits = output.logits
        y = batch.labels.to(logits.dtype)
        if y.shape != logits.shape:
            raise ValueError(f"multi-hot labels {tuple(y.shape)} do not match the logits {tuple(logits.shape)}")
        loss = F.binary_cross_entropy_with_logits(logits, y)
        with torch.no_grad():
            exact = ((logits >= 0) == (y > 0.5)).all(dim=1).float().mean()
        return loss, {"bce": float(loss.detach()), "exact_match": float(exact)}
