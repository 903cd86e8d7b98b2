"""The Emulator: one spacecraft's plant, its I2C buses and its radio, built
from a scenario and advanced in large chunks of simulated time."""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from emulator import faults as flt
from emulator import native
from emulator.bus import EmulatedBus
from emulator.radio import Delivered, EmulatedRadio
from emulator.scenario import OrbitKind, Scenario, load

NS_PER_S = 1_000_000_000
_TABLE_STEP_NS = 30 * NS_PER_S  # SGP4 samples for the Hermite table
_TABLE_SPAN_NS = 6 * 3600 * NS_PER_S

# state fields indexed by a scenario list, so logs can say "node_temp_k[payload]"
_INDEXED_BY = {
    "node_temp_k": "nodes", "load_cmd": "loads", "load_on": "loads", "load_power_w": "loads",
    "fault_heater_stuck": "loads", "panel_power_w": "panels", "fault_strings_lost": "panels",
    "station_up_km": "stations", "station_range_km": "stations", "station_visible": "stations",
}


def _elevation_deg(sin_el: float) -> float:
    return math.degrees(math.asin(max(-1.0, min(1.0, float(sin_el)))))


@dataclass
class _Log:
    slots: list[int]
    names: list[str]
    interval_ns: int
    next_ns: int
    chunks: list[npt.NDArray[np.float64]] = field(default_factory=list)


