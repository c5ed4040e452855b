"""The one experiment runner: a fully resolved :class:`RunConfig` in, codes and metrics out.

Every method of :data:`hashlib_core.methods.METHODS` runs here, deep and shallow alike
(``run(make_config("cpu", "itq", "cifar10-dshfmdf", 48, 0))`` works like ``"dshfmdf"``): the method's
declared parts say what is built, trained, encoded and measured. Every table and figure is a set
of runs. A run's key is the SHA-256 of its canonical JSON
config (plus :data:`CACHE_VERSION`), so notebooks that share a run (paper 000's VGG-19 48-bit
run is a row of Tables 2, 3, 4 and 5 and a point of Fig. 6) compute it once. Cache entries
are written atomically (a temporary folder renamed into place) with a ``SHA256SUMS`` of every
file written last, and verified on read; the split checksum recorded in an entry must equal the
current split's (which covers the images and labels), so a run computed on other data is a miss.
A corrupt, partial, edited or stale entry is recomputed (one log line), never trusted. A
per-entry file lock lets concurrent processes share one cache. An interrupted sweep resumes
where it stopped.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import logging
import re
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from hashlib_core import codes as codes_mod
from hashlib_core import metrics as metrics_mod
from hashlib_core.baselines.features import check_features, features_for
from hashlib_core.data import get_protocol
from hashlib_core.integrity import CHECKSUMS, sha256_file, verify_folder, write_checksums
from hashlib_core.methods import Method, get_method
from hashlib_core.paths import atomic_dir, cache_root, remove_stale_temps, run_archive, unwritable
from hashlib_core.profiles import Profile, load_profile
from hashlib_core.progress import write
from hashlib_core.train import TrainSettings, encode, fit, set_determinism
from hashlib_core.trunk import frozen_trunk_parts

# Bump when a change to training or encoding makes earlier cached results stale.
CACHE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's result. Two equal configs give equal codes."""

    method: str
    protocol: str
    bits: int
    seed: int
    profile: str
    model: Mapping[str, Any]
    loss: Mapping[str, Any]
    train: Mapping[str, Any]
    input_size: int
    subset: Mapping[str, int] | None = None
    device: str = "cpu"
    num_threads: int | None = None
    version: int = 1  # the method's code version (Method.version): a code change that alters results is a miss

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("model", "loss", "train", "subset"):
            if d[k] is not None:
                d[k] = dict(sorted(dict(d[k]).items()))
        return d

    def key(self) -> str:
        payload = json.dumps({"v": CACHE_VERSION, **self.to_dict()}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    def label(self) -> str:
        m = self.model
        parts = [self.method, str(m.get("backbone", "")), str(m.get("variant", "")),
                 f"{self.bits}b", self.protocol, f"seed{self.seed}"]
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.loss.items()))
        return " ".join(p for p in parts if p) + (f" [{extra}]" if extra else "")


@dataclasses.dataclass
class RunResult:
    config: RunConfig
    key: str
    query_codes: np.ndarray
    db_codes: np.ndarray
    metrics: dict[str, float]
    history: list[dict[str, float]]
    timings: dict[str, float]
    split_checksum: str
    cached: bool = False
    computed_at_commit: str = ""  # the code that trained it (recorded in the cache entry)
    computed_on: str = ""  # the CPU kernel set and processor model that trained it (reporting.computed_on)
    # the method a table asked for when this run is another method's identical computation
    # (MDFF-SH / DMSH rows served by DSHFMDF's run: hashlib_core.papers.p001_mdffsh.run_config)
    asked_as: str = ""

    @property
    def method(self) -> str:
        """The method this run stands for in a table: ``asked_as`` if set, else the config's."""
        return self.asked_as or self.config.method

    def split(self):
        """The protocol split this run used (loaded from the seeded split cache)."""
        return get_protocol(self.config.protocol, seed=self.config.seed, subset=self.config.subset)

    def summary(self) -> str:
        loss = self.history[-1].get("loss", float("nan")) if self.history else float("nan")
        return (f"[run {self.key[:10]}] {self.config.label()}: train {self.timings.get('train_s', 0):.0f} s, "
                f"encode {self.timings.get('encode_s', 0):.0f} s, final loss {loss:.4f}, "
                f"mAP {self.metrics.get('map', float('nan')):.4f}" + (" (cached)" if self.cached else ""))


