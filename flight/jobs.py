"""Compute jobs as the flight software holds them, and the journal that keeps them over a reboot.

A `JobSpec` is what the ground (or an onboard source such as an Earth-observation pass) submits;
a `JobState` is the scheduler's record of it: status, the work saved by checkpoints, the work
lost to preemptions, and when it completed.

Checkpoints. A job with `checkpoint_s` > 0 saves its state every `checkpoint_s` accelerator-seconds
of work; when it is preempted (or powered off) the work since its last checkpoint is lost and the
next run resumes from the checkpoint: the scheduler starts it on the controller with the work
that remains. A job without checkpoints starts again from the beginning.

The journal (`JobJournal`) is an append-only text file, one JSON object per line, written with
os.write (no user-space buffer, so a killed process loses nothing it wrote): a submission, then
each change of a job's state. Loading replays it; a line cut short by a crash mid-write, or
otherwise unreadable, is skipped and counted. The file is rewritten compactly (atomically, by
rename) when it holds many more lines than jobs.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from flight.atomic_file import write_atomic

NS = 1_000_000_000
MAX_JOB_ID = 0xFFFF


class JobStatus(IntEnum):
    QUEUED = 0  # released, waiting or preempted
    RUNNING = 1
    DONE = 2  # completed; its result is in the store
    MISSED = 3  # its deadline passed before it completed
    CANCELLED = 4  # by command


@dataclass(frozen=True)
class JobSpec:
    job_id: int
    kind: str
    work_s: float  # accelerator-seconds at full throughput
    value: float
    priority: int  # 0 highest
    release_ns: int
    deadline_ns: int | None
    checkpoint_s: float  # 0: none
    output_bytes: int

    def __post_init__(self) -> None:
        if not 1 <= self.job_id <= MAX_JOB_ID:
            raise ValueError(f"job id must be 1..{MAX_JOB_ID}, got {self.job_id}")
        if not (math.isfinite(self.work_s) and self.work_s > 0):
            raise ValueError(f"job {self.job_id}: work must be > 0, got {self.work_s}")
        if not (math.isfinite(self.value) and self.value >= 0):
            raise ValueError(f"job {self.job_id}: value must be >= 0, got {self.value}")
        if self.checkpoint_s < 0 or self.output_bytes < 0 or self.priority < 0:
            raise ValueError(f"job {self.job_id}: checkpoint, output and priority must be >= 0")
        if self.deadline_ns is not None and self.deadline_ns <= self.release_ns:
            raise ValueError(f"job {self.job_id}: the deadline must come after the release")

    @property
    def density(self) -> float:
        """Value per accelerator-second of (whole) work."""
        return self.value / self.work_s


@dataclass
class JobState:
    spec: JobSpec
    status: JobStatus = JobStatus.QUEUED
    saved_s: float = 0.0  # work kept by checkpoints
    lost_s: float = 0.0  # work lost to preemption
    runs: int = 0
    completed_ns: int | None = None
    result_parts: int = 0  # parts of its result written to the packet store
    stored: bool = False  # its whole result has been written to the packet store

    @property
    def remaining_s(self) -> float:
        return max(self.spec.work_s - self.saved_s, 0.0)

    @property
    def open(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)

    def saved_after(self, done_s: float) -> float:
        """Work saved by checkpoints after `done_s` more seconds of work in the present run."""
        ck = self.spec.checkpoint_s
        if ck <= 0:
            return 0.0
        last = math.floor((self.spec.work_s - 1e-9) / ck) * ck  # the last checkpoint before the job's end
        return min(self.saved_s + math.floor(done_s / ck + 1e-9) * ck, last)


def _spec_json(s: JobSpec) -> dict[str, Any]:
    return {"id": s.job_id, "kind": s.kind, "work_s": s.work_s, "value": s.value, "priority": s.priority,
            "release_ns": s.release_ns, "deadline_ns": s.deadline_ns, "checkpoint_s": s.checkpoint_s,
            "output_bytes": s.output_bytes}


def _state_json(st: JobState) -> dict[str, Any]:
    return {"op": "state", "id": st.spec.job_id, "status": int(st.status), "saved_s": st.saved_s,
            "lost_s": st.lost_s, "runs": st.runs, "completed_ns": st.completed_ns, "stored": st.stored,
            "result_parts": st.result_parts}


def _spec_from(d: dict[str, Any]) -> JobSpec:
    return JobSpec(int(d["id"]), str(d["kind"]), float(d["work_s"]), float(d["value"]), int(d["priority"]),
                   int(d["release_ns"]), None if d["deadline_ns"] is None else int(d["deadline_ns"]),
                   float(d["checkpoint_s"]), int(d["output_bytes"]))


class JobJournal:
    """The job table's persistence (see the module docstring). `path` None keeps nothing."""

    def __init__(self, path: Path | None, compact_factor: int = 8) -> None:
        self.path = path
        self.compact_factor = compact_factor
        self.lines = 0
        self.bad_lines = 0
        self.write_errors = 0
        self._fd: int | None = None
        self._torn = False  # the file ends mid-line (a crash mid-write): start the next line afresh

    def load(self) -> dict[int, JobState]:
        jobs: dict[int, JobState] = {}
        if self.path is None or not self.path.exists():
            return jobs
        try:
            raw = self.path.read_bytes()
        except OSError:
            self.bad_lines += 1
            return jobs
        self._torn = bool(raw) and not raw.endswith(b"\n")
        for line in raw.split(b"\n"):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if rec["op"] == "submit":
                    spec = _spec_from(rec["spec"])
                    jobs[spec.job_id] = JobState(spec)
                elif rec["op"] == "respec":  # the same job, its priority or value changed
                    spec = _spec_from(rec["spec"])
                    jobs[spec.job_id].spec = spec
                else:
                    st = jobs[int(rec["id"])]
                    st.status = JobStatus(int(rec["status"]))
                    st.saved_s, st.lost_s, st.runs = float(rec["saved_s"]), float(rec["lost_s"]), int(rec["runs"])
                    st.completed_ns = None if rec["completed_ns"] is None else int(rec["completed_ns"])
                    st.stored = bool(rec.get("stored", False))
                    st.result_parts = int(rec.get("result_parts", 0))
                self.lines += 1
            except (ValueError, KeyError, TypeError):
                self.bad_lines += 1
        for st in jobs.values():
            if st.status == JobStatus.RUNNING:
                st.status = JobStatus.QUEUED  # the run died with the previous boot; its checkpoints stand
        return jobs

    def submitted(self, spec: JobSpec) -> None:
        self._append({"op": "submit", "spec": _spec_json(spec)})

    def respecified(self, spec: JobSpec) -> None:
        self._append({"op": "respec", "spec": _spec_json(spec)})

    def changed(self, st: JobState) -> None:
        self._append(_state_json(st))

    def compact(self, jobs: dict[int, JobState]) -> None:
        """Rewrite the journal with one submission and one state line per job (atomic rename)."""
        if self.path is None:
            return
        lines = [json.dumps(rec) for st in jobs.values()
                 for rec in ({"op": "submit", "spec": _spec_json(st.spec)}, _state_json(st))]
        try:
            self.close()
            write_atomic(self.path, ("\n".join(lines) + "\n").encode(), 0o644)
            self.lines = len(lines)
        except OSError:
            self.write_errors += 1

    def needs_compaction(self, n_jobs: int) -> bool:
        return self.lines > self.compact_factor * max(n_jobs, 16)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _append(self, rec: dict[str, Any]) -> None:
        if self.path is None:
            return
        try:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.write(self._fd, (("\n" if self._torn else "") + json.dumps(rec) + "\n").encode())
            self._torn = False
            self.lines += 1
        except OSError:
            self.write_errors += 1
