"""Helpers of the fault-injection suite (imported by its test modules)."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from hashlib_core import paths


def synthetic_result(config, calls: list | None = None):
    """A deterministic stand-in for training: codes of the labels through a seeded random
    projection plus noise, evaluated by the real metric code on the current split."""
    from hashlib_core import metrics as metrics_mod
    from hashlib_core.data import get_protocol
    from hashlib_core.runner import RunResult, jsonable_metrics

    if calls is not None:
        calls.append(config.key())
    split = get_protocol(config.protocol, seed=config.seed, subset=config.subset)
    rng = np.random.default_rng(config.seed)
    w = rng.standard_normal((split.num_classes, config.bits))

    def encode(part):
        x = part.multi_hot.astype(np.float64) @ w + 0.8 * rng.standard_normal((len(part), config.bits))
        return np.where(x >= 0, 1, -1).astype(np.int8)

    q, d = encode(split.query), encode(split.database)
    m = metrics_mod.evaluate(q, d, split.query.labels, split.database.labels, topk=split.map_topk)
    return RunResult(config=config, key=config.key(), query_codes=q, db_codes=d, metrics=jsonable_metrics(m),
                     history=[{"epoch": 1, "loss": 0.5}], timings={"train_s": 0.0}, split_checksum=split.checksum)


def smoke_config(**overrides):
    import dataclasses

    from hashlib_core.runner import make_config

    cfg = make_config("smoke", "dshfmdf", "cifar10-dshfmdf", 12, 0)
    return dataclasses.replace(cfg, **overrides) if overrides else cfg


def python(code: str, cache: Path, *, wait: bool = True, extra_env: dict | None = None, **kw):
    """Run ``code`` in a fresh interpreter on this checkout, the same data and ``cache``."""
    env = dict(os.environ, PYTHONPATH=str(paths.repo_root()), HASHLIB_CACHE=str(cache),
               HASHLIB_DATA=os.environ["HASHLIB_DATA"], PYTHONUNBUFFERED="1", **(extra_env or {}))
    args = [sys.executable, "-c", textwrap.dedent(code)]
    if wait:
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, **kw)
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_sha256sums(folder: Path, names) -> None:
    """What ``sha256sum NAMES > SHA256SUMS`` writes: a checksum file consistent with the files."""
    (Path(folder) / "SHA256SUMS").write_text("".join(f"{sha256_file(Path(folder) / n)}  {n}\n" for n in sorted(names)))
