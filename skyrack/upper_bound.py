r"""Offline upper bound on the value a compute payload can deliver over a horizon.

The bound knows the whole future (array power, loads, ground passes, jobs) and solves a
linear program (or, with ``integral=True``, a mixed-integer program) over time slots.
Every real schedule of the modelled spacecraft maps to a feasible point of the program
with the same objective, so its optimum (or the MILP's dual bound) is an upper bound on
what any policy can deliver under this model.

Formulation
===========
Slots ``k = 0..n-1`` cover ``[k dt, (k+1) dt)``; boundaries ``b = 0..n`` are at ``b dt``.

Variables (per slot unless stated):

* ``p_k``  payload power, ``0 <= p_k <= P_max`` (largest mode power);
* ``t_k``  payload throughput (average over the slot, 1 = full speed);
* ``s_k``  solar power used, ``0 <= s_k <= solar_w[k]`` (the rest is curtailed);
* ``c_k, d_k``  battery charge / discharge power, bounded by ``charge_max_w`` / ``discharge_max_w``;
* ``e_b``  battery energy at boundary ``b``, ``e_0 = e_init``, ``e_min <= e_b <= e_max``;
* ``X_b``  thermal state (``m`` values) at boundary ``b``, ``X_0 = x0`` (only with a thermal model);
* ``x_j``  completion of job ``j`` in ``[0, 1]`` (binary with ``integral=True``);
* ``y_jk`` work of job ``j`` in slot ``k``, only for slots ``k`` that overlap the job's window
  ``[release_j, deadline_j]`` (its *window slots*);
* ``z_jk`` bytes of job ``j`` downlinked in slot ``k`` and ``a_jk`` bytes of job ``j`` produced but not
  yet downlinked at the end of slot ``k``, for the window slots with downlink capacity (between
  those slots the downlinked total is constant and the produced total can only grow, so checking
  availability there is enough);
* ``r_j``  bytes of job ``j`` still to downlink when its window ends before the horizon does;
* ``sigma_b`` bytes of such *expired* jobs held on board at boundary ``b`` and ``q_k`` bytes of
  them downlinked in slot ``k`` (one pool shared by all expired jobs; per-job downlink variables
  after the window would add nothing, since all of an expired job's output is already available).

When the downlink is unlimited in every slot and the store is unlimited, the byte variables
(``z, a, r, sigma, q``) are left out: they cannot constrain anything.

Constraints:

* power balance ``s_k + d_k = base_k + p_k + c_k``;
* battery ``e_{k+1} = e_k + dt (eta_c c_k - d_k / eta_d)``;
* mode envelope ``t_k <= alpha_i + beta_i p_k`` for every segment ``i`` of the upper concave
  envelope of ``{(0, 0)} U {(P_mode, T_mode)}`` (see :func:`envelope`);
* thermal ``X_{k+1} = A X_k + B p_k + w_k``, die ``c.X_k + r_j p_k <= limit`` for ``k < n`` and
  ``c.X_n <= limit``;
* slot capacity ``sum_j y_jk <= t_k dt`` and per-job slot cap ``y_jk <= min(f_jk dt T_max, work_j)``
  (``f_jk`` is the fraction of the slot inside the window);
* completion ``sum_k y_jk >= work_j x_j``;
* output availability ``a_jk = a_j,k'' + (output_j / work_j) (work in slots k''+1..k) - z_jk >= 0`` where
  ``k''`` is the job's previous downlink slot (``a`` starts at ``output_j`` for jobs without work:
  their output exists from release);
* delivery ``sum_k z_jk + r_j >= output_j x_j``;
* downlink capacity ``sum_j z_jk + q_k <= downlink_bytes[k]``;
* expired pool ``sigma_{k+1} = sigma_k + sum_{j expiring at boundary k+1} r_j - q_k``,
  ``sigma_0 = sigma_n = 0`` (all output downlinked by the end of the horizon),
  ``0 <= sigma_b <= store_bytes``, and ``x_j = 0`` when ``output_j > store_bytes``.

Objective: maximise ``sum_j value_j x_j``.

Why it stays an upper bound
===========================
Take any real schedule and keep only the jobs that count (done within their window and
fully downlinked by the end).  Setting ``p_k, t_k`` to the slot averages of power and
throughput, ``y, z`` to the actual work and downlink, ``x_j = 1`` for the counted jobs,
and everything else to zero gives a feasible point of the program:

* Time-sharing modes (and idling) within a slot yields average power/throughput pairs in
  the convex hull of the modes and the origin, so the throughput is below the upper concave
  envelope.  The program may also pick envelope points no single mode reaches: a relaxation.
* Power, battery and thermal variables take the real trajectory (work on jobs that do not
  count, or lost to preemption, is simply not attributed to any ``y``), with the array power
  not used counted as curtailed (``s_k <= solar_w[k]``).  The thermal limit is checked with
  slot averages, which is a relaxation of an instantaneous limit.
* Real output exists only after completion; in the program it becomes downlinkable in
  proportion to completed work, which is never later: a relaxation.
* Storage: real output enters the store at completion, which the program does not time.
  Charging partially-done work to the store would *not* be a relaxation (a real schedule may
  work on one job while another job's finished output waits for a pass).  What is certain is
  that a counted job is complete at its deadline, so from the first boundary at or after its
  deadline its undelivered bytes ``output_j - downlinked_j`` are in the store.  The program
  only charges those (the pool ``sigma``) against ``store_bytes``, which is a lower estimate of
  the real occupancy at every boundary, and forbids jobs whose output alone exceeds the store.
* ``x_j`` continuous (LP) relaxes ``x_j`` binary.  With ``integral=True`` the LP is solved first
  and the reported bound is the smaller of the LP optimum and the MILP's dual bound; both bound
  the MILP optimum even when the time limit stops the search before it is proven.

Infeasibility: for power, turning the payload off is always best, so if the array plus the
battery cannot carry the base load (checked slot by slot and by simulating the battery with
the payload off) no schedule exists.  Otherwise an infeasible program means the thermal limit
cannot be met; the status then says where it is exceeded with the payload off.  Either way
it is reported in the result status rather than raised.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

__all__ = ["BoundProblem", "BoundResult", "ThermalModel", "envelope", "upper_bound"]


# --------------------------------------------------------------------------- validation


def _array(name: str, value: Any, *, ndim: int = 1, allow_inf: bool = False, nonneg: bool = False) -> FloatArray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    if not allow_inf and not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    if nonneg and (arr < 0).any():
        raise ValueError(f"{name} must be >= 0")
    arr.setflags(write=False)
    return arr


def _scalar(name: str, value: Any, *, allow_inf: bool = False, lo: float | None = None) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if math.isnan(v) or (not allow_inf and math.isinf(v)):
        raise ValueError(f"{name} must be finite, got {v}")
    if lo is not None and v < lo:
        raise ValueError(f"{name} must be >= {lo}, got {v}")
    return v


@dataclass(frozen=True, kw_only=True, eq=False)
class ThermalModel:
    """Discrete linear payload thermal model, one step per slot.

    ``x[k+1] = A x[k] + B p_k + w[k]``; die temperature in slot ``k`` is ``c.x[k] + r_j p_k``.
    """

    A: FloatArray  # (m, m)
    B: FloatArray  # (m,)
    w: FloatArray  # (n, m) exogenous input per slot (environment, other heat sources)
    c: FloatArray  # (m,)
    x0: FloatArray  # (m,)
    r_j: float  # die-to-node resistance times power, K/W
    die_limit_c: float

    def __post_init__(self) -> None:
        a = _array("thermal.A", self.A, ndim=2)
        if a.shape[0] < 1 or a.shape[0] != a.shape[1]:
            raise ValueError(f"thermal.A must be square (m x m, m >= 1), got shape {a.shape}")
        m = a.shape[0]
        b = _array("thermal.B", self.B)
        c = _array("thermal.c", self.c)
        x0 = _array("thermal.x0", self.x0)
        w = _array("thermal.w", self.w, ndim=2)
        for name, arr in (("thermal.B", b), ("thermal.c", c), ("thermal.x0", x0)):
            if arr.shape != (m,):
                raise ValueError(f"{name} must have shape ({m},) to match thermal.A, got {arr.shape}")
        if w.shape[1] != m:
            raise ValueError(f"thermal.w must have shape (n, {m}), got {w.shape}")
        object.__setattr__(self, "A", a)
        object.__setattr__(self, "B", b)
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "x0", x0)
        object.__setattr__(self, "w", w)
        object.__setattr__(self, "r_j", _scalar("thermal.r_j", self.r_j))
        object.__setattr__(self, "die_limit_c", _scalar("thermal.die_limit_c", self.die_limit_c))

    @property
    def n_states(self) -> int:
        return int(self.A.shape[0])


@dataclass(frozen=True, kw_only=True, eq=False)
class BoundProblem:
    """Everything the offline optimiser knows, in SI units (seconds, watts, joules, bytes)."""

    dt_s: float
    solar_w: FloatArray
    base_load_w: FloatArray
    e_init_j: float
    e_min_j: float
    e_max_j: float
    charge_max_w: float
    discharge_max_w: float
    eta_charge: float
    eta_discharge: float
    mode_power_w: tuple[float, ...]
    mode_throughput: tuple[float, ...]
    downlink_bytes: FloatArray
    work_s: FloatArray
    value: FloatArray
    release_s: FloatArray
    deadline_s: FloatArray
    output_bytes: FloatArray
    store_bytes: float = math.inf
    thermal: ThermalModel | None = None

    def __post_init__(self) -> None:
        dt = _scalar("dt_s", self.dt_s)
        if dt <= 0:
            raise ValueError(f"dt_s must be > 0, got {dt}")
        object.__setattr__(self, "dt_s", dt)
        solar = _array("solar_w", self.solar_w, nonneg=True)
        n = solar.shape[0]
        if n < 1:
            raise ValueError("solar_w must have at least one slot")
        per_slot = {
            "solar_w": solar,
            "base_load_w": _array("base_load_w", self.base_load_w, nonneg=True),
            "downlink_bytes": _array("downlink_bytes", self.downlink_bytes, allow_inf=True, nonneg=True),
        }
        for name, arr in per_slot.items():
            if arr.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},) like solar_w, got {arr.shape}")
            object.__setattr__(self, name, arr)

        for name in ("e_init_j", "e_min_j", "e_max_j"):
            object.__setattr__(self, name, _scalar(name, getattr(self, name), lo=0.0))
        if not self.e_min_j <= self.e_max_j:
            raise ValueError(f"e_min_j ({self.e_min_j}) must be <= e_max_j ({self.e_max_j})")
        if not self.e_min_j <= self.e_init_j <= self.e_max_j:
            raise ValueError(f"e_init_j ({self.e_init_j}) must lie in [e_min_j, e_max_j] = "
                             f"[{self.e_min_j}, {self.e_max_j}]")
        for name in ("charge_max_w", "discharge_max_w"):
            object.__setattr__(self, name, _scalar(name, getattr(self, name), allow_inf=True, lo=0.0))
        for name in ("eta_charge", "eta_discharge"):
            eta = _scalar(name, getattr(self, name))
            if not 0.0 < eta <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {eta}")
            object.__setattr__(self, name, eta)

        powers = _array("mode_power_w", self.mode_power_w, nonneg=True)
        thr = _array("mode_throughput", self.mode_throughput, nonneg=True)
        if powers.size == 0 or powers.shape != thr.shape:
            raise ValueError("mode_power_w and mode_throughput must be non-empty and of equal length, got "
                             f"{powers.size} and {thr.size}")
        object.__setattr__(self, "mode_power_w", tuple(float(v) for v in powers))
        object.__setattr__(self, "mode_throughput", tuple(float(v) for v in thr))

        jobs = {
            "work_s": _array("work_s", self.work_s, nonneg=True),
            "value": _array("value", self.value, nonneg=True),
            "release_s": _array("release_s", self.release_s),
            "deadline_s": _array("deadline_s", self.deadline_s, allow_inf=True),
            "output_bytes": _array("output_bytes", self.output_bytes, nonneg=True),
        }
        n_jobs = jobs["work_s"].shape[0]
        for name, arr in jobs.items():
            if arr.shape != (n_jobs,):
                raise ValueError(f"{name} must have shape ({n_jobs},) like work_s, got {arr.shape}")
            object.__setattr__(self, name, arr)
        if (jobs["deadline_s"] == -np.inf).any():
            raise ValueError("deadline_s must not be -inf")
        bad = np.flatnonzero(jobs["deadline_s"] < jobs["release_s"])
        if bad.size:
            raise ValueError(f"deadline_s < release_s for job index(es) {bad[:10].tolist()}")

        store = _scalar("store_bytes", self.store_bytes, allow_inf=True, lo=0.0)
        object.__setattr__(self, "store_bytes", store)
        if self.thermal is not None:
            if not isinstance(self.thermal, ThermalModel):
                raise ValueError("thermal must be a ThermalModel or None")
            if self.thermal.w.shape[0] != n:
                raise ValueError(f"thermal.w must have {n} rows (one per slot), got {self.thermal.w.shape[0]}")

    @property
    def n_slots(self) -> int:
        return int(self.solar_w.shape[0])

    @property
    def n_jobs(self) -> int:
        return int(self.work_s.shape[0])

    @property
    def horizon_s(self) -> float:
        return self.n_slots * self.dt_s


@dataclass(frozen=True, kw_only=True, eq=False)
class BoundResult:
    """Outcome of :func:`upper_bound`.

    ``value`` is the bound (NaN when the problem is infeasible or the LP was stopped before
    it had one); ``status`` starts with ``"optimal"``, ``"time limit"``, ``"infeasible"`` or
    ``"solver error"``.  The per-slot arrays describe the relaxed solution (NaN when absent).
    """

    value: float
    status: str
    integral: bool
    mip_gap: float
    completion: FloatArray  # (J,)
    payload_power_w: FloatArray  # (n,)
    battery_energy_j: FloatArray  # (n + 1,)
    work_s: FloatArray  # (n,) job work in each slot, accelerator-seconds (each job counted up to its size)
    solve_s: float
    n_variables: int
    n_constraints: int

    @property
    def feasible(self) -> bool:
        return not self.status.startswith("infeasible")


# --------------------------------------------------------------------------- mode envelope


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Send the process's stdout (file descriptor 1) to /dev/null for a while: the solver's C code writes
    there directly, which would spoil a caller's JSON output."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def envelope(mode_power_w: tuple[float, ...] | list[float], mode_throughput: tuple[float, ...] | list[float]
             ) -> list[tuple[float, float]]:
    """Vertices of the upper concave envelope of ``{(0, 0)}`` and the modes, by increasing power.

    Any average (power, throughput) reachable by time-sharing the modes and idling within a
    slot lies on or below the piecewise-linear function through these vertices, which spans
    ``[0, max mode power]``.
    """
    powers = _array("mode_power_w", mode_power_w, nonneg=True)
    thr = _array("mode_throughput", mode_throughput, nonneg=True)
    if powers.size == 0 or powers.shape != thr.shape:
        raise ValueError("mode_power_w and mode_throughput must be non-empty and of equal length")
    best: dict[float, float] = {0.0: 0.0}
    for pw, th in zip(powers.tolist(), thr.tolist(), strict=True):
        best[pw] = max(best.get(pw, 0.0), th)
    hull: list[tuple[float, float]] = []
    for pt in sorted(best.items()):
        while len(hull) >= 2:
            (ox, oy), (ax, ay) = hull[-2], hull[-1]
            # drop the middle point unless it lies strictly above the chord (a clockwise turn)
            if (ax - ox) * (pt[1] - oy) - (ay - oy) * (pt[0] - ox) >= 0.0:
                hull.pop()
            else:
                break
        hull.append(pt)
    return hull


# --------------------------------------------------------------------------- model assembly


def _pairs(first: IntArray, last: IntArray, active: npt.NDArray[np.bool_]) -> tuple[IntArray, IntArray]:
    """(owner, index) for every index in ``first[i]..last[i]`` of every active owner ``i``, owner-major."""
    length = np.where(active, np.maximum(last - first + 1, 0), 0).astype(np.int64)
    owner = np.repeat(np.arange(first.size, dtype=np.int64), length)
    offset = np.cumsum(length) - length
    index = first[owner] + np.arange(owner.size, dtype=np.int64) - offset[owner]
    return owner, index.astype(np.int64)


class _Columns:
    """Variables: numbered in blocks, each with its bounds."""

    def __init__(self) -> None:
        self.lb: list[FloatArray] = []
        self.ub: list[FloatArray] = []
        self.count = 0

    def add(self, size: int, lb: float | FloatArray, ub: float | FloatArray) -> IntArray:
        idx = np.arange(self.count, self.count + size, dtype=np.int64)
        self.lb.append(np.broadcast_to(np.asarray(lb, dtype=np.float64), (size,)).copy())
        self.ub.append(np.broadcast_to(np.asarray(ub, dtype=np.float64), (size,)).copy())
        self.count += size
        return idx

    def bounds(self) -> tuple[FloatArray, FloatArray]:
        return np.concatenate(self.lb), np.concatenate(self.ub)


class _Rows(_Columns):
    """Constraint rows: numbered and bounded like columns, plus their coefficients."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[IntArray] = []
        self.cols: list[IntArray] = []
        self.vals: list[FloatArray] = []

    def coef(self, rows: IntArray, cols: IntArray, vals: float | FloatArray) -> None:
        r, c, v = np.broadcast_arrays(np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64),
                                      np.asarray(vals, dtype=np.float64))
        self.rows.append(r.ravel())
        self.cols.append(c.ravel())
        self.vals.append(v.ravel())


