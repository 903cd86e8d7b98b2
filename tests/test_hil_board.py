"""The board's link-backed buses and radio (hil.board), against a scripted host: no link, no emulator."""

from __future__ import annotations

import pytest

from flight.interfaces import Bus, BusError, Radio, RegisterBatch
from hil.board import BoardBuses, DivergedError, LinkRadio
from hil.lockstep import DocAssembler, doc_parts, groups_to_transfers, transfers_to_groups
from hil.messages import BusOp, BusResult, BusStatus, BusTransfer, DocType, TransferResult

OPS_A = ((0x40, 1, 2), (0x40, 2, 2), (0x41, 1, 2))
OPS_B = ((0x48, 0, 2),)


class FakeHost:
    """Answers every transfer: a read of register r at address a gives a * 256 + r; NACK at address 0x7F."""

    def __init__(self) -> None:
        self.batches: list[tuple[BusTransfer, ...]] = []

    def __call__(self, transfers: tuple[BusTransfer, ...]) -> tuple[TransferResult, ...]:
        self.batches.append(transfers)
        out = []
        for t in transfers:
            if t.address == 0x7F:
                out.append(TransferResult(BusStatus.NACK, (), t.width))
            elif t.op == BusOp.READ:
                out.append(TransferResult(BusStatus.OK, (t.address * 256 + t.register,), t.width))
            elif t.op == BusOp.RAW:
                out.append(TransferResult(BusStatus.OK, tuple(range(t.count)), 1))
            else:
                out.append(TransferResult(BusStatus.OK, (), t.width))
        return tuple(out)


def pushed(list_id: int, groups: tuple[tuple[tuple[int, int, int], ...], ...], fail: int | None = None) -> BusResult:
    results = []
    for g in groups:
        for a, r, w in g:
            results.append(TransferResult(BusStatus.ERROR, (), w) if a == fail else
                           TransferResult(BusStatus.OK, (a * 256 + r,), w))
    return BusResult(list_id, tuple(results))


def poll(io: BoardBuses) -> list[list[int | None]]:
    """What the sensor poller does at the start of a tick: two batch calls, then a write."""
    out = [io.buses[0].read_registers(OPS_A), io.buses[1].read_registers(OPS_B)]
    io.buses[0].transfer(0x20, b"\x01\x05", 0)
    return out


def test_link_bus_is_a_bus_and_a_register_batch() -> None:
    io = BoardBuses(FakeHost())
    assert isinstance(io.buses[0], Bus) and isinstance(io.buses[0], RegisterBatch)
    assert isinstance(LinkRadio(lambda f: None), Radio)


def test_first_tick_reads_over_the_link_and_declares_its_poll() -> None:
    host = FakeHost()
    io = BoardBuses(host)
    io.start_tick(None)
    words = poll(io)
    assert words == [[0x4001, 0x4002, 0x4101], [0x4800]]
    assert len(host.batches) == 3  # two reads and the write, one round trip each, in order
    assert host.batches[2][0].op == BusOp.RAW
    declared = io.end_tick()
    assert declared == ((0, OPS_A), (1, OPS_B))  # the write ended the prefix


def test_pushed_poll_is_served_without_round_trips() -> None:
    host = FakeHost()
    io = BoardBuses(host)
    list_id = io.declare(((0, OPS_A), (1, OPS_B)))
    io.start_tick(pushed(list_id, (OPS_A, OPS_B)))
    assert poll(io) == [[0x4001, 0x4002, 0x4101], [0x4800]]
    assert len(host.batches) == 1  # only the write
    assert io.end_tick() is None  # unchanged


def test_a_failed_read_stops_the_push_and_the_declaration() -> None:
    host = FakeHost()
    io = BoardBuses(host)
    list_id = io.declare(((0, OPS_A), (1, OPS_B)))
    io.start_tick(pushed(list_id, (OPS_A,), fail=0x41))  # the host stopped after the group with a failure
    assert io.buses[0].read_registers(OPS_A) == [0x4001, 0x4002, None]
    io.buses[0].transfer(0x41, b"\x01", 2)  # the driver retries the failed device the normal way
    assert io.buses[1].read_registers(OPS_B) == [0x4800]  # read over the link: after the retry, as in SIL
    assert io.end_tick() == ()  # uncertain: declare nothing


def test_a_health_change_withdraws_the_declaration() -> None:
    failed = [False]
    io = BoardBuses(FakeHost(), failed_key=lambda: tuple(failed))
    list_id = io.declare(((0, OPS_A),))
    io.start_tick(pushed(list_id, (OPS_A,)))
    io.buses[0].read_registers(OPS_A)
    assert io.end_tick() is None  # the same poll next tick
    io.start_tick(pushed(list_id, (OPS_A,)))
    io.buses[0].read_registers(OPS_A)
    failed[0] = True  # a device went FAILED during the tick: the poller will read differently
    assert io.end_tick() == ()


def test_divergence_is_detected() -> None:
    io = BoardBuses(FakeHost())
    list_id = io.declare(((0, OPS_A), (1, OPS_B)))
    io.start_tick(pushed(list_id, (OPS_A, OPS_B)))
    with pytest.raises(DivergedError, match="declared poll"):
        io.buses[1].read_registers(OPS_B)  # out of order
    io.start_tick(pushed(list_id, (OPS_A, OPS_B)))
    io.buses[0].read_registers(OPS_A)
    with pytest.raises(DivergedError, match="before the pushed poll"):
        io.buses[0].transfer(0x20, b"\x01", 1)
    io.start_tick(pushed(list_id, (OPS_A, OPS_B)))
    io.buses[0].read_registers(OPS_A)
    with pytest.raises(DivergedError, match="unused"):
        io.end_tick()
    with pytest.raises(DivergedError, match="poll list"):
        io.start_tick(pushed(list_id + 1, (OPS_A,)))


def test_transfer_errors_are_bus_errors() -> None:
    io = BoardBuses(FakeHost())
    with pytest.raises(BusError, match="NACK"):
        io.buses[0].transfer(0x7F, b"\x00", 2)
    with pytest.raises(BusError, match="7-bit"):
        io.buses[0].transfer(0x80, b"\x00", 2)
    assert io.buses[0].transfer(0x20, b"\x00", 3) == bytes([0, 1, 2])


def test_radio_reports_the_host_state_and_queues_frames() -> None:
    sent: list[bytes] = []
    radio = LinkRadio(sent.append)
    assert not radio.in_contact() and radio.downlink_bps() == 0.0
    radio.set_state(True, 9600.0)
    assert radio.in_contact() and radio.downlink_bps() == 9600.0
    radio.send(b"frame")
    assert sent == [b"frame"] and radio.frames_sent == 1
    radio.rx.append(b"tc")
    assert radio.receive() == [b"tc"] and radio.receive() == []


def test_documents_split_and_join() -> None:
    obj = {"text": "x" * 5000, "n": 3}
    parts = doc_parts(DocType.SETUP, obj, part=1000)
    assert len(parts) > 5 and parts[-1].last and not any(p.last for p in parts[:-1])
    docs = DocAssembler()
    got = [docs.add(p) for p in parts]
    assert got[:-1] == [None] * (len(parts) - 1) and got[-1] == (DocType.SETUP, obj)


def test_poll_groups_round_trip_through_transfers() -> None:
    groups = ((0, OPS_A), (1, OPS_B))
    assert transfers_to_groups(groups_to_transfers(groups)) == groups
