"""The papers' claims judged with seed statistics: a three-way verdict per claim.

Every claim function returns one *row* (a dict) with the arms in claimed order, each arm's mean
and number of seeds, the difference(s) the verdict rests on with their standard errors, a
``verdict`` in :data:`VERDICTS` and a ``reason``; :func:`claims_frame` turns rows into the table
the notebooks save.

Input: the long frame of :func:`hashlib_core.tables.results_frame` (one row per run, columns
``method``, ``protocol``, ``bits``, ``seed``, metric columns such as ``map``, grouping columns
such as ``model.variant`` or ``loss.gamma``).  Runs with the same seed share the data split, so
arms are compared *paired*: cell by cell on ``(bits, seed)`` (pooled over the bit lengths the two
arms share), the cells' differences averaged within each seed, and the seeds are the replicates.

The rule (:func:`compare`, used by every seed-based claim): with ``n >= 3`` common seeds, per-seed
differences ``d_s = a_s - b_s``, mean ``d`` and standard error ``SE = sd(d_s) / sqrt(n)``:

* ``a > b`` holds when ``d > 2 SE`` **and** ``d_s > 0`` in every seed;
* ``a < b`` holds (the claim ``a > b`` is refuted) when ``d < -2 SE`` and ``d_s < 0`` in every seed;
* otherwise the data do not decide.

Why: 2 SE is a one-sided t-test at p ~ 0.09 with 3 seeds (2 degrees of freedom) -- a screen,
not a 5 % test -- so the sign condition is added: from 4 seeds on it keeps one reversed seed from
being outvoted (with 3 seeds a mean above 2 SE already forces all three positive: the largest t
with one seed <= 0 is n - 1 = 2).  One rule for both directions makes "refuted" as demanding as
"reproduced".  Fewer than 3 seeds per arm
(or in common) is always ``inconclusive``: one seed has no spread to compare a gap with.
docs/decisions.md, "Claims with seed statistics (issue 13)".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "not_run",
    "VERDICTS",
    "MIN_SEEDS",
    "SE_MULTIPLE",
    "Comparison",
    "compare",
    "ordering_claim",
    "trend_claim",
    "rise_then_level_claim",
    "stable_claim",
    "paired_bootstrap_claim",
    "versus_reported_claim",
    "claims_frame",
    "claims_by_setting",
]

VERDICTS = ("reproduced", "refuted", "inconclusive")
#: seeds every arm needs before a verdict other than "inconclusive"
MIN_SEEDS = 3
#: a difference must exceed this many standard errors of the paired difference
SE_MULTIPLE = 2.0


# ----------------------------------------------------------------------------------------------
# input checks and paired cells
# ----------------------------------------------------------------------------------------------

def _check_runs(runs: pd.DataFrame, column: str, metric: str, pair_on: Sequence[str]) -> None:
    if not isinstance(runs, pd.DataFrame):
        raise TypeError(f"runs must be a pandas DataFrame (tables.results_frame), got {type(runs).__name__}")
    needed = [column, metric, *pair_on]
    missing = [c for c in dict.fromkeys(needed) if c not in runs.columns]
    if missing:
        raise ValueError(f"runs has no column(s) {missing}; columns are {list(runs.columns)}")
    if "seed" not in pair_on:
        raise ValueError(f"pair_on must contain 'seed' (the replicate), got {list(pair_on)}")


def _pair_on(column: str, pair_on: Optional[Sequence[str]]) -> list:
    if pair_on is None:
        pair_on = ("bits", "seed")
    return [c for c in pair_on if c != column]


def _arm_cells(runs: pd.DataFrame, column: str, arm, metric: str, pair_on: Sequence[str]) -> tuple:
    """The finite metric values of one arm, indexed by its cells, and how many were NaN."""
    rows = runs[runs[column] == arm]
    if rows.empty:
        values = sorted(map(str, runs[column].dropna().unique()))
        raise ValueError(f"no runs with {column} == {arm!r}; its values are {values}")
    dup = rows.duplicated(subset=list(pair_on), keep=False)
    if dup.any():
        cell = rows.loc[dup, list(pair_on)].iloc[0].to_dict()
        raise ValueError(f"{column} == {arm!r} has more than one run in cell {cell}: filter runs to one "
                         f"setting first (or pass pair_on with the column that tells them apart)")
    values = pd.to_numeric(rows[metric], errors="coerce")
    series = pd.Series(values.to_numpy(dtype=float), index=pd.MultiIndex.from_frame(rows[list(pair_on)]))
    finite = series[np.isfinite(series.to_numpy())]
    return finite, int(len(series) - len(finite))


def _n_seeds(cells: pd.Series) -> int:
    return int(cells.index.get_level_values("seed").nunique())


@dataclass(frozen=True)
class Comparison:
    """A paired comparison of arm ``a`` against arm ``b`` (difference = a - b).

    ``outcome``: ``">"`` (a above b by the rule), ``"<"`` (a below b), ``"~"`` (undecided) or
    ``"?"`` (too few seeds to judge).
    """

    a: str
    b: str
    mean_a: float
    mean_b: float
    n_seeds_a: int
    n_seeds_b: int
    diff: float
    se: float
    n_common: int
    outcome: str
    note: str


def _compare_cells(a_name, b_name, a: pd.Series, b: pd.Series, min_seeds: int, z: float) -> Comparison:
    na, nb = _n_seeds(a), _n_seeds(b)
    mean_a = float(a.mean()) if len(a) else float("nan")
    mean_b = float(b.mean()) if len(b) else float("nan")
    common = a.index.intersection(b.index)
    d = (a.loc[common] - b.loc[common]) if len(common) else pd.Series(dtype=float)
    per_seed = d.groupby(level="seed").mean() if len(d) else pd.Series(dtype=float)
    n = int(per_seed.size)
    diff = float(per_seed.mean()) if n else float("nan")
    se = float(per_seed.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    notes = []
    seeds_a = set(a.index.get_level_values("seed"))
    seeds_b = set(b.index.get_level_values("seed"))
    if seeds_a != seeds_b:
        only = [f"{name} only: {sorted(extra)}" for name, extra in
                ((a_name, seeds_a - seeds_b), (b_name, seeds_b - seeds_a)) if extra]
        notes.append(f"paired on the {n} seed(s) both have; " + ", ".join(only))
    elif len(common) < max(len(a), len(b)):
        notes.append(f"paired on the {len(common)} cells both have ({a_name}: {len(a)}, {b_name}: {len(b)})")
    if min(na, nb) < min_seeds:
        return Comparison(str(a_name), str(b_name), mean_a, mean_b, na, nb, diff, se, n, "?",
                          "; ".join([f"fewer than {min_seeds} seeds ({a_name}: {na}, {b_name}: {nb})"] + notes))
    if n < min_seeds:
        return Comparison(str(a_name), str(b_name), mean_a, mean_b, na, nb, diff, se, n, "?",
                          "; ".join([f"fewer than {min_seeds} common seeds ({n})"] + notes))
    vals = per_seed.to_numpy()
    if diff > z * se and (vals > 0).all():
        outcome = ">"
    elif diff < -z * se and (vals < 0).all():
        outcome = "<"
    else:
        outcome = "~"
        if np.all(vals == 0):
            notes.insert(0, "tie in every seed")
        elif abs(diff) <= z * se:
            # no "|" in the text: it would split a markdown table's cell
            notes.insert(0, f"gap within noise (d = {diff:+.4f}, {z:g} SE = {z * se:.4f})")
        else:
            notes.insert(0, "sign of the difference differs across seeds")
    return Comparison(str(a_name), str(b_name), mean_a, mean_b, na, nb, diff, se, n, outcome, "; ".join(notes))


def compare(runs: pd.DataFrame, column: str, a, b, metric: str = "map", *,
            pair_on: Optional[Sequence[str]] = None, min_seeds: int = MIN_SEEDS,
            z: float = SE_MULTIPLE) -> Comparison:
    """Paired comparison of ``runs[column] == a`` against ``== b`` on ``metric`` (module rule).

    ``pair_on``: the cell columns (default ``("bits", "seed")`` without ``column``); differences
    are taken cell by cell, averaged within each seed, and the seeds are the replicates.  Cells
    with a NaN metric are dropped; only cells both arms have are paired (the note says which seeds
    were dropped).
    """
    cells = _pair_on(column, pair_on)
    _check_runs(runs, column, metric, cells)
    ca, nan_a = _arm_cells(runs, column, a, metric, cells)
    cb, nan_b = _arm_cells(runs, column, b, metric, cells)
    c = _compare_cells(a, b, ca, cb, min_seeds, z)
    if nan_a or nan_b:
        extra = f"NaN {metric} dropped ({a}: {nan_a}, {b}: {nan_b})"
        c = Comparison(**{**c.__dict__, "note": "; ".join(filter(None, [c.note, extra]))})
    return c


# ----------------------------------------------------------------------------------------------
# rows
# ----------------------------------------------------------------------------------------------

def _row(claim: str, kind: str, arms: Sequence, means: Sequence[float], n_seeds: Sequence[int],
         differences: Sequence[tuple], verdict: str, reason: str, **extra) -> dict:
    assert verdict in VERDICTS, verdict
    return {"claim": claim, "kind": kind, "arms": [str(a) for a in arms], "means": [float(m) for m in means],
            "n_seeds": [int(n) for n in n_seeds],
            "differences": [(str(label), float(d), float(se)) for label, d, se in differences],
            "verdict": verdict, "reason": reason, **extra}


def _chain(comparisons: Sequence[Comparison], better: str = "higher") -> tuple:
    """Verdict of a chain of claimed steps ``a`` better than ``b``: every step must hold; one
    reversed step refutes; the reason names the steps that did not hold."""
    rel = ">" if better == "higher" else "<"
    if any(c.outcome == "<" for c in comparisons):
        bad = [f"{c.b} {rel} {c.a}" for c in comparisons if c.outcome == "<"]
        verdict, head = "refuted", "opposite order holds: " + ", ".join(bad)
    elif all(c.outcome == ">" for c in comparisons):
        verdict, head = "reproduced", f"every step > {SE_MULTIPLE:g} SE with the same sign in every seed"
    else:
        verdict, head = "inconclusive", ""
    notes = [f"{c.a} vs {c.b}: {c.note}" if len(comparisons) > 1 else c.note
             for c in comparisons if c.note]
    return verdict, "; ".join(filter(None, [head] + notes))


def ordering_claim(runs: pd.DataFrame, column: str, order: Sequence, claim: str, metric: str = "map", *,
                   better: str = "higher", pair_on: Optional[Sequence[str]] = None,
                   min_seeds: int = MIN_SEEDS, z: float = SE_MULTIPLE) -> dict:
    """"``order[0]`` > ``order[1]`` > ..." on ``metric`` (best first), each adjacent pair judged
    by :func:`compare` (paired on ``(bits, seed)`` cells, pooled over bits, seeds as replicates).

    Reproduced only if every adjacent pair is; refuted if any pair is reversed by the same rule;
    otherwise inconclusive (too few seeds, a gap within noise, signs that differ across seeds).
    ``better="lower"`` for metrics where less is better (e.g. a runtime): best first still, and
    the differences are then ``next - previous``.  Same call shape as
    :func:`hashlib_core.tables.ordering_claim`.
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    if len(order) < 2:
        raise ValueError(f"an ordering needs at least two arms, got {list(order)}")
    if len(set(order)) != len(order):
        raise ValueError(f"arms repeat in {list(order)}")
    judged = runs
    if better == "lower" and metric in runs.columns:  # judge "a below b" as "-a above -b"
        judged = runs.assign(**{metric: -pd.to_numeric(runs[metric], errors="coerce")})
    comps = [compare(judged, column, a, b, metric, pair_on=pair_on, min_seeds=min_seeds, z=z)
             for a, b in zip(order, order[1:])]
    sign = 1.0 if better == "higher" else -1.0
    means = [sign * comps[0].mean_a] + [sign * c.mean_b for c in comps]
    n_seeds = [comps[0].n_seeds_a] + [c.n_seeds_b for c in comps]
    verdict, reason = _chain(comps, better)
    diffs = [(f"{c.a} − {c.b}", c.diff, c.se) if better == "higher" else (f"{c.b} − {c.a}", c.diff, c.se)
             for c in comps]
    return _row(claim, "ordering", order, means, n_seeds, diffs, verdict, reason, metric=metric, better=better)


