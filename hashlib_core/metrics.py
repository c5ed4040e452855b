"""Retrieval metrics for binary hash codes (Hamming ranking and Hamming-radius lookup).

Common arguments
----------------
``query_codes`` (Q, L) and ``db_codes`` (N, L)
    {-1,+1} code matrices (see :mod:`hashlib_core.codes`).
``query_labels`` and ``db_labels``
    EITHER 1-D class ids (single-label data, e.g. CIFAR-10) OR 2-D multi-hot
    {0,1} matrices with the same number of columns (multi-label data, e.g.
    NUS-WIDE, MS-COCO).  Both must be of the same kind.
``batch_size``
    Queries processed at once (default: about
    :data:`hashlib_core.codes.DEFAULT_BATCH_ELEMENTS` query-item pairs per
    batch).  No ``Q x N`` matrix is ever built; results do not depend on it.
``progress``
    Show a tqdm progress bar over query batches (tqdm is imported only then).

Conventions (one set, used by every function)
---------------------------------------------
* **Relevance** (:func:`relevance`): single-label -> same class id;
  multi-label -> the two label vectors share at least one label
  (dot product > 0).  One-hot labels therefore give the single-label rule.
* **Ranking**: database items sorted by Hamming distance ascending, ties broken
  by database index ascending (a stable sort).  :func:`tie_aware_average_precision`
  instead averages over all orders of tied items.
* **Radius lookup**: "retrieved within radius r" means Hamming distance ``<= r``.
* **Means** are macro averages over *all* queries.  A query whose retrieved set
  is empty has precision 0; a query with no relevant item (in the database, or
  in its top-k for mAP@k) has AP 0 and recall 0 -- and it still counts in the
  mean (this is what the DPSH / HashNet / DeepHash-pytorch evaluation code does).
* Inputs are never modified in place.

Only numpy is required.
"""

from __future__ import annotations

from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np

from .codes import DEFAULT_BATCH_ELEMENTS, _check_pair, _to_numpy, check_codes, iter_hamming_batches, pack

__all__ = [
    "relevance",
    "average_precisions",
    "mean_average_precision",
    "tie_aware_average_precision",
    "pr_curve_by_radius",
    "precision_recall_vs_radius",
    "pr_curve_by_rank",
    "precision_at_n",
    "precision_recall_within_radius",
    "precision_recall_f1_at_k",
    "hash_collision_ratio",
    "evaluate",
]


# --------------------------------------------------------------------------- #
# labels and relevance
# --------------------------------------------------------------------------- #
class _Labels:
    """Validated query / database labels and a batched relevance rule."""

    def __init__(self, query_labels, db_labels, n_queries=None, n_db=None):
        ql = _to_numpy(query_labels)
        dl = _to_numpy(db_labels)
        if ql.ndim != dl.ndim or ql.ndim not in (1, 2):
            raise ValueError(
                "labels must be both 1-D class ids or both 2-D multi-hot arrays; got "
                f"query_labels shape {ql.shape} and db_labels shape {dl.shape}"
            )
        if n_queries is not None and ql.shape[0] != n_queries:
            raise ValueError(f"query_labels has {ql.shape[0]} rows but there are {n_queries} query codes")
        if n_db is not None and dl.shape[0] != n_db:
            raise ValueError(f"db_labels has {dl.shape[0]} rows but there are {n_db} database codes")
        self.multilabel = ql.ndim == 2
        if self.multilabel:
            if ql.shape[1] != dl.shape[1]:
                raise ValueError(
                    f"multi-hot labels have different widths: {ql.shape[1]} (query) vs {dl.shape[1]} (db)"
                )
            for name, a in (("query_labels", ql), ("db_labels", dl)):
                if a.size and not np.all((a == 0) | (a == 1)):
                    raise ValueError(
                        f"2-D {name} must be multi-hot {{0,1}}; pass class ids as a 1-D array"
                    )
            # float32 products of {0,1} vectors are exact counts (< 2**24 labels)
            self.q = ql.astype(np.float32)
            self.d_t = np.ascontiguousarray(dl.astype(np.float32).T)
        else:
            self.q = ql
            self.d = dl

    def batch(self, start: int, stop: int) -> np.ndarray:
        """Boolean relevance of queries ``start:stop`` against the whole database."""
        if self.multilabel:
            return (self.q[start:stop] @ self.d_t) > 0
        return self.q[start:stop, None] == self.d[None, :]


