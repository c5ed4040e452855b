"""Every method, registered once: ``hashlib_core.methods.METHODS``.

One module per method family declares its parts (:class:`~hashlib_core.methods.base.Method`) and
registers them; importing this package imports them all, so the registry is complete in any fresh
process.

| module | methods |
| --- | --- |
| :mod:`~hashlib_core.methods.dshfmdf` | ``dshfmdf`` (paper 000) |
| :mod:`~hashlib_core.methods.mdffsh` | ``mdffsh`` (paper 001, ResNet-50), ``dmsh`` (paper 002, conv taps only) |
| :mod:`~hashlib_core.methods.dshc` | ``dshc``, ``dshc-multilabel`` (paper 004) |
| :mod:`~hashlib_core.methods.deep_baselines` | ``dpsh``, ``hashnet``, ``dhn``, ``dch``, ``csq``, ``dsdh``, ``dpn`` |
| :mod:`~hashlib_core.methods.selfsup` | ``vae``, ``cvae``, ``csvae``, ``vte`` (paper 003) |
| :mod:`~hashlib_core.methods.shallow` | ``lsh``, ``pcah``, ``itq``, ``sh``, ``sdh``, ``ksh`` |
"""
from .base import (DEEP_PROFILE_KEYS, METHODS, NO_PROFILE_KEYS, Batch, InputSpec, Method, ProfileKeys,
                   SignQuantizer, get_method, register_method)
from . import dshfmdf, mdffsh, dshc, deep_baselines, shallow, selfsup  # noqa: E402,F401  (each registers its methods)
from .deep_baselines import DEEP_BASELINES
from .selfsup import SELFSUP_METHODS
from .shallow import SHALLOW_METHODS

DEEP_METHODS = tuple(DEEP_BASELINES)

__all__ = ["METHODS", "Method", "InputSpec", "Batch", "SignQuantizer", "ProfileKeys", "DEEP_PROFILE_KEYS",
           "NO_PROFILE_KEYS", "get_method", "register_method", "SHALLOW_METHODS", "DEEP_METHODS", "SELFSUP_METHODS"]
