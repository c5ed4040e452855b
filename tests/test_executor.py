"""Sweeps scale out through any concurrent.futures.Executor (issue 17): the same codes as a
sequential sweep, in the same order, from a stdlib process pool and from a real Dask
``distributed.LocalCluster`` with two worker processes sharing one cache folder."""
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from hashlib_core import runner
from hashlib_core.runner import make_config, run_many


def _configs(bits=(8, 16)):
    return [make_config("smoke", m, "cifar10-dshfmdf", b, 0) for m in ("lsh", "itq") for b in bits]


def _same(a, b):
    assert [r.config.key() for r in a] == [r.config.key() for r in b]
    for x, y in zip(a, b):
        assert np.array_equal(x.query_codes, y.query_codes) and np.array_equal(x.db_codes, y.db_codes)
        assert x.metrics["map"] == y.metrics["map"]


def test_process_pool_gives_the_sequential_results_in_order(isolated_cache):
    sequential = run_many(_configs(), progress=False, use_cache=False, verbose=False)
    with ProcessPoolExecutor(max_workers=2) as pool:
        parallel = run_many(_configs(), progress=False, executor=pool, verbose=False)
    _same(sequential, parallel)
    again = run_many(_configs(), progress=False, verbose=False)  # the workers filled the shared cache
    assert all(r.cached for r in again)


def test_dask_local_cluster_by_executor_and_by_scheduler_address(isolated_cache, monkeypatch):
    """An executor passed in, and what `reproduce --scheduler ADDRESS` sets for the notebooks'
    kernels (no executor argument: the sweep still goes to the cluster)."""
    distributed = pytest.importorskip("distributed")
    sequential = run_many(_configs() + _configs((12,)), progress=False, use_cache=False, verbose=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster:
        with distributed.Client(cluster) as client:
            by_executor = run_many(_configs(), progress=False, executor=client.get_executor(), verbose=False)
        monkeypatch.setenv(runner.SCHEDULER_ENV, cluster.scheduler_address)
        by_address = run_many(_configs((12,)), progress=False, verbose=False)
        runner._DASK_CLIENTS.pop(cluster.scheduler_address).close()
    assert not any(r.cached for r in by_address)  # computed on the workers, not read back from a parent cache
    _same(sequential, by_executor + by_address)
