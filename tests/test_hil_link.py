"""The sans-I/O link under a fake clock: a simulated line that corrupts, drops and duplicates, and the
handshake cases (peer restart, version mismatch, role conflict)."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

import pytest

from hil.frame import FLAG_SEQ, PROTOCOL_VERSION, FrameDecoder, encode_frame
from hil.link import SEQ_MOD, Link, LinkConfig, LinkState, Message
from hil.messages import ErrorCode, ErrorMsg, Hello, Kind, Role, TickDone

MS = 1_000_000


@dataclass
class Faults:
    ber: float = 0.0  # per bit
    byte_drop: float = 0.0  # per octet
    frame_drop: float = 0.0  # per frame, whole frames (delimiter included)
    frame_dup: float = 0.0  # per frame, sent twice in a row
    garbage: float = 0.0  # per frame, a burst of random octets before it


class Line:
    """One direction of a serial line under a fake clock: octets arrive in order, `octet_ns` apart after
    `latency_ns`, with the faults applied (seeded)."""

    def __init__(self, rng: random.Random, faults: Faults, octet_ns: int = 0, latency_ns: int = 200_000) -> None:
        self.rng = rng
        self.faults = faults
        self.octet_ns = octet_ns
        self.latency_ns = latency_ns
        self.free_ns = 0
        self.chunks: deque[tuple[int, bytes]] = deque()  # (arrival time, octets)
        self.connected = True
        self.bits_flipped = 0

    def put(self, data: bytes, now_ns: int) -> None:
        if not data:
            return
        f = self.faults
        rng = self.rng
        out = bytearray()
        for piece in data.split(b"\x00")[:-1]:
            frame = piece + b"\x00"
            if rng.random() < f.garbage:
                out += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
            if rng.random() < f.frame_drop:
                continue
            out += frame
            if rng.random() < f.frame_dup:
                out += frame
        if f.ber:
            nbits = 8 * len(out)
            i = int(rng.expovariate(f.ber))
            while i < nbits:
                out[i // 8] ^= 0x80 >> (i % 8)
                self.bits_flipped += 1
                i += 1 + int(rng.expovariate(f.ber))
        if f.byte_drop:
            out = bytearray(b for b in out if rng.random() >= f.byte_drop)
        start = max(now_ns, self.free_ns)
        self.free_ns = start + self.octet_ns * len(data)  # the line time is spent even on dropped octets
        if self.connected and out:
            self.chunks.append((self.free_ns + self.latency_ns, bytes(out)))

    def take(self, now_ns: int) -> bytes:
        out = bytearray()
        while self.chunks and self.chunks[0][0] <= now_ns:
            out += self.chunks.popleft()[1]
        return bytes(out)

    def next_arrival_ns(self) -> int | None:
        return self.chunks[0][0] if self.chunks else None


class Rig:
    """Two endpoints joined by two Lines, stepped by a fake clock from one event to the next."""

    def __init__(self, a: Link, b: Link, faults: Faults | None = None, seed: int = 1, octet_ns: int = 0) -> None:
        self.a, self.b = a, b
        rng = random.Random(seed)
        self.ab = Line(random.Random(rng.random()), faults or Faults(), octet_ns)
        self.ba = Line(random.Random(rng.random()), faults or Faults(), octet_ns)
        self.t = 0
        self.got_a: list[Message] = []
        self.got_b: list[Message] = []
        self.idle_polls = 0
        self.immediate = False

    def step(self) -> None:
        out_a = self.a.poll_output(self.t)
        out_b = self.b.poll_output(self.t)
        self.ab.put(out_a, self.t)
        self.ba.put(out_b, self.t)
        in_b, in_a = self.ab.take(self.t), self.ba.take(self.t)
        if self.immediate and not (out_a or out_b or in_a or in_b):
            self.idle_polls += 1  # a deadline in the past with nothing to do: a real loop would spin
        self.got_b += self.b.feed(in_b, self.t)
        self.got_a += self.a.feed(in_a, self.t)
        times = [x for x in (self.a.next_deadline_ns(), self.b.next_deadline_ns(), self.ab.next_arrival_ns(),
                             self.ba.next_arrival_ns()) if x is not None]
        nxt = min(times) if times else self.t + 10 * MS
        self.immediate = nxt <= self.t
        self.t = max(nxt, self.t + 1)

    def run_until(self, done: object, limit_ns: int) -> None:
        assert callable(done)
        while not done():
            assert self.t < limit_ns, f"not done after {limit_ns / 1e9} s of simulated time"
            self.step()

    def connect(self) -> None:
        self.run_until(lambda: self.a.state is LinkState.ESTABLISHED and self.b.state is LinkState.ESTABLISHED,
                       self.t + 30_000 * MS)


def payloads(rng: random.Random, n: int, max_len: int = 300) -> list[bytes]:
    return [i.to_bytes(4, "big") + rng.randbytes(rng.randrange(max_len)) for i in range(n)]


def data_only(msgs: list[Message]) -> list[Message]:
    return [m for m in msgs if m.seq is not None]


def exchange(rig: Rig, n: int, seed: int, limit_s: float = 3600, max_len: int = 300) -> tuple[list[bytes], list[bytes]]:
    """Each side sends n messages, a few at a time as an application would; returns what each sent."""
    rng = random.Random(seed)
    to_b, to_a = payloads(rng, n, max_len), payloads(rng, n, max_len)
    ia = ib = 0

    def done() -> bool:
        nonlocal ia, ib
        while ia < n and rig.a.pending() < 20:
            rig.a.send(Kind.RADIO_TC, to_b[ia])
            ia += 1
        while ib < n and rig.b.pending() < 20:
            rig.b.send(Kind.RADIO_TM, to_a[ib])
            ib += 1
        return len(data_only(rig.got_b)) >= n and len(data_only(rig.got_a)) >= n and not rig.a.pending() \
            and not rig.b.pending()

    rig.run_until(done, rig.t + int(limit_s * 1e9))
    return to_b, to_a


def check_delivery(got: list[Message], sent: list[bytes], kind: Kind, first_seq: int = 0) -> None:
    data = data_only(got)
    assert [m.payload for m in data] == sent  # every message, once, in order
    assert all(m.kind is kind for m in data)
    assert [m.seq for m in data] == [(first_seq + i) % SEQ_MOD for i in range(len(sent))]


def pair(config: LinkConfig | None = None, config_b: LinkConfig | None = None) -> tuple[Link, Link]:
    return (Link(Role.HOST, config, session_id=0x1111, software="host-1"),
            Link(Role.BOARD, config_b or config, session_id=0x2222, software="board-1"))


# ------------------------------------------------------------------ clean line


def test_handshake_and_clean_exchange() -> None:
    rig = Rig(*pair())
    rig.connect()
    hellos_b = [m for m in rig.got_b if m.kind is Kind.HELLO]
    assert len(hellos_b) == 1 and hellos_b[0].seq is None
    peer = hellos_b[0].decode()
    assert isinstance(peer, Hello) and peer.role is Role.HOST and peer.software == "host-1"
    assert rig.b.peer is not None and rig.b.peer.session_id == 0x1111
    sent_b, sent_a = exchange(rig, 500, seed=2)
    check_delivery(rig.got_b, sent_b, Kind.RADIO_TC)
    check_delivery(rig.got_a, sent_a, Kind.RADIO_TM)
    for link in (rig.a, rig.b):
        s = link.stats
        assert s.retransmissions == 0 and s.rejected_frames == 0 and s.duplicates == 0
        assert s.messages_sent == s.data_frames_sent == 500 and s.messages_delivered == 500
    assert rig.idle_polls == 0


def test_send_rejects_link_kinds_and_oversize() -> None:
    a, _ = pair(LinkConfig(max_payload=100))
    with pytest.raises(ValueError):
        a.send(Kind.HELLO)
    with pytest.raises(ValueError):
        a.send(Kind.ACK)
    with pytest.raises(ValueError):
        a.send(Kind.RADIO_TM, bytes(101))


def test_messages_queued_before_the_handshake_go_out_after_it() -> None:
    a, b = pair()
    for i in range(30):
        a.send_message(TickDone(i))
    rig = Rig(a, b)
    rig.run_until(lambda: len(data_only(rig.got_b)) == 30, 10_000 * MS)
    assert [m.decode() for m in data_only(rig.got_b)] == [TickDone(i) for i in range(30)]


# ------------------------------------------------------------------ faults


@pytest.mark.parametrize(("seed", "faults"), [
    (3, Faults(ber=2e-4)),
    (4, Faults(byte_drop=1e-3)),
    (5, Faults(frame_drop=0.1)),
    (6, Faults(frame_dup=0.1)),
    (7, Faults(ber=1e-4, byte_drop=5e-4, frame_drop=0.05, frame_dup=0.05, garbage=0.05)),
])
def test_lossy_line_delivers_everything_once_in_order(seed: int, faults: Faults) -> None:
    rig = Rig(*pair(), faults=faults, seed=seed)
    rig.connect()
    sent_b, sent_a = exchange(rig, 2000, seed=seed)
    check_delivery(rig.got_b, sent_b, Kind.RADIO_TC)
    check_delivery(rig.got_a, sent_a, Kind.RADIO_TM)
    s_a, s_b = rig.a.stats, rig.b.stats
    if faults.ber or faults.byte_drop or faults.frame_drop:
        assert s_a.retransmissions + s_b.retransmissions > 0
    else:
        assert s_a.retransmissions + s_b.retransmissions == 0
    if faults.ber:
        assert s_a.crc_errors + s_b.crc_errors + s_a.cobs_errors + s_b.cobs_errors > 0
    if faults.frame_dup:
        assert s_a.duplicates + s_b.duplicates > 0
    if faults.frame_drop:
        assert s_a.out_of_order + s_b.out_of_order > 0
        assert s_a.fast_retransmissions + s_b.fast_retransmissions > 0
    assert rig.idle_polls == 0


def test_sequence_numbers_wrap_around() -> None:
    cfg = LinkConfig(first_seq=SEQ_MOD - 40)
    rig = Rig(*pair(cfg), faults=Faults(frame_drop=0.05, frame_dup=0.05), seed=8)
    rig.connect()
    sent_b, sent_a = exchange(rig, 300, seed=8)
    check_delivery(rig.got_b, sent_b, Kind.RADIO_TC, first_seq=SEQ_MOD - 40)
    check_delivery(rig.got_a, sent_a, Kind.RADIO_TM, first_seq=SEQ_MOD - 40)
    assert 0 in [m.seq for m in rig.got_b] and SEQ_MOD - 1 in [m.seq for m in rig.got_b]


def test_cable_pulled_then_replugged() -> None:
    rig = Rig(*pair(), seed=9)
    rig.connect()
    for i in range(50):
        rig.a.send(Kind.RADIO_TC, bytes([i]) * 10)
    rig.ab.connected = rig.ba.connected = False
    t_pull = rig.t
    rig.run_until(lambda: rig.t > t_pull + 20_000 * MS, t_pull + 21_000 * MS)
    assert rig.a.stats.timeouts > 0
    assert rig.a.rto_ns() == rig.a.config.rto_max_ns  # backed off to the ceiling, not beyond
    assert (rig.b.silent_ns(rig.t) or 0) >= 19_000 * MS
    rig.ab.connected = rig.ba.connected = True
    rig.run_until(lambda: len(data_only(rig.got_b)) == 50, rig.t + 10_000 * MS)
    check_delivery(rig.got_b, [bytes([i]) * 10 for i in range(50)], Kind.RADIO_TC)
    assert rig.a.state is LinkState.ESTABLISHED


def test_heartbeats_when_idle() -> None:
    rig = Rig(*pair(LinkConfig(heartbeat_interval_ns=100 * MS)))
    rig.connect()
    t0 = rig.t
    rig.run_until(lambda: rig.t >= t0 + 1000 * MS, t0 + 2000 * MS)
    assert 8 <= rig.a.stats.heartbeats_sent <= 12 and 8 <= rig.b.stats.heartbeats_received <= 12
    assert (rig.a.silent_ns(rig.t) or 0) <= 100 * MS


# ------------------------------------------------------------------ line rate


def test_line_model_keeps_the_pipe_full() -> None:
    """Over a simulated 115200 baud line, 1115-octet messages flow at the line rate less the framing."""
    cfg = LinkConfig(baud=115200)
    octet_ns = 10**10 // 115200
    rig = Rig(*pair(cfg), octet_ns=octet_ns)
    rig.connect()
    n = 60
    for i in range(n):
        rig.b.send(Kind.RADIO_TM, bytes([i % 256]) * 1115)
    t0 = rig.t
    times: list[int] = []

    def done() -> bool:
        times.extend(rig.t for m in data_only(rig.got_a)[len(times):])
        return len(times) == n

    rig.run_until(done, t0 + 60_000 * MS)
    goodput = (n - 1) * 1115 / ((times[-1] - times[0]) / 1e9)
    assert goodput / 11520 > 0.97
    assert rig.b.stats.retransmissions == 0
    assert rig.b.stats.acks_received > 0


# ------------------------------------------------------------------ restart and handshake failures


def test_peer_restart_resets_the_session() -> None:
    rig = Rig(*pair(), seed=10)
    rig.connect()
    sent_b, sent_a = exchange(rig, 100, seed=10)
    check_delivery(rig.got_a, sent_a, Kind.RADIO_TM)
    # the board has messages in flight when the host goes away
    for i in range(5):
        rig.b.send(Kind.RADIO_TM, b"old %d" % i)
    rig.b.poll_output(rig.t)
    rig.a = Link(Role.HOST, session_id=0x3333, software="host-2")
    rig.got_a, rig.got_b = [], []
    rig.connect()
    assert rig.b.stats.peer_restarts == 1
    assert rig.b.stats.messages_discarded == 5
    hellos = [m.decode() for m in rig.got_b if m.kind is Kind.HELLO]
    assert [(h.session_id, h.software) for h in hellos if isinstance(h, Hello)] == [(0x3333, "host-2")]
    sent_b, sent_a = exchange(rig, 200, seed=11)
    assert [m.payload for m in data_only(rig.got_a)] == sent_a  # nothing of the old session
    check_delivery(rig.got_b, sent_b, Kind.RADIO_TC)
    board_first = data_only(rig.got_a)[0].seq
    assert board_first == 105  # the board's numbering continues; the new host learned it from the HELLO


def test_version_mismatch_is_a_clear_error() -> None:
    board = Link(Role.BOARD, session_id=7, software="board-1")
    board.poll_output(0)
    foreign = encode_frame(Kind.HELLO, Hello(PROTOCOL_VERSION + 1, Role.HOST, 99, software="9.9").encode(),
                           version=PROTOCOL_VERSION + 1)
    got = board.feed(foreign, MS)
    assert board.state is LinkState.FAILED
    assert len(got) == 1 and got[0].local and got[0].seq is None
    err = got[0].decode()
    assert isinstance(err, ErrorMsg) and err.code is ErrorCode.VERSION_MISMATCH
    assert err.text == board.failure
    assert f"speaks version {PROTOCOL_VERSION + 1}" in err.text and f"speaks version {PROTOCOL_VERSION}" in err.text
    assert "'9.9'" in err.text and "\n" not in err.text
    assert board.feed(foreign, 2 * MS) == []  # said once
    # a data frame of that version is counted, never delivered
    assert board.feed(encode_frame(Kind.TICK, b"x", flags=FLAG_SEQ, version=PROTOCOL_VERSION + 1), 3 * MS) == []
    assert board.stats.bad_version == 1
    # the right host connects: the link recovers
    rig = Rig(Link(Role.HOST, session_id=8), board)
    rig.t = 10 * MS
    rig.connect()
    assert board.failure is None
    rig.a.send(Kind.TICK, b"t")
    rig.run_until(lambda: len(data_only(rig.got_b)) == 1, rig.t + 1000 * MS)


def test_both_ends_seeing_the_mismatch() -> None:
    """An old host and a new board: each end reports the mismatch from the other's HELLO."""
    host = Link(Role.HOST, session_id=1)
    board = Link(Role.BOARD, session_id=2, software="new")
    rig = Rig(host, board)
    real = board.poll_output

    def newer(now_ns: int) -> bytes:  # the board's frames as a newer release would write them
        return _reversion(real(now_ns))

    board.poll_output = newer  # type: ignore[method-assign]
    rig.run_until(lambda: host.state is LinkState.FAILED, 2000 * MS)
    assert host.failure is not None
    assert f"speaks version {PROTOCOL_VERSION + 1}" in host.failure and "'new'" in host.failure
    local = [m.decode() for m in rig.got_a if m.local]
    assert len(local) == 1 and isinstance(local[0], ErrorMsg) and local[0].code is ErrorCode.VERSION_MISMATCH


