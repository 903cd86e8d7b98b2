"""Real-payload mode (`hil fly --real-payload`, for a Jetson): the jobs the flight software runs on its payload
also run as real processes on the board, and the board's measured power goes back to the host, which puts it
in place of the emulated payload's draw (`Emulator.set_payload_power_override`).

- Jobs: after each executive tick the board looks at the payload manager's running job. A new job starts
  the payload command (default: `python -m hil.burner`, a matrix-multiply loop) with the job's id and its
  remaining duration; the process is stopped (SIGTERM, then SIGKILL) when the job ends, is preempted or the
  payload is powered down. The command is a template: ``{job_id}`` and ``{seconds}`` are replaced; seconds
  is the job's remaining work (accelerator seconds) times `time_scale` (real-time mode: 1 / speed by default,
  so a job lasts as long in wall time as in simulated time), a cap in case the board misses the end.
- Power: read each tick from the INA3221 rails in sysfs (`hil.board_adapters.ina3221_rails`): the rail named
  by `rail`, else the board's input power (`BoardStatus.board_power_w`). It goes to the host in the tick's
  TICK_DONE as `payload_mw`; -1 when nothing can be read (the host then keeps the model's power).

The emulator's payload model still decides how fast the job's work advances (the flight software sees the
job's progress from the emulated controller); only the electrical draw, hence the battery, the bus and the
payload node's heating, is the measured one.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hil.board_adapters import INPUT_RAILS, ina3221_rails

__all__ = ["DEFAULT_COMMAND", "RealPayload"]

DEFAULT_COMMAND = f"{shlex.quote(sys.executable)} -m hil.burner --seconds {{seconds}}"


class RealPayload:
    def __init__(self, command: str | Sequence[str] = DEFAULT_COMMAND, sysfs_root: str | Path = "/", *,
                 rail: str | None = None, time_scale: float = 1.0,
                 log: Callable[[str], None] = lambda _: None) -> None:
        self.command = list(command) if not isinstance(command, str) else shlex.split(command)
        if not self.command:
            raise ValueError("the payload command is empty")
        self.root = Path(sysfs_root)
        self.rail = rail
        self.time_scale = time_scale
        self.fixed_scale = False  # True: real-time mode keeps time_scale rather than setting 1 / speed
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.job_id: int | None = None
        self.jobs_started = 0
        self.jobs_stopped = 0
        self.last_power_w: float | None = None

    # ------------------------------------------------------------------ power

    def power_w(self) -> float | None:
        """The measured power now (see the module docstring), or None."""
        rails = ina3221_rails(self.root)
        if self.rail is not None:
            p = next((r.power_w for r in rails if r.name == self.rail), None)
        else:
            p = next((r.power_w for r in rails if r.name in INPUT_RAILS), None)
            if p is None and rails:
                p = sum(r.power_w for r in rails)
        self.last_power_w = p
        return p

    def power_mw(self) -> int:
        p = self.power_w()
        return -1 if p is None else max(0, round(p * 1000))

    # ------------------------------------------------------------------ jobs

    def sync(self, job: tuple[int, float] | None) -> None:
        """The flight software's running job now: (job id, remaining work in accelerator seconds), or None."""
        if self.proc is not None and self.proc.poll() is not None:
            self.proc = None  # it ran its course
        if job is None:
            self.stop()
            return
        job_id, remaining_s = job
        if job_id == self.job_id:
            return
        self.stop()
        seconds = max(remaining_s, 0.0) * self.time_scale
        argv = [a.replace("{job_id}", str(job_id)).replace("{seconds}", f"{seconds:.3f}") for a in self.command]
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        except OSError as exc:
            self.log(f"real payload: cannot start {argv[0]}: {exc}")
            self.proc = None
        else:
            self.jobs_started += 1
        self.job_id = job_id

    def stop(self) -> None:
        proc, self.proc, self.job_id = self.proc, None, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self.jobs_stopped += 1

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
