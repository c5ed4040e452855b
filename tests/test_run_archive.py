"""The committed run archive (``runs/``): clean-commit runs copied from the cache, read back,
verified like cache entries, and never written by a run."""
import dataclasses
import json

import numpy as np
from damage import flip_middle_byte

from hashlib_core import plan, runner
from hashlib_core.integrity import write_checksums
from hashlib_core.paths import run_archive
from hashlib_core.runner import archive_entries, load_cached, make_config, run, run_dir

CLEAN = "a" * 40


def _config(**overrides):
    cfg = make_config("smoke", "dshfmdf", "cifar10-dshfmdf", 12, 0)
    return dataclasses.replace(cfg, **overrides) if overrides else cfg


def _set_commit(cfg, commit):
    entry = run_dir(cfg.key())
    meta = json.loads((entry / "meta.json").read_text())
    meta["computed_at_commit"] = commit
    (entry / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    write_checksums(entry, runner.ENTRY_FILES)


def test_only_clean_commit_runs_of_a_real_profile_are_archived(isolated_cache, tmp_path):
    clean, dirty = _config(), _config(bits=24)
    for cfg, commit in [(clean, CLEAN), (dirty, CLEAN + "+dirty")]:
        run(cfg, progress=False, verbose=False)
        _set_commit(cfg, commit)
    archive = tmp_path / "archive"
    assert archive_entries(archive=archive) == []  # smoke runs are CI's, not results
    assert archive_entries(archive=archive, exclude_profiles=()) == [clean.key()]
    assert sorted(p.name for p in (archive / clean.key()).iterdir()) == ["SHA256SUMS", "codes.npz", "meta.json"]
    assert archive_entries(archive=archive, exclude_profiles=()) == []  # already there: left as it is


def test_an_archived_run_is_read_not_recomputed_and_a_damaged_one_is_recomputed(isolated_cache, tmp_path, monkeypatch):
    cfg = _config()
    first = run(cfg, progress=False, verbose=False)
    _set_commit(cfg, CLEAN)
    archive = tmp_path / "archive"
    archive_entries(archive=archive, exclude_profiles=())
    # a fresh machine: an empty cache, the archive of the clone
    monkeypatch.setenv("HASHLIB_CACHE", str(tmp_path / "fresh"))
    monkeypatch.setenv("HASHLIB_RUN_ARCHIVE", str(archive))
    assert run_archive() == archive
    assert plan._run_cached(cfg.key(), tmp_path / "fresh")
    again = run(cfg, progress=False, verbose=False)
    assert again.cached and again.computed_at_commit == CLEAN
    assert np.array_equal(again.db_codes, first.db_codes) and again.metrics == first.metrics
    assert not run_dir(cfg.key()).exists()  # read from the archive, nothing copied or written
    # damaged archive codes: a miss, recomputed into the cache; the archive is not touched
    codes = archive / cfg.key() / "codes.npz"
    damaged = flip_middle_byte(codes)
    assert load_cached(cfg) is None
    third = run(cfg, progress=False, verbose=False)
    assert not third.cached and np.array_equal(third.db_codes, first.db_codes)
    assert run_dir(cfg.key()).is_dir() and codes.read_bytes() == damaged


def test_an_empty_setting_turns_the_archive_off(monkeypatch):
    monkeypatch.setenv("HASHLIB_RUN_ARCHIVE", "")
    assert run_archive() is None and runner.archived_run_dir("0" * 64) is None
    monkeypatch.delenv("HASHLIB_RUN_ARCHIVE")
    assert run_archive().name == "runs" and run_archive().parent == runner.Path(runner.__file__).resolve().parents[1]
