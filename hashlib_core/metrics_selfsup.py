"""Readings of paper 003's Table I (precision, recall, F1, mAP "@10000") and Table II (collision ratio).

Kim et al. §IV define the metrics only in words: "Search calculates the Hamming distance between
the hash code generated from the query image and the hash code from the search database, and
returns the image with the shortest distance"; precision = "relevant images out of all images
retrieved", recall = "relevant images retrieved out of all images in the data set", F1 their
harmonic mean; "@10000" is not defined. Our main reading and the alternatives that could explain
the paper's unusually high numbers are formulas in docs/decisions.md ("Paper 003"); each is one
function here, and :func:`table1_readings` / :func:`collision_readings` put them side by side.

Conventions are :mod:`hashlib_core.metrics`'s: relevance = same class (1-D labels) or a shared
label (multi-hot); ranking by Hamming distance, ties by database index; macro means over queries;
a query with nothing relevant has recall 0 and counts in the mean.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from . import metrics
from .codes import _check_pair, _to_numpy, check_codes, iter_hamming_batches, pack

__all__ = [
    "shortest_distance_prf",
    "first_hit_precision",
    "nn_label_prf",
    "with_queries_in_database",
    "table1_readings",
    "collision_readings",
]


def _labels_pair(query_labels, db_labels, n_q: int, n_db: int) -> Tuple[np.ndarray, np.ndarray]:
    ql, dl = _to_numpy(query_labels), _to_numpy(db_labels)
    if ql.shape[0] != n_q or dl.shape[0] != n_db:
        raise ValueError(f"labels have {ql.shape[0]} query / {dl.shape[0]} database rows for "
                         f"{n_q} query / {n_db} database codes")
    return ql, dl


def _prf(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if (p + r) > 0 else 0.0


def shortest_distance_prf(query_codes, db_codes, query_labels, db_labels,
                          batch_size: Optional[int] = None) -> Dict[str, float]:
    """Precision / recall / F1 of the items at the query's **shortest** Hamming distance.

    Per query q with d_min(q) = min_j d(q, j): retrieved R_q = {j : d(q, j) = d_min(q)} (all ties),
    ``P_q = |R_q ∩ rel_q| / |R_q|``, ``Rec_q = |R_q ∩ rel_q| / |rel_q|`` (0 if rel_q is empty).
    Returns macro means ``precision``, ``recall``, ``f1 = 2PR/(P+R)`` of those means, the mean of
    per-query F1s ``f1_per_query``, and the mean number retrieved ``mean_retrieved``.
    """
    q, d = _check_pair(query_codes, db_codes)
    ql, dl = _labels_pair(query_labels, db_labels, q.shape[0], d.shape[0])
    psum = rsum = f1sum = nret = 0.0
    for start, dist in iter_hamming_batches(q, d, batch_size):
        rel = metrics.relevance(ql[start:start + dist.shape[0]], dl)
        ret = dist == dist.min(axis=1, keepdims=True)
        n_ret = ret.sum(axis=1)
        hit = (ret & rel).sum(axis=1)
        n_rel = rel.sum(axis=1)
        p = hit / n_ret
        r = np.divide(hit, n_rel, out=np.zeros(hit.shape), where=n_rel > 0)
        psum += p.sum()
        rsum += r.sum()
        f1sum += np.divide(2 * p * r, p + r, out=np.zeros(p.shape), where=(p + r) > 0).sum()
        nret += n_ret.sum()
    n = q.shape[0]
    P, R = psum / n, rsum / n
    return {"precision": float(P), "recall": float(R), "f1": _prf(P, R), "f1_per_query": float(f1sum / n),
            "mean_retrieved": float(nret / n)}


def first_hit_precision(query_codes, db_codes, query_labels, db_labels, batch_size: Optional[int] = None) -> float:
    """Fraction of queries whose first ranked item (shortest distance, ties by index) is relevant (P@1)."""
    return float(metrics.precision_at_n(query_codes, db_codes, query_labels, db_labels, ns=[1],
                                        batch_size=batch_size)[0])


def _first_hits(q: np.ndarray, d: np.ndarray, batch_size: Optional[int]) -> np.ndarray:
    out = np.empty(q.shape[0], dtype=np.int64)
    for start, dist in iter_hamming_batches(q, d, batch_size):
        out[start:start + dist.shape[0]] = dist.argmin(axis=1)  # first minimum = lowest index
    return out


def nn_label_prf(query_codes, db_codes, query_labels, db_labels,
                 batch_size: Optional[int] = None) -> Dict[str, float]:
    """Classification scores of the first hit's label as a prediction of the query's label.

    Single-label data only. ``predicted_q = label of the first ranked item``; returns scikit-learn's
    macro ``precision``, ``recall``, ``f1`` (``precision_recall_fscore_support(average="macro")``)
    and the ``accuracy`` (= :func:`first_hit_precision`). This reading makes P, R and F1 nearly
    equal, as they are in the paper's Table I.
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    q, d = _check_pair(query_codes, db_codes)
    ql, dl = _labels_pair(query_labels, db_labels, q.shape[0], d.shape[0])
    if ql.ndim != 1 or dl.ndim != 1:
        raise ValueError("nn_label_prf needs 1-D class labels (a first hit's label predicts one class)")
    pred = dl[_first_hits(q, d, batch_size)]
    p, r, f, _ = precision_recall_fscore_support(ql, pred, average="macro", zero_division=0)
    return {"precision": float(p), "recall": float(r), "f1": float(f), "accuracy": float(accuracy_score(ql, pred))}


