/* FIR resampling: upfirdn2d, the filter of StyleGAN2's up and down blocks,
 * with the semantics of NVlabs' upfirdn2d (its reference implementation).
 *
 * Each plane of x (N,C,H,W), along each axis, is upsampled by inserting
 * up - 1 zeros after every pixel, padded with pad0 zeros before and pad1
 * after (a negative pad crops), filtered with f over the windows that lie
 * inside, and downsampled by keeping every down-th value from the first:
 *
 *     Ho = (H*uy + py0 + py1 - fh) / dy + 1,    Wo = (W*ux + px0 + px1 - fw) / dx + 1
 *
 * where the filtered length H*uy + py0 + py1 - fh + 1 (and W's) must be at
 * least 1. flip false convolves (the filter reversed over the window, NVlabs'
 * default), true correlates. A 2-d f (fh,fw) is used as gain * f; a 1-d f of
 * k taps is the separable filter f f^T (fh = fw = k) times gain.
 *
 * How it runs: nothing multiplies an inserted zero, and no output that the
 * downsampling drops is computed. Along an axis, output q's window starts at
 * position q*down - pad0 of the upsampled line; of its taps, only every
 * up-th lands on a real pixel, from the first one k0 that does, and those
 * read consecutive input pixels. So every output is a short dot product of
 * consecutive inputs with one phase of the taps (k0, k0 + up, ...), and a
 * table per axis (gr_fir_run, kernels/fir.h) holds, for each output, its
 * first input, its first tap and their count, cut at the image's edges. The
 * taps are stored phase by phase so that each run's weights are consecutive.
 * The op makes the tables and weights (the plan); the kernel table's
 * fir_block runs them on 16 planes at once, interleaved, so each
 * multiply-add is one vector operation whatever the factors: a 1-d f as a
 * y pass then an x pass per output row, a 2-d f as the x passes of the rows
 * of its y run, each with its filter row.
 *
 * Gradient: the op is linear in x, and its adjoint is upfirdn2d again, with
 * up and down swapped, the filter reversed (flip negated) and the padding
 * mapped (upfirdn2d_backward derives it); gain is unchanged. So the rule is
 * the op itself and gradients of every order are exact. The filter is a
 * constant, as StyleGAN's are: an f that requires a gradient is refused.
 *
 * Threads: the N*C planes are split in fixed blocks of 16, each computed by
 * one thread in a fixed order, so the bits do not depend on the thread
 * count (nor on the ISA: kernels/fir.h). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/fir.h"
#include "op_impl.h"

/* below this much work (multiply-adds) the planes run on one thread */
#define PAR_WORK 32768

/* attrs: i[] as below, f[0] = gain. H and W are x's planes, for the guard. */
enum { A_UX, A_UY, A_DX, A_DY, A_PX0, A_PX1, A_PY0, A_PY1, A_FLIP, A_H, A_W };

/* One axis of the op: n input pixels, the factors and pads, the taps along it. */
typedef struct fir_axis {
  int64_t n, up, down, pad0, pad1, taps;
} fir_axis;

/* The output length along an axis; 0 when the window does not fit. */
static int64_t axis_out(fir_axis a) {
  int64_t len = a.n * a.up + a.pad0 + a.pad1 - a.taps + 1; // the filtered length
  return len >= 1 ? (len - 1) / a.down + 1 : 0;
}

static fir_axis axis_x(const gr_attrs *a, int64_t fw) {
  return (fir_axis){a->i[A_W], a->i[A_UX], a->i[A_DX], a->i[A_PX0], a->i[A_PX1], fw};
}

static fir_axis axis_y(const gr_attrs *a, int64_t fh) {
  return (fir_axis){a->i[A_H], a->i[A_UY], a->i[A_DY], a->i[A_PY0], a->i[A_PY1], fh};
}

/* f's extent (fh, fw): a 1-d f is separable, k by k */
static void filter_size(const gr_tensor *f, int64_t *fh, int64_t *fw) {
  *fw = f->shape[f->ndim - 1];
  *fh = f->ndim == 2 ? f->shape[0] : *fw;
}

/* --- the plan ----------------------------------------------------------------------- */

/* Where phase r (the taps k with k % up == r) starts when the taps are
 * stored phase by phase: after the taps of phases 0 .. r-1. */
