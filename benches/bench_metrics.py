"""Benchmark hashlib_core.metrics against the usual per-query numpy loop.

Workload (defaults): 1,000 queries x 59,000 database items x 48 bits, 10 classes
-- the CIFAR-10 "59,000 database / 1,000 query" protocol size.  Codes are
seeded noisy class codewords (each bit of an item's class codeword flipped
with an item-specific probability drawn uniformly from [0, 0.45]), so the
ranking is informative, radius-2 lookups retrieve something, and Hamming ties
are everywhere.

The baseline is the common implementation (DeepHash-pytorch ``CalcTopMap``
style, re-written here from its description): for every query, Hamming
distances by a float dot product, ``np.argsort``, relevance by a multi-hot dot
product, ``cumsum`` of the ranked relevance.  The baseline uses
``np.argsort(kind="stable")`` so that ties are broken by database index as in
hashlib_core (DeepHash-pytorch's default quicksort orders ties arbitrarily,
which is why its numbers can move by a few 1e-3 between runs on tied codes).

Each function is run once for time and once under tracemalloc for the peak of
traced (numpy) memory; the two results must agree to 1e-9.

    python benches/bench_metrics.py [--queries 1000] [--db 59000] [--bits 48]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from hashlib_core import metrics as M  # noqa: E402


# --------------------------------------------------------------------------- data
def make_data(n_queries, n_db, n_bits, n_classes=10, max_flip=0.45, seed=0):
    rng = np.random.default_rng(seed)
    book = np.where(rng.random((n_classes, n_bits)) < 0.5, -1, 1).astype(np.int8)

    def draw(n):
        y = rng.integers(0, n_classes, n)
        c = book[y].copy()
        flip = rng.uniform(0.0, max_flip, size=(n, 1))
        c[rng.random(c.shape) < flip] *= -1
        return c, y

    qc, ql = draw(n_queries)
    dc, dl = draw(n_db)
    return qc, dc, ql, dl


# --------------------------------------------------------------------------- baseline (per-query loop)
def _onehot(y, n_classes):
    return np.eye(n_classes, dtype=np.float64)[y]


def loop_map(qc, dc, ql, dl, topk=None):
    """CalcTopMap-style loop: dot-product Hamming, argsort, cumsum."""
    B, rB = qc.astype(np.float64), dc.astype(np.float64)
    n_classes = int(max(ql.max(), dl.max())) + 1
    qL, rL = _onehot(ql, n_classes), _onehot(dl, n_classes)
    L = B.shape[1]
    k = rB.shape[0] if topk is None else topk
    total = 0.0
    for i in range(B.shape[0]):
        gnd = (qL[i] @ rL.T > 0).astype(np.float64)
        hamm = 0.5 * (L - B[i] @ rB.T)
        ind = np.argsort(hamm, kind="stable")
        tgnd = gnd[ind][:k]
        tsum = int(tgnd.sum())
        if tsum == 0:
            continue  # counts as 0 (divided by the number of queries below)
        count = np.linspace(1, tsum, tsum)
        tindex = np.asarray(np.where(tgnd == 1)[0]) + 1.0
        total += np.mean(count / tindex)
    return total / B.shape[0]


def loop_p_at_h(qc, dc, ql, dl, radius=2):
    """Precision within Hamming radius, per-query loop (empty retrieval -> 0)."""
    B, rB = qc.astype(np.float64), dc.astype(np.float64)
    L = B.shape[1]
    total = 0.0
    for i in range(B.shape[0]):
        hamm = 0.5 * (L - B[i] @ rB.T)
        got = hamm <= radius + 1e-9
        n = int(got.sum())
        if n:
            total += float((dl[got] == ql[i]).sum()) / n
    return total / B.shape[0]


def loop_p_at_n(qc, dc, ql, dl, ns):
    B, rB = qc.astype(np.float64), dc.astype(np.float64)
    L = B.shape[1]
    ns = np.asarray(ns)
    total = np.zeros(ns.size)
    for i in range(B.shape[0]):
        hamm = 0.5 * (L - B[i] @ rB.T)
        ind = np.argsort(hamm, kind="stable")
        cum = np.cumsum(dl[ind[: ns.max()]] == ql[i])
        total += cum[ns - 1] / ns
    return total / B.shape[0]


# --------------------------------------------------------------------------- harness
def measure(fn):
    t0 = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - t0
    tracemalloc.start()
    tracemalloc.reset_peak()
    value2 = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.allclose(value, value2, rtol=0, atol=0), "non-deterministic result"
    return value, seconds, peak / 2**20


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--db", type=int, default=59000)
    ap.add_argument("--bits", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-baseline", action="store_true", help="time hashlib_core only")
    args = ap.parse_args(argv)

    qc, dc, ql, dl = make_data(args.queries, args.db, args.bits, seed=args.seed)
    ns = [100, 500, 1000]
    print(
        f"bench_metrics: {args.queries} queries x {args.db} db x {args.bits} bits, 10 classes, seed {args.seed}\n"
        f"numpy {np.__version__}, python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} logical CPUs\n"
    )
    cases = [
        ("mAP (full ranking)", lambda: M.mean_average_precision(qc, dc, ql, dl), lambda: loop_map(qc, dc, ql, dl)),
        (
            "mAP@1000",
            lambda: M.mean_average_precision(qc, dc, ql, dl, topk=1000),
            lambda: loop_map(qc, dc, ql, dl, topk=1000),
        ),
        (
            "P@H<=2",
            lambda: M.precision_recall_within_radius(qc, dc, ql, dl, radius=2)[0],
            lambda: loop_p_at_h(qc, dc, ql, dl, 2),
        ),
        (
            "P@N, N=100/500/1000 (P@100 shown)",
            lambda: M.precision_at_n(qc, dc, ql, dl, ns),
            lambda: loop_p_at_n(qc, dc, ql, dl, ns),
        ),
        ("tie-aware mAP", lambda: M.tie_aware_average_precision(qc, dc, ql, dl), None),
        ("tie-aware mAP@1000", lambda: M.tie_aware_average_precision(qc, dc, ql, dl, topk=1000), None),
        ("PR curve by radius (P@r=2 shown)", lambda: M.pr_curve_by_radius(qc, dc, ql, dl)["precision"][2], None),
        ("evaluate() (mAP, TA-mAP, P/R@H<=2)", lambda: M.evaluate(qc, dc, ql, dl)["map"], None),
    ]
    header = f"| {'metric':<36} | {'value':>8} | {'ours s':>7} | {'loop s':>7} | {'speed-up':>8} | {'ours MiB':>8} | {'loop MiB':>8} | {'max abs diff':>12} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for name, ours, loop in cases:
        v, t, mem = measure(ours)
        shown = float(np.ravel(v)[0])
        if loop is None or args.skip_baseline:
            print(f"| {name:<36} | {shown:8.5f} | {t:7.2f} | {'-':>7} | {'-':>8} | {mem:8.1f} | {'-':>8} | {'-':>12} |")
            continue
        lv, lt, lmem = measure(loop)
        diff = float(np.max(np.abs(np.asarray(v) - np.asarray(lv))))
        if diff > 1e-9:
            raise SystemExit(f"{name}: hashlib_core {v} and loop {lv} disagree (|diff| = {diff:.3g})")
        print(
            f"| {name:<36} | {shown:8.5f} | {t:7.2f} | {lt:7.2f} | {lt / t:7.1f}x | {mem:8.1f} | {lmem:8.1f} | {diff:12.1e} |"
        )
    ev = M.evaluate(qc, dc, ql, dl)
    print(f"\nevaluate(): map={ev['map']:.6f} map_tie_aware={ev['map_tie_aware']:.6f} p_at_h2={ev['p_at_h2']:.6f}")


if __name__ == "__main__":
    main()
