"""The command dictionary (DESIGN principle 6): telecommands declared once in commands.toml (shipped with the
package), loaded into frozen value types, with their PUS service 1 verification reports, which are telemetry:
the verification packets of the telemetry dictionary (telemetry.toml, kind = "verification").

Ground code encodes a command's application data (and the whole PUS-C TC packet) with it; flight code decodes
and range-checks the same bytes with it and encodes the verification reports. Errors while loading name the
key path (``command[3].arg[1].max``); errors while encoding or decoding a command carry a FailureCode, the
index of the faulty argument and a one-line message.
"""

from __future__ import annotations

import math
import struct
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from importlib import resources
from pathlib import Path
from typing import Any

from flight.ccsds import pus
from flight.ccsds.errors import DecodeError
from flight.ccsds.spacepacket import HEADER_LEN, PacketType
from flight.dictionary.dictionary import Dictionary, load_dictionary
from flight.dictionary.errors import DictionaryError
from flight.dictionary.fields import NAME_RE, FieldType
from flight.dictionary.packet import SERVICE_VERIFICATION, PacketDef, PacketKind
from flight.toml_table import REQUIRED, TomlTable

SHIPPED = "commands.toml"
FORMAT_VERSION = 1
ACK_ACCEPTANCE, ACK_START, ACK_PROGRESS, ACK_COMPLETION = 0b0001, 0b0010, 0b0100, 0b1000
ACK_ALL = 0b1111

ArgValue = int | float | bool | str | bytes


class FailureCode(IntEnum):
    """Why a telecommand failed (the failure_code field of the service 1 failure reports)."""

    BAD_PACKET = 1  # not a well-formed PUS-C TC packet (header, length, CRC)
    WRONG_APID = 2  # addressed to another APID
    UNKNOWN_COMMAND = 3  # no command with that service and subtype
    BAD_LENGTH = 4  # application data not the command's length
    BAD_ARGUMENT = 5  # an argument out of range, not a label, not a bool, not finite (data: its index)
    MODE_REFUSED = 6  # the mode table does not allow the transition
    PARAMETER_REFUSED = 7  # the parameter table refused the value
    LOAD_REFUSED = 8  # the load cannot be switched (absent, hard-wired) or the switch failed
    TIME_IN_PAST = 9  # a time-tagged command's execution time is already past (data: that time, s)
    SCHEDULE_FULL = 10  # the time-tagged schedule holds as many commands as it can (data: its capacity)
    JOB_REFUSED = 11  # the job scheduler refused (a job id in use, no such job, already ended; data: the job id)
    KEY_REFUSED = 12  # a key operation refused (data: its flight.ccsds.keystore.KeyOpStatus)
    DUMP_REFUSED = 13  # a store dump refused (no store, an empty or reversed time range, a store error)


class Stage(IntEnum):
    """The service 1 report pairs: (success subtype, failure subtype)."""

    ACCEPTANCE = 1
    START = 3
    PROGRESS = 5
    COMPLETION = 7


