"""Maxim MAX17048 fuel gauge (16-bit registers, MSB first; fixed address 0x36).

Scaling (datasheet): VCELL 78.125 uV/LSB; SOC high byte %, low byte 1/256 %;
CRATE signed 0.208 %/h per LSB; VERSION 0x001x.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from flight.drivers.base import Device, s16
from flight.interfaces import Bus

ADDRESS = 0x36

REG_VCELL = 0x02
REG_SOC = 0x04
REG_MODE = 0x06
REG_VERSION = 0x08
REG_CONFIG = 0x0C
REG_CRATE = 0x16
REG_VRESET_ID = 0x18
REG_STATUS = 0x1A
REG_CMD = 0xFE

_READ_REGS = (REG_VCELL, REG_SOC, REG_CRATE)  # read() order

VERSION_FAMILY = 0x0010  # MAX17048/49 report 0x001x
VCELL_LSB_V = 78.125e-6
SOC_LSB_PCT = 1.0 / 256.0
CRATE_LSB_PCT_PER_H = 0.208
CMD_POR = 0x5400


class Max17048Reading(NamedTuple):  # immutable, and made every poll: a named tuple is the cheapest to build
    cell_voltage_v: float
    soc_pct: float
    c_rate_pct_per_h: float


class Max17048(Device[Max17048Reading]):
    """MAX17048 fuel gauge. Cell voltage is the average cell voltage the chip sees."""

    CHIP = "MAX17048"
    POLL_REGISTERS = tuple((reg, 2) for reg in _READ_REGS)
    POLL_OPERATIONS = len(_READ_REGS)

    def __init__(self, bus: Bus, addr: int = ADDRESS, *, name: str | None = None, retries: int = 2,
                 fail_after: int = 3, degraded_window: int = 16) -> None:
        super().__init__(bus, addr, name=name, retries=retries, fail_after=fail_after,
                         degraded_window=degraded_window)
        self.version = 0

    def _probe(self) -> None:
        """VERSION register (0x08) must read 0x001x."""
        got = self._read_id(REG_VERSION)
        if got & 0xFFF0 != VERSION_FAMILY:
            raise self._wrong_id("version (0x08)", got, VERSION_FAMILY)
        self.version = got

    def _configure(self) -> None:
        """Nothing to write: the gauge runs with its POR settings."""

    def cell_voltage_v(self) -> float:
        """VCELL register (0x02): unsigned, 78.125 uV/LSB."""
        return self._read16(REG_VCELL) * VCELL_LSB_V

    def soc_pct(self) -> float:
        """SOC register (0x04): unsigned, 1/256 %/LSB (high byte whole percent)."""
        return self._read16(REG_SOC) * SOC_LSB_PCT

    def c_rate_pct_per_h(self) -> float:
        """CRATE register (0x16): signed, 0.208 %/h per LSB (positive while charging)."""
        return s16(self._read16(REG_CRATE)) * CRATE_LSB_PCT_PER_H

    def status_word(self) -> int:
        """STATUS register (0x1A), raw: RI 8, VH 9, VL 10, VR 11, HD 12, SC 13, EnVR 14."""
        return self._read16(REG_STATUS)

    def read(self) -> Max17048Reading:
        """VCELL (0x02), SOC (0x04) and CRATE (0x16), scaled as above."""
        return self.reading_from(self._read16s(_READ_REGS))  # the three methods above, in one go

    def reading_from(self, words: Sequence[int]) -> Max17048Reading:
        """read() from the words of VCELL, SOC and CRATE (`poll_registers()`)."""
        vcell, soc, crate = words
        return tuple.__new__(Max17048Reading, (  # Max17048Reading(...) without the named tuple's Python-level __new__
            vcell * VCELL_LSB_V, soc * SOC_LSB_PCT,
            (crate - 0x10000 if crate & 0x8000 else crate) * CRATE_LSB_PCT_PER_H))
