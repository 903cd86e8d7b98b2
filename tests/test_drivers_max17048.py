"""MAX17048 driver against the emulated fuel gauge."""

from __future__ import annotations

from dataclasses import replace

import pytest

from emulator import Emulator, Scenario, load
from flight.drivers import DeviceIdError, Health, Max17048

NS = 1_000_000_000
VCELL_LSB_V = 78.125e-6
VCELL_NOISE_V = 1e-3
SOC_LSB_PCT = 1 / 256
CRATE_LSB = 0.208


def scenario(noise: float | None) -> Scenario:
    sc = load("gpu-node")
    if noise is None:
        return sc
    return replace(sc, devices=tuple(replace(d, noise=noise) for d in sc.devices))


def truth(emu: Emulator) -> tuple[float, float, float]:
    st = emu.state
    series = emu.scenario.battery.cells_series
    return (float(st["battery_v"]) / series, float(st["battery_soc"]) * 100.0,
            -float(st["battery_i_a"]) / float(st["battery_capacity_ah"]) * 100.0)


@pytest.mark.parametrize("quiet", [True, False], ids=["noise-free", "preset-noise"])
def test_readings_equal_battery_state(quiet: bool) -> None:
    emu = Emulator(scenario(0.0 if quiet else None))
    gauge = Max17048(emu.buses[0])
    gauge.init()
    assert gauge.version == 0x0012
    soc_sigma = emu.scenario.device("fuel_gauge").noise
    for _ in range(3):
        emu.advance(700 * NS)
        r = gauge.read()
        v, soc, crate = truth(emu)
        assert abs(r.cell_voltage_v - v) <= VCELL_LSB_V + 5 * VCELL_NOISE_V
        assert abs(r.soc_pct - soc) <= SOC_LSB_PCT + 5 * soc_sigma
        assert abs(r.c_rate_pct_per_h - crate) <= CRATE_LSB
    assert gauge.health == Health.OK


def test_c_rate_is_signed_and_negative_in_eclipse() -> None:
    emu = Emulator(scenario(0.0))
    gauge = Max17048(emu.buses[0])
    gauge.init()
    emu.advance(10 * NS)
    assert gauge.c_rate_pct_per_h() > 1.0  # charging
    for _ in range(120):
        emu.advance(60 * NS)
        if emu.snapshot()["illumination"] == 0.0:
            break
    emu.advance(2 * NS)
    rate = gauge.c_rate_pct_per_h()
    assert rate < -0.5
    assert abs(rate - truth(emu)[2]) <= CRATE_LSB


def test_wrong_chip_fails_init_clearly() -> None:
    emu = Emulator("gpu-node")
    gauge = Max17048(emu.buses[0], 0x49)  # a TMP117: register 0x08 is EEPROM3 (reads 0)
    with pytest.raises(DeviceIdError, match=r"version \(0x08\) reads 0x0000.*not a MAX17048"):
        gauge.init()
    assert gauge.health == Health.FAILED
    assert gauge.poll() is None
