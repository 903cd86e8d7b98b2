"""cffi builder (API mode, out-of-line) for the plant: compiles csrc/*.c into emulator._plant."""

from __future__ import annotations

import sys
from pathlib import Path

from cffi import FFI

sys.path.insert(0, str(Path(__file__).resolve().parents[0]))
from cdef import cdef_text

HERE = Path(__file__).resolve().parent
HEADER = HERE / "skyrack.h"
SOURCES = sorted(p.name for p in HERE.glob("*.c"))


ffibuilder = FFI()
ffibuilder.cdef(cdef_text(HEADER.read_text(), "SK_"))
ffibuilder.set_source(
    "emulator._plant",
    '#include "skyrack.h"',
    sources=[f"csrc/{name}" for name in SOURCES],
    include_dirs=["csrc"],
    extra_compile_args=["-O2", "-std=c99", "-fno-fast-math", "-ffp-contract=off"],
    libraries=["m"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
