"""Deep baselines (hashlib_core.baselines.deep): each loss against its paper's formula written out
pair by pair on small inputs, the criteria's state (memory, continuation, DSDH's B/W steps), and a
tiny deterministic runner smoke run for DPSH."""
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hashlib_core import paths
from hashlib_core.methods import DEEP_METHODS
from hashlib_core.baselines import deep
from hashlib_core.models.common import HashOutput
from hashlib_core.train import Batch

torch.set_default_dtype(torch.float32)


def _data(n=6, bits=8, classes=3, seed=0, multi=False):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(n, bits, generator=g, dtype=torch.float64)
    if multi:
        y = (torch.rand(n, classes, generator=g) < 0.4).to(torch.uint8)
        y[:, 0] |= (y.sum(1) == 0).to(torch.uint8)
    else:
        y = torch.randint(0, classes, (n,), generator=g)
    return u, y


def _sim(yi, yj):
    if yi.dim() == 0:
        return float(yi == yj)
    return float(((yi > 0) & (yj > 0)).any())


def _pairs(n, m=None):
    """Ordered pairs i != j within a batch, or all (i, j) against m other items."""
    if m is None:
        return [(i, j) for i in range(n) for j in range(n) if i != j]
    return [(i, j) for i in range(n) for j in range(m)]


def _sgn(x):
    return 1.0 if x >= 0 else -1.0


# ---------------------------------------------------------------------------------------------
# DPSH
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("memory", [False, True])
@pytest.mark.parametrize("multi", [False, True])
def test_dpsh_matches_formula(memory, multi):
    u, y = _data(multi=multi)
    uo, yo = _data(n=9, seed=1, multi=multi) if memory else (u, y)
    eta = 10.0
    pairs = _pairs(len(u), len(uo) if memory else None)
    lik = 0.0
    for i, j in pairs:
        theta = 0.5 * float(u[i] @ uo[j])
        s = _sim(y[i], yo[j])
        lik += -(s * theta - math.log1p(math.exp(theta)))
    quant = sum(float(((torch.tensor([_sgn(v) for v in u[i].tolist()], dtype=u.dtype) - u[i]) ** 2).sum())
                for i in range(len(u)))
    orient = 2 if memory else 1
    # paper's sum form (both orientations of each pair) over the available pairs / their number
    expected = (orient * lik + eta * quant) / (orient * len(pairs))
    loss, terms = deep.dpsh_loss(u, y, uo if memory else None, yo if memory else None, eta=eta)
    assert float(loss) == pytest.approx(expected, rel=1e-9)
    assert terms["likelihood"] == pytest.approx(lik / len(pairs), rel=1e-9)


def test_dpsh_criterion_uses_memory_of_all_seen_codes():
    crit = deep.DPSHCriterion(n_train=10, bits=4, eta=10.0)
    u1, y1 = _data(n=4, bits=4)
    crit(HashOutput(u1, None), Batch(None, y1, torch.arange(4)))
    u2, y2 = _data(n=3, bits=4, seed=2)
    loss, terms = crit(HashOutput(u2, None), Batch(None, y2, torch.tensor([4, 5, 6])))
    mem_u, mem_y = crit.pairs.memory.get()
    assert len(mem_u) == 7
    ref, _ = deep.dpsh_loss(u2, y2, mem_u, mem_y, eta=10.0)
    assert float(loss) == pytest.approx(float(ref))
    assert terms["quant_weight"] == pytest.approx(10.0 * 3 / (2 * 3 * 7))


# ---------------------------------------------------------------------------------------------
# HashNet
# ---------------------------------------------------------------------------------------------

def test_hashnet_matches_formula():
    z, y = _data(n=7, bits=12)
    beta = 1.7
    h = torch.tanh(beta * z)
    alpha = 10.0 / 12
    pairs = _pairs(len(h))
    s_all = [_sim(y[i], y[j]) for i, j in pairs]
    n1 = sum(s_all)
    n0 = len(pairs) - n1
    total = 0.0
    for (i, j), s in zip(pairs, s_all):
        ip = alpha * float(h[i] @ h[j])
        w = len(pairs) / n1 if s else len(pairs) / n0
        total += w * (math.log1p(math.exp(ip)) - s * ip)
    loss, _ = deep.hashnet_loss(h, y)
    assert float(loss) == pytest.approx(total / len(pairs), rel=1e-9)


def test_hashnet_continuation_schedule():
    assert deep.hashnet_beta(0) == 1.0
    assert deep.hashnet_beta(199) == 1.0
    assert deep.hashnet_beta(200) == pytest.approx(math.sqrt(2.0))
    assert deep.hashnet_beta(1000) == pytest.approx(math.sqrt(6.0))
    crit = deep.HashNetCriterion(n_train=10, bits=4, beta_step=2, beta_gamma=0.5)
    z, y = _data(n=4, bits=4)
    betas = [crit(HashOutput(z, None), Batch(None, y, torch.arange(4)))[1]["beta"] for _ in range(5)]
    assert betas == pytest.approx([1.0, 1.0, math.sqrt(2.0), math.sqrt(2.0), math.sqrt(3.0)])


