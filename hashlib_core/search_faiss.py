"""The optional faiss backend of :mod:`hashlib_core.search` (``pip install faiss-cpu``, extra ``search``).

* top-k: ``faiss.IndexBinaryFlat`` (exhaustive, exact distances);
* radius: ``faiss.IndexBinaryMultiHash`` with ``nhash = r + 1`` substrings of
  ``b = min(64, d // nhash)`` bits and no bit flips -- exact by the pigeonhole
  principle (r differing bits leave at least one of r + 1 disjoint substrings
  identical); ``IndexBinaryHash`` (one b-bit prefix, ``nflip = r``) and
  ``IndexBinaryFlat`` are also available by name.

Codes go in as :func:`hashlib_core.codes.pack` bytes (``d = 8 * ceil(L / 8)``
bits; the zero padding bits never differ).  faiss counts a range-search radius
as *strictly less than*, so a radius ``r`` is passed as ``r + 1``.  Results are
returned in this package's order (distance, then database index); faiss's
top-k may pick other items than the lowest indices among those tied at the
k-th distance -- the distance lists are the same.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

__all__ = ["FaissBinarySearcher", "import_faiss", "RADIUS_INDEXES"]

#: Index types :meth:`FaissBinarySearcher.radius` accepts.
RADIUS_INDEXES = ("multihash", "hash", "flat")


def import_faiss():
    """``import faiss`` with an error that says how to install it."""
    try:
        import faiss  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'backend="faiss" needs faiss: pip install faiss-cpu (or pip install "hashlib-core[search]")'
        ) from exc
    return faiss


def _in_order(idx: np.ndarray, dist: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Sort one result list by (distance, index)."""
    order = np.lexsort((idx, dist))
    return idx[order].astype(np.int64), dist[order].astype(np.uint16)


class FaissBinarySearcher:
    """faiss binary indexes over fixed packed codes ``(N, ceil(L/8)) uint8``."""

    def __init__(self, packed: np.ndarray, n_bits: int):
        self.faiss = import_faiss()
        self.packed = np.ascontiguousarray(packed, dtype=np.uint8)
        self.n_db = self.packed.shape[0]
        self.n_bits = int(n_bits)
        self.d = 8 * self.packed.shape[1]
        self.flat = self.faiss.IndexBinaryFlat(self.d)
        self.flat.add(self.packed)
        self._radius_indexes = {}

    def topk(self, qp: np.ndarray, k: int, use_heap: Optional[bool] = None) -> Tuple[np.ndarray, np.ndarray]:
        """``IndexBinaryFlat.search``; ``use_heap`` None keeps faiss's default."""
        k = min(int(k), self.n_db)
        Q = qp.shape[0]
        if Q == 0 or k == 0:
            return np.empty((Q, k), np.int64), np.empty((Q, k), np.uint16)
        if use_heap is not None:
            self.flat.use_heap = bool(use_heap)
        D, I = self.flat.search(np.ascontiguousarray(qp), k)
        order = np.lexsort((I, D), axis=-1)  # faiss's own order among ties is unspecified
        return (np.take_along_axis(I, order, axis=1).astype(np.int64),
                np.take_along_axis(D, order, axis=1).astype(np.uint16))

    def radius_index(self, r: int, index: str = "multihash"):
        """The (cached) faiss index that answers radius-``r`` queries exactly."""
        if index not in RADIUS_INDEXES:
            raise ValueError(f"index must be one of {RADIUS_INDEXES}, got {index!r}")
        nhash = r + 1
        b = min(64, self.d // nhash)
        if index == "flat" or b < 1 or (index == "hash" and r > b):
            return self.flat
        key = (index, r)
        if key not in self._radius_indexes:
            if index == "multihash":
                ix = self.faiss.IndexBinaryMultiHash(self.d, nhash, b)
                ix.nflip = 0
            else:
                b = min(self.d, 24)  # one prefix of b bits; buckets within r flips are probed
                ix = self.faiss.IndexBinaryHash(self.d, b)
                ix.nflip = r
            ix.add(self.packed)
            self._radius_indexes[key] = ix
        return self._radius_indexes[key]

    def radius(self, qp: np.ndarray, r: int, index: str = "multihash") -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """Items within distance ``<= r``: ``range_search`` with faiss's strict radius ``r + 1``."""
        Q = qp.shape[0]
        if Q == 0:
            return [], []
        if self.n_db == 0:
            return [np.empty(0, np.int64) for _ in range(Q)], [np.empty(0, np.uint16) for _ in range(Q)]
        ix = self.radius_index(r, index)
        lims, D, I = ix.range_search(np.ascontiguousarray(qp), r + 1)
        out_i, out_d = [], []
        for i in range(Q):
            a, b = _in_order(I[lims[i] : lims[i + 1]], D[lims[i] : lims[i + 1]])
            out_i.append(a)
            out_d.append(b)
        return out_i, out_d
