/* Random ops. Every value comes from the one Philox4x32-10 generator
 * (rng.h), on its current stream: a tensor of n values reserves its
 * counters with gr_rng_take, and element i is computed from (seed, stream,
 * base counter, i) alone. So a draw is the same for any number of threads,
 * and the stream advances by the same amount whatever the values turned
 * out to be.
 *
 * Words per element: uniform, normal, bernoulli 1 (word i is word i%4 of
 * counter base + i/4); randint and trunc_normal 2 (words 2i, 2i+1: words
 * 2(i%2), 2(i%2)+1 of counter base + i/2); randperm 2 per swap. */
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
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (nb > PAR_MIN_BLOCKS)
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
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (nb > PAR_MIN_BLOCKS)
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

/* --- the normal's distribution function and quantile -----------------------------------------
 * Phi from erfc, whose relative accuracy holds in the lower tail (erfc of a
 * large argument), so the quantile works in the lower half, p <= 1/2, and
 * reflects: Q(p) = -Q(1 - p), with 1 - p exact for p >= 1/2. A start from
 * Acklam's rational approximations (relative error below 1.2e-9; central
 * for p in [0.02425, 1/2], a function of sqrt(-2 log p) below), then one
 * Halley step on Phi(x) - p, which triples the correct digits. */

#define SQRT_HALF 0.70710678118654752440
#define SQRT_2PI 2.50662827463100050242

double gr_normal_cdf(double x) { return 0.5 * erfc(-x * SQRT_HALF); }

/* Q(p) for p in (0, 1/2]: a number <= 0 */
static double quantile_lower(double p) {
  static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                              -2.759285104469687e+02, 1.383577518672690e+02,
                              -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                              -1.556989798598866e+02, 6.680131188771972e+01,
                              -1.328068155288572e+01};
  static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                              -2.400758277161838e+00, -2.549732539343734e+00,
                              4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01,
                              2.445134137142996e+00, 3.754408661907416e+00};
  double x;
  if (p < 0.02425) {
    double q = sqrt(-2 * log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  /* Halley: e / phi(x) is the Newton step; exp(x^2/2) overflows past |x| ~ 37.6,
   * where p is below 1e-300 and the start is kept */
  if (x * x < 1400) {
    double e = gr_normal_cdf(x) - p, u = e * SQRT_2PI * exp(x * x / 2);
    x -= u / (1 + x * u / 2);
  }
  return x;
}

double gr_normal_quantile(double p) {
  if (!(p > 0 && p < 1)) return p == 0 ? -INFINITY : p == 1 ? INFINITY : NAN;
  return p <= 0.5 ? quantile_lower(p) : -quantile_lower(1 - p);
}

/* --- trunc_normal ------------------------------------------------------------------------------
 * z ~ N(0,1) restricted to [a, b] by inverse CDF: with u uniform in (0, 1),
 * z has lower tail P(Z < z) = Phi(a) + u m and upper tail Phi(-b) + (1-u) m,
 * m = Phi(b) - Phi(a) the interval's mass. The smaller of the two is the
 * accurate one (Phi(a) alone is 1 - 6e-16 at a = 8, with nothing left of
 * the tail), so z is Q(lower) or -Q(upper), whichever is smaller. Each
 * element takes 64 bits, of which 52 make u = (2v + 1) / 2^53: both u and
 * 1 - u are exact, never 0 or 1. attrs: the shape; f = mean, std, a, b. */

/* The tails outside [a, b] and its mass, each computed where it is accurate. */
typedef struct trunc_mass {
  double below, above, mass; // Phi(a), Phi(-b), Phi(b) - Phi(a)
} trunc_mass;

static trunc_mass mass_of(double a, double b) {
  trunc_mass t = {gr_normal_cdf(a), gr_normal_cdf(-b), 0};
  if (b <= 0) t.mass = gr_normal_cdf(b) - t.below;
  else if (a >= 0) t.mass = gr_normal_cdf(-a) - t.above;
  else t.mass = 1 - t.below - t.above;
  return t;
}

/* z in [a, b] for the 64 random bits (hi, lo) */
static double trunc_value(uint32_t hi, uint32_t lo, trunc_mass t, double a, double b) {
  uint64_t v = ((uint64_t)hi << 32 | lo) >> 12; // 52 bits
  double u = (double)(2 * v + 1) * 0x1p-53;
  double lower = t.below + u * t.mass, upper = t.above + (1 - u) * t.mass;
  double z = lower <= upper ? gr_normal_quantile(lower) : -gr_normal_quantile(upper);
  return z < a ? a : z > b ? b : z; /* rounding at the ends stays inside */
}

gr_status trunc_normal_forward(gr_fwd *f) {
  double mean = f->a->f[0], std = f->a->f[1], a = f->a->f[2], b = f->a->f[3];
  gr_tensor *y = empty_from_attrs(GR_F32, f->a);
  if (!y) return gr_errcode();
  float *out = gr_f32(y); // (n)
  int64_t n = gr_numel(y), nb = (n + 1) / 2;
  gr_rng_state at = gr_rng_take(2 * (uint64_t)n);
  trunc_mass t = mass_of(a, b);
  /* two elements per counter, 64 random bits each */
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (nb > PAR_MIN_BLOCKS / 8)
  for (int64_t k = 0; k < nb; k++) {
    uint32_t w[4];
    gr_philox(at.seed, at.stream, at.offset + (uint64_t)k, w);
    for (int64_t j = 0; j < 2 && 2 * k + j < n; j++)
      out[2 * k + j] = (float)(mean + std * trunc_value(w[2 * j], w[2 * j + 1], t, a, b));
  }
  f->out[0] = y;
  return GR_OK;
}

gr_tensor *gr_trunc_normal(int ndim, const int64_t *shape, double mean, double std, double a,
                           double b) {
  if (!check_shape("trunc_normal", ndim, shape)) return NULL;
  if (!isfinite(mean) || !isfinite(std) || std < 0)
    return gr_fail_null(GR_EARG, "trunc_normal: needs a finite mean and std >= 0, got mean %g, "
                        "std %g", mean, std);
  if (!isfinite(a) || !isfinite(b) || !(a < b))
    return gr_fail_null(GR_EARG, "trunc_normal: needs finite bounds a < b (in units of std), got "
                        "[%g, %g]", a, b);
  trunc_mass t = mass_of(a, b);
  if (!(t.mass > 0))
    return gr_fail_null(GR_EARG, "trunc_normal: [%g, %g] holds probability %g, too little to "
                        "draw from in double precision", a, b, t.mass);
  gr_attrs at = {.f = {mean, std, a, b}};
  put_shape(&at, ndim, shape);
  return gr_apply1(GR_OP_trunc_normal, 0, NULL, &at);
}

/* --- bernoulli and dropout's mask ------------------------------------------------------------- */

/* out[i] = (u_i < p[i]) ? one : 0 with u_i = word i / 2^32; p NULL: every
 * p[i] is p0. p = 0 never gives one, p = 1 always does. */
static void bernoulli_fill(float *out, const float *p, float p0, float one, int64_t n) {
  int64_t nb = (n + 3) / 4;
  gr_rng_state at = gr_rng_take((uint64_t)n);
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (nb > PAR_MIN_BLOCKS)
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
      double bad = pp[i]; /* read before the copy it lives in is released */
      gr_release(pc);
      return gr_fail(GR_EARG, "bernoulli: p must be in [0, 1], got %g at element %lld of %s", bad,
                     (long long)i, gr_shape_str(p));
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
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (nb > 2 * PAR_MIN_BLOCKS)
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
