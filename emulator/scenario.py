"""Scenarios: TOML files describing one spacecraft, its orbit and its ground
segment, validated into frozen dataclasses.

Every error names the offending key by its path (for example
``panel[2].area_m2``) and says what is wrong with it. The schema is
documented in docs/scenario.md.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from importlib import resources
from pathlib import Path
from typing import Any

from emulator.workload import Workload, parse_workload
from flight.toml_table import REQUIRED, TomlTable

R_EARTH_KM = 6378.137
MU_KM3_S2 = 398600.4418
J2 = 1.08263e-3


class ScenarioError(ValueError):
    """A scenario is malformed: the message names the key and the reason."""


class OrbitKind(IntEnum):
    KEPLER = 0
    TABLE = 1


class AttitudeMode(IntEnum):
    SUN = 0
    NADIR = 1
    INERTIAL = 2


class LoadKind(IntEnum):
    FIXED = 0
    RADIO = 1
    HEATER = 2
    PAYLOAD = 3


class Chip(IntEnum):
    INA226 = 1
    TMP117 = 2
    MAX17048 = 3
    TCA9534 = 4
    PAYLOAD_CTRL = 5


class Source(IntEnum):
    LOAD = 0
    ARRAY = 1
    BATTERY = 2


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True)
class Environment:
    solar_flux_w_m2: float = 1361.0
    albedo: float = 0.30
    earth_ir_w_m2: float = 237.0
    space_temperature_k: float = 2.7


@dataclass(frozen=True)
class Orbit:
    kind: OrbitKind
    semi_major_axis_km: float = 0.0
    eccentricity: float = 0.0
    inclination_deg: float = 0.0
    raan_deg: float = 0.0
    arg_perigee_deg: float = 0.0
    mean_anomaly_deg: float = 0.0
    j2: bool = True
    tle: tuple[str, str] | None = None

    @property
    def altitude_km(self) -> float:
        return self.semi_major_axis_km - R_EARTH_KM

    @property
    def period_s(self) -> float:
        return 2 * math.pi * math.sqrt(self.semi_major_axis_km**3 / MU_KM3_S2)


@dataclass(frozen=True)
class Attitude:
    mode: AttitudeMode
    quaternion: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class GroundStation:
    name: str
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    min_elevation_deg: float
    downlink_bps: float
    uplink_bps: float


@dataclass(frozen=True)
class ThermalNode:
    name: str
    capacitance_j_per_k: float
    initial_c: float


@dataclass(frozen=True)
class Surface:
    node: int
    area_m2: float
    normal: tuple[float, float, float]
    absorptivity: float
    emissivity: float


@dataclass(frozen=True)
class Conductor:
    a: int
    b: int
    conductance_w_per_k: float


@dataclass(frozen=True)
class RadiationLink:
    a: int
    b: int
    area_m2: float


@dataclass(frozen=True)
class Panel:
    name: str
    normal: tuple[float, float, float]
    area_m2: float
    efficiency: float
    packing: float
    mppt_efficiency: float
    degradation: float
    strings: int
    node: int


@dataclass(frozen=True)
class Battery:
    cells_series: int
    cells_parallel: int
    cell_capacity_ah: float
    ocv: tuple[tuple[float, float], ...]
    r0_ohm: tuple[tuple[float, float], ...]
    coulombic_efficiency: float
    max_charge_a: float
    max_discharge_a: float
    capacity_fade: float
    initial_soc: float
    node: int


@dataclass(frozen=True)
class PowerBus:
    undervoltage_v: float
    undervoltage_reset_v: float
    undervoltage_hold_s: float = 10.0


@dataclass(frozen=True)
class Load:
    name: str
    kind: LoadKind
    power_w: float
    tx_power_w: float
    node: int
    gpio: int  # device index of the TCA9534 switching it, -1 hard-wired
    pin: int
    initially_on: bool


@dataclass(frozen=True)
class PayloadMode:
    name: str
    power_w: float
    throughput: float


@dataclass(frozen=True)
class Payload:
    load: int
    node: int
    modes: tuple[PayloadMode, ...]
    junction_k_per_w: float
    throttle_c: float
    shutdown_c: float
    recover_c: float


@dataclass(frozen=True)
class Device:
    name: str
    chip: Chip
    bus: int
    address: int
    source: Source = Source.LOAD
    index: int = -1  # load index (INA226 on a load) or node index (TMP117)
    shunt_ohm: float = 0.0
    noise: float = 0.0


@dataclass(frozen=True)
class PlannedCommand:
    """A telecommand the ground transmits at at_s (it reaches the spacecraft in the next contact)."""

    at_s: float
    name: str
    args: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    epoch: datetime
    seed: int
    substep_s: float
    environment: Environment
    orbit: Orbit
    attitude: Attitude
    stations: tuple[GroundStation, ...]
    nodes: tuple[ThermalNode, ...]
    surfaces: tuple[Surface, ...]
    conductors: tuple[Conductor, ...]
    radiation_links: tuple[RadiationLink, ...]
    panels: tuple[Panel, ...]
    battery: Battery
    bus: PowerBus
    loads: tuple[Load, ...]
    payload: Payload | None
    devices: tuple[Device, ...]
    flight_parameters: tuple[tuple[str, float], ...] = ()  # overrides of the flight parameter table
    authenticate: bool = True  # uplink authentication; off only by an explicit setting
    command_plan: tuple[PlannedCommand, ...] = ()
    workload: Workload | None = None  # the compute jobs ([workload]); None: none
    source: str = field(default="<memory>", compare=False)

    def node_index(self, name: str) -> int:
        for k, n in enumerate(self.nodes):
            if n.name == name:
                return k
        raise KeyError(name)

    def load_index(self, name: str) -> int:
        for k, ld in enumerate(self.loads):
            if ld.name == name:
                return k
        raise KeyError(name)

    def device(self, name: str) -> Device:
        for d in self.devices:
            if d.name == name:
                return d
        raise KeyError(name)

    @property
    def epoch_jd_utc(self) -> float:
        return julian_date(self.epoch)


def julian_date(t: datetime) -> float:
    """Julian date of an aware datetime (UTC)."""
    j2000 = datetime(2000, 1, 1, 12, tzinfo=UTC)
    return 2451545.0 + (t - j2000).total_seconds() / 86400.0


# --------------------------------------------------------------------------- reading

DEFAULT_OCV = (
    (0.00, 3.00), (0.05, 3.30), (0.10, 3.45), (0.20, 3.55), (0.30, 3.62), (0.40, 3.68),
    (0.50, 3.74), (0.60, 3.82), (0.70, 3.91), (0.80, 4.00), (0.90, 4.08), (1.00, 4.18),
)  # fmt: skip
DEFAULT_R0 = ((-20.0, 0.150), (0.0, 0.075), (25.0, 0.040), (45.0, 0.035))




def _lookup(names: list[str], what: str, t: TomlTable, key: str, optional: bool = False) -> int:
    if optional and not t.has(key):
        t.used.add(key)
        return -1
    name = t.str_(key)
    if name not in names:
        known = ", ".join(names) or "none"
        raise ScenarioError(f"{t.key(key)}: no {what} named {name!r} (known: {known})")
    return names.index(name)


def _node_pairs(top: TomlTable, key: str, most: int, node_names: list[str], value_key: str,
                hi: float) -> list[tuple[int, int, float]]:
    """Entries coupling two different thermal nodes `a` and `b` by one value."""
    tables = top.array(key)
    _limit(tables, most, key)
    out = []
    for t in tables:
        a = _lookup(node_names, "thermal node", t, "a")
        b = _lookup(node_names, "thermal node", t, "b")
        if a == b:
            raise ScenarioError(f"{t.key('b')}: a {key.replace('_', ' ')} needs two different nodes")
        out.append((a, b, t.num(value_key, lo=0.0, hi=hi)))
        t.done()
    return out


def _unique(items: list[str], what: str, path: str) -> None:
    seen: set[str] = set()
    for k, n in enumerate(items):
        if n in seen:
            raise ScenarioError(f"{path}[{k}].name: duplicate {what} name {n!r}")
        seen.add(n)


def _epoch(t: TomlTable) -> datetime:
    text = t.str_("epoch")
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ScenarioError(f"{t.key('epoch')}: not an ISO 8601 time ({exc})") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        dt = dt.astimezone(UTC)
    except OverflowError:
        raise ScenarioError(f"{t.key('epoch')}: out of the representable range") from None
    if not 1900 <= dt.year <= 2199:
        raise ScenarioError(f"{t.key('epoch')}: year must be within 1900-2199 (the solar ephemeris' range)")
    return dt


def epoch_of(data: dict[str, Any]) -> datetime:
    """The epoch of a scenario given as parsed TOML (UTC), checked as the loader checks it."""
    return _epoch(TomlTable(data, "", ScenarioError))


def sun_synchronous_inclination_deg(a_km: float, e: float = 0.0) -> float:
    """Inclination whose J2 nodal drift equals the mean motion of the Sun."""
    n = math.sqrt(MU_KM3_S2 / a_km**3)
    p = a_km * (1 - e * e)
    target = 2 * math.pi / (365.2422 * 86400.0)
    cos_i = -target / (1.5 * n * J2 * (R_EARTH_KM / p) ** 2)
    if not -1.0 <= cos_i <= 1.0:
        raise ScenarioError("orbit.sun_synchronous: no sun-synchronous inclination at this altitude")
    return math.degrees(math.acos(cos_i))


def _orbit(t: TomlTable, epoch: datetime) -> Orbit:
    if t.has("tle"):
        tle = t.get("tle", None)
        if not (isinstance(tle, list) and len(tle) == 2 and all(isinstance(x, str) for x in tle)):
            raise ScenarioError(f"{t.key('tle')}: expected two TLE lines as strings")
        line1, line2 = tle[0].strip(), tle[1].strip()
        if not (line1.startswith("1 ") and line2.startswith("2 ")):
            raise ScenarioError(f"{t.key('tle')}: lines must start with '1 ' and '2 '")
        t.done()
        return Orbit(kind=OrbitKind.TABLE, tle=(line1, line2))
    if t.has("altitude_km") and t.has("semi_major_axis_km"):
        raise ScenarioError(f"{t.key('altitude_km')}: give altitude_km or semi_major_axis_km, not both")
    if t.has("semi_major_axis_km"):
        a = t.num("semi_major_axis_km", lo=R_EARTH_KM + 100.0, hi=R_EARTH_KM + 100000.0)
    else:
        a = R_EARTH_KM + t.num("altitude_km", lo=100.0, hi=100000.0)
    e = t.num("eccentricity", 0.0, lo=0.0, hi=0.9)
    if a * (1 - e) < R_EARTH_KM + 100.0:
        raise ScenarioError(f"{t.key('eccentricity')}: perigee below 100 km")
    if t.bool_("sun_synchronous", False):
        if t.has("inclination_deg"):
            raise ScenarioError(f"{t.key('inclination_deg')}: not allowed with sun_synchronous = true")
        inc = sun_synchronous_inclination_deg(a, e)
    else:
        inc = t.num("inclination_deg", lo=0.0, hi=180.0)
    if t.has("ltan_hours"):
        if t.has("raan_deg"):
            raise ScenarioError(f"{t.key('raan_deg')}: give raan_deg or ltan_hours, not both")
        ltan = t.num("ltan_hours", lo=0.0, hi=24.0)
        raan = (_sun_right_ascension_deg(epoch) + (ltan - 12.0) * 15.0) % 360.0
    else:
        raan = t.num("raan_deg", 0.0, lo=-360.0, hi=360.0)
    orbit = Orbit(
        kind=OrbitKind.KEPLER,
        semi_major_axis_km=a,
        eccentricity=e,
        inclination_deg=inc,
        raan_deg=raan,
        arg_perigee_deg=t.num("arg_perigee_deg", 0.0, lo=-360.0, hi=360.0),
        mean_anomaly_deg=t.num("mean_anomaly_deg", 0.0, lo=-360.0, hi=360.0),
        j2=t.bool_("j2", True),
    )
    t.done()
    return orbit


def _sun_right_ascension_deg(epoch: datetime) -> float:
    """Right ascension of the mean Sun's true position (low precision)."""
    d = julian_date(epoch) - 2451545.0
    m = math.radians((357.5256 + 35999.049 * d / 36525.0) % 360.0)
    perihelion = 282.9400 + 0.3225 * d / 36525.0  # J2000 frame
    lon = math.radians(perihelion) + m + math.radians((6892 * math.sin(m) + 72 * math.sin(2 * m)) / 3600.0)
    eps = math.radians(23.43929111)
    return math.degrees(math.atan2(math.sin(lon) * math.cos(eps), math.cos(lon))) % 360.0


