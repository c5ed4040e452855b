"""Paper 003 (Kim et al., self-supervised hashing): which runs its tables need and how they are laid
out beside the paper's values (notebooks 40–44). Computation lives in the package (methods ``vae``,
``cvae``, ``csvae``, ``vte`` and the supervised ``dhn``, ``hashnet``, ``dpn``; Table I / II readings in
:mod:`hashlib_core.metrics_selfsup`; reconstruction error and code stability in
:mod:`hashlib_core.methods.selfsup`, all cached with the runs); this module only assembles. The unsupervised reference rows on the same grayscale pixels and
on the pretrained Lite0 feature (:func:`reference_runs`) are ordinary shallow runs on the
``"gray-minmax"`` and ``"lite0-fc1"`` descriptors.
Choices: docs/decisions.md, "Paper 003".

Paper: Kim, Jeon, Kim, Hwang, Kim, "Devised Deephashing Models through Self-supervised Learning for
Image Retrieval" (Dankook University / AiDeep / Arkansas State University; docs/papers.md).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from hashlib_core.claims import not_run, ordering_claim, trend_claim
from hashlib_core.names import PAPER_DATASET, paper_method_name
from hashlib_core.reporting import format_mean_sd, mean_sd
from hashlib_core.runner import make_config
from hashlib_core.tables import results_frame

__all__ = ["PROTOCOL", "SELFSUP", "SUPERVISED", "PIXEL_METHODS", "TABLE1_METRICS", "READINGS", "PERTURBATIONS",
           "DATASETS", "STAND_INS", "REPORTED_ONLY", "paper_dataset", "columns", "chance_levels", "reported_column",
           "column_caption",
           "configs", "selfsup_configs", "run_all", "for_manifest", "runs_frame", "inputs_label", "table1", "table2", "table3", "layout", "fig5_mse",
           "fig6_curve", "readings_table", "nearest_reading", "robustness_table", "claims",
           "reference_configs", "reference_runs", "reference_frame", "reconstruction_figure", "fig6_figure"]

PROTOCOL = "cifar10-selfsup"
#: the paper's four models, in its Table I order
SELFSUP = ("vae", "cvae", "vte", "csvae")
#: the supervised comparison rows of Table III we run (TransHash: reported only, no public code)
SUPERVISED = ("dhn", "hashnet", "dpn")
#: the unsupervised reference methods (fitted on the same grayscale pixels and on the Lite0 feature)
PIXEL_METHODS = ("lsh", "pcah", "itq", "sh")
#: Table I's metrics -> our run's metric (the main reading, docs/decisions.md "Paper 003")
TABLE1_METRICS = {"precision": "main.precision", "recall": "main.recall", "f1": "main.f1", "map": "map"}
#: Table II's collision ratio: items sharing their code, over the 10,000 evaluation codes
COLLISION = "collision_eval.items_sharing"
#: the readings of Table I side by side: label -> {Table I metric: our metric} (metrics_selfsup)
READINGS = {
    "main: disjoint queries, items at the shortest distance (ours)": TABLE1_METRICS,
    "'@10000' as a cut-off: top min(10000, |D|) = all 5,000": {
        "precision": "cutoff_10000.precision", "recall": "cutoff_10000.recall", "f1": "cutoff_10000.f1",
        "map": "cutoff_10000.map"},
    "queries also in the database (appended)": {
        "precision": "queries_in_db.precision", "recall": "queries_in_db.recall", "f1": "queries_in_db.f1",
        "map": "queries_in_db.map"},
    "queries also in the database (first: the own copy wins ties)": {
        "precision": "queries_in_db_first.precision", "recall": "queries_in_db_first.recall",
        "f1": "queries_in_db_first.f1", "map": "queries_in_db_first.map"},
    "precision of the first hit only (P@1), disjoint": {"precision": "first_hit.precision"},
    "precision of the first hit only (P@1), queries in the database": {"precision": "first_hit_self.precision"},
    "first hit's label as a class (macro P / R / F1), disjoint": {
        "precision": "nn_label.precision", "recall": "nn_label.recall", "f1": "nn_label.f1"},
    "first hit's label as a class (macro P / R / F1), queries in the database": {
        "precision": "nn_label_self.precision", "recall": "nn_label_self.recall", "f1": "nn_label_self.f1"},
    "mAP@10, disjoint": {"map": "map_at_10.map"},
    "mAP@10, queries in the database": {"map": "map_at_10_self.map"},
    "mAP@100, disjoint": {"map": "map_at_100.map"},
    "mAP@1000, disjoint": {"map": "map_at_1000.map"},
}
#: the robustness perturbations (hashlib_core.robustness), as the runs' metrics name them
PERTURBATIONS = {"jpeg75": "JPEG q75", "jpeg50": "JPEG q50", "crop90": "centre crop 90 %", "brighter20": "+20 grey levels"}
#: the dataset columns of Tables I and II (``reported.csv``'s ``dataset``) -> the paper's header
DATASETS = {"cifar10": "CIFAR-10", "imagenet": "ImageNet", "nuswide81": "NUS-WIDE"}
#: protocols that fill a column with other images than the paper's, and what they are
STAND_INS = {
    "mosaic-selfsup": "`mosaic-selfsup` is the stand-in for NUS-WIDE: 2x2 mosaics of real CIFAR-10 images with 10 "
                      "labels, 1.9 per image (NUS-WIDE: 81 tags, long-tailed, noisy), so ours − paper sets a stand-in "
                      "beside NUS-WIDE; with NUS-WIDE's images set protocol: nuswide-selfsup (docs/data.md)",
}
#: why a column is shown as reported only, when no protocol of the notebook fills it
REPORTED_ONLY = {
    "imagenet": "there are no ImageNet images on this machine (ImageNet is obtained from image-net.org under its "
                "terms of access, and nothing downloads at run time), and no stand-in is built for it (CIFAR-10, "
                "the only images here, already fills the CIFAR-10 column). A user with ImageNet sets "
                "imagenet_protocol: imagenet-selfsup (an ImageFolder tree in <data root>/imagenet/, docs/data.md)",
    "nuswide81": "no protocol of this run fills the NUS-WIDE column; protocol: mosaic-selfsup (the stand-in) or, "
                 "with NUS-WIDE's images, nuswide-selfsup does (docs/data.md)",
    "cifar10": "the CIFAR-10 column is notebook 40's (cifar10-selfsup)",
}


def paper_dataset(protocol: str) -> str:
    """The column of Tables I / II that runs on ``protocol`` fill (:data:`hashlib_core.names.PAPER_DATASET`):
    ``cifar10-selfsup`` CIFAR-10, ``imagenet-selfsup`` ImageNet, ``nuswide-selfsup`` and its stand-in
    ``mosaic-selfsup`` NUS-WIDE."""
    base = str(protocol).partition(":")[0]
    dataset = PAPER_DATASET.get(base)
    if dataset not in DATASETS:
        raise ValueError(f"protocol {protocol!r} fills no column of paper 003's Tables I-II; its protocols: "
                         f"{sorted(p for p, d in PAPER_DATASET.items() if d in DATASETS)}")
    return dataset


def columns(protocols: Iterable[str], among: Iterable[str] = tuple(DATASETS)) -> dict:
    """``{dataset column: protocol}`` for the non-empty ``protocols`` (:func:`paper_dataset`); a
    protocol of a column not ``among`` the caller's, or two protocols for one column, are refused."""
    among = tuple(among)
    out: dict = {}
    for protocol in [p for p in protocols if p]:
        dataset = paper_dataset(protocol)
        if dataset not in among:
            raise ValueError(f"protocol {protocol!r} fills the {DATASETS[dataset]} column; here: "
                             f"{', '.join(DATASETS[d] for d in among)} ({REPORTED_ONLY.get(dataset, '')})")
        if dataset in out:
            raise ValueError(f"protocols {out[dataset]!r} and {protocol!r} both fill the {DATASETS[dataset]} column")
        out[dataset] = protocol
    return out


