"""CCSDS Unsegmented time Code (CUC, 301.0-B-4).

P-field (one octet): extension (1) = 0 | time code ID (3): 001 = level 1,
TAI epoch 1958-01-01 / 010 = level 2, agency epoch | coarse octets - 1 (2) |
fine octets (2). The default 0x1E is level 1, 4 coarse and 2 fine octets.
The T-field is coarse seconds then binary fractions of a second, big-endian.
"""

from __future__ import annotations

from dataclasses import dataclass

from flight.ccsds.errors import DecodeError

LEVEL1_TAI = 0b001
LEVEL2_AGENCY = 0b010


@dataclass(frozen=True)
class CucFormat:
    coarse_octets: int = 4
    fine_octets: int = 2
    time_code_id: int = LEVEL1_TAI

    def __post_init__(self) -> None:
        if not 1 <= self.coarse_octets <= 4:
            raise ValueError("coarse octets must be 1..4 (without a P-field extension)")
        if not 0 <= self.fine_octets <= 3:
            raise ValueError("fine octets must be 0..3 (without a P-field extension)")
        if self.time_code_id not in (LEVEL1_TAI, LEVEL2_AGENCY):
            raise ValueError("time code ID must be 001 (TAI epoch) or 010 (agency epoch)")

    @property
    def p_field(self) -> int:
        return (self.time_code_id << 4) | ((self.coarse_octets - 1) << 2) | self.fine_octets

    @property
    def t_len(self) -> int:
        return self.coarse_octets + self.fine_octets

    @property
    def length(self) -> int:
        """Octets with the P-field."""
        return 1 + self.t_len

    @classmethod
    def from_p_field(cls, p: int) -> CucFormat:
        if p & 0x80:
            raise DecodeError("CUC P-field extension is not supported")
        tid = (p >> 4) & 0x7
        if tid not in (LEVEL1_TAI, LEVEL2_AGENCY):
            raise DecodeError(f"P-field 0x{p:02x} is not a CUC code (time code ID {tid:03b})")
        return cls(coarse_octets=((p >> 2) & 0x3) + 1, fine_octets=p & 0x3, time_code_id=tid)


DEFAULT = CucFormat()


def encode(seconds: float, fmt: CucFormat = DEFAULT, p_field: bool = True) -> bytes:
    """Seconds since the epoch as a CUC, fine part truncated to its resolution."""
    if seconds < 0:
        raise ValueError(f"CUC cannot hold negative time {seconds}")
    total_bits = 8 * fmt.fine_octets
    ticks = int(seconds * (1 << total_bits))
    limit = 1 << (8 * fmt.t_len)
    if ticks >= limit:
        raise ValueError(f"{seconds} s does not fit {fmt.coarse_octets} coarse octets")
    t = ticks.to_bytes(fmt.t_len, "big")
    return bytes([fmt.p_field]) + t if p_field else t


def encode_ns(t_ns: int, fmt: CucFormat = DEFAULT, p_field: bool = True) -> bytes:
    """Integer nanoseconds since the epoch as a CUC (exact integer arithmetic)."""
    if t_ns < 0:
        raise ValueError(f"CUC cannot hold negative time {t_ns} ns")
    ticks = (t_ns << (8 * fmt.fine_octets)) // 1_000_000_000
    if ticks >= 1 << (8 * fmt.t_len):
        raise ValueError(f"{t_ns} ns does not fit {fmt.coarse_octets} coarse octets")
    t = ticks.to_bytes(fmt.t_len, "big")
    return bytes([fmt.p_field]) + t if p_field else t


def decode(buf: bytes | bytearray | memoryview, fmt: CucFormat | None = None) -> tuple[float, int]:
    """(seconds, octets used). With fmt None the P-field is read from buf;
    with a format given, buf holds the T-field only (implicit P-field)."""
    pos = 0
    if fmt is None:
        if len(buf) < 1:
            raise DecodeError("CUC needs a P-field octet")
        fmt = CucFormat.from_p_field(buf[0])
        pos = 1
    if len(buf) - pos < fmt.t_len:
        raise DecodeError(f"CUC T-field needs {fmt.t_len} octets, got {len(buf) - pos}")
    ticks = int.from_bytes(buf[pos:pos + fmt.t_len], "big")
    return ticks / (1 << (8 * fmt.fine_octets)), pos + fmt.t_len
