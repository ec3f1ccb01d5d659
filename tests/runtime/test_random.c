/* The generator and the random ops: Philox known answers, reproducibility
 * (seed, state save/restore, thread count), the distributions' moments,
 * bernoulli/randint/randperm, dropout and its gradient, bad arguments. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* --- helpers ---------------------------------------------------------------------------------- */

static bool same_tensor(const gr_tensor *a, const gr_tensor *b) {
  if (a->dtype != b->dtype || !gr_same_shape(a, b)) return false;
  size_t bytes = (size_t)gr_numel(a) * gr_dtype_size(a->dtype);
  return memcmp((char *)a->storage->data + a->offset * gr_dtype_size(a->dtype),
                (char *)b->storage->data + b->offset * gr_dtype_size(b->dtype), bytes) == 0;
}

typedef struct moments {
  double mean, var, skew, kurt, min, max;
} moments;

static moments moments_of(const float *x, int64_t n) {
  moments m = {0, 0, 0, 0, INFINITY, -INFINITY};
  for (int64_t i = 0; i < n; i++) {
    m.mean += x[i];
    if (x[i] < m.min) m.min = x[i];
    if (x[i] > m.max) m.max = x[i];
  }
  m.mean /= n;
  double m2 = 0, m3 = 0, m4 = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = x[i] - m.mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m.var = m2 / n;
  m.skew = m3 / n / pow(m.var, 1.5);
  m.kurt = m4 / n / (m.var * m.var);
  return m;
}

/* Pearson's chi-square of counts against equal expectation */
static double chi_square(const int64_t *count, int bins, int64_t n) {
  double e = (double)n / bins, c = 0;
  for (int b = 0; b < bins; b++) c += (count[b] - e) * (count[b] - e) / e;
  return c;
}
/* a bound the statistic of `dof` degrees of freedom exceeds with negligible probability */
static double chi_bound(int dof) { return dof + 6 * sqrt(2.0 * dof); }

#define N_BIG 1000000

/* --- the generator ---------------------------------------------------------------------------- */

static void test_philox_known_answers(void **state) {
  /* Random123's kat_vectors for philox4x32_10: counter words c0..c3 are
   * (counter_lo low, counter_lo high, counter_hi low, counter_hi high), key
   * words k0, k1 are the key's low and high halves */
  uint32_t o[4];
  gr_philox(0, 0, 0, o);
  assert_true(o[0] == 0x6627e8d5u && o[1] == 0xe169c58du && o[2] == 0xbc57ac4cu && o[3] == 0x9b00dbd8u);
  gr_philox(UINT64_MAX, UINT64_MAX, UINT64_MAX, o);
  assert_true(o[0] == 0x408f276du && o[1] == 0x41c83b0eu && o[2] == 0xa20bc7c6u && o[3] == 0x6d5451fdu);
  gr_philox(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull, o);
  assert_true(o[0] == 0xd16cfe09u && o[1] == 0x94fdccebu && o[2] == 0x5001e420u && o[3] == 0x24126ea1u);
}

static void test_reserve_and_state(void **state) {
  gr_manual_seed(7);
  gr_rng_state s0 = gr_rng_get();
  assert_true(s0.seed == 7 && s0.offset == 0);
  assert_int_equal(gr_rng_reserve(5), 0); /* 5 words: two counters */
  assert_int_equal(gr_rng_reserve(0), 2);
  assert_int_equal(gr_rng_reserve(4), 2);
  assert_int_equal(gr_rng_get().offset, 3);

  /* a tensor of n values takes ceil(n/4) counters; randint two words each */
  gr_manual_seed(7);
  gr_release(TU_OK(gr_rand(TU_SHAPE(3, 3))));
  assert_int_equal(gr_rng_get().offset, 3);
  gr_release(TU_OK(gr_randn(TU_SHAPE(4))));
  assert_int_equal(gr_rng_get().offset, 4);
  gr_release(TU_OK(gr_randint(TU_SHAPE(3), 0, 10)));
  assert_int_equal(gr_rng_get().offset, 6);
  gr_release(TU_OK(gr_randperm(5))); /* 4 swaps, 8 words */
  assert_int_equal(gr_rng_get().offset, 8);
  gr_release(TU_OK(gr_rand(TU_SHAPE(0, 5)))); /* nothing drawn */
  assert_int_equal(gr_rng_get().offset, 8);

  /* save, draw, restore: the same values again, and the stream goes on alike */
  gr_rng_state saved = gr_rng_get();
  gr_tensor *a = TU_OK(gr_randn(TU_SHAPE(5, 7))), *a2 = TU_OK(gr_rand(TU_SHAPE(11)));
  gr_rng_state after = gr_rng_get();
  gr_rng_set(saved);
  gr_tensor *b = TU_OK(gr_randn(TU_SHAPE(5, 7))), *b2 = TU_OK(gr_rand(TU_SHAPE(11)));
  assert_true(same_tensor(a, b) && same_tensor(a2, b2));
  assert_true(gr_rng_get().offset == after.offset && gr_rng_get().seed == after.seed);
  gr_release(a);
  gr_release(a2);
  gr_release(b);
  gr_release(b2);
}

