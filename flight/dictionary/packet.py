"""One declared TM packet: its layout, and the encoding and decoding of one packet.

Layout on the wire: space packet primary header (6 octets, secondary header flag set),
PUS-C TM secondary header (13 octets: service, subtype, message counter, destination,
CUC 4+2 time with the implicit P-field 0x1E), the fields in declaration order, bit-packed
big-endian (the first field takes the most significant bits), then the 2-octet packet
error control (CRC-16/CCITT-FALSE over everything before it).
"""

from __future__ import annotations

import binascii
import math
import struct
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy.typing as npt

from flight.ccsds import cuc, pus
from flight.ccsds.errors import DecodeError
from flight.ccsds.spacepacket import HEADER_LEN, MAX_PACKET_LEN
from flight.dictionary.calibration import CalKind
from flight.dictionary.errors import DictionaryError, EncodeError
from flight.dictionary.fields import NAME_RE, FieldDef, FieldType, Value

if TYPE_CHECKING:
    from flight.dictionary.vector import BulkDecoder

TIME_FORMAT = cuc.DEFAULT  # CUC 4 coarse + 2 fine octets, P-field 0x1E, implicit
SEC_HDR_LEN = pus.TM_FIXED_LEN + TIME_FORMAT.t_len  # 13
DATA_OFFSET = HEADER_LEN + SEC_HDR_LEN  # first octet of the fields: 19
PEC_LEN = pus.CRC_LEN

SERVICE_HOUSEKEEPING = 3
SUBTYPE_HK_REPORT = 25
SERVICE_EVENT = 5
EVENT_SUBTYPES = {1: "informative", 2: "low severity", 3: "medium severity", 4: "high severity"}
SERVICE_VERIFICATION = 1
VERIFICATION_SUBTYPES = {1: "acceptance success", 2: "acceptance failure", 3: "start success", 4: "start failure",
                         5: "progress success", 6: "progress failure", 7: "completion success",
                         8: "completion failure", 10: "routing failure"}
SERVICE_TRANSFER = 13  # large packet transfer; every part is sent as [13,2] with its part number in a field
SUBTYPE_TRANSFER_PART = 2
REQUEST_ID_BITS = 16  # a verification report starts with the request ID: packet ID, then sequence control

# names decode_many uses for the header columns; a field may not take them
HEADER_COLUMNS = ("apid", "seq_count", "time_s", "service", "subtype", "msg_counter", "destination")


class PacketKind(IntEnum):
    HOUSEKEEPING = 0  # PUS service 3, subtype 25, at a period
    EVENT = 1  # PUS service 5, subtype = the severity field's code
    VERIFICATION = 2  # PUS service 1, subtype = the packet's (1 acceptance success ... 8 completion failure)
    TRANSFER = 3  # PUS service 13, subtype 2: one part of a large message (a job's result), stored and played back


_SERVICES = {PacketKind.HOUSEKEEPING: SERVICE_HOUSEKEEPING, PacketKind.EVENT: SERVICE_EVENT,
             PacketKind.VERIFICATION: SERVICE_VERIFICATION, PacketKind.TRANSFER: SERVICE_TRANSFER}


@dataclass(frozen=True)
class DecodedPacket:
    apid: int
    name: str
    seq_count: int
    time_s: float  # seconds since the CUC epoch (TAI 1958), 2^-16 s resolution
    fields: Mapping[str, Value]  # engineering units (enum: label, bool: bool, text: str)
    raw: Mapping[str, int | float | str]  # the raw values on the wire
    service: int = SERVICE_HOUSEKEEPING
    subtype: int = SUBTYPE_HK_REPORT
    msg_counter: int = 0
    destination: int = 0