static int64_t phase_start(int64_t taps, int64_t up, int64_t r) {
  int64_t o = 0;
  for (int64_t s = 0; s < r && s < taps; s++) o += (taps - s + up - 1) / up;
  return o;
}

/* w (taps) = g's taps phase by phase, each times scale: g[0], g[up], ...,
 * then g[1], g[1 + up], ... */
static void phase_order(float *w, const double *g, int64_t taps, int64_t up, double scale) {
  int64_t o = 0;
  for (int64_t r = 0; r < up && r < taps; r++)
    for (int64_t k = r; k < taps; k += up) w[o++] = (float)(g[k] * scale);
}

/* The run of each of the nout outputs along axis a (owned; NULL when out of memory). */
static gr_fir_run *fir_table(fir_axis a, int64_t nout) {
  gr_fir_run *t = malloc((size_t)nout * sizeof *t);
  if (!t) return NULL;
  for (int64_t q = 0; q < nout; q++) {
    int64_t j = q * a.down - a.pad0;             // tap 0's position on the upsampled line
    int64_t k0 = ((-j) % a.up + a.up) % a.up;    // the first tap on a real pixel
    int64_t i0 = (j + k0) / a.up;                // that pixel (an exact division)
    int64_t T = k0 < a.taps ? (a.taps - k0 + a.up - 1) / a.up : 0; // taps of k0's phase
    int64_t lo = i0 < 0 ? -i0 : 0, hi = a.n - i0 < T ? a.n - i0 : T; // those on the image
    t[q] = hi > lo ? (gr_fir_run){i0 + lo, k0 + lo * a.up, phase_start(a.taps, a.up, k0) + lo,
                                  hi - lo}
                   : (gr_fir_run){0, 0, 0, 0};
  }
  return t;
}

/* A plan and the memory it reads. */
typedef struct plan_mem {
  gr_fir_plan p;
  gr_fir_run *rows, *cols; // rows is (Ho), cols (Wo)
  float *wx, *wy;          // see gr_fir_plan
} plan_mem;

static void plan_free(plan_mem *m) {
  free(m->rows);
  free(m->cols);
  free(m->wx);
  free(m->wy);
}

/* The plan for attrs a and filter f; GR_OK or the failure (nothing left to free). */
static gr_status plan_make(plan_mem *m, const gr_attrs *a, const gr_tensor *f) {
  int64_t fh, fw;
  filter_size(f, &fh, &fw);
  fir_axis ax = axis_x(a, fw), ay = axis_y(a, fh);
  bool sep = f->ndim == 1;
  *m = (plan_mem){.p = {.H = ay.n, .W = ax.n, .Ho = axis_out(ay), .Wo = axis_out(ax), .fw = fw,
                        .uy = ay.up, .sep = sep, .k = gr_kernels()}};
  double *g = malloc((size_t)(fh * fw) * sizeof *g); // the correlation taps (fh, fw) or (k)
  m->rows = fir_table(ay, m->p.Ho);
  m->cols = fir_table(ax, m->p.Wo);
  m->wx = malloc((size_t)(sep ? fw : fh * fw) * sizeof *m->wx);
  m->wy = sep ? malloc((size_t)fh * sizeof *m->wy) : NULL;
  if (!g || !m->rows || !m->cols || !m->wx || (sep && !m->wy)) {
    free(g);
    plan_free(m);
    return gr_fail(GR_ENOMEM, "upfirdn2d: out of memory");
  }
  int64_t n = gr_numel(f);
  gr_read_all(f, g);
  /* a convolution is a correlation with the filter reversed (both axes) */
  if (!a->i[A_FLIP])
    for (int64_t k = 0; k < n / 2; k++) {
      double t = g[k];
      g[k] = g[n - 1 - k];
      g[n - 1 - k] = t;
    }
  double gain = a->f[0];
  if (sep) {
    phase_order(m->wx, g, fw, ax.up, 1.0);
    phase_order(m->wy, g, fh, ay.up, gain); // gain once, in the y pass
  } else {
    for (int64_t ky = 0; ky < fh; ky++) phase_order(m->wx + ky * fw, g + ky * fw, fw, ax.up, gain);
  }
  free(g);
  m->p.rows = m->rows;
  m->p.cols = m->cols;
  m->p.wx = m->wx;
  m->p.wy = m->wy;
  return GR_OK;
}

