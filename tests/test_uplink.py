"""The telecommand uplink end to end: CLTUs built by `skyrack cmd` into the uplink component wired to the
flight objects over the emulator (plant loads, modes, parameters), and everything that must be refused."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator import Emulator
from emulator.scenario import load
from flight.ccsds import cltu
from flight.ccsds.crc import crc16
from flight.ccsds.farm import Farm
from flight.ccsds.keystore import KeyStore, load_key_file
from flight.ccsds.sdls import Algorithm, SaParams, SdlsEndpoint, SecurityAssociation
from flight.dictionary import load_dictionary
from flight.dictionary.commands import FailureCode, load_commands
from flight.events import EventReporter
from flight.modes import Mode, ModeManager
from flight.params import DEFAULTS, Parameters
from flight.sensors import SensorPoller
from flight.switches import LoadSwitches
from flight.uplink import RejectReason, Uplink
from ground.command import DEFAULT_SCID, build
from skyrack import sil
from skyrack.cli import main

NS = 1_000_000_000
KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))
COMMANDS = load_commands()


def write_keys(path: Path, key: bytes = KEY, key_id: int = 1) -> Path:
    path.write_text(f'[[key]]\nid = {key_id}\nkey = "{key.hex()}"\n', encoding="utf-8")
    os.chmod(path, 0o600)
    return path


class FakeRadio:
    def __init__(self) -> None:
        self.rx: list[bytes] = []

    def receive(self) -> list[bytes]:
        out, self.rx = self.rx, []
        return out


@dataclass
class Rig:
    emu: Emulator
    uplink: Uplink
    radio: FakeRadio
    modes: ModeManager
    params: Parameters
    switches: LoadSwitches
    events: EventReporter
    sensors: SensorPoller
    packets: list[tuple[int, bytes]] = field(default_factory=list)
    t_ns: int = 0

    def send(self, *cltus: bytes) -> None:
        self.radio.rx.extend(cltus)
        self.t_ns += NS
        self.emu.advance(NS)
        self.sensors.step(self.t_ns)
        self.uplink.step(self.t_ns)

    def subtypes(self) -> list[int]:
        return [r.subtype for r in self.uplink.reports]

    def executed(self) -> int:
        return self.uplink.commands_accepted


def make_rig(tmp: Path, authenticate: bool = True) -> Rig:
    sc = load("gpu-node")
    emu = Emulator(sc)
    hw = sil.hardware_from_scenario(sc)
    sensors = SensorPoller(hw, emu.buses)
    sensors.reset(0)
    packets: list[tuple[int, bytes]] = []
    events = EventReporter(load_dictionary(), lambda apid, t, p: packets.append((apid, p)))
    modes = ModeManager(events, Mode.STANDBY)
    params = Parameters()
    switches = LoadSwitches(hw, sensors.gpio)
    keys = load_key_file(write_keys(tmp / "flight-keys.toml"))
    sdls = SdlsEndpoint(keys, [SecurityAssociation(SaParams(1, Algorithm.HMAC_SHA256), keys, 1)])
    radio = FakeRadio()
    up = Uplink(radio, COMMANDS, Farm(sil.SPACECRAFT_ID, 0), lambda apid, t, p: packets.append((apid, p)), events,
                modes, switches, params, sdls=sdls, authenticate=authenticate)
    up.reset(0)
    return Rig(emu, up, radio, modes, params, switches, events, sensors, packets)


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path)


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    return write_keys(tmp_path / "ground-keys.toml")


def cmd(keyfile: Path, tmp: Path, *argv: str) -> bytes:
    out = tmp / "tc.cltu"
    assert main(["cmd", *argv, "--key", str(keyfile), "--out", str(out)]) == 0
    return out.read_bytes()


def test_scid_default_matches_the_flight_software() -> None:
    assert DEFAULT_SCID == sil.SPACECRAFT_ID


def test_parameter_ids_are_the_defaults_order() -> None:
    arg = COMMANDS.command("set_parameter").args[0]
    assert [label for _, label in sorted(arg.labels)] == [d.name for d in DEFAULTS]


def test_ping_completes_with_reports(rig: Rig, keyfile: Path, tmp_path: Path) -> None:
    rig.send(cmd(keyfile, tmp_path, "ping", "--sn", "1", "--seq", "0", "--tc-seq", "7"))
    assert rig.subtypes() == [1, 3, 7]
    req = rig.uplink.reports[0].request
    assert req.apid == COMMANDS.apid and req.seq_count == 7
    decoded = [COMMANDS.report_by_apid(apid) for apid, _ in rig.packets]
    reps = [(r.subtype, r.decode(p).fields) for r, (_, p) in zip(decoded, rig.packets, strict=True) if r is not None]
    assert [s for s, _ in reps] == [1, 3, 7]
    assert all(v["request_seq"] & 0x3FFF == 7 for _, v in reps)
    assert rig.uplink.rejected_total == 0 and rig.uplink.commands_completed == 1 and rig.uplink.farm.vr == 1


def test_set_mode_changes_the_mode(rig: Rig, keyfile: Path, tmp_path: Path) -> None:
    rig.send(cmd(keyfile, tmp_path, "set_mode", "mode=NOMINAL", "--sn", "1", "--seq", "0"))
    assert rig.modes.mode == Mode.NOMINAL and rig.subtypes() == [1, 3, 7]
    assert rig.events.log[-1].event_id == "MODE_CHANGE"


def test_set_mode_refused_by_the_mode_table(rig: Rig, keyfile: Path, tmp_path: Path) -> None:
    rig.modes.request(Mode.SAFE, 0, "test")
    rig.send(cmd(keyfile, tmp_path, "set_mode", "mode=NOMINAL", "--sn", "1"))
    assert rig.modes.mode == Mode.SAFE and rig.subtypes() == [1, 4]
    assert rig.uplink.reports[-1].code == FailureCode.MODE_REFUSED


def test_switch_load_switches_the_plant_load(rig: Rig, keyfile: Path, tmp_path: Path) -> None:
    before = rig.emu.snapshot()["loads"]["radio"]["on"]
    rig.send(cmd(keyfile, tmp_path, "switch_load", "load=radio", f"on={'false' if before else 'true'}", "--sn", "1"))
    rig.emu.advance(NS)
    assert rig.emu.snapshot()["loads"]["radio"]["on"] is (not before)
    assert rig.switches.is_on("radio") is (not before) and rig.subtypes() == [1, 3, 7]
    rig.send(cmd(keyfile, tmp_path, "switch_load", "load=radio", f"on={'true' if before else 'false'}", "--sn", "2",
                 "--seq", "1"))
    rig.emu.advance(NS)
    assert rig.emu.snapshot()["loads"]["radio"]["on"] is before


def test_set_parameter_and_refusal(rig: Rig, keyfile: Path, tmp_path: Path) -> None:
    rig.send(cmd(keyfile, tmp_path, "set_parameter", "parameter=soc_safe", "value=0.25", "--sn", "1"))
    assert rig.params["soc_safe"] == 0.25 and rig.subtypes() == [1, 3, 7]
    rig.send(cmd(keyfile, tmp_path, "set_parameter", "parameter=soc_safe", "value=2", "--sn", "2", "--seq", "1"))
    assert rig.params["soc_safe"] == 0.25 and rig.subtypes()[-1] == 8
    assert rig.uplink.reports[-1].code == FailureCode.PARAMETER_REFUSED


def test_set_heater_setpoint_sets_both(rig: Rig, keyfile: Path, tmp_path: Path) -> None:
    rig.send(cmd(keyfile, tmp_path, "set_heater_setpoint", "load=battery_heater", "on_c=12", "off_c=18", "--sn", "1"))
    assert (rig.params["battery_heater_on_c"], rig.params["battery_heater_off_c"]) == (12.0, 18.0)
    rig.send(cmd(keyfile, tmp_path, "set_heater_setpoint", "load=avionics_heater", "on_c=5", "off_c=0", "--sn", "2",
                 "--seq", "1"))
    assert rig.params["avionics_heater_on_c"] == -10.0 and rig.subtypes()[-1] == 4


def rejected_only(rig: Rig, reason: RejectReason) -> None:
    assert rig.uplink.rejected[reason] == 1 and rig.uplink.rejected_total == 1
    assert rig.executed() == 0 and rig.uplink.reports == []
    assert rig.events.log[-1].event_id == "TC_REJECTED" and rig.events.log[-1].param1 == reason


def test_forged_mac(rig: Rig) -> None:
    built = build(COMMANDS, "set_mode", {"mode": "SAFE"}, _keys(KEY), sn=1)
    frame = bytearray(built.frame)
    frame[-3] ^= 0x01  # last MAC octet
    frame[-2:] = crc16(bytes(frame[:-2])).to_bytes(2, "big")
    rig.send(cltu.encode(bytes(frame)))
    rejected_only(rig, RejectReason.SDLS_BAD_MAC)
    assert rig.modes.mode == Mode.STANDBY


def _keys(key: bytes) -> KeyStore:
    ks = KeyStore()
    ks.install(1, key)
    return ks


def test_wrong_key(rig: Rig, tmp_path: Path) -> None:
    other = write_keys(tmp_path / "other.toml", OTHER_KEY)
    rig.send(cmd(other, tmp_path, "set_mode", "mode=SAFE", "--sn", "1"))
    rejected_only(rig, RejectReason.SDLS_BAD_MAC)
    assert rig.modes.mode == Mode.STANDBY


def test_replayed_frame(rig: Rig, keyfile: Path, tmp_path: Path) -> None:
    tc = cmd(keyfile, tmp_path, "ping", "--sn", "5", "--bypass")
    rig.send(tc)
    assert rig.subtypes() == [1, 3, 7]
    rig.send(tc)
    assert rig.uplink.rejected[RejectReason.SDLS_REPLAY] == 1 and rig.executed() == 1 and len(rig.subtypes()) == 3


def test_type_a_out_of_sequence_is_discarded_type_b_bypasses(rig: Rig, keyfile: Path, tmp_path: Path) -> None:
    rig.send(cmd(keyfile, tmp_path, "ping", "--sn", "1", "--seq", "3"))  # V(R) is 0: positive window
    assert rig.uplink.rejected[RejectReason.FARM_DISCARD] == 1 and rig.executed() == 0
    rig.send(cmd(keyfile, tmp_path, "ping", "--sn", "2", "--bypass"))
    assert rig.executed() == 1 and rig.uplink.farm.vr == 0


def test_truncated_frame(rig: Rig) -> None:
    built = build(COMMANDS, "ping", {}, _keys(KEY), sn=1)
    rig.send(cltu.encode(built.frame[:-9]))  # length field beyond the data
    rejected_only(rig, RejectReason.FRAME_LENGTH)
    rig.send(built.cltu[:20])  # the CLTU itself cut short
    assert rig.uplink.rejected[RejectReason.CLTU] == 1 and rig.executed() == 0


def test_bit_flips_corrected_or_rejected(rig: Rig) -> None:
    built = build(COMMANDS, "set_mode", {"mode": "SAFE"}, _keys(KEY), sn=1)
    one = bytearray(built.cltu)
    one[5] ^= 0x10  # one bit in one codeblock: the BCH code corrects it
    rig.send(bytes(one))
    assert rig.modes.mode == Mode.SAFE and rig.uplink.corrected_bits == 1
    built2 = build(COMMANDS, "set_mode", {"mode": "STANDBY"}, _keys(KEY), sn=2, seq=1)
    two = bytearray(built2.cltu)
    two[3] ^= 0x03  # two bits in the first codeblock: rejected
    rig.send(bytes(two))
    assert rig.modes.mode == Mode.SAFE and rig.uplink.rejected[RejectReason.CLTU] == 1


def test_unknown_command_gets_an_acceptance_failure(rig: Rig) -> None:
    from flight.ccsds import pus
    from flight.ccsds.tc_frame import TcFrame

    packet = pus.encode_tc(COMMANDS.apid, 3, pus.TcSecondaryHeader(99, 9))
    sa = SecurityAssociation(SaParams(1, Algorithm.HMAC_SHA256), _keys(KEY), 1)
    frame = sa.protect(TcFrame(DEFAULT_SCID, 0, 0, packet).encode(fecf=False), 1)
    rig.send(cltu.encode(frame))
    assert rig.subtypes() == [2] and rig.uplink.reports[0].code == FailureCode.UNKNOWN_COMMAND
    assert rig.executed() == 0 and rig.uplink.rejected_total == 0


def test_out_of_range_argument_gets_an_acceptance_failure(rig: Rig) -> None:
    from flight.ccsds import pus
    from flight.ccsds.tc_frame import TcFrame

    c = COMMANDS.command("set_heater_setpoint")  # on_c = 90 C, past its 40 C maximum: built by hand
    data = bytes([1]) + struct.pack(">ff", 90.0, 95.0)
    packet = pus.encode_tc(COMMANDS.apid, 4, pus.TcSecondaryHeader(c.service, c.subtype), data)
    sa = SecurityAssociation(SaParams(1, Algorithm.HMAC_SHA256), _keys(KEY), 1)
    rig.send(cltu.encode(sa.protect(TcFrame(DEFAULT_SCID, 0, 0, packet).encode(fecf=False), 1)))
    r = rig.uplink.reports[-1]
    assert rig.subtypes() == [2] and r.code == FailureCode.BAD_ARGUMENT and r.data == 1
    assert rig.params["battery_heater_on_c"] == 5.0 and rig.executed() == 0


def test_clear_link_without_authentication(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, authenticate=False)
    rig.send(build(COMMANDS, "set_mode", {"mode": "NOMINAL"}, None).cltu)
    assert rig.modes.mode == Mode.NOMINAL


def test_authentication_needs_an_endpoint() -> None:
    with pytest.raises(ValueError, match="authentication"):
        Uplink(FakeRadio(), COMMANDS, Farm(1, 0), lambda a, t, p: None, None, None, None, None,  # type: ignore[arg-type]
               sdls=None)


def test_over_the_emulated_radio(rig: Rig, keyfile: Path, tmp_path: Path) -> None:
    """The uplink reads emu.radio: the CLTU arrives once a station sees the spacecraft."""
    rig.uplink.radio = rig.emu.radio
    rig.emu.radio.uplink(cmd(keyfile, tmp_path, "set_mode", "mode=NOMINAL", "--sn", "1"))
    for _ in range(400):  # up to ~2 days in 10-minute steps until a contact delivers it
        rig.emu.advance(600 * NS)
        rig.t_ns += 600 * NS
        rig.uplink.step(rig.t_ns)
        if rig.uplink.reports:
            break
    assert rig.modes.mode == Mode.NOMINAL and rig.subtypes() == [1, 3, 7]


# ---------------------------------------------------------------------- fuzz


@pytest.fixture(scope="module")
def fuzz_rig(tmp_path_factory: pytest.TempPathFactory) -> Rig:
    return make_rig(tmp_path_factory.mktemp("fuzz"))


VALID = [build(COMMANDS, n, v, _keys(KEY), sn=1, bypass=True).cltu for n, v in (
    ("set_mode", {"mode": "SAFE"}), ("switch_load", {"load": "radio", "on": False}),
    ("set_parameter", {"parameter": "soc_safe", "value": 0.1}), ("ping", {}))]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    base = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "byte", "cut", "insert"]))
        i = draw(st.integers(0, len(base) - 1))
        if op == "flip":
            base[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte":
            base[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del base[i:i + draw(st.integers(1, 16))]
            if not base:
                base = bytearray(b"\x00")
        else:
            base[i:i] = draw(st.binary(min_size=1, max_size=8))
    return bytes(base)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.binary(max_size=300), mutated(), st.builds(lambda b: cltu.START + b, st.binary())),
                min_size=1, max_size=4))
def test_fuzz_never_crashes_never_executes_without_a_valid_mac(fuzz_rig: Rig, chunks: list[bytes]) -> None:
    rig = fuzz_rig
    sdls_ok = sum(sa.counters[next(iter(sa.counters))] for sa in rig.uplink.sdls.associations.values())  # type: ignore[union-attr]
    before_exec = rig.executed() + rig.uplink.commands_failed
    rig.radio.rx.extend(chunks)
    rig.t_ns += NS
    rig.uplink.step(rig.t_ns)
    sdls_ok_after = sum(sa.counters[next(iter(sa.counters))] for sa in rig.uplink.sdls.associations.values())  # type: ignore[union-attr]
    # every packet looked at (executed or refused) came through a frame whose MAC verified
    assert rig.executed() + rig.uplink.commands_failed - before_exec <= sdls_ok_after - sdls_ok
    # every verified frame was a fresh SN: the replay window never lets a valid CLTU run twice
    assert sdls_ok_after - sdls_ok <= 1
