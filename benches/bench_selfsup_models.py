"""Cost of paper 003's networks (VAE, CVAE, CSVAE, VTE) on the CPU.

    python benches/bench_selfsup_models.py [--sizes 32 64] [--threads 1 2] [--bits 64] [--batch 64]
                                           [--steps 5] [--models vae cvae csvae vte]

For every model, input size and thread count: parameter count and the wall time of one training
step without the optimizer (train mode, forward + VAE loss + backward, batch 64 of random grayscale
inputs in [0, 1]); median over ``--steps`` steps after one warm-up step. The CPU-s column is the
process's CPU time per step (on a shared machine: what a step costs when it gets the cores). The
last column projects one epoch over the 20,000 training images of ``cifar10-selfsup``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from types import SimpleNamespace

import torch

from hashlib_core.losses.vae import VAECriterion
from hashlib_core.models.selfsup import SELFSUP_MODELS


def step_times(model, x, steps: int):
    crit = VAECriterion()
    batch = SimpleNamespace(inputs=x, labels=None, index=None)
    model.train()
    wall, cpu = [], []
    for i in range(steps + 1):
        model.zero_grad(set_to_none=True)
        t0, c0 = time.perf_counter(), time.process_time()
        loss, _ = crit(model(x), batch)
        loss.backward()
        if i:  # the first step is a warm-up
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--bits", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--models", nargs="+", default=list(SELFSUP_MODELS), choices=list(SELFSUP_MODELS))
    a = ap.parse_args()
    print(f"bench_selfsup_models: bits {a.bits}, batch {a.batch}, median of {a.steps} steps; "
          f"torch {torch.__version__}, {os.cpu_count()} logical CPUs, load avg {os.getloadavg()[0]:.2f}")
    print("| model | px | params | threads | s/step | CPU-s/step | img/s | epoch of 20,000 (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for size in a.sizes:
        g = torch.Generator().manual_seed(0)
        x = torch.rand(a.batch, 1, size, size, generator=g)
        for name in a.models:
            torch.manual_seed(0)
            model = SELFSUP_MODELS[name](bits=a.bits, input_size=size)
            n_par = sum(p.numel() for p in model.parameters())
            for th in a.threads:
                torch.set_num_threads(th)
                wall, cpu = step_times(model, x, a.steps)
                print(f"| {name} | {size} | {n_par:,} | {th} | {wall:.3f} | {cpu:.3f} | {a.batch / wall:,.0f} | "
                      f"{20000 / a.batch * wall:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
