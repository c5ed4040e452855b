"""What a batch of notebooks will cost before it runs: runs cached, runs to compute, time.

A notebook's runs cannot be known without executing it, but its last ``manifest.json`` lists them:
every run's key and the timings measured when that run was computed (``trunk_s``,
``features_s``, ``train_s``, ``encode_s``, ``metrics_s``; a cached run keeps the timings of the
run that made it). The plan counts which of those keys are in the run cache now
(``<cache>/runs/<key>/meta.json``) and estimates

* each missing run by its own recorded compute time, counted once per batch (a run shared by
  two notebooks is computed by the first and reused by the second);
* the frozen-trunk passes (``trunk_s`` of the run that made one, keyed by
  :func:`hashlib_core.trunk.trunk_key`) once per trunk whose taps of the run's image sets are
  missing from ``<cache>/trunk/`` (the split is made from the run's protocol and seed to name
  them; a trunk folder holding only other image sets, e.g. a validation split's, does not count), taking
  the recorded pass from any manifest in the folder: a run whose trunk was cached when it ran
  recorded a near-zero ``trunk_s`` and would otherwise hide the pass;
* the notebook's own time beyond its runs (loading, plotting) as its last wall time minus the
  compute time of the runs it computed then;
* the start of its kernel and imports, which the manifest's wall time (taken from the notebook's
  ``Report``) misses: the median, over the notebooks, of the batch's recorded time of a notebook
  (``reproduce-<profile>.json``) minus its manifest's wall time.

Rates are those of the machine that made the manifests (``manifest["machine"]``).

A manifest describes the settings of the commit that made it. When the notebook's parameter
files, the profiles (recipes) or the recorded method versions have changed since that commit
(their parsed values in the working tree against those at the commit: a comment does not
count, nor a method's source fingerprint re-recorded without a version change), its next runs are
other runs: the plan still counts the old ones, and says so (``NotebookPlan.settings_changed``).
"""
from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
from pathlib import Path
from typing import Any, Iterable

from hashlib_core.paths import cache_root, run_archive

#: timings that are compute time (``train_images_per_s`` is a rate, not a duration)
COMPUTE_TIMINGS = ("features_s", "train_s", "encode_s", "metrics_s")
#: a run with a longer ``trunk_s`` computed its trunk's taps itself (loading cached taps takes
#: well under a second: 0.1 s in the committed manifests, against 1,190-1,570 s for a pass)
TRUNK_PASS_MIN_S = 30.0


@dataclasses.dataclass
class NotebookPlan:
    stem: str
    known: bool                # a manifest lists the notebook's runs
    runs: int = 0
    cached: int = 0            # in the run cache now
    shared: int = 0            # missing now, but computed earlier in this batch by another notebook
    to_compute: int = 0
    runs_s: float = 0.0        # recorded compute time of the runs to compute
    trunk_s: float = 0.0       # trunk passes this notebook will be the first to need
    overhead_s: float = 0.0    # the notebook's own time beyond its runs, kernel start included
    unknown_trunks: int = 0    # trunks missing with no recorded pass to estimate them by
    cpus: int | None = None    # CPU count of the machine that made the manifest
    settings_changed: bool | None = None  # params / profiles / method versions differ from the manifest's commit

    @property
    def counts_old_runs(self) -> bool:
        """Its manifest's runs are those of older settings (a notebook without runs has none to be stale)."""
        return bool(self.settings_changed and self.runs)

    @property
    def estimate_s(self) -> float | None:
        return self.runs_s + self.trunk_s + self.overhead_s if self.known else None


def run_compute_s(timings: dict[str, Any]) -> float:
    """Compute time of one run from its recorded timings, the trunk pass excluded."""
    return float(sum(float(timings.get(k, 0.0) or 0.0) for k in COMPUTE_TIMINGS))


def run_trunk_key(config: dict[str, Any]) -> str | None:
    """The frozen trunk a run needs (None for a run that trains its whole network)."""
    if not dict(config.get("train") or {}).get("freeze_backbone"):
        return None
    from hashlib_core.trunk import trunk_key

    return trunk_key(config.get("model") or {}, int(config["input_size"]), config.get("num_threads"))


def _manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err


def _run_cached(key: str, cache: Path) -> bool:
    """In the run cache, or in the committed run archive (:func:`hashlib_core.paths.run_archive`)."""
    archive = run_archive()
    return any((root / key / "meta.json").is_file() for root in [cache / "runs"] + ([archive] if archive else []))


