"""Housekeeping: the latest sensor readings encoded into the dictionary's
housekeeping packets at each packet's period, time-stamped in CUC.

Fields are filled by name: `<load>_current_a`, `<load>_power_w`, `<load>_on`
from the rail monitors and switch states, `<node>_temp_c` from the
temperature sensors. A field with no source (a load or node the spacecraft
lacks, or a sensor that failed) goes out as zero / false; values beyond a
field's range are clamped to it (the encoder refuses them otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flight.dictionary import Dictionary, PacketDef, PacketKind
from flight.dictionary.fields import FieldType
from flight.drivers.payload_ctrl import PayloadStatus
from flight.hardware import HardwareConfig
from flight.sensors import Readings

NS = 1_000_000_000

PacketSink = Callable[[int, int, bytes], None]  # (apid, t_ns, packet)


def _clamp(pdef: PacketDef, values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in pdef.fields:
        if f.type == FieldType.SPARE:
            continue
        v = values.get(f.name)
        if f.type == FieldType.BOOL:
            out[f.name] = bool(v)
        elif f.type == FieldType.ENUM:
            out[f.name] = v if v is not None else f.calibration.labels[0][1]
        elif f.type == FieldType.TEXT:
            out[f.name] = "" if v is None else str(v)
        else:
            x = 0.0 if v is None else float(v)
            rng = f.eng_range()
            if rng is not None:
                x = min(max(x, rng[0]), rng[1])
            elif f.type in (FieldType.UINT, FieldType.INT):
                x = int(min(max(round(x), f.raw_min), f.raw_max))
            out[f.name] = x
    return out


class Housekeeping:
    """Component: builds every housekeeping packet of the dictionary at its period."""

    name = "housekeeping"

    def __init__(self, dictionary: Dictionary, hw: HardwareConfig, readings: Readings, sink: PacketSink,
                 undervoltage_v: float = 0.0, capacity_ah: float = 0.0, cuc_offset_ns: int = 0) -> None:
        self.hw = hw
        self.readings = readings
        self.sink = sink
        self.undervoltage_v = undervoltage_v
        self.capacity_ah = capacity_ah
        self.cuc_offset_ns = cuc_offset_ns  # mission time 0 on the CUC time scale (TAI since 1958)
        self.packets = [p for p in dictionary.packets if p.kind == PacketKind.HOUSEKEEPING and p.period_s]
        self._period_ns = {p.apid: round((p.period_s or 1.0) * NS) for p in self.packets}
        self._next: dict[int, int] = {}
        self._seq: dict[int, int] = {}
        self.generated = 0
        self.switch_states: Callable[[], dict[str, bool]] = self._switches_from_gpio

    def reset(self, t_ns: int) -> None:
        self._next = {p.apid: t_ns for p in self.packets}
        self._seq = {p.apid: 0 for p in self.packets}

    def step(self, t_ns: int) -> None:
        values: dict[str, Any] | None = None
        for p in self.packets:
            if t_ns < self._next[p.apid]:
                continue
            if values is None:
                values = self.values()
            pkt = p.encode(_clamp(p, values), self._seq[p.apid], t_ns + self.cuc_offset_ns)
            self._seq[p.apid] = (self._seq[p.apid] + 1) % 16384
            self._next[p.apid] += self._period_ns[p.apid] * (1 + (t_ns - self._next[p.apid]) // self._period_ns[p.apid])
            self.generated += 1
            self.sink(p.apid, t_ns, pkt)

    def _switches_from_gpio(self) -> dict[str, bool]:
        out = {}
        for ld in self.hw.loads:
            if ld.gpio is None:
                out[ld.name] = True
            else:
                word = self.readings.gpio_outputs.get(ld.gpio)
                out[ld.name] = bool(word is not None and word >> ld.pin & 1)
        return out

    def values(self) -> dict[str, Any]:
        """Every field value the readings give, by dictionary field name."""
        r = self.readings
        v: dict[str, Any] = {}
        battery = r.rail("battery")
        array = r.rail("array")
        bus_v = battery.bus_voltage_v if battery else next(
            (x.bus_voltage_v for x in r.rails.values() if x is not None), 0.0)
        v["bus_voltage_v"] = bus_v
        v["array_power_w"] = array.power_w if array else 0.0
        total = 0.0
        for ld in self.hw.loads:
            rail = r.rail(f"load:{ld.name}")
            if rail is not None:
                v[f"{ld.name}_current_a"] = rail.current_a
                v[f"{ld.name}_power_w"] = rail.power_w
                total += rail.power_w
        v["load_power_total_w"] = total
        v["undervoltage"] = bus_v < self.undervoltage_v
        for name, on in self.switch_states().items():
            v[f"{name}_on"] = on
        if battery is not None:
            v["battery_voltage_v"] = battery.bus_voltage_v
            v["battery_current_a"] = battery.current_a
        if r.gauge is not None:
            v["cell_voltage_v"] = r.gauge.cell_voltage_v
            v["soc_pct"] = r.gauge.soc_pct
            v["charge_rate_pct_h"] = r.gauge.c_rate_pct_per_h
        v["temperature_c"] = r.temps_c.get("battery")
        v["capacity_ah"] = self.capacity_ah
        for node, t in r.temps_c.items():
            v[f"{node}_temp_c"] = t
        pl = r.payload
        if pl is not None:
            v["mode"] = pl.mode
            v["power_w"] = pl.power_w
            v["die_temp_c"] = pl.die_temp_c
            v["throttle_pct"] = 100 * pl.throttle
            v["throughput_pct"] = 100 * pl.throughput
            v["running"] = PayloadStatus.RUNNING in pl.status
            v["done"] = PayloadStatus.DONE in pl.status
            v["throttled"] = PayloadStatus.THROTTLED in pl.status
            v["shutdown"] = PayloadStatus.SHUTDOWN in pl.status
            v["unpowered"] = PayloadStatus.UNPOWERED in pl.status
            v["job_done_s"] = pl.job_done_s
        return v
