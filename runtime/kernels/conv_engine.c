/* The convolution engine: the GEMM behind the three faces of ops/conv.c
 * (conv2d, conv_transpose2d, conv2d_weight_grad), built on im2col/col2im and
 * sgemm and, where the kernel table has a SIMD GEMM tile (AVX-512), on a
 * GEMM of its own that never writes the columns out; groups run on it group
 * by group, and depthwise convolutions (one channel a group) on a direct
 * path of their own.
 *
 * Every kernel speaks of one geometry: the image side (N,C,H,W) is conv2d's
 * input and the filtered side (N,O,Ho,Wo) its output. conv2d goes image ->
 * filtered (im2col, then W @ col); conv_transpose2d goes filtered -> image
 * (W^T @ y, then col2im); the weight gradient pairs the two sides (g @ col^T).
 *
 * Columns are laid out for a block of several samples at once, (C*kh*kw,
 * B*Ho*Wo), so that one sgemm per group covers the block: small images still
 * make large products. A block that would not fit the scratch budget is cut
 * into rows of one sample instead. A kernel that covers the whole image
 * (a 1x1 output) needs no columns at all: the samples are the rows of one
 * sgemm.
 *
 * The file, bottom-up: the knobs (scratch budget, threads, tile paths);
 * per-thread scratch; blocks, im2col, col2im and the moves between the
 * filtered side and the matrix scratch; the tile paths (conv2d's implicit
 * GEMM, its weight gradient, conv_transpose2d's tiled adjoint); the
 * depthwise paths; the stride-1 ops with few filtered channels run as the
 * other op of their mirror; last the three entry points, which choose
 * among the paths: read those first.
 *
 * Pointers carry their shapes in comments, as (rows, columns) of the
 * matrices they hold; L is always the positions of a block (B*rows*Wo). */
#include "kernels/conv_engine.h"

#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/table.h"

/* Floats held by the column and matrix scratch buffers of one block: small
 * enough to stay near the cache, large enough for efficient sgemm shapes. */
#define CONV_BUDGET ((int64_t)4 << 20)
static int64_t g_budget = CONV_BUDGET;

int64_t gr_conv_set_budget(int64_t n) {
  int64_t prev = g_budget;
  g_budget = n > 0 ? n : CONV_BUDGET;
  return prev;
}

/* Below this many elements a loop is not worth waking the threads for. */
#define PAR_MIN 32768

/* Whether our OpenMP loops may run between sgemm calls. OpenBLAS built on
 * pthreads keeps threads of its own, and libgomp's default wait policy
 * leaves our pool spinning for milliseconds after each loop: the sgemm that
 * follows then runs with a core taken, which costs far more than a serial
 * im2col. An OpenMP OpenBLAS shares our pool, and a passive pool sleeps. */
static int g_par_mode = -1; /* -1: decide from the environment; 0 serial; 1 parallel */
static bool g_par_checked, g_par_ok;

int gr_conv_set_parallel(int mode) {
  int prev = g_par_mode;
  g_par_mode = mode < 0 ? -1 : mode > 0;
  return prev;
}

/* Whether a loop of ours may take several threads. The environment is read
 * once: it does not change under a running program. */
static bool par_ok(void) {
  if (g_par_mode >= 0) return g_par_mode;
  if (!g_par_checked) {
    const char *wp = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    bool passive = (wp && (wp[0] == 'p' || wp[0] == 'P')) || (spin && atoll(spin) < 10000);
    g_par_ok = openblas_get_parallel() != 1 || passive;
    g_par_checked = true;
  }
  return g_par_ok;
}

/* --- scratch ----------------------------------------------------------------------------- */

/* Grow-only buffers, one set per thread, so that the hot path does not
 * allocate. Thread-local: two threads that run ops at once must not share
 * them (our OpenMP workers never call in). Within one call the three serve
 * whichever path runs: columns or phase planes (g_col), matrices, packed
 * weights or sums (g_mat), and per-thread panels or phase planes (g_planes). */
typedef struct scratch {
  float *p;  /* n floats, 64-byte aligned: the tile loads its panels aligned */
  int64_t n;
} scratch;
static _Thread_local scratch g_col, g_mat, g_planes;

/* s's buffer of at least n floats, or NULL. Growing drops the contents:
 * nothing in scratch outlives one call into the engine. */
static float *scratch_get(scratch *s, int64_t n) {
  if (n > s->n) {
    free(s->p);
    size_t bytes = ((size_t)n * sizeof(float) + 63) / 64 * 64;
    s->p = aligned_alloc(64, bytes);
    s->n = s->p ? n : 0;
  }
  return s->p;
}

/* The tile paths (conv2d's own GEMM, its weight gradient, conv_transpose2d's
 * tiled adjoint) run where the kernel table in use has a SIMD tile of its
 * own: AVX-512, where they take about half of sgemm's time on a DCGAN
 * layer. Where it does not, the table's tile is the scalar reference, which
 * took 80 times sgemm's time on that layer (1.9 s against 24 ms, one
 * thread), so the scalar and AVX2 tables keep sgemm, and sgemm's numbers.
 * The depthwise paths follow the same switch (their rows are the table's
 * too). */
static int g_tile_mode = -1; /* -1: a SIMD tile only; 0 never; 1 with any tile */

int gr_conv_set_tile(int mode) {
  int prev = g_tile_mode;
  g_tile_mode = mode < 0 ? -1 : mode > 0;
  return prev;
}

/* The table whose tiles, transpose16 and depthwise rows the tile and
 * depthwise paths use, or NULL for sgemm. */
static const gr_kernel_table *tile_kernels(void) {
  const gr_kernel_table *k = gr_kernels();
  if (g_tile_mode >= 0) return g_tile_mode ? k : NULL;
  /* dispatch fills an ISA's missing entries from the scalar table */
  return k->gemm_tile != gr_kernels_scalar()->gemm_tile ? k : NULL;
}

/* --- blocks ------------------------------------------------------------------------------- */

/* Phase planes, for col2im. With stride s, image column iw = s*E + q
 * belongs to phase q at position E; tap j (offset j*dw - pw = s*m_j + q_j)
 * feeds, from output column ow, position ow + m_j of phase q_j: a
 * unit-stride run whatever the stride, and rows alike. So col2im adds every
 * tap into the sh*sw phase planes of an image plane with unit-stride adds,
 * then interleaves them into the image once. Adding each tap straight into
 * the image at the stride was the cost on small images: short strided rows,
 * and a read-modify-write of neighbouring floats that stalled on store
 * forwarding. (im2col gains nothing from the split: its strided reads
 * vectorize.) A plane is lh x lw floats; the smallest shifts mh0, mw0 (<= 0)
 * put position E at column E - mw0, and rows alike. */
typedef struct phase_geom {
  int64_t mh0, mw0, lw;
  int64_t mh1; /* the largest row shift: a block of nr rows spans nr + mh1 - mh0 plane rows */
} phase_geom;

/* tap k along one dim: k*d - p = s*m + q with 0 <= q < s */
static inline void tap_phase(int64_t k, int64_t d, int64_t p, int64_t s, int64_t *q, int64_t *m) {
  int64_t off = k * d - p, r = off % s;
  if (r < 0) r += s;
  *q = r;
  *m = (off - r) / s;
}

/* The phase planes' shifts and width for g (rows follow from a block's rows). */
static phase_geom phase_geom_of(const conv_geom *g) {
  phase_geom pg;
  int64_t q, mw1;
  tap_phase(0, g->dh, g->ph, g->sh, &q, &pg.mh0);
  tap_phase(g->kh - 1, g->dh, g->ph, g->sh, &q, &pg.mh1);
  tap_phase(0, g->dw, g->pw, g->sw, &q, &pg.mw0);
  tap_phase(g->kw - 1, g->dw, g->pw, g->sw, &q, &mw1);
  /* wide enough for every tap's run, and for every image column (col2im) */
  int64_t end = g->Wo + mw1, img = (g->W + g->sw - 1) / g->sw;
  pg.lw = (end > img ? end : img) - pg.mw0;
  return pg;
}

/* Floats of one thread's phase planes for blocks of nr output rows, padded
 * to a cache line so that threads do not share one. */
static int64_t phase_floats(const conv_geom *g, const phase_geom *pg, int64_t nr) {
  int64_t n = g->sh * g->sw * (nr + pg->mh1 - pg->mh0) * pg->lw;
  return (n + 15) / 16 * 16;
}

/* A block is B whole samples, or (B = 1) `rows` output rows of one sample.
 * The buffers are this thread's scratch, valid until the next plan. */
typedef struct conv_plan {
  int64_t B, rows;
  float *col, *mat; /* col (C*kh*kw, B*rows*Wo); mat (O, B*rows*Wo) */
  float *planes;    /* phase planes, phase_n floats for each of our threads */
  int64_t phase_n;
  phase_geom pg;
} conv_plan;

/* Blocks of n items, at most fit (>= 1) each, evened out so that the last
 * block is not a sliver: the items per block. */
static int64_t evened(int64_t n, int64_t fit) {
  int64_t blocks = (n + fit - 1) / fit;
  return (n + blocks - 1) / blocks;
}

/* pl for g: blocks as large as the budget allows, and scratch for them.
 * GR_EARG when a product's sizes do not fit sgemm's int, GR_ENOMEM when
 * the scratch cannot grow; op names the op in the message. */
static gr_status make_plan(const char *op, const conv_geom *g, conv_plan *pl) {
  int64_t ck = g->C * g->kh * g->kw, P = g->Ho * g->Wo, per_px = ck + g->O;
  if (ck > INT_MAX || g->O > INT_MAX || P > INT_MAX)
    return gr_fail(GR_EARG, "%s: sizes too large for sgemm's int sizes", op);
  /* as many as fit, then evened out so that the last block is not a sliver */
  if (per_px * P <= g_budget) {
    pl->B = evened(g->N > 0 ? g->N : 1, g_budget / (per_px * P));
    pl->rows = g->Ho;
  } else {
    int64_t fit = g_budget / (per_px * g->Wo);
    pl->B = 1;
    pl->rows = evened(g->Ho, fit < 1 ? 1 : fit);
  }
  int64_t L = pl->B * pl->rows * g->Wo;
  pl->pg = phase_geom_of(g);
  pl->phase_n = phase_floats(g, &pl->pg, pl->rows);
  pl->col = scratch_get(&g_col, ck * L);
  pl->mat = scratch_get(&g_mat, g->O * L);
  pl->planes = scratch_get(&g_planes, pl->phase_n * omp_get_max_threads());
  if (!pl->col || !pl->mat || !pl->planes)
    return gr_fail(GR_ENOMEM, "%s: out of memory for %lld scratch floats", op,
                   (long long)(per_px * L + pl->phase_n * omp_get_max_threads()));
  return GR_OK;
}

/* The ow in [0, Wo) with 0 <= ow*s + off < W, as [*lo, *hi). */
static void valid_range(int64_t Wo, int64_t s, int64_t off, int64_t W, int64_t *lo, int64_t *hi) {
  int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
  int64_t h = W - off <= 0 ? 0 : (W - off - 1) / s + 1;
  if (h > Wo) h = Wo;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

/* n rows of Wo columns: d[lo..hi) = s[0], s[step], ... and zeros around,
 * then the next row (d + Wo, s + rstep). Rows of small images are short, so
 * loop overhead is the cost: callers pass the usual steps as constants and
 * the copy vectorizes. */
static inline __attribute__((always_inline)) void rows_in(float *restrict d,
                                                          const float *restrict s, int64_t n,
                                                          int64_t Wo, int64_t lo, int64_t hi,
                                                          int64_t step, int64_t rstep) {
  for (int64_t r = 0; r < n; r++, d += Wo, s += rstep) {
    for (int64_t q = 0; q < lo; q++) d[q] = 0;
#pragma omp simd
    for (int64_t q = 0; q < hi - lo; q++) d[lo + q] = s[q * step];
    for (int64_t q = hi; q < Wo; q++) d[q] = 0;
  }
}

/* rows_in, with the column steps of stride 1 and 2 (nearly every layer)
 * as constants: each becomes its own vectorized loop. */
/* The padding of a row is a float or two: GCC would make each of its zero
 * loops a call to memset, which cost the depthwise path a quarter of its
 * time on 8x8 planes. */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
static void copy_rows(float *d, const float *s, int64_t n, int64_t Wo, int64_t lo, int64_t hi,
                      int64_t step, int64_t rstep) {
  if (step == 1) rows_in(d, s, n, Wo, lo, hi, 1, rstep);
  else if (step == 2) rows_in(d, s, n, Wo, lo, hi, 2, rstep);
  else rows_in(d, s, n, Wo, lo, hi, step, rstep);
}

/* n rows of len floats: d (rows dstep apart) += s (rows sstep apart). For
 * rows of 16 floats or more col2im uses the table's add_rows instead (one
 * call a block: the narrow layers' input gradient at 16x16 and 32x32 maps
 * 12-18% faster); on shorter rows this inlined loop measured as fast
 * (dcgan32) or faster (a call a tap outweighed the wider vectors). */
static inline void block_add(float *restrict d, const float *restrict s, int64_t n, int64_t len,
                             int64_t dstep, int64_t sstep) {
  for (int64_t r = 0; r < n; r++, d += dstep, s += sstep) {
#pragma omp simd
    for (int64_t q = 0; q < len; q++) d[q] += s[q];
  }
}

/* block_add or, for rows of 16 floats or more, the table's add_rows */
static inline void rows_add(const gr_kernel_table *k, float *d, int64_t dstep, const float *s,
                            int64_t sstep, int64_t rows, int64_t len) {
  if (len >= 16) k->add_rows(d, dstep, s, sstep, rows, len);
  else block_add(d, s, rows, len, dstep, sstep);
}

/* col (C*kh*kw, L), L = nb*nr*Wo: row (c,i,j), column b*nr*Wo + r*Wo + ow holds
 * x[n0+b, c, (oh0+r)*sh - ph + i*dh, ow*sw - pw + j*dw], 0 in the padding.
 * x is the image side, any strides. */
static void im2col(float *col, const gr_tensor *x, const conv_geom *g, int64_t n0, int64_t nb,
                   int64_t oh0, int64_t nr) {
  const float *px = gr_f32(x); // px is (N,C,H,W) at x's strides
  int64_t Wo = g->Wo, np = nr * Wo, L = nb * np, tasks = g->C * g->kh;
  int64_t xs0 = x->stride[0], xs2 = x->stride[2], xs3 = x->stride[3];
  /* a task fills the kw rows of one (c, i); each row is written front to back */
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) \
    if (tasks > 1 && tasks * g->kw * L > PAR_MIN && par_ok())
  for (int64_t t = 0; t < tasks; t++) {
    int64_t c = t / g->kh, i = t % g->kh;
    const float *xc = px + n0 * xs0 + c * x->stride[1]; // xc is x[n0, c], (H,W)
    /* the output rows whose input row is inside the image: [rlo, rhi) */
    int64_t ih0 = oh0 * g->sh - g->ph + i * g->dh, rlo, rhi;
    valid_range(nr, g->sh, ih0, g->H, &rlo, &rhi);
    for (int64_t j = 0; j < g->kw; j++) {
      float *row = col + (t * g->kw + j) * L; // row is col's row (c,i,j): (L)
      int64_t off = j * g->dw - g->pw, lo, hi;
      valid_range(Wo, g->sw, off, g->W, &lo, &hi);
      int64_t r1 = hi > lo ? rhi : rlo; /* no column inside: every row is padding */
      for (int64_t b = 0; b < nb; b++) {
        float *d = row + b * np; // d is sample b's part of the row: (nr, Wo)
        /* padding rows are zeros; the rest copies one strided row of x each */
        memset(d, 0, (size_t)(rlo * Wo) * sizeof *d);
        memset(d + r1 * Wo, 0, (size_t)((nr - r1) * Wo) * sizeof *d);
        if (r1 > rlo)
          copy_rows(d + rlo * Wo, xc + b * xs0 + (ih0 + rlo * g->sh) * xs2 + (off + lo * g->sw) * xs3,
                    r1 - rlo, Wo, lo, hi, g->sw * xs3, g->sh * xs2);
      }
    }
  }
}