def relevance(query_labels, db_labels) -> np.ndarray:
    """Boolean ``(Q, N)`` relevance matrix -- the single relevance rule of this module.

    * 1-D labels (class ids): ``rel[i, j] = query_labels[i] == db_labels[j]``.
    * 2-D multi-hot labels: ``rel[i, j] = query_labels[i] . db_labels[j] > 0``
      (at least one shared label).

    The metrics never build this full matrix; they compute it per query batch.
    """
    lab = _Labels(query_labels, db_labels)
    return lab.batch(0, lab.q.shape[0])


# --------------------------------------------------------------------------- #
# batching
# --------------------------------------------------------------------------- #
class _Problem:
    def __init__(self, query_codes, db_codes, query_labels, db_labels, batch_size):
        self.qc, self.dc = _check_pair(query_codes, db_codes)
        self.Q, self.L = self.qc.shape
        self.N = self.dc.shape[0]
        if self.Q == 0:
            raise ValueError("no query codes")
        if self.N == 0:
            raise ValueError("empty database")
        self.labels = _Labels(query_labels, db_labels, self.Q, self.N)
        if batch_size is None:
            batch_size = max(1, DEFAULT_BATCH_ELEMENTS // self.N)
        batch_size = int(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size

    def batches(self, progress: bool = False) -> Iterator[Tuple[int, np.ndarray, np.ndarray]]:
        """Yield ``(start, dist (b,N) uint16, rel (b,N) bool)``."""
        it = iter_hamming_batches(self.qc, self.dc, self.batch_size)
        if progress:
            from hashlib_core.progress import tqdm

            it = tqdm(it, total=-(-self.Q // self.batch_size), desc="queries", unit="batch")
        for start, dist in it:
            yield start, dist, self.labels.batch(start, start + dist.shape[0])


def _check_topk(topk, n_db: int) -> int:
    """``None`` -> N; otherwise an int >= 1, clipped to N."""
    if topk is None:
        return n_db
    k = int(topk)
    if k != topk or k < 1:
        raise ValueError(f"topk must be a positive integer or None, got {topk!r}")
    return min(k, n_db)


def _check_cutoffs(ns, n_db: int) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(ns))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("cut-offs must be a non-empty 1-D sequence of integers")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"cut-offs must be integers, got {arr.tolist()}")
        arr = arr.astype(np.int64)
    if arr.min() < 1 or arr.max() > n_db:
        raise ValueError(f"cut-offs must lie in 1..{n_db} (database size), got {arr.tolist()}")
    return arr.astype(np.int64)


# --------------------------------------------------------------------------- #
# per-batch kernels
# --------------------------------------------------------------------------- #
def _bucket_counts(dist: np.ndarray, rel: np.ndarray, n_bits: int) -> Tuple[np.ndarray, np.ndarray]:
    """Per query and distance d = 0..L: number of items ``n[:, d]`` and of relevant items ``r[:, d]``."""
    b = dist.shape[0]
    nb = n_bits + 1
    key = dist.astype(np.intp)
    key += (np.arange(b, dtype=np.intp) * nb)[:, None]
    n = np.bincount(key.ravel(), minlength=b * nb).reshape(b, nb)
    r = np.bincount(key[rel], minlength=b * nb).reshape(b, nb)
    return n, r


def _ranked_relevance(dist: np.ndarray, rel: np.ndarray, k: int) -> np.ndarray:
    """Relevance of the first ``k`` ranked items, ranking = (distance, index)."""
    order = np.argsort(dist, axis=1, kind="stable")  # radix sort on uint16
    if k < order.shape[1]:
        order = order[:, :k]
    return np.take_along_axis(rel, order, axis=1)


def _ap_ranked(dist: np.ndarray, rel: np.ndarray, k: int) -> np.ndarray:
    """AP@k per query (hashing convention, 0 when nothing relevant in the top k)."""
    b = dist.shape[0]
    srel = _ranked_relevance(dist, rel, k)
    rows, cols = np.nonzero(srel)  # row-major: ascending rank inside each row
    cnt = np.bincount(rows, minlength=b)
    starts = np.cumsum(cnt) - cnt
    rank_among_rel = np.arange(1, rows.size + 1) - np.repeat(starts, cnt)  # exact integers, as floats below
    # bincount adds each row's terms one after the other, in rank order, as _ap_ranked does
    sums = np.bincount(rows, weights=rank_among_rel / (cols + 1), minlength=b)
    return np.divide(sums, cnt, out=np.zeros(b), where=cnt > 0)


def _hits_at(dist: np.ndarray, rel: np.ndarray, ns: np.ndarray) -> np.ndarray:
    """Number of relevant items among the first n ranked, for every n in ``ns`` -> (b, len(ns))."""
    srel = _ranked_relevance(dist, rel, int(ns.max()))
    cum = np.cumsum(srel, axis=1, dtype=np.int64)
    return cum[:, ns - 1]


def _harmonic_table(n: int) -> np.ndarray:
    """H[0..n] with H[i] = sum_{t<=i} 1/t, accumulated in extended precision where available."""
    dt = np.longdouble if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps else np.float64
    h = np.zeros(n + 1, dtype=dt)
    np.cumsum(1.0 / np.arange(1, n + 1, dtype=dt), out=h[1:])
    return h


def _harm_diff(H: np.ndarray, m, s) -> np.ndarray:
    """sum_{t=1..s} 1/(m+t) = H[m+s] - H[m] (float64)."""
    return (H[m + s] - H[m]).astype(np.float64)


def _tied_block_sum(p, m, n, r, H) -> np.ndarray:
    """Expected sum of precision@position over the relevant items of a tied block.

    The block holds ``n`` items (``r`` relevant) in uniformly random order and
    starts after ``m`` ranked items of which ``p`` are relevant.  For position
    ``t`` of the block, ``E[rel_t * (p + 1 + #rel before t in block)] =
    (r/n) * (p + 1 + (t-1)(r-1)/(n-1))`` (hypergeometric mean), hence with
    ``c = (r-1)/(n-1)`` (0 when n = 1)::

        E[sum] = (r/n) * sum_{t=1..n} (p + 1 + (t-1) c) / (m + t)
               = (r/n) * ( c n + (p + 1 - c - c m) (H[m+n] - H[m]) ).
    """
    p, m, n, r = (np.asarray(a, dtype=np.int64) for a in (p, m, n, r))
    nz = n > 0
    nn = np.where(nz, n, 1)
    c = np.where(n > 1, (r - 1) / np.maximum(n - 1, 1), 0.0)
    val = (r / nn) * (c * n + (p + 1 - c - c * m) * _harm_diff(H, m, n))
    return np.where(nz & (r > 0), val, 0.0)


def _tie_aware_ap(n: np.ndarray, r: np.ndarray, k: int, H: np.ndarray) -> np.ndarray:
    """Tie-aware AP@k per query from bucket counts ``n, r`` of shape (b, L+1)."""
    b = n.shape[0]
    m = np.cumsum(n, axis=1) - n  # items ranked before bucket d
    p = np.cumsum(r, axis=1) - r  # relevant items before bucket d
    full = (m + n) <= k  # buckets entirely inside the top k
    S = np.where(full, _tied_block_sum(p, m, n, r, H), 0.0).sum(axis=1)
    R = np.where(full, r, 0).sum(axis=1)
    ap = np.divide(S, R, out=np.zeros(b), where=R > 0)
    # buckets cut by the top-k boundary: m < k < m + n (at most one per query)
    cut = (m < k) & (m + n > k) & (r > 0)
    for i, d in zip(*np.nonzero(cut)):
        ap[i] = _straddle_expectation(
            S_before=S[i], p=int(p[i, d]), m=int(m[i, d]), n=int(n[i, d]), r=int(r[i, d]), s=int(k - m[i, d]), H=H
        )
    return ap


def _straddle_expectation(S_before: float, p: int, m: int, n: int, r: int, s: int, H: np.ndarray) -> float:
    """E[AP@k] when the k-boundary cuts a tied block after its first ``s`` positions.

    X = #relevant among those s positions ~ Hypergeometric(n, r, s).  Given X = x
    the relevant positions are a uniform x-subset of the s positions, so
    ``E[S_block | x] = (x/s) sum_{t=1..s} (p + 1 + (t-1)(x-1)/(s-1)) / (m+t)``; the
    blocks before the cut are independent of X, hence
    ``E[AP@k] = sum_x P(x) (E[S_before] + E[S_block | x]) / (p + x)`` (0 when p + x = 0).
    """
    lo, hi = max(0, s - (n - r)), min(r, s)
    x = np.arange(lo, hi + 1, dtype=np.float64)
    # log P(x) up to a constant via the ratio P(x+1)/P(x)
    xs = x[:-1]
    logratio = np.log((r - xs) * (s - xs)) - np.log((xs + 1) * (n - r - s + xs + 1))
    logw = np.concatenate([[0.0], np.cumsum(logratio)])
    w = np.exp(logw - logw.max())
    w /= w.sum()
    cx = (x - 1) / (s - 1) if s > 1 else np.zeros_like(x)
    hd = float(_harm_diff(H, np.int64(m), np.int64(s)))
    s_block = (x / s) * (cx * s + (p + 1 - cx - cx * m) * hd)
    denom = p + x
    val = np.divide(S_before + s_block, denom, out=np.zeros_like(x), where=denom > 0)
    return float(np.dot(w, val))


def _radius_pr(n: np.ndarray, r: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-query precision / recall for every radius 0..L from bucket counts -> (b, L+1) each."""
    cn = np.cumsum(n, axis=1)
    cr = np.cumsum(r, axis=1)
    R = cr[:, -1:]
    prec = np.divide(cr, cn, out=np.zeros(cn.shape), where=cn > 0)
    rec = np.divide(cr, R, out=np.zeros(cr.shape), where=R > 0)
    return prec, rec


# --------------------------------------------------------------------------- #
# ranking statistics without wide sort keys (evaluate, average_precisions; issue 17)
# --------------------------------------------------------------------------- #
#: Query x item pairs of one inner sub-batch of :func:`_ranked_stats` (its argsort output takes
#: 8 bytes per pair: 4 MiB).
_RANK_PAIRS = 1 << 19


def _ranked_stats(prob: _Problem, k: int, progress: bool = False):
    """Yield ``(start, ap, n, r)`` for the same query batches as :meth:`_Problem.batches`.

    ``ap`` (b,) is :func:`_ap_ranked`'s AP@k and ``n, r`` (b, L+1) are
    :func:`_bucket_counts`'s counts, computed without a ``Q x N`` or ``int64``
    key: distances are one byte per pair (:class:`hashlib_core.search.HammingSearcher`),
    each query's ranking is one stable radix argsort of those bytes, and a single
    gather of ``2 * distance + relevant`` in that order gives both the ranked
    relevance and the bucket boundaries (``comb < 2 v`` iff ``distance < v``, a
    predicate monotone along the ranking, so ``searchsorted`` finds them).  The
    arithmetic on the ranks is :func:`_ap_ranked`'s, so the values are the same
    bit for bit.
    """
    from .search import HammingSearcher

    searcher = HammingSearcher(prob.dc)
    qcols = searcher.layout.columns(pack(prob.qc))
    N, L = prob.N, prob.L
    top = 2 * (L + 1)  # the largest bucket key below; comb itself is at most 2L + 1
    comb_dtype = np.dtype(np.uint8 if top <= 255 else np.uint16 if top <= 65535 else np.uint32)
    inner = max(1, min(prob.batch_size, _RANK_PAIRS // N))
    bounds = np.empty((inner, L + 2), dtype=np.intp)
    rel_before = np.empty((inner, L + 2), dtype=np.intp)
    dist = np.empty((inner, N), dtype=searcher.dist_dtype)
    comb = np.empty((inner, N), dtype=comb_dtype)
    ranked = np.empty((inner, N), dtype=comb_dtype)
    bucket_keys = 2 * np.arange(L + 2, dtype=comb_dtype)  # comb < 2v  <=>  distance < v
    one, one_byte = comb_dtype.type(1), comb_dtype.itemsize == 1
    starts = range(0, prob.Q, prob.batch_size)
    if progress:
        from hashlib_core.progress import tqdm

        starts = tqdm(starts, desc="queries", unit="batch")
    for start in starts:
        stop = min(prob.Q, start + prob.batch_size)
        ap = np.empty(stop - start)
        n = np.empty((stop - start, L + 1), dtype=np.intp)
        r = np.empty((stop - start, L + 1), dtype=np.intp)
        for s0 in range(start, stop, inner):
            s1 = min(stop, s0 + inner)
            b = s1 - s0
            d, c, rk = dist[:b], comb[:b], ranked[:b]
            searcher.distance_rows(qcols[:, s0:s1], d)
            rel = prob.labels.batch(s0, s1)
            np.add(d, d, out=c, dtype=comb_dtype)  # 2 * distance (add is SIMD, left_shift is not)
            np.bitwise_or(c, rel, out=c, dtype=comb_dtype)
            order = np.argsort(d, axis=1, kind="stable")  # radix sort of one-byte keys
            for i in range(b):
                np.take(c[i], order[i], out=rk[i], mode="wrap")  # indices are valid; "wrap" skips the check
                bounds[i] = rk[i].searchsorted(bucket_keys)
            del order
            # ranked positions of the relevant items (nonzero is ~5x faster on bool than on uint8)
            np.bitwise_and(rk, one, out=rk)
            flat = np.flatnonzero(rk.view(bool) if one_byte else rk)
            off = np.arange(b + 1, dtype=np.intp) * N
            rel_before[:b] = flat.searchsorted(bounds[:b] + off[:b, None])
            row_start = flat.searchsorted(off)
            for i in range(b):
                cols = flat[row_start[i] : row_start[i + 1]] - off[i]
                ap[s0 - start + i] = _ap_from_ranks(cols[: cols.searchsorted(k)] if k < N else cols)
            n[s0 - start : s1 - start] = np.diff(bounds[:b], axis=1)
            r[s0 - start : s1 - start] = np.diff(rel_before[:b], axis=1)  # relevant items per bucket
        yield start, ap, n, r


def _ap_from_ranks(cols: np.ndarray) -> float:
    """AP of one query from the ascending 0-based ranks of its relevant items (0 if none).

    :func:`_ap_ranked`'s arithmetic exactly: the terms ``rho / (rank + 1)`` in float64, added one
    after the other in rank order (a cumulative sum is sequential, as ``bincount`` is).
    """
    if cols.size == 0:
        return 0.0
    terms = np.arange(1, cols.size + 1, dtype=np.float64)
    terms /= cols + 1
    return float(np.cumsum(terms, out=terms)[-1] / cols.size)


# --------------------------------------------------------------------------- #
# public metrics
# --------------------------------------------------------------------------- #
def average_precisions(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    topk: Optional[int] = None,
    tie_aware: bool = False,
    batch_size: Optional[int] = None,
    progress: bool = False,
) -> np.ndarray:
    """Per-query AP@topk, shape (Q,) -- the quantity averaged by the mAP functions.

    ``tie_aware=False``: :func:`mean_average_precision`'s definition (ranking by
    distance, ties by database index).  ``tie_aware=True``:
    :func:`tie_aware_average_precision`'s definition.
    """
    prob = _Problem(query_codes, db_codes, query_labels, db_labels, batch_size)
    k = _check_topk(topk, prob.N)
    out = np.empty(prob.Q)
    if not tie_aware:
        for start, ap, _, _ in _ranked_stats(prob, k, progress):
            out[start : start + ap.shape[0]] = ap
        return out
    H = _harmonic_table(prob.N)
    for start, dist, rel in prob.batches(progress):
        n, r = _bucket_counts(dist, rel, prob.L)
        out[start : start + dist.shape[0]] = _tie_aware_ap(n, r, k, H)
    return out


def mean_average_precision(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    topk: Optional[int] = None,
    batch_size: Optional[int] = None,
    progress: bool = False,
) -> float:
    """Mean average precision over the Hamming ranking (mAP, or mAP@topk).

    Ranking: database items sorted by Hamming distance ascending, **ties broken
    by database index ascending** (stable sort).  For each query take the first
    ``k = topk`` ranked items (``topk=None``: the whole database; ``topk > N``
    is clipped to N) and compute, as in the DPSH / HashNet / DeepHash-pytorch
    evaluation code (``CalcTopMap``)::

        AP@k = (1 / R_k) * sum_{i <= k, item i relevant} precision@i,
        R_k  = number of relevant items among the top k,

    with ``AP@k = 0`` when ``R_k = 0``; such queries **still count** in the
    mean over all Q queries.  With ``topk=None`` this is the ordinary
    (non-interpolated) average precision of the full ranking, i.e.
    ``sklearn.metrics.average_precision_score`` when there are no ties.

    Returns
    -------
    float
    """
    return float(
        average_precisions(
            query_codes, db_codes, query_labels, db_labels, topk, False, batch_size, progress
        ).mean()
    )


def tie_aware_average_precision(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    topk: Optional[int] = None,
    batch_size: Optional[int] = None,
    progress: bool = False,
) -> float:
    """Tie-aware mAP: the *expected* AP when items at equal Hamming distance are
    ordered uniformly at random (He et al., "Hashing as Tie-Aware Learning to
    Rank", CVPR 2018; McSherry & Najork, ECIR 2008).

    Computed exactly from per-distance-bucket counts (``n_d`` items, ``r_d``
    relevant at distance d), never by sampling: a bucket of n items (r
    relevant) starting after m ranked items (p relevant) contributes, in
    expectation, ``(r/n) * sum_{t=1..n} (p + 1 + (t-1)(r-1)/(n-1)) / (m + t)``
    to the sum of precisions (closed form through harmonic numbers).

    ``topk`` (the choice made here): the exact expectation of the AP@k of
    :func:`mean_average_precision` under a uniformly random order inside every
    tie.  When the k-boundary cuts a bucket, the number of its relevant items
    falling inside the top k is hypergeometric and the expectation of the ratio
    is summed exactly over it.  ``topk=None`` is the whole ranking.  A query
    whose top k can contain no relevant item scores 0 and counts in the mean.

    Equals :func:`mean_average_precision` when no two database items are tied
    for any query (and, for ``topk``, when the cut never splits a tie).

    Returns
    -------
    float
    """
    return float(
        average_precisions(
            query_codes, db_codes, query_labels, db_labels, topk, True, batch_size, progress
        ).mean()
    )


def pr_curve_by_radius(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    batch_size: Optional[int] = None,
    progress: bool = False,
) -> Dict[str, np.ndarray]:
    """Precision and recall of Hamming-radius lookup for every radius r = 0..L.

    The items retrieved at radius r are those with Hamming distance ``<= r``.
    Per query: ``precision = relevant retrieved / retrieved`` (**0 when nothing
    is retrieved**), ``recall = relevant retrieved / relevant in the database``
    (0 when the database holds no relevant item).  Both are averaged over all
    queries (macro average).

    Returns
    -------
    dict with ``"radius"`` (L+1,) int, ``"precision"`` (L+1,), ``"recall"`` (L+1,).
    """
    prob = _Problem(query_codes, db_codes, query_labels, db_labels, batch_size)
    psum = np.zeros(prob.L + 1)
    rsum = np.zeros(prob.L + 1)
    for _, dist, rel in prob.batches(progress):
        prec, rec = _radius_pr(*_bucket_counts(dist, rel, prob.L))
        psum += prec.sum(axis=0)
        rsum += rec.sum(axis=0)
    return {"radius": np.arange(prob.L + 1), "precision": psum / prob.Q, "recall": rsum / prob.Q}


def precision_recall_vs_radius(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    batch_size: Optional[int] = None,
    progress: bool = False,
) -> Dict[str, np.ndarray]:
    """Precision and recall as functions of the Hamming radius (DSHC paper, Fig. 3).

    Paper 004 (Luo et al., DSHC) plots "precision curves, recall curves with
    respect to Hamming radius": for each r = 0..L, the items within Hamming
    distance ``<= r`` of the query are retrieved.  This is exactly
    :func:`pr_curve_by_radius` (same conventions: empty retrieval -> precision
    0, macro average over queries); the two names return the same dict.
    """
    return pr_curve_by_radius(query_codes, db_codes, query_labels, db_labels, batch_size, progress)


def pr_curve_by_rank(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    n_points: int = 100,
    cutoffs: Optional[Sequence[int]] = None,
    batch_size: Optional[int] = None,
    progress: bool = False,
) -> Dict[str, np.ndarray]:
    """Precision / recall at cut-offs of the Hamming ranking (ties by database index).

    Cut-offs: ``cutoffs`` if given (integers in 1..N), else ``n_points``
    approximately evenly spaced ranks ``unique(round(linspace(1, N, n_points)))``.
    Per query: ``precision@n = relevant in top n / n``, ``recall@n = relevant in
    top n / relevant in database`` (0 if none); macro averages over queries.

    Returns
    -------
    dict with ``"n"`` (the cut-offs), ``"precision"``, ``"recall"``.
    """
    prob = _Problem(query_codes, db_codes, query_labels, db_labels, batch_size)
    if cutoffs is None:
        if int(n_points) < 1:
            raise ValueError("n_points must be >= 1")
        ns = np.unique(np.round(np.linspace(1, prob.N, int(n_points))).astype(np.int64))
    else:
        ns = _check_cutoffs(cutoffs, prob.N)
    psum = np.zeros(ns.size)
    rsum = np.zeros(ns.size)
    for _, dist, rel in prob.batches(progress):
        hits = _hits_at(dist, rel, ns)
        R = rel.sum(axis=1, dtype=np.int64)[:, None]
        psum += (hits / ns).sum(axis=0)
        rsum += np.divide(hits, R, out=np.zeros(hits.shape), where=R > 0).sum(axis=0)
    return {"n": ns, "precision": psum / prob.Q, "recall": rsum / prob.Q}


def precision_at_n(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    ns: Union[int, Sequence[int]] = (100, 500, 1000),
    batch_size: Optional[int] = None,
    progress: bool = False,
) -> np.ndarray:
    """Mean precision of the top-N ranked items for every N in ``ns``.

    Ranking by Hamming distance, ties by database index.  ``precision@N =
    relevant among the first N / N`` averaged over all queries.  Every N must lie
    in 1..(database size).

    Returns
    -------
    np.ndarray of float64, one value per entry of ``ns`` (same order).
    """
    prob = _Problem(query_codes, db_codes, query_labels, db_labels, batch_size)
    arr = _check_cutoffs(ns, prob.N)
    total = np.zeros(arr.size)
    for _, dist, rel in prob.batches(progress):
        total += (_hits_at(dist, rel, arr) / arr).sum(axis=0)
    return total / prob.Q


def precision_recall_within_radius(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    radius: int = 2,
    batch_size: Optional[int] = None,
    progress: bool = False,
) -> Tuple[float, float]:
    """Mean precision and recall of Hamming-radius lookup at ``radius`` (P@H<=2 by default).

    Retrieved = items with Hamming distance ``<= radius``.  A query that
    retrieves nothing has **precision 0** (it is not skipped); a query with no
    relevant item in the database has recall 0.  Macro means over all queries.
    ``radius >= L`` retrieves the whole database.

    Returns
    -------
    (precision, recall) : tuple of float
    """
    radius = int(radius)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    curve = pr_curve_by_radius(query_codes, db_codes, query_labels, db_labels, batch_size, progress)
    r = min(radius, curve["radius"][-1])
    return float(curve["precision"][r]), float(curve["recall"][r])


def precision_recall_f1_at_k(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    k: int,
    batch_size: Optional[int] = None,
    progress: bool = False,
) -> Tuple[float, float, float]:
    """Precision, recall and F1 of the top-k ranked items (ties by database index).

    Per query: ``P = relevant in top k / k``, ``R = relevant in top k / all
    relevant items in the database`` (0 if there are none).  ``P`` and ``R`` are
    averaged over queries, and **F1 is the harmonic mean of the mean P and the
    mean R**: ``F1 = 2 P R / (P + R)`` (0 if both are 0) -- not the mean of
    per-query F1s.  ``k`` must lie in 1..N.

    Returns
    -------
    (precision, recall, f1) : tuple of float
    """
    curve = pr_curve_by_rank(
        query_codes, db_codes, query_labels, db_labels, cutoffs=[k], batch_size=batch_size, progress=progress
    )
    P, R = float(curve["precision"][0]), float(curve["recall"][0])
    F1 = 2 * P * R / (P + R) if (P + R) > 0 else 0.0
    return P, R, F1


def hash_collision_ratio(codes, labels=None) -> float:
    """Fraction of items whose code collides with another item's code.

    Paper 003 (Kim et al., Table II) defines ``Collision rate = No. of collided
    hashes / No. of test images x 100`` without defining "collided hash".  Here:

    * ``labels`` given (the supervised reading): an item is *collided* when at
      least one **other item with the identical code is not relevant to it**
      (different class for 1-D labels; no shared label for multi-hot labels --
      the same rule as :func:`relevance`).  Identical codes of same-class items
      are not collisions.
    * ``labels=None``: an item is collided when any other item has the identical
      code.

    Returns the fraction in [0, 1]; multiply by 100 for the paper's percentage.
    """
    c = check_codes(codes)
    n = c.shape[0]
    if n == 0:
        raise ValueError("no codes")
    _, inv, counts = np.unique(pack(c), axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    shared = counts[inv] > 1
    if labels is None:
        return float(shared.mean())
    lab = _to_numpy(labels)
    if lab.shape[0] != n:
        raise ValueError(f"labels has {lab.shape[0]} rows but there are {n} codes")
    if lab.ndim == 1:
        _, cls = np.unique(lab, return_inverse=True)
        pairs = np.unique(np.stack([inv, cls.ravel()], axis=1), axis=0)
        n_classes_in_group = np.bincount(pairs[:, 0], minlength=counts.size)
        return float((n_classes_in_group[inv] >= 2).mean())
    if lab.ndim != 2:
        raise ValueError(f"labels must be 1-D class ids or 2-D multi-hot, got shape {lab.shape}")
    if lab.size and not np.all((lab == 0) | (lab == 1)):
        raise ValueError("2-D labels must be multi-hot {0,1}")
    labf = lab.astype(np.float32)
    collided = np.zeros(n, dtype=bool)
    order = np.argsort(inv, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inv, minlength=counts.size))])
    for g in np.flatnonzero(counts > 1):
        members = order[bounds[g] : bounds[g + 1]]
        G = labf[members]
        for s in range(0, members.size, 2048):
            rel = (G[s : s + 2048] @ G.T) > 0
            collided[members[s : s + 2048]] = ~rel.all(axis=1)
    return float(collided.mean())


def evaluate(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    topk: Optional[int] = None,
    radius: int = 2,
    batch_size: Optional[int] = None,
    progress: bool = False,
) -> Dict[str, Union[float, int, None, np.ndarray]]:
    """The main metrics in one pass over query batches (distance batches shared).

    Returns a dict with

    * ``"map"`` -- :func:`mean_average_precision` at ``topk``,
    * ``"map_tie_aware"`` -- :func:`tie_aware_average_precision` at ``topk``,
    * ``"p_at_h2"``, ``"r_at_h2"`` -- :func:`precision_recall_within_radius` at
      ``radius`` (2 by default; the key names keep "h2" whatever ``radius``),
    * ``"precision_by_radius"``, ``"recall_by_radius"`` -- :func:`pr_curve_by_radius`,
    * ``"topk"``, ``"radius"``, ``"n_queries"``, ``"n_db"``, ``"n_bits"``.

    Every value equals the one the stand-alone function returns.
    """
    prob = _Problem(query_codes, db_codes, query_labels, db_labels, batch_size)
    k = _check_topk(topk, prob.N)
    radius = int(radius)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    H = _harmonic_table(prob.N)
    psum = np.zeros(prob.L + 1)
    rsum = np.zeros(prob.L + 1)
    ap_all = np.empty(prob.Q)
    ta_all = np.empty(prob.Q)
    for start, ap, n, r in _ranked_stats(prob, k, progress):
        stop = start + ap.shape[0]
        ap_all[start:stop] = ap
        ta_all[start:stop] = _tie_aware_ap(n, r, k, H)
        prec, rec = _radius_pr(n, r)
        psum += prec.sum(axis=0)
        rsum += rec.sum(axis=0)
    prec_curve, rec_curve = psum / prob.Q, rsum / prob.Q
    rr = min(radius, prob.L)
    return {
        "map": float(ap_all.mean()),
        "map_tie_aware": float(ta_all.mean()),
        "p_at_h2": float(prec_curve[rr]),
        "r_at_h2": float(rec_curve[rr]),
        "precision_by_radius": prec_curve,
        "recall_by_radius": rec_curve,
        "topk": topk,
        "radius": radius,
        "n_queries": prob.Q,
        "n_db": prob.N,
        "n_bits": prob.L,
    }
