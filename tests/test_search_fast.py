"""The fast search paths (issue 17) give exactly what the previous implementations gave.

``_old_topk_search`` / ``_old_radius_search`` are the implementations of
``hashlib_core.codes`` before issue 17, copied here verbatim except that the
distances come from the plain definition ``(L - q.d) / 2``.
"""

import numpy as np
import pytest

from hashlib_core import codes as C
from hashlib_core import search as S


# --------------------------------------------------------------------------- references (pre-issue-17)
def _ref_hamming(q, d):
    L = q.shape[1]
    dot = q.astype(np.float64) @ d.astype(np.float64).T  # exact: integers far below 2**53
    return ((L - np.rint(dot).astype(np.int64)) // 2).astype(np.uint16)


def _old_topk_search(q, d, k):
    k = int(k)
    n = d.shape[0]
    k = min(k, n)
    dist = _ref_hamming(q, d)
    if k < n // 4:
        key = dist.astype(np.int64) * n + np.arange(n, dtype=np.int64)
        part = np.argpartition(key, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(key, part, axis=1), axis=1)
        idx = np.take_along_axis(part, order, axis=1)
    else:
        idx = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return idx.astype(np.int64), np.take_along_axis(dist, idx, axis=1)


def _old_radius_search(q, d, r):
    indices, dists = [], []
    for row in _ref_hamming(q, d):
        hit = np.flatnonzero(row <= r)
        hd = row[hit]
        order = np.argsort(hd, kind="stable")
        indices.append(hit[order].astype(np.int64))
        dists.append(hd[order])
    return indices, dists


# --------------------------------------------------------------------------- data
def random_codes(rng, n, L):
    return np.where(rng.random((n, L)) < 0.5, -1, 1).astype(np.int8)


def noisy_class_codes(rng, n, L, n_classes=10, flip=0.1):
    """Codes near a few class codewords: many small, heavily tied distances (like learned codes)."""
    centres = random_codes(rng, n_classes, L)
    c = centres[rng.integers(0, n_classes, n)]
    return np.where(rng.random((n, L)) < flip, -c, c).astype(np.int8)


def assert_topk_equal(q, d, k, **kw):
    idx, dist = S.topk_search(q, d, k, **kw)
    ref_i, ref_d = _old_topk_search(q, d, k)
    assert idx.dtype == np.int64 and dist.dtype == np.uint16
    assert idx.shape == ref_i.shape
    np.testing.assert_array_equal(dist, ref_d)
    np.testing.assert_array_equal(idx, ref_i)


def assert_radius_equal(q, d, r, **kw):
    idx, dist = S.radius_search(q, d, r, return_distances=True, **kw)
    ref_i, ref_d = _old_radius_search(q, d, r)
    assert len(idx) == len(ref_i) == q.shape[0]
    for a, b, da, db in zip(idx, ref_i, dist, ref_d):
        assert a.dtype == np.int64 and da.dtype == np.uint16
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(da, db)


# --------------------------------------------------------------------------- top-k
@pytest.mark.parametrize("L", [1, 4, 7, 8, 12, 33, 48, 63, 64, 65, 130, 255, 256, 300])
def test_topk_random_codes_all_lengths(L):
    rng = np.random.default_rng(L)
    q, d = random_codes(rng, 11, L), random_codes(rng, 3000, L)
    for k in (1, 2, 17, 100, 2999, 3000, 3007):
        assert_topk_equal(q, d, k)


@pytest.mark.parametrize("L", [48, 64])
@pytest.mark.parametrize("k", [1, 10, 100, 1000])
def test_topk_streaming_blocks_match(L, k):
    """A database far larger than the first block and the block width: the merge path runs."""
    rng = np.random.default_rng(k + L)
    n = 2 * S.FIRST_BLOCK_ITEMS + 1234
    d = random_codes(rng, n, L)
    q = np.concatenate([random_codes(rng, 21, L), d[[5, 20000, n - 1]]])  # queries in the database too
    assert_topk_equal(q, d, k)
    assert_topk_equal(q, d, k, batch_size=5)


@pytest.mark.parametrize("merge_pending", [0.01, 1, 100])
def test_topk_merge_path_on_tied_data(monkeypatch, merge_pending):
    """Small first block and blocks, so that tied candidates are merged many times."""
    monkeypatch.setattr(S, "FIRST_BLOCK_ITEMS", 512)
    monkeypatch.setattr(S, "_FIRST_BLOCK_PER_K", 2)
    monkeypatch.setattr(S, "BLOCK_PAIRS", 4096)
    monkeypatch.setattr(S, "_MERGE_PENDING", merge_pending)
    rng = np.random.default_rng(9)
    tied = random_codes(rng, 9000, 4)
    dup = np.repeat(noisy_class_codes(rng, 300, 48, flip=0.05), 30, axis=0)
    for d in (tied, dup, noisy_class_codes(rng, 9000, 64, flip=0.2)):
        q = np.concatenate([random_codes(rng, 9, d.shape[1]), d[[0, 4500, 8999]]])
        for k in (1, 7, 100, 600, 4000):
            assert_topk_equal(q, d, k, batch_size=4)


def test_topk_heavily_tied_4_bit_codes_and_duplicates():
    rng = np.random.default_rng(0)
    d = random_codes(rng, 30000, 4)  # 16 distinct codes: every distance level holds thousands
    q = random_codes(rng, 9, 4)
    for k in (1, 5, 100, 1875, 10000, 29999, 30000, 30001):
        assert_topk_equal(q, d, k)
    dup = np.repeat(random_codes(rng, 50, 48), 400, axis=0)  # every code 400 times, in runs
    dup = dup[rng.permutation(dup.shape[0])]
    qd = np.concatenate([dup[:5], random_codes(rng, 4, 48)])
    for k in (1, 399, 400, 401, 5000, 20000):
        assert_topk_equal(qd, dup, k)


def test_topk_noisy_class_codes_like_learned_codes():
    rng = np.random.default_rng(1)
    d = noisy_class_codes(rng, 40000, 48, flip=0.05)
    q = noisy_class_codes(rng, 40, 48, flip=0.05)
    for k in (1, 100, 1000, 5000):
        assert_topk_equal(q, d, k)


def test_topk_identical_database_and_k_equal_to_n():
    rng = np.random.default_rng(2)
    d = np.repeat(random_codes(rng, 1, 64), 20000, axis=0)
    q = random_codes(rng, 3, 64)
    for k in (1, 8192, 19999, 20000):
        assert_topk_equal(q, d, k)


def test_topk_cut_estimate_falling_short_is_recomputed(monkeypatch):
    """Make the sampled cut distance wrong on purpose (sampled items close, the others far)."""
    rng = np.random.default_rng(3)
    L, n, k = 64, 20000, 3000
    first = min(n, max(S.FIRST_BLOCK_ITEMS, S._FIRST_BLOCK_PER_K * k))
    stride = max(1, first // S._SAMPLE_ITEMS)
    assert stride > 1 and first // stride < k  # the sampled items alone are fewer than k
    q = random_codes(rng, 4, L)
    d = -np.repeat(q[:1], n, axis=0)  # every item at distance 64 from query 0 ...
    d[::stride] = q[0]  # ... except the sampled ones, at distance 0
    d[1::stride, : L // 2] = q[0, : L // 2]  # and some at distance 32, never sampled
    calls = []
    original = S.HammingSearcher._cut
    monkeypatch.setattr(S.HammingSearcher, "_cut", lambda self, *a: calls.append(1) or original(self, *a))
    assert_topk_equal(q, d, k)
    assert len(calls) >= 2  # the estimate, then the exact recount for the short rows


def test_topk_batches_empty_query_and_empty_database():
    rng = np.random.default_rng(4)
    q, d = random_codes(rng, 23, 24), random_codes(rng, 500, 24)
    for bs in (1, 3, 22, 23, 100):
        assert_topk_equal(q, d, 7, batch_size=bs)
    idx, dist = S.topk_search(q[:0], d, 5)
    assert idx.shape == (0, 5) and dist.shape == (0, 5) and idx.dtype == np.int64 and dist.dtype == np.uint16
    idx, dist = S.topk_search(q, d[:0], 5)
    assert idx.shape == (23, 0) and dist.shape == (23, 0)


def test_searcher_reuses_the_packed_database():
    rng = np.random.default_rng(5)
    d = random_codes(rng, 5000, 40)
    s = S.HammingSearcher(d)
    for n_q in (1, 7, 40):
        q = random_codes(rng, n_q, 40)
        i1, d1 = s.topk(q, 50)
        i2, d2 = _old_topk_search(q, d, 50)
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_array_equal(d1, d2)


# --------------------------------------------------------------------------- radius
@pytest.mark.parametrize("L", [1, 4, 8, 12, 48, 64, 65, 300])
def test_radius_matches_old(L):
    rng = np.random.default_rng(100 + L)
    d = random_codes(rng, 20000 if L in (48, 64) else 3000, L)
    q = np.concatenate([random_codes(rng, 9, L), d[[0, 7]]])
    for r in (0, 1, 2, 3, L // 2, L, L + 4):
        assert_radius_equal(q, d, r)
    assert_radius_equal(q, d, 2, batch_size=2)


def test_radius_tied_codes_empty_inputs():
    rng = np.random.default_rng(6)
    d = noisy_class_codes(rng, 30000, 48, flip=0.02)
    q = noisy_class_codes(rng, 12, 48, flip=0.02)
    for r in (0, 1, 2, 5):
        assert_radius_equal(q, d, r)
    assert S.radius_search(q[:0], d, 2) == []
    res = S.radius_search(q, d[:0], 2, return_distances=True)
    assert all(a.size == 0 and a.dtype == np.int64 for a in res[0])
    assert all(a.size == 0 and a.dtype == np.uint16 for a in res[1])


# --------------------------------------------------------------------------- errors
def test_search_errors_are_clear():
    ok = random_codes(np.random.default_rng(0), 3, 8)
    with pytest.raises(ValueError, match="backend must be one of"):
        S.topk_search(ok, ok, 1, backend="annoy")
    with pytest.raises(ValueError, match="backend must be one of"):
        S.radius_search(ok, ok, 1, backend="")
    with pytest.raises(ValueError, match="k must be >= 1"):
        S.HammingSearcher(ok).topk(ok, 0)
    with pytest.raises(ValueError, match="radius must be >= 0"):
        S.HammingSearcher(ok).radius(ok, -1)
    with pytest.raises(ValueError, match="bit lengths differ"):
        S.HammingSearcher(ok).topk(ok[:, :4], 1)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        S.HammingSearcher(ok).radius(ok, 1, batch_size=0)


# --------------------------------------------------------------------------- faiss backend
@pytest.mark.parametrize("L", [4, 12, 48, 64, 65])
def test_faiss_topk_same_distances_and_strictly_closer_items(L):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(200 + L)
    d = random_codes(rng, 6000, L)
    q = np.concatenate([random_codes(rng, 8, L), d[:2]])
    for k in (1, 10, 100, 6000):
        fi, fd = S.topk_search(q, d, k, backend="faiss")
        ri, rd = _old_topk_search(q, d, k)
        assert fi.dtype == np.int64 and fd.dtype == np.uint16
        np.testing.assert_array_equal(fd, rd)
        full = _ref_hamming(q, d)
        np.testing.assert_array_equal(np.take_along_axis(full, fi, axis=1), fd)  # each pair is right
        for row in range(q.shape[0]):
            closer = rd[row] < rd[row, -1]  # below the k-th distance the set is unique
            np.testing.assert_array_equal(fi[row][closer], ri[row][closer])
            assert len(set(fi[row].tolist())) == fi.shape[1]


@pytest.mark.parametrize("L", [4, 16, 48, 64])
def test_faiss_radius_identical_lists_for_every_index(L):
    pytest.importorskip("faiss")
    from hashlib_core.search_faiss import FaissBinarySearcher

    rng = np.random.default_rng(300 + L)
    d = noisy_class_codes(rng, 8000, L, flip=0.05)
    q = np.concatenate([noisy_class_codes(rng, 6, L, flip=0.05), d[:2]])
    fs = FaissBinarySearcher(C.pack(d), L)
    for r in (0, 1, 2, 3):
        ref_i, ref_d = _old_radius_search(q, d, r)
        for index in ("multihash", "hash", "flat"):
            fi, fd = fs.radius(C.pack(q), r, index)
            for a, b, da, db in zip(fi, ref_i, fd, ref_d):
                np.testing.assert_array_equal(a, b)
                np.testing.assert_array_equal(da, db)
        assert_radius_equal(q, d, r, backend="faiss")


def test_faiss_missing_gives_install_hint(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_faiss(name, *a, **kw):
        if name == "faiss":
            raise ImportError("No module named 'faiss'")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_faiss)
    ok = random_codes(np.random.default_rng(0), 3, 8)
    with pytest.raises(ImportError, match="pip install faiss-cpu"):
        S.topk_search(ok, ok, 1, backend="faiss")


# --------------------------------------------------------------------------- evaluate (pre-issue-17 reference)
from hashlib_core import metrics as M  # noqa: E402


def _old_ap_ranked(dist, rel, k):
    b = dist.shape[0]
    order = np.argsort(dist, axis=1, kind="stable")
    if k < order.shape[1]:
        order = order[:, :k]
    srel = np.take_along_axis(rel, order, axis=1)
    rows, cols = np.nonzero(srel)
    cnt = np.bincount(rows, minlength=b)
    starts = np.cumsum(cnt) - cnt
    rank_among_rel = np.arange(rows.size, dtype=np.float64) - np.repeat(starts, cnt) + 1.0
    sums = np.bincount(rows, weights=rank_among_rel / (cols + 1.0), minlength=b)
    return np.divide(sums, cnt, out=np.zeros(b), where=cnt > 0)


def _old_bucket_counts(dist, rel, n_bits):
    b = dist.shape[0]
    nb = n_bits + 1
    key = dist.astype(np.intp)
    key += (np.arange(b, dtype=np.intp) * nb)[:, None]
    n = np.bincount(key.ravel(), minlength=b * nb).reshape(b, nb)
    r = np.bincount(key[rel], minlength=b * nb).reshape(b, nb)
    return n, r


def _old_evaluate(qc, dc, ql, dl, topk=None, radius=2, batch_size=None):
    """hashlib_core.metrics.evaluate before issue 17 (same batches: 2**21 pairs by default)."""
    Q, L = qc.shape
    N = dc.shape[0]
    k = N if topk is None else min(int(topk), N)
    bs = max(1, (1 << 21) // N) if batch_size is None else batch_size
    labels = M._Labels(ql, dl, Q, N)
    H = M._harmonic_table(N)
    psum, rsum = np.zeros(L + 1), np.zeros(L + 1)
    ap_all, ta_all = np.empty(Q), np.empty(Q)
    for start in range(0, Q, bs):
        stop = min(Q, start + bs)
        dist = _ref_hamming(qc[start:stop], dc)
        rel = labels.batch(start, stop)
        ap_all[start:stop] = _old_ap_ranked(dist, rel, k)
        n, r = _old_bucket_counts(dist, rel, L)
        ta_all[start:stop] = M._tie_aware_ap(n, r, k, H)
        prec, rec = M._radius_pr(n, r)
        psum += prec.sum(axis=0)
        rsum += rec.sum(axis=0)
    pc, rc = psum / Q, rsum / Q
    rr = min(radius, L)
    return {"map": float(ap_all.mean()), "map_tie_aware": float(ta_all.mean()), "p_at_h2": float(pc[rr]),
            "r_at_h2": float(rc[rr]), "precision_by_radius": pc, "recall_by_radius": rc}


def assert_evaluate_identical(qc, dc, ql, dl, **kw):
    new = M.evaluate(qc, dc, ql, dl, **kw)
    old = _old_evaluate(qc, dc, ql, dl, **kw)
    for key in ("map", "map_tie_aware", "p_at_h2", "r_at_h2"):
        assert new[key] == old[key], (key, new[key], old[key])  # bit for bit, not approximately
    for key in ("precision_by_radius", "recall_by_radius"):
        np.testing.assert_array_equal(new[key], old[key])
    return new


def labelled_codes(rng, n, L, n_classes=10, max_flip=0.45):
    centres = random_codes(rng, n_classes, L)
    y = rng.integers(0, n_classes, n)
    c = centres[y].copy()
    c[rng.random(c.shape) < rng.uniform(0, max_flip, (n, 1))] *= -1
    return c, y


@pytest.mark.parametrize("L", [12, 48, 60, 64, 126, 127, 128, 130, 300])
def test_evaluate_identical_single_label(L):
    rng = np.random.default_rng(400 + L)
    qc, ql = labelled_codes(rng, 90, L)
    dc, dl = labelled_codes(rng, 7000, L)
    for topk in (None, 1, 100, 6999, 7000, 7010):
        assert_evaluate_identical(qc, dc, ql, dl, topk=topk)
    assert_evaluate_identical(qc, dc, ql, dl, batch_size=7)


def test_evaluate_identical_multi_label_and_ties():
    rng = np.random.default_rng(7)
    n_lab = 21
    dl = (rng.random((6000, n_lab)) < 0.08).astype(np.int64)
    ql = (rng.random((70, n_lab)) < 0.08).astype(np.int64)
    ql[:3] = 0  # queries with no relevant item at all
    dc, qc = random_codes(rng, 6000, 48), random_codes(rng, 70, 48)
    for topk in (None, 5, 500, 5000):
        assert_evaluate_identical(qc, dc, ql, dl, topk=topk)
    # 4-bit codes: every distance bucket holds hundreds of tied items
    dq, qq = random_codes(rng, 6000, 4), random_codes(rng, 70, 4)
    for topk in (None, 1, 1000):
        assert_evaluate_identical(qq, dq, ql, dl, topk=topk, radius=1)
        assert_evaluate_identical(qq, dq, rng.integers(0, 3, 70), rng.integers(0, 3, 6000), topk=topk)


def test_mean_average_precision_identical_and_evaluate_realistic_size():
    rng = np.random.default_rng(8)
    qc, ql = labelled_codes(rng, 120, 48)
    dc, dl = labelled_codes(rng, 59000, 48)
    ev = assert_evaluate_identical(qc, dc, ql, dl)
    assert M.mean_average_precision(qc, dc, ql, dl) == ev["map"]
    assert M.mean_average_precision(qc, dc, ql, dl, topk=1000) == _old_evaluate(qc, dc, ql, dl, topk=1000)["map"]
    ap = M.average_precisions(qc, dc, ql, dl)
    assert float(ap.mean()) == ev["map"] and ap.shape == (120,)


def test_from_packed_matches_and_checks_its_input():
    rng = np.random.default_rng(10)
    d, q = random_codes(rng, 3000, 21), random_codes(rng, 5, 21)
    s = S.HammingSearcher.from_packed(C.pack(d), 21)
    i1, d1 = s.topk(q, 40)
    i2, d2 = _old_topk_search(q, d, 40)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(d1, d2)
    bad = C.pack(d)
    bad[7, -1] |= 1  # a padding bit set
    with pytest.raises(ValueError, match="padding bits"):
        S.HammingSearcher.from_packed(bad, 21)
    with pytest.raises(ValueError, match="21 bits need 3 bytes"):
        S.HammingSearcher.from_packed(C.pack(d)[:, :2], 21)
    with pytest.raises(ValueError, match="uint8"):
        S.HammingSearcher.from_packed(C.pack(d).astype(np.int16), 21)
