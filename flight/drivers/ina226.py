"""TI INA226 current / power monitor (16-bit registers, MSB first).

Scaling (datasheet): shunt voltage 2.5 uV/LSB signed; bus voltage 1.25 mV/LSB;
current = Current_LSB signed; power = 25 x Current_LSB; CAL = 0.00512 / (Current_LSB x R_shunt).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from flight.drivers.base import Device, s16
from flight.interfaces import Bus

REG_CONFIG = 0x00
REG_SHUNT = 0x01
REG_BUS = 0x02
REG_POWER = 0x03
REG_CURRENT = 0x04
REG_CAL = 0x05
REG_MASK_ENABLE = 0x06
REG_ALERT_LIMIT = 0x07
REG_MANUFACTURER_ID = 0xFE
REG_DIE_ID = 0xFF

_READ_REGS = (REG_BUS, REG_SHUNT, REG_CURRENT, REG_POWER)  # read() order

MANUFACTURER_ID = 0x5449  # "TI"
DIE_ID = 0x2260  # bits 15:4 device 0x226, bits 3:0 die revision

SHUNT_LSB_V = 2.5e-6
BUS_LSB_V = 1.25e-3
POWER_LSB_PER_CURRENT_LSB = 25
CAL_CONSTANT = 0.00512
SHUNT_FULL_SCALE_V = 32768 * SHUNT_LSB_V  # 81.92 mV

CONFIG_RST = 0x8000
CONFIG_FIXED = 0x4000  # bits 14:12 read 100b
MASK_CVRF = 0x0008
MASK_OVF = 0x0004


class Averaging(IntEnum):
    """AVG field (config bits 11:9): number of averages."""

    AVG_1 = 0
    AVG_4 = 1
    AVG_16 = 2
    AVG_64 = 3
    AVG_128 = 4
    AVG_256 = 5
    AVG_512 = 6
    AVG_1024 = 7

    @property
    def count(self) -> int:
        return (1, 4, 16, 64, 128, 256, 512, 1024)[self]


class ConvTime(IntEnum):
    """VBUSCT / VSHCT fields (config bits 8:6 and 5:3): conversion time."""

    US_140 = 0
    US_204 = 1
    US_332 = 2
    US_588 = 3
    US_1100 = 4
    US_2116 = 5
    US_4156 = 6
    US_8244 = 7

    @property
    def us(self) -> int:
        return (140, 204, 332, 588, 1100, 2116, 4156, 8244)[self]


class Mode(IntEnum):
    """MODE field (config bits 2:0)."""

    POWER_DOWN = 0
    SHUNT_TRIGGERED = 1
    BUS_TRIGGERED = 2
    SHUNT_BUS_TRIGGERED = 3
    POWER_DOWN_2 = 4
    SHUNT_CONTINUOUS = 5
    BUS_CONTINUOUS = 6
    SHUNT_BUS_CONTINUOUS = 7


@dataclass(frozen=True)
class Ina226Config:
    """Configuration register (0x00) contents. POR: 1 average, 1.1 ms, 1.1 ms, continuous both."""

    averaging: Averaging = Averaging.AVG_1
    bus_conv_time: ConvTime = ConvTime.US_1100
    shunt_conv_time: ConvTime = ConvTime.US_1100
    mode: Mode = Mode.SHUNT_BUS_CONTINUOUS

    def __post_init__(self) -> None:
        Averaging(self.averaging)
        ConvTime(self.bus_conv_time)
        ConvTime(self.shunt_conv_time)
        Mode(self.mode)

    @property
    def word(self) -> int:
        return (CONFIG_FIXED | self.averaging << 9 | self.bus_conv_time << 6 | self.shunt_conv_time << 3
                | self.mode)

    @property
    def conversion_time_us(self) -> int:
        """Time of one full result (both channels in the mode, times the averages), in microseconds."""
        t = 0
        if self.mode in (Mode.SHUNT_TRIGGERED, Mode.SHUNT_BUS_TRIGGERED, Mode.SHUNT_CONTINUOUS,
                         Mode.SHUNT_BUS_CONTINUOUS):
            t += self.shunt_conv_time.us
        if self.mode in (Mode.BUS_TRIGGERED, Mode.SHUNT_BUS_TRIGGERED, Mode.BUS_CONTINUOUS,
                         Mode.SHUNT_BUS_CONTINUOUS):
            t += self.bus_conv_time.us
        return t * self.averaging.count


class Ina226Reading(NamedTuple):  # immutable, and made every poll: a named tuple is the cheapest to build
    bus_voltage_v: float
    shunt_voltage_v: float
    current_a: float
    power_w: float


def current_lsb_for(max_current_a: float) -> float:
    """Datasheet procedure: the minimum Current_LSB is max expected current / 2^15; choose the next
    round value at or above it (1, 2 or 5 x 10^n A)."""
    if not (math.isfinite(max_current_a) and max_current_a > 0):
        raise ValueError(f"max expected current must be a positive number of amperes, got {max_current_a}")
    minimum = max_current_a / 32768.0
    decade = 10.0 ** math.floor(math.log10(minimum))
    for step in (1.0, 2.0, 5.0, 10.0):
        lsb = step * decade
        if lsb >= minimum * (1 - 1e-12):
            return lsb
    raise AssertionError("unreachable")  # pragma: no cover


def calibration_for(shunt_ohm: float, current_lsb_a: float) -> int:
    """CAL = 0.00512 / (Current_LSB x R_shunt), rounded to the nearest integer; 1..0x7FFF."""
    if not (math.isfinite(shunt_ohm) and shunt_ohm > 0):
        raise ValueError(f"shunt resistance must be a positive number of ohms, got {shunt_ohm}")
    cal = round(CAL_CONSTANT / (current_lsb_a * shunt_ohm))
    if not 1 <= cal <= 0x7FFF:
        raise ValueError(f"calibration {cal} for a {shunt_ohm} ohm shunt and a {current_lsb_a} A LSB is outside "
                         "1..32767; choose another max current or shunt")
    return cal


class Ina226(Device[Ina226Reading]):
    """INA226 on a shunt of `shunt_ohm`, calibrated for `max_current_a`.

    `current_lsb_a` is the effective Current_LSB of the integer CAL written
    (0.00512 / (CAL x R_shunt)), so current and power decode exactly.
    """

    CHIP = "INA226"
    POLL_REGISTERS = tuple((reg, 2) for reg in _READ_REGS)
    POLL_OPERATIONS = len(_READ_REGS)

    def __init__(self, bus: Bus, addr: int, shunt_ohm: float, max_current_a: float,
                 config: Ina226Config | None = None, *, name: str | None = None, retries: int = 2,
                 fail_after: int = 3, degraded_window: int = 16) -> None:
        super().__init__(bus, addr, name=name, retries=retries, fail_after=fail_after,
                         degraded_window=degraded_window)
        if not (math.isfinite(shunt_ohm) and shunt_ohm > 0):
            raise ValueError(f"shunt resistance must be a positive number of ohms, got {shunt_ohm}")
        if max_current_a * shunt_ohm > SHUNT_FULL_SCALE_V:
            raise ValueError(f"{max_current_a} A through {shunt_ohm} ohm is {max_current_a * shunt_ohm * 1e3:.1f} mV, "
                             f"beyond the shunt full scale of {SHUNT_FULL_SCALE_V * 1e3:.2f} mV")
        self.shunt_ohm = shunt_ohm
        self.max_current_a = max_current_a
        self.config = config if config is not None else Ina226Config()
        self.calibration = calibration_for(shunt_ohm, current_lsb_for(max_current_a))
        self.current_lsb_a = CAL_CONSTANT / (self.calibration * shunt_ohm)
        self.power_lsb_w = POWER_LSB_PER_CURRENT_LSB * self.current_lsb_a

    # ------------------------------------------------------------------ set-up
    def _probe(self) -> None:
        """Manufacturer ID (0xFE) must read 0x5449 ("TI"); Die ID (0xFF) bits 15:4 must read 0x226."""
        mfr = self._read_id(REG_MANUFACTURER_ID)
        if mfr != MANUFACTURER_ID:
            raise self._wrong_id("manufacturer ID (0xFE)", mfr, MANUFACTURER_ID)
        die = self._read_id(REG_DIE_ID)
        if die & 0xFFF0 != DIE_ID:
            raise self._wrong_id("die ID (0xFF)", die, DIE_ID)

    def _configure(self) -> None:
        """Write the configuration (0x00) and calibration (0x05) registers, each read back."""
        self._write16(REG_CONFIG, self.config.word, verify_mask=0x7FFF)
        self._write16(REG_CAL, self.calibration, verify_mask=0x7FFF)

    def configure(self, config: Ina226Config) -> None:
        """Write a new configuration register (0x00) word (read back). Restarts the conversion timing."""
        self._write16(REG_CONFIG, config.word, verify_mask=0x7FFF)
        self.config = config

    def soft_reset(self) -> None:
        """Set RST (0x00 bit 15): every register returns to POR (CAL 0: current and power read 0).
        Call init() afterwards to restore the configuration and calibration."""
        self._write16(REG_CONFIG, CONFIG_RST | CONFIG_FIXED)

    # ------------------------------------------------------------------ readings
    def bus_voltage_v(self) -> float:
        """Bus voltage register (0x02): unsigned 15 bits, 1.25 mV/LSB."""
        return self._read16(REG_BUS) * BUS_LSB_V

    def shunt_voltage_v(self) -> float:
        """Shunt voltage register (0x01): signed, 2.5 uV/LSB."""
        return s16(self._read16(REG_SHUNT)) * SHUNT_LSB_V

    def current_a(self) -> float:
        """Current register (0x04): signed, Current_LSB = 0.00512 / (CAL x R_shunt) A/LSB."""
        return s16(self._read16(REG_CURRENT)) * self.current_lsb_a

    def power_w(self) -> float:
        """Power register (0x03): unsigned, 25 x Current_LSB W/LSB."""
        return self._read16(REG_POWER) * self.power_lsb_w

    def conversion_ready(self) -> bool:
        """Mask/Enable register (0x06) bit 3, CVRF: a conversion completed. Reading 0x06 clears it."""
        return bool(self._read16(REG_MASK_ENABLE) & MASK_CVRF)

    def read(self) -> Ina226Reading:
        """Bus voltage (0x02), shunt voltage (0x01), current (0x04) and power (0x03), scaled as above."""
        return self.reading_from(self._read16s(_READ_REGS))  # the four methods above, in one go

    def reading_from(self, words: Sequence[int]) -> Ina226Reading:
        """read() from the words of bus voltage, shunt voltage, current and power (`poll_registers()`)."""
        bus, shunt, current, power = words
        return tuple.__new__(Ina226Reading, (  # Ina226Reading(...) without the named tuple's Python-level __new__
            bus * BUS_LSB_V, (shunt - 0x10000 if shunt & 0x8000 else shunt) * SHUNT_LSB_V,
            (current - 0x10000 if current & 0x8000 else current) * self.current_lsb_a, power * self.power_lsb_w))
