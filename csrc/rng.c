/* Seeded xoshiro256** generator and a standard normal deviate (polar method).
 * One generator per plant: the same seed gives the same bits. */
#include <math.h>
#include "plant_internal.h"

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void sk_rng_seed(sk_plant *p, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) p->rng[i] = splitmix64(&x);
}

uint64_t sk_rng_next(sk_plant *p)
{
    uint64_t *s = p->rng;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static double uniform_pm1(sk_plant *p)
{
    /* 53 random bits mapped to [-1, 1) */
    return (double)(sk_rng_next(p) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

double sk_rng_normal(sk_plant *p)
{
    double u, v, s;
    do {
        u = uniform_pm1(p);
        v = uniform_pm1(p);
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}
