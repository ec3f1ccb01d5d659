/* Normalisation: batch norm, group norm (instance norm is group norm with
 * one channel per group) and layer norm.
 *
 * Each op has three outputs: y, and the statistics it normalised with,
 * mean and rstd = 1/sqrt(var + eps). The public functions hand back y only.
 * The statistics are outputs so that the gradient rule can use them as
 * differentiable values (gr_saved attaches them to the node): the rule then
 * also carries d mean/dx and d rstd/dx, and so it can be differentiated
 * again without any other op knowing about norms.
 *
 * Layout: x is made contiguous and seen as (N,C,S), S the product of the
 * dims after the channel. Batch norm keeps statistics per channel (over N
 * and S); group norm per (n, group), over the group's channels and S; layer
 * norm is group norm with one group on x seen as (R,K,1), K the normalised
 * trailing elements. Statistics accumulate in double in one pass.
 *
 * Backward: a fused kernel when the gradient is not recorded; otherwise a
 * rule written in ops. Both give, for a set of M elements with statistics
 * (mu, r), weight w and incoming g, gy = g*w:
 *   dx = r * (gy - mean(gy) - xhat * mean(gy*xhat)) + gmean/M - grstd*r^2*xhat/M
 * where gmean, grstd are the gradients that reached the statistics outputs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_impl.h"

#define NORM_PAR 32768 /* elements below which a kernel stays on one thread */

/* x as a contiguous tensor, not recorded (owned in a forward, pooled in a rule) */
static gr_tensor *dense(gr_tensor *x) {
  if (!x) return NULL;
  bool grad = gr_set_grad_enabled(false);
  gr_tensor *c = gr_contiguous(x);
  gr_set_grad_enabled(grad);
  return c;
}

static const float *f32_or_null(const gr_tensor *t) { return t ? gr_f32(t) : NULL; }

/* true when t is a constant zero (a gradient that never reached an output) */
static bool all_zero(const gr_tensor *t) {
  if (t->requires_grad) return false;
  int64_t n = gr_numel(t);
  for (int64_t i = 0; i < n; i++)
    if (gr_get_flat(t, i) != 0) return false;
  return true;
}

/* product of the dims from d on */
static int64_t tail_numel(const gr_tensor *x, int d) {
  int64_t n = 1;
  for (int k = d; k < x->ndim; k++) n *= x->shape[k];
  return n;
}

/* Channel blocks, one per thread when the work is large enough. The sums
 * of a channel run in the same order whatever the split, so the result
 * does not even depend on the thread count. */
static int channel_blocks(int64_t C, int64_t work) {
  int64_t t = work > NORM_PAR ? gr_get_threads() : 1;
  if (t > C) t = C;
  return t < 1 ? 1 : (int)t;
}

/* Sums of a run in double, with four partial sums so that the additions
 * do not wait on each other (a fixed order: the result is deterministic). */
static void run_sums(const float *x, int64_t n, double *s1, double *s2) {
  double a[4] = {0}, b[4] = {0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; k++) {
      double v = x[i + k];
      a[k] += v;
      b[k] += v * v;
    }
  for (; i < n; i++) {
    double v = x[i];
    a[0] += v;
    b[0] += v * v;
  }
  *s1 += (a[0] + a[1]) + (a[2] + a[3]);
  *s2 += (b[0] + b[1]) + (b[2] + b[3]);
}

/* sum(g) and sum(g * (x - m)) of a run, the same way */
static void run_grad_sums(const float *g, const float *x, float m, int64_t n, double *sg,
                          double *sgx) {
  double a[4] = {0}, b[4] = {0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; k++) {
      a[k] += g[i + k];
      b[k] += (double)g[i + k] * (x[i + k] - m);
    }
  for (; i < n; i++) {
    a[0] += g[i];
    b[0] += (double)g[i] * (x[i] - m);
  }
  *sg = (a[0] + a[1]) + (a[2] + a[3]);
  *sgx = (b[0] + b[1]) + (b[2] + b[3]);
}

