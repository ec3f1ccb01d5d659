/* safetensors: round trips of every layout, the byte layout read back by
 * hand and by an independent Python reader, hostile files, failed saves. */
#include "io_testutil.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

static uint64_t le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* A file from a header text (padded to 8 unless raw_len) and data bytes. */
static void write_st(const char *path, const char *json, const void *data, size_t dlen) {
  size_t jl = strlen(json), n = (jl + 7) / 8 * 8;
  unsigned char *b = calloc(1, 8 + n + dlen + 1);
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)n >> (8 * i));
  memcpy(b + 8, json, jl);
  memset(b + 8 + jl, ' ', n - jl);
  if (dlen) memcpy(b + 8 + n, data, dlen);
  write_bytes(path, b, 8 + n + dlen);
  free(b);
}

/* The load fails with code, leaves out empty, and the message names the file and frag. */
static void expect_load_fail_(const char *path, gr_status code, const char *frag, const char *file,
                              int line) {
  gr_safetensors st;
  gr_status s = gr_safetensors_load(path, &st);
  if (s != code) {
    print_error("%s:%d: status %d, want %d (%s)\n", file, line, s, code, gr_errmsg());
    _fail(file, line);
  }
  assert_int_equal(st.n, 0);
  assert_null(st.tensors);
  assert_null(st.meta);
  expect_msg_(path, file, line);
  if (frag) expect_msg_(frag, file, line);
}
#define EXPECT_LOAD_FAIL(path, code, frag) \
  expect_load_fail_((path), (code), (frag), __FILE__, __LINE__)

static void expect_header_fail_(const char *json, const char *frag, const char *file, int line) {
  const char *p = tpath("hostile.safetensors");
  static const unsigned char data[64];
  write_st(p, json, data, sizeof data);
  expect_load_fail_(p, GR_EFORMAT, frag, file, line);
}
#define EXPECT_HEADER_FAIL(json, frag) expect_header_fail_((json), (frag), __FILE__, __LINE__)

/* Saves a, b, c, s, e and metadata as the Python checker expects them. */
static void save_reference(const char *path) {
  float av[6];
  for (int i = 0; i < 6; i++) av[i] = (float)(i * 0.5 - 1);
  float cv[6] = {0, 1, 2, 3, 4, 5};
  int64_t bv[3] = {-(1LL << 40), 0, 7};
  gr_tensor *a = gr_from_f32(av, 2, (int64_t[]){2, 3});
  gr_tensor *b = gr_from_i64(bv, 1, (int64_t[]){3});
  gr_tensor *c0 = gr_from_f32(cv, 2, (int64_t[]){2, 3});
  gr_tensor *c = gr_alias(c0, 2, (int64_t[]){3, 2}, (int64_t[]){1, 3}, 0); /* transpose */
  gr_tensor *s = gr_scalar(2.5);
  gr_tensor *e = gr_empty(GR_I64, 2, (int64_t[]){0, 4});
  const char *names[] = {"a", "b", "c", "s", "e"};
  gr_tensor *ts[] = {a, b, c, s, e};
  const char *keys[] = {"step", "note"}, *vals[] = {"12", "h\xc3\xa9llo \"q\""};
  assert_int_equal(gr_safetensors_save(path, 5, names, ts, 2, keys, vals), GR_OK);
  for (int i = 0; i < 5; i++) gr_release(ts[i]);
  gr_release(c0);
}

