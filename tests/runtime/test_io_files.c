/* Folders, paths and programs: gr_mkdir, gr_is_dir/gr_exists,
 * gr_list_files (order, nesting, hidden entries, symlinks, loops,
 * extensions), gr_cwd/gr_abspath, gr_executable, and gr_run (exit codes,
 * signals, programs that cannot start, arguments passed as given, merged
 * output of megabytes). Permission cases are skipped when the tests run
 * with the power to ignore permissions (root). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "io_testutil.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>

/* --- a scratch folder that may hold a tree -------------------------------------- */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)ftw;
  if (flag == FTW_DP) {
    chmod(path, 0755);
    rmdir(path);
    return 0;
  }
  unlink(path);
  return 0;
}

static int tree_setup(void **state) { return io_setup(state); }

/* The whole tree, links themselves and never what they point to. */
static int tree_teardown(void **state) {
  (void)state;
  /* unreadable folders first made readable, or nftw cannot go in */
  char p[1024];
  snprintf(p, sizeof p, "%s/locked", g_dir);
  chmod(p, 0755);
  snprintf(p, sizeof p, "%s/list/locked", g_dir);
  chmod(p, 0755);
  snprintf(p, sizeof p, "%s/ro", g_dir);
  chmod(p, 0755);
  nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}

static void make_dir(const char *path) { assert_int_equal(mkdir(path, 0755), 0); }
static void touch(const char *path) { write_bytes(path, "x", 1); }
static void make_link(const char *target, const char *path) {
  assert_int_equal(symlink(target, path), 0);
}

/* Whether this process ignores permissions (root, CAP_DAC_OVERRIDE): a
 * folder of mode 0 can still be listed. Leaves dir at mode 0. */
static bool permissions_ignored(const char *dir) {
  assert_int_equal(chmod(dir, 0), 0);
  DIR *d = opendir(dir);
  if (d) closedir(d);
  return d != NULL;
}

/* --- mkdir ------------------------------------------------------------------------ */

static void test_mkdir_makes_parents(void **state) {
  const char *p = tpath("m/a/b/c");
  assert_int_equal(gr_mkdir(p), GR_OK);
  assert_true(gr_is_dir(p));
  /* again: a folder that is there is success */
  assert_int_equal(gr_mkdir(p), GR_OK);
  assert_int_equal(gr_mkdir(tpath("m/a")), GR_OK);
  /* runs of slashes, a trailing slash, "." and ".." parts */
  assert_int_equal(gr_mkdir(tpath("m//x///y/")), GR_OK);
  assert_true(gr_is_dir(tpath("m/x/y")));
  assert_int_equal(gr_mkdir(tpath("m/./a/../z")), GR_OK);
  assert_true(gr_is_dir(tpath("m/z")));
  /* a symlink to a folder is a folder, as mkdir -p takes it */
  make_link("a", tpath("m/to_a"));
  assert_int_equal(gr_mkdir(tpath("m/to_a/b/new")), GR_OK);
  assert_true(gr_is_dir(tpath("m/a/b/new")));
  assert_int_equal(gr_mkdir("/"), GR_OK);
}

static void test_mkdir_relative(void **state) {
  char old[1024];
  assert_non_null(getcwd(old, sizeof old));
  assert_int_equal(chdir(g_dir), 0);
  gr_status s = gr_mkdir("rel/one");
  bool made = gr_is_dir("rel/one");
  assert_int_equal(chdir(old), 0);
  assert_int_equal(s, GR_OK);
  assert_true(made);
}

static void test_mkdir_errors(void **state) {
  make_dir(tpath("f"));
  touch(tpath("f/file"));
  /* a part of the path is a file: the message names the path and the part */
  const char *p = tpath("f/file/sub/deeper");
  assert_int_equal(gr_mkdir(p), GR_EIO);
  EXPECT_MSG("mkdir: ");
  EXPECT_MSG(p);
  EXPECT_MSG("f/file exists and is not a folder");
  assert_false(gr_exists(tpath("f/file/sub")));
  /* the path itself is a file */
  assert_int_equal(gr_mkdir(tpath("f/file")), GR_EIO);
  EXPECT_MSG("exists and is not a folder");
  /* a dangling link: mkdir refuses to make a folder through it */
  make_link("nowhere", tpath("f/dangling"));
  assert_int_equal(gr_mkdir(tpath("f/dangling")), GR_EIO);
  EXPECT_MSG("f/dangling");
  assert_int_equal(gr_mkdir(""), GR_EARG);
  EXPECT_MSG("mkdir: the path is empty");
  assert_int_equal(gr_mkdir(NULL), GR_EARG);
}

