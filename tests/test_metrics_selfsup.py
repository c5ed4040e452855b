"""Readings of paper 003's Table I / II metrics against brute-force computations."""
import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

from hashlib_core import metrics
from hashlib_core.metrics_selfsup import (collision_readings, first_hit_precision, nn_label_prf,
                                          shortest_distance_prf, table1_readings, with_queries_in_database)


def _codes(n, bits, seed):
    return np.where(np.random.default_rng(seed).random((n, bits)) < 0.5, -1, 1).astype(np.int8)


def _dist(q, d):
    return ((q[:, None, :] != d[None, :, :]).sum(-1))


@pytest.fixture
def problem():
    # 6 bits: many ties, so "all items at the shortest distance" is more than one item
    q, d = _codes(40, 6, 0), _codes(120, 6, 1)
    rng = np.random.default_rng(2)
    return q, d, rng.integers(0, 4, 40), rng.integers(0, 4, 120)


def test_shortest_distance_prf_brute_force(problem):
    q, d, ql, dl = problem
    D = _dist(q, d)
    P, R, F = [], [], []
    for i in range(len(q)):
        ret = D[i] == D[i].min()
        rel = dl == ql[i]
        hit = (ret & rel).sum()
        p, r = hit / ret.sum(), (hit / rel.sum() if rel.sum() else 0.0)
        P.append(p), R.append(r), F.append(2 * p * r / (p + r) if p + r else 0.0)
    got = shortest_distance_prf(q, d, ql, dl, batch_size=7)
    assert got["precision"] == pytest.approx(np.mean(P))
    assert got["recall"] == pytest.approx(np.mean(R))
    assert got["f1_per_query"] == pytest.approx(np.mean(F))
    assert got["f1"] == pytest.approx(2 * np.mean(P) * np.mean(R) / (np.mean(P) + np.mean(R)))
    assert got["mean_retrieved"] > 1  # ties are retrieved together


def test_first_hit_and_nn_label_brute_force(problem):
    q, d, ql, dl = problem
    first = _dist(q, d).argmin(axis=1)  # first minimum = lowest database index
    assert first_hit_precision(q, d, ql, dl) == pytest.approx(np.mean(dl[first] == ql))
    got = nn_label_prf(q, d, ql, dl, batch_size=5)
    p, r, f, _ = precision_recall_fscore_support(ql, dl[first], average="macro", zero_division=0)
    assert (got["precision"], got["recall"], got["f1"]) == pytest.approx((p, r, f))
    assert got["accuracy"] == pytest.approx(np.mean(dl[first] == ql))
    with pytest.raises(ValueError, match="1-D class labels"):
        nn_label_prf(q, d, np.eye(4)[ql], np.eye(4)[dl])


def test_queries_in_the_database_retrieve_themselves(problem):
    q, d, ql, dl = problem
    q2, d2, ql2, dl2 = with_queries_in_database(q, d, ql, dl, "start")
    assert d2.shape == (160, 6) and np.array_equal(d2[:40], q)
    # the first hit is the first query holding the same code (itself, unless an earlier query shares it)
    D2 = _dist(q2, d2)
    first = D2.argmin(axis=1)
    assert np.all(D2[np.arange(40), first] == 0) and np.all(first <= np.arange(40))
    assert first_hit_precision(q2, d2, ql2, dl2) == pytest.approx(np.mean(dl2[first] == ql))
    # with distinct query codes every query retrieves itself first
    qu = _codes(40, 32, 5)
    assert len({r.tobytes() for r in qu}) == 40
    args = with_queries_in_database(qu, d[:, :1].repeat(32, axis=1), ql, dl, "start")
    assert first_hit_precision(*args) == 1.0 and nn_label_prf(*args)["accuracy"] == 1.0
    q3, d3, ql3, dl3 = with_queries_in_database(q, d, ql, dl, "end")
    assert np.array_equal(d3[120:], q) and np.array_equal(dl3[120:], ql)
    # at the end a query's own copy only wins ties it has alone
    assert first_hit_precision(q3, d3, ql3, dl3) <= 1.0
    with pytest.raises(ValueError, match="position"):
        with_queries_in_database(q, d, ql, dl, "middle")


def test_table1_readings(problem):
    q, d, ql, dl = problem
    t = table1_readings(q, d, ql, dl, k=10000, map_cutoffs=(10, 1000))
    assert set(t) == {"main", "cutoff_10000", "queries_in_db", "queries_in_db_first", "first_hit",
                      "first_hit_self", "nn_label", "nn_label_self", "map_at_10", "map_at_10_self"}
    assert t["main"]["map"] == pytest.approx(metrics.mean_average_precision(q, d, ql, dl))
    # "@10000" as a cut-off beyond the 120-item database: everything is retrieved
    c = t["cutoff_10000"]
    has_rel = np.array([(dl == y).any() for y in ql])
    assert c["k_used"] == 120 and c["recall"] == pytest.approx(has_rel.mean())
    assert c["precision"] == pytest.approx(np.mean([(dl == y).mean() for y in ql]))
    start = with_queries_in_database(q, d, ql, dl, "start")
    assert t["first_hit_self"]["precision"] == first_hit_precision(*start)
    assert t["queries_in_db_first"]["map"] == pytest.approx(metrics.mean_average_precision(*start))
    assert t["map_at_10_self"]["map"] == pytest.approx(metrics.mean_average_precision(*start, topk=10))
    assert t["map_at_10"]["map"] == pytest.approx(metrics.mean_average_precision(q, d, ql, dl, topk=10))


