"""Regression tests for defects found in review: each failed before its fix."""

from __future__ import annotations

import json
import random
import socket
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from emulator import Emulator, load
from flight.ccsds.crc import crc16
from flight.ccsds.deframer import Deframer, InputFormat
from flight.ccsds.tm_frame import TmFrameConfig, TmFramer, cadu
from flight.dictionary import load_dictionary
from flight.dictionary.samples import random_values
from skyrack.cli import main

NS = 1_000_000_000
DICT = load_dictionary()


def _capture(n: int = 80) -> tuple[bytes, list[bytes]]:
    rng = random.Random(4)
    cfg = TmFrameConfig(scid=3)
    fr = TmFramer(cfg)
    pkts = []
    for k in range(n):
        p = DICT.packet("power_hk")
        pkt = p.encode(random_values(p, rng), k, NS * (k + 1000))
        pkts.append(pkt)
        fr.push(0, pkt)
    out = b""
    while fr.pending(0):
        out += cadu(fr.frame(0), cfg)
    return out, pkts


def _corrupt_first_packet(data: bytes) -> bytes:
    """Flip an octet inside the first packet (its own CRC then fails) and repair the frame's CRC."""
    b = bytearray(data)
    b[4 + 6 + 20] ^= 0xFF
    frame = b[4:4 + 1115]
    b[4 + 1113:4 + 1115] = crc16(bytes(frame[:-2])).to_bytes(2, "big")
    return bytes(b)


def test_an_undecodable_packet_is_one_decode_error_not_a_sequence_gap(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = _capture()
    (tmp_path / "c.cadu").write_bytes(_corrupt_first_packet(data))
    rc = main(["decode", str(tmp_path / "c.cadu"), "--stats", "--json"])
    st = json.loads(capsys.readouterr().out)
    assert rc == 1 and st["decode_errors"] == 1
    assert st["apids"]["256"] == {"packets": 80, "gaps": 0, "missing": 0}


def test_csv_columns_stay_aligned_with_an_undecodable_packet(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = _capture()
    (tmp_path / "c.cadu").write_bytes(_corrupt_first_packet(data))
    main(["decode", str(tmp_path / "c.cadu"), "--csv", str(tmp_path / "csv")])
    rows = (tmp_path / "csv" / "power_hk.csv").read_text().splitlines()
    widths = {len(r.split(",")) for r in rows}
    assert len(widths) == 1 and len(rows) == 81


@pytest.mark.parametrize("timeout", ["0", "-1"])
def test_bad_idle_timeout_is_a_usage_error(timeout: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["decode", "--port", "socket://127.0.0.1:9", "--idle-timeout", timeout])
    err = capsys.readouterr().err
    assert rc == 2 and "--idle-timeout must be > 0" in err


def test_a_reset_connection_ends_the_stream(capsys: pytest.CaptureFixture[str]) -> None:
    data, pkts = _capture(20)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        conn.sendall(data)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()  # linger 0: a reset, not an orderly close

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    rc = main(["decode", "--port", f"socket://127.0.0.1:{port}", "--idle-timeout", "1", "--json"])
    t.join(5)
    server.close()
    cap = capsys.readouterr()
    assert rc in (0, 1) and "Traceback" not in cap.err, cap.err
    assert len(cap.out.splitlines()) <= len(pkts)


@pytest.mark.parametrize("seed", ["-1", str(2**64)])
def test_out_of_range_seed_is_a_usage_error(seed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["run", "--duration", "10s", "--seed", seed, "--out", str(tmp_path)])
    assert rc == 2 and "--seed must be" in capsys.readouterr().err


def test_a_bad_header_in_an_unfinished_packet_is_counted_once() -> None:
    cfg = TmFrameConfig(scid=1, asm=False)
    df = cfg.data_field_len

    def frame(count: int, fhp: int, data: bytes) -> bytes:
        hdr = bytes([0x00 | (cfg.scid >> 4), ((cfg.scid & 0xF) << 4), count, count,
                     0x18 | (fhp >> 8), fhp & 0xFF])
        body = hdr + data.ljust(df, b"\x55")
        return body + crc16(body).to_bytes(2, "big")

    # frame 0: a packet that leaves 3 octets of a bad header (version 7) at the end of the field
    first = bytes([0x08, 0x10, 0xC0, 0x00, 0x00, 0x04]) + b"abcde"
    f0 = frame(0, 0, first + b"\x55" * (df - len(first) - 3) + b"\xe0\x00\x00")
    f1 = frame(1, 10, b"\x00" * df)
    d = Deframer(fmt=InputFormat.FRAMES)
    d.feed(f0 + f1)
    assert d.stats.bad_packets == 1


def test_power_the_array_does_not_deliver_stays_in_it_as_heat() -> None:
    sc = load("gpu-node")
    hot = {}
    for soc in (0.3, 1.0):  # a charging battery takes the array's power; a full one leaves most of it
        emu = Emulator(replace(sc, battery=replace(sc.battery, initial_soc=soc)))
        emu.advance(1800 * NS)
        hot[soc] = emu.snapshot()["temperatures_c"]["array"]
        s = emu.snapshot()
        assert s["array_used_w"] <= s["array_available_w"] + 1e-9
    assert hot[1.0] > hot[0.3] + 1.0
