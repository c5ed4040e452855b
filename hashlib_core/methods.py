"""A method = a model builder + a criterion builder + an encoding rule.

Every method runs through the same :func:`hashlib_core.train.fit` / :func:`~hashlib_core.train.encode`
and the same :func:`hashlib_core.runner.run`; adding a method means adding one :class:`Method`
to :data:`METHODS`, never another training loop.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

from hashlib_core import codes as codes_mod


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    build_model: Callable[[Any, Any], nn.Module]        # (RunConfig, Split) -> model
    build_criterion: Callable[[Any, Any], Callable]     # (RunConfig, Split) -> criterion(output, labels, index)
    encode_output: Callable[[Any], torch.Tensor]        # model output -> continuous code
    binarize: Callable[[np.ndarray], np.ndarray] = codes_mod.sign
    defaults: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)


def _hash_u(output) -> torch.Tensor:
    return output[0]


# --- DSHFMDF (paper 000) ------------------------------------------------------------------

def _dshfmdf_model(config, split) -> nn.Module:
    from hashlib_core.models import dshfmdf

    m = dict(config.model)
    return dshfmdf(bits=config.bits, num_classes=split.num_classes, input_size=config.input_size, **m)


class _MemoryCriterion:
    """DSHFMDF's J with J1 taken against a DPSH-style memory of every training code."""

    def __init__(self, loss: nn.Module, n_train: int, bits: int):
        from hashlib_core.losses import CodeMemory

        self.loss = loss
        self.memory = CodeMemory(n_train, bits)

    def __call__(self, output, labels, index):
        return self.loss(output, labels, memory=self.memory, index=index)


def _dshfmdf_criterion(config, split):
    from hashlib_core.losses import DSHFMDFLoss

    loss_cfg = dict(config.loss)
    pairs = loss_cfg.pop("pairs", "memory")
    loss = DSHFMDFLoss(multi_label=split.multi_label, **loss_cfg)
    if pairs == "memory":
        return _MemoryCriterion(loss, len(split.train), config.bits)
    if pairs == "batch":
        return lambda output, labels, index: loss(output, labels)
    raise ValueError(f"loss.pairs must be 'memory' or 'batch', got {pairs!r}")


METHODS: dict[str, Method] = {
    "dshfmdf": Method(
        name="dshfmdf",
        build_model=_dshfmdf_model,
        build_criterion=_dshfmdf_criterion,
        encode_output=_hash_u,
        defaults={"model": {"backbone": "vgg19_bn", "variant": "fused"},
                  "loss": {"beta": 0.01, "gamma": 0.1, "pairs": "memory"}},
    ),
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {sorted(METHODS)}")
    return METHODS[name]
