"""Power management: state of charge, the energy forecast, load shedding and battery protection.

State of charge is counted from the battery rail current (positive = charging; charge counted at the
charge efficiency) and corrected towards the open-circuit voltage once the battery has rested (|I|
below `rest_c_rate` x capacity for `rest_hold_s`): the OCV table inverted gives a state of charge the
estimate moves towards with time constant `ocv_tau_s` (a blend, never a jump). With no valid battery
current the count uses the balance of array and load rails; with neither it holds.

The forecast takes the next eclipse from a pluggable `EclipseForecast` (the orbit predictor) or
learns it from the array power history (`LearnedEclipse`); before it has seen an eclipse it assumes
a conservative one starting now. It predicts the state of charge at the end of the next eclipse at
the present load, and at the load with the payload restored to its budget.

Shedding levels, each with hysteresis, set the mode ceiling the power manager enforces:

- level 2 (SAFE; payload and avionics heater shed): SOC below soc_safe, bus undervoltage, or the
  battery temperature outside the discharge window. Left at SOC >= soc_standby with neither of the others.
- level 1 (STANDBY; payload shed): SOC below soc_standby, the battery temperature outside the charge
  window, or the forecast at the present load ending the eclipse below soc_safe. Left at
  SOC >= soc_nominal, the charge window good, and the forecast with the payload at its budget keeping
  the depth of discharge (1 - SOC) within dod_max through the next eclipse.
- level 0: nothing shed (NOMINAL allowed).

The plant has no charge switch, so charge inhibit cannot stop charging: it is reported (flag and
LIMIT_VIOLATION) and answered by shedding the payload, which keeps the eclipse discharge, and so the
charge needed afterwards, small (and removes the largest heat load when the battery is hot).

The radio, the avionics and the battery heater are never shed. A shed load is held off each step
(another component switching it on is undone without a new event); other components should consult
`is_shed(load)`. On release the payload switch is closed again; a heater is left to its thermostat.
Mode: the manager lowers the mode to its ceiling and, when the ceiling rises again, raises it back
one step at a time to the mode it lowered it from (respecting the ceilings of its peers); it never
raises a mode it did not lower.

Events: LOAD_SHED p1 = index of the load in the hardware configuration, p2 = 1 shed / 0 released;
UNDERVOLTAGE / UNDERVOLTAGE_CLEARED p1 = bus millivolts; LIMIT_VIOLATION (FaultKind CHARGE_TEMP /
DISCHARGE_TEMP) p2 = 1 raised / 0 cleared, p1 the kind, text with the temperature.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from flight.events import EventReporter
from flight.fdir import GAUGE, FaultKind, ModeCeiling, rail_key, temp_key
from flight.hardware import HardwareConfig
from flight.modes import Mode, ModeManager
from flight.params import Parameters
from flight.sensors import Readings

NS = 1_000_000_000

Validity = Callable[[str], bool]


class EclipseForecast(Protocol):
    """The next (or current) eclipse: (start_ns, end_ns) with end_ns > t_ns, or None when unknown."""

    def next_eclipse(self, t_ns: int) -> tuple[int, int] | None: ...


class SwitchBank(Protocol):
    """What the power manager needs of flight.switches.LoadSwitches."""

    def set(self, load: str, on: bool) -> bool: ...

    def is_on(self, load: str) -> bool: ...


class LearnedEclipse:
    """Fallback eclipse forecast learned from the measured array power: an eclipse begins when the
    array power falls below `threshold_w` and ends when it rises above it (with 2x hysteresis);
    the orbit period is the time between two eclipse starts. Call `observe` every step."""

    def __init__(self, threshold_w: float = 10.0) -> None:
        self.threshold_w = threshold_w
        self.in_eclipse: bool | None = None
        self.starts: list[int] = []
        self.duration_ns: int | None = None
        self.period_ns: int | None = None

    def observe(self, t_ns: int, array_w: float | None) -> None:
        if array_w is None:
            return
        if self.in_eclipse is None:
            self.in_eclipse = array_w < self.threshold_w
            return
        if not self.in_eclipse and array_w < self.threshold_w:
            self.in_eclipse = True
            if self.starts:
                self.period_ns = t_ns - self.starts[-1]
            self.starts = [*self.starts[-1:], t_ns]
        elif self.in_eclipse and array_w > 2 * self.threshold_w:
            self.in_eclipse = False
            if self.starts:
                self.duration_ns = t_ns - self.starts[-1]

    def next_eclipse(self, t_ns: int) -> tuple[int, int] | None:
        if self.duration_ns is None or not self.starts:
            return None
        start = self.starts[-1]
        if self.in_eclipse:
            return start, max(start + self.duration_ns, t_ns + 1)
        if self.period_ns is None:
            return None
        while start + self.duration_ns <= t_ns:
            start += self.period_ns
        return start, start + self.duration_ns


@dataclass(frozen=True)
class PowerConfig:
    charge_efficiency: float = 0.99  # coulombs stored per coulomb in
    rest_c_rate: float = 0.01  # |I| below this x capacity (A per Ah) counts as rest
    rest_hold_s: float = 300.0  # ... for this long before the OCV correction starts
    ocv_tau_s: float = 600.0  # time constant of the blend towards the OCV state of charge
    default_eclipse_s: float = 2160.0  # assumed (from now) before an eclipse has been seen: 36 min
    default_period_s: float = 5700.0
    eclipse_threshold_w: float = 10.0  # learned forecast: array power below this is eclipse
    payload_budget_w: float | None = None  # payload power when restored; None: its highest mode
    uv_confirm_samples: int = 2
    uv_clear_margin_v: float = 1.0  # undervoltage clears above bus_undervoltage_v + this
    temp_hysteresis_c: float = 2.0
    battery_node: str = "battery"  # thermal node of the battery
    payload_load: str = "payload"
    heater_load: str = "avionics_heater"  # shed at level 2
    initial_soc: float | None = None  # known state of charge at reset (e.g. kept over a reboot)

    def __post_init__(self) -> None:
        if not 0 < self.charge_efficiency <= 1:
            raise ValueError("charge_efficiency must be in (0, 1]")
        if self.ocv_tau_s <= 0 or self.rest_hold_s < 0:
            raise ValueError("ocv_tau_s must be > 0 and rest_hold_s >= 0")
        if self.initial_soc is not None and not 0 <= self.initial_soc <= 1:
            raise ValueError("initial_soc must be in [0, 1]")


@dataclass(frozen=True)
class EnergyForecast:
    t_ns: int
    eclipse_start_ns: int
    eclipse_end_ns: int
    learned: bool  # False: the default eclipse was assumed
    load_w: float  # present load
    soc_at_eclipse_start: float
    soc_at_eclipse_end: float  # at the present load
    soc_at_eclipse_end_nominal: float  # with the payload at its budget
    orbit_margin_wh: float  # over the next orbit: array energy (at the best power seen) - load energy


def ocv_cell_v(table: Sequence[tuple[float, float]], soc: float) -> float:
    """Cell open-circuit voltage at a state of charge (piecewise linear, clamped)."""
    socs = [s for s, _ in table]
    if soc <= socs[0]:
        return table[0][1]
    if soc >= socs[-1]:
        return table[-1][1]
    k = bisect.bisect_right(socs, soc)
    (s0, v0), (s1, v1) = table[k - 1], table[k]
    return v0 + (v1 - v0) * (soc - s0) / (s1 - s0)


def soc_from_ocv(table: Sequence[tuple[float, float]], cell_v: float) -> float:
    """The OCV table inverted (clamped to its ends; a flat segment gives its midpoint)."""
    if cell_v <= table[0][1]:
        return table[0][0]
    if cell_v >= table[-1][1]:
        return table[-1][0]
    for (s0, v0), (s1, v1) in itertools.pairwise(table):
        if v0 <= cell_v <= v1:
            return (s0 + s1) / 2 if v1 == v0 else s0 + (s1 - s0) * (cell_v - v0) / (v1 - v0)
    return table[-1][0]


class PowerManager:
    """Component "power".

    hw: the hardware configuration (battery cells, capacity, OCV table, loads, payload mode powers);
    readings: the poller's `Readings`; params: soc_safe, soc_standby, soc_nominal, dod_max,
    bus_undervoltage_v, the charge and discharge windows, forecast_period_s; events, modes: the event
    reporter and mode manager; switches: the load switches (`LoadSwitches`); valid: which readings may
    be used (`FaultDetection.valid`; default: every reading present); forecast: the eclipse predictor
    (default: learned from the array power); peers: other mode ceilings respected when raising the mode.
    """

    name = "power"

    def __init__(self, hw: HardwareConfig, readings: Readings, params: Parameters, events: EventReporter,
                 modes: ModeManager, switches: SwitchBank, valid: Validity | None = None,
                 forecast: EclipseForecast | None = None, config: PowerConfig | None = None,
                 peers: Sequence[ModeCeiling] = ()) -> None:
        if not hw.battery_ocv or hw.battery_capacity_ah <= 0 or hw.battery_cells_series < 1:
            raise ValueError("the hardware configuration needs the battery's OCV table, capacity and series cells")
        self.hw = hw
        self.readings = readings
        self.params = params
        self.events = events
        self.modes = modes
        self.switches = switches
        self.config = config if config is not None else PowerConfig()
        self.learned = LearnedEclipse(self.config.eclipse_threshold_w)
        self.eclipse: EclipseForecast = forecast if forecast is not None else self.learned
        self.peers: list[ModeCeiling] = list(peers)
        self._valid = valid
        # validity names and load tables, made once
        self._k_battery = rail_key("battery")
        self._k_array = rail_key("array")
        self._k_battery_temp = temp_key(self.config.battery_node)
        self._payload_rail = f"load:{self.config.payload_load}"
        self._k_payload_rail = rail_key(self._payload_rail)
        # per load: (rail name, its validity name, hard-wired, load name, nominal power)
        self._loads = [(f"load:{ld.name}", rail_key(f"load:{ld.name}"), ld.gpio is None, ld.name, ld.power_w)
                       for ld in hw.loads]
        self._load_index = {ld.name: k for k, ld in enumerate(hw.loads)}
        names = set(self._load_index)
        self._shed_order = [n for n in (self.config.payload_load, self.config.heater_load) if n in names]
        if self.config.payload_budget_w is not None:
            self._payload_budget_w = self.config.payload_budget_w
        else:
            self._payload_budget_w = max(hw.payload_mode_power_w, default=0.0)
        self._clear_state(0)

    def _clear_state(self, t_ns: int) -> None:
        cfg = self.config
        self.soc = cfg.initial_soc if cfg.initial_soc is not None else 0.5
        self.soc_known = cfg.initial_soc is not None
        self.soc_source = "initial" if self.soc_known else "none"
        self.level = 0
        self.shed: set[str] = set()
        self.charge_inhibited = False
        self.discharge_inhibited = False
        self.undervoltage = False
        self.battery_current_a: float | None = None
        self.bus_voltage_v: float | None = None
        self.battery_temp_c: float | None = None
        self.load_w = 0.0
        self.array_w: float | None = None
        self.forecast: EnergyForecast | None = None
        self.ocv_corrections = 0
        self._last_t: int | None = None
        self._rest_since: int | None = None
        self._uv_count = 0
        self._uv_clear_count = 0
        self._restore: Mode | None = None
        self._next_forecast_ns = t_ns
        self._array_best_w = 0.0
        self._array_best_this_sun = 0.0

    # ------------------------------------------------------------------ outputs
    @property
    def soc_pct(self) -> float:
        return 100.0 * self.soc

    @property
    def soc_low(self) -> bool:
        """Estimated state of charge below soc_safe."""
        return self.soc_known and self.soc < self.params["soc_safe"]

    @property
    def mode_ceiling(self) -> Mode:
        return (Mode.NOMINAL, Mode.STANDBY, Mode.SAFE)[self.level]

    @property
    def nominal_allowed(self) -> bool:
        return self.level == 0

    @property
    def predicted_soc_end_of_eclipse(self) -> float | None:
        return self.forecast.soc_at_eclipse_end if self.forecast is not None else None

    def is_shed(self, load: str) -> bool:
        return load in self.shed

    @property
    def array_best_w(self) -> float:
        """The highest array power seen in sunlight (what the array gives when the bus takes all of it)."""
        return self._array_best_w

    def soc_estimate(self) -> float | None:
        """For FDIR's cross-check: the estimate, None until known."""
        return self.soc if self.soc_known else None

    def hk_values(self) -> dict[str, Any]:
        """Housekeeping fields of the battery packet this component owns (by dictionary field name)."""
        return {"charge_inhibited": self.charge_inhibited, "discharge_inhibited": self.discharge_inhibited,
                "soc_low": self.soc_low, "capacity_ah": self.hw.battery_capacity_ah}

    # ------------------------------------------------------------------ life cycle
    def reset(self, t_ns: int) -> None:
        self._clear_state(t_ns)
        self._measure()
        if not self.soc_known:
            self._init_soc()
        self._last_t = t_ns

    def step(self, t_ns: int) -> None:
        self._measure()
        if self.array_w is not None:
            self.learned.observe(t_ns, self.array_w)
            self._track_array(self.array_w)
        if not self.soc_known:
            self._init_soc()
        elif self._last_t is not None:
            self._count(t_ns, (t_ns - self._last_t) / NS)
        self._last_t = t_ns
        if t_ns >= self._next_forecast_ns or self.forecast is None:
            self.forecast = self.predict(t_ns)
            self._next_forecast_ns = t_ns + round(self.params["forecast_period_s"] * NS)
        self._protect(t_ns)
        self._set_level(t_ns)
        self._apply_shedding(t_ns)
        self._request_mode(t_ns)

    # ------------------------------------------------------------------ measurement
    def _ok(self, name: str) -> bool:
        return self._valid(name) if self._valid is not None else True

    def _measure(self) -> None:
        r = self.readings
        rails = r.rails
        ok = self._ok if self._valid is None else self._valid
        batt = rails.get("battery")
        if batt is not None and ok(self._k_battery):
            self.battery_current_a, self.bus_voltage_v = batt.current_a, batt.bus_voltage_v
        else:
            self.battery_current_a, self.bus_voltage_v = None, None
            others = sorted(x.bus_voltage_v for k, x in rails.items() if x is not None and ok(rail_key(k)))
            if others:
                self.bus_voltage_v = others[len(others) // 2]
        arr = rails.get("array")
        self.array_w = arr.power_w if arr is not None and ok(self._k_array) else None
        temp = r.temps_c.get(self.config.battery_node)
        self.battery_temp_c = temp if temp is not None and ok(self._k_battery_temp) else None
        loads = self._metered_load_w()
        if loads is not None:
            self.load_w = loads
        elif self.array_w is not None and self.battery_current_a is not None and self.bus_voltage_v is not None:
            self.load_w = max(self.array_w - self.bus_voltage_v * self.battery_current_a, 0.0)
        if self.battery_current_a is None and self.array_w is not None and loads is not None and self.bus_voltage_v:
            self.battery_current_a = (self.array_w - loads) / self.bus_voltage_v  # the balance stands in

    def _metered_load_w(self) -> float | None:
        """Sum of the load rails, unmetered loads at their nominal power when switched on; None if a rail is bad."""
        rails = self.readings.rails
        ok = self._ok if self._valid is None else self._valid
        total = 0.0
        for key, valid_key, wired, name, power_w in self._loads:
            if key in rails:
                rd = rails[key]
                if rd is None or not ok(valid_key):
                    return None
                total += rd.power_w
            elif wired or self.switches.is_on(name):
                total += power_w
        return total

    def _track_array(self, array_w: float) -> None:
        if array_w > self.config.eclipse_threshold_w:
            self._array_best_this_sun = max(self._array_best_this_sun, array_w)
            self._array_best_w = max(self._array_best_w, self._array_best_this_sun)
        elif self._array_best_this_sun > 0:
            self._array_best_w = self._array_best_this_sun  # the last sun period's best
            self._array_best_this_sun = 0.0

    # ------------------------------------------------------------------ state of charge
    def _init_soc(self) -> None:
        g = self.readings.gauge
        if g is not None and self._ok(GAUGE):
            self.soc, self.soc_known, self.soc_source = min(max(g.soc_pct / 100.0, 0.0), 1.0), True, "gauge"
        elif self.battery_current_a is not None and self.bus_voltage_v is not None:
            cell = self.bus_voltage_v / self.hw.battery_cells_series
            self.soc, self.soc_known, self.soc_source = soc_from_ocv(self.hw.battery_ocv, cell), True, "ocv"

    def _count(self, t_ns: int, dt_s: float) -> None:
        i = self.battery_current_a
        if i is None or dt_s <= 0:
            self._rest_since = None
            return
        eff = self.config.charge_efficiency if i > 0 else 1.0
        soc = self.soc + eff * i * dt_s / (3600.0 * self.hw.battery_capacity_ah)
        self.soc = min(max(soc, 0.0), 1.0)
        self.soc_source = "count"
        rested = abs(i) < self.config.rest_c_rate * self.hw.battery_capacity_ah
        if not rested or self.bus_voltage_v is None or not self._ok(self._k_battery):
            self._rest_since = None
            return
        if self._rest_since is None:
            self._rest_since = t_ns
        if t_ns - self._rest_since >= self.config.rest_hold_s * NS:
            target = soc_from_ocv(self.hw.battery_ocv, self.bus_voltage_v / self.hw.battery_cells_series)
            self.soc += (target - self.soc) * min(dt_s / self.config.ocv_tau_s, 1.0)
            self.ocv_corrections += 1
            self.soc_source = "ocv"

    # ------------------------------------------------------------------ forecast
    def predict(self, t_ns: int) -> EnergyForecast:
        """The state of charge at the end of the next eclipse, at the present load and with the payload
        at its budget."""
        cfg = self.config
        ecl = self.eclipse.next_eclipse(t_ns)
        learned = ecl is not None
        if ecl is None:
            ecl = (t_ns, t_ns + round(cfg.default_eclipse_s * NS))
        start, end = max(ecl[0], t_ns), max(ecl[1], t_ns)
        cap_wh = self.hw.battery_capacity_ah
        soc0 = self.soc
        i = self.battery_current_a
        if start > t_ns and i is not None:
            gain = (cfg.charge_efficiency if i > 0 else 1.0) * i * (start - t_ns) / NS / 3600.0 / cap_wh
            soc0 = min(max(soc0 + gain, 0.0), 1.0)
        ecl_s = (end - start) / NS
        payload_w = 0.0
        rail = self.readings.rails.get(self._payload_rail)
        if rail is not None and self._ok(self._k_payload_rail):
            payload_w = rail.power_w
        nominal_w = self.load_w - payload_w + self._payload_budget_w
        end_now = self._drain(soc0, self.load_w, ecl_s)
        end_nominal = self._drain(soc0, max(nominal_w, self.load_w), ecl_s)
        period_s = (self.learned.period_ns / NS) if self.learned.period_ns else cfg.default_period_s
        sun_s = max(period_s - ecl_s, 0.0)
        margin = (self._array_best_w * sun_s - self.load_w * period_s) / 3600.0
        return EnergyForecast(t_ns, start, end, learned, self.load_w, soc0, end_now, end_nominal, margin)

    def _drain(self, soc0: float, load_w: float, seconds: float) -> float:
        """State of charge after drawing load_w for seconds from soc0 (at the mean open-circuit voltage)."""
        n = self.hw.battery_cells_series
        soc = soc0
        for _ in range(3):  # the mean voltage depends on where the discharge ends
            v = n * ocv_cell_v(self.hw.battery_ocv, (soc0 + soc) / 2)
            soc = soc0 - load_w * seconds / 3600.0 / (v * self.hw.battery_capacity_ah)
        return max(soc, 0.0)

    # ------------------------------------------------------------------ protection
    def _protect(self, t_ns: int) -> None:
        p, cfg = self.params, self.config
        v = self.bus_voltage_v
        if v is not None:
            if v < p["bus_undervoltage_v"]:
                self._uv_count += 1
                self._uv_clear_count = 0
            else:
                self._uv_count = 0
                if v > p["bus_undervoltage_v"] + cfg.uv_clear_margin_v:
                    self._uv_clear_count += 1
            if not self.undervoltage and self._uv_count >= cfg.uv_confirm_samples:
                self.undervoltage = True
                self.events.emit(t_ns, "UNDERVOLTAGE", "HIGH", round(v * 1000), 0, f"bus {v:.2f} V")
            elif self.undervoltage and self._uv_clear_count >= cfg.uv_confirm_samples:
                self.undervoltage = False
                self.events.emit(t_ns, "UNDERVOLTAGE_CLEARED", "INFO", round(v * 1000), 0, f"bus {v:.2f} V")
        t = self.battery_temp_c
        if t is None:
            return  # no valid temperature: FDIR's response; the flags keep their state
        h = cfg.temp_hysteresis_c
        self.charge_inhibited = self._window(t_ns, t, self.charge_inhibited, p["charge_min_c"], p["charge_max_c"], h,
                                             FaultKind.CHARGE_TEMP, "charge")
        self.discharge_inhibited = self._window(t_ns, t, self.discharge_inhibited, p["discharge_min_c"],
                                                p["discharge_max_c"], h, FaultKind.DISCHARGE_TEMP, "discharge")

    def _window(self, t_ns: int, temp: float, inhibited: bool, lo: float, hi: float, hyst: float, kind: FaultKind,
                what: str) -> bool:
        if not inhibited and not lo <= temp <= hi:
            self.events.emit(t_ns, "LIMIT_VIOLATION", "MEDIUM", int(kind), 1, f"{what} inhibit {temp:.1f} C")
            return True
        if inhibited and lo + hyst <= temp <= hi - hyst:
            self.events.emit(t_ns, "LIMIT_VIOLATION", "INFO", int(kind), 0, f"{what} ok {temp:.1f} C")
            return False
        return inhibited

    # ------------------------------------------------------------------ shedding and modes
    def _set_level(self, t_ns: int) -> None:
        p = self.params
        known = self.soc_known
        soc = self.soc
        fc = self.forecast
        need2 = self.undervoltage or self.discharge_inhibited or (known and soc < p["soc_safe"])
        need1 = (self.charge_inhibited or (known and soc < p["soc_standby"])
                 or (known and fc is not None and fc.soc_at_eclipse_end < p["soc_safe"]))
        level = self.level
        if need2:
            level = 2
        elif level == 2 and known and soc >= p["soc_standby"]:
            level = 1
        if level < 2 and need1:
            level = max(level, 1)
        elif level == 1 and known and soc >= p["soc_nominal"] and fc is not None \
                and 1.0 - fc.soc_at_eclipse_end_nominal <= p["dod_max"]:
            level = 0
        self.level = level

    def _apply_shedding(self, t_ns: int) -> None:
        if not self.level and not self.shed:
            return  # nothing wanted shed, nothing shed: nothing to do
        want = set(self._shed_order[: self.level])
        for load in self._shed_order:
            idx = self._load_index[load]
            if load in want and load not in self.shed:
                self.shed.add(load)
                self.events.emit(t_ns, "LOAD_SHED", "MEDIUM", idx, 1, f"shed {load} soc {self.soc_pct:.0f}%")
            elif load not in want and load in self.shed:
                self.shed.discard(load)
                self.events.emit(t_ns, "LOAD_SHED", "INFO", idx, 0, f"release {load}")
                if load == self.config.payload_load:
                    self.switches.set(load, True)
            if load in self.shed and self.switches.is_on(load):
                self.switches.set(load, False)

    def _request_mode(self, t_ns: int) -> None:
        ceiling = self.mode_ceiling
        mode = self.modes.mode
        if mode > ceiling:
            if self._restore is None:
                self._restore = mode
            self.modes.request(ceiling, t_ns, self._reason())
        elif self._restore is not None:
            allowed = min([ceiling, *(p.mode_ceiling for p in self.peers)])
            if mode < self._restore and allowed > mode:
                self.modes.request(Mode(mode + 1), t_ns, f"power: soc {self.soc_pct:.0f}%")
            if self.modes.mode >= self._restore:
                self._restore = None

    def _reason(self) -> str:
        if self.undervoltage:
            return "power: undervoltage"
        if self.discharge_inhibited and self.level == 2:
            return "power: discharge temp"
        if self.charge_inhibited and self.level == 1:
            return "power: charge temp"
        return f"power: soc {self.soc_pct:.0f}%"
