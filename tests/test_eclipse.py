"""Eclipse duration against the closed-form cylindrical shadow on a circular orbit."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from emulator import Emulator, load

R = 6378.137
MU = 398600.4418


def eclipse_durations(emu: Emulator, hours: float) -> tuple[np.ndarray, float]:
    emu.start_log(["illumination", "beta_rad"], 10**9)
    emu.advance(int(hours * 3600) * 10**9)
    d = emu.log_data()
    dark = (d["illumination"] < 0.5).astype(int)
    starts = np.flatnonzero(np.diff(dark) == 1)
    ends = np.flatnonzero(np.diff(dark) == -1)
    ends = ends[ends > starts[0]]
    n = min(len(starts), len(ends))
    return (ends[:n] - starts[:n]).astype(float), float(np.mean(d["beta_rad"]))


@pytest.mark.parametrize("alt_km,inc_deg,raan_deg", [(550.0, 53.0, 0.0), (420.0, 51.6, 120.0), (800.0, 98.0, 60.0)])
def test_eclipse_duration_matches_cylindrical_closed_form(alt_km: float, inc_deg: float, raan_deg: float) -> None:
    sc = load("gpu-node")
    orbit = replace(sc.orbit, semi_major_axis_km=R + alt_km, inclination_deg=inc_deg, raan_deg=raan_deg, j2=False)
    emu = Emulator(replace(sc, orbit=orbit))
    durations, beta = eclipse_durations(emu, 4.0)
    assert len(durations) >= 2
    a = R + alt_km
    period = 2 * math.pi * math.sqrt(a**3 / MU)
    f = math.acos(math.sqrt(alt_km**2 + 2 * R * alt_km) / (a * math.cos(beta))) / math.pi
    # the conical model's half-illumination point sits within a few seconds of the cylinder's edge
    assert np.all(np.abs(durations - f * period) < 5.0), (durations, f * period)