static void test_mkdir_permission(void **state) {
  const char *ro = tpath("ro");
  make_dir(ro);
  if (permissions_ignored(ro)) skip();
  assert_int_equal(chmod(ro, 0555), 0);
  const char *p = tpath("ro/a/b");
  assert_int_equal(gr_mkdir(p), GR_EIO);
  EXPECT_MSG(p);
  EXPECT_MSG("cannot make ");
  EXPECT_MSG(strerror(EACCES));
  assert_int_equal(gr_mkdir(tpath("ro/a")), GR_EIO);
  EXPECT_MSG(strerror(EACCES));
  assert_int_equal(chmod(ro, 0755), 0);
}

/* --- is_dir, exists ----------------------------------------------------------------- */

static void test_is_dir_exists(void **state) {
  make_dir(tpath("d"));
  touch(tpath("d/file"));
  make_link("file", tpath("d/to_file"));
  make_link(".", tpath("d/to_self"));
  make_link("missing", tpath("d/dangling"));
  assert_true(gr_is_dir(tpath("d")));
  assert_true(gr_exists(tpath("d")));
  assert_false(gr_is_dir(tpath("d/file")));
  assert_true(gr_exists(tpath("d/file")));
  assert_true(gr_exists(tpath("d/to_file")));
  assert_false(gr_is_dir(tpath("d/to_file")));
  assert_true(gr_is_dir(tpath("d/to_self")));
  /* a dangling link points at nothing */
  assert_false(gr_exists(tpath("d/dangling")));
  assert_false(gr_is_dir(tpath("d/dangling")));
  assert_false(gr_exists(tpath("d/missing")));
  assert_false(gr_exists(tpath("d/file/below")));
  assert_false(gr_is_dir(NULL));
  assert_false(gr_exists(NULL));
  assert_false(gr_is_dir(""));
  assert_false(gr_exists(""));
}

/* --- list_files --------------------------------------------------------------------- */

static void expect_list_(const char *dir, const gr_list_opts *o, const char *const *want,
                         size_t nwant, const char *file, int line) {
  gr_file_list l;
  gr_status s = gr_list_files(dir, o, &l);
  if (s != GR_OK) {
    print_error("%s:%d: list_files failed: %s\n", file, line, gr_errmsg());
    _fail(file, line);
  }
  bool same = l.n == nwant;
  for (size_t i = 0; same && i < nwant; i++) same = !strcmp(l.paths[i], tpath(want[i]));
  if (!same) {
    print_error("%s:%d: listed %zu files, want %zu:\n", file, line, l.n, nwant);
    for (size_t i = 0; i < l.n; i++) print_error("  got  %s\n", l.paths[i]);
    for (size_t i = 0; i < nwant; i++) print_error("  want %s\n", tpath(want[i]));
    gr_file_list_free(&l);
    _fail(file, line);
  }
  gr_file_list_free(&l);
}
#define EXPECT_LIST(dir, o, ...)                                                           \
  expect_list_((dir), (o), (const char *const[]){__VA_ARGS__},                             \
               sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *), __FILE__, \
               __LINE__)

/* list/: files in two levels, hidden ones, links to files and folders,
 * a dangling link, and two links that lead back up (loops). */
