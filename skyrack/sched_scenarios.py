"""Scenario variants for measuring compute scheduling (bench/scheduling.py and its tests): presets
with one thing changed, built at the TOML level so the scenario loader validates them as it would a
user's file.

    beta0              gpu-node with the orbit plane turned to contain the Sun: the longest eclipses
    dawn-dusk-eclipse  the dawn-dusk preset in its eclipse season (December)
    dawn-dusk-sunlit   the same orbit in June: no eclipse
    sparse-contacts    gpu-node with one station (Awarua) at 10 Mbit/s
    dense-contacts     gpu-node with eight stations
    hot                gpu-node with a 1.15 m^2 radiator with aged coatings: the payload must throttle
    degraded-array     gpu-node with both wings at 45 % degradation
    degraded-battery   gpu-node with 55 % capacity fade
    burst              gpu-node with three bursts of eight high-value jobs (15-minute deadlines) on top
"""

from __future__ import annotations

import math
import tomllib
from importlib import resources
from typing import Any

import numpy as np

from emulator.scenario import Scenario, epoch_of, julian_date, parse
from flight.orbit import sun_eci

Data = dict[str, Any]


def _preset(name: str) -> Data:
    text = (resources.files("emulator") / "presets" / f"{name}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _beta0(d: Data) -> Data:
    epoch = epoch_of(d)
    s, _ = sun_eci(np.array([julian_date(epoch)]))
    sx, sy, sz = (float(v) for v in s[0])
    inc = math.radians(d["orbit"]["inclination_deg"])
    amp, phi = math.hypot(sx, sy), math.atan2(sy, sx)
    # orbit normal (sin i sin O, -sin i cos O, cos i) . sun = 0
    d["orbit"]["raan_deg"] = math.degrees(phi + math.asin(-math.cos(inc) * sz / (math.sin(inc) * amp))) % 360
    return d


def _stations(d: Data, spec: list[tuple[str, float, float, float]]) -> Data:
    d["ground_station"] = [{"name": n, "latitude_deg": lat, "longitude_deg": lon, "altitude_m": 0.0,
                            "min_elevation_deg": 5.0, "downlink_bps": bps, "uplink_bps": 64e3}
                           for n, lat, lon, bps in spec]
    return d


def _hot(d: Data) -> Data:
    for s in d["surface"]:
        if s["node"] == "radiator":
            s["area_m2"], s["absorptivity"] = 1.15, 0.30
    return d


def _panels(d: Data, degradation: float) -> Data:
    for p in d["panel"]:
        p["degradation"] = degradation
    return d


def _battery(d: Data, fade: float) -> Data:
    d["battery"]["capacity_fade"] = fade
    return d


def _burst(d: Data) -> Data:
    d["workload"]["stream"].append({"kind": "urgent", "arrival": "bursts", "count": 3, "jobs_per_burst": 8,
                                    "spacing_s": 10.0, "work_s": [60.0, 120.0], "value": [40.0, 60.0],
                                    "deadline_s": 900.0, "output_bytes": 65536, "priority": 0})
    return d


DENSE = [("svalbard", 78.23, 15.41, 100e6), ("fairbanks", 64.86, -147.85, 100e6), ("awarua", -46.53, 168.38, 100e6),
         ("hartebeesthoek", -25.89, 27.69, 100e6), ("santiago", -33.15, -70.67, 100e6), ("kiruna", 67.86, 20.96, 100e6),
         ("singapore", 1.40, 103.83, 100e6), ("hawaii", 19.01, -155.66, 100e6)]

VARIANTS: dict[str, tuple[str, Any]] = {
    "beta0": ("gpu-node", _beta0),
    "dawn-dusk-eclipse": ("dawn-dusk", lambda d: d),
    "dawn-dusk-sunlit": ("dawn-dusk", lambda d: {**d, "epoch": "2026-06-21T00:00:00Z"}),
    "sparse-contacts": ("gpu-node", lambda d: _stations(d, [("awarua", -46.53, 168.38, 10e6)])),
    "dense-contacts": ("gpu-node", lambda d: _stations(d, DENSE)),
    "hot": ("gpu-node", _hot),
    "degraded-array": ("gpu-node", lambda d: _panels(d, 0.45)),
    "degraded-battery": ("gpu-node", lambda d: _battery(d, 0.55)),
    "burst": ("gpu-node", _burst),
}


def scenario(name: str, workload_horizon_s: float | None = None) -> Scenario:
    """The named variant (see the module docstring); workload_horizon_s: release jobs only before it."""
    try:
        base, change = VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown scenario variant {name!r} (known: {', '.join(VARIANTS)})") from None
    d = change(_preset(base))
    d["name"] = name
    if workload_horizon_s is not None:
        d["workload"]["horizon_s"] = workload_horizon_s
    return parse(d, f"variant {name}")