class CommandError(ValueError):
    """A command that cannot be encoded or decoded. code says why, arg is the argument's index (or -1)."""

    def __init__(self, message: str, code: FailureCode, arg: int = -1, detail: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.arg = arg
        self.detail = detail


class ArgType(IntEnum):
    UINT = 0
    INT = 1
    FLOAT = 2
    BOOL = 3
    ENUM = 4
    BYTES = 5  # a variable-length octet string: a length prefix of `bits` bits, then min..max octets


_BITS: dict[ArgType, tuple[int, ...]] = {
    ArgType.UINT: (8, 16, 32), ArgType.INT: (8, 16, 32), ArgType.FLOAT: (32, 64), ArgType.BOOL: (8,),
    ArgType.ENUM: (8, 16), ArgType.BYTES: (8, 16),
}
_TRUE = ("true", "1", "on", "yes")
_FALSE = ("false", "0", "off", "no")


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class ArgDef:
    name: str
    type: ArgType
    bits: int
    unit: str = ""
    min: float | None = None  # engineering range (uint/int/float)
    max: float | None = None
    labels: tuple[tuple[int, str], ...] = ()  # enum: (code, label)
    description: str = ""

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise DictionaryError(f"name: {self.name!r} is not a lower-case identifier ([a-z][a-z0-9_]*)")
        if self.bits not in _BITS[self.type]:
            raise DictionaryError(f"bits: a {self.type.name.lower()} argument is "
                                  f"{' or '.join(map(str, _BITS[self.type]))} bits, got {self.bits}")
        numeric = self.type in (ArgType.UINT, ArgType.INT, ArgType.FLOAT, ArgType.BYTES)
        if not numeric and (self.min is not None or self.max is not None):
            raise DictionaryError(f"min: a {self.type.name.lower()} argument takes no range")
        if numeric:
            if self.min is None or self.max is None:
                raise DictionaryError(f"{'min' if self.min is None else 'max'}: a numeric argument needs min and max")
            if not self.min <= self.max:
                raise DictionaryError(f"max: {_fmt(self.max)} is below min {_fmt(self.min)}")
            if self.type == ArgType.BYTES:
                lo, hi = 0, (1 << self.bits) - 1
                for key, v in (("min", self.min), ("max", self.max)):
                    if not float(v).is_integer() or not lo <= v <= hi:
                        raise DictionaryError(f"{key}: {_fmt(v)} is not a length of {self.type_name} "
                                              f"({lo}..{hi} octets)")
            elif self.type != ArgType.FLOAT:
                lo, hi = self.raw_range()
                for key, v in (("min", self.min), ("max", self.max)):
                    if not float(v).is_integer() or not lo <= v <= hi:
                        raise DictionaryError(f"{key}: {_fmt(v)} is not an integer of {self.type_name} "
                                              f"({lo}..{hi})")
            elif self.bits == 32:
                for key, v in (("min", self.min), ("max", self.max)):
                    if abs(v) > 3.4e38:
                        raise DictionaryError(f"{key}: {_fmt(v)} overflows a float32")
        if self.type == ArgType.ENUM:
            if not self.labels:
                raise DictionaryError("labels: an enum argument needs labels = { NAME = code, ... }")
            codes: set[int] = set()
            for code, label in self.labels:
                if not 0 <= code < (1 << self.bits):
                    raise DictionaryError(f"labels.{label}: code {code} does not fit {self.bits} bits")
                if code in codes:
                    raise DictionaryError(f"labels.{label}: code {code} used twice")
                codes.add(code)
        elif self.labels:
            raise DictionaryError(f"labels: a {self.type.name.lower()} argument takes no labels")

    @property
    def type_name(self) -> str:
        return {ArgType.UINT: f"uint{self.bits}", ArgType.INT: f"int{self.bits}", ArgType.FLOAT: f"float{self.bits}",
                ArgType.BOOL: "bool", ArgType.ENUM: f"enum{self.bits}", ArgType.BYTES: f"bytes{self.bits}"}[self.type]

    @property
    def octets(self) -> int:
        """The argument's octets on the wire (bytes: its length prefix only; the octets follow)."""
        return self.bits // 8

    @property
    def variable(self) -> bool:
        return self.type == ArgType.BYTES

    def raw_range(self) -> tuple[int, int]:
        if self.type == ArgType.INT:
            return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1

    def describe(self) -> str:
        """One line: name, type, range or labels, unit."""
        if self.type == ArgType.ENUM:
            what = "|".join(label for _, label in self.labels)
        elif self.type == ArgType.BOOL:
            what = "true|false"
        elif self.type == ArgType.BYTES:
            assert self.min is not None and self.max is not None
            what = f"HEX of {_fmt(self.min)}..{_fmt(self.max)} octets"
        else:
            assert self.min is not None and self.max is not None
            what = f"{_fmt(self.min)}..{_fmt(self.max)}{' ' + self.unit if self.unit else ''}"
        return f"{self.name}={what} ({self.type_name})"

    def label_of(self, code: int) -> str | None:
        return next((label for c, label in self.labels if c == code), None)

    def code_of(self, label: str) -> int | None:
        return next((c for c, lab in self.labels if lab == label), None)

    def parse(self, text: str, where: str) -> ArgValue:
        """A value from command-line text (a label or code, true/false, a number)."""
        t = text.strip()
        if self.type == ArgType.BOOL:
            if t.lower() in _TRUE:
                return True
            if t.lower() in _FALSE:
                return False
            raise CommandError(f"{where}: expected true or false, got {text!r}", FailureCode.BAD_ARGUMENT)
        if self.type == ArgType.BYTES:
            try:
                return bytes.fromhex(t)
            except ValueError:
                raise CommandError(f"{where}: {text!r} is not hexadecimal octets", FailureCode.BAD_ARGUMENT) from None
        if self.type == ArgType.ENUM:
            if self.code_of(t) is not None:
                return t
            try:
                return int(t, 0)
            except ValueError:
                raise CommandError(f"{where}: {text!r} is not one of {', '.join(n for _, n in self.labels)}",
                                   FailureCode.BAD_ARGUMENT) from None
        try:
            return int(t, 0) if self.type != ArgType.FLOAT else float(t)
        except ValueError:
            kind = "a number" if self.type == ArgType.FLOAT else "an integer"
            raise CommandError(f"{where}: expected {kind}, got {text!r}", FailureCode.BAD_ARGUMENT) from None

    def check(self, value: object, where: str) -> ArgValue:
        """The value in its canonical form (enum: the label) if it is acceptable, else CommandError."""
        bad = FailureCode.BAD_ARGUMENT
        if self.type == ArgType.BOOL:
            if isinstance(value, bool):
                return value
            raise CommandError(f"{where}: expected true or false, got {value!r}", bad)
        if self.type == ArgType.ENUM:
            labels = ", ".join(n for _, n in self.labels)
            if isinstance(value, str):
                if self.code_of(value) is None:
                    raise CommandError(f"{where}: {value!r} is not one of {labels}", bad)
                return value
            if isinstance(value, int) and not isinstance(value, bool):
                label = self.label_of(value)
                if label is None:
                    raise CommandError(f"{where}: code {value} is not one of {labels}", bad)
                return label
            raise CommandError(f"{where}: expected one of {labels}, got {value!r}", bad)
        if self.type == ArgType.BYTES:
            if not isinstance(value, bytes | bytearray):
                raise CommandError(f"{where}: expected octets, got {value!r}", bad)
            assert self.min is not None and self.max is not None
            if not self.min <= len(value) <= self.max:
                raise CommandError(f"{where}: {len(value)} octets, outside {_fmt(self.min)}..{_fmt(self.max)}", bad)
            return bytes(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CommandError(f"{where}: expected a number, got {value!r}", bad)
        if isinstance(value, float) and not math.isfinite(value):
            raise CommandError(f"{where}: {value} is not finite", bad)
        if self.type != ArgType.FLOAT and isinstance(value, float):
            if not value.is_integer():
                raise CommandError(f"{where}: expected an integer, got {value!r}", bad)
            value = int(value)
        assert self.min is not None and self.max is not None
        if not self.min <= value <= self.max:
            unit = f" {self.unit}" if self.unit else ""
            raise CommandError(f"{where}: {_fmt(value)}{unit} outside {_fmt(self.min)}..{_fmt(self.max)}{unit}", bad)
        return float(value) if self.type == ArgType.FLOAT else int(value)

    def encode(self, value: ArgValue) -> bytes:
        """The octets of a value check() accepted."""
        if self.type == ArgType.BOOL:
            return b"\x01" if value else b"\x00"
        if self.type == ArgType.ENUM:
            code = self.code_of(value) if isinstance(value, str) else int(value)
            assert code is not None
            return code.to_bytes(self.octets, "big")
        if self.type == ArgType.BYTES:
            assert isinstance(value, bytes)
            return len(value).to_bytes(self.octets, "big") + value
        if self.type == ArgType.FLOAT:
            return struct.pack(">f" if self.bits == 32 else ">d", float(value))
        assert not isinstance(value, bytes)
        return int(value).to_bytes(self.octets, "big", signed=self.type == ArgType.INT)

    def decode(self, raw: bytes, where: str) -> ArgValue:
        """The checked value of the argument's octets (enum: the label), else CommandError."""
        if self.type == ArgType.BOOL:
            if raw[0] > 1:
                raise CommandError(f"{where}: octet {raw[0]} is not a bool (0 or 1)", FailureCode.BAD_ARGUMENT)
            return bool(raw[0])
        if self.type == ArgType.BYTES:
            return self.check(bytes(raw), where)
        if self.type == ArgType.FLOAT:
            value: ArgValue = float(struct.unpack(">f" if self.bits == 32 else ">d", raw)[0])
        else:
            value = int.from_bytes(raw, "big", signed=self.type == ArgType.INT)
        return self.check(value, where)


@dataclass(frozen=True)
class CommandDef:
    name: str
    service: int
    subtype: int
    args: tuple[ArgDef, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise DictionaryError(f"name: {self.name!r} is not a lower-case identifier ([a-z][a-z0-9_]*)")
        if self.service == SERVICE_VERIFICATION or not 0 < self.service <= 255 or not 0 < self.subtype <= 255:
            raise DictionaryError(f"service: PUS ({self.service}, {self.subtype}) is not a command type "
                                  "(1..255, not service 1)")
        seen: set[str] = set()
        for k, a in enumerate(self.args):
            if a.name in seen:
                raise DictionaryError(f"arg[{k}].name: duplicate argument {a.name!r}")
            seen.add(a.name)

    @property
    def data_len(self) -> int:
        """The application data's octets; with a bytes argument, the least (every octet string empty)."""
        return sum(a.octets for a in self.args)

    @property
    def variable(self) -> bool:
        return any(a.variable for a in self.args)

    def usage(self) -> str:
        return " ".join([self.name, *(a.describe() for a in self.args)])

    def encode_args(self, values: Mapping[str, object]) -> bytes:
        """Application data from values by argument name; CommandError names the argument."""
        unknown = sorted(set(values) - {a.name for a in self.args})
        if unknown:
            names = ", ".join(a.name for a in self.args) or "none"
            raise CommandError(f"{self.name}: no argument {unknown[0]!r} (arguments: {names})",
                               FailureCode.BAD_ARGUMENT)
        out = []
        for k, a in enumerate(self.args):
            if a.name not in values:
                raise CommandError(f"{self.name}.{a.name}: missing (usage: {self.usage()})", FailureCode.BAD_ARGUMENT,
                                   k)
            out.append(a.encode(a.check(values[a.name], f"{self.name}.{a.name}")))
        return b"".join(out)

    def decode_args(self, data: bytes) -> dict[str, ArgValue]:
        """The checked arguments of application data (a bytes argument: its length prefix, then its octets);
        CommandError BAD_LENGTH if the data is not exactly the arguments' octets, else the argument's error."""
        if len(data) != self.data_len and not self.variable:
            raise CommandError(f"{self.name}: {len(data)} octets of application data, expected {self.data_len}",
                               FailureCode.BAD_LENGTH, detail=len(data))
        out: dict[str, ArgValue] = {}
        pos = 0
        for k, a in enumerate(self.args):
            n = a.octets
            if a.variable and pos + n <= len(data):
                n += int.from_bytes(data[pos:pos + n], "big")
            if pos + n > len(data):
                raise CommandError(f"{self.name}: {len(data)} octets of application data, too short for "
                                   f"{a.name}", FailureCode.BAD_LENGTH, detail=len(data))
            raw = data[pos + a.octets:pos + n] if a.variable else data[pos:pos + n]
            try:
                out[a.name] = a.decode(raw, f"{self.name}.{a.name}")
            except CommandError as exc:
                raise CommandError(str(exc), exc.code, k, k) from None
            pos += n
        if pos != len(data):
            raise CommandError(f"{self.name}: {len(data)} octets of application data, expected {pos}",
                               FailureCode.BAD_LENGTH, detail=len(data))
        return out


@dataclass(frozen=True)
class RequestId:
    """PUS-C request ID: the TC's packet ID (version, type, secondary header flag, APID) and sequence control."""

    packet_id: int = 0
    seq: int = 0

    @classmethod
    def of(cls, packet: bytes) -> RequestId:
        """From the first 4 octets of a TC packet (zeros where it is shorter)."""
        head = bytes(packet[:4]).ljust(4, b"\0")
        return cls(int.from_bytes(head[:2], "big"), int.from_bytes(head[2:4], "big"))

    @property
    def apid(self) -> int:
        return self.packet_id & 0x7FF

    @property
    def seq_count(self) -> int:
        return self.seq & 0x3FFF


@dataclass(frozen=True)
class DecodedCommand:
    command: CommandDef
    args: Mapping[str, ArgValue]
    request: RequestId
    ack_flags: int
    source_id: int


REPORT_SUBTYPES = (1, 2, 3, 4, 5, 7, 8)  # the verification reports the flight software sends
_REQUEST_FIELDS = ("request_packet_id", "request_seq")
_FAILURE_FIELDS = ("failure_code", "failure_data")
_PROGRESS_FIELDS = ("step",)


def _check_report(r: PacketDef) -> None:
    """A verification packet of the telemetry dictionary as the uplink fills it: the request ID, and for a
    failure report (even subtype) the failure code, whose labels must be FailureCode's, and its detail."""
    where = f"report {r.name} (APID 0x{r.apid:03x})"
    if r.kind != PacketKind.VERIFICATION or r.subtype is None:
        raise DictionaryError(f"{where}.kind: a report is a verification packet, got {r.kind.name.lower()}")
    failure = r.subtype % 2 == 0
    names = [f.name for f in r.fields]
    want = [*_REQUEST_FIELDS, *(_FAILURE_FIELDS if failure else ()), *(_PROGRESS_FIELDS if r.subtype == 5 else ())]
    if names != want:
        raise DictionaryError(f"{where}.field: a subtype {r.subtype} report has the fields {', '.join(want)}; "
                              f"got {', '.join(names) or 'none'}")
    if failure:
        code = r.fields[2]
        labels = {n: c for c, n in code.calibration.labels}
        if code.type != FieldType.ENUM or labels != {c.name: int(c) for c in FailureCode}:
            raise DictionaryError(f"{where}.field[2].labels: the failure codes must be those of "
                                  "flight.dictionary.commands.FailureCode ("
                                  + ", ".join(f"{c.name} = {int(c)}" for c in FailureCode) + ")")
        data = r.fields[3]
        if data.type != FieldType.INT or data.bits != 32:
            raise DictionaryError(f"{where}.field[3]: failure_data is an int of 32 bits, got {data.type_name}")


@dataclass(frozen=True)
class CommandDictionary:
    """The telecommands (commands.toml) and the verification reports about them: the verification packets
    of the telemetry dictionary (telemetry.toml, kind = "verification"), one per subtype."""

    apid: int
    commands: tuple[CommandDef, ...]
    reports: tuple[PacketDef, ...]
    title: str = ""
    _by_name: dict[str, CommandDef] = field(init=False, repr=False, compare=False)
    _by_type: dict[tuple[int, int], CommandDef] = field(init=False, repr=False, compare=False)
    _reports: dict[int, PacketDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.apid < 0x7FF:
            raise DictionaryError(f"apid: must be in 0..2046, got {self.apid}")
        by_name: dict[str, int] = {}
        by_type: dict[tuple[int, int], int] = {}
        for k, c in enumerate(self.commands):
            if c.name in by_name:
                raise DictionaryError(f"command[{k}].name: duplicate command {c.name!r}, also "
                                      f"command[{by_name[c.name]}]")
            key = (c.service, c.subtype)
            if key in by_type:
                raise DictionaryError(f"command[{k}].subtype: PUS ({c.service}, {c.subtype}) also "
                                      f"command[{by_type[key]}]")
            by_name[c.name] = k
            by_type[key] = k
        subtypes: dict[int, PacketDef] = {}
        apids = {self.apid}
        for r in self.reports:
            _check_report(r)
            assert r.subtype is not None
            where = f"report {r.name} (APID 0x{r.apid:03x})"
            if r.subtype in subtypes:
                raise DictionaryError(f"{where}.subtype: subtype {r.subtype} also report {subtypes[r.subtype].name}")
            if r.apid in apids:
                raise DictionaryError(f"{where}.apid: APID {r.apid} (0x{r.apid:03x}) used twice (the command "
                                      f"APID is 0x{self.apid:03x})")
            subtypes[r.subtype] = r
            apids.add(r.apid)
        missing = sorted(set(REPORT_SUBTYPES) - set(subtypes))
        if missing:
            raise DictionaryError(f"report: no verification packet of subtype {missing[0]} in the telemetry "
                                  f"dictionary ({', '.join(map(str, REPORT_SUBTYPES))} are needed)")
        object.__setattr__(self, "_by_name", {c.name: c for c in self.commands})
        object.__setattr__(self, "_by_type", {(c.service, c.subtype): c for c in self.commands})
        object.__setattr__(self, "_reports", subtypes)

    def command(self, name: str) -> CommandDef:
        found = self._by_name.get(name)
        if found is None:
            raise CommandError(f"no command {name!r} (known: {', '.join(c.name for c in self.commands)})",
                               FailureCode.UNKNOWN_COMMAND)
        return found

    def by_type(self, service: int, subtype: int) -> CommandDef | None:
        return self._by_type.get((service, subtype))

    def report(self, subtype: int) -> PacketDef:
        """The verification packet of a PUS service 1 subtype (KeyError if there is none)."""
        return self._reports[subtype]

    def report_by_apid(self, apid: int) -> PacketDef | None:
        return next((r for r in self.reports if r.apid == apid), None)

    def encode_tc(self, name: str, values: Mapping[str, object], seq_count: int, *, source_id: int = 0,
                  ack_flags: int = ACK_ALL) -> bytes:
        """The whole PUS-C TC packet of a command; CommandError for an unknown command or a bad argument."""
        c = self.command(name)
        data = c.encode_args(values)
        sec = pus.TcSecondaryHeader(c.service, c.subtype, source_id=source_id, ack_flags=ack_flags)
        return pus.encode_tc(self.apid, seq_count, sec, data)

    def decode_tc(self, packet: bytes) -> DecodedCommand:
        """A received TC packet, checked: CommandError (with its FailureCode) if it is not acceptable."""
        request = RequestId.of(packet)
        try:
            tc = pus.decode_tc(packet)
        except (DecodeError, ValueError) as exc:
            raise CommandError(f"not a PUS-C TC packet: {exc}", FailureCode.BAD_PACKET) from None
        if tc.header.packet_type != PacketType.TC or len(packet) < HEADER_LEN:
            raise CommandError("not a TC packet", FailureCode.BAD_PACKET)
        if tc.header.apid != self.apid:
            raise CommandError(f"APID {tc.header.apid}, the flight software takes {self.apid}",
                               FailureCode.WRONG_APID, detail=tc.header.apid)
        sec = tc.secondary
        c = self.by_type(sec.service, sec.subtype)
        if c is None:
            raise CommandError(f"no command is PUS ({sec.service}, {sec.subtype})", FailureCode.UNKNOWN_COMMAND,
                               detail=(sec.service << 8) | sec.subtype)
        return DecodedCommand(c, c.decode_args(tc.data), request, sec.ack_flags, sec.source_id)

    def to_json(self) -> dict[str, object]:
        return {
            "format": "skyrack-command-dictionary", "version": FORMAT_VERSION, "title": self.title, "apid": self.apid,
            "commands": [{"name": c.name, "service": c.service, "subtype": c.subtype, "description": c.description,
                          "data_octets": c.data_len, "variable": c.variable,
                          "args": [{"name": a.name, "type": a.type.name.lower(), "bits": a.bits, "unit": a.unit,
                                    "min": a.min, "max": a.max,
                                    "labels": [{"value": v, "label": n} for v, n in a.labels] or None,
                                    "description": a.description} for a in c.args]} for c in self.commands],
            "reports": [{"name": r.name, "apid": r.apid, "service": r.service, "subtype": r.subtype,
                         "length": r.length, "fields": [f.name for f in r.fields]} for r in self.reports],
        }


# ---------------------------------------------------------------------- loading


def _at(path: str, exc: DictionaryError) -> DictionaryError:
    return DictionaryError(f"{path}.{exc}" if path else str(exc))


def _arg(t: TomlTable) -> ArgDef:
    name = t.str_("name")
    atype = ArgType[t.str_("type", choices=tuple(x.name.lower() for x in ArgType)).upper()]
    bits = t.int_("bits", 8 if atype == ArgType.BOOL else REQUIRED)
    unit = t.str_("unit", "")
    description = t.str_("description", "")
    lo = t.opt_num("min")
    hi = t.opt_num("max")
    labels: list[tuple[int, str]] = []
    if t.has("labels"):
        lt = t.table("labels", required=True)
        for label in lt.data:
            labels.append((lt.int_(label, lo=0), label))
        lt.done()
    t.done()
    try:
        return ArgDef(name=name, type=atype, bits=bits, unit=unit, min=lo, max=hi, labels=tuple(labels),
                      description=description)
    except DictionaryError as exc:
        raise _at(t.path, exc) from None


def _command(t: TomlTable) -> CommandDef:
    name = t.str_("name")
    service = t.int_("service", lo=0, hi=255)
    subtype = t.int_("subtype", lo=0, hi=255)
    description = t.str_("description", "")
    args = tuple(_arg(a) for a in t.array("arg"))
    t.done()
    try:
        return CommandDef(name=name, service=service, subtype=subtype, args=args, description=description)
    except DictionaryError as exc:
        raise _at(t.path, exc) from None


def parse(data: dict[str, Any], source: str, telemetry: Dictionary | None = None) -> CommandDictionary:
    """The command dictionary from a parsed TOML document, its reports the verification packets of telemetry
    (default: the shipped telemetry dictionary)."""
    top = TomlTable(data, "", DictionaryError)
    version = top.int_("version")
    if version != FORMAT_VERSION:
        raise DictionaryError(f"version: this reader knows command dictionary format {FORMAT_VERSION}, got {version}")
    if top.has("report"):
        raise DictionaryError('report: the verification reports are telemetry: declare them in the telemetry '
                              'dictionary (telemetry.toml, [[packet]] with kind = "verification" and subtype)')
    title = top.str_("title", source)
    apid = top.int_("apid")
    commands = tuple(_command(c) for c in top.array("command"))
    top.done()
    if not commands:
        raise DictionaryError("command: the dictionary declares no commands ([[command]])")
    tm = telemetry if telemetry is not None else load_dictionary()
    reports = tuple(p for p in tm.packets if p.kind == PacketKind.VERIFICATION)
    return CommandDictionary(apid=apid, commands=commands, reports=reports, title=title)


def loads_commands(text: str, source: str = "<memory>", telemetry: Dictionary | None = None) -> CommandDictionary:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DictionaryError(f"{source}: not valid TOML ({exc})") from None
    return parse(data, source, telemetry)


def load_commands(path: str | Path | None = None, telemetry: Dictionary | None = None) -> CommandDictionary:
    """The shipped command dictionary (path None) or a TOML file, with the verification reports of the telemetry
    dictionary (None: the shipped one). DictionaryError names the key and the reason."""
    if path is None:
        text = (resources.files("flight.dictionary") / SHIPPED).read_text(encoding="utf-8")
        return loads_commands(text, "shipped command dictionary", telemetry)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DictionaryError(f"{p}: cannot read ({exc.__class__.__name__}: {exc})") from None
    try:
        return loads_commands(text, str(p), telemetry)
    except DictionaryError as exc:
        raise DictionaryError(f"{p}: {exc}") from None
