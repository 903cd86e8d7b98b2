"""Turn a public C header into text cffi's cdef accepts: integer #defines with
the given prefix are kept and substituted into array sizes, other preprocessor
lines are dropped. Shared by the cffi builders."""

from __future__ import annotations

import re


def cdef_text(header: str, prefix: str) -> str:
    defines: dict[str, str] = {}
    lines = []
    for line in header.splitlines():
        stripped = line.strip()
        m = re.match(rf"#define\s+({prefix}\w+)\s+(-?\d+)\s*(/\*.*\*/)?$", stripped)
        if m:
            defines[m.group(1)] = m.group(2)
            lines.append(f"#define {m.group(1)} {m.group(2)}")
        elif not stripped.startswith("#"):
            lines.append(line)
    return re.sub(rf"\[({prefix}\w+)\]", lambda m: f"[{defines[m.group(1)]}]", "\n".join(lines))
