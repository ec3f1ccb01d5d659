/* The kernel table for AVX-512 (F, BW, DQ, VL). Compiled with its own flags;
 * dispatch.c uses it only when the CPU has these extensions.
 *
 * Agreement with scalar.c: elementwise arithmetic and the optimizer updates
 * do the same IEEE operations in the same order (no FMA), so they match
 * bit for bit; exp/tanh/sigmoid are polynomial approximations within a few
 * ulp; sums accumulate in double lanes, in a different order than the
 * scalar loop. Tails use masked loads and stores. */
#include <immintrin.h>
#include <math.h>

#include "kernels/fir.h"
#include "kernels/table.h"

/* --- loops ---------------------------------------------------------------------------
 * MAP16 runs BODY over 16 floats at a time and once more, masked, over the
 * tail. BODY reads with LD(p) and writes with ST(p, v); in the main loop
 * `full` is the constant 1, so the masks fold away. */
static inline __mmask16 tail_mask(int64_t rem) {
  return rem >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << rem) - 1);
}
static inline __m512 ld(const float *p, __mmask16 k, int full) {
  return full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(k, p);
}
static inline void st(float *p, __m512 v, __mmask16 k, int full) {
  if (full) _mm512_storeu_ps(p, v);
  else _mm512_mask_storeu_ps(p, k, v);
}
#define LD(p) ld((p), k, full)
#define ST(p, v) st((p), (v), k, full)
#define MAP16(n, ...)                           \
  {                                             \
    int64_t i = 0;                              \
    for (; i + 16 <= (n); i += 16) {            \
      const __mmask16 k = 0xffff;               \
      const int full = 1;                       \
      __VA_ARGS__                               \
    }                                           \
    if (i < (n)) {                              \
      const __mmask16 k = tail_mask((n) - i);   \
      const int full = 0;                       \
      __VA_ARGS__                               \
    }                                           \
  }

#define SET1 _mm512_set1_ps

/* --- arithmetic ---------------------------------------------------------------------- */

static void add(float *o, const float *a, const float *b, int64_t n) {
  MAP16(n, ST(o + i, _mm512_add_ps(LD(a + i), LD(b + i)));)
}
static void sub(float *o, const float *a, const float *b, int64_t n) {
  MAP16(n, ST(o + i, _mm512_sub_ps(LD(a + i), LD(b + i)));)
}
static void mul(float *o, const float *a, const float *b, int64_t n) {
  MAP16(n, ST(o + i, _mm512_mul_ps(LD(a + i), LD(b + i)));)
}
static void divide(float *o, const float *a, const float *b, int64_t n) {
  MAP16(n, ST(o + i, _mm512_div_ps(LD(a + i), LD(b + i)));)
}
static void affine(float *o, const float *a, float s, float c, int64_t n) {
  __m512 vs = SET1(s), vc = SET1(c);
  MAP16(n, ST(o + i, _mm512_add_ps(_mm512_mul_ps(LD(a + i), vs), vc));)
}
static void add_s(float *o, const float *a, float s, int64_t n) {
  __m512 vs = SET1(s);
  MAP16(n, ST(o + i, _mm512_add_ps(LD(a + i), vs));)
}
static void mul_s(float *o, const float *a, float s, int64_t n) {
  __m512 vs = SET1(s);
  MAP16(n, ST(o + i, _mm512_mul_ps(LD(a + i), vs));)
}
/* each half of 16 floats widened to 8 doubles, divided, narrowed: the
 * scalar loop's one rounding */
static void div_sd(float *o, const float *a, double s, int64_t n) {
  __m512d vs = _mm512_set1_pd(s);
  MAP16(n, __m512 v = LD(a + i);
        __m256 lo = _mm512_cvtpd_ps(_mm512_div_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), vs));
        __m256 hi = _mm512_cvtpd_ps(_mm512_div_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), vs));
        ST(o + i, _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1));)
}
static void axpy(float *y, float alpha, const float *x, int64_t n) {
  __m512 va = SET1(alpha);
  MAP16(n, ST(y + i, _mm512_add_ps(LD(y + i), _mm512_mul_ps(va, LD(x + i))));)
}
static void scale_shift(float *o, const float *x, float mean, float scale, float shift,
                        int64_t n) {
  __m512 vm = SET1(mean), vs = SET1(scale), vb = SET1(shift);
  MAP16(n, ST(o + i, _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(LD(x + i), vm), vs), vb));)
}

