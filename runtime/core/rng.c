/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", 2011). */
#include "ganrt/rng.h"

static gr_rng_state g_rng = {.seed = 0x5eed, .offset = 0, .stream = 0};

void gr_manual_seed(uint64_t seed) {
  g_rng.seed = seed;
  g_rng.offset = 0;
  g_rng.stream = 0;
}

gr_rng_state gr_rng_get(void) { return g_rng; }
void gr_rng_set(gr_rng_state s) { g_rng = s; }

uint64_t gr_rng_reserve(uint64_t words) {
  uint64_t first = g_rng.offset;
  g_rng.offset += (words + 3) / 4;
  return first;
}

gr_rng_state gr_rng_take(uint64_t words) {
  gr_rng_state at = g_rng;
  at.offset = gr_rng_reserve(words);
  return at;
}

void gr_philox(uint64_t key, uint64_t counter_hi, uint64_t counter_lo, uint32_t out[4]) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  uint32_t c0 = (uint32_t)counter_lo, c1 = (uint32_t)(counter_lo >> 32);
  uint32_t c2 = (uint32_t)counter_hi, c3 = (uint32_t)(counter_hi >> 32);
  uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)M0 * c0, p1 = (uint64_t)M1 * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c0 = n0;
    c1 = (uint32_t)p1;
    c2 = n2;
    c3 = (uint32_t)p0;
    k0 += W0;
    k1 += W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}
