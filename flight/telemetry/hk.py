"""Housekeeping: the latest sensor readings encoded into the dictionary's
housekeeping packets at each packet's period, time-stamped in CUC.

Fields are filled by name: `<load>_current_a`, `<load>_power_w`, `<load>_on`
from the rail monitors and switch states, `<node>_temp_c` from the
temperature sensors; then whatever the value providers (Housekeeping.providers, e.g. Uplink.hk_values for
uplink_hk) give, merged in order. A field with no source (a load or node the spacecraft
lacks, or a sensor that failed) goes out as zero / false; values beyond a
field's range are clamped to it (the encoder refuses them otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flight.dictionary import Dictionary, PacketDef, PacketKind
from flight.dictionary.fields import FieldType
from flight.dictionary.packet import _FINE_SHIFT, encoder_source
from flight.drivers.payload_ctrl import PayloadStatus
from flight.hardware import HardwareConfig
from flight.sensors import Readings

NS = 1_000_000_000
_RUNNING = int(PayloadStatus.RUNNING)
_DONE = int(PayloadStatus.DONE)
_THROTTLED = int(PayloadStatus.THROTTLED)
_SHUTDOWN = int(PayloadStatus.SHUTDOWN)
_UNPOWERED = int(PayloadStatus.UNPOWERED)

PacketSink = Callable[[int, int, bytes], None]  # (apid, t_ns, packet)
BatchSink = Callable[[list[tuple[int, int, bytes]]], None]  # the packets of one step, (apid, t_ns, packet) each


Clamper = Callable[[dict[str, Any]], dict[str, Any]]
PacketMaker = Callable[[dict[str, Any], int, int], bytes | None]  # (values, seq count, CUC t_ns) -> packet
ValueProvider = Callable[[], Mapping[str, Any]]  # more field values by name, asked each time values are made


def compile_clamp(pdef: PacketDef) -> Clamper:
    """The field values of one packet from any values by name, compiled once per packet: each field's
    default and clamp range (from FieldDef.eng_range / raw_min / raw_max) are constants of the code.
    A bool goes out as bool(v); an enum as v, or its first label; text as str(v), or ""; a number as
    float(v), or 0.0, clamped to the calibrated range, rounded and clamped to the raw range for an
    uncalibrated integer (min/max semantics kept, so NaN passes through as before)."""
    consts: dict[str, Any] = {}
    lines = ["def _clamp(values):", "    g = values.get", "    out = {}"]
    for k, f in enumerate(pdef.fields):
        if f.type == FieldType.SPARE:
            continue
        key = repr(f.name)
        if f.type == FieldType.BOOL:
            lines.append(f"    out[{key}] = bool(g({key}))")
        elif f.type == FieldType.ENUM:
            consts[f"E{k}"] = f.calibration.labels[0][1]
            lines += [f"    v = g({key})", f"    out[{key}] = v if v is not None else E{k}"]
        elif f.type == FieldType.TEXT:
            lines += [f"    v = g({key})", f"    out[{key}] = '' if v is None else str(v)"]
        else:
            lines += [f"    v = g({key})", "    x = 0.0 if v is None else float(v)"]
            rng = f.eng_range()
            if rng is not None:
                consts[f"LO{k}"], consts[f"HI{k}"] = rng
                # min(max(x, lo), hi), branch for branch
                lines += [f"    if x < LO{k}:", f"        x = LO{k}", f"    if x > HI{k}:", f"        x = HI{k}"]
            elif f.type in (FieldType.UINT, FieldType.INT):
                lines.append(f"    x = int(min(max(round(x), {f.raw_min}), {f.raw_max}))")
            lines.append(f"    out[{key}] = x")
    lines.append("    return out")
    ns: dict[str, Any] = dict(consts)
    exec(compile("\n".join(lines) + "\n", f"<clamp {pdef.name}>", "exec"), ns)
    fn: Clamper = ns["_clamp"]
    return fn


def _literal(value: float, name: str) -> str:
    """A float constant as source: its repr (which reads back as the very same float) when finite, else
    the name it is bound to."""
    return repr(value) if type(value) is float and math.isfinite(value) else name


def _clamp_lines(pdef: PacketDef, consts: dict[str, Any]) -> list[str]:
    """compile_clamp's conversion of each non-spare field k, into the variable x<k> instead of a dict."""
    lines = []
    for k, f in enumerate(pdef.fields):
        if f.type == FieldType.SPARE:
            continue
        key, x = repr(f.name), f"x{k}"
        if f.type == FieldType.BOOL:
            lines.append(f"{x} = bool(g({key}))")
        elif f.type == FieldType.ENUM:
            consts[f"E{k}"] = f.calibration.labels[0][1]
            lines += [f"{x} = g({key})", f"if {x} is None:", f"    {x} = E{k}"]
        elif f.type == FieldType.TEXT:
            lines += [f"{x} = g({key})", f"{x} = '' if {x} is None else str({x})"]
        else:
            rng = f.eng_range()
            if rng is None and f.type in (FieldType.UINT, FieldType.INT):
                # an int in the raw range that a float holds exactly comes out as itself: as it is
                lo, hi = max(f.raw_min, -(2**53)), min(f.raw_max, 2**53)
                lines += [f"{x} = g({key})", f"if type({x}) is not int or not {lo} <= {x} <= {hi}:",
                          f"    {x} = 0.0 if {x} is None else float({x})",
                          f"    {x} = int(min(max(round({x}), {f.raw_min}), {f.raw_max}))"]
                continue
            lines += [f"{x} = g({key})", f"if type({x}) is not float:", f"    {x} = 0.0 if {x} is None else float({x})"]
            if rng is not None:
                consts[f"LO{k}"], consts[f"HI{k}"] = rng
                lo_s, hi_s = (_literal(c, n) for c, n in ((rng[0], f"LO{k}"), (rng[1], f"HI{k}")))
                lines += [f"if {x} < {lo_s}:", f"    {x} = {lo_s}", f"if {x} > {hi_s}:", f"    {x} = {hi_s}"]
    return lines