/* --- activations --------------------------------------------------------------------- */

/* x > 0 is false for NaN, as in the scalar `x > 0 ? ... : ...` */
static inline __mmask16 positive(__m512 x) {
  return _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
}
/* x > 0 or x is NaN: relu keeps a NaN, as the scalar `x <= 0 ? 0 : x` */
static inline __mmask16 kept_by_relu(__m512 x) {
  return _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NLE_UQ);
}
static void relu(float *o, const float *x, int64_t n) {
  MAP16(n, {
    __m512 v = LD(x + i);
    ST(o + i, _mm512_maskz_mov_ps(kept_by_relu(v), v));
  })
}
static void leaky_relu(float *o, const float *x, float slope, int64_t n) {
  __m512 vs = SET1(slope);
  MAP16(n, {
    __m512 v = LD(x + i);
    ST(o + i, _mm512_mask_blend_ps(positive(v), _mm512_mul_ps(v, vs), v));
  })
}
static void leaky_relu_grad(float *o, const float *x, const float *g, float slope, int64_t n) {
  __m512 vs = SET1(slope);
  MAP16(n, {
    __m512 gv = LD(g + i);
    ST(o + i, _mm512_mask_blend_ps(positive(LD(x + i)), _mm512_mul_ps(gv, vs), gv));
  })
}

static void relu_grad(float *o, const float *x, const float *g, int64_t n) {
  MAP16(n, { ST(o + i, _mm512_maskz_mov_ps(kept_by_relu(LD(x + i)), LD(g + i))); })
}

/* expm1(r) for |r| <= ln2/2: r + r^2 (1/2 + r/6 + ... + r^5/5040). The
 * Taylor tail after r^7 is below 0.3 ulp there, and keeping r as the
 * leading term makes small results accurate (tanh needs that). */
static inline __m512 expm1_reduced(__m512 r) {
  __m512 q = SET1(1.0f / 5040);
  q = _mm512_fmadd_ps(q, r, SET1(1.0f / 720));
  q = _mm512_fmadd_ps(q, r, SET1(1.0f / 120));
  q = _mm512_fmadd_ps(q, r, SET1(1.0f / 24));
  q = _mm512_fmadd_ps(q, r, SET1(1.0f / 6));
  q = _mm512_fmadd_ps(q, r, SET1(0.5f));
  return _mm512_fmadd_ps(q, _mm512_mul_ps(r, r), r);
}

/* x = n ln2 + r with |r| <= ln2/2. ln2 is split in two (Cody-Waite): the
 * high part has few bits, so x - n*LN2_HI is exact for the n we see. */
