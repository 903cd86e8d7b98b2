"""The offline upper bound is never below what a policy delivers in the closed loop on the same
scenario (a bound that a policy beats is wrong), and the bound's thermal model never runs hotter than
the plant it was calibrated on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from flight.telemetry.store import FsyncPolicy
from skyrack.bound_problem import _plant_log, _slots, bound_problem
from skyrack.sched_scenarios import scenario
from skyrack.sil import run
from skyrack.upper_bound import upper_bound

HORIZON_S = 3 * 3600.0

CASES = [("beta0", "skyrack"), ("beta0", "run-always"), ("degraded-battery", "soc-threshold"), ("hot", "skyrack")]


@pytest.mark.parametrize(("name", "policy"), CASES)
def test_no_policy_beats_the_bound(name: str, policy: str, tmp_path: Path) -> None:
    sc = scenario(name)
    bound = upper_bound(bound_problem(sc, HORIZON_S))
    assert bound.feasible, bound.status
    s = run(sc, HORIZON_S, tmp_path, fsync=FsyncPolicy.NEVER, policy=policy).summary
    assert s["value_delivered"] > 0  # the comparison means something
    assert s["value_delivered"] <= bound.value * (1 + 1e-9) + 1e-9, (s["value_delivered"], bound.value)
    assert bound.value <= s["value_released"] + 1e-9  # and the bound is no more than everything released


def test_the_thermal_model_stays_at_or_below_the_plant() -> None:
    sc = scenario("hot")
    bp = bound_problem(sc, HORIZON_S)
    tm = bp.thermal
    assert tm is not None
    big = replace(sc, battery=replace(sc.battery, cells_parallel=sc.battery.cells_parallel * 50, initial_soc=1.0))
    names = ["payload_power_w", *(f"node_temp_k[{nd.name}]" for nd in sc.nodes)]
    hot = _plant_log(big, HORIZON_S, names, payload_mode=len(sc.payload.modes) if sc.payload else 0)
    n = bp.solar_w.size
    power = _slots(hot["payload_power_w"], 6, n)
    x, pred = tm.x0.copy(), []
    for k in range(n):
        x = tm.A @ x + tm.B * power[k] + tm.w[k]
        pred.append(float(tm.c @ x))
    actual = hot["node_temp_k[payload]"][5::6][:n] - 273.15
    err = np.asarray(pred) - actual
    assert err.max() <= 1e-6  # never hotter than the plant: the die limit binds no earlier in the bound
    assert err.mean() > -10.0  # and not uselessly cold
