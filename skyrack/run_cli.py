"""`skyrack run`: the emulator and the flight software in lockstep on a scenario."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import IO

POLICY_NAMES = ("skyrack", "run-always", "sunlit-only", "soc-threshold", "static-priority")
UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """'1d', '6h', '90m', '3600s' or '3600' (seconds)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h|d)?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (examples: 1d, 6h, 90m, 3600s)")
    value = float(m.group(1)) * UNITS[m.group(2) or "s"]
    if value <= 0:
        raise argparse.ArgumentTypeError("the duration must be > 0")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", nargs="?", default="gpu-node", help="a preset name or a scenario TOML file "
                   "(default: gpu-node; see `skyrack scenarios`)")
    p.add_argument("--duration", type=parse_duration, default=86400.0, metavar="T",
                   help="simulated time: 1d (default), 6h, 90m, 3600s")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    p.add_argument("--out", default="out", metavar="DIR", help="output directory (default: out)")
    p.add_argument("--speed", default="max", metavar="max|realtime|FACTOR",
                   help="max (default): as fast as possible; realtime; or a factor of real time (e.g. 10)")
    p.add_argument("--policy", default="skyrack", choices=POLICY_NAMES,
                   help="compute scheduling policy (default: skyrack; the others are the baselines it is "
                        "measured against)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    import json

    from emulator.scenario import ScenarioError, load
    from skyrack.progress import Progress
    from skyrack.sil import run as sil_run

    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    speed: float | None = None
    if args.speed == "realtime":
        speed = 1.0
    elif args.speed != "max":
        try:
            speed = float(args.speed)
        except ValueError:
            speed = -1.0
        if not speed > 0:
            err.write(f"skyrack run: --speed takes max, realtime or a positive factor, got {args.speed!r}\n")
            return 2
    if args.seed is not None and not 0 <= args.seed < 2**63:
        err.write(f"skyrack run: --seed must be in 0 .. 2**63 - 1, got {args.seed}\n")
        return 2
    try:
        scenario = load(args.scenario)
    except ScenarioError as exc:
        err.write(f"skyrack run: {exc}\n")
        return 2
    bar = Progress(args.duration, f"run {scenario.name}", "sim s", stream=err)  # type: ignore[arg-type]
    try:
        result = sil_run(scenario, args.duration, Path(args.out), seed=args.seed, progress=bar.update, speed=speed,
                         policy=args.policy)
    except OSError as exc:
        err.write(f"skyrack run: {exc}\n")
        return 2
    finally:
        bar.close()
    s = result.summary
    if args.json:
        out.write(json.dumps(s) + "\n")
        return 0
    out.write(f"{s['scenario']}: {s['sim_seconds']:,.0f} simulated s in {s['wall_seconds']:.1f} s "
              f"({s['speed_factor']:,.0f}x real time)\n")
    out.write(f"  minimum state of charge   {100 * s['min_soc']:.1f} %\n")
    temps = ", ".join(f"{k} {v:.1f}" for k, v in s["max_temp_c"].items())
    out.write(f"  maximum temperatures (C)  {temps}\n")
    out.write(f"  energy harvested          {s['energy_harvested_j'] / 3.6e6:.2f} kWh\n")
    out.write(f"  packets generated         {s['packets_generated']}, downlinked {s['packets_downlinked']}, "
              f"still stored {s['packets_stored']}\n")
    if s["jobs_released"]:
        out.write(f"  compute ({s['policy']})        {s['jobs_delivered']}/{s['jobs_released']} jobs delivered, value "
                  f"{s['value_delivered']:,.1f} of {s['value_released']:,.1f}, {s['deadline_misses']} deadline "
                  f"misses, payload utilization {100 * s['payload_utilization']:.1f} %\n")
    out.write(f"  outputs in {result.out_dir}/: downlink.cadu, summary.json, timeline.log\n")
    return 0
