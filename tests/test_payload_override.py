"""Emulator.set_payload_power_override: a measured payload power (HIL real-payload mode) replaces the model's
draw in the power and thermal balance, while the model still runs the job."""

from __future__ import annotations

import pytest
from test_payload import start_job, write

from emulator import Emulator, load

NS = 1_000_000_000


def _running() -> Emulator:
    emu = Emulator(load("gpu-node"))
    write(emu, 0x03, 2)  # mode 2
    start_job(emu, 7, 10_000_000)
    return emu


def test_override_is_off_by_default_and_validated() -> None:
    emu = Emulator(load("gpu-node"))
    assert emu.payload_power_override is None
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            emu.set_payload_power_override(bad)


def test_override_replaces_the_bus_load_and_heats_the_payload_node() -> None:
    model, measured = _running(), _running()
    for emu in (model, measured):
        emu.advance(NS)  # the mode and the job take effect
    k = model.scenario.load_index("payload")
    node = model.scenario.node_index("payload")
    model_w = float(model.state["load_power_w"][k])
    heat_c = model.scenario.nodes[node].capacitance_j_per_k
    override_w = model_w + 150.0
    measured.set_payload_power_override(override_w)
    assert measured.payload_power_override == override_w
    e0 = {e: (float(e.state["e_load_j"]), float(e.state["e_payload_j"])) for e in (model, measured)}
    dt = 5
    for emu in (model, measured):
        emu.advance(dt * NS)
    ms, ss = model.state, measured.state
    assert float(ss["load_power_w"][k]) == pytest.approx(override_w)
    assert float(ss["payload_power_w"]) == pytest.approx(override_w)
    assert float(ss["load_total_w"]) - float(ms["load_total_w"]) == pytest.approx(150.0, rel=1e-9)
    # the energy counters: exactly the extra draw over the interval
    d_load = (float(ss["e_load_j"]) - e0[measured][0]) - (float(ms["e_load_j"]) - e0[model][0])
    assert d_load == pytest.approx(150.0 * dt, rel=1e-9)
    assert float(ss["e_payload_j"]) - e0[measured][1] == pytest.approx(override_w * dt, rel=1e-9)
    # the node takes the extra heat: over a few seconds conduction moves little of it
    d_temp = float(ss["node_temp_k"][node]) - float(ms["node_temp_k"][node])
    assert d_temp == pytest.approx(150.0 * dt / heat_c, rel=0.2)
    # the job still advances at the model's throughput
    assert float(ss["job_done_s"]) == pytest.approx(float(ms["job_done_s"]))
    # back to the model
    measured.set_payload_power_override(None)
    measured.advance(NS)
    model.advance(NS)
    assert float(measured.state["load_power_w"][k]) == pytest.approx(float(model.state["load_power_w"][k]))


def test_override_applies_only_while_the_payload_is_switched_on() -> None:
    emu = Emulator(load("gpu-node"))
    k = emu.scenario.load_index("payload")
    emu.set_payload_power_override(42.0)
    emu.advance(NS)
    assert float(emu.state["load_power_w"][k]) == pytest.approx(42.0)
    emu._plant.set_field("load_cmd", 0.0, k)  # the load switch opens (as the GPIO expander does it)
    e0 = float(emu.state["e_payload_j"])
    emu.advance(NS)
    assert float(emu.state["load_power_w"][k]) == 0.0
    assert float(emu.state["e_payload_j"]) == e0