def jsonable_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Scalars as floats, curves (e.g. precision by radius) as lists, so the cache is plain JSON."""
    out: dict[str, Any] = {}
    for k, v in metrics.items():
        if v is None or isinstance(v, (int, float, str)):
            out[k] = v
        elif np.ndim(v) == 0:
            out[k] = float(v)
        else:
            out[k] = np.asarray(v, dtype=float).tolist()
    return out


def run_dir(key: str, cache_dir: Path | None = None) -> Path:
    return Path(cache_dir or cache_root()) / "runs" / key


def archived_run_dir(key: str) -> Path | None:
    """The committed archive's entry of ``key`` (:func:`hashlib_core.paths.run_archive`), if there
    is one. The archive holds the runs behind ``figures/`` (codes and metrics, the cache's own
    entry format, verified the same way), so a fresh clone rebuilds those tables without training;
    it is read, never written, by a run (``scripts/archive_runs.py`` adds to it)."""
    root = run_archive()
    return root / key if root is not None and (root / key).is_dir() else None


ENTRY_FILES = ("codes.npz", "meta.json")
log = logging.getLogger("hashlib_core.cache")


def write_entry(directory: Path, result: RunResult) -> None:
    """Write a cache entry into a temporary folder, then rename it into place (atomic). Its
    ``SHA256SUMS`` (codes and meta) is written last."""
    with atomic_dir(directory) as tmp:
        buf = io.BytesIO()
        np.savez_compressed(buf, query=codes_mod.pack(result.query_codes), db=codes_mod.pack(result.db_codes),
                            bits=np.int64(result.config.bits))
        (tmp / "codes.npz").write_bytes(buf.getvalue())
        meta = {
            "key": result.key,
            "config": result.config.to_dict(),
            "metrics": result.metrics,
            "history": result.history,
            "timings": result.timings,
            "split_checksum": result.split_checksum,
            "codes_sha256": sha256_file(tmp / "codes.npz"),
            "cache_version": CACHE_VERSION,
            "computed_at_commit": result.computed_at_commit,
            "computed_on": result.computed_on,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
        write_checksums(tmp, ENTRY_FILES)


_CLEAN_COMMIT = re.compile(r"[0-9a-f]{40}")


def archive_entries(cache_dir: Path | None = None, archive: Path | None = None,
                    exclude_profiles: Iterable[str] = ("smoke",)) -> list[str]:
    """Copy the run cache's entries into the committed run archive (default
    :func:`hashlib_core.paths.run_archive`); return the keys added, sorted.

    Only entries that verify against their ``SHA256SUMS``, were computed at a clean commit (the
    archive backs committed figures, which must name one) and are not of ``exclude_profiles`` (by
    default the CI profile, ``smoke``) are taken; entries already archived are left
    as they are. Each is written atomically."""
    archive = archive or run_archive()
    if archive is None:
        raise ValueError("no run archive: HASHLIB_RUN_ARCHIVE is set and empty")
    added = []
    for entry in sorted((Path(cache_dir or cache_root()) / "runs").glob("[!.]*")):
        if not entry.is_dir() or (archive / entry.name).exists():
            continue
        try:
            verify_folder(entry, ENTRY_FILES)
            meta = json.loads((entry / "meta.json").read_text())
        except (OSError, ValueError) as err:
            log.warning("not archived, %s: %s", entry.name[:10], err)
            continue
        if meta.get("key") != entry.name or meta.get("config", {}).get("profile") in set(exclude_profiles) \
                or not _CLEAN_COMMIT.fullmatch(str(meta.get("computed_at_commit", ""))):
            continue
        with atomic_dir(archive / entry.name) as tmp:
            for name in (*ENTRY_FILES, CHECKSUMS):
                shutil.copy2(entry / name, tmp / name)
        added.append(entry.name)
    return added


def _current_split(config: RunConfig):
    from hashlib_core.data import get_protocol

    return get_protocol(config.protocol, seed=config.seed, subset=config.subset)


def _check_meta(meta: Any, config: RunConfig, key: str) -> None:
    """ValueError unless ``meta`` is a well-formed entry of ``config`` (types, key, version, config)."""
    if not isinstance(meta, dict):
        raise ValueError(f"meta.json holds a {type(meta).__name__}, not an object")
    types = {"key": str, "cache_version": int, "metrics": dict, "history": list, "timings": dict,
             "split_checksum": str}
    for name, kind in types.items():
        if not isinstance(meta.get(name), kind):
            raise ValueError(f"meta.json: {name!r} missing or not a {kind.__name__}")
    if meta["key"] != key or meta["cache_version"] != CACHE_VERSION:
        raise ValueError("meta.json was written for another key or cache version")
    if meta["config"] != json.loads(json.dumps(config.to_dict(), sort_keys=True, default=str)):
        raise ValueError("meta.json records another config")
    for name, value in meta["metrics"].items():
        if not (value is None or isinstance(value, (int, float, str, list))) or isinstance(value, bool):
            raise ValueError(f"meta.json: metric {name!r} is a {type(value).__name__}")


def _read_entry(config: RunConfig, directory: Path, split_checksum: str | None) -> RunResult:
    """The verified entry in ``directory``; ValueError/OSError saying why it cannot be trusted."""
    key = config.key()
    verify_folder(directory, ENTRY_FILES)
    meta = json.loads((directory / "meta.json").read_text())
    _check_meta(meta, config, key)
    if split_checksum is not None and meta["split_checksum"] != split_checksum:
        raise ValueError("the data changed since it was computed (its split checksum "
                         f"{meta['split_checksum'][:12]} is not the current {split_checksum[:12]})")
    with np.load(directory / "codes.npz") as z:
        bits = int(z["bits"])
        if bits != config.bits:
            raise ValueError(f"codes.npz holds {bits}-bit codes, the config asks {config.bits}")
        q = codes_mod.unpack(z["query"], bits)
        d = codes_mod.unpack(z["db"], bits)
    return RunResult(config=config, key=key, query_codes=q, db_codes=d, metrics=meta["metrics"],
                     history=meta["history"], timings=meta["timings"],
                     split_checksum=meta["split_checksum"], cached=True,
                     computed_at_commit=str(meta.get("computed_at_commit", "unknown")),
                     computed_on=str(meta.get("computed_on", "unknown")))


def load_cached(config: RunConfig, cache_dir: Path | None = None, split_checksum: str | None = None,
                *, check_data: bool = True, log_miss: bool = True) -> RunResult | None:
    """The cached result for ``config``, or None when absent or failing verification.

    Verified: every file against the entry's ``SHA256SUMS`` (written last), the meta's types, key,
    version and config, and -- with ``check_data`` -- the split checksum recorded in the entry
    against the current split's (``split_checksum``, else the split is loaded): a run computed on
    other data is a miss. An entry that exists but fails is logged (one line, when ``log_miss``)."""
    directory = run_dir(config.key(), cache_dir)
    if not directory.exists():
        directory = archived_run_dir(config.key())
        if directory is None:
            return None
    if check_data and split_checksum is None:
        split_checksum = _current_split(config).checksum
    try:
        return _read_entry(config, directory, split_checksum if check_data else None)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
        if log_miss:
            log.warning("cache miss, recomputing %s (%s): %s", config.label(), directory, err)
        return None


_CLEANED: set[str] = set()


def _lock_for(directory: Path) -> "filelock.FileLock":
    """``<cache>/locks/runs/<key>.lock``: beside, not inside, the entries."""
    import filelock

    locks = directory.parent.parent / "locks" / directory.parent.name
    try:
        locks.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a read-only or full cache folder: say which, before any work
        raise (unwritable(err, locks) or err) from err
    return filelock.FileLock(str(locks / f"{directory.name}.lock"))


def cached_run(config: RunConfig, compute: Callable[[], "RunResult"], cache_dir: Path | None = None,
               use_cache: bool = True, verbose: bool = True) -> RunResult:
    """The cache discipline every kind of run shares: a verified cache hit, or ``compute()``
    written atomically into the cache; one summary line either way.

    A per-entry lock (``<cache>/locks/runs/<key>.lock``) makes two processes asking for one run compute it once:
    the second waits, then reads the entry. Temporary folders of killed writers are removed the
    first time a process uses a cache folder."""
    if not use_cache:
        result = _computed(config, compute)
        if verbose:
            write(result.summary())
        return result
    directory = run_dir(config.key(), cache_dir)
    runs = directory.parent
    if str(runs) not in _CLEANED:
        remove_stale_temps(runs)
        _CLEANED.add(str(runs))
    split_checksum = _current_split(config).checksum
    cached = load_cached(config, cache_dir, split_checksum, log_miss=False)
    if cached is None:
        import filelock

        lock = _lock_for(directory)
        try:
            lock.acquire(timeout=1)
        except filelock.Timeout:
            write(f"[run {config.key()[:10]}] {config.label()}: another process is computing it; waiting")
            lock.acquire()
        try:  # under the lock: the other process may have written it meanwhile
            cached = load_cached(config, cache_dir, split_checksum)
            if cached is None:
                result = _computed(config, compute)
                write_entry(directory, result)
        finally:
            lock.release()
    if cached is not None:
        if verbose:
            write(cached.summary())
        return cached
    if verbose:
        write(result.summary())
    return result


def _computed(config: RunConfig, compute: Callable[[], "RunResult"]) -> RunResult:
    from hashlib_core.reporting import computed_on, git_commit

    result = compute()
    if not result.computed_at_commit:
        result.computed_at_commit = git_commit()
    if not result.computed_on:
        result.computed_on = computed_on()
    return result


def run(config: RunConfig, progress: bool = True, cache_dir: Path | None = None,
        use_cache: bool = True, verbose: bool = True) -> RunResult:
    """Return the codes and metrics of ``config``, computing them only when the cache lacks them."""
    method = get_method(config.method)  # fails fast on an unknown method
    compute = _train_and_evaluate if method.family == "deep" else _fit_and_evaluate
    return cached_run(config, lambda: compute(config, method, progress),
                      cache_dir=cache_dir, use_cache=use_cache, verbose=verbose)


def _evaluate(config: RunConfig, method: Method, split, q: np.ndarray, d: np.ndarray,
              model=None, quantizer=None) -> dict[str, Any]:
    """The standard metrics of every run, then the method's own extra metrics and, given the
    trained ``model`` and its ``quantizer``, its network metrics (all cached with the run)."""
    metrics = dict(metrics_mod.evaluate(q, d, split.query.labels, split.database.labels, topk=split.map_topk))
    for extra in method.extra_metrics:
        metrics.update(extra(q, d, split))
    if model is not None:
        for network_metric in method.network_metrics:
            metrics.update(network_metric(model, quantizer, config, split))
    return jsonable_metrics(metrics)


def _train_and_evaluate(config: RunConfig, method: Method, progress: bool) -> RunResult:
    split = get_protocol(config.protocol, seed=config.seed, subset=config.subset)
    set_determinism(config.seed, config.num_threads)
    model = method.build_model(config, split)
    criterion = method.build_criterion(config, split)
    quantizer = method.build_quantizer(config, split)
    spec = method.input_spec
    settings = TrainSettings(input_size=config.input_size, device=config.device,
                             num_threads=config.num_threads, **dict(config.train))
    t_trunk = time.perf_counter()
    train, query, database = split.train, split.query, split.database
    if settings.freeze_backbone:
        model, train, query, database = frozen_trunk_parts(model, split, config, settings.augment, progress,
                                                           input_spec=spec, tune_tail=settings.tune_tail)
    t0 = time.perf_counter()
    history = fit(model, criterion, train, settings, seed=config.seed, progress=progress,
                  desc=f"train {config.label()}", input_spec=spec)
    t1 = time.perf_counter()
    enc_bs = encode_batch_size(config)

    def outputs(part, what):
        return encode(model, part, config.input_size, method.encode_output, batch_size=enc_bs, device=config.device,
                      progress=progress, desc=f"encode {what}", input_spec=spec)

    if quantizer.needs_fit:  # e.g. a threshold per bit learned on the training images' outputs
        quantizer.fit(outputs(train, "train"))
    q = quantizer.encode(outputs(query, "query"))
    d = quantizer.encode(outputs(database, "database"))
    t2 = time.perf_counter()
    metrics = _evaluate(config, method, split, q, d, model=model, quantizer=quantizer)
    t3 = time.perf_counter()
    return RunResult(
        config=config, key=config.key(), query_codes=q, db_codes=d, metrics=metrics, history=history,
        timings={"trunk_s": t0 - t_trunk, "train_s": t1 - t0, "encode_s": t2 - t1, "metrics_s": t3 - t2,
                 "train_images_per_s": len(split.train) * settings.epochs / max(t1 - t0, 1e-9)},
        split_checksum=split.checksum,
    )


def encode_batch_size(config: RunConfig) -> int:
    """Images per forward pass when encoding: 8 training batches (no gradients are kept)."""
    return int(dict(config.train).get("batch_size", 64)) * 8


def _fit_and_evaluate(config: RunConfig, method: Method, progress: bool) -> RunResult:
    """A shallow method: descriptors of every part, ``fit`` on the training part (labels only for
    supervised methods), continuous ``project`` outputs, the method's quantizer."""
    split = get_protocol(config.protocol, seed=config.seed, subset=config.subset)
    features = dict(config.model)["features"]
    t0 = time.perf_counter()
    Xtr, Xq, Xd = (features_for(part, features, progress=progress, num_threads=config.num_threads)
                   for part in (split.train, split.query, split.database))
    t1 = time.perf_counter()
    model = method.build_model(config, split)
    model.fit(Xtr, split.train.labels if model.supervised else None, bits=config.bits, seed=config.seed)
    quantizer = method.build_quantizer(config, split)
    if quantizer.needs_fit:
        quantizer.fit(model.outputs(Xtr))
    t2 = time.perf_counter()
    q, d = quantizer.encode(model.outputs(Xq)), quantizer.encode(model.outputs(Xd))
    t3 = time.perf_counter()
    metrics = _evaluate(config, method, split, q, d, model=model, quantizer=quantizer)
    t4 = time.perf_counter()
    history = ([{"epoch": i + 1, "loss": v} for i, v in enumerate(model.loss_history_)]
               if hasattr(model, "loss_history_") else [])
    return RunResult(
        config=config, key=config.key(), query_codes=q, db_codes=d, metrics=metrics, history=history,
        timings={"features_s": t1 - t0, "train_s": t2 - t1, "encode_s": t3 - t2, "metrics_s": t4 - t3},
        split_checksum=split.checksum,
    )


