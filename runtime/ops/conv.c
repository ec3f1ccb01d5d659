/* 2-d convolution: conv2d, conv_transpose2d and conv2d_weight_grad, three
 * faces of one linear map, each built on im2col/col2im and sgemm.
 *
 * Every kernel speaks of one geometry: the image side (N,C,H,W) is conv2d's
 * input and the filtered side (N,O,Ho,Wo) its output. conv2d goes image ->
 * filtered (im2col, then W @ col); conv_transpose2d goes filtered -> image
 * (W^T @ y, then col2im); the weight gradient pairs the two sides (g @ col^T).
 *
 * Columns are laid out for a block of several samples at once, (C*kh*kw,
 * B*Ho*Wo), so that one sgemm per group covers the block: small images still
 * make large products. A block that would not fit the scratch budget is cut
 * into rows of one sample instead. */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "conv_impl.h"
#include "op_impl.h"

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

typedef struct conv_geom {
  int64_t N, C, H, W; /* image side: conv2d's input */
  int64_t O, Ho, Wo;  /* filtered side: conv2d's output */
  int64_t kh, kw, sh, sw, ph, pw, dh, dw, G;
} conv_geom;

/* --- attributes ------------------------------------------------------------------------ */

gr_conv_args gr_conv_defaults(void) {
  gr_conv_args a = {{1, 1}, {0, 0}, {1, 1}, {0, 0}, 1};
  return a;
}

/* i: stride(2), pad(2), dilation(2), output_padding(2), groups, kh, kw */
static gr_attrs pack_args(gr_conv_args a, int64_t kh, int64_t kw) {
  gr_attrs at = {.i = {a.stride[0], a.stride[1], a.pad[0], a.pad[1], a.dilation[0],
                       a.dilation[1], a.output_padding[0], a.output_padding[1], a.groups, kh, kw}};
  return at;
}

static gr_conv_args unpack_args(const gr_attrs *at) {
  gr_conv_args a;
  for (int k = 0; k < 2; k++) {
    a.stride[k] = (int)at->i[0 + k];
    a.pad[k] = (int)at->i[2 + k];
    a.dilation[k] = (int)at->i[4 + k];
    a.output_padding[k] = (int)at->i[6 + k];
  }
  a.groups = (int)at->i[8];
  return a;
}

static conv_geom make_geom(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t Ho,
                           int64_t Wo, int64_t kh, int64_t kw, const gr_attrs *at) {
  conv_geom g = {N, C, H, W, O, Ho, Wo, kh, kw, at->i[0], at->i[1], at->i[2], at->i[3],
                 at->i[4], at->i[5], at->i[8]};
  return g;
}

/* conv2d's output length along one dim; -1 when the kernel overhangs the padded input */
static int64_t conv_out_len(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  int64_t span = in + 2 * p - d * (k - 1) - 1;
  return span < 0 ? -1 : span / s + 1;
}

/* conv_transpose2d's output length along one dim */
static int64_t convt_out_len(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int64_t op) {
  return (in - 1) * s - 2 * p + d * (k - 1) + op + 1;
}

/* --- scratch ----------------------------------------------------------------------------- */

/* Grow-only buffers, one set per thread, so that the hot path does not allocate. */
typedef struct scratch {
  float *p;
  int64_t n;
} scratch;
static _Thread_local scratch g_col, g_mat;

static float *scratch_get(scratch *s, int64_t n) {
  if (n > s->n) {
    free(s->p);
    size_t bytes = ((size_t)n * sizeof(float) + 63) / 64 * 64;
    s->p = aligned_alloc(64, bytes);
    s->n = s->p ? n : 0;
  }
  return s->p;
}

/* A contiguous copy (or t itself, retained) made without recording. */
static gr_tensor *plain_contiguous(gr_tensor *t) {
  bool grad = gr_set_grad_enabled(false);
  gr_tensor *c = gr_contiguous(t);
  gr_set_grad_enabled(grad);
  return c;
}

