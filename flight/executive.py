"""The executive: rate groups calling components in a fixed order.

Each rate group has a period (a whole multiple of the executive's tick) and an
ordered list of components. At every tick the executive calls `step(t_ns)` on
the components of every group that is due, fastest group first, measures how
long each group took and counts an overrun when a group takes longer than its
budget (a fraction of its period). There are no threads: the caller decides
when a tick happens (the SIL runner after advancing the emulator, a board's
loop after waiting for its clock).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class Component(Protocol):
    name: str

    def reset(self, t_ns: int) -> None: ...

    def step(self, t_ns: int) -> None: ...


@dataclass(frozen=True)
class RateGroup:
    name: str
    period_ns: int
    components: tuple[Component, ...]
    budget: float = 0.5  # share of the period a step may take before it counts as an overrun

    def __post_init__(self) -> None:
        if self.period_ns <= 0:
            raise ValueError(f"rate group {self.name}: period must be > 0 ns")
        if not 0 < self.budget <= 1:
            raise ValueError(f"rate group {self.name}: budget must be in (0, 1]")


@dataclass
class GroupStats:
    runs: int = 0
    overruns: int = 0
    total_ns: int = 0
    max_ns: int = 0
    last_overrun_t_ns: int | None = None

    @property
    def mean_ns(self) -> float:
        return self.total_ns / self.runs if self.runs else 0.0


@dataclass
class Executive:
    groups: Sequence[RateGroup]
    stopwatch: Callable[[], int]
    on_overrun: Callable[[RateGroup, int, int], None] | None = None  # (group, t_ns, took_ns)
    stats: dict[str, GroupStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.groups:
            raise ValueError("an executive needs at least one rate group")
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise ValueError(f"rate group names must be unique: {names}")
        self.groups = sorted(self.groups, key=lambda g: g.period_ns)
        self.tick_ns = math.gcd(*(g.period_ns for g in self.groups))
        self.stats = {g.name: GroupStats() for g in self.groups}
        self._t0 = 0
        self._next = 0

    def reset(self, t_ns: int) -> None:
        """Reset every component (in group order) and start ticking at t_ns."""
        for g in self.groups:
            for c in g.components:
                c.reset(t_ns)
        self._t0 = t_ns
        self._next = t_ns
        self.stats = {g.name: GroupStats() for g in self.groups}

    @property
    def next_tick_ns(self) -> int:
        return self._next

    def tick(self, t_ns: int) -> None:
        """Run the groups due at t_ns, which must be the next tick time."""
        if t_ns != self._next:
            raise ValueError(f"tick at {t_ns} ns, expected {self._next} ns")
        since = t_ns - self._t0
        for g in self.groups:
            if since % g.period_ns:
                continue
            start = self.stopwatch()
            for c in g.components:
                c.step(t_ns)
            took = self.stopwatch() - start
            st = self.stats[g.name]
            st.runs += 1
            st.total_ns += took
            st.max_ns = max(st.max_ns, took)
            if took > g.budget * g.period_ns:
                st.overruns += 1
                st.last_overrun_t_ns = t_ns
                if self.on_overrun is not None:
                    self.on_overrun(g, t_ns, took)
        self._next = t_ns + self.tick_ns
