"""The emulated I2C bus as seen by flight drivers (the flight `Bus` protocol)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emulator.native import SK_OK, NackError, Plant, PlantError, RegisterReads
from flight.interfaces import BusError


class EmulatedBus:
    """One I2C bus of the plant. `transfer` behaves like the chips: NACK for
    an absent address, BusError for a transfer the device cannot serve."""

    def __init__(self, plant: Plant, number: int) -> None:
        self._plant = plant
        self.number = number
        self.transfers = 0
        self._call, self._p, self._rbuf, self._view = plant.transfer_parts()
        self._reads: dict[int, RegisterReads] = {}  # id(ops) -> its C arrays (the entry keeps ops alive)

    def read_registers(self, ops: Sequence[tuple[int, int, int]]) -> list[int | None]:
        """The flight `RegisterBatch`: the reads (addr, register, width) in one call into the plant, each
        exactly what `transfer(addr, bytes([register]), width)` does; the word or None (a failed transfer).
        The C arrays are made once per `ops` object and reused while the caller passes the same object
        (a list is compared with the reads it held when they were made)."""
        self.transfers += len(ops)
        reads = self._reads.get(id(ops))
        if reads is None or reads.ops is not ops or (type(ops) is not tuple and reads.key != tuple(ops)):
            if len(self._reads) >= 32:
                self._reads.clear()
            reads = self._reads[id(ops)] = self._plant.prepare_reads(self.number, ops)
        return self._plant.read_many(reads)

    def transfer(self, addr: int, write: bytes, read_len: int) -> bytes:
        self.transfers += 1
        if (type(addr) is int and type(read_len) is int and type(write) is bytes and 0 <= addr <= 0x7F
                and 0 <= read_len <= 256 and len(write) <= 256):  # the common case, checked as below, in one call
            rc = self._call(self._p, self.number, addr, write, len(write), self._rbuf, read_len)
            if rc == SK_OK:
                return self._view[:read_len]  # type: ignore[no-any-return]
            try:
                Plant.raise_for(rc, self.number, addr)
            except NackError:
                raise BusError(addr, "no acknowledge (NACK)") from None
            except PlantError as exc:
                raise BusError(addr, str(exc).split(": ", 1)[-1]) from None
        if not isinstance(addr, int | np.integer) or not 0 <= addr <= 0x7F:
            raise BusError(int(addr) if isinstance(addr, int | np.integer) else -1, "address out of the 7-bit range")
        if not isinstance(read_len, int | np.integer) or isinstance(read_len, bool):
            raise BusError(int(addr), f"read length must be an integer, got {type(read_len).__name__}")
        try:
            return self._plant.transfer(self.number, int(addr), write if type(write) is bytes else bytes(write),
                                        int(read_len))
        except NackError:
            raise BusError(addr, "no acknowledge (NACK)") from None
        except PlantError as exc:
            raise BusError(addr, str(exc).split(": ", 1)[-1]) from None
