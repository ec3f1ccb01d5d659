/* The kernel table for AVX2 + FMA. Compiled with its own flags; dispatch.c
 * uses it only when the CPU has both.
 *
 * Agreement with scalar.c: elementwise arithmetic and the optimizer updates
 * do the same IEEE operations in the same order (no FMA), so they match
 * bit for bit; exp/tanh/sigmoid are polynomial approximations within a few
 * ulp; sums accumulate in double lanes, in a different order than the
 * scalar loop. Tails use masked loads and stores (vmaskmov never touches
 * the lanes it skips, so reading past the end cannot fault). */
#include <immintrin.h>
#include <math.h>

#include "kernels/fir.h"
#include "kernels/table.h"

/* --- loops ---------------------------------------------------------------------------
 * MAP8 runs BODY over 8 floats at a time and once more, masked, over the
 * tail. BODY reads with LD(p) and writes with ST(p, v); in the main loop
 * `full` is the constant 1, so the masks fold away. */
static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static inline __m256i tail_mask(int64_t rem) {
  return _mm256_loadu_si256((const __m256i *)(mask_table + 8 - rem));
}
static inline __m256 ld(const float *p, __m256i k, int full) {
  return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, k);
}
static inline void st(float *p, __m256 v, __m256i k, int full) {
  if (full) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, k, v);
}
#define LD(p) ld((p), k, full)
#define ST(p, v) st((p), (v), k, full)
#define MAP8(n, ...)                            \
  {                                             \
    int64_t i = 0;                              \
    for (; i + 8 <= (n); i += 8) {              \
      const __m256i k = _mm256_setzero_si256(); \
      const int full = 1;                       \
      __VA_ARGS__                               \
    }                                           \
    if (i < (n)) {                              \
      const __m256i k = tail_mask((n) - i);     \
      const int full = 0;                       \
      __VA_ARGS__                               \
    }                                           \
  }

#define SET1 _mm256_set1_ps

/* --- arithmetic ---------------------------------------------------------------------- */

static void add(float *o, const float *a, const float *b, int64_t n) {
  MAP8(n, ST(o + i, _mm256_add_ps(LD(a + i), LD(b + i)));)
}
static void sub(float *o, const float *a, const float *b, int64_t n) {
  MAP8(n, ST(o + i, _mm256_sub_ps(LD(a + i), LD(b + i)));)
}
static void mul(float *o, const float *a, const float *b, int64_t n) {
  MAP8(n, ST(o + i, _mm256_mul_ps(LD(a + i), LD(b + i)));)
}
static void divide(float *o, const float *a, const float *b, int64_t n) {
  MAP8(n, ST(o + i, _mm256_div_ps(LD(a + i), LD(b + i)));)
}
static void affine(float *o, const float *a, float s, float c, int64_t n) {
  __m256 vs = SET1(s), vc = SET1(c);
  MAP8(n, ST(o + i, _mm256_add_ps(_mm256_mul_ps(LD(a + i), vs), vc));)
}
static void add_s(float *o, const float *a, float s, int64_t n) {
  __m256 vs = SET1(s);
  MAP8(n, ST(o + i, _mm256_add_ps(LD(a + i), vs));)
}
static void mul_s(float *o, const float *a, float s, int64_t n) {
  __m256 vs = SET1(s);
  MAP8(n, ST(o + i, _mm256_mul_ps(LD(a + i), vs));)
}
/* each half of 8 floats widened to 4 doubles, divided, narrowed: the
 * scalar loop's one rounding */
static void div_sd(float *o, const float *a, double s, int64_t n) {
  __m256d vs = _mm256_set1_pd(s);
  MAP8(n, __m256 v = LD(a + i);
       __m128 lo = _mm256_cvtpd_ps(_mm256_div_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), vs));
       __m128 hi = _mm256_cvtpd_ps(_mm256_div_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), vs));
       ST(o + i, _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1));)
}
static void axpy(float *y, float alpha, const float *x, int64_t n) {
  __m256 va = SET1(alpha);
  MAP8(n, ST(y + i, _mm256_add_ps(LD(y + i), _mm256_mul_ps(va, LD(x + i))));)
}
static void scale_shift(float *o, const float *x, float mean, float scale, float shift,
                        int64_t n) {
  __m256 vm = SET1(mean), vs = SET1(scale), vb = SET1(shift);
  MAP8(n, ST(o + i, _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(LD(x + i), vm), vs), vb));)
}

