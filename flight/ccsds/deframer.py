"""Streaming deframer: bytes in (CADUs, bare TM frames or bare space packets),
complete space packets out, with counters of what was lost on the way.

Sans-I/O: `feed` takes chunks of any size (one octet at a time included) and
returns the packets completed so far; `finish` ends the stream. The same byte
stream gives the same packets and counters however it is chunked. The loop is
in C (csrc/link/deframe.c): sync-marker search, de-randomization, CRC-16
by slicing-by-8, frame-count continuity and reassembly across frames.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Any

from flight.ccsds import _native
from flight.ccsds.randomizer import randomize

ASM = bytes.fromhex("1ACFFC1D")


class InputFormat(Enum):
    CADU = "cadu"
    FRAMES = "frames"
    PACKETS = "packets"


_FMT = {InputFormat.CADU: _native.FMT_CADU, InputFormat.FRAMES: _native.FMT_FRAMES,
        InputFormat.PACKETS: _native.FMT_PACKETS}


@dataclass(frozen=True)
class DeframerStats:
    frames: int
    crc_errors: int
    bad_frames: int
    bytes_skipped: int
    frame_gaps: int
    frames_missing: int
    idle_frames: int
    packets: int
    idle_packets: int
    packets_dropped: int
    bad_packets: int
    vc_frames: tuple[int, ...]
    vc_gaps: tuple[int, ...]
    vc_missing: tuple[int, ...]

    @property
    def errors(self) -> int:
        """Everything that says the stream was not clean."""
        return (self.crc_errors + self.bad_frames + self.bytes_skipped + self.frame_gaps + self.packets_dropped
                + self.bad_packets)


class Deframer:
    def __init__(self, frame_length: int = 1115, randomized: bool = False,
                 fmt: InputFormat = InputFormat.CADU, fecf: bool = True, scid: int | None = None) -> None:
        if scid is not None and not 0 <= scid <= 0x3FF:
            raise ValueError(f"spacecraft ID {scid} outside 0..1023")
        self.frame_length = frame_length
        self.randomized = randomized
        self.fmt = fmt
        self._n = _native.NativeDeframer(_FMT[fmt], frame_length if fmt != InputFormat.PACKETS else 0,
                                         randomized, fecf, -1 if scid is None else scid)

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[int, bytes]]:
        """(virtual channel, packet) for every packet completed by this chunk."""
        return self._n.feed(data)

    def feed_arena(self, data: bytes | bytearray | memoryview) -> tuple[Any, Any, Any]:
        """Like feed, for bulk decoding: the completed packets as numpy arrays
        (octets, offsets with one more entry than packets, vcids), views of C
        memory valid until the next call."""
        return self._n.feed_arena(data)

    def finish(self) -> list[tuple[int, bytes]]:
        """End of stream: what is left counts as skipped or dropped."""
        return self._n.finish()

    @property
    def stats(self) -> DeframerStats:
        st = self._n.stats()
        return DeframerStats(**{k: tuple(v) if isinstance(v, list) else v for k, v in st.items()})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Detected:
    frame_length: int
    randomized: bool
    markers: int  # sync markers seen at that spacing


def detect_channel(sample: bytes, fecf: bool = True) -> Detected | None:
    """Frame length and randomization of a CADU stream, from the spacing of its
    sync markers and the CRC of the frames between them (None when unsure)."""
    positions: list[int] = []
    i = sample.find(ASM)
    while i >= 0 and len(positions) < 64:
        positions.append(i)
        i = sample.find(ASM, i + 1)
    if len(positions) < 2:
        return None
    gaps = Counter(b - a for a, b in itertools.pairwise(positions) if b - a > 4 + 12)
    if not gaps:
        return None
    spacing, seen = gaps.most_common(1)[0]
    frame_length = spacing - 4
    for p in positions:
        frame = sample[p + 4:p + 4 + frame_length]
        if len(frame) < frame_length:
            break
        for randomized in (False, True):
            f = randomize(frame) if randomized else frame
            if not fecf or _native.crc16(f[:-2]) == int.from_bytes(f[-2:], "big"):
                return Detected(frame_length, randomized, seen + 1)
    return None
