"""Sensor acquisition: one driver per chip of the hardware configuration,
polled each step into the latest readings the other components use.

A reading is None while its device is failed; the device health is kept with
it so fault detection and telemetry can report it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from flight.drivers.base import Device, DriverError, Health
from flight.drivers.ina226 import Ina226, Ina226Reading
from flight.drivers.max17048 import Max17048, Max17048Reading
from flight.drivers.payload_ctrl import PayloadCtrl, PayloadTelemetry
from flight.drivers.tca9534 import Tca9534
from flight.drivers.tmp117 import Tmp117
from flight.hardware import ChipKind, HardwareConfig
from flight.interfaces import Bus


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

    def step(self, t_ns: int) -> None:
        r = self.readings
        r.t_ns = t_ns
        for key, ina in self.ina.items():
            r.rails[key] = ina.poll()
        for node, tmp in self.tmp.items():
            r.temps_c[node] = tmp.poll()
        r.gauge = self.gauge.poll() if self.gauge is not None else None
        r.payload = self.payload.poll() if self.payload is not None else None
        for name, gpio in self.gpio.items():
            r.gpio_outputs[name] = gpio.outputs if gpio.health != Health.FAILED else None