/* element i is word i of the reservation: check rand against gr_philox directly */
static void test_values_from_counters(void **state) {
  gr_manual_seed(0xabcdef);
  gr_release(TU_OK(gr_rand(TU_SHAPE(6)))); /* move the base to counter 2 */
  gr_rng_state st = gr_rng_get();
  gr_tensor *u = TU_OK(gr_rand(TU_SHAPE(3, 7)));
  const float *pu = gr_f32(u);
  for (int64_t i = 0; i < 21; i++) {
    uint32_t w[4];
    gr_philox(st.seed, 0, st.offset + (uint64_t)i / 4, w);
    assert_true(pu[i] == gr_u32_to_unit(w[i % 4]));
  }
  /* a longer draw from the same state starts with the same values */
  gr_rng_set(st);
  gr_tensor *v = TU_OK(gr_rand(TU_SHAPE(50)));
  assert_memory_equal(gr_f32(v), pu, 21 * sizeof(float));
  gr_release(u);
  gr_release(v);
}

/* a stream is the counter's high half: its draws are Philox at (seed,
 * stream, offset), its offset is its own, and manual_seed returns to
 * stream 0 */
static void test_streams(void **state) {
  gr_manual_seed(11);
  gr_tensor *d0 = TU_OK(gr_rand(TU_SHAPE(8)));
  gr_rng_set((gr_rng_state){.seed = 11, .stream = 0x9e3779b97f4a7c15ull, .offset = 0});
  gr_tensor *s0 = TU_OK(gr_rand(TU_SHAPE(8)));
  assert_int_equal(gr_rng_get().offset, 2);
  assert_true(gr_rng_get().stream == 0x9e3779b97f4a7c15ull);
  const float *ps = gr_f32(s0);
  for (int64_t i = 0; i < 8; i++) {
    uint32_t w[4];
    gr_philox(11, 0x9e3779b97f4a7c15ull, (uint64_t)i / 4, w);
    assert_true(ps[i] == gr_u32_to_unit(w[i % 4]));
  }
  assert_false(same_tensor(d0, s0));
  gr_manual_seed(11);
  assert_true(gr_rng_get().stream == 0 && gr_rng_get().offset == 0);
  gr_tensor *d1 = TU_OK(gr_rand(TU_SHAPE(8)));
  assert_true(same_tensor(d0, d1));
  gr_release(d0);
  gr_release(s0);
  gr_release(d1);
}

static void test_same_seed_same_tensors(void **state) {
  gr_tensor *x[2][6];
  gr_tensor *p = TU_OK(gr_full(GR_F32, 2, (int64_t[]){9, 13}, 0.4));
  for (int r = 0; r < 2; r++) {
    gr_manual_seed(1234);
    x[r][0] = TU_OK(gr_rand(TU_SHAPE(17, 3)));
    x[r][1] = TU_OK(gr_normal(TU_SHAPE(101), 3, 2));
    x[r][2] = TU_OK(gr_bernoulli(p));
    x[r][3] = TU_OK(gr_randint(TU_SHAPE(5, 5), -3, 1000));
    x[r][4] = TU_OK(gr_randperm(77));
    x[r][5] = TU_OK(gr_uniform(TU_SHAPE(2, 3, 4), -5, 5));
  }
  for (int k = 0; k < 6; k++) assert_true(same_tensor(x[0][k], x[1][k]));
  /* another seed, other values */
  gr_manual_seed(1235);
  gr_tensor *y = TU_OK(gr_rand(TU_SHAPE(17, 3)));
  assert_false(same_tensor(x[0][0], y));
  gr_release(y);
  for (int r = 0; r < 2; r++)
    for (int k = 0; k < 6; k++) gr_release(x[r][k]);
  gr_release(p);
}

