/* safetensors: an 8-byte little-endian header length N, N bytes of JSON
 * ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {string: string}}), then the raw little-endian data, with
 * offsets counted from the start of the data section.
 *
 * Loading never trusts the header: every number is checked against the real
 * file size before anything is allocated or read, and, as the format
 * requires, the entries' byte ranges taken in order of offset must tile the
 * data section exactly: no overlap, no gap, no trailing byte. So the tensors
 * together never hold more bytes than the file (at most 8 times as many once
 * decoded, for U8 read as int64), however the header is crafted. */
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "io_internal.h"

#define ST_MAX_HEADER ((uint64_t)100 << 20)
/* JSON numbers are doubles: below 2^53 every integer is exact, and any
 * integer text at or above it rounds to 2^53 or more, so is refused */
#define ST_MAX_EXACT 9007199254740992.0
#define ST_CHUNK ((size_t)1 << 20)

typedef enum st_kind { ST_F32, ST_I64, ST_F16, ST_BF16, ST_I32, ST_U8, ST_NKINDS } st_kind;

static const struct {
  const char *name;
  size_t size;
  gr_dtype out;
} st_dtypes[ST_NKINDS] = {
    [ST_F32] = {"F32", 4, GR_F32}, [ST_I64] = {"I64", 8, GR_I64}, [ST_F16] = {"F16", 2, GR_F32},
    [ST_BF16] = {"BF16", 2, GR_F32}, [ST_I32] = {"I32", 4, GR_I64}, [ST_U8] = {"U8", 1, GR_I64},
};

/* One entry's bytes in the data section, and its index in the header. */
typedef struct st_range {
  uint64_t begin, end;
  int index;
} st_range;

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first name that occurs twice, or NULL. Sorts a copy: O(n log n) even
 * for hostile headers with a million entries. */
static const char *first_duplicate(int n, const char *const *names, bool *oom) {
  *oom = false;
  if (n < 2) return NULL;
  const char **s = malloc((size_t)n * sizeof *s);
  if (!s) {
    *oom = true;
    return NULL;
  }
  memcpy(s, names, (size_t)n * sizeof *s);
  qsort(s, (size_t)n, sizeof *s, cmp_str);
  const char *dup = NULL;
  for (int i = 1; i < n && !dup; i++)
    if (strcmp(s[i - 1], s[i]) == 0) dup = s[i];
  free(s);
  return dup;
}

