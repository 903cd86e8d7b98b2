"""Payload controller driver: modes, jobs at the mode's throughput, the latched JOB_DONE pair."""

from __future__ import annotations

from dataclasses import replace

import pytest

from emulator import Emulator, Scenario, load
from flight.drivers import DeviceIdError, Health, PayloadCtrl, PayloadStatus

NS = 1_000_000_000
POWER_LSB_W = 0.1
TEMP_LSB_C = 7.8125e-3
UNIT_S = 0.01
MODES = {1: (70.0, 0.05), 2: (300.0, 0.55), 3: (500.0, 0.85), 4: (700.0, 1.0)}  # gpu-node: power W, throughput


def scenario(noise: float | None) -> Scenario:
    sc = load("gpu-node")
    if noise is None:
        return sc
    return replace(sc, devices=tuple(replace(d, noise=noise) for d in sc.devices))


def controller(noise: float | None = 0.0) -> tuple[Emulator, PayloadCtrl]:
    emu = Emulator(scenario(noise))
    pl = PayloadCtrl(emu.buses[0], 0x50)
    pl.init()
    assert pl.version == 0x0101
    return emu, pl


@pytest.mark.parametrize("mode", [2, 3])
def test_job_runs_to_completion_at_the_mode_throughput(mode: int) -> None:
    power_w, thr = MODES[mode]
    emu, pl = controller()
    units = 3000  # 30 s of full-throughput work
    pl.set_mode(mode)
    pl.start_job(job_id=0x2A, work_units=units)
    assert pl.mode() == mode and pl.job_id() == 0x2A
    assert PayloadStatus.RUNNING in pl.status()
    emu.advance(20 * NS)
    t = pl.read()
    assert t.status == PayloadStatus.RUNNING
    assert t.throughput == pytest.approx(thr)
    assert t.throttle == 1.0
    assert t.power_w == pytest.approx(power_w, abs=POWER_LSB_W)
    assert t.job_done_s == pytest.approx(20 * thr, abs=UNIT_S)
    assert t.job_done_s == pytest.approx(emu.snapshot()["payload"]["job_done_s"], abs=UNIT_S)
    pl_snap = emu.snapshot()["payload"]
    assert abs(t.die_temp_c - pl_snap["die_c"]) <= TEMP_LSB_C
    elapsed = 20
    while PayloadStatus.DONE not in pl.status():
        emu.advance(NS)
        elapsed += 1
        assert elapsed < 200
    assert abs(elapsed - units * UNIT_S / thr) <= 1.0
    assert pl.job_done_units() == units
    assert pl.job_done_s() == pytest.approx(units * UNIT_S)
    assert PayloadStatus.RUNNING not in pl.status()
    emu.advance(2 * NS)  # the plant idles from its next substep
    assert pl.throughput() == 0.0 == float(emu.state["payload_throughput"])
    assert pl.power_w() == pytest.approx(MODES[1][0], abs=POWER_LSB_W)
    assert pl.health == Health.OK


def test_power_with_preset_noise() -> None:
    emu, pl = controller(noise=None)
    sigma = emu.scenario.device("payload_ctrl").noise
    pl.set_mode(4)
    pl.start_job(1, 100_000)
    emu.advance(5 * NS)
    for _ in range(5):
        assert abs(pl.power_w() - emu.snapshot()["payload"]["power_w"]) <= POWER_LSB_W + 5 * sigma


def test_job_done_32_bit_pause_resume_abort() -> None:
    emu, pl = controller()
    pl.set_mode(4)
    pl.start_job(job_id=1, work_units=0x30000)  # 1966 s at full throughput
    emu.advance(700 * NS)
    units = pl.job_done_units()
    assert units > 0xFFFF  # the high word is in use
    assert units == int(emu.snapshot()["payload"]["job_done_s"] / UNIT_S + 1e-6)
    pl.pause_job()
    paused = pl.job_done_units()
    emu.advance(30 * NS)
    assert pl.job_done_units() == paused
    assert PayloadStatus.RUNNING not in pl.status()
    pl.resume_job()
    emu.advance(30 * NS)
    assert pl.job_done_units() == pytest.approx(paused + 3000, abs=1)
    assert PayloadStatus.RUNNING in pl.status()
    pl.abort_job()
    st = pl.status()
    assert PayloadStatus.RUNNING not in st and PayloadStatus.DONE not in st
    assert pl.job_done_s() == 0.0
    assert emu.snapshot()["payload"]["job_active"] == 0