def _reversion(wire: bytes) -> bytes:
    out = bytearray()
    for f in FrameDecoder().feed(wire):
        out += encode_frame(f.kind, f.payload, seq=f.seq, ack=f.ack, flags=f.flags, version=PROTOCOL_VERSION + 1)
    return bytes(out)


def test_role_conflict() -> None:
    rig = Rig(Link(Role.BOARD, session_id=1), Link(Role.BOARD, session_id=2))
    rig.run_until(lambda: rig.a.state is LinkState.FAILED and rig.b.state is LinkState.FAILED, 2000 * MS)
    assert rig.a.failure is not None and "both ends are the board" in rig.a.failure
    errs = [m.decode() for m in rig.got_a if m.kind is Kind.ERROR]
    assert len(errs) == 1 and isinstance(errs[0], ErrorMsg) and errs[0].code is ErrorCode.ROLE_CONFLICT


def test_feed_never_raises_on_garbage() -> None:
    rng = random.Random(12)
    link = Link(Role.HOST, session_id=1)
    for i in range(300):
        link.feed(rng.randbytes(rng.randrange(200)) + b"\x00", i)
        # valid frames with nonsense content
        link.feed(encode_frame(rng.randrange(256), rng.randbytes(rng.randrange(40)), seq=rng.randrange(SEQ_MOD),
                               ack=rng.randrange(SEQ_MOD), flags=rng.randrange(256)), i)
    assert link.stats.frames_received >= 300
    assert link.stats.rejected_frames > 0