@dataclass(frozen=True)
class PacketDef:
    apid: int
    name: str
    kind: PacketKind
    fields: tuple[FieldDef, ...]
    description: str = ""
    period_s: float | None = None  # housekeeping only
    severity_field: str | None = None  # events only: an enum field whose codes (1..4) are the PUS subtype
    subtype: int | None = None  # verification only: the PUS service 1 subtype
    offsets: tuple[int, ...] = field(init=False, repr=False, compare=False)  # bit offset of each field in the packet
    length: int = field(init=False, repr=False, compare=False)  # whole packet, octets

    def __post_init__(self) -> None:
        if not 0 <= self.apid < 0x7FF:
            raise DictionaryError(f"apid: must be in 0..2046 (0x7FF is the idle APID), got {self.apid}")
        if not NAME_RE.match(self.name):
            raise DictionaryError(f"name: {self.name!r} is not a lower-case identifier ([a-z][a-z0-9_]*)")
        kind = self.kind.name.lower()
        if self.kind == PacketKind.HOUSEKEEPING:
            if self.period_s is None or not self.period_s > 0:
                raise DictionaryError(f"period_s: a housekeeping packet needs a period > 0 s, got {self.period_s}")
        elif self.period_s is not None:
            raise DictionaryError(f"period_s: only a housekeeping packet has a period, not an {kind} packet")
        if self.kind != PacketKind.EVENT and self.severity_field is not None:
            raise DictionaryError(f"severity_field: only an event packet has one, not a {kind} packet")
        if self.kind == PacketKind.VERIFICATION:
            if self.subtype not in VERIFICATION_SUBTYPES:
                known = ", ".join(f"{k} {v}" for k, v in VERIFICATION_SUBTYPES.items())
                raise DictionaryError(f"subtype: a verification packet needs a PUS service 1 subtype ({known}), "
                                      f"got {self.subtype}")
        elif self.subtype is not None:
            fixed = {PacketKind.HOUSEKEEPING: "25", PacketKind.TRANSFER: str(SUBTYPE_TRANSFER_PART)}
            raise DictionaryError(f"subtype: only a verification packet has one; a {kind} packet's subtype is "
                                  + fixed.get(self.kind, "its severity_field's code"))
        if not self.fields:
            raise DictionaryError("field: a packet needs at least one field")
        seen: dict[str, int] = {}
        offsets = []
        pos = 8 * DATA_OFFSET
        for k, f in enumerate(self.fields):
            if f.name in seen:
                raise DictionaryError(f"field[{k}].name: duplicate field name {f.name!r} (also field[{seen[f.name]}])")
            if f.name in HEADER_COLUMNS:
                raise DictionaryError(f"field[{k}].name: {f.name!r} is reserved for a header value")
            seen[f.name] = k
            if f.type in (FieldType.FLOAT, FieldType.TEXT, FieldType.BYTES) and pos % 8:
                raise DictionaryError(f"field[{k}].bits: a {f.type.name.lower()} field must start on an octet "
                                      f"boundary; it starts {pos % 8} bits into an octet (add a spare field)")
            if (pos + f.bits - 1) // 8 - pos // 8 >= 8 and f.type not in (FieldType.TEXT, FieldType.BYTES):
                raise DictionaryError(f"field[{k}].bits: {f.name} spans more than 8 octets; align it to an octet")
            offsets.append(pos)
            pos += f.bits
        data_bits = pos - 8 * DATA_OFFSET
        if data_bits % 8:
            raise DictionaryError(f"field: the fields add up to {data_bits} bits, not a whole number of octets; "
                                  f"add a spare field of {8 - data_bits % 8} bits")
        length = pos // 8 + PEC_LEN
        if length > MAX_PACKET_LEN:
            raise DictionaryError(f"field: the packet would be {length} octets, more than {MAX_PACKET_LEN}")
        if self.kind == PacketKind.EVENT:
            sev = next((f for f in self.fields if f.name == self.severity_field), None)
            if sev is None or sev.type != FieldType.ENUM:
                raise DictionaryError(f"severity_field: an event packet names one of its enum fields, got "
                                      f"{self.severity_field!r}")
            bad = [label for code, label in sev.calibration.labels if code not in EVENT_SUBTYPES]
            if bad:
                raise DictionaryError(f"severity_field: label {bad[0]} of {sev.name} has a code outside 1..4 "
                                      f"(the PUS service 5 subtypes)")
        if self.kind == PacketKind.VERIFICATION:
            for k, what in enumerate(("packet ID", "sequence control")):
                rf = self.fields[k] if k < len(self.fields) else None
                if rf is None or rf.type != FieldType.UINT or rf.bits != REQUEST_ID_BITS:
                    got = f"a {rf.type_name} field {rf.name!r}" if rf is not None else "no field"
                    raise DictionaryError(f"field[{k}]: a verification packet starts with the request ID, field "
                                          f"{k} a uint of {REQUEST_ID_BITS} bits (the TC's {what}); got {got}")
        object.__setattr__(self, "offsets", tuple(offsets))
        object.__setattr__(self, "length", length)

    # ------------------------------------------------------------------ properties

    @property
    def service(self) -> int:
        return _SERVICES[self.kind]

    @property
    def subtypes(self) -> tuple[int, ...]:
        if self.kind == PacketKind.HOUSEKEEPING:
            return (SUBTYPE_HK_REPORT,)
        if self.kind == PacketKind.VERIFICATION:
            assert self.subtype is not None
            return (self.subtype,)
        if self.kind == PacketKind.TRANSFER:
            return (SUBTYPE_TRANSFER_PART,)
        sev = self.field(self.severity_field or "")
        return tuple(sorted(code for code, _ in sev.calibration.labels))

    def field(self, name: str) -> FieldDef:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    @cached_property
    def _bulk(self) -> BulkDecoder:
        from flight.dictionary.vector import BulkDecoder

        return BulkDecoder(self)

    # ------------------------------------------------------------------ one packet

    @cached_property
    def _encoder(self) -> _FastEncoder:
        return _compile_encoder(self)

    def encode(self, values: Mapping[str, Value], seq_count: int, t_ns: int, *, msg_counter: int | None = None,
               destination: int = 0) -> bytes:
        """A whole space packet from engineering values (every field but spares, by name).
        msg_counter defaults to seq_count modulo 65536. Raises EncodeError naming the field.

        The common case runs through an encoder compiled once per packet (`_compile_encoder`); anything
        it does not handle itself (a missing or unknown name, a header value out of range, a value its
        fast path does not take) goes through `_encode_generic`, which gives the same bytes and errors."""
        out = self._encoder(values, seq_count, t_ns, msg_counter, destination)
        if out is not None:
            return out
        return self._encode_generic(values, seq_count, t_ns, msg_counter=msg_counter, destination=destination)

    def _encode_generic(self, values: Mapping[str, Value], seq_count: int, t_ns: int, *,
                        msg_counter: int | None = None, destination: int = 0) -> bytes:
        """The reference encoder: field by field through FieldDef.encode_bits, then pus.encode_tm."""
        names = {f.name for f in self.fields if f.type != FieldType.SPARE}
        unknown = sorted(set(values) - names)
        if unknown:
            raise EncodeError(f"{self.name}.{unknown[0]}: no such field (fields: {', '.join(sorted(names))})")
        missing = [f.name for f in self.fields if f.type != FieldType.SPARE and f.name not in values]
        if missing:
            raise EncodeError(f"{self.name}.{missing[0]}: value missing ({len(missing)} field(s) missing: "
                              f"{', '.join(missing)})")
        acc = 0
        subtype = self.subtypes[0]
        for f in self.fields:
            bits = f.encode_bits(values[f.name], f"{self.name}.{f.name}") if f.type != FieldType.SPARE else 0
            acc = (acc << f.bits) | bits
            if f.name == self.severity_field:
                subtype = bits
        data = acc.to_bytes(self.length - DATA_OFFSET - PEC_LEN, "big")
        try:
            sec = pus.TmSecondaryHeader.stamped(t_ns, self.service, subtype,
                                                msg_counter=seq_count % 65536 if msg_counter is None else msg_counter,
                                                dest_id=destination, time_format=TIME_FORMAT)
            return pus.encode_tm(self.apid, seq_count, sec, data)
        except ValueError as exc:
            raise EncodeError(f"{self.name}: {exc}") from None

    def decode(self, packet: bytes | bytearray | memoryview) -> DecodedPacket:
        """One packet of this kind; DecodeError if it is not one (APID, length, CRC, service, subtype)."""
        if len(packet) != self.length:
            raise DecodeError(f"{self.name}: packet of {len(packet)} octets, expected {self.length}")
        tm = pus.decode_tm(packet, TIME_FORMAT)
        if tm.header.apid != self.apid:
            raise DecodeError(f"{self.name}: APID {tm.header.apid}, expected {self.apid}")
        sec = tm.secondary
        if sec.service != self.service or sec.subtype not in self.subtypes:
            raise DecodeError(f"{self.name}: PUS service {sec.service} subtype {sec.subtype}, expected service "
                              f"{self.service} subtype {'/'.join(map(str, self.subtypes))}")
        acc = int.from_bytes(tm.data, "big")
        total = 8 * len(tm.data)
        fields: dict[str, Value] = {}
        raws: dict[str, int | float | str] = {}
        for f, off in zip(self.fields, self.offsets, strict=True):
            if f.type == FieldType.SPARE:
                continue
            shift = total - (off - 8 * DATA_OFFSET) - f.bits
            raw = f.raw_from_bits((acc >> shift) & ((1 << f.bits) - 1))
            raws[f.name] = raw
            fields[f.name] = f.eng_from_raw(raw)
        if self.severity_field is not None and raws[self.severity_field] != sec.subtype:
            raise DecodeError(f"{self.name}: subtype {sec.subtype} disagrees with {self.severity_field} "
                              f"{raws[self.severity_field]}")
        return DecodedPacket(apid=self.apid, name=self.name, seq_count=tm.header.seq_count, time_s=sec.time_s,
                             fields=fields, raw=raws, service=sec.service, subtype=sec.subtype,
                             msg_counter=sec.msg_counter, destination=sec.dest_id)

    # ------------------------------------------------------------------ many packets

    def decode_many(self, packets: bytes | bytearray | memoryview | npt.NDArray[Any], *,
                    check_crc: bool = True, fields: Collection[str] | None = None) -> dict[str, npt.NDArray[Any]]:
        """Columns for a run of packets of this kind, back to back (a buffer, a 1-D uint8 array, or an
        (n, length) uint8 array). Header columns: apid, seq_count, time_s, service, subtype, msg_counter,
        destination; then one column per field in engineering units (enum: labels, bool: bool), or only
        those of `fields` (KeyError for a name the packet lacks).
        Raises DecodeError if any packet is not one of this kind (APID, length, version, service, subtype,
        and CRC unless check_crc is False)."""
        return self._bulk.decode(packets, check_crc, fields)

    # ------------------------------------------------------------------ export

    def to_json(self) -> dict[str, object]:
        fields: list[dict[str, object]] = []
        for f, off in zip(self.fields, self.offsets, strict=True):
            cal = f.calibration
            cal_json: dict[str, object] | None = None
            if cal.kind == CalKind.LINEAR:
                cal_json = {"type": "linear", "a": cal.coefficients[0], "b": cal.coefficients[1]}
            elif cal.kind == CalKind.POLYNOMIAL:
                cal_json = {"type": "polynomial", "coefficients": list(cal.coefficients)}
            elif cal.kind == CalKind.ENUM:
                cal_json = {"type": "enum", "labels": [{"value": c, "label": n} for c, n in cal.labels]}
            fields.append({"name": f.name, "type": f.type.name.lower(), "bits": f.bits, "bit_offset": off,
                           "unit": f.unit, "description": f.description, "calibration": cal_json,
                           "limits": f.limits.to_json() if f.limits is not None else None})
        return {"apid": self.apid, "name": self.name, "kind": self.kind.name.lower(), "description": self.description,
                "period_s": self.period_s, "service": self.service, "subtypes": list(self.subtypes),
                "severity_field": self.severity_field, "length": self.length, "fields": fields}


