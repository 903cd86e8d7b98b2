"""COBS: round trips, the published examples, the 254/255-octet block boundaries, invalid input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil import cobs


def _reference_encode(data: bytes) -> bytes:
    """COBS one octet at a time, as the usual C formulation writes it (slow and obvious)."""
    out = bytearray([0])
    code_at, code = 0, 1
    for i, b in enumerate(data):
        if b:
            out.append(b)
            code += 1
        if not b or code == 0xFF:
            out[code_at] = code
            code = 1
            code_at = len(out)
            if not b or i < len(data) - 1:
                out.append(0)  # the next block's code octet, filled in later
            else:
                return bytes(out)  # the input ended with a full block: no empty block after it
    out[code_at] = code
    return bytes(out)


EXAMPLES = [
    (b"", b"\x01"),
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),  # 254 non-zero octets: one full block
    (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),  # 255 octets
    (bytes(range(2, 256)) + b"\x00", b"\xff" + bytes(range(2, 256)) + b"\x01\x01"),
    (bytes(range(3, 256)) + b"\x00\x01", b"\xfe" + bytes(range(3, 256)) + b"\x02\x01"),
]


@pytest.mark.parametrize(("raw", "enc"), EXAMPLES)
def test_published_examples(raw: bytes, enc: bytes) -> None:
    assert cobs.encode(raw) == enc
    assert cobs.decode(enc) == raw


@pytest.mark.parametrize("n", [0, 1, 253, 254, 255, 256, 507, 508, 509, 762, 1115, 4096])
@pytest.mark.parametrize("fill", [0x00, 0x01, 0xFF])
def test_runs_at_block_boundaries(n: int, fill: int) -> None:
    raw = bytes([fill]) * n
    enc = cobs.encode(raw)
    assert 0 not in enc
    assert cobs.decode(enc) == raw
    assert len(enc) <= cobs.max_encoded_length(n)
    if fill:
        # non-zero run: one code octet per started 254-octet block, none extra after a final full block
        assert len(enc) == n + max(1, -(-n // 254))


@pytest.mark.parametrize("n", [254, 508])
def test_redundant_final_empty_block_is_accepted(n: int) -> None:
    raw = b"\x07" * n
    assert cobs.decode(cobs.encode(raw) + b"\x01") == raw


@given(st.binary(max_size=2000))
def test_round_trip(raw: bytes) -> None:
    enc = cobs.encode(raw)
    assert enc == _reference_encode(raw)
    assert 0 not in enc
    assert len(enc) <= cobs.max_encoded_length(len(raw))
    assert cobs.decode(enc) == raw


@given(st.lists(st.sampled_from([b"\x00", b"\x01" * 253, b"\x02" * 254, b"\x03" * 255, b"\x04"]), max_size=12))
def test_round_trip_block_edges(parts: list[bytes]) -> None:
    raw = b"".join(parts)
    enc = cobs.encode(raw)
    assert enc == _reference_encode(raw)
    assert cobs.decode(enc) == raw


@pytest.mark.parametrize("bad", [b"", b"\x00", b"\x02", b"\x03\x11", b"\x05\x11\x00\x22\x33", b"\xff" + b"\x01" * 200])
def test_invalid_input_raises_value_error(bad: bytes) -> None:
    with pytest.raises(cobs.CobsError):
        cobs.decode(bad)
    assert issubclass(cobs.CobsError, ValueError)


@given(st.binary(max_size=600))
def test_decode_of_anything_raises_only_cobs_error(data: bytes) -> None:
    try:
        out = cobs.decode(data)
    except cobs.CobsError:
        return
    assert isinstance(out, bytes)
