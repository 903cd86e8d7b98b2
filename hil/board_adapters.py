"""What the board itself can say about its health: read from sysfs when present, reported in housekeeping
(`board_hk`, a packet of its own so that a HIL capture compares with a SIL one once it is left out).

Raspberry Pi:
- CPU temperature: /sys/class/thermal/thermal_zone0/temp (millidegrees C);
- throttling: the firmware's get_throttled word, /sys/devices/platform/soc/soc:firmware/get_throttled (hex),
  the bits `vcgencmd get_throttled` prints: 0 under-voltage now, 1 ARM frequency capped now, 2 throttled now,
  3 soft temperature limit now; 16..19 the same have occurred since boot.

Jetson:
- power rails: INA3221 channels in hwmon (/sys/class/hwmon/hwmon*/ whose `name` is ina3221): in[123]_label,
  in[123]_input (bus mV), curr[123]_input (mA); the board's input rail is the one labelled VDD_IN (or
  POM_5V_IN on older modules), else the sum of the channels;
- GPU load: a `load` file (per mille) under /sys/devices/gpu.0, /sys/devices/platform/gpu.0 or the GPU's
  devfreq device;
- power mode: the nvpmodel status file /var/lib/nvpmodel/status (`pmode:0002 ...`).

Every reader takes the file system root (default "/") so that tests run against a fake tree. A file that is
missing or unreadable reads as None; nothing here raises on a board without them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

THERMAL = "sys/class/thermal/thermal_zone0/temp"
THROTTLED = "sys/devices/platform/soc/soc:firmware/get_throttled"
HWMON = "sys/class/hwmon"
GPU_LOAD = ("sys/devices/gpu.0/load", "sys/devices/platform/gpu.0/load")
GPU_DEVFREQ = "sys/class/devfreq"
NVPMODEL_STATUS = "var/lib/nvpmodel/status"
INPUT_RAILS = ("VDD_IN", "POM_5V_IN")

UNDERVOLTAGE, FREQ_CAPPED, THROTTLED_NOW, SOFT_TEMP_LIMIT = 1 << 0, 1 << 1, 1 << 2, 1 << 3


@dataclass(frozen=True)
class Rail:
    name: str
    voltage_v: float
    current_a: float

    @property
    def power_w(self) -> float:
        return self.voltage_v * self.current_a


@dataclass(frozen=True)
class BoardStatus:
    kind: str  # "raspberry-pi", "jetson" or "unknown"
    cpu_temp_c: float | None = None
    throttled: int | None = None  # the Raspberry Pi firmware's flags word
    rails: tuple[Rail, ...] = field(default=())
    gpu_load: float | None = None  # 0..1
    power_mode: int | None = None  # nvpmodel mode id

    @property
    def board_power_w(self) -> float | None:
        """The board's input power: its input rail, else the sum of its rails; None without rails."""
        for r in self.rails:
            if r.name in INPUT_RAILS:
                return r.power_w
        return sum(r.power_w for r in self.rails) if self.rails else None

    def hk_values(self) -> dict[str, Any]:
        """The fields of the board_hk housekeeping packet."""
        p = self.board_power_w
        return {"board_present": self.kind != "unknown", "board_kind": self.kind.upper().replace("-", "_"),
                "cpu_temp_c": self.cpu_temp_c if self.cpu_temp_c is not None else 0.0,
                "throttled_flags": (self.throttled or 0) & 0xFFFFFFFF,
                "board_power_w": p if p is not None else 0.0,
                "gpu_load_pct": 100.0 * self.gpu_load if self.gpu_load is not None else 0.0,
                "power_mode": self.power_mode if self.power_mode is not None else 0}


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def _number(path: Path, base: int = 10) -> int | None:
    t = _text(path)
    if t is None:
        return None
    try:
        return int(t, base)
    except ValueError:
        return None


def cpu_temp_c(root: Path) -> float | None:
    milli = _number(root / THERMAL)
    return None if milli is None else milli / 1000.0


def throttled(root: Path) -> int | None:
    return _number(root / THROTTLED, 16)


def ina3221_rails(root: Path) -> tuple[Rail, ...]:
    rails: list[Rail] = []
    base = root / HWMON
    if not base.is_dir():
        return ()
    for dev in sorted(base.iterdir()):
        if _text(dev / "name") != "ina3221":
            continue
        for ch in (1, 2, 3):
            mv, ma = _number(dev / f"in{ch}_input"), _number(dev / f"curr{ch}_input")
            if mv is None or ma is None:
                continue
            label = _text(dev / f"in{ch}_label") or f"{dev.name}.ch{ch}"
            rails.append(Rail(label, mv / 1000.0, ma / 1000.0))
    return tuple(rails)


def gpu_load(root: Path) -> float | None:
    candidates = [root / p for p in GPU_LOAD]
    devfreq = root / GPU_DEVFREQ
    if devfreq.is_dir():
        candidates += [d / "device" / "load" for d in sorted(devfreq.iterdir()) if "gpu" in d.name.lower()]
    for path in candidates:
        permille = _number(path)
        if permille is not None:
            return min(max(permille / 1000.0, 0.0), 1.0)
    return None


def power_mode(root: Path) -> int | None:
    t = _text(root / NVPMODEL_STATUS)
    m = re.search(r"pmode:(\d+)", t or "")
    return int(m.group(1)) if m else None


def read_board(root: str | Path = "/") -> BoardStatus:
    """Everything the board's files say now (see the module docstring)."""
    r = Path(root)
    rails = ina3221_rails(r)
    mode = power_mode(r)
    thr = throttled(r)
    kind = "jetson" if rails or mode is not None else "raspberry-pi" if thr is not None else "unknown"
    return BoardStatus(kind, cpu_temp_c(r), thr, rails, gpu_load(r), mode)


class BoardHealth:
    """A housekeeping value provider (flight.telemetry.hk) for board_hk: the board re-read every `every`
    calls (the provider is asked each tick; sysfs reads cost more than a tick should)."""

    def __init__(self, root: str | Path = "/", every: int = 10) -> None:
        self.root = Path(root)
        self.every = max(every, 1)
        self._calls = 0
        self.status = read_board(self.root)
        self._values = self.status.hk_values()

    @property
    def present(self) -> bool:
        return self.status.kind != "unknown"

    def __call__(self) -> dict[str, Any]:
        self._calls += 1
        if self._calls % self.every == 0:
            self.status = read_board(self.root)
            self._values = self.status.hk_values()
        return self._values
