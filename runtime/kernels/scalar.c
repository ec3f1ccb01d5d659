/* The scalar reference of every kernel in gr_kernel_table. SIMD versions
 * must agree with these (tests/runtime/test_kernels.c). */
#include <math.h>

#include "kernels/fir.h"
#include "kernels/table.h"

static void add(float *o, const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = a[i] + b[i];
}
static void sub(float *o, const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = a[i] - b[i];
}
static void mul(float *o, const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = a[i] * b[i];
}
static void divide(float *o, const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = a[i] / b[i];
}
static void affine(float *o, const float *a, float s, float c, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = a[i] * s + c;
}
static void add_s(float *o, const float *a, float s, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = a[i] + s;
}
static void mul_s(float *o, const float *a, float s, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = a[i] * s;
}
static void div_sd(float *o, const float *a, double s, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = (float)(a[i] / s);
}
static void axpy(float *y, float alpha, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}
/* NaN passes through (x <= 0 is false for it), as in PyTorch */
static void relu(float *o, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = x[i] <= 0 ? 0 : x[i];
}
static void leaky_relu(float *o, const float *x, float slope, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = x[i] > 0 ? x[i] : x[i] * slope;
}
static void leaky_relu_grad(float *o, const float *x, const float *g, float slope, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = x[i] > 0 ? g[i] : g[i] * slope;
}
static void relu_grad(float *o, const float *x, const float *g, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = x[i] <= 0 ? 0 : g[i];
}
static void vexp(float *o, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = expf(x[i]);
}
/* tanh and sigmoid in double, then rounded once: the reference the SIMD
 * approximations are measured against should itself be within 0.5 ulp
 * (tanhf is off by up to 2). */
static void vtanh(float *o, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = (float)tanh(x[i]);
}
/* 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below: e^-|x| never
 * overflows, so sigmoid(-100) is 3.7e-44 and not 1/inf = 0. */
static void sigmoid(float *o, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    double e = exp(-fabs((double)x[i]));
    o[i] = (float)((x[i] < 0 ? e : 1.0) / (1.0 + e));
  }
}
static double sum(const float *x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += x[i];
  return s;
}
static double sumsq(const float *x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
  return s;
}
static double sumsq_dev(const float *x, float mean, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)x[i] - mean;
    s += d * d;
  }
  return s;
}
static float vmax(const float *x, int64_t n) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; i++)
    if (x[i] > m || isnan(x[i])) m = x[i];
  return m;
}
static void scale_shift(float *o, const float *x, float mean, float scale, float shift, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = (x[i] - mean) * scale + shift;
}
static void adam(float *p, const float *g, float *m, float *v, int64_t n, float lr, float b1,
                 float b2, float eps, float wd, float bc1, float bc2, int decoupled) {
  float inv_bc2_sqrt = 1.0f / sqrtf(bc2), step = lr / bc1;
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    if (decoupled) p[i] -= lr * wd * p[i];
    else gi += wd * p[i];
    m[i] = b1 * m[i] + (1 - b1) * gi;
    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
    p[i] -= step * m[i] / (sqrtf(v[i]) * inv_bc2_sqrt + eps);
  }
}
static void sgd(float *p, const float *g, float *buf, int64_t n, float lr, float momentum,
                float dampening, float wd, int nesterov, int first) {
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    if (momentum != 0) {
      buf[i] = first ? gi : momentum * buf[i] + (1 - dampening) * gi;
      gi = nesterov ? gi + momentum * buf[i] : buf[i];
    }
    p[i] -= lr * gi;
  }
}
static void rmsprop(float *p, const float *g, float *sq, int64_t n, float lr, float alpha,
                    float eps, float wd) {
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    sq[i] = alpha * sq[i] + (1 - alpha) * gi * gi;
    p[i] -= lr * gi / (sqrtf(sq[i]) + eps);
  }
}

/* c (GR_TILE_M rows ldc apart, GR_TILE_N columns) = (acc ? c : 0) + a b: a is
 * (kc, GR_TILE_M) and b (kc, GR_TILE_N), each packed step by step. fmaf, one
 * rounding per step, in step order: what each lane of the SIMD tile does,
 * so the two agree bit for bit. As a GEMM it is slow (a call per fmaf
 * without -mfma): it is the reference, and the engine runs sgemm instead. */
static void gemm_tile(float *c, int64_t ldc, const float *a, const float *b, int64_t kc, bool acc) {
  float t[GR_TILE_M][GR_TILE_N]; /* the block's sums */
  for (int r = 0; r < GR_TILE_M; r++)
    for (int q = 0; q < GR_TILE_N; q++) t[r][q] = acc ? c[r * ldc + q] : 0.0f;
  for (int64_t k = 0; k < kc; k++, a += GR_TILE_M, b += GR_TILE_N)
    for (int r = 0; r < GR_TILE_M; r++)
      for (int q = 0; q < GR_TILE_N; q++) t[r][q] = fmaf(a[r], b[q], t[r][q]);
  for (int r = 0; r < GR_TILE_M; r++)
    for (int q = 0; q < GR_TILE_N; q++) c[r * ldc + q] = t[r][q];
}

