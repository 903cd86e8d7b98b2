"""Orbit propagation against a numpy Kepler + secular-J2 propagator, closed-form
drift rates, conservation laws, and the sgp4 package for TLE orbits."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
from oracles import J2, MU, NS, R_EARTH, FloatArray, kepler_j2, run_log
from sgp4.api import Satrec

from emulator import Emulator, load
from emulator.scenario import Orbit, OrbitKind, Scenario, sun_synchronous_inclination_deg

POS = ["r_eci_km[0]", "r_eci_km[1]", "r_eci_km[2]"]
VEL = ["v_eci_km_s[0]", "v_eci_km_s[1]", "v_eci_km_s[2]"]


def kepler_scenario(a: float, e: float, i: float, raan: float, argp: float, m0: float, j2: bool) -> Scenario:
    sc = load("gpu-node")
    orbit = Orbit(kind=OrbitKind.KEPLER, semi_major_axis_km=a, eccentricity=e, inclination_deg=i, raan_deg=raan,
                  arg_perigee_deg=argp, mean_anomaly_deg=m0, j2=j2)
    return replace(sc, orbit=orbit)


def state_log(sc: Scenario, seconds: float, interval_s: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    d = run_log(Emulator(sc), POS + VEL, seconds, interval_s)
    r = np.stack([d[n] for n in POS], axis=1)
    v = np.stack([d[n] for n in VEL], axis=1)
    return d["t_s"], r, v


ORBITS = [
    # a_km, e, i_deg, raan_deg, argp_deg, m0_deg, j2
    (R_EARTH + 550.0, 0.0, 53.0, 0.0, 0.0, 0.0, True),
    (R_EARTH + 420.0, 0.0, 51.6, 211.0, 0.0, 85.0, True),
    (8000.0, 0.1, 28.5, 40.0, 45.0, 30.0, True),
    (R_EARTH + 700.0, 0.02, 98.2, 300.0, 270.0, 190.0, True),
    (12000.0, 0.3, 63.4, 120.0, 250.0, 359.0, True),
    (7200.0, 0.05, 0.0, 0.0, 10.0, 200.0, True),
    (7500.0, 0.01, 140.0, 75.0, 120.0, 5.0, True),
    (9000.0, 0.2, 45.0, 10.0, 80.0, 160.0, False),
    (R_EARTH + 800.0, 0.0, 70.0, 33.0, 45.0, 10.0, True),  # circular with a drifting argument of perigee
    (R_EARTH + 800.0, 0.0, 98.6, 250.0, 300.0, 355.0, False),
    (42164.0, 0.0, 0.05, 75.0, 0.0, 0.0, True),
]


@pytest.mark.parametrize("a,e,i,raan,argp,m0,j2", ORBITS)
def test_positions_and_velocities_match_kepler_j2_over_a_day(a: float, e: float, i: float, raan: float,
                                                             argp: float, m0: float, j2: bool) -> None:
    # 37 s rows fall between the plant's 60 s refreshes of the slow angles
    t, r, v = state_log(kepler_scenario(a, e, i, raan, argp, m0, j2), 86400.0, 37.0)
    assert t[-1] > 86000.0
    r_ref, v_ref = kepler_j2(t, a, e, i, raan, argp, m0, j2)
    pos_err_m = np.linalg.norm(r - r_ref, axis=1) * 1000.0
    vel_err_mm_s = np.linalg.norm(v - v_ref, axis=1) * 1e6
    assert pos_err_m.max() < 1.0, f"max position error {pos_err_m.max():.3f} m"
    assert vel_err_mm_s.max() < 1.0, f"max velocity error {vel_err_mm_s.max():.3f} mm/s"


def test_initial_state_is_the_elements_at_epoch() -> None:
    a, e, i, raan, argp, m0 = 8000.0, 0.1, 28.5, 40.0, 45.0, 30.0
    emu = Emulator(kepler_scenario(a, e, i, raan, argp, m0, True))
    r_ref, v_ref = kepler_j2(np.array([0.0]), a, e, i, raan, argp, m0, True)
    assert np.linalg.norm(emu.state["r_eci_km"] - r_ref[0]) < 1e-9
    assert np.linalg.norm(emu.state["v_eci_km_s"] - v_ref[0]) < 1e-12


def measured_nodes(t: FloatArray, r: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Times and right ascensions of the ascending node crossings, from positions alone.

    The chord between two samples lies in the orbit plane, so its point at
    z = 0 lies on the line of nodes whatever the sample spacing.
    """
    z = r[:, 2]
    k = np.flatnonzero((z[:-1] < 0) & (z[1:] >= 0))
    f = -z[k] / (z[k + 1] - z[k])
    node = r[k] + f[:, None] * (r[k + 1] - r[k])
    return t[k] + f * (t[k + 1] - t[k]), np.unwrap(np.arctan2(node[:, 1], node[:, 0]))


