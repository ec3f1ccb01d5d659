/* 2-d convolution: conv2d, conv_transpose2d and conv2d_weight_grad, three
 * faces of one linear map. This file holds the ops, top-down: the public
 * faces (argument checks), the forwards of ops.def's three rows, their
 * gradient rules, then the helpers those use. The arithmetic is the
 * convolution engine's (kernels/conv_engine.c), called through
 * conv_engine_forward, conv_engine_transpose and conv_engine_weight_grad.
 *
 * Attributes (gr_attrs.i), the same for the three ops: stride (2), pad (2),
 * dilation (2), output_padding (2), groups, kh, kw. */
#include "kernels/conv_engine.h"
#include "op_impl.h"

/* checks of the public faces (each sets a message and returns false) */
static bool check_4d(const char *op, const char *arg, const gr_tensor *t);
static bool check_args(const char *op, gr_conv_args a, bool transposed);
static bool check_weight_nonempty(const char *op, const gr_tensor *w);
static bool check_bias(const char *op, const gr_tensor *b, int64_t n, const gr_tensor *w);
static bool conv_out_size(const char *op, const gr_tensor *x, int64_t kh, int64_t kw,
                          gr_conv_args a, int64_t *Ho, int64_t *Wo);
/* attributes and geometry */
static gr_attrs pack_args(gr_conv_args a, int64_t kh, int64_t kw);
static gr_conv_args unpack_args(const gr_attrs *at);
static conv_geom make_geom(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t Ho,
                           int64_t Wo, int64_t kh, int64_t kw, const gr_attrs *at);
static int64_t conv_out_len(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d);
static int64_t convt_out_len(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int64_t op);
/* the forwards' call into the engine */
typedef enum { RUN_CONV, RUN_CONVT } run_kind;
static gr_status run_with_weights(gr_fwd *f, run_kind kind, const conv_geom *g, int ndim,
                                  const int64_t *shape);
static gr_tensor *plain_contiguous(gr_tensor *t);
/* the rules' output_padding */
static gr_conv_args restoring(gr_conv_args a, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                              int64_t kh, int64_t kw);

/* --- public faces --------------------------------------------------------------------------
 * Each checks its arguments, with a message that names the op and the
 * shapes, then applies its op (recording a node when a gradient is wanted). */

/* stride 1, no padding, no dilation, one group */
gr_conv_args gr_conv_defaults(void) {
  gr_conv_args a = {{1, 1}, {0, 0}, {1, 1}, {0, 0}, 1};
  return a;
}

/* x (N,C,H,W), w (O,C/groups,kh,kw), b (O) or NULL -> (N,O,Ho,Wo) */
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

/* x (N,Ci,H,W), w (Ci,Co/groups,kh,kw), b (Co) or NULL -> (N,Co,Ho,Wo): conv2d's
 * adjoint, with output_padding choosing among the sizes that map back to x's */
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

/* x (N,C,H,W), g (N,O,Ho,Wo) -> (O,C/groups,kh,kw): conv2d's gradient in its weights */
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

/* --- forwards ------------------------------------------------------------------------------
 * Each reads its geometry from the attributes and the input shapes, and
 * lets the engine write a new contiguous tensor. */

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
  gr_status s = conv_engine_weight_grad(gr_f32(dw), x, gy, &g);
  if (s != GR_OK) {
    gr_release(dw);
    return s;
  }
  f->out[0] = dw;
  return GR_OK;
}

/* --- gradient rules ------------------------------------------------------------------------
 * conv2d is linear in x and in w, so each rule is another of the three ops:
 * the adjoint in x is conv_transpose2d, the adjoint in w conv2d_weight_grad,
 * and conv2d_weight_grad's own adjoints are conv_transpose2d and conv2d. */

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

/* --- argument checks ----------------------------------------------------------------------- */

static bool check_4d(const char *op, const char *arg, const gr_tensor *t) {
  return gr_check_float(op, arg, t) && gr_check_ndim(op, arg, t, 4);
}

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

static bool check_weight_nonempty(const char *op, const gr_tensor *w) {
  for (int d = 0; d < 4; d++)
    if (w->shape[d] < 1)
      return gr_fail(GR_EARG, "%s: weight %s has an empty dim", op, gr_shape_str(w)) == GR_OK;
  return true;
}

static bool check_bias(const char *op, const gr_tensor *b, int64_t n, const gr_tensor *w) {
  if (!b) return true;
  if (!gr_check_float(op, "bias", b)) return false;
  if (b->ndim == 1 && b->shape[0] == n) return true;
  return gr_fail(GR_EARG, "%s: bias must be (%lld) for weight %s, got %s", op, (long long)n,
                 gr_shape_str(w), gr_shape_str(b)) == GR_OK;
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

/* --- attributes and geometry --------------------------------------------------------------- */

/* i: stride(2), pad(2), dilation(2), output_padding(2), groups, kh, kw */
static gr_attrs pack_args(gr_conv_args a, int64_t kh, int64_t kw) {
  gr_attrs at = {.i = {a.stride[0], a.stride[1], a.pad[0], a.pad[1], a.dilation[0],
                       a.dilation[1], a.output_padding[0], a.output_padding[1], a.groups, kh, kw}};
  return at;
}

/* pack_args undone (kh and kw stay in the attributes: i[9], i[10]) */
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

/* The engine's geometry: the sizes of both sides and the kernel, then
 * stride, padding, dilation and groups from the attributes. */
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

/* a with the output_padding that makes conv_transpose2d restore an image
 * side of (H, W) from a filtered side of (Ho, Wo). */
static gr_conv_args restoring(gr_conv_args a, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                              int64_t kh, int64_t kw) {
  a.output_padding[0] = (int)(H - convt_out_len(Ho, kh, a.stride[0], a.pad[0], a.dilation[0], 0));
  a.output_padding[1] = (int)(W - convt_out_len(Wo, kw, a.stride[1], a.pad[1], a.dilation[1], 0));
  return a;
}

/* --- calling the engine -------------------------------------------------------------------- */

/* f's output, a new contiguous tensor of `shape`, from the engine: conv2d or
 * its adjoint. The engine reads w (and bias) as plain matrices, so views are
 * copied first, without recording: the node is the op's own. */
static gr_status run_with_weights(gr_fwd *f, run_kind kind, const conv_geom *g, int ndim,
                                  const int64_t *shape) {
  gr_tensor *w = plain_contiguous(f->in[1]);
  gr_tensor *b = f->in[2] ? plain_contiguous(f->in[2]) : NULL;
  gr_tensor *y = w && (b || !f->in[2]) ? gr_empty(GR_F32, ndim, shape) : NULL;
  gr_status s = y ? GR_OK : gr_errcode();
  if (s == GR_OK) {
    const float *pb = b ? gr_f32(b) : NULL;
    s = kind == RUN_CONV ? conv_engine_forward(gr_f32(y), f->in[0], gr_f32(w), pb, g)
                         : conv_engine_transpose(gr_f32(y), f->in[0], gr_f32(w), pb, g);
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

/* A contiguous copy (or t itself, retained) made without recording. */
static gr_tensor *plain_contiguous(gr_tensor *t) {
  bool grad = gr_set_grad_enabled(false);
  gr_tensor *c = gr_contiguous(t);
  gr_set_grad_enabled(grad);
  return c;
}
