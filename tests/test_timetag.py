"""Time-tagged commands (PUS service 11 style): load_time_tagged through the uplink into the timetag component,
released at their time to the uplink's dispatcher, with their verification reports; `skyrack cmd --at`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_uplink import COMMANDS, KEY, NS, Rig, _keys, make_rig, write_keys

from flight.ccsds import cltu
from flight.dictionary.commands import ArgDef, ArgType, CommandError, FailureCode, loads_commands
from flight.dictionary.errors import DictionaryError
from flight.modes import Mode
from flight.timetag import TimeTag
from ground.command import build, time_tagged
from skyrack.cli import main


class Link:
    """The rig with a timetag component stepped after the uplink, and a counter for SDLS SN and N(S)."""

    def __init__(self, rig: Rig, capacity: int = 64) -> None:
        self.rig = rig
        self.tt = TimeTag(rig.uplink, capacity)
        self.tt.reset(0)
        self.n = 0

    def step(self, *cltus: bytes) -> None:
        self.rig.send(*cltus)  # t advances 1 s, the uplink steps
        self.tt.step(self.rig.t_ns)

    def until(self, t_s: int) -> None:
        while self.rig.t_ns < t_s * NS:
            self.step()

    def tc(self, name: str, values: dict[str, object]) -> bytes:
        self.n += 1
        return build(COMMANDS, name, values, _keys(KEY), sn=self.n, seq=self.n - 1).cltu

    def at(self, t_s: int, name: str, values: dict[str, object]) -> bytes:
        return self.tc("load_time_tagged", time_tagged(COMMANDS, name, values, t_s))

    def subtypes(self) -> list[int]:
        return self.rig.subtypes()


@pytest.fixture
def link(tmp_path: Path) -> Link:
    return Link(make_rig(tmp_path))


def _last_report_fields(rig: Rig) -> dict[str, object]:
    for apid, p in reversed(rig.packets):
        r = COMMANDS.report_by_apid(apid)
        if r is not None:
            return dict(r.decode(p).fields)
    raise AssertionError("no report sent")


def test_a_time_tagged_set_mode_executes_at_its_time_and_not_before(link: Link) -> None:
    rig = link.rig
    link.step(link.at(5, "set_mode", {"mode": "NOMINAL"}))  # loaded at t = 1 s
    assert link.subtypes() == [1, 3, 7] and len(link.tt) == 1 and link.tt.loaded == 1
    load_request = rig.uplink.reports[0].request
    (t_exec, inner), = link.tt.pending
    assert t_exec == 5 * NS and inner.command.name == "set_mode" and inner.args == {"mode": "NOMINAL"}
    link.until(4)
    assert rig.modes.mode == Mode.STANDBY and len(link.tt) == 1 and link.subtypes() == [1, 3, 7]
    link.step()  # t = 5 s
    assert rig.modes.mode == Mode.NOMINAL and rig.modes.since_ns == 5 * NS
    assert link.subtypes() == [1, 3, 7, 3, 7] and len(link.tt) == 0 and link.tt.released == 1
    assert all(r.request == load_request for r in rig.uplink.reports)
    assert rig.uplink.reports[-1].t_ns == 5 * NS and rig.uplink.commands_completed == 2
    link.until(8)
    assert link.subtypes() == [1, 3, 7, 3, 7] and link.tt.released == 1


def test_a_command_due_now_executes_in_the_step_that_loads_it(link: Link) -> None:
    link.step(link.at(1, "set_mode", {"mode": "NOMINAL"}))  # loaded at t = 1 s, for t = 1 s
    assert link.rig.modes.mode == Mode.NOMINAL and link.subtypes() == [1, 3, 7, 3, 7]


def test_a_time_in_the_past_is_refused_and_nothing_executes(link: Link) -> None:
    rig = link.rig
    link.until(3)
    link.step(link.at(2, "set_mode", {"mode": "NOMINAL"}))  # at t = 4 s
    assert link.subtypes() == [1, 4]
    r = rig.uplink.reports[-1]
    assert r.code == FailureCode.TIME_IN_PAST and r.data == 2 and r.t_ns == 4 * NS
    fields = _last_report_fields(rig)
    assert fields["failure_code"] == "TIME_IN_PAST" and fields["failure_data"] == 2
    assert len(link.tt) == 0 and link.tt.refused == 1 and rig.uplink.failures[FailureCode.TIME_IN_PAST] == 1
    link.until(10)
    assert rig.modes.mode == Mode.STANDBY and link.subtypes() == [1, 4] and rig.uplink.commands_completed == 0
    assert rig.uplink.hk_values()["failed_time_in_past"] == 1  # reported in uplink_hk
    assert rig.uplink.counters()["failed_time_in_past"] == 1


def test_clear_removes_the_pending_commands(link: Link) -> None:
    rig = link.rig
    link.step(link.at(5, "set_mode", {"mode": "NOMINAL"}))
    link.step(link.at(6, "switch_load", {"load": "radio", "on": False}))
    assert len(link.tt) == 2
    link.step(link.tc("clear_time_tagged", {}))
    assert len(link.tt) == 0 and link.tt.cleared == 2 and link.subtypes() == [1, 3, 7] * 3
    link.until(10)
    assert rig.modes.mode == Mode.STANDBY and link.tt.released == 0 and link.subtypes() == [1, 3, 7] * 3


def test_a_full_schedule_refuses_the_load(tmp_path: Path) -> None:
    link = Link(make_rig(tmp_path), capacity=2)
    link.step(link.at(8, "set_mode", {"mode": "SAFE"}))
    link.step(link.at(7, "set_mode", {"mode": "NOMINAL"}))
    link.step(link.at(9, "ping", {}))
    assert link.subtypes() == [1, 3, 7, 1, 3, 7, 1, 4]
    r = link.rig.uplink.reports[-1]
    assert r.code == FailureCode.SCHEDULE_FULL and r.data == 2 and len(link.tt) == 2
    assert _last_report_fields(link.rig)["failure_code"] == "SCHEDULE_FULL"
    # released in time order, not load order: STANDBY -> NOMINAL (7 s) -> SAFE (8 s), both allowed
    link.rig.t_ns = 7 * NS
    link.step()  # t = 8 s: both due in one step
    assert link.rig.modes.mode == Mode.SAFE and link.tt.released == 2
    assert link.rig.modes.entries[Mode.NOMINAL] == 1 and link.rig.modes.entries[Mode.SAFE] == 1
    assert link.subtypes()[-4:] == [3, 7, 3, 7] and link.rig.uplink.failures[FailureCode.MODE_REFUSED] == 0
    link.step(link.at(20, "ping", {}))  # room again
    assert link.subtypes()[-3:] == [1, 3, 7] and len(link.tt) == 1


@pytest.mark.parametrize(("service", "subtype", "data", "code"), [
    (128, 1, b"\x09", FailureCode.BAD_ARGUMENT),  # not a mode
    (128, 1, b"", FailureCode.BAD_LENGTH),
    (128, 1, b"\x01\x01", FailureCode.BAD_LENGTH),
    (200, 1, b"", FailureCode.UNKNOWN_COMMAND),
    (11, 3, b"", FailureCode.UNKNOWN_COMMAND),  # no time-tagged service 11
])
def test_an_invalid_embedded_command_is_refused_at_acceptance(link: Link, service: int, subtype: int, data: bytes,
                                                              code: FailureCode) -> None:
    link.step(link.tc("load_time_tagged", {"exec_time": 5, "service": service, "subtype": subtype, "data": data}))
    assert link.subtypes() == [2] and link.rig.uplink.reports[0].code == code and len(link.tt) == 0
    assert link.rig.uplink.commands_accepted == 0


def test_without_a_timetag_component_service_11_is_unknown(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.send(build(COMMANDS, "load_time_tagged", time_tagged(COMMANDS, "ping", {}, 5), _keys(KEY), sn=1).cltu)
    rig.send(build(COMMANDS, "clear_time_tagged", {}, _keys(KEY), sn=2, seq=1).cltu)
    assert rig.subtypes() == [2, 2]
    assert [r.code for r in rig.uplink.reports] == [FailureCode.UNKNOWN_COMMAND] * 2


def test_skyrack_cmd_at_wraps_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keyfile = write_keys(tmp_path / "ground-keys.toml")
    assert main(["cmd", "set_heater_setpoint", "load=battery_heater", "on_c=2", "off_c=6.5", "--at", "3600",
                 "--key", str(keyfile), "--tc-seq", "9", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["command"] == "set_heater_setpoint" and out["at"] == 3600
    outer = COMMANDS.decode_tc(bytes.fromhex(out["packet"]))
    assert outer.command.name == "load_time_tagged" and (outer.command.service, outer.command.subtype) == (11, 4)
    assert outer.request.seq_count == 9
    args = outer.args
    assert (args["exec_time"], args["service"], args["subtype"]) == (3600, 128, 3)
    inner = COMMANDS.by_type(128, 3)
    assert inner is not None and isinstance(args["data"], bytes)
    assert inner.decode_args(args["data"]) == {"load": "battery_heater", "on_c": 2.0, "off_c": 6.5}
    assert cltu.decode(bytes.fromhex(out["cltu"])).data.startswith(bytes.fromhex(out["frame"]))


def test_skyrack_cmd_at_end_to_end(link: Link, tmp_path: Path) -> None:
    keyfile = write_keys(tmp_path / "ground-keys.toml")
    out = tmp_path / "tc.cltu"
    assert main(["cmd", "set_mode", "mode=NOMINAL", "--at", "3", "--key", str(keyfile), "--out", str(out)]) == 0
    link.step(out.read_bytes())
    assert link.subtypes() == [1, 3, 7] and link.rig.modes.mode == Mode.STANDBY
    link.until(3)
    assert link.rig.modes.mode == Mode.NOMINAL and link.subtypes() == [1, 3, 7, 3, 7]


@pytest.mark.parametrize("argv", [
    ["set_mode", "mode=NOMINAL", "--at", "-1"],
    ["set_mode", "mode=NOMINAL", "--at", str(1 << 32)],
    ["clear_time_tagged", "--at", "5"],
    ["set_mode", "mode=BOGUS", "--at", "5"],
])
def test_skyrack_cmd_at_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    keyfile = write_keys(tmp_path / "ground-keys.toml")
    assert main(["cmd", *argv, "--key", str(keyfile)]) == 2
    assert capsys.readouterr().err.startswith("skyrack cmd: ")


# ---------------------------------------------------------------------- the bytes argument type


def test_bytes_argument_encodes_a_length_prefix() -> None:
    c = COMMANDS.command("load_time_tagged")
    data = c.encode_args({"exec_time": 1, "service": 17, "subtype": 1, "data": b"\xab\xcd"})
    assert data == (1).to_bytes(4, "big") + bytes([17, 1, 2, 0xAB, 0xCD]) and c.variable
    assert c.decode_args(data)["data"] == b"\xab\xcd"
    with pytest.raises(CommandError) as exc:
        c.decode_args(data + b"\x00")  # trailing octet
    assert exc.value.code == FailureCode.BAD_LENGTH
    with pytest.raises(CommandError) as exc:
        c.decode_args(data[:-1])  # the prefix says more than there is
    assert exc.value.code == FailureCode.BAD_LENGTH
    with pytest.raises(CommandError) as exc:
        c.encode_args({"exec_time": 1, "service": 17, "subtype": 1, "data": bytes(65)})
    assert exc.value.code == FailureCode.BAD_ARGUMENT
    with pytest.raises(CommandError) as exc:
        c.decode_args(data[:6] + bytes([65]) + bytes(65))
    assert exc.value.code == FailureCode.BAD_ARGUMENT and exc.value.arg == 3


def test_bytes_argument_declaration() -> None:
    a = ArgDef("blob", ArgType.BYTES, 16, min=0, max=300)
    assert a.type_name == "bytes16" and a.parse("0a0B", "x") == b"\x0a\x0b"
    assert a.describe() == "blob=HEX of 0..300 octets (bytes16)"
    with pytest.raises(CommandError):
        a.parse("xyz", "x")
    with pytest.raises(DictionaryError, match="max: 300 is not a length of bytes8"):
        ArgDef("blob", ArgType.BYTES, 8, min=0, max=300)
    with pytest.raises(DictionaryError, match="max: a numeric argument needs min and max"):
        ArgDef("blob", ArgType.BYTES, 8, min=0)
    text = ('version = 1\napid = 0x0C0\n[[command]]\nname = "x"\nservice = 200\nsubtype = 1\n'
            '[[command.arg]]\nname = "b"\ntype = "bytes"\nbits = 8\nmin = 1\nmax = 4\n')
    d = loads_commands(text)
    assert d.command("x").decode_args(b"\x02\x01\x02") == {"b": b"\x01\x02"}
    with pytest.raises(CommandError):
        d.command("x").decode_args(b"\x00")  # under min


def test_the_failure_codes_are_the_report_labels() -> None:
    for subtype in (2, 4, 8):
        code = next(f for f in COMMANDS.report(subtype).fields if f.name == "failure_code")
        assert dict(code.calibration.labels) == {int(c): c.name for c in FailureCode}
    assert (FailureCode.TIME_IN_PAST, FailureCode.SCHEDULE_FULL) == (9, 10)


def test_the_schedule_survives_a_reboot(tmp_path: Path) -> None:
    state = tmp_path / "timetag.json"
    link = Link(make_rig(tmp_path))
    link.tt = TimeTag(link.rig.uplink, path=state)  # replaces the component made without a path
    link.step(link.at(5, "set_mode", {"mode": "NOMINAL"}), link.at(9, "ping", {}))
    assert len(link.tt) == 2 and state.exists()
    before = link.tt.pending
    # a reboot: a new uplink and time-tag component read the state file
    (tmp_path / "again").mkdir()
    rig2 = make_rig(tmp_path / "again")
    rig2.t_ns = link.rig.t_ns
    tt2 = TimeTag(rig2.uplink, path=state)
    assert tt2.load_errors == 0
    assert [(t, c.command.name, dict(c.args), c.request) for t, c in tt2.pending] == \
        [(t, c.command.name, dict(c.args), c.request) for t, c in before]
    while rig2.t_ns < 5 * NS:
        rig2.send()
        tt2.step(rig2.t_ns)
    assert rig2.modes.mode == Mode.NOMINAL and len(tt2) == 1
    assert [r.request for r in rig2.uplink.reports] == [before[0][1].request] * 2  # its start and completion
    # released commands are gone from the file: a third boot sees only the ping
    assert [c.command.name for _, c in TimeTag(make_rig(tmp_path).uplink, path=state).pending] == ["ping"]


def test_a_damaged_schedule_file_starts_empty(tmp_path: Path) -> None:
    state = tmp_path / "timetag.json"
    state.write_bytes(b'{"version": 1, "next": 2, "sched')
    tt = TimeTag(make_rig(tmp_path).uplink, path=state)
    assert len(tt) == 0 and tt.load_errors == 1
    state.write_text(json.dumps({"version": 1, "next": 1, "schedule": [
        {"t_ns": 5, "n": 0, "service": 250, "subtype": 9, "data": "", "packet_id": 0, "seq": 0, "ack": 0,
         "source": 0}]}))
    tt = TimeTag(make_rig(tmp_path).uplink, path=state)
    assert len(tt) == 0 and tt.load_errors == 1  # an entry the dictionary does not know is dropped
