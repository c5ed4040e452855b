"""Does the C allocator slow the Lite0 head's training on the cached trunk taps? One cpu-recipe
DSHFMDF run's training loop (frozen EfficientNet-Lite0 trunk read from the trunk cache, the head
trained for a few epochs), in fresh processes side by side: glibc's default malloc against the same
code with glibc's malloc settings pinned by environment variables. Per arm: training wall time,
CPU time in the kernel, minor page faults, and a digest of the trained weights (the settings must
not change a single float).

    HASHLIB_CACHE=... HASHLIB_DATA=... python benches/bench_allocator.py [--variant conv3-5]
        [--bits 48] [--epochs 3] [--repeats 2]

Needs the CIFAR-10 Lite0 trunk taps in the cache (a cpu run of notebook 01 or 04 makes them);
without them it says so and measures nothing, rather than making the 25-minute pass.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time

from hashlib_core.reproduce import ALLOCATOR_ENV  # the settings make reproduce / make lab use, and why


def _config(args):
    from hashlib_core.runner import make_config

    return make_config("cpu", "dshfmdf", "cifar10-dshfmdf", args.bits, args.seed, recipe="lite0",
                       model={"variant": args.variant}, train={"epochs": args.epochs})


def _trunk_cached(args) -> bool:
    from hashlib_core.methods import get_method
    from hashlib_core.paths import cache_root
    from hashlib_core.trunk import trunk_key

    config = _config(args)
    key = trunk_key(dict(config.model), config.input_size, config.num_threads, get_method(config.method).input_spec)
    return (cache_root() / "trunk" / key).is_dir()


def child(args) -> None:
    import torch

    from hashlib_core.data import get_protocol
    from hashlib_core.methods import get_method
    from hashlib_core.train import TrainSettings, fit, set_determinism
    from hashlib_core.trunk import frozen_trunk_parts

    config = _config(args)
    method = get_method(config.method)
    split = get_protocol(config.protocol, seed=config.seed, subset=config.subset)
    set_determinism(config.seed, config.num_threads)
    if args.flush_denormal:
        torch.set_flush_denormal(True)
    model = method.build_model(config, split)
    criterion = method.build_criterion(config, split)
    settings = TrainSettings(input_size=config.input_size, device=config.device,
                             num_threads=config.num_threads, **dict(config.train))
    model, train, _, _ = frozen_trunk_parts(model, split, config, settings.augment, progress=False,
                                            input_spec=method.input_spec, tune_tail=settings.tune_tail)
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    history = fit(model, criterion, train, settings, seed=config.seed, progress=False, input_spec=method.input_spec)
    t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
    print(json.dumps({"train_s": t1 - t0, "user_s": r1.ru_utime - r0.ru_utime, "sys_s": r1.ru_stime - r0.ru_stime,
                      "minor_faults": r1.ru_minflt - r0.ru_minflt, "images": len(train) * args.epochs,
                      "weights": digest.hexdigest()[:16], "last_loss": history[-1]["loss"],
                      "epoch_s": [round(r["seconds"], 1) for r in history]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", default="conv3-5", choices=["fused", "fc1", "conv3-5"])
    ap.add_argument("--bits", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--arms", nargs="+", default=["glibc default", "glibc pinned"],
                    choices=["glibc default", "glibc pinned", "flush denormals"],
                    help="'flush denormals' (torch.set_flush_denormal) is a numerical change, not an "
                         "allocator setting: its weights differ, and it is left out of the identity check")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--flush-denormal", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    if not _trunk_cached(args):  # `make bench` runs every bench: say why this one measures nothing
        print("bench_allocator: skipped, no CIFAR-10 Lite0 trunk taps in the cache ($HASHLIB_CACHE/trunk); "
              "a cpu run of notebook 01 or 04 makes them (a 25-minute pass this bench does not start)")
        return
    base = {k: v for k, v in os.environ.items() if k not in ALLOCATOR_ENV}
    arms = {"glibc default": (base, []), "glibc pinned": ({**base, **ALLOCATOR_ENV}, []),
            "flush denormals": (base, ["--flush-denormal"])}
    arms = {k: v for k, v in arms.items() if k in args.arms}
    cmd = [sys.executable, __file__, "--child", "--variant", args.variant, "--bits", str(args.bits),
           "--seed", str(args.seed), "--epochs", str(args.epochs)]
    rows = []
    for rep in range(args.repeats):  # alternate the arms so a change in the machine's load hits both
        for arm, (env, extra) in arms.items():
            out = subprocess.run(cmd + extra, env=env, capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"{arm}: the child failed:\n{out.stderr[-3000:]}")
            rows.append({"arm": arm, "repeat": rep, **json.loads(out.stdout.strip().splitlines()[-1])})
    print(f"bench_allocator: DSHFMDF {args.variant} {args.bits} bits, Lite0 recipe, {args.epochs} epochs, "
          f"{rows[0]['images']} training images per arm; pinned: "
          + " ".join(f"{k}={v}" for k, v in ALLOCATOR_ENV.items()))
    print("| arm | repeat | train s | img/s | user s | sys s | minor faults | weights sha256[:16] |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['arm']} | {r['repeat']} | {r['train_s']:.1f} | {r['images'] / r['train_s']:.0f} | "
              f"{r['user_s']:.1f} | {r['sys_s']:.1f} | {r['minor_faults']:,} | {r['weights']} |")
    for r in rows:
        print(f"{r['arm']}, repeat {r['repeat']}: seconds per epoch {r['epoch_s']}")
    same = len({r["weights"] for r in rows if r["arm"] != "flush denormals"}) == 1
    print("weights identical across the allocator arms and repeats:", same)
    if not same:
        sys.exit("the allocator settings changed the trained weights")


if __name__ == "__main__":
    main()