/* Biased variance from the sums; clamped because s2/M - m^2 may round below 0. */
static double finish_var(double s1, double s2, double M, double *mean) {
  double m = M > 0 ? s1 / M : 0, v = M > 0 ? s2 / M - m * m : 0;
  *mean = m;
  return v > 0 ? v : 0;
}

/* --- batch norm -------------------------------------------------------------------- */

/* y = (x - mean) * rstd * w + b per channel. In training the statistics are
 * computed first, and acc (2C) is left holding the mean and biased variance.
 * x, y are (N,C,S); mean, rstd, w, b are (C); w, b may be NULL. */
static void bn_forward_kernel(float *y, float *mean, float *rstd, double *acc, const float *x,
                              const float *w, const float *b, int64_t N, int64_t C, int64_t S,
                              bool training, double eps) {
  int nb = channel_blocks(C, N * C * S);
  int64_t per = (C + nb - 1) / nb;
  double M = (double)(N * S);
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (nb > 1)
  for (int t = 0; t < nb; t++) {
    int64_t c0 = t * per, c1 = c0 + per < C ? c0 + per : C;
    if (training) {
      /* n outer, channels inner: each thread streams its own slab of every sample */
      for (int64_t n = 0; n < N; n++)
        for (int64_t c = c0; c < c1; c++) run_sums(x + (n * C + c) * S, S, &acc[c], &acc[C + c]);
      for (int64_t c = c0; c < c1; c++) {
        double m, v = finish_var(acc[c], acc[C + c], M, &m);
        acc[c] = m;
        acc[C + c] = v;
        mean[c] = (float)m;
        rstd[c] = (float)(1.0 / sqrt(v + eps));
      }
    }
    for (int64_t n = 0; n < N; n++)
      for (int64_t c = c0; c < c1; c++) {
        const float *xr = x + (n * C + c) * S;
        float *yr = y + (n * C + c) * S;
        float m = mean[c], scale = rstd[c] * (w ? w[c] : 1.0f), shift = b ? b[c] : 0.0f;
        for (int64_t s = 0; s < S; s++) yr[s] = (xr[s] - m) * scale + shift;
      }
  }
}

/* A norm forward's end: on success its three outputs go to f and the
 * statistics are kept for the rule; on failure they are given back. */
static gr_status norm_outputs(gr_fwd *f, gr_status s, gr_tensor *y, gr_tensor *mean,
                              gr_tensor *rstd) {
  if (s != GR_OK) {
    gr_release(y);
    gr_release(mean);
    gr_release(rstd);
    return s;
  }
  f->out[0] = y;
  f->out[1] = mean;
  f->out[2] = rstd;
  gr_save(f, mean);
  gr_save(f, rstd);
  return GR_OK;
}

