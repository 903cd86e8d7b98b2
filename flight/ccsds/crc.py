"""CRC-16/CCITT-FALSE: the TM/TC frame error control field (FECF) and the PUS packet error control.

Polynomial 0x1021, initial value 0xFFFF, not reflected, no final XOR; check("123456789") = 0x29B1.
Computed in C by slicing-by-8 (csrc/link/crc16.c), the same code the deframer runs; the tests
hold it to crcmod's `crc-ccitt-false` and to `binascii.crc_hqx`.
"""

from __future__ import annotations

from flight.ccsds._native import crc16 as _crc16

INIT = 0xFFFF
CHECK = 0x29B1  # crc16(b"123456789")

Buffer = bytes | bytearray | memoryview


def crc16(data: Buffer, init: int = INIT) -> int:
    """CRC-16/CCITT-FALSE of data. Pass a previous result as init to continue over more data."""
    return _crc16(data, init)


def append_crc16(data: Buffer) -> bytes:
    """data followed by its CRC, big-endian (as in the FECF and the PUS packet error control)."""
    return bytes(data) + crc16(data).to_bytes(2, "big")


def check_crc16(data: Buffer) -> bool:
    """True when the last two octets of data are the CRC of the octets before them."""
    return len(data) >= 2 and crc16(data) == 0


assert crc16(b"123456789") == CHECK, "the C CRC is not CRC-16/CCITT-FALSE"
