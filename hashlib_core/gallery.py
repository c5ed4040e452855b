"""The results gallery: one Markdown page over every registered notebook's output folder.

    python -m hashlib_core.gallery                 # figures/README.md from figures/ (cpu profile)
    python -m hashlib_core.gallery --profile paper # figures/paper/README.md

For each notebook of ``params/notebooks.yaml`` the page gives what it regenerates, the setting
(profile, seeds, the notebook's parameters from ``manifest.json``), the manifest's date and commit,
the paper's value beside ours with the difference for every table column that has a paper
counterpart (``paper`` beside ``map``, ``paper X`` beside ``X``), the verdict of every claim in
``claims*.csv``, and the figures (PNG). Everything is read from the files; nothing is recomputed.
``make reproduce`` rebuilds the page at the end of a batch.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd

GALLERY_NAME = "README.md"

# Columns that say which row it is (never compared with the paper). A paper column whose
# counterpart is one of these (e.g. ``paper bits``) describes the setting, not a result.
KEY_COLUMNS = ("setting", "method", "paper_method", "family", "inputs", "construction", "variant",
               "protocol", "dataset", "dataset (paper)", "row", "bits", "paper bits")
_NUMBER = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")


def _number(value: Any) -> float | None:
    """The leading number of a cell (``0.800 ± 0.004`` → 0.8); None when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _NUMBER.match(str(value))
    return float(match.group(1)) if match else None


def _fmt(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def paper_pairs(columns: list[str]) -> list[tuple[str, str]]:
    """``(ours, paper)`` column pairs of a table: ``paper`` ↔ ``map``, ``paper X`` ↔ ``X``."""
    pairs = []
    for col in columns:
        if col == "paper" and "map" in columns:
            pairs.append(("map", col))
        elif col.startswith("paper ") and col not in KEY_COLUMNS:
            ours = col[len("paper "):]
            if ours in columns and ours not in KEY_COLUMNS:
                pairs.append((ours, col))
    return pairs


def comparison_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per (table row, compared quantity) where both our value and the paper's are numbers."""
    keys = [c for c in table.columns if c in KEY_COLUMNS]
    rows = []
    for ours_col, paper_col in paper_pairs(list(table.columns)):
        for _, rec in table.iterrows():
            ours, paper = _number(rec[ours_col]), _number(rec[paper_col])
            if ours is None or paper is None:
                continue
            label = ", ".join(f"{k} {_cell(rec[k])}" if k in ("bits", "paper bits") else _cell(rec[k])
                              for k in keys if _cell(rec[k]))
            rows.append({"row": label, "quantity": ours_col, "ours": _fmt(rec[ours_col]) if isinstance(rec[ours_col], (int, float)) else _cell(rec[ours_col]),
                         "paper": _fmt(paper), "ours − paper": ("+" if ours >= paper else "") + _fmt(ours - paper)})
    return rows


def _md_table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows]
    return lines


def _setting(manifest: dict[str, Any]) -> str:
    params = manifest.get("params") or {}
    parts = [f"profile `{manifest.get('profile', '?')}`", f"seeds {manifest.get('seeds', [])}"]
    parts += [f"`{k}` = {json.dumps(v)}" for k, v in sorted(params.items())]
    return "; ".join(parts)


def _is_claims_table(path: Path) -> bool:
    """``claims.csv`` and every ``<name>_claims.csv`` (e.g. notebook 01's ``dshfmdf_vs_paper_claims``)."""
    return path.stem == "claims" or path.stem.startswith("claims_") or path.stem.endswith("_claims")


def _claims(folder: Path) -> list[str]:
    """One line per claim: the verdict of :mod:`hashlib_core.claims` (column ``verdict``:
    reproduced / refuted / inconclusive), or the yes / no of a table written before it
    (column ``reproduced``), then the other columns."""
    lines = []
    for path in sorted(p for p in folder.glob("*.csv") if _is_claims_table(p)):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        verdict_col = next((c for c in ("verdict", "reproduced") if c in table.columns), None)
        if "claim" not in table.columns or verdict_col is None:
            raise ValueError(f"{path}: a claims table needs the columns 'claim' and 'verdict' (or the older "
                             f"'reproduced'), has {list(table.columns)}")
        rest = [c for c in table.columns if c not in ("claim", verdict_col, "setting")]
        for _, rec in table.iterrows():
            verdict = {"yes": "**reproduced**", "no": "**not reproduced**"}.get(rec[verdict_col].strip().lower(),
                                                                                 f"**{rec[verdict_col]}**")
            where = f" ({rec['setting']})" if "setting" in table.columns and rec["setting"] else ""
            detail = "; ".join(f"{c}: {rec[c]}" for c in rest if rec[c])
            lines.append(f"- {rec['claim']}{where} — {verdict}" + (f" — {detail}" if detail else ""))
    return lines


