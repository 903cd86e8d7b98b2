"""Compute scheduling measured against the offline upper bound, inside the real closed loop.

For each scenario, every policy (Skyrack's and the baselines) runs in `skyrack.sil.run` (the emulator
and the whole flight software in lockstep); what it delivered is scored from the downlink capture
(a job counts its value when its whole result reached the ground and it completed by its deadline).
The upper bound (skyrack.upper_bound, a linear program over 60 s slots solved by HiGHS through scipy,
built by skyrack.bound_problem) knows the whole future. The scenarios are skyrack.sched_scenarios.

Jobs are released over the first --duration; every run (and the bound) then goes on for --drain
more (default 6 h) with no new jobs, so that work finished near the end still has passes to reach
the ground: without it the end of the run would cut off whatever is on board, and the bound, which
knows where the run ends, would be scored against policies that do not. The bound is the mixed-
integer program's (jobs count whole or not at all), or its linear relaxation where the solver's time
limit leaves a larger dual bound; both are valid upper bounds.

Columns: value delivered as a fraction of the bound, deadline misses, compute energy over harvested
energy, unused harvested energy (available at the array but not taken), deepest depth of discharge,
hottest payload node, violations (limit-violation events, safe-mode entries, undervoltage events,
payload shutdowns, and a depth of discharge beyond dod_max by more than 2 points).

    python bench/scheduling.py [--duration 1d] [--drain 6h] [--scenarios a,b] [--policies p,q] [--jobs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flight.telemetry.store import FsyncPolicy
from skyrack.bound_problem import bound_problem, dod_max
from skyrack.run_cli import POLICY_NAMES, parse_duration
from skyrack.sched_scenarios import VARIANTS, scenario
from skyrack.sil import run
from skyrack.upper_bound import upper_bound


def run_policy(args: tuple[str, str, float, float]) -> dict[str, Any]:
    name, policy, release_s, duration_s = args
    sc = scenario(name, release_s)
    with tempfile.TemporaryDirectory(prefix="skyrack-sched-") as tmp:
        t0 = time.perf_counter()
        s = run(sc, duration_s, Path(tmp) / "run", fsync=FsyncPolicy.NEVER, policy=policy).summary
        wall = time.perf_counter() - t0
    ev = s["events"]
    dod = 1.0 - s["min_soc"]
    violations = (s["violations"] + s["safe_mode_entries"] + ev.get("UNDERVOLTAGE", 0) + ev.get("PAYLOAD_SHUTDOWN", 0)
                  + (1 if dod > dod_max(sc) + 0.02 else 0))
    harvested = s["energy_harvested_j"]
    return {
        "scenario": name, "policy": policy, "value_delivered": s["value_delivered"],
        "value_released": s["value_released"], "jobs_delivered": s["jobs_delivered"],
        "jobs_released": s["jobs_released"], "deadline_misses": s["deadline_misses"],
        "compute_over_harvested": s["payload_energy_j"] / harvested if harvested > 0 else 0.0,
        "unused_harvested_kwh": (s["energy_available_j"] - harvested) / 3.6e6,
        "deepest_dod": dod, "max_payload_c": s["max_temp_c"].get("payload", float("nan")),
        "payload_mean_w": s["payload_energy_j"] / s["sim_seconds"],
        "violations": violations, "wall_s": wall,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=parse_duration, default=86400.0, help="simulated time per run (default 1d)")
    ap.add_argument("--drain", type=parse_duration, default=6 * 3600.0,
                    help="simulated time after the last release (default 6h)")
    ap.add_argument("--time-limit", type=float, default=120.0, help="the bound's solver time limit, s")
    ap.add_argument("--scenarios", default=",".join(VARIANTS), help="comma-separated (default: all)")
    ap.add_argument("--policies", default=",".join(POLICY_NAMES), help="comma-separated (default: all)")
    ap.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args(argv)
    names = [n for n in a.scenarios.split(",") if n]
    policies = [p for p in a.policies.split(",") if p]
    for n in names:
        if n not in VARIANTS:
            ap.error(f"unknown scenario {n!r} (known: {', '.join(VARIANTS)})")
    for p in policies:
        if p not in POLICY_NAMES:
            ap.error(f"unknown policy {p!r} (known: {', '.join(POLICY_NAMES)})")
    bounds: dict[str, dict[str, Any]] = {}
    for n in names:
        t0 = time.perf_counter()
        res = upper_bound(bound_problem(scenario(n, a.duration), a.duration + a.drain), integral=True,
                          time_limit_s=a.time_limit)
        bounds[n] = {"value": res.value, "status": res.status, "mip_gap": res.mip_gap,
                     "payload_mean_w": float(res.payload_power_w.mean()),
                     "solve_s": time.perf_counter() - t0}
        if not a.json:
            print(f"bound {n}: {res.value:.1f} ({res.status}, {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    work = [(n, p, a.duration, a.duration + a.drain) for n in names for p in policies]
    with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        rows = list(pool.map(run_policy, work))
    for r in rows:
        b = bounds[r["scenario"]]["value"]
        r["fraction_of_bound"] = r["value_delivered"] / b if b > 0 else 1.0
    ours = [r for r in rows if r["policy"] == "skyrack"]
    out = {
        "release_s": a.duration,
        "duration_s": a.duration + a.drain,
        "bounds": bounds,
        "rows": rows,
        "min_fraction_of_bound": min((r["fraction_of_bound"] for r in ours), default=None),
        "violations": sum(r["violations"] for r in ours),
        "baseline_violations": sum(r["violations"] for r in rows if r["policy"] != "skyrack"),
        "bound_beaten": [f"{r['scenario']}/{r['policy']}" for r in rows
                         if r["value_delivered"] > bounds[r["scenario"]]["value"] * (1 + 1e-6) + 1e-6],
    }
    if a.json:
        print(json.dumps(out))
        return 0
    head = (f"{'scenario':<18} {'policy':<16} {'value':>8} {'of bound':>8} {'misses':>6} {'compute/':>8} "
            f"{'unused':>7} {'max DoD':>7} {'payload':>7} {'viol':>4}")
    print(head)
    print(f"{'':<18} {'':<16} {'':>8} {'':>8} {'':>6} {'harvest':>8} {'kWh':>7} {'':>7} {'max C':>7} {'':>4}")
    for r in rows:
        print(f"{r['scenario']:<18} {r['policy']:<16} {r['value_delivered']:8.1f} {r['fraction_of_bound']:8.3f} "
              f"{r['deadline_misses']:6d} {r['compute_over_harvested']:8.3f} {r['unused_harvested_kwh']:7.2f} "
              f"{r['deepest_dod']:7.3f} {r['max_payload_c']:7.1f} {r['violations']:4d}")
    print("\nbounds: " + ", ".join(f"{n} {b['value']:.1f}" for n, b in bounds.items()))
    print(f"Skyrack: worst fraction of the bound {out['min_fraction_of_bound']:.3f}, violations {out['violations']}")
    if out["bound_beaten"]:
        print(f"WARNING: a policy beat the bound: {', '.join(out['bound_beaten'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
