/* upfirdn2d's plane kernel: the op (ops/upfirdn.c) turns its attributes
 * into a plan (tables of taps per output row and column, weights), and the
 * kernel table's fir_block computes up to GR_FIR_LANES planes by it at once.
 *
 * The planes of a block are interleaved: element e of plane l sits at
 * e*GR_FIR_LANES + l, so each multiply-add of a table's run is one
 * operation on 16 planes, whatever the factors, pads and filter: a vector
 * operation once compiled for AVX2 or AVX-512. fir_block is one source
 * (kernels/fir_block.h) compiled three times: kernels/fir.c (the scalar
 * reference), fir_avx2.c and fir_avx512.c with their flags. Each lane does
 * the same IEEE operations in the same order (no FMA: C11 does not contract
 * a*b+c), so the three give the same bits (tests/runtime/test_upfirdn.c). */
#ifndef GANRT_KERNELS_FIR_H
#define GANRT_KERNELS_FIR_H

#include <stdbool.h>
#include <stdint.h>

#include "ganrt/kernels.h"

#define GR_FIR_LANES 16

/* The taps of one output along an axis: input pixels i .. i+n-1 times the
 * filter's taps k, k+up, k+2up, ..., which are weights o .. o+n-1 once the
 * taps are stored phase by phase (k % up). n = 0: the output is 0. */
typedef struct gr_fir_run {
  int64_t i, k, o, n;
} gr_fir_run;

/* What fir_block reads: sizes, the runs of each output row and column, the
 * weights and the table whose transpose16 interleaves and separates planes. */
typedef struct gr_fir_plan {
  int64_t H, W, Ho, Wo;            // the input and output planes
  const gr_fir_run *rows, *cols;   // rows is (Ho), cols (Wo)
  const float *wx; // separable: (fw) the taps in x's phase order;
                   // 2-d: (fh, fw), each row so, times gain
  const float *wy; // separable: (fh) the taps in y's phase order, times gain; 2-d: unused
  int64_t fw;      // floats per row of wx
  int64_t uy;      // a y run steps through filter rows by uy (2-d)
  bool sep;        // a 1-d f: a y pass, then an x pass; else 2-d
  const gr_kernel_table *k;
} gr_fir_plan;

/* Output rows go back to the planes a group at a time, of at least this
 * many elements, so that small planes too leave in runs of 16. */
#define GR_FIR_GROUP_MIN 256

static inline int64_t gr_fir_group_rows(const gr_fir_plan *p) {
  int64_t g = (GR_FIR_GROUP_MIN + p->Wo - 1) / p->Wo;
  return g < p->Ho ? g : p->Ho;
}

/* The floats of scratch fir_block needs (per thread). */
int64_t gr_fir_scratch_floats(const gr_fir_plan *p);

/* y (nl,Ho,Wo) from x (nl,H,W), both contiguous, nl <= GR_FIR_LANES. */
void gr_fir_block_scalar(float *y, const float *x, int nl, float *scratch, const gr_fir_plan *p);
void gr_fir_block_avx2(float *y, const float *x, int nl, float *scratch, const gr_fir_plan *p);
void gr_fir_block_avx512(float *y, const float *x, int nl, float *scratch, const gr_fir_plan *p);

#endif
