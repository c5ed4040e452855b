"""Tests for hashlib_core.metrics against plain per-query definitions written here."""

import itertools

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from hashlib_core import metrics as M

# --------------------------------------------------------------------------- #
# plain reference definitions (one query at a time, no tricks)
# --------------------------------------------------------------------------- #


def bf_dist(q, d):
    return (q.shape[1] - q.astype(np.int64) @ d.astype(np.int64).T) // 2


def bf_rel_row(ql_i, dl):
    if np.ndim(dl) == 1:
        return dl == ql_i
    return np.array([bool(np.any((ql_i == 1) & (row == 1))) for row in dl])


def bf_rank(dist_row):
    """Sort by distance, ties by database index."""
    return sorted(range(len(dist_row)), key=lambda j: (dist_row[j], j))


def bf_ap_of_relseq(relseq):
    """AP of a ranked 0/1 list: mean of precision@i over the relevant positions (0 if none)."""
    hits, total, n_rel = 0, 0.0, 0
    for i, r in enumerate(relseq, start=1):
        if r:
            hits += 1
            total += hits / i
            n_rel += 1
    return total / n_rel if n_rel else 0.0


def bf_map(q, d, ql, dl, topk=None):
    D = bf_dist(q, d)
    aps = []
    for i in range(len(q)):
        rel = bf_rel_row(ql[i], dl)
        order = bf_rank(D[i])
        k = len(order) if topk is None else min(topk, len(order))
        aps.append(bf_ap_of_relseq([rel[j] for j in order[:k]]))
    return float(np.mean(aps))


def bf_radius(q, d, ql, dl, r):
    D = bf_dist(q, d)
    P, R = [], []
    for i in range(len(q)):
        rel = bf_rel_row(ql[i], dl)
        got = [j for j in range(len(d)) if D[i, j] <= r]
        hits = sum(rel[j] for j in got)
        P.append(hits / len(got) if got else 0.0)
        R.append(hits / rel.sum() if rel.sum() else 0.0)
    return float(np.mean(P)), float(np.mean(R))


def bf_at_n(q, d, ql, dl, n):
    D = bf_dist(q, d)
    P, R = [], []
    for i in range(len(q)):
        rel = bf_rel_row(ql[i], dl)
        top = bf_rank(D[i])[:n]
        hits = sum(rel[j] for j in top)
        P.append(hits / n)
        R.append(hits / rel.sum() if rel.sum() else 0.0)
    return float(np.mean(P)), float(np.mean(R))


def random_codes(rng, n, L):
    return np.where(rng.random((n, L)) < 0.5, -1, 1).astype(np.int8)


def make_problem(kind, seed=0, Q=25, N=200, L=6):
    """Small random problem with heavy ties (6 bits -> 7 distance values)."""
    rng = np.random.default_rng(seed)
    q, d = random_codes(rng, Q, L), random_codes(rng, N, L)
    if kind == "single":
        ql = rng.integers(0, 5, Q)
        dl = rng.integers(0, 5, N)
        ql[0] = 99  # a query with no relevant item in the database
    else:
        ql = (rng.random((Q, 6)) < 0.25).astype(np.int64)
        dl = (rng.random((N, 6)) < 0.25).astype(np.int64)
        ql[0] = 0  # no label -> nothing relevant
    return q, d, ql, dl


KINDS = ["single", "multi"]


# --------------------------------------------------------------------------- relevance
@pytest.mark.parametrize("kind", KINDS)
def test_relevance_rule(kind):
    q, d, ql, dl = make_problem(kind, seed=1)
    rel = M.relevance(ql, dl)
    assert rel.dtype == bool and rel.shape == (len(ql), len(dl))
    for i in range(len(ql)):
        np.testing.assert_array_equal(rel[i], bf_rel_row(ql[i], dl))
    assert not rel[0].any()


def test_one_hot_labels_equal_class_ids():
    rng = np.random.default_rng(2)
    ql, dl = rng.integers(0, 4, 10), rng.integers(0, 4, 30)
    np.testing.assert_array_equal(M.relevance(np.eye(4)[ql], np.eye(4)[dl]), M.relevance(ql, dl))


