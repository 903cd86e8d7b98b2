"""`skyrack run` in software in the loop: housekeeping, store and forward, downlink in contacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator import load
from flight.dictionary import load_dictionary
from ground.stream import StreamDecoder
from skyrack.cli import main
from skyrack.sil import cuc_offset_ns, run

AOS_S = 1525  # first gpu-node contact (fairbanks) begins here and ends at 1845 s


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], Path]:
    out = tmp_path_factory.mktemp("run")
    res = run(load("gpu-node"), 2400.0, out)
    return res.summary, out


def test_every_packet_is_downlinked_or_still_stored(result: tuple[dict[str, object], Path]) -> None:
    s, out = result
    assert s["packets_generated"] == s["packets_downlinked"] + s["packets_stored"]  # type: ignore[operator]
    # every housekeeping packet at its period over the 2401 ticks (t = 0 .. 2400 s); events and job results besides
    hk = [p for p in load_dictionary().packets if p.period_s is not None]
    assert {p.period_s for p in hk} == {1.0, 10.0}
    assert s["housekeeping_generated"] == sum(2401 if p.period_s == 1.0 else 241 for p in hk)
    dec = StreamDecoder(load_dictionary())
    recs = dec.feed((out / "downlink.cadu").read_bytes()) + dec.finish()
    st = dec.stats_json()
    assert st["crc_errors"] == 0 and st["frame_gaps"] == 0 and st["bytes_skipped"] == 0
    assert all(a["gaps"] == 0 for a in st["apids"].values())
    assert len(recs) == s["packets_downlinked"]
    # stored packets (made outside contacts) come down on VC 1, job results on VC 3, real-time ones on VC 0
    t0 = cuc_offset_ns(load("gpu-node").epoch) / 1e9
    assert {r.vcid for r in recs if r.time is not None and r.time - t0 < AOS_S and r.name != "job_result"} == {1}
    assert {r.vcid for r in recs if r.name == "job_result"} == {3}
    assert {r.vcid for r in recs if r.time is not None and AOS_S + 2 < r.time - t0 < 1840} == {0}
    assert min(r.time for r in recs if r.time is not None) == pytest.approx(t0)


def test_housekeeping_values_match_the_plant(result: tuple[dict[str, object], Path]) -> None:
    _, out = result
    dec = StreamDecoder(load_dictionary())
    recs = dec.feed((out / "downlink.cadu").read_bytes()) + dec.finish()
    power = [r for r in recs if r.name == "power_hk"]
    battery = [r for r in recs if r.name == "battery_hk"]
    assert power and battery
    t0 = cuc_offset_ns(load("gpu-node").epoch) / 1e9
    power = [r for r in power if r.time is not None and r.time - t0 >= 1.0]  # the monitors convert after reset
    for r in power:
        if r.time is not None and r.time - t0 < 120:
            continue  # the payload is switched on when the spacecraft reaches NOMINAL
        assert 27.0 < r.fields["bus_voltage_v"] < 34.0
        assert r.fields["avionics_power_w"] == pytest.approx(40.0, abs=0.5)  # the 40 W avionics load
        assert r.fields["radio_on"] and r.fields["payload_on"] and not r.fields["battery_heater_on"]
    battery = [r for r in battery if r.time is not None and r.time - t0 >= 1.0]  # the gauge converts each second
    assert battery and all(80.0 < r.fields["soc_pct"] <= 100.0 for r in battery)


def test_summary_file_and_cli(result: tuple[dict[str, object], Path], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    _s, out = result
    on_disk = json.loads((out / "summary.json").read_text())
    for key in ("sim_seconds", "wall_seconds", "min_soc", "max_temp_c", "violations", "safe_mode_entries",
                "packets_generated", "packets_downlinked", "packets_stored", "energy_harvested_j"):
        assert key in on_disk
    assert on_disk["sim_seconds"] == 2400.0 and 0.8 < on_disk["min_soc"] <= 0.9
    assert "AOS" in (out / "timeline.log").read_text()
    rc = main(["run", "gpu-node", "--duration", "5m", "--out", str(tmp_path / "r"), "--json"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["sim_seconds"] == 300.0
    rc = main(["run", "no-such-scenario", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "no such scenario" in err and "Traceback" not in err


def test_a_second_run_in_the_same_directory_starts_a_fresh_store(tmp_path: Path) -> None:
    first = run(load("gpu-node"), 600.0, tmp_path).summary
    second = run(load("gpu-node"), 600.0, tmp_path).summary
    assert first["packets_stored"] == second["packets_stored"] == first["packets_generated"]


def test_a_signed_command_uplinked_in_a_contact_executes(tmp_path: Path) -> None:
    from flight.ccsds.keystore import load_key_file
    from flight.dictionary import load_commands
    from ground.command import build
    from skyrack.sil import write_uplink_key

    key = tmp_path / "uplink.key"
    write_uplink_key(key)
    good = build(load_commands(), "set_mode", {"mode": "STANDBY"}, load_key_file(key)).cltu
    write_uplink_key(tmp_path / "other.key")
    forged = build(load_commands(), "set_mode", {"mode": "SAFE"}, load_key_file(tmp_path / "other.key"), sn=2).cltu
    res = run(load("gpu-node"), 1700.0, tmp_path / "run", key_path=key, uplinks=((100.0, forged), (110.0, good)))
    s = res.summary
    # the forged command was rejected (never SAFE); the signed one took the spacecraft to STANDBY in the pass
    assert s["safe_mode_entries"] == 0 and s["events"].get("TC_REJECTED", 0) == 1
    assert s["mode_time_s"]["STANDBY"] > 150  # from the pass (1525 s) to the end: the operator's mode holds
    log = (tmp_path / "run" / "timeline.log").read_text()
    assert "TC_REJECTED" in log and "MODE_CHANGE INFO (2, 1)" in log
