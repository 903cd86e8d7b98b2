"""The uplink's anti-replay state kept across reboots: the last authenticated SDLS sequence
number, written atomically (flight/atomic_file.py) after each authenticated frame to two files in
turn (the state file and its `.b` twin), and read at boot so a frame recorded before a reboot cannot
be replayed after it. Boot takes the higher of the two valid copies, so one damaged or half-written
copy costs nothing. Only when both are missing or damaged does it read as 0 (counted in
read_errors, and `both_lost` set so the boot can raise an event): an unreadable state never stops
the boot, since that would lock the ground out for good."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from flight.atomic_file import write_atomic

_FMT = struct.Struct(">4sQI")  # magic, sequence number, crc32 of the two
MAGIC = b"SKSN"


class ReplayState:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.twin = path.with_name(path.name + ".b")
        self.read_errors = 0
        self.write_errors = 0
        self.both_lost = False
        self._next = 0  # which copy the next save writes

    def _read(self, path: Path) -> int | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError:
            self.read_errors += 1
            return None
        if len(data) != _FMT.size:
            self.read_errors += 1
            return None
        magic, sn, crc = _FMT.unpack(data)
        if magic != MAGIC or zlib.crc32(data[:12]) != crc:
            self.read_errors += 1
            return None
        return int(sn)

    def load(self) -> int:
        a, b = self._read(self.path), self._read(self.twin)
        valid = [x for x in (a, b) if x is not None]
        self.both_lost = not valid and self.read_errors > 0
        if not valid:
            return 0
        self._next = 1 if a is not None and (b is None or a >= b) else 0  # overwrite the older copy next
        return max(valid)

    def save(self, sn: int) -> None:
        body = struct.pack(">4sQ", MAGIC, sn)
        try:
            write_atomic((self.path, self.twin)[self._next], body + struct.pack(">I", zlib.crc32(body)))
            self._next ^= 1
        except OSError:
            self.write_errors += 1  # the frame was already authenticated; the next one retries
