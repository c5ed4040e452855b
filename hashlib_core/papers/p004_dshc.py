"""Paper 004 (DSHC, Luo et al.): which runs its tables need and how they are laid out beside the
paper's values (notebooks 10–14). Computation lives in the package; this module only assembles.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from hashlib_core.methods import METHODS
from hashlib_core.names import paper_method_name
from hashlib_core.runner import make_config
from hashlib_core.claims import ordering_claim, versus_reported_claim
from hashlib_core.tables import results_frame, summarise

__all__ = ["last_epochs_seconds", "with_train_subset", "configs", "split_methods", "comparison_model", "run_extras",
           "runs_frame", "train_description", "tsne_2d", "table1_paper_value", "table1", "table2",
           "comparison_claims"]


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
    return [with_train_subset(make_config(profile, method, protocol, b, s, model=model, loss=loss, train=train,
                                          recipe=recipe),
                              train_subset)
            for b in bits for s in seeds]


def split_methods(names: Sequence[str]) -> tuple[list, list]:
    """(registered, missing) among ``names`` — comparison rows run only for registered methods."""
    return [m for m in names if m in METHODS], [m for m in names if m not in METHODS]


def comparison_model(method: str, backbone: str) -> dict:
    """Model overrides that put a comparison method on the same backbone as DSHC (when the method
    takes a ``backbone`` model parameter)."""
    return {"backbone": backbone} if "backbone" in METHODS[method].defaults.get("model", {}) else {}


def run_extras(result) -> dict:
    """Per-run columns beyond the runner's metrics: training time of the last ten epochs, whole
    training time and epochs (the multi-hot codes' §4.1 mAP, ``map_sec41``, is an extra metric of
    method ``dshc-multilabel``, computed and cached with the run)."""
    return {"runtime_last10_s": last_epochs_seconds(result.history, 10),
            "train_s": float(result.timings.get("train_s", float("nan"))),
            "epochs": len(result.history)}


def runs_frame(results):
    """One row per run: :func:`hashlib_core.tables.results_frame` plus :func:`run_extras`."""
    extras = pd.DataFrame([run_extras(r) for r in results])
    base = results_frame(results).reset_index(drop=True)
    return pd.concat([base.drop(columns=[c for c in extras.columns if c in base.columns]), extras], axis=1)


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

def table1_paper_value(paper, method: str, dataset: str) -> tuple:
    """(value, bits) of paper 004 Table 1 for our ``method`` on the paper's ``dataset``: the paper's
    own bracketed 30-bit re-run (``variant == "rerun"``) where it has one (DPSH / DSDH on CIFAR-10),
    else its single row; ``(nan, None)`` if the paper has none."""
    p = paper[(paper.method == paper_method_name(method)) & (paper.dataset == dataset)]
    p = p.assign(_rerun=p.variant.fillna("").eq("rerun")).sort_values("_rerun", ascending=False)
    return (float(p.value.iloc[0]), int(p.bits.iloc[0])) if len(p) else (float("nan"), None)


def table1(runs, paper, datasets: Mapping[str, str], metrics: Sequence[str] = ("map", "map_tie_aware")):
    """Paper 004 Table 1: per (method, protocol, bits) our mean ± sd over seeds, the paper's value
    (:func:`table1_paper_value`), its code length and ours − paper. ``runs``: one row per run
    (``results_frame`` + :func:`run_extras`); ``datasets``: protocol -> the paper's dataset."""
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
    def paper_value(method: str, metric: str) -> float:
        rows = paper[(paper.method == paper_method_name(method)) & (paper.metric == metric)]
        return float(rows.value.iloc[0]) if len(rows) else float("nan")

    ours = summarise(runs, ["method", "bits"], metrics=["map", "runtime_last10_s", "train_s"])
    for metric in ("map", "runtime_last10_s"):
        ours[f"paper {metric}"] = [paper_value(m, metric) for m in ours.method]
    return ours


