"""The one wrapper around the compiled link-layer module (flight._link):
CRC-16 and the streaming deframer. Only this module imports its `lib`."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from flight._link import ffi, lib

FMT_CADU = lib.SKL_FMT_CADU
FMT_FRAMES = lib.SKL_FMT_FRAMES
FMT_PACKETS = lib.SKL_FMT_PACKETS
MAX_VC = lib.SKL_MAX_VC

STAT_FIELDS = tuple(name for name, _ in ffi.typeof("skl_stats").fields)


def crc16(data: bytes | bytearray | memoryview, init: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (slicing-by-8 in C)."""
    buf = ffi.from_buffer(data)
    return int(lib.skl_crc16(buf, len(buf), init))


def crc16_rows(rows: npt.NDArray[np.uint8], length: int, init: int = 0xFFFF) -> npt.NDArray[np.uint16]:
    """CRC-16 of the first `length` octets of each row of a C-contiguous (n, stride) uint8 array."""
    n, stride = rows.shape
    out = np.empty(n, dtype=np.uint16)
    if n:
        lib.skl_crc16_rows(ffi.from_buffer("uint8_t[]", rows), n, stride, length, init,
                           ffi.from_buffer("uint16_t[]", out))
    return out


class NativeDeframer:
    def __init__(self, fmt: int, frame_len: int, randomized: bool, has_fecf: bool, scid: int) -> None:
        cfg = ffi.new("skl_config *", {"format": fmt, "frame_len": frame_len, "randomized": int(randomized),
                                        "has_ocf": 0, "has_fecf": int(has_fecf), "scid": scid})
        ptr = lib.skl_deframer_new(cfg)
        if ptr == ffi.NULL:
            raise ValueError(f"deframer rejects frame length {frame_len} (13..65536)")
        self._d: Any = ffi.gc(ptr, lib.skl_deframer_free)

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[int, bytes]]:
        buf = ffi.from_buffer(data)
        rc = lib.skl_deframer_feed(self._d, buf, len(buf))
        if rc == lib.SKL_ERR_NOMEM:
            raise MemoryError("deframer output")
        return self._take()

    def finish(self) -> list[tuple[int, bytes]]:
        lib.skl_deframer_finish(self._d)
        return self._take()

    def _take(self) -> list[tuple[int, bytes]]:
        n = int(lib.skl_out_count(self._d))
        if n == 0:
            return []
        offs = lib.skl_out_offsets(self._d)
        vcids = lib.skl_out_vcids(self._d)
        data = ffi.buffer(lib.skl_out_data(self._d), offs[n])[:]
        return [(vcids[k], data[offs[k]:offs[k + 1]]) for k in range(n)]

    def feed_arena(self, data: bytes | bytearray | memoryview) -> tuple[Any, Any, Any]:
        """Feed a chunk; the completed packets as numpy views of the output
        arena: (octets, offsets (count + 1), vcids), valid until the next feed."""
        buf = ffi.from_buffer(data)
        rc = lib.skl_deframer_feed(self._d, buf, len(buf))
        if rc == lib.SKL_ERR_NOMEM:
            raise MemoryError("deframer output")
        n = int(lib.skl_out_count(self._d))
        if n == 0:
            return np.empty(0, np.uint8), np.zeros(1, np.uint32), np.empty(0, np.uint8)
        offs = np.frombuffer(ffi.buffer(lib.skl_out_offsets(self._d), 4 * (n + 1)), dtype=np.uint32)
        octets = np.frombuffer(ffi.buffer(lib.skl_out_data(self._d), int(offs[n])), dtype=np.uint8)
        vcids = np.frombuffer(ffi.buffer(lib.skl_out_vcids(self._d), n), dtype=np.uint8)
        return octets, offs, vcids

    def stats(self) -> dict[str, Any]:
        st = lib.skl_deframer_stats(self._d)
        out: dict[str, Any] = {}
        for name in STAT_FIELDS:
            v = getattr(st, name)
            out[name] = list(v) if name.startswith("vc_") else int(v)
        return out
