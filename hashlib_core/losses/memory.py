"""The other side of a pairwise loss: the mini-batch itself, or a memory of every training code.

DPSH pairs each mini-batch with the latest code of *every* training image (its U matrix); DSHFMDF's
J1 and several baselines offer the same choice. :class:`MemoryPairs` is that choice in one place:
``pairs="memory"`` keeps a :class:`~hashlib_core.losses.dshfmdf.CodeMemory` (moved to the batch's
device on first use, refreshed with the batch's detached codes before they are paired),
``pairs="batch"`` pairs the batch with itself.

:func:`memory_likelihood_loss` is J1 (:func:`~hashlib_core.losses.dshfmdf.pairwise_likelihood_loss`)
against a memory, bit for bit (value and gradient), at a fraction of the cost: the (B, M) pair
matrices live in a reused :class:`LikelihoodWorkspace` instead of ten fresh 4·B·M-byte tensors a
step, the similarity rows of single-label data are gathered from a per-class table, and the
backward pass is autograd's own sequence of kernels without its temporaries (issue 17,
docs/decisions.md "Memory-bank speed").
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
from torch.autograd.function import once_differentiable

from hashlib_core.losses.dshfmdf import CodeMemory, similarity_matrix

__all__ = ["MemoryPairs", "PAIRS", "LikelihoodWorkspace", "memory_likelihood_loss"]

PAIRS = ("memory", "batch")

# F.softplus's defaults, which the old autograd path used
_BETA, _THRESHOLD = 1.0, 20.0


class LikelihoodWorkspace:
    """Reusable (B, M) buffers of one memory-bank loss, and its per-class similarity table.

    One workspace serves one criterion: a step's backward must run before the next step's
    forward overwrites the buffers (the trainer's order); a stale backward raises instead of
    returning a wrong gradient.
    """

    def __init__(self) -> None:
        self._buffers: Dict[str, torch.Tensor] = {}
        self.step = 0
        # single-label similarity table: (memory labels it was built from, classes, (C, M) float rows)
        self._table: Optional[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = None

    def buffer(self, name: str, shape, like: torch.Tensor) -> torch.Tensor:
        need = _numel(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.dtype != like.dtype or buf.device != like.device or buf.numel() < need:
            # while the memory fills, M grows every step: grow by half at least, not once a step
            size = need if buf is None else max(need, buf.numel() * 3 // 2)
            buf = torch.empty(size, dtype=like.dtype, device=like.device)
            self._buffers[name] = buf
        return buf[:need].view(shape)

    def similarity(self, labels: torch.Tensor, labels_other: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """``similarity_matrix(labels, labels_other)`` (exact {0, 1} values) in a reused buffer."""
        out = self.buffer("s", (labels.shape[0], labels_other.shape[0]), torch.empty(0, dtype=dtype,
                                                                                   device=labels_other.device))
        if labels.dim() != 1 or labels_other.dim() != 1:  # multi-hot: no class table
            out.copy_(similarity_matrix(labels, labels_other))
            return out
        t = self._table
        # the memory's labels change while it fills (and could be rewritten in place): compare contents
        if t is None or t[2].dtype != dtype or not (t[0].shape == labels_other.shape and torch.equal(t[0], labels_other)):
            classes = torch.unique(labels_other)
            rows = (classes.view(-1, 1) == labels_other.view(1, -1)).to(dtype)
            t = self._table = (labels_other.clone(), classes, rows)
        _, classes, rows = t
        pos = torch.searchsorted(classes, labels.to(classes.dtype))
        pos = pos.clamp_max(classes.numel() - 1)
        found = classes[pos] == labels.to(classes.dtype)
        if bool(found.all()):
            torch.index_select(rows, 0, pos, out=out)
        else:  # a batch label absent from the memory: no similar pair for that row
            out.copy_(similarity_matrix(labels, labels_other))
        return out


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


class _MemoryLikelihood(torch.autograd.Function):
    """``mean(softplus(w) - s * w)``, ``w = 0.5 * (u @ m.T)``, with autograd's kernels in its order."""

    @staticmethod
    def forward(ctx, u, memory_u, s, workspace):
        b, m = u.shape[0], memory_u.shape[0]
        w = workspace.buffer("w", (b, m), u)
        torch.mm(u, memory_u.t(), out=w)
        w.mul_(0.5)                                  # 0.5 * (u @ m.T), same rounding
        sp = workspace.buffer("sp", (b, m), u)
        torch.ops.aten.softplus.out(w, _BETA, _THRESHOLD, out=sp)
        # softplus(w) - s * w in one pass: s * w is exact (s in {0, 1}), so sp + (-1) * s * w rounds as
        # the old sp - (s * w) does, fused or not
        torch.addcmul(sp, s, w, value=-1.0, out=sp)
        value = sp.mean()
        workspace.step += 1
        # w and s are views of workspace buffers that the next step overwrites: kept as plain
        # attributes and guarded by the step count rather than saved (and version-checked)
        ctx.workspace, ctx.step, ctx.w, ctx.s, ctx.memory_u = workspace, workspace.step, w, s, memory_u
        return value

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        ws = ctx.workspace
        if ws.step != ctx.step:
            raise RuntimeError("memory_likelihood_loss: the workspace was reused by a later forward before this "
                               "backward; call backward once per step, before the next loss")
        w, s, memory_u = ctx.w, ctx.s, ctx.memory_u
        # MeanBackward: grad.expand / numel (one value, broadcast instead of materialised)
        g = grad.reshape(1) / w.numel()
        gw = ws.buffer("gw", w.shape, w)
        torch.ops.aten.softplus_backward.grad_input(g.expand_as(w), w, _BETA, _THRESHOLD, grad_input=gw)
        # + MulBackward of s * w through SubBackward: (-g) * s, with s in {0, 1}: gw - g * s exactly
        gw.sub_(s, alpha=float(g))
        gw.mul_(0.5)                                 # MulBackward of 0.5 * (...)
        return torch.mm(gw, memory_u), None, None, None   # MmBackward: grad @ (m.T).T


def memory_likelihood_loss(u: torch.Tensor, labels: torch.Tensor, memory_u: torch.Tensor,
                           memory_labels: torch.Tensor, workspace: LikelihoodWorkspace) -> torch.Tensor:
    """J1 of the batch ``u`` against a memory ``(memory_u, memory_labels)``, equal bit for bit (value
    and gradient of ``u``) to ``pairwise_likelihood_loss(u, labels, memory_u, memory_labels)``.

    The memory is a constant (no gradient). ``workspace`` holds the pair buffers between the
    forward and the backward of one step.
    """
    if u.dim() != 2 or memory_u.dim() != 2 or memory_u.shape[1] != u.shape[1]:
        raise ValueError(f"u must be (N, L) and memory_u (M, L), got {tuple(u.shape)} and {tuple(memory_u.shape)}")
    if memory_u.shape[0] == 0:
        return u.sum() * 0.0
    memory_u = memory_u.detach().to(device=u.device, dtype=u.dtype)
    s = workspace.similarity(labels, memory_labels.to(labels.device), u.dtype)
    return _MemoryLikelihood.apply(u, memory_u, s, workspace)


class MemoryPairs:
    def __init__(self, pairs: str, n_train: int, bits: int):
        if pairs not in PAIRS:
            raise ValueError(f"loss.pairs must be 'memory' or 'batch', got {pairs!r}")
        self.memory: Optional[CodeMemory] = CodeMemory(n_train, bits) if pairs == "memory" else None
        self.workspace = LikelihoodWorkspace()
        self._moved = False

    def _ensure_device(self, h: torch.Tensor) -> None:
        if self.memory is not None and not self._moved:
            self.memory.to(h.device)
            self._moved = True

    def memory_for(self, h: torch.Tensor) -> Optional[CodeMemory]:
        """The memory (on ``h``'s device) for losses that update it themselves, or None."""
        self._ensure_device(h)
        return self.memory

    def others(self, h: torch.Tensor, labels: torch.Tensor, index) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """``(codes, labels)`` of the memory after writing this batch into it, or ``(None, None)``
        in batch mode (the loss then pairs the batch with itself)."""
        if self.memory is None:
            return None, None
        self._ensure_device(h)
        self.memory.update(index, h, labels)
        return self.memory.get()
