"""Link frames: encoding, the streaming decoder's resynchronization and its rejection counts."""

from __future__ import annotations

import random
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil import cobs
from hil.frame import (
    CRC_SIZE,
    FLAG_ACK,
    FLAG_SEQ,
    HEADER_SIZE,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    Frame,
    FrameDecoder,
    encode_frame,
    max_wire_size,
)

frames_st = st.builds(
    Frame,
    kind=st.integers(0, 255),
    seq=st.integers(0, 0xFFFF),
    ack=st.integers(0, 0xFFFF),
    flags=st.integers(0, 255),
    payload=st.binary(max_size=600),
)


def test_layout_and_crc() -> None:
    wire = encode_frame(0x12, b"\x00\x01\x02", seq=0x1234, ack=0xBEEF, flags=FLAG_SEQ | FLAG_ACK)
    assert wire.endswith(b"\x00") and wire.count(0) == 1
    raw = cobs.decode(wire[:-1])
    assert raw[:HEADER_SIZE] == bytes([PROTOCOL_VERSION, 0x12, 0x12, 0x34, 0xBE, 0xEF, 0x03, 0x00, 0x03])
    assert raw[HEADER_SIZE:-CRC_SIZE] == b"\x00\x01\x02"
    assert struct.unpack(">I", raw[-CRC_SIZE:])[0] == zlib.crc32(raw[:-CRC_SIZE])
    assert zlib.crc32(b"123456789") == 0xCBF43926  # CRC-32/ISO-HDLC check value


def test_radio_frame_overhead() -> None:
    wire = encode_frame(0x12, bytes(range(1, 256)) * 4 + bytes(95))  # 1115 octets
    assert len(wire) <= max_wire_size(1115) == 1134
    assert 1115 / len(wire) > 0.98


@given(st.lists(frames_st, max_size=6))
def test_round_trip(frames: list[Frame]) -> None:
    dec = FrameDecoder()
    assert dec.feed(b"".join(f.encode() for f in frames)) == frames
    assert dec.stats.frames == len(frames) and dec.stats.rejected == 0 and dec.buffered == 0


@settings(max_examples=40)
@given(st.lists(frames_st, min_size=1, max_size=4))
def test_split_at_every_byte_boundary(frames: list[Frame]) -> None:
    stream = b"".join(f.encode() for f in frames)
    for cut in range(len(stream) + 1):
        dec = FrameDecoder()
        assert dec.feed(stream[:cut]) + dec.feed(stream[cut:]) == frames
    dec = FrameDecoder()
    assert [f for i in range(len(stream)) for f in dec.feed(stream[i:i + 1])] == frames


@settings(max_examples=60)
@given(st.lists(st.tuples(st.binary(max_size=300), frames_st), max_size=6), st.randoms(use_true_random=False))
def test_resync_after_random_garbage(items: list[tuple[bytes, Frame]], rnd: random.Random) -> None:
    """Garbage, then a delimiter, then a frame: every frame comes through whatever the garbage was."""
    stream = bytearray()
    for garbage, frame in items:
        stream += garbage + b"\x00" + frame.encode()
    dec = FrameDecoder()
    got = []
    pos = 0
    while pos < len(stream):
        n = rnd.randint(1, 50)
        got += dec.feed(bytes(stream[pos:pos + n]))
        pos += n
    wanted = [f for _, f in items]
    # garbage may by chance hold a valid frame (with its CRC); every frame sent is there, in order
    it = iter(got)
    assert all(any(g == w for g in it) for w in wanted)
    assert dec.stats.frames == len(got)


def test_rejection_reasons_are_counted() -> None:
    good = encode_frame(5, b"hello")
    raw = bytearray(cobs.decode(good[:-1]))
    dec = FrameDecoder()

    flipped = bytearray(raw)
    flipped[HEADER_SIZE] ^= 0x01
    assert dec.feed(cobs.encode(flipped) + b"\x00") == []
    assert dec.stats.bad_crc == 1

    assert dec.feed(b"\x05\x11\x00") == []  # a block running past the end
    assert dec.stats.bad_cobs == 1

    assert dec.feed(cobs.encode(b"\x01\x02\x03") + b"\x00") == []  # shorter than header + CRC
    assert dec.stats.bad_length == 1

    body = bytearray(raw[:-CRC_SIZE])
    body[8] += 1  # length field says one more octet than there is, CRC made right
    assert dec.feed(cobs.encode(bytes(body) + struct.pack(">I", zlib.crc32(body))) + b"\x00") == []
    assert dec.stats.bad_length == 2

    assert dec.feed(b"\x01" * (max_wire_size(MAX_PAYLOAD) + 10)) == []  # no delimiter for too long
    assert dec.stats.oversize == 1 and dec.buffered == 0
    assert dec.feed(b"\x01" * 5000 + b"\x00") == []  # the rest of the same piece: not counted again
    assert dec.stats.oversize == 1

    small = FrameDecoder(max_payload=10)
    assert small.feed(encode_frame(5, bytes(11))) == []
    assert small.stats.oversize == 1

    assert dec.feed(b"\x00\x00\x00") == []  # idle fill
    assert dec.stats.rejected == 5
    assert dec.feed(good) == [Frame(5, payload=b"hello")]
    assert dec.stats.frames == 1


@settings(max_examples=200)
@given(st.binary(max_size=3000))
def test_feed_never_raises(data: bytes) -> None:
    dec = FrameDecoder()
    frames = dec.feed(data)
    assert dec.stats.frames == len(frames)


def test_every_single_bit_flip_is_rejected() -> None:
    good = encode_frame(0x12, bytes(range(40)), seq=7, ack=9, flags=FLAG_SEQ)
    for i in range(len(good) * 8):
        bad = bytearray(good)
        bad[i // 8] ^= 0x80 >> (i % 8)
        dec = FrameDecoder()
        got = dec.feed(bytes(bad) + encode_frame(1) + encode_frame(2))
        # the corrupt frame is rejected; the next comes through unless its delimiter was hit (then it is
        # merged into the bad piece), and the one after always does
        assert got == ([Frame(2)] if i // 8 == len(good) - 1 else [Frame(1), Frame(2)])
        assert 1 <= dec.stats.rejected <= 2  # 2 when the flip made a 0x00 and cut the frame in two


def test_frame_validation() -> None:
    with pytest.raises(ValueError):
        Frame(256)
    with pytest.raises(ValueError):
        encode_frame(1, bytes(MAX_PAYLOAD + 1))
    with pytest.raises(ValueError):
        encode_frame(1, seq=1 << 16)
