"""TM transfer frames (CCSDS 132.0-B-3), CADUs (131.0-B) and a sans-I/O packet multiplexer.

Frame: primary header (6 octets) | data field | optional OCF (4 octets) | optional FECF (2 octets).
Primary header, big-endian: version (2) = 00 | spacecraft ID (10) | virtual channel ID (3) | OCF flag (1) |
master channel frame count (8) | virtual channel frame count (8) | data field status (16): secondary header
flag (1) = 0 | synchronisation flag (1) = 0 | packet order flag (1) = 0 | segment length ID (2) = 11 |
first header pointer (11).
First header pointer (FHP): offset in the data field of the first packet header that starts in this frame;
0x7FF when no packet starts here (the frame continues a packet), 0x7FE when the frame holds only idle data.
FECF: CRC-16/CCITT-FALSE over every octet before it.
CADU: attached sync marker 1ACFFC1D then the frame, pseudo-randomized when the channel says so.

Fill policy of TmFramer (every frame it emits is valid and every packet boundary is unambiguous):
- A frame(vcid) call with nothing queued on that VC gives an only-idle-data frame (FHP 0x7FE) on that VC.
- When the queue runs dry inside a frame, the rest of the data field is one idle packet (APID 0x7FF, fill
  0x55) that ends exactly at the end of the data field. Idle packets never span frames.
- An idle packet needs at least 7 octets and may only start where a packet ends. When the queued packets
  end 1 to 6 octets before the end of the data field, a 7-octet idle packet starts there and spans into
  the next frame of that VC, exactly like any other packet (the next frame's FHP points past its end).
  Real packets are never cut short and idle data (FHP 0x7FE) never shares a frame with packet data:
  a receiver that walks the packet length fields from the FHP always lands on packet boundaries.
- idle_frame() gives an only-idle-data frame on the idle VC (7 by default); no packets go on that VC.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from flight.ccsds.crc import crc16
from flight.ccsds.errors import DecodeError
from flight.ccsds.randomizer import randomize
from flight.ccsds.spacepacket import HEADER_LEN, idle_packet, packet_length

ASM = bytes.fromhex("1ACFFC1D")
PRIMARY_HEADER_LEN = 6
OCF_LEN = 4
FECF_LEN = 2
MAX_FRAME_LEN = 2048
NUM_VCS = 8
FHP_NO_PACKET_START = 0x7FF
FHP_IDLE_DATA = 0x7FE
SEGMENT_LENGTH_ID_PACKETS = 0b11
IDLE_FILL = 0x55
MIN_IDLE_PACKET = HEADER_LEN + 1

Buffer = bytes | bytearray | memoryview

_HDR = struct.Struct(">HBBH")
_DFS_PACKETS = SEGMENT_LENGTH_ID_PACKETS << 11  # data field status: no sync, no packet order, packets


@dataclass(frozen=True)
class TmFrameConfig:
    """What the physical channel fixes: spacecraft, frame length, trailer fields, coding."""

    scid: int
    frame_length: int = 1115
    has_ocf: bool = False
    has_fecf: bool = True
    randomize: bool = False
    asm: bool = True
    idle_vcid: int = 7

    def __post_init__(self) -> None:
        if not 0 <= self.scid <= 0x3FF:
            raise ValueError(f"spacecraft ID {self.scid} outside 0..1023")
        if not 0 <= self.idle_vcid < NUM_VCS:
            raise ValueError(f"idle VC {self.idle_vcid} outside 0..7")
        if self.frame_length > MAX_FRAME_LEN:
            raise ValueError(f"frame length {self.frame_length} over the {MAX_FRAME_LEN}-octet maximum")
        if self.data_field_len < 2 * MIN_IDLE_PACKET:
            raise ValueError(f"frame length {self.frame_length} leaves a data field of {self.data_field_len} octets;"
                             f" at least {2 * MIN_IDLE_PACKET} are needed")

    @property
    def data_field_len(self) -> int:
        return self.frame_length - PRIMARY_HEADER_LEN - (OCF_LEN if self.has_ocf else 0) - (
            FECF_LEN if self.has_fecf else 0)

    @property
    def cadu_length(self) -> int:
        return self.frame_length + (len(ASM) if self.asm else 0)


@dataclass(frozen=True)
class TmFrame:
    scid: int
    vcid: int
    mc_count: int
    vc_count: int
    first_header_pointer: int
    data: bytes  # the data field
    ocf: bytes | None = None  # the 4-octet operational control field (a CLCW), if present
    sync_flag: bool = False
    packet_order_flag: bool = False
    segment_length_id: int = SEGMENT_LENGTH_ID_PACKETS
    version: int = 0

    def __post_init__(self) -> None:
        for name, value, bits in (("spacecraft ID", self.scid, 10), ("VC ID", self.vcid, 3),
                                  ("master channel frame count", self.mc_count, 8),
                                  ("virtual channel frame count", self.vc_count, 8),
                                  ("first header pointer", self.first_header_pointer, 11),
                                  ("segment length ID", self.segment_length_id, 2), ("version", self.version, 2)):
            if not 0 <= value < (1 << bits):
                raise ValueError(f"{name} {value} outside 0..{(1 << bits) - 1}")
        if self.ocf is not None and len(self.ocf) != OCF_LEN:
            raise ValueError(f"OCF of {len(self.ocf)} octets, must be {OCF_LEN}")

    @property
    def only_idle_data(self) -> bool:
        return self.first_header_pointer == FHP_IDLE_DATA

    def encode(self, config: TmFrameConfig) -> bytes:
        if len(self.data) != config.data_field_len:
            raise ValueError(f"data field of {len(self.data)} octets; the channel's frames carry "
                             f"{config.data_field_len}")
        if (self.ocf is not None) != config.has_ocf:
            raise ValueError("pass a 4-octet ocf exactly when the channel has an OCF (config.has_ocf)")
        w0 = (self.version << 14) | (self.scid << 4) | (self.vcid << 1) | int(self.ocf is not None)
        dfs = ((int(self.sync_flag) << 14) | (int(self.packet_order_flag) << 13) | (self.segment_length_id << 11)
               | self.first_header_pointer)
        out = _HDR.pack(w0, self.mc_count, self.vc_count, dfs) + bytes(self.data) + (self.ocf or b"")
        if config.has_fecf:
            out += crc16(out).to_bytes(2, "big")
        return out

    @classmethod
    def decode(cls, buf: Buffer, config: TmFrameConfig) -> TmFrame:
        """One frame, exactly config.frame_length octets (ASM removed, derandomized)."""
        n = len(buf)
        if n != config.frame_length:
            raise DecodeError(f"TM frame of {n} octets; this channel's frames are {config.frame_length}")
        mv = memoryview(buf)
        w0, mc, vc, dfs = _HDR.unpack_from(mv, 0)
        version = w0 >> 14
        if version != 0:
            raise DecodeError(f"transfer frame version {version}, expected 0 (TM frame)")
        scid = (w0 >> 4) & 0x3FF
        if scid != config.scid:
            raise DecodeError(f"spacecraft ID {scid} in a frame on the channel of spacecraft {config.scid}")
        end = n
        if config.has_fecf:
            if crc16(mv) != 0:
                raise DecodeError(f"FECF 0x{int.from_bytes(mv[-2:], 'big'):04x}, computed "
                                  f"0x{crc16(mv[:-2]):04x}: corrupted TM frame")
            end -= FECF_LEN
        ocf = None
        if w0 & 1:
            ocf = bytes(mv[end - OCF_LEN:end])
            end -= OCF_LEN
        if dfs >> 15:
            raise DecodeError("TM frame secondary header flag set: frame secondary headers are not supported")
        return cls(scid=scid, vcid=(w0 >> 1) & 0x7, mc_count=mc, vc_count=vc, first_header_pointer=dfs & 0x7FF,
                   data=bytes(mv[PRIMARY_HEADER_LEN:end]), ocf=ocf, sync_flag=bool((dfs >> 14) & 1),
                   packet_order_flag=bool((dfs >> 13) & 1), segment_length_id=(dfs >> 11) & 0x3, version=version)


def cadu(frame: Buffer, config: TmFrameConfig) -> bytes:
    """The channel access data unit: ASM (if the channel uses it) then the frame, randomized if configured."""
    body = randomize(frame) if config.randomize else bytes(frame)
    return ASM + body if config.asm else body


def frame_from_cadu(buf: Buffer, config: TmFrameConfig) -> bytes:
    """The frame in one CADU: checks the ASM, removes it and derandomizes."""
    if len(buf) != config.cadu_length:
        raise DecodeError(f"CADU of {len(buf)} octets; this channel's CADUs are {config.cadu_length}")
    body = memoryview(buf)
    if config.asm:
        if bytes(body[:4]) != ASM:
            raise DecodeError(f"attached sync marker {bytes(body[:4]).hex().upper()}, expected 1ACFFC1D")
        body = body[4:]
    return randomize(body) if config.randomize else bytes(body)


class TmFramer:
    """Sans-I/O virtual channel multiplexer: packets in per VC, fixed-length frames out.

    push(vcid, packet) queues one space packet; frame(vcid) returns the next frame of that VC, with
    packets spanning frames and the first header pointer set; idle_frame() returns an idle frame.
    The master channel frame count and each VC's frame count advance by one per frame, modulo 256.
    See the module docstring for the fill policy.
    """

    def __init__(self, config: TmFrameConfig) -> None:
        self.config = config
        self._queues: list[deque[bytes]] = [deque() for _ in range(NUM_VCS)]
        self._head_offset = [0] * NUM_VCS  # octets of each queue's head packet already framed
        self._pending = [0] * NUM_VCS
        self._vc_count = [0] * NUM_VCS
        self._mc_count = 0
        self._idle_data = bytes([IDLE_FILL]) * config.data_field_len
        self._data_field_len = config.data_field_len
        self._fecf = config.has_fecf
        self._w0_no_ocf = config.scid << 4  # version 0, the VC ID goes in bits 3..1, OCF flag 0

    @property
    def mc_count(self) -> int:
        """The master channel frame count the next frame will carry."""
        return self._mc_count

    def vc_count(self, vcid: int) -> int:
        """The frame count the next frame of that VC will carry."""
        return self._vc_count[self._check_vcid(vcid)]

    def pending(self, vcid: int) -> int:
        """Octets queued on that VC and not yet framed (including the tail of an idle packet that spans
        frames: at most 6 octets, never alone in a frame with nothing else to send)."""
        return self._pending[self._check_vcid(vcid)]

    def push(self, vcid: int, packet: Buffer) -> None:
        """Queue one whole space packet on a VC."""
        if self._check_vcid(vcid) == self.config.idle_vcid:
            raise ValueError(f"VC {vcid} is the idle VC: push packets on another VC or configure idle_vcid")
        total = packet_length(packet)
        if total is None or total != len(packet):
            raise ValueError(f"push takes exactly one space packet; got {len(packet)} octets, header says {total}")
        self._queues[vcid].append(bytes(packet))
        self._pending[vcid] += total

    def push_many(self, vcid: int, packets: Sequence[bytes]) -> bool:
        """push() each packet, in order, when every one is a bytes object holding exactly one space packet and
        the VC takes packets: True. Otherwise queues none of them and returns False (push() them one by one,
        which says what is wrong)."""
        if not 0 <= vcid < NUM_VCS or vcid == self.config.idle_vcid:
            return False
        total = 0
        for p in packets:  # packet_length(p) == len(p), inlined
            n = len(p)
            if type(p) is not bytes or n < HEADER_LEN or (p[4] << 8 | p[5]) + 7 != n:
                return False
            total += n
        self._queues[vcid].extend(packets)
        self._pending[vcid] += total
        return True

    def frame(self, vcid: int, ocf: Buffer | None = None) -> bytes:
        """The next frame of that VC (idle data only, FHP 0x7FE, if nothing is queued)."""
        self._check_vcid(vcid)
        if self._pending[vcid] == 0:
            return self._emit(vcid, FHP_IDLE_DATA, self._idle_data, ocf)
        length = self.config.data_field_len
        queue = self._queues[vcid]
        if 0 < length - self._pending[vcid] < MIN_IDLE_PACKET:
            # too little room after the last packet for an idle packet: a 7-octet one spans into the next frame
            queue.append(idle_packet(MIN_IDLE_PACKET, fill=IDLE_FILL))
            self._pending[vcid] += MIN_IDLE_PACKET
        take = min(self._pending[vcid], length)
        parts: list[bytes] = []
        fhp = FHP_NO_PACKET_START
        pos = 0
        while pos < take:
            pkt = queue[0]
            off = self._head_offset[vcid]
            if off == 0 and fhp == FHP_NO_PACKET_START:
                fhp = pos
            n = min(len(pkt) - off, take - pos)
            parts.append(pkt[off:off + n] if n != len(pkt) else pkt)
            pos += n
            if off + n == len(pkt):
                queue.popleft()
                self._head_offset[vcid] = 0
            else:
                self._head_offset[vcid] = off + n
        self._pending[vcid] -= take
        if take < length:
            if fhp == FHP_NO_PACKET_START:
                fhp = take
            parts.append(idle_packet(length - take, fill=IDLE_FILL))
        return self._emit(vcid, fhp, b"".join(parts), ocf)

    def idle_frame(self, ocf: Buffer | None = None) -> bytes:
        """An only-idle-data frame (FHP 0x7FE) on the idle VC."""
        return self._emit(self.config.idle_vcid, FHP_IDLE_DATA, self._idle_data, ocf)

    def _emit(self, vcid: int, fhp: int, data: bytes, ocf: Buffer | None) -> bytes:
        if (ocf is not None) != self.config.has_ocf:
            raise ValueError("pass ocf=<4 octets> exactly when the channel has an OCF (config.has_ocf)")
        if ocf is None and len(data) == self._data_field_len and 0 <= fhp <= 0x7FF:
            # TmFrame(...).encode(config) for a frame without OCF, field values in range by construction
            # (the config's SCID is checked, vcid by _check_vcid, the counts kept modulo 256): the same octets
            # without the frame object
            mc, vc = self._mc_count, self._vc_count[vcid]
            out = _HDR.pack(self._w0_no_ocf | vcid << 1, mc, vc, _DFS_PACKETS | fhp) + data
            if self._fecf:
                out += crc16(out).to_bytes(2, "big")
            self._mc_count = (mc + 1) & 0xFF
            self._vc_count[vcid] = (vc + 1) & 0xFF
            return out
        frame = TmFrame(scid=self.config.scid, vcid=vcid, mc_count=self._mc_count, vc_count=self._vc_count[vcid],
                        first_header_pointer=fhp, data=data, ocf=None if ocf is None else bytes(ocf))
        out = frame.encode(self.config)
        self._mc_count = (self._mc_count + 1) & 0xFF
        self._vc_count[vcid] = (self._vc_count[vcid] + 1) & 0xFF
        return out

    @staticmethod
    def _check_vcid(vcid: int) -> int:
        if not 0 <= vcid < NUM_VCS:
            raise ValueError(f"VC ID {vcid} outside 0..7")
        return vcid
