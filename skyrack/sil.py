"""Software in the loop: the emulator and the flight software in lockstep.

The runner advances the emulator to each executive tick, then runs the tick;
frames the radio delivers are written to the ground capture as they arrive.
This module is composition: it builds the flight software's hardware
configuration from the scenario and wires the components together.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from emulator import Emulator
from emulator.faults import Fault
from emulator.radio import Delivered
from emulator.scenario import Chip, LoadKind, Scenario, Source
from emulator.workload import WorkloadJob, generate
from flight.ccsds.farm import Farm
from flight.ccsds.keystore import load_key_file
from flight.ccsds.sdls import Algorithm, SaParams, SdlsEndpoint, SecurityAssociation
from flight.ccsds.tm_frame import TmFrameConfig
from flight.clock import SimClock, stopwatch_ns
from flight.commander import ModeCommander
from flight.dictionary import load_commands, load_dictionary
from flight.events import EventReporter
from flight.executive import Executive, RateGroup
from flight.fdir import FaultDetection
from flight.hardware import ChipKind, DeviceSpec, HardwareConfig, LoadSpec
from flight.interfaces import Bus, Radio
from flight.jobs import JobSpec
from flight.modes import Mode, ModeManager
from flight.orbit import MeanElements, OrbitPredictor, Station, TwoLineElements
from flight.outlook import FlightOutlook
from flight.params import Parameters
from flight.payload_mgr import PayloadManager
from flight.power import PowerManager
from flight.replay_state import ReplayState
from flight.sched_policies import make_policy
from flight.scheduler import JobScheduler, journal_at
from flight.sensors import SensorPoller
from flight.switches import LoadSwitches
from flight.telemetry.downlink import Downlink
from flight.telemetry.hk import Housekeeping
from flight.telemetry.results import ResultWriter
from flight.telemetry.store import OVERHEAD as STORE_OVERHEAD
from flight.telemetry.store import FsyncPolicy, PacketStore, StoreConfig, StoreError
from flight.thermal import ThermalControl
from flight.timetag import TimeTag
from flight.uplink import Uplink
from ground.jobs import delivered_jobs, score

NS = 1_000_000_000
SPACECRAFT_ID = 0x2A5
TAI_MINUS_UTC_S = 37  # since 2017-01-01
CUC_EPOCH = datetime(1958, 1, 1, tzinfo=UTC)


def cuc_offset_ns(epoch: datetime) -> int:
    """Nanoseconds from the CUC epoch (1958-01-01 TAI) to a UTC time."""
    return round(((epoch - CUC_EPOCH).total_seconds() + TAI_MINUS_UTC_S) * 1e9)


def hardware_from_scenario(sc: Scenario) -> HardwareConfig:
    """What the flight software is told of the spacecraft (on a board: a configuration file)."""
    chips = {Chip.INA226: ChipKind.INA226, Chip.TMP117: ChipKind.TMP117, Chip.MAX17048: ChipKind.MAX17048,
             Chip.TCA9534: ChipKind.TCA9534, Chip.PAYLOAD_CTRL: ChipKind.PAYLOAD_CTRL}
    devices = []
    for d in sc.devices:
        measures, max_a = "", 0.0
        if d.chip == Chip.INA226:
            if d.source == Source.BATTERY:
                measures = "battery"
            elif d.source == Source.ARRAY:
                measures = "array"
            else:
                measures = f"load:{sc.loads[d.index].name}"
            max_a = 0.08 / d.shunt_ohm  # the shunt's full scale (81.92 mV) with a little margin
        elif d.chip == Chip.TMP117:
            measures = sc.nodes[d.index].name
        devices.append(DeviceSpec(d.name, chips[d.chip], d.bus, d.address, measures, d.shunt_ohm, max_a))
    kinds = {LoadKind.FIXED: "fixed", LoadKind.RADIO: "radio", LoadKind.HEATER: "heater", LoadKind.PAYLOAD: "payload"}
    loads = tuple(LoadSpec(ld.name, kinds[ld.kind], sc.devices[ld.gpio].name if ld.gpio >= 0 else None, ld.pin,
                           ld.power_w, sc.nodes[ld.node].name if ld.node >= 0 else None) for ld in sc.loads)
    b = sc.battery
    return HardwareConfig(
        tuple(devices), loads, tuple(n.name for n in sc.nodes), b.cells_series, b.cells_parallel,
        b.cell_capacity_ah * b.cells_parallel * (1 - b.capacity_fade), b.ocv,
        tuple(m.name for m in sc.payload.modes) if sc.payload else (),
        tuple(m.power_w for m in sc.payload.modes) if sc.payload else (),
        tuple(m.throughput for m in sc.payload.modes) if sc.payload else ())


SERIES = ("illumination", "contact_station", "array_available_w", "array_used_w", "load_total_w", "battery_soc",
          "battery_v", "battery_i_a", "payload_power_w", "payload_mode", "payload_throughput", "payload_die_c",
          "uv_tripped")
SERIES_INTERVAL_NS = 10 * NS


def write_timeseries(path: Path, data: dict[str, Any], sc: Scenario) -> None:
    """The logged plant variables as CSV: time in seconds, temperatures in degrees C."""
    import numpy as np

    names = list(data)
    cols = []
    header = []
    for name in names:
        col = data[name]
        if name.startswith("node_temp_k["):
            header.append("temp_c_" + name[len("node_temp_k["):-1])
            col = col - 273.15
        else:
            header.append(name)
        cols.append(col)
    table = np.column_stack(cols) if cols else np.empty((0, 0))
    np.savetxt(path, table, delimiter=",", header=",".join(header), comments="", fmt="%.6g")


@dataclass
class RunResult:
    summary: dict[str, Any]
    out_dir: Path


@dataclass
class _Tracker:
    """Plant truth the summary reports (read from the emulator, not from flight telemetry)."""

    min_soc: float = 1.0
    max_temp_k: dict[str, float] = field(default_factory=dict)


class _EclipseIntervals:
    """The power manager's view of the orbit predictor: (entry, exit) of the next eclipse."""

    def __init__(self, predictor: OrbitPredictor) -> None:
        self.predictor = predictor

    def next_eclipse(self, t_ns: int) -> tuple[int, int] | None:
        ec = self.predictor.next_eclipse(t_ns)
        return None if ec is None else (ec.entry_ns, ec.exit_ns)


