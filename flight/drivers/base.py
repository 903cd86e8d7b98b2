"""What every chip driver shares: register transfers, retries, health.

A driver speaks one chip's register map through any object satisfying the
`Bus` protocol (the emulated bus, the HIL link, Linux I2C). It does no other
I/O and reads no clock: conversion readiness comes from the chip's own flags.

Retry and health semantics (per driver instance):

- An *operation* is one register access (or an atomic group of them, such as
  a latched register pair or a write with read-back). Each operation is tried
  up to ``1 + retries`` times. A `BusError`, a reply of the wrong length, or
  a failed read-back check is an *error*; each attempt after the first is a
  *retry*.
- An operation whose attempts all fail is a *failure* and raises
  `DeviceIoError`. After ``fail_after`` consecutive failures the device is
  marked FAILED: further calls raise `DeviceFailedError` at once, without
  touching the bus, until `reprobe()` succeeds.
- `health` is FAILED as above; DEGRADED when an error (a retried attempt or
  a failed operation) happened within the last ``degraded_window`` operations
  (counting the one with the error; a device back from `reprobe()` is
  therefore DEGRADED until that many clean operations); else OK.
- `poll()` is the non-raising read for periodic loops: it returns the
  driver's `read()` result, or None when the device failed or is FAILED.
- A wrong identity at `init()`/`reprobe()` raises `DeviceIdError` and marks
  the device FAILED (it is not the chip the driver was told about).

Batched polling: a driver whose `read()` is nothing but a fixed list of register reads declares them
(`poll_registers()`, with `POLL_OPERATIONS`, how many operations they are) and decodes their words in
`reading_from()`, which `read()` itself uses. A poller can then read the registers of many devices in one
`RegisterBatch` call and hand each device its words (`poll_from()`), accounted as `read()` would account
them when every first attempt succeeds: one transfer per register, POLL_OPERATIONS clean operations.

Plausibility of readings is not the driver's job; decoding is exact.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import partial
from typing import ClassVar, Generic, TypeVar

from flight.interfaces import Bus, BusError

T = TypeVar("T")
R = TypeVar("R")


class Health(IntEnum):
    OK = 0
    DEGRADED = 1
    FAILED = 2


class DriverError(Exception):
    """Base of every driver error. `device` names the chip and its address."""

    def __init__(self, device: str, message: str) -> None:
        super().__init__(f"{device}: {message}")
        self.device = device


class DeviceIdError(DriverError):
    """The chip at the address is not the expected one (check the address and the wiring)."""


class DeviceIoError(DriverError):
    """An operation failed after all its retries."""


class DeviceFailedError(DriverError):
    """The device is marked FAILED; call reprobe() once the cause is cleared."""


class _AttemptError(Exception):
    """One attempt went wrong in a way the bus did not report (short reply, read-back mismatch)."""


@dataclass(frozen=True)
class DeviceStats:
    """Counters of one driver since it was created (reprobe does not clear them)."""

    health: Health
    transfers: int  # bus.transfer calls made
    errors: int  # failed attempts (bus errors, bad replies, read-back mismatches)
    retries: int  # attempts after the first of an operation
    failures: int  # operations that failed after all retries
    consecutive_failures: int
    reprobes: int


_POINTER = {reg: bytes([reg]) for reg in range(256)}  # the one-octet register-pointer writes


def s16(word: int) -> int:
    """Two's-complement value of a 16-bit word."""
    return word - 0x10000 if word & 0x8000 else word