def _attitude(t: TomlTable) -> Attitude:
    mode = t.str_("mode", "sun", ("sun", "nadir", "inertial"))
    q = (1.0, 0.0, 0.0, 0.0)
    if mode == "inertial":
        q4 = t.vec("quaternion", 4, unit=True)
        q = (q4[0], q4[1], q4[2], q4[3])
    t.done()
    return Attitude(mode={"sun": AttitudeMode.SUN, "nadir": AttitudeMode.NADIR,
                          "inertial": AttitudeMode.INERTIAL}[mode], quaternion=q)


def _vec3(v: tuple[float, ...]) -> tuple[float, float, float]:
    return (v[0], v[1], v[2])


def _increasing(rows: tuple[tuple[float, float], ...], t: TomlTable, key: str, min_rows: int) -> None:
    if len(rows) < min_rows:
        raise ScenarioError(f"{t.key(key)}: needs at least {min_rows} rows")
    if len(rows) > 32:
        raise ScenarioError(f"{t.key(key)}: at most 32 rows")
    for k in range(1, len(rows)):
        if rows[k][0] <= rows[k - 1][0]:
            raise ScenarioError(f"{t.key(key)}: first column must increase (row {k})")


def _limit(items: list[Any], most: int, path: str) -> None:
    if len(items) > most:
        raise ScenarioError(f"{path}: at most {most} entries, got {len(items)}")


