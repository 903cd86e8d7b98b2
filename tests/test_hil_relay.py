"""The software UART cable (hil.relay) and the link over real pseudo-terminals through it."""

from __future__ import annotations

import itertools
import os
import random
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hil.frame import FrameDecoder
from hil.link import Link, LinkConfig, LinkState, Message
from hil.messages import Kind, Role
from hil.pump import LinkPump, service_all
from hil.relay import PtyRelay, Relay
from hil.transport import Direction, Tap, open_port, read_tap, tap_streams

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")


def _read_exactly(port: object, n: int, limit_s: float = 10.0) -> bytes:
    got = bytearray()
    t_end = time.monotonic() + limit_s
    while len(got) < n and time.monotonic() < t_end:
        got += port.read(n - len(got))  # type: ignore[attr-defined]
        time.sleep(0.001)
    return bytes(got)


def _write_all(port: object, data: bytes) -> None:
    """The ports are non-blocking: write until the port took everything."""
    fd = port.fileno()  # type: ignore[attr-defined]
    view = memoryview(data)
    while view:
        select.select([], [fd], [], 1.0)
        n = port.write(bytes(view[:4096]))  # type: ignore[attr-defined]
        view = view[n:]


@pytest.fixture
def ports() -> Iterator[tuple[PtyRelay, object, object]]:
    relay = PtyRelay(baud=None).start()
    a, b = open_port(relay.port_a, 115200), open_port(relay.port_b, 115200)
    yield relay, a, b
    a.close()
    b.close()
    relay.stop()


def test_relays_both_ways_unchanged(ports: tuple[PtyRelay, object, object]) -> None:
    relay, a, b = ports
    data = bytes(range(256)) * 64
    _write_all(a, data)
    assert _read_exactly(b, len(data)) == data
    _write_all(b, data[::-1])
    assert _read_exactly(a, len(data)) == data[::-1]
    assert relay.stats.a_to_b.bytes_relayed == relay.stats.b_to_a.bytes_relayed == len(data)
    assert relay.stats.bits_flipped == relay.stats.bytes_dropped == 0


def test_paced_at_the_baud_rate() -> None:
    """Octets never arrive before the line could carry them (10 bits each)."""
    with PtyRelay(baud=115200) as relay:
        a, b = open_port(relay.port_a, 115200), open_port(relay.port_b, 115200)
        t0 = time.monotonic()
        _write_all(a, bytes(2304))  # 0.2 s of line time
        first = _read_exactly(b, 1)
        t_first = time.monotonic()
        rest = _read_exactly(b, 2303)
        elapsed = time.monotonic() - t0
        a.close()
        b.close()
    assert first + rest == bytes(2304)
    assert t_first - t0 >= 10 / 115200
    assert 0.2 <= elapsed < 1.0


def test_faults_are_seeded_and_counted() -> None:
    data = random.Random(1).randbytes(50_000)
    results = []
    for _ in range(2):
        with PtyRelay(ber=1e-3, drop_rate=1e-3, seed=42) as relay:
            a, b = open_port(relay.port_a, 115200), open_port(relay.port_b, 115200)
            got = bytearray()
            for i in range(0, len(data), 1000):  # a chunk at a time, reading as we go
                _write_all(a, data[i:i + 1000])
                got += _read_exactly(b, 1000 - 20, limit_s=1)
            time.sleep(0.1)
            st = relay.stats.a_to_b
            got += _read_exactly(b, len(data) - st.bytes_dropped - len(got))
            results.append((bytes(got), st.bits_flipped, st.bytes_dropped))
            a.close()
            b.close()
    assert results[0] == results[1]  # same seed, same octets: same faults
    got, flipped, dropped = results[0]
    n_bits = 8 * len(data)
    assert abs(flipped - n_bits * 1e-3) < 5 * (n_bits * 1e-3) ** 0.5  # within 5 sigma of the binomial mean
    assert abs(dropped - len(data) * 1e-3) < 5 * (len(data) * 1e-3) ** 0.5
    assert len(got) == len(data) - dropped


def test_unplugged_cable_loses_everything() -> None:
    with PtyRelay() as relay:
        a, b = open_port(relay.port_a, 115200), open_port(relay.port_b, 115200)
        relay.unplug()
        _write_all(a, b"lost" * 100)
        time.sleep(0.1)
        relay.plug()
        _write_all(a, b"kept")
        assert _read_exactly(b, 4) == b"kept"
        assert relay.stats.a_to_b.bytes_lost_unplugged == 400
        a.close()
        b.close()


# ------------------------------------------------------------------ the link through the relay


