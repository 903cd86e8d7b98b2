"""Skyrack payload controller: the accelerator's management controller (16-bit registers, MSB first).

Scaling: POWER and POWER_LIMIT 0.1 W/LSB; DIE_TEMP signed 7.8125 m°C/LSB; THROTTLE and THROUGHPUT permille;
JOB_WORK and JOB_DONE in 10 ms units of accelerator time at full throughput.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Any

from flight.drivers.base import Device, s16
from flight.interfaces import Bus

REG_ID = 0x00
REG_VERSION = 0x01
REG_STATUS = 0x02
REG_MODE = 0x03
REG_JOB_CTRL = 0x04
REG_JOB_ID = 0x05
REG_JOB_WORK_HI = 0x06
REG_JOB_WORK_LO = 0x07
REG_JOB_DONE_HI = 0x08
REG_JOB_DONE_LO = 0x09
REG_POWER = 0x0A
REG_DIE_TEMP = 0x0B
REG_THROTTLE = 0x0C
REG_THROUGHPUT = 0x0D
REG_POWER_LIMIT = 0x0E  # since version 1.1
NO_POWER_LIMIT = 0xFFFF  # POWER_LIMIT's power-on value: no cap

CONTROLLER_ID = 0x534B  # "SK"
VERSION_MAJOR = 0x01  # VERSION high byte; low byte is the minor version
POWER_LSB_W = 0.1
DIE_TEMP_LSB_C = 7.8125e-3
PERMILLE = 1e-3
WORK_UNIT_S = 0.01
MAX_WORK_UNITS = 0xFFFFFFFF


class PayloadStatus(IntFlag):
    """STATUS register (0x02) bits."""

    RUNNING = 0x01
    DONE = 0x02
    THROTTLED = 0x04
    SHUTDOWN = 0x08
    UNPOWERED = 0x10


_STATUS = tuple(PayloadStatus(k) for k in range(32))  # PayloadStatus(k), made once
_READ_REGS = (REG_STATUS, REG_MODE, REG_POWER, REG_DIE_TEMP, REG_THROTTLE, REG_THROUGHPUT)  # read() order


class JobCommand(IntEnum):
    """Values written to JOB_CTRL (0x04)."""

    START = 1
    PAUSE = 2
    RESUME = 3
    ABORT = 4


@dataclass(frozen=True)
class PayloadTelemetry:
    status: PayloadStatus
    mode: int
    power_w: float
    die_temp_c: float
    throttle: float
    throughput: float
    job_done_s: float


def _telemetry(status: PayloadStatus, mode: int, power_w: float, die_temp_c: float, throttle: float,
               throughput: float, job_done_s: float, _new: Any = object.__new__) -> PayloadTelemetry:
    """PayloadTelemetry(...) as made every poll: the same frozen object, its fields set without the frozen
    dataclass's attribute-by-attribute __setattr__ (the values come straight from the decoding)."""
    p: PayloadTelemetry = _new(PayloadTelemetry)
    d = p.__dict__
    d["status"] = status
    d["mode"] = mode
    d["power_w"] = power_w
    d["die_temp_c"] = die_temp_c
    d["throttle"] = throttle
    d["throughput"] = throughput
    d["job_done_s"] = job_done_s
    return p


