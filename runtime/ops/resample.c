/* Pooling and resampling: average and max pooling, nearest and bilinear
 * upsampling, 2-d padding, grid_sample.
 *
 * Every op sees its input as planes (..., H, W): a kernel computes one
 * output plane from one input plane, and each_plane runs it over all of
 * them in parallel; within a plane a backward kernel accumulates
 * sequentially, so results are bit-identical run to run and on any thread
 * count. Most kernels read tables made once per call (the window, source or
 * weights of each output row and column). Each backward kernel is an op of
 * its own whose rule is the forward again (the two are adjoints, linear in
 * the gradient), so gradients of any order stay expressions of ops. The rule of
 * max pooling and the create_graph rule of grid_sample use two index ops,
 * plane_gather and plane_scatter, which are each other's rule. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_impl.h"

/* below this much work a loop runs on one thread */
#define PAR_WORK 32768

/* --- planes ------------------------------------------------------------------------ */

/* x as a contiguous tensor, made without recording (owned; x itself when already so). */
static gr_tensor *contig(gr_tensor *x) {
  bool prev = gr_set_grad_enabled(false);
  gr_tensor *c = gr_contiguous(x);
  gr_set_grad_enabled(prev);
  return c;
}

/* Number of (H,W) planes: the product of all dims but the last two. */
static int64_t planes(const gr_tensor *x) {
  int64_t p = 1;
  for (int d = 0; d < x->ndim - 2; d++) p *= x->shape[d];
  return p;
}

/* A new contiguous tensor with x's leading dims and (h, w) last (owned). */
static gr_tensor *plane_like(const gr_tensor *x, int64_t h, int64_t w, bool zero) {
  int64_t shape[GR_MAX_DIM];
  memcpy(shape, x->shape, sizeof shape);
  shape[x->ndim - 2] = h;
  shape[x->ndim - 1] = w;
  return zero ? gr_zeros(GR_F32, x->ndim, shape) : gr_empty(GR_F32, x->ndim, shape);
}

#define DIM_H(t) ((t)->shape[(t)->ndim - 2])
#define DIM_W(t) ((t)->shape[(t)->ndim - 1])

static gr_tensor *apply1(gr_op op, gr_tensor *x, const gr_attrs *a) {
  if (!x) return NULL;
  return gr_apply1(op, 1, &x, a);
}

/* A kernel on one plane: y is plane p of the output, x plane p of the
 * input; ctx holds the sizes and tables, and any per-plane extra it finds
 * from p (a second output, an index plane shared by channels). */
typedef void (*plane_fn)(float *y, const float *x, int64_t p, const void *ctx);

/* fn on planes 0 .. P-1 of y (planes ys floats apart) and x (xs apart). Each
 * plane is one thread's, in fixed chunks, and nothing is summed across
 * planes: the numbers are the same on any thread count. Threads wake only
 * when P times the work of one plane is worth it. */
static void each_plane(float *y, int64_t ys, const float *x, int64_t xs, int64_t P, int64_t work,
                       plane_fn fn, const void *ctx) {
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (P * work > PAR_WORK)
  for (int64_t p = 0; p < P; p++) fn(y + p * ys, x + p * xs, p, ctx);
}

/* Guards a kernel against an input whose planes are not the size its attributes say. */
static bool plane_is(const char *op, const gr_tensor *x, int64_t h, int64_t w) {
  if (x->ndim >= 2 && DIM_H(x) == h && DIM_W(x) == w) return true;
  gr_fail(GR_ESTATE, "%s: expected planes of %lldx%lld, got %s", op, (long long)h, (long long)w,
          gr_shape_str(x));
  return false;
}

/* A plane op's input and output: *x is f's input made contiguous, which must
 * have planes of (h, w); *y a new tensor of x's leading dims and planes
 * (ho, wo), zeros when `zero` (the backward kernels add into it). Both
 * owned; on failure both NULL and the status returned. */
static gr_status plane_io(gr_fwd *f, const char *op, int64_t h, int64_t w, int64_t ho, int64_t wo,
                          bool zero, gr_tensor **x, gr_tensor **y) {
  *x = contig(f->in[0]);
  *y = *x && plane_is(op, *x, h, w) ? plane_like(*x, ho, wo, zero) : NULL;
  if (*y) return GR_OK;
  gr_release(*x);
  *x = NULL;
  return gr_errcode();
}

/* f's forward for an op between (H,W) and (Ho,Wo) planes, with fn on every
 * plane: the op's (backward false: (Ho,Wo) planes from (H,W) ones) or its
 * backward op's (true: zeroed (H,W) planes that fn adds (Ho,Wo) ones into).
 * work: per (Ho,Wo) element, for the thread threshold. */
static gr_status run_planes(gr_fwd *f, const char *op, bool backward, int64_t H, int64_t W,
                            int64_t Ho, int64_t Wo, int64_t work, plane_fn fn, const void *ctx) {
  gr_tensor *x, *y;
  gr_status s = backward ? plane_io(f, op, Ho, Wo, H, W, true, &x, &y)
                         : plane_io(f, op, H, W, Ho, Wo, false, &x, &y);
  if (s != GR_OK) return s;
  int64_t xs = backward ? Ho * Wo : H * W, ys = backward ? H * W : Ho * Wo;
  each_plane(gr_f32(y), ys, gr_f32(x), xs, planes(x), Ho * Wo * work, fn, ctx);
  gr_release(x);
  f->out[0] = y;
  return GR_OK;
}

/* Tables per output row and per output column (pooling, nearest, bilinear
 * and pad2d each make their own), with the plane sizes and the direction:
 * the context of their kernels. Each of those ops has one kernel that runs
 * both ways, so that the backward (the adjoint) is seen to walk the very
 * indices and weights of the forward. */
typedef struct plane_map {
  int64_t H, W, Ho, Wo;
  void *th, *tw; // th is (Ho), tw (Wo): int64_t source indices, lerp or span
  bool backward; // false: (Ho,Wo) planes from (H,W); true: (H,W) planes += from (Ho,Wo)
} plane_map;

/* run_planes with fn both ways by the tables of m. Frees the tables; a NULL
 * one (out of memory) fails. */
static gr_status run_map(gr_fwd *f, const char *op, bool backward, plane_map *m, int64_t work,
                         plane_fn fn) {
  m->backward = backward;
  gr_status s = !m->th || !m->tw
                     ? gr_errcode()
                     : run_planes(f, op, backward, m->H, m->W, m->Ho, m->Wo, work, fn, m);
  free(m->th);
  free(m->tw);
  return s;
}

/* ops.def's four entry points for an op whose backward is an op of its own:
 * name_forward and name_backward_forward run `run` (backward false, then
 * true), and the rules name_backward and name_backward_backward are each
 * the other op, since the two are adjoints, linear in g. */
#define ADJOINT_OPS(name, run)                                          \
  gr_status name##_forward(gr_fwd *f) { return run(f, false); }         \
  gr_status name##_backward_forward(gr_fwd *f) { return run(f, true); } \
  gr_status name##_backward(gr_bwd *b) {                                \
    b->gin[0] = apply1(GR_OP_##name##_backward, b->gout[0], b->a);      \
    return GR_OK;                                                       \
  }                                                                     \
  gr_status name##_backward_backward(gr_bwd *b) {                       \
    b->gin[0] = apply1(GR_OP_##name, b->gout[0], b->a);                 \
    return GR_OK;                                                       \
  }

