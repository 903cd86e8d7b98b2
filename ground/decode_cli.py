"""`skyrack decode`: telemetry captures and live streams to decoded records.

Exit status: 0 for a clean stream; 1 when anything was counted against it
(CRC failures, skipped octets, frame or sequence gaps, dropped or undecodable
packets); 2 for bad usage (unknown option, unreadable input, bad port).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO, cast

if TYPE_CHECKING:
    from ground.stream import Record

EXIT_CLEAN = 0
EXIT_ERRORS_COUNTED = 1
EXIT_USAGE = 2
CHUNK = 1 << 20
DETECT_BYTES = 1 << 16


class UsageError(Exception):
    pass



def _apid(text: str) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an APID: {text!r} (decimal, or hex as 0x130)") from None
    if not 0 <= v <= 0x7FF:
        raise argparse.ArgumentTypeError(f"an APID is 0..2047, got {text}")
    return v

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", nargs="?", help="capture file, or - for standard input (or use --port)")
    p.add_argument("--port", metavar="URL", help="read a live stream from a pyserial URL "
                   "(/dev/ttyUSB0, socket://host:port, loop://, rfc2217://...)")
    p.add_argument("--baud", type=int, default=115200, help="baud rate for --port (default 115200)")
    p.add_argument("--idle-timeout", type=float, default=None, metavar="S",
                   help="with --port, stop after S seconds without data (default: run until interrupted)")
    p.add_argument("--format", choices=["cadu", "frames", "packets"], default="cadu",
                   help="cadu (sync-marked frames, default), frames (bare TM frames) or packets (bare space packets)")
    p.add_argument("--frame-length", type=int, default=None, metavar="N",
                   help="transfer frame length in octets (default: detected, else 1115)")
    p.add_argument("--randomized", action=argparse.BooleanOptionalAction, default=None,
                   help="frames are pseudo-randomized (default: detected, else off)")
    p.add_argument("--apid", type=_apid, action="append", metavar="N",
                   help="only these APIDs, decimal or 0x hex (repeatable)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per packet (with --stats: one object)")
    out.add_argument("--csv", metavar="DIR", help="one CSV file per packet type in DIR")
    p.add_argument("--stats", action="store_true", help="print link and sequence statistics instead of packets")


def _chunks_from_file(f: IO[bytes], progress: Any) -> Iterator[bytes]:
    done = 0
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            return
        done += len(chunk)
        if progress is not None:
            progress.update(done)
        yield chunk


def _chunks_from_port(url: str, baud: int, idle_timeout: float | None) -> Iterator[bytes]:
    if url.startswith("socket://"):
        yield from _chunks_from_socket(url, idle_timeout)
        return
    import time

    import serial

    try:
        port = serial.serial_for_url(url, baudrate=baud, timeout=0.2)
    except (serial.SerialException, ValueError) as exc:
        raise UsageError(f"cannot open {url}: {exc}") from None
    last = time.monotonic()
    try:
        while True:
            try:
                # never ask for more than is waiting: pyserial drops a partial read when the link closes
                data = port.read(port.in_waiting or 1)
            except serial.SerialException:
                return  # the other end closed the link: end of stream
            if data:
                last = time.monotonic()
                yield data
            elif idle_timeout is not None and time.monotonic() - last >= idle_timeout:
                return
    except KeyboardInterrupt:
        return
    finally:
        port.close()


def _chunks_from_socket(url: str, idle_timeout: float | None) -> Iterator[bytes]:
    """socket://host:port as pyserial means it (a TCP client), read in large blocks until the peer closes."""
    import socket

    host, _, port_text = url[len("socket://"):].partition(":")
    try:
        sock = socket.create_connection((host, int(port_text.split("?")[0])), timeout=5)
    except ConnectionResetError:
        return  # the peer accepted and reset at once: an empty stream (what it sent died with the reset)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot open {url}: {exc}") from None
    sock.settimeout(idle_timeout)
    try:
        while True:
            try:
                data = sock.recv(1 << 16)
            except (TimeoutError, OSError):
                return  # silence past the idle timeout, or the peer reset the link: end of stream
            if not data:
                return
            yield data
    except KeyboardInterrupt:
        return
    finally:
        sock.close()