# --------------------------------------------------------------------------- mAP
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("topk", [None, 1, 7, 50, 200, 1000])
def test_map_matches_brute_force(kind, topk):
    q, d, ql, dl = make_problem(kind, seed=3)
    got = M.mean_average_precision(q, d, ql, dl, topk=topk)
    assert got == pytest.approx(bf_map(q, d, ql, dl, topk), abs=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_map_independent_of_batch_size(kind):
    q, d, ql, dl = make_problem(kind, seed=4)
    ref = M.mean_average_precision(q, d, ql, dl, topk=30)
    for bs in (1, 4, 1000):
        assert M.mean_average_precision(q, d, ql, dl, topk=30, batch_size=bs) == pytest.approx(ref, abs=1e-14)


def no_tie_problem(seed, Q=6, N=50, L=64, n_classes=3):
    """Each query's database items sit at pairwise distinct Hamming distances."""
    rng = np.random.default_rng(seed)
    q = random_codes(rng, Q, L)
    ql = rng.integers(0, n_classes, Q)
    dl = rng.integers(0, n_classes, N)
    dl[:n_classes] = np.arange(n_classes)  # every query has a relevant item
    # one query: database = q0 with a random number of flipped bits, all counts distinct
    flips = rng.choice(L + 1, size=N, replace=False)
    d = np.repeat(q[:1], N, axis=0)
    for j, f in enumerate(flips):
        d[j, rng.choice(L, size=f, replace=False)] *= -1
    return q[:1], d, ql[:1], dl


@pytest.mark.parametrize("seed", range(5))
def test_map_equals_sklearn_average_precision_without_ties(seed):
    q, d, ql, dl = no_tie_problem(seed)
    D = bf_dist(q, d)[0]
    assert len(set(D.tolist())) == len(D)  # really no ties
    ref = average_precision_score(dl == ql[0], -D)
    assert M.mean_average_precision(q, d, ql, dl) == pytest.approx(ref, abs=1e-12)
    assert M.tie_aware_average_precision(q, d, ql, dl) == pytest.approx(ref, abs=1e-12)
    for k in (1, 10, 33):  # no tie can straddle a cut -> tie-aware AP@k == AP@k
        assert M.tie_aware_average_precision(q, d, ql, dl, topk=k) == pytest.approx(
            M.mean_average_precision(q, d, ql, dl, topk=k), abs=1e-12
        )


def test_map_ties_broken_by_database_index():
    q = np.ones((1, 4), dtype=np.int8)
    d = np.ones((4, 4), dtype=np.int8)  # all four items tied at distance 0
    ql = np.array([1])
    # ranking is 0,1,2,3 -> relevance 0,1,1,0 -> AP = (1/2 + 2/3) / 2
    assert M.mean_average_precision(q, d, ql, np.array([0, 1, 1, 0])) == pytest.approx((1 / 2 + 2 / 3) / 2)
    # relevance 1,1,0,0 -> AP = 1
    assert M.mean_average_precision(q, d, ql, np.array([1, 1, 0, 0])) == pytest.approx(1.0)
    # relevance 0,0,1,1 -> AP = (1/3 + 2/4) / 2
    assert M.mean_average_precision(q, d, ql, np.array([0, 0, 1, 1])) == pytest.approx((1 / 3 + 2 / 4) / 2)
    # a closer item always comes first, whatever its index
    d2 = d.copy()
    d2[:3, 0] = -1  # items 0..2 at distance 1, item 3 at distance 0
    assert M.mean_average_precision(q, d2, ql, np.array([0, 0, 0, 1])) == pytest.approx(1.0)


def test_query_without_relevant_items_counts_as_zero():
    q = np.array([[1, 1, 1], [1, 1, 1]], dtype=np.int8)
    d = np.array([[1, 1, 1], [-1, -1, -1], [1, 1, -1]], dtype=np.int8)
    dl = np.array([0, 1, 1])
    ql = np.array([0, 7])  # query 1: class absent from the database
    assert M.mean_average_precision(q, d, ql, dl) == pytest.approx(0.5)
    assert M.mean_average_precision(q, d, ql, dl, topk=1) == pytest.approx(0.5)
    # mAP@k: relevant items exist but none in the top k -> 0 and still counted
    ql2 = np.array([0, 1])  # query 1 relevant items are at ranks 2 and 3
    assert M.mean_average_precision(q, d, ql2, dl, topk=1) == pytest.approx(0.5)
    assert M.tie_aware_average_precision(q, d, ql2, dl, topk=1) == pytest.approx(0.5)
    aps = M.average_precisions(q, d, ql2, dl, topk=2)
    np.testing.assert_allclose(aps, [1.0, 0.5])


# --------------------------------------------------------------------------- tie-aware AP
def enumerate_tie_orders(dist_row):
    """All rankings obtained by permuting items inside every equal-distance block."""
    blocks = [np.flatnonzero(dist_row == v) for v in np.unique(dist_row)]
    for perms in itertools.product(*[itertools.permutations(b) for b in blocks]):
        yield np.concatenate([np.asarray(p, dtype=int) for p in perms])


@pytest.mark.parametrize("kind", KINDS)
def test_tie_aware_exact_enumeration_tiny(kind):
    # 2-bit codes, 9 items -> blocks of sizes like 2/4/3: every tie order is enumerated
    q, d, ql, dl = make_problem(kind, seed=5, Q=6, N=9, L=2)
    if kind == "single":
        ql[0] = dl[0]  # keep some relevance for query 0 as well
    D = bf_dist(q, d)
    for topk in [None, 1, 2, 3, 4, 5, 6, 8, 9]:
        k = 9 if topk is None else topk
        got = M.average_precisions(q, d, ql, dl, topk=topk, tie_aware=True)
        for i in range(len(q)):
            rel = bf_rel_row(ql[i], dl)
            vals = [bf_ap_of_relseq(rel[o][:k]) for o in enumerate_tie_orders(D[i])]
            assert got[i] == pytest.approx(np.mean(vals), abs=1e-12), (topk, i)
        assert M.tie_aware_average_precision(q, d, ql, dl, topk=topk) == pytest.approx(got.mean(), abs=1e-15)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("topk", [None, 40])
def test_tie_aware_monte_carlo_heavy_ties(kind, topk):
    q, d, ql, dl = make_problem(kind, seed=6, Q=4, N=200, L=6)
    D = bf_dist(q, d)
    got = M.average_precisions(q, d, ql, dl, topk=topk, tie_aware=True)
    rng = np.random.default_rng(0)
    k = 200 if topk is None else topk
    for i in range(len(q)):
        rel = bf_rel_row(ql[i], dl)
        samples = []
        for _ in range(3000):
            order = np.lexsort((rng.random(len(d)), D[i]))  # random order inside ties
            samples.append(bf_ap_of_relseq(rel[order][:k]))
        se = np.std(samples) / np.sqrt(len(samples))
        assert abs(got[i] - np.mean(samples)) <= 4 * se + 1e-12, (i, got[i], np.mean(samples), se)


def test_tie_aware_differs_from_index_tie_break_when_tied():
    q = np.ones((1, 4), dtype=np.int8)
    d = np.ones((4, 4), dtype=np.int8)
    ql, dl = np.array([1]), np.array([1, 0, 0, 0])
    assert M.mean_average_precision(q, d, ql, dl) == pytest.approx(1.0)
    # relevant item uniformly at rank 1..4 -> E[1/rank] = (1 + 1/2 + 1/3 + 1/4) / 4
    assert M.tie_aware_average_precision(q, d, ql, dl) == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)