def compile_maker(pdef: PacketDef) -> PacketMaker:
    """`pdef.encode(compile_clamp(pdef)(values), seq_count, t_ns)` in one compiled function, without the
    dictionary of clamped values in between: each field clamped as compile_clamp does, then encoded as
    PacketDef's compiled encoder does. It returns None where that encoder would hand over to the generic
    one, and also when anything raises: the caller then goes the long way, which gives the same packet,
    or the same error."""
    # a calibrated number is a float once clamped (float(v), or a float bound)
    floats = frozenset(k for k, f in enumerate(pdef.fields)
                       if f.type in (FieldType.UINT, FieldType.INT, FieldType.FLOAT) and f.eng_range() is not None)
    consts, body, tail = encoder_source(pdef, names="x", floats=floats)
    clamp = _clamp_lines(pdef, consts)
    src = ["def _make(values, seq_count, t_ns):",
           "    if t_ns < 0:",
           "        return None",
           f"    ticks = (t_ns << {_FINE_SHIFT}) // 1_000_000_000",
           "    if ticks >= _TICKS:",
           "        return None",
           "    msg_counter = seq_count & 0xFFFF",
           "    destination = 0",
           "    g = values.get",
           "    try:"]
    src += ["        " + line for line in clamp + body]
    src += ["    except Exception:", "        return None"]
    src += ["    " + line for line in tail]
    ns: dict[str, Any] = dict(consts)
    exec(compile("\n".join(src) + "\n", f"<hk {pdef.name}>", "exec"), ns)
    fn: PacketMaker = ns["_make"]
    return fn