static void test_roundtrip(void **state) {
  int64_t t0 = gr_live_tensors();
  gr_tensor *a = tu_rand(TU_SHAPE(3, 5), -2, 2);
  int64_t bv[4] = {-(1LL << 40), 0, 7, INT64_MAX};
  gr_tensor *b = gr_from_i64(bv, 1, (int64_t[]){4});
  gr_tensor *c0 = tu_rand(TU_SHAPE(2, 3, 4), -1, 1), *c = tu_noncontig(c0);
  gr_tensor *d = gr_scalar(3.25);
  gr_tensor *e = gr_empty(GR_F32, 2, (int64_t[]){0, 3});
  gr_tensor *f0 = tu_rand(TU_SHAPE(3, 1), 0, 1);
  gr_tensor *f = gr_alias(f0, 2, (int64_t[]){3, 4}, (int64_t[]){1, 0}, 0); /* expanded */
  int64_t gv[6] = {1, 2, 3, -4, 5, -6};
  gr_tensor *g0 = gr_from_i64(gv, 2, (int64_t[]){2, 3});
  gr_tensor *g = gr_alias(g0, 2, (int64_t[]){3, 2}, (int64_t[]){1, 3}, 0);
  gr_tensor *h0 = tu_rand(TU_SHAPE(4, 5), -1, 1);
  gr_tensor *h = gr_alias(h0, 2, (int64_t[]){2, 3}, (int64_t[]){-5, 2}, 15); /* flipped, strided */
  assert_false(gr_is_contiguous(c));
  const char *names[] = {"a", "G.block.0.weight", "c", "d", "e", "f", "g", "caf\xc3\xa9 \"x\"\\"};
  gr_tensor *ts[] = {a, b, c, d, e, f, g, h};
  const char *keys[] = {"step", "options", "empty"};
  const char *vals[] = {"1200", "{\"lr\": 0.0002, \"betas\": [0.5, 0.999]}\n", ""};
  const char *p = tpath("roundtrip.safetensors");
  assert_int_equal(gr_safetensors_save(p, 8, names, ts, 3, keys, vals), GR_OK);

  gr_safetensors st;
  assert_int_equal(gr_safetensors_load(p, &st), GR_OK);
  assert_int_equal(st.n, 8);
  for (int i = 0; i < 8; i++) {
    assert_string_equal(st.tensors[i].name, names[i]);
    assert_true(gr_is_contiguous(st.tensors[i].t));
    assert_int_equal(st.tensors[i].t->refs, 1);
    assert_same_tensor(st.tensors[i].t, ts[i]);
  }
  assert_int_equal(st.tensors[3].t->ndim, 0);
  assert_int_equal(gr_numel(st.tensors[4].t), 0);
  assert_int_equal(gr_i64(st.tensors[1].t)[3], INT64_MAX);
  assert_int_equal(st.nmeta, 3);
  for (int i = 0; i < 3; i++) {
    assert_string_equal(st.meta[i].key, keys[i]);
    assert_string_equal(st.meta[i].value, vals[i]);
  }
  gr_safetensors_free(&st);
  assert_int_equal(st.n, 0);
  assert_null(st.tensors);
  gr_safetensors_free(&st); /* twice is harmless */

  /* the same through a pool: the struct, not the pool, owns its tensors */
  gr_pool_push();
  assert_int_equal(gr_safetensors_load(p, &st), GR_OK);
  gr_pool_pop();
  assert_same_tensor(st.tensors[0].t, a);
  gr_safetensors_free(&st);

  for (int i = 0; i < 8; i++) gr_release(ts[i]);
  gr_release(c0);
  gr_release(f0);
  gr_release(g0);
  gr_release(h0);
  assert_int_equal(gr_live_tensors(), t0);
  assert_int_equal(count_entries(g_dir), 1); /* no temporary left behind */
}

