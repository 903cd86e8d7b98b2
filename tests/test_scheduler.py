"""The job scheduler (flight/scheduler.py) with a scripted policy: submissions, decisions, deadlines,
checkpoints, results and housekeeping; and one closed-loop run on the gpu-node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.scenario import load
from flight.dictionary import load_dictionary
from flight.events import EventReporter
from flight.jobs import JobSpec, JobStatus
from flight.payload_mgr import Decision, Job
from flight.sched_policies import POLICIES
from flight.scheduler import Choice, JobScheduler, Outlook, SchedView
from flight.telemetry.store import FsyncPolicy
from skyrack.sil import run

NS = 1_000_000_000
POWER = (70.0, 300.0, 500.0, 700.0)
THROUGHPUT = (0.05, 0.55, 0.85, 1.0)
DICTIONARY = load_dictionary()


class Scripted:
    """A policy that answers what the test sets, and keeps what it was shown."""

    name = "SKYRACK"

    def __init__(self, choice: Choice | None = None) -> None:
        self.choice = choice if choice is not None else Choice(None, 0)
        self.views: list[SchedView] = []
        self.budget_w = 123.4

    def decide(self, view: SchedView) -> Choice:
        self.views.append(view)
        return self.choice


def outlook_at(t_ns: int) -> Outlook:
    return Outlook(t_ns, 0.8, 0.3, 2400.0, 1800.0, 150.0, False, 1200.0, 2100.0, 4, 17, 1e8, 615.0)


class Harness:
    def __init__(self, policy: Scripted | None = None) -> None:
        self.policy = policy if policy is not None else Scripted()
        self.packets: list[bytes] = []
        self.events = EventReporter(DICTIONARY, lambda apid, t, pkt: self.packets.append(pkt))
        self.results: list[tuple[int, int, int, int]] = []
        self.sched = JobScheduler(self.policy, outlook_at, POWER, THROUGHPUT, self.events,
                                  lambda t, j, n, first: self.results.append((t, j, n, first)))

    def event_ids(self) -> list[str]:
        return [e.event_id for e in self.events.log]


def spec(job_id: int, work_s: float = 100.0, value: float = 5.0, release_s: float = 0.0,
         deadline_s: float | None = None, checkpoint_s: float = 0.0, output_bytes: int = 4096) -> JobSpec:
    return JobSpec(job_id, "inference", work_s, value, 1, round(release_s * NS),
                   None if deadline_s is None else round(deadline_s * NS), checkpoint_s, output_bytes)


# ---------------------------------------------------------------------------- submissions and decisions
def test_submit_refuses_a_taken_id() -> None:
    h = Harness()
    assert h.sched.submit(0, spec(7)) is True
    assert h.sched.submit(0, spec(7, work_s=5.0)) is False
    assert h.sched.refused == 1
    assert h.sched.jobs[7].spec.work_s == 100.0  # the first stands
    assert h.event_ids() == ["JOB_SUBMITTED"]
    assert h.events.log[0].param1 == 7 and h.events.log[0].param2 == 100
    assert h.sched.submit_many(0, [spec(8), spec(7), spec(9)]) == 2
    assert h.sched.refused == 2
    assert sorted(h.sched.jobs) == [7, 8, 9]


def test_submit_refuses_a_result_the_store_could_never_hold() -> None:
    h = Harness()
    h.sched.max_output_bytes = 10_000
    assert h.sched.submit(0, spec(1, output_bytes=10_000)) is True
    assert h.sched.submit(0, spec(2, output_bytes=10_001)) is False
    assert h.sched.refused == 1 and sorted(h.sched.jobs) == [1]


def test_decision_runs_the_chosen_job_and_keeps_it_between_periods() -> None:
    h = Harness(Scripted(Choice(1, 3)))
    h.sched.submit(0, spec(1, work_s=250.0))
    d = h.sched.choose(0, None)
    assert d == Decision(3, Job(1, 250.0))
    st = h.sched.jobs[1]
    assert st.status == JobStatus.RUNNING and st.runs == 1 and h.sched.running is st
    assert h.sched.choose(5 * NS, d.job).job is d.job  # within the period: no new decision
    assert len(h.policy.views) == 1
    d2 = h.sched.choose(10 * NS, d.job)
    assert len(h.policy.views) == 2
    assert d2.job is d.job  # the same Job object: the payload manager does not restart it
    assert st.runs == 1
    v = h.policy.views[-1]
    assert v.running is st and v.t_ns == 10 * NS and v.period_ns == 10 * NS
    assert v.mode_power_w == POWER and v.mode_throughput == THROUGHPUT
    assert v.outlook == outlook_at(10 * NS)
    assert h.sched.last_outlook == outlook_at(10 * NS)


def test_mode_is_clamped_to_the_mode_table() -> None:
    h = Harness(Scripted(Choice(1, 9)))
    h.sched.submit(0, spec(1))
    assert h.sched.choose(0, None).mode == 4


def test_unreleased_or_unknown_jobs_are_not_run() -> None:
    h = Harness(Scripted(Choice(2, 4)))
    h.sched.submit(0, spec(1))
    h.sched.submit(0, spec(2, release_s=50.0))
    assert h.sched.choose(0, None) == Decision(0, None)
    assert [st.spec.job_id for st in h.policy.views[-1].ready] == [1]
    assert h.sched.choose(50 * NS, None).job == Job(2, 100.0)
    h.policy.choice = Choice(99, 4)
    assert h.sched.choose(60 * NS, None) == Decision(0, None)


def test_choosing_another_job_preempts_the_running_one() -> None:
    h = Harness(Scripted(Choice(1, 4)))
    h.sched.submit(0, spec(1, work_s=1000.0, checkpoint_s=100.0))
    h.sched.submit(0, spec(2))
    job1 = h.sched.choose(0, None).job
    assert job1 is not None
    h.policy.choice = Choice(2, 4)
    d = h.sched.choose(10 * NS, job1)
    assert d.job == Job(2, 100.0)
    assert h.sched.jobs[1].status == JobStatus.QUEUED
    assert h.sched.jobs[2].status == JobStatus.RUNNING
    # the payload manager aborts job 1 and reports its work: the checkpoints are kept
    h.sched.job_ended(10 * NS, job1, completed=False, done_s=250.0)
    assert h.sched.running is h.sched.jobs[2]
    assert h.sched.jobs[1].saved_s == 200.0 and h.sched.jobs[1].lost_s == 50.0
    assert h.sched.choose(10 * NS, d.job).job is d.job


# ---------------------------------------------------------------------------- deadlines
def test_expiry_raises_job_missed_and_counts_it() -> None:
    h = Harness(Scripted(Choice(1, 4)))
    h.sched.submit(0, spec(1, work_s=500.0, deadline_s=100.0))
    h.sched.submit(0, spec(2, deadline_s=300.0))
    h.sched.submit(0, spec(3))
    assert h.sched.choose(0, None).job == Job(1, 500.0)
    assert h.sched.choose(99 * NS, None).job is not None
    assert h.sched.missed == 0
    d = h.sched.choose(100 * NS, None)
    assert d == Decision(0, None)  # the running job expired: the scripted choice is no longer open
    st = h.sched.jobs[1]
    assert st.status == JobStatus.MISSED and h.sched.missed == 1 and h.sched.running is None
    missed = [e for e in h.events.log if e.event_id == "JOB_MISSED"]
    assert len(missed) == 1 and missed[0].param1 == 1 and missed[0].param2 == 500 and missed[0].t_ns == 100 * NS
    assert missed[0].severity == "LOW"
    assert h.sched.hk_values()["deadline_misses"] == 1
    assert h.sched.hk_values()["jobs_queued"] == 2
    # a job that ended before its deadline is not missed
    h.policy.choice = Choice(2, 4)
    job2 = h.sched.choose(110 * NS, None).job
    assert job2 is not None
    h.sched.job_ended(150 * NS, job2, completed=True)
    h.sched.choose(400 * NS, None)
    assert h.sched.missed == 1 and h.sched.jobs[2].status == JobStatus.DONE
    # the aborted report of an expired job changes nothing
    h.sched.job_ended(400 * NS, Job(1, 500.0), completed=False, done_s=90.0)
    assert st.status == JobStatus.MISSED and st.saved_s == 0.0 and h.sched.missed == 1


# ---------------------------------------------------------------------------- checkpoints and completion
def test_preempted_job_keeps_its_checkpoints() -> None:
    h = Harness(Scripted(Choice(1, 4)))
    h.sched.submit(0, spec(1, work_s=1000.0, checkpoint_s=300.0))
    job = h.sched.choose(0, None).job
    assert job == Job(1, 1000.0)
    h.sched.job_ended(800 * NS, job, completed=False, done_s=750.0)
    st = h.sched.jobs[1]
    assert st.status == JobStatus.QUEUED
    assert st.saved_s == 600.0 and st.lost_s == pytest.approx(150.0)
    assert st.saved_s % 300.0 == 0.0
    job = h.sched.choose(800 * NS, None).job  # decided again at once, from the checkpoint
    assert job == Job(1, 400.0) and st.runs == 2
    h.sched.job_ended(1200 * NS, job, completed=False, done_s=350.0)
    assert st.saved_s == 900.0 and st.lost_s == pytest.approx(200.0)
    job = h.sched.choose(1200 * NS, None).job
    assert job == Job(1, 100.0)
    h.sched.job_ended(1300 * NS, job, completed=False, done_s=99.0)  # the last stretch has no checkpoint
    assert st.saved_s == 900.0 and st.lost_s == pytest.approx(299.0)


def test_job_without_checkpoints_loses_all_its_work() -> None:
    h = Harness(Scripted(Choice(1, 4)))
    h.sched.submit(0, spec(1, work_s=1000.0))
    job = h.sched.choose(0, None).job
    assert job is not None
    h.sched.job_ended(10 * NS, job, completed=False, done_s=420.0)
    st = h.sched.jobs[1]
    assert st.saved_s == 0.0 and st.lost_s == 420.0 and st.remaining_s == 1000.0
    assert h.sched.choose(10 * NS, None).job == Job(1, 1000.0)


def test_completed_job_hands_its_result_to_the_sink() -> None:
    h = Harness(Scripted(Choice(1, 4)))
    h.sched.submit(0, spec(1, value=7.5, output_bytes=123_456))
    h.sched.submit(0, spec(2, value=2.0))
    job = h.sched.choose(0, None).job
    assert job is not None
    h.sched.job_ended(90 * NS, job, completed=True, done_s=100.0)
    st = h.sched.jobs[1]
    assert st.status == JobStatus.DONE and st.completed_ns == 90 * NS and st.saved_s == 100.0
    assert h.results == [(90 * NS, 1, 123_456, 0)]
    assert h.sched.completed == 1 and h.sched.value_completed == 7.5
    assert h.sched.running is None
    assert [s.spec.job_id for s in h.sched.ready(90 * NS)] == [2]
    h.policy.choice = Choice(2, 4)
    assert h.sched.choose(90 * NS, None).job == Job(2, 100.0)  # decided again at once
    h.sched.result_progress(1, 121, True)
    assert st.result_parts == 121 and st.stored


def test_a_job_checkpointed_to_its_end_does_not_crash_the_scheduler() -> None:
    h = Harness(Scripted(Choice(1, 4)))
    h.sched.submit(0, spec(1, work_s=600.0, checkpoint_s=300.0))
    job = h.sched.choose(0, None).job
    assert job is not None
    h.sched.job_ended(600 * NS, job, completed=False, done_s=600.0)  # aborted as its last unit finished
    d = h.sched.choose(600 * NS, None)
    assert d.job is None or d.job.work_s > 0


def test_jobs_queued_counts_released_jobs_only() -> None:
    h = Harness()
    h.sched.submit(0, spec(1))
    h.sched.submit(0, spec(2, release_s=500.0))
    h.sched.choose(0, None)
    assert h.sched.hk_values()["jobs_queued"] == 1


# ---------------------------------------------------------------------------- housekeeping
@pytest.mark.parametrize("label", ["SKYRACK", "RUN_ALWAYS", "SUNLIT_ONLY", "SOC_THRESHOLD", "STATIC_PRIORITY"])
def test_hk_values_encode_in_sched_hk(label: str) -> None:
    pol = Scripted(Choice(2, 3))
    pol.name = label
    h = Harness(pol)
    h.sched.submit(0, spec(1, value=12.34))
    h.sched.submit(0, spec(2))
    h.sched.submit(0, spec(3))
    job = h.sched.choose(0, None).job
    assert job is not None
    h.sched.job_ended(50 * NS, job, completed=True)
    h.sched.choose(50 * NS, None)
    h.policy.choice = Choice(1, 3)
    h.sched.choose(60 * NS, None)
    values = h.sched.hk_values()
    pkt = DICTIONARY.packet("sched_hk")
    assert set(values) == {f.name for f in pkt.fields}
    dec = DICTIONARY.decode(pkt.encode(values, 0, 1000 * NS)).fields
    expect: dict[str, Any] = {"policy": label, "wanted_mode": 3, "running_job": 1, "jobs_queued": 2,
                              "jobs_completed": 1, "deadline_misses": 0, "store_backlog_packets": 17}
    assert {k: dec[k] for k in expect} == expect
    assert dec["value_completed"] == pytest.approx(5.0, abs=0.01)
    assert dec["budget_w"] == pytest.approx(123.4, abs=0.1)
    assert dec["thermal_cap_mode"] == 4 and dec["thermal_cap_w"] == pytest.approx(615.0, abs=0.1)


def test_hk_values_clip_to_their_fields() -> None:
    h = Harness()
    h.policy.budget_w = 1e6
    h.sched.value_completed = 1e12
    values = h.sched.hk_values()
    assert values["store_backlog_packets"] == 0  # no outlook yet
    dec = DICTIONARY.decode(DICTIONARY.packet("sched_hk").encode(values, 0, 0)).fields
    assert dec["budget_w"] == pytest.approx(6553.5)
    assert dec["value_completed"] == pytest.approx(42_949_672.95)
    h.policy.budget_w = -5.0
    assert h.sched.hk_values()["budget_w"] == 0.0


def test_every_policy_name_is_a_sched_hk_label() -> None:
    labels = {label for _, label in DICTIONARY.packet("sched_hk").field("policy").calibration.labels}
    assert {p().name for p in POLICIES.values()} <= labels


def test_mode_tables_must_match() -> None:
    ev = EventReporter(DICTIONARY, lambda apid, t, pkt: None)
    with pytest.raises(ValueError):
        JobScheduler(Scripted(), outlook_at, POWER, THROUGHPUT[:3], ev, lambda *a: None)
    with pytest.raises(ValueError):
        JobScheduler(Scripted(), outlook_at, (), (), ev, lambda *a: None)


# ---------------------------------------------------------------------------- closed loop
def test_closed_loop_gpu_node_delivers_value(tmp_path: Path) -> None:
    s = run(load("gpu-node"), 7200.0, tmp_path, fsync=FsyncPolicy.NEVER).summary
    assert s["policy"] == "skyrack"
    assert s["violations"] == 0
    assert s["safe_mode_entries"] == 0
    assert s["jobs_released"] >= 30
    assert s["jobs_delivered"] >= 1
    assert s["value_delivered"] > 0
    assert s["deadline_misses"] <= 2
    assert s["jobs_completed"] >= s["jobs_delivered"]
    assert s["work_done_s"] > 3600.0  # the accelerator was busy more than half the time at full throughput
    assert 0.0 < s["payload_utilization"] <= 1.0
