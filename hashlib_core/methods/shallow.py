"""The shallow baselines: LSH, PCAH, ITQ, SH, SDH, KSH on image descriptors.

A shallow method's model is a :class:`hashlib_core.baselines.shallow.ShallowHash` fitted on the
training part's descriptors (``model.features``: ``"hog-color"`` or a frozen-trunk feature such as
``"lite0-fc1"``, :mod:`hashlib_core.baselines.features`); its continuous output is ``project(X)``
and its code ``sign`` of it. Its hyper-parameters are ``model`` settings; no profile setting
(width, schedule, input size) applies to it.

On a protocol with readings of its own (:func:`~hashlib_core.methods.base.protocol_readings`:
paper 003's Table I / II on ``cifar10-selfsup``) a shallow run reports them too, and, on a
hand-crafted descriptor (``"gray-minmax"``, ``"hog-color"``), the stability of its first queries'
codes under the perturbations of :mod:`hashlib_core.robustness`: the image is perturbed, its
descriptor recomputed, projected and quantized. On a trunk feature the stability is not measured
(it would take a trunk pass over every perturbed image).
"""
from __future__ import annotations

import numpy as np

from hashlib_core.baselines.features import FEATURES_VERSION, descriptor_function
from hashlib_core.baselines.shallow import SHALLOW, hyper_parameters

from .base import NO_PROFILE_KEYS, Method, protocol_readings, register_method

__all__ = ["SHALLOW_METHODS", "DEFAULT_FEATURES"]

SHALLOW_METHODS = tuple(SHALLOW)
DEFAULT_FEATURES = "hog-color"


def _model_of(name: str):
    def build(config, split):
        params = {k: v for k, v in dict(config.model).items() if k not in ("features", "features_version")}
        return SHALLOW[name](**params)

    return build


def readings_of_protocol(query_codes, db_codes, split) -> dict:
    """The split's protocol's own code readings ({} on a protocol without any)."""
    readings = protocol_readings(split)
    return readings.code_metrics(query_codes, db_codes, split) if readings else {}


def descriptor_code_stability(model, quantizer, config, split) -> dict:
    """``stability.<perturbation>`` of the first queries' codes, where the protocol asks for it and
    the descriptor is hand-crafted ({} otherwise)."""
    from hashlib_core.robustness import code_stability

    readings = protocol_readings(split)
    describe = descriptor_function(dict(config.model)["features"])
    if not readings or not readings.stability_queries or describe is None:
        return {}
    images = split.query.get_batch(np.arange(min(readings.stability_queries, len(split.query))))
    encode = lambda batch: quantizer.encode(model.outputs(describe(batch)))  # noqa: E731
    return {f"stability.{k}": v for k, v in code_stability(encode, images).items()}


for _name in SHALLOW_METHODS:
    register_method(Method(
        name=_name,
        family="shallow",
        build_model=_model_of(_name),
        extra_metrics=(readings_of_protocol,),
        network_metrics=(descriptor_code_stability,),
        defaults={"model": {"features": DEFAULT_FEATURES, "features_version": FEATURES_VERSION,
                            **hyper_parameters(_name)}},
        profile_keys=NO_PROFILE_KEYS,
    ))
