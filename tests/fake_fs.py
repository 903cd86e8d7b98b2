"""A file system for store tests: real files, every write counted, writes failing on demand."""

from __future__ import annotations

import os

from flight.telemetry.store import OsFileSystem


class WriteFaultFS(OsFileSystem):
    """`writes` counts write calls (failed ones too). With `fail` set to an errno, writes raise it (and
    write nothing); with `once`, only the next write does."""

    def __init__(self) -> None:
        self.writes = 0
        self.fail: int | None = None
        self.once = False

    def write(self, handle: int, data: bytes) -> None:
        self.writes += 1
        code = self.fail
        if code is not None:
            if self.once:
                self.fail = None
            raise OSError(code, os.strerror(code))
        super().write(handle, data)