/* --- blocks ------------------------------------------------------------------------------- */

/* A block is B whole samples, or (B = 1) `rows` output rows of one sample. */
typedef struct conv_plan {
  int64_t B, rows;
  float *col, *mat; /* col (C*kh*kw, B*rows*Wo); mat (O, B*rows*Wo) when `mat_needed` */
} conv_plan;

static gr_status make_plan(const char *op, const conv_geom *g, bool mat_needed, conv_plan *pl) {
  int64_t ck = g->C * g->kh * g->kw, P = g->Ho * g->Wo;
  int64_t per_px = ck + (mat_needed ? g->O : 0);
  if (ck > INT_MAX || g->O > INT_MAX || P > INT_MAX)
    return gr_fail(GR_EARG, "%s: sizes too large for sgemm's int sizes", op);
  if (per_px * P <= g_budget) {
    pl->B = g_budget / (per_px * P);
    if (pl->B > g->N) pl->B = g->N > 0 ? g->N : 1;
    pl->rows = g->Ho;
  } else {
    pl->B = 1;
    pl->rows = g_budget / (per_px * g->Wo);
    if (pl->rows < 1) pl->rows = 1;
    if (pl->rows > g->Ho) pl->rows = g->Ho;
  }
  int64_t L = pl->B * pl->rows * g->Wo;
  pl->col = scratch_get(&g_col, ck * L);
  pl->mat = mat_needed ? scratch_get(&g_mat, g->O * L) : NULL;
  if (!pl->col || (mat_needed && !pl->mat))
    return gr_fail(GR_ENOMEM, "%s: out of memory for %lld scratch floats", op,
                   (long long)(per_px * L));
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

/* col (C*kh*kw, L), L = nb*nr*Wo: row (c,i,j), column b*nr*Wo + r*Wo + ow holds
 * x[n0+b, c, (oh0+r)*sh - ph + i*dh, ow*sw - pw + j*dw], 0 in the padding.
 * x is the image side, any strides. */
static void im2col(float *col, const gr_tensor *x, const conv_geom *g, int64_t n0, int64_t nb,
                   int64_t oh0, int64_t nr) {
  const float *px = gr_f32(x);
  int64_t Wo = g->Wo, np = nr * Wo, L = nb * np, C = g->C, tasks = nb * C;
  int64_t xs0 = x->stride[0], xs1 = x->stride[1], xs2 = x->stride[2], xs3 = x->stride[3];
#pragma omp parallel for schedule(static) if (tasks > 1 && tasks * g->kh * g->kw * np > PAR_MIN)
  for (int64_t t = 0; t < tasks; t++) {
    int64_t b = t / C, c = t % C;
    const float *xp = px + (n0 + b) * xs0 + c * xs1;
    for (int64_t i = 0; i < g->kh; i++)
      for (int64_t j = 0; j < g->kw; j++) {
        float *dst = col + ((c * g->kh + i) * g->kw + j) * L + b * np;
        int64_t off = j * g->dw - g->pw, lo, hi;
        valid_range(Wo, g->sw, off, g->W, &lo, &hi);
        for (int64_t r = 0; r < nr; r++) {
          float *d = dst + r * Wo;
          int64_t ih = (oh0 + r) * g->sh - g->ph + i * g->dh;
          if (ih < 0 || ih >= g->H || hi == lo) {
            memset(d, 0, (size_t)Wo * sizeof *d);
            continue;
          }
          const float *src = xp + ih * xs2;
          for (int64_t ow = 0; ow < lo; ow++) d[ow] = 0;
          if (g->sw == 1 && xs3 == 1) {
            memcpy(d + lo, src + lo + off, (size_t)(hi - lo) * sizeof *d);
          } else {
            for (int64_t ow = lo; ow < hi; ow++) d[ow] = src[(ow * g->sw + off) * xs3];
          }
          for (int64_t ow = hi; ow < Wo; ow++) d[ow] = 0;
        }
      }
  }
}

/* The adjoint of im2col: adds the columns of a block into x (contiguous
 * image side), after setting each touched plane to bias[c] (or 0) when
 * `init`. One task per (sample, channel) plane keeps sums in a fixed order. */
static void col2im(float *x, const float *col, const float *bias, bool init, const conv_geom *g,
                   int64_t n0, int64_t nb, int64_t oh0, int64_t nr) {
  int64_t Wo = g->Wo, np = nr * Wo, L = nb * np, C = g->C, HW = g->H * g->W, tasks = nb * C;
#pragma omp parallel for schedule(static) if (tasks > 1 && tasks * g->kh * g->kw * np > PAR_MIN)
  for (int64_t t = 0; t < tasks; t++) {
    int64_t b = t / C, c = t % C;
    float *xp = x + ((n0 + b) * C + c) * HW;
    if (init) {
      float v = bias ? bias[c] : 0.0f;
      for (int64_t e = 0; e < HW; e++) xp[e] = v;
    }
    for (int64_t i = 0; i < g->kh; i++)
      for (int64_t j = 0; j < g->kw; j++) {
        const float *src = col + ((c * g->kh + i) * g->kw + j) * L + b * np;
        int64_t off = j * g->dw - g->pw, lo, hi;
        valid_range(Wo, g->sw, off, g->W, &lo, &hi);
        if (hi == lo) continue;
        for (int64_t r = 0; r < nr; r++) {
          int64_t ih = (oh0 + r) * g->sh - g->ph + i * g->dh;
          if (ih < 0 || ih >= g->H) continue;
          float *d = xp + ih * g->W + off;
          const float *s = src + r * Wo;
          if (g->sw == 1) {
            for (int64_t ow = lo; ow < hi; ow++) d[ow] += s[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ow++) d[ow * g->sw] += s[ow];
          }
        }
      }
  }
}

/* mat (O, L) <- a block of the filtered side y (N,O,Ho,Wo), any strides. */
static void gather(float *mat, const gr_tensor *y, const conv_geom *g, int64_t n0, int64_t nb,
                   int64_t oh0, int64_t nr) {
  const float *py = gr_f32(y);
  int64_t Wo = g->Wo, np = nr * Wo, L = nb * np, O = g->O, tasks = nb * O;
  int64_t s0 = y->stride[0], s1 = y->stride[1], s2 = y->stride[2], s3 = y->stride[3];
#pragma omp parallel for schedule(static) if (tasks > 1 && tasks * np > PAR_MIN)
  for (int64_t t = 0; t < tasks; t++) {
    int64_t b = t / O, o = t % O;
    float *d = mat + o * L + b * np;
    const float *s = py + (n0 + b) * s0 + o * s1 + oh0 * s2;
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
#pragma omp parallel for schedule(static) if (tasks > 1 && tasks * np > PAR_MIN)
  for (int64_t t = 0; t < tasks; t++) {
    int64_t b = t / O, o = t % O;
    float *d = y + ((n0 + b) * O + o) * P + oh0 * Wo;
    const float *s = mat + o * L + b * np;
    if (!bias) {
      memcpy(d, s, (size_t)np * sizeof *d);
      continue;
    }
    float v = bias[o];
    for (int64_t q = 0; q < np; q++) d[q] = s[q] + v;
  }
}

/* Whether sgemm can read the filtered side y block by block in place: one
 * sample at a time, rows of each channel contiguous. */
static bool filtered_in_place(const gr_tensor *y, const conv_geom *g, const conv_plan *pl) {
  return pl->B == 1 && (y->stride[3] == 1 || g->Wo == 1) &&
         (y->stride[2] == g->Wo || g->Ho == 1) && y->stride[1] >= g->Ho * g->Wo &&
         y->stride[1] <= INT_MAX;
}

/* --- the three kernels ------------------------------------------------------------------- */

/* y (N,O,Ho,Wo) contiguous = conv2d(x, w) + bias; w (O, C/G*kh*kw) contiguous. */
static gr_status conv2d_run(float *y, const gr_tensor *x, const float *w, const float *bias,
                            const conv_geom *g) {
  conv_plan pl;
  gr_status s = make_plan("conv2d", g, true, &pl);
  if (s != GR_OK) return s;
  int64_t ckg = g->C / g->G * g->kh * g->kw, og = g->O / g->G, P = g->Ho * g->Wo;
  /* one sample at a time, sgemm writes straight into y */
  bool direct = pl.B == 1;
  for (int64_t n0 = 0; n0 < g->N; n0 += pl.B) {
    int64_t nb = g->N - n0 < pl.B ? g->N - n0 : pl.B;
    for (int64_t oh0 = 0; oh0 < g->Ho; oh0 += pl.rows) {
      int64_t nr = g->Ho - oh0 < pl.rows ? g->Ho - oh0 : pl.rows, L = nb * nr * g->Wo;
      im2col(pl.col, x, g, n0, nb, oh0, nr);
      for (int64_t k = 0; k < g->G; k++) {
        float *out = direct ? y + (n0 * g->O + k * og) * P + oh0 * g->Wo : pl.mat + k * og * L;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)og, (int)L, (int)ckg, 1.0f,
                    w + k * og * ckg, (int)ckg, pl.col + k * ckg * L, (int)L, 0.0f, out,
                    (int)(direct ? P : L));
      }
      if (!direct) scatter(y, pl.mat, bias, g, n0, nb, oh0, nr);
    }
  }
  if (direct && bias) {
    int64_t planes = g->N * g->O;
#pragma omp parallel for schedule(static) if (planes * P > PAR_MIN)
    for (int64_t t = 0; t < planes; t++) {
      float v = bias[t % g->O], *d = y + t * P;
      for (int64_t q = 0; q < P; q++) d[q] += v;
    }
  }
  return GR_OK;
}

