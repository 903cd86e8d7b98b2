"""TC transfer frames (CCSDS 232.0-B-4).

Primary header, 5 octets, big-endian: version (2) = 00 | bypass flag (1: 0 type-A sequence-controlled,
1 type-B expedited) | control command flag (1: 1 for COP-1 control commands) | spare (2) = 00 |
spacecraft ID (10) | virtual channel ID (6) | frame length - 1 (10) | frame sequence number N(S) (8).
Then the data field and the FECF (CRC-16/CCITT-FALSE over everything before it). At most 1024 octets.
Control commands (type-BC frames): UNLOCK = 00, SET V(R) = 82 00 V(R).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from flight.ccsds.crc import crc16
from flight.ccsds.errors import DecodeError

HEADER_LEN = 5
FECF_LEN = 2
MAX_FRAME_LEN = 1024
UNLOCK = b"\x00"
SET_VR_PREFIX = b"\x82\x00"

Buffer = bytes | bytearray | memoryview

_HDR = struct.Struct(">HHB")


class ControlCommand(IntEnum):
    UNLOCK = 0
    SET_VR = 1


@dataclass(frozen=True)
class TcFrame:
    scid: int
    vcid: int
    seq: int  # N(S); 0 for type-B frames
    data: bytes
    bypass: bool = False
    control: bool = False
    version: int = 0
    spare: int = 0

    def __post_init__(self) -> None:
        for name, value, bits in (("spacecraft ID", self.scid, 10), ("VC ID", self.vcid, 6),
                                  ("frame sequence number", self.seq, 8), ("version", self.version, 2),
                                  ("spare", self.spare, 2)):
            if not 0 <= value < (1 << bits):
                raise ValueError(f"{name} {value} outside 0..{(1 << bits) - 1}")
        if not self.data:
            raise ValueError("a TC frame needs at least one data octet")
        if self.control and not self.bypass:
            raise ValueError("control command frames are type-BC: set bypass=True")

    def length(self, fecf: bool = True) -> int:
        return HEADER_LEN + len(self.data) + (FECF_LEN if fecf else 0)

    def encode(self, fecf: bool = True) -> bytes:
        n = self.length(fecf)
        if n > MAX_FRAME_LEN:
            raise ValueError(f"TC frame of {n} octets over the {MAX_FRAME_LEN}-octet maximum: split the data")
        w0 = ((self.version << 14) | (int(self.bypass) << 13) | (int(self.control) << 12) | (self.spare << 10)
              | self.scid)
        w1 = (self.vcid << 10) | (n - 1)
        out = _HDR.pack(w0, w1, self.seq) + bytes(self.data)
        return out + crc16(out).to_bytes(2, "big") if fecf else out

    @classmethod
    def decode(cls, buf: Buffer, fecf: bool = True) -> TcFrame:
        """Exactly one frame (trim CLTU fill first: frame_length() reads the length field)."""
        n = len(buf)
        minimum = HEADER_LEN + 1 + (FECF_LEN if fecf else 0)
        if n < minimum:
            raise DecodeError(f"TC frame of {n} octets, at least {minimum} needed")
        if n > MAX_FRAME_LEN:
            raise DecodeError(f"TC frame of {n} octets over the {MAX_FRAME_LEN}-octet maximum")
        w0, w1, seq = _HDR.unpack_from(buf, 0)
        version = w0 >> 14
        if version != 0:
            raise DecodeError(f"transfer frame version {version}, expected 0 (TC frame)")
        said = (w1 & 0x3FF) + 1
        if said != n:
            raise DecodeError(f"frame length field says {said} octets, got {n}")
        mv = memoryview(buf)
        end = n
        if fecf:
            if crc16(mv) != 0:
                raise DecodeError(f"FECF 0x{int.from_bytes(mv[-2:], 'big'):04x}, computed "
                                  f"0x{crc16(mv[:-2]):04x}: corrupted TC frame")
            end -= FECF_LEN
        return cls(scid=w0 & 0x3FF, vcid=w1 >> 10, seq=seq, data=bytes(mv[HEADER_LEN:end]),
                   bypass=bool((w0 >> 13) & 1), control=bool((w0 >> 12) & 1), version=version,
                   spare=(w0 >> 10) & 0x3)

    def control_command(self) -> tuple[ControlCommand, int]:
        """(command, V(R)) of a control command frame (V(R) is 0 for UNLOCK)."""
        return parse_control_command(self.data)


def frame_length(buf: Buffer) -> int | None:
    """The total length a TC frame's header announces, or None if the header is incomplete."""
    if len(buf) < HEADER_LEN:
        return None
    return ((buf[2] & 0x3) << 8 | buf[3]) + 1


def unlock(scid: int, vcid: int) -> TcFrame:
    """The UNLOCK control command (type-BC frame)."""
    return TcFrame(scid=scid, vcid=vcid, seq=0, data=UNLOCK, bypass=True, control=True)


def set_vr(scid: int, vcid: int, vr: int) -> TcFrame:
    """The SET V(R) control command (type-BC frame): the receiver expects N(S) = vr next."""
    if not 0 <= vr <= 0xFF:
        raise ValueError(f"V(R) {vr} outside 0..255")
    return TcFrame(scid=scid, vcid=vcid, seq=0, data=SET_VR_PREFIX + bytes([vr]), bypass=True, control=True)


def parse_control_command(data: Buffer) -> tuple[ControlCommand, int]:
    if bytes(data) == UNLOCK:
        return ControlCommand.UNLOCK, 0
    if len(data) == 3 and bytes(data[:2]) == SET_VR_PREFIX:
        return ControlCommand.SET_VR, data[2]
    raise DecodeError(f"control command {bytes(data).hex()} is neither UNLOCK (00) nor SET V(R) (82 00 vv)")