static inline __m512 reduce(__m512 x, __m512 *n) {
  *n = _mm512_roundscale_ps(_mm512_mul_ps(x, SET1(1.44269504088896341f)),
                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(*n, SET1(0.693359375f), x);
  return _mm512_fnmadd_ps(*n, SET1(-2.12194440e-4f), r);
}

static inline __m512 exp16(__m512 x) {
  /* past these bounds exp is inf or 0 anyway; clamping keeps n finite */
  __m512 xc = _mm512_min_ps(_mm512_max_ps(x, SET1(-104.0f)), SET1(89.0f));
  __m512 n, r = reduce(xc, &n);
  /* scalef scales by 2^n with one rounding, also into subnormals and overflow */
  __m512 y = _mm512_scalef_ps(_mm512_add_ps(expm1_reduced(r), SET1(1.0f)), n);
  return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

/* tanh(x) = sign(x) e / (e + 2) with e = expm1(2|x|); 1 past |x| = 10. */
static inline __m512 tanh16(__m512 x) {
  const __m512 sign = SET1(-0.0f);
  __m512 ax = _mm512_andnot_ps(sign, x);
  __m512 t = _mm512_min_ps(_mm512_add_ps(ax, ax), SET1(20.0f));
  __m512 n, r = reduce(t, &n);
  /* expm1(t) = 2^n expm1(r) + (2^n - 1); the second part is exact while it matters */
  __m512 p2 = _mm512_scalef_ps(SET1(1.0f), n);
  __m512 e = _mm512_fmadd_ps(p2, expm1_reduced(r), _mm512_sub_ps(p2, SET1(1.0f)));
  __m512 y = _mm512_div_ps(e, _mm512_add_ps(e, SET1(2.0f)));
  y = _mm512_or_ps(y, _mm512_and_ps(x, sign));
  return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

/* 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below: no overflow, and
 * accurate for large negative x. */
static inline __m512 sigmoid16(__m512 x) {
  __m512 ax = _mm512_andnot_ps(SET1(-0.0f), x);
  __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), ax));
  __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  __m512 num = _mm512_mask_mov_ps(SET1(1.0f), neg, e);
  return _mm512_div_ps(num, _mm512_add_ps(SET1(1.0f), e));
}

static void vexp(float *o, const float *x, int64_t n) { MAP16(n, ST(o + i, exp16(LD(x + i)));) }
static void vtanh(float *o, const float *x, int64_t n) { MAP16(n, ST(o + i, tanh16(LD(x + i)));) }
static void sigmoid(float *o, const float *x, int64_t n) {
  MAP16(n, ST(o + i, sigmoid16(LD(x + i)));)
}

/* --- reductions ---------------------------------------------------------------------
 * 32 floats per step into four accumulators of 8 doubles; the tail goes 8
 * floats at a time, masked. STEP adds a vector of doubles to
 * an accumulator. */
static inline __mmask8 tail_mask8(int64_t rem) {
  return rem >= 8 ? (__mmask8)0xff : (__mmask8)((1u << rem) - 1);
}
static inline __m512d lo8(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
static inline __m512d hi8(__m512 v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }

#define REDUCE(x, n, STEP)                                                       \
  __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;                   \
  int64_t i = 0;                                                                 \
  for (; i + 32 <= (n); i += 32) {                                               \
    __m512 u = _mm512_loadu_ps((x) + i), w = _mm512_loadu_ps((x) + i + 16);      \
    const __mmask8 k = 0xff;                                                     \
    (void)k;                                                                     \
    a0 = STEP(a0, lo8(u), k);                                                    \
    a1 = STEP(a1, hi8(u), k);                                                    \
    a2 = STEP(a2, lo8(w), k);                                                    \
    a3 = STEP(a3, hi8(w), k);                                                    \
  }                                                                              \
  for (; i < (n); i += 8) {                                                      \
    const __mmask8 k = tail_mask8((n) - i);                                      \
    a0 = STEP(a0, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, (x) + i)), k);        \
  }                                                                              \
  return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));

#define STEP_SUM(acc, d, k) _mm512_add_pd(acc, d)
#define STEP_SQ(acc, d, k) _mm512_fmadd_pd(d, d, acc)
/* masked lanes must not add (0 - mean)^2 */
#define STEP_DEV(acc, d, k) \
  _mm512_mask3_fmadd_pd(_mm512_sub_pd(d, vm), _mm512_sub_pd(d, vm), acc, k)

static double sum(const float *x, int64_t n) { REDUCE(x, n, STEP_SUM) }
static double sumsq(const float *x, int64_t n) { REDUCE(x, n, STEP_SQ) }
static double sumsq_dev(const float *x, float mean, int64_t n) {
  const __m512d vm = _mm512_set1_pd((double)mean);
  REDUCE(x, n, STEP_DEV)
}