/* y (P,Ho,Wo) from x (P,H,W), both contiguous, GR_FIR_LANES planes at a
 * time by the table's fir_block, each block on one thread. */
static gr_status run_plan(float *y, const float *x, int64_t P, const gr_fir_plan *pl,
                          int64_t taps) {
  int64_t per = gr_fir_scratch_floats(pl); // a multiple of 16 floats: 64-byte blocks
  int nt = omp_get_max_threads();
  float *scratch = aligned_alloc(64, (size_t)(nt * per) * sizeof *scratch);
  if (!scratch) return gr_fail(GR_ENOMEM, "upfirdn2d: out of memory");
  int64_t nb = (P + GR_FIR_LANES - 1) / GR_FIR_LANES;
#pragma omp parallel num_threads(gr_threads_running()) if (P * pl->Ho * pl->Wo * taps > PAR_WORK)
  {
    float *mine = scratch + (size_t)omp_get_thread_num() * (size_t)per;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < nb; b++) {
      int64_t p = b * GR_FIR_LANES;
      int nl = P - p < GR_FIR_LANES ? (int)(P - p) : GR_FIR_LANES;
      pl->k->fir_block(y + p * pl->Ho * pl->Wo, x + p * pl->H * pl->W, nl, mine, pl);
    }
  }
  free(scratch);
  return GR_OK;
}

/* --- the op --------------------------------------------------------------------------- */

gr_status upfirdn2d_forward(gr_fwd *f) {
  const gr_attrs *a = f->a;
  gr_tensor *x = f->in[0], *filt = f->in[1];
  if (x->ndim != 4 || x->shape[2] != a->i[A_H] || x->shape[3] != a->i[A_W])
    return gr_fail(GR_ESTATE, "upfirdn2d: expected x of planes %lldx%lld, got %s",
                   (long long)a->i[A_H], (long long)a->i[A_W], gr_shape_str(x));
  plan_mem pm;
  gr_status s = plan_make(&pm, a, filt);
  if (s != GR_OK) return s;
  bool prev = gr_set_grad_enabled(false);
  gr_tensor *xc = gr_contiguous(x);
  gr_set_grad_enabled(prev);
  int64_t N = x->shape[0], C = x->shape[1];
  gr_tensor *y = xc ? gr_empty(GR_F32, 4, (int64_t[]){N, C, pm.p.Ho, pm.p.Wo}) : NULL;
  s = y ? run_plan(gr_f32(y), gr_f32(xc), N * C, &pm.p, pm.p.sep ? 2 : gr_numel(filt))
        : gr_errcode();
  plan_free(&pm);
  gr_release(xc);
  if (s != GR_OK) {
    gr_release(y);
    return s;
  }
  f->out[0] = y;
  return GR_OK;
}

/* The adjoint. Along an axis (U up, D down, K taps, correlation taps g, in
 * the forward's flip), output q reads g[k] * u[q*D - pad0 + k], u the
 * upsampled input, so input pixel i receives
 *
 *     dx[i] = sum over q, k with q*D - pad0 + k = i*U of g[k] dy[q].
 *
 * With k = K-1-k' that is q*D = i*U + k' - (K-1-pad0): dy upsampled by D,
 * padded before by K-1-pad0, correlated with g reversed (flip negated) and
 * downsampled by U. The pad after, W*U - Wo*D + pad0 - U + 1, makes the
 * filtered length W*U - U + 1, hence exactly W outputs; its windows reach
 * from the first to the last position any dx[i] needs, so cropping there
 * drops only zeros. Both pads may be negative. */
static gr_attrs adjoint_attrs(const gr_attrs *a, const gr_tensor *f) {
  int64_t fh, fw;
  filter_size(f, &fh, &fw);
  fir_axis ax = axis_x(a, fw), ay = axis_y(a, fh);
  int64_t Ho = axis_out(ay), Wo = axis_out(ax);
  gr_attrs b = *a;
  b.i[A_UX] = ax.down;
  b.i[A_DX] = ax.up;
  b.i[A_UY] = ay.down;
  b.i[A_DY] = ay.up;
  b.i[A_PX0] = fw - ax.pad0 - 1;
  b.i[A_PX1] = ax.n * ax.up - Wo * ax.down + ax.pad0 - ax.up + 1;
  b.i[A_PY0] = fh - ay.pad0 - 1;
  b.i[A_PY1] = ay.n * ay.up - Ho * ay.down + ay.pad0 - ay.up + 1;
  b.i[A_FLIP] = !a->i[A_FLIP];
  b.i[A_H] = Ho;
  b.i[A_W] = Wo;
  return b;
}