SIGMA = 5.670374e-8
MIN_TIME_CONSTANT_S = 0.01  # the plant integrates the network in steps below each node's time constant


def _check_thermal_stiffness(nodes: list[ThermalNode], surfaces: list[Surface], conductors: list[Conductor],
                             radlinks: list[RadiationLink]) -> None:
    """Reject networks whose fastest node would need more than about a
    thousand internal steps per 10 s substep (a tiny capacitance against a
    large conductance): such a node should be merged with its neighbour."""
    k_tot = [0.0] * len(nodes)
    t3 = 4 * SIGMA * 450.0**3
    for c in conductors:
        k_tot[c.a] += c.conductance_w_per_k
        k_tot[c.b] += c.conductance_w_per_k
    for r in radlinks:
        k_tot[r.a] += t3 * r.area_m2
        k_tot[r.b] += t3 * r.area_m2
    for f in surfaces:
        k_tot[f.node] += t3 * f.emissivity * f.area_m2
    for k, n in enumerate(nodes):
        if k_tot[k] > 0 and n.capacitance_j_per_k / k_tot[k] < MIN_TIME_CONSTANT_S:
            raise ScenarioError(
                f"thermal_node[{k}].capacitance_j_per_k: time constant {n.capacitance_j_per_k / k_tot[k]:.2g} s "
                f"against its couplings is below {MIN_TIME_CONSTANT_S} s; raise it or merge the node")


