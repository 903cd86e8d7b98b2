"""The telecommand uplink: CLTUs from the radio to executed commands, with PUS service 1 verification.

Each step, for every CLTU the radio received:
    CLTU decode (flight/ccsds/cltu.py; single-bit errors per codeblock corrected) -> the TC frame, trimmed by
    its length field -> SDLS verify (authentication on by default: MAC, anti-replay) -> TC frame decode ->
    FARM-1 (type-A sequence controlled, type-B bypass; control commands only act on FARM) -> the TC packet ->
    the command dictionary (acceptance) -> the handler (start, completion).
A frame rejected below the packet layer executes nothing: it is counted by reason (`rejected`; hk_values() gives
the fields of the uplink_hk housekeeping packet) and raises a TC_REJECTED event (param1 the RejectReason, param2
the SDLS SN or 0). A packet that fails acceptance gets a 1,2 report with its FailureCode; success reports follow
the TC's acknowledgement flags, failure reports are always sent. The reports are the verification packets of
the telemetry dictionary (CommandDictionary.report). No wall clock, no I/O: the radio, the sink and the
handlers' objects are given.

Time-tagged commands (PUS service 11, flight/timetag.py): load_time_tagged embeds a command (its service,
subtype and application data), decoded and range-checked at acceptance (an invalid embedded command gets the
1,2 report of its own failure; a service 11 command cannot be embedded: UNKNOWN_COMMAND). Once accepted, the
load starts (or fails to start: TIME_IN_PAST, SCHEDULE_FULL) and completes when the command is in the
schedule. At its time the time-tag component hands the embedded command back to execute(): its start and
completion reports carry the request ID and acknowledgement flags of the load_time_tagged TC. Without a
time-tag component (Uplink.timetag None) the service 11 commands are refused at acceptance (UNKNOWN_COMMAND).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol

from flight.ccsds import cltu
from flight.ccsds.errors import DecodeError
from flight.ccsds.farm import Farm, FarmEvent
from flight.ccsds.keystore import KeyOpStatus
from flight.ccsds.sdls import SdlsEndpoint
from flight.ccsds.tc_frame import TcFrame, frame_length
from flight.dictionary.commands import (
    ACK_ACCEPTANCE,
    ACK_COMPLETION,
    ACK_PROGRESS,
    ACK_START,
    ArgValue,
    CommandDictionary,
    CommandError,
    DecodedCommand,
    FailureCode,
    RequestId,
    Stage,
)
from flight.events import EventReporter, PacketSink
from flight.jobs import JobSpec
from flight.modes import ALLOWED, Mode, ModeManager
from flight.params import ParamError, Parameters
from flight.switches import LoadSwitches
from flight.timetag import ScheduleError, TimeTag

NS = 1_000_000_000
TIME_TAG_SERVICE = 11


class RejectReason(IntEnum):
    """Why a received CLTU or frame was dropped before any packet was looked at (TC_REJECTED param1)."""

    CLTU = 1  # no start sequence, truncated, or the first codeblock uncorrectable
    FRAME_LENGTH = 2  # the frame's length field is beyond the CLTU's data, or under a frame header
    SDLS_BAD_LENGTH = 11
    SDLS_BAD_FECF = 12
    SDLS_UNKNOWN_SPI = 13
    SDLS_NO_KEY = 14
    SDLS_BAD_IV = 15
    SDLS_BAD_MAC = 16
    SDLS_REPLAY = 17
    SDLS_OUT_OF_WINDOW = 18
    FRAME = 20  # not a TC frame (version, FECF) once in clear
    FARM_INVALID = 21  # another spacecraft or virtual channel, or an unknown control command
    FARM_DISCARD = 22  # FARM-1 discarded it (out of sequence, duplicate, lockout, wait)
    NO_PACKET = 23  # the frame data is not one whole space packet


_SDLS = {int(r) - 10: r for r in RejectReason if 11 <= r <= 18}  # sdls.Reason value -> RejectReason
_REJECTED_KEYS = {r: f"rejected_{r.name.lower()}" for r in RejectReason}  # counters() names, made once
_FAILED_KEYS = {c: f"failed_{c.name.lower()}" for c in FailureCode}


class Radio(Protocol):
    def receive(self) -> list[bytes]: ...


@dataclass(frozen=True)
class Report:
    """One verification report sent (also kept in Uplink.reports for tests and the timeline)."""

    t_ns: int
    subtype: int
    request: RequestId
    code: FailureCode | None = None
    data: int = 0


class _FailedError(Exception):
    def __init__(self, stage: Stage, code: FailureCode, data: int = 0) -> None:
        super().__init__(f"{stage.name} {code.name}")
        self.stage = stage
        self.code = code
        self.data = data


Handler = Callable[[DecodedCommand, int], None]


class JobControl(Protocol):
    """What the job commands need of the scheduler (flight.scheduler.JobScheduler)."""

    def submit(self, t_ns: int, spec: JobSpec, progress: Callable[[int, int], None] | None = None) -> bool: ...

    def cancel(self, t_ns: int, job_id: int) -> bool: ...

    def reprioritize(self, t_ns: int, job_id: int, priority: int, value: float) -> bool: ...


class Uplink:
    """Component "uplink": receives, authenticates, sequences, decodes and executes telecommands."""

    name = "uplink"

    def __init__(self, radio: Radio, commands: CommandDictionary, farm: Farm, sink: PacketSink,
                 events: EventReporter, modes: ModeManager, switches: LoadSwitches, params: Parameters, *,
                 sdls: SdlsEndpoint | None, authenticate: bool = True, cuc_offset_ns: int = 0,
                 keep: int = 1000, on_mode_command: Callable[[Mode], None] | None = None,
                 on_authenticated: Callable[[int], None] | None = None, warn_period_ns: int = 0,
                 jobs: JobControl | None = None,
                 dump: Callable[[int, int, Callable[[int], None]], int] | None = None) -> None:
        if authenticate and sdls is None:
            raise ValueError("authentication is on: give the SDLS endpoint (or authenticate=False for a clear link)")
        self.radio = radio
        self.commands = commands
        self.farm = farm
        self.sink = sink
        self.events = events
        self.modes = modes
        self.switches = switches
        self.params = params
        self.sdls = sdls
        self.authenticate = authenticate
        self.on_mode_command = on_mode_command  # the operator's mode becomes the autonomy's target
        # called with each authenticated frame's SDLS sequence number, once its window has advanced,
        # so the anti-replay state can be kept across reboots
        self.on_authenticated = on_authenticated
        # with authentication off (only by explicit configuration): an AUTH_DISABLED warning at boot
        # and every warn_period_ns (one orbit) so nobody forgets it
        self.warn_period_ns = warn_period_ns
        self._next_warning = 0
        self.cuc_offset_ns = cuc_offset_ns
        self.rejected: dict[RejectReason, int] = dict.fromkeys(RejectReason, 0)
        self.cltus = 0
        self.frames_accepted = 0
        self.control_frames = 0
        self.commands_accepted = 0
        self.commands_failed = 0  # acceptance, start or completion failures
        self.commands_completed = 0
        self.corrected_bits = 0
        self.failures: dict[FailureCode, int] = dict.fromkeys(FailureCode, 0)  # failure reports sent, by code
        self.reports: list[Report] = []
        self._hk_key: tuple[Any, ...] = ()  # what hk_values() last made its fields of, and those fields
        self._hk_values: dict[str, Any] = {}
        self._keep = keep
        self._seq: dict[int, int] = {}
        self.timetag: TimeTag | None = None  # the time-tag component registers itself (TimeTag(uplink))
        self.jobs = jobs  # None: the job commands fail at start (JOB_REFUSED)
        # dump(t_start_ns, t_end_ns, done) queues the store's packets of that range for downlink and returns
        # how many; done(t_ns) is called once they are sent (None: dump_store fails at start, DUMP_REFUSED)
        self.dump = dump
        self._handlers: dict[str, Handler] = {
            "ping": self._ping, "set_mode": self._set_mode, "switch_load": self._switch_load,
            "set_parameter": self._set_parameter, "set_heater_setpoint": self._set_heater_setpoint,
            "load_time_tagged": self._load_time_tagged, "clear_time_tagged": self._clear_time_tagged,
            "submit_job": self._submit_job, "cancel_job": self._cancel_job, "reprioritize_job": self._reprioritize_job,
            "activate_key": self._activate_key, "zeroize_key": self._zeroize_key, "dump_store": self._dump_store,
        }

    # ------------------------------------------------------------------ component life cycle

    def reset(self, t_ns: int) -> None:
        self._next_warning = t_ns

    def step(self, t_ns: int) -> None:
        if not self.authenticate and self.warn_period_ns > 0 and t_ns >= self._next_warning:
            self.events.emit(t_ns, "AUTH_DISABLED", "HIGH", 0, 0, "uplink auth OFF")
            self._next_warning = t_ns + self.warn_period_ns
        for chunk in self.radio.receive():
            self.on_cltus(chunk, t_ns)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def counters(self) -> dict[str, int]:
        """Rejected frames by reason name, failure reports by code name, and the totals."""
        out = {_REJECTED_KEYS[r]: n for r, n in self.rejected.items()}
        failed = _FAILED_KEYS
        for c, n in self.failures.items():
            out[failed[c]] = n
        out.update(cltus=self.cltus, frames_accepted=self.frames_accepted, control_frames=self.control_frames,
                   commands_accepted=self.commands_accepted, commands_failed=self.commands_failed,
                   commands_completed=self.commands_completed, corrected_bits=self.corrected_bits)
        return out

    @property
    def hk_fields(self) -> frozenset[str]:
        """Every name hk_values() gives (the same names every time: one per reason, code and counter)."""
        return frozenset(self.hk_values())

    def hk_values(self) -> dict[str, Any]:
        """The fields of the uplink_hk housekeeping packet (a Housekeeping provider): counters() under the
        packet's names (frames_received: the CLTUs decoded into a frame; commands_executed: the commands
        completed), the FARM-1 state, V(R) and its lockout-area frames."""
        farm = self.farm
        state = farm.state
        # what the fields are made of; the housekeeping asks every step and they rarely change
        key = (tuple(self.rejected.items()), tuple(self.failures.items()), self.cltus, self.frames_accepted,
               self.control_frames, self.commands_accepted, self.commands_failed, self.commands_completed,
               self.corrected_bits, state, farm.vr, farm.counters[FarmEvent.AD_LOCKOUT_AREA])
        if key == self._hk_key:
            return dict(self._hk_values)
        out: dict[str, Any] = self.counters()
        out["frames_received"] = out.pop("cltus")
        out["commands_executed"] = out.pop("commands_completed")
        out.update(farm_state=state.name, farm_vr=farm.vr,
                   farm_lockouts=farm.counters[FarmEvent.AD_LOCKOUT_AREA])
        self._hk_key, self._hk_values = key, dict(out)
        return out

    # ------------------------------------------------------------------ link layers

    def on_cltus(self, buf: bytes, t_ns: int) -> None:
        """Every CLTU in one received chunk (normally one)."""
        pos = 0
        while pos < len(buf):
            try:
                result = cltu.decode(buf[pos:])
            except DecodeError:
                if pos == 0 or cltu.START in buf[pos:]:
                    self._reject(RejectReason.CLTU, t_ns)
                return
            pos += result.consumed
            self.cltus += 1
            self.corrected_bits += result.corrected
            self.on_frame_data(result.data, t_ns)

    def on_frame_data(self, data: bytes, t_ns: int) -> None:
        """One TC frame at the front of a CLTU's data (the rest is fill)."""
        n = frame_length(data)
        if n is None or n > len(data):
            self._reject(RejectReason.FRAME_LENGTH, t_ns)
            return
        raw = data[:n]
        sn = 0
        if self.authenticate:
            assert self.sdls is not None
            v = self.sdls.verify(raw)
            if not v.ok:
                self._reject(_SDLS[int(v.reason)], t_ns, v.sn or 0)
                return
            raw, sn = v.frame, v.sn or 0
            if self.on_authenticated is not None:
                self.on_authenticated(sn)
        try:
            frame = TcFrame.decode(raw)
        except (DecodeError, ValueError):
            self._reject(RejectReason.FRAME, t_ns, sn)
            return
        result = self.farm.on_frame(frame)
        if not result.accepted:
            invalid = result.event is FarmEvent.INVALID
            self._reject(RejectReason.FARM_INVALID if invalid else RejectReason.FARM_DISCARD, t_ns, sn)
            return
        self.frames_accepted += 1
        if frame.control:
            self.control_frames += 1
            return
        data_field = frame.data
        if len(data_field) < 7 or ((data_field[4] << 8) | data_field[5]) + 7 != len(data_field):
            self._reject(RejectReason.NO_PACKET, t_ns, sn)
            return
        self.on_packet(data_field, t_ns)

    def _reject(self, reason: RejectReason, t_ns: int, detail: int = 0) -> None:
        self.rejected[reason] += 1
        self.events.emit(t_ns, "TC_REJECTED", "LOW", int(reason), detail, reason.name.lower())

    # ------------------------------------------------------------------ packets and commands

    def on_packet(self, packet: bytes, t_ns: int) -> None:
        """One TC packet from an accepted frame: acceptance, then execution with its reports."""
        try:
            cmd = self.commands.decode_tc(packet)
            if cmd.command.service == TIME_TAG_SERVICE:
                if self.timetag is None:
                    raise CommandError("no time-tag component: service 11 is not provided",
                                       FailureCode.UNKNOWN_COMMAND, detail=(cmd.command.service << 8)
                                       | cmd.command.subtype)
                if cmd.command.name == "load_time_tagged":
                    self.embedded(cmd)
        except CommandError as exc:
            self.commands_failed += 1
            self._report(t_ns, Stage.ACCEPTANCE, RequestId.of(packet), exc.code, exc.detail)
            return
        self.commands_accepted += 1
        if cmd.ack_flags & ACK_ACCEPTANCE:
            self._report(t_ns, Stage.ACCEPTANCE, cmd.request)
        self.execute(cmd, t_ns)

    def embedded(self, cmd: DecodedCommand) -> DecodedCommand:
        """The command a load_time_tagged embeds, decoded and range-checked, with the load's request ID and
        acknowledgement flags; CommandError (its FailureCode) if it is not an acceptable command."""
        service, subtype = int(cmd.args["service"]), int(cmd.args["subtype"])
        data = cmd.args["data"]
        assert isinstance(data, bytes)
        inner = self.commands.by_type(service, subtype)
        if inner is None or service == TIME_TAG_SERVICE:
            raise CommandError(f"no command PUS ({service}, {subtype}) can be time-tagged",
                               FailureCode.UNKNOWN_COMMAND, detail=(service << 8) | subtype)
        return DecodedCommand(inner, inner.decode_args(data), cmd.request, cmd.ack_flags, cmd.source_id)

    def execute(self, cmd: DecodedCommand, t_ns: int) -> bool:
        """Execute an accepted (authenticated, decoded, range-checked) command: its handler, with the start
        and completion reports its acknowledgement flags ask for (failure reports always). True if it
        completed."""
        flags = cmd.ack_flags
        try:
            self._handlers[cmd.command.name](cmd, t_ns)
        except _FailedError as failed:
            self.commands_failed += 1
            self._report(t_ns, failed.stage, cmd.request, failed.code, failed.data)
            return False
        self.commands_completed += 1
        if flags & ACK_COMPLETION:
            self._report(t_ns, Stage.COMPLETION, cmd.request)
        return True

    def _started(self, cmd: DecodedCommand, t_ns: int) -> None:
        if cmd.ack_flags & ACK_START:
            self._report(t_ns, Stage.START, cmd.request)

    def progress(self, t_ns: int, request: RequestId, ack_flags: int, step: int) -> None:
        """A progress report (1,5) for a command whose activity goes on after it completed (submit_job), if its
        acknowledgement flags ask for progress."""
        if ack_flags & ACK_PROGRESS:
            self._report(t_ns, Stage.PROGRESS, request, step=step)

    def _report(self, t_ns: int, stage: Stage, request: RequestId, code: FailureCode | None = None,
                data: int = 0, step: int | None = None) -> None:
        subtype = int(stage) + (1 if code is not None else 0)
        rdef = self.commands.report(subtype)  # the telemetry dictionary's verification packet
        values: dict[str, int | str] = {"request_packet_id": request.packet_id, "request_seq": request.seq}
        if step is not None:
            values["step"] = max(0, min(step, 0xFFFF))
        if code is not None:
            self.failures[code] += 1
            values.update(failure_code=code.name, failure_data=max(-(1 << 31), min(data, (1 << 31) - 1)))
        seq = self._seq.get(rdef.apid, 0)
        self._seq[rdef.apid] = (seq + 1) % 16384
        self.sink(rdef.apid, t_ns, rdef.encode(values, seq, t_ns + self.cuc_offset_ns))
        self.reports.append(Report(t_ns, subtype, request, code, data))
        if len(self.reports) > self._keep:
            del self.reports[: len(self.reports) - self._keep]

    # ------------------------------------------------------------------ handlers

    def _ping(self, cmd: DecodedCommand, t_ns: int) -> None:
        self._started(cmd, t_ns)

    def _set_mode(self, cmd: DecodedCommand, t_ns: int) -> None:
        target = Mode[_label(cmd.args["mode"])]
        if target != self.modes.mode and (self.modes.mode, target) not in ALLOWED:
            raise _FailedError(Stage.START, FailureCode.MODE_REFUSED, int(target))
        self._started(cmd, t_ns)
        if self.on_mode_command is not None:
            self.on_mode_command(target)
        if not self.modes.request(target, t_ns, "telecommand"):
            raise _FailedError(Stage.COMPLETION, FailureCode.MODE_REFUSED, int(target))

    def _switch_load(self, cmd: DecodedCommand, t_ns: int) -> None:
        load, on = _label(cmd.args["load"]), bool(cmd.args["on"])
        if not self.switches.switchable(load):
            raise _FailedError(Stage.START, FailureCode.LOAD_REFUSED, _code(cmd, "load"))
        self._started(cmd, t_ns)
        if not self.switches.set(load, on):
            raise _FailedError(Stage.COMPLETION, FailureCode.LOAD_REFUSED, _code(cmd, "load"))

    def _set_parameter(self, cmd: DecodedCommand, t_ns: int) -> None:
        name = _label(cmd.args["parameter"])
        self._started(cmd, t_ns)
        try:
            self.params.set(name, float(cmd.args["value"]), t_ns)
        except ParamError:
            raise _FailedError(Stage.COMPLETION, FailureCode.PARAMETER_REFUSED, _code(cmd, "parameter")) from None

    def _set_heater_setpoint(self, cmd: DecodedCommand, t_ns: int) -> None:
        heater = _label(cmd.args["load"])
        on_c, off_c = float(cmd.args["on_c"]), float(cmd.args["off_c"])
        if not on_c < off_c:
            raise _FailedError(Stage.START, FailureCode.PARAMETER_REFUSED, 0)
        self._started(cmd, t_ns)
        on_name, off_name = f"{heater}_on_c", f"{heater}_off_c"
        try:
            old_on = self.params.get(on_name)
            self.params.get(off_name)
        except ParamError:
            raise _FailedError(Stage.COMPLETION, FailureCode.PARAMETER_REFUSED, 0) from None
        # order the two changes so the pair never passes through on >= off, and undo the first if the second fails
        first, second = ((on_name, on_c), (off_name, off_c)) if on_c < old_on else ((off_name, off_c), (on_name, on_c))
        try:
            old_first = self.params.set(first[0], first[1], t_ns)
        except ParamError:
            raise _FailedError(Stage.COMPLETION, FailureCode.PARAMETER_REFUSED, 1) from None
        try:
            self.params.set(second[0], second[1], t_ns)
        except ParamError:
            self.params.set(first[0], old_first, t_ns)
            raise _FailedError(Stage.COMPLETION, FailureCode.PARAMETER_REFUSED, 2) from None


    def _load_time_tagged(self, cmd: DecodedCommand, t_ns: int) -> None:
        assert self.timetag is not None  # checked at acceptance
        inner = self.embedded(cmd)  # accepted: it decodes
        exec_s = int(cmd.args["exec_time"])
        try:
            self.timetag.load(exec_s * NS, inner, t_ns)
        except ScheduleError as exc:
            raise _FailedError(Stage.START, exc.code, exc.data) from None
        self._started(cmd, t_ns)

    def _clear_time_tagged(self, cmd: DecodedCommand, t_ns: int) -> None:
        assert self.timetag is not None
        self._started(cmd, t_ns)
        self.timetag.clear()


    def _job_control(self, cmd: DecodedCommand) -> JobControl:
        if self.jobs is None:
            raise _FailedError(Stage.START, FailureCode.JOB_REFUSED, int(cmd.args["job_id"]))
        return self.jobs

    def _submit_job(self, cmd: DecodedCommand, t_ns: int) -> None:
        jobs = self._job_control(cmd)
        a = cmd.args
        job_id, deadline_s = int(a["job_id"]), int(a["deadline_s"])
        try:
            spec = JobSpec(job_id, _label(a["kind"]), float(a["work_s"]), float(a["value"]), int(a["priority"]),
                           t_ns, deadline_s * NS if deadline_s else None, float(a["checkpoint_s"]),
                           int(a["output_bytes"]))
        except ValueError:
            raise _FailedError(Stage.START, FailureCode.JOB_REFUSED, job_id) from None  # e.g. a deadline already past
        self._started(cmd, t_ns)
        request, flags = cmd.request, cmd.ack_flags
        if not jobs.submit(t_ns, spec, lambda t, step: self.progress(t, request, flags, step)):
            raise _FailedError(Stage.COMPLETION, FailureCode.JOB_REFUSED, job_id)

    def _cancel_job(self, cmd: DecodedCommand, t_ns: int) -> None:
        jobs = self._job_control(cmd)
        self._started(cmd, t_ns)
        if not jobs.cancel(t_ns, int(cmd.args["job_id"])):
            raise _FailedError(Stage.COMPLETION, FailureCode.JOB_REFUSED, int(cmd.args["job_id"]))

    def _reprioritize_job(self, cmd: DecodedCommand, t_ns: int) -> None:
        jobs = self._job_control(cmd)
        self._started(cmd, t_ns)
        job_id = int(cmd.args["job_id"])
        if not jobs.reprioritize(t_ns, job_id, int(cmd.args["priority"]), float(cmd.args["value"])):
            raise _FailedError(Stage.COMPLETION, FailureCode.JOB_REFUSED, job_id)

    def _dump_store(self, cmd: DecodedCommand, t_ns: int) -> None:
        start_s, end_s = int(cmd.args["start_s"]), int(cmd.args["end_s"])
        if self.dump is None or end_s <= start_s:
            raise _FailedError(Stage.START, FailureCode.DUMP_REFUSED, 0 if self.dump is None else 1)
        self._started(cmd, t_ns)
        request, flags = cmd.request, cmd.ack_flags
        try:
            self.dump(start_s * NS, end_s * NS, lambda t: self.progress(t, request, flags, 1))
        except (OSError, ValueError):
            raise _FailedError(Stage.COMPLETION, FailureCode.DUMP_REFUSED, 2) from None

    def _activate_key(self, cmd: DecodedCommand, t_ns: int) -> None:
        if self.sdls is None:
            raise _FailedError(Stage.START, FailureCode.KEY_REFUSED, int(KeyOpStatus.UNKNOWN_SPI))
        self._started(cmd, t_ns)
        status = self.sdls.activate_key(int(cmd.args["spi"]), int(cmd.args["key_id"]))
        if status != KeyOpStatus.OK:
            raise _FailedError(Stage.COMPLETION, FailureCode.KEY_REFUSED, int(status))

    def _zeroize_key(self, cmd: DecodedCommand, t_ns: int) -> None:
        if self.sdls is None:
            raise _FailedError(Stage.START, FailureCode.KEY_REFUSED, int(KeyOpStatus.UNKNOWN_KEY_ID))
        self._started(cmd, t_ns)
        status = self.sdls.zeroize_key(int(cmd.args["key_id"]))
        if status != KeyOpStatus.OK:
            raise _FailedError(Stage.COMPLETION, FailureCode.KEY_REFUSED, int(status))


def _label(value: ArgValue) -> str:
    assert isinstance(value, str), "enum arguments decode to their label"
    return value


def _code(cmd: DecodedCommand, arg: str) -> int:
    a = next(x for x in cmd.command.args if x.name == arg)
    return a.code_of(_label(cmd.args[arg])) or 0

