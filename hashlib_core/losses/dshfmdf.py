"""DSHFMDF objective (paper 000, §3.3): J = J1 + beta * J2 + gamma * J3.

* J1 (eq. 1-2), pairwise likelihood loss of DPSH (Li et al. 2016):
  ``-sum_ij (s_ij w_ij - log(1 + e^{w_ij}))``, ``w_ij = 1/2 u_i^T u_j`` on the *continuous* codes u.
  Computed as ``softplus(w) - s * w`` (no overflow for long codes / large |u|).  Pairs are either
  within the mini-batch (i != j) or the mini-batch against a memory of the latest codes of all
  training images (:class:`CodeMemory`, DPSH's U matrix).
* J2 (eq. 3), quantization: ``||sgn(u) - u||^2`` summed over bits (``sgn(0) = +1``).
* J3 (eq. 4), classification: softmax cross-entropy for single-label integer targets,
  sigmoid BCE-with-logits for multi-hot targets.

The paper *sums* J1 over pairs and J2, J3 over images.  :class:`DSHFMDFLoss` (``form="sum"``, the
default) optimises that sum-form objective over the pairs available at the step, divided by the
number of pairs P (a positive factor, so the gradient direction is the sum form's):
``mean_pairs(J1) + beta*B/(o*P) * mean_batch(J2) + gamma*B/(o*P) * mean_batch(J3)``, B the batch
size, o = 2 against a detached memory (both orientations of a pair carry gradient in the full sum,
the memory side does not here), o = 1 for ordered within-batch pairs -- the conversion the DPSH /
DSDH baselines use (:func:`sum_form_weight`).  ``form="mean"`` is the earlier reading (each term a
plain mean, beta / gamma applied to the means), kept to reproduce old results.  docs/decisions.md,
"Sum-form objective".

Label conventions everywhere: a 1-D integer tensor is single-label; a 2-D (N, K) tensor is multi-hot
(two samples are similar when they share at least one label).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from hashlib_core.codes import sign_like as _sgn

__all__ = [
    "similarity_matrix",
    "pairwise_likelihood_loss",
    "quantization_loss",
    "classification_loss",
    "DSHFMDFLoss",
    "CodeMemory",
    "sum_form_weight",
    "LOSS_FORMS",
    "PAPER_BETA",
    "PAPER_GAMMA",
]

#: paper 000 §4.2 "0.01 to alpha and 0.1 to beta" read as the weights of J2 and J3 in eq. (5)
PAPER_BETA = 0.01
PAPER_GAMMA = 0.1

#: ``"sum"``: paper 000's eqs. (2)-(4) as written (sums); ``"mean"``: every term a plain mean
LOSS_FORMS = ("sum", "mean")


def sum_form_weight(weight: float, n_images: int, n_pairs: int, orientations: int) -> float:
    """The weight a per-image-mean term gets beside a per-pair-mean J1 so that the total is the
    sum-form objective ``sum_pairs(l) + weight * sum_images(q)`` divided by the pair count:
    ``weight * n_images / (orientations * n_pairs)``.

    ``orientations``: 2 when the pairs are the batch against a detached memory (in the full sum
    both orientations of every pair carry gradient, here only one does), 1 for ordered
    within-batch pairs (both orientations are already among the pairs).  ``n_pairs`` below 1 is
    taken as 1 (a batch of one image has no pairs).
    """
    if orientations not in (1, 2):
        raise ValueError(f"orientations must be 1 (within-batch pairs) or 2 (against a memory), got {orientations!r}")
    if n_images < 0 or n_pairs < 0:
        raise ValueError(f"n_images and n_pairs must be >= 0, got {n_images}, {n_pairs}")
    return float(weight) * n_images / (orientations * max(int(n_pairs), 1))


def _is_multi_hot(labels: torch.Tensor) -> bool:
    if labels.dim() == 1:
        return False
    if labels.dim() == 2:
        return True
    raise ValueError(f"labels must be 1-D class indices or 2-D multi-hot, got shape {tuple(labels.shape)}")


def similarity_matrix(labels: torch.Tensor, labels_other: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``S[i, j] = 1`` if sample i of ``labels`` and sample j of ``labels_other`` are similar, as float.

    Single-label (1-D ints): same class.  Multi-hot (2-D): share at least one label.
    """
    other = labels if labels_other is None else labels_other
    if _is_multi_hot(labels) != _is_multi_hot(other):
        raise ValueError("labels and labels_other must use the same format (both 1-D or both 2-D)")
    if _is_multi_hot(labels):
        a = (labels > 0).to(torch.float32)
        b = (other > 0).to(torch.float32)
        return (a @ b.t() > 0).to(torch.float32)
    return (labels.view(-1, 1) == other.view(1, -1)).to(torch.float32)


