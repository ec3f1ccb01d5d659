/* Tensors, storage, pools. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/node.h"
#include "ganrt/tensor.h"

static int64_t g_live_tensors, g_live_bytes;

int64_t gr_live_tensors(void) { return g_live_tensors; }
int64_t gr_live_bytes(void) { return g_live_bytes; }

size_t gr_dtype_size(gr_dtype dt) { return dt == GR_I64 ? 8 : 4; }
const char *gr_dtype_name(gr_dtype dt) { return dt == GR_I64 ? "int64" : "float32"; }

int64_t gr_numel(const gr_tensor *t) {
  int64_t n = 1; /* header_new bounded the product */
  for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
  return n;
}

/* --- storage, with a cache of freed buffers ---------------------------------------
 * A training step allocates the same sizes every iteration. Giving large
 * buffers back to the system and taking them again costs a page fault per
 * 4 KiB touched, which dominated the big elementwise ops, so freed buffers
 * are kept by size and handed out again. Buffers over 64 MiB are not kept:
 * they are one-off (a dataset while it is loaded) and their page faults are
 * small beside the work on them. The cache holds at most GANLUA_CACHE_MB
 * megabytes (default 1024); gr_cache_clear empties it. The
 * runtime's API is used from one thread at a time (kernels parallelise
 * inside), so the cache needs no lock. */

#define CACHE_SLOTS 1024

typedef struct cache_slot {
  size_t size; /* 0: empty slot */
  void **bufs;
  int n, cap;
} cache_slot;

static cache_slot g_cache[CACHE_SLOTS];
static size_t g_cached_bytes, g_cache_limit = (size_t)-1;

static size_t cache_limit(void) {
  if (g_cache_limit == (size_t)-1) {
#ifdef GANLUA_SANITIZE
    long mb = 0; /* let AddressSanitizer see every use after free */
#else
    const char *env = getenv("GANLUA_CACHE_MB");
    long mb = env ? atol(env) : 1024;
#endif
    g_cache_limit = mb > 0 ? (size_t)mb << 20 : 0;
  }
  return g_cache_limit;
}

/* small buffers round to 64 bytes, large ones to pages, so sizes can be shared */
static size_t round_size(size_t nbytes) {
  if (nbytes <= 4096) return nbytes ? (nbytes + 63) / 64 * 64 : 64;
  return (nbytes + 4095) / 4096 * 4096;
}

static cache_slot *cache_find(size_t size, bool create) {
  size_t h = (size / 64 * 0x9E3779B97F4A7C15ull) >> 54; /* 10 bits */
  for (size_t k = 0; k < CACHE_SLOTS; k++) {
    cache_slot *c = &g_cache[(h + k) % CACHE_SLOTS];
    if (c->size == size) return c;
    if (c->size == 0) {
      if (!create) return NULL;
      c->size = size;
      return c;
    }
  }
  return NULL;
}

static void *buffer_take(size_t size) {
  cache_slot *c = cache_find(size, false);
  if (c && c->n > 0) {
    g_cached_bytes -= size;
    return c->bufs[--c->n];
  }
  return aligned_alloc(64, size);
}

#define CACHE_MAX_BUFFER ((size_t)64 << 20)

static void buffer_give(void *p, size_t size) {
  if (size <= CACHE_MAX_BUFFER && g_cached_bytes + size <= cache_limit()) {
    cache_slot *c = cache_find(size, true);
    if (c && c->n == c->cap) {
      int cap = c->cap ? c->cap * 2 : 4;
      void **b = realloc(c->bufs, (size_t)cap * sizeof *b);
      if (b) {
        c->bufs = b;
        c->cap = cap;
      }
    }
    if (c && c->n < c->cap) {
      c->bufs[c->n++] = p;
      g_cached_bytes += size;
      return;
    }
  }
  free(p);
}

void gr_cache_clear(void) {
  for (int k = 0; k < CACHE_SLOTS; k++) {
    cache_slot *c = &g_cache[k];
    while (c->n > 0) free(c->bufs[--c->n]);
  }
  g_cached_bytes = 0;
}

