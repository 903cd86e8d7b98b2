"""The pytest plugin users load by installing skyrack: its fixtures in software in the loop, and the same
user test against a board over a link (`--hil-port`), here a board thread over the paced relay."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = '''
def test_a_short_run(skyrack_run, skyrack_mode):
    result = skyrack_run("edge-cubesat", 120.0, seed=3)
    s = result.summary
    assert s["sim_seconds"] == 120.0 and s["safe_mode_entries"] == 0 and s["violations"] == 0
    assert (result.out_dir / "downlink.cadu").exists()
    print("MODE", skyrack_mode, "FRAMES", s["frames_downlinked"], "PACKETS", s["packets_generated"])

def test_stepping(skyrack_stack):
    st = skyrack_stack("gpu-node")
    st.step(90)
    assert st.t_s == 90.0
    assert st.flight.modes.mode.name == "NOMINAL"
    assert st.flight.scheduler.running is not None
'''


def test_the_plugin_is_registered_by_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-q", "-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*MODE sil FRAMES*"])


def test_help_lists_the_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--hil-port=URL*", "*--hil-baud=N*"])


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")
def test_the_same_user_test_runs_against_a_board(pytester: pytest.Pytester, tmp_path: Path) -> None:
    from hil.fly import Board, link_config
    from hil.relay import PtyRelay
    from hil.transport import open_port

    baud = 921600
    with PtyRelay(baud=baud) as relay:
        board = Board(open_port(relay.port_b, baud), tmp_path / "state", config=link_config(relay.port_b, baud),
                      once=True)
        th = threading.Thread(target=board.run, daemon=True)
        th.start()
        pytester.makepyfile(test_user=USER_TESTS)
        result = pytester.runpytest_subprocess("-q", "-s", "--hil-port", relay.port_a, "--hil-baud", str(baud),
                                               "--hil-timeout", "20")
        th.join(10)
    result.assert_outcomes(passed=1, skipped=1)  # skyrack_stack is software in the loop only
    result.stdout.fnmatch_lines(["*MODE hil FRAMES*"])
    # and it did what skyrack run does on the same scenario and seed
    sil = pytester.runpytest_subprocess("-q", "-s", "-k", "short_run")
    hil_line = next(line for line in result.outlines if line.startswith("MODE hil") or "MODE hil" in line)
    sil_line = next(line for line in sil.outlines if "MODE sil" in line)
    assert hil_line.split("FRAMES")[1] == sil_line.split("FRAMES")[1]