/* x (N,C,H,W) contiguous = conv2d's adjoint applied to y (the filtered side,
 * any strides) + bias[c]; w (O, C/G*kh*kw) contiguous. */
static gr_status convt_run(float *x, const gr_tensor *y, const float *w, const float *bias,
                           const conv_geom *g) {
  conv_plan pl;
  gr_status s = make_plan("conv_transpose2d", g, true, &pl);
  if (s != GR_OK) return s;
  int64_t ckg = g->C / g->G * g->kh * g->kw, og = g->O / g->G;
  bool direct = filtered_in_place(y, g, &pl);
  if (g->N == 0 || g->C == 0) return GR_OK;
  for (int64_t n0 = 0; n0 < g->N; n0 += pl.B) {
    int64_t nb = g->N - n0 < pl.B ? g->N - n0 : pl.B;
    for (int64_t oh0 = 0; oh0 < g->Ho; oh0 += pl.rows) {
      int64_t nr = g->Ho - oh0 < pl.rows ? g->Ho - oh0 : pl.rows, L = nb * nr * g->Wo;
      const float *ym = pl.mat;
      int64_t ld = L;
      if (direct) {
        ym = gr_f32(y) + n0 * y->stride[0] + oh0 * y->stride[2];
        ld = y->stride[1];
      } else {
        gather(pl.mat, y, g, n0, nb, oh0, nr);
      }
      for (int64_t k = 0; k < g->G; k++)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckg, (int)L, (int)og, 1.0f,
                    w + k * og * ckg, (int)ckg, ym + k * og * ld, (int)ld, 0.0f,
                    pl.col + k * ckg * L, (int)L);
      col2im(x, pl.col, bias, oh0 == 0, g, n0, nb, oh0, nr);
    }
  }
  return GR_OK;
}