int64_t gr_cached_bytes(void) { return (int64_t)g_cached_bytes; }

static gr_storage *storage_new(size_t nbytes) {
  gr_storage *s = malloc(sizeof *s);
  if (!s) return NULL;
  s->data = buffer_take(round_size(nbytes));
  if (!s->data) {
    gr_cache_clear(); /* maybe the cache holds what the system now lacks */
    s->data = aligned_alloc(64, round_size(nbytes));
  }
  if (!s->data) {
    free(s);
    return NULL;
  }
  s->refs = 1;
  s->nbytes = nbytes;
  g_live_bytes += (int64_t)nbytes;
  return s;
}

static void storage_release(gr_storage *s) {
  if (!s || --s->refs > 0) return;
  g_live_bytes -= (int64_t)s->nbytes;
  buffer_give(s->data, round_size(s->nbytes));
  free(s);
}

/* --- pools --------------------------------------------------------------------- */

typedef struct pool {
  gr_tensor **items;
  int n, cap;
  bool off; /* a level where autorelease does nothing (ops making their outputs) */
} pool;

#define MAX_POOL_DEPTH 64
static _Thread_local pool g_pools[MAX_POOL_DEPTH];
static _Thread_local int g_pool_depth;

static void push_level(bool off) {
  /* Past the depth limit pools merge into the innermost; ownership stays correct. */
  g_pool_depth++;
  if (g_pool_depth <= MAX_POOL_DEPTH) {
    g_pools[g_pool_depth - 1].n = 0;
    g_pools[g_pool_depth - 1].off = off;
  }
}

void gr_pool_push(void) { push_level(false); }
void gr_pool_push_off(void) { push_level(true); }

static pool *current_pool(void) {
  if (g_pool_depth == 0) return NULL;
  int i = g_pool_depth <= MAX_POOL_DEPTH ? g_pool_depth - 1 : MAX_POOL_DEPTH - 1;
  return &g_pools[i];
}

gr_tensor *gr_autorelease(gr_tensor *t) {
  pool *p = current_pool();
  if (!t || !p || p->off) return t;
  if (p->n == p->cap) {
    int cap = p->cap ? p->cap * 2 : 64;
    gr_tensor **items = realloc(p->items, (size_t)cap * sizeof *items);
    if (!items) {
      /* Cannot track it: leak rather than free a tensor the caller is using. */
      return t;
    }
    p->items = items;
    p->cap = cap;
  }
  p->items[p->n++] = t;
  return t;
}

void gr_pool_pop(void) {
  if (g_pool_depth == 0) return;
  if (g_pool_depth <= MAX_POOL_DEPTH) {
    pool *p = &g_pools[g_pool_depth - 1];
    /* release in reverse: later tensors may hold nodes referring to earlier ones */
    while (p->n > 0) gr_release(p->items[--p->n]);
  }
  g_pool_depth--;
}

gr_tensor *gr_pool_pop_keep(gr_tensor *keep) {
  gr_retain(keep);
  gr_pool_pop();
  return gr_autorelease(keep);
}

/* --- making -------------------------------------------------------------------- */

static gr_tensor *header_new(gr_dtype dt, int ndim, const int64_t *shape) {
  if (ndim < 0 || ndim > GR_MAX_DIM)
    return gr_fail_null(GR_EARG, "tensor: rank %d is outside 0..%d", ndim, GR_MAX_DIM);
  gr_tensor *t = calloc(1, sizeof *t);
  if (!t) return gr_fail_null(GR_ENOMEM, "tensor: out of memory");
  t->refs = 1;
  t->dtype = dt;
  t->ndim = ndim;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0) {
      free(t);
      return gr_fail_null(GR_EARG, "tensor: negative size %lld in dim %d",
                          (long long)shape[d], d);
    }
    t->shape[d] = shape[d];
  }
  /* the product of the nonzero sizes, and its bytes, fit in an int64_t,
   * so no product of a shape (gr_numel, strides, sizes in bytes) can
   * overflow, empty shapes included */
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 0) continue;
    if (n > INT64_MAX / 8 / shape[d]) {
      free(t);
      return gr_fail_null(GR_EARG, "tensor: shape %s is too large", gr_dims_str(ndim, shape));
    }
    n *= shape[d];
  }
  g_live_tensors++;
  return t;
}

