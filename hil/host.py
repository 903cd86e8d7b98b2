"""`hil serve`: the emulator served to a board over the link, in lockstep (`hil.lockstep`).

The host owns simulated time. For each control tick it advances the emulator, runs the board's declared
poll on the emulated buses, sends the TICK with the results, and serves the board's bus transfers and radio
frames until TICK_DONE; then the next tick. Uplinks, ground reception and the logs are as in `skyrack run`,
and so are the outputs (downlink.cadu, summary.json, timeline.log, timeseries.csv): with the same scenario
and seed the downlink capture is byte-identical to a SIL run. The summary's flight-side counts come from the
board's REPORT at the end of the run; `hil` in the summary holds the link figures.

Real-time mode (`run(..., speed=S)`, `hil serve --realtime [--speed S]`): simulated time is the host's wall
clock times S from the board's boot on (`flight.clock.PacedClock`); the host advances the emulator to it in
small steps on its own, answers the board's bus batches at the present simulated time (none after its
deadline: the board has given up on it), answers TIME requests with its simulated time, and takes the board's
per-tick TICK_DONE as figures (nothing waits on it). Not byte-identical to a SIL run (see docs/hil.md).

Real-payload boards send their measured power in TICK_DONE (`payload_mw`); the host puts it in place of the
emulated payload's draw (`Emulator.set_payload_power_override`), in either mode.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import IO, Any

from flight.clock import PacedClock
from hil.link import Link, LinkConfig, LinkState, Message
from hil.lockstep import LOCKSTEP_VERSION, DocAssembler, LockstepError, PollGroup, doc_parts, transfers_to_groups
from hil.messages import (
    BusBatch,
    BusOp,
    BusResult,
    BusStatus,
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
from hil.transport import Port

__all__ = ["SOFTWARE", "Host", "scenario_text"]

SOFTWARE = f"skyrack-hil lockstep/{LOCKSTEP_VERSION}"
NS = 1_000_000_000
_NEEDS = Capability.LOCKSTEP | Capability.POLL_PUSH


def scenario_text(name_or_path: str | Path) -> tuple[str, str]:
    """(TOML text, source name) of a preset or a scenario file, as `emulator.scenario.load` reads it."""
    from emulator.scenario import ScenarioError, preset_names

    name = str(name_or_path)
    if name in preset_names():
        return (resources.files("emulator") / "presets" / f"{name}.toml").read_text(encoding="utf-8"), \
            f"preset {name}"
    path = Path(name_or_path)
    if not path.exists():
        raise ScenarioError(f"{name}: no such scenario file or preset (presets: {', '.join(preset_names())})")
    try:
        return path.read_text(encoding="utf-8"), name
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{name}: cannot read ({exc})") from None


def _kind_name(kind: int) -> str:
    try:
        return Kind(kind).name
    except ValueError:
        return f"0x{kind:02x}"


class Host:
    """The host end of one link (and optionally a second link for radio frames)."""

    def __init__(self, port: Port, *, config: LinkConfig | None = None, radio_port: Port | None = None,
                 radio_config: LinkConfig | None = None, timeout_s: float = 30.0, port_name: str = "the port",
                 log: Callable[[str], None] = lambda _: None) -> None:
        self.link = Link(Role.HOST, config or LinkConfig(), software=SOFTWARE,
                         capabilities=Capability.LOCKSTEP | Capability.POLL_PUSH | Capability.REALTIME
                         | (Capability.RADIO_PORT if radio_port is not None else Capability.NONE))
        self.pump = LinkPump(self.link, port)
        self.radio_pump: LinkPump | None = None
        if radio_port is not None:
            self.radio_pump = LinkPump(Link(Role.HOST, radio_config or LinkConfig(), software=SOFTWARE,
                                            capabilities=Capability.RADIO_PORT), radio_port)
        self.pumps = [self.pump] if self.radio_pump is None else [self.pump, self.radio_pump]
        self.timeout_s = timeout_s
        self.port_name = port_name
        self.log = log
        self.board: Hello | None = None
        self.emu: Any = None
        self.docs = DocAssembler()
        self.booted: dict[str, Any] | None = None
        self.report: dict[str, Any] | None = None
        self.done: TickDone | None = None
        self.poll: tuple[PollGroup, ...] = ()
        self.poll_id = 0
        self.running = False
        self.board_restarted = False
        self.boots = 0
        self.t_ns = 0
        self.tm_received = 0
        self.tc_sent = 0
        self.ticks = 0
        self.first_tick_wall: float | None = None  # time.monotonic() at the first TICK
        self.last_tick_wall = 0.0
        self._frames_at_first_tick = (0, 0)
        self.step_ns_total = 0
        self.step_ns_max = 0
        self.overruns = 0
        self.bus_batches = 0
        self._radio_sent: tuple[bool, float] | None = None
        # real-time mode
        self.speed: float | None = None  # set: the run is a real-time one
        self.paced: PacedClock | None = None  # simulated time, from the board's boot on
        self._pending_uplinks: list[tuple[int, bytes]] = []
        self._end_ns = 0
        self.rt = RealtimeFigures()
        self.payload_power_w: float | None = None  # the last power a real-payload board measured
        self.payload_samples = 0

    # ------------------------------------------------------------------ link

    def _silent_check(self, what: str) -> None:
        silent = self.link.silent_ns(time.monotonic_ns())
        if silent is not None and silent > self.timeout_s * NS:
            raise LockstepError(f"the board stopped answering {what} (silent for {silent / NS:.0f} s): check the "
                                "cable and that `skyrack hil fly` still runs")

    def _pump(self, until: Callable[[], bool], what: str) -> None:
        while not until():
            self._service(0.2)
            self._silent_check(what)

    def _service(self, timeout_s: float) -> None:
        """Serve both links once (waiting up to timeout_s) and handle what came in, radio frames first."""
        got = service_all(self.pumps, timeout_s)
        if self.radio_pump is not None:
            for m in got[1]:
                self._handle_radio(m)
        for m in got[0]:
            self._handle(m)

    def connect(self) -> Hello:
        """Wait for the board's HELLO and the link up; LockstepError after timeout_s or on a mismatch."""
        t_end = time.monotonic() + self.timeout_s
        up = [self.pump.link] + ([self.radio_pump.link] if self.radio_pump is not None else [])
        while self.board is None or any(lk.state is not LinkState.ESTABLISHED for lk in up):
            if time.monotonic() > t_end:
                missing = "radio link" if self.board is not None else "board"
                raise LockstepError(f"no {missing} answered on {self.port_name} within {self.timeout_s:g} s: check "
                                    "the wiring (TX to RX, RX to TX, ground), the baud rate, and that `skyrack hil "
                                    "fly` runs at the other end")
            self._service(0.1)
        assert self.board is not None
        if (self.board.capabilities & _NEEDS) != _NEEDS:
            raise LockstepError(f"the board ({self.board.software or 'unknown software'}) does not offer lockstep "
                                "with a pushed poll; run `skyrack hil fly` of this release on it")
        return self.board

    def close(self, reason: str | None = None) -> None:
        """Tell the board why the host stops (best effort), then stop."""
        if reason is not None and self.link.state is LinkState.ESTABLISHED:
            self.link.send_message(ErrorMsg(ErrorCode.INTERNAL, reason))
            t_end = time.monotonic() + 0.5
            while self.link.pending() and time.monotonic() < t_end:
                service_all(self.pumps, 0.05)

    # ------------------------------------------------------------------ messages

    def _handle_radio(self, m: Message) -> None:
        if m.kind == Kind.RADIO_TM:
            self.emu.radio.send(m.payload)
            self.tm_received += 1
        elif m.kind == Kind.ERROR and m.local:
            raise LockstepError(f"radio link: {ErrorMsg.decode(m.payload).text}")

    def now_ns(self) -> int:
        """The host's simulated time: the paced clock in a real-time run, else the tick being run."""
        return self.paced.now_ns() if self.paced is not None else self.t_ns

    def _handle(self, m: Message) -> None:
        if m.kind == Kind.RADIO_TM:
            self.emu.radio.send(m.payload)
            self.tm_received += 1
            return
        try:
            body = m.decode()
        except MessageError as exc:
            raise LockstepError(f"a bad message from the board: {exc}") from None
        if isinstance(body, Hello):
            if self.running:
                self.board_restarted = True
            self.board = body
        elif isinstance(body, ErrorMsg):
            raise LockstepError(body.text if m.local else f"the board reports: {body.text}")
        elif isinstance(body, BusBatch):
            self.bus_batches += 1
            self.link.send_message(BusResult(body.batch_id, self._perform(body.transfers)))
        elif isinstance(body, TimedBusBatch):
            self.bus_batches += 1
            batch = body.batch
            if self.paced is not None:
                self._rt_advance(min(self.paced.now_ns(), self._end_ns))
            if self.paced is not None and self.emu.t_ns > body.deadline_ns:
                self.rt.batches_expired += 1
                results = tuple(TransferResult(BusStatus.ERROR, (), t.width) for t in batch.transfers)
            else:
                results = self._perform(batch.transfers)
            self.link.send_message(BusResult(batch.batch_id, results))
        elif isinstance(body, TimeSync):
            if body.phase == 0:
                self.link.send_message(TimeSync(1, body.id, body.t_board_ns, self.now_ns()))
        elif isinstance(body, PollList):
            self.poll = transfers_to_groups(body.groups)
            self.poll_id = body.list_id
        elif isinstance(body, Doc):
            done = self.docs.add(body)
            if done is not None:
                doc, obj = done
                if doc is DocType.BOOTED:
                    self.booted = obj
                    if self.speed is not None:  # simulated time runs from the board's boot on
                        self.paced = PacedClock(self.speed, int(obj["t_ns"]))
                elif doc is DocType.REPORT:
                    self.report = obj
                else:
                    raise LockstepError(f"unexpected DOC {doc.name} from the board")
        elif isinstance(body, TickDone):
            self.done = body
            self._board_power(body)
            if self.speed is not None:
                self._rt_done(body)
        else:
            raise LockstepError(f"unexpected {_kind_name(m.kind)} message from the board")

    def _board_power(self, done: TickDone) -> None:
        """A real-payload board's measured power replaces the emulated payload's draw."""
        mw = done.stat("payload_mw")
        if mw is None or mw < 0 or self.emu is None or self.emu.scenario.payload is None:
            return
        self.payload_power_w = mw / 1000.0
        self.payload_samples += 1
        self.emu.set_payload_power_override(self.payload_power_w)

    # ------------------------------------------------------------------ real time

    def _rt_done(self, done: TickDone) -> None:
        took = done.stat("step_ns") or 0
        self.ticks += 1
        self.step_ns_total += took
        self.step_ns_max = max(self.step_ns_max, took)
        self.overruns = done.stat("overruns") or self.overruns
        self.last_tick_wall = time.monotonic()
        if self.first_tick_wall is None:
            self.first_tick_wall = self.last_tick_wall
            self._frames_at_first_tick = (self.link.stats.frames_sent, self.link.stats.frames_received)
        self.rt.take(done)

    def _rt_advance(self, t_ns: int) -> None:
        """Uplinks due, the emulator to t_ns (never back), the radio's news to the board."""
        emu = self.emu
        if t_ns <= emu.t_ns:
            return
        while self._pending_uplinks and self._pending_uplinks[0][0] <= t_ns:
            emu.radio.uplink(self._pending_uplinks.pop(0)[1])
        emu.advance(t_ns - emu.t_ns)
        self.t_ns = t_ns
        tcs = emu.radio.receive()
        tc_link = self.radio_pump.link if self.radio_pump is not None else self.link
        for frame in tcs:
            tc_link.send(Kind.RADIO_TC, frame)
            self.tc_sent += 1
        self._send_radio_state(force=bool(tcs) and self.radio_pump is not None)

    def _run_realtime(self, setup: dict[str, Any], observe: Callable[[int], None],
                      progress: Callable[[float], None] | None) -> None:
        """The real-time loop (see the module docstring), to self._end_ns."""
        assert self.board is not None and self.speed is not None
        if not self.board.capabilities & Capability.REALTIME:
            raise LockstepError(f"the board ({self.board.software or 'unknown software'}) does not offer "
                                "real-time mode; run `skyrack hil fly` of this release on it")
        end_ns = self._end_ns
        self.setup(setup, 0)
        wall0, sim0 = time.monotonic_ns(), self.now_ns()
        next_progress = 0
        step_s = min(0.01, 0.5 / self.speed)  # the emulator moves in steps of at most 0.5 s simulated
        while True:
            assert self.paced is not None
            now = self.paced.now_ns()
            self.rt.step_max_ns = max(self.rt.step_max_ns, min(now, end_ns) - self.emu.t_ns)
            self._rt_advance(min(now, end_ns))
            observe(self.emu.t_ns)
            if progress is not None and self.emu.t_ns >= next_progress:
                progress(self.emu.t_ns / NS)
                next_progress += 10 * NS
            if now >= end_ns:
                self.rt.paced_wall_ns, self.rt.paced_sim_ns = time.monotonic_ns() - wall0, now - sim0
                break
            self._service(min(step_s, self.paced.wall_ns_until(end_ns) / NS))
            self._silent_check(f"at t = {self.emu.t_ns / NS:.0f} s")
            if self.board_restarted:
                self.board_restarted = False
                t = -(-self.emu.t_ns // NS) * NS  # the next whole second
                self.log(f"the board restarted: its flight software boots again at t = {t / NS:.0f} s")
                self.setup(setup, t)

    # ------------------------------------------------------------------ the emulated buses

    def _perform(self, transfers: tuple[BusTransfer, ...]) -> tuple[TransferResult, ...]:
        """The transfers on the emulated buses, in order (runs of single-word reads in one batch call)."""
        from flight.interfaces import BusError

        out: list[TransferResult] = []
        buses = self.emu.buses
        i = 0
        while i < len(transfers):
            t = transfers[i]
            if t.bus >= len(buses):
                out.append(TransferResult(BusStatus.NACK, (), t.width))
                i += 1
                continue
            bus = buses[t.bus]
            if t.op == BusOp.READ and t.count == 1:
                j = i
                while j < len(transfers) and transfers[j].op == BusOp.READ and transfers[j].count == 1 \
                        and transfers[j].bus == t.bus:
                    j += 1
                ops = tuple((x.address, x.register, x.width) for x in transfers[i:j])
                out += _words_results(ops, bus.read_registers(ops))
                i = j
                continue
            try:
                if t.op == BusOp.READ:
                    data = bus.transfer(t.address, bytes([t.register]), t.count * t.width)
                    words = tuple(int.from_bytes(data[k:k + t.width], "big") for k in range(0, len(data), t.width))
                    out.append(TransferResult(BusStatus.OK, words, t.width))
                elif t.op == BusOp.WRITE:
                    bus.transfer(t.address, bytes([t.register]) + b"".join(w.to_bytes(t.width, "big")
                                                                            for w in t.words), 0)
                    out.append(TransferResult(BusStatus.OK, (), t.width))
                else:
                    data = bus.transfer(t.address, bytes(t.words), t.count)
                    out.append(TransferResult(BusStatus.OK, tuple(data), 1))
            except BusError as exc:
                status = BusStatus.NACK if "NACK" in exc.reason else BusStatus.ERROR
                out.append(TransferResult(status, (), t.width))
            i += 1
        return tuple(out)

    def _run_poll(self) -> BusResult | None:
        if not self.poll:
            return None
        results: list[TransferResult] = []
        for bus, ops in self.poll:
            words = self.emu.buses[bus].read_registers(ops)
            results += _words_results(ops, words)
            if None in words:
                break  # the board reads the rest itself, after its retries of the failed device
        return BusResult(self.poll_id, tuple(results))

    # ------------------------------------------------------------------ session

    def _send_radio_state(self, force: bool = False) -> None:
        radio = self.emu.radio
        state = (bool(radio.in_contact()), float(radio.downlink_bps()))
        if force or state != self._radio_sent:
            self.link.send_message(RadioState(state[0], state[1], self.tc_sent))
            self._radio_sent = state

    def setup(self, setup: dict[str, Any], t_ns: int) -> None:
        """SETUP at t_ns; returns once the board has booted its flight software."""
        self.poll, self.booted = (), None
        self.docs.reset()
        self._send_radio_state(force=True)
        for part in doc_parts(DocType.SETUP, {**setup, "t_ns": t_ns, "lockstep": LOCKSTEP_VERSION}):
            self.link.send_message(part)
        self._pump(lambda: self.booted is not None, "while it booted")
        self.boots += 1
        assert self.booted is not None
        if int(self.booted["t_ns"]) != t_ns:
            raise LockstepError(f"the board booted for t = {self.booted['t_ns']} ns, the host is at {t_ns} ns")

    def tick(self, t_ns: int, setup: dict[str, Any]) -> None:
        """One control tick at t_ns (the emulator advanced to it): TICK out, served until TICK_DONE."""
        tcs = self.emu.radio.receive()
        tc_link = self.radio_pump.link if self.radio_pump is not None else self.link
        for frame in tcs:
            tc_link.send(Kind.RADIO_TC, frame)
            self.tc_sent += 1
        self._send_radio_state(force=bool(tcs) and self.radio_pump is not None)
        k = self.ticks % (1 << 32)
        if self.first_tick_wall is None:
            self.first_tick_wall = time.monotonic()
            self._frames_at_first_tick = (self.link.stats.frames_sent, self.link.stats.frames_received)
        self.done = None
        self.link.send_message(Tick(t_ns, k, self._run_poll()))
        while True:
            self._pump(lambda: (self.done is not None and self.done.tick == k) or self.board_restarted,
                       f"at t = {t_ns / NS:.0f} s")
            if not self.board_restarted:
                break
            self.board_restarted = False
            self.log(f"the board restarted: its flight software boots again at t = {t_ns / NS:.0f} s")
            self.setup(setup, t_ns)
            self.done = None
            self.link.send_message(Tick(t_ns, k, None))
        assert self.done is not None
        want = self.done.stat("radio_tm")
        if self.radio_pump is not None and want is not None:
            self._pump(lambda: self.tm_received >= want, "on the radio link")
        took = self.done.stat("step_ns") or 0
        self.step_ns_total += took
        self.step_ns_max = max(self.step_ns_max, took)
        self.overruns = self.done.stat("overruns") or self.overruns
        self.ticks += 1
        self.last_tick_wall = time.monotonic()

    def end(self, t_end_ns: int) -> dict[str, Any]:
        for part in doc_parts(DocType.END, {"t_end_ns": t_end_ns}):
            self.link.send_message(part)
        self._pump(lambda: self.report is not None, "at the end of the run")
        assert self.report is not None
        t_end = time.monotonic() + 0.1  # the ack of the REPORT goes out (the board waits for it to finish)
        while time.monotonic() < t_end:
            service_all(self.pumps, 0.02)
        return self.report

    # ------------------------------------------------------------------ the run

    def run(self, scenario: str | Path, duration_s: float, out_dir: Path, seed: int | None = None,
            policy: str = "skyrack", progress: Callable[[float], None] | None = None,
            faults: tuple[tuple[float, Any], ...] = (), speed: float | None = None) -> Any:
        """The closed loop with the board as the flight computer; the outputs of `skyrack run` in out_dir.
        faults: (time s, emulator.faults fault) injected into the emulator, as `skyrack.sil.run` takes them.
        speed: None runs in lockstep; a factor runs in real time (1.0: simulated time is wall time).
        Returns a skyrack.sil.RunResult."""
        if speed is not None and not speed > 0:
            raise ValueError(f"speed factor must be > 0, got {speed}")
        self.speed = speed
        self.paced = None
        from emulator import Emulator
        from emulator.radio import Delivered
        from emulator.scenario import loads_toml
        from emulator.workload import generate
        from flight.sched_policies import make_policy
        from skyrack.sil import (
            KEY_FILE,
            SERIES,
            SERIES_INTERVAL_NS,
            STEP_NS,
            RunResult,
            _Tracker,
            plan_uplinks,
            write_timeseries,
            write_uplink_key,
        )

        text, source = scenario_text(scenario)
        sc0 = loads_toml(text, source)
        make_policy(policy)
        out_dir.mkdir(parents=True, exist_ok=True)
        key_path = out_dir / KEY_FILE
        write_uplink_key(key_path)
        capture_path = out_dir / "downlink.cadu"
        capture: IO[bytes] = capture_path.open("wb")
        delivered = [0, 0]

        def to_ground(d: Delivered) -> None:
            capture.write(d.frame)
            delivered[0] += 1
            delivered[1] += len(d.frame)

        wall0 = time.monotonic()
        self.emu = emu = Emulator(sc0, seed=seed, sink=to_ground)
        sc = emu.scenario
        for at_s, fault in faults:
            emu.inject(fault, at_ns=round(at_s * NS))
        setup = {"run_id": secrets.token_hex(8), "scenario_toml": text, "scenario_source": source, "seed": seed,
                 "policy": policy, "key": key_path.read_text(encoding="utf-8")}
        pending_uplinks = sorted(plan_uplinks(sc, key_path))
        tr = _Tracker(max_temp_k={n.name: 0.0 for n in sc.nodes})
        end_ns = int(duration_s * NS)
        emu.start_log([*SERIES, *(f"node_temp_k[{n.name}]" for n in sc.nodes)], SERIES_INTERVAL_NS)
        st = emu.state
        timeline: list[tuple[int, str]] = []
        contact = [False]
        report: dict[str, Any] | None = None

        def observe(t: int) -> None:
            soc = float(st["battery_soc"])
            tr.min_soc = min(tr.min_soc, soc)
            temps = st["node_temp_k"]
            for k, n in enumerate(sc.nodes):
                if temps[k] > tr.max_temp_k[n.name]:
                    tr.max_temp_k[n.name] = float(temps[k])
            if emu.radio.in_contact() != contact[0]:
                contact[0] = not contact[0]
                station = sc.stations[int(st["contact_station"])].name if contact[0] else ""
                timeline.append((t, f"AOS {station}" if contact[0] else "LOS"))

        self.running = True
        try:
            if speed is not None:
                self._pending_uplinks, self._end_ns = pending_uplinks, end_ns
                self._run_realtime({**setup, "mode": "realtime", "speed": speed}, observe, progress)
            else:
                self.setup(setup, 0)
                t = 0
                while t <= end_ns:
                    while pending_uplinks and pending_uplinks[0][0] <= t:
                        emu.radio.uplink(pending_uplinks.pop(0)[1])
                    emu.advance(t - emu.t_ns)
                    self.t_ns = t
                    self.tick(t, setup)
                    observe(t)
                    if progress is not None and t % (10 * NS) == 0:
                        progress(t / NS)
                    t += STEP_NS
            report = self.end(end_ns)
        finally:
            self.running = False
            capture.close()
            for b in (report or {}).get("boots", []):
                for t_ev, event_id, severity, p1, p2, text_ in b["events"]:
                    detail = f" {text_}" if text_ else ""
                    timeline.append((int(t_ev), f"{event_id} {severity} ({p1}, {p2}){detail}"))
            with (out_dir / "timeline.log").open("w", encoding="utf-8") as log:
                for t_ev, line in sorted(timeline, key=lambda x: x[0]):
                    log.write(f"{t_ev / NS:10.1f} s  {line}\n")
        write_timeseries(out_dir / "timeseries.csv", emu.log_data(), sc)
        workload = generate(sc.workload) if sc.workload is not None else ()
        wall = time.monotonic() - wall0
        summary = self._summary(sc, report, tr, end_ns, wall, capture_path, workload, delivered)
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return RunResult(summary, out_dir)

    def _summary(self, sc: Any, report: dict[str, Any], tr: Any, end_ns: int, wall: float, capture: Path,
                 workload: tuple[Any, ...], delivered: list[int]) -> dict[str, Any]:
        from flight.dictionary import load_dictionary
        from ground.jobs import delivered_jobs, score
        from skyrack.sil import cuc_offset_ns

        emu = self.emu
        boots = report["boots"]
        counts: dict[str, int] = {}
        for b in boots:
            for k, v in b["counts"].items():
                counts[k] = counts.get(k, 0) + int(v)
        got = delivered_jobs(capture, load_dictionary()) if workload else {}
        end_s = end_ns / NS
        sc_ = score(workload, got, end_s, cuc_offset_ns(sc.epoch) / NS)
        work_s = float(emu.state["work_total_s"])
        snap = emu.snapshot()
        ls = self.link.stats
        return {
            "scenario": sc.name,
            "seed": sc.seed,
            "sim_seconds": end_s,
            "wall_seconds": wall,
            "speed_factor": end_s / wall if wall > 0 else None,
            "min_soc": tr.min_soc,
            "max_temp_c": {k: v - 273.15 for k, v in tr.max_temp_k.items()},
            "violations": counts.get("LIMIT_VIOLATION", 0),
            "safe_mode_entries": sum(int(b["safe_entries"]) for b in boots),
            "mode_time_s": report["mode_time_s"],
            "events": {k: counts[k] for k in sorted(counts)},
            "policy": report["policy"],
            "jobs_released": sc_.released,
            "jobs_completed": report["jobs_completed"],
            "jobs_delivered": sc_.delivered,
            "jobs_late": sc_.late,
            "deadline_misses": sc_.deadline_misses,
            "value_released": round(sc_.value_released, 2),
            "value_delivered": round(sc_.value_delivered, 2),
            "work_done_s": work_s,
            "payload_utilization": work_s / end_s if end_s > 0 else 0.0,
            "work_lost_s": report["work_lost_s"],
            "payload_energy_j": float(emu.state["e_payload_j"]),
            "packets_generated": sum(int(b["hk_generated"]) + sum(b["counts"].values()) + int(b["parts_written"])
                                     for b in boots),
            "housekeeping_generated": sum(int(b["hk_generated"]) for b in boots),
            "packets_downlinked": sum(int(b["packets_downlinked"]) for b in boots),
            "packets_stored": report["packets_stored"],
            "frames_downlinked": delivered[0],
            "energy_harvested_j": snap["energy_j"]["array_used"],
            "energy_available_j": snap["energy_j"]["array_available"],
            "energy_used_j": snap["energy_j"]["loads"],
            "executive_overruns": sum(int(b["overruns"]) for b in boots),
            "device_init_errors": report["device_init_errors"],
            "boots": self.boots,
            "hil": {
                "mode": "lockstep" if self.speed is None else "realtime",
                **({"realtime": self.rt.summary(self.speed, report)} if self.speed is not None else {}),
                **({"real_payload": {"power_samples": self.payload_samples,
                                     "last_power_w": self.payload_power_w, **report.get("real_payload", {})}}
                   if self.payload_samples or "real_payload" in report else {}),
                "board_software": self.board.software if self.board is not None else None,
                "ticks": self.ticks,
                "tick_wall_seconds": self.last_tick_wall - self.first_tick_wall if self.first_tick_wall else 0.0,
                "board_step_ms_mean": self.step_ns_total / self.ticks / 1e6 if self.ticks else 0.0,
                "board_step_ms_max": self.step_ns_max / 1e6,
                "bus_batches": self.bus_batches,
                "poll_pushed_groups": report.get("poll_pushed_groups", 0),
                "radio_tm_frames": self.tm_received,
                "radio_tc_frames": self.tc_sent,
                "link_frames_sent": ls.frames_sent,
                "link_frames_sent_per_tick": (ls.frames_sent - self._frames_at_first_tick[0]) / max(self.ticks, 1),
                "link_frames_received_per_tick": (ls.frames_received - self._frames_at_first_tick[1])
                / max(self.ticks, 1),
                "link_frames_received": ls.frames_received,
                "link_bytes_sent": ls.bytes_sent,
                "link_bytes_received": ls.bytes_received,
                "link_retransmissions": ls.retransmissions,
                "link_rejected_frames": ls.rejected_frames,
                "link_srtt_ms": ls.srtt_ns / 1e6,
            },
        }


class RealtimeFigures:
    """What a real-time run measured: the board's clock synchronization (from its TICK_DONE figures) and the
    host's pacing."""

    def __init__(self) -> None:
        self.batches_expired = 0
        self.step_max_ns = 0  # the longest emulator step (simulated ns): how coarsely it follows the clock
        self.paced_sim_ns = 0  # simulated time run on the paced clock, and the wall time it took
        self.paced_wall_ns = 0
        self.offsets_ns: list[int] = []  # the board's clock offset at each tick (its last exchange's)
        self.last: dict[str, int] = {}

    def take(self, done: TickDone) -> None:
        self.last = dict(done.stats)
        if (done.stat("clock_samples") or 0) > 3:  # after the first corrections
            self.offsets_ns.append(done.stat("clock_offset_ns") or 0)

    def summary(self, speed: float, report: dict[str, Any]) -> dict[str, Any]:
        board = report.get("realtime", {})
        off = self.offsets_ns
        return {
            "speed": speed,
            "clock_offset_ms_max": max((abs(x) for x in off), default=0) / 1e6,
            "clock_offset_ms_mean": sum(off) / len(off) / 1e6 if off else 0.0,
            "clock_jitter_ms": board.get("clock_jitter_ms", self.last.get("clock_jitter_ns", 0) / 1e6),
            "clock_rtt_ms": board.get("clock_rtt_ms", 0.0),
            "clock_rtt_min_ms": board.get("clock_rtt_min_ms", 0.0),
            "clock_samples": board.get("clock_samples", 0),
            "board_ticks": board.get("ticks", 0),
            "clock_steps": board.get("clock_steps", 0),
            "bus_timeouts": board.get("bus_timeouts", 0),
            "bus_batches_expired": self.batches_expired,
            "board_tick_late_max_ms": board.get("tick_late_max_ms", 0.0),
            "emulator_step_max_ms": self.step_max_ns / 1e6,
            "pacing_ratio": self.paced_sim_ns / (self.paced_wall_ns * speed) if self.paced_wall_ns else None,
        }


def _words_results(ops: tuple[tuple[int, int, int], ...], words: list[int | None]) -> list[TransferResult]:
    return [TransferResult(BusStatus.OK, (w,), op[2]) if w is not None else TransferResult(BusStatus.ERROR, (), op[2])
            for op, w in zip(ops, words, strict=True)]