/* d[E*step] = (init ? v : d[E*step]) + s[E] for E < n: one phase of an image row */
static inline __attribute__((always_inline)) void phase_out(float *restrict d,
                                                            const float *restrict s, int64_t n,
                                                            int64_t step, bool init, float v) {
  if (init) {
#pragma omp simd
    for (int64_t e = 0; e < n; e++) d[e * step] = v + s[e];
  } else {
#pragma omp simd
    for (int64_t e = 0; e < n; e++) d[e * step] += s[e];
  }
}

/* The image row xr (W floats) from row e of the phase planes: P is that row
 * (lw floats) of phase 0, phase qw's row is qw*plane floats on. A stride
 * of 2 interleaves two phases, which vectorizes as one pass. */
static void row_out(float *xr, const float *P, int64_t plane, const conv_geom *g, int64_t mw0,
                    bool init, float v) {
  int64_t W = g->W, sw = g->sw;
  if (sw == 1) {
    phase_out(xr, P - mw0, W, 1, init, v);
  } else if (sw == 2) {
    // p0, p1 are phases 0 and 1 from position E = 0: ((W+1)/2) and (W/2)
    const float *p0 = P - mw0, *p1 = P + plane - mw0;
    int64_t half = W / 2;
    if (init) {
#pragma omp simd
      for (int64_t e = 0; e < half; e++) {
        xr[2 * e] = v + p0[e];
        xr[2 * e + 1] = v + p1[e];
      }
    } else {
#pragma omp simd
      for (int64_t e = 0; e < half; e++) {
        xr[2 * e] += p0[e];
        xr[2 * e + 1] += p1[e];
      }
    }
    if (W % 2) xr[W - 1] = (init ? v : xr[W - 1]) + p0[half];
  } else {
    for (int64_t qw = 0; qw < sw && qw < W; qw++)
      phase_out(xr + qw, P + qw * plane - mw0, (W - qw + sw - 1) / sw, sw, init, v);
  }
}

/* The adjoint of im2col for one (sample b, channel c) plane: adds its
 * columns of a block into x (contiguous image side), after setting the
 * plane to bias[c] (or 0) when `init`; P is the caller's phase planes. The
 * taps of each image element are summed in a fixed order. x is (N,C,H,W),
 * colc (kh*kw, L) the channel's rows of the columns, P (sh*sw, lh, lw). */
static void col2im_plane(float *x, const float *colc, const float *bias, bool init,
                         const conv_geom *g, const phase_geom *pg, float *P, int64_t n0, int64_t b,
                         int64_t c, int64_t L, int64_t oh0, int64_t nr) {
  int64_t Wo = g->Wo, np = nr * Wo, sh = g->sh, sw = g->sw;
  int64_t lh = nr + pg->mh1 - pg->mh0, lw = pg->lw, plane = lh * lw;
  const gr_kernel_table *k = gr_kernels();
  if (sh == 1 && sw == 1 && init && !bias && oh0 == 0 && nr == g->Ho) {
    /* stride 1, no bias, the whole plane: the taps add straight into the
     * image, each clipped to it, in the same order; the phase plane and the
     * pass that copied it out (a sixth of a narrow layer's input gradient)
     * are not needed. 0 + P, what that pass stored, is P: P is never -0. */
    int64_t H = g->H, W = g->W;
    float *xp = x + ((n0 + b) * g->C + c) * H * W; // xp is (H,W)
    memset(xp, 0, (size_t)(H * W) * sizeof *xp);
    for (int64_t i = 0; i < g->kh; i++) {
      int64_t ih0 = i * g->dh - g->ph, rlo, rhi; /* output row oh feeds image row oh + ih0 */
      valid_range(nr, 1, ih0, H, &rlo, &rhi);
      for (int64_t j = 0; j < g->kw; j++) {
        int64_t iw0 = j * g->dw - g->pw, clo, chi;
        valid_range(Wo, 1, iw0, W, &clo, &chi);
        if (rhi <= rlo || chi <= clo) continue;
        float *d = xp + (rlo + ih0) * W + clo + iw0;
        const float *src = colc + (i * g->kw + j) * L + b * np + rlo * Wo + clo;
        rows_add(k, d, W, src, Wo, rhi - rlo, chi - clo);
      }
    }
    return;
  }
  memset(P, 0, (size_t)(sh * sw * plane) * sizeof *P);
  for (int64_t i = 0; i < g->kh; i++) {
    int64_t qh, mh;
    tap_phase(i, g->dh, g->ph, sh, &qh, &mh);
    for (int64_t j = 0; j < g->kw; j++) {
      int64_t qw, mw;
      tap_phase(j, g->dw, g->pw, sw, &qw, &mw);
      float *d = P + (qh * sw + qw) * plane + (mh - pg->mh0) * lw + mw - pg->mw0;
      const float *s = colc + (i * g->kw + j) * L + b * np;
      rows_add(k, d, lw, s, Wo, nr, Wo);
    }
  }
  float *xp = x + ((n0 + b) * g->C + c) * g->H * g->W, v = bias ? bias[c] : 0.0f; // xp is (H,W)
  for (int64_t ih = 0; ih < g->H; ih++) {
    /* row e of phase qh of the planes; rows outside them get nothing from this block */
    int64_t qh = ih % sh, e = ih / sh - oh0 - pg->mh0;
    float *xr = xp + ih * g->W; // xr is (W)
    if (e >= 0 && e < lh)
      row_out(xr, P + qh * sw * plane + e * lw, plane, g, pg->mw0, init, v);
    else if (init)
      for (int64_t iw = 0; iw < g->W; iw++) xr[iw] = v;
  }
}

/* col2im of a block, one task per plane: the same numbers on any thread
 * count. Each thread adds into its own phase planes of pl->planes. */
static void col2im(float *x, const float *col, const float *bias, bool init, const conv_geom *g,
                   const conv_plan *pl, int64_t n0, int64_t nb, int64_t oh0, int64_t nr) {
  int64_t np = nr * g->Wo, L = nb * np, C = g->C, tasks = nb * C;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) \
    if (tasks > 1 && tasks * g->kh * g->kw * np > PAR_MIN && par_ok())
  for (int64_t t = 0; t < tasks; t++)
    col2im_plane(x, col + t % C * g->kh * g->kw * L, bias, init, g, &pl->pg,
                 pl->planes + omp_get_thread_num() * pl->phase_n, n0, t / C, t % C, L, oh0, nr);
}

/* mat (O, L) <- a block of the filtered side y (N,O,Ho,Wo), any strides. */
static void gather(float *mat, const gr_tensor *y, const conv_geom *g, int64_t n0, int64_t nb,
                   int64_t oh0, int64_t nr) {
  const float *py = gr_f32(y); // py is (N,O,Ho,Wo) at y's strides
  int64_t Wo = g->Wo, np = nr * Wo, L = nb * np, O = g->O, tasks = nb * O;
  int64_t s0 = y->stride[0], s1 = y->stride[1], s2 = y->stride[2], s3 = y->stride[3];
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (tasks > 1 && tasks * np > PAR_MIN && par_ok())
  for (int64_t t = 0; t < tasks; t++) {
    int64_t b = t / O, o = t % O;
    float *d = mat + o * L + b * np;                         // d is (nr, Wo) of mat's row o
    const float *s = py + (n0 + b) * s0 + o * s1 + oh0 * s2; // s is y[n0+b, o, oh0:], (nr, Wo)
    /* rows that follow each other in y copy as one run */
    if (s3 == 1 && (s2 == Wo || nr == 1)) {
      memcpy(d, s, (size_t)np * sizeof *d);
      continue;
    }
    for (int64_t r = 0; r < nr; r++)
      for (int64_t ow = 0; ow < Wo; ow++) d[r * Wo + ow] = s[r * s2 + ow * s3];
  }
}

/* A block of y (contiguous filtered side) <- mat (O, L), plus bias[o]. */
static void scatter(float *y, const float *mat, const float *bias, const conv_geom *g, int64_t n0,
                    int64_t nb, int64_t oh0, int64_t nr) {
  int64_t Wo = g->Wo, np = nr * Wo, L = nb * np, O = g->O, P = g->Ho * Wo, tasks = nb * O;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (tasks > 1 && tasks * np > PAR_MIN && par_ok())
  for (int64_t t = 0; t < tasks; t++) {
    int64_t b = t / O, o = t % O;
    float *d = y + ((n0 + b) * O + o) * P + oh0 * Wo; // d is y[n0+b, o, oh0:], (nr*Wo)
    const float *s = mat + o * L + b * np;            // s is (nr*Wo) of mat's row o
    if (!bias) {
      memcpy(d, s, (size_t)np * sizeof *d);
      continue;
    }
    float v = bias[o];
    for (int64_t q = 0; q < np; q++) d[q] = s[q] + v;
  }
}

/* Whether sgemm can read each sample of the filtered side y in place: rows
 * of each channel contiguous. */
static bool filtered_rows(const gr_tensor *y, const conv_geom *g) {
  return (y->stride[3] == 1 || g->Wo == 1) && (y->stride[2] == g->Wo || g->Ho == 1) &&
         y->stride[1] >= g->Ho * g->Wo && y->stride[1] <= INT_MAX;
}

/* Whether conv2d and conv_transpose2d run sgemm sample by sample on the
 * filtered side in place, rather than once per block through the matrix
 * scratch: always for blocks of one sample, and when a sample has at least
 * as many positions as the weights have columns (a first layer on few
 * channels). sgemm then packs the small weights once per sample, which
 * costs less than copying the large filtered side through the scratch. */
static bool per_sample(const conv_geom *g, const conv_plan *pl) {
  return pl->B == 1 || g->Ho * g->Wo >= g->C / g->G * g->kh * g->kw;
}

/* A kernel that covers the whole unpadded image gives a 1x1 output (the
 * last layer of a DCGAN discriminator, the first of its generator): then
 * columns are the samples themselves and each kernel is one plain sgemm. */
static bool dense_geom(const conv_geom *g) {
  return g->Ho == 1 && g->Wo == 1 && g->ph == 0 && g->pw == 0 && g->kh == g->H && g->kw == g->W;
}

/* Whether each sample of t (N,...) is one contiguous run of floats, as the
 * rows of a matrix; *ld gets the row stride. */
static bool flat_rows(const gr_tensor *t, int64_t *ld) {
  int64_t run = 1;
  for (int d = 3; d >= 1; d--) {
    if (t->shape[d] != 1 && t->stride[d] != run) return false;
    run *= t->shape[d];
  }
  *ld = t->shape[0] == 1 ? run : t->stride[0];
  return *ld >= run && *ld <= INT_MAX;
}

/* y (N, n*rep) <- v (n), each value rep times, for sgemm to add onto (beta 1) */
static void fill_rows(float *y, const float *v, int64_t N, int64_t n, int64_t rep) {
  for (int64_t r = 0; r < N; r++)
    for (int64_t k = 0; k < n; k++)
      for (int64_t e = 0; e < rep; e++) y[(r * n + k) * rep + e] = v[k];
}

/* --- conv2d's own GEMM --------------------------------------------------------------------
 * On AVX-512, conv2d skips the column matrix: its GEMM packs each panel of
 * columns straight from the image, into a buffer that stays in the first
 * cache level, and runs the kernel table's 8x48 tile (gemm_tile) over it.
 * Written out, the columns of a block are 4 (stride 2) to 16 (stride 1)
 * times the image; writing them, then reading them back through OpenBLAS's
 * own packing, took about a seventh of a DCGAN step.
 *
 * The image is first split, padding included, into stride-phase planes:
 * plane (qh, qw) row a, column e holds padded image (a*sh + qh, e*sw + qw).
 * Tap (i, j) then reads position (oh, ow) at plane row oh + i*dh/sh, column
 * ow + j*dw/sw: every tap is a unit-stride window, so a panel row (one tap
 * of one channel over 16 positions) is one or a few plain copies. */