class Device(ABC, Generic[R]):
    """A chip on a bus, with retries and health. Subclasses define CHIP,
    `_probe` (identity check), `_configure` (write the settings) and `read`."""

    CHIP = "device"
    POLL_REGISTERS: ClassVar[tuple[tuple[int, int], ...]] = ()  # what read() reads: (register, width in octets)
    POLL_OPERATIONS: ClassVar[int] = 0  # how many operations those reads are (a latched pair is one)

    def __init__(self, bus: Bus, addr: int, *, name: str | None = None, retries: int = 2,
                 fail_after: int = 3, degraded_window: int = 16) -> None:
        if not 0 <= addr <= 0x7F:
            raise ValueError(f"I2C address 0x{addr:x} is outside the 7-bit range 0x00..0x7f")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if fail_after < 1:
            raise ValueError(f"fail_after must be >= 1, got {fail_after}")
        if degraded_window < 0:
            raise ValueError(f"degraded_window must be >= 0, got {degraded_window}")
        self.bus = bus
        self.addr = addr
        self.name = name if name is not None else f"{self.CHIP}@0x{addr:02x}"
        self.retries = retries
        self.fail_after = fail_after
        self.degraded_window = degraded_window
        self.last_error: str | None = None
        self._failed = False
        self._transfers = 0
        self._errors = 0
        self._retries = 0
        self._failures = 0
        self._consecutive = 0
        self._reprobes = 0
        self._ops_since_error = degraded_window  # no recent error

    # ------------------------------------------------------------------ health
    @property
    def health(self) -> Health:
        if self._failed:
            return Health.FAILED
        if self._ops_since_error < self.degraded_window:
            return Health.DEGRADED
        return Health.OK

    @property
    def stats(self) -> DeviceStats:
        return DeviceStats(self.health, self._transfers, self._errors, self._retries, self._failures,
                           self._consecutive, self._reprobes)

    # ------------------------------------------------------------------ life cycle
    def init(self) -> None:
        """Check the chip's identity, then write the driver's configuration.
        Raises DeviceIdError (wrong chip: marked FAILED) or DeviceIoError."""
        self._check_not_failed()
        self._probe()
        self._configure()

    def reprobe(self) -> Health:
        """Clear FAILED and run init() again. Returns the resulting health: FAILED
        again if init() failed (see `last_error`); never raises for a bus or identity problem."""
        self._reprobes += 1
        self._failed = False
        self._consecutive = 0
        try:
            self.init()
        except DriverError as exc:
            self._failed = True
            self.last_error = str(exc)
        return self.health

    def poll(self) -> R | None:
        """`read()`, or None when the device is FAILED or the read failed (see `health`)."""
        if self._failed:
            return None
        try:
            return self.read()
        except DriverError as exc:
            self.last_error = str(exc)
            return None

    @property
    def failed(self) -> bool:
        """The device is marked FAILED (health FAILED)."""
        return self._failed

    @abstractmethod
    def read(self) -> R:
        """The chip's main measurement(s) in engineering units."""

    # ------------------------------------------------------------------ batched polling
    def poll_registers(self) -> tuple[tuple[int, int], ...]:
        """The registers `read()` reads, in its order, as (register, width in octets): read() is exactly these
        reads (each a one-octet pointer write then the read, `POLL_OPERATIONS` operations) followed by
        `reading_from` of their words. Empty when read() cannot be batched."""
        return self.POLL_REGISTERS

    def reading_from(self, words: Sequence[int]) -> R:
        """`read()`'s result from the words of `poll_registers()`, in that order (read() decodes with this)."""
        raise NotImplementedError(f"{type(self).__name__} does not declare its poll registers")

    def poll_from(self, words: Sequence[int]) -> R:
        """`poll()` when the reads of `poll_registers()` were done elsewhere (a batch) and all succeeded at
        the first attempt: accounted as read() accounts them (one transfer per word, `POLL_OPERATIONS` clean
        operations), then decoded. Only for a device that is not FAILED; a batch with an error is not
        handed over here (the caller falls back to `poll()`)."""
        self._transfers += len(words)
        if self.POLL_OPERATIONS:
            self._consecutive = 0
            since = self._ops_since_error
            if since < self.degraded_window:  # else it stays: max(window, since) is since
                n = since + self.POLL_OPERATIONS
                self._ops_since_error = n if n < self.degraded_window else self.degraded_window
        return self.reading_from(words)

    @abstractmethod
    def _probe(self) -> None:
        """Read the identity registers; raise DeviceIdError on a mismatch (via `_wrong_id`)."""

    @abstractmethod
    def _configure(self) -> None:
        """Write the configuration chosen at construction."""

    def _read_id(self, reg: int) -> int:
        """Read an identity register. If it fails but the address itself acknowledges (a zero-length
        probe transfer), another chip is there that lacks the register: DeviceIdError, marked FAILED."""
        try:
            return self._read16(reg)
        except DeviceIoError as io_error:
            try:
                self._xfer(b"", 0)
            except (BusError, _AttemptError):
                raise io_error from None  # nothing answers at the address: the I/O error stands
            self._failed = True
            err = DeviceIdError(self.name, f"a device acknowledges address 0x{self.addr:02x} but not the identity "
                                           f"register 0x{reg:02x}: not a {self.CHIP} (check the address and the bus)")
            self.last_error = str(err)
            raise err from None

    def _wrong_id(self, what: str, got: int, expected: int) -> DeviceIdError:
        self._failed = True
        err = DeviceIdError(self.name, f"{what} reads 0x{got:04x}, expected 0x{expected:04x}: "
                                       f"not a {self.CHIP} (check the address and the bus)")
        self.last_error = str(err)
        return err

    # ------------------------------------------------------------------ operations
    def _check_not_failed(self) -> None:
        if self._failed:
            raise DeviceFailedError(self.name, f"marked FAILED ({self.last_error}); call reprobe() "
                                               "once the cause is cleared")

    def _op(self, what: str, attempt: Callable[[], T]) -> T:
        """Run one operation with retries and health accounting."""
        self._check_not_failed()
        try:
            result = attempt()
        except (BusError, _AttemptError) as exc:
            return self._retry(what, attempt, exc)
        self._consecutive = 0
        if self._ops_since_error < self.degraded_window:
            self._ops_since_error += 1
        return result

    def _retry(self, what: str, attempt: Callable[[], T], first: Exception) -> T:
        """The rest of an operation whose first attempt failed with `first`: the retries, then a
        failure (DeviceIoError, and FAILED after `fail_after` consecutive failures)."""
        self._errors += 1
        self._ops_since_error = 0
        reason = str(first)
        for _ in range(self.retries):
            self._retries += 1
            try:
                result = attempt()
            except (BusError, _AttemptError) as exc:
                self._errors += 1
                self._ops_since_error = 0
                reason = str(exc)
                continue
            self._consecutive = 0
            return result
        self._failures += 1
        self._consecutive += 1
        msg = f"{what} failed after {self.retries + 1} attempt(s): {reason}"
        if self._consecutive >= self.fail_after:
            self._failed = True
            msg += f"; marked FAILED after {self._consecutive} consecutive failed operations"
        self.last_error = msg
        raise DeviceIoError(self.name, msg)

    def _xfer(self, write: bytes, read_len: int) -> bytes:
        self._transfers += 1
        reply = self.bus.transfer(self.addr, write, read_len)
        if len(reply) != read_len:
            raise _AttemptError(f"asked for {read_len} byte(s), got {len(reply)}")
        return bytes(reply)

    # 16-bit big-endian registers (INA226, TMP117, MAX17048, payload controller)
    def _raw16(self, reg: int) -> int:
        return int.from_bytes(self._xfer(bytes([reg]), 2), "big")

    def _read16(self, reg: int) -> int:
        """One combined write-pointer-then-read transfer of a 16-bit register.

        The same operation as `_op(..., lambda: self._raw16(reg))`, with its first attempt inlined
        (the periodic reads are almost all of the bus traffic); a failed first attempt continues in
        `_retry` exactly as `_op` would."""
        ptr = _POINTER.get(reg)
        if ptr is None or self._failed:
            return self._op(f"read of register 0x{reg:02x}", lambda: self._raw16(reg))
        self._transfers += 1
        try:
            reply = self.bus.transfer(self.addr, ptr, 2)
        except BusError as exc:
            return self._retry(f"read of register 0x{reg:02x}", lambda: self._raw16(reg), exc)
        if len(reply) != 2:
            return self._retry(f"read of register 0x{reg:02x}", lambda: self._raw16(reg),
                               _AttemptError(f"asked for 2 byte(s), got {len(reply)}"))
        self._consecutive = 0
        if self._ops_since_error < self.degraded_window:
            self._ops_since_error += 1
        return reply[0] << 8 | reply[1]

    def _read16s(self, regs: tuple[int, ...]) -> list[int]:
        """`[self._read16(r) for r in regs]` in one frame: each register is its own operation, with the
        same accounting, retries and exceptions (a failure raises at that register, the later ones unread)."""
        if self._failed:
            return [self._read16(r) for r in regs]
        transfer, addr, out = self.bus.transfer, self.addr, []
        for reg in regs:
            ptr = _POINTER.get(reg)
            if ptr is None or self._failed:
                out.append(self._read16(reg))
                continue
            self._transfers += 1
            try:
                reply = transfer(addr, ptr, 2)
            except BusError as exc:
                out.append(self._retry(f"read of register 0x{reg:02x}", partial(self._raw16, reg), exc))
                continue
            if len(reply) != 2:
                out.append(self._retry(f"read of register 0x{reg:02x}", partial(self._raw16, reg),
                                       _AttemptError(f"asked for 2 byte(s), got {len(reply)}")))
                continue
            self._consecutive = 0
            if self._ops_since_error < self.degraded_window:
                self._ops_since_error += 1
            out.append(reply[0] << 8 | reply[1])
        return out

    def _write16(self, reg: int, value: int, verify_mask: int | None = None) -> None:
        """Write a 16-bit register; with verify_mask, read it back and compare those bits."""
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"register 0x{reg:02x}: value {value} does not fit 16 bits")

        def attempt() -> None:
            self._xfer(bytes([reg, value >> 8, value & 0xFF]), 0)
            if verify_mask is not None:
                got = self._raw16(reg)
                if got & verify_mask != value & verify_mask:
                    raise _AttemptError(f"register 0x{reg:02x} reads back 0x{got:04x} after writing 0x{value:04x}")

        self._op(f"write of register 0x{reg:02x}", attempt)

    # 8-bit registers (TCA9534)
    def _raw8(self, reg: int) -> int:
        return self._xfer(bytes([reg]), 1)[0]

    def _read8(self, reg: int) -> int:
        return self._op(f"read of register 0x{reg:02x}", lambda: self._raw8(reg))

    def _write8(self, reg: int, value: int, verify: bool = True) -> None:
        if not 0 <= value <= 0xFF:
            raise ValueError(f"register 0x{reg:02x}: value {value} does not fit 8 bits")

        def attempt() -> None:
            self._xfer(bytes([reg, value]), 0)
            if verify:
                got = self._raw8(reg)
                if got != value:
                    raise _AttemptError(f"register 0x{reg:02x} reads back 0x{got:02x} after writing 0x{value:02x}")

        self._op(f"write of register 0x{reg:02x}", attempt)
