/* The ops: each is one call, runs one kernel, and records a node on its
 * result when grad mode is on and an input requires a gradient.
 *
 * Every function returns a new tensor (see tensor.h for ownership) or NULL
 * with a message (status.h). An op given a NULL input returns NULL at once.
 * The op table is runtime/ops/ops.def.
 */
#ifndef GANRT_OPS_H
#define GANRT_OPS_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- views (share storage; no copy) ----------------------------------------- */
/* shape may hold one -1, inferred. Copies only when the layout does not allow a view. */
gr_tensor *gr_reshape(gr_tensor *x, int ndim, const int64_t *shape);
gr_tensor *gr_permute(gr_tensor *x, const int *perm);           /* perm has x->ndim entries */
gr_tensor *gr_transpose(gr_tensor *x, int d0, int d1);
gr_tensor *gr_expand(gr_tensor *x, int ndim, const int64_t *shape); /* -1 keeps a size */
gr_tensor *gr_narrow(gr_tensor *x, int dim, int64_t start, int64_t length);
gr_tensor *gr_select(gr_tensor *x, int dim, int64_t index);      /* drops dim */
gr_tensor *gr_squeeze(gr_tensor *x, int dim);                    /* dim of size 1 */
gr_tensor *gr_unsqueeze(gr_tensor *x, int dim);
gr_tensor *gr_flatten(gr_tensor *x, int start_dim, int end_dim);
gr_tensor *gr_flip(gr_tensor *x, int ndims, const int *dims);
gr_tensor *gr_contiguous(gr_tensor *x);  /* x itself (new ref) when already contiguous */
gr_tensor *gr_clone(gr_tensor *x);       /* always a copy */
gr_tensor *gr_detach(gr_tensor *x);      /* shares storage, no grad_fn, requires_grad off */
/* Sums x over broadcast dims so that it has the given shape (the gradient of expand). */
gr_tensor *gr_sum_to(gr_tensor *x, int ndim, const int64_t *shape);
gr_tensor *gr_broadcast_to(gr_tensor *x, int ndim, const int64_t *shape);

/* --- elementwise, broadcasting -------------------------------------------- */
gr_tensor *gr_add(gr_tensor *a, gr_tensor *b);
gr_tensor *gr_sub(gr_tensor *a, gr_tensor *b);
gr_tensor *gr_mul(gr_tensor *a, gr_tensor *b);
gr_tensor *gr_div(gr_tensor *a, gr_tensor *b);
gr_tensor *gr_pow(gr_tensor *a, gr_tensor *b);
gr_tensor *gr_maximum(gr_tensor *a, gr_tensor *b);
gr_tensor *gr_minimum(gr_tensor *a, gr_tensor *b);
gr_tensor *gr_where(gr_tensor *mask, gr_tensor *a, gr_tensor *b); /* mask != 0 picks a */
/* comparisons: float masks of 0 and 1, never differentiable */
gr_tensor *gr_eq(gr_tensor *a, gr_tensor *b);
gr_tensor *gr_ne(gr_tensor *a, gr_tensor *b);
gr_tensor *gr_lt(gr_tensor *a, gr_tensor *b);
gr_tensor *gr_le(gr_tensor *a, gr_tensor *b);
gr_tensor *gr_gt(gr_tensor *a, gr_tensor *b);
gr_tensor *gr_ge(gr_tensor *a, gr_tensor *b);

/* with a number */
gr_tensor *gr_add_scalar(gr_tensor *x, double c);   /* x + c */
gr_tensor *gr_mul_scalar(gr_tensor *x, double c);   /* x * c */
gr_tensor *gr_rsub_scalar(gr_tensor *x, double c);  /* c - x */
gr_tensor *gr_rdiv_scalar(gr_tensor *x, double c);  /* c / x */
gr_tensor *gr_pow_scalar(gr_tensor *x, double p);   /* x ^ p */
gr_tensor *gr_rpow_scalar(gr_tensor *x, double c);  /* c ^ x */
/* clamp: pass NAN for a missing bound */
gr_tensor *gr_clamp(gr_tensor *x, double lo, double hi);

/* unary */
gr_tensor *gr_neg(gr_tensor *x);
gr_tensor *gr_exp(gr_tensor *x);
gr_tensor *gr_log(gr_tensor *x);
gr_tensor *gr_log1p(gr_tensor *x);
gr_tensor *gr_sqrt(gr_tensor *x);
gr_tensor *gr_rsqrt(gr_tensor *x);
gr_tensor *gr_abs(gr_tensor *x);
gr_tensor *gr_sign(gr_tensor *x);
/* to whole numbers, float32 to float32; constants to autograd (the derivative
 * is zero almost everywhere), so results never require a gradient. round
 * takes halves to the even neighbour, as torch.round: 2.5 -> 2, -0.5 -> -0. */
gr_tensor *gr_floor(gr_tensor *x);
gr_tensor *gr_round(gr_tensor *x);
gr_tensor *gr_ceil(gr_tensor *x);
gr_tensor *gr_sin(gr_tensor *x);
gr_tensor *gr_cos(gr_tensor *x);
gr_tensor *gr_square(gr_tensor *x);