#define TILE_K 256 /* steps per panel: a panel (TILE_K x GR_TILE_N, 48 KB) stays near L1 (48 KB a
                     * core here; 128 and 192 steps measured the same); chunks chain their
                     * sums through memory exactly, so this never changes a result */
#define TASK_COLS ((int64_t)1 << 17) /* conv_transpose2d: column floats a task may grow to */

/* n rounded up to whole tiles of rows */
static int64_t tile_rows(int64_t n) { return (n + GR_TILE_M - 1) / GR_TILE_M * GR_TILE_M; }

/* The tile on the first nv vectors of its 48 columns: the whole tile, or
 * the narrow one for a panel that holds fewer (the last of a block, which
 * on a batch of one 8x8 image is a third of the panels). Each sum takes
 * the same steps either way. */
static inline void tile_on(const gr_kernel_table *kt, float *c, int64_t ldc, const float *a,
                           const float *b, int64_t kc, bool acc, int64_t nv) {
  if (nv >= GR_TILE_N / 16) kt->gemm_tile(c, ldc, a, b, kc, acc);
  else kt->gemm_tile_at(c, ldc, a, 1, GR_TILE_M, b, kc, acc, (int)nv);
}

/* vectors of 16 in the panel of GR_TILE_N that starts at n0 of n */
static inline int64_t panel_vecs(int64_t n0, int64_t n) {
  int64_t v = (n - n0 + 15) / 16;
  return v < GR_TILE_N / 16 ? v : GR_TILE_N / 16;
}

/* Steps k0 .. k1-1 of tile t, element by element (the reference, and the
 * tails the transposes leave). */
static void pack_tile_steps(float *ap, const float *m, int64_t rows, int64_t steps, int64_t rs,
                            int64_t ss, int64_t t, int64_t k0, int64_t k1) {
  if (rs == 1 && (t + 1) * GR_TILE_M <= rows) { /* a whole tile's rows side by side: one copy a step */
    for (int64_t k = k0; k < k1; k++)
      memcpy(ap + (t * steps + k) * GR_TILE_M, m + t * GR_TILE_M + k * ss, GR_TILE_M * sizeof *ap);
    return;
  }
  for (int64_t k = k0; k < k1; k++)
    for (int r = 0; r < GR_TILE_M; r++) {
      int64_t i = t * GR_TILE_M + r;
      ap[(t * steps + k) * GR_TILE_M + r] = i < rows ? m[i * rs + k * ss] : 0.0f;
    }
}

/* A matrix (rows x steps, element (i, k) at m[i*rs + k*ss]) in tiles of
 * GR_TILE_M rows, step by step, as the tile reads it: ap[(t*steps + k)*GR_TILE_M + r]
 * is row t*GR_TILE_M + r, 0 past the last row. ap is (mt, steps, GR_TILE_M);
 * the zero rows let the tile run whole on the last part tile. Rows read
 * along (ss 1: conv2d's weights, packed at every call) go two whole tiles
 * and 16 steps at a time through the table's 16x16 transpose, and a whole
 * tile of rows side by side (rs 1: w^T for conv_transpose2d) is one copy a
 * step: element by element, the packing took an eighth of a CycleGAN step. */
static void pack_tiles(float *ap, const float *m, int64_t rows, int64_t steps, int64_t rs,
                       int64_t ss) {
  int64_t mt = tile_rows(rows) / GR_TILE_M;
  const gr_kernel_table *kt = tile_kernels();
  int64_t pairs = ss == 1 && kt ? rows / (2 * GR_TILE_M) : 0, kb = steps / 16 * 16;
  int64_t tasks = mt - pairs; /* a pair of tiles, or one tile */
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (tasks > 1 && mt * GR_TILE_M * steps > PAR_MIN && par_ok())
  for (int64_t task = 0; task < tasks; task++) {
    if (task >= pairs) { /* a tile on its own */
      pack_tile_steps(ap, m, rows, steps, rs, ss, task + pairs, 0, steps);
      continue;
    }
    int64_t t = 2 * task;
    float tmp[256] __attribute__((aligned(64))); // tmp is (16 steps, 16 rows)
    const float *src[16];
    for (int64_t k0 = 0; k0 < kb; k0 += 16) {
      for (int j = 0; j < 16; j++) src[j] = m + (t * GR_TILE_M + j) * rs + k0;
      kt->transpose16(tmp, 16, src);
      for (int i = 0; i < 16; i++) {
        memcpy(ap + (t * steps + k0 + i) * GR_TILE_M, tmp + i * 16, GR_TILE_M * sizeof *ap);
        memcpy(ap + ((t + 1) * steps + k0 + i) * GR_TILE_M, tmp + i * 16 + GR_TILE_M,
               GR_TILE_M * sizeof *ap);
      }
    }
    pack_tile_steps(ap, m, rows, steps, rs, ss, t, kb, steps);
    pack_tile_steps(ap, m, rows, steps, rs, ss, t + 1, kb, steps);
  }
}

/* The geometry of the tile paths' stride-phase planes and products. */
typedef struct igeom {
  int64_t lh, lw, PS, CS; /* plane rows, columns, floats; floats of one channel's planes */
  int64_t Cg, Og;         /* channels of one group: image side, filtered side */
  int64_t P, K, Mp;       /* positions per sample, a group's columns (C/G*kh*kw), Og in whole tiles */
} igeom;

static igeom igeom_of(const conv_geom *g) {
  igeom ig;
  ig.lh = g->Ho + (g->kh - 1) * g->dh / g->sh;
  ig.lw = g->Wo + (g->kw - 1) * g->dw / g->sw;
  ig.PS = ig.lh * ig.lw;
  ig.CS = g->sh * g->sw * ig.PS;
  ig.Cg = g->C / g->G;
  ig.Og = g->O / g->G;
  ig.P = g->Ho * g->Wo;
  ig.K = ig.Cg * g->kh * g->kw;
  ig.Mp = tile_rows(ig.Og);
  return ig;
}

/* The blocks of the tile paths: kg groups (at most gmax) of B samples, at
 * `per` floats of scratch for one group of one sample (per <= the budget).
 * As many groups as fit, evened out, then as many samples of them. One
 * group gives the blocks of whole samples the paths had before groups. */
static void group_blocks(int64_t N, int64_t G, int64_t per, int64_t gmax, int64_t *kg, int64_t *B) {
  int64_t fit = g_budget / per;
  if (fit > gmax) fit = gmax;
  *kg = evened(G, fit < 1 ? 1 : fit);
  *B = evened(N > 0 ? N : 1, g_budget / (*kg * per));
}

/* Whether P positions per sample of a group of Og filtered channels suit
 * the tile paths: whole vectors of 16, or more than one vector (PatchGAN's
 * 7x7 and 6x6 maps, SinGAN's 25x29) over a whole tile of channels: then a
 * vector may end one sample and start the next, and the block's last vector
 * is filled with zeros. Below 16 positions (3x3, 2x2 outputs) or 8 channels
 * (PatchGAN's last layer: one map) the products are too small for the tile
 * to pay (measured: 6x6 to one map took 1.4 to 1.6 times sgemm's time), and
 * sgemm keeps them. */
static bool tile_positions(int64_t P, int64_t Og) {
  return P % 16 == 0 || (P > 16 && Og >= GR_TILE_M);
}

/* Whether conv2d runs on its own GEMM: a tile in use (tile_kernels),
 * positions per sample that tile_positions takes, and the planes of one
 * group of one sample within the budget. Groups of any size: even at two
 * channels a group, when the tile's rows are mostly zeros, a batch of 32
 * took a quarter to a third of sgemm's time group by group (64 channels,
 * 16x16; 256 channels, 8x8). */
static bool implicit_ok(const conv_geom *g) {
  igeom ig = igeom_of(g);
  return g->N > 0 && tile_positions(ig.P, ig.Og) && ig.K <= INT_MAX &&
         ig.CS * ig.Cg <= g_budget && tile_kernels() != NULL;
}

/* whether a tap k < n has (k*d) % s == q: phase planes no tap reads stay unbuilt */
static bool phase_read(int64_t q, int64_t n, int64_t d, int64_t s) {
  for (int64_t k = 0; k < n; k++)
    if (k * d % s == q) return true;
  return false;
}

/* The phase planes of one image plane xc (H,W), rows xs2 and columns xs3
 * floats apart: Q0 is (sh*sw, lh, lw). Planes no tap reads are left as
 * they are (never read). */
static void plane_phases(float *Q0, const float *xc, int64_t xs2, int64_t xs3, const conv_geom *g,
                         const igeom *ig) {
  int64_t sh = g->sh, sw = g->sw, lh = ig->lh, lw = ig->lw;
  for (int64_t qh = 0; qh < sh; qh++) {
    if (!phase_read(qh, g->kh, g->dh, sh)) continue;
    int64_t alo, ahi; /* plane rows inside the image */
    valid_range(lh, sh, qh - g->ph, g->H, &alo, &ahi);
    for (int64_t qw = 0; qw < sw; qw++) {
      if (!phase_read(qw, g->kw, g->dw, sw)) continue;
      int64_t flo, fhi;
      valid_range(lw, sw, qw - g->pw, g->W, &flo, &fhi);
      float *Q = Q0 + (qh * sw + qw) * ig->PS; // Q is phase (qh,qw): (lh, lw)
      int64_t a1 = fhi > flo ? ahi : alo; /* no column inside: every row is padding */
      memset(Q, 0, (size_t)(alo * lw) * sizeof *Q);
      memset(Q + a1 * lw, 0, (size_t)((lh - a1) * lw) * sizeof *Q);
      if (a1 > alo)
        copy_rows(Q + alo * lw, xc + (alo * sh + qh - g->ph) * xs2 + (flo * sw + qw - g->pw) * xs3,
                  a1 - alo, lw, flo, fhi, sw * xs3, sh * xs2);
    }
  }
}

/* The phase planes of channels c0 .. c0+nc-1 of samples n0 .. n0+nb-1, laid
 * out (nb, nc, sh*sw, lh, lw): pl is that. */
static void build_planes(float *pl, const gr_tensor *x, const conv_geom *g, const igeom *ig,
                         int64_t n0, int64_t nb, int64_t c0, int64_t nc) {
  const float *px = gr_f32(x); // px is (N,C,H,W) at x's strides
  int64_t tasks = nb * nc, xs0 = x->stride[0], xs1 = x->stride[1];
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (tasks > 1 && tasks * ig->CS > PAR_MIN && par_ok())
  for (int64_t t = 0; t < tasks; t++) {
    const float *xc = px + (n0 + t / nc) * xs0 + (c0 + t % nc) * xs1; // xc is one (H,W) plane
    plane_phases(pl + t * ig->CS, xc, x->stride[2], x->stride[3], g, ig);
  }
}

/* n floats, n a run of at most 16: the usual lengths as constants, so that
 * each copy is a vector move rather than a call */
static inline void run_copy(float *d, const float *s, int64_t n) {
  switch (n) {
  case 16: memcpy(d, s, 16 * sizeof *d); break;
  case 8: memcpy(d, s, 8 * sizeof *d); break;
  case 4: memcpy(d, s, 4 * sizeof *d); break;
  default: memcpy(d, s, (size_t)n * sizeof *d);
  }
}

/* Where the 16 positions of one vector of a panel start in the planes: runs
 * that end with the output rows (one run when a row holds them all). */
typedef struct vec_runs {
  int64_t base[17];
  int64_t len[17];
  int n;
} vec_runs;

/* The positions a panel walks: P per sample in rows of w, read from planes
 * with rows lw floats apart and samples ss floats apart. */
typedef struct pos_grid {
  int64_t P, w, lw, ss;
} pos_grid;

/* r: the runs of positions n .. n+15 of a block of nblk, cut where an output
 * row or a sample ends (a vector may go on into the next sample); no runs
 * past the block, whose columns are zeros. */
static void runs_of(vec_runs *r, int64_t n, int64_t nblk, const pos_grid *pg) {
  r->n = 0;
  int64_t b = n / pg->P, p = n % pg->P, left = nblk - n < 16 ? nblk - n : 16;
  while (left > 0) {
    int64_t row = p / pg->w, col = p % pg->w, len = pg->w - col < left ? pg->w - col : left;
    r->base[r->n] = b * pg->ss + row * pg->lw + col;
    r->len[r->n++] = len;
    p += len;
    left -= len;
    if (p == pg->P) b++, p = 0;
  }
}

/* whether r is one whole run of 16 (read in place) */
static inline bool one_run(const vec_runs *r) { return r->n == 1 && r->len[0] == 16; }

/* A panel: rows k0 .. k0+kc-1 of the columns over the positions of runs, as
 * kc rows of GR_TILE_N floats: bp is (kc, GR_TILE_N), pl the block's planes
 * (or, for conv_transpose2d, y itself), koff (kc) where each column row
 * starts in a sample's planes. The tile reads the first nv vectors. When
 * each of them is one run (rows of 16 positions or more) the table's
 * pack_runs copies them, a vector load and store each: the engine's own
 * loop is built for the baseline ISA, four SSE copies a vector, and took a
 * third of a narrow layer's forward (12 to 12 maps at 32x32: two tiles a
 * panel). */