/* gemm_tile on the first nv*16 columns, a's row r at step k at a[r*ra + k*ka] */
static void gemm_tile_at(float *c, int64_t ldc, const float *a, int64_t ra, int64_t ka,
                         const float *b, int64_t kc, bool acc, int nv) {
  float t[GR_TILE_M][GR_TILE_N]; /* the block's sums */
  int n = nv * 16;
  for (int r = 0; r < GR_TILE_M; r++)
    for (int q = 0; q < n; q++) t[r][q] = acc ? c[r * ldc + q] : 0.0f;
  for (int64_t k = 0; k < kc; k++, a += ka, b += GR_TILE_N)
    for (int r = 0; r < GR_TILE_M; r++)
      for (int q = 0; q < n; q++) t[r][q] = fmaf(a[r * ra], b[q], t[r][q]);
  for (int r = 0; r < GR_TILE_M; r++)
    for (int q = 0; q < n; q++) c[r * ldc + q] = t[r][q];
}

static void pack_runs(float *b, const float *s, const int64_t *koff, const int64_t *base,
                      int64_t kc, int nv) {
  for (int64_t k = 0; k < kc; k++)
    for (int v = 0; v < nv; v++)
      for (int q = 0; q < 16; q++) b[k * GR_TILE_N + v * 16 + q] = s[koff[k] + base[v] + q];
}

static void add_rows(float *d, int64_t dstep, const float *s, int64_t sstep, int64_t rows,
                     int64_t n) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t q = 0; q < n; q++) d[r * dstep + q] += s[r * sstep + q];
}

static void interleave8(float *d, const float *const *s, int nr, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    for (int r = 0; r < 8; r++) d[i * 8 + r] = r < nr ? s[r][i] : 0.0f;
}

/* d (16 rows ldd apart) = the 16 x 16 floats of s[0..15], turned across */
static void transpose16(float *d, int64_t ldd, const float *const *s) {
  for (int q = 0; q < 16; q++)
    for (int r = 0; r < 16; r++) d[q * ldd + r] = s[r][q];
}

/* Depthwise rows: each output a chain of fmaf over the taps, in tap order,
 * as each lane of the SIMD version runs it (bit for bit). */
static void dw_rows(float *y, int64_t ldy, const float *x, int64_t ldx, const int64_t *off,
                    const float *w, int64_t taps, int64_t rows, int64_t n, float init) {
  for (int64_t r = 0; r < rows; r++, y += ldy, x += ldx)
    for (int64_t q = 0; q < n; q++) {
      float s = init;
      for (int64_t t = 0; t < taps; t++) s = fmaf(w[t], x[off[t] + q], s);
      y[q] = s;
    }
}

/* The depthwise weight gradient's partial sums: lane q%16 of each tap, row
 * by row, in the order of the SIMD version's lanes. */
static void dw_grad_rows(float *acc, const float *g, int64_t ldg, const float *x, int64_t ldx,
                         const int64_t *off, int64_t taps, int64_t rows, int64_t n) {
  for (int64_t t = 0; t < taps; t++)
    for (int64_t r = 0; r < rows; r++)
      for (int64_t q = 0; q < n; q++)
        acc[t * 16 + q % 16] = fmaf(g[r * ldg + q], x[r * ldx + off[t] + q], acc[t * 16 + q % 16]);
}

const gr_kernel_table gr_kernels_scalar_table = {
    .isa = "scalar", .add = add, .sub = sub, .mul = mul, .div = divide, .affine = affine,
    .add_s = add_s, .mul_s = mul_s, .div_sd = div_sd, .axpy = axpy, .relu = relu, .leaky_relu = leaky_relu,
    .leaky_relu_grad = leaky_relu_grad, .relu_grad = relu_grad, .exp = vexp, .tanh = vtanh, .sigmoid = sigmoid, .sum = sum,
    .sumsq = sumsq, .sumsq_dev = sumsq_dev, .max = vmax, .scale_shift = scale_shift, .adam = adam,
    .sgd = sgd, .rmsprop = rmsprop, .gemm_tile = gemm_tile, .gemm_tile_at = gemm_tile_at,
    .pack_runs = pack_runs, .interleave8 = interleave8, .add_rows = add_rows, .transpose16 = transpose16, .dw_rows = dw_rows, .dw_grad_rows = dw_grad_rows,
    .fir_block = gr_fir_block_scalar,
};
