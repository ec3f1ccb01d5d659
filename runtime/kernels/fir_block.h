/* The body of fir_block (kernels/fir.h), one source for every ISA:
 * kernels/fir.c, fir_avx2.c and fir_avx512.c define FIR_BLOCK, the name of
 * the function, and include this file. It is plain C; the lane loops (16
 * floats, a constant count) are what the compiler turns into vector
 * operations under each file's flags.
 *
 * A block: the input planes interleaved into xb (H, W, LANES); then each
 * output row in turn, into a group of rows yb (G, Wo, LANES), which goes
 * back to the planes, de-interleaved, once full. A separable filter makes an
 * output row as a y pass (its run of xb rows, weighted, into a (W, LANES))
 * then an x pass along it; a 2-d one adds the x passes of the rows of its
 * run, each with its filter row. */
#ifndef FIR_BLOCK
#error "define FIR_BLOCK, the function's name, before including kernels/fir_block.h"
#endif

#include <string.h>

#include "kernels/fir.h"

#define LANES GR_FIR_LANES
/* Packing reads 16 planes in step, and unpacking writes 16: sixteen streams
 * that the hardware prefetcher does not follow. Asking for each plane's
 * line 256 bytes ahead made the cases of 8 MB 20% (reading) and up to 35%
 * (writing) faster on one thread; 512 bytes was slower. A prefetch never
 * faults, past the end included. */
#define PREFETCH_AHEAD 64

/* d (n, LANES) = the nl runs s[l][0 .. n) interleaved, lanes past nl 0; in
 * whole blocks of 16 elements through transpose16 */
static void pack(float *d, const float *const *s, int64_t n, int nl, const gr_kernel_table *k) {
  int64_t e = 0;
  if (nl == LANES)
    for (; e + 16 <= n; e += 16) {
      const float *src[16]; // src[l] is plane l's next 16 elements
      for (int l = 0; l < 16; l++) {
        src[l] = s[l] + e;
        __builtin_prefetch(src[l] + PREFETCH_AHEAD);
      }
      k->transpose16(d + e * LANES, LANES, src);
    }
  for (int l = 0; l < LANES; l++)
    for (int64_t i = e; i < n; i++) d[i * LANES + l] = l < nl ? s[l][i] : 0.0f;
}

/* d[l*ds + i] = b[i*LANES + l] for i < n, l < nl: b (n, LANES) back to nl planes */
static void unpack(float *d, int64_t ds, const float *b, int64_t n, int nl,
                   const gr_kernel_table *k) {
  int64_t e = 0;
  if (nl == LANES)
    for (; e + 16 <= n; e += 16) {
      const float *src[16]; // src[r] is element e + r's lanes
      for (int r = 0; r < 16; r++) {
        src[r] = b + (e + r) * LANES;
        __builtin_prefetch(d + r * ds + e + PREFETCH_AHEAD, 1);
      }
      k->transpose16(d + e, ds, src);
    }
  for (int l = 0; l < nl; l++)
    for (int64_t i = e; i < n; i++) d[l * ds + i] = b[i * LANES + l];
}

/* The y pass of one output row: a (W, LANES) = run r of the rows of xb
 * (H, W, LANES) times weights w[r.o ..], summed in tap order. */
static void y_pass(float *a, const float *xb, const float *w, gr_fir_run r, int64_t W) {
  const float *src = xb + r.i * W * LANES; // src is (n, W, LANES)
  for (int64_t e = 0; e < W; e++) {
    float s[LANES] = {0};
    for (int64_t t = 0; t < r.n; t++) {
      const float *v = src + (t * W + e) * LANES; // v is (LANES)
      for (int l = 0; l < LANES; l++) s[l] += w[r.o + t] * v[l];
    }
    memcpy(a + e * LANES, s, sizeof s);
  }
}

/* The x pass of one row: y (Wo, LANES) = (acc ? y : 0) + each output's
 * run of a (W, LANES) times its weights of w, summed in tap order. */
static void x_pass(float *y, const float *a, const float *w, const gr_fir_run *cols, int64_t Wo,
                   bool acc) {
  for (int64_t q = 0; q < Wo; q++) {
    const float *src = a + cols[q].i * LANES, *wq = w + cols[q].o; // src is (n, LANES), wq (n)
    float s[LANES] = {0};
    for (int64_t t = 0; t < cols[q].n; t++)
      for (int l = 0; l < LANES; l++) s[l] += wq[t] * src[t * LANES + l];
    float *yq = y + q * LANES; // yq is (LANES)
    if (acc)
      for (int l = 0; l < LANES; l++) yq[l] += s[l];
    else
      memcpy(yq, s, sizeof s);
  }
}

void FIR_BLOCK(float *y, const float *x, int nl, float *scratch, const gr_fir_plan *p) {
  int64_t H = p->H, W = p->W, Ho = p->Ho, Wo = p->Wo, G = gr_fir_group_rows(p);
  float *xb = scratch;           // xb is (H, W, LANES)
  float *a = xb + H * W * LANES; // a is (W, LANES): the y pass of a row
  float *yb = a + W * LANES;     // yb is (G, Wo, LANES)
  const float *src[LANES];       // src[l] is plane l of x
  for (int l = 0; l < nl; l++) src[l] = x + l * H * W;
  pack(xb, src, H * W, nl, p->k);
  for (int64_t q0 = 0; q0 < Ho; q0 += G) {
    int64_t q1 = q0 + G < Ho ? q0 + G : Ho;
    for (int64_t q = q0; q < q1; q++) {
      gr_fir_run r = p->rows[q];
      float *rb = yb + (q - q0) * Wo * LANES; // rb is (Wo, LANES)
      if (p->sep) {
        y_pass(a, xb, p->wy, r, W);
        x_pass(rb, a, p->wx, p->cols, Wo, false);
        continue;
      }
      memset(rb, 0, (size_t)(Wo * LANES) * sizeof *rb);
      for (int64_t t = 0; t < r.n; t++)
        x_pass(rb, xb + (r.i + t) * W * LANES, p->wx + (r.k + t * p->uy) * p->fw, p->cols, Wo,
               true);
    }
    unpack(y + q0 * Wo, Ho * Wo, yb, (q1 - q0) * Wo, nl, p->k);
  }
}