def predictor_from_scenario(sc: Scenario) -> OrbitPredictor:
    """The onboard orbit predictor, loaded with the elements the ground would upload."""
    o = sc.orbit
    orbit: MeanElements | TwoLineElements
    if o.tle is not None:
        orbit = TwoLineElements(*o.tle)
    else:
        orbit = MeanElements(o.semi_major_axis_km, o.eccentricity, o.inclination_deg, o.raan_deg,
                             o.arg_perigee_deg, o.mean_anomaly_deg, o.j2)
    stations = [Station(g.name, g.latitude_deg, g.longitude_deg, g.altitude_m, g.min_elevation_deg, g.downlink_bps)
                for g in sc.stations]
    return OrbitPredictor(orbit, sc.epoch_jd_utc, stations)


def orbit_period_s(sc: Scenario) -> float:
    """The orbital period: from the elements, or from a TLE's mean motion (revolutions per day)."""
    if sc.orbit.tle is None:
        return sc.orbit.period_s
    return 86400.0 / float(sc.orbit.tle[1][52:63])


def plan_uplinks(sc: Scenario, key_path: Path) -> list[tuple[int, bytes]]:
    """The scenario's command plan as the ground would send it: signed with the run's key (unless
    authentication is off), SDLS sequence numbers and FARM N(S) counting up from the first command."""
    if not sc.command_plan:
        return []
    from flight.dictionary import load_commands
    from ground.command import build

    commands = load_commands()
    keys = load_key_file(key_path) if sc.authenticate else None
    return [(round(c.at_s * NS), build(commands, c.name, dict(c.args), keys, key_id=UPLINK_KEY_ID, spi=UPLINK_SPI,
                                       sn=k + 1, seq=k % 256, tc_seq_count=k % 16384).cltu)
            for k, c in enumerate(sc.command_plan)]


def job_spec(j: WorkloadJob) -> JobSpec:
    """A workload job as the flight software receives it."""
    return JobSpec(j.job_id, j.kind, j.work_s, j.value, j.priority, round(j.release_s * NS),
                   None if j.deadline_s is None else round(j.deadline_s * NS), j.checkpoint_s, j.output_bytes)


