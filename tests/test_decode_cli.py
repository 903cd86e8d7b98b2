"""`skyrack decode` end to end on captures built with the dictionary and the TM framer."""

from __future__ import annotations

import csv
import io
import json
import random
import socket
import threading
from pathlib import Path

import pytest

from flight.ccsds.tm_frame import TmFrameConfig, TmFramer, cadu
from flight.dictionary import load_dictionary
from flight.dictionary.samples import random_values
from skyrack.cli import main

DICT = load_dictionary()


def capture(n: int = 200, randomized: bool = False, frame_length: int = 1115, seed: int = 1,
            skip_seq: dict[int, set[int]] | None = None) -> tuple[bytes, list[bytes]]:
    rng = random.Random(seed)
    cfg = TmFrameConfig(scid=77, frame_length=frame_length, randomize=randomized)
    framer = TmFramer(cfg)
    packets = []
    seq: dict[int, int] = {}
    for k in range(n):
        pdef = DICT.packets[k % 4]
        s = seq.get(pdef.apid, 0)
        seq[pdef.apid] = s + 1
        if skip_seq and s in skip_seq.get(pdef.apid, set()):
            continue
        pkt = pdef.encode(random_values(pdef, rng), s, 1_000_000_000 * (k + 1))
        packets.append(pkt)
        framer.push(pdef.apid % 2, pkt)  # each APID on one virtual channel
    out = b""
    for vc in (0, 1):
        while framer.pending(vc):
            out += cadu(framer.frame(vc), cfg)
    return out, packets


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(["decode", *args])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def write(tmp_path: Path, data: bytes, name: str = "tm.cadu") -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def test_json_records_have_the_documented_shape_and_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, packets = capture()
    rc, out, err = run_cli([write(tmp_path, data), "--json"], capsys)
    assert rc == 0, err
    assert "detected frame length 1115, not randomized" in err
    recs = [json.loads(line) for line in out.splitlines()]
    assert len(recs) == len(packets)
    assert all(set(r) == {"apid", "name", "seq", "time", "fields"} for r in recs)
    by_key = {(r["apid"], r["seq"]): r for r in recs}
    for pkt in packets:
        d = DICT.decode(pkt)
        r = by_key[(d.apid, d.seq_count)]
        assert r["name"] == d.name and r["time"] == pytest.approx(d.time_s)
        assert r["fields"] == json.loads(json.dumps(dict(d.fields)))


def test_stats_json_counts_sequence_gaps_and_link_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, packets = capture(skip_seq={0x101: {10, 11, 12}, 0x102: {5}})
    rng = random.Random(9)
    damaged = bytearray(rng.randbytes(333) + data)
    damaged[-500] ^= 0x10  # one flipped bit inside the last frame
    rc, out, _ = run_cli([write(tmp_path, bytes(damaged)), "--stats", "--json"], capsys)
    assert rc == 1
    st = json.loads(out)
    for key in ("frames", "frame_gaps", "crc_errors", "bytes_skipped", "packets", "apids"):
        assert key in st
    assert st["crc_errors"] == 1 and st["bytes_skipped"] == 333
    assert st["apids"]["258"]["gaps"] == 1 and st["apids"]["258"]["missing"] == 1
    assert st["apids"]["257"]["gaps"] >= 1 and st["apids"]["257"]["missing"] >= 3
    clean, packets = capture()
    rc, out, _ = run_cli([write(tmp_path, clean, "clean.cadu"), "--stats", "--json", "--frame-length", "1115",
                          "--no-randomized"], capsys)
    st = json.loads(out)
    assert rc == 0 and st["crc_errors"] == 0 and st["frame_gaps"] == 0 and st["packets"] == len(packets)
    assert all(a["gaps"] == 0 for a in st["apids"].values())


def test_randomized_channel_is_detected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, packets = capture(randomized=True, frame_length=892)
    rc, out, err = run_cli([write(tmp_path, data), "--json"], capsys)
    assert rc == 0 and "detected frame length 892, randomized" in err
    assert len(out.splitlines()) == len(packets)


def test_apid_filter_table_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, packets = capture()
    path = write(tmp_path, data)
    rc, out, _ = run_cli([path, "--apid", "256", "--json"], capsys)
    assert rc == 0 and {json.loads(x)["apid"] for x in out.splitlines()} == {256}
    rc, out, _ = run_cli([path], capsys)
    assert rc == 0 and out.splitlines()[0].split()[:4] == ["time", "apid", "name", "seq"]
    assert len(out.splitlines()) == len(packets) + 1
    rc, _, _ = run_cli([path, "--csv", str(tmp_path / "csv")], capsys)
    assert rc == 0
    files = sorted(p.name for p in (tmp_path / "csv").iterdir())
    assert files == ["battery_hk.csv", "payload_hk.csv", "power_hk.csv", "thermal_hk.csv"]
    with (tmp_path / "csv" / "power_hk.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["apid", "seq", "time"] and len(rows) == 1 + len(packets) // 4


def test_unknown_apids_are_reported_with_headers_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flight.ccsds.spacepacket import encode_packet

    pkts = [encode_packet(0x3AB, k, bytes(20)) for k in range(5)]
    rc, out, _ = run_cli([write(tmp_path, b"".join(pkts)), "--format", "packets", "--json"], capsys)
    recs = [json.loads(x) for x in out.splitlines()]
    assert rc == 0 and [r["seq"] for r in recs] == list(range(5))
    assert all(r["name"] is None and r["time"] is None and r["fields"] == {} for r in recs)


def test_standard_input(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    data, packets = capture(n=40)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    rc, out, _ = run_cli(["-", "--json"], capsys)
    assert rc == 0 and len(out.splitlines()) == len(packets)


def test_live_stream_from_a_socket_port(capsys: pytest.CaptureFixture[str]) -> None:
    data, packets = capture(n=60)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            for i in range(0, len(data), 700):
                conn.sendall(data[i:i + 700])

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    rc, out, _ = run_cli(["--port", f"socket://127.0.0.1:{port}", "--idle-timeout", "0.5", "--json"], capsys)
    t.join(5)
    server.close()
    assert rc == 0 and len(out.splitlines()) == len(packets)


@pytest.mark.parametrize("args,message", [
    ([], "give an input file"),
    (["/nonexistent/tm.cadu"], "cannot read /nonexistent/tm.cadu"),
    (["x", "--port", "loop://"], "not both"),
    (["--port", "nosuchscheme://x"], "cannot open"),
    (["f", "--frame-length", "5"], "outside 13..65536"),
])
def test_bad_usage_is_one_line_and_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _out, err = run_cli(args, capsys)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_garbage_and_truncation_never_stop_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, packets = capture(n=800)
    rng = random.Random(3)
    stream = bytearray(data[: len(data) - 400])  # truncated
    for pos in rng.sample(range(len(stream)), 4):
        stream[pos] ^= 0xFF
    stream = bytearray(rng.randbytes(5000)) + stream
    rc, out, err = run_cli([write(tmp_path, bytes(stream)), "--json", "--frame-length", "1115"], capsys)
    assert rc == 1 and "errors counted" in err
    got = [json.loads(x) for x in out.splitlines()]
    assert 0 < len(got) < len(packets)