gr_tensor *gr_empty(gr_dtype dt, int ndim, const int64_t *shape) {
  gr_tensor *t = header_new(dt, ndim, shape);
  if (!t) return NULL;
  int64_t n = 1;
  for (int d = ndim - 1; d >= 0; d--) { /* header_new bounded the product */
    t->stride[d] = n;
    n *= t->shape[d];
  }
  t->storage = storage_new((size_t)n * gr_dtype_size(dt));
  if (!t->storage) {
    gr_release(t);
    return gr_fail_null(GR_ENOMEM, "tensor: out of memory for shape %s (%lld bytes)",
                        gr_dims_str(ndim, shape), (long long)(n * (int64_t)gr_dtype_size(dt)));
  }
  return gr_autorelease(t);
}

gr_tensor *gr_full(gr_dtype dt, int ndim, const int64_t *shape, double value) {
  gr_tensor *t = gr_empty(dt, ndim, shape);
  if (t) gr_fill_(t, value);
  return t;
}

gr_tensor *gr_zeros(gr_dtype dt, int ndim, const int64_t *shape) {
  gr_tensor *t = gr_empty(dt, ndim, shape);
  if (t) memset(t->storage->data, 0, t->storage->nbytes);
  return t;
}

gr_tensor *gr_scalar(double v) { return gr_full(GR_F32, 0, NULL, v); }
gr_tensor *gr_empty_like(const gr_tensor *t) { return gr_empty(t->dtype, t->ndim, t->shape); }
gr_tensor *gr_zeros_like(const gr_tensor *t) { return gr_zeros(t->dtype, t->ndim, t->shape); }

gr_tensor *gr_from_f32(const float *src, int ndim, const int64_t *shape) {
  gr_tensor *t = gr_empty(GR_F32, ndim, shape);
  if (t) memcpy(t->storage->data, src, t->storage->nbytes);
  return t;
}

gr_tensor *gr_from_i64(const int64_t *src, int ndim, const int64_t *shape) {
  gr_tensor *t = gr_empty(GR_I64, ndim, shape);
  if (t) memcpy(t->storage->data, src, t->storage->nbytes);
  return t;
}

gr_tensor *gr_alias(const gr_tensor *src, int ndim, const int64_t *shape, const int64_t *stride,
                    int64_t offset) {
  gr_tensor *t = header_new(src->dtype, ndim, shape);
  if (!t) return NULL;
  for (int d = 0; d < ndim; d++) t->stride[d] = stride[d];
  t->offset = offset;
  t->storage = src->storage;
  t->storage->refs++;
  return gr_autorelease(t);
}

gr_tensor *gr_retain(gr_tensor *t) {
  if (t) t->refs++;
  return t;
}

void gr_release(gr_tensor *t) {
  if (!t || --t->refs > 0) return;
  storage_release(t->storage);
  gr_node_release(t->grad_fn);
  g_live_tensors--;
  free(t);
}

/* --- reading ------------------------------------------------------------------- */

bool gr_is_contiguous(const gr_tensor *t) {
  int64_t expect = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] != 1 && t->stride[d] != expect) return false;
    expect *= t->shape[d];
  }
  return true;
}

bool gr_same_shape(const gr_tensor *a, const gr_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return false;
  return true;
}

float *gr_f32(const gr_tensor *t) { return (float *)t->storage->data + t->offset; }
int64_t *gr_i64(const gr_tensor *t) { return (int64_t *)t->storage->data + t->offset; }

