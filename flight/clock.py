"""Clock implementations: the only flight-side code that reads the host's clocks.

- SimClock: simulated time, advanced by the runner (SIL and lockstep HIL).
- MonotonicClock: the board's monotonic clock, offset so a run starts at a chosen time.
- PacedClock: simulated time tied to wall time by a speed factor.
- stopwatch_ns: a monotonic counter for measuring how long flight code takes (never used
  as the time of the mission).
"""

from __future__ import annotations

import time


def stopwatch_ns() -> int:
    """Nanoseconds from an arbitrary origin, for measuring durations only."""
    return time.perf_counter_ns()


class SimClock:
    def __init__(self, t_ns: int = 0) -> None:
        self._t = int(t_ns)

    def now_ns(self) -> int:
        return self._t

    def set(self, t_ns: int) -> None:
        """Move to t_ns (never backwards)."""
        if t_ns < self._t:
            raise ValueError(f"simulated time cannot go back from {self._t} to {t_ns} ns")
        self._t = int(t_ns)


class MonotonicClock:
    def __init__(self, start_ns: int = 0) -> None:
        self._offset = start_ns - time.monotonic_ns()

    def now_ns(self) -> int:
        return time.monotonic_ns() + self._offset


class PacedClock:
    """Simulated time = start + speed x wall time elapsed since construction."""

    def __init__(self, speed: float, start_ns: int = 0) -> None:
        if speed <= 0:
            raise ValueError(f"speed factor must be > 0, got {speed}")
        self.speed = speed
        self._start = start_ns
        self._wall0 = time.monotonic_ns()

    def now_ns(self) -> int:
        return self._start + int((time.monotonic_ns() - self._wall0) * self.speed)

    def wall_ns_until(self, t_ns: int) -> int:
        """Wall nanoseconds to wait until simulated time reaches t_ns (0 if it has)."""
        return max(0, int((t_ns - self.now_ns()) / self.speed))
