"""Identities of image sets, for caches keyed by *which images* a part holds.

A CIFAR-10 part is a view of the 60,000-image base array; caching per-image values (descriptors,
frozen-trunk taps) for the whole base once lets every protocol and seed reuse them. For other
parts (small subsets, mosaics, image files) the key is made of the items' identities.
"""
from __future__ import annotations

import hashlib
from typing import Dict

import numpy as np

__all__ = ["source_identity", "array_fingerprint"]

_FINGERPRINTS: Dict[int, str] = {}


def array_fingerprint(arr: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and bytes (memoised per object for the process)."""
    key = id(arr)
    if key not in _FINGERPRINTS:
        h = hashlib.sha256(f"{arr.dtype}{arr.shape}".encode())
        h.update(np.ascontiguousarray(arr).data)
        _FINGERPRINTS[key] = h.hexdigest()
    return _FINGERPRINTS[key]


def source_identity(source, whole_base_fraction: float = 0.25):
    """How to cache per-item values of an image source: ``(stem, n, get_batch, take)``.

    For an in-memory CIFAR-10 part covering at least ``whole_base_fraction`` of its base array the
    values are computed for the *whole base* (``n = len(base)``, ``get_batch`` reads the base) and
    ``take`` is the part's indices into it, so every protocol and seed reuses one cache file;
    otherwise the part's own items are keyed by their identities (base fingerprint + index table,
    or the file paths) and ``take`` is None.
    """
    kind = getattr(source, "kind", "")
    base = getattr(source, "base_images", None)
    if kind == "array" and base is not None and len(source) >= whole_base_fraction * len(base):
        return f"base-{array_fingerprint(base)[:24]}", len(base), (lambda idx: base[idx]), np.asarray(source.indices)
    h = hashlib.sha256(f"{kind}|{getattr(source, 'image_size', '')}".encode())
    if base is not None:
        h.update(array_fingerprint(base).encode())
        h.update(np.ascontiguousarray(np.asarray(source.indices, dtype=np.int64)).data)
    elif hasattr(source, "paths"):
        h.update("\n".join(map(str, source.paths)).encode())
    else:
        raise TypeError(f"cannot key features of a {type(source).__name__}: no base array or paths")
    return f"{kind}-{h.hexdigest()[:24]}", len(source), source.get_batch, None
