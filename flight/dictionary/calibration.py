"""Raw -> engineering conversions: none, linear (a * raw + b), polynomial
(c0 + c1 raw + c2 raw^2 + ..., evaluated by Horner's rule) and enumeration labels.

Scalar and array forms do the same float64 operations in the same order, so a value
decoded one packet at a time equals the value decoded in bulk bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from flight.dictionary.errors import DictionaryError


class CalKind(IntEnum):
    NONE = 0
    LINEAR = 1
    POLYNOMIAL = 2
    ENUM = 3


def unknown_label(raw: int) -> str:
    """What an enumeration code without a label decodes to."""
    return f"UNDEFINED({raw})"


@dataclass(frozen=True)
class Calibration:
    kind: CalKind = CalKind.NONE
    coefficients: tuple[float, ...] = ()  # LINEAR: (a, b); POLYNOMIAL: (c0, c1, ..., cn)
    labels: tuple[tuple[int, str], ...] = ()  # ENUM: (raw code, label), in declaration order

    def __post_init__(self) -> None:
        if not all(isinstance(c, float) and math.isfinite(c) for c in self.coefficients):
            raise DictionaryError(f"{self.key}: coefficients must be finite numbers, got {list(self.coefficients)}")
        if self.kind == CalKind.NONE and (self.coefficients or self.labels):
            raise DictionaryError("calibration: NONE takes no coefficients or labels")
        if self.kind == CalKind.LINEAR:
            if len(self.coefficients) != 2:
                raise DictionaryError(f"linear: expected [a, b] (engineering = a * raw + b), got "
                                      f"{list(self.coefficients)}")
            if self.coefficients[0] == 0.0:
                raise DictionaryError("linear: the scale a must not be 0")
        if self.kind == CalKind.POLYNOMIAL and (len(self.coefficients) < 2 or self.coefficients[-1] == 0.0):
            raise DictionaryError(f"polynomial: expected [c0, c1, ...] of degree >= 1 with a non-zero last "
                                  f"coefficient, got {list(self.coefficients)}")
        if self.kind == CalKind.ENUM:
            if not self.labels:
                raise DictionaryError("labels: an enum needs at least one label")
            codes = [c for c, _ in self.labels]
            names = [n for _, n in self.labels]
            for code, name in self.labels:
                if not name or not name.isidentifier():
                    raise DictionaryError(f"labels.{name}: a label must be an identifier")
                if codes.count(code) > 1:
                    raise DictionaryError(f"labels.{name}: code {code} is used by more than one label")
                if names.count(name) > 1:
                    raise DictionaryError(f"labels.{name}: duplicate label")
        elif self.labels:
            raise DictionaryError("labels: only an enum takes labels")

    @property
    def key(self) -> str:
        return {CalKind.LINEAR: "linear", CalKind.POLYNOMIAL: "polynomial"}.get(self.kind, "calibration")

    # ------------------------------------------------------------------ scalar

    def to_eng(self, raw: int | float) -> int | float | str:
        if self.kind == CalKind.LINEAR:
            return float(raw) * self.coefficients[0] + self.coefficients[1]
        if self.kind == CalKind.POLYNOMIAL:
            x = float(raw)
            acc = self.coefficients[-1]
            for c in reversed(self.coefficients[:-1]):
                acc = acc * x + c
            return acc
        if self.kind == CalKind.ENUM:
            for code, name in self.labels:
                if code == raw:
                    return name
            return unknown_label(int(raw))
        return raw

    def code_of(self, label: str) -> int | None:
        for code, name in self.labels:
            if name == label:
                return code
        return None

    def monotonic_over(self, lo: int, hi: int) -> bool:
        """True if the polynomial has no turning point strictly inside (lo, hi)."""
        deriv = np.polynomial.polynomial.polyder(np.asarray(self.coefficients))
        if len(deriv) <= 1:
            return bool(deriv[0] != 0.0)
        roots = np.polynomial.polynomial.polyroots(deriv)
        return not any(abs(r.imag) < 1e-12 and lo < r.real < hi for r in roots)

    def poly_inverse(self, eng: float, lo: int, hi: int) -> int | None:
        """The raw integer in [lo, hi] whose engineering value is nearest eng, for a monotonic
        polynomial; None if eng lies outside the values the range reaches."""
        f_lo, f_hi = float(self.to_eng(lo)), float(self.to_eng(hi))
        sign = 1.0 if f_hi >= f_lo else -1.0
        if not min(f_lo, f_hi) <= eng <= max(f_lo, f_hi):
            return None
        a, b = lo, hi  # invariant: sign * f(a) <= sign * eng <= sign * f(b)
        while b - a > 1:
            m = (a + b) // 2
            if sign * float(self.to_eng(m)) <= sign * eng:
                a = m
            else:
                b = m
        return a if abs(float(self.to_eng(a)) - eng) <= abs(float(self.to_eng(b)) - eng) else b

    # ------------------------------------------------------------------ arrays

    def to_eng_array(self, raw: npt.NDArray[Any]) -> npt.NDArray[Any]:
        if self.kind == CalKind.LINEAR:
            out: npt.NDArray[np.float64] = raw.astype(np.float64) * self.coefficients[0]
            out += self.coefficients[1]
            return out
        if self.kind == CalKind.POLYNOMIAL:
            x = raw.astype(np.float64)
            acc = np.full(x.shape, self.coefficients[-1])
            for c in reversed(self.coefficients[:-1]):
                acc *= x
                acc += c
            return acc
        return raw
