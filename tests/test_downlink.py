"""Downlink against the packet store: selection by sequence number, store failures, LOS."""

from __future__ import annotations

import errno
from pathlib import Path

from fake_fs import WriteFaultFS

from flight.ccsds.deframer import Deframer
from flight.ccsds.spacepacket import encode_packet
from flight.ccsds.tm_frame import TmFrameConfig
from flight.telemetry.downlink import Downlink
from flight.telemetry.store import FsyncPolicy, OsFileSystem, PacketStore, StoreConfig, StoredPacket, StoreError

NS = 1_000_000_000


class FakeRadio:
    def __init__(self) -> None:
        self.contact = False
        self.sent: list[bytes] = []

    def in_contact(self) -> bool:
        return self.contact

    def downlink_bps(self) -> float:
        return 8 * 1119.0  # one CADU per one-second step

    def send(self, frame: bytes) -> None:
        self.sent.append(frame)

    def receive(self) -> list[bytes]:
        return []


def packet(i: int) -> bytes:
    return encode_packet(100, i % 16384, i.to_bytes(4, "big") * 50)  # 206 octets


def ground(sent: list[bytes]) -> list[int]:
    d = Deframer()
    got = [p for f in sent for _, p in d.feed(f)]
    return [int.from_bytes(p[6:10], "big") for p in got if ((p[0] & 7) << 8 | p[1]) == 100]


def test_records_dropped_while_in_flight_do_not_hide_later_ones(tmp_path: Path) -> None:
    r = FakeRadio()
    st = PacketStore(tmp_path, StoreConfig(segment_bytes=4000, capacity_bytes=8000, fsync=FsyncPolicy.NEVER))
    dl = Downlink(r, TmFrameConfig(scid=1), st, NS)
    for i in range(20):
        dl.on_packet(100, i, packet(i))
    r.contact = True
    dl.step(0)  # one frame: packets 0..3 framed, packet 4 in flight
    r.contact = False
    for i in range(20, 60):
        dl.on_packet(100, i, packet(i))  # the full store drops its oldest segments
    dropped = st.stats.dropped_records
    assert dropped > 0
    first_left = st.peek(1)[0].seq
    r.contact = True
    for t in range(1, 60):
        dl.step(t * NS)
    got = ground(r.sent)
    # everything the store still held when the contact resumed reaches the ground, in order
    assert got[-(60 - first_left):] == list(range(first_left, 60))
    assert st.stats.pending == 0


def test_store_errors_are_counted_not_raised(tmp_path: Path) -> None:
    fs = WriteFaultFS()
    st = PacketStore(tmp_path, StoreConfig(fsync=FsyncPolicy.NEVER), fs=fs)
    r = FakeRadio()
    dl = Downlink(r, TmFrameConfig(scid=1), st, NS)
    dl.on_packet(100, 0, packet(0))
    fs.fail = errno.ENOSPC
    dl.on_packet(100, 1, packet(1))
    assert dl.store_errors == 1 and dl.packets_stored == 1
    fs.fail = None
    r.contact = True
    for t in range(3):
        dl.step(t * NS)
    assert ground(r.sent) == [0]


def test_realtime_packets_left_at_los_go_to_the_store(tmp_path: Path) -> None:
    r = FakeRadio()
    st = PacketStore(tmp_path, StoreConfig(fsync=FsyncPolicy.NEVER))
    dl = Downlink(r, TmFrameConfig(scid=1), st, NS)
    r.contact = True
    for i in range(30):  # 30 x 206 octets: more than one frame a second carries
        dl.on_packet(100, i, packet(i))
    dl.step(0)
    r.contact = False
    dl.step(NS)
    assert st.stats.pending > 0
    r.contact = True
    for t in range(2, 20):
        dl.step(t * NS)
    assert sorted(ground(r.sent)) == list(range(30))


def test_a_step_writes_one_release_for_all_the_frames_it_played_back(tmp_path: Path) -> None:
    class CountingFS(OsFileSystem):
        replaces = 0

        def replace(self, src: str, dst: str) -> None:
            self.replaces += 1
            super().replace(src, dst)

    class FastRadio(FakeRadio):
        def downlink_bps(self) -> float:
            return 8 * 1119.0 * 5  # five CADUs per one-second step

    fs = CountingFS()
    st = PacketStore(tmp_path, StoreConfig(fsync=FsyncPolicy.ON_ROLL), fs=fs)
    r = FastRadio()
    dl = Downlink(r, TmFrameConfig(scid=1), st, NS)
    for i in range(40):
        dl.on_packet(100, i, packet(i))
    r.contact = True
    dl.step(0)
    assert len(r.sent) == 5 and fs.replaces == 1  # one checkpoint for the step
    released = st.stats.released
    assert released == dl.packets_played_back and 20 <= released < 40
    for t in range(1, 4):
        dl.step(t * NS)
    assert ground(r.sent) == list(range(40)) and st.stats.pending == 0
    assert fs.replaces == 2  # the second step played back the rest; the others had nothing to release


