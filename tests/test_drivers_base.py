"""Driver error paths, retries and health, against tiny fake buses (no emulator)."""

from __future__ import annotations

from typing import Any

import pytest

from flight.drivers import (
    Device,
    DeviceFailedError,
    DeviceIdError,
    DeviceIoError,
    Health,
    Ina226,
    Max17048,
    PayloadCtrl,
    PayloadStatus,
    Tca9534,
    Tmp117,
)
from flight.interfaces import Bus, BusError


def health(dev: Device[Any]) -> Health:
    """Read `health` through a call, so the type checker does not narrow it between asserts."""
    return dev.health


class RegBus:
    """A fake chip: a dict of registers, 16-bit (or 8-bit) big-endian, with optional failures.

    `fail` is a list of booleans consumed one per transfer (True = NACK); `reply_len` overrides the
    length of read replies (garbage), `sticky` maps registers to values that writes cannot change.
    """

    def __init__(self, regs: dict[int, int], width: int = 2) -> None:
        self.regs = dict(regs)
        self.width = width
        self.fail: list[bool] = []
        self.always_fail = False
        self.reply_len: int | None = None
        self.sticky: dict[int, int] = {}
        self.log: list[tuple[int, bytes, int]] = []
        self.pointer = 0

    def transfer(self, addr: int, write: bytes, read_len: int) -> bytes:
        self.log.append((addr, bytes(write), read_len))
        if self.always_fail or (self.fail and self.fail.pop(0)):
            raise BusError(addr, "no acknowledge (NACK)")
        if write:
            self.pointer = write[0]
            if len(write) > 1:
                value = int.from_bytes(write[1:], "big")
                self.regs[self.pointer] = self.sticky.get(self.pointer, value)
        if read_len == 0:
            return b""
        if self.pointer not in self.regs:
            raise BusError(addr, "no acknowledge (NACK)")
        data = self.regs[self.pointer].to_bytes(self.width, "big")[:read_len]
        if self.reply_len is not None:
            data = (data * 4)[: self.reply_len]
        return data


class RaisingBus:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.calls = 0

    def transfer(self, addr: int, write: bytes, read_len: int) -> bytes:
        self.calls += 1
        raise self.exc


INA_REGS = {0x00: 0x4127, 0x01: 0, 0x02: 0, 0x03: 0, 0x04: 0, 0x05: 0, 0x06: 0, 0x07: 0, 0xFE: 0x5449, 0xFF: 0x2260}
TMP_REGS = {0x00: 0x8000, 0x01: 0x0220, 0x0F: 0x0117}
MAX_REGS = {0x02: 0, 0x04: 0, 0x08: 0x0012, 0x16: 0}
PL_REGS = {r: 0 for r in range(0x0E)} | {0x00: 0x534B, 0x01: 0x0100}


def test_fake_buses_satisfy_the_bus_protocol() -> None:
    assert isinstance(RegBus({}), Bus)
    assert isinstance(RaisingBus(RuntimeError()), Bus)


# ---- exact raw decode --------------------------------------------------------------------------------
def test_ina226_signed_and_unsigned_decode() -> None:
    bus = RegBus(INA_REGS)
    ina = Ina226(bus, 0x40, shunt_ohm=0.002, max_current_a=25.0)
    assert ina.current_lsb_a == pytest.approx(1e-3) and ina.calibration == 2560
    ina.init()
    assert bus.regs[0x05] == 2560 and bus.regs[0x00] == 0x4127
    bus.regs |= {0x01: 0x8000, 0x02: 0x7FFF, 0x04: 0xFFFF, 0x03: 0xFFFF}
    assert ina.shunt_voltage_v() == pytest.approx(-0.08192)
    assert ina.bus_voltage_v() == pytest.approx(40.95875)
    assert ina.current_a() == pytest.approx(-1e-3)
    assert ina.power_w() == pytest.approx(65535 * 25e-3)
    bus.regs |= {0x01: 0x7FFF, 0x04: 0x0001}
    assert ina.shunt_voltage_v() == pytest.approx(0.0819175)
    assert ina.current_a() == pytest.approx(1e-3)


