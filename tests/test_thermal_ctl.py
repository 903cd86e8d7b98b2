"""Thermal control (flight/thermal.py): heater thermostats with hysteresis, the failed-sensor
fallback duty, switch failures, stuck-on heater detection and survival limits; unit tests on
fake readings and switches, closed-loop tests against the emulator."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from emulator import Emulator, load
from emulator.faults import HeaterStuckOn
from emulator.scenario import Scenario
from flight.dictionary import load_dictionary
from flight.events import Event, EventReporter
from flight.hardware import HardwareConfig
from flight.modes import Mode, ModeManager
from flight.params import ParamDef, Parameters
from flight.sensors import Readings, SensorPoller
from flight.switches import LoadSwitches
from flight.thermal import ThermalConfig, ThermalControl
from skyrack.sil import hardware_from_scenario

NS = 1_000_000_000


def _sink(apid: int, t_ns: int, pkt: bytes) -> None:
    pass


@pytest.fixture(scope="module")
def hw() -> HardwareConfig:
    return hardware_from_scenario(load("gpu-node"))


class FakeSwitches:
    def __init__(self, hw: HardwareConfig) -> None:
        self.state = {ld.name: False for ld in hw.loads}
        self.wired = {ld.name: ld.gpio is not None for ld in hw.loads}
        self.broken: set[str] = set()
        self.commands: list[tuple[str, bool]] = []

    def set(self, load: str, on: bool) -> bool:
        if load in self.broken:
            return False
        if self.state[load] != on:
            self.commands.append((load, on))
        self.state[load] = on
        return True

    def is_on(self, load: str) -> bool:
        return self.state[load]

    def switchable(self, load: str) -> bool:
        return self.wired[load]


@dataclass
class Unit:
    tc: ThermalControl
    readings: Readings
    switches: FakeSwitches
    events: EventReporter
    modes: ModeManager
    params: Parameters

    def step(self, t_s: int, **temps: float | None) -> None:
        self.readings.t_ns = t_s * NS
        self.readings.temps_c.update(temps)
        self.tc.step(t_s * NS)

    def ids(self) -> list[str]:
        return [e.event_id for e in self.events.log if e.event_id != "MODE_CHANGE"]


def make_unit(hw: HardwareConfig, config: ThermalConfig | None = None, **temps: float | None) -> Unit:
    readings = Readings()
    readings.temps_c = {n: 20.0 for n in hw.nodes}
    readings.temps_c.update(temps)
    sw = FakeSwitches(hw)
    ev = EventReporter(load_dictionary(), _sink)
    modes = ModeManager(ev, Mode.NOMINAL)
    params = Parameters()
    tc = ThermalControl(hw, readings, sw, params, modes, ev, config)
    tc.reset(0)
    return Unit(tc, readings, sw, ev, modes, params)


# ---------------------------------------------------------------------------- unit tests
def test_thermostat_hysteresis_and_events(hw: HardwareConfig) -> None:
    u = make_unit(hw, battery=12.0)
    k = [ld.name for ld in hw.loads].index("battery_heater")
    seq = [(1, 8.0, False), (2, 4.9, True), (3, 7.0, True), (4, 10.0, True), (5, 10.1, False), (6, 6.0, False),
           (7, 5.0, False), (8, 4.0, True)]
    for t, temp, on in seq:
        u.step(t, battery=temp)
        assert u.switches.is_on("battery_heater") is on, (t, temp)
        assert u.tc.heater_on("battery_heater") is on
    evs = [e for e in u.events.log if e.event_id.startswith("HEATER")]
    assert [(e.event_id, e.param1, e.param2, e.t_ns // NS) for e in evs] == [
        ("HEATER_ON", k, 490, 2), ("HEATER_OFF", k, 1010, 5), ("HEATER_ON", k, 400, 8)]
    # the avionics heater followed its own points (-10 / -5 degC): it stayed off at 20 degC
    assert not u.switches.is_on("avionics_heater")


def test_set_points_are_read_from_the_parameters_each_step(hw: HardwareConfig) -> None:
    u = make_unit(hw, battery=12.0)
    u.step(1, battery=12.0)
    assert not u.switches.is_on("battery_heater")
    u.params.set("battery_heater_on_c", 15.0)
    u.params.set("battery_heater_off_c", 20.0)
    u.step(2, battery=12.0)
    assert u.switches.is_on("battery_heater")


def test_bumpless_reset_takes_the_switch_state(hw: HardwareConfig) -> None:
    u = make_unit(hw, battery=7.0)
    u.switches.state["battery_heater"] = True
    u.tc.reset(0)
    u.step(1, battery=7.0)  # in the band: an already-on heater stays on, with no event
    assert u.switches.is_on("battery_heater") and u.ids() == []


def test_failed_sensor_holds_then_runs_the_fallback_duty(hw: HardwareConfig) -> None:
    cfg = ThermalConfig(fallback_after_s=10.0, fallback_duty=0.5, fallback_period_s=100.0)
    u = make_unit(hw, cfg, battery=12.0)
    u.step(1, battery=12.0)
    on: list[bool] = []
    for t in range(2, 300):
        u.step(t, battery=None)
        on.append(u.switches.is_on("battery_heater"))
    assert not any(on[:9])  # held the last command (off) through a short gap
    duty = on[9:]  # from t = 11 s (10 s after the last valid reading): ON for 50 s, OFF for 50 s, ...
    assert duty[:50] == [True] * 50 and duty[50:100] == [False] * 50 and duty[100:150] == [True] * 50
    assert u.tc.in_fallback("battery_heater")
    fb = [e for e in u.events.log if e.text == "fallback duty"]
    assert fb and fb[0].event_id == "HEATER_ON" and fb[0].param2 == 0
    u.step(300, battery=12.0)  # a valid reading: back on the thermostat at once
    assert not u.switches.is_on("battery_heater") and not u.tc.in_fallback("battery_heater")


def test_a_switch_the_expander_refuses_is_reported_once(hw: HardwareConfig) -> None:
    u = make_unit(hw, battery=12.0)
    u.switches.broken.add("battery_heater")
    for t in range(1, 6):
        u.step(t, battery=2.0)
    lv = [e for e in u.events.log if e.event_id == "LIMIT_VIOLATION"]
    assert len(lv) == 1 and lv[0].severity == "MEDIUM" and lv[0].text == "battery_heater sw fail"
    assert u.tc.switch_failures == 5
    u.switches.broken.clear()
    u.step(6, battery=2.0)
    assert u.switches.is_on("battery_heater")


def _ramp(u: Unit, t0: int, t1: int, c0: float, rate_c_per_s: float) -> list[Event]:
    for t in range(t0, t1):
        u.step(t, battery=c0 + (t - t0) * rate_c_per_s)
    return [e for e in u.events.log if e.event_id == "LIMIT_VIOLATION"]


def test_stuck_on_heater_is_detected_after_the_heater_is_switched_off(hw: HardwareConfig) -> None:
    cfg = ThermalConfig(stuck_margin_c=3.0, stuck_min_rise_c=0.2, stuck_window_s=300.0, stuck_persist_s=60.0)
    u = make_unit(hw, cfg, battery=4.0)
    u.step(1, battery=4.0)
    assert u.switches.is_on("battery_heater")
    # commanded off at 10.1 degC, the node keeps warming at 3 mK/s: 13 degC after ~970 s
    lv = _ramp(u, 2, 3000, 10.1, 0.003)
    assert not u.switches.is_on("battery_heater")
    assert len(lv) == 1 and lv[0].text == "battery_heater stuck on" and lv[0].severity == "MEDIUM"
    t_detect = lv[0].t_ns / NS
    assert 969 + 60 <= t_detect <= 969 + 62  # above 13 degC from t = 969 s, then held for 60 s
    assert u.tc.stuck("battery_heater") and u.modes.mode == Mode.NOMINAL  # no SAFE below the survival limit
    u.step(3000, battery=9.0)  # back below its off point: re-armed
    assert not u.tc.stuck("battery_heater")


def test_a_node_warm_from_boot_or_cooling_is_not_suspected(hw: HardwareConfig) -> None:
    u = make_unit(hw, ThermalConfig(stuck_persist_s=10.0), battery=20.0)
    assert _ramp(u, 1, 1500, 20.0, 0.003) == []  # never switched on: a warm environment, not a heater
    u2 = make_unit(hw, ThermalConfig(stuck_persist_s=10.0), battery=4.0)
    u2.step(1, battery=4.0)
    u2.step(2, battery=10.5)
    assert _ramp(u2, 3, 1500, 14.0, -0.001) == []  # above the margin but cooling


@pytest.mark.parametrize(("node", "temp", "trips"), [
    ("battery", -40.5, True), ("battery", 85.5, True), ("payload", 86.0, True), ("battery", -39.5, False),
    ("array", -80.0, False), ("array", 70.0, False), ("array", -101.0, True), ("array", 101.0, True),
])
def test_survival_limits(hw: HardwareConfig, node: str, temp: float, trips: bool) -> None:
    u = make_unit(hw, ThermalConfig(survival_persist_s=3.0))
    for t in range(1, 10):
        u.step(t, **{node: temp})
    lv = [e for e in u.events.log if e.event_id == "LIMIT_VIOLATION"]
    if not trips:
        assert lv == [] and u.modes.mode == Mode.NOMINAL
        return
    assert len(lv) == 1 and lv[0].severity == "HIGH"
    assert lv[0].t_ns == 4 * NS  # held for 3 s
    assert lv[0].param1 == hw.nodes.index(node) and lv[0].param2 == round(temp * 100)
    assert u.modes.mode == Mode.SAFE


def test_survival_ignores_glitches_and_failed_sensors_and_rearms(hw: HardwareConfig) -> None:
    u = make_unit(hw, ThermalConfig(survival_persist_s=3.0, survival_clear_c=2.0))
    for t in range(1, 20):
        u.step(t, avionics=90.0 if t % 3 == 0 else 20.0, battery=None)  # single-sample spikes, no battery reading
    assert "LIMIT_VIOLATION" not in u.ids() and u.modes.mode == Mode.NOMINAL
    assert u.tc.limits_c("avionics") == (-40.0, 85.0) and u.tc.limits_c("array") == (-100.0, 100.0)
    for t in range(20, 30):
        u.step(t, avionics=86.0)
    for t in range(30, 40):
        u.step(t, avionics=84.0)  # inside, but not by the clear margin: still latched
    u.modes.request(Mode.STANDBY, 40 * NS, "test")
    for t in range(40, 50):
        u.step(t, avionics=82.0)  # cleared
    for t in range(50, 60):
        u.step(t, avionics=86.0)
    assert [i for i in u.ids() if i == "LIMIT_VIOLATION"] == ["LIMIT_VIOLATION"] * 2
    assert Mode(u.modes.mode) == Mode.SAFE


def test_a_heater_without_its_parameters_is_a_configuration_error(hw: HardwareConfig) -> None:
    defs = tuple(d for d in Parameters().defs.values() if not d.name.startswith("avionics_heater"))
    ev = EventReporter(load_dictionary(), _sink)
    with pytest.raises(ValueError, match="avionics_heater_on_c and avionics_heater_off_c"):
        ThermalControl(hw, Readings(), FakeSwitches(hw), Parameters(defs), ModeManager(ev), ev)
    extra = (*defs, ParamDef("avionics_heater_on_c", 0.0, -40.0, 40.0), ParamDef("avionics_heater_off_c", 3.0, -40, 45))
    ThermalControl(hw, Readings(), FakeSwitches(hw), Parameters(extra), ModeManager(ev), ev)
    with pytest.raises(ValueError, match="fallback_duty"):
        ThermalConfig(fallback_duty=1.5)


# ---------------------------------------------------------------------------- closed loop
def with_initial_temps(sc: Scenario, **temps_c: float) -> Scenario:
    return replace(sc, nodes=tuple(replace(n, initial_c=temps_c.get(n.name, n.initial_c)) for n in sc.nodes))


@dataclass
class Loop:
    emu: Emulator
    sensors: SensorPoller
    tc: ThermalControl
    events: EventReporter
    modes: ModeManager
    t_ns: int = 0

    def run(self, seconds: int) -> np.ndarray:
        """Step at 1 Hz; returns the plant's battery temperature (degC) after each step."""
        k = self.emu.scenario.node_index("battery")
        out = np.empty(seconds)
        for i in range(seconds):
            self.emu.advance(NS)
            self.t_ns += NS
            self.sensors.step(self.t_ns)
            self.tc.step(self.t_ns)
            out[i] = float(self.emu.state["node_temp_k"][k]) - 273.15
        return out


