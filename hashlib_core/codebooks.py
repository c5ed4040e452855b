"""Code books of DSHC (paper 004, Luo et al., §3.2–3.3): class centres, sub-classes, targets, top-K codes.

C classes, code length L. Every class gets a *centre* code; its *sub-classes* are the centre and
codes near it, so that every intra-class distance is small and inter-class distances are large
(the objective ``D_intra − D_inter`` of eq. (1), :func:`distance_objective`).

* CPBC (:func:`cpbc`): ``L = C·H``; centre i has its i-th H-bit block at +1, the rest −1
  (inter-centre distance 2H). Sub-classes = centre + every single-bit flip, ``CH + 1`` per class,
  ``(CH + 1)·C`` in all; every intra-class distance ≤ 2.
* KBC (:func:`kbc`): k-means (scikit-learn) over all ``2^L`` codes into C clusters, centroids
  binarised as centres; a code is kept as a sub-class of class k when it lies within ``radius``
  (1) of centre k and at distance ≥ ``threshold`` (3) from every other centre; all other codes
  are filtered (§4.4, Table 4).

A network classifies an image into the sub-classes against the multi-hot target of eq. (2)
(:func:`subclass_targets`); the code of an image is the mean of the codes of its top-K predicted
sub-classes, then sign (:func:`topk_code`, :class:`SubclassCodeQuantizer`). Choices:
``docs/decisions.md`` ("DSHC (paper 004)").
"""
from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np
import torch

from hashlib_core import codes as codes_mod

__all__ = ["PAPER_KBC_THRESHOLD", "Construction", "cpbc_centres", "single_flip_subclasses", "cpbc", "kbc",
           "build_construction", "subclass_codes", "code_to_subclass", "distance_objective", "subclass_targets",
           "topk_code", "SubclassCodeQuantizer"]

#: §4.4: "we set the threshold to 3".
PAPER_KBC_THRESHOLD = 3


# --------------------------------------------------------------------------------------------
# Centre constructions and sub-classes (§3.2)
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Construction:
    """Centre codes and the sub-class → code mapping of one construction.

    ``centres`` (C, L) int8 ±1; ``codes`` (S, L) int8 ±1 = the code of sub-class s;
    ``subclass_class`` (S,) int64 = the class sub-class s belongs to (sub-classes of a class are
    contiguous, class 0 first); ``info``: construction details (JSON-serialisable).
    """

    name: str
    centres: np.ndarray
    codes: np.ndarray
    subclass_class: np.ndarray
    info: dict

    @property
    def num_classes(self) -> int:
        return int(self.centres.shape[0])

    @property
    def bits(self) -> int:
        return int(self.centres.shape[1])

    @property
    def num_subclasses(self) -> int:
        return int(self.codes.shape[0])

    def subclasses_of(self, k: int) -> np.ndarray:
        return np.flatnonzero(self.subclass_class == int(k))

    def counts(self) -> np.ndarray:
        """Number of sub-classes of each class."""
        return np.bincount(self.subclass_class, minlength=self.num_classes)

    def num_distinct_codes(self) -> int:
        return int(len(np.unique(self.codes, axis=0)))

    def describe(self) -> dict:
        obj = distance_objective(self.codes, self.subclass_class)
        return {"construction": self.name, "classes": self.num_classes, "bits": self.bits,
                "subclasses": self.num_subclasses, "distinct_codes": self.num_distinct_codes(),
                "min_centre_distance": _min_offdiag(_hamming(self.centres, self.centres)),
                **{k: obj[k] for k in ("max_intra", "min_inter", "objective")}, **self.info}


def _hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Hamming distances of ±1 codes, ``(L − ⟨a, b⟩) / 2`` (§3.1), int64."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    return (a.shape[1] - a @ b.T) // 2


def _min_offdiag(d: np.ndarray) -> int:
    if d.shape[0] < 2:
        return 0
    return int(d[~np.eye(d.shape[0], dtype=bool)].min())


