"""SimAM: a simple, parameter-free attention module (Yang, Zhang, Li, Xie, ICML 2021, PMLR 139,
pp. 11863-11874).

Each neuron t of a channel gets the minimal energy of a linear separator between it and the other
neurons of its channel (the paper's eq. (3)-(4)); with the channel mean μ̂ and variance σ̂² shared
by all its neurons::

    e_t* = 4 (σ̂² + λ) / ((t - μ̂)² + 2 σ̂² + 2 λ)
    X̃    = sigmoid(1 / E*) ⊙ X,      1 / e_t* = (t - μ̂)² / (4 (σ̂² + λ)) + 1/2

A low energy means the neuron stands out from its neighbours and is weighted up. λ = 1e-4 (the
paper's value). σ̂² divides by M - 1 (M = H·W neurons per channel), as eq. (3)'s statistics over
the M - 1 other neurons and the authors' released code do.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["SimAM", "simam_energy"]


def _deviation_and_variance(x: torch.Tensor):
    """(x - channel mean)^2 and the channel variance over the M - 1 other neurons (the authors' code)."""
    if x.dim() != 4:
        raise ValueError(f"SimAM expects (N, C, H, W) feature maps, got shape {tuple(x.shape)}")
    m = x.shape[2] * x.shape[3]
    if m < 2:
        raise ValueError(f"SimAM needs at least 2 neurons per channel, got a {x.shape[2]}x{x.shape[3]} map")
    d = (x - x.mean(dim=(2, 3), keepdim=True)).pow(2)
    return d, d.sum(dim=(2, 3), keepdim=True) / (m - 1)


def simam_energy(x: torch.Tensor, lam: float = 1e-4) -> torch.Tensor:
    """Minimal energy e_t* of every neuron of ``x`` (N, C, H, W), same shape as ``x``."""
    d, var = _deviation_and_variance(x)
    return 4 * (var + lam) / (d + 2 * var + 2 * lam)


class SimAM(nn.Module):
    """Parameter-free attention: ``x * sigmoid(1 / e*)`` with e* from :func:`simam_energy`."""

    def __init__(self, lam: float = 1e-4):
        super().__init__()
        if not lam > 0:
            raise ValueError(f"SimAM's lambda must be > 0, got {lam!r}")
        self.lam = float(lam)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # 1/e* written out (not 1/simam_energy) to avoid a division by a quantity that can be tiny.
        d, var = _deviation_and_variance(x)
        inv_energy = d / (4 * (var + self.lam)) + 0.5
        return x * torch.sigmoid(inv_energy)

    def extra_repr(self) -> str:
        return f"lam={self.lam:g}"