/* large enough that every op runs its parallel loop */
static void test_thread_count_does_not_matter(void **state) {
  int keep = gr_get_threads();
  gr_tensor *x[2][5];
  gr_tensor *p = TU_OK(gr_rand(TU_SHAPE(300001)));
  gr_tensor *big = TU_OK(gr_full(GR_F32, 1, (int64_t[]){300001}, 1.0));
  for (int r = 0; r < 2; r++) {
    gr_set_threads(r + 1);
    assert_int_equal(omp_get_max_threads(), r + 1);
    gr_manual_seed(99);
    x[r][0] = TU_OK(gr_rand(TU_SHAPE(300001)));
    x[r][1] = TU_OK(gr_randn(TU_SHAPE(300001)));
    x[r][2] = TU_OK(gr_bernoulli(p));
    x[r][3] = TU_OK(gr_randint(TU_SHAPE(300001), 0, 1 << 20));
    x[r][4] = TU_OK(gr_dropout(big, 0.5, true));
  }
  for (int k = 0; k < 5; k++) assert_true(same_tensor(x[0][k], x[1][k]));
  for (int r = 0; r < 2; r++)
    for (int k = 0; k < 5; k++) gr_release(x[r][k]);
  gr_release(p);
  gr_release(big);
  gr_set_threads(keep);
}

/* --- distributions ------------------------------------------------------------------------------ */

static void test_uniform_moments(void **state) {
  gr_manual_seed(2024);
  gr_tensor *u = TU_OK(gr_rand(TU_SHAPE(1000, 1000)));
  assert_int_equal(u->dtype, GR_F32);
  assert_false(u->requires_grad);
  const float *pu = gr_f32(u);
  moments m = moments_of(pu, N_BIG);
  /* mean 1/2 (sd 2.9e-4), variance 1/12 (sd 7.5e-5) */
  assert_true(fabs(m.mean - 0.5) < 5 * sqrt(1.0 / 12 / N_BIG));
  assert_true(fabs(m.var - 1.0 / 12) < 5 * sqrt(1.0 / 180 / N_BIG));
  assert_true(m.min >= 0 && m.max < 1);
  int64_t count[100] = {0};
  for (int64_t i = 0; i < N_BIG; i++) count[(int)(pu[i] * 100)]++;
  assert_true(chi_square(count, 100, N_BIG) < chi_bound(99));
  gr_release(u);

  /* [lo, hi) shifted and scaled; and hi never reached even where rounding would reach it */
  gr_tensor *v = TU_OK(gr_uniform(TU_SHAPE(N_BIG), -2, 3));
  m = moments_of(gr_f32(v), N_BIG);
  assert_true(fabs(m.mean - 0.5) < 5 * 5 * sqrt(1.0 / 12 / N_BIG));
  assert_true(fabs(m.var - 25.0 / 12) < 5 * 25 * sqrt(1.0 / 180 / N_BIG));
  assert_true(m.min >= -2 && m.max < 3);
  gr_release(v);
  v = TU_OK(gr_uniform(TU_SHAPE(N_BIG), 1, 2));
  m = moments_of(gr_f32(v), N_BIG);
  assert_true(m.min >= 1 && m.max < 2);
  gr_release(v);
  v = TU_OK(gr_uniform(TU_SHAPE(10), 4, 4));
  for (int i = 0; i < 10; i++) assert_true(gr_f32(v)[i] == 4.0f);
  gr_release(v);
}

static void test_normal_moments(void **state) {
  gr_manual_seed(77);
  gr_tensor *z = TU_OK(gr_randn(TU_SHAPE(N_BIG)));
  const float *pz = gr_f32(z);
  moments m = moments_of(pz, N_BIG);
  assert_true(fabs(m.mean) < 5 / sqrt(N_BIG));
  assert_true(fabs(m.var - 1) < 5 * sqrt(2.0 / N_BIG));
  assert_true(fabs(m.skew) < 5 * sqrt(6.0 / N_BIG));
  assert_true(fabs(m.kurt - 3) < 5 * sqrt(24.0 / N_BIG));
  /* tails: P(|z| > 2) = 0.0455, and nothing absurd (32-bit uniforms cap |z| near 6.7) */
  int64_t out2 = 0;
  for (int64_t i = 0; i < N_BIG; i++) out2 += fabsf(pz[i]) > 2;
  double p2 = 0.0455003, f2 = (double)out2 / N_BIG;
  assert_true(fabs(f2 - p2) < 5 * sqrt(p2 * (1 - p2) / N_BIG));
  assert_true(m.max < 7 && m.min > -7 && m.max > 4 && m.min < -4);
  gr_release(z);

  z = TU_OK(gr_normal(TU_SHAPE(1000, 1000), 2, 0.5));
  m = moments_of(gr_f32(z), N_BIG);
  assert_true(fabs(m.mean - 2) < 0.5 * 5 / sqrt(N_BIG));
  assert_true(fabs(m.var - 0.25) < 0.25 * 5 * sqrt(2.0 / N_BIG));
  gr_release(z);
  /* std 0 gives the mean */
  z = TU_OK(gr_normal(TU_SHAPE(9), -1.5, 0));
  for (int i = 0; i < 9; i++) assert_true(gr_f32(z)[i] == -1.5f);
  gr_release(z);
  /* a 0-d draw is one value */
  z = TU_OK(gr_randn(0, NULL));
  assert_int_equal(z->ndim, 0);
  assert_true(isfinite(gr_f32(z)[0]));
  gr_release(z);
}

