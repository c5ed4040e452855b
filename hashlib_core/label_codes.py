"""Multi-hot label codes (paper 004 §3.3, §4.1): DSHC's multi-label code is the predicted label
vector, and §4.1 ranks such codes by a distance that counts only shared *ones*."""
from __future__ import annotations

from typing import Optional

import numpy as np

from hashlib_core import codes as codes_mod
from hashlib_core.metrics import _ap_ranked, _check_topk, _Labels

__all__ = ["multilabel_distance", "multilabel_average_precisions", "multilabel_map"]



def multilabel_distance(query_codes, db_codes) -> np.ndarray:
    """§4.1: codes mapped −1 → 0 and ``dist = (L − ⟨b_q, b_d⟩) / 2`` — only shared ones make two
    codes closer. Returned doubled (``L − ⟨b_q, b_d⟩``, int) so it stays an integer; the order is
    the same. Shape (Q, N)."""
    q = codes_mod.to_01(query_codes).astype(np.int64)
    d = codes_mod.to_01(db_codes).astype(np.int64)
    if q.shape[1] != d.shape[1]:
        raise ValueError(f"codes have different lengths: {q.shape[1]} vs {d.shape[1]}")
    return q.shape[1] - q @ d.T


def multilabel_average_precisions(query_codes, db_codes, query_labels, db_labels, topk: Optional[int] = None,
                                  batch_size: int = 256) -> np.ndarray:
    """Per-query AP@topk when ranking by :func:`multilabel_distance` (ties by database index, the
    conventions of :func:`hashlib_core.metrics.mean_average_precision`)."""
    qc = codes_mod.check_codes(query_codes, "query_codes")
    dc = codes_mod.check_codes(db_codes, "db_codes")
    lab = _Labels(query_labels, db_labels, qc.shape[0], dc.shape[0])
    k = _check_topk(topk, dc.shape[0])
    out = np.empty(qc.shape[0])
    for s in range(0, qc.shape[0], batch_size):
        e = min(qc.shape[0], s + batch_size)
        dist = multilabel_distance(qc[s:e], dc).astype(np.uint16)
        out[s:e] = _ap_ranked(dist, lab.batch(s, e), k)
    return out


def multilabel_map(query_codes, db_codes, query_labels, db_labels, topk: Optional[int] = None) -> float:
    """mAP@topk under §4.1's distance for multi-hot codes."""
    return float(multilabel_average_precisions(query_codes, db_codes, query_labels, db_labels, topk).mean())
