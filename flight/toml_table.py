"""Reading a parsed TOML table with errors that name the key.

One table at a time: typed getters that raise the caller's error class with
the key's path (`panel[2].area_m2: must be >= 0.0, got -1`), and a final
`done()` that rejects unknown keys (typos). Used by the scenario loader and
the telemetry dictionary loader.
"""

from __future__ import annotations

import math
from typing import Any

REQUIRED: Any = object()  # default meaning "the key must be present"


def _finite_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


class TomlTable:
    def __init__(self, data: object, path: str, error: type[ValueError]) -> None:
        if not isinstance(data, dict):
            raise error(f"{path}: expected a table, got {type(data).__name__}")
        self.data: dict[str, Any] = data
        self.path = path
        self.error = error
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, why: str) -> ValueError:
        """The error for a key: raise what this returns."""
        return self.error(f"{self.key(name)}: {why}")

    def has(self, name: str) -> bool:
        return name in self.data

    def get(self, name: str, default: object = REQUIRED) -> object:
        self.used.add(name)
        if name in self.data:
            return self.data[name]
        if default is REQUIRED:
            raise self.fail(name, "required key is missing")
        return default

    def num(self, name: str, default: object = REQUIRED, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False) -> float:
        v = self.get(name, default)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.fail(name, f"expected a number, got {v!r}")
        x = float(v)
        if not math.isfinite(x):
            raise self.fail(name, f"must be finite, got {v!r}")
        if lo is not None and (x < lo or (lo_open and x == lo)):
            raise self.fail(name, f"must be {'>' if lo_open else '>='} {lo}, got {v!r}")
        if hi is not None and x > hi:
            raise self.fail(name, f"must be <= {hi}, got {v!r}")
        return x

    def opt_num(self, name: str) -> float | None:
        """A number, or None when the key is absent."""
        if self.has(name):
            return self.num(name)
        self.used.add(name)
        return None

    def int_(self, name: str, default: object = REQUIRED, lo: int | None = None, hi: int | None = None) -> int:
        v = self.get(name, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(name, f"expected an integer, got {v!r}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.fail(name, f"must be in [{lo}, {hi}], got {v}")
        return v

    def str_(self, name: str, default: object = REQUIRED, choices: tuple[str, ...] | None = None) -> str:
        v = self.get(name, default)
        if not isinstance(v, str):
            raise self.fail(name, f"expected a string, got {v!r}")
        if choices is not None and v not in choices:
            raise self.fail(name, f"must be one of {', '.join(choices)}; got {v!r}")
        return v

    def bool_(self, name: str, default: bool) -> bool:
        v = self.get(name, default)
        if not isinstance(v, bool):
            raise self.fail(name, f"expected true or false, got {v!r}")
        return v

    def numbers(self, name: str, default: object = REQUIRED) -> tuple[float, ...]:
        v = self.get(name, default)
        if not isinstance(v, list | tuple) or not all(_finite_number(x) for x in v):
            raise self.fail(name, f"expected a list of finite numbers, got {v!r}")
        return tuple(float(x) for x in v)

    def vec(self, name: str, n: int, default: tuple[float, ...] | None = None, unit: bool = False) -> tuple[float, ...]:
        v = self.get(name, REQUIRED if default is None else default)
        if not isinstance(v, list | tuple) or len(v) != n or not all(_finite_number(x) for x in v):
            raise self.fail(name, f"expected a list of {n} numbers, got {v!r}")
        out = tuple(float(x) for x in v)
        if unit:
            norm = math.sqrt(sum(x * x for x in out))
            if norm < 1e-9:
                raise self.fail(name, "must not be the zero vector")
            out = tuple(x / norm for x in out)
        return out

    def pairs(self, name: str, default: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        v = self.get(name, default)
        if not isinstance(v, list | tuple) or not all(
                isinstance(r, list | tuple) and len(r) == 2 and all(_finite_number(x) for x in r) for r in v):
            raise self.fail(name, f"expected a list of [x, y] pairs, got {v!r}")
        return tuple((float(a), float(b)) for a, b in v)

    def table(self, name: str, required: bool = False) -> TomlTable:
        return TomlTable(self.get(name, REQUIRED if required else {}), self.key(name), self.error)

    def array(self, name: str) -> list[TomlTable]:
        v = self.get(name, [])
        if not isinstance(v, list):
            raise self.fail(name, f"expected an array of tables ([[{name}]])")
        return [TomlTable(item, f"{self.key(name)}[{k}]", self.error) for k, item in enumerate(v)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "unknown key")
