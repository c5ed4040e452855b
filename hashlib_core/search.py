"""Exact Hamming top-k and radius search over a fixed database, numpy only (issue 17).

:class:`HammingSearcher` packs the database once and answers top-k and radius
queries; :func:`topk_search` and
:func:`radius_search` (below) are one-shot wrappers around it.
Results follow :mod:`hashlib_core.codes`'s conventions exactly: order
(distance ascending, database index ascending), indices ``np.int64``,
distances ``np.uint16``.

How it is fast without leaving numpy
------------------------------------
* **Layout.** The database is stored column-wise, one contiguous row per
  word: byte planes ``(n_bytes, N) uint8`` for codes of up to 48 bits
  (numpy's ``bitwise_count`` is SIMD on bytes), ``(n_words, N) uint64``
  above (one XOR + popcount per 64 bits beats 7-8 byte planes).  Distances of
  a query batch against a block of the database are accumulated in ``uint8``
  (``uint16`` above 255 bits), so every pass touches 1 byte per pair.
* **Selection by counting, not sorting.** Distances are integers 0..L.  The
  first block's exact top-k comes from a per-query histogram (the cut
  distance ``t`` where the cumulative count reaches k) and one stable radix
  sort of the few candidates ``<= t``.  Every later block only contributes
  items *strictly* closer than the current k-th distance (an item at equal
  distance has a larger index than every kept one, so it ranks after them);
  those few candidates are merged by one stable sort on (query, distance).
  No ``argpartition`` / ``argsort`` over the whole database.
* **Memory** is bounded by the query batch times the block, whatever Q and N.
"""

from __future__ import annotations

from typing import List, Optional, Tuple, Union

import numpy as np

from .codes import _check_pair, check_codes, pack, unpack

__all__ = ["HammingSearcher", "topk_search", "radius_search", "BACKENDS", "QUERY_BATCH", "BLOCK_PAIRS"]

#: Search backends: the pure-numpy engine (default) or faiss (optional extra ``search``).
BACKENDS = ("numpy", "faiss")

#: Queries per batch when ``batch_size`` is None (16-64 measured alike on the 2-core EPYC; larger
#: batches share the per-batch selection calls among more queries).
QUERY_BATCH = 32

#: Query x item pairs per scanned block (the block's distances take one byte per pair; its XOR
#: buffer 8 bytes per pair for 64-bit words): the block width is ``BLOCK_PAIRS // batch`` items.
BLOCK_PAIRS = 1 << 19

#: Items of the first block, whose top-k comes from a sampled cut distance and one sort of the
#: candidates; later blocks only filter against the k-th kept distance.
FIRST_BLOCK_ITEMS = 65536

#: Query x item pairs of the first block's distance buffer (one byte each): caps the query batch
#: when k, hence the first block, is large.
_FIRST_BLOCK_PAIRS = 1 << 22

#: The first block holds at least this many items per requested neighbour.
_FIRST_BLOCK_PER_K = 64

#: About this many items per query of the first block go into the cut-distance estimate.
_SAMPLE_ITEMS = 1024

#: Largest query-batch x first-block size whose histogram is one bincount (its intp copy: 8 MiB).
_BATCHED_HISTOGRAM_ITEMS = 1 << 20

#: Candidates are merged into the kept lists once more than this many times k per query wait.
_MERGE_PENDING = 1

#: Radius queries up to this radius on codes longer than _PREFIX_BYTES bytes are prefiltered by
#: the distance of the first _PREFIX_BYTES bytes (random codes: 0.002 % of items pass at r = 2).
_PREFILTER_MAX_RADIUS = 3
_PREFIX_BYTES = 3

#: Codes of at most this many bytes are scanned as byte planes, longer ones as uint64 words.
_MAX_PLANE_BYTES = 6


def _check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


