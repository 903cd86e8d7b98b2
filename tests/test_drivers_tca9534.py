"""TCA9534 driver switching the gpu-node loads."""

from __future__ import annotations

import pytest

from emulator import Emulator, faults
from flight.drivers import DeviceIoError, Health, PayloadCtrl, PayloadStatus, Tca9534

NS = 1_000_000_000
PIN = {"radio": 0, "battery_heater": 1, "avionics_heater": 2, "payload": 3}


def loads(emu: Emulator) -> dict[str, tuple[bool, float]]:
    return {k: (v["on"], v["power_w"]) for k, v in emu.snapshot()["loads"].items()}


def test_init_takes_over_without_a_bump_and_switches_loads() -> None:
    emu = Emulator("gpu-node")
    gpio = Tca9534(emu.buses[0], 0x20, output_mask=0x0F)
    emu.advance(10 * NS)
    before = loads(emu)
    gpio.init()
    assert gpio.outputs is not None and gpio.outputs & 0x0F == 0b1001  # radio and payload on at POR
    emu.advance(NS)
    assert loads(emu) == before
    assert gpio.read_inputs() & 0x0F == 0b1001
    assert gpio.read_inputs() & 0xF0 == 0xF0  # inputs pulled up

    gpio.set_pin(PIN["battery_heater"])
    emu.advance(2 * NS)
    on, power = loads(emu)["battery_heater"]
    assert on and power == pytest.approx(20.0)
    assert gpio.input_pin(PIN["battery_heater"])

    gpio.set_pin(PIN["avionics_heater"])
    gpio.clear_pin(PIN["battery_heater"])
    emu.advance(2 * NS)
    now = loads(emu)
    assert now["battery_heater"] == (False, 0.0)
    assert now["avionics_heater"][0] and now["avionics_heater"][1] == pytest.approx(15.0)
    assert gpio.outputs == gpio.read_outputs()

    # the payload switch: off, and its controller reports unpowered
    payload = PayloadCtrl(emu.buses[0], 0x50)
    payload.init()
    gpio.clear_pin(PIN["payload"])
    emu.advance(2 * NS)
    assert loads(emu)["payload"] == (False, 0.0)
    assert PayloadStatus.UNPOWERED in payload.status()
    gpio.write_pin(PIN["payload"], True)
    emu.advance(2 * NS)
    assert loads(emu)["payload"][0]
    assert PayloadStatus.UNPOWERED not in payload.status()
    assert gpio.health == Health.OK


def test_initial_outputs_are_written_before_the_pins_become_outputs() -> None:
    emu = Emulator("gpu-node")
    gpio = Tca9534(emu.buses[0], 0x20, output_mask=0x0F, initial_outputs=0b0110)
    gpio.init()
    emu.advance(2 * NS)
    on = {k: v[0] for k, v in loads(emu).items()}
    assert on == {"avionics": True, "radio": False, "battery_heater": True, "avionics_heater": True,
                  "payload": False}
    bus = emu.buses[0]
    assert bus.transfer(0x20, b"\x03", 1) == b"\xf0"


def test_read_back_mismatch_is_an_error_and_keeps_the_shadow() -> None:
    emu = Emulator("gpu-node")
    gpio = Tca9534(emu.buses[0], 0x20, output_mask=0x0F)
    gpio.init()
    shadow = gpio.outputs
    emu.inject(faults.BitFlip("gpio", 0x01, 0x80))  # output register reads back with bit 7 flipped
    with pytest.raises(DeviceIoError, match="reads back"):
        gpio.set_pin(PIN["battery_heater"])
    assert gpio.outputs == shadow
    assert gpio.stats.retries == 2 and gpio.health == Health.DEGRADED
    emu.inject(faults.ClearDeviceFaults("gpio"))
    gpio.set_pin(PIN["battery_heater"])
    emu.advance(2 * NS)
    assert loads(emu)["battery_heater"][0]