def test_tmp117_max17048_payload_decode() -> None:
    tmp_bus = RegBus(TMP_REGS | {0x00: 0xFF80})
    tmp = Tmp117(tmp_bus, 0x48)
    tmp.init()
    assert tmp.temperature_c() == -1.0
    tmp_bus.regs[0x00] = 0x0C80
    assert tmp.temperature_c() == 25.0
    mx_bus = RegBus(MAX_REGS | {0x02: 0xD000, 0x04: 0x6480, 0x16: 0xFFFF})
    mx = Max17048(mx_bus)
    mx.init()
    r = mx.read()
    assert r.cell_voltage_v == pytest.approx(0xD000 * 78.125e-6)
    assert r.soc_pct == 100.5
    assert r.c_rate_pct_per_h == pytest.approx(-0.208)
    pl_bus = RegBus(PL_REGS | {0x02: 0x1D, 0x0A: 7000, 0x0B: 0xF000, 0x0C: 950, 0x0D: 850, 0x08: 1, 0x09: 2})
    pl = PayloadCtrl(pl_bus, 0x50)
    pl.init()
    t = pl.read()
    assert t.power_w == pytest.approx(700.0)
    assert t.die_temp_c == -32.0
    assert t.throttle == pytest.approx(0.95) and t.throughput == pytest.approx(0.85)
    assert t.job_done_s == pytest.approx(0x10002 * 0.01)
    assert t.status == 0x1D
    assert PayloadStatus.RUNNING in t.status and PayloadStatus.SHUTDOWN in t.status
    assert PayloadStatus.DONE not in t.status


def test_every_register_read_is_one_combined_pointer_then_read_transfer() -> None:
    bus = RegBus(INA_REGS)
    ina = Ina226(bus, 0x40, 0.01, 1.0)
    ina.init()
    bus.log.clear()
    ina.read()
    assert bus.log == [(0x40, bytes([reg]), 2) for reg in (0x02, 0x01, 0x04, 0x03)]


# ---- retries and health -------------------------------------------------------------------------------
def test_transient_errors_are_retried_and_degrade_health_then_recover() -> None:
    bus = RegBus(TMP_REGS | {0x00: 0x0C80})
    tmp = Tmp117(bus, 0x48, retries=2, degraded_window=4)
    tmp.init()
    assert health(tmp) == Health.OK
    bus.fail = [True, True]  # two NACKs, then the third attempt succeeds
    assert tmp.temperature_c() == 25.0
    s = tmp.stats
    assert (s.errors, s.retries, s.failures, s.health) == (2, 2, 0, Health.DEGRADED)
    for _ in range(3):
        tmp.temperature_c()
    assert health(tmp) == Health.DEGRADED
    tmp.temperature_c()  # the 4th clean operation since the retry
    assert health(tmp) == Health.OK


def test_exhausted_retries_raise_and_n_consecutive_failures_mark_failed() -> None:
    bus = RegBus(TMP_REGS)
    tmp = Tmp117(bus, 0x48, retries=1, fail_after=2)
    tmp.init()
    bus.always_fail = True
    n0 = len(bus.log)
    with pytest.raises(DeviceIoError, match=r"0x00 failed after 2 attempt\(s\).*NACK"):
        tmp.temperature_c()
    assert health(tmp) == Health.DEGRADED
    with pytest.raises(DeviceIoError, match="marked FAILED"):
        tmp.temperature_c()
    assert health(tmp) == Health.FAILED
    assert len(bus.log) - n0 == 4  # 2 operations x 2 attempts
    with pytest.raises(DeviceFailedError, match="reprobe"):
        tmp.temperature_c()
    assert len(bus.log) - n0 == 4  # a FAILED device is not touched
    assert tmp.poll() is None
    s = tmp.stats
    assert (s.errors, s.retries, s.failures, s.consecutive_failures) == (4, 2, 2, 2)
    # still broken: reprobe leaves it FAILED without raising
    assert tmp.reprobe() == Health.FAILED
    bus.always_fail = False
    assert tmp.reprobe() == Health.DEGRADED  # back, but with errors in its recent history
    assert tmp.stats.reprobes == 2
    assert tmp.temperature_c() == -256.0
    for _ in range(16):
        tmp.temperature_c()
    assert health(tmp) == Health.OK


def test_a_success_resets_the_consecutive_failure_count() -> None:
    bus = RegBus(TMP_REGS)
    tmp = Tmp117(bus, 0x48, retries=0, fail_after=2)
    tmp.init()
    for _ in range(5):
        bus.fail = [True]
        assert tmp.poll() is None
        assert tmp.poll() == -256.0
    assert health(tmp) == Health.DEGRADED and tmp.stats.failures == 5


def test_wrong_length_replies_are_errors_and_retried() -> None:
    bus = RegBus(MAX_REGS | {0x04: 0x3200})
    mx = Max17048(bus, retries=2)
    mx.init()
    bus.reply_len = 1
    with pytest.raises(DeviceIoError, match=r"asked for 2 byte\(s\), got 1"):
        mx.soc_pct()
    bus.reply_len = 3
    with pytest.raises(DeviceIoError, match=r"got 3"):
        mx.soc_pct()
    assert mx.stats.errors == 6
    bus.reply_len = None
    assert mx.soc_pct() == 50.0


