"""Fault detection, isolation and recovery for the sensors power and thermal control depend on.

Each step, after the sensors are polled, every reading is checked on its own (range, rate of
change, stuck) and against the readings that measure the same thing another way (battery voltage
from the INA226, the fuel gauge and the bus voltage every other rail monitor sees; estimated against
gauge state of charge; the power balance of array, battery and loads). Devices the drivers mark
FAILED are reprobed on a schedule that backs off.

A fault raises one event when it is confirmed (LIMIT_VIOLATION, or BUS_ERROR for a device) and one
when it clears, never one per step. `valid(name)` tells power and thermal control whether this
step's reading may be used. The fault-response table turns a sensor control depends on staying
invalid into a mode ceiling (SAFE or STANDBY); once it has been valid again for a while FDIR lifts
the ceiling and, if it was FDIR that lowered the mode, requests STANDBY (never NOMINAL).

Reading names: `rail:<rail>` ("rail:battery", "rail:array", "rail:load:payload"), `temp:<node>`,
"gauge" and "payload". Cross-check names that invalidate nothing: "battery_voltage", "soc" and
"power_balance".

Event parameters: LIMIT_VIOLATION p1 = FaultKind, p2 = 1 raised / 0 cleared, text "<name> <kind>";
BUS_ERROR p1 = bus << 8 | address, p2 = 1 failed / 0 recovered, text the device name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from operator import attrgetter
from typing import Any, Protocol

from flight.drivers.base import Device, Health
from flight.events import EventReporter
from flight.hardware import ChipKind, HardwareConfig
from flight.modes import Mode, ModeManager
from flight.params import Parameters
from flight.sensors import Readings

NS = 1_000_000_000
GAUGE = "gauge"
PAYLOAD = "payload"
_RAIL_BATTERY = "rail:battery"
_RAIL_ARRAY = "rail:array"
_failed_flag = attrgetter("_failed")  # Device.failed, without a property call each


def rail_key(rail: str) -> str:
    """Validity name of an INA226 rail reading ("battery", "array", "load:NAME")."""
    return f"rail:{rail}"


def temp_key(node: str) -> str:
    """Validity name of a thermal node's temperature reading."""
    return f"temp:{node}"


class FaultKind(IntEnum):
    """LIMIT_VIOLATION param1."""

    RANGE = 1
    RATE = 2
    STUCK = 3
    MISMATCH = 4
    BALANCE = 5
    CHARGE_TEMP = 6  # raised by the power manager
    DISCHARGE_TEMP = 7  # raised by the power manager


class ModeCeiling(Protocol):
    """A component that limits how high the spacecraft mode may go."""

    @property
    def mode_ceiling(self) -> Mode: ...


class HealthDevice(Protocol):
    """What FDIR needs of a driver (flight.drivers.base.Device satisfies it)."""

    name: str
    addr: int

    @property
    def health(self) -> Health: ...

    def reprobe(self) -> Health: ...


@dataclass(frozen=True)
class FdirConfig:
    confirm_samples: int = 3  # consecutive bad samples before a fault is raised
    clear_samples: int = 10  # consecutive good samples before it clears
    stuck_samples: int = 60  # identical samples after the reference flipped: stuck
    flip_current_a: float = 0.5  # battery current beyond +-this counts as charging / discharging
    flip_array_w: float = 20.0  # array power above this: sunlit (the other flip reference)
    temp_range_c: tuple[float, float] = (-80.0, 150.0)
    temp_rate_c_per_s: float = 5.0
    bus_rate_v_per_s: float = 5.0
    cell_range_v: tuple[float, float] = (2.0, 4.6)
    cell_rate_v_per_s: float = 0.6
    soc_rate_pct_per_s: float = 2.0
    voltage_mismatch_v: float = 0.5  # pack volts between the battery monitor and its references
    soc_mismatch: float = 0.08  # estimated against gauge state of charge (fraction)
    soc_confirm_samples: int = 60
    balance_tol_w: float = 15.0
    balance_tol_frac: float = 0.03
    balance_confirm_samples: int = 10
    response_confirm_s: float = 5.0  # a reading control needs invalid this long: mode ceiling
    recovery_s: float = 60.0  # valid again this long: ceiling lifted
    reprobe_first_s: float = 10.0
    reprobe_max_s: float = 600.0
    responses: tuple[tuple[str, Mode], ...] = (
        ("rail:battery", Mode.SAFE),
        ("temp:battery", Mode.SAFE),
        ("rail:array", Mode.STANDBY),
        ("temp:payload", Mode.STANDBY),
    )

    def __post_init__(self) -> None:
        if self.confirm_samples < 1 or self.clear_samples < 1 or self.stuck_samples < 2:
            raise ValueError("confirm_samples and clear_samples must be >= 1, stuck_samples >= 2")
        if not 0 < self.reprobe_first_s <= self.reprobe_max_s:
            raise ValueError("reprobe intervals must satisfy 0 < first <= max")