/* Float input of rank 3 or 4 with non-empty planes: the pooling and upsampling inputs. */
static bool check_planes(const char *op, const gr_tensor *x) {
  if (!gr_check_float(op, "x", x)) return false;
  if (x->ndim != 3 && x->ndim != 4) {
    gr_fail(GR_EARG, "%s: x must be (N,C,H,W) or (C,H,W), got %s", op, gr_shape_str(x));
    return false;
  }
  if (DIM_H(x) < 1 || DIM_W(x) < 1) {
    gr_fail(GR_EARG, "%s: x has empty planes: %s", op, gr_shape_str(x));
    return false;
  }
  return true;
}

/* --- plane_gather / plane_scatter: the index ops --------------------------------------
 * idx holds flat indices into an (H,W) plane, -1 for "nothing" (reads 0,
 * writes nowhere). Its leading dims are x's, or x's with the last leading
 * dim 1 (one index plane shared by the C planes of an image). */

/* How many x planes share one index plane; 0 when the shapes do not fit. */
static int64_t index_share(const gr_tensor *x, const gr_tensor *idx) {
  if (x->ndim != idx->ndim || x->ndim < 3) return 0;
  for (int d = 0; d < x->ndim - 3; d++)
    if (x->shape[d] != idx->shape[d]) return 0;
  int64_t c = x->shape[x->ndim - 3], ci = idx->shape[x->ndim - 3];
  if (ci == c) return 1;
  return ci == 1 ? c : 0;
}

static bool check_index(const char *op, const gr_tensor *x, const gr_tensor *idx, int64_t hw) {
  if (!gr_check_int(op, "index", idx)) return false;
  if (!index_share(x, idx)) {
    gr_fail(GR_EARG, "%s: index %s does not fit planes %s", op, gr_shape_str(idx),
            gr_shape_str(x));
    return false;
  }
  const int64_t *pi = gr_i64(idx);
  for (int64_t i = 0; i < gr_numel(idx); i++)
    if (pi[i] < -1 || pi[i] >= hw) {
      gr_fail(GR_EARG, "%s: index %lld is outside a plane of %lld elements", op,
              (long long)pi[i], (long long)hw);
      return false;
    }
  return true;
}

/* The index planes and their sizes, for the two index kernels. */
typedef struct index_ctx {
  const int64_t *idx; // idx is (Q, O), Q = P / share
  int64_t share, O, hw;
} index_ctx;

/* y (O) = x (hw) at plane p's index plane */
static void gather_plane(float *y, const float *x, int64_t p, const void *ctx) {
  const index_ctx *c = ctx;
  const int64_t *ip = c->idx + p / c->share * c->O; // ip is (O)
  for (int64_t o = 0; o < c->O; o++) y[o] = ip[o] >= 0 ? x[ip[o]] : 0.0f;
}

/* y (hw) += x (O) at plane p's index plane, in order: repeated indices add up */
static void scatter_plane(float *y, const float *x, int64_t p, const void *ctx) {
  const index_ctx *c = ctx;
  const int64_t *ip = c->idx + p / c->share * c->O; // ip is (O)
  for (int64_t o = 0; o < c->O; o++)
    if (ip[o] >= 0) y[ip[o]] += x[o];
}

/* out[p, o] = x[p, idx[p / share, o]]: x (P,H,W) read at idx (Q,Ho,Wo) */
gr_status plane_gather_forward(gr_fwd *f) {
  gr_tensor *x = contig(f->in[0]), *idx = contig(f->in[1]), *y = NULL;
  gr_status s = GR_OK;
  if (!x || !idx) {
    s = gr_errcode();
    goto done;
  }
  int64_t hw = DIM_H(x) * DIM_W(x);
  if (!check_index("plane_gather", x, idx, hw)) {
    s = GR_EARG;
    goto done;
  }
  int64_t P = planes(x), share = index_share(x, idx), O = DIM_H(idx) * DIM_W(idx);
  y = plane_like(x, DIM_H(idx), DIM_W(idx), false);
  if (!y) {
    s = gr_errcode();
    goto done;
  }
  index_ctx c = {gr_i64(idx), share, O, hw};
  each_plane(gr_f32(y), O, gr_f32(x), hw, P, O, gather_plane, &c);
  f->out[0] = y;
done:
  gr_release(x);
  gr_release(idx);
  return s;
}

/* out (P,H,W) = 0, then out[p, idx[p / share, o]] += g[p, o] */
gr_status plane_scatter_forward(gr_fwd *f) {
  gr_tensor *g = contig(f->in[0]), *idx = contig(f->in[1]), *y = NULL;
  gr_status s = GR_OK;
  int64_t H = f->a->i[0], W = f->a->i[1];
  if (!g || !idx) {
    s = gr_errcode();
    goto done;
  }
  if (!check_index("plane_scatter", g, idx, H * W)) {
    s = GR_EARG;
    goto done;
  }
  if (DIM_H(idx) != DIM_H(g) || DIM_W(idx) != DIM_W(g)) {
    s = gr_fail(GR_EARG, "plane_scatter: index %s does not fit g %s", gr_shape_str(idx),
                gr_shape_str(g));
    goto done;
  }
  int64_t P = planes(g), share = index_share(g, idx), O = DIM_H(g) * DIM_W(g);
  y = plane_like(g, H, W, true);
  if (!y) {
    s = gr_errcode();
    goto done;
  }
  index_ctx c = {gr_i64(idx), share, O, H * W};
  each_plane(gr_f32(y), H * W, gr_f32(g), O, P, O, scatter_plane, &c);
  f->out[0] = y;
done:
  gr_release(g);
  gr_release(idx);
  return s;
}

static gr_tensor *plane_gather(gr_tensor *x, gr_tensor *idx) {
  if (!x || !idx) return NULL;
  gr_tensor *in[2] = {x, idx};
  return gr_apply1(GR_OP_plane_gather, 2, in, NULL);
}

static gr_tensor *plane_scatter(gr_tensor *g, gr_tensor *idx, int64_t h, int64_t w) {
  if (!g || !idx) return NULL;
  gr_tensor *in[2] = {g, idx};
  gr_attrs a = {.i = {h, w}};
  return gr_apply1(GR_OP_plane_scatter, 2, in, &a);
}

gr_status plane_gather_backward(gr_bwd *b) {
  b->gin[0] = plane_scatter(b->gout[0], b->in[1], DIM_H(b->in[0]), DIM_W(b->in[0]));
  return GR_OK;
}

gr_status plane_scatter_backward(gr_bwd *b) {
  b->gin[0] = plane_gather(b->gout[0], b->in[1]);
  return GR_OK;
}

/* --- pooling -----------------------------------------------------------------------
 * attrs: kh, kw, sh, sw, ph, pw, H, W (the input planes). Windows never
 * reach past the padding, so with count_include_pad every divisor is kh*kw. */

/* A window along one dim: input indices [lo, hi) */
typedef struct span {
  int64_t lo, hi;
} span;