def test_announced_error_arrives_outside_the_stream() -> None:
    a, b = pair()
    a.announce_error(ErrorMsg(ErrorCode.UNSUPPORTED, "no real payload on this board"))
    rig = Rig(a, b)
    rig.connect()
    errors = [m for m in rig.got_b if m.kind is Kind.ERROR]
    assert len(errors) == 1 and errors[0].seq is None and not errors[0].local
    assert errors[0].decode() == ErrorMsg(ErrorCode.UNSUPPORTED, "no real payload on this board")


def test_one_frame_each_way_per_tick_when_replies_carry_the_acks() -> None:
    """Lockstep: TICK out, TICK_DONE back (carrying the ack), the next TICK carrying the ack of that."""
    rig = Rig(*pair())
    rig.connect()
    sent_a0, sent_b0 = rig.a.stats.frames_sent, rig.b.stats.frames_sent
    ticks = 50
    for k in range(ticks):
        rig.a.send(Kind.TICK, k.to_bytes(4, "big"))
        rig.ab.put(rig.a.poll_output(rig.t), rig.t)
        rig.t += MS
        got = rig.b.feed(rig.ab.take(rig.t), rig.t)
        assert [m.kind for m in got] == [Kind.TICK]
        rig.b.send(Kind.TICK_DONE, got[0].payload)
        rig.ba.put(rig.b.poll_output(rig.t), rig.t)
        rig.t += MS
        assert [m.kind for m in rig.a.feed(rig.ba.take(rig.t), rig.t)] == [Kind.TICK_DONE]
    assert rig.a.stats.frames_sent - sent_a0 == ticks
    assert rig.b.stats.frames_sent - sent_b0 == ticks
    assert rig.a.pending() == 0 and rig.b.pending() == 1  # the last TICK_DONE waits for the next TICK's ack