/* NaN wins, as in the scalar loop; otherwise the largest value (-inf for n = 0). */
static float vmax(const float *x, int64_t n) {
  __m512 m = SET1(-INFINITY);
  __mmask16 nan = 0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    m = _mm512_max_ps(m, v);
  }
  if (i < n) {
    __m512 v = _mm512_mask_loadu_ps(SET1(-INFINITY), tail_mask(n - i), x + i);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    m = _mm512_max_ps(m, v);
  }
  return nan ? NAN : _mm512_reduce_max_ps(m);
}

/* --- optimizer updates ---------------------------------------------------------------
 * The same operations in the same order as scalar.c, so every ISA updates
 * parameters identically. */
static void adam(float *p, const float *g, float *m, float *v, int64_t n, float lr, float b1,
                 float b2, float eps, float wd, float bc1, float bc2, int decoupled) {
  const __m512 vb1 = SET1(b1), vb2 = SET1(b2), c1 = SET1(1 - b1), c2 = SET1(1 - b2);
  const __m512 veps = SET1(eps), vwd = SET1(wd), vlrwd = SET1(lr * wd);
  const __m512 inv = SET1(1.0f / sqrtf(bc2)), step = SET1(lr / bc1);
  MAP16(n, {
    __m512 pi = LD(p + i), gi = LD(g + i);
    if (decoupled) pi = _mm512_sub_ps(pi, _mm512_mul_ps(vlrwd, pi));
    else gi = _mm512_add_ps(gi, _mm512_mul_ps(vwd, pi));
    __m512 mi = _mm512_add_ps(_mm512_mul_ps(vb1, LD(m + i)), _mm512_mul_ps(c1, gi));
    __m512 vi = _mm512_add_ps(_mm512_mul_ps(vb2, LD(v + i)),
                              _mm512_mul_ps(_mm512_mul_ps(c2, gi), gi));
    __m512 den = _mm512_add_ps(_mm512_mul_ps(_mm512_sqrt_ps(vi), inv), veps);
    ST(m + i, mi);
    ST(v + i, vi);
    ST(p + i, _mm512_sub_ps(pi, _mm512_div_ps(_mm512_mul_ps(step, mi), den)));
  })
}

static void sgd(float *p, const float *g, float *buf, int64_t n, float lr, float momentum,
                float dampening, float wd, int nesterov, int first) {
  const __m512 vlr = SET1(lr), vmom = SET1(momentum), vd = SET1(1 - dampening), vwd = SET1(wd);
  MAP16(n, {
    __m512 pi = LD(p + i);
    __m512 gi = _mm512_add_ps(LD(g + i), _mm512_mul_ps(vwd, pi));
    if (momentum != 0) {
      __m512 b = first ? gi
                       : _mm512_add_ps(_mm512_mul_ps(vmom, LD(buf + i)), _mm512_mul_ps(vd, gi));
      ST(buf + i, b);
      gi = nesterov ? _mm512_add_ps(gi, _mm512_mul_ps(vmom, b)) : b;
    }
    ST(p + i, _mm512_sub_ps(pi, _mm512_mul_ps(vlr, gi)));
  })
}

static void rmsprop(float *p, const float *g, float *sq, int64_t n, float lr, float alpha,
                    float eps, float wd) {
  const __m512 vlr = SET1(lr), va = SET1(alpha), c = SET1(1 - alpha), veps = SET1(eps),
               vwd = SET1(wd);
  MAP16(n, {
    __m512 pi = LD(p + i);
    __m512 gi = _mm512_add_ps(LD(g + i), _mm512_mul_ps(vwd, pi));
    __m512 s = _mm512_add_ps(_mm512_mul_ps(va, LD(sq + i)),
                             _mm512_mul_ps(_mm512_mul_ps(c, gi), gi));
    ST(sq + i, s);
    __m512 den = _mm512_add_ps(_mm512_sqrt_ps(s), veps);
    ST(p + i, _mm512_sub_ps(pi, _mm512_div_ps(_mm512_mul_ps(vlr, gi), den)));
  })
}

/* --- the convolutions' GEMM tile --------------------------------------------------------
 * 8 rows of 48 floats in 24 registers; each step loads three vectors of b
 * and broadcasts each of a's 8 floats into three FMAs. */
