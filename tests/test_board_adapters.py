"""Board health readers against fake sysfs trees: a Raspberry Pi, a Jetson, and a PC with neither."""

from __future__ import annotations

from pathlib import Path

import pytest

from flight.dictionary import load_dictionary
from hil.board_adapters import (
    FREQ_CAPPED,
    THROTTLED_NOW,
    UNDERVOLTAGE,
    BoardStatus,
    read_board,
)


def put(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text + "\n", encoding="ascii")


def raspberry_pi(root: Path) -> Path:
    put(root, "sys/class/thermal/thermal_zone0/temp", "61335")
    put(root, "sys/devices/platform/soc/soc:firmware/get_throttled", "50005")  # since boot 0x5, now 0x5
    return root


def jetson(root: Path) -> Path:
    put(root, "sys/class/thermal/thermal_zone0/temp", "47500")
    dev = "sys/class/hwmon/hwmon1"
    put(root, f"{dev}/name", "ina3221")
    for ch, (label, mv, ma) in enumerate((("VDD_IN", 5080, 2870), ("VDD_CPU_GPU_CV", 5072, 1120),
                                          ("VDD_SOC", 5072, 610)), start=1):
        put(root, f"{dev}/in{ch}_label", label)
        put(root, f"{dev}/in{ch}_input", str(mv))
        put(root, f"{dev}/curr{ch}_input", str(ma))
    put(root, "sys/class/hwmon/hwmon0/name", "cpu_thermal")  # another hwmon device: ignored
    put(root, "sys/devices/gpu.0/load", "734")
    put(root, "var/lib/nvpmodel/status", "pmode:0002 fmode:quiet")
    return root


def test_raspberry_pi(tmp_path: Path) -> None:
    b = read_board(raspberry_pi(tmp_path))
    assert b.kind == "raspberry-pi" and b.cpu_temp_c == pytest.approx(61.335)
    assert b.throttled == 0x50005
    assert b.throttled & UNDERVOLTAGE and b.throttled & THROTTLED_NOW and not b.throttled & FREQ_CAPPED
    assert b.rails == () and b.board_power_w is None and b.gpu_load is None and b.power_mode is None


def test_jetson(tmp_path: Path) -> None:
    b = read_board(jetson(tmp_path))
    assert b.kind == "jetson" and b.cpu_temp_c == pytest.approx(47.5)
    assert [r.name for r in b.rails] == ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]
    assert b.board_power_w == pytest.approx(5.080 * 2.870)  # the input rail, not the sum
    assert b.gpu_load == pytest.approx(0.734) and b.power_mode == 2


def test_a_jetson_without_an_input_rail_sums_its_rails(tmp_path: Path) -> None:
    root = jetson(tmp_path)
    put(root, "sys/class/hwmon/hwmon1/in1_label", "VDD_GPU")
    b = read_board(root)
    assert b.board_power_w == pytest.approx(5.080 * 2.870 + 5.072 * 1.120 + 5.072 * 0.610)


def test_orin_gpu_load_from_devfreq(tmp_path: Path) -> None:
    root = jetson(tmp_path)
    (root / "sys/devices/gpu.0/load").unlink()
    put(root, "sys/class/devfreq/17000000.gpu/device/load", "120")
    assert read_board(root).gpu_load == pytest.approx(0.12)


def test_a_pc_has_no_board(tmp_path: Path) -> None:
    b = read_board(tmp_path)
    assert b == BoardStatus("unknown")
    assert b.hk_values()["board_present"] is False


def test_garbage_files_read_as_absent(tmp_path: Path) -> None:
    put(tmp_path, "sys/class/thermal/thermal_zone0/temp", "hot")
    put(tmp_path, "sys/devices/platform/soc/soc:firmware/get_throttled", "0xZZ")
    put(tmp_path, "sys/class/hwmon/hwmon1/name", "ina3221")
    put(tmp_path, "sys/class/hwmon/hwmon1/in1_input", "5000")  # no current: the channel is skipped
    put(tmp_path, "var/lib/nvpmodel/status", "garbage")
    b = read_board(tmp_path)
    assert (b.cpu_temp_c, b.throttled, b.rails, b.power_mode) == (None, None, (), None)


@pytest.mark.parametrize("board", [raspberry_pi, jetson])
def test_values_encode_in_board_hk(board: object, tmp_path: Path) -> None:
    b = read_board(board(tmp_path))  # type: ignore[operator]
    p = load_dictionary().packet("board_hk")
    fields = p.decode(p.encode(b.hk_values(), 0, 0)).fields
    assert fields["board_present"] is True and fields["board_kind"] == b.kind.upper().replace("-", "_")
    assert fields["cpu_temp_c"] == pytest.approx(b.cpu_temp_c, abs=0.01)
    assert fields["board_power_w"] == pytest.approx(b.board_power_w or 0.0, abs=0.01)


def test_board_health_provider_rereads_every_n_calls(tmp_path: Path) -> None:
    from hil.board_adapters import BoardHealth

    root = raspberry_pi(tmp_path)
    h = BoardHealth(root, every=3)
    assert h.present and h()["cpu_temp_c"] == pytest.approx(61.335)
    put(root, "sys/class/thermal/thermal_zone0/temp", "70000")
    assert h()["cpu_temp_c"] == pytest.approx(61.335)  # the cached reading
    assert h()["cpu_temp_c"] == pytest.approx(70.0)  # the third call re-reads
    assert not BoardHealth(tmp_path / "pc").present