@dataclass
class _Model:
    cost: FloatArray
    col_lb: FloatArray
    col_ub: FloatArray
    rows: IntArray
    cols: IntArray
    vals: FloatArray
    row_lb: FloatArray
    row_ub: FloatArray
    x_cols: IntArray
    p_cols: IntArray
    e_cols: IntArray
    y_cols: IntArray
    y_slot: IntArray
    y_job: IntArray
    work_slots: FloatArray
    value_scale: float


def _build(pb: BoundProblem) -> _Model:
    n, dt = pb.n_slots, pb.dt_s
    horizon = pb.horizon_s
    env = envelope(pb.mode_power_w, pb.mode_throughput)
    p_max = env[-1][0]
    t_max = max(t for _, t in env)
    work, out, value = pb.work_s, pb.output_bytes, pb.value
    release, deadline = pb.release_s, pb.deadline_s
    n_jobs = pb.n_jobs

    # Internal units: energy in W*slot, work in slots at full throughput, bytes / byte_scale.
    pos_out = out[out > 0]
    byte_scale = float(pos_out.max()) if pos_out.size else 1.0
    out_s = out / byte_scale
    dl_s = pb.downlink_bytes / byte_scale
    store_s = pb.store_bytes / byte_scale
    work_slots = work / dt
    value_scale = float(value.max()) if n_jobs and value.max() > 0 else 1.0

    cols = _Columns()
    p = cols.add(n, 0.0, p_max)
    t = cols.add(n, 0.0, t_max)
    s = cols.add(n, 0.0, pb.solar_w)
    ch = cols.add(n, 0.0, pb.charge_max_w)
    dis = cols.add(n, 0.0, pb.discharge_max_w)
    e_lb = np.full(n + 1, pb.e_min_j / dt)
    e_ub = np.full(n + 1, pb.e_max_j / dt)
    e_lb[0] = e_ub[0] = pb.e_init_j / dt
    e = cols.add(n + 1, e_lb, e_ub)
    # Output bytes only constrain anything when downlink or storage is limited.
    track_bytes = not (np.isinf(dl_s).all() and math.isinf(store_s))
    if track_bytes:
        sig_ub = np.full(n + 1, store_s)
        sig_ub[0] = sig_ub[n] = 0.0
        sig = cols.add(n + 1, 0.0, sig_ub)
        q = cols.add(n, 0.0, dl_s)

    # Job windows -> (job, slot) pairs.
    has_work = work > 0
    start = np.maximum(release, 0.0)
    end = np.minimum(deadline, horizon)
    ok = np.where(has_work, end > start, (start <= end) & (start < horizon))
    k0 = np.clip(np.floor(start / dt), 0, n - 1).astype(np.int64)
    k1 = (np.ceil(np.minimum(end, horizon) / dt) - 1).astype(np.int64)
    k1 = np.clip(np.where(has_work, k1, np.maximum(k1, k0)), -1, n - 1)
    ok &= k1 >= k0
    x_ub = np.where(ok & (out <= pb.store_bytes), 1.0, 0.0)
    x = cols.add(n_jobs, 0.0, x_ub)

    # Work variables y[j, k] on the slots overlapping each job's window.
    wjob = ok & has_work
    yj, yk = _pairs(k0, k1, wjob)
    lo = np.maximum(yk * dt, release[yj])
    hi = np.minimum((yk + 1) * dt, deadline[yj])
    frac = np.clip((hi - lo) / dt, 0.0, 1.0)
    y = cols.add(yj.size, 0.0, np.minimum(frac * t_max, work_slots[yj]))

    ojob = ok & (out > 0) & track_bytes
    # Downlink variables z[j, k] on the window slots with downlink capacity, indexed by the ordinal of
    # the downlink slot; a[j, k] (available, not yet downlinked) is only needed at those slots too,
    # since between them the downlinked total is constant while the produced total can only grow.
    is_dl = (dl_s > 0) & track_bytes
    dl_slots = np.flatnonzero(is_dl).astype(np.int64)
    n_before = np.concatenate([[0], np.cumsum(is_dl)]).astype(np.int64)  # downlink slots before slot k
    c0 = n_before[k0]
    zj, zo = _pairs(c0, n_before[k1 + 1] - 1, ojob)
    zk = dl_slots[zo]
    z = cols.add(zj.size, 0.0, np.minimum(dl_s[zk], out_s[zj]))
    a = cols.add(zj.size, 0.0, out_s[zj])
    z_first_of_job = np.full(n_jobs, -1, dtype=np.int64)
    if zj.size:
        starts = np.flatnonzero(np.r_[True, zj[1:] != zj[:-1]])
        z_first_of_job[zj[starts]] = starts

    pooled = ojob & (k1 < n - 1)
    r_job = np.flatnonzero(pooled)
    r = cols.add(r_job.size, 0.0, out_s[r_job])

    temp: IntArray | None = None
    th = pb.thermal
    if th is not None:
        m = th.n_states
        x_lb = np.full((n + 1, m), -np.inf)
        x_ub2 = np.full((n + 1, m), np.inf)
        x_lb[0] = x_ub2[0] = th.x0
        temp = cols.add((n + 1) * m, x_lb.ravel(), x_ub2.ravel()).reshape(n + 1, m)

    rows = _Rows()
    # Power balance: s + d - c - p = base.
    rb = rows.add(n, pb.base_load_w, pb.base_load_w)
    rows.coef(rb, s, 1.0)
    rows.coef(rb, dis, 1.0)
    rows.coef(rb, ch, -1.0)
    rows.coef(rb, p, -1.0)

    # Battery: e[k+1] - e[k] - eta_c c + d / eta_d = 0 (W*slot units).
    re = rows.add(n, 0.0, 0.0)
    rows.coef(re, e[1:], 1.0)
    rows.coef(re, e[:-1], -1.0)
    rows.coef(re, ch, -pb.eta_charge)
    rows.coef(re, dis, 1.0 / pb.eta_discharge)

    # Envelope segments: t - slope p <= intercept.
    for (p0, t0), (p1, t1) in itertools.pairwise(env):
        slope = (t1 - t0) / (p1 - p0)
        rs = rows.add(n, -np.inf, t0 - slope * p0)
        rows.coef(rs, t, 1.0)
        rows.coef(rs, p, -slope)

    # Slot capacity: sum_j y - t <= 0.
    rc = rows.add(n, -np.inf, 0.0)
    rows.coef(rc, t, -1.0)
    rows.coef(rc[yk], y, 1.0)

    # Downlink capacity at downlink slots: sum_j z + q <= downlink (rows without a limit are dropped later).
    if track_bytes:
        rd = rows.add(dl_slots.size, -np.inf, dl_s[dl_slots])
        rows.coef(rd, q[dl_slots], 1.0)
        row_of_slot = np.full(n, -1, dtype=np.int64)
        row_of_slot[dl_slots] = rd
        rows.coef(row_of_slot[zk], z, 1.0)

    # Output availability at job j's downlink slots: a[i] - a[i-1] - rho * (work since the previous
    # downlink slot) + z[i] = 0, where a starts at the output size for jobs without work.
    if zj.size:
        first = z_first_of_job[zj] == np.arange(zj.size)
        rhs = np.where(first & ~has_work[zj], out_s[zj], 0.0)
        ra = rows.add(zj.size, rhs, rhs)
        rows.coef(ra, a, 1.0)
        rows.coef(ra, z, 1.0)
        rows.coef(ra[~first], a[np.flatnonzero(~first) - 1], -1.0)
        # Work in slot k counts from the first downlink slot at or after k (ordinal n_before[k]).
        ordinal = n_before[yk]
        hit = ojob[yj] & (ordinal <= n_before[k1[yj] + 1] - 1)
        row = ra[z_first_of_job[yj[hit]] + ordinal[hit] - c0[yj[hit]]]
        rows.coef(row, y[hit], -out_s[yj[hit]] / work_slots[yj[hit]])

    def job_rows(mask: npt.NDArray[np.bool_], size: FloatArray) -> IntArray | None:
        """One row `... - size x >= 0` per job of mask; the row index by job (-1 elsewhere), None if none."""
        jobs = np.flatnonzero(mask)
        if not jobs.size:
            return None
        rj = rows.add(jobs.size, 0.0, np.inf)
        row_of_job = np.full(n_jobs, -1, dtype=np.int64)
        row_of_job[jobs] = rj
        rows.coef(rj, x[jobs], -size[jobs])
        return row_of_job

    # Per-job work: sum y - work x >= 0.
    row_of_job = job_rows(wjob, work_slots)
    if row_of_job is not None:
        rows.coef(row_of_job[yj], y, 1.0)

    # Per-job delivery: sum z + r - out x >= 0.
    row_of_job = job_rows(ojob, out_s)
    if row_of_job is not None:
        rows.coef(row_of_job[zj], z, 1.0)
        rows.coef(row_of_job[r_job], r, 1.0)

    # Expired-output pool: sigma[k+1] - sigma[k] + q[k] - sum r (expiring at k+1) = 0.
    if track_bytes:
        rp = rows.add(n, 0.0, 0.0)
        rows.coef(rp, sig[1:], 1.0)
        rows.coef(rp, sig[:-1], -1.0)
        rows.coef(rp, q, 1.0)
        rows.coef(rp[k1[r_job]], r, -1.0)

    if th is not None and temp is not None:
        m = th.n_states
        # Dynamics: X[k+1] - A X[k] - B p = w[k].
        rt = rows.add(n * m, th.w.ravel(), th.w.ravel()).reshape(n, m)
        rows.coef(rt, temp[1:], 1.0)
        ii, ll = np.nonzero(th.A)
        rows.coef(rt[:, ii], temp[:-1][:, ll], -th.A[ii, ll][None, :])
        (bi,) = np.nonzero(th.B)
        rows.coef(rt[:, bi], p[:, None], -th.B[bi][None, :])
        # Die temperature: c.X[k] + r_j p[k] <= limit (k < n), c.X[n] <= limit.
        rdie = rows.add(n + 1, -np.inf, th.die_limit_c)
        (ci,) = np.nonzero(th.c)
        rows.coef(rdie[:, None], temp[:, ci], th.c[ci][None, :])
        if th.r_j != 0.0:
            rows.coef(rdie[:n], p, th.r_j)

    cost = np.zeros(cols.count)
    cost[x] = -value / value_scale
    col_lb, col_ub = cols.bounds()
    return _Model(
        cost=cost, col_lb=col_lb, col_ub=col_ub,
        rows=np.concatenate(rows.rows), cols=np.concatenate(rows.cols), vals=np.concatenate(rows.vals),
        row_lb=np.concatenate(rows.lb), row_ub=np.concatenate(rows.ub),
        x_cols=x, p_cols=p, e_cols=e, y_cols=y, y_slot=yk, y_job=yj, work_slots=work_slots, value_scale=value_scale,
    )


