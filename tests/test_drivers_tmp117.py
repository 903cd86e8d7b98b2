"""TMP117 driver against the emulated chips."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from emulator import Emulator, Scenario, load
from flight.drivers import DeviceIdError, Health, Tmp117, Tmp117Config
from flight.drivers.tmp117 import Averaging, ConversionCycle, ConversionMode

NS = 1_000_000_000
MS = 1_000_000
LSB_C = 7.8125e-3
TMP_NAMES = ["temp_payload", "temp_battery", "temp_radiator", "temp_avionics", "temp_array"]


def scenario(noise: float | None) -> Scenario:
    sc = load("gpu-node")
    if noise is None:
        return sc
    return replace(sc, devices=tuple(replace(d, noise=noise) for d in sc.devices))


def true_c(emu: Emulator, name: str) -> float:
    node = emu.scenario.nodes[emu.scenario.device(name).index].name
    return float(emu.snapshot()["temperatures_c"][node])


def driver(emu: Emulator, name: str, config: Tmp117Config | None = None) -> Tmp117:
    d = emu.scenario.device(name)
    return Tmp117(emu.buses[d.bus], d.address, config, name=name)


@pytest.mark.parametrize("name", TMP_NAMES)
@pytest.mark.parametrize("quiet", [True, False], ids=["noise-free", "preset-noise"])
def test_temperature_equals_node(name: str, quiet: bool) -> None:
    emu = Emulator(scenario(0.0 if quiet else None))
    tmp = driver(emu, name, Tmp117Config(cycle=ConversionCycle.C_125MS, averaging=Averaging.AVG_8))
    tmp.init()
    sigma = emu.scenario.device(name).noise / math.sqrt(8)
    for _ in range(4):
        emu.advance(900 * NS)
        assert tmp.data_ready()
        got = tmp.read()
        assert abs(got - true_c(emu, name)) <= LSB_C + 5 * sigma, (got, true_c(emu, name))
    assert tmp.health == Health.OK


def test_sensors_read_their_own_nodes() -> None:
    emu = Emulator(scenario(0.0))
    drivers = {n: driver(emu, n) for n in TMP_NAMES}
    for d in drivers.values():
        d.init()
    emu.advance(3000 * NS)  # the nodes drift apart
    for n, d in drivers.items():
        assert d.temperature_c() == pytest.approx(true_c(emu, n), abs=LSB_C)
    temps = [d.temperature_c() for d in drivers.values()]
    assert max(temps) - min(temps) > 10 * LSB_C


def test_data_ready_one_shot_and_por_value() -> None:
    emu = Emulator(scenario(0.0))
    tmp = driver(emu, "temp_battery", Tmp117Config(ConversionMode.SHUTDOWN))
    tmp.init()
    assert not tmp.data_ready()
    assert tmp.temperature_c() == -256.0  # POR result until the first conversion
    tmp.start_one_shot()  # 8 averages: 124 ms
    emu.advance(100 * MS)
    assert not tmp.data_ready()
    emu.advance(30 * MS)
    st = tmp.status()
    assert st.data_ready and not st.high_alert
    assert not tmp.data_ready()  # reading the configuration register cleared it
    assert tmp.temperature_c() == pytest.approx(true_c(emu, "temp_battery"), abs=LSB_C)
    emu.advance(2 * NS)
    assert not tmp.data_ready()  # one-shot: no further conversions
    bus = emu.buses[0]
    assert int.from_bytes(bus.transfer(0x49, b"\x01", 2), "big") & 0x0FE0 == 3 << 10 | 4 << 7 | 1 << 5


def test_wrong_chip_fails_init_clearly() -> None:
    emu = Emulator("gpu-node")
    tmp = Tmp117(emu.buses[0], 0x40)  # an INA226: no register 0x0F
    with pytest.raises(DeviceIdError, match="not a TMP117"):
        tmp.init()
    assert tmp.health == Health.FAILED
