"""Add the run cache's finished runs to the committed run archive (``runs/``), then commit it.

    python scripts/archive_runs.py            # cache: $HASHLIB_CACHE or .cache/hashlib

The archive holds the runs behind ``figures/`` (packed codes, metrics, timings and provenance, in
the cache's own verified entry format), so a fresh clone's ``make reproduce`` rebuilds their tables
and figures without training, and a long regeneration can be finished over several sessions on
machines that do not keep their cache. Only runs computed at a clean commit are taken
(:func:`hashlib_core.runner.archive_entries`). ``HASHLIB_RUN_ARCHIVE=`` (set, empty) makes a
batch ignore the archive and compute everything.
"""
from __future__ import annotations

import sys

from hashlib_core.paths import cache_root, run_archive
from hashlib_core.runner import archive_entries


def main() -> int:
    added = archive_entries()
    archive = run_archive()
    size = sum(f.stat().st_size for key in added for f in (archive / key).iterdir())
    print(f"{len(added)} run(s) from {cache_root().name}/runs added to the archive ({size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
