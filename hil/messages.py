"""Link messages: the kinds and the payload of each, big-endian.

The kind travels in the frame header (`hil.frame`), the payload below is the frame payload. Each
dataclass has ``KIND``, ``encode() -> bytes`` and ``decode(payload) -> instance``; `decode_message`
dispatches on the kind. Decoding a malformed payload raises `MessageError` and nothing else (a short
payload, trailing octets, a value out of range, invalid UTF-8). Constructing a message with an out of
range field raises `ValueError`.

Kinds (the numbers of HELLO and ERROR, and the first octet of the HELLO payload, never change between
protocol versions, so two ends of different versions can still tell each other so):

====  ==========  =====  ===============================================================================
kind  name        seq'd  payload
====  ==========  =====  ===============================================================================
0x01  HELLO       no     u8 version, u8 role (1 host, 2 board), u32 session_id, u16 first_seq,
                         u16 window, u32 capabilities, u8 n, n octets UTF-8 software version
0x02  HELLO_ACK   no     u32 session_id (echoed from the HELLO), u32 responder's session_id
0x03  ACK         no     selective-ack bitmap, 0..32 octets: bit i (MSB first: octet i // 8,
                         bit 7 - i % 8) set when frame ack + 1 + i was received (ack from the header)
0x04  HEARTBEAT   no     u32 count, i64 t_ns (the sender's clock)
0x05  ERROR       y/n    u16 code, UTF-8 text (one line, no length octet: the rest of the payload)
0x10  BUS_BATCH   yes    u16 batch_id, u16 n, n x transfer
0x11  BUS_RESULT  yes    u16 batch_id, u16 n, n x result
0x12  RADIO_TM    yes    the downlink frame (board to host), all of the payload
0x13  RADIO_TC    yes    the uplink frame (host to board), all of the payload
0x14  TICK        yes    i64 t_ns, u32 tick, u8 has_poll (0/1), then if 1 a BUS_RESULT payload
0x15  TICK_DONE   yes    u32 tick, u8 n, n x (u8 k, k octets UTF-8 name, i64 value)
0x16  DOC         yes    u8 doc (1 SETUP, 2 BOOTED, 3 END, 4 REPORT), u8 last (0/1), a part of the document:
                         the parts of one document, in order up to the one with last = 1, joined, are
                         one UTF-8 JSON object (`hil.lockstep` says what each holds)
0x17  POLL_LIST   yes    u16 list_id, u8 n, n x (u16 k, k x transfer): the groups of register reads the
                         board's next ticks start with (READ transfers only; n = 0: none)
0x18  RADIO_STATE yes    u8 in_contact (0/1), f64 downlink_bps (IEEE 754), u32 tc_count (RADIO_TC frames
                         the host has sent in this session, counted from 1)
0x19  TIME        yes    u8 phase (0 request, board to host; 1 reply, host to board), u32 id, i64 t_board_ns
                         (the board's local clock when it sent the request; echoed in the reply), i64
                         t_host_ns (the host's simulated time when it replied; 0 in a request)
0x1A  BUS_BATCH_T yes    i64 deadline_ns (host simulated time), then a BUS_BATCH payload: real-time mode's
                         bus batch; the host performs none of it after the deadline (the board has given up
                         on it) and answers with every transfer failed (status ERROR)
====  ==========  =====  ===============================================================================

transfer: u8 bus, u8 address (7-bit), u8 op, u8 register, u8 width (octets per word: 1 or 2), u8 nw,
u8 count, then nw words of width octets. op READ (0): write the register pointer, read count words;
nw = 0. op WRITE (1): write the register pointer then the nw words; count = 0. op RAW (2): exactly
``Bus.transfer(address, write, count)``: the nw words (width 1) are the octets written, the register
octet is 0 and unused, count octets are read.

result: u8 status (0 OK, 1 NACK, 2 ERROR), u8 width, u8 n, n words of width octets (the words read;
none unless OK).

Messages without a sequence number are the link's own (HELLO, HELLO_ACK, ACK, HEARTBEAT) and an ERROR
sent before the link is up; everything else travels in the reliable, ordered stream.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import ClassVar, Self, TypeAlias, TypeVar

__all__ = [
    "Ack",
    "BusBatch",
    "BusOp",
    "BusResult",
    "BusStatus",
    "BusTransfer",
    "Capability",
    "Doc",
    "DocType",
    "ErrorCode",
    "ErrorMsg",
    "Heartbeat",
    "Hello",
    "HelloAck",
    "Kind",
    "MessageBody",
    "MessageError",
    "PollList",
    "RadioState",
    "RadioTc",
    "RadioTm",
    "Role",
    "Tick",
    "TickDone",
    "TimeSync",
    "TimedBusBatch",
    "TransferResult",
    "decode_message",
]

MAX_SACK_OCTETS = 32

_E = TypeVar("_E", bound=IntEnum)
_M = TypeVar("_M")


class MessageError(ValueError):
    """A message payload that does not decode; the text names the kind and the field."""


class Kind(IntEnum):
    HELLO = 0x01
    HELLO_ACK = 0x02
    ACK = 0x03
    HEARTBEAT = 0x04
    ERROR = 0x05
    BUS_BATCH = 0x10
    BUS_RESULT = 0x11
    RADIO_TM = 0x12
    RADIO_TC = 0x13
    TICK = 0x14
    TICK_DONE = 0x15
    DOC = 0x16
    POLL_LIST = 0x17
    RADIO_STATE = 0x18
    TIME = 0x19
    BUS_BATCH_T = 0x1A


LINK_KINDS = frozenset({Kind.HELLO, Kind.HELLO_ACK, Kind.ACK, Kind.HEARTBEAT})
"""Kinds the link itself sends and consumes, outside the sequenced stream."""


class Role(IntEnum):
    HOST = 1
    BOARD = 2


class Capability(IntFlag):
    """What an end offers beyond the basics (HELLO capabilities bitmask)."""

    NONE = 0
    LOCKSTEP = 0x01  # runs on TICK/TICK_DONE
    REALTIME = 0x02  # runs on its own clock
    RADIO_PORT = 0x04  # radio frames may move to a second link
    POLL_PUSH = 0x08  # TICK may carry the poll results
    REAL_PAYLOAD = 0x10  # a real compute payload on the board


class ErrorCode(IntEnum):
    VERSION_MISMATCH = 1
    ROLE_CONFLICT = 2
    BAD_MESSAGE = 3
    PROTOCOL = 4
    INTERNAL = 5
    UNSUPPORTED = 6


class BusOp(IntEnum):
    READ = 0
    WRITE = 1
    RAW = 2


class BusStatus(IntEnum):
    OK = 0
    NACK = 1
    ERROR = 2


# ------------------------------------------------------------------ helpers


def _check(name: str, value: int, lo: int, hi: int) -> None:
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")


def _enum(cls: type[_E], what: str, value: int) -> _E:
    try:
        return cls(value)
    except ValueError:
        raise MessageError(f"{what}: unknown value {value}") from None


class _Reader:
    """Cursor over a payload; every shortfall is a MessageError naming the message and field."""

    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self.data = bytes(data)
        self.pos = 0
        self.what = what

    def take(self, n: int, field: str) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise MessageError(f"{self.what}: payload ends inside {field} "
                               f"(needs {end} octets, has {len(self.data)})")
        out = self.data[self.pos:end]
        self.pos = end
        return out

    def unpack(self, st: struct.Struct, field: str) -> tuple[int, ...]:
        return tuple(st.unpack(self.take(st.size, field)))

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def rest(self) -> bytes:
        out = self.data[self.pos:]
        self.pos = len(self.data)
        return out

    def text(self, n: int, field: str) -> str:
        raw = self.take(n, field)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MessageError(f"{self.what}: {field} is not valid UTF-8") from None

    def end(self) -> None:
        if self.pos != len(self.data):
            raise MessageError(f"{self.what}: {len(self.data) - self.pos} unexpected octet(s) after the message")


def _guard(what: str, build: Callable[[], _M]) -> _M:
    """build(), with any ValueError it raises (a field out of range) turned into a MessageError."""
    try:
        return build()
    except MessageError:
        raise
    except (ValueError, struct.error) as exc:
        raise MessageError(f"{what}: {exc}") from None


class _Parsed:
    """A message decoded by its class's `_parse`, with a field out of range reported as a MessageError that
    names the message's kind."""

    __slots__ = ()
    KIND: ClassVar[Kind]

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        return _guard(cls.KIND.name, lambda: cls._parse(payload))

    @classmethod
    def _parse(cls, payload: bytes) -> Self:
        raise NotImplementedError


