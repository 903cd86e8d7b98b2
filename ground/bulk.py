"""Bulk telemetry decoding: a CADU capture (or the deframer's output arena) in, one table of
columns per packet kind out, in engineering units.

The vectorized path: for each chunk of the deframer's output arena (octets, offsets, vcids),
numpy reads every packet's APID and length at once, groups the packet starts by kind (one stable
radix sort of a uint8 code), and gathers the packets of each declared fixed-length APID into an
(n, length) uint8 array (a view of the arena with a length-octet record at every octet offset,
indexed by the packet starts: one memcpy per packet). At the end PacketDef.decode_many turns the
rows of the whole stream into columns. Packets of an undeclared APID or of the wrong length are
counted in BulkStats, not decoded; so are packets decode_many rejects (CRC, service, subtype).

    columns = decode_columns(open("capture.cadu", "rb"), load_dictionary())
    columns["power_hk"]["bus_voltage_v"]   # float64 volts, one per power_hk packet, stream order
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from flight.ccsds.deframer import Deframer, DeframerStats
from flight.ccsds.errors import DecodeError
from flight.ccsds.spacepacket import IDLE_APID
from flight.dictionary import Dictionary, PacketDef

Array = npt.NDArray[Any]
Columns = dict[str, Array]
ArenaChunk = tuple[Array, Array, Array]  # (octets, offsets with n + 1 entries, vcids), as Deframer.feed_arena
Buffer = bytes | bytearray | memoryview
Source = Buffer | BinaryIO | Iterable[ArenaChunk | Buffer]
Selection = Mapping[str, Collection[str] | None]  # packet name -> the field columns wanted (None: all)

CHUNK_OCTETS = 4 << 20


@dataclass
class BulkStats:
    """What the bulk decoder saw. Every packet lands in exactly one of decoded, unknown_apid,
    wrong_length, invalid, idle and skipped."""

    packets: int = 0
    decoded: int = 0
    unknown_apid: int = 0  # no packet of that APID in the dictionary
    wrong_length: int = 0  # declared APID, but not the declared length
    invalid: int = 0  # right APID and length, rejected by decode_many (CRC, version, service, subtype)
    idle: int = 0  # APID 0x7FF (the deframer drops these; other sources may not)
    skipped: int = 0  # a declared kind of the right length that the decoder was not asked to decode (select)
    per_packet: dict[str, int] = field(default_factory=dict)
    deframer: DeframerStats | None = None  # when decode_columns ran the deframer itself


class BulkDecoder:
    """Accumulates arena chunks (add) and decodes everything at the end (columns).

    select: only these packet kinds, by name, each with the field columns wanted (None: all of them);
    the packets of the other kinds are counted as skipped, neither gathered nor decoded. Default: every
    kind, every field."""

    def __init__(self, dictionary: Dictionary, check_crc: bool = True, select: Selection | None = None) -> None:
        self.check_crc = check_crc
        known = {p.name: p for p in dictionary.packets}
        for name, fields in (select or {}).items():
            if name not in known:
                raise KeyError(f"no packet named {name!r} in the dictionary")
            for f in fields or ():
                known[name].field(f)  # KeyError for a field the packet lacks
        self._select = select
        self.stats = BulkStats()
        self._defs = dictionary.packets
        if len(self._defs) > 254:
            raise ValueError("the bulk decoder takes at most 254 packet kinds")
        self._length = np.zeros(2048, dtype=np.intp)  # declared length per APID, 0: undeclared
        self._index = np.full(2048, len(self._defs), dtype=np.uint8)  # position in _defs per APID
        for k, p in enumerate(self._defs):
            self._length[p.apid] = p.length
            self._index[p.apid] = k
        self._rows: dict[str, list[Array]] = {p.name: [] for p in self._defs}

    def add(self, octets: Array, offsets: Array) -> None:
        """One arena chunk: the packets octets[offsets[k]:offsets[k + 1]]. The arrays are only read
        during the call (the gathered rows are copies), so a deframer may reuse them afterwards."""
        n = offsets.size - 1
        if n <= 0:
            return
        octets = np.ascontiguousarray(octets, dtype=np.uint8)
        offs = offsets.astype(np.intp)
        starts = offs[:-1]
        lengths = offs[1:] - starts
        self.stats.packets += n
        short = lengths < 7  # cannot be a space packet: wrong length, APID unread
        if short.any():
            self.stats.wrong_length += int(np.count_nonzero(short))
            starts, lengths = starts[~short], lengths[~short]
        apid = ((octets[starts] & 0x07).astype(np.intp) << 8) | octets[starts + 1]
        declared = self._length[apid]
        undeclared = declared == 0
        idle = int(np.count_nonzero(apid == IDLE_APID))
        self.stats.idle += idle
        self.stats.unknown_apid += int(np.count_nonzero(undeclared)) - idle
        misfit = declared != lengths
        self.stats.wrong_length += int(np.count_nonzero(misfit & ~undeclared))
        # group the packet starts by kind: one stable radix sort of a uint8 code (kinds, then "other")
        kind = self._index[apid]
        kind[misfit] = len(self._defs)
        order = np.argsort(kind, kind="stable")
        bounds = np.concatenate(([0], np.cumsum(np.bincount(kind, minlength=len(self._defs) + 1))))
        grouped = starts[order]
        for k, p in enumerate(self._defs):
            sel = grouped[bounds[k]:bounds[k + 1]]
            if sel.size and self._select is not None and p.name not in self._select:
                self.stats.skipped += sel.size
                continue
            if sel.size:
                # every octet offset as the start of a p.length-octet record: one memcpy per packet
                windows: Array = np.ndarray(shape=(octets.size - p.length + 1,), dtype=np.dtype((np.void, p.length)),
                                            buffer=octets, strides=(1,))
                self._rows[p.name].append(windows[sel].view(np.uint8).reshape(-1, p.length))

    def columns(self) -> dict[str, Columns]:
        """Per packet name, its columns (decode_many's: header values, then fields in engineering
        units) over every packet added so far, in stream order. Kinds never seen are left out."""
        out: dict[str, Columns] = {}
        for p in self._defs:
            parts = self._rows[p.name]
            if not parts:
                continue
            rows = parts[0] if len(parts) == 1 else np.concatenate(parts)
            cols = self._decode(p, rows)
            if cols is not None:
                out[p.name] = cols
                count = next(iter(cols.values())).size
                self.stats.per_packet[p.name] = count
                self.stats.decoded += count
        return out

    def _decode(self, p: PacketDef, rows: Array) -> Columns | None:
        """decode_many on all rows; if it rejects some, split until the bad ones are isolated
        (one extra pass per halving, so a few corrupted packets cost little)."""
        try:
            return p.decode_many(rows, check_crc=self.check_crc,
                                 fields=self._select.get(p.name) if self._select is not None else None)
        except DecodeError:
            if rows.shape[0] == 1:
                self.stats.invalid += 1
                return None
        mid = rows.shape[0] // 2
        halves = [c for c in (self._decode(p, rows[:mid]), self._decode(p, rows[mid:])) if c is not None]
        if len(halves) < 2:
            return halves[0] if halves else None
        return {k: np.concatenate([halves[0][k], halves[1][k]]) for k in halves[0]}


def decode_columns(source: Source, dictionary: Dictionary, *, stats: BulkStats | None = None,
                   frame_length: int = 1115, randomized: bool = False, check_crc: bool = True,
                   chunk_octets: int = CHUNK_OCTETS, select: Selection | None = None) -> dict[str, Columns]:
    """Columns per packet name for a whole capture.

    source: a CADU byte stream (bytes-like, or a binary file read in chunk_octets pieces), or an
    iterable of Deframer.feed_arena results (each used before the next is drawn, so a generator
    over one deframer is fine) or of CADU byte chunks. When decode_columns runs the deframer
    itself (frame_length, randomized; FECF checked), its statistics end up in stats.deframer.
    Pass a BulkStats as stats to get the counts of packets not decoded. select: only some packet kinds
    and fields (see BulkDecoder)."""
    dec = BulkDecoder(dictionary, check_crc=check_crc, select=select)
    deframer: Deframer | None = None

    def feed(chunk: Buffer) -> None:
        nonlocal deframer
        if deframer is None:
            deframer = Deframer(frame_length=frame_length, randomized=randomized)
        octets, offsets, _ = deframer.feed_arena(chunk)
        dec.add(octets, offsets)

    if isinstance(source, bytes | bytearray | memoryview):
        mv = memoryview(source)
        for pos in range(0, len(mv), chunk_octets):
            feed(mv[pos:pos + chunk_octets])
    elif isinstance(source, io.IOBase):
        while chunk := source.read(chunk_octets):
            feed(chunk)
    else:
        for item in source:
            if isinstance(item, bytes | bytearray | memoryview):
                feed(item)
            else:
                dec.add(item[0], item[1])
    if deframer is not None:
        tail = deframer.finish()
        if tail:
            data = b"".join(pkt for _, pkt in tail)
            offsets = np.cumsum([0] + [len(pkt) for _, pkt in tail])
            dec.add(np.frombuffer(data, dtype=np.uint8), offsets)
        dec.stats.deframer = deframer.stats
    out = dec.columns()
    if stats is not None:
        stats.__dict__.update(dec.stats.__dict__)
    return out
