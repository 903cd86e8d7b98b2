"""Thermal control: heater thermostats, stuck-on heater detection and survival limits.

Component "thermal", stepped by the executive after the sensor poller (it reads the
poller's latest `Readings`). Every decision here is made on flight telemetry only.

Heaters. Every load of kind "heater" with a thermal node is a thermostat on that node's
temperature: ON below parameter `<load>_on_c`, OFF above `<load>_off_c`, unchanged in the
band between (a two-state transition table, `HEATER_TABLE`). Each commanded change raises
HEATER_ON / HEATER_OFF (param1: the load's index in the hardware configuration, param2: the
node temperature in 0.01 degC, 0 when unknown). Heaters stay on their thermostats in every
spacecraft mode (SAFE is survival: the heaters are what keeps it alive). Hard-wired heaters
cannot be commanded and are left alone.

Failed sensor. A None reading is skipped (detecting the failed sensor is fault management's
job), but the heater cannot be left on a stale command forever: after `fallback_after_s`
without a valid reading the heater runs a fixed duty cycle (`fallback_duty` of each
`fallback_period_s`, ON first). A thermostat that has lost its sensor cannot know whether
the node is cold or hot; half of the heater's power is the compromise that keeps a battery
out of the charge-inhibit range through an eclipse without cooking it in a hot case (a
heater sized for the cold case at full duty roughly doubles the margin it needs). The first
valid reading returns the heater to its thermostat at once.

Stuck-on heater. A heater whose switch is commanded off but whose power keeps flowing shows
as a node that keeps warming past its off point. Detection, per heater, while commanded
off and only after this component has switched the heater off at least once since reset
(so a node that is simply warm from its environment at boot is not suspected): the node is
more than `stuck_margin_c` above the off point and has risen by at least `stuck_min_rise_c`
over the last `stuck_window_s`, continuously for `stuck_persist_s`. Then LIMIT_VIOLATION
(MEDIUM, param1 load index, param2 temperature, text "<load> stuck on"), latched until the
node is back below its off point. The node's own survival limit (below) is what escalates
to SAFE. A switch command the GPIO expander does not take raises the same event once per
episode (text "<load> sw fail").

A heater that gets stuck while the node is warm from its environment and was never cycled
cannot be told from the environment by temperature alone; the survival limit still catches
it. A power-balance check (array minus battery minus measured loads) would, but that is
fault management's job.

Hooks for the composition: `valid(name)` (FDIR's verdict on "temp:<node>") turns an invalidated
reading into None; `inhibited(load)` (power's load shedding) leaves a shed heater alone.

Survival limits. Every node with a valid reading is checked against `survival_min_c` /
`survival_max_c`, except nodes with their own limits in `ThermalConfig.own_limits_c`. The
solar array nodes ("array", "panels") have their own, wider limits (-100 / +100 degC):
deployable arrays swing between about -80 degC in eclipse and +70 degC in the sun, far
outside what the body may see, and are qualified for it; exempting them entirely would leave
a wing that lost its hinge conductance unwatched. A violation held for `survival_persist_s`
raises LIMIT_VIOLATION (HIGH, param1 the node's index in `HardwareConfig.nodes`, param2 the
temperature in 0.01 degC) and requests SAFE; it is latched until the node is back inside
its limits by `survival_clear_c`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

from flight.events import EventReporter
from flight.hardware import HardwareConfig, LoadSpec
from flight.modes import Mode, ModeManager
from flight.params import ParamError, Parameters
from flight.sensors import Readings

NS = 1_000_000_000

# Nodes with their own survival limits (degC): deployable solar arrays (see the module docstring).
ARRAY_LIMITS_C: tuple[tuple[str, float, float], ...] = (("array", -100.0, 100.0), ("panels", -100.0, 100.0))


class SwitchBank(Protocol):
    """What thermal control needs of `flight.switches.LoadSwitches`."""

    def set(self, load: str, on: bool) -> bool: ...

    def is_on(self, load: str) -> bool: ...

    def switchable(self, load: str) -> bool: ...


class HeaterState(IntEnum):
    OFF = 0
    ON = 1


class TempBand(IntEnum):
    """Where a node temperature sits against its heater's thermostat points."""

    COLD = 0  # below on_c
    BAND = 1  # between on_c and off_c
    WARM = 2  # above off_c


