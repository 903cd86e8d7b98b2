"""Sun ephemeris, sidereal time and the Earth's shadow against closed-form
facts, an almanac formula and a slow Montenbruck & Gill shadow function."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import AU, MU, R_EARTH, R_SUN, run_log, shadow_montenbruck_gill

from emulator import Emulator, load, native
from emulator.scenario import julian_date

EPS_J2000_DEG = 23.43929111


def jd(*args: int) -> float:
    return julian_date(datetime(*args, tzinfo=UTC))  # type: ignore[misc]


def declination_deg(when_jd: float) -> float:
    s, _ = native.sun_eci(when_jd)
    return math.degrees(math.asin(s[2]))


# --------------------------------------------------------------------------- Sun


@pytest.mark.parametrize("when", [(2000, 6, 21, 1, 48), (2026, 6, 21, 8, 24), (2030, 6, 21, 7, 31)])
def test_declination_at_june_solstice(when: tuple[int, ...]) -> None:
    assert declination_deg(jd(*when)) == pytest.approx(23.44, abs=0.1)


@pytest.mark.parametrize("when", [(2000, 12, 21, 13, 37), (2026, 12, 21, 20, 50)])
def test_declination_at_december_solstice(when: tuple[int, ...]) -> None:
    assert declination_deg(jd(*when)) == pytest.approx(-23.44, abs=0.1)


@pytest.mark.parametrize("when", [(2000, 3, 20, 7, 35), (2000, 9, 22, 17, 28)])
def test_declination_zero_at_equinoxes_of_2000(when: tuple[int, ...]) -> None:
    assert abs(declination_deg(jd(*when))) < 0.05


@pytest.mark.parametrize("when", [(2026, 3, 20, 14, 46), (2026, 9, 23, 0, 5)])
def test_declination_near_zero_at_equinoxes_of_2026(when: tuple[int, ...]) -> None:
    # the plant's frame is the mean equator of J2000: 26 years of precession
    # (0.36 deg in longitude) shift the declination at the true equinox by ~0.15 deg
    assert abs(declination_deg(jd(*when))) < 0.2


@pytest.mark.parametrize("when,dist_km", [
    ((2026, 1, 3, 17, 15), 147.10e6),   # perihelion
    ((2026, 7, 6, 17, 31), 152.09e6),   # aphelion
    ((2000, 1, 3, 5, 18), 147.10e6),
    ((2000, 7, 4, 0, 0), 152.10e6),
])
def test_distance_at_perihelion_and_aphelion(when: tuple[int, ...], dist_km: float) -> None:
    _, d = native.sun_eci(jd(*when))
    assert d == pytest.approx(dist_km, abs=0.1e6)


def test_distance_extremes_fall_in_early_january_and_early_july() -> None:
    days = jd(2026, 1, 1, 0, 0) + np.arange(0.0, 365.0, 0.25)
    dist = np.array([native.sun_eci(d)[1] for d in days])
    t_min, t_max = days[np.argmin(dist)], days[np.argmax(dist)]
    assert abs(t_min - jd(2026, 1, 3, 17, 15)) < 3.0
    assert abs(t_max - jd(2026, 7, 6, 17, 31)) < 3.0
    assert dist.min() == pytest.approx(147.1e6, abs=0.1e6)
    assert dist.max() == pytest.approx(152.1e6, abs=0.1e6)


def test_sun_direction_is_a_unit_vector_in_the_ecliptic() -> None:
    normal = np.array([0.0, -math.sin(math.radians(EPS_J2000_DEG)), math.cos(math.radians(EPS_J2000_DEG))])
    for d in jd(2020, 1, 1, 0, 0) + np.linspace(0.0, 3000.0, 97):
        s, _ = native.sun_eci(d)
        assert np.linalg.norm(s) == pytest.approx(1.0, abs=1e-15)
        assert abs(float(s @ normal)) < 1e-15


def test_annual_period() -> None:
    sidereal_year_days = 365.25636
    for start in jd(2024, 2, 1, 0, 0) + np.array([0.0, 77.7, 190.2, 301.5]):
        s0, d0 = native.sun_eci(start)
        s1, d1 = native.sun_eci(start + sidereal_year_days)
        sh, _ = native.sun_eci(start + sidereal_year_days / 2)
        assert math.degrees(math.acos(min(1.0, float(s0 @ s1)))) < 0.01
        assert d1 == pytest.approx(d0, rel=1e-4)
        assert float(s0 @ sh) < -0.995  # half a year later the Sun is on the other side (within 2 e rad)


def almanac_sun(when_jd: float) -> tuple[np.ndarray, float]:
    """The Astronomical Almanac's low-precision Sun (mean equinox of date, ~0.01 deg), moved to the
    J2000 equinox by the general precession in longitude (1.3969713 deg per century)."""
    n = when_jd - 2451545.0
    mean_lon = 280.460 + 0.9856474 * n
    g = math.radians(357.528 + 0.9856003 * n)
    lam = mean_lon + 1.915 * math.sin(g) + 0.020 * math.sin(2 * g)
    lam -= 1.3969713 * n / 36525.0
    eps = math.radians(EPS_J2000_DEG)
    lr = math.radians(lam)
    r_au = 1.00014 - 0.01671 * math.cos(g) - 0.00014 * math.cos(2 * g)
    return np.array([math.cos(lr), math.cos(eps) * math.sin(lr), math.sin(eps) * math.sin(lr)]), r_au * AU


def ecliptic_longitude_error_deg(when_jd: float) -> float:
    s, _ = native.sun_eci(when_jd)
    ref, _ = almanac_sun(when_jd)
    eps = math.radians(EPS_J2000_DEG)

    def lon(v: np.ndarray) -> float:
        return math.atan2(v[1] * math.cos(eps) + v[2] * math.sin(eps), v[0])

    return math.degrees((lon(s) - lon(ref) + math.pi) % (2 * math.pi) - math.pi)


def test_sun_against_the_almanac_formula_near_j2000() -> None:
    for d in jd(1999, 1, 1, 0, 0) + np.linspace(0.0, 4 * 365.25, 97):
        s, dist = native.sun_eci(d)
        ref, ref_dist = almanac_sun(d)
        assert math.degrees(math.acos(min(1.0, float(s @ ref)))) < 0.02  # 1.2 arcmin
        assert dist == pytest.approx(ref_dist, abs=3e4)


def test_sun_longitude_against_the_almanac_formula_2020_to_2040() -> None:
    days = jd(2020, 1, 1, 0, 0) + np.linspace(0.0, 20 * 365.25, 241)
    errors = np.array([ecliptic_longitude_error_deg(d) for d in days])
    # the header promises 0.1-1 arcmin; the almanac formula itself is good to ~0.01 deg
    assert np.abs(errors).max() < 0.02, f"longitude error {errors[0]:.3f} deg in 2020 .. {errors[-1]:.3f} in 2040"


# --------------------------------------------------------------------------- sidereal time


def test_gmst_at_j2000() -> None:
    assert math.degrees(native.gmst_rad(2451545.0)) == pytest.approx(280.46061837, abs=1e-9)


def test_gmst_vallado_example_3_5() -> None:
    # Vallado, Fundamentals of Astrodynamics, example 3-5: 1992-08-20 12:14 UT1 -> 152.578787810 deg
    when = jd(1992, 8, 20, 12, 14)
    assert math.degrees(native.gmst_rad(when)) == pytest.approx(152.578787810, abs=1e-6)


def test_gmst_advances_one_turn_per_sidereal_day() -> None:
    sidereal_day_days = 86164.0905 / 86400.0
    for d in jd(2026, 6, 21, 0, 0) + np.array([0.0, 12.3, 200.9]):
        g0, g1 = native.gmst_rad(d), native.gmst_rad(d + sidereal_day_days)
        diff = (g1 - g0 + math.pi) % (2 * math.pi) - math.pi
        assert abs(math.degrees(diff)) < 1e-4
        assert 0.0 <= g0 < 2 * math.pi


# --------------------------------------------------------------------------- shadow

SUN = np.array([1.0, 0.0, 0.0])
D_SUN = 1.0 * AU


def test_full_sun_and_deep_umbra() -> None:
    r = R_EARTH + 550.0
    assert native.illumination([r, 0.0, 0.0], SUN, D_SUN) == 1.0  # sub-solar
    assert native.illumination([0.0, r, 0.0], SUN, D_SUN) == 1.0  # terminator, high above
    assert native.illumination([-r, 0.0, 0.0], SUN, D_SUN) == 0.0  # anti-solar
    assert native.illumination([-r * 0.9, r * 0.3, 0.0], SUN, D_SUN) == 0.0
    assert native.illumination([-42164.0, 0.0, 0.0], SUN, D_SUN) == 0.0  # GEO at equinox midnight


def test_illumination_monotonic_across_the_boundary() -> None:
    # walk a LEO-radius point from deep umbra out to full sun
    r = R_EARTH + 550.0
    theta = np.linspace(math.radians(150.0), math.radians(100.0), 20001)  # angle from the Sun direction
    nu = np.array([native.illumination([r * math.cos(a), r * math.sin(a), 0.0], SUN, D_SUN) for a in theta])
    assert nu[0] == 0.0 and nu[-1] == 1.0
    assert np.all(np.diff(nu) >= 0.0)
    partial = (nu > 0) & (nu < 1)
    assert partial.sum() > 10


def test_penumbra_duration_on_a_beta_zero_leo() -> None:
    sc = load("gpu-node")
    s, d_sun = native.sun_eci(sc.epoch_jd_utc)
    ra_sun = math.degrees(math.atan2(s[1], s[0]))
    a = R_EARTH + 550.0
    orbit = replace(sc.orbit, semi_major_axis_km=a, inclination_deg=90.0, raan_deg=ra_sun, j2=False)
    emu = Emulator(replace(sc, orbit=orbit, substep_s=0.1))
    period = 2 * math.pi * math.sqrt(a**3 / MU)
    data = run_log(emu, ["illumination", "beta_rad"], period + 60.0, 0.1)
    nu = data["illumination"]
    assert np.abs(data["beta_rad"]).max() < 2e-3  # the Sun moves 0.04 deg/h
    partial = (nu > 0) & (nu < 1)
    edges = np.flatnonzero(np.diff(partial.astype(int)))
    runs = [(edges[k] + 1, edges[k + 1] + 1) for k in range(0, len(edges) - 1, 2)]
    assert len(runs) == 2, runs  # one entry and one exit
    expected = 2 * math.asin(R_SUN / d_sun) / math.sqrt(MU / a**3)  # Sun's diameter at the orbit rate
    assert 8.0 < expected < 10.0
    for lo, hi in runs:
        duration = (hi - lo) * 0.1
        assert duration == pytest.approx(expected, abs=0.2)
        seg = nu[lo - 1:hi + 1]
        steps = np.diff(seg)
        assert np.all(steps <= 0) or np.all(steps >= 0)  # monotonic through each crossing
    # umbra between the two crossings, full sun outside
    (e0, e1), (x0, x1) = runs
    assert np.all(nu[e1:x0] == 0.0) and nu[e1:x0].size > 0
    assert np.all(nu[:e0] == 1.0) and np.all(nu[x1:] == 1.0)
    assert nu[e0:e1][0] > 0.99 > 0.01 > nu[e0:e1][-1]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@st.composite
def near_boundary(draw: st.DrawFn) -> tuple[list[float], list[float], float]:
    """A Sun direction and distance and a point within a few hundred km of the shadow cone edges."""
    sun = np.array([draw(st.floats(-1, 1)) for _ in range(3)])
    if np.linalg.norm(sun) < 1e-3:
        sun = np.array([0.0, 0.0, 1.0])
    sun = _unit(sun)
    dist = draw(st.floats(147.0e6, 152.2e6))
    r = draw(st.floats(R_EARTH + 150.0, R_EARTH + 36000.0))
    rho = min(R_EARTH + draw(st.floats(-300.0, 300.0)) + r * 0.00465 * draw(st.floats(-1.0, 1.0)), r * 0.999999)
    helper = np.array([0.0, 0.0, 1.0]) if abs(sun[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = _unit(np.cross(sun, helper))
    e2 = np.cross(sun, e1)
    phi = draw(st.floats(0.0, 2 * math.pi))
    perp = rho * (math.cos(phi) * e1 + math.sin(phi) * e2)
    pos = -sun * math.sqrt(r * r - rho * rho) + perp
    return [float(x) for x in pos], [float(x) for x in sun], dist


@settings(max_examples=400, deadline=None)
@given(near_boundary())
def test_illumination_matches_montenbruck_gill_near_the_boundary(case: tuple[list[float], list[float], float]) -> None:
    pos, sun, dist = case
    assert native.illumination(pos, sun, dist) == pytest.approx(shadow_montenbruck_gill(pos, sun, dist), abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.floats(-1, 1), st.floats(-1, 1), st.floats(-1, 1), st.floats(R_EARTH + 150.0, 50000.0),
       st.floats(147.0e6, 152.2e6))
def test_illumination_matches_montenbruck_gill_anywhere(x: float, y: float, z: float, r: float, dist: float) -> None:
    v = np.array([x, y, z])
    if np.linalg.norm(v) < 1e-3:
        return
    pos = [float(c) for c in _unit(v) * r]
    sun = [1.0 / math.sqrt(3)] * 3
    assert native.illumination(pos, sun, dist) == pytest.approx(shadow_montenbruck_gill(pos, sun, dist), abs=1e-9)


def test_partial_fraction_examples_are_generated() -> None:
    # the near-boundary strategy must actually reach the penumbra (guards the test above)
    rng = np.random.default_rng(5)
    hits = 0
    for _ in range(2000):
        sun = _unit(rng.normal(size=3))
        r = R_EARTH + rng.uniform(150.0, 36000.0)
        rho = min(R_EARTH + rng.uniform(-300, 300) + r * 0.00465 * rng.uniform(-1, 1), r * 0.999999)
        e1 = _unit(np.cross(sun, [0.0, 0.0, 1.0]))
        pos = -sun * math.sqrt(r * r - rho * rho) + rho * e1
        nu = shadow_montenbruck_gill(list(pos), list(sun), AU)
        hits += 0.0 < nu < 1.0
    assert hits > 200