@pytest.mark.parametrize("a,e,i", [(R_EARTH + 550.0, 0.0, 53.0), (8000.0, 0.1, 28.5), (7500.0, 0.01, 140.0),
                                   (R_EARTH + 700.0, 0.02, 98.2)])
def test_raan_drift_measured_from_positions(a: float, e: float, i: float) -> None:
    t, r, _ = state_log(kepler_scenario(a, e, i, 30.0, 0.0, 0.0, True), 86400.0, 30.0)
    tn, raan = measured_nodes(t, r)
    assert len(tn) >= 12
    slope = np.polyfit(tn, raan, 1)[0]
    n = math.sqrt(MU / a**3)
    p = a * (1 - e * e)
    expected = -1.5 * n * J2 * (R_EARTH / p) ** 2 * math.cos(math.radians(i))
    assert slope == pytest.approx(expected, rel=1e-4)


def test_raan_does_not_drift_with_j2_off() -> None:
    t, r, _ = state_log(kepler_scenario(R_EARTH + 550.0, 0.0, 53.0, 30.0, 0.0, 0.0, False), 86400.0, 60.0)
    _, raan = measured_nodes(t, r)
    assert len(raan) >= 14
    assert raan[0] == pytest.approx(math.radians(30.0), abs=1e-12)
    assert np.ptp(raan) < 1e-12


def test_sun_synchronous_inclination_drifts_with_the_mean_sun() -> None:
    a = R_EARTH + 550.0
    inc = sun_synchronous_inclination_deg(a)
    assert inc == pytest.approx(97.6, abs=0.05)  # REFERENCE.md
    t, r, _ = state_log(kepler_scenario(a, 0.0, inc, 100.0, 0.0, 0.0, True), 2 * 86400.0, 60.0)
    tn, raan = measured_nodes(t, r)
    slope_deg_day = math.degrees(np.polyfit(tn, raan, 1)[0]) * 86400.0
    assert slope_deg_day == pytest.approx(0.9856, abs=5e-4)


def node_crossings(t: FloatArray, z: FloatArray) -> FloatArray:
    """Times z goes from negative to positive (ascending node), linear interpolation."""
    k = np.flatnonzero((z[:-1] < 0) & (z[1:] >= 0))
    return t[k] - z[k] * (t[k + 1] - t[k]) / (z[k + 1] - z[k])


@pytest.mark.parametrize("alt_km,e,i", [(550.0, 0.0, 53.0), (1200.0, 0.0, 97.0), (3000.0, 0.15, 30.0)])
def test_period_with_j2_off(alt_km: float, e: float, i: float) -> None:
    a = R_EARTH + alt_km
    t, r, _ = state_log(kepler_scenario(a, e, i, 0.0, 20.0, 100.0, False), 4 * 3.0 * 3600.0, 1.0)
    crossings = node_crossings(t, r[:, 2])
    assert len(crossings) >= 3
    period = 2 * math.pi * math.sqrt(a**3 / MU)
    assert np.abs(np.diff(crossings) - period).max() < 1e-3
    # and the whole state repeats after exactly one period
    emu = Emulator(kepler_scenario(a, e, i, 0.0, 20.0, 100.0, False))
    r0, v0 = emu.state["r_eci_km"].copy(), emu.state["v_eci_km_s"].copy()
    emu.advance(round(period / 2 * NS))
    assert np.linalg.norm(emu.state["r_eci_km"] - r0) > 1000.0
    emu.advance(round(period * NS) - round(period / 2 * NS))
    assert np.linalg.norm(emu.state["r_eci_km"] - r0) < 1e-3
    assert np.linalg.norm(emu.state["v_eci_km_s"] - v0) < 1e-6


