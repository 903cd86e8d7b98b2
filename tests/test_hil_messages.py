"""Link message payloads: round trips, the documented layouts, and malformed payloads."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.messages import (
    Ack,
    BusBatch,
    BusOp,
    BusResult,
    BusStatus,
    BusTransfer,
    Capability,
    ErrorCode,
    ErrorMsg,
    Heartbeat,
    Hello,
    HelloAck,
    Kind,
    MessageBody,
    MessageError,
    RadioTc,
    RadioTm,
    Role,
    Tick,
    TickDone,
    TransferResult,
    decode_message,
)

u8, u16, u32 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
i64 = st.integers(-(1 << 63), (1 << 63) - 1)


@st.composite
def transfers(draw: st.DrawFn) -> BusTransfer:
    op = draw(st.sampled_from(BusOp))
    addr, bus = draw(st.integers(0, 0x7F)), draw(u8)
    if op is BusOp.RAW:
        return BusTransfer.raw(addr, draw(st.binary(max_size=8)), draw(st.integers(0, 8)), bus=bus)
    width = draw(st.sampled_from([1, 2]))
    if op is BusOp.READ:
        return BusTransfer.read(addr, draw(u8), width, draw(st.integers(0, 255)), bus=bus)
    words = tuple(draw(st.lists(st.integers(0, (1 << (8 * width)) - 1), max_size=6)))
    return BusTransfer.write(addr, draw(u8), words, width, bus=bus)


@st.composite
def results(draw: st.DrawFn) -> TransferResult:
    status = draw(st.sampled_from(BusStatus))
    width = draw(st.sampled_from([1, 2]))
    words = () if status is not BusStatus.OK else tuple(draw(st.lists(st.integers(0, (1 << (8 * width)) - 1),
                                                                      max_size=6)))
    return TransferResult(status, words, width)


bus_results = st.builds(BusResult, u16, st.lists(results(), max_size=8).map(tuple))
names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20).filter(
    lambda s: 1 <= len(s.encode()) <= 255)
one_line = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=80)

messages = st.one_of(
    st.builds(Hello, u8, st.sampled_from(Role), u32, u16, st.integers(1, 0xFFFF), u32.map(Capability),
              st.text(max_size=40).filter(lambda s: len(s.encode()) <= 255)),
    st.builds(HelloAck, u32, u32),
    st.lists(st.integers(0, 255), max_size=40).map(lambda xs: Ack.from_offsets(sorted(set(xs)))),
    st.builds(Heartbeat, u32, i64),
    st.builds(ErrorMsg, st.sampled_from(ErrorCode), one_line),
    st.builds(BusBatch, u16, st.lists(transfers(), max_size=8).map(tuple)),
    bus_results,
    st.builds(RadioTm, st.binary(max_size=1115)),
    st.builds(RadioTc, st.binary(max_size=300)),
    st.builds(Tick, i64, u32, st.none() | bus_results),
    st.builds(TickDone, u32, st.lists(st.tuples(names, i64), max_size=5).map(tuple)),
)


@given(messages)
def test_round_trip(msg: MessageBody) -> None:
    payload = msg.encode()
    assert type(msg).decode(payload) == msg
    assert decode_message(msg.KIND, payload) == msg


@given(messages, st.data())
def test_truncated_or_extended_payloads_raise_message_error(msg: MessageBody, data: st.DataObject) -> None:
    payload = msg.encode()
    if isinstance(msg, (RadioTm, RadioTc, Ack)):
        return  # all of the payload is the message
    cut = data.draw(st.integers(0, max(0, len(payload) - 1)))
    if not isinstance(msg, ErrorMsg):
        with pytest.raises(MessageError):
            decode_message(msg.KIND, payload[:cut])
        with pytest.raises(MessageError):
            decode_message(msg.KIND, payload + b"\x00")


@given(st.sampled_from(Kind), st.binary(max_size=200))
def test_random_payloads_raise_only_message_error(kind: Kind, payload: bytes) -> None:
    try:
        msg = decode_message(kind, payload)
    except MessageError:
        return
    assert msg.KIND is kind


def test_documented_layouts() -> None:
    assert Hello(1, Role.BOARD, 0xA1B2C3D4, 7, 8, Capability.LOCKSTEP, "1.2").encode() == (
        b"\x01\x02\xa1\xb2\xc3\xd4\x00\x07\x00\x08\x00\x00\x00\x01\x031.2")
    assert Tick(-1, 5).encode() == struct.pack(">qIB", -1, 5, 0)
    assert Tick(10, 5, BusResult(3, (TransferResult(BusStatus.OK, (0xBEEF,)),))).encode() == (
        struct.pack(">qIB", 10, 5, 1) + b"\x00\x03\x00\x01" + b"\x00\x02\x01\xbe\xef")
    assert BusTransfer.read(0x40, 0x02).encode() == b"\x00\x40\x00\x02\x02\x00\x01"
    assert BusTransfer.write(0x40, 0x00, (0x4127,)).encode() == b"\x00\x40\x01\x00\x02\x01\x00\x41\x27"
    assert BusTransfer.raw(0x36, b"\x08", 2).encode() == b"\x00\x36\x02\x00\x01\x01\x02\x08"
    assert TickDone(9, (("step_ns", 1500),)).encode() == b"\x00\x00\x00\x09\x01\x07step_ns" + struct.pack(">q", 1500)
    assert ErrorMsg(ErrorCode.BAD_MESSAGE, "bad").encode() == b"\x00\x03bad"
    assert Ack.from_offsets([0, 9]).encode() == b"\x80\x40" and Ack(b"\x80\x40").offsets() == [0, 9]
    assert RadioTm(b"\x1a\xcf").encode() == b"\x1a\xcf"


@pytest.mark.parametrize(("kind", "payload", "what"), [
    (Kind.HELLO, b"\x01\x03" + bytes(6) + b"\x00\x08" + bytes(5), "HELLO role"),
    (Kind.HELLO, b"\x01\x01" + bytes(6) + b"\x00\x00" + bytes(5), "window"),
    (Kind.HELLO, b"\x01\x01" + bytes(6) + b"\x00\x08" + bytes(4) + b"\x02\xff\xfe", "UTF-8"),
    (Kind.BUS_BATCH, b"\x00\x01\x00\x01" + b"\x00\x40\x07\x00\x02\x00\x01", "op"),
    (Kind.BUS_BATCH, b"\x00\x01\x00\x01" + b"\x00\x80\x00\x00\x02\x00\x01", "address"),
    (Kind.BUS_BATCH, b"\x00\x01\x00\x01" + b"\x00\x40\x00\x00\x03\x00\x01", "width"),
    (Kind.BUS_RESULT, b"\x00\x01\x00\x01" + b"\x01\x02\x01\x12\x34", "failed transfer"),
    (Kind.TICK, struct.pack(">qIB", 0, 0, 2), "has_poll"),
    (Kind.ERROR, b"\x00\x63x", "ERROR code"),
    (Kind.ERROR, b"\x00\x01two\nlines", "one line"),
    (Kind.TICK_DONE, b"\x00\x00\x00\x01\x01\x00", "empty stat name"),
    (0x7F, b"", "unknown message kind"),
])
def test_malformed_payloads_name_the_problem(kind: int, payload: bytes, what: str) -> None:
    with pytest.raises(MessageError, match=what):
        decode_message(kind, payload)


def test_construction_validates() -> None:
    with pytest.raises(ValueError):
        BusTransfer.read(0x80, 0)
    with pytest.raises(ValueError):
        BusTransfer(0, 0x40, BusOp.READ, 0, 2, (1,), 1)
    with pytest.raises(ValueError):
        TransferResult(BusStatus.NACK, (1,))
    with pytest.raises(ValueError):
        ErrorMsg(ErrorCode.INTERNAL, "a\nb")
    with pytest.raises(ValueError):
        Tick(0, -1)
    assert TickDone(1, (("a", 2),)).stat("a") == 2 and TickDone(1).stat("a") is None
    assert TransferResult(BusStatus.OK, (0x1234,)).data() == b"\x12\x34"
