"""The job journal (flight/jobs.py JobJournal): the scheduler's job table over a reboot, a torn last
line, compaction, and results cut short by a reboot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flight.dictionary import load_dictionary
from flight.events import EventReporter
from flight.jobs import JobJournal, JobSpec, JobState, JobStatus
from flight.payload_mgr import Job
from flight.scheduler import Choice, JobScheduler, Outlook, SchedView, journal_at

NS = 1_000_000_000
POWER = (70.0, 300.0, 500.0, 700.0)
THROUGHPUT = (0.05, 0.55, 0.85, 1.0)
DICTIONARY = load_dictionary()


class Scripted:
    name = "SKYRACK"

    def __init__(self) -> None:
        self.choice = Choice(None, 0)

    def decide(self, view: SchedView) -> Choice:
        return self.choice


def outlook_at(t_ns: int) -> Outlook:
    return Outlook(t_ns, 0.8, 0.3, 2400.0, 1800.0, 150.0, False, 1200.0, 2100.0, 4, 0, 1e8)


class Boot:
    """One boot of the scheduler on a journal file."""

    def __init__(self, path: Path, compact_factor: int = 8) -> None:
        self.policy = Scripted()
        self.results: list[tuple[int, int, int, int]] = []
        self.journal = JobJournal(path, compact_factor)
        self.sched = JobScheduler(self.policy, outlook_at, POWER, THROUGHPUT,
                                  EventReporter(DICTIONARY, lambda apid, t, pkt: None),
                                  lambda t, j, n, first: self.results.append((t, j, n, first)), self.journal)

    def run(self, t_ns: int, job_id: int) -> Job:
        self.policy.choice = Choice(job_id, 4)
        job = self.sched.choose(t_ns, None).job
        assert job is not None and job.job_id == job_id
        return job


def spec(job_id: int, work_s: float = 1000.0, deadline_s: float | None = None, checkpoint_s: float = 100.0,
         output_bytes: int = 5000) -> JobSpec:
    return JobSpec(job_id, f"kind{job_id}", work_s, 1.5 * job_id, job_id % 3, 0,
                   None if deadline_s is None else round(deadline_s * NS), checkpoint_s, output_bytes)


def snapshot(jobs: dict[int, JobState]) -> dict[int, tuple[Any, ...]]:
    return {k: (st.spec, st.status, st.saved_s, st.lost_s, st.runs, st.completed_ns, st.result_parts, st.stored)
            for k, st in sorted(jobs.items())}


def populate(b: Boot) -> None:
    """Five jobs in every state: queued untouched, preempted with checkpoints, done with its result
    partly written, missed, done and stored."""
    for k in range(1, 6):
        b.sched.submit(0, spec(k, deadline_s=500.0 if k == 4 else None))
    b.sched.job_ended(100 * NS, b.run(0, 2), completed=False, done_s=350.0)
    b.sched.job_ended(200 * NS, b.run(100 * NS, 3), completed=True)
    b.sched.result_progress(3, 2, False)
    b.sched.job_ended(300 * NS, b.run(200 * NS, 5), completed=True)
    b.sched.result_progress(5, 5, True)
    b.policy.choice = Choice(None, 0)
    b.sched.choose(600 * NS, None)  # job 4 expires


def test_a_scheduler_rebuilt_from_its_journal_has_the_same_jobs(tmp_path: Path) -> None:
    path = tmp_path / "store" / "jobs.journal"
    a = Boot(path)
    populate(a)
    st = a.sched.jobs
    assert st[2].saved_s == 300.0 and st[2].lost_s == 50.0 and st[2].status == JobStatus.QUEUED
    assert st[3].status == JobStatus.DONE and st[4].status == JobStatus.MISSED
    before = snapshot(a.sched.jobs)
    b = Boot(path)
    assert snapshot(b.sched.jobs) == before
    assert b.journal.bad_lines == 0
    assert b.sched.completed == 2 and b.sched.missed == 1
    assert b.sched.value_completed == pytest.approx(1.5 * 3 + 1.5 * 5)
    assert [s.spec.job_id for s in b.sched.ready(700 * NS)] == [1, 2]
    assert b.run(700 * NS, 2) == Job(2, 700.0)  # resumes from its checkpoint


def test_journal_at_names_the_file_in_the_directory(tmp_path: Path) -> None:
    j = journal_at(tmp_path / "store")
    assert j.path == tmp_path / "store" / "jobs.journal"
    j.submitted(spec(1))
    j.close()
    assert (tmp_path / "store" / "jobs.journal").exists()


def test_a_running_job_comes_back_queued(tmp_path: Path) -> None:
    path = tmp_path / "jobs.journal"
    a = Boot(path)
    a.sched.submit(0, spec(1, checkpoint_s=100.0))
    a.sched.job_ended(10 * NS, a.run(0, 1), completed=False, done_s=250.0)
    a.run(20 * NS, 1)
    assert a.sched.jobs[1].status == JobStatus.RUNNING
    b = Boot(path)  # the process died while job 1 ran
    st = b.sched.jobs[1]
    assert st.status == JobStatus.QUEUED
    assert st.saved_s == 200.0 and st.runs == 2
    assert b.sched.running is None
    assert b.run(30 * NS, 1) == Job(1, 800.0)


def test_a_done_job_whose_result_was_cut_short_is_written_again(tmp_path: Path) -> None:
    path = tmp_path / "jobs.journal"
    a = Boot(path)
    a.sched.submit(0, spec(1, output_bytes=10_000))
    a.sched.submit(0, spec(2, output_bytes=3000))
    a.sched.submit(0, spec(3, output_bytes=100))
    a.sched.job_ended(50 * NS, a.run(0, 1), completed=True)
    a.sched.job_ended(60 * NS, a.run(50 * NS, 2), completed=True)
    a.sched.job_ended(70 * NS, a.run(60 * NS, 3), completed=True)
    assert a.results == [(50 * NS, 1, 10_000, 0), (60 * NS, 2, 3000, 0), (70 * NS, 3, 100, 0)]
    a.sched.result_progress(1, 4, False)  # 4 of 10 parts written when the process died
    a.sched.result_progress(3, 1, True)  # job 3's result is wholly in the store; job 2's not begun
    b = Boot(path)
    assert sorted(b.results) == [(50 * NS, 1, 10_000, 4), (60 * NS, 2, 3000, 0)]
    assert b.sched.jobs[1].result_parts == 4 and not b.sched.jobs[1].stored
    assert b.sched.jobs[3].stored


def test_a_torn_last_line_is_skipped_and_the_next_append_parses(tmp_path: Path) -> None:
    path = tmp_path / "jobs.journal"
    a = Boot(path)
    a.sched.submit(0, spec(1))
    a.sched.submit(0, spec(2))
    a.sched.job_ended(10 * NS, a.run(0, 1), completed=False, done_s=250.0)  # saved 200, the last line
    a.journal.close()
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    path.write_bytes(raw[:-4])  # a crash mid-write
    b = Boot(path)
    assert b.journal.bad_lines == 1
    st = b.sched.jobs[1]
    # the torn line was job 1's state after its run; the state before (RUNNING, journaled at its start) stands
    assert st.saved_s == 0.0 and st.runs == 1 and st.status == JobStatus.QUEUED
    assert b.sched.jobs[2].status == JobStatus.QUEUED
    b.sched.job_ended(40 * NS, b.run(30 * NS, 2), completed=False, done_s=120.0)
    b.sched.submit(40 * NS, spec(3))
    b.journal.close()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    parsed = 0
    for line in lines:
        try:
            json.loads(line)
            parsed += 1
        except ValueError:
            pass
    assert parsed == len([ln for ln in lines if ln.strip()]) - 1  # only the torn line is unreadable
    c = Boot(path)
    assert c.journal.bad_lines == 1
    assert c.sched.jobs[2].saved_s == 100.0 and c.sched.jobs[2].lost_s == 20.0
    assert 3 in c.sched.jobs
    assert snapshot(c.sched.jobs) == snapshot(b.sched.jobs)


def test_garbage_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "jobs.journal"
    a = Boot(path)
    a.sched.submit(0, spec(1))
    a.journal.close()
    with path.open("ab") as f:
        f.write(b'{"op": "state", "id": 42, "status": 2}\n')  # a job never submitted
        f.write(b"\xff\xfe not json\n")
        f.write(b'{"op": "state"}\n')
    b = Boot(path)
    assert b.journal.bad_lines == 3
    assert sorted(b.sched.jobs) == [1]


def test_compaction_keeps_the_states(tmp_path: Path) -> None:
    path = tmp_path / "jobs.journal"
    a = Boot(path)
    populate(a)
    before = snapshot(a.sched.jobs)
    lines_before = len(path.read_bytes().splitlines())
    a.journal.compact(a.sched.jobs)
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2 * len(a.sched.jobs) < lines_before
    assert a.journal.lines == len(lines)
    assert not (tmp_path / "jobs.tmp").exists()
    assert snapshot(Boot(path).sched.jobs) == before
    a.sched.job_ended(900 * NS, a.run(800 * NS, 1), completed=False, done_s=150.0)  # appends after compaction
    after = snapshot(a.sched.jobs)
    assert snapshot(Boot(path).sched.jobs) == after


def test_compaction_happens_by_itself_when_the_journal_grows(tmp_path: Path) -> None:
    path = tmp_path / "jobs.journal"
    a = Boot(path, compact_factor=2)  # compact past 2 * max(jobs, 16) = 32 lines
    a.sched.submit(0, spec(1, work_s=10_000.0, checkpoint_s=10.0))
    a.sched.submit(0, spec(2))
    t = 0
    for _ in range(30):  # two lines a preemption: the run's start and its end
        a.sched.job_ended(t + 5 * NS, a.run(t, 1), completed=False, done_s=15.0)
        t += 10 * NS
    st = a.sched.jobs[1]
    assert st.runs == 30 and st.saved_s == 300.0 and st.lost_s == pytest.approx(150.0)
    n_lines = len(path.read_bytes().splitlines())
    assert n_lines <= 2 * 16 + 1
    assert a.journal.lines == n_lines
    assert snapshot(Boot(path).sched.jobs) == snapshot(a.sched.jobs)


def test_a_journal_without_a_path_keeps_nothing(tmp_path: Path) -> None:
    j = JobJournal(None)
    j.submitted(spec(1))
    j.compact({})
    assert j.load() == {}
    assert j.lines == 0 and j.write_errors == 0
    assert list(tmp_path.iterdir()) == []