def test_packets_of_one_step_go_to_the_store_together(tmp_path: Path) -> None:
    fs = WriteFaultFS()
    st = PacketStore(tmp_path, StoreConfig(fsync=FsyncPolicy.ON_ROLL), fs=fs)
    r = FakeRadio()
    dl = Downlink(r, TmFrameConfig(scid=1), st, NS)
    dl.on_packets([(100, 0, packet(0))])
    dl.on_packets([(100, 1, packet(i)) for i in range(1, 4)])
    assert fs.writes == 2 and dl.packets_stored == 4
    fs.fail, fs.once = errno.EIO, True  # the batch write fails: each packet is then stored on its own
    dl.on_packets([(100, 2, packet(i)) for i in range(4, 7)])
    assert dl.packets_stored == 7 and dl.store_errors == 0 and fs.writes == 6
    r.contact = True
    dl.on_packets([(100, 3, packet(i)) for i in range(7, 9)])  # in a contact: real time
    assert dl.packets_realtime == 2
    for t in range(4, 12):
        dl.step(t * NS)
    assert sorted(ground(r.sent)) == list(range(9))


def test_products_are_played_back_ahead_of_stored_housekeeping_on_their_own_channel(tmp_path: Path) -> None:
    r = FakeRadio()
    cfg = StoreConfig(fsync=FsyncPolicy.NEVER)
    hk, prod = PacketStore(tmp_path / "hk", cfg), PacketStore(tmp_path / "products", cfg)
    dl = Downlink(r, TmFrameConfig(scid=1), hk, NS, products=prod)
    for i in range(40):
        dl.on_packet(100, i, packet(i))  # housekeeping made before the product
    for i in range(8):
        dl.store_packet(101, 100 + i, encode_packet(101, i, i.to_bytes(4, "big") * 50))
    r.contact = True
    dl.step(0)
    dl.step(1)  # two frames: both from the products store
    d = Deframer()
    vcs = {(f[4 + 1] >> 1) & 7 for f in r.sent}
    got = [p for f in r.sent for _, p in d.feed(f)]
    assert vcs == {3} and {((p[0] & 7) << 8 | p[1]) for p in got} == {101}
    assert prod.stats.pending < 8 and hk.stats.pending == 40  # released as framed, each in its own store
    for t in range(2, 40):
        dl.step(t)
    assert prod.stats.pending == 0 and hk.stats.pending == 0
    assert ground(r.sent) == list(range(40))  # the housekeeping then, in order, once
    assert dl.packets_played_back == 48 and dl.store_errors == 0
    # without a products store, products go to the housekeeping store
    dl2 = Downlink(FakeRadio(), TmFrameConfig(scid=1), PacketStore(tmp_path / "one", cfg), NS)
    dl2.store_packet(101, 0, packet(0))
    assert dl2.store.stats.pending == 1 and len(dl2.playbacks) == 1


class UnreadableStore(PacketStore):
    def peek(self, max_records: int | None = None, max_bytes: int | None = None, *,
             after_seq: int = -1) -> list[StoredPacket]:
        raise StoreError("read of seg-00000000000000000000.pks failed: EIO")


def test_an_unreadable_products_store_is_counted_and_housekeeping_still_comes_down(tmp_path: Path) -> None:
    r = FakeRadio()
    cfg = StoreConfig(fsync=FsyncPolicy.NEVER)
    hk = PacketStore(tmp_path / "hk", cfg)
    dl = Downlink(r, TmFrameConfig(scid=1), hk, NS, products=UnreadableStore(tmp_path / "products", cfg))
    for i in range(8):
        dl.on_packet(100, i, packet(i))
    r.contact = True
    for t in range(4):
        dl.step(t)
    assert ground(r.sent) == list(range(8)) and hk.stats.pending == 0
    assert dl.store_errors == 4  # one failed read per step, counted
