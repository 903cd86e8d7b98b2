"""The one wrapper around the compiled plant (emulator._plant).

This module alone imports the cffi `lib`. It turns C return codes into
Python exceptions and exposes the plant state as numpy views of C memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from emulator._plant import ffi, lib
from emulator.scenario import Scenario

MAX_LOG_VARS = lib.SK_MAX_LOG_VARS
SK_OK: int = lib.SK_OK


class PlantError(RuntimeError):
    """The plant refused an operation."""


class NackError(PlantError):
    """No device acknowledged the address (absent, or a NACK fault)."""


class TransferError(PlantError):
    """A transfer the device cannot serve (a read longer than its register)."""


_ERRORS: dict[int, tuple[type[PlantError], str]] = {
    lib.SK_ERR_NACK: (NackError, "no acknowledge"),
    lib.SK_ERR_READ_LEN: (TransferError, "read longer than the register"),
    lib.SK_ERR_ARG: (PlantError, "invalid argument"),
    lib.SK_ERR_CONFIG: (PlantError, "configuration rejected by the plant"),
    lib.SK_ERR_RANGE: (PlantError, "time outside the orbit table"),
    lib.SK_ERR_LOG_FULL: (PlantError, "log buffer full"),
}


def _check(rc: int, what: str) -> None:
    if rc != lib.SK_OK:
        cls, text = _ERRORS.get(rc, (PlantError, f"error {rc}"))
        raise cls(f"{what}: {text}")


def c_config(s: Scenario) -> dict[str, Any]:
    """The scenario as an initializer of the C `sk_config` struct."""
    o = s.orbit
    r = math.radians
    th = {
        "n_nodes": len(s.nodes),
        "capacitance_j_k": [n.capacitance_j_per_k for n in s.nodes],
        "initial_k": [n.initial_c + 273.15 for n in s.nodes],
        "n_conductors": len(s.conductors),
        "cond_a": [c.a for c in s.conductors],
        "cond_b": [c.b for c in s.conductors],
        "cond_w_k": [c.conductance_w_per_k for c in s.conductors],
        "n_radlinks": len(s.radiation_links),
        "rad_a": [c.a for c in s.radiation_links],
        "rad_b": [c.b for c in s.radiation_links],
        "rad_m2": [c.area_m2 for c in s.radiation_links],
        "n_surfaces": len(s.surfaces),
        "surf_node": [f.node for f in s.surfaces],
        "surf_normal_b": [list(f.normal) for f in s.surfaces],
        "surf_area_m2": [f.area_m2 for f in s.surfaces],
        "surf_absorptivity": [f.absorptivity for f in s.surfaces],
        "surf_emissivity": [f.emissivity for f in s.surfaces],
    }
    b = s.battery
    gpio_dev = {k: d for k, d in enumerate(s.devices)}
    payload: dict[str, Any] = {"present": 0}
    if s.payload is not None:
        p = s.payload
        payload = {
            "present": 1, "load": p.load, "node": p.node, "n_modes": len(p.modes),
            "mode_power_w": [m.power_w for m in p.modes],
            "mode_throughput": [m.throughput for m in p.modes],
            "junction_k_per_w": p.junction_k_per_w, "throttle_c": p.throttle_c,
            "shutdown_c": p.shutdown_c, "recover_c": p.recover_c,
        }
    return {
        "env": {
            "solar_flux_w_m2": s.environment.solar_flux_w_m2, "albedo": s.environment.albedo,
            "earth_ir_w_m2": s.environment.earth_ir_w_m2, "t_space_k": s.environment.space_temperature_k,
        },
        "orbit": {
            "kind": int(o.kind), "a_km": o.semi_major_axis_km, "e": o.eccentricity, "i_rad": r(o.inclination_deg),
            "raan_rad": r(o.raan_deg), "argp_rad": r(o.arg_perigee_deg), "m0_rad": r(o.mean_anomaly_deg),
            "j2": int(o.j2), "epoch_jd_utc": s.epoch_jd_utc,
        },
        "attitude": {"mode": int(s.attitude.mode), "q_body_to_eci": list(s.attitude.quaternion)},
        "n_stations": len(s.stations),
        "stations": [
            {"lat_rad": r(g.latitude_deg), "lon_rad": r(g.longitude_deg), "alt_km": g.altitude_m / 1000.0,
             "min_elevation_rad": r(g.min_elevation_deg), "downlink_bps": g.downlink_bps,
             "uplink_bps": g.uplink_bps}
            for g in s.stations
        ],
        "n_panels": len(s.panels),
        "panels": [
            {"normal_b": list(pa.normal), "area_m2": pa.area_m2, "efficiency": pa.efficiency,
             "packing": pa.packing, "mppt_efficiency": pa.mppt_efficiency, "degradation": pa.degradation,
             "strings": pa.strings, "node": pa.node}
            for pa in s.panels
        ],
        "battery": {
            "series": b.cells_series, "parallel": b.cells_parallel, "cell_capacity_ah": b.cell_capacity_ah,
            "n_ocv": len(b.ocv), "ocv_soc": [x for x, _ in b.ocv], "ocv_cell_v": [v for _, v in b.ocv],
            "n_r0": len(b.r0_ohm), "r0_temp_c": [x for x, _ in b.r0_ohm], "r0_cell_ohm": [v for _, v in b.r0_ohm],
            "coulombic_efficiency": b.coulombic_efficiency, "max_charge_a": b.max_charge_a,
            "max_discharge_a": b.max_discharge_a, "capacity_fade": b.capacity_fade,
            "initial_soc": b.initial_soc, "node": b.node,
        },
        "bus": {"undervoltage_v": s.bus.undervoltage_v, "undervoltage_reset_v": s.bus.undervoltage_reset_v,
                "undervoltage_hold_s": s.bus.undervoltage_hold_s},
        "n_loads": len(s.loads),
        "loads": [
            {"kind": int(ld.kind), "power_w": ld.power_w, "tx_power_w": ld.tx_power_w, "node": ld.node,
             "gpio_bus": gpio_dev[ld.gpio].bus if ld.gpio >= 0 else -1,
             "gpio_addr": gpio_dev[ld.gpio].address if ld.gpio >= 0 else -1,
             "gpio_pin": ld.pin, "initially_on": int(ld.initially_on)}
            for ld in s.loads
        ],
        "thermal": th,
        "payload": payload,
        "n_devices": len(s.devices),
        "devices": [
            {"kind": int(d.chip), "bus": d.bus, "addr": d.address, "source": int(d.source), "index": d.index,
             "shunt_ohm": d.shunt_ohm, "noise": d.noise}
            for d in s.devices
        ],
        "seed": s.seed,
        "slow_period_ns": 60_000_000_000,
    }


def _state_dtype() -> np.dtype[Any]:
    """A numpy structured dtype laid over the C sk_state."""
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    for fname, f in ffi.typeof("sk_state").fields:
        t = f.type
        names.append(fname)
        offsets.append(f.offset)
        if t.kind == "array":
            formats.append((np.float64, (t.length,)))
        elif t.cname == "int64_t":
            formats.append(np.int64)
        else:
            formats.append(np.float64)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                     "itemsize": ffi.sizeof("sk_state")})


STATE_DTYPE = _state_dtype()


def state_slots() -> dict[str, int]:
    """Log variable names (`field` or `field[k]`) to their double slot in sk_state."""
    out: dict[str, int] = {}
    for fname, f in ffi.typeof("sk_state").fields:
        slot = f.offset // 8
        if fname == "t_ns":
            continue
        if f.type.kind == "array":
            for k in range(f.type.length):
                out[f"{fname}[{k}]"] = slot + k
        else:
            out[fname] = slot
    return out


class RegisterReads:
    """One list of register reads as the C arrays sk_bus_read_many takes, filled once (`Plant.prepare_reads`).
    `ops` keeps the list it was made from, `key` its contents then."""

    __slots__ = ("addr", "args", "bus", "bus_number", "key", "len", "n", "ops", "out", "rc", "reg")

    def __init__(self, bus: int, ops: Sequence[tuple[int, int, int]]) -> None:
        n = len(ops)
        size = max(n, 1)
        self.ops = ops
        self.key = tuple(ops)
        self.n = n
        self.bus_number = bus
        self.bus: Any = ffi.new("int[]", [bus] * size)
        self.addr: Any = ffi.new("int[]", [a for a, _, _ in ops] or [0])
        self.reg: Any = ffi.new("int[]", [r for _, r, _ in ops] or [0])
        self.len: Any = ffi.new("int[]", [w for _, _, w in ops] or [0])
        self.out: Any = ffi.new("uint16_t[]", size)
        self.rc: Any = ffi.new("int[]", size)
        self.args = (n, self.bus, self.addr, self.reg, self.len, self.out, self.rc)  # sk_bus_read_many's, after p

    def codes(self) -> list[int]:
        """The return code of each read of the last call."""
        return ffi.unpack(self.rc, self.n)  # type: ignore[no-any-return]


class Plant:
    """An owned sk_plant: configure, advance, read state, talk on its buses."""

    def __init__(self, scenario: Scenario) -> None:
        ptr = lib.sk_plant_new()
        if ptr == ffi.NULL:
            raise MemoryError("sk_plant_new failed")
        self._p = ffi.gc(ptr, lib.sk_plant_free)
        self._cfg = ffi.new("sk_config *", c_config(scenario))
        self._rbuf = ffi.new("uint8_t[]", 256)
        self._log = ffi.new("sk_log *")
        self._log_buf: npt.NDArray[np.float64] | None = None  # rows C writes into, reused across advances
        self._log_ptr: Any = ffi.NULL
        self._log_slots: tuple[int, ...] = ()
        self._log_rows = self._log_cols = 0  # the shape of _log_buf
        self._log_none = np.empty((0, 0), dtype=np.float64)  # what an advance logging no row returns (read-only)
        state_ptr = lib.sk_plant_state(self._p)
        self.state = np.frombuffer(ffi.buffer(state_ptr, ffi.sizeof("sk_state")), dtype=STATE_DTYPE)[0]
        self._state_ptr = state_ptr
        self.c: Any = state_ptr  # the C struct itself, for fast scalar access

    def configure(self) -> None:
        _check(lib.sk_plant_configure(self._p, self._cfg), "configure")

    def set_orbit_table(self, t0_ns: int, step_ns: int, pv: npt.NDArray[np.float64]) -> None:
        arr = np.ascontiguousarray(pv, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 6:
            raise ValueError("orbit table must be n x 6")
        _check(lib.sk_plant_set_orbit_table(self._p, t0_ns, step_ns, arr.shape[0],
                                            ffi.cast("double *", arr.ctypes.data)), "orbit table")

    @property
    def t_ns(self) -> int:
        return int(self._state_ptr.t_ns)

    def advance(self, dt_ns: int, substep_ns: int) -> None:
        _check(lib.sk_plant_advance(self._p, dt_ns, substep_ns, ffi.NULL), "advance")

    def advance_logged(self, dt_ns: int, substep_ns: int, slots: list[int], interval_ns: int,
                       next_ns: int) -> tuple[npt.NDArray[np.float64], int]:
        """Advance while C writes rows (t_s, slots...) every interval_ns; returns
        the rows written (an array of its own; a shared read-only empty one when none) and the time of
        the next row."""
        n = len(slots)
        rows = dt_ns // interval_ns + 2
        log = self._log
        key = tuple(slots)
        if key != self._log_slots:
            log.n_vars = n
            for k, s in enumerate(slots):
                log.var_index[k] = s
            self._log_slots = key
        if rows > self._log_rows or n + 1 != self._log_cols:
            buf = self._log_buf = np.empty((max(rows, 64), n + 1), dtype=np.float64)
            self._log_rows, self._log_cols = buf.shape
            self._log_ptr = ffi.cast("double *", buf.ctypes.data)
            self._log_none = np.empty((0, n + 1), dtype=np.float64)
            self._log_none.flags.writeable = False
        log.interval_ns = interval_ns
        log.next_ns = next_ns
        log.buf = self._log_ptr
        log.capacity_rows = rows
        log.rows = 0
        rc = lib.sk_plant_advance(self._p, dt_ns, substep_ns, log)
        written = log.rows
        nxt = int(log.next_ns)
        log.buf = ffi.NULL
        if rc != lib.SK_OK:
            _check(rc, "advance")
        if not written:
            return self._log_none, nxt
        assert self._log_buf is not None
        return self._log_buf[:written].copy(), nxt

    def transfer(self, bus: int, addr: int, write: bytes, read_len: int) -> bytes:
        if not 0 <= addr <= 0x7F:
            raise ValueError(f"I2C address out of range: {addr!r}")
        if not 0 <= read_len <= 256 or len(write) > 256:
            raise TransferError(f"transfer length out of range (write {len(write)}, read {read_len})")
        rc = lib.sk_bus_transfer(self._p, bus, addr, write, len(write), self._rbuf, read_len)
        if rc != lib.SK_OK:
            _check(rc, f"bus {bus} address 0x{addr:02x}")
        return ffi.buffer(self._rbuf, read_len)[:]  # type: ignore[no-any-return]

    def transfer_parts(self) -> tuple[Any, Any, Any, Any]:
        """(sk_bus_transfer, the plant pointer, the reply buffer, a 256-octet view of it) for the bus
        adapter's fast path: call(p, bus, addr, write, len(write), rbuf, read_len) and, on SK_OK,
        view[:read_len] is the reply; on another code, raise_for() gives transfer()'s exception.
        The caller checks what transfer() checks (addr 0..0x7F, read_len 0..256, len(write) <= 256)."""
        return lib.sk_bus_transfer, self._p, self._rbuf, ffi.buffer(self._rbuf, 256)

    @staticmethod
    def raise_for(rc: int, bus: int, addr: int) -> None:
        """The exception transfer() raises for a C return code (nothing for SK_OK)."""
        _check(rc, f"bus {bus} address 0x{addr:02x}")

    def prepare_reads(self, bus: int, ops: Sequence[tuple[int, int, int]]) -> RegisterReads:
        """C arrays for `read_many` of the register reads `ops` ((addr, register, width) on `bus`),
        made once and reusable for any number of calls."""
        return RegisterReads(bus, ops)

    def read_many(self, reads: RegisterReads) -> list[int | None]:
        """Run the prepared reads in one C call (sk_bus_read_many): each is exactly the transfer
        (addr, bytes([register]), width) would be, in order. The words, MSB first, or None where
        that transfer failed (its return code in `reads.codes()`)."""
        n = reads.n
        failed = lib.sk_bus_read_many(self._p, *reads.args)
        if failed < 0:
            _check(failed, f"register reads on bus {reads.bus_number}")
        words: list[int | None] = ffi.unpack(reads.out, n)
        if failed:
            rc = ffi.unpack(reads.rc, n)
            return [w if c == lib.SK_OK else None for w, c in zip(words, rc, strict=True)]
        return words

    def device_fault(self, bus: int, addr: int, kind: int, reg: int, value: float) -> None:
        _check(lib.sk_device_fault(self._p, bus, addr, kind, reg, value), f"fault on 0x{addr:02x}")

    def payload_power_override(self, watts: float | None) -> None:
        """sk_payload_power_override: the payload draws `watts` while switched on; None returns to the model."""
        if watts is None:
            _check(lib.sk_payload_power_override(self._p, 0, 0.0), "payload power override")
        else:
            _check(lib.sk_payload_power_override(self._p, 1, float(watts)), f"payload power override {watts!r} W")

    def set_field(self, name: str, value: float, index: int | None = None) -> None:
        """Write one state field (plant inputs and injected plant faults)."""
        if index is None:
            setattr(self._state_ptr, name, value)
        else:
            getattr(self._state_ptr, name)[index] = value


FAULT_CLEAR = lib.SK_FAULT_CLEAR
FAULT_NACK = lib.SK_FAULT_NACK
FAULT_STUCK = lib.SK_FAULT_STUCK
FAULT_OFFSET = lib.SK_FAULT_OFFSET
FAULT_NOISE = lib.SK_FAULT_NOISE
FAULT_BITFLIP = lib.SK_FAULT_BITFLIP


def sun_eci(jd_utc: float) -> tuple[npt.NDArray[np.float64], float]:
    out = ffi.new("double[3]")
    dist = ffi.new("double *")
    lib.sk_sun_eci(jd_utc, out, dist)
    return np.array([out[0], out[1], out[2]]), float(dist[0])


def illumination(r_km: npt.ArrayLike, sun_unit: npt.ArrayLike, sun_dist_km: float) -> float:
    r = ffi.new("double[3]", [float(x) for x in np.asarray(r_km, dtype=float)])
    s = ffi.new("double[3]", [float(x) for x in np.asarray(sun_unit, dtype=float)])
    return float(lib.sk_illumination(r, s, sun_dist_km))


def gmst_rad(jd_utc: float) -> float:
    return float(lib.sk_gmst_rad(jd_utc))
