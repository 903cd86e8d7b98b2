"""Sensor acquisition: one driver per chip of the hardware configuration,
polled each step into the latest readings the other components use.

A reading is None while its device is failed; the device health is kept with
it so fault detection and telemetry can report it.

When the buses offer the `RegisterBatch` protocol, a step reads the registers
of all the polled devices in a few batch calls (one per run of consecutive
devices on the same bus, in polling order, so the chips see the very same
sequence of transfers) and hands each device its words; a device whose batch
words include an error is polled the normal way instead (retries, health).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flight.drivers.base import Device, DriverError, Health
from flight.drivers.ina226 import Ina226, Ina226Reading
from flight.drivers.max17048 import Max17048, Max17048Reading
from flight.drivers.payload_ctrl import PayloadCtrl, PayloadTelemetry
from flight.drivers.tca9534 import Tca9534
from flight.drivers.tmp117 import Tmp117
from flight.hardware import ChipKind, HardwareConfig
from flight.interfaces import Bus, RegisterBatch


@dataclass
class Readings:
    """The latest value of every sensor (None: no valid reading)."""

    t_ns: int = 0
    rails: dict[str, Ina226Reading | None] = field(default_factory=dict)  # "battery", "array", "load:NAME"
    temps_c: dict[str, float | None] = field(default_factory=dict)  # thermal node -> degC
    gauge: Max17048Reading | None = None
    payload: PayloadTelemetry | None = None
    gpio_outputs: dict[str, int | None] = field(default_factory=dict)

    def rail(self, name: str) -> Ina226Reading | None:
        return self.rails.get(name)


# Where a polled device's reading goes: Readings.rails[key], Readings.temps_c[key], .gauge or .payload
RAIL, TEMP, GAUGE, PAYLOAD = range(4)
_Put = tuple[int, str]  # (where, key)
_Polled = tuple[Device[Any], _Put]  # a polled device, where its reading goes


def _put(r: Readings, where: _Put, v: Any) -> None:
    kind, key = where
    if kind == RAIL:
        r.rails[key] = v
    elif kind == TEMP:
        r.temps_c[key] = v
    elif kind == GAUGE:
        r.gauge = v
    else:
        r.payload = v


# One device in a plan step: (first op, end op, its poll_from or None, its poll, where its reading goes, key)
_Part = tuple[int, int, Callable[[Sequence[int]], Any] | None, Callable[[], Any], int, str]
# One plan step: a batch call on a bus (its ops, passed as the same tuple every step) over consecutive
# devices, or (None, (), one device polled the normal way)
_Step = tuple[RegisterBatch | None, tuple[tuple[int, int, int], ...], tuple[_Part, ...]]


class SensorPoller:
    """Component: creates and initializes the drivers, polls them at its rate."""

    name = "sensors"

    def __init__(self, hw: HardwareConfig, buses: Sequence[Bus]) -> None:
        self.hw = hw
        self.ina: dict[str, Ina226] = {}
        self.tmp: dict[str, Tmp117] = {}
        self.gauge: Max17048 | None = None
        self.payload: PayloadCtrl | None = None
        self.gpio: dict[str, Tca9534] = {}
        for d in hw.devices:
            bus = buses[d.bus]
            if d.chip == ChipKind.INA226:
                self.ina[d.measures] = Ina226(bus, d.address, d.shunt_ohm, d.max_current_a, name=d.name)
            elif d.chip == ChipKind.TMP117:
                self.tmp[d.measures] = Tmp117(bus, d.address, name=d.name)
            elif d.chip == ChipKind.MAX17048:
                self.gauge = Max17048(bus, d.address, name=d.name)
            elif d.chip == ChipKind.PAYLOAD_CTRL:
                self.payload = PayloadCtrl(bus, d.address, name=d.name)
            else:
                mask = 0
                for ld in hw.loads:
                    if ld.gpio == d.name:
                        mask |= 1 << ld.pin
                self.gpio[d.name] = Tca9534(bus, d.address, mask, name=d.name)
        self.readings = Readings()
        self.init_errors: list[str] = []
        polled: list[_Polled] = [(d, (RAIL, k)) for k, d in self.ina.items()]
        polled += [(d, (TEMP, k)) for k, d in self.tmp.items()]
        if self.gauge is not None:
            polled.append((self.gauge, (GAUGE, "")))
        if self.payload is not None:
            polled.append((self.payload, (PAYLOAD, "")))
        self._polled: tuple[_Polled, ...] = tuple(polled)  # step()'s order
        self._batched = any(isinstance(d.bus, RegisterBatch) and d.poll_registers() for d, _ in polled)
        self._polled_devices = [d for d, _ in polled]
        self._plan_key: list[bool] | None = None  # which devices were FAILED when the plan was made
        self._plan: tuple[_Step, ...] = ()

    @property
    def devices(self) -> list[Device[object]]:
        out: list[Device[object]] = [*self.ina.values(), *self.tmp.values(), *self.gpio.values()]  # type: ignore[list-item]
        if self.gauge is not None:
            out.append(self.gauge)  # type: ignore[arg-type]
        if self.payload is not None:
            out.append(self.payload)  # type: ignore[arg-type]
        return out

    def health(self) -> dict[str, Health]:
        return {d.name: d.health for d in self.devices}

    def reset(self, t_ns: int) -> None:
        self.init_errors = []
        for dev in self.devices:
            try:
                dev.init()
            except DriverError as exc:
                self.init_errors.append(str(exc))
        self.step(t_ns)

    def _make_plan(self) -> tuple[_Step, ...]:
        """The polled devices in order as batches (runs of consecutive batchable devices on one bus) and
        single polls (a device not batchable, or FAILED)."""
        plan: list[_Step] = []
        run_bus: Any = None
        ops: list[tuple[int, int, int]] = []
        parts: list[_Part] = []

        def close() -> None:
            if parts:
                plan.append((run_bus, tuple(ops), tuple(parts)))
            ops.clear()
            parts.clear()

        for dev, put in self._polled:
            regs = dev.poll_registers()
            if dev.failed or not regs or not isinstance(dev.bus, RegisterBatch):
                if not dev.failed:  # a FAILED device's poll() touches nothing: it does not split a run
                    close()
                plan.append((None, (), ((0, 0, None, dev.poll, *put),)))
                continue
            if dev.bus is not run_bus:
                close()
                run_bus = dev.bus
            start = len(ops)
            ops.extend((dev.addr, reg, width) for reg, width in regs)
            parts.append((start, len(ops), dev.poll_from, dev.poll, *put))
        close()
        return tuple(plan)

    def step(self, t_ns: int) -> None:
        r = self.readings
        r.t_ns = t_ns
        if self._batched:
            self._step_batched(r)
        else:
            self._step_single(r)
        for name, gpio in self.gpio.items():
            r.gpio_outputs[name] = gpio.outputs if gpio.health != Health.FAILED else None

    def _step_batched(self, r: Readings) -> None:
        """step() through the plan: the same transfers in the same order as _step_single, the readings
        stored in the same order."""
        failed = [d._failed for d in self._polled_devices]  # Device.failed, without a property call each
        if failed != self._plan_key:
            self._plan = self._make_plan()
            self._plan_key = failed
        rails, temps = r.rails, r.temps_c
        for bus, ops, parts in self._plan:
            if bus is None:
                for _, _, _, poll, kind, key in parts:
                    _put(r, (kind, key), poll())
                continue
            words = bus.read_registers(ops)
            if None in words:  # a device with an error is read the normal way, with its retries and accounting
                for start, end, poll_from, poll, kind, key in parts:
                    got = words[start:end]
                    _put(r, (kind, key), poll() if None in got or poll_from is None
                         else poll_from(got))  # type: ignore[arg-type]
                continue
            for start, end, poll_from, _, kind, key in parts:
                v = poll_from(words[start:end])  # type: ignore[arg-type,misc]
                if kind == RAIL:
                    rails[key] = v
                elif kind == TEMP:
                    temps[key] = v
                elif kind == GAUGE:
                    r.gauge = v
                else:
                    r.payload = v
        if self.gauge is None:
            r.gauge = None
        if self.payload is None:
            r.payload = None

    def _step_single(self, r: Readings) -> None:
        for key, ina in self.ina.items():
            r.rails[key] = ina.poll()
        for node, tmp in self.tmp.items():
            r.temps_c[node] = tmp.poll()
        r.gauge = self.gauge.poll() if self.gauge is not None else None
        r.payload = self.payload.poll() if self.payload is not None else None