static void test_bernoulli(void **state) {
  gr_manual_seed(5);
  /* p per element: a third each of 0, 0.3 and 1 */
  const int64_t n = 3 * 300000;
  gr_tensor *p = TU_OK(gr_empty(GR_F32, 2, (int64_t[]){3, 300000}));
  float *pp = gr_f32(p);
  for (int64_t i = 0; i < n; i++) pp[i] = i < n / 3 ? 0.0f : i < 2 * n / 3 ? 0.3f : 1.0f;
  gr_set_requires_grad(p, true);
  gr_tensor *b = TU_OK(gr_bernoulli(p));
  assert_false(b->requires_grad); /* not differentiable */
  assert_true(gr_same_shape(b, p));
  const float *pb = gr_f32(b);
  int64_t ones[3] = {0};
  for (int64_t i = 0; i < n; i++) {
    assert_true(pb[i] == 0.0f || pb[i] == 1.0f);
    ones[i / (n / 3)] += pb[i] == 1.0f;
  }
  assert_int_equal(ones[0], 0);
  assert_int_equal(ones[2], n / 3);
  double f = (double)ones[1] / (n / 3);
  assert_true(fabs(f - 0.3) < 5 * sqrt(0.3 * 0.7 / (n / 3)));
  gr_release(b);

  /* a strided p draws like its contiguous copy */
  gr_tensor *q0 = tu_rand(TU_SHAPE(7, 9), 0, 1), *q = tu_noncontig(q0);
  gr_rng_state st = gr_rng_get();
  gr_tensor *b1 = TU_OK(gr_bernoulli(q));
  gr_rng_set(st);
  gr_tensor *b2 = TU_OK(gr_bernoulli(q0));
  TU_CLOSE(b1, b2, 0, 0);
  gr_release(b1);
  gr_release(b2);

  /* bad p: out of [0, 1], NaN, int; nothing drawn for them */
  st = gr_rng_get();
  pp[17] = 1.5f;
  assert_null(gr_bernoulli(p));
  assert_non_null(strstr(gr_errmsg(), "bernoulli: p must be in [0, 1], got 1.5 at element 17"));
  pp[17] = NAN;
  assert_null(gr_bernoulli(p));
  pp[17] = -0.25f;
  assert_null(gr_bernoulli(p));
  assert_int_equal(gr_rng_get().offset, st.offset);
  /* a bad p in a strided view: the message reads the value from the
   * contiguous copy, which must still be alive (under ASan this read was a
   * use after free) */
  pp[17] = 1.5f;
  gr_tensor *pt = TU_OK(gr_transpose(p, 0, 1));
  assert_null(gr_bernoulli(pt));
  assert_non_null(strstr(gr_errmsg(), "bernoulli: p must be in [0, 1], got 1.5 at element"));
  gr_release(pt);
  pp[17] = 0.5f;
  gr_tensor *ip = TU_OK(gr_zeros(GR_I64, 1, (int64_t[]){4}));
  assert_null(gr_bernoulli(ip));
  assert_non_null(strstr(gr_errmsg(), "bernoulli: p must be float32"));
  assert_null(gr_bernoulli(NULL));
  gr_release(ip);
  gr_release(p);
  gr_release(q);
  gr_release(q0);
}

static void test_randint(void **state) {
  gr_manual_seed(31);
  gr_tensor *r = TU_OK(gr_randint(TU_SHAPE(1000, 1000), -3, 7));
  assert_int_equal(r->dtype, GR_I64);
  const int64_t *pr = gr_i64(r);
  int64_t count[10] = {0};
  for (int64_t i = 0; i < N_BIG; i++) {
    assert_true(pr[i] >= -3 && pr[i] < 7);
    count[pr[i] + 3]++;
  }
  assert_true(chi_square(count, 10, N_BIG) < chi_bound(9));
  gr_release(r);

  /* a range that is not a power of two near 2^32 (32-bit draws would skew it badly) */
  const int64_t range = 3ll << 30;
  r = TU_OK(gr_randint(TU_SHAPE(200000), 0, range));
  pr = gr_i64(r);
  int64_t low = 0;
  for (int64_t i = 0; i < 200000; i++) {
    assert_true(pr[i] >= 0 && pr[i] < range);
    low += pr[i] < range / 2;
  }
  assert_true(fabs(low / 200000.0 - 0.5) < 5 * sqrt(0.25 / 200000));
  gr_release(r);

  /* the whole int64 range without overflow; a range of one */
  r = TU_OK(gr_randint(TU_SHAPE(1000), INT64_MIN, INT64_MAX));
  int64_t neg = 0;
  for (int i = 0; i < 1000; i++) neg += gr_i64(r)[i] < 0;
  assert_true(neg > 400 && neg < 600);
  gr_release(r);
  r = TU_OK(gr_randint(TU_SHAPE(5), 41, 42));
  for (int i = 0; i < 5; i++) assert_int_equal(gr_i64(r)[i], 41);
  gr_release(r);

  assert_null(gr_randint(TU_SHAPE(3), 5, 5));
  assert_non_null(strstr(gr_errmsg(), "randint: needs lo < hi, got [5, 5)"));
  assert_null(gr_randint(TU_SHAPE(3), 5, -1));
}

