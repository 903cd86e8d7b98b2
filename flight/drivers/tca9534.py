"""TI TCA9534 8-bit I/O expander (8-bit registers) driving load switches.

Registers: 0x00 input port (ro), 0x01 output port, 0x02 polarity inversion, 0x03 configuration
(1 = input). The chip has no identity register: the probe reads all four registers.
"""

from __future__ import annotations

from collections.abc import Sequence

from flight.drivers.base import Device
from flight.interfaces import Bus

REG_INPUT = 0x00
REG_OUTPUT = 0x01
REG_POLARITY = 0x02
REG_CONFIG = 0x03


def _check_pin(pin: int) -> None:
    if not 0 <= pin <= 7:
        raise ValueError(f"TCA9534 pin must be 0..7, got {pin}")


class Tca9534(Device[int]):
    """TCA9534 with the pins of `output_mask` configured as outputs.

    Output changes are read-modify-write of the output register (0x01) on a
    cached shadow, each write read back. At init the shadow takes the chip's
    output register (bumpless take-over), unless `initial_outputs` is given,
    which is written before the pins are made outputs. `reprobe()` rewrites
    the commanded shadow, so a chip that reset comes back in the commanded state.
    `read()` returns the input port.
    """

    CHIP = "TCA9534"
    POLL_REGISTERS = ((REG_INPUT, 1),)
    POLL_OPERATIONS = 1

    def __init__(self, bus: Bus, addr: int, output_mask: int, initial_outputs: int | None = None, *,
                 name: str | None = None, retries: int = 2, fail_after: int = 3,
                 degraded_window: int = 16) -> None:
        super().__init__(bus, addr, name=name, retries=retries, fail_after=fail_after,
                         degraded_window=degraded_window)
        if not 0 <= output_mask <= 0xFF:
            raise ValueError(f"output mask must be 0..0xff, got {output_mask}")
        if initial_outputs is not None and not 0 <= initial_outputs <= 0xFF:
            raise ValueError(f"initial outputs must be 0..0xff, got {initial_outputs}")
        self.output_mask = output_mask
        self._initial = initial_outputs
        self._shadow: int | None = None

    @property
    def outputs(self) -> int | None:
        """The commanded output register (shadow), None before init."""
        return self._shadow

    def _probe(self) -> None:
        """Read the input (0x00), output (0x01), polarity (0x02) and configuration (0x03) registers:
        the chip must acknowledge each with one byte."""
        for reg in (REG_INPUT, REG_OUTPUT, REG_POLARITY, REG_CONFIG):
            self._read8(reg)

    def _configure(self) -> None:
        """Output register (0x01) from the shadow, then configuration (0x03) = ~output_mask, both read back."""
        if self._shadow is None:
            self._shadow = self._initial if self._initial is not None else self._read8(REG_OUTPUT)
        self._write8(REG_OUTPUT, self._shadow)
        self._write8(REG_CONFIG, ~self.output_mask & 0xFF)

    def configure_outputs(self, output_mask: int) -> None:
        """Make the pins of the mask outputs and the others inputs: configuration register (0x03),
        1 = input, read back."""
        if not 0 <= output_mask <= 0xFF:
            raise ValueError(f"output mask must be 0..0xff, got {output_mask}")
        self._write8(REG_CONFIG, ~output_mask & 0xFF)
        self.output_mask = output_mask

    def write_pin(self, pin: int, high: bool) -> None:
        """Set or clear one bit of the output register (0x01): shadow modified, written, read back.
        The shadow changes only when the write is verified."""
        _check_pin(pin)
        if self._shadow is None:
            self._shadow = self._read8(REG_OUTPUT)
        value = self._shadow | (1 << pin) if high else self._shadow & ~(1 << pin) & 0xFF
        self._write8(REG_OUTPUT, value)
        self._shadow = value

    def set_pin(self, pin: int) -> None:
        """Drive the pin high (output register 0x01 bit `pin` = 1)."""
        self.write_pin(pin, True)

    def clear_pin(self, pin: int) -> None:
        """Drive the pin low (output register 0x01 bit `pin` = 0)."""
        self.write_pin(pin, False)

    def read_outputs(self) -> int:
        """Output register (0x01) as the chip holds it."""
        return self._read8(REG_OUTPUT)

    def read_inputs(self) -> int:
        """Input port register (0x00): pin levels (an output pin reads its driven level), XOR polarity (0x02)."""
        return self._read8(REG_INPUT)

    def input_pin(self, pin: int) -> bool:
        """One bit of the input port register (0x00)."""
        _check_pin(pin)
        return bool(self.read_inputs() >> pin & 1)

    def read(self) -> int:
        """Input port register (0x00)."""
        return self.reading_from((self.read_inputs(),))

    def reading_from(self, words: Sequence[int]) -> int:
        """read() from the input port register's octet (`poll_registers()`)."""
        return words[0]
