"""The faster memory-bank path of DPSH / DSDH (issue 17) gives the same bits as the old one.

``Old*`` below is the implementation before issue 17, copied verbatim (pairwise likelihood
against a memory, CodeMemory, DPSHCriterion, DSDHCriterion) as the reference. Correctness only:
the speed goals live in ``benches/bench_memory_bank.py``.
"""
from __future__ import annotations

import copy
from typing import Optional, Tuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hashlib_core.baselines import deep
from hashlib_core.codes import sign_like as _sgn
from hashlib_core.losses import sum_form_weight
from hashlib_core.losses.dshfmdf import similarity_matrix
from hashlib_core.losses.memory import LikelihoodWorkspace, memory_likelihood_loss
from hashlib_core.train import Batch


# =============================================================================================
# The old implementation (before issue 17), verbatim apart from names
# =============================================================================================

def old_similarity_matrix(labels, labels_other=None):
    other = labels if labels_other is None else labels_other
    if labels.dim() == 2:
        a = (labels > 0).to(torch.float32)
        b = (other > 0).to(torch.float32)
        return (a @ b.t() > 0).to(torch.float32)
    return (labels.view(-1, 1) == other.view(1, -1)).to(torch.float32)


def old_pairwise_likelihood_loss(u, labels, u_other, labels_other):
    if u_other.shape[0] == 0:
        return u.sum() * 0.0
    w = 0.5 * (u @ u_other.detach().to(device=u.device, dtype=u.dtype).t())
    s = old_similarity_matrix(labels, labels_other.to(labels.device)).to(w.dtype)
    return (F.softplus(w) - s * w).mean()


class OldCodeMemory:
    def __init__(self, n_train: int, bits: int, device=None, dtype=torch.float32) -> None:
        self.n_train = int(n_train)
        self.bits = int(bits)
        self.u = torch.zeros(self.n_train, self.bits, device=device, dtype=dtype)
        self.labels: Optional[torch.Tensor] = None
        self.filled = torch.zeros(self.n_train, dtype=torch.bool, device=device)

    @torch.no_grad()
    def update(self, index, u, labels) -> None:
        index = torch.as_tensor(index, device=self.u.device).long().view(-1)
        if self.labels is None:
            shape = (self.n_train,) + tuple(labels.shape[1:])
            dtype = labels.dtype if labels.dim() == 1 else torch.float32
            self.labels = torch.zeros(shape, dtype=dtype, device=self.u.device)
        self.u[index] = u.detach().to(self.u.dtype)
        self.labels[index] = labels.detach().to(self.labels.device, self.labels.dtype)
        self.filled[index] = True

    def get(self) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        if self.labels is None:
            return self.u[:0], None
        if bool(self.filled.all()):
            return self.u, self.labels
        return self.u[self.filled], self.labels[self.filled]


def _old_likelihood_total(u, labels, other, lab_other, coupling_target, eta):
    n = u.shape[0]
    j1 = old_pairwise_likelihood_loss(u, labels, other, lab_other)
    n_pairs = n * other.shape[0]
    j2 = (coupling_target - u).pow(2).sum(dim=1).mean()
    w = sum_form_weight(eta, n, n_pairs, 2)
    return j1 + w * j2, j1, j2, w


class OldDPSHCriterion:
    def __init__(self, n_train: int, bits: int, eta: float = 10.0):
        self.eta = float(eta)
        self.memory = OldCodeMemory(n_train, bits)

    def __call__(self, output, batch):
        u = output.u
        self.memory.update(batch.index, u, batch.labels)
        mu, ml = self.memory.get()
        loss, j1, j2, w = _old_likelihood_total(u, batch.labels, mu, ml, _sgn(u).detach(), self.eta)
        return loss, {"likelihood": float(j1.detach()), "quant": float(j2.detach()), "quant_weight": w}


def old_dsdh_update_w(B, Y, mu, nu):
    L = B.shape[0]
    A = B.double() @ B.double().t() + (nu / mu) * torch.eye(L, dtype=torch.float64, device=B.device)
    return torch.linalg.solve(A, B.double() @ Y.double().t()).to(B.dtype)


def old_dsdh_update_b(B, U, Y, W, mu, eta, sweeps=1):
    B = B.clone()
    Q = mu * (W @ Y) + eta * U
    L = B.shape[0]
    for _ in range(int(sweeps)):
        for k in range(L):
            keep = torch.arange(L, device=B.device) != k
            Bp, Wp, wk = B[keep], W[keep], W[k]
            B[k] = _sgn(Q[k] - mu * (Bp.t() @ (Wp @ wk)))
    return B


