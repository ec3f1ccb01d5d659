/* The convolution engine's GEMM tile on its own: GFLOP/s of the kernel
 * table's gemm_tile (8 x 48, panels packed) and gemm_tile_at (the weights'
 * rows read where they are, K floats apart) over panels that stay in L1,
 * one thread. The bound the engine's convolutions are measured against in
 * bench/README.md ("Where the time goes").
 *
 *     build/bench_gemm_tile [isa] [steps]      (isa: avx512 by default) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ganrt/kernels.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  const char *isa = argc > 1 ? argv[1] : "avx512";
  int kc = argc > 2 ? atoi(argv[2]) : 256;
  const gr_kernel_table *kt = gr_kernels_for(isa);
  if (!kt) {
    fprintf(stderr, "bench_gemm_tile: no '%s' kernels on this CPU or build\n", isa);
    return 1;
  }
  if (kc < 1 || kc > 4096) {
    fprintf(stderr, "bench_gemm_tile: steps must be 1 to 4096, got %d\n", kc);
    return 1;
  }
  enum { M = GR_TILE_M, N = GR_TILE_N, ROUNDS = 7 };
  int64_t K = 2 * kc; /* gemm_tile_at: rows K floats apart, as a conv's weights (O, K) */
  float *a = aligned_alloc(64, sizeof(float) * (size_t)(M * K)), *b = aligned_alloc(64, sizeof(float) * (size_t)(kc * N));
  float *c = aligned_alloc(64, sizeof(float) * 2 * M * N);
  if (!a || !b || !c) return 1;
  for (int64_t i = 0; i < M * K; i++) a[i] = 1e-3f * (float)(i % 7);
  for (int64_t i = 0; i < (int64_t)kc * N; i++) b[i] = 1e-3f * (float)(i % 5);
  memset(c, 0, sizeof(float) * 2 * M * N);
  long reps = 1000000000L / ((long)kc * M * N) + 1;
  printf("isa %s, %d steps a call, %ld calls a round, median of %d rounds, one thread\n", kt->isa, kc,
         reps, ROUNDS);
  for (int at = 0; at < 2; at++) {
    double r[ROUNDS];
    for (int k = 0; k < ROUNDS; k++) {
      double t0 = now();
      for (long i = 0; i < reps; i++) {
        float *ci = c + (i & 1) * M * N;
        if (at) kt->gemm_tile_at(ci, N, a, K, 1, b, kc, i & 2, 3);
        else kt->gemm_tile(ci, N, a, b, kc, i & 2);
      }
      r[k] = 2.0 * M * N * kc * (double)reps / (now() - t0) / 1e9;
    }
    qsort(r, ROUNDS, sizeof *r, cmp);
    printf("%s GFLOP/s %.1f (rounds %.1f to %.1f)\n", at ? "gemm_tile_at" : "gemm_tile", r[ROUNDS / 2],
           r[0], r[ROUNDS - 1]);
  }
  printf("checksum %g\n", (double)c[5] + c[M * N + 7]);
  free(a);
  free(b);
  free(c);
  return 0;
}
