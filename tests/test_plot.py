"""`skyrack plot` on a short run."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyrack.cli import main


def test_plots_from_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "edge-cubesat", "--duration", "20m", "--out", str(tmp_path / "r")]) == 0
    header = (tmp_path / "r" / "timeseries.csv").read_text().splitlines()[0].split(",")
    assert header[:2] == ["t_s", "illumination"] and "temp_c_battery" in header
    rows = (tmp_path / "r" / "timeseries.csv").read_text().splitlines()[1:]
    assert len(rows) == 120 and rows[-1].startswith("1200,")
    assert main(["plot", str(tmp_path / "r")]) == 0
    for name in ("power.png", "battery.png", "temperatures.png", "payload.png"):
        data = (tmp_path / "r" / "plots" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    capsys.readouterr()
    assert main(["plot", str(tmp_path / "nothing")]) == 2
    assert "not found" in capsys.readouterr().err
