"""Fault detection: plausibility, cross-checks, device health and the fault-response table.

Unit tests feed hand-made readings; closed-loop tests inject faults into the emulator and check
the events and mode changes that prove detection and recovery.
"""

from __future__ import annotations

import pytest

from emulator import Emulator, faults, load
from flight.dictionary import load_dictionary
from flight.drivers.base import Health
from flight.drivers.ina226 import Ina226Reading
from flight.drivers.max17048 import Max17048Reading
from flight.events import EventReporter
from flight.fdir import FaultDetection, FaultKind
from flight.hardware import ChipKind, DeviceSpec, HardwareConfig, LoadSpec
from flight.modes import Mode, ModeManager
from flight.params import Parameters
from flight.power import PowerManager
from flight.sensors import Readings, SensorPoller
from flight.switches import LoadSwitches
from skyrack.sil import hardware_from_scenario

NS = 1_000_000_000
OCV = ((0.0, 3.0), (0.5, 3.74), (1.0, 4.18))


def mode(m: ModeManager) -> Mode:
    """The mode now (a call, so that mypy does not narrow it across steps)."""
    return m.mode


class FakeDevice:
    def __init__(self, name: str, addr: int) -> None:
        self.name, self.addr = name, addr
        self.failed = False
        self.fixed = False
        self.reprobe_times: list[int] = []
        self.now = 0

    @property
    def health(self) -> Health:
        return Health.FAILED if self.failed else Health.OK

    def reprobe(self) -> Health:
        self.reprobe_times.append(self.now)
        self.failed = not self.fixed
        return self.health


def hw() -> HardwareConfig:
    devs = (DeviceSpec("ina_battery", ChipKind.INA226, 0, 0x40, "battery", 0.001, 80.0),
            DeviceSpec("ina_array", ChipKind.INA226, 0, 0x41, "array", 0.001, 80.0),
            DeviceSpec("ina_avionics", ChipKind.INA226, 0, 0x44, "load:avionics", 0.01, 8.0),
            DeviceSpec("temp_battery", ChipKind.TMP117, 0, 0x49, "battery"),
            DeviceSpec("gauge", ChipKind.MAX17048, 0, 0x36))
    loads = (LoadSpec("avionics", "fixed", None, power_w=40.0),)
    return HardwareConfig(devs, loads, ("battery",), 8, 1, 100.0, OCV)


class Unit:
    def __init__(self) -> None:
        self.readings = Readings()
        self.events = EventReporter(load_dictionary(), lambda a, t, p: None)
        self.modes = ModeManager(self.events, Mode.STANDBY)
        self.dev = FakeDevice("ina_array", 0x41)
        self.t = 0
        self.set()
        self.fd = FaultDetection(hw(), self.readings, [self.dev], Parameters(), self.events, self.modes)
        self.fd.reset(0)

    def set(self, v: float = 30.0, i: float = 5.0, array_w: float = 200.0, load_w: float = 40.0,
            temp: float | None = 20.0, cell_v: float | None = None, soc_pct: float = 80.0) -> None:
        r = self.readings
        r.rails["battery"] = Ina226Reading(v, i * 0.001, i, abs(v * i))
        r.rails["array"] = Ina226Reading(v, 0.0, array_w / v, array_w)
        r.rails["load:avionics"] = Ina226Reading(v, 0.0, load_w / v, load_w)
        r.temps_c["battery"] = temp
        r.gauge = Max17048Reading(v / 8 if cell_v is None else cell_v, soc_pct, 0.0)

    def run(self, seconds: int, wiggle: bool = True) -> None:
        for k in range(seconds):
            self.t += NS
            self.dev.now = self.t
            if wiggle:  # every reading moves a little, as real ones do
                r = self.readings
                d = 0.01 * (k % 2)
                r.temps_c["battery"] = None if r.temps_c["battery"] is None else r.temps_c["battery"] + d - 0.005
            self.fd.step(self.t)

    def limit_events(self) -> list[tuple[int, int, str]]:
        return [(e.param1, e.param2, e.text) for e in self.events.log if e.event_id == "LIMIT_VIOLATION"]


def test_good_readings_are_valid_and_raise_nothing() -> None:
    u = Unit()
    u.run(100)
    assert all(u.fd.valid(n) for n in ("rail:battery", "rail:array", "rail:load:avionics", "temp:battery", "gauge"))
    assert not u.fd.valid("temp:nowhere")
    assert list(u.events.log) == [] and u.fd.mode_ceiling == Mode.NOMINAL


def test_a_range_fault_raises_one_event_and_one_when_it_clears() -> None:
    u = Unit()
    u.run(5)
    u.set(temp=-256.0)  # the TMP117 power-on value
    u.run(1)
    assert not u.fd.valid("temp:battery")  # at once
    u.run(30)
    u.set(temp=20.0)
    u.run(9)
    assert u.limit_events() == [(FaultKind.RANGE, 1, "temp:battery range")]
    assert not u.fd.valid("temp:battery")  # the fault holds until clear_samples good ones
    u.run(1)
    assert u.fd.valid("temp:battery")
    assert u.limit_events()[-1] == (FaultKind.RANGE, 0, "temp:battery range ok")


