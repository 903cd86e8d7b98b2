"""Skyrack emulator: a C plant (orbit, Sun, eclipse, power, thermal, payload)
and an I2C bus of real sensor chips, configured from scenarios."""

from emulator.emulator import Emulator
from emulator.scenario import Scenario, ScenarioError, load, preset_names

__all__ = ["Emulator", "Scenario", "ScenarioError", "load", "preset_names"]