def with_queries_in_database(query_codes, db_codes, query_labels, db_labels,
                             position: str = "end") -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(query codes, database + queries, query labels, database + query labels): every query is also
    a database item, at distance 0 from itself. ``position="end"`` appends the queries after the
    database (an identical code at a lower database index still ranks first); ``"start"`` puts them
    first, so a query's own copy wins every tie."""
    q, d = _check_pair(query_codes, db_codes)
    ql, dl = _labels_pair(query_labels, db_labels, q.shape[0], d.shape[0])
    if ql.ndim != dl.ndim:
        raise ValueError("query and database labels must be of the same kind")
    if position == "end":
        return q, np.concatenate([d, q]), ql, np.concatenate([dl, ql])
    if position == "start":
        return q, np.concatenate([q, d]), ql, np.concatenate([ql, dl])
    raise ValueError(f"position must be 'end' or 'start', got {position!r}")


def table1_readings(query_codes, db_codes, query_labels, db_labels, k: int = 10000,
                    map_cutoffs: Sequence[int] = (10, 100, 1000),
                    batch_size: Optional[int] = None) -> Dict[str, Dict[str, float]]:
    """Every reading of Table I on the same codes: ``{reading: {metric: value}}``.

    * ``main`` -- disjoint queries / database; P, R, F1 of the shortest-distance retrieval
      (:func:`shortest_distance_prf`); mAP of the whole ranking;
    * ``cutoff_k`` -- "@10000" as a cut-off: P, R, F1 of the top min(k, N) and mAP@min(k, N);
    * ``queries_in_db`` / ``queries_in_db_first`` -- ``main`` with the queries also in the
      database (:func:`with_queries_in_database`, appended / put first);
    * ``first_hit`` -- precision of the first hit only (P@1 = mAP@1), disjoint; and with the
      queries in the database (put first): ``first_hit_self``;
    * ``nn_label`` / ``nn_label_self`` -- :func:`nn_label_prf`, disjoint / queries first in the
      database (single-label data only);
    * ``map_at_<c>`` / ``map_at_<c>_self`` -- mAP@c for each c of ``map_cutoffs`` (≤ N), disjoint /
      with the queries first in the database.
    """
    q, d = _check_pair(query_codes, db_codes)
    ql, dl = _labels_pair(query_labels, db_labels, q.shape[0], d.shape[0])
    kk = min(int(k), d.shape[0])
    out: Dict[str, Dict[str, float]] = {}

    def main_of(qc, dc, qlab, dlab):
        r = shortest_distance_prf(qc, dc, qlab, dlab, batch_size)
        r["map"] = metrics.mean_average_precision(qc, dc, qlab, dlab, batch_size=batch_size)
        return r

    out["main"] = main_of(q, d, ql, dl)
    P, R, F = metrics.precision_recall_f1_at_k(q, d, ql, dl, kk, batch_size=batch_size)
    out[f"cutoff_{k}"] = {"precision": P, "recall": R, "f1": F, "k_used": float(kk),
                          "map": metrics.mean_average_precision(q, d, ql, dl, topk=kk, batch_size=batch_size)}
    end = with_queries_in_database(q, d, ql, dl, "end")
    start = with_queries_in_database(q, d, ql, dl, "start")
    out["queries_in_db"] = main_of(*end)
    out["queries_in_db_first"] = main_of(*start)
    out["first_hit"] = {"precision": first_hit_precision(q, d, ql, dl, batch_size)}
    out["first_hit_self"] = {"precision": first_hit_precision(*start, batch_size=batch_size)}
    if ql.ndim == 1:
        out["nn_label"] = nn_label_prf(q, d, ql, dl, batch_size)
        out["nn_label_self"] = nn_label_prf(*start, batch_size=batch_size)
    for c in map_cutoffs:
        if int(c) <= d.shape[0]:
            out[f"map_at_{int(c)}"] = {"map": metrics.mean_average_precision(q, d, ql, dl, topk=int(c),
                                                                              batch_size=batch_size)}
            out[f"map_at_{int(c)}_self"] = {"map": metrics.mean_average_precision(*start, topk=int(c),
                                                                                   batch_size=batch_size)}
    return out


def collision_readings(codes, labels=None) -> Dict[str, float]:
    """Table II's "collided hashes / test images × 100" under four readings, in percent.

    With n codes, groups of identical codes g of size n_g:

    * ``items_sharing`` -- items whose code another item also has: Σ_{n_g ≥ 2} n_g / n
      (:func:`hashlib_core.metrics.hash_collision_ratio` without labels; our main reading);
    * ``surplus_items`` -- items beyond the first in each group: (n - #groups) / n;
    * ``shared_codes`` -- codes held by at least two items: #{g : n_g ≥ 2} / n;
    * ``items_sharing_other_label`` (labels given) -- items sharing their code with an item that
      is not relevant to them (``hash_collision_ratio(codes, labels)``).
    """
    c = check_codes(codes)
    n = c.shape[0]
    if n == 0:
        raise ValueError("no codes")
    _, counts = np.unique(pack(c), axis=0, return_counts=True)
    out = {
        "items_sharing": 100.0 * metrics.hash_collision_ratio(c),
        "surplus_items": 100.0 * (n - counts.size) / n,
        "shared_codes": 100.0 * int((counts >= 2).sum()) / n,
        "distinct_codes": float(counts.size),
    }
    if labels is not None:
        out["items_sharing_other_label"] = 100.0 * metrics.hash_collision_ratio(c, labels)
    return out