# --------------------------------------------------------------------------- feasibility diagnosis


def _power_infeasibility(pb: BoundProblem) -> str | None:
    """Why the base load alone cannot be carried (payload off), or None if it can."""
    n, dt = pb.n_slots, pb.dt_s
    short = pb.base_load_w - pb.solar_w - pb.discharge_max_w
    bad = np.flatnonzero(short > 1e-9 * np.maximum(1.0, pb.base_load_w))
    if bad.size:
        k = int(bad[0])
        return (f"infeasible: base load {pb.base_load_w[k]:.6g} W exceeds solar {pb.solar_w[k]:.6g} W plus "
                f"maximum discharge {pb.discharge_max_w:.6g} W in slot {k} (t = {k * dt:.6g} s)")
    tol = 1e-9 * max(1.0, pb.e_max_j)
    energy = pb.e_init_j
    net = pb.solar_w - pb.base_load_w
    for k in range(n):
        if net[k] >= 0:
            energy = min(pb.e_max_j, energy + dt * pb.eta_charge * min(float(net[k]), pb.charge_max_w))
        else:
            energy -= dt * float(-net[k]) / pb.eta_discharge
        if energy < pb.e_min_j - tol:
            return (f"infeasible: battery energy falls to {energy:.6g} J, below e_min_j = {pb.e_min_j:.6g} J, "
                    f"at t = {(k + 1) * dt:.6g} s even with the payload off")
    return None