# ---------------------------------------------------------------------- compiled encoder

# (values, seq_count, t_ns, msg_counter, destination) -> the packet, or None for "use the generic encoder"
_FastEncoder = Callable[[Mapping[str, Value], int, int, int | None, int], bytes | None]

_TICK_LIMIT = 1 << (8 * TIME_FORMAT.t_len)
_CRC_WORD = struct.Struct(">H")
_FINE_SHIFT = 8 * TIME_FORMAT.fine_octets


def encoder_source(p: PacketDef, names: str = "v", floats: frozenset[int] = frozenset()
                   ) -> tuple[dict[str, Any], list[str], list[str]]:
    """The field part of a compiled encoder for one packet: (constants, body lines at one indent level,
    closing lines at one indent level). The body turns each non-spare field k's engineering value, in the
    variable `<names><k>`, into its raw integer (constants and fallbacks as `_compile_encoder` describes);
    the closing lines combine them with the header into `data` (the packet's octets before the CRC) and
    return the packet. Before the body, the caller sets `seq_count`, `msg_counter` (0..0xFFFF),
    `destination` (0..0xFFFF) and `ticks` (the CUC time, below _TICKS); a ValueError, KeyError or
    OverflowError the body raises means "use the generic encoder". `floats`: the fields whose value is
    known to be a float (its type is not tested)."""
    total = 8 * (p.length - PEC_LEN)
    consts: dict[str, Any] = {"_crc": binascii.crc_hqx, "_TICKS": _TICK_LIMIT}
    body: list[str] = []
    terms: list[str] = []
    subtype = str(p.subtypes[0])
    for k, f in enumerate(p.fields):
        if f.type == FieldType.SPARE:
            continue
        off = p.offsets[k]
        shift = total - off - f.bits
        v, r = f"{names}{k}", f"r{k}"
        consts[f"F{k}"] = f
        consts[f"W{k}"] = f"{p.name}.{f.name}"
        generic = f"{r} = F{k}.encode_bits({v}, W{k})"
        cal = f.calibration
        if f.type in (FieldType.UINT, FieldType.INT) and cal.kind in (CalKind.NONE, CalKind.LINEAR):
            lo, hi = f.raw_min, f.raw_max
            if cal.kind == CalKind.LINEAR:
                a, b = cal.coefficients
                consts[f"A{k}"], consts[f"B{k}"] = a, b
                body.append("if True:" if k in floats else f"if type({v}) is float:")
                # x - 0.0 is x, bit for bit (-0.0 and NaN included)
                # the scale and offset as literals when their repr reads back as the same float
                sa = repr(a) if type(a) is float and math.isfinite(a) and a != 0.0 else f"A{k}"
                sb = repr(b) if type(b) is float and math.isfinite(b) else f"B{k}"
                body.append(f"    {r} = round({v} / {sa})" if b == 0.0 else f"    {r} = round(({v} - {sb}) / {sa})")
                body.append(f"    if not {lo} <= {r} <= {hi}:")
                body.append(f"        {generic}")
            else:
                body.append(f"if type({v}) is int and {lo} <= {v} <= {hi}:")
                body.append(f"    {r} = {v}")
            if f.type == FieldType.INT:
                body.append(f"    {r} &= {(1 << f.bits) - 1}")
            body.append("else:")
            body.append(f"    {generic}")
        elif f.type == FieldType.BOOL:
            body.append(f"if {v} is True:")
            body.append(f"    {r} = 1")
            body.append(f"elif {v} is False:")
            body.append(f"    {r} = 0")
            body.append("else:")
            body.append(f"    {generic}")
        elif f.type == FieldType.ENUM:
            consts[f"L{k}"] = {label: code for code, label in cal.labels}
            body.append(f"{r} = L{k}.get({v}) if type({v}) is str else None")
            body.append(f"if {r} is None:")
            body.append(f"    {generic}")
        else:  # float, text, polynomial calibration: the generic conversion
            body.append(f"{generic}")
        if f.name == p.severity_field:
            subtype = r
        terms.append(f"{r} << {shift}" if shift else r)
    tail = _packed_tail(p, subtype, consts)
    if tail is not None:
        return consts, body, tail
    # primary header: version 0, TM, secondary header flag, APID | unsegmented, count | data length - 1;
    # PUS-C TM secondary header: version 2, time reference 0 | service | subtype | counter | destination | CUC
    hdr = ((0x0800 | p.apid) << (total - 16)) | (0xC000 << (total - 32)) | ((p.length - 7) << (total - 48)) \
        | ((pus.PUS_C << 4) << (total - 56)) | (p.service << (total - 64))
    consts["_HDR"] = hdr
    tail = [
        f"acc = (_HDR | (seq_count & 0x3FFF) << {total - 32} | {subtype} << {total - 72}"
        f" | msg_counter << {total - 88} | destination << {total - 104} | ticks << {total - 152}",
        "       | " + " | ".join(terms) + ")",
        f"data = acc.to_bytes({total // 8}, 'big')",
        "return data + _crc(data, 0xFFFF).to_bytes(2, 'big')",
    ]
    return consts, body, tail