class _Writer:
    def __init__(self, mode: str, out: IO[str], csv_dir: Path | None,
                 columns: dict[int, list[str]] | None = None) -> None:
        self.mode = mode
        self.out = out
        self.csv_dir = csv_dir
        self.columns = columns or {}  # APID -> field names, from the dictionary
        self._csv: dict[str, tuple[IO[str], Any]] = {}
        self._cols: dict[str, list[str]] = {}
        self._header_done = False

    def write(self, r: Record) -> None:
        if self.mode == "json":
            self.out.write(json.dumps(r.to_json(), separators=(",", ":")) + "\n")
        elif self.mode == "csv":
            self._write_csv(r)
        else:
            if not self._header_done:
                self.out.write(f"{'time':>14} {'apid':>5} {'name':<16} {'seq':>5}  fields\n")
                self._header_done = True
            t = f"{r.time:14.3f}" if r.time is not None else f"{'-':>14}"
            fields = " ".join(f"{k}={_fmt(v)}" for k, v in r.fields.items())
            self.out.write(f"{t} {r.apid:5d} {r.name or '?':<16} {r.seq:5d}  {fields}\n")

    def _write_csv(self, r: Record) -> None:
        assert self.csv_dir is not None
        key = r.name or f"apid_{r.apid}"
        if key not in self._csv:
            f = (self.csv_dir / f"{key}.csv").open("w", newline="", encoding="utf-8")
            w = csv.writer(f)
            columns = self.columns.get(r.apid, [])
            w.writerow(["apid", "seq", "time", *columns])
            self._csv[key] = (f, w)
            self._cols[key] = columns
        # an undecodable packet of a known kind gets empty cells, so the columns stay aligned
        cells = [r.fields.get(c, "") for c in self._cols[key]]
        self._csv[key][1].writerow([r.apid, r.seq, "" if r.time is None else r.time, *cells])

    def close(self) -> None:
        for f, _ in self._csv.values():
            f.close()


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _print_stats(st: dict[str, Any], out: IO[str]) -> None:
    out.write(f"frames {st['frames']}  frame gaps {st['frame_gaps']} ({st['frames_missing']} missing)  "
              f"CRC errors {st['crc_errors']}  bytes skipped {st['bytes_skipped']}  packets {st['packets']}\n")
    out.write(f"{'apid':>6} {'packets':>10} {'gaps':>6} {'missing':>8}\n")
    for apid, a in st["apids"].items():
        out.write(f"{apid:>6} {a['packets']:>10} {a['gaps']:>6} {a['missing']:>8}\n")
    out.write(f"{'vc':>6} {'frames':>10} {'gaps':>6} {'missing':>8}\n")
    for vc, v in st["vcs"].items():
        out.write(f"{vc:>6} {v['frames']:>10} {v['gaps']:>6} {v['missing']:>8}\n")


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None,
        stdin: IO[bytes] | None = None) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        return _run(args, out, err, stdin)
    except UsageError as exc:
        err.write(f"skyrack decode: {exc}\n")
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_CLEAN


def _run(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[bytes] | None) -> int:
    from flight.ccsds.deframer import InputFormat, detect_channel
    from flight.dictionary import load_dictionary
    from ground.stream import StreamDecoder
    from skyrack.progress import Progress

    if (args.input is None) == (args.port is None):
        raise UsageError("give an input file (or - for standard input) or --port URL, not both")
    if args.idle_timeout is not None and not args.idle_timeout > 0:
        raise UsageError(f"--idle-timeout must be > 0 seconds, got {args.idle_timeout}")
    if args.frame_length is not None and not 13 <= args.frame_length <= 65536:
        raise UsageError(f"--frame-length {args.frame_length} outside 13..65536")
    fmt = InputFormat(args.format)
    csv_dir = None
    if args.csv:
        csv_dir = Path(args.csv)
        try:
            csv_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {csv_dir}: {exc}") from None

    progress = None
    f: IO[bytes] | None = None
    if args.port:
        chunks = _chunks_from_port(args.port, args.baud, args.idle_timeout)
    elif args.input == "-":
        chunks = _chunks_from_file(stdin if stdin is not None else sys.stdin.buffer, None)
    else:
        try:
            f = open(args.input, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise UsageError(f"cannot read {args.input}: {exc.strerror}") from None
        size = os.fstat(f.fileno()).st_size
        if size > 8 * CHUNK:
            progress = Progress(size, "decode", "B", stream=cast(TextIO, err))
        chunks = _chunks_from_file(f, progress)

    try:
        # the physical channel: given, or detected from the first sync markers and CRCs
        head = b""
        frame_length, randomized = args.frame_length, args.randomized
        if fmt == InputFormat.CADU and (frame_length is None or randomized is None):
            for c in chunks:
                head += c
                if len(head) >= DETECT_BYTES:
                    break
            found = detect_channel(head)
            if found is not None and (frame_length in (None, found.frame_length)):
                frame_length = found.frame_length if frame_length is None else frame_length
                randomized = found.randomized if randomized is None else randomized
                err.write(f"skyrack decode: detected frame length {found.frame_length}, "
                          f"{'randomized' if found.randomized else 'not randomized'} "
                          f"({found.markers} sync markers)\n")
            else:
                err.write("skyrack decode: could not detect the channel; assuming frame length "
                          f"{frame_length or 1115}, {'randomized' if randomized else 'not randomized'}\n")
        dictionary = load_dictionary()
        dec = StreamDecoder(dictionary, fmt, frame_length or 1115, bool(randomized),
                            set(args.apid) if args.apid else None)
        columns = {p.apid: [f.name for f in p.fields if f.type.name != "SPARE"] for p in dictionary.packets}
        writer = None if args.stats else _Writer("json" if args.json else "csv" if csv_dir else "table", out,
                                                 csv_dir, columns)
        try:
            for chunk in _prepend(head, chunks):
                for r in dec.feed(chunk):
                    if writer:
                        writer.write(r)
            for r in dec.finish():
                if writer:
                    writer.write(r)
        finally:
            if writer:
                writer.close()
    finally:
        if progress is not None:
            progress.close()
        if f is not None:
            f.close()
    st = dec.stats_json()
    if args.stats:
        if args.json:
            out.write(json.dumps(st) + "\n")
        else:
            _print_stats(st, out)
    errors = dec.errors
    if errors:
        err.write(f"skyrack decode: {errors} errors counted (CRC {st['crc_errors']}, skipped octets "
                  f"{st['bytes_skipped']}, frame gaps {st['frame_gaps']}, sequence gaps "
                  f"{sum(a['gaps'] for a in st['apids'].values())}, dropped packets {st['packets_dropped']}, "
                  f"undecodable {st['decode_errors']})\n")
        return EXIT_ERRORS_COUNTED
    return EXIT_CLEAN


def _prepend(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if head:
        yield head
    yield from rest

