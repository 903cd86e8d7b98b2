"""Lockstep HIL end to end: `skyrack hil serve` and `skyrack hil fly` over a pseudo-terminal pair through the
paced relay (hil.relay), against `skyrack run` (skyrack.sil.run) on the same scenario and seed.

The edge-cubesat preset has a ground pass from t = 266 s at 9.6 kbit/s, so a 420 s run downlinks about 150
frames. The relay runs at 921600 baud to keep the tests short."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from threads import in_thread

from emulator.faults import DeviceNack
from emulator.scenario import load
from hil.fly import Board, link_config
from hil.frame import encode_frame
from hil.host import Host
from hil.messages import Hello, Kind, Role
from hil.relay import PtyRelay
from hil.transport import open_port
from skyrack.sil import run as sil_run

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")

BAUD = 921600
SCENARIO = "edge-cubesat"
SEED = 11
COMPARED = ("events", "packets_generated", "housekeeping_generated", "packets_downlinked", "packets_stored",
            "frames_downlinked", "safe_mode_entries", "violations", "mode_time_s", "jobs_completed",
            "jobs_delivered", "min_soc", "energy_used_j", "device_init_errors")


@pytest.fixture(scope="module")
def sil(tmp_path_factory: pytest.TempPathFactory) -> dict[float, Path]:
    """SIL reference runs, by duration."""
    out: dict[float, Path] = {}
    for duration in (300.0, 420.0):
        d = tmp_path_factory.mktemp(f"sil{int(duration)}")
        sil_run(load(SCENARIO), duration, d, seed=SEED)
        out[duration] = d
    return out


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "skyrack.cli", "hil", *args]


def _fly(port: str, state: Path, stderr: Any, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(_cli("fly", "--port", port, "--baud", str(BAUD), "--state", str(state), *extra),
                            stdout=subprocess.DEVNULL, stderr=stderr)


def _serve(port: str, out: Path, duration: float, *extra: str) -> list[str]:
    return _cli("serve", "--port", port, "--baud", str(BAUD), SCENARIO, "--duration", f"{duration:g}s",
                "--seed", str(SEED), "--out", str(out), *extra)


def _same_run(hil: Path, sil: Path) -> None:
    import json

    assert (hil / "downlink.cadu").read_bytes() == (sil / "downlink.cadu").read_bytes()
    assert (hil / "timeline.log").read_text() == (sil / "timeline.log").read_text()
    h = json.loads((hil / "summary.json").read_text())
    s = json.loads((sil / "summary.json").read_text())
    assert {k: h[k] for k in COMPARED} == {k: s[k] for k in COMPARED}


@pytest.fixture
def relay_factory() -> Iterator[Any]:
    relays: list[PtyRelay] = []

    def make(**kw: Any) -> PtyRelay:
        r = PtyRelay(baud=BAUD, **kw).start()
        relays.append(r)
        return r

    yield make
    for r in relays:
        r.stop()


def _two_processes(relay: PtyRelay, tmp_path: Path, duration: float) -> subprocess.CompletedProcess[str]:
    with (tmp_path / "fly.log").open("wb") as log:
        fly = _fly(relay.port_b, tmp_path / "state", log, "--once")
        try:
            served = subprocess.run(_serve(relay.port_a, tmp_path / "hil", duration), capture_output=True,
                                    text=True, timeout=120)
            assert fly.wait(timeout=20) == 0
        finally:
            if fly.poll() is None:
                fly.kill()
                fly.wait()
    assert served.returncode == 0, served.stderr
    return served


def test_lockstep_capture_identical_to_sil(sil: dict[float, Path], relay_factory: Any, tmp_path: Path) -> None:
    served = _two_processes(relay_factory(), tmp_path, 420.0)
    assert "frames downlinked" in served.stdout
    _same_run(tmp_path / "hil", sil[420.0])
    assert (sil[420.0] / "downlink.cadu").stat().st_size > 100_000  # the pass is in the capture


def test_lockstep_identical_with_bit_errors(sil: dict[float, Path], relay_factory: Any, tmp_path: Path) -> None:
    import json

    relay = relay_factory(ber=1e-5, seed=4)
    _two_processes(relay, tmp_path, 420.0)
    assert relay.stats.bits_flipped > 0
    h = json.loads((tmp_path / "hil" / "summary.json").read_text())["hil"]
    assert h["link_retransmissions"] > 0 or h["link_rejected_frames"] > 0
    _same_run(tmp_path / "hil", sil[420.0])


def test_board_survives_host_restart_and_garbage(sil: dict[float, Path], relay_factory: Any,
                                                 tmp_path: Path) -> None:
    relay = relay_factory()
    log_path = tmp_path / "fly.log"
    with log_path.open("wb") as log:
        fly = _fly(relay.port_b, tmp_path / "state", log)
        try:
            first = subprocess.Popen(_serve(relay.port_a, tmp_path / "first", 600.0), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            t_end = time.monotonic() + 30
            while "starting run" not in log_path.read_text() and time.monotonic() < t_end:
                time.sleep(0.05)
            time.sleep(0.5)
            first.kill()  # the host dies mid-run
            first.wait()
            garbage = open_port(relay.port_a, BAUD)
            garbage.write(random.Random(1).randbytes(300))  # noise on the line towards the board
            time.sleep(0.2)
            garbage.close()
            again = subprocess.run(_serve(relay.port_a, tmp_path / "hil", 300.0), capture_output=True, text=True,
                                   timeout=120)
            assert again.returncode == 0, again.stderr
            assert fly.poll() is None  # the board flies on, waiting for the next host
        finally:
            fly.terminate()
            fly.wait(timeout=10)
    text = log_path.read_text()
    assert text.count("host connected") == 2
    assert "new host session" in text
    assert "Traceback" not in text
    _same_run(tmp_path / "hil", sil[300.0])


def test_cable_unplugged_board_holds_then_carries_on(sil: dict[float, Path], relay_factory: Any,
                                                     tmp_path: Path) -> None:
    """Both ends in threads of this process: the cable is pulled for 2.5 s mid-run."""
    relay = relay_factory()
    lines: list[str] = []
    board = Board(open_port(relay.port_b, BAUD), tmp_path / "state", config=link_config(relay.port_b, BAUD),
                  log=lines.append, once=True, hold_after_s=1.0)
    th, errors = in_thread(board.run)
    host = Host(open_port(relay.port_a, BAUD), config=link_config(relay.port_a, BAUD), timeout_s=20)
    host.connect()

    def pull() -> None:
        while host.t_ns < 100 * 10**9:
            time.sleep(0.01)
        relay.unplug()
        time.sleep(2.5)
        relay.plug()

    puller = threading.Thread(target=pull, daemon=True)
    puller.start()
    host.run(SCENARIO, 300.0, tmp_path / "hil", seed=SEED)
    th.join(10)
    assert not errors
    assert relay.stats.a_to_b.bytes_lost_unplugged + relay.stats.b_to_a.bytes_lost_unplugged > 0
    assert any("holding" in line for line in lines)
    _same_run(tmp_path / "hil", sil[300.0])


def test_lockstep_exact_through_a_device_fault(relay_factory: Any, tmp_path: Path) -> None:
    """A sensor stops answering mid-run: the poll the board declares changes, and the reads stay exact."""
    faults = ((30.0, DeviceNack("temp_battery")), (60.0, DeviceNack("temp_battery", on=False)))
    sil_run(load(SCENARIO), 90.0, tmp_path / "sil", seed=SEED, faults=faults)
    relay = relay_factory()
    board = Board(open_port(relay.port_b, BAUD), tmp_path / "state", config=link_config(relay.port_b, BAUD),
                  once=True)
    th = threading.Thread(target=board.run, daemon=True)
    th.start()
    host = Host(open_port(relay.port_a, BAUD), config=link_config(relay.port_a, BAUD), timeout_s=20)
    host.connect()
    result = host.run(SCENARIO, 90.0, tmp_path / "hil", seed=SEED, faults=faults)
    th.join(10)
    assert result.summary["hil"]["bus_batches"] > 20  # the failing device was read the slow way
    _same_run(tmp_path / "hil", tmp_path / "sil")


def _fake_peer_hello(port: Any, role: Role) -> None:
    hello = Hello(2, role, 0x1234, software="skyrack-hil from the future")
    port.write(encode_frame(Kind.HELLO, hello.encode(), version=2))


def test_serve_reports_a_version_mismatch(relay_factory: Any, tmp_path: Path) -> None:
    relay = relay_factory()
    peer = open_port(relay.port_b, BAUD)
    serve = subprocess.Popen(_serve(relay.port_a, tmp_path / "out", 60.0, "--timeout", "10"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while serve.poll() is None:
            _fake_peer_hello(peer, Role.BOARD)
            time.sleep(0.1)
        _, err = serve.communicate(timeout=10)
    finally:
        peer.close()
    assert serve.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("skyrack hil serve: protocol version mismatch")
    assert "version 2" in lines[0] and "same release" in lines[0]


def test_fly_reports_a_version_mismatch_and_waits(relay_factory: Any, tmp_path: Path) -> None:
    relay = relay_factory()
    peer = open_port(relay.port_a, BAUD)
    log_path = tmp_path / "fly.log"
    with log_path.open("wb") as log:
        fly = _fly(relay.port_b, tmp_path / "state", log)
        try:
            t_end = time.monotonic() + 20
            while "version mismatch" not in log_path.read_text() and time.monotonic() < t_end:
                _fake_peer_hello(peer, Role.HOST)
                time.sleep(0.1)
            assert fly.poll() is None  # it keeps waiting for a host of its own version
        finally:
            fly.terminate()
            fly.wait(timeout=10)
            peer.close()
    text = log_path.read_text()
    assert "protocol version mismatch" in text and "Traceback" not in text


def test_serve_times_out_without_a_board(relay_factory: Any, tmp_path: Path) -> None:
    relay = relay_factory()
    served = subprocess.run(_serve(relay.port_a, tmp_path / "out", 60.0, "--timeout", "1"), capture_output=True,
                            text=True, timeout=60)
    assert served.returncode == 1
    assert served.stderr.strip().splitlines() == [served.stderr.strip()]
    assert "no board answered" in served.stderr and "Traceback" not in served.stderr


def test_serve_interrupted_cleanly(relay_factory: Any, tmp_path: Path) -> None:
    relay = relay_factory()
    serve = subprocess.Popen(_serve(relay.port_a, tmp_path / "out", 60.0), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    serve.send_signal(signal.SIGINT)
    _, err = serve.communicate(timeout=20)
    assert serve.returncode == 130
    assert "interrupted" in err and "Traceback" not in err


def test_missing_device_is_one_line(tmp_path: Path) -> None:
    for args in (_serve(str(tmp_path / "ttyNONE"), tmp_path / "o", 10.0), _cli("fly", "--port", str(tmp_path / "x"))):
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and "cannot open" in done.stderr


def test_radio_port_carries_the_frames(sil: dict[float, Path], relay_factory: Any, tmp_path: Path) -> None:
    """--radio-port: bus and ticks on the UART, radio frames on a second link (a network link: no line model)."""
    uart, radio = relay_factory(), relay_factory()
    radio_cfg = link_config("socket://board:10020", BAUD)  # a network link: no line model
    board = Board(open_port(uart.port_b, BAUD), tmp_path / "state", config=link_config(uart.port_b, BAUD),
                  radio_port=open_port(radio.port_b, BAUD), radio_config=radio_cfg, once=True)
    th = threading.Thread(target=board.run, daemon=True)
    th.start()
    host = Host(open_port(uart.port_a, BAUD), config=link_config(uart.port_a, BAUD),
                radio_port=open_port(radio.port_a, BAUD), radio_config=radio_cfg, timeout_s=20)
    host.connect()
    result = host.run(SCENARIO, 420.0, tmp_path / "hil", seed=SEED)
    th.join(10)
    assert result.summary["hil"]["radio_tm_frames"] > 100
    assert radio.stats.b_to_a.bytes_relayed > 100_000 > uart.stats.b_to_a.bytes_relayed
    _same_run(tmp_path / "hil", sil[420.0])


def test_host_carries_on_when_the_board_restarts(relay_factory: Any, tmp_path: Path) -> None:
    """The board process dies mid-run and starts again: it resumes on its store at the host's time."""
    import json

    relay = relay_factory()
    log1, log2 = tmp_path / "fly1.log", tmp_path / "fly2.log"
    with log1.open("wb") as f1, log2.open("wb") as f2:
        fly = _fly(relay.port_b, tmp_path / "state", f1)
        serve = subprocess.Popen(_serve(relay.port_a, tmp_path / "hil", 300.0), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        again: subprocess.Popen[bytes] | None = None
        try:
            t_end = time.monotonic() + 30
            while "starting run" not in log1.read_text() and time.monotonic() < t_end:
                time.sleep(0.05)
            time.sleep(1.0)
            fly.kill()  # the board loses power mid-run
            fly.wait()
            again = _fly(relay.port_b, tmp_path / "state", f2, "--once")
            _, err = serve.communicate(timeout=120)
            assert again.wait(timeout=20) == 0
        finally:
            for p in (serve, fly, again):
                if p is not None and p.poll() is None:
                    p.kill()
                    p.wait()
    assert serve.returncode == 0, err
    assert "the board restarted" in err
    assert "resuming run" in log2.read_text()
    assert json.loads((tmp_path / "hil" / "summary.json").read_text())["boots"] == 2
