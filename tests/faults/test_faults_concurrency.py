"""Two real processes on one cache, and processes killed mid-write (findings 4 and 5)."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np

from fault_helpers import python, smoke_config, synthetic_result
from hashlib_core.runner import cached_run, load_cached

HERE = Path(__file__).resolve().parent

PRELUDE = f"""
import os, sys, time
sys.path.insert(0, {str(HERE)!r})
from fault_helpers import smoke_config, synthetic_result
"""


def _wait_for(proc, marker: str, timeout: float = 90.0) -> str:
    """Read ``proc``'s stdout until a line holding ``marker``; return what was read."""
    seen, t0 = [], time.time()
    while time.time() - t0 < timeout:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} never printed; stdout {''.join(seen)!r}; stderr {proc.stderr.read()!r}")


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.exists() else []


def test_two_processes_asking_for_one_run_compute_it_once(cache, faults, tmp_path):
    counter = tmp_path / "computations"
    code = PRELUDE + f"""
from hashlib_core.runner import cached_run
cfg = smoke_config()
def compute():
    with open({str(counter)!r}, "a") as fh:
        fh.write("x")
    time.sleep(2.0)  # long enough for the other process to ask meanwhile
    return synthetic_result(cfg)
r = cached_run(cfg, compute, verbose=False)
print("RESULT", r.cached, repr(r.metrics["map"]), int(r.db_codes.sum()))
"""
    faults.inject("two processes ask for the same run at once")
    procs = [python(code, cache, wait=False) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    results = sorted(next(l for l in o.splitlines() if l.startswith("RESULT")) for o, _ in outs)
    assert counter.read_text() == "x"  # computed once
    assert [r.split()[1] for r in results] == ["False", "True"]  # the other waited, then read it
    assert results[0].split()[2:] == results[1].split()[2:]
    expected = synthetic_result(smoke_config())
    assert float(results[0].split()[2]) == expected.metrics["map"]
    assert _temps(cache / "runs") == []
    faults.detected()


def test_concurrent_report_and_atomic_dir_writers_never_fail(cache, faults, tmp_path):
    """Finding 4: a fixed ``<name>.tmp`` failed ~40 % of concurrent writes; atomic_dir raised
    ``OSError: Directory not empty`` when two writers renamed onto one folder."""
    figures = tmp_path / "figures"
    code = f"""
import os, sys
import pandas as pd
from hashlib_core.paths import atomic_dir
from hashlib_core.reporting import Report
rep = Report("nb", "cpu")
for i in range(60):
    rep.save_table(pd.DataFrame({{"i": list(range(50))}}), "table")
    with atomic_dir({str(tmp_path / "entry")!r}) as tmp:
        (tmp / "a.txt").write_text("a" * 1000)
        (tmp / "b.txt").write_text("b" * 1000)
print("OK")
"""
    faults.inject("two processes write the same Report table and atomic_dir folder 60 times")
    procs = [python(code, cache, wait=False, extra_env={"HASHLIB_FIGURES": str(figures)}) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    assert (figures / "nb" / "table.csv").read_text().splitlines()[1:] == [str(i) for i in range(50)]
    assert sorted(p.name for p in (tmp_path / "entry").iterdir()) == ["a.txt", "b.txt"]
    assert _temps(figures / "nb") == [] and [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []
    faults.detected()


def test_kill_while_writing_a_run_entry_leaves_nothing_trusted(cache, faults):
    code = PRELUDE + """
import hashlib_core.runner as runner
def stalled(folder, names):
    print("WRITING", flush=True)
    time.sleep(60)
runner.write_checksums = stalled  # codes.npz and meta.json are written, the checksum is not
cfg = smoke_config()
runner.cached_run(cfg, lambda: synthetic_result(cfg), verbose=False)
"""
    proc = python(code, cache, wait=False)
    _wait_for(proc, "WRITING")
    faults.inject("kill -9 while a run entry is being written")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    cfg, calls = smoke_config(), []
    assert [t for t in _temps(cache / "runs") if t.startswith(f".tmp-{proc.pid}-")]  # its litter
    assert load_cached(cfg) is None  # nothing half-written is trusted
    result = cached_run(cfg, lambda: synthetic_result(cfg, calls), verbose=False)
    assert len(calls) == 1 and not result.cached
    assert result.metrics == synthetic_result(cfg).metrics
    assert _temps(cache / "runs") == []  # the later run removed the litter
    assert load_cached(cfg).cached
    faults.detected()


def test_kill_during_the_trunk_pass_leaves_nothing_trusted(cache, faults, monkeypatch, tmp_path):
    """Finding 5: a killed trunk pass left full-size memmaps in ``.tmp-xxxx`` for ever."""
    code = PRELUDE + """
import torch
from hashlib_core.data import get_protocol
from hashlib_core.models import dshfmdf
from hashlib_core.trunk import trunk_key, trunk_taps
split = get_protocol("cifar10-dshfmdf", seed=0, subset={"query": 20, "database": 100, "train": 40})
torch.manual_seed(0)
model = dshfmdf(backbone="vgg11_bn", width=0.0625, bits=12, input_size=32).eval()
calls = []
def stall(module, inputs, output):
    calls.append(1)
    if len(calls) == 2:  # the memmaps exist and hold the first batch
        print("PASSING", flush=True)
        time.sleep(60)
model.backbone.register_forward_hook(stall)
trunk_taps(model.backbone, split.query, trunk_key(model.config, 32, 1), 32, batch_size=8, progress=False)
"""
    proc = python(code, cache, wait=False)
    _wait_for(proc, "PASSING")
    faults.inject("kill -9 during the trunk pass")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    import torch

    from hashlib_core.data import get_protocol
    from hashlib_core.models import dshfmdf
    from hashlib_core.trunk import trunk_key, trunk_taps

    split = get_protocol("cifar10-dshfmdf", seed=0, subset={"query": 20, "database": 100, "train": 40})
    torch.manual_seed(0)
    model = dshfmdf(backbone="vgg11_bn", width=0.0625, bits=12, input_size=32).eval()
    key = trunk_key(model.config, 32, 1)
    root = cache / "trunk" / key
    litter = [p for p in root.iterdir() if p.name.startswith(f".tmp-{proc.pid}-")]
    assert litter and any(p.suffix == ".npy" for p in litter[0].iterdir())
    after = {k: np.asarray(v[np.arange(20)]) for k, v in trunk_taps(model.backbone, split.query, key, 32,
                                                                      progress=False).items()}
    assert not any(p.name.startswith(".tmp") for p in root.iterdir())  # removed at the start of the pass
    monkeypatch.setenv("HASHLIB_CACHE", str(tmp_path / "clean"))
    clean = {k: np.asarray(v[np.arange(20)]) for k, v in trunk_taps(model.backbone, split.query, key, 32,
                                                                      progress=False).items()}
    assert set(after) == set(clean) and all(np.array_equal(after[k], clean[k]) for k in clean)
    faults.detected()


def test_stale_temporaries_are_told_from_live_ones(faults, tmp_path):
    import subprocess
    import sys

    from hashlib_core.paths import remove_stale_temps

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    live = str(os.getpid())
    (tmp_path / f".tmp-{dead}-abc123").mkdir()                 # a killed atomic_dir
    (tmp_path / f".codes.npz.{dead}.k3j_x9.tmp.npz").write_bytes(b"x")  # a killed atomic_path
    old = tmp_path / ".tmp-q8w7e6"                              # old-style name, untouched for 2 h
    old.mkdir()
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    (tmp_path / f".tmp-{live}-def456").mkdir()                  # ours, in progress
    (tmp_path / ".tmp-r5t4y3").mkdir()                          # old-style, just written
    (tmp_path / "entry").mkdir()                                # a complete entry
    faults.inject("litter of dead writers beside live temporaries")
    removed = sorted(p.name for p in remove_stale_temps(tmp_path))
    assert removed == sorted([f".tmp-{dead}-abc123", f".codes.npz.{dead}.k3j_x9.tmp.npz", ".tmp-q8w7e6"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f".tmp-{live}-def456", ".tmp-r5t4y3", "entry"])
    faults.detected()
