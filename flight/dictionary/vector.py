"""Bulk decoding of fixed-length packets: one numpy structured dtype over the packet (fields
may overlap: every field is read through the smallest big-endian word that holds it), then a
shift and a mask per bit-packed field, and calibration on whole columns. The CRC is checked
with one 256-entry table per octet position (the CRC is affine in the message, so the
contributions of the octets XOR together independently)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from flight.ccsds._native import crc16_rows
from flight.ccsds.errors import DecodeError
from flight.dictionary.calibration import CalKind, unknown_label
from flight.dictionary.fields import FieldDef, FieldType

if TYPE_CHECKING:
    from flight.dictionary.packet import PacketDef

Array = npt.NDArray[Any]

CHUNK_OCTETS = 1 << 20  # decode this much at a time, so that every column pass hits the cache

_HEADER_WORDS = (("_w0", ">u2", 0), ("_w1", ">u2", 2), ("_len", ">u2", 4), ("_pus", "u1", 6), ("_svc", "u1", 7),
                 ("_sub", "u1", 8), ("_mc", ">u2", 9), ("_dst", ">u2", 11), ("_tc", ">u4", 13), ("_tf", ">u2", 17))


@dataclass(frozen=True)
class _Column:
    field: FieldDef
    word: str
    shift: int  # right shift of the word; with mask 0 the word is the value as it stands
    mask: int


class BulkDecoder:
    def __init__(self, packet: PacketDef) -> None:
        from flight.dictionary.packet import SEC_HDR_LEN

        self.packet = packet
        length = packet.length
        names: list[str] = []
        formats: list[str] = []
        offsets: list[int] = []
        words: dict[tuple[int, str], str] = {}

        def word(offset: int, fmt: str) -> str:
            key = (offset, fmt)
            if key not in words:
                words[key] = f"_f{len(words)}"
                names.append(words[key])
                formats.append(fmt)
                offsets.append(offset)
            return words[key]

        for hname, hfmt, hoff in _HEADER_WORDS:
            names.append(hname)
            formats.append(hfmt)
            offsets.append(hoff)
        names.append("_pec")
        formats.append(">u2")
        offsets.append(length - 2)
        assert SEC_HDR_LEN == 13

        self.columns: list[_Column] = []
        for f, off in zip(packet.fields, packet.offsets, strict=True):
            if f.type == FieldType.SPARE:
                continue
            b0, b1 = off // 8, (off + f.bits - 1) // 8
            if f.type == FieldType.TEXT:
                self.columns.append(_Column(f, word(b0, f"S{f.bits // 8}"), 0, 0))
            elif f.type == FieldType.BYTES:
                self.columns.append(_Column(f, word(b0, f"V{f.bits // 8}"), 0, 0))
            elif f.type == FieldType.FLOAT:
                self.columns.append(_Column(f, word(b0, f">f{f.bits // 8}"), 0, 0))
            elif off % 8 == 0 and f.bits in (8, 16, 32, 64):
                kind = "i" if f.type == FieldType.INT else "u"
                self.columns.append(_Column(f, word(b0, f">{kind}{f.bits // 8}"), 0, 0))
            else:
                w = next(w for w in (1, 2, 4, 8) if w >= b1 - b0 + 1)
                start = b0 if b0 + w <= length else b1 + 1 - w
                shift = (start + w) * 8 - (off + f.bits)
                self.columns.append(_Column(f, word(start, f">u{w}"), shift, (1 << f.bits) - 1))
        self.dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": length})
        self._enum_tables: dict[str, Array] = {}
        for c in self.columns:
            if c.field.type == FieldType.ENUM:
                table = [unknown_label(k) for k in range(1 << c.field.bits)]
                for code, label in c.field.calibration.labels:
                    table[code] = label
                self._enum_tables[c.field.name] = np.array(table)

    def _records(self, packets: bytes | bytearray | memoryview | Array) -> Array:
        length = self.packet.length
        if isinstance(packets, np.ndarray):
            arr = np.ascontiguousarray(packets)
            if arr.dtype != np.uint8:
                raise DecodeError(f"{self.packet.name}: expected a uint8 array, got {arr.dtype}")
            if arr.ndim == 2 and arr.shape[1] != length:
                raise DecodeError(f"{self.packet.name}: rows of {arr.shape[1]} octets, expected {length}")
            if arr.ndim > 2:
                raise DecodeError(f"{self.packet.name}: expected a 1-D or 2-D array, got {arr.ndim}-D")
            flat = arr.reshape(-1)
        else:
            flat = np.frombuffer(packets, dtype=np.uint8)
        if flat.size % length:
            raise DecodeError(f"{self.packet.name}: {flat.size} octets is not a whole number of {length}-octet "
                              f"packets")
        return flat.view(self.dtype)

    def decode(self, packets: bytes | bytearray | memoryview | Array, check_crc: bool,
               fields: Collection[str] | None = None) -> dict[str, Array]:
        """Columns for all packets, decoded in cache-sized chunks into preallocated arrays. fields: the
        field columns wanted (None: all); the header columns always come, and every packet is checked
        as a whole either way."""
        rec = self._records(packets)
        n = rec.size
        step = max(1, CHUNK_OCTETS // self.packet.length)
        columns = self.columns
        if fields is not None:
            wanted = frozenset(fields)
            unknown = sorted(wanted - {c.field.name for c in columns})
            if unknown:
                raise KeyError(f"{self.packet.name} has no field {unknown[0]!r}")
            columns = [c for c in columns if c.field.name in wanted or c.field.name == self.packet.severity_field]
        first = self._decode_chunk(rec[:step], check_crc, 0, columns)
        if n <= step:
            return first if fields is None else self._only(first, fields)
        out = {k: np.empty(n, dtype=v.dtype) for k, v in first.items()}
        for k, v in first.items():
            out[k][:step] = v
        for s in range(step, n, step):
            chunk = self._decode_chunk(rec[s:s + step], check_crc, s, columns)
            for k, v in chunk.items():
                out[k][s:s + step] = v
        return out if fields is None else self._only(out, fields)

    def _only(self, cols: dict[str, Array], fields: Collection[str]) -> dict[str, Array]:
        """The header columns and the requested field columns (a severity field decoded for the check
        only is left out)."""
        from flight.dictionary.packet import HEADER_COLUMNS

        return {k: v for k, v in cols.items() if k in HEADER_COLUMNS or k in fields}

    def _decode_chunk(self, rec: Array, check_crc: bool, base: int, columns: Sequence[_Column]) -> dict[str, Array]:
        p = self.packet
        n = rec.size
        w0 = rec["_w0"]
        bad = w0 != (0x0800 | p.apid)
        bad |= rec["_len"] != p.length - 7
        bad |= (rec["_pus"] >> 4) != 2
        bad |= rec["_svc"] != p.service
        sub = rec["_sub"]
        bad |= ~np.isin(sub, p.subtypes) if len(p.subtypes) > 1 else sub != p.subtypes[0]
        if check_crc:
            bad |= self.crc(rec) != rec["_pec"]
        out: dict[str, Array] = {
            "apid": (w0 & 0x7FF).astype(np.uint16),
            "seq_count": (rec["_w1"] & 0x3FFF).astype(np.uint16),
            "time_s": rec["_tc"].astype(np.float64) + rec["_tf"] * (1.0 / 65536.0),
            "service": rec["_svc"].astype(np.uint8),
            "subtype": sub.astype(np.uint8),
            "msg_counter": rec["_mc"].astype(np.uint16),
            "destination": rec["_dst"].astype(np.uint16),
        }
        for c in columns:
            f = c.field
            x: Array = rec[c.word]
            native = x.dtype.newbyteorder("=")
            if c.mask:
                x = (x >> native.type(c.shift)) & native.type(c.mask)
                if f.type == FieldType.INT:
                    sign = np.int64(1 << (f.bits - 1))
                    x = (x.astype(np.int64) ^ sign) - sign
            else:
                x = x.astype(native)
            if f.type == FieldType.BOOL:
                out[f.name] = x != 0
            elif f.type == FieldType.ENUM:
                out[f.name] = self._enum_tables[f.name][x]
            elif f.type == FieldType.TEXT:
                out[f.name] = np.char.decode(x.astype(np.bytes_), "ascii", errors="replace")
            elif f.type == FieldType.BYTES:  # hex strings, as the per-packet decoder gives them
                out[f.name] = np.array([bytes(v).hex() for v in x], dtype=f"U{f.bits // 4}")
            elif f.calibration.kind != CalKind.NONE:
                out[f.name] = f.calibration.to_eng_array(x)
            else:
                out[f.name] = x
        if p.severity_field is not None:
            bad |= out[p.severity_field] != self._enum_tables[p.severity_field][sub]
        if bad.any():
            idx = np.flatnonzero(bad)
            raise DecodeError(f"{p.name}: packet {base + idx[0]} is not a {p.name} packet (APID {p.apid}, "
                              f"{p.length} octets, PUS service {p.service}{', valid CRC' if check_crc else ''}); "
                              f"{idx.size} bad among packets {base}..{base + n - 1}")
        return out

    def crc(self, rec: Array) -> npt.NDArray[np.uint16]:
        """CRC-16/CCITT-FALSE of each packet but its last two octets (in C, slicing-by-8)."""
        octets = np.ascontiguousarray(rec).view(np.uint8).reshape(rec.size, self.packet.length)
        return crc16_rows(octets, self.packet.length - 2)