static void pack_panel(float *restrict bp, const float *restrict pl, const int64_t *koff,
                       const vec_runs *runs, int64_t kc, int64_t nv, const gr_kernel_table *kt) {
  int64_t base[GR_TILE_N / 16];
  bool whole = true;
  for (int v = 0; v < nv; v++) {
    whole = whole && one_run(&runs[v]);
    base[v] = runs[v].base[0];
  }
  if (whole) {
    kt->pack_runs(bp, pl, koff, base, kc, (int)nv);
    return;
  }
  for (int64_t k = 0; k < kc; k++, bp += GR_TILE_N) {
    const float *src = pl + koff[k]; // src is column row k0+k of sample 0, read at the runs
    for (int v = 0; v < GR_TILE_N / 16; v++) {
      const vec_runs *r = &runs[v];
      float *d = bp + v * 16; // d is (16): one vector of positions
      /* one run (the usual case: rows of 16 or more) is one vector copy */
      if (one_run(r)) {
        memcpy(d, src + r->base[0], 16 * sizeof *d);
        continue;
      }
      int64_t q = 0;
      for (int u = 0; u < r->n; u++) {
        run_copy(d + q, src + r->base[u], r->len[u]);
        q += r->len[u];
      }
      for (; q < 16; q++) d[q] = 0;
    }
  }
}

/* koff (K): where column row k = (c, i, j) starts in a sample's planes:
 * channel c's planes, phase (i*dh % sh, j*dw % sw), shifted by the whole
 * strides the tap reaches past it */
static void tap_offsets(int64_t *koff, const conv_geom *g, const igeom *ig) {
  for (int64_t k = 0; k < ig->K; k++) {
    int64_t c = k / (g->kh * g->kw), i = k / g->kw % g->kh, j = k % g->kw;
    koff[k] = c * ig->CS + ((i * g->dh % g->sh) * g->sw + j * g->dw % g->sw) * ig->PS +
              i * g->dh / g->sh * ig->lw + j * g->dw / g->sw;
  }
}

/* d (16) = s (16) + v. A plain loop there stored float by float (y and
 * the sums might overlap, as far as the compiler knew): 7% of a stride-2
 * layer's forward at batch 1. */
static inline void add16(float *restrict d, const float *restrict s, float v) {
#pragma omp simd
  for (int q = 0; q < 16; q++) d[q] = s[q] + v;
}

/* d (16) += v */
static inline void add16_to(float *d, float v) {
#pragma omp simd
  for (int q = 0; q < 16; q++) d[q] += v;
}

/* y (N,O,Ho,Wo) contiguous = conv2d(x, w) + bias, through the tile; x is
 * (N,C,H,W) at any strides, w (O, K) (group k's rows k*Og .. on the K
 * columns of its own channels), bias (O) or NULL. GR_ENOMEM when the
 * scratch cannot grow. Each panel of 48 positions of one group is one
 * task: its sums for the group's Og channels are one thread's, so no
 * thread count changes them. Groups share nothing but the planes' block,
 * so a block holds as many groups as fit and its tasks are all their
 * panels: a batch of one (StyleGAN2's fused modulated convolution) still
 * gives every thread work. With fewer panels than twice the threads (one
 * small image: 64 positions are 2 panels), a panel's tiles of channels are
 * cut into ranges, each a task that packs the panel for itself; a tile's
 * sums stay the same whichever task computes them. */
static gr_status conv2d_implicit(float *y, const gr_tensor *x, const float *w, const float *bias,
                                 const conv_geom *g) {
  igeom ig = igeom_of(g);
  int64_t K = ig.K, O = g->O, Og = ig.Og, Cg = ig.Cg, G = g->G, P = ig.P, Mp = ig.Mp;
  int64_t mt = Mp / GR_TILE_M, threads = omp_get_max_threads(), kg, B;
  /* blocks: kg groups of B samples, as many sets of planes as the budget holds */
  group_blocks(g->N, G, Cg * ig.CS, G, &kg, &B);
  /* per thread: a panel and a column of tiles, each a whole number of cache lines */
  int64_t per = TILE_K * GR_TILE_N + Mp * GR_TILE_N;
  float *pl = scratch_get(&g_col, B * kg * Cg * ig.CS); // pl is (B, kg*Cg, sh*sw, lh, lw)
  /* groups of whole tiles read their weights where they are, rows K floats
   * apart: packing them is a pass over all the weights at every call, which
   * cost as much as the tile on a batch of one (StyleGAN2's fused modulated
   * convolution, whose weights are used by two panels each) and a quarter of
   * PatchGAN's 7x7 layer at batch 1; on batches of 64 (the DCGAN steps) the
   * two ways measured the same */
  bool in_place = Og % GR_TILE_M == 0;
  int64_t na = in_place ? 0 : G * Mp * K;
  /* ap is (G, mt, K, GR_TILE_M), each group's weights in tiles, then koff (K int64s, 2K floats) */
  float *ap = scratch_get(&g_mat, na + 2 * K);
  float *tl = scratch_get(&g_planes, per * threads); // tl is (threads, per)
  if (!pl || !ap || !tl)
    return gr_fail(GR_ENOMEM, "conv2d: out of memory for %lld scratch floats",
                   (long long)(B * kg * Cg * ig.CS + na + 2 * K + per * threads));
  for (int64_t k = 0; k < G && !in_place; k++) /* group k's weights (Og x K) in tiles of rows */
    pack_tiles(ap + k * Mp * K, w + k * Og * K, Og, K, K, 1);
  int64_t *koff = (int64_t *)(ap + na);
  tap_offsets(koff, g, &ig);
  const gr_kernel_table *kt = tile_kernels();
  for (int64_t k0 = 0; k0 < G; k0 += kg) {
    int64_t ng = G - k0 < kg ? G - k0 : kg;
    pos_grid grid = {P, g->Wo, ig.lw, ng * Cg * ig.CS};
    for (int64_t n0 = 0; n0 < g->N; n0 += B) {
      int64_t nb = g->N - n0 < B ? g->N - n0 : B, nblk = nb * P;
      int64_t panels = (nblk + GR_TILE_N - 1) / GR_TILE_N, nrg = 1;
      while (ng * panels * nrg < 2 * threads && 4 * nrg <= mt) nrg *= 2; /* ranges of 2 tiles or more */
      int64_t tasks = ng * panels * nrg;
      build_planes(pl, x, g, &ig, n0, nb, k0 * Cg, ng * Cg);
      /* tasks dealt in turn: in runs, the last thread got one task fewer
       * and the narrow last panel too (PatchGAN's 7x7 maps at batch 1 and
       * 4: 5 panels, the last of one vector, split 3 + 2: 20-27% slower);
       * with ranges, each thread keeps to the same tiles of weights */
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static, 1) if (tasks > 1 && par_ok())
      for (int64_t task = 0; task < tasks; task++) {
        int64_t gpn = task / nrg, rg = task % nrg; /* (group, panel) pair, range of tiles */
        int64_t k = k0 + gpn / panels, pn = gpn % panels; /* group k, panel pn */
        int64_t t_lo = rg * mt / nrg, t_hi = (rg + 1) * mt / nrg; /* its tiles of channels */
        const float *gp = pl + (k - k0) * Cg * ig.CS; // gp is group k's planes in the block's first sample
        const float *ga = in_place ? w + k * Og * K : ap + k * Mp * K; // ga is group k's weights
        float *bp = tl + omp_get_thread_num() * per;  // bp is (TILE_K, GR_TILE_N): the panel
        float *ct = bp + TILE_K * GR_TILE_N;          // ct is (Mp, GR_TILE_N): the sums
        vec_runs runs[GR_TILE_N / 16];
        for (int v = 0; v < GR_TILE_N / 16; v++)
          runs_of(&runs[v], pn * GR_TILE_N + v * 16, nblk, &grid);
        /* chunks of TILE_K steps keep the panel in L1; later chunks add on */
        int64_t nv = panel_vecs(pn * GR_TILE_N, nblk), n1 = pn * GR_TILE_N;
        /* a panel within one sample, on whole tiles of channels, is summed
         * in y itself (rows P floats apart): storing the sums aside and
         * copying them over was 8% of a stride-2 layer's forward at batch 1 */
        bool direct = Og % GR_TILE_M == 0 && n1 % P + nv * 16 <= P;
        float *cy = direct ? y + (n0 + n1 / P) * O * P + k * Og * P + n1 % P : ct; // cy: the sums
        int64_t ldc = direct ? P : GR_TILE_N, rs = direct ? P : GR_TILE_N; /* rows of cy */
        for (int64_t c0 = 0; c0 < K; c0 += TILE_K) {
          int64_t kc = K - c0 < TILE_K ? K - c0 : TILE_K;
          pack_panel(bp, gp, koff + c0, runs, kc, nv, kt);
          for (int64_t t = t_lo; t < t_hi; t++)
            if (in_place) /* rows of tile t: K floats apart */
              kt->gemm_tile_at(cy + t * GR_TILE_M * rs, ldc, ga + t * GR_TILE_M * K + c0, K, 1, bp,
                               kc, c0 > 0, (int)nv);
            else
              tile_on(kt, cy + t * GR_TILE_M * rs, ldc, ga + (t * K + c0) * GR_TILE_M, bp, kc,
                      c0 > 0, nv);
        }
        if (direct) { /* the sums are in y: the bias after them, as below */
          for (int64_t o = t_lo * GR_TILE_M; o < t_hi * GR_TILE_M && bias; o++)
            for (int v = 0; v < nv; v++)
              add16_to(cy + o * P + v * 16, bias[k * Og + o]);
          continue;
        }
        int64_t o_lo = t_lo * GR_TILE_M, o_hi = t_hi * GR_TILE_M < Og ? t_hi * GR_TILE_M : Og;
        for (int v = 0; v < GR_TILE_N / 16; v++) {
          int64_t n = pn * GR_TILE_N + v * 16;
          if (n >= nblk) break;
          /* a vector within one sample at once; one that ends a sample (or
           * the block) position by position */
          bool whole = n % P + 16 <= P;
          int64_t qn = nblk - n < 16 ? nblk - n : 16;
          for (int64_t o = o_lo; o < o_hi; o++) {
            const float *src = ct + o * GR_TILE_N + v * 16; // src is (16) sums of channel k*Og+o
            float add = bias ? bias[k * Og + o] : 0.0f;
            if (whole) {
              add16(y + (n0 + n / P) * O * P + (k * Og + o) * P + n % P, src, add);
              continue;
            }
            for (int64_t q = 0; q < qn; q++)
              y[(n0 + (n + q) / P) * O * P + (k * Og + o) * P + (n + q) % P] = src[q] + add;
          }
        }
      }
    }
  }
  return GR_OK;
}


/* The weight gradient on the same tile: rows are 8 output channels, columns
 * 48 column rows (taps), steps the positions. Its panels hold 48 taps over
 * TILE_K positions, written across (position-major) from the planes; gy is
 * laid out once per block in tiles of 8 channels, position by position.
 * Threads split the panels of taps, so each weight is summed by one thread
 * in a fixed order. With fewer than 8 panels (a first layer's few taps),
 * the positions are cut into a fixed number of ranges too, each summed on
 * its own and the ranges added in order: the same numbers on any thread
 * count. */
/* Whether the weight gradient runs on the tile: conv2d's conditions, and one
 * group's planes and gy tiles of one sample within the budget. */
static bool implicit_wgrad_ok(const conv_geom *g) {
  igeom ig = igeom_of(g);
  return implicit_ok(g) && ig.Mp * ig.P + ig.Cg * ig.CS <= g_budget;
}

/* positions n0 .. n0+kc-1 of taps k0 .. k0+16*nv-1 of a panel (zeros past K),
 * across: bp[n*GR_TILE_N + kk], 16 taps by 16 positions at a time. bp is
 * (kc, GR_TILE_N), pl the block's planes, koff (K); kc is a multiple of 16.
 * A tap whose 16 positions lie in one run is read in place; one cut by a
 * row or sample end is first gathered into runs16, zeros past the block. */
static void pack_panel_across(float *restrict bp, const float *restrict pl, const int64_t *koff,
                              int64_t k0, int64_t nv, int64_t K, int64_t n0, int64_t kc,
                              int64_t nblk, const pos_grid *grid, const gr_kernel_table *kt) {
  float runs16[16][16], zero[16] = {0}; // gathered rows; the row of a tap past K
  for (int64_t v = 0; v < kc / 16; v++) {
    vec_runs r;
    runs_of(&r, n0 + v * 16, nblk, grid);
    for (int64_t kq = 0; kq < nv * 16; kq += 16) {
      const float *src[16]; // src[u] is (16): tap k0+kq+u at the 16 positions
      for (int u = 0; u < 16; u++) {
        int64_t k = k0 + kq + u;
        if (k >= K) {
          src[u] = zero;
        } else if (one_run(&r)) {
          src[u] = pl + koff[k] + r.base[0];
        } else {
          int64_t q = 0;
          for (int e = 0; e < r.n; e++) {
            run_copy(runs16[u] + q, pl + koff[k] + r.base[e], r.len[e]);
            q += r.len[e];
          }
          for (; q < 16; q++) runs16[u][q] = 0; /* past the block */
          src[u] = runs16[u];
        }
      }
      kt->transpose16(bp + v * 16 * GR_TILE_N + kq, GR_TILE_N, src);
    }
  }
}

/* How the weight gradient on the tile cuts its work, which fixes its sums:
 * kp panels of taps a group, blocks of B samples and kg groups (the planes
 * and gy of per_sample floats a sample and group), and S ranges of a
 * block's positions, each summed on its own (with fewer than 8 panels of
 * taps, so that there are 8 tasks or more). weight_rows sums the same
 * ranges of the same blocks, so both take them from here. */
typedef struct wgrad_blocking {
  int64_t kp, per_sample, kg, B, S;
} wgrad_blocking;

static int64_t position_ranges(int64_t panels) {
  return panels >= 8 ? 1 : (8 + panels - 1) / panels;
}