/* A pooling op's context: the windows of each output row and column, as
 * tables of a plane_map, and what the kernels add to them. */
typedef struct pool_ctx {
  plane_map m;  // m.th is (Ho) spans of input rows, m.tw (Wo) of input columns
  int64_t taps; // kh*kw: with count_include_pad, every window's divisor
  int64_t *idx; // idx is (P,Ho,Wo): max_pool2d's winners, or NULL when no rule needs them
} pool_ctx;

/* The window of each of n outputs along a dim of `in` pixels: the k taps at
 * stride s after padding p, cut to the real pixels (owned; NULL when out of memory). */
static span *windows(int64_t n, int64_t k, int64_t s, int64_t p, int64_t in) {
  span *t = malloc((size_t)(n ? n : 1) * sizeof *t);
  if (!t) return gr_fail_null(GR_ENOMEM, "pooling: out of memory");
  for (int64_t o = 0; o < n; o++) {
    int64_t a = o * s - p;
    t[o].lo = a < 0 ? 0 : a;
    t[o].hi = a + k < in ? a + k : in;
  }
  return t;
}

static pool_ctx pool_of(const gr_attrs *a) {
  int64_t kh = a->i[0], kw = a->i[1], sh = a->i[2], sw = a->i[3], ph = a->i[4], pw = a->i[5];
  int64_t H = a->i[6], W = a->i[7];
  int64_t Ho = (H + 2 * ph - kh) / sh + 1, Wo = (W + 2 * pw - kw) / sw + 1;
  pool_ctx c = {{H, W, Ho, Wo, windows(Ho, kh, sh, ph, H), NULL, false}, kh * kw, NULL};
  c.m.tw = c.m.th ? windows(Wo, kw, sw, pw, W) : NULL;
  return c;
}

/* Whether the windows (attrs a) are 2x2 at stride 2 without padding (the
 * pooling of most GANs' downsampling blocks): then the kernels below take
 * each window as [2o, 2o + 2) instead of from the tables, the same sums in
 * the same order with the loops' bounds known (SAGAN's average pooling
 * 27% faster forward, 14% backward, its max pooling 9%). */
static bool pool_twice(const gr_attrs *a) {
  return a->i[0] == 2 && a->i[1] == 2 && a->i[2] == 2 && a->i[3] == 2 && a->i[4] == 0 &&
         a->i[5] == 0;
}

/* the window of output o along a dim: from the table, or [2o, 2o + 2) */
static inline span window_at(const span *t, int64_t o, bool two) {
  return two ? (span){2 * o, 2 * o + 2} : t[o];
}

/* avg_pool2d both ways. Forward: y (Ho,Wo) = the mean of each window of x
 * (H,W). Backward: y (H,W) += each g of x (Ho,Wo) over its window, / kh*kw. */
static inline __attribute__((always_inline)) void avg_pool_run(float *y, const float *x,
                                                               const pool_ctx *c, bool two) {
  const span *rows = c->m.th, *cols = c->m.tw; // rows is (Ho), cols (Wo)
  int64_t W = c->m.W, Ho = c->m.Ho, Wo = c->m.Wo;
  float div = (float)c->taps;
  for (int64_t oh = 0; oh < Ho; oh++)
    for (int64_t ow = 0; ow < Wo; ow++) {
      span a = window_at(rows, oh, two), b = window_at(cols, ow, two);
      if (c->m.backward) {
        float v = x[oh * Wo + ow] / div;
        for (int64_t h = a.lo; h < a.hi; h++)
          for (int64_t w = b.lo; w < b.hi; w++) y[h * W + w] += v;
        continue;
      }
      float s = 0;
      for (int64_t h = a.lo; h < a.hi; h++)
        for (int64_t w = b.lo; w < b.hi; w++) s += x[h * W + w];
      y[oh * Wo + ow] = s / div;
    }
}
static void avg_pool_plane(float *y, const float *x, int64_t p, const void *ctx) {
  avg_pool_run(y, x, ctx, false);
}
static void avg_pool_plane2(float *y, const float *x, int64_t p, const void *ctx) {
  avg_pool_run(y, x, ctx, true);
}

/* y (Ho,Wo) = the max of each window of x (H,W), and its flat index into
 * the plane when c->idx is kept */
static inline __attribute__((always_inline)) void max_pool_run(float *y, const float *x,
                                                               int64_t p, const pool_ctx *c,
                                                               bool two) {
  const span *rows = c->m.th, *cols = c->m.tw; // rows is (Ho), cols (Wo)
  int64_t W = c->m.W, Ho = c->m.Ho, Wo = c->m.Wo;
  int64_t *ip = c->idx ? c->idx + p * Ho * Wo : NULL; // ip is (Ho,Wo)
  for (int64_t oh = 0; oh < Ho; oh++)
    for (int64_t ow = 0; ow < Wo; ow++) {
      span a = window_at(rows, oh, two), b = window_at(cols, ow, two);
      float m = -INFINITY;
      int64_t at = a.lo * W + b.lo;
      for (int64_t h = a.lo; h < a.hi; h++)
        for (int64_t w = b.lo; w < b.hi; w++) {
          float v = x[h * W + w];
          if (v > m || isnan(v)) {
            m = v;
            at = h * W + w;
            if (isnan(v)) goto found;
          }
        }
    found:
      y[oh * Wo + ow] = m;
      if (ip) ip[oh * Wo + ow] = at;
    }
}
static void max_pool_plane(float *y, const float *x, int64_t p, const void *ctx) {
  max_pool_run(y, x, p, ctx, false);
}
static void max_pool_plane2(float *y, const float *x, int64_t p, const void *ctx) {
  max_pool_run(y, x, p, ctx, true);
}

static bool check_pool(const char *op, const gr_tensor *x, int kh, int kw, int sh, int sw, int ph,
                       int pw) {
  if (!check_planes(op, x)) return false;
  if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0) {
    gr_fail(GR_EARG, "%s: kernel %dx%d, stride %dx%d, padding %dx%d: kernel and stride must be "
            "positive and padding not negative (x %s)", op, kh, kw, sh, sw, ph, pw,
            gr_shape_str(x));
    return false;
  }
  if (ph > kh / 2 || pw > kw / 2) {
    gr_fail(GR_EARG, "%s: padding %dx%d must be at most half of kernel %dx%d (x %s)", op, ph, pw,
            kh, kw, gr_shape_str(x));
    return false;
  }
  if (DIM_H(x) + 2 * ph < kh || DIM_W(x) + 2 * pw < kw) {
    gr_fail(GR_EARG, "%s: kernel %dx%d is larger than the padded input %s (padding %dx%d)", op,
            kh, kw, gr_shape_str(x), ph, pw);
    return false;
  }
  return true;
}

/* forward: y (..,Ho,Wo) the window means of x (..,H,W); backward: dx
 * (..,H,W), each output spreading g/(kh*kw) over its window */
static gr_status avg_pool(gr_fwd *f, bool backward) {
  pool_ctx c = pool_of(f->a);
  return run_map(f, backward ? "avg_pool2d_backward" : "avg_pool2d", backward, &c.m, c.taps,
                 pool_twice(f->a) ? avg_pool_plane2 : avg_pool_plane);
}