static int cmp_range(const void *a, const void *b) {
  const st_range *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

/* ============================== saving ===================================== */

static cJSON *json_int(int64_t v) {
  /* raw text keeps integers exact; cJSON would print big ones as %g */
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", (long long)v);
  return cJSON_CreateRaw(buf);
}

static void swap_bytes(unsigned char *p, size_t size) {
  for (size_t i = 0; i < size / 2; i++) {
    unsigned char c = p[i];
    p[i] = p[size - 1 - i];
    p[size - 1 - i] = c;
  }
}

/* Appends t's elements in row-major order, little-endian, whatever its layout. */
static gr_status write_tensor_data(gr_atomic_file *w, const gr_tensor *t) {
  size_t es = gr_dtype_size(t->dtype);
  int64_t n = gr_numel(t);
  if (n == 0) return GR_OK;
  const unsigned char *base = (const unsigned char *)t->storage->data + t->offset * (int64_t)es;
  bool le = gr_host_is_le();
  if (gr_is_contiguous(t) && le) return gr_atomic_write(w, base, (size_t)n * es);
  unsigned char *buf = malloc(ST_CHUNK);
  if (!buf) {
    gr_atomic_abort(w);
    return gr_fail(GR_ENOMEM, "%s: %s: out of memory", w->who, w->path);
  }
  /* odometer over the logical index; off follows it in elements */
  int64_t idx[GR_MAX_DIM] = {0}, off = 0;
  size_t fill = 0;
  gr_status s = GR_OK;
  for (int64_t i = 0; i < n && s == GR_OK; i++) {
    memcpy(buf + fill, base + off * (int64_t)es, es);
    if (!le) swap_bytes(buf + fill, es);
    fill += es;
    if (fill == ST_CHUNK || i == n - 1) {
      s = gr_atomic_write(w, buf, fill);
      fill = 0;
    }
    for (int d = t->ndim - 1; d >= 0; d--) {
      off += t->stride[d];
      if (++idx[d] < t->shape[d]) break;
      off -= t->stride[d] * t->shape[d];
      idx[d] = 0;
    }
  }
  free(buf);
  return s;
}

/* The JSON header, padded with spaces so the data starts 8-byte aligned. */
static char *build_header(const char *who, const char *path, int n, const char *const *names,
                          gr_tensor *const *tensors, int nmeta, const char *const *keys,
                          const char *const *values, size_t *len) {
  cJSON *root = cJSON_CreateObject();
  bool ok = root != NULL;
  if (ok && nmeta > 0) {
    cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
    ok = m != NULL;
    for (int i = 0; ok && i < nmeta; i++)
      ok = cJSON_AddStringToObject(m, keys[i], values[i]) != NULL;
  }
  int64_t at = 0;
  for (int i = 0; ok && i < n; i++) {
    const gr_tensor *t = tensors[i];
    int64_t nbytes = gr_numel(t) * (int64_t)gr_dtype_size(t->dtype);
    cJSON *e = cJSON_AddObjectToObject(root, names[i]);
    cJSON *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
    cJSON *offs = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
    ok = offs && cJSON_AddStringToObject(e, "dtype", t->dtype == GR_I64 ? "I64" : "F32");
    for (int d = 0; ok && d < t->ndim; d++) ok = cJSON_AddItemToArray(shape, json_int(t->shape[d]));
    ok = ok && cJSON_AddItemToArray(offs, json_int(at)) &&
         cJSON_AddItemToArray(offs, json_int(at + nbytes));
    at += nbytes;
  }
  char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!text) return gr_fail_null(GR_ENOMEM, "%s: %s: out of memory for the header", who, path);
  size_t tl = strlen(text), padded = (tl + 7) / 8 * 8;
  char *h = malloc(8 + padded);
  if (!h) {
    cJSON_free(text);
    return gr_fail_null(GR_ENOMEM, "%s: %s: out of memory for the header", who, path);
  }
  for (int i = 0; i < 8; i++) h[i] = (char)((uint64_t)padded >> (8 * i) & 0xff);
  memcpy(h + 8, text, tl);
  memset(h + 8 + tl, ' ', padded - tl);
  cJSON_free(text);
  *len = 8 + padded;
  return h;
}