/* The byte layout, read back by hand: length, padded JSON, data in order. */
static void test_layout_by_hand(void **state) {
  const char *p = tpath("layout.safetensors");
  save_reference(p);
  size_t len;
  unsigned char *b = read_bytes(p, &len);
  assert_non_null(b);
  uint64_t n = le64(b);
  assert_int_equal(n % 8, 0);
  assert_true(8 + n + 24 + 24 + 24 + 4 == len); /* a (6 f32), b (3 i64), c (6 f32), s, e empty */
  char *h = calloc(1, n + 1);
  memcpy(h, b + 8, n);
  assert_int_equal(h[0], '{');
  size_t tl = strlen(h);
  while (tl > 0 && h[tl - 1] == ' ') tl--;
  assert_int_equal(h[tl - 1], '}');
  assert_true(n - tl < 8);
  assert_non_null(strstr(h, "\"a\":{"));
  assert_non_null(strstr(h, "\"dtype\":\"F32\""));
  assert_non_null(strstr(h, "\"dtype\":\"I64\""));
  assert_non_null(strstr(h, "\"shape\":[2,3]"));
  assert_non_null(strstr(h, "\"data_offsets\":[0,24]"));
  assert_non_null(strstr(h, "\"data_offsets\":[24,48]"));
  assert_non_null(strstr(h, "\"shape\":[3,2],\"data_offsets\":[48,72]"));
  assert_non_null(strstr(h, "\"shape\":[],\"data_offsets\":[72,76]"));
  assert_non_null(strstr(h, "\"shape\":[0,4],\"data_offsets\":[76,76]"));
  assert_non_null(strstr(h, "\"__metadata__\":{\"step\":\"12\""));
  assert_true(strstr(h, "\"a\"") < strstr(h, "\"b\"") && strstr(h, "\"b\"") < strstr(h, "\"c\""));
  const unsigned char *data = b + 8 + n;
  /* c is the transpose of [[0,1,2],[3,4,5]], written row-major: 0 3 1 4 2 5 */
  float cvals[6];
  memcpy(cvals, data + 48, 24);
  const float want_c[6] = {0, 3, 1, 4, 2, 5};
  assert_memory_equal(cvals, want_c, 24);
  assert_int_equal((int64_t)le64(data + 24), -(1LL << 40));
  assert_int_equal((int64_t)le64(data + 40), 7);
  float s;
  memcpy(&s, data + 72, 4);
  assert_true(s == 2.5f);
  free(h);
  free(b);
}

static bool have_python(void) { return access("/usr/bin/python3", X_OK) == 0; }

static int run_python(const char *mode, const char *file) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/safetensors_check.py' %s '%s'", test_data_dir(),
           mode, file);
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* An independent reader (Python, standard library) checks our file strictly. */
static void test_python_reads_ours(void **state) {
  if (!have_python()) {
    TU_SKIP_MISSING("/usr/bin/python3 is absent (package python3)\n");
  }
  const char *p = tpath("for_python.safetensors");
  save_reference(p);
  assert_int_equal(run_python("check", p), 0);
  /* and the checker can fail: a file with other values is refused */
  float v = 1;
  gr_tensor *a = gr_from_f32(&v, 1, (int64_t[]){1});
  const char *names[] = {"a"};
  assert_int_equal(gr_safetensors_save(p, 1, names, &a, 0, NULL, NULL), GR_OK);
  assert_int_not_equal(run_python("check", p), 0);
  gr_release(a);
}

static float bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* We read the dtypes we only convert (F16, BF16, I32, U8) from a file Python wrote. */
static void test_python_writes_dtypes(void **state) {
  if (!have_python()) {
    TU_SKIP_MISSING("/usr/bin/python3 is absent (package python3)\n");
  }
  const char *p = tpath("from_python.safetensors");
  assert_int_equal(run_python("write", p), 0);
  gr_safetensors st;
  assert_int_equal(gr_safetensors_load(p, &st), GR_OK);
  assert_int_equal(st.n, 6);
  const char *order[] = {"h", "bf", "i32", "u8", "f", "l"};
  for (int i = 0; i < 6; i++) assert_string_equal(st.tensors[i].name, order[i]);
  gr_tensor *h = st.tensors[0].t, *bf = st.tensors[1].t, *i32 = st.tensors[2].t;
  gr_tensor *u8 = st.tensors[3].t, *f = st.tensors[4].t, *l = st.tensors[5].t;
  assert_int_equal(h->dtype, GR_F32);
  assert_int_equal(h->ndim, 2);
  assert_int_equal(h->shape[1], 3);
  const float wh[6] = {1, -2, 0.5f, 65504, 0x1p-24f, INFINITY};
  assert_memory_equal(gr_f32(h), wh, sizeof wh);
  assert_int_equal(bf->dtype, GR_F32);
  assert_true(gr_f32(bf)[0] == 1.5f && gr_f32(bf)[1] == -3.0f);
  assert_true(gr_f32(bf)[2] == bits_f32(0x3DCC0000u)); /* 0.1f cut to its top 16 bits */
  assert_int_equal(i32->dtype, GR_I64);
  const int64_t wi[4] = {-5, 2147483647, -2147483648LL, 0};
  assert_memory_equal(gr_i64(i32), wi, sizeof wi);
  assert_int_equal(u8->dtype, GR_I64);
  const int64_t wu[4] = {0, 1, 200, 255};
  assert_memory_equal(gr_i64(u8), wu, sizeof wu);
  assert_true(gr_f32(f)[0] == 0.1f && gr_f32(f)[1] == -7.0f);
  assert_int_equal(gr_i64(l)[0], 1LL << 62);
  assert_int_equal(gr_i64(l)[1], -3);
  assert_int_equal(st.nmeta, 1);
  assert_string_equal(st.meta[0].key, "format");
  assert_string_equal(st.meta[0].value, "pt");
  gr_safetensors_free(&st);
}