gr_status batch_norm_forward(gr_fwd *f) {
  gr_tensor *xin = f->in[0], *rm = f->in[3], *rv = f->in[4];
  bool training = f->a->i[0];
  double momentum = f->a->f[0], eps = f->a->f[1];
  int64_t N = xin->shape[0], C = xin->shape[1], S = tail_numel(xin, 2), cs[1] = {C};
  gr_tensor *x = dense(xin), *w = dense(f->in[1]), *b = dense(f->in[2]);
  gr_tensor *y = gr_empty(GR_F32, xin->ndim, xin->shape);
  gr_tensor *mean = gr_empty(GR_F32, 1, cs), *rstd = gr_empty(GR_F32, 1, cs);
  double *acc = calloc((size_t)(2 * C + 1), sizeof *acc);
  gr_status s = GR_OK;
  if (!x || (f->in[1] && !w) || (f->in[2] && !b) || !y || !mean || !rstd || !acc) {
    s = acc ? gr_errcode() : gr_fail(GR_ENOMEM, "batch_norm: out of memory");
    goto done;
  }
  float *pm = gr_f32(mean), *pr = gr_f32(rstd);
  if (!training) {
    for (int64_t c = 0; c < C; c++) {
      pm[c] = gr_f32(rm)[c * rm->stride[0]];
      pr[c] = (float)(1.0 / sqrt((double)gr_f32(rv)[c * rv->stride[0]] + eps));
    }
  }
  bn_forward_kernel(gr_f32(y), pm, pr, acc, gr_f32(x), f32_or_null(w), f32_or_null(b), N, C, S,
                    training, eps);
  if (training && rm) {
    /* PyTorch's convention: the running variance is the unbiased one */
    double M = (double)(N * S), unbias = M / (M - 1);
    float *prm = gr_f32(rm), *prv = gr_f32(rv);
    for (int64_t c = 0; c < C; c++) {
      float *m = &prm[c * rm->stride[0]], *v = &prv[c * rv->stride[0]];
      *m = (float)((1 - momentum) * *m + momentum * acc[c]);
      *v = (float)((1 - momentum) * *v + momentum * acc[C + c] * unbias);
    }
  }
done:
  free(acc);
  gr_release(x);
  gr_release(w);
  gr_release(b);
  return norm_outputs(f, s, y, mean, rstd);
}

/* Fused gradients of batch norm. x, g, gx are (N,C,S); mean, rstd, w, gw, gb,
 * gm, gr are (C) (gm, gr: gradients of the statistics, NULL when zero).
 * acc (5C): per channel sum(g), sum(g*xhat), then the three coefficients of
 * gx = A*g + B*(x - mean) + K. */
static void bn_backward_kernel(float *gx, float *gw, float *gb, double *acc, const float *x,
                               const float *g, const float *mean, const float *rstd,
                               const float *w, const float *gm, const float *gr, int64_t N,
                               int64_t C, int64_t S, bool training) {
  int nb = channel_blocks(C, N * C * S);
  int64_t per = (C + nb - 1) / nb;
  double M = (double)(N * S);
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (nb > 1)
  for (int t = 0; t < nb; t++) {
    int64_t c0 = t * per, c1 = c0 + per < C ? c0 + per : C;
    for (int64_t n = 0; n < N; n++)
      for (int64_t c = c0; c < c1; c++) {
        double a1, a2;
        run_grad_sums(g + (n * C + c) * S, x + (n * C + c) * S, mean[c], S, &a1, &a2);
        acc[c] += a1;
        acc[C + c] += a2;
      }
    for (int64_t c = c0; c < c1; c++) {
      double r = rstd[c], wc = w ? w[c] : 1.0, sg = acc[c], sgx = acc[C + c] * r;
      if (gb) gb[c] = (float)sg;
      if (gw) gw[c] = (float)sgx;
      acc[2 * C + c] = r * wc;
      acc[3 * C + c] = 0;
      acc[4 * C + c] = 0;
      if (training) {
        double grc = gr ? gr[c] : 0, gmc = gm ? gm[c] : 0;
        acc[3 * C + c] = r * (-r * wc * sgx / M - grc * r * r / M);
        acc[4 * C + c] = (gmc - r * wc * sg) / M;
      }
    }
    if (!gx) continue;
    for (int64_t n = 0; n < N; n++)
      for (int64_t c = c0; c < c1; c++) {
        const float *xr = x + (n * C + c) * S, *gr_ = g + (n * C + c) * S;
        float *o = gx + (n * C + c) * S;
        float m = mean[c], A = (float)acc[2 * C + c], B = (float)acc[3 * C + c],
              K = (float)acc[4 * C + c];
        for (int64_t s = 0; s < S; s++) o[s] = A * gr_[s] + B * (xr[s] - m) + K;
      }
  }
}

