"""Which compute jobs reached the ground: job results reassembled from a downlink capture.

A job is delivered when every part of its result (`job_result` packets, part 0 .. parts - 1) has
arrived with a valid CRC; its completion time is the parts' time stamp (the flight software stamps
every part with the moment the job completed). Scoring a run against its workload: a delivered job
counts its value if it completed by its deadline (or has none).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from flight.dictionary import Dictionary
from ground.bulk import decode_columns


@dataclass(frozen=True)
class Delivered:
    job_id: int
    completed_s: float  # CUC seconds (since 1958 TAI) of the completion
    parts: int


class WorkloadJob(Protocol):
    @property
    def job_id(self) -> int: ...

    @property
    def value(self) -> float: ...

    @property
    def release_s(self) -> float: ...

    @property
    def deadline_s(self) -> float | None: ...


# what delivered_jobs reads of a capture: the job_result packets' part numbering (their time is a header column)
_RESULT_COLUMNS = {"job_result": ("job_id", "part", "parts")}


def delivered_jobs(capture: Path | bytes, dictionary: Dictionary) -> dict[int, Delivered]:
    """Jobs whose whole result is in the capture (a CADU file or its bytes)."""
    if not any(p.name == "job_result" for p in dictionary.packets):
        return {}
    if isinstance(capture, Path):
        with capture.open("rb") as f:
            cols = decode_columns(f, dictionary, select=_RESULT_COLUMNS)
    else:
        cols = decode_columns(capture, dictionary, select=_RESULT_COLUMNS)
    c = cols.get("job_result")
    if c is None:
        return {}
    ids, part, parts, t = (c["job_id"].astype(np.int64), c["part"].astype(np.int64), c["parts"].astype(np.int64),
                           c["time_s"])
    out: dict[int, Delivered] = {}
    order = np.lexsort((part, ids))
    ids, part, parts, t = ids[order], part[order], parts[order], t[order]
    bounds = np.flatnonzero(np.diff(ids)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, ids.size], strict=True):
        n = int(parts[lo])
        got = np.unique(part[lo:hi])
        if n >= 1 and got.size == n and got[0] == 0 and got[-1] == n - 1 and np.all(parts[lo:hi] == n):
            jid = int(ids[lo])
            out[jid] = Delivered(jid, float(t[lo]), n)
    return out


@dataclass(frozen=True)
class Score:
    released: int
    delivered: int  # whole result on the ground, completed in time
    late: int  # delivered but completed after its deadline
    value_released: float
    value_delivered: float
    deadline_misses: int  # deadline within the run, not completed (and delivered) by it


def score(jobs: Iterable[WorkloadJob], delivered: dict[int, Delivered], end_s: float, cuc_offset_s: float) -> Score:
    """Score released jobs (release before end_s, mission seconds) against what was delivered.
    cuc_offset_s: CUC seconds at mission time 0 (converts the packets' time stamps)."""
    released = delivered_n = late = misses = 0
    v_rel = v_del = 0.0
    for j in jobs:
        if j.release_s >= end_s:
            continue
        released += 1
        v_rel += j.value
        d = delivered.get(j.job_id)
        done_s = None if d is None else d.completed_s - cuc_offset_s
        in_time = done_s is not None and (j.deadline_s is None or done_s <= j.deadline_s + 1e-6)
        if in_time:
            delivered_n += 1
            v_del += j.value
        elif done_s is not None:
            late += 1
        if j.deadline_s is not None and j.deadline_s <= end_s and not in_time:
            misses += 1
    return Score(released, delivered_n, late, v_rel, v_del, misses)
