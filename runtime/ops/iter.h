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

#endif