class Housekeeping:
    """Component: builds every housekeeping packet of the dictionary at its period."""

    name = "housekeeping"

    def __init__(self, dictionary: Dictionary, hw: HardwareConfig, readings: Readings, sink: PacketSink,
                 undervoltage_v: float = 0.0, capacity_ah: float = 0.0, cuc_offset_ns: int = 0,
                 batch_sink: BatchSink | None = None) -> None:
        self.hw = hw
        self.readings = readings
        self.sink = sink
        self.batch_sink = batch_sink  # if given, a step's packets go there together, in order, instead of to sink
        self.undervoltage_v = undervoltage_v
        self.capacity_ah = capacity_ah
        self.cuc_offset_ns = cuc_offset_ns  # mission time 0 on the CUC time scale (TAI since 1958)
        self.packets = [p for p in dictionary.packets if p.kind == PacketKind.HOUSEKEEPING and p.period_s]
        self._clampers = {p.apid: compile_clamp(p) for p in self.packets}
        # the field names values() fills, made once
        self._load_keys = [(f"load:{ld.name}", f"{ld.name}_current_a", f"{ld.name}_power_w") for ld in hw.loads]
        self._switch_keys: dict[str, str] = {}
        self._temp_keys: dict[str, str] = {}
        self._period_ns = {p.apid: round((p.period_s or 1.0) * NS) for p in self.packets}
        self._next: dict[int, int] = {}
        self._seq: dict[int, int] = {}
        self.generated = 0
        self.switch_states: Callable[[], dict[str, bool]] = self._switches_from_gpio
        # other components' fields (e.g. Uplink.hk_values): each mapping is merged into values(), in order,
        # after the readings' fields (so a provider's name wins)
        self.providers: list[ValueProvider] = []
        # the names a provider gives, where declared (add_provider): a step asks it only when a packet it makes
        # has one of those fields (its values could change no other); an undeclared provider is always asked
        self.provider_fields: dict[ValueProvider, frozenset[str]] = {}
        self._fields = {p.apid: frozenset(f.name for f in p.fields) for p in self.packets}
        self._due_fields: dict[tuple[int, ...], frozenset[str]] = {}  # the fields of a set of due packets
        # what step() needs per packet, made once: (packet, apid, clamper, period)
        self._plan = [(p, p.apid, self._clampers[p.apid], compile_maker(p), self._period_ns[p.apid])
                      for p in self.packets]
        # the default switch states written straight into the values: (field name, expander or None, pin)
        self._gpio_switches = [(f"{ld.name}_on", ld.gpio, ld.pin) for ld in hw.loads]

    def reset(self, t_ns: int) -> None:
        self._next = {p.apid: t_ns for p in self.packets}
        self._seq = {p.apid: 0 for p in self.packets}

    def add_provider(self, provider: ValueProvider, fields: Iterable[str] | None = None) -> None:
        """Append a value provider; `fields`, if given, are every name it may give (see provider_fields)."""
        self.providers.append(provider)
        if fields is not None:
            self.provider_fields[provider] = frozenset(fields)

    def step(self, t_ns: int) -> None:
        nxt = self._next
        due_now = [entry for entry in self._plan if t_ns >= nxt[entry[1]]]
        if not due_now:
            return
        values = self._values_for(tuple(entry[1] for entry in due_now))
        seq = self._seq
        made: list[tuple[int, int, bytes]] | None = [] if self.batch_sink is not None else None
        for p, apid, clamp, make, period_ns in due_now:
            due = nxt[apid]
            n = seq[apid]
            t_cuc = t_ns + self.cuc_offset_ns
            pkt = make(values, n, t_cuc)
            if pkt is None:  # what the compiled maker does not take: the long way, same packet or error
                pkt = p.encode(clamp(values), n, t_cuc)
            seq[apid] = (n + 1) % 16384
            nxt[apid] = due + period_ns * (1 + (t_ns - due) // period_ns)
            self.generated += 1
            if made is None:
                self.sink(apid, t_ns, pkt)
            else:
                made.append((apid, t_ns, pkt))
        if made and self.batch_sink is not None:
            self.batch_sink(made)

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
        """Every field value the readings and the providers give, by dictionary field name."""
        v = self._reading_values()
        for provider in self.providers:
            v.update(provider())
        return v

    def _values_for(self, apids: tuple[int, ...]) -> dict[str, Any]:
        """values() as far as the packets `apids` can tell: a provider whose declared names are none of
        their fields is not asked."""
        v = self._reading_values()
        declared = self.provider_fields
        fields: frozenset[str] | None = None
        for provider in self.providers:
            own = declared.get(provider) if declared else None
            if own is not None:
                if fields is None:
                    fields = self._due_fields.get(apids)
                    if fields is None:
                        fields = self._due_fields[apids] = frozenset().union(*(self._fields[a] for a in apids))
                if own.isdisjoint(fields):
                    continue
            v.update(provider())
        return v

    def _reading_values(self) -> dict[str, Any]:
        """Every field value the readings give, by dictionary field name."""
        r = self.readings
        rails = r.rails
        v: dict[str, Any] = {}
        battery = rails.get("battery")
        array = rails.get("array")
        bus_v = battery.bus_voltage_v if battery else next(
            (x.bus_voltage_v for x in rails.values() if x is not None), 0.0)
        v["bus_voltage_v"] = bus_v
        v["array_power_w"] = array.power_w if array else 0.0
        total = 0.0
        for rail_key, current_key, power_key in self._load_keys:
            rail = rails.get(rail_key)
            if rail is not None:
                v[current_key] = rail.current_a
                v[power_key] = rail.power_w
                total += rail.power_w
        v["load_power_total_w"] = total
        v["undervoltage"] = bus_v < self.undervoltage_v
        states = self.switch_states
        if getattr(states, "__func__", None) is Housekeeping._switches_from_gpio and \
                getattr(states, "__self__", None) is self:
            # the default: what _switches_from_gpio() gives, without the dictionary in between
            outputs = r.gpio_outputs
            for key, gpio, pin in self._gpio_switches:
                if gpio is None:
                    v[key] = True
                else:
                    word = outputs.get(gpio)
                    v[key] = bool(word is not None and word >> pin & 1)
        else:
            switch_keys = self._switch_keys
            for name, on in states().items():
                key = switch_keys.get(name)
                if key is None:
                    key = switch_keys[name] = f"{name}_on"
                v[key] = on
        if battery is not None:
            v["battery_voltage_v"] = battery.bus_voltage_v
            v["battery_current_a"] = battery.current_a
        if r.gauge is not None:
            v["cell_voltage_v"] = r.gauge.cell_voltage_v
            v["soc_pct"] = r.gauge.soc_pct
            v["charge_rate_pct_h"] = r.gauge.c_rate_pct_per_h
        v["temperature_c"] = r.temps_c.get("battery")
        v["capacity_ah"] = self.capacity_ah
        temp_keys = self._temp_keys
        for node, t in r.temps_c.items():
            key = temp_keys.get(node)
            if key is None:
                key = temp_keys[node] = f"{node}_temp_c"
            v[key] = t
        pl = r.payload
        if pl is not None:
            v["mode"] = pl.mode
            v["power_w"] = pl.power_w
            v["die_temp_c"] = pl.die_temp_c
            v["throttle_pct"] = 100 * pl.throttle
            v["throughput_pct"] = 100 * pl.throughput
            status = int(pl.status)  # the flags tested on the plain integer (single bits: same as `in`)
            v["running"] = status & _RUNNING == _RUNNING
            v["done"] = status & _DONE == _DONE
            v["throttled"] = status & _THROTTLED == _THROTTLED
            v["shutdown"] = status & _SHUTDOWN == _SHUTDOWN
            v["unpowered"] = status & _UNPOWERED == _UNPOWERED
            v["job_done_s"] = pl.job_done_s
        return v
