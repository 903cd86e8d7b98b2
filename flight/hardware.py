"""What the flight software knows of its spacecraft's hardware: which chip sits
at which bus address and what it measures, which GPIO pin switches which load.

On a board this comes from a configuration file; in SIL the runner derives it
from the scenario. Flight code never sees the emulator's scenario itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ChipKind(IntEnum):
    INA226 = 1
    TMP117 = 2
    MAX17048 = 3
    TCA9534 = 4
    PAYLOAD_CTRL = 5


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    chip: ChipKind
    bus: int
    address: int
    measures: str = ""  # INA226: "battery", "array" or "load:NAME"; TMP117: the thermal node's name
    shunt_ohm: float = 0.0
    max_current_a: float = 0.0


@dataclass(frozen=True)
class LoadSpec:
    name: str
    kind: str  # "fixed", "radio", "heater" or "payload"
    gpio: str | None  # the TCA9534 device switching it, None if hard-wired
    pin: int = -1
    power_w: float = 0.0  # nominal draw when on (the payload's varies with its mode)
    node: str | None = None  # the thermal node it heats


@dataclass(frozen=True)
class HardwareConfig:
    devices: tuple[DeviceSpec, ...]
    loads: tuple[LoadSpec, ...]
    nodes: tuple[str, ...]  # thermal node names, in the housekeeping order
    battery_cells_series: int
    battery_cells_parallel: int = 1
    battery_capacity_ah: float = 0.0  # pack capacity, beginning of life
    battery_ocv: tuple[tuple[float, float], ...] = ()  # (state of charge 0..1, cell open-circuit volts)
    payload_modes: tuple[str, ...] = ()  # mode names for modes 1..n (0 is off)
    payload_mode_power_w: tuple[float, ...] = ()  # nominal power of modes 1..n
    payload_mode_throughput: tuple[float, ...] = ()  # throughput of modes 1..n (1.0 = full speed)

    def __post_init__(self) -> None:
        names = [d.name for d in self.devices]
        if len(set(names)) != len(names):
            raise ValueError(f"device names must be unique: {names}")
        for ld in self.loads:
            if ld.gpio is not None and ld.gpio not in names:
                raise ValueError(f"load {ld.name}: no device named {ld.gpio}")

    def device(self, name: str) -> DeviceSpec:
        for d in self.devices:
            if d.name == name:
                return d
        raise KeyError(name)

    def of_kind(self, chip: ChipKind) -> tuple[DeviceSpec, ...]:
        return tuple(d for d in self.devices if d.chip == chip)
