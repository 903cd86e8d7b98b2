"""Thermal network against closed-form steady states and transients."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from oracles import NS, SIGMA, FloatArray, newton, run_log, thermal_only

from emulator import Emulator, load
from emulator.scenario import Conductor, Scenario, Surface, ThermalNode

T_SPACE = 2.7
# a face that sees neither the Sun nor the Earth in Sun-pointing attitude (+Z Sun, +X towards nadir)
SIDE = (0.0, 1.0, 0.0)


def two_node(sc: Scenario, q_w: float, g_w_k: float, eps_area: float, c1: float = 800.0,
             c2: float = 600.0) -> Scenario:
    """Node 0 radiates to space through one surface; node 1 carries a heater and is tied to node 0."""
    nodes = (ThermalNode("radiator", c1, 20.0), ThermalNode("box", c2, 20.0))
    surfaces = (Surface(node=0, area_m2=eps_area / 0.8, normal=SIDE, absorptivity=0.3, emissivity=0.8),)
    return thermal_only(sc, nodes, surfaces, (Conductor(0, 1, g_w_k),), heaters=((1, q_w),))


def steady_state_root(q_w: float, g_w_k: float, eps_area: float) -> FloatArray:
    def residual(t: FloatArray) -> FloatArray:
        t_rad, t_box = t
        return np.array([g_w_k * (t_box - t_rad) - SIGMA * eps_area * (t_rad**4 - T_SPACE**4),
                         q_w - g_w_k * (t_box - t_rad)])

    return newton(residual, [300.0, 320.0])


@pytest.mark.parametrize("q_w,g_w_k,eps_area,cap", [(60.0, 2.0, 0.4, 700.0), (300.0, 10.0, 0.9, 700.0),
                                                    (15.0, 0.5, 0.05, 100.0)])
def test_two_node_steady_state(q_w: float, g_w_k: float, eps_area: float, cap: float) -> None:
    emu = Emulator(two_node(load("gpu-node"), q_w, g_w_k, eps_area, c1=cap, c2=cap))
    emu.advance(6 * 3600 * NS)
    temps = emu.state["node_temp_k"][:2].copy()
    ref = steady_state_root(q_w, g_w_k, eps_area)
    # closed form as a cross-check of the root solve
    t_rad = (q_w / (SIGMA * eps_area) + T_SPACE**4) ** 0.25
    assert ref == pytest.approx([t_rad, t_rad + q_w / g_w_k], abs=1e-9)
    assert np.abs(temps - ref).max() < 0.01, (temps, ref)
    # and it is steady: another hour changes nothing measurable
    emu.advance(3600 * NS)
    assert np.abs(emu.state["node_temp_k"][:2] - temps).max() < 1e-4


def test_environment_loads_on_a_side_face_are_zero_in_sun_pointing() -> None:
    # the same network with albedo and Earth IR switched back on: a +Y face sees neither
    sc = load("gpu-node")
    nodes = (ThermalNode("radiator", 800.0, 20.0), ThermalNode("box", 600.0, 20.0))
    surfaces = (Surface(node=0, area_m2=0.5, normal=SIDE, absorptivity=0.3, emissivity=0.8),)
    sc = thermal_only(sc, nodes, surfaces, (Conductor(0, 1, 2.0),), heaters=((1, 60.0),), no_environment=False)
    emu = Emulator(sc)
    emu.advance(6 * 3600 * NS)
    ref = steady_state_root(60.0, 2.0, 0.4)
    assert np.abs(emu.state["node_temp_k"][:2] - ref).max() < 0.01


@pytest.mark.parametrize("c1,c2,g", [(1000.0, 3000.0, 5.0), (200.0, 200.0, 1.0)])
def test_conductive_two_node_transient(c1: float, c2: float, g: float) -> None:
    sc = load("gpu-node")
    nodes = (ThermalNode("a", c1, 80.0), ThermalNode("b", c2, -20.0))
    sc = replace(thermal_only(sc, nodes, (), (Conductor(0, 1, g),)), substep_s=0.1)
    d = run_log(Emulator(sc), ["node_temp_k[0]", "node_temp_k[1]"], 600.0, 5.0)
    t, ta, tb = d["t_s"], d["node_temp_k[0]"], d["node_temp_k[1]"]
    lam = g * (1 / c1 + 1 / c2)
    assert lam * 600.0 > 2.0  # well into the decay
    dt_exact = 100.0 * np.exp(-lam * t)
    mean = (c1 * 80.0 + c2 * -20.0) / (c1 + c2) + 273.15
    # forward Euler at 0.1 s: relative error about lam^2 h t / 2 < 1e-3
    assert np.abs((ta - tb) - dt_exact).max() < 1e-3 * 100.0
    assert np.abs((c1 * ta + c2 * tb) / (c1 + c2) - mean).max() < 1e-9  # energy conserved


def sign_changes(x: FloatArray) -> int:
    d = np.diff(x)
    d = d[np.abs(d) > 1e-9]
    return int(np.sum(np.sign(d[1:]) != np.sign(d[:-1])))


def test_substep_ten_seconds_is_stable_and_reaches_the_same_steady_state() -> None:
    # the box's explicit time constant C/G = 4 s: a 10 s Euler step would diverge without sub-stepping
    sc = two_node(load("gpu-node"), 300.0, 10.0, 0.9, c1=400.0, c2=40.0)
    finals = []
    for step in (1.0, 10.0):
        emu = Emulator(replace(sc, substep_s=step))
        d = run_log(emu, ["node_temp_k[0]", "node_temp_k[1]"], 2 * 3600.0, step)
        for name in ("node_temp_k[0]", "node_temp_k[1]"):
            assert np.all(np.isfinite(d[name]))
            assert sign_changes(d[name]) <= 2, name  # no step-to-step oscillation
        finals.append(emu.state["node_temp_k"][:2].copy())
    assert np.abs(finals[0] - finals[1]).max() < 1e-6
    assert np.abs(finals[0] - steady_state_root(300.0, 10.0, 0.9)).max() < 0.01


def test_gpu_node_substep_ten_seconds_tracks_one_second() -> None:
    sc = load("gpu-node")
    names = [f"node_temp_k[{n.name}]" for n in sc.nodes]
    runs = [run_log(Emulator(replace(sc, substep_s=step)), names, 3 * 3600.0, 10.0) for step in (1.0, 10.0)]
    last_orbit = runs[0]["t_s"] > 3 * 3600.0 - 5740.0
    for name in names:
        a, b = runs[0][name], runs[1][name]
        assert np.all(np.isfinite(b)) and np.all((b > 150.0) & (b < 400.0))
        assert sign_changes(b) < 20, name
        # orbit means agree; instantaneous values within the shift of a 10 s eclipse edge
        assert abs(a[last_orbit].mean() - b[last_orbit].mean()) < 0.1, name
        # the array swings by kilowatts at each eclipse edge, which a 10 s substep places up to 10 s late
        assert np.abs(a - b).max() < (3.5 if name == "node_temp_k[array]" else 0.2), name


@pytest.mark.parametrize("temp_c,flux_w_m2", [(0, 284), (20, 377), (40, 491), (60, 629), (80, 794)])
def test_reference_radiator_figures(temp_c: float, flux_w_m2: float) -> None:
    # one node, a 1 m^2 one-sided radiator at eps 0.9, heated by the REFERENCE.md flux
    sc = load("gpu-node")
    nodes = (ThermalNode("radiator", 1000.0, temp_c + 5.0),)
    surfaces = (Surface(node=0, area_m2=1.0, normal=SIDE, absorptivity=0.2, emissivity=0.9),)
    emu = Emulator(thermal_only(sc, nodes, surfaces, (), heaters=((0, float(flux_w_m2)),)))
    emu.advance(4 * 3600 * NS)
    t_k = float(emu.state["node_temp_k"][0])
    # the figures are rounded to 1 W/m^2: 0.5 W over 4 eps sigma T^3 (4.2-9.0 W/K) is < 0.12 K
    assert t_k - 273.15 == pytest.approx(temp_c, abs=0.12)
    assert 0.9 * SIGMA * (t_k**4 - T_SPACE**4) == pytest.approx(flux_w_m2, abs=1e-6)


def test_radiator_facing_the_sun_absorbs_alpha_s() -> None:
    # a +Z plate (Sun-pointing), no heater, no Earth: alpha S (1AU/r)^2 = eps sigma T^4 in full sun
    sc = load("gpu-node")
    nodes = (ThermalNode("plate", 500.0, 20.0),)
    surfaces = (Surface(node=0, area_m2=1.0, normal=(0.0, 0.0, 1.0), absorptivity=0.3, emissivity=0.8),)
    sc = thermal_only(sc, nodes, surfaces)
    orbit = replace(sc.orbit, semi_major_axis_km=42164.0, inclination_deg=0.0)  # GEO: no eclipse at solstice
    emu = Emulator(replace(sc, orbit=orbit))
    emu.advance(8 * 3600 * NS)
    st = emu.state
    assert st["illumination"] == 1.0
    s = 1361.0 * (149597870.7 / float(st["sun_dist_km"])) ** 2
    t_ref = (0.3 * s / (0.8 * SIGMA) + T_SPACE**4) ** 0.25
    assert float(st["node_temp_k"][0]) == pytest.approx(t_ref, abs=0.01)
    assert math.isfinite(t_ref)
