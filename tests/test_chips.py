"""Register-level tests of the emulated I2C chips on the gpu-node preset.

Every register value is decoded here with the datasheet scaling (written out
independently of the C models) and compared with the plant state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from emulator import Emulator, Scenario, faults, load
from emulator.bus import EmulatedBus
from flight.interfaces import BusError

NS = 1_000_000_000
MS = 1_000_000
T_SETTLE_NS = 2000 * NS

# ---- datasheet scaling (REFERENCE.md, "Sensor chips") --------------------------------------------
INA_SHUNT_LSB_V = 2.5e-6
INA_BUS_LSB_V = 1.25e-3
INA_BUS_NOISE_V = 0.5e-3  # fixed bus-voltage noise of the model (docs/registers.md)
TMP_LSB_C = 7.8125e-3
VCELL_LSB_V = 78.125e-6
VCELL_NOISE_V = 1e-3  # fixed VCELL noise of the model (docs/registers.md)
SOC_LSB_PCT = 1.0 / 256.0
CRATE_LSB_PCT_H = 0.208
PL_POWER_LSB_W = 0.1

INA_POR_CONFIG = 0x4127
INA_RST = 0x8000
INA_AVG_BITS = {1: 0, 4: 1, 16: 2, 64: 3, 128: 4, 256: 5, 512: 6, 1024: 7}
INA_POR_PERIOD_NS = 2_200_000  # (1.1 ms + 1.1 ms) x 1 average
TMP_POR_CONFIG = 0x0220
TMP_DATA_READY = 0x2000
TMP_SOFT_RESET = 0x0002
TMP_POR_TEMP = 0x8000

# payload controller registers (docs/registers.md)
PL_ID, PL_VERSION, PL_STATUS, PL_MODE, PL_JOB_CTRL, PL_JOB_ID = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05
PL_WORK_HI, PL_WORK_LO, PL_DONE_HI, PL_DONE_LO = 0x06, 0x07, 0x08, 0x09
PL_POWER, PL_DIE_TEMP, PL_THROTTLE, PL_THROUGHPUT = 0x0A, 0x0B, 0x0C, 0x0D
ST_RUNNING, ST_DONE, ST_THROTTLED, ST_SHUTDOWN, ST_UNPOWERED = 1, 2, 4, 8, 16
JOB_START, JOB_PAUSE, JOB_RESUME, JOB_ABORT = 1, 2, 3, 4
WORK_UNIT_S = 0.01

# gpu-node payload modes: index -> (power W, throughput)
GPU_MODES = {1: (70.0, 0.05), 2: (300.0, 0.55), 3: (500.0, 0.85), 4: (700.0, 1.0)}

INA_NAMES = ["ina_battery", "ina_array", "ina_payload", "ina_radio", "ina_avionics"]
TMP_NAMES = ["temp_payload", "temp_battery", "temp_radiator", "temp_avionics", "temp_array"]


# ---- helpers ----------------------------------------------------------------------------------------
def s16(word: int) -> int:
    return word - 0x10000 if word & 0x8000 else word


def bus_of(emu: Emulator, name: str) -> tuple[EmulatedBus, int]:
    d = emu.scenario.device(name)
    return emu.buses[d.bus], d.address


def rd(emu: Emulator, name: str, reg: int) -> int:
    bus, addr = bus_of(emu, name)
    return int.from_bytes(bus.transfer(addr, bytes([reg]), 2), "big")


def rd_ptr(emu: Emulator, name: str) -> int:
    """Read the currently pointed register (write length 0)."""
    bus, addr = bus_of(emu, name)
    return int.from_bytes(bus.transfer(addr, b"", 2), "big")


def wr(emu: Emulator, name: str, reg: int, value: int) -> None:
    bus, addr = bus_of(emu, name)
    assert bus.transfer(addr, bytes([reg, (value >> 8) & 0xFF, value & 0xFF]), 0) == b""


def rd8(emu: Emulator, reg: int) -> int:
    bus, addr = bus_of(emu, "gpio")
    return bus.transfer(addr, bytes([reg]), 1)[0]


def wr8(emu: Emulator, reg: int, value: int) -> None:
    bus, addr = bus_of(emu, "gpio")
    assert bus.transfer(addr, bytes([reg, value]), 0) == b""


def scenario(noise: float | None = None, **per_device: float) -> Scenario:
    """gpu-node with every device noise set to `noise` (None keeps the preset), then per-device overrides."""
    sc = load("gpu-node")
    devs = []
    for d in sc.devices:
        n = d.noise if noise is None else noise
        devs.append(replace(d, noise=per_device.get(d.name, n)))
    return replace(sc, devices=tuple(devs))


def settled(sc: Scenario | str = "gpu-node", seed: int | None = None, payload_mode: int = 1) -> Emulator:
    """An emulator advanced to 2000 s, the payload idling in `payload_mode` so its rail carries current."""
    emu = Emulator(sc, seed=seed)
    if payload_mode:
        wr(emu, "payload_ctrl", PL_MODE, payload_mode)
    emu.advance(T_SETTLE_NS)
    return emu


def ina_true_current(emu: Emulator, name: str) -> float:
    d = emu.scenario.device(name)
    snap = emu.snapshot()
    if name == "ina_battery":
        return -snap["battery_i_a"]  # positive = charging
    if name == "ina_array":
        return snap["array_used_w"] / snap["bus_v"]
    load_name = emu.scenario.loads[d.index].name
    return snap["loads"][load_name]["power_w"] / snap["bus_v"]


def tmp_true_c(emu: Emulator, name: str) -> float:
    d = emu.scenario.device(name)
    return emu.snapshot()["temperatures_c"][emu.scenario.nodes[d.index].name]


def ina_shunt_a(emu: Emulator, name: str) -> float:
    r = emu.scenario.device(name).shunt_ohm
    return s16(rd(emu, name, 0x01)) * INA_SHUNT_LSB_V / r


def ina_config(avg: int = 1, vbusct: int = 4, vshct: int = 4, mode: int = 7) -> int:
    return 0x4000 | (INA_AVG_BITS[avg] << 9) | (vbusct << 6) | (vshct << 3) | mode


def cal_for(r_ohm: float, i_lsb: float) -> int:
    return round(0.00512 / (i_lsb * r_ohm))


def job_done_units(emu: Emulator) -> int:
    hi = rd(emu, "payload_ctrl", PL_DONE_HI)
    lo = rd(emu, "payload_ctrl", PL_DONE_LO)
    return (hi << 16) | lo


def start_job(emu: Emulator, job_id: int, units: int, mode: int) -> None:
    wr(emu, "payload_ctrl", PL_MODE, mode)
    wr(emu, "payload_ctrl", PL_JOB_ID, job_id)
    wr(emu, "payload_ctrl", PL_WORK_HI, units >> 16)
    wr(emu, "payload_ctrl", PL_WORK_LO, units & 0xFFFF)
    wr(emu, "payload_ctrl", PL_JOB_CTRL, JOB_START)


def sheppard_std(sigma: float, lsb: float) -> float:
    """Expected std of a rounded Gaussian (Sheppard's correction; good for sigma >~ lsb)."""
    return math.sqrt(sigma**2 + lsb**2 / 12.0)


def residual_std(samples: list[float], sigma: float, lsb: float) -> tuple[float, float, float]:
    arr = np.asarray(samples)
    return float(np.mean(arr)), float(np.std(arr, ddof=1)), sheppard_std(sigma, lsb)


@pytest.fixture(scope="module")
def gpu() -> Emulator:
    """The preset (with its noise) at 2000 s. Read-only use: tests must not change it."""
    return settled()


# ---- 1. register values against the plant -------------------------------------------------------------
def test_spacecraft_is_in_a_known_state(gpu: Emulator) -> None:
    snap = gpu.snapshot()
    assert snap["t_s"] == 2000.0
    assert snap["illumination"] == 1.0
    assert snap["battery_i_a"] < -0.5  # charging in the sun
    assert snap["array_used_w"] > 50.0
    assert snap["payload"]["mode"] == 1 and snap["loads"]["payload"]["power_w"] == pytest.approx(70.0)


@pytest.mark.parametrize("name", INA_NAMES)
def test_ina226_shunt_and_bus_match_plant_with_preset_noise(name: str) -> None:
    emu = settled()
    d = emu.scenario.device(name)
    true_i = ina_true_current(emu, name)
    lsb_a = INA_SHUNT_LSB_V / d.shunt_ohm
    assert abs(ina_shunt_a(emu, name) - true_i) <= lsb_a + 5 * d.noise
    bus_v = rd(emu, name, 0x02) * INA_BUS_LSB_V
    assert abs(bus_v - emu.snapshot()["bus_v"]) <= INA_BUS_LSB_V + 5 * INA_BUS_NOISE_V


@pytest.mark.parametrize("name", INA_NAMES)
def test_ina226_noise_free_exact_with_calibrated_current_and_power(name: str) -> None:
    emu = settled(scenario(noise=0.0))
    d = emu.scenario.device(name)
    cal = 5120
    i_lsb = 0.00512 / (cal * d.shunt_ohm)
    wr(emu, name, 0x05, cal)
    wr(emu, name, 0x00, ina_config(avg=1024))  # bus noise / 32: far below an LSB
    emu.advance(3 * NS)  # one 2.25 s conversion
    snap = emu.snapshot()
    true_i, v = ina_true_current(emu, name), snap["bus_v"]
    assert abs(true_i) > 0.05, "every monitored rail carries current in this state"
    shunt_lsb_a = INA_SHUNT_LSB_V / d.shunt_ohm
    assert abs(ina_shunt_a(emu, name) - true_i) <= shunt_lsb_a
    assert abs(rd(emu, name, 0x02) * INA_BUS_LSB_V - v) <= INA_BUS_LSB_V
    current_a = s16(rd(emu, name, 0x04)) * i_lsb
    assert abs(current_a - true_i) <= shunt_lsb_a + i_lsb
    assert math.copysign(1.0, current_a) == math.copysign(1.0, true_i)
    power_w = rd(emu, name, 0x03) * 25 * i_lsb
    assert abs(power_w - abs(true_i) * v) <= 25 * i_lsb + (shunt_lsb_a + i_lsb) * v + abs(true_i) * INA_BUS_LSB_V


def test_ina226_battery_sign_positive_charging_negative_discharging() -> None:
    emu = settled(scenario(noise=0.0))
    assert emu.snapshot()["battery_i_a"] < -0.5
    charging = ina_shunt_a(emu, "ina_battery")
    assert charging > 0.5
    assert charging == pytest.approx(-emu.snapshot()["battery_i_a"], abs=INA_SHUNT_LSB_V / 0.001)
    for _ in range(120):  # into eclipse
        emu.advance(60 * NS)
        if emu.snapshot()["illumination"] == 0.0:
            break
    assert emu.snapshot()["illumination"] == 0.0
    assert emu.snapshot()["battery_i_a"] > 0.5
    discharging = ina_shunt_a(emu, "ina_battery")
    assert discharging < -0.5
    assert discharging == pytest.approx(-emu.snapshot()["battery_i_a"], abs=INA_SHUNT_LSB_V / 0.001)


@pytest.mark.parametrize("name", TMP_NAMES)
@pytest.mark.parametrize("quiet", [False, True], ids=["preset-noise", "noise-free"])
def test_tmp117_temperature_matches_node(name: str, quiet: bool) -> None:
    emu = settled(scenario(noise=0.0) if quiet else "gpu-node")
    d = emu.scenario.device(name)
    true_c = tmp_true_c(emu, name)
    got = s16(rd(emu, name, 0x00)) * TMP_LSB_C
    tol = TMP_LSB_C + 5 * d.noise / math.sqrt(8)  # POR: 8 averages
    assert abs(got - true_c) <= tol, (got, true_c)


def test_tmp117_nodes_are_distinct() -> None:
    """Each sensor reads its own node: the temperatures here differ by far more than the noise."""
    emu = settled(scenario(noise=0.0))
    readings = {name: s16(rd(emu, name, 0x00)) * TMP_LSB_C for name in TMP_NAMES}
    snap = emu.snapshot()["temperatures_c"]
    assert readings["temp_array"] == pytest.approx(snap["array"], abs=TMP_LSB_C)
    assert readings["temp_radiator"] == pytest.approx(snap["radiator"], abs=TMP_LSB_C)
    assert abs(readings["temp_array"] - readings["temp_radiator"]) > 10.0


@pytest.mark.parametrize("quiet", [False, True], ids=["preset-noise", "noise-free"])
def test_max17048_vcell_soc_crate_match_battery(quiet: bool) -> None:
    emu = settled(scenario(noise=0.0) if quiet else "gpu-node")
    sigma_soc = emu.scenario.device("fuel_gauge").noise
    snap = emu.snapshot()
    series = emu.scenario.battery.cells_series
    cap_ah = emu.scenario.battery.cells_parallel * emu.scenario.battery.cell_capacity_ah
    vcell = rd(emu, "fuel_gauge", 0x02) * VCELL_LSB_V
    assert abs(vcell - snap["battery_v"] / series) <= VCELL_LSB_V + 5 * VCELL_NOISE_V
    soc_word = rd(emu, "fuel_gauge", 0x04)
    soc_pct = (soc_word >> 8) + (soc_word & 0xFF) / 256.0
    assert abs(soc_pct - snap["battery_soc"] * 100.0) <= SOC_LSB_PCT + 5 * sigma_soc
    crate = s16(rd(emu, "fuel_gauge", 0x16)) * CRATE_LSB_PCT_H
    true_crate = -snap["battery_i_a"] / cap_ah * 100.0
    assert true_crate > 1.0  # charging
    assert abs(crate - true_crate) <= CRATE_LSB_PCT_H


@pytest.mark.parametrize("quiet", [False, True], ids=["preset-noise", "noise-free"])
def test_payload_controller_telemetry_matches_plant(quiet: bool) -> None:
    emu = settled(scenario(noise=0.0) if quiet else "gpu-node", payload_mode=3)
    sigma = emu.scenario.device("payload_ctrl").noise
    pl = emu.snapshot()["payload"]
    assert rd(emu, "payload_ctrl", PL_MODE) == 3 == pl["mode"]
    power = rd(emu, "payload_ctrl", PL_POWER) * PL_POWER_LSB_W
    assert abs(power - pl["power_w"]) <= PL_POWER_LSB_W + 5 * sigma
    assert pl["power_w"] == pytest.approx(70.0)  # no job: the lowest mode's power
    die = s16(rd(emu, "payload_ctrl", PL_DIE_TEMP)) * TMP_LSB_C
    assert abs(die - pl["die_c"]) <= TMP_LSB_C
    assert abs(rd(emu, "payload_ctrl", PL_THROTTLE) / 1000.0 - pl["throttle"]) <= 0.001
    assert rd(emu, "payload_ctrl", PL_THROTTLE) == 1000
    assert rd(emu, "payload_ctrl", PL_THROUGHPUT) == 0  # no job running
    assert rd(emu, "payload_ctrl", PL_STATUS) == 0  # powered, idle, cool


# ---- 2. identification and power-on values ------------------------------------------------------------
@pytest.mark.parametrize("name", INA_NAMES)
def test_ina226_ids_and_por(name: str) -> None:
    emu = Emulator("gpu-node")
    assert rd(emu, name, 0xFE) == 0x5449
    assert rd(emu, name, 0xFF) == 0x2260
    assert rd(emu, name, 0x00) == INA_POR_CONFIG
    assert rd(emu, name, 0x05) == 0 and rd(emu, name, 0x06) == 0 and rd(emu, name, 0x07) == 0


@pytest.mark.parametrize("name", TMP_NAMES)
def test_tmp117_ids_and_por(name: str) -> None:
    emu = Emulator("gpu-node")
    assert rd(emu, name, 0x0F) == 0x0117
    assert rd(emu, name, 0x01) == TMP_POR_CONFIG
    assert rd(emu, name, 0x00) == TMP_POR_TEMP
    assert rd(emu, name, 0x02) == 0x6000 and rd(emu, name, 0x03) == 0x8000
    assert rd(emu, name, 0x07) == 0


def test_max17048_payload_and_gpio_por() -> None:
    emu = Emulator("gpu-node")
    assert rd(emu, "fuel_gauge", 0x08) == 0x0012
    assert rd(emu, "fuel_gauge", 0x0C) == 0x971C
    assert rd(emu, "fuel_gauge", 0x14) == 0x00FF
    assert rd(emu, "fuel_gauge", 0x18) == 0x9600
    assert rd(emu, "fuel_gauge", 0x1A) == 0x0100
    assert rd(emu, "payload_ctrl", PL_ID) == 0x534B
    assert rd(emu, "payload_ctrl", PL_VERSION) == 0x0101
    # pins 0 (radio, on) and 3 (payload, on) outputs high, 1 and 2 (heaters, off) outputs low
    assert rd8(emu, 0x03) == 0xF0
    assert rd8(emu, 0x01) == 0xF9
    assert rd8(emu, 0x02) == 0x00
    assert rd8(emu, 0x00) == 0xF9


# ---- 3. register semantics ----------------------------------------------------------------------------
def test_pointer_write_then_read_and_msb_only(gpu: Emulator) -> None:
    bus, addr = bus_of(gpu, "ina_battery")
    assert bus.transfer(addr, b"\xfe", 0) == b""
    assert rd_ptr(gpu, "ina_battery") == 0x5449
    assert rd_ptr(gpu, "ina_battery") == 0x5449  # the pointer stays
    assert bus.transfer(addr, b"", 1) == b"\x54"  # rlen 1: MSB only
    assert bus.transfer(addr, b"\xff", 2) == b"\x22\x60"
    bus, addr = bus_of(gpu, "temp_array")  # bus 1
    assert bus.transfer(addr, b"\x0f", 2) == b"\x01\x17"
    assert gpu.buses[0].transfer(addr, b"\x0f", 2) == b"\x01\x17"  # 0x48 on bus 0 is temp_payload


def test_writes_to_read_only_registers_are_ignored() -> None:
    emu = settled()
    before = {r: rd(emu, "ina_battery", r) for r in (0x01, 0x02, 0x03, 0x04, 0xFE, 0xFF)}
    for r in before:
        wr(emu, "ina_battery", r, 0x1234)
    assert {r: rd(emu, "ina_battery", r) for r in before} == before
    t_before = rd(emu, "temp_battery", 0x00)
    wr(emu, "temp_battery", 0x0F, 0xBEEF)
    wr(emu, "temp_battery", 0x00, 0x1234)
    assert rd(emu, "temp_battery", 0x0F) == 0x0117
    assert rd(emu, "temp_battery", 0x00) == t_before
    for r in (0x02, 0x04, 0x08, 0x16):
        v = rd(emu, "fuel_gauge", r)
        wr(emu, "fuel_gauge", r, 0x4321)
        assert rd(emu, "fuel_gauge", r) == v
    wr(emu, "fuel_gauge", 0x18, 0x1234)  # VRESET writable, ID byte read-only
    assert rd(emu, "fuel_gauge", 0x18) == 0x1200
    for r in (PL_ID, PL_VERSION, PL_STATUS, PL_THROTTLE):
        v = rd(emu, "payload_ctrl", r)
        wr(emu, "payload_ctrl", r, 0x0F0F)
        assert rd(emu, "payload_ctrl", r) == v
    wr8(emu, 0x00, 0x00)  # TCA9534 input port
    assert rd8(emu, 0x00) == 0xF9
    assert emu.snapshot()["loads"]["radio"]["on"]


def test_ina226_calibration_writable_and_current_follows_it() -> None:
    emu = settled(scenario(noise=0.0))
    assert rd(emu, "ina_battery", 0x04) == 0 and rd(emu, "ina_battery", 0x03) == 0  # CAL = 0
    wr(emu, "ina_battery", 0x05, 0xFFFF)
    assert rd(emu, "ina_battery", 0x05) == 0x7FFF  # bit 15 unused
    r = 0.001
    for i_lsb in (1e-3, 2e-4):
        cal = cal_for(r, i_lsb)
        wr(emu, "ina_battery", 0x05, cal)
        assert rd(emu, "ina_battery", 0x05) == cal
        emu.advance(3 * MS)  # next conversion uses the new CAL
        shunt = s16(rd(emu, "ina_battery", 0x01))
        cur = s16(rd(emu, "ina_battery", 0x04))
        assert cur == int(shunt * cal / 2048)  # datasheet equation 3, truncated
        true_i = -emu.snapshot()["battery_i_a"]
        assert abs(cur * i_lsb - true_i) <= INA_SHUNT_LSB_V / r + i_lsb
        bus_reg = rd(emu, "ina_battery", 0x02)
        assert rd(emu, "ina_battery", 0x03) == abs(cur) * bus_reg // 20000


def test_ina226_calibration_takes_effect_at_next_conversion() -> None:
    emu = settled(scenario(noise=0.0))
    wr(emu, "ina_battery", 0x00, INA_POR_CONFIG)  # restart timing: next conversion in 2.2 ms
    wr(emu, "ina_battery", 0x05, cal_for(0.001, 1e-3))
    assert rd(emu, "ina_battery", 0x04) == 0  # not until a conversion
    emu.advance(INA_POR_PERIOD_NS)
    assert s16(rd(emu, "ina_battery", 0x04)) > 500  # > 0.5 A charging


def test_ina226_reset_bit() -> None:
    emu = settled()
    wr(emu, "ina_battery", 0x05, 5120)
    wr(emu, "ina_battery", 0x07, 0x1111)
    wr(emu, "ina_battery", 0x00, ina_config(avg=16, mode=5))
    emu.advance(50 * MS)
    assert rd(emu, "ina_battery", 0x01) != 0
    wr(emu, "ina_battery", 0x00, INA_RST | 0x0123)
    assert rd_ptr(emu, "ina_battery") == INA_POR_CONFIG  # pointer back at 0x00
    assert rd(emu, "ina_battery", 0x05) == 0
    assert rd(emu, "ina_battery", 0x07) == 0
    assert rd(emu, "ina_battery", 0x01) == 0 and rd(emu, "ina_battery", 0x02) == 0  # POR results
    assert rd(emu, "ina_battery", 0xFE) == 0x5449


def test_ina226_config_readback_fixed_bits() -> None:
    emu = Emulator("gpu-node")
    wr(emu, "ina_battery", 0x00, 0x0000 | (2 << 9) | 0x127)
    assert rd(emu, "ina_battery", 0x00) == 0x4000 | (2 << 9) | 0x127  # bits 14:12 read 100b
    wr(emu, "ina_battery", 0x06, 0xFFFF)
    assert rd(emu, "ina_battery", 0x06) & 0xFC03 == 0xFC03


def test_tca9534_switches_loads_and_input_reflects_outputs() -> None:
    emu = settled()
    snap = emu.snapshot()
    assert not snap["loads"]["battery_heater"]["on"] and not snap["loads"]["avionics_heater"]["on"]
    total_before = sum(ld["power_w"] for ld in snap["loads"].values())
    wr8(emu, 0x01, 0xFF)  # all outputs high: heaters on
    assert rd8(emu, 0x01) == 0xFF
    assert rd8(emu, 0x00) == 0xFF
    emu.advance(2 * NS)
    snap = emu.snapshot()
    assert snap["loads"]["battery_heater"] == {"on": True, "power_w": 20.0}
    assert snap["loads"]["avionics_heater"] == {"on": True, "power_w": 15.0}
    total_after = sum(ld["power_w"] for ld in snap["loads"].values())
    assert total_after == pytest.approx(total_before + 35.0, abs=1e-6)
    # radio pin as input: the radio goes off, the pin floats high
    wr8(emu, 0x03, 0xF1)
    emu.advance(2 * NS)
    snap = emu.snapshot()
    assert snap["loads"]["radio"] == {"on": False, "power_w": 0.0}
    assert rd8(emu, 0x00) == 0xFF
    # output low on pin 3: payload off, its status says unpowered, its current drops to 0
    wr8(emu, 0x03, 0xF0)
    wr8(emu, 0x01, 0xF7)
    assert rd8(emu, 0x00) == 0xF7
    emu.advance(2 * NS)
    snap = emu.snapshot()
    assert snap["loads"]["radio"]["on"] and not snap["loads"]["payload"]["on"]
    assert snap["loads"]["payload"]["power_w"] == 0.0
    assert rd(emu, "payload_ctrl", PL_STATUS) & ST_UNPOWERED
    # polarity inversion only changes the input port
    wr8(emu, 0x02, 0x0F)
    assert rd8(emu, 0x00) == 0xF7 ^ 0x0F
    emu.advance(2 * NS)
    assert not emu.snapshot()["loads"]["payload"]["on"] and emu.snapshot()["loads"]["radio"]["on"]


@pytest.mark.parametrize("mode", sorted(GPU_MODES))
def test_payload_job_progress_at_mode_throughput(mode: int) -> None:
    power_w, thr = GPU_MODES[mode]
    emu = settled(scenario(noise=0.0), payload_mode=0)
    start_job(emu, job_id=0x2A, units=500_000, mode=mode)
    assert rd(emu, "payload_ctrl", PL_STATUS) & ST_RUNNING
    assert job_done_units(emu) == 0
    emu.advance(20 * NS)
    snap = emu.snapshot()
    assert snap["payload"]["throttle"] == 1.0
    assert snap["payload"]["job_id"] == 0x2A
    assert snap["loads"]["payload"]["power_w"] == pytest.approx(power_w)
    assert rd(emu, "payload_ctrl", PL_MODE) == mode
    assert rd(emu, "payload_ctrl", PL_POWER) * PL_POWER_LSB_W == pytest.approx(power_w, abs=PL_POWER_LSB_W)
    assert rd(emu, "payload_ctrl", PL_THROUGHPUT) == round(thr * 1000)
    done = job_done_units(emu)
    assert abs(done - 20.0 * thr / WORK_UNIT_S) <= 1, done
    emu.advance(20 * NS)
    assert abs(job_done_units(emu) - 40.0 * thr / WORK_UNIT_S) <= 1
    assert rd(emu, "payload_ctrl", PL_STATUS) == ST_RUNNING
    # the INA226 on the payload rail sees the mode's power
    i = ina_shunt_a(emu, "ina_payload")
    assert i * emu.snapshot()["bus_v"] == pytest.approx(power_w, abs=0.5 + 2.5e-6 / 0.002 * 34)


def test_payload_job_completes_and_reports_done() -> None:
    emu = settled(scenario(noise=0.0), payload_mode=0)
    units = 3000  # 30 s at full throughput
    start_job(emu, job_id=7, units=units, mode=3)
    assert rd(emu, "payload_ctrl", PL_JOB_ID) == 7
    assert rd(emu, "payload_ctrl", PL_WORK_LO) == units
    emu.advance(20 * NS)
    assert rd(emu, "payload_ctrl", PL_STATUS) == ST_RUNNING
    assert abs(job_done_units(emu) - 1700) <= 1
    emu.advance(20 * NS)  # needs 30 / 0.85 = 35.3 s in all
    st = rd(emu, "payload_ctrl", PL_STATUS)
    assert st & ST_DONE and not st & ST_RUNNING
    assert job_done_units(emu) == units
    assert emu.snapshot()["payload"]["job_active"] == 0
    assert rd(emu, "payload_ctrl", PL_THROUGHPUT) == 0
    emu.advance(5 * NS)  # back to idle power once the job is done
    assert emu.snapshot()["loads"]["payload"]["power_w"] == pytest.approx(70.0)


def test_payload_job_done_32_bit_and_pause_resume_abort() -> None:
    emu = settled(scenario(noise=0.0), payload_mode=0)
    start_job(emu, job_id=1, units=0x30000, mode=4)
    emu.advance(700 * NS)
    assert emu.snapshot()["payload"]["throttle"] == 1.0
    expect = round(700 / WORK_UNIT_S)  # 70000 > 0xFFFF
    hi = rd(emu, "payload_ctrl", PL_DONE_HI)
    emu.advance(10 * NS)  # the low word was latched when HI was read
    lo = rd(emu, "payload_ctrl", PL_DONE_LO)
    assert abs(((hi << 16) | lo) - expect) <= 1
    assert hi == 1
    wr(emu, "payload_ctrl", PL_JOB_CTRL, JOB_PAUSE)
    paused_at = job_done_units(emu)
    emu.advance(10 * NS)
    assert job_done_units(emu) == paused_at
    assert rd(emu, "payload_ctrl", PL_STATUS) & ST_RUNNING == 0
    wr(emu, "payload_ctrl", PL_JOB_CTRL, JOB_RESUME)
    emu.advance(10 * NS)
    assert abs(job_done_units(emu) - (paused_at + 1000)) <= 1
    wr(emu, "payload_ctrl", PL_JOB_CTRL, JOB_ABORT)
    assert job_done_units(emu) == 0 and rd(emu, "payload_ctrl", PL_STATUS) == 0


def test_payload_mode_write_out_of_range_ignored_and_start_needs_work() -> None:
    emu = settled(scenario(noise=0.0), payload_mode=2)
    wr(emu, "payload_ctrl", PL_MODE, 5)
    assert rd(emu, "payload_ctrl", PL_MODE) == 2
    wr(emu, "payload_ctrl", PL_JOB_CTRL, JOB_START)  # JOB_WORK 0: ignored
    assert rd(emu, "payload_ctrl", PL_STATUS) & ST_RUNNING == 0
    assert rd(emu, "payload_ctrl", PL_JOB_CTRL) == 0  # write-only


# ---- 4. conversion timing -----------------------------------------------------------------------------
def test_ina226_result_changes_only_after_conversion_period() -> None:
    emu = settled()
    emu.inject(faults.ExtraNoise("ina_battery", 1.0))  # 400 LSB sigma: every conversion differs
    wr(emu, "ina_battery", 0x00, INA_POR_CONFIG)  # restarts timing, clears CVRF
    first = rd(emu, "ina_battery", 0x01)
    assert rd(emu, "ina_battery", 0x06) & 0x0008 == 0
    emu.advance(INA_POR_PERIOD_NS - 1)
    assert rd(emu, "ina_battery", 0x01) == first
    assert rd(emu, "ina_battery", 0x06) & 0x0008 == 0
    emu.advance(1)
    second = rd(emu, "ina_battery", 0x01)
    assert second != first
    assert rd(emu, "ina_battery", 0x06) & 0x0008  # CVRF
    assert rd(emu, "ina_battery", 0x06) & 0x0008 == 0  # cleared by the read
    emu.advance(INA_POR_PERIOD_NS // 2)
    assert rd(emu, "ina_battery", 0x01) == second
    # longer averaging: 16 x 2.2 ms
    wr(emu, "ina_battery", 0x00, ina_config(avg=16))
    third = rd(emu, "ina_battery", 0x01)
    emu.advance(16 * INA_POR_PERIOD_NS - 1)
    assert rd(emu, "ina_battery", 0x01) == third
    emu.advance(1)
    assert rd(emu, "ina_battery", 0x01) != third


def test_ina226_triggered_mode_converts_once() -> None:
    emu = settled()
    emu.inject(faults.ExtraNoise("ina_battery", 1.0))
    wr(emu, "ina_battery", 0x00, ina_config(mode=3))  # one shunt+bus conversion
    emu.advance(INA_POR_PERIOD_NS)
    once = rd(emu, "ina_battery", 0x01)
    assert rd(emu, "ina_battery", 0x06) & 0x0008
    emu.advance(100 * INA_POR_PERIOD_NS)
    assert rd(emu, "ina_battery", 0x01) == once
    assert rd(emu, "ina_battery", 0x06) & 0x0008 == 0


def test_tmp117_data_ready_flag_and_cycle() -> None:
    emu = settled()
    rd(emu, "temp_battery", 0x00)  # clear Data_Ready
    wr(emu, "temp_battery", 0x01, 0x0200 | (1 << 5))  # CONV 100 AVG 01: unchanged timing
    wr(emu, "temp_battery", 0x01, 0x0000 | (1 << 5))  # CONV 000 AVG 01: 125 ms cycle, restarted
    assert rd(emu, "temp_battery", 0x01) & TMP_DATA_READY == 0
    emu.advance(124 * MS)
    assert rd(emu, "temp_battery", 0x01) & TMP_DATA_READY == 0
    emu.advance(1 * MS)
    cf = rd(emu, "temp_battery", 0x01)
    assert cf & TMP_DATA_READY
    assert rd(emu, "temp_battery", 0x01) & TMP_DATA_READY == 0  # cleared by the config read
    emu.advance(125 * MS)
    assert rd(emu, "temp_battery", 0x00) != TMP_POR_TEMP  # reading the temperature ...
    assert rd(emu, "temp_battery", 0x01) & TMP_DATA_READY == 0  # ... also cleared it


def test_tmp117_one_shot() -> None:
    emu = settled()
    wr(emu, "temp_battery", 0x01, (1 << 10))  # shutdown
    rd(emu, "temp_battery", 0x01)
    emu.advance(5 * NS)
    assert rd(emu, "temp_battery", 0x01) & TMP_DATA_READY == 0
    wr(emu, "temp_battery", 0x01, (3 << 10) | (1 << 5))  # one-shot, 8 averages: 124 ms
    emu.advance(123 * MS)
    assert rd(emu, "temp_battery", 0x01) & TMP_DATA_READY == 0
    emu.advance(1 * MS)
    cf = rd(emu, "temp_battery", 0x01)
    assert cf & TMP_DATA_READY and (cf >> 10) & 3 == 3
    emu.advance(5 * NS)
    assert rd(emu, "temp_battery", 0x01) & TMP_DATA_READY == 0


@pytest.mark.parametrize(
    ("name", "reset", "regs", "period_ns"),
    [
        ("ina_battery", (0x00, INA_RST), {0x01: 0, 0x02: 0}, INA_POR_PERIOD_NS),
        ("temp_payload", (0x01, TMP_SOFT_RESET), {0x00: TMP_POR_TEMP}, NS),
        ("temp_array", (0x01, TMP_SOFT_RESET), {0x00: TMP_POR_TEMP}, NS),
        ("fuel_gauge", (0xFE, 0x5400), {0x02: 0, 0x04: 0, 0x16: 0}, NS),
    ],
)
def test_reading_after_reset_holds_por_until_a_conversion(
    name: str, reset: tuple[int, int], regs: dict[int, int], period_ns: int
) -> None:
    emu = settled()
    assert all(rd(emu, name, r) != por for r, por in regs.items() if r != 0x16)
    wr(emu, name, *reset)
    assert {r: rd(emu, name, r) for r in regs} == regs
    emu.advance(period_ns - 1)
    assert {r: rd(emu, name, r) for r in regs} == regs
    emu.advance(1)
    after = {r: rd(emu, name, r) for r in regs}
    assert all(after[r] != regs[r] for r in regs if r != 0x16)


def test_tmp117_soft_reset_keeps_eeprom_words() -> None:
    emu = settled()
    for r, v in ((0x05, 0x1111), (0x06, 0x2222), (0x08, 0x3333), (0x07, 0x0010), (0x02, 0x1000)):
        wr(emu, "temp_battery", r, v)
    wr(emu, "temp_battery", 0x01, TMP_SOFT_RESET)
    assert [rd(emu, "temp_battery", r) for r in (0x05, 0x06, 0x08)] == [0x1111, 0x2222, 0x3333]
    assert rd(emu, "temp_battery", 0x07) == 0 and rd(emu, "temp_battery", 0x02) == 0x6000
    assert rd(emu, "temp_battery", 0x01) == TMP_POR_CONFIG


def test_tmp117_offset_register_adds_to_result() -> None:
    emu = settled(scenario(noise=0.0))
    base = s16(rd(emu, "temp_battery", 0x00))
    wr(emu, "temp_battery", 0x07, 0xFF80)  # -128 LSB = -1 degC
    emu.advance(NS)
    got = s16(rd(emu, "temp_battery", 0x00))
    true_c = tmp_true_c(emu, "temp_battery")
    assert abs(got * TMP_LSB_C - (true_c - 1.0)) <= TMP_LSB_C
    assert abs(got - (base - 128)) <= 2  # the node barely moves in 1 s


# ---- 5. noise statistics and seeding ------------------------------------------------------------------
def collect(emu: Emulator, n: int, step_ns: int, sample: Callable[[], float]) -> list[float]:
    out = []
    for _ in range(n):
        emu.advance(step_ns)
        out.append(sample())
    return out


@pytest.mark.parametrize(("noise", "avg"), [(None, 1), (0.2, 16), (0.05, 4)])
def test_ina226_current_noise_std(noise: float | None, avg: int) -> None:
    sc = scenario() if noise is None else scenario(ina_battery=noise)
    emu = settled(sc)
    sigma = emu.scenario.device("ina_battery").noise / math.sqrt(avg)
    wr(emu, "ina_battery", 0x00, ina_config(avg=avg))
    lsb = INA_SHUNT_LSB_V / 0.001
    res = collect(emu, 1500, avg * INA_POR_PERIOD_NS + MS,
                  lambda: ina_shunt_a(emu, "ina_battery") + emu.snapshot()["battery_i_a"])
    mean, std, expect = residual_std(res, sigma, lsb)
    assert std == pytest.approx(expect, rel=0.1)
    assert abs(mean) <= 5 * expect / math.sqrt(len(res)) + 0.05 * lsb


@pytest.mark.parametrize(("config", "avg", "cycle_ns"), [(TMP_POR_CONFIG, 8, NS), (0x0000, 1, 15_500_000)])
def test_tmp117_noise_std(config: int, avg: int, cycle_ns: int) -> None:
    emu = settled(scenario(temp_avionics=0.3))
    wr(emu, "temp_avionics", 0x01, config)
    sigma = 0.3 / math.sqrt(avg)
    res = collect(emu, 1200, cycle_ns,
                  lambda: s16(rd(emu, "temp_avionics", 0x00)) * TMP_LSB_C - tmp_true_c(emu, "temp_avionics"))
    mean, std, expect = residual_std(res, sigma, TMP_LSB_C)
    assert std == pytest.approx(expect, rel=0.1)
    assert abs(mean) <= 5 * expect / math.sqrt(len(res)) + 0.05 * TMP_LSB_C


def test_max17048_soc_and_vcell_noise_std() -> None:
    emu = settled()
    sigma_soc = emu.scenario.device("fuel_gauge").noise
    soc_res: list[float] = []
    v_res: list[float] = []
    for _ in range(1200):
        emu.advance(NS)
        snap = emu.snapshot()
        w = rd(emu, "fuel_gauge", 0x04)
        soc_res.append((w >> 8) + (w & 0xFF) / 256.0 - snap["battery_soc"] * 100.0)
        v_res.append(rd(emu, "fuel_gauge", 0x02) * VCELL_LSB_V - snap["battery_v"] / 8)
    _, std, expect = residual_std(soc_res, sigma_soc, SOC_LSB_PCT)
    assert std == pytest.approx(expect, rel=0.1)
    _, std, expect = residual_std(v_res, VCELL_NOISE_V, VCELL_LSB_V)
    assert std == pytest.approx(expect, rel=0.1)


def test_payload_power_noise_std() -> None:
    emu = settled()
    sigma = emu.scenario.device("payload_ctrl").noise
    res = collect(emu, 1500, 10 * MS, lambda: rd(emu, "payload_ctrl", PL_POWER) * PL_POWER_LSB_W
                  - emu.snapshot()["payload"]["power_w"])
    mean, std, expect = residual_std(res, sigma, PL_POWER_LSB_W)
    assert std == pytest.approx(expect, rel=0.1)
    assert abs(mean) <= 5 * expect / math.sqrt(len(res)) + 0.05 * PL_POWER_LSB_W


def test_noise_free_readings_are_constant() -> None:
    emu = settled(scenario(noise=0.0), payload_mode=1)
    words = {rd(emu, "payload_ctrl", PL_POWER) for _ in range(50)}
    assert words == {700}


def byte_trace(seed: int) -> bytes:
    emu = Emulator("gpu-node", seed=seed)
    wr(emu, "payload_ctrl", PL_MODE, 1)
    emu.advance(T_SETTLE_NS)
    out = bytearray()
    for _ in range(40):
        emu.advance(1_100 * MS)
        for name, reg in (("ina_battery", 0x01), ("ina_array", 0x02), ("temp_payload", 0x00),
                          ("temp_array", 0x00), ("fuel_gauge", 0x04), ("payload_ctrl", PL_POWER)):
            bus, addr = bus_of(emu, name)
            out += bus.transfer(addr, bytes([reg]), 2)
    return bytes(out)


def test_same_seed_same_bytes_different_seed_different_bytes() -> None:
    a, b, c = byte_trace(11), byte_trace(11), byte_trace(12)
    assert a == b
    assert a != c
    diff = sum(x != y for x, y in zip(a, c, strict=True))
    assert diff > len(a) // 10  # the noise differs throughout, not in one place


def test_preset_seed_is_used_by_default() -> None:
    assert byte_trace(1) == byte_trace(load("gpu-node").seed)


# ---- 6. faults ----------------------------------------------------------------------------------------
def test_device_nack_at_a_given_time() -> None:
    emu = settled()
    t0 = emu.t_ns
    emu.inject(faults.DeviceNack("ina_array"), at_ns=t0 + 5 * NS)
    emu.inject(faults.DeviceNack("ina_array", on=False), at_ns=t0 + 10 * NS)
    emu.advance(5 * NS - 1)
    assert rd(emu, "ina_array", 0xFE) == 0x5449
    emu.advance(1)
    with pytest.raises(BusError, match="NACK"):
        rd(emu, "ina_array", 0xFE)
    assert rd(emu, "ina_battery", 0xFE) == 0x5449  # only that device
    emu.advance(5 * NS)
    assert rd(emu, "ina_array", 0xFE) == 0x5449


def test_stuck_reading() -> None:
    emu = settled()
    emu.inject(faults.StuckReading("temp_radiator", 0x00, 0x0C80), at_ns=emu.t_ns + NS)
    assert rd(emu, "temp_radiator", 0x00) != 0x0C80
    emu.advance(NS)
    for _ in range(3):
        assert rd(emu, "temp_radiator", 0x00) == 0x0C80  # 25 degC
        emu.advance(3 * NS)
    assert rd(emu, "temp_radiator", 0x0F) == 0x0117  # other registers unaffected
    emu.inject(faults.StuckReading("gpio", 0x00, 0x1234))
    assert rd8(emu, 0x00) == 0x34  # 8-bit chip: the low byte
    emu.advance(2 * NS)
    assert emu.snapshot()["loads"]["radio"]["on"]  # the wire lies, the plant does not


@pytest.mark.parametrize(
    ("name", "offset"),
    [("ina_battery", 0.5), ("ina_radio", -0.2), ("temp_payload", 3.0), ("fuel_gauge", -2.5),
     ("payload_ctrl", 40.0)],
)
def test_reading_offset(name: str, offset: float) -> None:
    def decoded(e: Emulator) -> float:
        if name.startswith("ina"):
            return ina_shunt_a(e, name) - ina_true_current(e, name)
        if name.startswith("temp"):
            return s16(rd(e, name, 0x00)) * TMP_LSB_C - tmp_true_c(e, name)
        if name == "fuel_gauge":
            w = rd(e, name, 0x04)
            return (w >> 8) + (w & 0xFF) / 256.0 - e.snapshot()["battery_soc"] * 100.0
        return rd(e, name, PL_POWER) * PL_POWER_LSB_W - e.snapshot()["payload"]["power_w"]

    lsb = {"ina_battery": INA_SHUNT_LSB_V / 0.001, "ina_radio": INA_SHUNT_LSB_V / 0.01, "temp_payload": TMP_LSB_C,
           "fuel_gauge": SOC_LSB_PCT, "payload_ctrl": PL_POWER_LSB_W}[name]
    emu = settled(scenario(noise=0.0))
    assert abs(decoded(emu)) <= lsb
    emu.inject(faults.ReadingOffset(name, offset), at_ns=emu.t_ns + 2 * NS)
    emu.advance(NS)
    assert abs(decoded(emu)) <= lsb
    emu.advance(2 * NS)
    assert abs(decoded(emu) - offset) <= lsb
    emu.inject(faults.ClearDeviceFaults(name))
    emu.advance(2 * NS)
    assert abs(decoded(emu)) <= lsb


def test_extra_noise_grows_std() -> None:
    emu = settled()
    lsb = INA_SHUNT_LSB_V / 0.001

    def sample() -> float:
        return ina_shunt_a(emu, "ina_battery") + emu.snapshot()["battery_i_a"]

    base = collect(emu, 800, 3 * MS, sample)
    emu.inject(faults.ExtraNoise("ina_battery", 0.05))
    noisy = collect(emu, 800, 3 * MS, sample)
    assert float(np.std(base, ddof=1)) == pytest.approx(sheppard_std(0.01, lsb), rel=0.12)
    assert float(np.std(noisy, ddof=1)) == pytest.approx(sheppard_std(math.hypot(0.01, 0.05), lsb), rel=0.12)


def test_bit_flip_is_exact_xor() -> None:
    emu = settled()
    emu.inject(faults.BitFlip("ina_payload", 0xFE, 0x00F0), at_ns=emu.t_ns + NS)
    assert rd(emu, "ina_payload", 0xFE) == 0x5449
    emu.advance(NS)
    assert rd(emu, "ina_payload", 0xFE) == 0x5449 ^ 0x00F0
    assert rd(emu, "ina_payload", 0xFF) == 0x2260
    # on a live register, against a twin with the same seed and no fault
    a, b = settled(seed=3), settled(seed=3)
    a.inject(faults.BitFlip("fuel_gauge", 0x04, 0x8001))
    for _ in range(5):
        a.advance(NS)
        b.advance(NS)
        assert rd(a, "fuel_gauge", 0x04) == rd(b, "fuel_gauge", 0x04) ^ 0x8001
    # after STUCK
    a.inject(faults.StuckReading("fuel_gauge", 0x04, 0x1234))
    assert rd(a, "fuel_gauge", 0x04) == 0x1234 ^ 0x8001


def test_faults_survive_chip_reset_and_clear_removes_all() -> None:
    emu = settled()
    emu.inject(faults.StuckReading("ina_battery", 0x02, 0x7777))
    emu.inject(faults.BitFlip("ina_battery", 0xFF, 0x0001))
    emu.inject(faults.ReadingOffset("ina_battery", 5.0))
    wr(emu, "ina_battery", 0x00, INA_RST)
    emu.advance(3 * MS)
    assert rd(emu, "ina_battery", 0x02) == 0x7777
    assert rd(emu, "ina_battery", 0xFF) == 0x2261
    assert ina_shunt_a(emu, "ina_battery") > 4.0
    emu.inject(faults.DeviceNack("ina_battery"))
    with pytest.raises(BusError):
        rd(emu, "ina_battery", 0x00)
    emu.inject(faults.ClearDeviceFaults("ina_battery"), at_ns=emu.t_ns + NS)
    with pytest.raises(BusError):
        rd(emu, "ina_battery", 0x00)
    emu.advance(NS)
    assert rd(emu, "ina_battery", 0xFF) == 0x2260
    bus_v = rd(emu, "ina_battery", 0x02) * INA_BUS_LSB_V
    assert abs(bus_v - emu.snapshot()["bus_v"]) < 0.01
    assert abs(ina_shunt_a(emu, "ina_battery") - ina_true_current(emu, "ina_battery")) < 0.1


def test_inject_rejects_unknown_device_and_past_time() -> None:
    emu = settled()
    with pytest.raises(ValueError, match="no device"):
        emu.inject(faults.DeviceNack("nope"))
    with pytest.raises(ValueError, match="past"):
        emu.inject(faults.DeviceNack("ina_battery"), at_ns=emu.t_ns - 1)
    assert rd(emu, "ina_battery", 0xFE) == 0x5449


def test_ina226_power_down_and_alert_flags() -> None:
    emu = settled()
    emu.inject(faults.ExtraNoise("ina_battery", 1.0))
    wr(emu, "ina_battery", 0x00, ina_config(mode=0))  # power-down: no conversions
    held = rd(emu, "ina_battery", 0x01)
    emu.advance(NS)
    assert rd(emu, "ina_battery", 0x01) == held
    assert rd(emu, "ina_battery", 0x06) & 0x0008 == 0
    emu.inject(faults.ClearDeviceFaults("ina_battery"))
    wr(emu, "ina_battery", 0x00, INA_POR_CONFIG)
    emu.advance(3 * MS)
    shunt = s16(rd(emu, "ina_battery", 0x01))
    wr(emu, "ina_battery", 0x07, shunt - 60)  # 15 sigma below the reading
    wr(emu, "ina_battery", 0x06, 0x8000)  # SOL
    emu.advance(3 * MS)
    assert rd(emu, "ina_battery", 0x06) & 0x0010  # AFF
    wr(emu, "ina_battery", 0x07, (shunt + 60) & 0xFFFF)
    emu.advance(3 * MS)
    assert rd(emu, "ina_battery", 0x06) & 0x0010 == 0  # LEN = 0: follows the conversion


def test_tmp117_high_alert_and_write_only_registers() -> None:
    emu = settled()
    t = s16(rd(emu, "temp_battery", 0x00))
    wr(emu, "temp_battery", 0x02, (t - 200) & 0xFFFF)  # THigh 1.5 degC below
    emu.advance(NS)
    cf = rd(emu, "temp_battery", 0x01)
    assert cf & 0x8000 and not cf & 0x4000
    assert rd(emu, "temp_battery", 0x01) & 0x8000 == 0  # alert mode: cleared by reading
    wr(emu, "temp_battery", 0x04, 0xFFFF)
    assert rd(emu, "temp_battery", 0x04) == 0x8000
    for reg in (0x06, 0xFE):  # MAX17048 MODE and CMD are write-only
        wr(emu, "fuel_gauge", reg, 0x4000)
        assert rd(emu, "fuel_gauge", reg) == 0
    assert rd(emu, "fuel_gauge", 0x02) != 0  # CMD 0x4000 is not a reset


def test_max17048_voltage_alert_and_status_write() -> None:
    emu = settled()
    assert rd(emu, "fuel_gauge", 0x1A) == 0x0100
    wr(emu, "fuel_gauge", 0x14, 200)  # VALRT.MAX 4.00 V < VCELL ~4.18 V
    emu.advance(NS)
    assert rd(emu, "fuel_gauge", 0x1A) & 0x0200  # VH
    assert rd(emu, "fuel_gauge", 0x0C) & 0x0020  # ALRT
    wr(emu, "fuel_gauge", 0x1A, 0x0000)
    assert rd(emu, "fuel_gauge", 0x1A) == 0
    wr(emu, "fuel_gauge", 0x1A, 0xFFFF)
    assert rd(emu, "fuel_gauge", 0x1A) == 0x7F00


def test_max17048_crate_while_discharging_hard() -> None:
    """Eclipse with the GPU at 700 W: a large negative CRATE checks its scale, not only its sign."""
    emu = settled(scenario(noise=0.0))
    for _ in range(120):
        emu.advance(60 * NS)
        if emu.snapshot()["illumination"] == 0.0:
            break
    start_job(emu, job_id=9, units=1_000_000, mode=4)
    emu.advance(30 * NS)
    snap = emu.snapshot()
    assert snap["illumination"] == 0.0 and snap["loads"]["payload"]["power_w"] == pytest.approx(700.0)
    cap_ah = emu.scenario.battery.cells_parallel * emu.scenario.battery.cell_capacity_ah
    true_crate = -snap["battery_i_a"] / cap_ah * 100.0
    assert true_crate < -20.0
    crate = s16(rd(emu, "fuel_gauge", 0x16)) * CRATE_LSB_PCT_H
    assert abs(crate - true_crate) <= CRATE_LSB_PCT_H
    assert abs(ina_shunt_a(emu, "ina_battery") + snap["battery_i_a"]) <= INA_SHUNT_LSB_V / 0.001
    assert ina_shunt_a(emu, "ina_battery") < -20.0
