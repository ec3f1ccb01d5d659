#include "iter.h"

#include <string.h>

void gr_iter_init(gr_iter *it, int ndim, const int64_t *shape, int nops,
                  const gr_tensor *const *ops) {
  memset(it, 0, sizeof *it);
  it->nops = nops;
  int64_t sh[GR_MAX_DIM], st[GR_ITER_MAX][GR_MAX_DIM];
  for (int d = 0; d < ndim; d++) {
    sh[d] = shape[d];
    for (int k = 0; k < nops; k++) {
      const gr_tensor *t = ops[k];
      int td = d - (ndim - t->ndim);
      st[k][d] = (td >= 0 && t->shape[td] != 1) ? t->stride[td] : 0;
    }
  }
  /* merge dim d into d+1 when, for every operand, stride[d] == stride[d+1] * shape[d+1] */
  int n = 0;
  int64_t msh[GR_MAX_DIM], mst[GR_ITER_MAX][GR_MAX_DIM];
  for (int d = 0; d < ndim; d++) {
    if (sh[d] == 1 && ndim > 1) continue; /* size-1 dims contribute nothing */
    if (n > 0) {
      bool merge = true;
      for (int k = 0; k < nops; k++)
        if (mst[k][n - 1] != st[k][d] * sh[d]) merge = false;
      if (merge) {
        msh[n - 1] *= sh[d];
        for (int k = 0; k < nops; k++) mst[k][n - 1] = st[k][d];
        continue;
      }
    }
    msh[n] = sh[d];
    for (int k = 0; k < nops; k++) mst[k][n] = st[k][d];
    n++;
  }
  if (n == 0) {
    msh[0] = 1;
    for (int k = 0; k < nops; k++) mst[k][0] = 0;
    n = 1;
  }
  it->ndim = n;
  memcpy(it->shape, msh, sizeof msh);
  for (int k = 0; k < nops; k++) memcpy(it->stride[k], mst[k], sizeof mst[k]);
  it->inner = msh[n - 1];
  it->rows = 1;
  for (int d = 0; d < n - 1; d++) it->rows *= msh[d];
}

void gr_iter_row(const gr_iter *it, int64_t r, int64_t *offs) {
  for (int k = 0; k < it->nops; k++) offs[k] = 0;
  for (int d = it->ndim - 2; d >= 0; d--) {
    int64_t i = r % it->shape[d];
    r /= it->shape[d];
    for (int k = 0; k < it->nops; k++) offs[k] += i * it->stride[k][d];
  }
}

void gr_iter_seek(const gr_iter *it, int64_t r, int64_t *idx, int64_t *offs) {
  for (int k = 0; k < it->nops; k++) offs[k] = 0;
  for (int d = it->ndim - 2; d >= 0; d--) {
    idx[d] = r % it->shape[d];
    r /= it->shape[d];
    for (int k = 0; k < it->nops; k++) offs[k] += idx[d] * it->stride[k][d];
  }
}