# --------------------------------------------------------------------------- sanity
def test_class_codewords_give_perfect_scores():
    rng = np.random.default_rng(7)
    L, n_classes = 16, 10
    book = random_codes(rng, n_classes, L)
    while len({tuple(r) for r in book}) < n_classes:
        book = random_codes(rng, n_classes, L)
    ql, dl = rng.integers(0, n_classes, 50), rng.integers(0, n_classes, 400)
    q, d = book[ql], book[dl]
    assert M.mean_average_precision(q, d, ql, dl) == pytest.approx(1.0)
    assert M.mean_average_precision(q, d, ql, dl, topk=20) == pytest.approx(1.0)
    assert M.tie_aware_average_precision(q, d, ql, dl) == pytest.approx(1.0)
    P, R = M.precision_recall_within_radius(q, d, ql, dl, radius=0)
    assert (P, R) == (pytest.approx(1.0), pytest.approx(1.0))


def test_random_codes_give_chance_map():
    rng = np.random.default_rng(8)
    Q, N, L = 60, 4000, 48
    q, d = random_codes(rng, Q, L), random_codes(rng, N, L)
    ql, dl = rng.integers(0, 10, Q), np.arange(N) % 10  # balanced: 10% relevant
    m = M.mean_average_precision(q, d, ql, dl)
    assert 0.09 < m < 0.125, m
    assert 0.09 < M.tie_aware_average_precision(q, d, ql, dl) < 0.125
    assert M.precision_at_n(q, d, ql, dl, [N])[0] == pytest.approx(0.1)


