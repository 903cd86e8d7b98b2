"""A scenario's command plan, uplinked in contacts and executed; authentication off only by choice."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from emulator.scenario import ScenarioError, loads_toml
from skyrack.sil import run

GPU = (resources.files("emulator") / "presets" / "gpu-node.toml").read_text(encoding="utf-8")
PLAN = """
[[command]]
at_s = 100.0
name = "switch_load"
args = { load = "battery_heater", on = true }

[[command]]
at_s = 120.0
name = "set_mode"
args = { mode = "STANDBY" }
"""


def test_the_plan_is_validated_against_the_command_dictionary() -> None:
    sc = loads_toml(GPU + PLAN)
    assert [c.name for c in sc.command_plan] == ["switch_load", "set_mode"]
    with pytest.raises(ScenarioError, match=r"^command\[0\]\.name: "):
        loads_toml(GPU + '\n[[command]]\nat_s = 1.0\nname = "reboot_everything"\n')
    with pytest.raises(ScenarioError, match=r"^command\[0\]\.args: "):
        loads_toml(GPU + '\n[[command]]\nat_s = 1.0\nname = "set_mode"\nargs = { mode = "PANIC" }\n')
    with pytest.raises(ScenarioError, match=r"^command\[0\]\.at_s: must be >= 0"):
        loads_toml(GPU + '\n[[command]]\nat_s = -1.0\nname = "ping"\n')


def test_planned_commands_execute_in_the_next_contact(tmp_path: Path) -> None:
    s = run(loads_toml(GPU + PLAN), 1700.0, tmp_path).summary
    log = (tmp_path / "timeline.log").read_text()
    assert "MODE_CHANGE INFO (2, 1) telecommand" in log  # at the first pass (1525 s)
    assert s["events"].get("TC_REJECTED", 0) == 0
    assert s["mode_time_s"]["STANDBY"] > 150


def test_authentication_off_is_explicit_and_warned_every_orbit(tmp_path: Path) -> None:
    sc = loads_toml(GPU + PLAN + "\n[flight]\nauthenticate = false\n")
    assert not sc.authenticate and loads_toml(GPU).authenticate
    s = run(sc, 12000.0, tmp_path).summary
    log = (tmp_path / "timeline.log").read_text()
    warnings = [line for line in log.splitlines() if "uplink auth OFF" in line]
    assert len(warnings) == 3  # at boot, then one per 95.7-minute orbit
    assert "MODE_CHANGE INFO (2, 1) telecommand" in log  # clear commands are accepted when configured so
    assert s["events"]["AUTH_DISABLED"] == 3 and s["violations"] == 0
