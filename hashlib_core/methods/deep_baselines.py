"""The deep baselines at equal settings: DPSH, HashNet, DHN, DCH, CSQ, DSDH, DPN.

Each is a criterion of :mod:`hashlib_core.baselines.deep` on the one shared network
:func:`hashlib_core.models.fc1_hashnet` (the profile's trunk, its fc1 feature, one linear hash
layer), with ``sign(u)`` codes: only the objective differs between them. See docs/decisions.md
"Baselines".
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

from hashlib_core.baselines.deep import (MODEL_DEFAULTS, CSQCriterion, DCHCriterion, DHNCriterion, DPSHCriterion,
                                         DSDHCriterion, HashNetCriterion)
from hashlib_core.baselines.dpn import LOSS_DEFAULTS as DPN_DEFAULTS
from hashlib_core.baselines.dpn import DPNCriterion
from hashlib_core.models import fc1_hashnet

from .base import Method, register_method

__all__ = ["DEEP_BASELINES"]


def _model(config, split):
    return fc1_hashnet(bits=config.bits, num_classes=split.num_classes, input_size=config.input_size,
                       **dict(config.model))


def _n_train_bits(criterion_cls):
    return lambda config, split: criterion_cls(len(split.train), config.bits, **dict(config.loss))


#: name -> (criterion builder, loss defaults)
DEEP_BASELINES: Dict[str, Tuple[Callable, Dict[str, Any]]] = {
    "dpsh": (_n_train_bits(DPSHCriterion), {"eta": 10.0, "pairs": "memory"}),
    "hashnet": (_n_train_bits(HashNetCriterion), {"alpha": None, "pairs": "batch", "beta_init": 1.0,
                                                  "beta_gamma": 0.005, "beta_power": 0.5, "beta_step": 200}),
    "dhn": (_n_train_bits(DHNCriterion), {"alpha": 1.0, "lam": 0.1, "pairs": "batch"}),
    "dch": (_n_train_bits(DCHCriterion), {"gamma": 20.0, "lam": 0.1, "pairs": "batch"}),
    "csq": (lambda config, split: CSQCriterion(split.num_classes, config.bits, seed=config.seed, **dict(config.loss)),
            {"lam": 1e-4}),
    "dsdh": (lambda config, split: DSDHCriterion(len(split.train), config.bits, split.num_classes, **dict(config.loss)),
             {"mu": 1.0, "nu": 0.1, "eta": 55.0, "dcc_sweeps": 1}),
    # DPN (Fan et al., IJCAI 2020): paper 003 Table III / Fig. 6's supervised comparison
    "dpn": (lambda config, split: DPNCriterion(split.num_classes, config.bits, seed=config.seed, **dict(config.loss)),
            dict(DPN_DEFAULTS)),
}

for _name, (_criterion, _loss) in DEEP_BASELINES.items():
    register_method(Method(
        name=_name,
        family="deep",
        build_model=_model,
        build_criterion=_criterion,
        encode_output=lambda output: output.u,
        defaults={"model": dict(MODEL_DEFAULTS), "loss": dict(_loss)},
    ))