/* F16 by hand: subnormals, signed zero, NaN, the largest finite. */
static void test_f16_values(void **state) {
  const uint16_t hv[8] = {0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0xfc00};
  const float want[8] = {0.0f,     -0.0f, 0x1p-24f, 1023 * 0x1p-24f,
                         0x1p-14f, 1.0f,  65504.0f, -INFINITY};
  unsigned char raw[18];
  for (int i = 0; i < 8; i++)
    raw[2 * i] = hv[i] & 0xff, raw[2 * i + 1] = (unsigned char)(hv[i] >> 8);
  raw[16] = 0x01, raw[17] = 0x7e; /* 0x7e01: a NaN */
  const char *p = tpath("f16.safetensors");
  write_st(p, "{\"x\":{\"dtype\":\"F16\",\"shape\":[9],\"data_offsets\":[0,18]}}", raw, 18);
  gr_safetensors st;
  assert_int_equal(gr_safetensors_load(p, &st), GR_OK);
  assert_memory_equal(gr_f32(st.tensors[0].t), want, sizeof want);
  assert_true(isnan(gr_f32(st.tensors[0].t)[8]));
  gr_safetensors_free(&st);
}

static void test_valid_edge_headers(void **state) {
  const char *p = tpath("edge.safetensors");
  gr_safetensors st;
  write_st(p, "{}", NULL, 0);
  assert_int_equal(gr_safetensors_load(p, &st), GR_OK);
  assert_int_equal(st.n, 0);
  assert_int_equal(st.nmeta, 0);
  gr_safetensors_free(&st);
  write_st(p, "{\"__metadata__\":{}}", NULL, 0);
  assert_int_equal(gr_safetensors_load(p, &st), GR_OK);
  assert_int_equal(st.n + st.nmeta, 0);
  gr_safetensors_free(&st);
  /* entries in any order of the header, with empty tensors anywhere, that
   * tile the data; padding around the JSON and unknown fields are fine */
  float v[3] = {1, 2, 3};
  write_st(p, "\n{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
              "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
              "\"y\":{\"shape\":[1,1],\"data_offsets\":[0,4],\"dtype\":\"F32\",\"extra\":1}}\n",
           v, sizeof v);
  assert_int_equal(gr_safetensors_load(p, &st), GR_OK);
  assert_true(gr_f32(st.tensors[0].t)[0] == 2 && gr_f32(st.tensors[2].t)[0] == 1);
  gr_safetensors_free(&st);
  /* save with nothing */
  assert_int_equal(gr_safetensors_save(p, 0, NULL, NULL, 0, NULL, NULL), GR_OK);
  assert_int_equal(gr_safetensors_load(p, &st), GR_OK);
  assert_int_equal(st.n, 0);
  gr_safetensors_free(&st);
}

/* Every prefix of a valid file is refused cleanly. */
static void test_truncated_everywhere(void **state) {
  const char *full = tpath("full.safetensors"), *cut = tpath("cut.safetensors");
  save_reference(full);
  size_t len;
  unsigned char *b = read_bytes(full, &len);
  for (size_t k = 0; k < len; k++) {
    write_bytes(cut, b, k);
    EXPECT_LOAD_FAIL(cut, GR_EFORMAT, NULL);
  }
  free(b);
}

