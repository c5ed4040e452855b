"""Throughput of DSHFMDF on the ImageNet-pretrained EfficientNet-Lite0 backbone (issue 4), on the CPU.

    python benches/bench_lite0.py [--sizes 32 64 96 128] [--bits 48] [--variant fused]
                                  [--train-batch 64] [--encode-batch 128] [--budget 3] [--threads N]
                                  [--channels-last]

For every input size: training images/s (forward + backward + Adam step, batch 64, train mode,
random inputs and labels, cross-entropy on the logits plus a stand-in hash term) and encoding
images/s (eval mode, ``torch.inference_mode``, batch 128, forward to ``sign(u)``).  Each
measurement runs one warm-up step, then steps until ``--budget`` seconds have passed (at least 2).
"img/CPU-s" divides by the process's CPU time instead of wall time: on a shared machine it
shows what the work costs when it gets the cores (it equals img/s on an idle machine with one
thread).  The last columns project, from the wall-clock rates, one epoch over 5,000 training
images and one pass over the 59,000-image CIFAR-10 database (the ``cifar10-dshfmdf`` protocol).
Whole run < 2 min on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from hashlib_core.models import count_parameters, dshfmdf, parameter_groups  # noqa: E402


def _timed(step, budget: float, min_steps: int = 2):
    """-> (steps, wall seconds, process CPU seconds) after one warm-up step."""
    step()  # warm-up (allocations, kernel selection)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        step()
        n += 1
        el = time.perf_counter() - t0
        if n >= min_steps and el >= budget:
            return n, el, time.process_time() - c0


def bench_size(size: int, args) -> dict:
    torch.manual_seed(0)
    model = dshfmdf(backbone="efficientnet_lite0", bits=args.bits, num_classes=10, variant=args.variant,
                    input_size=size, weights="imagenet")
    opt = torch.optim.Adam(parameter_groups(model, backbone_lr=1e-4, head_lr=1e-3))
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = torch.randn(args.train_batch, 3, size, size).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (args.train_batch,))

    def train_step():
        out = model(x)
        loss = F.cross_entropy(out.logits, y) + 0.01 * (out.u.sign().detach() - out.u).pow(2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    n, el, cpu = _timed(train_step, args.budget)
    train_ips, train_cpu = n * args.train_batch / el, n * args.train_batch / cpu

    xe = torch.randn(args.encode_batch, 3, size, size).contiguous(memory_format=fmt)

    def encode_step():
        with torch.inference_mode():
            model(xe).u.sign()

    model.eval()
    n, el, cpu = _timed(encode_step, args.budget)
    enc_ips, enc_cpu = n * args.encode_batch / el, n * args.encode_batch / cpu
    return dict(size=size, params=count_parameters(model), train_ips=train_ips, enc_ips=enc_ips,
                train_cpu=train_cpu, enc_cpu=enc_cpu)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 96, 128])
    ap.add_argument("--bits", type=int, default=48)
    ap.add_argument("--variant", default="fused")
    ap.add_argument("--train-batch", type=int, default=64)
    ap.add_argument("--encode-batch", type=int, default=128)
    ap.add_argument("--budget", type=float, default=3.0, help="seconds per measurement (after 1 warm-up step)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    ap.add_argument("--channels-last", action="store_true", help="model and inputs in channels_last (NHWC) memory format")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"bench_lite0: DSHFMDF ({args.variant}, {args.bits} bits, 10 classes) on EfficientNet-Lite0 (ImageNet weights)")
    print(f"torch {torch.__version__}, python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}")
    print(f"train: batch {args.train_batch}, forward+backward+Adam; encode: batch {args.encode_batch}, inference_mode; "
          f"memory format {'channels_last' if args.channels_last else 'NCHW'}; {args.budget:g} s per measurement\n")
    print("| input px | params    | train img/s | encode img/s | train img/CPU-s | encode img/CPU-s | epoch of 5,000 (s) | encode 59,000 (s) |")
    print("|----------|-----------|-------------|--------------|-----------------|------------------|--------------------|-------------------|")
    t0 = time.perf_counter()
    for s in args.sizes:
        r = bench_size(s, args)
        print(f"| {s:8d} | {r['params']:9,d} | {r['train_ips']:11.1f} | {r['enc_ips']:12.1f} | "
              f"{r['train_cpu']:15.1f} | {r['enc_cpu']:16.1f} | "
              f"{5000 / r['train_ips']:18.0f} | {59000 / r['enc_ips']:17.0f} |", flush=True)
    print(f"\ntotal bench time {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