def _grid(runs: pd.DataFrame, column: str) -> list:
    values = runs[column].dropna().unique()
    try:
        return sorted(values, key=float)
    except (TypeError, ValueError):
        raise ValueError(f"column {column!r} must hold numbers for a trend or shape claim, got {list(values)}")


def trend_claim(runs: pd.DataFrame, claim: str, direction: str = "increases", column: str = "bits",
                metric: str = "map", *, pair_on: Optional[Sequence[str]] = None,
                min_seeds: int = MIN_SEEDS, z: float = SE_MULTIPLE) -> dict:
    """"``metric`` increases (or falls) with ``column``": every step between neighbouring grid
    values judged paired by seed (:func:`compare`); reproduced when every step goes the claimed
    way beyond noise, refuted when any step goes the other way beyond noise, else inconclusive."""
    if direction not in ("increases", "falls"):
        raise ValueError(f"direction must be 'increases' or 'falls', got {direction!r}")
    grid = _grid(runs, column)
    if len(grid) < 2:
        raise ValueError(f"a trend needs at least two values of {column!r}, got {grid}")
    order = grid[::-1] if direction == "increases" else grid
    row = ordering_claim(runs, column, order, claim, metric, pair_on=pair_on, min_seeds=min_seeds, z=z)
    # report in grid order (smallest first), as a curve is read
    comps = list(zip(row["arms"], row["means"], row["n_seeds"]))[::-1] if direction == "increases" else \
        list(zip(row["arms"], row["means"], row["n_seeds"]))
    row.update(kind=f"trend ({direction})", arms=[f"{column}={a}" for a, _, _ in comps],
               means=[m for _, m, _ in comps], n_seeds=[n for _, _, n in comps],
               differences=[(f"{column}={a} − {column}={b}", d, se) for (_, d, se), (a, b)
                            in zip(row["differences"], zip(order, order[1:]))])
    return row


