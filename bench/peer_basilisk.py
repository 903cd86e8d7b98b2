"""Basilisk peer for the Skyrack speed benchmark: a scenario comparable to the `gpu-node` plant.

  orbit    550 km circular, 53 deg inclination, RAAN = argument of perigee = true anomaly = 0, integrated
           by Basilisk's `spacecraft` (RK4) under Earth point mass + J2 (spherical harmonics of degree 2,
           the single zonal coefficient C20 set in code: no gravity file is needed)
  Sun      one hand-written SpicePlanetStateMsg, fixed at its 2026-06-21T00:00Z position (1 AU; low-precision
           solar ephemeris), Earth one fixed message at the origin: no SPICE kernels are needed
  modules  eclipse, simpleSolarPanel (5.2 m^2, +Z, pointed at the Sun), simpleBattery (2.4 kWh, 90 %),
           two simplePowerSink (avionics + radio 55 W, payload 700 W), sensorThermal (a plate on +Z)

Everything runs in one task at the chosen step. The rate is simulated seconds per wall second over
ExecuteSimulation alone (set-up and initialisation excluded), best and median of a few fresh runs.

    python bench/peer_basilisk.py [--step 1] [--seconds 20000] [--repeats 3] [--json] [--check]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from datetime import UTC, datetime
from typing import Any

EPOCH = datetime(2026, 6, 21, tzinfo=UTC)   # gpu-node preset epoch
MU_EARTH = 3.986004415e14                   # m^3/s^2
RE_EARTH = 6378136.3                        # m
J2_EARTH = 1.0826267e-3
AU_M = 1.495978707e11
ALTITUDE_M = 550e3
INCLINATION_DEG = 53.0
PANEL_AREA_M2 = 5.2                          # two 2.6 m^2 wings, one sun-tracking panel here
PANEL_EFFICIENCY = 0.298 * 0.90 * 0.95       # cell efficiency x packing x MPPT
BATTERY_J = 2.4e3 * 3600.0                   # 2.4 kWh
BATTERY_SOC0 = 0.9
SINKS_W = {"avionics_radio": 55.0, "payload": 700.0}


def sun_unit_eci(when: datetime) -> tuple[float, float, float]:
    """Unit vector Earth -> Sun in the mean-equator frame (Astronomical Almanac low-precision formula)."""
    n = (when - datetime(2000, 1, 1, 12, tzinfo=UTC)).total_seconds() / 86400.0
    mean_lon = math.radians((280.460 + 0.9856474 * n) % 360.0)
    mean_anom = math.radians((357.528 + 0.9856003 * n) % 360.0)
    lam = mean_lon + math.radians(1.915) * math.sin(mean_anom) + math.radians(0.020) * math.sin(2 * mean_anom)
    eps = math.radians(23.439 - 4.0e-7 * n)
    return math.cos(lam), math.cos(eps) * math.sin(lam), math.sin(eps) * math.sin(lam)


def _sun_pointing_mrp(sun: tuple[float, float, float]) -> list[float]:
    """MRP sigma_BN of an inertially fixed attitude with body +Z on the Sun (a fixed Sun keeps it so)."""
    z = sun
    ref = (0.0, 0.0, 1.0) if abs(z[2]) < 0.9 else (1.0, 0.0, 0.0)
    x = (ref[1] * z[2] - ref[2] * z[1], ref[2] * z[0] - ref[0] * z[2], ref[0] * z[1] - ref[1] * z[0])
    nx = math.sqrt(sum(c * c for c in x))
    x = (x[0] / nx, x[1] / nx, x[2] / nx)
    y = (z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0])
    # rows of [BN] are the body axes in N
    dcm = (x, y, z)
    import numpy as np
    from Basilisk.utilities import RigidBodyKinematics  # type: ignore[import-untyped]

    return [float(v) for v in RigidBodyKinematics.C2MRP(np.array(dcm))]


def build(step_s: float = 1.0, record_every_s: float | None = None) -> dict[str, Any]:
    """Build and initialise the scenario; return the simulation and the handles a caller needs."""
    from Basilisk.architecture import messaging  # type: ignore[import-untyped]
    from Basilisk.simulation import (  # type: ignore[import-untyped]
        eclipse,
        gravityEffector,
        sensorThermal,
        simpleBattery,
        simplePowerSink,
        simpleSolarPanel,
        spacecraft,
    )
    from Basilisk.utilities import SimulationBaseClass, macros, orbitalMotion

    sim = SimulationBaseClass.SimBaseClass()
    proc = sim.CreateNewProcess("plant")
    proc.addTask(sim.CreateNewTask("step", macros.sec2nano(step_s)))
    keep: list[Any] = []   # SWIG objects and messages that must outlive this function

    def add(obj: Any, tag: str) -> Any:
        obj.ModelTag = tag
        sim.AddModelToTask("step", obj)
        keep.append(obj)
        return obj

    # Earth (fixed at the origin, inertial axes = planet axes) and the Sun, written once by hand
    earth_pl = messaging.SpicePlanetStateMsgPayload()
    earth_pl.PlanetName = "earth"
    earth_pl.PositionVector = [0.0, 0.0, 0.0]
    earth_pl.VelocityVector = [0.0, 0.0, 0.0]
    earth_pl.J20002Pfix = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    earth_msg = messaging.SpicePlanetStateMsg().write(earth_pl)
    sun_hat = sun_unit_eci(EPOCH)
    sun_pl = messaging.SpicePlanetStateMsgPayload()
    sun_pl.PlanetName = "sun"
    sun_pl.PositionVector = [AU_M * c for c in sun_hat]
    sun_pl.VelocityVector = [0.0, 0.0, 0.0]
    sun_pl.J20002Pfix = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    sun_msg = messaging.SpicePlanetStateMsg().write(sun_pl)
    keep += [earth_pl, earth_msg, sun_pl, sun_msg]

    # gravity: point mass + J2 as a degree-2 spherical-harmonic field, C20 = -J2 / sqrt(5) (normalised)
    earth = gravityEffector.GravBodyData()
    earth.planetName = "earth_planet_data"
    earth.mu = MU_EARTH
    earth.radEquator = RE_EARTH
    earth.isCentralBody = True
    sh = gravityEffector.SphericalHarmonicsGravityModel()
    sh.muBody = MU_EARTH
    sh.radEquator = RE_EARTH
    sh.maxDeg = 2
    sh.cBar = [[1.0], [0.0, 0.0], [-J2_EARTH / math.sqrt(5.0), 0.0, 0.0]]
    sh.sBar = [[0.0], [0.0, 0.0], [0.0, 0.0, 0.0]]
    earth.gravityModel = sh
    earth.planetBodyInMsg.subscribeTo(earth_msg)
    keep += [earth, sh]

    sc = spacecraft.Spacecraft()
    sc.hub.mHub = 600.0
    sc.hub.IHubPntBc_B = [[400.0, 0.0, 0.0], [0.0, 300.0, 0.0], [0.0, 0.0, 500.0]]
    sc.gravField.gravBodies = spacecraft.GravBodyVector([earth])
    oe = orbitalMotion.ClassicElements()
    oe.a = RE_EARTH + ALTITUDE_M
    oe.e = 0.0
    oe.i = math.radians(INCLINATION_DEG)
    oe.Omega = 0.0
    oe.omega = 0.0
    oe.f = 0.0
    r_n, v_n = orbitalMotion.elem2rv(MU_EARTH, oe)
    sc.hub.r_CN_NInit = [float(c) for c in r_n]
    sc.hub.v_CN_NInit = [float(c) for c in v_n]
    sc.hub.sigma_BNInit = _sun_pointing_mrp(sun_hat)
    sc.hub.omega_BN_BInit = [0.0, 0.0, 0.0]
    add(sc, "gpu-node")

    ecl = add(eclipse.Eclipse(), "eclipse")
    ecl.sunInMsg.subscribeTo(sun_msg)
    ecl.addPlanetToModel(earth_msg)
    ecl.addSpacecraftToModel(sc.scStateOutMsg)
    shadow_msg = ecl.eclipseOutMsgs[0]

    panel = add(simpleSolarPanel.SimpleSolarPanel(), "array")
    panel.setPanelParameters([0.0, 0.0, 1.0], PANEL_AREA_M2, PANEL_EFFICIENCY)
    panel.stateInMsg.subscribeTo(sc.scStateOutMsg)
    panel.sunInMsg.subscribeTo(sun_msg)
    panel.sunEclipseInMsg.subscribeTo(shadow_msg)

    sinks = []
    for name, watts in SINKS_W.items():
        sink = add(simplePowerSink.SimplePowerSink(), name)
        sink.nodePowerOut = -watts
        sinks.append(sink)

    battery = add(simpleBattery.SimpleBattery(), "battery")
    battery.storageCapacity = BATTERY_J
    battery.storedCharge_Init = BATTERY_SOC0 * BATTERY_J
    battery.addPowerNodeToModel(panel.nodePowerOutMsg)
    for sink in sinks:
        battery.addPowerNodeToModel(sink.nodePowerOutMsg)

    thermal = add(sensorThermal.SensorThermal(), "array_temp")
    thermal.nHat_B = [0.0, 0.0, 1.0]
    thermal.sensorArea = PANEL_AREA_M2
    thermal.sensorAbsorptivity = 0.92
    thermal.sensorEmissivity = 0.85
    thermal.sensorMass = 13.0
    thermal.sensorSpecificHeat = 900.0
    thermal.sensorPowerDraw = 0.0
    thermal.T_0 = 20.0
    thermal.stateInMsg.subscribeTo(sc.scStateOutMsg)
    thermal.sunInMsg.subscribeTo(sun_msg)
    thermal.sunEclipseInMsg.subscribeTo(shadow_msg)

    recorders: dict[str, Any] = {}
    if record_every_s is not None:
        period = macros.sec2nano(record_every_s)
        for key, msg in (("shadow", shadow_msg), ("panel", panel.nodePowerOutMsg),
                         ("battery", battery.batPowerOutMsg), ("temp", thermal.temperatureOutMsg),
                         ("state", sc.scStateOutMsg)):
            rec = msg.recorder(period)
            sim.AddModelToTask("step", rec)
            recorders[key] = rec

    sim.InitializeSimulation()
    return {"sim": sim, "macros": macros, "keep": keep, "recorders": recorders}


def _run(step_s: float, sim_seconds: float) -> float:
    built = build(step_s)
    sim, macros = built["sim"], built["macros"]
    sim.ConfigureStopTime(macros.sec2nano(sim_seconds))
    t0 = time.perf_counter()
    sim.ExecuteSimulation()
    return sim_seconds / (time.perf_counter() - t0)


def measure(step_s: float = 1.0, sim_seconds: float = 20000.0, repeats: int = 3) -> dict[str, float]:
    """Simulated seconds per wall second of the Basilisk scenario; ImportError if Basilisk is missing."""
    try:
        import Basilisk  # type: ignore[import-untyped]  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"Basilisk is not installed ({exc}); pip install bsk") from exc
    rates = [_run(step_s, sim_seconds) for _ in range(max(1, repeats))]
    return {
        "sim_s_per_wall_s": max(rates),
        "sim_s_per_wall_s_median": statistics.median(rates),
        "step_s": float(step_s),
        "sim_seconds": float(sim_seconds),
        "repeats": float(len(rates)),
    }


def check(step_s: float = 1.0, sim_seconds: float = 12000.0) -> dict[str, float]:
    """Run with recorders and summarise: the shadow toggles, the battery charge moves, the panel produces."""
    import numpy as np

    built = build(step_s, record_every_s=10.0)
    sim, macros, rec = built["sim"], built["macros"], built["recorders"]
    sim.ConfigureStopTime(macros.sec2nano(sim_seconds))
    sim.ExecuteSimulation()
    shadow = np.asarray(rec["shadow"].shadowFactor)
    panel_w = np.asarray(rec["panel"].netPower)
    stored = np.asarray(rec["battery"].storageLevel)
    temp = np.asarray(rec["temp"].temperature)
    r = np.linalg.norm(np.asarray(rec["state"].r_BN_N), axis=1)
    sunlit, umbra = shadow > 0.999, shadow < 0.001
    edges = int(np.count_nonzero(np.diff((shadow > 0.5).astype(int))))
    return {
        "shadow_min": float(shadow.min()),
        "shadow_max": float(shadow.max()),
        "shadow_transitions": float(edges),
        "umbra_fraction": float(umbra.mean()),
        "panel_w_sunlit_mean": float(panel_w[sunlit].mean()) if sunlit.any() else 0.0,
        "panel_w_umbra_max": float(panel_w[umbra].max()) if umbra.any() else 0.0,
        "battery_j_min": float(stored.min()),
        "battery_j_max": float(stored.max()),
        "battery_j_end": float(stored[-1]),
        "temp_c_min": float(temp.min()),
        "temp_c_max": float(temp.max()),
        "altitude_km_min": float((r.min() - RE_EARTH) / 1e3),
        "altitude_km_max": float((r.max() - RE_EARTH) / 1e3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step", type=float, default=1.0, help="task step in seconds (default 1)")
    ap.add_argument("--seconds", type=float, default=20000.0, help="simulated s per run (default 20000)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--check", action="store_true", help="print scenario sanity figures instead of timing")
    args = ap.parse_args(argv)
    try:
        out = check(args.step) if args.check else measure(args.step, args.seconds, args.repeats)
    except ImportError as exc:
        print(json.dumps({"error": str(exc)}) if args.json else str(exc))
        return 1
    if args.json:
        print(json.dumps(out))
    elif args.check:
        for key, value in out.items():
            print(f"  {key:<22} {value:14.3f}")
    else:
        print(f"Basilisk gpu-node peer, {args.step:g} s step, {args.seconds:g} simulated s: "
              f"{out['sim_s_per_wall_s']:,.0f} sim s / wall s (best of {int(out['repeats'])}; "
              f"median {out['sim_s_per_wall_s_median']:,.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
