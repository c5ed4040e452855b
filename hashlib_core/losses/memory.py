"""The other side of a pairwise loss: the mini-batch itself, or a memory of every training code.

DPSH pairs each mini-batch with the latest code of *every* training image (its U matrix); DSHFMDF's
J1 and several baselines offer the same choice. :class:`MemoryPairs` is that choice in one place:
``pairs="memory"`` keeps a :class:`~hashlib_core.losses.dshfmdf.CodeMemory` (moved to the batch's
device on first use, refreshed with the batch's detached codes before they are paired),
``pairs="batch"`` pairs the batch with itself.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch

from hashlib_core.losses.dshfmdf import CodeMemory

__all__ = ["MemoryPairs", "PAIRS"]

PAIRS = ("memory", "batch")


class MemoryPairs:
    def __init__(self, pairs: str, n_train: int, bits: int):
        if pairs not in PAIRS:
            raise ValueError(f"loss.pairs must be 'memory' or 'batch', got {pairs!r}")
        self.memory: Optional[CodeMemory] = CodeMemory(n_train, bits) if pairs == "memory" else None
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