static gr_status bn_backward_fused(gr_bwd *b, bool training) {
  gr_tensor *x = dense(b->in[0]), *g = dense(b->gout[0]), *w = dense(b->in[1]);
  gr_tensor *mean = gr_saved(b, 0), *rstd = gr_saved(b, 1);
  gr_tensor *gm = training && !all_zero(b->gout[1]) ? dense(b->gout[1]) : NULL;
  gr_tensor *gr = training && !all_zero(b->gout[2]) ? dense(b->gout[2]) : NULL;
  if (!x || !g || (b->in[1] && !w)) return gr_errcode();
  int64_t N = x->shape[0], C = x->shape[1], S = tail_numel(x, 2), cs[1] = {C};
  gr_tensor *gx = b->needs[0] ? gr_empty_like(x) : NULL;
  gr_tensor *gw = b->needs[1] ? gr_empty(GR_F32, 1, cs) : NULL;
  gr_tensor *gb = b->needs[2] ? gr_empty(GR_F32, 1, cs) : NULL;
  if ((b->needs[0] && !gx) || (b->needs[1] && !gw) || (b->needs[2] && !gb)) return gr_errcode();
  double *acc = calloc((size_t)(5 * C + 1), sizeof *acc);
  if (!acc) return gr_fail(GR_ENOMEM, "batch_norm: out of memory in the gradient");
  bn_backward_kernel(gx ? gr_f32(gx) : NULL, gw ? gr_f32(gw) : NULL, gb ? gr_f32(gb) : NULL, acc,
                     gr_f32(x), gr_f32(g), gr_f32(mean), gr_f32(rstd), f32_or_null(w),
                     f32_or_null(gm), f32_or_null(gr), N, C, S, training);
  free(acc);
  b->gin[0] = gx;
  b->gin[1] = gw;
  b->gin[2] = gb;
  return GR_OK;
}

/* --- the composite rule, shared by all norms -------------------------------------------- */

/* How a norm's tensors line up in the 4-d view (A,B,Cg,S) of its rule. */
typedef struct norm_view {
  int64_t x[4], stat[4], w[4];
  int sdims[3], nsd; /* dims reduced for the statistics */
  int wdims[3], nwd; /* dims reduced for the weight and bias gradients */
} norm_view;

/* The gradients as expressions of ops, so that they can be differentiated
 * again. In eval mode the statistics are constants and the map is affine. */
static gr_status norm_rule(gr_bwd *b, const norm_view *v, bool training) {
  gr_tensor *x = b->in[0], *w = b->in[1], *bias = b->in[2];
  gr_tensor *mu = gr_saved(b, 0), *rs = gr_saved(b, 1);
  if (!training) {
    mu = gr_detach(mu);
    rs = gr_detach(rs);
  }
  double inv_m = (double)(v->stat[0] * v->stat[1] * v->stat[2] * v->stat[3]) / (double)gr_numel(x);
  mu = gr_reshape(mu, 4, v->stat);
  rs = gr_reshape(rs, 4, v->stat);
  gr_tensor *g = gr_reshape(b->gout[0], 4, v->x);
  gr_tensor *xhat = NULL;
  if (b->needs[0] || b->needs[1]) xhat = gr_mul(gr_sub(gr_reshape(x, 4, v->x), mu), rs);
  if (b->needs[0]) {
    gr_tensor *gy = w ? gr_mul(g, gr_reshape(w, 4, v->w)) : g, *gx;
    if (training) {
      gr_tensor *mg = gr_mul_scalar(gr_sum(gy, v->nsd, v->sdims, true), inv_m);
      gr_tensor *mgx = gr_mul_scalar(gr_sum(gr_mul(gy, xhat), v->nsd, v->sdims, true), inv_m);
      gx = gr_mul(rs, gr_sub(gr_sub(gy, mg), gr_mul(xhat, mgx)));
      if (!all_zero(b->gout[1]))
        gx = gr_add(gx, gr_mul_scalar(gr_reshape(b->gout[1], 4, v->stat), inv_m));
      if (!all_zero(b->gout[2])) {
        gr_tensor *grs = gr_mul(gr_reshape(b->gout[2], 4, v->stat), gr_mul(rs, rs));
        gx = gr_sub(gx, gr_mul_scalar(gr_mul(grs, xhat), inv_m));
      }
    } else {
      gx = gr_mul(gy, rs);
    }
    b->gin[0] = gr_reshape(gx, x->ndim, x->shape);
  }
  if (b->needs[1])
    b->gin[1] = gr_reshape(gr_sum(gr_mul(g, xhat), v->nwd, v->wdims, true), w->ndim, w->shape);
  if (b->needs[2])
    b->gin[2] = gr_reshape(gr_sum(g, v->nwd, v->wdims, true), bias->ndim, bias->shape);
  return GR_OK;
}

