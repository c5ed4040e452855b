"""Paper 000 (DSHFMDF, Redaoui, Belalia, Belloulata, Information 2024): its tables laid out beside our
runs (notebooks 01–07, 20). Computation lives in the package; this module only assembles.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from hashlib_core.claims import claims_frame, ordering_claim, versus_reported_claim
from hashlib_core.reporting import format_mean_sd

__all__ = ["FIG6_DESIGNS", "TABLE2_ORDER", "dshfmdf_rows", "equal_inputs_claims", "fig6_points", "recipe_lengths",
           "scale_sweep", "table2_layout", "versus_paper_claims"]

#: the row order of paper 000's Table 2 (its "Ours" row is our "DSHFMDF")
TABLE2_ORDER = ["SH", "ITQ", "KSH", "SDH", "LSH", "PCAH", "CNNH", "DNNH", "DHN", "HashNet", "DPSH", "DSDH", "DCH",
                "CSQ", "DPH", "LRH", "DFEH", "DHWP", "DMUH", "DSHFMDF"]


#: how notebook 07 samples the β / γ plane: ``curves`` = the paper's two curves of Fig. 6 (§4.6: β
#: varied at the default γ, γ varied at the default β); ``grid`` = every (β, γ) pair (a heatmap; its
#: cost is len(betas) × len(gammas) runs a seed instead of len(betas) + len(gammas) − 1)
FIG6_DESIGNS = ("curves", "grid")


def fig6_points(betas: Sequence[float], gammas: Sequence[float], default_beta: float, default_gamma: float,
                design: str = "curves") -> list[tuple[float, float]]:
    """The (β, γ) pairs notebook 07 trains, in a fixed order, each once (``design``: :data:`FIG6_DESIGNS`).
    ``curves`` needs ``default_gamma`` among ``gammas`` and ``default_beta`` among ``betas``: the two
    curves then cross at the paper's operating point, trained once."""
    if design not in FIG6_DESIGNS:
        raise ValueError(f"design must be one of {list(FIG6_DESIGNS)}, got {design!r}")
    betas, gammas = [float(b) for b in betas], [float(g) for g in gammas]
    if design == "grid":
        return [(b, g) for b in betas for g in gammas]
    if float(default_beta) not in betas or float(default_gamma) not in gammas:
        raise ValueError(f"design 'curves': default_beta {default_beta} must be in betas {betas} and "
                         f"default_gamma {default_gamma} in gammas {gammas} (the point where the curves cross)")
    points = [(b, float(default_gamma)) for b in betas] + [(float(default_beta), g) for g in gammas]
    return list(dict.fromkeys(points))


def recipe_lengths(recipes: Sequence, bits: Sequence[int], scratch_bits: Sequence[int] | None = None
                   ) -> list[tuple[object, list[int]]]:
    """``[(recipe, code lengths)]`` for a notebook that runs several network settings: every recipe
    at ``bits``, except the profile's own network (recipe ``None``: from scratch in ``cpu``) at
    ``scratch_bits`` when given. Issue 13: a from-scratch network near chance cannot test an
    ordering, so it is kept where it is cheap (fewer lengths), never with fewer seeds."""
    bits = [int(b) for b in bits]
    if scratch_bits is not None:
        scratch_bits = [int(b) for b in scratch_bits]
        if not scratch_bits or not set(scratch_bits) <= set(bits):
            raise ValueError(f"scratch_bits {scratch_bits} must be a non-empty subset of bits {bits}")
    return [(r, scratch_bits if r is None and scratch_bits is not None else bits) for r in recipes]


def scale_sweep(profile: str, variants: Sequence[str], recipes: Sequence, bits: Sequence[int],
                scratch_bits: Sequence[int] | None, seeds: Sequence[int], protocol: str = "cifar10-dshfmdf") -> list:
    """Notebook 04's runs (Table 4): DSHFMDF per network setting and feature-scale variant, in the
    notebook's order (setting, then ``variants``, then :func:`hashlib_core.runner.sweep`'s order).

    The ``fused`` runs of each setting are computed first: on a frozen trunk their pass caches every
    tap (conv3, conv4, conv5 and fc1), which then serves the fc1 and conv3-5 variants, so an empty
    cache pays one trunk pass (≈ 26 min for Lite0 on 2 cores) instead of three."""
    from hashlib_core.runner import sweep

    settings = recipe_lengths(recipes, bits, scratch_bits)
    by_arm = {}
    for recipe, lengths in settings:
        for v in sorted(variants, key=lambda v: v != "fused"):  # stable: the others keep their order
            by_arm[(recipe, v)] = sweep(profile, "dshfmdf", protocol, lengths, seeds, model={"variant": v}, recipe=recipe)
    return [r for recipe, _ in settings for v in variants for r in by_arm[(recipe, v)]]


