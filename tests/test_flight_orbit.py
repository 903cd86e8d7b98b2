"""The onboard orbit, eclipse and contact predictor (flight/orbit.py) against
the emulator's plant: one day logged every second, event times compared."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import cache

import numpy as np
import pytest

from emulator import Emulator, load
from emulator.scenario import Orbit, OrbitKind, Scenario
from flight.orbit import (
    NS_PER_S,
    Contact,
    Eclipse,
    MeanElements,
    OrbitPredictor,
    Station,
    TwoLineElements,
    illumination,
    sun_eci,
)

DAY_S = 86_400
TOL_S = 2.0
ISS_TLE = ("1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991",
           "2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482")


def scenario(name: str) -> Scenario:
    if name == "iss-tle":
        sc = load("iss-node")
        return replace(sc, orbit=Orbit(kind=OrbitKind.TABLE, tle=ISS_TLE), epoch=datetime(2019, 12, 9, 12, tzinfo=UTC))
    return load(name)


def predictor(sc: Scenario, **kw: int) -> OrbitPredictor:
    o = sc.orbit
    el: MeanElements | TwoLineElements
    if o.kind == OrbitKind.TABLE:
        assert o.tle is not None
        el = TwoLineElements(*o.tle)
    else:
        el = MeanElements(o.semi_major_axis_km, o.eccentricity, o.inclination_deg, o.raan_deg, o.arg_perigee_deg,
                          o.mean_anomaly_deg, o.j2)
    stations = [Station(g.name, g.latitude_deg, g.longitude_deg, g.altitude_m, g.min_elevation_deg, g.downlink_bps)
                for g in sc.stations]
    return OrbitPredictor(el, sc.epoch_jd_utc, stations, **kw)


@cache
def day_log(name: str) -> dict[str, np.ndarray]:
    sc = scenario(name)
    emu = Emulator(sc)
    names = ["illumination", "contact_station", "beta_rad"] + [f"station_visible[{k}]" for k in range(len(sc.stations))]
    emu.start_log(names, NS_PER_S)
    emu.advance(DAY_S * NS_PER_S)
    return emu.log_data()


def emu_transitions(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Times of the first sample after each change of value."""
    return t[1:][np.diff(values) != 0]


def check_times(predicted: list[int], emulated: np.ndarray, t: np.ndarray, what: str) -> float:
    """Same events in the same order, each within TOL_S; returns the worst error (s)."""
    pred = np.array(sorted({p / NS_PER_S for p in predicted if t[0] < p / NS_PER_S < t[-1]}))
    assert len(pred) == len(emulated), f"{what}: predicted {len(pred)} events, emulator {len(emulated)}"
    if not len(pred):
        return 0.0
    err = np.abs(pred - emulated)
    assert err.max() <= TOL_S, f"{what}: worst error {err.max():.3f} s at t = {emulated[err.argmax()]} s"
    return float(err.max())


PRESETS = ["gpu-node", "iss-node", "dawn-dusk", "edge-cubesat", "iss-tle"]


@pytest.mark.parametrize("name", PRESETS)
def test_eclipse_entry_and_exit_match_the_plant(name: str) -> None:
    d = day_log(name)
    t = d["t_s"]
    fc = predictor(scenario(name)).predict(0, DAY_S * NS_PER_S, 20 * NS_PER_S)
    assert len(fc.eclipses) >= 14  # every preset is in eclipse season on its epoch
    pen = [e.entry_ns for e in fc.eclipses] + [e.exit_ns for e in fc.eclipses]
    check_times(pen, emu_transitions(t, d["illumination"] < 1.0), t, "penumbra")
    umb = [e.umbra_entry_ns for e in fc.eclipses if e.has_umbra] + [e.umbra_exit_ns for e in fc.eclipses if e.has_umbra]
    check_times(umb, emu_transitions(t, d["illumination"] <= 0.0), t, "umbra")
    for e in fc.eclipses:
        assert e.entry_ns <= e.umbra_entry_ns < e.umbra_exit_ns <= e.exit_ns


