"""Independent reference implementations for the plant oracle tests.

Everything here is written from the physics (textbook formulas, slow and
obvious numpy/Python), not from the C sources, so that a test comparing the
plant with these functions can catch a mistake in either.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from emulator import Emulator
from emulator.scenario import (
    Conductor,
    Load,
    LoadKind,
    Scenario,
    Surface,
    ThermalNode,
)

MU = 398600.4418  # km^3/s^2
R_EARTH = 6378.137  # km
J2 = 1.08263e-3
R_SUN = 695700.0  # km
AU = 149597870.7  # km
SIGMA = 5.670374e-8  # W/m^2/K^4
NS = 1_000_000_000

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------- orbit


def solve_kepler(m: FloatArray, e: float) -> FloatArray:
    """Eccentric anomaly for mean anomalies m (vectorized Newton, then a check)."""
    m = np.mod(m, 2 * np.pi)
    ecc = m + e * np.sin(m)  # a good start for e < 0.9
    for _ in range(60):
        f = ecc - e * np.sin(ecc) - m
        ecc = ecc - f / (1 - e * np.cos(ecc))
    assert np.max(np.abs(ecc - e * np.sin(ecc) - m)) < 1e-13
    return ecc


def rot_z(angle: FloatArray | float) -> FloatArray:
    c, s = np.cos(angle), np.sin(angle)
    z, o = np.zeros_like(c), np.ones_like(c)
    return np.array([[c, -s, z], [s, c, z], [z, z, o]])


def rot_x(angle: float) -> FloatArray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


@dataclass(frozen=True)
class J2Rates:
    raan_dot: float  # rad/s
    argp_dot: float
    mean_motion: float  # rad/s, anomalistic (with the J2 secular term)


def j2_rates(a_km: float, e: float, i_rad: float, j2: bool = True) -> J2Rates:
    """First-order secular J2 rates of the mean elements (Vallado eq. 9-41, n0 = sqrt(mu/a^3))."""
    n0 = math.sqrt(MU / a_km**3)
    if not j2:
        return J2Rates(0.0, 0.0, n0)
    p = a_km * (1 - e * e)
    k = J2 * (R_EARTH / p) ** 2
    raan_dot = -1.5 * n0 * k * math.cos(i_rad)
    argp_dot = 0.75 * n0 * k * (4 - 5 * math.sin(i_rad) ** 2)
    m_dot = n0 * (1 + 0.75 * k * math.sqrt(1 - e * e) * (2 - 3 * math.sin(i_rad) ** 2))
    return J2Rates(raan_dot, argp_dot, m_dot)


def kepler_j2(t_s: FloatArray, a_km: float, e: float, i_deg: float, raan_deg: float, argp_deg: float,
              m0_deg: float, j2: bool) -> tuple[FloatArray, FloatArray]:
    """Positions (km) and two-body velocities (km/s) in ECI of mean elements with secular J2 drift.

    Position: perifocal (r cos nu, r sin nu, 0) rotated by R3(raan) R1(i) R3(argp).
    Velocity: the osculating two-body velocity of the ellipse at that instant,
    sqrt(mu/p) (-sin nu, e + cos nu, 0) through the same rotation.
    """
    i = math.radians(i_deg)
    rates = j2_rates(a_km, e, i, j2)
    raan = math.radians(raan_deg) + rates.raan_dot * t_s
    argp = math.radians(argp_deg) + rates.argp_dot * t_s
    m = math.radians(m0_deg) + rates.mean_motion * t_s
    ecc = solve_kepler(m, e)
    nu = 2 * np.arctan2(math.sqrt(1 + e) * np.sin(ecc / 2), math.sqrt(1 - e) * np.cos(ecc / 2))
    p = a_km * (1 - e * e)
    rad = p / (1 + e * np.cos(nu))
    r_pf = np.stack([rad * np.cos(nu), rad * np.sin(nu), np.zeros_like(nu)])
    vk = math.sqrt(MU / p)
    v_pf = np.stack([-vk * np.sin(nu), vk * (e + np.cos(nu)), np.zeros_like(nu)])
    rw, rr = rot_z(argp), rot_z(raan)  # (3, 3, n)
    ri = rot_x(i)
    rot = np.einsum("abn,bc,cdn->nad", rr, ri, rw)
    return np.einsum("nab,bn->na", rot, r_pf), np.einsum("nab,bn->na", rot, v_pf)


# --------------------------------------------------------------------------- shadow


def shadow_montenbruck_gill(r: Sequence[float], sun_unit: Sequence[float], sun_dist_km: float) -> float:
    """Fraction of the solar disc visible from r: Montenbruck & Gill (2000) sec. 3.4.2, no shortcuts."""
    r_sun = [sun_unit[k] * sun_dist_km for k in range(3)]
    d = [r_sun[k] - r[k] for k in range(3)]  # satellite to Sun
    rn = math.sqrt(sum(x * x for x in r))
    dn = math.sqrt(sum(x * x for x in d))
    a = math.asin(R_SUN / dn)
    b = math.asin(R_EARTH / rn)
    cos_c = -sum(r[k] * d[k] for k in range(3)) / (rn * dn)
    c = math.acos(max(-1.0, min(1.0, cos_c)))
    if c >= a + b:
        return 1.0
    if c <= b - a:
        return 0.0
    if c < a - b:
        return 1.0 - (b * b) / (a * a)
    x = (c * c + a * a - b * b) / (2 * c)
    y = math.sqrt(max(a * a - x * x, 0.0))
    area = a * a * math.acos(max(-1.0, min(1.0, x / a))) + b * b * math.acos(
        max(-1.0, min(1.0, (c - x) / b))) - c * y
    return 1.0 - area / (math.pi * a * a)


# --------------------------------------------------------------------------- battery


def ocv_pack(sc: Scenario, soc: FloatArray | float) -> FloatArray:
    b = sc.battery
    xs = np.array([x for x, _ in b.ocv])
    ys = np.array([v for _, v in b.ocv])
    return b.cells_series * np.interp(soc, xs, ys)


def r0_pack(sc: Scenario, temp_c: float) -> float:
    b = sc.battery
    xs = np.array([x for x, _ in b.r0_ohm])
    ys = np.array([v for _, v in b.r0_ohm])
    return float(b.cells_series / b.cells_parallel * np.interp(temp_c, xs, ys))


def ocv_energy_j(sc: Scenario, soc0: float, soc1: float, capacity_ah: float) -> float:
    """Integral of the pack OCV over charge from soc0 to soc1 (J): exact on the piecewise-linear table."""
    b = sc.battery
    xs = np.array([x for x, _ in b.ocv])
    lo, hi = min(soc0, soc1), max(soc0, soc1)
    grid = np.unique(np.concatenate([[lo, hi], xs[(xs > lo) & (xs < hi)]]))
    v = ocv_pack(sc, grid)
    integral = float(np.sum(0.5 * (v[1:] + v[:-1]) * np.diff(grid)))  # trapezoid is exact per linear piece
    sign = 1.0 if soc1 >= soc0 else -1.0
    return sign * integral * capacity_ah * 3600.0


@dataclass
class BatteryStep:
    soc: float
    current_a: float  # > 0 discharging
    voltage_v: float


def battery_bus_step(sc: Scenario, soc: float, capacity_ah: float, array_w: float, load_w: float,
                     temp_c: float, dt: float) -> BatteryStep:
    """One step of a battery-regulated (direct energy transfer) bus.

    Deficit: the battery supplies P = load - array at constant power,
    I = (OCV - sqrt(OCV^2 - 4 R0 P)) / (2 R0). Surplus: the battery takes
    P = array - load as far as its charge current limit and the end-of-charge
    voltage (the top of the OCV table) allow. Charge is stored with the
    coulombic efficiency.
    """
    b = sc.battery
    ocv = float(ocv_pack(sc, soc))
    r0 = r0_pack(sc, temp_c)
    net = load_w - array_w
    if net > 0:
        disc = ocv * ocv - 4 * r0 * net
        assert disc > 0, "the reference does not model brown-out"
        i = (ocv - math.sqrt(disc)) / (2 * r0)
        assert i <= b.max_discharge_a * b.cells_parallel
        stored = -i * dt
    else:
        i_c = 0.0
        if soc < 1.0:
            i_c = (-ocv + math.sqrt(ocv * ocv + 4 * r0 * -net)) / (2 * r0)
            i_c = min(i_c, b.max_charge_a * b.cells_parallel)
            v_max = b.cells_series * b.ocv[-1][1]
            i_c = min(i_c, max((v_max - ocv) / r0, 0.0))
        i = -i_c
        stored = i_c * dt * b.coulombic_efficiency
    new_soc = min(max(soc + stored / (capacity_ah * 3600.0), 0.0), 1.0)
    return BatteryStep(new_soc, i, ocv - i * r0)


# --------------------------------------------------------------------------- thermal


def newton(f: Callable[[FloatArray], FloatArray], x0: Sequence[float], tol: float = 1e-12) -> FloatArray:
    """Newton's method with a finite-difference Jacobian (f: R^n -> R^n)."""
    x = np.array(x0, dtype=float)
    for _ in range(100):
        fx = np.asarray(f(x))
        jac = np.empty((len(x), len(x)))
        for k in range(len(x)):
            h = 1e-6 * max(1.0, abs(x[k]))
            xp = x.copy()
            xp[k] += h
            jac[:, k] = (np.asarray(f(xp)) - fx) / h
        step = np.linalg.solve(jac, -fx)
        x = x + step
        if np.max(np.abs(step)) < tol:
            return x
    raise AssertionError("Newton did not converge")