def _flight(t: TomlTable) -> tuple[tuple[tuple[str, float], ...], bool]:
    """[flight]: `authenticate` (default true) and [flight.parameters], values for the flight
    software's parameter table, checked against it."""
    from flight.params import DEFAULTS

    authenticate = t.bool_("authenticate", True)
    defs = {d.name: d for d in DEFAULTS}
    pt = t.table("parameters")
    out = []
    for name in sorted(pt.data):
        d = defs.get(name)
        if d is None:
            raise pt.fail(name, f"no flight parameter of that name (known: {', '.join(sorted(defs))})")
        out.append((name, pt.num(name, lo=d.lo, hi=d.hi)))
    pt.done()
    t.done()
    return tuple(out), authenticate


def _command_plan(top: TomlTable) -> tuple[PlannedCommand, ...]:
    """[[command]]: telecommands the ground uplinks during contacts, checked against the command dictionary."""
    from flight.dictionary import load_commands
    from flight.dictionary.commands import CommandError, FailureCode

    commands = load_commands()
    plan = []
    for t in top.array("command"):
        at_s = t.num("at_s", lo=0.0)
        name = t.str_("name")
        args_t = t.table("args")
        args = {k: args_t.get(k) for k in sorted(args_t.data)}
        args_t.done()
        try:
            commands.encode_tc(name, args, 0)
        except CommandError as exc:
            raise t.fail("name" if exc.code == FailureCode.UNKNOWN_COMMAND else "args", str(exc)) from None
        plan.append(PlannedCommand(at_s, name, tuple(args.items())))
        t.done()
    return tuple(sorted(plan, key=lambda c: c.at_s))