gr_status batch_norm_backward(gr_bwd *b) {
  bool training = b->a->i[0];
  if (!b->create_graph) return bn_backward_fused(b, training);
  const gr_tensor *x = b->in[0];
  int64_t N = x->shape[0], C = x->shape[1], S = tail_numel(x, 2);
  norm_view v = {.x = {N, 1, C, S}, .stat = {1, 1, C, 1}, .w = {1, 1, C, 1},
                 .sdims = {0, 1, 3}, .nsd = 3, .wdims = {0, 1, 3}, .nwd = 3};
  return norm_rule(b, &v, training);
}

/* --- group norm, layer norm -------------------------------------------------------------- */

/* x, y are (N,C,S) with C = G*Cg; mean, rstd are (N,G); w, b are (C) or NULL. */
static void gn_forward_kernel(float *y, float *mean, float *rstd, const float *x, const float *w,
                              const float *b, int64_t N, int64_t C, int64_t S, int64_t G,
                              double eps) {
  int64_t Cg = C / G, M = Cg * S;
  /* the group's channels are adjacent: each set is one contiguous run */
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (N * C * S > NORM_PAR)
  for (int64_t k = 0; k < N * G; k++) {
    const float *xs = x + k * M;
    float *ys = y + k * M;
    double s1 = 0, s2 = 0, m;
    run_sums(xs, M, &s1, &s2);
    double var = finish_var(s1, s2, (double)M, &m);
    float mf = (float)m, r = (float)(1.0 / sqrt(var + eps));
    mean[k] = mf;
    rstd[k] = r;
    int64_t c0 = (k % G) * Cg;
    for (int64_t j = 0; j < Cg; j++) {
      float scale = r * (w ? w[c0 + j] : 1.0f), shift = b ? b[c0 + j] : 0.0f;
      const float *xr = xs + j * S;
      float *yr = ys + j * S;
      for (int64_t s = 0; s < S; s++) yr[s] = (xr[s] - mf) * scale + shift;
    }
  }
}

/* forward of group_norm and layer_norm once x is seen as (N,C,S) in G groups */
static gr_status gn_forward(gr_fwd *f, int64_t N, int64_t C, int64_t S, int64_t G, double eps) {
  gr_tensor *xin = f->in[0];
  int64_t ss[2] = {N, G};
  gr_tensor *x = dense(xin), *w = dense(f->in[1]), *b = dense(f->in[2]);
  gr_tensor *y = gr_empty(GR_F32, xin->ndim, xin->shape);
  gr_tensor *mean = gr_empty(GR_F32, 2, ss), *rstd = gr_empty(GR_F32, 2, ss);
  gr_status s = GR_OK;
  if (!x || (f->in[1] && !w) || (f->in[2] && !b) || !y || !mean || !rstd) s = gr_errcode();
  else
    gn_forward_kernel(gr_f32(y), gr_f32(mean), gr_f32(rstd), gr_f32(x), f32_or_null(w),
                      f32_or_null(b), N, C, S, G, eps);
  gr_release(x);
  gr_release(w);
  gr_release(b);
  return norm_outputs(f, s, y, mean, rstd);
}

/* Fused gradients of group norm. x, g, gx are (N,C,S); mean, rstd, gm, gr are
 * (N,G) (gm, gr NULL when zero); w, gw, gb are (C). acc is 2C doubles. */
