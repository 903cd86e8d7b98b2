"""`skyrack dict`: the table, the JSON export, one packet, bad usage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flight.dictionary import load_dictionary
from skyrack.cli import main


def test_dict_json_matches_to_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dict", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == load_dictionary().to_json()


def test_dict_table_lists_every_packet_and_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dict"]) == 0
    out = capsys.readouterr().out
    for p in load_dictionary().packets:
        assert f"APID {p.apid} (0x{p.apid:03x})  {p.name}  {p.length} octets" in out
        for f in p.fields:
            assert f.name in out


@pytest.mark.parametrize("key", ["0x100", "256", "power_hk"])
def test_dict_one_packet(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dict", "--apid", key]) == 0
    out = capsys.readouterr().out
    assert "power_hk" in out and "battery_hk" not in out
    assert main(["dict", "--apid", key, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == load_dictionary().packet("power_hk").to_json()


@pytest.mark.parametrize("key", ["999", "0x7FF", "nope", "-1"])
def test_dict_bad_apid_exits_2_with_one_line(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dict", "--apid", key]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "--apid" in captured.err and "power_hk" in captured.err


def test_dict_bad_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("version = 1\n[[packet]]\napid = 'x'\n")
    assert main(["dict", "--file", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "packet[0].apid: expected an integer" in err
