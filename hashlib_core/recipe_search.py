"""Choosing a training recipe on a validation split: candidates × seeds, each paired with a baseline.

A recipe search (``scripts/sum_form_recipe.py``, ``scripts/dshc_recipe.py``) names a method, a
validation protocol (``<protocol>:val``: held-out training images, never the queries), a code
length and candidates, each a change to a named profile recipe. :func:`run_candidates` runs every
(candidate, seed) through the one runner (cached, so re-running adds only new candidates);
:func:`keep_previous` keeps the rows of candidates not run this time; :func:`summarise` ranks
the candidates by mean validation mAP and tests each against the baseline with
:func:`hashlib_core.claims.ordering_claim` (paired by seed); :func:`report` writes the Markdown.
"""
from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import pandas as pd

from hashlib_core.claims import claims_frame, ordering_claim
from hashlib_core.runner import make_config, run

__all__ = ["Candidate", "check_candidates", "check_one_length", "run_candidates", "keep_previous", "summarise", "report", "cli"]

#: a candidate: (what changes, make_config overrides: ``recipe`` / ``model`` / ``loss`` / ``train``)
Candidate = tuple


def check_candidates(candidates: Mapping[str, Candidate], names: Sequence[str], baseline: str) -> None:
    """ValueError naming the unknown candidates (or a baseline that is not one) before any run."""
    unknown = sorted(set(names) - set(candidates))
    if unknown:
        raise ValueError(f"unknown candidate(s) {unknown}; known: {list(candidates)}")
    if baseline not in candidates:
        raise ValueError(f"baseline {baseline!r} is not a candidate; known: {list(candidates)}")


def run_candidates(method: str, protocol: str, bits: int, seeds: Sequence[int],
                   candidates: Mapping[str, Candidate], names: Sequence[str], recipe: str,
                   profile: str = "cpu") -> pd.DataFrame:
    """One row per (candidate, seed): validation mAP, epochs, lr, training seconds, cached, wall."""
    rows = []
    for name in names:
        over: dict[str, Any] = dict(candidates[name][1])
        for seed in seeds:
            config = make_config(profile, method, protocol, bits, seed, recipe=over.get("recipe", recipe),
                                 model=over.get("model"), loss=over.get("loss"), train=over.get("train"))
            t0 = time.time()
            result = run(config, progress=False)
            rows.append({"candidate": name, "seed": int(seed), "bits": int(bits), "map": result.metrics["map"],
                         "epochs": config.train.get("epochs"), "lr": config.train.get("lr"),
                         "train_s": result.timings.get("train_s"), "trunk_s": result.timings.get("trunk_s"),
                         "cached": result.cached, "wall_s": time.time() - t0})
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    return pd.DataFrame(rows)


def keep_previous(runs: pd.DataFrame, old: pd.DataFrame) -> pd.DataFrame:
    """``runs`` plus the rows of ``old`` whose (candidate, seed) was not run this time, sorted;
    rows of another code length are refused (:func:`check_one_length`)."""
    if len(old):
        check_one_length(old, set(runs["bits"]))
        done = runs.set_index(["candidate", "seed"]).index
        runs = pd.concat([old[~old.set_index(["candidate", "seed"]).index.isin(done)], runs], ignore_index=True)
    return runs.sort_values(["candidate", "seed"]).reset_index(drop=True)


def check_one_length(old: pd.DataFrame, bits) -> None:
    """ValueError unless the earlier search ``old`` is at the code length(s) ``bits`` (one search
    file holds one length: its summary is a mean over seeds)."""
    bits = {int(b) for b in bits}
    if len(old) and len(set(old["bits"]) | bits) > 1:
        raise ValueError(f"the earlier search holds {sorted(set(old['bits']))} bits and this one {sorted(bits)}: "
                         "write a search at another length to its own --out")


def summarise(runs: pd.DataFrame, baseline: str) -> tuple[pd.DataFrame, list]:
    """(candidates ranked by mean validation mAP, each candidate's paired claim "> baseline")."""
    summary = (runs.groupby("candidate")
               .agg(val_map_mean=("map", "mean"), val_map_sd=("map", "std"), seeds=("seed", "nunique"),
                    epochs=("epochs", "first"), train_s_per_run=("train_s", "mean"))
               .sort_values("val_map_mean", ascending=False).round(4))
    claims = [ordering_claim(runs, "candidate", [name, baseline], f"{name} > {baseline} (val mAP)")
              for name in summary.index if name != baseline and baseline in summary.index]
    return summary, claims


def report(title: str, intro: str, candidates: Mapping[str, Candidate], runs: pd.DataFrame,
           summary: pd.DataFrame, claims: list) -> str:
    """The search as Markdown: what each candidate changes, the ranking, the claims, every run."""
    return "\n".join([
        f"# {title}", "", intro, "",
        "| candidate | change |", "|---|---|",
        *[f"| {n} | {candidates[n][0]} |" for n in summary.index if n in candidates], "",
        summary.to_markdown(), "",
        claims_frame(claims).to_markdown(index=False) if claims else "(no candidate besides the baseline)", "",
        "Runs (one per candidate and seed):", "",
        runs.drop(columns=[c for c in ("cached", "wall_s") if c in runs]).round(4).to_markdown(index=False), ""])


def cli(argv, *, description: str, method: str, protocol: str, bits: int, candidates: Mapping[str, Candidate],
        baseline: str, recipe: str, out, title: str, intro) -> int:
    """A search script's command line (``--seeds``, ``--bits``, ``--only``, ``--out``, ``--baseline``):
    runs the candidates, keeps earlier rows from ``<out>.json``, writes ``<out>`` (Markdown) and the
    JSON; every candidate is compared with ``--baseline`` (default ``baseline``: the current recipe).
    ``intro(bits) -> str`` is the Markdown's opening paragraph."""
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--bits", type=int, default=int(bits))
    ap.add_argument("--only", nargs="+", default=list(candidates), help=f"candidates, of {list(candidates)}")
    ap.add_argument("--out", default=str(out))
    ap.add_argument("--baseline", default=baseline, help=f"the candidate every other is compared with (default {baseline})")
    args = ap.parse_args(argv)
    baseline = args.baseline
    try:
        check_candidates(candidates, args.only, baseline)
    except ValueError as err:
        ap.error(str(err))
    path = Path(args.out)
    old = pd.read_json(path.with_suffix(".json")) if path.with_suffix(".json").is_file() else pd.DataFrame()
    try:
        check_one_length(old, {args.bits})  # before any run
    except ValueError as err:
        ap.error(f"{path.with_suffix('.json')}: {err}")
    runs = keep_previous(run_candidates(method, protocol, args.bits, args.seeds, candidates, args.only, recipe), old)
    runs.to_json(path.with_suffix(".json"), orient="records", indent=1)
    summary, claims = summarise(runs, baseline)
    text = report(title, intro(args.bits), candidates, runs, summary, claims)
    path.write_text(text)
    print(text)
    return 0
