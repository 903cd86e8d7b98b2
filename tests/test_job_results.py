"""Job results as telemetry (flight/telemetry/results.py ResultWriter) and their accounting on the
ground (ground/jobs.py): parts, streaming, the data, delivery from a CADU capture, and the score."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from emulator.workload import WorkloadJob
from flight.ccsds.tm_frame import TmFrameConfig, TmFramer, cadu
from flight.dictionary import load_dictionary
from flight.events import EventReporter
from flight.jobs import JobSpec
from flight.scheduler import Choice, JobScheduler, Outlook, SchedView
from flight.telemetry.results import ResultWriter
from ground.bulk import decode_columns
from ground.jobs import Delivered, delivered_jobs, score
from skyrack.sil import cuc_offset_ns

NS = 1_000_000_000
DICTIONARY = load_dictionary()
APID = DICTIONARY.packet("job_result").apid
OFFSET_NS = cuc_offset_ns(datetime(2026, 6, 21, tzinfo=UTC))
T_CUC = 2.0**-16  # the CUC fine time's resolution


class Recorder:
    def __init__(self) -> None:
        self.packets: list[tuple[int, int, bytes]] = []
        self.progress: list[tuple[int, int, bool]] = []

    def sink(self, apid: int, t_ns: int, pkt: bytes) -> None:
        self.packets.append((apid, t_ns, pkt))

    def on_progress(self, job_id: int, parts: int, whole: bool) -> None:
        self.progress.append((job_id, parts, whole))


def writer(parts_per_step: int = 256) -> tuple[ResultWriter, Recorder]:
    rec = Recorder()
    w = ResultWriter(DICTIONARY, rec.sink, OFFSET_NS, parts_per_step)
    w.on_progress = rec.on_progress
    return w, rec


def frames(packets: list[bytes]) -> bytes:
    """A CADU capture of the packets on VC 0, as the downlink frames them."""
    cfg = TmFrameConfig(scid=0x2A5)
    framer = TmFramer(cfg)
    out: list[bytes] = []
    for k, pkt in enumerate(packets):
        framer.push(0, pkt)
        while framer.pending(0) >= cfg.data_field_len:
            out.append(cadu(framer.frame(0), cfg))
        if k % 5 == 0:
            out.append(cadu(framer.idle_frame(), cfg))
    while framer.pending(0):
        out.append(cadu(framer.frame(0), cfg))
    return b"".join(out)


def decoded(pkt: bytes) -> dict[str, Any]:
    return dict(DICTIONARY.decode(pkt).fields)


# completion times (mission ns) and result sizes: 3 parts, 1 whole part, an empty result, 5 parts
JOBS = {1: (100 * NS, 3000), 2: (150 * NS, 1024), 3: (200 * NS, 0), 4: (260 * NS, 5000)}


@pytest.fixture(scope="module")
def written() -> list[bytes]:
    w, rec = writer()
    for job_id, (t, n) in JOBS.items():
        w.add(t, job_id, n)
    w.step(300 * NS)
    assert w.pending_parts == 0
    return [pkt for _, _, pkt in rec.packets]


# ---------------------------------------------------------------------------- the writer
def test_results_are_cut_into_parts(written: list[bytes]) -> None:
    fields = [decoded(p) for p in written]
    assert [(f["job_id"], f["part"], f["parts"]) for f in fields] == [
        (1, 0, 3), (1, 1, 3), (1, 2, 3), (2, 0, 1), (3, 0, 1), (4, 0, 5), (4, 1, 5), (4, 2, 5), (4, 3, 5), (4, 4, 5)]
    assert [f["octets"] for f in fields] == [1024, 1024, 952, 1024, 0, 1024, 1024, 1024, 1024, 904]
    assert [DICTIONARY.decode(p).seq_count for p in written] == list(range(10))
    assert {DICTIONARY.decode(p).apid for p in written} == {APID}


def test_parts_are_stamped_with_the_completion(written: list[bytes]) -> None:
    for p in written:
        d = DICTIONARY.decode(p)
        t_ns = JOBS[int(d.fields["job_id"])][0]
        assert d.time_s == pytest.approx((t_ns + OFFSET_NS) / NS, abs=T_CUC)


def test_data_octets_decode_back(written: list[bytes]) -> None:
    for job_id, (_, n) in JOBS.items():
        want = random.Random(job_id).randbytes(n)
        got = b""
        for p in written:
            f = decoded(p)
            if f["job_id"] == job_id:
                data = bytes.fromhex(str(f["data"]))
                assert len(data) == 1024
                assert data[int(f["octets"]):] == bytes(1024 - int(f["octets"]))
                got += data[:int(f["octets"])]
        assert got == want
    first = decoded(written[0])
    assert bytes.fromhex(str(first["data"]))[:1024] == random.Random(1).randbytes(3000)[:1024]
    # and through the bulk decoder the ground uses
    cols = decode_columns(frames(written), DICTIONARY)["job_result"]
    k = [int(j) for j in cols["job_id"]].index(1)
    assert bytes.fromhex(str(cols["data"][k]))[:int(cols["octets"][k])] == random.Random(1).randbytes(3000)[:1024]


def test_parts_per_step_streams_the_results() -> None:
    w, rec = writer(parts_per_step=2)
    w.add(10 * NS, 11, 3000)  # 3 parts
    w.add(20 * NS, 12, 10)  # 1 part
    w.add(30 * NS, 13, 2048)  # 2 parts
    assert w.pending_parts == 6
    per_step = []
    for k in range(4):
        before = len(rec.packets)
        w.step((100 + k) * NS)
        per_step.append(len(rec.packets) - before)
    assert per_step == [2, 2, 2, 0]
    assert w.pending_parts == 0
    assert rec.progress == [(11, 2, False), (11, 3, True), (12, 1, True), (13, 2, True)]
    assert w.parts_written == 6 and w.bytes_written == 3000 + 10 + 2048
    assert [t for _, t, _ in rec.packets] == [10 * NS] * 3 + [20 * NS] + [30 * NS] * 2


def test_a_result_resumes_from_its_first_part() -> None:
    w, rec = writer()
    w.add(10 * NS, 9, 5000, first_part=3)
    w.add(20 * NS, 8, 1000, first_part=7)  # past the end: nothing left to write
    assert w.pending_parts == 2
    w.step(30 * NS)
    assert [(decoded(p)["job_id"], decoded(p)["part"]) for _, _, p in rec.packets] == [(9, 3), (9, 4)]
    assert bytes.fromhex(str(decoded(rec.packets[0][2])["data"])) == random.Random(9).randbytes(5000)[3072:4096]
    assert rec.progress == [(9, 5, True), (8, 1, True)]


def test_parts_per_step_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ResultWriter(DICTIONARY, lambda apid, t, pkt: None, 0, parts_per_step=0)


def test_writer_reports_progress_to_the_scheduler() -> None:
    """Wired as in skyrack.sil: the scheduler's result sink is the writer, its progress goes back."""

    class Always:
        name = "SKYRACK"

        def decide(self, view: SchedView) -> Choice:
            return Choice(view.ready[0].spec.job_id, 4) if view.ready else Choice(None, 0)

    w, rec = writer(parts_per_step=3)
    sched = JobScheduler(Always(), lambda t: Outlook(t, 0.8, 0.3, 2400.0, 1800.0, 150.0, False, 1200.0, 2100.0,
                                                     4, 0, 1e8),
                         (70.0, 300.0, 500.0, 700.0), (0.05, 0.55, 0.85, 1.0),
                         EventReporter(DICTIONARY, lambda apid, t, pkt: None), w.add)
    w.on_progress = sched.result_progress
    sched.submit(0, JobSpec(5, "eo", 10.0, 3.0, 0, 0, None, 0.0, 5 * 1024))
    job = sched.choose(0, None).job
    assert job is not None
    sched.job_ended(10 * NS, job, completed=True)
    st = sched.jobs[5]
    w.step(11 * NS)
    assert (st.result_parts, st.stored) == (3, False)
    w.step(12 * NS)
    assert (st.result_parts, st.stored) == (5, True)
    assert len(rec.packets) == 5