@dataclass
class _Fault:
    bad: int = 0
    good: int = 0
    active: bool = False




@dataclass
class _Reprobe:
    due_ns: int
    interval_ns: int


@dataclass
class _Response:
    ceiling: Mode
    invalid_since: int | None = None
    valid_since: int | None = None
    tripped: bool = False


@dataclass
class _Flip:
    """Sign changes of a reference quantity with hysteresis."""

    state: int = 0  # +1 / -1 / 0 unknown
    last_ns: int | None = None  # time of the last flip
    samples_since: int = 0  # steps since then

    def update(self, t_ns: int, x: float | None, thr: float, centre: float = 0.0) -> None:
        self.samples_since += 1
        if x is None:
            return
        s = 1 if x > centre + thr else -1 if x < centre - thr else 0
        if s and s != self.state:
            if self.state:
                self.last_ns = t_ns
                self.samples_since = 1  # the sample of the flip is the first after it
            self.state = s


@dataclass(slots=True)
class _Track:
    """Per reading: last accepted value (rate check) and the run of identical values (stuck check),
    with what the checks of the reading need made once: its name, its fault keys, its rate limits and
    the reference whose flips tell a stuck reading."""

    key: str
    rates: tuple[float, ...]
    flip: _Flip
    prev: tuple[float, ...] | None = None
    prev_t_ns: int = 0
    run_value: tuple[float, ...] | None = None
    run_start_ns: int = 0
    run_len: int = 0
    k_range: tuple[str, FaultKind] = ("", FaultKind.RANGE)
    k_rate: tuple[str, FaultKind] = ("", FaultKind.RATE)
    k_stuck: tuple[str, FaultKind] = ("", FaultKind.STUCK)

    def __post_init__(self) -> None:
        self.k_range = (self.key, FaultKind.RANGE)
        self.k_rate = (self.key, FaultKind.RATE)
        self.k_stuck = (self.key, FaultKind.STUCK)


