"""Onboard orbit, eclipse and ground-contact predictor.

The flight software forecasts energy (when the array is lit) and plans
downlinks (when a ground station sees the spacecraft) from this module. It
propagates either mean Keplerian elements with J2 secular rates or a TLE
(SGP4), and computes, vectorized with numpy over a time grid:

- the Sun direction: low-precision solar coordinates (Montenbruck & Gill,
  Satellite Orbits, sec. 3.3.2) in the mean equator and equinox of J2000,
  with the 0.3225 deg/century drift of the perihelion longitude;
- illumination by Earth's conical umbra and penumbra (M&G sec. 3.4.2): the
  visible fraction of the solar disc, partial inside the penumbra;
- eclipse intervals (penumbra entry/exit, umbra entry/exit), contact windows
  per station (AOS/LOS, maximum elevation, deliverable bits), the serving
  station timeline (the highest visible station, the one the radio uses) and
  the beta angle.

Events are located on the grid and then refined by root finding on the
continuous geometry (the Illinois method, vectorized over all events), so a
coarse grid (tens of seconds) still gives times to well under a millisecond of
the model. An event shorter than the grid step (a grazing pass) can be missed.

Conventions shared with the plant: time is integer nanoseconds from the
epoch given as a Julian date (UTC, also used for TT and UT1); Greenwich mean
sidereal time from the IAU 1982 expression; stations on the WGS84 ellipsoid
with the geodetic vertical; SGP4's TEME frame is taken as the J2000 frame.

No wall clock is read: every time is passed in.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

NS_PER_S = 1_000_000_000
DAY_NS = 86_400 * NS_PER_S

MU_KM3_S2 = 398600.4418
R_EARTH_KM = 6378.137
J2 = 1.08263e-3
R_SUN_KM = 695700.0
OMEGA_EARTH_RAD_S = 7.292115146706979e-5
WGS84_F = 1.0 / 298.257223563
JD_J2000 = 2451545.0
_DEG = math.pi / 180.0
_ROOT_TOL_S = 1e-4  # refinement stops when the bracket is narrower than this


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True)
class MeanElements:
    """Mean Keplerian elements at the epoch; with `j2` the node, perigee and
    mean anomaly drift at the first-order J2 secular rates."""

    a_km: float
    e: float
    i_deg: float
    raan_deg: float
    argp_deg: float
    m0_deg: float
    j2: bool = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.a_km) and self.a_km > R_EARTH_KM):
            raise ValueError(f"a_km: must exceed the Earth's radius ({R_EARTH_KM} km), got {self.a_km}")
        if not 0.0 <= self.e < 1.0:
            raise ValueError(f"e: must be within [0, 1), got {self.e}")
        if self.a_km * (1.0 - self.e) <= R_EARTH_KM:
            raise ValueError("e: perigee is below the Earth's surface; lower e or raise a_km")
        if not 0.0 <= self.i_deg <= 180.0:
            raise ValueError(f"i_deg: must be within [0, 180], got {self.i_deg}")
        for name in ("raan_deg", "argp_deg", "m0_deg"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name}: must be finite")


@dataclass(frozen=True)
class TwoLineElements:
    """A TLE, propagated with SGP4."""

    line1: str
    line2: str

    def __post_init__(self) -> None:
        if not (self.line1.startswith("1 ") and self.line2.startswith("2 ")):
            raise ValueError("TLE lines must start with '1 ' and '2 '")


@dataclass(frozen=True)
class Station:
    """A ground station: geodetic position, elevation mask, downlink rate."""

    name: str
    latitude_deg: float
    longitude_deg: float
    altitude_m: float = 0.0
    min_elevation_deg: float = 5.0
    downlink_bps: float = 0.0

    def __post_init__(self) -> None:
        if not -90.0 <= self.latitude_deg <= 90.0:
            raise ValueError(f"station {self.name!r}: latitude_deg must be within [-90, 90]")
        if not -360.0 <= self.longitude_deg <= 360.0:
            raise ValueError(f"station {self.name!r}: longitude_deg must be within [-360, 360]")
        if not -90.0 < self.min_elevation_deg < 90.0:
            raise ValueError(f"station {self.name!r}: min_elevation_deg must be within (-90, 90)")
        if not self.downlink_bps >= 0.0:
            raise ValueError(f"station {self.name!r}: downlink_bps must be >= 0")


@dataclass(frozen=True)
class Eclipse:
    """One passage through the Earth's shadow.

    `entry_ns`/`exit_ns` bound the penumbra (illumination below 1);
    `umbra_entry_ns`/`umbra_exit_ns` the total eclipse, or -1 when the
    passage stays in the penumbra. `clipped` says the interval runs past an
    edge of the forecast window and was cut there.
    """

    entry_ns: int
    exit_ns: int
    umbra_entry_ns: int = -1
    umbra_exit_ns: int = -1
    clipped: bool = False

    @property
    def duration_ns(self) -> int:
        return self.exit_ns - self.entry_ns

    @property
    def has_umbra(self) -> bool:
        return self.umbra_entry_ns >= 0


@dataclass(frozen=True)
class Contact:
    """One pass over a station: visible from AOS to LOS.

    `bits` is the pass duration times the station's downlink rate; when
    passes over two stations overlap the radio serves only one of them (see
    `Forecast.serving`)."""

    station: int
    name: str
    aos_ns: int
    los_ns: int
    max_elevation_deg: float
    max_elevation_ns: int
    bits: float
    clipped: bool = False

    @property
    def duration_ns(self) -> int:
        return self.los_ns - self.aos_ns


@dataclass(frozen=True)
class Serving:
    """A stretch during which `station` is the highest visible station."""

    station: int
    start_ns: int
    end_ns: int
    bits: float


@dataclass(frozen=True, eq=False)
class Forecast:
    """Grid samples and refined events over [t0_ns, t0_ns + horizon_ns]."""

    t0_ns: int
    end_ns: int
    step_ns: int
    t_ns: I64
    r_eci_km: F64
    sun_eci: F64
    sun_dist_km: F64
    illumination: F64
    beta_deg: F64
    elevation_deg: F64  # (samples, stations)
    eclipses: tuple[Eclipse, ...]
    contacts: tuple[Contact, ...]
    serving: tuple[Serving, ...]
    stations: tuple[Station, ...] = field(default=())

    def covers(self, t0_ns: int, t1_ns: int) -> bool:
        return self.t0_ns <= t0_ns and t1_ns <= self.end_ns

    def next_eclipse(self, t_ns: int) -> Eclipse | None:
        """The eclipse in progress at t_ns, else the next one in the window."""
        for ec in self.eclipses:
            if ec.exit_ns > t_ns:
                return ec
        return None

    def in_eclipse(self, t_ns: int) -> bool:
        return any(ec.entry_ns <= t_ns < ec.exit_ns for ec in self.eclipses)

    def eclipses_between(self, t0_ns: int, t1_ns: int) -> tuple[Eclipse, ...]:
        return tuple(ec for ec in self.eclipses if ec.exit_ns > t0_ns and ec.entry_ns < t1_ns)

    def contacts_between(self, t0_ns: int, t1_ns: int) -> tuple[Contact, ...]:
        return tuple(c for c in self.contacts if c.los_ns > t0_ns and c.aos_ns < t1_ns)

    def serving_between(self, t0_ns: int, t1_ns: int) -> tuple[Serving, ...]:
        return tuple(s for s in self.serving if s.end_ns > t0_ns and s.start_ns < t1_ns)

    def sunlit_fraction(self, t0_ns: int, t1_ns: int) -> float:
        """Mean illumination over [t0, t1]: the shadow profile of each eclipse
        is taken as linear across the penumbra (exact to a fraction of the
        penumbra's ~10 s), full darkness in the umbra."""
        if t1_ns <= t0_ns:
            raise ValueError(f"sunlit_fraction: empty interval [{t0_ns}, {t1_ns}]")
        dark = 0.0
        for ec in self.eclipses_between(t0_ns, t1_ns):
            if ec.has_umbra:
                knots_t = [ec.entry_ns, ec.umbra_entry_ns, ec.umbra_exit_ns, ec.exit_ns]
                knots_d = [0.0, 1.0, 1.0, 0.0]
            else:
                mid = (ec.entry_ns + ec.exit_ns) // 2
                depth = 1.0 - float(np.min(self.illumination[(self.t_ns >= ec.entry_ns) & (self.t_ns <= ec.exit_ns)],
                                           initial=1.0))
                knots_t = [ec.entry_ns, mid, ec.exit_ns]
                knots_d = [0.0, max(depth, 0.5), 0.0]
            if ec.clipped:  # cut at the window's edge: dark up to the cut
                knots_d = [1.0 if (t == self.t0_ns or t == self.end_ns) else d for t, d in zip(knots_t, knots_d,
                                                                                               strict=True)]
            lo, hi = max(t0_ns, knots_t[0]), min(t1_ns, knots_t[-1])
            if hi <= lo:
                continue
            kt = np.asarray(knots_t, dtype=np.float64)
            pts = np.unique(np.clip(np.concatenate([kt, [lo, hi]]), lo, hi))
            vals = np.interp(pts, kt, np.asarray(knots_d))
            dark += float(np.sum(0.5 * (vals[1:] + vals[:-1]) * np.diff(pts)))
        return max(0.0, 1.0 - dark / (t1_ns - t0_ns))

    def downlink_bits(self, t0_ns: int, t1_ns: int) -> float:
        """Bits the radio can send over [t0, t1] to the serving stations."""
        total = 0.0
        for s in self.serving_between(t0_ns, t1_ns):
            span = min(s.end_ns, t1_ns) - max(s.start_ns, t0_ns)
            rate = self.stations[s.station].downlink_bps if self.stations else 0.0
            total += rate * span / NS_PER_S
        return total


# --------------------------------------------------------------------------- models (vectorized)


def sun_eci(jd_utc: F64) -> tuple[F64, F64]:
    """Unit vector to the Sun (J2000 mean equator and equinox) and its distance in km."""
    eps = 23.43929111 * _DEG
    t_cy = (jd_utc - JD_J2000) / 36525.0
    m = np.mod(357.5256 + 35999.049 * t_cy, 360.0) * _DEG
    lon = (282.9400 + 0.3225 * t_cy) * _DEG + m + (6892.0 * np.sin(m) + 72.0 * np.sin(2.0 * m)) / 3600.0 * _DEG
    dist = (149.619 - 2.499 * np.cos(m) - 0.021 * np.cos(2.0 * m)) * 1e6
    cl, sl = np.cos(lon), np.sin(lon)
    return np.stack([cl, sl * math.cos(eps), sl * math.sin(eps)], axis=-1), dist


def gmst_rad(jd_utc: F64) -> F64:
    """Greenwich mean sidereal time (IAU 1982, days from J2000)."""
    d = jd_utc - JD_J2000
    t = d / 36525.0
    g = 280.46061837 + 360.98564736629 * d + 0.000387933 * t * t - t * t * t / 38710000.0
    out: F64 = np.mod(g, 360.0) * _DEG
    return out


def shadow_geometry(r_km: F64, sun_unit: F64, sun_dist_km: F64) -> tuple[F64, F64, F64]:
    """Apparent radii of the Sun (a) and Earth (b) and their separation (c), radians."""
    rs = sun_unit * sun_dist_km[:, None] - r_km
    rs_n = np.sqrt(np.einsum("ij,ij->i", rs, rs))
    r_n = np.sqrt(np.einsum("ij,ij->i", r_km, r_km))
    a = np.arcsin(R_SUN_KM / rs_n)
    b = np.arcsin(np.minimum(R_EARTH_KM / r_n, 1.0))
    cc = -np.einsum("ij,ij->i", r_km, rs) / (r_n * rs_n)
    c = np.arccos(np.clip(cc, -1.0, 1.0))
    return a, b, c


def illumination(a: F64, b: F64, c: F64) -> F64:
    """Visible fraction of the solar disc (Montenbruck & Gill eq. 3.85-3.87)."""
    out = np.ones_like(c)
    part = (c < a + b) & (c > np.abs(b - a))
    out[c <= b - a] = 0.0
    annular = c <= a - b
    out[annular] = 1.0 - (b[annular] / a[annular]) ** 2
    if np.any(part):
        ap, bp, cp = a[part], b[part], c[part]
        x = (cp * cp + ap * ap - bp * bp) / (2.0 * cp)
        y = np.sqrt(np.maximum(ap * ap - x * x, 0.0))
        area = (ap * ap * np.arccos(np.clip(x / ap, -1.0, 1.0)) + bp * bp * np.arccos(np.clip((cp - x) / bp, -1.0, 1.0))
                - cp * y)
        out[part] = np.clip(1.0 - area / (math.pi * ap * ap), 0.0, 1.0)
    return out


def _kepler_e(m: F64, e: float) -> F64:
    m = np.mod(m, 2.0 * math.pi)
    if e == 0.0:
        return m
    ecc = m.copy() if e < 0.8 else np.full_like(m, math.pi)
    for _ in range(50):
        d = (ecc - e * np.sin(ecc) - m) / (1.0 - e * np.cos(ecc))
        ecc -= d
        if float(np.max(np.abs(d), initial=0.0)) < 1e-14:
            break
    return ecc


class _KeplerJ2:
    def __init__(self, el: MeanElements) -> None:
        self.el = el
        a, e = el.a_km, el.e
        n0 = math.sqrt(MU_KM3_S2 / a**3)
        p = a * (1.0 - e * e)
        self.i = el.i_deg * _DEG
        self.ci, self.si = math.cos(self.i), math.sin(self.i)
        self.sqrt_1me2 = math.sqrt(1.0 - e * e)
        self.n, self.raan_dot, self.argp_dot = n0, 0.0, 0.0
        if el.j2:
            k = 1.5 * J2 * (R_EARTH_KM / p) ** 2
            si2 = self.si**2
            self.raan_dot = -k * n0 * self.ci
            self.argp_dot = k * n0 * (2.0 - 2.5 * si2)
            self.n = n0 * (1.0 + k * self.sqrt_1me2 * (1.0 - 1.5 * si2))

    def raan(self, t_s: F64) -> F64:
        out: F64 = self.el.raan_deg * _DEG + self.raan_dot * t_s
        return out

    def position(self, t_s: F64) -> F64:
        el = self.el
        argp = el.argp_deg * _DEG + self.argp_dot * t_s
        m = el.m0_deg * _DEG + self.n * t_s
        if el.e == 0.0:
            u, rad = argp + m, np.full_like(t_s, el.a_km)
        else:
            ecc = _kepler_e(m, el.e)
            ce, se = np.cos(ecc), np.sin(ecc)
            den = 1.0 - el.e * ce
            nu = np.arctan2(self.sqrt_1me2 * se, ce - el.e)
            u, rad = argp + nu, el.a_km * den
        raan = self.raan(t_s)
        co, so, cu, su = np.cos(raan), np.sin(raan), np.cos(u), np.sin(u)
        return np.stack([rad * (cu * co - su * so * self.ci), rad * (cu * so + su * co * self.ci),
                         rad * su * self.si], axis=-1)

    def state(self, t_s: F64) -> tuple[F64, F64]:
        """Positions (km) and unit orbit normals."""
        return self.position(t_s), self.normal(t_s)

    def normal(self, t_s: F64) -> F64:
        raan = self.raan(t_s)
        return np.stack([np.sin(raan) * self.si, -np.cos(raan) * self.si, np.full_like(t_s, self.ci)], axis=-1)


class _Sgp4:
    def __init__(self, tle: TwoLineElements, epoch_jd: float) -> None:
        from sgp4.api import Satrec

        try:
            self.sat: Any = Satrec.twoline2rv(tle.line1, tle.line2)
        except (ValueError, IndexError) as exc:
            raise ValueError(f"cannot parse the TLE ({exc})") from None
        if self.sat.error:
            raise ValueError(f"SGP4 rejects the TLE (error {self.sat.error})")
        self.jd_whole = math.floor(epoch_jd)
        self.jd_frac = epoch_jd - self.jd_whole

    def _pv(self, t_s: F64) -> tuple[F64, F64]:
        jd_frac = self.jd_frac + t_s / 86400.0
        err, r, v = self.sat.sgp4_array(np.full_like(t_s, float(self.jd_whole)), jd_frac)
        bad = np.flatnonzero(err)
        if bad.size:
            raise ValueError(f"SGP4 error {int(err[bad[0]])} at +{t_s[bad[0]] / 86400.0:.3f} days (decayed orbit?)")
        return np.asarray(r, dtype=np.float64), np.asarray(v, dtype=np.float64)

    def position(self, t_s: F64) -> F64:
        return self._pv(t_s)[0]

    def state(self, t_s: F64) -> tuple[F64, F64]:
        r, v = self._pv(t_s)
        h = np.cross(r, v)
        normal: F64 = h / np.linalg.norm(h, axis=1)[:, None]
        return r, normal


# --------------------------------------------------------------------------- events


def _illinois(f: Callable[[F64], F64], a: F64, b: F64, fa: F64, fb: F64) -> F64:
    """Roots of f bracketed by [a, b] (f(a), f(b) of opposite sign or zero),
    all at once by the Illinois variant of regula falsi."""
    a, b, fa, fb = a.copy(), b.copy(), fa.copy(), fb.copy()
    for _ in range(60):
        if a.size == 0 or float(np.max(np.abs(b - a))) < _ROOT_TOL_S:
            break
        den = fb - fa
        c = np.where(den != 0.0, b - fb * (b - a) / np.where(den != 0.0, den, 1.0), 0.5 * (a + b))
        fc = f(c)
        flip = fc * fb < 0.0
        done = fc == 0.0
        a = np.where(flip, b, a)
        fa = np.where(flip, fb, 0.5 * fa)
        b, fb = c, fc
        if np.all(done):
            break
        a = np.where(done, c, a)
        fa = np.where(done, fc, fa)
    return b


def _intervals(state: npt.NDArray[np.bool_]) -> tuple[I64, I64, bool, bool]:
    """Rising indices k (state[k] False, state[k+1] True), falling indices,
    and whether the state is on at the first and last sample."""
    d = np.diff(state.astype(np.int8))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1), bool(state[0]), bool(state[-1])


