"""Time-tagged commands (PUS service 11 style): component "timetag", the on-board schedule.

The uplink accepts a load_time_tagged telecommand (commands.toml, PUS 11,4), decodes and range-checks the
command it embeds, and loads it here with its execution time: whole seconds of mission time since the run's
t = 0 (the executive's t_ns), not CUC. The schedule is bounded (capacity, 64 by default): a load is refused
when the time is already past (FailureCode.TIME_IN_PAST: before the step's t; t itself is not past) or the schedule is
full (FailureCode.SCHEDULE_FULL), and the uplink turns the refusal into the load's start failure report.
Each step releases the commands due (execution time <= t) to Uplink.execute, in time order (equal times: in
load order), which sends their start and completion reports. clear_time_tagged (PUS 11,3) empties the schedule.
The schedule lives in memory: a reboot loses it.

Wiring: TimeTag(uplink) registers itself as uplink.timetag; step it after the uplink in the same rate group,
so a command due now executes in the step that loaded it.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from flight.dictionary.commands import DecodedCommand, FailureCode

if TYPE_CHECKING:
    from flight.uplink import Uplink

NS = 1_000_000_000
DEFAULT_CAPACITY = 64


class ScheduleError(Exception):
    """A load refused: code (TIME_IN_PAST, SCHEDULE_FULL) and the report's failure data."""

    def __init__(self, message: str, code: FailureCode, data: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class TimeTag:
    """Component "timetag": a bounded schedule of decoded commands released to the uplink at their time."""

    name = "timetag"

    def __init__(self, uplink: Uplink, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity: at least 1 command, got {capacity}")
        self.uplink = uplink
        self.capacity = capacity
        self._schedule: list[tuple[int, int, DecodedCommand]] = []  # a heap of (t_exec_ns, load number, command)
        self._loads = 0
        self.loaded = 0
        self.refused = 0
        self.released = 0
        self.cleared = 0
        uplink.timetag = self

    # ------------------------------------------------------------------ component life cycle

    def reset(self, t_ns: int) -> None:
        pass

    def step(self, t_ns: int) -> None:
        """Execute every command due at t_ns (execution time <= t_ns), earliest first."""
        while self._schedule and self._schedule[0][0] <= t_ns:
            _, _, cmd = heapq.heappop(self._schedule)
            self.released += 1
            self.uplink.execute(cmd, t_ns)

    # ------------------------------------------------------------------ the schedule

    def load(self, t_exec_ns: int, command: DecodedCommand, t_ns: int) -> None:
        """Schedule an accepted command at t_exec_ns (mission time); t_ns is now. ScheduleError if that time is
        past (TIME_IN_PAST, data: the time in s) or the schedule is full (SCHEDULE_FULL, data: the capacity)."""
        if t_exec_ns < t_ns:
            self.refused += 1
            raise ScheduleError(f"execution time {t_exec_ns / NS:g} s is before now ({t_ns / NS:g} s)",
                                FailureCode.TIME_IN_PAST, t_exec_ns // NS)
        if len(self._schedule) >= self.capacity:
            self.refused += 1
            raise ScheduleError(f"the schedule is full ({self.capacity} commands)", FailureCode.SCHEDULE_FULL,
                                self.capacity)
        heapq.heappush(self._schedule, (t_exec_ns, self._loads, command))
        self._loads += 1
        self.loaded += 1

    def clear(self) -> int:
        """Delete every pending command; how many there were."""
        n = len(self._schedule)
        self._schedule.clear()
        self.cleared += n
        return n

    @property
    def pending(self) -> list[tuple[int, DecodedCommand]]:
        """The pending commands with their execution times (ns), in execution order."""
        return [(t, c) for t, _, c in sorted(self._schedule)]

    def __len__(self) -> int:
        return len(self._schedule)
