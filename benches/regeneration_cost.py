"""Where the time of a whole regeneration goes: the compute time each committed manifest records,
summed per kind of run (method, backbone, protocol) over the distinct runs of all notebooks.

    python benches/regeneration_cost.py [--figures figures] [--top 12]

A run shared by several notebooks is counted once, as ``make reproduce`` computes it once; its
time is the one recorded when it was computed (``hashlib_core.plan.run_compute_s``: features,
training, encoding, metrics). Trunk passes are counted apart, once per trunk and protocol (the
longest pass recorded for it; a run that found its trunk cached recorded well under
``TRUNK_PASS_MIN_S``, and a run reused from the cache keeps the timings of the notebook that made it,
so copies of one run can disagree on it), under the kind of run that recorded it. This reads the
manifests only, so it describes the settings they were made with (notebooks whose settings changed
since are flagged by ``make plan``). Issue 17's "whole-regeneration cost" row in benches/README.md.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from hashlib_core.plan import TRUNK_PASS_MIN_S, run_trunk_key, run_compute_s  # noqa: E402


def kind_of(config: dict) -> tuple[str, str, str]:
    model = config.get("model") or {}
    return (str(config.get("method")), str(model.get("backbone") or "-"), str(config.get("protocol")))


def breakdown(figures: Path) -> tuple[dict, float, int]:
    """``({kind: [runs, compute_s, trunk_pass_s]}, total compute s, distinct runs)``."""
    runs: dict[str, dict] = {}
    passes: dict[tuple, tuple[float, tuple]] = {}  # (trunk key, protocol) -> (longest pass, kind)
    for manifest in sorted(figures.glob("*/manifest.json")):
        for key, run in json.loads(manifest.read_text()).get("runs", {}).items():
            runs.setdefault(key, run)
            config = run.get("config") or {}
            trunk_s = float((run.get("timings") or {}).get("trunk_s", 0.0) or 0.0)
            trunk = (run_trunk_key(config), config.get("protocol"))
            if trunk[0] and trunk_s >= TRUNK_PASS_MIN_S and trunk_s > passes.get(trunk, (0.0,))[0]:
                passes[trunk] = (trunk_s, kind_of(config))
    kinds: dict = collections.defaultdict(lambda: [0, 0.0, 0.0])
    for run in runs.values():
        row = kinds[kind_of(run.get("config") or {})]
        row[0] += 1
        row[1] += run_compute_s(run.get("timings") or {})
    for trunk_s, kind in passes.values():
        kinds[kind][2] += trunk_s
    return dict(kinds), sum(r[1] + r[2] for r in kinds.values()), len(runs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--figures", type=Path, default=Path(__file__).resolve().parents[1] / "figures")
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args(argv)
    if not args.figures.is_dir():
        ap.error(f"--figures {args.figures}: not a folder")
    kinds, total, n = breakdown(args.figures)
    if not n:
        ap.error(f"--figures {args.figures}: no manifest lists a run")
    print(f"{n} distinct runs in {args.figures.name}/*/manifest.json; recorded compute {total / 3600:.1f} h "
          f"(trunk passes included)\n")
    print("| method | backbone | protocol | runs | compute (h) | min / run | trunk passes (min) | share |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    ranked = sorted(kinds.items(), key=lambda kv: -(kv[1][1] + kv[1][2]))
    for (method, backbone, protocol), (runs, s, trunk) in ranked[:args.top]:
        print(f"| {method} | {backbone} | {protocol} | {runs} | {s / 3600:.2f} | {s / runs / 60:.1f} | "
              f"{trunk / 60:.0f} | {100 * (s + trunk) / total:.0f} % |")
    rest = ranked[args.top:]
    if rest:
        s = sum(r[1] + r[2] for _, r in rest)
        print(f"| {len(rest)} other kinds | | | {sum(r[0] for _, r in rest)} | {s / 3600:.2f} | | | "
              f"{100 * s / total:.0f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
