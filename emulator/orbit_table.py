"""Ephemeris tables from a TLE, computed with SGP4 for the C plant.

SGP4 gives positions in TEME; the plant's other frames are mean-of-J2000.
The difference (precession since 2000, under half a degree in right
ascension) is ignored at the fidelity power and thermal need.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sgp4.api import Satrec

from emulator.scenario import ScenarioError


def satrec(line1: str, line2: str) -> Satrec:
    try:
        sat = Satrec.twoline2rv(line1, line2)
    except (ValueError, IndexError) as exc:
        raise ScenarioError(f"orbit.tle: cannot parse the TLE ({exc})") from None
    if sat.error:
        raise ScenarioError(f"orbit.tle: SGP4 rejects the TLE (error {sat.error})")
    return sat


def table(sat: Satrec, epoch_jd: float, t0_ns: int, step_ns: int, n: int) -> npt.NDArray[np.float64]:
    """n rows of x y z vx vy vz (km, km/s) at t0 + k*step from the scenario epoch."""
    t_days = (t0_ns + step_ns * np.arange(n, dtype=np.float64)) / 86400e9
    jd_whole = np.full(n, np.floor(epoch_jd))
    jd_frac = (epoch_jd - np.floor(epoch_jd)) + t_days
    err, r, v = sat.sgp4_array(jd_whole, jd_frac)
    bad = np.nonzero(err)[0]
    if bad.size:
        raise ScenarioError(f"orbit.tle: SGP4 error {int(err[bad[0]])} at +{t_days[bad[0]]:.3f} days (decayed orbit?)")
    out: npt.NDArray[np.float64] = np.hstack([r, v])
    return out
