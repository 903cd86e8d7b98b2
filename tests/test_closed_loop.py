"""The whole flight stack against the emulator: healthy runs on every preset, and safe-mode entry
and recovery when the emulator injects faults, with the events that prove it."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from emulator import load, preset_names
from emulator.faults import ClearDeviceFaults, DeviceNack, HeaterStuckOn, LostSolarStrings, StuckReading
from flight.dictionary import load_dictionary
from ground.stream import Record, StreamDecoder
from skyrack.sil import run


def series(out: Path) -> dict[str, list[float]]:
    with (out / "timeseries.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in rows[0]}


def events(out: Path) -> list[Record]:
    dec = StreamDecoder(load_dictionary())
    recs = dec.feed((out / "downlink.cadu").read_bytes()) + dec.finish()
    return [r for r in recs if r.name == "event"]


@pytest.mark.parametrize("preset", preset_names())
def test_one_orbit_is_healthy_on_every_preset(preset: str, tmp_path: Path) -> None:
    s = run(load(preset), 6000.0, tmp_path).summary
    ts = series(tmp_path)
    assert max(ts["uv_tripped"]) == 0.0  # never an undervoltage cut-off
    assert s["safe_mode_entries"] == 0 and s["violations"] == 0
    assert s["mode_time_s"]["NOMINAL"] > 5000  # compute allowed for most of the orbit
    for name, temps in ts.items():
        if name.startswith("temp_c_") and name not in ("temp_c_array", "temp_c_panels"):
            assert min(temps) > -40.0 and max(temps) < 85.0, name
    assert s["packets_generated"] == s["packets_downlinked"] + s["packets_stored"]
    # the scheduler runs the preset's workload within the battery's floor and below the part's throttle point
    sc = load(preset)
    assert s["jobs_released"] > 0 and s["work_done_s"] > 0 and s["jobs_completed"] > 0
    assert s["min_soc"] >= 1 - 0.30 - 0.02  # dod_max, within the state-of-charge estimate's error
    assert sc.payload is not None and max(ts["payload_die_c"]) < sc.payload.throttle_c


def _modes(evs: list[Record]) -> list[tuple[int, int]]:
    return [(e.fields["param1"], e.fields["param2"]) for e in evs if e.fields["event_id"] == "MODE_CHANGE"]


def test_nacking_battery_monitor_enters_safe_mode_and_recovers(tmp_path: Path) -> None:
    s: dict[str, Any] = run(load("gpu-node"), 2600.0, tmp_path,
                            faults=((300.0, DeviceNack("ina_battery")), (700.0, DeviceNack("ina_battery", on=False))),
                            ).summary
    assert s["safe_mode_entries"] == 1 and s["events"]["BUS_ERROR"] >= 1
    assert s["mode_time_s"]["SAFE"] > 300  # held until the monitor is back and re-probed
    evs = events(tmp_path)  # the first contact (1525-1845 s) brings the events down
    assert (2, 0) in _modes(evs)  # NOMINAL -> SAFE
    assert (0, 1) in _modes(evs)  # SAFE -> STANDBY once the monitor is valid again
    assert any(e.fields["event_id"] == "BUS_ERROR" for e in evs)


def test_stuck_temperature_enters_safe_mode_and_recovers(tmp_path: Path) -> None:
    # the battery temperature freezes at 20.0 C while the battery goes through an eclipse (3280-5300 s)
    s = run(load("gpu-node"), 9000.0, tmp_path,
            faults=((600.0, StuckReading("temp_battery", 0x00, 2560)), (6000.0, ClearDeviceFaults("temp_battery"))),
            ).summary
    assert s["safe_mode_entries"] == 1 and s["violations"] >= 1
    assert s["mode_time_s"]["NOMINAL"] > 0 and s["mode_time_s"]["SAFE"] > 0
    ts = series(tmp_path)
    assert max(ts["uv_tripped"]) == 0.0


LOST_STRINGS = ((300.0, LostSolarStrings("wing+y", 12)), (300.0, LostSolarStrings("wing-y", 10)))


def test_lost_solar_strings_shed_the_payload(tmp_path: Path) -> None:
    # the run-always baseline ignores energy: the payload drains the battery until power management sheds it
    s = run(load("gpu-node"), 12000.0, tmp_path, faults=LOST_STRINGS, policy="run-always").summary
    assert s["events"].get("LOAD_SHED", 0) >= 1
    assert s["mode_time_s"]["STANDBY"] > 600 or s["mode_time_s"]["SAFE"] > 0
    ts = series(tmp_path)
    assert max(ts["uv_tripped"]) == 0.0 and min(ts["battery_soc"]) > 0.25


def test_the_scheduler_lives_within_a_lost_array(tmp_path: Path) -> None:
    # the same fault under Skyrack's scheduler: it sees the array's power fall and budgets the payload
    # so that the battery stays above its depth-of-discharge floor; nothing is shed
    s = run(load("gpu-node"), 12000.0, tmp_path, faults=LOST_STRINGS).summary
    assert s["events"].get("LOAD_SHED", 0) == 0 and s["safe_mode_entries"] == 0
    assert s["min_soc"] > 1 - 0.30 - 0.02  # dod_max 0.30, within the estimate's error
    assert s["work_done_s"] > 0  # and it still computes on what the array gives


def test_stuck_heater_is_reported(tmp_path: Path) -> None:
    # a cold battery (3 C) makes the thermostat cycle its heater; the heater then sticks on after it
    # was switched off, and the battery warms past the off point with the heater commanded off
    sc = load("gpu-node")
    nodes = tuple(replace(n, initial_c=3.0) if n.name == "battery" else n for n in sc.nodes)
    s = run(replace(sc, nodes=nodes), 9000.0, tmp_path, faults=((2500.0, HeaterStuckOn("battery_heater")),)).summary
    assert s["events"].get("HEATER_OFF", 0) >= 1
    assert s["violations"] >= 1