gr_status upfirdn2d_backward(gr_bwd *b) {
  if (b->needs[1])
    return gr_fail(GR_ESTATE, "upfirdn2d: the filter f %s takes no gradient; it must be a "
                   "constant (detach it)", gr_shape_str(b->in[1]));
  if (!b->needs[0]) return GR_OK;
  gr_attrs a = adjoint_attrs(b->a, b->in[1]);
  gr_tensor *in[2] = {b->gout[0], b->in[1]};
  b->gin[0] = gr_apply1(GR_OP_upfirdn2d, 2, in, &a);
  return GR_OK;
}

gr_upfirdn_args gr_upfirdn_defaults(void) {
  return (gr_upfirdn_args){{1, 1}, {1, 1}, {0, 0, 0, 0}, false, 1.0};
}

gr_tensor *gr_upfirdn2d(gr_tensor *x, gr_tensor *f, gr_upfirdn_args o) {
  if (!x || !f) return NULL;
  const char *op = "upfirdn2d";
  if (!gr_check_float(op, "x", x) || !gr_check_float(op, "f", f)) return NULL;
  if (x->ndim != 4)
    return gr_fail_null(GR_EARG, "upfirdn2d: x must be (N,C,H,W), got %s (f %s)",
                        gr_shape_str(x), gr_shape_str(f));
  if (f->ndim != 1 && f->ndim != 2)
    return gr_fail_null(GR_EARG, "upfirdn2d: f must be taps (k) or a filter (fh,fw), got %s "
                        "(x %s)", gr_shape_str(f), gr_shape_str(x));
  if (gr_numel(f) == 0)
    return gr_fail_null(GR_EARG, "upfirdn2d: f is empty: %s (x %s)", gr_shape_str(f),
                        gr_shape_str(x));
  if (f->requires_grad)
    return gr_fail_null(GR_EARG, "upfirdn2d: f %s requires a gradient, which upfirdn2d does not "
                        "give: the filter must be a constant (detach it) (x %s)",
                        gr_shape_str(f), gr_shape_str(x));
  if (o.up[0] < 1 || o.up[1] < 1 || o.down[0] < 1 || o.down[1] < 1)
    return gr_fail_null(GR_EARG, "upfirdn2d: up (%d, %d) and down (%d, %d) must be at least 1 "
                        "(x %s)", o.up[0], o.up[1], o.down[0], o.down[1], gr_shape_str(x));
  if (!isfinite(o.gain))
    return gr_fail_null(GR_EARG, "upfirdn2d: gain must be finite, got %g (x %s)", o.gain,
                        gr_shape_str(x));
  if (x->shape[2] < 1 || x->shape[3] < 1)
    return gr_fail_null(GR_EARG, "upfirdn2d: x has empty planes: %s", gr_shape_str(x));
  gr_attrs a = {.i = {o.up[0], o.up[1], o.down[0], o.down[1], o.pad[0], o.pad[1], o.pad[2],
                      o.pad[3], o.flip, x->shape[2], x->shape[3]},
                .f = {o.gain}};
  int64_t fh, fw;
  filter_size(f, &fh, &fw);
  fir_axis ax = axis_x(&a, fw), ay = axis_y(&a, fh);
  if (axis_out(ax) < 1 || axis_out(ay) < 1)
    return gr_fail_null(GR_EARG, "upfirdn2d: the output is empty: x %s upsampled by (%d, %d) "
                        "and padded by (%d, %d, %d, %d) is %lldx%lld, smaller than the filter "
                        "%lldx%lld (f %s)", gr_shape_str(x), o.up[0], o.up[1], o.pad[0],
                        o.pad[1], o.pad[2], o.pad[3],
                        (long long)(ay.n * ay.up + ay.pad0 + ay.pad1),
                        (long long)(ax.n * ax.up + ax.pad0 + ax.pad1), (long long)fh,
                        (long long)fw, gr_shape_str(f));
  gr_tensor *in[2] = {x, f};
  return gr_apply1(GR_OP_upfirdn2d, 2, in, &a);
}
