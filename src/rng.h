/* rng.h: a small, fast, seedable random generator (xoshiro256**), whose whole state can
 * be saved in a checkpoint so a resumed run draws the same numbers. */
#ifndef MX_RNG_H
#define MX_RNG_H

#include <stdint.h>

struct mx_rng {
	uint64_t s[4];
};

void rng_seed(struct mx_rng *r, uint64_t seed);
uint64_t rng_u64(struct mx_rng *r);
uint32_t rng_below(struct mx_rng *r, uint32_t n);   /* uniform in [0, n) */
float rng_uniform(struct mx_rng *r);                /* uniform in [0, 1) */
float rng_normal(struct mx_rng *r);                 /* standard normal */
/* Fisher-Yates shuffle of idx[0..n). */
void rng_shuffle(struct mx_rng *r, int64_t *idx, int64_t n);

#endif
