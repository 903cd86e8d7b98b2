"""INA226 driver against the emulated chips: readings equal the plant within the LSB plus noise."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from emulator import Emulator, Scenario, load
from flight.drivers import Health, Ina226, Ina226Config, PayloadCtrl
from flight.drivers.ina226 import Averaging, ConvTime, Mode, calibration_for, current_lsb_for

NS = 1_000_000_000
SHUNT_LSB_V = 2.5e-6
BUS_LSB_V = 1.25e-3
BUS_NOISE_V = 0.5e-3  # fixed bus-voltage noise of the model (docs/registers.md)
# max expected current per rail (A): battery charges at up to 24 x 1.7 A
MAX_A = {"ina_battery": 50.0, "ina_array": 60.0, "ina_payload": 30.0, "ina_radio": 5.0, "ina_avionics": 5.0}


def scenario(noise: float | None) -> Scenario:
    sc = load("gpu-node")
    if noise is None:
        return sc
    return replace(sc, devices=tuple(replace(d, noise=noise) for d in sc.devices))


def true_current_a(emu: Emulator, name: str) -> float:
    snap = emu.snapshot()
    if name == "ina_battery":
        return -float(snap["battery_i_a"])
    if name == "ina_array":
        return float(snap["array_used_w"]) / float(snap["bus_v"])
    load_name = emu.scenario.loads[emu.scenario.device(name).index].name
    return float(snap["loads"][load_name]["power_w"]) / float(snap["bus_v"])


def running(noise: float | None) -> Emulator:
    """gpu-node at 600 s with the payload in its "low" mode (300 W), so every rail carries current."""
    emu = Emulator(scenario(noise))
    PayloadCtrl(emu.buses[0], 0x50).set_mode(2)
    emu.advance(600 * NS)
    return emu


def driver(emu: Emulator, name: str, config: Ina226Config) -> Ina226:
    d = emu.scenario.device(name)
    return Ina226(emu.buses[d.bus], d.address, d.shunt_ohm, MAX_A[name], config, name=name)


def test_por_config_word_and_calibration_procedure() -> None:
    assert Ina226Config().word == 0x4127
    assert Ina226Config(Averaging.AVG_1024, ConvTime.US_8244, ConvTime.US_140, Mode.SHUNT_CONTINUOUS).word == 0x4FC5
    assert Ina226Config(Averaging.AVG_64).conversion_time_us == 64 * 2200
    assert current_lsb_for(20.0) == pytest.approx(1e-3)  # 610 uA minimum -> 1 mA
    assert current_lsb_for(5.0) == pytest.approx(200e-6)  # 153 uA -> 200 uA
    assert current_lsb_for(50.0) == pytest.approx(2e-3)
    assert current_lsb_for(32.768) == pytest.approx(1e-3)  # exactly the minimum stays
    assert calibration_for(0.001, 1e-3) == 5120
    assert calibration_for(0.01, 200e-6) == 2560
    with pytest.raises(ValueError, match=r"1\.\.32767"):
        calibration_for(0.0001, 1e-6)


@pytest.mark.parametrize("name", list(MAX_A))
def test_noise_free_readings_equal_plant(name: str) -> None:
    emu = running(0.0)
    ina = driver(emu, name, Ina226Config(Averaging.AVG_1024))  # bus noise / 32: far below an LSB
    ina.init()
    emu.advance(3 * NS)  # one 2.25 s conversion
    assert ina.conversion_ready()
    assert not ina.conversion_ready()  # reading Mask/Enable cleared CVRF
    r = ina.read()
    snap = emu.snapshot()
    true_i, v = true_current_a(emu, name), snap["bus_v"]
    assert abs(true_i) > 0.05
    shunt_lsb_a = SHUNT_LSB_V / ina.shunt_ohm
    assert abs(r.shunt_voltage_v - true_i * ina.shunt_ohm) <= SHUNT_LSB_V
    assert abs(r.bus_voltage_v - v) <= BUS_LSB_V
    assert abs(r.current_a - true_i) <= shunt_lsb_a + ina.current_lsb_a
    assert math.copysign(1.0, r.current_a) == math.copysign(1.0, true_i)
    assert abs(r.power_w - abs(true_i) * v) <= ina.power_lsb_w + (shunt_lsb_a + ina.current_lsb_a) * v + abs(
        true_i) * BUS_LSB_V
    assert ina.health == Health.OK and ina.stats.errors == 0


@pytest.mark.parametrize("name", list(MAX_A))
def test_readings_with_preset_noise(name: str) -> None:
    emu = running(None)
    ina = driver(emu, name, Ina226Config(Averaging.AVG_16))
    ina.init()
    sigma_a = emu.scenario.device(name).noise / 4  # / sqrt(16)
    for _ in range(3):
        emu.advance(2 * NS)
        r = ina.read()
        true_i = true_current_a(emu, name)
        lsb_a = SHUNT_LSB_V / ina.shunt_ohm
        assert abs(r.shunt_voltage_v / ina.shunt_ohm - true_i) <= lsb_a + 5 * sigma_a
        assert abs(r.current_a - true_i) <= lsb_a + ina.current_lsb_a + 5 * sigma_a
        assert abs(r.bus_voltage_v - emu.snapshot()["bus_v"]) <= BUS_LSB_V + 5 * BUS_NOISE_V / 4


def test_battery_current_changes_sign_in_eclipse() -> None:
    emu = Emulator(scenario(noise=0.0))
    ina = driver(emu, "ina_battery", Ina226Config(Averaging.AVG_1024))
    ina.init()
    emu.advance(600 * NS)
    assert ina.current_a() > 0.5  # charging in the sun
    for _ in range(120):
        emu.advance(60 * NS)
        if emu.snapshot()["illumination"] == 0.0:
            break
    emu.advance(3 * NS)
    assert emu.snapshot()["illumination"] == 0.0
    i = ina.current_a()
    assert i < -0.5
    assert abs(i - true_current_a(emu, "ina_battery")) <= SHUNT_LSB_V / 0.001 + ina.current_lsb_a


def test_init_writes_config_and_calibration_registers() -> None:
    emu = Emulator(scenario(noise=0.0))
    ina = driver(emu, "ina_payload", Ina226Config(Averaging.AVG_4, ConvTime.US_588, ConvTime.US_2116))
    bus = emu.buses[0]
    ina.init()
    assert bus.transfer(0x42, b"\x00", 2) == (0x4000 | 1 << 9 | 3 << 6 | 5 << 3 | 7).to_bytes(2, "big")
    assert int.from_bytes(bus.transfer(0x42, b"\x05", 2), "big") == ina.calibration == 2560
    # soft reset returns the chip to POR; init restores it
    ina.soft_reset()
    assert bus.transfer(0x42, b"\x05", 2) == b"\x00\x00"
    ina.init()
    assert int.from_bytes(bus.transfer(0x42, b"\x05", 2), "big") == 2560
