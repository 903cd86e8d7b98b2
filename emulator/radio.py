"""The spacecraft radio as the flight software sees it, and its ground side.

The plant decides when a ground station sees the spacecraft and at what bit
rate, and accumulates the link capacity (bits) while it does. Frames queued
with `send` leave at that rate during contacts and arrive at the ground sink;
frames the ground uplinks arrive through `receive` at the uplink rate.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Delivered:
    t_ns: int
    station: int
    frame: bytes


class EmulatedRadio:
    def __init__(self, sink: Callable[[Delivered], None] | None = None) -> None:
        self._tx: deque[bytes] = deque()
        self._rx_pending: deque[bytes] = deque()
        self._rx_ready: list[bytes] = []
        self._down_budget = 0.0
        self._up_budget = 0.0
        self._contact = False
        self._bps = 0.0
        self.delivered: list[Delivered] = []
        self._sink = sink if sink is not None else self.delivered.append
        self.frames_sent = 0
        self.bytes_sent = 0

    # flight side -----------------------------------------------------------
    def in_contact(self) -> bool:
        return self._contact

    def downlink_bps(self) -> float:
        return self._bps if self._contact else 0.0

    def send(self, frame: bytes) -> None:
        self._tx.append(bytes(frame))

    def receive(self) -> list[bytes]:
        out, self._rx_ready = self._rx_ready, []
        return out

    def has_queued(self) -> bool:
        return bool(self._tx)

    def queued_bytes(self) -> int:
        return sum(len(f) for f in self._tx)

    # ground side -----------------------------------------------------------
    def uplink(self, frame: bytes) -> None:
        """The ground transmits a frame; it arrives during a contact."""
        self._rx_pending.append(bytes(frame))

    # emulator side ---------------------------------------------------------
    def update(self, t_ns: int, contact_station: int, downlink_bps: float, new_down_bits: float,
               new_up_bits: float) -> None:
        """Called after each plant advance with the capacity gained in it."""
        self._contact = contact_station >= 0
        self._bps = downlink_bps
        self._down_budget += new_down_bits
        while self._tx and len(self._tx[0]) * 8 <= self._down_budget:
            frame = self._tx.popleft()
            self._down_budget -= len(frame) * 8
            self.frames_sent += 1
            self.bytes_sent += len(frame)
            self._sink(Delivered(t_ns, contact_station, frame))
        if not self._tx or not self._contact:
            self._down_budget = 0.0  # capacity cannot be saved for later
        self._up_budget += new_up_bits
        while self._rx_pending and len(self._rx_pending[0]) * 8 <= self._up_budget:
            frame = self._rx_pending.popleft()
            self._up_budget -= len(frame) * 8
            self._rx_ready.append(frame)
        if not self._rx_pending or not self._contact:
            self._up_budget = 0.0
