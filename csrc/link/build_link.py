"""cffi builder (API mode, out-of-line) for the link-layer hot paths: compiles
csrc/link/*.c into flight._link (CRC-16 by slicing-by-8, streaming deframer)."""

from __future__ import annotations

import sys
from pathlib import Path

from cffi import FFI

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cdef import cdef_text

HERE = Path(__file__).resolve().parent
SOURCES = sorted(p.name for p in HERE.glob("*.c"))


ffibuilder = FFI()
ffibuilder.cdef(cdef_text((HERE / "sklink.h").read_text(), "SKL_"))
ffibuilder.set_source(
    "flight._link",
    '#include "sklink.h"',
    sources=[f"csrc/link/{name}" for name in SOURCES],
    include_dirs=["csrc/link"],
    extra_compile_args=["-O2", "-std=c99"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
