/* The kernel tables each ISA file defines (internal). A SIMD table may leave
 * an entry NULL: dispatch fills it from the scalar table. */
#ifndef GANRT_KERNEL_TABLES_H
#define GANRT_KERNEL_TABLES_H
#include "ganrt/kernels.h"
extern const gr_kernel_table gr_kernels_scalar_table;
/* Defined by the avx2 and avx512 kernel files when present (weak NULL otherwise). */
extern const gr_kernel_table *const gr_kernels_avx2_ptr;
extern const gr_kernel_table *const gr_kernels_avx512_ptr;

/* The kernels of the convolutions' own GEMM (ops/conv.c), AVX-512 only:
 * gr_gemm_kernels() is NULL unless the avx512 table is the one in use. */
#define GR_TILE_M 8
#define GR_TILE_N 48
typedef struct gr_gemm_kit {
  /* c, a GR_TILE_M x GR_TILE_N block with rows ldc floats apart, gets
   * (acc ? c : 0) + a b over kc steps: a packed step by step (kc x
   * GR_TILE_M), b likewise (kc x GR_TILE_N, 64-byte aligned) */
  void (*tile)(float *c, int64_t ldc, const float *a, const float *b, int64_t kc, bool acc);
  /* d[q*ldd + r] = s[r][q] for r, q < 16: sixteen runs of 16 floats, laid across */
  void (*transpose16)(float *d, int64_t ldd, const float *const *s);
} gr_gemm_kit;
extern const gr_gemm_kit *const gr_gemm_kit_avx512_ptr;
const gr_gemm_kit *gr_gemm_kernels(void);
#endif
