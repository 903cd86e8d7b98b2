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
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hil.board import BoardBuses, DivergedError, LinkRadio, TickClock
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
    TransferResult,
)
from hil.pump import LinkPump, service_all
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
                 connect_timeout_s: float | None = None, sysfs_root: str | Path = "/") -> None:
        caps = Capability.LOCKSTEP | Capability.POLL_PUSH | (Capability.RADIO_PORT if radio_port else Capability.NONE)
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
            for m in self._service(0.2):
                self.backlog.append(m)
            self._check_silence()
        return 0

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
            self._tick(body)
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
        if self.io is not None:
            self.io.abandon()
        try:
            fs.store.close()
        except OSError as exc:
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
        self.io = BoardBuses(self._exchange, failed_key=self._failed_key)
        self.clock = TickClock(t_ns)
        self.log(f"{'resuming' if resume else 'starting'} run {run_id} of {sc.name} (seed {sc.seed}) at "
                 f"t = {t_ns / NS:.0f} s")
        try:
            fs = FlightStack(self.io.buses, self.radio, sc, hardware_from_scenario(sc), state,
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
                 ("radio_tm", radio.frames_sent))
        self.link.send_message(TickDone(tick.tick, stats))

    def _end(self, obj: dict[str, Any]) -> None:
        fs = self.stack
        if fs is None:
            self._error(ErrorCode.PROTOCOL, "END without a run")
            return
        report = self.report(int(obj.get("t_end_ns", fs.ex.next_tick_ns)))
        fs.store.close()
        self.stack = None
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
            "packets_stored": fs.store.stats.pending,
            "device_init_errors": list(fs.sensors.init_errors),
            "policy": sched.policy.name.lower() if sched is not None else None,
            "jobs_completed": sched.completed if sched is not None else 0,
            "work_lost_s": sum(st.lost_s for st in sched.jobs.values()) if sched is not None else 0.0,
            "poll_pushed_groups": self.io.pushed_groups if self.io is not None else 0,
            "bus_round_trips": self.io.round_trips if self.io is not None else 0,
        }

    @property
    def established(self) -> bool:
        return self.link.state is LinkState.ESTABLISHED