# --------------------------------------------------------------------------- radius metrics
@pytest.mark.parametrize("kind", KINDS)
def test_pr_curve_by_radius_matches_brute_force(kind):
    q, d, ql, dl = make_problem(kind, seed=9)
    curve = M.pr_curve_by_radius(q, d, ql, dl)
    L = q.shape[1]
    np.testing.assert_array_equal(curve["radius"], np.arange(L + 1))
    for r in range(L + 1):
        P, R = bf_radius(q, d, ql, dl, r)
        assert curve["precision"][r] == pytest.approx(P, abs=1e-12)
        assert curve["recall"][r] == pytest.approx(R, abs=1e-12)
    alias = M.precision_recall_vs_radius(q, d, ql, dl)
    np.testing.assert_array_equal(alias["precision"], curve["precision"])
    np.testing.assert_array_equal(alias["recall"], curve["recall"])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("radius", [0, 1, 2, 3, 10])
def test_precision_recall_within_radius_matches_brute_force(kind, radius):
    q, d, ql, dl = make_problem(kind, seed=10, L=12)  # 12 bits: many empty retrievals at r <= 2
    P, R = M.precision_recall_within_radius(q, d, ql, dl, radius=radius)
    bP, bR = bf_radius(q, d, ql, dl, radius)
    assert P == pytest.approx(bP, abs=1e-12)
    assert R == pytest.approx(bR, abs=1e-12)


def test_empty_retrieval_precision_is_zero():
    q = np.array([[1, 1, 1, 1], [1, 1, 1, 1]], dtype=np.int8)
    d = np.array([[1, 1, 1, 1], [-1, -1, -1, -1]], dtype=np.int8)
    q[1] = [-1, -1, 1, 1]  # distance 2 from both items
    ql, dl = np.array([0, 0]), np.array([0, 1])
    P, R = M.precision_recall_within_radius(q, d, ql, dl, radius=1)
    # query 0 retrieves item 0 (relevant): P=1, R=1; query 1 retrieves nothing: P=0, R=0
    assert (P, R) == (pytest.approx(0.5), pytest.approx(0.5))


# --------------------------------------------------------------------------- rank metrics
@pytest.mark.parametrize("kind", KINDS)
def test_precision_at_n_matches_brute_force(kind):
    q, d, ql, dl = make_problem(kind, seed=11)
    ns = [1, 5, 13, 100, 200]
    got = M.precision_at_n(q, d, ql, dl, ns)
    assert got.shape == (5,)
    for g, n in zip(got, ns):
        assert g == pytest.approx(bf_at_n(q, d, ql, dl, n)[0], abs=1e-12)
    assert M.precision_at_n(q, d, ql, dl, 13)[0] == pytest.approx(got[2])


@pytest.mark.parametrize("kind", KINDS)
def test_pr_curve_by_rank_matches_brute_force(kind):
    q, d, ql, dl = make_problem(kind, seed=12)
    curve = M.pr_curve_by_rank(q, d, ql, dl, n_points=9)
    np.testing.assert_array_equal(curve["n"], np.unique(np.round(np.linspace(1, 200, 9)).astype(int)))
    for n, p, r in zip(curve["n"], curve["precision"], curve["recall"]):
        bP, bR = bf_at_n(q, d, ql, dl, int(n))
        assert p == pytest.approx(bP, abs=1e-12)
        assert r == pytest.approx(bR, abs=1e-12)
    explicit = M.pr_curve_by_rank(q, d, ql, dl, cutoffs=[3, 1])
    assert explicit["precision"][0] == pytest.approx(bf_at_n(q, d, ql, dl, 3)[0])
    assert explicit["recall"][-1] <= 1.0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("k", [1, 10, 200])
def test_precision_recall_f1_at_k(kind, k):
    q, d, ql, dl = make_problem(kind, seed=13)
    P, R, F1 = M.precision_recall_f1_at_k(q, d, ql, dl, k)
    bP, bR = bf_at_n(q, d, ql, dl, k)
    assert P == pytest.approx(bP, abs=1e-12)
    assert R == pytest.approx(bR, abs=1e-12)
    assert F1 == pytest.approx(2 * bP * bR / (bP + bR), abs=1e-12)  # F1 of the means


# --------------------------------------------------------------------------- collisions
def bf_collision(codes, labels=None):
    n = len(codes)
    hit = 0
    for i in range(n):
        for j in range(n):
            if i != j and np.array_equal(codes[i], codes[j]):
                if labels is None or not bf_rel_row(labels[i], labels[j : j + 1])[0]:
                    hit += 1
                    break
    return hit / n