# ---------------------------------------------------------------------------- the ground
def test_delivered_jobs_are_those_with_every_part(written: list[bytes], tmp_path: Path) -> None:
    got = delivered_jobs(frames(written), DICTIONARY)
    assert sorted(got) == [1, 2, 3, 4]
    assert {k: d.parts for k, d in got.items()} == {1: 3, 2: 1, 3: 1, 4: 5}
    for k, d in got.items():
        assert d.completed_s == pytest.approx((JOBS[k][0] + OFFSET_NS) / NS, abs=T_CUC)
    # drop one part of job 4: job 4 is not delivered, the others are
    dropped = [p for p in written if (decoded(p)["job_id"], decoded(p)["part"]) != (4, 2)]
    path = tmp_path / "capture.cadu"
    path.write_bytes(frames(dropped))
    got = delivered_jobs(path, DICTIONARY)
    assert sorted(got) == [1, 2, 3]


def test_duplicates_count_once_and_a_bad_crc_does_not_count(written: list[bytes]) -> None:
    job1 = [p for p in written if decoded(p)["job_id"] == 1]
    got = delivered_jobs(frames(written + job1[::-1]), DICTIONARY)  # job 1 again, parts reversed
    assert got[1].parts == 3 and sorted(got) == [1, 2, 3, 4]
    bad = list(written)
    k = next(i for i, p in enumerate(bad) if decoded(p)["job_id"] == 2)
    corrupted = bytearray(bad[k])
    corrupted[40] ^= 0x01  # a data bit: the packet's CRC no longer matches
    bad[k] = bytes(corrupted)
    assert sorted(delivered_jobs(frames(bad), DICTIONARY)) == [1, 3, 4]


