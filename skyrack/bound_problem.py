"""The offline upper bound's problem (skyrack.upper_bound.BoundProblem) for a scenario and horizon.

What the bound is told, and why each simplification can only raise it:

- Array power per slot: the plant run alone (no flight software) logs the power the array could
  deliver (`array_available_w`, every 10 s, averaged per slot). The spacecraft points at the Sun
  whatever the payload does, so this is the same in every policy's run.
- Other loads: the fixed loads and the radio at its receive power. Heaters and the transmitter's
  extra draw are left out (less load, more energy for the payload).
- Battery: its energy at the mean of the open-circuit curve; the floor is the depth-of-discharge
  limit (1 - dod_max, the flight parameter); charge and discharge limits from the cell currents at
  the highest cell voltage; stored energy counted at the coulombic efficiency, delivered at 100 %.
- Payload: the scenario's modes (the program uses their upper concave hull, time-sharing).
- Thermal: the whole thermal network as a linear model of its deviation from the free trajectory
  (the plant run with the payload off): conductances as they are, each surface's radiation to space and
  each radiation link as a conductance 4 e sigma A T^3 at its node's hottest free temperature, times one
  scale. The scale is calibrated on a second plant run with the payload at its highest mode throughout
  (a battery large enough that it never browns out): the smallest whose prediction of the payload node
  stays at or below the plant's at every slot. The model then never runs hotter than the plant on that
  run, so the die limit binds no earlier in the bound than in the plant. The die limit is the flight
  software's own (`payload_die_limit_c`, below the part's throttle point), as the battery floor is its
  dod_max: the bound is of what can be done within the limits the spacecraft is operated to.
- Downlink: the contact's bit rate over each slot, all of it available for results (housekeeping,
  frame headers and idle fill are left out).
- Jobs: the scenario's workload, released within the horizon; output counts when downlinked by
  the end of the horizon.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from emulator import Emulator
from emulator.scenario import Chip, LoadKind, Scenario
from emulator.workload import generate
from flight.drivers.payload_ctrl import MAX_WORK_UNITS, PayloadCtrl
from flight.params import DEFAULTS
from skyrack.upper_bound import BoundProblem, ThermalModel

NS = 1_000_000_000
LOG_S = 10
SIGMA = 5.670374419e-8

F64 = npt.NDArray[np.float64]


def _plant_log(sc: Scenario, duration_s: float, names: list[str], payload_mode: int = 0) -> dict[str, F64]:
    """The plant alone over the horizon, sampled every LOG_S s; payload_mode > 0 runs one endless job."""
    emu = Emulator(sc)
    emu.start_log(names, LOG_S * NS)
    if payload_mode > 0:
        dev = next(d for d in sc.devices if d.chip == Chip.PAYLOAD_CTRL)
        ctrl = PayloadCtrl(emu.buses[dev.bus], dev.address)
        ctrl.set_mode(payload_mode)
        ctrl.start_job(1, MAX_WORK_UNITS)
    emu.advance(round(duration_s * NS))
    return emu.log_data()


def _slots(x: F64, per_slot: int, n: int) -> F64:
    """Mean over each slot of LOG_S samples (the log's first sample is at LOG_S)."""
    x = np.asarray(x, dtype=np.float64)
    need = n * per_slot
    if x.size < need:
        x = np.concatenate([x, np.full(need - x.size, x[-1] if x.size else 0.0)])
    out: F64 = x[:need].reshape(n, per_slot).mean(axis=1)
    return out


def flight_parameter(sc: Scenario, name: str) -> float:
    """A flight parameter as the scenario sets it, else its default."""
    given = dict(sc.flight_parameters)
    return float(given.get(name, next(d.default for d in DEFAULTS if d.name == name)))


def dod_max(sc: Scenario) -> float:
    return flight_parameter(sc, "dod_max")


def thermal_model(sc: Scenario, free: dict[str, F64], dt_s: float, n: int,
                  hot: dict[str, F64] | None = None) -> ThermalModel | None:
    """The thermal network as a linear model about its free trajectory (see the module docstring),
    calibrated on `hot` (the plant with the payload at its highest mode; None: no calibration); None
    without a payload."""
    if sc.payload is None:
        return None
    nodes = sc.nodes
    m = len(nodes)
    p = sc.payload.node
    per_slot = round(dt_s / LOG_S)
    # the free trajectory at the slot boundaries (the first boundary is the initial state), degC
    free_k = np.column_stack([np.concatenate([[nd.initial_c + 273.15], free[f"node_temp_k[{nd.name}]"]])
                              for nd in nodes])
    idx = np.minimum(np.arange(n + 1) * per_slot, free_k.shape[0] - 1)
    xb = free_k[idx] - 273.15
    t_hot = free_k.max(axis=0)  # each node's hottest free temperature, K
    cond = np.zeros((m, m))
    for c in sc.conductors:
        cond[c.a, c.b] += c.conductance_w_per_k
        cond[c.b, c.a] += c.conductance_w_per_k
    rad = np.zeros((m, m))  # node-to-node radiation, linearized at the hotter end's hottest free temperature
    for rl in sc.radiation_links:
        g = 4 * SIGMA * rl.area_m2 * max(t_hot[rl.a], t_hot[rl.b]) ** 3
        rad[rl.a, rl.b] += g
        rad[rl.b, rl.a] += g
    to_space = np.zeros(m)  # surfaces radiating to space, linearized likewise
    for srf in sc.surfaces:
        to_space[srf.node] += 4 * srf.emissivity * SIGMA * srf.area_m2 * t_hot[srf.node] ** 3
    cap = np.array([nd.capacitance_j_per_k for nd in nodes])
    unit = np.zeros(m)
    unit[p] = 1.0

    def model(scale: float) -> tuple[F64, F64, F64]:
        from scipy.linalg import expm

        g = cond + scale * rad
        lap = np.diag(g.sum(axis=1) + scale * to_space) - g
        mat = -lap / cap[:, None]
        a = expm(mat * dt_s)
        b = np.linalg.solve(mat, (a - np.eye(m)) @ (unit / cap))
        w = xb[1:] - xb[:-1] @ a.T  # makes x follow the free trajectory when the payload is off
        return a, b, w

    scale = 1.0
    if hot is not None:
        power = _slots(hot["payload_power_w"], per_slot, n)
        actual = np.asarray(hot[f"node_temp_k[{nodes[p].name}]"])[per_slot - 1::per_slot][:n] - 273.15

        def too_hot(s: float) -> bool:
            a, b, w = model(s)
            x, worst = xb[0].copy(), -np.inf
            for k in range(min(n, actual.size)):
                x = a @ x + b * power[k] + w[k]
                worst = max(worst, x[p] - actual[k])
            return bool(worst > 0.0)

        lo, hi = 0.0, 1.0
        while too_hot(hi) and hi < 1e3:
            hi *= 2
        for _ in range(25):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if too_hot(mid) else (lo, mid)
        scale = hi
    a, b, w = model(scale)
    limit = min(flight_parameter(sc, "payload_die_limit_c"), sc.payload.throttle_c)
    return ThermalModel(A=a, B=b, w=w, c=unit, x0=xb[0], r_j=sc.payload.junction_k_per_w, die_limit_c=limit)


def bound_problem(sc: Scenario, duration_s: float, dt_s: float = 60.0) -> BoundProblem:
    """The bound's view of a scenario over [0, duration_s)."""
    if sc.payload is None:
        raise ValueError(f"{sc.name}: no payload")
    if dt_s % LOG_S:
        raise ValueError(f"dt_s must be a multiple of {LOG_S} s")
    n = math.ceil(duration_s / dt_s)
    per_slot = round(dt_s / LOG_S)
    names = ["array_available_w", "downlink_bps", *(f"node_temp_k[{nd.name}]" for nd in sc.nodes)]
    free = _plant_log(sc, n * dt_s, names)
    big = replace(sc, battery=replace(sc.battery, cells_parallel=sc.battery.cells_parallel * 50, initial_soc=1.0))
    hot = _plant_log(big, n * dt_s, ["payload_power_w", *names[2:]], payload_mode=len(sc.payload.modes))
    solar = _slots(free["array_available_w"], per_slot, n)
    downlink = _slots(free["downlink_bps"], per_slot, n) * dt_s / 8
    base = sum(ld.power_w for ld in sc.loads if ld.kind in (LoadKind.FIXED, LoadKind.RADIO))
    b = sc.battery
    cap_ah = b.cell_capacity_ah * b.cells_parallel * (1 - b.capacity_fade)
    socs = np.linspace(0.0, 1.0, 101)
    v_mean = b.cells_series * float(np.mean(np.interp(socs, [s for s, _ in b.ocv], [v for _, v in b.ocv])))
    v_max = b.cells_series * max(v for _, v in b.ocv)
    e_max = cap_ah * v_mean * 3600.0
    floor = (1 - dod_max(sc)) * e_max
    e_init = min(max(b.initial_soc * e_max, floor), e_max)
    jobs = generate(sc.workload) if sc.workload is not None else ()
    jobs = tuple(j for j in jobs if j.release_s < n * dt_s)
    modes = sc.payload.modes
    return BoundProblem(
        dt_s=dt_s, solar_w=solar, base_load_w=np.full(n, base), e_init_j=e_init, e_min_j=floor, e_max_j=e_max,
        charge_max_w=b.max_charge_a * b.cells_parallel * v_max, discharge_max_w=b.max_discharge_a * b.cells_parallel
        * v_max, eta_charge=b.coulombic_efficiency, eta_discharge=1.0,
        mode_power_w=tuple(m.power_w for m in modes), mode_throughput=tuple(m.throughput for m in modes),
        downlink_bytes=downlink,
        work_s=np.array([j.work_s for j in jobs]), value=np.array([j.value for j in jobs]),
        release_s=np.array([j.release_s for j in jobs]),
        deadline_s=np.array([math.inf if j.deadline_s is None else j.deadline_s for j in jobs]),
        output_bytes=np.array([float(j.output_bytes) for j in jobs]),
        thermal=thermal_model(sc, free, dt_s, n, hot))