/* dw (O, C/G*kh*kw) contiguous = sum over the batch of gy @ im2col(x)^T, group by group. */
static gr_status weight_run(float *dw, const gr_tensor *x, const gr_tensor *gy,
                            const conv_geom *g) {
  conv_plan pl;
  gr_status s = make_plan("conv2d_weight_grad", g, true, &pl);
  if (s != GR_OK) return s;
  int64_t ckg = g->C / g->G * g->kh * g->kw, og = g->O / g->G;
  bool direct = filtered_in_place(gy, g, &pl), first = true;
  for (int64_t n0 = 0; n0 < g->N; n0 += pl.B) {
    int64_t nb = g->N - n0 < pl.B ? g->N - n0 : pl.B;
    for (int64_t oh0 = 0; oh0 < g->Ho; oh0 += pl.rows) {
      int64_t nr = g->Ho - oh0 < pl.rows ? g->Ho - oh0 : pl.rows, L = nb * nr * g->Wo;
      im2col(pl.col, x, g, n0, nb, oh0, nr);
      const float *gm = pl.mat;
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
  if (first) memset(dw, 0, (size_t)(g->O * ckg) * sizeof *dw);
  return GR_OK;
}

/* --- forwards ------------------------------------------------------------------------------ */

/* Runs a kernel with w and bias made contiguous; out is the new tensor. */
typedef enum { RUN_CONV, RUN_CONVT } run_kind;

static gr_status run_with_weights(gr_fwd *f, run_kind kind, const conv_geom *g, int ndim,
                                  const int64_t *shape) {
  gr_tensor *w = plain_contiguous(f->in[1]);
  gr_tensor *b = f->in[2] ? plain_contiguous(f->in[2]) : NULL;
  gr_tensor *y = w && (b || !f->in[2]) ? gr_empty(GR_F32, ndim, shape) : NULL;
  gr_status s = y ? GR_OK : gr_errcode();
  if (s == GR_OK) {
    const float *pb = b ? gr_f32(b) : NULL;
    s = kind == RUN_CONV ? conv2d_run(gr_f32(y), f->in[0], gr_f32(w), pb, g)
                         : convt_run(gr_f32(y), f->in[0], gr_f32(w), pb, g);
  }
  gr_release(w);
  gr_release(b);
  if (s != GR_OK) {
    gr_release(y);
    return s;
  }
  f->out[0] = y;
  return GR_OK;
}

gr_status conv2d_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0], *w = f->in[1];
  const gr_attrs *a = f->a;
  int64_t kh = w->shape[2], kw = w->shape[3];
  int64_t Ho = conv_out_len(x->shape[2], kh, a->i[0], a->i[2], a->i[4]);
  int64_t Wo = conv_out_len(x->shape[3], kw, a->i[1], a->i[3], a->i[5]);
  conv_geom g = make_geom(x->shape[0], x->shape[1], x->shape[2], x->shape[3], w->shape[0], Ho,
                          Wo, kh, kw, a);
  int64_t shape[4] = {g.N, g.O, Ho, Wo};
  return run_with_weights(f, RUN_CONV, &g, 4, shape);
}

