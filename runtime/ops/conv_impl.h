/* Internal knobs of the convolution kernels (ops/conv.c), for tests and
 * benchmarks. */
#ifndef GANRT_CONV_IMPL_H
#define GANRT_CONV_IMPL_H

#include <stdint.h>

/* Floats the column and matrix scratch of one block may hold: a block is as
 * many whole samples as fit, or rows of one sample when one does not.
 * n <= 0 restores the default. Returns the previous value. */
int64_t gr_conv_set_budget(int64_t n);

#endif