def test_collision_readings_on_a_hand_made_example():
    a, b, c = [1, 1, -1], [1, -1, -1], [-1, -1, -1]
    codes = np.array([a, a, b, c, c, c], dtype=np.int8)
    labels = np.array([0, 0, 1, 2, 2, 3])
    got = collision_readings(codes, labels)
    assert got["items_sharing"] == pytest.approx(100 * 5 / 6)
    assert got["surplus_items"] == pytest.approx(100 * 3 / 6)
    assert got["shared_codes"] == pytest.approx(100 * 2 / 6)
    assert got["distinct_codes"] == 3
    assert got["items_sharing_other_label"] == pytest.approx(100 * 3 / 6)  # the three c's mix classes 2 and 3
    assert "items_sharing_other_label" not in collision_readings(codes)


def test_multi_hot_labels_on_a_hand_computed_example():
    """Paper 003's NUS-WIDE column: relevant = at least one shared label. Two queries, five database
    items, 4-bit codes; every number below is worked out by hand (docs/decisions.md, "Paper 003")."""
    from types import SimpleNamespace

    from hashlib_core.methods.selfsup import readings_metrics

    P, N = 1, -1
    q = np.array([[P, P, P, P], [N, N, N, N]], dtype=np.int8)
    ql = np.array([[1, 0, 0], [0, 1, 1]], dtype=np.uint8)
    d = np.array([[P, P, P, P], [P, P, P, N], [P, P, P, P], [N, N, N, P], [N, N, P, P]], dtype=np.int8)
    dl = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 1], [1, 0, 1]], dtype=np.uint8)
    # q0 (label 0): distances 0 1 0 3 2, relevant d2, d4; at distance 0: d0 (no), d2 (yes) -> P 1/2, R 1/2
    # q1 (labels 1, 2): distances 4 3 4 1 2, relevant d0, d1, d3, d4; at distance 1: d3 (yes) -> P 1, R 1/4
    got = shortest_distance_prf(q, d, ql, dl)
    assert got["precision"] == pytest.approx(0.75) and got["recall"] == pytest.approx(0.375)
    assert got["f1"] == pytest.approx(0.5) and got["f1_per_query"] == pytest.approx((0.5 + 0.4) / 2)
    assert got["mean_retrieved"] == pytest.approx(1.5)
    # ranking q0: d0 d2 d1 d4 d3 -> AP (1/2 + 2/4) / 2 = 0.5; q1: d3 d4 d1 d0 d2 -> AP 1
    t = table1_readings(q, d, ql, dl, k=10000, map_cutoffs=(10,))
    assert t["main"]["map"] == pytest.approx(0.75)
    assert t["first_hit"]["precision"] == pytest.approx(0.5)  # q0's first hit d0 shares no label
    assert t["first_hit_self"]["precision"] == 1.0
    # "@10000" = all 5 items: P = 2/5, 4/5; R = 1
    assert (t["cutoff_10000"]["precision"], t["cutoff_10000"]["recall"]) == pytest.approx((0.6, 1.0))
    assert t["cutoff_10000"]["f1"] == pytest.approx(0.75)
    # queries first in the database: q0 retrieves q0, d0, d2 (2 relevant of its 3); q1 itself (1 of 5)
    assert t["queries_in_db_first"]["precision"] == pytest.approx((2 / 3 + 1) / 2)
    assert t["queries_in_db_first"]["recall"] == pytest.approx((2 / 3 + 1 / 5) / 2)
    assert "nn_label" not in t and "nn_label_self" not in t  # a first hit's label set predicts no class
    assert "map_at_10" not in t  # 10 > 5 items
    # identical codes of items sharing a label are no "other label" collision
    c = collision_readings(np.stack([d[2], q[0], d[3]]), np.stack([dl[2], ql[0], dl[3]]))
    assert c["items_sharing"] == pytest.approx(200 / 3) and c["items_sharing_other_label"] == 0.0
    # a run's readings on such a split: the 7 evaluation codes, 1111 held by d0, d2, q0 of which d0
    # shares no label with the other two
    split = SimpleNamespace(query=SimpleNamespace(labels=ql), database=SimpleNamespace(labels=dl))
    m = readings_metrics(q, d, split)
    assert m["main.map"] == pytest.approx(0.75) and not any(k.startswith("nn_label") for k in m)
    assert m["collision_eval.items_sharing"] == pytest.approx(300 / 7)
    assert m["collision_eval.surplus_items"] == pytest.approx(200 / 7)
    assert m["collision_eval.shared_codes"] == pytest.approx(100 / 7)
    assert m["collision_eval.items_sharing_other_label"] == pytest.approx(300 / 7)
    assert m["collision.items_sharing_other_label"] == pytest.approx(200 / 5)
