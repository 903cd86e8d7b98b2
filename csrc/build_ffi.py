"""cffi builder (API mode, out-of-line) for the plant: compiles csrc/*.c into emulator._plant."""

from __future__ import annotations

import re
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
HEADER = HERE / "skyrack.h"
SOURCES = sorted(p.name for p in HERE.glob("*.c"))


def cdef_text(header: str) -> str:
    """The header as cffi's cdef accepts it: integer #defines kept and
    substituted into array sizes, other preprocessor lines dropped."""
    defines: dict[str, str] = {}
    lines = []
    for line in header.splitlines():
        stripped = line.strip()
        m = re.match(r"#define\s+(SK_\w+)\s+(-?\d+)\s*(/\*.*\*/)?$", stripped)
        if m:
            defines[m.group(1)] = m.group(2)
            lines.append(f"#define {m.group(1)} {m.group(2)}")
            continue
        if stripped.startswith("#"):
            continue
        lines.append(line)
    text = "\n".join(lines)
    return re.sub(r"\[(SK_\w+)\]", lambda m: f"[{defines[m.group(1)]}]", text)


ffibuilder = FFI()
ffibuilder.cdef(cdef_text(HEADER.read_text()))
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