def rise_then_level_claim(runs: pd.DataFrame, column: str, claim: str, metric: str = "map", *,
                          pair_on: Optional[Sequence[str]] = None, min_seeds: int = MIN_SEEDS,
                          z: float = SE_MULTIPLE) -> dict:
    """"``metric`` rises along ``column`` then levels off" (paper 000 §4.6 on Fig. 6; paper 004's
    code lengths), with the peak P = the grid value of highest mean and "above / below / within
    noise" decided by :func:`compare` against P (paired by seed):

    * rise: the first grid value is below P, and no value before P is below the first (no dip);
    * level-off: every value after P is within noise of P, and the plateau reaches the grid's
      end with at least two values (P is not the last value, or the value before P is within
      noise of P);
    * reproduced: rise and level-off; refuted: the first value is P and a later one is below it
      (it falls), a dip below the first value before P, a value after P below P (it falls after
      the peak), or P is the last value and above its predecessor (still rising at the grid's
      edge: no level-off in the grid); otherwise inconclusive.
    """
    cells = _pair_on(column, pair_on)
    _check_runs(runs, column, metric, cells)
    grid = _grid(runs, column)
    if len(grid) < 3:
        raise ValueError(f"'rises then levels off' needs at least three values of {column!r}, got {grid}")
    arm = {g: _arm_cells(runs, column, g, metric, cells) for g in grid}
    means = [float(arm[g][0].mean()) if len(arm[g][0]) else float("nan") for g in grid]
    n_seeds = [_n_seeds(arm[g][0]) for g in grid]
    labels = [f"{column}={g}" for g in grid]
    if all(np.isnan(means)):
        return _row(claim, "rises then levels off", labels, means, n_seeds, [], "inconclusive",
                    f"no finite {metric}")
    p = int(np.nanargmax(means))

    def vs(i, j):  # grid value i compared with grid value j (difference i - j)
        return _compare_cells(labels[i], labels[j], arm[grid[i]][0], arm[grid[j]][0], min_seeds, z)

    if min(n_seeds) < min_seeds:
        few = labels[int(np.argmin(n_seeds))]
        return _row(claim, "rises then levels off", labels, means, n_seeds, [], "inconclusive",
                    f"fewer than {min_seeds} seeds ({few}: {min(n_seeds)})")
    to_peak = {i: vs(p, i) for i in range(len(grid)) if i != p}  # peak - i
    dips = [vs(i, 0) for i in range(1, p)]  # i - first, before the peak
    diffs = [(f"{labels[p]} − {labels[i]}", c.diff, c.se) for i, c in to_peak.items()]
    unjudged = [c for c in [*to_peak.values(), *dips] if c.outcome == "?"]
    if unjudged:
        return _row(claim, "rises then levels off", labels, means, n_seeds, diffs, "inconclusive",
                    "; ".join(dict.fromkeys(f"{c.a} vs {c.b}: {c.note}" for c in unjudged)), metric=metric)
    refuted, missing = [], []
    if p == 0:
        falls = [labels[i] for i, c in to_peak.items() if c.outcome == ">"]
        if falls:
            refuted.append(f"no rise: the first value is the peak and {', '.join(falls)} lie(s) below it")
        else:
            missing.append("no rise: the first value has the highest mean")
    else:
        if to_peak[0].outcome != ">":
            missing.append(f"rise from {labels[0]} to the peak {labels[p]} within noise")
        dipped = [c.a for c in dips if c.outcome == "<"]
        if dipped:
            refuted.append(f"dips below {labels[0]} at {', '.join(dipped)} before the peak")
    after = list(range(p + 1, len(grid)))
    fell = [labels[i] for i in after if to_peak[i].outcome == ">"]
    if fell:
        refuted.append(f"falls after the peak {labels[p]} (at {', '.join(fell)})")
    if any(to_peak[i].outcome == "<" for i in after):  # only with unequal seed sets
        missing.append("a value after the peak lies above it on the common seeds")
    if not after and p > 0 and to_peak[p - 1].outcome == ">":
        refuted.append(f"still rising at the grid's edge ({labels[p]} above {labels[p - 1]})")
    if refuted:
        verdict, reason = "refuted", "; ".join(refuted)
    elif missing:
        verdict, reason = "inconclusive", "; ".join(missing)
    else:
        verdict = "reproduced"
        plateau = [labels[i] for i in after] or [labels[p - 1]]
        reason = (f"rises from {labels[0]} to the peak {labels[p]}; within noise of the peak: "
                  f"{', '.join(plateau)}")
    pair_notes = list(dict.fromkeys(c.note for c in to_peak.values() if "paired on" in c.note))
    return _row(claim, "rises then levels off", labels, means, n_seeds, diffs, verdict,
                "; ".join([reason] + pair_notes), metric=metric, peak=labels[p])