static void gemm_tile(float *c, int64_t ldc, const float *a, const float *b, int64_t kc, bool acc) {
  __m512 t[GR_TILE_M][3];
  /* fully unrolled, so that the 24 sums live in registers */
#pragma GCC unroll 8
  for (int r = 0; r < GR_TILE_M; r++)
#pragma GCC unroll 3
    for (int v = 0; v < 3; v++)
      t[r][v] = acc ? _mm512_loadu_ps(c + r * ldc + v * 16) : _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; k++, a += GR_TILE_M, b += GR_TILE_N) {
    __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16), b2 = _mm512_load_ps(b + 32);
#pragma GCC unroll 8
    for (int r = 0; r < GR_TILE_M; r++) {
      __m512 s = _mm512_set1_ps(a[r]);
      t[r][0] = _mm512_fmadd_ps(s, b0, t[r][0]);
      t[r][1] = _mm512_fmadd_ps(s, b1, t[r][1]);
      t[r][2] = _mm512_fmadd_ps(s, b2, t[r][2]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < GR_TILE_M; r++)
#pragma GCC unroll 3
    for (int v = 0; v < 3; v++) _mm512_storeu_ps(c + r * ldc + v * 16, t[r][v]);
}

/* The tile on NV vectors of columns, a's rows RA floats apart and its steps
 * ka: 8*NV sums in registers, NV loads of b and eight broadcasts of a per
 * step as on the whole tile. RA is a constant for packed a (1) and 0 for
 * any other, read from ra. */
static inline __attribute__((always_inline)) void tile_at(float *c, int64_t ldc, const float *a,
                                                          int64_t ra, int64_t ka, const float *b,
                                                          int64_t kc, bool acc, const int NV,
                                                          const int RA) {
  __m512 t[GR_TILE_M][3];
  if (RA) ra = RA;
#pragma GCC unroll 8
  for (int r = 0; r < GR_TILE_M; r++)
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++)
      t[r][v] = acc ? _mm512_loadu_ps(c + r * ldc + v * 16) : _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; k++, a += ka, b += GR_TILE_N) {
    __m512 bv[3];
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++) bv[v] = _mm512_load_ps(b + v * 16);
#pragma GCC unroll 8
    for (int r = 0; r < GR_TILE_M; r++) {
      __m512 s = _mm512_set1_ps(a[r * ra]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; v++) t[r][v] = _mm512_fmadd_ps(s, bv[v], t[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < GR_TILE_M; r++)
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++) _mm512_storeu_ps(c + r * ldc + v * 16, t[r][v]);
}

static void gemm_tile_at(float *c, int64_t ldc, const float *a, int64_t ra, int64_t ka,
                         const float *b, int64_t kc, bool acc, int nv) {
  if (ra == 1) {
    if (nv == 1) tile_at(c, ldc, a, ra, ka, b, kc, acc, 1, 1);
    else if (nv == 2) tile_at(c, ldc, a, ra, ka, b, kc, acc, 2, 1);
    else tile_at(c, ldc, a, ra, ka, b, kc, acc, 3, 1);
  } else {
    if (nv == 1) tile_at(c, ldc, a, ra, ka, b, kc, acc, 1, 0);
    else if (nv == 2) tile_at(c, ldc, a, ra, ka, b, kc, acc, 2, 0);
    else tile_at(c, ldc, a, ra, ka, b, kc, acc, 3, 0);
  }
}

/* one vector a run: NV loads and aligned stores a step */
static inline __attribute__((always_inline)) void runs_nv(float *b, const float *s,
                                                          const int64_t *koff, const int64_t *base,
                                                          int64_t kc, const int NV) {
  for (int64_t k = 0; k < kc; k++, b += GR_TILE_N) {
    const float *sk = s + koff[k];
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++) _mm512_store_ps(b + v * 16, _mm512_loadu_ps(sk + base[v]));
  }
}
static void pack_runs(float *b, const float *s, const int64_t *koff, const int64_t *base,
                      int64_t kc, int nv) {
  if (nv >= 3) runs_nv(b, s, koff, base, kc, 3);
  else if (nv == 2) runs_nv(b, s, koff, base, kc, 2);
  else runs_nv(b, s, koff, base, kc, 1);
}