def chance_levels(split, bits: int = 64, seed: int = 0) -> dict:
    """What retrieval without information scores on ``split``: the label statistics
    (:func:`hashlib_core.data.label_statistics`: labels per image, chance precision = the fraction of
    relevant query-database pairs) and the whole-ranking mAP of seeded random ``bits``-bit codes
    (``numpy.random.default_rng(seed)``) through the project's metric code."""
    from hashlib_core.data import label_statistics
    from hashlib_core.metrics import mean_average_precision

    stats = label_statistics(split)
    rng = np.random.default_rng(seed)
    q = np.where(rng.random((len(split.query), int(bits))) < 0.5, -1, 1).astype(np.int8)
    d = np.where(rng.random((len(split.database), int(bits))) < 0.5, -1, 1).astype(np.int8)
    per = stats["labels_per_image"]["database"]
    return {"protocol": split.name, "seed": int(split.seed), "multi_label": bool(split.multi_label),
            "classes": int(split.num_classes), "labels per image (database)": per["mean"],
            "chance precision": stats["chance_precision"],
            "queries without a relevant item": stats["relevant_fraction_per_query"]["queries_without_relevant"],
            f"mAP of random {int(bits)}-bit codes": mean_average_precision(q, d, split.query.labels, split.database.labels,
                                                                        topk=split.map_topk)}


