/* The kernel tables each ISA file defines (internal). A SIMD table may leave
 * an entry NULL: dispatch fills it from the scalar table. */
#ifndef GANRT_KERNEL_TABLES_H
#define GANRT_KERNEL_TABLES_H
#include "ganrt/kernels.h"
extern const gr_kernel_table gr_kernels_scalar_table;
/* Defined by the avx2 and avx512 kernel files when present (weak NULL otherwise). */
extern const gr_kernel_table *const gr_kernels_avx2_ptr;
extern const gr_kernel_table *const gr_kernels_avx512_ptr;

/* The tile of the convolutions' own GEMM (ops/conv.c): c, a GR_TILE_M x
 * GR_TILE_N block with rows GR_TILE_N floats apart, gets (acc ? c : 0) + a b
 * over kc steps, a packed step by step (kc x GR_TILE_M) and b likewise
 * (kc x GR_TILE_N, 64-byte aligned). AVX-512 only: gr_gemm_tile() is NULL
 * unless the avx512 table is the one in use. */
#define GR_TILE_M 8
#define GR_TILE_N 48
typedef void (*gr_gemm_tile_fn)(float *c, const float *a, const float *b, int64_t kc, bool acc);
extern const gr_gemm_tile_fn gr_gemm_tile_avx512_ptr;
gr_gemm_tile_fn gr_gemm_tile(void);
#endif
