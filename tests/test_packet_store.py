"""The persistent packet store: order, persistence, crash recovery, exactly-once, capacity, fsync, I/O failures."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

import pytest
from fake_fs import WriteFaultFS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flight.telemetry.store import (
    CHECKPOINT_NAME,
    HEADER,
    OVERHEAD,
    FsyncPolicy,
    FullPolicy,
    OsFileSystem,
    PacketStore,
    StoreConfig,
    StoredPacket,
    StoreError,
    decode_checkpoint,
    encode_record,
    segment_name,
)

FAST = StoreConfig(segment_bytes=400, capacity_bytes=1_000_000, fsync=FsyncPolicy.NEVER)


def pkt(i: int, size: int = 20) -> bytes:
    return i.to_bytes(4, "big") + bytes((i + k) & 0xFF for k in range(size - 4))


def segments(d: Path) -> list[Path]:
    return sorted(d.glob("seg-*.pks"))


def fill(d: Path, n: int, config: StoreConfig = FAST) -> list[int]:
    with PacketStore(d, config) as s:
        return [s.append(pkt(i), t_ns=1000 * i, apid=0x100 + i % 3) or -1 for i in range(n)]


# --------------------------------------------------------------------------- order and persistence


def test_append_peek_release_in_order(tmp_path: Path) -> None:
    with PacketStore(tmp_path, FAST) as s:
        seqs = [s.append(pkt(i), t_ns=10 * i, apid=7) for i in range(10)]
        assert seqs == list(range(10))
        first = s.peek(max_records=4)
        assert [p.seq for p in first] == [0, 1, 2, 3]
        assert first[0] == StoredPacket(seq=0, t_ns=0, apid=7, data=pkt(0))
        assert [p.seq for p in s.peek(max_records=4)] == [0, 1, 2, 3]  # peek removes nothing
        s.release(first[-1].seq)
        assert [p.data for p in s.peek()] == [pkt(i) for i in range(4, 10)]
        assert [p.seq for p in s.peek(max_bytes=3 * 20)] == [4, 5, 6]
        assert s.peek(max_bytes=19) == []  # a packet is never split nor over budget
        st_ = s.stats
        assert (st_.records, st_.pending, st_.released, st_.next_seq) == (10, 6, 4, 10)
        s.release(2)  # already released: no-op
        assert s.stats.released == 4
        with pytest.raises(ValueError, match="seqs below 10"):
            s.release(10)


def test_peek_after_a_seq_skips_older_records_across_segments(tmp_path: Path) -> None:
    with PacketStore(tmp_path, FAST) as s:
        for i in range(40):  # 52-octet records: 7 to a 400-octet segment
            s.append(pkt(i), t_ns=i, apid=7)
        assert len(segments(tmp_path)) > 3
        assert [p.seq for p in s.peek(3, after_seq=20)] == [21, 22, 23]
        assert [p.seq for p in s.peek(after_seq=37)] == [38, 39]
        assert s.peek(after_seq=39) == []
        s.release(25)
        assert [p.seq for p in s.peek(2, after_seq=10)] == [26, 27]  # released ones are never handed out

def test_release_deletes_fully_released_segments(tmp_path: Path) -> None:
    with PacketStore(tmp_path, FAST) as s:  # 400-byte segments hold 7 records of 52 bytes
        for i in range(30):
            s.append(pkt(i), t_ns=i, apid=1)
        assert len(segments(tmp_path)) == 5 and s.stats.bytes == 30 * (20 + OVERHEAD)
        s.release(13)  # the first two segments (0..6, 7..13) are fully released
        assert segments(tmp_path)[0].name == segment_name(14)
        assert s.stats.segments == 3 and s.stats.records == 16
        s.release(29)  # everything: the newest segment stays, it holds the seq high-water mark
        assert s.stats.segments == 1 and s.stats.pending == 0
    with PacketStore(tmp_path, FAST) as s:
        assert s.peek() == []
        assert s.append(b"next", t_ns=0, apid=1) == 30


def test_persistence_across_reopen_including_release_state(tmp_path: Path) -> None:
    with PacketStore(tmp_path, FAST) as s:
        for i in range(20):
            s.append(pkt(i), t_ns=-5 + i, apid=i)
        s.release(8)
    with PacketStore(tmp_path, FAST) as s:
        got = s.peek()
        assert [p.seq for p in got] == list(range(9, 20))
        assert [(p.t_ns, p.apid, p.data) for p in got] == [(-5 + i, i, pkt(i)) for i in range(9, 20)]
        assert s.stats.torn_records == s.stats.corrupt_records == 0
        assert s.append(b"x", t_ns=0, apid=0) == 20  # seqs continue across restarts
        s.release(15)
    with PacketStore(tmp_path, FAST) as s:
        assert [p.seq for p in s.peek()] == [16, 17, 18, 19, 20]
        assert decode_checkpoint((tmp_path / CHECKPOINT_NAME).read_bytes()) == 16


def test_dump_returns_a_time_range_without_touching_release_state(tmp_path: Path) -> None:
    with PacketStore(tmp_path, FAST) as s:
        for i in range(10):
            s.append(pkt(i), t_ns=100 * i, apid=1)
        s.release(3)
        assert [p.seq for p in s.dump(200, 600)] == [2, 3, 4, 5]  # 2, 3 released but still on disk
        assert [p.seq for p in s.dump(200, 600, max_records=1)] == [2]
        assert [p.seq for p in s.peek(max_records=1)] == [4]


def test_bad_configuration_and_packets_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2 x segment_bytes"):
        StoreConfig(segment_bytes=1000, capacity_bytes=1500)
    with PacketStore(tmp_path, FAST) as s:
        with pytest.raises(ValueError, match=r"raise StoreConfig\.segment_bytes"):
            s.append(bytes(400), t_ns=0, apid=1)
        with pytest.raises(ValueError, match="apid"):
            s.append(b"x", t_ns=0, apid=0x10000)
    with pytest.raises(StoreError, match="closed"):
        s.append(b"x", t_ns=0, apid=1)


# --------------------------------------------------------------------------- crash recovery


def _last_record_span(d: Path) -> tuple[Path, int, int]:
    seg = segments(d)[-1]
    size = seg.stat().st_size
    return seg, size - (20 + OVERHEAD), size


def test_torn_final_record_at_every_offset_is_truncated_and_counted(tmp_path: Path) -> None:
    src = tmp_path / "src"
    fill(src, 5)
    seg, start, end = _last_record_span(src)
    whole = seg.read_bytes()
    for cut in range(start, end):
        d = tmp_path / f"cut{cut}"
        d.mkdir()
        (d / seg.name).write_bytes(whole[:cut])
        with PacketStore(d, FAST) as s:
            assert [p.data for p in s.peek()] == [pkt(i) for i in range(4)], cut
            assert s.stats.torn_records == (1 if cut > start else 0), cut
            assert s.stats.corrupt_records == 0
            assert (d / seg.name).stat().st_size == start  # the torn bytes are gone
            assert s.append(pkt(99), t_ns=0, apid=1) == 4  # seq 4 never reached the disk whole
        with PacketStore(d, FAST) as s:
            assert [p.data for p in s.peek()] == [pkt(i) for i in range(4)] + [pkt(99)]
            assert s.stats.torn_records == 0


@pytest.mark.parametrize("how", ["flip_each_byte", "garbage", "zeros"])
def test_damaged_middle_record_is_skipped_and_counted(tmp_path: Path, how: str) -> None:
    src = tmp_path / "src"
    fill(src, 6)  # one segment of 6 records; damage record 2
    seg = segments(src)[0]
    whole = seg.read_bytes()
    rec = 20 + OVERHEAD
    a = 2 * rec
    variants: list[bytes]
    if how == "flip_each_byte":
        variants = [whole[:i] + bytes([whole[i] ^ 0x5A]) + whole[i + 1:] for i in range(a, a + rec)]
    elif how == "garbage":
        variants = [whole[:a] + bytes((37 * k + 11) & 0xFF for k in range(rec)) + whole[a + rec:]]
    else:
        variants = [whole[:a + 3] + bytes(rec - 10) + whole[a + rec - 7:]]
    for n, damaged in enumerate(variants):
        d = tmp_path / f"v{n}"
        d.mkdir()
        (d / seg.name).write_bytes(damaged)
        with PacketStore(d, FAST) as s:
            assert [p.seq for p in s.peek()] == [0, 1, 3, 4, 5], n
            assert (s.stats.corrupt_records, s.stats.torn_records) == (1, 0), n


def test_damage_at_the_end_of_a_sealed_segment_and_bad_checkpoint_never_raise(tmp_path: Path) -> None:
    fill(tmp_path, 20)
    first = segments(tmp_path)[0]
    raw = bytearray(first.read_bytes())
    raw[-1] ^= 0xFF  # the CRC of the segment's last complete record
    first.write_bytes(bytes(raw))
    (tmp_path / CHECKPOINT_NAME).write_bytes(b"not a checkpoint")
    (tmp_path / (CHECKPOINT_NAME + ".tmp")).write_bytes(b"half written")
    with PacketStore(tmp_path, FAST) as s:
        assert s.stats.corrupt_records == 1 and s.stats.checkpoint_errors == 1
        assert [p.seq for p in s.peek()] == [i for i in range(20) if i != 6]
    assert not (tmp_path / (CHECKPOINT_NAME + ".tmp")).exists()


def test_record_damaged_after_open_is_counted_when_read(tmp_path: Path) -> None:
    with PacketStore(tmp_path, FAST) as s:
        for i in range(3):
            s.append(pkt(i), t_ns=0, apid=1)
        seg = segments(tmp_path)[0]
        raw = bytearray(seg.read_bytes())
        raw[(20 + OVERHEAD) + HEADER.size] ^= 1  # payload of seq 1
        seg.write_bytes(bytes(raw))
        assert [p.seq for p in s.peek()] == [0, 2]
        assert s.stats.corrupt_records == 1


# --------------------------------------------------------------------------- exactly once, with restarts and crashes


class Crash(BaseException):
    """The flight process dies here (not an OSError: the store must not handle it)."""


class CrashingFs(OsFileSystem):
    """Real files; a crash can be armed to strike at the k-th mutating operation (mid-write: a prefix lands)."""

    def __init__(self) -> None:
        self.countdown: int | None = None
        self.partial = 0
        self.handles: set[int] = set()

    def arm(self, ops: int, partial: int) -> None:
        self.countdown, self.partial = ops, partial

    def _tick(self) -> bool:
        if self.countdown is None:
            return False
        self.countdown -= 1
        if self.countdown > 0:
            return False
        self.countdown = None
        return True

    def die(self) -> None:
        for h in self.handles:  # the kernel closes a dead process's files; nothing more is written
            os.close(h)
        self.handles.clear()

    def open_append(self, path: str, *, create: bool) -> int:
        if self._tick():
            raise Crash
        h = super().open_append(path, create=create)
        self.handles.add(h)
        return h

    def open_truncate(self, path: str) -> int:
        if self._tick():
            raise Crash
        h = super().open_truncate(path)
        self.handles.add(h)
        return h

    def close(self, handle: int) -> None:
        self.handles.discard(handle)
        super().close(handle)

    def write(self, handle: int, data: bytes) -> None:
        if self._tick():
            super().write(handle, data[:self.partial % (len(data) + 1)])
            raise Crash
        super().write(handle, data)

    def truncate(self, handle: int, size: int) -> None:
        if self._tick():
            raise Crash
        super().truncate(handle, size)

    def fsync(self, handle: int) -> None:  # counted as a crash point, skipped for speed
        if self._tick():
            raise Crash

    def fsync_dir(self, path: str) -> None:
        if self._tick():
            raise Crash

    def remove(self, path: str) -> None:
        if self._tick():
            raise Crash
        super().remove(path)

    def replace(self, src: str, dst: str) -> None:
        if self._tick():
            raise Crash
        super().replace(src, dst)


OPS = st.one_of(
    st.tuples(st.just("append"), st.integers(1, 6)),
    st.tuples(st.just("pass"), st.integers(1, 8)),  # peek, the ground confirms, release
    st.tuples(st.just("lost"), st.integers(1, 8)),  # peek, the pass ends before the ground confirms
    st.tuples(st.just("restart"), st.just(0)),
    st.tuples(st.just("crash"), st.integers(1, 12)),  # the process dies at the k-th file operation from now
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(OPS, max_size=25), policy=st.sampled_from(list(FsyncPolicy)), partial=st.integers(0, 200),
       size=st.integers(8, 90))
def test_every_packet_reaches_the_ground_exactly_once_in_order(
        ops: list[tuple[str, int]], policy: FsyncPolicy, partial: int, size: int) -> None:
    config = StoreConfig(segment_bytes=300, capacity_bytes=10_000_000, fsync=policy, fsync_every_n=3)
    fs = CrashingFs()
    with tempfile.TemporaryDirectory() as d:
        store = PacketStore(d, config, fs)
        appended: list[int] = []  # ids whose append returned
        in_doubt: set[int] = set()  # ids whose append was cut by a crash: delivered at most once
        ground: list[int] = []  # ids the ground archived, deduplicated by seq as the link layer does
        last_seq = -1
        duplicates = 0
        crashed_in_release = False
        next_id = 0

        def downlink(n: int, confirm: bool) -> None:
            nonlocal last_seq, duplicates, crashed_in_release
            got = store.peek(max_records=n)
            if not confirm or not got:
                return
            for p in got:
                if p.seq <= last_seq:
                    duplicates += 1
                    continue
                last_seq = p.seq
                ground.append(int.from_bytes(p.data[:4], "big"))
            try:
                store.release(got[-1].seq)
            except Crash:
                crashed_in_release = True
                raise

        for op, k in ops:
            doing = None
            try:
                if op == "append":
                    for _ in range(k):
                        doing = next_id
                        next_id += 1
                        assert store.append(pkt(doing, size), t_ns=doing, apid=5) is not None
                        appended.append(doing)
                        doing = None
                elif op in ("pass", "lost"):
                    downlink(k, confirm=op == "pass")
                elif op == "restart":
                    store.close()
                    store = PacketStore(d, config, fs)
                else:
                    fs.arm(k, partial)
            except Crash:
                fs.die()
                if doing is not None:
                    in_doubt.add(doing)
                fs.countdown = None
                store = PacketStore(d, config, fs)
        fs.countdown = None
        store.close()
        store = PacketStore(d, config, fs)
        while store.stats.pending:
            downlink(7, confirm=True)
        assert store.stats.corrupt_records == 0
        store.close()

    assert duplicates == 0 or crashed_in_release
    assert ground == sorted(ground) and len(set(ground)) == len(ground)  # in order, once each
    assert [i for i in ground if i not in in_doubt] == appended  # nothing acknowledged is lost


# --------------------------------------------------------------------------- capacity


def test_full_store_drops_oldest_unreleased_by_default(tmp_path: Path) -> None:
    config = StoreConfig(segment_bytes=200, capacity_bytes=600, fsync=FsyncPolicy.NEVER)  # 3 records/segment
    assert config.when_full == FullPolicy.DROP_OLDEST
    with PacketStore(tmp_path, config) as s:
        for i in range(30):
            assert s.append(pkt(i), t_ns=i, apid=1) == i
            assert sum(p.stat().st_size for p in segments(tmp_path)) <= 600
        kept = [p.seq for p in s.peek()]
        assert kept == list(range(30 - len(kept), 30)) and len(kept) >= 9
        assert s.stats.dropped_records == 30 - len(kept) and s.stats.refused_records == 0
    with PacketStore(tmp_path, config) as s:
        assert [p.seq for p in s.peek()] == kept  # dropping persisted: nothing comes back


def test_released_segments_are_not_counted_as_dropped(tmp_path: Path) -> None:
    config = StoreConfig(segment_bytes=200, capacity_bytes=400, fsync=FsyncPolicy.NEVER)
    with PacketStore(tmp_path, config) as s:
        for i in range(6):
            s.append(pkt(i), t_ns=i, apid=1)
        s.release(1)  # seq 2 remains in the first segment
        for i in range(6, 9):
            s.append(pkt(i), t_ns=i, apid=1)
        assert s.stats.dropped_records == 1  # only seq 2 was unreleased
        assert [p.seq for p in s.peek()] == [3, 4, 5, 6, 7, 8]


def test_full_store_can_refuse_new_packets(tmp_path: Path) -> None:
    config = StoreConfig(segment_bytes=200, capacity_bytes=400, fsync=FsyncPolicy.NEVER,
                         when_full=FullPolicy.REFUSE)
    with PacketStore(tmp_path, config) as s:
        got = [s.append(pkt(i), t_ns=i, apid=1) for i in range(10)]
        assert got == [0, 1, 2, 3, 4, 5, 6, None, None, None]  # 7 x 52 bytes fit in 400
        assert s.stats.refused_records == 3 and s.stats.dropped_records == 0
        assert s.stats.bytes <= 400
        s.release(2)  # frees the first segment
        assert s.append(pkt(10), t_ns=10, apid=1) == 7
        assert [p.seq for p in s.peek()] == [3, 4, 5, 6, 7]


# --------------------------------------------------------------------------- fsync policies


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = {"file": 0, "dir": 0}

    def fake_fsync(fd: int) -> None:
        counts["dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"] += 1

    monkeypatch.setattr(os, "fsync", fake_fsync)
    return counts


def _config(policy: FsyncPolicy) -> StoreConfig:
    return StoreConfig(segment_bytes=4 * (20 + OVERHEAD), capacity_bytes=100_000, fsync=policy, fsync_every_n=3)


def test_fsync_every_record(tmp_path: Path, fsyncs: dict[str, int]) -> None:
    s = PacketStore(tmp_path, _config(FsyncPolicy.EVERY_RECORD))
    for i in range(10):  # 4 records per segment: 3 segments
        s.append(pkt(i), t_ns=i, apid=1)
    assert fsyncs == {"file": 10, "dir": 3}
    s.peek()
    s.close()
    assert fsyncs == {"file": 10, "dir": 3}  # nothing left to sync
    s = PacketStore(tmp_path, _config(FsyncPolicy.EVERY_RECORD))
    s.release(4)  # checkpoint: file + directory; then the first segment is deleted: directory
    assert fsyncs == {"file": 11, "dir": 5}
    s.close()


def test_fsync_every_n(tmp_path: Path, fsyncs: dict[str, int]) -> None:
    s = PacketStore(tmp_path, _config(FsyncPolicy.EVERY_N))  # n = 3
    for i in range(4):
        s.append(pkt(i), t_ns=i, apid=1)
    assert fsyncs == {"file": 1, "dir": 1}  # after the 3rd record
    s.peek()  # the 4th is made durable before it is handed out
    assert fsyncs == {"file": 2, "dir": 1}
    for i in range(4, 6):
        s.append(pkt(i), t_ns=i, apid=1)  # rolls at the 5th: nothing unsynced to seal
    assert fsyncs == {"file": 2, "dir": 2}
    s.close()  # 2 unsynced
    assert fsyncs == {"file": 3, "dir": 2}


def test_fsync_on_roll(tmp_path: Path, fsyncs: dict[str, int]) -> None:
    s = PacketStore(tmp_path, _config(FsyncPolicy.ON_ROLL))
    for i in range(9):
        s.append(pkt(i), t_ns=i, apid=1)
    assert fsyncs == {"file": 2, "dir": 3}  # sealing segments 1 and 2
    s.close()
    assert fsyncs == {"file": 3, "dir": 3}


def test_fsync_never(tmp_path: Path, fsyncs: dict[str, int]) -> None:
    with PacketStore(tmp_path, _config(FsyncPolicy.NEVER)) as s:
        for i in range(9):
            s.append(pkt(i), t_ns=i, apid=1)
        s.peek()
        s.release(8)
    assert fsyncs == {"file": 0, "dir": 0}


# --------------------------------------------------------------------------- write failures


class FaultyFs(OsFileSystem):
    """Real files, with failures switched on by the test."""

    def __init__(self) -> None:
        self.write_room: int | None = None  # bytes writable before ENOSPC
        self.fail: set[str] = set()

    def _maybe(self, name: str) -> None:
        if name in self.fail:
            raise OSError(errno.EIO if name != "create" else errno.ENOSPC, os.strerror(errno.EIO))

    def write(self, handle: int, data: bytes) -> None:
        if self.write_room is not None and len(data) > self.write_room:
            super().write(handle, data[:self.write_room])
            self.write_room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if self.write_room is not None:
            self.write_room -= len(data)
        super().write(handle, data)

    def truncate(self, handle: int, size: int) -> None:
        self._maybe("truncate")
        super().truncate(handle, size)

    def fsync(self, handle: int) -> None:
        self._maybe("fsync")

    def fsync_dir(self, path: str) -> None:
        self._maybe("fsync_dir")

    def open_append(self, path: str, *, create: bool) -> int:
        if create:
            self._maybe("create")
        return super().open_append(path, create=create)

    def replace(self, src: str, dst: str) -> None:
        self._maybe("replace")
        super().replace(src, dst)

    def remove(self, path: str) -> None:
        self._maybe("remove")
        super().remove(path)


def test_enospc_mid_record_is_reported_and_the_store_stays_consistent(tmp_path: Path) -> None:
    fs = FaultyFs()
    with PacketStore(tmp_path, FAST, fs) as s:
        s.append(pkt(0), t_ns=0, apid=1)
        fs.write_room = 30  # the next record (52 bytes) lands half
        with pytest.raises(StoreError, match="ENOSPC") as err:
            s.append(pkt(1), t_ns=1, apid=1)
        assert "\n" not in str(err.value) and "retry" in str(err.value)
        assert s.stats.io_errors == 1 and s.stats.records == 1
        assert segments(tmp_path)[0].stat().st_size == 20 + OVERHEAD  # the half record was cut off
        fs.write_room = None
        assert s.append(pkt(2), t_ns=2, apid=1) == 2  # seq 1 was consumed by the failed write
        assert [p.data for p in s.peek()] == [pkt(0), pkt(2)]
    with PacketStore(tmp_path, FAST, fs) as s:
        assert [p.seq for p in s.peek()] == [0, 2]
        assert (s.stats.torn_records, s.stats.corrupt_records) == (0, 0)


def test_failed_write_that_cannot_be_undone_seals_the_segment(tmp_path: Path) -> None:
    fs = FaultyFs()
    with PacketStore(tmp_path, FAST, fs) as s:
        s.append(pkt(0), t_ns=0, apid=1)
        fs.write_room, fs.fail = 30, {"truncate"}
        with pytest.raises(StoreError, match="may remain"):
            s.append(pkt(1), t_ns=1, apid=1)
        fs.write_room, fs.fail = None, set()
        assert s.append(pkt(2), t_ns=2, apid=1) == 2  # into a new segment
        assert len(segments(tmp_path)) == 2
        assert [p.seq for p in s.peek()] == [0, 2]
    with PacketStore(tmp_path, FAST) as s:  # the half record is found and cut on reopen
        assert [p.seq for p in s.peek()] == [0, 2]
        assert s.stats.torn_records == 1


def test_failed_fsync_does_not_store_the_packet(tmp_path: Path) -> None:
    fs = FaultyFs()
    config = StoreConfig(segment_bytes=400, capacity_bytes=100_000, fsync=FsyncPolicy.EVERY_RECORD)
    with PacketStore(tmp_path, config, fs) as s:
        s.append(pkt(0), t_ns=0, apid=1)
        fs.fail = {"fsync"}
        with pytest.raises(StoreError, match="EIO"):
            s.append(pkt(1), t_ns=1, apid=1)
        fs.fail = set()
        assert [p.seq for p in s.peek()] == [0]
    with PacketStore(tmp_path, config) as s:
        assert [p.seq for p in s.peek()] == [0]
        assert s.stats.next_seq == 1  # seq 1 never reached the disk nor the ground: it may be reused


def test_segment_creation_failure_is_reported_and_retried(tmp_path: Path) -> None:
    fs = FaultyFs()
    with PacketStore(tmp_path, FAST, fs) as s:
        fs.fail = {"create"}
        with pytest.raises(StoreError, match="cannot create segment"):
            s.append(pkt(0), t_ns=0, apid=1)
        assert s.stats.io_errors == 1 and s.stats.segments == 0
        fs.fail = set()
        assert s.append(pkt(1), t_ns=1, apid=1) == 0
        assert [p.data for p in s.peek()] == [pkt(1)]


def test_failed_checkpoint_releases_nothing(tmp_path: Path) -> None:
    fs = FaultyFs()
    with PacketStore(tmp_path, FAST, fs) as s:
        for i in range(10):
            s.append(pkt(i), t_ns=i, apid=1)
        fs.fail = {"replace"}
        with pytest.raises(StoreError, match="nothing was released"):
            s.release(8)
        assert s.stats.pending == 10 and s.stats.io_errors == 1
        fs.fail = {"remove"}  # the checkpoint works; deleting the released segment fails: counted, retried
        s.release(8)
        assert s.stats.pending == 1 and s.stats.segments == 2 and s.stats.io_errors == 2
        fs.fail = set()
    with PacketStore(tmp_path, FAST, fs) as s:
        assert [p.seq for p in s.peek()] == [9] and s.stats.segments == 1


def test_encode_record_layout() -> None:
    rec = encode_record(seq=0x0102030405060708, t_ns=-1, apid=0x07FF, data=b"abc")
    assert rec[:4] == b"SKPR" and rec[4] == 1 and rec[6:8] == b"\x07\xff"
    assert rec[8:12] == b"\x00\x00\x00\x03" and rec[12:20] == bytes(range(1, 9)) and rec[20:28] == b"\xff" * 8
    assert rec[28:31] == b"abc" and len(rec) == 3 + OVERHEAD


def test_a_repeated_or_out_of_order_record_is_not_taken_for_a_new_one(tmp_path: Path) -> None:
    recs = [encode_record(seq=i, t_ns=i, apid=1, data=pkt(i)) for i in range(4)]
    (tmp_path / segment_name(0)).write_bytes(recs[0] + recs[1] + recs[2] + recs[1] + recs[3])
    (tmp_path / segment_name(10)).write_bytes(encode_record(seq=9, t_ns=9, apid=1, data=b"below its segment"))
    with PacketStore(tmp_path, FAST) as s:
        assert [p.seq for p in s.peek()] == [0, 1, 2, 3]
        assert s.stats.corrupt_records == 2 and s.stats.next_seq == 10


def test_append_batch_writes_what_appends_one_by_one_write(tmp_path: Path) -> None:
    cfg = StoreConfig(segment_bytes=4000, capacity_bytes=1_000_000, fsync=FsyncPolicy.ON_ROLL)
    items = [(pkt(i, 20 + i), 1000 * i - 5, 0x100 + i) for i in range(6)]
    with PacketStore(tmp_path / "one", cfg) as s:
        assert s.append(pkt(99), 0, 1) == 0
        assert [s.append(*it) for it in items] == [1, 2, 3, 4, 5, 6]
    fs = WriteFaultFS()
    with PacketStore(tmp_path / "batch", cfg, fs=fs) as s:
        assert s.append(pkt(99), 0, 1) == 0
        assert s.append_batch(items) == [1, 2, 3, 4, 5, 6]
        assert fs.writes == 2  # one record, then the batch
        assert s.stats.records == 7 and s.stats.next_seq == 7
        assert [(p.data, p.t_ns, p.apid) for p in s.peek(after_seq=0)] == items
    assert segments(tmp_path / "one")[0].read_bytes() == segments(tmp_path / "batch")[0].read_bytes()
    with PacketStore(tmp_path / "batch", cfg) as s:  # reopened: the index is the same
        assert [p.seq for p in s.peek()] == list(range(7))


def test_append_batch_declines_what_takes_more_than_one_write(tmp_path: Path) -> None:
    items = [(pkt(i), i, 1) for i in range(3)]
    with PacketStore(tmp_path / "a", StoreConfig(fsync=FsyncPolicy.ON_ROLL)) as s:
        assert s.append_batch(items) is None  # no writable segment yet: append() creates it
        s.append(pkt(9), 0, 1)
        assert s.append_batch([(pkt(1), 0, 70000)]) is None  # an invalid apid: append() says why
        assert s.append_batch([]) is None
        assert s.stats.next_seq == 1  # nothing done, no seq consumed
    with PacketStore(tmp_path / "b", StoreConfig(fsync=FsyncPolicy.EVERY_RECORD)) as s:
        s.append(pkt(9), 0, 1)
        assert s.append_batch(items) is None  # each record is synced on its own
    small = StoreConfig(segment_bytes=200, capacity_bytes=1_000_000, fsync=FsyncPolicy.NEVER)
    with PacketStore(tmp_path / "c", small) as s:
        s.append(pkt(9), 0, 1)
        assert s.append_batch(items * 2) is None  # would need a new segment
        assert s.append_batch(items[:2]) == [1, 2]


def test_a_failed_batch_write_stores_none_of_it(tmp_path: Path) -> None:
    fs = WriteFaultFS()
    with PacketStore(tmp_path, StoreConfig(fsync=FsyncPolicy.ON_ROLL), fs=fs) as s:
        s.append(pkt(0), 0, 1)
        fs.fail = errno.ENOSPC
        with pytest.raises(StoreError, match=r"seqs 1\.\.3"):
            s.append_batch([(pkt(i), i, 1) for i in range(1, 4)])
        fs.fail = None
        assert s.stats.records == 1 and s.stats.io_errors == 1
        assert s.append_batch([(pkt(7), 7, 1), (pkt(8), 8, 1)]) == [4, 5]  # the failed seqs stay consumed
        assert [p.data for p in s.peek()] == [pkt(0), pkt(7), pkt(8)]


def test_pending_follows_appends_releases_and_records_found_corrupt(tmp_path: Path) -> None:
    with PacketStore(tmp_path, FAST) as s:
        for i in range(40):
            s.append(pkt(i), t_ns=i, apid=1)

        def unreleased() -> int:
            return len(s.peek()) + s.stats.corrupt_records - corrupt_before

        corrupt_before = 0
        assert s.pending == 40
        for up_to in (2, 3, 11, 12, 18):
            s.release(up_to)
            assert s.pending == s.stats.pending == unreleased() == 39 - up_to
            assert s.pending == 39 - up_to  # asked again: the same split of the partly released segment
        # a released record of the partly released segment turns out corrupt (read by a dump): it leaves the
        # segment, which moves the released/unreleased split in its index
        split = next(seg for seg in s._segments if seg.entries[0].seq <= 18 < seg.entries[-1].seq)
        victim = split.entries[0]
        with open(split.path, "r+b") as f:
            f.seek(victim.offset + HEADER.size)
            byte = f.read(1)
            f.seek(victim.offset + HEADER.size)
            f.write(bytes([byte[0] ^ 0xFF]))
        s.dump(0, 1 << 62)
        assert s.stats.corrupt_records == 1
        assert s.pending == s.stats.pending == 21
        s.append(pkt(40), t_ns=40, apid=1)
        assert s.pending == 22


def test_free_bytes_follow_the_segment_files(tmp_path: Path) -> None:
    with PacketStore(tmp_path, FAST) as s:
        assert s.stats.bytes == 0 and s.free_bytes == FAST.capacity_bytes
        seqs = [s.append(pkt(i), t_ns=i, apid=7) for i in range(40)]
        on_disk = sum(p.stat().st_size for p in segments(tmp_path))
        assert s.stats.bytes == on_disk > 0
        assert s.free_bytes == FAST.capacity_bytes - on_disk
        last = seqs[-1]
        assert last is not None
        s.release(last)  # every sealed segment is deleted
        assert s.stats.bytes == sum(p.stat().st_size for p in segments(tmp_path)) < on_disk
        assert s.free_bytes == FAST.capacity_bytes - s.stats.bytes


def test_pending_bytes_count_only_unreleased_records(tmp_path: Path) -> None:
    with PacketStore(tmp_path, FAST) as s:
        seqs = [s.append(pkt(i), t_ns=i, apid=7) for i in range(40)]
        record = 20 + OVERHEAD
        assert s.pending_bytes == 40 * record == s.stats.bytes
        s.release(seqs[24] or 0)  # 25 released, in deleted segments and in the partly released one
        assert s.pending_bytes == 15 * record < s.stats.bytes
        s.release(seqs[-1] or 0)
        assert s.pending_bytes == 0 and s.pending == 0


def test_dump_stops_at_its_byte_budget(tmp_path: Path) -> None:
    with PacketStore(tmp_path, FAST) as s:
        for i in range(30):
            s.append(pkt(i), t_ns=i, apid=7)
        got = s.dump(0, 100, max_bytes=20 * 7 + 19)  # seven 20-octet packets fit, the eighth would not
        assert [p.seq for p in got] == list(range(7))
        assert [p.seq for p in s.dump(5, 100, max_records=3, max_bytes=10_000)] == [5, 6, 7]
        assert s.dump(0, 100, max_bytes=19) == []