gr_status conv_transpose2d_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0], *w = f->in[1];
  const gr_attrs *a = f->a;
  int64_t kh = w->shape[2], kw = w->shape[3];
  int64_t H = convt_out_len(x->shape[2], kh, a->i[0], a->i[2], a->i[4], a->i[6]);
  int64_t W = convt_out_len(x->shape[3], kw, a->i[1], a->i[3], a->i[5], a->i[7]);
  /* x is the filtered side of the conv2d whose adjoint this is */
  conv_geom g = make_geom(x->shape[0], w->shape[1] * a->i[8], H, W, x->shape[1], x->shape[2],
                          x->shape[3], kh, kw, a);
  int64_t shape[4] = {g.N, g.C, H, W};
  return run_with_weights(f, RUN_CONVT, &g, 4, shape);
}

gr_status conv2d_weight_grad_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0], *gy = f->in[1];
  const gr_attrs *a = f->a;
  conv_geom g = make_geom(x->shape[0], x->shape[1], x->shape[2], x->shape[3], gy->shape[1],
                          gy->shape[2], gy->shape[3], a->i[9], a->i[10], a);
  int64_t shape[4] = {g.O, g.C / g.G, g.kh, g.kw};
  gr_tensor *dw = gr_empty(GR_F32, 4, shape);
  if (!dw) return gr_errcode();
  gr_status s = weight_run(gr_f32(dw), x, gy, &g);
  if (s != GR_OK) {
    gr_release(dw);
    return s;
  }
  f->out[0] = dw;
  return GR_OK;
}

