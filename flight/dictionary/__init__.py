"""The telemetry dictionary (DESIGN principle 6): TM packets declared once in a TOML file
(telemetry.toml, shipped with the package: housekeeping, events and the PUS service 1
verification reports), loaded into frozen value types that encode and decode whole space
packets, one at a time or in bulk, and export to JSON; and the command dictionary
(commands.toml), whose verification reports are the telemetry dictionary's."""

from flight.dictionary.calibration import Calibration, CalKind
from flight.dictionary.commands import (
    ArgDef,
    ArgType,
    CommandDef,
    CommandDictionary,
    CommandError,
    DecodedCommand,
    FailureCode,
    RequestId,
    load_commands,
    loads_commands,
)
from flight.dictionary.dictionary import Dictionary, load_dictionary, loads_dictionary
from flight.dictionary.errors import DictionaryError, EncodeError, UnknownPacketError
from flight.dictionary.fields import FieldDef, FieldType
from flight.dictionary.limits import LimitLevel, Limits, LimitSide, LimitViolation
from flight.dictionary.packet import DecodedPacket, PacketDef, PacketKind

__all__ = [
    "ArgDef", "ArgType", "CalKind", "Calibration", "CommandDef", "CommandDictionary", "CommandError",
    "DecodedCommand", "DecodedPacket", "Dictionary", "DictionaryError", "EncodeError", "FailureCode", "FieldDef",
    "FieldType", "LimitLevel", "LimitSide", "LimitViolation", "Limits", "PacketDef", "PacketKind", "RequestId",
    "UnknownPacketError", "load_commands", "load_dictionary", "loads_commands", "loads_dictionary",
]