def _trunk_cached(key: str, cache: Path, config: dict[str, Any] | None = None) -> bool:
    """Whether the trunk cache can serve a run of ``config`` without a trunk pass: taps of each
    image set it reads (:func:`hashlib_core.trunk.trunk_views`) under one of the keys
    :func:`hashlib_core.trunk.trunk_taps` looks up (:func:`hashlib_core.trunk.image_set_keys`).
    Without a config that names its protocol (or when its split cannot be made here), any image
    set of the trunk counts."""
    folder = cache / "trunk" / key
    if not folder.is_dir():
        return False
    sets = {p.name.partition("@")[0] for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")}
    config = config or {}
    if not config.get("protocol"):
        return bool(sets)
    train = dict(config.get("train") or {})
    augment = train["augment"] if "augment" in train else _trainer_augments()
    needed = _image_sets_read(config["protocol"], int(config.get("seed", 0)),
                              json.dumps(config.get("subset"), sort_keys=True), bool(augment))
    if needed is None:
        return bool(sets)
    return all(any(stem in sets for stem in keys) for keys in needed)


def _trainer_augments() -> bool:
    """The trainer's default for ``train.augment`` (a config without the key trains with flips)."""
    from hashlib_core.train import TrainSettings

    return bool(TrainSettings.__dataclass_fields__["augment"].default)


@functools.lru_cache(maxsize=None)
def _image_sets_read(protocol: str, seed: int, subset_json: str, augment: bool) -> tuple[tuple[str, ...], ...] | None:
    """Per image set a frozen run reads, the keys that serve it; None when the split cannot be made here."""
    try:
        from hashlib_core.data import get_protocol

        split = get_protocol(protocol, seed=seed, subset=json.loads(subset_json))
    except Exception:  # noqa: BLE001 - no data on this machine, an unknown protocol: fall back
        return None
    from hashlib_core.trunk import image_set_keys, trunk_views

    return tuple(tuple(image_set_keys(part, flip)) for _, part, flip in trunk_views(split, augment))


def recorded_trunk_passes(figures_root: Path) -> dict[str, float]:
    """Trunk key → the longest trunk pass any manifest under ``figures_root`` recorded."""
    passes: dict[str, float] = {}
    for path in sorted(Path(figures_root).glob("*/manifest.json")):
        for run in (json.loads(path.read_text()).get("runs") or {}).values():
            seconds = float((run.get("timings") or {}).get("trunk_s", 0.0) or 0.0)
            if seconds >= TRUNK_PASS_MIN_S:
                key = run_trunk_key(run.get("config") or {})
                if key:
                    passes[key] = max(passes.get(key, 0.0), seconds)
    return passes


#: a batch time further than this above the manifest's wall time belongs to another run
STARTUP_MAX_S = 120.0


def kernel_startup_s(figures_root: Path, profile: str) -> float:
    """Median of (batch time of a notebook − its manifest's wall time) over the notebooks that
    have both: the kernel start and imports papermill pays before the notebook's Report starts."""
    path = Path(figures_root) / f"reproduce-{profile}.json"
    if not path.is_file():
        return 0.0
    gaps = []
    for stem, seconds in json.loads(path.read_text()).items():
        manifest = _manifest(Path(figures_root) / stem)
        if manifest is not None:
            gap = float(seconds) - float(manifest.get("wall_time_s", 0.0))
            if 0.0 <= gap <= STARTUP_MAX_S:
                gaps.append(gap)
    gaps.sort()
    if not gaps:
        return 0.0
    mid = len(gaps) // 2
    return gaps[mid] if len(gaps) % 2 else (gaps[mid - 1] + gaps[mid]) / 2


#: what decides a notebook's runs besides its notebook file: {stem} is the notebook's params folder
SETTINGS_PATHS = ("params/{stem}", "params/profiles", "tests/fixtures/method_versions.json")


def _settings_content(path: str, text: str) -> Any:
    """What in a settings file decides runs: parsed YAML / JSON (so comments and layout do not
    count), and of the method-versions record only each method's ``version`` (the part of a run's
    cache key; its source fingerprints change with every refactoring that keeps results)."""
    import yaml

    try:
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        return text
    if path.endswith("method_versions.json") and isinstance(data, dict):
        return {name: (entry or {}).get("version") for name, entry in data.items()}
    return data


def _git_settings(root: Path, commit: str, paths: list[str]) -> dict[str, Any] | None:
    """``{path: content}`` of the files under ``paths`` at ``commit``; None when git cannot tell."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)

    listed = git("ls-tree", "-r", "--name-only", commit, "--", *paths)
    if listed.returncode != 0:
        return None
    out = {}
    for name in listed.stdout.splitlines():
        shown = git("show", f"{commit}:{name}")
        if shown.returncode != 0:
            return None
        out[name] = _settings_content(name, shown.stdout)
    return out


def _tree_settings(root: Path, paths: list[str]) -> dict[str, Any]:
    """``{path: content}`` of the files under ``paths`` in the working tree at ``root``."""
    out = {}
    for rel in paths:
        top = root / rel
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else []
        for f in files:
            name = f.relative_to(root).as_posix()
            out[name] = _settings_content(name, f.read_text())
    return out


def settings_changed(stem: str, commit: str | None, root: Path) -> bool | None:
    """Whether ``stem``'s settings (:data:`SETTINGS_PATHS`) in the working tree at ``root`` differ
    from those at ``commit`` in what decides its runs (values, not comments or layout; method
    versions, not source fingerprints); None when that cannot be told (no git, not a repository,
    commit unknown to it)."""
    if not commit or commit == "unknown":
        return None
    paths = [p.format(stem=stem) for p in SETTINGS_PATHS]
    try:
        then = _git_settings(Path(root), commit.split("+")[0], paths)
    except (OSError, subprocess.SubprocessError):
        return None
    if then is None:
        return None
    return then != _tree_settings(Path(root), paths)


def plan_batch(stems: Iterable[str], figures_root: Path, cache: Path | None = None,
               profile: str = "cpu", empty_cache: bool = False,
               repo: Path | None = None) -> list[NotebookPlan]:
    """The plan of running ``stems`` in order, from the manifests in ``figures_root/<stem>/``;
    ``empty_cache``: as on a fresh machine (no run and no trunk cached), whatever ``cache`` holds;
    ``repo``: the checkout whose settings are compared with each manifest's commit (default: the
    one holding ``figures_root``)."""
    cache = Path(cache) if cache is not None else cache_root()
    repo = Path(repo) if repo is not None else Path(figures_root).resolve().parent
    figures_root = Path(figures_root)
    passes = recorded_trunk_passes(figures_root)
    startup = kernel_startup_s(figures_root, profile)
    computed_before: set[str] = set()   # run keys an earlier notebook of this batch will compute
    trunks_before: set[str] = set()     # trunk keys an earlier notebook will pass
    plans = []
    for stem in stems:
        manifest = _manifest(figures_root / stem)
        if manifest is None:
            plans.append(NotebookPlan(stem, known=False))
            continue
        runs = manifest.get("runs") or {}
        plan = NotebookPlan(stem, known=True, runs=len(runs), cpus=(manifest.get("machine") or {}).get("cpu_count"),
                            settings_changed=settings_changed(stem, manifest.get("commit"), repo))
        computed_then = sum(run_compute_s(r.get("timings") or {}) + float((r.get("timings") or {}).get("trunk_s", 0.0) or 0.0)
                            for r in runs.values() if not r.get("cached"))
        plan.overhead_s = startup + max(0.0, float(manifest.get("wall_time_s", 0.0)) - computed_then)
        for key, run in sorted(runs.items()):
            if not empty_cache and _run_cached(key, cache):
                plan.cached += 1
                continue
            if key in computed_before:
                plan.shared += 1
                continue
            computed_before.add(key)
            plan.to_compute += 1
            plan.runs_s += run_compute_s(run.get("timings") or {})
            trunk = run_trunk_key(run.get("config") or {})
            if trunk and trunk not in trunks_before and (empty_cache or not _trunk_cached(trunk, cache, run.get("config"))):
                trunks_before.add(trunk)
                if trunk in passes:
                    plan.trunk_s += passes[trunk]
                else:
                    plan.unknown_trunks += 1
        plans.append(plan)
    return plans


def duration(seconds: float) -> str:
    """``3 h 05 min`` / ``12 min 30 s`` / ``45 s``."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def format_plan(plans: list[NotebookPlan], profile: str) -> str:
    """The plan as a table and one line of totals."""
    width = max([len(p.stem) for p in plans] + [8])
    lines = [f"plan, profile {profile}: {len(plans)} notebook(s)",
             f"  {'notebook':<{width}}  {'runs':>5}  {'cached':>6}  {'compute':>7}  {'estimate':>14}"]
    for p in plans:
        if not p.known:
            lines.append(f"  {p.stem:<{width}}  {'?':>5}  {'?':>6}  {'?':>7}  {'unknown':>14}  (no manifest yet)")
            continue
        note = []
        if p.shared:
            note.append(f"{p.shared} computed by an earlier notebook")
        if p.trunk_s:
            note.append(f"incl. trunk pass {duration(p.trunk_s)}")
        if p.unknown_trunks:
            note.append(f"+ {p.unknown_trunks} trunk pass(es) never measured")
        if p.counts_old_runs:
            note.append("settings changed since its manifest: these are its old runs")
        lines.append(f"  {p.stem:<{width}}  {p.runs:>5}  {p.cached:>6}  {p.to_compute:>7}  "
                     f"{duration(p.estimate_s):>14}" + (f"  ({'; '.join(note)})" if note else ""))
    known = [p for p in plans if p.known]
    if not known:
        lines.append("total: no notebook has a manifest under this profile yet, so no estimate")
        return "\n".join(lines)
    total = sum(p.estimate_s for p in known)
    line = (f"total: {sum(p.runs for p in known)} runs, {sum(p.cached for p in known)} cached, "
            f"{sum(p.to_compute for p in known)} to compute; estimate {duration(total)}")
    unknown = len(plans) - len(known)
    if unknown:
        line += f" + {unknown} notebook(s) never run under this profile (unknown)"
    cpus = sorted({p.cpus for p in known if p.cpus})
    machines = f" (made on {'/'.join(map(str, cpus))} CPU cores)" if cpus else ""
    lines.append(line + f" at the rates recorded in the manifests{machines}")
    changed = [p.stem for p in known if p.counts_old_runs]
    if changed:
        lines.append(f"{len(changed)} notebook(s) have new params, recipes or method versions since their manifest: "
                     "their runs will differ from those counted (their cost is a guess from the old ones)")
    return "\n".join(lines)
