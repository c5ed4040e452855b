"""Where real CIFAR-10 is (the data root of the tests)."""
import os
from pathlib import Path

from hashlib_core import paths


def real_cifar_root():
    cands = [Path(os.environ["HASHLIB_DATA"])] if os.environ.get("HASHLIB_DATA") else []
    cands.append(paths.repo_root().parent / "shared" / "datasets")
    return next((c for c in cands if (c / "cifar10.npz").is_file()), None)