static void test_randperm(void **state) {
  gr_manual_seed(3);
  const int64_t sizes[] = {0, 1, 2, 3, 1000, 65537};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    int64_t n = sizes[s];
    gr_tensor *p = TU_OK(gr_randperm(n));
    assert_int_equal(p->dtype, GR_I64);
    assert_int_equal(p->ndim, 1);
    assert_int_equal(p->shape[0], n);
    char *seen = calloc((size_t)n + 1, 1);
    for (int64_t i = 0; i < n; i++) {
      int64_t v = gr_i64(p)[i];
      assert_true(v >= 0 && v < n && !seen[v]);
      seen[v] = 1;
    }
    free(seen);
    gr_release(p);
  }
  /* all 24 orders of 4 about equally often, and each value everywhere */
  int64_t count[24] = {0}, where[4][4] = {{0}};
  const int trials = 48000;
  for (int t = 0; t < trials; t++) {
    gr_tensor *p = TU_OK(gr_randperm(4));
    const int64_t *v = gr_i64(p);
    int code = 0;
    for (int i = 0; i < 4; i++) {
      int rank = 0; /* Lehmer code */
      for (int j = i + 1; j < 4; j++) rank += v[j] < v[i];
      code = code * (4 - i) + rank;
      where[v[i]][i]++;
    }
    count[code]++;
    gr_release(p);
  }
  assert_true(chi_square(count, 24, trials) < chi_bound(23));
  for (int v = 0; v < 4; v++) assert_true(chi_square(where[v], 4, trials) < chi_bound(3));
  assert_null(gr_randperm(-1));
  assert_non_null(strstr(gr_errmsg(), "randperm: n must be >= 0, got -1"));
}

/* --- dropout ------------------------------------------------------------------------------------ */

static void test_dropout_forward(void **state) {
  gr_manual_seed(11);
  const double p = 0.3;
  gr_tensor *x = tu_rand(TU_SHAPE(200, 501), 0.5, 1.5);
  gr_rng_state st = gr_rng_get();
  gr_tensor *y = TU_OK(gr_dropout(x, p, true));
  assert_true(gr_same_shape(y, x));
  /* the mask is what bernoulli(1 - p) draws from the same state */
  gr_rng_set(st);
  gr_tensor *keep = TU_OK(gr_full(GR_F32, x->ndim, x->shape, 1 - p));
  gr_tensor *mask = TU_OK(gr_bernoulli(keep));
  assert_int_equal(gr_rng_get().offset, st.offset + (200 * 501 + 3) / 4);
  const float *px = gr_f32(x), *py = gr_f32(y), *pm = gr_f32(mask);
  const float scale = (float)(1 / (1 - p));
  int64_t n = gr_numel(x), kept = 0;
  for (int64_t i = 0; i < n; i++) {
    assert_true(py[i] == (pm[i] != 0 ? px[i] * scale : 0.0f));
    kept += pm[i] != 0;
  }
  assert_true(fabs((double)kept / n - 0.7) < 5 * sqrt(0.21 / n));
  /* the mean is kept: E[y] = E[x] */
  double sx = 0, sy = 0;
  for (int64_t i = 0; i < n; i++) sx += px[i], sy += py[i];
  assert_true(fabs(sy / sx - 1) < 0.01);

  /* a strided x: the same values as its contiguous twin */
  gr_tensor *xn = tu_noncontig(x);
  gr_rng_set(st);
  gr_tensor *yn = TU_OK(gr_dropout(xn, p, true));
  TU_CLOSE(yn, y, 0, 0);

  /* eval mode and p = 0: x itself, nothing drawn */
  st = gr_rng_get();
  gr_tensor *e = TU_OK(gr_dropout(x, p, false)), *z = TU_OK(gr_dropout(x, 0, true));
  assert_ptr_equal(e, x);
  assert_ptr_equal(z, x);
  assert_int_equal(gr_rng_get().offset, st.offset);
  gr_release(e);
  gr_release(z);
  gr_release(xn);
  gr_release(yn);
  gr_release(keep);
  gr_release(mask);
  gr_release(x);
  gr_release(y);
}