static void make_tree(void) {
  make_dir(tpath("list"));
  make_dir(tpath("outside"));
  make_dir(tpath("outside/dir"));
  touch(tpath("outside/real.png"));
  touch(tpath("outside/dir/w.png"));
  touch(tpath("list/b.png"));
  touch(tpath("list/a.PNG"));
  touch(tpath("list/c.txt"));
  touch(tpath("list/noext"));
  touch(tpath("list/sub.png"));
  touch(tpath("list/.DS_Store"));
  touch(tpath("list/._a.png"));
  make_dir(tpath("list/.hidden"));
  touch(tpath("list/.hidden/x.png"));
  make_dir(tpath("list/sub"));
  touch(tpath("list/sub/z.jpg"));
  touch(tpath("list/sub/Z.jpeg"));
  make_dir(tpath("list/sub/deep"));
  touch(tpath("list/sub/deep/y.png"));
  make_dir(tpath("list/empty"));
  make_link("../outside/real.png", tpath("list/link.png"));
  make_link("../outside/dir", tpath("list/linked"));
  make_link("missing.png", tpath("list/dangling.png"));
  make_link(".", tpath("list/loop"));
  make_link("../..", tpath("list/sub/deep/up"));
}

static void test_list_flat(void **state) {
  make_tree();
  /* regular files and links to them, hidden ones left out, sorted bytewise
   * (upper case first; "sub.png" before anything in "sub/") */
  EXPECT_LIST(tpath("list"), NULL, "list/a.PNG", "list/b.png", "list/c.txt", "list/link.png",
              "list/noext", "list/sub.png");
  gr_list_opts o = {.recursive = false};
  EXPECT_LIST(tpath("list"), &o, "list/a.PNG", "list/b.png", "list/c.txt", "list/link.png",
              "list/noext", "list/sub.png");
  /* a trailing slash on the folder is not doubled */
  EXPECT_LIST(tpath("list/"), NULL, "list/a.PNG", "list/b.png", "list/c.txt", "list/link.png",
              "list/noext", "list/sub.png");
}

static void test_list_recursive(void **state) {
  make_tree();
  gr_list_opts o = {.recursive = true};
  /* the links to the root (list/loop, list/sub/deep/up) are not entered;
   * the link to a folder outside is */
  EXPECT_LIST(tpath("list"), &o, "list/a.PNG", "list/b.png", "list/c.txt", "list/link.png",
              "list/linked/w.png", "list/noext", "list/sub.png", "list/sub/Z.jpeg",
              "list/sub/deep/y.png", "list/sub/z.jpg");
  /* extensions, ignoring case */
  const char *exts[] = {"png", "JPG"};
  o.exts = exts;
  o.next = 2;
  EXPECT_LIST(tpath("list"), &o, "list/a.PNG", "list/b.png", "list/link.png", "list/linked/w.png",
              "list/sub.png", "list/sub/deep/y.png", "list/sub/z.jpg");
  o.recursive = false;
  EXPECT_LIST(tpath("list"), &o, "list/a.PNG", "list/b.png", "list/link.png", "list/sub.png");
  /* a hidden folder may be the root itself */
  o.recursive = true;
  EXPECT_LIST(tpath("list/.hidden"), &o, "list/.hidden/x.png");
  /* through a link to the root, under the link's name */
  o.next = 1;
  const char *txt[] = {"txt"};
  o.exts = txt;
  EXPECT_LIST(tpath("list/loop"), &o, "list/loop/c.txt");
}

static void test_list_empty_and_order(void **state) {
  make_dir(tpath("e"));
  gr_file_list l = {7, (char **)1};
  assert_int_equal(gr_list_files(tpath("e"), NULL, &l), GR_OK);
  assert_int_equal(l.n, 0);
  gr_file_list_free(&l);
  /* 300 files made in a scrambled order, over three folders */
  make_dir(tpath("e/a"));
  make_dir(tpath("e/a_"));
  char name[64];
  for (int i = 0; i < 300; i++) {
    int k = (i * 7919) % 300;
    snprintf(name, sizeof name, "e/%s/f%d.png", k % 3 == 0 ? "." : k % 3 == 1 ? "a" : "a_", k);
    touch(tpath(name));
  }
  gr_list_opts o = {.recursive = true};
  assert_int_equal(gr_list_files(tpath("e"), &o, &l), GR_OK);
  assert_int_equal(l.n, 300);
  for (size_t i = 1; i < l.n; i++) assert_true(strcmp(l.paths[i - 1], l.paths[i]) < 0);
  gr_file_list_free(&l);
  assert_null(l.paths);
}

