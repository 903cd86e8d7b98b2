"""The CCSDS TM pseudo-randomizer (131.0-B, section 10).

h(x) = x^8 + x^7 + x^5 + x^3 + 1, all-ones seed, period 255 octets: FF 48 0E C0 9A ...
XORed over the whole transfer frame after the ASM; applying it twice gives the frame back.
It guarantees bit transitions for the receiver's bit synchronizer; it is not security.
"""

from __future__ import annotations

import numpy as np

PERIOD = 255
MAX_LEN = 65536  # longer than any frame: the precomputed tiled sequence covers it


def _generate() -> bytes:
    """The 255-octet sequence from the recurrence a[n+8] = a[n+7] ^ a[n+5] ^ a[n+3] ^ a[n] (run once)."""
    bits = [1] * 8
    while len(bits) < 8 * PERIOD:
        n = len(bits) - 8
        bits.append(bits[n + 7] ^ bits[n + 5] ^ bits[n + 3] ^ bits[n])
    return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, 8 * PERIOD, 8))


SEQUENCE: bytes = _generate()
_TILED = np.frombuffer(SEQUENCE * (MAX_LEN // PERIOD + 1), dtype=np.uint8)[:MAX_LEN]


def randomize(frame: bytes | bytearray | memoryview) -> bytes:
    """frame XOR the pseudo-random sequence (its own inverse: use it to derandomize too)."""
    n = len(frame)
    if n > MAX_LEN:
        raise ValueError(f"{n} octets is longer than any transfer frame ({MAX_LEN})")
    return np.bitwise_xor(np.frombuffer(frame, dtype=np.uint8), _TILED[:n]).tobytes()


derandomize = randomize