def _run_pair(host: LinkPump, board: LinkPump, n: int, size: int, limit_s: float) -> tuple[list[bytes], list[Message],
                                                                                           list[Message]]:
    rng = random.Random(5)
    sent = [i.to_bytes(4, "big") + rng.randbytes(size) for i in range(n)]
    got_host: list[Message] = []
    got_board: list[Message] = []
    i_host = i_board = 0
    t_end = time.monotonic() + limit_s
    while (sum(m.seq is not None for m in got_board) < n or sum(m.seq is not None for m in got_host) < n
           or host.link.pending() or board.link.pending()):
        assert time.monotonic() < t_end, "not all messages delivered in time"
        while i_host < n and host.link.pending() < 16:
            host.link.send(Kind.RADIO_TC, sent[i_host])
            i_host += 1
        while i_board < n and board.link.pending() < 16:
            board.link.send(Kind.RADIO_TM, sent[i_board])
            i_board += 1
        h, b = service_all([host, board], 0.01)
        got_host += h
        got_board += b
    return sent, got_host, got_board


def test_link_over_pty_with_bit_errors() -> None:
    baud = 921600
    with PtyRelay(baud=baud, ber=1e-4, seed=3) as relay:
        cfg = LinkConfig(baud=baud)
        host = LinkPump(Link(Role.HOST, cfg, session_id=1), open_port(relay.port_a, baud))
        board = LinkPump(Link(Role.BOARD, cfg, session_id=2), open_port(relay.port_b, baud))
        sent, got_host, got_board = _run_pair(host, board, 400, 150, limit_s=15)
        host.port.close()
        board.port.close()
        assert relay.error is None
        flipped = relay.stats.bits_flipped
    assert [m.payload for m in got_board if m.kind is Kind.RADIO_TC] == sent
    assert [m.payload for m in got_host if m.kind is Kind.RADIO_TM] == sent
    assert flipped > 50
    rejected = host.link.stats.rejected_frames + board.link.stats.rejected_frames
    assert rejected > 0
    assert host.link.stats.retransmissions + board.link.stats.retransmissions > 0
    assert host.link.state is LinkState.ESTABLISHED and board.link.state is LinkState.ESTABLISHED


def test_link_over_sockets_with_a_tap(tmp_path: Path) -> None:
    """socket:// transports joined by a Relay between the two accepted connections; the board side tapped."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    host_port = open_port(f"socket://127.0.0.1:{port}")
    conn_a, _ = server.accept()
    board_port = open_port(f"socket://127.0.0.1:{port}")
    conn_b, _ = server.accept()
    server.close()
    path = tmp_path / "board.tap"
    with Relay(conn_a.fileno(), conn_b.fileno()) as relay:
        tap = Tap(board_port, path)
        host = LinkPump(Link(Role.HOST, session_id=1), host_port)
        board = LinkPump(Link(Role.BOARD, session_id=2), tap)
        sent, got_host, got_board = _run_pair(host, board, 100, 60, limit_s=10)
        tap.close()
        host_port.close()
        assert relay.error is None
    conn_a.close()
    conn_b.close()
    assert [m.payload for m in got_board if m.kind is Kind.RADIO_TC] == sent
    assert [m.payload for m in got_host if m.kind is Kind.RADIO_TM] == sent
    records = list(read_tap(path))
    assert {r.direction for r in records} == {Direction.READ, Direction.WRITE}
    assert all(b.t_ns >= a.t_ns for a, b in itertools.pairwise(records))
    received, written = tap_streams(records)
    assert len(written) == board.link.stats.bytes_sent and len(received) == board.link.stats.bytes_received
    frames = FrameDecoder().feed(written)
    assert len(frames) == board.link.stats.frames_sent
    assert [f.payload for f in frames if f.kind == Kind.RADIO_TM] == sent


def test_link_survives_the_cable_pulled_for_a_while() -> None:
    baud = 921600
    with PtyRelay(baud=baud, seed=4) as relay:
        cfg = LinkConfig(baud=baud, rto_max_ns=200_000_000)
        host = LinkPump(Link(Role.HOST, cfg, session_id=1), open_port(relay.port_a, baud))
        board = LinkPump(Link(Role.BOARD, cfg, session_id=2), open_port(relay.port_b, baud))
        got: list[Message] = []
        t_end = time.monotonic() + 10
        while host.link.state is not LinkState.ESTABLISHED or board.link.state is not LinkState.ESTABLISHED:
            assert time.monotonic() < t_end
            service_all([host, board], 0.01)
        sent = [b"tm %d" % i for i in range(200)]
        t_plug = 0.0
        for i, frame in enumerate(sent):
            board.link.send(Kind.RADIO_TM, frame)
            if i == 50:  # pulled mid-stream, for half a second
                relay.unplug()
                t_plug = time.monotonic() + 0.5
            got += service_all([host, board], 0.001)[0]
        while time.monotonic() < t_plug:
            got += service_all([host, board], 0.01)[0]
        lost = relay.stats.b_to_a.bytes_lost_unplugged
        relay.plug()
        while len([m for m in got if m.kind is Kind.RADIO_TM]) < len(sent):
            assert time.monotonic() < t_end, "not delivered after the cable came back"
            got += service_all([host, board], 0.01)[0]
        host.port.close()
        board.port.close()
    assert [m.payload for m in got if m.kind is Kind.RADIO_TM] == sent
    assert lost > 0
    assert board.link.stats.timeouts > 0