_WORDS = ((8, "Q"), (4, "I"), (2, "H"), (1, "B"))  # (octets, struct code), widest first
_GROUP_BITS = 64  # a run of fields packed as one machine-size integer at the most


def _packed_tail(p: PacketDef, subtype: str, consts: dict[str, Any]) -> list[str] | None:
    """encoder_source's closing lines as one struct.pack of the header words and of the fields cut into runs
    that end on an octet boundary (each run's fields shifted together into a small integer), instead of one
    integer the width of the packet: the same octets. None when a run would be wider than _GROUP_BITS
    (text, bytes, or long unaligned runs): the caller keeps the wide integer."""
    # the header: APID word, sequence word, length, PUS version, service, subtype, counter, destination,
    # CUC coarse (4 octets) and fine (2 octets) time
    fmt = ">HHHBBBHHIH"
    args = [str(0x0800 | p.apid), "0xC000 | seq_count & 0x3FFF", str(p.length - 7), str(pus.PUS_C << 4),
            str(p.service), subtype, "msg_counter", "destination", "ticks >> 16", "ticks & 0xFFFF"]
    run: list[tuple[str, int]] = []  # (raw variable or None for a spare, bits) of the open run
    run_bits = 0
    temps = 0
    lines: list[str] = []
    for k, f in enumerate(p.fields):
        run.append(("" if f.type == FieldType.SPARE else f"r{k}", f.bits))
        run_bits += f.bits
        if run_bits > _GROUP_BITS:
            return None
        if run_bits % 8:
            continue
        terms = []
        left = run_bits
        for var, bits in run:
            left -= bits
            if var:
                terms.append(f"{var} << {left}" if left else var)
        expr = " | ".join(terms) if terms else "0"
        octets = run_bits // 8
        if octets in (1, 2, 4, 8):
            fmt += next(code for n, code in _WORDS if n == octets)
            args.append(expr)
        else:  # 3, 5, 6 or 7 octets: the run's integer cut into words
            var = f"g{temps}"
            temps += 1
            lines.append(f"{var} = {expr}")
            rest = octets
            for n, code in _WORDS:
                while rest >= n:
                    rest -= n
                    fmt += code
                    args.append(f"{var} >> {8 * rest} & {(1 << 8 * n) - 1}" if rest else f"{var} & {(1 << 8 * n) - 1}")
        run, run_bits = [], 0
    assert not run, "a packet's fields fill whole octets (checked by PacketDef)"
    consts["_pack"] = struct.Struct(fmt).pack
    consts["_pack_crc"] = _CRC_WORD.pack
    return [*lines, f"data = _pack({', '.join(args)})", "return data + _pack_crc(_crc(data, 0xFFFF))"]