static void test_dropout_bad(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(2, 3), -1, 1);
  const double bad[] = {1, 1.5, -0.1, NAN};
  for (int i = 0; i < 4; i++) {
    assert_null(gr_dropout(x, bad[i], true));
    assert_non_null(strstr(gr_errmsg(), "dropout: p must be in [0, 1)"));
    assert_non_null(strstr(gr_errmsg(), "[2, 3]"));
    assert_null(gr_dropout(x, bad[i], false)); /* refused in eval mode too */
  }
  gr_tensor *ix = TU_OK(gr_zeros(GR_I64, 1, (int64_t[]){3}));
  assert_null(gr_dropout(ix, 0.5, true));
  assert_non_null(strstr(gr_errmsg(), "dropout: x must be float32"));
  assert_null(gr_dropout(NULL, 0.5, true));
  gr_release(ix);
  gr_release(x);
}

/* the gradient in x is mask / (1 - p) for the mask the forward drew */
static void test_dropout_grad_is_mask(void **state) {
  gr_manual_seed(12);
  const double p = 0.4;
  gr_tensor *x = tu_rand(TU_SHAPE(37, 29), 0.5, 1.5), *r = tu_rand(TU_SHAPE(37, 29), -1, 1);
  gr_set_requires_grad(x, true);
  gr_rng_state st = gr_rng_get();
  gr_tensor *y = TU_OK(gr_dropout(x, p, true));
  assert_true(y->requires_grad);
  gr_tensor *g = NULL;
  gr_grad_opts o = {.grad_outputs = &r};
  assert_int_equal(gr_grad(1, &y, 1, &x, &o, &g), GR_OK);
  gr_rng_set(st);
  gr_tensor *keep = TU_OK(gr_full(GR_F32, 2, x->shape, 1 - p));
  gr_tensor *mask = TU_OK(gr_bernoulli(keep));
  const float scale = (float)(1 / (1 - p));
  for (int64_t i = 0; i < gr_numel(x); i++) {
    float want = gr_f32(r)[i] * (gr_f32(mask)[i] * scale);
    assert_true(gr_f32(g)[i] == want);
  }
  gr_release(g);
  gr_release(y);
  gr_release(keep);
  gr_release(mask);
  gr_release(r);
  gr_release(x);
}

/* With the state reset before every evaluation the mask is fixed, so the
 * usual checks apply; the second order is zero. */
static gr_tensor *f_dropout(gr_tensor *const *in, void *ctx) {
  gr_rng_set(*(const gr_rng_state *)ctx);
  return gr_dropout(in[0], 0.25, true);
}

static void test_dropout_gradcheck(void **state) {
  gr_manual_seed(13);
  gr_rng_state st = gr_rng_get();
  gr_tensor *x = tu_rand(TU_SHAPE(3, 5), -1, 1);
  gr_tensor *in[1] = {x};
  TU_GRADCHECK(f_dropout, &st, 1, in);
  TU_GRADGRADCHECK(f_dropout, &st, 1, in);
  gr_release(x);
}

/* --- trunc_normal and the normal's quantile ------------------------------------------------------
 * References by bisection on erfc (long double for the draws): slow and
 * plain, to the last bits. */

