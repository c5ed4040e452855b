"""Ctrl-C, a full disk and a read-only output folder each end with one clear line (finding 6)."""
from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from fault_helpers import python, smoke_config, synthetic_result
from hashlib_core import paths, reproduce
from hashlib_core.reporting import Report

HERE = Path(__file__).resolve().parent


def test_sigint_ends_with_one_line_and_exit_130(cache, faults):
    # a job started in the background by a non-interactive shell (as CI harnesses do) inherits
    # SIGINT ignored; a person's Ctrl-C reaches a process with Python's default handler
    code = f"""
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {str(HERE)!r})
from fault_helpers import smoke_config, synthetic_result
import hashlib_core.reproduce as reproduce
from hashlib_core.runner import run_dir, write_entry
def execute(notebook, params, profile):  # one run cached, then a long notebook
    cfg = smoke_config()
    write_entry(run_dir(cfg.key()), synthetic_result(cfg))
    print("RUNNING", flush=True)
    time.sleep(60)
reproduce.execute = execute
sys.exit(reproduce.cli(["--profile", "smoke", "--only", "00_data_and_metrics"]))
"""
    proc = python(code, cache, wait=False)
    t0 = time.time()
    while "RUNNING" not in proc.stdout.readline():
        assert time.time() - t0 < 120 and proc.poll() is None, proc.stderr.read()
    faults.inject("SIGINT during reproduce")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=180)  # generous: CI machines are shared
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "interrupted; 1 runs cached, rerun to resume"
    assert "Traceback" not in err
    faults.detected()


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_is_one_error_naming_the_file(faults, tmp_path, monkeypatch):
    """Finding 6: a full disk surfaced as a misleading AttributeError '_idat' (from savefig)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("HASHLIB_FIGURES", str(tmp_path / "figures"))
    rep = Report("nb", "cpu")
    fig = plt.figure()
    monkeypatch.setattr(paths, "_write", _enospc)
    faults.inject("disk full while saving a table and a figure")
    with pytest.raises(OSError, match=r"cannot write .*nb/t\.csv: the disk is full"):
        rep.save_table(pd.DataFrame({"a": [1]}), "t")
    with pytest.raises(OSError, match=r"cannot write .*nb/f\.png: the disk is full"):
        rep.save_figure(fig, "f")
    assert list((tmp_path / "figures" / "nb").iterdir()) == []  # no temporary file left
    plt.close(fig)
    faults.detected()


def test_disk_full_while_writing_a_run_entry(cache, faults, monkeypatch):
    from hashlib_core.runner import cached_run, run_dir

    cfg = smoke_config()
    monkeypatch.setattr(Path, "write_bytes", _enospc)
    faults.inject("disk full while writing a run entry")
    with pytest.raises(OSError, match=f"cannot write .*{cfg.key()}: the disk is full"):
        cached_run(cfg, lambda: synthetic_result(cfg), verbose=False)
    assert not run_dir(cfg.key()).exists()
    assert [p for p in run_dir(cfg.key()).parent.iterdir() if p.name.startswith(".tmp")] == []
    faults.detected()


def _read_only(self, *args, **kwargs):
    raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))


def test_read_only_output_folder_is_one_error_naming_it(faults, tmp_path, monkeypatch):
    out = tmp_path / "figures"
    monkeypatch.setenv("HASHLIB_FIGURES", str(out))
    monkeypatch.setattr(Path, "mkdir", _read_only)
    faults.inject("read-only output folder")
    with pytest.raises(OSError, match=f"cannot write {out / 'nb'}: the file system is read-only"):
        Report("nb", "cpu")
    faults.detected()


@pytest.mark.parametrize("fault", ["disk full", "read-only"])
def test_reproduce_reports_unwritable_outputs_in_one_line(faults, tmp_path, monkeypatch, capsys, fault):
    monkeypatch.setenv("HASHLIB_FIGURES", str(tmp_path / "figures"))

    def execute(notebook, params, profile):
        Report(notebook.stem, profile).save_table(pd.DataFrame({"a": [1]}), "t")

    monkeypatch.setattr(reproduce, "execute", execute)
    if fault == "disk full":
        monkeypatch.setattr(paths, "_write", _enospc)
    else:
        monkeypatch.setattr(Path, "mkdir", _read_only)
    faults.inject(f"{fault} under reproduce")
    assert reproduce.cli(["--profile", "smoke", "--only", "00_data_and_metrics"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot write ") and str(tmp_path / "figures") in err[0]
    faults.detected()