class OldDSDHCriterion:
    def __init__(self, n_train, bits, num_classes, mu=1.0, nu=0.1, eta=55.0, dcc_sweeps=1):
        self.mu, self.nu, self.eta, self.sweeps = float(mu), float(nu), float(eta), int(dcc_sweeps)
        self.num_classes = int(num_classes)
        self.memory = OldCodeMemory(n_train, bits)
        self.B = torch.ones(bits, n_train)
        self.Y = torch.zeros(num_classes, n_train)
        self.W = torch.zeros(bits, num_classes)

    def _onehot(self, labels):
        if labels.dim() == 2:
            return (labels > 0).float()
        return F.one_hot(labels.long(), self.num_classes).float()

    def __call__(self, output, batch):
        u, labels, index = output.u, batch.labels, batch.index
        idx = torch.as_tensor(index, device=u.device).long().view(-1)
        new = ~self.memory.filled[idx]
        if bool(new.any()):
            self.B[:, idx[new]] = _sgn(u.detach()[new]).t().to(self.B)
        self.memory.update(idx, u, labels)
        self.Y[:, idx] = self._onehot(labels).t().to(self.Y)
        with torch.no_grad():
            filled = self.memory.filled
            if bool(filled.all()):
                Bf, Yf = self.B, self.Y
            else:
                Bf, Yf = self.B[:, filled], self.Y[:, filled]
            self.W = old_dsdh_update_w(Bf, Yf, self.mu, self.nu)
            self.B[:, idx] = old_dsdh_update_b(self.B[:, idx], u.detach().t().to(self.B), self.Y[:, idx], self.W,
                                               self.mu, self.eta, self.sweeps)
            reg = float((self.Y[:, idx] - self.W.t() @ self.B[:, idx]).pow(2).sum(dim=0).mean())
        mu_, ml_ = self.memory.get()
        loss, j1, j2, w = _old_likelihood_total(u, labels, mu_, ml_, self.B[:, idx].t().detach().to(u), self.eta)
        return loss, {"likelihood": float(j1.detach()), "coupling": float(j2.detach()), "coupling_weight": w,
                      "label_regression": reg}


# =============================================================================================
# Tests
# =============================================================================================

def _bits(t: torch.Tensor) -> torch.Tensor:
    """The float32 tensor's bit patterns (torch.equal would call -0.0 == 0.0)."""
    return t.detach().contiguous().view(torch.int32)


def _case(n, m, bits, classes, seed, scale=1.0, multi=False):
    g = torch.Generator().manual_seed(seed)
    u = (scale * torch.randn(n, bits, generator=g)).requires_grad_(True)
    mu = scale * torch.randn(m, bits, generator=g)
    if multi:
        y, ym = (torch.rand(n, classes, generator=g) < 0.3).float(), (torch.rand(m, classes, generator=g) < 0.3).float()
    else:
        y, ym = torch.randint(0, classes, (n,), generator=g) * 7 - 3, torch.randint(0, classes, (m,), generator=g) * 7 - 3
    return u, y, mu, ym


def _value_and_grad(fn, u, *args):
    u = u.detach().clone().requires_grad_(True)
    v = fn(u, *args)
    v.backward()
    return v.detach(), u.grad


@pytest.mark.parametrize("threads", [1, 2])   # the cpu profile trains with 2 threads
@pytest.mark.parametrize("scale", [1e-3, 1.0, 4.0, 30.0])   # 30: |w| far beyond softplus's threshold 20
@pytest.mark.parametrize("multi", [False, True])
@pytest.mark.parametrize("shape", [(64, 5000, 30), (7, 333, 12), (64, 1, 60), (16, 50000, 30)])
def test_memory_likelihood_is_bit_identical_to_the_old_loss(scale, multi, shape, threads):
    n, m, bits = shape
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _check_against_old(n, m, bits, scale, multi)
    finally:
        torch.set_num_threads(before)


