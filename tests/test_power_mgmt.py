"""Power management: state of charge, eclipse forecast, load shedding and battery protection.

Unit tests drive the PowerManager with hand-made readings; closed-loop tests run it with the
drivers against the emulator at 1 Hz.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from emulator import Emulator, faults, load
from emulator.scenario import Scenario
from flight.dictionary import load_dictionary
from flight.drivers.ina226 import Ina226Reading
from flight.drivers.max17048 import Max17048Reading
from flight.events import EventReporter
from flight.fdir import FaultDetection
from flight.hardware import HardwareConfig, LoadSpec
from flight.modes import Mode, ModeManager
from flight.params import Parameters
from flight.power import LearnedEclipse, PowerConfig, PowerManager, ocv_cell_v, soc_from_ocv
from flight.sensors import Readings, SensorPoller
from flight.switches import LoadSwitches
from skyrack.sil import hardware_from_scenario

NS = 1_000_000_000
OCV = ((0.0, 3.0), (0.2, 3.55), (0.5, 3.74), (0.8, 4.0), (1.0, 4.18))


# ---------------------------------------------------------------------- unit harness
class FakeSwitches:
    def __init__(self) -> None:
        self.state = {"payload": True, "avionics_heater": False, "radio": True, "battery_heater": False}

    def set(self, load: str, on: bool) -> bool:
        self.state[load] = on
        return True

    def is_on(self, load: str) -> bool:
        return self.state[load]


def mode(m: ModeManager) -> Mode:
    """The mode now (a call, so that mypy does not narrow it across steps)."""
    return m.mode


class Eclipse:
    """A fixed eclipse forecast: one starting `start_s` from now lasting `length_s`."""

    def __init__(self, start_s: float = 0.0, length_s: float = 1.0) -> None:
        self.start_s, self.length_s = start_s, length_s

    def next_eclipse(self, t_ns: int) -> tuple[int, int] | None:
        s = t_ns + round(self.start_s * NS)
        return s, s + round(self.length_s * NS)


def hw() -> HardwareConfig:
    loads = (LoadSpec("avionics", "fixed", None, power_w=40.0), LoadSpec("radio", "radio", None, power_w=15.0),
             LoadSpec("battery_heater", "heater", None, power_w=20.0),
             LoadSpec("avionics_heater", "heater", None, power_w=15.0), LoadSpec("payload", "payload", None))
    return HardwareConfig((), loads, ("battery",), 8, 1, 100.0, OCV, ("idle", "max"), (50.0, 500.0))


def rail(v: float, i: float) -> Ina226Reading:
    return Ina226Reading(v, i * 0.001, i, abs(v * i))


class Unit:
    def __init__(self, soc: float | None = 0.9, forecast: Eclipse | None = None, **cfg: object) -> None:
        self.readings = Readings()
        self.events = EventReporter(load_dictionary(), lambda a, t, p: None)
        self.modes = ModeManager(self.events, Mode.STANDBY)
        self.params = Parameters()
        self.switches = FakeSwitches()
        self.t = 0
        self.set(v=30.0, i=0.0, array_w=100.0, load_w=55.0, temp=20.0)
        config = PowerConfig(initial_soc=soc, **cfg)  # type: ignore[arg-type]
        self.pm = PowerManager(hw(), self.readings, self.params, self.events, self.modes, self.switches,
                               forecast=forecast if forecast is not None else Eclipse(), config=config)
        self.pm.reset(0)

    def set(self, v: float, i: float, array_w: float, load_w: float, temp: float | None = 20.0) -> None:
        r = self.readings
        r.rails["battery"] = rail(v, i)
        r.rails["array"] = Ina226Reading(v, 0.0, array_w / v, array_w)
        r.rails["load:payload"] = Ina226Reading(v, 0.0, load_w / v, load_w)
        r.temps_c["battery"] = temp

    def run(self, seconds: int) -> None:
        for _ in range(seconds):
            self.t += NS
            self.pm.step(self.t)

    def ids(self, event_id: str) -> list[tuple[int, int, str]]:
        return [(e.param1, e.param2, e.text) for e in self.events.log if e.event_id == event_id]


def test_ocv_table_inversion_round_trips() -> None:
    for soc in (0.0, 0.1, 0.35, 0.5, 0.77, 1.0):
        assert soc_from_ocv(OCV, ocv_cell_v(OCV, soc)) == pytest.approx(soc)
    assert soc_from_ocv(OCV, 2.5) == 0.0 and soc_from_ocv(OCV, 4.5) == 1.0


def test_coulomb_counting_with_charge_efficiency() -> None:
    u = Unit(soc=0.5, rest_hold_s=1e9)
    u.set(v=30.0, i=10.0, array_w=400.0, load_w=0.0)  # 10 A in for an hour: 10 Ah of 100 at 0.99
    u.run(3600)
    assert u.pm.soc == pytest.approx(0.5 + 0.099, abs=1e-3)
    u.set(v=30.0, i=-20.0, array_w=0.0, load_w=600.0)  # 20 A out for half an hour: 10 Ah
    u.run(1800)
    assert u.pm.soc == pytest.approx(0.499, abs=1e-3)


def test_rest_blends_towards_the_open_circuit_voltage() -> None:
    u = Unit(soc=0.5)
    v80 = 8 * ocv_cell_v(OCV, 0.8)
    u.set(v=v80, i=0.2, array_w=60.0, load_w=55.0)  # below 0.01 C: at rest
    u.run(299)
    assert u.pm.ocv_corrections == 0  # not yet rested long enough
    u.run(2)
    assert u.pm.ocv_corrections >= 1 and u.pm.soc < 0.51  # a blend: no jump
    u.run(3000)
    assert u.pm.soc == pytest.approx(0.8, abs=0.01)
    u.set(v=v80, i=-5.0, array_w=0.0, load_w=150.0)  # load: no longer at rest
    n = u.pm.ocv_corrections
    u.run(10)
    assert u.pm.ocv_corrections == n


def test_initial_soc_from_the_gauge_else_the_voltage() -> None:
    u = Unit(soc=None)
    u.readings.gauge = Max17048Reading(3.9, 71.5, 0.0)
    u.pm.reset(0)
    assert u.pm.soc_known and u.pm.soc == pytest.approx(0.715) and u.pm.soc_source == "gauge"
    u.readings.gauge = None
    u.set(v=8 * ocv_cell_v(OCV, 0.3), i=0.0, array_w=0.0, load_w=0.0)
    u.pm.reset(0)
    assert u.pm.soc == pytest.approx(0.3)


def test_learned_eclipse_predicts_the_next_one() -> None:
    le = LearnedEclipse(10.0)
    assert le.next_eclipse(0) is None
    period, dark = 5700, 2100
    for t in range(0, 2 * period + 100):
        sun = t % period < period - dark
        le.observe(t * NS, 800.0 if sun else 0.5)
    assert le.period_ns == period * NS and le.duration_ns == dark * NS
    t = 2 * period + 100
    assert le.next_eclipse(t * NS) == ((3 * period - dark) * NS, 3 * period * NS)
    le.observe((3 * period - dark + 5) * NS, 0.0)  # inside the eclipse: the current one
    assert le.next_eclipse((3 * period - dark + 10) * NS) == ((3 * period - dark + 5) * NS,
                                                             (3 * period + 5) * NS)


def test_forecast_soc_at_the_end_of_the_next_eclipse() -> None:
    u = Unit(soc=0.8, forecast=Eclipse(start_s=1800.0, length_s=2160.0))
    u.set(v=31.0, i=20.0, array_w=1000.0, load_w=345.0)  # 400 W of load with avionics and radio
    u.run(1)
    fc = u.pm.forecast
    assert fc is not None and fc.learned
    # 20 A x 0.5 h x 0.99 of 100 Ah before the eclipse, then 400 W for 0.6 h at about 30.4 V
    assert fc.soc_at_eclipse_start == pytest.approx(0.8 + 0.099, abs=1e-3)
    assert fc.soc_at_eclipse_end == pytest.approx(fc.soc_at_eclipse_start - 400 * 0.6 / (30.4 * 100), abs=0.01)
    # with the payload at its 500 W budget instead of its 345 W
    assert fc.soc_at_eclipse_end_nominal < fc.soc_at_eclipse_end - 0.02


def test_shedding_order_and_hysteresis() -> None:
    u = Unit(soc=0.5)
    assert u.modes.request(Mode.NOMINAL, 0, "test")
    u.set(v=29.0, i=-60.0, array_w=0.0, load_w=1700.0)  # 1 % a minute
    u.run(60 * 6)  # 0.50 -> 0.44
    assert u.pm.level == 1 and mode(u.modes) == Mode.STANDBY
    assert u.ids("LOAD_SHED") == [(4, 1, "shed payload soc 45%")]
    assert not u.switches.state["payload"]
    u.switches.state["payload"] = True  # someone switches it on again: held off, no new event
    u.run(1)
    assert not u.switches.state["payload"] and len(u.ids("LOAD_SHED")) == 1
    u.run(60 * 15)  # -> 0.29
    assert u.pm.level == 2 and mode(u.modes) == Mode.SAFE and u.pm.soc_low
    assert [x[:2] for x in u.ids("LOAD_SHED")] == [(4, 1), (3, 1)]  # payload first, then the avionics heater
    assert u.pm.shed == {"payload", "avionics_heater"} and u.switches.state["radio"]
    u.set(v=31.0, i=60.0 / 0.99, array_w=1900.0, load_w=0.0)  # charging: 1 % a minute
    u.run(60 * 10)  # -> about 0.39: between the thresholds, still SAFE
    assert u.pm.level == 2 and mode(u.modes) == Mode.SAFE
    u.run(60 * 7)  # -> about 0.46: STANDBY, heater back to its thermostat, payload still shed
    assert u.pm.level == 1 and mode(u.modes) == Mode.STANDBY and u.pm.shed == {"payload"}
    assert not u.switches.state["avionics_heater"]
    u.run(60 * 27)  # -> about 0.73 (soc_nominal 0.6 and dod 0.3 at the end of the eclipse): NOMINAL
    assert u.pm.level == 0 and mode(u.modes) == Mode.NOMINAL and u.switches.state["payload"]
    assert [x[:2] for x in u.ids("LOAD_SHED")] == [(4, 1), (3, 1), (3, 0), (4, 0)]
    changes = [(e.param1, e.param2) for e in u.events.log if e.event_id == "MODE_CHANGE"]
    assert changes == [(1, 2), (2, 1), (1, 0), (0, 1), (1, 2)]


def test_the_forecast_sheds_the_payload_before_the_soc_falls() -> None:
    u = Unit(soc=0.55, forecast=Eclipse(start_s=60.0, length_s=2100.0))
    u.modes.request(Mode.NOMINAL, 0, "test")
    u.set(v=30.0, i=-86.0, array_w=0.0, load_w=2500.0)  # 2.6 kW for 35 min: half the 3 kWh battery
    u.run(1)
    fc = u.pm.forecast
    assert fc is not None and fc.soc_at_eclipse_end < 0.3
    assert u.pm.level == 1 and mode(u.modes) == Mode.STANDBY and "payload" in u.pm.shed


def test_power_lowers_only_modes_it_does_not_own_back() -> None:
    u = Unit(soc=0.9)
    u.run(5)
    assert mode(u.modes) == Mode.STANDBY  # power never raises a mode it did not lower


def test_undervoltage_goes_safe_and_clears() -> None:
    u = Unit(soc=0.9)
    u.modes.request(Mode.NOMINAL, 0, "test")
    u.set(v=25.0, i=-30.0, array_w=0.0, load_w=700.0)
    u.run(1)
    assert not u.pm.undervoltage  # one sample is not enough
    u.run(1)
    assert u.pm.undervoltage and mode(u.modes) == Mode.SAFE
    assert u.ids("UNDERVOLTAGE") == [(25000, 0, "bus 25.00 V")]
    u.set(v=26.0, i=-1.0, array_w=0.0, load_w=0.0)
    u.run(5)
    assert u.pm.undervoltage  # within the clearing margin
    u.set(v=29.0, i=-1.0, array_w=0.0, load_w=0.0)
    u.run(2)
    assert not u.pm.undervoltage and len(u.ids("UNDERVOLTAGE_CLEARED")) == 1
    u.run(2)
    assert mode(u.modes) == Mode.NOMINAL  # it lowered the mode, so it restores it, a step at a time
    assert len(u.ids("UNDERVOLTAGE")) == 1


def test_charge_window_inhibits_charge_and_sheds_the_payload() -> None:
    u = Unit(soc=0.9)
    u.modes.request(Mode.NOMINAL, 0, "test")
    u.set(v=31.0, i=5.0, array_w=400.0, load_w=100.0, temp=-1.0)
    u.run(3)
    assert u.pm.charge_inhibited and not u.pm.discharge_inhibited
    assert u.pm.hk_values()["charge_inhibited"] and mode(u.modes) == Mode.STANDBY and "payload" in u.pm.shed
    assert [x[:2] for x in u.ids("LIMIT_VIOLATION")] == [(6, 1)]
    u.set(v=31.0, i=5.0, array_w=400.0, load_w=100.0, temp=1.0)
    u.run(3)
    assert u.pm.charge_inhibited  # hysteresis: 2 degC inside the window
    u.set(v=31.0, i=5.0, array_w=400.0, load_w=100.0, temp=None)
    u.run(3)
    assert u.pm.charge_inhibited  # no valid temperature: the flag holds
    u.set(v=31.0, i=5.0, array_w=400.0, load_w=100.0, temp=2.5)
    u.run(1)
    assert not u.pm.charge_inhibited and [x[:2] for x in u.ids("LIMIT_VIOLATION")] == [(6, 1), (6, 0)]
    u.set(v=31.0, i=5.0, array_w=400.0, load_w=100.0, temp=55.0)
    u.run(1)
    assert u.pm.charge_inhibited and u.pm.discharge_inhibited and mode(u.modes) == Mode.SAFE


# ---------------------------------------------------------------------- closed loop
class Loop:
    """Emulator + drivers + FDIR + power at 1 Hz."""

    def __init__(self, sc: Scenario, config: PowerConfig | None = None, forecast: Eclipse | None = None) -> None:
        self.emu = Emulator(sc)
        self.hw = hardware_from_scenario(sc)
        self.sensors = SensorPoller(self.hw, self.emu.buses)
        self.events = EventReporter(load_dictionary(), lambda a, t, p: None)
        self.modes = ModeManager(self.events)
        self.params = Parameters()
        self.switches = LoadSwitches(self.hw, self.sensors.gpio)
        self.fdir = FaultDetection(self.hw, self.sensors.readings, self.sensors.devices, self.params, self.events,
                                   self.modes)
        self.power = PowerManager(self.hw, self.sensors.readings, self.params, self.events, self.modes,
                                  self.switches, valid=self.fdir.valid, forecast=forecast, config=config,
                                  peers=[self.fdir])
        self.fdir.soc_estimate = self.power.soc_estimate
        self.fdir.peers.append(self.power)
        self.t = 0
        for c in (self.sensors, self.fdir, self.power):
            c.reset(0)

    def payload(self, mode: int) -> None:
        assert self.sensors.payload is not None
        self.sensors.payload.set_mode(mode)
        self.sensors.payload.start_job(1, 1_000_000_000)

    def step(self) -> None:
        self.emu.advance(NS)
        self.t += NS
        self.sensors.step(self.t)
        self.fdir.step(self.t)
        self.power.step(self.t)

    def plant_soc(self) -> float:
        return float(self.emu.state["battery_soc"])


def test_soc_tracks_the_plant_over_several_orbits() -> None:
    lp = Loop(load("gpu-node"))
    lp.payload(2)  # "low", 300 W
    worst = 0.0
    illum = []
    for k in range(3 * 5742):
        lp.step()
        if k % 30 == 0:
            worst = max(worst, abs(lp.power.soc - lp.plant_soc()))
        illum.append(float(lp.emu.state["illumination"]) > 0.5)
    assert worst < 0.02
    assert lp.power.ocv_corrections > 0  # rested near full charge in the sun
    assert lp.fdir.active_faults() == [] and not [e for e in lp.events.log if e.event_id != "LOAD_SHED"]
    # the learned eclipse matches the plant's
    starts = [k for k in range(1, len(illum)) if illum[k - 1] and not illum[k]]
    ends = [k for k in range(1, len(illum)) if not illum[k - 1] and illum[k]]
    assert lp.power.learned.period_ns == pytest.approx((starts[1] - starts[0]) * NS, abs=5 * NS)
    assert lp.power.learned.duration_ns == pytest.approx((ends[0] - starts[0]) * NS, abs=30 * NS)


def test_a_wrong_initial_soc_converges_at_rest() -> None:
    lp = Loop(load("gpu-node"), PowerConfig(initial_soc=0.75))  # the plant starts at 0.9
    for _ in range(2 * 5742):
        lp.step()
    assert abs(lp.power.soc - lp.plant_soc()) < 0.02
    # the gauge cross-check flagged the disagreement and cleared it
    texts = [e.text for e in lp.events.log if e.event_id == "LIMIT_VIOLATION"]
    assert texts == ["soc mismatch", "soc mismatch ok"]


def test_load_shedding_as_the_soc_falls_and_recovery() -> None:
    base = load("gpu-node")
    sc = replace(base, battery=replace(base.battery, cell_capacity_ah=1.0, initial_soc=0.62))
    lp = Loop(sc, forecast=Eclipse(0.0, 1.0))  # the forecast leaves the SOC thresholds in charge
    for panel in sc.panels:
        lp.emu.inject(faults.LostSolarStrings(panel.name, 12))
    lp.payload(4)  # 700 W
    assert lp.modes.request(Mode.NOMINAL, 0, "test")
    shed_at: dict[str, float] = {}
    while len(shed_at) < 2 and lp.t < 12_000 * NS:
        lp.step()
        for e in lp.events.log:
            if e.event_id == "LOAD_SHED" and e.text.split()[1] not in shed_at:
                shed_at[e.text.split()[1]] = lp.plant_soc()
    assert shed_at["payload"] == pytest.approx(0.45, abs=0.02)
    assert shed_at["avionics_heater"] == pytest.approx(0.30, abs=0.02)
    snap = lp.emu.snapshot()
    assert not snap["loads"]["payload"]["on"] and snap["loads"]["radio"]["on"]
    assert mode(lp.modes) == Mode.SAFE
    # the array comes back: SAFE -> STANDBY -> NOMINAL as the battery charges
    for panel in sc.panels:
        lp.emu.inject(faults.LostSolarStrings(panel.name, 0))
    while mode(lp.modes) != Mode.NOMINAL and lp.t < 20_000 * NS:
        lp.step()
    assert mode(lp.modes) == Mode.NOMINAL and lp.plant_soc() >= 0.68
    lp.step()  # the switch acts at the next plant step
    assert lp.emu.snapshot()["loads"]["payload"]["on"]
    changes = [(e.param1, e.param2) for e in lp.events.log if e.event_id == "MODE_CHANGE"]
    assert changes == [(1, 2), (2, 1), (1, 0), (0, 1), (1, 2)]
    sheds = [(e.text.split()[1], e.param2) for e in lp.events.log if e.event_id == "LOAD_SHED"]
    assert sheds == [("payload", 1), ("avionics_heater", 1), ("avionics_heater", 0), ("payload", 0)]
    assert lp.fdir.active_faults() == []
