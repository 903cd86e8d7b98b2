"""A reliable, ordered message link over a byte stream, with no I/O: bytes and time go in, bytes and
messages come out.

Use::

    link = Link(Role.BOARD, LinkConfig(baud=921600))
    link.send(Kind.TICK_DONE, TickDone(7).encode())      # queued; returns its sequence number
    port.write(link.poll_output(now_ns))                   # new frames, acks, retransmissions
    for msg in link.feed(port.read(4096), now_ns): ...     # delivered in order, exactly once
    wait until link.next_deadline_ns() (or until bytes arrive), then poll_output again

The endpoint never reads a clock or touches a port: `now_ns` comes from the caller (any monotonic
integer nanoseconds), so the same code runs under a fake clock in tests.

Protocol (frames as in `hil.frame`, payloads as in `hil.messages`):

Handshake. Each end picks a 32-bit session id and sends HELLO (protocol version, role, session id, the
sequence number of its first sequenced frame, its receive window, capabilities, software version) every
`hello_interval_ns` until a HELLO_ACK echoing that session id arrives. Each HELLO received is answered
with a HELLO_ACK. An end sends sequenced frames only once its HELLO is acknowledged and it has the peer's
HELLO; until then messages wait in the queue. A HELLO whose frame version is not `PROTOCOL_VERSION`, or
from an end of the same role, puts the link in the FAILED state with a one-line reason (`Link.failure`),
delivered once as a local ERROR message (seq None); a later valid HELLO from a new session clears it.

Peer restart. A HELLO carrying a session id other than the known peer's means the peer restarted: the
receive state takes the new peer's first sequence number, every message queued or unacknowledged for the
old peer is discarded (counted in `messages_discarded`), and this end sends its HELLO again, announcing
its next sequence number. The new peer's HELLO is delivered to the application (seq None), as the first
one is: a delivered HELLO means "a peer (re)connected; start over with it".

Sequenced frames (flag SEQ) carry message kinds BUS_BATCH .. BUS_BATCH_T and ERROR. Sequence numbers are
16-bit and wrap. Selective repeat: the sender keeps up to ``min(window, peer's window)`` frames
unacknowledged; the receiver delivers in order, buffers frames that arrive early (within its window),
and suppresses duplicates (anything already delivered or already buffered).

Acknowledgement. Every frame sent after the handshake carries the cumulative ack (flag ACK: the next
sequence number expected from the peer). When a sequenced frame arrives and no data frame is going out to
carry the ack (or after `ack_delay_ns`), and always while frames are buffered out of order, a standalone
ACK frame goes out; its payload is the selective-ack bitmap of the frames buffered beyond the cumulative
ack. A byte stream keeps its order, so when the bitmap shows a frame that was first sent after the last
transmission of a frame still missing, that transmission was lost and is repeated at once (fast
retransmission) rather than after the timeout.

Retransmission timeout. With `baud` set, the endpoint models the line (10 bits per octet) to know when
each frame has left: the timer of a frame runs from the end of its transmission. RTO = SRTT + 4 RTTVAR
(RFC 6298, samples from frames sent once only), at least `rto_min_ns` plus the line time of the longest
frame seen from the peer (an ack can wait behind one), at most `rto_max_ns`; it doubles once per round of
timeouts until a fresh sample. Before any sample it is `rto_initial_ns`. A frame's timer is the RTO plus
its own line time: a spurious resend of a long frame costs that much line time, so it waits longer.

Pacing. With `baud` and `tx_ahead_ns` set, new frames are released only while the modelled line is busy
for less than `tx_ahead_ns`, so the OS buffers stay shallow (acks are not queued behind seconds of data)
while the line never idles.

Heartbeat. After `heartbeat_interval_ns` without sending anything, an established end sends HEARTBEAT
(unsequenced; it carries the cumulative ack). `Link.silent_ns(now_ns)` is the time since the last valid
frame from the peer: the application's measure of a pulled cable.

Bad input never raises out of `feed`: it is counted in `LinkStats`.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from enum import Enum

from hil.frame import (
    FLAG_ACK,
    FLAG_RETX,
    FLAG_SEQ,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    Frame,
    FrameDecoder,
    encode_frame,
    max_wire_size,
)
from hil.messages import (
    LINK_KINDS,
    MAX_SACK_OCTETS,
    Ack,
    Capability,
    ErrorCode,
    ErrorMsg,
    Heartbeat,
    Hello,
    HelloAck,
    Kind,
    MessageBody,
    MessageError,
    Role,
    decode_message,
)

__all__ = ["Link", "LinkConfig", "LinkState", "LinkStats", "Message"]

SEQ_MOD = 1 << 16
_HALF = SEQ_MOD // 2
MAX_WINDOW = 8 * MAX_SACK_OCTETS  # 256: the selective-ack bitmap covers a whole window
_GRANULARITY_NS = 1_000_000
_KINDS = {k.value: k for k in Kind}


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """Tuning of one endpoint. Times in integer nanoseconds."""

    window: int = 8  # frames unacknowledged at once (and frames this end buffers out of order), 1..256
    baud: int | None = None  # line rate, 10 bits per octet; None: unknown (a socket), no line model
    rto_initial_ns: int | None = None  # None: 200 ms plus twice the line time of a largest frame
    rto_min_ns: int = 20_000_000
    rto_max_ns: int = 2_000_000_000
    ack_delay_ns: int = 0  # wait this long for a data frame to carry an ack before a standalone ACK
    hello_interval_ns: int = 250_000_000
    heartbeat_interval_ns: int | None = 1_000_000_000
    tx_ahead_ns: int | None = 20_000_000  # with baud: release new frames while the line is busy for less
    max_payload: int = MAX_PAYLOAD
    first_seq: int = 0  # sequence number of the first sequenced frame

    def __post_init__(self) -> None:
        if not 1 <= self.window <= MAX_WINDOW:
            raise ValueError(f"window must be in 1..{MAX_WINDOW} frames, got {self.window}")
        if self.baud is not None and self.baud <= 0:
            raise ValueError(f"baud must be > 0, got {self.baud}")
        if not 0 <= self.max_payload <= MAX_PAYLOAD:
            raise ValueError(f"max_payload must be in 0..{MAX_PAYLOAD}, got {self.max_payload}")
        if not 0 <= self.first_seq < SEQ_MOD:
            raise ValueError(f"first_seq must be in 0..{SEQ_MOD - 1}, got {self.first_seq}")
        if not 0 < self.rto_min_ns <= self.rto_max_ns:
            raise ValueError("need 0 < rto_min_ns <= rto_max_ns")
        for name in ("hello_interval_ns", "heartbeat_interval_ns", "tx_ahead_ns", "rto_initial_ns"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if self.ack_delay_ns < 0:
            raise ValueError(f"ack_delay_ns must be >= 0, got {self.ack_delay_ns}")

    def octet_ns(self) -> float:
        """Line time of one octet (0 without a baud rate)."""
        return 10e9 / self.baud if self.baud else 0.0

    def initial_rto_ns(self) -> int:
        if self.rto_initial_ns is not None:
            return self.rto_initial_ns
        return 200_000_000 + int(2 * self.octet_ns() * max_wire_size(self.max_payload))


class LinkState(Enum):
    CONNECTING = "connecting"  # HELLO not yet acknowledged, or no HELLO from the peer yet
    ESTABLISHED = "established"
    FAILED = "failed"  # version mismatch or role conflict: see Link.failure


@dataclass(slots=True)
class LinkStats:
    """Counters of one endpoint since it was created (srtt_ns and rto_ns are current values)."""

    frames_sent: int = 0
    frames_received: int = 0  # valid frames (CRC and length good), of any kind
    bytes_sent: int = 0  # octets on the line, delimiters included
    bytes_received: int = 0
    messages_sent: int = 0  # accepted by send()
    messages_delivered: int = 0  # returned by feed(), sequenced ones
    data_frames_sent: int = 0  # first transmissions of sequenced frames
    retransmissions: int = 0  # repeated transmissions of sequenced frames (timeout or fast)
    timeouts: int = 0
    fast_retransmissions: int = 0
    acks_sent: int = 0  # standalone ACK frames
    acks_received: int = 0
    duplicates: int = 0  # sequenced frames received again (already delivered or already buffered)
    out_of_order: int = 0  # sequenced frames buffered ahead of a missing one
    out_of_window: int = 0  # sequenced frames dropped beyond the receive window
    crc_errors: int = 0
    cobs_errors: int = 0
    length_errors: int = 0
    oversize: int = 0
    bad_version: int = 0  # frames of another protocol version (other than HELLO)
    bad_payloads: int = 0  # link messages (HELLO, HELLO_ACK, ACK, HEARTBEAT) that did not decode
    unexpected: int = 0  # frames that make no sense now: before the peer's HELLO, stray unsequenced kinds
    hellos_sent: int = 0
    hellos_received: int = 0
    heartbeats_sent: int = 0
    heartbeats_received: int = 0
    peer_restarts: int = 0
    messages_discarded: int = 0  # queued or unacknowledged when the peer restarted
    srtt_ns: int = 0
    rto_ns: int = 0

    @property
    def rejected_frames(self) -> int:
        return self.crc_errors + self.cobs_errors + self.length_errors + self.oversize


@dataclass(frozen=True, slots=True)
class Message:
    """A message delivered by `Link.feed`. seq is None for a HELLO (peer connected) and an ERROR that did
    not travel in the sequenced stream (among them the link's own, local=True)."""

    kind: Kind | int  # an int only for a kind this end does not know
    payload: bytes
    seq: int | None = None
    local: bool = False

    def decode(self) -> MessageBody:
        """The typed message; raises MessageError for a malformed payload or an unknown kind."""
        return decode_message(int(self.kind), self.payload)


@dataclass(slots=True)
class _Out:
    """A sequenced frame sent and not yet acknowledged."""

    kind: int
    payload: bytes
    tx_count: int = 0
    first_order: int = 0  # transmission order numbers (increasing over all frames sent)
    last_order: int = 0
    tx_end_ns: int = 0
    deadline_ns: int = 0
    sacked: bool = False
    fast: bool = False  # due for a fast retransmission


def _seq_add(a: int, n: int) -> int:
    return (a + n) % SEQ_MOD


def _seq_diff(a: int, b: int) -> int:
    """(a - b) modulo 2**16."""
    return (a - b) % SEQ_MOD


class Link:
    """One end of the link. See the module docstring for the protocol."""

    def __init__(self, role: Role, config: LinkConfig | None = None, *, session_id: int | None = None,
                 software: str = "", capabilities: Capability = Capability.NONE) -> None:
        self.role = Role(role)
        self.config = config or LinkConfig()
        if session_id is None:
            session_id = int.from_bytes(os.urandom(4), "big")
        if not 0 <= session_id <= 0xFFFFFFFF:
            raise ValueError(f"session_id must be a 32-bit unsigned integer, got {session_id}")
        self.session_id = session_id
        self.software = software
        self.capabilities = Capability(capabilities)
        Hello(PROTOCOL_VERSION, self.role, session_id, 0, self.config.window, self.capabilities, software)  # validate
        self.stats = LinkStats()
        self._decoder = FrameDecoder(self.config.max_payload)
        self._octet_ns = self.config.octet_ns()
        self._now_ns: int | None = None

        # handshake
        self._peer: Hello | None = None
        self._hello_acked = False
        self._hello_due_ns: int | None = None  # None: at the first poll
        self._hello_acks: list[HelloAck] = []
        self._failure: str | None = None
        self._announcements: list[bytes] = []  # unsequenced ERROR frames to send

        # sending
        self._next_seq = self.config.first_seq  # assigned by the next send()
        self._base = self.config.first_seq  # oldest unacknowledged (or next to send when none)
        self._queue: deque[tuple[int, int, bytes]] = deque()  # (seq, kind, payload) not yet sent
        self._inflight: dict[int, _Out] = {}  # seq -> frame, in sequence order
        self._send_window = self.config.window
        self._tx_order = 0
        self._wire_free_ns = 0  # end of the modelled transmission of everything emitted
        self._last_tx_ns: int | None = None
        self._heartbeats = 0

        # timing
        self._srtt_ns: int | None = None
        self._rttvar_ns = 0
        self._backoff = 1
        self._backoff_at_ns = -(1 << 62)
        self._peer_max_wire = 0  # longest frame seen from the peer, octets on the line

        # receiving
        self._rx_next = 0  # next sequence number expected from the peer
        self._ooo: dict[int, Frame] = {}  # early frames, seq -> frame
        self._ack_pending = False
        self._ack_due_ns = 0
        self._last_rx_ns: int | None = None
        self._update_rto_stat()

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> LinkState:
        if self._failure is not None:
            return LinkState.FAILED
        return LinkState.ESTABLISHED if self._established() else LinkState.CONNECTING

    @property
    def failure(self) -> str | None:
        """Why the link is FAILED, one line; None otherwise."""
        return self._failure

    @property
    def peer(self) -> Hello | None:
        """The peer's latest HELLO (protocol version, role, session, software, capabilities)."""
        return self._peer

    def pending(self) -> int:
        """Messages queued or sent and not yet acknowledged."""
        return len(self._queue) + len(self._inflight)

    def silent_ns(self, now_ns: int) -> int | None:
        """Time since the last valid frame from the peer; None before the first one."""
        return None if self._last_rx_ns is None else now_ns - self._last_rx_ns

    def rto_ns(self) -> int:
        """The current retransmission timeout."""
        if self._srtt_ns is None:
            base = self.config.initial_rto_ns()
        else:
            base = self._srtt_ns + max(_GRANULARITY_NS, 4 * self._rttvar_ns)
        floor = self.config.rto_min_ns + int(self._octet_ns * self._peer_max_wire)
        return min(max(base, floor) * self._backoff, self.config.rto_max_ns)

    def _established(self) -> bool:
        return self._failure is None and self._hello_acked and self._peer is not None

    def _update_rto_stat(self) -> None:
        self.stats.srtt_ns = self._srtt_ns or 0
        self.stats.rto_ns = self.rto_ns()

    # ------------------------------------------------------------------ sending

    def send(self, kind: Kind | int, payload: bytes = b"") -> int:
        """Queue one message for ordered, exactly-once delivery; returns its sequence number.

        Raises ValueError for a kind the link reserves for itself or a payload above max_payload (a
        programming error, not bad input)."""
        kind = int(kind)
        if not 0 <= kind <= 0xFF or kind in LINK_KINDS:
            raise ValueError(f"kind 0x{kind:02x} cannot be sent as a message (the link's own or out of range)")
        if len(payload) > self.config.max_payload:
            raise ValueError(f"payload of {len(payload)} octets exceeds max_payload={self.config.max_payload}")
        seq = self._next_seq
        self._next_seq = _seq_add(seq, 1)
        self._queue.append((seq, kind, bytes(payload)))
        self.stats.messages_sent += 1
        return seq

    def send_message(self, message: MessageBody) -> int:
        """send(message.KIND, message.encode())."""
        return self.send(message.KIND, message.encode())

    def announce_error(self, error: ErrorMsg) -> None:
        """Send error once, outside the sequenced stream, at the next poll_output: best effort (no
        retransmission), and possible before the handshake, when send() would wait."""
        self._announcements.append(encode_frame(Kind.ERROR, error.encode()))

    def _hello(self) -> Hello:
        return Hello(PROTOCOL_VERSION, self.role, self.session_id, self._base, self.config.window,
                     self.capabilities, self.software)

    def _emit(self, out: bytearray, wire: bytes, now_ns: int) -> int:
        """Append one encoded frame; returns the modelled end of its transmission."""
        out += wire
        self.stats.frames_sent += 1
        self.stats.bytes_sent += len(wire)
        self._last_tx_ns = now_ns
        if not self._octet_ns:
            return now_ns
        self._wire_free_ns = max(now_ns, self._wire_free_ns) + int(self._octet_ns * len(wire))
        return self._wire_free_ns

    def _pacing_ok(self, now_ns: int) -> bool:
        ahead = self.config.tx_ahead_ns
        return not self._octet_ns or ahead is None or self._wire_free_ns - now_ns < ahead

    def _pacing_time_ns(self) -> int:
        ahead = self.config.tx_ahead_ns
        if not self._octet_ns or ahead is None:
            return 0
        return self._wire_free_ns - ahead + 1

    def _ack_fields(self) -> tuple[int, int]:
        return (self._rx_next, FLAG_ACK) if self._peer is not None and self._failure is None else (0, 0)

    def poll_output(self, now_ns: int) -> bytes:
        """The octets to write now: handshake, acks, retransmissions and new frames, in that order."""
        self._now_ns = now_ns
        out = bytearray()
        ack, ack_flag = self._ack_fields()
        st = self.stats

        hello_due = self._hello_due_ns is None or now_ns >= self._hello_due_ns
        if (not self._hello_acked or self._failure is not None) and hello_due:
            self._emit(out, encode_frame(Kind.HELLO, self._hello().encode(), ack=ack, flags=ack_flag), now_ns)
            st.hellos_sent += 1
            self._hello_due_ns = now_ns + self.config.hello_interval_ns
        for hello_ack in self._hello_acks:
            self._emit(out, encode_frame(Kind.HELLO_ACK, hello_ack.encode(), ack=ack, flags=ack_flag), now_ns)
        self._hello_acks.clear()
        for wire in self._announcements:
            self._emit(out, wire, now_ns)
        self._announcements.clear()

        data = bytearray()
        if self._established():
            self._send_data(data, now_ns, ack)

        if self._ack_pending and (self._ooo or not data) and (self._ooo or now_ns >= self._ack_due_ns):
            sack = Ack.from_offsets([_seq_diff(s, self._rx_next) - 1 for s in self._ooo])
            self._emit(out, encode_frame(Kind.ACK, sack.encode(), ack=ack, flags=ack_flag), now_ns)
            st.acks_sent += 1
            self._ack_pending = False
        elif data:
            self._ack_pending = False
        out += data

        hb = self.config.heartbeat_interval_ns
        if (hb is not None and self._established() and not out
                and (self._last_tx_ns is None or now_ns - self._last_tx_ns >= hb)):
            self._heartbeats += 1
            beat = Heartbeat(self._heartbeats % (1 << 32), now_ns)
            self._emit(out, encode_frame(Kind.HEARTBEAT, beat.encode(), ack=ack, flags=ack_flag), now_ns)
            st.heartbeats_sent += 1
        return bytes(out)

    def _send_data(self, out: bytearray, now_ns: int, ack: int) -> None:
        st = self.stats
        # Repeat what is due (timeouts and fast retransmissions), oldest first. The timeout doubles once
        # per round: for a frame sent after the last doubling, not again for each frame of the same flight.
        back_off = False
        for seq, o in self._inflight.items():
            if o.sacked or now_ns < o.deadline_ns:
                continue
            if not self._pacing_ok(now_ns):
                break
            if o.fast:
                st.fast_retransmissions += 1
            else:
                st.timeouts += 1
                back_off = back_off or o.tx_end_ns >= self._backoff_at_ns
            o.fast = False
            self._transmit(out, seq, o, now_ns, ack)
            st.retransmissions += 1
        if back_off:
            self._backoff = min(self._backoff * 2, 1 << 10)
            self._backoff_at_ns = now_ns
            self._update_rto_stat()
        # Then new frames while the window has room.
        while self._queue and _seq_diff(self._queue[0][0], self._base) < self._send_window:
            if not self._pacing_ok(now_ns):
                return
            seq, kind, payload = self._queue.popleft()
            o = _Out(kind, payload)
            self._inflight[seq] = o
            self._transmit(out, seq, o, now_ns, ack)
            st.data_frames_sent += 1

    def _transmit(self, out: bytearray, seq: int, o: _Out, now_ns: int, ack: int) -> None:
        flags = FLAG_SEQ | FLAG_ACK | (FLAG_RETX if o.tx_count else 0)
        wire = encode_frame(o.kind, o.payload, seq=seq, ack=ack, flags=flags)
        self._tx_order += 1
        if not o.tx_count:
            o.first_order = self._tx_order
        o.last_order = self._tx_order
        o.tx_count += 1
        o.tx_end_ns = self._emit(out, wire, now_ns)
        # plus the frame's own line time: a late ack costs a long frame's resend that much line time
        o.deadline_ns = o.tx_end_ns + self.rto_ns() + int(self._octet_ns * len(wire))

    def next_deadline_ns(self) -> int | None:
        """When poll_output has something to do next if no bytes arrive; None when nothing is scheduled.
        A time at or before the latest now_ns given means at once."""
        now = self._now_ns if self._now_ns is not None else 0
        times: list[int] = []
        if self._now_ns is None or self._hello_acks or self._announcements:
            return now
        if (not self._hello_acked or self._failure is not None) and self._hello_due_ns is not None:
            times.append(self._hello_due_ns)
        if self._ack_pending:
            times.append(now if self._ooo else self._ack_due_ns)
        if self._established():
            pace = self._pacing_time_ns()
            if self._queue and _seq_diff(self._queue[0][0], self._base) < self._send_window:
                times.append(max(now, pace))
            due = [o.deadline_ns for o in self._inflight.values() if not o.sacked]
            if due:
                times.append(max(min(due), pace))
            hb = self.config.heartbeat_interval_ns
            if hb is not None:
                times.append((self._last_tx_ns if self._last_tx_ns is not None else now) + hb)
        return min(times) if times else None

    # ------------------------------------------------------------------ receiving

    def feed(self, data: bytes, now_ns: int) -> list[Message]:
        """Take octets read from the line; returns the messages now deliverable, in order, each once.
        Never raises on bad input: bad frames and payloads are counted in `stats`."""
        self._now_ns = now_ns
        st = self.stats
        st.bytes_received += len(data)
        frames = self._decoder.feed(data)
        ds = self._decoder.stats
        st.crc_errors, st.cobs_errors = ds.bad_crc, ds.bad_cobs
        st.length_errors, st.oversize = ds.bad_length, ds.oversize
        delivered: list[Message] = []
        for f in frames:
            st.frames_received += 1
            self._handle(f, now_ns, delivered)
        self._update_rto_stat()
        return delivered

    def _handle(self, f: Frame, now_ns: int, delivered: list[Message]) -> None:
        st = self.stats
        if f.version != PROTOCOL_VERSION:
            if f.kind == Kind.HELLO:
                self._version_mismatch(f, delivered)
            else:
                st.bad_version += 1
            return
        self._last_rx_ns = now_ns
        if self._octet_ns:
            wire = len(f.payload) + 16 + len(f.payload) // 254
            self._peer_max_wire = max(self._peer_max_wire, wire)
        kind = f.kind
        if kind == Kind.HELLO:
            self._on_hello(f, now_ns, delivered)
            return
        if kind == Kind.HELLO_ACK:
            try:
                hello_ack = HelloAck.decode(f.payload)
            except MessageError:
                st.bad_payloads += 1
                return
            if hello_ack.session_id == self.session_id and not self._hello_acked:
                self._hello_acked = True
            return
        if self._peer is None or self._failure is not None:
            if kind == Kind.ERROR and not f.flags & FLAG_SEQ:
                delivered.append(Message(Kind.ERROR, f.payload))
            else:
                st.unexpected += 1
            return
        sack: list[int] = []
        if kind == Kind.ACK:
            st.acks_received += 1
            try:
                sack = Ack.decode(f.payload).offsets()
            except MessageError:
                st.bad_payloads += 1
        if f.flags & FLAG_ACK:
            self._on_ack(f.ack, sack, now_ns)
        if kind == Kind.ACK:
            return
        if kind == Kind.HEARTBEAT:
            st.heartbeats_received += 1
            return
        if f.flags & FLAG_SEQ:
            self._on_data(f, now_ns, delivered)
        elif kind == Kind.ERROR:
            delivered.append(Message(Kind.ERROR, f.payload))
        else:
            st.unexpected += 1

    def _fail(self, reason: str, code: ErrorCode, delivered: list[Message]) -> None:
        if reason != self._failure:
            self._failure = reason
            delivered.append(Message(Kind.ERROR, ErrorMsg(code, reason).encode(), None, local=True))

    def _version_mismatch(self, f: Frame, delivered: list[Message]) -> None:
        self.stats.hellos_received += 1
        try:
            peer = Hello.decode(f.payload)
            who = f"the {peer.role.name.lower()} (software {peer.software or 'unknown'!r})"
        except MessageError:
            who = "the peer"
        self._fail(f"protocol version mismatch: {who} speaks version {f.version}, this {self.role.name.lower()} "
                   f"speaks version {PROTOCOL_VERSION}; run the same release on host and board",
                   ErrorCode.VERSION_MISMATCH, delivered)

    def _on_hello(self, f: Frame, now_ns: int, delivered: list[Message]) -> None:
        st = self.stats
        st.hellos_received += 1
        try:
            hello = Hello.decode(f.payload)
        except MessageError:
            st.bad_payloads += 1
            return
        if hello.version != PROTOCOL_VERSION:
            self._version_mismatch(Frame(f.kind, f.seq, f.ack, f.flags, f.payload, hello.version), delivered)
            return
        if hello.role == self.role:
            role = self.role.name.lower()
            self._fail(f"role conflict: both ends are the {role} (peer software {hello.software or 'unknown'!r}); "
                       "connect a host to a board", ErrorCode.ROLE_CONFLICT, delivered)
            return
        self._hello_acks.append(HelloAck(hello.session_id, self.session_id))
        if self._peer is not None and hello.session_id == self._peer.session_id:
            self._failure = None
            return  # a repeat of the HELLO we know
        if self._peer is not None:
            st.peer_restarts += 1
            st.messages_discarded += len(self._queue) + len(self._inflight)
            self._queue.clear()
            self._inflight.clear()
            self._base = self._next_seq
            self._hello_acked = False
            self._hello_due_ns = now_ns
        self._failure = None
        self._peer = hello
        self._send_window = min(self.config.window, hello.window)
        self._rx_next = hello.first_seq
        self._ooo.clear()
        self._ack_pending = False
        self._srtt_ns, self._rttvar_ns, self._backoff = None, 0, 1
        delivered.append(Message(Kind.HELLO, f.payload))

    def _on_ack(self, ack: int, sack: list[int], now_ns: int) -> None:
        inflight = self._inflight
        if not inflight:
            return
        n = len(inflight)
        d = _seq_diff(ack, self._base)
        sample_from: int | None = None
        if 0 < d <= n:
            for _ in range(d):
                o = inflight.pop(self._base)
                if o.tx_count == 1 and not o.sacked:
                    sample_from = o.tx_end_ns if sample_from is None else max(sample_from, o.tx_end_ns)
                self._base = _seq_add(self._base, 1)
        newest_first = 0  # latest first transmission among the frames the peer holds beyond the ack
        for i in sack:
            o2 = inflight.get(_seq_add(ack, 1 + i))
            if o2 is None:
                continue
            if not o2.sacked:
                o2.sacked = True
                if o2.tx_count == 1:
                    sample_from = o2.tx_end_ns if sample_from is None else max(sample_from, o2.tx_end_ns)
            newest_first = max(newest_first, o2.first_order)
        if newest_first:
            for o3 in inflight.values():
                if not o3.sacked and not o3.fast and o3.last_order < newest_first:
                    o3.fast = True
                    o3.deadline_ns = now_ns
        if sample_from is not None and now_ns >= sample_from:
            self._rtt_sample(now_ns - sample_from)

    def _rtt_sample(self, r: int) -> None:
        if self._srtt_ns is None:
            self._srtt_ns, self._rttvar_ns = r, r // 2
        else:
            self._rttvar_ns = (3 * self._rttvar_ns + abs(self._srtt_ns - r)) // 4
            self._srtt_ns = (7 * self._srtt_ns + r) // 8
        self._backoff = 1

    def _on_data(self, f: Frame, now_ns: int, delivered: list[Message]) -> None:
        st = self.stats
        if not self._ack_pending:
            self._ack_pending = True
            self._ack_due_ns = now_ns + self.config.ack_delay_ns
        d = _seq_diff(f.seq, self._rx_next)
        if d == 0:
            self._deliver(f, delivered)
            nxt = self._ooo.pop(self._rx_next, None)
            while nxt is not None:
                self._deliver(nxt, delivered)
                nxt = self._ooo.pop(self._rx_next, None)
        elif d < self.config.window:
            if f.seq in self._ooo:
                st.duplicates += 1
            else:
                self._ooo[f.seq] = f
                st.out_of_order += 1
        elif d >= _HALF:
            st.duplicates += 1
        else:
            st.out_of_window += 1

    def _deliver(self, f: Frame, delivered: list[Message]) -> None:
        delivered.append(Message(_KINDS.get(f.kind, f.kind), f.payload, f.seq))
        self._rx_next = _seq_add(self._rx_next, 1)
        self.stats.messages_delivered += 1