/* z <= 0 with Phi(z) = p, p in (0, 1/2], by bisection in double */
static double bisect_lower(double p) {
  double lo = -40, hi = 0;
  for (int i = 0; i < 200; i++) {
    double mid = 0.5 * (lo + hi);
    if (0.5 * erfc(-mid / sqrt(2.0)) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

static void test_normal_quantile(void **state) {
  double worst = 0;
  /* the body, linearly, and the lower tail down to 1e-300 */
  for (int i = 1; i <= 2000; i++) {
    double p = i / 4000.0, ref = bisect_lower(p), x = gr_normal_quantile(p);
    double err = fabs(x - ref) / fmax(1, fabs(ref));
    worst = fmax(worst, err);
    if (!(err < 1e-12)) fail_msg("quantile(%.17g) = %.17g, bisection %.17g", p, x, ref);
    /* the upper half by symmetry: Q(1 - p) = -Q(p) (1 - p rounded: a few ulp) */
    if (!(fabs(gr_normal_quantile(1 - p) + x) < 1e-12)) fail_msg("quantile(1 - %.17g)", p);
  }
  for (int k = 2; k <= 300; k++)
    for (int m = 1; m < 10; m += 4) {
      double p = m * pow(10, -k), ref = bisect_lower(p), x = gr_normal_quantile(p);
      double err = fabs(x - ref) / fabs(ref);
      worst = fmax(worst, err);
      if (!(err < 1e-12)) fail_msg("quantile(%.17g) = %.17g, bisection %.17g", p, x, ref);
      /* and back: Phi(Q(p)) = p to a relative 1e-12, the tail's condition allowing */
      double back = gr_normal_cdf(x);
      if (k < 290 && !(fabs(back - p) <= 1e-12 * p))
        fail_msg("cdf(quantile(%.17g)) = %.17g", p, back);
    }
  print_message("normal quantile: worst relative error %.2e\n", worst);
  assert_true(gr_normal_quantile(0.5) == 0);
  assert_true(gr_normal_quantile(0) == -INFINITY && gr_normal_quantile(1) == INFINITY);
  assert_true(isnan(gr_normal_quantile(-0.1)) && isnan(gr_normal_quantile(NAN)));
}

/* The value of u in [a, b], by bisection on Phi(z) = Phi(a) + u (Phi(b) -
 * Phi(a)) in long double; an interval right of 0 is reflected so that the
 * masses are small numbers. */
static double ref_trunc(double u, double a, double b) {
  bool flip = a >= 0;
  if (flip) {
    double t = a;
    a = -b;
    b = -t;
    u = 1 - u;
  }
  long double s = sqrtl(2.0L), pa = 0.5L * erfcl(-a / s), pb = 0.5L * erfcl(-b / s);
  long double p = pa + (long double)u * (pb - pa), lo = a, hi = b;
  for (int i = 0; i < 200; i++) {
    long double mid = 0.5L * (lo + hi);
    if (0.5L * erfcl(-mid / s) < p) lo = mid;
    else hi = mid;
  }
  double z = (double)(0.5L * (lo + hi));
  return flip ? -z : z;
}

/* the moments of N(0,1) restricted to [a, b] */
static void trunc_moments(double a, double b, double *mean, double *var) {
  const double sqrt_2pi = 2.50662827463100050242;
  double pdf_a = exp(-a * a / 2) / sqrt_2pi, pdf_b = exp(-b * b / 2) / sqrt_2pi;
  double mass = b <= 0 ? gr_normal_cdf(b) - gr_normal_cdf(a)
                       : gr_normal_cdf(-a) - gr_normal_cdf(-b);
  *mean = (pdf_a - pdf_b) / mass;
  *var = 1 + (a * pdf_a - b * pdf_b) / mass - *mean * *mean;
}

static void test_trunc_normal(void **state) {
  static const double bounds[][2] = {{-0.5, 0.5}, {-2, 1}, {3, 4.5}, {-9, -8}, {8, 9}, {-1e-3, 5}};
  const double mean = 1.5, std = 0.25;
  for (size_t c = 0; c < sizeof bounds / sizeof *bounds; c++) {
    double a = bounds[c][0], b = bounds[c][1];
    gr_manual_seed(100 + c);
    gr_release(TU_OK(gr_rand(TU_SHAPE(5)))); /* start mid-counter: offset 2 */
    gr_rng_state st = gr_rng_get();
    gr_tensor *z = TU_OK(gr_trunc_normal(TU_SHAPE(N_BIG), 0, 1, a, b));
    /* the stream moved by two words per element */
    assert_true(gr_rng_get().offset == st.offset + (2 * (uint64_t)N_BIG + 3) / 4);
    const float *pz = gr_f32(z);
    /* every value inside, the moments those of the truncated normal */
    moments m = moments_of(pz, N_BIG);
    assert_true(m.min >= (float)a && m.max <= (float)b);
    double mu, var;
    trunc_moments(a, b, &mu, &var);
    if (!(fabs(m.mean - mu) < 5 * sqrt(var / N_BIG)))
      fail_msg("[%g, %g]: mean %.7g, expected %.7g", a, b, m.mean, mu);
    if (!(fabs(m.var - var) < 5 * var * sqrt(3.0 / N_BIG)))
      fail_msg("[%g, %g]: variance %.7g, expected %.7g", a, b, m.var, var);
    /* the first values exactly, from the words of their counters */
    gr_rng_set(st);
    gr_tensor *y = TU_OK(gr_trunc_normal(TU_SHAPE(501), mean, std, a, b));
    const float *py = gr_f32(y);
    for (int64_t i = 0; i < 501; i++) {
      uint32_t w[4];
      gr_philox(st.seed, st.stream, st.offset + (uint64_t)i / 2, w);
      uint64_t v = ((uint64_t)w[2 * (i % 2)] << 32 | w[2 * (i % 2) + 1]) >> 12;
      double u = (double)(2 * v + 1) / 9007199254740992.0;
      float want = (float)(mean + std * ref_trunc(u, a, b));
      bool near = py[i] == want || nextafterf(want, INFINITY) == py[i] ||
                  nextafterf(want, -INFINITY) == py[i];
      if (!near)
        fail_msg("[%g, %g] element %lld: %.9g, reference %.9g", a, b, (long long)i, py[i], want);
    }
    gr_release(y);
    gr_release(z);
  }
  /* a one-element draw; a 0-d one */
  gr_tensor *s = TU_OK(gr_trunc_normal(0, NULL, -1, 2, -0.1, 0.1));
  assert_int_equal(s->ndim, 0);
  assert_true(gr_f32(s)[0] >= -1.2f && gr_f32(s)[0] <= -0.8f);
  gr_release(s);
  /* std 0 gives the mean */
  s = TU_OK(gr_trunc_normal(TU_SHAPE(7), 3, 0, -1, 1));
  for (int i = 0; i < 7; i++) assert_true(gr_f32(s)[i] == 3.0f);
  gr_release(s);
}

static void test_trunc_normal_threads(void **state) {
  int keep = gr_get_threads();
  gr_tensor *x[2];
  for (int r = 0; r < 2; r++) {
    gr_set_threads(r + 1);
    gr_manual_seed(5);
    x[r] = TU_OK(gr_trunc_normal(TU_SHAPE(300001), 0, 1, -2, 2));
  }
  assert_true(same_tensor(x[0], x[1]));
  gr_release(x[0]);
  gr_release(x[1]);
  gr_set_threads(keep);
}

/* --- bad shapes and parameters ------------------------------------------------------------------ */

static void test_bad_arguments(void **state) {
  assert_null(gr_rand(TU_SHAPE(3, -2)));
  assert_non_null(strstr(gr_errmsg(), "uniform: size -2 in dim 1 of [3, -2] is negative"));
  assert_null(gr_randn(7, (int64_t[]){1, 1, 1, 1, 1, 1, 1}));
  assert_non_null(strstr(gr_errmsg(), "normal: rank 7 is outside 0..6"));
  assert_null(gr_randint(2, NULL, 0, 3));
  assert_non_null(strstr(gr_errmsg(), "randint: shape is NULL"));
  assert_null(gr_uniform(TU_SHAPE(3), 2, 1));
  assert_non_null(strstr(gr_errmsg(), "uniform: needs finite lo <= hi, got lo 2, hi 1"));
  assert_null(gr_uniform(TU_SHAPE(3), 0, INFINITY));
  assert_null(gr_normal(TU_SHAPE(3), 0, -1));
  assert_non_null(strstr(gr_errmsg(), "normal: needs a finite mean and std >= 0"));
  assert_null(gr_normal(TU_SHAPE(3), NAN, 1));
  TU_ERROR(gr_trunc_normal(TU_SHAPE(3), 0, 1, 1, 1), "trunc_normal", "a < b", "[1, 1]");
  TU_ERROR(gr_trunc_normal(TU_SHAPE(3), 0, 1, 2, -2), "trunc_normal", "a < b", "[2, -2]");
  TU_ERROR(gr_trunc_normal(TU_SHAPE(3), 0, -1, -1, 1), "trunc_normal", "std >= 0", "std -1");
  TU_ERROR(gr_trunc_normal(TU_SHAPE(3), NAN, 1, -1, 1), "trunc_normal", "finite mean", NULL);
  TU_ERROR(gr_trunc_normal(TU_SHAPE(3), 0, INFINITY, -1, 1), "trunc_normal", "finite mean", NULL);
  TU_ERROR(gr_trunc_normal(TU_SHAPE(3), 0, 1, -INFINITY, 1), "trunc_normal", "finite bounds", NULL);
  TU_ERROR(gr_trunc_normal(TU_SHAPE(3), 0, 1, -1, NAN), "trunc_normal", "finite bounds", NULL);
  TU_ERROR(gr_trunc_normal(TU_SHAPE(3), 0, 1, 40, 41), "trunc_normal", "[40, 41] holds probability 0",
           "too little");
  TU_ERROR(gr_trunc_normal(TU_SHAPE(2, -1), 0, 1, -1, 1), "trunc_normal", "size -1", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_philox_known_answers),
      cmocka_unit_test(test_reserve_and_state),
      cmocka_unit_test(test_values_from_counters),
      cmocka_unit_test(test_streams),
      cmocka_unit_test(test_same_seed_same_tensors),
      cmocka_unit_test(test_thread_count_does_not_matter),
      cmocka_unit_test(test_uniform_moments),
      cmocka_unit_test(test_normal_moments),
      cmocka_unit_test(test_normal_quantile),
      cmocka_unit_test(test_trunc_normal),
      cmocka_unit_test(test_trunc_normal_threads),
      cmocka_unit_test(test_bernoulli),
      cmocka_unit_test(test_randint),
      cmocka_unit_test(test_randperm),
      cmocka_unit_test(test_dropout_forward),
      cmocka_unit_test(test_dropout_bad),
      cmocka_unit_test(test_dropout_grad_is_mask),
      cmocka_unit_test(test_dropout_gradcheck),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