def stable_claim(runs: pd.DataFrame, claim: str, tolerance: float = 0.02, column: str = "bits",
                 metric: str = "map", *, pair_on: Optional[Sequence[str]] = None,
                 min_seeds: int = MIN_SEEDS, z: float = SE_MULTIPLE) -> dict:
    """"``metric`` is stable across ``column``" (e.g. code lengths): the paired difference D
    between the grid values of highest and lowest mean, with its standard error.

    Reproduced when ``|D| + z SE <= tolerance`` (even the upper end of the noise band is within
    the tolerance), refuted when ``|D| - z SE > tolerance`` (the spread exceeds the tolerance
    beyond noise), otherwise inconclusive.  ``tolerance`` is in the metric's units and must be
    stated with the claim (default 0.02 mAP, the tolerance the statistics-free check used).
    """
    if not (isinstance(tolerance, (int, float)) and tolerance >= 0 and np.isfinite(tolerance)):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    cells = _pair_on(column, pair_on)
    _check_runs(runs, column, metric, cells)
    grid = _grid(runs, column)
    if len(grid) < 2:
        raise ValueError(f"stability needs at least two values of {column!r}, got {grid}")
    arm = {g: _arm_cells(runs, column, g, metric, cells)[0] for g in grid}
    means = [float(arm[g].mean()) if len(arm[g]) else float("nan") for g in grid]
    n_seeds = [_n_seeds(arm[g]) for g in grid]
    labels = [f"{column}={g}" for g in grid]
    hi, lo = int(np.nanargmax(means)), int(np.nanargmin(means))
    if hi == lo:
        return _row(claim, "stable", labels, means, n_seeds, [], "inconclusive", "one finite grid value")
    c = _compare_cells(labels[hi], labels[lo], arm[grid[hi]], arm[grid[lo]], min_seeds, z)
    diffs = [(f"{c.a} − {c.b} (max − min)", c.diff, c.se)]
    if c.outcome == "?":
        return _row(claim, "stable", labels, means, n_seeds, diffs, "inconclusive", c.note, tolerance=tolerance)
    band = z * c.se
    if abs(c.diff) + band <= tolerance:
        verdict, head = "reproduced", f"max − min {abs(c.diff):.4f} + {z:g} SE {band:.4f} <= tolerance {tolerance:g}"
    elif abs(c.diff) - band > tolerance:
        verdict, head = "refuted", f"max − min {abs(c.diff):.4f} − {z:g} SE {band:.4f} > tolerance {tolerance:g}"
    else:
        verdict, head = "inconclusive", f"max − min {abs(c.diff):.4f} ± {band:.4f} straddles tolerance {tolerance:g}"
    note = c.note if "paired on" in c.note else ""
    return _row(claim, "stable", labels, means, n_seeds, diffs, verdict, "; ".join(filter(None, [head, note])),
                tolerance=tolerance)


