"""DPN: Fan, Ng, Ju, Zhang, Chan, "Deep Polarized Network for Supervised Learning of Accurate Binary
Hashing Codes", IJCAI 2020, pp. 825-831 (ijcai.org/proceedings/2020/115). Paper 003's Table III
and Fig. 6 compare against it.

Every class c gets a fixed target code t_c ∈ {-1, +1}^K; the network output v (the linear
hash-layer output, no squashing) is pushed bit by bit to the target's side of zero, beyond a
margin m, by the polarization loss::

    ℓ(v, t) = Σ_k max(m - v_k t_k, 0)

(a hinge per bit; zero once every v_k t_k ≥ m). We average it over bits and images (the authors'
re-implementation's normalisation; the paper's sum differs by the constant factor K·N, which
Adam's step size absorbs). Codes are ``sign(v)``. Target codes (``targets``):

* ``"random"`` (the paper's random assignment): each class's code has exactly round(p·K) bits at
  -1, at positions drawn from ``default_rng([seed, 0xD9])``, p = 0.5 (as the authors' released
  code draws them);
* ``"hadamard"``: rows of [H; -H] with H the Sylvester Hadamard matrix of order K (needs K a power
  of two and at most 2K classes).

Multi-hot labels: t = sign of the sum of the labels' targets, zero bits taken from a fixed seeded
±1 vector (the rule CSQ uses and the authors' code copies). The margin defaults to m = 1
(the authors' default). The paper's ternary encoding and adaptive target updates are not used.
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
import torch

__all__ = ["dpn_loss", "dpn_target_codes", "dpn_targets", "DPNCriterion", "TARGET_KINDS", "LOSS_DEFAULTS"]

TARGET_KINDS = ("random", "hadamard")
#: the ``loss`` defaults of a registered DPN method (keyword arguments of :class:`DPNCriterion`)
LOSS_DEFAULTS = {"margin": 1.0, "targets": "random", "p": 0.5}
Terms = Dict[str, float]


def dpn_target_codes(num_classes: int, bits: int, seed: int = 0, kind: str = "random",
                     p: float = 0.5) -> np.ndarray:
    """Target codes (num_classes, bits) float32 in {-1, +1} (module docstring)."""
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    if int(bits) != bits or bits < 1:
        raise ValueError(f"bits must be a positive integer, got {bits!r}")
    if kind == "random":
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"DPN's p (fraction of -1 bits per target) must lie in [0, 1], got {p!r}")
        rng = np.random.default_rng([int(seed), 0xD9])
        n_neg = int(round(p * bits))
        out = np.ones((num_classes, bits), dtype=np.float32)
        for c in range(num_classes):
            out[c, rng.permutation(bits)[:n_neg]] = -1.0
        return out
    if kind == "hadamard":
        if bits & (bits - 1) or num_classes > 2 * bits:
            raise ValueError(f"Hadamard targets need bits a power of two and num_classes <= 2*bits; "
                             f"got bits={bits}, num_classes={num_classes} (use targets='random')")
        from scipy.linalg import hadamard

        h = hadamard(bits).astype(np.float32)
        return np.concatenate([h, -h], axis=0)[:num_classes]
    raise ValueError(f"unknown DPN target kind {kind!r}; use one of {TARGET_KINDS}")


def dpn_targets(labels: torch.Tensor, codes: torch.Tensor, tie_break: torch.Tensor) -> torch.Tensor:
    """Each image's target: its class's code (1-D class ids), or for multi-hot labels the sign of the
    sum of its labels' codes with zero bits from the fixed ±1 vector ``tie_break``."""
    codes = codes.to(labels.device)
    if labels.dim() == 1:
        return codes[labels.long()]
    acc = (labels > 0).to(codes.dtype) @ codes
    tb = tie_break.to(acc).expand_as(acc)
    return torch.where(acc > 0, torch.ones_like(acc), torch.where(acc < 0, -torch.ones_like(acc), tb))


def dpn_loss(u: torch.Tensor, targets: torch.Tensor, margin: float = 1.0) -> Tuple[torch.Tensor, Terms]:
    """Polarization loss ``mean_{i,k} max(m - u_ik t_ik, 0)`` with t ∈ {-1,+1} -> (loss, terms)."""
    if u.shape != targets.shape:
        raise ValueError(f"u {tuple(u.shape)} and targets {tuple(targets.shape)} must have the same shape")
    if not float(margin) >= 0:
        raise ValueError(f"DPN margin must be >= 0, got {margin!r}")
    t = targets.to(u)
    per_bit = (float(margin) - u * t).clamp_min(0)
    loss = per_bit.mean()
    polarized = float(((u * t) >= float(margin)).float().mean().detach())
    return loss, {"polarization": float(loss.detach()), "polarized_fraction": polarized}


class DPNCriterion:
    """``criterion(output, batch) -> (loss, terms)`` with ``output.u`` the hash-layer output."""

    def __init__(self, num_classes: int, bits: int, seed: int = 0, margin: float = 1.0,
                 targets: str = "random", p: float = 0.5):
        if not float(margin) >= 0:
            raise ValueError(f"loss.margin must be >= 0, got {margin!r}")
        self.margin = float(margin)
        self.codes = torch.from_numpy(dpn_target_codes(num_classes, bits, seed, targets, p))
        rng = np.random.default_rng([int(seed), 0xD9, 1])
        self.tie_break = torch.from_numpy(np.where(rng.random(bits) < 0.5, -1.0, 1.0).astype(np.float32))

    def __call__(self, output, batch):
        return dpn_loss(output.u, dpn_targets(batch.labels, self.codes, self.tie_break), self.margin)
