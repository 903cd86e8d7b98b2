"""Closed-loop (software-in-the-loop) speed: simulated seconds per wall second of `skyrack run`.

The emulator and the whole flight software run in lockstep through skyrack.sil.run, as the CLI
runs them: the executive at 1 Hz (sensor polling of every chip through the drivers, housekeeping
packets at their dictionary periods, downlink in contacts, the persistent packet store with its
default fsync policy), on the gpu-node scenario, one simulated day per run by default. Each run
writes into a fresh temporary directory (--tmpdir chooses where: the store's fsyncs cost what that
file system makes them cost).

Reference points, quoted and not measured here: NOS3 (NASA Operational Simulator for Small
Satellites) runs its closed loop at about 0.7x real time; cFS and F Prime flight software in their
usual simulation setups run at real time (1x), the rate their executives are clocked at.

    python bench/closed_loop.py [--duration S] [--repeats K] [--scenario NAME] [--tmpdir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.scenario import load
from skyrack.sil import run

DAY_S = 86400.0
# quoted reference figures (simulated seconds per wall second), not measured by this script
REFERENCES = {"NOS3": 0.7, "cFS": 1.0, "F Prime": 1.0}


def measure(scenario: str, duration_s: float, repeats: int, tmpdir: str | None) -> dict[str, Any]:
    rates: list[float] = []
    walls: list[float] = []
    summary: dict[str, Any] = {}
    for _ in range(repeats):
        sc = load(scenario)
        with tempfile.TemporaryDirectory(prefix="skyrack-bench-", dir=tmpdir) as d:
            t0 = time.perf_counter()
            result = run(sc, duration_s, Path(d) / "run")
            wall = time.perf_counter() - t0
        walls.append(wall)
        rates.append(duration_s / wall)
        summary = result.summary
    best = max(rates)
    return {
        "scenario": scenario,
        "sim_seconds": duration_s,
        "repeats": repeats,
        "sim_s_per_wall_s": best,
        "sim_s_per_wall_s_median": statistics.median(rates),
        "wall_s_best": min(walls),
        "wall_s_median": statistics.median(walls),
        "wall_s_per_sim_day": DAY_S / best,
        "rates": rates,
        "packets_generated": summary.get("packets_generated"),
        "packets_downlinked": summary.get("packets_downlinked"),
        "frames_downlinked": summary.get("frames_downlinked"),
        "executive_overruns": summary.get("executive_overruns"),
        "tmpdir": tmpdir or tempfile.gettempdir(),
        "references_quoted": REFERENCES,
        "ratio_to": {name: best / ref for name, ref in REFERENCES.items()},
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="gpu-node")
    ap.add_argument("--duration", type=float, default=DAY_S, help="simulated seconds per run (default one day)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tmpdir", default=None, help="where the run directories go (default: the system temp dir)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if not args.duration > 0:
        ap.error("--duration must be > 0")
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")

    out = measure(args.scenario, args.duration, args.repeats, args.tmpdir)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"skyrack run, scenario {out['scenario']}: emulator + flight software in lockstep, executive at 1 Hz, "
          f"{out['sim_seconds']:,.0f} simulated s per run, store in {out['tmpdir']}")
    print(f"  closed loop  {out['sim_s_per_wall_s']:>12,.0f} sim s / wall s (best of {out['repeats']}; "
          f"median {out['sim_s_per_wall_s_median']:,.0f})")
    print(f"  wall time    {out['wall_s_best']:>12.2f} s per run (median {out['wall_s_median']:.2f} s); "
          f"{out['wall_s_per_sim_day']:.2f} s per simulated day")
    print(f"  work done    {out['packets_generated']:,} packets generated, {out['packets_downlinked']:,} downlinked "
          f"in {out['frames_downlinked']:,} frames")
    print("  against quoted reference figures (not measured here):")
    for name, ref in REFERENCES.items():
        print(f"    {name:8s} {ref:>4.1f}x real time  -> skyrack {out['ratio_to'][name]:>10,.0f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