# --------------------------------------------------------------------------- scenarios


def thermal_only(sc: Scenario, nodes: Sequence[ThermalNode], surfaces: Sequence[Surface] = (),
                 conductors: Sequence[Conductor] = (), heaters: Sequence[tuple[int, float]] = (),
                 no_environment: bool = True) -> Scenario:
    """gpu-node reduced to a thermal network: the given nodes, surfaces and
    conductors, hard-wired heater loads (node, W) and nothing else that heats
    a node (no panels, payload, battery losses, or Earth IR and albedo)."""
    loads = tuple(
        Load(name=f"heater{k}", kind=LoadKind.HEATER, power_w=w, tx_power_w=0.0, node=node, gpio=-1, pin=-1,
             initially_on=True)
        for k, (node, w) in enumerate(heaters)
    )
    env = sc.environment
    if no_environment:
        env = replace(env, albedo=0.0, earth_ir_w_m2=0.0)
    return replace(
        sc, nodes=tuple(nodes), surfaces=tuple(surfaces), conductors=tuple(conductors), radiation_links=(),
        panels=tuple(replace(p, node=-1) for p in sc.panels), battery=replace(sc.battery, node=-1),
        loads=loads, payload=None, devices=(), environment=env,
    )


def run_log(emu: Emulator, names: list[str], seconds: float, interval_s: float) -> dict[str, FloatArray]:
    emu.start_log(names, round(interval_s * NS))
    emu.advance(round(seconds * NS))
    return emu.log_data()
