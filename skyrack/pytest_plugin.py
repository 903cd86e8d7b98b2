"""A pytest plugin for users' own flight-software tests (registered by the `pytest11` entry point, so it is
active wherever skyrack is installed).

Fixtures:

- `skyrack_run`: a function `(scenario="edge-cubesat", duration_s=600.0, *, seed=None, policy="skyrack",
  faults=()) -> RunResult` that runs the closed loop and returns its summary and output directory (in the
  test's tmp_path). By default the flight software runs here against the emulator (`skyrack.sil.run`); with
  `--hil-port URL` the same call serves the emulator over that link to a board running `skyrack hil fly`
  (`hil.host.Host`), so one test checks both.
- `skyrack_stack`: the emulator and one flight software stack wired together in this process, for tests
  that step them tick by tick (`stack.step(seconds)`), look at components and inject faults. Software in the
  loop only: under `--hil-port` a test that asks for it is skipped.
- `skyrack_mode`: "sil" or "hil".

Options: `--hil-port URL` (a device path, socket://, rfc2217://), `--hil-baud N` (default 115200),
`--hil-timeout S` (how long to wait for the board, default 30).

    def test_no_safe_mode_through_a_pass(skyrack_run):
        result = skyrack_run("edge-cubesat", 600)
        assert result.summary["safe_mode_entries"] == 0
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

NS = 1_000_000_000


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("skyrack", "Skyrack closed-loop fixtures")
    group.addoption("--hil-port", default=None, metavar="URL",
                    help="run skyrack_run against a board running `skyrack hil fly` on this link")
    group.addoption("--hil-baud", type=int, default=115200, metavar="N", help="the link's baud rate (default 115200)")
    group.addoption("--hil-timeout", type=float, default=30.0, metavar="S",
                    help="seconds to wait for the board (default 30)")


@pytest.fixture
def skyrack_mode(request: pytest.FixtureRequest) -> str:
    return "hil" if request.config.getoption("--hil-port") else "sil"


@pytest.fixture
def skyrack_run(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Any]:
    port_url: str | None = request.config.getoption("--hil-port")
    baud: int = request.config.getoption("--hil-baud")
    timeout_s: float = request.config.getoption("--hil-timeout")
    runs = [0]

    def run(scenario: str | Path = "edge-cubesat", duration_s: float = 600.0, *, seed: int | None = None,
            policy: str = "skyrack", faults: tuple[tuple[float, Any], ...] = ()) -> Any:
        runs[0] += 1
        out = tmp_path / f"run{runs[0]}"
        if port_url is None:
            from emulator.scenario import load
            from skyrack.sil import run as sil_run

            return sil_run(load(scenario), duration_s, out, seed=seed, policy=policy, faults=faults)
        from hil.fly import link_config
        from hil.host import Host
        from hil.transport import open_port

        port = open_port(port_url, baud)
        host = Host(port, config=link_config(port_url, baud), timeout_s=timeout_s, port_name=port_url)
        try:
            host.connect()
            return host.run(scenario, duration_s, out, seed=seed, policy=policy, faults=faults)
        finally:
            host.close("test over")
            port.close()

    return run


@dataclass
class Stack:
    """The emulator and a flight software stack in lockstep, stepped by the test; the scenario's workload
    jobs are submitted at their release times, as `skyrack run` does."""

    emu: Any  # emulator.Emulator
    flight: Any  # skyrack.sil.FlightStack
    jobs: tuple[Any, ...] = ()  # emulator.workload.WorkloadJob, in release order
    _next_job: int = 0

    def step(self, seconds: float = 1.0) -> None:
        """Run the closed loop for `seconds` of simulated time, one executive tick at a time."""
        from skyrack.sil import job_spec

        end = self.emu.t_ns + round(seconds * NS)
        while self.flight.ex.next_tick_ns <= end:
            t = self.flight.ex.next_tick_ns
            while self._next_job < len(self.jobs) and self.jobs[self._next_job].release_s * NS <= t:
                if self.flight.scheduler is not None:
                    self.flight.scheduler.submit(t, job_spec(self.jobs[self._next_job]))
                self._next_job += 1
            self.emu.advance(t - self.emu.t_ns)
            self.flight.ex.tick(t)

    @property
    def t_s(self) -> float:
        return float(self.emu.t_ns) / NS


@pytest.fixture
def skyrack_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    if request.config.getoption("--hil-port"):
        pytest.skip("skyrack_stack steps the flight software in this process: software in the loop only")
    made: list[Stack] = []

    def make(scenario: str | Path = "gpu-node", *, seed: int | None = None, policy: str = "skyrack") -> Stack:
        from emulator import Emulator
        from emulator.scenario import load
        from emulator.workload import generate
        from flight.telemetry.store import FsyncPolicy
        from skyrack.sil import KEY_FILE, FlightStack, hardware_from_scenario, write_uplink_key

        sc = load(scenario)
        emu = Emulator(sc, seed=seed)
        out = tmp_path / f"stack{len(made) + 1}"
        write_uplink_key(out / KEY_FILE)
        fs = FlightStack(emu.buses, emu.radio, emu.scenario, hardware_from_scenario(emu.scenario), out,
                         FsyncPolicy.NEVER, 0, out / KEY_FILE, policy)
        st = Stack(emu, fs, generate(sc.workload) if sc.workload is not None else ())
        made.append(st)
        return st

    yield make
    for st in made:
        st.flight.close_stores()