static wgrad_blocking wgrad_blocking_of(const conv_geom *g, const igeom *ig) {
  wgrad_blocking wb;
  int64_t G = g->G;
  wb.kp = (ig->K + GR_TILE_N - 1) / GR_TILE_N;
  wb.per_sample = ig->Cg * ig->CS + ig->Mp * ig->P;
  /* a group's sums, at most ranges: how many groups' sums the budget holds */
  int64_t gsums = wb.kp * position_ranges(wb.kp) * ig->Mp * GR_TILE_N;
  group_blocks(g->N, G, wb.per_sample,
               G == 1 ? 1 : (g_budget / gsums > 0 ? g_budget / gsums : 1), &wb.kg, &wb.B);
  /* the block's groups together give at least 8 tasks where they can */
  wb.S = position_ranges(wb.kg * wb.kp);
  return wb;
}

/* dw (O, C/G*kh*kw) contiguous = sum over the batch of gy @ columns(x)^T,
 * group by group; x (N,C,H,W) and gy (N,O,Ho,Wo) at any strides. GR_ENOMEM
 * when the scratch cannot grow. Groups run in blocks of kg as conv2d's do;
 * a block of groups keeps its sums until its last samples, so kg is also
 * held to as many groups' sums as the budget holds. */
static gr_status weight_implicit(float *dw, const gr_tensor *x, const gr_tensor *gy,
                                 const conv_geom *g) {
  igeom ig = igeom_of(g);
  int64_t K = ig.K, Og = ig.Og, Cg = ig.Cg, G = g->G, P = ig.P, Mp = ig.Mp;
  int64_t mt = Mp / GR_TILE_M, threads = omp_get_max_threads();
  wgrad_blocking wb = wgrad_blocking_of(g, &ig);
  int64_t kp = wb.kp, per_sample = wb.per_sample, kg = wb.kg, B = wb.B, S = wb.S;
  int64_t nsums = kg * kp * S * Mp * GR_TILE_N, per = TILE_K * GR_TILE_N;
  /* the gy tiles hold the block's positions in whole vectors (zeros past it) */
  // pl is (B, kg*Cg, sh*sw, lh, lw), then gt
  float *pl = scratch_get(&g_col, B * kg * per_sample + kg * Mp * 16);
  /* sums is (kg, kp*S, Mp, GR_TILE_N): each group's, panel's and range's sums, then koff (K int64s) */
  float *sums = scratch_get(&g_mat, nsums + 2 * K);
  float *tl = scratch_get(&g_planes, per * threads); // tl is (threads, TILE_K, GR_TILE_N)
  if (!pl || !sums || !tl)
    return gr_fail(GR_ENOMEM, "conv2d_weight_grad: out of memory for %lld scratch floats",
                   (long long)(B * kg * per_sample + kg * Mp * 16 + nsums + 2 * K + per * threads));
  float *gt = pl + B * kg * Cg * ig.CS; // gt is (kg, mt, nbv, GR_TILE_M): gy of a block in tiles
  int64_t *koff = (int64_t *)(sums + nsums);
  tap_offsets(koff, g, &ig);
  const gr_kernel_table *kt = tile_kernels();
  const float *pg = gr_f32(gy); // pg is (N,O,Ho,Wo) at gy's strides
  int64_t s0 = gy->stride[0], s1 = gy->stride[1], s2 = gy->stride[2], s3 = gy->stride[3];
  for (int64_t k0 = 0; k0 < G; k0 += kg) {
    int64_t ng = G - k0 < kg ? G - k0 : kg, tasks = ng * kp * S;
    pos_grid grid = {P, g->Wo, ig.lw, ng * Cg * ig.CS};
    /* a range may be empty in a block: with ranges, every sum starts at zero */
    if (S > 1) memset(sums, 0, (size_t)nsums * sizeof *sums);
    for (int64_t n0 = 0; n0 < g->N; n0 += B) {
      int64_t nb = g->N - n0 < B ? g->N - n0 : B, nblk = nb * P, nbv = (nblk + 15) / 16 * 16;
      build_planes(pl, x, g, &ig, n0, nb, k0 * Cg, ng * Cg);
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (ng * mt * nblk * GR_TILE_M > PAR_MIN && par_ok())
      for (int64_t gt_t = 0; gt_t < ng * mt; gt_t++) {
        if (s3 == 1 && s2 == g->Wo) { /* each sample's positions one run: 8 channels at once */
          int64_t o0 = gt_t % mt * GR_TILE_M, c0 = (k0 + gt_t / mt) * Og + o0;
          int nr = (int)(Og - o0 < GR_TILE_M ? Og - o0 : GR_TILE_M);
          float *d = gt + gt_t * nbv * GR_TILE_M; // d is the tile: (nbv, GR_TILE_M)
          for (int64_t b = 0; b < nb; b++) {
            const float *src[GR_TILE_M]; // src[r] is channel c0+r of sample n0+b: (P)
            for (int r = 0; r < nr; r++) src[r] = pg + (n0 + b) * s0 + (c0 + r) * s1;
            kt->interleave8(d + b * P * GR_TILE_M, src, nr, P);
          }
          memset(d + nblk * GR_TILE_M, 0, (size_t)((nbv - nblk) * GR_TILE_M) * sizeof *d);
          continue;
        }
        for (int r = 0; r < GR_TILE_M; r++) {
          int64_t o = gt_t % mt * GR_TILE_M + r, c = (k0 + gt_t / mt) * Og + o; /* gy's channel */
          float *d = gt + gt_t * nbv * GR_TILE_M + r; // d is channel o's column of a tile: (nbv)
          /* rows past the group's channels are zeros, so the last tile runs
           * whole; so are the positions past the block in its last vector */
          for (int64_t n = o >= Og ? 0 : nblk; n < nbv; n++) d[n * GR_TILE_M] = 0;
          if (o >= Og) continue;
          for (int64_t b = 0; b < nb; b++)
            for (int64_t oh = 0; oh < g->Ho; oh++, d += g->Wo * GR_TILE_M) {
              const float *src = pg + (n0 + b) * s0 + c * s1 + oh * s2; // src is gy row (Wo)
              for (int64_t ow = 0; ow < g->Wo; ow++) d[ow * GR_TILE_M] = src[ow * s3];
            }
        }
      }
      /* tasks dealt in turn, as conv2d's: the narrow last panel of taps
       * and its ranges no longer all on the last thread (a 7x7 layer's 147
       * taps: 4 panels of 2 ranges, 192 + 128 columns of work, now 160 +
       * 160: its weight gradient 15-20% faster at batch 4) */
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static, 1) if (tasks > 1 && par_ok())
      for (int64_t task = 0; task < tasks; task++) {
        /* panel pn of group k0+gi's taps over range rg of the block's vectors of positions */
        int64_t gi = task / (kp * S), ps = task % (kp * S), pn = ps / S, rg = ps % S;
        int64_t vecs = nbv / 16, lo = vecs * rg / S * 16, hi = vecs * (rg + 1) / S * 16;
        float *bp = tl + omp_get_thread_num() * per;         // bp is (TILE_K, GR_TILE_N): the panel
        float *ct = sums + (gi * kp * S + ps) * Mp * GR_TILE_N; // ct is (Mp, GR_TILE_N): its sums
        const float *gg = gt + gi * mt * nbv * GR_TILE_M;     // gg is the group's gy tiles
        int64_t nv = panel_vecs(pn * GR_TILE_N, K); /* the last panel of taps may be narrow */
        for (int64_t m0 = lo; m0 < hi; m0 += TILE_K) {
          int64_t kc = hi - m0 < TILE_K ? hi - m0 : TILE_K;
          pack_panel_across(bp, pl + gi * Cg * ig.CS, koff, pn * GR_TILE_N, nv, K, m0, kc, nblk,
                            &grid, kt);
          /* the first chunk of the first block starts the sums; the rest add on */
          for (int64_t t = 0; t < mt; t++)
            tile_on(kt, ct + t * GR_TILE_M * GR_TILE_N, GR_TILE_N, gg + (t * nbv + m0) * GR_TILE_M,
                    bp, kc, S > 1 || n0 > 0 || m0 > 0, nv);
        }
      }
    }
    /* the sums, panel by panel and range by range, into the groups' rows of dw */
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (ng * Og * K > PAR_MIN && par_ok())
    for (int64_t row = 0; row < ng * Og; row++)
      for (int64_t pn = 0; pn < kp; pn++) {
        int64_t gi = row / Og, o = row % Og, c0 = pn * GR_TILE_N;
        int64_t n = K - c0 < GR_TILE_N ? K - c0 : GR_TILE_N;
        const float *gs = sums + gi * kp * S * Mp * GR_TILE_N; // gs is the group's sums
        float *d = dw + (k0 * Og + row) * K + c0;            // d is (n) of dw's row
        memcpy(d, gs + (pn * S * Mp + o) * GR_TILE_N, (size_t)n * sizeof *dw);
        for (int64_t rg = 1; rg < S; rg++) {
          const float *src = gs + ((pn * S + rg) * Mp + o) * GR_TILE_N; // src is (n)
          for (int64_t q = 0; q < n; q++) d[q] += src[q];
        }
      }
  }
  return GR_OK;
}


/* conv2d's adjoint (conv_transpose2d, conv2d's input gradient) on the same
 * tile: columns = w^T y for a few samples of one group at a time, then
 * col2im of those samples' channels of the group, both by one thread, each
 * thread on its own (group, samples) tasks. The columns then stay in that
 * thread's cache, and nothing zeroes them first, where sgemm over the whole
 * block wrote them out to memory after a pass that set them to zero.
 * Panels copy y's rows as they are. */
/* Whether conv_transpose2d runs on the tile: a tile in use, positions per
 * sample that tile_positions takes, y's rows readable in place, and one
 * sample's columns of one group within the budget. */
static bool tiled_t_ok(const conv_geom *g, const gr_tensor *y) {
  int64_t Mp = tile_rows(g->C / g->G * g->kh * g->kw);
  return g->N > 0 && tile_positions(g->Ho * g->Wo, g->O / g->G) && filtered_rows(y, g) &&
         Mp * g->Ho * g->Wo <= g_budget && tile_kernels() != NULL;
}

/* Channel ranges for nbs samples a task: enough tasks for every thread,
 * each range 2 tiles of columns or more. */
static int64_t convt_ranges(const conv_geom *g, int64_t nbs, int64_t threads) {
  int64_t Cg = g->C / g->G, K = Cg * g->kh * g->kw, ntn = (g->N + nbs - 1) / nbs, nch = 1;
  while (g->G * ntn * nch < 2 * threads && 2 * nch <= Cg && 2 * nch * 2 * GR_TILE_M <= K) nch *= 2;
  return nch;
}

/* The work of convt_tiled's task `task` of nbs samples and nch ranges: its
 * positions in whole vectors (a vector more for a narrow last panel, which
 * runs the tile at a lower rate) times its tiles of columns. */
static int64_t convt_task_cost(const conv_geom *g, int64_t nbs, int64_t nch, int64_t task) {
  int64_t Cg = g->C / g->G, khw = g->kh * g->kw, P = g->Ho * g->Wo;
  int64_t ntn = (g->N + nbs - 1) / nbs, pair = task / nch, r = task % nch;
  int64_t n0 = pair % ntn * nbs, nb = g->N - n0 < nbs ? g->N - n0 : nbs, L = nb * P;
  int64_t rem = L % GR_TILE_N, pos = L - rem + (rem ? (rem + 15) / 16 * 16 + 16 : 0);
  int64_t c_lo = r * Cg / nch, c_hi = (r + 1) * Cg / nch;
  return pos * ((c_hi * khw + GR_TILE_M - 1) / GR_TILE_M - c_lo * khw / GR_TILE_M);
}

/* The most work any thread gets from convt_tiled's tasks of nbs samples
 * and nch ranges, under OpenMP's static schedule (contiguous runs of
 * tasks, one more for the first threads). */
static int64_t convt_span(const conv_geom *g, int64_t nbs, int64_t nch, int64_t threads) {
  int64_t tasks = g->G * ((g->N + nbs - 1) / nbs) * nch;
  int64_t q = tasks / threads, extra = tasks % threads, task = 0, span = 0;
  for (int64_t t = 0; t < threads; t++) {
    int64_t work = 0;
    for (int64_t i = 0; i < q + (t < extra); i++) work += convt_task_cost(g, nbs, nch, task++);
    if (work > span) span = work;
  }
  return span;
}

/* convt_tiled's tasks: *nbs samples each and *nch channel ranges. At most
 * whole panels (3 samples when a sample's positions are not a multiple of
 * 48, within the budget), more while the columns stay small; with few
 * tasks a thread, fewer samples when that evens out the threads' work: 3
 * samples a task at a batch of 4 gave one of two threads 3 samples and the
 * other 1 (the input gradient of CycleGAN's residual blocks at about half
 * the forward's rate on two threads). The candidates are the counts that cut the batch into
 * 1 to 4 pairs a thread, and 1. Any split gives the same numbers (each
 * column, and each image element, is summed the same way whichever task
 * does it). */
static void convt_split(const conv_geom *g, int64_t Mp, int64_t threads, int64_t *nbs,
                        int64_t *nch) {
  int64_t N = g->N, P = g->Ho * g->Wo;
  int64_t most = P % GR_TILE_N == 0 || 3 * P * Mp > g_budget ? 1 : 3;
  while (most * 2 <= N && 2 * most * P * Mp <= TASK_COLS) most *= 2;
  if (most > N) most = N;
  *nbs = most;
  *nch = convt_ranges(g, most, threads);
  if (threads < 2 || g->G * ((N + most - 1) / most) * *nch >= 16 * threads) return;
  int64_t best = convt_span(g, most, *nch, threads);
  for (int64_t k = 1; k <= 5; k++) {
    int64_t b = k <= 4 ? (N + k * threads - 1) / (k * threads) : 1;
    if (b >= most || (k > 1 && b == (N + (k - 1) * threads - 1) / ((k - 1) * threads))) continue;
    int64_t nc = convt_ranges(g, b, threads), span = convt_span(g, b, nc, threads);
    if (span < best) {
      best = span;
      *nbs = b;
      *nch = nc;
    }
  }
}