/* 8 rows of 16 floats laid position by position in registers: pairs of
 * rows interleaved (unpack), then quads (shuffle): each 128-bit lane of
 * u[m] holds rows 0-3 (u[m+4]: rows 4-7) of position 4*lane + m; then
 * lanes regrouped so that each output vector holds two positions whole. */
static inline void interleave8x16(float *d, const __m512 *v) {
  __m512 t[8], u[8], p[4], q[4];
  for (int h = 0; h < 8; h += 4) {
    t[h] = _mm512_unpacklo_ps(v[h], v[h + 1]);
    t[h + 1] = _mm512_unpackhi_ps(v[h], v[h + 1]);
    t[h + 2] = _mm512_unpacklo_ps(v[h + 2], v[h + 3]);
    t[h + 3] = _mm512_unpackhi_ps(v[h + 2], v[h + 3]);
    u[h] = _mm512_shuffle_ps(t[h], t[h + 2], 0x44);
    u[h + 1] = _mm512_shuffle_ps(t[h], t[h + 2], 0xee);
    u[h + 2] = _mm512_shuffle_ps(t[h + 1], t[h + 3], 0x44);
    u[h + 3] = _mm512_shuffle_ps(t[h + 1], t[h + 3], 0xee);
  }
  /* u[h] is position m = h for rows 0-3 when h < 4, and u[h+4] rows 4-7 */
  for (int m = 0; m < 4; m++) {
    p[m] = _mm512_shuffle_f32x4(u[m], u[m + 4], 0x44); /* lanes 0, 1 of both */
    q[m] = _mm512_shuffle_f32x4(u[m], u[m + 4], 0xee); /* lanes 2, 3 */
  }
  for (int m = 0; m < 4; m += 2) {
    _mm512_storeu_ps(d + (0 + m) * 8, _mm512_shuffle_f32x4(p[m], p[m + 1], 0x88));
    _mm512_storeu_ps(d + (4 + m) * 8, _mm512_shuffle_f32x4(p[m], p[m + 1], 0xdd));
    _mm512_storeu_ps(d + (8 + m) * 8, _mm512_shuffle_f32x4(q[m], q[m + 1], 0x88));
    _mm512_storeu_ps(d + (12 + m) * 8, _mm512_shuffle_f32x4(q[m], q[m + 1], 0xdd));
  }
}
static void interleave8(float *d, const float *const *s, int nr, int64_t n) {
  __m512 v[8];
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int r = 0; r < 8; r++) v[r] = r < nr ? _mm512_loadu_ps(s[r] + i) : _mm512_setzero_ps();
    interleave8x16(d + i * 8, v);
  }
  for (; i < n; i++)
    for (int r = 0; r < 8; r++) d[i * 8 + r] = r < nr ? s[r][i] : 0.0f;
}

/* whole vectors, then the row's tail masked */
static void add_rows(float *d, int64_t dstep, const float *s, int64_t sstep, int64_t rows,
                     int64_t n) {
  const __mmask16 k = tail_mask(n % 16);
  const int64_t whole = n / 16 * 16;
  for (int64_t r = 0; r < rows; r++, d += dstep, s += sstep) {
    for (int64_t i = 0; i < whole; i += 16)
      _mm512_storeu_ps(d + i, _mm512_add_ps(_mm512_loadu_ps(d + i), _mm512_loadu_ps(s + i)));
    if (whole < n)
      _mm512_mask_storeu_ps(d + whole, k,
                            _mm512_add_ps(_mm512_maskz_loadu_ps(k, d + whole),
                                          _mm512_maskz_loadu_ps(k, s + whole)));
  }
}

/* 16 x 16 floats turned across in registers: pairs of rows interleaved by
 * floats, then by pairs, then lanes of 4 exchanged twice. */
