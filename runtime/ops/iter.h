/* Walking strided tensors: the shared loops of the elementwise and copy
 * kernels. A walk visits rows: all dims but the last, in row-major order;
 * the last dim is the inner loop, with its own stride per operand. */
#ifndef GANRT_ITER_H
#define GANRT_ITER_H

#include "ganrt/tensor.h"

#define GR_ITER_MAX 4

typedef struct gr_iter {
  int ndim;                               /* dims after merging; at least 1 */
  int64_t shape[GR_MAX_DIM];
  int64_t stride[GR_ITER_MAX][GR_MAX_DIM]; /* per operand, in elements; 0 where broadcast */
  int nops;
  int64_t rows;                           /* product of all dims but the last */
  int64_t inner;                          /* size of the last dim */
} gr_iter;

/* Lays out nops operands over an output shape (ndim, shape): each operand's
 * dims are aligned to the right and broadcast where 1 or missing. Adjacent
 * dims that are contiguous for every operand are merged, so contiguous
 * tensors become one long row. */
void gr_iter_init(gr_iter *it, int ndim, const int64_t *shape, int nops,
                  const gr_tensor *const *ops);
/* Element offsets (from each operand's own offset) of the start of row r. */
void gr_iter_row(const gr_iter *it, int64_t r, int64_t *offs);
/* gr_iter_row, also giving the row's index along each dim but the last
 * (idx), from which gr_iter_next steps to the next row. */
void gr_iter_seek(const gr_iter *it, int64_t r, int64_t *idx, int64_t *offs);
/* idx and offs of the row after the one they hold: an odometer, no
 * division (a division a row was the cost of rows of 16 floats). */
static inline void gr_iter_next(const gr_iter *it, int64_t *idx, int64_t *offs) {
  for (int d = it->ndim - 2; d >= 0; d--) {
    for (int k = 0; k < it->nops; k++) offs[k] += it->stride[k][d];
    if (++idx[d] < it->shape[d]) return;
    for (int k = 0; k < it->nops; k++) offs[k] -= it->shape[d] * it->stride[k][d];
    idx[d] = 0;
  }
}

#endif
