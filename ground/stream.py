"""Ground-side telemetry decoding: a byte stream in, decoded packet records
and link statistics out. Sans-I/O: the caller feeds chunks (from a file,
standard input or a serial port) and writes the records where it wants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flight.ccsds.deframer import Deframer, InputFormat
from flight.ccsds.errors import DecodeError
from flight.ccsds.spacepacket import SEQ_MODULO, PrimaryHeader
from flight.dictionary import Dictionary
from flight.dictionary.errors import UnknownPacketError


@dataclass(frozen=True)
class Record:
    """One packet: {"apid", "name", "seq", "time", "fields"} in its JSON shape."""

    apid: int
    name: str | None
    seq: int
    time: float | None
    fields: dict[str, Any]
    vcid: int

    def to_json(self) -> dict[str, Any]:
        return {"apid": self.apid, "name": self.name, "seq": self.seq, "time": self.time, "fields": self.fields}


@dataclass
class ApidStats:
    """Packets of one APID. Sequence gaps are counted in the order the packets
    were made (their time stamps, when the dictionary knows the APID), so that
    real-time and played-back packets arriving interleaved on two virtual
    channels do not count as gaps; unknown APIDs are taken in arrival order."""

    packets: int = 0
    _seen: list[tuple[float, int, int]] = field(default_factory=list, repr=False)  # (time, arrival, seq)
    _last_time: float = field(default=0.0, repr=False)

    def see(self, seq: int, time_s: float | None) -> None:
        # a packet without a time (unknown APID, or undecodable) sorts with the one that arrived before it
        if time_s is not None:
            self._last_time = time_s
        self._seen.append((self._last_time, self.packets, seq))
        self.packets += 1

    def gaps(self) -> tuple[int, int]:
        """(breaks in the sequence count, packets those breaks skipped), wrapping at 16384."""
        gaps = missing = 0
        prev: int | None = None
        first: dict[tuple[float, int], int] = {}  # the same packet again (a store dump's copy) counts once
        for t, arrival, seq in self._seen:
            first.setdefault((t, seq), arrival)
        for _, _, seq in sorted((t, arrival, seq) for (t, seq), arrival in first.items()):
            if prev is not None and seq != (prev + 1) % SEQ_MODULO:
                gaps += 1
                missing += (seq - prev - 1) % SEQ_MODULO
            prev = seq
        return gaps, missing


class StreamDecoder:
    """Deframes, reassembles and decodes with the dictionary; counts
    everything that went wrong. `apids` limits the records returned (the
    statistics still cover every packet)."""

    def __init__(self, dictionary: Dictionary, fmt: InputFormat = InputFormat.CADU, frame_length: int = 1115,
                 randomized: bool = False, apids: set[int] | None = None) -> None:
        self.dictionary = dictionary
        self.deframer = Deframer(frame_length=frame_length, randomized=randomized, fmt=fmt)
        self.apids = apids
        self.per_apid: dict[int, ApidStats] = {}
        self.decode_errors = 0
        self.unknown_apids = 0

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[Record]:
        return self._records(self.deframer.feed(chunk))

    def finish(self) -> list[Record]:
        return self._records(self.deframer.finish())

    def _records(self, packets: list[tuple[int, bytes]]) -> list[Record]:
        out: list[Record] = []
        for vcid, pkt in packets:
            hdr = PrimaryHeader.unpack(pkt)
            rec = self._decode(vcid, hdr, pkt)
            self.per_apid.setdefault(hdr.apid, ApidStats()).see(hdr.seq_count, rec.time)
            if self.apids is None or hdr.apid in self.apids:
                out.append(rec)
        return out

    def _decode(self, vcid: int, hdr: PrimaryHeader, pkt: bytes) -> Record:
        try:
            pdef = self.dictionary.packet(hdr.apid)
        except UnknownPacketError:
            self.unknown_apids += 1
            return Record(hdr.apid, None, hdr.seq_count, None, {}, vcid)
        try:
            d = pdef.decode(pkt)
        except DecodeError:
            self.decode_errors += 1
            return Record(hdr.apid, pdef.name, hdr.seq_count, None, {}, vcid)
        return Record(hdr.apid, pdef.name, hdr.seq_count, d.time_s, dict(d.fields), vcid)

    @property
    def errors(self) -> int:
        """Everything counted against a clean stream."""
        seq = sum(a.gaps()[0] for a in self.per_apid.values())
        return self.deframer.stats.errors + seq + self.decode_errors

    def stats_json(self) -> dict[str, Any]:
        s = self.deframer.stats
        vcs = {str(v): {"frames": s.vc_frames[v], "gaps": s.vc_gaps[v], "missing": s.vc_missing[v]}
               for v in range(len(s.vc_frames)) if s.vc_frames[v]}
        return {
            "frames": s.frames,
            "frame_gaps": s.frame_gaps,
            "frames_missing": s.frames_missing,
            "crc_errors": s.crc_errors,
            "bad_frames": s.bad_frames,
            "bytes_skipped": s.bytes_skipped,
            "idle_frames": s.idle_frames,
            "packets": sum(a.packets for a in self.per_apid.values()),
            "packets_dropped": s.packets_dropped,
            "bad_packets": s.bad_packets,
            "decode_errors": self.decode_errors,
            "unknown_apid_packets": self.unknown_apids,
            "apids": {str(apid): dict(zip(("packets", "gaps", "missing"), (a.packets, *a.gaps()), strict=True))
                      for apid, a in sorted(self.per_apid.items())},
            "vcs": vcs,
        }