def _words_bytes(words: tuple[int, ...], width: int) -> bytes:
    return b"".join(w.to_bytes(width, "big") for w in words)


def _bytes_words(raw: bytes, width: int) -> tuple[int, ...]:
    if width == 1:
        return tuple(raw)
    return tuple(int.from_bytes(raw[i:i + width], "big") for i in range(0, len(raw), width))


def _check_words(what: str, words: tuple[int, ...], width: int) -> None:
    if width not in (1, 2):
        raise ValueError(f"{what}: word width must be 1 or 2 octets, got {width}")
    _check(f"{what}: number of words", len(words), 0, 255)
    hi = (1 << (8 * width)) - 1
    for w in words:
        _check(f"{what}: word", w, 0, hi)


# ------------------------------------------------------------------ link messages

_HELLO = struct.Struct(">BBIHHIB")


@dataclass(frozen=True, slots=True)
class Hello(_Parsed):
    """Sent by each end until acknowledged; a new session_id means the peer (re)started."""

    KIND: ClassVar[Kind] = Kind.HELLO
    version: int
    role: Role
    session_id: int
    first_seq: int = 0
    window: int = 8
    capabilities: Capability = Capability.NONE
    software: str = ""

    def __post_init__(self) -> None:
        _check("HELLO version", self.version, 0, 0xFF)
        _check("HELLO session_id", self.session_id, 0, 0xFFFFFFFF)
        _check("HELLO first_seq", self.first_seq, 0, 0xFFFF)
        _check("HELLO window", self.window, 1, 0xFFFF)
        _check("HELLO capabilities", int(self.capabilities), 0, 0xFFFFFFFF)
        _check("HELLO software version length (UTF-8 octets)", len(self.software.encode()), 0, 255)
        object.__setattr__(self, "role", Role(self.role))
        object.__setattr__(self, "capabilities", Capability(int(self.capabilities)))

    def encode(self) -> bytes:
        sw = self.software.encode()
        return _HELLO.pack(self.version, self.role, self.session_id, self.first_seq, self.window,
                           self.capabilities, len(sw)) + sw

    @classmethod
    def _parse(cls, payload: bytes) -> Hello:
        r = _Reader(payload, "HELLO")
        version, role, session, first, window, caps, n = r.unpack(_HELLO, "header")
        software = r.text(n, "software version")
        r.end()
        if window == 0:
            raise MessageError("HELLO: window 0")
        return cls(version, _enum(Role, "HELLO role", role), session, first, window, Capability(caps), software)


