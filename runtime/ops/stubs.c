/* Scaffolding while the op families are written: a weak forward and rule
 * for every op in the table, each failing with "not implemented". A real
 * definition in a family file replaces it at link time. */
#include "op_impl.h"

#define STUB_FWD(name) \
  __attribute__((weak)) gr_status name##_forward(gr_fwd *f) { \
    return gr_fail(GR_ESTATE, #name ": not implemented yet"); \
  }
#define OP(name, nin, nout) \
  STUB_FWD(name) \
  __attribute__((weak)) gr_status name##_backward(gr_bwd *b) { \
    return gr_fail(GR_ESTATE, #name ": gradient not implemented yet"); \
  }
#define CONST(name, nin, nout) STUB_FWD(name)
#include "ops.def"
#undef OP
#undef CONST

__attribute__((weak)) gr_tensor *gr_cat(int n, gr_tensor *const *xs, int dim) {
  return gr_fail_null(GR_ESTATE, "cat: not implemented yet");
}

/* Public ops not written yet (weak; the family file's definition wins). */
__attribute__((weak)) gr_tensor *gr_pow(gr_tensor *a, gr_tensor *b) {
  return gr_fail_null(GR_ESTATE, "pow: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_maximum(gr_tensor *a, gr_tensor *b) {
  return gr_fail_null(GR_ESTATE, "maximum: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_minimum(gr_tensor *a, gr_tensor *b) {
  return gr_fail_null(GR_ESTATE, "minimum: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_where(gr_tensor *mask, gr_tensor *a, gr_tensor *b) {
  return gr_fail_null(GR_ESTATE, "where: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_eq(gr_tensor *a, gr_tensor *b) {
  return gr_fail_null(GR_ESTATE, "eq: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_ne(gr_tensor *a, gr_tensor *b) {
  return gr_fail_null(GR_ESTATE, "ne: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_lt(gr_tensor *a, gr_tensor *b) {
  return gr_fail_null(GR_ESTATE, "lt: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_le(gr_tensor *a, gr_tensor *b) {
  return gr_fail_null(GR_ESTATE, "le: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_gt(gr_tensor *a, gr_tensor *b) {
  return gr_fail_null(GR_ESTATE, "gt: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_ge(gr_tensor *a, gr_tensor *b) {
  return gr_fail_null(GR_ESTATE, "ge: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_rdiv_scalar(gr_tensor *x, double c) {
  return gr_fail_null(GR_ESTATE, "rdiv_scalar: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_pow_scalar(gr_tensor *x, double p) {
  return gr_fail_null(GR_ESTATE, "pow_scalar: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_rpow_scalar(gr_tensor *x, double c) {
  return gr_fail_null(GR_ESTATE, "rpow_scalar: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_clamp(gr_tensor *x, double lo, double hi) {
  return gr_fail_null(GR_ESTATE, "clamp: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_exp(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "exp: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_log(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "log: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_log1p(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "log1p: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_sqrt(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "sqrt: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_rsqrt(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "rsqrt: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_abs(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "abs: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_sign(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "sign: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_sin(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "sin: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_cos(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "cos: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_square(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "square: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_relu(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "relu: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_leaky_relu(gr_tensor *x, double slope) {
  return gr_fail_null(GR_ESTATE, "leaky_relu: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_elu(gr_tensor *x, double alpha) {
  return gr_fail_null(GR_ESTATE, "elu: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_tanh(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "tanh: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_sigmoid(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "sigmoid: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_softplus(gr_tensor *x, double beta, double threshold) {
  return gr_fail_null(GR_ESTATE, "softplus: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_mean(gr_tensor *x, int ndims, const int *dims, bool keepdim) {
  return gr_fail_null(GR_ESTATE, "mean: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_var(gr_tensor *x, int ndims, const int *dims, int correction, bool keepdim) {
  return gr_fail_null(GR_ESTATE, "var: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_logsumexp(gr_tensor *x, int ndims, const int *dims, bool keepdim) {
  return gr_fail_null(GR_ESTATE, "logsumexp: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_max_dim(gr_tensor *x, int dim, bool keepdim, gr_tensor **indices) {
  return gr_fail_null(GR_ESTATE, "max_dim: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_min_dim(gr_tensor *x, int dim, bool keepdim, gr_tensor **indices) {
  return gr_fail_null(GR_ESTATE, "min_dim: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_max_all(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "max_all: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_min_all(gr_tensor *x) {
  return gr_fail_null(GR_ESTATE, "min_all: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_softmax(gr_tensor *x, int dim) {
  return gr_fail_null(GR_ESTATE, "softmax: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_log_softmax(gr_tensor *x, int dim) {
  return gr_fail_null(GR_ESTATE, "log_softmax: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_matmul(gr_tensor *a, gr_tensor *b) {
  return gr_fail_null(GR_ESTATE, "matmul: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_linear(gr_tensor *x, gr_tensor *w, gr_tensor *b) {
  return gr_fail_null(GR_ESTATE, "linear: not implemented yet");
}
__attribute__((weak)) gr_conv_args gr_conv_defaults(void) {
  gr_conv_args a = {{1, 1}, {0, 0}, {1, 1}, {0, 0}, 1};
  return a;
}
__attribute__((weak)) gr_tensor *gr_conv2d(gr_tensor *x, gr_tensor *w, gr_tensor *b, gr_conv_args a) {
  return gr_fail_null(GR_ESTATE, "conv2d: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_conv_transpose2d(gr_tensor *x, gr_tensor *w, gr_tensor *b, gr_conv_args a) {
  return gr_fail_null(GR_ESTATE, "conv_transpose2d: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_conv2d_weight_grad(gr_tensor *x, gr_tensor *g, int kh, int kw, gr_conv_args a) {
  return gr_fail_null(GR_ESTATE, "conv2d_weight_grad: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_avg_pool2d(gr_tensor *x, int kh, int kw, int sh, int sw, int ph, int pw) {
  return gr_fail_null(GR_ESTATE, "avg_pool2d: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_max_pool2d(gr_tensor *x, int kh, int kw, int sh, int sw, int ph, int pw) {
  return gr_fail_null(GR_ESTATE, "max_pool2d: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_upsample_nearest2d(gr_tensor *x, int64_t out_h, int64_t out_w) {
  return gr_fail_null(GR_ESTATE, "upsample_nearest2d: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_upsample_bilinear2d(gr_tensor *x, int64_t out_h, int64_t out_w, bool align_corners) {
  return gr_fail_null(GR_ESTATE, "upsample_bilinear2d: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_pad2d(gr_tensor *x, int left, int right, int top, int bottom, gr_pad_mode mode) {
  return gr_fail_null(GR_ESTATE, "pad2d: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_grid_sample(gr_tensor *x, gr_tensor *grid, gr_pad_mode padding, bool align_corners) {
  return gr_fail_null(GR_ESTATE, "grid_sample: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_batch_norm(gr_tensor *x, gr_tensor *weight, gr_tensor *bias, gr_tensor *running_mean, gr_tensor *running_var, bool training, double momentum, double eps) {
  return gr_fail_null(GR_ESTATE, "batch_norm: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_instance_norm(gr_tensor *x, gr_tensor *weight, gr_tensor *bias, double eps) {
  return gr_fail_null(GR_ESTATE, "instance_norm: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_group_norm(gr_tensor *x, int groups, gr_tensor *weight, gr_tensor *bias, double eps) {
  return gr_fail_null(GR_ESTATE, "group_norm: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_layer_norm(gr_tensor *x, int nnorm, gr_tensor *weight, gr_tensor *bias, double eps) {
  return gr_fail_null(GR_ESTATE, "layer_norm: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_stack(int n, gr_tensor *const *xs, int dim) {
  return gr_fail_null(GR_ESTATE, "stack: not implemented yet");
}
__attribute__((weak)) int gr_split(gr_tensor *x, int64_t size, int dim, gr_tensor **pieces, int max) {
  gr_fail(GR_ESTATE, "split: not implemented yet");
  return -1;
}
__attribute__((weak)) int gr_chunk(gr_tensor *x, int chunks, int dim, gr_tensor **pieces, int max) {
  gr_fail(GR_ESTATE, "chunk: not implemented yet");
  return -1;
}
__attribute__((weak)) gr_tensor *gr_index_select(gr_tensor *x, int dim, gr_tensor *index) {
  return gr_fail_null(GR_ESTATE, "index_select: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_gather(gr_tensor *x, int dim, gr_tensor *index) {
  return gr_fail_null(GR_ESTATE, "gather: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_scatter_add(gr_tensor *x, int dim, gr_tensor *index, gr_tensor *src) {
  return gr_fail_null(GR_ESTATE, "scatter_add: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_one_hot(gr_tensor *index, int64_t classes) {
  return gr_fail_null(GR_ESTATE, "one_hot: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_embedding(gr_tensor *weight, gr_tensor *index) {
  return gr_fail_null(GR_ESTATE, "embedding: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_rand(int ndim, const int64_t *shape) {
  return gr_fail_null(GR_ESTATE, "rand: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_uniform(int ndim, const int64_t *shape, double lo, double hi) {
  return gr_fail_null(GR_ESTATE, "uniform: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_randn(int ndim, const int64_t *shape) {
  return gr_fail_null(GR_ESTATE, "randn: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_normal(int ndim, const int64_t *shape, double mean, double std) {
  return gr_fail_null(GR_ESTATE, "normal: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_bernoulli(gr_tensor *p) {
  return gr_fail_null(GR_ESTATE, "bernoulli: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_randint(int ndim, const int64_t *shape, int64_t lo, int64_t hi) {
  return gr_fail_null(GR_ESTATE, "randint: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_randperm(int64_t n) {
  return gr_fail_null(GR_ESTATE, "randperm: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_dropout(gr_tensor *x, double p, bool training) {
  return gr_fail_null(GR_ESTATE, "dropout: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_arange(double start, double end, double step) {
  return gr_fail_null(GR_ESTATE, "arange: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_linspace(double start, double end, int64_t n) {
  return gr_fail_null(GR_ESTATE, "linspace: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_eye(int64_t n) {
  return gr_fail_null(GR_ESTATE, "eye: not implemented yet");
}
__attribute__((weak)) gr_tensor *gr_to_dtype(gr_tensor *x, gr_dtype dt) {
  return gr_fail_null(GR_ESTATE, "to_dtype: not implemented yet");
}
