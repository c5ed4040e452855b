"""Hamming search and evaluation side by side with faiss, in one run, one thread (issue 17).

    python benches/bench_search.py [--quick] [--big] [--seed 0]

* top-k (k = 100 and 1,000) at 48 and 64 bits on 59,000 and 1,000,000 uniformly random codes:
  ``hashlib_core.search.HammingSearcher`` (the engine behind ``search.topk_search``) against faiss
  ``IndexBinaryFlat`` with its default heap selection and with ``use_heap = False``; at 59,000
  codes also the pre-issue-17 implementation (int64 keys + ``argpartition``);
* radius r = 0, 1, 2 on 1,000,000 codes (queries are database codes with one bit flipped, so
  every query has a neighbour): ours against ``IndexBinaryFlat``, ``IndexBinaryMultiHash``
  (``nhash = r + 1``) and ``IndexBinaryHash`` (24-bit prefix, ``nflip = r``);
* ``metrics.evaluate`` at 1,000 x 59,000 x 48 bits and 10,000 x 50,000 x 60 bits (the DSHC
  protocol's size) on benches/bench_metrics.py's noisy class codes: time and tracemalloc peak,
  against the pre-issue-17 implementation (copied below), whose results must be identical.

Every comparison is checked: identical distance lists for top-k, identical lists for radius,
identical evaluate values; the script exits with an error otherwise.  Throughput is queries per
second of *CPU time of this thread* (``time.thread_time``, best of 3): the machine is shared, and
wall-clock time there measures the neighbours; faiss runs with ``omp_set_num_threads(1)``, i.e.
in this thread.  Index construction is not timed (for either side).

``--quick``: fewer queries and no 10,000 x 50,000 evaluate (about a minute).  ``--big``: also
top-k at 10,000,000 codes (about 1 GB of memory).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # single thread everywhere, set before numpy / faiss load

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_metrics import make_data  # noqa: E402
from hashlib_core import codes as C  # noqa: E402
from hashlib_core import metrics as M  # noqa: E402
from hashlib_core.search import HammingSearcher  # noqa: E402


# --------------------------------------------------------------------------- helpers
def cpu_seconds(fn, repeat=3):
    """Best-of-``repeat`` CPU time of this thread, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.thread_time()
        out = fn()
        best = min(best, time.thread_time() - t0)
    return best, out


def random_packed(rng, n, n_bits):
    nb = (n_bits + 7) // 8
    p = rng.integers(0, 256, size=(n, nb), dtype=np.uint8)
    pad = 8 * nb - n_bits
    if pad:
        p[:, -1] &= np.uint8((0xFF << pad) & 0xFF)
    return p


def fail(msg):
    raise SystemExit(f"bench_search: MISMATCH: {msg}")


# --------------------------------------------------------------------------- pre-issue-17 code
def old_topk_search(q, d, k):
    """codes.topk_search before issue 17 (int64 composite keys, argpartition + argsort)."""
    n = d.shape[0]
    k = min(int(k), n)
    idx_out = np.empty((q.shape[0], k), dtype=np.int64)
    dist_out = np.empty((q.shape[0], k), dtype=np.uint16)
    for start, dist in C.iter_hamming_batches(q, d):
        stop = start + dist.shape[0]
        key = dist.astype(np.int64) * n + np.arange(n, dtype=np.int64)
        part = np.argpartition(key, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(key, part, axis=1), axis=1)
        idx = np.take_along_axis(part, order, axis=1)
        idx_out[start:stop] = idx
        dist_out[start:stop] = np.take_along_axis(dist, idx, axis=1)
    return idx_out, dist_out


