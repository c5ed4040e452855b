"""Running the baselines for a table and laying the rows out beside the papers' (notebooks 20, 21).

Shallow and deep rows come back as the same :class:`~hashlib_core.runner.RunResult`, so one frame
(:func:`baseline_frame`) holds both, with the paper's name of each method, the paper dataset a
protocol stands for and, per row, what the method was given (``inputs``: the hand-crafted
descriptor of a shallow row, the network of a deep row).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from hashlib_core.baselines import SHALLOW_METHODS

__all__ = ["PAPER_NAME", "FEATURE_NOTES", "run_methods", "inputs_of", "baseline_frame", "table2_layout"]

#: our method name -> the name the papers' tables use
PAPER_NAME = {
    "lsh": "LSH", "pcah": "PCAH", "itq": "ITQ", "sh": "SH", "sdh": "SDH", "ksh": "KSH",
    "dpsh": "DPSH", "hashnet": "HashNet", "dhn": "DHN", "dch": "DCH", "csq": "CSQ", "dsdh": "DSDH",
    "dshfmdf": "DSHFMDF", "dshc": "DSHC",
}

FEATURE_NOTES = {
    "hog-color": "hog-color (388-d HOG 4x4 grid + RGB histogram; stand-in for the papers' 512-d GIST)",
    "lite0-fc1": "lite0-fc1 (1280-d pooled feature of the frozen ImageNet EfficientNet-Lite0 at {px}px)",
}


def feature_note(features: str) -> str:
    """What a shallow row's descriptor is, for the ``inputs`` column (a trunk feature's input size
    from :func:`~hashlib_core.baselines.features.trunk_feature_spec`)."""
    from hashlib_core.baselines.features import trunk_feature_spec

    spec = trunk_feature_spec(features)
    note = FEATURE_NOTES.get(str(features).partition("@")[0], str(features))
    return note.format(px=spec[2]) if spec else note


def run_methods(profile, methods: Sequence[str], protocol: str, bits: Iterable[int], seeds: Iterable[int],
                features: str | Sequence[str] = "hog-color", progress: bool = False,
                recipe: str | None = None) -> list:
    """Every (method, bits, seed) run on ``protocol``: shallow names through
    :func:`~hashlib_core.baselines.shallow.run_shallow` (on the profile's subset) once per
    descriptor in ``features`` (one name or a list; runs in descriptor order), everything else
    once through :func:`hashlib_core.runner.sweep` with the profile's settings and its named
    ``recipe`` if given (e.g. ``"lite0"``: the frozen pretrained Lite0 trunk). Every descriptor
    name is checked before any run."""
    from hashlib_core.baselines.features import check_features
    from hashlib_core.baselines.shallow import run_shallow
    from hashlib_core.profiles import Profile, load_profile
    from hashlib_core.runner import sweep

    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    bits, seeds = list(bits), list(seeds)
    features = [features] if isinstance(features, str) else list(features)
    for f in features:
        check_features(f)
    subset = dict(prof.subset) if prof.subset else None
    out = []
    for i, f in enumerate(features):
        for m in methods:
            if m in SHALLOW_METHODS:
                out += [run_shallow(m, protocol, b, s, features=f, subset=subset, progress=progress,
                                    num_threads=prof.num_threads)
                        for b in bits for s in seeds]
            elif i == 0:  # deep methods take no descriptor: run once
                out += sweep(prof, m, protocol, bits, seeds, progress=progress, recipe=recipe)
    return out


def inputs_of(config) -> str:
    """What a row's method was given: the descriptor (shallow) or the network (deep)."""
    m = dict(config.model)
    if m.get("family") == "shallow":
        return feature_note(m.get("features"))
    parts = [str(m.get("backbone", "?")), str(m.get("variant", "")).strip()]
    width = m.get("width")
    if width not in (None, 1, 1.0):
        parts.append(f"width {width:g}")
    parts.append(f"{config.input_size}px")
    parts.append(f"{m.get('weights')} weights" if m.get("weights") else "random init")
    if dict(config.train or {}).get("freeze_backbone"):
        parts.append("frozen trunk")
    return "deep: " + " ".join(p for p in parts if p)


def baseline_frame(results) -> pd.DataFrame:
    """One row per run (as :func:`hashlib_core.tables.results_frame`) plus ``paper_method``,
    ``dataset`` (the paper dataset the protocol stands for), ``family`` and ``inputs``."""
    from hashlib_core.tables import PAPER_DATASET, results_frame

    results = list(results)
    df = results_frame(results)
    df["paper_method"] = [PAPER_NAME.get(r.config.method, r.config.method) for r in results]
    df["dataset"] = df["protocol"].map(PAPER_DATASET)
    df["family"] = ["shallow" if dict(r.config.model).get("family") == "shallow" else "deep" for r in results]
    df["inputs"] = [inputs_of(r.config) for r in results]
    df["features_s"] = [r.timings.get("features_s", np.nan) for r in results]
    return df


def _cell(mean: float, sd: float, n: int, digits: int = 3) -> str:
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return ""
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"


def table2_layout(ours: pd.DataFrame, paper: pd.DataFrame, order: Sequence[str] | None = None,
                  stand_in: Mapping[str, str] | None = None, digits: int = 3) -> pd.DataFrame:
    """The paper's layout (methods × dataset@bits) with, for every method we ran, a ``paper`` row,
    an ``ours`` row (mean ± sd over seeds, and the inputs it used) and a ``diff`` row (ours − paper);
    methods only the paper has are ``paper`` rows marked reported only.

    ``ours``: :func:`hashlib_core.tables.summarise` output grouped by at least
    ``paper_method, inputs, dataset, bits`` with ``map``, ``map_sd``, ``n_seeds``;
    ``paper``: :func:`hashlib_core.reported.reported` rows (``method, dataset, bits, value``).
    """
    cols = [f"{d}@{b}" for d in dict.fromkeys(list(paper["dataset"]) + list(ours["dataset"]))
            for b in sorted(set(paper["bits"]) | set(ours["bits"]))]
    methods = list(order) if order else list(dict.fromkeys(list(paper["method"]) + list(ours["paper_method"])))
    for m in list(paper["method"]) + list(ours["paper_method"]):
        if m not in methods:
            methods.append(m)
    rows = []
    for m in methods:
        p = paper[paper["method"] == m]
        o = ours[ours["paper_method"] == m]
        pv = {f"{d}@{b}": v for d, b, v in zip(p["dataset"], p["bits"], p["value"])}
        if o.empty:
            if not p.empty:
                rows.append({"method": m, "row": "paper (reported only; not run here)", "inputs": "", **pv})
            continue
        if not p.empty:
            rows.append({"method": m, "row": "paper", "inputs": "", **pv})
        for inputs, g in o.groupby("inputs", sort=False):
            cell = {f"{d}@{b}": _cell(mu, sd, n, digits)
                    for d, b, mu, sd, n in zip(g["dataset"], g["bits"], g["map"], g["map_sd"], g["n_seeds"])}
            rows.append({"method": m, "row": "ours", "inputs": inputs, **cell})
            if not p.empty:
                diff = {f"{d}@{b}": (f"{mu - pv[f'{d}@{b}']:+.{digits}f}" if f"{d}@{b}" in pv else "")
                        for d, b, mu in zip(g["dataset"], g["bits"], g["map"])}
                rows.append({"method": m, "row": "diff (ours − paper)", "inputs": inputs, **diff})
    table = pd.DataFrame(rows, columns=["method", "row", "inputs"] + cols)
    for c in cols:
        table[c] = table[c].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                                else (f"{v:.4g}" if isinstance(v, float) else v))  # paper values as printed
    if stand_in:
        table = table.rename(columns={c: c.replace(k, v) for c in cols for k, v in stand_in.items() if c.startswith(k + "@")})
    return table
