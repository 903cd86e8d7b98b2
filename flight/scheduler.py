"""Compute scheduling: which job the accelerator runs and at which power mode.

`JobScheduler` is the payload manager's policy (flight.payload_mgr.PayloadPolicy). It owns the job
table (jobs submitted by the ground or an onboard source, kept over reboots by a journal), expires
jobs whose deadline passed (JOB_MISSED), keeps checkpoints (a preempted job resumes from its last
checkpoint), writes a completed job's result to the store (flight.telemetry.results), and every
scheduling period (10 s by default, and at once when a job ends or arrives) asks its
`SchedulingPolicy` for a `Choice`: the job to run and the mode wanted. The payload manager then
applies its thermal cap and the spacecraft mode (compute only in NOMINAL).

Mode 0 with a job means the job is held: it stays loaded on the controller, its progress kept,
the accelerator drawing no power (its clocks gated). Choosing another job preempts the running one.

What a policy sees (`SchedView`): the open jobs already released, the running job and the work it
did in its present run, the payload's mode table, and an `Outlook` built each period from the
flight software's own estimates: state of charge (power manager), the depth-of-discharge floor
(1 - dod_max), the battery's energy, the array power seen in sunlight, the other loads, the next
eclipse from the onboard orbit predictor, the thermal cap (payload manager), the store's backlog and
the downlink capacity of the passes ahead.

Policies live in flight.sched_policies: Skyrack's own and the baselines (run-always EDF,
sunlit-only, state-of-charge threshold, static priority).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from flight.events import EventReporter
from flight.jobs import JobJournal, JobSpec, JobState, JobStatus
from flight.payload_mgr import Decision, Job

NS = 1_000_000_000
DEFAULT_PERIOD_NS = 10 * NS


@dataclass(frozen=True)
class Outlook:
    t_ns: int
    soc: float | None  # state of charge 0..1, None while unknown
    soc_floor: float  # the lowest state of charge allowed at the end of an eclipse (1 - dod_max)
    battery_wh: float  # energy of a full battery
    array_w: float  # array power in sunlight (the best seen over the last orbit)
    base_w: float  # every load but the payload, now
    in_eclipse: bool
    to_eclipse_s: float  # until the next eclipse begins (0 in an eclipse)
    eclipse_s: float  # the next (or present, what remains of it) eclipse's duration
    cap: int  # the payload manager's thermal cap (highest mode allowed)
    backlog_packets: int  # awaiting downlink in the store
    downlink_bytes_ahead: float  # what the passes of the predictor's window ahead (12 h or more) can carry
    cap_w: float = math.inf  # the power the thermal cap allows (a power limit caps the cap mode below its power)
    downlink_window_s: float = 43_200.0  # the window downlink_bytes_ahead covers
    products_backlog_bytes: float = 0.0  # job results on board awaiting downlink (written or still to write)
    store_free_bytes: float = math.inf  # result octets that still fit in the store job results go to
    result_part_octets: int = 1  # results are stored in parts of this many octets (the last one padded)


@dataclass(frozen=True)
class Choice:
    job_id: int | None
    mode: int


@dataclass(frozen=True)
class SchedView:
    t_ns: int
    period_ns: int
    ready: tuple[JobState, ...]  # open and released, by job id
    running: JobState | None
    running_done_s: float  # work the running job did in its present run
    mode_power_w: tuple[float, ...]  # modes 1..n
    mode_throughput: tuple[float, ...]
    outlook: Outlook


class SchedulingPolicy(Protocol):
    name: str  # a label of sched_hk.policy

    def decide(self, view: SchedView) -> Choice: ...


OutlookSource = Callable[[int], Outlook]
ResultSink = Callable[[int, int, int, int], Any]  # (t_ns completed, job id, output bytes, first part to write)


class JobScheduler:
    """The payload manager's policy: job table, deadlines, checkpoints, results, periodic decisions."""

    def __init__(self, policy: SchedulingPolicy, outlook: OutlookSource, mode_power_w: tuple[float, ...],
                 mode_throughput: tuple[float, ...], events: EventReporter, results: ResultSink,
                 journal: JobJournal | None = None, period_ns: int = DEFAULT_PERIOD_NS,
                 max_output_bytes: int | None = None) -> None:
        """max_output_bytes: the largest result the store could ever hold (a larger job is refused)."""
        if len(mode_power_w) != len(mode_throughput) or not mode_power_w:
            raise ValueError("the payload's mode powers and throughputs must be given, one of each per mode")
        self.policy = policy
        self.outlook_of = outlook
        self.mode_power_w = tuple(mode_power_w)
        self.mode_throughput = tuple(mode_throughput)
        self.events = events
        self.results = results
        self.journal = journal if journal is not None else JobJournal(None)
        self.period_ns = period_ns
        self.max_output_bytes = max_output_bytes
        self.jobs: dict[int, JobState] = self.journal.load()
        self._open = {k: st for k, st in self.jobs.items() if st.open}  # released or not
        self._deadlines = [(st.spec.deadline_ns, k) for k, st in self._open.items() if st.spec.deadline_ns is not None]
        heapq.heapify(self._deadlines)
        self.running: JobState | None = None
        self._job: Job | None = None  # what the payload manager was told to run
        self._mode = 0
        self._decision = Decision(0, None)  # what choose() last returned: made again only when it changes
        self._next_ns = 0
        self.progress_of: Callable[[], float] = lambda: 0.0  # work of the running job's present run (telemetry)
        self.last_outlook: Outlook | None = None
        self._last_t_ns = 0
        self.completed = sum(1 for s in self.jobs.values() if s.status == JobStatus.DONE)
        self.missed = sum(1 for s in self.jobs.values() if s.status == JobStatus.MISSED)
        self.value_completed = sum(s.spec.value for s in self.jobs.values() if s.status == JobStatus.DONE)
        self.refused = 0
        self._progress: dict[int, Callable[[int, int], None]] = {}  # not kept over a reboot
        for st in self.jobs.values():  # results a reboot cut short: written again (the ground keeps one copy)
            if st.status == JobStatus.DONE and not st.stored:
                self.results(st.completed_ns or 0, st.spec.job_id, st.spec.output_bytes, st.result_parts)

    # ------------------------------------------------------------------ ground / onboard sources
    def submit(self, t_ns: int, spec: JobSpec, progress: Callable[[int, int], None] | None = None) -> bool:
        """A new job; refused (False, counted) when its id is taken or its result could never fit in the store.
        progress(t_ns, step) is told when the job first runs (step 1) and when it completes (step 2): the
        submitting command's progress reports."""
        too_big = self.max_output_bytes is not None and spec.output_bytes > self.max_output_bytes
        if spec.job_id in self.jobs or too_big:
            self.refused += 1
            return False
        if progress is not None:
            self._progress[spec.job_id] = progress
        st = JobState(spec)
        self.jobs[spec.job_id] = st
        self._open[spec.job_id] = st
        if spec.deadline_ns is not None:
            heapq.heappush(self._deadlines, (spec.deadline_ns, spec.job_id))
        self.journal.submitted(spec)
        self.events.emit(t_ns, "JOB_SUBMITTED", "INFO", spec.job_id, round(spec.work_s), spec.kind[:24])
        if spec.release_ns <= t_ns:
            self._next_ns = t_ns  # decide again now
        return True

    def cancel(self, t_ns: int, job_id: int) -> bool:
        """Cancel an open job (a running one is aborted by the payload manager at its next step); False if
        there is no such job or it already ended."""
        st = self.jobs.get(job_id)
        if st is None or not st.open:
            return False
        st.status = JobStatus.CANCELLED
        self._open.pop(job_id, None)
        if self.running is st:
            self.running = None
        if self._job is not None and self._job.job_id == job_id:
            self._job, self._mode = None, 0
        self._next_ns = t_ns
        self.journal.changed(st)
        return True

    def reprioritize(self, t_ns: int, job_id: int, priority: int, value: float) -> bool:
        """New priority class and value for an open job; False if there is no such job or it already ended."""
        st = self.jobs.get(job_id)
        if st is None or not st.open:
            return False
        try:
            st.spec = replace(st.spec, priority=priority, value=value)
        except ValueError:
            return False
        self.journal.respecified(st.spec)
        self._next_ns = t_ns
        return True

    def submit_many(self, t_ns: int, specs: Iterable[JobSpec]) -> int:
        return sum(self.submit(t_ns, s) for s in specs)

    # ------------------------------------------------------------------ PayloadPolicy
    def choose(self, t_ns: int, running: Job | None) -> Decision:
        self._expire(t_ns)
        if t_ns >= self._next_ns:
            self._decide(t_ns)
        d = self._decision
        if d.mode != self._mode or d.job is not self._job:
            d = self._decision = Decision(self._mode, self._job)
        return d

    def job_ended(self, t_ns: int, job: Job, completed: bool, done_s: float = 0.0) -> None:
        st = self.jobs.get(job.job_id)
        if st is None:
            return
        if self.running is st:
            self.running = None
        if self._job is not None and self._job.job_id == job.job_id:
            self._job = None
        self._next_ns = t_ns  # decide again at once
        if not st.open:
            return  # expired while it ran: already counted
        if completed:
            self._open.pop(st.spec.job_id, None)
            st.status = JobStatus.DONE
            st.saved_s = st.spec.work_s
            st.completed_ns = t_ns
            self.completed += 1
            self.value_completed += st.spec.value
            self.results(t_ns, st.spec.job_id, st.spec.output_bytes, 0)
            report = self._progress.pop(st.spec.job_id, None)
            if report is not None:
                report(t_ns, 2)
        else:
            kept = st.saved_after(done_s)
            st.lost_s += max(done_s - (kept - st.saved_s), 0.0)
            st.saved_s = kept
            st.status = JobStatus.QUEUED
        self.journal.changed(st)
        if self.journal.needs_compaction(len(self.jobs)):
            self.journal.compact(self.jobs)

    def result_progress(self, job_id: int, parts_written: int, whole: bool) -> None:
        """The result writer wrote parts of the job's result to the store (whole: all of them). Journaled
        once per writer step, so a reboot resumes the writing where it stopped; a crash in the middle of
        a step writes that step's parts again (the ground keeps one copy of each part)."""
        st = self.jobs.get(job_id)
        if st is not None:
            st.result_parts = parts_written
            st.stored = whole
            self.journal.changed(st)

    # ------------------------------------------------------------------ internals
    def _expire(self, t_ns: int) -> None:
        while self._deadlines and self._deadlines[0][0] <= t_ns:
            st = self.jobs[heapq.heappop(self._deadlines)[1]]
            if st.open:
                self._open.pop(st.spec.job_id, None)
                st.status = JobStatus.MISSED
                self.missed += 1
                self.journal.changed(st)
                self.events.emit(t_ns, "JOB_MISSED", "LOW", st.spec.job_id, round(st.remaining_s), "deadline passed")
                if self.running is st:
                    self.running = None
                if self._job is not None and self._job.job_id == st.spec.job_id:
                    self._job = None
                    self._next_ns = t_ns

    def ready(self, t_ns: int) -> tuple[JobState, ...]:
        return tuple(st for st in self._open.values() if st.spec.release_ns <= t_ns)

    def _decide(self, t_ns: int) -> None:
        self._next_ns = t_ns + self.period_ns
        self._last_t_ns = t_ns
        outlook = self.outlook_of(t_ns)
        self.last_outlook = outlook
        view = SchedView(t_ns, self.period_ns, self.ready(t_ns), self.running,
                         self.progress_of() if self.running else 0.0,
                         self.mode_power_w, self.mode_throughput, outlook)
        choice = self.policy.decide(view)
        mode = max(0, min(choice.mode, len(self.mode_power_w)))
        st = self.jobs.get(choice.job_id) if choice.job_id is not None else None
        if st is None or not st.open or st.spec.release_ns > t_ns:
            self._job, self._mode = None, 0
            return
        self._mode = mode
        if st is self.running and self._job is not None and self._job.job_id == st.spec.job_id:
            return  # keep it: the same Job object, so the manager does not restart it
        if self.running is not None and self.running is not st:
            self.running.status = JobStatus.QUEUED
        self._job = Job(st.spec.job_id, st.remaining_s)
        self.running = st
        st.status = JobStatus.RUNNING
        st.runs += 1
        if st.runs == 1 and st.spec.job_id in self._progress:
            self._progress[st.spec.job_id](t_ns, 1)
        self.journal.changed(st)

    # ------------------------------------------------------------------ telemetry
    def hk_values(self) -> dict[str, Any]:
        o = self.last_outlook
        return {"policy": self.policy.name, "wanted_mode": self._mode,
                "running_job": self.running.spec.job_id if self.running else 0,
                "jobs_queued": sum(1 for st in self._open.values() if st.spec.release_ns <= self._last_t_ns),
                "jobs_completed": self.completed, "deadline_misses": self.missed,
                "value_completed": min(self.value_completed, 42_949_672.95),
                "store_backlog_packets": min(o.backlog_packets, 0xFFFFFFFF) if o else 0,
                "budget_w": min(max(float(getattr(self.policy, "budget_w", 0.0)), 0.0), 6553.5),
                "thermal_cap_mode": min(max(o.cap, 0), 255) if o else 0,
                "thermal_cap_w": min(max(o.cap_w, 0.0), 6553.5) if o else 0.0}


def journal_at(directory: Path) -> JobJournal:
    return JobJournal(directory / "jobs.journal")
