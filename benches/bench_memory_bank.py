"""DPSH / DSDH with a memory of every training code, old and new, against a DSHC step (issue 17).

    python benches/bench_memory_bank.py [--quick] [--n-train 50000] [--bits 30] [--threads 1]

On synthetic features of the frozen-trunk shape (n_train x 1,280 float32, 10 classes, a
``torch.nn.Linear`` hash layer, Adam 1e-3, batch 64 -- the loop of ``hashlib_core.train.fit``):

* step time with a full memory (50,000 codes): the pre-issue-17 DPSH and DSDH criteria (copied
  in ``tests/test_memory_bank_speed.py``), the current ones, and DSHC's criterion (``DSHCLoss``
  on a Linear layer to the CPBC sub-classes) as the reference cost; forward + backward + Adam;
* one epoch from an empty memory (the filling epoch, the dearest one for the old ``get()``),
  old and new, whose final weights and codes must be bit-identical (the script exits with an
  error otherwise);
* the floor: the four (B, M) kernels the old and new likelihood both run and cannot drop without
  changing the bits -- ``u @ m.T``, ``softplus``, ``softplus_backward``, ``g @ m``.

Times are CPU seconds of this thread (``time.thread_time``; torch pinned to one thread, the
default): the machine is shared and wall time there measures the neighbours. With
``--threads N`` (N > 1) they are wall seconds (``time.perf_counter``), meaningful only on
otherwise idle cores. Step times are medians over interleaved rounds. ``--quick``: 10,000
training images and fewer steps (about 15 s).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_memory_bank_speed import OldDPSHCriterion, OldDSDHCriterion  # noqa: E402

from hashlib_core.baselines.deep import DPSHCriterion, DSDHCriterion  # noqa: E402
from hashlib_core.codebooks import build_construction  # noqa: E402
from hashlib_core.codes import sign_like  # noqa: E402
from hashlib_core.losses import DSHCLoss  # noqa: E402
from hashlib_core.train import Batch  # noqa: E402

DIM, CLASSES, BATCH = 1280, 10, 64
clock = time.thread_time


class _Out:
    def __init__(self, u=None, logits=None):
        self.u, self.logits = u, logits


class Runner:
    """One method's head, optimiser and criterion, stepped like ``train.fit``."""

    def __init__(self, name, criterion, out_dim, features, labels, seed=0):
        torch.manual_seed(seed)
        self.name, self.criterion = name, criterion
        self.head = torch.nn.Linear(features.shape[1], out_dim)
        self.opt = torch.optim.Adam(self.head.parameters(), lr=1e-3)
        self.x, self.y = features, labels
        self.logits = isinstance(criterion, DSHCLoss)

    def step(self, idx):
        z = self.head(self.x[idx])
        out = _Out(logits=z) if self.logits else _Out(u=z)
        loss, _ = self.criterion(out, Batch(None, self.y[idx], torch.as_tensor(idx)))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


def fill(criterion, codes, labels):
    """A full memory (every training code written once), as after the first epoch."""
    index = torch.arange(len(labels))
    memory = criterion.memory if hasattr(criterion, "memory") else criterion.pairs.memory
    memory.update(index, codes, labels)
    if hasattr(criterion, "B"):
        criterion.B = sign_like(codes).t().contiguous()
        criterion.Y = F.one_hot(labels, CLASSES).float().t().contiguous()
        if hasattr(criterion, "_recount"):
            criterion._recount()


def step_times(runners, n, steps, rounds, seed):
    """Median CPU ms per step of each runner over ``rounds`` interleaved blocks of ``steps``."""
    gen = torch.Generator().manual_seed(seed)
    per = {r.name: [] for r in runners}
    for _ in range(rounds):
        blocks = [torch.randperm(n, generator=gen)[:BATCH].numpy() for _ in range(steps)]
        for r in runners:
            r.step(blocks[0])  # warm
            t = clock()
            for idx in blocks:
                r.step(idx)
            per[r.name].append(1e3 * (clock() - t) / steps)
    return {k: statistics.median(v) for k, v in per.items()}


def epoch_time(runner, n, seed):
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    t = clock()
    for start in range(0, n, BATCH):
        idx = perm[start:start + BATCH]
        if len(idx) >= 2:
            runner.step(idx)
    return clock() - t