def old_evaluate(qc, dc, ql, dl, topk=None, radius=2):
    """metrics.evaluate before issue 17: uint16 distances, stable argsort + take_along_axis, bincounts."""
    prob = M._Problem(qc, dc, ql, dl, None)
    k = M._check_topk(topk, prob.N)
    H = M._harmonic_table(prob.N)
    psum, rsum = np.zeros(prob.L + 1), np.zeros(prob.L + 1)
    ap_all, ta_all = np.empty(prob.Q), np.empty(prob.Q)
    for start, dist, rel in prob.batches():
        stop = start + dist.shape[0]
        b = dist.shape[0]
        order = np.argsort(dist, axis=1, kind="stable")
        srel = np.take_along_axis(rel, order[:, :k] if k < order.shape[1] else order, axis=1)
        rows, cols = np.nonzero(srel)
        cnt = np.bincount(rows, minlength=b)
        starts = np.cumsum(cnt) - cnt
        rank_among_rel = np.arange(rows.size, dtype=np.float64) - np.repeat(starts, cnt) + 1.0
        sums = np.bincount(rows, weights=rank_among_rel / (cols + 1.0), minlength=b)
        ap_all[start:stop] = np.divide(sums, cnt, out=np.zeros(b), where=cnt > 0)
        key = dist.astype(np.intp) + (np.arange(b, dtype=np.intp) * (prob.L + 1))[:, None]
        n = np.bincount(key.ravel(), minlength=b * (prob.L + 1)).reshape(b, prob.L + 1)
        r = np.bincount(key[rel], minlength=b * (prob.L + 1)).reshape(b, prob.L + 1)
        ta_all[start:stop] = M._tie_aware_ap(n, r, k, H)
        prec, rec = M._radius_pr(n, r)
        psum += prec.sum(axis=0)
        rsum += rec.sum(axis=0)
    pc, rc = psum / prob.Q, rsum / prob.Q
    return {"map": float(ap_all.mean()), "map_tie_aware": float(ta_all.mean()), "p_at_h2": float(pc[radius]),
            "precision_by_radius": pc, "recall_by_radius": rc}


# --------------------------------------------------------------------------- benches
def bench_topk(faiss, rng, sizes, bits_list, ks, n_queries, rows):
    for n in sizes:
        for n_bits in bits_list:
            db = random_packed(rng, n, n_bits)
            qp = random_packed(rng, n_queries[n], n_bits)
            q = C.unpack(qp, n_bits)
            ours = HammingSearcher.from_packed(db, n_bits)
            index = faiss.IndexBinaryFlat(8 * db.shape[1])
            index.add(db)
            d_pm = C.unpack(db, n_bits) if n <= 100_000 else None
            for k in ks:
                t_ours, (oi, od) = cpu_seconds(lambda: ours.topk(q, k))
                rec = {"work": f"top-{k}", "n": n, "bits": n_bits, "ours": len(q) / t_ours}
                for heap in (True, False):
                    index.use_heap = heap
                    t_f, (fd, fi) = cpu_seconds(lambda: index.search(qp, k))
                    if not np.array_equal(np.sort(fd, axis=1).astype(np.uint16), od):
                        fail(f"top-{k} distances differ from faiss (n={n}, bits={n_bits}, use_heap={heap})")
                    rec["faiss heap" if heap else "faiss no-heap"] = len(q) / t_f
                if d_pm is not None:
                    t_old, (ri, rd) = cpu_seconds(lambda: old_topk_search(q, d_pm, k), repeat=1)
                    if not (np.array_equal(ri, oi) and np.array_equal(rd, od)):
                        fail(f"top-{k} differs from the pre-issue-17 implementation (n={n}, bits={n_bits})")
                    rec["old"] = len(q) / t_old
                rows.append(rec)
                print(f"  {rec}", flush=True)


def bench_radius(faiss, rng, n, n_bits, radii, n_queries, rows):
    from hashlib_core.search_faiss import FaissBinarySearcher

    db = random_packed(rng, n, n_bits)
    picks = rng.integers(0, n, n_queries)
    q = C.unpack(db[picks], n_bits)
    flip = rng.integers(0, n_bits, n_queries)
    q[np.arange(n_queries), flip] *= -1  # one bit away from a database code
    qp = C.pack(q)
    ours = HammingSearcher.from_packed(db, n_bits)
    fs = FaissBinarySearcher(db, n_bits)
    for r in radii:
        t_ours, (oi, od) = cpu_seconds(lambda: ours.radius(q, r, return_distances=True))
        rec = {"work": f"radius r={r}", "n": n, "bits": n_bits, "ours": n_queries / t_ours,
               "hits/query": sum(a.size for a in oi) / n_queries}
        for name in ("flat", "multihash", "hash"):
            ix = fs.radius_index(r, name)
            t_f, (lims, D, I) = cpu_seconds(lambda: ix.range_search(qp, r + 1))  # faiss: strictly < r + 1
            fi, fd = fs.radius(qp, r, name)
            if any(not np.array_equal(a, b) for a, b in zip(fi, oi)) or any(
                not np.array_equal(a, b) for a, b in zip(fd, od)
            ):
                fail(f"radius {r}: faiss {name} lists differ")
            rec[f"faiss {name}"] = n_queries / t_f
        rows.append(rec)
        print(f"  {rec}", flush=True)