/* x (N,C,H,W) contiguous = conv2d's adjoint applied to y (N,O,Ho,Wo), rows
 * contiguous (tiled_t_ok), + bias[c]; w (O, K), K = C/G*kh*kw. GR_ENOMEM
 * when the scratch cannot grow. A task is a few whole samples of one group
 * and a range of its channels: the columns of those channels' taps, then
 * their planes. With fewer (group, samples) pairs than twice the threads
 * (a batch of one: a single pair) the channels are cut into ranges, so that
 * every thread has work; a tile that straddles two ranges is computed by
 * both. Each column is the same sum in the same order whichever task
 * computes it, and each image element is summed by col2im_plane in a fixed
 * order: the same numbers on any thread count. */
static gr_status convt_tiled(float *x, const gr_tensor *y, const float *w, const float *bias,
                             const conv_geom *g) {
  int64_t G = g->G, Cg = g->C / G, Og = g->O / G, K = Cg * g->kh * g->kw, P = g->Ho * g->Wo;
  int64_t N = g->N, Mp = tile_rows(K), nbs, nch;
  convt_split(g, Mp, par_ok() ? gr_threads_running() : 1, &nbs, &nch);
  int64_t ntn = (N + nbs - 1) / nbs, Lb = nbs * P, khw = g->kh * g->kw;
  int64_t threads = omp_get_max_threads();
  int64_t tasks = G * ntn * nch;
  phase_geom pg = phase_geom_of(g);
  int64_t nplane = phase_floats(g, &pg, g->Ho);
  /* a task's columns: Mp rows of its positions in whole vectors (Lv floats
   * apart: the tile writes the last vector whole) */
  int64_t Lv = (Lb + 15) / 16 * 16, cols = Mp * Lv;
  int64_t per = cols + TILE_K * GR_TILE_N + nplane;
  /* whole tiles read w^T where it is, as conv2d's do: w's rows are w^T's
   * steps, each a tile's 8 floats side by side */
  bool in_place = K % GR_TILE_M == 0;
  int64_t na = in_place ? 0 : G * Mp * Og;
  /* ap is (G, mt, Og, GR_TILE_M): each group's w^T in tiles, then koff (Og int64s, 2*Og floats) */
  float *ap = scratch_get(&g_mat, na + 2 * Og);
  float *tl = scratch_get(&g_planes, per * threads); // tl is (threads, per)
  if (!ap || !tl)
    return gr_fail(GR_ENOMEM, "conv_transpose2d: out of memory for %lld scratch floats",
                   (long long)(na + 2 * Og + per * threads));
  for (int64_t k = 0; k < G && !in_place; k++) /* group k's w^T (K x Og) in tiles of column rows */
    pack_tiles(ap + k * Mp * Og, w + k * Og * K, K, Og, 1, K);
  int64_t *koff = (int64_t *)(ap + na); // koff (Og): where channel o of a group starts in a sample of y
  for (int64_t o = 0; o < Og; o++) koff[o] = o * y->stride[1];
  const gr_kernel_table *kt = tile_kernels();
  /* y's rows are contiguous, so a sample's positions are one row of P */
  pos_grid grid = {P, P, 0, y->stride[0]};
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (tasks > 1 && par_ok())
  for (int64_t task = 0; task < tasks; task++) {
    int64_t pair = task / nch, r = task % nch; /* (group, samples) pair, channel range */
    int64_t k = pair / ntn, n0 = pair % ntn * nbs, nb = N - n0 < nbs ? N - n0 : nbs, L = nb * P;
    int64_t ld = (L + 15) / 16 * 16;
    int64_t c_lo = r * Cg / nch, c_hi = (r + 1) * Cg / nch; /* the range's channels */
    /* tiles t_lo .. t_hi-1 hold the range's columns c_lo*khw .. c_hi*khw-1 */
    int64_t t_lo = c_lo * khw / GR_TILE_M, t_hi = (c_hi * khw + GR_TILE_M - 1) / GR_TILE_M;
    float *col = tl + omp_get_thread_num() * per; // col is (Mp, ld): the task's columns
    float *bp = col + cols;                        // bp is (TILE_K, GR_TILE_N): the panel
    float *planes = bp + TILE_K * GR_TILE_N;       // planes: col2im's phase planes
    const float *ga = in_place ? w + k * Og * K : ap + k * Mp * Og; // ga is group k's w^T
    // ybase is y[n0, k*Og], (Og,Ho,Wo)
    const float *ybase = gr_f32(y) + n0 * y->stride[0] + k * Og * y->stride[1];
    for (int64_t pn = 0; pn * GR_TILE_N < L; pn++) {
      vec_runs runs[GR_TILE_N / 16];
      for (int v = 0; v < GR_TILE_N / 16; v++)
        runs_of(&runs[v], pn * GR_TILE_N + v * 16, L, &grid);
      /* a last panel narrower than the tile (whole vectors, zeros past L) on the narrow tile */
      int64_t nv = panel_vecs(pn * GR_TILE_N, L);
      float *dst = col + pn * GR_TILE_N; // dst is (Mp, ld) from the panel's first column
      for (int64_t k0 = 0; k0 < Og; k0 += TILE_K) {
        int64_t kc = Og - k0 < TILE_K ? Og - k0 : TILE_K;
        pack_panel(bp, ybase, koff + k0, runs, kc, nv, kt);
        for (int64_t t = t_lo; t < t_hi; t++)
          if (in_place) /* steps of tile t: K floats apart */
            kt->gemm_tile_at(dst + t * GR_TILE_M * ld, ld, ga + k0 * K + t * GR_TILE_M, 1, K, bp,
                             kc, k0 > 0, (int)nv);
          else
            tile_on(kt, dst + t * GR_TILE_M * ld, ld, ga + (t * Og + k0) * GR_TILE_M, bp, kc,
                    k0 > 0, nv);
      }
    }
    for (int64_t b = 0; b < nb; b++)
      for (int64_t c = c_lo; c < c_hi; c++)
        col2im_plane(x, col + c * khw * ld, bias, true, g, &pg, planes, n0, b, k * Cg + c, ld, 0,
                     g->Ho);
  }
  return GR_OK;
}

/* The weight gradient by rows of taps: the same sums as weight_implicit
 * with the tile's roles turned round. There, rows are 8 output channels and
 * columns 48 taps, whose panels are turned across from the planes for
 * every tap and position: with few output channels (SAGAN's 16) each
 * float turned serves 16 multiply-adds and the turning is the bound (47 to
 * 63 GFLOP/s). Here rows are one tap (i, j) of 8 channels, read in
 * place from the planes (CS floats apart, positions along a row one float
 * apart), and columns the output channels, from gy laid position by
 * position once per block (48 floats a position) and read by every tap.
 * Each weight gets fma(x, gy, sum) where weight_implicit does fma(gy, x,
 * sum), over the same positions in the same order, in the same ranges of
 * positions added in the same order: the same bits (a product does not
 * depend on the order of its factors; the vectors past a block that
 * weight_implicit also sums are zeros, which leave a sum begun at +0 as it
 * is). For one group, channels in whole tiles of 8, 9 to 48 filtered
 * channels (beyond, measured slower: bench/README.md). */
static int g_wrows_mode = -1;

int gr_conv_set_wgrad_rows(int mode) {
  int prev = g_wrows_mode;
  g_wrows_mode = mode < 0 ? -1 : mode > 0;
  return prev;
}

static bool wgrad_rows_ok(const conv_geom *g) {
  igeom ig = igeom_of(g);
  if (g->G != 1 || ig.Cg % GR_TILE_M != 0 || ig.Og > GR_TILE_N) return false;
  if (g_wrows_mode >= 0) return g_wrows_mode;
  /* 8 filtered channels fill half a vector: measured no faster */
  return ig.Og > GR_TILE_M;
}

static gr_status weight_rows(float *dw, const gr_tensor *x, const gr_tensor *gy,
                             const conv_geom *g) {
  igeom ig = igeom_of(g);
  int64_t K = ig.K, Og = ig.Og, Cg = ig.Cg, P = ig.P, khw = g->kh * g->kw;
  int64_t nv = (Og + 15) / 16;
  /* weight_implicit's blocks and ranges of positions, which its sums follow */
  wgrad_blocking wb = wgrad_blocking_of(g, &ig);
  int64_t B = wb.B, S = wb.S;
  int64_t nbmax = (B * P + 15) / 16 * 16, nsums = S * K * GR_TILE_N;
  // pl is (B, Cg, sh*sw, lh, lw); then gT (nbmax, GR_TILE_N): gy position by position
  float *pl = scratch_get(&g_col, B * Cg * ig.CS + nbmax * GR_TILE_N);
  /* sums is (S, K, GR_TILE_N): each range's sums, tap by tap; then koff (K int64s) */
  float *sums = scratch_get(&g_mat, nsums + 2 * K);
  if (!pl || !sums)
    return gr_fail(GR_ENOMEM, "conv2d_weight_grad: out of memory for %lld scratch floats",
                   (long long)(B * Cg * ig.CS + nbmax * GR_TILE_N + nsums + 2 * K));
  float *gT = pl + B * Cg * ig.CS;
  int64_t *koff = (int64_t *)(sums + nsums);
  tap_offsets(koff, g, &ig);
  memset(sums, 0, (size_t)nsums * sizeof *sums);
  const gr_kernel_table *kt = tile_kernels();
  const float *pg = gr_f32(gy); // pg is (N,O,Ho,Wo) at gy's strides
  int64_t s0 = gy->stride[0], s1 = gy->stride[1], s2 = gy->stride[2], s3 = gy->stride[3];
  int64_t mtk = K / GR_TILE_M, tasks = S * mtk, ss = Cg * ig.CS, Wo = g->Wo;
  for (int64_t n0 = 0; n0 < g->N; n0 += B) {
    int64_t nb = g->N - n0 < B ? g->N - n0 : B, nblk = nb * P, nbv = (nblk + 15) / 16 * 16;
    build_planes(pl, x, g, &ig, n0, nb, 0, Cg);
    /* gT: position p's output channels side by side, zeros past Og */
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (nblk * GR_TILE_N > PAR_MIN && par_ok())
    for (int64_t b = 0; b < nb; b++) {
      float *d = gT + b * P * GR_TILE_N; // d is (P, GR_TILE_N)
      int64_t q0 = 0;
      if (s3 == 1 && s2 == Wo) { /* a sample's positions one run: 16 channels by 16 positions */
        static const float zero[16];
        for (; q0 + 16 <= P; q0 += 16)
          for (int64_t o16 = 0; o16 < nv * 16; o16 += 16) {
            const float *src[16]; // src[r] is channel o16+r at positions q0 .. q0+15
            for (int r = 0; r < 16; r++)
              src[r] = o16 + r < Og ? pg + (n0 + b) * s0 + (o16 + r) * s1 + q0 : zero;
            kt->transpose16(d + q0 * GR_TILE_N + o16, GR_TILE_N, src);
          }
      }
      for (int64_t q = q0; q < P; q++) {
        int64_t oh = q / Wo, ow = q % Wo;
        const float *src = pg + (n0 + b) * s0 + oh * s2 + ow * s3; // src: position q, channel 0
        for (int64_t o = 0; o < Og; o++) d[q * GR_TILE_N + o] = src[o * s1];
        for (int64_t o = Og; o < nv * 16; o++) d[q * GR_TILE_N + o] = 0;
      }
    }
    /* task: range rg of the block's positions for tile t of taps (8 channels at one (i, j)) */
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static, 1) if (tasks > 1 && par_ok())
    for (int64_t task = 0; task < tasks; task++) {
      int64_t rg = task / mtk, t = task % mtk, ij = t % khw, c0 = t / khw * GR_TILE_M;
      int64_t vecs = nbv / 16, lo = vecs * rg / S * 16, hi = vecs * (rg + 1) / S * 16;
      if (hi > nblk) hi = nblk; /* past the block: zeros, which change no sum */
      int64_t k0 = c0 * khw + ij, ra = koff[k0 + khw] - koff[k0];
      float *c = sums + (rg * K + k0) * GR_TILE_N; // c: the tile's 8 taps, khw rows apart
      for (int64_t p = lo; p < hi;) {
        int64_t b = p / P, q = p % P, oh = q / Wo, ow = q % Wo;
        int64_t len = Wo - ow < hi - p ? Wo - ow : hi - p; /* to the row's end or the range's */
        const float *a = pl + koff[k0] + b * ss + oh * ig.lw + ow; // a: tap rows ra apart
        kt->gemm_tile_at(c, khw * GR_TILE_N, a, ra, 1, gT + p * GR_TILE_N, len, true, (int)nv);
        p += len;
      }
    }
  }
  /* dw[o][k]: the ranges' sums added in order */
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (Og * K > PAR_MIN && par_ok())
  for (int64_t o = 0; o < Og; o++)
    for (int64_t k = 0; k < K; k++) {
      float v = sums[k * GR_TILE_N + o];
      for (int64_t rg = 1; rg < S; rg++) v += sums[(rg * K + k) * GR_TILE_N + o];
      dw[o * K + k] = v;
    }
  return GR_OK;
}

/* --- depthwise convolutions ----------------------------------------------------------------
 * One channel in and one out per group (groups = C = O): each filtered
 * plane is one image plane through one small kernel. As a GEMM those are
 * products of a single row, which waste sgemm and the tile alike; here
 * each plane is filtered directly. conv2d reads the plane's stride-phase
 * planes (every tap a unit-stride window, as on the tile) and sums the
 * taps row by row; its adjoint computes each stride phase of the image
 * from a zero-bordered copy of the filtered plane, with the taps of that
 * phase only, then interleaves the phases; the weight gradient sums each
 * tap's products over the planes of a channel. A task is one plane (or,
 * for the weight gradient, a fixed range of samples of one channel), and
 * every sum runs in one fixed order. */

/* The adjoint's phases: tap (i,j) adds filtered (oh,ow) into image
 * (oh*sh + i*dh - ph, ...), that is into stride phase (qh_i, qw_j) at
 * (oh + mh_i, ow + mw_j) (tap_phase). Row a of a phase then reads the
 * bordered filtered plane at row a + mh1 - mh_i, mh1 the largest shift,
 * and columns alike. */