def floor_ms(n, bits, reps=10):
    """CPU ms of the four (B, M) kernels of the likelihood alone."""
    g = torch.Generator().manual_seed(1)
    u, m = torch.randn(BATCH, bits, generator=g), torch.randn(n, bits, generator=g)
    w = torch.empty(BATCH, n)
    sp, gw = torch.empty_like(w), torch.empty_like(w)
    g1 = torch.full((1,), 1.0 / w.numel()).expand_as(w)
    times = {"u @ m.T": [], "softplus": [], "softplus_backward": [], "g @ m": []}
    for _ in range(reps):
        t = clock(); torch.mm(u, m.t(), out=w); times["u @ m.T"].append(clock() - t)
        t = clock(); torch.ops.aten.softplus.out(w, 1.0, 20.0, out=sp); times["softplus"].append(clock() - t)
        t = clock()
        torch.ops.aten.softplus_backward.grad_input(g1, w, 1.0, 20.0, grad_input=gw)
        times["softplus_backward"].append(clock() - t)
        t = clock(); torch.mm(gw, m); times["g @ m"].append(clock() - t)
    return {k: 1e3 * statistics.median(v) for k, v in times.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n-train", type=int, default=None)
    ap.add_argument("--bits", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.n_train is not None and a.n_train < 2 * BATCH:
        ap.error(f"--n-train must be >= {2 * BATCH}, got {a.n_train}")
    if a.bits < 1:
        ap.error(f"--bits must be >= 1, got {a.bits}")
    n = a.n_train or (10_000 if a.quick else 50_000)
    steps, rounds = (20, 3) if a.quick else (40, 5)
    if a.threads < 1:
        ap.error(f"--threads must be >= 1, got {a.threads}")
    torch.set_num_threads(a.threads)
    global clock
    clock = time.thread_time if a.threads == 1 else time.perf_counter
    g = torch.Generator().manual_seed(a.seed)
    labels = torch.randint(0, CLASSES, (n,), generator=g)
    features = torch.randn(CLASSES, DIM, generator=g)[labels] + 2.0 * torch.randn(n, DIM, generator=g)
    construction = build_construction("cpbc", CLASSES, a.bits)
    n_sub = len(construction.subclass_class)
    print(f"bench_memory_bank: {n} training codes x {a.bits} bits, features {DIM}-d, batch {BATCH}, "
          f"{CLASSES} classes, torch {torch.__version__}, {a.threads} thread(s), python "
          f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} logical CPUs\n")

    def make(full):
        mk = {
            "DPSH old": lambda: (OldDPSHCriterion(n, a.bits), a.bits),
            "DPSH new": lambda: (DPSHCriterion(n, a.bits), a.bits),
            "DSDH old": lambda: (OldDSDHCriterion(n, a.bits, CLASSES), a.bits),
            "DSDH new": lambda: (DSDHCriterion(n, a.bits, CLASSES), a.bits),
            "DSHC": lambda: (DSHCLoss(construction), n_sub),
        }
        out = []
        codes = torch.randn(n, a.bits, generator=torch.Generator().manual_seed(a.seed + 1))
        for name, build in mk.items():
            crit, dim = build()
            if full and name != "DSHC":
                fill(crit, codes, labels)
            out.append(Runner(name, crit, dim, features, labels, seed=a.seed))
        return out

    steps_ms = step_times(make(full=True), n, steps, rounds, a.seed)
    epochs, heads = {}, {}
    for r in make(full=False):
        epochs[r.name] = epoch_time(r, n, a.seed)
        heads[r.name] = r.head
    for m in ("DPSH", "DSDH"):
        old, new = heads[f"{m} old"], heads[f"{m} new"]
        same = all(torch.equal(p.detach().view(torch.int32), q.detach().view(torch.int32))
                   for p, q in zip(old.parameters(), new.parameters()))
        with torch.no_grad():
            same = same and torch.equal(sign_like(old(features)), sign_like(new(features)))
        if not same:
            sys.exit(f"{m}: old and new weights / codes differ after one epoch")
    fl = floor_ms(n, a.bits)

    ref_step, ref_epoch = steps_ms["DSHC"], epochs["DSHC"]
    print(f"| criterion | ms / step (full memory) | × DSHC step | epoch s (from empty) | × DSHC epoch | speed-up vs old |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in ("DSHC", "DPSH old", "DPSH new", "DSDH old", "DSDH new"):
        old = name.replace("new", "old")
        speed = f"{steps_ms[old] / steps_ms[name]:.2f}× step, {epochs[old] / epochs[name]:.2f}× epoch" \
            if name.endswith("new") else "-"
        print(f"| {name} | {steps_ms[name]:.2f} | {steps_ms[name] / ref_step:.1f} | {epochs[name]:.2f} | "
              f"{epochs[name] / ref_epoch:.1f} | {speed} |")
    total = sum(fl.values())
    print(f"\nfloor (the (B, M) kernels both versions run, {BATCH} x {n}): "
          + ", ".join(f"{k} {v:.2f} ms" for k, v in fl.items())
          + f"; sum {total:.2f} ms = {total / ref_step:.1f}× a DSHC step")
    print("one epoch old vs new: weights and codes bit-identical (DPSH, DSDH)")
    for m in ("DPSH", "DSDH"):
        r = steps_ms[f"{m} new"] / ref_step
        print(f"goal {m} ≤ 3× DSHC (full-memory step): {'met' if r <= 3 else 'not met'} ({r:.1f}×)")


if __name__ == "__main__":
    main()
