"""DSHC: Deep Supervised Hashing by Classification (paper 004, Luo et al.), §3.

Paper: ``../shared/papers/004_6485a438287d2966.txt``. Choices and their sections are listed in
``docs/decisions.md`` ("DSHC (paper 004)").

Single-label data (§3.2–3.3)
    C classes, code length L. Every class gets a *centre* code; its *sub-classes* are the centre
    and codes near it, so that every intra-class distance is small and inter-class distances are
    large (the objective ``D_intra − D_inter`` of eq. (1), :func:`distance_objective`).

    * CPBC (:func:`cpbc`): ``L = C·H``; centre i has its i-th H-bit block at +1, the rest −1
      (inter-centre distance 2H). Sub-classes = centre + every single-bit flip, ``CH + 1`` per
      class, ``(CH + 1)·C`` in all; every intra-class distance ≤ 2.
    * KBC (:func:`kbc`): k-means (scikit-learn) over all ``2^L`` codes into C clusters, centroids
      binarised as centres; a code is kept as a sub-class of class k when it lies within
      ``radius`` (1) of centre k and at distance ≥ ``threshold`` (3) from every other centre;
      all other codes are filtered (§4.4, Table 4).

    A network classifies an image into the sub-classes (softmax over ``(CH + 1)·C`` outputs)
    against the multi-hot target of eq. (2) (:func:`subclass_targets`); the code of an image is
    the mean of the codes of its top-K predicted sub-classes, then sign (:func:`topk_code`).

Multi-label data (§3.3, eq. (3), §4.1)
    The network is a C-way multi-label classifier trained with the soft-margin (= binary
    cross-entropy with logits) loss; the predicted multi-hot label vector *is* the code
    (C bits, ``+1`` where ``p ≥ 0.5``). §4.1's distance for these codes counts only shared
    *ones*: with ``b ∈ {0,1}^L``, ``dist = (L − ⟨b_i, b_j⟩) / 2`` (:func:`multilabel_distance`,
    :func:`multilabel_map`).

Everything trains through :func:`hashlib_core.train.fit` via the ``"dshc"`` and
``"dshc-multilabel"`` entries of :data:`hashlib_core.methods.METHODS`.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hashlib_core import codes as codes_mod
from hashlib_core.models.common import BACKBONES, Backbone, HashOutput, register_backbone

__all__ = [
    "Construction",
    "cpbc_centres",
    "single_flip_subclasses",
    "cpbc",
    "kbc",
    "build_construction",
    "subclass_codes",
    "code_to_subclass",
    "distance_objective",
    "subclass_targets",
    "topk_code",
    "DSHCNet",
    "DSHCMultiLabelNet",
    "DSHCLoss",
    "SoftMarginMultiLabelLoss",
    "dshc_model",
    "dshc_multilabel_model",
    "multilabel_distance",
    "multilabel_average_precisions",
    "multilabel_map",
    "last_epochs_seconds",
    "with_train_subset",
    "ResNetGlobalBackbone",
    "PAPER_KBC_THRESHOLD",
    "PAPER_METHOD",
    "table1_paper_value",
    "table1",
    "table2",
    "comparison_claims",
    "runs_frame",
]

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


# --------------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------------


class ResNetGlobalBackbone(Backbone):
    """torchvision ResNet trunk whose ``"fc1"`` tap is the pooled feature (2048-d for ResNet-50).

    The paper's backbone (§4.1). Registered as ``"resnet50"`` / ``"resnet101"`` when this module is
    imported and no backbone of that name exists; global feature only, full width only."""

    def __init__(self, arch: str = "resnet50", weights=None, progress: bool = True):
        super().__init__()
        from torchvision.models import resnet as tv_resnet

        arch = arch.lower()
        if arch not in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"):
            raise ValueError(f"unknown ResNet {arch!r}")
        enum_cls = getattr(tv_resnet, {"resnet18": "ResNet18_Weights", "resnet34": "ResNet34_Weights",
                                       "resnet50": "ResNet50_Weights", "resnet101": "ResNet101_Weights",
                                       "resnet152": "ResNet152_Weights"}[arch])
        net = getattr(tv_resnet, arch)(weights=None)
        if weights is not None:
            if isinstance(weights, str) and weights.lower() in {"imagenet", "imagenet1k_v1", "default"}:
                sd = enum_cls.IMAGENET1K_V1.get_state_dict(progress=progress, check_hash=True)
            elif isinstance(weights, Mapping):
                sd = weights
            else:
                sd = torch.load(weights, map_location="cpu", weights_only=True)
            net.load_state_dict(sd, strict=True)
        self.global_dim = int(net.fc.in_features)
        net.fc = nn.Identity()
        self.net = net
        self.conv_taps = ()
        self.tap_channels = {}
        self.tap_sizes = {}

    def pretrained_modules(self):
        return [self.net]

    def forward(self, x):
        return {"fc1": self.net(x)}


def _resnet_global_factory(arch: str):
    def factory(*, width, input_size, conv_taps, with_global, weights, dropout, progress):
        if conv_taps:
            raise ValueError(f"the {arch} backbone registered by hashlib_core.dshc yields only the global feature "
                             f"(variant 'fc1'); got conv taps {tuple(conv_taps)}")
        if float(width) != 1.0:
            raise ValueError(f"the torchvision {arch} backbone has no width multiplier; got width={width} "
                             "(use a VGG backbone in the cpu / smoke profiles)")
        return ResNetGlobalBackbone(arch, weights=weights, progress=progress)

    factory.__name__ = f"{arch}_global_backbone"
    return factory


# The paper's ResNet-50 (§4.1) for the `paper` profile — registered only where no backbone of that
# name exists yet, so a multi-scale ResNet registered by hashlib_core.models (MDFF-SH) wins.
for _arch in ("resnet50", "resnet101"):
    if _arch not in BACKBONES:
        register_backbone(_arch, _resnet_global_factory(_arch))


def _global_backbone(name: str, width: float, input_size: int, weights, dropout: float, progress: bool) -> Backbone:
    """A registered backbone built with only its global ``"fc1"`` tap."""
    key = str(name).lower()
    if key not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; registered: {sorted(BACKBONES)}")
    return BACKBONES[key](width=width, input_size=input_size, conv_taps=(), with_global=True,
                          weights=weights, dropout=dropout, progress=progress)


class DSHCNet(nn.Module):
    """Backbone → Linear(global feature → S sub-classes). ``forward(x) -> HashOutput(u, logits)``
    with ``u`` = the top-K averaged sub-class code (:func:`topk_code`) and ``logits`` (n, S)."""

    def __init__(self, backbone: Backbone, construction: Construction, topk: int = 1):
        super().__init__()
        if backbone.global_dim is None:
            raise ValueError("DSHC needs a backbone with a global ('fc1') feature")
        if not 1 <= int(topk) <= construction.num_subclasses:
            raise ValueError(f"topk must lie in 1..{construction.num_subclasses}, got {topk}")
        self.backbone = backbone
        self.classifier = nn.Linear(backbone.global_dim, construction.num_subclasses)
        self.register_buffer("codes", torch.as_tensor(construction.codes, dtype=torch.float32), persistent=False)
        self.construction = construction
        self.topk = int(topk)
        self.bits = construction.bits

    def forward(self, x: torch.Tensor) -> HashOutput:
        return self.forward_taps(self.backbone(x))

    def forward_taps(self, taps) -> HashOutput:
        """Everything after the trunk (what a frozen-trunk run trains: hashlib_core.trunk)."""
        logits = self.classifier(taps["fc1"])
        with torch.no_grad():
            u = topk_code(logits.detach(), self.codes, self.topk)
        return HashOutput(u=u, logits=logits)

    def extra_repr(self) -> str:
        return f"construction={self.construction.name!r}, bits={self.bits}, subclasses={self.construction.num_subclasses}, topk={self.topk}"


class DSHCMultiLabelNet(nn.Module):
    """Backbone → Linear(global feature → C labels). ``forward(x) -> HashOutput(u=logits, logits)``:
    the code is ``sign(logits)``, i.e. the predicted multi-hot labels (+1 where p ≥ 0.5)."""

    def __init__(self, backbone: Backbone, num_labels: int):
        super().__init__()
        if backbone.global_dim is None:
            raise ValueError("DSHC needs a backbone with a global ('fc1') feature")
        self.backbone = backbone
        self.classifier = nn.Linear(backbone.global_dim, int(num_labels))
        self.bits = int(num_labels)

    def forward(self, x: torch.Tensor) -> HashOutput:
        return self.forward_taps(self.backbone(x))

    def forward_taps(self, taps) -> HashOutput:
        logits = self.classifier(taps["fc1"])
        return HashOutput(u=logits, logits=logits)


def dshc_model(bits: int, num_classes: int, *, backbone: str = "vgg19_bn", construction: str = "cpbc",
               topk: int = 1, kbc_threshold: int = PAPER_KBC_THRESHOLD, kbc_radius: int = 1, kbc_seed: int = 0,
               width: float = 1.0, input_size: int = 224, weights=None, dropout: float = 0.5,
               progress: bool = True) -> DSHCNet:
    cons = build_construction(construction, num_classes, bits, kbc_threshold=kbc_threshold,
                              kbc_radius=kbc_radius, kbc_seed=kbc_seed)
    trunk = _global_backbone(backbone, width, input_size, weights, dropout, progress)
    return DSHCNet(trunk, cons, topk=topk)


def dshc_multilabel_model(num_labels: int, *, backbone: str = "vgg19_bn", width: float = 1.0,
                          input_size: int = 224, weights=None, dropout: float = 0.5,
                          progress: bool = True) -> DSHCMultiLabelNet:
    trunk = _global_backbone(backbone, width, input_size, weights, dropout, progress)
    return DSHCMultiLabelNet(trunk, num_labels)


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------


class DSHCLoss:
    """Eq. (2): soft cross-entropy ``−Σ_c y_c log p_c`` against :func:`subclass_targets`, mean over
    the batch. Logs ``ce`` and ``acc`` (the predicted sub-class's class = the true class)."""

    def __init__(self, construction: Construction, norm: str = "paper"):
        self.construction = construction
        self.norm = norm
        self.owner = torch.as_tensor(construction.subclass_class)
        subclass_targets(torch.zeros(1, dtype=torch.long), construction, norm)  # validates norm

    def __call__(self, output, labels, index=None):
        logits = output[1]
        target = subclass_targets(labels, self.construction, self.norm).to(logits.dtype)
        ce = -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
        with torch.no_grad():
            acc = (self.owner.to(logits.device)[logits.argmax(dim=1)] == labels).float().mean()
        return ce, {"ce": float(ce.detach()), "acc": float(acc)}


class SoftMarginMultiLabelLoss:
    """Eq. (3): ``−[y log σ(x) + (1 − y) log σ(−x)]`` averaged over labels and batch
    (``torch.nn.MultiLabelSoftMarginLoss`` = mean BCE with logits), y ∈ {0, 1} multi-hot."""

    def __call__(self, output, labels, index=None):
        logits = output[1]
        y = labels.to(logits.dtype)
        if y.shape != logits.shape:
            raise ValueError(f"multi-hot labels {tuple(y.shape)} do not match the logits {tuple(logits.shape)}")
        loss = F.binary_cross_entropy_with_logits(logits, y)
        with torch.no_grad():
            exact = ((logits >= 0) == (y > 0.5)).all(dim=1).float().mean()
        return loss, {"bce": float(loss.detach()), "exact_match": float(exact)}


# --------------------------------------------------------------------------------------------
# §4.1 distance for the multi-label codes
# --------------------------------------------------------------------------------------------


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
    from hashlib_core.metrics import _ap_ranked, _check_topk, _Labels

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


# --------------------------------------------------------------------------------------------
# Run helpers
# --------------------------------------------------------------------------------------------


def last_epochs_seconds(history: Sequence[Mapping[str, Any]], n: int = 10) -> float:
    """Training time of the last ``n`` epochs (Tables 2–3's "Runtime (last ten epochs)"), from the
    per-epoch ``seconds`` the trainer records; all epochs when there are fewer than ``n``."""
    return float(sum(float(h.get("seconds", 0.0)) for h in list(history)[-int(n):]))


def with_train_subset(config, n_train: Optional[int]):
    """``config`` with its training set cut to a seeded, class-stratified subset of ``n_train``
    images (query and database unchanged), via the protocol subset mechanism (the subset enters
    the split file, its checksum and the run's cache key). No-op when ``n_train`` is falsy or the
    profile already subsets the protocol (smoke)."""
    if not n_train or config.subset:
        return config
    return dataclasses.replace(config, subset={"query": None, "database": None, "train": int(n_train)})


# --------------------------------------------------------------------------------------------
# Notebook helpers (notebooks 10–14): which runs a table needs, and their extra columns
# --------------------------------------------------------------------------------------------


def configs(profile, method: str, protocol: str, bits: Sequence[int], seeds: Sequence[int], *,
            model: Optional[Mapping[str, Any]] = None, loss: Optional[Mapping[str, Any]] = None,
            train: Optional[Mapping[str, Any]] = None, train_subset: Optional[int] = None,
            recipe: Optional[str] = None) -> list:
    """Resolved run configs (:func:`hashlib_core.runner.make_config`, with the profile's named
    ``recipe`` if given) for every (bits, seed), with the training set cut to ``train_subset``
    images where asked (:func:`with_train_subset`)."""
    from hashlib_core.runner import make_config

    return [with_train_subset(make_config(profile, method, protocol, b, s, model=model, loss=loss, train=train,
                                          recipe=recipe),
                              train_subset)
            for b in bits for s in seeds]


def split_methods(names: Sequence[str]) -> tuple[list, list]:
    """(registered, missing) among ``names`` — comparison rows run only for registered methods."""
    from hashlib_core.methods import METHODS

    return [m for m in names if m in METHODS], [m for m in names if m not in METHODS]


def comparison_model(method: str, backbone: str) -> dict:
    """Model overrides that put a comparison method on the same backbone as DSHC (when the method
    takes a ``backbone`` model parameter)."""
    from hashlib_core.methods import METHODS

    return {"backbone": backbone} if "backbone" in METHODS[method].defaults.get("model", {}) else {}


def run_extras(result, map_topk: Optional[int] = None) -> dict:
    """Per-run columns beyond the runner's metrics: training time of the last ten epochs, whole
    training time, and for multi-hot codes the mAP under §4.1's distance."""
    out = {"runtime_last10_s": last_epochs_seconds(result.history, 10),
           "train_s": float(result.timings.get("train_s", float("nan"))),
           "epochs": len(result.history)}
    if result.config.method == "dshc-multilabel":
        split = result.split()
        out["map_sec41"] = multilabel_map(result.query_codes, result.db_codes, split.query.labels,
                                          split.database.labels, topk=map_topk or split.map_topk)
    return out


def runs_frame(results, map_topk: Optional[int] = None):
    """One row per run: :func:`hashlib_core.tables.results_frame` plus :func:`run_extras`."""
    import pandas as pd

    from hashlib_core.tables import results_frame

    extras = pd.DataFrame([run_extras(r, map_topk) for r in results])
    return pd.concat([results_frame(results).reset_index(drop=True), extras], axis=1)


def train_description(result) -> str:
    """What a run trained on, for captions: e.g. "15,000 training images (a seeded, class-stratified
    subset of the protocol's 50,000)"."""
    split = result.split()
    n = len(split.train)
    sub = result.config.subset
    if not sub or sub.get("train") is None:
        return f"all {n:,} training images"
    scope = "; the profile also subsets queries and database" if sub.get("query") or sub.get("database") else ""
    return f"{n:,} training images (a seeded, class-stratified subset{scope})"


def tsne_2d(points, perplexity: float = 30.0, seed: int = 0) -> np.ndarray:
    """scikit-learn t-SNE (``init="pca"``, ``random_state=seed``) of (n, L) codes to 2-D, on one
    thread (OpenMP threads on a shared 2-core machine made it many times slower); the perplexity is
    capped at (n − 1) / 3 so tiny (smoke) samples work."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = np.asarray(points, dtype=np.float32)
    with threadpool_limits(1):
        return TSNE(n_components=2, perplexity=min(float(perplexity), (len(x) - 1) / 3), init="pca",
                    random_state=int(seed)).fit_transform(x)


# --- Paper 004 Tables 1-2 (notebook 10): our runs beside the paper's values -----------------

#: our method name -> the name in paper 004's tables (DSHC's multi-label code is its "DSHC" row)
PAPER_METHOD = {"dshc": "DSHC", "dshc-multilabel": "DSHC", "dpsh": "DPSH", "dsdh": "DSDH"}


def _paper_name(method: str) -> str:
    return PAPER_METHOD.get(method, method.upper())


def table1_paper_value(paper, method: str, dataset: str) -> tuple:
    """(value, bits) of paper 004 Table 1 for our ``method`` on the paper's ``dataset``: the paper's
    own bracketed 30-bit re-run (``variant == "rerun"``) where it has one (DPSH / DSDH on CIFAR-10),
    else its single row; ``(nan, None)`` if the paper has none."""
    p = paper[(paper.method == _paper_name(method)) & (paper.dataset == dataset)]
    p = p.assign(_rerun=p.variant.fillna("").eq("rerun")).sort_values("_rerun", ascending=False)
    return (float(p.value.iloc[0]), int(p.bits.iloc[0])) if len(p) else (float("nan"), None)


def table1(runs, paper, datasets: Mapping[str, str], metrics: Sequence[str] = ("map", "map_tie_aware")):
    """Paper 004 Table 1: per (method, protocol, bits) our mean ± sd over seeds, the paper's value
    (:func:`table1_paper_value`), its code length and ours − paper. ``runs``: one row per run
    (``results_frame`` + :func:`run_extras`); ``datasets``: protocol -> the paper's dataset."""
    from hashlib_core.tables import summarise

    ours = summarise(runs, ["method", "protocol", "bits"], metrics=list(metrics))
    ours["dataset (paper)"] = ours.protocol.map(dict(datasets))
    cells = [table1_paper_value(paper, m, d) for m, d in zip(ours.method, ours["dataset (paper)"])]
    ours["paper"] = [v for v, _ in cells]
    ours["paper bits"] = [b for _, b in cells]
    ours["diff"] = ours["map"] - ours["paper"]
    return ours


def table2(runs, paper):
    """Paper 004 Table 2: per (method, bits) our MAP, training time of the last ten epochs and
    whole training time (means over seeds), beside the paper's MAP and runtime (nan where the
    paper has no row)."""
    from hashlib_core.tables import summarise

    def paper_value(method: str, metric: str) -> float:
        rows = paper[(paper.method == _paper_name(method)) & (paper.metric == metric)]
        return float(rows.value.iloc[0]) if len(rows) else float("nan")

    ours = summarise(runs, ["method", "bits"], metrics=["map", "runtime_last10_s", "train_s"])
    for metric in ("map", "runtime_last10_s"):
        ours[f"paper {metric}"] = [paper_value(m, metric) for m in ours.method]
    return ours


def comparison_claims(runs1, runs2, compared: Sequence[str], ml_protocol: str, bits_table1: int,
                      bits_table2: int) -> list:
    """Paper 004's orderings in Tables 1-2: DSHC above each compared method on CIFAR-10 at both
    code lengths and on the multi-label stand-in, and DSHC's last ten epochs faster than DPSH's."""
    from hashlib_core.tables import ordering_claim

    claims = []
    for m in compared:
        sub = runs1[(runs1.protocol == "cifar10-dshc") & runs1.method.isin(["dshc", m])]
        claims.append(ordering_claim(sub, "method", ["dshc", m], f"Table 1: DSHC > {m.upper()} on CIFAR-10 ({bits_table1} bits)"))
        if (runs2.method == m).any():  # a method may be left out of Table 2 (notebook 10's table2_methods)
            sub = runs2[runs2.method.isin(["dshc", m])]
            claims.append(ordering_claim(sub, "method", ["dshc", m], f"Table 2: DSHC > {m.upper()} on CIFAR-10 ({bits_table2} bits)"))
        sub = runs1[(runs1.protocol == ml_protocol) & runs1.method.isin(["dshc-multilabel", m])]
        claims.append(ordering_claim(sub.assign(bits=0), "method", ["dshc-multilabel", m],
                                     f"Table 1: DSHC multi-label code > {m.upper()} on the NUS-WIDE stand-in"))
    if "dpsh" in compared and (runs2.method == "dpsh").any():
        rt = runs2.groupby("method")["runtime_last10_s"].mean()
        claims.append({"claim": "Table 2: DSHC trains faster than DPSH (last ten epochs)",
                       "reproduced": "yes" if rt["dshc"] < rt["dpsh"] else "no",
                       "ours (mean mAP, in claimed order)": f"runtime dshc={rt['dshc']:.1f} s, dpsh={rt['dpsh']:.1f} s",
                       "bit lengths agreeing": "", "max seed sd": ""})
    return claims
