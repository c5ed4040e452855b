"""Tests for hashlib_core.codes: binarisation, conversions, packing, Hamming distance, search."""

import numpy as np
import pytest

from hashlib_core import codes as C
from hashlib_core import search as S

LENGTHS = [1, 7, 8, 12, 21, 30, 48, 64, 65]


def random_codes(rng, n, L):
    return np.where(rng.random((n, L)) < 0.5, -1, 1).astype(np.int8)


def brute_hamming(q, d):
    """Plain definition: (L - q.d) / 2 for +-1 codes."""
    L = q.shape[1]
    return (L - q.astype(np.int64) @ d.astype(np.int64).T) // 2


class FakeTensor:
    """Duck-typed stand-in for a torch tensor (avoids importing torch in the tests)."""

    def __init__(self, a):
        self.a = np.asarray(a)
        self.calls = []

    def detach(self):
        self.calls.append("detach")
        return self

    def cpu(self):
        self.calls.append("cpu")
        return self

    def numpy(self):
        return self.a


# --------------------------------------------------------------------------- sign
def test_sign_zero_maps_to_plus_one_by_default():
    u = np.array([[-2.0, -0.0, 0.0, 1e-30, -1e-30, 3.0]])
    out = C.sign(u)
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, [[-1, 1, 1, 1, -1, 1]])


def test_sign_zero_argument():
    u = np.array([0.0, 0.5, -0.5, 0.0])
    np.testing.assert_array_equal(C.sign(u, zero=-1), [-1, 1, -1, -1])
    np.testing.assert_array_equal(C.sign(u, zero=1), [1, 1, -1, 1])


def test_sign_shapes_and_int_input():
    rng = np.random.default_rng(0)
    u = rng.standard_normal((3, 4, 5))
    out = C.sign(u)
    assert out.shape == u.shape
    np.testing.assert_array_equal(out, np.where(u > 0, 1, -1))
    np.testing.assert_array_equal(C.sign(np.array([-3, 0, 2])), [-1, 1, 1])


def test_sign_accepts_tensor_like():
    t = FakeTensor(np.array([[0.3, -0.2, 0.0]], dtype=np.float32))
    np.testing.assert_array_equal(C.sign(t), [[1, -1, 1]])
    assert t.calls[:2] == ["detach", "cpu"]


def test_sign_rejects_nan_and_bad_zero():
    with pytest.raises(ValueError):
        C.sign(np.array([0.1, np.nan]))
    with pytest.raises(ValueError):
        C.sign(np.array([0.1]), zero=0)


def test_sign_does_not_modify_input():
    u = np.array([[0.0, -1.0, 2.0]])
    keep = u.copy()
    C.sign(u)
    np.testing.assert_array_equal(u, keep)


# --------------------------------------------------------------------------- {0,1}
def test_to01_from01_round_trip():
    rng = np.random.default_rng(1)
    c = random_codes(rng, 10, 13)
    b = C.to_01(c)
    assert b.dtype == np.uint8
    np.testing.assert_array_equal(b, (c == 1).astype(np.uint8))
    back = C.from_01(b)
    assert back.dtype == np.int8
    np.testing.assert_array_equal(back, c)
    np.testing.assert_array_equal(C.from_01(np.array([True, False])), [1, -1])


def test_to01_from01_reject_bad_values():
    with pytest.raises(ValueError):
        C.to_01(np.array([[0, 1]]))
    with pytest.raises(ValueError):
        C.from_01(np.array([[0, 2]]))
    with pytest.raises(ValueError):
        C.from_01(np.array([[-1, 1]]))