/* --- gradient rules ----------------------------------------------------------------------
 * conv2d is linear in x and in w, so each rule is another of the three ops:
 * the adjoint in x is conv_transpose2d, the adjoint in w conv2d_weight_grad,
 * and conv2d_weight_grad's own adjoints are conv_transpose2d and conv2d. */

/* a with the output_padding that makes conv_transpose2d restore an image
 * side of (H, W) from a filtered side of (Ho, Wo). */
static gr_conv_args restoring(gr_conv_args a, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                              int64_t kh, int64_t kw) {
  a.output_padding[0] = (int)(H - convt_out_len(Ho, kh, a.stride[0], a.pad[0], a.dilation[0], 0));
  a.output_padding[1] = (int)(W - convt_out_len(Wo, kw, a.stride[1], a.pad[1], a.dilation[1], 0));
  return a;
}

static const int kSpatialBatch[3] = {0, 2, 3};

gr_status conv2d_backward(gr_bwd *b) {
  gr_tensor *x = b->in[0], *w = b->in[1], *g = b->gout[0];
  gr_conv_args a = unpack_args(b->a);
  int64_t kh = w->shape[2], kw = w->shape[3];
  if (b->needs[0])
    b->gin[0] = gr_conv_transpose2d(
        g, w, NULL, restoring(a, x->shape[2], x->shape[3], g->shape[2], g->shape[3], kh, kw));
  if (b->needs[1]) b->gin[1] = gr_conv2d_weight_grad(x, g, (int)kh, (int)kw, a);
  if (b->needs[2]) b->gin[2] = gr_sum(g, 3, kSpatialBatch, false);
  return GR_OK;
}

gr_status conv_transpose2d_backward(gr_bwd *b) {
  gr_tensor *x = b->in[0], *w = b->in[1], *g = b->gout[0];
  gr_conv_args a = unpack_args(b->a);
  a.output_padding[0] = a.output_padding[1] = 0;
  /* g is the image side and x the filtered side of the underlying conv2d */
  if (b->needs[0]) b->gin[0] = gr_conv2d(g, w, NULL, a);
  if (b->needs[1]) b->gin[1] = gr_conv2d_weight_grad(g, x, (int)w->shape[2], (int)w->shape[3], a);
  if (b->needs[2]) b->gin[2] = gr_sum(g, 3, kSpatialBatch, false);
  return GR_OK;
}

gr_status conv2d_weight_grad_backward(gr_bwd *b) {
  /* <weight_grad(x, gy), D> = <conv2d(x, D), gy>: differentiate that in x and gy */
  gr_tensor *x = b->in[0], *gy = b->in[1], *D = b->gout[0];
  gr_conv_args a = unpack_args(b->a);
  int64_t kh = b->a->i[9], kw = b->a->i[10];
  if (b->needs[0])
    b->gin[0] = gr_conv_transpose2d(
        gy, D, NULL, restoring(a, x->shape[2], x->shape[3], gy->shape[2], gy->shape[3], kh, kw));
  if (b->needs[1]) b->gin[1] = gr_conv2d(x, D, NULL, a);
  return GR_OK;
}

/* --- public wrappers: argument checks ------------------------------------------------------ */

