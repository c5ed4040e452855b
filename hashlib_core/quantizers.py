"""Quantizers: continuous codes (N, bits) -> int8 {-1, +1} codes.

A quantizer has ``fit(train_u) -> self`` (called once on the continuous codes of the TRAINING
images) and ``encode(u) -> np.ndarray`` of int8 in {-1, +1}.

* :class:`SignQuantizer` -- ``hashlib_core.codes.sign`` (0 -> +1); ``fit`` learns nothing. Every
  method whose code is the sign of its output.
* :class:`MeanThresholdQuantizer` -- paper 003 (Kim et al.) §III: θ_j = mean of z_j over the
  training images, bit j = +1 iff z_j > θ_j, else -1. The comparison is strict, as the paper's
  ``h_j = 1 if z_j > θ_j; 0 otherwise``: **a value equal to its threshold gives -1** (unlike
  ``codes.sign``, where 0 gives +1).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .codes import _to_numpy, sign

__all__ = ["SignQuantizer", "MeanThresholdQuantizer"]


def _as_real_matrix(u, name: str, bits: Optional[int] = None) -> np.ndarray:
    arr = _to_numpy(u)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n_items, bits) array of continuous codes, got shape {arr.shape}")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be real-valued, got dtype {arr.dtype}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has zero bits (shape {arr.shape})")
    if bits is not None and arr.shape[1] != bits:
        raise ValueError(f"{name} has {arr.shape[1]} dimensions but the quantizer was fitted on {bits}")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


class SignQuantizer:
    """``encode(u) = codes.sign(u)`` (0 -> +1); nothing to fit."""

    needs_fit = False  # the runner skips encoding the training images for it

    def fit(self, train_u) -> "SignQuantizer":
        _as_real_matrix(train_u, "train_u")
        return self

    def encode(self, u) -> np.ndarray:
        return sign(_as_real_matrix(u, "u"))

    def __repr__(self) -> str:
        return "SignQuantizer()"


class MeanThresholdQuantizer:
    """Paper 003 §III: θ = training-set mean of every latent dimension; bit = +1 iff u_j > θ_j.

    ``threshold_`` (bits,) float64 after :meth:`fit`. Ties (u_j == θ_j) give -1.
    """

    needs_fit = True

    def __init__(self):
        self.threshold_: Optional[np.ndarray] = None

    def fit(self, train_u) -> "MeanThresholdQuantizer":
        arr = _as_real_matrix(train_u, "train_u")
        if arr.shape[0] == 0:
            raise ValueError("train_u holds no training codes: the threshold is their mean")
        self.threshold_ = arr.astype(np.float64).mean(axis=0)
        return self

    def encode(self, u) -> np.ndarray:
        if self.threshold_ is None:
            raise ValueError("MeanThresholdQuantizer.encode called before fit(train_u)")
        arr = _as_real_matrix(u, "u", bits=self.threshold_.shape[0])
        return np.where(arr.astype(np.float64) > self.threshold_, 1, -1).astype(np.int8)

    def __repr__(self) -> str:
        state = "unfitted" if self.threshold_ is None else f"bits={self.threshold_.shape[0]}"
        return f"MeanThresholdQuantizer({state})"
