"""Emulator speed: simulated seconds per wall second over one simulated day.

  plant   the gpu-node plant alone at 1 s substeps, stepped in one-hour chunks (bus idle)
  polled  the same with a 1 Hz register poll of every sensor on the buses
  peer    Basilisk (if installed) on the comparable scenario, measured in the same run

    python bench/emulator.py [--json] [--seconds N] [--repeats K] [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator import Emulator
from emulator.scenario import Chip

NS = 1_000_000_000

# registers a flight driver would read each second, per chip
POLL = {
    Chip.INA226: (0x01, 0x02, 0x04),      # shunt, bus voltage, current
    Chip.TMP117: (0x00,),                 # temperature
    Chip.MAX17048: (0x02, 0x04, 0x16),    # VCELL, SOC, CRATE
    Chip.TCA9534: (0x00,),                # input port
    Chip.PAYLOAD_CTRL: (0x02, 0x0A, 0x0B),  # status, power, die temperature
}


def plant_rate(scenario: str, sim_s: int, repeats: int) -> list[float]:
    rates = []
    for _ in range(repeats):
        emu = Emulator(scenario)
        chunk = 3600 * NS
        t0 = time.perf_counter()
        left = sim_s * NS
        while left > 0:
            step = min(chunk, left)
            emu.advance(step)
            left -= step
        rates.append(sim_s / (time.perf_counter() - t0))
    return rates


def polled_rate(scenario: str, sim_s: int, repeats: int) -> tuple[list[float], int]:
    rates, per_s = [], 0
    for _ in range(repeats):
        emu = Emulator(scenario)
        plan = []
        for d in emu.scenario.devices:
            width = 1 if d.chip == Chip.TCA9534 else 2
            for reg in POLL[d.chip]:
                plan.append((emu.buses[d.bus], d.address, bytes([reg]), width))
        per_s = len(plan)
        t0 = time.perf_counter()
        for _ in range(sim_s):
            emu.advance(NS)
            for bus, addr, ptr, width in plan:
                bus.transfer(addr, ptr, width)
        rates.append(sim_s / (time.perf_counter() - t0))
    return rates, per_s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="gpu-node")
    ap.add_argument("--seconds", type=int, default=86400, help="simulated seconds per run (default one day)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-peer", action="store_true", help="skip the Basilisk comparison")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    plant = plant_rate(args.scenario, args.seconds, args.repeats)
    polled, reads = polled_rate(args.scenario, min(args.seconds, 20000), max(1, args.repeats // 2))
    out: dict[str, object] = {
        "scenario": args.scenario,
        "substep_s": 1.0,
        "sim_seconds": args.seconds,
        "plant_sim_s_per_wall_s": max(plant),
        "plant_sim_s_per_wall_s_median": statistics.median(plant),
        "polled_sim_s_per_wall_s": max(polled),
        "polled_reads_per_sim_s": reads,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if not args.no_peer:
        try:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from peer_basilisk import measure

            peer = measure(step_s=1.0, sim_seconds=20000.0, repeats=3)
            out["basilisk_sim_s_per_wall_s"] = peer["sim_s_per_wall_s"]
            out["plant_over_basilisk"] = max(plant) / peer["sim_s_per_wall_s"]
            out["polled_over_basilisk"] = max(polled) / peer["sim_s_per_wall_s"]
        except ImportError as exc:
            out["basilisk_sim_s_per_wall_s"] = None
            out["peer_note"] = f"Basilisk not measured: {exc}"
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"scenario {args.scenario}, 1 s substeps, {args.seconds} simulated s per run")
    print(f"  plant alone   {out['plant_sim_s_per_wall_s']:>14,.0f} sim s / wall s (best of {args.repeats}; "
          f"median {out['plant_sim_s_per_wall_s_median']:,.0f})")
    print(f"  1 Hz poll     {out['polled_sim_s_per_wall_s']:>14,.0f} sim s / wall s "
          f"({reads} register reads per sim s)")
    if out.get("basilisk_sim_s_per_wall_s"):
        print(f"  Basilisk      {out['basilisk_sim_s_per_wall_s']:>14,.0f} sim s / wall s "
              "(comparable scenario, 1 s step)")
        print(f"  ratio plant / Basilisk {out['plant_over_basilisk']:,.0f}x; polled / Basilisk "
              f"{out['polled_over_basilisk']:,.2f}x")
    elif "peer_note" in out:
        print(f"  {out['peer_note']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
