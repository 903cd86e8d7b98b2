"""Reading a dictionary TOML file into value types. Every error names the key by its path
(``packet[1].field[4].limits.warning_low``) and says what is wrong with it."""

from __future__ import annotations

import tomllib
from typing import Any

from flight.dictionary.calibration import Calibration, CalKind
from flight.dictionary.errors import DictionaryError
from flight.dictionary.fields import FieldDef, FieldType
from flight.dictionary.limits import Limits
from flight.dictionary.packet import VERIFICATION_SUBTYPES, PacketDef, PacketKind
from flight.toml_table import REQUIRED, TomlTable

FORMAT_VERSION = 1
_LIMIT_KEYS = ("warning_low", "warning_high", "critical_low", "critical_high")


def _at(path: str, exc: DictionaryError) -> DictionaryError:
    """A value type's error ("bits: ...") placed under the key path of its table."""
    return DictionaryError(f"{path}.{exc}" if path else str(exc))


def _calibration(t: TomlTable) -> Calibration:
    given = [k for k in ("linear", "polynomial", "labels") if k in t.data]
    if len(given) > 1:
        raise DictionaryError(f"{t.key(given[1])}: give one of linear, polynomial, labels (also {given[0]})")
    if not given:
        return Calibration()
    key = given[0]
    if key == "labels":
        lt = t.table("labels", required=True)
        labels = []
        for name in lt.data:
            code = lt.int_(name)
            labels.append((code, name))
        lt.done()
        try:
            return Calibration(CalKind.ENUM, labels=tuple(labels))
        except DictionaryError as exc:
            raise _at(t.path, exc) from None
    coefficients = t.numbers(key)
    try:
        return Calibration(CalKind.LINEAR if key == "linear" else CalKind.POLYNOMIAL, coefficients)
    except DictionaryError as exc:
        raise _at(t.path, exc) from None


def _limits(t: TomlTable) -> Limits | None:
    if "limits" not in t.data:
        return None
    lt = t.table("limits", required=True)
    values = {k: lt.opt_num(k) for k in _LIMIT_KEYS}
    lt.done()
    try:
        return Limits(**values)
    except DictionaryError as exc:
        raise _at(t.path, exc) from None


def _field(t: TomlTable) -> FieldDef:
    name = t.str_("name")
    ftype = FieldType[t.str_("type", choices=tuple(x.name.lower() for x in FieldType)).upper()]
    bits = t.int_("bits", 1 if ftype == FieldType.BOOL else REQUIRED)
    unit = t.str_("unit", "")
    description = t.str_("description", "")
    cal = _calibration(t)
    limits = _limits(t)
    t.done()
    try:
        return FieldDef(name=name, type=ftype, bits=bits, unit=unit, calibration=cal, limits=limits,
                        description=description)
    except DictionaryError as exc:
        raise _at(t.path, exc) from None


def _packet(t: TomlTable) -> PacketDef:
    apid = t.int_("apid")
    name = t.str_("name")
    kind = PacketKind[t.str_("kind", choices=tuple(k.name.lower() for k in PacketKind)).upper()]
    description = t.str_("description", "")
    period = t.opt_num("period_s")
    sev = t.get("severity_field", None)
    if sev is not None and not isinstance(sev, str):
        raise DictionaryError(f"{t.key('severity_field')}: expected a field name, got {sev!r}")
    subtype = t.int_("subtype", lo=0, hi=255) if t.has("subtype") else None
    if kind == PacketKind.VERIFICATION and subtype is None:
        raise DictionaryError(f"{t.key('subtype')}: a verification packet needs its PUS service 1 subtype "
                              f"({', '.join(f'{k} {v}' for k, v in VERIFICATION_SUBTYPES.items())})")
    fields = tuple(_field(ft) for ft in t.array("field"))
    t.done()
    try:
        return PacketDef(apid=apid, name=name, kind=kind, fields=fields, description=description, period_s=period,
                         severity_field=sev, subtype=subtype)
    except DictionaryError as exc:
        raise _at(t.path, exc) from None


def parse(data: dict[str, Any], source: str) -> tuple[tuple[PacketDef, ...], str]:
    """(packets, title) from a parsed TOML document."""
    top = TomlTable(data, "", DictionaryError)
    version = top.int_("version")
    if version != FORMAT_VERSION:
        raise DictionaryError(f"version: this reader knows dictionary format {FORMAT_VERSION}, got {version}")
    title = top.str_("title", source)
    packets = tuple(_packet(pt) for pt in top.array("packet"))
    top.done()
    if not packets:
        raise DictionaryError("packet: the dictionary declares no packets ([[packet]])")
    return packets, title


def loads(text: str, source: str) -> tuple[tuple[PacketDef, ...], str]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DictionaryError(f"{source}: not valid TOML ({exc})") from None
    return parse(data, source)
