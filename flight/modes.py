"""Spacecraft modes as a transition table.

SAFE: survival only (payload off, heaters on thermostats, radio listening).
STANDBY: healthy but no compute (payload off or idle).
NOMINAL: compute allowed.
Any mode may drop to SAFE; leaving SAFE goes through STANDBY; NOMINAL is
entered only from STANDBY. Every transition raises a MODE_CHANGE event.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from flight.events import EventReporter


class Mode(IntEnum):
    SAFE = 0
    STANDBY = 1
    NOMINAL = 2


ALLOWED: frozenset[tuple[Mode, Mode]] = frozenset({
    (Mode.STANDBY, Mode.SAFE), (Mode.NOMINAL, Mode.SAFE),
    (Mode.SAFE, Mode.STANDBY), (Mode.NOMINAL, Mode.STANDBY),
    (Mode.STANDBY, Mode.NOMINAL),
})


class ModeManager:
    def __init__(self, events: EventReporter, initial: Mode = Mode.STANDBY) -> None:
        self.events = events
        self.mode = initial
        self.since_ns = 0
        self.time_in_ns: dict[Mode, int] = {m: 0 for m in Mode}
        self.entries: dict[Mode, int] = {m: 0 for m in Mode}
        self.listeners: list[Callable[[Mode, Mode, int], None]] = []
        self.refused = 0

    def reset(self, t_ns: int) -> None:
        self.since_ns = t_ns

    def request(self, target: Mode, t_ns: int, reason: str) -> bool:
        """Move to target if the table allows it; True when in target afterwards."""
        if target == self.mode:
            return True
        if (self.mode, target) not in ALLOWED:
            self.refused += 1
            return False
        old = self.mode
        self.time_in_ns[old] += t_ns - self.since_ns
        self.mode = target
        self.since_ns = t_ns
        self.entries[target] += 1
        severity = "HIGH" if target == Mode.SAFE else "INFO"
        self.events.emit(t_ns, "MODE_CHANGE", severity, int(old), int(target), reason)
        for fn in self.listeners:
            fn(old, target, t_ns)
        return True

    def account(self, t_ns: int) -> dict[str, float]:
        """Seconds spent in each mode up to t_ns."""
        out = {m.name: self.time_in_ns[m] / 1e9 for m in Mode}
        out[self.mode.name] += (t_ns - self.since_ns) / 1e9
        return out