#: address of a Dask scheduler (``tcp://host:8786``): when set, every sweep runs on that cluster
#: (``python -m hashlib_core.reproduce --scheduler ADDRESS`` sets it for the notebooks' kernels)
SCHEDULER_ENV = "HASHLIB_DASK_SCHEDULER"


def dask_executor(address: str):
    """A :class:`concurrent.futures.Executor` on the Dask cluster at ``address`` (optional extra
    ``distributed``); the workers must see the same data root and cache folder."""
    try:
        from distributed import Client
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(f"{SCHEDULER_ENV}={address!r} needs Dask: pip install 'hashlib-core[distributed]'") from err
    if address not in _DASK_CLIENTS:  # one connection per process, reused by every sweep
        _DASK_CLIENTS[address] = Client(address)
    return _DASK_CLIENTS[address].get_executor()


_DASK_CLIENTS: dict = {}


def run_many(configs: Iterable[RunConfig], progress: bool = True, executor=None, **kwargs) -> list[RunResult]:
    """Run (or fetch from the cache) every config; results in the order of ``configs``; an
    interrupted sweep resumes.

    ``executor``: any :class:`concurrent.futures.Executor` (a ``ProcessPoolExecutor``, or a Dask
    cluster's ``client.get_executor()``; docs/scaling.md) runs the configs in parallel; without one,
    a Dask scheduler named by ``$HASHLIB_DASK_SCHEDULER`` is used when set. Runs are
    independent and content-addressed, and the cache's per-entry lock makes two workers asking
    for one run compute it once, so a shared cache folder is all the workers share.
    """
    from hashlib_core.progress import tqdm

    configs = list(configs)
    if executor is None and os.environ.get(SCHEDULER_ENV):
        executor = dask_executor(os.environ[SCHEDULER_ENV])
    bar = dict(desc="runs", total=len(configs), disable=not progress or len(configs) < 2)
    if executor is None:
        return [run(config, progress=progress, **kwargs) for config in tqdm(configs, **bar)]
    futures = [executor.submit(run, config, progress=False, **kwargs) for config in configs]
    return [future.result() for future in tqdm(futures, **bar)]


