"""Shallow hashing baselines: LSH, PCAH, ITQ, SH, SDH, KSH (numpy / scikit-learn / scipy).

Every method is a small class with scikit-learn-style ``fit(X, labels=None, bits=32, seed=0)``
(returns ``self``) and ``encode(X) -> int8 {-1,+1}`` codes; all randomness comes from
``numpy.random.default_rng(seed)``, so equal inputs and seed give equal codes. Hyper-parameters
are constructor arguments (defaults from the methods' papers / released code, docs/decisions.md
"Baselines"). They are registered in :mod:`hashlib_core.methods.shallow` and run by
:func:`hashlib_core.runner.run` on image descriptors (:mod:`hashlib_core.baselines.features`), cached
like every run, so tables treat shallow and deep rows alike.

* **LSH** (Charikar 2002 random hyperplanes, as used in the hashing benchmarks): ``sign((x-m)ᵀW)``,
  W Gaussian.
* **PCAH**: ``sign`` of the top-``bits`` principal components.
* **ITQ** (Gong & Lazebnik, CVPR 2011): PCA to ``bits`` dims, then 50 alternations of
  ``B = sign(VR)`` and the orthogonal Procrustes rotation R minimising ``||B - VR||_F``.
* **SH** (Weiss, Torralba, Fergus, NIPS 2008): PCA, a uniform distribution on each principal
  direction's range, the analytical 1-D Laplacian eigenfunctions ``sin(π/2 + kπ(x-a)/(b-a))``,
  the ``bits`` with the smallest eigenvalues ``(kπ/(b-a))²`` (k ≥ 1).
* **SDH** (Shen, Shen, Liu, Shen, CVPR 2015): RBF features on 1,000 anchors, alternating the
  regression of B on the features (F-step), the label regression W (G-step) and discrete cyclic
  coordinate descent on B (B-step); λ = 1, ν = 1e-5, 5 outer iterations.
* **KSH** (Liu, Wang, Ji, Jiang, Chang, CVPR 2012): zero-mean RBF kernel features on 300 anchors,
  l = 2,000 labelled training images; bit by bit, spectral initialisation of the projection from
  the generalised eigenproblem, then L-BFGS on the sigmoid-smoothed code-inner-product fit to the
  residual ``R = r·S - Σ b bᵀ``; the better of the two (by the discrete objective) is kept.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from hashlib_core import codes as codes_mod
from hashlib_core.codes import sign_like as _sgn

__all__ = ["LSH", "PCAH", "ITQ", "SH", "SDH", "KSH", "SHALLOW", "make_shallow", "hyper_parameters"]


def _as2d(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be (n, d), got shape {X.shape}")
    return X


def _label_matrix(labels, num_classes: Optional[int] = None) -> np.ndarray:
    """(n, C) float one-hot (1-D class ids) or multi-hot (2-D) label matrix."""
    y = np.asarray(labels)
    if y.ndim == 2:
        return (y > 0).astype(np.float64)
    if y.ndim != 1:
        raise ValueError("labels must be 1-D class ids or 2-D multi-hot")
    c = int(num_classes or (y.max() + 1))
    out = np.zeros((len(y), c))
    out[np.arange(len(y)), y.astype(np.int64)] = 1.0
    return out


def _similar(labels) -> np.ndarray:
    """(n, n) bool: share a class (1-D) or at least one label (2-D)."""
    y = np.asarray(labels)
    if y.ndim == 1:
        return y[:, None] == y[None, :]
    yb = (y > 0).astype(np.float32)
    return (yb @ yb.T) > 0


def _pca(Xc: np.ndarray, k: int) -> np.ndarray:
    """Top-``k`` principal directions (d, k) of centred data: eigenvectors of the d×d covariance
    (``numpy.linalg.eigh``; much faster here than an SVD of the n×d data), each with its
    largest-magnitude entry made positive (scikit-learn's ``svd_flip`` convention) so the result
    is deterministic."""
    n, d = Xc.shape
    if k > min(n, d):
        raise ValueError(f"{k} principal components requested from data of shape {Xc.shape}")
    vals, vecs = np.linalg.eigh(Xc.T @ Xc / max(n - 1, 1))
    P = vecs[:, np.argsort(vals)[::-1][:k]]
    signs = np.sign(P[np.abs(P).argmax(axis=0), np.arange(k)])
    return P * np.where(signs == 0, 1.0, signs)


def _sqdist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    d = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
    return np.maximum(d, 0.0)


class ShallowHash:
    """Base class: ``fit`` centres the data (training mean) and calls ``_fit``; ``encode`` projects."""

    name = "shallow"
    supervised = False

    def fit(self, X, labels=None, bits: int = 32, seed: int = 0) -> "ShallowHash":
        X = _as2d(X)
        if self.supervised and labels is None:
            raise ValueError(f"{self.name} is supervised: pass labels")
        if bits < 1:
            raise ValueError(f"bits must be >= 1, got {bits}")
        self.bits = int(bits)
        self.seed = int(seed)
        self.mean_ = X.mean(axis=0)
        self._fit(X - self.mean_, labels, np.random.default_rng(self.seed))
        return self

    def _fit(self, Xc, labels, rng) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def project(self, X) -> np.ndarray:
        """Real-valued outputs whose sign is the code."""
        raise NotImplementedError

    def outputs(self, X, batch: int = 8192) -> np.ndarray:
        """``project`` in batches of ``batch`` rows: the continuous outputs a quantizer sees."""
        X = _as2d(X)
        out = [self.project(X[s:s + batch]) for s in range(0, len(X), batch)]
        return np.concatenate(out) if out else np.zeros((0, self.bits))

    def encode(self, X, batch: int = 8192) -> np.ndarray:
        """int8 {-1,+1} codes: ``sign`` of :meth:`outputs`."""
        return codes_mod.sign(self.outputs(X, batch)).astype(np.int8)


class _Linear(ShallowHash):
    def project(self, X) -> np.ndarray:
        return (_as2d(X) - self.mean_) @ self.W_


class LSH(_Linear):
    name = "lsh"

    def _fit(self, Xc, labels, rng):
        self.W_ = rng.standard_normal((Xc.shape[1], self.bits))


class PCAH(_Linear):
    name = "pcah"

    def _fit(self, Xc, labels, rng):
        self.W_ = _pca(Xc, self.bits)


class ITQ(_Linear):
    """Iterative quantization; ``loss_history_[t] = ||sign(VR_t) - VR_t||²_F`` before update t+1."""

    name = "itq"

    def __init__(self, n_iter: int = 50):
        self.n_iter = int(n_iter)

    def _fit(self, Xc, labels, rng):
        P = _pca(Xc, self.bits)
        V = Xc @ P
        R, _ = np.linalg.qr(rng.standard_normal((self.bits, self.bits)))
        history = []
        for _ in range(self.n_iter):
            Z = V @ R
            B = _sgn(Z)
            history.append(float(((B - Z) ** 2).sum()))
            # orthogonal Procrustes: R = argmin ||B - V R||, R orthogonal -> R = U Wᵀ from svd(Vᵀ B)
            U, _, Wt = np.linalg.svd(V.T @ B)
            R = U @ Wt
        Z = V @ R
        history.append(float(((_sgn(Z) - Z) ** 2).sum()))
        self.loss_history_ = np.asarray(history)
        self.W_ = P @ R


class SH(ShallowHash):
    name = "sh"

    def _fit(self, Xc, labels, rng):
        npca = min(self.bits, Xc.shape[1], Xc.shape[0])
        self.pc_ = _pca(Xc, npca)
        V = Xc @ self.pc_
        eps = np.finfo(float).eps
        self.mn_ = V.min(axis=0) - eps
        self.mx_ = V.max(axis=0) + eps
        r = self.mx_ - self.mn_
        max_mode = np.ceil((self.bits + 1) * r / r.max()).astype(int)
        modes = [(k * np.pi / r[j]) ** 2 for j in range(npca) for k in range(1, max_mode[j] + 1)]
        dims = [j for j in range(npca) for k in range(1, max_mode[j] + 1)]
        ks = [k for j in range(npca) for k in range(1, max_mode[j] + 1)]
        order = np.argsort(np.asarray(modes), kind="stable")[: self.bits]
        if len(order) < self.bits:
            raise ValueError(f"SH: only {len(order)} modes available for {self.bits} bits")
        self.dims_ = np.asarray(dims)[order]
        self.ks_ = np.asarray(ks)[order]

    def project(self, X) -> np.ndarray:
        V = (_as2d(X) - self.mean_) @ self.pc_
        t = (V[:, self.dims_] - self.mn_[self.dims_]) / (self.mx_ - self.mn_)[self.dims_]
        return np.sin(np.pi / 2 + self.ks_ * np.pi * t)


class _Kernel(ShallowHash):
    """RBF features on anchors drawn from the training set: ``exp(-||x - a||² / (2σ²))``,
    σ² = mean squared training-to-anchor distance."""

    supervised = True

    def _kernel_setup(self, Xc, rng, n_anchors):
        m = min(int(n_anchors), len(Xc))
        self.anchors_ = Xc[np.sort(rng.choice(len(Xc), m, replace=False))]
        D = _sqdist(Xc, self.anchors_)
        self.sigma2_ = float(D.mean())
        return np.exp(-D / (2 * self.sigma2_))

    def _kernel(self, X) -> np.ndarray:
        Xc = _as2d(X) - self.mean_
        return np.exp(-_sqdist(Xc, self.anchors_) / (2 * self.sigma2_))


class SDH(_Kernel):
    name = "sdh"

    def __init__(self, n_anchors: int = 1000, lam: float = 1.0, nu: float = 1e-5, n_iter: int = 5,
                 dcc_sweeps: int = 3, ridge: float = 1e-3):
        self.n_anchors, self.lam, self.nu = int(n_anchors), float(lam), float(nu)
        self.n_iter, self.dcc_sweeps, self.ridge = int(n_iter), int(dcc_sweeps), float(ridge)

    def _fit(self, Xc, labels, rng):
        Phi = self._kernel_setup(Xc, rng, self.n_anchors)
        self.phi_mean_ = Phi.mean(axis=0)
        Phi = Phi - self.phi_mean_
        Y = _label_matrix(labels)
        L = self.bits
        B = _sgn(rng.standard_normal((len(Xc), L)))
        G = Phi.T @ Phi
        G[np.diag_indices_from(G)] += self.ridge * max(np.trace(G) / len(G), 1e-12)
        Ginv_PhiT = np.linalg.solve(G, Phi.T)
        for _ in range(self.n_iter):
            P = Ginv_PhiT @ B                                    # F-step: B ≈ Φ P
            W = np.linalg.solve(B.T @ B + self.lam * np.eye(L), B.T @ Y)  # G-step: Y ≈ B W
            Q = Y @ W.T + self.nu * (Phi @ P)                    # B-step: min ||Y - BW||² + ν||B - ΦP||²
            for _ in range(self.dcc_sweeps):
                for k in range(L):
                    keep = np.arange(L) != k
                    B[:, k] = _sgn(Q[:, k] - B[:, keep] @ (W[keep] @ W[k]))
        self.P_ = Ginv_PhiT @ B
        self.W_cls_ = W

    def project(self, X) -> np.ndarray:
        return (self._kernel(X) - self.phi_mean_) @ self.P_


class KSH(_Kernel):
    name = "ksh"

    def __init__(self, n_anchors: int = 300, n_labelled: int = 2000, max_iter: int = 100, ridge: float = 1e-4):
        self.n_anchors, self.n_labelled = int(n_anchors), int(n_labelled)
        self.max_iter, self.ridge = int(max_iter), float(ridge)

    def _fit(self, Xc, labels, rng):
        from scipy.linalg import eigh
        from scipy.optimize import minimize

        labels = np.asarray(labels)
        l = min(self.n_labelled, len(Xc))
        sel = np.sort(rng.choice(len(Xc), l, replace=False))
        K_all = self._kernel_setup(Xc, rng, self.n_anchors)
        self.k_mean_ = K_all.mean(axis=0)
        K = K_all[sel] - self.k_mean_                     # (l, m) zero-mean kernel features
        # S (l, l) = +1 similar / -1 dissimilar, applied as an operator: for class ids
        # S = 2 Y Yᵀ - 1 1ᵀ (Y one-hot) is exact and avoids the dense l×l matrix.
        if labels.ndim == 1:
            Y = _label_matrix(labels[sel])
            s_mv = lambda v: 2.0 * (Y @ (Y.T @ v)) - v.sum(axis=0)  # noqa: E731
        else:
            S = np.where(_similar(labels[sel]), 1.0, -1.0)
            s_mv = lambda v: S @ v  # noqa: E731
        r = float(self.bits)
        KSK = K.T @ s_mv(K)
        KK = K.T @ K
        KK[np.diag_indices_from(KK)] += self.ridge * max(np.trace(KK) / len(KK), 1e-12)
        A = np.zeros((K.shape[1], self.bits))
        Bprev = np.zeros((l, 0))
        # residual R_k = r S - Σ_{t<k} b_t b_tᵀ, applied as r S v - Bprev (Bprevᵀ v)
        r_mv = lambda v: r * s_mv(v) - Bprev @ (Bprev.T @ v)  # noqa: E731
        for k in range(self.bits):
            C = K.T @ Bprev
            M = r * KSK - C @ C.T
            M = 0.5 * (M + M.T)
            m = len(M)
            _, vecs = eigh(M, KK, subset_by_index=[m - 1, m - 1])  # top generalised eigenvector only
            a0 = vecs[:, -1]
            a0 = a0 * np.sqrt(l / max(a0 @ KK @ a0, 1e-12))

            def f(a):
                phi = np.tanh(0.5 * (K @ a))              # 2/(1+e^{-x}) - 1
                Rphi = r_mv(phi)
                return -phi @ Rphi, -K.T @ (Rphi * (1 - phi ** 2))  # value, gradient of -phiᵀ R phi

            res = minimize(f, a0, jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter})
            cands = [a0, res.x]
            scores = [float(b @ r_mv(b)) for b in (_sgn(K @ a) for a in cands)]
            a = cands[int(np.argmax(scores))]
            Bprev = np.concatenate([Bprev, _sgn(K @ a)[:, None]], axis=1)
            A[:, k] = a
        self.A_ = A

    def project(self, X) -> np.ndarray:
        return (self._kernel(X) - self.k_mean_) @ self.A_


SHALLOW: Dict[str, type] = {"lsh": LSH, "pcah": PCAH, "itq": ITQ, "sh": SH, "sdh": SDH, "ksh": KSH}


def make_shallow(name: str, **params) -> ShallowHash:
    if name not in SHALLOW:
        raise ValueError(f"unknown shallow method {name!r}; known: {sorted(SHALLOW)}")
    return SHALLOW[name](**params)


def hyper_parameters(name: str) -> Dict[str, Any]:
    """The constructor defaults of shallow method ``name`` (what its registered defaults hold)."""
    import inspect

    sig = inspect.signature(SHALLOW[name].__init__)
    return {k: p.default for k, p in sig.parameters.items() if k != "self" and p.default is not p.empty}