def bench_evaluate(cases, rows):
    for n_q, n_db, n_bits in cases:
        qc, dc, ql, dl = make_data(n_q, n_db, n_bits, seed=0)
        t_new, new = cpu_seconds(lambda: M.evaluate(qc, dc, ql, dl), repeat=2)
        tracemalloc.start()
        M.evaluate(qc, dc, ql, dl)
        peak_new = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        t_old, old = cpu_seconds(lambda: old_evaluate(qc, dc, ql, dl), repeat=1)
        tracemalloc.start()
        old_evaluate(qc, dc, ql, dl)
        peak_old = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        for key in ("map", "map_tie_aware", "p_at_h2"):
            if new[key] != old[key]:
                fail(f"evaluate {key}: {new[key]!r} != {old[key]!r}")
        for key in ("precision_by_radius", "recall_by_radius"):
            if not np.array_equal(new[key], old[key]):
                fail(f"evaluate {key} differs")
        rec = {"work": "evaluate", "size": f"{n_q:,} x {n_db:,} x {n_bits}", "ours s": t_new, "old s": t_old,
               "ours MiB": peak_new, "old MiB": peak_old, "map": new["map"]}
        rows.append(rec)
        print(f"  {rec}", flush=True)


# --------------------------------------------------------------------------- report
def markdown(rows_topk, rows_radius, rows_eval):
    out = []
    out.append("| work | codes | bits | ours q/s | faiss Flat (heap) q/s | faiss Flat (use_heap=False) q/s | "
               "ours / best Flat | pre-issue-17 q/s |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows_topk:
        best = max(r["faiss heap"], r["faiss no-heap"])
        old = f"{r['old']:,.0f}" if "old" in r else "-"
        out.append(f"| {r['work']} | {r['n']:,} | {r['bits']} | {r['ours']:,.0f} | {r['faiss heap']:,.0f} | "
                   f"{r['faiss no-heap']:,.0f} | {r['ours'] / best:.2f} | {old} |")
    if rows_radius:
        out.append("")
        out.append("| work | codes | bits | hits/query | ours q/s | faiss Flat q/s | faiss MultiHash q/s | "
                   "faiss Hash q/s | ours / Flat | ours / MultiHash |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rows_radius:
            out.append(f"| {r['work']} | {r['n']:,} | {r['bits']} | {r['hits/query']:.2f} | {r['ours']:,.0f} | "
                       f"{r['faiss flat']:,.0f} | {r['faiss multihash']:,.0f} | {r['faiss hash']:,.0f} | "
                       f"{r['ours'] / r['faiss flat']:.2f} | {r['ours'] / r['faiss multihash']:.3f} |")
    if rows_eval:
        out.append("")
        out.append("| work | Q x N x bits | ours s | pre-issue-17 s | speed-up | ours peak MiB | pre-issue-17 peak MiB | mAP |")
        out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rows_eval:
            out.append(f"| evaluate | {r['size']} | {r['ours s']:.3f} | {r['old s']:.3f} | "
                       f"{r['old s'] / r['ours s']:.2f}x | {r['ours MiB']:.1f} | {r['old MiB']:.1f} | {r['map']:.5f} |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer queries, no DSHC-size evaluate")
    ap.add_argument("--big", action="store_true", help="also top-k on 10,000,000 codes")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        import faiss
    except ImportError:
        raise SystemExit("bench_search needs faiss: pip install faiss-cpu (extra 'search')")
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench_search{' --quick' if args.quick else ''}{' --big' if args.big else ''}, seed {args.seed}\n"
          f"numpy {np.__version__}, faiss {faiss.__version__}, python {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} logical CPUs, load average {load:.1f}; 1 thread\n")
    nq = {59_000: 500 if args.quick else 2000, 1_000_000: 30 if args.quick else 200, 10_000_000: 10}
    rows_topk, rows_radius, rows_eval = [], [], []
    sizes = [59_000, 1_000_000] + ([10_000_000] if args.big else [])
    print("top-k:")
    bench_topk(faiss, rng, sizes, [48, 64], [100, 1000], nq, rows_topk)
    print("radius:")
    bench_radius(faiss, rng, 1_000_000, 64, [0, 1, 2], 100 if args.quick else 500, rows_radius)
    print("evaluate:")
    cases = [(1000, 59000, 48)] + ([] if args.quick else [(10000, 50000, 60)])
    bench_evaluate(cases, rows_eval)
    print()
    print(markdown(rows_topk, rows_radius, rows_eval))


if __name__ == "__main__":
    main()
