"""The radio endpoint: frames leave only during contacts, at the contact's bit rate."""

from __future__ import annotations

import numpy as np

from emulator import Emulator, load
from emulator.radio import Delivered

NS = 1_000_000_000


def first_contact_s(emu: Emulator, limit_s: int = 86400) -> int:
    emu.start_log(["contact_station"], NS)
    emu.advance(limit_s * NS)
    d = emu.log_data()
    idx = np.flatnonzero(d["contact_station"] >= 0)
    assert idx.size, "no contact in a day"
    return int(d["t_s"][idx[0]])


def test_frames_wait_for_a_contact_then_leave_at_the_link_rate() -> None:
    sc = load("gpu-node")
    t_aos = first_contact_s(Emulator(sc))
    got: list[Delivered] = []
    emu = Emulator(sc, sink=got.append)
    frame = bytes(1115)
    for _ in range(50):
        emu.radio.send(frame)
    emu.advance((t_aos - 10) * NS)
    assert got == [] and not emu.radio.in_contact()
    assert emu.radio.downlink_bps() == 0.0
    emu.advance(20 * NS)
    assert emu.radio.in_contact()
    bps = emu.radio.downlink_bps()
    assert bps == sc.stations[int(emu.state["contact_station"])].downlink_bps
    assert len(got) == 50  # 50 frames need 4.5 ms at 100 Mbit/s
    assert all(d.frame == frame for d in got)
    assert all(d.t_ns > (t_aos - 10) * NS for d in got)


def test_link_rate_limits_throughput_within_a_pass() -> None:
    sc = load("gpu-node")
    slow = tuple(type(g)(**{**g.__dict__, "downlink_bps": 9600.0}) for g in sc.stations)
    from dataclasses import replace

    sc = replace(sc, stations=slow)
    t_aos = first_contact_s(Emulator(sc))
    got: list[Delivered] = []
    emu = Emulator(sc, sink=got.append)
    emu.advance((t_aos + 5) * NS)
    assert emu.radio.in_contact()
    for _ in range(100):
        emu.radio.send(bytes(1115))
    for _ in range(10):  # ten one-second steps inside the pass
        emu.advance(NS)
    # 9600 bit/s over 10 s carries 96000 bits = 10.76 frames of 8920 bits
    assert len(got) == 10
    assert emu.radio.queued_bytes() == 90 * 1115


def test_uplink_arrives_only_in_contact() -> None:
    sc = load("gpu-node")
    t_aos = first_contact_s(Emulator(sc))
    emu = Emulator(sc)
    emu.radio.uplink(b"\x20\x03" + bytes(30))
    emu.advance((t_aos - 5) * NS)
    assert emu.radio.receive() == []
    emu.advance(15 * NS)
    assert emu.radio.receive() == [b"\x20\x03" + bytes(30)]
    assert emu.radio.receive() == []


def test_transmitter_draws_tx_power_while_frames_are_queued_in_contact() -> None:
    sc = load("gpu-node")
    t_aos = first_contact_s(Emulator(sc))
    radio = sc.loads[sc.load_index("radio")]
    emu = Emulator(sc)
    emu.advance((t_aos + 5) * NS)
    emu.advance(NS)
    assert emu.snapshot()["loads"]["radio"]["power_w"] == radio.power_w
    for _ in range(20000):
        emu.radio.send(bytes(1115))
    emu.advance(NS)
    assert emu.snapshot()["loads"]["radio"]["power_w"] == radio.power_w + radio.tx_power_w