def _thermal_infeasibility(pb: BoundProblem) -> str | None:
    th = pb.thermal
    if th is None:
        return None
    state = th.x0.copy()
    tol = 1e-7 * max(1.0, abs(th.die_limit_c))
    for k in range(pb.n_slots + 1):
        die = float(th.c @ state)
        if die > th.die_limit_c + tol:
            return (f"infeasible: die temperature {die:.6g} C exceeds the limit {th.die_limit_c:.6g} C at "
                    f"t = {k * pb.dt_s:.6g} s even with the payload off")
        if k < pb.n_slots:
            state = th.A @ state + th.w[k]
    return None


# --------------------------------------------------------------------------- solve


def _empty_result(pb: BoundProblem, status: str, integral: bool, solve_s: float, n_var: int, n_con: int,
                  ) -> BoundResult:
    n, n_jobs = pb.n_slots, pb.n_jobs
    return BoundResult(
        value=math.nan, status=status, integral=integral, mip_gap=math.nan,
        completion=np.full(n_jobs, math.nan), payload_power_w=np.full(n, math.nan),
        battery_energy_j=np.full(n + 1, math.nan), work_s=np.full(n, math.nan),
        solve_s=solve_s, n_variables=n_var, n_constraints=n_con,
    )


def upper_bound(problem: BoundProblem, *, integral: bool = False, time_limit_s: float = 60.0) -> BoundResult:
    """Upper bound on the value deliverable in ``problem`` (see the module docstring).

    ``integral=False`` solves the LP relaxation.  ``integral=True`` first solves the LP, then makes
    job completion binary and returns the smaller of the LP bound and the MILP's dual bound, which
    is an upper bound even when ``time_limit_s`` (shared by both solves) stops the search;
    ``mip_gap`` is then ``(bound - best schedule found) / best schedule found``.
    Infeasibility is reported in ``status`` with ``value = nan``, not raised.
    """
    if not isinstance(problem, BoundProblem):
        raise ValueError("problem must be a BoundProblem")
    limit = _scalar("time_limit_s", time_limit_s, allow_inf=True)
    if limit <= 0:
        raise ValueError(f"time_limit_s must be > 0, got {limit}")
    limit = min(limit, 1e9)

    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, linprog, milp

    t0 = time.perf_counter()
    reason = _power_infeasibility(problem)
    if reason is not None:
        return _empty_result(problem, reason, integral, time.perf_counter() - t0, 0, 0)

    model = _build(problem)
    keep = np.isfinite(model.row_lb) | np.isfinite(model.row_ub)
    new_row = np.cumsum(keep) - 1
    used = keep[model.rows]
    a_mat = sparse.csr_array(
        (model.vals[used], (new_row[model.rows[used]], model.cols[used])),
        shape=(int(keep.sum()), model.cost.size),
    )
    row_lb, row_ub = model.row_lb[keep], model.row_ub[keep]
    n_var, n_con = int(model.cost.size), int(a_mat.shape[0])

    def result(value: float, status: str, gap: float, sol: FloatArray | None) -> BoundResult:
        solve_s = time.perf_counter() - t0
        value += 0.0  # no negative zero
        if sol is None:
            empty = _empty_result(problem, status, integral, solve_s, n_var, n_con)
            return BoundResult(
                value=value, status=status, integral=integral, mip_gap=gap, completion=empty.completion,
                payload_power_w=empty.payload_power_w, battery_energy_j=empty.battery_energy_j,
                work_s=empty.work_s, solve_s=solve_s, n_variables=n_var, n_constraints=n_con,
            )
        dt = problem.dt_s
        work = np.bincount(model.y_slot, weights=_attributed_work(model, sol), minlength=problem.n_slots) * dt
        return BoundResult(
            value=value, status=status, integral=integral, mip_gap=gap,
            completion=np.clip(sol[model.x_cols], 0.0, 1.0), payload_power_w=sol[model.p_cols],
            battery_energy_j=sol[model.e_cols] * dt, work_s=np.asarray(work, dtype=np.float64),
            solve_s=solve_s, n_variables=n_var, n_constraints=n_con,
        )

    # LP relaxation (also the fallback bound of the MILP).
    eq = row_lb == row_ub
    up = np.isfinite(row_ub) & ~eq
    dn = np.isfinite(row_lb) & ~eq
    lp_args: dict[str, Any] = {
        "A_ub": sparse.vstack([a_mat[np.flatnonzero(up)], -a_mat[np.flatnonzero(dn)]], format="csr"),
        "b_ub": np.concatenate([row_ub[up], -row_lb[dn]]),
        "A_eq": a_mat[np.flatnonzero(eq)],
        "b_eq": row_lb[eq],
        "bounds": np.column_stack([model.col_lb, model.col_ub]),
    }
    # The interior-point method copes far better than simplex with the long thermal and battery
    # chains; dual simplex is the fallback if it reports a numerical failure.
    res = linprog(model.cost, method="highs-ipm", options={"time_limit": limit}, **lp_args)
    remaining = limit - (time.perf_counter() - t0)
    if int(res.status) == 4 and remaining > 0:
        res = linprog(model.cost, method="highs-ds", options={"time_limit": remaining}, **lp_args)
    code = int(res.status)
    if code == 1:
        return result(math.nan, "time limit: the LP relaxation was not solved, no bound available", math.nan, None)
    if code != 0:
        return result(math.nan, _failure_status(problem, code, str(res.message)), math.nan, None)
    lp_sol = np.asarray(res.x, dtype=np.float64)
    lp_value = -float(res.fun) * model.value_scale
    if not integral:
        return result(lp_value, "optimal", 0.0, lp_sol)

    remaining = limit - (time.perf_counter() - t0)
    if remaining <= 0:
        return result(lp_value, "time limit: MILP not started, LP bound reported", math.inf, lp_sol)
    integrality = np.zeros(n_var)
    integrality[model.x_cols] = 1
    with _quiet_stdout():  # HiGHS's MIP solver prints stray lines to the C stdout
        res = milp(model.cost, integrality=integrality, bounds=Bounds(model.col_lb, model.col_ub),
                   constraints=LinearConstraint(a_mat, row_lb, row_ub),
                   options={"time_limit": remaining, "presolve": True, "mip_rel_gap": 1e-7})
    code = int(res.status)
    if code not in (0, 1):
        return result(lp_value, f"solver error in the MILP (status {code}: {res.message}), LP bound reported",
                      math.inf, lp_sol)
    dual = getattr(res, "mip_dual_bound", None)
    bound = lp_value
    if dual is not None and math.isfinite(float(dual)):
        bound = min(bound, -float(dual) * model.value_scale)
    if res.x is None:
        return result(bound, "time limit: no integral schedule found, bound reported", math.inf, lp_sol)
    best = -float(res.fun) * model.value_scale
    bound = max(bound, best)  # the dual bound can undershoot the incumbent by the solver tolerance
    gap = 0.0 if bound - best <= 1e-9 * max(1.0, abs(bound)) else (bound - best) / max(abs(best), 1e-300)
    status = "optimal" if code == 0 else f"time limit: bound reported, relative gap {gap:.3g}"
    return result(bound, status, gap, np.asarray(res.x, dtype=np.float64))


def _attributed_work(model: _Model, sol: FloatArray) -> FloatArray:
    """Per-pair work of the relaxed solution, each job's total cut at its size (earliest slots first).

    The program does not forbid working on a job beyond its size (that is never useful), so a solution
    may show some; it is not reported as job work.
    """
    y = np.maximum(sol[model.y_cols], 0.0)
    if y.size == 0:
        return y
    total = np.cumsum(y)
    starts = np.flatnonzero(np.r_[True, model.y_job[1:] != model.y_job[:-1]])
    before = np.repeat(total[starts] - y[starts], np.diff(np.r_[starts, y.size]))
    done = np.minimum(total - before, model.work_slots[model.y_job])
    first = np.zeros(y.size, dtype=bool)
    first[starts] = True
    return np.asarray(np.where(first, done, np.diff(done, prepend=0.0)), dtype=np.float64)


def _failure_status(pb: BoundProblem, code: int, message: str) -> str:
    if code == 2 or "infeasible" in message.lower():
        why = _thermal_infeasibility(pb)
        return why if why is not None else f"infeasible: no schedule satisfies the constraints ({message})"
    return f"solver error (status {code}): {message}"