@pytest.mark.parametrize("name", PRESETS)
def test_contact_aos_los_and_serving_station_match_the_plant(name: str) -> None:
    sc = scenario(name)
    d = day_log(name)
    t = d["t_s"]
    fc = predictor(sc).predict(0, DAY_S * NS_PER_S, 20 * NS_PER_S)
    assert fc.contacts
    for k in range(len(sc.stations)):
        passes = [c for c in fc.contacts if c.station == k]
        check_times([c.aos_ns for c in passes] + [c.los_ns for c in passes],
                    emu_transitions(t, d[f"station_visible[{k}]"]), t, sc.stations[k].name)
    bounds = [s.start_ns for s in fc.serving] + [s.end_ns for s in fc.serving]
    check_times(bounds, emu_transitions(t, d["contact_station"]), t, "serving station")
    # the serving timeline agrees with the plant's contact_station sample by sample (away from handovers)
    served = np.full(len(t), -1.0)
    for s in fc.serving:
        served[(t * NS_PER_S >= s.start_ns) & (t * NS_PER_S < s.end_ns)] = s.station
    assert np.mean(served == d["contact_station"]) > 0.999


@pytest.mark.parametrize("name", ["gpu-node", "dawn-dusk", "iss-tle"])
def test_beta_angle_matches_the_plant(name: str) -> None:
    d = day_log(name)
    fc = predictor(scenario(name)).predict(0, DAY_S * NS_PER_S, 60 * NS_PER_S)
    beta_emu = np.degrees(np.interp(fc.t_ns / NS_PER_S, d["t_s"], d["beta_rad"]))
    if name == "iss-tle":  # the plant computes beta only for Keplerian orbits
        assert np.all(np.abs(fc.beta_deg) < 90.0)
        return
    assert np.max(np.abs(fc.beta_deg[1:-1] - beta_emu[1:-1])) < 0.05


@pytest.mark.parametrize("name", ["gpu-node", "dawn-dusk"])
def test_illumination_samples_including_the_penumbra_match_the_plant(name: str) -> None:
    d = day_log(name)
    fc = predictor(scenario(name)).predict(0, 4 * 3600 * NS_PER_S, NS_PER_S)
    ill_emu = d["illumination"][: len(fc.t_ns) - 1]  # log rows at t = 1, 2, ... s
    ill = fc.illumination[1:]
    assert np.any((ill_emu > 0.0) & (ill_emu < 1.0))
    assert np.max(np.abs(ill - ill_emu)) < 0.1  # the plant holds the Sun for 60 s
    assert np.mean(np.abs(ill - ill_emu)) < 1e-3


def test_sunlit_fraction_against_the_mean_of_the_illumination() -> None:
    p = predictor(scenario("iss-node"))
    fine = p.predict(0, 6 * 3600 * NS_PER_S, NS_PER_S)
    for a_s, b_s in [(0, 6 * 3600), (1000, 4000), (2000, 2100), (3600, 5 * 3600)]:
        mask = (fine.t_ns >= a_s * NS_PER_S) & (fine.t_ns <= b_s * NS_PER_S)
        expected = float(np.mean(fine.illumination[mask]))
        got = p.sunlit_fraction(a_s * NS_PER_S, b_s * NS_PER_S)
        assert got == pytest.approx(expected, abs=max(2.0 / (b_s - a_s), 1e-3))