class FlightStack:
    """The flight software of one boot: components, executive and store.
    `kill()` drops it the way a crash would (nothing flushed or closed)."""

    def __init__(self, buses: Sequence[Bus], radio: Radio, sc: Scenario, hw: HardwareConfig, out_dir: Path,
                 fsync: FsyncPolicy, t_ns: int, key_path: Path | None = None, policy: str = "skyrack") -> None:
        dictionary = load_dictionary()
        offset = cuc_offset_ns(sc.epoch)
        self.sensors = SensorPoller(hw, buses)
        self.store = PacketStore(out_dir / "store", StoreConfig(fsync=fsync))
        # data products (job results) in a store of their own, played back ahead of housekeeping
        self.products = PacketStore(out_dir / "store" / "products", StoreConfig(fsync=fsync))
        self.downlink = Downlink(radio, TmFrameConfig(scid=SPACECRAFT_ID), self.store, STEP_NS,
                                 products=self.products)
        self.events = EventReporter(dictionary, self.downlink.on_packet, offset)
        self.modes = ModeManager(self.events, Mode.STANDBY)
        self.params = Parameters(overrides={"bus_undervoltage_v": sc.bus.undervoltage_v, **dict(sc.flight_parameters)})
        self.switches = LoadSwitches(hw, self.sensors.gpio)
        s = self.sensors
        self.fdir = FaultDetection(hw, s.readings, s.devices, self.params, self.events, self.modes)
        predictor = predictor_from_scenario(sc)
        self.power = PowerManager(hw, s.readings, self.params, self.events, self.modes, self.switches,
                                  valid=self.fdir.valid, forecast=_EclipseIntervals(predictor),
                                  peers=[self.fdir])
        self.fdir.soc_estimate = self.power.soc_estimate
        self.fdir.peers.append(self.power)
        self.thermal = ThermalControl(hw, s.readings, self.switches, self.params, self.modes, self.events,
                                      valid=self.fdir.valid, inhibited=self.power.is_shed)
        components: list[Any] = [s, self.fdir, self.power, self.thermal]
        self.payload: PayloadManager | None = None
        self.scheduler: JobScheduler | None = None
        self.results: ResultWriter | None = None
        if s.payload is not None:
            results = self.results = ResultWriter(dictionary, self.downlink.store_packet, offset,
                                                  batch_sink=self.downlink.store_packets)
            part_stored = results.packet.length + STORE_OVERHEAD  # a result part's bytes in the products store
            self.scheduler = JobScheduler(make_policy(policy), lambda t: outlook(t), hw.payload_mode_power_w,
                                          hw.payload_mode_throughput, self.events, results.add,
                                          journal_at(out_dir / "store"),
                                          max_output_bytes=self.products.capacity_bytes // part_stored * results.block)
            results.on_progress = self.scheduler.result_progress
            self.payload = pm = PayloadManager(hw, s.readings, s.payload, self.switches, self.params, self.modes,
                                               self.events, policy=self.scheduler, valid=self.fdir.valid,
                                               inhibited=self.power.is_shed)
            outlook = FlightOutlook(hw, s.readings, self.params, self.power, predictor, pm,
                                    self.stored_pending, products=self.products_outlook)
            self.scheduler.progress_of = lambda: pm.running.done_s if pm.running is not None else 0.0
            components += [self.payload, results]
        self.commander = ModeCommander(self.modes, [self.power, self.fdir])
        self.hk = Housekeeping(dictionary, hw, s.readings, self.downlink.on_packet,
                               undervoltage_v=sc.bus.undervoltage_v, capacity_ah=hw.battery_capacity_ah,
                               cuc_offset_ns=offset, batch_sink=self.downlink.on_packets)
        sdls: SdlsEndpoint | None = None
        self.replay = ReplayState(out_dir / "store" / "uplink.sn")
        if sc.authenticate:
            keys = load_key_file(key_path if key_path is not None else out_dir / KEY_FILE)
            sa = SecurityAssociation(SaParams(UPLINK_SPI, Algorithm.HMAC_SHA256), keys, UPLINK_KEY_ID,
                                     last_rx_sn=self.replay.load())
            if self.replay.both_lost:
                self.events.emit(t_ns, "STATE_LOST", "HIGH", 1, 0, "anti-replay state lost")
            sdls = SdlsEndpoint(keys, [sa])
        self.uplink = Uplink(radio, load_commands(), Farm(SPACECRAFT_ID, 0), self.downlink.on_packet, self.events,
                             self.modes, self.switches, self.params, sdls=sdls, authenticate=sc.authenticate,
                             cuc_offset_ns=offset,
                             on_mode_command=self.commander.set_target,
                             on_authenticated=self.replay.save if sc.authenticate else None,
                             warn_period_ns=round(orbit_period_s(sc) * NS), jobs=self.scheduler,
                             dump=self.dump_store)
        self.hk.add_provider(self.uplink.hk_values, self.uplink.hk_fields)
        timetag = TimeTag(self.uplink, path=out_dir / "store" / "timetag.json")
        if self.scheduler is not None:
            self.hk.add_provider(self.scheduler.hk_values, frozenset(self.scheduler.hk_values()))
        components += [self.uplink, timetag, self.commander, self.hk, self.downlink]
        self.ex = Executive([RateGroup("1Hz", STEP_NS, tuple(components))], stopwatch=stopwatch_ns)
        self.ex.reset(t_ns)
        self.modes.reset(t_ns)
        self.events.emit(t_ns, "BOOT", "INFO", 0, 0, "flight software started")

    DUMP_MAX_RECORDS = 100_000  # one dump_store command at the most
    DUMP_MAX_BYTES = 32 * 1024 * 1024  # of packet data, from each store (what is held in memory at once)

    def stored_pending(self) -> int:
        """Packets on board awaiting downlink, in both stores."""
        return self.store.pending + self.products.pending

    def products_outlook(self) -> tuple[float, float, int]:
        """For the scheduler: (job result bytes awaiting downlink, result octets that still fit in the products
        store, the octets of a result part). A part of `block` octets takes `stored` bytes in the store."""
        res = self.results
        if res is None:
            return float(self.products.pending_bytes), float(self.products.free_bytes), 1
        stored = res.packet.length + STORE_OVERHEAD  # a result part's bytes in the store
        writing = res.pending_parts * stored
        free_parts = max(self.products.free_bytes - writing, 0) // stored
        return float(self.products.pending_bytes + writing), float(free_parts * res.block), res.block

    def close_stores(self) -> None:
        """Close both stores (the products store even when closing the first fails)."""
        try:
            self.store.close()
        finally:
            self.products.close()

    def dump_store(self, t_start_ns: int, t_end_ns: int, done: Callable[[int], None]) -> int:
        """dump_store: the stores' packets of [t_start, t_end) downlinked again on the dump channel, in time
        order (housekeeping and products), at most DUMP_MAX_RECORDS of them and DUMP_MAX_BYTES from each store."""
        try:
            packets = sorted(self.store.dump(t_start_ns, t_end_ns, self.DUMP_MAX_RECORDS, self.DUMP_MAX_BYTES)
                             + self.products.dump(t_start_ns, t_end_ns, self.DUMP_MAX_RECORDS, self.DUMP_MAX_BYTES),
                             key=lambda p: p.t_ns)[:self.DUMP_MAX_RECORDS]
        except StoreError as exc:
            raise ValueError(str(exc)) from None  # the command fails with DUMP_REFUSED
        return self.downlink.queue_dump([p.data for p in packets], done)

    def kill(self, torn_bytes: int = 0) -> None:
        """Stop as a crash would; torn_bytes > 0 also cuts the end of the last store segment,
        as a write interrupted mid-record leaves it."""
        # the store writes with os.write (no user-space buffer): what it wrote is with the OS, as
        # after a real crash; the object is simply dropped (no close, no sync)
        if torn_bytes:
            segs = sorted((self.store_dir()).glob("seg-*.pks"))
            if segs and segs[-1].stat().st_size > torn_bytes:
                with segs[-1].open("r+b") as f:
                    f.truncate(segs[-1].stat().st_size - torn_bytes)

    def store_dir(self) -> Path:
        return Path(self.store.directory)


def job_summary(sc: Scenario, workload: tuple[WorkloadJob, ...], capture: Path, end_s: float, fs: FlightStack,
                emu: Emulator) -> dict[str, Any]:
    """The compute side of the summary: what the ground received (job results decoded from the
    capture) scored against the workload, and what the flight software counted."""
    sched = fs.scheduler
    got = delivered_jobs(capture, load_dictionary()) if workload else {}
    sc_ = score(workload, got, end_s, cuc_offset_ns(sc.epoch) / NS)
    work_s = float(emu.state["work_total_s"])
    return {
        "policy": sched.policy.name.lower() if sched is not None else None,
        "jobs_released": sc_.released,
        "jobs_completed": sched.completed if sched is not None else 0,
        "jobs_delivered": sc_.delivered,
        "jobs_late": sc_.late,
        "deadline_misses": sched.missed if sched is not None else 0,  # the journal carries earlier boots' counts
        "jobs_undelivered_by_deadline": sc_.deadline_misses,
        "value_released": round(sc_.value_released, 2),
        "value_delivered": round(sc_.value_delivered, 2),
        "work_done_s": work_s,
        "payload_utilization": work_s / end_s if end_s > 0 else 0.0,
        "work_lost_s": sum(st.lost_s for st in sched.jobs.values()) if sched is not None else 0.0,
        "payload_energy_j": float(emu.state["e_payload_j"]),
    }


STEP_NS = NS
KEY_FILE = Path("keys") / "uplink.key"
UPLINK_SPI = 1
UPLINK_KEY_ID = 1


def write_uplink_key(path: Path) -> None:
    """A fresh uplink key for this run, readable by its owner only (the ground signs with the same file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"# skyrack SDLS keys: mode 0600, owner only\n[[key]]\nid = {UPLINK_KEY_ID}\n"
                f'key = "{secrets.token_hex(32)}"\n')
    os.chmod(path, 0o600)


def run(scenario: Scenario, duration_s: float, out_dir: Path, seed: int | None = None,
        progress: Callable[[float], None] | None = None, fsync: FsyncPolicy = FsyncPolicy.ON_ROLL,
        restarts: tuple[tuple[float, int], ...] = (), faults: tuple[tuple[float, Fault], ...] = (),
        speed: float | None = None, key_path: Path | None = None,
        uplinks: tuple[tuple[float, bytes], ...] = (), policy: str = "skyrack") -> RunResult:
    """Run the closed loop.

    restarts: (time s, torn bytes) at which the flight process is killed (optionally mid-write)
      and started again on the same store.
    faults: (time s, fault) injected into the emulator.
    speed: None runs as fast as possible; a factor paces simulated time to wall time (1.0 = real time).
    key_path: the uplink key file (default: a fresh key written to DIR/keys/uplink.key, mode 0600,
      which `skyrack cmd --key` signs with).
    uplinks: (time s, CLTU) the ground transmits; a CLTU reaches the spacecraft in the next contact.
    policy: the compute scheduling policy (flight.sched_policies.POLICIES). The scenario's workload
      jobs are handed to the flight scheduler at their release times (as the ground or an onboard
      source would submit them).
    fsync: the store's policy. A simulated run defaults to syncing on segment roll: a killed
      process loses nothing either way (the store writes straight to the OS); per-record or
      every-N syncing guards against power loss on a board.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    # a run is a new mission: a previous run's store in the same directory is not this spacecraft's
    shutil.rmtree(out_dir / "store", ignore_errors=True)
    if key_path is None:
        key_path = out_dir / KEY_FILE
        write_uplink_key(key_path)
    capture_path = out_dir / "downlink.cadu"
    capture: IO[bytes] = capture_path.open("wb")
    delivered = [0, 0]  # frames, octets

    def to_ground(d: Delivered) -> None:
        capture.write(d.frame)
        delivered[0] += 1
        delivered[1] += len(d.frame)

    wall0 = time.monotonic()
    emu = Emulator(scenario, seed=seed, sink=to_ground)
    sc = emu.scenario
    hw = hardware_from_scenario(sc)
    for at_s, fault in faults:
        emu.inject(fault, at_ns=round(at_s * NS))
    clock = SimClock(0)
    make_policy(policy)  # an unknown name fails before anything runs
    fs = FlightStack(emu.buses, emu.radio, sc, hw, out_dir, fsync, 0, key_path, policy)
    workload = generate(sc.workload) if sc.workload is not None else ()
    pending_jobs = [j for j in workload if j.release_s * NS <= duration_s * NS]
    next_job = 0
    boots = [fs]
    pending_uplinks = sorted([*((round(t * NS), c) for t, c in uplinks), *plan_uplinks(sc, key_path)])
    pending_restarts = sorted((round(t * NS), torn) for t, torn in restarts)
    tr = _Tracker(max_temp_k={n.name: 0.0 for n in sc.nodes})
    end_ns = int(duration_s * NS)
    series = [*SERIES, *(f"node_temp_k[{n.name}]" for n in sc.nodes)]
    emu.start_log(series, SERIES_INTERVAL_NS)
    st = emu.state
    c_st = emu.c_state  # battery_soc read from the C struct: a Python float without a numpy scalar
    temps_k = st["node_temp_k"]  # a view of the C state's node temperatures, live across advances
    node_names = [n.name for n in sc.nodes]
    max_temp_k = tr.max_temp_k
    timeline: list[tuple[int, str]] = []
    in_contact = False
    try:
        while fs.ex.next_tick_ns <= end_ns:
            t = fs.ex.next_tick_ns
            if pending_restarts and t >= pending_restarts[0][0]:
                _, torn = pending_restarts.pop(0)
                fs.kill(torn)
                timeline.append((t, f"flight software killed{' mid-write' if torn else ''}, restarted"))
                fs = FlightStack(emu.buses, emu.radio, sc, hw, out_dir, fsync, t, key_path, policy)
                boots.append(fs)
            while next_job < len(pending_jobs) and pending_jobs[next_job].release_s * NS <= t:
                if fs.scheduler is not None:
                    fs.scheduler.submit(t, job_spec(pending_jobs[next_job]))
                next_job += 1
            while pending_uplinks and pending_uplinks[0][0] <= t:
                emu.radio.uplink(pending_uplinks.pop(0)[1])
            emu.advance(t - emu.t_ns)
            clock.set(t)
            if speed is not None:
                pace = wall0 + t / NS / speed - time.monotonic()
                if pace > 0:
                    time.sleep(pace)  # the runner, not flight code, ties simulated time to the wall clock
            fs.ex.tick(t)
            soc = c_st.battery_soc
            if soc < tr.min_soc:
                tr.min_soc = soc
            temps = temps_k.tolist()  # Python floats: cheaper to compare than numpy scalars
            for k, name in enumerate(node_names):
                if temps[k] > max_temp_k[name]:
                    max_temp_k[name] = temps[k]
            if emu.radio.in_contact() != in_contact:
                in_contact = not in_contact
                station = sc.stations[int(st["contact_station"])].name if in_contact else ""
                timeline.append((t, f"AOS {station}" if in_contact else "LOS"))
            if progress is not None and t % (600 * NS) == 0:
                progress(t / NS)
    finally:
        capture.close()
        for b in boots:
            for ev in b.events.log:
                detail = f" {ev.text}" if ev.text else ""
                timeline.append((ev.t_ns, f"{ev.event_id} {ev.severity} ({ev.param1}, {ev.param2}){detail}"))
        with (out_dir / "timeline.log").open("w", encoding="utf-8") as log:
            for t_ev, text in sorted(timeline, key=lambda x: x[0]):
                log.write(f"{t_ev / NS:10.1f} s  {text}\n")
    stored = fs.stored_pending()
    fs.close_stores()
    write_timeseries(out_dir / "timeseries.csv", emu.log_data(), sc)
    snap = emu.snapshot()
    jobs = job_summary(sc, workload, capture_path, end_ns / NS, fs, emu)
    wall = time.monotonic() - wall0
    summary: dict[str, Any] = {
        "scenario": sc.name,
        "seed": sc.seed,
        "sim_seconds": end_ns / NS,
        "wall_seconds": wall,
        "speed_factor": (end_ns / NS) / wall if wall > 0 else None,
        "min_soc": tr.min_soc,
        "max_temp_c": {k: v - 273.15 for k, v in tr.max_temp_k.items()},
        "violations": sum(b.events.counts.get("LIMIT_VIOLATION", 0) for b in boots),
        "safe_mode_entries": sum(b.modes.entries[Mode.SAFE] for b in boots),
        "mode_time_s": fs.modes.account(end_ns),
        "events": {k: sum(b.events.counts.get(k, 0) for b in boots) for k in sorted(
            {k for b in boots for k in b.events.counts})},
        **jobs,
        "packets_generated": sum(b.hk.generated + sum(b.events.counts.values())
                                 + (b.results.parts_written if b.results is not None else 0) for b in boots),
        "housekeeping_generated": sum(b.hk.generated for b in boots),
        "packets_downlinked": sum(b.downlink.packets_realtime + b.downlink.packets_played_back for b in boots),
        "packets_stored": stored,
        "frames_downlinked": delivered[0],
        "energy_harvested_j": snap["energy_j"]["array_used"],
        "energy_available_j": snap["energy_j"]["array_available"],
        "energy_used_j": snap["energy_j"]["loads"],
        "executive_overruns": sum(s.overruns for b in boots for s in b.ex.stats.values()),
        "device_init_errors": fs.sensors.init_errors,
        "boots": len(boots),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return RunResult(summary, out_dir)
