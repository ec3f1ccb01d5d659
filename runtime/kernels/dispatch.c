/* Choosing the kernel table at run time (threads: threads.c). */
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ganrt/status.h"
#include "kernels/table.h"

#if !defined(__x86_64__)
/* x86-64 builds always compile both SIMD files, and a plain reference makes
 * the linker take them even out of a static archive; elsewhere they are absent. */
__attribute__((weak)) const gr_kernel_table *const gr_kernels_avx2_ptr = NULL;
__attribute__((weak)) const gr_kernel_table *const gr_kernels_avx512_ptr = NULL;
#endif

static gr_kernel_table g_full[3]; /* scalar, avx2, avx512 with gaps filled */
static const gr_kernel_table *g_active;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* A copy of t with every NULL entry taken from the scalar table. */
static void fill(gr_kernel_table *dst, const gr_kernel_table *t) {
  size_t n = sizeof *dst / sizeof(void *);
  const void *const *src = (const void *const *)t;
  const void *const *ref = (const void *const *)&gr_kernels_scalar_table;
  void **out = (void **)dst;
  for (size_t i = 0; i < n; i++) out[i] = (void *)(src[i] ? src[i] : ref[i]);
}

/* Table names, in the order of g_full and of preference (last is best). */
static const char *const k_names[3] = {"scalar", "avx2", "avx512"};

static int isa_index(const char *isa) {
  for (int i = 0; isa && i < 3; i++)
    if (!strcmp(isa, k_names[i])) return i;
  return -1;
}

static bool cpu_has(int i) {
  __builtin_cpu_init();
  if (i == 1) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (i == 2)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  return i == 0;
}

/* The table for a known name on this CPU and build, or NULL. */
static const gr_kernel_table *lookup(const char *isa) {
  int i = isa_index(isa);
  return i >= 0 && cpu_has(i) && g_full[i].isa ? &g_full[i] : NULL;
}

/* Once per process, before any kernel runs: ops may ask for the table from
 * inside parallel regions, so the first call must not race. */
static void init(void) {
  fill(&g_full[0], &gr_kernels_scalar_table);
  if (gr_kernels_avx2_ptr) fill(&g_full[1], gr_kernels_avx2_ptr);
  if (gr_kernels_avx512_ptr) fill(&g_full[2], gr_kernels_avx512_ptr);
  const gr_kernel_table *best = NULL;
  for (int i = 2; i >= 0 && !best; i--) best = lookup(k_names[i]);
  g_active = best;
  const char *want = getenv("GANLUA_ISA");
  if (want && *want) {
    const gr_kernel_table *t = lookup(want);
    if (t) g_active = t;
    else
      fprintf(stderr, "ganlua: GANLUA_ISA=%s is not available here (scalar, avx2, avx512 as the "
                      "CPU allows); using %s\n", want, best->isa);
  }
}

const gr_kernel_table *gr_kernels_for(const char *isa) {
  pthread_once(&g_once, init);
  return lookup(isa);
}

const gr_kernel_table *gr_kernels_scalar(void) { return gr_kernels_for("scalar"); }

int gr_kernels_use(const char *isa) {
  const gr_kernel_table *t = gr_kernels_for(isa);
  if (!t) {
    gr_fail(GR_EARG, "kernels: %s '%s' (choose scalar, avx2 or avx512)",
            isa_index(isa) >= 0 ? "this CPU or build lacks" : "unknown instruction set",
            isa ? isa : "(null)");
    return -1;
  }
  g_active = t;
  return 0;
}

const gr_kernel_table *gr_kernels(void) {
  pthread_once(&g_once, init);
  return g_active;
}

const char *gr_blas_info(void) {
  static char buf[256];
  const char *cfg = openblas_get_config(), *core = openblas_get_corename();
  const char *env = getenv("OPENBLAS_CORETYPE");
  snprintf(buf, sizeof buf, "%s; core %s; OPENBLAS_CORETYPE=%s", cfg ? cfg : "OpenBLAS",
           core ? core : "?", env ? env : "(unset)");
  return buf;
}
