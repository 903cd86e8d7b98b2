"""Determinism: the plant is a function of the scenario, the seed and the
commands; the seed drives only the chips' measurement noise."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from oracles import NS

from emulator import Emulator, load

# (bus, address, register) of noisy telemetry: INA226 shunt/bus/current, TMP117, MAX17048, payload POWER
READS = [(0, 0x40, 0x01), (0, 0x40, 0x02), (0, 0x41, 0x01), (0, 0x42, 0x01), (0, 0x48, 0x00), (0, 0x49, 0x00),
         (1, 0x48, 0x00), (0, 0x36, 0x02), (0, 0x36, 0x04), (0, 0x50, 0x0A), (0, 0x50, 0x0B), (0, 0x50, 0x02)]


def run_day(seed: int, chunk_s: int = 600) -> tuple[bytes, list[bytes], np.ndarray]:
    emu = Emulator(load("gpu-node"), seed=seed)
    ina_cal = bytes([0x05, 0x0A, 0x00])  # calibrate the INA226s so the current register is live
    for addr in (0x40, 0x41, 0x42):
        emu.bus.transfer(addr, ina_cal, 0)
    reads: list[bytes] = []
    for k in range(86400 // chunk_s):
        if k % 12 == 0:  # vary the payload: mode and a job
            mode = (k // 12) % 5
            emu.bus.transfer(0x50, bytes([0x03, 0, mode]), 0)
            emu.bus.transfer(0x50, bytes([0x07, 0x10, 0x00]), 0)
            emu.bus.transfer(0x50, bytes([0x04, 0, 1]), 0)
        emu.advance(chunk_s * NS)
        for bus, addr, reg in READS:
            reads.append(emu.buses[bus].transfer(addr, bytes([reg]), 2))
    return emu.state.tobytes(), reads, np.array(emu.state["node_temp_k"])


def test_same_seed_same_everything() -> None:
    a_state, a_reads, _ = run_day(7)
    b_state, b_reads, _ = run_day(7)
    assert a_state == b_state
    assert a_reads == b_reads


def test_different_seed_different_noise_same_physics() -> None:
    a_state, a_reads, a_temps = run_day(7)
    b_state, b_reads, b_temps = run_day(8)
    assert a_state == b_state  # the physics does not see the noise
    assert np.array_equal(a_temps, b_temps)
    differing = sum(x != y for x, y in zip(a_reads, b_reads, strict=True))
    assert differing > len(a_reads) // 4
    # the ID-like and status registers are not noisy: only measurement registers differ
    status = [k for k, (_, addr, reg) in enumerate(READS * (len(a_reads) // len(READS))) if (addr, reg) == (0x50, 0x02)]
    assert all(a_reads[k] == b_reads[k] for k in status)


def test_state_bytes_cover_the_physics() -> None:
    # guards the byte comparison above: a different scenario gives different state bytes
    sc = load("gpu-node")
    a = Emulator(sc)
    b = Emulator(replace(sc, battery=replace(sc.battery, initial_soc=0.85)))
    a.advance(60 * NS)
    b.advance(60 * NS)
    assert a.state.tobytes() != b.state.tobytes()
    assert len(a.state.tobytes()) == a.state.dtype.itemsize
