"""Regenerate every registered notebook's tables and figures with papermill.

    python -m hashlib_core.reproduce --profile cpu            # everything (what `make reproduce` runs)
    python -m hashlib_core.reproduce --profile cpu --only 01_dshfmdf_table2
    python -m hashlib_core.reproduce --profile cpu --plan     # runs cached / to compute, time estimate

A batch first prints its plan (:mod:`hashlib_core.plan`), then shows one progress bar over the
runs it computes (:class:`RunWatcher`; a line per run in a log), then a summary (runs computed
and reused, notebooks failed, wall time) and rebuilds the results gallery
(:mod:`hashlib_core.gallery`). A failing notebook is reported and the batch goes on with the
next; the exit status is 1 when any failed.

The registry is ``params/notebooks.yaml``; the parameters of notebook ``N`` under profile ``P``
are ``params/N/P.yaml`` (a plain papermill parameter file). Every parameter file is checked
against the notebook's ``parameters`` cell before anything runs: an unknown name or a value of
the wrong type is one clear error, not a failure an hour in. Executed notebooks are written
beside their outputs (``figures/N/N.ipynb`` for the cpu profile), atomically.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any


from hashlib_core.notebook_registry import REGISTRY, artefact_row, registry  # noqa: F401  (the batch's list)
from hashlib_core.paths import repo_root
from hashlib_core.profiles import available_profiles, load_profile
from hashlib_core.reporting import figures_dir



def params_path(stem: str, profile: str) -> Path:
    return repo_root() / "params" / stem / f"{profile}.yaml"


def notebook_defaults(notebook: Path) -> dict[str, Any]:
    """Names and default values of the notebook's ``parameters`` cell."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{notebook}: expected exactly one cell tagged 'parameters', found {len(cells)}")
    namespace: dict[str, Any] = {}
    exec(compile(cells[0].source, str(notebook), "exec"), {"os": os}, namespace)  # noqa: S102 - our own cell
    return {k: v for k, v in namespace.items() if not k.startswith("_") and k != "os"}


def validate_parameters(notebook: Path, params: dict[str, Any], source: Path | str | None = None) -> None:
    """Raise one ValueError naming ``source`` (the parameter file) and every problem: unknown
    parameters, wrong types (of list elements too), values outside the rules of
    :mod:`hashlib_core.params_check` (bits, seeds, methods, backbones, protocols, recipes)."""
    from hashlib_core.params_check import check_parameters, format_problems

    if "profile" in params:
        load_profile(params["profile"])  # raises on an unknown or invalid profile
    problems = check_parameters(notebook.stem, notebook_defaults(notebook), params)
    if problems:
        raise ValueError(format_problems(source or notebook.name, problems))


def resolve(profile: str, only: list[str] | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """Check the whole batch (registry, parameter files, profile) before running any of it."""
    from hashlib_core.params_check import load_params_file

    load_profile(profile)
    entries = registry()
    stems = [Path(e["notebook"]).stem for e in entries]
    if only is not None and not only:
        raise ValueError(f"--only needs at least one notebook name; registered: {stems}")
    if only:
        unknown = sorted(set(only) - set(stems))
        if unknown:
            raise ValueError(f"unknown notebook(s) {unknown}; registered: {stems}")
    plan = []
    for entry, stem in zip(entries, stems):
        if only and stem not in only:
            continue
        notebook = repo_root() / entry["notebook"]
        if not notebook.is_file():
            raise FileNotFoundError(f"registered notebook {notebook} does not exist")
        pfile = params_path(stem, profile)
        if not pfile.is_file():
            raise FileNotFoundError(f"no parameter file {pfile.relative_to(repo_root())} for profile {profile!r}")
        params = load_params_file(pfile)
        params["profile"] = profile
        validate_parameters(notebook, params, source=_shown(pfile))
        plan.append((notebook, params))
    return plan


# glibc malloc settings for the kernels that train (read by glibc when a process starts, so they are
# set in the environment the kernels inherit; the Makefile exports the same values for `make lab` /
# `make test`). A training step's tensors are megabytes; by default glibc serves such blocks with
# fresh mmap()s and hands freed heap back to the kernel, so every step pays for zeroed pages again:
# ~200,000 minor page faults a second and a fifth of the CPU time in the kernel on a Lite0 head run.
# Pinning the mmap threshold at its 64-bit maximum and keeping freed memory removes that, and the
# trained weights are bit-identical (benches/bench_allocator.py).
ALLOCATOR_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024), "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
                 "MALLOC_TOP_PAD_": str(64 * 1024 * 1024)}