gr_status gr_safetensors_save(const char *path, int n, const char *const *names,
                              gr_tensor *const *tensors, int nmeta, const char *const *keys,
                              const char *const *values) {
  const char *who = "safetensors_save";
  if (!path) return gr_fail(GR_EARG, "%s: path is NULL", who);
  if (n < 0 || nmeta < 0)
    return gr_fail(GR_EARG, "%s: %s: counts must be >= 0 (got %d tensors, %d metadata)", who, path,
                   n, nmeta);
  if (n > 0 && (!names || !tensors))
    return gr_fail(GR_EARG, "%s: %s: names or tensors is NULL for %d tensors", who, path, n);
  if (nmeta > 0 && (!keys || !values))
    return gr_fail(GR_EARG, "%s: %s: keys or values is NULL for %d metadata entries", who, path,
                   nmeta);
  for (int i = 0; i < n; i++) {
    if (!names[i]) return gr_fail(GR_EARG, "%s: %s: name %d is NULL", who, path, i);
    if (!tensors[i]) return gr_fail(GR_EARG, "%s: %s: tensor \"%s\" is NULL", who, path, names[i]);
    if (strcmp(names[i], "__metadata__") == 0)
      return gr_fail(GR_EARG, "%s: %s: \"__metadata__\" is reserved, not a tensor name", who, path);
  }
  for (int i = 0; i < nmeta; i++)
    if (!keys[i] || !values[i])
      return gr_fail(GR_EARG, "%s: %s: metadata entry %d has a NULL key or value", who, path, i);
  bool oom;
  const char *dup = first_duplicate(n, names, &oom);
  if (!oom && dup) return gr_fail(GR_EARG, "%s: %s: duplicate tensor name \"%s\"", who, path, dup);
  if (!oom && (dup = first_duplicate(nmeta, keys, &oom)))
    return gr_fail(GR_EARG, "%s: %s: duplicate metadata key \"%s\"", who, path, dup);
  if (oom) return gr_fail(GR_ENOMEM, "%s: %s: out of memory", who, path);

  size_t hlen = 0;
  char *header = build_header(who, path, n, names, tensors, nmeta, keys, values, &hlen);
  if (!header) return gr_errcode();
  gr_atomic_file w;
  gr_status s = gr_atomic_begin(&w, path, who);
  if (s == GR_OK) s = gr_atomic_write(&w, header, hlen);
  free(header);
  for (int i = 0; s == GR_OK && i < n; i++) s = write_tensor_data(&w, tensors[i]);
  /* every failing step above has already removed the temporary */
  return s == GR_OK ? gr_atomic_commit(&w) : s;
}

/* ============================== loading ==================================== */

typedef struct st_entry {
  const char *name; /* borrowed from the parsed JSON */
  st_kind kind;
  int ndim;
  int64_t shape[GR_MAX_DIM];
  uint64_t begin, end;
} st_entry;

/* A JSON number that is an exact non-negative integer. */
static bool json_uint(const cJSON *v, uint64_t *out) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  if (!(d >= 0) || d >= ST_MAX_EXACT || d != floor(d)) return false;
  *out = (uint64_t)d;
  return true;
}

#define ST_FAIL(...) (gr_fail(GR_EFORMAT, __VA_ARGS__), false)

