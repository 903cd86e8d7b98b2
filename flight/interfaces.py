"""The four narrow interfaces between flight code and the world.

Everything flight software knows about hardware passes through a Clock, a Bus,
a Radio and a Payload. The emulator, the HIL link and a real board each
provide their own implementations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


class BusError(Exception):
    """A bus transfer failed: the device did not acknowledge, or the
    transfer was malformed for that device."""

    def __init__(self, addr: int, reason: str) -> None:
        super().__init__(f"I2C device 0x{addr:02x}: {reason}")
        self.addr = addr
        self.reason = reason


@runtime_checkable
class Clock(Protocol):
    def now_ns(self) -> int:
        """Time in integer nanoseconds (monotonic within a run)."""
        ...


@runtime_checkable
class Bus(Protocol):
    def transfer(self, addr: int, write: bytes, read_len: int) -> bytes:
        """Write `write` to the 7-bit address, then read `read_len` bytes.
        Raises BusError on NACK or a malformed transfer."""
        ...


@runtime_checkable
class RegisterBatch(Protocol):
    """Optional beside Bus: many register reads in one call (the emulator: one C call; the HIL link: the
    board's poll list pushed with each tick)."""

    def read_registers(self, ops: Sequence[tuple[int, int, int]]) -> list[int | None]:
        """For each (addr, register, width) in order, exactly `transfer(addr, bytes([register]), width)`
        (width 1 or 2 octets): the reply as a word, MSB first, or None where that transfer failed (NACK,
        malformed, short reply). Never raises for a device error; each read counts as one transfer.
        A caller polling the same reads every tick passes the same tuple, so an implementation may keep
        what it derives from it (keyed by identity)."""
        ...


@runtime_checkable
class Radio(Protocol):
    def in_contact(self) -> bool:
        """A ground station sees the spacecraft now."""
        ...

    def downlink_bps(self) -> float:
        """Downlink bit rate of the current contact (0 when none)."""
        ...

    def send(self, frame: bytes) -> None:
        """Queue one TM frame (a CADU) for transmission."""
        ...

    def receive(self) -> list[bytes]:
        """TC frames received since the last call."""
        ...
