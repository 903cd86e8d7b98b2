"""`skyrack cmd`: the command list, the layers of a built CLTU, and one-line errors (exit 2) for bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flight.ccsds import cltu
from flight.ccsds.keystore import KeyStore
from flight.ccsds.sdls import Algorithm, Reason, SaParams, SdlsEndpoint, SecurityAssociation
from flight.ccsds.tc_frame import TcFrame, frame_length
from flight.dictionary.commands import load_commands
from skyrack.cli import main

KEY = bytes(range(32))


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    p = tmp_path / "keys.toml"
    p.write_text(f'[[key]]\nid = 1\nkey = "{KEY.hex()}"\n', encoding="utf-8")
    os.chmod(p, 0o600)
    return p


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cmd", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("ping", "set_mode", "switch_load", "set_parameter", "set_heater_setpoint"):
        assert name in out
    assert main(["cmd", "--list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {c["name"]: (c["service"], c["subtype"]) for c in doc["commands"]}["ping"] == (17, 1)


def test_hex_output_verifies_on_board(keyfile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cmd", "switch_load", "load=payload", "on=false", "--key", str(keyfile), "--sn", "9",
                 "--seq", "4"]) == 0
    raw = bytes.fromhex(capsys.readouterr().out.strip())
    data = cltu.decode(raw).data
    frame = data[:frame_length(data)]
    keys = KeyStore()
    keys.install(1, KEY)
    v = SdlsEndpoint(keys, [SecurityAssociation(SaParams(1, Algorithm.HMAC_SHA256), keys, 1)]).verify(frame)
    assert v.reason is Reason.OK and v.sn == 9
    tc = TcFrame.decode(v.frame)
    assert tc.seq == 4 and not tc.bypass and tc.scid == 0x2A5
    cmd = load_commands().decode_tc(tc.data)
    assert cmd.command.name == "switch_load" and dict(cmd.args) == {"load": "payload", "on": False}


def test_json_and_out(keyfile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tc.bin"
    assert main(["cmd", "ping", "--key", str(keyfile), "--bypass", "--json", "--out", str(out)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert bytes.fromhex(doc["cltu"]) == out.read_bytes() and TcFrame.decode(bytes.fromhex(doc["frame"])).bypass


@pytest.mark.parametrize("argv, words", [
    (["pong"], "no command 'pong'"),
    (["set_mode"], "set_mode.mode: missing"),
    (["set_mode", "mode=FAST"], "not one of SAFE"),
    (["set_mode", "mode=SAFE", "speed=3"], "no argument 'speed'"),
    (["set_heater_setpoint", "load=battery_heater", "on_c=50", "off_c=60"], "on_c: 50 C outside -40..40 C"),
    (["switch_load", "load=radio", "on=maybe"], "expected true or false"),
    (["set_parameter", "parameter=soc_safe", "value=abc"], "expected a number"),
    (["ping", "--sn", "0"], "sequence number 0"),
    (["ping", "--seq", "300"], "frame sequence number 300"),
])
def test_bad_input_is_one_line_exit_2(keyfile: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                      words: str) -> None:
    assert main(["cmd", *argv, "--key", str(keyfile)]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and err.startswith("skyrack cmd: ")


def test_unreadable_key_file(tmp_path: Path, keyfile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cmd", "ping", "--key", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml" in capsys.readouterr().err
    os.chmod(keyfile, 0o644)
    assert main(["cmd", "ping", "--key", str(keyfile)]) == 2
    err = capsys.readouterr().err
    assert "chmod 600" in err and err.count("\n") == 1
    assert main(["cmd", "ping"]) == 2
    assert "--key FILE is required" in capsys.readouterr().err


def test_cmd_port_sends_the_cltu_over_tcp(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket
    import threading

    key = tmp_path / "k.toml"
    key.write_text(f'[[key]]\nid = 1\nkey = "{bytes(range(32)).hex()}"\n', encoding="utf-8")
    os.chmod(key, 0o600)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    got: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(4096):
                got.append(chunk)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert main(["cmd", "ping", "--key", str(key), "--port", f"socket://127.0.0.1:{port}"]) == 0
    t.join(5)
    server.close()
    assert main(["cmd", "ping", "--key", str(key)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert b"".join(got) == bytes.fromhex(printed)  # the same CLTU, byte for byte


def test_cmd_port_unreachable_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "k.toml"
    key.write_text(f'[[key]]\nid = 1\nkey = "{bytes(range(32)).hex()}"\n', encoding="utf-8")
    os.chmod(key, 0o600)
    assert main(["cmd", "ping", "--key", str(key), "--port", "/dev/nonexistent-skyrack-port"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("skyrack cmd: --port /dev/nonexistent-skyrack-port: cannot open") and err.count("\n") == 1