/* Checks one entry of the header against the data section size. */
static bool parse_entry(const char *path, const cJSON *item, uint64_t data_len, st_entry *e) {
  const char *who = "safetensors_load";
  const char *nm = item->string;
  e->name = nm;
  if (!cJSON_IsObject(item))
    return ST_FAIL("%s: %s: tensor \"%.200s\": entry is not a JSON object", who, path, nm);
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
  const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
  if (!cJSON_IsString(dt))
    return ST_FAIL("%s: %s: tensor \"%.200s\": \"dtype\" is missing or not a string", who, path,
                   nm);
  int kind = -1;
  for (int k = 0; k < ST_NKINDS; k++)
    if (strcmp(dt->valuestring, st_dtypes[k].name) == 0) kind = k;
  if (kind < 0)
    return ST_FAIL("%s: %s: tensor \"%.200s\": dtype \"%.32s\" is not supported "
                   "(F32, I64, F16, BF16, I32 and U8 are)", who, path, nm, dt->valuestring);
  e->kind = (st_kind)kind;
  if (!cJSON_IsArray(shape))
    return ST_FAIL("%s: %s: tensor \"%.200s\": \"shape\" is missing or not an array", who, path,
                   nm);
  int nd = cJSON_GetArraySize(shape);
  if (nd > GR_MAX_DIM)
    return ST_FAIL("%s: %s: tensor \"%.200s\": rank %d exceeds the limit of %d", who, path, nm, nd,
                   GR_MAX_DIM);
  e->ndim = nd;
  uint64_t numel = 1;
  bool too_big = false;
  int d = 0;
  const cJSON *v;
  cJSON_ArrayForEach(v, shape) {
    uint64_t dim;
    if (!json_uint(v, &dim))
      return ST_FAIL("%s: %s: tensor \"%.200s\": shape entry %d is not a non-negative integer", who,
                     path, nm, d);
    e->shape[d++] = (int64_t)dim;
    /* the product is checked as it grows so that it never wraps */
    if (dim && numel > (uint64_t)INT64_MAX / 8 / dim) too_big = true;
    else numel *= dim;
  }
  if (too_big) {
    for (int k = 0; k < nd; k++)
      if (e->shape[k] == 0) too_big = false; /* a zero dim makes it empty after all */
    if (too_big)
      return ST_FAIL("%s: %s: tensor \"%.200s\": shape %s has too many elements", who, path, nm,
                     gr_dims_str(nd, e->shape));
    numel = 0;
  }
  if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
      !json_uint(cJSON_GetArrayItem(offs, 0), &e->begin) ||
      !json_uint(cJSON_GetArrayItem(offs, 1), &e->end))
    return ST_FAIL("%s: %s: tensor \"%.200s\": \"data_offsets\" must be [begin, end] with "
                   "non-negative integers", who, path, nm);
  if (e->end < e->begin)
    return ST_FAIL("%s: %s: tensor \"%.200s\": data_offsets [%llu, %llu] end before they begin",
                   who, path, nm, (unsigned long long)e->begin, (unsigned long long)e->end);
  if (e->end > data_len)
    return ST_FAIL("%s: %s: tensor \"%.200s\": data_offsets [%llu, %llu] run past the end of the "
                   "data (%llu bytes): the file is truncated or corrupt", who, path, nm,
                   (unsigned long long)e->begin, (unsigned long long)e->end,
                   (unsigned long long)data_len);
  uint64_t need = numel * st_dtypes[kind].size;
  if (e->end - e->begin != need)
    return ST_FAIL("%s: %s: tensor \"%.200s\": data_offsets [%llu, %llu] hold %llu bytes but %s "
                   "%s needs %llu", who, path, nm, (unsigned long long)e->begin,
                   (unsigned long long)e->end, (unsigned long long)(e->end - e->begin),
                   st_dtypes[kind].name, gr_dims_str(nd, e->shape), (unsigned long long)need);
  return true;
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  float f;
  if (exp == 0x1f) bits = sign | 0x7f800000u | man << 13; /* inf, nan */
  else if (exp) bits = sign | (exp + 112) << 23 | man << 13; /* rebias 15 -> 127 */
  else {
    f = (float)man * 0x1p-24f; /* zero and subnormals: man * 2^-24, exact in float */
    memcpy(&bits, &f, 4);
    bits |= sign;
  }
  memcpy(&f, &bits, 4);
  return f;
}