static void test_header_length(void **state) {
  const char *p = tpath("len.safetensors");
  unsigned char b[64];
  memset(b, ' ', sizeof b);
  memcpy(b + 8, "{}", 2);
  /* all ones, 2^40, one past the file */
  const uint64_t lens[3] = {UINT64_MAX, 1ULL << 40, sizeof b - 7};
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < 8; j++) b[j] = (unsigned char)(lens[i] >> (8 * j));
    write_bytes(p, b, sizeof b);
    EXPECT_LOAD_FAIL(p, GR_EFORMAT, "header length");
  }
  for (int j = 0; j < 8; j++) b[j] = j == 0 ? 1 : 0;
  write_bytes(p, b, sizeof b);
  EXPECT_LOAD_FAIL(p, GR_EFORMAT, "too small");
  /* within the file but past the limit: a sparse file of 101 MiB */
  uint64_t n = (100ULL << 20) + 8;
  for (int j = 0; j < 8; j++) b[j] = (unsigned char)(n >> (8 * j));
  FILE *fp = fopen(p, "wb");
  assert_non_null(fp);
  fwrite(b, 1, 8, fp);
  assert_int_equal(ftruncate(fileno(fp), (off_t)(n + 64)), 0);
  fclose(fp);
  EXPECT_LOAD_FAIL(p, GR_EFORMAT, "limit");
  unlink(p);
}

static void test_bad_json(void **state) {
  EXPECT_HEADER_FAIL("{\"a\": {", "not valid JSON");
  EXPECT_HEADER_FAIL("not json", "not valid JSON");
  EXPECT_HEADER_FAIL("[1, 2]", "not an object");
  EXPECT_HEADER_FAIL("\"str\"", "not an object");
  EXPECT_HEADER_FAIL("{} x", "after its JSON");
  EXPECT_HEADER_FAIL("{\"a\": 5}", "tensor \"a\": entry is not a JSON object");
  /* a NUL inside the header */
  const char *p = tpath("nul.safetensors");
  unsigned char b[8 + 8] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0, ' ', ' ', ' ', ' ', ' '};
  write_bytes(p, b, sizeof b);
  EXPECT_LOAD_FAIL(p, GR_EFORMAT, "after its JSON");
  /* deep nesting is refused by the parser, not by the stack */
  char deep[4100];
  deep[0] = '{', deep[1] = '"', deep[2] = 'a', deep[3] = '"', deep[4] = ':';
  for (int i = 5; i < 4000; i++) deep[i] = '[';
  deep[4000] = '\0';
  EXPECT_HEADER_FAIL(deep, "not valid JSON");
}

#define ENTRY(dtype, shape, offs) \
  "{\"w\":{\"dtype\":" dtype ",\"shape\":" shape ",\"data_offsets\":" offs "}}"

static void test_bad_entries(void **state) {
  /* data section is 64 bytes */
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[20]", "[0,80]"),
                     "tensor \"w\": data_offsets [0, 80] run past the end");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[1]", "[64,68]"), "run past the end");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[0]", "[70,70]"), "run past the end");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[1]", "[8,4]"), "end before they begin");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[3]", "[0,8]"), "hold 8 bytes but F32 [3] needs 12");
  EXPECT_HEADER_FAIL(ENTRY("\"I64\"", "[2,2]", "[0,16]"), "needs 32");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[4294967296,4294967296,4294967296]", "[0,8]"),
                     "too many elements");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[1099511627776]", "[0,8]"), "needs 4398046511104");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[9007199254740993]", "[0,8]"), "shape entry 0");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[1e300]", "[0,8]"), "shape entry 0");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[-1]", "[0,0]"),
                     "shape entry 0 is not a non-negative integer");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[2, 2.5]", "[0,20]"), "shape entry 1");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[\"2\"]", "[0,8]"), "shape entry 0");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[1,1,1,1,1,1,1]", "[0,4]"), "rank 7 exceeds");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "2", "[0,8]"), "\"shape\" is missing or not an array");
  EXPECT_HEADER_FAIL(ENTRY("\"F64\"", "[1]", "[0,8]"), "dtype \"F64\" is not supported");
  EXPECT_HEADER_FAIL(ENTRY("\"C64\"", "[1]", "[0,8]"), "tensor \"w\": dtype \"C64\"");
  EXPECT_HEADER_FAIL(ENTRY("\"f32\"", "[1]", "[0,4]"), "is not supported");
  EXPECT_HEADER_FAIL(ENTRY("4", "[1]", "[0,4]"), "\"dtype\" is missing");
  EXPECT_HEADER_FAIL("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}",
                     "tensor \"w\": \"dtype\" is missing");
  EXPECT_HEADER_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", "\"data_offsets\" must be");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[1]", "[0,4,8]"), "\"data_offsets\" must be");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[1]", "[-4,0]"), "\"data_offsets\" must be");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[1]", "[\"0\",4]"), "\"data_offsets\" must be");
  EXPECT_HEADER_FAIL(ENTRY("\"F32\"", "[1]", "{}"), "\"data_offsets\" must be");
  EXPECT_HEADER_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                     "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                     "duplicate tensor name \"w\"");
  EXPECT_HEADER_FAIL("{\"__metadata__\":{\"k\":1}}", "metadata \"k\": the value is not a string");
  EXPECT_HEADER_FAIL("{\"__metadata__\":[\"k\"]}", "\"__metadata__\" is not a JSON object");
  EXPECT_HEADER_FAIL("{\"__metadata__\":{},\"__metadata__\":{}}", "appears twice");
  EXPECT_HEADER_FAIL("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}",
                     "duplicate metadata key \"k\"");
}