def pairwise_likelihood_loss(
    u: torch.Tensor,
    labels: torch.Tensor,
    u_other: Optional[torch.Tensor] = None,
    labels_other: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """J1 of paper 000 (eq. 2), mean over pairs.

    Args:
        u: (N, L) continuous codes (gradients flow through these).
        labels: (N,) ints or (N, K) multi-hot.
        u_other / labels_other: (M, L) / (M,) or (M, K) codes and labels to pair against
            (e.g. :class:`CodeMemory` contents; treated as constants, i.e. detached).  When omitted
            the pairs are all ordered pairs (i, j), i != j, of the mini-batch.

    Returns:
        scalar ``mean_{pairs} [ log(1 + e^{w_ij}) - s_ij w_ij ]`` with ``w_ij = u_i^T u_j / 2``.
        (The paper's J1 is the *sum*; :class:`DSHFMDFLoss` restores the sum form's balance of the
        terms through :func:`sum_form_weight`.)
    """
    if u.dim() != 2:
        raise ValueError(f"u must be (N, L), got {tuple(u.shape)}")
    if (u_other is None) != (labels_other is None):
        raise ValueError("pass u_other and labels_other together")
    if u_other is None:
        n = u.shape[0]
        if n < 2:
            return u.sum() * 0.0
        w = 0.5 * (u @ u.t())
        s = similarity_matrix(labels).to(w.dtype)
        off = ~torch.eye(n, dtype=torch.bool, device=u.device)
        loss = F.softplus(w) - s * w
        return loss[off].mean()
    if u_other.shape[0] == 0:
        return u.sum() * 0.0
    w = 0.5 * (u @ u_other.detach().to(device=u.device, dtype=u.dtype).t())
    s = similarity_matrix(labels, labels_other.to(labels.device)).to(w.dtype)
    return (F.softplus(w) - s * w).mean()


def quantization_loss(u: torch.Tensor) -> torch.Tensor:
    """J2 of paper 000 (eq. 3): ``||sgn(u) - u||^2`` summed over bits, mean over the batch; sgn(0)=+1."""
    if u.shape[0] == 0:
        return u.sum() * 0.0
    return (_sgn(u).detach() - u).pow(2).sum(dim=1).mean()


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, multi_label: Optional[bool] = None,
                        over_labels: str = "mean") -> torch.Tensor:
    """J3 of paper 000 (eq. 4), mean over the batch.

    Single-label (1-D integer ``labels``): softmax cross-entropy.  Multi-hot (2-D ``labels``):
    ``binary_cross_entropy_with_logits``, per image averaged (``over_labels="mean"``) or summed
    (``"sum"``, eq. (4)'s sum over k) over the K labels, then averaged over the batch.
    ``multi_label`` overrides the shape-based choice (``False`` with 2-D one-hot labels uses
    cross-entropy on their argmax).
    """
    if over_labels not in ("mean", "sum"):
        raise ValueError(f"over_labels must be 'mean' or 'sum', got {over_labels!r}")
    ml = _is_multi_hot(labels) if multi_label is None else bool(multi_label)
    if ml:
        if labels.dim() != 2:
            raise ValueError("multi-label classification needs (N, K) multi-hot labels")
        if over_labels == "mean":
            return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
        bce = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none")
        return bce.sum(dim=1).mean()
    if labels.dim() == 2:
        labels = labels.argmax(dim=1)
    return F.cross_entropy(logits, labels.long())