def configs(profile, method: str, bits: Sequence[int], seeds: Sequence[int], *, protocol: str = PROTOCOL,
            num_threads: Optional[int] = None, input_size: Optional[int] = None,
            model: Optional[Mapping[str, Any]] = None, loss: Optional[Mapping[str, Any]] = None,
            train: Optional[Mapping[str, Any]] = None, recipe: Optional[str] = None) -> list:
    """Resolved run configs (:func:`hashlib_core.runner.make_config`) for every (bits, seed).
    ``num_threads`` replaces the profile's torch threads, ``input_size`` its input side (e.g. §III's
    128 px for the VAEs under the ``paper`` profile, whose 224 px is paper 000's); both are part of
    the cache key; falsy keeps the profile's. One thread: these small networks ran 3–10× slower on
    two threads of the shared 2-core machine (measured, docs/decisions.md "Paper 003")."""
    out = []
    for b in bits:
        for s in seeds:
            c = make_config(profile, method, protocol, b, s, model=model, loss=loss, train=train, recipe=recipe)
            if num_threads:
                c = dataclasses.replace(c, num_threads=int(num_threads))
            if input_size:
                c = dataclasses.replace(c, input_size=int(input_size))
            out.append(c)
    return out


def selfsup_configs(profile, models: Sequence[str], bits: Sequence[int], seeds: Sequence[int], *,
                    few_seeds: Sequence[int] = (0,), few_seeds_models: Sequence[str] = (),
                    all_seeds_bits: Sequence[int] = (), num_threads: Optional[int] = None,
                    input_size: Optional[int] = None,
                    model_overrides: Optional[Mapping[str, Mapping[str, Any]]] = None,
                    protocol: str = PROTOCOL) -> list:
    """The self-supervised runs of notebooks 40–44 (one definition, so the notebooks share them):
    every model of ``models`` at every code length of ``bits`` with ``seeds``, except the models of
    ``few_seeds_models`` (the costly ones), which run ``few_seeds`` at the code lengths not in
    ``all_seeds_bits``; ``model_overrides``: model -> network settings (e.g. ``{"vte": {"patch_size": 16}}``);
    ``protocol``: the Table I / II column (:func:`paper_dataset`), CIFAR-10 by default."""
    out = []
    for m in models:
        for b in bits:
            s = few_seeds if (m in few_seeds_models and b not in all_seeds_bits) else seeds
            out += configs(profile, m, [b], s, protocol=protocol, num_threads=num_threads, input_size=input_size,
                           model=dict((model_overrides or {}).get(m) or {}) or None)
    return out


def run_all(configs_: Sequence, workers: int = 1) -> list:
    """:func:`hashlib_core.runner.run_many` of ``configs_``; with ``workers`` > 1 in that many
    worker processes (spawned; one run each at a time, the cache shared through its locks)."""
    from hashlib_core.runner import run_many

    if int(workers) <= 1:
        return run_many(configs_, progress=False)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=int(workers), mp_context=multiprocessing.get_context("spawn")) as pool:
        return run_many(configs_, progress=False, executor=pool)


def for_manifest(results) -> list:
    """Copies of ``results`` without the stored reconstructions (``recon.examples``), for
    :meth:`hashlib_core.reporting.Report.add_runs`: a manifest lists metrics, not images."""
    return [dataclasses.replace(r, metrics={k: v for k, v in r.metrics.items() if k != "recon.examples"})
            for r in results]


def inputs_label(config) -> str:
    """What a run's network sees, for Table III's inputs column."""
    if config.method in SELFSUP:
        return f"grayscale {config.input_size} px, min-max per image, from scratch, no labels"
    m = dict(config.model)
    weights = "ImageNet-pretrained features" if m.get("weights") else "raw RGB pixels, from scratch"
    frozen = ", frozen trunk" if dict(config.train).get("freeze_backbone") else ""
    return f"{weights}{frozen} ({m.get('backbone', '?')}, {config.input_size} px), class labels"


def runs_frame(results) -> pd.DataFrame:
    """One row per run (:func:`hashlib_core.tables.results_frame`) with the paper's method name and
    the inputs; the stored reconstructions (``recon.examples``) are left out."""
    results = list(results)
    df = results_frame(results)
    df = df.drop(columns=[c for c in df.columns if c == "recon.examples"])
    df["paper_method"] = [paper_method_name(r.config.method) for r in results]
    df["inputs"] = [inputs_label(r.config) for r in results]
    return df