static void transpose16(float *d, int64_t ldd, const float *const *s) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(s[i]);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    __m512d c = _mm512_castps_pd(t[i + 2]), e = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, e));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, e));
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; i++) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
    }
  for (int i = 0; i < 8; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
  for (int i = 0; i < 16; i++) _mm512_storeu_ps(d + i * ldd, r[i]);
}

/* --- depthwise rows ---------------------------------------------------------------------
 * Rows of a depthwise convolution are short (8 to 64 floats) and each tap
 * is a multiply-add over a whole row, so the sums of several rows, up to
 * sixteen vectors, are kept in registers across the taps, each tap's
 * weight broadcast once for them all (storing them back every tap, as the
 * plain loop did, bounded it). Each sum is a chain of dependent
 * multiply-adds, so blocks are evened out rather than leaving a block of
 * one. Masked loads and stores end each row. */
#define DW_M 16

/* rows r0 .. r0+M-1, NV vectors each (the last under mask `last`): the taps over them */
static inline __attribute__((always_inline)) void dw_block(
    float *y, int64_t ldy, const float *x, int64_t ldx, const int64_t *off, const float *w,
    int64_t taps, __mmask16 last, float init, int64_t r0, const int M, const int NV) {
  if (M * NV > DW_M) return; /* not called: the switch below spells out every M */
  __m512 acc[DW_M];
  const float *xb = x + r0 * ldx; // xb is row r0 of x
#pragma GCC unroll 16
  for (int u = 0; u < M * NV; u++) acc[u] = _mm512_set1_ps(init);
  for (int64_t t = 0; t < taps; t++) {
    __m512 wt = _mm512_set1_ps(w[t]);
    const float *p = xb + off[t];
#pragma GCC unroll 16
    for (int u = 0; u < M; u++)
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++)
        acc[u * NV + v] = _mm512_fmadd_ps(
            wt, _mm512_maskz_loadu_ps(v == NV - 1 ? last : (__mmask16)0xffff, p + u * ldx + v * 16),
            acc[u * NV + v]);
  }
#pragma GCC unroll 16
  for (int u = 0; u < M; u++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
      _mm512_mask_storeu_ps(y + (r0 + u) * ldy + v * 16, v == NV - 1 ? last : (__mmask16)0xffff,
                            acc[u * NV + v]);
}

/* Rows of NV vectors in blocks of at most DW_M / NV rows, evened out (nine
 * rows: one block; seventeen: 9 and 8). */
static inline __attribute__((always_inline)) void dw_rows_nv(
    float *y, int64_t ldy, const float *x, int64_t ldx, const int64_t *off, const float *w,
    int64_t taps, int64_t rows, __mmask16 last, float init, const int NV) {
  int64_t most = DW_M / NV, blocks = (rows + most - 1) / most;
  for (int64_t b = 0; b < blocks; b++) {
    int64_t r0 = rows * b / blocks;
    switch (rows * (b + 1) / blocks - r0) {
#define DW_CASE(m) \
  case m: dw_block(y, ldy, x, ldx, off, w, taps, last, init, r0, m, NV); break;
      DW_CASE(1) DW_CASE(2) DW_CASE(3) DW_CASE(4) DW_CASE(5) DW_CASE(6) DW_CASE(7) DW_CASE(8)
      DW_CASE(9) DW_CASE(10) DW_CASE(11) DW_CASE(12) DW_CASE(13) DW_CASE(14) DW_CASE(15)
      DW_CASE(16)
#undef DW_CASE
    default: break;
    }
  }
}

/* rows longer than 64 floats: 64 at a time */
static void dw_rows(float *y, int64_t ldy, const float *x, int64_t ldx, const int64_t *off,
                    const float *w, int64_t taps, int64_t rows, int64_t n, float init) {
  for (int64_t q0 = 0; q0 < n && rows > 0; q0 += 64) {
    int64_t m = n - q0 < 64 ? n - q0 : 64, nv = (m + 15) / 16;
    __mmask16 last = tail_mask(m - (nv - 1) * 16);
    switch (nv) {
    case 1: dw_rows_nv(y + q0, ldy, x + q0, ldx, off, w, taps, rows, last, init, 1); break;
    case 2: dw_rows_nv(y + q0, ldy, x + q0, ldx, off, w, taps, rows, last, init, 2); break;
    case 3: dw_rows_nv(y + q0, ldy, x + q0, ldx, off, w, taps, rows, last, init, 3); break;
    default: dw_rows_nv(y + q0, ldy, x + q0, ldx, off, w, taps, rows, last, init, 4); break;
    }
  }
}

