/* IDX files, plain and gzip: every element type, Fashion-MNIST itself when
 * installed, and truncated, padded and hostile files. */
#include "io_testutil.h"

#include <math.h>
#include <zlib.h>

/* header (type, dims) + data, optionally gzip'd, with extra bytes appended. */
static void write_idx(const char *path, bool gz, int type, int ndim, const uint32_t *dims,
                      const void *data, size_t dlen, size_t extra) {
  size_t hl = 4 + 4 * (size_t)ndim, n = hl + dlen + extra;
  unsigned char *b = calloc(1, n);
  b[2] = (unsigned char)type, b[3] = (unsigned char)ndim;
  for (int d = 0; d < ndim; d++)
    for (int k = 0; k < 4; k++) b[4 + 4 * d + k] = (unsigned char)(dims[d] >> (24 - 8 * k));
  if (dlen) memcpy(b + hl, data, dlen);
  for (size_t i = 0; i < extra; i++) b[hl + dlen + i] = 0xab;
  if (gz) {
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, b, (unsigned)n), (int)n);
    assert_int_equal(gzclose(f), Z_OK);
  } else {
    write_bytes(path, b, n);
  }
  free(b);
}

static void expect_idx_fail_(const char *path, bool as_int, gr_status code, const char *frag,
                             const char *file, int line) {
  gr_tensor *x = (gr_tensor *)1;
  gr_status s = gr_idx_load(path, as_int, &x);
  if (s != code) {
    print_error("%s:%d: status %d, want %d (%s)\n", file, line, s, code, gr_errmsg());
    _fail(file, line);
  }
  assert_null(x);
  expect_msg_(path, file, line);
  if (frag) expect_msg_(frag, file, line);
}
#define EXPECT_IDX_FAIL(path, as_int, code, frag) \
  expect_idx_fail_((path), (as_int), (code), (frag), __FILE__, __LINE__)

static void be_store(unsigned char *p, uint64_t v, int size) {
  for (int k = 0; k < size; k++) p[k] = (unsigned char)(v >> (8 * (size - 1 - k)));
}

static void test_types(void **state) {
  /* values per type, as doubles; stored big-endian */
  const double u8[5] = {0, 1, 127, 128, 255};
  const double i8[5] = {-128, -1, 0, 1, 127};
  const double i16[5] = {-32768, -1, 0, 300, 32767};
  const double i32[5] = {-2147483648.0, -1, 0, 70000, 2147483647.0};
  const double f32[5] = {-1.5, 0, 3.25, 0.001f, 1e30f};
  const double f64[5] = {-2.5, 0, 1e10, 0.1, 12345};
  const struct {
    int type, size;
    const double *v;
    bool is_float;
  } tv[] = {{0x08, 1, u8, false}, {0x09, 1, i8, false},   {0x0B, 2, i16, false},
            {0x0C, 4, i32, false}, {0x0D, 4, f32, true}, {0x0E, 8, f64, true}};
  for (int gz = 0; gz <= 1; gz++)
    for (size_t t = 0; t < sizeof tv / sizeof tv[0]; t++) {
      unsigned char raw[5 * 8];
      for (int i = 0; i < 5; i++) {
        uint64_t bits;
        if (tv[t].type == 0x0D) {
          float f = (float)tv[t].v[i];
          uint32_t u;
          memcpy(&u, &f, 4);
          bits = u;
        } else if (tv[t].type == 0x0E) {
          memcpy(&bits, &tv[t].v[i], 8);
        } else {
          bits = (uint64_t)(int64_t)tv[t].v[i];
        }
        be_store(raw + i * tv[t].size, bits, tv[t].size);
      }
      const char *p = tpath(gz ? "t.idx.gz" : "t.idx");
      write_idx(p, gz, tv[t].type, 1, (uint32_t[]){5}, raw, (size_t)(5 * tv[t].size), 0);
      gr_tensor *x;
      assert_int_equal(gr_idx_load(p, false, &x), GR_OK);
      assert_int_equal(x->dtype, GR_F32);
      assert_int_equal(x->ndim, 1);
      assert_int_equal(x->shape[0], 5);
      for (int i = 0; i < 5; i++)
        if (gr_f32(x)[i] != (float)tv[t].v[i])
          fail_msg("type %02x gz %d: element %d is %g, want %g", tv[t].type, gz, i, gr_f32(x)[i],
                   tv[t].v[i]);
      gr_release(x);
      if (tv[t].is_float) {
        EXPECT_IDX_FAIL(p, true, GR_EFORMAT, "integers asked");
      } else {
        assert_int_equal(gr_idx_load(p, true, &x), GR_OK);
        assert_int_equal(x->dtype, GR_I64);
        for (int i = 0; i < 5; i++) assert_int_equal(gr_i64(x)[i], (int64_t)tv[t].v[i]);
        gr_release(x);
      }
    }
  /* whole-number floats do convert to integers */
  unsigned char raw[12];
  const float fv[3] = {1, -3, 65536};
  for (int i = 0; i < 3; i++) {
    uint32_t u;
    memcpy(&u, &fv[i], 4);
    be_store(raw + 4 * i, u, 4);
  }
  write_idx(tpath("f.idx"), false, 0x0D, 1, (uint32_t[]){3}, raw, 12, 0);
  gr_tensor *x;
  assert_int_equal(gr_idx_load(tpath("f.idx"), true, &x), GR_OK);
  assert_int_equal(gr_i64(x)[2], 65536);
  assert_int_equal(gr_i64(x)[1], -3);
  gr_release(x);
}

