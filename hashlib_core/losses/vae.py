"""The VAE objective of paper 003's models: reconstruction + KL divergence to N(0, I).

Paper 003 (Kim et al.) §III trains every model "to minimize the difference between x and x̂" as a
VAE (Kingma & Welling, ICLR 2014) and gives no loss weights. We use the negative ELBO with a
Gaussian posterior N(μ, diag(exp(logvar))) and a standard normal prior, **summed over pixels and
latent dimensions and averaged over the batch** (the standard per-image ELBO)::

    loss = recon_weight · mean_i Σ_p ℓ(x̂_ip, x_ip)
         + kl_weight    · mean_i (-½ Σ_j (1 + logvar_ij - μ_ij² - exp(logvar_ij)))

with ℓ the squared error (``recon="mse"``) or the binary cross-entropy (``recon="bce"``, x in
[0, 1]). The logged term ``mse_per_pixel`` is the plain mean squared error over pixels and batch.
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F

__all__ = ["vae_loss", "kl_to_standard_normal", "recon_kind", "VAECriterion", "RECON_KINDS", "LOSS_DEFAULTS"]

RECON_KINDS = ("mse", "bce")
#: the ``loss`` defaults of a registered paper-003 method (keyword arguments of :class:`VAECriterion`)
LOSS_DEFAULTS = {"recon_weight": 1.0, "kl_weight": 1.0, "recon": "mse"}
Terms = Dict[str, float]


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, exp(logvar)) ‖ N(0, I)) per item: -½ Σ_j (1 + logvar - μ² - exp(logvar)) -> (N,)."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)


def vae_loss(x_hat: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             recon_weight: float = 1.0, kl_weight: float = 1.0, recon: str = "mse") -> Tuple[torch.Tensor, Terms]:
    """Weighted negative ELBO (module docstring) of the reconstruction ``x_hat`` of ``x``;
    ``recon`` = "mse" | "bce". Returns ``(loss, {"recon", "kl", "mse_per_pixel"})``."""
    return _vae_loss(x_hat, x, mu, logvar, float(recon_weight), float(kl_weight), recon_kind(recon))


def recon_kind(kind) -> str:
    """The validated reconstruction kind, "mse" or "bce"."""
    k = str(kind).lower()
    if k not in RECON_KINDS:
        raise ValueError(f"unknown reconstruction loss {kind!r}; use one of {RECON_KINDS}")
    return k


def _vae_loss(x_hat, x, mu, logvar, recon_weight, kl_weight, kind):
    if x_hat.shape != x.shape:
        raise ValueError(f"reconstruction shape {tuple(x_hat.shape)} differs from the input's {tuple(x.shape)}")
    if mu.shape != logvar.shape or mu.dim() != 2 or mu.shape[0] != x.shape[0]:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must both be (N, bits) "
                         f"with N = {x.shape[0]}")
    n = x.shape[0]
    if kind == "mse":
        rec = (x_hat - x).pow(2).reshape(n, -1).sum(dim=1).mean()
    else:
        rec = F.binary_cross_entropy(x_hat, x, reduction="none").reshape(n, -1).sum(dim=1).mean()
    kl = kl_to_standard_normal(mu, logvar).mean()
    loss = recon_weight * rec + kl_weight * kl
    mse_pp = (x_hat.detach() - x).pow(2).mean()
    return loss, {"recon": float(rec.detach()), "kl": float(kl.detach()), "mse_per_pixel": float(mse_pp)}


class VAECriterion:
    """``criterion(output, batch) -> (loss, terms)`` for :class:`~hashlib_core.models.selfsup.VAEOutput`;
    the reconstruction target is ``batch.inputs`` (the model's input tensor)."""

    def __init__(self, recon_weight: float = 1.0, kl_weight: float = 1.0, recon: str = "mse"):
        for name, w in (("recon_weight", recon_weight), ("kl_weight", kl_weight)):
            if not float(w) >= 0:
                raise ValueError(f"loss.{name} must be >= 0, got {w!r}")
        self.recon_weight, self.kl_weight = float(recon_weight), float(kl_weight)
        self.recon = recon_kind(recon)

    def __call__(self, output, batch):
        return _vae_loss(output.recon, batch.inputs, output.u, output.logvar,
                         self.recon_weight, self.kl_weight, self.recon)

    def __repr__(self) -> str:
        return f"VAECriterion(recon_weight={self.recon_weight:g}, kl_weight={self.kl_weight:g}, recon={self.recon!r})"
