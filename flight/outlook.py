"""The scheduler's outlook (flight.scheduler.Outlook), built from the flight software's own estimates:
the power manager's state of charge, load and best array power; the onboard orbit predictor's next
eclipse and the downlink capacity of the coming day's passes; the payload manager's thermal cap; the
packet store's backlog. Nothing here reads the emulator."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

from flight.hardware import HardwareConfig
from flight.orbit import OrbitPredictor
from flight.params import Parameters
from flight.power import PowerManager, ocv_cell_v
from flight.scheduler import Outlook
from flight.sensors import Readings

NS = 1_000_000_000
DAY_NS = 86400 * NS


class CapSource(Protocol):
    @property
    def cap(self) -> int: ...

    @property
    def cap_w(self) -> float: ...


class FlightOutlook:
    def __init__(self, hw: HardwareConfig, readings: Readings, params: Parameters, power: PowerManager,
                 predictor: OrbitPredictor, payload: CapSource, backlog: Callable[[], int],
                 payload_rail: str = "load:payload",
                 products: Callable[[], tuple[float, float, int]] | None = None) -> None:
        """products: (job result bytes awaiting downlink, result octets that still fit in their store, the
        octets of a result part), None: unknown (0, no limit, 1)."""
        self.hw = hw
        self.readings = readings
        self.params = params
        self.power = power
        self.predictor = predictor
        self.payload = payload
        self.backlog = backlog
        self.products = products
        self.payload_rail = payload_rail
        self.battery_wh = hw.battery_capacity_ah * hw.battery_cells_series * ocv_cell_v(hw.battery_ocv, 0.5)
        self._dl_until_ns = -1
        self._dl_bytes = 0.0
        self._dl_window_s = 0.0
        self._array_w: float | None = None
        self.full_soc = 0.95  # above this the battery may refuse charge and the array back off

    def array_capability(self, in_eclipse: bool) -> float:
        """What the array can give in sunlight. While the battery discharges in sunlight, or charges below
        full, the bus takes all the array gives, so the measured power is the capability (a lost string
        shows at once); with a full battery the array backs off, so the best seen stands."""
        rail = self.readings.rails.get("array")
        soc = self.power.soc_estimate()
        if not in_eclipse and rail is not None:
            now = rail.power_w
            i = self.power.battery_current_a
            saturated = (i is not None and i < 0) or (soc is not None and soc < self.full_soc)
            if saturated or self._array_w is None:
                self._array_w = now
            else:
                self._array_w = max(self._array_w, now)
        return self._array_w if self._array_w is not None else self.power.array_best_w

    def __call__(self, t_ns: int) -> Outlook:
        ec = self.predictor.next_eclipse(t_ns)
        if ec is None:
            in_ecl, to_ecl, ecl_s = False, DAY_NS / NS, 0.0
        elif ec.entry_ns <= t_ns:
            in_ecl, to_ecl, ecl_s = True, 0.0, (ec.exit_ns - t_ns) / NS
        else:
            in_ecl, to_ecl, ecl_s = False, (ec.entry_ns - t_ns) / NS, (ec.exit_ns - ec.entry_ns) / NS
        rail = self.readings.rails.get(self.payload_rail)
        payload_w = rail.power_w if rail is not None else 0.0
        base_w = max(self.power.load_w - payload_w, 0.0)
        if t_ns >= self._dl_until_ns:  # the coming passes (the predictor's cached window): every 10 minutes
            fc = self.predictor.forecast(t_ns)
            self._dl_bytes = fc.downlink_bits(t_ns, fc.end_ns) / 8
            self._dl_window_s = (fc.end_ns - t_ns) / NS
            self._dl_until_ns = t_ns + 600 * NS
        return Outlook(t_ns, self.power.soc_estimate(), 1.0 - self.params["dod_max"], self.battery_wh,
                       self.array_capability(in_ecl), base_w, in_ecl, to_ecl, ecl_s, self.payload.cap,
                       self.backlog(), self._dl_bytes, self.payload.cap_w, self._dl_window_s,
                       *(self.products() if self.products is not None else (0.0, math.inf, 1)))