class PayloadCtrl(Device[PayloadTelemetry]):
    """The payload controller. Modes are 0..n (0 the lowest; the scenario names them)."""

    CHIP = "payload controller"
    # read(): the six registers (one operation each), then JOB_DONE_HI/LO (one operation)
    POLL_REGISTERS = (*((reg, 2) for reg in _READ_REGS), (REG_JOB_DONE_HI, 2), (REG_JOB_DONE_LO, 2))
    POLL_OPERATIONS = len(_READ_REGS) + 1

    def __init__(self, bus: Bus, addr: int, *, name: str | None = None, retries: int = 2, fail_after: int = 3,
                 degraded_window: int = 16) -> None:
        super().__init__(bus, addr, name=name, retries=retries, fail_after=fail_after,
                         degraded_window=degraded_window)
        self.version = 0

    def _probe(self) -> None:
        """ID register (0x00) must read 0x534B ("SK"); VERSION (0x01) high byte must be 0x01."""
        got = self._read_id(REG_ID)
        if got != CONTROLLER_ID:
            raise self._wrong_id("ID (0x00)", got, CONTROLLER_ID)
        version = self._read16(REG_VERSION)
        if version >> 8 != VERSION_MAJOR:
            raise self._wrong_id("VERSION (0x01)", version, VERSION_MAJOR << 8)
        self.version = version

    def _configure(self) -> None:
        """Nothing to write: mode and jobs are commanded explicitly."""

    # ------------------------------------------------------------------ commands
    def set_mode(self, mode: int) -> None:
        """Write MODE (0x03). The controller ignores modes above its highest; read mode() to confirm."""
        if not 0 <= mode <= 0xFFFF:
            raise ValueError(f"mode must be 0..65535, got {mode}")
        self._write16(REG_MODE, mode)

    @property
    def has_power_limit(self) -> bool:
        """The controller has POWER_LIMIT (0x0E): version 1.1 or later (known once probed)."""
        return self.version >> 8 == VERSION_MAJOR and self.version & 0xFF >= 1

    def set_power_limit(self, watts: float | None) -> None:
        """Write POWER_LIMIT (0x0E, 0.1 W/LSB, read back): the part lowers its clocks to draw at most this
        (never below its lowest mode's power). None writes 0xFFFF, no cap. Needs `has_power_limit`."""
        if not self.has_power_limit:
            raise ValueError(f"{self.name}: version 0x{self.version:04X} has no POWER_LIMIT register")
        if watts is None:
            word = NO_POWER_LIMIT
        elif not 0.0 <= watts < NO_POWER_LIMIT * POWER_LSB_W:
            raise ValueError(f"power limit must be 0..6553.4 W, got {watts}")
        else:
            word = round(watts / POWER_LSB_W)
        self._write16(REG_POWER_LIMIT, word, verify_mask=0xFFFF)

    def start_job(self, job_id: int, work_units: int) -> None:
        """Write JOB_ID (0x05), JOB_WORK_HI/LO (0x06/0x07, 10 ms units, read back), then START to JOB_CTRL (0x04)."""
        if not 0 <= job_id <= 0xFFFF:
            raise ValueError(f"job id must be 0..65535, got {job_id}")
        if not 1 <= work_units <= MAX_WORK_UNITS:
            raise ValueError(f"job work must be 1..{MAX_WORK_UNITS} units of 10 ms, got {work_units}")
        self._write16(REG_JOB_ID, job_id, verify_mask=0xFFFF)
        self._write16(REG_JOB_WORK_HI, work_units >> 16, verify_mask=0xFFFF)
        self._write16(REG_JOB_WORK_LO, work_units & 0xFFFF, verify_mask=0xFFFF)
        self._write16(REG_JOB_CTRL, JobCommand.START)

    def pause_job(self) -> None:
        """Write PAUSE (2) to JOB_CTRL (0x04): a running job stops accumulating work."""
        self._write16(REG_JOB_CTRL, JobCommand.PAUSE)

    def resume_job(self) -> None:
        """Write RESUME (3) to JOB_CTRL (0x04): a paused job runs again."""
        self._write16(REG_JOB_CTRL, JobCommand.RESUME)

    def abort_job(self) -> None:
        """Write ABORT (4) to JOB_CTRL (0x04): the job and its progress are dropped."""
        self._write16(REG_JOB_CTRL, JobCommand.ABORT)

    # ------------------------------------------------------------------ telemetry
    def status(self) -> PayloadStatus:
        """STATUS register (0x02) as named flags (unknown bits dropped)."""
        return _STATUS[self._read16(REG_STATUS) & 0x1F]

    def mode(self) -> int:
        """MODE register (0x03): the mode in force."""
        return self._read16(REG_MODE)

    def job_id(self) -> int:
        """JOB_ID register (0x05)."""
        return self._read16(REG_JOB_ID)

    def power_w(self) -> float:
        """POWER register (0x0A): unsigned, 0.1 W/LSB."""
        return self._read16(REG_POWER) * POWER_LSB_W

    def die_temp_c(self) -> float:
        """DIE_TEMP register (0x0B): signed, 7.8125 m°C/LSB."""
        return s16(self._read16(REG_DIE_TEMP)) * DIE_TEMP_LSB_C

    def throttle(self) -> float:
        """THROTTLE register (0x0C): permille, returned as a fraction (1.0 = not throttled)."""
        return self._read16(REG_THROTTLE) * PERMILLE

    def throughput(self) -> float:
        """THROUGHPUT register (0x0D): permille of full throughput, returned as a fraction."""
        return self._read16(REG_THROUGHPUT) * PERMILLE

    def job_done_units(self) -> int:
        """JOB_DONE_HI (0x08) then JOB_DONE_LO (0x09) in one operation: reading HI latches LO, so the
        32-bit pair is consistent. A failed attempt retries the pair from HI. 10 ms units."""

        def attempt() -> int:
            hi = self._raw16(REG_JOB_DONE_HI)
            lo = self._raw16(REG_JOB_DONE_LO)
            return hi << 16 | lo

        return self._op("read of JOB_DONE (0x08, 0x09)", attempt)

    def job_done_s(self) -> float:
        """JOB_DONE (0x08/0x09) x 10 ms: accelerator time done at full throughput, in seconds."""
        return self.job_done_units() * WORK_UNIT_S

    def read(self) -> PayloadTelemetry:
        """STATUS, MODE, POWER, DIE_TEMP, THROTTLE, THROUGHPUT and JOB_DONE, scaled as above."""
        words = self._read16s(_READ_REGS)  # the methods above
        done = self.job_done_units()
        words.append(done >> 16)
        words.append(done & 0xFFFF)
        return self.reading_from(words)

    def reading_from(self, words: Sequence[int]) -> PayloadTelemetry:
        """read() from the words of STATUS, MODE, POWER, DIE_TEMP, THROTTLE, THROUGHPUT, JOB_DONE_HI and
        JOB_DONE_LO (`poll_registers()`)."""
        status, mode, power, die, throttle, throughput, done_hi, done_lo = words
        return _telemetry(_STATUS[status & 0x1F], mode, power * POWER_LSB_W,
                          (die - 0x10000 if die & 0x8000 else die) * DIE_TEMP_LSB_C, throttle * PERMILLE,
                          throughput * PERMILLE, (done_hi << 16 | done_lo) * WORK_UNIT_S)
