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


def _cmd_dict(args: argparse.Namespace) -> int:
    from flight.dictionary import DictionaryError, UnknownPacketError, load_dictionary
    from flight.dictionary.table import render

    try:
        d = load_dictionary(args.file)
    except DictionaryError as exc:
        print(f"skyrack dict: invalid dictionary: {exc}", file=sys.stderr)
        return 1
    packets = list(d.packets)
    if args.apid is not None:
        text = args.apid.strip()
        try:
            key: int | str = int(text, 0)
        except ValueError:
            key = text
        try:
            packets = [d.packet(key)]
        except UnknownPacketError as exc:
            print(f"skyrack dict: --apid {text}: {exc}", file=sys.stderr)
            return 2
    if args.json:
        doc = d.to_json() if args.apid is None else packets[0].to_json()
        print(json.dumps(doc, indent=2))
        return 0
    print(render(packets))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skyrack", description="Satellite HIL emulator and flight software "
                                     "for orbital compute nodes.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sc = sub.add_parser("scenarios", help="list the built-in scenarios")
    sc.add_argument("--json", action="store_true", help="print one JSON array")
    sc.set_defaults(func=_cmd_scenarios)
    dc = sub.add_parser("dict", help="the telemetry dictionary: packets and fields")
    dc.add_argument("--json", action="store_true", help="print the JSON export")
    dc.add_argument("--apid", metavar="N", help="only the packet with this APID (decimal or 0x..) or name")
    dc.add_argument("--file", metavar="PATH", help="a dictionary TOML file instead of the shipped one")
    dc.set_defaults(func=_cmd_dict)
    from ground import decode_cli

    de = sub.add_parser("decode", help="decode telemetry: CADUs, frames or packets to records",
                        description=decode_cli.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    decode_cli.add_arguments(de)
    de.set_defaults(func=decode_cli.run)
    from skyrack import run_cli

    ru = sub.add_parser("run", help="run the emulator and the flight software in lockstep",
                        description=run_cli.__doc__)
    run_cli.add_arguments(ru)
    ru.set_defaults(func=run_cli.run)
    from skyrack import plot

    pl = sub.add_parser("plot", help="PNG plots of a run: power, battery, temperatures, payload, contacts",
                        description=plot.__doc__)
    plot.add_arguments(pl)
    pl.set_defaults(func=plot.run)
    from skyrack import cmd_cli

    cm = sub.add_parser("cmd", help="build a signed telecommand (CLTU) from the command dictionary",
                        description=cmd_cli.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd_cli.add_arguments(cm)
    cm.set_defaults(func=cmd_cli.run)
    from skyrack import hil_cli

    hi = sub.add_parser("hil", help="hardware in the loop: serve the emulator to a board (serve), or fly on one (fly)",
                        description=hil_cli.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    hil_cli.add_arguments(hi)
    hi.set_defaults(func=hil_cli.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        rc: int = args.func(args)
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, as Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