/* The entries must tile the data section exactly, as the format requires:
 * overlap, a gap, trailing bytes and a header length one byte short (all
 * tensors shifted by one byte) are refused; so a small file can no longer
 * ask for gigabytes through entries that share the same bytes. */
static void test_offsets_tile_the_data(void **state) {
  const char *p = tpath("tile.safetensors");
  float v[16] = {0};
  gr_safetensors st;
#define TWO(a, b) "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" a "}," \
                  "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" b "}}"
  write_st(p, TWO("[0,4]", "[0,4]"), v, 4);
  EXPECT_LOAD_FAIL(p, GR_EFORMAT, "overlap");
  write_st(p, TWO("[0,4]", "[8,12]"), v, 12);
  EXPECT_LOAD_FAIL(p, GR_EFORMAT, "leave a gap of 4 bytes");
  write_st(p, TWO("[4,8]", "[8,12]"), v, 12);
  EXPECT_LOAD_FAIL(p, GR_EFORMAT, "tensor \"x\": data_offsets [4, 8] leave a gap");
  write_st(p, TWO("[0,4]", "[4,8]"), v, 9);
  EXPECT_LOAD_FAIL(p, GR_EFORMAT, "hold 8 bytes of data but 9 follow the header");
  write_st(p, TWO("[4,8]", "[0,4]"), v, 8);
  assert_int_equal(gr_safetensors_load(p, &st), GR_OK);
  gr_safetensors_free(&st);
  /* 4096 entries sharing one 256-element range: 4 MB asked of a 1 KB data section */
  size_t cap = 4096 * 80 + 16, len = 0;
  char *h = malloc(cap);
  len += (size_t)snprintf(h + len, cap - len, "{");
  for (int i = 0; i < 4096; i++)
    len += (size_t)snprintf(h + len, cap - len, "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[256],"
                            "\"data_offsets\":[0,1024]}", i ? "," : "", i);
  snprintf(h + len, cap - len, "}");
  float *big = calloc(256, sizeof *big);
  write_st(p, h, big, 1024);
  EXPECT_LOAD_FAIL(p, GR_EFORMAT, "overlap");
  free(big);
  free(h);
  /* a header length one byte short: the JSON still parses (its padding), every tensor would be
   * read one byte early */
  /* (the 55-byte JSON is padded to 56 by one space) */
  write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}",
           (float[]){1, 2, 3}, 12);
  assert_int_equal(gr_safetensors_load(p, &st), GR_OK);
  gr_safetensors_free(&st);
  size_t flen;
  unsigned char *bytes = read_bytes(p, &flen);
  assert_true(bytes[0] == 56 && bytes[8 + 55] == ' ');
  bytes[0] = 55;
  write_bytes(p, bytes, flen);
  EXPECT_LOAD_FAIL(p, GR_EFORMAT, "hold 12 bytes of data but 13 follow the header");
  free(bytes);