def _mean_cell(group: pd.DataFrame, column: str) -> tuple:
    if column not in group or group[column].isna().all():
        return float("nan"), float("nan")
    return mean_sd(group[column].dropna().to_numpy(dtype=float))


def _paper_value(paper: pd.DataFrame, artefact: str, method: str, bits: int, metric: str,
                 dataset: str = "cifar10") -> float:
    p = paper[(paper.artefact == artefact) & (paper.method == method) & (paper.bits == int(bits))
              & (paper.metric == metric) & (paper.dataset == dataset)]
    return float(p.value.iloc[0]) if len(p) else float("nan")


def _display(method: str, group: pd.DataFrame) -> str:
    """A row's display name: the frame's ``paper_method`` (e.g. "ITQ (pixels)"), else the papers' name."""
    if "paper_method" in group and group.paper_method.notna().any():
        return str(group.paper_method.dropna().iloc[0])
    return paper_method_name(method)


def _beside(runs: pd.DataFrame, paper: pd.DataFrame, artefact: str, metrics: Mapping[str, str],
            paper_name=None, dataset: str = "cifar10") -> pd.DataFrame:
    """Long frame: method, bits, metric, ours (mean over seeds), sd, n_seeds, paper (its ``dataset``
    column), diff; cells with neither our value nor the paper's are left out."""
    rows = []
    for (method, bits), g in runs.groupby(["method", "bits"], sort=False):
        name = paper_name(method) if paper_name else paper_method_name(method)
        for metric, col in metrics.items():
            m, sd = _mean_cell(g, col)
            pv = _paper_value(paper, artefact, name, bits, metric, dataset)
            if np.isfinite(m) or np.isfinite(pv):
                rows.append({"method": _display(method, g), "key": method, "bits": int(bits), "metric": metric,
                             "ours": m, "sd": sd, "n_seeds": int(g.seed.nunique()), "paper": pv, "diff": m - pv})
    return pd.DataFrame(rows)


def table1(runs: pd.DataFrame, paper: pd.DataFrame, metrics: Mapping[str, str] = TABLE1_METRICS,
           dataset: str = "cifar10") -> pd.DataFrame:
    """Paper 003 Table I, column ``dataset`` (:data:`DATASETS`; the runs' protocol gives it:
    :func:`paper_dataset`): per model, bits and metric (precision, recall, F1, mAP under the main
    reading; relevant = same class, or a shared label on multi-hot labels) our mean ± sd over seeds,
    the paper's value and ours − paper. ``paper``: ``reported("003")``. Rows of methods the paper's
    Table I lacks (e.g. the pixel references) get no paper value."""
    return _beside(runs, paper, "table1", metrics, dataset=_column(dataset))


def table2(runs: pd.DataFrame, paper: pd.DataFrame, column: str = COLLISION, dataset: str = "cifar10") -> pd.DataFrame:
    """Paper 003 Table II, column ``dataset``: collision ratio in percent (``column``: our main
    reading, items sharing their code among the 10,000 evaluation codes) beside the paper."""
    return _beside(runs, paper, "table2", {"collision_pct": column}, dataset=_column(dataset))


def _column(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"paper 003's Tables I-II have the columns {sorted(DATASETS)}, not {dataset!r}")
    return dataset


def reported_column(paper: pd.DataFrame, artefact: str, dataset: str) -> pd.DataFrame:
    """A column of Table I (``artefact="table1"``) or Table II (``"table2"``) that we do not compute:
    the paper's cells for its four models in the long format of :func:`table1` / :func:`table2`
    (ours, sd and diff empty, no seeds), for :func:`layout`."""
    _column(dataset)
    metrics = {"table1": list(TABLE1_METRICS), "table2": ["collision_pct"]}.get(artefact)
    if metrics is None:
        raise ValueError(f"artefact must be 'table1' or 'table2', got {artefact!r}")
    cells = paper[(paper.artefact == artefact) & (paper.dataset == dataset)]
    rows = []
    for key in SELFSUP:
        name = paper_method_name(key)
        for b in sorted(int(x) for x in cells[cells.method == name].bits.unique()):
            for metric in metrics:
                pv = _paper_value(paper, artefact, name, b, metric, dataset)
                if np.isfinite(pv):
                    rows.append({"method": name, "key": key, "bits": b, "metric": metric, "ours": np.nan,
                                 "sd": np.nan, "n_seeds": 0, "paper": pv, "diff": np.nan})
    return pd.DataFrame(rows)