def parse(data: dict[str, Any], source: str = "<memory>") -> Scenario:
    """Validate a scenario given as parsed TOML."""
    top = TomlTable(data, "", ScenarioError)
    name = top.str_("name")
    description = top.str_("description", "")
    epoch = _epoch(top)
    seed = top.int_("seed", 1, lo=0, hi=2**63 - 1)
    substep_s = top.num("substep_s", 1.0, lo=0.001, hi=60.0)

    et = top.table("environment")
    env = Environment(
        solar_flux_w_m2=et.num("solar_flux_w_m2", 1361.0, lo=0.0, hi=15000.0, lo_open=True),
        albedo=et.num("albedo", 0.30, lo=0.0, hi=1.0),
        earth_ir_w_m2=et.num("earth_ir_w_m2", 237.0, lo=0.0, hi=1000.0),
        space_temperature_k=et.num("space_temperature_k", 2.7, lo=0.0, hi=300.0),
    )
    et.done()
    orbit = _orbit(top.table("orbit", required=True), epoch)
    attitude = _attitude(top.table("attitude"))

    st_tables = top.array("ground_station")
    _limit(st_tables, 16, "ground_station")
    stations = []
    for t in st_tables:
        stations.append(GroundStation(
            name=t.str_("name"),
            latitude_deg=t.num("latitude_deg", lo=-90.0, hi=90.0),
            longitude_deg=t.num("longitude_deg", lo=-180.0, hi=360.0),
            altitude_m=t.num("altitude_m", 0.0, lo=-500.0, hi=9000.0),
            min_elevation_deg=t.num("min_elevation_deg", 5.0, lo=-5.0, hi=89.0),
            downlink_bps=t.num("downlink_bps", lo=0.0),
            uplink_bps=t.num("uplink_bps", 0.0, lo=0.0),
        ))
        t.done()
    _unique([s.name for s in stations], "ground station", "ground_station")

    node_tables = top.array("thermal_node")
    if not node_tables:
        raise ScenarioError("thermal_node: at least one [[thermal_node]] is required")
    _limit(node_tables, 16, "thermal_node")
    nodes = []
    for t in node_tables:
        nodes.append(ThermalNode(
            name=t.str_("name"),
            capacitance_j_per_k=t.num("capacitance_j_per_k", lo=0.0, lo_open=True),
            initial_c=t.num("initial_c", 20.0, lo=-270.0, hi=170.0),
        ))
        t.done()
    node_names = [n.name for n in nodes]
    _unique(node_names, "thermal node", "thermal_node")

    surf_tables = top.array("surface")
    _limit(surf_tables, 32, "surface")
    surfaces = []
    for t in surf_tables:
        surfaces.append(Surface(
            node=_lookup(node_names, "thermal node", t, "node"),
            area_m2=t.num("area_m2", lo=0.0, hi=10000.0),
            normal=_vec3(t.vec("normal", 3, unit=True)),
            absorptivity=t.num("absorptivity", lo=0.0, hi=1.0),
            emissivity=t.num("emissivity", lo=0.0, hi=1.0),
        ))
        t.done()

    conductors = [Conductor(a, b, v) for a, b, v in
                  _node_pairs(top, "conductor", 64, node_names, "conductance_w_per_k", 1e6)]
    radlinks = [RadiationLink(a, b, v) for a, b, v in
                _node_pairs(top, "radiation_link", 32, node_names, "area_m2", 10000.0)]

    _check_thermal_stiffness(nodes, surfaces, conductors, radlinks)

    panel_tables = top.array("panel")
    _limit(panel_tables, 16, "panel")
    panels = []
    for t in panel_tables:
        panels.append(Panel(
            name=t.str_("name"),
            normal=_vec3(t.vec("normal", 3, unit=True)),
            area_m2=t.num("area_m2", lo=0.0, hi=10000.0),
            efficiency=t.num("efficiency", 0.298, lo=0.0, hi=1.0),
            packing=t.num("packing", 0.90, lo=0.0, hi=1.0),
            mppt_efficiency=t.num("mppt_efficiency", 0.95, lo=0.0, hi=1.0),
            degradation=t.num("degradation", 0.0, lo=0.0, hi=1.0),
            strings=t.int_("strings", 8, lo=1, hi=10000),
            node=_lookup(node_names, "thermal node", t, "node", optional=True),
        ))
        t.done()
    _unique([p.name for p in panels], "panel", "panel")

    bt = top.table("battery", required=True)
    ocv = bt.pairs("ocv", DEFAULT_OCV)
    _increasing(ocv, bt, "ocv", 2)
    if ocv[0][0] != 0.0 or ocv[-1][0] != 1.0:
        raise ScenarioError(f"{bt.key('ocv')}: state of charge must run from 0 to 1")
    if any(v <= 0 for _, v in ocv) or any(ocv[k][1] < ocv[k - 1][1] for k in range(1, len(ocv))):
        raise ScenarioError(f"{bt.key('ocv')}: voltages must be positive and must not fall as charge rises")
    r0 = bt.pairs("r0_ohm", DEFAULT_R0)
    _increasing(r0, bt, "r0_ohm", 1)
    if any(r <= 0 for _, r in r0):
        raise ScenarioError(f"{bt.key('r0_ohm')}: resistances must be > 0")
    battery = Battery(
        cells_series=bt.int_("cells_series", lo=1, hi=1000),
        cells_parallel=bt.int_("cells_parallel", lo=1, hi=1000),
        cell_capacity_ah=bt.num("cell_capacity_ah", lo=0.0, lo_open=True),
        ocv=ocv,
        r0_ohm=r0,
        coulombic_efficiency=bt.num("coulombic_efficiency", 0.99, lo=0.5, hi=1.0),
        max_charge_a=bt.num("max_charge_a", lo=0.0, lo_open=True),
        max_discharge_a=bt.num("max_discharge_a", lo=0.0, lo_open=True),
        capacity_fade=bt.num("capacity_fade", 0.0, lo=0.0, hi=0.95),
        initial_soc=bt.num("initial_soc", 0.8, lo=0.0, hi=1.0),
        node=_lookup(node_names, "thermal node", bt, "node", optional=True),
    )
    bt.done()

    pt = top.table("bus", required=True)
    bus = PowerBus(
        undervoltage_v=pt.num("undervoltage_v", lo=0.0, lo_open=True),
        undervoltage_reset_v=pt.num("undervoltage_reset_v", lo=0.0, lo_open=True),
        undervoltage_hold_s=pt.num("undervoltage_hold_s", 10.0, lo=0.0, hi=86400.0),
    )
    if bus.undervoltage_reset_v <= bus.undervoltage_v:
        raise ScenarioError(f"{pt.key('undervoltage_reset_v')}: must be above undervoltage_v")
    pt.done()

    dev_tables = top.array("device")
    _limit(dev_tables, 32, "device")
    dev_names = [t.str_("name") for t in dev_tables]
    _unique(dev_names, "device", "device")
    dev_chips = [t.str_("chip", choices=("ina226", "tmp117", "max17048", "tca9534", "payload_ctrl"))
                 for t in dev_tables]

    load_tables = top.array("load")
    _limit(load_tables, 16, "load")
    loads = []
    kinds = {"fixed": LoadKind.FIXED, "radio": LoadKind.RADIO, "heater": LoadKind.HEATER,
             "payload": LoadKind.PAYLOAD}
    for t in load_tables:
        kind = kinds[t.str_("kind", "fixed", tuple(kinds))]
        gpio = _lookup(dev_names, "device", t, "gpio", optional=True)
        pin = -1
        if gpio >= 0:
            if dev_chips[gpio] != "tca9534":
                raise ScenarioError(f"{t.key('gpio')}: device {dev_names[gpio]!r} is not a tca9534")
            pin = t.int_("pin", lo=0, hi=7)
        elif t.has("pin"):
            raise ScenarioError(f"{t.key('pin')}: a pin needs a gpio device")
        loads.append(Load(
            name=t.str_("name"),
            kind=kind,
            power_w=t.num("power_w", 0.0 if kind == LoadKind.PAYLOAD else REQUIRED, lo=0.0),
            tx_power_w=t.num("tx_power_w", 0.0, lo=0.0) if kind == LoadKind.RADIO else 0.0,
            node=_lookup(node_names, "thermal node", t, "node", optional=True),
            gpio=gpio,
            pin=pin,
            initially_on=t.bool_("initially_on", gpio < 0),
        ))
        if gpio < 0 and not loads[-1].initially_on:
            raise ScenarioError(f"{t.key('initially_on')}: a load without a gpio switch is hard-wired on")
        t.done()
    load_names = [ld.name for ld in loads]
    _unique(load_names, "load", "load")
    for k, this in enumerate(loads):
        for other in loads[:k]:
            if this.gpio >= 0 and (this.gpio, this.pin) == (other.gpio, other.pin):
                raise ScenarioError(f"load[{k}].pin: pin {this.pin} already switches load {other.name!r}")

    payload = None
    if top.has("payload"):
        yt = top.table("payload")
        pl_load = _lookup(load_names, "load", yt, "load")
        if loads[pl_load].kind != LoadKind.PAYLOAD:
            raise ScenarioError(f"{yt.key('load')}: load {load_names[pl_load]!r} is not of kind 'payload'")
        mode_tables = yt.array("mode")
        if not 1 <= len(mode_tables) <= 8:
            raise ScenarioError(f"{yt.key('mode')}: between 1 and 8 [[payload.mode]] entries")
        modes = []
        for mt in mode_tables:
            modes.append(PayloadMode(mt.str_("name"), mt.num("power_w", lo=0.0, lo_open=True),
                                     mt.num("throughput", lo=0.0, hi=1.0)))
            mt.done()
        for k in range(1, len(modes)):
            if modes[k].power_w <= modes[k - 1].power_w:
                raise ScenarioError(f"{yt.key('mode')}[{k}].power_w: modes must increase in power")
        node = _lookup(node_names, "thermal node", yt, "node")
        if loads[pl_load].node != node:
            raise ScenarioError(f"{yt.key('node')}: must be the node of load {load_names[pl_load]!r}")
        payload = Payload(
            load=pl_load,
            node=node,
            modes=tuple(modes),
            junction_k_per_w=yt.num("junction_k_per_w", 0.0, lo=0.0),
            throttle_c=yt.num("throttle_c", 87.0),
            shutdown_c=yt.num("shutdown_c", 97.0),
            recover_c=yt.num("recover_c", 70.0),
        )
        if payload.shutdown_c <= payload.throttle_c:
            raise ScenarioError(f"{yt.key('shutdown_c')}: must be above throttle_c")
        if payload.recover_c >= payload.shutdown_c:
            raise ScenarioError(f"{yt.key('recover_c')}: must be below shutdown_c")
        yt.done()
    elif any(ld.kind == LoadKind.PAYLOAD for ld in loads):
        raise ScenarioError("payload: a load of kind 'payload' needs a [payload] table")

    devices = []
    chips = {"ina226": Chip.INA226, "tmp117": Chip.TMP117, "max17048": Chip.MAX17048,
             "tca9534": Chip.TCA9534, "payload_ctrl": Chip.PAYLOAD_CTRL}
    addr_ranges = {"ina226": (0x40, 0x4F), "tmp117": (0x48, 0x4B), "max17048": (0x36, 0x36),
                   "tca9534": (0x20, 0x27), "payload_ctrl": (0x08, 0x77)}
    for t, dname, chip in zip(dev_tables, dev_names, dev_chips, strict=True):
        lo, hi = addr_ranges[chip]
        addr = t.int_("address", lo=0, hi=127)
        if not lo <= addr <= hi:
            raise ScenarioError(f"{t.key('address')}: a {chip} answers at 0x{lo:02x}-0x{hi:02x}, got 0x{addr:02x}")
        bus_no = t.int_("bus", 0, lo=0, hi=3)
        src, index, shunt = Source.LOAD, -1, 0.0
        if chip == "ina226":
            what = t.str_("measures")
            if what == "array":
                src = Source.ARRAY
            elif what == "battery":
                src = Source.BATTERY
            elif what.startswith("load:") and what[5:] in load_names:
                index = load_names.index(what[5:])
            else:
                raise ScenarioError(f"{t.key('measures')}: expected 'array', 'battery' or 'load:NAME' "
                                    f"with a known load, got {what!r}")
            shunt = t.num("shunt_ohm", lo=0.0, lo_open=True)
        elif chip == "tmp117":
            index = _lookup(node_names, "thermal node", t, "node")
        noise = t.num("noise", 0.0, lo=0.0) if chip != "tca9534" else 0.0
        devices.append(Device(dname, chips[chip], bus_no, addr, src, index, shunt, noise))
        t.done()
    for k, d in enumerate(devices):
        for e in devices[:k]:
            if (d.bus, d.address) == (e.bus, e.address):
                raise ScenarioError(f"device[{k}].address: 0x{d.address:02x} on bus {d.bus} is taken by {e.name!r}")

    flight_parameters, authenticate = _flight(top.table("flight"))
    command_plan = _command_plan(top)
    workload = parse_workload(top.table("workload"), seed)
    if workload is not None and payload is None:
        raise ScenarioError("workload: the scenario has no [payload] to run its jobs")
    top.done()
    return Scenario(
        name=name, description=description, epoch=epoch, seed=seed, substep_s=substep_s, environment=env,
        orbit=orbit, attitude=attitude, stations=tuple(stations), nodes=tuple(nodes),
        surfaces=tuple(surfaces), conductors=tuple(conductors), radiation_links=tuple(radlinks),
        panels=tuple(panels), battery=battery, bus=bus, loads=tuple(loads), payload=payload,
        devices=tuple(devices), flight_parameters=flight_parameters, authenticate=authenticate,
        command_plan=command_plan, workload=workload, source=source,
    )


def loads_toml(text: str, source: str = "<memory>") -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML ({exc})") from None
    return parse(data, source)


def preset_names() -> list[str]:
    root = resources.files("emulator") / "presets"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def load(name_or_path: str | Path) -> Scenario:
    """A built-in preset by name, or a TOML file by path."""
    text_name = str(name_or_path)
    if text_name in preset_names():
        res = resources.files("emulator") / "presets" / f"{text_name}.toml"
        return loads_toml(res.read_text(encoding="utf-8"), f"preset {text_name}")
    path = Path(name_or_path)
    if not path.exists():
        raise ScenarioError(f"{text_name}: no such scenario file or preset (presets: {', '.join(preset_names())})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{text_name}: cannot read ({exc})") from None
    return loads_toml(text, text_name)

