"""`skyrack cmd`: build one signed telecommand as a CLTU.

    skyrack cmd set_mode mode=NOMINAL --key keys.toml --sn 12 --seq 3 --out tc.cltu
    skyrack cmd ping --key keys.toml --port socket://groundstation:5000
    skyrack cmd set_mode mode=NOMINAL --at 3600 --key keys.toml      # time-tagged: at mission time 3600 s
    skyrack cmd --list

The TC packet (PUS-C, from the command dictionary) goes in a TC frame (type-A with N(S) = --seq, or type-B
with --bypass), protected with SDLS (HMAC-SHA-256 by default) under --spi with sequence number --sn using the
key --key-id of the key file (mode 0600), then encoded as a CLTU: written to --out, sent to --port URL, or
printed in hex.
With --at SECONDS the command is wrapped into a load_time_tagged (PUS 11,4): executed on board at that mission
time (whole seconds since the run's t = 0).
Bad input prints one line and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO

ALGORITHMS = {"hmac": "HMAC_SHA256", "cmac": "AES_CMAC", "gcm": "AES_GCM"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="the command (see --list)")
    p.add_argument("args", nargs="*", metavar="ARG=VALUE", help="its arguments")
    p.add_argument("--list", action="store_true", help="list the commands and their arguments")
    p.add_argument("--json", action="store_true", help="--list: the command dictionary as JSON; else the layers")
    p.add_argument("--key", metavar="FILE", help="the SDLS key file (TOML, mode 0600)")
    p.add_argument("--key-id", type=int, default=None, metavar="N",
                   help="the key in the file (default: the only one in the file)")
    p.add_argument("--algorithm", choices=sorted(ALGORITHMS), default="hmac", help="SDLS algorithm (default hmac)")
    p.add_argument("--spi", type=int, default=1, metavar="N", help="security parameter index (default 1)")
    p.add_argument("--sn", type=int, default=1, metavar="N", help="SDLS sequence number, above the last sent "
                   "(default 1)")
    p.add_argument("--seq", type=int, default=0, metavar="N", help="frame sequence number N(S) (type-A, default 0)")
    p.add_argument("--bypass", action="store_true", help="a type-B (expedited) frame: no FARM sequence check")
    p.add_argument("--scid", type=lambda s: int(s, 0), default=None, metavar="N",
                   help="spacecraft ID (default 0x2A5)")
    p.add_argument("--vcid", type=int, default=0, metavar="N", help="virtual channel (default 0)")
    p.add_argument("--tc-seq", type=int, default=0, metavar="N", help="the TC packet's sequence count (default 0)")
    p.add_argument("--at", type=int, default=None, metavar="SECONDS",
                   help="time-tag the command: wrap it into load_time_tagged, executed at this mission time (s)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--out", metavar="FILE", help="write the CLTU here (binary) instead of printing hex")
    out.add_argument("--port", metavar="URL", help="send the CLTU to a pyserial URL: a device path (with --baud), "
                     "socket://host:port (a ground station's TCP input, or `skyrack hil serve`'s), rfc2217://...")
    p.add_argument("--baud", type=int, default=115200, metavar="N", help="--port device: baud rate (default 115200)")


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    from flight.ccsds.keystore import KeyFileError, load_key_file
    from flight.ccsds.sdls import Algorithm
    from flight.dictionary.commands import CommandError, load_commands
    from flight.dictionary.errors import DictionaryError
    from ground.command import DEFAULT_SCID, build, parse_assignments, time_tagged

    out = out or sys.stdout
    err = err or sys.stderr

    def fail(msg: str) -> int:
        print(f"skyrack cmd: {msg}", file=err)
        return 2

    try:
        commands = load_commands()
    except DictionaryError as exc:
        print(f"skyrack cmd: invalid command dictionary: {exc}", file=err)
        return 1
    if args.list:
        if args.json:
            print(json.dumps(commands.to_json(), indent=2), file=out)
        else:
            for c in commands.commands:
                print(f"{c.name:<20} PUS ({c.service},{c.subtype})  {c.description}", file=out)
                for a in c.args:
                    print(f"    {a.describe()}" + (f"  {a.description}" if a.description else ""), file=out)
        return 0
    if not args.name:
        return fail("name a command (skyrack cmd --list shows them)")
    if args.key is None:
        return fail("--key FILE is required: telecommands are authenticated (SDLS)")
    try:
        values = parse_assignments(commands, args.name, args.args)
        commands.command(args.name).encode_args(values)  # missing or out-of-range arguments before the key file
        name, sent = args.name, values
        if args.at is not None:
            name, sent = "load_time_tagged", time_tagged(commands, args.name, values, args.at)
    except CommandError as exc:
        return fail(str(exc))
    try:
        keys = load_key_file(args.key)
    except KeyFileError as exc:
        return fail(str(exc))
    key_id = args.key_id
    if key_id is None:
        ids = keys.ids()
        if len(ids) != 1:
            return fail(f"the key file holds {len(ids)} keys (ids {', '.join(map(str, ids)) or 'none'}): "
                        "choose one with --key-id")
        key_id = ids[0]
    elif key_id not in keys:
        return fail(f"--key-id {key_id}: no such key in {args.key} (ids: {', '.join(map(str, keys.ids()))})")
    try:
        built = build(commands, name, sent, keys, key_id=key_id, spi=args.spi, sn=args.sn,
                      algorithm=Algorithm[ALGORITHMS[args.algorithm]],
                      scid=DEFAULT_SCID if args.scid is None else args.scid, vcid=args.vcid, seq=args.seq,
                      bypass=args.bypass, tc_seq_count=args.tc_seq)
    except (CommandError, ValueError) as exc:
        return fail(str(exc))
    if args.out:
        try:
            Path(args.out).write_bytes(built.cltu)
        except OSError as exc:
            return fail(f"--out {args.out}: {exc.strerror or exc}")
    if args.port:
        problem = send_to_port(args.port, args.baud, built.cltu)
        if problem:
            return fail(problem)
    if args.json:
        tag = {} if args.at is None else {"at": args.at, "time_tagged": "load_time_tagged"}
        shown = {k: v.hex() if isinstance(v, bytes) else v for k, v in values.items()}
        print(json.dumps({"command": args.name, "args": shown, **tag, "packet": built.packet.hex(),
                          "frame": built.frame.hex(), "cltu": built.cltu.hex()}), file=out)
    elif not args.out and not args.port:
        print(built.cltu.hex(), file=out)
    return 0


def send_to_port(url: str, baud: int, data: bytes, timeout_s: float = 10.0) -> str | None:
    """Write data to a pyserial URL and wait until it is sent; None, or what went wrong in one line."""
    import serial

    try:
        port = serial.serial_for_url(url, baudrate=baud, write_timeout=timeout_s, timeout=timeout_s)
    except (serial.SerialException, ValueError, OSError) as exc:
        return f"--port {url}: cannot open ({exc})"
    try:
        port.write(data)
        port.flush()
    except (serial.SerialException, serial.SerialTimeoutException, OSError) as exc:
        return f"--port {url}: write failed ({exc})"
    finally:
        port.close()
    return None
