/* Files: safetensors, PNG, JPEG, IDX (plain and .gz).
 *
 * Every reader checks sizes and dimensions against what the file really
 * holds and rejects corrupt, truncated or hostile files with GR_EFORMAT and
 * a message naming the file; none over-reads. Writers are atomic: a
 * temporary file in the same folder, fsync, rename. */
#ifndef GANRT_IO_H
#define GANRT_IO_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- safetensors ---------------------------------------------------------- */
typedef struct gr_named_tensor {
  char *name;
  gr_tensor *t;
} gr_named_tensor;

typedef struct gr_meta_entry {
  char *key;
  char *value;
} gr_meta_entry;

typedef struct gr_safetensors {
  int n;
  gr_named_tensor *tensors; /* in file order */
  int nmeta;
  gr_meta_entry *meta;      /* the __metadata__ string map */
} gr_safetensors;

/* Writes F32 and I64 tensors (any layout) and the metadata map. */
gr_status gr_safetensors_save(const char *path, int n, const char *const *names,
                              gr_tensor *const *tensors, int nmeta, const char *const *keys,
                              const char *const *values);
/* Reads F32, I64 (kept as int64), F16 and BF16 (converted to F32), I32/U8 (to I64). */
gr_status gr_safetensors_load(const char *path, gr_safetensors *out);
void gr_safetensors_free(gr_safetensors *st);

/* --- images ----------------------------------------------------------------
 * Loaded as float (C,H,W) in [0,1]; channels: 0 keeps the file's (gray 1,
 * gray+alpha 2, RGB 3, RGBA 4; palette expanded), or 1/2/3/4 to convert
 * (gray from colour by BT.601 luma; alpha dropped, or added opaque). Inside
 * a pool the pool owns *out, as for any function that returns a tensor. */
gr_status gr_png_load(const char *path, int channels, gr_tensor **out);
gr_status gr_jpeg_load(const char *path, int channels, gr_tensor **out);
/* By content (magic bytes), not by name. */
gr_status gr_image_load(const char *path, int channels, gr_tensor **out);
/* x (C,H,W) with C in 1..4, values clamped to [0,1], written 8-bit. */
gr_status gr_png_save(const char *path, const gr_tensor *x);

/* --- IDX (MNIST family), plain or gzip ------------------------------------ */
/* unsigned byte data: float tensor of the file's shape (values 0..255) for
 * images, or int64 with as_int; other IDX types are converted likewise. */
gr_status gr_idx_load(const char *path, bool as_int, gr_tensor **out);

/* Atomic write helper: writes len bytes as path via a temporary beside it
 * (path.tmp.<pid>.<n>), fsync, rename, fsync of the folder. */
gr_status gr_write_atomic(const char *path, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