def test_rate_of_change_flags_a_jump() -> None:
    u = Unit()
    u.run(5)
    u.set(temp=40.0)
    u.run(1)
    assert not u.fd.valid("temp:battery")
    u.run(1)
    assert u.fd.valid("temp:battery")  # one step, then steady: no event
    assert u.limit_events() == []


def test_stuck_needs_the_battery_current_to_change_sign() -> None:
    u = Unit()
    u.run(10)
    u.set(temp=21.0)
    u.run(600, wiggle=False)  # identical for ten minutes, but nothing else changed: not stuck
    assert u.fd.valid("temp:battery")
    u.set(i=-5.0, array_w=0.0, load_w=150.0, temp=21.0)  # eclipse: the battery discharges
    u.run(59, wiggle=False)
    assert u.fd.valid("temp:battery")
    u.run(1, wiggle=False)
    assert not u.fd.valid("temp:battery")
    assert (FaultKind.STUCK, 1, "temp:battery stuck") in u.limit_events()  # (the gauge did not move either)


def test_battery_monitor_isolated_by_the_bus_voltage_vote() -> None:
    u = Unit()
    u.run(5)
    u.readings.rails["battery"] = Ina226Reading(31.0, 0.005, 5.0, 155.0)  # 1 V above the bus and the gauge
    u.run(3)
    assert not u.fd.valid("rail:battery") and u.fd.valid("gauge")
    assert u.limit_events() == [(FaultKind.MISMATCH, 1, "rail:battery mismatch")]
    u.set(cell_v=3.9)  # now the gauge disagrees (31.2 V against 30 V)
    u.run(3)
    assert u.fd.valid("rail:battery") is False  # still clearing
    assert (FaultKind.MISMATCH, 1, "gauge mismatch") in u.limit_events()
    assert not u.fd.valid("gauge")


def test_soc_and_power_balance_cross_checks() -> None:
    u = Unit()
    est = [0.8]
    u.fd.soc_estimate = lambda: est[0]
    u.run(100)
    est[0] = 0.6
    u.run(59)
    assert u.limit_events() == []
    u.run(1)
    assert u.limit_events() == [(FaultKind.MISMATCH, 1, "soc mismatch")]
    est[0] = 0.8
    u.set(array_w=300.0)  # 300 W in, 150 W to the battery, 40 W of load: 110 W unaccounted
    u.run(10)
    assert (FaultKind.BALANCE, 1, "power_balance balance") in u.limit_events()
    assert u.fd.balance_residual_w == pytest.approx(110.0)
    assert u.fd.valid("rail:array")  # a balance fault isolates nothing