static void gn_backward_kernel(float *gx, float *gw, float *gb, double *acc, const float *x,
                               const float *g, const float *mean, const float *rstd,
                               const float *w, const float *gm, const float *gr, int64_t N,
                               int64_t C, int64_t S, int64_t G) {
  int64_t Cg = C / G, M = Cg * S;
  if (gw || gb) {
    /* per channel: sum over n and s of g and g*xhat, in channel blocks */
    int nb = channel_blocks(C, N * C * S);
    int64_t per = (C + nb - 1) / nb;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (nb > 1)
    for (int t = 0; t < nb; t++) {
      int64_t c0 = t * per, c1 = c0 + per < C ? c0 + per : C;
      for (int64_t n = 0; n < N; n++)
        for (int64_t c = c0; c < c1; c++) {
          int64_t k = n * G + c / Cg;
          double a1, a2;
          run_grad_sums(g + (n * C + c) * S, x + (n * C + c) * S, mean[k], S, &a1, &a2);
          acc[c] += a1;
          acc[C + c] += a2 * rstd[k];
        }
      for (int64_t c = c0; c < c1; c++) {
        if (gb) gb[c] = (float)acc[c];
        if (gw) gw[c] = (float)acc[C + c];
      }
    }
  }
  if (!gx) return;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (N * C * S > NORM_PAR)
  for (int64_t k = 0; k < N * G; k++) {
    const float *xs = x + k * M, *gs = g + k * M;
    float *os = gx + k * M;
    float m = mean[k];
    double r = rstd[k], sg = 0, sgx = 0;
    int64_t c0 = (k % G) * Cg;
    for (int64_t j = 0; j < Cg; j++) {
      double a1, a2, wc = w ? w[c0 + j] : 1.0;
      run_grad_sums(gs + j * S, xs + j * S, m, S, &a1, &a2);
      sg += wc * a1;
      sgx += wc * a2 * r;
    }
    double grk = gr ? gr[k] : 0, gmk = gm ? gm[k] : 0;
    float B = (float)(r * (-r * sgx / M - grk * r * r / M)), K = (float)((gmk - r * sg) / M);
    for (int64_t j = 0; j < Cg; j++) {
      float A = (float)(r * (w ? w[c0 + j] : 1.0));
      const float *xr = xs + j * S, *gr_ = gs + j * S;
      float *o = os + j * S;
      for (int64_t s = 0; s < S; s++) o[s] = A * gr_[s] + B * (xr[s] - m) + K;
    }
  }
}

static gr_status gn_backward(gr_bwd *b, const char *name, int64_t N, int64_t C, int64_t S,
                             int64_t G) {
  if (b->create_graph) {
    norm_view v = {.x = {N, G, C / G, S}, .stat = {N, G, 1, 1}, .w = {1, G, C / G, 1},
                   .sdims = {2, 3}, .nsd = 2, .wdims = {0, 3}, .nwd = 2};
    return norm_rule(b, &v, true);
  }
  gr_tensor *x = dense(b->in[0]), *g = dense(b->gout[0]), *w = dense(b->in[1]);
  gr_tensor *mean = gr_saved(b, 0), *rstd = gr_saved(b, 1);
  gr_tensor *gm = all_zero(b->gout[1]) ? NULL : dense(b->gout[1]);
  gr_tensor *gr = all_zero(b->gout[2]) ? NULL : dense(b->gout[2]);
  if (!x || !g || (b->in[1] && !w)) return gr_errcode();
  gr_tensor *gx = b->needs[0] ? gr_empty_like(x) : NULL;
  gr_tensor *gw = b->needs[1] ? gr_empty_like(b->in[1]) : NULL;
  gr_tensor *gb = b->needs[2] ? gr_empty_like(b->in[2]) : NULL;
  if ((b->needs[0] && !gx) || (b->needs[1] && !gw) || (b->needs[2] && !gb)) return gr_errcode();
  double *acc = calloc((size_t)(2 * C + 1), sizeof *acc);
  if (!acc) return gr_fail(GR_ENOMEM, "%s: out of memory in the gradient", name);
  gn_backward_kernel(gx ? gr_f32(gx) : NULL, gw ? gr_f32(gw) : NULL, gb ? gr_f32(gb) : NULL, acc,
                     gr_f32(x), gr_f32(g), gr_f32(mean), gr_f32(rstd), f32_or_null(w),
                     f32_or_null(gm), f32_or_null(gr), N, C, S, G);
  free(acc);
  b->gin[0] = gx;
  b->gin[1] = gw;
  b->gin[2] = gb;
  return GR_OK;
}