class Emulator:
    """Plant + buses + radio for one scenario.

    `advance(ns)` runs the C plant over many substeps in one call, stopping
    only where an injected fault is due; `bus` (and `buses`) serve register
    transfers at the current simulated time; `radio` carries frames.
    """

    def __init__(self, scenario: Scenario | str | Path, seed: int | None = None,
                 sink: Callable[[Delivered], None] | None = None) -> None:
        sc = scenario if isinstance(scenario, Scenario) else load(scenario)
        if seed is not None:
            from dataclasses import replace

            sc = replace(sc, seed=seed)
        self.scenario = sc
        self.substep_ns = round(sc.substep_s * NS_PER_S)
        self._plant = native.Plant(sc)
        self._sat: Any = None
        self._table_t0 = 0
        self._table_end_ns = 0
        if sc.orbit.kind == OrbitKind.TABLE:
            from emulator import orbit_table

            assert sc.orbit.tle is not None
            self._sat = orbit_table.satrec(*sc.orbit.tle)
            self._extend_table(0, 0)
        self._plant.configure()
        self.buses = [EmulatedBus(self._plant, k) for k in range(4)]
        self.bus = self.buses[0]
        self.radio = EmulatedRadio(sink)
        self._faults: list[tuple[int, int, flt.Fault]] = []
        self._fault_seq = 0
        self._log: _Log | None = None
        self._slots = native.state_slots()
        self._last_down_bits = 0.0
        self._last_up_bits = 0.0
        self._payload_override: float | None = None

    # ------------------------------------------------------------------ time
    @property
    def t_ns(self) -> int:
        return self._plant.t_ns

    def advance(self, ns: int) -> None:
        """Advance simulated time by ns nanoseconds (>= 0)."""
        if type(ns) is int and ns >= 0 and not self._faults:  # no fault due: one run to the end
            if ns:
                self._run(ns)
            return
        if not isinstance(ns, int | np.integer) or isinstance(ns, bool):
            raise TypeError(f"advance takes integer nanoseconds, got {type(ns).__name__}")
        ns = int(ns)
        if ns < 0:
            raise ValueError(f"advance: negative step {ns} ns; simulated time only moves forward")
        end = self.t_ns + ns
        while True:
            if self._faults:
                self._apply_due_faults()
            stop = end
            if self._faults and self._faults[0][0] < stop:
                stop = self._faults[0][0]
            if stop > self.t_ns:
                self._run(stop - self.t_ns)
            if self.t_ns >= end:
                if self._faults:
                    self._apply_due_faults()
                return

    def _run(self, ns: int) -> None:
        c = self._plant.c
        c.radio_tx = 1.0 if self.radio.has_queued() else 0.0
        if self._sat is not None:
            self._extend_table(self.t_ns, self.t_ns + ns)
        if self._log is None:
            self._plant.advance(ns, self.substep_ns)
        else:
            lg = self._log
            rows, lg.next_ns = self._plant.advance_logged(ns, self.substep_ns, lg.slots, lg.interval_ns, lg.next_ns)
            if len(rows):
                lg.chunks.append(rows)
        down, up = c.downlink_bits, c.uplink_bits
        self.radio.update(c.t_ns, int(c.contact_station), c.downlink_bps,
                          down - self._last_down_bits, up - self._last_up_bits)
        self._last_down_bits, self._last_up_bits = down, up

    def _extend_table(self, start_ns: int, end_ns: int) -> None:
        """Make sure the SGP4 table covers [start_ns, end_ns] with a margin."""
        from emulator import orbit_table

        if self._table_end_ns and self._table_t0 <= start_ns and end_ns + _TABLE_STEP_NS <= self._table_end_ns:
            return
        assert self._sat is not None
        t0 = (start_ns // _TABLE_STEP_NS) * _TABLE_STEP_NS
        span = max(_TABLE_SPAN_NS, end_ns - t0 + 2 * _TABLE_STEP_NS)
        n = span // _TABLE_STEP_NS + 1
        pv = orbit_table.table(self._sat, self.scenario.epoch_jd_utc, t0, _TABLE_STEP_NS, n)
        self._plant.set_orbit_table(t0, _TABLE_STEP_NS, pv)
        self._table_t0 = t0
        self._table_end_ns = t0 + (n - 1) * _TABLE_STEP_NS

    # ------------------------------------------------------------------ faults
    def inject(self, fault: flt.Fault, at_ns: int | None = None) -> None:
        """Schedule a fault at a simulated time (now when at_ns is None)."""
        self._validate_fault(fault)
        when = self.t_ns if at_ns is None else int(at_ns)
        if when < self.t_ns:
            raise ValueError(f"inject: time {when} ns is in the past (now {self.t_ns} ns)")
        heapq.heappush(self._faults, (when, self._fault_seq, fault))
        self._fault_seq += 1
        self._apply_due_faults()

    def _validate_fault(self, fault: flt.Fault) -> None:
        sc = self.scenario
        if isinstance(fault, flt.DeviceNack | flt.StuckReading | flt.ReadingOffset | flt.ExtraNoise | flt.BitFlip
                      | flt.ClearDeviceFaults):
            names = [d.name for d in sc.devices]
            if fault.device not in names:
                self._unknown("device", fault.device, names)
        elif isinstance(fault, flt.LostSolarStrings):
            names = [p.name for p in sc.panels]
            if fault.panel not in names:
                self._unknown("panel", fault.panel, names)
            if fault.strings > sc.panels[names.index(fault.panel)].strings:
                have = sc.panels[names.index(fault.panel)].strings
                raise ValueError(f"panel {fault.panel!r} has only {have} strings")
        elif isinstance(fault, flt.HeaterStuckOn):
            names = [ld.name for ld in sc.loads]
            if fault.load not in names:
                self._unknown("load", fault.load, names)
        elif isinstance(fault, flt.BatteryCellFailure):
            if fault.cells >= sc.battery.cells_parallel:
                raise ValueError(f"battery has {sc.battery.cells_parallel} cells in parallel; "
                                 f"failing {fault.cells} would leave none")
        elif isinstance(fault, flt.PayloadStuckMax):
            if sc.payload is None:
                raise ValueError("this scenario has no payload")
        else:
            raise TypeError(f"not a fault: {fault!r}")

    @staticmethod
    def _unknown(what: str, name: str, known: list[str]) -> None:
        raise ValueError(f"no {what} named {name!r} (known: {', '.join(known) or 'none'})")

    # ------------------------------------------------------------------ real payload
    @property
    def payload_power_override(self) -> float | None:
        """The payload power set by `set_payload_power_override`, or None (the model's)."""
        return self._payload_override

    def set_payload_power_override(self, watts: float | None) -> None:
        """Replace the emulated payload's electrical draw (while its load is switched on) by `watts`, for
        example the power measured on a real payload (HIL real-payload mode), from the next substep on: the
        bus load, the battery, the energy counters and the payload node's heating follow it; the payload
        model still runs the job's work and throttling at its commanded mode. None returns to the model
        (the default)."""
        if watts is not None:
            if self.scenario.payload is None:
                raise ValueError("this scenario has no payload")
            w = float(watts)
            if not 0.0 <= w <= 1e6:
                raise ValueError(f"payload power override must be in 0 .. 1e6 W, got {watts!r}")
            watts = w
        self._plant.payload_power_override(watts)
        self._payload_override = watts

    def _apply_due_faults(self) -> None:
        while self._faults and self._faults[0][0] <= self.t_ns:
            _, _, fault = heapq.heappop(self._faults)
            self._apply(fault)

    def _apply(self, fault: flt.Fault) -> None:
        sc, p = self.scenario, self._plant
        if isinstance(fault, flt.LostSolarStrings):
            p.set_field("fault_strings_lost", float(fault.strings), [x.name for x in sc.panels].index(fault.panel))
        elif isinstance(fault, flt.HeaterStuckOn):
            p.set_field("fault_heater_stuck", 1.0 if fault.on else 0.0, sc.load_index(fault.load))
        elif isinstance(fault, flt.PayloadStuckMax):
            p.set_field("fault_payload_stuck_max", 1.0 if fault.on else 0.0)
        elif isinstance(fault, flt.BatteryCellFailure):
            b = sc.battery
            left = max(float(p.state["battery_cells_parallel"]) - fault.cells, 1.0)
            p.set_field("battery_cells_parallel", left)
            # the plant derives the same value at its next substep; set it now so reads agree at once
            p.set_field("battery_capacity_ah", b.cell_capacity_ah * left * (1 - b.capacity_fade))
        else:
            d = sc.device(fault.device)
            if isinstance(fault, flt.DeviceNack):
                p.device_fault(d.bus, d.address, native.FAULT_NACK, 0, 1.0 if fault.on else 0.0)
            elif isinstance(fault, flt.StuckReading):
                p.device_fault(d.bus, d.address, native.FAULT_STUCK, fault.register, float(fault.raw))
            elif isinstance(fault, flt.ReadingOffset):
                p.device_fault(d.bus, d.address, native.FAULT_OFFSET, 0, fault.offset)
            elif isinstance(fault, flt.ExtraNoise):
                p.device_fault(d.bus, d.address, native.FAULT_NOISE, 0, fault.sigma)
            elif isinstance(fault, flt.BitFlip):
                p.device_fault(d.bus, d.address, native.FAULT_BITFLIP, fault.register, float(fault.mask))
            else:
                p.device_fault(d.bus, d.address, native.FAULT_CLEAR, 0, 0.0)

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> Any:
        """The raw C state (a numpy structured record viewing C memory; read-only by convention)."""
        return self._plant.state

    @property
    def c_state(self) -> Any:
        """The same C state as the C struct (cffi): reading one scalar field costs less than through `state`
        (read-only by convention)."""
        return self._plant.c

    def resolve(self, name: str) -> int:
        """The state slot of a log variable: `field`, `field[k]` or `field[name]`."""
        m = re.fullmatch(r"(\w+)\[([^\]]+)\]", name)
        if m and not m.group(2).isdigit():
            fld, key = m.group(1), m.group(2)
            lst = _INDEXED_BY.get(fld)
            if lst is None:
                raise KeyError(f"{fld} is not indexed by name")
            names = [x.name for x in getattr(self.scenario, lst)]
            if key not in names:
                raise KeyError(f"{name}: no {lst[:-1]} named {key!r}")
            name = f"{fld}[{names.index(key)}]"
        if name not in self._slots:
            raise KeyError(f"{name}: not a state variable")
        return self._slots[name]

    def start_log(self, variables: list[str], interval_ns: int) -> None:
        """Record the variables every interval_ns from now on, written by the C loop."""
        if interval_ns <= 0:
            raise ValueError("log interval must be > 0")
        if len(variables) > native.MAX_LOG_VARS:
            raise ValueError(f"at most {native.MAX_LOG_VARS} log variables")
        slots = [self.resolve(v) for v in variables]
        self._log = _Log(slots, list(variables), int(interval_ns), self.t_ns + int(interval_ns))

    def log_data(self) -> dict[str, npt.NDArray[np.float64]]:
        """The log so far: `t_s` and one array per variable."""
        if self._log is None:
            return {}
        lg = self._log
        data = np.vstack(lg.chunks) if lg.chunks else np.empty((0, len(lg.slots) + 1))
        out = {"t_s": data[:, 0]}
        for k, name in enumerate(lg.names):
            out[name] = data[:, k + 1]
        return out

    def snapshot(self) -> dict[str, Any]:
        """The plant state in engineering units, keyed by scenario names."""
        st, sc = self._plant.state, self.scenario
        r = st["r_eci_km"]
        contact = int(st["contact_station"])
        return {
            "t_s": int(st["t_ns"]) / NS_PER_S,
            "r_eci_km": [float(x) for x in r],
            "altitude_km": float(np.linalg.norm(r)) - 6378.137,
            "illumination": float(st["illumination"]),
            "beta_deg": math.degrees(float(st["beta_rad"])),
            "contact_station": sc.stations[contact].name if contact >= 0 else None,
            "stations": {
                g.name: {"elevation_deg": _elevation_deg(st["station_up_km"][k] / st["station_range_km"][k]),
                         "range_km": float(st["station_range_km"][k]),
                         "visible": bool(st["station_visible"][k])}
                for k, g in enumerate(sc.stations)
            },
            "array_available_w": float(st["array_available_w"]),
            "array_used_w": float(st["array_used_w"]),
            "battery_soc": float(st["battery_soc"]),
            "battery_v": float(st["battery_v"]),
            "battery_i_a": float(st["battery_i_a"]),
            "bus_v": float(st["bus_v"]),
            "undervoltage_tripped": bool(st["uv_tripped"]),
            "loads": {ld.name: {"on": bool(st["load_on"][k]), "power_w": float(st["load_power_w"][k])}
                      for k, ld in enumerate(sc.loads)},
            "temperatures_c": {n.name: float(st["node_temp_k"][k]) - 273.15 for k, n in enumerate(sc.nodes)},
            "payload": {
                "mode": int(st["payload_mode"]), "power_w": float(st["payload_power_w"]),
                "die_c": float(st["payload_die_c"]), "throttle": float(st["payload_throttle"]),
                "shutdown": bool(st["payload_shutdown"]), "job_id": int(st["job_id"]),
                "job_active": int(st["job_active"]), "job_done_s": float(st["job_done_s"]),
                "job_work_s": float(st["job_work_s"]),
            },
            "energy_j": {
                "array_available": float(st["e_array_available_j"]), "array_used": float(st["e_array_used_j"]),
                "loads": float(st["e_load_j"]), "battery_in": float(st["e_batt_in_j"]),
                "battery_out": float(st["e_batt_out_j"]), "battery_loss": float(st["e_batt_loss_j"]),
                "battery_chemical": float(st["e_batt_chem_j"]),
            },
        }
