/* The kernel tables each ISA file defines (internal). A SIMD table may leave
 * an entry NULL: dispatch fills it from the scalar table. The AVX2 table
 * does so for the GEMM tiles, transpose16 and the depthwise rows: AVX2
 * convolutions run on sgemm. */
#ifndef GANRT_KERNEL_TABLES_H
#define GANRT_KERNEL_TABLES_H
#include "ganrt/kernels.h"
extern const gr_kernel_table gr_kernels_scalar_table;
/* Defined by the avx2 and avx512 kernel files when present (weak NULL otherwise). */
extern const gr_kernel_table *const gr_kernels_avx2_ptr;
extern const gr_kernel_table *const gr_kernels_avx512_ptr;
#endif