def test_failed_device_bus_error_and_reprobe_backoff() -> None:
    u = Unit()
    u.dev.failed = True
    u.run(1)
    u.run(200)
    bus = [(e.param1, e.param2, e.text) for e in u.events.log if e.event_id == "BUS_ERROR"]
    assert bus == [(0x41, 1, "ina_array failed")]
    s = [t // NS for t in u.dev.reprobe_times]
    assert s == [11, 31, 71, 151]  # 10, 20, 40, 80 s
    u.dev.fixed = True
    u.run(160)
    bus = [(e.param1, e.param2, e.text) for e in u.events.log if e.event_id == "BUS_ERROR"]
    assert bus[-1] == (0x41, 0, "ina_array recovered") and len(bus) == 2


def test_response_table_safe_then_standby() -> None:
    u = Unit()
    u.modes.request(Mode.NOMINAL, 0, "test")
    u.run(5)
    u.set(temp=None)  # the battery temperature sensor is gone
    u.run(4)
    assert mode(u.modes) == Mode.NOMINAL
    u.run(2)
    assert mode(u.modes) == Mode.SAFE and u.fd.mode_ceiling == Mode.SAFE
    u.set(temp=20.0)
    u.run(59)
    assert mode(u.modes) == Mode.SAFE
    u.run(2)
    assert mode(u.modes) == Mode.STANDBY  # never back to NOMINAL on its own
    u.run(10)
    assert mode(u.modes) == Mode.STANDBY
    changes = [(e.param1, e.param2, e.text) for e in u.events.log if e.event_id == "MODE_CHANGE"]
    assert changes[1:] == [(2, 0, "fdir: temp:battery"), (0, 1, "fdir: sensors ok")]


def test_recovery_waits_for_a_peer_ceiling() -> None:
    class Peer:
        mode_ceiling = Mode.SAFE

    u = Unit()
    peer = Peer()
    u.fd.peers.append(peer)
    u.set(temp=None)
    u.run(10)
    u.set(temp=20.0)
    u.run(100)
    assert mode(u.modes) == Mode.SAFE  # the peer still holds SAFE
    peer.mode_ceiling = Mode.NOMINAL
    u.run(1)
    assert mode(u.modes) == Mode.STANDBY


# ---------------------------------------------------------------------- closed loop
class Loop:
    def __init__(self) -> None:
        sc = load("gpu-node")
        self.emu = Emulator(sc)
        hwc = hardware_from_scenario(sc)
        self.sensors = SensorPoller(hwc, self.emu.buses)
        self.events = EventReporter(load_dictionary(), lambda a, t, p: None)
        self.modes = ModeManager(self.events)
        params = Parameters()
        self.fdir = FaultDetection(hwc, self.sensors.readings, self.sensors.devices, params, self.events, self.modes)
        self.power = PowerManager(hwc, self.sensors.readings, params, self.events, self.modes,
                                  LoadSwitches(hwc, self.sensors.gpio), valid=self.fdir.valid, peers=[self.fdir])
        self.fdir.soc_estimate = self.power.soc_estimate
        self.fdir.peers.append(self.power)
        self.t = 0
        for c in (self.sensors, self.fdir, self.power):
            c.reset(0)
        assert self.modes.request(Mode.NOMINAL, 0, "test")

    def run_until(self, t_s: int) -> None:
        while self.t < t_s * NS:
            self.emu.advance(NS)
            self.t += NS
            self.sensors.step(self.t)
            self.fdir.step(self.t)
            self.power.step(self.t)

    def log(self, *ids: str) -> list[tuple[int, str, int, int, str]]:
        return [(e.t_ns // NS, e.event_id, e.param1, e.param2, e.text) for e in self.events.log
                if e.event_id in ids]


def test_nacking_battery_monitor_goes_safe_and_recovers() -> None:
    lp = Loop()
    lp.emu.inject(faults.DeviceNack("ina_battery"), at_ns=600 * NS)
    lp.emu.inject(faults.DeviceNack("ina_battery", on=False), at_ns=900 * NS)
    lp.run_until(1100)
    ev = lp.log("BUS_ERROR", "MODE_CHANGE", "LIMIT_VIOLATION")
    assert ev[0][1:] == ("MODE_CHANGE", 1, 2, "test")
    fail_t = ev[1][0]
    assert ev[1][1:] == ("BUS_ERROR", 0x40, 1, "ina_battery failed") and 600 < fail_t <= 604
    assert ev[2][1:] == ("MODE_CHANGE", 2, 0, "fdir: rail:battery") and ev[2][0] <= 607
    # reprobes 10, 20, 40, 80, 160 s after the failure: the one at +310 s finds it answering again
    assert ev[3][1:] == ("BUS_ERROR", 0x40, 0, "ina_battery recovered") and ev[3][0] == fail_t + 310
    assert ev[4][1:] == ("MODE_CHANGE", 0, 1, "fdir: sensors ok") and ev[4][0] == pytest.approx(ev[3][0] + 61, abs=2)
    assert len(ev) == 5 and mode(lp.modes) == Mode.STANDBY
    # meanwhile the state of charge was counted from the array and load balance
    assert abs(lp.power.soc - float(lp.emu.state["battery_soc"])) < 0.01


def test_stuck_battery_temperature_goes_safe_and_recovers() -> None:
    lp = Loop()
    raw = round(20.5 / 7.8125e-3)
    lp.emu.inject(faults.StuckReading("temp_battery", 0x00, raw), at_ns=100 * NS)
    lp.run_until(3600)  # the battery current changes sign at the eclipse (about 3250 s)
    ev = lp.log("MODE_CHANGE", "LIMIT_VIOLATION")
    assert [e[1:] for e in ev] == [("MODE_CHANGE", 1, 2, "test"),
                                   ("LIMIT_VIOLATION", FaultKind.STUCK, 1, "temp:battery stuck"),
                                   ("MODE_CHANGE", 2, 0, "fdir: temp:battery")]
    stuck_t = ev[1][0]
    assert 3200 < stuck_t < 3400
    assert ev[2][0] == stuck_t + 5
    lp.emu.inject(faults.ClearDeviceFaults("temp_battery"))
    lp.run_until(3700)
    ev = lp.log("MODE_CHANGE", "LIMIT_VIOLATION")[3:]
    assert [e[1:] for e in ev] == [("LIMIT_VIOLATION", FaultKind.STUCK, 0, "temp:battery stuck ok"),
                                   ("MODE_CHANGE", 0, 1, "fdir: sensors ok")]
    assert ev[0][0] == 3610 and ev[1][0] == 3610 + 60  # clear_samples good ones, then recovery_s valid
    assert mode(lp.modes) == Mode.STANDBY and lp.fdir.active_faults() == []