def _compile_encoder(p: PacketDef) -> _FastEncoder:
    """Python source for one packet's encoder, compiled once: the values fetched with one itemgetter,
    each field turned into its raw integer with its scale, offset and range as constants, the header and
    every field shifted into one integer, one to_bytes, then the CRC (binascii.crc_hqx is
    CRC-16/CCITT-FALSE with init 0xFFFF, the same function as flight.ccsds.crc.crc16).

    The fast path takes exactly what the generic encoder would accept and produce: a value of another type
    (an int for a calibrated field, a number for a bool, ...), and any value out of range, goes to
    FieldDef.encode_bits (same bits, same EncodeError); an unusual header value, a non-finite number or a
    missing or unknown name makes it return None so that PacketDef._encode_generic raises the error."""
    consts, body, tail = encoder_source(p)
    named = [(k, f) for k, f in enumerate(p.fields) if f.type != FieldType.SPARE]
    names = tuple(f.name for _, f in named)
    if len(names) == 1:
        consts["_get"] = lambda values: (values[names[0]],)
    else:
        consts["_get"] = itemgetter(*names)
    vars_ = [f"v{k}" for k, _ in named]
    head = [
        "def _encode(values, seq_count, t_ns, msg_counter, destination):",
        "    if type(seq_count) is not int or type(t_ns) is not int or t_ns < 0 or type(destination) is not int \\",
        "            or not 0 <= destination <= 0xFFFF:",
        "        return None",
        "    if msg_counter is None:",
        "        msg_counter = seq_count & 0xFFFF",
        "    elif type(msg_counter) is not int or not 0 <= msg_counter <= 0xFFFF:",
        "        return None",
        f"    ticks = (t_ns << {_FINE_SHIFT}) // 1_000_000_000",
        "    if ticks >= _TICKS:",
        "        return None",
        "    try:",
        f"        if len(values) != {len(names)}:",
        "            return None",
        f"        {', '.join(vars_)}, = _get(values)",
    ]
    fail = [
        "    except (KeyError, ValueError, OverflowError):",  # a missing name, a non-finite value (EncodeError too):
        "        return None",  # the generic path says why
    ]
    src = "\n".join(head + ["        " + line for line in body] + fail + ["    " + line for line in tail]) + "\n"
    ns: dict[str, Any] = dict(consts)
    exec(compile(src, f"<encoder {p.name}>", "exec"), ns)
    fn: _FastEncoder = ns["_encode"]
    return fn