def test_bus_that_raises_bus_error_never_leaks_it() -> None:
    bus = RaisingBus(BusError(0x36, "timeout"))
    mx = Max17048(bus, retries=3, fail_after=1)
    with pytest.raises(DeviceIoError, match="timeout"):
        mx.init()
    assert bus.calls == 4 + 1  # 4 attempts at VERSION, then one address probe
    assert health(mx) == Health.FAILED


def test_non_bus_exceptions_propagate() -> None:
    """Only BusError is a bus failure; a programming error in a Bus implementation is not swallowed."""
    mx = Max17048(RaisingBus(ZeroDivisionError()))
    with pytest.raises(ZeroDivisionError):
        mx.init()


# ---- identity -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "regs", "match"),
    [
        (lambda b: Ina226(b, 0x40, 0.01, 1.0), INA_REGS | {0xFE: 0x1234}, "manufacturer ID"),
        (lambda b: Ina226(b, 0x40, 0.01, 1.0), INA_REGS | {0xFF: 0x2190}, "die ID"),
        (lambda b: Tmp117(b, 0x48), TMP_REGS | {0x0F: 0x0119}, "device ID"),
        (lambda b: Max17048(b), MAX_REGS | {0x08: 0x0000}, "version"),
        (lambda b: PayloadCtrl(b, 0x50), PL_REGS | {0x00: 0xFFFF}, "ID"),
        (lambda b: PayloadCtrl(b, 0x50), PL_REGS | {0x01: 0x0200}, "VERSION"),
    ],
)
def test_garbage_identity_fails_init_clearly(make, regs, match) -> None:  # type: ignore[no-untyped-def]
    bus = RegBus(regs)
    drv = make(bus)
    with pytest.raises(DeviceIdError, match=match):
        drv.init()
    assert health(drv) == Health.FAILED
    assert "check the address" in (drv.last_error or "")


def test_identity_register_missing_but_address_acks_is_a_wrong_chip() -> None:
    bus = RegBus(TMP_REGS)  # a TMP117: no 0xFE
    ina = Ina226(bus, 0x48, 0.01, 1.0)
    with pytest.raises(DeviceIdError, match="not the identity register 0xfe: not a INA226"):
        ina.init()
    assert health(ina) == Health.FAILED


# ---- TCA9534 shadow and read-back --------------------------------------------------------------------
def test_tca9534_read_modify_write_uses_the_shadow_and_checks_read_back() -> None:
    bus = RegBus({0x00: 0xFF, 0x01: 0xFF, 0x02: 0x00, 0x03: 0xFF}, width=1)
    gpio = Tca9534(bus, 0x20, output_mask=0x0F, initial_outputs=0x01)
    gpio.init()
    assert bus.regs[0x01] == 0x01 and bus.regs[0x03] == 0xF0 and gpio.outputs == 0x01
    bus.log.clear()
    gpio.set_pin(3)
    # one write, one read-back; no read before the write (the shadow is the "read")
    assert bus.log == [(0x20, b"\x01\x09", 0), (0x20, b"\x01", 1)]
    gpio.clear_pin(0)
    assert bus.regs[0x01] == 0x08 == gpio.outputs
    bus.sticky[0x01] = 0x08  # the register no longer takes writes
    with pytest.raises(DeviceIoError, match="reads back 0x08 after writing 0x0c"):
        gpio.set_pin(2)
    assert gpio.outputs == 0x08  # the shadow keeps the last verified value
    with pytest.raises(ValueError, match=r"0\.\.7"):
        gpio.set_pin(8)


def test_argument_validation() -> None:
    bus = RegBus({})
    with pytest.raises(ValueError, match="7-bit"):
        Tmp117(bus, 0x80)
    with pytest.raises(ValueError, match="retries"):
        Tmp117(bus, 0x48, retries=-1)
    with pytest.raises(ValueError, match="fail_after"):
        Tmp117(bus, 0x48, fail_after=0)
    with pytest.raises(ValueError, match="full scale"):
        Ina226(bus, 0x40, shunt_ohm=0.01, max_current_a=10.0)
    with pytest.raises(ValueError, match="positive"):
        Ina226(bus, 0x40, shunt_ohm=0.0, max_current_a=1.0)
    pl = PayloadCtrl(bus, 0x50)
    with pytest.raises(ValueError, match="job work"):
        pl.start_job(1, 0)
    with pytest.raises(ValueError, match="job id"):
        pl.start_job(0x10000, 5)
    assert bus.log == []
