"""Shared fixtures: where real CIFAR-10 is, and an isolated cache for runs and splits."""
import os
from pathlib import Path

import pytest

from cifar_root import real_cifar_root  # noqa: F401  (re-exported for fixtures)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """Real CIFAR-10 as the data root, a fresh cache folder for splits and runs."""
    root = real_cifar_root()
    if root is None:
        pytest.skip("real CIFAR-10 not found: set HASHLIB_DATA to a folder holding cifar10.npz")
    monkeypatch.setenv("HASHLIB_DATA", str(root))
    monkeypatch.setenv("HASHLIB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(autouse=True)
def no_run_archive(monkeypatch):
    """The committed run archive (``runs/``) never answers for a test's runs: a test computes what
    it asks for (the archive's own tests point HASHLIB_RUN_ARCHIVE at a folder of theirs)."""
    monkeypatch.setenv("HASHLIB_RUN_ARCHIVE", "")