int gr_wrap_dim(int dim, int ndim) {
  int n = ndim == 0 ? 1 : ndim;
  if (dim < -n || dim >= n) return -1;
  return dim < 0 ? dim + n : dim;
}

const char *gr_dims_str(int ndim, const int64_t *shape) {
  static _Thread_local char ring[8][128];
  static _Thread_local int next;
  char *buf = ring[next++ & 7];
  int len = snprintf(buf, 128, "[");
  for (int d = 0; d < ndim && len < 120; d++)
    len += snprintf(buf + len, 128 - (size_t)len, d ? ", %lld" : "%lld", (long long)shape[d]);
  snprintf(buf + len, 128 - (size_t)len, "]");
  return buf;
}

const char *gr_shape_str(const gr_tensor *t) {
  return t ? gr_dims_str(t->ndim, t->shape) : "(null)";
}

/* offset of logical flat index i */
static int64_t flat_offset(const gr_tensor *t, int64_t i) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    int64_t s = t->shape[d];
    off += (i % s) * t->stride[d];
    i /= s;
  }
  return off;
}

double gr_get_flat(const gr_tensor *t, int64_t i) {
  int64_t off = flat_offset(t, i);
  if (t->dtype == GR_I64) return (double)((int64_t *)t->storage->data)[off];
  return ((float *)t->storage->data)[off];
}

void gr_read_all(const gr_tensor *t, double *dst) {
  int64_t n = gr_numel(t);
  for (int64_t i = 0; i < n; i++) dst[i] = gr_get_flat(t, i);
}

/* --- in place ------------------------------------------------------------------ */

gr_status gr_fill_(gr_tensor *t, double v) {
  int64_t n = gr_numel(t);
  if (gr_is_contiguous(t)) {
    if (t->dtype == GR_F32) {
      float *p = gr_f32(t), f = (float)v;
      for (int64_t i = 0; i < n; i++) p[i] = f;
    } else {
      int64_t *p = gr_i64(t), k = (int64_t)v;
      for (int64_t i = 0; i < n; i++) p[i] = k;
    }
    return GR_OK;
  }
  for (int64_t i = 0; i < n; i++) {
    int64_t off = flat_offset(t, i);
    if (t->dtype == GR_F32) ((float *)t->storage->data)[off] = (float)v;
    else ((int64_t *)t->storage->data)[off] = (int64_t)v;
  }
  return GR_OK;
}

gr_status gr_copy_(gr_tensor *dst, const gr_tensor *src) {
  int64_t n = gr_numel(dst);
  if (n != gr_numel(src))
    return gr_fail(GR_EARG, "copy_: destination %s and source %s differ in size",
                   gr_shape_str(dst), gr_shape_str(src));
  if (dst->dtype == src->dtype && gr_is_contiguous(dst) && gr_is_contiguous(src)) {
    memmove((char *)dst->storage->data + dst->offset * (int64_t)gr_dtype_size(dst->dtype),
            (char *)src->storage->data + src->offset * (int64_t)gr_dtype_size(src->dtype),
            (size_t)n * gr_dtype_size(dst->dtype));
    return GR_OK;
  }
  for (int64_t i = 0; i < n; i++) {
    double v = gr_get_flat(src, i);
    int64_t off = flat_offset(dst, i);
    if (dst->dtype == GR_F32) ((float *)dst->storage->data)[off] = (float)v;
    else ((int64_t *)dst->storage->data)[off] = (int64_t)v;
  }
  return GR_OK;
}

gr_status gr_set_requires_grad(gr_tensor *t, bool on) {
  if (t->grad_fn)
    return gr_fail(GR_EARG, "requires_grad: only a leaf tensor can be marked; this one was made by %s",
                   gr_grad_fn_name(t));
  if (on && t->dtype != GR_F32)
    return gr_fail(GR_EARG, "requires_grad: only float tensors can require gradients, not %s",
                   gr_dtype_name(t->dtype));
  t->requires_grad = on;
  return GR_OK;
}
