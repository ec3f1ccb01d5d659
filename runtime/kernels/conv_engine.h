/* The convolution engine (kernels/conv_engine.c): the arithmetic behind the
 * three faces of ops/conv.c. Internal to runtime/; tests and benchmarks use
 * its knobs.
 *
 * One geometry describes all three: the image side (N,C,H,W) is conv2d's
 * input, the filtered side (N,O,Ho,Wo) its output, and the weights are
 * (O, C/G, kh, kw), read as the matrix (O, C/G*kh*kw). conv2d maps image to
 * filtered, conv_transpose2d (conv2d's adjoint) filtered to image, and the
 * weight gradient pairs the two sides.
 *
 * Each entry point writes a new contiguous output, reads x, y or gy with any
 * strides and w, bias contiguous, and returns GR_OK, or GR_EARG (sizes past
 * sgemm's int) or GR_ENOMEM (scratch) with a message that names the op. The
 * caller has checked the geometry. Work is split in fixed chunks and every
 * sum is added in one order, so the numbers do not depend on timing. */
#ifndef GANRT_CONV_ENGINE_H
#define GANRT_CONV_ENGINE_H

#include <stdint.h>

#include "ganrt/status.h"
#include "ganrt/tensor.h"

typedef struct conv_geom {
  int64_t N, C, H, W; /* image side: conv2d's input */
  int64_t O, Ho, Wo;  /* filtered side: conv2d's output */
  int64_t kh, kw, sh, sw, ph, pw, dh, dw, G; /* kernel, stride, padding, dilation, groups */
} conv_geom;

/* y (N,O,Ho,Wo) = conv2d(x, w) + bias[o]; x (N,C,H,W), bias (O) or NULL. */
gr_status conv_engine_forward(float *y, const gr_tensor *x, const float *w, const float *bias,
                              const conv_geom *g);

/* x (N,C,H,W) = conv2d's adjoint applied to y (N,O,Ho,Wo), + bias[c]; bias (C) or NULL. */
gr_status conv_engine_transpose(float *x, const gr_tensor *y, const float *w, const float *bias,
                                const conv_geom *g);

/* dw (O, C/G*kh*kw) = the sum over the batch of gy (N,O,Ho,Wo) times the
 * columns of x (N,C,H,W), transposed: conv2d's gradient in its weights. */
gr_status conv_engine_weight_grad(float *dw, const gr_tensor *x, const gr_tensor *gy,
                                  const conv_geom *g);

/* --- knobs, for tests and benchmarks --------------------------------------------------- */

/* Floats the column and matrix scratch of one block may hold: a block is as
 * many whole samples as fit, or rows of one sample when one does not (on
 * the tile paths, as many groups of as many samples as fit; a depthwise
 * path runs only when one thread's planes fit). n <= 0 restores the
 * default. Returns the previous value. */
int64_t gr_conv_set_budget(int64_t n);

/* Whether im2col and col2im run on our OpenMP threads: 1 yes, 0 no, -1
 * (the default) decides from the BLAS build and the OpenMP wait policy.
 * Results are the same either way. Returns the previous mode. */
int gr_conv_set_parallel(int mode);

/* Whether the tile and depthwise paths run: 1 wherever their shapes allow,
 * with the table's kernels even when those are the scalar reference; 0
 * never (sgemm); -1 (the default) only on a SIMD tile (AVX-512). Returns the
 * previous mode. */
int gr_conv_set_tile(int mode);

/* Whether the weight gradient on the tile runs by rows of taps (its narrow
 * form, for few filtered channels): 1 wherever it can, 0 never, -1 (the
 * default) where it is the faster. Results are the same either way.
 * Returns the previous mode. */
int gr_conv_set_wgrad_rows(int mode);

#endif
