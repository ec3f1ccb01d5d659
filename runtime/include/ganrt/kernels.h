/* Contiguous float kernels with a run-time choice of instruction set.
 *
 * Each kernel has a plain scalar version (kernels/scalar.c) and may have
 * AVX2+FMA and AVX-512 versions in their own files. gr_kernels() returns the
 * table chosen at start-up: the best the CPU supports, or the one named by
 * the environment variable GANLUA_ISA (scalar, avx2, avx512). Tests compare
 * every SIMD entry against gr_kernels_scalar().
 *
 * Threads: gr_set_threads sets ours (OpenMP) and OpenBLAS's together. Our
 * kernels never call BLAS from inside a parallel region, so the two pools
 * never run at once. Work is split in fixed chunks that do not depend on
 * timing, so a run is bit-identical for a given thread count. */
#ifndef GANRT_KERNELS_H
#define GANRT_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gr_fir_plan;

typedef struct gr_kernel_table {
  const char *isa; /* "scalar", "avx2", "avx512" */
  /* out[i] = a[i] op b[i] (out may alias a or b) */
  void (*add)(float *out, const float *a, const float *b, int64_t n);
  void (*sub)(float *out, const float *a, const float *b, int64_t n);
  void (*mul)(float *out, const float *a, const float *b, int64_t n);
  void (*div)(float *out, const float *a, const float *b, int64_t n);
  /* out[i] = a[i] * s + c */
  void (*affine)(float *out, const float *a, float s, float c, int64_t n);
  /* out[i] = a[i] op s  (b broadcast as a scalar) */
  void (*add_s)(float *out, const float *a, float s, int64_t n);
  void (*mul_s)(float *out, const float *a, float s, int64_t n);
  /* out[i] = a[i] / s, divided in double and rounded once to float (a
   * softmax's normalisation by its double sum) */
  void (*div_sd)(float *out, const float *a, double s, int64_t n);
  /* y += alpha * x */
  void (*axpy)(float *y, float alpha, const float *x, int64_t n);
  /* activations and their derivatives given the input x and the incoming g */
  void (*relu)(float *out, const float *x, int64_t n);
  void (*leaky_relu)(float *out, const float *x, float slope, int64_t n);
  void (*leaky_relu_grad)(float *out, const float *x, const float *g, float slope, int64_t n);
  /* g where x > 0 or x is NaN (relu keeps a NaN), else 0 */
  void (*relu_grad)(float *out, const float *x, const float *g, int64_t n);
  void (*exp)(float *out, const float *x, int64_t n);
  void (*tanh)(float *out, const float *x, int64_t n);
  void (*sigmoid)(float *out, const float *x, int64_t n);
  /* sums, in double accumulators for accuracy */
  double (*sum)(const float *x, int64_t n);
  double (*sumsq)(const float *x, int64_t n);
  /* sum((x - mean)^2) */
  double (*sumsq_dev)(const float *x, float mean, int64_t n);
  float (*max)(const float *x, int64_t n);
  /* out = (x - mean) * scale + shift, for norms */
  void (*scale_shift)(float *out, const float *x, float mean, float scale, float shift, int64_t n);
  /* fused optimizer updates over n parameters (see optim.h for the math) */
  void (*adam)(float *p, const float *g, float *m, float *v, int64_t n, float lr, float b1,
               float b2, float eps, float wd, float bc1, float bc2, int decoupled);
  void (*sgd)(float *p, const float *g, float *buf, int64_t n, float lr, float momentum,
              float dampening, float wd, int nesterov, int first);
  void (*rmsprop)(float *p, const float *g, float *sq, int64_t n, float lr, float alpha,
                  float eps, float wd);
  /* The convolution engine's own GEMM (kernels/conv_engine.c). gemm_tile: c,
   * a GR_TILE_M x GR_TILE_N block with rows ldc floats apart, gets
   * (acc ? c : 0) + a b over kc steps, each step one fused multiply-add per
   * element in step order; a is packed step by step (kc, GR_TILE_M), b
   * likewise (kc, GR_TILE_N) and 64-byte aligned. The scalar tile is the
   * reference; the engine runs its tile paths only on a SIMD one. */
  void (*gemm_tile)(float *c, int64_t ldc, const float *a, const float *b, int64_t kc, bool acc);
  /* gemm_tile on the first nv*16 of its columns (nv 1 to 3; the others of c
   * left as they are), reading row r of a at step k from a[r*ra + k*ka]
   * (packed: ra 1, ka GR_TILE_M); b as for gemm_tile. For a panel that a
   * block of positions fills only in part, and for weights read where they
   * are: each element the same steps as on gemm_tile. */
  void (*gemm_tile_at)(float *c, int64_t ldc, const float *a, int64_t ra, int64_t ka,
                       const float *b, int64_t kc, bool acc, int nv);
  /* A panel of gemm_tile's b from runs of 16 floats: b[k*GR_TILE_N + v*16 + q]
   * = s[koff[k] + base[v] + q] for k < kc, v < nv (1 to 3), q < 16; the
   * vectors v >= nv are left as they are. b is 64-byte aligned. */
  void (*pack_runs)(float *b, const float *s, const int64_t *koff, const int64_t *base, int64_t kc,
                    int nv);
  /* d[i*8 + r] = s[r][i] for r < nr (at most 8), 0 for nr <= r < 8, i < n:
   * up to 8 rows laid position by position (the weight gradient's tiles of
   * gy); d need not be aligned */
  void (*interleave8)(float *d, const float *const *s, int nr, int64_t n);
  /* d[r*dstep + q] += s[r*sstep + q] for r < rows, q < n: a block of rows
   * added into another, each element one addition (col2im's taps) */
  void (*add_rows)(float *d, int64_t dstep, const float *s, int64_t sstep, int64_t rows, int64_t n);
  /* d[q*ldd + r] = s[r][q] for r, q < 16: sixteen runs of 16 floats, laid across */
  void (*transpose16)(float *d, int64_t ldd, const float *const *s);
  /* The engine's depthwise convolutions, rows of n floats. dw_rows: y[r*ldy + q]
   * = init, then for each tap t in order one fused multiply-add of w[t] *
   * x[r*ldx + off[t] + q]. dw_grad_rows: for each tap t, row r and q in
   * order, acc[t*16 + q%16] += g[r*ldg + q] * x[r*ldx + off[t] + q], fused:
   * sixteen partial sums per tap. Neither reads past the n floats of a row. */
  void (*dw_rows)(float *y, int64_t ldy, const float *x, int64_t ldx, const int64_t *off,
                  const float *w, int64_t taps, int64_t rows, int64_t n, float init);
  void (*dw_grad_rows)(float *acc, const float *g, int64_t ldg, const float *x, int64_t ldx,
                       const int64_t *off, int64_t taps, int64_t rows, int64_t n);
  /* upfirdn2d's kernel (kernels/fir.h): y (nl,Ho,Wo) from x (nl,H,W), up
   * to 16 planes at once, by the plan the op made; every table's gives the
   * same bits */
  void (*fir_block)(float *y, const float *x, int nl, float *scratch,
                    const struct gr_fir_plan *plan);
} gr_kernel_table;

