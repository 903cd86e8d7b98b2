"""Real-payload mode: the flight software's jobs run as processes on the board, and the power the board measures
(INA3221 rails in sysfs; here a fake tree the test writes) replaces the emulated payload's draw on the host."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from hil.fly import Board, link_config
from hil.host import Host
from hil.real_payload import RealPayload
from hil.relay import PtyRelay
from hil.transport import open_port

BAUD = 921600


def write_rails(root: Path, vdd_in_w: float, gpu_w: float = 1.0) -> None:
    """A Jetson's INA3221 in hwmon: VDD_IN at 5 V carrying vdd_in_w, and a GPU rail."""
    dev = root / "sys" / "class" / "hwmon" / "hwmon1"
    dev.mkdir(parents=True, exist_ok=True)
    (dev / "name").write_text("ina3221\n")
    for ch, label, watts in ((1, "VDD_IN", vdd_in_w), (2, "VDD_CPU_GPU_CV", gpu_w)):
        (dev / f"in{ch}_label").write_text(label + "\n")
        (dev / f"in{ch}_input").write_text("5000\n")
        (dev / f"curr{ch}_input").write_text(f"{round(watts * 200)}\n")  # mA at 5 V


def test_real_payload_reads_the_rails_and_runs_jobs(tmp_path: Path) -> None:
    write_rails(tmp_path, 7.5, 2.0)
    marker = tmp_path / "ran"
    rp = RealPayload([sys.executable, "-c", f"open({str(marker)!r}, 'w').write('{{job_id}} {{seconds}}')"],
                     tmp_path, time_scale=0.5)
    assert rp.power_w() == pytest.approx(7.5)
    assert rp.power_mw() == 7500
    assert RealPayload("true", tmp_path, rail="VDD_CPU_GPU_CV").power_w() == pytest.approx(2.0)
    assert RealPayload("true", tmp_path / "nothing").power_mw() == -1
    rp.sync((12, 30.0))
    assert rp.jobs_started == 1
    rp.sync((12, 29.0))  # the same job: nothing new
    assert rp.jobs_started == 1
    assert rp.proc is not None
    rp.proc.wait(timeout=20)
    assert marker.read_text() == "12 15.000"
    rp.sync(None)
    assert rp.proc is None


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")
def test_host_payload_power_follows_the_board_measurement(tmp_path: Path) -> None:
    """Lockstep over the paced relay: the flight software turns the payload on at t = 60 s (NOMINAL) and starts
    a job; the burner runs; the host's emulated payload draws what the fake rails say, 6 W, then 11 W."""
    root = tmp_path / "sysfs"
    write_rails(root, 6.0)
    relay = PtyRelay(baud=BAUD).start()
    try:
        rp = RealPayload(f"{sys.executable} -m hil.burner --cpu --size 64 --seconds {{seconds}}", root,
                         time_scale=0.002)
        board = Board(open_port(relay.port_b, BAUD), tmp_path / "state", config=link_config(relay.port_b, BAUD),
                      once=True, sysfs_root=root, real_payload=rp)
        th = threading.Thread(target=board.run, daemon=True)
        th.start()
        host = Host(open_port(relay.port_a, BAUD), config=link_config(relay.port_a, BAUD), timeout_s=20)
        host.connect()
        seen: dict[str, float] = {}

        def change() -> None:
            while host.t_ns < 90 * 10**9:
                if host.emu is not None and host.t_ns > 70 * 10**9 and "at_70" not in seen:
                    seen["at_70"] = float(host.emu.state["payload_power_w"])
                time.sleep(0.005)
            write_rails(root, 11.0)

        changer = threading.Thread(target=change, daemon=True)
        changer.start()
        result = host.run("edge-cubesat", 120.0, tmp_path / "hil", seed=11)
        th.join(10)
        changer.join(5)
    finally:
        relay.stop()
    s = result.summary
    assert s["hil"]["real_payload"]["power_samples"] >= 100
    assert s["hil"]["real_payload"]["jobs_started"] >= 1
    assert seen["at_70"] == pytest.approx(6.0)
    assert host.emu.payload_power_override == pytest.approx(11.0)
    assert float(host.emu.state["payload_power_w"]) == pytest.approx(11.0)
    # the logged plant: the model's 0 W before the payload is switched on, then the measured power
    import csv

    rows = list(csv.DictReader((tmp_path / "hil" / "timeseries.csv").open()))
    power = np.array([float(r["payload_power_w"]) for r in rows])
    assert set(np.round(power, 3)) <= {0.0, 6.0, 11.0}
    assert 6.0 in power and 11.0 in power
    assert s["safe_mode_entries"] == 0