# --------------------------------------------------------------------------- pack
@pytest.mark.parametrize("L", LENGTHS)
def test_pack_round_trip(L):
    rng = np.random.default_rng(L)
    c = random_codes(rng, 17, L)
    p = C.pack(c)
    assert p.dtype == np.uint8
    assert p.shape == (17, (L + 7) // 8)
    pad = 8 * p.shape[1] - L
    if pad:
        assert not np.any(p[:, -1] & ((1 << pad) - 1)), "padding bits must be zero"
    np.testing.assert_array_equal(C.unpack(p, L), c)


def test_pack_bit_order_explicit():
    # bits (+1 -> 1): 1 0 1 1 0 0 0 0 | 1 (then 7 zero padding bits)
    c = np.array([[1, -1, 1, 1, -1, -1, -1, -1, 1]], dtype=np.int8)
    np.testing.assert_array_equal(C.pack(c), [[0b10110000, 0b10000000]])


def test_unpack_rejects_bad_input():
    p = C.pack(np.ones((2, 12), dtype=np.int8))
    with pytest.raises(ValueError):
        C.unpack(p, 17)  # needs 3 bytes
    with pytest.raises(ValueError):
        C.unpack(p.astype(np.int16), 12)
    with pytest.raises(ValueError):
        C.unpack(p[0], 12)  # 1-D
    bad = p.copy()
    bad[0, -1] |= 1  # a padding bit set
    with pytest.raises(ValueError):
        C.unpack(bad, 12)


# --------------------------------------------------------------------------- hamming
@pytest.mark.parametrize("L", LENGTHS + [130])
def test_hamming_matches_brute_force(L):
    rng = np.random.default_rng(100 + L)
    q = random_codes(rng, 9, L)
    d = random_codes(rng, 23, L)
    d[:3] = q[:3]  # some zero distances
    d[3] = -q[0]  # and a maximal one
    out = C.hamming_distance(q, d)
    assert out.dtype == np.uint16
    assert out.shape == (9, 23)
    np.testing.assert_array_equal(out, brute_hamming(q, d))
    assert out[0, 3] == L and out[0, 0] == 0


@pytest.mark.parametrize("bs", [1, 2, 5, None, 1000])
def test_hamming_independent_of_batch_size(bs):
    rng = np.random.default_rng(7)
    q, d = random_codes(rng, 11, 30), random_codes(rng, 40, 30)
    np.testing.assert_array_equal(C.hamming_distance(q, d, batch_size=bs), brute_hamming(q, d))


def test_iter_hamming_batches_covers_all_queries():
    rng = np.random.default_rng(8)
    q, d = random_codes(rng, 10, 21), random_codes(rng, 15, 21)
    seen = []
    for start, dist in C.iter_hamming_batches(q, d, batch_size=4):
        assert dist.dtype == np.uint16
        np.testing.assert_array_equal(dist, brute_hamming(q[start : start + dist.shape[0]], d))
        seen.append((start, dist.shape[0]))
    assert seen == [(0, 4), (4, 4), (8, 2)]


def test_hamming_accepts_float_codes():
    q = np.array([[1.0, -1.0, 1.0]])
    d = np.array([[1, 1, 1], [-1, 1, -1]])
    np.testing.assert_array_equal(C.hamming_distance(q, d), [[1, 3]])


def test_popcount_lookup_table_fallback(monkeypatch):
    rng = np.random.default_rng(9)
    x = rng.integers(0, 2**63, size=(5, 7), dtype=np.uint64)
    ref = np.array([[bin(int(v)).count("1") for v in row] for row in x])
    np.testing.assert_array_equal(C.popcount(x), ref)
    monkeypatch.setattr(C, "_HAS_BITWISE_COUNT", False)
    np.testing.assert_array_equal(C.popcount(x), ref)
    q, d = random_codes(rng, 4, 70), random_codes(rng, 6, 70)
    np.testing.assert_array_equal(C.hamming_distance(q, d), brute_hamming(q, d))


# --------------------------------------------------------------------------- search
def brute_rank(dist_row):
    """Ranking by (distance, index)."""
    return np.lexsort((np.arange(dist_row.size), dist_row))


@pytest.mark.parametrize("k", [1, 5, 20, 60, 200])
def test_topk_search_matches_brute_force_with_ties(k):
    rng = np.random.default_rng(k)
    q, d = random_codes(rng, 8, 6), random_codes(rng, 60, 6)  # 6 bits: many ties
    idx, dist = S.topk_search(q, d, k)
    kk = min(k, 60)
    assert idx.shape == (8, kk) and dist.shape == (8, kk)
    assert idx.dtype == np.int64 and dist.dtype == np.uint16
    full = brute_hamming(q, d)
    for i in range(8):
        ref = brute_rank(full[i])[:kk]
        np.testing.assert_array_equal(idx[i], ref)
        np.testing.assert_array_equal(dist[i], full[i, ref])


@pytest.mark.parametrize("k", [17, 60, 99])
def test_topk_search_large_database_partial_sort(k):
    # k << N exercises the argpartition path; 8 bits -> ties everywhere
    rng = np.random.default_rng(200 + k)
    q, d = random_codes(rng, 5, 8), random_codes(rng, 700, 8)
    idx, dist = S.topk_search(q, d, k, batch_size=2)
    full = brute_hamming(q, d)
    for i in range(5):
        ref = brute_rank(full[i])[:k]
        np.testing.assert_array_equal(idx[i], ref)
        np.testing.assert_array_equal(dist[i], full[i, ref])


def test_topk_search_tie_break_by_index():
    q = np.ones((1, 4), dtype=np.int8)
    d = np.array([[1, 1, 1, -1], [1, 1, 1, 1], [1, 1, -1, 1], [1, 1, 1, 1], [-1, 1, 1, 1]])
    idx, dist = S.topk_search(q, d, 5)
    np.testing.assert_array_equal(idx, [[1, 3, 0, 2, 4]])
    np.testing.assert_array_equal(dist, [[0, 0, 1, 1, 1]])


@pytest.mark.parametrize("r", [0, 1, 2, 6])
def test_radius_search_matches_brute_force(r):
    rng = np.random.default_rng(30 + r)
    q, d = random_codes(rng, 7, 6), random_codes(rng, 50, 6)
    res, dists = S.radius_search(q, d, r, return_distances=True)
    full = brute_hamming(q, d)
    assert len(res) == 7
    for i in range(7):
        ref = [j for j in brute_rank(full[i]) if full[i, j] <= r]
        np.testing.assert_array_equal(res[i], ref)
        np.testing.assert_array_equal(dists[i], full[i, ref])
    assert all(a.dtype == np.int64 for a in S.radius_search(q, d, r, batch_size=3))


# --------------------------------------------------------------------------- validation
def test_bad_codes_raise_value_error():
    ok = np.ones((3, 8), dtype=np.int8)
    with pytest.raises(ValueError, match="-1 and \\+1"):
        C.hamming_distance(np.zeros((3, 8)), ok)  # {0,1} codes
    with pytest.raises(ValueError):
        C.hamming_distance(ok, np.full((3, 8), 2))
    with pytest.raises(ValueError, match="1-D"):
        C.hamming_distance(np.ones(8), ok)
    with pytest.raises(ValueError, match="bit lengths differ"):
        C.hamming_distance(ok, np.ones((3, 9)))
    with pytest.raises(ValueError):
        C.hamming_distance(ok.astype(bool), ok)
    with pytest.raises(ValueError):
        C.pack(np.ones(8))
    with pytest.raises(ValueError):
        S.topk_search(ok, ok, 0)
    with pytest.raises(ValueError):
        S.radius_search(ok, ok, -1)
    with pytest.raises(ValueError):
        C.hamming_distance(ok, ok, batch_size=0)
    with pytest.raises(ValueError):
        C.check_codes(np.ones((2, 0)))


def test_inputs_not_modified():
    rng = np.random.default_rng(11)
    q = random_codes(rng, 5, 12)
    d = random_codes(rng, 9, 12).astype(np.float32)
    qk, dk = q.copy(), d.copy()
    C.hamming_distance(q, d)
    list(C.iter_hamming_batches(q, d, 2))
    S.topk_search(q, d, 3)
    S.radius_search(q, d, 2)
    p = C.pack(q)
    pk = p.copy()
    C.unpack(p, 12)
    C.to_01(q)
    b = C.to_01(d)
    bk = b.copy()
    C.from_01(b)
    np.testing.assert_array_equal(q, qk)
    np.testing.assert_array_equal(d, dk)
    np.testing.assert_array_equal(p, pk)
    np.testing.assert_array_equal(b, bk)
