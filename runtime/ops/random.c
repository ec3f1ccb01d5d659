/* Random ops. Every value comes from the one Philox4x32-10 generator
 * (rng.h), on its current stream: a tensor of n values reserves its
 * counters with gr_rng_take, and element i is computed from (seed, stream,
 * base counter, i) alone. So a draw is the same for any number of threads,
 * and the stream advances by the same amount whatever the values turned
 * out to be.
 *
 * Words per element: uniform, normal, bernoulli 1 (word i is word i%4 of
 * counter base + i/4); randint 2; randperm 2 per swap. */
#include <math.h>
#include <string.h>

#include "op_impl.h"

#define PAR_MIN_BLOCKS 2048 /* counters (4 words each) below which one thread fills */

/* 2^-32 */
#define U32_SCALE (1.0 / 4294967296.0)

__extension__ typedef unsigned __int128 u128;

/* A value uniform in [0, range) from 64 random bits (multiply-shift: the
 * bias is at most range / 2^64). */
static inline uint64_t below(uint32_t hi, uint32_t lo, uint64_t range) {
  uint64_t x = (uint64_t)hi << 32 | lo;
  return (uint64_t)(((u128)x * range) >> 64);
}

/* --- checks shared by the wrappers ---------------------------------------------------------- */

static bool check_shape(const char *op, int ndim, const int64_t *shape) {
  if (ndim < 0 || ndim > GR_MAX_DIM) {
    gr_fail(GR_EARG, "%s: rank %d is outside 0..%d", op, ndim, GR_MAX_DIM);
    return false;
  }
  if (ndim > 0 && !shape) {
    gr_fail(GR_EARG, "%s: shape is NULL for rank %d", op, ndim);
    return false;
  }
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0) {
      gr_fail(GR_EARG, "%s: size %lld in dim %d of %s is negative", op, (long long)shape[d], gr_dim_shown(d),
              gr_dims_str(ndim, shape));
      return false;
    }
  }
  return true;
}

/* i[0] = ndim, i[1..ndim] = shape */
static void put_shape(gr_attrs *a, int ndim, const int64_t *shape) {
  a->i[0] = ndim;
  for (int d = 0; d < ndim; d++) a->i[1 + d] = shape[d];
}
static gr_tensor *empty_from_attrs(gr_dtype dt, const gr_attrs *a) {
  int64_t shape[GR_MAX_DIM];
  int ndim = (int)a->i[0];
  for (int d = 0; d < ndim; d++) shape[d] = a->i[1 + d];
  return gr_empty(dt, ndim, shape);
}

/* --- uniform ----------------------------------------------------------------------------- */

/* lo + (hi - lo) u for u in [0, 1) with 24 bits, kept below hi where
 * rounding to float would land on it. */
static inline float uniform_value(uint32_t w, double lo, double hi, float hi_below) {
  float v = (float)(lo + (hi - lo) * gr_u32_to_unit(w));
  return v >= (float)hi && hi > lo ? hi_below : v;
}

gr_status uniform_forward(gr_fwd *f) {
  double lo = f->a->f[0], hi = f->a->f[1];
  gr_tensor *y = empty_from_attrs(GR_F32, f->a);
  if (!y) return gr_errcode();
  float *out = gr_f32(y); // (n)
  int64_t n = gr_numel(y), nb = (n + 3) / 4;
  gr_rng_state at = gr_rng_take((uint64_t)n);
  float hi_below = nextafterf((float)hi, -INFINITY);
  if (hi_below < (float)lo) hi_below = (float)lo; /* lo and hi neighbours as floats */
#pragma omp parallel for schedule(static) if (nb > PAR_MIN_BLOCKS)
  for (int64_t b = 0; b < nb; b++) {
    uint32_t w[4];
    gr_philox(at.seed, at.stream, at.offset + (uint64_t)b, w);
    for (int64_t j = 0; j < 4 && 4 * b + j < n; j++)
      out[4 * b + j] = uniform_value(w[j], lo, hi, hi_below);
  }
  f->out[0] = y;
  return GR_OK;
}

gr_tensor *gr_uniform(int ndim, const int64_t *shape, double lo, double hi) {
  if (!check_shape("uniform", ndim, shape)) return NULL;
  if (!isfinite(lo) || !isfinite(hi) || lo > hi)
    return gr_fail_null(GR_EARG, "uniform: needs finite lo <= hi, got lo %g, hi %g", lo, hi);
  gr_attrs a = {.f = {lo, hi}};
  put_shape(&a, ndim, shape);
  return gr_apply1(GR_OP_uniform, 0, NULL, &a);
}

