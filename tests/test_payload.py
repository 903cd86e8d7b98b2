"""Payload: job progress at the mode throughput, thermal throttling, the
latched shutdown and the stuck-at-max fault, driven through the payload
controller's registers (docs/registers.md)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from oracles import NS, run_log

from emulator import Emulator, load
from emulator.faults import PayloadStuckMax
from emulator.scenario import Scenario

CTRL = 0x50
MODE, JOB_CTRL, JOB_ID, WORK_HI, WORK_LO, DONE_HI, DONE_LO, STATUS = 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x02
POWER, THROTTLE = 0x0A, 0x0C
RUNNING, DONE, THROTTLED, SHUTDOWN = 1, 2, 4, 8


def write(emu: Emulator, reg: int, value: int) -> None:
    emu.bus.transfer(CTRL, bytes([reg, value >> 8, value & 0xFF]), 0)


def read(emu: Emulator, reg: int) -> int:
    raw = emu.bus.transfer(CTRL, bytes([reg]), 2)
    return raw[0] << 8 | raw[1]


def start_job(emu: Emulator, job_id: int, units: int) -> None:
    write(emu, JOB_ID, job_id)
    write(emu, WORK_HI, units >> 16)
    write(emu, WORK_LO, units & 0xFFFF)
    write(emu, JOB_CTRL, 1)


def job_done_units(emu: Emulator) -> int:
    hi = read(emu, DONE_HI)
    return hi << 16 | read(emu, DONE_LO)


def hot_payload(sc: Scenario, initial_c: float) -> Scenario:
    k = sc.node_index("payload")
    nodes = list(sc.nodes)
    nodes[k] = replace(nodes[k], initial_c=initial_c)
    return replace(sc, nodes=tuple(nodes))


@pytest.mark.parametrize("mode", [1, 2, 3, 4])
def test_job_work_advances_at_the_mode_throughput(mode: int) -> None:
    sc = load("gpu-node")
    pm = sc.payload
    assert pm is not None
    emu = Emulator(sc)
    write(emu, MODE, mode)
    throughput = pm.modes[mode - 1].throughput
    units = 3000  # 30 s of full-throughput work
    start_job(emu, 77, units)
    assert read(emu, STATUS) & RUNNING
    emu.advance(10 * NS)
    st = emu.state
    assert float(st["job_done_s"]) == pytest.approx(10.0 * throughput, rel=1e-12)
    assert float(st["payload_power_w"]) == pytest.approx(pm.modes[mode - 1].power_w)
    assert float(st["payload_throughput"]) == pytest.approx(throughput)
    assert job_done_units(emu) == int(10.0 * throughput / 0.01 + 1e-6)
    # finishes after work / throughput seconds, then reads exactly JOB_WORK and DONE
    finish_s = 30.0 / throughput
    emu.advance(int((finish_s - 10.0 - 1.0) * NS))
    assert read(emu, STATUS) & RUNNING and not read(emu, STATUS) & DONE
    emu.advance(2 * NS)
    status = read(emu, STATUS)
    assert status & DONE and not status & RUNNING
    assert job_done_units(emu) == units
    assert float(st["job_done_s"]) == pytest.approx(30.0)
    assert float(st["work_total_s"]) == pytest.approx(30.0)
    assert float(st["job_id"]) == 77.0
    # an idle part sits at the lowest mode's power
    emu.advance(2 * NS)
    assert float(st["payload_power_w"]) == pytest.approx(pm.modes[0].power_w)


def test_mode_zero_draws_nothing_and_does_no_work() -> None:
    emu = Emulator(load("gpu-node"))
    write(emu, MODE, 0)
    start_job(emu, 1, 500)
    emu.advance(20 * NS)
    assert float(emu.state["payload_power_w"]) == 0.0
    assert float(emu.state["job_done_s"]) == 0.0


def test_throttling_above_throttle_point_reduces_power() -> None:
    sc = hot_payload(load("gpu-node"), 72.0)
    pm = sc.payload
    assert pm is not None
    emu = Emulator(sc)
    write(emu, MODE, 4)
    start_job(emu, 5, 10_000_000)
    d = run_log(emu, ["payload_power_w", "payload_die_c", "payload_throttle", "payload_throughput",
                      "node_temp_k[payload]", "job_done_s"], 20.0, 1.0)
    die, thr, w = d["payload_die_c"], d["payload_throttle"], d["payload_power_w"]
    # 72 C + 0.03 K/W x 700 W would be 93 C: the part throttles to the self-consistent power instead
    assert die[0] == pytest.approx(72.0 + 0.03 * w[0])
    assert die[0] > pm.throttle_c
    assert np.all(die < pm.shutdown_c)
    # the throttle is proportional to the excess over the throttle point
    expected = np.clip(1 - (die - pm.throttle_c) / (pm.shutdown_c - pm.throttle_c), 0, 1)
    assert np.allclose(thr, expected, atol=1e-12)
    assert thr.min() < 0.85
    # throttled: less power than the mode's and never under the idle mode
    assert w.max() < 0.95 * pm.modes[-1].power_w and w.min() >= pm.modes[0].power_w
    assert np.allclose(w, pm.modes[-1].power_w * thr, rtol=1e-12)
    # die temperature = node (at the start of the substep) + junction resistance x power
    assert np.allclose(die[1:], d["node_temp_k[payload]"][:-1] - 273.15 + pm.junction_k_per_w * w[1:], atol=1e-9)
    # throughput follows the DVFS curve at the throttled power, and so does the work done
    powers = [m.power_w for m in pm.modes]
    through = [m.throughput for m in pm.modes]
    assert np.allclose(d["payload_throughput"], np.interp(w, powers, through), atol=1e-12)
    assert np.allclose(np.diff(d["job_done_s"]), d["payload_throughput"][1:], atol=1e-12)
    assert d["job_done_s"][-1] < 0.95 * 20.0


def test_throttled_power_settles_to_the_thermal_equilibrium() -> None:
    sc = hot_payload(load("gpu-node"), 75.0)
    pm = sc.payload
    assert pm is not None
    emu = Emulator(sc)
    write(emu, MODE, 4)
    start_job(emu, 5, 10_000_000)
    d = run_log(emu, ["payload_power_w", "node_temp_k[payload]"], 60.0, 1.0)
    w, node_c = d["payload_power_w"], d["node_temp_k[payload]"] - 273.15
    # self-consistent throttle: p = P_max (1 - (T + k p - T_thr) / (T_sd - T_thr))
    span = pm.shutdown_c - pm.throttle_c
    p_max = pm.modes[-1].power_w
    p_eq = p_max * (1 - (node_c - pm.throttle_c) / span) / (1 + p_max * pm.junction_k_per_w / span)
    p_eq = np.clip(p_eq, pm.modes[0].power_w, p_max)
    assert np.abs(w[10:] - p_eq[9:-1]).max() < 20.0, (w[10:16], p_eq[9:15])


def test_no_throttling_below_throttle_point() -> None:
    emu = Emulator(load("gpu-node"))
    write(emu, MODE, 4)
    start_job(emu, 5, 10_000_000)
    emu.advance(60 * NS)
    assert float(emu.state["payload_throttle"]) == 1.0
    assert float(emu.state["payload_power_w"]) == 700.0
    assert not read(emu, STATUS) & THROTTLED


def test_shutdown_latches_until_cooled_and_commanded() -> None:
    sc = hot_payload(load("gpu-node"), 100.0)
    pm = sc.payload
    assert pm is not None
    emu = Emulator(sc)
    write(emu, MODE, 2)
    emu.advance(2 * NS)
    assert read(emu, STATUS) & SHUTDOWN
    assert float(emu.state["payload_power_w"]) == 0.0
    # a mode written while the die is still hot does not clear the latch
    write(emu, MODE, 3)
    emu.advance(2 * NS)
    assert read(emu, STATUS) & SHUTDOWN and float(emu.state["payload_power_w"]) == 0.0
    # cool well below the recovery point (heat pipes to the radiator): still off until commanded
    d = run_log(emu, ["payload_die_c", "payload_power_w", "payload_shutdown"], 1800.0, 10.0)
    assert np.all(d["payload_power_w"] == 0.0) and np.all(d["payload_shutdown"] == 1.0)
    assert d["payload_die_c"][-1] < pm.recover_c - 5.0
    write(emu, MODE, 3)
    assert not read(emu, STATUS) & SHUTDOWN
    emu.advance(2 * NS)
    assert float(emu.state["payload_power_w"]) == pytest.approx(pm.modes[0].power_w)  # no job: idle power
    start_job(emu, 9, 100_000)
    emu.advance(2 * NS)
    assert float(emu.state["payload_power_w"]) == pytest.approx(pm.modes[2].power_w)


def test_shutdown_not_cleared_between_recover_and_shutdown() -> None:
    sc = hot_payload(load("gpu-node"), 100.0)
    pm = sc.payload
    assert pm is not None
    emu = Emulator(sc)
    write(emu, MODE, 1)
    emu.advance(NS)
    assert read(emu, STATUS) & SHUTDOWN
    while float(emu.state["payload_die_c"]) > pm.recover_c + 3.0:
        emu.advance(5 * NS)
    assert float(emu.state["payload_die_c"]) > pm.recover_c
    write(emu, MODE, 1)
    emu.advance(NS)
    assert read(emu, STATUS) & SHUTDOWN and float(emu.state["payload_power_w"]) == 0.0


@pytest.mark.parametrize("mode", [0, 1, 3])
def test_payload_stuck_max_draws_max_power_regardless_of_mode(mode: int) -> None:
    sc = load("gpu-node")
    pm = sc.payload
    assert pm is not None
    emu = Emulator(sc)
    write(emu, MODE, mode)
    emu.inject(PayloadStuckMax())
    emu.advance(5 * NS)
    assert float(emu.state["payload_power_w"]) == pm.modes[-1].power_w
    assert float(emu.state["load_power_w"][pm.load]) == pm.modes[-1].power_w
    assert abs(read(emu, POWER) * 0.1 - 700.0) < 5.0
    emu.inject(PayloadStuckMax(on=False))
    emu.advance(2 * NS)
    expected = 0.0 if mode == 0 else pm.modes[0].power_w
    assert float(emu.state["payload_power_w"]) == expected


def test_payload_stuck_max_ignores_throttle_and_shutdown() -> None:
    sc = hot_payload(load("gpu-node"), 100.0)
    emu = Emulator(sc)
    write(emu, MODE, 1)
    emu.advance(NS)
    assert read(emu, STATUS) & SHUTDOWN
    emu.inject(PayloadStuckMax())
    d = run_log(emu, ["payload_power_w", "payload_die_c"], 30.0, 1.0)
    assert np.all(d["payload_power_w"] == 700.0)
    assert np.all(d["payload_die_c"] > 97.0)