class CountingPayload:
    """A fake controller whose JOB_DONE counts up by 0x8000 units on every transfer (a fast job),
    with the real latch: reading HI latches LO."""

    def __init__(self) -> None:
        self.done = 0xFFF0
        self.latched: int | None = None
        self.order: list[int] = []

    def transfer(self, addr: int, write: bytes, read_len: int) -> bytes:
        self.done += 0x8000
        reg = write[0]
        self.order.append(reg)
        if reg == 0x08:
            self.latched = self.done & 0xFFFF
            value = self.done >> 16
        elif reg == 0x09:
            value = self.latched if self.latched is not None else self.done & 0xFFFF
            self.latched = None
        else:
            value = {0x00: 0x534B, 0x01: 0x0100}.get(reg, 0)
        return value.to_bytes(2, "big")[:read_len]


def test_job_done_reads_the_latched_pair_high_word_first() -> None:
    bus = CountingPayload()
    pl = PayloadCtrl(bus, 0x50)
    pl.init()
    bus.order.clear()
    got = pl.job_done_units()
    assert bus.order == [0x08, 0x09]
    assert got == bus.done - 0x8000  # the value at the HI read, both halves consistent


def test_wrong_chip_fails_init_clearly() -> None:
    emu = Emulator("gpu-node")
    pl = PayloadCtrl(emu.buses[0], 0x41)  # an INA226: register 0x00 is its configuration (0x4127)
    with pytest.raises(DeviceIdError, match=r"ID \(0x00\) reads 0x4127, expected 0x534b"):
        pl.init()
    assert pl.health == Health.FAILED


def test_power_limit_caps_the_draw_and_the_work_follows_the_part_curve() -> None:
    emu, pl = controller()
    assert pl.has_power_limit
    assert pl._read16(0x0E) == 0xFFFF  # power-on: no limit
    pl.set_mode(4)
    pl.start_job(job_id=7, work_units=10_000_000)
    pl.set_power_limit(450.0)
    assert pl._read16(0x0E) == 4500
    emu.advance(10 * NS)
    t = pl.read()
    # 450 W lies between high (500 W, 0.85) and low (300 W, 0.55): 0.55 + 0.30 * 150 / 200
    assert t.power_w == pytest.approx(450.0, abs=POWER_LSB_W)
    assert t.throughput == pytest.approx(0.775, abs=0.001)
    assert t.mode == 4 and PayloadStatus.THROTTLED not in t.status  # a cap, not the part's thermal throttle
    done = pl.job_done_s()
    emu.advance(10 * NS)
    assert pl.job_done_s() - done == pytest.approx(7.75, abs=2 * UNIT_S)
    pl.set_power_limit(10.0)  # below the lowest mode's power: the part draws that much still
    emu.advance(NS)
    assert pl.read().power_w == pytest.approx(70.0, abs=POWER_LSB_W) and pl._read16(0x0E) == 100
    pl.set_power_limit(None)
    emu.advance(NS)
    assert pl.read().power_w == pytest.approx(700.0, abs=POWER_LSB_W) and pl._read16(0x0E) == 0xFFFF


def test_power_limit_needs_version_1_1_and_a_value_in_range() -> None:
    _, pl = controller()
    with pytest.raises(ValueError, match="power limit"):
        pl.set_power_limit(6553.5)
    with pytest.raises(ValueError, match="power limit"):
        pl.set_power_limit(-1.0)
    pl.version = 0x0100
    assert not pl.has_power_limit
    with pytest.raises(ValueError, match="no POWER_LIMIT"):
        pl.set_power_limit(400.0)