/* --- activations --------------------------------------------------------------------- */

/* all ones where x > 0; false for NaN, as in the scalar `x > 0 ? ... : ...` */
static inline __m256 positive(__m256 x) {
  return _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
}
/* all ones where x > 0 or x is NaN: relu keeps a NaN, as the scalar `x <= 0 ? 0 : x` */
static inline __m256 kept_by_relu(__m256 x) {
  return _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NLE_UQ);
}
static void relu(float *o, const float *x, int64_t n) {
  MAP8(n, {
    __m256 v = LD(x + i);
    ST(o + i, _mm256_and_ps(v, kept_by_relu(v)));
  })
}
static void leaky_relu(float *o, const float *x, float slope, int64_t n) {
  __m256 vs = SET1(slope);
  MAP8(n, {
    __m256 v = LD(x + i);
    ST(o + i, _mm256_blendv_ps(_mm256_mul_ps(v, vs), v, positive(v)));
  })
}
static void leaky_relu_grad(float *o, const float *x, const float *g, float slope, int64_t n) {
  __m256 vs = SET1(slope);
  MAP8(n, {
    __m256 gv = LD(g + i);
    ST(o + i, _mm256_blendv_ps(_mm256_mul_ps(gv, vs), gv, positive(LD(x + i))));
  })
}

static void relu_grad(float *o, const float *x, const float *g, int64_t n) {
  MAP8(n, { ST(o + i, _mm256_and_ps(LD(g + i), kept_by_relu(LD(x + i)))); })
}

/* expm1(r) for |r| <= ln2/2: r + r^2 (1/2 + r/6 + ... + r^5/5040). The
 * Taylor tail after r^7 is below 0.3 ulp there, and keeping r as the
 * leading term makes small results accurate (tanh needs that). */
static inline __m256 expm1_reduced(__m256 r) {
  __m256 q = SET1(1.0f / 5040);
  q = _mm256_fmadd_ps(q, r, SET1(1.0f / 720));
  q = _mm256_fmadd_ps(q, r, SET1(1.0f / 120));
  q = _mm256_fmadd_ps(q, r, SET1(1.0f / 24));
  q = _mm256_fmadd_ps(q, r, SET1(1.0f / 6));
  q = _mm256_fmadd_ps(q, r, SET1(0.5f));
  return _mm256_fmadd_ps(q, _mm256_mul_ps(r, r), r);
}

/* x = n ln2 + r with |r| <= ln2/2. ln2 is split in two (Cody-Waite): the
 * high part has few bits, so x - n*LN2_HI is exact for the n we see. */
static inline __m256 reduce(__m256 x, __m256 *n) {
  *n = _mm256_round_ps(_mm256_mul_ps(x, SET1(1.44269504088896341f)),
                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(*n, SET1(0.693359375f), x);
  return _mm256_fnmadd_ps(*n, SET1(-2.12194440e-4f), r);
}

/* 2^n for integer n in the normal exponent range */
static inline __m256 pow2i(__m256i n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
}

static inline __m256 exp8(__m256 x) {
  /* past these bounds exp is inf or 0 anyway; clamping keeps n in [-150, 128] */
  __m256 xc = _mm256_min_ps(_mm256_max_ps(x, SET1(-104.0f)), SET1(89.0f));
  __m256 n, r = reduce(xc, &n);
  __m256 p = _mm256_add_ps(expm1_reduced(r), SET1(1.0f));
  /* 2^n in two normal halves: p * 2^n1 is exact, the second product rounds
   * once, also into subnormals or to inf */
  __m256i ni = _mm256_cvtps_epi32(n), n1 = _mm256_srai_epi32(ni, 1);
  __m256i n2 = _mm256_sub_epi32(ni, n1);
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, pow2i(n1)), pow2i(n2));
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