def table3(runs: pd.DataFrame, paper: pd.DataFrame, ours_as: Iterable[str] = ("vte", "csvae")) -> pd.DataFrame:
    """Paper 003 Table III (CIFAR-10): mAP of the supervised rows (DHN, HashNet, DPN, run here) and
    of our self-supervised models ``ours_as`` (compared with the paper's "Our work" row), each with
    its inputs; TransHash ("TransH") as reported only (no public code)."""
    ours_as = set(ours_as)
    sub = runs[runs.method.isin(set(SUPERVISED) | ours_as)]
    t = _beside(sub, paper, "table3", {"map": "map"},
                paper_name=lambda m: "Our work" if m in ours_as else paper_method_name(m))
    inputs = sub.groupby("method").inputs.first()
    t["inputs"] = [inputs.get(k) for k in t.key]
    t["paper row"] = ["Our work" if k in ours_as else x for k, x in zip(t.key, t.method)]
    rep = paper[(paper.artefact == "table3") & (paper.method == "TransH") & (paper.dataset == "cifar10")]
    extra = pd.DataFrame([{"method": "TransH (TransHash)", "key": "transhash", "bits": int(b), "metric": "map", "ours": np.nan,
                           "sd": np.nan, "n_seeds": 0, "paper": float(v), "diff": np.nan,
                           "inputs": "reported only: no public code", "paper row": "TransH"}
                          for b, v in zip(rep.bits, rep.value)])
    return pd.concat([t, extra], ignore_index=True)


