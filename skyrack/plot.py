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


def _job_events(timeline: Path) -> dict[str, list[float]]:
    """Times (h) of JOB_DONE and JOB_MISSED events in a run's timeline.log."""
    out: dict[str, list[float]] = {"JOB_DONE": [], "JOB_MISSED": []}
    if not timeline.is_file():
        return out
    with timeline.open(encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] in out:
                try:
                    out[parts[2]].append(float(parts[0]) / 3600.0)
                except ValueError:
                    continue
    return out


def _compute_plot(plt: Any, d: dict[str, Any], t_h: Any, shade: Any, run_dir: Path, path: Path) -> None:
    """Payload throughput (utilization) over time, with the jobs completed and the deadlines missed."""
    import json

    import numpy as np

    fig, ax = plt.subplots(figsize=(10, 4))
    shade(ax)
    ax.plot(t_h, d["payload_throughput"], lw=1, label="throughput (1 = full speed)")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("time (h)")
    ax.set_ylabel("throughput")
    ev = _job_events(run_dir / "timeline.log")
    ax2 = ax.twinx()
    for key, label, color in (("JOB_DONE", "jobs completed", "tab:purple"), ("JOB_MISSED", "deadlines missed",
                                                                              "tab:red")):
        times = np.sort(np.asarray(ev[key]))
        if times.size:
            ax2.step(np.concatenate([[0.0], times]), np.arange(times.size + 1), where="post", color=color, label=label)
    ax2.set_ylabel("jobs")
    title = "compute"
    summary = run_dir / "summary.json"
    if summary.is_file():
        try:
            s = json.loads(summary.read_text(encoding="utf-8"))
            title += (f": {s['jobs_delivered']}/{s['jobs_released']} jobs delivered, value {s['value_delivered']:.1f}"
                      f" of {s['value_released']:.1f}, utilization {100 * s['payload_utilization']:.1f} %")
        except (ValueError, KeyError, TypeError):
            pass
    ax.set_title(title, fontsize="medium")
    lines, labels = ax.get_legend_handles_labels()
    lines2, labels2 = ax2.get_legend_handles_labels()
    ax.legend(lines + lines2, labels + labels2, loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
    if "payload_throughput" in d:
        _compute_plot(plt, d, t_h, shade, Path(args.run_dir), dest / "compute.png")
        written.append("compute.png")
    out.write(f"wrote {', '.join(written)} to {dest}\n")
    return 0
