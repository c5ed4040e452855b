"""MDFF-SH (paper 001) and DMSH (paper 002): DSHFMDF's parts with another network.

* ``mdffsh`` — Redaoui et al., *Multiscale Deep Feature Fusion for High-Precision Image Retrieval
  through Supervised Hashing* (MDFF-SH), J. Imaging 11(1):20, 2025 (preprint Nov. 2024): the multi-scale fusion head on ResNet-50
  (:func:`hashlib_core.models.mdffsh.mdffsh`; §2.2), trained with DSHFMDF's objective
  J1 + βJ2 + γJ3 (§2.3 names the same three losses; β = 0.01, γ = 0.1, the sum form).
* ``dmsh`` — Redaoui, Belloulata, Belalia, *Deep Multi-Scale Hashing for Image Retrieval*, ICAITA
  2022, doi:10.1007/978-3-031-28540-0_4 (abstract only): the head on the conv taps of VGG-19-BN
  (:func:`hashlib_core.models.mdffsh.dmsh`), the same objective — under these assumptions exactly
  DSHFMDF's ``conv3-5`` ablation (paper 000 Table 4).

The criterion, the code rule and the loss defaults are DSHFMDF's own (the very functions
:mod:`hashlib_core.methods.dshfmdf` registers); only ``build_model`` differs. docs/decisions.md,
"MDFF-SH (paper 001) and DMSH (paper 002)".
"""
from __future__ import annotations

from hashlib_core.models.mdffsh import DMSH_BACKBONE, DMSH_VARIANT, MDFFSH_BACKBONE, dmsh, mdffsh

from . import dshfmdf as _dshfmdf  # noqa: F401  (registers "dshfmdf", whose parts are reused)
from .base import Method, get_method, register_method

__all__ = ["MDFFSH_METHODS"]

_DSHFMDF = get_method("dshfmdf")

#: the methods this module registers
MDFFSH_METHODS = ("mdffsh", "dmsh")


def _mdffsh_model(config, split):
    return mdffsh(bits=config.bits, num_classes=split.num_classes, input_size=config.input_size, **dict(config.model))


def _dmsh_model(config, split):
    return dmsh(bits=config.bits, num_classes=split.num_classes, input_size=config.input_size, **dict(config.model))


def _register_dshfmdf_variant(name: str, build_model, model_defaults: dict, paper: str) -> None:
    """Register ``name`` as DSHFMDF's parts with another model builder (a method is its parts)."""
    register_method(Method(
        name=name,
        family="deep",
        build_model=build_model,
        build_criterion=_DSHFMDF.build_criterion,
        encode_output=_DSHFMDF.encode_output,
        build_quantizer=_DSHFMDF.build_quantizer,
        input_spec=_DSHFMDF.input_spec,
        defaults={"model": model_defaults, "loss": dict(_DSHFMDF.defaults["loss"])},
        profile_keys=_DSHFMDF.profile_keys,
        paper=paper,
        version=1,
    ))


_register_dshfmdf_variant("mdffsh", _mdffsh_model, {"backbone": MDFFSH_BACKBONE, "variant": "fused"}, "001")
_register_dshfmdf_variant("dmsh", _dmsh_model, {"backbone": DMSH_BACKBONE, "variant": DMSH_VARIANT}, "002")