/* activations */
gr_tensor *gr_relu(gr_tensor *x);
gr_tensor *gr_leaky_relu(gr_tensor *x, double slope);
/* leaky_relu(x, slope) * gain in one op (StyleGAN's bias_act): the same
 * numbers as the two ops, one pass over memory fewer each way */
gr_tensor *gr_leaky_relu_gain(gr_tensor *x, double slope, double gain);
gr_tensor *gr_elu(gr_tensor *x, double alpha);
gr_tensor *gr_tanh(gr_tensor *x);
gr_tensor *gr_sigmoid(gr_tensor *x);
gr_tensor *gr_softplus(gr_tensor *x, double beta, double threshold);

/* --- reductions --------------------------------------------------------------
 * dims: ndims dims (negative counts from the end); ndims 0 means all dims. */
gr_tensor *gr_sum(gr_tensor *x, int ndims, const int *dims, bool keepdim);
gr_tensor *gr_mean(gr_tensor *x, int ndims, const int *dims, bool keepdim);
gr_tensor *gr_var(gr_tensor *x, int ndims, const int *dims, int correction, bool keepdim);
gr_tensor *gr_logsumexp(gr_tensor *x, int ndims, const int *dims, bool keepdim);
/* max/min along one dim: values, and the int64 indices in *indices (may be NULL). */
gr_tensor *gr_max_dim(gr_tensor *x, int dim, bool keepdim, gr_tensor **indices);
gr_tensor *gr_min_dim(gr_tensor *x, int dim, bool keepdim, gr_tensor **indices);
gr_tensor *gr_max_all(gr_tensor *x);
gr_tensor *gr_min_all(gr_tensor *x);
gr_tensor *gr_softmax(gr_tensor *x, int dim);
gr_tensor *gr_log_softmax(gr_tensor *x, int dim);

/* --- linear algebra (OpenBLAS sgemm) --------------------------------------- */
/* a (...,n,k) @ b (...,k,m), batch dims broadcast; 1-d operands as in numpy. */
gr_tensor *gr_matmul(gr_tensor *a, gr_tensor *b);
/* x (..., in) @ w (out, in)^T + b (out); b may be NULL. */
gr_tensor *gr_linear(gr_tensor *x, gr_tensor *w, gr_tensor *b);

/* --- convolution ----------------------------------------------------------- */
typedef struct gr_conv_args {
  int stride[2], pad[2], dilation[2], output_padding[2];
  int groups;
} gr_conv_args;
/* {1,1},{0,0},{1,1},{0,0},1 */
gr_conv_args gr_conv_defaults(void);
/* x (N,C,H,W), w (O,C/groups,kh,kw), b (O) or NULL */
gr_tensor *gr_conv2d(gr_tensor *x, gr_tensor *w, gr_tensor *b, gr_conv_args a);
/* x (N,C,H,W), w (C,O/groups,kh,kw), b (O) or NULL */
gr_tensor *gr_conv_transpose2d(gr_tensor *x, gr_tensor *w, gr_tensor *b, gr_conv_args a);
/* The weight gradient of conv2d: x (N,C,H,W), g (N,O,Ho,Wo) -> (O,C/groups,kh,kw). */
gr_tensor *gr_conv2d_weight_grad(gr_tensor *x, gr_tensor *g, int kh, int kw, gr_conv_args a);

/* --- pooling and resampling ---------------------------------------------- */
gr_tensor *gr_avg_pool2d(gr_tensor *x, int kh, int kw, int sh, int sw, int ph, int pw);
gr_tensor *gr_max_pool2d(gr_tensor *x, int kh, int kw, int sh, int sw, int ph, int pw);
/* Resizing to (out_h, out_w). scale_h, scale_w: the scale factor the size
 * came from, or 0 for none. As in PyTorch, a given scale maps output index o
 * to source o / scale (nearest: floor((float)o * (float)(1 / scale)); bilinear
 * without align_corners: (o + 0.5) / scale - 0.5); without one, by in / out.
 * align_corners always maps corners onto corners. */
gr_tensor *gr_upsample_nearest2d(gr_tensor *x, int64_t out_h, int64_t out_w, double scale_h,
                                 double scale_w);
gr_tensor *gr_upsample_bilinear2d(gr_tensor *x, int64_t out_h, int64_t out_w, bool align_corners,
                                  double scale_h, double scale_w);
typedef enum gr_pad_mode { GR_PAD_ZEROS = 0, GR_PAD_REFLECT, GR_PAD_REPLICATE } gr_pad_mode;
/* pads the last two dims: left, right, top, bottom */
gr_tensor *gr_pad2d(gr_tensor *x, int left, int right, int top, int bottom, gr_pad_mode mode);
/* x (N,C,H,W), grid (N,Ho,Wo,2) in [-1,1] (x then y); bilinear. */
gr_tensor *gr_grid_sample(gr_tensor *x, gr_tensor *grid, gr_pad_mode padding, bool align_corners);