/* gemm_tile's block: 8 rows of 48 floats (24 AVX-512 registers of sums) */
#define GR_TILE_M 8
#define GR_TILE_N 48

const gr_kernel_table *gr_kernels(void);
const gr_kernel_table *gr_kernels_scalar(void);
/* The table for an ISA by name, or NULL when this CPU or build lacks it. */
const gr_kernel_table *gr_kernels_for(const char *isa);
/* Forces a table by name; GR_EARG if unsupported here. */
int gr_kernels_use(const char *isa); /* 0 on success, -1 when unsupported */

/* Threads for our kernels and for OpenBLAS (n <= 0: number of cores): the
 * count asked for. On a shared machine the count that runs may be lower
 * while other processes keep our threads waiting for a CPU (threads.c). */
void gr_set_threads(int n);
int gr_get_threads(void);     /* the count asked for */
int gr_threads_running(void); /* the count our parallel loops use now */
/* Whether the count our loops run on follows the machine's load (default:
 * yes, unless GANLUA_ADAPT_THREADS=0). OpenBLAS keeps the count asked for,
 * so results do not change. Off restores the count asked for. */
void gr_threads_adapt(bool on);
/* Called between ops (never inside a parallel region): every 100 ms of
 * ops, looks at how long our threads waited for a CPU and adapts. */
void gr_threads_tick(void);
/* What gr_threads_tick does with what it reads: the wall clock and our
 * threads' total run_delay, both in ns (tests feed it made-up windows). */
void gr_threads_observe(long long now_ns, long long delay_ns);
/* "OpenBLAS 0.3.21 ... Haswell" etc. */
const char *gr_blas_info(void);

#ifdef __cplusplus
}
#endif
#endif
