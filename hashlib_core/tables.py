"""Turning run results into the papers' tables: one long frame, then mean ± sd beside the paper.

Notebooks stay thin: they choose which runs a table needs, call :func:`hashlib_core.runner.run_many`,
then :func:`results_frame` → :func:`summarise` → :func:`beside_paper`; the papers' claims are judged
by :mod:`hashlib_core.claims`.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from hashlib_core.names import backbone_name
from hashlib_core.reporting import format_mean_sd, mean_sd


def setting_label(config) -> str:
    """How a run's network was obtained, for a table row: e.g. ``"VGG-19-BN ×0.125, from scratch,
    32 px"`` or ``"EfficientNet-Lite0, ImageNet-pretrained, frozen trunk, 224 px"``."""
    m = dict(config.model)
    if "features" in m:  # a shallow method: no network, a descriptor
        return f"descriptor {m['features']}"
    name = backbone_name(m.get("backbone"))
    width = float(m.get("width", 1.0))
    parts = [name + (f" ×{width:g}" if width != 1.0 else ""),
             "ImageNet-pretrained" if m.get("weights") else "from scratch"]
    if dict(config.train).get("freeze_backbone"):
        parts.append("frozen trunk")
    parts.append(f"{config.input_size} px")
    return ", ".join(parts)


def results_frame(results: Iterable) -> pd.DataFrame:
    """One row per run: the config fields a table groups by, every metric, and the timings."""
    rows = []
    for r in results:
        c = r.config
        row = {
            "method": c.method, "protocol": c.protocol, "bits": c.bits, "seed": c.seed,
            "setting": setting_label(c),
            **{f"model.{k}": v for k, v in dict(c.model).items()},
            **{f"loss.{k}": v for k, v in dict(c.loss).items()},
            **r.metrics,
            "train_s": r.timings.get("train_s", np.nan),
            # a row's cost beside the paper: minutes of training per run on this machine
            "train_min": r.timings.get("train_s", np.nan) / 60,
            "trunk_s": r.timings.get("trunk_s", 0.0),
            "encode_s": r.timings.get("encode_s", np.nan),
            "key": r.key[:10],
        }
        rows.append(row)
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame, by: Sequence[str], metrics: Sequence[str] = ("map",)) -> pd.DataFrame:
    """Mean, sample sd and number of seeds of each metric per group."""
    out = []
    for keys, group in df.groupby(list(by), sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        row = dict(zip(by, keys))
        row["n_seeds"] = int(group["seed"].nunique())
        for m in metrics:
            mean, sd = mean_sd(group[m].to_numpy())
            row[m] = mean
            row[f"{m}_sd"] = sd
        out.append(row)
    return pd.DataFrame(out)


def beside_paper(ours: pd.DataFrame, paper: pd.DataFrame, on: Sequence[str], metric: str = "map") -> pd.DataFrame:
    """Our mean ± sd next to the paper's value for the same cell, with the difference (ours − paper)."""
    p = paper[list(on) + ["value"]].rename(columns={"value": "paper"})
    merged = ours.merge(p, on=list(on), how="left")
    merged["diff"] = merged[metric] - merged["paper"]
    return merged


def wide(df: pd.DataFrame, index: Sequence[str], columns: str, value: str) -> pd.DataFrame:
    """Pivot a long frame into the papers' layout (e.g. methods × bits)."""
    table = df.pivot_table(index=list(index), columns=columns, values=value, aggfunc="first", sort=False)
    table.columns = [f"{columns}={c}" for c in table.columns]
    return table.reset_index()


def format_cells(df: pd.DataFrame, metric: str = "map", digits: int = 3) -> pd.DataFrame:
    """Replace every ``X`` / ``X_sd`` column pair (``metric`` first) by one ``"0.812 ± 0.004"``
    text column (just ``"0.812"`` for a single seed); ``paper`` and ``diff`` to ``digits`` places."""
    out = df.copy()
    n = out["n_seeds"] if "n_seeds" in out else pd.Series([1] * len(out), index=out.index)
    pairs = [c[:-3] for c in out.columns if c.endswith("_sd") and c[:-3] in out.columns]
    for col in sorted(pairs, key=lambda c: c != metric):
        sd = out.pop(f"{col}_sd")
        out[col] = ["" if pd.isna(m) else format_mean_sd(m, s, k, digits) for m, s, k in zip(out[col], sd, n)]
    if "paper" in out:
        out["paper"] = out["paper"].map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
    if "diff" in out:
        out["diff"] = out["diff"].map(lambda v: "" if pd.isna(v) else f"{v:+.{digits}f}")
    return out
