"""Tests of the offline upper bound against closed forms and against feasible schedules."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

pytest.importorskip("scipy")

from skyrack.upper_bound import BoundProblem, BoundResult, ThermalModel, envelope, upper_bound

INF = math.inf


def make_problem(n: int = 48, dt: float = 60.0, **overrides: Any) -> BoundProblem:
    """A problem with plenty of everything; tests override what they constrain."""
    fields: dict[str, Any] = {
        "dt_s": dt,
        "solar_w": np.full(n, 1000.0),
        "base_load_w": np.full(n, 50.0),
        "e_init_j": 5e5,
        "e_min_j": 1e5,
        "e_max_j": 1e6,
        "charge_max_w": 500.0,
        "discharge_max_w": 500.0,
        "eta_charge": 0.95,
        "eta_discharge": 0.95,
        "mode_power_w": (100.0,),
        "mode_throughput": (1.0,),
        "downlink_bytes": np.full(n, INF),
        "work_s": np.zeros(0),
        "value": np.zeros(0),
        "release_s": np.zeros(0),
        "deadline_s": np.zeros(0),
        "output_bytes": np.zeros(0),
    }
    fields.update(overrides)
    return BoundProblem(**fields)


def jobs(work: list[float], value: list[float], release: list[float] | None = None,
         deadline: list[float] | None = None, output: list[float] | None = None) -> dict[str, np.ndarray]:
    count = len(work)
    return {
        "work_s": np.array(work, dtype=float),
        "value": np.array(value, dtype=float),
        "release_s": np.zeros(count) if release is None else np.array(release, dtype=float),
        "deadline_s": np.full(count, INF) if deadline is None else np.array(deadline, dtype=float),
        "output_bytes": np.zeros(count) if output is None else np.array(output, dtype=float),
    }


def solve(problem: BoundProblem, integral: bool = False) -> BoundResult:
    result = upper_bound(problem, integral=integral, time_limit_s=30.0)
    assert result.status == "optimal", result.status
    return result


# --------------------------------------------------------------------------- envelope


def test_envelope_keeps_only_the_upper_concave_hull() -> None:
    # (20, 0.6) lies below the chord from (10, 0.5) to (30, 1.0); the duplicate power keeps the best mode.
    hull = envelope((10.0, 20.0, 30.0, 30.0), (0.5, 0.6, 0.9, 1.0))
    assert hull == [(0.0, 0.0), (10.0, 0.5), (30.0, 1.0)]
    # A single mode: the envelope is the chord from the origin.
    assert envelope((80.0,), (1.0,)) == [(0.0, 0.0), (80.0, 1.0)]
    # A slower high-power mode stays as the (decreasing) right end of the domain.
    assert envelope((50.0, 100.0), (1.0, 0.8)) == [(0.0, 0.0), (50.0, 1.0), (100.0, 0.8)]
    with pytest.raises(ValueError, match="equal length"):
        envelope((1.0, 2.0), (1.0,))


# --------------------------------------------------------------------------- 1. plenty of everything


def test_plenty_of_power_bound_is_the_sum_of_values() -> None:
    spec = jobs(work=[300, 1000, 300, 900, 60], value=[1, 2, 3, 4, 5], release=[0, 100, 200, 1000, 2500],
                deadline=[INF, 2400, 900, 2000, 2600], output=[1e6, 2e6, 0, 5e5, 1e5])
    problem = make_problem(**spec)
    for integral in (False, True):
        result = solve(problem, integral)
        assert result.value == pytest.approx(15.0, rel=1e-9)
        assert np.allclose(result.completion, 1.0, atol=1e-7)
        assert result.integral is integral
        assert result.payload_power_w.shape == (48,)
        assert result.battery_energy_j.shape == (49,)
        assert result.work_s.sum() == pytest.approx(2560.0, rel=1e-7)
        assert result.n_variables > 0 and result.n_constraints > 0
    # Finite but ample downlink and storage change nothing.
    limited = make_problem(**spec, downlink_bytes=np.full(48, 1e6), store_bytes=3e6)
    assert solve(limited).value == pytest.approx(15.0, rel=1e-9)


# --------------------------------------------------------------------------- 2. energy-limited


def test_energy_limited_bound_uses_the_most_efficient_envelope_point() -> None:
    n, dt = 60, 60.0
    e_init, e_min, eta_d = 1.0e5, 2.0e4, 0.9
    modes_p, modes_t = (50.0, 100.0, 150.0, 200.0), (0.4, 0.6, 0.7, 1.0)
    best_per_watt = max(t / p for p, t in envelope(modes_p, modes_t) if p > 0)
    assert best_per_watt == pytest.approx(0.4 / 50.0)
    max_work = (e_init - e_min) * eta_d * best_per_watt  # 576 accelerator-seconds
    assert max_work / 0.4 < n * dt  # the horizon is long enough to spend it all at the efficient mode
    density = 0.03  # value per accelerator-second
    spec = jobs(work=[100.0] * 10, value=[100.0 * density] * 10)  # 1000 s of work > max_work
    problem = make_problem(n=n, dt=dt, solar_w=np.zeros(n), base_load_w=np.zeros(n), e_init_j=e_init,
                           e_min_j=e_min, e_max_j=e_init, eta_discharge=eta_d, mode_power_w=modes_p,
                           mode_throughput=modes_t, **spec)
    result = solve(problem)
    assert result.value == pytest.approx(max_work * density, rel=1e-6)
    assert result.work_s.sum() == pytest.approx(max_work, rel=1e-6)
    assert result.battery_energy_j[-1] == pytest.approx(e_min, rel=1e-6)
    # Integral completion: only whole 100 s jobs count.
    assert solve(problem, integral=True).value == pytest.approx(math.floor(max_work / 100.0) * 100.0 * density,
                                                                rel=1e-6)


def test_energy_charged_in_sunlight_and_spent_in_eclipse() -> None:
    # 30 min of sun charging at the 40 W limit from an empty battery, then 30 min of eclipse with the jobs.
    n, dt = 60, 60.0
    eta_c, eta_d = 0.9, 0.95
    solar = np.where(np.arange(n) < 30, 100.0, 0.0)
    stored = 40.0 * 1800.0 * eta_c
    max_work = stored * eta_d * (0.4 / 50.0)  # best throughput per watt, as above
    assert max_work / 0.4 < 1800.0
    problem = make_problem(n=n, dt=dt, solar_w=solar, base_load_w=np.zeros(n), e_init_j=1e4, e_min_j=1e4,
                           e_max_j=1e6, charge_max_w=40.0, eta_charge=eta_c, eta_discharge=eta_d,
                           mode_power_w=(50.0, 200.0), mode_throughput=(0.4, 1.0),
                           **jobs(work=[2000.0], value=[2000.0], release=[1800.0]))
    result = solve(problem)
    assert result.value == pytest.approx(max_work, rel=1e-6)
    assert result.battery_energy_j[30] == pytest.approx(1e4 + stored, rel=1e-6)


# --------------------------------------------------------------------------- 3. thermal-limited


def test_thermal_limited_work_approaches_the_steady_state_power_cap() -> None:
    # One node: x[k+1] = a x[k] + b p[k] + w, die = x + r p <= L, starting at the payload-off steady state.
    n, dt = 2000, 60.0
    a, b, r, limit, ambient = 0.95, 0.01, 0.02, 60.0, 20.0
    w = (1.0 - a) * ambient
    gain = b + r * (1.0 - a)
    p_star = (limit * (1.0 - a) - w) / gain  # constant power whose steady die temperature is exactly L
    modes_p, modes_t = (100.0, 250.0), (0.5, 1.0)
    hull = envelope(modes_p, modes_t)
    assert 100.0 < p_star < 250.0
    thr_star = 0.5 + (p_star - 100.0) * 0.5 / 150.0
    slope_max = max((t1 - t0) / (p1 - p0) for (p0, t0), (p1, t1) in itertools.pairwise(hull))
    thermal = ThermalModel(A=np.array([[a]]), B=np.array([b]), w=np.full((n, 1), w), c=np.array([1.0]),
                           x0=np.array([ambient]), r_j=r, die_limit_c=limit)
    problem = make_problem(n=n, dt=dt, mode_power_w=modes_p, mode_throughput=modes_t, thermal=thermal,
                           **jobs(work=[n * dt], value=[n * dt]))  # one job, value 1 per accelerator-second
    result = solve(problem)
    work = result.value
    # Lower: running at p* from the start is feasible (x rises monotonically to its steady state).
    lower = n * dt * thr_star
    # Upper: summing the dynamics and the die limits over all slots gives
    #   sum p <= n p* + (x_n - x_0) / (b + r (1 - a)) <= n p* + (L - x_0) / gain,
    # and by concavity of the envelope sum thr(p_k) <= n thr(mean p) <= n thr(p*) + slope_max * excess.
    upper = lower + dt * slope_max * (limit - ambient) / gain
    assert (upper - lower) / lower < 0.015  # the transient allowance is small over a long horizon
    assert lower * (1 - 1e-7) <= work <= upper * (1 + 1e-7)
    assert work < 0.8 * n * dt  # far below the unconstrained full-speed work
    # The accelerator stays at the cap on average.
    assert result.payload_power_w.mean() == pytest.approx(p_star, rel=0.02)


# --------------------------------------------------------------------------- 4. downlink and storage


def test_downlink_limited_bound_is_value_per_byte_times_capacity() -> None:
    n = 48
    downlink = np.zeros(n)
    downlink[[30, 31, 40, 41]] = 7e7  # capacity C = 2.8e8 bytes, all in the second half
    capacity = downlink.sum()
    out, value = 1e8, 5.0
    problem = make_problem(n=n, downlink_bytes=downlink, **jobs(work=[60.0] * 10, value=[value] * 10,
                                                                output=[out] * 10))
    assert capacity < 10 * out
    assert solve(problem).value == pytest.approx(value / out * capacity, rel=1e-6)
    assert solve(problem, integral=True).value == pytest.approx(value * math.floor(capacity / out), rel=1e-6)


def test_downlink_needs_the_work_that_produces_the_output() -> None:
    # A job released after the only pass cannot be delivered; a job without work is available from release.
    n = 20
    downlink = np.zeros(n)
    downlink[5] = 1e9
    early_pass = make_problem(n=n, downlink_bytes=downlink,
                              **jobs(work=[60.0, 0.0, 0.0], value=[1.0, 2.0, 4.0], release=[360.0, 240.0, 600.0],
                                     output=[1e6, 1e6, 1e6]))
    assert solve(early_pass).value == pytest.approx(2.0, rel=1e-9)
    # Work in slot 5 (release at 300 s) produces output downlinkable in slot 5 in the relaxation ...
    same_slot = make_problem(n=n, downlink_bytes=downlink,
                             **jobs(work=[30.0], value=[1.0], release=[300.0], output=[1e6]))
    assert solve(same_slot).value == pytest.approx(1.0, rel=1e-9)
    # ... but only in proportion to the work done: 60 of 120 s fit in slot 5, so half the output (LP).
    half = make_problem(n=n, downlink_bytes=downlink,
                        **jobs(work=[120.0], value=[1.0], release=[300.0], output=[1e6]))
    assert solve(half).value == pytest.approx(0.5, rel=1e-7)
    assert solve(half, integral=True).value == pytest.approx(0.0, abs=1e-9)
    # Output still on board at the end of the horizon does not count, deadline or not.
    late = make_problem(n=n, downlink_bytes=downlink,
                        **jobs(work=[60.0, 60.0], value=[1.0, 1.0], release=[420.0, 420.0], deadline=[600.0, INF],
                               output=[1e6, 1e6]))
    assert solve(late).value == pytest.approx(0.0, abs=1e-9)


def test_storage_counts_output_only_once_the_job_must_be_complete() -> None:
    # Real schedule worth 2: A works in slot 0 and waits in the store for the pass in slot 2, while B works in
    # slots 1-2 and completes at 180 s, when A is gone; B goes down in slot 3.  The store never holds more
    # than one output.  Charging B's partial work to the store at 120 s would wrongly forbid this.
    out = 1e6
    downlink = np.array([0.0, 0.0, out, out])
    problem = make_problem(n=4, downlink_bytes=downlink, store_bytes=out,
                           **jobs(work=[60.0, 90.0], value=[1.0, 1.0], release=[0.0, 60.0],
                                  deadline=[60.0, 180.0], output=[out, out]))
    assert solve(problem).value == pytest.approx(2.0, rel=1e-9)
    assert solve(problem, integral=True).value == pytest.approx(2.0, rel=1e-9)


def test_storage_limit_binds_on_outputs_waiting_after_their_deadlines() -> None:
    # Both jobs must be complete by 120 s, the only pass is in slot 2: at 120 s their outputs sit together in
    # a 1.5-output store, so only one can count (LP: 1.5).  A third job's output is larger than the store.
    out = 1e6
    downlink = np.array([0.0, 0.0, 4 * out, 0.0])
    problem = make_problem(n=4, downlink_bytes=downlink, store_bytes=1.5 * out,
                           **jobs(work=[60.0, 60.0, 10.0], value=[1.0, 1.0, 10.0], deadline=[120.0, 120.0, INF],
                                  output=[out, out, 2 * out]))
    lp = solve(problem)
    assert lp.value == pytest.approx(1.5, rel=1e-7)
    assert lp.completion[2] == 0.0
    assert solve(problem, integral=True).value == pytest.approx(1.0, rel=1e-7)


# --------------------------------------------------------------------------- 5. deadlines


def test_overlapping_deadlines_lp_is_fractional_and_milp_picks_one() -> None:
    # Full speed, 360 s of capacity before B's deadline; A needs all of [0, 240], B needs 240 s in [0, 360].
    v_a, v_b = 3.0, 2.0
    problem = make_problem(**jobs(work=[240.0, 240.0], value=[v_a, v_b], deadline=[240.0, 360.0]))
    lp = solve(problem)
    assert lp.value == pytest.approx(v_a + 0.5 * v_b, rel=1e-7)
    assert lp.completion == pytest.approx([1.0, 0.5], abs=1e-7)
    milp = solve(problem, integral=True)
    assert milp.value == pytest.approx(max(v_a, v_b), rel=1e-7)
    assert milp.mip_gap == pytest.approx(0.0, abs=1e-6)


def test_jobs_outside_the_horizon_count_for_nothing() -> None:
    downlink = np.full(48, 1e9)
    problem = make_problem(downlink_bytes=downlink,
                           **jobs(work=[60.0, 60.0, 0.0, 60.0, 0.0], value=[1.0, 2.0, 4.0, 8.0, 16.0],
                                  release=[-2e6, 1e7, -50.0, 2850.0, 100.0],
                                  deadline=[-1e6, INF, -10.0, 2900.0, 100.0], output=[1e3] * 5))
    # Only the last two fit: 30 s of the 60 s job before the horizon ends at 2880 s (LP: half), and the
    # zero-work job released (and due) at 100 s.
    assert solve(problem).value == pytest.approx(0.5 * 8.0 + 16.0, rel=1e-9)
    assert solve(problem, integral=True).value == pytest.approx(16.0, rel=1e-9)


def test_partially_covered_slots_limit_work_to_the_overlap() -> None:
    # Window [30, 150] covers half of slot 0, slot 1 and half of slot 2: exactly 120 s at full speed.
    fits = make_problem(**jobs(work=[120.0], value=[1.0], release=[30.0], deadline=[150.0]))
    assert solve(fits).value == pytest.approx(1.0, rel=1e-9)
    too_long = make_problem(**jobs(work=[121.0], value=[1.0], release=[30.0], deadline=[150.0]))
    assert solve(too_long).value == pytest.approx(120.0 / 121.0, rel=1e-7)
    assert solve(too_long, integral=True).value == pytest.approx(0.0, abs=1e-9)


# --------------------------------------------------------------------------- 6. never below a feasible schedule


def reserve_energy(pb: BoundProblem) -> np.ndarray:
    """Least battery energy at each boundary from which the payload-off remainder of the horizon is feasible."""
    n, dt = pb.n_slots, pb.dt_s
    need = np.empty(n + 1)
    need[n] = pb.e_min_j
    for k in reversed(range(n)):
        net = pb.solar_w[k] - pb.base_load_w[k]
        if net >= 0:
            prev = need[k + 1] - dt * pb.eta_charge * min(net, pb.charge_max_w)
        else:
            prev = need[k + 1] + dt * (-net) / pb.eta_discharge
        need[k] = max(pb.e_min_j, prev)
    return need


def thermal_ok(pb: BoundProblem, k: int, state: np.ndarray, power: float) -> bool:
    """Die limit holds in slot k at this power and, with the payload off afterwards, to the end."""
    th = pb.thermal
    if th is None:
        return True
    if th.c @ state + th.r_j * power > th.die_limit_c:
        return False
    x = th.A @ state + th.B * power + th.w[k]
    for j in range(k + 1, pb.n_slots + 1):
        if th.c @ x > th.die_limit_c:
            return False
        if j < pb.n_slots:
            x = th.A @ x + th.w[j]
    return True


def greedy_value(pb: BoundProblem) -> float:
    """Earliest-deadline-first schedule at the fastest safe mode, simulated exactly under the bound's model.

    Outputs enter the store at the end of the slot in which the job completes and are downlinked first in,
    first out from the next slot on; a job is not completed if its output would overflow the store.
    """
    n, dt = pb.n_slots, pb.dt_s
    reserve = reserve_energy(pb)
    assert pb.e_init_j >= reserve[0]
    modes = sorted(zip(pb.mode_power_w, pb.mode_throughput, strict=True), key=lambda m: -m[1])
    remaining = pb.work_s.astype(float).copy()
    done = np.zeros(pb.n_jobs, dtype=bool)
    queue: list[list[float]] = []  # [job, bytes left] in completion order
    delivered: set[int] = set()
    energy = pb.e_init_j
    state = np.zeros(0) if pb.thermal is None else pb.thermal.x0.copy()
    for k in range(n):
        capacity = pb.downlink_bytes[k]
        for entry in queue:
            take = min(capacity, entry[1])
            entry[1] -= take
            capacity -= take
        for entry in queue:
            if entry[1] <= 0:
                delivered.add(int(entry[0]))
        queue = [entry for entry in queue if entry[1] > 0]
        stored = sum(entry[1] for entry in queue)

        lo = np.maximum(k * dt, pb.release_s)
        hi = np.minimum((k + 1) * dt, pb.deadline_s)
        overlap = np.clip(hi - lo, 0.0, dt)
        # Earliest deadline first among jobs that can still finish at full speed.
        left = np.clip(pb.deadline_s - np.maximum(k * dt, pb.release_s), 0.0, n * dt - k * dt)
        fastest = max(pb.mode_throughput)
        ready = [j for j in np.argsort(pb.deadline_s, kind="stable")
                 if not done[j] and overlap[j] > 0 and remaining[j] <= fastest * left[j]]
        chosen: tuple[float, float, float] = (0.0, 0.0, energy)
        if ready:
            for power, thr in modes:
                net = pb.solar_w[k] - pb.base_load_w[k] - power
                if net >= 0:
                    nxt = min(pb.e_max_j, energy + dt * pb.eta_charge * min(net, pb.charge_max_w))
                elif -net <= pb.discharge_max_w:
                    nxt = energy - dt * (-net) / pb.eta_discharge
                else:
                    continue
                if nxt >= reserve[k + 1] and thermal_ok(pb, k, state, power):
                    chosen = (power, thr, nxt)
                    break
        power, thr, nxt = chosen
        if power == 0.0:
            net = pb.solar_w[k] - pb.base_load_w[k]
            if net >= 0:
                nxt = min(pb.e_max_j, energy + dt * pb.eta_charge * min(net, pb.charge_max_w))
            else:
                nxt = energy - dt * (-net) / pb.eta_discharge
        cap = thr * dt
        for j in ready if thr > 0 else []:
            amount = min(remaining[j], cap, overlap[j] * thr)
            if amount <= 0:
                continue
            completes = amount >= remaining[j]
            if completes:
                if stored + pb.output_bytes[j] > pb.store_bytes:
                    continue
                stored += pb.output_bytes[j]
                done[j] = True
                queue.append([float(j), float(pb.output_bytes[j])])
            remaining[j] -= amount
            cap -= amount
        energy = nxt
        assert energy >= pb.e_min_j - 1e-6
        if pb.thermal is not None:
            th = pb.thermal
            assert th.c @ state + th.r_j * power <= th.die_limit_c + 1e-9
            state = th.A @ state + th.B * power + th.w[k]
    delivered.update(int(entry[0]) for entry in queue if entry[1] <= 0)  # outputs of zero bytes
    return float(sum(pb.value[j] for j in delivered if done[j]))


def random_problem(rng: np.random.Generator) -> BoundProblem:
    n, dt = 36, 60.0
    while True:
        period = int(rng.integers(12, 25))
        sunlit = (np.arange(n) % period) < int(period * rng.uniform(0.5, 0.75))
        solar = np.where(sunlit, rng.uniform(120.0, 300.0), 0.0)
        base = np.full(n, rng.uniform(20.0, 60.0))
        e_max = rng.uniform(5e4, 2e5)
        n_modes = int(rng.integers(1, 4))
        powers = tuple(float(v) for v in np.sort(rng.uniform(30.0, 200.0, n_modes)))
        thr = tuple(float(v) for v in np.sort(rng.uniform(0.2, 1.0, n_modes)))
        n_jobs = int(rng.integers(4, 10))
        release = rng.uniform(0, n * dt * 0.8, n_jobs)
        deadline = np.where(rng.random(n_jobs) < 0.2, INF, release + rng.uniform(120.0, 1500.0, n_jobs))
        downlink = np.where(rng.random(n) < 0.3, rng.uniform(5e5, 3e6, n), 0.0)
        thermal = None
        if rng.random() < 0.6:
            m = int(rng.integers(1, 3))
            a = np.diag(rng.uniform(0.8, 0.97, m))
            if m == 2:
                a[0, 1] = a[1, 0] = 0.02
            ambient = np.full(m, 20.0)
            w = np.tile((np.eye(m) - a) @ ambient, (n, 1))
            b = np.zeros(m)
            b[0] = rng.uniform(0.005, 0.05)
            thermal = ThermalModel(A=a, B=b, w=w, c=np.eye(m)[0], x0=ambient + rng.uniform(0.0, 3.0, m),
                                   r_j=rng.uniform(0.0, 0.05), die_limit_c=20.0 + rng.uniform(5.0, 40.0))
        pb = BoundProblem(
            dt_s=dt, solar_w=solar, base_load_w=base, e_init_j=rng.uniform(0.5, 1.0) * e_max,
            e_min_j=0.3 * e_max, e_max_j=e_max, charge_max_w=rng.uniform(50.0, 300.0),
            discharge_max_w=rng.uniform(150.0, 400.0), eta_charge=rng.uniform(0.85, 1.0),
            eta_discharge=rng.uniform(0.85, 1.0), mode_power_w=powers, mode_throughput=thr,
            downlink_bytes=downlink, work_s=rng.uniform(30.0, 600.0, n_jobs), value=rng.uniform(0.5, 5.0, n_jobs),
            release_s=release, deadline_s=deadline, output_bytes=np.where(rng.random(n_jobs) < 0.2, 0.0,
                                                                          rng.uniform(1e5, 1.5e6, n_jobs)),
            store_bytes=INF if rng.random() < 0.5 else rng.uniform(1.5e6, 4e6), thermal=thermal)
        cool_enough = pb.thermal is None or thermal_ok(pb, 0, pb.thermal.x0, 0.0)
        if pb.e_init_j >= reserve_energy(pb)[0] and cool_enough:
            return pb


def test_bound_is_never_below_a_feasible_greedy_schedule() -> None:
    rng = np.random.default_rng(20240605)
    delivered_any = 0
    for _ in range(30):
        pb = random_problem(rng)
        greedy = greedy_value(pb)
        lp = solve(pb)
        milp = upper_bound(pb, integral=True, time_limit_s=10.0)
        assert milp.status == "optimal", milp.status
        tol = 1e-6 * max(1.0, float(pb.value.sum()))
        assert lp.value >= greedy - tol
        assert milp.value >= greedy - tol
        assert milp.value <= lp.value + tol
        delivered_any += greedy > 0
    assert delivered_any >= 15  # the comparison is not vacuous


def test_milp_time_limit_still_returns_a_valid_bound() -> None:
    rng = np.random.default_rng(7)
    pb = random_problem(rng)
    greedy = greedy_value(pb)
    lp = solve(pb)
    for limit in (1e-4, 1e-2, 10.0):
        result = upper_bound(pb, integral=True, time_limit_s=limit)
        if result.status.startswith("time limit") and math.isnan(result.value):
            assert "no bound" in result.status  # stopped inside the LP: says so rather than guessing
            continue
        assert result.status == "optimal" or result.status.startswith("time limit"), result.status
        assert greedy - 1e-6 <= result.value <= lp.value + 1e-6
        assert result.mip_gap >= 0.0
    assert result.status == "optimal"


# --------------------------------------------------------------------------- 7. infeasible and malformed input


def test_base_load_beyond_solar_and_battery_is_reported_infeasible() -> None:
    n = 10
    solar = np.full(n, 100.0)
    solar[4] = 0.0
    problem = make_problem(n=n, solar_w=solar, base_load_w=np.full(n, 600.0), discharge_max_w=500.0,
                           **jobs(work=[60.0], value=[1.0]))
    for integral in (False, True):
        result = upper_bound(problem, integral=integral)
        assert not result.feasible
        assert result.status.startswith("infeasible") and "slot 4" in result.status
        assert math.isnan(result.value)
        assert result.completion.shape == (1,) and np.isnan(result.completion).all()


def test_battery_exhausted_in_eclipse_is_reported_infeasible() -> None:
    n = 60  # one hour of eclipse at 100 W needs 360 kJ, only 100 kJ is usable
    problem = make_problem(n=n, solar_w=np.zeros(n), base_load_w=np.full(n, 100.0), e_init_j=2e5, e_min_j=1e5)
    result = upper_bound(problem)
    assert result.status.startswith("infeasible") and "battery" in result.status
    assert "t = 960 s" in result.status  # 1e5 J * 0.95 / 100 W = 950 s, first boundary after it


def test_thermal_limit_violated_with_payload_off_is_reported_infeasible() -> None:
    n = 10
    thermal = ThermalModel(A=np.array([[0.9]]), B=np.array([0.01]), w=np.full((n, 1), 9.0), c=np.array([1.0]),
                           x0=np.array([50.0]), r_j=0.0, die_limit_c=60.0)  # heads to 90 C regardless
    result = upper_bound(make_problem(n=n, thermal=thermal, **jobs(work=[60.0], value=[1.0])))
    assert not result.feasible
    assert result.status.startswith("infeasible") and "die temperature" in result.status
    assert math.isnan(result.value)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"dt_s": -60.0}, "dt_s must be > 0"),
    ({"dt_s": math.nan}, "dt_s must be finite"),
    ({"base_load_w": np.full(47, 10.0)}, "base_load_w must have shape"),
    ({"downlink_bytes": np.full(49, 1.0)}, "downlink_bytes must have shape"),
    ({"solar_w": np.full((48, 2), 1.0)}, "solar_w must be a 1-D array"),
    ({"solar_w": np.r_[np.full(47, 1.0), np.nan]}, "solar_w contains NaN"),
    ({"base_load_w": np.full(48, -1.0)}, "base_load_w must be >= 0"),
    ({"eta_charge": 1.2}, "eta_charge must be in"),
    ({"e_init_j": 5e4}, "e_init_j"),
    ({"e_min_j": 2e6}, "e_min_j"),
    ({"mode_throughput": (1.0, 0.5)}, "equal length"),
    ({"value": np.ones(2)}, "value must have shape"),
    ({"deadline_s": np.array([10.0]), "release_s": np.array([20.0])}, "deadline_s < release_s"),
    ({"store_bytes": -1.0}, "store_bytes must be >= 0"),
    ({"thermal": ThermalModel(A=np.eye(2) * 0.9, B=np.zeros(2), w=np.zeros((47, 2)), c=np.ones(2),
                              x0=np.zeros(2), r_j=0.0, die_limit_c=50.0)}, "thermal.w must have 48 rows"),
])
def test_malformed_inputs_raise_clear_value_errors(overrides: dict[str, Any], message: str) -> None:
    spec: dict[str, Any] = jobs(work=[60.0], value=[1.0])
    spec.update(overrides)
    with pytest.raises(ValueError, match=message):
        make_problem(**spec)


def test_malformed_thermal_model_and_arguments_raise_value_errors() -> None:
    with pytest.raises(ValueError, match=r"thermal\.A must be square"):
        ThermalModel(A=np.ones((2, 3)), B=np.zeros(2), w=np.zeros((4, 2)), c=np.ones(2), x0=np.zeros(2), r_j=0.0,
                     die_limit_c=50.0)
    with pytest.raises(ValueError, match=r"thermal\.B must have shape \(2,\)"):
        ThermalModel(A=np.eye(2), B=np.zeros(3), w=np.zeros((4, 2)), c=np.ones(2), x0=np.zeros(2), r_j=0.0,
                     die_limit_c=50.0)
    with pytest.raises(ValueError, match="time_limit_s must be > 0"):
        upper_bound(make_problem(), time_limit_s=0.0)
