"""Payload management: the accelerator's power mode, its thermal cap and its jobs.

Component "payload", stepped by the executive after the sensor poller (it reads the
poller's latest `Readings.payload`) and after thermal control (so a SAFE request made in
the same tick switches the payload off in that tick).

Spacecraft modes. Compute happens only in NOMINAL. In SAFE and STANDBY a running job is
aborted (JOB_ABORTED; the policy keeps it to run again from the start), the accelerator is
commanded to mode 0 and its load switch is opened. Entering NOMINAL closes the switch.

Thermal cap. The part protects itself (it throttles at its throttle point, 87 degC on the
gpu-node, and latches off at its shutdown point); the flight software keeps the die below
`payload_die_limit_c` minus a margin so the part's own throttle never engages. The
die sits above the cold plate by R_j x P, and the part answers a mode change within a
tick, so the manager predicts the die at any mode m from the present reading:

    die(m) = die_now + R_j (P_m - P_now)

with P_m the mode's nominal power (`HardwareConfig.payload_mode_power_w`) and R_j the
junction resistance, estimated on line from (die - payload node temperature) / power
whenever the part draws power (or given to the constructor).

With a controller that has a power limit (POWER_LIMIT, version 1.1, as a GPU's power
cap) the cap is a power: each tick the highest power whose predicted die stays below a
ceiling `limit_margin_c` under the limit, P_now + (ceiling - die_now) / R_j, floored to
`limit_step_w`, is written as the part's power limit when it binds below the highest
mode's power (and lifted when it no longer binds). The die then sits just under the
ceiling whatever the node temperature, instead of a whole mode below it; the margin can
be small because the limit is corrected every tick by a few watts. `cap` is then the
lowest mode that reaches the limit (its power capped), and `cap_w` the power allowed. The
limit is written only when it changes by a step, and a rise of a single step waits for a
second step of headroom, so measurement noise does not rewrite it every tick.

With a controller without one, the cap is a mode: the highest mode whose predicted die
stays below a ceiling `die_margin_c` under the limit (a mode is a step of hundreds of
watts); it falls as soon as the cap's prediction reaches the ceiling (or the part reports
that it throttled itself) and rises again only when the next mode's prediction is
`step_up_hysteresis_c` below the ceiling and `step_up_dwell_s` have passed since the last
step down.

Either way: while R_j is unknown (a failed payload node sensor since boot) the cap stays
at mode 1; at or above the limit itself the cap is 0; when the part throttles itself the
cap steps below the mode it runs. PAYLOAD_THROTTLED (param1 the new cap mode, param2 the
die in 0.01 degC) is raised when the cap mode changes and when a power limit starts or
stops binding, not at every adjustment of the limit (housekeeping carries its value).
The commanded mode is min(policy's mode, cap).

PAYLOAD_SHUTDOWN (HIGH) is raised once each time the part reports it shut itself down;
while it is latched off the manager re-commands its mode each tick, which is what lets the
controller restart the part once it has cooled to its recovery point.

Policy. What runs and at which mode is decided by a `PayloadPolicy`:
`choose(t_ns, running) -> Decision(mode, job)`, told of each job's end by
`job_ended(t_ns, job, completed, done_s)` (done_s: the work the run did). Returning a job other
than the running one preempts it (the running one is aborted). Mode 0 with a job holds the job:
it stays loaded on the controller with its progress, the accelerator drawing no power.
`FifoPolicy`, the built-in one, runs a fixed list of jobs in order at the highest mode and asks
for mode 0 when the list is empty; flight.scheduler.JobScheduler replaces it.

Jobs: JOB_STARTED (param1 job id, param2 work units of 10 ms), JOB_DONE (param1 job id,
param2 wall seconds it took), JOB_ABORTED (param1 job id, param2 work done in 10 ms units
as last reported). A job the controller stops reporting (neither RUNNING nor DONE for
`lost_after_s`) is counted as aborted and handed back to the policy.

Hooks for the composition: `valid(name)` (FDIR's verdict; "payload" and "temp:<node>") drops
readings FDIR has invalidated, and `inhibited(load)` (power's load shedding) makes the manager
power the payload down as outside NOMINAL, so the two never fight over the switch.

Without payload telemetry the manager starts no job and caps the mode at 1; detecting the
failed controller is fault management's job.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from flight.drivers.base import DriverError
from flight.drivers.payload_ctrl import MAX_WORK_UNITS, WORK_UNIT_S, PayloadStatus, PayloadTelemetry
from flight.events import EventReporter
from flight.hardware import HardwareConfig
from flight.modes import Mode, ModeManager
from flight.params import Parameters
from flight.sensors import Readings

NS = 1_000_000_000


# ---------------------------------------------------------------------------- interfaces
class PayloadDriver(Protocol):
    """What the manager needs of `flight.drivers.payload_ctrl.PayloadCtrl` (commands only;
    telemetry comes through the sensor poller's readings)."""

    def set_mode(self, mode: int) -> None: ...

    def start_job(self, job_id: int, work_units: int) -> None: ...

    def abort_job(self) -> None: ...

    @property
    def has_power_limit(self) -> bool: ...

    def set_power_limit(self, watts: float | None) -> None: ...


class SwitchBank(Protocol):
    """What the manager needs of `flight.switches.LoadSwitches`."""

    def set(self, load: str, on: bool) -> bool: ...

    def is_on(self, load: str) -> bool: ...


@dataclass(frozen=True)
class Job:
    job_id: int  # 0..65535 (the controller's JOB_ID register)
    work_s: float  # accelerator seconds at full throughput

    def __post_init__(self) -> None:
        if not 0 <= self.job_id <= 0xFFFF:
            raise ValueError(f"job id must be 0..65535, got {self.job_id}")
        if not 0 < self.work_s <= MAX_WORK_UNITS * WORK_UNIT_S:
            raise ValueError(f"job {self.job_id}: work must be > 0 and at most {MAX_WORK_UNITS * WORK_UNIT_S} s")

    @property
    def work_units(self) -> int:
        return max(1, math.ceil(round(self.work_s / WORK_UNIT_S, 6)))


@dataclass(frozen=True)
class Decision:
    mode: int  # wanted power mode, 0 (off) .. n; the thermal cap is applied after
    job: Job | None  # the job that should be running now (None: none)

    def __post_init__(self) -> None:
        if self.mode < 0:
            raise ValueError(f"mode must be >= 0, got {self.mode}")


class PayloadPolicy(Protocol):
    """Chooses what the accelerator does; consulted every step while in NOMINAL."""

    def choose(self, t_ns: int, running: Job | None) -> Decision: ...

    def job_ended(self, t_ns: int, job: Job, completed: bool, done_s: float) -> None: ...


class FifoPolicy:
    """The built-in policy: jobs in the given order, each at `mode` until done; mode 0 when idle.
    An aborted job stays at the head of the queue and starts again from the beginning."""

    def __init__(self, jobs: Iterable[Job], mode: int) -> None:
        self.queue: deque[Job] = deque(jobs)
        self.mode = mode
        self.completed: list[Job] = []

    def choose(self, t_ns: int, running: Job | None) -> Decision:
        if running is not None:
            return Decision(self.mode, running)
        if self.queue:
            return Decision(self.mode, self.queue[0])
        return Decision(0, None)

    def job_ended(self, t_ns: int, job: Job, completed: bool, done_s: float = 0.0) -> None:
        if completed and self.queue and self.queue[0] == job:
            self.completed.append(self.queue.popleft())


@dataclass(frozen=True)
class PayloadConfig:
    die_margin_c: float = 2.0  # keep the die this far below payload_die_limit_c (a mode cap)
    limit_margin_c: float = 0.5  # the same with a power limit, which regulates within a tick and a few watts
    step_up_hysteresis_c: float = 3.0  # a higher mode only when predicted this far below the ceiling
    step_up_dwell_s: float = 30.0  # after a step down, wait this long before stepping up
    limit_step_w: float = 5.0  # the power limit's resolution (a controller with POWER_LIMIT)
    rj_filter: float = 0.2  # weight of each new junction-resistance sample
    rj_min_power_frac: float = 0.05  # estimate R_j only above this share of the highest mode's power
    lost_after_s: float = 3.0

    def __post_init__(self) -> None:
        if min(self.die_margin_c, self.limit_margin_c, self.step_up_hysteresis_c, self.step_up_dwell_s) < 0:
            raise ValueError("margins and dwell must be >= 0")
        if not self.limit_step_w > 0:
            raise ValueError(f"limit_step_w must be > 0, got {self.limit_step_w}")
        if not 0 < self.rj_filter <= 1:
            raise ValueError(f"rj_filter must be in (0, 1], got {self.rj_filter}")
        if self.lost_after_s <= 0:
            raise ValueError("lost_after_s must be > 0")


# the STATUS bits as plain integers: a bit test on int(status) costs less than a flag's `in`
_RUNNING = int(PayloadStatus.RUNNING)
_DONE = int(PayloadStatus.DONE)
_THROTTLED = int(PayloadStatus.THROTTLED)
_SHUTDOWN = int(PayloadStatus.SHUTDOWN)


@dataclass
class _Running:
    job: Job
    started_ns: int
    last_seen_ns: int
    done_s: float = 0.0


def _centi(temp_c: float) -> int:
    return round(temp_c * 100)


class PayloadManager:
    """Owns the accelerator's power mode, load switch and jobs (see the module docstring)."""

    name = "payload"

    def __init__(self, hw: HardwareConfig, readings: Readings, driver: PayloadDriver, switches: SwitchBank,
                 params: Parameters, modes: ModeManager, events: EventReporter,
                 jobs: Iterable[tuple[int, float]] = (), *, policy: PayloadPolicy | None = None,
                 config: PayloadConfig | None = None, junction_k_per_w: float | None = None,
                 valid: Callable[[str], bool] | None = None, inhibited: Callable[[str], bool] | None = None) -> None:
        loads = [ld for ld in hw.loads if ld.kind == "payload"]
        if len(loads) != 1:
            raise ValueError(f"the hardware configuration must have exactly one payload load, has {len(loads)}")
        if not hw.payload_mode_power_w or len(hw.payload_mode_power_w) != len(hw.payload_modes):
            raise ValueError("the hardware configuration names no payload modes with their powers")
        self.hw = hw
        self.readings = readings
        self.driver = driver
        self.switches = switches
        self.params = params
        self.modes = modes
        self.events = events
        self.config = config if config is not None else PayloadConfig()
        self.valid = valid  # FDIR's verdict on "payload" / "temp:<node>"; invalid readings are not used
        self.inhibited = inhibited  # the payload load held off by another component (power's load shedding)
        self.load = loads[0].name
        self.node = loads[0].node
        self._node_key = f"temp:{self.node}"  # FDIR's validity name of the payload node, made once
        self.n_modes = len(hw.payload_modes)
        self.mode_power_w = hw.payload_mode_power_w
        self._top_power_w = max(self.mode_power_w)  # the highest mode's power, for the R_j estimate's threshold
        self.policy: PayloadPolicy = policy if policy is not None else FifoPolicy(
            (Job(j, w) for j, w in jobs), self.n_modes)
        self._rj_given = junction_k_per_w
        self.junction_k_per_w: float | None = junction_k_per_w
        self.cap = 1
        self.limit_w: float | None = None  # the thermal power limit in force (None: none)
        self._limit_written: float | None = None  # what the controller was last told (None: no limit)
        self._limit_known = False  # False: tell it again (after a boot or a failed write)
        self.commanded_mode: int | None = None
        self.running: _Running | None = None
        self.command_failures = 0
        self.jobs_done = 0
        self._last_down_ns: int | None = None
        self._shutdown_seen = False

    # ------------------------------------------------------------------ life cycle
    def reset(self, t_ns: int) -> None:
        self.junction_k_per_w = self._rj_given
        self.cap = 1
        self.limit_w = None
        self._limit_known = False
        self.commanded_mode = None
        self.running = None
        self._last_down_ns = None
        self._shutdown_seen = False

    def step(self, t_ns: int) -> None:
        tm = self.readings.payload
        if tm is not None and self.valid is not None and not self.valid("payload"):
            tm = None
        self._watch_part(t_ns, tm)
        shed = self.inhibited is not None and self.inhibited(self.load)
        if self.modes.mode != Mode.NOMINAL or shed:
            self._power_down(t_ns)
            return
        if not self.switches.set(self.load, True):
            self.command_failures += 1
        self._estimate_rj(tm)
        self._update_cap(t_ns, tm)
        self._track_job(t_ns, tm)
        decision = self.policy.choose(t_ns, self.running.job if self.running else None)
        want = min(decision.mode, self.n_modes)  # mode 0 with a job holds it: loaded, no work, no power
        cap = self.cap
        if self._power_limited and not self._apply_limit():
            cap = self._unlimited_cap()  # the limit is not in force: no mode that would draw more than it
        self._set_mode(min(want, cap), tm)
        self._run(t_ns, decision.job, tm)

    # ------------------------------------------------------------------ prediction
    def predicted_die_c(self, mode: int, tm: PayloadTelemetry) -> float | None:
        """The die temperature if the part ran a job at `mode`, from the present reading (None: R_j unknown)."""
        p_mode = self.mode_power_w[mode - 1] if mode >= 1 else 0.0
        if abs(p_mode - tm.power_w) < 1e-9:
            return tm.die_temp_c
        if self.junction_k_per_w is None:
            return None
        return tm.die_temp_c + self.junction_k_per_w * (p_mode - tm.power_w)

    def _estimate_rj(self, tm: PayloadTelemetry | None) -> None:
        if tm is None or self._rj_given is not None or self.node is None:
            return
        node_c = self.readings.temps_c.get(self.node)
        if node_c is not None and self.valid is not None and not self.valid(self._node_key):
            node_c = None
        if node_c is None or tm.power_w < self.config.rj_min_power_frac * self._top_power_w:
            return
        sample = (tm.die_temp_c - node_c) / tm.power_w
        if not 0.0 <= sample <= 10.0:
            return  # implausible (a sensor fault or a transient): keep the last estimate
        if self.junction_k_per_w is None:
            self.junction_k_per_w = sample
        else:
            a = self.config.rj_filter
            self.junction_k_per_w += a * (sample - self.junction_k_per_w)

    # ------------------------------------------------------------------ thermal cap
    @property
    def _power_limited(self) -> bool:
        return self.driver.has_power_limit

    @property
    def cap_w(self) -> float:
        """The power the thermal cap allows: the power limit, else the cap mode's power (0 at cap 0)."""
        if self.cap <= 0:
            return 0.0
        p = self.mode_power_w[min(self.cap, self.n_modes) - 1]
        return p if self.limit_w is None else min(p, self.limit_w)

    def _update_cap(self, t_ns: int, tm: PayloadTelemetry | None) -> None:
        old, was_limited = self.cap, self.limit_w is not None
        if tm is None:
            self.cap = min(self.cap, 1)  # a power limit in force stays (see below)
            if self.cap != old:
                self.events.emit(t_ns, "PAYLOAD_THROTTLED", "LOW", self.cap, 0, f"cap {old}->{self.cap} no tm")
            return
        limit = self.params["payload_die_limit_c"]
        ceiling = limit - self.config.die_margin_c
        die = tm.die_temp_c
        throttled = bool(int(tm.status) & _THROTTLED) and tm.mode >= 1
        # at the limit, or when the part throttled itself, the mode steps down and a power limit in force stays
        # (lifting it before the lower mode is in force would let a hot part draw its full mode power)
        if die >= limit:
            new = 0
        elif throttled:
            new = max(min(self.cap, tm.mode) - 1, 1)  # the part throttled itself: step below what it runs
        elif self._power_limited and self.junction_k_per_w is not None:
            new, self.limit_w = self._power_cap(tm, limit - self.config.limit_margin_c)
        else:
            if not self._power_limited:
                self.limit_w = None
            new = self._mode_cap(t_ns, tm, ceiling)
        if new < old:
            self._last_down_ns = t_ns
        self.cap = new
        limited = self.limit_w is not None
        if new != old or limited != was_limited:
            text = ("part throttled" if throttled else f"cap {old}->{new} {die:.1f}C"
                    + (f" limit {self.limit_w:.0f}W" if self.limit_w is not None else ""))
            self.events.emit(t_ns, "PAYLOAD_THROTTLED", "LOW" if new < old or limited > was_limited else "INFO",
                             new, _centi(die), text)

    def _mode_cap(self, t_ns: int, tm: PayloadTelemetry, ceiling: float) -> int:
        """The highest mode whose predicted die stays below the ceiling (stepping up with hysteresis and dwell)."""
        new = max(self.cap, 1)
        while new > 1 and not self._fits(new, tm, ceiling):
            new -= 1
        dwell_over = self._last_down_ns is None or t_ns - self._last_down_ns >= self.config.step_up_dwell_s * NS
        if new >= self.cap and dwell_over:
            ceiling_up = ceiling - self.config.step_up_hysteresis_c
            while new < self.n_modes and self._fits(new + 1, tm, ceiling_up, strict=True):
                new += 1
        return new

    def _power_cap(self, tm: PayloadTelemetry, ceiling: float) -> tuple[int, float | None]:
        """(cap mode, power limit or None) from the highest power whose predicted die stays below the ceiling."""
        rj = self.junction_k_per_w
        assert rj is not None
        step = self.config.limit_step_w
        allowed = math.floor((tm.power_w + (ceiling - tm.die_temp_c) / max(rj, 1e-9)) / step + 1e-6) * step
        prev = self.limit_w
        if prev is not None and prev < allowed < prev + 2 * step:
            allowed = prev  # a rise of one step waits for a second one: noise does not rewrite the limit
        powers = self.mode_power_w
        if allowed >= powers[-1]:
            return self.n_modes, None
        if allowed < powers[0]:
            return 1, None  # the lowest mode cannot be capped any lower
        cap = 1  # the lowest mode whose power reaches the limit (the top mode's does, as checked above)
        while powers[cap - 1] < allowed:
            cap += 1
        return cap, allowed

    def _apply_limit(self) -> bool:
        """Tell the controller the power limit when it changed (or is unknown), before any mode change, so a
        higher mode never runs uncapped. False: the write failed (counted; tried again next step)."""
        want = self.limit_w
        if self._limit_known and want == self._limit_written:
            return True
        try:
            self.driver.set_power_limit(want)
        except DriverError:
            self.command_failures += 1
            self._limit_known = False  # unknown: tell it again next step
            return False
        self._limit_written, self._limit_known = want, True
        return True

    def _unlimited_cap(self) -> int:
        """The cap without the power limit's help: the highest mode whose own power stays within the limit."""
        if self.limit_w is None:
            return self.cap
        fits = [m for m in range(1, self.cap + 1) if self.mode_power_w[m - 1] <= self.limit_w]
        return fits[-1] if fits else min(self.cap, 1)

    def _fits(self, mode: int, tm: PayloadTelemetry, ceiling: float, strict: bool = False) -> bool:
        pred = self.predicted_die_c(mode, tm)
        if pred is None:
            return (not strict or mode == 1) and tm.die_temp_c < ceiling  # unknown R_j: never beyond mode 1
        return pred < ceiling

    # ------------------------------------------------------------------ part status
    def _watch_part(self, t_ns: int, tm: PayloadTelemetry | None) -> None:
        if tm is None:
            return
        shut = bool(int(tm.status) & _SHUTDOWN)
        if shut and not self._shutdown_seen:
            self.events.emit(t_ns, "PAYLOAD_SHUTDOWN", "HIGH", tm.mode, _centi(tm.die_temp_c), "part shut down")
        self._shutdown_seen = shut

    # ------------------------------------------------------------------ commands
    def _set_mode(self, mode: int, tm: PayloadTelemetry | None) -> None:
        stale = tm is not None and (tm.mode != mode or (mode >= 1 and bool(int(tm.status) & _SHUTDOWN)))
        if mode == self.commanded_mode and not stale:
            return
        try:
            self.driver.set_mode(mode)
        except DriverError:
            self.command_failures += 1
            self.commanded_mode = None  # unknown: command again next step
            return
        self.commanded_mode = mode

    def _power_down(self, t_ns: int) -> None:
        if self.running is not None:
            self._abort(t_ns, "leaving NOMINAL")
        if self.switches.is_on(self.load):
            if self.commanded_mode != 0:
                self._set_mode(0, None)
            if not self.switches.set(self.load, False):
                self.command_failures += 1

    # ------------------------------------------------------------------ jobs
    def _run(self, t_ns: int, job: Job | None, tm: PayloadTelemetry | None) -> None:
        current = self.running.job if self.running is not None else None
        if job == current:
            return
        if self.running is not None:
            self._abort(t_ns, "preempted")
        if job is None or tm is None:
            return
        try:
            self.driver.start_job(job.job_id, job.work_units)
        except DriverError:
            self.command_failures += 1
            return
        self.running = _Running(job, t_ns, t_ns)
        self.events.emit(t_ns, "JOB_STARTED", "INFO", job.job_id, job.work_units, f"job {job.job_id}")

    def _abort(self, t_ns: int, why: str) -> None:
        r = self.running
        assert r is not None
        try:
            self.driver.abort_job()
        except DriverError:
            self.command_failures += 1  # the controller loses the job when it is powered off anyway
        self.running = None
        self.events.emit(t_ns, "JOB_ABORTED", "LOW", r.job.job_id, round(r.done_s / WORK_UNIT_S), why)
        self.policy.job_ended(t_ns, r.job, False, r.done_s)

    def _track_job(self, t_ns: int, tm: PayloadTelemetry | None) -> None:
        r = self.running
        if r is None or tm is None or self.readings.t_ns <= r.started_ns:
            return  # readings taken before the start command say nothing about this job
        status = int(tm.status)
        running = bool(status & _RUNNING)
        done = bool(status & _DONE)
        if running or done:
            r.last_seen_ns = t_ns
            r.done_s = tm.job_done_s
        if done and not running:
            self.running = None
            self.jobs_done += 1
            took_s = round((t_ns - r.started_ns) / NS)
            self.events.emit(t_ns, "JOB_DONE", "INFO", r.job.job_id, took_s, f"job {r.job.job_id} done")
            self.policy.job_ended(t_ns, r.job, True, r.job.work_s)
        elif not running and t_ns - r.last_seen_ns >= self.config.lost_after_s * NS:
            self._abort(t_ns, "job lost")
