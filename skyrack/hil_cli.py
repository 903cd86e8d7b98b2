"""`skyrack hil serve|fly`: hardware in the loop over a serial link, in lockstep or in real time.

  skyrack hil serve --port URL [--baud N] [SCENARIO] [--duration T] [--seed N] [--out DIR] [--radio-port URL]
                    [--realtime [--speed FACTOR]]
      the host: runs the emulator and serves its buses, radio and clock to the board; writes the outputs of
      `skyrack run` (downlink.cadu, summary.json, timeline.log) to DIR. --realtime paces simulated time to the
      wall clock (times FACTOR); the board follows
  skyrack hil fly --port URL [--baud N] [--radio-port URL] [--state DIR] [--real-payload [--payload-command CMD]]
      the board: runs the flight software against the link; its packet store and journals live in DIR.
      --real-payload runs the flight software's jobs as processes and sends the board's measured power

URL is a serial device (/dev/ttyUSB0, /dev/serial0 on a Raspberry Pi, /dev/ttyTHS1 on a Jetson), or
socket://HOST:PORT, rfc2217://HOST:PORT, loop://. With the same scenario and seed the downlink capture is
byte-identical to `skyrack run`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Any

from skyrack.run_cli import POLICY_NAMES, parse_duration


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="hil_command", metavar="serve|fly")
    sv = sub.add_parser("serve", help="host: serve the emulator to a board over a serial link",
                        description="Run the emulator and serve its buses, radio and clock to a board running "
                                    "`skyrack hil fly`, in lockstep; write the outputs of `skyrack run`.")
    sv.add_argument("scenario", nargs="?", default="edge-cubesat",
                    help="a preset name or a scenario TOML file (default: edge-cubesat)")
    _link_arguments(sv)
    sv.add_argument("--duration", type=parse_duration, default=600.0, metavar="T",
                    help="simulated time: 10m (default), 1h, 3600s")
    sv.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    sv.add_argument("--out", default="out", metavar="DIR", help="output directory (default: out)")
    sv.add_argument("--policy", default="skyrack", choices=POLICY_NAMES, help="compute scheduling policy")
    sv.add_argument("--timeout", type=float, default=30.0, metavar="S",
                    help="give up when the board has not answered for S seconds (default 30)")
    sv.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    sv.add_argument("--realtime", action="store_true",
                    help="real-time mode: simulated time follows the wall clock, the board flies on its own clock")
    sv.add_argument("--speed", type=float, default=None, metavar="FACTOR",
                    help="with --realtime: simulated seconds per wall second (default 1; implies --realtime)")
    sv.set_defaults(hil_func=run_serve)
    fl = sub.add_parser("fly", help="board: run the flight software against the host over a serial link",
                        description="Run the flight software with link-backed bus, radio and clock; wait for "
                                    "a host (`skyrack hil serve`), run its runs, survive its restarts.")
    _link_arguments(fl)
    fl.add_argument("--state", default="hil-state", metavar="DIR",
                    help="packet store, job journal and uplink state (default: hil-state)")
    fl.add_argument("--once", action="store_true", help="exit after one run instead of waiting for the next")
    fl.add_argument("--timeout", type=float, default=None, metavar="S",
                    help="give up when no host has answered within S seconds (default: wait)")
    fl.add_argument("--hold-after", type=float, default=5.0, metavar="S",
                    help="log that the board holds when the host has been silent for S seconds (default 5)")
    fl.add_argument("--bus-timeout", type=float, default=0.25, metavar="S",
                    help="real-time mode: a bus round trip fails after S wall seconds (default 0.25)")
    fl.add_argument("--real-payload", action="store_true",
                    help="run the flight software's jobs as processes on the board and send its measured power "
                         "(INA3221 rails) to the host, in place of the emulated payload's")
    fl.add_argument("--payload-command", default=None, metavar="CMD",
                    help="with --real-payload: the job's command; {job_id} and {seconds} are replaced "
                         "(default: python -m hil.burner --seconds {seconds})")
    fl.add_argument("--payload-rail", default=None, metavar="NAME",
                    help="with --real-payload: the INA3221 rail that is the payload (default: the board's input)")
    fl.add_argument("--payload-time-scale", type=float, default=None, metavar="X",
                    help="with --real-payload: a job's process runs at most its remaining work times X wall "
                         "seconds (default: 1 / speed in real time, 1 in lockstep)")
    fl.add_argument("--sysfs-root", default="/", metavar="DIR",
                    help="where the board's sysfs files are read from (default /; a fake tree for tests)")
    fl.set_defaults(hil_func=run_fly)


def _link_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", required=True, metavar="URL",
                   help="the serial link: a device path, socket://HOST:PORT, rfc2217://HOST:PORT or loop://")
    p.add_argument("--baud", type=int, default=115200, metavar="N", help="baud rate (default 115200)")
    p.add_argument("--radio-port", default=None, metavar="URL",
                   help="carry radio frames on this second link (for example socket:// over Ethernet)")
    p.add_argument("--tap", default=None, metavar="FILE", help="record the link traffic to FILE")


def _open(args: argparse.Namespace, url: str, tap: str | None) -> tuple[Any, Any]:
    """(port, link config) for url."""
    from hil.fly import link_config
    from hil.transport import Tap, open_port

    port = open_port(url, args.baud)
    if tap is not None:
        port = Tap(port, tap)
    return port, link_config(url, args.baud)


def _open_ports(args: argparse.Namespace, ports: list[Any]) -> tuple[Any, Any, Any, Any]:
    """(port, its link config, radio port or None, its config or None) from --port, --tap and --radio-port;
    each port opened is appended to `ports` (for the caller to close)."""
    port, cfg = _open(args, args.port, args.tap)
    ports.append(port)
    radio_port = radio_cfg = None
    if args.radio_port is not None:
        radio_port, radio_cfg = _open(args, args.radio_port, None)
        ports.append(radio_port)
    return port, cfg, radio_port, radio_cfg


def _check_common(args: argparse.Namespace, prog: str, err: IO[str]) -> bool:
    if args.baud <= 0:
        err.write(f"{prog}: --baud must be > 0, got {args.baud}\n")
        return False
    if args.timeout is not None and args.timeout <= 0:
        err.write(f"{prog}: --timeout must be > 0 seconds, got {args.timeout}\n")
        return False
    return True


def run_serve(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    import json

    from emulator.scenario import ScenarioError
    from hil.host import Host, scenario_text
    from hil.lockstep import LockstepError
    from hil.transport import TransportError
    from skyrack.progress import Progress

    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    prog = "skyrack hil serve"
    if not _check_common(args, prog, err):
        return 2
    if args.speed is not None and not args.speed > 0:
        err.write(f"{prog}: --speed must be > 0, got {args.speed}\n")
        return 2
    speed = (args.speed if args.speed is not None else 1.0) if args.realtime or args.speed is not None else None
    if args.seed is not None and not 0 <= args.seed < 2**63:
        err.write(f"{prog}: --seed must be in 0 .. 2**63 - 1, got {args.seed}\n")
        return 2
    try:
        scenario_text(args.scenario)
    except ScenarioError as exc:
        err.write(f"{prog}: {exc}\n")
        return 2
    ports: list[Any] = []
    host: Host | None = None
    try:
        port, cfg, radio_port, radio_cfg = _open_ports(args, ports)
        def log(text: str) -> None:
            err.write(f"{prog}: {text}\n")

        host = Host(port, config=cfg, radio_port=radio_port, radio_config=radio_cfg, timeout_s=args.timeout,
                    port_name=args.port, log=log)
        board = host.connect()
        err.write(f"{prog}: board connected ({board.software or 'unknown software'})\n")
        bar = Progress(args.duration, "hil serve", "sim s", stream=err)  # type: ignore[arg-type]
        try:
            result = host.run(args.scenario, args.duration, Path(args.out), seed=args.seed, policy=args.policy,
                              progress=bar.update, speed=speed)
        finally:
            bar.close()
    except TransportError as exc:
        err.write(f"{prog}: {exc}\n")
        return 2
    except LockstepError as exc:
        err.write(f"{prog}: {exc}\n")
        if host is not None:
            host.close(f"the host stopped: {exc}")
        return 1
    except KeyboardInterrupt:
        at = f" at t = {host.t_ns / 1e9:.0f} s" if host is not None and host.running else ""
        err.write(f"{prog}: interrupted{at}; partial outputs in {args.out}\n")
        if host is not None:
            host.close("the host was interrupted")
        return 130
    except OSError as exc:
        err.write(f"{prog}: {exc}\n")
        return 1
    finally:
        for p in ports:
            p.close()
    s = result.summary
    if args.json:
        out.write(json.dumps(s) + "\n")
        return 0
    h = s["hil"]
    out.write(f"{s['scenario']}: {s['sim_seconds']:,.0f} simulated s in {s['wall_seconds']:.1f} s "
              f"({s['speed_factor']:,.1f}x real time) over {args.port}\n")
    out.write(f"  ticks {h['ticks']}, board step {h['board_step_ms_mean']:.2f} ms mean, "
              f"{h['board_step_ms_max']:.2f} ms max; bus round trips {h['bus_batches']}\n")
    out.write(f"  link: {h['link_frames_sent']} frames sent, {h['link_frames_received']} received, "
              f"{h['link_retransmissions']} retransmitted, {h['link_rejected_frames']} rejected, "
              f"srtt {h['link_srtt_ms']:.1f} ms\n")
    rt = h.get("realtime")
    if rt is not None:
        out.write(f"  real time x{rt['speed']:g}: board clock offset {rt['clock_offset_ms_max']:.2f} ms max, "
                  f"jitter {rt['clock_jitter_ms']:.2f} ms, round trip {rt['clock_rtt_ms']:.1f} ms; "
                  f"bus timeouts {rt['bus_timeouts']}, ticks late by {rt['board_tick_late_max_ms']:.1f} ms max\n")
    out.write(f"  frames downlinked {s['frames_downlinked']}; outputs in {result.out_dir}/: downlink.cadu, "
              "summary.json, timeline.log\n")
    return 0


def run_fly(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    from hil.fly import Board
    from hil.lockstep import LockstepError
    from hil.transport import TransportError

    err = err if err is not None else sys.stderr
    prog = "skyrack hil fly"
    if not _check_common(args, prog, err):
        return 2
    if not args.bus_timeout > 0:
        err.write(f"{prog}: --bus-timeout must be > 0 seconds, got {args.bus_timeout}\n")
        return 2

    def log(text: str) -> None:
        err.write(f"{prog}: {text}\n")
        err.flush()

    ports: list[Any] = []
    try:
        port, cfg, radio_port, radio_cfg = _open_ports(args, ports)
        real_payload = None
        if args.real_payload:
            from hil.real_payload import DEFAULT_COMMAND, RealPayload

            real_payload = RealPayload(args.payload_command or DEFAULT_COMMAND, args.sysfs_root,
                                       rail=args.payload_rail, log=log,
                                       time_scale=args.payload_time_scale if args.payload_time_scale else 1.0)
            real_payload.fixed_scale = args.payload_time_scale is not None
            if real_payload.power_w() is None:
                log(f"--real-payload: no INA3221 rail{' ' + args.payload_rail if args.payload_rail else ''} under "
                    f"{args.sysfs_root}: the host keeps the emulated payload's power")
        elif args.payload_command is not None or args.payload_rail is not None or args.payload_time_scale:
            err.write(f"{prog}: --payload-command and --payload-rail go with --real-payload\n")
            return 2
        board = Board(port, Path(args.state), config=cfg, radio_port=radio_port, radio_config=radio_cfg, log=log,
                      once=args.once, hold_after_s=args.hold_after, connect_timeout_s=args.timeout,
                      sysfs_root=args.sysfs_root, real_payload=real_payload, bus_timeout_s=args.bus_timeout)
        log(f"waiting for the host on {args.port}")
        return board.run()
    except TransportError as exc:
        log(str(exc))
        return 2
    except LockstepError as exc:
        log(str(exc))
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except OSError as exc:
        log(str(exc))
        return 1
    finally:
        for p in ports:
            p.close()


def run(args: argparse.Namespace) -> int:
    """`skyrack hil serve|fly`."""
    func = getattr(args, "hil_func", None)
    if func is None:
        sys.stderr.write("skyrack hil: say serve (the host) or fly (the board); see skyrack hil --help\n")
        return 2
    rc: int = func(args)
    return rc