def use_allocator_settings(environ=os.environ) -> None:
    """Set :data:`ALLOCATOR_ENV` in ``environ`` for the kernels started from here; a value the user
    set already wins."""
    for name, value in ALLOCATOR_ENV.items():
        environ.setdefault(name, value)


def execute(notebook: Path, params: dict[str, Any], profile: str) -> Path:
    """Run one notebook with papermill; the executed copy lands beside its outputs, atomically.

    The kernel talks to papermill over local IPC sockets instead of unencrypted TCP ports (so
    ipykernel has no reason to warn about eavesdropping in the batch log), and draws its progress
    bars as text (``HASHLIB_PROGRESS=text``, :mod:`hashlib_core.progress`): a widget bar would be
    stored in the executed notebook as widget JSON that nothing renders.
    """
    import papermill as pm
    from traitlets.config import Config

    from hashlib_core.progress import ENV_PROGRESS

    kernel_config = Config()
    kernel_config.KernelManager.transport = "ipc"

    out_dir = figures_dir(notebook.stem, profile)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / notebook.name
    # unique to this process: two batches running one notebook never share (or delete) a file
    tmp = out_dir / f".{notebook.stem}.running.{os.getpid()}.ipynb"
    previous_progress = os.environ.get(ENV_PROGRESS)
    os.environ[ENV_PROGRESS] = "text"  # inherited by the kernel papermill starts
    try:
        pm.execute_notebook(str(notebook), str(tmp), parameters=params, cwd=str(notebook.parent),
                            kernel_name="python3", progress_bar=False, log_output=True,
                            config=kernel_config)
        _tidy_executed(tmp, notebook, final)
        os.replace(tmp, final)
    finally:
        if previous_progress is None:
            os.environ.pop(ENV_PROGRESS, None)
        else:
            os.environ[ENV_PROGRESS] = previous_progress
        if tmp.exists():
            tmp.unlink()
    return final