def dshfmdf_rows(ours: pd.DataFrame) -> pd.DataFrame:
    """DSHFMDF's summary rows (:func:`hashlib_core.tables.summarise` by ``setting, dataset, bits``)
    in the shape :func:`table2_layout` takes: the network setting as the row's ``inputs``."""
    return ours.assign(paper_method="DSHFMDF", inputs=ours["setting"])


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
            cell = {f"{d}@{b}": format_mean_sd(mu, sd, n, digits)
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


def versus_paper_claims(runs: pd.DataFrame, paper: pd.DataFrame, by: Sequence[str] = ("setting", "protocol"),
                        digits: int = 3) -> pd.DataFrame:
    """"Ours reaches the paper's MAP" for every group of ``by`` and bit length the paper reports
    (:func:`hashlib_core.claims.versus_reported_claim`: refuted when our seeds are below the paper's
    value beyond their noise, inconclusive when it is within it, reproduced when above).

    ``runs``: one row per run with ``by`` columns, ``dataset``, ``bits``, ``seed``, ``map``;
    ``paper``: :func:`hashlib_core.reported.reported` rows of one method (``dataset, bits, value``).
    Cells the paper has no value for are left out."""
    missing = [c for c in ("dataset", "bits", "value") if c not in paper.columns]
    if missing:
        raise ValueError(f"paper has no column(s) {missing}: pass reported(paper, table, method=...) rows")
    value = {(d, int(b)): float(v) for d, b, v in paper[["dataset", "bits", "value"]].itertuples(index=False)}
    rows = []
    for key, sub in runs.groupby([*by, "dataset", "bits"], sort=False):
        *group, dataset, bits = key
        if (dataset, int(bits)) not in value:
            continue
        reported_value = value[(dataset, int(bits))]
        row = versus_reported_claim(sub, reported_value, f"ours ≥ paper at {int(bits)} bits ({reported_value:.{digits}f})")
        rows.append({**dict(zip(by, group)), "bits": int(bits), **row})
    return claims_frame(rows, digits)


def equal_inputs_claims(runs: pd.DataFrame, paper: pd.DataFrame, feature: str = "lite0-fc1",
                        reference: str = "DSHFMDF", same_runs_as_reference: Sequence[str] = ("MDFF-SH",),
                        digits: int = 3) -> pd.DataFrame:
    """Paper 000 Table 2 ranks DSHFMDF above every baseline; here the claim "DSHFMDF > B" for every
    other method B of ``runs``, at equal inputs (notebook 21): every deep row (the same trunk, the
    profile's recipe) and the shallow rows on descriptor ``feature`` (the same trunk's pooled
    feature), one :func:`hashlib_core.claims.ordering_claim` each, paired by seed.

    ``runs``: :func:`hashlib_core.baselines.tables.baseline_frame` rows of one protocol and length
    (``paper_method``, ``family``, ``inputs``, ``bits``, ``seed``, ``map``); ``paper``:
    :func:`hashlib_core.reported.reported` rows of paper 000 Table 2 at that length and dataset
    (``method``, ``value``). Column ``paper 000`` gives the two reported values where the paper has
    B, and says "not in the table" otherwise (the claim is then ours, by extension).
    ``same_runs_as_reference``: methods whose runs are the reference's (MDFF-SH on the frozen Lite0
    trunk is DSHFMDF's network, ``docs/decisions.md``), left out rather than compared with themselves."""
    missing = [c for c in ("paper_method", "family", "inputs", "bits", "seed", "map") if c not in runs.columns]
    if missing:
        raise ValueError(f"runs has no column(s) {missing}: pass baseline_frame(results)")
    for col in ("bits", "protocol"):
        if col in runs.columns and runs[col].nunique() > 1:
            raise ValueError(f"runs mix {runs[col].nunique()} values of {col!r}: pass one protocol at one length")
    equal = runs[(runs["family"] == "deep") | runs["inputs"].astype(str).str.startswith(feature)]
    if reference not in set(equal["paper_method"]):
        raise ValueError(f"no {reference} rows among the equal-input runs; methods: "
                         f"{sorted(set(equal['paper_method']))}")
    value = dict(zip(paper["method"], paper["value"].astype(float)))
    others = [m for m in dict.fromkeys(equal["paper_method"])
              if m != reference and m not in same_runs_as_reference]
    rows = []
    for other in others:
        if other in value and reference in value:
            note = f"{reference} {value[reference]:.{digits}f} > {other} {value[other]:.{digits}f}"
        else:
            note = "not in the table"
        rows.append({"paper 000": note,
                     **ordering_claim(equal, "paper_method", [reference, other], f"{reference} > {other}")})
    return claims_frame(rows, digits)
