"""Tables beside the papers' values, figure files and the manifest every output folder carries.

A notebook opens one :class:`Report`; each table it saves goes to CSV and Markdown, each figure
to PNG and SVG, and :meth:`Report.finish` writes ``manifest.json`` (profile, commit, seeds, date,
wall time of the notebook and of every run it used). Where the outputs go depends on the
profile: ``cpu`` → ``figures/<notebook>/``, ``paper`` → ``figures/paper/<notebook>/``, ``smoke``
(CI) → the cache folder, so CI never touches the committed figures.
"""
from __future__ import annotations

import datetime as _dt
import io
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from hashlib_core.paths import atomic_write_bytes, cache_root, repo_root, unwritable

FIGURES_ENV = "HASHLIB_FIGURES"


def figures_dir(notebook: str, profile: str) -> Path:
    """Output folder of ``notebook`` under ``profile`` (``HASHLIB_FIGURES`` overrides the root)."""
    if os.environ.get(FIGURES_ENV):
        root = Path(os.environ[FIGURES_ENV])
    elif profile == "smoke":
        root = cache_root() / "figures-smoke"
    elif profile == "cpu":
        root = repo_root() / "figures"
    else:
        root = repo_root() / "figures" / profile
    return root / notebook


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root(), capture_output=True,
                             text=True, timeout=10)
        commit = out.stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "hashlib_core", "notebooks", "params"],
                               cwd=repo_root(), capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_capability() -> str:
    """The CPU kernel set torch dispatches to here (``"AVX2"``, ``"AVX512"``, ...). Float results
    of the same seed are bit-identical on one kind of CPU but can differ in the last bits between
    kernel sets (docs/decisions.md, "Same seed, same result: across CPUs"), so runs and manifests
    record it beside the commit."""
    try:
        import torch

        return str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # noqa: BLE001 - provenance must never stop a run
        return "unknown"


def cpu_model(cpuinfo: str | None = None) -> str:
    """The processor's vendor, family and model numbers (``"GenuineIntel family 6 model 207"``),
    read from ``/proc/cpuinfo`` (or the text given); the platform's processor name elsewhere.
    The kernel set alone does not identify the arithmetic: two AVX-512 processor models gave the
    same Lite0 run MAPs 0.7997 and 0.8058 (docs/decisions.md, "Same seed, same result: across
    CPUs")."""
    try:
        text = Path("/proc/cpuinfo").read_text() if cpuinfo is None else cpuinfo
    except OSError:
        text = ""
    info: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("vendor_id", "cpu family", "model"):
            info.setdefault(key.strip(), value.strip())
    if len(info) == 3:
        return f"{info['vendor_id']} family {info['cpu family']} model {info['model']}"
    return platform.processor() or platform.machine() or "unknown"


def computed_on() -> str:
    """Where a run is computed, as its cache entry records it: the kernel set and the processor
    model (``"AVX512, GenuineIntel family 6 model 207"``)."""
    return f"{cpu_capability()}, {cpu_model()}"


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    arr = np.asarray(list(values), dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def format_mean_sd(mean: float, sd: float, n: int, digits: int = 3) -> str:
    """The one table cell for a mean over seeds: ``"0.812 ± 0.004"``, just ``"0.812"`` for one seed,
    ``""`` for a missing value."""
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return ""
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"


class Report:
    """Collects one notebook's outputs and writes its manifest."""

    def __init__(self, notebook: str, profile: str, seeds: Iterable[int] = (), params: dict | None = None):
        self.notebook = notebook
        self.profile = profile
        self.seeds = list(seeds)
        self.params = dict(params or {})
        self.dir = figures_dir(notebook, profile)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # read-only or full: say which folder, before any work
            raise (unwritable(err, self.dir) or err) from err
        self.started = time.time()
        self.commit = git_commit()  # the code the notebook runs with, taken before any work
        self.runs: dict[str, dict[str, Any]] = {}
        self.outputs: list[str] = []
        self.splits: dict[str, str] = {}

    def add_runs(self, results) -> None:
        for r in results if isinstance(results, (list, tuple)) else [results]:
            self.runs[r.key] = {
                "label": r.config.label(),
                "config": r.config.to_dict(),
                "metrics": r.metrics,
                "timings": r.timings,
                "cached": r.cached,
                "computed_at_commit": r.computed_at_commit,
                "computed_on": r.computed_on,
            }
            self.splits[f"{r.config.protocol}/seed{r.config.seed}"] = r.split_checksum

    def add_split(self, split) -> None:
        """Record a split's checksum (runs record theirs through :meth:`add_runs`)."""
        self.splits[f"{split.name}/seed{split.seed}"] = split.checksum

    def _write_text(self, name: str, text: str) -> Path:
        # atomic, under a temporary name unique to this process (.<name>.<pid>.<random>.tmp...),
        # so two processes writing one folder never trip over each other's temporary file
        path = atomic_write_bytes(self.dir / name, text.encode("utf-8"))
        self.outputs.append(name)
        return path

    def save_table(self, df: pd.DataFrame, name: str, caption: str = "") -> pd.DataFrame:
        """Write ``df`` as ``<name>.csv`` and ``<name>.md`` (with the caption above the table)."""
        self._write_text(f"{name}.csv", df.to_csv(index=False))
        # a "|" inside a cell would end it early in markdown (pandas does not escape it)
        shown = df.map(lambda v: v.replace("|", "\\|") if isinstance(v, str) else v)
        md = (f"{caption}\n\n" if caption else "") + shown.to_markdown(index=False) + "\n"
        md += f"\n_profile `{self.profile}`, generated {_dt.date.today().isoformat()}_\n"
        self._write_text(f"{name}.md", md)
        return df

    def save_figure(self, fig, name: str) -> None:
        for ext in ("png", "svg"):
            path = self.dir / f"{name}.{ext}"
            # rendered in memory, then written atomically: a full disk is one clear error naming
            # the file (matplotlib writing to a file on a full disk fails with a misleading one)
            buf = io.BytesIO()
            fig.savefig(buf, format=ext, dpi=130, bbox_inches="tight",
                        metadata={"Date": None} if ext == "svg" else None)
            atomic_write_bytes(path, buf.getvalue())
            self.outputs.append(path.name)

    def finish(self) -> dict[str, Any]:
        manifest = {
            "notebook": self.notebook,
            "profile": self.profile,
            "commit": self.commit,
            "seeds": self.seeds,
            "params": self.params,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "wall_time_s": round(time.time() - self.started, 1),
            "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                        "cpu_capability": cpu_capability(), "cpu_model": cpu_model()},
            "splits": self.splits,
            "runs": self.runs,
            "outputs": sorted(set(self.outputs)),
        }
        self._write_text("manifest.json", json.dumps(manifest, indent=1, sort_keys=True, default=str))
        return manifest

