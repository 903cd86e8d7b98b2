"""The executive's rate groups: order, rates, overrun accounting."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from flight.clock import PacedClock, SimClock
from flight.executive import Executive, RateGroup

MS = 1_000_000


@dataclass
class Recorder:
    name: str
    log: list[tuple[str, int]]
    cost_ns: int = 0
    resets: list[int] = field(default_factory=list)
    watch: list[int] | None = None

    def reset(self, t_ns: int) -> None:
        self.resets.append(t_ns)

    def step(self, t_ns: int) -> None:
        self.log.append((self.name, t_ns))
        if self.watch is not None:
            self.watch[0] += self.cost_ns


def test_groups_run_at_their_rates_in_a_fixed_order() -> None:
    log: list[tuple[str, int]] = []
    fast_a, fast_b = Recorder("a", log), Recorder("b", log)
    slow = Recorder("slow", log)
    slower = Recorder("slower", log)
    ex = Executive([RateGroup("1Hz", 1000 * MS, (slow,)), RateGroup("10Hz", 100 * MS, (fast_a, fast_b)),
                    RateGroup("0.1Hz", 10_000 * MS, (slower,))], stopwatch=lambda: 0)
    assert ex.tick_ns == 100 * MS
    ex.reset(5 * MS)
    assert fast_a.resets == slow.resets == slower.resets == [5 * MS]
    t = 5 * MS
    for _ in range(201):
        ex.tick(t)
        t += ex.tick_ns
    assert ex.stats["10Hz"].runs == 201 and ex.stats["1Hz"].runs == 21 and ex.stats["0.1Hz"].runs == 3
    # at a tick where all are due: fastest first, components in their listed order
    assert log[:4] == [("a", 5 * MS), ("b", 5 * MS), ("slow", 5 * MS), ("slower", 5 * MS)]
    assert ("slow", 5 * MS + 1000 * MS) in log and ("slow", 5 * MS + 900 * MS) not in log


def test_overruns_are_measured_and_reported() -> None:
    now = [0]
    log: list[tuple[str, int]] = []
    heavy = Recorder("heavy", log, cost_ns=70 * MS, watch=now)
    seen: list[tuple[str, int, int]] = []
    ex = Executive([RateGroup("10Hz", 100 * MS, (heavy,), budget=0.5)], stopwatch=lambda: now[0],
                   on_overrun=lambda g, t, took: seen.append((g.name, t, took)))
    ex.reset(0)
    ex.tick(0)
    heavy.cost_ns = 10 * MS
    ex.tick(100 * MS)
    st = ex.stats["10Hz"]
    assert st.overruns == 1 and st.max_ns == 70 * MS and st.mean_ns == 40 * MS
    assert seen == [("10Hz", 0, 70 * MS)]


def test_ticks_must_come_in_order() -> None:
    ex = Executive([RateGroup("g", 100 * MS, ())], stopwatch=lambda: 0)
    ex.reset(0)
    with pytest.raises(ValueError, match="expected 0 ns"):
        ex.tick(100 * MS)


def test_bad_groups_are_rejected() -> None:
    with pytest.raises(ValueError, match="unique"):
        Executive([RateGroup("g", MS, ()), RateGroup("g", 2 * MS, ())], stopwatch=lambda: 0)
    with pytest.raises(ValueError, match="period"):
        RateGroup("g", 0, ())


def test_clocks() -> None:
    c = SimClock(10)
    c.set(20)
    assert c.now_ns() == 20
    with pytest.raises(ValueError, match="cannot go back"):
        c.set(5)
    p = PacedClock(speed=1000.0, start_ns=7)
    assert p.now_ns() >= 7 and p.wall_ns_until(p.now_ns() - 1) == 0
    with pytest.raises(ValueError):
        PacedClock(speed=0)