static void test_list_errors(void **state) {
  gr_file_list l;
  const char *missing = tpath("no/such/folder");
  assert_int_equal(gr_list_files(missing, NULL, &l), GR_EIO);
  EXPECT_MSG("list_files: ");
  EXPECT_MSG(missing);
  EXPECT_MSG(strerror(ENOENT));
  assert_null(l.paths);
  touch(tpath("plain"));
  assert_int_equal(gr_list_files(tpath("plain"), NULL, &l), GR_EIO);
  EXPECT_MSG("not a folder");
  EXPECT_MSG(tpath("plain"));
  assert_int_equal(gr_list_files("", NULL, &l), GR_EARG);
  assert_int_equal(gr_list_files(NULL, NULL, &l), GR_EARG);
  assert_int_equal(gr_list_files(g_dir, NULL, NULL), GR_EARG);
  gr_list_opts bad = {.next = 2, .exts = NULL};
  assert_int_equal(gr_list_files(g_dir, &bad, &l), GR_EARG);
}

static void test_list_unreadable(void **state) {
  const char *locked = tpath("locked");
  make_dir(locked);
  touch(tpath("locked/in.png"));
  if (permissions_ignored(locked)) skip();
  /* the root itself: a failure */
  gr_file_list l;
  assert_int_equal(gr_list_files(locked, NULL, &l), GR_EIO);
  EXPECT_MSG(locked);
  EXPECT_MSG(strerror(EACCES));
  /* below the root: passed over, as find did */
  assert_int_equal(chmod(locked, 0755), 0);
  make_dir(tpath("list"));
  touch(tpath("list/ok.png"));
  make_dir(tpath("list/locked"));
  touch(tpath("list/locked/hidden_from_us.png"));
  assert_int_equal(chmod(tpath("list/locked"), 0), 0);
  gr_list_opts o = {.recursive = true};
  EXPECT_LIST(tpath("list"), &o, "list/ok.png");
  assert_int_equal(chmod(tpath("list/locked"), 0755), 0);
}

/* --- cwd, abspath, executable --------------------------------------------------------- */

static void expect_str_(char *got, const char *want, const char *file, int line) {
  if (!got) {
    print_error("%s:%d: NULL (%s), want \"%s\"\n", file, line, gr_errmsg(), want);
    _fail(file, line);
  }
  if (strcmp(got, want)) {
    print_error("%s:%d: \"%s\", want \"%s\"\n", file, line, got, want);
    free(got);
    _fail(file, line);
  }
  free(got);
}
#define EXPECT_STR(got, want) expect_str_((got), (want), __FILE__, __LINE__)

static void test_cwd_abspath(void **state) {
  char old[1024], here[1024], want[2048];
  assert_non_null(getcwd(old, sizeof old));
  EXPECT_STR(gr_cwd(), old);
  assert_int_equal(chdir(g_dir), 0);
  assert_non_null(getcwd(here, sizeof here));
  char *cwd = gr_cwd();
  char *rel = gr_abspath("x/./y//z/");
  char *dot = gr_abspath(".");
  char *up = gr_abspath("../w");
  assert_int_equal(chdir(old), 0);
  EXPECT_STR(cwd, here);
  snprintf(want, sizeof want, "%s/x/y/z", here);
  EXPECT_STR(rel, want);
  EXPECT_STR(dot, here);
  snprintf(want, sizeof want, "%s/../w", here);
  EXPECT_STR(up, want);
  /* absolute paths are tidied only; nothing need exist */
  EXPECT_STR(gr_abspath("/a//b/./c/"), "/a/b/c");
  EXPECT_STR(gr_abspath("/no/such/../path"), "/no/such/../path");
  EXPECT_STR(gr_abspath("/"), "/");
  EXPECT_STR(gr_abspath("//"), "/");
  EXPECT_STR(gr_abspath("/."), "/");
  assert_null(gr_abspath(""));
  assert_int_equal(gr_errcode(), GR_EARG);
  EXPECT_MSG("abspath: the path is empty");
  assert_null(gr_abspath(NULL));
}

