"""The exceptions of the telemetry dictionary."""

from __future__ import annotations


class DictionaryError(ValueError):
    """A dictionary declaration is malformed. The message starts with the key path
    (``packet[2].field[5].bits``) and says what is wrong with it."""


class EncodeError(ValueError):
    """A value cannot be encoded: unknown or missing field, wrong type, or out of range.
    The message names the packet and field (``power_hk.bus_voltage_v``)."""


class UnknownPacketError(LookupError):
    """No packet with that APID or name is declared."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown packet"