class FaultDetection:
    """Component "fdir".

    hw: the hardware configuration (which readings exist, INA226 full scales, cells in series, OCV table,
    loads and their switches for the power balance); readings: the poller's `Readings` (read each step);
    devices: the drivers (`SensorPoller.devices`) whose health is watched and which are reprobed;
    params / events / modes: the parameter table, event reporter and mode manager; soc_estimate: the power
    manager's state of charge (0..1 or None) for the gauge cross-check; peers: other mode ceilings FDIR
    respects when it raises the mode. `soc_estimate` and `peers` may be set after construction.
    """

    name = "fdir"

    def __init__(self, hw: HardwareConfig, readings: Readings, devices: Sequence[HealthDevice], params: Parameters,
                 events: EventReporter, modes: ModeManager, config: FdirConfig | None = None,
                 soc_estimate: Callable[[], float | None] | None = None,
                 peers: Sequence[ModeCeiling] = ()) -> None:
        self.hw = hw
        self.readings = readings
        self.devices = devices
        self.params = params
        self.events = events
        self.modes = modes
        self.config = config if config is not None else FdirConfig()
        self.soc_estimate = soc_estimate
        self.peers: list[ModeCeiling] = list(peers)
        self.reprobes = 0
        self.balance_residual_w = 0.0
        self._max_current = {d.measures: d.max_current_a for d in hw.of_kind(ChipKind.INA226)}
        self._dev_id = {d.name: d.bus << 8 | d.address for d in hw.devices}
        # the loads of the power balance: (rail name, its validity name, switch expander, pin, nominal power)
        self._loads = [(f"load:{ld.name}", rail_key(f"load:{ld.name}"), ld.gpio, ld.pin, ld.power_w)
                       for ld in hw.loads]
        ocv = [v for _, v in hw.battery_ocv] or [3.0, 4.2]
        n = max(hw.battery_cells_series, 1)
        self._pack_range_v = (0.5 * n * min(ocv), 1.1 * n * max(ocv))
        self._devices_seen: tuple[HealthDevice, ...] | None = None
        self._drivers: list[Device[Any]] = []
        self._others: list[HealthDevice] = []
        self._clear_state()

    def _clear_state(self) -> None:
        self._confirm = self.config.confirm_samples  # what every check uses, taken from the config once
        self._stuck_samples = self.config.stuck_samples
        self._faults: dict[tuple[str, FaultKind], _Fault] = {}
        self._active: dict[str, int] = {}  # reading name -> number of its active faults (only names with some)
        self._tracks: dict[str, _Track] = {}
        self._sample_ok: dict[str, bool] = {}
        self._reprobe: dict[str, _Reprobe] = {}
        self._failed: set[str] = set()
        self._restore: Mode | None = None
        self._battery_flip = _Flip()
        self._array_flip = _Flip()
        present = self._present_names()
        self._responses = {n: _Response(m) for n, m in self.config.responses if n in present}
        self._ceiling = Mode.NOMINAL  # mode_ceiling, kept up to date as responses trip and recover
        # per-reading check tables, made on first sight of a reading (the tracks hold the flips above)
        self._rail_tracks: dict[str, tuple[_Track, float]] = {}  # rail -> (track, 0.98 x full-scale current)
        self._temp_tracks: dict[str, _Track] = {}
        cfg = self.config
        self._gauge_track = self._track(GAUGE, (cfg.cell_rate_v_per_s, cfg.soc_rate_pct_per_s), self._array_flip)

    def _track(self, key: str, rates: tuple[float, ...], flip: _Flip) -> _Track:
        tr = self._tracks[key] = _Track(key, rates, flip)
        return tr

    def _rail_track(self, rail: str) -> tuple[_Track, float]:
        flip = self._array_flip if rail == "battery" else self._battery_flip
        imax = self._max_current.get(rail, 0.0)
        entry = self._rail_tracks[rail] = (
            self._track(rail_key(rail), (self.config.bus_rate_v_per_s, float("inf")), flip),
            imax if imax <= 0 else 0.98 * imax)
        return entry

    def _temp_track(self, node: str) -> _Track:
        tr = self._temp_tracks[node] = self._track(temp_key(node), (self.config.temp_rate_c_per_s,),
                                                   self._battery_flip)
        return tr

    # ------------------------------------------------------------------ API
    def valid(self, name: str) -> bool:
        """Whether this step's reading `name` may be used: present, in range, not jumping, no active fault."""
        return self._sample_ok.get(name, False) and name not in self._active

    def active_faults(self) -> list[tuple[str, FaultKind]]:
        return sorted(k for k, f in self._faults.items() if f.active)

    @property
    def mode_ceiling(self) -> Mode:
        """The highest mode FDIR allows: SAFE / STANDBY while a response is tripped, else NOMINAL."""
        return self._ceiling

    @property
    def fault_count(self) -> int:
        return sum(f.active for f in self._faults.values())

    # ------------------------------------------------------------------ life cycle
    def reset(self, t_ns: int) -> None:
        self._clear_state()
        self.step(t_ns)

    def step(self, t_ns: int) -> None:
        self._device_health(t_ns)
        self._update_flips(t_ns)
        self._check_readings(t_ns)
        self._cross_checks(t_ns)
        self._respond(t_ns)

    # ------------------------------------------------------------------ devices
    def _device_health(self, t_ns: int) -> None:
        cfg = self.config
        failed_names = self._failed
        devices = self.devices
        if tuple(devices) != self._devices_seen:
            self._sort_devices()
        if not failed_names and not any(map(_failed_flag, self._drivers)):  # the common case: no driver
            for dev in self._others:                                          # FAILED (as its health says)
                if dev.health == Health.FAILED:
                    break
            else:
                return
        for dev in devices:
            failed = dev.health == Health.FAILED
            if not failed:
                if failed_names and dev.name in failed_names:
                    self._recovered(t_ns, dev)
                continue
            if dev.name not in failed_names:
                failed_names.add(dev.name)
                first = round(cfg.reprobe_first_s * NS)
                self._reprobe[dev.name] = _Reprobe(t_ns + first, first)
                self.events.emit(t_ns, "BUS_ERROR", "MEDIUM", self._dev_id.get(dev.name, dev.addr), 1,
                                 f"{dev.name} failed")
            else:
                rp = self._reprobe[dev.name]
                if t_ns >= rp.due_ns:
                    self.reprobes += 1
                    if dev.reprobe() == Health.FAILED:
                        rp.interval_ns = min(2 * rp.interval_ns, round(cfg.reprobe_max_s * NS))
                        rp.due_ns = t_ns + rp.interval_ns
                    else:
                        self._recovered(t_ns, dev)

    def _sort_devices(self) -> None:
        """Split the watched devices into drivers (whose FAILED flag can be read directly) and others."""
        self._devices_seen = tuple(self.devices)
        self._drivers = [d for d in self.devices if isinstance(d, Device)]
        self._others = [d for d in self.devices if not isinstance(d, Device)]

    def _recovered(self, t_ns: int, dev: HealthDevice) -> None:
        self._failed.discard(dev.name)
        self._reprobe.pop(dev.name, None)
        self.events.emit(t_ns, "BUS_ERROR", "INFO", self._dev_id.get(dev.name, dev.addr), 0,
                         f"{dev.name} recovered")

    # ------------------------------------------------------------------ single readings
    def _present_names(self) -> set[str]:
        out: set[str] = set()
        for d in self.hw.devices:
            if d.chip == ChipKind.INA226:
                out.add(rail_key(d.measures))
            elif d.chip == ChipKind.TMP117:
                out.add(temp_key(d.measures))
            elif d.chip == ChipKind.MAX17048:
                out.add(GAUGE)
            elif d.chip == ChipKind.PAYLOAD_CTRL:
                out.add(PAYLOAD)
        return out

    def _update_flips(self, t_ns: int) -> None:
        rails = self.readings.rails
        b = rails.get("battery")
        a = rails.get("array")
        cfg = self.config
        self._battery_flip.update(t_ns, b.current_a if b else None, cfg.flip_current_a)
        self._array_flip.update(t_ns, a.power_w if a else None, cfg.flip_array_w / 2, cfg.flip_array_w)

    def _check_readings(self, t_ns: int) -> None:
        cfg = self.config
        r = self.readings
        sample_ok = self._sample_ok
        check = self._check
        pack_lo, pack_hi = self._pack_range_v
        rail_tracks = self._rail_tracks
        for rail, rd in r.rails.items():
            entry = rail_tracks.get(rail)
            if entry is None:
                entry = self._rail_track(rail)
            tr, ilim = entry
            if rd is None:
                sample_ok[tr.key] = False
                continue
            v = rd.bus_voltage_v
            i = rd.current_a
            check(t_ns, tr, (v, i), pack_lo <= v <= pack_hi and (ilim <= 0 or abs(i) < ilim))
        tlo, thi = cfg.temp_range_c
        temp_tracks = self._temp_tracks
        for node, temp in r.temps_c.items():
            tr = temp_tracks.get(node) or self._temp_track(node)
            if temp is None:
                sample_ok[tr.key] = False
                continue
            check(t_ns, tr, (temp,), tlo <= temp <= thi)
        g = r.gauge
        if g is None:
            sample_ok[GAUGE] = False
        else:
            clo, chi = cfg.cell_range_v
            cell = g.cell_voltage_v
            soc = g.soc_pct
            check(t_ns, self._gauge_track, (cell, soc), clo <= cell <= chi and 0.0 <= soc <= 105.0)
        p = r.payload
        if p is None:
            sample_ok[PAYLOAD] = False
        else:
            sample_ok[PAYLOAD] = tlo <= p.die_temp_c <= thi

    def _sample(self, key: str, ok: bool | None) -> None:
        self._sample_ok[key] = bool(ok)

    def _check(self, t_ns: int, tr: _Track, value: tuple[float, ...], in_range: bool) -> None:
        rate_ok = True
        if in_range:
            prev = tr.prev
            if prev is not None:
                dt = t_ns - tr.prev_t_ns
                dt_s = dt / NS if dt >= NS else 1.0  # max(dt / NS, 1.0)
                rates = tr.rates
                n = len(value)
                if n == 2:
                    rate_ok = (abs(value[0] - prev[0]) <= rates[0] * dt_s
                               and abs(value[1] - prev[1]) <= rates[1] * dt_s)
                elif n == 1 and len(rates) == 1:
                    rate_ok = abs(value[0] - prev[0]) <= rates[0] * dt_s
                else:
                    rate_ok = all(abs(x - p) <= lim * dt_s for x, p, lim in zip(value, prev, rates, strict=True))
            tr.prev = value
            tr.prev_t_ns = t_ns
        # stuck: the same value since before the reference flipped, and for stuck_samples after it
        if value == tr.run_value:
            tr.run_len += 1
        else:
            tr.run_value = value
            tr.run_start_ns = t_ns
            tr.run_len = 1
        flip = tr.flip
        last = flip.last_ns
        stuck = last is not None and tr.run_start_ns < last and flip.samples_since >= self._stuck_samples
        if self._faults:
            faults = self._faults
            if not in_range or tr.k_range in faults:
                self._fault_at(t_ns, tr.k_range, tr.key, FaultKind.RANGE, not in_range, self._confirm, None)
            if not rate_ok or tr.k_rate in faults:
                self._fault_at(t_ns, tr.k_rate, tr.key, FaultKind.RATE, not rate_ok, self._confirm, None)
            if stuck or tr.k_stuck in faults:
                self._fault_at(t_ns, tr.k_stuck, tr.key, FaultKind.STUCK, stuck, 1, None)
            self._sample_ok[tr.key] = in_range and rate_ok and not stuck
        elif in_range and rate_ok and not stuck:  # no fault pending anywhere: nothing to count or clear
            self._sample_ok[tr.key] = True
        else:
            if not in_range:
                self._fault_at(t_ns, tr.k_range, tr.key, FaultKind.RANGE, True, self._confirm, None)
            if not rate_ok:
                self._fault_at(t_ns, tr.k_rate, tr.key, FaultKind.RATE, True, self._confirm, None)
            if stuck:
                self._fault_at(t_ns, tr.k_stuck, tr.key, FaultKind.STUCK, True, 1, None)
            self._sample_ok[tr.key] = False

    def _fault(self, t_ns: int, key: str, kind: FaultKind, bad: bool, confirm: int | None = None,
               clear: int | None = None) -> None:
        fk = (key, kind)
        if bad or fk in self._faults:
            self._fault_at(t_ns, fk, key, kind, bad, confirm, clear)

    def _fault_at(self, t_ns: int, fk: tuple[str, FaultKind], key: str, kind: FaultKind, bad: bool,
                  confirm: int | None, clear: int | None) -> None:
        f = self._faults.get(fk)
        if f is None:
            if not bad:
                return
            f = self._faults[fk] = _Fault()
        if bad:
            f.bad += 1
            f.good = 0
            if not f.active and f.bad >= (confirm or self.config.confirm_samples):
                f.active = True
                self._active[key] = self._active.get(key, 0) + 1
                self.events.emit(t_ns, "LIMIT_VIOLATION", "MEDIUM", int(kind), 1, f"{key} {kind.name.lower()}")
        elif not f.active:
            # a run of bad samples ended short of confirmation: forget it (a new bad sample starts a new
            # entry at bad 1, good 0, as the kept one would be); the common case costs one lookup
            del self._faults[fk]
        else:
            f.good += 1
            f.bad = 0
            if f.good >= (clear or self.config.clear_samples):
                f.active = False
                del self._faults[fk]  # cleared: forgotten as above
                left = self._active[key] - 1
                if left:
                    self._active[key] = left
                else:
                    del self._active[key]
                self.events.emit(t_ns, "LIMIT_VIOLATION", "INFO", int(kind), 0,
                                 f"{key} {kind.name.lower()} ok")

    # ------------------------------------------------------------------ cross-checks
    def _ok(self, key: str) -> bool:
        return self._sample_ok.get(key, False)

    def _cross_checks(self, t_ns: int) -> None:
        cfg = self.config
        r = self.readings
        sample_ok = self._sample_ok
        n = max(self.hw.battery_cells_series, 1)
        rail_tracks = self._rail_tracks
        others: list[float] = []
        for k, rd in r.rails.items():
            if k != "battery" and rd is not None:
                entry = rail_tracks.get(k)
                if sample_ok.get(entry[0].key if entry is not None else rail_key(k), False):
                    others.append(rd.bus_voltage_v)
        others.sort()
        bus_ref = others[len(others) // 2] if others else None
        batt = r.rails.get("battery")
        batt_v = batt.bus_voltage_v if batt is not None and sample_ok.get(_RAIL_BATTERY, False) else None
        g = r.gauge
        gauge_v = n * g.cell_voltage_v if g is not None and sample_ok.get(GAUGE, False) else None
        # the battery monitor against the bus the other monitors see (isolates it), else against the gauge
        if batt_v is not None and bus_ref is not None:
            bad = abs(batt_v - bus_ref) > cfg.voltage_mismatch_v
            self._fault(t_ns, _RAIL_BATTERY, FaultKind.MISMATCH, bad)
            if bad:
                sample_ok[_RAIL_BATTERY] = False
                batt_v = None
        ref = batt_v if batt_v is not None else bus_ref
        if gauge_v is not None and ref is not None:
            bad = abs(gauge_v - ref) > cfg.voltage_mismatch_v
            if bus_ref is None:  # two sources only: report, cannot isolate
                self._fault(t_ns, "battery_voltage", FaultKind.MISMATCH, bad)
            else:
                self._fault(t_ns, GAUGE, FaultKind.MISMATCH, bad)
                if bad:
                    sample_ok[GAUGE] = False
        # estimated against gauge state of charge
        est = self.soc_estimate() if self.soc_estimate is not None else None
        if est is not None and g is not None and sample_ok.get(GAUGE, False):
            self._fault(t_ns, "soc", FaultKind.MISMATCH, abs(est - g.soc_pct / 100.0) > cfg.soc_mismatch,
                        confirm=cfg.soc_confirm_samples)
        # power balance: array in = battery in + loads (unmetered loads at their nominal power when on)
        self._power_balance(t_ns)

    def _power_balance(self, t_ns: int) -> None:
        cfg = self.config
        r = self.readings
        rails = r.rails
        sample_ok = self._sample_ok
        batt, arr = rails.get("battery"), rails.get("array")
        if batt is None or arr is None or not (sample_ok.get(_RAIL_BATTERY, False)
                                               and sample_ok.get(_RAIL_ARRAY, False)):
            return
        loads_w = 0.0
        for name, valid_key, gpio, pin, power_w in self._loads:
            if name in rails:
                rd = rails[name]
                if rd is None or not sample_ok.get(valid_key, False):
                    return
                loads_w += rd.power_w
            elif gpio is None:
                loads_w += power_w
            else:
                word = r.gpio_outputs.get(gpio)
                if word is None:
                    return
                if word >> pin & 1:
                    loads_w += power_w
        batt_w = batt.bus_voltage_v * batt.current_a
        residual = arr.power_w - batt_w - loads_w
        tol = cfg.balance_tol_w + cfg.balance_tol_frac * (arr.power_w + abs(batt_w) + loads_w)
        self._fault(t_ns, "power_balance", FaultKind.BALANCE, abs(residual) > tol, confirm=cfg.balance_confirm_samples)
        self.balance_residual_w = residual

    # ------------------------------------------------------------------ responses
    def _respond(self, t_ns: int) -> None:
        cfg = self.config
        sample_ok = self._sample_ok
        active = self._active
        changed = False
        for name, resp in self._responses.items():
            if sample_ok.get(name, False) and name not in active:
                resp.invalid_since = None
                if resp.valid_since is None:
                    resp.valid_since = t_ns
                if resp.tripped and t_ns - resp.valid_since >= cfg.recovery_s * NS:
                    resp.tripped = False
                    changed = True
            else:
                resp.valid_since = None
                if resp.invalid_since is None:
                    resp.invalid_since = t_ns
                if not resp.tripped and t_ns - resp.invalid_since >= cfg.response_confirm_s * NS:
                    resp.tripped = True
                    changed = True
        if changed:
            self._ceiling = min((r.ceiling for r in self._responses.values() if r.tripped), default=Mode.NOMINAL)
        ceiling = self._ceiling
        mode = self.modes.mode
        if mode > ceiling:
            if self._restore is None:
                self._restore = mode
            why = next((n for n, r in self._responses.items() if r.tripped and r.ceiling == ceiling), "")
            self.modes.request(ceiling, t_ns, f"fdir: {why}")
        elif self._restore is not None:
            goal = min(Mode.STANDBY, self._restore)
            allowed = min([ceiling, *(p.mode_ceiling for p in self.peers)])
            if mode < goal and allowed > mode:
                self.modes.request(Mode(mode + 1), t_ns, "fdir: sensors ok")
            if self.modes.mode >= goal:
                self._restore = None