def comparison_claims(runs1, runs2, compared: Sequence[str], ml_protocol: str, bits_table1: int,
                      bits_table2: int, paper_table1=None) -> list:
    """Paper 004's orderings in Tables 1-2 as claim rows (:mod:`hashlib_core.claims`, paired by seed):
    DSHC above each compared method on CIFAR-10 at both code lengths and on the multi-label
    stand-in (DSHC's label code and the method's code have different lengths, so the pairs are by
    seed alone), and DSHC's last ten epochs faster than DPSH's. With ``paper_table1`` (the
    reported Table 1 rows) first DSHC's CIFAR-10 MAP against the paper's own value
    (:func:`hashlib_core.claims.versus_reported_claim`)."""
    claims = []
    if paper_table1 is not None:
        value, bits = table1_paper_value(paper_table1, "dshc", "cifar10")
        sub = runs1[(runs1.protocol == "cifar10-dshc") & (runs1.method == "dshc")]
        if bits is not None and len(sub) and int(bits) == int(bits_table1):
            claims.append(versus_reported_claim(sub, value, f"Table 1: DSHC ≥ the paper's {value:.3f} on CIFAR-10 "
                                                f"({bits_table1} bits)"))
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
        claims.append(ordering_claim(runs2[runs2.method.isin(["dshc", "dpsh"])], "method", ["dshc", "dpsh"],
                                     "Table 2: DSHC trains faster than DPSH (last ten epochs)",
                                     metric="runtime_last10_s", better="lower"))
    return claims


def radius_curves(results: Mapping[tuple, Any]) -> dict:
    """Precision and recall by Hamming radius (:func:`hashlib_core.metrics.precision_recall_vs_radius`)
    of every run in ``results`` (keyed ``(method, bits, seed)``), each on the labels of its own split:
    cifar10-dshc draws its queries per seed, so runs of different seeds rank different items.
    One split is loaded per seed."""
    from hashlib_core import metrics

    splits, curves = {}, {}
    for key, r in results.items():
        seed = key[2]
        if seed not in splits:
            splits[seed] = r.split()
        sp = splits[seed]
        curves[key] = metrics.precision_recall_vs_radius(r.query_codes, r.db_codes, sp.query.labels, sp.database.labels)
    return curves


def radius_rows(results: Mapping[tuple, Any], curves: Mapping[tuple, Mapping[str, np.ndarray]], paper) -> pd.DataFrame:
    """Fig. 3's numbers per run: recall and precision at Hamming distance 0 and <= 2, the number of
    distinct database codes and the MAP, keyed ``(method, bits, seed)`` in ``results`` and ``curves``
    (``curves`` from :func:`hashlib_core.metrics.precision_recall_vs_radius`), beside the recall at
    distance 0 the paper reports (``reported("004", "fig3")``; NaN where it gives none)."""
    rows = []
    for (m, b, s), r in results.items():
        c = curves[(m, b, s)]
        p = paper[(paper.method == m.upper()) & (paper.bits == b)]
        r2 = min(2, b)
        rows.append({"method": m, "bits": b, "seed": s, "recall@r0": float(c["recall"][0]),
                     "precision@r0": float(c["precision"][0]), "recall@r2": float(c["recall"][r2]),
                     "precision@r2": float(c["precision"][r2]),
                     "distinct db codes": int(len(np.unique(r.db_codes, axis=0))), "map": r.metrics["map"],
                     "paper recall@r0": float(p.value.iloc[0]) if len(p) else float("nan")})
    return pd.DataFrame(rows)


def radius_claims(rows: pd.DataFrame, compared: Sequence[str]) -> list:
    """§4.2's reading of Fig. 3 as claim rows: at each code length a compared method (DPSH) has a
    higher recall at Hamming distance 0 than DSHC, because it "collapses" a class onto few codes.
    Judged on ``recall@r0`` paired by seed (:func:`hashlib_core.claims.ordering_claim`)."""
    claims = []
    for m in compared:
        for b in sorted(rows.bits.unique()):
            sub = rows[(rows.bits == b) & rows.method.isin(["dshc", m])]
            claims.append(ordering_claim(sub, "method", [m, "dshc"],
                                         f"{b} bits: recall at distance 0 of {m.upper()} > DSHC "
                                         f"(the former collapses classes onto a code)", metric="recall@r0"))
    return claims
