"""TC transfer frames and CLTUs: known answers, round trips, corruption detected and corrected."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flight.ccsds import cltu
from flight.ccsds.errors import DecodeError
from flight.ccsds.tc_frame import ControlCommand, TcFrame, frame_length, parse_control_command, set_vr, unlock

# Known answers: SpacePyLibrary (Stefan Korner) UnitTest/testData.py, TC_FRAME_02 and its CLTU_02.
# TC frame: version 0, bypass 1, control 0, SCID 758, VC 0, length field 35 (36 octets), N(S) 0, FECF 0x0068.
TC_FRAME_02 = bytes.fromhex(
    "22F6002300" "82000F001DFF0000" "00000F001EFF0000" "00000F001FFF0000" "00000FAC8F" "0068")
# Its codeblocks (SpacePyLibrary ends CLTUs with a different tail; CCSDS 231.0 uses C5C5C5C5C5C5C579).
CLTU_02_CODEBLOCKS = bytes.fromhex(
    "22F6002300820024" "0F001DFF00000034" "000F001EFF000010" "00000F001FFF00D8"
    "0000000FAC8F0090" "685555555555550" "6")


def test_tc_frame_known_answer() -> None:
    frame = TcFrame.decode(TC_FRAME_02)
    assert (frame.scid, frame.vcid, frame.seq, frame.bypass, frame.control) == (758, 0, 0, True, False)
    assert frame.data == TC_FRAME_02[5:-2]
    assert frame.encode() == TC_FRAME_02
    assert frame_length(TC_FRAME_02) == 36


def test_cltu_known_answer() -> None:
    unit = cltu.encode(TC_FRAME_02)
    assert unit == b"\xeb\x90" + CLTU_02_CODEBLOCKS + bytes.fromhex("C5C5C5C5C5C5C579")
    result = cltu.decode(unit)
    assert result.data[:36] == TC_FRAME_02 and result.data[36:] == b"\x55" * 6
    assert (result.codeblocks, result.corrected, result.rejected, result.tail_found) == (6, 0, 0, True)


def test_bch_parity_bits_are_complemented_with_a_zero_filler_bit() -> None:
    assert cltu.codeblock(bytes(7)) == bytes(7) + b"\xfe"  # parity of zeros is 0, complemented, filler 0
    for block in (cltu.codeblock(bytes(range(i, i + 7))) for i in range(0, 200, 7)):
        assert block[7] & 1 == 0


tc_frames = st.builds(TcFrame, scid=st.integers(0, 0x3FF), vcid=st.integers(0, 63), seq=st.integers(0, 255),
                      data=st.binary(min_size=1, max_size=1017), bypass=st.booleans())


@given(tc_frames, st.booleans())
def test_tc_frame_round_trip(frame: TcFrame, fecf: bool) -> None:
    raw = frame.encode(fecf)
    assert len(raw) == frame.length(fecf) == frame_length(raw)
    assert TcFrame.decode(raw, fecf) == frame


def test_tc_frame_errors_name_the_field() -> None:
    raw = TcFrame(scid=5, vcid=1, seq=9, data=b"hello").encode()
    with pytest.raises(DecodeError, match="frame length field"):
        TcFrame.decode(raw + b"\x55")
    with pytest.raises(DecodeError, match="FECF"):
        TcFrame.decode(raw[:-1] + bytes([raw[-1] ^ 1]))
    with pytest.raises(DecodeError, match="version 2"):
        TcFrame.decode(bytes([raw[0] | 0x80]) + raw[1:])
    with pytest.raises(DecodeError, match="at least"):
        TcFrame.decode(raw[:4])
    with pytest.raises(ValueError, match="1024"):
        TcFrame(scid=5, vcid=1, seq=0, data=bytes(1018)).encode()


def test_control_commands() -> None:
    u = TcFrame.decode(unlock(0x2A, 3).encode())
    assert (u.bypass, u.control, u.data) == (True, True, b"\x00")
    assert u.control_command() == (ControlCommand.UNLOCK, 0)
    s = TcFrame.decode(set_vr(0x2A, 3, 200).encode())
    assert s.data == bytes([0x82, 0x00, 200]) and s.control_command() == (ControlCommand.SET_VR, 200)
    with pytest.raises(DecodeError, match="control command"):
        parse_control_command(b"\x82\x01\x05")


@given(st.binary(min_size=1, max_size=1024), st.binary(max_size=20).filter(lambda b: b"\xeb\x90" not in b))
def test_cltu_round_trip(frame: bytes, garbage: bytes) -> None:
    unit = cltu.encode(frame)
    assert unit.startswith(b"\xeb\x90") and unit.endswith(bytes.fromhex("C5C5C5C5C5C5C579"))
    assert (len(unit) - 10) % 8 == 0
    result = cltu.decode(garbage + unit + b"\x00\x01")
    padded = -len(frame) % 7
    assert result.data == frame + b"\x55" * padded
    assert result.start == len(garbage) and result.consumed == len(garbage) + len(unit)
    assert (result.corrected, result.rejected, result.tail_found) == (0, 0, True)


@given(st.binary(min_size=1, max_size=300), st.data())
def test_cltu_single_bit_error_is_corrected_or_detected(frame: bytes, data: st.DataObject) -> None:
    unit = bytearray(cltu.encode(frame))
    n_blocks = (len(unit) - 10) // 8
    block = data.draw(st.integers(0, n_blocks - 1))
    bit = data.draw(st.integers(0, 62))  # bit 63 is the filler bit, which is not coded
    pos = 2 + 8 * block + (bit // 8)
    unit[pos] ^= 0x80 >> (bit % 8)
    fixed = cltu.decode(bytes(unit), correct=True)
    assert fixed.data[:len(frame)] == frame and fixed.corrected == 1 and fixed.rejected == 0 and fixed.tail_found
    if block == 0:
        with pytest.raises(DecodeError, match="first codeblock"):
            cltu.decode(bytes(unit), correct=False)
    else:
        detected = cltu.decode(bytes(unit), correct=False)
        assert detected.rejected == 1 and not detected.tail_found and detected.codeblocks == block


@given(st.binary(min_size=7, max_size=7), st.integers(0, 62), st.integers(0, 62))
def test_double_bit_errors_are_rejected_not_miscorrected(info: bytes, a: int, b: int) -> None:
    if a == b:
        return
    block = bytearray(cltu.codeblock(info))
    for bit in (a, b):  # bits 0..62 of the codeword, the filler bit excluded
        block[bit // 8] ^= 0x80 >> (bit % 8)
    assert cltu.check_codeblock(bytes(block), correct=True) is None


def test_tail_is_never_accepted_as_data() -> None:
    tail = bytes.fromhex("C5C5C5C5C5C5C579")
    assert cltu.check_codeblock(tail, correct=True) is None
    for bit in range(64):
        damaged = bytearray(tail)
        damaged[bit // 8] ^= 1 << (bit % 8)
        assert cltu.check_codeblock(bytes(damaged), correct=True) is None


def test_cltu_garbage_and_truncation() -> None:
    with pytest.raises(DecodeError, match="start sequence"):
        cltu.decode(b"\x00" * 40)
    with pytest.raises(DecodeError, match="need more bytes"):
        cltu.decode(cltu.encode(b"abcdefghij")[:-3])
    with pytest.raises(DecodeError, match="empty CLTU"):
        cltu.decode(b"\xeb\x90" + bytes.fromhex("C5C5C5C5C5C5C579"))
