"""PUS service 1 verification reports as telemetry (kind = "verification" in telemetry.toml), and the
uplink_hk housekeeping packet filled by Uplink.hk_values through a Housekeeping value provider."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_uplink import KEY, OTHER_KEY, Rig, _keys, cmd, make_rig, write_keys

from emulator.scenario import load
from flight.ccsds import cltu
from flight.ccsds.crc import crc16
from flight.ccsds.farm import FarmState
from flight.ccsds.sdls import Algorithm, SaParams, SecurityAssociation
from flight.ccsds.tc_frame import TcFrame
from flight.ccsds.tm_frame import TmFrameConfig, TmFramer, cadu
from flight.dictionary import (
    DictionaryError,
    FailureCode,
    PacketKind,
    load_commands,
    load_dictionary,
    loads_commands,
    loads_dictionary,
)
from flight.modes import Mode
from flight.telemetry.hk import Housekeeping
from flight.uplink import RejectReason
from ground.command import build
from skyrack import sil
from skyrack.cli import main

DICT = load_dictionary()
COMMANDS = load_commands()
REPORTS = {1: ("tc_acceptance_success", 0x120), 2: ("tc_acceptance_failure", 0x121), 3: ("tc_start_success", 0x122),
           4: ("tc_start_failure", 0x123), 7: ("tc_completion_success", 0x124), 8: ("tc_completion_failure", 0x125),
           5: ("tc_progress_success", 0x126)}

# the bytes the reports had when commands.toml declared them (ReportDef), request ID 0x18C0 / 0xC005,
# failure BAD_ARGUMENT / -3, sequence count 7, CUC time 123456.789012345 s: the wire format is unchanged
GOLDEN = {
    1: "0920c0070012200101000700000001e240c9fc18c0c005f3bb",
    2: "0921c0070018200102000700000001e240c9fc18c0c0050005fffffffd8bd7",
}


# ---------------------------------------------------------------------- the dictionary


def test_the_reports_are_verification_packets_of_the_telemetry_dictionary() -> None:
    ver = [p for p in DICT.packets if p.kind == PacketKind.VERIFICATION]
    assert {p.subtype: (p.name, p.apid) for p in ver} == REPORTS
    for sub, (name, apid) in REPORTS.items():
        p = DICT.packet(name)
        assert p.service == 1 and p.subtypes == (sub,) and p.period_s is None
        assert COMMANDS.report(sub) == p and COMMANDS.report_by_apid(apid) == p
        assert [f.name for f in p.fields][:2] == ["request_packet_id", "request_seq"]
        assert p.length == (31 if sub % 2 == 0 else 27 if sub == 5 else 25)  # progress: + its step
    labels = dict(DICT.packet("tc_completion_failure").field("failure_code").calibration.labels)
    assert labels == {int(c): c.name for c in FailureCode}


def test_report_bytes_are_unchanged() -> None:
    for sub, golden in GOLDEN.items():
        r = COMMANDS.report(sub)
        v: dict[str, int | str] = {"request_packet_id": 0x18C0, "request_seq": 0xC005}
        if sub % 2 == 0:
            v.update(failure_code="BAD_ARGUMENT", failure_data=-3)
        t_ns = 123_456_789_012_345
        assert r.encode(v, 7, t_ns).hex() == golden
        assert r._encode_generic(v, 7, t_ns).hex() == golden
        d = r.decode(bytes.fromhex(golden))
        assert (d.service, d.subtype, d.name) == (1, sub, r.name)
        assert d.fields["request_seq"] == 0xC005
        cols = r.decode_many(bytes.fromhex(golden) * 3)
        assert list(cols["subtype"]) == [sub] * 3 and list(cols["request_packet_id"]) == [0x18C0] * 3


def test_json_and_table_name_the_kind(capsys: pytest.CaptureFixture[str]) -> None:
    j = DICT.packet("tc_start_failure").to_json()
    assert (j["kind"], j["service"], j["subtypes"], j["period_s"]) == ("verification", 1, [4], None)
    assert main(["dict", "--apid", "0x123"]) == 0
    assert "verification, PUS 1/4 (start failure)" in capsys.readouterr().out
    assert main(["dict", "--json"]) == 0
    kinds = {p["name"]: p["kind"] for p in json.loads(capsys.readouterr().out)["packets"]}
    assert kinds["tc_acceptance_success"] == "verification" and kinds["uplink_hk"] == "housekeeping"
    reports = COMMANDS.to_json()["reports"]
    assert isinstance(reports, list) and [r["apid"] for r in reports] == sorted(a for _, a in REPORTS.values())


VER = """version = 1
[[packet]]
apid = 0x120
name = "r"
kind = "verification"
{extra}
[[packet.field]]
name = "request_packet_id"
type = "{t0}"
bits = 16
[[packet.field]]
name = "request_seq"
type = "uint"
bits = 16
"""


@pytest.mark.parametrize(("extra", "t0", "message"), [
    ("", "uint", r"^packet\[0\]\.subtype: a verification packet needs its PUS service 1 subtype"),
    ("subtype = 9", "uint", r"^packet\[0\]\.subtype: a verification packet needs a PUS service 1 subtype .*got 9"),
    ("subtype = 256", "uint", r"^packet\[0\]\.subtype: must be in \[0, 255\]"),
    ('subtype = "one"', "uint", r"^packet\[0\]\.subtype: expected an integer"),
    ("subtype = 1\nperiod_s = 1.0", "uint", r"^packet\[0\]\.period_s: only a housekeeping packet has a period"),
    ('subtype = 1\nseverity_field = "request_seq"', "uint", r"^packet\[0\]\.severity_field: only an event packet"),
    ("subtype = 1", "int", r"^packet\[0\]\.field\[0\]: a verification packet starts with the request ID"),
])
def test_verification_packet_errors_name_the_key(extra: str, t0: str, message: str) -> None:
    with pytest.raises(DictionaryError, match=message):
        loads_dictionary(VER.format(extra=extra, t0=t0))


def test_subtype_is_only_for_verification_packets() -> None:
    text = VER.format(extra="subtype = 1", t0="uint").replace('"verification"', '"housekeeping"\nperiod_s = 1.0')
    with pytest.raises(DictionaryError, match=r"^packet\[0\]\.subtype: only a verification packet has one"):
        loads_dictionary(text)
    with pytest.raises(DictionaryError, match=r"kind: must be one of housekeeping, event, verification"):
        loads_dictionary(VER.format(extra="", t0="uint").replace('"verification"', '"report"'))
    assert loads_dictionary(VER.format(extra="subtype = 10", t0="uint")).packet("r").subtypes == (10,)


def _shipped_text(name: str) -> str:
    return (Path(__file__).parents[1] / "flight" / "dictionary" / name).read_text(encoding="utf-8")


def test_the_command_dictionary_checks_the_telemetry_reports() -> None:
    cmds, tm = _shipped_text("commands.toml"), _shipped_text("telemetry.toml")
    assert loads_commands(cmds, telemetry=loads_dictionary(tm)).report(8).apid == 0x125
    # a failure code label the flight software does not have
    with pytest.raises(DictionaryError, match=r"report tc_acceptance_failure \(APID 0x121\)\.field\[2\]\.labels: "
                                              r"the failure codes must be those of .*FailureCode"):
        loads_commands(cmds, telemetry=loads_dictionary(tm.replace("LOAD_REFUSED = 8,", "LOAD_REFUSED = 99,", 1)))
    # a report missing
    no_completion_failure = tm[:tm.index("[[packet]]\napid = 0x125")] + tm[tm.index("[[packet]]\napid = 0x126"):]
    with pytest.raises(DictionaryError, match=r"^report: no verification packet of subtype 8"):
        loads_commands(cmds, telemetry=loads_dictionary(no_completion_failure))
    # the fields the uplink fills
    with pytest.raises(DictionaryError, match=r"report tc_acceptance_failure \(APID 0x121\)\.field: a subtype 2 "
                                              r"report has the fields .*; got .*, detail$"):
        loads_commands(cmds, telemetry=loads_dictionary(tm.replace('name = "failure_data"', 'name = "detail"', 1)))
    # reports are no longer declared with the commands
    with pytest.raises(DictionaryError, match=r"^report: the verification reports are telemetry"):
        loads_commands(cmds + '\n[[report]]\nname = "x"\n', telemetry=DICT)


# ---------------------------------------------------------------------- decoding what the uplink sent


def _capture(packets: list[tuple[int, bytes]]) -> bytes:
    cfg = TmFrameConfig(scid=sil.SPACECRAFT_ID, frame_length=1115)
    framer = TmFramer(cfg)
    for _, p in packets:
        framer.push(0, p)
    out = b""
    while framer.pending(0):
        out += cadu(framer.frame(0), cfg)
    return out


def test_decode_names_the_reports_the_uplink_sent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rig = make_rig(tmp_path)
    keyfile = write_keys(tmp_path / "ground-keys.toml")
    rig.send(cmd(keyfile, tmp_path, "ping", "--sn", "1", "--seq", "0", "--tc-seq", "7"))
    rig.modes.request(Mode.SAFE, 0, "test")
    rig.send(cmd(keyfile, tmp_path, "set_mode", "mode=NOMINAL", "--sn", "2", "--seq", "1", "--tc-seq", "8"))
    reports = [(a, p) for a, p in rig.packets if COMMANDS.report_by_apid(a) is not None]
    assert [a for a, _ in reports] == [0x120, 0x122, 0x124, 0x120, 0x123]
    capture = tmp_path / "tm.cadu"
    capture.write_bytes(_capture(reports))
    capsys.readouterr()
    assert main(["decode", str(capture), "--json"]) == 0
    recs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["name"] for r in recs] == ["tc_acceptance_success", "tc_start_success", "tc_completion_success",
                                         "tc_acceptance_success", "tc_start_failure"]
    assert [r["fields"]["request_seq"] & 0x3FFF for r in recs] == [7, 7, 7, 8, 8]
    assert recs[-1]["fields"]["failure_code"] == "MODE_REFUSED"
    assert recs[-1]["fields"]["failure_data"] == int(Mode.NOMINAL)
    assert main(["decode", str(capture)]) == 0
    assert re.search(r"\b291 tc_start_failure\b.*failure_code=MODE_REFUSED", capsys.readouterr().out)


# ---------------------------------------------------------------------- uplink_hk


def _housekeeping(rig: Rig, sink: list[tuple[int, bytes]]) -> Housekeeping:
    hw = sil.hardware_from_scenario(load("gpu-node"))
    hk = Housekeeping(DICT, hw, rig.sensors.readings, lambda apid, t, p: sink.append((apid, p)))
    hk.reset(0)
    return hk


def test_hk_values_are_the_uplink_hk_fields(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    names = {f.name for f in DICT.packet("uplink_hk").fields if f.type.name != "SPARE"}
    assert set(rig.uplink.hk_values()) == names
    assert DICT.packet("uplink_hk").period_s == 10.0


def test_uplink_hk_counts_what_the_uplink_did(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    keyfile = write_keys(tmp_path / "ground-keys.toml")
    rig.send(cmd(keyfile, tmp_path, "ping", "--sn", "1", "--seq", "0"))
    rig.send(cmd(keyfile, tmp_path, "ping", "--sn", "1", "--seq", "1"))  # replayed SN
    rig.send(build(COMMANDS, "ping", {}, _keys(OTHER_KEY), sn=5, seq=1).cltu)  # another key: bad MAC
    rig.send(b"\x00" * 20)  # no CLTU start sequence
    rig.send(build(COMMANDS, "ping", {}, _keys(KEY), sn=6, seq=0).cltu)  # N(S) behind V(R): FARM discards
    rig.send(build(COMMANDS, "set_parameter", {"parameter": "soc_safe", "value": 2.0}, _keys(KEY), sn=7, seq=1).cltu)
    bad_arg = bytearray(COMMANDS.encode_tc("set_mode", {"mode": "SAFE"}, 3))
    bad_arg[-3] = 9  # not a mode
    bad_arg[-2:] = crc16(bytes(bad_arg[:-2])).to_bytes(2, "big")
    sa = SecurityAssociation(SaParams(1, Algorithm.HMAC_SHA256), _keys(KEY), 1)
    frame = TcFrame(scid=sil.SPACECRAFT_ID, vcid=0, seq=2, data=bytes(bad_arg))
    rig.send(cltu.encode(sa.protect(frame.encode(fecf=False), 8)))
    up = rig.uplink
    assert up.rejected[RejectReason.SDLS_REPLAY] == 1 and up.rejected[RejectReason.SDLS_BAD_MAC] == 1
    v = up.hk_values()
    assert v["frames_received"] == 6 and v["frames_accepted"] == 3 and v["control_frames"] == 0
    assert v["commands_accepted"] == 2 and v["commands_executed"] == 1 and v["commands_failed"] == 2
    assert (v["rejected_cltu"], v["rejected_sdls_bad_mac"], v["rejected_sdls_replay"],
            v["rejected_farm_discard"]) == (1, 1, 1, 1)
    assert v["failed_bad_argument"] == 1 and v["failed_parameter_refused"] == 1 and v["failed_mode_refused"] == 0
    assert (v["farm_state"], v["farm_vr"], v["farm_lockouts"]) == ("OPEN", 3, 0)

    # through Housekeeping: the provider's values go out in uplink_hk, the other packets are as without it
    sink: list[tuple[int, bytes]] = []
    plain: list[tuple[int, bytes]] = []
    hk = _housekeeping(rig, sink)
    ref = _housekeeping(rig, plain)
    hk.providers.append(up.hk_values)
    hk.step(0)
    ref.step(0)
    assert [a for a, _ in sink] == [a for a, _ in plain] and 0x104 in [a for a, _ in sink]
    assert [p for a, p in sink if a != 0x104] == [p for a, p in plain if a != 0x104]
    got = DICT.decode(next(p for a, p in sink if a == 0x104)).fields
    assert {k: got[k] for k in v} == v
    zero = DICT.decode(next(p for a, p in plain if a == 0x104)).fields
    assert zero["frames_received"] == 0 and zero["farm_state"] == "OPEN"


def test_farm_lockout_shows_in_uplink_hk(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.send(build(COMMANDS, "ping", {}, _keys(KEY), sn=1, seq=128).cltu)  # far outside the window: lockout
    v = rig.uplink.hk_values()
    assert rig.uplink.farm.state is FarmState.LOCKOUT
    assert (v["farm_state"], v["farm_lockouts"], v["rejected_farm_discard"]) == ("LOCKOUT", 1, 1)


def test_a_declared_provider_is_asked_only_for_its_packet(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    asked: list[int] = []

    def counted() -> dict[str, object]:
        asked.append(1)
        return rig.uplink.hk_values()

    sink: list[tuple[int, bytes]] = []
    plain: list[tuple[int, bytes]] = []
    hk = _housekeeping(rig, sink)
    ref = _housekeeping(rig, plain)
    hk.add_provider(counted, rig.uplink.hk_fields)
    ref.providers.append(rig.uplink.hk_values)  # undeclared: asked every step that makes a packet
    for t in range(25):
        hk.step(t * 1_000_000_000)
        ref.step(t * 1_000_000_000)
    assert sink == plain  # the same packets, uplink_hk with the provider's values
    assert len(asked) == 3  # uplink_hk at 0, 10 and 20 s
    assert rig.uplink.hk_fields == {f.name for f in DICT.packet("uplink_hk").fields if f.type.name != "SPARE"}
