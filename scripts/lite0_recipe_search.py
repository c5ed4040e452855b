"""Choose the cpu profile's EfficientNet-Lite recipe on a validation split (issues 4 and 16).

Every candidate is a run of the one runner on ``cifar10-dshfmdf:val``: 1,000 of the 5,000
training images as queries, the other 4,000 as training set and database
(:func:`hashlib_core.data.protocols.validation_split`). The protocol's 1,000 query images are
never touched, so the recipe is not tuned on the query set. Candidates start from the recipe in
``params/profiles/cpu.yaml`` (``recipes.lite0``) and change one thing each. The table goes to
``docs/lite0_recipe.md`` (runs are cached, so re-running only adds new candidates; rows of
candidates not run this time are kept from the file as they are).

The ladder candidates (``ladder-lite0`` / ``-lite1`` / ``-lite2``, issue 16) run the recipes
``lite0`` / ``lite1`` / ``lite2`` (the same head recipe on EfficientNet-Lite0 / 1 / 2 at 224 / 240
/ 260 px) for every seed of ``--seeds`` and report mean ± sd, the trunk pass (seconds per 1,000
images, from the run that computed the taps; a cached run keeps the timings it was computed with)
and the load average of the machine during the runs. Run them one trunk at a time:

    python scripts/lite0_recipe_search.py [--bits 48] [--seed 0] [--only recipe epochs-half]
    python scripts/lite0_recipe_search.py --only ladder-lite1 [--seeds 0 1 2]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from pathlib import Path

from hashlib_core.paths import repo_root
from hashlib_core.runner import make_config, run

# name -> (what changes, overrides of make_config: model / loss / train, and input size).
# Round 1 started from the recipe with flip augmentation; since flips gained nothing, the recipe
# dropped them (no flipped trunk pass needed) and round 2 starts from the recipe as it now is.
FLIP = {"augment": "trainer default"}  # key left out of the config: TrainSettings.augment = True
CANDIDATES = {
    # round 1 (with flip augmentation)
    "flip": ("flip augmentation (a second, mirrored view of the training images)", {"train": FLIP}),
    "flip+memory-pairs": ("flip; J1 against a memory of all training codes (DPSH-style; the paper profile's choice)",
                          {"loss": {"pairs": "memory"}, "train": FLIP}),
    "flip+lr-1e-4": ("flip; head learning rate 1e-4", {"train": {**FLIP, "lr": 1e-4}}),
    "flip+epochs-x2": ("flip; twice the epochs", {"train": {**FLIP, "epochs": "x2"}}),
    "flip+fc1-only": ("flip; variant fc1 (the head without the conv3-5 fusion branch)",
                      {"model": {"variant": "fc1"}, "train": FLIP}),
    # round 2 (the recipe: no augmentation)
    "recipe": ("the cpu profile's lite0 recipe", {}),
    "epochs-half": ("half the epochs", {"train": {"epochs": "half"}}),
    "memory-pairs-lr-1e-4": ("memory-bank J1 with head learning rate 1e-4",
                             {"loss": {"pairs": "memory"}, "train": {"lr": 1e-4}}),
    "finetune-128": ("whole network fine-tuned (trunk lr 1e-4, head 1e-3), 128 px, 3 epochs, CIFAR augmentation",
                     {"input_size": 128, "train": {"freeze_backbone": False, "epochs": 3, "backbone_lr": 1e-4,
                                                   "augment": True}}),
}


#: ladder candidate -> (recipe of params/profiles/cpu.yaml, display name)
LADDER = {
    "ladder-lite0": ("lite0", "EfficientNet-Lite0"),
    "ladder-lite1": ("lite1", "EfficientNet-Lite1"),
    "ladder-lite2": ("lite2", "EfficientNet-Lite2"),
}
#: below this many seconds a run's trunk_s is loading cached taps, not a pass (hashlib_core.plan)
PASS_MIN_S = 5.0
LADDER_HEADER = ("| candidate | trunk | px | val mAP, mean ± sd | per seed | trunk pass s / 1,000 images "
                 "| est. pass of 60,000 images | head training s / run | encode s / run | load avg (1 min) |")
TABLE_HEADER = "| candidate | change | val mAP | val tie-aware mAP | px | trunk | augment | epochs | head lr | training s |"


BENCH_HEADER = "| trunk | px | images timed | s / 1,000 images | est. pass of 60,000 images | load avg (1 min) |"


def _bench_rows(images: int, rounds: int) -> dict:
    """Time the frozen trunk of each ladder recipe on the same ``images`` CIFAR-10 training images,
    interleaved over ``rounds`` so every trunk sees the same machine load; as the trunk cache does it
    (batches of 64, channels-last, ImageNet transform, the profile's threads); best round kept."""
    import numpy as np
    import torch

    from hashlib_core.data import get_protocol
    from hashlib_core.data.transforms import RGB_IMAGENET
    from hashlib_core.models.common import build_backbone

    part = get_protocol("cifar10-dshfmdf:val", seed=0).query
    idx = np.arange(min(images, len(part)))
    models = {}
    for name, (recipe, trunk) in LADDER.items():
        c = make_config("cpu", "dshfmdf", "cifar10-dshfmdf:val", 48, 0, recipe=recipe)
        torch.set_num_threads(int(c.num_threads))
        bb = build_backbone(c.model["backbone"], width=c.model["width"], input_size=c.input_size,
                            weights=c.model["weights"], dropout=0.0).eval()
        models[name] = (bb, c.input_size, trunk)
    best = {n: float("inf") for n in models}
    loads = []
    with torch.inference_mode():
        for _ in range(rounds):
            for name, (bb, px, _) in models.items():
                loads.append(os.getloadavg()[0])
                t0 = time.perf_counter()
                for start in range(0, len(idx), 64):
                    x = RGB_IMAGENET.prepare(part.get_batch(idx[start:start + 64]), px)
                    bb(x.contiguous(memory_format=torch.channels_last))
                best[name] = min(best[name], time.perf_counter() - t0)
    rows = {}
    for name, (_, px, trunk) in models.items():
        per_1000 = best[name] / len(idx) * 1000
        rows[trunk] = (f"| {trunk} | {px} | {len(idx)} × {rounds} rounds (best) | {per_1000:.1f} | ≈ {per_1000:.0f} min | "
                       f"{min(loads):.1f}–{max(loads):.1f} |")
        print(rows[trunk], flush=True)
    return rows


def _kept_rows(path: Path, header: str, run_now: set) -> list:
    """Table rows of ``path``'s table under ``header`` whose candidate is not in ``run_now``."""
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    if header not in lines:
        return []
    rows = []
    for line in lines[lines.index(header) + 2:]:
        if not line.startswith("|"):
            break
        if line.split("|")[1].strip() not in run_now:
            rows.append(line)
    return rows


def _ladder_row(name: str, args, kept_load: str | None = None) -> str:
    recipe, trunk = LADDER[name]
    results, loads = [], []
    for seed in args.seeds:
        config = make_config("cpu", "dshfmdf", "cifar10-dshfmdf:val", args.bits, seed, recipe=recipe)
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        result = run(config)
        wall = time.perf_counter() - t0
        load1 = os.getloadavg()[0]
        if wall > PASS_MIN_S:  # computed now, not read from the run cache
            loads += [load0, load1]
        results.append(result)
        print(json.dumps({"candidate": name, "seed": seed, "val_map": result.metrics["map"], "wall_s": wall,
                          "load": [load0, load1], **result.timings}), flush=True)
    maps = [r.metrics["map"] for r in results]
    passes = [r.timings["trunk_s"] for r in results if r.timings.get("trunk_s", 0.0) > PASS_MIN_S]
    split_n = None
    if passes:
        from hashlib_core.data import get_protocol

        split = get_protocol("cifar10-dshfmdf:val", seed=args.seeds[0])
        split_n = len(split.query) + len(split.database)  # the training part is the database's images
    per_1000 = max(passes) / split_n * 1000 if passes else None
    shown = (f"{statistics.mean(maps):.4f} ± {statistics.stdev(maps):.4f}" if len(maps) > 1
             else f"{maps[0]:.4f} (1 seed)")
    # all runs cached: the load recorded when they were computed, if the file has their row
    load = f"{min(loads):.1f}–{max(loads):.1f}" if loads else (kept_load or "(cached)")
    return (f"| {name} | {trunk} | {results[0].config.input_size} | {shown} | "
            f"{', '.join(f'{m:.4f}' for m in maps)} | "
            f"{f'{per_1000:.1f}' if per_1000 else 'n/a (taps were cached)'} | "
            f"{f'≈ {per_1000:.0f} min' if per_1000 else 'n/a'} | "  # 60 x (s per 1,000) s = (s per 1,000) min
            f"{statistics.mean(r.timings['train_s'] for r in results):.0f} | "
            f"{statistics.mean(r.timings['encode_s'] for r in results):.1f} | {load} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bits", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trunk-bench", type=int, default=0, metavar="N",
                    help="also time each ladder trunk on N images (interleaved, --bench-rounds rounds)")
    ap.add_argument("--bench-rounds", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the ladder candidates")
    ap.add_argument("--only", nargs="*", default=None, help="candidate names (default: all; none with --trunk-bench only)")
    ap.add_argument("--out", default=str(repo_root() / "docs" / "lite0_recipe.md"))
    args = ap.parse_args()
    names = list(CANDIDATES) + list(LADDER) if args.only is None else args.only  # "--only" alone: none
    unknown = sorted(set(names) - set(CANDIDATES) - set(LADDER))
    if unknown:
        ap.error(f"unknown candidate(s) {unknown}; known: {sorted(CANDIDATES) + sorted(LADDER)}")
    out = Path(args.out)
    kept = _kept_rows(out, TABLE_HEADER, set(names))
    kept_ladder = _kept_rows(out, LADDER_HEADER, set(names))
    old_loads = {r.split("|")[1].strip(): r.split("|")[-2].strip()
                 for r in _kept_rows(out, LADDER_HEADER, set())}
    if args.trunk_bench < 0 or args.bench_rounds < 1:
        ap.error("--trunk-bench must be >= 0 and --bench-rounds >= 1")
    bench = _bench_rows(args.trunk_bench, args.bench_rounds) if args.trunk_bench else {}
    kept_bench = _kept_rows(out, BENCH_HEADER, set(bench))
    ladder_rows = {n: _ladder_row(n, args, old_loads.get(n)) for n in names if n in LADDER}
    base = make_config("cpu", "dshfmdf", "cifar10-dshfmdf:val", args.bits, args.seed, recipe="lite0")
    rows = []
    for name in (n for n in names if n in CANDIDATES):
        what, over = CANDIDATES[name]
        train = dict(over.get("train", {}))
        if train.get("epochs") in ("x2", "half"):
            train["epochs"] = int(base.train["epochs"]) * 2 if train["epochs"] == "x2" else int(base.train["epochs"]) // 2
        config = make_config("cpu", "dshfmdf", "cifar10-dshfmdf:val", args.bits, args.seed, recipe="lite0",
                             model=over.get("model"), loss=over.get("loss"),
                             train={k: v for k, v in train.items() if v != FLIP["augment"]})
        if train.get("augment") == FLIP["augment"]:
            config = dataclasses.replace(config, train={k: v for k, v in config.train.items() if k != "augment"})
        if "input_size" in over:
            config = dataclasses.replace(config, input_size=int(over["input_size"]))
        t0 = time.perf_counter()
        result = run(config)
        m = result.metrics
        rows.append({"candidate": name, "change": what, "val_map": m["map"],
                     "val_map_tie_aware": m.get("map_tie_aware"), "train_s": result.timings.get("train_s"),
                     "trunk_s": result.timings.get("trunk_s"), "wall_s": time.perf_counter() - t0,
                     "epochs": config.train["epochs"], "lr": config.train["lr"],
                     "augment": config.train.get("augment", True), "px": config.input_size,
                     "frozen": bool(config.train.get("freeze_backbone"))})
        print(json.dumps(rows[-1]), flush=True)
    lines = [
        "# EfficientNet-Lite0 recipe: what was tried (validation split, never the query set)",
        "",
        f"Generated by `python scripts/lite0_recipe_search.py` — DSHFMDF fused, {args.bits} bits, seed {args.seed}, "
        "protocol `cifar10-dshfmdf:val` (1,000 of the 5,000 training images as queries, the other 4,000 as "
        "training set and database; `hashlib_core.data.protocols.validation_split`).",
        f"Base recipe (`params/profiles/cpu.yaml`, `recipes.lite0`): input {base.input_size} px, "
        f"model {json.dumps(dict(base.model), sort_keys=True)}, loss {json.dumps(dict(base.loss), sort_keys=True)}, "
        f"train {json.dumps(dict(base.train), sort_keys=True)}.",
        "",
        TABLE_HEADER,
        "|---|---|---|---|---|---|---|---|---|---|",
        *kept,
    ]
    for r in rows:
        lines.append(f"| {r['candidate']} | {r['change']} | {r['val_map']:.4f} | {r['val_map_tie_aware']:.4f} | "
                     f"{r['px']} | {'frozen' if r['frozen'] else 'fine-tuned'} | {r['augment']} | {r['epochs']} | "
                     f"{r['lr']:g} | {r['train_s']:.0f} |")
    ladder = sorted(kept_ladder + list(ladder_rows.values()), key=lambda r: r.split("|")[1].strip())
    lines += [
        "",
        "## Pretrained-backbone ladder (issue 16): EfficientNet-Lite0 / Lite1 / Lite2",
        "",
        f"The recipes `lite0` / `lite1` / `lite2` of `params/profiles/cpu.yaml` (frozen ImageNet trunk at its native "
        f"input size, the same head recipe), DSHFMDF fused, {args.bits} bits, seeds {', '.join(map(str, args.seeds))}, "
        "`cifar10-dshfmdf:val`. Trunk pass: one pass over the split's 5,000 images (2 threads); the 60,000-image "
        "estimate scales it linearly. Load average: `os.getloadavg()` before and after each computed run "
        "(the machine is shared: higher load, slower timings).",
        "",
        LADDER_HEADER,
        "|---|---|---|---|---|---|---|---|---|---|",
        *ladder,
        "",
        "Trunk cost alone (`--trunk-bench N`): the three trunks timed on the same N validation images, "
        "interleaved, one process, the trunk cache's batching; the 60,000-image estimate is linear.",
        "",
        BENCH_HEADER,
        "|---|---|---|---|---|---|",
        *sorted(kept_bench + list(bench.values())),
    ]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