static void test_shape_and_order(void **state) {
  unsigned char raw[2 * 3 * 4];
  for (int i = 0; i < 24; i++) raw[i] = (unsigned char)(i * 10);
  for (int gz = 0; gz <= 1; gz++) {
    const char *p = tpath("s.idx");
    write_idx(p, gz, 0x08, 3, (uint32_t[]){2, 3, 4}, raw, 24, 0);
    gr_tensor *x;
    assert_int_equal(gr_idx_load(p, false, &x), GR_OK);
    assert_int_equal(x->ndim, 3);
    assert_true(x->shape[0] == 2 && x->shape[1] == 3 && x->shape[2] == 4);
    double want[24];
    for (int i = 0; i < 24; i++) want[i] = i * 10;
    TU_CLOSE_D(x, want, 0, 0);
    gr_release(x);
  }
  /* an empty dimension is a valid, empty file */
  write_idx(tpath("e.idx"), false, 0x08, 2, (uint32_t[]){0, 28}, NULL, 0, 0);
  gr_tensor *x;
  assert_int_equal(gr_idx_load(tpath("e.idx"), true, &x), GR_OK);
  assert_int_equal(gr_numel(x), 0);
  assert_int_equal(x->shape[1], 28);
  gr_release(x);
  /* six dimensions */
  write_idx(tpath("six.idx"), true, 0x08, 6, (uint32_t[]){1, 2, 1, 2, 1, 2}, raw, 8, 0);
  assert_int_equal(gr_idx_load(tpath("six.idx"), true, &x), GR_OK);
  assert_int_equal(x->ndim, 6);
  assert_int_equal(gr_i64(x)[7], 70);
  gr_release(x);
}

static void test_fashion_mnist(void **state) {
  const char *dir = "/usr/share/datasets/fashion-mnist";
  char img[256], lab[256];
  snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte.gz", dir);
  snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte.gz", dir);
  if (access(img, R_OK) != 0 || access(lab, R_OK) != 0) {
    TU_SKIP_MISSING("%s is not installed (package dataset-fashion-mnist)\n", img);
  }
  gr_tensor *x, *y;
  assert_int_equal(gr_idx_load(img, false, &x), GR_OK);
  assert_int_equal(x->dtype, GR_F32);
  assert_int_equal(x->ndim, 3);
  assert_true(x->shape[0] == 10000 && x->shape[1] == 28 && x->shape[2] == 28);
  const float *v = gr_f32(x);
  float lo = 255, hi = 0;
  double sum = 0;
  for (int64_t i = 0; i < gr_numel(x); i++) {
    assert_true(v[i] == floorf(v[i])); /* raw bytes, not scaled */
    lo = v[i] < lo ? v[i] : lo;
    hi = v[i] > hi ? v[i] : hi;
    sum += v[i];
  }
  assert_true(lo == 0 && hi == 255);
  double mean = sum / (double)gr_numel(x);
  assert_true(mean > 50 && mean < 100); /* about 73 for Fashion-MNIST */
  assert_int_equal(gr_idx_load(lab, true, &y), GR_OK);
  assert_int_equal(y->dtype, GR_I64);
  assert_int_equal(y->ndim, 1);
  assert_int_equal(y->shape[0], 10000);
  int count[10] = {0};
  for (int64_t i = 0; i < 10000; i++) {
    int64_t l = gr_i64(y)[i];
    assert_true(l >= 0 && l <= 9);
    count[l]++;
  }
  for (int c = 0; c < 10; c++) assert_int_equal(count[c], 1000);
  gr_release(x);
  gr_release(y);
}