static bool check_args(const char *op, gr_conv_args a, bool transposed) {
  for (int k = 0; k < 2; k++) {
    if (a.stride[k] < 1 || a.dilation[k] < 1 || a.pad[k] < 0)
      return gr_fail(GR_EARG,
                     "%s: stride (%d, %d) and dilation (%d, %d) must be >= 1 and padding "
                     "(%d, %d) >= 0",
                     op, a.stride[0], a.stride[1], a.dilation[0], a.dilation[1], a.pad[0],
                     a.pad[1]) == GR_OK;
    if (transposed && (a.output_padding[k] < 0 || a.output_padding[k] >= a.stride[k]))
      return gr_fail(GR_EARG, "%s: output_padding (%d, %d) must be >= 0 and below the stride (%d, %d)",
                     op, a.output_padding[0], a.output_padding[1], a.stride[0],
                     a.stride[1]) == GR_OK;
  }
  if (a.groups < 1)
    return gr_fail(GR_EARG, "%s: groups must be >= 1, got %d", op, a.groups) == GR_OK;
  return true;
}

static bool check_4d(const char *op, const char *arg, const gr_tensor *t) {
  return gr_check_float(op, arg, t) && gr_check_ndim(op, arg, t, 4);
}

static bool check_bias(const char *op, const gr_tensor *b, int64_t n, const gr_tensor *w) {
  if (!b) return true;
  if (!gr_check_float(op, "bias", b)) return false;
  if (b->ndim == 1 && b->shape[0] == n) return true;
  return gr_fail(GR_EARG, "%s: bias must be (%lld) for weight %s, got %s", op, (long long)n,
                 gr_shape_str(w), gr_shape_str(b)) == GR_OK;
}

static bool check_weight_nonempty(const char *op, const gr_tensor *w) {
  for (int d = 0; d < 4; d++)
    if (w->shape[d] < 1)
      return gr_fail(GR_EARG, "%s: weight %s has an empty dim", op, gr_shape_str(w)) == GR_OK;
  return true;
}

/* conv2d's output size for an image side x, kernel (kh, kw); false with a message if none */
static bool conv_out_size(const char *op, const gr_tensor *x, int64_t kh, int64_t kw,
                          gr_conv_args a, int64_t *Ho, int64_t *Wo) {
  *Ho = conv_out_len(x->shape[2], kh, a.stride[0], a.pad[0], a.dilation[0]);
  *Wo = conv_out_len(x->shape[3], kw, a.stride[1], a.pad[1], a.dilation[1]);
  if (*Ho > 0 && *Wo > 0) return true;
  return gr_fail(GR_EARG,
                 "%s: kernel %lldx%lld (dilation %d, %d) is larger than the padded input: x %s "
                 "with padding (%d, %d)",
                 op, (long long)kh, (long long)kw, a.dilation[0], a.dilation[1], gr_shape_str(x),
                 a.pad[0], a.pad[1]) == GR_OK;
}

gr_tensor *gr_conv2d(gr_tensor *x, gr_tensor *w, gr_tensor *b, gr_conv_args a) {
  const char *op = "conv2d";
  if (!x || !w) return NULL;
  if (!check_4d(op, "x", x) || !check_4d(op, "weight", w) || !check_args(op, a, false) ||
      !check_weight_nonempty(op, w))
    return NULL;
  int64_t C = x->shape[1], O = w->shape[0], G = a.groups;
  if (C % G || O % G)
    return gr_fail_null(GR_EARG,
                        "%s: groups %d must divide the channels of x %s and weight %s (%lld in, "
                        "%lld out)",
                        op, a.groups, gr_shape_str(x), gr_shape_str(w), (long long)C, (long long)O);
  if (w->shape[1] * G != C)
    return gr_fail_null(GR_EARG,
                        "%s: weight %s takes %lld input channels (%lld x %d groups) but x %s has "
                        "%lld",
                        op, gr_shape_str(w), (long long)(w->shape[1] * G), (long long)w->shape[1],
                        a.groups, gr_shape_str(x), (long long)C);
  if (!check_bias(op, b, O, w)) return NULL;
  int64_t Ho, Wo;
  if (!conv_out_size(op, x, w->shape[2], w->shape[3], a, &Ho, &Wo)) return NULL;
  a.output_padding[0] = a.output_padding[1] = 0; /* not a conv2d parameter */
  gr_attrs at = pack_args(a, w->shape[2], w->shape[3]);
  gr_tensor *in[3] = {x, w, b};
  return gr_apply1(GR_OP_conv2d, 3, in, &at);
}

