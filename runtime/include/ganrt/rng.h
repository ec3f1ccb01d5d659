/* The one seeded, counter-based generator: Philox4x32-10.
 *
 * Its state is (seed, stream, offset). The seed is Philox's key; the
 * 128-bit counter is (stream, offset): a tensor of n values takes the
 * counters offset .. offset + ceil(n/4) - 1 of the current stream, so a
 * draw does not depend on the number of threads, and saving the numbers
 * restores the stream exactly. Streams are independent sequences under the
 * same seed: stream 0 is the default; the Lua library gives other
 * consumers (data order, augmentation, sampling) streams of their own,
 * named, so a new consumer never shifts another's numbers. */
#ifndef GANRT_RNG_H
#define GANRT_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gr_rng_state {
  uint64_t seed;
  uint64_t offset; /* next unused counter of the stream */
  uint64_t stream; /* the high 64 bits of the counter; 0: the default stream */
} gr_rng_state;

/* seed, and back to the default stream at offset 0 */
void gr_manual_seed(uint64_t seed);
gr_rng_state gr_rng_get(void);
void gr_rng_set(gr_rng_state s);
/* Philox4x32-10: four 32-bit words for counter c under key k. */
void gr_philox(uint64_t key, uint64_t counter_hi, uint64_t counter_lo, uint32_t out[4]);
/* Reserves `words` 32-bit values: returns the first counter; each counter gives 4 words. */
uint64_t gr_rng_reserve(uint64_t words);
/* Reserves `words` values and returns where they are: the seed, the stream
 * and the first counter (as .offset). Word i of the draw is word i % 4 of
 * gr_philox(seed, stream, offset + i / 4). */
gr_rng_state gr_rng_take(uint64_t words);
/* A 32-bit word to a float in [0, 1) with 24 random bits. */
static inline float gr_u32_to_unit(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }
/* The standard normal's distribution function, and its quantile (inverse)
 * for p in (0, 1), within a few ulp of the double it should be; p near 1
 * gives what 1 - p holds, so far tails are asked for as -quantile(q) with
 * q = 1 - p small (ops/random.c, for draws by inverse CDF). */
double gr_normal_cdf(double x);
double gr_normal_quantile(double p);

#ifdef __cplusplus
}
#endif
#endif