/* Converts n little-endian elements of kind from src into dst (float or int64). */
static void convert_chunk(void *dst, const unsigned char *src, size_t n, st_kind kind) {
  float *fd = dst;
  int64_t *id = dst;
  for (size_t i = 0; i < n; i++) {
    const unsigned char *p = src + i * st_dtypes[kind].size;
    switch (kind) {
    case ST_F32: {
      uint32_t u =
          (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
      memcpy(&fd[i], &u, 4);
      break;
    }
    case ST_I64: id[i] = (int64_t)gr_le64(p); break;
    case ST_F16: fd[i] = half_to_float((uint16_t)(p[0] | p[1] << 8)); break;
    case ST_BF16: {
      uint32_t u = ((uint32_t)p[0] | (uint32_t)p[1] << 8) << 16; /* bf16 is the top half of f32 */
      memcpy(&fd[i], &u, 4);
      break;
    }
    case ST_I32: {
      uint32_t u =
          (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
      id[i] = (int32_t)u;
      break;
    }
    case ST_U8: id[i] = p[0]; break;
    default: break;
    }
  }
}

/* Reads one entry's bytes into the new tensor t. */
static gr_status read_entry(const char *path, FILE *fp, uint64_t data_start, const st_entry *e,
                            gr_tensor *t) {
  const char *who = "safetensors_load";
  uint64_t nbytes = e->end - e->begin;
  if (nbytes == 0) return GR_OK;
  if (fseeko(fp, (off_t)(data_start + e->begin), SEEK_SET) != 0)
    return gr_fail(GR_EIO, "%s: %s: tensor \"%.200s\": seek failed: %s", who, path, e->name,
                   strerror(errno));
  size_t size = st_dtypes[e->kind].size, osize = gr_dtype_size(t->dtype);
  unsigned char *dst = t->storage->data;
  if ((e->kind == ST_F32 || e->kind == ST_I64) && gr_host_is_le()) {
    if (fread(dst, 1, nbytes, fp) != nbytes)
      return gr_fail(GR_EFORMAT, "%s: %s: tensor \"%.200s\": the file ended early (did it change "
                     "while being read?)", who, path, e->name);
    return GR_OK;
  }
  unsigned char *buf = malloc(ST_CHUNK);
  if (!buf) return gr_fail(GR_ENOMEM, "%s: %s: out of memory", who, path);
  size_t per = ST_CHUNK / size;
  uint64_t left = nbytes / size;
  while (left > 0) {
    size_t k = left < per ? (size_t)left : per;
    if (fread(buf, size, k, fp) != k) {
      free(buf);
      return gr_fail(GR_EFORMAT, "%s: %s: tensor \"%.200s\": the file ended early (did it change "
                     "while being read?)", who, path, e->name);
    }
    convert_chunk(dst, buf, k, e->kind);
    dst += k * osize;
    left -= k;
  }
  free(buf);
  return GR_OK;
}

/* Everything after the file is open and sized: parse, check, read. */
/* The entries' ranges, sorted by offset, must follow each other without a
 * gap or an overlap from 0 to the end of the data section. */
static gr_status check_tiling(const char *path, int count, const st_entry *e, uint64_t data_len) {
  const char *who = "safetensors_load";
  st_range *r = count ? malloc((size_t)count * sizeof *r) : NULL;
  if (count && !r) return gr_fail(GR_ENOMEM, "%s: %s: out of memory", who, path);
  for (int i = 0; i < count; i++) r[i] = (st_range){e[i].begin, e[i].end, i};
  if (count > 1) qsort(r, (size_t)count, sizeof *r, cmp_range);
  uint64_t at = 0;
  gr_status s = GR_OK;
  for (int i = 0; i < count && s == GR_OK; i++) {
    const char *nm = e[r[i].index].name;
    if (r[i].begin > at)
      s = gr_fail(GR_EFORMAT, "%s: %s: tensor \"%.200s\": data_offsets [%llu, %llu] leave a gap "
                  "of %llu bytes before them: the header does not match the data", who, path, nm,
                  (unsigned long long)r[i].begin, (unsigned long long)r[i].end,
                  (unsigned long long)(r[i].begin - at));
    else if (r[i].begin < at)
      s = gr_fail(GR_EFORMAT, "%s: %s: tensor \"%.200s\": data_offsets [%llu, %llu] overlap "
                  "another tensor's bytes (which end at %llu)", who, path, nm,
                  (unsigned long long)r[i].begin, (unsigned long long)r[i].end,
                  (unsigned long long)at);
    at = r[i].end;
  }
  if (s == GR_OK && at != data_len)
    s = gr_fail(GR_EFORMAT, "%s: %s: the tensors hold %llu bytes of data but %llu follow the "
                "header: trailing bytes, or a wrong header length", who, path,
                (unsigned long long)at, (unsigned long long)data_len);
  free(r);
  return s;
}

static gr_status load_open(const char *path, FILE *fp, uint64_t fsize, gr_safetensors *out) {
  const char *who = "safetensors_load";
  unsigned char lenbuf[8];
  if (fsize < 8)
    return gr_fail(GR_EFORMAT, "%s: %s: the file is %llu bytes, too short for the 8-byte header "
                   "length", who, path, (unsigned long long)fsize);
  if (fread(lenbuf, 1, 8, fp) != 8)
    return gr_fail(GR_EIO, "%s: %s: cannot read the header length", who, path);
  uint64_t hlen = gr_le64(lenbuf);
  if (hlen > fsize - 8)
    return gr_fail(GR_EFORMAT, "%s: %s: header length %llu is larger than the %llu bytes that "
                   "follow it: not a safetensors file, or truncated", who, path,
                   (unsigned long long)hlen, (unsigned long long)(fsize - 8));
  if (hlen > ST_MAX_HEADER)
    return gr_fail(GR_EFORMAT, "%s: %s: header length %llu exceeds the limit of %llu bytes", who,
                   path, (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
  if (hlen < 2)
    return gr_fail(GR_EFORMAT, "%s: %s: header length %llu is too small for a JSON object", who,
                   path, (unsigned long long)hlen);
  char *text = malloc(hlen);
  if (!text) return gr_fail(GR_ENOMEM, "%s: %s: out of memory for the header", who, path);
  if (fread(text, 1, hlen, fp) != hlen) {
    free(text);
    return gr_fail(GR_EIO, "%s: %s: cannot read the %llu-byte header", who, path,
                   (unsigned long long)hlen);
  }
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, hlen, &end, 0);
  gr_status s = GR_OK;
  if (!root) {
    size_t at = end && end >= text && end <= text + hlen ? (size_t)(end - text) : 0;
    s = gr_fail(GR_EFORMAT, "%s: %s: the header is not valid JSON (error near byte %zu of %llu)",
                who, path, at, (unsigned long long)hlen);
  } else {
    /* only padding may follow the JSON value */
    for (const char *p = end; p < text + hlen; p++)
      if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
        s = gr_fail(GR_EFORMAT, "%s: %s: the header has bytes after its JSON value (at byte %zu)",
                    who, path, (size_t)(p - text));
        break;
      }
    if (s == GR_OK && !cJSON_IsObject(root))
      s = gr_fail(GR_EFORMAT, "%s: %s: the header is JSON but not an object", who, path);
  }

  uint64_t data_start = 8 + hlen, data_len = fsize - data_start;
  int count = 0, nmeta_obj = 0;
  const cJSON *item, *meta = NULL;
  if (s == GR_OK) {
    cJSON_ArrayForEach(item, root) {
      if (strcmp(item->string, "__metadata__") == 0) {
        meta = item;
        nmeta_obj++;
      } else {
        count++;
      }
    }
    if (nmeta_obj > 1) s = gr_fail(GR_EFORMAT, "%s: %s: \"__metadata__\" appears twice", who, path);
  }
  st_entry *entries = NULL;
  const char **names = NULL;
  if (s == GR_OK && count > 0) {
    entries = calloc((size_t)count, sizeof *entries);
    names = calloc((size_t)count, sizeof *names);
    if (!entries || !names) s = gr_fail(GR_ENOMEM, "%s: %s: out of memory", who, path);
  }
  if (s == GR_OK) {
    int i = 0;
    cJSON_ArrayForEach(item, root) {
      if (item == meta) continue;
      if (!parse_entry(path, item, data_len, &entries[i])) {
        s = GR_EFORMAT;
        break;
      }
      names[i] = entries[i].name;
      i++;
    }
  }
  if (s == GR_OK) {
    bool oom;
    const char *dup = first_duplicate(count, names, &oom);
    if (oom) s = gr_fail(GR_ENOMEM, "%s: %s: out of memory", who, path);
    else if (dup)
      s = gr_fail(GR_EFORMAT, "%s: %s: duplicate tensor name \"%.200s\"", who, path, dup);
  }
  /* metadata: an object of strings with distinct keys */
  if (s == GR_OK && meta) {
    if (!cJSON_IsObject(meta)) {
      s = gr_fail(GR_EFORMAT, "%s: %s: \"__metadata__\" is not a JSON object", who, path);
    } else {
      int nm = cJSON_GetArraySize(meta);
      out->meta = nm ? calloc((size_t)nm, sizeof *out->meta) : NULL;
      const char **keys = nm ? calloc((size_t)nm, sizeof *keys) : NULL;
      if (nm && (!out->meta || !keys)) s = gr_fail(GR_ENOMEM, "%s: %s: out of memory", who, path);
      cJSON_ArrayForEach(item, meta) {
        if (s != GR_OK) break;
        if (!cJSON_IsString(item)) {
          s = gr_fail(GR_EFORMAT, "%s: %s: metadata \"%.200s\": the value is not a string", who,
                      path, item->string);
          break;
        }
        gr_meta_entry *m = &out->meta[out->nmeta];
        m->key = strdup(item->string);
        m->value = strdup(item->valuestring);
        keys[out->nmeta++] = item->string;
        if (!m->key || !m->value) s = gr_fail(GR_ENOMEM, "%s: %s: out of memory", who, path);
      }
      bool oom = false;
      const char *dup = s == GR_OK ? first_duplicate(out->nmeta, keys, &oom) : NULL;
      if (s == GR_OK && oom) s = gr_fail(GR_ENOMEM, "%s: %s: out of memory", who, path);
      else if (dup)
        s = gr_fail(GR_EFORMAT, "%s: %s: duplicate metadata key \"%.200s\"", who, path, dup);
      free(keys);
    }
  }
  if (s == GR_OK) s = check_tiling(path, count, entries, data_len);
  /* only now, with every entry proven to fit in the file, allocate and read */
  if (s == GR_OK && count > 0) {
    out->tensors = calloc((size_t)count, sizeof *out->tensors);
    if (!out->tensors) s = gr_fail(GR_ENOMEM, "%s: %s: out of memory", who, path);
  }
  for (int i = 0; s == GR_OK && i < count; i++) {
    const st_entry *e = &entries[i];
    gr_named_tensor *nt = &out->tensors[out->n++];
    nt->name = strdup(e->name);
    /* the struct owns its tensors, whatever pool is active */
    gr_pool_push_off();
    nt->t = gr_empty(st_dtypes[e->kind].out, e->ndim, e->shape);
    gr_pool_pop();
    if (!nt->name || !nt->t) {
      s = gr_fail(GR_ENOMEM, "%s: %s: tensor \"%.200s\": out of memory for %s %s", who, path,
                  e->name, st_dtypes[e->kind].name, gr_dims_str(e->ndim, e->shape));
      break;
    }
    s = read_entry(path, fp, data_start, e, nt->t);
  }
  free(entries);
  free(names);
  cJSON_Delete(root);
  free(text);
  return s;
}

gr_status gr_safetensors_load(const char *path, gr_safetensors *out) {
  const char *who = "safetensors_load";
  if (!out) return gr_fail(GR_EARG, "%s: out is NULL", who);
  memset(out, 0, sizeof *out);
  if (!path) return gr_fail(GR_EARG, "%s: path is NULL", who);
  FILE *fp = gr_io_fopen_read(who, path);
  if (!fp) return gr_errcode();
  struct stat sb;
  gr_status s;
  if (fstat(fileno(fp), &sb) != 0)
    s = gr_fail(GR_EIO, "%s: %s: cannot stat: %s", who, path, strerror(errno));
  else s = load_open(path, fp, (uint64_t)sb.st_size, out);
  fclose(fp);
  if (s != GR_OK) gr_safetensors_free(out);
  return s;
}

void gr_safetensors_free(gr_safetensors *st) {
  if (!st) return;
  for (int i = 0; i < st->n; i++) {
    free(st->tensors[i].name);
    gr_release(st->tensors[i].t);
  }
  for (int i = 0; i < st->nmeta; i++) {
    free(st->meta[i].key);
    free(st->meta[i].value);
  }
  free(st->tensors);
  free(st->meta);
  memset(st, 0, sizeof *st);
}
