"""Byte transports for the link, picked by a pyserial URL, and a tap that records the traffic.

`open_port(url, baud)` opens any URL pyserial knows; the rig uses:

=========================  ====================================================================
``/dev/ttyUSB0``           a serial device (``/dev/serial0`` on a Raspberry Pi, ``/dev/ttyTHS1`` on
                           a Jetson, a pseudo-terminal from `hil.relay`), at ``baud``
``loop://``                a loopback: what is written is read back (tests)
``socket://host:port``     a TCP connection (the board's Ethernet)
``rfc2217://host:port``    a serial port shared over the network (RFC 2217), at ``baud``
=========================  ====================================================================

Ports are opened with read timeout 0: `read` returns what is there. Devices and sockets also write
non-blocking (`write` returns how many octets the port took); `hil.pump.LinkPump` waits for readiness
itself.

Tap file format (binary, big-endian)::

    file header: 8 octets, "SKYTAP" 0x00 0x01  (magic, format version 1)
    records, one per read or write that moved at least one octet:
      i64  t_ns       the tap's clock when the call returned (monotonic ns by default)
      u8   direction  0x52 "R": read from the port (received); 0x57 "W": written to the port (sent)
      u32  length
      length octets

`read_tap` yields the records; a record cut short at the end of the file (the recorder was killed)
is ignored; anything else malformed raises `TapFormatError`.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

import serial

__all__ = [
    "TAP_MAGIC",
    "Direction",
    "Port",
    "Tap",
    "TapFormatError",
    "TapRecord",
    "TransportError",
    "open_port",
    "read_tap",
    "tap_streams",
]

TAP_MAGIC = b"SKYTAP\x00\x01"
_RECORD = struct.Struct(">qBI")


class TransportError(Exception):
    """A transport could not be opened or failed; the message names the URL and what to check."""


@runtime_checkable
class Port(Protocol):
    """What the link needs of a transport (a pyserial port has all of it)."""

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    @property
    def in_waiting(self) -> int: ...

    def close(self) -> None: ...


def open_port(url: str, baud: int = 115200, *, timeout: float = 0.0, write_timeout: float | None = None) -> Any:
    """A pyserial port for url (see the module docstring), reads non-blocking by default.

    write_timeout None picks 0 (non-blocking) for a device path and ``socket://``, whose file descriptor
    the pump waits on, and blocking writes for the other schemes (``loop://`` rejects a 0 write timeout).
    Raises TransportError with the reason when the port cannot be opened."""
    if baud <= 0:
        raise ValueError(f"baud must be > 0, got {baud}")
    if write_timeout is None and ("://" not in url or url.startswith("socket://")):
        write_timeout = 0.0
    try:
        port = serial.serial_for_url(url, baudrate=baud, timeout=timeout, write_timeout=write_timeout)
    except (serial.SerialException, OSError, ValueError) as exc:
        hint = "check the device name and its permissions (the dialout group)" if "://" not in url \
            else "check the URL and that the far end is listening"
        raise TransportError(f"cannot open {url} at {baud} baud: {exc}; {hint}") from None
    return port


class Direction(IntEnum):
    READ = 0x52  # "R": received from the port
    WRITE = 0x57  # "W": sent to the port


@dataclass(frozen=True, slots=True)
class TapRecord:
    t_ns: int
    direction: Direction
    data: bytes


class TapFormatError(ValueError):
    """A tap file that is not in the format above."""


class Tap:
    """Wraps a port; every read and write that moves octets is appended to a tap file. Everything else
    passes through to the wrapped port, so taps wrap taps and fault injectors alike."""

    def __init__(self, port: Port, out: str | Path | BinaryIO,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.port = port
        self._clock = clock
        if isinstance(out, (str, Path)):
            self._file: BinaryIO = open(out, "wb")  # noqa: SIM115 - closed by close()
            self._owns = True
        else:
            self._file = out
            self._owns = False
        self._file.write(TAP_MAGIC)
        self.bytes_read = 0
        self.bytes_written = 0

    def _record(self, direction: Direction, data: bytes) -> None:
        self._file.write(_RECORD.pack(self._clock(), direction, len(data)) + data)

    def read(self, size: int = 1) -> bytes:
        data = self.port.read(size)
        if data:
            self.bytes_read += len(data)
            self._record(Direction.READ, data)
        return data

    def write(self, data: bytes, /) -> int | None:
        n = self.port.write(data)
        moved = len(data) if n is None else n
        if moved:
            self.bytes_written += moved
            self._record(Direction.WRITE, bytes(data[:moved]))
        return n

    @property
    def in_waiting(self) -> int:
        return self.port.in_waiting

    def fileno(self) -> int:
        fileno: Callable[[], int] = getattr(self.port, "fileno")  # noqa: B009 - AttributeError when it has none
        return fileno()

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        """Close the tap file (if the tap opened it) and the port."""
        self._file.flush()
        if self._owns:
            self._file.close()
        self.port.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.port, name)


def read_tap(path: str | Path) -> Iterator[TapRecord]:
    """The records of a tap file, in order."""
    data = Path(path).read_bytes()
    if data[:len(TAP_MAGIC)] != TAP_MAGIC:
        raise TapFormatError(f"{path}: not a tap file (no {TAP_MAGIC!r} header)")
    pos = len(TAP_MAGIC)
    while pos + _RECORD.size <= len(data):
        t_ns, direction, n = _RECORD.unpack_from(data, pos)
        if direction not in (Direction.READ, Direction.WRITE):
            raise TapFormatError(f"{path}: record at offset {pos} has direction 0x{direction:02x}")
        start = pos + _RECORD.size
        if start + n > len(data):
            return  # cut short: the recorder stopped mid-record
        yield TapRecord(t_ns, Direction(direction), data[start:start + n])
        pos = start + n


def tap_streams(records: Iterator[TapRecord] | list[TapRecord]) -> tuple[bytes, bytes]:
    """(octets received, octets sent), each direction joined in order: feed either to a FrameDecoder."""
    received, sent = bytearray(), bytearray()
    for r in records:
        (received if r.direction is Direction.READ else sent).extend(r.data)
    return bytes(received), bytes(sent)