static void test_bad_headers(void **state) {
  const char *p = tpath("bad.idx");
  unsigned char raw[64] = {0};
  /* wrong magic, unknown type, bad ndim */
  write_bytes(p, "\x01\x00\x08\x01\x00\x00\x00\x01\x07", 9);
  EXPECT_IDX_FAIL(p, false, GR_EFORMAT, "not an IDX file (magic 01 00 08 01");
  write_bytes(p, "PK\x03\x04 zip file", 14);
  EXPECT_IDX_FAIL(p, false, GR_EFORMAT, "not an IDX file");
  write_idx(p, false, 0x07, 1, (uint32_t[]){4}, raw, 4, 0);
  EXPECT_IDX_FAIL(p, false, GR_EFORMAT, "unknown IDX element type 0x07");
  write_idx(p, true, 0x0A, 1, (uint32_t[]){4}, raw, 4, 0);
  EXPECT_IDX_FAIL(p, false, GR_EFORMAT, "element type 0x0a");
  write_idx(p, false, 0x08, 0, NULL, raw, 4, 0);
  EXPECT_IDX_FAIL(p, false, GR_EFORMAT, "0 dimensions");
  write_idx(p, false, 0x08, 7, (uint32_t[]){1, 1, 1, 1, 1, 1, 1}, raw, 1, 0);
  EXPECT_IDX_FAIL(p, false, GR_EFORMAT, "7 dimensions");
  /* huge dims: past the element cap, and products that would overflow */
  write_idx(p, false, 0x08, 3, (uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu}, raw, 8, 0);
  EXPECT_IDX_FAIL(p, false, GR_EFORMAT, "has more than");
  write_idx(p, true, 0x0E, 6, (uint32_t[]){65536, 65536, 65536, 65536, 65536, 65536}, raw, 8, 0);
  EXPECT_IDX_FAIL(p, false, GR_EFORMAT, "has more than");
  /* the cap of 2^27 elements (1 GiB of f64 data): a small gzip file cannot ask
   * for gigabytes however well its zeros compress */
  write_idx(p, true, 0x0E, 2, (uint32_t[]){1u << 14, (1u << 13) + 1}, raw, 8, 0);
  EXPECT_IDX_FAIL(p, false, GR_EFORMAT, "[16384, 8193] has more than 134217728 elements");
  write_idx(p, true, 0x08, 1, (uint32_t[]){3300000000u}, raw, 8, 0);
  EXPECT_IDX_FAIL(p, false, GR_EFORMAT, "has more than 134217728 elements");
  /* a believable but false claim: 60000 x 28 x 28 with 64 bytes of data */
  write_idx(p, true, 0x08, 3, (uint32_t[]){60000, 28, 28}, raw, 64, 0);
  EXPECT_IDX_FAIL(
      p, false, GR_EFORMAT,
      "truncated: shape [60000, 28, 28] of u8 needs 47040000 data bytes, the file has 64");
  /* too short for a header; missing file; a folder */
  write_bytes(p, "\x00\x00", 2);
  EXPECT_IDX_FAIL(p, false, GR_EFORMAT, "too short");
  write_bytes(p, "\x00\x00\x08\x03\x00\x00\x00\x02", 8);
  EXPECT_IDX_FAIL(p, false, GR_EFORMAT, "list of 3 dimensions");
  EXPECT_IDX_FAIL(tpath("missing.idx"), false, GR_EIO, "cannot open");
  EXPECT_IDX_FAIL(g_dir, false, GR_EIO, "is a folder");
  /* a FIFO is refused at once instead of blocking the run */
  EXPECT_IDX_FAIL(make_fifo("data.fifo"), false, GR_EIO, "not a regular file");
  gr_tensor *x;
  assert_int_equal(gr_idx_load(NULL, false, &x), GR_EARG);
  assert_int_equal(gr_idx_load(p, false, NULL), GR_EARG);
}