#undef TWO
}

static void test_load_misc_errors(void **state) {
  gr_safetensors st;
  EXPECT_LOAD_FAIL(tpath("missing.safetensors"), GR_EIO, "cannot open");
  /* a FIFO (a checkpoint given as one to --resume) is refused at once
   * instead of blocking */
  EXPECT_LOAD_FAIL(make_fifo("ckpt.fifo"), GR_EIO, "not a regular file");
  EXPECT_LOAD_FAIL(g_dir, GR_EIO, "is a folder");
  assert_int_equal(gr_safetensors_load(NULL, &st), GR_EARG);
  assert_int_equal(gr_safetensors_load(tpath("x"), NULL), GR_EARG);
  gr_safetensors_free(NULL);
}

static void test_save_bad_args(void **state) {
  const char *p = tpath("args.safetensors");
  gr_tensor *a = gr_scalar(1);
  gr_tensor *two[2] = {a, a};
  const char *dup[2] = {"x", "x"}, *meta[1] = {"__metadata__"}, *n1[1] = {"x"};
  assert_int_equal(gr_safetensors_save(p, 2, dup, two, 0, NULL, NULL), GR_EARG);
  EXPECT_MSG("duplicate tensor name \"x\"");
  assert_int_equal(gr_safetensors_save(p, 1, meta, two, 0, NULL, NULL), GR_EARG);
  EXPECT_MSG("reserved");
  gr_tensor *none[1] = {NULL};
  assert_int_equal(gr_safetensors_save(p, 1, n1, none, 0, NULL, NULL), GR_EARG);
  EXPECT_MSG("tensor \"x\" is NULL");
  const char *k2[2] = {"k", "k"}, *v2[2] = {"1", "2"};
  assert_int_equal(gr_safetensors_save(p, 1, n1, two, 2, k2, v2), GR_EARG);
  EXPECT_MSG("duplicate metadata key \"k\"");
  assert_int_equal(gr_safetensors_save(p, -1, n1, two, 0, NULL, NULL), GR_EARG);
  assert_int_equal(gr_safetensors_save(NULL, 1, n1, two, 0, NULL, NULL), GR_EARG);
  assert_int_equal(access(p, F_OK), -1); /* nothing was written */
  gr_release(a);
}

/* The file at path still holds exactly old (len bytes). */
static void assert_unchanged(const char *path, const unsigned char *old, size_t len) {
  size_t n;
  unsigned char *b = read_bytes(path, &n);
  assert_non_null(b);
  assert_int_equal(n, len);
  assert_memory_equal(b, old, len);
  free(b);
}

