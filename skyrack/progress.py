"""A small progress bar on standard error, drawn only when it is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: float, label: str, unit: str = "", stream: TextIO | None = None,
                 enabled: bool | None = None) -> None:
        self.total = max(float(total), 1e-9)
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._t0 = time.monotonic()
        self._last = 0.0
        self.done = 0.0

    def update(self, done: float) -> None:
        self.done = done
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done < self.total:
            return
        self._last = now
        frac = min(done / self.total, 1.0)
        width = 30
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        rate = done / max(now - self._t0, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else 0.0
        self.stream.write(f"\r{self.label} [{bar}] {100 * frac:5.1f}% {rate:,.0f} {self.unit}/s eta {eta:,.0f} s ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.update(self.total)
            self.stream.write("\n")
            self.stream.flush()
