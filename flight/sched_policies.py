"""Scheduling policies: Skyrack's own and the baselines it is measured against.

Every policy answers `decide(view) -> Choice(job_id, mode)` (flight.scheduler). Mode 0 with a job
holds the job (no work, no power); the payload manager caps the mode to what the thermal margin
allows.

Skyrack (`SkyrackPolicy`):

- Power. The accelerator's throughput is a concave function of its power on the upper hull of
  the mode points and (0 W, 0), so for a given energy the most work comes from a steady power, and
  a power between two hull modes is reached by alternating them from one period to the next
  (credit carried between periods). The power to aim at comes from an energy plan up to the end of
  the next eclipse: a sunlit power P_sun until the eclipse and an eclipse power P_ecl, chosen to
  maximise the work done while the battery ends the eclipse at or above its floor (1 - dod_max,
  plus a margin). In sunlight the battery takes at most what it has room for; array energy beyond
  that is free, so a full battery lets the payload take all the surplus.
- Jobs. Only jobs that can still meet their deadline at the capped mode's throughput are
  candidates. Value density (value per accelerator-second of work remaining) orders them, except
  that deadline jobs at least as dense as the best job without a deadline run earliest deadline
  first. A running job without a deadline is preempted for a deadline job at once, unless it is
  closer to its next checkpoint (or its end) than to its last one and the deadlines leave at least
  twice that wait: then the preemption waits, and the work since the last checkpoint is kept.
  Between jobs without deadlines, only a job more than `switch_gain` times as dense preempts.
- Downlink and store. A job whose result would not fit in the store's free room waits. When the
  passes of the forecast window cannot take every candidate's result besides what already waits,
  value density counts the result's octets too, priced at the window's compute over the octets the
  passes can still take.

Baselines (each at the highest mode the thermal cap allows while it computes):

- run-always: earliest deadline first (then release order), ignoring energy;
- sunlit-only: the same, but only outside eclipses (jobs held at mode 0 in eclipse);
- soc-threshold: the same while the state of charge is above `stop_soc`, resuming above `start_soc`;
- static priority: the lowest priority class first, then release order, ignoring energy.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from flight.jobs import JobState
from flight.scheduler import Choice, Outlook, SchedulingPolicy, SchedView

NS = 1_000_000_000


def envelope(mode_power_w: tuple[float, ...], mode_throughput: tuple[float, ...]) -> list[tuple[int, float, float]]:
    """(mode, power W, throughput) on the upper concave hull of (0, 0) and the modes, by power."""
    pts = sorted([(0, 0.0, 0.0)] + [(k + 1, p, t) for k, (p, t) in enumerate(zip(mode_power_w, mode_throughput,
                                                                                      strict=True))],
                 key=lambda x: (x[1], -x[2]))
    hull: list[tuple[int, float, float]] = []
    for pt in pts:
        if hull and pt[2] <= hull[-1][2]:
            continue  # more power for no more throughput
        while len(hull) >= 2:
            (_, x1, y1), (_, x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (pt[1] - x1) <= (pt[2] - y1) * (x2 - x1):
                hull.pop()  # the middle point lies on or below the chord
            else:
                break
        hull.append(pt)
    return hull


def throughput_at(hull: list[tuple[int, float, float]], w: float) -> float:
    """Throughput of a power w reached by time-sharing hull modes."""
    if w <= 0:
        return 0.0
    for (_, p0, t0), (_, p1, t1) in itertools.pairwise(hull):
        if w <= p1:
            return t0 + (t1 - t0) * (w - p0) / (p1 - p0)
    return hull[-1][2]


_HULLS: dict[tuple[tuple[float, ...], tuple[float, ...]], list[tuple[int, float, float]]] = {}


def mode_curve_at(mode_power_w: tuple[float, ...], mode_throughput: tuple[float, ...], w: float) -> float:
    """Throughput of one mode capped at power w: linear between the mode points (the part's clock and
    voltage steps), proportional below the lowest mode (from (0 W, 0))."""
    points = [(0, 0.0, 0.0), *((k + 1, p, t) for k, (p, t) in enumerate(zip(mode_power_w, mode_throughput,
                                                                                strict=True)))]
    return throughput_at(points, w)


def _capped(view: SchedView) -> list[tuple[int, float, float]]:
    """The hull of the modes the thermal cap allows, the cap mode at the power the cap allows (with only
    mode 1 allowed, mode 1 even if it lies below the full hull: it is how the payload manager learns the
    junction resistance that lifts the cap)."""
    cap = max(min(view.outlook.cap, len(view.mode_power_w)), 0)
    powers, thrs = view.mode_power_w[:cap], view.mode_throughput[:cap]
    if cap >= 2 and view.outlook.cap_w < powers[-1]:
        w = max(view.outlook.cap_w, powers[0])
        powers = (*powers[:-1], w)
        thrs = (*thrs[:-1], mode_curve_at(view.mode_power_w, view.mode_throughput, w))
    key = (powers, thrs)
    hull = _HULLS.get(key)
    if hull is None:
        if len(_HULLS) > 4096:
            _HULLS.clear()  # power limits vary: keep the cache bounded
        hull = _HULLS[key] = envelope(*key)
    return hull


def _left(st: JobState, view: SchedView) -> float:
    """Work left: what the checkpoints have not saved, less what the present run did (running job)."""
    if st is view.running:
        return max(st.remaining_s - view.running_done_s, 0.0)
    return st.remaining_s


def _feasible(st: JobState, view: SchedView, thr: float) -> bool:
    d = st.spec.deadline_ns
    if d is None:
        return True
    return thr > 0 and view.t_ns + _left(st, view) / thr * NS <= d


def _edf_key(st: JobState) -> tuple[float, int, int]:
    d = st.spec.deadline_ns
    return (math.inf if d is None else d, st.spec.release_ns, st.spec.job_id)


class _Greedy:
    """A baseline: one job order, the highest allowed mode when `computing`, else hold at mode 0."""

    name = "RUN_ALWAYS"

    def key(self, st: JobState) -> tuple[float, int, int]:
        return _edf_key(st)

    def computing(self, view: SchedView) -> bool:
        return True

    def decide(self, view: SchedView) -> Choice:
        hull = _capped(view)
        top = hull[-1]
        cands = [st for st in view.ready if _feasible(st, view, top[2])] or list(view.ready)
        if not cands:
            return Choice(None, 0)
        job = min(cands, key=self.key).spec.job_id
        return Choice(job, top[0] if self.computing(view) else 0)


class RunAlwaysPolicy(_Greedy):
    name = "RUN_ALWAYS"


class SunlitOnlyPolicy(_Greedy):
    name = "SUNLIT_ONLY"

    def computing(self, view: SchedView) -> bool:
        return not view.outlook.in_eclipse


class SocThresholdPolicy(_Greedy):
    name = "SOC_THRESHOLD"

    def __init__(self, stop_soc: float = 0.75, start_soc: float = 0.85) -> None:
        if not 0 <= stop_soc < start_soc <= 1:
            raise ValueError("need 0 <= stop_soc < start_soc <= 1")
        self.stop_soc, self.start_soc = stop_soc, start_soc
        self.on = True

    def computing(self, view: SchedView) -> bool:
        soc = view.outlook.soc
        if soc is None:
            return False
        if self.on and soc < self.stop_soc:
            self.on = False
        elif not self.on and soc >= self.start_soc:
            self.on = True
        return self.on


class StaticPriorityPolicy(_Greedy):
    name = "STATIC_PRIORITY"

    def key(self, st: JobState) -> tuple[float, int, int]:
        return (st.spec.priority, st.spec.release_ns, st.spec.job_id)


@dataclass(frozen=True)
class SkyrackConfig:
    soc_margin: float = 0.03  # above the floor at the end of the eclipse
    full_soc: float = 0.97  # a battery this full takes no more charge worth counting
    discharge_efficiency: float = 0.97  # energy delivered per energy taken from the battery
    charge_efficiency: float = 0.97
    charge_max_w: float = math.inf  # the battery's charge acceptance
    grid: int = 12  # sunlit powers tried by the energy plan (besides the hull's vertices)
    switch_gain: float = 1.5  # preempt a job without deadline only for this much more value density


class SkyrackPolicy:
    name = "SKYRACK"

    def __init__(self, config: SkyrackConfig | None = None) -> None:
        self.config = config if config is not None else SkyrackConfig()
        self.budget_w = 0.0
        self._credit = 0.0

    # ------------------------------------------------------------------ power
    def plan(self, o: Outlook, hull: list[tuple[int, float, float]]) -> tuple[float, float]:
        """(sunlit power, eclipse power) for the payload up to the end of the next eclipse."""
        cfg = self.config
        p_max = hull[-1][1]
        if o.soc is None:
            return 0.0, 0.0
        e_now = o.soc * o.battery_wh
        floor = min(o.soc_floor + cfg.soc_margin, 1.0) * o.battery_wh
        t_sun = 0.0 if o.in_eclipse else o.to_eclipse_s / 3600.0
        t_ecl = max(o.eclipse_s / 3600.0, 1e-6)
        eta_d, eta_c = cfg.discharge_efficiency, cfg.charge_efficiency

        def after_sun(p_sun: float) -> float:
            net = o.array_w - o.base_w - p_sun
            if net >= 0:
                return min(e_now + t_sun * min(net, cfg.charge_max_w) * eta_c, o.battery_wh)
            return e_now + t_sun * net / eta_d

        def eclipse_power(e1: float) -> float:
            return min(max((e1 - floor) * eta_d / t_ecl - o.base_w, 0.0), p_max)

        if t_sun <= 0:
            p = eclipse_power(e_now)
            return p, p
        # throughput_at(hull, w) for the powers tried, with each hull segment's differences made once
        # (the same operations in the same order, so the same floats)
        segments = [(p1, p0, t0, t1 - t0, p1 - p0) for (_, p0, t0), (_, p1, t1) in itertools.pairwise(hull)]
        t_top = hull[-1][2]

        def thr(w: float) -> float:
            if w <= 0:
                return 0.0
            for p1, p0, t0, dt, dp in segments:
                if w <= p1:
                    return t0 + dt * (w - p0) / dp
            return t_top

        best = (-1.0, 0.0, 0.0)
        tries = {h[1] for h in hull} | {p_max * k / cfg.grid for k in range(cfg.grid + 1)}
        surplus = o.array_w - o.base_w
        if 0 < surplus < p_max:
            tries.add(surplus)
        for p_sun in sorted(tries):
            e1 = after_sun(p_sun)
            if e1 - t_ecl * o.base_w / eta_d < floor:
                continue  # the other loads alone would take the battery below its floor in the eclipse
            p_ecl = eclipse_power(e1)
            work = t_sun * thr(p_sun) + t_ecl * thr(p_ecl)
            if work > best[0] + 1e-12:
                best = (work, p_sun, p_ecl)
        if best[0] < 0:
            return 0.0, 0.0
        return best[1], best[2]

    @staticmethod
    def _edf_feasible(jobs: list[JobState], left: dict[int, float], dens: dict[int, float], t_ns: int,
                      thr: float) -> list[JobState]:
        """The deadline jobs to run earliest deadline first: all of them when their deadlines can all be met in
        that order at throughput thr, else without the least valuable per second of work until they can
        (an overloaded window gives up its cheapest jobs, not whichever come last)."""
        kept = sorted(jobs, key=_edf_key)
        per_s = 1.0 / max(thr, 1e-9)
        while kept:
            done_s = t_ns / NS
            late = False
            for st in kept:
                done_s += left[st.spec.job_id] * per_s
                if done_s > (st.spec.deadline_ns or 0) / NS:
                    late = True
                    break
            if not late:
                return kept
            kept.remove(min(kept, key=lambda s: dens[s.spec.job_id]))
        return kept

    def _mode(self, hull: list[tuple[int, float, float]], target_w: float) -> int:
        """A hull mode this period, alternating the two around target_w so the mean power meets it."""
        if target_w >= hull[-1][1]:
            self._credit = 0.0
            return hull[-1][0]
        for (m0, p0, _), (m1, p1, _) in itertools.pairwise(hull):
            if target_w <= p1:
                self._credit += (target_w - p0) / (p1 - p0)
                if self._credit >= 1.0 - 1e-9:
                    self._credit -= 1.0
                    return m1
                return m0
        return hull[-1][0]

    # ------------------------------------------------------------------ jobs
    @staticmethod
    def _byte_cost_s(o: Outlook, cands: list[JobState], thr: float) -> float:
        """What an octet of result costs in accelerator-seconds, when the passes are the scarcer resource: 0
        while the passes of the forecast window can take every candidate's result besides what is already
        waiting, else the window's compute over the octets the passes can still take (jobs then rank by value
        over the sum of the work and the downlink they use, each counted in the window's exchange rate)."""
        room = max(o.downlink_bytes_ahead - o.products_backlog_bytes, 0.0)
        demand = sum(st.spec.output_bytes for st in cands)
        if demand <= room:
            return 0.0
        return o.downlink_window_s * thr / max(room, 1.0)

    def _pick(self, view: SchedView, thr_top: float, thr: float) -> JobState | None:
        """thr_top: throughput at the highest allowed mode (deadline feasibility); thr: the plan's mean."""
        t = view.t_ns
        top_ns = NS / thr_top if thr_top > 0 else math.inf
        left: dict[int, float] = {}  # work left by job id, for the feasible ones
        dens: dict[int, float] = {}
        cands: list[JobState] = []
        best_free = 0.0  # the best value per accelerator-second of whole work among jobs without deadline
        o = view.outlook
        part = max(o.result_part_octets, 1)  # a result takes whole parts in the store
        running, running_done_s = view.running, view.running_done_s
        for st in view.ready:
            spec = st.spec
            w = st.remaining_s  # _left(st, view), inlined
            if st is running:
                w = max(w - running_done_s, 0.0)
            d = spec.deadline_ns
            if d is not None and t + w * top_ns > d:
                continue  # cannot make its deadline even at the highest allowed mode
            if -(-spec.output_bytes // part) * part > o.store_free_bytes and st is not running:
                continue  # its result would not fit in the store: wait for the passes to make room
            left[spec.job_id] = w
            cands.append(st)
        byte_s = self._byte_cost_s(o, cands, thr)
        for st in cands:
            spec = st.spec
            jid = spec.job_id
            dens[jid] = spec.value / max(left[jid] + spec.output_bytes * byte_s, 1e-9)
            if spec.deadline_ns is None and spec.density > best_free:
                best_free = spec.density
        if not cands:
            return None
        urgent = self._edf_feasible([st for st in cands if st.spec.deadline_ns is not None
                                     and st.spec.density >= best_free], left, dens, t, thr)
        choice = min(urgent, key=_edf_key) if urgent else max(
            cands, key=lambda s: (dens[s.spec.job_id], -s.spec.release_ns))
        run = view.running
        if run is None or choice is run or run.spec.job_id not in left:
            return choice
        if choice.spec.deadline_ns is None:
            return choice if dens[choice.spec.job_id] > self.config.switch_gain * dens[run.spec.job_id] else run
        # a deadline job: let the running job reach its next checkpoint (or its end) first when every
        # urgent deadline still holds after the wait (EDF demand: the work due by each deadline)
        slack_s = math.inf
        due = 0.0
        for st in sorted(urgent or [choice], key=_edf_key):
            due += left[st.spec.job_id] / thr
            slack_s = min(slack_s, (st.spec.deadline_ns or 0) / NS - t / NS - due)
        period_s = view.period_ns / NS
        ck = run.spec.checkpoint_s
        done = view.running_done_s
        since_ck = math.fmod(done, ck) if ck > 0 else done
        if ck > 0 and since_ck <= period_s * thr:
            return choice  # just past a checkpoint: switching now loses (almost) nothing
        to_ck = (ck - since_ck) / thr if ck > 0 else math.inf
        to_end = left[run.spec.job_id] / thr
        wait = min(to_ck, to_end)
        # waiting saves at most the work since the last checkpoint (or the whole run without checkpoints) and
        # delays every urgent job, while more of a burst may still arrive: wait only when that is the better bet
        if wait <= since_ck / thr and wait + 2 * period_s < 0.5 * slack_s:
            return run
        return choice

    def decide(self, view: SchedView) -> Choice:
        hull = _capped(view)
        o = view.outlook
        p_sun, p_ecl = self.plan(o, hull)
        target = p_ecl if o.in_eclipse else p_sun
        if not o.in_eclipse and o.soc is not None and o.soc >= self.config.full_soc:
            target = max(target, min(o.array_w - o.base_w, hull[-1][1]))  # a full battery wastes the surplus
        self.budget_w = target
        thr_mean = throughput_at(hull, target)
        job = self._pick(view, hull[-1][2], max(thr_mean, 1e-6) if thr_mean > 0 else hull[-1][2])
        if job is None:
            return Choice(None, 0)
        return Choice(job.spec.job_id, self._mode(hull, target) if thr_mean > 0 else 0)


POLICIES: dict[str, Callable[[], SchedulingPolicy]] = {
    "skyrack": SkyrackPolicy, "run-always": RunAlwaysPolicy, "sunlit-only": SunlitOnlyPolicy,
    "soc-threshold": SocThresholdPolicy, "static-priority": StaticPriorityPolicy,
}


def make_policy(name: str) -> SchedulingPolicy:
    try:
        return POLICIES[name]()
    except KeyError:
        raise ValueError(f"unknown scheduling policy {name!r} (known: {', '.join(POLICIES)})") from None