def layout(long: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The papers' layout of a long table: one row per (method, metric), per code length the cells
    ``ours`` (mean ± sd), ``paper`` and ``diff`` (ours − paper)."""
    extra = [c for c in ("inputs",) if c in long]
    bits = sorted(int(b) for b in long.bits.unique())
    columns = ["method", "metric"] + extra + [f"{b}b {k}" for b in bits for k in ("ours", "paper", "diff")] + ["seeds"]
    out = []
    for keys, g in long.groupby(["method", "metric"] + extra, sort=False, dropna=False):
        row = dict(zip(["method", "metric"] + extra, keys))
        for _, r in g.sort_values("bits").iterrows():
            b = int(r.bits)
            row[f"{b}b ours"] = format_mean_sd(r.ours, r.sd, int(r.n_seeds), digits) if np.isfinite(r.ours) else ""
            row[f"{b}b paper"] = "" if pd.isna(r.paper) else f"{r.paper:.{digits}f}"
            row[f"{b}b diff"] = "" if pd.isna(r["diff"]) else f"{r['diff']:+.{digits}f}"
        row["seeds"] = "/".join(str(int(n)) for n in g.sort_values("bits").n_seeds)
        out.append(row)
    return pd.DataFrame(out, columns=columns).fillna("")


def fig5_mse(runs: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Fig. 5's reconstruction error per model and code length: our per-image MSE over the 5,000
    queries (mean and sd over images, each averaged over seeds) on three scales, beside the
    paper's value: per pixel in [0, 1] × 1000, the sum over a 128×128 image (per-pixel MSE × 128²,
    §III's size) and the sum over our input image; ``ratio`` = ours / paper on each scale."""
    rows = []
    for (method, bits), g in runs[runs.method.isin(SELFSUP)].groupby(["method", "bits"], sort=False):
        name = paper_method_name(method)
        pm = _paper_value(paper, "fig5", name, 0, "recon_mse")
        psd = _paper_value(paper, "fig5", name, 0, "recon_mse_sd")
        mse, sse128, sse = (float(g[c].mean()) for c in ("recon.mse_mean", "recon.sse128_mean", "recon.sse_mean"))
        mse_sd, sse128_sd, sse_sd = (float(g[c].mean()) for c in ("recon.mse_sd", "recon.sse128_sd", "recon.sse_sd"))
        rows.append({"method": name, "bits": int(bits), "n_seeds": int(g.seed.nunique()),
                     "MSE per pixel ×1000": f"{1000 * mse:.3f} ± {1000 * mse_sd:.3f}",
                     "SSE per 128×128 image": f"{sse128:.1f} ± {sse128_sd:.1f}",
                     "SSE per input image": f"{sse:.2f} ± {sse_sd:.2f}",
                     "paper": f"{pm:.3f} ± {psd:.3f}" if np.isfinite(pm) else "",
                     "ratio ×1000 / paper": 1000 * mse / pm, "ratio SSE128 / paper": sse128 / pm,
                     "ratio SSE / paper": sse / pm, "mse_per_pixel": mse})
    return pd.DataFrame(rows)


def fig6_curve(runs: pd.DataFrame, paper: pd.DataFrame, methods: Sequence[str] = ("cvae", "dpn", "hashnet")) -> pd.DataFrame:
    """Fig. 6: mAP against code length for CVAE, DPN and HashNet (mean ± sd over seeds), with the
    paper's numbers for the same cells (CVAE: Table I; DPN, HashNet: Table III; Fig. 6 itself has
    no numbers)."""
    rows = []
    for (method, bits), g in runs[runs.method.isin(methods)].groupby(["method", "bits"], sort=False):
        name = paper_method_name(method)
        m, sd = mean_sd(g["map"].to_numpy(dtype=float))
        pv = _paper_value(paper, "table1" if method in SELFSUP else "table3", name, bits, "map")
        rows.append({"method": name, "bits": int(bits), "map": m, "map_sd": sd, "n_seeds": int(g.seed.nunique()),
                     "paper": pv, "diff": m - pv})
    return pd.DataFrame(rows).sort_values(["method", "bits"]).reset_index(drop=True)


def readings_table(runs: pd.DataFrame, paper: pd.DataFrame, bits: int = 32,
                   readings: Mapping[str, Mapping[str, str]] = READINGS) -> pd.DataFrame:
    """The readings of Table I side by side at ``bits`` bits: one row per (reading, method) with
    precision / recall / F1 / mAP (means over seeds; blank where a reading has no such number) and,
    first, the paper's Table I row of each model. Every number comes from the runs' cached extra
    metrics (:func:`hashlib_core.methods.selfsup.readings_metrics`)."""
    sub = runs[runs.bits == int(bits)]
    rows = []
    for method, g in sub.groupby("method", sort=False):
        name = _display(method, g)
        p = {m: _paper_value(paper, "table1", paper_method_name(method), bits, m) for m in TABLE1_METRICS}
        if any(np.isfinite(v) for v in p.values()):
            rows.append({"reading": "paper 003 Table I", "method": name, "n_seeds": 0, **p})
        for label, cols in readings.items():
            row = {"reading": label, "method": name, "n_seeds": int(g.seed.nunique())}
            for metric in TABLE1_METRICS:
                row[metric] = _mean_cell(g, cols[metric])[0] if metric in cols else float("nan")
            rows.append(row)
    return pd.DataFrame(rows)


def nearest_reading(table: pd.DataFrame) -> pd.DataFrame:
    """Per method with a paper row in :func:`readings_table`'s output: each reading's mean absolute
    difference from the paper over the metrics both have, sorted (the nearest first)."""
    out = []
    for method, g in table.groupby("method", sort=False):
        paper_row = g[g.reading == "paper 003 Table I"]
        if paper_row.empty:
            continue
        p = paper_row.iloc[0]
        for _, r in g[g.reading != "paper 003 Table I"].iterrows():
            diffs = [abs(r[m] - p[m]) for m in TABLE1_METRICS if np.isfinite(r[m]) and np.isfinite(p[m])]
            if diffs:
                out.append({"method": method, "reading": r.reading, "metrics compared": len(diffs),
                            "mean |ours − paper|": float(np.mean(diffs))})
    df = pd.DataFrame(out)
    return df.sort_values(["method", "mean |ours − paper|"]).reset_index(drop=True) if len(df) else df


def robustness_table(runs: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Code stability (beyond the paper): per method and code length, the mean number of bits that
    change under each perturbation (mean ± sd over seeds) and as a share of the code length."""
    rows = []
    for (method, bits), g in runs.groupby(["method", "bits"], sort=False):
        row = {"method": _display(method, g), "setting": g.inputs.iloc[0] if "inputs" in g else "",
               "bits": int(bits), "n_seeds": int(g.seed.nunique())}
        for key, label in PERTURBATIONS.items():
            m, sd = _mean_cell(g, f"stability.{key}")
            row[f"{label}: bits changed"] = format_mean_sd(m, sd, int(g.seed.nunique()), digits) if np.isfinite(m) else ""
            row[f"{label}: % of bits"] = 100 * m / int(bits) if np.isfinite(m) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def claims(runs: pd.DataFrame, best_bits: int = 64) -> list:
    """Paper 003's claims as claim rows (:mod:`hashlib_core.claims`, paired by seed, ≥ 3 seeds):

    * §IV "except for the VAE model, the evaluation indicators of other models are excellent":
      CVAE, CSVAE and VTE each above VAE in mAP (main reading), pooled over code lengths;
    * §III "similar to the input image in the order of VTE, CSVAE, CVAE, and VAE": reconstruction
      MSE VTE < CSVAE < CVAE (< VAE);
    * §IV "the highest score at 64 hash bits": per model, mAP at ``best_bits`` above each other length;
    * Table II: the collision ratio falls with the code length, per model.
    """
    out = []
    ss = runs[runs.method.isin(SELFSUP)]
    have = set(ss.method)
    for m in ("cvae", "csvae", "vte"):
        if {m, "vae"} <= have:
            out.append(ordering_claim(ss[ss.method.isin([m, "vae"])], "method", [m, "vae"],
                                      f"§IV: {m.upper()} > VAE (mAP, pooled over code lengths)"))
        else:
            out.append(not_run(f"§IV: {m.upper()} > VAE", "runs missing", [m, "vae"]))
    order = [m for m in ("vte", "csvae", "cvae", "vae") if m in have]
    if len(order) >= 2 and "recon.mse_mean" in ss:
        out.append(ordering_claim(ss[ss.method.isin(order)], "method", order,
                                  "§III / Fig. 5: reconstruction MSE " + " < ".join(o.upper() for o in order),
                                  metric="recon.mse_mean", better="lower"))
    for m in [x for x in SELFSUP if x in have]:
        g = ss[ss.method == m]
        bits = sorted(g.bits.unique())
        if best_bits in bits and len(bits) > 1:
            for b in bits:
                if b != best_bits:
                    out.append(ordering_claim(g[g.bits.isin([best_bits, b])], "bits", [best_bits, int(b)],
                                              f"§IV: {m.upper()} mAP highest at {best_bits} bits ({best_bits} > {int(b)})"))
        if len(bits) > 1 and COLLISION in g:
            out.append(trend_claim(g, f"Table II: {m.upper()} collision ratio falls with the code length",
                                   direction="falls", metric=COLLISION))
    return out


# --------------------------------------------------------------------------------------------
# Unsupervised reference rows: the same grayscale pixels, and the pretrained Lite0 feature
# --------------------------------------------------------------------------------------------

def _reference_label(features: str) -> tuple:
    """(method suffix, display suffix, inputs) of a reference row's descriptor."""
    from hashlib_core.baselines.features import trunk_feature_spec

    base, _, px = features.partition("@")
    if base == "gray-minmax":
        return "pixels", "pixels", f"grayscale {px} px pixels ({int(px) ** 2}-d), min-max per image, no labels"
    model, tap, size = trunk_feature_spec(features)
    name = model["backbone"].replace("efficientnet_", "")
    return (name, f"{name.capitalize()} features",
            f"ImageNet-pretrained EfficientNet-{name.capitalize()} {tap} feature (frozen, {size} px RGB), no labels")


def column_caption(artefact: str, dataset: str, protocol: str = "", profile: str = "",
                   chance: Optional[Mapping[str, Any]] = None, references: bool = False) -> str:
    """The caption of Table I (``artefact="table1"``) or II (``"table2"``)'s column ``dataset``: computed
    on ``protocol`` (what it is when a stand-in, :data:`STAND_INS`; the relevance rule; the chance
    levels of :func:`chance_levels`), or, without a protocol, the paper's values only and why
    (:data:`REPORTED_ONLY`)."""
    name = DATASETS[_column(dataset)]
    table = {"table1": "Table I", "table2": "Table II"}[artefact]
    if not protocol:
        return (f"Paper 003 {table}, {name} column: reported only (the paper's values, none of ours). "
                f"Why: {REPORTED_ONLY[dataset]}.")
    stand_in = f" {STAND_INS[protocol]}." if protocol in STAND_INS else ""
    if artefact == "table2":
        return (f"Paper 003 {table}, {name} column, on `{protocol}`: hash collision ratio (%) = items sharing their "
                f"code with another item among the 10,000 evaluation codes (database + queries), ours (mean ± sd over "
                f"seeds) beside the paper and ours − paper. {profile} profile. Other readings: notebook 43's.{stand_in}")
    multi = bool(chance and chance.get("multi_label"))
    text = (f"Paper 003 {table}, {name} column, on `{protocol}`: precision / recall / F1 (database items at the "
            f"shortest Hamming distance, disjoint queries; relevant = "
            f"{'at least one shared label' if multi else 'the same class'}) and whole-ranking mAP, ours (mean ± sd "
            f"over seeds; seeds per code length in 'seeds') beside the paper and ours − paper. {profile} profile.")
    if references:
        text += " Rows '(pixels)': LSH / PCAH / ITQ / SH without labels on the same grayscale pixels, seed 0."
    if chance:
        bits = [k for k in chance if k.startswith("mAP of random")]
        text += f" Chance precision {chance['chance precision']:.3f}" + (
            f", {bits[0]} {chance[bits[0]]:.3f}." if bits else ".")
    return text + stand_in


def reference_configs(profile, bits: Sequence[int], seeds: Sequence[int] = (0,), methods: Sequence[str] = PIXEL_METHODS,
                      input_size: int = 32, features: Sequence[str] = ("gray-minmax",),
                      protocol: str = PROTOCOL) -> list:
    """The unsupervised reference rows: LSH, PCAH, ITQ, SH (their default hyper-parameters), one run
    per (descriptor, method, bits, seed), on each of ``features`` (:mod:`hashlib_core.baselines.features`):
    ``"gray-minmax"`` becomes ``"gray-minmax@<input_size>"``, the flattened grayscale min-max image,
    the VAEs' exact input; ``"lite0-fc1"`` is the frozen ImageNet Lite0 trunk's pooled feature (what
    pretrained features give without labels). On paper 003's protocols (``protocol``) the runs also
    report Table I / II's readings and, on pixels, the code stability (:mod:`hashlib_core.methods.shallow`)."""
    sized = [f"gray-minmax@{int(input_size)}" if f == "gray-minmax" else str(f) for f in features]
    return [make_config(profile, name, protocol, int(b), int(s), model={"features": f})
            for f in sized for name in methods for b in bits for s in seeds]


def reference_runs(profile, bits: Sequence[int], seeds: Sequence[int] = (0,), methods: Sequence[str] = PIXEL_METHODS,
                   input_size: int = 32, features: Sequence[str] = ("gray-minmax",), workers: int = 1,
                   protocol: str = PROTOCOL) -> list:
    """The runs of :func:`reference_configs` (cached like every run); :func:`reference_frame` lays them out."""
    return run_all(reference_configs(profile, bits, seeds, methods, input_size, features, protocol), workers)


def reference_frame(results) -> pd.DataFrame:
    """:func:`runs_frame` of the reference runs, named by input: ``itq-pixels`` / "ITQ (pixels)",
    ``itq-lite0`` / "ITQ (Lite0 features)"."""
    results = list(results)
    if not results:
        return pd.DataFrame()
    df = runs_frame(results)
    labels = [_reference_label(dict(r.config.model)["features"]) for r in results]
    df["paper_method"] = [f"{paper_method_name(r.config.method)} ({lab[1]})" for r, lab in zip(results, labels)]
    df["inputs"] = [lab[2] for lab in labels]
    df["method"] = [f"{r.config.method}-{lab[0]}" for r, lab in zip(results, labels)]
    return df


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------

def reconstruction_figure(results: Mapping[str, Any], split, n: Optional[int] = None):
    """Fig. 5: the first queries (grayscale min-max input) and their reconstructions by each model
    (``results``: display name -> a run whose metrics hold ``recon.examples``)."""
    import matplotlib.pyplot as plt

    from hashlib_core.data.grayscale import grayscale_minmax_batch

    first = next(iter(results.values()))
    size = int(first.config.input_size)
    k = len(first.metrics["recon.examples"]) if n is None else int(n)
    x = grayscale_minmax_batch(split.query.get_batch(np.arange(k)), size)[:, 0].numpy()
    rows = [("input", x)] + [(name, np.asarray(r.metrics["recon.examples"][:k], dtype=float).reshape(k, size, size) / 255)
                             for name, r in results.items()]
    fig, axes = plt.subplots(len(rows), k, figsize=(1.2 * k, 1.25 * len(rows)), squeeze=False)
    for i, (name, imgs) in enumerate(rows):
        for j in range(k):
            ax = axes[i][j]
            ax.imshow(imgs[j], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(name, fontsize=8)
    fig.tight_layout()
    return fig


def fig6_figure(curve: pd.DataFrame):
    """Fig. 6: mAP against code length per method (ours with ± sd bars; the paper's values dashed)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for i, (method, g) in enumerate(curve.groupby("method", sort=False)):
        color = f"C{i}"
        ax.errorbar(g.bits, g["map"], yerr=g.map_sd, marker="o", color=color, label=f"{method} (ours)")
        if g.paper.notna().any():
            ax.plot(g.bits, g.paper, ls="--", marker="x", color=color, label=f"{method} (paper)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(curve.bits.unique()))
    ax.set_xticklabels([str(b) for b in sorted(curve.bits.unique())])
    ax.set_xlabel("bits")
    ax.set_ylabel("mAP")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
