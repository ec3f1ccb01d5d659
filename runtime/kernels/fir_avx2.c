/* fir_block for AVX2 (the body is kernels/fir_block.h); the same bits as the scalar one. */
#define FIR_BLOCK gr_fir_block_avx2
#include "kernels/fir_block.h"