/* --- FIR resampling (NVlabs' upfirdn2d) --------------------------------------
 * Each plane of x (N,C,H,W): upsampled by inserting up-1 zeros after each
 * pixel, padded (negative: cropped), filtered with f, every down-th pixel
 * kept. f: taps (k), used as the separable k x k filter, or (fh,fw); the
 * same for every channel; a constant (requires no gradient). Output
 * Ho = (H*up[1] + pad[2] + pad[3] - fh) / down[1] + 1, Wo likewise with x's. */
typedef struct gr_upfirdn_args {
  int up[2];   /* x, y */
  int down[2]; /* x, y */
  int pad[4];  /* x0, x1, y0, y1, on the upsampled planes */
  bool flip;   /* false: convolution (NVlabs' default); true: correlation */
  double gain; /* the result times gain */
} gr_upfirdn_args;
/* up {1,1}, down {1,1}, pad {0,0,0,0}, flip false, gain 1 */
gr_upfirdn_args gr_upfirdn_defaults(void);
gr_tensor *gr_upfirdn2d(gr_tensor *x, gr_tensor *f, gr_upfirdn_args a);

/* --- normalisation --------------------------------------------------------
 * weight/bias may be NULL. batch_norm: running_mean/var may be NULL; when
 * training, batch statistics are used and the running ones updated in place. */
gr_tensor *gr_batch_norm(gr_tensor *x, gr_tensor *weight, gr_tensor *bias,
                         gr_tensor *running_mean, gr_tensor *running_var,
                         bool training, double momentum, double eps);
gr_tensor *gr_instance_norm(gr_tensor *x, gr_tensor *weight, gr_tensor *bias, double eps);
gr_tensor *gr_group_norm(gr_tensor *x, int groups, gr_tensor *weight, gr_tensor *bias, double eps);
/* normalises over the last `nnorm` dims; weight/bias of that trailing shape */
gr_tensor *gr_layer_norm(gr_tensor *x, int nnorm, gr_tensor *weight, gr_tensor *bias, double eps);

/* --- joining and indexing ---------------------------------------------------- */
gr_tensor *gr_cat(int n, gr_tensor *const *xs, int dim);
gr_tensor *gr_stack(int n, gr_tensor *const *xs, int dim);
/* views: pieces of `size` along dim (the last may be smaller); writes up to max pieces, returns the count or -1 */
int gr_split(gr_tensor *x, int64_t size, int dim, gr_tensor **pieces, int max);
int gr_chunk(gr_tensor *x, int chunks, int dim, gr_tensor **pieces, int max);
gr_tensor *gr_index_select(gr_tensor *x, int dim, gr_tensor *index);    /* index: int64 1-d */
gr_tensor *gr_gather(gr_tensor *x, int dim, gr_tensor *index);          /* index: int64, x's rank */
gr_tensor *gr_scatter_add(gr_tensor *x, int dim, gr_tensor *index, gr_tensor *src);
gr_tensor *gr_one_hot(gr_tensor *index, int64_t classes);              /* float result */
gr_tensor *gr_embedding(gr_tensor *weight, gr_tensor *index);           /* (V,D), int64 any shape */

/* --- random (the seeded generator in rng.h) -------------------------------------- */
gr_tensor *gr_rand(int ndim, const int64_t *shape);               /* U[0,1) */
gr_tensor *gr_uniform(int ndim, const int64_t *shape, double lo, double hi);
gr_tensor *gr_randn(int ndim, const int64_t *shape);
gr_tensor *gr_normal(int ndim, const int64_t *shape, double mean, double std);
/* mean + std z, z ~ N(0,1) restricted to [a, b] (a < b, in units of std), by inverse CDF */
gr_tensor *gr_trunc_normal(int ndim, const int64_t *shape, double mean, double std, double a,
                           double b);
gr_tensor *gr_bernoulli(gr_tensor *p);                            /* 0/1 floats, P(1) = p */
gr_tensor *gr_randint(int ndim, const int64_t *shape, int64_t lo, int64_t hi); /* int64 in [lo,hi) */
gr_tensor *gr_randperm(int64_t n);                                /* int64 */
gr_tensor *gr_dropout(gr_tensor *x, double p, bool training);

/* --- across processes (data-parallel training) ----------------------------
 * The runtime has no transport: the host installs the function that sums a
 * buffer element-wise over the processes of its job (the Lua binding's MPI
 * one). gr_all_reduce(x) is a new contiguous tensor holding that sum; its
 * gradient is the same sum of the incoming gradients (each process's loss
 * reaches every process's x through it). Without a function installed, a
 * world of one, it is a copy. */
typedef gr_status (*gr_all_reduce_fn)(float *data, int64_t n, void *ctx);
void gr_set_all_reduce(gr_all_reduce_fn fn, void *ctx); /* NULL: none */
gr_tensor *gr_all_reduce(gr_tensor *x);                 /* float */

/* --- creation ---------------------------------------------------------------- */
gr_tensor *gr_arange(double start, double end, double step);     /* float */
gr_tensor *gr_linspace(double start, double end, int64_t n);
gr_tensor *gr_eye(int64_t n);
gr_tensor *gr_to_dtype(gr_tensor *x, gr_dtype dt);               /* not differentiable to int */

#ifdef __cplusplus
}
#endif
#endif
