"""Time-tagged commands (PUS service 11 style): component "timetag", the on-board schedule.

The uplink accepts a load_time_tagged telecommand (commands.toml, PUS 11,4), decodes and range-checks the
command it embeds, and loads it here with its execution time: whole seconds of mission time since the run's
t = 0 (the executive's t_ns), not CUC. The schedule is bounded (capacity, 64 by default): a load is refused
when the time is already past (FailureCode.TIME_IN_PAST: before the step's t; t itself is not past) or the schedule is
full (FailureCode.SCHEDULE_FULL), and the uplink turns the refusal into the load's start failure report.
Each step releases the commands due (execution time <= t) to Uplink.execute, in time order (equal times: in
load order), which sends their start and completion reports. clear_time_tagged (PUS 11,3) empties the schedule.
With a `path`, the schedule is kept in a state file (flight/atomic_file.py; JSON: each command's execution
time, load number, PUS service and subtype, application data, request ID, acknowledgement flags and source)
rewritten after every load, clear and release, and read back at boot, so a reboot keeps what was scheduled
(a command due during the reboot runs at the first step after it). An unreadable file is counted in
load_errors and the schedule starts empty; an entry the command dictionary no longer decodes is dropped
and counted.

Wiring: TimeTag(uplink) registers itself as uplink.timetag; step it after the uplink in the same rate group,
so a command due now executes in the step that loaded it.
"""

from __future__ import annotations

import heapq
import json
from pathlib import Path
from typing import TYPE_CHECKING

from flight.atomic_file import write_atomic
from flight.dictionary.commands import CommandError, DecodedCommand, FailureCode, RequestId

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

    def __init__(self, uplink: Uplink, capacity: int = DEFAULT_CAPACITY, path: Path | None = None) -> None:
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
        self.path = path
        self.load_errors = 0
        self.write_errors = 0
        uplink.timetag = self
        self._restore()

    # ------------------------------------------------------------------ component life cycle

    def reset(self, t_ns: int) -> None:
        pass

    def step(self, t_ns: int) -> None:
        """Execute every command due at t_ns (execution time <= t_ns), earliest first."""
        while self._schedule and self._schedule[0][0] <= t_ns:
            _, _, cmd = heapq.heappop(self._schedule)
            self.released += 1
            self._save()  # before it runs: a reboot during its execution does not run it twice
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
        self._save()

    def clear(self) -> int:
        """Delete every pending command; how many there were."""
        n = len(self._schedule)
        self._schedule.clear()
        self.cleared += n
        self._save()
        return n

    # ------------------------------------------------------------------ persistence

    def _save(self) -> None:
        if self.path is None:
            return
        rows = [{"t_ns": t, "n": n, "service": c.command.service, "subtype": c.command.subtype,
                 "data": c.command.encode_args(c.args).hex(), "packet_id": c.request.packet_id,
                 "seq": c.request.seq, "ack": c.ack_flags, "source": c.source_id}
                for t, n, c in sorted(self._schedule)]
        try:
            write_atomic(self.path, json.dumps({"version": 1, "next": self._loads, "schedule": rows}).encode())
        except OSError:
            self.write_errors += 1

    def _restore(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            doc = json.loads(self.path.read_bytes())
            rows = doc["schedule"]
            self._loads = int(doc["next"])
        except (OSError, ValueError, KeyError, TypeError):
            self.load_errors += 1
            return
        for row in rows:
            try:
                cdef = self.uplink.commands.by_type(int(row["service"]), int(row["subtype"]))
                if cdef is None:
                    raise CommandError("no such command", FailureCode.UNKNOWN_COMMAND)
                cmd = DecodedCommand(cdef, cdef.decode_args(bytes.fromhex(row["data"])),
                                     RequestId(int(row["packet_id"]), int(row["seq"])), int(row["ack"]),
                                     int(row["source"]))
                heapq.heappush(self._schedule, (int(row["t_ns"]), int(row["n"]), cmd))
            except (CommandError, ValueError, KeyError, TypeError):
                self.load_errors += 1

    @property
    def pending(self) -> list[tuple[int, DecodedCommand]]:
        """The pending commands with their execution times (ns), in execution order."""
        return [(t, c) for t, _, c in sorted(self._schedule)]

    def __len__(self) -> int:
        return len(self._schedule)
