"""PUS-C (ECSS-E-ST-70-41C) packet secondary headers, and PUS TM/TC space packets built with them.

TM secondary header: PUS version (4) = 2 | time reference status (4) | service (8) | subtype (8) |
message type counter (16) | destination ID (16) | absolute time (CUC T-field; the P-field is implicit,
fixed by the mission's CucFormat, unless p_field=True puts it on the wire).
TC secondary header: PUS version (4) = 2 | acknowledgement flags (4) | service (8) | subtype (8) |
source ID (16).

A PUS packet is a space packet with the secondary header flag set, the secondary header, the user data
and (by default, as PUS-C prescribes for most missions) a 2-octet packet error control: CRC-16/CCITT-FALSE
over the whole packet before it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from flight.ccsds import cuc
from flight.ccsds.crc import crc16
from flight.ccsds.cuc import CucFormat
from flight.ccsds.errors import DecodeError
from flight.ccsds.spacepacket import HEADER_LEN, PacketType, PrimaryHeader, SeqFlags

PUS_C = 2
TC_HEADER_LEN = 5
TM_FIXED_LEN = 7  # the TM secondary header before its time field
CRC_LEN = 2

Buffer = bytes | bytearray | memoryview

_TM_FIXED = struct.Struct(">BBBHH")
_TC = struct.Struct(">BBBH")


def _check_range(name: str, value: int, bits: int) -> None:
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{name} {value} outside 0..{(1 << bits) - 1}")


@dataclass(frozen=True)
class TmSecondaryHeader:
    service: int
    subtype: int
    time: bytes  # CUC T-field (coarse then fine octets), length fixed by time_format
    msg_counter: int = 0
    dest_id: int = 0
    time_ref_status: int = 0
    time_format: CucFormat = cuc.DEFAULT
    pus_version: int = PUS_C

    def __post_init__(self) -> None:
        _check_range("service", self.service, 8)
        _check_range("subtype", self.subtype, 8)
        _check_range("message type counter", self.msg_counter, 16)
        _check_range("destination ID", self.dest_id, 16)
        _check_range("time reference status", self.time_ref_status, 4)
        _check_range("PUS version", self.pus_version, 4)
        if len(self.time) != self.time_format.t_len:
            raise ValueError(f"time field of {len(self.time)} octets; the CUC format needs {self.time_format.t_len}")

    @classmethod
    def stamped(cls, t_ns: int, service: int, subtype: int, *, msg_counter: int = 0, dest_id: int = 0,
                time_ref_status: int = 0, time_format: CucFormat = cuc.DEFAULT) -> TmSecondaryHeader:
        """A header time-stamped t_ns after the CUC epoch (fine part truncated to the format's resolution)."""
        return cls(service=service, subtype=subtype, time=cuc.encode_ns(t_ns, time_format, p_field=False),
                   msg_counter=msg_counter, dest_id=dest_id, time_ref_status=time_ref_status,
                   time_format=time_format)

    @property
    def time_s(self) -> float:
        return cuc.decode(self.time, self.time_format)[0]

    @property
    def time_ns(self) -> int:
        """The time in integer nanoseconds, rounded up: stamped(h.time_ns, ...) gives back the same T-field."""
        ticks = int.from_bytes(self.time, "big")
        return -((-ticks * 1_000_000_000) >> (8 * self.time_format.fine_octets))

    def length(self, p_field: bool = False) -> int:
        return TM_FIXED_LEN + self.time_format.t_len + int(p_field)

    def encode(self, p_field: bool = False) -> bytes:
        fixed = _TM_FIXED.pack((self.pus_version << 4) | self.time_ref_status, self.service, self.subtype,
                               self.msg_counter, self.dest_id)
        return fixed + (bytes([self.time_format.p_field]) if p_field else b"") + self.time

    @classmethod
    def decode(cls, buf: Buffer, time_format: CucFormat = cuc.DEFAULT, p_field: bool = False,
               ) -> tuple[TmSecondaryHeader, int]:
        """(header, octets used). With p_field=True the time format is read from the P-field on the wire."""
        if len(buf) < TM_FIXED_LEN:
            raise DecodeError(f"PUS TM secondary header needs {TM_FIXED_LEN} octets before its time, got {len(buf)}")
        vt, service, subtype, counter, dest = _TM_FIXED.unpack_from(buf, 0)
        if vt >> 4 != PUS_C:
            raise DecodeError(f"PUS version {vt >> 4} in the TM secondary header, expected {PUS_C} (PUS-C)")
        pos = TM_FIXED_LEN
        if p_field:
            if len(buf) <= pos:
                raise DecodeError("PUS TM secondary header ends before its CUC P-field")
            time_format = CucFormat.from_p_field(buf[pos])
            pos += 1
        end = pos + time_format.t_len
        if len(buf) < end:
            raise DecodeError(f"PUS TM time field needs {time_format.t_len} octets, got {len(buf) - pos}")
        hdr = cls(service=service, subtype=subtype, time=bytes(buf[pos:end]), msg_counter=counter, dest_id=dest,
                  time_ref_status=vt & 0xF, time_format=time_format)
        return hdr, end


@dataclass(frozen=True)
class TcSecondaryHeader:
    service: int
    subtype: int
    source_id: int = 0
    ack_flags: int = 0b1111  # acceptance, start, progress, completion
    pus_version: int = PUS_C

    def __post_init__(self) -> None:
        _check_range("service", self.service, 8)
        _check_range("subtype", self.subtype, 8)
        _check_range("source ID", self.source_id, 16)
        _check_range("acknowledgement flags", self.ack_flags, 4)
        _check_range("PUS version", self.pus_version, 4)

    def encode(self) -> bytes:
        return _TC.pack((self.pus_version << 4) | self.ack_flags, self.service, self.subtype, self.source_id)

    @classmethod
    def decode(cls, buf: Buffer) -> tuple[TcSecondaryHeader, int]:
        if len(buf) < TC_HEADER_LEN:
            raise DecodeError(f"PUS TC secondary header needs {TC_HEADER_LEN} octets, got {len(buf)}")
        va, service, subtype, source = _TC.unpack_from(buf, 0)
        if va >> 4 != PUS_C:
            raise DecodeError(f"PUS version {va >> 4} in the TC secondary header, expected {PUS_C} (PUS-C)")
        return cls(service=service, subtype=subtype, source_id=source, ack_flags=va & 0xF), TC_HEADER_LEN


@dataclass(frozen=True)
class PusTm:
    header: PrimaryHeader
    secondary: TmSecondaryHeader
    data: bytes  # user data (source data), without the secondary header and the packet error control


@dataclass(frozen=True)
class PusTc:
    header: PrimaryHeader
    secondary: TcSecondaryHeader
    data: bytes  # application data


def _with_crc(packet: bytes, crc: bool) -> bytes:
    return packet + crc16(packet).to_bytes(2, "big") if crc else packet


def encode_tm(apid: int, seq_count: int, secondary: TmSecondaryHeader, data: bytes = b"", *,
              p_field: bool = False, crc: bool = True, seq_flags: SeqFlags = SeqFlags.UNSEGMENTED) -> bytes:
    """A PUS TM space packet: primary header (secondary header flag set), secondary header, data, CRC."""
    body = secondary.encode(p_field) + bytes(data)
    data_len = len(body) + (CRC_LEN if crc else 0)
    hdr = PrimaryHeader(apid=apid, seq_count=seq_count % 16384, data_len=data_len, packet_type=PacketType.TM,
                        sec_hdr=True, seq_flags=seq_flags)
    return _with_crc(hdr.pack() + body, crc)


def encode_tc(apid: int, seq_count: int, secondary: TcSecondaryHeader, data: bytes = b"", *, crc: bool = True,
              seq_flags: SeqFlags = SeqFlags.UNSEGMENTED) -> bytes:
    """A PUS TC space packet: primary header (TC, secondary header flag set), secondary header, data, CRC."""
    body = secondary.encode() + bytes(data)
    data_len = len(body) + (CRC_LEN if crc else 0)
    hdr = PrimaryHeader(apid=apid, seq_count=seq_count % 16384, data_len=data_len, packet_type=PacketType.TC,
                        sec_hdr=True, seq_flags=seq_flags)
    return _with_crc(hdr.pack() + body, crc)


def _packet_body(buf: Buffer, expected: PacketType, crc: bool) -> tuple[PrimaryHeader, memoryview]:
    hdr = PrimaryHeader.unpack(buf)
    kind = "TM" if expected == PacketType.TM else "TC"
    if hdr.version != 0:
        raise DecodeError(f"space packet version {hdr.version}, expected 0")
    if len(buf) != hdr.packet_len:
        raise DecodeError(f"PUS {kind} packet of {len(buf)} octets but its header says {hdr.packet_len}")
    if hdr.packet_type != expected:
        raise DecodeError(f"packet type {hdr.packet_type.name} where a PUS {kind} packet was expected")
    if not hdr.sec_hdr:
        raise DecodeError(f"secondary header flag is 0: APID {hdr.apid} does not carry a PUS {kind} packet")
    mv = memoryview(buf)
    if crc:
        if hdr.data_len < CRC_LEN:
            raise DecodeError(f"PUS {kind} packet too short for its packet error control")
        if crc16(mv) != 0:
            got = int.from_bytes(mv[-2:], "big")
            want = crc16(mv[:-2])
            raise DecodeError(f"packet error control 0x{got:04x}, computed 0x{want:04x}: corrupted PUS {kind} packet")
        return hdr, mv[HEADER_LEN:-CRC_LEN]
    return hdr, mv[HEADER_LEN:]


def decode_tm(buf: Buffer, time_format: CucFormat = cuc.DEFAULT, *, p_field: bool = False,
              crc: bool = True) -> PusTm:
    """Exactly one PUS TM packet; DecodeError names the field that is wrong."""
    hdr, body = _packet_body(buf, PacketType.TM, crc)
    sec, used = TmSecondaryHeader.decode(body, time_format, p_field)
    return PusTm(hdr, sec, bytes(body[used:]))


def decode_tc(buf: Buffer, *, crc: bool = True) -> PusTc:
    """Exactly one PUS TC packet; DecodeError names the field that is wrong."""
    hdr, body = _packet_body(buf, PacketType.TC, crc)
    sec, used = TcSecondaryHeader.decode(body)
    return PusTc(hdr, sec, bytes(body[used:]))
