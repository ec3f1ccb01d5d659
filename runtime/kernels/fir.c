/* fir_block, the scalar reference (the body is kernels/fir_block.h), and the
 * size of its scratch. */
#define FIR_BLOCK gr_fir_block_scalar
#include "kernels/fir_block.h"

int64_t gr_fir_scratch_floats(const gr_fir_plan *p) {
  return (p->H * p->W + p->W + gr_fir_group_rows(p) * p->Wo) * GR_FIR_LANES;
}
