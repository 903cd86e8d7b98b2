"""Real-time mode's clock on the board: simulated time from the board's own monotonic clock, kept on the
host's simulated time by NTP-style exchanges over the link (TIME messages, `hil.messages.TimeSync`).

The host paces simulated time to its wall clock: ``T = T0 + speed x (host wall time since T0)``. The board
models the same line on its own monotonic clock ``m``: ``now = speed x m + theta``, and estimates ``theta``:

1. The board sends TIME(request) stamped ``t1`` (its monotonic clock). The host answers at once with its
   simulated time ``T`` and the stamp. The board stamps the reply's arrival ``t4``.
2. Assuming the request and the reply took equally long, the host read ``T`` at the board's ``(t1 + t4) / 2``:
   the sample is ``theta_i = T - speed x (t1 + t4) / 2``, uncertain by at most ``speed x (t4 - t1) / 2``
   (all of the round trip spent on one way).
3. Clock filter: of the last `window` samples the one with the shortest round trip wins (the least queuing
   behind other frames, retransmissions included, hence the least asymmetry), as in NTP.
4. The first sample sets the clock. Later corrections are slewed: the clock runs up to `max_slew` faster or
   slower than `speed` until it agrees with the estimate, so it never jumps, never runs backwards, and the
   executive's ticks stay evenly spaced; an error above `step_ns` (a host restart, a board suspended) is
   stepped instead (forward at once; backwards by holding the clock until time catches up).

A rate error of the board's oscillator (tens of ppm) shows as a slow drift of ``theta`` that the periodic
samples keep correcting; it is far below the round-trip uncertainty at the sync interval used.

Statistics (`SyncStats`), reported by the board in its per-tick TICK_DONE: the offset at each exchange, how
far the board's clock is from the selected sample's estimate of the host's time (as NTP reports it; the true
error is within ``speed x rtt / 2`` of it, rtt the selected sample's round trip); the largest absolute offset
once synchronized; the jitter (root mean square of the differences between successive offsets, NTP's
measure); the round trips (wall time).

This class is the only board code in real-time mode that reads the monotonic clock (`local_ns`).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

__all__ = ["SyncStats", "SyncedClock"]

NS = 1_000_000_000


@dataclass
class SyncStats:
    samples: int = 0
    offset_ns: int = 0  # the last exchange's offset (simulated ns): board clock minus host time
    offset_max_ns: int = 0  # the largest |offset| once settled (after the first `settle_samples` exchanges)
    jitter_ns: int = 0  # RMS of successive offset differences, once settled
    rtt_ns: int = 0  # the last round trip, wall ns
    rtt_min_ns: int = 0
    steps: int = 0  # corrections applied as steps rather than slews
    _sq: float = 0.0
    _n_diff: int = 0


class SyncedClock:
    """The board's clock in real-time mode (flight.interfaces Clock), see the module docstring."""

    def __init__(self, speed: float = 1.0, *, window: int = 8, max_slew: float = 0.05,
                 step_ns: int = NS, settle_samples: int = 3) -> None:
        if not speed > 0 or not math.isfinite(speed):
            raise ValueError(f"speed factor must be > 0, got {speed}")
        self.speed = float(speed)
        self.window = max(1, window)
        self.max_slew = max_slew
        self.step_ns = step_ns
        self.settle_samples = settle_samples
        self.stats = SyncStats()
        self._samples: deque[tuple[int, int, float]] = deque(maxlen=self.window)  # (rtt wall ns, -number, theta)
        self._theta = 0.0  # the applied offset at _anchor (simulated ns)
        self._target = 0.0  # the estimate it slews to
        self._anchor = self.local_ns()  # local time at which _theta was last brought up to date
        self._last = -(1 << 63)
        self.started = False

    # ------------------------------------------------------------------ the clock

    @staticmethod
    def local_ns() -> int:
        """The board's own monotonic clock (wall ns): stamps for exchanges and link timeouts."""
        return time.monotonic_ns()

    def start(self, t_ns: int) -> None:
        """Simulated time is t_ns now (until the first sample says better)."""
        now = self.local_ns()
        self._theta = self._target = t_ns - self.speed * now
        self._anchor = now
        self._last = -(1 << 63)
        self._samples.clear()
        self.stats = SyncStats()
        self.started = True

    def _theta_at(self, local: int) -> float:
        """The applied offset at local time `local` (slewing towards the target), and bring it up to date."""
        if local > self._anchor:
            gap = self._target - self._theta
            room = self.max_slew * self.speed * (local - self._anchor)
            self._theta += gap if abs(gap) <= room else math.copysign(room, gap)
            self._anchor = local
        return self._theta

    def _sim(self, local: int) -> int:
        return int(self.speed * local + self._theta_at(local))

    def now_ns(self) -> int:
        """Simulated time now, never decreasing."""
        t = self._sim(self.local_ns())
        if t < self._last:
            return self._last
        self._last = t
        return t

    def wall_ns_until(self, t_ns: int) -> int:
        """Wall nanoseconds until the clock reads t_ns (0 if it does), at the present rate."""
        return max(0, math.ceil((t_ns - self.now_ns()) / self.speed))

    # ------------------------------------------------------------------ synchronization

    def sample(self, t1_local: int, t_host_ns: int, t4_local: int) -> None:
        """One exchange: request sent at t1_local, reply (the host's time t_host_ns) received at t4_local."""
        rtt = t4_local - t1_local
        if rtt < 0:
            return
        st = self.stats
        theta = t_host_ns - self.speed * (t1_local + t4_local) / 2
        st.samples += 1
        self._samples.append((rtt, -st.samples, theta))  # the shortest round trip, the newest of equals
        st.rtt_ns = rtt
        st.rtt_min_ns = rtt if st.samples == 1 else min(st.rtt_min_ns, rtt)
        best = min(self._samples)[2]
        applied = self._theta_at(self.local_ns())
        offset = applied - best  # the clock against the selected (shortest round trip) sample
        if st.samples > self.settle_samples:  # once the first corrections are in
            d = offset - st.offset_ns
            st._sq += d * d
            st._n_diff += 1
            st.jitter_ns = int(math.sqrt(st._sq / st._n_diff))
            st.offset_max_ns = max(st.offset_max_ns, abs(int(offset)))
        st.offset_ns = int(offset)
        self._target = best
        if st.samples == 1 or abs(offset) > self.step_ns:
            if st.samples > 1:
                st.steps += 1
            self._theta = best  # a step (now_ns holds rather than run backwards)