ADJOINT_OPS(avg_pool2d, avg_pool)

gr_tensor *gr_avg_pool2d(gr_tensor *x, int kh, int kw, int sh, int sw, int ph, int pw) {
  if (!x) return NULL;
  if (!check_pool("avg_pool2d", x, kh, kw, sh, sw, ph, pw)) return NULL;
  gr_attrs a = {.i = {kh, kw, sh, sw, ph, pw, DIM_H(x), DIM_W(x)}};
  return gr_apply1(GR_OP_avg_pool2d, 1, &x, &a);
}

/* Max over each window of real (unpadded) pixels; the first maximum in scan
 * order wins and NaN propagates. The flat in-plane index of the winner is
 * saved for the rule, which scatters g there. */
gr_status max_pool2d_forward(gr_fwd *f) {
  pool_ctx c = pool_of(f->a);
  int64_t H = c.m.H, W = c.m.W, Ho = c.m.Ho, Wo = c.m.Wo;
  gr_tensor *x = NULL, *y = NULL, *idx = NULL; /* idx: the winners, when a rule will need them */
  gr_status s = c.m.th && c.m.tw ? plane_io(f, "max_pool2d", H, W, Ho, Wo, false, &x, &y)
                                 : gr_errcode();
  if (s == GR_OK && f->recording) {
    int64_t shape[GR_MAX_DIM];
    memcpy(shape, y->shape, sizeof shape);
    idx = gr_empty(GR_I64, y->ndim, shape);
    s = idx ? GR_OK : gr_errcode();
    c.idx = idx ? gr_i64(idx) : NULL;
  }
  if (s == GR_OK) {
    each_plane(gr_f32(y), Ho * Wo, gr_f32(x), H * W, planes(x), Ho * Wo * c.taps,
               pool_twice(f->a) ? max_pool_plane2 : max_pool_plane, &c);
    if (idx) gr_save(f, idx);
    f->out[0] = y;
    y = NULL;
  }
  gr_release(x);
  gr_release(y);
  gr_release(idx);
  free(c.m.th);
  free(c.m.tw);
  return s;
}

/* g goes to each window's winner; linear in g, so the second derivative in x is 0 */
gr_status max_pool2d_backward(gr_bwd *b) {
  b->gin[0] = plane_scatter(b->gout[0], gr_saved(b, 0), b->a->i[6], b->a->i[7]);
  return GR_OK;
}

gr_tensor *gr_max_pool2d(gr_tensor *x, int kh, int kw, int sh, int sw, int ph, int pw) {
  if (!x) return NULL;
  if (!check_pool("max_pool2d", x, kh, kw, sh, sw, ph, pw)) return NULL;
  gr_attrs a = {.i = {kh, kw, sh, sw, ph, pw, DIM_H(x), DIM_W(x)}};
  return gr_apply1(GR_OP_max_pool2d, 1, &x, &a);
}

/* --- upsampling ----------------------------------------------------------------------
 * attrs: H, W (input planes), Ho, Wo (output planes), align_corners; f: the
 * scale factors along H and W (0: none, map by in / out). The forward maps
 * (H,W) to (Ho,Wo); its backward op maps back and sums. */

#define RESIZE_ATTRS(a) \
  int64_t H = (a)->i[0], W = (a)->i[1], Ho = (a)->i[2], Wo = (a)->i[3]; \
  bool align = (a)->i[4] != 0; \
  double sc_h = (a)->f[0], sc_w = (a)->f[1]

static bool check_resize(const char *op, const gr_tensor *x, int64_t out_h, int64_t out_w,
                         double scale_h, double scale_w) {
  if (!check_planes(op, x)) return false;
  if (out_h < 1 || out_w < 1) {
    gr_fail(GR_EARG, "%s: output size %lldx%lld must be positive (x %s)", op, (long long)out_h,
            (long long)out_w, gr_shape_str(x));
    return false;
  }
  if (!(scale_h >= 0 && scale_w >= 0 && isfinite(scale_h) && isfinite(scale_w))) {
    gr_fail(GR_EARG, "%s: scale %gx%g must be positive and finite, or 0 for none (x %s)", op,
            scale_h, scale_w, gr_shape_str(x));
    return false;
  }
  return true;
}

/* The step in source pixels per output pixel, as PyTorch computes it in
 * float: 1 / scale when a scale is given, in / out otherwise. */
static float source_step(int64_t in, int64_t out, double scale) {
  return scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
}

/* nearest source of each output index: floor(o * in / out) exactly without a
 * scale; with one, floor((float)o * (float)(1 / scale)) kept below in, as
 * PyTorch (which also takes o itself when out == in and o / 2 when out == 2 in,
 * where the exact formula agrees) */
static int64_t *nearest_map(int64_t in, int64_t out, double scale) {
  int64_t *m = malloc((size_t)out * sizeof *m);
  if (!m) return gr_fail_null(GR_ENOMEM, "upsample_nearest2d: out of memory");
  bool exact = !(scale > 0) || out == in || out == 2 * in;
  float step = source_step(in, out, scale);
  for (int64_t o = 0; o < out; o++) {
    int64_t i = exact ? o * in / out : (int64_t)floorf((float)o * step);
    m[o] = i < in - 1 ? i : in - 1;
  }
  return m;
}

/* nearest_plane at exactly twice the size (every upsampling block of
 * SAGAN, BigGAN and the rest), without the tables: each source row written
 * twice over two rows, and back, each sum in the order of the table walk
 * below. The walk's gathers were 4% of a SAGAN step. */
static void nearest_twice(float *y, const float *x, const plane_map *m) {
  int64_t H = m->H, W = m->W, Wo = m->Wo;
  for (int64_t h = 0; h < H; h++) {
    if (m->backward) {
      const float *g0 = x + 2 * h * Wo, *g1 = g0 + Wo; // g0, g1: the two rows of (Wo) on row h
      float *d = y + h * W;                             // d is (W)
      for (int64_t w = 0; w < W; w++)
        d[w] = (((d[w] + g0[2 * w]) + g0[2 * w + 1]) + g1[2 * w]) + g1[2 * w + 1];
      continue;
    }
    const float *src = x + h * W; // src is (W)
    float *r0 = y + 2 * h * Wo;   // r0 is (Wo), then its copy below it
    for (int64_t w = 0; w < W; w++) r0[2 * w] = r0[2 * w + 1] = src[w];
    memcpy(r0 + Wo, r0, (size_t)Wo * sizeof *r0);
  }
}

/* nearest both ways. Forward: y (Ho,Wo) = x (H,W) at each output's nearest
 * source. Backward: y (H,W) += x (Ho,Wo), each at its nearest source. */
static void nearest_plane(float *y, const float *x, int64_t p, const void *ctx) {
  const plane_map *m = ctx;
  const int64_t *mh = m->th, *mw = m->tw; // mh is (Ho), mw (Wo)
  int64_t W = m->W, Ho = m->Ho, Wo = m->Wo;
  if (Ho == 2 * m->H && Wo == 2 * W) { /* nearest_map's exact o / 2 */
    nearest_twice(y, x, m);
    return;
  }
  for (int64_t oh = 0; oh < Ho; oh++) {
    if (m->backward) {
      float *row = y + mh[oh] * W; // row is (W)
      for (int64_t ow = 0; ow < Wo; ow++) row[mw[ow]] += x[oh * Wo + ow];
      continue;
    }
    const float *row = x + mh[oh] * W; // row is (W)
    for (int64_t ow = 0; ow < Wo; ow++) y[oh * Wo + ow] = row[mw[ow]];
  }
}

