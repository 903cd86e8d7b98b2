"""The mode commander: steps the spacecraft toward the operator's target mode
(NOMINAL by default) one transition at a time, only as far as every
component's mode ceiling allows (power, fault detection). Components lower
the mode themselves; this is what raises it again once they allow it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from flight.modes import Mode, ModeManager


class Ceiling(Protocol):
    @property
    def mode_ceiling(self) -> Mode: ...


class ModeCommander:
    name = "commander"

    def __init__(self, modes: ModeManager, ceilings: Sequence[Ceiling], target: Mode = Mode.NOMINAL,
                 dwell_s: float = 60.0) -> None:
        self.modes = modes
        self.ceilings = list(ceilings)
        self.target = target
        self.dwell_ns = int(dwell_s * 1e9)

    def reset(self, t_ns: int) -> None:
        pass

    def set_target(self, target: Mode) -> None:
        """The operator's mode (a telecommand): the commander steps up no further than this."""
        self.target = target

    def step(self, t_ns: int) -> None:
        m = self.modes
        if m.mode >= self.target or t_ns - m.since_ns < self.dwell_ns:
            return
        allowed = min([self.target, *(c.mode_ceiling for c in self.ceilings)])
        nxt = Mode(m.mode + 1)
        if nxt <= allowed:
            m.request(nxt, t_ns, f"to {nxt.name.lower()}")

