"""Reading a dictionary TOML file into value types. Every error names the key by its path
(``packet[1].field[4].limits.warning_low``) and says what is wrong with it."""

from __future__ import annotations

import math
import tomllib
from typing import Any

from flight.dictionary.calibration import Calibration, CalKind
from flight.dictionary.errors import DictionaryError
from flight.dictionary.fields import FieldDef, FieldType
from flight.dictionary.limits import Limits
from flight.dictionary.packet import PacketDef, PacketKind

FORMAT_VERSION = 1
_REQUIRED = object()
_LIMIT_KEYS = ("warning_low", "warning_high", "critical_low", "critical_high")


class _Table:
    """One TOML table being read: typed getters that name the key on error, and a final
    check that no unknown key is left."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise DictionaryError(f"{path}: expected a table, got {type(data).__name__}")
        self.data: dict[str, Any] = data
        self.path = path
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, default: object = _REQUIRED) -> object:
        self.used.add(name)
        if name in self.data:
            return self.data[name]
        if default is _REQUIRED:
            raise DictionaryError(f"{self.key(name)}: required key is missing")
        return default

    def int_(self, name: str, default: object = _REQUIRED) -> int:
        v = self.get(name, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise DictionaryError(f"{self.key(name)}: expected an integer, got {v!r}")
        return v

    def num(self, name: str, default: object = _REQUIRED) -> float | None:
        v = self.get(name, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise DictionaryError(f"{self.key(name)}: expected a finite number, got {v!r}")
        return float(v)

    def str_(self, name: str, default: object = _REQUIRED, choices: tuple[str, ...] | None = None) -> str:
        v = self.get(name, default)
        if not isinstance(v, str):
            raise DictionaryError(f"{self.key(name)}: expected a string, got {v!r}")
        if choices is not None and v not in choices:
            raise DictionaryError(f"{self.key(name)}: must be one of {', '.join(choices)}; got {v!r}")
        return v

    def numbers(self, name: str) -> tuple[float, ...]:
        v = self.get(name)
        if not isinstance(v, list) or not all(
                isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in v):
            raise DictionaryError(f"{self.key(name)}: expected a list of finite numbers, got {v!r}")
        return tuple(float(x) for x in v)

    def array(self, name: str) -> list[_Table]:
        v = self.get(name, [])
        if not isinstance(v, list):
            raise DictionaryError(f"{self.key(name)}: expected an array of tables ([[{name}]])")
        return [_Table(item, f"{self.key(name)}[{k}]") for k, item in enumerate(v)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise DictionaryError(f"{self.key(unknown[0])}: unknown key")


def _at(path: str, exc: DictionaryError) -> DictionaryError:
    """A value type's error ("bits: ...") placed under the key path of its table."""
    return DictionaryError(f"{path}.{exc}" if path else str(exc))


def _calibration(t: _Table) -> Calibration:
    given = [k for k in ("linear", "polynomial", "labels") if k in t.data]
    if len(given) > 1:
        raise DictionaryError(f"{t.key(given[1])}: give one of linear, polynomial, labels (also {given[0]})")
    if not given:
        return Calibration()
    key = given[0]
    if key == "labels":
        lt = _Table(t.get("labels"), t.key("labels"))
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


def _limits(t: _Table) -> Limits | None:
    if "limits" not in t.data:
        return None
    lt = _Table(t.get("limits"), t.key("limits"))
    values = {k: lt.num(k, None) for k in _LIMIT_KEYS}
    lt.done()
    try:
        return Limits(**values)
    except DictionaryError as exc:
        raise _at(t.path, exc) from None


def _field(t: _Table) -> FieldDef:
    name = t.str_("name")
    ftype = FieldType[t.str_("type", choices=tuple(x.name.lower() for x in FieldType)).upper()]
    bits = t.int_("bits", 1 if ftype == FieldType.BOOL else _REQUIRED)
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


def _packet(t: _Table) -> PacketDef:
    apid = t.int_("apid")
    name = t.str_("name")
    kind = PacketKind[t.str_("kind", choices=("housekeeping", "event")).upper()]
    description = t.str_("description", "")
    period = t.num("period_s", None)
    sev = t.get("severity_field", None)
    if sev is not None and not isinstance(sev, str):
        raise DictionaryError(f"{t.key('severity_field')}: expected a field name, got {sev!r}")
    fields = tuple(_field(ft) for ft in t.array("field"))
    t.done()
    try:
        return PacketDef(apid=apid, name=name, kind=kind, fields=fields, description=description, period_s=period,
                         severity_field=sev)
    except DictionaryError as exc:
        raise _at(t.path, exc) from None


def parse(data: dict[str, Any], source: str) -> tuple[tuple[PacketDef, ...], str]:
    """(packets, title) from a parsed TOML document."""
    top = _Table(data, "")
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