def _pair(starts: list[int], ends: list[int], on_first: bool, on_last: bool, t0: int, t1: int
          ) -> list[tuple[int, int, bool]]:
    """Sorted crossing times to (start, end, clipped) intervals."""
    s = ([t0] if on_first else []) + starts
    e = ends + ([t1] if on_last else [])
    out = []
    for k, (lo, hi) in enumerate(zip(s, e, strict=True)):
        clipped = (on_first and k == 0) or (on_last and k == len(s) - 1)
        out.append((lo, hi, clipped))
    return out


def _ns(t_s: F64) -> list[int]:
    return [round(x * NS_PER_S) for x in t_s.tolist()]


# --------------------------------------------------------------------------- predictor


class OrbitPredictor:
    """Orbit, Sun, shadow and station geometry from one set of elements.

    `t_ns` everywhere is nanoseconds since `epoch_jd` (UTC Julian date), the
    mission time the flight clock counts. `predict` is pure; `next_eclipse`,
    `sunlit_fraction`, `contacts` and `forecast` reuse a cached forecast and
    recompute it only when the query runs past its end (with the defaults,
    about twice a day)."""

    def __init__(self, orbit: MeanElements | TwoLineElements, epoch_jd: float, stations: Sequence[Station] = (),
                 *, cache_horizon_ns: int = DAY_NS, cache_step_ns: int = 20 * NS_PER_S,
                 cache_lookahead_ns: int = DAY_NS // 2, cache_lookback_ns: int = 2 * 3600 * NS_PER_S) -> None:
        if not math.isfinite(epoch_jd):
            raise ValueError("epoch_jd must be finite")
        if not 0 < cache_lookahead_ns <= cache_horizon_ns:
            raise ValueError("cache_lookahead_ns must be within (0, cache_horizon_ns]")
        if cache_step_ns <= 0 or cache_lookback_ns < 0:
            raise ValueError("cache_step_ns must be > 0 and cache_lookback_ns >= 0")
        self.orbit = orbit
        self.epoch_jd = float(epoch_jd)
        self.stations = tuple(stations)
        self._prop: _KeplerJ2 | _Sgp4 = (_KeplerJ2(orbit) if isinstance(orbit, MeanElements)
                                         else _Sgp4(orbit, self.epoch_jd))
        e2 = WGS84_F * (2.0 - WGS84_F)
        ecef, up = [], []
        for st in self.stations:
            lat, lon = st.latitude_deg * _DEG, st.longitude_deg * _DEG
            sl, cl = math.sin(lat), math.cos(lat)
            n = R_EARTH_KM / math.sqrt(1.0 - e2 * sl * sl)
            h = st.altitude_m / 1000.0
            ecef.append([(n + h) * cl * math.cos(lon), (n + h) * cl * math.sin(lon), (n * (1.0 - e2) + h) * sl])
            up.append([cl * math.cos(lon), cl * math.sin(lon), sl])
        self._st_ecef = np.asarray(ecef, dtype=np.float64).reshape(-1, 3)
        self._st_up = np.asarray(up, dtype=np.float64).reshape(-1, 3)
        self._st_sin_min = np.array([math.sin(s.min_elevation_deg * _DEG) for s in self.stations], dtype=np.float64)
        self._st_bps = np.array([s.downlink_bps for s in self.stations], dtype=np.float64)
        self._cache: Forecast | None = None
        self._cache_horizon_ns = int(cache_horizon_ns)
        self._cache_step_ns = int(cache_step_ns)
        self._cache_lookahead_ns = int(cache_lookahead_ns)
        self._cache_lookback_ns = int(cache_lookback_ns)
        self.recomputes = 0  # forecasts computed for the cache (for tests and telemetry)

    # ------------------------------------------------------------------ geometry at arbitrary times
    def _jd(self, t_s: F64) -> F64:
        out: F64 = self.epoch_jd + t_s / 86400.0
        return out

    def position_eci_km(self, t_s: F64) -> F64:
        return self._prop.position(t_s)

    def _shadow(self, t_s: F64, r: F64 | None = None) -> tuple[F64, F64, F64, F64, F64]:
        if r is None:
            r = self._prop.position(t_s)
        s, dist = sun_eci(self._jd(t_s))
        a, b, c = shadow_geometry(r, s, dist)
        return a, b, c, s, dist

    def _sin_el(self, t_s: F64, k: I64, r: F64 | None = None) -> F64:
        """Sine of the elevation of the spacecraft at station k[j] at t_s[j]."""
        if r is None:
            r = self._prop.position(t_s)
        g = gmst_rad(self._jd(t_s))
        cg, sg = np.cos(g), np.sin(g)
        re = np.stack([cg * r[:, 0] + sg * r[:, 1], -sg * r[:, 0] + cg * r[:, 1], r[:, 2]], axis=-1)
        rho = re - self._st_ecef[k]
        out: F64 = np.einsum("ij,ij->i", rho, self._st_up[k]) / np.sqrt(np.einsum("ij,ij->i", rho, rho))
        return out

    def _sin_el_all(self, t_s: F64, r: F64) -> F64:
        """(samples, stations) sine of elevation."""
        g = gmst_rad(self._jd(t_s))
        cg, sg = np.cos(g), np.sin(g)
        re = np.stack([cg * r[:, 0] + sg * r[:, 1], -sg * r[:, 0] + cg * r[:, 1], r[:, 2]], axis=-1)
        # rho = re - ecef: rho.up and |rho|^2 expanded into matrix products
        up = re @ self._st_up.T - np.einsum("sj,sj->s", self._st_ecef, self._st_up)[None, :]
        rho2 = (np.einsum("ij,ij->i", re, re)[:, None] - 2.0 * (re @ self._st_ecef.T)
                + np.einsum("sj,sj->s", self._st_ecef, self._st_ecef)[None, :])
        out: F64 = up / np.sqrt(rho2)
        return out

    # ------------------------------------------------------------------ forecast
    def predict(self, t0_ns: int, horizon_ns: int, step_ns: int) -> Forecast:
        """Sample [t0, t0 + horizon] every step and refine every event."""
        t0_ns, horizon_ns, step_ns = int(t0_ns), int(horizon_ns), int(step_ns)
        if horizon_ns <= 0 or step_ns <= 0:
            raise ValueError(f"predict: horizon_ns and step_ns must be > 0 (got {horizon_ns}, {step_ns})")
        n = -(-horizon_ns // step_ns) + 1
        t_ns = t0_ns + step_ns * np.arange(n, dtype=np.int64)
        t_ns[-1] = t0_ns + horizon_ns
        end_ns = t0_ns + horizon_ns
        t_s = t_ns.astype(np.float64) * 1e-9
        r, normal = self._prop.state(t_s)
        a, b, c, sun, dist = self._shadow(t_s, r)
        illum = illumination(a, b, c)
        beta = np.degrees(np.arcsin(np.clip(np.einsum("ij,ij->i", normal, sun), -1.0, 1.0)))
        n_st = len(self.stations)
        sin_el = self._sin_el_all(t_s, r) if n_st else np.zeros((n, 0))

        eclipses = self._eclipses(t_s, a, b, c, t0_ns, end_ns)
        contacts = self._contacts(t_s, sin_el, t0_ns, end_ns)
        serving = self._serving(t_s, sin_el, contacts, t0_ns, end_ns)
        return Forecast(
            t0_ns=t0_ns, end_ns=end_ns, step_ns=step_ns, t_ns=t_ns, r_eci_km=r, sun_eci=sun, sun_dist_km=dist,
            illumination=illum, beta_deg=beta, elevation_deg=np.degrees(np.arcsin(np.clip(sin_el, -1.0, 1.0))),
            eclipses=eclipses, contacts=contacts, serving=serving, stations=self.stations,
        )

    def _crossings(self, f: Callable[[F64], F64], t_s: F64, values: F64, idx: I64) -> list[int]:
        if idx.size == 0:
            return []
        return _ns(_illinois(f, t_s[idx], t_s[idx + 1], values[idx], values[idx + 1]))

    def _eclipses(self, t_s: F64, a: F64, b: F64, c: F64, t0: int, t1: int) -> tuple[Eclipse, ...]:
        g_pen = c - (a + b)  # < 0: some of the Sun hidden
        g_umb = c - (b - a)  # < 0: all of it

        def f_pen(t: F64) -> F64:
            aa, bb, cc, _, _ = self._shadow(t)
            out: F64 = cc - (aa + bb)
            return out

        def f_umb(t: F64) -> F64:
            aa, bb, cc, _, _ = self._shadow(t)
            out: F64 = cc - (bb - aa)
            return out

        up, down, first, last = _intervals(g_pen < 0.0)
        both = np.concatenate([up, down])
        times = self._crossings(f_pen, t_s, g_pen, both)
        pen = _pair(times[:up.size], times[up.size:], first, last, t0, t1)
        up, down, first, last = _intervals(g_umb < 0.0)
        both = np.concatenate([up, down])
        times = self._crossings(f_umb, t_s, g_umb, both)
        umb = _pair(times[:up.size], times[up.size:], first, last, t0, t1)
        out = []
        for lo, hi, clipped in pen:
            inside = [(ulo, uhi) for ulo, uhi, _ in umb if ulo >= lo and uhi <= hi]
            ulo = min((u[0] for u in inside), default=-1)
            uhi = max((u[1] for u in inside), default=-1)
            out.append(Eclipse(lo, hi, ulo, uhi, clipped))
        return tuple(out)

    def _contacts(self, t_s: F64, sin_el: F64, t0: int, t1: int) -> tuple[Contact, ...]:
        g = sin_el - self._st_sin_min[None, :]
        visible = g >= 0.0
        if not self.stations:
            return ()
        d = np.diff(visible.astype(np.int8), axis=0)
        ki, ks = np.nonzero(d)  # crossing between samples ki and ki+1 at station ks
        vals = g[ki, ks], g[ki + 1, ks]

        def f(t: F64) -> F64:
            out: F64 = self._sin_el(t, ks) - self._st_sin_min[ks]
            return out

        times = _ns(_illinois(f, t_s[ki], t_s[ki + 1], vals[0], vals[1])) if ki.size else []
        rising = d[ki, ks] == 1
        raw: list[tuple[int, int, int, bool]] = []  # station, aos, los, clipped
        for s in range(len(self.stations)):
            sel = np.flatnonzero(ks == s)
            ups = [times[j] for j in sel if rising[j]]
            downs = [times[j] for j in sel if not rising[j]]
            for lo, hi, clipped in _pair(ups, downs, bool(visible[0, s]), bool(visible[-1, s]), t0, t1):
                raw.append((s, lo, hi, clipped))
        raw.sort(key=lambda x: (x[1], x[0]))
        if not raw:
            return ()
        # maximum elevation: golden-section search around the best sample of each pass
        st = np.array([x[0] for x in raw], dtype=np.int64)
        lo_s = np.array([x[1] for x in raw], dtype=np.float64) * 1e-9
        hi_s = np.array([x[2] for x in raw], dtype=np.float64) * 1e-9
        peak_t = np.empty(len(raw))
        for j, (s, lo, hi, _) in enumerate(raw):
            k = np.flatnonzero((t_s >= lo * 1e-9) & (t_s <= hi * 1e-9))
            peak_t[j] = t_s[k[np.argmax(sin_el[k, s])]] if k.size else 0.5 * (lo + hi) * 1e-9
        step = float(t_s[1] - t_s[0]) if t_s.size > 1 else 1.0
        left, right = np.maximum(peak_t - step, lo_s), np.minimum(peak_t + step, hi_s)
        invphi = (math.sqrt(5.0) - 1.0) / 2.0
        x1, x2 = right - invphi * (right - left), left + invphi * (right - left)
        f1, f2 = self._sin_el(x1, st), self._sin_el(x2, st)
        for _ in range(40):
            if float(np.max(right - left)) < 1e-2:
                break
            go_left = f1 > f2  # the maximum lies in [left, x2]
            right = np.where(go_left, x2, right)
            left = np.where(go_left, left, x1)
            nx1, nx2 = right - invphi * (right - left), left + invphi * (right - left)
            x1, x2 = nx1, nx2
            f1, f2 = self._sin_el(x1, st), self._sin_el(x2, st)
        best_t = 0.5 * (left + right)
        best = self._sin_el(best_t, st)
        out = []
        for j, (s, lo, hi, clipped) in enumerate(raw):
            out.append(Contact(
                station=s, name=self.stations[s].name, aos_ns=lo, los_ns=hi,
                max_elevation_deg=math.degrees(math.asin(min(1.0, float(best[j])))),
                max_elevation_ns=round(float(best_t[j]) * NS_PER_S), bits=float(self._st_bps[s]) * (hi - lo) / NS_PER_S,
                clipped=clipped))
        return tuple(out)

    def _best(self, sin_el: F64) -> I64:
        """Index of the highest visible station per row, -1 when none is visible."""
        visible = sin_el >= self._st_sin_min[None, :]
        score = np.where(visible, sin_el, -10.0)
        out: I64 = np.where(visible.any(axis=1), np.argmax(score, axis=1), -1).astype(np.int64)
        return out

    def _serving(self, t_s: F64, sin_el: F64, contacts: tuple[Contact, ...], t0: int, t1: int
                 ) -> tuple[Serving, ...]:
        """The serving-station timeline. Between two samples where the best
        station changes, the change happens at an AOS, a LOS or where two
        stations' elevations cross: those candidate times split the step and
        the best station is evaluated in each piece."""
        if not self.stations:
            return ()
        best = self._best(sin_el)
        change = np.flatnonzero(best[1:] != best[:-1])
        b0, b1 = best[change], best[change + 1]
        both = (b0 >= 0) & (b1 >= 0)
        kk, s0, s1 = change[both], b0[both], b1[both]
        d0 = sin_el[kk, s1] - sin_el[kk, s0]
        d1 = sin_el[kk + 1, s1] - sin_el[kk + 1, s0]
        cross = d0 * d1 <= 0.0
        kk, s0, s1, d0, d1 = kk[cross], s0[cross], s1[cross], d0[cross], d1[cross]
        roots: dict[int, int] = {}
        if kk.size:

            def f(t: F64) -> F64:
                out: F64 = self._sin_el(t, s1) - self._sin_el(t, s0)
                return out

            roots = dict(zip(kk.tolist(), _ns(_illinois(f, t_s[kk], t_s[kk + 1], d0, d1)), strict=True))
        events = np.array(sorted({c.aos_ns for c in contacts} | {c.los_ns for c in contacts}), dtype=np.int64)
        pieces: list[tuple[int, int]] = []  # (start of piece, index of its midpoint)
        mids: list[float] = []
        for k in change.tolist():
            lo, hi = round(t_s[k] * NS_PER_S), round(t_s[k + 1] * NS_PER_S)
            cands = set(events[(events > lo) & (events < hi)].tolist())
            if k in roots and lo < roots[k] < hi:
                cands.add(roots[k])
            bounds = [lo, *sorted(cands), hi]
            for a, b in itertools.pairwise(bounds):
                pieces.append((a, len(mids)))
                mids.append(0.5 * (a + b) * 1e-9)
        mid_best = self._best(self._sin_el_all(np.asarray(mids), self._prop.position(np.asarray(mids)))) \
            if mids else np.zeros(0, dtype=np.int64)
        out = []
        cur, since = int(best[0]), t0
        for a, m in pieces:
            nb = int(mid_best[m])
            if nb != cur:
                if cur >= 0 and a > since:
                    out.append(Serving(cur, since, a, float(self._st_bps[cur]) * (a - since) / NS_PER_S))
                cur, since = nb, a
        if cur >= 0 and t1 > since:
            out.append(Serving(cur, since, t1, float(self._st_bps[cur]) * (t1 - since) / NS_PER_S))
        return tuple(out)

    # ------------------------------------------------------------------ cached queries
    def forecast(self, t0_ns: int, t1_ns: int | None = None) -> Forecast:
        """A forecast covering [t0, t1] (default: t0 plus the lookahead), from
        the cache when it covers the span, else computed afresh from a little
        before t0 so that events in progress at t0 are whole."""
        t1 = t0_ns + self._cache_lookahead_ns if t1_ns is None else t1_ns
        if t1 < t0_ns:
            raise ValueError(f"forecast: end {t1} ns before start {t0_ns} ns")
        fc = self._cache
        if fc is not None and fc.covers(t0_ns, t1):
            return fc
        start = t0_ns - self._cache_lookback_ns
        horizon = max(self._cache_horizon_ns, t1 - start + self._cache_step_ns)
        self._cache = self.predict(start, horizon, self._cache_step_ns)
        self.recomputes += 1
        return self._cache

    def next_eclipse(self, t_ns: int) -> Eclipse | None:
        """The eclipse in progress at t_ns or the next one (None when none
        falls within the lookahead, e.g. a dawn-dusk orbit out of season)."""
        return self.forecast(t_ns).next_eclipse(t_ns)

    def sunlit_fraction(self, t0_ns: int, t1_ns: int) -> float:
        return self.forecast(t0_ns, t1_ns).sunlit_fraction(t0_ns, t1_ns)

    def contacts(self, t0_ns: int, t1_ns: int) -> tuple[Contact, ...]:
        """Passes overlapping [t0, t1], each whole (AOS may precede t0)."""
        return self.forecast(t0_ns, t1_ns).contacts_between(t0_ns, t1_ns)

    def eclipses(self, t0_ns: int, t1_ns: int) -> tuple[Eclipse, ...]:
        return self.forecast(t0_ns, t1_ns).eclipses_between(t0_ns, t1_ns)

    def serving(self, t0_ns: int, t1_ns: int) -> tuple[Serving, ...]:
        return self.forecast(t0_ns, t1_ns).serving_between(t0_ns, t1_ns)
