"""Space packets, CUC and PUS-C secondary headers: round trips and interoperability with spacepackets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spacepackets.ccsds.spacepacket import PacketType as SpPacketType
from spacepackets.ccsds.spacepacket import SequenceFlags, SpacePacketHeader
from spacepackets.ecss import PusTc as SpPusTc
from spacepackets.ecss import PusTm as SpPusTm

from flight.ccsds import cuc, pus
from flight.ccsds.crc import crc16
from flight.ccsds.cuc import CucFormat
from flight.ccsds.errors import DecodeError
from flight.ccsds.pus import TcSecondaryHeader, TmSecondaryHeader
from flight.ccsds.spacepacket import (
    PacketType,
    PrimaryHeader,
    SeqFlags,
    decode_packet,
    encode_packet,
    idle_packet,
    split_packets,
)

apids = st.integers(0, 0x7FF)
seqs = st.integers(0, 0x3FFF)
u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
cuc_formats = st.builds(CucFormat, coarse_octets=st.integers(1, 4), fine_octets=st.integers(0, 3),
                        time_code_id=st.sampled_from([cuc.LEVEL1_TAI, cuc.LEVEL2_AGENCY]))


@st.composite
def tm_headers(draw: st.DrawFn) -> TmSecondaryHeader:
    fmt = draw(cuc_formats)
    return TmSecondaryHeader(service=draw(u8), subtype=draw(u8), time=draw(st.binary(min_size=fmt.t_len,
                                                                                    max_size=fmt.t_len)),
                             msg_counter=draw(u16), dest_id=draw(u16), time_ref_status=draw(st.integers(0, 15)),
                             time_format=fmt)


tc_headers = st.builds(TcSecondaryHeader, service=u8, subtype=u8, source_id=u16, ack_flags=st.integers(0, 15))


# --- space packets -------------------------------------------------------------------------------------------


@given(apids, seqs, st.binary(min_size=1, max_size=300), st.sampled_from(PacketType), st.booleans(),
       st.sampled_from(SeqFlags))
def test_packet_round_trip_and_spacepackets_parses_it(apid: int, seq: int, data: bytes, ptype: PacketType,
                                                      sec: bool, flags: SeqFlags) -> None:
    raw = encode_packet(apid, seq, data, packet_type=ptype, sec_hdr=sec, seq_flags=flags)
    pkt = decode_packet(raw)
    assert (pkt.apid, pkt.seq_count, pkt.data) == (apid, seq, data)
    assert (pkt.header.packet_type, pkt.header.sec_hdr, pkt.header.seq_flags) == (ptype, sec, flags)
    theirs = SpacePacketHeader.unpack(raw)
    assert theirs.apid == apid and theirs.seq_count == seq
    assert int(theirs.packet_type) == int(ptype) and theirs.sec_header_flag == sec
    assert int(theirs.seq_flags) == int(flags) and theirs.ccsds_version == 0
    assert theirs.packet_len == len(raw) and theirs.data_len == len(data) - 1


@given(apids, seqs, st.binary(min_size=1, max_size=300), st.sampled_from(SpPacketType), st.booleans(),
       st.sampled_from(SequenceFlags))
def test_spacepackets_header_decodes_here(apid: int, seq: int, data: bytes, ptype: SpPacketType, sec: bool,
                                          flags: SequenceFlags) -> None:
    hdr = SpacePacketHeader(packet_type=ptype, apid=apid, seq_count=seq, data_len=len(data) - 1,
                            sec_header_flag=sec, seq_flags=flags)
    raw = bytes(hdr.pack()) + data
    pkt = decode_packet(raw)
    assert pkt.header == PrimaryHeader(apid=apid, seq_count=seq, data_len=len(data),
                                       packet_type=PacketType(int(ptype)), sec_hdr=sec, seq_flags=SeqFlags(int(flags)))
    assert pkt.data == data


@given(st.lists(st.tuples(apids, seqs, st.binary(min_size=1, max_size=100)), max_size=20), st.binary(max_size=5))
def test_split_packets(items: list[tuple[int, int, bytes]], tail: bytes) -> None:
    raws = [encode_packet(a, s, d) for a, s, d in items]
    stream = b"".join(raws)
    got, used = split_packets(stream + tail)
    assert got == raws and used == len(stream)


def test_idle_packet_and_bad_packets() -> None:
    idle = decode_packet(idle_packet(7))
    assert idle.apid == 0x7FF and idle.data == b"\x55"
    with pytest.raises(DecodeError, match="header says"):
        decode_packet(encode_packet(1, 0, b"abc")[:-1])
    with pytest.raises(DecodeError, match="version"):
        decode_packet(b"\x20" + encode_packet(1, 0, b"abc")[1:])


# --- CUC -----------------------------------------------------------------------------------------------------


@given(cuc_formats, st.data())
def test_cuc_round_trip(fmt: CucFormat, data: st.DataObject) -> None:
    ticks = data.draw(st.integers(0, (1 << (8 * fmt.t_len)) - 1))
    t_ns = -((-ticks * 1_000_000_000) >> (8 * fmt.fine_octets))  # the first ns in that tick
    raw = cuc.encode_ns(t_ns, fmt)
    assert raw[0] == fmt.p_field and int.from_bytes(raw[1:], "big") == ticks
    seconds, used = cuc.decode(raw)
    assert used == fmt.length and seconds == ticks / (1 << (8 * fmt.fine_octets))
    assert cuc.decode(raw[1:], fmt) == (seconds, fmt.t_len)
    assert CucFormat.from_p_field(fmt.p_field) == fmt


# --- PUS -----------------------------------------------------------------------------------------------------


@given(tm_headers(), st.booleans())
def test_tm_secondary_header_round_trip(hdr: TmSecondaryHeader, p_field: bool) -> None:
    raw = hdr.encode(p_field)
    assert len(raw) == hdr.length(p_field)
    assert raw[0] >> 4 == 2
    got, used = TmSecondaryHeader.decode(raw + b"tail", hdr.time_format if not p_field else cuc.DEFAULT, p_field)
    assert got == hdr and used == len(raw)
    assert TmSecondaryHeader.stamped(hdr.time_ns, hdr.service, hdr.subtype, msg_counter=hdr.msg_counter,
                                     dest_id=hdr.dest_id, time_ref_status=hdr.time_ref_status,
                                     time_format=hdr.time_format) == hdr


@given(tc_headers)
def test_tc_secondary_header_round_trip(hdr: TcSecondaryHeader) -> None:
    raw = hdr.encode()
    assert len(raw) == 5 and raw[0] >> 4 == 2
    assert TcSecondaryHeader.decode(raw) == (hdr, 5)


@given(apids, seqs, tm_headers(), st.binary(max_size=200), st.booleans(), st.booleans())
def test_pus_tm_packet_round_trip(apid: int, seq: int, hdr: TmSecondaryHeader, data: bytes, p_field: bool,
                                  with_crc: bool) -> None:
    raw = pus.encode_tm(apid, seq, hdr, data, p_field=p_field, crc=with_crc)
    tm = pus.decode_tm(raw, hdr.time_format, p_field=p_field, crc=with_crc)
    assert tm.secondary == hdr and tm.data == data
    assert (tm.header.apid, tm.header.seq_count, tm.header.sec_hdr) == (apid, seq, True)
    assert tm.header.packet_type == PacketType.TM
    if with_crc:
        corrupted = bytearray(raw)
        corrupted[-3] ^= 0x10
        with pytest.raises(DecodeError, match="packet error control"):
            pus.decode_tm(bytes(corrupted), hdr.time_format, p_field=p_field)


@given(apids, seqs, tc_headers, st.binary(max_size=200), st.booleans())
def test_pus_tc_packet_round_trip(apid: int, seq: int, hdr: TcSecondaryHeader, data: bytes, with_crc: bool) -> None:
    raw = pus.encode_tc(apid, seq, hdr, data, crc=with_crc)
    tc = pus.decode_tc(raw, crc=with_crc)
    assert tc.secondary == hdr and tc.data == data
    assert (tc.header.apid, tc.header.seq_count, tc.header.packet_type) == (apid, seq, PacketType.TC)


def test_pus_decoders_name_the_wrong_field() -> None:
    tm = pus.encode_tm(5, 1, TmSecondaryHeader.stamped(10**9, 3, 25), b"x")
    with pytest.raises(DecodeError, match="packet type TM"):
        pus.decode_tc(tm)
    no_sec = encode_packet(5, 1, b"0123456789abcdef")
    with pytest.raises(DecodeError, match="secondary header flag"):
        pus.decode_tm(no_sec)
    pus_a = bytearray(tm)
    pus_a[6] = 0x10
    pus_a[-2:] = crc16(bytes(pus_a[:-2])).to_bytes(2, "big")
    with pytest.raises(DecodeError, match="PUS version 1"):
        pus.decode_tm(bytes(pus_a))


# --- interoperability with spacepackets' PUS classes ---------------------------------------------------------


@given(apids, seqs, tm_headers(), st.binary(max_size=200))
def test_our_pus_tm_parses_in_spacepackets(apid: int, seq: int, hdr: TmSecondaryHeader, data: bytes) -> None:
    raw = pus.encode_tm(apid, seq, hdr, data)
    theirs = SpPusTm.unpack(raw, timestamp_len=hdr.time_format.t_len)
    assert (theirs.apid, theirs.seq_count, theirs.service, theirs.message_subtype) == (apid, seq, hdr.service,
                                                                                        hdr.subtype)
    assert theirs.timestamp == hdr.time and theirs.source_data == data
    sec = theirs.pus_tm_sec_header
    assert (sec.message_counter, sec.dest_id, sec.spacecraft_time_ref) == (hdr.msg_counter, hdr.dest_id,
                                                                           hdr.time_ref_status)


@given(apids, seqs, u8, u8, u16, u16, st.integers(0, 15), st.binary(min_size=6, max_size=6), st.binary(max_size=200))
def test_spacepackets_pus_tm_decodes_here(apid: int, seq: int, service: int, subtype: int, counter: int, dest: int,
                                          time_ref: int, stamp: bytes, data: bytes) -> None:
    from spacepackets.ecss.tm import MiscParams

    theirs = SpPusTm(service=service, message_subtype=subtype, timestamp=stamp, source_data=data, apid=apid,
                     seq_count=seq, message_counter=counter, destination_id=dest,
                     misc_params=MiscParams(spacecraft_time_ref=time_ref))
    tm = pus.decode_tm(bytes(theirs.pack()))  # default mission format: 4 coarse + 2 fine octets, implicit P-field
    assert (tm.header.apid, tm.header.seq_count, tm.header.sec_hdr) == (apid, seq, True)
    assert tm.secondary == TmSecondaryHeader(service=service, subtype=subtype, time=stamp, msg_counter=counter,
                                             dest_id=dest, time_ref_status=time_ref)
    assert tm.data == data


@given(apids, seqs, tc_headers, st.binary(max_size=200))
def test_our_pus_tc_parses_in_spacepackets(apid: int, seq: int, hdr: TcSecondaryHeader, data: bytes) -> None:
    theirs = SpPusTc.unpack(pus.encode_tc(apid, seq, hdr, data))
    assert (theirs.apid, theirs.seq_count, theirs.service, theirs.message_subtype) == (apid, seq, hdr.service,
                                                                                        hdr.subtype)
    assert theirs.source_id == hdr.source_id and theirs.app_data == data
    assert theirs.pus_tc_sec_header.ack_flags == hdr.ack_flags


@given(apids, seqs, tc_headers, st.binary(max_size=200))
def test_spacepackets_pus_tc_decodes_here(apid: int, seq: int, hdr: TcSecondaryHeader, data: bytes) -> None:
    theirs = SpPusTc(service=hdr.service, message_subtype=hdr.subtype, apid=apid, app_data=data, seq_count=seq,
                     source_id=hdr.source_id, ack_flags=hdr.ack_flags)
    tc = pus.decode_tc(bytes(theirs.pack()))
    assert tc.secondary == hdr and tc.data == data
    assert (tc.header.apid, tc.header.seq_count, tc.header.packet_type) == (apid, seq, PacketType.TC)