/* tanh(x) = sign(x) e / (e + 2) with e = expm1(2|x|); 1 past |x| = 10. */
static inline __m256 tanh8(__m256 x) {
  const __m256 sign = SET1(-0.0f);
  __m256 ax = _mm256_andnot_ps(sign, x);
  __m256 t = _mm256_min_ps(_mm256_add_ps(ax, ax), SET1(20.0f));
  __m256 n, r = reduce(t, &n);
  /* expm1(t) = 2^n expm1(r) + (2^n - 1); the second part is exact while it matters */
  __m256 p2 = pow2i(_mm256_cvtps_epi32(n));
  __m256 e = _mm256_fmadd_ps(p2, expm1_reduced(r), _mm256_sub_ps(p2, SET1(1.0f)));
  __m256 y = _mm256_div_ps(e, _mm256_add_ps(e, SET1(2.0f)));
  y = _mm256_or_ps(y, _mm256_and_ps(x, sign));
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

/* 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below: no overflow, and
 * accurate for large negative x. */
static inline __m256 sigmoid8(__m256 x) {
  __m256 ax = _mm256_andnot_ps(SET1(-0.0f), x);
  __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), ax));
  __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  __m256 num = _mm256_blendv_ps(SET1(1.0f), e, neg);
  return _mm256_div_ps(num, _mm256_add_ps(SET1(1.0f), e));
}

static void vexp(float *o, const float *x, int64_t n) { MAP8(n, ST(o + i, exp8(LD(x + i)));) }
static void vtanh(float *o, const float *x, int64_t n) { MAP8(n, ST(o + i, tanh8(LD(x + i)));) }
static void sigmoid(float *o, const float *x, int64_t n) {
  MAP8(n, ST(o + i, sigmoid8(LD(x + i)));)
}

/* --- reductions ---------------------------------------------------------------------
 * 16 floats per step into four accumulators of 4 doubles; the tail (< 16)
 * goes one float at a time. STEP adds a vector of doubles to
 * an accumulator. */
static inline __m256d lo4(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
static inline __m256d hi4(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
static inline double hsum(__m256d a) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

#define REDUCE(x, n, STEP, STEP1)                                                \
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;                   \
  int64_t i = 0;                                                                 \
  for (; i + 16 <= (n); i += 16) {                                               \
    __m256 u = _mm256_loadu_ps((x) + i), w = _mm256_loadu_ps((x) + i + 8);       \
    a0 = STEP(a0, lo4(u));                                                       \
    a1 = STEP(a1, hi4(u));                                                       \
    a2 = STEP(a2, lo4(w));                                                       \
    a3 = STEP(a3, hi4(w));                                                       \
  }                                                                              \
  double s = hsum(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));  \
  for (; i < (n); i++) s += STEP1((double)(x)[i]);                               \
  return s;

#define STEP_SUM(acc, d) _mm256_add_pd(acc, d)
#define STEP_SQ(acc, d) _mm256_fmadd_pd(d, d, acc)
#define STEP_DEV(acc, d) _mm256_fmadd_pd(_mm256_sub_pd(d, vm), _mm256_sub_pd(d, vm), acc)
#define ONE_SUM(d) (d)
#define ONE_SQ(d) ((d) * (d))
#define ONE_DEV(d) (((d) - dm) * ((d) - dm))

static double sum(const float *x, int64_t n) { REDUCE(x, n, STEP_SUM, ONE_SUM) }
static double sumsq(const float *x, int64_t n) { REDUCE(x, n, STEP_SQ, ONE_SQ) }
static double sumsq_dev(const float *x, float mean, int64_t n) {
  const double dm = mean;
  const __m256d vm = _mm256_set1_pd(dm);
  REDUCE(x, n, STEP_DEV, ONE_DEV)
}

/* NaN wins, as in the scalar loop; otherwise the largest value (-inf for n = 0). */
static float vmax(const float *x, int64_t n) {
  const __m256 ninf = SET1(-INFINITY);
  __m256 m = ninf, nan = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    m = _mm256_max_ps(m, v);
  }
  if (i < n) {
    __m256i k = tail_mask(n - i);
    __m256 v = _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + i, k), _mm256_castsi256_ps(k));
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    m = _mm256_max_ps(m, v);
  }
  if (_mm256_movemask_ps(nan)) return NAN;
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

