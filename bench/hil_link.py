"""HIL link figures over the paced pseudo-terminal relay (a UART cable in software, `hil.relay`).

  goodput   the board streams RADIO_TM messages of 1115 octets (a CCSDS TM frame) to the host for
            --seconds: payload octets delivered per second, as a fraction of the line rate (baud / 10
            octets per second, 8N1). Measured from the first delivery to the last, so the handshake and
            the pipe filling up are not counted. The framing alone allows 1115 / 1134 = 0.983; a late
            time stamp on the first delivery (scheduling, a few ms) can put a short run a hair above it.
  rtt       the host sends TICK (simulated time, tick number, and a pushed poll of 12 16-bit register
            reads), the board answers TICK_DONE as soon as it is delivered; the time from the host's send()
            to the TICK_DONE delivery, median and 90th percentile over --ticks exchanges, and the link
            frames each end sent per tick (acks ride on the replies: 1.0 each way when nothing is lost).

  lockstep  `skyrack hil serve` and `skyrack hil fly --once` as two processes over the paced relay on the
            edge-cubesat preset: simulated seconds per wall second of the ticks (the board's boot left out),
            over its first 250 s (outside contacts: its first pass starts at 266 s) and over a 10-minute run
            with the pass (9.6 kbit/s: the radio frames share the serial link).

For goodput and rtt both ends and the relay run in this process (the relay in a thread), with the link
defaults and `LinkConfig(baud=...)`. Each baud gets a fresh relay and fresh endpoints.

    python bench/hil_link.py [--json] [--seconds 3] [--ticks 50] [--baud 115200 --baud 921600] [--no-lockstep]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hil.frame import max_wire_size
from hil.link import Link, LinkConfig, LinkState
from hil.messages import BusResult, BusStatus, Kind, Role, Tick, TickDone, TransferResult
from hil.pump import LinkPump, service_all
from hil.relay import PtyRelay
from hil.transport import open_port

RADIO_FRAME = 1115
BAUDS = (115200, 921600)


def _connect(host: LinkPump, board: LinkPump, limit_s: float = 10.0) -> None:
    t_end = time.monotonic() + limit_s
    while host.link.state is not LinkState.ESTABLISHED or board.link.state is not LinkState.ESTABLISHED:
        if time.monotonic() > t_end:
            raise SystemExit("the link did not come up: handshake timed out")
        service_all([host, board], 0.01)


@contextlib.contextmanager
def _linked_pair(baud: int) -> Iterator[tuple[PtyRelay, LinkConfig, LinkPump, LinkPump]]:
    """A host and a board endpoint over the paced relay, connected; their ports closed afterwards."""
    with PtyRelay(baud=baud) as relay:
        cfg = LinkConfig(baud=baud)
        host = LinkPump(Link(Role.HOST, cfg, session_id=1), open_port(relay.port_a, baud))
        board = LinkPump(Link(Role.BOARD, cfg, session_id=2), open_port(relay.port_b, baud))
        try:
            _connect(host, board)
            yield relay, cfg, host, board
        finally:
            host.port.close()
            board.port.close()


def goodput(baud: int, seconds: float) -> dict[str, Any]:
    with _linked_pair(baud) as (relay, cfg, host, board):
        frame = bytes(range(256)) * 4 + bytes(RADIO_FRAME - 1024)
        times: list[int] = []
        t_end = time.monotonic_ns() + int(seconds * 1e9)
        while time.monotonic_ns() < t_end:
            while board.link.pending() < 2 * cfg.window:  # the application keeps the queue topped up
                board.link.send(Kind.RADIO_TM, frame)
            got_host, _ = service_all([host, board], 0.01)
            now = time.monotonic_ns()
            times += [now for m in got_host if m.kind is Kind.RADIO_TM]
        n = len(times)
        rate = (n - 1) * RADIO_FRAME / ((times[-1] - times[0]) / 1e9) if n > 1 else 0.0
        st = board.link.stats
        return {
            "frames": n,
            "goodput_bytes_per_s": rate,
            "goodput_fraction": rate / (baud / 10),
            "retransmissions": st.retransmissions,
            "srtt_ms": st.srtt_ns / 1e6,
            "relay_bytes": relay.stats.bytes_relayed,
        }


def rtt(baud: int, ticks: int) -> dict[str, Any]:
    poll = BusResult(0, tuple(TransferResult(BusStatus.OK, (0x1234 + i,)) for i in range(12)))
    with _linked_pair(baud) as (_relay, _cfg, host, board):
        samples: list[float] = []
        tick_len = done_len = 0
        frames0 = (0, 0)
        for k in range(ticks + 3):  # the first three warm up
            if k == 3:
                frames0 = (host.link.stats.frames_sent, board.link.stats.frames_sent)
            tick = Tick(k * 100_000_000, k, poll).encode()
            tick_len = len(tick)
            t0 = time.perf_counter_ns()
            host.link.send(Kind.TICK, tick)
            done = False
            while not done:
                got_host, got_board = service_all([host, board], 0.01)
                for m in got_board:
                    if m.kind is Kind.TICK:
                        reply = TickDone(k).encode()
                        done_len = len(reply)
                        board.link.send(Kind.TICK_DONE, reply)
                done = any(m.kind is Kind.TICK_DONE for m in got_host)
            if k >= 3:
                samples.append((time.perf_counter_ns() - t0) / 1e6)
        samples.sort()
        return {
            "host_frames_per_tick": (host.link.stats.frames_sent - frames0[0]) / ticks,
            "board_frames_per_tick": (board.link.stats.frames_sent - frames0[1]) / ticks,
            "rtt_ms": statistics.median(samples),
            "rtt_ms_p90": samples[int(0.9 * (len(samples) - 1))],
            "tick_payload": tick_len,
            "tick_done_payload": done_len,
            "wire_ms": (max_wire_size(tick_len) + max_wire_size(done_len)) * 10e3 / baud,
        }


def lockstep(baud: int, duration_s: float) -> dict[str, Any]:
    """hil serve + hil fly (two processes) on edge-cubesat for duration_s over the paced relay."""
    cli = [sys.executable, "-m", "skyrack.cli", "hil"]
    with tempfile.TemporaryDirectory() as tmp, PtyRelay(baud=baud) as relay:
        fly = subprocess.Popen([*cli, "fly", "--port", relay.port_b, "--baud", str(baud), "--state", f"{tmp}/state",
                                "--once"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            done = subprocess.run([*cli, "serve", "--port", relay.port_a, "--baud", str(baud), "edge-cubesat",
                                   "--duration", f"{duration_s:g}s", "--out", f"{tmp}/out", "--json"],
                                  capture_output=True, text=True, timeout=3600)
            fly.wait(timeout=30)
        finally:
            if fly.poll() is None:
                fly.kill()
                fly.wait()
        if done.returncode != 0:
            raise SystemExit(f"hil serve failed: {done.stderr.strip()}")
        s = json.loads(done.stdout)
        h = s["hil"]
        return {
            "speedup": h["ticks"] / h["tick_wall_seconds"],
            "frames_downlinked": s["frames_downlinked"],
            "link_frames_sent_per_tick": h["link_frames_sent_per_tick"],  # after the boot
            "link_frames_received_per_tick": h["link_frames_received_per_tick"],
            "retransmissions": h["link_retransmissions"],
        }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--seconds", type=float, default=3.0, help="goodput run per baud rate (default 3)")
    ap.add_argument("--ticks", type=int, default=50, help="TICK/TICK_DONE exchanges per baud rate (default 50)")
    ap.add_argument("--baud", type=int, action="append", help="baud rate (repeatable; default 115200 and 921600)")
    ap.add_argument("--no-lockstep", action="store_true", help="skip the lockstep runs (about a minute at 115200)")
    args = ap.parse_args(argv)
    if args.seconds <= 0 or args.ticks <= 0:
        print("--seconds and --ticks must be > 0", file=sys.stderr)
        return 2
    bauds = args.baud or list(BAUDS)
    out: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine(),
                           "radio_frame_octets": RADIO_FRAME,
                           "framing_limit_fraction": RADIO_FRAME / max_wire_size(RADIO_FRAME)}
    rows = []
    for baud in bauds:
        g = goodput(baud, args.seconds)
        r = rtt(baud, args.ticks)
        out[f"goodput_fraction_{baud}"] = round(g["goodput_fraction"], 4)
        out[f"goodput_bytes_per_s_{baud}"] = round(g["goodput_bytes_per_s"], 1)
        out[f"retransmissions_{baud}"] = g["retransmissions"]
        out[f"rtt_ms_{baud}"] = round(r["rtt_ms"], 3)
        out[f"rtt_ms_p90_{baud}"] = round(r["rtt_ms_p90"], 3)
        out[f"rtt_wire_ms_{baud}"] = round(r["wire_ms"], 3)
        out[f"frames_per_tick_host_{baud}"] = round(r["host_frames_per_tick"], 3)
        out[f"frames_per_tick_board_{baud}"] = round(r["board_frames_per_tick"], 3)
        out["tick_payload_octets"] = r["tick_payload"]
        out["tick_done_payload_octets"] = r["tick_done_payload"]
        lk: dict[str, Any] = {}
        if not args.no_lockstep:
            quiet, full = lockstep(baud, 250.0), lockstep(baud, 600.0)
            out[f"lockstep_speedup_{baud}"] = round(quiet["speedup"], 1)
            out[f"lockstep_speedup_contact_run_{baud}"] = round(full["speedup"], 1)
            out[f"lockstep_frames_per_tick_host_{baud}"] = round(quiet["link_frames_sent_per_tick"], 3)
            out[f"lockstep_frames_per_tick_board_{baud}"] = round(quiet["link_frames_received_per_tick"], 3)
            lk = {"quiet": quiet, "full": full}
        rows.append((baud, baud / 10, g, r, lk))
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"radio frames of {RADIO_FRAME} octets, framing limit {out['framing_limit_fraction']:.3f} of line rate; "
          f"TICK {out['tick_payload_octets']} octets (12 polled registers), TICK_DONE "
          f"{out['tick_done_payload_octets']} octets")
    print(f"{'baud':>8} {'line B/s':>9} {'goodput B/s':>12} {'fraction':>9} {'frames':>7} {'retx':>5} "
          f"{'rtt ms':>7} {'p90 ms':>7} {'wire ms':>8}")
    for baud, line, g, r, _ in rows:
        print(f"{baud:>8} {line:>9.0f} {g['goodput_bytes_per_s']:>12.0f} {g['goodput_fraction']:>9.3f} "
              f"{g['frames']:>7} {g['retransmissions']:>5} {r['rtt_ms']:>7.2f} {r['rtt_ms_p90']:>7.2f} "
              f"{r['wire_ms']:>8.2f}")
    print("wire ms: line time of the two frames alone (TICK out, TICK_DONE back)")
    for baud, _, _, r, _ in rows:
        print(f"{baud} baud: link frames per tick: host {r['host_frames_per_tick']:.2f}, "
              f"board {r['board_frames_per_tick']:.2f}")
    for baud, _, _, _, lk in rows:
        if lk:
            q, f = lk["quiet"], lk["full"]
            print(f"{baud} baud lockstep on edge-cubesat: {q['speedup']:.1f}x real time outside contacts "
                  f"({q['link_frames_sent_per_tick']:.2f} host / {q['link_frames_received_per_tick']:.2f} board "
                  f"frames per tick), {f['speedup']:.1f}x over 10 minutes with the pass "
                  f"({f['frames_downlinked']} frames downlinked)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
