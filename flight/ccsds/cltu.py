"""Communications Link Transmission Units (CCSDS 231.0-B, TC synchronization and channel coding).

CLTU: start sequence EB 90 | codeblocks | tail sequence C5 C5 C5 C5 C5 C5 C5 79.
Codeblock: 7 information octets then one octet holding the complements of the 7 parity bits of the
(63,56) modified BCH code and a filler bit 0 (last). The code's generator is g(x) = x^7 + x^6 + x^2 + 1,
the encoder's shift register starts at zero, information bits enter most significant first, and the
parity bits are taken P0 (x^6 coefficient) first. A last codeblock not filled by the frame is completed
with the fill pattern 0x55 (alternating bits starting with 0).

g(x) = (x + 1)(x^6 + x + 1): the code is an expurgated Hamming code of minimum distance 4. It corrects one
bit error per codeblock and detects two. The tail is not a codeword, nor one bit away from one: a receiver
in either mode rejects it and so finds the end of the CLTU.

Known answers in the tests come from the unit-test data of SpacePyLibrary (Stefan Korner, MIT): the codeblocks
of its CLTU_02 for its TC_FRAME_02.
"""

from __future__ import annotations

from dataclasses import dataclass

from flight.ccsds.errors import DecodeError

START = b"\xeb\x90"
TAIL = b"\xc5\xc5\xc5\xc5\xc5\xc5\xc5\x79"
FILL = 0x55
INFO_LEN = 7
BLOCK_LEN = 8
_POLY = 0x45  # x^6 + x^2 + 1: g(x) without its x^7 term, for a 7-bit register

Buffer = bytes | bytearray | memoryview


def _byte_table() -> list[int]:
    """Register (7 bits) after clocking in one octet from register 0: table[r << 1 ^ octet] works as a CRC."""
    table = []
    for value in range(256):
        reg = 0
        for i in range(7, -1, -1):
            feedback = ((value >> i) & 1) ^ (reg >> 6)
            reg = (reg << 1) & 0x7F
            if feedback:
                reg ^= _POLY
        table.append(reg)
    return table


_TABLE = _byte_table()


def parity(info: Buffer) -> int:
    """The 7 parity bits (P0 most significant) of 7 information octets, before complementing."""
    reg = 0
    for octet in info:
        reg = _TABLE[((reg << 1) ^ octet) & 0xFF]
    return reg


def codeblock(info: Buffer) -> bytes:
    """One codeblock: 7 information octets and the octet of complemented parity bits and filler 0."""
    if len(info) != INFO_LEN:
        raise ValueError(f"a codeblock carries {INFO_LEN} information octets, got {len(info)}")
    return bytes(info) + bytes([((~parity(info)) & 0x7F) << 1])


def _single_bit_syndromes() -> dict[int, tuple[int, int]]:
    """Syndrome of each single-bit error -> (octet index in the codeblock, bit mask)."""
    table: dict[int, tuple[int, int]] = {}
    for index in range(INFO_LEN):
        for bit in range(8):
            info = bytearray(INFO_LEN)
            info[index] = 1 << bit
            table[parity(info)] = (index, 1 << bit)
    for bit in range(1, 8):  # parity bits sit in bits 7..1 of the last octet
        table[1 << (bit - 1)] = (INFO_LEN, 1 << bit)
    assert len(table) == 63 and 0 not in table, "BCH(63,56) single-bit syndromes must be distinct"
    return table


_SYNDROMES = _single_bit_syndromes()


def check_codeblock(block: Buffer, correct: bool = True) -> tuple[bytes, int] | None:
    """(7 information octets, bits corrected) or None when the codeblock is rejected.
    The filler bit is not part of the code and is ignored."""
    info = bytes(block[:INFO_LEN])
    syndrome = parity(info) ^ ((~block[INFO_LEN] >> 1) & 0x7F)
    if syndrome == 0:
        return info, 0
    if not correct:
        return None
    hit = _SYNDROMES.get(syndrome)
    if hit is None:
        return None
    index, mask = hit
    if index == INFO_LEN:
        return info, 1  # the error was in a parity bit: the information is intact
    fixed = bytearray(info)
    fixed[index] ^= mask
    return bytes(fixed), 1


def encode(frame: Buffer) -> bytes:
    """A CLTU carrying frame (one or more TC frames), last codeblock filled with 0x55."""
    if not frame:
        raise ValueError("a CLTU needs at least one octet to carry")
    data = bytes(frame)
    rem = len(data) % INFO_LEN
    if rem:
        data += bytes([FILL]) * (INFO_LEN - rem)
    blocks = [codeblock(data[i:i + INFO_LEN]) for i in range(0, len(data), INFO_LEN)]
    return START + b"".join(blocks) + TAIL


@dataclass(frozen=True)
class CltuResult:
    data: bytes  # the information octets, fill included: trim by the TC frame length
    start: int  # offset of the start sequence in the input
    consumed: int  # octets of the input used, through the tail or the rejected codeblock
    codeblocks: int  # codeblocks accepted
    corrected: int  # codeblocks accepted after a single-bit correction
    rejected: int  # codeblocks rejected (0, or 1: a rejected codeblock ends the CLTU)
    tail_found: bool  # ended at an exact tail sequence


def decode(buf: Buffer, correct: bool = True) -> CltuResult:
    """The first CLTU in buf: find the start sequence, check (and, with correct=True, repair single-bit
    errors in) each codeblock, stop at the tail or at the first codeblock that cannot be accepted, as a
    CCSDS CLTU decoder does. DecodeError if there is no start sequence, if buf ends before the CLTU does
    (need more bytes), or if not even the first codeblock can be accepted (garbage)."""
    raw = bytes(buf)
    start = raw.find(START)
    if start < 0:
        raise DecodeError("no CLTU start sequence (EB 90) in the input")
    pos = start + len(START)
    out: list[bytes] = []
    corrected = 0
    rejected = 0
    tail_found = False
    while True:
        block = raw[pos:pos + BLOCK_LEN]
        if len(block) < BLOCK_LEN:
            raise DecodeError(f"CLTU truncated after {len(out)} codeblocks: need more bytes")
        pos += BLOCK_LEN
        if block == TAIL:
            tail_found = True
            break
        result = check_codeblock(block, correct)
        if result is None:
            rejected = 1
            break
        out.append(result[0])
        corrected += result[1]
    if not out:
        what = "an empty CLTU (tail right after the start)" if tail_found else "the first codeblock is uncorrectable"
        raise DecodeError(f"no data in the CLTU at offset {start}: {what}")
    return CltuResult(data=b"".join(out), start=start, consumed=pos, codeblocks=len(out), corrected=corrected,
                      rejected=rejected, tail_found=tail_found)
