"""The emulated I2C bus as seen by flight drivers (the flight `Bus` protocol)."""

from __future__ import annotations

from emulator.native import NackError, Plant, PlantError
from flight.interfaces import BusError


class EmulatedBus:
    """One I2C bus of the plant. `transfer` behaves like the chips: NACK for
    an absent address, BusError for a transfer the device cannot serve."""

    def __init__(self, plant: Plant, number: int) -> None:
        self._plant = plant
        self.number = number
        self.transfers = 0

    def transfer(self, addr: int, write: bytes, read_len: int) -> bytes:
        self.transfers += 1
        if not isinstance(addr, int) or not 0 <= addr <= 0x7F:
            raise BusError(addr if isinstance(addr, int) else -1, "address out of the 7-bit range")
        try:
            return self._plant.transfer(self.number, addr, bytes(write), read_len)
        except NackError:
            raise BusError(addr, "no acknowledge (NACK)") from None
        except PlantError as exc:
            raise BusError(addr, str(exc).split(": ", 1)[-1]) from None