def test_hash_collision_ratio_hand_example():
    c = np.array([[1, 1], [1, 1], [1, -1], [1, -1], [-1, -1], [-1, 1]], dtype=np.int8)
    y = np.array([0, 1, 2, 2, 0, 0])
    # items 0,1 share a code with different classes; 2,3 share a code, same class
    assert M.hash_collision_ratio(c, y) == pytest.approx(2 / 6)
    assert M.hash_collision_ratio(c) == pytest.approx(4 / 6)
    Y = np.array([[1, 0], [1, 1], [0, 1], [1, 0], [1, 0], [0, 1]])
    # items 0,1 share label 0 -> no collision; items 2,3 share nothing -> both collide
    assert M.hash_collision_ratio(c, Y) == pytest.approx(2 / 6)


@pytest.mark.parametrize("kind", KINDS)
def test_hash_collision_ratio_matches_brute_force(kind):
    _, d, _, dl = make_problem(kind, seed=14, N=120, L=5)
    assert M.hash_collision_ratio(d, dl) == pytest.approx(bf_collision(d, dl))
    assert M.hash_collision_ratio(d) == pytest.approx(bf_collision(d))


# --------------------------------------------------------------------------- evaluate
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("topk", [None, 30])
def test_evaluate_matches_individual_functions(kind, topk):
    q, d, ql, dl = make_problem(kind, seed=15)
    ev = M.evaluate(q, d, ql, dl, topk=topk, batch_size=7)
    assert ev["map"] == pytest.approx(M.mean_average_precision(q, d, ql, dl, topk=topk), abs=1e-14)
    assert ev["map_tie_aware"] == pytest.approx(M.tie_aware_average_precision(q, d, ql, dl, topk=topk), abs=1e-14)
    P, R = M.precision_recall_within_radius(q, d, ql, dl, radius=2)
    assert ev["p_at_h2"] == pytest.approx(P, abs=1e-14)
    assert ev["r_at_h2"] == pytest.approx(R, abs=1e-14)
    curve = M.pr_curve_by_radius(q, d, ql, dl)
    np.testing.assert_allclose(ev["precision_by_radius"], curve["precision"], atol=1e-14)
    assert (ev["n_queries"], ev["n_db"], ev["n_bits"]) == q.shape[:1] + d.shape


# --------------------------------------------------------------------------- hygiene
@pytest.mark.parametrize("kind", KINDS)
def test_inputs_not_modified(kind):
    q, d, ql, dl = make_problem(kind, seed=16)
    d = d.astype(np.float64)
    keep = [a.copy() for a in (q, d, ql, dl)]
    M.evaluate(q, d, ql, dl, topk=20)
    M.mean_average_precision(q, d, ql, dl)
    M.tie_aware_average_precision(q, d, ql, dl, topk=20)
    M.pr_curve_by_radius(q, d, ql, dl)
    M.pr_curve_by_rank(q, d, ql, dl)
    M.precision_at_n(q, d, ql, dl, [5])
    M.precision_recall_f1_at_k(q, d, ql, dl, 5)
    M.hash_collision_ratio(d, dl)
    M.relevance(ql, dl)
    for a, b in zip((q, d, ql, dl), keep):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype


def test_bad_inputs_raise():
    q, d, ql, dl = make_problem("single", seed=17)
    _, _, mql, mdl = make_problem("multi", seed=17)
    with pytest.raises(ValueError):
        M.mean_average_precision(q, d, ql[:-1], dl)  # label count mismatch
    with pytest.raises(ValueError):
        M.mean_average_precision(q, d, ql, dl[:-1])
    with pytest.raises(ValueError):
        M.mean_average_precision(q, d, ql, mdl)  # 1-D vs 2-D labels
    with pytest.raises(ValueError):
        M.mean_average_precision(q, d, mql[:, :3], mdl)  # label widths differ
    with pytest.raises(ValueError):
        M.mean_average_precision(q, d, mql * 2, mdl)  # not multi-hot
    with pytest.raises(ValueError):
        M.mean_average_precision((q + 1) // 2, d, ql, dl)  # {0,1} codes
    with pytest.raises(ValueError):
        M.mean_average_precision(q[:, :5], d, ql, dl)  # bit lengths differ
    with pytest.raises(ValueError):
        M.mean_average_precision(q, d, ql, dl, topk=0)
    with pytest.raises(ValueError):
        M.precision_at_n(q, d, ql, dl, [0])
    with pytest.raises(ValueError):
        M.precision_at_n(q, d, ql, dl, [len(d) + 1])
    with pytest.raises(ValueError):
        M.precision_recall_within_radius(q, d, ql, dl, radius=-1)