def test_delivery_does_not_depend_on_how_the_stream_is_cut() -> None:
    """What an endpoint delivers depends on the octets it is fed, not on the chunks they come in."""
    rig = Rig(*pair(), faults=Faults(ber=2e-4, frame_drop=0.05, frame_dup=0.05, garbage=0.05), seed=13)
    stream = bytearray()
    real_put = rig.ab.put

    def put(data: bytes, now_ns: int) -> None:
        before = len(rig.ab.chunks)
        real_put(data, now_ns)
        for _, chunk in list(rig.ab.chunks)[before:]:
            stream.extend(chunk)

    rig.ab.put = put  # type: ignore[method-assign]
    rig.connect()
    exchange(rig, 300, seed=13)
    reference = [(m.kind, m.payload, m.seq) for m in rig.got_b]
    assert len(data_only(rig.got_b)) == 300
    rng = random.Random(14)
    for cuts in ("octets", "random"):
        b = Link(Role.BOARD, session_id=0x2222, software="board-1")
        got: list[Message] = []
        pos = 0
        while pos < len(stream):
            n = 1 if cuts == "octets" else rng.randrange(1, 3000)
            got += b.feed(bytes(stream[pos:pos + n]), pos)
            pos += n
        assert [(m.kind, m.payload, m.seq) for m in got] == reference