gr_status group_norm_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0];
  return gn_forward(f, x->shape[0], x->shape[1], tail_numel(x, 2), f->a->i[0],
                    f->a->f[0]);
}

gr_status group_norm_backward(gr_bwd *b) {
  gr_tensor *x = b->in[0];
  return gn_backward(b, "group_norm", x->shape[0], x->shape[1], tail_numel(x, 2), b->a->i[0]);
}

/* layer norm: x seen as (R,K,1) in one group, K the elements of the last nnorm dims */
gr_status layer_norm_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0];
  int64_t K = tail_numel(x, x->ndim - (int)f->a->i[0]), R = K ? gr_numel(x) / K : 0;
  return gn_forward(f, R, K, 1, 1, f->a->f[0]);
}

gr_status layer_norm_backward(gr_bwd *b) {
  gr_tensor *x = b->in[0];
  int64_t K = tail_numel(x, x->ndim - (int)b->a->i[0]), R = K ? gr_numel(x) / K : 0;
  return gn_backward(b, "layer_norm", R, K, 1, 1);
}

/* --- public functions ------------------------------------------------------------------- */

/* An optional per-channel tensor: NULL, or float of the given shape. */
static bool check_param(const char *op, const char *arg, const gr_tensor *t, const gr_tensor *x,
                        int ndim, const int64_t *shape) {
  if (!t) return true;
  if (!gr_check_float(op, arg, t)) return false;
  bool ok = t->ndim == ndim;
  for (int d = 0; ok && d < ndim; d++) ok = t->shape[d] == shape[d];
  if (ok) return true;
  gr_fail(GR_EARG, "%s: %s must have shape %s for input %s, got %s", op, arg,
          gr_dims_str(ndim, shape), gr_shape_str(x), gr_shape_str(t));
  return false;
}

static bool check_input(const char *op, const gr_tensor *x, double eps) {
  if (!gr_check_float(op, "x", x)) return false;
  if (x->ndim < 2) {
    gr_fail(GR_EARG, "%s: x must have a batch and a channel dim (N,C,...), got %s", op,
            gr_shape_str(x));
    return false;
  }
  if (!(eps >= 0)) {
    gr_fail(GR_EARG, "%s: eps must be >= 0, got %g (x %s)", op, eps, gr_shape_str(x));
    return false;
  }
  return true;
}

/* Runs a three-output norm op and keeps y only. */
static gr_tensor *apply_norm(gr_op op, int nin, gr_tensor *const *in, const gr_attrs *a) {
  gr_tensor *out[3] = {0};
  gr_pool_push();
  if (gr_apply(op, nin, in, a, 3, out) != GR_OK) {
    gr_pool_pop();
    return NULL;
  }
  return gr_pool_pop_keep(out[0]);
}

