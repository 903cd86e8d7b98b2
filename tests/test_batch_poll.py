"""Batched register reads (sk_bus_read_many, RegisterBatch) and the batched sensor poll are exactly
the single transfers and the per-driver poll they replace: words, return codes, plant state and the
noise drawn afterwards, readings, and driver health and counters."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from emulator import load
from emulator.bus import EmulatedBus
from emulator.emulator import Emulator
from emulator.faults import DeviceNack, ExtraNoise, StuckReading
from emulator.native import SK_OK, Plant
from flight.drivers.base import Health
from flight.drivers.ina226 import Ina226
from flight.drivers.payload_ctrl import PayloadCtrl
from flight.drivers.tca9534 import Tca9534
from flight.drivers.tmp117 import Tmp117
from flight.interfaces import Bus, BusError, RegisterBatch
from flight.sensors import SensorPoller
from skyrack.sil import hardware_from_scenario

STEP_NS = 1_000_000_000


def _emu(scenario: str = "gpu-node") -> Emulator:
    return Emulator(load(scenario))


def _plant(emu: Emulator) -> Plant:
    return emu.buses[0]._plant  # type: ignore[attr-defined,no-any-return]


def _single(plant: Plant, bus: int, ops: list[tuple[int, int, int]]) -> tuple[list[int], list[int]]:
    """The reads one transfer at a time through the raw C call: (words, return codes)."""
    call, p, rbuf, view = plant.transfer_parts()
    words, codes = [], []
    for addr, reg, width in ops:
        rc = call(p, bus, addr, bytes([reg]), 1, rbuf, width)
        codes.append(rc)
        words.append(int.from_bytes(view[:width], "big") if rc == SK_OK else 0)
    return words, codes


def _random_ops(rng: random.Random, emu: Emulator, bus: int, n: int) -> list[tuple[int, int, int]]:
    present = [d.address for d in emu.scenario.devices if d.bus == bus]
    ops = []
    for _ in range(n):
        x = rng.random()
        addr = rng.choice(present) if x < 0.8 else rng.choice([0x10, 0x11, 0x77, 0x7F, 0x00])
        reg = rng.choice([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x08, 0x0A, 0x0B, 0x0F, 0x16, 0xFE, 0xFF,
                          rng.randrange(256)])
        width = rng.choice([1, 2, 2, 2])
        ops.append((addr, reg, width))
    return ops


def _faulted_pair() -> tuple[Emulator, Emulator]:
    a, b = _emu(), _emu()
    for e in (a, b):
        e.inject(ExtraNoise("ina_battery", 0.2))
        e.inject(StuckReading("temp_radiator", 0x00, 0x1234))
        e.advance(3 * STEP_NS)
    return a, b


@pytest.mark.parametrize("seed", range(6))
def test_batch_equals_single_transfers(seed: int) -> None:
    rng = random.Random(seed)
    a, b = _faulted_pair()
    pa, pb = _plant(a), _plant(b)
    for _ in range(25):
        bus = rng.choice([0, 0, 0, 1])
        ops = _random_ops(rng, a, bus, rng.randrange(0, 40))
        reads = pb.prepare_reads(bus, ops)
        words_b = pb.read_many(reads)
        codes_b = reads.codes()
        words_a, codes_a = _single(pa, bus, ops)
        assert codes_b == codes_a
        assert words_b == [w if c == SK_OK else None for w, c in zip(words_a, codes_a, strict=True)]
        assert a.state.tobytes() == b.state.tobytes()
        dt = rng.choice([0, 1, 250_000_000, STEP_NS, 7 * STEP_NS])
        a.advance(dt)
        b.advance(dt)
    # noise drawn afterwards (RNG state and chip state): the same further readings
    ops = [(d.address, 0x02 if d.chip.name == "INA226" else 0x00, 1 if d.chip.name == "TCA9534" else 2)
           for d in a.scenario.devices if d.bus == 0]
    for _ in range(5):
        a.advance(2 * STEP_NS)
        b.advance(2 * STEP_NS)
        words, codes = _single(pa, 0, ops)
        expect = [w if c == SK_OK else None for w, c in zip(words, codes, strict=True)]
        assert pb.read_many(pb.prepare_reads(0, ops)) == expect
    assert a.state.tobytes() == b.state.tobytes()


def test_batch_return_codes_and_argument_errors() -> None:
    emu = _emu()
    plant = _plant(emu)
    reads = plant.prepare_reads(0, [(0x40, 0xFE, 2), (0x40, 0xFE, 1), (0x40, 0x77, 2), (0x13, 0, 2),
                                    (0x40, 256, 2), (0x40, -1, 2), (0x40, 0, 3), (0x40, 0, 0), (0x20, 0, 2),
                                    (0x20, 0x01, 1), (0x200, 0, 2)])
    words = plant.read_many(reads)
    nack, read_len, arg = -1, -2, -3
    assert reads.codes() == [SK_OK, SK_OK, nack, nack, arg, arg, arg, arg, read_len, SK_OK, nack]
    assert words[:2] == [0x5449, 0x54]
    assert words[2:9] == [None] * 7
    assert words[9] is not None
    assert plant.read_many(plant.prepare_reads(0, [])) == []


def test_emulated_bus_register_batch() -> None:
    a, b = _emu(), _emu()
    bus_a, bus_b = a.buses[0], b.buses[0]
    assert isinstance(bus_b, RegisterBatch)
    ops = ((0x40, 0x02, 2), (0x41, 0x04, 2), (0x13, 0x00, 2), (0x20, 0x00, 1), (0x36, 0x02, 2))
    for _ in range(4):
        a.advance(STEP_NS)
        b.advance(STEP_NS)
        expect: list[int | None] = []
        for addr, reg, width in ops:
            try:
                expect.append(int.from_bytes(bus_a.transfer(addr, bytes([reg]), width), "big"))
            except BusError:
                expect.append(None)
        assert bus_b.read_registers(ops) == expect
        assert bus_b.read_registers(list(ops)) == [*expect[:2], None, *expect[3:]]  # same reads, a list
    assert bus_b.transfers == bus_a.transfers * 2
    assert a.state.tobytes() == b.state.tobytes()
    # a list changed in place is not served from the arrays made for its old contents
    lst = [(0x40, 0xFE, 2)]
    assert bus_b.read_registers(lst) == [0x5449]
    lst[0] = (0x40, 0xFF, 2)
    assert bus_b.read_registers(lst) == [int.from_bytes(bus_a.transfer(0x40, b"\xff", 2), "big")]


class _SingleOnly:
    """An EmulatedBus seen through the plain Bus protocol only."""

    def __init__(self, bus: EmulatedBus) -> None:
        self.bus = bus

    def transfer(self, addr: int, write: bytes, read_len: int) -> bytes:
        return self.bus.transfer(addr, write, read_len)


def _pollers(scenario: str) -> tuple[Emulator, SensorPoller, Emulator, SensorPoller]:
    ea, eb = _emu(scenario), _emu(scenario)
    hw = hardware_from_scenario(ea.scenario)
    single_buses: list[Bus] = [_SingleOnly(b) for b in ea.buses]
    sa = SensorPoller(hw, single_buses)
    sb = SensorPoller(hw, eb.buses)
    assert not sa._batched and sb._batched
    sa.reset(0)
    sb.reset(0)
    return ea, sa, eb, sb


def _snapshot(s: SensorPoller) -> tuple[Any, ...]:
    r = s.readings
    return (r.t_ns, list(r.rails.items()), list(r.temps_c.items()), r.gauge, r.payload,
            list(r.gpio_outputs.items()), [(d.name, d.stats, d.last_error) for d in s.devices])


@pytest.mark.parametrize("scenario", ["gpu-node", "edge-cubesat"])
def test_poller_batched_equals_single(scenario: str) -> None:
    ea, sa, eb, sb = _pollers(scenario)
    names = [d.name for d in ea.scenario.devices if d.chip.name != "TCA9534"]
    rng = random.Random(7)
    faults = {}
    for k in range(0, 600, 40):  # NACK episodes: short ones (DEGRADED) and long ones (FAILED, reprobe)
        faults[k + 5] = (rng.choice(names), True, rng.choice([1, 2, 4, 12]))
    off: dict[int, str] = {}
    saw_failed = saw_degraded = False
    for tick in range(1, 600):
        t = tick * STEP_NS
        if tick in faults:
            name, _, length = faults[tick]
            for e in (ea, eb):
                e.inject(DeviceNack(name, True))
            off[tick + length] = name
        if tick in off:
            name = off.pop(tick)
            for e in (ea, eb):
                e.inject(DeviceNack(name, False))
        if tick % 9 == 0:  # FDIR-like reprobes of failed devices
            for s in (sa, sb):
                for d in s.devices:
                    if d.health == Health.FAILED:
                        d.reprobe()
        ea.advance(t - ea.t_ns)
        eb.advance(t - eb.t_ns)
        sa.step(t)
        sb.step(t)
        assert _snapshot(sa) == _snapshot(sb), tick
        assert ea.state.tobytes() == eb.state.tobytes(), tick
        health = sb.health().values()
        saw_failed |= Health.FAILED in health
        saw_degraded |= Health.DEGRADED in health
    assert saw_failed and saw_degraded


def test_poller_one_batch_call_per_bus_run() -> None:
    _, _, eb, sb = _pollers("gpu-node")
    calls: list[int] = []
    for bus in eb.buses:
        orig = bus.read_registers

        def counted(ops: Any, orig: Any = orig) -> list[int | None]:
            calls.append(len(ops))
            return orig(ops)  # type: ignore[no-any-return]

        bus.read_registers = counted  # type: ignore[method-assign]
    before = [bus.transfers for bus in eb.buses]
    sb.step(STEP_NS)
    # gpu-node polls bus 0, then temp_array on bus 1, then the gauge and payload controller on bus 0
    assert calls == [24, 1, 11]
    assert sum(bus.transfers for bus in eb.buses) - sum(before) == 36


def test_driver_reading_from_matches_read() -> None:
    emu = _emu()
    bus = emu.buses[0]
    devs = [Ina226(bus, 0x40, 0.001, 20.0), Tmp117(bus, 0x48), PayloadCtrl(bus, 0x50), Tca9534(bus, 0x20, 0)]
    twin = _emu()
    tb = twin.buses[0]
    twins = [Ina226(tb, 0x40, 0.001, 20.0), Tmp117(tb, 0x48), PayloadCtrl(tb, 0x50), Tca9534(tb, 0x20, 0)]
    for d, t in zip(devs, twins, strict=True):
        d.init()
        t.init()
    names = {0x40: "ina_battery", 0x48: "temp_payload", 0x50: "payload_ctrl", 0x20: "gpio"}
    for tick in range(12):
        emu.advance(STEP_NS)
        twin.advance(STEP_NS)
        for d, t in zip(devs, twins, strict=True):
            if tick == 2:  # an error on both: DEGRADED, then clean reads count the window down alike
                for e in (emu, twin):
                    e.inject(DeviceNack(names[d.addr], True))
                assert d.poll() is None and t.poll() is None
                for e in (emu, twin):
                    e.inject(DeviceNack(names[d.addr], False))
            ops = tuple((t.addr, reg, width) for reg, width in t.poll_registers())
            words = tb.read_registers(ops)
            assert None not in words
            assert t.poll_from(words) == d.read()  # type: ignore[arg-type]
            assert t.stats == d.stats
            assert (t._ops_since_error, t._consecutive) == (d._ops_since_error, d._consecutive)
    assert np.array_equal(emu.state.tobytes(), twin.state.tobytes())