gr_tensor *gr_conv_transpose2d(gr_tensor *x, gr_tensor *w, gr_tensor *b, gr_conv_args a) {
  const char *op = "conv_transpose2d";
  if (!x || !w) return NULL;
  if (!check_4d(op, "x", x) || !check_4d(op, "weight", w) || !check_args(op, a, true) ||
      !check_weight_nonempty(op, w))
    return NULL;
  int64_t Ci = x->shape[1], G = a.groups;
  if (w->shape[0] != Ci)
    return gr_fail_null(GR_EARG, "%s: weight %s takes %lld input channels but x %s has %lld", op,
                        gr_shape_str(w), (long long)w->shape[0], gr_shape_str(x), (long long)Ci);
  if (Ci % G)
    return gr_fail_null(GR_EARG, "%s: groups %d must divide the channels of x %s", op, a.groups,
                        gr_shape_str(x));
  if (!check_bias(op, b, w->shape[1] * G, w)) return NULL;
  int64_t H = convt_out_len(x->shape[2], w->shape[2], a.stride[0], a.pad[0], a.dilation[0],
                            a.output_padding[0]);
  int64_t W = convt_out_len(x->shape[3], w->shape[3], a.stride[1], a.pad[1], a.dilation[1],
                            a.output_padding[1]);
  if (x->shape[2] < 1 || x->shape[3] < 1 || H < 1 || W < 1)
    return gr_fail_null(GR_EARG,
                        "%s: x %s with weight %s, stride (%d, %d), padding (%d, %d) gives an "
                        "empty output (%lld x %lld)",
                        op, gr_shape_str(x), gr_shape_str(w), a.stride[0], a.stride[1], a.pad[0],
                        a.pad[1], (long long)H, (long long)W);
  gr_attrs at = pack_args(a, w->shape[2], w->shape[3]);
  gr_tensor *in[3] = {x, w, b};
  return gr_apply1(GR_OP_conv_transpose2d, 3, in, &at);
}

gr_tensor *gr_conv2d_weight_grad(gr_tensor *x, gr_tensor *g, int kh, int kw, gr_conv_args a) {
  const char *op = "conv2d_weight_grad";
  if (!x || !g) return NULL;
  if (!check_4d(op, "x", x) || !check_4d(op, "g", g) || !check_args(op, a, false)) return NULL;
  if (kh < 1 || kw < 1)
    return gr_fail_null(GR_EARG, "%s: kernel size %dx%d must be positive", op, kh, kw);
  int64_t C = x->shape[1], O = g->shape[1], G = a.groups;
  if (x->shape[0] != g->shape[0])
    return gr_fail_null(GR_EARG, "%s: batch sizes differ: x %s, g %s", op, gr_shape_str(x),
                        gr_shape_str(g));
  if (C % G || O % G || C == 0 || O == 0)
    return gr_fail_null(GR_EARG, "%s: groups %d must divide the channels of x %s and g %s", op,
                        a.groups, gr_shape_str(x), gr_shape_str(g));
  int64_t Ho, Wo;
  if (!conv_out_size(op, x, kh, kw, a, &Ho, &Wo)) return NULL;
  if (g->shape[2] != Ho || g->shape[3] != Wo)
    return gr_fail_null(GR_EARG,
                        "%s: g %s must be %lldx%lld spatially, the conv2d output size for x %s "
                        "with a %dx%d kernel",
                        op, gr_shape_str(g), (long long)Ho, (long long)Wo, gr_shape_str(x), kh, kw);
  a.output_padding[0] = a.output_padding[1] = 0;
  gr_attrs at = pack_args(a, kh, kw);
  gr_tensor *in[2] = {x, g};
  return gr_apply1(GR_OP_conv2d_weight_grad, 2, in, &at);
}
