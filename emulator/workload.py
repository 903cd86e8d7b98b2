"""The compute workload of a scenario: job streams, and the jobs a seeded generator draws from them.

A job is work for the accelerator: `work_s` accelerator-seconds at full throughput (a mode of
throughput 0.55 takes work_s / 0.55 seconds), a `value` delivered only when the job completes
before its deadline and its whole result (`output_bytes`) reaches the ground, a priority class
(0 highest; what a static-priority scheduler orders by), a release time, an optional deadline,
and a checkpoint interval (work lost on preemption is the work done since the last checkpoint;
0: not checkpointable, an aborted job starts again from the beginning).

`[workload]` in a scenario:

    [workload]
    seed = 7              # the generator's seed (default: the scenario's seed)
    horizon_s = 86400     # jobs are released in [0, horizon_s)

    [[workload.stream]]
    kind = "inference"    # a label carried into results and tables
    arrival = "bursts"    # once | periodic | bursts | poisson
    count = 8             # bursts (bursts), jobs (once), or ignored
    jobs_per_burst = 12   # bursts only
    spacing_s = 20        # bursts: between the jobs of a burst
    period_s = 5400       # periodic: between releases; poisson: the mean
    start_s = 0           # periodic / once: the first release
    work_s = [20, 60]     # a number, or [lo, hi] drawn uniformly
    value = [2, 4]        # likewise
    deadline_s = 900      # after release; absent: no deadline
    checkpoint_s = 0      # accelerator-seconds between checkpoints; 0: none
    output_bytes = [16384, 65536]
    priority = 0

Job ids count up from 1 in release order (ties: stream order), at most 65535 (the payload
controller's job id register is 16 bits). The generator draws from its own `random.Random(seed)`,
stream after stream, so a workload is the same on every machine.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import Enum
from typing import Any

from flight.toml_table import TomlTable

MAX_JOBS = 0xFFFF
MAX_WORK_S = 7 * 86400.0  # one job's work, accelerator-seconds
MAX_OUTPUT_BYTES = 64 * 1024 * 1024  # one job's result


class Arrival(Enum):
    ONCE = "once"  # `count` jobs released together at start_s
    PERIODIC = "periodic"  # one job every period_s from start_s
    BURSTS = "bursts"  # `count` bursts at uniformly drawn times, jobs_per_burst each, spacing_s apart
    POISSON = "poisson"  # exponential gaps of mean period_s


Range = tuple[float, float]


@dataclass(frozen=True)
class JobStream:
    kind: str
    arrival: Arrival
    work_s: Range
    value: Range
    output_bytes: Range
    count: int = 1
    jobs_per_burst: int = 1
    spacing_s: float = 0.0
    period_s: float = 0.0
    start_s: float = 0.0
    deadline_s: float | None = None
    checkpoint_s: float = 0.0
    priority: int = 0


@dataclass(frozen=True)
class Workload:
    seed: int
    horizon_s: float
    streams: tuple[JobStream, ...]


@dataclass(frozen=True)
class WorkloadJob:
    job_id: int
    kind: str
    work_s: float
    value: float
    priority: int
    release_s: float
    deadline_s: float | None  # absolute (seconds since the scenario's epoch); None: none
    checkpoint_s: float
    output_bytes: int


def _range(t: TomlTable, name: str, lo: float, hi: float, default: Any = None) -> Range:
    if not t.has(name) and default is not None:
        t.get(name, None)
        return default  # type: ignore[no-any-return]
    v = t.get(name)
    if isinstance(v, list):
        pair = t.numbers(name)
        if len(pair) != 2 or not lo <= pair[0] <= pair[1] <= hi:
            raise t.fail(name, f"expected a number or [lo, hi] with {lo:g} <= lo <= hi <= {hi:g}, got {v!r}")
        return pair[0], pair[1]
    x = t.num(name, lo=lo, hi=hi)
    return x, x


def parse_stream(t: TomlTable) -> JobStream:
    kind = t.str_("kind")
    if not kind or len(kind) > 32:
        raise t.fail("kind", "expected a label of 1..32 characters")
    arrival = Arrival(t.str_("arrival", choices=tuple(a.value for a in Arrival)))
    work = _range(t, "work_s", 0.01, MAX_WORK_S)
    if work[0] <= 0:
        raise t.fail("work_s", "must be > 0")
    value = _range(t, "value", 0.0, 1e6)
    output = _range(t, "output_bytes", 0, MAX_OUTPUT_BYTES, default=(0.0, 0.0))
    count = t.int_("count", 1, lo=1, hi=MAX_JOBS)
    per_burst = t.int_("jobs_per_burst", 1, lo=1, hi=MAX_JOBS)
    spacing = t.num("spacing_s", 0.0, lo=0.0)
    needs_period = arrival in (Arrival.PERIODIC, Arrival.POISSON)
    period = t.num("period_s", lo=1.0) if needs_period else t.num("period_s", 0.0, lo=0.0)
    start = t.num("start_s", 0.0, lo=0.0)
    deadline = t.num("deadline_s", lo=1.0) if t.has("deadline_s") else None
    t.get("deadline_s", None)
    checkpoint = t.num("checkpoint_s", 0.0, lo=0.0)
    priority = t.int_("priority", 0, lo=0, hi=7)
    t.done()
    return JobStream(kind, arrival, work, value, output, count, per_burst, spacing, period, start, deadline,
                     checkpoint, priority)


def parse_workload(t: TomlTable, default_seed: int) -> Workload | None:
    """[workload], or None when the scenario has none."""
    if not t.data:
        t.done()
        return None
    seed = t.int_("seed", default_seed, lo=0)
    horizon = t.num("horizon_s", 86400.0, lo=1.0, hi=365 * 86400.0)
    streams = tuple(parse_stream(s) for s in t.array("stream"))
    if not streams:
        raise t.fail("stream", "a workload needs at least one [[workload.stream]]")
    t.done()
    w = Workload(seed, horizon, streams)
    n = len(generate(w))
    if n > MAX_JOBS:
        raise t.fail("stream", f"the streams release {n} jobs in the horizon, more than {MAX_JOBS}")
    return w


def _draw(rng: random.Random, r: Range) -> float:
    return r[0] if r[0] == r[1] else rng.uniform(r[0], r[1])


def _releases(s: JobStream, rng: random.Random, horizon_s: float) -> list[float]:
    if s.arrival == Arrival.ONCE:
        return [s.start_s] * s.count if s.start_s < horizon_s else []
    if s.arrival == Arrival.PERIODIC:
        n = max(0, math.ceil((horizon_s - s.start_s) / s.period_s))
        return [r for r in (s.start_s + k * s.period_s for k in range(n + 1)) if r < horizon_s]
    if s.arrival == Arrival.POISSON:
        out: list[float] = []
        t = s.start_s
        while True:
            t += rng.expovariate(1.0 / s.period_s)
            if t >= horizon_s:
                return out
            out.append(t)
    starts = sorted(rng.uniform(s.start_s, horizon_s) for _ in range(s.count))
    return [b + k * s.spacing_s for b in starts for k in range(s.jobs_per_burst) if b + k * s.spacing_s < horizon_s]


def generate(w: Workload) -> tuple[WorkloadJob, ...]:
    """Every job of the workload, in release order, ids from 1."""
    rng = random.Random(w.seed)
    drawn: list[tuple[float, int, int, JobStream, float, float, int]] = []
    for si, s in enumerate(w.streams):
        for k, rel in enumerate(_releases(s, rng, w.horizon_s)):
            work = round(_draw(rng, s.work_s), 2)
            value = round(_draw(rng, s.value), 2)
            out = round(_draw(rng, s.output_bytes))
            drawn.append((round(rel, 3), si, k, s, work, value, out))
    drawn = [d for d in drawn if d[0] < w.horizon_s]  # rounding may reach the horizon: [0, horizon) only
    drawn.sort(key=lambda d: (d[0], d[1], d[2]))
    jobs = []
    for jid, (rel, _, _, s, work, value, out) in enumerate(drawn, start=1):
        deadline = None if s.deadline_s is None else rel + s.deadline_s
        jobs.append(WorkloadJob(jid, s.kind, work, value, s.priority, rel, deadline, s.checkpoint_s, out))
    return tuple(jobs)
