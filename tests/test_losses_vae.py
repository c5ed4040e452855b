"""The VAE objective (reconstruction + KL) against its formula."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from hashlib_core.losses.vae import VAECriterion, kl_to_standard_normal, vae_loss
from hashlib_core.models.selfsup import VAEOutput


def _data(seed=0, n=5, bits=6):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 4, 4, generator=g, dtype=torch.float64)
    x_hat = torch.rand(n, 1, 4, 4, generator=g, dtype=torch.float64) * 0.98 + 0.01
    mu = torch.randn(n, bits, generator=g, dtype=torch.float64)
    logvar = torch.randn(n, bits, generator=g, dtype=torch.float64) * 0.5
    return x_hat, x, mu, logvar


def test_kl_matches_torch_distributions():
    _, _, mu, logvar = _data()
    want = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(1)
    torch.testing.assert_close(kl_to_standard_normal(mu, logvar), want)
    assert float(kl_to_standard_normal(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max()) == 0.0


def test_mse_loss_is_sum_over_pixels_and_latents_mean_over_batch():
    x_hat, x, mu, logvar = _data()
    n = x.shape[0]
    loss, terms = vae_loss(x_hat, x, mu, logvar, recon_weight=2.0, kl_weight=0.5, recon="mse")
    rec = sum(float(((x_hat[i] - x[i]) ** 2).sum()) for i in range(n)) / n
    kl = sum(float(-0.5 * (1 + logvar[i] - mu[i] ** 2 - logvar[i].exp()).sum()) for i in range(n)) / n
    assert terms["recon"] == pytest.approx(rec)
    assert terms["kl"] == pytest.approx(kl)
    assert float(loss) == pytest.approx(2.0 * rec + 0.5 * kl)
    assert terms["mse_per_pixel"] == pytest.approx(float(((x_hat - x) ** 2).mean()))


def test_bce_reconstruction():
    x_hat, x, mu, logvar = _data(1)
    loss, terms = vae_loss(x_hat, x, mu, logvar, kl_weight=0.0, recon="bce")
    want = float(F.binary_cross_entropy(x_hat, x, reduction="sum")) / x.shape[0]
    assert terms["recon"] == pytest.approx(want)
    assert float(loss) == pytest.approx(want)


def test_criterion_reads_the_batch_inputs_and_backpropagates():
    x_hat, x, mu, logvar = _data(2)
    x_hat.requires_grad_(True)
    mu.requires_grad_(True)
    crit = VAECriterion(recon_weight=1.0, kl_weight=1.0, recon="mse")
    batch = SimpleNamespace(inputs=x, labels=torch.zeros(x.shape[0]), index=torch.arange(x.shape[0]))
    loss, terms = crit(VAEOutput(mu, logvar, x_hat), batch)
    ref, ref_terms = vae_loss(x_hat, x, mu, logvar)
    assert float(loss.detach()) == pytest.approx(float(ref.detach())) and terms == ref_terms
    loss.backward()
    assert x_hat.grad is not None and mu.grad is not None
    # gradient of the KL term on mu is mu / n
    torch.testing.assert_close(mu.grad, mu.detach() / x.shape[0])


def test_bad_arguments_are_refused():
    x_hat, x, mu, logvar = _data()
    with pytest.raises(ValueError, match="unknown reconstruction"):
        vae_loss(x_hat, x, mu, logvar, recon="l1")
    with pytest.raises(ValueError, match="shape"):
        vae_loss(x_hat[:, :, :2], x, mu, logvar)
    with pytest.raises(ValueError, match="mu"):
        vae_loss(x_hat, x, mu[:, :3], logvar)
    with pytest.raises(ValueError, match="kl_weight"):
        VAECriterion(kl_weight=-1)


def test_loss_defaults_build_a_criterion():
    from hashlib_core.losses.vae import LOSS_DEFAULTS

    crit = VAECriterion(**LOSS_DEFAULTS)
    assert (crit.recon_weight, crit.kl_weight, crit.recon) == (1.0, 1.0, "mse")