_HELLO_ACK = struct.Struct(">II")


@dataclass(frozen=True, slots=True)
class HelloAck(_Parsed):
    KIND: ClassVar[Kind] = Kind.HELLO_ACK
    session_id: int  # the session of the HELLO being acknowledged
    responder_session_id: int

    def __post_init__(self) -> None:
        _check("HELLO_ACK session_id", self.session_id, 0, 0xFFFFFFFF)
        _check("HELLO_ACK responder_session_id", self.responder_session_id, 0, 0xFFFFFFFF)

    def encode(self) -> bytes:
        return _HELLO_ACK.pack(self.session_id, self.responder_session_id)

    @classmethod
    def _parse(cls, payload: bytes) -> HelloAck:
        r = _Reader(payload, "HELLO_ACK")
        session, responder = r.unpack(_HELLO_ACK, "body")
        r.end()
        return cls(session, responder)


@dataclass(frozen=True, slots=True)
class Ack(_Parsed):
    """Standalone acknowledgement. The cumulative ack is in the frame header; `sack` is the bitmap of
    frames received beyond it (see the module docstring)."""

    KIND: ClassVar[Kind] = Kind.ACK
    sack: bytes = b""

    def __post_init__(self) -> None:
        _check("ACK bitmap length", len(self.sack), 0, MAX_SACK_OCTETS)

    def encode(self) -> bytes:
        return bytes(self.sack)

    @classmethod
    def _parse(cls, payload: bytes) -> Ack:
        if len(payload) > MAX_SACK_OCTETS:
            raise MessageError(f"ACK: bitmap of {len(payload)} octets exceeds {MAX_SACK_OCTETS}")
        return cls(bytes(payload))

    @classmethod
    def from_offsets(cls, offsets: list[int]) -> Ack:
        """The bitmap with bit i set for each i in offsets (frame ack + 1 + i received)."""
        if not offsets:
            return cls()
        bitmap = bytearray(max(offsets) // 8 + 1)
        for i in offsets:
            bitmap[i // 8] |= 0x80 >> (i % 8)
        return cls(bytes(bitmap))

    def offsets(self) -> list[int]:
        """The i with bit i set, ascending."""
        return [8 * j + b for j, octet in enumerate(self.sack) if octet for b in range(8) if octet & (0x80 >> b)]


_HEARTBEAT = struct.Struct(">Iq")


@dataclass(frozen=True, slots=True)
class Heartbeat(_Parsed):
    KIND: ClassVar[Kind] = Kind.HEARTBEAT
    count: int
    t_ns: int

    def __post_init__(self) -> None:
        _check("HEARTBEAT count", self.count, 0, 0xFFFFFFFF)
        _check("HEARTBEAT t_ns", self.t_ns, -(1 << 63), (1 << 63) - 1)

    def encode(self) -> bytes:
        return _HEARTBEAT.pack(self.count, self.t_ns)

    @classmethod
    def _parse(cls, payload: bytes) -> Heartbeat:
        r = _Reader(payload, "HEARTBEAT")
        count, t_ns = r.unpack(_HEARTBEAT, "body")
        r.end()
        return cls(count, t_ns)


@dataclass(frozen=True, slots=True)
class ErrorMsg(_Parsed):
    """An error the sender wants the other end (and its operator) to see: one line of text."""

    KIND: ClassVar[Kind] = Kind.ERROR
    code: ErrorCode
    text: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", ErrorCode(self.code))
        if "\n" in self.text or "\r" in self.text:
            raise ValueError("ERROR text must be one line")
        if len(self.text.encode()) > 1024:
            raise ValueError("ERROR text longer than 1024 octets")

    def encode(self) -> bytes:
        return struct.pack(">H", self.code) + self.text.encode()

    @classmethod
    def _parse(cls, payload: bytes) -> ErrorMsg:
        r = _Reader(payload, "ERROR")
        (code,) = r.unpack(struct.Struct(">H"), "code")
        raw = r.rest()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MessageError("ERROR: text is not valid UTF-8") from None
        if "\n" in text or "\r" in text or len(raw) > 1024:
            raise MessageError("ERROR: text is not one line of at most 1024 octets")
        return cls(_enum(ErrorCode, "ERROR code", code), text)


# ------------------------------------------------------------------ bus

_XFER = struct.Struct(">BBBBBBB")
_RESULT = struct.Struct(">BBB")
_BATCH = struct.Struct(">HH")


@dataclass(frozen=True, slots=True)
class BusTransfer:
    """One I2C transfer (see the module docstring for the three ops)."""

    bus: int
    address: int
    op: BusOp
    register: int = 0
    width: int = 2
    words: tuple[int, ...] = ()
    count: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "op", BusOp(self.op))
        object.__setattr__(self, "words", tuple(self.words))
        _check("transfer bus", self.bus, 0, 0xFF)
        _check("transfer address (7-bit)", self.address, 0, 0x7F)
        _check("transfer register", self.register, 0, 0xFF)
        _check("transfer count", self.count, 0, 255)
        _check_words("transfer", self.words, self.width)
        if self.op == BusOp.READ and self.words:
            raise ValueError("a READ transfer writes no words (the register is the pointer)")
        if self.op == BusOp.WRITE and self.count:
            raise ValueError("a WRITE transfer reads nothing (count must be 0)")
        if self.op == BusOp.RAW and (self.width != 1 or self.register):
            raise ValueError("a RAW transfer has width 1 and register 0")

    @classmethod
    def read(cls, address: int, register: int, width: int = 2, count: int = 1, bus: int = 0) -> BusTransfer:
        return cls(bus, address, BusOp.READ, register, width, (), count)

    @classmethod
    def write(cls, address: int, register: int, words: tuple[int, ...], width: int = 2, bus: int = 0) -> BusTransfer:
        return cls(bus, address, BusOp.WRITE, register, width, words, 0)

    @classmethod
    def raw(cls, address: int, write: bytes, read_len: int, bus: int = 0) -> BusTransfer:
        """Exactly `Bus.transfer(address, write, read_len)`."""
        return cls(bus, address, BusOp.RAW, 0, 1, tuple(write), read_len)

    def encode(self) -> bytes:
        return _XFER.pack(self.bus, self.address, self.op, self.register, self.width, len(self.words),
                          self.count) + _words_bytes(self.words, self.width)

    @classmethod
    def read_from(cls, r: _Reader) -> BusTransfer:
        bus, address, op, register, width, nw, count = r.unpack(_XFER, "transfer")
        if width not in (1, 2):
            raise MessageError(f"{r.what}: transfer word width {width} (must be 1 or 2)")
        words = _bytes_words(r.take(nw * width, "transfer words"), width)
        try:
            return cls(bus, address, _enum(BusOp, f"{r.what} transfer op", op), register, width, words, count)
        except ValueError as exc:
            raise MessageError(f"{r.what}: {exc}") from None


@dataclass(frozen=True, slots=True)
class TransferResult:
    status: BusStatus
    words: tuple[int, ...] = ()
    width: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", BusStatus(self.status))
        object.__setattr__(self, "words", tuple(self.words))
        _check_words("result", self.words, self.width)
        if self.status != BusStatus.OK and self.words:
            raise ValueError("a failed transfer returns no words")

    @property
    def ok(self) -> bool:
        return self.status == BusStatus.OK

    def data(self) -> bytes:
        """The words as the octets read, MSB first."""
        return _words_bytes(self.words, self.width)

    def encode(self) -> bytes:
        return _RESULT.pack(self.status, self.width, len(self.words)) + _words_bytes(self.words, self.width)

    @classmethod
    def read_from(cls, r: _Reader) -> TransferResult:
        status, width, n = r.unpack(_RESULT, "result")
        if width not in (1, 2):
            raise MessageError(f"{r.what}: result word width {width} (must be 1 or 2)")
        words = _bytes_words(r.take(n * width, "result words"), width)
        try:
            return cls(_enum(BusStatus, f"{r.what} result status", status), words, width)
        except ValueError as exc:
            raise MessageError(f"{r.what}: {exc}") from None


@dataclass(frozen=True, slots=True)
class BusBatch(_Parsed):
    KIND: ClassVar[Kind] = Kind.BUS_BATCH
    batch_id: int
    transfers: tuple[BusTransfer, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "transfers", tuple(self.transfers))
        _check("BUS_BATCH batch_id", self.batch_id, 0, 0xFFFF)
        _check("BUS_BATCH number of transfers", len(self.transfers), 0, 0xFFFF)

    def encode(self) -> bytes:
        return _BATCH.pack(self.batch_id, len(self.transfers)) + b"".join(t.encode() for t in self.transfers)

    @classmethod
    def _parse(cls, payload: bytes) -> BusBatch:
        r = _Reader(payload, "BUS_BATCH")
        batch_id, n = r.unpack(_BATCH, "header")
        transfers = tuple(BusTransfer.read_from(r) for _ in range(n))
        r.end()
        return cls(batch_id, transfers)


@dataclass(frozen=True, slots=True)
class BusResult(_Parsed):
    KIND: ClassVar[Kind] = Kind.BUS_RESULT
    batch_id: int
    results: tuple[TransferResult, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", tuple(self.results))
        _check("BUS_RESULT batch_id", self.batch_id, 0, 0xFFFF)
        _check("BUS_RESULT number of results", len(self.results), 0, 0xFFFF)

    def encode(self) -> bytes:
        return _BATCH.pack(self.batch_id, len(self.results)) + b"".join(x.encode() for x in self.results)

    @classmethod
    def read_from(cls, r: _Reader) -> BusResult:
        batch_id, n = r.unpack(_BATCH, "header")
        return cls(batch_id, tuple(TransferResult.read_from(r) for _ in range(n)))

    @classmethod
    def _parse(cls, payload: bytes) -> BusResult:
        r = _Reader(payload, "BUS_RESULT")
        out = cls.read_from(r)
        r.end()
        return out


# ------------------------------------------------------------------ radio


@dataclass(frozen=True, slots=True)
class RadioTm:
    """One downlink frame (a CADU), board to host."""

    KIND: ClassVar[Kind] = Kind.RADIO_TM
    frame: bytes

    def encode(self) -> bytes:
        return bytes(self.frame)

    @classmethod
    def decode(cls, payload: bytes) -> RadioTm:
        return cls(bytes(payload))


@dataclass(frozen=True, slots=True)
class RadioTc:
    """One uplink frame (a CLTU or TC frame), host to board."""

    KIND: ClassVar[Kind] = Kind.RADIO_TC
    frame: bytes

    def encode(self) -> bytes:
        return bytes(self.frame)

    @classmethod
    def decode(cls, payload: bytes) -> RadioTc:
        return cls(bytes(payload))


# ------------------------------------------------------------------ lockstep

_TICK = struct.Struct(">qIB")
_TICK_DONE = struct.Struct(">IB")
_I64 = struct.Struct(">q")


@dataclass(frozen=True, slots=True)
class Tick(_Parsed):
    """Host to board: simulated time is now t_ns; run control tick `tick`. `poll` carries the results of
    the board's declared poll list, read by the host for this tick."""

    KIND: ClassVar[Kind] = Kind.TICK
    t_ns: int
    tick: int
    poll: BusResult | None = None

    def __post_init__(self) -> None:
        _check("TICK t_ns", self.t_ns, -(1 << 63), (1 << 63) - 1)
        _check("TICK tick", self.tick, 0, 0xFFFFFFFF)

    def encode(self) -> bytes:
        head = _TICK.pack(self.t_ns, self.tick, self.poll is not None)
        return head if self.poll is None else head + self.poll.encode()

    @classmethod
    def _parse(cls, payload: bytes) -> Tick:
        r = _Reader(payload, "TICK")
        t_ns, tick, has_poll = r.unpack(_TICK, "header")
        if has_poll > 1:
            raise MessageError(f"TICK: has_poll is {has_poll} (must be 0 or 1)")
        poll = BusResult.read_from(r) if has_poll else None
        r.end()
        return cls(t_ns, tick, poll)


@dataclass(frozen=True, slots=True)
class TickDone(_Parsed):
    """Board to host: control tick `tick` is done. `stats`: named integer figures of the board, if any."""

    KIND: ClassVar[Kind] = Kind.TICK_DONE
    tick: int
    stats: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "stats", tuple((str(k), int(v)) for k, v in self.stats))
        _check("TICK_DONE tick", self.tick, 0, 0xFFFFFFFF)
        _check("TICK_DONE number of stats", len(self.stats), 0, 255)
        for name, value in self.stats:
            _check(f"TICK_DONE stat {name!r} name length", len(name.encode()), 1, 255)
            _check(f"TICK_DONE stat {name!r}", value, -(1 << 63), (1 << 63) - 1)

    def encode(self) -> bytes:
        parts = [_TICK_DONE.pack(self.tick, len(self.stats))]
        for name, value in self.stats:
            raw = name.encode()
            parts += [bytes([len(raw)]), raw, _I64.pack(value)]
        return b"".join(parts)

    @classmethod
    def _parse(cls, payload: bytes) -> TickDone:
        r = _Reader(payload, "TICK_DONE")
        tick, n = r.unpack(_TICK_DONE, "header")
        stats = []
        for _ in range(n):
            k = r.u8("stat name length")
            if k == 0:
                raise MessageError("TICK_DONE: empty stat name")
            name = r.text(k, "stat name")
            (value,) = r.unpack(_I64, "stat value")
            stats.append((name, value))
        r.end()
        return cls(tick, tuple(stats))

    def stat(self, name: str) -> int | None:
        return next((v for k, v in self.stats if k == name), None)


# ------------------------------------------------------------------ lockstep session


class DocType(IntEnum):
    SETUP = 1  # host to board: the run (scenario, seed, start time, ...)
    BOOTED = 2  # board to host: the flight software is up
    END = 3  # host to board: the run is over
    REPORT = 4  # board to host: what the flight software counted


_DOC = struct.Struct(">BB")


@dataclass(frozen=True, slots=True)
class Doc(_Parsed):
    """One part of a JSON document (see the module docstring)."""

    KIND: ClassVar[Kind] = Kind.DOC
    doc: DocType
    last: bool
    data: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "doc", DocType(self.doc))
        object.__setattr__(self, "data", bytes(self.data))

    def encode(self) -> bytes:
        return _DOC.pack(self.doc, 1 if self.last else 0) + self.data

    @classmethod
    def _parse(cls, payload: bytes) -> Doc:
        r = _Reader(payload, "DOC")
        doc, last = r.unpack(_DOC, "header")
        if last > 1:
            raise MessageError(f"DOC: last is {last} (must be 0 or 1)")
        return cls(_enum(DocType, "DOC type", doc), bool(last), r.rest())


