"""Load switches by name: the GPIO expander pins the hardware configuration
assigns to each load. Hard-wired loads are always on and cannot be switched."""

from __future__ import annotations

from flight.drivers.base import DriverError
from flight.drivers.tca9534 import Tca9534
from flight.hardware import HardwareConfig


class LoadSwitches:
    def __init__(self, hw: HardwareConfig, gpio: dict[str, Tca9534]) -> None:
        self.hw = hw
        self.gpio = gpio
        self._spec = {ld.name: ld for ld in hw.loads}
        self.failures = 0

    def switchable(self, load: str) -> bool:
        ld = self._spec.get(load)
        return ld is not None and ld.gpio is not None

    def is_on(self, load: str) -> bool:
        """The commanded state (the expander's output shadow); hard-wired loads are on."""
        ld = self._spec[load]
        if ld.gpio is None:
            return True
        word = self.gpio[ld.gpio].outputs
        return bool(word is not None and (word >> ld.pin) & 1)

    def set(self, load: str, on: bool) -> bool:
        """Command a load; False when the expander did not take it (counted)."""
        ld = self._spec.get(load)
        if ld is None:
            raise KeyError(f"no load named {load!r}")
        if ld.gpio is None:
            return on  # hard-wired: always on, cannot be switched off
        if self.is_on(load) == on:
            return True
        try:
            self.gpio[ld.gpio].write_pin(ld.pin, on)
        except DriverError:
            self.failures += 1
            return False
        return True

    def states(self) -> dict[str, bool]:
        return {ld.name: self.is_on(ld.name) for ld in self.hw.loads}
