"""Deep hashing baselines at equal settings: DPSH, HashNet, DHN, DCH, CSQ, DSDH (issue 6).

Every baseline is *only* a loss (+ the encoding rule ``sign(u)``) on one shared model,
:func:`hashlib_core.models.fc1_hashnet` (the profile's trunk, its fc1 feature, one linear hash
layer), registered in :mod:`hashlib_core.methods.deep_baselines` and trained by the one trainer
:func:`hashlib_core.train.fit` with the profile's optimiser settings. The methods' own squashing
functions (tanh, HashNet's tanh(βz)) are applied inside the losses, so the network is the same
module for every method and the codes are ``sign(u)`` of the same output; only the objective
differs. That is what "equal settings" means here.

Each loss is a pure function of small tensors (``*_loss``), tested against its paper's formula
in ``tests/test_baselines_deep.py``; a criterion class wraps it with the state the method needs
(a memory of training codes, HashNet's continuation step counter, DSDH's discrete codes B and
regression matrix W, CSQ's hash centres) and has the trainer's signature
``criterion(output, batch) -> (loss, {term: float})`` (``output.u``; ``batch.labels``, ``batch.index``).

Scaling conventions (hyper-parameters are the papers'; how each term is normalised decides what
a weight means -- docs/decisions.md "Baselines"):

* DPSH, DSDH -- the papers' objectives are *sums* (pairs over the whole training set, the
  quantization / coupling term over images) and the papers' η belongs to that sum form. We take
  the sum-form objective over the pairs available at the step (both orientations of every pair,
  as the papers' gradients have), divided by the number of those pairs, i.e.
  ``mean_pairs(ℓ) + η·B/(o·P)·mean_batch(||b - u||²)`` with P pairs, o = 2 when the other side
  is a detached memory (DPSH's U matrix) and o = 1 for ordered within-batch pairs.
* HashNet, DHN, DCH, CSQ -- their weights go with mean-normalised terms (pair mean, per-image /
  per-element quantization mean), as in their authors' code.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from hashlib_core.codes import sign_like as _sgn
from hashlib_core.losses import CodeMemory, MemoryPairs, pairwise_likelihood_loss, similarity_matrix, sum_form_weight
from hashlib_core.losses.memory import LikelihoodWorkspace, memory_likelihood_loss

__all__ = [
    "MODEL_DEFAULTS",
    "dpsh_loss",
    "hashnet_loss",
    "hashnet_beta",
    "dhn_loss",
    "dch_loss",
    "csq_loss",
    "csq_centers",
    "csq_targets",
    "dsdh_update_w",
    "dsdh_update_b",
    "dsdh_loss",
    "DPSHCriterion",
    "HashNetCriterion",
    "DHNCriterion",
    "DCHCriterion",
    "CSQCriterion",
    "DSDHCriterion",
]

#: the one model every deep baseline uses (:func:`hashlib_core.models.fc1_hashnet`; profile width /
#: weights are added by make_config)
MODEL_DEFAULTS: Dict[str, Any] = {"backbone": "vgg19_bn"}

Terms = Dict[str, float]


def _pair_values(mat: torch.Tensor, batch_mode: bool) -> torch.Tensor:
    """The entries of a (B, M) pair matrix that are pairs: off-diagonal in batch mode, all otherwise."""
    if not batch_mode:
        return mat.reshape(-1)
    n = mat.shape[0]
    off = ~torch.eye(n, dtype=torch.bool, device=mat.device)
    return mat[off]


def _others(x: torch.Tensor, labels: torch.Tensor, x_other, labels_other):
    """(other codes, other labels, batch_mode): the batch itself, or a detached memory."""
    if (x_other is None) != (labels_other is None):
        raise ValueError("pass x_other and labels_other together")
    if x_other is None:
        return x, labels, True
    return x_other.detach().to(device=x.device, dtype=x.dtype), labels_other.to(labels.device), False


def _balance_weights(s: torch.Tensor) -> torch.Tensor:
    """HashNet / DCH pair weights: |S|/|S1| on similar pairs, |S|/|S0| on dissimilar ones (1 if a
    class of pairs is empty)."""
    n = s.numel()
    n1 = s.sum()
    n0 = n - n1
    if n1 == 0 or n0 == 0:
        return torch.ones_like(s)
    return s * (n / n1) + (1 - s) * (n / n0)


# ===========================================================================================
# DPSH (Li, Wang, Kang, IJCAI 2016)
# ===========================================================================================

def _likelihood(u, labels, other, lab_other, batch_mode, workspace):
    """(J1, pair count, orientations): within the batch, or against a detached memory (through the
    bit-identical fast path when a workspace is given)."""
    n = u.shape[0]
    if batch_mode:
        return pairwise_likelihood_loss(u, labels), n * (n - 1), 1
    if workspace is not None:
        return memory_likelihood_loss(u, labels, other, lab_other, workspace), n * other.shape[0], 2
    return pairwise_likelihood_loss(u, labels, other, lab_other), n * other.shape[0], 2


def dpsh_loss(u: torch.Tensor, labels: torch.Tensor, u_other: Optional[torch.Tensor] = None,
              labels_other: Optional[torch.Tensor] = None, eta: float = 10.0,
              workspace: Optional[LikelihoodWorkspace] = None) -> Tuple[torch.Tensor, Terms]:
    """DPSH: ``-Σ_{s_ij}(s_ij Θ_ij - log(1 + e^{Θ_ij})) + η Σ_i ||b_i - u_i||²``, Θ_ij = ½ u_iᵀu_j,
    b_i = sgn(u_i), in the normalised form of the module docstring. ``u`` is the linear
    hash-layer output (DPSH has no squashing). ``workspace``: the memory side's buffers for
    :func:`~hashlib_core.losses.memory.memory_likelihood_loss` (same bits, faster)."""
    other, lab_other, batch_mode = _others(u, labels, u_other, labels_other)
    n = u.shape[0]
    j1, n_pairs, orient = _likelihood(u, labels, other, lab_other, batch_mode, workspace)
    j2 = (_sgn(u).detach() - u).pow(2).sum(dim=1).mean()
    w = sum_form_weight(eta, n, n_pairs, orient)
    return j1 + w * j2, {"likelihood": float(j1.detach()), "quant": float(j2.detach()), "quant_weight": w}


class DPSHCriterion:
    def __init__(self, n_train: int, bits: int, eta: float = 10.0, pairs: str = "memory"):
        self.eta = float(eta)
        self.pairs = MemoryPairs(pairs, n_train, bits)

    def __call__(self, output, batch):
        u = output.u
        mu, ml = self.pairs.others(u, batch.labels, batch.index)
        return dpsh_loss(u, batch.labels, mu, ml, eta=self.eta, workspace=self.pairs.workspace)


# ===========================================================================================
# HashNet (Cao, Long, Wang, Yu, ICCV 2017)
# ===========================================================================================

def hashnet_beta(step: int, init: float = 1.0, gamma: float = 0.005, power: float = 0.5,
                 step_size: int = 200) -> float:
    """Continuation of tanh(βz): β = init·(1 + γ·t)^power with t the iteration count rounded down
    to a multiple of ``step_size`` (HashNet's schedule: β grows stage by stage, sign(z) in the limit)."""
    t = (int(step) // int(step_size)) * int(step_size)
    return float(init) * (1.0 + float(gamma) * t) ** float(power)


def hashnet_loss(h: torch.Tensor, labels: torch.Tensor, h_other: Optional[torch.Tensor] = None,
                 labels_other: Optional[torch.Tensor] = None, alpha: Optional[float] = None) -> Tuple[torch.Tensor, Terms]:
    """HashNet's weighted maximum likelihood: ``Σ_ij w_ij (log(1 + e^{α⟨h_i,h_j⟩}) - α s_ij ⟨h_i,h_j⟩) / |S|``
    with w_ij = |S|/|S1| (similar) or |S|/|S0| (dissimilar), h = tanh(βz) (applied by the caller).
    ``alpha`` defaults to 10/bits (the authors' setting)."""
    other, lab_other, batch_mode = _others(h, labels, h_other, labels_other)
    a = 10.0 / h.shape[1] if alpha is None else float(alpha)
    ip = a * (h @ other.t())
    s = similarity_matrix(labels, lab_other).to(ip.dtype)
    ip, s = _pair_values(ip, batch_mode), _pair_values(s, batch_mode)
    w = _balance_weights(s)
    loss = (w * (F.softplus(ip) - s * ip)).mean()
    return loss, {"pairwise": float(loss.detach())}


class HashNetCriterion:
    """Counts its own calls (one per training step) for the continuation schedule."""

    def __init__(self, n_train: int, bits: int, alpha: Optional[float] = None, pairs: str = "batch",
                 beta_init: float = 1.0, beta_gamma: float = 0.005, beta_power: float = 0.5,
                 beta_step: int = 200):
        self.alpha = alpha
        self.schedule = dict(init=beta_init, gamma=beta_gamma, power=beta_power, step_size=beta_step)
        self.step = 0
        self.pairs = MemoryPairs(pairs, n_train, bits)

    def __call__(self, output, batch):
        beta = hashnet_beta(self.step, **self.schedule)
        self.step += 1
        h = torch.tanh(beta * output.u)
        ho, lo = self.pairs.others(h, batch.labels, batch.index)
        loss, terms = hashnet_loss(h, batch.labels, ho, lo, alpha=self.alpha)
        terms["beta"] = beta
        return loss, terms


# ===========================================================================================
# DHN (Zhu, Long, Wang, Cao, AAAI 2016)
# ===========================================================================================

def dhn_loss(z: torch.Tensor, labels: torch.Tensor, z_other: Optional[torch.Tensor] = None,
             labels_other: Optional[torch.Tensor] = None, alpha: float = 1.0,
             lam: float = 0.1) -> Tuple[torch.Tensor, Terms]:
    """DHN: pairwise cross-entropy ``log(1 + e^{α⟨z_i,z_j⟩}) - α s_ij ⟨z_i,z_j⟩`` (mean over pairs)
    + λ · mean over images and bits of the smoothed bimodal-Laplacian prior ``log cosh(|z| - 1)``;
    z = tanh(u) (applied by the caller)."""
    other, lab_other, batch_mode = _others(z, labels, z_other, labels_other)
    ip = float(alpha) * (z @ other.t())
    s = similarity_matrix(labels, lab_other).to(ip.dtype)
    ip, s = _pair_values(ip, batch_mode), _pair_values(s, batch_mode)
    pair = (F.softplus(ip) - s * ip).mean()
    x = z.abs() - 1
    quant = (x + F.softplus(-2 * x) - math.log(2.0)).mean()  # log cosh(x), overflow-free
    return pair + lam * quant, {"pairwise": float(pair.detach()), "quant": float(quant.detach())}


class DHNCriterion:
    def __init__(self, n_train: int, bits: int, alpha: float = 1.0, lam: float = 0.1, pairs: str = "batch"):
        self.alpha, self.lam = float(alpha), float(lam)
        self.pairs = MemoryPairs(pairs, n_train, bits)

    def __call__(self, output, batch):
        z = torch.tanh(output.u)
        zo, lo = self.pairs.others(z, batch.labels, batch.index)
        return dhn_loss(z, batch.labels, zo, lo, alpha=self.alpha, lam=self.lam)


# ===========================================================================================
# DCH (Cao, Long, Liu, Wang, CVPR 2018)
# ===========================================================================================

def _cos_distance(a: torch.Tensor, b: torch.Tensor, bits: int, eps: float = 1e-4) -> torch.Tensor:
    """DCH's normalised Euclidean distance as a Hamming proxy: d = (K/2)(1 - cos(a_i, b_j))."""
    an = a / a.norm(dim=1, keepdim=True).clamp_min(eps)
    bn = b / b.norm(dim=1, keepdim=True).clamp_min(eps)
    return 0.5 * bits * (1 - an @ bn.t())


def dch_loss(h: torch.Tensor, labels: torch.Tensor, h_other: Optional[torch.Tensor] = None,
             labels_other: Optional[torch.Tensor] = None, gamma: float = 20.0, lam: float = 0.1,
             d_min: float = 1e-3) -> Tuple[torch.Tensor, Terms]:
    """DCH: Cauchy cross-entropy ``w_ij (s_ij log(d_ij/γ) + log(1 + γ/d_ij))`` (mean over pairs, w_ij
    as HashNet) + λ · mean over images of the Cauchy quantization ``log(1 + d(|h_i|, 1)/γ)``;
    d = (K/2)(1 - cos). h = tanh(u) (applied by the caller).

    Computed as ``s log(1 + d/γ) + (1 - s) log(1 + γ/d)`` (algebraically the same, finite at d = 0
    for similar pairs); d is clamped at ``d_min`` in the dissimilar term only.
    """
    other, lab_other, batch_mode = _others(h, labels, h_other, labels_other)
    bits = h.shape[1]
    d = _cos_distance(h, other, bits).clamp_min(0)
    s = similarity_matrix(labels, lab_other).to(d.dtype)
    d, s = _pair_values(d, batch_mode), _pair_values(s, batch_mode)
    w = _balance_weights(s)
    ce = s * torch.log1p(d / gamma) + (1 - s) * torch.log1p(gamma / d.clamp_min(d_min))
    cauchy = (w * ce).mean()
    dq = 0.5 * bits * (1 - h.abs().sum(dim=1) / (h.norm(dim=1).clamp_min(1e-4) * math.sqrt(bits)))
    quant = torch.log1p(dq.clamp_min(0) / gamma).mean()
    return cauchy + lam * quant, {"cauchy": float(cauchy.detach()), "quant": float(quant.detach())}


class DCHCriterion:
    def __init__(self, n_train: int, bits: int, gamma: float = 20.0, lam: float = 0.1, pairs: str = "batch"):
        self.gamma, self.lam = float(gamma), float(lam)
        self.pairs = MemoryPairs(pairs, n_train, bits)

    def __call__(self, output, batch):
        h = torch.tanh(output.u)
        ho, lo = self.pairs.others(h, batch.labels, batch.index)
        return dch_loss(h, batch.labels, ho, lo, gamma=self.gamma, lam=self.lam)


# ===========================================================================================
# CSQ (Yuan et al., CVPR 2020)
# ===========================================================================================

def csq_centers(num_classes: int, bits: int, seed: int = 0) -> np.ndarray:
    """Hash centres (num_classes, bits) in {-1,+1}: rows of [H; -H] (H the Sylvester Hadamard
    matrix of order ``bits``) when ``bits`` is a power of two and ``num_classes <= 2·bits``; else
    i.i.d. Bernoulli(½) bits from ``default_rng([seed, 0xC5A])`` (CSQ's two constructions)."""
    if bits >= 1 and bits & (bits - 1) == 0 and num_classes <= 2 * bits:
        from scipy.linalg import hadamard

        h = hadamard(bits)
        return np.concatenate([h, -h], axis=0)[:num_classes].astype(np.float32)
    rng = np.random.default_rng([int(seed), 0xC5A])
    return np.where(rng.random((num_classes, bits)) < 0.5, -1.0, 1.0).astype(np.float32)


def csq_targets(labels: torch.Tensor, centers: torch.Tensor, tie_break: torch.Tensor) -> torch.Tensor:
    """Each image's hash centre: its class's centre (1-D labels), or for multi-hot labels the sign of
    the sum of its labels' centres with zero bits set from the fixed ±1 vector ``tie_break``."""
    centers = centers.to(labels.device)
    if labels.dim() == 1:
        return centers[labels.long()]
    acc = (labels > 0).to(centers.dtype) @ centers
    return torch.where(acc > 0, torch.ones_like(acc),
                       torch.where(acc < 0, -torch.ones_like(acc), tie_break.to(acc).expand_as(acc)))


def csq_loss(z: torch.Tensor, targets: torch.Tensor, lam: float = 1e-4) -> Tuple[torch.Tensor, Terms]:
    """CSQ: central similarity ``BCE((1 + h)/2, (1 + c)/2)`` averaged over images and bits, h = tanh(z),
    + λ · mean of ``log cosh(|h| - 1)``. BCE((1+tanh z)/2, t) is computed as BCE-with-logits(2z, t)
    (exactly equal, no log(0)); ``z`` is the linear hash-layer output."""
    t = 0.5 * (targets + 1)
    center = F.binary_cross_entropy_with_logits(2 * z, t)
    x = torch.tanh(z).abs() - 1
    quant = (x + F.softplus(-2 * x) - math.log(2.0)).mean()
    return center + lam * quant, {"center": float(center.detach()), "quant": float(quant.detach())}


class CSQCriterion:
    def __init__(self, num_classes: int, bits: int, seed: int = 0, lam: float = 1e-4):
        self.centers = torch.from_numpy(csq_centers(num_classes, bits, seed))
        rng = np.random.default_rng([int(seed), 0x71E])
        self.tie_break = torch.from_numpy(np.where(rng.random(bits) < 0.5, -1.0, 1.0).astype(np.float32))
        self.lam = float(lam)

    def __call__(self, output, batch):
        z = output.u
        return csq_loss(z, csq_targets(batch.labels, self.centers, self.tie_break).to(z), lam=self.lam)


# ===========================================================================================
# DSDH (Li, Sun, He, Tan, NeurIPS 2017)
# ===========================================================================================

def dsdh_update_w(B: torch.Tensor, Y: torch.Tensor, mu: float, nu: float) -> torch.Tensor:
    """W-step, closed form: ``W = (B Bᵀ + (ν/μ) I)^{-1} B Yᵀ`` (B: L×n codes, Y: C×n labels) ->
    (L, C), the minimiser of ``μ||Y - Wᵀ B||² + ν||W||²``."""
    L = B.shape[0]
    A = B.double() @ B.double().t() + (nu / mu) * torch.eye(L, dtype=torch.float64, device=B.device)
    return torch.linalg.solve(A, B.double() @ Y.double().t()).to(B.dtype)


def dsdh_update_b(B: torch.Tensor, U: torch.Tensor, Y: torch.Tensor, W: torch.Tensor, mu: float,
                  eta: float, sweeps: int = 1) -> torch.Tensor:
    """B-step by discrete cyclic coordinate descent on ``μ||Y - Wᵀ B||² + η||B - U||²``, b ∈ {-1,+1}:
    bit k (row k of B) is set to ``sgn(q_k - μ B'ᵀ W' w_k)`` with Q = μ W Y + η U and B', W' without
    row k. Columns (images) are independent, so any subset of columns can be updated alone."""
    B = B.clone()
    Q = mu * (W @ Y) + eta * U
    L = B.shape[0]
    others = _other_rows(L, B.device)
    # W is fixed during the B-step: W' w_k once per bit, not once per bit and sweep
    wk_proj = [W.index_select(0, others[k]) @ W[k] for k in range(L)]
    for _ in range(int(sweeps)):
        for k in range(L):
            Bp = B.index_select(0, others[k])
            B[k] = _sgn(Q[k] - mu * (Bp.t() @ wk_proj[k]))
    return B


_OTHER_ROWS: Dict[Tuple[int, str], Tuple[torch.Tensor, ...]] = {}


def _other_rows(L: int, device) -> Tuple[torch.Tensor, ...]:
    """For each bit k, the indices of the other L - 1 rows (cached per L and device)."""
    key = (int(L), str(device))
    if key not in _OTHER_ROWS:
        full = torch.arange(L, device=device)
        _OTHER_ROWS[key] = tuple(full[full != k] for k in range(L))
    return _OTHER_ROWS[key]


def dsdh_objective(B, U, Y, W, mu, nu, eta) -> float:
    """The part of DSDH's objective that the W/B steps minimise (for tests)."""
    return float(mu * (Y - W.t() @ B).pow(2).sum() + nu * W.pow(2).sum() + eta * (B - U).pow(2).sum())


def dsdh_loss(u: torch.Tensor, labels: torch.Tensor, b: torch.Tensor, u_other: Optional[torch.Tensor] = None,
              labels_other: Optional[torch.Tensor] = None, eta: float = 55.0,
              workspace: Optional[LikelihoodWorkspace] = None) -> Tuple[torch.Tensor, Terms]:
    """The network's part of DSDH: the DPSH likelihood on Θ = ½ u_iᵀu_j plus ``η Σ_i ||b_i - u_i||²``
    with b the current discrete codes (normalised as :func:`dpsh_loss`; ``workspace`` as there)."""
    other, lab_other, batch_mode = _others(u, labels, u_other, labels_other)
    n = u.shape[0]
    j1, n_pairs, orient = _likelihood(u, labels, other, lab_other, batch_mode, workspace)
    j2 = (b.detach().to(u) - u).pow(2).sum(dim=1).mean()
    w = sum_form_weight(eta, n, n_pairs, orient)
    return j1 + w * j2, {"likelihood": float(j1.detach()), "coupling": float(j2.detach()), "coupling_weight": w}


class DSDHCriterion:
    """DSDH's alternating optimisation inside the trainer's steps.

    Per step: write the batch's (detached) u and labels into the memory; W-step on every image
    seen so far; B-step (DCC) for the batch's columns (exact for them: columns are independent);
    then the network loss :func:`dsdh_loss` against the memory. The paper alternates the same three
    blocks (network, W, B); doing W and B every step instead of every epoch is a finer schedule of
    the same block coordinate descent. ``mu``, ``nu``, ``eta`` as in the paper's objective
    ``-Σ(sΘ - log(1+e^Θ)) + μ Σ||y_i - Wᵀb_i||² + ν||W||² + η Σ||bᵢ - uᵢ||²``.

    The W-step needs ``B Bᵀ`` and ``B Yᵀ`` over the images seen so far; B is ±1 and Y 0/1, so both
    are integer matrices, kept up to date column by column in float64 (exact: every partial sum
    is an integer below 2⁵³), which gives the same W as recomputing them over all n columns.
    """

    def __init__(self, n_train: int, bits: int, num_classes: int, mu: float = 1.0, nu: float = 0.1,
                 eta: float = 55.0, dcc_sweeps: int = 1):
        self.mu, self.nu, self.eta, self.sweeps = float(mu), float(nu), float(eta), int(dcc_sweeps)
        self.num_classes = int(num_classes)
        self.memory = CodeMemory(n_train, bits)
        self.B = torch.ones(bits, n_train)
        self.Y = torch.zeros(num_classes, n_train)
        self.W = torch.zeros(bits, num_classes)
        # Σ over filled columns of b bᵀ and b yᵀ (exact integers)
        self._bbt = torch.zeros(bits, bits, dtype=torch.float64)
        self._byt = torch.zeros(bits, num_classes, dtype=torch.float64)
        self.workspace = LikelihoodWorkspace()
        self._moved = False

    def _onehot(self, labels: torch.Tensor) -> torch.Tensor:
        if labels.dim() == 2:
            return (labels > 0).float()
        return F.one_hot(labels.long(), self.num_classes).float()

    def _gram(self, cols: torch.Tensor, sign: float) -> None:
        """Add (sign = +1) or remove (-1) the columns ``cols`` from ``B Bᵀ`` and ``B Yᵀ``."""
        if cols.numel() == 0:
            return
        b, y = self.B[:, cols].double(), self.Y[:, cols].double()
        self._bbt.add_(b @ b.t(), alpha=sign)
        self._byt.add_(b @ y.t(), alpha=sign)

    def __call__(self, output, batch):
        u, labels, index = output.u, batch.labels, batch.index
        if not self._moved:
            dev = u.device
            self.memory.to(dev)
            self.B, self.Y, self.W = self.B.to(dev), self.Y.to(dev), self.W.to(dev)
            self._bbt, self._byt = self._bbt.to(dev), self._byt.to(dev)
            self._moved = True
        idx = torch.as_tensor(index, device=u.device).long().view(-1)
        # repeated indices: last write wins in B / Y, so column-wise bookkeeping would double count
        incremental = idx.unique().numel() == idx.numel()
        new = ~self.memory.filled[idx]
        if incremental:
            self._gram(idx[~new], -1.0)
        if bool(new.any()):  # an image's discrete code starts at sgn(u) the first time it is seen
            self.B[:, idx[new]] = _sgn(u.detach()[new]).t().to(self.B)
        self.memory.update(idx, u, labels)
        self.Y[:, idx] = self._onehot(labels).t().to(self.Y)
        with torch.no_grad():
            if incremental:
                self._gram(idx, 1.0)
            else:
                self._recount()
            self.W = self._solve_w()
            if incremental:
                self._gram(idx, -1.0)
            self.B[:, idx] = dsdh_update_b(self.B[:, idx], u.detach().t().to(self.B), self.Y[:, idx], self.W,
                                           self.mu, self.eta, self.sweeps)
            if incremental:
                self._gram(idx, 1.0)
            else:
                self._recount()
            reg = float((self.Y[:, idx] - self.W.t() @ self.B[:, idx]).pow(2).sum(dim=0).mean())
        mu_, ml_ = self.memory.get()
        loss, terms = dsdh_loss(u, labels, self.B[:, idx].t(), mu_, ml_, eta=self.eta, workspace=self.workspace)
        terms["label_regression"] = reg
        return loss, terms

    def _recount(self) -> None:
        filled = self.memory.filled
        b, y = self.B[:, filled].double(), self.Y[:, filled].double()
        self._bbt, self._byt = b @ b.t(), b @ y.t()

    def _solve_w(self) -> torch.Tensor:
        """:func:`dsdh_update_w` on the filled columns, from the kept ``B Bᵀ`` and ``B Yᵀ``."""
        L = self._bbt.shape[0]
        A = self._bbt + (self.nu / self.mu) * torch.eye(L, dtype=torch.float64, device=self._bbt.device)
        return torch.linalg.solve(A, self._byt).to(self.B.dtype)
