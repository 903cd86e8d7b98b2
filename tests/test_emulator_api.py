"""The Python API of the emulator: logging, fault timing, snapshots, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from emulator import Emulator
from emulator.faults import HeaterStuckOn, LostSolarStrings

NS = 1_000_000_000


def test_log_rows_at_the_requested_rate_and_equal_to_the_state() -> None:
    emu = Emulator("gpu-node")
    emu.start_log(["battery_soc", "node_temp_k[payload]", "illumination"], 10 * NS)
    emu.advance(1000 * NS)
    emu.advance(5 * NS)  # a partial interval writes no row
    d = emu.log_data()
    assert np.array_equal(d["t_s"], np.arange(10.0, 1001.0, 10.0))
    emu2 = Emulator("gpu-node")
    emu2.advance(1000 * NS)
    assert d["battery_soc"][-1] == emu2.state["battery_soc"]
    assert d["node_temp_k[payload]"][-1] == emu2.state["node_temp_k"][emu.scenario.node_index("payload")]


def test_chunking_does_not_change_the_trajectory() -> None:
    a, b = Emulator("gpu-node"), Emulator("gpu-node")
    a.advance(7200 * NS)
    for _ in range(72):
        b.advance(100 * NS)
    assert a.state.tobytes() == b.state.tobytes()


def test_unknown_log_variable_is_a_clear_error() -> None:
    emu = Emulator("gpu-node")
    with pytest.raises(KeyError, match="no node named 'nope'"):
        emu.start_log(["node_temp_k[nope]"], NS)
    with pytest.raises(KeyError, match="not a state variable"):
        emu.start_log(["warp_factor"], NS)


def test_fault_takes_effect_exactly_at_its_time() -> None:
    emu = Emulator("gpu-node")
    emu.inject(HeaterStuckOn("battery_heater"), at_ns=100 * NS + 500_000_000)
    emu.start_log(["load_on[battery_heater]"], 500_000_000)
    emu.advance(200 * NS)
    d = emu.log_data()
    on = d["load_on[battery_heater]"]
    assert on[d["t_s"] < 100.5].max() == 0.0
    assert on[d["t_s"] > 101.0].min() == 1.0


def test_lost_strings_cut_array_power_in_proportion() -> None:
    emu = Emulator("gpu-node")
    emu.advance(10 * NS)
    before = emu.snapshot()["array_available_w"]
    emu.inject(LostSolarStrings("wing+y", 6))
    emu.advance(NS)
    after = emu.snapshot()["array_available_w"]
    assert after == pytest.approx(before * (1 - 0.5 * 6 / 12), rel=1e-4)


def test_bad_faults_are_rejected_before_they_are_scheduled() -> None:
    emu = Emulator("gpu-node")
    with pytest.raises(ValueError, match="no panel named"):
        emu.inject(LostSolarStrings("wing-z", 1))
    with pytest.raises(ValueError, match="only 12 strings"):
        emu.inject(LostSolarStrings("wing+y", 13))
    emu.advance(10 * NS)
    with pytest.raises(ValueError, match="in the past"):
        emu.inject(HeaterStuckOn("battery_heater"), at_ns=NS)


def test_snapshot_is_in_engineering_units() -> None:
    emu = Emulator("gpu-node")
    emu.advance(60 * NS)
    s = emu.snapshot()
    assert s["t_s"] == 60.0
    assert 545.0 < s["altitude_km"] < 555.0
    assert set(s["temperatures_c"]) == {n.name for n in emu.scenario.nodes}
    assert 0.0 <= s["battery_soc"] <= 1.0
    assert s["loads"]["avionics"] == {"on": True, "power_w": 40.0}
