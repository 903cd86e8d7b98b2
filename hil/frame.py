"""Link frames: header, payload and CRC, COBS-encoded and ended by a 0x00 octet.

Wire format of one frame::

    COBS( header | payload | crc ) 0x00

    header (9 octets, big-endian):
      offset 0  u8   version   protocol version (`PROTOCOL_VERSION`); judged by the link, not here
      offset 1  u8   kind      message kind (`hil.messages.Kind`)
      offset 2  u16  seq       sequence number of a sequenced frame (flag SEQ), else 0
      offset 4  u16  ack       next sequence number expected from the peer (flag ACK), else 0
      offset 6  u8   flags     bit 0 SEQ: the frame is part of the reliable, ordered stream
                               bit 1 ACK: the ack field is valid
                               bit 2 RETX: a retransmission (informational)
                               bits 3-7 reserved, sent as 0, ignored on receipt
      offset 7  u16  length    payload length in octets, 0..MAX_PAYLOAD
    payload (length octets)
    crc (4 octets, big-endian): CRC-32/ISO-HDLC of header and payload

CRC-32/ISO-HDLC is the CRC of HDLC, Ethernet, zlib and PNG: polynomial 0x04C11DB7, reflected,
initial value and final XOR 0xFFFFFFFF; check("123456789") = 0xCBF43926. It is `zlib.crc32`
(C speed, in the standard library). It detects every burst error up to 32 bits long and leaves a
random corruption undetected with probability about 2**-32.

A frame therefore costs 9 + 4 octets of header and CRC, the COBS overhead (one octet per 254 octets
plus one) and the delimiter: a 1115-octet payload travels as 1134 octets on the line (98.3 %).

`FrameDecoder` cuts a byte stream at 0x00 octets and checks each piece. It never raises on bad
input: a piece is either a `Frame` or counted as one rejection (`DecoderStats`):

- ``oversize``: more octets before the next 0x00 than the largest valid frame (the decoder drops
  octets up to the next 0x00), or a length field above the decoder's maximum payload;
- ``bad_cobs``: not a valid COBS encoding;
- ``bad_length``: shorter than header and CRC, or (CRC correct) a length field that disagrees with
  the number of octets received;
- ``bad_crc``: the CRC does not match.

Empty pieces (two 0x00 in a row, or a 0x00 before the first frame) are idle fill, not counted.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from hil import cobs

__all__ = [
    "CRC_SIZE",
    "FLAG_ACK",
    "FLAG_RETX",
    "FLAG_SEQ",
    "HEADER_SIZE",
    "MAX_PAYLOAD",
    "PROTOCOL_VERSION",
    "DecoderStats",
    "Frame",
    "FrameDecoder",
    "encode_frame",
    "max_wire_size",
]

PROTOCOL_VERSION = 1
MAX_PAYLOAD = 4096  # octets: a CCSDS TM frame (1115 octets and up) fits with room to spare

FLAG_SEQ = 0x01
FLAG_ACK = 0x02
FLAG_RETX = 0x04

_HEADER = struct.Struct(">BBHHBH")
HEADER_SIZE = _HEADER.size  # 9
CRC_SIZE = 4
_CRC = struct.Struct(">I")

Buffer = bytes | bytearray | memoryview


def max_wire_size(payload_len: int) -> int:
    """Octets on the line for a frame with payload_len octets of payload, at worst (delimiter included)."""
    return cobs.max_encoded_length(HEADER_SIZE + payload_len + CRC_SIZE) + 1


@dataclass(frozen=True, slots=True)
class Frame:
    kind: int
    seq: int = 0
    ack: int = 0
    flags: int = 0
    payload: bytes = b""
    version: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        for name, value, hi in (("version", self.version, 0xFF), ("kind", self.kind, 0xFF), ("seq", self.seq, 0xFFFF),
                                ("ack", self.ack, 0xFFFF), ("flags", self.flags, 0xFF)):
            if not 0 <= value <= hi:
                raise ValueError(f"frame {name} must be in 0..{hi}, got {value}")
        if len(self.payload) > MAX_PAYLOAD:
            raise ValueError(f"frame payload of {len(self.payload)} octets exceeds MAX_PAYLOAD={MAX_PAYLOAD}")

    def encode(self) -> bytes:
        """The frame as it goes on the line: COBS-encoded, 0x00 appended."""
        return encode_frame(self.kind, self.payload, seq=self.seq, ack=self.ack, flags=self.flags,
                            version=self.version)


def encode_frame(kind: int, payload: Buffer = b"", *, seq: int = 0, ack: int = 0, flags: int = 0,
                 version: int = PROTOCOL_VERSION) -> bytes:
    """One frame as it goes on the line (see the module docstring), delimiter included."""
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise ValueError(f"frame payload of {n} octets exceeds MAX_PAYLOAD={MAX_PAYLOAD}")
    try:
        body = _HEADER.pack(version, kind, seq, ack, flags, n) + bytes(payload)
    except struct.error as exc:
        raise ValueError(f"frame header field out of range: {exc}") from None
    return cobs.encode(body + _CRC.pack(zlib.crc32(body))) + b"\x00"


@dataclass(slots=True)
class DecoderStats:
    """What a FrameDecoder saw. Every non-empty piece between delimiters is one frame or one rejection."""

    frames: int = 0
    bytes_in: int = 0
    bad_cobs: int = 0
    bad_crc: int = 0
    bad_length: int = 0
    oversize: int = 0

    @property
    def rejected(self) -> int:
        return self.bad_cobs + self.bad_crc + self.bad_length + self.oversize


class FrameDecoder:
    """Streaming decoder: feed any chunks of the byte stream, get the complete valid frames.

    The decoder holds at most one frame's worth of undelimited octets; a longer piece is dropped up to
    the next 0x00 and counted once as oversize."""

    def __init__(self, max_payload: int = MAX_PAYLOAD) -> None:
        if not 0 <= max_payload <= MAX_PAYLOAD:
            raise ValueError(f"max_payload must be in 0..{MAX_PAYLOAD}, got {max_payload}")
        self.max_payload = max_payload
        self._max_encoded = cobs.max_encoded_length(HEADER_SIZE + max_payload + CRC_SIZE)
        self._buf = bytearray()
        self._skipping = False  # dropping an oversize piece until the next delimiter
        self.stats = DecoderStats()

    @property
    def buffered(self) -> int:
        """Octets held while waiting for a delimiter."""
        return len(self._buf)

    def feed(self, data: Buffer) -> list[Frame]:
        """The frames completed by data, in stream order. Never raises on bad input."""
        self.stats.bytes_in += len(data)
        frames: list[Frame] = []
        buf = self._buf
        start = len(buf)
        buf += data
        pos = 0
        while True:
            end = buf.find(0, start)
            if end < 0:
                break
            if self._skipping:
                self._skipping = False
            elif end > pos:
                frame = self._piece(bytes(buf[pos:end]))
                if frame is not None:
                    frames.append(frame)
            pos = start = end + 1
        if pos:
            del buf[:pos]
        if len(buf) > self._max_encoded:
            if not self._skipping:
                self.stats.oversize += 1
                self._skipping = True
            buf.clear()
        return frames

    def _piece(self, piece: bytes) -> Frame | None:
        st = self.stats
        if len(piece) > self._max_encoded:
            st.oversize += 1
            return None
        try:
            raw = cobs.decode(piece)
        except cobs.CobsError:
            st.bad_cobs += 1
            return None
        if len(raw) < HEADER_SIZE + CRC_SIZE:
            st.bad_length += 1
            return None
        if zlib.crc32(raw[:-CRC_SIZE]) != _CRC.unpack_from(raw, len(raw) - CRC_SIZE)[0]:
            st.bad_crc += 1
            return None
        version, kind, seq, ack, flags, length = _HEADER.unpack_from(raw)
        if length > self.max_payload:
            st.oversize += 1
            return None
        if length != len(raw) - HEADER_SIZE - CRC_SIZE:
            st.bad_length += 1
            return None
        st.frames += 1
        return Frame(kind, seq, ack, flags, raw[HEADER_SIZE:-CRC_SIZE], version)