typedef struct dw_phases {
  int64_t mh0, mh1, mw0, mw1, Hp, Wp; /* shifts; the bordered plane (Hp, Wp) */
  int64_t Ah, Aw;                     /* the largest phase of the image: (Ah, Aw) */
  int64_t *start;                     /* (sh*sw + 1): phase p's taps are start[p] .. start[p+1]-1 */
  int64_t *tap;                       /* (T): the taps (i*kw + j), phase by phase, in order */
  int64_t *off;                       /* (T): each of those taps' window in the bordered plane */
} dw_phases;

/* ph's shifts and sizes for g; its tap lists too when idx (3*T + sh*sw + 1
 * int64s of storage) is given. */
static void dw_phases_of(dw_phases *ph, const conv_geom *g, int64_t *idx) {
  int64_t q;
  tap_phase(0, g->dh, g->ph, g->sh, &q, &ph->mh0);
  tap_phase(g->kh - 1, g->dh, g->ph, g->sh, &q, &ph->mh1);
  tap_phase(0, g->dw, g->pw, g->sw, &q, &ph->mw0);
  tap_phase(g->kw - 1, g->dw, g->pw, g->sw, &q, &ph->mw1);
  ph->Ah = (g->H + g->sh - 1) / g->sh;
  ph->Aw = (g->W + g->sw - 1) / g->sw;
  ph->Hp = ph->Ah + ph->mh1 - ph->mh0;
  ph->Wp = ph->Aw + ph->mw1 - ph->mw0;
  if (!idx) return;
  int64_t nph = g->sh * g->sw, n = 0;
  ph->start = idx;
  ph->tap = idx + nph + 1;
  ph->off = ph->tap + g->kh * g->kw;
  for (int64_t p = 0; p < nph; p++) {
    ph->start[p] = n;
    for (int64_t i = 0; i < g->kh; i++)
      for (int64_t j = 0; j < g->kw; j++) {
        int64_t qh, mh, qw, mw;
        tap_phase(i, g->dh, g->ph, g->sh, &qh, &mh);
        tap_phase(j, g->dw, g->pw, g->sw, &qw, &mw);
        if (qh * g->sw + qw != p) continue;
        ph->tap[n] = i * g->kw + j;
        ph->off[n++] = (ph->mh1 - mh) * ph->Wp + ph->mw1 - mw;
      }
  }
  ph->start[nph] = n;
}

/* n floats rounded up to whole cache lines */
static int64_t lines(int64_t n) { return (n + 15) / 16 * 16; }

/* One thread's scratch floats on each depthwise path: conv2d's phase
 * planes; the weight gradient's, a plane of gy and the partial sums; the
 * adjoint's bordered plane, the image's phases and the weights. */
typedef struct dw_scratch {
  int64_t fwd, wgrad, adj;
} dw_scratch;

static dw_scratch dw_scratch_of(const conv_geom *g) {
  igeom ig = igeom_of(g);
  dw_phases ph;
  dw_phases_of(&ph, g, NULL);
  int64_t T = g->kh * g->kw;
  dw_scratch d = {lines(ig.CS), 0, 0};
  d.wgrad = d.fwd + lines(ig.P) + T * 16;
  d.adj = lines(ph.Hp * ph.Wp) + lines(g->sh * g->sw * ph.Ah * ph.Aw) + lines(T);
  return d;
}

/* Whether the depthwise paths run: one channel in and out per group (one
 * group stays on the paths it had), the tile paths' gate, and one
 * thread's scratch on any of the three within the budget. */
static bool depthwise_ok(const conv_geom *g) {
  if (g->G == 1 || g->C != g->G || g->O != g->G || g->N == 0 || tile_kernels() == NULL)
    return false;
  dw_scratch d = dw_scratch_of(g);
  return d.wgrad <= g_budget && d.adj <= g_budget;
}

/* y (N,C,Ho,Wo) contiguous = the depthwise conv2d of x (N,C,H,W) at any
 * strides with w (C, kh*kw), + bias[c]. One task is one plane. */
static gr_status conv2d_depthwise(float *y, const gr_tensor *x, const float *w, const float *bias,
                                  const conv_geom *g) {
  igeom ig = igeom_of(g);
  int64_t T = g->kh * g->kw, C = g->C, P = ig.P, tasks = g->N * C;
  int64_t per = dw_scratch_of(g).fwd, threads = omp_get_max_threads();
  float *tl = scratch_get(&g_planes, per * threads);    // tl is (threads, per): each thread's planes
  int64_t *off = (int64_t *)scratch_get(&g_mat, 2 * T); // off (T): each tap's window in the planes
  if (!tl || !off)
    return gr_fail(GR_ENOMEM, "conv2d: out of memory for %lld scratch floats",
                   (long long)(per * threads + 2 * T));
  tap_offsets(off, g, &ig);
  const gr_kernel_table *kt = tile_kernels();
  const float *px = gr_f32(x); // px is (N,C,H,W) at x's strides
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (tasks > 1 && tasks * P * T > PAR_MIN && par_ok())
  for (int64_t t = 0; t < tasks; t++) {
    int64_t n = t / C, c = t % C;
    float *pl = tl + omp_get_thread_num() * per; // pl is (sh*sw, lh, lw): plane (n, c)'s phases
    plane_phases(pl, px + n * x->stride[0] + c * x->stride[1], x->stride[2], x->stride[3], g, &ig);
    kt->dw_rows(y + t * P, g->Wo, pl, ig.lw, off, w + c * T, T, g->Ho, g->Wo, bias ? bias[c] : 0.0f);
  }
  return GR_OK;
}

/* x (N,C,H,W) contiguous = conv2d's adjoint applied to y (N,C,Ho,Wo) at any
 * strides, depthwise, with w (C, kh*kw), + bias[c]. One task is one plane. */
static gr_status convt_depthwise(float *x, const gr_tensor *y, const float *w, const float *bias,
                                 const conv_geom *g) {
  int64_t T = g->kh * g->kw, C = g->C, H = g->H, W = g->W, sh = g->sh, sw = g->sw;
  int64_t nph = sh * sw, tasks = g->N * C, threads = omp_get_max_threads();
  int64_t per = dw_scratch_of(g).adj;
  int64_t *idx = (int64_t *)scratch_get(&g_mat, 2 * (3 * T + nph + 1));
  float *tl = scratch_get(&g_planes, per * threads); // tl is (threads, per)
  if (!idx || !tl)
    return gr_fail(GR_ENOMEM, "conv_transpose2d: out of memory for %lld scratch floats",
                   (long long)(per * threads + 2 * (3 * T + nph + 1)));
  dw_phases ph;
  dw_phases_of(&ph, g, idx);
  const gr_kernel_table *kt = tile_kernels();
  int64_t Hp = ph.Hp, Wp = ph.Wp, nb = lines(Hp * Wp), nr = lines(nph * ph.Ah * ph.Aw);
  /* the bordered plane's rows [r0, r1) and columns [e0, e1) hold y's from
   * row r0 - mh1 and column e0 - mw1; a negative shift leaves y's first
   * rows out: no image row reads them */
  int64_t r0 = ph.mh1 > 0 ? ph.mh1 : 0, r1 = g->Ho + ph.mh1 < Hp ? g->Ho + ph.mh1 : Hp;
  int64_t e0 = ph.mw1 > 0 ? ph.mw1 : 0, e1 = g->Wo + ph.mw1 < Wp ? g->Wo + ph.mw1 : Wp;
  if (r1 < r0) r1 = r0;
  if (e1 < e0) e1 = e0;
  const float *py = gr_f32(y); // py is (N,C,Ho,Wo) at y's strides
  int64_t s2 = y->stride[2], s3 = y->stride[3];
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (tasks > 1 && tasks * H * W * T / nph > PAR_MIN && par_ok())
  for (int64_t t = 0; t < tasks; t++) {
    int64_t n = t / C, c = t % C;
    float *yb = tl + omp_get_thread_num() * per; // yb is (Hp, Wp): plane (n, c) of y, bordered
    float *R = yb + nb;                          // R is (sh*sw, Ah, Aw): the image's phases
    float *wp = R + nr;                          // wp is (T): the weights, phase by phase
    float v = bias ? bias[c] : 0.0f, *xp = x + t * H * W; // xp is the image plane (H,W)
    for (int64_t k = 0; k < T; k++) wp[k] = w[c * T + ph.tap[k]];
    memset(yb, 0, (size_t)(r0 * Wp) * sizeof *yb);
    memset(yb + r1 * Wp, 0, (size_t)((Hp - r1) * Wp) * sizeof *yb);
    if (r1 > r0)
      copy_rows(yb + r0 * Wp,
                py + n * y->stride[0] + c * y->stride[1] + (r0 - ph.mh1) * s2 + (e0 - ph.mw1) * s3,
                r1 - r0, Wp, e0, e1, s3, s2);
    if (nph == 1) { /* stride 1: the one phase is the image */
      kt->dw_rows(xp, W, yb, Wp, ph.off, wp, T, H, W, v);
      continue;
    }
    for (int64_t qh = 0; qh < sh && qh < H; qh++)
      for (int64_t qw = 0; qw < sw && qw < W; qw++) {
        int64_t p = qh * sw + qw, k0 = ph.start[p];
        int64_t ah = (H - qh + sh - 1) / sh, aw = (W - qw + sw - 1) / sw;
        float *Rp = R + p * ph.Ah * ph.Aw; // Rp is phase p of the image: (ah, aw)
        kt->dw_rows(Rp, aw, yb, Wp, ph.off + k0, wp + k0, ph.start[p + 1] - k0, ah, aw, v);
        for (int64_t a = 0; a < ah; a++) {
          float *xr = xp + (a * sh + qh) * W + qw; // xr is row a*sh+qh of the image, from column qw
          const float *rr = Rp + a * aw;            // rr is row a of the phase: (aw)
          for (int64_t e = 0; e < aw; e++) xr[e * sw] = rr[e];
        }
      }
  }
  return GR_OK;
}

/* dw (C, kh*kw) contiguous = the depthwise conv2d's gradient in its
 * weights, from x (N,C,H,W) and gy (N,C,Ho,Wo) at any strides. A task is
 * one channel over a fixed range of samples: its sixteen partial sums per
 * tap are added in double, sample by sample, and the ranges in order. */
static gr_status weight_depthwise(float *dw, const gr_tensor *x, const gr_tensor *gy,
                                  const conv_geom *g) {
  igeom ig = igeom_of(g);
  int64_t T = g->kh * g->kw, C = g->C, N = g->N, P = ig.P, threads = omp_get_max_threads();
  /* ranges of samples: with few channels, work for any thread count */
  int64_t S = (16 + C - 1) / C;
  if (S > N) S = N;
  int64_t tasks = C * S, per = dw_scratch_of(g).wgrad;
  float *tl = scratch_get(&g_planes, per * threads); // tl is (threads, per)
  /* off (T int64s), then the sums (C, S, T) in double */
  int64_t *off = (int64_t *)scratch_get(&g_mat, 2 * T + 2 * tasks * T);
  if (!tl || !off)
    return gr_fail(GR_ENOMEM, "conv2d_weight_grad: out of memory for %lld scratch floats",
                   (long long)(per * threads + 2 * T + 2 * tasks * T));
  double *sums = (double *)(off + T); // sums is (C, S, T)
  tap_offsets(off, g, &ig);
  const gr_kernel_table *kt = tile_kernels();
  const float *px = gr_f32(x), *pg = gr_f32(gy); // px, pg: (N,C,H,W), (N,C,Ho,Wo) at their strides
  bool in_place = gy->stride[3] == 1 || g->Wo == 1; /* gy's rows read as they are */
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (tasks > 1 && N * C * P * T > PAR_MIN && par_ok())
  for (int64_t t = 0; t < tasks; t++) {
    int64_t c = t / S, rg = t % S, lo = N * rg / S, hi = N * (rg + 1) / S;
    float *pl = tl + omp_get_thread_num() * per; // pl is (sh*sw, lh, lw): a plane's phases
    float *gc = pl + lines(ig.CS);               // gc is (Ho, Wo): gy's plane, when copied
    float *acc = gc + lines(P);                  // acc is (T, 16): the partial sums
    double *sum = sums + t * T;                  // sum is (T): the range's sums
    for (int64_t k = 0; k < T; k++) sum[k] = 0;
    for (int64_t n = lo; n < hi; n++) {
      plane_phases(pl, px + n * x->stride[0] + c * x->stride[1], x->stride[2], x->stride[3], g, &ig);
      const float *gq = pg + n * gy->stride[0] + c * gy->stride[1]; // gq is gy's plane (n, c)
      int64_t ldg = gy->stride[2];
      if (!in_place) {
        copy_rows(gc, gq, g->Ho, g->Wo, 0, g->Wo, gy->stride[3], gy->stride[2]);
        gq = gc;
        ldg = g->Wo;
      }
      memset(acc, 0, (size_t)(T * 16) * sizeof *acc);
      kt->dw_grad_rows(acc, gq, ldg, pl, ig.lw, off, T, g->Ho, g->Wo);
      for (int64_t k = 0; k < T; k++)
        for (int l = 0; l < 16; l++) sum[k] += acc[k * 16 + l];
    }
  }
  for (int64_t c = 0; c < C; c++)
    for (int64_t k = 0; k < T; k++) {
      double v = 0;
      for (int64_t rg = 0; rg < S; rg++) v += sums[(c * S + rg) * T + k];
      dw[c * T + k] = (float)v;
    }
  return GR_OK;
}

