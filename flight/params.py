"""The parameter table: limits, setpoints and rates in one place, loaded from
the configuration and changeable at run time (later by telecommand).

Every parameter is declared with its range; a change outside it is refused
with a one-line reason, and every change is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class ParamError(ValueError):
    """A parameter change was refused; the message names the parameter and why."""


@dataclass(frozen=True)
class ParamDef:
    name: str
    default: float
    lo: float
    hi: float
    unit: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not self.lo <= self.default <= self.hi:
            raise ValueError(f"parameter {self.name}: default {self.default} outside [{self.lo}, {self.hi}]")


DEFAULTS: tuple[ParamDef, ...] = (
    # battery protection and energy management
    ParamDef("soc_safe", 0.30, 0.0, 1.0, "", "state of charge below which the spacecraft goes to SAFE"),
    ParamDef("soc_standby", 0.45, 0.0, 1.0, "", "below this the payload is switched off (STANDBY)"),
    ParamDef("soc_nominal", 0.60, 0.0, 1.0, "", "above this (and with margin for the next eclipse) compute resumes"),
    ParamDef("dod_max", 0.30, 0.05, 0.9, "", "deepest depth of discharge allowed through an eclipse"),
    ParamDef("bus_undervoltage_v", 25.6, 0.0, 100.0, "V", "bus voltage treated as undervoltage"),
    ParamDef("charge_min_c", 0.0, -40.0, 60.0, "C", "no charging below this battery temperature"),
    ParamDef("charge_max_c", 40.0, -40.0, 80.0, "C", "no charging above this battery temperature"),
    ParamDef("discharge_min_c", -10.0, -40.0, 60.0, "C", "discharge window, low end"),
    ParamDef("discharge_max_c", 50.0, -40.0, 80.0, "C", "discharge window, high end"),
    # thermal control
    ParamDef("battery_heater_on_c", 5.0, -40.0, 40.0, "C", "battery heater on below this"),
    ParamDef("battery_heater_off_c", 10.0, -40.0, 45.0, "C", "battery heater off above this"),
    ParamDef("avionics_heater_on_c", -10.0, -40.0, 40.0, "C", "avionics heater on below this"),
    ParamDef("avionics_heater_off_c", -5.0, -40.0, 45.0, "C", "avionics heater off above this"),
    ParamDef("payload_die_limit_c", 82.0, 40.0, 120.0, "C", "the flight software keeps the die below this"),
    ParamDef("survival_min_c", -40.0, -100.0, 0.0, "C", "any body node below this: SAFE"),
    ParamDef("survival_max_c", 85.0, 40.0, 150.0, "C", "any body node above this: SAFE"),
    # rates
    ParamDef("forecast_period_s", 60.0, 1.0, 3600.0, "s", "how often the energy forecast is recomputed"),
)


class Parameters:
    def __init__(self, defs: tuple[ParamDef, ...] = DEFAULTS, overrides: Mapping[str, float] | None = None) -> None:
        self.defs = {d.name: d for d in defs}
        self._values = {d.name: d.default for d in defs}
        self.changes: list[tuple[int, str, float, float]] = []  # (t_ns, name, old, new)
        for name, value in (overrides or {}).items():
            self.set(name, value, t_ns=0)

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def get(self, name: str) -> float:
        try:
            return self._values[name]
        except KeyError:
            raise ParamError(f"no parameter named {name!r}") from None

    def set(self, name: str, value: float, t_ns: int = 0) -> float:
        """Change a parameter; returns the old value."""
        d = self.defs.get(name)
        if d is None:
            raise ParamError(f"no parameter named {name!r} (known: {', '.join(sorted(self.defs))})")
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise ParamError(f"{name}: expected a number, got {value!r}")
        if not d.lo <= value <= d.hi:
            raise ParamError(f"{name}: {value} outside [{d.lo}, {d.hi}] {d.unit}".rstrip())
        old = self._values[name]
        self._values[name] = float(value)
        self.changes.append((t_ns, name, old, float(value)))
        return old

    def as_dict(self) -> dict[str, float]:
        return dict(self._values)