def notebook_section(stem: str, artefacts: str, figures_root: Path) -> list[str]:
    """The gallery section of one registered notebook (links relative to ``figures_root``)."""
    folder = figures_root / stem
    lines = [f"## {stem}", "", f"{artefacts}.", ""]
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        return lines + [f"_Not generated under this profile yet (no `{stem}/manifest.json`)._", ""]
    manifest = json.loads(manifest_path.read_text())
    links = [f"[folder]({stem}/)", f"[manifest]({stem}/manifest.json)"]
    if (folder / f"{stem}.ipynb").is_file():
        links.insert(1, f"[executed notebook]({stem}/{stem}.ipynb)")
    lines += [f"- outputs: {', '.join(links)}",
              f"- setting: {_setting(manifest)}",
              f"- generated {manifest.get('date', '?')} at commit `{str(manifest.get('commit', '?'))[:12]}`"
              f" ({len(manifest.get('runs', {}))} runs)", ""]
    for path in sorted(folder.glob("*.csv")):
        if _is_claims_table(path):
            continue
        rows = comparison_rows(pd.read_csv(path))
        if rows:
            lines += [f"**Paper vs ours** — [`{path.stem}`]({stem}/{path.stem}.md)", ""]
            lines += _md_table(rows, ["row", "quantity", "ours", "paper", "ours − paper"]) + [""]
    claims = _claims(folder)
    if claims:
        lines += ["**Claims**", ""] + claims + [""]
    for png in sorted(folder.glob("*.png")):
        lines += [f"![{stem}: {png.stem}]({stem}/{png.name})", ""]
    return lines


def cost_section(figures_root: Path, stems: list[str], profile: str) -> list[str]:
    """What regenerating costs: per notebook, the compute of a batch from an empty cache (the
    manifests' recorded per-run times, a run shared with an earlier notebook counted there once:
    :func:`hashlib_core.plan.plan_batch`) and the wall time of its last batch run
    (``reproduce-<profile>.json``, which reflects the cache of that day)."""
    from hashlib_core.plan import duration, plan_batch

    plans = plan_batch(stems, figures_root, profile=profile, empty_cache=True)
    path = figures_root / f"reproduce-{profile}.json"
    batch = json.loads(path.read_text()) if path.is_file() else {}
    known = [p for p in plans if p.known]
    if not known:
        return []
    lines = ["## Cost", "",
             f"Regenerating under `{profile}` from an empty cache, from the compute times recorded in each "
             "manifest (a run or trunk pass shared with an earlier notebook is counted there once, as "
             "`make reproduce` computes it once). The last column is the notebook's last batch wall time, "
             "with the cache of that day.", "",
             "| notebook | runs | to compute | estimate from an empty cache | last batch wall time |",
             "| --- | --- | --- | --- | --- |"]
    for p in plans:
        if not p.known:
            lines.append(f"| {p.stem} | ? | ? | not run under this profile yet | |")
            continue
        wall = duration(float(batch[p.stem])) if p.stem in batch else ""
        extra = f" (+ {p.unknown_trunks} trunk pass(es) never measured)" if p.unknown_trunks else ""
        lines.append(f"| {p.stem} | {p.runs} | {p.to_compute} | {duration(p.estimate_s)}{extra} | {wall} |")
    total = sum(p.estimate_s for p in known)
    lines += [f"| **total** ({len(known)} of {len(plans)} notebooks) | {sum(p.runs for p in known)} | "
              f"{sum(p.to_compute for p in known)} | **{duration(total)}** | |", ""]
    return lines


def build(figures_root: Path, entries: list[dict[str, Any]] | None = None, profile: str = "cpu") -> str:
    """The gallery page over ``figures_root`` for the registered notebooks (``entries``)."""
    if entries is None:
        from hashlib_core.notebook_registry import registry

        entries = registry()
    lines = ["# Results gallery", "",
             "Generated by `python -m hashlib_core.gallery` (and at the end of `make reproduce`) from the "
             "output folders below; do not edit by hand. Papers: [`docs/papers.md`](../docs/papers.md). "
             "“ours” is the mean over the seeds listed in the setting; a ± is the seeds' sd.", ""]
    stems = [Path(e["notebook"]).stem for e in entries]
    lines += ["| notebook | regenerates |", "| --- | --- |"]
    lines += [f"| [{s}](#{s}) | {_cell(e['artefacts'])} |" for s, e in zip(stems, entries)]
    lines.append("")
    lines += cost_section(figures_root, stems, profile)
    for stem, entry in zip(stems, entries):
        lines += notebook_section(stem, entry["artefacts"], figures_root)
    return "\n".join(lines).rstrip() + "\n"


def write(figures_root: Path, entries: list[dict[str, Any]] | None = None, profile: str = "cpu") -> Path:
    """Write :func:`build`'s page to ``figures_root/README.md`` (atomically)."""
    from hashlib_core.paths import atomic_write_text

    figures_root = Path(figures_root)
    if not figures_root.is_dir():
        raise FileNotFoundError(f"no figures folder {figures_root}")
    return atomic_write_text(figures_root / GALLERY_NAME, build(figures_root, entries, profile))


def main(argv: list[str] | None = None) -> int:
    from hashlib_core.profiles import available_profiles
    from hashlib_core.reporting import figures_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="cpu", choices=available_profiles(),
                        help="whose figures folder (default cpu: figures/)")
    args = parser.parse_args(argv)
    out = write(figures_dir("", args.profile), profile=args.profile)
    print(f"gallery: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
