"""The telemetry dictionary (DESIGN principle 6): TM packets declared once in a TOML file
(telemetry.toml, shipped with the package), loaded into frozen value types that encode
and decode whole space packets, one at a time or in bulk, and export to JSON."""

from flight.dictionary.calibration import Calibration, CalKind
from flight.dictionary.dictionary import Dictionary, load_dictionary, loads_dictionary
from flight.dictionary.errors import DictionaryError, EncodeError, UnknownPacketError
from flight.dictionary.fields import FieldDef, FieldType
from flight.dictionary.limits import LimitLevel, Limits, LimitSide, LimitViolation
from flight.dictionary.packet import DecodedPacket, PacketDef, PacketKind

__all__ = [
    "CalKind", "Calibration", "DecodedPacket", "Dictionary", "DictionaryError", "EncodeError", "FieldDef",
    "FieldType", "LimitLevel", "LimitSide", "LimitViolation", "Limits", "PacketDef", "PacketKind",
    "UnknownPacketError", "load_dictionary", "loads_dictionary",
]