/* --- optimizer updates ---------------------------------------------------------------
 * The same operations in the same order as scalar.c, so every ISA updates
 * parameters identically. */
static void adam(float *p, const float *g, float *m, float *v, int64_t n, float lr, float b1,
                 float b2, float eps, float wd, float bc1, float bc2, int decoupled) {
  const __m256 vb1 = SET1(b1), vb2 = SET1(b2), c1 = SET1(1 - b1), c2 = SET1(1 - b2);
  const __m256 veps = SET1(eps), vwd = SET1(wd), vlrwd = SET1(lr * wd);
  const __m256 inv = SET1(1.0f / sqrtf(bc2)), step = SET1(lr / bc1);
  MAP8(n, {
    __m256 pi = LD(p + i), gi = LD(g + i);
    if (decoupled) pi = _mm256_sub_ps(pi, _mm256_mul_ps(vlrwd, pi));
    else gi = _mm256_add_ps(gi, _mm256_mul_ps(vwd, pi));
    __m256 mi = _mm256_add_ps(_mm256_mul_ps(vb1, LD(m + i)), _mm256_mul_ps(c1, gi));
    __m256 vi = _mm256_add_ps(_mm256_mul_ps(vb2, LD(v + i)),
                              _mm256_mul_ps(_mm256_mul_ps(c2, gi), gi));
    __m256 den = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(vi), inv), veps);
    ST(m + i, mi);
    ST(v + i, vi);
    ST(p + i, _mm256_sub_ps(pi, _mm256_div_ps(_mm256_mul_ps(step, mi), den)));
  })
}

static void sgd(float *p, const float *g, float *buf, int64_t n, float lr, float momentum,
                float dampening, float wd, int nesterov, int first) {
  const __m256 vlr = SET1(lr), vmom = SET1(momentum), vd = SET1(1 - dampening), vwd = SET1(wd);
  MAP8(n, {
    __m256 pi = LD(p + i);
    __m256 gi = _mm256_add_ps(LD(g + i), _mm256_mul_ps(vwd, pi));
    if (momentum != 0) {
      __m256 b = first ? gi
                       : _mm256_add_ps(_mm256_mul_ps(vmom, LD(buf + i)), _mm256_mul_ps(vd, gi));
      ST(buf + i, b);
      gi = nesterov ? _mm256_add_ps(gi, _mm256_mul_ps(vmom, b)) : b;
    }
    ST(p + i, _mm256_sub_ps(pi, _mm256_mul_ps(vlr, gi)));
  })
}

static void rmsprop(float *p, const float *g, float *sq, int64_t n, float lr, float alpha,
                    float eps, float wd) {
  const __m256 vlr = SET1(lr), va = SET1(alpha), c = SET1(1 - alpha), veps = SET1(eps),
               vwd = SET1(wd);
  MAP8(n, {
    __m256 pi = LD(p + i);
    __m256 gi = _mm256_add_ps(LD(g + i), _mm256_mul_ps(vwd, pi));
    __m256 s = _mm256_add_ps(_mm256_mul_ps(va, LD(sq + i)),
                             _mm256_mul_ps(_mm256_mul_ps(c, gi), gi));
    ST(sq + i, s);
    __m256 den = _mm256_add_ps(_mm256_sqrt_ps(s), veps);
    ST(p + i, _mm256_sub_ps(pi, _mm256_div_ps(_mm256_mul_ps(vlr, gi), den)));
  })
}

static const gr_kernel_table table = {
    .isa = "avx2", .add = add, .sub = sub, .mul = mul, .div = divide, .affine = affine,
    .add_s = add_s, .mul_s = mul_s, .div_sd = div_sd, .axpy = axpy, .relu = relu, .leaky_relu = leaky_relu,
    .leaky_relu_grad = leaky_relu_grad, .relu_grad = relu_grad, .exp = vexp, .tanh = vtanh, .sigmoid = sigmoid,
    .sum = sum, .sumsq = sumsq, .sumsq_dev = sumsq_dev, .max = vmax, .scale_shift = scale_shift,
    .adam = adam, .sgd = sgd, .rmsprop = rmsprop, .fir_block = gr_fir_block_avx2,
};
const gr_kernel_table *const gr_kernels_avx2_ptr = &table;