static void test_cwd_removed(void **state) {
  char old[1024];
  assert_non_null(getcwd(old, sizeof old));
  const char *gone = tpath("gone");
  make_dir(gone);
  assert_int_equal(chdir(gone), 0);
  assert_int_equal(rmdir(gone), 0);
  char *cwd = gr_cwd();
  char *abs = gr_abspath("x");
  char *fixed = gr_abspath("/x");
  assert_int_equal(chdir(old), 0);
  /* Linux says ENOENT for a removed working directory */
  assert_null(cwd);
  assert_null(abs);
  EXPECT_MSG("abspath: x: cwd: ");
  EXPECT_STR(fixed, "/x");
}

static void test_executable(void **state) {
  char *exe = gr_executable();
  assert_non_null(exe);
  assert_int_equal(exe[0], '/');
  const char *base = strrchr(exe, '/') + 1;
  assert_string_equal(base, "test_io_files");
  assert_true(gr_exists(exe));
  free(exe);
}

/* --- run ------------------------------------------------------------------------------ */

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

static gr_run_result run_ok_(const char *const *argv, gr_run_output how, const char *file,
                             int line) {
  gr_run_result r;
  if (gr_run(argv, how, &r) != GR_OK) {
    print_error("%s:%d: run %s: %s\n", file, line, argv[0], gr_errmsg());
    _fail(file, line);
  }
  return r;
}
#define RUN_OK(how, ...) run_ok_(ARGV(__VA_ARGS__), (how), __FILE__, __LINE__)

static void test_run_status(void **state) {
  gr_run_result r = RUN_OK(GR_RUN_INHERIT, "true");
  assert_int_equal(r.code, 0);
  assert_int_equal(r.signal, 0);
  assert_null(r.output);
  r = RUN_OK(GR_RUN_INHERIT, "false");
  assert_int_equal(r.code, 1);
  assert_int_equal(r.signal, 0);
  r = RUN_OK(GR_RUN_CAPTURE, "sh", "-c", "exit 3");
  assert_int_equal(r.code, 3);
  assert_non_null(r.output);
  assert_int_equal(r.len, 0);
  assert_string_equal(r.output, "");
  gr_run_result_free(&r);
  /* found by its full path too */
  r = RUN_OK(GR_RUN_INHERIT, "/bin/sh", "-c", "exit 0");
  assert_int_equal(r.code, 0);
}

static void test_run_signal(void **state) {
  gr_run_result r = RUN_OK(GR_RUN_INHERIT, "sh", "-c", "kill -KILL $$");
  assert_int_equal(r.code, -1);
  assert_int_equal(r.signal, SIGKILL);
  r = RUN_OK(GR_RUN_CAPTURE, "sh", "-c", "echo before; kill -TERM $$");
  assert_int_equal(r.signal, SIGTERM);
  assert_string_equal(r.output, "before\n");
  gr_run_result_free(&r);
}

