"""SimAM (Yang et al., ICML 2021) against a direct per-neuron computation of its energy formula."""
import numpy as np
import pytest
import torch

from hashlib_core.models.simam import SimAM, simam_energy

LAM = 1e-4


def _direct(x: np.ndarray, lam: float = LAM) -> np.ndarray:
    """Neuron by neuron: e_t* = 4(σ²+λ)/((t-μ)²+2σ²+2λ) with the channel's μ, σ² (divisor M-1),
    output t·sigmoid(1/e_t*)."""
    out = np.empty_like(x)
    n, c, h, w = x.shape
    m = h * w
    for i in range(n):
        for k in range(c):
            ch = x[i, k]
            mu = ch.sum() / m
            var = ((ch - mu) ** 2).sum() / (m - 1)
            for a in range(h):
                for b in range(w):
                    t = ch[a, b]
                    e = 4 * (var + lam) / ((t - mu) ** 2 + 2 * var + 2 * lam)
                    out[i, k, a, b] = t / (1 + np.exp(-1 / e))
    return out


def test_simam_matches_the_per_neuron_formula():
    x = torch.randn(2, 3, 5, 4, dtype=torch.float64) * 2 + 0.5
    got = SimAM(LAM)(x).numpy()
    np.testing.assert_allclose(got, _direct(x.numpy()), rtol=1e-12, atol=1e-12)


def test_closed_form_energy_is_the_minimum_of_the_energy_function():
    """Eq. (3)'s closed form: min over (w, b) of (1 - (w t + b))² + 1/(M-1) Σ_{i≠t} (-1 - (w x_i + b))² + λ w²
    equals 4(σ_t² + λ)/((t - μ_t)² + 2σ_t² + 2λ) with μ_t, σ_t² over the M-1 other neurons."""
    rng = np.random.default_rng(0)
    lam = 0.05  # a visible λ, so the regulariser matters in the comparison
    x = rng.normal(size=12)
    for t_idx in range(x.size):
        t, others = x[t_idx], np.delete(x, t_idx)
        k = others.size
        # the energy is quadratic in (w, b): solve its normal equations exactly
        A = np.array([[t * t + (others ** 2).sum() / k + lam, t + others.sum() / k],
                      [t + others.sum() / k, 2.0]])
        rhs = np.array([t - others.sum() / k, 0.0])
        w, b = np.linalg.solve(A, rhs)
        e_min = (1 - (w * t + b)) ** 2 + ((-1 - (w * others + b)) ** 2).sum() / k + lam * w * w
        mu, var = others.mean(), others.var()
        closed = 4 * (var + lam) / ((t - mu) ** 2 + 2 * var + 2 * lam)
        assert e_min == pytest.approx(closed, rel=1e-10)


def test_energy_function_and_module_agree_and_outliers_get_weighted_up():
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 2] = 5.0
    e = simam_energy(x, LAM)
    assert e[0, 0, 1, 2] == e.min()  # the distinctive neuron has the lowest energy
    y = SimAM(LAM)(x)
    torch.testing.assert_close(y, x * torch.sigmoid(1 / e))
    assert sum(p.numel() for p in SimAM().parameters()) == 0


@pytest.mark.parametrize("bad", [torch.zeros(2, 3, 4), torch.zeros(1, 1, 1, 1)])
def test_simam_rejects_bad_inputs(bad):
    with pytest.raises(ValueError):
        SimAM()(bad)


def test_simam_lambda_must_be_positive():
    with pytest.raises(ValueError, match="lambda"):
        SimAM(0.0)