/* --- stride 1: an op through its mirror ----------------------------------------------------
 * At stride 1 (dilation 1, one group) conv2d's adjoint is itself a conv2d:
 * the filtered side, padded by kh-1-ph and kw-1-pw, through the kernel
 * turned half a turn with its two channel axes swapped; and conv2d is the
 * adjoint of that conv2d. The products of the one have C*kh*kw rows and O
 * steps where the other's have O rows and C*kh*kw steps. With few filtered
 * channels (an image generator's last layer: 3 maps through a 7x7 kernel;
 * PatchGAN's last: one map) the adjoint writes and reads a column matrix 49
 * times the image over a product of 3 steps, and conv2d and its weight
 * gradient keep 3 of the tile's 8 rows busy: each of the three runs as its
 * mirror instead. */
#define ADJ_CONV_O 16

/* the conv2d whose adjoint is g's conv2d, and the other way round */
static conv_geom turned_geom(const conv_geom *g) {
  return (conv_geom){.N = g->N, .C = g->O, .H = g->Ho, .W = g->Wo, .O = g->C, .Ho = g->H,
                     .Wo = g->W, .kh = g->kh, .kw = g->kw, .sh = 1, .sw = 1,
                     .ph = g->kh - 1 - g->ph, .pw = g->kw - 1 - g->pw, .dh = 1, .dw = 1, .G = 1};
}

/* whether g's ops have a mirror (turned_geom): stride 1, no dilation, one
 * group, padding within the kernel */
static bool has_mirror(const conv_geom *g) {
  return g->G == 1 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->ph < g->kh &&
         g->pw < g->kw;
}

/* the adjoint as a conv2d: below ADJ_CONV_O filtered channels, more image ones */
static bool adjoint_as_conv(const conv_geom *g) {
  return has_mirror(g) && g->O < ADJ_CONV_O && g->O < g->C;
}

/* conv2d and its weight gradient as the mirror's adjoint and weight
 * gradient: below a tile's rows of filtered channels, with more image
 * ones, and a tile to run the mirror on */
static bool conv_as_adjoint(const conv_geom *g) {
  return has_mirror(g) && g->O < GR_TILE_M && g->O < g->C && tile_kernels() != NULL;
}

/* t (B, A, kh, kw) = w (A, B, kh, kw) turned: the two channel axes swapped,
 * each kernel half a turn */
static void turn(float *t, const float *w, int64_t A, int64_t B, int64_t khw) {
  for (int64_t a = 0; a < A; a++)
    for (int64_t b = 0; b < B; b++)
      for (int64_t k = 0; k < khw; k++)
        t[(b * A + a) * khw + k] = w[(a * B + b) * khw + khw - 1 - k];
}

/* out = g's adjoint of in (adjoint) or g's conv2d of in, computed as the
 * other op of g's mirror through the turned kernel */
static gr_status through_mirror(bool adjoint, float *out, const gr_tensor *in, const float *w,
                                const float *bias, const conv_geom *g) {
  const char *op = adjoint ? "conv_transpose2d" : "conv2d";
  int64_t n = g->O * g->C * g->kh * g->kw;
  float *wt = malloc((size_t)n * sizeof *wt); // wt is (C, O, kh, kw)
  if (!wt) return gr_fail(GR_ENOMEM, "%s: out of memory for %lld floats", op, (long long)n);
  turn(wt, w, g->O, g->C, g->kh * g->kw);
  conv_geom f = turned_geom(g);
  gr_status s = adjoint ? conv_engine_forward(out, in, wt, bias, &f)
                        : conv_engine_transpose(out, in, wt, bias, &f);
  free(wt);
  return s;
}

/* dw of g's conv2d: the mirror's weight gradient, with gy as its image and
 * x as its filtered side, turned back */
static gr_status weight_mirror(float *dw, const gr_tensor *x, const gr_tensor *gy,
                               const conv_geom *g) {
  int64_t khw = g->kh * g->kw;
  float *dv = malloc((size_t)(g->O * g->C * khw) * sizeof *dv); // dv is (C, O, kh, kw)
  if (!dv)
    return gr_fail(GR_ENOMEM, "conv2d_weight_grad: out of memory for %lld floats",
                   (long long)(g->O * g->C * khw));
  conv_geom f = turned_geom(g);
  gr_status s = conv_engine_weight_grad(dv, gy, x, &f);
  if (s == GR_OK) turn(dw, dv, g->C, g->O, khw);
  free(dv);
  return s;
}

/* --- the entry points ---------------------------------------------------------------------
 * Each takes the first path that applies: a 1x1 output as one plain sgemm;
 * with tile_kernels(), the depthwise path for one channel in and out per
 * group; at stride 1 with few filtered channels, the mirror's other op;
 * else the tile path when the shapes fit; else blocks of columns through
 * sgemm, group by group. */

/* y (N,O,Ho,Wo) contiguous = conv2d(x, w) + bias; x (N,C,H,W) at any
 * strides, w (O, C/G*kh*kw) contiguous, bias (O) or NULL. */
gr_status conv_engine_forward(float *y, const gr_tensor *x, const float *w, const float *bias,
                              const conv_geom *g) {
  int64_t ckg = g->C / g->G * g->kh * g->kw, og = g->O / g->G, P = g->Ho * g->Wo, ldx;
  if (dense_geom(g) && flat_rows(x, &ldx)) {
    /* y (N, O) = x (N, C*kh*kw) @ w^T, group by group */
    if (bias) fill_rows(y, bias, g->N, g->O, 1);
    for (int64_t k = 0; k < g->G && g->N > 0; k++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->N, (int)og, (int)ckg, 1.0f,
                  gr_f32(x) + k * ckg, (int)ldx, w + k * og * ckg, (int)ckg, bias ? 1.0f : 0.0f,
                  y + k * og, (int)g->O);
    return GR_OK;
  }
  if (depthwise_ok(g)) return conv2d_depthwise(y, x, w, bias, g);
  if (conv_as_adjoint(g)) return through_mirror(false, y, x, w, bias, g);
  if (implicit_ok(g)) return conv2d_implicit(y, x, w, bias, g);
  conv_plan pl;
  gr_status s = make_plan("conv2d", g, &pl);
  if (s != GR_OK) return s;
  /* sample by sample, sgemm writes straight into y; the bias is added after */
  bool direct = per_sample(g, &pl);
  for (int64_t n0 = 0; n0 < g->N; n0 += pl.B) {
    int64_t nb = g->N - n0 < pl.B ? g->N - n0 : pl.B;
    for (int64_t oh0 = 0; oh0 < g->Ho; oh0 += pl.rows) {
      int64_t nr = g->Ho - oh0 < pl.rows ? g->Ho - oh0 : pl.rows, np = nr * g->Wo, L = nb * np;
      im2col(pl.col, x, g, n0, nb, oh0, nr);
      if (direct) {
        for (int64_t b = 0; b < nb; b++)
          for (int64_t k = 0; k < g->G; k++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)og, (int)np, (int)ckg,
                        1.0f, w + k * og * ckg, (int)ckg, pl.col + k * ckg * L + b * np, (int)L,
                        0.0f, y + ((n0 + b) * g->O + k * og) * P + oh0 * g->Wo, (int)P);
        continue;
      }
      /* mat (O, L) = w @ col for the whole block, then into y with the bias */
      for (int64_t k = 0; k < g->G; k++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)og, (int)L, (int)ckg, 1.0f,
                    w + k * og * ckg, (int)ckg, pl.col + k * ckg * L, (int)L, 0.0f,
                    pl.mat + k * og * L, (int)L);
      scatter(y, pl.mat, bias, g, n0, nb, oh0, nr);
    }
  }
  if (direct && bias) {
    int64_t planes = g->N * g->O;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (planes * P > PAR_MIN && par_ok())
    for (int64_t t = 0; t < planes; t++) {
      float v = bias[t % g->O], *d = y + t * P; // d is one (Ho,Wo) plane of y
      for (int64_t q = 0; q < P; q++) d[q] += v;
    }
  }
  return GR_OK;
}

/* x (N,C,H,W) contiguous = conv2d's adjoint applied to y (N,O,Ho,Wo) at any
 * strides, + bias[c]; w (O, C/G*kh*kw) contiguous, bias (C) or NULL. */
gr_status conv_engine_transpose(float *x, const gr_tensor *y, const float *w, const float *bias,
                                const conv_geom *g) {
  int64_t ckg = g->C / g->G * g->kh * g->kw, og = g->O / g->G, ldy;
  if (g->N == 0) return GR_OK;
  if (dense_geom(g) && flat_rows(y, &ldy)) {
    /* x (N, C*kh*kw) = y (N, O) @ w, group by group */
    if (bias) fill_rows(x, bias, g->N, g->C, g->H * g->W);
    for (int64_t k = 0; k < g->G; k++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->N, (int)ckg, (int)og, 1.0f,
                  gr_f32(y) + k * og, (int)ldy, w + k * og * ckg, (int)ckg, bias ? 1.0f : 0.0f,
                  x + k * ckg, (int)(g->C * g->kh * g->kw));
    return GR_OK;
  }
  if (depthwise_ok(g)) return convt_depthwise(x, y, w, bias, g);
  if (adjoint_as_conv(g)) return through_mirror(true, x, y, w, bias, g);
  if (tiled_t_ok(g, y)) return convt_tiled(x, y, w, bias, g);
  conv_plan pl;
  gr_status s = make_plan("conv_transpose2d", g, &pl);
  if (s != GR_OK) return s;
  bool direct = filtered_rows(y, g) && per_sample(g, &pl);
  for (int64_t n0 = 0; n0 < g->N; n0 += pl.B) {
    int64_t nb = g->N - n0 < pl.B ? g->N - n0 : pl.B;
    for (int64_t oh0 = 0; oh0 < g->Ho; oh0 += pl.rows) {
      int64_t nr = g->Ho - oh0 < pl.rows ? g->Ho - oh0 : pl.rows, np = nr * g->Wo, L = nb * np;
      if (direct) {
        /* sample b's columns of col from its filtered side, in place */
        for (int64_t b = 0; b < nb; b++) {
          // ym is y[n0+b, :, oh0:], (O, nr*Wo) with rows ld floats apart
          const float *ym = gr_f32(y) + (n0 + b) * y->stride[0] + oh0 * y->stride[2];
          int64_t ld = y->stride[1];
          for (int64_t k = 0; k < g->G; k++)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckg, (int)np, (int)og,
                        1.0f, w + k * og * ckg, (int)ckg, ym + k * og * ld, (int)ld, 0.0f,
                        pl.col + k * ckg * L + b * np, (int)L);
        }
      } else {
        /* mat (O, L) <- the block of y, then col = w^T @ mat */
        gather(pl.mat, y, g, n0, nb, oh0, nr);
        for (int64_t k = 0; k < g->G; k++)
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckg, (int)L, (int)og, 1.0f,
                      w + k * og * ckg, (int)ckg, pl.mat + k * og * L, (int)L, 0.0f,
                      pl.col + k * ckg * L, (int)L);
      }
      /* the first block of rows sets x's planes (to the bias), later ones add */
      col2im(x, pl.col, bias, oh0 == 0, g, &pl, n0, nb, oh0, nr);
    }
  }
  return GR_OK;
}

/* dw (O, C/G*kh*kw) contiguous = sum over the batch of gy @ im2col(x)^T,
 * group by group; x (N,C,H,W) and gy (N,O,Ho,Wo) at any strides. */
gr_status conv_engine_weight_grad(float *dw, const gr_tensor *x, const gr_tensor *gy,
                                  const conv_geom *g) {
  int64_t ckg = g->C / g->G * g->kh * g->kw, og = g->O / g->G, ldx, ldg;
  if (dense_geom(g) && g->N > 0 && flat_rows(x, &ldx) && flat_rows(gy, &ldg)) {
    /* dw (O, C*kh*kw) = gy (N, O)^T @ x (N, C*kh*kw), group by group */
    for (int64_t k = 0; k < g->G; k++)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)og, (int)ckg, (int)g->N, 1.0f,
                  gr_f32(gy) + k * og, (int)ldg, gr_f32(x) + k * ckg, (int)ldx, 0.0f,
                  dw + k * og * ckg, (int)ckg);
    return GR_OK;
  }
  if (depthwise_ok(g)) return weight_depthwise(dw, x, gy, g);
  if (conv_as_adjoint(g)) return weight_mirror(dw, x, gy, g);
  if (implicit_wgrad_ok(g)) return wgrad_rows_ok(g) ? weight_rows(dw, x, gy, g) : weight_implicit(dw, x, gy, g);
  conv_plan pl;
  gr_status s = make_plan("conv2d_weight_grad", g, &pl);
  if (s != GR_OK) return s;
  bool direct = pl.B == 1 && filtered_rows(gy, g), first = true;
  for (int64_t n0 = 0; n0 < g->N; n0 += pl.B) {
    int64_t nb = g->N - n0 < pl.B ? g->N - n0 : pl.B;
    for (int64_t oh0 = 0; oh0 < g->Ho; oh0 += pl.rows) {
      int64_t nr = g->Ho - oh0 < pl.rows ? g->Ho - oh0 : pl.rows, L = nb * nr * g->Wo;
      im2col(pl.col, x, g, n0, nb, oh0, nr);
      const float *gm = pl.mat; // gm is gy's block as (O, L), rows ld floats apart
      int64_t ld = L;
      if (direct) {
        gm = gr_f32(gy) + n0 * gy->stride[0] + oh0 * gy->stride[2];
        ld = gy->stride[1];
      } else {
        gather(pl.mat, gy, g, n0, nb, oh0, nr);
      }
      /* blocks add up in order (beta 1 after the first): deterministic */
      for (int64_t k = 0; k < g->G; k++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)og, (int)ckg, (int)L, 1.0f,
                    gm + k * og * ld, (int)ld, pl.col + k * ckg * L, (int)L, first ? 0.0f : 1.0f,
                    dw + k * og * ckg, (int)ckg);
      first = false;
    }
  }
  if (first) memset(dw, 0, (size_t)(g->O * ckg) * sizeof *dw); /* an empty batch */
  return GR_OK;
}
