"""`skyrack plot DIR`: PNG plots of a run from its timeseries.csv."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="DIR", help="a `skyrack run` output directory")
    p.add_argument("--out", metavar="DIR", help="where to write the PNG files (default: DIR/plots)")


def _load(path: Path) -> dict[str, Any]:
    import numpy as np

    with path.open(encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return {name: data[:, k] for k, name in enumerate(header)}


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    src = Path(args.run_dir) / "timeseries.csv"
    if not src.is_file():
        err.write(f"skyrack plot: {src} not found (run `skyrack run --out {args.run_dir}` first)\n")
        return 2
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        err.write("skyrack plot: matplotlib is not installed (pip install matplotlib)\n")
        return 2
    d = _load(src)
    if "t_s" not in d or len(d["t_s"]) == 0:
        err.write(f"skyrack plot: {src} holds no samples\n")
        return 2
    t_h = d["t_s"] / 3600.0
    dest = Path(args.out) if args.out else Path(args.run_dir) / "plots"
    dest.mkdir(parents=True, exist_ok=True)
    eclipse = d.get("illumination", None)

    def shade(ax: Any) -> None:
        if eclipse is not None:
            ax.fill_between(t_h, 0, 1, where=eclipse < 0.5, transform=ax.get_xaxis_transform(), color="0.85",
                            label="eclipse")
        if "contact_station" in d:
            ax.fill_between(t_h, 0, 1, where=d["contact_station"] >= 0, transform=ax.get_xaxis_transform(),
                            color="tab:green", alpha=0.25, label="contact")

    figs = {
        "power.png": [("array_available_w", "array available"), ("array_used_w", "array used"),
                      ("load_total_w", "loads"), ("payload_power_w", "payload")],
        "battery.png": [("battery_soc", "state of charge")],
        "temperatures.png": [(k, k[len("temp_c_"):]) for k in d if k.startswith("temp_c_")],
        "payload.png": [("payload_power_w", "payload power"), ("payload_mode", "payload mode")],
    }
    units = {"power.png": "W", "battery.png": "", "temperatures.png": "C", "payload.png": ""}
    written = []
    for name, series in figs.items():
        fig, ax = plt.subplots(figsize=(10, 4))
        shade(ax)
        for key, label in series:
            if key in d:
                ax.plot(t_h, d[key], label=label, lw=1)
        ax.set_xlabel("time (h)")
        ax.set_ylabel(units[name])
        ax.set_title(name[:-4])
        ax.legend(loc="upper right", fontsize="small")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(dest / name, dpi=110)
        plt.close(fig)
        written.append(name)
    out.write(f"wrote {', '.join(written)} to {dest}\n")
    return 0
