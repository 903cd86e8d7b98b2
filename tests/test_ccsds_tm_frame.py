"""TM transfer frames, CADUs and the TM framer: round trips, an independent deframing oracle, spacepackets."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from spacepackets.ccsds.tm_frame import TmTransferFrame

from flight.ccsds.crc import crc16
from flight.ccsds.deframer import Deframer, InputFormat
from flight.ccsds.errors import DecodeError
from flight.ccsds.randomizer import SEQUENCE
from flight.ccsds.spacepacket import encode_packet, split_packets
from flight.ccsds.tm_frame import (
    ASM,
    FHP_IDLE_DATA,
    FHP_NO_PACKET_START,
    TmFrame,
    TmFrameConfig,
    TmFramer,
    cadu,
    frame_from_cadu,
)

configs = st.builds(TmFrameConfig, scid=st.integers(0, 0x3FF), frame_length=st.integers(26, 300),
                    has_ocf=st.booleans(), has_fecf=st.booleans(), randomize=st.booleans(), asm=st.booleans())


@st.composite
def frames(draw: st.DrawFn) -> tuple[TmFrameConfig, TmFrame]:
    cfg = draw(configs)
    frame = TmFrame(scid=cfg.scid, vcid=draw(st.integers(0, 7)), mc_count=draw(st.integers(0, 255)),
                    vc_count=draw(st.integers(0, 255)), first_header_pointer=draw(st.integers(0, 0x7FF)),
                    data=draw(st.binary(min_size=cfg.data_field_len, max_size=cfg.data_field_len)),
                    ocf=draw(st.binary(min_size=4, max_size=4)) if cfg.has_ocf else None)
    return cfg, frame


def test_default_config() -> None:
    cfg = TmFrameConfig(scid=0x2A)
    assert (cfg.frame_length, cfg.has_ocf, cfg.has_fecf, cfg.randomize, cfg.asm, cfg.idle_vcid) == (
        1115, False, True, False, True, 7)
    assert cfg.data_field_len == 1115 - 6 - 2
    assert bytes.fromhex("1ACFFC1D") == ASM


def test_header_bits_known_answer() -> None:
    cfg = TmFrameConfig(scid=0x2F6, frame_length=32, has_ocf=True)
    raw = TmFrame(scid=0x2F6, vcid=5, mc_count=0x12, vc_count=0x34, first_header_pointer=0x7FE,
                  data=bytes(cfg.data_field_len), ocf=b"\x01\x02\x03\x04").encode(cfg)
    # 00 | 1011110110 | 101 | 1  -> 0x2F6B ; data field status 0 0 0 11 11111111110 -> 0x1FFE
    assert raw[:6] == bytes.fromhex("2F6B1234") + bytes.fromhex("1FFE")
    assert raw[-6:-2] == b"\x01\x02\x03\x04"
    assert raw[-2:] == crc16(raw[:-2]).to_bytes(2, "big")


@given(frames())
def test_frame_round_trip_and_spacepackets_parses_it(item: tuple[TmFrameConfig, TmFrame]) -> None:
    cfg, frame = item
    raw = frame.encode(cfg)
    assert len(raw) == cfg.frame_length
    assert TmFrame.decode(raw, cfg) == frame
    theirs = TmTransferFrame.unpack(raw, cfg.frame_length, has_error_control_field=cfg.has_fecf)
    hdr = theirs.primary_header
    assert hdr.master_channel_id.transfer_frame_version == 0 and hdr.master_channel_id.spacecraft_id == frame.scid
    assert (hdr.vc_id, hdr.ocf_flag, hdr.master_ch_frame_count, hdr.vc_frame_count) == (
        frame.vcid, cfg.has_ocf, frame.mc_count, frame.vc_count)
    dfs = hdr.frame_datafield_status
    assert (dfs.secondary_header_flag, dfs.sync_flag, dfs.packet_order_flag) == (False, False, False)
    assert (dfs.segment_len_id, dfs.first_header_pointer) == (3, frame.first_header_pointer)
    assert theirs.data_field == frame.data
    assert theirs.op_ctrl_field == frame.ocf


@given(frames())
def test_cadu_round_trip(item: tuple[TmFrameConfig, TmFrame]) -> None:
    cfg, frame = item
    raw = frame.encode(cfg)
    unit = cadu(raw, cfg)
    assert len(unit) == cfg.cadu_length
    assert unit.startswith(ASM) == cfg.asm
    body = unit[4:] if cfg.asm else unit
    assert (body == raw) != cfg.randomize or raw == body  # randomized unless the channel says not
    assert frame_from_cadu(unit, cfg) == raw


def test_randomized_cadu_known_answer() -> None:
    cfg = TmFrameConfig(scid=1, frame_length=64, has_fecf=False, randomize=True)
    zeros = bytes(64)
    assert cadu(zeros, cfg) == ASM + SEQUENCE[:64]


def test_decode_errors_name_the_field() -> None:
    cfg = TmFrameConfig(scid=0x100, frame_length=40)
    raw = TmFrame(scid=0x100, vcid=1, mc_count=0, vc_count=0, first_header_pointer=0,
                  data=bytes(cfg.data_field_len)).encode(cfg)
    with pytest.raises(DecodeError, match="39 octets"):
        TmFrame.decode(raw[:-1], cfg)
    bad_version = bytearray(raw)
    bad_version[0] |= 0x40
    bad_version[-2:] = crc16(bytes(bad_version[:-2])).to_bytes(2, "big")
    with pytest.raises(DecodeError, match="version 1"):
        TmFrame.decode(bytes(bad_version), cfg)
    corrupted = bytearray(raw)
    corrupted[10] ^= 1
    with pytest.raises(DecodeError, match="FECF"):
        TmFrame.decode(bytes(corrupted), cfg)
    with pytest.raises(DecodeError, match="spacecraft ID"):
        TmFrame.decode(raw, TmFrameConfig(scid=0x101, frame_length=40))
    with pytest.raises(DecodeError, match="sync marker"):
        frame_from_cadu(b"\x00" * 4 + raw, cfg)


# --- the framer ----------------------------------------------------------------------------------------------


def oracle_deframe(frames_of_vc: list[TmFrame]) -> list[bytes]:
    """Independent oracle: concatenate a VC's data fields, check every FHP against where packets really
    start, and split the stream. Assumes no frame is lost (the framer emits them all)."""
    stream = b""
    for frame in frames_of_vc:
        if frame.first_header_pointer == FHP_IDLE_DATA:
            assert _starts(stream)[-1] == len(stream)  # only-idle-data frames come only between packets
            continue
        base = len(stream)
        stream += frame.data
        in_frame = [s - base for s in _starts(stream) if base <= s < len(stream)]
        expected = in_frame[0] if in_frame else FHP_NO_PACKET_START
        assert frame.first_header_pointer == expected
    packets, used = split_packets(stream)
    assert used == len(stream), "a frame stream must end on a packet boundary once the queue is drained"
    return packets


def _starts(stream: bytes) -> list[int]:
    """Offsets where packets start, walking the length fields from offset 0 (and the end of the last one)."""
    out = []
    pos = 0
    while pos <= len(stream):
        out.append(pos)
        if len(stream) - pos < 6:
            break
        pos += int.from_bytes(stream[pos + 4:pos + 6], "big") + 7
    return out


def _is_idle(pkt: bytes) -> bool:
    return (int.from_bytes(pkt[:2], "big") & 0x7FF) == 0x7FF


actions = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers(0, 2), st.integers(0, 0x7FE), st.binary(min_size=1, max_size=400)),
        st.tuples(st.just("frame"), st.integers(0, 2)),
        st.tuples(st.just("idle")),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([40, 64, 131, 300]), st.booleans(), actions)
@example(40, False, [("push", 0, 1, bytes(20)), ("frame", 0)])  # data field 32: a 26-octet packet leaves 6
@example(40, False, [("push", 1, 1, bytes(86)), ("frame", 1), ("push", 1, 2, bytes(1))])  # 92 = 32 + 32 + 28
def test_framer_packets_come_back_in_order(frame_length: int, has_ocf: bool, steps: list[tuple]) -> None:
    cfg = TmFrameConfig(scid=0x55, frame_length=frame_length, has_ocf=has_ocf)
    framer = TmFramer(cfg)
    ocf = b"\x00\x01\x02\x03" if has_ocf else None
    pushed: dict[int, list[bytes]] = {0: [], 1: [], 2: []}
    emitted: list[bytes] = []
    seq = 0
    for step in steps:
        if step[0] == "push":
            _, vc, apid, data = step
            pkt = encode_packet(apid, seq, data)
            seq += 1
            framer.push(vc, pkt)
            pushed[vc].append(pkt)
        elif step[0] == "frame":
            emitted.append(framer.frame(step[1], ocf))
        else:
            emitted.append(framer.idle_frame(ocf))
    for vc in pushed:  # drain
        while framer.pending(vc):
            emitted.append(framer.frame(vc, ocf))
    decoded = [TmFrame.decode(raw, cfg) for raw in emitted]
    assert [f.mc_count for f in decoded] == [i % 256 for i in range(len(decoded))]
    deframer = Deframer(frame_length=cfg.frame_length, fmt=InputFormat.FRAMES)
    from_extractor: dict[int, list[bytes]] = {0: [], 1: [], 2: []}
    for f, raw in zip(decoded, emitted, strict=True):
        assert f.ocf == ocf
        if f.vcid == 7:
            assert f.first_header_pointer == FHP_IDLE_DATA
        for vc, pkt in deframer.feed(raw):
            from_extractor[vc].append(pkt)
    for vc in pushed:
        of_vc = [f for f in decoded if f.vcid == vc]
        assert [f.vc_count for f in of_vc] == [i % 256 for i in range(len(of_vc))]
        assert [p for p in oracle_deframe(of_vc) if not _is_idle(p)] == pushed[vc]
        assert from_extractor[vc] == pushed[vc]
        assert deframer.stats.vc_missing[vc] == 0


def test_framer_idle_packet_spans_when_fewer_than_7_octets_remain() -> None:
    cfg = TmFrameConfig(scid=1, frame_length=108)  # data field 100 octets
    framer = TmFramer(cfg)
    pkt = encode_packet(0x10, 0, bytes(range(91)))  # 97 octets: 3 remain, too few for an idle packet
    framer.push(0, pkt)
    first = TmFrame.decode(framer.frame(0), cfg)
    assert first.first_header_pointer == 0
    assert first.data[:97] == pkt and first.data[97:] == bytes.fromhex("07FFC0")  # a 7-octet idle packet begins
    assert framer.pending(0) == 4
    second = TmFrame.decode(framer.frame(0), cfg)
    assert second.data[:4] == bytes.fromhex("00000055")  # ... and ends here
    assert second.first_header_pointer == 4 and second.data[4:6] == bytes.fromhex("07FF")
    assert second.vc_count == 1 and second.mc_count == 1
    assert framer.pending(0) == 0
    third = TmFrame.decode(framer.frame(0), cfg)
    assert third.first_header_pointer == FHP_IDLE_DATA and third.data == b"\x55" * 100


def test_framer_long_packet_spans_frames_with_no_start_pointer() -> None:
    cfg = TmFrameConfig(scid=1, frame_length=108)
    framer = TmFramer(cfg)
    framer.push(3, encode_packet(0x10, 0, bytes(250)))
    framer.push(3, encode_packet(0x11, 1, bytes(10)))
    fhps = [TmFrame.decode(framer.frame(3), cfg).first_header_pointer for _ in range(3)]
    assert fhps == [0, FHP_NO_PACKET_START, 56]  # 256 = 100 + 100 + 56


def test_framer_push_many_is_push_one_by_one() -> None:
    cfg = TmFrameConfig(scid=1, frame_length=108)
    pkts = [encode_packet(0x10 + k, k, bytes(range(k * 13 % 90 + 1))) for k in range(12)]
    one, many = TmFramer(cfg), TmFramer(cfg)
    for p in pkts:
        one.push(2, p)
    assert many.push_many(2, pkts)
    assert many.pending(2) == one.pending(2)
    assert [many.frame(2) for _ in range(6)] == [one.frame(2) for _ in range(6)]


def test_framer_push_many_queues_nothing_it_would_refuse() -> None:
    framer = TmFramer(TmFrameConfig(scid=1))
    good = encode_packet(1, 0, b"xy")
    assert not framer.push_many(0, [good, good[:-1]])  # the second is cut short
    assert not framer.push_many(0, [good, bytearray(good)])  # not bytes: push() it
    assert not framer.push_many(7, [good])  # the idle VC
    assert not framer.push_many(8, [good])
    assert framer.pending(0) == 0 and framer.pending(7) == 0
    assert framer.push_many(0, []) and framer.pending(0) == 0


def test_framer_rejects_bad_input() -> None:
    framer = TmFramer(TmFrameConfig(scid=1, has_ocf=True))
    with pytest.raises(ValueError, match="idle VC"):
        framer.push(7, encode_packet(1, 0, b"x"))
    with pytest.raises(ValueError, match="one space packet"):
        framer.push(0, encode_packet(1, 0, b"xy")[:-1])
    with pytest.raises(ValueError, match="OCF"):
        framer.frame(0)
    with pytest.raises(ValueError, match="VC ID"):
        framer.frame(8, b"\0\0\0\0")


def test_extractor_counts_a_lost_frame_and_resyncs() -> None:
    cfg = TmFrameConfig(scid=1, frame_length=108)
    framer = TmFramer(cfg)
    pkts = [encode_packet(0x20, i, bytes([i]) * 60) for i in range(6)]  # 66 octets each
    for p in pkts:
        framer.push(0, p)
    raws = []
    while framer.pending(0):  # 396 octets: 5 frames, an idle packet spans the 4th and 5th
        raws.append(framer.frame(0))
    assert len(raws) == 5
    deframer = Deframer(frame_length=cfg.frame_length, fmt=InputFormat.FRAMES)
    got: list[bytes] = []
    for i, raw in enumerate(raws):
        if i == 1:
            continue  # lost on the link
        got += [p for _, p in deframer.feed(raw)]
    assert deframer.stats.vc_missing[0] == 1
    assert deframer.stats.packets_dropped == 1
    # frame 0 held packet 0 and the start of packet 1; frame 1 (lost) finished 1 and began 2 (at 32) ...
    assert got[0] == pkts[0] and pkts[1] not in got and pkts[2] not in got
    assert got[-2:] == pkts[4:]
