"""The shallow baselines: LSH, PCAH, ITQ, SH, SDH, KSH on image descriptors.

A shallow method's model is a :class:`hashlib_core.baselines.shallow.ShallowHash` fitted on the
training part's descriptors (``model.features``: ``"hog-color"`` or a frozen-trunk feature such as
``"lite0-fc1"``, :mod:`hashlib_core.baselines.features`); its continuous output is ``project(X)``
and its code ``sign`` of it. Its hyper-parameters are ``model`` settings; no profile setting
(width, schedule, input size) applies to it.
"""
from __future__ import annotations

from hashlib_core.baselines.features import FEATURES_VERSION
from hashlib_core.baselines.shallow import SHALLOW, hyper_parameters

from .base import NO_PROFILE_KEYS, Method, register_method

__all__ = ["SHALLOW_METHODS", "DEFAULT_FEATURES"]

SHALLOW_METHODS = tuple(SHALLOW)
DEFAULT_FEATURES = "hog-color"


def _model_of(name: str):
    def build(config, split):
        params = {k: v for k, v in dict(config.model).items() if k not in ("features", "features_version")}
        return SHALLOW[name](**params)

    return build


for _name in SHALLOW_METHODS:
    register_method(Method(
        name=_name,
        family="shallow",
        build_model=_model_of(_name),
        defaults={"model": {"features": DEFAULT_FEATURES, "features_version": FEATURES_VERSION,
                            **hyper_parameters(_name)}},
        profile_keys=NO_PROFILE_KEYS,
    ))