/* forward: y (P,Ho,Wo) = x at the maps; backward: dx (P,H,W) sums g back */
static gr_status nearest(gr_fwd *f, bool backward) {
  RESIZE_ATTRS(f->a);
  (void)align;
  plane_map m = {H, W, Ho, Wo, nearest_map(H, Ho, sc_h), NULL, backward};
  m.tw = m.th ? nearest_map(W, Wo, sc_w) : NULL;
  return run_map(f, backward ? "upsample_nearest2d_backward" : "upsample_nearest2d", backward, &m,
                 1, nearest_plane);
}

ADJOINT_OPS(upsample_nearest2d, nearest)

gr_tensor *gr_upsample_nearest2d(gr_tensor *x, int64_t out_h, int64_t out_w, double scale_h,
                                 double scale_w) {
  if (!x) return NULL;
  if (!check_resize("upsample_nearest2d", x, out_h, out_w, scale_h, scale_w)) return NULL;
  gr_attrs a = {.i = {DIM_H(x), DIM_W(x), out_h, out_w, 0}, .f = {scale_h, scale_w}};
  return gr_apply1(GR_OP_upsample_nearest2d, 1, &x, &a);
}

/* Per output index: the two source indices and their weights. */
typedef struct lerp {
  int64_t i0, i1;
  float l0, l1;
} lerp;

/* PyTorch's source index: with align_corners the corners map onto corners,
 * otherwise pixel centres onto centres (a step of 1 / scale when a scale is
 * given), clamped at 0 (float math, as there). */
static lerp *lerp_table(int64_t in, int64_t out, bool align, double sc) {
  lerp *t = malloc((size_t)out * sizeof *t);
  if (!t) return gr_fail_null(GR_ENOMEM, "upsample_bilinear2d: out of memory");
  float scale = align ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f)
                      : source_step(in, out, sc);
  for (int64_t o = 0; o < out; o++) {
    float src = align ? scale * (float)o : scale * ((float)o + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    int64_t i0 = (int64_t)src;
    if (i0 > in - 1) i0 = in - 1;
    t[o].i0 = i0;
    t[o].i1 = i0 < in - 1 ? i0 + 1 : i0;
    t[o].l1 = src - (float)i0;
    t[o].l0 = 1.0f - t[o].l1;
  }
  return t;
}

/* bilinear both ways. Forward: y (Ho,Wo) = x (H,W) interpolated between
 * each output's four sources. Backward: y (H,W) += x (Ho,Wo), each spread
 * over its four sources with their weights, in the same order always (two
 * sources are one at the edge). */
static void bilinear_plane(float *y, const float *x, int64_t p, const void *ctx) {
  const plane_map *m = ctx;
  const lerp *th = m->th, *tw = m->tw; // th is (Ho), tw (Wo)
  int64_t W = m->W, Ho = m->Ho, Wo = m->Wo;
  for (int64_t oh = 0; oh < Ho; oh++) {
    lerp a = th[oh];
    if (m->backward) {
      float *d0 = y + a.i0 * W, *d1 = y + a.i1 * W; // d0, d1 are source rows (W)
      for (int64_t ow = 0; ow < Wo; ow++) {
        lerp c = tw[ow];
        float v = x[oh * Wo + ow];
        d0[c.i0] += a.l0 * c.l0 * v;
        d0[c.i1] += a.l0 * c.l1 * v;
        d1[c.i0] += a.l1 * c.l0 * v;
        d1[c.i1] += a.l1 * c.l1 * v;
      }
      continue;
    }
    const float *r0 = x + a.i0 * W, *r1 = x + a.i1 * W; // r0, r1 are source rows (W)
    for (int64_t ow = 0; ow < Wo; ow++) {
      lerp c = tw[ow];
      y[oh * Wo + ow] = a.l0 * (c.l0 * r0[c.i0] + c.l1 * r0[c.i1]) +
                        a.l1 * (c.l0 * r1[c.i0] + c.l1 * r1[c.i1]);
    }
  }
}

static gr_status bilinear(gr_fwd *f, bool backward) {
  RESIZE_ATTRS(f->a);
  plane_map m = {H, W, Ho, Wo, lerp_table(H, Ho, align, sc_h), NULL, backward};
  m.tw = m.th ? lerp_table(W, Wo, align, sc_w) : NULL;
  return run_map(f, backward ? "upsample_bilinear2d_backward" : "upsample_bilinear2d", backward,
                 &m, 4, bilinear_plane);
}

ADJOINT_OPS(upsample_bilinear2d, bilinear)

gr_tensor *gr_upsample_bilinear2d(gr_tensor *x, int64_t out_h, int64_t out_w, bool align_corners,
                                  double scale_h, double scale_w) {
  if (!x) return NULL;
  if (!check_resize("upsample_bilinear2d", x, out_h, out_w, scale_h, scale_w)) return NULL;
  gr_attrs a = {.i = {DIM_H(x), DIM_W(x), out_h, out_w, align_corners}, .f = {scale_h, scale_w}};
  return gr_apply1(GR_OP_upsample_bilinear2d, 1, &x, &a);
}

/* --- pad2d ---------------------------------------------------------------------------
 * attrs: left, right, top, bottom, mode, H, W (the unpadded planes). */

#define PAD_ATTRS(a)                                                                        \
  int64_t pl = (a)->i[0], pr = (a)->i[1], pt = (a)->i[2], pb = (a)->i[3], H = (a)->i[5], \
          W = (a)->i[6];                                                                 \
  gr_pad_mode mode = (gr_pad_mode)(a)->i[4];                                             \
  int64_t Ho = H + pt + pb, Wo = W + pl + pr

/* source index of each padded index, -1 for a zero */
static int64_t *pad_map(int64_t before, int64_t n, int64_t out, gr_pad_mode mode) {
  int64_t *m = malloc((size_t)(out ? out : 1) * sizeof *m);
  if (!m) return gr_fail_null(GR_ENOMEM, "pad2d: out of memory");
  for (int64_t o = 0; o < out; o++) {
    int64_t i = o - before;
    if (i < 0 || i >= n) {
      if (mode == GR_PAD_ZEROS) i = -1;
      else if (mode == GR_PAD_REPLICATE) i = i < 0 ? 0 : n - 1;
      else i = i < 0 ? -i : 2 * (n - 1) - i; /* reflect about the edge, which is not repeated */
    }
    m[o] = i;
  }
  return m;
}

/* pad2d both ways. Forward: y (Ho,Wo) = x (H,W) at each output's source, 0
 * where it has none. Backward: y (H,W) += x (Ho,Wo) at each output's source
 * (reflected and replicated copies add back onto their source). */