static void test_run_cannot_start(void **state) {
  gr_run_result r;
  assert_int_equal(gr_run(ARGV("ganlua-no-such-program"), GR_RUN_CAPTURE, &r), GR_EIO);
  EXPECT_MSG("run: ganlua-no-such-program: no such program on PATH");
  assert_null(r.output);
  const char *missing = tpath("no/such/program");
  assert_int_equal(gr_run(ARGV(missing), GR_RUN_INHERIT, &r), GR_EIO);
  EXPECT_MSG(missing);
  EXPECT_MSG(strerror(ENOENT));
  /* a file that is not executable: refused even to root (no x bit at all) */
  const char *plain = tpath("not_executable");
  write_bytes(plain, "#!/bin/sh\n", 10);
  assert_int_equal(chmod(plain, 0644), 0);
  assert_int_equal(gr_run(ARGV(plain), GR_RUN_INHERIT, &r), GR_EIO);
  EXPECT_MSG(plain);
  EXPECT_MSG(strerror(EACCES));
  /* the same, found on PATH by its name: the message says where */
  const char *old = getenv("PATH");
  char *saved = strdup(old ? old : "/usr/bin:/bin");
  char path[4096];
  snprintf(path, sizeof path, "%s:%s", g_dir, saved);
  setenv("PATH", path, 1);
  gr_status s = gr_run(ARGV("not_executable"), GR_RUN_INHERIT, &r);
  setenv("PATH", saved, 1);
  free(saved);
  assert_int_equal(s, GR_EIO);
  EXPECT_MSG("run: not_executable: cannot start ");
  EXPECT_MSG(plain);
  EXPECT_MSG(strerror(EACCES));
  /* a folder */
  assert_int_equal(gr_run(ARGV(g_dir), GR_RUN_INHERIT, &r), GR_EIO);
  EXPECT_MSG("cannot start it");
  /* misuse */
  assert_int_equal(gr_run(ARGV(""), GR_RUN_INHERIT, &r), GR_EARG);
  assert_int_equal(gr_run((const char *const[]){NULL}, GR_RUN_INHERIT, &r), GR_EARG);
  assert_int_equal(gr_run(NULL, GR_RUN_INHERIT, &r), GR_EARG);
  assert_int_equal(gr_run(ARGV("true"), (gr_run_output)7, &r), GR_EARG);
  assert_int_equal(gr_run(ARGV("true"), GR_RUN_INHERIT, NULL), GR_EARG);
}

static void test_run_arguments_as_given(void **state) {
  /* no shell: spaces, quotes, $ and * reach the program untouched */
  gr_run_result r = RUN_OK(GR_RUN_CAPTURE, "printf", "%s|", "a b", "it's", "$HOME", "*", "");
  assert_int_equal(r.code, 0);
  assert_string_equal(r.output, "a b|it's|$HOME|*||");
  gr_run_result_free(&r);
}

static void test_run_capture_merged(void **state) {
  gr_run_result r = RUN_OK(GR_RUN_CAPTURE, "sh", "-c", "echo out; echo err >&2; echo out2; exit 5");
  assert_int_equal(r.code, 5);
  assert_string_equal(r.output, "out\nerr\nout2\n");
  assert_int_equal(r.len, strlen(r.output));
  gr_run_result_free(&r);
  assert_null(r.output);
  /* binary output keeps its zero bytes */
  r = RUN_OK(GR_RUN_CAPTURE, "head", "-c", "1000", "/dev/zero");
  assert_int_equal(r.len, 1000);
  for (size_t i = 0; i < r.len; i++) assert_int_equal(r.output[i], 0);
  gr_run_result_free(&r);
}

static void test_run_capture_megabytes(void **state) {
  /* ~2 MB on stdout and ~1 MB on stderr, far past a pipe's 64 KiB: a reader
   * that waited before draining would hang here */
  enum { N = 300000, M = 150000 };
  gr_run_result r = RUN_OK(GR_RUN_CAPTURE, "sh", "-c", "seq 1 300000; seq 1 150000 >&2");
  assert_int_equal(r.code, 0);
  size_t cap = 4 << 20, len = 0;
  char *want = malloc(cap);
  for (int i = 1; i <= N; i++) len += (size_t)snprintf(want + len, cap - len, "%d\n", i);
  for (int i = 1; i <= M; i++) len += (size_t)snprintf(want + len, cap - len, "%d\n", i);
  assert_true(len > ((size_t)3 << 20) - (1 << 19));
  assert_int_equal(r.len, len);
  assert_memory_equal(r.output, want, len);
  assert_int_equal(r.output[r.len], '\0');
  free(want);
  gr_run_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, tree_setup, tree_teardown)
    T(test_mkdir_makes_parents),
    T(test_mkdir_relative),
    T(test_mkdir_errors),
    T(test_mkdir_permission),
    T(test_is_dir_exists),
    T(test_list_flat),
    T(test_list_recursive),
    T(test_list_empty_and_order),
    T(test_list_errors),
    T(test_list_unreadable),
    T(test_cwd_abspath),
    T(test_cwd_removed),
    T(test_executable),
    T(test_run_status),
    T(test_run_signal),
    T(test_run_cannot_start),
    T(test_run_arguments_as_given),
    T(test_run_capture_merged),
    T(test_run_capture_megabytes),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