@pytest.mark.parametrize("a,e,i", [(9000.0, 0.2, 45.0), (R_EARTH + 550.0, 0.0, 53.0), (20000.0, 0.6, 63.0)])
def test_energy_and_angular_momentum_conserved_with_j2_off(a: float, e: float, i: float) -> None:
    _, r, v = state_log(kepler_scenario(a, e, i, 15.0, 30.0, 0.0, False), 86400.0, 13.0)
    rn = np.linalg.norm(r, axis=1)
    energy = 0.5 * np.sum(v * v, axis=1) - MU / rn
    h = np.cross(r, v)
    assert np.abs(energy / (-MU / (2 * a)) - 1).max() < 1e-10
    h_expected = math.sqrt(MU * a * (1 - e * e))
    assert np.abs(np.linalg.norm(h, axis=1) / h_expected - 1).max() < 1e-10
    assert np.abs(h / np.linalg.norm(h, axis=1)[:, None] - h[0] / np.linalg.norm(h[0])).max() < 1e-12


def test_velocity_is_the_derivative_of_position_with_j2_off() -> None:
    t, r, v = state_log(kepler_scenario(9000.0, 0.2, 45.0, 15.0, 30.0, 0.0, False), 3 * 3600.0, 1.0)
    assert np.allclose(np.diff(t), 1.0, rtol=0, atol=1e-9)
    # five-point stencil: truncation error h^4 |r^(5)| / 30, about 1e-11 km/s here
    deriv = (-r[4:] + 8 * r[3:-1] - 8 * r[1:-3] + r[:-4]) / 12.0
    assert np.abs(deriv - v[2:-2]).max() < 1e-8


# --------------------------------------------------------------------------- TLE (SGP4 table)

ISS_TLE = (
    "1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991",
    "2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482",
)


def tle_checksum_ok(line: str) -> bool:
    total = sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68])
    return total % 10 == int(line[68])


def test_tle_positions_match_sgp4_directly() -> None:
    assert all(tle_checksum_ok(x) for x in ISS_TLE)
    epoch = datetime(2019, 12, 9, 12, 0, 0, tzinfo=UTC)
    sc = replace(load("gpu-node"), epoch=epoch, orbit=Orbit(kind=OrbitKind.TABLE, tle=ISS_TLE))
    emu = Emulator(sc)
    # rows every 7 s, off the 30 s table nodes; two advances so the table is extended once
    emu.start_log(POS + VEL, 7 * NS)
    emu.advance(5 * 3600 * NS)
    emu.advance(4 * 3600 * NS)
    d = emu.log_data()
    t = d["t_s"]
    assert t[-1] > 8.9 * 3600
    r = np.stack([d[n] for n in POS], axis=1)
    v = np.stack([d[n] for n in VEL], axis=1)
    sat = Satrec.twoline2rv(*ISS_TLE)
    jd0 = sc.epoch_jd_utc
    ref_r, ref_v = [], []
    for ts in t:
        err, rr, vv = sat.sgp4(jd0, ts / 86400.0)
        assert err == 0
        ref_r.append(rr)
        ref_v.append(vv)
    pos_err_m = np.linalg.norm(r - np.array(ref_r), axis=1) * 1000.0
    vel_err_mm_s = np.linalg.norm(v - np.array(ref_v), axis=1) * 1e6
    assert pos_err_m.max() < 10.0, f"max position error {pos_err_m.max():.3f} m"
    assert vel_err_mm_s.max() < 50.0, f"max velocity error {vel_err_mm_s.max():.3f} mm/s"
    # sanity: an ISS-like orbit
    alt = np.linalg.norm(r, axis=1) - R_EARTH
    assert alt.min() > 380.0 and alt.max() < 440.0


@pytest.mark.parametrize("e", [0.0, 0.05])
def test_positions_do_not_depend_on_the_substep(e: float) -> None:
    sc = kepler_scenario(R_EARTH + 600.0, e, 65.0, 10.0, 30.0, 0.0, True)
    runs = [state_log(replace(sc, substep_s=step), 86400.0, 420.0) for step in (1.0, 7.0, 60.0)]
    for t, r, _ in runs[1:]:
        assert np.array_equal(t, runs[0][0])
        assert np.linalg.norm(r - runs[0][1], axis=1).max() < 1e-6  # km
