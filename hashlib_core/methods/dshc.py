"""DSHC (paper 004): hashing by classification into the (CH+1)C sub-classes of a code book.

Network: :func:`hashlib_core.models.dshc.dshc_model`; code book: :mod:`hashlib_core.codebooks`
(CPBC / KBC); objective: eq. (2) :class:`hashlib_core.losses.DSHCLoss`; code: the top-K sub-class
code of the logits (:class:`~hashlib_core.codebooks.SubclassCodeQuantizer`). The multi-label variant
is a C-way multi-label classifier whose predicted multi-hot vector is the code (eq. (3)), with
§4.1's distance as an extra metric (``map_sec41``). See docs/decisions.md "DSHC (paper 004)".
"""
from __future__ import annotations

from hashlib_core.codebooks import SubclassCodeQuantizer, build_construction
from hashlib_core.label_codes import multilabel_map
from hashlib_core.losses import DSHCLoss, SoftMarginMultiLabelLoss
from hashlib_core.models.dshc import dshc_model, dshc_multilabel_model

from .base import Method, register_method

__all__ = ["construction_of", "map_sec41"]


def construction_of(config, split):
    """The code book of a DSHC run (the k-means construction follows the run's seed unless set)."""
    m = dict(config.model)
    seed = config.seed if m.get("kbc_seed") is None else m["kbc_seed"]
    return build_construction(m.get("construction", "cpbc"), split.num_classes, config.bits,
                              kbc_threshold=m.get("kbc_threshold", 3), kbc_radius=m.get("kbc_radius", 1),
                              kbc_seed=seed)


def _model(config, split):
    if split.multi_label:
        raise ValueError("method 'dshc' is single-label; use 'dshc-multilabel' on a multi-label protocol")
    m = dict(config.model)
    if m.get("kbc_seed") is None:
        m["kbc_seed"] = config.seed
    return dshc_model(bits=config.bits, num_classes=split.num_classes, input_size=config.input_size, **m)


def _criterion(config, split):
    return DSHCLoss(construction_of(config, split), norm=dict(config.loss).get("target_norm", "paper"))


def _quantizer(config, split):
    return SubclassCodeQuantizer(construction_of(config, split), k=dict(config.model).get("topk", 1))


def _ml_model(config, split):
    if not split.multi_label:
        raise ValueError("method 'dshc-multilabel' needs a multi-label protocol; use 'dshc'")
    if config.bits != split.num_classes:
        raise ValueError(f"dshc-multilabel's code is the multi-hot label vector: bits must equal the number "
                         f"of labels ({split.num_classes}), got {config.bits}")
    return dshc_multilabel_model(split.num_classes, input_size=config.input_size, **dict(config.model))


def map_sec41(query_codes, db_codes, split) -> dict:
    """mAP@k of multi-hot codes under §4.1's distance (shared ones only)."""
    return {"map_sec41": multilabel_map(query_codes, db_codes, split.query.labels, split.database.labels,
                                        topk=split.map_topk)}


register_method(Method(
    name="dshc",
    family="deep",
    build_model=_model,
    build_criterion=_criterion,
    encode_output=lambda output: output.logits,  # the quantizer maps sub-class scores to the top-K code
    build_quantizer=_quantizer,
    defaults={"model": {"backbone": "vgg19_bn", "construction": "cpbc", "topk": 1, "kbc_threshold": 3,
                        "kbc_radius": 1, "kbc_seed": None, "dropout": 0.5},
              "loss": {"target_norm": "paper"}},
    paper="004",
))

register_method(Method(
    name="dshc-multilabel",
    family="deep",
    build_model=_ml_model,
    build_criterion=lambda config, split: SoftMarginMultiLabelLoss(),
    encode_output=lambda output: output.logits,  # sign -> the predicted multi-hot labels as ±1
    extra_metrics=(map_sec41,),
    defaults={"model": {"backbone": "vgg19_bn", "dropout": 0.5}, "loss": {}},
    paper="004",
))
