"""One telemetry field: its type, bit size, unit, calibration and limits, and the
conversion of one value between engineering units and the raw bits on the wire."""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from enum import IntEnum

from flight.dictionary.calibration import Calibration, CalKind
from flight.dictionary.errors import DictionaryError, EncodeError
from flight.dictionary.limits import Limits

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
Value = float | int | bool | str
MAX_BYTES = 4096  # the largest bytes field, octets


def _fmt(x: int | float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


class FieldType(IntEnum):
    UINT = 0
    INT = 1
    FLOAT = 2
    BOOL = 3
    ENUM = 4
    TEXT = 5  # fixed-size ASCII, NUL-padded; bits = 8 x octets
    SPARE = 6  # reserved bits, sent as zeros and not decoded
    BYTES = 7  # fixed-size opaque octets (a data block); given and decoded as a hex string


_ALLOWED_CAL = {
    FieldType.UINT: (CalKind.NONE, CalKind.LINEAR, CalKind.POLYNOMIAL),
    FieldType.INT: (CalKind.NONE, CalKind.LINEAR, CalKind.POLYNOMIAL),
    FieldType.FLOAT: (CalKind.NONE, CalKind.LINEAR),
    FieldType.BOOL: (CalKind.NONE,),
    FieldType.ENUM: (CalKind.ENUM,),
    FieldType.TEXT: (CalKind.NONE,),
    FieldType.SPARE: (CalKind.NONE,),
    FieldType.BYTES: (CalKind.NONE,),
}


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: FieldType
    bits: int
    unit: str = ""
    calibration: Calibration = field(default_factory=Calibration)
    limits: Limits | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise DictionaryError(f"name: {self.name!r} is not a lower-case identifier ([a-z][a-z0-9_]*)")
        t, b = self.type, self.bits
        if t == FieldType.FLOAT and b not in (32, 64):
            raise DictionaryError(f"bits: a float is 32 or 64 bits, got {b}")
        if t == FieldType.BOOL and b != 1:
            raise DictionaryError(f"bits: a bool is 1 bit, got {b}")
        if t == FieldType.ENUM and not 1 <= b <= 16:
            raise DictionaryError(f"bits: an enum is 1..16 bits, got {b}")
        if t == FieldType.TEXT and (b < 8 or b % 8 or b > 8 * 255):
            raise DictionaryError(f"bits: text is a whole number of octets (8..2040 bits), got {b}")
        if t == FieldType.BYTES and (b < 8 or b % 8 or b > 8 * MAX_BYTES):
            raise DictionaryError(f"bits: bytes are a whole number of octets (8..{8 * MAX_BYTES} bits), got {b}")
        if t in (FieldType.UINT, FieldType.INT, FieldType.SPARE) and not 1 <= b <= 64:
            raise DictionaryError(f"bits: an integer is 1..64 bits, got {b}")
        if t == FieldType.INT and b < 2:
            raise DictionaryError(f"bits: a signed integer needs at least 2 bits, got {b}")
        kind = self.calibration.kind
        if kind not in _ALLOWED_CAL[t]:
            allowed = ", ".join(k.name.lower() for k in _ALLOWED_CAL[t] if k != CalKind.NONE) or "none"
            what = "labels" if kind == CalKind.ENUM else self.calibration.key
            if t == FieldType.ENUM:
                raise DictionaryError("labels: an enum needs labels = { NAME = code, ... }")
            raise DictionaryError(f"{what}: a {t.name.lower()} field takes no such calibration (allowed: {allowed})")
        if t == FieldType.ENUM:
            for code, label in self.calibration.labels:
                if not 0 <= code <= self.raw_max:
                    raise DictionaryError(f"labels.{label}: code {code} does not fit {b} bits (0..{self.raw_max})")
        if kind == CalKind.POLYNOMIAL and not self.calibration.monotonic_over(self.raw_min, self.raw_max):
            raise DictionaryError(f"polynomial: not monotonic over the raw range {self.raw_min}..{self.raw_max}, "
                                  f"so it cannot be inverted for encoding")
        if self.limits is not None and not self.numeric:
            raise DictionaryError(f"limits: a {t.name.lower()} field takes no limits")
        if t == FieldType.SPARE and (self.unit or self.limits):
            raise DictionaryError("unit: a spare field has no unit")

    # ------------------------------------------------------------------ properties

    @property
    def numeric(self) -> bool:
        return self.type in (FieldType.UINT, FieldType.INT, FieldType.FLOAT)

    @property
    def raw_min(self) -> int:
        return -(1 << (self.bits - 1)) if self.type == FieldType.INT else 0

    @property
    def raw_max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.type == FieldType.INT else (1 << self.bits) - 1

    @property
    def type_name(self) -> str:
        return {FieldType.UINT: f"uint{self.bits}", FieldType.INT: f"int{self.bits}",
                FieldType.FLOAT: f"float{self.bits}", FieldType.BOOL: "bool", FieldType.ENUM: f"enum{self.bits}",
                FieldType.TEXT: f"text[{self.bits // 8}]", FieldType.SPARE: f"spare{self.bits}",
                FieldType.BYTES: f"bytes[{self.bits // 8}]"}[self.type]

    def eng_range(self) -> tuple[float, float] | None:
        """The engineering values the raw range reaches, for calibrated integer fields."""
        if self.type not in (FieldType.UINT, FieldType.INT) or self.calibration.kind == CalKind.NONE:
            return None
        lo, hi = float(self.calibration.to_eng(self.raw_min)), float(self.calibration.to_eng(self.raw_max))
        return min(lo, hi), max(lo, hi)

    # ------------------------------------------------------------------ one value

    def encode_bits(self, value: Value, where: str) -> int:
        """The field's bits (an unsigned integer below 2**bits) for an engineering value.
        `where` names the field in error messages (``packet.field``)."""
        t = self.type
        if t == FieldType.SPARE:
            return 0
        if t == FieldType.BOOL:
            if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
                return int(value)
            raise EncodeError(f"{where}: expected true/false (or 0/1), got {value!r}")
        if t == FieldType.ENUM:
            return self._encode_enum(value, where)
        if t == FieldType.TEXT:
            return self._encode_text(value, where)
        if t == FieldType.BYTES:
            return self._encode_bytes(value, where)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EncodeError(f"{where}: expected a number, got {value!r}")
        if t == FieldType.FLOAT:
            return self._encode_float(float(value), where)
        raw = self._to_raw_int(value, where)
        return raw & ((1 << self.bits) - 1)

    def _to_raw_int(self, value: int | float, where: str) -> int:
        cal = self.calibration
        unit = f" {self.unit}" if self.unit else ""
        if isinstance(value, float) and not math.isfinite(value):
            raise EncodeError(f"{where}: {value}{unit} is not finite")
        if isinstance(value, int) and abs(value) > 1 << 1000:
            raise EncodeError(f"{where}: {value}{unit} is outside any encodable range")
        if cal.kind == CalKind.NONE:
            if isinstance(value, float):
                if not value.is_integer():
                    raise EncodeError(f"{where}: expected an integer, got {value!r}")
                value = int(value)
            raw = value
        elif cal.kind == CalKind.LINEAR:
            a, b = cal.coefficients
            scaled = (float(value) - b) / a if abs(value) < 1e300 else math.inf
            # beyond any raw range: one past the top (or bottom), so the range check below says so
            raw = round(scaled) if math.isfinite(scaled) else (self.raw_max + 1 if scaled > 0 else self.raw_min - 1)
        else:
            inv = cal.poly_inverse(float(value), self.raw_min, self.raw_max)
            raw = self.raw_min - 1 if inv is None else inv
        if not self.raw_min <= raw <= self.raw_max:
            rng = self.eng_range()
            lo, hi = rng if rng is not None else (self.raw_min, self.raw_max)
            lsb = f", {cal.coefficients[0]:g}{unit}/LSB" if cal.kind == CalKind.LINEAR else ""
            raise EncodeError(f"{where}: {_fmt(value)}{unit} is outside the encodable range {_fmt(lo)} .. "
                              f"{_fmt(hi)}{unit} ({self.type_name}{lsb})")
        return raw

    def _encode_float(self, value: float, where: str) -> int:
        if self.calibration.kind == CalKind.LINEAR:
            a, b = self.calibration.coefficients
            value = (value - b) / a
        fmt = ">f" if self.bits == 32 else ">d"
        try:
            packed = struct.pack(fmt, value)
        except OverflowError:
            raise EncodeError(f"{where}: {value:g} overflows a float{self.bits}") from None
        return int.from_bytes(packed, "big")

    def _encode_enum(self, value: Value, where: str) -> int:
        cal = self.calibration
        if isinstance(value, str):
            code = cal.code_of(value)
            if code is None:
                raise EncodeError(f"{where}: {value!r} is not a label (labels: "
                                  f"{', '.join(n for _, n in cal.labels)})")
            return code
        if isinstance(value, int) and not isinstance(value, bool) and any(c == value for c, _ in cal.labels):
            return value
        raise EncodeError(f"{where}: expected a label ({', '.join(n for _, n in cal.labels)}) or its code, "
                          f"got {value!r}")

    def _encode_text(self, value: Value, where: str) -> int:
        n = self.bits // 8
        if not isinstance(value, str):
            raise EncodeError(f"{where}: expected a string, got {value!r}")
        try:
            raw = value.encode("ascii")
        except UnicodeEncodeError:
            raise EncodeError(f"{where}: text must be ASCII, got {value!r}") from None
        if len(raw) > n or b"\0" in raw:
            raise EncodeError(f"{where}: text of {len(raw)} octets does not fit {n} octets (or holds a NUL): "
                              f"{value!r}")
        return int.from_bytes(raw.ljust(n, b"\0"), "big")

    def _encode_bytes(self, value: Value, where: str) -> int:
        n = self.bits // 8
        if not isinstance(value, str):
            raise EncodeError(f"{where}: expected the octets as a hex string, got {type(value).__name__}")
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raise EncodeError(f"{where}: not a hex string: {value[:40]!r}") from None
        if len(raw) > n:
            raise EncodeError(f"{where}: {len(raw)} octets do not fit {n}")
        return int.from_bytes(raw.ljust(n, b"\0"), "big")

    def raw_from_bits(self, bits: int) -> int | float | str:
        """The raw value (what a generic packet loader such as ccsdspy reads) from the field's bits."""
        t = self.type
        if t == FieldType.INT and bits >> (self.bits - 1):
            return bits - (1 << self.bits)
        if t == FieldType.FLOAT:
            return float(struct.unpack(">f" if self.bits == 32 else ">d", bits.to_bytes(self.bits // 8, "big"))[0])
        if t == FieldType.TEXT:
            return bits.to_bytes(self.bits // 8, "big").rstrip(b"\0").decode("ascii", errors="replace")
        if t == FieldType.BYTES:
            return bits.to_bytes(self.bits // 8, "big").hex()
        return bits

    def eng_from_raw(self, raw: int | float | str) -> Value:
        if self.type == FieldType.BOOL:
            return bool(raw)
        if isinstance(raw, str):
            return raw
        return self.calibration.to_eng(raw)