static void test_truncated_and_trailing(void **state) {
  unsigned char raw[3 * 5 * 2];
  for (int i = 0; i < 30; i++) raw[i] = (unsigned char)(i * 7);
  const uint32_t dims[2] = {3, 5};
  const char *full = tpath("full.idx"), *cut = tpath("cut.idx");
  /* every prefix of a plain file */
  write_idx(full, false, 0x0B, 2, dims, raw, 30, 0);
  size_t len;
  unsigned char *b = read_bytes(full, &len);
  for (size_t k = 0; k < len; k++) {
    write_bytes(cut, b, k);
    EXPECT_IDX_FAIL(cut, false, GR_EFORMAT, NULL);
  }
  free(b);
  /* every prefix of a gzip file (the stream ends early, or its trailer is cut) */
  write_idx(full, true, 0x0B, 2, dims, raw, 30, 0);
  b = read_bytes(full, &len);
  for (size_t k = 0; k < len; k++) {
    write_bytes(cut, b, k);
    EXPECT_IDX_FAIL(cut, false, GR_EFORMAT, NULL);
  }
  /* a damaged checksum in the gzip trailer */
  b[len - 6] ^= 1;
  write_bytes(cut, b, len);
  EXPECT_IDX_FAIL(cut, false, GR_EFORMAT, "corrupt");
  free(b);
  /* bytes after the data, plain and inside the gzip stream */
  for (int gz = 0; gz <= 1; gz++) {
    write_idx(full, gz, 0x0B, 2, dims, raw, 30, 1);
    EXPECT_IDX_FAIL(full, true, GR_EFORMAT, "bytes follow the 30 data bytes of shape [3, 5]");
    write_idx(full, gz, 0x0B, 2, dims, raw, 30, 1000);
    EXPECT_IDX_FAIL(full, false, GR_EFORMAT, "bytes follow");
  }
  /* anything after the last gzip member: garbage (one byte or many) is
   * refused, another whole member is the rest of the data */
  write_idx(full, true, 0x0B, 2, dims, raw, 30, 0);
  b = read_bytes(full, &len);
  unsigned char *g = malloc(len + 100);
  memcpy(g, b, len);
  for (size_t extra = 1; extra <= 100; extra += 33) {
    memset(g + len, extra == 1 ? 0 : 0x5a, extra);
    write_bytes(cut, g, len + extra);
    EXPECT_IDX_FAIL(cut, false, GR_EFORMAT, "not gzip data follow");
  }
  g[len] = 0x1f; /* the first byte of a gzip magic, then the end */
  write_bytes(cut, g, len + 1);
  EXPECT_IDX_FAIL(cut, false, GR_EFORMAT, "ends early");
  free(g);
  free(b);
  {
    /* header and data in two members, as `cat a.gz b.gz` makes */
    unsigned char head[12] = {0, 0, 0x0B, 2, 0, 0, 0, 3, 0, 0, 0, 5};
    gzFile f = gzopen(full, "wb");
    assert_int_equal(gzwrite(f, head, 12), 12);
    assert_int_equal(gzclose(f), Z_OK);
    f = gzopen(cut, "wb");
    assert_int_equal(gzwrite(f, raw, 30), 30);
    assert_int_equal(gzclose(f), Z_OK);
    size_t l1, l2;
    unsigned char *m1 = read_bytes(full, &l1), *m2 = read_bytes(cut, &l2), *both = malloc(l1 + l2);
    memcpy(both, m1, l1);
    memcpy(both + l1, m2, l2);
    write_bytes(cut, both, l1 + l2);
    gr_tensor *x2;
    assert_int_equal(gr_idx_load(cut, true, &x2), GR_OK);
    assert_int_equal(gr_i64(x2)[14], (int16_t)(raw[28] << 8 | raw[29]));
    gr_release(x2);
    free(both);
    free(m1);
    free(m2);
  }
  /* and the untouched file loads */
  write_idx(full, true, 0x0B, 2, dims, raw, 30, 0);
  gr_tensor *x;
  assert_int_equal(gr_idx_load(full, true, &x), GR_OK);
  assert_int_equal(gr_i64(x)[0], (int16_t)(raw[0] << 8 | raw[1]));
  gr_release(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_types),          cmocka_unit_test(test_shape_and_order),
      cmocka_unit_test(test_fashion_mnist),  cmocka_unit_test(test_bad_headers),
      cmocka_unit_test(test_truncated_and_trailing),
  };
  return cmocka_run_group_tests(tests, io_setup, io_teardown);
}
