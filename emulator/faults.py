"""Faults that can be injected into the emulator at a simulated time.

Chip faults act at register level on one device (named as in the
scenario); plant faults change the physics.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceNack:
    """The chip stops acknowledging its address (on=False restores it)."""

    device: str
    on: bool = True


@dataclass(frozen=True)
class StuckReading:
    """A register reads a fixed raw 16-bit word."""

    device: str
    register: int
    raw: int

    def __post_init__(self) -> None:
        if not (0 <= self.register <= 0xFF and 0 <= self.raw <= 0xFFFF):
            raise ValueError("register must be 0..255 and raw 0..65535")


@dataclass(frozen=True)
class ReadingOffset:
    """A constant offset (engineering units of the chip's measurement)."""

    device: str
    offset: float


@dataclass(frozen=True)
class ExtraNoise:
    """Additional 1-sigma noise (engineering units) on each conversion."""

    device: str
    sigma: float

    def __post_init__(self) -> None:
        if self.sigma < 0:
            raise ValueError("sigma must be >= 0")


@dataclass(frozen=True)
class BitFlip:
    """Bits of a register read back inverted (an XOR mask)."""

    device: str
    register: int
    mask: int

    def __post_init__(self) -> None:
        if not (0 <= self.register <= 0xFF and 0 < self.mask <= 0xFFFF):
            raise ValueError("register must be 0..255 and mask 1..65535")


@dataclass(frozen=True)
class ClearDeviceFaults:
    device: str


@dataclass(frozen=True)
class LostSolarStrings:
    """Strings of one panel stop producing (cumulative count)."""

    panel: str
    strings: int

    def __post_init__(self) -> None:
        if self.strings < 0:
            raise ValueError("strings must be >= 0")


@dataclass(frozen=True)
class BatteryCellFailure:
    """Cells fail open: each removes one parallel string (its capacity, its
    share of the conductance and of the current limits); at least one string stays."""

    cells: int = 1

    def __post_init__(self) -> None:
        if self.cells < 1:
            raise ValueError("cells must be >= 1")


@dataclass(frozen=True)
class HeaterStuckOn:
    """A heater load stays powered whatever its switch says."""

    load: str
    on: bool = True


@dataclass(frozen=True)
class PayloadStuckMax:
    """The accelerator draws its highest mode's power, ignoring mode, throttle and shutdown."""

    on: bool = True


Fault = (DeviceNack | StuckReading | ReadingOffset | ExtraNoise | BitFlip | ClearDeviceFaults
         | LostSolarStrings | BatteryCellFailure | HeaterStuckOn | PayloadStuckMax)
