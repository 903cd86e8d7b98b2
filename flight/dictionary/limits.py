"""Limits in engineering units and the violations a decoded value raises."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

from flight.dictionary.errors import DictionaryError


class LimitLevel(IntEnum):
    WARNING = 1
    CRITICAL = 2


class LimitSide(IntEnum):
    LOW = 0
    HIGH = 1


@dataclass(frozen=True)
class Limits:
    """Any subset of the four; a value strictly beyond a limit violates it.
    Order: critical_low <= warning_low < warning_high <= critical_high."""

    warning_low: float | None = None
    warning_high: float | None = None
    critical_low: float | None = None
    critical_high: float | None = None

    def __post_init__(self) -> None:
        for name in ("critical_low", "warning_low", "warning_high", "critical_high"):
            v = getattr(self, name)
            if v is not None and not math.isfinite(v):
                raise DictionaryError(f"limits.{name}: must be finite, got {v!r}")
        pairs = (("critical_low", "warning_low", False), ("warning_low", "warning_high", True),
                 ("warning_high", "critical_high", False), ("critical_low", "critical_high", True),
                 ("critical_low", "warning_high", True), ("warning_low", "critical_high", True))
        for lo_name, hi_name, strict in pairs:
            lo, hi = getattr(self, lo_name), getattr(self, hi_name)
            if lo is not None and hi is not None and (lo > hi or (strict and lo == hi)):
                raise DictionaryError(f"limits.{hi_name}: must be {'>' if strict else '>='} {lo_name} ({lo}), "
                                      f"got {hi}")
        if all(getattr(self, n) is None for n in ("critical_low", "warning_low", "warning_high", "critical_high")):
            raise DictionaryError("limits: give at least one of warning_low, warning_high, critical_low, "
                                  "critical_high (or leave limits out)")

    def check(self, value: float) -> tuple[LimitLevel, LimitSide, float] | None:
        """The worst limit value breaks, or None (NaN breaks none)."""
        if self.critical_low is not None and value < self.critical_low:
            return LimitLevel.CRITICAL, LimitSide.LOW, self.critical_low
        if self.critical_high is not None and value > self.critical_high:
            return LimitLevel.CRITICAL, LimitSide.HIGH, self.critical_high
        if self.warning_low is not None and value < self.warning_low:
            return LimitLevel.WARNING, LimitSide.LOW, self.warning_low
        if self.warning_high is not None and value > self.warning_high:
            return LimitLevel.WARNING, LimitSide.HIGH, self.warning_high
        return None

    def to_json(self) -> dict[str, float]:
        return {n: v for n in ("critical_low", "warning_low", "warning_high", "critical_high")
                if (v := getattr(self, n)) is not None}


@dataclass(frozen=True)
class LimitViolation:
    packet: str
    field: str
    value: float
    level: LimitLevel
    side: LimitSide
    limit: float
    unit: str = ""

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        rel = "below" if self.side == LimitSide.LOW else "above"
        return (f"{self.packet}.{self.field}: {self.value:g}{unit} is {rel} the {self.level.name.lower()} "
                f"{self.side.name.lower()} limit {self.limit:g}{unit}")