def make_config(profile, method: str, protocol: str, bits: int, seed: int,
                model: Mapping[str, Any] | None = None, loss: Mapping[str, Any] | None = None,
                train: Mapping[str, Any] | None = None, recipe: str | None = None) -> RunConfig:
    """Resolve a run from a profile (name or :class:`~hashlib_core.profiles.Profile`): the
    method's defaults, then the profile settings the method declares (``Method.profile_keys``),
    then the profile's ``method_overrides`` for it, then the profile's named ``recipe`` (if any),
    then explicit overrides (which win). Settings a method does not take are refused here, before
    any work."""
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    spec = get_method(method)
    keys = spec.profile_keys
    prof_over = dict((prof.method_overrides or {}).get(method) or {})
    if recipe is not None and not keys.recipes:
        raise ValueError(f"recipe {recipe!r} does not apply to method {method!r} "
                         f"(its network takes no backbone settings)" if keys.train else
                         f"recipe {recipe!r} does not apply to the {spec.family} method {method!r} "
                         f"(it takes no network or training settings)")
    rec = prof.recipe(recipe)
    model_cfg = {**spec.defaults.get("model", {}), **{k: getattr(prof, k) for k in keys.model},
                 **dict(prof_over.get("model") or {}), **dict(rec.get("model") or {}), **dict(model or {})}
    loss_cfg = {**spec.defaults.get("loss", {}), **dict(prof_over.get("loss") or {}),
                **dict(rec.get("loss") or {}), **dict(loss or {})}
    train_over = {**dict(prof_over.get("train") or {}), **dict(rec.get("train") or {}), **dict(train or {})}
    if spec.family == "shallow":
        _check_shallow(spec, model_cfg, loss_cfg, train_over)
    return RunConfig(
        method=method, protocol=protocol, bits=int(bits), seed=int(seed), profile=prof.name,
        model=model_cfg, loss=loss_cfg, train={**prof.training(), **train_over} if keys.train else train_over,
        input_size=int(rec.get("input_size", prof.input_size)) if keys.input_size else 0,
        subset=dict(prof.subset) if prof.subset else None,
        device=prof.device, num_threads=prof.num_threads, version=spec.version,
    )


