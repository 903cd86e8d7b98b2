"""The uplink's anti-replay state kept across reboots: the last authenticated SDLS sequence
number, written atomically (temporary file, fsync, rename, directory fsync) after each
authenticated frame, and read at boot so a frame recorded before a reboot cannot be replayed
after it. A missing or unreadable file reads as 0 (counted), never as an error that stops the boot."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

_FMT = struct.Struct(">4sQI")  # magic, sequence number, crc32 of the two
MAGIC = b"SKSN"


class ReplayState:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.read_errors = 0
        self.write_errors = 0

    def load(self) -> int:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return 0
        except OSError:
            self.read_errors += 1
            return 0
        if len(data) != _FMT.size:
            self.read_errors += 1
            return 0
        magic, sn, crc = _FMT.unpack(data)
        if magic != MAGIC or zlib.crc32(data[:12]) != crc:
            self.read_errors += 1
            return 0
        return int(sn)

    def save(self, sn: int) -> None:
        body = struct.pack(">4sQ", MAGIC, sn)
        tmp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, body + struct.pack(">I", zlib.crc32(body)))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            self.write_errors += 1  # the frame was already authenticated; the next one retries