def make_loop(sc: Scenario) -> Loop:
    emu = Emulator(sc)
    hw = hardware_from_scenario(sc)
    sensors = SensorPoller(hw, emu.buses)
    events = EventReporter(load_dictionary(), _sink)
    modes = ModeManager(events, Mode.STANDBY)
    tc = ThermalControl(hw, sensors.readings, LoadSwitches(hw, sensors.gpio), Parameters(), modes, events)
    for c in (sensors, modes, tc):
        c.reset(0)
    return Loop(emu, sensors, tc, events, modes)


def test_battery_heater_holds_a_cold_battery_through_two_eclipses() -> None:
    # gpu-node in STANDBY (payload off): the battery starts cold-soaked at -2 degC; eclipses at
    # 3284-5304 s and 9025-11046 s
    loop = make_loop(with_initial_temps(load("gpu-node"), battery=-2.0))
    temps = loop.run(11_500)
    heater = [(e.event_id, e.t_ns // NS) for e in loop.events.log if e.event_id.startswith("HEATER")]
    assert heater[0] == ("HEATER_ON", 1)
    first_off = heater[1][1]
    assert heater[1][0] == "HEATER_OFF" and 1500 < first_off < 3500
    assert temps[first_off - 2] == pytest.approx(10.0, abs=0.2)  # turned off at its off point
    assert ("HEATER_ON", 9025) < heater[2] < ("HEATER_ON", 11046)  # on again in the second eclipse
    assert temps[first_off:].min() > 5.0 - 0.3  # held at its on point (less the noise and one tick of lag)
    assert loop.events.counts.get("LIMIT_VIOLATION", 0) == 0 and loop.modes.mode == Mode.STANDBY


def test_stuck_on_battery_heater_is_detected_in_the_loop() -> None:
    loop = make_loop(with_initial_temps(load("gpu-node"), battery=-2.0))
    loop.emu.inject(HeaterStuckOn("battery_heater"), at_ns=100 * NS)
    temps = loop.run(4500)
    ev = {e.event_id: e for e in loop.events.log}
    assert "HEATER_OFF" in ev and "LIMIT_VIOLATION" in ev
    lv = ev["LIMIT_VIOLATION"]
    assert lv.text == "battery_heater stuck on" and lv.param2 > 1300
    assert lv.t_ns > ev["HEATER_OFF"].t_ns
    load_on = loop.emu.state["load_on"][loop.emu.scenario.load_index("battery_heater")]
    assert not loop.tc.heater_on("battery_heater") and load_on == 1  # commanded off, powered anyway
    assert temps[-1] > 13.0 and loop.modes.mode == Mode.STANDBY  # far from survival: no SAFE


def test_hooks_fdir_validity_and_load_shedding(hw: HardwareConfig) -> None:
    readings = Readings()
    readings.temps_c = {n: 20.0 for n in hw.nodes}
    sw = FakeSwitches(hw)
    ev = EventReporter(load_dictionary(), _sink)
    modes = ModeManager(ev, Mode.NOMINAL)
    shed = {"avionics_heater"}
    tc = ThermalControl(hw, readings, sw, Parameters(), modes, ev, ThermalConfig(survival_persist_s=0.0),
                        valid=lambda name: name != "temp:avionics", inhibited=lambda load: load in shed)
    tc.reset(0)
    readings.temps_c.update(avionics=95.0, battery=0.0)  # an invalidated reading: no survival trip
    tc.step(NS)
    assert modes.mode == Mode.NOMINAL and sw.is_on("battery_heater")
    readings.temps_c["avionics"] = 20.0
    sw.state["avionics_heater"] = False
    tc.step(2 * NS)
    assert ("avionics_heater", True) not in sw.commands  # shed by power: never commanded