def _check_shallow(spec: Method, model_cfg: Mapping[str, Any], loss_cfg: Mapping[str, Any],
                   train_cfg: Mapping[str, Any]) -> None:
    if loss_cfg or train_cfg:
        raise ValueError(f"shallow method {spec.name!r} takes its hyper-parameters as model settings; "
                         f"got loss {dict(loss_cfg)} / train {dict(train_cfg)}")
    unknown = sorted(set(model_cfg) - set(spec.defaults.get("model", {})))
    if unknown:
        raise ValueError(f"shallow method {spec.name!r} has no model setting(s) {unknown}; "
                         f"it takes {sorted(spec.defaults.get('model', {}))}")
    check_features(model_cfg["features"])


def sweep(profile, method: str, protocol: str, bits: Iterable[int], seeds: Iterable[int],
          model: Mapping[str, Any] | None = None, loss: Mapping[str, Any] | None = None,
          progress: bool = True, recipe: str | None = None, train: Mapping[str, Any] | None = None,
          **kwargs) -> list[RunResult]:
    """Every (bits, seed) run of one method on one protocol — the rows behind one table line
    (``executor=`` runs them in parallel, :func:`run_many`)."""
    configs = [make_config(profile, method, protocol, b, s, model=model, loss=loss, train=train, recipe=recipe)
               for b in bits for s in seeds]
    return run_many(configs, progress=progress, **kwargs)
