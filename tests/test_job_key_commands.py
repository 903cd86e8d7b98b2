"""Job commands (submit, cancel, reprioritize) and key management commands (activate, zeroize) through the
whole uplink: signed CLTUs from `skyrack cmd` to the scheduler and the SDLS endpoint, with their reports."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from emulator import Emulator
from emulator.scenario import load
from flight.ccsds.farm import Farm
from flight.ccsds.keystore import KeyOpStatus, load_key_file
from flight.ccsds.sdls import Algorithm, SaParams, SdlsEndpoint, SecurityAssociation
from flight.dictionary import load_dictionary
from flight.dictionary.commands import FailureCode, load_commands
from flight.events import EventReporter
from flight.jobs import JobSpec, JobStatus
from flight.modes import Mode, ModeManager
from flight.params import Parameters
from flight.sched_policies import RunAlwaysPolicy
from flight.scheduler import JobScheduler, Outlook
from flight.sensors import SensorPoller
from flight.switches import LoadSwitches
from flight.uplink import Uplink
from skyrack import sil
from skyrack.cli import main

NS = 1_000_000_000
KEY1, KEY2 = bytes(range(32)), bytes(range(100, 132))


class FakeRadio:
    def __init__(self) -> None:
        self.rx: list[bytes] = []

    def receive(self) -> list[bytes]:
        out, self.rx = self.rx, []
        return out


def _outlook(t: int) -> Outlook:
    return Outlook(t, 0.9, 0.7, 2400.0, 1700.0, 60.0, False, 3000.0, 2000.0, 4, 0, 1e9)


class Rig:
    def __init__(self, tmp: Path) -> None:
        sc = load("gpu-node")
        self.emu = Emulator(sc)
        hw = sil.hardware_from_scenario(sc)
        self.sensors = SensorPoller(hw, self.emu.buses)
        self.sensors.reset(0)
        self.packets: list[tuple[int, bytes]] = []
        self.events = EventReporter(load_dictionary(), lambda apid, t, p: self.packets.append((apid, p)))
        modes = ModeManager(self.events, Mode.STANDBY)
        keyfile = tmp / "flight-keys.toml"
        keyfile.write_text(f'[[key]]\nid = 1\nkey = "{KEY1.hex()}"\n[[key]]\nid = 2\nkey = "{KEY2.hex()}"\n',
                           encoding="utf-8")
        os.chmod(keyfile, 0o600)
        keys = load_key_file(keyfile)
        self.sdls = SdlsEndpoint(keys, [SecurityAssociation(SaParams(1, Algorithm.HMAC_SHA256), keys, 1)])
        self.results: list[tuple[int, int]] = []
        self.sched = JobScheduler(RunAlwaysPolicy(), _outlook, hw.payload_mode_power_w, hw.payload_mode_throughput,
                                  self.events, lambda t, j, b, first: self.results.append((j, b)))
        self.radio = FakeRadio()
        self.uplink = Uplink(self.radio, load_commands(), Farm(sil.SPACECRAFT_ID, 0),
                             lambda apid, t, p: self.packets.append((apid, p)), self.events, modes,
                             LoadSwitches(hw, self.sensors.gpio), Parameters(), sdls=self.sdls, jobs=self.sched)
        self.uplink.reset(0)
        self.t_ns = 0
        self.sn = 0

    def send(self, tmp: Path, *argv: str, key_id: int = 1, key: bytes = KEY1) -> None:
        keyfile = tmp / f"ground-{key_id}.toml"
        keyfile.write_text(f'[[key]]\nid = {key_id}\nkey = "{key.hex()}"\n', encoding="utf-8")
        os.chmod(keyfile, 0o600)
        out = tmp / "tc.cltu"
        self.sn += 1
        assert main(["cmd", *argv, "--key", str(keyfile), "--key-id", str(key_id), "--sn", str(self.sn),
                     "--seq", str(self.uplink.farm.vr), "--out", str(out)]) == 0
        self.radio.rx.append(out.read_bytes())
        self.t_ns += NS
        self.uplink.step(self.t_ns)

    def last(self) -> tuple[int, FailureCode | None, int]:
        r = self.uplink.reports[-1]
        return r.subtype, r.code, r.data


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


SUBMIT = ("submit_job", "job_id=700", "kind=inference", "work_s=30", "value=5", "priority=1", "deadline_s=0",
          "checkpoint_s=0", "output_bytes=4096")


def test_submit_job_reaches_the_scheduler(rig: Rig, tmp_path: Path) -> None:
    rig.send(tmp_path, *SUBMIT)
    assert [r.subtype for r in rig.uplink.reports] == [1, 3, 7]
    st = rig.sched.jobs[700]
    assert (st.spec.kind, st.spec.work_s, st.spec.value, st.spec.priority, st.spec.output_bytes) == \
        ("inference", 30.0, 5.0, 1, 4096)
    assert st.spec.release_ns == rig.t_ns and st.spec.deadline_ns is None
    assert rig.events.counts.get("JOB_SUBMITTED") == 1


def test_a_job_id_in_use_is_refused(rig: Rig, tmp_path: Path) -> None:
    rig.send(tmp_path, *SUBMIT)
    rig.send(tmp_path, *SUBMIT)
    assert rig.last() == (8, FailureCode.JOB_REFUSED, 700)  # completion failure
    assert rig.sched.refused == 1


def test_a_deadline_already_past_is_refused_at_start(rig: Rig, tmp_path: Path) -> None:
    rig.t_ns = 10 * NS
    rig.send(tmp_path, *(a if not a.startswith("deadline_s") else "deadline_s=5" for a in SUBMIT))
    assert rig.last() == (4, FailureCode.JOB_REFUSED, 700) and 700 not in rig.sched.jobs


def test_cancel_and_reprioritize(rig: Rig, tmp_path: Path) -> None:
    rig.send(tmp_path, *SUBMIT)
    rig.send(tmp_path, "reprioritize_job", "job_id=700", "priority=0", "value=9.5")
    assert rig.uplink.reports[-1].subtype == 7
    assert (rig.sched.jobs[700].spec.priority, rig.sched.jobs[700].spec.value) == (0, 9.5)
    rig.send(tmp_path, "cancel_job", "job_id=700")
    assert rig.uplink.reports[-1].subtype == 7 and rig.sched.jobs[700].status == JobStatus.CANCELLED
    assert rig.sched.ready(rig.t_ns) == ()
    rig.send(tmp_path, "cancel_job", "job_id=700")  # already ended
    assert rig.last() == (8, FailureCode.JOB_REFUSED, 700)
    rig.send(tmp_path, "reprioritize_job", "job_id=701", "priority=0", "value=1")  # no such job
    assert rig.last() == (8, FailureCode.JOB_REFUSED, 701)


def test_cancelling_the_running_job_stops_it(rig: Rig) -> None:
    rig.sched.submit(0, JobSpec(5, "training", 100.0, 10.0, 2, 0, None, 0.0, 0))
    d = rig.sched.choose(0, None)
    assert d.job is not None and d.job.job_id == 5 and d.mode == 4
    assert rig.sched.cancel(NS, 5)
    d = rig.sched.choose(NS, d.job)
    assert d.job is None  # the payload manager aborts it


def test_key_rotation_by_command(rig: Rig, tmp_path: Path) -> None:
    rig.send(tmp_path, "activate_key", "spi=1", "key_id=2")
    assert rig.uplink.reports[-1].subtype == 7 and rig.sdls.associations[1].key_id == 2
    # frames signed with the old key are now rejected; the new key works
    accepted = rig.uplink.commands_accepted
    rig.send(tmp_path, "ping")
    assert rig.uplink.commands_accepted == accepted
    rig.send(tmp_path, "ping", key_id=2, key=KEY2)
    assert rig.uplink.commands_accepted == accepted + 1
    # the old key can go; the active one cannot
    rig.send(tmp_path, "zeroize_key", "key_id=1", key_id=2, key=KEY2)
    assert rig.uplink.reports[-1].subtype == 7 and 1 not in rig.sdls.keys
    rig.send(tmp_path, "zeroize_key", "key_id=2", key_id=2, key=KEY2)
    assert rig.last() == (8, FailureCode.KEY_REFUSED, int(KeyOpStatus.KEY_IN_USE)) and 2 in rig.sdls.keys
    rig.send(tmp_path, "activate_key", "spi=1", "key_id=9", key_id=2, key=KEY2)
    assert rig.last() == (8, FailureCode.KEY_REFUSED, int(KeyOpStatus.UNKNOWN_KEY_ID))
    assert rig.sdls.associations[1].key_id == 2


def test_the_reports_and_commands_decode_with_the_dictionaries() -> None:
    cmds = load_commands()
    for name in ("submit_job", "cancel_job", "reprioritize_job", "activate_key", "zeroize_key"):
        assert cmds.command(name).service in (129, 130)
    labels = dict((v, k) for k, v in load_dictionary().packet("tc_completion_failure").field("failure_code")
                  .calibration.labels)
    assert labels["JOB_REFUSED"] == FailureCode.JOB_REFUSED and labels["KEY_REFUSED"] == FailureCode.KEY_REFUSED


def test_submit_job_reports_progress_when_the_job_runs_and_completes(rig: Rig, tmp_path: Path) -> None:
    rig.send(tmp_path, *SUBMIT)
    request = rig.uplink.reports[0].request
    d = rig.sched.choose(rig.t_ns, None)
    assert d.job is not None and d.job.job_id == 700
    assert [r.subtype for r in rig.uplink.reports] == [1, 3, 7, 5]
    assert rig.uplink.reports[-1].request == request
    rig.sched.job_ended(rig.t_ns + 30 * NS, d.job, True, 30.0)
    assert [r.subtype for r in rig.uplink.reports] == [1, 3, 7, 5, 5] and rig.results == [(700, 4096)]
    steps = [dict(load_dictionary().packet("tc_progress_success").decode(p).fields)["step"]
             for apid, p in rig.packets if apid == load_dictionary().packet("tc_progress_success").apid]
    assert steps == [1, 2]


def test_dump_store_reports_and_refusals(rig: Rig, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    done: list[Callable[[int], None]] = []

    def dump(t0: int, t1: int, tell: Callable[[int], None]) -> int:
        calls.append((t0, t1))
        done.append(tell)
        return 7

    rig.send(tmp_path, "dump_store", "start_s=100", "end_s=200")  # no dump wired: refused at start
    assert rig.last() == (4, FailureCode.DUMP_REFUSED, 0)
    rig.uplink.dump = dump
    rig.send(tmp_path, "dump_store", "start_s=200", "end_s=100")
    assert rig.last() == (4, FailureCode.DUMP_REFUSED, 1) and calls == []
    rig.send(tmp_path, "dump_store", "start_s=100", "end_s=200")
    assert calls == [(100 * NS, 200 * NS)] and [r.subtype for r in rig.uplink.reports][-3:] == [1, 3, 7]
    done[0](rig.t_ns + 5 * NS)  # the copies are all sent
    assert rig.uplink.reports[-1].subtype == 5