class CodeMemory:
    """DPSH-style memory of the latest continuous code (and label) of every training image.

    ``update(index, u, labels)`` writes detached rows; ``get()`` returns ``(u, labels)`` of the rows
    written so far (unwritten rows would only add constant ``log 2`` terms and dilute the mean).
    """

    def __init__(self, n_train: int, bits: int, device=None, dtype=torch.float32) -> None:
        self.n_train = int(n_train)
        self.bits = int(bits)
        self.u = torch.zeros(self.n_train, self.bits, device=device, dtype=dtype)
        self.labels: Optional[torch.Tensor] = None
        self.filled = torch.zeros(self.n_train, dtype=torch.bool, device=device)

    @torch.no_grad()
    def update(self, index: torch.Tensor, u: torch.Tensor, labels: torch.Tensor) -> None:
        index = torch.as_tensor(index, device=self.u.device).long().view(-1)
        if u.shape != (index.numel(), self.bits):
            raise ValueError(f"u must be ({index.numel()}, {self.bits}), got {tuple(u.shape)}")
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
        # the same rows in the same order as u[filled], 3x faster than boolean indexing (issue 17)
        rows = self.filled.nonzero().squeeze(1)
        return self.u.index_select(0, rows), self.labels.index_select(0, rows)

    def to(self, device) -> "CodeMemory":
        self.u = self.u.to(device)
        self.filled = self.filled.to(device)
        if self.labels is not None:
            self.labels = self.labels.to(device)
        return self

    def __len__(self) -> int:
        return int(self.filled.sum())


class DSHFMDFLoss(nn.Module):
    """``J = J1 + beta * J2 + gamma * J3`` (paper 000 eq. 5).

    Defaults ``beta = 0.01`` (quantization) and ``gamma = 0.1`` (classification): §4.2's
    "0.01 to alpha and 0.1 to beta" in the order the weights appear in eq. (5).

    ``form="sum"`` (default): the paper's sums (J1 over pairs, J2 and J3 over images, J3 over the
    labels of a multi-hot target too), divided by the step's pair count P, i.e. beta and gamma
    act through ``sum_form_weight`` (``beta*B/(o*P)``); ``form="mean"``: every term a plain mean
    and beta / gamma applied to the means (the earlier reading; reproduces old results exactly).

    ``forward(output, labels, memory=None, index=None)``: ``output`` is a ``HashOutput(u, logits)``.
    With a :class:`CodeMemory` ``memory``, J1 pairs the batch against the memory (DPSH); when
    ``index`` (the batch's training-set indices) is also given, the memory is first updated with
    this batch's detached codes, exactly as DPSH refreshes U before computing the loss.  Without
    ``memory``, J1 uses the pairs inside the mini-batch.  Returns ``(total, terms)``: ``j1`` (mean
    over pairs), ``j2``, ``j3`` (means over the batch) and ``beta_eff``, ``gamma_eff``, the weights
    that multiplied ``j2`` and ``j3`` in ``total`` at this step.
    """

    def __init__(self, beta: float = PAPER_BETA, gamma: float = PAPER_GAMMA, multi_label: Optional[bool] = None,
                 form: str = "sum") -> None:
        super().__init__()
        if form not in LOSS_FORMS:
            raise ValueError(f"DSHFMDFLoss form must be one of {LOSS_FORMS}, got {form!r}")
        self.beta = float(beta)
        self.gamma = float(gamma)
        self.multi_label = multi_label
        self.form = form

    def forward(
        self,
        output,
        labels: torch.Tensor,
        memory: Optional[CodeMemory] = None,
        index: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, Dict[str, float]]:
        u, logits = output[0], output[1]
        n = u.shape[0]
        mu, ml = None, None
        if memory is not None:
            if index is not None:
                memory.update(index, u, labels)
            mu, ml = memory.get()
        if ml is not None:
            j1 = pairwise_likelihood_loss(u, labels, mu, ml)
            n_pairs, orientations = n * mu.shape[0], 2
        else:
            j1 = pairwise_likelihood_loss(u, labels)
            n_pairs, orientations = n * (n - 1), 1
        j2 = quantization_loss(u)
        over_labels = "sum" if self.form == "sum" else "mean"
        j3 = (classification_loss(logits, labels, self.multi_label, over_labels=over_labels)
              if logits is not None else u.sum() * 0.0)
        if self.form == "sum":
            beta_eff = sum_form_weight(self.beta, n, n_pairs, orientations)
            gamma_eff = sum_form_weight(self.gamma, n, n_pairs, orientations)
        else:
            beta_eff, gamma_eff = self.beta, self.gamma
        total = j1
        if beta_eff != 0.0:
            total = total + beta_eff * j2
        if gamma_eff != 0.0:
            total = total + gamma_eff * j3
        return total, {"j1": float(j1.detach()), "j2": float(j2.detach()), "j3": float(j3.detach()),
                       "beta_eff": beta_eff, "gamma_eff": gamma_eff}

    def extra_repr(self) -> str:
        return f"beta={self.beta}, gamma={self.gamma}, form={self.form!r}"
