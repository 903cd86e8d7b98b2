"""`hil fly`: the flight software on the board, run in lockstep by the host over the link (`hil.lockstep`).

The board waits for a host, builds the flight software (`skyrack.sil.FlightStack`, the very composition
`skyrack run` uses) on link-backed buses, radio and clock (`hil.board`) when the host sends SETUP, runs one
executive tick per TICK and answers TICK_DONE. Its packet store, job journal and uplink replay state live
in the state directory.

What the board survives:

- The host restarting: its new HELLO session ends the run in progress (the store is closed as it stands);
  the board takes the new host's SETUP and continues from the host's time. A SETUP with the run id of the
  store resumes on it (the flight software restarts, as after a reset); a new run id is a new mission.
- Garbage and bit errors on the line: the link discards bad frames and retransmits.
- No TICK for a while (the cable pulled, the host stopped): in lockstep simulated time is the host's, so
  the board holds its state, logs that it is holding, and carries on when TICKs come again; the link
  reconnects by itself. (A board flying on its own clock would instead keep stepping with its sensors
  silent, and fault management would take it to SAFE mode; that is the real-time mode's business.)
- A version mismatch: the link (or the SETUP check) reports it in one line; the board keeps waiting for a
  host of its own version.

Real-time mode (SETUP mode "realtime", `hil serve --realtime`): the board runs its executive from its own
clock (`hil.timesync.SyncedClock`), synchronized to the host's simulated time by TIME exchanges; its bus
transfers are on-demand BUS_BATCH_T round trips with a timeout (`hil.board.RealtimeBuses`); after each tick it
sends TICK_DONE with its figures (clock offset and jitter among them) and does not wait for the host. When
the link is slow or gone, bus transfers time out (or fail at once while the host has been silent for
`link_down_s`) and the flight software's fault management does what it does with silent sensors.

Real-payload mode (`hil fly --real-payload`, `hil.real_payload`): the flight software's jobs also run as
processes on the board, and the board's measured power goes to the host in each TICK_DONE (`payload_mw`).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flight.telemetry.store import StoreError
from hil.board import BoardBuses, DivergedError, LinkRadio, LinkTimeoutError, RealtimeBuses, TickClock
from hil.board_adapters import BoardHealth
from hil.link import Link, LinkConfig, LinkState, Message
from hil.lockstep import LOCKSTEP_VERSION, DocAssembler, LockstepError, doc_parts, groups_to_transfers
from hil.messages import (
    BusBatch,
    BusResult,
    BusTransfer,
    Capability,
    Doc,
    DocType,
    ErrorCode,
    ErrorMsg,
    Hello,
    Kind,
    MessageError,
    PollList,
    RadioState,
    Role,
    Tick,
    TickDone,
    TimedBusBatch,
    TimeSync,
    TransferResult,
)
from hil.pump import LinkPump, service_all
from hil.real_payload import RealPayload
from hil.timesync import SyncedClock
from hil.transport import Port

if TYPE_CHECKING:
    from emulator.workload import WorkloadJob
    from skyrack.sil import FlightStack

__all__ = ["SOFTWARE", "Board", "link_config"]

SOFTWARE = f"skyrack-hil lockstep/{LOCKSTEP_VERSION}"
NS = 1_000_000_000


def link_config(url: str, baud: int) -> LinkConfig:
    """The link tuning for a port URL: a serial line (a device path, rfc2217://) has a baud rate to model."""
    line = "://" not in url or url.startswith("rfc2217://")
    return LinkConfig(baud=baud if line else None)


def _kind_name(kind: int) -> str:
    try:
        return Kind(kind).name
    except ValueError:
        return f"0x{kind:02x}"


class _SessionLost(BaseException):
    """The host started over (or failed) while the board waited on it in the middle of a tick (a BaseException:
    control flow that flight code must not catch)."""


class Board:
    """The board's loop. `run()` returns when `once` is set and a run has ended, or when `stop()` is true."""

    def __init__(self, port: Port, state_dir: Path, *, config: LinkConfig | None = None,
                 radio_port: Port | None = None, radio_config: LinkConfig | None = None,
                 log: Callable[[str], None] = lambda _: None, once: bool = False, hold_after_s: float = 5.0,
                 connect_timeout_s: float | None = None, sysfs_root: str | Path = "/",
                 real_payload: RealPayload | None = None, bus_timeout_s: float = 0.25, sync_interval_s: float = 0.25,
                 link_down_s: float = 1.5) -> None:
        caps = (Capability.LOCKSTEP | Capability.POLL_PUSH | Capability.REALTIME
                | (Capability.RADIO_PORT if radio_port else Capability.NONE)
                | (Capability.REAL_PAYLOAD if real_payload is not None else Capability.NONE))
        self.link = Link(Role.BOARD, config or LinkConfig(), software=SOFTWARE, capabilities=caps)
        self.pump = LinkPump(self.link, port)
        self.radio_pump: LinkPump | None = None
        if radio_port is not None:
            self.radio_pump = LinkPump(Link(Role.BOARD, radio_config or LinkConfig(), software=SOFTWARE,
                                            capabilities=caps), radio_port)
        self.pumps = [self.pump] if self.radio_pump is None else [self.pump, self.radio_pump]
        self.state_dir = Path(state_dir)
        self.health = BoardHealth(sysfs_root)  # board_hk: zeros on a machine that is neither a Pi nor a Jetson
        self.log = log
        self.once = once
        self.hold_after_ns = int(hold_after_s * NS)
        self.connect_timeout_s = connect_timeout_s
        self.stack: FlightStack | None = None
        self.boots: list[FlightStack] = []
        self.io: BoardBuses | None = None
        self.radio: LinkRadio | None = None
        self.clock = TickClock(0)
        self.docs = DocAssembler()
        self.backlog: deque[Message] = deque()
        self.finished = False
        self.ticks = 0
        self._radio_state = (False, 0.0)
        self._tc_expected = 0
        self._tc_received = 0
        self._batch_id = 0
        self._jobs: tuple[WorkloadJob, ...] = ()
        self._next_job = 0
        self._holding = False
        self._failure_logged: str | None = None
        # real-time mode
        self.real_payload = real_payload
        self.bus_timeout_ns = int(bus_timeout_s * NS)
        self.sync_interval_ns = int(sync_interval_s * NS)
        self.link_down_ns = int(link_down_s * NS)
        self.realtime = False  # the run set up is a real-time one
        self.rt_running = False  # ... and its clock runs (after BOOTED)
        self.sync_clock = SyncedClock()
        self.rt_io: RealtimeBuses | None = None
        self._sync_id = 0
        self._sync_sent: dict[int, int] = {}
        self._next_sync_local = 0
        self._rt_late_max_ns = 0
        self._rt_skipped_reports = 0

    # ------------------------------------------------------------------ loop

    def run(self, stop: Callable[[], bool] = lambda: False) -> int:
        t0 = time.monotonic()
        finished_at: float | None = None
        while not stop():
            if self.finished:
                finished_at = finished_at or time.monotonic()
                if self.link.pending() == 0 or time.monotonic() - finished_at > 2.0:
                    return 0
            if (self.connect_timeout_s is not None and self.link.peer is None
                    and time.monotonic() - t0 > self.connect_timeout_s):
                raise LockstepError(f"no host answered within {self.connect_timeout_s:g} s: check the wiring, the "
                                    "baud rate and that `skyrack hil serve` runs at the other end")
            if self.backlog:
                self._handle(self.backlog.popleft())
                continue
            wait_s = self._rt_step() if self.rt_running and self.stack is not None else 0.2
            for m in self._service(wait_s):
                self._triage(m)
            self._check_silence()
        return 0

    def _triage(self, m: Message) -> None:
        """A message just received: a TIME reply is used at once (its arrival time matters), others queue."""
        if m.kind == Kind.TIME:
            self._on_time(m)
        else:
            self.backlog.append(m)

    def _service(self, timeout_s: float) -> list[Message]:
        """Service the links; radio-link messages are handled here, control-link ones returned."""
        got = service_all(self.pumps, timeout_s)
        if self.radio_pump is not None:
            for m in got[1]:
                self._handle_radio(m)
        return got[0]

    def _check_silence(self) -> None:
        if self.stack is None:
            return
        if self.realtime:
            silent = self.link.silent_ns(self.sync_clock.local_ns())
            down = silent is not None and silent > self.hold_after_ns
            if silent is not None and down and not self._holding:
                self.log(f"no word from the host for {silent / NS:.0f} s: flying on the board's clock at t = "
                         f"{self.sync_clock.now_ns() / NS:.0f} s (bus transfers fail until the link is back)")
            elif self._holding and not down:
                self.log(f"the host answers again at t = {self.sync_clock.now_ns() / NS:.0f} s")
            self._holding = down
            return
        silent = self.link.silent_ns(time.monotonic_ns())
        if silent is not None and silent > self.hold_after_ns and not self._holding:
            self._holding = True
            self.log(f"no TICK from the host for {silent / NS:.0f} s: holding at t = {self.clock.now_ns() / NS:.0f} s "
                     "(lockstep: simulated time waits for the host)")

    # ------------------------------------------------------------------ messages

    def _handle(self, m: Message) -> None:
        try:
            body = m.decode()
        except MessageError as exc:
            self._error(ErrorCode.BAD_MESSAGE, str(exc))
            return
        if isinstance(body, Hello):
            self._new_session(body)
        elif isinstance(body, ErrorMsg):
            if m.local:
                if body.text != self._failure_logged:
                    self.log(body.text)
                    self._failure_logged = body.text
            else:
                self.log(f"the host reports: {body.text}")
                self._drop_run("the host gave up on the run")
        elif isinstance(body, Doc):
            try:
                done = self.docs.add(body)
            except MessageError as exc:
                self._error(ErrorCode.BAD_MESSAGE, str(exc))
                return
            if done is not None:
                self._on_doc(*done)
        elif isinstance(body, RadioState):
            self._radio_state = (body.in_contact, body.downlink_bps)
            self._tc_expected = body.tc_count
            if self.radio is not None:
                self.radio.set_state(body.in_contact, body.downlink_bps)
        elif m.kind == Kind.RADIO_TC:
            self._take_tc(m.payload)
        elif isinstance(body, Tick):
            if self.realtime:
                self._error(ErrorCode.PROTOCOL, "TICK in a real-time run")
                return
            self._tick(body)
        elif isinstance(body, TimeSync):
            self._on_time(m)
        elif isinstance(body, BusResult) and self.realtime:
            pass  # the late answer to a batch the board gave up on
        else:
            self._error(ErrorCode.PROTOCOL, f"unexpected {_kind_name(m.kind)} message from the host")

    def _handle_radio(self, m: Message) -> None:
        if m.kind == Kind.RADIO_TC:
            self._take_tc(m.payload)
        elif m.kind == Kind.HELLO:
            self.log("radio link: host connected")
        elif m.kind == Kind.ERROR and m.local:
            self.log(f"radio link: {ErrorMsg.decode(m.payload).text}")

    def _take_tc(self, frame: bytes) -> None:
        self._tc_received += 1
        if self.radio is not None:
            self.radio.rx.append(bytes(frame))

    def _error(self, code: ErrorCode, text: str) -> None:
        self.log(text)
        self.link.send_message(ErrorMsg(code, text[:1000]))

    def _new_session(self, hello: Hello) -> None:
        self.log(f"host connected ({hello.software or 'unknown software'})")
        self._failure_logged = None
        self._drop_run("a new host session started")
        self.docs.reset()
        self._radio_state = (False, 0.0)
        self._tc_expected = self._tc_received = 0

    def _drop_run(self, why: str) -> None:
        fs = self.stack
        if fs is None:
            return
        self.log(f"{why}: the run stops at t = {fs.ex.next_tick_ns / NS:.0f} s")
        self.stack = None
        self.rt_running = False
        if self.real_payload is not None:
            self.real_payload.stop()
        if self.io is not None:
            self.io.abandon()
        try:
            fs.close_stores()
        except (OSError, StoreError) as exc:
            self.log(f"closing the packet store: {exc}")

    def _on_doc(self, doc: DocType, obj: dict[str, Any]) -> None:
        if doc is DocType.SETUP:
            self._setup(obj)
        elif doc is DocType.END:
            self._end(obj)
        else:
            self._error(ErrorCode.PROTOCOL, f"unexpected DOC {doc.name} from the host")

    # ------------------------------------------------------------------ round trips

    def _exchange(self, transfers: tuple[BusTransfer, ...]) -> tuple[TransferResult, ...]:
        """One BUS_BATCH round trip; waits as long as the link lives (the host is in lockstep with us)."""
        self._batch_id = (self._batch_id + 1) % 0x10000
        self.link.send_message(BusBatch(self._batch_id, transfers))
        while True:
            got = self._service(0.2)
            for k, m in enumerate(got):
                if m.kind == Kind.BUS_RESULT:
                    r = BusResult.decode(m.payload)
                    if r.batch_id != self._batch_id or len(r.results) != len(transfers):
                        raise DivergedError(f"bus result {r.batch_id} ({len(r.results)} results) does not answer "
                                               f"batch {self._batch_id} ({len(transfers)} transfers)")
                    self.backlog.extend(got[k + 1:])
                    return r.results
                if m.kind in (Kind.HELLO, Kind.ERROR):
                    self.backlog.extend(got[k:])
                    raise _SessionLost
                raise DivergedError(f"a {_kind_name(m.kind)} message came while the board waited for a bus result")
            self._check_silence()

    # ------------------------------------------------------------------ run

    def _failed_key(self) -> tuple[bool, ...]:
        fs = self.stack
        return () if fs is None else tuple(d.failed for d in fs.sensors.devices)

    def _send_tm(self, frame: bytes) -> None:
        link = self.radio_pump.link if self.radio_pump is not None else self.link
        link.send(Kind.RADIO_TM, frame)

    def _setup(self, obj: dict[str, Any]) -> None:
        from dataclasses import replace

        from emulator.scenario import ScenarioError, loads_toml
        from emulator.workload import generate
        from flight.sched_policies import make_policy
        from flight.telemetry.store import FsyncPolicy
        from skyrack.sil import KEY_FILE, FlightStack, hardware_from_scenario

        version = obj.get("lockstep")
        if version != LOCKSTEP_VERSION:
            self._error(ErrorCode.VERSION_MISMATCH,
                        f"lockstep session version mismatch: the host speaks {version}, this board speaks "
                        f"{LOCKSTEP_VERSION}; run the same release on host and board")
            return
        self._drop_run("a new SETUP came")
        try:
            sc = loads_toml(str(obj["scenario_toml"]), str(obj.get("scenario_source", "<host>")))
            if obj.get("seed") is not None:
                sc = replace(sc, seed=int(obj["seed"]))
            policy = str(obj.get("policy", "skyrack"))
            make_policy(policy)
            t_ns = int(obj["t_ns"])
            run_id = str(obj["run_id"])
            mode = str(obj.get("mode", "lockstep"))
            speed = float(obj.get("speed", 1.0))
            if mode not in ("lockstep", "realtime"):
                raise ValueError(f"unknown mode {mode!r}")
            if mode == "realtime":
                self.sync_clock = SyncedClock(speed)
        except (ScenarioError, KeyError, TypeError, ValueError) as exc:
            self._error(ErrorCode.BAD_MESSAGE, f"SETUP rejected: {exc}")
            return
        state = self.state_dir
        state.mkdir(parents=True, exist_ok=True)
        run_file = state / "run.id"
        resume = run_file.exists() and run_file.read_text(encoding="utf-8").strip() == run_id
        if not resume:
            shutil.rmtree(state / "store", ignore_errors=True)  # a new mission: not this spacecraft's store
            run_file.write_text(run_id + "\n", encoding="utf-8")
            self.boots = []
        key_path = state / KEY_FILE
        if obj.get("key"):
            key_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(str(obj["key"]))
        self.radio = LinkRadio(self._send_tm)
        self.radio.set_state(*self._radio_state)
        self.realtime = mode == "realtime"
        self.rt_running = False
        buses: list[Any]
        if self.realtime:
            self.io = None
            self.rt_io = RealtimeBuses(self._rt_exchange)
            buses = list(self.rt_io.buses)
            self._rt_late_max_ns = 0
        else:
            self.rt_io = None
            self.io = BoardBuses(self._exchange, failed_key=self._failed_key)
            buses = list(self.io.buses)
        self.clock = TickClock(t_ns)
        self.log(f"{'resuming' if resume else 'starting'} run {run_id} of {sc.name} (seed {sc.seed}) at "
                 f"t = {t_ns / NS:.0f} s" + (f", real time x{speed:g}" if self.realtime else ""))
        if self.real_payload is not None and self.realtime and not self.real_payload.fixed_scale:
            self.real_payload.time_scale = 1.0 / speed
        try:
            fs = FlightStack(buses, self.radio, sc, hardware_from_scenario(sc), state,
                             FsyncPolicy.ON_ROLL, t_ns, key_path, policy)
        except _SessionLost:
            return
        except DivergedError as exc:
            self._error(ErrorCode.PROTOCOL, f"lockstep diverged during boot: {exc}")
            return
        if self.health.present:
            fs.hk.providers.append(self.health)
        self.stack = fs
        self.boots.append(fs)
        self._jobs = generate(sc.workload) if sc.workload is not None else ()
        self._next_job = 0
        while self._next_job < len(self._jobs) and self._jobs[self._next_job].release_s * NS <= t_ns - fs.ex.tick_ns:
            self._next_job += 1  # resuming: jobs released before this boot went to the previous one
        self._holding = False
        for part in doc_parts(DocType.BOOTED, {"t_ns": fs.ex.next_tick_ns, "boot": len(self.boots)}):
            self.link.send_message(part)
        if self.realtime:
            self.sync_clock.start(fs.ex.next_tick_ns)
            self._sync_sent.clear()
            self._next_sync_local = self.sync_clock.local_ns()
            self.rt_running = True

    def _tick(self, tick: Tick) -> None:
        from flight.clock import stopwatch_ns
        from skyrack.sil import job_spec

        fs, io, radio = self.stack, self.io, self.radio
        if fs is None or io is None or radio is None:
            self._error(ErrorCode.PROTOCOL, "TICK before SETUP: no run is set up on the board")
            return
        if tick.t_ns != fs.ex.next_tick_ns:
            self._error(ErrorCode.PROTOCOL, f"TICK for t = {tick.t_ns} ns, the board's next tick is at "
                        f"{fs.ex.next_tick_ns} ns")
            self._drop_run("out of step with the host")
            return
        if self._holding:
            self.log(f"TICKs again: carrying on at t = {tick.t_ns / NS:.0f} s")
            self._holding = False
        try:
            while self._tc_received < self._tc_expected:  # uplinked frames on the radio link come first
                self.backlog.extend(self._service(0.2))
            self.clock.set(tick.t_ns)
            io.start_tick(tick.poll)
            while self._next_job < len(self._jobs) and self._jobs[self._next_job].release_s * NS <= tick.t_ns:
                if fs.scheduler is not None:
                    fs.scheduler.submit(tick.t_ns, job_spec(self._jobs[self._next_job]))
                self._next_job += 1
            start = stopwatch_ns()
            fs.ex.tick(tick.t_ns)
            took = stopwatch_ns() - start
            nxt = io.end_tick()
        except _SessionLost:
            return
        except DivergedError as exc:
            self._error(ErrorCode.PROTOCOL, f"lockstep diverged at t = {tick.t_ns / NS:.0f} s: {exc}")
            self._drop_run("lockstep diverged")
            return
        if nxt is not None:
            self.link.send_message(PollList(io.declare(nxt), groups_to_transfers(nxt)))
        self.ticks += 1
        stats = (("step_ns", took), ("overruns", sum(s.overruns for s in fs.ex.stats.values())),
                 ("radio_tm", radio.frames_sent), *self._payload_stats(fs))
        self.link.send_message(TickDone(tick.tick, stats))

    def _payload_stats(self, fs: FlightStack) -> tuple[tuple[str, int], ...]:
        """Real-payload mode, after a tick: the running job's process follows the flight software's job, and
        the measured power goes to the host."""
        rp = self.real_payload
        if rp is None:
            return ()
        pm = fs.payload
        running = pm.running if pm is not None else None
        rp.sync(None if running is None else (running.job.job_id, running.job.work_s - running.done_s))
        return (("payload_mw", rp.power_mw()), ("payload_jobs", rp.jobs_started))

    def _end(self, obj: dict[str, Any]) -> None:
        fs = self.stack
        if fs is None:
            self._error(ErrorCode.PROTOCOL, "END without a run")
            return
        report = self.report(int(obj.get("t_end_ns", fs.ex.next_tick_ns)))
        fs.close_stores()
        self.stack = None
        self.rt_running = False
        if self.real_payload is not None:
            self.real_payload.stop()
        for part in doc_parts(DocType.REPORT, report):
            self.link.send_message(part)
        self.log(f"run over at t = {fs.ex.next_tick_ns / NS:.0f} s after {self.ticks} ticks")
        if self.once:
            self.finished = True

    def report(self, t_end_ns: int) -> dict[str, Any]:
        """What the flight software counted in this run (the boots on this board), for the host's summary."""
        from flight.modes import Mode

        boots = [{
            "events": [[e.t_ns, e.event_id, e.severity, e.param1, e.param2, e.text] for e in b.events.log],
            "counts": dict(b.events.counts),
            "safe_entries": b.modes.entries[Mode.SAFE],
            "hk_generated": b.hk.generated,
            "parts_written": b.results.parts_written if b.results is not None else 0,
            "packets_downlinked": b.downlink.packets_realtime + b.downlink.packets_played_back,
            "overruns": sum(s.overruns for s in b.ex.stats.values()),
        } for b in self.boots]
        fs = self.boots[-1]
        sched = fs.scheduler
        return {
            "boots": boots,
            "mode_time_s": fs.modes.account(t_end_ns),
            "packets_stored": fs.stored_pending(),
            "device_init_errors": list(fs.sensors.init_errors),
            "policy": sched.policy.name.lower() if sched is not None else None,
            "jobs_completed": sched.completed if sched is not None else 0,
            "work_lost_s": sum(st.lost_s for st in sched.jobs.values()) if sched is not None else 0.0,
            "poll_pushed_groups": self.io.pushed_groups if self.io is not None else 0,
            "bus_round_trips": self.io.round_trips if self.io is not None else
            self.rt_io.round_trips if self.rt_io is not None else 0,
            **({"realtime": self._rt_report()} if self.realtime else {}),
            **({"real_payload": {"jobs_started": self.real_payload.jobs_started,
                                 "last_power_w": self.real_payload.last_power_w}}
               if self.real_payload is not None else {}),
        }

    # ------------------------------------------------------------------ real-time mode

    def _link_up(self, local_ns: int) -> bool:
        if self.link.state is not LinkState.ESTABLISHED:
            return False
        silent = self.link.silent_ns(local_ns)
        return silent is None or silent <= self.link_down_ns

    def _send_sync(self, local_ns: int) -> None:
        """A TIME request (not while the link is down: it would only queue). The first few come quickly."""
        self._sync_id = (self._sync_id + 1) % (1 << 32)
        fast = self.sync_clock.stats.samples < 4
        self._next_sync_local = local_ns + (self.sync_interval_ns // 10 if fast else self.sync_interval_ns)
        if not self._link_up(local_ns):
            return
        if len(self._sync_sent) > 16:  # requests lost with a session: forget the oldest
            for k in sorted(self._sync_sent)[:-8]:
                del self._sync_sent[k]
        self._sync_sent[self._sync_id] = local_ns
        self.link.send_message(TimeSync(0, self._sync_id, local_ns))

    def _on_time(self, m: Message) -> None:
        t4 = self.sync_clock.local_ns()
        try:
            body = TimeSync.decode(m.payload)
        except MessageError as exc:
            self._error(ErrorCode.BAD_MESSAGE, str(exc))
            return
        t1 = self._sync_sent.pop(body.id, None)
        if body.phase != 1 or t1 is None or t1 != body.t_board_ns or not self.rt_running:
            return
        self.sync_clock.sample(t1, body.t_host_ns, t4)

    def _rt_step(self) -> float:
        """Run what is due (a TIME request, one executive tick); returns how long the loop may wait (s)."""
        fs, clock = self.stack, self.sync_clock
        assert fs is not None
        local = clock.local_ns()
        if local >= self._next_sync_local:
            self._send_sync(local)
        if clock.now_ns() >= fs.ex.next_tick_ns:
            self._rt_tick(fs, fs.ex.next_tick_ns)
            return 0.0
        wait_ns = min(clock.wall_ns_until(fs.ex.next_tick_ns), max(0, self._next_sync_local - clock.local_ns()))
        return min(wait_ns / NS, 0.2)

    def _rt_tick(self, fs: FlightStack, t: int) -> None:
        from flight.clock import stopwatch_ns
        from skyrack.sil import job_spec

        clock = self.sync_clock
        self._rt_late_max_ns = max(self._rt_late_max_ns, clock.now_ns() - t)
        try:
            while self._next_job < len(self._jobs) and self._jobs[self._next_job].release_s * NS <= t:
                if fs.scheduler is not None:
                    fs.scheduler.submit(t, job_spec(self._jobs[self._next_job]))
                self._next_job += 1
            self.clock.set(t)
            start = stopwatch_ns()
            fs.ex.tick(t)
            took = stopwatch_ns() - start
        except _SessionLost:
            return
        k = self.ticks % (1 << 32)
        self.ticks += 1
        payload = self._payload_stats(fs)
        if not self._link_up(clock.local_ns()):
            self._rt_skipped_reports += 1  # it would only queue behind a dead link
            return
        st = clock.stats
        io = self.rt_io
        stats = (("step_ns", took), ("overruns", sum(s.overruns for s in fs.ex.stats.values())),
                 ("radio_tm", self.radio.frames_sent if self.radio is not None else 0),
                 ("clock_offset_ns", st.offset_ns), ("clock_offset_max_ns", st.offset_max_ns),
                 ("clock_jitter_ns", st.jitter_ns), ("clock_rtt_ns", st.rtt_ns), ("clock_samples", st.samples),
                 ("bus_timeouts", io.timeouts if io is not None else 0), ("late_max_ns", self._rt_late_max_ns),
                 *payload)
        self.link.send_message(TickDone(k, stats))

    def _rt_exchange(self, transfers: tuple[BusTransfer, ...]) -> tuple[TransferResult, ...]:
        """One BUS_BATCH_T round trip, given up after the bus timeout (LinkTimeoutError); at once while the link is
        down. During boot (before the clock runs) the timeout is longer and there is no deadline."""
        clock = self.sync_clock
        local = clock.local_ns()
        if not self._link_up(local):
            raise LinkTimeoutError
        self._batch_id = (self._batch_id + 1) % 0x10000
        timeout = self.bus_timeout_ns if self.rt_running else max(self.bus_timeout_ns, 5 * NS)
        deadline = clock.now_ns() + int(timeout * clock.speed) if self.rt_running else (1 << 63) - 1
        self.link.send_message(TimedBusBatch(deadline, BusBatch(self._batch_id, transfers)))
        t_end = local + timeout
        while True:
            left = t_end - clock.local_ns()
            if left <= 0:
                raise LinkTimeoutError
            got = self._service(min(left / NS, 0.05))
            for k, m in enumerate(got):
                if m.kind == Kind.BUS_RESULT:
                    try:
                        r = BusResult.decode(m.payload)
                    except MessageError:
                        continue
                    if r.batch_id == self._batch_id and len(r.results) == len(transfers):
                        for rest in got[k + 1:]:
                            self._triage(rest)
                        return r.results
                    continue  # the late answer to a batch given up on
                if m.kind in (Kind.HELLO, Kind.ERROR):
                    self.backlog.extend(got[k:])
                    raise _SessionLost
                if m.kind in (Kind.RADIO_STATE, Kind.RADIO_TC):
                    self._handle(m)
                else:
                    self._triage(m)

    def _rt_report(self) -> dict[str, Any]:
        st = self.sync_clock.stats
        io = self.rt_io
        return {"speed": self.sync_clock.speed, "clock_samples": st.samples,
                "clock_offset_ms": st.offset_ns / 1e6, "clock_offset_max_ms": st.offset_max_ns / 1e6,
                "clock_jitter_ms": st.jitter_ns / 1e6, "clock_rtt_ms": st.rtt_ns / 1e6,
                "clock_rtt_min_ms": st.rtt_min_ns / 1e6, "clock_steps": st.steps,
                "bus_timeouts": io.timeouts if io is not None else 0,
                "tick_late_max_ms": self._rt_late_max_ns / 1e6, "reports_skipped": self._rt_skipped_reports,
                "ticks": self.ticks}

    @property
    def established(self) -> bool:
        return self.link.state is LinkState.ESTABLISHED