static void test_failed_save_keeps_old_file(void **state) {
  const char *p = tpath("keep.safetensors");
  save_reference(p);
  size_t len;
  unsigned char *old = read_bytes(p, &len);
  int entries = count_entries(g_dir);
  gr_tensor *big = gr_zeros(GR_F32, 1, (int64_t[]){1 << 18}); /* 1 MiB */
  const char *names[1] = {"big"};

  /* a folder that does not exist, a "folder" that is a file */
  assert_int_equal(gr_safetensors_save(tpath("nope/x.safetensors"), 1, names, &big, 0, NULL, NULL),
                   GR_EIO);
  EXPECT_MSG("nope/x.safetensors");
  char under_file[1100];
  snprintf(under_file, sizeof under_file, "%s/x.safetensors", p);
  assert_int_equal(gr_safetensors_save(under_file, 1, names, &big, 0, NULL, NULL), GR_EIO);
  assert_unchanged(p, old, len);

  /* the target is a folder: the rename fails after everything was written */
  const char *sub = tpath("a_folder");
  assert_int_equal(mkdir(sub, 0755), 0);
  assert_int_equal(gr_safetensors_save(sub, 1, names, &big, 0, NULL, NULL), GR_EIO);
  EXPECT_MSG("rename");
  struct stat sb;
  assert_int_equal(stat(sub, &sb), 0);
  assert_true(S_ISDIR(sb.st_mode));
  assert_int_equal(rmdir(sub), 0);

  /* the disk "fills up" mid-write: a file size limit below the new file's size */
  struct rlimit old_lim, lim;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
  lim = old_lim;
  lim.rlim_cur = 64 * 1024;
  void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  gr_status s = gr_safetensors_save(p, 1, names, &big, 0, NULL, NULL);
  setrlimit(RLIMIT_FSIZE, &old_lim);
  signal(SIGXFSZ, old_sig);
  assert_int_equal(s, GR_EIO);
  EXPECT_MSG("write failed");
  assert_unchanged(p, old, len);
  assert_int_equal(count_entries(g_dir), entries); /* the temporary is gone */

  /* a folder we may not write to (root may write anywhere: skip that part) */
  if (geteuid() != 0) {
    const char *ro = tpath("readonly");
    assert_int_equal(mkdir(ro, 0755), 0);
    char target[1100];
    snprintf(target, sizeof target, "%s/x.safetensors", ro);
    assert_int_equal(gr_safetensors_save(target, 1, names, &big, 0, NULL, NULL), GR_OK);
    size_t l2;
    unsigned char *old2 = read_bytes(target, &l2);
    assert_int_equal(chmod(ro, 0555), 0);
    assert_int_equal(gr_safetensors_save(target, 1, names, &big, 0, NULL, NULL), GR_EIO);
    assert_unchanged(target, old2, l2);
    chmod(ro, 0755);
    free(old2);
  }
  /* and then a save that succeeds replaces the file */
  assert_int_equal(gr_safetensors_save(p, 1, names, &big, 0, NULL, NULL), GR_OK);
  gr_safetensors st;
  assert_int_equal(gr_safetensors_load(p, &st), GR_OK);
  assert_same_tensor(st.tensors[0].t, big);
  gr_safetensors_free(&st);
  gr_release(big);
  free(old);
}

static void test_write_atomic(void **state) {
  const char *p = tpath("atomic.bin");
  int entries = count_entries(g_dir);
  assert_int_equal(gr_write_atomic(p, "hello", 5), GR_OK);
  assert_int_equal(gr_write_atomic(p, "hi", 2), GR_OK);
  assert_unchanged(p, (const unsigned char *)"hi", 2);
  assert_int_equal(gr_write_atomic(p, NULL, 0), GR_OK);
  assert_unchanged(p, (const unsigned char *)"", 0);
  assert_int_equal(count_entries(g_dir), entries + 1);
  /* the mode follows the umask, as for any new file */
  mode_t um = umask(022);
  assert_int_equal(gr_write_atomic(p, "x", 1), GR_OK);
  umask(um);
  struct stat sb;
  assert_int_equal(stat(p, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0644);
  assert_int_equal(gr_write_atomic(tpath("nope/x"), "x", 1), GR_EIO);
  EXPECT_MSG("cannot create a temporary file");
  assert_int_equal(gr_write_atomic(p, NULL, 3), GR_EARG);
  assert_int_equal(gr_write_atomic("", "x", 1), GR_EARG);
  assert_unchanged(p, (const unsigned char *)"x", 1);
  /* a relative path works from the current folder */
  char cwd[1024];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(g_dir), 0);
  assert_int_equal(gr_write_atomic("relative.bin", "abc", 3), GR_OK);
  assert_int_equal(chdir(cwd), 0);
  assert_unchanged(tpath("relative.bin"), (const unsigned char *)"abc", 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_layout_by_hand),
      cmocka_unit_test(test_python_reads_ours),
      cmocka_unit_test(test_python_writes_dtypes),
      cmocka_unit_test(test_f16_values),
      cmocka_unit_test(test_valid_edge_headers),
      cmocka_unit_test(test_truncated_everywhere),
      cmocka_unit_test(test_header_length),
      cmocka_unit_test(test_bad_json),
      cmocka_unit_test(test_bad_entries),
      cmocka_unit_test(test_offsets_tile_the_data),
      cmocka_unit_test(test_load_misc_errors),
      cmocka_unit_test(test_save_bad_args),
      cmocka_unit_test(test_failed_save_keeps_old_file),
      cmocka_unit_test(test_write_atomic),
  };
  return cmocka_run_group_tests(tests, io_setup, io_teardown);
}