def _check_against_old(n, m, bits, scale, multi):
    u, y, mu, ym = _case(n, m, bits, 10, seed=n + m + bits, scale=scale, multi=multi)
    ws = LikelihoodWorkspace()
    new_v, new_g = _value_and_grad(lambda x: memory_likelihood_loss(x, y, mu, ym, ws), u)
    old_v, old_g = _value_and_grad(lambda x: old_pairwise_likelihood_loss(x, y, mu, ym), u)
    assert torch.equal(_bits(new_v), _bits(old_v))
    assert torch.equal(_bits(new_g), _bits(old_g))
    # a second call reuses the buffers and the class table and still agrees
    new_v2, new_g2 = _value_and_grad(lambda x: memory_likelihood_loss(x, y, mu, ym, ws), u * 0.5)
    old_v2, old_g2 = _value_and_grad(lambda x: old_pairwise_likelihood_loss(x, y, mu, ym), u * 0.5)
    assert torch.equal(_bits(new_v2), _bits(old_v2)) and torch.equal(_bits(new_g2), _bits(old_g2))


def test_class_table_follows_the_memory_labels_and_absent_classes():
    u, y, mu, ym = _case(16, 200, 8, 4, seed=3)
    ws = LikelihoodWorkspace()
    for labels_mem in (ym, ym.flip(0), torch.full_like(ym, 999), ym.clone()):
        # the same tensor rewritten in place must not reuse a stale table
        new_v, new_g = _value_and_grad(lambda x: memory_likelihood_loss(x, y, mu, labels_mem, ws), u)
        old_v, old_g = _value_and_grad(lambda x: old_pairwise_likelihood_loss(x, y, mu, labels_mem), u)
        assert torch.equal(_bits(new_v), _bits(old_v)) and torch.equal(_bits(new_g), _bits(old_g))
    live = ym.clone()
    memory_likelihood_loss(u, y, mu, live, ws).backward()
    live[:100] = 999
    new_v, new_g = _value_and_grad(lambda x: memory_likelihood_loss(x, y, mu, live, ws), u)
    old_v, old_g = _value_and_grad(lambda x: old_pairwise_likelihood_loss(x, y, mu, live), u)
    assert torch.equal(_bits(new_v), _bits(old_v)) and torch.equal(_bits(new_g), _bits(old_g))


def test_a_stale_backward_raises_instead_of_using_overwritten_buffers():
    u, y, mu, ym = _case(8, 50, 6, 3, seed=1)
    ws = LikelihoodWorkspace()
    first = memory_likelihood_loss(u, y, mu, ym, ws)
    memory_likelihood_loss(u, y, mu, ym, ws)
    with pytest.raises(RuntimeError, match="reused by a later forward"):
        first.backward()


def test_memory_likelihood_rejects_mismatched_shapes():
    u, y, mu, ym = _case(4, 10, 6, 3, seed=2)
    with pytest.raises(ValueError, match="memory_u"):
        memory_likelihood_loss(u, y, mu[:, :5], ym, LikelihoodWorkspace())