_POLL = struct.Struct(">HB")
_U16 = struct.Struct(">H")


@dataclass(frozen=True, slots=True)
class PollList(_Parsed):
    """Board to host: the groups of register reads each tick starts with, until the next POLL_LIST. The host
    runs them, in order, right before each TICK and pushes the results with it (up to and including the first
    group with a failed read: the board reads the rest itself, after its retries)."""

    KIND: ClassVar[Kind] = Kind.POLL_LIST
    list_id: int
    groups: tuple[tuple[BusTransfer, ...], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", tuple(tuple(g) for g in self.groups))
        _check("POLL_LIST list_id", self.list_id, 0, 0xFFFF)
        _check("POLL_LIST number of groups", len(self.groups), 0, 0xFF)
        for g in self.groups:
            _check("POLL_LIST group size", len(g), 1, 0xFFFF)
            if any(t.op != BusOp.READ for t in g):
                raise ValueError("a POLL_LIST holds READ transfers only")

    def encode(self) -> bytes:
        parts = [_POLL.pack(self.list_id, len(self.groups))]
        for g in self.groups:
            parts.append(_U16.pack(len(g)))
            parts += [t.encode() for t in g]
        return b"".join(parts)

    @classmethod
    def _parse(cls, payload: bytes) -> PollList:
        r = _Reader(payload, "POLL_LIST")
        list_id, n = r.unpack(_POLL, "header")
        groups = []
        for _ in range(n):
            (k,) = r.unpack(_U16, "group size")
            groups.append(tuple(BusTransfer.read_from(r) for _ in range(k)))
        r.end()
        return cls(list_id, tuple(groups))


_RADIO_STATE = struct.Struct(">BdI")


@dataclass(frozen=True, slots=True)
class RadioState(_Parsed):
    """Host to board, before the TICK it applies to, whenever it changed: what the board's Radio reports."""

    KIND: ClassVar[Kind] = Kind.RADIO_STATE
    in_contact: bool
    downlink_bps: float
    tc_count: int = 0

    def __post_init__(self) -> None:
        _check("RADIO_STATE tc_count", self.tc_count, 0, 0xFFFFFFFF)

    def encode(self) -> bytes:
        return _RADIO_STATE.pack(1 if self.in_contact else 0, self.downlink_bps, self.tc_count)

    @classmethod
    def _parse(cls, payload: bytes) -> RadioState:
        r = _Reader(payload, "RADIO_STATE")
        contact, bps, count = r.unpack(_RADIO_STATE, "body")
        r.end()
        if contact > 1:
            raise MessageError(f"RADIO_STATE: in_contact is {contact} (must be 0 or 1)")
        return cls(bool(contact), bps, count)


# ------------------------------------------------------------------ real time

_TIME = struct.Struct(">BIqq")


@dataclass(frozen=True, slots=True)
class TimeSync(_Parsed):
    """Real-time mode's clock synchronization (`hil.timesync`): the board's request (phase 0) stamped with its
    local clock, the host's reply (phase 1) with the request's stamp and the host's simulated time."""

    KIND: ClassVar[Kind] = Kind.TIME
    phase: int
    id: int
    t_board_ns: int
    t_host_ns: int = 0

    def __post_init__(self) -> None:
        _check("TIME phase", self.phase, 0, 1)
        _check("TIME id", self.id, 0, 0xFFFFFFFF)
        _check("TIME t_board_ns", self.t_board_ns, -(1 << 63), (1 << 63) - 1)
        _check("TIME t_host_ns", self.t_host_ns, -(1 << 63), (1 << 63) - 1)

    def encode(self) -> bytes:
        return _TIME.pack(self.phase, self.id, self.t_board_ns, self.t_host_ns)

    @classmethod
    def _parse(cls, payload: bytes) -> TimeSync:
        r = _Reader(payload, "TIME")
        phase, id_, t_board, t_host = r.unpack(_TIME, "body")
        r.end()
        return cls(phase, id_, t_board, t_host)


@dataclass(frozen=True, slots=True)
class TimedBusBatch(_Parsed):
    """A BUS_BATCH the host performs only up to `deadline_ns` of its simulated time (real-time mode)."""

    KIND: ClassVar[Kind] = Kind.BUS_BATCH_T
    deadline_ns: int
    batch: BusBatch

    def __post_init__(self) -> None:
        _check("BUS_BATCH_T deadline_ns", self.deadline_ns, -(1 << 63), (1 << 63) - 1)

    def encode(self) -> bytes:
        return _I64.pack(self.deadline_ns) + self.batch.encode()

    @classmethod
    def _parse(cls, payload: bytes) -> TimedBusBatch:
        r = _Reader(payload, "BUS_BATCH_T")
        (deadline,) = r.unpack(_I64, "deadline")
        return cls(deadline, BusBatch.decode(r.rest()))


# ------------------------------------------------------------------ dispatch

MessageBody: TypeAlias = (Hello | HelloAck | Ack | Heartbeat | ErrorMsg | BusBatch | BusResult | RadioTm | RadioTc
                          | Tick | TickDone | Doc | PollList | RadioState | TimeSync | TimedBusBatch)

_DECODERS: dict[Kind, Callable[[bytes], MessageBody]] = {
    Kind.HELLO: Hello.decode,
    Kind.HELLO_ACK: HelloAck.decode,
    Kind.ACK: Ack.decode,
    Kind.HEARTBEAT: Heartbeat.decode,
    Kind.ERROR: ErrorMsg.decode,
    Kind.BUS_BATCH: BusBatch.decode,
    Kind.BUS_RESULT: BusResult.decode,
    Kind.RADIO_TM: RadioTm.decode,
    Kind.RADIO_TC: RadioTc.decode,
    Kind.TICK: Tick.decode,
    Kind.TICK_DONE: TickDone.decode,
    Kind.DOC: Doc.decode,
    Kind.POLL_LIST: PollList.decode,
    Kind.RADIO_STATE: RadioState.decode,
    Kind.TIME: TimeSync.decode,
    Kind.BUS_BATCH_T: TimedBusBatch.decode,
}


def decode_message(kind: int, payload: bytes) -> MessageBody:
    """The typed message of that kind. Raises MessageError for an unknown kind or a malformed payload."""
    try:
        decoder = _DECODERS[Kind(kind)]
    except ValueError:
        raise MessageError(f"unknown message kind 0x{kind:02x}") from None
    return decoder(bytes(payload))