def _tidy_executed(executed: Path, notebook: Path, final: Path) -> None:
    """Make the executed copy what a reader should see.

    * papermill records the absolute input and output paths in the notebook's metadata; keep them
      as the reader's checkout sees them (repository-relative), not as this machine's;
    * papermill stores every flush of the kernel's output as its own stream output, so an hour of
      text progress bars is thousands of frames: nbconvert's CoalesceStreamsPreprocessor merges
      consecutive streams and keeps the last frame of each "\r"-rewritten line, as a terminal
      (and JupyterLab) shows it.
    """
    import nbformat
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    nb = nbformat.read(executed, as_version=4)
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})

    def portable(path: Path) -> str:
        try:
            return str(path.relative_to(repo_root()))
        except ValueError:  # outside the checkout (smoke outputs in the cache, HASHLIB_FIGURES)
            return str(Path(*path.parts[-3:]))

    meta = nb.metadata.get("papermill")
    if meta is not None:
        meta["input_path"], meta["output_path"] = portable(notebook), portable(final)
    nbformat.write(nb, executed)


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (outputs may live elsewhere)."""
    try:
        return str(path.relative_to(repo_root()))
    except ValueError:
        return str(path)


def _raise_system_exit(signum, frame):  # noqa: ARG001 - signal handler signature
    raise SystemExit(128 + signum)


def _manifest_stamp(stem: str, profile: str):
    """What identifies the manifest ``stem`` has now (None: none), to tell whether a run wrote one."""
    path = figures_dir(stem, profile) / "manifest.json"
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _runs_of(stem: str, profile: str, before) -> tuple[int, int] | None:
    """(computed, reused) runs in the manifest ``stem`` wrote since :func:`_manifest_stamp` gave
    ``before``; None if it wrote none. (Compared by stamp, not against the clock: a file system's
    coarse timestamps can put a fresh file's mtime a few ms before ``time.time()`` of its start.)"""
    path = figures_dir(stem, profile) / "manifest.json"
    now = _manifest_stamp(stem, profile)
    if now is None or now == before:
        return None
    runs = (json.loads(path.read_text()).get("runs") or {}).values()
    computed = sum(1 for r in runs if not r.get("cached"))
    return computed, sum(1 for r in runs if r.get("cached"))


def main(argv: list[str] | None = None) -> int:
    from tqdm.std import tqdm

    from hashlib_core import gallery
    from hashlib_core.plan import duration, format_plan, plan_batch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default=os.environ.get("PROFILE", "cpu"),
                        help=f"one of {available_profiles()} (default cpu)")
    parser.add_argument("--only", nargs="+", metavar="NOTEBOOK",
                        help="notebook stems to run (default: all registered; at least one with --only)")
    parser.add_argument("--check", action="store_true", help="validate everything, run nothing")
    parser.add_argument("--plan", action="store_true",
                        help="print the plan (runs cached / to compute, time estimate) and stop")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run every sweep on the Dask cluster at ADDRESS (tcp://host:8786; docs/scaling.md)")
    args = parser.parse_args(argv)
    use_allocator_settings()  # inherited by the kernels papermill starts
    if args.scheduler:  # inherited by the kernels papermill starts: runner.run_many picks it up
        os.environ["HASHLIB_DASK_SCHEDULER"] = args.scheduler
    try:
        plan = resolve(args.profile, args.only)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"profile {args.profile}: {len(plan)} notebook(s): " + ", ".join(nb.stem for nb, _ in plan))
    if args.check:
        return 0
    figures_root = figures_dir("", args.profile)
    plans = plan_batch([nb.stem for nb, _ in plan], figures_root, profile=args.profile)
    print(format_plan(plans, args.profile), flush=True)
    if args.plan:
        return 0
    timings: dict[str, float] = {}
    failed: dict[str, str] = {}
    computed = reused = 0
    batch_start = time.time()
    # a batch stopped with SIGTERM (kill, a CI timeout) unwinds like Ctrl-C, so execute()'s cleanup
    # removes the half-written notebook instead of leaving it among the figures
    previous_handler = signal.signal(signal.SIGTERM, _raise_system_exit)
    # one bar over the runs the batch computes, drawn for a person at a terminal; a log gets a line
    # per run and the --> / <-- lines per notebook. Its total is the plan's count, or none where a
    # notebook has no manifest to count from or its settings changed since (then the count is a guess)
    counted = all(p.known and not p.counts_old_runs for p in plans)
    to_compute = sum(p.to_compute for p in plans) if counted else None
    bar = tqdm(total=to_compute, desc="runs computed", unit="run", file=sys.stderr, dynamic_ncols=True,
               disable=not sys.stderr.isatty())
    watcher = RunWatcher(bar, to_compute, batch_start)
    watcher.start()
    try:
        for notebook, params in plan:
            bar.set_postfix_str(notebook.stem)
            t0 = time.time()
            stamp = _manifest_stamp(notebook.stem, args.profile)
            bar.write(f"--> {notebook.stem}")
            try:
                out = execute(notebook, params, args.profile)
            except Exception as err:  # noqa: BLE001 - reported, and the batch goes on
                if _ends_the_batch(err):  # a full disk, a read-only folder, Ctrl-C in the kernel: cli says it once
                    raise
                text = str(err).strip()
                failed[notebook.stem] = f"{type(err).__name__}: {text.splitlines()[-1] if text else ''}"
                bar.write(f"<-- {notebook.stem}: FAILED after {time.time() - t0:.1f} s: {failed[notebook.stem]}")
            else:
                timings[notebook.stem] = round(time.time() - t0, 1)
                runs = _runs_of(notebook.stem, args.profile, stamp)
                if runs:
                    computed, reused = computed + runs[0], reused + runs[1]
                ran = f" (runs computed {runs[0]}, reused {runs[1]})" if runs else ""
                bar.write(f"<-- {notebook.stem}: {timings[notebook.stem]} s{ran} -> {_shown(out)}")
    finally:
        watcher.stop()
        bar.close()
        signal.signal(signal.SIGTERM, previous_handler)
    summary = figures_root / f"reproduce-{args.profile}.json"
    previous = json.loads(summary.read_text()) if summary.is_file() else {}
    previous.update(timings)
    summary.write_text(json.dumps(previous, indent=1, sort_keys=True))
    page = gallery.write(figures_root, profile=args.profile)
    print(f"summary: {len(timings)} notebook(s) ran, {len(failed)} failed; runs computed {computed}, "
          f"reused {reused}; wall time {duration(time.time() - batch_start)}; gallery {_shown(page)}")
    for stem, why in failed.items():
        print(f"  failed: {stem}: {why}")
    return 1 if failed else 0


