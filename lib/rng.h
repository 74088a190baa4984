/*
 * rng.h - a small, seedable pseudo-random generator (splitmix64), so fault
 * injection and load balancing are reproducible with --seed.  Not for secrets.
 */
#ifndef L7_RNG_H
#define L7_RNG_H

#include <stdint.h>

struct rng { uint64_t state; };

static inline void rng_seed(struct rng *r, uint64_t seed) { r->state = seed; }

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double rng_double(struct rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* Uniform in [0, n) for n > 0 (the modulo bias is negligible for small n). */
static inline uint64_t rng_below(struct rng *r, uint64_t n) { return rng_next(r) % n; }

#endif
