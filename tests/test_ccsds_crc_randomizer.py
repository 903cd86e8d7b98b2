"""CRC-16/CCITT-FALSE and the TM pseudo-randomizer: known answers and properties."""

from __future__ import annotations

import binascii

from hypothesis import given
from hypothesis import strategies as st

from flight.ccsds import randomizer
from flight.ccsds.crc import append_crc16, check_crc16, crc16
from flight.ccsds.randomizer import PERIOD, SEQUENCE, randomize


def test_crc_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1


@given(st.binary(max_size=4096), st.integers(0, 0xFFFF))
def test_crc_matches_crcmod_with_any_start_value(data: bytes, init: int) -> None:
    import crcmod.predefined

    reference = crcmod.predefined.mkCrcFun("crc-ccitt-false")
    assert crc16(data) == reference(data)
    assert crc16(data, init) == reference(data, init)


def test_crc_is_not_a_lookalike() -> None:
    # XMODEM (init 0) gives 0x31C3, KERMIT 0x2189, AUG-CCITT 0xE5CC on the same input
    assert crc16(b"123456789") not in (0x31C3, 0x2189, 0xE5CC)
    assert crc16(b"") == 0xFFFF


@given(st.binary(max_size=2048))
def test_crc_matches_binascii(data: bytes) -> None:
    assert crc16(data) == binascii.crc_hqx(data, 0xFFFF)
    assert crc16(memoryview(data)) == crc16(bytearray(data)) == crc16(data)


@given(st.binary(max_size=512), st.binary(max_size=512))
def test_crc_continues(a: bytes, b: bytes) -> None:
    assert crc16(b, crc16(a)) == crc16(a + b)


@given(st.binary(min_size=1, max_size=512), st.integers(min_value=0))
def test_crc_detects_single_bit_errors(data: bytes, where: int) -> None:
    framed = bytearray(append_crc16(data))
    assert check_crc16(framed)
    bit = where % (8 * len(framed))
    framed[bit // 8] ^= 1 << (bit % 8)
    assert not check_crc16(framed)


def test_randomizer_known_answer() -> None:
    assert SEQUENCE[:4] == bytes.fromhex("FF480EC0")
    assert SEQUENCE[:16] == bytes.fromhex("FF480EC09A0D70BC8E2C93ADA7B746CE")
    assert len(SEQUENCE) == PERIOD == 255


def _lfsr_bits(n: int) -> list[int]:
    """Oracle: a Fibonacci shift register, h(x) = x^8 + x^7 + x^5 + x^3 + 1, all ones."""
    state = [1] * 8  # state[0] is the oldest bit, the next one out
    out = []
    for _ in range(n):
        out.append(state[0])
        new = state[0] ^ state[3] ^ state[5] ^ state[7]
        state = [*state[1:], new]
    return out


def test_randomizer_matches_shift_register_and_has_period_255() -> None:
    bits = _lfsr_bits(8 * 2 * PERIOD)
    octets = bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))
    assert octets[:PERIOD] == SEQUENCE
    assert octets[PERIOD:] == SEQUENCE  # period 255 octets
    # and no shorter period
    assert all(SEQUENCE[k:] + SEQUENCE[:k] != SEQUENCE for k in (1, 3, 5, 15, 17, 51, 85))
    assert randomize(bytes(3 * PERIOD)) == SEQUENCE * 3


@given(st.binary(max_size=4096))
def test_randomize_is_its_own_inverse(frame: bytes) -> None:
    once = randomize(frame)
    assert len(once) == len(frame)
    assert randomize(once) == frame
    assert randomizer.derandomize(bytearray(once)) == frame