def _ends_the_batch(err: BaseException) -> bool:
    """Errors no later notebook can escape (so the batch stops and :func:`cli` reports them in one
    line): the outputs cannot be written, or the user pressed Ctrl-C while a kernel ran a cell."""
    from hashlib_core.paths import unwritable

    if type(err).__name__ == "PapermillExecutionError" and getattr(err, "ename", "") == "KeyboardInterrupt":
        return True
    return unwritable(err, getattr(err, "filename", None) or "the output") is not None


class RunWatcher:
    """Follows the run cache while a batch runs: each run entry completed since the batch began
    (its ``SHA256SUMS``, written last) moves ``bar`` on by one; where the bar is not drawn (a log, a
    pipe) it is one line, ``run 3/24 computed after 12 min 05 s: <label>``, so a log shows a
    two-hour notebook moving. The runs are computed in the notebooks' kernels, other processes:
    the cache is where they meet. (A second batch on the same cache at the same time is counted
    too.)"""

    def __init__(self, bar, total: int | None, started: float, poll_s: float = 5.0):
        import threading

        from hashlib_core.paths import cache_root

        self.bar, self.total, self.started, self.poll_s = bar, total, started, poll_s
        self.runs = cache_root() / "runs"
        self.seen = set(self._entries())  # what was there before the batch: reused, not computed
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="run-watcher", daemon=True)

    def _entries(self) -> list[Path]:
        return [p.parent for p in self.runs.glob("*/SHA256SUMS")]

    def poll(self) -> int:
        """Count the entries completed since the last poll; returns how many were new."""
        from hashlib_core.plan import duration

        new = sorted(set(self._entries()) - self.seen)
        for entry in new:
            self.seen.add(entry)
            self.count += 1
            self.bar.update(1)
            if self.bar.disable:
                of = f"/{self.total}" if self.total is not None else ""
                print(f"run {self.count}{of} computed after {duration(time.time() - self.started)}: "
                      f"{_run_label(entry)}", file=sys.stderr, flush=True)
        return len(new)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.poll()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop following, counting what completed up to now (the last notebook's last run)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.poll()


def _run_label(entry: Path) -> str:
    """``dshc efficientnet_lite0 30b cifar10-dshc seed0 [...]`` from a cache entry's meta.json, or
    its key when that cannot be read."""
    from hashlib_core.runner import RunConfig

    try:
        return RunConfig(**json.loads((entry / "meta.json").read_text())["config"]).label()
    except (OSError, ValueError, KeyError, TypeError):
        return entry.name[:10]


def _runs_cached_since(started: float) -> int:
    """Run cache entries completed (their SHA256SUMS, written last) since ``started``."""
    from hashlib_core.paths import cache_root

    n = 0
    for sums in (cache_root() / "runs").glob("*/SHA256SUMS"):
        try:
            n += sums.stat().st_mtime >= started
        except OSError:
            pass
    return n


def cli(argv: list[str] | None = None) -> int:
    """:func:`main` with one line instead of a traceback for the ends a user causes: Ctrl-C
    (exit 130, "interrupted; N runs cached, rerun to resume"), a full disk or a read-only output
    folder (exit 1, naming the path), a notebook that failed (exit 1, its error)."""
    from hashlib_core.paths import unwritable

    started = time.time()
    try:
        return main(argv)
    except KeyboardInterrupt:
        pass
    except Exception as err:  # noqa: BLE001 - each kind below gets its one line, the rest re-raised
        if type(err).__name__ == "PapermillExecutionError":
            if err.ename == "KeyboardInterrupt":  # the kernel got the Ctrl-C first
                _interrupted_quietly()
                print(f"interrupted; {_runs_cached_since(started)} runs cached, rerun to resume", file=sys.stderr)
                return 130
            print(f"error: a notebook failed in cell {err.cell_index}: {err.ename}: {err.evalue}", file=sys.stderr)
            return 1
        clear = unwritable(err, getattr(err, "filename", None) or "the output")
        if clear is None:
            raise
        print(f"error: {clear}", file=sys.stderr)
        return 1
    _interrupted_quietly()
    print(f"interrupted; {_runs_cached_since(started)} runs cached, rerun to resume", file=sys.stderr)
    return 130


def _interrupted_quietly() -> None:
    """After Ctrl-C, nbclient's abandoned cell task is reported by asyncio when collected ("Task
    exception was never retrieved: DeadKernelError"): not news to a user who pressed Ctrl-C."""
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


if __name__ == "__main__":
    sys.exit(cli())
