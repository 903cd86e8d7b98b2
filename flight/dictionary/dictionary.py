"""The telemetry dictionary: every TM packet declared once (principle 6). Flight code
encodes with it, ground code decodes with it, and it exports to JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from flight.ccsds.errors import DecodeError
from flight.ccsds.spacepacket import HEADER_LEN, PrimaryHeader
from flight.dictionary import loader
from flight.dictionary.errors import DictionaryError, UnknownPacketError
from flight.dictionary.limits import LimitViolation
from flight.dictionary.packet import DATA_OFFSET, PEC_LEN, SEC_HDR_LEN, TIME_FORMAT, DecodedPacket, PacketDef

SHIPPED = "telemetry.toml"


@dataclass(frozen=True)
class Dictionary:
    packets: tuple[PacketDef, ...]
    title: str = ""
    _by_apid: dict[int, PacketDef] = field(init=False, repr=False, compare=False)
    _by_name: dict[str, PacketDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_apid: dict[int, int] = {}
        by_name: dict[str, int] = {}
        for k, p in enumerate(self.packets):
            if p.apid in by_apid:
                j = by_apid[p.apid]
                raise DictionaryError(f"packet[{k}].apid: duplicate APID {p.apid} (0x{p.apid:03x}), also packet[{j}] "
                                      f"{self.packets[j].name}")
            if p.name in by_name:
                raise DictionaryError(f"packet[{k}].name: duplicate packet name {p.name!r}, also "
                                      f"packet[{by_name[p.name]}]")
            by_apid[p.apid] = k
            by_name[p.name] = k
        object.__setattr__(self, "_by_apid", {p.apid: p for p in self.packets})
        object.__setattr__(self, "_by_name", {p.name: p for p in self.packets})

    def packet(self, apid_or_name: int | str) -> PacketDef:
        """The packet with that APID or name; UnknownPacketError lists the known ones."""
        found = (self._by_name.get(apid_or_name) if isinstance(apid_or_name, str)
                 else self._by_apid.get(apid_or_name))
        if found is None:
            known = ", ".join(f"{p.apid} {p.name}" for p in self.packets)
            what = f"APID {apid_or_name}" if isinstance(apid_or_name, int) else f"name {apid_or_name!r}"
            raise UnknownPacketError(f"no packet with {what} (known: {known})")
        return found

    def decode(self, packet: bytes | bytearray | memoryview) -> DecodedPacket:
        """One packet of any declared APID."""
        hdr = PrimaryHeader.unpack(packet)
        try:
            p = self.packet(hdr.apid)
        except UnknownPacketError as exc:
            raise DecodeError(str(exc)) from None
        return p.decode(packet)

    def check_limits(self, decoded: DecodedPacket) -> list[LimitViolation]:
        """The limits the decoded values break, in field order (the worst limit per field)."""
        p = self.packet(decoded.apid)
        out: list[LimitViolation] = []
        for f in p.fields:
            if f.limits is None or f.name not in decoded.fields:
                continue
            value = decoded.fields[f.name]
            if isinstance(value, bool | str):
                continue
            hit = f.limits.check(float(value))
            if hit is not None:
                level, side, limit = hit
                out.append(LimitViolation(p.name, f.name, float(value), level, side, limit, f.unit))
        return out

    def to_json(self) -> dict[str, object]:
        """A stable, JSON-able description of the whole dictionary."""
        return {
            "format": "skyrack-telemetry-dictionary",
            "version": loader.FORMAT_VERSION,
            "title": self.title,
            "layout": {
                "primary_header_octets": HEADER_LEN,
                "secondary_header": {"standard": "PUS-C TM", "octets": SEC_HDR_LEN, "pus_version": 2,
                                     "time": {"code": "CUC", "p_field": TIME_FORMAT.p_field, "implicit": True,
                                              "coarse_octets": TIME_FORMAT.coarse_octets,
                                              "fine_octets": TIME_FORMAT.fine_octets}},
                "data_offset_octets": DATA_OFFSET,
                "packet_error_control": {"crc": "CRC-16/CCITT-FALSE", "octets": PEC_LEN},
                "bit_order": "big-endian, first field in the most significant bits",
            },
            "packets": [p.to_json() for p in self.packets],
        }


def loads_dictionary(text: str, source: str = "<memory>") -> Dictionary:
    packets, title = loader.loads(text, source)
    return Dictionary(packets, title)


def load_dictionary(path: str | Path | None = None) -> Dictionary:
    """The shipped dictionary (path None) or a TOML file. DictionaryError names the key and the reason."""
    if path is None:
        text = (resources.files("flight.dictionary") / SHIPPED).read_text(encoding="utf-8")
        return loads_dictionary(text, "shipped dictionary")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DictionaryError(f"{p}: cannot read ({exc.__class__.__name__}: {exc})") from None
    try:
        return loads_dictionary(text, str(p))
    except DictionaryError as exc:
        raise DictionaryError(f"{p}: {exc}") from None
