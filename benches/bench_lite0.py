"""Throughput of DSHFMDF on the ImageNet-pretrained EfficientNet-Lite0 backbone (issue 4), on the CPU.

    python benches/bench_lite0.py [--sizes 32 64 96 128] [--bits 48] [--variant fused]
                                  [--train-batch 64] [--encode-batch 128] [--budget 3] [--threads N]
                                  [--channels-last] [--frozen [--ops]]

For every input size: training images/s (forward + backward + Adam step, batch 64, train mode,
random inputs and labels, cross-entropy on the logits plus a stand-in hash term) and encoding
images/s (eval mode, ``torch.inference_mode``, batch 128, forward to ``sign(u)``).  Each
measurement runs one warm-up step, then steps until ``--budget`` seconds have passed (at least 2).
"img/CPU-s" divides by the process's CPU time instead of wall time: on a shared machine it
shows what the work costs when it gets the cores (it equals img/s on an idle machine with one
thread).  The last columns project, from the wall-clock rates, one epoch over 5,000 training
images and one pass over the 59,000-image CIFAR-10 database (the ``cifar10-dshfmdf`` protocol).
Whole run < 2 min on 2 cores.

``--frozen`` measures the cpu profile's recipe instead (trunk frozen, ``hashlib_core.trunk``): the
one-off trunk pass (eval mode, channels-last, batch 64: the cost of caching the taps, paid once for
all runs) and the head alone on taps of the right shapes: training images/s (forward + backward +
Adam on the head) and encoding images/s, beside the head with the trunk's tail (head conv + BN,
``train.tune_tail``) trained from the conv5 tap; the projections then are the trunk pass over all
60,000 CIFAR-10 images, one head epoch over 5,000, a whole run of ``--epochs`` epochs over the
5,000 (``cifar10-dshfmdf``) or 50,000 (``cifar10-dshc``) training images, and the head over the
59,000-image database.

``--frozen --ops`` adds where the head's training step spends its time: torch.profiler's
operators by self CPU time over ``--budget`` seconds of steps, as shares of the total (which of
them no exact rewrite can drop: issue 17's regeneration cost, benches/README.md).
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
from hashlib_core.trunk import HeadOnly  # noqa: E402


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


def _rates(step, batch: int, budget: float):
    """-> (images per wall second, images per process CPU second) of ``step`` on ``batch`` images."""
    n, el, cpu = _timed(step, budget)
    return n * batch / el, n * batch / cpu


def _train_step(module, opt, inputs, y):
    """One forward + backward + Adam step of the stand-in loss (cross-entropy on the logits plus a
    quantization term on u), as a closure for :func:`_timed`."""
    def step():
        out = module(inputs)
        loss = F.cross_entropy(out.logits, y) + 0.01 * (out.u.sign().detach() - out.u).pow(2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def _encode_step(module, inputs):
    def step():
        with torch.inference_mode():
            module(inputs).u.sign()
    return step


def bench_size(size: int, args) -> dict:
    torch.manual_seed(0)
    model = dshfmdf(backbone="efficientnet_lite0", bits=args.bits, num_classes=10, variant=args.variant,
                    input_size=size, weights="imagenet")
    opt = torch.optim.Adam(parameter_groups(model, backbone_lr=1e-4, head_lr=1e-3))
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = torch.randn(args.train_batch, 3, size, size).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (args.train_batch,))
    model.train()
    train_ips, train_cpu = _rates(_train_step(model, opt, x, y), args.train_batch, args.budget)
    xe = torch.randn(args.encode_batch, 3, size, size).contiguous(memory_format=fmt)
    model.eval()
    enc_ips, enc_cpu = _rates(_encode_step(model, xe), args.encode_batch, args.budget)
    return dict(size=size, params=count_parameters(model), train_ips=train_ips, enc_ips=enc_ips,
                train_cpu=train_cpu, enc_cpu=enc_cpu)


def bench_frozen(size: int, args) -> dict:
    torch.manual_seed(0)
    model = dshfmdf(backbone="efficientnet_lite0", bits=args.bits, num_classes=10, variant=args.variant,
                    input_size=size, weights="imagenet").eval()
    trunk = model.backbone.to(memory_format=torch.channels_last)
    x = torch.randn(64, 3, size, size).contiguous(memory_format=torch.channels_last)

    def trunk_step():
        with torch.inference_mode():
            trunk(x)

    trunk_ips, trunk_cpu = _rates(trunk_step, 64, args.budget)
    with torch.no_grad():  # not inference_mode: the head's backward needs ordinary tensors
        taps = {k: v.contiguous() for k, v in trunk(torch.randn(args.train_batch, 3, size, size)).items()}
    head = model.head.train()
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    y = torch.randint(0, 10, (args.train_batch,))
    head_ips, head_cpu = _rates(_train_step(head, opt, taps, y), args.train_batch, args.budget)
    ops = _op_shares(_train_step(head, opt, taps, y), args.budget) if args.ops else None
    head.eval()
    enc_ips, _ = _rates(_encode_step(head, taps), args.train_batch, args.budget)
    # train.tune_tail: the trunk's head conv + BN train too, fc1 recomputed from the conv5 tap
    model.backbone.requires_grad_(False)
    for m in model.backbone.tail_modules():
        m.requires_grad_(True)
    tuned = HeadOnly(model, tune_tail=True).train()
    opt = torch.optim.Adam(parameter_groups(tuned, backbone_lr=1e-4, head_lr=1e-3))
    no_fc1 = {k: v for k, v in taps.items() if k != "fc1"}
    tail_ips, _ = _rates(_train_step(tuned, opt, no_fc1, y), args.train_batch, args.budget)
    per_image = sum(v[0].numel() for v in taps.values())
    return dict(size=size, trunk_ips=trunk_ips, trunk_cpu=trunk_cpu, head_ips=head_ips, head_cpu=head_cpu,
                enc_ips=enc_ips, tail_ips=tail_ips, mib=60000 * per_image * 2 / 2**20, ops=ops)


def _op_shares(step, budget: float, top: int = 8) -> list[tuple[str, float, float]]:
    """``[(operator, self CPU ms per step, share of the step's self CPU time)]`` of ``step``,
    the ``top`` costliest, from torch.profiler over the steps of :func:`_timed` (its warm-up step
    included: ``step`` has run before, so it is an ordinary step here)."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        n = _timed(step, budget)[0] + 1
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: -e.self_cpu_time_total)
    return [(e.key, e.self_cpu_time_total / n / 1e3, e.self_cpu_time_total / total) for e in events[:top]]


def main_frozen(args) -> int:
    e = args.epochs
    print("| input px | trunk img/s | trunk img/CPU-s | head train img/s | head train img/CPU-s | head encode img/s "
          "| head+tail train img/s | trunk 60,000 (s) | head epoch 5,000 (s) | head+tail epoch 5,000 (s) "
          f"| run of {e} epochs x 5,000, head / head+tail (min) | run of {e} epochs x 50,000, head / head+tail (min) "
          "| head encode 59,000 (s) | taps of 60,000 (MiB, fp16) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    t0 = time.perf_counter()
    for s in args.sizes:
        r = bench_frozen(s, args)
        print(f"| {s} | {r['trunk_ips']:.1f} | {r['trunk_cpu']:.1f} | {r['head_ips']:.1f} | {r['head_cpu']:.1f} | "
              f"{r['enc_ips']:.1f} | {r['tail_ips']:.1f} | {60000 / r['trunk_ips']:.0f} | {5000 / r['head_ips']:.1f} | "
              f"{5000 / r['tail_ips']:.1f} | {e * 5000 / r['head_ips'] / 60:.1f} / {e * 5000 / r['tail_ips'] / 60:.1f} | "
              f"{e * 50000 / r['head_ips'] / 60:.0f} / {e * 50000 / r['tail_ips'] / 60:.0f} | "
              f"{59000 / r['enc_ips']:.1f} | {r['mib']:.0f} |", flush=True)
        if r["ops"]:
            print(f"\n{s} px, head training step (batch {args.train_batch}): operators by self CPU time\n")
            print("| operator | ms / step | share |\n|---|---:|---:|")
            for name, ms, share in r["ops"]:
                print(f"| `{name}` | {ms:.1f} | {100 * share:.0f} % |")
            print(flush=True)
    print(f"\ntotal bench time {time.perf_counter() - t0:.0f} s")
    return 0


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
    ap.add_argument("--frozen", action="store_true", help="the frozen-trunk recipe: trunk pass + head alone")
    ap.add_argument("--epochs", type=int, default=30, help="--frozen: epochs of the projected per-run cost")
    ap.add_argument("--ops", action="store_true", help="--frozen: the head training step's costliest operators")
    args = ap.parse_args(argv)
    if args.ops and not args.frozen:
        ap.error("--ops profiles the frozen-trunk head: use it with --frozen")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.frozen:
        print(f"bench_lite0 --frozen: trunk pass and DSHFMDF head ({args.variant}, {args.bits} bits) alone; "
              f"torch {torch.__version__}, torch threads {torch.get_num_threads()}\n")
        return main_frozen(args)

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
