"""Paper 003 (Kim et al., self-supervised hashing): which runs its tables need and how they are laid
out beside the paper's values (notebooks 40–43). Computation lives in the package (methods ``vae``,
``cvae``, ``csvae``, ``vte``, ``dpn``, ``dhn``, ``hashnet``; readings in
:mod:`hashlib_core.metrics_selfsup`; network metrics in :mod:`hashlib_core.methods.selfsup`); this
module only assembles. Choices: docs/decisions.md, "Paper 003".
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Sequence

from hashlib_core.runner import make_config

__all__ = ["PROTOCOL", "SELFSUP", "SUPERVISED", "configs"]

PROTOCOL = "cifar10-selfsup"
#: the paper's four models, in its Table I order
SELFSUP = ("vae", "cvae", "vte", "csvae")
#: the supervised comparison rows of Table III we run (TransHash: reported only, no public code)
SUPERVISED = ("dhn", "hashnet", "dpn")


def configs(profile, method: str, bits: Sequence[int], seeds: Sequence[int], *, protocol: str = PROTOCOL,
            num_threads: Optional[int] = None, model: Optional[Mapping[str, Any]] = None,
            loss: Optional[Mapping[str, Any]] = None, train: Optional[Mapping[str, Any]] = None,
            recipe: Optional[str] = None) -> list:
    """Resolved run configs (:func:`hashlib_core.runner.make_config`) for every (bits, seed);
    ``num_threads`` replaces the profile's torch threads (part of the cache key). One thread: these
    small networks ran 3–10× slower on two threads of the shared 2-core machine (measured,
    docs/decisions.md "Paper 003")."""
    out = []
    for b in bits:
        for s in seeds:
            c = make_config(profile, method, protocol, b, s, model=model, loss=loss, train=train, recipe=recipe)
            out.append(dataclasses.replace(c, num_threads=int(num_threads)) if num_threads else c)
    return out
