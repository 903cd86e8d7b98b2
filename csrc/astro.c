/* Sun ephemeris, Earth rotation and the conical Earth shadow. */
#include <math.h>
#include "plant_internal.h"

#define DEG (SK_PI / 180.0)

/* Low-precision solar coordinates (Montenbruck & Gill, Satellite Orbits,
 * sec. 3.3.2): mean equator and equinox of J2000, about 0.1-1 arcmin.
 * UTC is used for TT (a 69 s difference moves the Sun by 3 arcsec). */
void sk_sun_eci(double jd_utc, double out_unit[3], double *dist_km)
{
    const double eps = 23.43929111 * DEG;
    double T = (jd_utc - 2451545.0) / 36525.0;
    double M = fmod(357.5256 + 35999.049 * T, 360.0) * DEG;
    /* longitude of perihelion in the J2000 frame advances 0.3225 deg per century */
    double lon = (282.9400 + 0.3225 * T) * DEG + M + (6892.0 * sin(M) + 72.0 * sin(2.0 * M)) / 3600.0 * DEG;
    double r = (149.619 - 2.499 * cos(M) - 0.021 * cos(2.0 * M)) * 1e6;
    double cl = cos(lon), sl = sin(lon);
    out_unit[0] = cl;
    out_unit[1] = sl * cos(eps);
    out_unit[2] = sl * sin(eps);
    if (dist_km) *dist_km = r;
}

/* Greenwich mean sidereal time (IAU 1982 expression in days from J2000). */
double sk_gmst_rad(double jd_utc)
{
    double d = jd_utc - 2451545.0;
    double T = d / 36525.0;
    double g = 280.46061837 + 360.98564736629 * d + 0.000387933 * T * T - T * T * T / 38710000.0;
    g = fmod(g, 360.0);
    if (g < 0) g += 360.0;
    return g * DEG;
}

/* Fraction of the solar disc visible from r (km, ECI), Earth as an occulting
 * sphere: the conical umbra/penumbra model of Montenbruck & Gill sec. 3.4.2.
 * A cheap test against the shadow cones settles almost every call; the
 * overlap of two discs is computed only inside the penumbra. */
double sk_illumination(const double r[3], const double s[3], double sun_dist_km)
{
    return sk_illumination_cones(r, s, sun_dist_km, (SK_RSUN_KM + SK_RE_KM) / sun_dist_km,
                                 (SK_RSUN_KM - SK_RE_KM) / sun_dist_km);
}

/* the same with the cone slopes (R_sun +/- R_earth) / d_sun precomputed */
double sk_illumination_cones(const double r[3], const double s[3], double sun_dist_km, double pen_slope,
                             double umb_slope)
{
    double along = r[0] * s[0] + r[1] * s[1] + r[2] * s[2];
    if (along >= 0.0) return 1.0;               /* on the day side of the terminator plane */
    double r2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
    double perp2 = r2 - along * along;           /* squared distance from the shadow axis */
    double behind = -along;
    /* cone half-angle slopes: penumbra widens, umbra narrows behind the Earth */
    double pen = SK_RE_KM + behind * pen_slope;
    double umb = SK_RE_KM - behind * umb_slope;
    if (perp2 > pen * pen * 1.0001) return 1.0;
    if (umb > 0 && perp2 < umb * umb * 0.9999) return 0.0;

    double rs[3] = {s[0] * sun_dist_km - r[0], s[1] * sun_dist_km - r[1], s[2] * sun_dist_km - r[2]};
    double rs_n = sqrt(rs[0] * rs[0] + rs[1] * rs[1] + rs[2] * rs[2]);
    double r_n = sqrt(r2);
    double a = asin(SK_RSUN_KM / rs_n);          /* apparent radius of the Sun */
    double b = asin(SK_RE_KM / r_n);             /* apparent radius of the Earth */
    double cc = -(r[0] * rs[0] + r[1] * rs[1] + r[2] * rs[2]) / (r_n * rs_n);
    if (cc > 1.0) cc = 1.0;
    if (cc < -1.0) cc = -1.0;
    double c = acos(cc);                         /* apparent separation of the centres */
    if (c >= a + b) return 1.0;
    if (c <= b - a) return 0.0;                  /* total eclipse */
    if (c <= a - b) return 1.0 - (b * b) / (a * a); /* annular, not reachable for the Earth */
    double x = (c * c + a * a - b * b) / (2.0 * c);
    double y2 = a * a - x * x;
    double y = y2 > 0 ? sqrt(y2) : 0.0;
    double xa = x / a, xb = (c - x) / b;
    if (xa > 1.0) xa = 1.0;
    if (xa < -1.0) xa = -1.0;
    if (xb > 1.0) xb = 1.0;
    if (xb < -1.0) xb = -1.0;
    double area = a * a * acos(xa) + b * b * acos(xb) - c * y;
    double nu = 1.0 - area / (SK_PI * a * a);
    if (nu < 0.0) nu = 0.0;
    if (nu > 1.0) nu = 1.0;
    return nu;
}

double sk_kepler_E(double m, double e)
{
    m = fmod(m, SK_TWO_PI);
    if (m < 0) m += SK_TWO_PI;
    if (e == 0.0) return m;
    double E = e < 0.8 ? m : SK_PI;
    for (int k = 0; k < 50; k++) {
        double f = E - e * sin(E) - m;
        double d = f / (1.0 - e * cos(E));
        E -= d;
        if (fabs(d) < 1e-14) break;
    }
    return E;
}