# ---------------------------------------------------------------------------------------------
# DHN
# ---------------------------------------------------------------------------------------------

def test_dhn_matches_formula():
    u, y = _data(n=6, bits=10)
    z = torch.tanh(u)
    lam = 0.1
    pairs = _pairs(len(z))
    pair = sum(math.log1p(math.exp(float(z[i] @ z[j]))) - _sim(y[i], y[j]) * float(z[i] @ z[j])
               for i, j in pairs) / len(pairs)
    quant = float(torch.log(torch.cosh(z.abs() - 1)).mean())
    loss, terms = deep.dhn_loss(z, y, alpha=1.0, lam=lam)
    assert float(loss) == pytest.approx(pair + lam * quant, rel=1e-9)
    assert terms["quant"] == pytest.approx(quant, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# DCH
# ---------------------------------------------------------------------------------------------

def test_dch_matches_formula():
    u, y = _data(n=6, bits=16, multi=True)
    h = torch.tanh(u)
    K, gamma, lam = 16, 20.0, 0.1
    pairs = _pairs(len(h))
    s_all = [_sim(y[i], y[j]) for i, j in pairs]
    n1 = sum(s_all)
    n0 = len(pairs) - n1

    def d(a, b):
        return K / 2 * (1 - float(a @ b) / (float(a.norm()) * float(b.norm())))

    total = 0.0
    for (i, j), s in zip(pairs, s_all):
        dij = d(h[i], h[j])
        w = len(pairs) / n1 if s else len(pairs) / n0
        total += w * (s * math.log(dij / gamma) + math.log(1 + gamma / dij))  # the paper's form
    quant = np.mean([math.log(1 + d(h[i].abs(), torch.ones(K, dtype=h.dtype)) / gamma) for i in range(len(h))])
    loss, terms = deep.dch_loss(h, y, gamma=gamma, lam=lam)
    assert float(loss) == pytest.approx(total / len(pairs) + lam * quant, rel=1e-7)
    assert terms["quant"] == pytest.approx(quant, rel=1e-7)


def test_dch_is_finite_for_identical_codes():
    h = torch.ones(4, 8, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1])
    loss, _ = deep.dch_loss(h, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(h.grad).all()


# ---------------------------------------------------------------------------------------------
# CSQ
# ---------------------------------------------------------------------------------------------

def test_csq_centers_hadamard_and_bernoulli():
    c = deep.csq_centers(10, 32)
    assert c.shape == (10, 32) and set(np.unique(c)) == {-1.0, 1.0}
    dist = (32 - c @ c.T) / 2
    off = dist[~np.eye(10, dtype=bool)]
    assert off.min() >= 16  # Hadamard rows (and their negatives): pairwise distance K/2 or K
    b1, b2 = deep.csq_centers(10, 12, seed=3), deep.csq_centers(10, 12, seed=3)
    assert np.array_equal(b1, b2) and not np.array_equal(b1, deep.csq_centers(10, 12, seed=4))
    assert deep.csq_centers(70, 32, seed=0).shape == (70, 32)  # 70 > 2·32: Bernoulli


def test_csq_matches_formula_and_targets():
    z, y = _data(n=5, bits=8, classes=3)
    centers = torch.from_numpy(deep.csq_centers(3, 8)).double()
    tie = torch.ones(8, dtype=torch.float64)
    t = deep.csq_targets(y, centers, tie)
    assert torch.equal(t, centers[y])
    h = torch.tanh(z)
    bce = F.binary_cross_entropy((1 + h) / 2, (1 + t) / 2)
    quant = torch.log(torch.cosh(h.abs() - 1)).mean()
    loss, _ = deep.csq_loss(z, t, lam=1e-4)
    assert float(loss) == pytest.approx(float(bce + 1e-4 * quant), rel=1e-9)
    # multi-label: sign of the summed centres, zero bits from the tie-break vector
    ym = torch.tensor([[1, 1, 0], [0, 0, 1]])
    tm = deep.csq_targets(ym, centers, -tie)
    acc = centers[0] + centers[1]
    expected = torch.where(acc > 0, 1.0, torch.where(acc < 0, -1.0, -1.0)).double()
    assert torch.equal(tm[0], expected) and torch.equal(tm[1], centers[2])


# ---------------------------------------------------------------------------------------------
# DSDH
# ---------------------------------------------------------------------------------------------

def _dsdh_problem(L=6, n=20, C=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    U = torch.randn(L, n, generator=g, dtype=torch.float64)
    Y = F.one_hot(torch.randint(0, C, (n,), generator=g), C).t().double()
    B = torch.where(torch.randn(L, n, generator=g) >= 0, 1.0, -1.0).double()
    return B, U, Y


def test_dsdh_w_step_is_the_ridge_solution():
    B, U, Y = _dsdh_problem()
    mu, nu = 1.0, 0.1
    W = deep.dsdh_update_w(B, Y, mu, nu).requires_grad_(True)
    obj = mu * (Y - W.t() @ B).pow(2).sum() + nu * W.pow(2).sum()
    obj.backward()
    assert W.grad.abs().max() < 1e-8


def test_dsdh_b_step_decreases_objective_to_a_bitwise_optimum():
    B, U, Y = _dsdh_problem()
    mu, nu, eta = 1.0, 0.1, 55.0 / 20
    W = deep.dsdh_update_w(B, Y, mu, nu)
    before = deep.dsdh_objective(B, U, Y, W, mu, nu, eta)
    B2 = deep.dsdh_update_b(B, U, Y, W, mu, eta, sweeps=5)
    after = deep.dsdh_objective(B2, U, Y, W, mu, nu, eta)
    assert after <= before + 1e-9
    for k in range(B2.shape[0]):  # no single bit flip improves it
        for i in range(B2.shape[1]):
            F_ = B2.clone()
            F_[k, i] *= -1
            assert deep.dsdh_objective(F_, U, Y, W, mu, nu, eta) >= after - 1e-9
    # columns are independent: updating a subset equals the subset of a full update
    sub = deep.dsdh_update_b(B[:, :5], U[:, :5], Y[:, :5], W, mu, eta, sweeps=5)
    assert torch.equal(sub, B2[:, :5])


def test_dsdh_loss_matches_formula_and_criterion_runs():
    u, y = _data(n=5, bits=6)
    uo, yo = _data(n=8, bits=6, seed=3)
    b = torch.where(torch.randn(5, 6, dtype=torch.float64) >= 0, 1.0, -1.0)
    eta = 55.0
    pairs = _pairs(5, 8)
    lik = sum(-(_sim(y[i], yo[j]) * 0.5 * float(u[i] @ uo[j]) - math.log1p(math.exp(0.5 * float(u[i] @ uo[j]))))
              for i, j in pairs)
    coupling = float((b - u).pow(2).sum())
    loss, _ = deep.dsdh_loss(u, y, b, uo, yo, eta=eta)
    assert float(loss) == pytest.approx((2 * lik + eta * coupling) / (2 * len(pairs)), rel=1e-9)
    crit = deep.DSDHCriterion(n_train=12, bits=6, num_classes=3)
    for start in (0, 5):
        z = torch.randn(5, 6, requires_grad=True)
        loss, terms = crit(HashOutput(z, None), Batch(None, torch.randint(0, 3, (5,)), torch.arange(start, start + 5)))
        loss.backward()
        assert torch.isfinite(z.grad).all() and set(terms) >= {"likelihood", "coupling", "label_regression"}
    assert set(crit.B[:, :10].unique().tolist()) <= {-1.0, 1.0}


# ---------------------------------------------------------------------------------------------
# Every registered baseline: one step through its criterion, and the runner
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DEEP_METHODS)
@pytest.mark.parametrize("multi", [False, True])
def test_every_criterion_gives_finite_gradients(name, multi):
    from types import SimpleNamespace

    from hashlib_core.methods import METHODS

    method = METHODS[name]
    n_train, bits, classes = 16, 12, 4
    split = SimpleNamespace(train=list(range(n_train)), num_classes=classes, multi_label=multi)
    config = SimpleNamespace(bits=bits, seed=0, loss=method.defaults["loss"])
    crit = method.build_criterion(config, split)
    g = torch.Generator().manual_seed(0)
    for start in (0, 8):
        z = torch.randn(8, bits, generator=g, requires_grad=True)
        y = ((torch.rand(8, classes, generator=g) < 0.4).to(torch.uint8) if multi
             else torch.randint(0, classes, (8,), generator=g))
        loss, terms = crit(HashOutput(z, None), Batch(None, y, torch.arange(start, start + 8)))
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
        assert all(isinstance(v, float) for v in terms.values())
    assert method.defaults["model"] == deep.MODEL_DEFAULTS


def test_dpsh_runner_smoke_is_deterministic(isolated_cache):
    from hashlib_core.runner import make_config, run

    import dataclasses

    config = dataclasses.replace(make_config("smoke", "dpsh", "cifar10-dshfmdf", 12, 0),
                                 subset={"query": 20, "database": 100, "train": 40}, num_threads=1)
    assert config.loss["pairs"] == "memory"
    a = run(config, progress=False, use_cache=False, verbose=False)
    b = run(config, progress=False, use_cache=False, verbose=False)
    assert np.array_equal(a.query_codes, b.query_codes) and np.array_equal(a.db_codes, b.db_codes)
    assert a.query_codes.shape[1] == 12 and 0.0 <= a.metrics["map"] <= 1.0
    assert a.history[0]["quant_weight"] > 0