gr_tensor *gr_rand(int ndim, const int64_t *shape) { return gr_uniform(ndim, shape, 0, 1); }

/* --- normal ------------------------------------------------------------------------------- */

gr_status normal_forward(gr_fwd *f) {
  double mean = f->a->f[0], std = f->a->f[1];
  gr_tensor *y = empty_from_attrs(GR_F32, f->a);
  if (!y) return gr_errcode();
  float *out = gr_f32(y); // (n)
  int64_t n = gr_numel(y), nb = (n + 3) / 4;
  gr_rng_state at = gr_rng_take((uint64_t)n);
  const double two_pi = 6.283185307179586477;
#pragma omp parallel for schedule(static) if (nb > PAR_MIN_BLOCKS)
  for (int64_t b = 0; b < nb; b++) {
    uint32_t w[4];
    gr_philox(at.seed, at.stream, at.offset + (uint64_t)b, w);
    /* Box-Muller on the pairs (w0, w1) and (w2, w3); u1 is in (0, 1), never 0 */
    double z[4];
    for (int k = 0; k < 2; k++) {
      double u1 = ((double)w[2 * k] + 0.5) * U32_SCALE, u2 = (double)w[2 * k + 1] * U32_SCALE;
      double r = sqrt(-2.0 * log(u1)), t = two_pi * u2;
      z[2 * k] = r * cos(t);
      z[2 * k + 1] = r * sin(t);
    }
    for (int64_t j = 0; j < 4 && 4 * b + j < n; j++) out[4 * b + j] = (float)(mean + std * z[j]);
  }
  f->out[0] = y;
  return GR_OK;
}

gr_tensor *gr_normal(int ndim, const int64_t *shape, double mean, double std) {
  if (!check_shape("normal", ndim, shape)) return NULL;
  if (!isfinite(mean) || !isfinite(std) || std < 0)
    return gr_fail_null(GR_EARG, "normal: needs a finite mean and std >= 0, got mean %g, std %g",
                        mean, std);
  gr_attrs a = {.f = {mean, std}};
  put_shape(&a, ndim, shape);
  return gr_apply1(GR_OP_normal, 0, NULL, &a);
}

gr_tensor *gr_randn(int ndim, const int64_t *shape) { return gr_normal(ndim, shape, 0, 1); }

/* --- bernoulli and dropout's mask ------------------------------------------------------------- */

/* out[i] = (u_i < p[i]) ? one : 0 with u_i = word i / 2^32; p NULL: every
 * p[i] is p0. p = 0 never gives one, p = 1 always does. */
static void bernoulli_fill(float *out, const float *p, float p0, float one, int64_t n) {
  int64_t nb = (n + 3) / 4;
  gr_rng_state at = gr_rng_take((uint64_t)n);
#pragma omp parallel for schedule(static) if (nb > PAR_MIN_BLOCKS)
  for (int64_t b = 0; b < nb; b++) {
    uint32_t w[4];
    gr_philox(at.seed, at.stream, at.offset + (uint64_t)b, w);
    for (int64_t j = 0; j < 4 && 4 * b + j < n; j++) {
      int64_t i = 4 * b + j;
      double pi = p ? p[i] : p0;
      out[i] = (double)w[j] * U32_SCALE < pi ? one : 0.0f;
    }
  }
}

gr_status bernoulli_forward(gr_fwd *f) {
  gr_tensor *p = f->in[0];
  if (!gr_check_float("bernoulli", "p", p)) return GR_EARG;
  /* a contiguous copy when p is a strided view */
  gr_tensor *pc = gr_is_contiguous(p) ? gr_retain(p) : gr_empty_like(p);
  if (!pc || (pc != p && gr_copy_(pc, p) != GR_OK)) {
    gr_release(pc);
    return gr_errcode();
  }
  const float *pp = gr_f32(pc); // (n)
  int64_t n = gr_numel(pc);
  for (int64_t i = 0; i < n; i++) {
    if (!(pp[i] >= 0 && pp[i] <= 1)) {
      gr_release(pc);
      return gr_fail(GR_EARG, "bernoulli: p must be in [0, 1], got %g at element %lld of %s",
                     pp[i], (long long)i, gr_shape_str(p));
    }
  }
  gr_tensor *y = gr_empty(GR_F32, p->ndim, p->shape);
  if (!y) {
    gr_release(pc);
    return gr_errcode();
  }
  bernoulli_fill(gr_f32(y), pp, 0, 1.0f, n);
  gr_release(pc);
  f->out[0] = y;
  return GR_OK;
}

