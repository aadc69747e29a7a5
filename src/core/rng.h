/* Deterministic random numbers (xoshiro256**, seeded by splitmix64): the same seed gives the
 * same initialization and data order on every machine and thread count. */
#ifndef LVIT_RNG_H
#define LVIT_RNG_H
#include <stdint.h>

typedef struct Rng { uint64_t s[4]; } Rng;

void rng_seed(Rng *r, uint64_t seed);
/* An independent stream derived from (seed, stream id): per tensor, per rank, per epoch. */
void rng_seed_stream(Rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_u64(Rng *r);
double rng_uniform(Rng *r);                 /* [0,1) */
double rng_normal(Rng *r);                  /* N(0,1) */
uint64_t rng_below(Rng *r, uint64_t n);     /* uniform in [0,n) without modulo bias */
/* Normal(0,std) truncated to [-2 std, 2 std] (timm's trunc_normal_ with std=0.02 uses a=-2,b=2
 * absolute, which at std 0.02 never truncates; lvit truncates at 2 std, the intended shape). */
double rng_trunc_normal(Rng *r, double std);
void rng_shuffle(Rng *r, int64_t *a, int64_t n);

#endif