static void pad_plane(float *y, const float *x, int64_t p, const void *ctx) {
  const plane_map *m = ctx;
  const int64_t *mh = m->th, *mw = m->tw; // mh is (Ho), mw (Wo); -1 for a zero
  int64_t W = m->W, Ho = m->Ho, Wo = m->Wo;
  for (int64_t oh = 0; oh < Ho; oh++) {
    if (m->backward) {
      if (mh[oh] < 0) continue; /* a row of zeros gives nothing back */
      float *row = y + mh[oh] * W; // row is (W)
      for (int64_t ow = 0; ow < Wo; ow++)
        if (mw[ow] >= 0) row[mw[ow]] += x[oh * Wo + ow];
      continue;
    }
    const float *row = mh[oh] >= 0 ? x + mh[oh] * W : NULL; // row is (W), or none
    for (int64_t ow = 0; ow < Wo; ow++) y[oh * Wo + ow] = row && mw[ow] >= 0 ? row[mw[ow]] : 0.0f;
  }
}

static gr_status pad(gr_fwd *f, bool backward) {
  PAD_ATTRS(f->a);
  plane_map m = {H, W, Ho, Wo, pad_map(pt, H, Ho, mode), NULL, backward};
  m.tw = m.th ? pad_map(pl, W, Wo, mode) : NULL;
  return run_map(f, backward ? "pad2d_backward" : "pad2d", backward, &m, 1, pad_plane);
}

/* zeros: the gradient is the middle; reflect and replicate add the copies back */
ADJOINT_OPS(pad2d, pad)

gr_tensor *gr_pad2d(gr_tensor *x, int left, int right, int top, int bottom, gr_pad_mode mode) {
  if (!x) return NULL;
  if (!gr_check_float("pad2d", "x", x)) return NULL;
  if (x->ndim < 2)
    return gr_fail_null(GR_EARG, "pad2d: x must have at least 2 dims (...,H,W), got %s",
                        gr_shape_str(x));
  if (mode != GR_PAD_ZEROS && mode != GR_PAD_REFLECT && mode != GR_PAD_REPLICATE)
    return gr_fail_null(GR_EARG, "pad2d: unknown mode %d (x %s)", (int)mode, gr_shape_str(x));
  if (left < 0 || right < 0 || top < 0 || bottom < 0)
    return gr_fail_null(GR_EARG, "pad2d: negative padding (left %d, right %d, top %d, bottom %d) "
                        "is not supported (x %s); use narrow to crop", left, right, top, bottom,
                        gr_shape_str(x));
  int64_t H = DIM_H(x), W = DIM_W(x);
  if (mode == GR_PAD_REFLECT && (left >= W || right >= W || top >= H || bottom >= H))
    return gr_fail_null(GR_EARG, "pad2d: reflect padding (left %d, right %d, top %d, bottom %d) "
                        "must be smaller than the input size %lldx%lld of x %s", left, right,
                        top, bottom, (long long)H, (long long)W, gr_shape_str(x));
  if (mode == GR_PAD_REPLICATE && (H == 0 || W == 0) && (left || right || top || bottom))
    return gr_fail_null(GR_EARG, "pad2d: replicate padding of empty planes (x %s)",
                        gr_shape_str(x));
  gr_attrs a = {.i = {left, right, top, bottom, mode, H, W}};
  return gr_apply1(GR_OP_pad2d, 1, &x, &a);
}

/* --- grid_sample ---------------------------------------------------------------------
 * Bilinear sampling of x (N,C,H,W) at grid (N,Ho,Wo,2), x then y in
 * [-1,1]. Each sample point reads four corners with weights
 * (1-ty)(1-tx), (1-ty)tx, ty(1-tx), ty tx, where (tx, ty) are the
 * fractional parts of its pixel coordinates after padding. A point's
 * corners and weights are computed once and shared by the C planes.
 *
 * Gradients. In x: the op grid_sample_backward(g, grid), a fused scatter,
 * linear in g; its rule is grid_sample again (in g) and the grid gradient
 * below (in the grid), since <backward(g, grid), h> = <g, sample(h, grid)>.
 * In the grid: a fused kernel without create_graph; with create_graph the
 * same formula in ops: the corners are plane_gather(x), and tx, ty come
 * from grid_sample_coord, whose rule multiplies by the slope of the padded
 * coordinate. So gradients of every order in x, g and the grid are exact
 * wherever a point is not on a pixel edge, an image border or a reflection
 * point. attrs: padding, align_corners, H, W (x's planes). */

#define GS_ATTRS(a)                                                     \
  gr_pad_mode pad = (gr_pad_mode)(a)->i[0];                             \
  bool align = (a)->i[1] != 0;                                          \
  int64_t H = (a)->i[2], W = (a)->i[3]

typedef struct gs_point {
  int64_t idx[4]; /* corners (y0,x0) (y0,x1) (y1,x0) (y1,x1) as flat indices; -1 outside */
  float w[4];     /* their bilinear weights */
  float tx, ty;   /* fractional coordinates */
  float sx, sy;   /* d(pixel coordinate)/d(grid value) */
} gs_point;

/* PyTorch's reflection about twice_lo/2 and twice_hi/2; *slope takes the sign. */
static float reflect_coord(float c, float twice_lo, float twice_hi, float *slope) {
  if (twice_lo == twice_hi) {
    *slope = 0;
    return 0;
  }
  float lo = twice_lo / 2, span = (twice_hi - twice_lo) / 2, sign = 1;
  c -= lo;
  if (c < 0) {
    sign = -1;
    c = -c;
  }
  float extra = fmodf(c, span);
  if (fmodf(floorf(c / span), 2.0f) == 0) { /* an even number of flips */
    *slope *= sign;
    return extra + lo;
  }
  *slope *= -sign;
  return span - extra + lo;
}

/* The pixel coordinate of grid value v along a dim of `size`, after padding;
 * *slope is its derivative in v (0 where clipped). */
static float gs_coord(float v, int64_t size, gr_pad_mode pad, bool align, float *slope) {
  float c, s;
  if (align) {
    s = (float)(size - 1) * 0.5f;
    c = (v + 1) * s;
  } else {
    s = (float)size * 0.5f;
    c = ((v + 1) * (float)size - 1) * 0.5f;
  }
  if (pad == GR_PAD_REFLECT && isfinite(c))
    c = align ? reflect_coord(c, 0, 2.0f * (float)(size - 1), &s)
              : reflect_coord(c, -1, 2.0f * (float)size - 1, &s);
  if (pad != GR_PAD_ZEROS) {
    /* border (and reflection's last step) clips into the image; NaN lands on 0 */
    if (!(c > 0)) {
      c = 0;
      s = 0;
    } else if (c >= (float)(size - 1)) {
      c = (float)(size - 1);
      s = 0;
    }
  } else if (!(c >= -2.0f)) {
    c = -2.0f; /* every corner is outside already: keep the integer conversion safe */
  } else if (c > (float)size + 1) {
    c = (float)size + 1;
  }
  *slope = s;
  return c;
}