@pytest.fixture
def one_thread():
    """One torch thread: on a shared 2-core machine two threads spin and cost minutes here."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class _Out:
    def __init__(self, u):
        self.u = u


def _train(criterion, features, labels, steps, batch=64, seed=0):
    """The trainer's loop (hashlib_core.train.fit) on a linear hash layer over fixed features."""
    torch.manual_seed(seed)
    head = torch.nn.Linear(features.shape[1], 30 if criterion is None else criterion[1])
    crit = criterion[0]
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    n, done, losses = features.shape[0], 0, []
    while done < steps:
        perm = torch.randperm(n, generator=gen).numpy()
        for start in range(0, n, batch):
            idx = perm[start:start + batch]
            if len(idx) < 2 or done == steps:
                continue
            loss, terms = crit(_Out(head(features[idx])), Batch(None, labels[idx], torch.as_tensor(idx)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            done += 1
    with torch.no_grad():
        codes = _sgn(head(features))
    return head, codes, losses, crit


def _problem(n=1500, dim=128, classes=10, seed=0, multi=False):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    centres = torch.randn(classes, dim, generator=g)
    x = centres[y] + 2.0 * torch.randn(n, dim, generator=g)
    if multi:
        y = torch.nn.functional.one_hot(y, classes).float()
        y[torch.rand(n, classes, generator=g) < 0.1] = 1.0
    return x, y


@pytest.mark.parametrize("multi", [False, True])
def test_dpsh_training_gives_bit_identical_weights_codes_and_losses(multi, one_thread):
    x, y = _problem(multi=multi)
    bits, steps = 30, 300          # 24 steps an epoch (1,500 / 64): a filling epoch, then a full memory
    old = _train((OldDPSHCriterion(len(x), bits), bits), x, y, steps)
    new = _train((deep.DPSHCriterion(len(x), bits), bits), x, y, steps)
    assert old[2] == new[2]
    assert torch.equal(_bits(old[0].weight), _bits(new[0].weight)) and torch.equal(_bits(old[0].bias), _bits(new[0].bias))
    assert torch.equal(old[1], new[1])


@pytest.mark.parametrize("multi", [False, True])
def test_dsdh_training_gives_bit_identical_weights_codes_and_state(multi, one_thread):
    x, y = _problem(n=1000, multi=multi)
    bits, steps = 24, 200
    old = _train((OldDSDHCriterion(len(x), bits, 10), bits), x, y, steps)
    new = _train((deep.DSDHCriterion(len(x), bits, 10), bits), x, y, steps)
    assert old[2] == new[2]
    assert torch.equal(_bits(old[0].weight), _bits(new[0].weight))
    assert torch.equal(old[1], new[1])
    assert torch.equal(old[3].B, new[3].B) and torch.equal(_bits(old[3].W), _bits(new[3].W))
    # the kept Gram matrices equal a recount over all filled columns
    f = new[3].memory.filled
    b, yy = new[3].B[:, f].double(), new[3].Y[:, f].double()
    assert torch.equal(new[3]._bbt, b @ b.t()) and torch.equal(new[3]._byt, b @ yy.t())


def test_dsdh_with_a_repeated_index_in_a_batch_matches_the_old_criterion():
    x, y = _problem(n=40, dim=16)
    old, new = OldDSDHCriterion(40, 8, 10), deep.DSDHCriterion(40, 8, 10)
    torch.manual_seed(0)
    head = torch.nn.Linear(16, 8)
    for idx in (torch.tensor([0, 1, 2, 2, 5]), torch.tensor([5, 5, 7, 1]), torch.arange(40)):
        out = head(x[idx])
        lo, to = old(_Out(out), Batch(None, y[idx], idx))
        ln, tn = new(_Out(out), Batch(None, y[idx], idx))
        assert float(lo.detach()) == float(ln.detach()) and to == tn
        assert torch.equal(old.B, new.B) and torch.equal(_bits(old.W), _bits(new.W))


@pytest.mark.parametrize("method", ["dpsh", "dsdh"])
def test_the_runner_gives_the_same_codes_and_history_as_with_the_old_criterion(method, isolated_cache, monkeypatch):
    """A smoke run on real CIFAR-10 (3 epochs, 600 training images) with the registered criterion
    and with the old one swapped in: identical codes, per-epoch terms and mAP."""
    import dataclasses

    from hashlib_core.methods import base
    from hashlib_core.runner import make_config, run

    config = make_config("smoke", method, "cifar10-dshfmdf", 12, 0)
    config = dataclasses.replace(config, subset={"query": 50, "database": 1000, "train": 600}, num_threads=1,
                                 train={**dict(config.train), "epochs": 3})
    new = run(config, progress=False, use_cache=False, verbose=False)
    old_builder = {
        "dpsh": lambda c, s: OldDPSHCriterion(len(s.train), c.bits, eta=c.loss["eta"]),
        "dsdh": lambda c, s: OldDSDHCriterion(len(s.train), c.bits, s.num_classes, mu=c.loss["mu"], nu=c.loss["nu"],
                                              eta=c.loss["eta"], dcc_sweeps=c.loss["dcc_sweeps"]),
    }[method]
    monkeypatch.setitem(base.METHODS, method, dataclasses.replace(base.METHODS[method], build_criterion=old_builder))
    old = run(config, progress=False, use_cache=False, verbose=False)
    assert np.array_equal(old.query_codes, new.query_codes) and np.array_equal(old.db_codes, new.db_codes)
    strip = [[{k: v for k, v in h.items() if k != "seconds"} for h in r.history] for r in (old, new)]
    assert strip[0] == strip[1] and old.metrics == new.metrics


@pytest.mark.parametrize("sweeps", [1, 3])
def test_dsdh_b_step_matches_the_old_one(sweeps):
    g = torch.Generator().manual_seed(sweeps)
    L, C, n = 12, 5, 40
    B = torch.where(torch.randn(L, n, generator=g) >= 0, 1.0, -1.0)
    U, W = torch.randn(L, n, generator=g), 0.3 * torch.randn(L, C, generator=g)
    Y = F.one_hot(torch.randint(0, C, (n,), generator=g), C).float().t()
    new = deep.dsdh_update_b(B, U, Y, W, 1.0, 55.0, sweeps)
    assert torch.equal(new, old_dsdh_update_b(B, U, Y, W, 1.0, 55.0, sweeps))
    assert torch.equal(new, deep.dsdh_update_b(B, U, Y, W, 1.0, 55.0, sweeps))  # the cached row indices