def test_a_capture_without_results_delivers_nothing() -> None:
    ev: list[bytes] = []
    EventReporter(DICTIONARY, lambda apid, t, pkt: ev.append(pkt)).emit(0, "BOOT")
    assert delivered_jobs(frames(ev), DICTIONARY) == {}
    assert delivered_jobs(b"", DICTIONARY) == {}


def wj(job_id: int, value: float, release_s: float, deadline_s: float | None) -> WorkloadJob:
    return WorkloadJob(job_id, "k", 10.0, value, 0, release_s, deadline_s, 0.0, 100)


def test_score_counts_value_only_for_jobs_in_time() -> None:
    offset_s = 1000.0
    jobs = [
        wj(1, 10.0, 0.0, 100.0),  # completed at 90: in time
        wj(2, 20.0, 0.0, 100.0),  # completed at 110: late, and a miss
        wj(3, 40.0, 50.0, None),  # no deadline, completed: in time
        wj(4, 80.0, 60.0, 150.0),  # never delivered, deadline within the run: a miss
        wj(5, 160.0, 70.0, 300.0),  # not delivered, deadline after the end: not yet a miss
        wj(6, 320.0, 250.0, 400.0),  # released after the end: not counted at all
        wj(7, 640.0, 80.0, None),  # no deadline, not delivered: neither
        wj(8, 1.0, 90.0, 120.0),  # completed exactly at its deadline: in time
    ]
    delivered = {1: Delivered(1, offset_s + 90.0, 1), 2: Delivered(2, offset_s + 110.0, 1),
                 3: Delivered(3, offset_s + 199.0, 2), 6: Delivered(6, offset_s + 260.0, 1),
                 8: Delivered(8, offset_s + 120.0, 1)}
    s = score(jobs, delivered, end_s=200.0, cuc_offset_s=offset_s)
    assert s.released == 7
    assert s.delivered == 3
    assert s.late == 1
    assert s.deadline_misses == 2
    assert s.value_released == pytest.approx(10 + 20 + 40 + 80 + 160 + 640 + 1)
    assert s.value_delivered == pytest.approx(10 + 40 + 1)


def test_score_end_to_end_from_a_capture(written: list[bytes]) -> None:
    got = delivered_jobs(frames(written), DICTIONARY)
    offset_s = OFFSET_NS / NS
    # job 1 completed at 100 s (deadline 120), job 2 at 150 s (deadline 140), job 4 at 260 s (none); job 5 never
    jobs = [wj(1, 1.0, 0.0, 120.0), wj(2, 2.0, 0.0, 140.0), wj(4, 4.0, 0.0, None), wj(5, 8.0, 0.0, 250.0)]
    s = score(jobs, got, end_s=300.0, cuc_offset_s=offset_s)
    assert (s.released, s.delivered, s.late, s.deadline_misses) == (4, 2, 1, 2)
    assert s.value_delivered == pytest.approx(5.0)
