"""Building telecommands on the ground: command dictionary -> PUS-C TC packet -> TC frame -> SDLS -> CLTU.

Pure functions (the key store is passed in; only the CLI reads a key file). The defaults match the flight
software's: spacecraft ID 0x2A5 (skyrack.sil.SPACECRAFT_ID), virtual channel 0, SPI 1, HMAC-SHA-256.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flight.ccsds import cltu
from flight.ccsds.keystore import KeyStore
from flight.ccsds.sdls import Algorithm, SaParams, SecurityAssociation
from flight.ccsds.tc_frame import TcFrame
from flight.dictionary.commands import ArgValue, CommandDictionary, CommandError, FailureCode

DEFAULT_SCID = 0x2A5
DEFAULT_VCID = 0
DEFAULT_SPI = 1
DEFAULT_ALGORITHM = Algorithm.HMAC_SHA256


@dataclass(frozen=True)
class Built:
    """Every layer of one built telecommand."""

    packet: bytes  # the PUS-C TC packet
    frame: bytes  # the protected TC frame (FECF included)
    cltu: bytes


def parse_assignments(commands: CommandDictionary, name: str, assignments: Sequence[str]) -> dict[str, ArgValue]:
    """ARG=VALUE texts -> values by argument name, each parsed by its argument's type (CommandError names it)."""
    cmd = commands.command(name)
    by_name = {a.name: a for a in cmd.args}
    out: dict[str, ArgValue] = {}
    for text in assignments:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CommandError(f"{name}: {text!r} is not ARG=VALUE (usage: {cmd.usage()})", FailureCode.BAD_ARGUMENT)
        arg = by_name.get(key)
        if arg is None:
            names = ", ".join(by_name) or "none"
            raise CommandError(f"{name}: no argument {key!r} (arguments: {names})", FailureCode.BAD_ARGUMENT)
        if key in out:
            raise CommandError(f"{name}.{key}: given twice", FailureCode.BAD_ARGUMENT)
        out[key] = arg.parse(value, f"{name}.{key}")
    return out


def time_tagged(commands: CommandDictionary, name: str, values: Mapping[str, object], at_s: int) -> dict[str, ArgValue]:
    """The arguments of a load_time_tagged (PUS 11,4) embedding command `name` with its values, to execute at
    at_s whole seconds of mission time (since the run's t = 0). CommandError for a bad command or argument,
    or a time outside the exec_time range."""
    cmd = commands.command(name)
    if cmd.service == 11:
        raise CommandError(f"{name}: a time-tagged command cannot be a service 11 command", FailureCode.BAD_ARGUMENT)
    out: dict[str, ArgValue] = {"exec_time": at_s, "service": cmd.service, "subtype": cmd.subtype,
                                "data": cmd.encode_args(values)}
    commands.command("load_time_tagged").encode_args(out)  # the time's range, the data's length
    return out


def build(commands: CommandDictionary, name: str, values: Mapping[str, object], keys: KeyStore | None, *,
          key_id: int = 1, spi: int = DEFAULT_SPI, sn: int = 1, algorithm: Algorithm = DEFAULT_ALGORITHM,
          scid: int = DEFAULT_SCID, vcid: int = DEFAULT_VCID, seq: int = 0, bypass: bool = False,
          tc_seq_count: int = 0, source_id: int = 0, ack_flags: int = 0b1111) -> Built:
    """The CLTU of one command: a type-A frame with N(S) = seq (or type-B with bypass), protected under spi with
    SDLS sequence number sn (keys None: no SDLS, a clear frame). CommandError for a bad command or argument,
    ValueError for bad link parameters or an unusable key."""
    packet = commands.encode_tc(name, values, tc_seq_count, source_id=source_id, ack_flags=ack_flags)
    frame = TcFrame(scid=scid, vcid=vcid, seq=0 if bypass else seq, data=packet, bypass=bypass)
    if keys is None:
        protected = frame.encode()
    else:
        sa = SecurityAssociation(SaParams(spi, algorithm), keys, key_id)
        protected = sa.protect(frame.encode(fecf=False), sn)
    return Built(packet, protected, cltu.encode(protected))