class _Layout:
    """Codes of one length laid out as words for XOR + popcount (see the module doc)."""

    def __init__(self, n_bits: int):
        self.n_bits = n_bits
        self.n_bytes = (n_bits + 7) // 8
        self.planes = self.n_bytes <= _MAX_PLANE_BYTES
        self.word_dtype = np.dtype(np.uint8 if self.planes else np.uint64)
        self.n_words = self.n_bytes if self.planes else (self.n_bytes + 7) // 8
        self.acc_dtype = np.dtype(np.uint8 if n_bits <= 255 else np.uint16)

    def columns(self, packed: np.ndarray) -> np.ndarray:
        """``pack()``-ed codes ``(n, n_bytes)`` -> word columns ``(n_words, n)``, each row contiguous."""
        if self.planes:
            return np.ascontiguousarray(packed.T)
        n = packed.shape[0]
        buf = np.zeros((n, self.n_words * 8), dtype=np.uint8)
        buf[:, : self.n_bytes] = packed
        return np.ascontiguousarray(buf.view(np.uint64).T)  # byte order irrelevant for XOR+popcount


class _Scratch:
    """Reusable buffers for one query batch against blocks of the database."""

    def __init__(self, layout: _Layout, b: int, n_db: int):
        width = max(1, min(n_db, max(1024, BLOCK_PAIRS // b)))
        # flat buffers: a (b, w) view of the first b*w elements is contiguous for any b, w
        self.width = width
        self.x = np.empty(b * width, dtype=layout.word_dtype)
        self.cnt = None if layout.planes else np.empty(b * width, np.uint8)
        self.acc = np.empty(b * width, dtype=layout.acc_dtype)
        self.mask = np.empty(b * width, dtype=bool)


class HammingSearcher:
    """Exact Hamming search over a fixed set of {-1,+1} database codes.

    Parameters
    ----------
    db_codes : (N, L) array of -1/+1
    backend : {"numpy", "faiss"}
        ``"numpy"`` (default) is this module's engine.  ``"faiss"`` uses
        ``faiss.IndexBinaryFlat`` for top-k and ``faiss.IndexBinaryMultiHash``
        for radius queries (:mod:`hashlib_core.search_faiss`; needs the optional
        ``faiss-cpu``): same distances; at the k-th distance faiss may return
        other tied items than the lowest indices.

    The database is validated and packed once; :meth:`topk` and
    :meth:`radius` can then be called any number of times.
    """

    def __init__(self, db_codes, backend: str = "numpy"):
        
        d = check_codes(db_codes, "db_codes")
        self._setup(pack(d), d.shape[1], backend)

    @classmethod
    def from_packed(cls, packed, n_bits: int, backend: str = "numpy") -> "HammingSearcher":
        """A searcher over codes already packed by :func:`hashlib_core.codes.pack` (no ±1 copy)."""
        
        p = np.asarray(packed)
        unpack(p[:1], n_bits)  # the same checks as unpack: 2-D uint8, byte width, zero padding
        pad = 8 * p.shape[1] - int(n_bits)
        if pad and p.shape[0] and np.any(p[:, -1] & np.uint8((1 << pad) - 1)):
            raise ValueError("padding bits of packed codes must be zero")
        self = cls.__new__(cls)
        self._setup(np.ascontiguousarray(p), int(n_bits), backend)
        return self

    def _setup(self, packed: np.ndarray, n_bits: int, backend: str) -> None:
        self.backend = _check_backend(backend)
        self.n_db, self.n_bits = packed.shape[0], n_bits
        self.packed = packed
        if self.backend == "faiss":
            from .search_faiss import FaissBinarySearcher

            self._faiss = FaissBinarySearcher(self.packed, self.n_bits)
            return
        self.layout = _Layout(self.n_bits)
        self.cols = self.layout.columns(self.packed)
        self._prefix = None  # byte planes of the first bytes, built by the first radius query

    # ------------------------------------------------------------------ helpers
    def _queries(self, query_codes) -> np.ndarray:
        
        q = check_codes(query_codes, "query_codes")
        if q.shape[1] != self.n_bits:
            raise ValueError(
                f"bit lengths differ: query_codes has {q.shape[1]} bits, db_codes has {self.n_bits}"
            )
        return pack(q)

    @staticmethod
    def _batch(batch_size: Optional[int]) -> int:
        if batch_size is None:
            return QUERY_BATCH
        bs = int(batch_size)
        if bs < 1:
            raise ValueError(f"batch_size must be >= 1, got {bs}")
        return bs

    def _distances(self, qc: np.ndarray, c0: int, c1: int, s: _Scratch, out=None) -> np.ndarray:
        """Distances of the batch ``qc`` (n_words, b) to items ``c0:c1`` -> ``out`` or a view of ``s.acc``."""
        b, w = qc.shape[1], c1 - c0
        acc = s.acc[: b * w].reshape(b, w) if out is None else out
        x = s.x[: b * w].reshape(b, w)
        # byte planes: popcount in place (uint8); words: popcount of uint64 into a uint8 buffer
        cnt = x if s.cnt is None else s.cnt[: b * w].reshape(b, w)
        for j in range(self.layout.n_words):
            np.bitwise_xor(qc[j][:, None], self.cols[j, None, c0:c1], out=x)
            if j == 0:
                np.bitwise_count(x, out=acc)
            else:
                np.bitwise_count(x, out=cnt)
                np.add(acc, cnt, out=acc)
        return acc

    def _key_dtype(self, b: int):
        return np.uint16 if b * (self.n_bits + 1) <= np.iinfo(np.uint16).max else np.int64

    def distance_rows(self, qcols: np.ndarray, out: np.ndarray, scratch: Optional[_Scratch] = None) -> np.ndarray:
        """Distances of packed query columns ``qcols`` (n_words, b) to the whole database, into
        ``out`` (b, N) of :attr:`dist_dtype` (uint8 up to 255 bits)."""
        b = qcols.shape[1]
        s = scratch if scratch is not None else _Scratch(self.layout, b, self.n_db)
        for c0 in range(0, self.n_db, s.width):
            c1 = min(self.n_db, c0 + s.width)
            self._distances(qcols, c0, c1, s, out=out[:, c0:c1])
        return out

    @property
    def dist_dtype(self) -> np.dtype:
        """dtype of the distances :meth:`distance_rows` writes."""
        return self.layout.acc_dtype

    # ------------------------------------------------------------------ top-k
    def topk(self, query_codes, k: int, batch_size: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest items of every query (``k > N`` is clipped to N).

        Returns ``indices (Q, min(k, N)) int64`` and ``distances (Q, min(k, N)) uint16``,
        each row ordered by (distance, database index).
        """
        k = int(k)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        qp = self._queries(query_codes)
        bs = self._batch(batch_size)
        if self.backend == "faiss":
            return self._faiss.topk(qp, k)
        n, Q = self.n_db, qp.shape[0]
        k = min(k, n)
        idx_out = np.empty((Q, k), dtype=np.int64)
        dist_out = np.empty((Q, k), dtype=np.uint16)
        if Q == 0 or k == 0:
            return idx_out, dist_out
        qcols = self.layout.columns(qp)
        first = min(n, max(FIRST_BLOCK_ITEMS, _FIRST_BLOCK_PER_K * k))
        bs = max(1, min(bs, _FIRST_BLOCK_PAIRS // first))
        scratch = _Scratch(self.layout, min(bs, Q), n)
        first_dist = np.empty(min(bs, Q) * first, dtype=self.layout.acc_dtype)
        for q0 in range(0, Q, bs):
            q1 = min(Q, q0 + bs)
            qc, b = qcols[:, q0:q1], q1 - q0
            ki, kd = self._topk_first_block(qc, k, first, scratch, first_dist[: b * first].reshape(b, first))
            kth = kd[:, -1:].copy()
            pending, n_pending = [], 0
            for c0 in range(first, n, scratch.width):
                c1 = min(n, c0 + scratch.width)
                dist = self._distances(qc, c0, c1, scratch)
                # only items strictly closer than the k-th kept one can enter: an item at equal
                # distance has a larger index than every kept one, so it ranks after them
                mask = scratch.mask[: dist.size].reshape(dist.shape)
                np.less(dist, kth, out=mask)
                flat = np.flatnonzero(mask)
                if flat.size:
                    rows = flat // dist.shape[1]
                    pending.append((rows, flat - rows * dist.shape[1] + c0, dist.ravel()[flat]))
                    n_pending += flat.size
                    if n_pending >= _MERGE_PENDING * b * k:  # merging tightens kth; batching merges saves calls
                        self._merge(ki, kd, pending, k)
                        kth[:] = kd[:, -1:]
                        pending, n_pending = [], 0
            if pending:
                self._merge(ki, kd, pending, k)
            idx_out[q0:q1] = ki
            dist_out[q0:q1] = kd
        return idx_out, dist_out

    def _topk_first_block(self, qc, k: int, first: int, s: _Scratch, dist: np.ndarray):
        """Exact top-k among items ``0:first``: histogram -> cut distance -> sort the candidates."""
        b = qc.shape[1]
        L1 = self.n_bits + 1
        for c0 in range(0, first, s.width):
            c1 = min(first, c0 + s.width)
            self._distances(qc, c0, c1, s, out=dist[:, c0:c1])
        # A cut distance with at least k items per query, estimated from a histogram of every
        # stride-th item: the sample count of k/stride expected items plus three standard
        # deviations (a cut that falls short is recomputed exactly for its rows; one too high only
        # costs more candidates to sort).  The candidates <= cut are then sorted.
        stride = max(1, first // _SAMPLE_ITEMS)
        expected = k / stride
        need = expected + 3.0 * np.sqrt(expected) + 1.0 if stride > 1 else k
        cut = self._cut(dist[:, ::stride], need)
        while True:
            flat = np.flatnonzero(dist <= cut.astype(dist.dtype)[:, None])
            rows = flat // first
            counts = np.bincount(rows, minlength=b)
            short = counts < k
            if not short.any():
                break
            cut[short] = self._cut(dist[short], k)
        dv = dist.ravel()[flat]
        key_dtype = self._key_dtype(b)
        order = np.argsort(rows.astype(key_dtype) * key_dtype(L1) + dv, kind="stable")
        start = np.cumsum(counts) - counts
        sel = order[(start[:, None] + np.arange(k)).ravel()]
        ki = (flat[sel] - rows[sel] * first).reshape(b, k).astype(np.int64)
        kd = dv[sel].reshape(b, k)
        return ki, kd

    def _cut(self, dist: np.ndarray, need: float) -> np.ndarray:
        """Per row, the smallest distance t with ``#(dist <= t) >= need`` (L where none is)."""
        b, w = dist.shape
        L1 = self.n_bits + 1
        key_dtype = self._key_dtype(b)
        if b * w <= _BATCHED_HISTOGRAM_ITEMS:
            row_off = (np.arange(b, dtype=key_dtype) * key_dtype(L1))[:, None]
            hist = np.bincount((dist.astype(key_dtype) + row_off).ravel(), minlength=b * L1).reshape(b, L1)
        else:  # bincount casts to intp: one row at a time bounds that copy to 8 bytes x w
            hist = np.stack([np.bincount(row, minlength=L1) for row in dist])
        reached = np.cumsum(hist, axis=1) >= need
        reached[:, -1] = True
        return np.argmax(reached, axis=1)

    def _merge(self, ki, kd, pending, k: int) -> None:
        """Merge candidate ``(rows, indices, distances)`` arrays into the kept lists, in place."""
        rows = np.concatenate([p[0] for p in pending])
        b = ki.shape[0]
        hit = np.zeros(b, dtype=bool)
        hit[rows] = True
        aff = np.flatnonzero(hit)  # the queries that got candidates, and their local numbers
        local = (np.cumsum(hit) - 1)[rows]
        a = aff.size
        L1 = self.n_bits + 1
        key_dtype = self._key_dtype(a)
        # kept entries first, then the candidates in block order: for equal (query, distance) the
        # stable sort keeps the lower database index first
        all_r = np.concatenate([np.repeat(np.arange(a), k), local])
        all_d = np.concatenate([kd[aff].ravel()] + [p[2] for p in pending])
        all_i = np.concatenate([ki[aff].ravel()] + [p[1] for p in pending])
        order = np.argsort(all_r.astype(key_dtype) * key_dtype(L1) + all_d, kind="stable")
        counts = k + np.bincount(local, minlength=a)
        start = np.cumsum(counts) - counts
        sel = order[(start[:, None] + np.arange(k)).ravel()]
        ki[aff] = all_i[sel].reshape(a, k)
        kd[aff] = all_d[sel].reshape(a, k)

    # ------------------------------------------------------------------ radius
    def radius(
        self, query_codes, r: int, batch_size: Optional[int] = None, return_distances: bool = False
    ) -> Union[List[np.ndarray], Tuple[List[np.ndarray], List[np.ndarray]]]:
        """All items within Hamming distance ``<= r`` of every query.

        Returns one ``np.int64`` index array per query, ordered by (distance,
        database index); with ``return_distances=True`` also the ``np.uint16``
        distances.
        """
        r = int(r)
        if r < 0:
            raise ValueError(f"radius must be >= 0, got {r}")
        qp = self._queries(query_codes)
        bs = self._batch(batch_size)
        if self.backend == "faiss":
            idx, dist = self._faiss.radius(qp, r)
            return (idx, dist) if return_distances else idx
        n, Q = self.n_db, qp.shape[0]
        indices: List[np.ndarray] = []
        dists: List[np.ndarray] = []
        qcols = self.layout.columns(qp)
        s = _Scratch(self.layout, min(bs, max(Q, 1)), n)
        rr = min(r, self.n_bits)  # an acc-dtype scalar: r beyond L matches everything anyway
        L1 = self.n_bits + 1
        # Small radii: the first three bytes' distance (a lower bound) rejects almost every item at
        # under half the cost of a 64-bit distance; the few survivors get their full distance.
        prefilter = self.layout.n_bytes > _PREFIX_BYTES and rr <= _PREFILTER_MAX_RADIUS
        if prefilter:
            if self._prefix is None:  # byte planes already hold the first bytes
                self._prefix = (self.cols if self.layout.planes
                                else np.ascontiguousarray(self.packed[:, :_PREFIX_BYTES].T))
            qpre = np.ascontiguousarray(qp[:, :_PREFIX_BYTES].T)
            part = np.empty(s.acc.size, dtype=np.uint8)
        for q0 in range(0, Q, bs):
            q1 = min(Q, q0 + bs)
            b = q1 - q0
            rows_l, cols_l, d_l = [], [], []
            for c0 in range(0, n, s.width):
                c1 = min(n, c0 + s.width)
                w = c1 - c0
                mask = s.mask[: b * w].reshape(b, w)
                if prefilter:
                    pd = s.acc[: b * w].reshape(b, w)
                    tmp = part[: b * w].reshape(b, w)
                    for j in range(_PREFIX_BYTES):
                        np.bitwise_xor(qpre[j, q0:q1, None], self._prefix[j, None, c0:c1], out=tmp if j else pd)
                        if j:
                            np.bitwise_count(tmp, out=tmp)
                            np.add(pd, tmp, out=pd)
                        else:
                            np.bitwise_count(pd, out=pd)
                    np.less_equal(pd, rr, out=mask)
                    flat = np.flatnonzero(mask)
                    if flat.size:
                        rows = flat // w
                        cols = flat - rows * w + c0
                        full = np.zeros(cols.size, dtype=np.uint16)
                        for j in range(self.layout.n_words):
                            full += np.bitwise_count(self.cols[j, cols] ^ qcols[j, q0 + rows])
                        keep = full <= rr
                        rows_l.append(rows[keep])
                        cols_l.append(cols[keep])
                        d_l.append(full[keep])
                    continue
                dist = self._distances(qcols[:, q0:q1], c0, c1, s)
                np.less_equal(dist, rr, out=mask)
                flat = np.flatnonzero(mask)
                if flat.size:
                    rows = flat // w
                    rows_l.append(rows)
                    cols_l.append(flat - rows * w + c0)
                    d_l.append(dist.ravel()[flat])
            if rows_l:
                rows = np.concatenate(rows_l)
                cols = np.concatenate(cols_l)
                dv = np.concatenate(d_l).astype(np.uint16)
                key_dtype = self._key_dtype(b)
                # blocks were appended in index order: the stable sort breaks ties by index
                order = np.argsort(rows.astype(key_dtype) * key_dtype(L1) + dv.astype(key_dtype), kind="stable")
                cols, dv = cols[order], dv[order]
                bounds = np.cumsum(np.bincount(rows, minlength=b))[:-1]
                indices.extend(np.split(cols.astype(np.int64), bounds))
                dists.extend(np.split(dv, bounds))
            else:
                indices.extend(np.empty(0, np.int64) for _ in range(b))
                dists.extend(np.empty(0, np.uint16) for _ in range(b))
        if return_distances:
            return indices, dists
        return indices


# --- the functions the rest of the package calls ---------------------------------------------

def topk_search(
    query_codes, db_codes, k: int, batch_size: Optional[int] = None, backend: str = "numpy"
) -> Tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest database items of every query in Hamming space.

    Items are ordered by (Hamming distance ascending, database index ascending):
    ties are broken by the lower database index, so the result is deterministic.
    ``k`` larger than the database size is clipped to ``N``.  ``batch_size`` is
    a number of queries per batch (it bounds memory, never changes results).

    ``backend="numpy"`` (default): :class:`hashlib_core.search.HammingSearcher`,
    a counting selection over byte / word columns.  ``backend="faiss"``:
    ``faiss.IndexBinaryFlat`` (optional extra ``search``); same distances, but
    among items tied at the k-th distance faiss may return others than the
    lowest indices.  To search one database many times, build a
    ``HammingSearcher`` once.

    Returns
    -------
    indices : (Q, min(k, N)) np.int64
    distances : (Q, min(k, N)) np.uint16
    """

    _check_backend(backend)
    q, d = _check_pair(query_codes, db_codes)
    if int(k) < 1:  # before the database is packed
        raise ValueError(f"k must be >= 1, got {int(k)}")
    return HammingSearcher(d, backend=backend).topk(q, k, batch_size)


def radius_search(
    query_codes,
    db_codes,
    r: int,
    batch_size: Optional[int] = None,
    return_distances: bool = False,
    backend: str = "numpy",
) -> Union[List[np.ndarray], Tuple[List[np.ndarray], List[np.ndarray]]]:
    """All database items within Hamming distance ``<= r`` of each query.

    Returns a list (one entry per query) of ``np.int64`` index arrays sorted by
    (distance ascending, database index ascending); with
    ``return_distances=True`` also the matching list of ``np.uint16`` distances.
    ``backend="faiss"`` answers with ``faiss.IndexBinaryMultiHash``
    (:mod:`hashlib_core.search_faiss`; exact, same lists and order).
    """

    _check_backend(backend)
    q, d = _check_pair(query_codes, db_codes)
    r = int(r)
    if r < 0:
        raise ValueError(f"radius must be >= 0, got {r}")
    return HammingSearcher(d, backend=backend).radius(q, r, batch_size, return_distances)
