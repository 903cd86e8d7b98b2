"""Scheduling policies on constructed outlooks and job tables: the power envelope, Skyrack's energy plan,
its mode time-sharing and job choice, and the baselines."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flight.jobs import JobSpec, JobState, JobStatus
from flight.sched_policies import (
    POLICIES,
    RunAlwaysPolicy,
    SkyrackConfig,
    SkyrackPolicy,
    SocThresholdPolicy,
    StaticPriorityPolicy,
    SunlitOnlyPolicy,
    _capped,
    envelope,
    make_policy,
    mode_curve_at,
    throughput_at,
)
from flight.scheduler import Choice, Outlook, SchedView

NS = 1_000_000_000
T0 = 10_000 * NS
PERIOD_NS = 10 * NS
POWER = (70.0, 300.0, 500.0, 700.0)  # gpu-node
THROUGHPUT = (0.05, 0.55, 0.85, 1.0)


def job(job_id: int, work_s: float = 100.0, value: float = 10.0, deadline_s: float | None = None,
        release_s: float = 0.0, checkpoint_s: float = 0.0, priority: int = 0, saved_s: float = 0.0) -> JobState:
    """A job state; deadline_s is counted from T0."""
    spec = JobSpec(job_id, "test", work_s, value, priority, round(release_s * NS),
                   None if deadline_s is None else T0 + round(deadline_s * NS), checkpoint_s, 1000)
    return JobState(spec, saved_s=saved_s)


def outlook(**kw: object) -> Outlook:
    """Plenty of everything: sunlit, a big array, a full battery, no thermal limit."""
    fields: dict[str, object] = {"t_ns": T0, "soc": 1.0, "soc_floor": 0.3, "battery_wh": 2400.0, "array_w": 5000.0,
                                 "base_w": 100.0, "in_eclipse": False, "to_eclipse_s": 3600.0, "eclipse_s": 2100.0,
                                 "cap": 4, "backlog_packets": 0, "downlink_bytes_ahead": 1e9}
    fields.update(kw)
    return Outlook(**fields)  # type: ignore[arg-type]


def view(ready: list[JobState], running: JobState | None = None, done_s: float = 0.0, o: Outlook | None = None,
         t_ns: int = T0) -> SchedView:
    if running is not None:
        running.status = JobStatus.RUNNING
    return SchedView(t_ns, PERIOD_NS, tuple(ready), running, done_s, POWER, THROUGHPUT,
                     o if o is not None else outlook())


# ---------------------------------------------------------------------------- envelope
def test_envelope_of_gpu_node_drops_the_idle_mode() -> None:
    hull = envelope(POWER, THROUGHPUT)
    assert hull == [(0, 0.0, 0.0), (2, 300.0, 0.55), (3, 500.0, 0.85), (4, 700.0, 1.0)]


def test_throughput_interpolates_between_hull_points() -> None:
    hull = envelope(POWER, THROUGHPUT)
    assert throughput_at(hull, -5.0) == 0.0
    assert throughput_at(hull, 0.0) == 0.0
    assert throughput_at(hull, 150.0) == pytest.approx(0.275)
    assert throughput_at(hull, 70.0) == pytest.approx(0.55 * 70 / 300)  # above the idle mode's 0.05
    assert throughput_at(hull, 300.0) == pytest.approx(0.55)
    assert throughput_at(hull, 400.0) == pytest.approx(0.70)
    assert throughput_at(hull, 600.0) == pytest.approx(0.925)
    assert throughput_at(hull, 700.0) == pytest.approx(1.0)
    assert throughput_at(hull, 900.0) == pytest.approx(1.0)


def test_envelope_drops_dominated_modes() -> None:
    # mode 2 draws more than mode 1 for less throughput; mode 4 draws as much as mode 3 for less
    hull = envelope((100.0, 200.0, 300.0, 300.0), (0.5, 0.4, 0.9, 0.8))
    assert [m for m, _, _ in hull] == [0, 1, 3]
    hull = envelope((400.0, 100.0), (1.0, 1.0))  # same throughput for more power: the cheaper mode only
    assert [m for m, _, _ in hull] == [0, 2]


def test_envelope_of_no_modes_is_the_origin() -> None:
    hull = envelope((), ())
    assert hull == [(0, 0.0, 0.0)]
    assert throughput_at(hull, 100.0) == 0.0


modes = st.lists(st.tuples(st.floats(1.0, 1000.0), st.floats(0.01, 1.0)), min_size=1, max_size=7)


@settings(max_examples=300, deadline=None)
@given(modes)
def test_envelope_is_concave_and_above_every_mode(pts: list[tuple[float, float]]) -> None:
    power = tuple(p for p, _ in pts)
    thr = tuple(t for _, t in pts)
    hull = envelope(power, thr)
    assert hull[0] == (0, 0.0, 0.0)
    for m, p, t in hull[1:]:
        assert (power[m - 1], thr[m - 1]) == (p, t)  # a hull point is a mode
    for (_, p0, t0), (_, p1, t1) in itertools.pairwise(hull):
        assert p1 > p0 and t1 > t0  # more power buys more throughput
    slopes = [(t1 - t0) / (p1 - p0) for (_, p0, t0), (_, p1, t1) in itertools.pairwise(hull)]
    for s0, s1 in itertools.pairwise(slopes):
        assert s1 < s0 * (1 + 1e-9)  # concave
    for p, t in pts:
        assert throughput_at(hull, p) >= t - 1e-9  # on or above every mode
    assert hull[-1][2] == max(thr)


# ---------------------------------------------------------------------------- Skyrack: energy plan
HULL = envelope(POWER, THROUGHPUT)
CFG = SkyrackConfig()


def floor_wh(o: Outlook) -> float:
    return (o.soc_floor + CFG.soc_margin) * o.battery_wh


def eclipse_closed_form(o: Outlook) -> float:
    assert o.soc is not None
    t_ecl_h = o.eclipse_s / 3600.0
    p = (o.soc * o.battery_wh - floor_wh(o)) * CFG.discharge_efficiency / t_ecl_h - o.base_w
    return min(max(p, 0.0), 700.0)


@pytest.mark.parametrize("soc", [0.2, 0.34, 0.4, 0.5, 0.7, 1.0])
def test_eclipse_power_is_the_closed_form(soc: float) -> None:
    o = outlook(soc=soc, in_eclipse=True, to_eclipse_s=0.0, eclipse_s=1800.0, array_w=0.0)
    p_sun, p_ecl = SkyrackPolicy().plan(o, HULL)
    assert p_ecl == pytest.approx(eclipse_closed_form(o), abs=1e-6)
    assert p_sun == p_ecl


def test_eclipse_power_cases_cover_the_clips() -> None:
    o = outlook(in_eclipse=True, to_eclipse_s=0.0, eclipse_s=1800.0, array_w=0.0)
    assert SkyrackPolicy().plan(replace(o, soc=0.2), HULL)[1] == 0.0  # below the floor: nothing
    assert SkyrackPolicy().plan(replace(o, soc=1.0), HULL)[1] == 700.0  # plenty: the top
    mid = SkyrackPolicy().plan(replace(o, soc=0.5), HULL)[1]
    assert 0.0 < mid < 700.0
    # the battery ends the eclipse on its floor (plus margin)
    e_end = 0.5 * 2400.0 - 0.5 * (100.0 + mid) / CFG.discharge_efficiency
    assert e_end == pytest.approx(floor_wh(o), abs=1e-6)


def test_big_array_and_full_battery_run_at_the_top() -> None:
    o = outlook()
    assert SkyrackPolicy().plan(o, HULL) == (700.0, 700.0)
    pol = SkyrackPolicy()
    c = pol.decide(view([job(1, work_s=5000.0)], o=o))
    assert c == Choice(1, 4)
    assert pol.budget_w == 700.0


def test_unknown_soc_plans_nothing() -> None:
    o = outlook(soc=None)
    assert SkyrackPolicy().plan(o, HULL) == (0.0, 0.0)
    c = SkyrackPolicy().decide(view([job(1)], o=o))
    assert c == Choice(1, 0)  # the job is held, the accelerator draws nothing


def after_sun_wh(o: Outlook, p_sun: float) -> float:
    """The battery energy at eclipse entry (an implementation independent of the policy's)."""
    assert o.soc is not None
    e = o.soc * o.battery_wh
    hours = 0.0 if o.in_eclipse else o.to_eclipse_s / 3600.0
    net = o.array_w - o.base_w - p_sun
    if net >= 0:
        return min(e + hours * net * CFG.charge_efficiency, o.battery_wh)
    return e + hours * net / CFG.discharge_efficiency


def end_of_eclipse_wh(o: Outlook, p_sun: float, p_ecl: float) -> float:
    return after_sun_wh(o, p_sun) - o.eclipse_s / 3600.0 * (o.base_w + p_ecl) / CFG.discharge_efficiency


outlooks = st.builds(
    lambda soc, array_w, base_w, to_ecl, ecl, in_ecl: outlook(
        soc=soc, array_w=array_w, base_w=base_w, in_eclipse=in_ecl, to_eclipse_s=0.0 if in_ecl else to_ecl,
        eclipse_s=ecl),
    st.floats(0.0, 1.0), st.floats(0.0, 3000.0), st.floats(0.0, 400.0), st.floats(60.0, 6000.0),
    st.floats(60.0, 2400.0), st.booleans())


@settings(max_examples=300, deadline=None)
@given(outlooks)
def test_plan_power_stays_in_range_and_sunlit_power_keeps_the_floor(o: Outlook) -> None:
    p_sun, p_ecl = SkyrackPolicy().plan(o, HULL)
    assert 0.0 <= p_sun <= 700.0 and 0.0 <= p_ecl <= 700.0
    fl = floor_wh(o)
    if after_sun_wh(o, 0.0) >= fl:
        assert after_sun_wh(o, p_sun) >= fl - 1e-6  # the sunlit power does not dig below the floor
    if o.in_eclipse:
        assert end_of_eclipse_wh(o, p_sun, p_ecl) >= min(fl, end_of_eclipse_wh(o, 0.0, 0.0)) - 1e-6


@settings(max_examples=400, deadline=None)
@given(outlooks)
@example(outlook(soc=0.33, array_w=600.0, base_w=300.0, to_eclipse_s=3600.0, eclipse_s=2100.0))
def test_plan_keeps_the_battery_above_its_floor_through_the_eclipse(o: Outlook) -> None:
    p_sun, p_ecl = SkyrackPolicy().plan(o, HULL)
    fl = floor_wh(o)
    idle = end_of_eclipse_wh(o, 0.0, 0.0)  # what the rest of the spacecraft alone leaves
    assert end_of_eclipse_wh(o, p_sun, p_ecl) >= min(fl, idle) - 1e-6


def test_plan_spends_the_surplus_when_the_eclipse_is_short() -> None:
    # 1 kW of surplus for an hour, the battery near full: the sunlit power cannot be starved
    o = outlook(soc=0.9, array_w=1100.0, base_w=100.0, to_eclipse_s=3600.0, eclipse_s=600.0)
    p_sun, p_ecl = SkyrackPolicy().plan(o, HULL)
    assert p_sun >= 500.0
    assert end_of_eclipse_wh(o, p_sun, p_ecl) >= floor_wh(o) - 1e-6


def modes_over(pol: SkyrackPolicy, o: Outlook, periods: int) -> list[int]:
    v = view([job(1, work_s=1e6)], o=o)
    return [pol.decide(v).mode for _ in range(periods)]


@pytest.mark.parametrize("soc", [0.36, 0.38, 0.4, 0.42, 0.45, 0.47, 0.5])
def test_time_sharing_meets_the_budget_on_average(soc: float) -> None:
    o = outlook(soc=soc, in_eclipse=True, to_eclipse_s=0.0, eclipse_s=1800.0, array_w=0.0)
    pol = SkyrackPolicy()
    ms = modes_over(pol, o, 100)
    target = pol.budget_w
    assert target == pytest.approx(eclipse_closed_form(o), abs=1e-6)
    assert 0.0 < target < 700.0
    hull_modes = {m for m, _, _ in HULL}
    assert set(ms) <= hull_modes and len(set(ms)) == 2  # two neighbouring hull modes alternate
    mean_w = sum(([0.0, *POWER])[m] for m in ms) / len(ms)
    step = max(p1 - p0 for (_, p0, _), (_, p1, _) in itertools.pairwise(HULL))
    assert abs(mean_w - target) <= step
    assert abs(mean_w - target) <= step / len(ms) + 1e-9  # the credit carries: off by at most one period


# ---------------------------------------------------------------------------- Skyrack: job choice
def pick(ready: list[JobState], running: JobState | None = None, done_s: float = 0.0, **o: object) -> int | None:
    return SkyrackPolicy().decide(view(ready, running, done_s, outlook(**o))).job_id


def test_infeasible_deadline_job_is_not_chosen() -> None:
    late = job(1, work_s=200.0, value=1000.0, deadline_s=100.0)  # 200 s of work, 100 s left
    free = job(2, work_s=100.0, value=1.0)
    assert pick([late, free]) == 2
    assert pick([late]) is None


def test_feasibility_uses_the_capped_top_mode() -> None:
    d = job(1, work_s=60.0, value=100.0, deadline_s=100.0)  # 60 s at throughput 1, 109 s at 0.55
    free = job(2, work_s=100.0, value=1.0)
    assert pick([d, free]) == 1
    assert pick([d, free], cap=2) == 2


def test_edf_among_urgent_deadline_jobs() -> None:
    free = job(1, work_s=100.0, value=10.0)  # density 0.1
    a = job(2, work_s=50.0, value=50.0, deadline_s=900.0)  # density 1
    b = job(3, work_s=10.0, value=50.0, deadline_s=300.0)  # density 5, earlier deadline
    c = job(4, work_s=10.0, value=200.0, deadline_s=600.0)  # density 20
    assert pick([free, a, b, c]) == 3
    assert pick([free, a, c]) == 4


def test_value_density_without_urgent_deadlines() -> None:
    free_hi = job(1, work_s=100.0, value=100.0)  # density 1
    free_lo = job(2, work_s=100.0, value=20.0)  # 0.2
    d = job(3, work_s=100.0, value=50.0, deadline_s=500.0)  # 0.5: less dense than the best free job
    assert pick([free_lo, d, free_hi]) == 1
    assert pick([free_lo, d]) == 3  # now it is at least as dense as the best free job: EDF


def test_density_counts_checkpointed_work() -> None:
    a = job(1, work_s=1000.0, value=100.0, checkpoint_s=100.0, saved_s=900.0)  # 100 s left: density 1
    b = job(2, work_s=100.0, value=50.0)  # density 0.5
    assert pick([a, b]) == 1


def test_running_job_kept_unless_the_other_is_switch_gain_denser() -> None:
    run = job(1, work_s=100.0, value=10.0)  # density 0.1
    assert pick([run, job(2, work_s=100.0, value=14.0)], running=run) == 1  # 1.4x
    assert pick([run, job(2, work_s=100.0, value=16.0)], running=run) == 2  # 1.6x
    assert pick([run, job(2, work_s=100.0, value=14.0)]) == 2  # nothing running: the denser


def test_running_job_density_is_of_the_work_left() -> None:
    run = job(1, work_s=100.0, value=10.0)
    other = job(2, work_s=100.0, value=30.0)  # 3x the running job's whole-work density
    assert pick([run, other], running=run, done_s=0.0) == 2
    assert pick([run, other], running=run, done_s=60.0) == 1  # 40 s left: density 0.25 vs 0.3


def test_preemption_waits_for_the_next_checkpoint_when_it_is_near_and_slack_allows() -> None:
    run = job(1, work_s=2000.0, value=10.0, checkpoint_s=300.0)
    urgent = job(2, work_s=50.0, value=500.0, deadline_s=1000.0)  # slack 950 s
    # 250 s since the last checkpoint, 50 s to the next, slack holds: keep running (250 s of work kept)
    assert pick([run, urgent], running=run, done_s=250.0) == 1
    # 100 s since the last, 200 s to the next: switch now (100 s lost) rather than delay the deadline job
    assert pick([run, urgent], running=run, done_s=100.0) == 2
    # just past a checkpoint (5 s of work since): switch at once, almost nothing is lost
    assert pick([run, urgent], running=run, done_s=305.0) == 2
    # 50 s to the checkpoint but a slack of 90 s: less than twice the wait plus the periods
    short = job(2, work_s=50.0, value=500.0, deadline_s=140.0)
    assert pick([run, short], running=run, done_s=250.0) == 2
    roomy = job(2, work_s=50.0, value=500.0, deadline_s=200.0)  # slack 150 s >= 2 x (50 + 20)
    assert pick([run, roomy], running=run, done_s=250.0) == 1


def test_preemption_waits_for_the_end_of_a_job_without_checkpoints() -> None:
    run = job(1, work_s=200.0, value=10.0)
    urgent = job(2, work_s=50.0, value=500.0, deadline_s=1000.0)
    assert pick([run, urgent], running=run, done_s=150.0) == 1  # 50 s left (150 s would be lost), slack 950 s
    assert pick([run, urgent], running=run, done_s=10.0) == 2  # 190 s left to save 10 s: switch
    tight = job(2, work_s=50.0, value=500.0, deadline_s=150.0)  # slack 100 s < 2 x (50 + 20)
    assert pick([run, tight], running=run, done_s=150.0) == 2


def test_thermal_cap_zero_holds_the_job() -> None:
    free = job(1)
    d = job(2, work_s=10.0, value=100.0, deadline_s=500.0)  # no throughput at all: cannot meet a deadline
    assert SkyrackPolicy().decide(view([free, d], o=outlook(cap=0))) == Choice(1, 0)
    assert RunAlwaysPolicy().decide(view([free, d], o=outlook(cap=0))).mode == 0


def test_low_battery_in_eclipse_holds_the_job() -> None:
    o = outlook(soc=0.3, in_eclipse=True, to_eclipse_s=0.0, array_w=0.0)
    pol = SkyrackPolicy()
    assert pol.decide(view([job(1)], o=o)) == Choice(1, 0)
    assert pol.budget_w == 0.0


def test_no_jobs_no_choice() -> None:
    assert SkyrackPolicy().decide(view([])) == Choice(None, 0)


# ---------------------------------------------------------------------------- baselines
def test_run_always_is_edf_at_the_top_allowed_mode() -> None:
    free = job(1, work_s=10.0, value=100.0)
    later = job(2, work_s=10.0, value=100.0, deadline_s=900.0)
    sooner = job(3, work_s=10.0, value=1.0, deadline_s=300.0)
    gone = job(4, work_s=500.0, value=1.0, deadline_s=100.0)  # cannot make it
    pol = RunAlwaysPolicy()
    assert pol.decide(view([free, later, sooner, gone])) == Choice(3, 4)
    assert pol.decide(view([free, later, sooner], o=outlook(cap=3))) == Choice(3, 3)
    assert pol.decide(view([free, later])) == Choice(2, 4)
    assert pol.decide(view([free], o=outlook(soc=0.05, in_eclipse=True))) == Choice(1, 4)  # ignores energy
    assert pol.decide(view([])) == Choice(None, 0)


def test_run_always_breaks_ties_by_release() -> None:
    a = job(5, release_s=20.0)
    b = job(6, release_s=10.0)
    assert RunAlwaysPolicy().decide(view([a, b])).job_id == 6


def test_sunlit_only_holds_in_eclipse() -> None:
    jobs = [job(1, deadline_s=500.0), job(2)]
    pol = SunlitOnlyPolicy()
    assert pol.decide(view(jobs)) == Choice(1, 4)
    assert pol.decide(view(jobs, o=outlook(in_eclipse=True, to_eclipse_s=0.0))) == Choice(1, 0)
    assert pol.decide(view(jobs, o=outlook(cap=2))) == Choice(1, 2)


def test_soc_threshold_hysteresis() -> None:
    pol = SocThresholdPolicy(stop_soc=0.75, start_soc=0.85)
    jobs = [job(1)]
    socs = [0.9, 0.76, 0.74, 0.80, 0.84, 0.85, 0.80, 0.76, 0.7]
    got = [pol.decide(view(jobs, o=outlook(soc=s))).mode for s in socs]
    assert got == [4, 4, 0, 0, 0, 4, 4, 4, 0]
    assert pol.decide(view(jobs, o=outlook(soc=None))).mode == 0
    with pytest.raises(ValueError):
        SocThresholdPolicy(stop_soc=0.9, start_soc=0.8)


def test_static_priority_orders_by_class_then_release() -> None:
    a = job(1, priority=2, release_s=0.0, deadline_s=100.0)
    b = job(2, priority=1, release_s=50.0)
    c = job(3, priority=1, release_s=40.0)
    d = job(4, priority=0, release_s=60.0, work_s=10_000.0, deadline_s=200.0)  # infeasible: skipped
    assert StaticPriorityPolicy().decide(view([a, b, c, d])) == Choice(3, 4)
    assert StaticPriorityPolicy().decide(view([a, b])) == Choice(2, 4)
    assert StaticPriorityPolicy().decide(view([a])) == Choice(1, 4)


def test_make_policy_knows_every_name() -> None:
    assert {n: type(make_policy(n)).__name__ for n in POLICIES} == {
        "skyrack": "SkyrackPolicy", "run-always": "RunAlwaysPolicy", "sunlit-only": "SunlitOnlyPolicy",
        "soc-threshold": "SocThresholdPolicy", "static-priority": "StaticPriorityPolicy"}
    with pytest.raises(ValueError, match="unknown scheduling policy"):
        make_policy("random")
    assert math.isinf(SkyrackConfig().charge_max_w)


def test_a_power_limit_caps_the_top_of_the_hull_at_the_part_curve() -> None:
    # thermal limit 600 W: mode 4 is run capped at 600 W, where the part's curve gives 0.925
    v = view([job(1)], o=outlook(cap=4, cap_w=600.0))
    hull = _capped(v)
    assert hull[-1] == (4, 600.0, pytest.approx(0.925))
    assert [h[0] for h in hull] == [0, 2, 3, 4] and hull[-2][1] == 500.0
    # the greedy baselines ask for mode 4 (the payload manager applies the limit)
    assert RunAlwaysPolicy().decide(v) == Choice(1, 4)
    # without a binding limit the hull is the modes' own
    assert _capped(view([job(1)], o=outlook(cap=4, cap_w=700.0)))[-1] == (4, 700.0, 1.0)
    assert mode_curve_at(POWER, THROUGHPUT, 35.0) == pytest.approx(0.025)


def _with_output(st: JobState, output_bytes: int) -> JobState:
    return JobState(replace(st.spec, output_bytes=output_bytes))


def test_scarce_downlink_ranks_jobs_by_value_over_work_and_octets() -> None:
    big = _with_output(job(1, work_s=100.0, value=10.0), 10_000_000)  # denser per second, 10 MB of result
    small = _with_output(job(2, work_s=100.0, value=8.0), 10_000)
    pol = SkyrackPolicy()
    # passes that take everything: value per second of work decides
    assert pol.decide(view([big, small], o=outlook(downlink_bytes_ahead=1e9))).job_id == 1
    # passes that cannot take both results: the 10 MB one costs 7200 s of the window's compute
    o = outlook(downlink_bytes_ahead=5e6, downlink_window_s=3600.0)
    assert pol.decide(view([big, small], o=o)).job_id == 2
    # what already waits for the passes counts against them
    o = outlook(downlink_bytes_ahead=12e6, products_backlog_bytes=5e6, downlink_window_s=3600.0)
    assert pol.decide(view([big, small], o=o)).job_id == 2
    assert pol.decide(view([big, small], o=outlook(downlink_bytes_ahead=12e6))).job_id == 1


def test_a_job_whose_result_would_not_fit_in_the_store_waits() -> None:
    big = _with_output(job(1, work_s=100.0, value=10.0), 10_000_000)
    small = _with_output(job(2, work_s=100.0, value=8.0), 10_000)
    pol = SkyrackPolicy()
    assert pol.decide(view([big, small], o=outlook(store_free_bytes=5e6))).job_id == 2
    assert pol.decide(view([big], o=outlook(store_free_bytes=5e6))) == Choice(None, 0)
    # a running job is not stopped for it: its result is on its way
    assert pol.decide(view([big], running=big, o=outlook(store_free_bytes=5e6))).job_id == 1


def test_the_store_fit_counts_whole_result_parts() -> None:
    # 2,049 octets take three 1024-octet parts: 3,072 octets of room
    j = _with_output(job(1), 2049)
    pol = SkyrackPolicy()
    assert pol.decide(view([j], o=outlook(store_free_bytes=3071.0, result_part_octets=1024))) == Choice(None, 0)
    assert pol.decide(view([j], o=outlook(store_free_bytes=3072.0, result_part_octets=1024))).job_id == 1
