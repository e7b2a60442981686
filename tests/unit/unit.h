/*
 * Shared by the cmocka unit tests: the cmocka includes (in the order cmocka
 * needs) and a small deterministic random generator, so that "random"
 * splits and corruptions are the same on every run and a failure can be
 * reproduced from its seed.
 */
#ifndef LIMPET_UNIT_H
#define LIMPET_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

struct unit_rng {
	uint64_t	s;
};

/* Seed the generator; any seed works, 0 included. */
static inline void
unit_rng_init(struct unit_rng *r, uint64_t seed)
{
	r->s = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
}

/* Next 64 random bits (splitmix64). */
static inline uint64_t
unit_rng_next(struct unit_rng *r)
{
	uint64_t	z;

	z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number from 0 to n - 1 (n > 0). */
static inline size_t
unit_rng_below(struct unit_rng *r, size_t n)
{
	return (size_t)(unit_rng_next(r) % n);
}

/* Fill n bytes at p with random bytes. */
static inline void
unit_rng_fill(struct unit_rng *r, void *p, size_t n)
{
	uint8_t	*d = p;
	size_t	 i;

	for (i = 0; i < n; i++)
		d[i] = (uint8_t)unit_rng_next(r);
}

#endif
