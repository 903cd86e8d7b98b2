"""Payload management (flight/payload_mgr.py): power mode by spacecraft mode, the predictive
thermal cap below the part's own throttle point, shutdown reporting and the built-in job
queue; unit tests on a fake driver and fake readings, closed-loop tests against the emulator."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from emulator import Emulator, load
from emulator.scenario import Scenario
from flight.dictionary import load_dictionary
from flight.drivers.base import DriverError
from flight.drivers.payload_ctrl import PayloadStatus, PayloadTelemetry
from flight.events import EventReporter
from flight.hardware import HardwareConfig
from flight.modes import Mode, ModeManager
from flight.params import Parameters
from flight.payload_mgr import Decision, FifoPolicy, Job, PayloadConfig, PayloadManager
from flight.sensors import Readings, SensorPoller
from flight.switches import LoadSwitches
from flight.thermal import ThermalControl
from skyrack.sil import hardware_from_scenario

NS = 1_000_000_000
RJ = 0.03  # gpu-node junction resistance, K/W
POWER = (70.0, 300.0, 500.0, 700.0)
ST = PayloadStatus
NO_STATUS = PayloadStatus(0)


def _sink(apid: int, t_ns: int, pkt: bytes) -> None:
    pass


@pytest.fixture(scope="module")
def hw() -> HardwareConfig:
    return hardware_from_scenario(load("gpu-node"))


class FakeDriver:
    has_power_limit = False  # a version 1.0 controller: the cap is a mode

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self.limits: list[float | None] = []

    def set_power_limit(self, watts: float | None) -> None:
        self.limits.append(watts)

    def set_mode(self, mode: int) -> None:
        self.calls.append(("mode", mode, 0))

    def start_job(self, job_id: int, work_units: int) -> None:
        self.calls.append(("start", job_id, work_units))

    def abort_job(self) -> None:
        self.calls.append(("abort", 0, 0))


class FakeSwitches:
    def __init__(self) -> None:
        self.on = {"payload": True}

    def set(self, load: str, on: bool) -> bool:
        self.on[load] = on
        return True

    def is_on(self, load: str) -> bool:
        return self.on[load]


@dataclass
class Unit:
    pm: PayloadManager
    readings: Readings
    driver: FakeDriver
    switches: FakeSwitches
    events: EventReporter
    modes: ModeManager
    node_c: float = 40.0
    status: PayloadStatus = NO_STATUS
    mode: int = 0
    job_done_s: float = 0.0
    power_w: float | None = None

    def step(self, t_s: int, die_c: float | None = None) -> None:
        """One tick with telemetry of a part at `self.mode` (die from the node unless given)."""
        p = self.power_w if self.power_w is not None else (POWER[self.mode - 1] if self.mode else 0.0)
        die = die_c if die_c is not None else self.node_c + RJ * p
        self.readings.t_ns = t_s * NS
        self.readings.temps_c["payload"] = self.node_c
        self.readings.payload = PayloadTelemetry(self.status, self.mode, p, die, 1.0, 0.0, self.job_done_s)
        self.pm.step(t_s * NS)
        for name, value, _ in self.driver.calls:
            if name == "mode":
                self.mode = value  # the part takes the last mode commanded

    def ids(self, prefix: str = "") -> list[str]:
        return [e.event_id for e in self.events.log if e.event_id.startswith(prefix) and e.event_id != "MODE_CHANGE"]

    def cmds(self, name: str) -> list[tuple[str, int, int]]:
        return [c for c in self.driver.calls if c[0] == name]


def make_unit(hw: HardwareConfig, jobs: tuple[tuple[int, float], ...] = (), mode: Mode = Mode.NOMINAL,
              driver: FakeDriver | None = None, **kw: object) -> Unit:
    readings = Readings()
    drv = driver if driver is not None else FakeDriver()
    sw = FakeSwitches()
    ev = EventReporter(load_dictionary(), _sink)
    modes = ModeManager(ev, mode)
    pm = PayloadManager(hw, readings, drv, sw, Parameters(), modes, ev, jobs, **kw)  # type: ignore[arg-type]
    pm.reset(0)
    return Unit(pm, readings, drv, sw, ev, modes)


# ---------------------------------------------------------------------------- unit tests
@pytest.mark.parametrize("mode", [Mode.STANDBY, Mode.SAFE])
def test_outside_nominal_the_payload_is_off_and_runs_nothing(hw: HardwareConfig, mode: Mode) -> None:
    u = make_unit(hw, ((1, 10.0),), mode)
    u.mode = 2
    for t in range(1, 5):
        u.step(t)
    assert u.cmds("mode") == [("mode", 0, 0)] and u.cmds("start") == []
    assert not u.switches.on["payload"] and u.ids() == []


def test_in_nominal_jobs_start_at_the_top_mode_and_complete_in_order(hw: HardwareConfig) -> None:
    u = make_unit(hw, ((7, 12.0), (8, 0.015)), junction_k_per_w=RJ)
    u.switches.on["payload"] = False
    u.step(1)
    assert u.switches.on["payload"]
    assert u.driver.calls == [("mode", 4, 0), ("start", 7, 1200)]  # mode first, then the job (10 ms units)
    started = [e for e in u.events.log if e.event_id == "JOB_STARTED"]
    assert [(e.param1, e.param2) for e in started] == [(7, 1200)]
    u.status = ST.DONE  # stale: a previous job's DONE read before the start command
    u.readings.t_ns = 1 * NS
    u.readings.payload = PayloadTelemetry(ST.DONE, 4, 700.0, 61.0, 1.0, 1.0, 0.0)
    u.pm.step(1 * NS)
    assert u.ids("JOB_DONE") == []
    u.status = ST.RUNNING
    for t in range(2, 14):
        u.job_done_s = t - 1.0
        u.step(t)
    u.status = ST.DONE
    u.step(14)
    done = [e for e in u.events.log if e.event_id == "JOB_DONE"]
    assert [(e.param1, e.param2, e.t_ns // NS) for e in done] == [(7, 13, 14)]
    assert u.cmds("start") == [("start", 7, 1200), ("start", 8, 2)]  # the next one at once (1.5 units -> 2)
    u.status = ST.DONE
    u.step(15)
    assert u.ids("JOB") == ["JOB_STARTED", "JOB_DONE", "JOB_STARTED", "JOB_DONE"]
    u.step(16)
    assert u.mode == 0 and u.pm.jobs_done == 2  # queue empty: mode 0, the switch stays closed
    assert u.switches.on["payload"]


def test_leaving_nominal_aborts_the_job_and_it_restarts_later(hw: HardwareConfig) -> None:
    u = make_unit(hw, ((5, 100.0),), junction_k_per_w=RJ)
    u.step(1)
    u.status = ST.RUNNING
    u.job_done_s = 3.0
    u.step(2)
    u.modes.request(Mode.STANDBY, 3 * NS, "test")
    u.step(3)
    assert u.driver.calls[-2:] == [("abort", 0, 0), ("mode", 0, 0)] and not u.switches.on["payload"]
    ab = [e for e in u.events.log if e.event_id == "JOB_ABORTED"]
    assert [(e.param1, e.param2) for e in ab] == [(5, 300)]
    u.status = ST(0)
    u.step(4)
    u.modes.request(Mode.NOMINAL, 5 * NS, "test")
    u.step(5)
    assert u.switches.on["payload"] and u.cmds("start") == [("start", 5, 10000)] * 2


def test_a_job_the_controller_loses_is_restarted(hw: HardwareConfig) -> None:
    u = make_unit(hw, ((5, 100.0),), junction_k_per_w=RJ, config=PayloadConfig(lost_after_s=3.0))
    for t in range(1, 6):
        u.step(t)  # never RUNNING
    assert u.ids("JOB") == ["JOB_STARTED", "JOB_ABORTED", "JOB_STARTED"]
    assert [e.t_ns // NS for e in u.events.log if e.event_id == "JOB_ABORTED"] == [4]


def test_cap_steps_down_at_the_ceiling_and_up_with_hysteresis_and_dwell(hw: HardwareConfig) -> None:
    cfg = PayloadConfig(die_margin_c=2.0, step_up_hysteresis_c=3.0, step_up_dwell_s=30.0)
    u = make_unit(hw, ((1, 1e6),), junction_k_per_w=RJ, config=cfg)
    u.node_c = 50.0
    u.step(1)
    u.status = ST.RUNNING
    assert u.pm.cap == 4 and u.mode == 4  # 50 + 21 = 71 < 80
    u.node_c = 59.1  # die 80.1 >= ceiling (82 - 2): max (700 W) no longer fits; high (500 W) predicts 74.1
    u.step(2)
    assert u.pm.cap == 3 and u.mode == 3
    thr = [e for e in u.events.log if e.event_id == "PAYLOAD_THROTTLED"]
    assert [(e.severity, e.param1, e.param2) for e in thr][-1] == ("LOW", 3, 8010)
    u.node_c = 56.5  # die at max would be 77.5: not 3 degC below the ceiling
    for t in range(3, 60):
        u.step(t)
    assert u.pm.cap == 3
    u.node_c = 55.9  # 76.9: it is
    u.step(60)
    assert u.pm.cap == 4
    u2 = make_unit(hw, ((1, 1e6),), junction_k_per_w=RJ, config=cfg)
    u2.node_c = 50.0
    u2.step(1)
    u2.node_c = 59.1
    u2.step(2)
    assert u2.pm.cap == 3
    u2.node_c = 54.0
    u2.step(10)
    assert u2.pm.cap == 3  # cool enough, but within 30 s of the step down
    u2.step(32)
    assert u2.pm.cap == 4 and u2.mode == 4
    assert [e.severity for e in u2.events.log if e.event_id == "PAYLOAD_THROTTLED"][-1] == "INFO"


def test_cap_predicts_the_jump_before_a_job_starts(hw: HardwareConfig) -> None:
    u = make_unit(hw, ((1, 1e6),), junction_k_per_w=RJ)
    u.node_c = 65.0  # idle die 67.1; max would be 86, high 80, low 74
    u.mode = 1
    u.step(1)
    assert u.pm.cap == 2 and u.cmds("mode") == [("mode", 2, 0)] and u.cmds("start")


def test_die_at_the_limit_or_part_throttling_forces_the_mode_down(hw: HardwareConfig) -> None:
    u = make_unit(hw, ((1, 1e6),), junction_k_per_w=RJ)
    u.node_c = 40.0
    u.step(1)
    u.status = ST.RUNNING | ST.THROTTLED  # the part cut its own clocks
    u.power_w = 600.0
    u.step(2)
    assert u.pm.cap == 3 and u.mode == 3
    assert [e.text for e in u.events.log if e.event_id == "PAYLOAD_THROTTLED"][-1] == "part throttled"
    u.power_w = None
    u.status = ST.RUNNING
    u.step(3, die_c=82.5)
    assert u.pm.cap == 0 and u.mode == 0


def test_part_shutdown_is_reported_once_and_the_mode_recommanded(hw: HardwareConfig) -> None:
    u = make_unit(hw, ((1, 1e6),), junction_k_per_w=RJ)
    u.step(1)
    u.status = ST.SHUTDOWN
    n0 = len(u.cmds("mode"))
    for t in range(2, 6):
        u.power_w = 0.0
        u.step(t, die_c=60.0)
    sd = [e for e in u.events.log if e.event_id == "PAYLOAD_SHUTDOWN"]
    assert len(sd) == 1 and sd[0].severity == "HIGH" and sd[0].param2 == 6000
    assert len(u.cmds("mode")) - n0 == 4  # every tick while latched off, so the controller can restart it
    u.status = ST(0)
    u.step(6)
    u.status = ST.SHUTDOWN
    u.step(7, die_c=60.0)
    assert len([e for e in u.events.log if e.event_id == "PAYLOAD_SHUTDOWN"]) == 2


def test_junction_resistance_is_learned_and_unknown_caps_at_mode_1(hw: HardwareConfig) -> None:
    u = make_unit(hw, ((1, 1e6),))
    u.step(1)  # mode 0, no power: R_j unknown, so only mode 1
    assert u.pm.junction_k_per_w is None and u.pm.cap == 1 and u.mode == 1
    u.step(2)  # idle power: (die - node) / P
    assert u.pm.junction_k_per_w == pytest.approx(RJ)
    assert u.pm.cap == 4 and u.mode == 4
    u.readings.temps_c["payload"] = None
    u.readings.payload = None
    u.pm.step(3 * NS)
    assert u.pm.cap == 1 and u.mode == 4 and u.driver.calls[-1] == ("mode", 1, 0)


def test_a_scheduler_can_replace_the_policy(hw: HardwareConfig) -> None:
    class Urgent:
        def __init__(self) -> None:
            self.ended: list[tuple[int, bool]] = []

        def choose(self, t_ns: int, running: Job | None) -> Decision:
            return Decision(2, Job(1, 50.0) if t_ns < 3 * NS else Job(2, 1.0))

        def job_ended(self, t_ns: int, job: Job, completed: bool, done_s: float) -> None:
            self.ended.append((job.job_id, completed))

    pol = Urgent()
    u = make_unit(hw, policy=pol, junction_k_per_w=RJ)
    for t in range(1, 5):
        u.step(t)
    assert u.cmds("start") == [("start", 1, 5000), ("start", 2, 100)] and pol.ended == [(1, False)]
    assert u.mode == 2 and u.ids("JOB") == ["JOB_STARTED", "JOB_ABORTED", "JOB_STARTED"]
    assert isinstance(make_unit(hw, ((1, 1.0),)).pm.policy, FifoPolicy)
    with pytest.raises(ValueError):
        Job(70000, 1.0)


# ---------------------------------------------------------------------------- closed loop
def hot_gpu_node(radiator_m2: float = 0.8, payload_c: float = 60.0) -> Scenario:
    """gpu-node with its radiator shrunk and the payload and radiator starting hot."""
    sc = load("gpu-node")
    rad = sc.node_index("radiator")
    surfaces = tuple(replace(s, area_m2=radiator_m2) if s.node == rad else s for s in sc.surfaces)
    temps = {"payload": payload_c, "radiator": payload_c}
    nodes = tuple(replace(n, initial_c=temps.get(n.name, n.initial_c)) for n in sc.nodes)
    return replace(sc, surfaces=surfaces, nodes=nodes)


@dataclass
class Loop:
    emu: Emulator
    sensors: SensorPoller
    tc: ThermalControl
    pm: PayloadManager
    events: EventReporter
    modes: ModeManager
    t_ns: int = 0
    max_die_c: float = -273.0
    min_throttle: float = 1.0

    def run(self, seconds: int) -> None:
        st = self.emu.state
        for _ in range(seconds):
            self.emu.advance(NS)
            self.t_ns += NS
            for c in (self.sensors, self.tc, self.pm):
                c.step(self.t_ns)
            self.max_die_c = max(self.max_die_c, float(st["payload_die_c"]))
            self.min_throttle = min(self.min_throttle, float(st["payload_throttle"]))


def make_loop(sc: Scenario, jobs: tuple[tuple[int, float], ...], mode: Mode = Mode.NOMINAL,
              legacy: bool = False) -> Loop:
    """legacy: the controller answers as version 1.0, without POWER_LIMIT (the cap is a mode)."""
    emu = Emulator(sc)
    hw = hardware_from_scenario(sc)
    sensors = SensorPoller(hw, emu.buses)
    assert sensors.payload is not None
    events = EventReporter(load_dictionary(), _sink)
    modes = ModeManager(events, mode)
    params = Parameters()
    switches = LoadSwitches(hw, sensors.gpio)
    tc = ThermalControl(hw, sensors.readings, switches, params, modes, events)
    pm = PayloadManager(hw, sensors.readings, sensors.payload, switches, params, modes, events, jobs)
    for c in (sensors, modes, tc, pm):
        c.reset(0)
    if legacy:
        sensors.payload.version = 0x0100
    return Loop(emu, sensors, tc, pm, events, modes)


def test_hot_case_without_the_manager_the_part_throttles_itself() -> None:
    emu = Emulator(hot_gpu_node())
    ctrl = 0x50
    for reg, value in ((0x03, 4), (0x05, 1), (0x06, 0x0FFF), (0x07, 0xFFFF), (0x04, 1)):
        emu.bus.transfer(ctrl, bytes([reg, value >> 8, value & 0xFF]), 0)
    min_throttle = 1.0
    for _ in range(600):
        emu.advance(NS)
        min_throttle = min(min_throttle, float(emu.state["payload_throttle"]))
    assert min_throttle < 0.9  # the scenario is hot enough to matter


def test_hot_case_mode_cap_the_die_stays_below_its_limit_and_the_part_never_throttles() -> None:
    loop = make_loop(hot_gpu_node(), ((1, 1e6),), legacy=True)
    loop.run(2500)
    limit = Parameters()["payload_die_limit_c"]
    assert loop.max_die_c < limit < 87.0
    assert loop.min_throttle == 1.0  # the part's own throttle never engaged
    thr = [e for e in loop.events.log if e.event_id == "PAYLOAD_THROTTLED"]
    downs = [e for e in thr if e.severity == "LOW"]
    ups = [e for e in thr if e.severity == "INFO" and e.t_ns > 10 * NS]
    assert downs and ups  # stepped down at the ceiling and back up once it cooled
    assert all(e.param2 >= 7990 for e in downs)  # at the ceiling (82 - 2 degC), not before
    assert loop.pm.junction_k_per_w == pytest.approx(0.03, rel=0.02)
    assert float(loop.emu.state["job_done_s"]) > 1000.0  # and it kept computing
    assert loop.events.counts.get("PAYLOAD_SHUTDOWN", 0) == 0 and loop.modes.mode == Mode.NOMINAL


def test_payload_is_off_in_standby_and_safe_and_resumes_in_nominal() -> None:
    loop = make_loop(load("gpu-node"), ((3, 1e5),))
    sc, st = loop.emu.scenario, loop.emu.state
    pl = sc.load_index("payload")
    loop.run(20)
    assert st["load_on"][pl] == 1 and int(st["payload_mode"]) == 4 and float(st["payload_power_w"]) > 650
    for target in (Mode.STANDBY, Mode.SAFE):
        loop.modes.request(target, loop.t_ns, "test")
        loop.run(5)
        assert st["load_on"][pl] == 0 and int(st["payload_mode"]) == 0 and float(st["payload_power_w"]) == 0.0
    assert loop.events.counts["JOB_ABORTED"] == 1
    loop.modes.request(Mode.STANDBY, loop.t_ns, "test")
    loop.modes.request(Mode.NOMINAL, loop.t_ns, "test")
    loop.run(5)
    assert st["load_on"][pl] == 1 and int(st["payload_mode"]) == 4 and int(st["job_active"]) == 1
    assert loop.events.counts["JOB_STARTED"] == 2


def test_jobs_run_to_completion_in_nominal_with_their_events() -> None:
    loop = make_loop(load("gpu-node"), ((11, 60.0), (12, 30.5)))
    loop.run(120)
    jobs = [(e.event_id, e.param1, e.t_ns // NS) for e in loop.events.log if e.event_id.startswith("JOB")]
    assert [j[:2] for j in jobs] == [("JOB_STARTED", 11), ("JOB_DONE", 11), ("JOB_STARTED", 12), ("JOB_DONE", 12)]
    (_, _, t0), (_, _, t1), (_, _, t2), (_, _, t3) = jobs
    assert 60 <= t1 - t0 <= 63 and t2 == t1 and 30 <= t3 - t2 <= 33  # full throughput at max mode
    assert float(loop.emu.state["job_done_s"]) == pytest.approx(30.5)
    assert loop.pm.jobs_done == 2 and int(loop.emu.state["payload_mode"]) == 0  # queue empty: mode 0


def test_load_shedding_powers_the_payload_down_even_in_nominal(hw: HardwareConfig) -> None:
    shed = [False]
    u = make_unit(hw, ((1, 100.0),), junction_k_per_w=RJ, inhibited=lambda load: shed[0])
    u.step(1)
    assert u.switches.on["payload"] and u.cmds("start")
    shed[0] = True
    u.step(2)
    assert not u.switches.on["payload"] and u.ids("JOB") == ["JOB_STARTED", "JOB_ABORTED"]
    u2 = make_unit(hw, ((1, 100.0),), valid=lambda name: name != "payload")
    u2.step(1)
    assert u2.cmds("start") == [] and u2.pm.cap == 1  # no valid telemetry: no job, lowest mode


def test_hot_case_power_limit_holds_the_die_just_under_its_limit() -> None:
    loop = make_loop(hot_gpu_node(), ((1, 1e6),))
    assert loop.sensors.payload is not None and loop.sensors.payload.has_power_limit
    st = loop.emu.state
    dies, powers = [], []
    for _ in range(2500):
        loop.run(1)
        dies.append(float(st["payload_die_c"]))
        powers.append(float(st["payload_power_w"]))
    limit = Parameters()["payload_die_limit_c"]
    ceiling = limit - PayloadConfig().limit_margin_c
    assert loop.max_die_c < ceiling + 0.25 < limit and loop.min_throttle == 1.0  # R_j learnt on line
    # regulated: after the first minutes the die sits within a few tenths of a degree under the ceiling,
    # at a power between two modes (the part's own curve gives the work at that power)
    late_die, late_p = np.array(dies[600:]), np.array(powers[600:])
    assert np.all(late_die > ceiling - 0.4)
    assert late_p.min() > 300.0 and late_p.max() < 700.0 and np.ptp(late_p) > 10.0
    assert float(st["payload_power_limit_w"]) == pytest.approx(late_p[-1], abs=0.2)
    assert loop.pm.limit_w == pytest.approx(float(st["payload_power_limit_w"]), abs=0.05)
    assert loop.pm.limit_w is not None and loop.pm.cap_w == loop.pm.limit_w
    assert loop.pm.cap == (4 if loop.pm.limit_w > 500.0 else 3)
    # a few events (the limit starting to bind, cap mode changes), not one per adjustment
    thr = [e for e in loop.events.log if e.event_id == "PAYLOAD_THROTTLED"]
    assert 1 <= len(thr) <= 4
    assert float(st["job_done_s"]) > 1000.0 and loop.events.counts.get("PAYLOAD_SHUTDOWN", 0) == 0


class LimitDriver(FakeDriver):
    has_power_limit = True


def test_power_cap_from_the_prediction_written_only_when_it_moves_a_step(hw: HardwareConfig) -> None:
    u = make_unit(hw, ((1, 1e6),), junction_k_per_w=RJ, driver=LimitDriver())
    ceiling = Parameters()["payload_die_limit_c"] - PayloadConfig().limit_margin_c  # 81.5
    u.status = ST.RUNNING
    # at 700 W with the die 0.3 K over the ceiling: 700 - 0.3 / 0.03 = 690 W
    u.power_w = 700.0
    u.step(1, die_c=ceiling + 0.3)
    assert u.pm.limit_w == 690.0 and u.pm.cap == 4 and u.pm.cap_w == 690.0 and u.mode == 4
    assert u.driver.limits == [690.0]
    # noise: 2 W of headroom floors to the same 5 W step; 7 W is one step up, which waits for a second
    u.power_w = 690.0
    u.step(2, die_c=ceiling - 0.06)
    u.step(3, die_c=ceiling - 0.21)
    assert u.pm.limit_w == 690.0 and u.driver.limits == [690.0]
    u.power_w = 680.0
    u.step(4, die_c=ceiling - 0.6)  # 700: the highest mode's power, the limit no longer binds
    assert u.pm.limit_w is None and u.driver.limits == [690.0, None]
    # a fall is written at once; below the power of mode 3 (500 W) the cap mode falls too
    u.power_w = 700.0
    u.step(5, die_c=ceiling + 0.3)
    u.power_w = 505.0
    u.step(6, die_c=ceiling + 0.45)
    assert u.pm.limit_w == 490.0 and u.pm.cap == 3 and u.mode == 3 and u.driver.limits[-2:] == [690.0, 490.0]
    evs = [e for e in u.events.log if e.event_id == "PAYLOAD_THROTTLED"]
    assert [(e.severity, e.param1) for e in evs] == [("LOW", 4), ("INFO", 4), ("LOW", 4), ("LOW", 3)]


class FailingLimitDriver(LimitDriver):
    fail = True

    def set_power_limit(self, watts: float | None) -> None:
        if self.fail:
            raise DriverError("payload controller", "write of register 0x0e failed")
        super().set_power_limit(watts)


def test_a_limit_that_cannot_be_written_caps_the_mode_to_what_fits_under_it(hw: HardwareConfig) -> None:
    drv = FailingLimitDriver()
    u = make_unit(hw, ((1, 1e6),), junction_k_per_w=RJ, driver=drv)
    ceiling = Parameters()["payload_die_limit_c"] - PayloadConfig().limit_margin_c
    u.status = ST.RUNNING
    u.power_w = 700.0
    u.step(1, die_c=ceiling + 0.3)  # wants 690 W: mode 4 capped, but the cap cannot be written
    assert u.pm.limit_w == 690.0 and u.pm.cap == 4
    assert u.mode == 3 and u.pm.command_failures == 1  # mode 3 (500 W) fits under 690 W without the limit
    drv.fail = False
    u.power_w = 500.0
    u.step(2, die_c=ceiling - 5.7)  # 500 + 190 = 690 W again: now written, then mode 4
    assert drv.limits == [690.0] and u.mode == 4
    # at the die limit the mode goes to 0 and the limit in force stays until a lower mode is in force
    u.power_w = 690.0
    u.step(3, die_c=Parameters()["payload_die_limit_c"] + 0.1)
    assert u.pm.cap == 0 and u.mode == 0 and u.pm.limit_w == 690.0 and drv.limits == [690.0]
