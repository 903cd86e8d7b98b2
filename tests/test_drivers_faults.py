"""Retries, health and re-probe against injected emulator faults (DeviceNack)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from emulator import Emulator, faults, load
from emulator.bus import EmulatedBus
from flight.drivers import DeviceFailedError, DeviceIoError, Health, Ina226, Max17048, Tmp117
from flight.interfaces import BusError

NS = 1_000_000_000
MS = 1_000_000
LSB_C = 7.8125e-3


def quiet() -> Emulator:
    sc = load("gpu-node")
    return Emulator(replace(sc, devices=tuple(replace(d, noise=0.0) for d in sc.devices)))


class ClearAfter:
    """Passes transfers to the emulated bus; after `n` NACKs, clears the device's NACK fault
    (a glitch that lasts n attempts)."""

    def __init__(self, emu: Emulator, device: str, n: int) -> None:
        self.emu, self.device, self.n = emu, device, n
        self.bus: EmulatedBus = emu.buses[0]
        self.nacks = 0

    def transfer(self, addr: int, write: bytes, read_len: int) -> bytes:
        try:
            return self.bus.transfer(addr, write, read_len)
        except BusError:
            self.nacks += 1
            if self.nacks == self.n:
                self.emu.inject(faults.DeviceNack(self.device, on=False))
            raise


def test_retries_recover_from_a_transient_nack() -> None:
    emu = quiet()
    bus = ClearAfter(emu, "temp_radiator", n=2)
    tmp = Tmp117(bus, 0x4A, retries=2, degraded_window=8)
    tmp.init()
    emu.inject(faults.DeviceNack("temp_radiator"), at_ns=5 * NS)
    emu.advance(6 * NS)
    t = tmp.temperature_c()  # NACK, NACK, then the fault clears and the third attempt answers
    assert bus.nacks == 2
    assert t == pytest.approx(emu.snapshot()["temperatures_c"]["radiator"], abs=LSB_C)
    s = tmp.stats
    assert (s.errors, s.retries, s.failures, s.health) == (2, 2, 0, Health.DEGRADED)
    for _ in range(8):
        tmp.temperature_c()
    assert tmp.health == Health.OK


def test_a_short_nack_window_degrades_but_does_not_fail() -> None:
    emu = quiet()
    ina = Ina226(emu.buses[0], 0x43, 0.01, 5.0, fail_after=3)
    ina.init()
    emu.advance(10 * NS)
    emu.inject(faults.DeviceNack("ina_radio"), at_ns=emu.t_ns + 150 * MS)
    emu.inject(faults.DeviceNack("ina_radio", on=False), at_ns=emu.t_ns + 350 * MS)
    results, health = [], []
    for _ in range(10):  # a 10 Hz loop
        emu.advance(100 * MS)
        results.append(ina.poll())
        health.append(ina.health)
    assert [r is None for r in results] == [False, True, True] + [False] * 7
    assert health[:4] == [Health.OK, Health.DEGRADED, Health.DEGRADED, Health.DEGRADED]
    assert Health.FAILED not in health
    assert health[-1] == Health.OK  # 16 clean operations (4 per read) since the last error
    assert ina.stats.failures == 2 and ina.stats.consecutive_failures == 0
    r = results[-1]
    assert r is not None and r.current_a == pytest.approx(ina.current_a())


def test_persistent_nack_marks_failed_without_raising_and_reprobe_recovers() -> None:
    emu = quiet()
    gauge = Max17048(emu.buses[0], retries=2, fail_after=3)
    gauge.init()
    emu.advance(5 * NS)
    t_nack = emu.t_ns + 2 * NS
    emu.inject(faults.DeviceNack("fuel_gauge"), at_ns=t_nack)
    emu.inject(faults.DeviceNack("fuel_gauge", on=False), at_ns=t_nack + 30 * NS)
    health: list[Health] = []
    readings = []
    untouched_while_failed = True
    for step in range(60):  # 1 Hz housekeeping loop using the health API; never raises
        emu.advance(NS)
        before = gauge.stats.transfers
        was_failed = gauge.health == Health.FAILED
        if was_failed and step % 10 == 0:
            gauge.reprobe()
        elif was_failed:
            readings.append(gauge.poll())
            untouched_while_failed &= gauge.stats.transfers == before
            health.append(gauge.health)
            continue
        readings.append(gauge.poll())
        health.append(gauge.health)
    # OK, then three failed polls (3 attempts each) mark it FAILED
    first_bad = next(k for k, r in enumerate(readings) if r is None)
    assert first_bad == 1  # the fault is due at the second step
    assert health[:first_bad] == [Health.OK] * first_bad
    assert health[first_bad:first_bad + 3] == [Health.DEGRADED, Health.DEGRADED, Health.FAILED]
    assert gauge.stats.failures >= 3
    # while FAILED, polls return None without touching the bus; only reprobes do
    assert untouched_while_failed
    # the fault clears 30 s after it began; the reprobe every 10 s brings the gauge back
    first_ok_again = next(k for k in range(first_bad, 60) if readings[k] is not None)
    assert 30 <= first_ok_again - first_bad <= 40
    assert all(h == Health.FAILED for h in health[first_bad + 2:first_ok_again])
    assert gauge.stats.reprobes >= 3
    assert readings[first_ok_again:] == [r for r in readings[first_ok_again:] if r is not None]
    r = readings[-1]
    assert r is not None and health[-1] == Health.OK
    assert abs(r.soc_pct - float(emu.state["battery_soc"]) * 100) <= 1 / 256
    # a direct (raising) call on a failed device says so, and what to do
    emu.inject(faults.DeviceNack("fuel_gauge"))
    for _ in range(3):
        with pytest.raises(DeviceIoError, match="NACK"):
            gauge.soc_pct()
    with pytest.raises(DeviceFailedError, match="reprobe"):
        gauge.soc_pct()


def test_failed_device_is_not_touched_until_reprobe() -> None:
    emu = quiet()
    tmp = Tmp117(emu.buses[0], 0x48, retries=1, fail_after=2)
    tmp.init()
    emu.inject(faults.DeviceNack("temp_payload"))
    assert tmp.poll() is None and tmp.poll() is None
    assert tmp.health == Health.FAILED
    n = emu.buses[0].transfers
    for _ in range(5):
        assert tmp.poll() is None
    assert emu.buses[0].transfers == n
    assert "NACK" in (tmp.last_error or "")
    assert tmp.reprobe() == Health.FAILED  # the fault is still there
    emu.inject(faults.ClearDeviceFaults("temp_payload"))
    assert tmp.reprobe() == Health.DEGRADED
    emu.advance(2 * NS)
    assert tmp.poll() == pytest.approx(emu.snapshot()["temperatures_c"]["payload"], abs=LSB_C)