HEATER_TABLE: dict[tuple[HeaterState, TempBand], HeaterState] = {
    (HeaterState.OFF, TempBand.COLD): HeaterState.ON,
    (HeaterState.OFF, TempBand.BAND): HeaterState.OFF,
    (HeaterState.OFF, TempBand.WARM): HeaterState.OFF,
    (HeaterState.ON, TempBand.COLD): HeaterState.ON,
    (HeaterState.ON, TempBand.BAND): HeaterState.ON,
    (HeaterState.ON, TempBand.WARM): HeaterState.OFF,
}


@dataclass(frozen=True)
class ThermalConfig:
    """Detection and fallback settings (candidates for the parameter table; see the module docstring)."""

    fallback_after_s: float = 10.0
    fallback_duty: float = 0.5
    fallback_period_s: float = 600.0
    stuck_margin_c: float = 3.0
    stuck_min_rise_c: float = 0.2
    stuck_window_s: float = 300.0
    stuck_persist_s: float = 60.0
    survival_persist_s: float = 3.0
    survival_clear_c: float = 2.0
    own_limits_c: tuple[tuple[str, float, float], ...] = ARRAY_LIMITS_C

    def __post_init__(self) -> None:
        if not 0.0 <= self.fallback_duty <= 1.0:
            raise ValueError(f"fallback_duty must be in [0, 1], got {self.fallback_duty}")
        if self.fallback_period_s <= 0 or self.stuck_window_s <= 0:
            raise ValueError("fallback_period_s and stuck_window_s must be > 0")
        for name, value in (("fallback_after_s", self.fallback_after_s), ("stuck_margin_c", self.stuck_margin_c),
                            ("stuck_min_rise_c", self.stuck_min_rise_c), ("stuck_persist_s", self.stuck_persist_s),
                            ("survival_persist_s", self.survival_persist_s),
                            ("survival_clear_c", self.survival_clear_c)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        for name, lo, hi in self.own_limits_c:
            if lo >= hi:
                raise ValueError(f"own limits of node {name}: low {lo} must be below high {hi}")


@dataclass
class _Heater:
    spec: LoadSpec
    index: int  # in hw.loads
    on_param: str
    off_param: str
    state: HeaterState = HeaterState.OFF
    last_valid_ns: int = 0
    fallback_since_ns: int | None = None
    cycled_off: bool = False  # this component switched it off at least once since reset
    history: deque[tuple[int, float]] = field(default_factory=deque)  # (t_ns, degC) while commanded off
    suspect_since_ns: int | None = None
    stuck: bool = False
    switch_failed: bool = False


@dataclass
class _NodeWatch:
    index: int
    since_ns: int | None = None
    tripped: bool = False


def _centi(temp_c: float | None) -> int:
    return 0 if temp_c is None else round(temp_c * 100)


class ThermalControl:
    """Heater thermostats with fallback, stuck-on heater detection and survival limits."""

    name = "thermal"

    def __init__(self, hw: HardwareConfig, readings: Readings, switches: SwitchBank, params: Parameters,
                 modes: ModeManager, events: EventReporter, config: ThermalConfig | None = None, *,
                 valid: Callable[[str], bool] | None = None, inhibited: Callable[[str], bool] | None = None) -> None:
        self.hw = hw
        self.valid = valid  # FDIR's verdict on "temp:<node>"; an invalid reading is treated as None
        self.inhibited = inhibited  # a heater another component holds off (power's load shedding): left alone
        self.readings = readings
        self.switches = switches
        self.params = params
        self.modes = modes
        self.events = events
        self.config = config if config is not None else ThermalConfig()
        self.heaters: dict[str, _Heater] = {}
        for k, ld in enumerate(hw.loads):
            if ld.kind != "heater" or ld.node is None or not switches.switchable(ld.name):
                continue
            if ld.node not in hw.nodes:
                raise ValueError(f"heater {ld.name}: no thermal node named {ld.node!r}")
            on_p, off_p = f"{ld.name}_on_c", f"{ld.name}_off_c"
            for p in (on_p, off_p):
                try:
                    params.get(p)
                except ParamError:
                    raise ValueError(f"heater {ld.name}: add the parameters {on_p} and {off_p} "
                                     f"(missing {p})") from None
            self.heaters[ld.name] = _Heater(ld, k, on_p, off_p)
        own = {name: (lo, hi) for name, lo, hi in self.config.own_limits_c}
        self._own_limits = own
        self.nodes = {n: _NodeWatch(k) for k, n in enumerate(hw.nodes)}
        self._temp_keys = {n: f"temp:{n}" for n in hw.nodes}  # FDIR's validity names, made once
        # per node: (name, watch, validity name, own survival limits or None)
        self._watches = [(n, w, self._temp_keys[n], own.get(n)) for n, w in self.nodes.items()]
        self.switch_failures = 0

    # ------------------------------------------------------------------ life cycle
    def reset(self, t_ns: int) -> None:
        for h in self.heaters.values():
            h.state = HeaterState.ON if self.switches.is_on(h.spec.name) else HeaterState.OFF  # bumpless
            h.last_valid_ns = t_ns
            h.fallback_since_ns = None
            h.cycled_off = False
            h.history.clear()
            h.suspect_since_ns = None
            h.stuck = False
            h.switch_failed = False
        for w in self.nodes.values():
            w.since_ns = None
            w.tripped = False

    def step(self, t_ns: int) -> None:
        inhibited = self.inhibited
        for h in self.heaters.values():
            if inhibited is not None and inhibited(h.spec.name):
                h.state = HeaterState.OFF  # not ours to command while shed; bumpless when released
                h.suspect_since_ns = None
                continue
            self._heater(h, t_ns)
        temps = self.readings.temps_c
        valid = self.valid
        body: tuple[float, float] | None = None
        for node, w, key, own in self._watches:
            temp = temps.get(node)
            if temp is not None and valid is not None and not valid(key):
                temp = None
            if temp is None:
                w.since_ns = None  # skipped; a failed sensor is fault management's business
                continue
            if own is not None:
                lo, hi = own
            else:
                if body is None:
                    body = self.params["survival_min_c"], self.params["survival_max_c"]
                lo, hi = body
            if not w.tripped and lo <= temp <= hi:
                w.since_ns = None  # the common case, as _survival_check would have it
                continue
            self._survival_check(node, w, t_ns, temp, lo, hi)

    # ------------------------------------------------------------------ queries
    def limits_c(self, node: str) -> tuple[float, float]:
        """The survival limits applied to a node (its own, or the body's from the parameters)."""
        own = self._own_limits.get(node)
        if own is not None:
            return own
        return self.params["survival_min_c"], self.params["survival_max_c"]

    def heater_on(self, load: str) -> bool:
        """The state this component commands."""
        return self.heaters[load].state == HeaterState.ON

    def in_fallback(self, load: str) -> bool:
        return self.heaters[load].fallback_since_ns is not None

    def stuck(self, load: str) -> bool:
        return self.heaters[load].stuck

    def _temp(self, node: str) -> float | None:
        temp = self.readings.temps_c.get(node)
        if temp is not None and self.valid is not None:
            key = self._temp_keys.get(node)
            if not self.valid(key if key is not None else f"temp:{node}"):
                return None
        return temp

    # ------------------------------------------------------------------ heaters
    def _heater(self, h: _Heater, t_ns: int) -> None:
        node = h.spec.node
        assert node is not None
        temp = self._temp(node)
        on_c, off_c = self.params[h.on_param], self.params[h.off_param]
        on_c = min(on_c, off_c)  # an inverted pair would chatter: collapse it to one point
        if temp is not None:
            h.last_valid_ns = t_ns
            h.fallback_since_ns = None
            band = TempBand.COLD if temp < on_c else TempBand.WARM if temp > off_c else TempBand.BAND
            target = HEATER_TABLE[(h.state, band)]
            text = ""
        else:
            cfg = self.config
            if t_ns - h.last_valid_ns < cfg.fallback_after_s * NS:
                target, text = h.state, ""  # hold the last command through a short gap
            else:
                if h.fallback_since_ns is None:
                    h.fallback_since_ns = t_ns
                period_ns = round(cfg.fallback_period_s * NS)
                phase = (t_ns - h.fallback_since_ns) % period_ns
                target = HeaterState.ON if phase < cfg.fallback_duty * period_ns else HeaterState.OFF
                text = "fallback duty"
        if target != h.state:
            if target == HeaterState.OFF:
                h.cycled_off = True
                h.history.clear()
                h.suspect_since_ns = None
            h.state = target
            on = target == HeaterState.ON
            self.events.emit(t_ns, "HEATER_ON" if on else "HEATER_OFF", "INFO", h.index, _centi(temp),
                             text or f"{h.spec.name}")
        self._command(h, t_ns, temp)
        self._stuck_check(h, t_ns, temp, off_c)

    def _command(self, h: _Heater, t_ns: int, temp: float | None) -> None:
        ok = self.switches.set(h.spec.name, h.state == HeaterState.ON)
        if ok:
            h.switch_failed = False
            return
        self.switch_failures += 1
        if not h.switch_failed:
            h.switch_failed = True
            self.events.emit(t_ns, "LIMIT_VIOLATION", "MEDIUM", h.index, _centi(temp), f"{h.spec.name} sw fail")

    def _stuck_check(self, h: _Heater, t_ns: int, temp: float | None, off_c: float) -> None:
        cfg = self.config
        if h.stuck and (temp is None or temp < off_c or h.state == HeaterState.ON):
            h.stuck = False  # back below its off point (or wanted on again): re-arm
        if h.state != HeaterState.OFF or not h.cycled_off or temp is None:
            h.suspect_since_ns = None
            return
        window_ns = round(cfg.stuck_window_s * NS)
        h.history.append((t_ns, temp))
        while len(h.history) > 1 and h.history[1][0] <= t_ns - window_ns:
            h.history.popleft()
        t0, temp0 = h.history[0]
        rising = t_ns - t0 >= window_ns and temp - temp0 >= cfg.stuck_min_rise_c
        suspect = temp > off_c + cfg.stuck_margin_c and rising
        if not suspect:
            h.suspect_since_ns = None
            return
        if h.suspect_since_ns is None:
            h.suspect_since_ns = t_ns
        if not h.stuck and t_ns - h.suspect_since_ns >= cfg.stuck_persist_s * NS:
            h.stuck = True
            self.events.emit(t_ns, "LIMIT_VIOLATION", "MEDIUM", h.index, _centi(temp), f"{h.spec.name} stuck on")

    # ------------------------------------------------------------------ survival
    def _survival(self, node: str, w: _NodeWatch, t_ns: int) -> None:
        temp = self._temp(node)
        if temp is None:
            w.since_ns = None  # skipped; a failed sensor is fault management's business
            return
        lo, hi = self.limits_c(node)
        self._survival_check(node, w, t_ns, temp, lo, hi)

    def _survival_check(self, node: str, w: _NodeWatch, t_ns: int, temp: float, lo: float, hi: float) -> None:
        if w.tripped:
            if lo + self.config.survival_clear_c <= temp <= hi - self.config.survival_clear_c:
                w.tripped = False
            return
        if lo <= temp <= hi:
            w.since_ns = None
            return
        if w.since_ns is None:
            w.since_ns = t_ns
        if t_ns - w.since_ns < self.config.survival_persist_s * NS:
            return
        w.tripped = True
        low = temp < lo
        self.events.emit(t_ns, "LIMIT_VIOLATION", "HIGH", w.index, _centi(temp),
                         f"{node} {'below' if low else 'above'} survival")
        self.modes.request(Mode.SAFE, t_ns, f"thermal: {node} {'cold' if low else 'hot'}")
