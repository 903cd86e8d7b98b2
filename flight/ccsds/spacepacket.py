"""Space packets (CCSDS 133.0-B-2).

Primary header, six octets, big-endian:
version (3) | type (1) | secondary header flag (1) | APID (11) |
sequence flags (2) | sequence count (14) | data length (16) = data octets - 1.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from flight.ccsds.errors import DecodeError

HEADER_LEN = 6
MAX_PACKET_LEN = 65542
IDLE_APID = 0x7FF
SEQ_MODULO = 16384
_HDR = struct.Struct(">HHH")


class PacketType(IntEnum):
    TM = 0
    TC = 1


class SeqFlags(IntEnum):
    CONTINUATION = 0
    FIRST = 1
    LAST = 2
    UNSEGMENTED = 3


@dataclass(frozen=True)
class PrimaryHeader:
    apid: int
    seq_count: int
    data_len: int  # octets in the data field (the field on the wire holds this minus 1)
    packet_type: PacketType = PacketType.TM
    sec_hdr: bool = False
    seq_flags: SeqFlags = SeqFlags.UNSEGMENTED
    version: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.apid <= 0x7FF:
            raise ValueError(f"APID {self.apid} outside 0..2047")
        if not 0 <= self.seq_count < SEQ_MODULO:
            raise ValueError(f"sequence count {self.seq_count} outside 0..16383")
        if not 1 <= self.data_len <= 65536:
            raise ValueError(f"data field of {self.data_len} octets (1..65536)")
        if not 0 <= self.version <= 7:
            raise ValueError(f"version {self.version} outside 0..7")

    @property
    def packet_len(self) -> int:
        return HEADER_LEN + self.data_len

    def pack(self) -> bytes:
        w0 = (self.version << 13) | (int(self.packet_type) << 12) | (int(self.sec_hdr) << 11) | self.apid
        w1 = (int(self.seq_flags) << 14) | self.seq_count
        return _HDR.pack(w0, w1, self.data_len - 1)

    @classmethod
    def unpack(cls, buf: bytes | bytearray | memoryview, offset: int = 0) -> PrimaryHeader:
        if len(buf) - offset < HEADER_LEN:
            raise DecodeError(f"space packet header needs {HEADER_LEN} octets, got {len(buf) - offset}")
        w0, w1, length = _HDR.unpack_from(buf, offset)
        return cls(
            apid=w0 & 0x7FF,
            seq_count=w1 & 0x3FFF,
            data_len=length + 1,
            packet_type=PacketType((w0 >> 12) & 1),
            sec_hdr=bool((w0 >> 11) & 1),
            seq_flags=SeqFlags(w1 >> 14),
            version=w0 >> 13,
        )


@dataclass(frozen=True)
class SpacePacket:
    header: PrimaryHeader
    data: bytes  # the whole data field: secondary header (if any) and user data

    @property
    def apid(self) -> int:
        return self.header.apid

    @property
    def seq_count(self) -> int:
        return self.header.seq_count

    def encode(self) -> bytes:
        return self.header.pack() + self.data


def encode_packet(apid: int, seq_count: int, data: bytes, *, packet_type: PacketType = PacketType.TM,
                  sec_hdr: bool = False, seq_flags: SeqFlags = SeqFlags.UNSEGMENTED) -> bytes:
    """One space packet: primary header + data field (1 to 65536 octets)."""
    hdr = PrimaryHeader(apid=apid, seq_count=seq_count % SEQ_MODULO, data_len=len(data), packet_type=packet_type,
                        sec_hdr=sec_hdr, seq_flags=seq_flags)
    return hdr.pack() + bytes(data)


def decode_packet(buf: bytes | bytearray | memoryview) -> SpacePacket:
    """Exactly one packet; trailing or missing octets are an error."""
    hdr = PrimaryHeader.unpack(buf)
    if hdr.version != 0:
        raise DecodeError(f"space packet version {hdr.version}, expected 0")
    if len(buf) != hdr.packet_len:
        raise DecodeError(f"space packet of {len(buf)} octets but its header says {hdr.packet_len}")
    return SpacePacket(hdr, bytes(buf[HEADER_LEN:]))


def packet_length(buf: bytes | bytearray | memoryview, offset: int = 0) -> int | None:
    """Total length of the packet starting at offset, or None if the header is incomplete."""
    if len(buf) - offset < HEADER_LEN:
        return None
    return int.from_bytes(buf[offset + 4:offset + 6], "big") + 7


def idle_packet(total_len: int, seq_count: int = 0, fill: int = 0x55) -> bytes:
    """An idle packet (APID 0x7FF) of total_len octets (at least 7)."""
    if total_len < HEADER_LEN + 1:
        raise ValueError(f"an idle packet needs at least {HEADER_LEN + 1} octets, got {total_len}")
    return encode_packet(IDLE_APID, seq_count, bytes([fill]) * (total_len - HEADER_LEN))


def split_packets(buf: bytes | bytearray | memoryview) -> tuple[list[bytes], int]:
    """The complete packets at the front of buf and the number of octets they use.
    Stops at the first incomplete packet ("need more bytes")."""
    out: list[bytes] = []
    pos = 0
    n = len(buf)
    mv = memoryview(buf)
    while n - pos >= HEADER_LEN:
        total = ((mv[pos + 4] << 8) | mv[pos + 5]) + 7
        if n - pos < total:
            break
        out.append(bytes(mv[pos:pos + total]))
        pos += total
    return out, pos