/* Corners and weights of every sample point; grid is contiguous (N,Ho,Wo,2). */
static gs_point *gs_points(const gr_tensor *grid, int64_t H, int64_t W, gr_pad_mode pad,
                           bool align) {
  int64_t n = grid->shape[0] * grid->shape[1] * grid->shape[2];
  gs_point *pts = malloc((size_t)(n ? n : 1) * sizeof *pts);
  if (!pts) return gr_fail_null(GR_ENOMEM, "grid_sample: out of memory");
  const float *pg = gr_f32(grid);
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (n * 16 > PAR_WORK)
  for (int64_t i = 0; i < n; i++) {
    gs_point *q = &pts[i];
    float cx = gs_coord(pg[2 * i], W, pad, align, &q->sx);
    float cy = gs_coord(pg[2 * i + 1], H, pad, align, &q->sy);
    float fx = floorf(cx), fy = floorf(cy);
    int64_t x0 = (int64_t)fx, y0 = (int64_t)fy;
    q->tx = cx - fx;
    q->ty = cy - fy;
    q->w[0] = (1 - q->ty) * (1 - q->tx);
    q->w[1] = (1 - q->ty) * q->tx;
    q->w[2] = q->ty * (1 - q->tx);
    q->w[3] = q->ty * q->tx;
    for (int k = 0; k < 4; k++) {
      int64_t yy = y0 + (k >> 1), xx = x0 + (k & 1);
      q->idx[k] = (yy >= 0 && yy < H && xx >= 0 && xx < W) ? yy * W + xx : -1;
    }
  }
  return pts;
}

/* a tensor (x or g) of (N,C,h,w) that goes with grid (N,Ho,Wo,2) */
static bool gs_fits(const char *op, const gr_tensor *t, const gr_tensor *grid, int64_t h,
                    int64_t w) {
  if (t->ndim == 4 && grid->ndim == 4 && t->shape[0] == grid->shape[0] && t->shape[2] == h &&
      t->shape[3] == w)
    return true;
  gr_fail(GR_ESTATE, "%s: %s does not go with grid %s", op, gr_shape_str(t), gr_shape_str(grid));
  return false;
}

/* The sample points of each image, for grid_sample's kernel. */
typedef struct gs_ctx {
  const gs_point *pts; // pts is (N, O): the O points of each image
  int64_t C, O;
  bool backward;
} gs_ctx;

/* grid_sample both ways. Forward: y (Ho,Wo) = x (H,W) sampled at the
 * points of plane p's image. Backward: y (H,W) += x (Ho,Wo), each point's
 * value times its weights at its corners. */
static void sample_plane(float *y, const float *x, int64_t p, const void *ctx) {
  const gs_ctx *c = ctx;
  const gs_point *q = c->pts + p / c->C * c->O; // q is (O)
  for (int64_t o = 0; o < c->O; o++) {
    if (c->backward) {
      for (int k = 0; k < 4; k++)
        if (q[o].idx[k] >= 0) y[q[o].idx[k]] += q[o].w[k] * x[o];
      continue;
    }
    float v = 0;
    for (int k = 0; k < 4; k++)
      if (q[o].idx[k] >= 0) v += q[o].w[k] * x[q[o].idx[k]];
    y[o] = v;
  }
}

/* forward: y (N,C,Ho,Wo) = x (N,C,H,W) sampled at grid (N,Ho,Wo,2);
 * backward: dx (N,C,H,W), each point giving g times its weights to its corners */
static gr_status sample(gr_fwd *f, bool backward) {
  GS_ATTRS(f->a);
  const char *op = backward ? "grid_sample_backward" : "grid_sample";
  gr_tensor *x = contig(f->in[0]), *grid = contig(f->in[1]), *y = NULL;
  gs_point *pts = NULL;
  if (!x || !grid ||
      !gs_fits(op, x, grid, backward ? grid->shape[1] : H, backward ? grid->shape[2] : W))
    goto done;
  int64_t N = x->shape[0], C = x->shape[1], Ho = grid->shape[1], Wo = grid->shape[2], O = Ho * Wo;
  y = backward ? gr_zeros(GR_F32, 4, (int64_t[]){N, C, H, W})
               : gr_empty(GR_F32, 4, (int64_t[]){N, C, Ho, Wo});
  pts = y ? gs_points(grid, H, W, pad, align) : NULL;
  if (!pts) goto done;
  gs_ctx c = {pts, C, O, backward};
  int64_t xs = backward ? O : H * W, ys = backward ? H * W : O;
  each_plane(gr_f32(y), ys, gr_f32(x), xs, N * C, O * 4, sample_plane, &c);
  f->out[0] = y;
  y = NULL;
done:;
  gr_status s = pts ? GR_OK : gr_errcode();
  free(pts);
  gr_release(x);
  gr_release(grid);
  gr_release(y);
  return s;
}

gr_status grid_sample_forward(gr_fwd *f) { return sample(f, false); }
gr_status grid_sample_backward_forward(gr_fwd *f) { return sample(f, true); }

static gr_tensor *apply2(gr_op op, gr_tensor *a, gr_tensor *b, const gr_attrs *at) {
  if (!a || !b) return NULL;
  gr_tensor *in[2] = {a, b};
  return gr_apply1(op, 2, in, at);
}

/* d<g, grid_sample(x, grid)>/d grid in one pass: per point, the bilinear
 * slopes along x and y summed over channels, times the coordinate slopes. */
static gr_tensor *dgrid_fused(gr_tensor *x, gr_tensor *g, const gr_tensor *grid,
                              const gs_point *pts) {
  gr_tensor *xc = gr_contiguous(x), *gc = gr_contiguous(g); // (N,C,H,W), (N,C,Ho,Wo)
  gr_tensor *dg = gr_empty(GR_F32, 4, grid->shape);
  if (!xc || !gc || !dg) return NULL;
  int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
  int64_t O = grid->shape[1] * grid->shape[2];
  const float *px = gr_f32(xc), *pg = gr_f32(gc);
  float *pd = gr_f32(dg); // pd is (N,Ho,Wo,2)
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (N * C * O * 4 > PAR_WORK)
  for (int64_t i = 0; i < N * O; i++) {
    int64_t n = i / O, o = i % O;
    const gs_point *q = &pts[i];
    float dtx = 0, dty = 0;
    for (int64_t c = 0; c < C; c++) {
      const float *xp = px + (n * C + c) * HW;
      float v[4];
      for (int k = 0; k < 4; k++) v[k] = q->idx[k] >= 0 ? xp[q->idx[k]] : 0.0f;
      float gv = pg[(n * C + c) * O + o];
      dtx += gv * ((1 - q->ty) * (v[1] - v[0]) + q->ty * (v[3] - v[2]));
      dty += gv * ((1 - q->tx) * (v[2] - v[0]) + q->tx * (v[3] - v[1]));
    }
    pd[2 * i] = dtx * q->sx;
    pd[2 * i + 1] = dty * q->sy;
  }
  return dg;
}

/* the fractional pixel coordinate along x (d = 0) or y (d = 1): (N,1,Ho,Wo) */
static gr_tensor *grid_sample_coord(gr_tensor *grid, int d, int64_t size, gr_pad_mode pad,
                                    bool align) {
  gr_attrs a = {.i = {d, size, pad, align}};
  return apply1(GR_OP_grid_sample_coord, grid, &a);
}

/* attrs: d, size, padding, align_corners. Saves the slope as (N,Ho,Wo,2),
 * zero in the other component, so the rule is one broadcast multiply. */
