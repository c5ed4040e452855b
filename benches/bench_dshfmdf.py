"""Speed of the cpu recipe for DSHFMDF (paper 000): training images/s, encoding images/s, the
projected wall time of one cifar10-dshfmdf run, and the step-time overhead of the fused hash head
over the bare VGG trunk.

    python benches/bench_dshfmdf.py [--profile cpu] [--steps 20] [--threads N]

Synthetic inputs of the profile's size (the speed does not depend on pixel values).
"""
from __future__ import annotations

import argparse
import platform
import time

import torch

from hashlib_core.losses import DSHFMDFLoss
from hashlib_core.models import dshfmdf
from hashlib_core.profiles import load_profile


def _time(fn, steps: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    prof = load_profile(args.profile)
    torch.set_num_threads(args.threads or prof.num_threads)
    torch.manual_seed(0)
    bs, size = prof.batch_size, prof.input_size
    model = dshfmdf("vgg19_bn", bits=48, num_classes=10, width=prof.width, input_size=size)
    loss = DSHFMDFLoss()
    opt = torch.optim.Adam(model.parameters(), lr=prof.lr)
    x = torch.randn(bs, 3, size, size)
    y = torch.randint(0, 10, (bs,))

    def train_step():
        model.train()
        total, _ = loss(model(x), y)
        opt.zero_grad()
        total.backward()
        opt.step()

    trunk_params = [p for m in model.backbone.pretrained_modules() for p in m.parameters()]
    trunk_opt = torch.optim.Adam(trunk_params, lr=prof.lr)

    def trunk_step():
        model.train()
        taps = model.backbone(x)
        out = sum(t.float().mean() for t in taps.values())
        trunk_opt.zero_grad()
        out.backward()
        trunk_opt.step()

    enc_bs = prof.batch_size * 8  # hashlib_core.runner.encode_batch_size
    xe = torch.randn(enc_bs, 3, size, size)

    @torch.no_grad()
    def encode_step():
        model.eval()
        model(xe)

    t_train = _time(train_step, args.steps)
    t_trunk = _time(trunk_step, args.steps)
    t_enc = _time(encode_step, max(3, args.steps // 4))
    train_ips = bs / t_train
    enc_ips = enc_bs / t_enc
    run_s = 5000 * prof.epochs / train_ips + 60000 / enc_ips
    print(f"bench_dshfmdf: profile {prof.name}, vgg19_bn width {prof.width}, {size} px, batch {bs}, "
          f"{torch.get_num_threads()} thread(s), torch {torch.__version__}, {platform.machine()}")
    print("| measure | value |\n| --- | --- |")
    print(f"| training images/s (fused model, J1+βJ2+γJ3) | {train_ips:.0f} |")
    print(f"| training images/s (bare trunk) | {bs / t_trunk:.0f} |")
    print(f"| fused-head step-time overhead over the trunk | {100 * (t_train / t_trunk - 1):.0f} % |")
    print(f"| encoding images/s | {enc_ips:.0f} |")
    print(f"| projected cifar10-dshfmdf run (5,000 × {prof.epochs} epochs + 60,000 encoded) | {run_s / 60:.1f} min |")


if __name__ == "__main__":
    main()
