"""Paper 003's metric readings on real codes: a short CVAE run and LSH / ITQ on the same pixels.

    python benches/probe_selfsup_readings.py [--epochs 2] [--bits 32] [--model cvae] [--size 32]
                                             [--seed 0] [--stability 1000]

``cifar10-selfsup`` (seed 0: 20,000 training images, 5,000 database, 5,000 queries), the paper's
input (grayscale, per-image min-max, ``--size`` px). The model trains ``--epochs`` epochs (Adam 1e-3,
batch 64, VAE loss with unit weights, one thread) -- a probe of the building blocks, not the
issue's tuned run. Codes: the training-mean threshold. Then every Table I reading
(:func:`hashlib_core.metrics_selfsup.table1_readings`), the Table II readings on the 10,000
evaluation codes, and the code stability under the robustness perturbations on the first
``--stability`` queries; LSH and ITQ (:mod:`hashlib_core.baselines.shallow`) fitted on the same
flattened training inputs give the unsupervised reference rows.
"""
from __future__ import annotations

import argparse
import json
import time
from types import SimpleNamespace

import numpy as np
import torch

from hashlib_core.baselines.shallow import ITQ, LSH
from hashlib_core.data import get_protocol
from hashlib_core.data.grayscale import grayscale_minmax_batch
from hashlib_core.losses.vae import VAECriterion
from hashlib_core.metrics_selfsup import collision_readings, table1_readings
from hashlib_core.models.selfsup import SELFSUP_MODELS
from hashlib_core.quantizers import MeanThresholdQuantizer
from hashlib_core.robustness import code_stability


def _means(model, x: torch.Tensor, batch: int = 500) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]).u for i in range(0, len(x), batch)]).numpy()


def _report(name, qc, dc, ql, dl, encode_fn, stab_images):
    t0 = time.perf_counter()
    readings = table1_readings(qc, dc, ql, dl)
    coll = collision_readings(np.concatenate([dc, qc]), np.concatenate([dl, ql]))
    stab = code_stability(encode_fn, stab_images)
    return {"method": name, "table1": readings, "table2": coll, "stability": stab,
            "metrics_s": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--bits", type=int, default=32)
    ap.add_argument("--model", default="cvae", choices=list(SELFSUP_MODELS))
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stability", type=int, default=1000)
    a = ap.parse_args()
    torch.set_num_threads(1)
    split = get_protocol("cifar10-selfsup", seed=a.seed)
    tr, db, qu = split.train.images, split.database.images, split.query.images
    dl, ql = split.database.labels, split.query.labels
    xt, xd, xq = (grayscale_minmax_batch(p, a.size) for p in (tr, db, qu))
    stab_images = qu[: a.stability]
    results = []

    torch.manual_seed(a.seed)
    model = SELFSUP_MODELS[a.model](bits=a.bits, input_size=a.size)
    crit, opt = VAECriterion(), torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(a.seed)
    t0 = time.perf_counter()
    for epoch in range(a.epochs):
        model.train()
        order = torch.randperm(len(xt), generator=gen)
        tot = {}
        for s in range(0, len(order) - 1, 64):
            idx = order[s:s + 64]
            opt.zero_grad(set_to_none=True)
            loss, terms = crit(model(xt[idx]), SimpleNamespace(inputs=xt[idx], labels=None, index=idx))
            loss.backward()
            opt.step()
            for k, v in terms.items():
                tot[k] = tot.get(k, 0.0) + v * len(idx)
        print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v / len(xt):.4f}" for k, v in tot.items()), flush=True)
    train_s = time.perf_counter() - t0
    quant = MeanThresholdQuantizer().fit(_means(model, xt))
    qc, dc = quant.encode(_means(model, xq)), quant.encode(_means(model, xd))
    enc = lambda im: quant.encode(_means(model, grayscale_minmax_batch(im, a.size)))
    r = _report(f"{a.model} {a.epochs} ep", qc, dc, ql, dl, enc, stab_images)
    r["train_s"] = round(train_s, 1)
    with torch.no_grad():
        model.eval()
        mse = ((model(xq[:1000]).recon - xq[:1000]) ** 2).flatten(1)
    r["recon_mse_per_pixel"] = float(mse.mean())
    r["recon_sse_per_image_mean_sd"] = [float(mse.sum(1).mean()), float(mse.sum(1).std())]
    results.append(r)

    flat = lambda x: x.reshape(len(x), -1).numpy().astype(np.float64)
    for cls in (LSH, ITQ):
        h = cls().fit(flat(xt), bits=a.bits, seed=a.seed)
        enc = lambda im, h=h: h.encode(flat(grayscale_minmax_batch(im, a.size)))
        results.append(_report(f"{cls.__name__} pixels", h.encode(flat(xq)), h.encode(flat(xd)), ql, dl,
                               enc, stab_images))
    print(json.dumps({"args": vars(a), "results": results}, indent=1))


if __name__ == "__main__":
    main()
