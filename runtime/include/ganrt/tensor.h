/* Tensors: strided views over refcounted storage.
 *
 * Two dtypes: float32 for values, int64 for labels and indices. Rank 0 to
 * GR_MAX_DIM. Strides are in elements and may be 0 (expand) or negative
 * (flip). A tensor is refcounted; so is its storage, shared by views.
 *
 * Ownership: a function that returns a tensor gives the caller one
 * reference, except inside a pool (see gr_pool_push), where the pool holds it
 * and the caller borrows it until the pool is popped.
 */
#ifndef GANRT_TENSOR_H
#define GANRT_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GR_MAX_DIM 6

typedef enum gr_dtype { GR_F32 = 0, GR_I64 = 1 } gr_dtype;

typedef struct gr_storage {
  int refs;
  size_t nbytes;
  void *data; /* 64-byte aligned */
} gr_storage;

typedef struct gr_node gr_node;

typedef struct gr_tensor {
  int refs;
  gr_dtype dtype;
  int ndim;
  int64_t shape[GR_MAX_DIM];
  int64_t stride[GR_MAX_DIM]; /* in elements */
  int64_t offset;             /* in elements, into storage */
  gr_storage *storage;
  bool requires_grad; /* a leaf the user marked, or the result of a recorded op */
  gr_node *grad_fn;   /* the node that made it; NULL for leaves (owned reference) */
  int out_index;      /* which output of grad_fn */
} gr_tensor;

/* --- making and freeing -------------------------------------------------- */

/* Uninitialised contiguous tensor. shape may be NULL when ndim is 0. */
gr_tensor *gr_empty(gr_dtype dt, int ndim, const int64_t *shape);
gr_tensor *gr_zeros(gr_dtype dt, int ndim, const int64_t *shape);
gr_tensor *gr_full(gr_dtype dt, int ndim, const int64_t *shape, double value);
/* A 0-d float tensor holding v. */
gr_tensor *gr_scalar(double v);
/* A contiguous tensor of the same dtype and shape as t (uninitialised / zeros). */
gr_tensor *gr_empty_like(const gr_tensor *t);
gr_tensor *gr_zeros_like(const gr_tensor *t);
/* Copies n floats (or int64s) from src into a new contiguous tensor. */
gr_tensor *gr_from_f32(const float *src, int ndim, const int64_t *shape);
gr_tensor *gr_from_i64(const int64_t *src, int ndim, const int64_t *shape);
/* A new tensor header over t's storage with the given layout (no checks of
 * bounds beyond the storage size; used by view ops). Not recorded. */
gr_tensor *gr_alias(const gr_tensor *t, int ndim, const int64_t *shape,
                    const int64_t *stride, int64_t offset);

gr_tensor *gr_retain(gr_tensor *t); /* returns t; NULL-safe */
void gr_release(gr_tensor *t);      /* NULL-safe */

/* --- pools: scoped ownership for expressions ------------------------------
 * While a pool is pushed, every tensor a function returns belongs to the
 * pool; popping it releases them all. This lets gradient rules and composite
 * ops read as expressions: gr_mul(g, gr_sub(gr_scalar(1), gr_mul(y, y))).
 * gr_pool_pop_keep pops the pool but hands `keep` to the caller (or to the
 * next pool out). Pools nest; they are per thread. */
void gr_pool_push(void);
void gr_pool_pop(void);
gr_tensor *gr_pool_pop_keep(gr_tensor *keep);
/* A level where nothing is pooled: what functions return is owned by the
 * caller again (used by ops while they make their outputs). */
void gr_pool_push_off(void);
/* Hands an owned reference to the current pool, if any; returns t. */
gr_tensor *gr_autorelease(gr_tensor *t);

/* --- reading --------------------------------------------------------------- */

int64_t gr_numel(const gr_tensor *t);
size_t gr_dtype_size(gr_dtype dt);
const char *gr_dtype_name(gr_dtype dt);
bool gr_is_contiguous(const gr_tensor *t);
bool gr_same_shape(const gr_tensor *a, const gr_tensor *b);
/* Pointer to the first element (storage data + offset). */
float *gr_f32(const gr_tensor *t);
int64_t *gr_i64(const gr_tensor *t);
/* Normalises a possibly negative dim against ndim; -1 if out of range. */
int gr_wrap_dim(int dim, int ndim);
/* "[2, 3, 4]" in a small per-thread ring of buffers (valid for a few calls). */
const char *gr_shape_str(const gr_tensor *t);
const char *gr_dims_str(int ndim, const int64_t *shape);
/* Element at a flat index in logical (row-major) order, as double. */
double gr_get_flat(const gr_tensor *t, int64_t i);
/* Writes all elements in logical order into dst (numel doubles). */
void gr_read_all(const gr_tensor *t, double *dst);

/* --- in place (never recorded) ----------------------------------------------
 * For optimizers, buffers and initialisation. The caller vouches that no
 * recorded graph still needs the old values. */
gr_status gr_fill_(gr_tensor *t, double v);
gr_status gr_copy_(gr_tensor *dst, const gr_tensor *src); /* same numel; any layout; dtype converted */
gr_status gr_set_requires_grad(gr_tensor *t, bool on);     /* leaves only */

#ifdef __cplusplus
}
#endif
#endif