gr_status grid_sample_coord_forward(gr_fwd *f) {
  int d = (int)f->a->i[0];
  int64_t size = f->a->i[1];
  gr_pad_mode pad = (gr_pad_mode)f->a->i[2];
  bool align = f->a->i[3] != 0;
  gr_tensor *grid = contig(f->in[0]);
  if (!grid) return gr_errcode();
  int64_t N = grid->shape[0], Ho = grid->shape[1], Wo = grid->shape[2], n = N * Ho * Wo;
  gr_tensor *t = gr_empty(GR_F32, 4, (int64_t[]){N, 1, Ho, Wo});
  gr_tensor *slope = gr_zeros(GR_F32, 4, grid->shape);
  if (!t || !slope) {
    gr_release(grid);
    gr_release(t);
    gr_release(slope);
    return gr_errcode();
  }
  const float *pg = gr_f32(grid);
  float *pt = gr_f32(t), *ps = gr_f32(slope);
  for (int64_t i = 0; i < n; i++) {
    float c = gs_coord(pg[2 * i + d], size, pad, align, &ps[2 * i + d]);
    pt[i] = c - floorf(c);
  }
  gr_release(grid);
  gr_save(f, slope);
  gr_release(slope);
  f->out[0] = t;
  return GR_OK;
}

gr_status grid_sample_coord_backward(gr_bwd *b) {
  gr_tensor *grid = b->in[0];
  int64_t shape[4] = {grid->shape[0], grid->shape[1], grid->shape[2], 1};
  b->gin[0] = gr_mul(gr_reshape(b->gout[0], 4, shape), gr_saved(b, 0));
  return GR_OK;
}

/* The grid gradient as ops (for create_graph): differentiable in x, g, grid. */
static gr_tensor *dgrid_graph(gr_tensor *x, gr_tensor *g, gr_tensor *grid, const gs_point *pts,
                              const gr_attrs *a) {
  GS_ATTRS(a);
  int64_t N = grid->shape[0], Ho = grid->shape[1], Wo = grid->shape[2], n = N * Ho * Wo;
  gr_tensor *v[4];
  for (int k = 0; k < 4; k++) {
    gr_tensor *idx = gr_empty(GR_I64, 4, (int64_t[]){N, 1, Ho, Wo});
    if (!idx) return NULL;
    int64_t *pi = gr_i64(idx);
    for (int64_t i = 0; i < n; i++) pi[i] = pts[i].idx[k];
    v[k] = plane_gather(x, idx);
  }
  gr_tensor *tx = grid_sample_coord(grid, 0, W, pad, align);
  gr_tensor *ty = grid_sample_coord(grid, 1, H, pad, align);
  gr_tensor *ux = gr_rsub_scalar(tx, 1), *uy = gr_rsub_scalar(ty, 1);
  int cdim[1] = {1};
  gr_tensor *dtx = gr_sum(gr_mul(g, gr_add(gr_mul(uy, gr_sub(v[1], v[0])),
                                           gr_mul(ty, gr_sub(v[3], v[2])))), 1, cdim, true);
  gr_tensor *dty = gr_sum(gr_mul(g, gr_add(gr_mul(ux, gr_sub(v[2], v[0])),
                                           gr_mul(tx, gr_sub(v[3], v[1])))), 1, cdim, true);
  /* the slopes, as (N,Ho,Wo,2) with the other component zero */
  gr_tensor *sx = gr_zeros(GR_F32, 4, grid->shape), *sy = gr_zeros(GR_F32, 4, grid->shape);
  if (!sx || !sy) return NULL;
  float *psx = gr_f32(sx), *psy = gr_f32(sy);
  for (int64_t i = 0; i < n; i++) {
    psx[2 * i] = pts[i].sx;
    psy[2 * i + 1] = pts[i].sy;
  }
  int64_t col[4] = {N, Ho, Wo, 1};
  return gr_add(gr_mul(gr_reshape(dtx, 4, col), sx), gr_mul(gr_reshape(dty, 4, col), sy));
}

/* d<g, grid_sample(x, grid)>/d grid for the grid of node b: fused, or as ops */
static gr_tensor *grid_sample_dgrid(gr_bwd *b, gr_tensor *grid, gr_tensor *x, gr_tensor *g) {
  GS_ATTRS(b->a);
  gr_tensor *gc = gr_contiguous(grid);
  gs_point *pts = gc ? gs_points(gc, H, W, pad, align) : NULL;
  if (!pts) return NULL;
  gr_tensor *r = b->create_graph ? dgrid_graph(x, g, grid, pts, b->a) : dgrid_fused(x, g, gc, pts);
  free(pts);
  return r;
}

gr_status grid_sample_backward(gr_bwd *b) {
  gr_tensor *x = b->in[0], *grid = b->in[1], *g = b->gout[0];
  if (b->needs[0]) b->gin[0] = apply2(GR_OP_grid_sample_backward, g, grid, b->a);
  if (b->needs[1]) b->gin[1] = grid_sample_dgrid(b, grid, x, g);
  return GR_OK;
}

/* <backward(g, grid), h> = <g, grid_sample(h, grid)>: sampling h in g, its grid gradient in the grid */
gr_status grid_sample_backward_backward(gr_bwd *b) {
  gr_tensor *g = b->in[0], *grid = b->in[1], *h = b->gout[0];
  if (b->needs[0]) b->gin[0] = apply2(GR_OP_grid_sample, h, grid, b->a);
  if (b->needs[1]) b->gin[1] = grid_sample_dgrid(b, grid, h, g);
  return GR_OK;
}

gr_tensor *gr_grid_sample(gr_tensor *x, gr_tensor *grid, gr_pad_mode padding, bool align_corners) {
  if (!x || !grid) return NULL;
  if (!gr_check_float("grid_sample", "x", x) || !gr_check_float("grid_sample", "grid", grid))
    return NULL;
  if (x->ndim != 4)
    return gr_fail_null(GR_EARG, "grid_sample: x must be (N,C,H,W), got %s (grid %s)",
                        gr_shape_str(x), gr_shape_str(grid));
  if (grid->ndim != 4 || grid->shape[3] != 2 || grid->shape[0] != x->shape[0])
    return gr_fail_null(GR_EARG, "grid_sample: grid must be (N,Ho,Wo,2) with N = %lld of x %s, "
                        "got %s", (long long)x->shape[0], gr_shape_str(x), gr_shape_str(grid));
  if (x->shape[2] < 1 || x->shape[3] < 1)
    return gr_fail_null(GR_EARG, "grid_sample: x has empty planes: %s (grid %s)",
                        gr_shape_str(x), gr_shape_str(grid));
  if (padding != GR_PAD_ZEROS && padding != GR_PAD_REFLECT && padding != GR_PAD_REPLICATE)
    return gr_fail_null(GR_EARG, "grid_sample: unknown padding mode %d (x %s, grid %s)",
                        (int)padding, gr_shape_str(x), gr_shape_str(grid));
  gr_attrs a = {.i = {padding, align_corners, x->shape[2], x->shape[3]}};
  return apply2(GR_OP_grid_sample, x, grid, &a);
}
