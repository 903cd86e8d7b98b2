"""Consistent Overhead Byte Stuffing (COBS) with 0x00 as the frame delimiter.

COBS rewrites a byte string so that it contains no 0x00 octet; a 0x00 on the line then always marks
the end of a frame, and a receiver that lost its place resynchronizes at the next 0x00.

Encoding. The input is cut at each 0x00 into runs of non-zero octets (n zeros give n + 1 runs, some
possibly empty). Each run is written as blocks: a code octet ``c`` (1..255) followed by ``c - 1``
data octets. A block with ``c < 255`` stands for its data followed by one 0x00, except that the
0x00 after the last block is not part of the data. A block with ``c = 255`` holds 254 data octets
and no 0x00: a run longer than 254 octets continues in the next block. A final run whose length is
a non-zero multiple of 254 ends with its 255 block (no empty ``01`` block after it); the decoder
below also accepts the redundant ``01`` block.

Examples (hex)::

    ""            -> 01
    00            -> 01 01
    11 22 00 33   -> 03 11 22 02 33
    254 x 01      -> FF 01..01
    255 x 01      -> FF 01..01 02 01

Overhead: at most one octet per 254 input octets plus one, never more; the encoded string is never
empty. The frame delimiter (0x00) is not part of `encode`'s output: the framing layer appends it.

`decode` raises `CobsError` (a `ValueError`) when its input contains 0x00, is empty, or has a block
that runs past the end of the input.
"""

from __future__ import annotations

__all__ = ["CobsError", "decode", "encode", "max_encoded_length"]

Buffer = bytes | bytearray | memoryview

_RUN = 254  # data octets in a full (0xFF) block


class CobsError(ValueError):
    """Bytes that are not a valid COBS encoding; the message says where and why."""


def max_encoded_length(n: int) -> int:
    """Longest possible encoding of n input octets (the delimiter not counted)."""
    return n + n // _RUN + 1


def encode(data: Buffer) -> bytes:
    """The COBS encoding of data: no 0x00 octet in it, no delimiter appended."""
    raw = bytes(data)
    out = bytearray()
    runs = raw.split(b"\x00")
    last = len(runs) - 1
    for i, run in enumerate(runs):
        n = len(run)
        start = 0
        # Full 254-octet blocks; the final run keeps its last full block as a 0xFF block with nothing after.
        while n - start >= _RUN:
            out.append(0xFF)
            out += run[start:start + _RUN]
            start += _RUN
        if start < n or start == 0 or i != last:
            out.append(n - start + 1)
            out += run[start:]
    return bytes(out)


def decode(data: Buffer) -> bytes:
    """The octets whose COBS encoding is data (without the 0x00 delimiter). Raises CobsError."""
    enc = bytes(data)
    n = len(enc)
    if n == 0:
        raise CobsError("empty input: every COBS encoding holds at least one code octet")
    zero = enc.find(0)
    if zero >= 0:
        raise CobsError(f"0x00 octet at offset {zero}: COBS data never contains the delimiter")
    out = bytearray()
    i = 0
    while i < n:
        code = enc[i]
        end = i + code
        if end > n:
            raise CobsError(f"block at offset {i} (code 0x{code:02x}) runs {end - n} octet(s) past the end")
        out += enc[i + 1:end]
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)