gr_tensor *gr_bernoulli(gr_tensor *p) {
  if (!p) return NULL;
  return gr_apply1(GR_OP_bernoulli, 1, &p, NULL);
}

/* x * mask / (1 - p), the mask drawn as bernoulli(1 - p) would draw it from
 * the same stream state. The mask is a constant, so the gradient in x is
 * mask / (1 - p) and every order of it follows from gr_mul. */
gr_tensor *gr_dropout(gr_tensor *x, double p, bool training) {
  if (!x) return NULL;
  if (!(p >= 0 && p < 1))
    return gr_fail_null(GR_EARG, "dropout: p must be in [0, 1), got %g (x %s)", p, gr_shape_str(x));
  if (!gr_check_float("dropout", "x", x)) return NULL;
  if (!training || p == 0) return gr_autorelease(gr_retain(x));
  gr_pool_push();
  gr_tensor *mask = gr_empty(GR_F32, x->ndim, x->shape);
  if (mask)
    bernoulli_fill(gr_f32(mask), NULL, (float)(1 - p), (float)(1 / (1 - p)), gr_numel(mask));
  return gr_pool_pop_keep(gr_mul(x, mask));
}

/* --- randint ------------------------------------------------------------------------------ */

gr_status randint_forward(gr_fwd *f) {
  int64_t lo = f->a->i[GR_MAX_DIM + 1];
  uint64_t range = (uint64_t)f->a->i[GR_MAX_DIM + 2] - (uint64_t)lo;
  gr_tensor *y = empty_from_attrs(GR_I64, f->a);
  if (!y) return gr_errcode();
  int64_t *out = gr_i64(y); // (n)
  int64_t n = gr_numel(y), nb = (n + 1) / 2;
  gr_rng_state at = gr_rng_take(2 * (uint64_t)n);
  /* two elements per counter, 64 random bits each */
#pragma omp parallel for schedule(static) if (nb > 2 * PAR_MIN_BLOCKS)
  for (int64_t b = 0; b < nb; b++) {
    uint32_t w[4];
    gr_philox(at.seed, at.stream, at.offset + (uint64_t)b, w);
    for (int64_t j = 0; j < 2 && 2 * b + j < n; j++)
      out[2 * b + j] = (int64_t)((uint64_t)lo + below(w[2 * j], w[2 * j + 1], range));
  }
  f->out[0] = y;
  return GR_OK;
}

gr_tensor *gr_randint(int ndim, const int64_t *shape, int64_t lo, int64_t hi) {
  if (!check_shape("randint", ndim, shape)) return NULL;
  if (hi <= lo)
    return gr_fail_null(GR_EARG, "randint: needs lo < hi, got [%lld, %lld)", (long long)lo,
                        (long long)hi);
  gr_attrs a = {.i = {0}};
  put_shape(&a, ndim, shape);
  a.i[GR_MAX_DIM + 1] = lo;
  a.i[GR_MAX_DIM + 2] = hi;
  return gr_apply1(GR_OP_randint, 0, NULL, &a);
}

/* --- randperm ------------------------------------------------------------------------------ */

gr_status randperm_forward(gr_fwd *f) {
  int64_t n = f->a->i[0];
  gr_tensor *y = gr_empty(GR_I64, 1, &n);
  if (!y) return gr_errcode();
  int64_t *out = gr_i64(y); // (n)
  for (int64_t i = 0; i < n; i++) out[i] = i;
  /* Fisher-Yates from the top; swap k takes words 2k and 2k+1 */
  uint64_t swaps = n > 1 ? (uint64_t)n - 1 : 0;
  gr_rng_state at = gr_rng_take(2 * swaps);
  uint32_t w[4];
  for (uint64_t k = 0; k < swaps; k++) {
    if (k % 2 == 0) gr_philox(at.seed, at.stream, at.offset + k / 2, w);
    int64_t i = n - 1 - (int64_t)k;
    int64_t j = (int64_t)below(w[2 * (k % 2)], w[2 * (k % 2) + 1], (uint64_t)i + 1);
    int64_t t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  f->out[0] = y;
  return GR_OK;
}

gr_tensor *gr_randperm(int64_t n) {
  if (n < 0) return gr_fail_null(GR_EARG, "randperm: n must be >= 0, got %lld", (long long)n);
  gr_attrs a = {.i = {0}};
  a.i[0] = n;
  return gr_apply1(GR_OP_randperm, 0, NULL, &a);
}