def paired_bootstrap_claim(ap_a, ap_b, claim: str, arms: Sequence[str] = ("a", "b"), *,
                           n_boot: int = 10_000, level: float = 0.95, seed: int = 0,
                           chunk: int = 500) -> dict:
    """"arm a > arm b" from per-query APs of both arms on the *same* queries
    (:func:`hashlib_core.metrics.average_precisions`), for when seeds are too few.

    Resamples the queries with replacement (``numpy.random.default_rng(seed)``, ``n_boot``
    resamples) and takes the percentile interval of the mean paired difference at ``level``.
    Reproduced when the interval lies above 0, refuted when below, else inconclusive.  The
    interval covers which queries were drawn, not training noise (a second seed can still move
    the result), which the reason says.
    """
    a = np.asarray(ap_a, dtype=float)
    b = np.asarray(ap_b, dtype=float)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"ap_a and ap_b must be 1-D per-query APs of the same queries, got shapes {a.shape}, {b.shape}")
    if a.size < 2:
        raise ValueError(f"the bootstrap needs at least 2 queries, got {a.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("ap_a and ap_b must be finite (a NaN AP means a query without relevant items; drop it first)")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if int(n_boot) < 100:
        raise ValueError(f"n_boot must be >= 100, got {n_boot!r}")
    if len(arms) != 2:
        raise ValueError(f"arms must name the two arms, got {list(arms)}")
    d = a - b
    rng = np.random.default_rng(seed)
    boots = np.empty(int(n_boot))
    for start in range(0, int(n_boot), chunk):  # chunks bound the (chunk, Q) index matrix
        m = min(chunk, int(n_boot) - start)
        idx = rng.integers(0, d.size, size=(m, d.size))
        boots[start:start + m] = d[idx].mean(axis=1)
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    diff, se = float(d.mean()), float(boots.std(ddof=1))
    if lo > 0:
        verdict = "reproduced"
    elif hi < 0:
        verdict = "refuted"
    else:
        verdict = "inconclusive"
    reason = (f"per-query paired bootstrap over {d.size} queries, {level:.0%} interval "
              f"[{lo:+.4f}, {hi:+.4f}]; covers the query sample only, not training seeds")
    return _row(claim, "ordering (per-query bootstrap)", arms, [a.mean(), b.mean()], [1, 1],
                [(f"{arms[0]} − {arms[1]}", diff, se)], verdict, reason,
                interval=(float(lo), float(hi)), n_queries=int(d.size))


# ----------------------------------------------------------------------------------------------
# tables
# ----------------------------------------------------------------------------------------------

_ROW_KEYS = {"claim", "kind", "arms", "means", "n_seeds", "differences", "verdict", "reason", "metric",
             "better", "peak", "tolerance", "interval", "n_queries"}


def versus_reported_claim(runs: pd.DataFrame, reported: float | Mapping, claim: str, metric: str = "map", *,
                          ours: str = "ours", paper: str = "paper", pair_on: Sequence[str] = ("bits", "seed"),
                          min_seeds: int = MIN_SEEDS, z: float = SE_MULTIPLE) -> dict:
    """"Ours reaches the paper's value": our runs against a number the paper reports (no spread
    of its own, so it is taken as exact). Each cell's difference is ours − reported (``reported``:
    one value, or one per ``bits``), averaged within each seed, and the module rule decides:
    reproduced when ours is above by more than 2 SE in every seed, refuted when below by the same
    rule, inconclusive when the paper's value is within our seed noise (or too few seeds)."""
    cells = list(pair_on)
    _check_runs(runs, metric, metric, cells)
    a, nan_a = _arm_cells(runs.assign(__arm__=ours), "__arm__", ours, metric, cells)
    if isinstance(reported, Mapping):
        if "bits" not in cells:
            raise ValueError("reported values per bit length need 'bits' in pair_on")
        level = a.index.get_level_values("bits")
        missing = sorted(set(int(b) for b in level) - set(int(b) for b in reported))
        if missing:
            raise ValueError(f"no reported value for bits {missing}; reported has {sorted(reported)}")
        values = [float(reported[int(b)]) for b in level]
    else:
        values = [float(reported)] * len(a)
    if not np.isfinite(values).all():
        raise ValueError(f"the reported value must be a finite number, got {reported!r}")
    b = pd.Series(values, index=a.index, dtype=float)
    c = _compare_cells(ours, paper, a, b, min_seeds, z)
    if nan_a:
        c = Comparison(**{**c.__dict__, "note": "; ".join(filter(None, [c.note, f"NaN {metric} dropped ({nan_a})"]))})
    verdict = {">": "reproduced", "<": "refuted"}.get(c.outcome, "inconclusive")
    head = {">": f"ours above the reported value by > {z:g} SE in every seed",
            "<": f"ours below the reported value by > {z:g} SE in every seed"}.get(c.outcome, "")
    note = c.note.replace(f", {paper}: {c.n_seeds_b}", "")
    return _row(claim, "versus reported", [ours, paper], [c.mean_a, c.mean_b], [c.n_seeds_a, c.n_seeds_a],
                [(f"{ours} − {paper}", c.diff, c.se)], verdict, "; ".join(filter(None, [head, note])), metric=metric)


def not_run(claim: str, reason: str, arms: Sequence = ()) -> dict:
    """The row of a claim that could not be judged because its runs were not made (e.g. a
    comparison method that does not apply): verdict ``inconclusive``, the reason stated."""
    return _row(claim, "not run", arms, [float("nan")] * len(arms), [0] * len(arms), [], "inconclusive",
                f"not run: {reason}")


def claims_frame(rows: Iterable[dict], digits: int = 3) -> pd.DataFrame:
    """Claim rows as a table: claim, arms, means (in claimed order), difference ± SE, n seeds,
    verdict, reason; scalar keys a caller added to the rows (e.g. ``setting``) come first."""
    out = []
    for r in rows:
        missing = {"claim", "arms", "means", "n_seeds", "differences", "verdict", "reason"} - set(r)
        if missing:
            raise ValueError(f"not a claim row (missing {sorted(missing)}): {r}")
        extra = {k: v for k, v in r.items() if k not in _ROW_KEYS}
        ordering = str(r.get("kind", "")).startswith("ordering")
        sep = (" < " if r.get("better") == "lower" else " > ") if ordering else " → "
        n = r["n_seeds"]
        if "n_queries" in r:
            seeds = f"per-query ({r['n_queries']} queries)"
        else:
            seeds = str(n[0]) if len(set(n)) == 1 else " / ".join(map(str, n))
        out.append({**extra, "claim": r["claim"], "arms": sep.join(r["arms"]),
                    "means": sep.join("nan" if np.isnan(m) else f"{m:.{digits}f}" for m in r["means"]),
                    "difference ± SE": "; ".join(
                        f"{label}: {d:+.{digits}f} ± {'n/a' if np.isnan(se) else f'{se:.{digits}f}'}"
                        for label, d, se in r["differences"]),
                    "n seeds": seeds, "verdict": r["verdict"], "reason": r["reason"]})
    return pd.DataFrame(out, columns=None if out else ["claim", "arms", "means", "difference ± SE",
                                                       "n seeds", "verdict", "reason"])


def claims_by_setting(runs: pd.DataFrame, claims_for: Callable[[pd.DataFrame], Sequence[dict]],
                      digits: int = 3) -> pd.DataFrame:
    """The same claims judged separately for each network setting (the ``setting`` column of
    :func:`hashlib_core.tables.results_frame`): ``claims_for(runs_of_one_setting) -> [row, ...]``;
    the table has a ``setting`` column first.  Same call shape as the tables module's version."""
    if "setting" not in runs.columns:
        raise ValueError(f"runs has no 'setting' column; columns are {list(runs.columns)}")
    rows = [{"setting": setting, **row}
            for setting, sub in runs.groupby("setting", sort=False) for row in claims_for(sub)]
    return claims_frame(rows, digits)