def test_next_eclipse_and_cache() -> None:
    p = predictor(scenario("gpu-node"))
    first = p.next_eclipse(0)
    assert isinstance(first, Eclipse) and first.entry_ns > 0
    inside = (first.entry_ns + first.exit_ns) // 2
    assert p.next_eclipse(inside) == first  # in progress
    after = p.next_eclipse(first.exit_ns)
    assert after is not None and after.entry_ns > first.exit_ns
    assert (after.entry_ns - first.entry_ns) / NS_PER_S == pytest.approx(5736.0, abs=30.0)  # one orbit at 550 km
    # called every minute for two days: only a handful of recomputations
    for m in range(2 * 1440):
        t = m * 60 * NS_PER_S
        ec = p.next_eclipse(t)
        assert ec is not None and ec.exit_ns > t
        assert not ec.clipped or ec.entry_ns <= t
        for c in p.contacts(t, t + 3600 * NS_PER_S):
            assert isinstance(c, Contact) and c.los_ns > t and c.aos_ns < t + 3600 * NS_PER_S
    assert p.recomputes <= 6


def test_contact_fields() -> None:
    sc = scenario("iss-node")
    fc = predictor(sc).predict(0, DAY_S * NS_PER_S, 30 * NS_PER_S)
    for c in fc.contacts:
        g = sc.stations[c.station]
        assert c.name == g.name
        assert c.aos_ns < c.max_elevation_ns < c.los_ns or c.clipped
        assert g.min_elevation_deg <= c.max_elevation_deg <= 90.0
        assert c.bits == pytest.approx(g.downlink_bps * (c.los_ns - c.aos_ns) / NS_PER_S)
        k = np.flatnonzero((fc.t_ns >= c.aos_ns) & (fc.t_ns <= c.los_ns))
        assert np.all(fc.elevation_deg[k, c.station] <= c.max_elevation_deg + 1e-6)
    total = fc.downlink_bits(0, DAY_S * NS_PER_S)
    assert 0 < total <= sum(c.bits for c in fc.contacts)
    assert total == pytest.approx(sum(s.bits for s in fc.serving))


def test_sun_model_and_illumination_edges() -> None:
    jd = np.array([2451545.0, 2451545.0 + 79.5, 2451545.0 + 172.0])  # J2000, near the equinox, the solstice
    s, dist = sun_eci(jd)
    assert np.allclose(np.linalg.norm(s, axis=1), 1.0)
    assert abs(s[1, 1]) < 0.02 and s[2, 2] > 0.39  # equinox: on the equator; June: 23.4 deg north
    assert np.all((dist > 1.46e8) & (dist < 1.53e8))
    a = np.full(4, 0.0047)
    b = np.full(4, 1.2)
    c = np.array([2.0, 1.2047, 1.2, 1.0])
    ill = illumination(a, b, c)
    assert ill[0] == 1.0 and ill[1] == pytest.approx(1.0) and 0.4 < ill[2] < 0.6 and ill[3] == 0.0


def test_value_types_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="a_km"):
        MeanElements(6000.0, 0.0, 53.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="perigee"):
        MeanElements(7000.0, 0.2, 53.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="latitude"):
        Station("x", 91.0, 0.0)
    with pytest.raises(ValueError, match="TLE"):
        TwoLineElements("x", "y")
    p = predictor(scenario("gpu-node"))
    with pytest.raises(ValueError, match="step_ns"):
        p.predict(0, DAY_S * NS_PER_S, 0)


def test_eccentric_orbit_runs_and_is_consistent() -> None:
    sc = load("gpu-node")
    orbit = replace(sc.orbit, eccentricity=0.01, arg_perigee_deg=40.0)
    sc = replace(sc, orbit=orbit)
    emu = Emulator(sc)
    emu.start_log(["illumination"], NS_PER_S)
    emu.advance(6 * 3600 * NS_PER_S)
    log = emu.log_data()
    fc = predictor(sc).predict(0, 6 * 3600 * NS_PER_S, 20 * NS_PER_S)
    pen = [e.entry_ns for e in fc.eclipses] + [e.exit_ns for e in fc.eclipses]
    check_times(pen, emu_transitions(log["t_s"], log["illumination"] < 1.0), log["t_s"], "penumbra (e = 0.01)")
