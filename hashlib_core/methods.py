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


# --- DSHC (paper 004) ---------------------------------------------------------------------
# Hashing by classification into (CH+1)C sub-classes (hashlib_core.dshc); the multi-label
# variant's code is the predicted multi-hot label vector. See docs/decisions.md "DSHC (paper 004)".

def _dshc_model(config, split) -> nn.Module:
    from hashlib_core.dshc import dshc_model

    if split.multi_label:
        raise ValueError("method 'dshc' is single-label; use 'dshc-multilabel' on a multi-label protocol")
    m = dict(config.model)
    if m.get("kbc_seed") is None:  # the k-means construction follows the run's seed
        m["kbc_seed"] = config.seed
    return dshc_model(bits=config.bits, num_classes=split.num_classes, input_size=config.input_size, **m)


def _dshc_criterion(config, split):
    from hashlib_core.dshc import DSHCLoss, build_construction

    m = dict(config.model)
    cons = build_construction(m.get("construction", "cpbc"), split.num_classes, config.bits,
                              kbc_threshold=m.get("kbc_threshold", 3), kbc_radius=m.get("kbc_radius", 1),
                              kbc_seed=config.seed if m.get("kbc_seed") is None else m["kbc_seed"])
    return DSHCLoss(cons, norm=dict(config.loss).get("target_norm", "paper"))


def _dshc_ml_model(config, split) -> nn.Module:
    from hashlib_core.dshc import dshc_multilabel_model

    if not split.multi_label:
        raise ValueError("method 'dshc-multilabel' needs a multi-label protocol; use 'dshc'")
    if config.bits != split.num_classes:
        raise ValueError(f"dshc-multilabel's code is the multi-hot label vector: bits must equal the number "
                         f"of labels ({split.num_classes}), got {config.bits}")
    return dshc_multilabel_model(split.num_classes, input_size=config.input_size, **dict(config.model))


def _dshc_ml_criterion(config, split):
    from hashlib_core.dshc import SoftMarginMultiLabelLoss

    return SoftMarginMultiLabelLoss()


METHODS["dshc"] = Method(
    name="dshc",
    build_model=_dshc_model,
    build_criterion=_dshc_criterion,
    encode_output=_hash_u,  # the model's u is already the top-K averaged sub-class code
    defaults={"model": {"backbone": "vgg19_bn", "construction": "cpbc", "topk": 1, "kbc_threshold": 3,
                        "kbc_radius": 1, "kbc_seed": None, "dropout": 0.5},
              "loss": {"target_norm": "paper"}},
)
METHODS["dshc-multilabel"] = Method(
    name="dshc-multilabel",
    build_model=_dshc_ml_model,
    build_criterion=_dshc_ml_criterion,
    encode_output=_hash_u,  # u = logits; sign -> predicted multi-hot labels as ±1
    defaults={"model": {"backbone": "vgg19_bn", "dropout": 0.5}, "loss": {}},
)


# --- Deep baselines at equal settings (issue 6) -------------------------------------------
# DPSH, HashNet, DHN, DCH, CSQ, DSDH: losses on the one shared fc1 model, sign(u) codes.
# See hashlib_core/baselines/deep.py and docs/decisions.md "Baselines".
from hashlib_core.baselines.deep import baseline_methods as _baseline_methods  # noqa: E402

METHODS.update(_baseline_methods(Method))