gr_tensor *gr_batch_norm(gr_tensor *x, gr_tensor *weight, gr_tensor *bias,
                         gr_tensor *running_mean, gr_tensor *running_var, bool training,
                         double momentum, double eps) {
  const char *op = "batch_norm";
  if (!x || !check_input(op, x, eps)) return NULL;
  int64_t cs[1] = {x->shape[1]};
  if (!check_param(op, "weight", weight, x, 1, cs) || !check_param(op, "bias", bias, x, 1, cs) ||
      !check_param(op, "running_mean", running_mean, x, 1, cs) ||
      !check_param(op, "running_var", running_var, x, 1, cs))
    return NULL;
  if (!running_mean != !running_var)
    return gr_fail_null(GR_EARG, "batch_norm: running_mean and running_var go together; got %s "
                        "and %s for input %s", gr_shape_str(running_mean),
                        gr_shape_str(running_var), gr_shape_str(x));
  if ((running_mean && running_mean->requires_grad) || (running_var && running_var->requires_grad))
    return gr_fail_null(GR_EARG, "batch_norm: running_mean and running_var are buffers and must "
                        "not require a gradient (input %s)", gr_shape_str(x));
  if (!training && !running_mean)
    return gr_fail_null(GR_EARG, "batch_norm: eval mode needs running_mean and running_var "
                        "(input %s)", gr_shape_str(x));
  if (training && gr_numel(x) / (cs[0] ? cs[0] : 1) <= 1)
    return gr_fail_null(GR_EARG, "batch_norm: training needs more than one value per channel, "
                        "got input %s", gr_shape_str(x));
  gr_attrs a = {.i = {training}, .f = {momentum, eps}};
  gr_tensor *in[5] = {x, weight, bias, running_mean, running_var};
  return apply_norm(GR_OP_batch_norm, 5, in, &a);
}

static gr_tensor *group_norm_as(const char *op, gr_tensor *x, int64_t groups, gr_tensor *weight,
                                gr_tensor *bias, double eps) {
  if (!x || !check_input(op, x, eps)) return NULL;
  int64_t C = x->shape[1], cs[1] = {C};
  if (groups < 1 || (C > 0 && C % groups != 0) || (C == 0 && groups != 1))
    return gr_fail_null(GR_EARG, "%s: %lld groups do not divide the %lld channels of x %s", op,
                        (long long)groups, (long long)C, gr_shape_str(x));
  if (!check_param(op, "weight", weight, x, 1, cs) || !check_param(op, "bias", bias, x, 1, cs))
    return NULL;
  gr_attrs a = {.i = {groups}, .f = {eps}};
  gr_tensor *in[3] = {x, weight, bias};
  return apply_norm(GR_OP_group_norm, 3, in, &a);
}

gr_tensor *gr_group_norm(gr_tensor *x, int groups, gr_tensor *weight, gr_tensor *bias,
                         double eps) {
  return group_norm_as("group_norm", x, groups, weight, bias, eps);
}

gr_tensor *gr_instance_norm(gr_tensor *x, gr_tensor *weight, gr_tensor *bias, double eps) {
  if (!x) return NULL;
  int64_t C = x->ndim >= 2 ? x->shape[1] : 1;
  return group_norm_as("instance_norm", x, C ? C : 1, weight, bias, eps);
}

gr_tensor *gr_layer_norm(gr_tensor *x, int nnorm, gr_tensor *weight, gr_tensor *bias,
                         double eps) {
  const char *op = "layer_norm";
  if (!x) return NULL;
  if (!gr_check_float(op, "x", x)) return NULL;
  if (nnorm < 1 || nnorm > x->ndim)
    return gr_fail_null(GR_EARG, "layer_norm: cannot normalise the last %d dims of x %s", nnorm,
                        gr_shape_str(x));
  if (!(eps >= 0))
    return gr_fail_null(GR_EARG, "layer_norm: eps must be >= 0, got %g (x %s)", eps,
                        gr_shape_str(x));
  const int64_t *tail = &x->shape[x->ndim - nnorm];
  if (!check_param(op, "weight", weight, x, nnorm, tail) ||
      !check_param(op, "bias", bias, x, nnorm, tail))
    return NULL;
  gr_attrs a = {.i = {nnorm}, .f = {eps}};
  gr_tensor *in[3] = {x, weight, bias};
  return apply_norm(GR_OP_layer_norm, 3, in, &a);
}
