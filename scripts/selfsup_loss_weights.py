"""Choose the KL weight of paper 003's VAE objective for the cpu profile on a validation split (issue 15).

Paper 003 (Kim et al.) §III trains its models as VAEs ("minimize the difference between x and x̂")
and gives no loss weights. Our objective (:mod:`hashlib_core.losses.vae`) is
``recon_weight · Σ_pixels (x̂ − x)² + kl_weight · KL``, per image, averaged over the batch; only the
ratio of the two weights matters to the optimum, so ``recon_weight`` stays 1 and ``kl_weight`` is
searched. Every candidate is a run of the one runner on ``cifar10-selfsup:val`` (4,000 of the
20,000 training images held out as queries, the other 16,000 train and are the database; the
protocol's queries and database are never touched), with the cpu profile's settings for these
models (32 px, its epochs, one thread), for each model of ``--models`` and each seed of ``--seeds``.
The criterion is the validation mAP (whole ranking, the main reading), pooled over the models; the
reconstruction MSE of the held-out images is reported beside it. The chosen weight is compared
with every other candidate by :func:`hashlib_core.claims.ordering_claim` (paired by seed, pooled over
the models). Writes docs/selfsup_loss_weights.md (+ .json with every run).

    python scripts/selfsup_loss_weights.py [--seeds 0 1 2] [--models vae cvae] [--grid 0.01 0.1 1]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from hashlib_core.claims import claims_frame, ordering_claim  # noqa: E402
from hashlib_core.papers.p003_selfsup import configs  # noqa: E402
from hashlib_core.paths import repo_root  # noqa: E402
from hashlib_core.runner import run  # noqa: E402

PROTOCOL = "cifar10-selfsup:val"
GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--models", nargs="+", default=["vae", "cvae"])
    ap.add_argument("--grid", type=float, nargs="+", default=list(GRID), help="kl_weight candidates")
    ap.add_argument("--bits", type=int, default=32)
    ap.add_argument("--out", default=str(repo_root() / "docs" / "selfsup_loss_weights.md"))
    args = ap.parse_args()
    out = Path(args.out)
    old = pd.read_json(out.with_suffix(".json")) if out.with_suffix(".json").is_file() else pd.DataFrame()
    rows = []
    for model in args.models:
        for kl in args.grid:
            for config in configs("cpu", model, [args.bits], args.seeds, protocol=PROTOCOL, num_threads=1,
                                  loss={"kl_weight": float(kl)}):
                t0 = time.time()
                r = run(config, progress=False, verbose=False)
                m = r.metrics
                rows.append({"model": model, "kl_weight": float(kl), "seed": config.seed, "bits": args.bits,
                             "map": m["map"], "precision_shortest": m["main.precision"],
                             "recon_mse": m.get("recon.mse_mean"), "collision_pct": m["collision.items_sharing"],
                             "stability_jpeg75": m.get("stability.jpeg75"), "epochs": config.train["epochs"],
                             "train_s": r.timings.get("train_s"), "cached": r.cached, "wall_s": time.time() - t0})
                print(json.dumps(rows[-1]), flush=True)
    runs = pd.DataFrame(rows)
    if len(old):  # keep the runs of settings not run this time
        cols = ["model", "kl_weight", "seed", "bits"]
        keep = ~old.set_index(cols).index.isin(runs.set_index(cols).index)
        runs = pd.concat([old[keep], runs], ignore_index=True)
    runs = runs.sort_values(["model", "kl_weight", "seed"]).reset_index(drop=True)
    runs.to_json(out.with_suffix(".json"), orient="records", indent=1)
    runs = runs[runs.bits == args.bits]

    per_model = (runs.groupby(["model", "kl_weight"])
                 .agg(val_map=("map", "mean"), val_map_sd=("map", "std"), recon_mse=("recon_mse", "mean"),
                      collision_pct=("collision_pct", "mean"), seeds=("seed", "nunique"),
                      train_s=("train_s", "mean")).round(4).reset_index())
    pooled = (runs.groupby(["kl_weight", "seed"])["map"].mean().groupby("kl_weight")
              .agg(["mean", "std", "count"]).rename(columns={"mean": "val_map_pooled", "std": "sd_over_seeds",
                                                             "count": "seeds"}))
    best = float(pooled["val_map_pooled"].idxmax())
    # claims pooled over the models: the pair cells are (model, seed)
    judged = runs.assign(arm=runs.kl_weight.map(lambda w: f"kl={w:g}"))
    claims = [ordering_claim(judged, "arm", [f"kl={best:g}", f"kl={w:g}"], f"kl_weight {best:g} > {w:g} (val mAP)",
                             pair_on=("model", "seed"))
              for w in sorted(pooled.index) if w != best]
    cf = claims_frame(claims)
    epochs = int(runs.epochs.iloc[0])
    text = ["# KL weight of paper 003's VAE objective (validation split)", "",
            f"Generated by `python scripts/selfsup_loss_weights.py` — models {sorted(map(str, runs.model.unique()))}, "
            f"{args.bits} bits, `{PROTOCOL}` (4,000 of the 20,000 training images held out as queries, the other "
            f"16,000 train and form the database; never the protocol's queries), the cpu profile's settings for "
            f"these models ({epochs} epochs, 32 px, batch 64, Adam 1e-3, one thread), recon_weight 1, "
            f"recon = sum of squared errors over the pixels. Criterion: validation mAP (whole ranking), pooled over "
            f"the models; seeds {sorted(int(s) for s in runs.seed.unique())}.", "",
            f"**Chosen: kl_weight = {best:g}** (highest pooled validation mAP).", "",
            "## Per model", "", per_model.to_markdown(index=False), "",
            "## Pooled over the models", "", pooled.round(4).reset_index().to_markdown(index=False), "",
            "## Claims (hashlib_core.claims, paired by (model, seed))", "",
            cf[[c for c in ("claim", "verdict", "means", "differences", "reason") if c in cf.columns]]
            .to_markdown(index=False), ""]
    out.write_text("\n".join(text))
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