def cpbc_centres(num_classes: int, sub_bits: int) -> np.ndarray:
    """CPBC centres (§3.2): (C, C·H) int8; centre i is +1 on bits ``[iH, (i+1)H)`` and −1 elsewhere."""
    C, H = int(num_classes), int(sub_bits)
    if C < 1 or H < 1:
        raise ValueError(f"CPBC needs num_classes >= 1 and sub_bits >= 1, got C={C}, H={H}")
    centres = -np.ones((C, C * H), dtype=np.int8)
    for i in range(C):
        centres[i, i * H:(i + 1) * H] = 1
    return centres


def single_flip_subclasses(centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-classes of §3.2: each centre, then the centre with bit 0, 1, ..., L−1 flipped.

    Returns ``codes`` ((L+1)·C, L) int8 and ``subclass_class`` ((L+1)·C,). Sub-class id
    ``s = k·(L+1) + j``: ``j = 0`` is centre k, ``j ≥ 1`` is centre k with bit ``j−1`` flipped.
    """
    centres = codes_mod.check_codes(centres, "centres")
    C, L = centres.shape
    block = np.repeat(centres[:, None, :], L + 1, axis=1).astype(np.int8)  # (C, L+1, L)
    j = np.arange(L)
    block[:, j + 1, j] *= -1
    return block.reshape(C * (L + 1), L), np.repeat(np.arange(C, dtype=np.int64), L + 1)


def cpbc(num_classes: int, sub_bits: int) -> Construction:
    """Center Point-Based Construction (§3.2): ``(CH + 1)·C`` sub-classes of length ``L = CH``.

    For H = 1 the single-flip codes of different classes coincide (flipping bit i of centre i
    gives the all −1 code for every i; centre i with bit j flipped = centre j with bit i
    flipped), so the 110 sub-classes of Table 4 (C = 10, L = 10) carry only 56 distinct codes;
    for H ≥ 2 all ``(CH + 1)·C`` codes are distinct.
    """
    centres = cpbc_centres(num_classes, sub_bits)
    codes, owner = single_flip_subclasses(centres)
    return Construction("cpbc", centres, codes, owner,
                        {"sub_bits": int(sub_bits), "candidates": int(len(codes)), "filtered": 0})


def _all_codes(bits: int) -> np.ndarray:
    if bits > 20:
        raise ValueError(f"KBC enumerates all 2^L codes; L={bits} is too long (at most 20)")
    return np.array(list(itertools.product((-1, 1), repeat=int(bits))), dtype=np.int8)


@functools.lru_cache(maxsize=32)
def _kbc_cached(num_classes: int, bits: int, threshold: int, radius: int, seed: int, n_init: int,
                max_tries: int) -> Construction:
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    points = _all_codes(bits)
    tries = []
    for t in range(max_tries):
        rs = int(seed) + 1000 * t
        # one thread: the problem is tiny, and OpenMP threads on a shared 2-core machine made it 100x slower
        with threadpool_limits(1):
            km = KMeans(n_clusters=num_classes, n_init=n_init, random_state=rs).fit(points.astype(np.float64))
        centres = codes_mod.sign(km.cluster_centers_)  # binarised centroids (0 -> +1)
        d = _hamming(points, centres)                 # (2^L, C)
        owner = d.argmin(axis=1)
        own = d[np.arange(len(points)), owner]
        other = np.where(np.arange(num_classes)[None, :] == owner[:, None], np.iinfo(np.int64).max, d).min(axis=1)
        keep = (own <= radius) & (other >= threshold)
        counts = np.bincount(owner[keep], minlength=num_classes)
        tries.append(int(keep.sum()))
        if counts.min() > 0:
            order = np.lexsort((np.arange(len(points))[keep], owner[keep]))  # by class, then code order
            kept_codes = points[keep][order]
            kept_owner = owner[keep][order].astype(np.int64)
            info = {"threshold": int(threshold), "radius": int(radius), "kmeans_seed": rs,
                    "candidates": int(len(points)), "filtered": int(len(points) - keep.sum()),
                    "kmeans_inertia": float(km.inertia_), "rejected_tries": t, "kept_per_try": tries}
            return Construction("kbc", centres, kept_codes, kept_owner, info)
    raise RuntimeError(f"KBC: no k-means run in {max_tries} tries left every class a sub-class "
                       f"(C={num_classes}, L={bits}, threshold={threshold}, radius={radius}); kept per try: {tries}")


def kbc(num_classes: int, bits: int, threshold: int = PAPER_KBC_THRESHOLD, seed: int = 0, radius: int = 1,
        n_init: int = 10, max_tries: int = 20) -> Construction:
    """K-means Based Construction (§3.2, §4.4).

    1. All ``2^L`` codes of length L are clustered into C groups by ``sklearn.cluster.KMeans``
       (``n_init`` restarts, ``random_state=seed``); the C centroids, binarised with sign
       (0 → +1), are the centres.
    2. Filter (our reading of "we set the threshold to 3. 950 points out of 1024 points ... are
       filtered"): a code is kept as a sub-class of its nearest centre k iff its distance to
       centre k is ≤ ``radius`` (1: the centre and its single-bit flips, as in CPBC, so intra-class
       distances stay ≤ 2) and its distance to every other centre is ≥ ``threshold``. Every other
       code is filtered. The number kept depends on the k-means solution (21–96 of 1,024 over
       k-means seeds 0–9 at C = L = 10; the paper reports 74).
    3. A solution that leaves some class without a sub-class is rejected and k-means is rerun
       with ``random_state = seed + 1000·t`` (t = 1, 2, ...); ``info["rejected_tries"]`` says how
       many were rejected.

    Sub-classes are ordered by class, then by code (lexicographic over the −1/+1 bits).
    """
    if threshold < 1 or radius < 0:
        raise ValueError(f"threshold must be >= 1 and radius >= 0, got {threshold}, {radius}")
    if num_classes < 2 or num_classes > 2 ** bits:
        raise ValueError(f"KBC needs 2 <= C <= 2^L, got C={num_classes}, L={bits}")
    return _kbc_cached(int(num_classes), int(bits), int(threshold), int(radius), int(seed), int(n_init),
                       int(max_tries))


def build_construction(kind: str, num_classes: int, bits: int, *, kbc_threshold: int = PAPER_KBC_THRESHOLD,
                       kbc_radius: int = 1, kbc_seed: int = 0) -> Construction:
    """``"cpbc"`` (needs ``bits % num_classes == 0``; H = bits / C) or ``"kbc"``."""
    kind = str(kind).lower()
    if kind == "cpbc":
        if bits % num_classes:
            raise ValueError(f"CPBC needs the code length to be a multiple of the number of classes "
                             f"(L = C·H); got L={bits}, C={num_classes}")
        return cpbc(num_classes, bits // num_classes)
    if kind == "kbc":
        return kbc(num_classes, bits, threshold=kbc_threshold, seed=kbc_seed, radius=kbc_radius)
    raise ValueError(f"construction must be 'cpbc' or 'kbc', got {kind!r}")


def subclass_codes(construction: Construction, subclass_ids) -> np.ndarray:
    """The codes (n, L) int8 of the given sub-class ids (the sub-class → code mapping)."""
    ids = np.asarray(subclass_ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= construction.num_subclasses):
        raise ValueError(f"sub-class ids must lie in 0..{construction.num_subclasses - 1}")
    return construction.codes[ids]


def code_to_subclass(construction: Construction, codes) -> np.ndarray:
    """The inverse mapping: for each code (n, L) the smallest sub-class id with that code, or −1.

    Unique for constructions whose codes are distinct (CPBC with H ≥ 2, KBC); CPBC with H = 1
    maps several sub-classes onto one code and the smallest id is returned.
    """
    c = codes_mod.check_codes(codes, "codes")
    if c.shape[1] != construction.bits:
        raise ValueError(f"codes have {c.shape[1]} bits, the construction {construction.bits}")
    packed = codes_mod.pack(construction.codes)
    lookup: dict[bytes, int] = {}
    for s in range(construction.num_subclasses - 1, -1, -1):  # smallest id wins
        lookup[packed[s].tobytes()] = s
    return np.array([lookup.get(row.tobytes(), -1) for row in codes_mod.pack(c)], dtype=np.int64)


def distance_objective(codes, subclass_class) -> dict:
    """Eq. (1): ``D_inter`` = Σ_{i1} Σ_{i2≠i1} Σ_{j1} Σ_{j2} dist(p_{i1 j1}, p_{i2 j2}) and
    ``D_intra`` = Σ_i Σ_{j1} Σ_{j2} dist(p_{i j1}, p_{i j2}) (ordered pairs, as written), the
    objective ``D_intra − D_inter`` (to minimise), the largest intra-class and the smallest
    inter-class distance."""
    c = codes_mod.check_codes(codes, "codes")
    owner = np.asarray(subclass_class)
    d = _hamming(c, c)
    same = owner[:, None] == owner[None, :]
    intra = int(d[same].sum())
    inter = int(d[~same].sum())
    return {"D_intra": intra, "D_inter": inter, "objective": intra - inter,
            "max_intra": int(d[same].max()) if same.any() else 0,
            "min_inter": int(d[~same].min()) if (~same).any() else 0}


# --------------------------------------------------------------------------------------------
# Targets and encoding (§3.3)
# --------------------------------------------------------------------------------------------


def subclass_targets(labels, construction: Construction, norm: str = "paper") -> torch.Tensor:
    """Eq. (2)'s multi-hot target (n, S) for class ids ``labels``.

    ``norm="paper"``: every sub-class of the true class gets ``1/H`` (§3.3: "we use 1/H instead of
    1/(CH+1)"), H = L / C (CPBC's sub-code length; for KBC the same L / C), so a row sums to
    ``n_k / H`` (``C + 1/H`` for CPBC). ``norm="sum1"``: ``1 / n_k`` (a row sums to 1). With the
    soft cross-entropy of eq. (2) the two differ only by a constant factor per class.
    """
    y = torch.as_tensor(labels).long()
    if y.ndim != 1:
        raise ValueError("DSHC's sub-class target needs 1-D class ids (use dshc-multilabel for multi-hot labels)")
    owner = torch.as_tensor(construction.subclass_class, device=y.device)
    member = (owner[None, :] == y[:, None]).float()
    if norm == "paper":
        h = construction.bits / construction.num_classes
        return member / h
    if norm == "sum1":
        return member / member.sum(dim=1, keepdim=True).clamp_min(1.0)
    raise ValueError(f"target norm must be 'paper' or 'sum1', got {norm!r}")


def topk_code(logits: torch.Tensor, codes: torch.Tensor, k: int) -> torch.Tensor:
    """Mean of the codes of the ``k`` highest-scoring sub-classes: (n, S) × (S, L) → (n, L) float.

    Ties in the scores are broken by ``torch.topk`` (lowest index first on the CPU). The binary
    code is ``sign`` of the result (0 → +1)."""
    k = int(k)
    if not 1 <= k <= logits.shape[1]:
        raise ValueError(f"top-K needs 1 <= K <= {logits.shape[1]} (number of sub-classes), got {k}")
    idx = logits.topk(k, dim=1).indices                # (n, k)
    return codes.to(logits.dtype)[idx].mean(dim=1)


class SubclassCodeQuantizer:
    """DSHC's encoding rule (§3.3): sub-class scores (logits) -> ``sign`` of the mean code of the
    top-``k`` sub-classes. Nothing to fit: the code book is fixed by the construction."""

    needs_fit = False

    def __init__(self, construction: Construction, k: int = 1):
        self.codes = torch.as_tensor(construction.codes, dtype=torch.float32)
        self.k = int(k)
        if not 1 <= self.k <= construction.num_subclasses:
            raise ValueError(f"topk must lie in 1..{construction.num_subclasses}, got {k}")

    def fit(self, train_outputs) -> "SubclassCodeQuantizer":
        return self

    def encode(self, logits) -> np.ndarray:
        return codes_mod.sign(topk_code(torch.as_tensor(np.asarray(logits)), self.codes, self.k))
