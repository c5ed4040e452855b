"""Running the baselines for a table (notebooks 20, 21); paper 000's Table 2 layout of the rows is
:func:`hashlib_core.papers.p000_dshfmdf.table2_layout`.

Shallow and deep rows come back as the same :class:`~hashlib_core.runner.RunResult`, so one frame
(:func:`baseline_frame`) holds both, with the paper's name of each method, the paper dataset a
protocol stands for and, per row, what the method was given (``inputs``: the hand-crafted
descriptor of a shallow row, the network of a deep row).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from hashlib_core.baselines.features import check_features, trunk_feature_spec
from hashlib_core.methods import METHODS, get_method
from hashlib_core.names import PAPER_DATASET, paper_method_name
from hashlib_core.profiles import Profile, load_profile
from hashlib_core.runner import sweep
from hashlib_core.tables import results_frame

__all__ = ["FEATURE_NOTES", "feature_note", "run_methods", "inputs_of", "baseline_frame"]

FEATURE_NOTES = {
    "hog-color": "hog-color (388-d HOG 4x4 grid + RGB histogram; stand-in for the papers' 512-d GIST)",
    "lite0-fc1": "lite0-fc1 (1280-d pooled feature of the frozen ImageNet EfficientNet-Lite0 at {px}px)",
}


def feature_note(features: str) -> str:
    """What a shallow row's descriptor is, for the ``inputs`` column (a trunk feature's input size
    from :func:`~hashlib_core.baselines.features.trunk_feature_spec`)."""
    spec = trunk_feature_spec(features)
    note = FEATURE_NOTES.get(str(features).partition("@")[0], str(features))
    return note.format(px=spec[2]) if spec else note


def run_methods(profile, methods: Sequence[str], protocol: str, bits: Iterable[int], seeds: Iterable[int],
                features: str | Sequence[str] = "hog-color", progress: bool = False,
                recipe: str | None = None) -> list:
    """Every (method, bits, seed) run on ``protocol`` through :func:`hashlib_core.runner.sweep`:
    shallow methods once per descriptor in ``features`` (one name or a list; runs in descriptor
    order), deep methods once, with the profile's settings and its named ``recipe`` if given (e.g.
    ``"lite0"``: the frozen pretrained Lite0 trunk). Every method and descriptor name is checked
    before any run."""
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    bits, seeds = list(bits), list(seeds)
    features = [features] if isinstance(features, str) else list(features)
    for m in methods:
        get_method(m)
    for f in features:
        check_features(f)
    out = []
    for i, f in enumerate(features):
        for m in methods:
            if METHODS[m].family == "shallow":
                out += sweep(prof, m, protocol, bits, seeds, model={"features": f}, progress=progress)
            elif i == 0:  # deep methods take no descriptor: run once
                from hashlib_core.papers.p001_mdffsh import sweep as twin_sweep  # noqa: PLC0415 (import cycle)

                # an MDFF-SH / DMSH config that is DSHFMDF's computation reuses DSHFMDF's run
                out += twin_sweep(prof, m, protocol, bits, seeds, progress=progress, recipe=recipe)
    return out


def inputs_of(config) -> str:
    """What a row's method was given: the descriptor (shallow) or the network (deep)."""
    m = dict(config.model)
    if get_method(config.method).family == "shallow":
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
    results = list(results)
    df = results_frame(results)
    df["method"] = [r.method for r in results]  # a shared run counts as the method it was asked for
    df["paper_method"] = [paper_method_name(r.method) for r in results]
    df["dataset"] = df["protocol"].map(PAPER_DATASET)
    df["family"] = [get_method(r.method).family for r in results]
    df["inputs"] = [inputs_of(r.config) for r in results]
    df["features_s"] = [r.timings.get("features_s", np.nan) for r in results]
    return df