/* taps t0 .. t0+M-1 of the weight gradient over all the rows: one load of
 * g for M products (each tap's sums a chain, as above; eight taps and the
 * row's vectors keep the units busy) */
#define DW_GRAD_M 8
static inline __attribute__((always_inline)) void dw_grad_block(
    float *acc, const float *g, int64_t ldg, const float *x, int64_t ldx, const int64_t *off,
    int64_t rows, int64_t nv, __mmask16 last, int64_t t0, const int M) {
  __m512 a[DW_GRAD_M];
#pragma GCC unroll 8
  for (int u = 0; u < M; u++) a[u] = _mm512_loadu_ps(acc + (t0 + u) * 16);
  for (int64_t r = 0; r < rows; r++) {
    const float *gr = g + r * ldg, *xr = x + r * ldx;
    for (int64_t v = 0; v < nv; v++) {
      __mmask16 k = v == nv - 1 ? last : (__mmask16)0xffff;
      __m512 gv = _mm512_maskz_loadu_ps(k, gr + v * 16);
#pragma GCC unroll 8
      for (int u = 0; u < M; u++)
        a[u] = _mm512_mask3_fmadd_ps(gv, _mm512_maskz_loadu_ps(k, xr + off[t0 + u] + v * 16),
                                     a[u], k);
    }
  }
#pragma GCC unroll 8
  for (int u = 0; u < M; u++) _mm512_storeu_ps(acc + (t0 + u) * 16, a[u]);
}

static void dw_grad_rows(float *acc, const float *g, int64_t ldg, const float *x, int64_t ldx,
                         const int64_t *off, int64_t taps, int64_t rows, int64_t n) {
  if (n <= 0 || rows <= 0) return;
  int64_t nv = (n + 15) / 16, blocks = (taps + DW_GRAD_M - 1) / DW_GRAD_M;
  __mmask16 last = tail_mask(n - (nv - 1) * 16);
  for (int64_t b = 0; b < blocks; b++) {
    int64_t t0 = taps * b / blocks;
    switch (taps * (b + 1) / blocks - t0) {
#define DW_CASE(m) \
  case m: dw_grad_block(acc, g, ldg, x, ldx, off, rows, nv, last, t0, m); break;
      DW_CASE(1) DW_CASE(2) DW_CASE(3) DW_CASE(4) DW_CASE(5) DW_CASE(6) DW_CASE(7) DW_CASE(8)
#undef DW_CASE
    default: break;
    }
  }
}

static const gr_kernel_table table = {
    .isa = "avx512", .add = add, .sub = sub, .mul = mul, .div = divide, .affine = affine,
    .add_s = add_s, .mul_s = mul_s, .div_sd = div_sd, .axpy = axpy, .relu = relu, .leaky_relu = leaky_relu,
    .leaky_relu_grad = leaky_relu_grad, .relu_grad = relu_grad, .exp = vexp, .tanh = vtanh, .sigmoid = sigmoid, .sum = sum,
    .sumsq = sumsq, .sumsq_dev = sumsq_dev, .max = vmax, .scale_shift = scale_shift, .adam = adam,
    .sgd = sgd, .rmsprop = rmsprop, .gemm_tile = gemm_tile, .gemm_tile_at = gemm_tile_at,
    .pack_runs = pack_runs, .interleave8 = interleave8, .add_rows = add_rows, .transpose16 = transpose16, .dw_rows = dw_rows, .dw_grad_rows = dw_grad_rows,
    .fir_block = gr_fir_block_avx512,
};
const gr_kernel_table *const gr_kernels_avx512_ptr = &table;
