"""DSHFMDF (paper 000): the multi-scale fusion network under J = J1 + βJ2 + γJ3.

Network: :func:`hashlib_core.models.dshfmdf`; objective: :class:`hashlib_core.losses.DSHFMDFLoss`
with J1's pairs against a memory of every training code (DPSH's U) or within the batch
(``loss.pairs``); code: ``sign(u)``.
"""
from __future__ import annotations

from hashlib_core.losses import DSHFMDFLoss, MemoryPairs
from hashlib_core.models import dshfmdf

from .base import Method, register_method

__all__ = ["DSHFMDFCriterion"]


class DSHFMDFCriterion:
    """:class:`~hashlib_core.losses.DSHFMDFLoss` with its J1 pairs from :class:`MemoryPairs`."""

    def __init__(self, loss: DSHFMDFLoss, pairs: str, n_train: int, bits: int):
        self.loss = loss
        self.pairs = MemoryPairs(pairs, n_train, bits)

    def __call__(self, output, batch):
        memory = self.pairs.memory_for(output.u)
        return self.loss(output, batch.labels, memory=memory, index=batch.index if memory is not None else None)


def _model(config, split):
    return dshfmdf(bits=config.bits, num_classes=split.num_classes, input_size=config.input_size, **dict(config.model))


def _criterion(config, split):
    loss_cfg = dict(config.loss)
    pairs = loss_cfg.pop("pairs", "memory")
    return DSHFMDFCriterion(DSHFMDFLoss(multi_label=split.multi_label, **loss_cfg), pairs, len(split.train),
                            config.bits)


register_method(Method(
    name="dshfmdf",
    family="deep",
    build_model=_model,
    build_criterion=_criterion,
    encode_output=lambda output: output.u,
    defaults={"model": {"backbone": "vgg19_bn", "variant": "fused"},
              "loss": {"beta": 0.01, "gamma": 0.1, "pairs": "memory", "form": "sum"}},
    paper="000",
    version=2,  # 2: J1, J2, J3 in the paper's sum form (issue 13); loss.form "mean" gives version 1's objective
))
