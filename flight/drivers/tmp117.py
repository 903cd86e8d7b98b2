"""TI TMP117 temperature sensor (16-bit registers, MSB first).

Scaling (datasheet): temperature signed, 7.8125 m°C/LSB; device ID register 0x0F reads 0x0117.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from flight.drivers.base import Device, s16
from flight.interfaces import Bus

REG_TEMP = 0x00
REG_CONFIG = 0x01
REG_THIGH = 0x02
REG_TLOW = 0x03
REG_OFFSET = 0x07
REG_DEVICE_ID = 0x0F

DEVICE_ID = 0x0117  # bits 11:0 device, bits 15:12 revision
TEMP_LSB_C = 7.8125e-3

CFG_HIGH_ALERT = 0x8000
CFG_LOW_ALERT = 0x4000
CFG_DATA_READY = 0x2000
CFG_SOFT_RESET = 0x0002
CFG_SETTINGS_MASK = 0x0FE0  # MOD 11:10, CONV 9:7, AVG 6:5


class ConversionMode(IntEnum):
    """MOD field (config bits 11:10)."""

    CONTINUOUS = 0
    SHUTDOWN = 1
    ONE_SHOT = 3


class Averaging(IntEnum):
    """AVG field (config bits 6:5)."""

    AVG_1 = 0
    AVG_8 = 1
    AVG_32 = 2
    AVG_64 = 3


class ConversionCycle(IntEnum):
    """CONV field (config bits 9:7). The cycle time also depends on AVG (datasheet table);
    the names give it for 1 average."""

    C_15_5MS = 0
    C_125MS = 1
    C_250MS = 2
    C_500MS = 3
    C_1S = 4
    C_4S = 5
    C_8S = 6
    C_16S = 7


@dataclass(frozen=True)
class Tmp117Config:
    """Settings in the configuration register (0x01). POR: continuous, CONV 100b (1 s), 8 averages."""

    mode: ConversionMode = ConversionMode.CONTINUOUS
    cycle: ConversionCycle = ConversionCycle.C_1S
    averaging: Averaging = Averaging.AVG_8

    def __post_init__(self) -> None:
        ConversionMode(self.mode)
        ConversionCycle(self.cycle)
        Averaging(self.averaging)

    @property
    def word(self) -> int:
        return self.mode << 10 | self.cycle << 7 | self.averaging << 5


@dataclass(frozen=True)
class Tmp117Status:
    """Flags of the configuration register (0x01). Reading them clears Data_Ready (and, in alert mode,
    the alert flags)."""

    data_ready: bool
    high_alert: bool
    low_alert: bool


class Tmp117(Device[float]):
    """TMP117 temperature sensor. `read()` returns the temperature in °C."""

    CHIP = "TMP117"
    POLL_REGISTERS = ((REG_TEMP, 2),)
    POLL_OPERATIONS = 1

    def __init__(self, bus: Bus, addr: int, config: Tmp117Config | None = None, *, name: str | None = None,
                 retries: int = 2, fail_after: int = 3, degraded_window: int = 16) -> None:
        super().__init__(bus, addr, name=name, retries=retries, fail_after=fail_after,
                         degraded_window=degraded_window)
        self.config = config if config is not None else Tmp117Config()

    def _probe(self) -> None:
        """Device ID register (0x0F) bits 11:0 must read 0x117."""
        got = self._read_id(REG_DEVICE_ID)
        if got & 0x0FFF != DEVICE_ID:
            raise self._wrong_id("device ID (0x0F)", got, DEVICE_ID)

    def _configure(self) -> None:
        self.configure(self.config)

    def configure(self, config: Tmp117Config) -> None:
        """Write MOD, CONV and AVG of the configuration register (0x01), read back (bits 11:5).
        A change restarts the conversion cycle; ONE_SHOT starts one conversion."""
        self._write16(REG_CONFIG, config.word, verify_mask=CFG_SETTINGS_MASK)
        self.config = config

    def start_one_shot(self) -> None:
        """Write MOD = 11 (configuration register 0x01): one conversion, then idle. Poll data_ready()."""
        self.configure(Tmp117Config(ConversionMode.ONE_SHOT, self.config.cycle, self.config.averaging))

    def soft_reset(self) -> None:
        """Set Soft_Reset (0x01 bit 1): registers return to POR. Call init() to restore the configuration."""
        self._write16(REG_CONFIG, CFG_SOFT_RESET)

    def temperature_c(self) -> float:
        """Temperature register (0x00): signed, 7.8125 m°C/LSB. Reading it clears Data_Ready.
        Holds -256 °C (0x8000) until the first conversion after reset."""
        return s16(self._read16(REG_TEMP)) * TEMP_LSB_C

    def status(self) -> Tmp117Status:
        """Configuration register (0x01) bits 15 HIGH_Alert, 14 LOW_Alert, 13 Data_Ready."""
        w = self._read16(REG_CONFIG)
        return Tmp117Status(bool(w & CFG_DATA_READY), bool(w & CFG_HIGH_ALERT), bool(w & CFG_LOW_ALERT))

    def data_ready(self) -> bool:
        """Configuration register (0x01) bit 13, Data_Ready: a conversion completed since the last read
        of 0x00 or 0x01. Reading clears it."""
        return self.status().data_ready

    def read(self) -> float:
        """Temperature (0x00) in °C, 7.8125 m°C/LSB."""
        return self.reading_from((self._read16(REG_TEMP),))  # temperature_c()

    def reading_from(self, words: Sequence[int]) -> float:
        """read() from the word of the temperature register (`poll_registers()`)."""
        return s16(words[0]) * TEMP_LSB_C
