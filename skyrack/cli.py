"""`skyrack` command line: a thin composition root, no work at import time."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any


def _cmd_scenarios(args: argparse.Namespace) -> int:
    from emulator.scenario import ScenarioError, load, preset_names

    rows: list[dict[str, Any]] = []
    for name in preset_names():
        try:
            sc = load(name)
        except ScenarioError as exc:
            print(f"skyrack: preset {name} is invalid: {exc}", file=sys.stderr)
            return 1
        rows.append({"name": sc.name, "description": sc.description,
                     "altitude_km": round(sc.orbit.altitude_km, 1) if sc.orbit.tle is None else None,
                     "inclination_deg": round(sc.orbit.inclination_deg, 2) if sc.orbit.tle is None else None,
                     "payload_max_w": max((m.power_w for m in sc.payload.modes), default=0.0) if sc.payload else 0.0,
                     "stations": len(sc.stations)})
    if args.json:
        print(json.dumps(rows))
        return 0
    width = max(len(r["name"]) for r in rows) if rows else 4
    for r in rows:
        print(f"{r['name']:<{width}}  {r['description']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skyrack", description="Satellite HIL emulator and flight software "
                                     "for orbital compute nodes.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sc = sub.add_parser("scenarios", help="list the built-in scenarios")
    sc.add_argument("--json", action="store_true", help="print one JSON array")
    sc.set_defaults(func=_cmd_scenarios)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
