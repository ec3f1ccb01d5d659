/** Files, folders and programs: the C side of gan's file work.
 *
 * Failures from outside the program (a missing or corrupt file, a full
 * disk, a folder that may not be read, a program that is not installed)
 * return nil and a message that names the function and the path; misuse (an
 * argument of the wrong type, an empty path, an unknown option) raises.
 * Nothing here goes through a shell: paths and arguments are used as given,
 * whatever characters they hold.
 *
 *     assert(gan.io.mkdir(opt.out .. "/samples"))
 *     local images = assert(gan.io.files(dir, { recursive = true, ext = { "png", "jpg" } }))
 *     local ok, code, text = gan.io.run({ gan.io.executable(), "dcgan", "--iters=10" },
 *                                       { capture = true })
 * @module gan.io
 */
#define _POSIX_C_SOURCE 200809L /* strsignal */
#include <stdlib.h>
#include <string.h>

#include "bind.h"

/* What a function gets from the runtime and must give back, held by a
 * userdata so that a Lua error (out of memory while pushing the result)
 * cannot leak it: __gc frees whatever is left. */
#define GAN_IO_HELD "gan.io.held"

typedef struct io_held {
  gr_file_list files;
  gr_run_result run;
  char *str;
} io_held;

static io_held *new_held(lua_State *L) {
  io_held *h = lua_newuserdatauv(L, sizeof *h, 0);
  memset(h, 0, sizeof *h);
  luaL_setmetatable(L, GAN_IO_HELD);
  return h;
}

static void free_held(io_held *h) {
  gr_file_list_free(&h->files);
  gr_run_result_free(&h->run);
  free(h->str);
  h->str = NULL;
}

static int held_gc(lua_State *L) {
  free_held(luaL_checkudata(L, 1, GAN_IO_HELD));
  return 0;
}

static int io_fail(lua_State *L) {
  lua_pushnil(L);
  lua_pushstring(L, gr_errmsg());
  return 2;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/** Writes tensors and metadata to a safetensors file, atomically (a
 * temporary beside it, fsync, rename).
 * Tensors are stored in sorted name order; metadata values as strings
 * (tostring).
 * @function save_safetensors
 * @string path the file
 * @tab tensors {name = tensor, ...}
 * @tab[opt] meta {key = value, ...}
 * @return true, or nil and a message
 */
static int l_save_safetensors(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);

  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      return luaL_argerror(L, 2, "tensor names must be strings");
    if (!gan_test(L, -1))
      return luaL_argerror(L, 2, lua_pushfstring(L, "\"%s\" is a %s, not a gan.Tensor",
                                                 lua_tostring(L, -2), luaL_typename(L, -1)));
    n++;
    lua_pop(L, 1);
  }
  /* names point into the table's keys, alive while the table is on the stack */
  const char **names = gan_scratch(L, (size_t)n * sizeof *names);
  gr_tensor **ts = gan_scratch(L, (size_t)n * sizeof *ts);
  int i = 0;
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    names[i++] = lua_tostring(L, -2);
    lua_pop(L, 1);
  }
  qsort(names, (size_t)n, sizeof *names, cmp_str);
  for (i = 0; i < n; i++) {
    lua_getfield(L, 2, names[i]);
    ts[i] = gan_test(L, -1);
    lua_pop(L, 1);
  }

  /* metadata: keys sorted too (a stable file for the same run); values as
   * strings kept alive in a table on the stack */
  int nmeta = 0;
  if (!lua_isnil(L, 3)) {
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      if (lua_type(L, -2) != LUA_TSTRING) return luaL_argerror(L, 3, "metadata keys must be strings");
      nmeta++;
      lua_pop(L, 1);
    }
  }
  const char **keys = gan_scratch(L, (size_t)nmeta * sizeof *keys);
  const char **vals = gan_scratch(L, (size_t)nmeta * sizeof *vals);
  lua_createtable(L, nmeta, 0);
  int strs = lua_gettop(L);
  if (nmeta) {
    i = 0;
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      keys[i++] = lua_tostring(L, -2);
      lua_pop(L, 1);
    }
    qsort(keys, (size_t)nmeta, sizeof *keys, cmp_str);
    for (i = 0; i < nmeta; i++) {
      lua_getfield(L, 3, keys[i]);
      vals[i] = luaL_tolstring(L, -1, NULL);
      lua_rawseti(L, strs, i + 1); /* keeps the string alive */
      lua_pop(L, 1);
    }
  }
  if (gr_safetensors_save(path, n, names, ts, nmeta, keys, vals) != GR_OK) return io_fail(L);
  lua_pushboolean(L, 1);
  return 1;
}

/** Reads a safetensors file; loading never runs code.
 * @function load_safetensors
 * @string path the file
 * @return {name = tensor, ...} and {key = value, ...}, or nil and a message
 */
static int l_load_safetensors(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  gr_safetensors st;
  memset(&st, 0, sizeof st);
  if (gr_safetensors_load(path, &st) != GR_OK) return io_fail(L);
  /* the tables are made before anything is pushed into them, so a memory
   * error cannot strand the file's tensors */
  lua_createtable(L, 0, st.n);
  lua_createtable(L, 0, st.nmeta);
  for (int i = 0; i < st.n; i++) {
    gan_push(L, gr_retain(st.tensors[i].t));
    lua_setfield(L, -3, st.tensors[i].name);
  }
  for (int i = 0; i < st.nmeta; i++) {
    lua_pushstring(L, st.meta[i].value);
    lua_setfield(L, -2, st.meta[i].key);
  }
  gr_safetensors_free(&st); /* drops the file's own references; Lua holds its own */
  return 2;
}

/** Reads a PNG or JPEG image (told apart by content) as a float (C, H, W)
 * tensor in [0, 1].
 * @function load_image
 * @string path the file
 * @int[opt=0] channels 0 keeps the file's; 1, 2, 3 or 4 converts
 * @return the tensor, or nil and a message
 */
static int l_load_image(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int channels = (int)luaL_optinteger(L, 2, 0);
  gr_tensor *t = NULL;
  if (gr_image_load(path, channels, &t) != GR_OK) return io_fail(L);
  return gan_push(L, t);
}

/** Writes x (C, H, W), C in 1..4, values clamped to [0, 1], as an 8-bit PNG,
 * atomically.
 * @function save_png
 * @string path the file
 * @param x the tensor
 * @return true, or nil and a message
 */
static int l_save_png(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  gr_tensor *x = gan_check(L, 2);
  if (gr_png_save(path, x) != GR_OK) return io_fail(L);
  lua_pushboolean(L, 1);
  return 1;
}

/** Reads an IDX file (MNIST family), plain or gzip'd.
 * @function load_idx
 * @string path the file
 * @bool[opt=false] as_int int64 values instead of float
 * @return the tensor, or nil and a message
 */
static int l_load_idx(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  gr_tensor *t = NULL;
  if (gr_idx_load(path, lua_toboolean(L, 2), &t) != GR_OK) return io_fail(L);
  return gan_push(L, t);
}

/* --- folders and paths ------------------------------------------------------------- */

/* A path argument: a string that is not empty and holds no zero byte (the
 * system would see it cut short there). */
static const char *check_path(lua_State *L, int arg) {
  size_t n;
  const char *p = luaL_checklstring(L, arg, &n);
  if (n == 0) luaL_argerror(L, arg, "the path is empty");
  if (strlen(p) != n) luaL_argerror(L, arg, "the path holds a zero byte");
  return p;
}

/* The options table at arg (none, nil or a table) must hold only the keys
 * in names (NULL-terminated): a misspelt option is an error, not a no-op. */
static void check_options(lua_State *L, int arg, const char *const *names, const char *list) {
  if (lua_isnoneornil(L, arg)) return;
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    bool known = false;
    if (lua_type(L, -2) == LUA_TSTRING)
      for (int i = 0; names[i] && !known; i++) known = !strcmp(lua_tostring(L, -2), names[i]);
    if (!known) {
      const char *key = luaL_tolstring(L, -2, NULL);
      luaL_argerror(L, arg, lua_pushfstring(L, "unknown option \"%s\" (known: %s)", key, list));
    }
    lua_pop(L, 1);
  }
}

/* opts[key] as a boolean: nil is false, anything but a boolean raises. */
static bool opt_bool(lua_State *L, int arg, const char *key) {
  if (lua_isnoneornil(L, arg)) return false;
  int t = lua_getfield(L, arg, key);
  if (t != LUA_TNIL && t != LUA_TBOOLEAN)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s must be a boolean, not a %s", key, lua_typename(L, t)));
  bool on = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return on;
}

/** Makes a folder and the parents it lacks, as `mkdir -p` does.
 * A folder that is already there (or a symlink to one) is success. New
 * folders get mode 0777 less the umask.
 * @function mkdir
 * @string path the folder
 * @return true, or nil and a message (a part of the path is a file, no
 * permission, a read-only file system)
 * @usage assert(gan.io.mkdir(opt.out .. "/samples"))
 */
static int l_mkdir(lua_State *L) {
  if (gr_mkdir(check_path(L, 1)) != GR_OK) return io_fail(L);
  lua_pushboolean(L, 1);
  return 1;
}

/** Whether path is a folder. Asked of the file system (stat), nothing is
 * opened; a symlink counts as what it points to.
 * @function isdir
 * @string path the path ("" is not a folder)
 * @treturn bool
 */
static int l_isdir(lua_State *L) {
  size_t n;
  const char *p = luaL_checklstring(L, 1, &n);
  lua_pushboolean(L, strlen(p) == n && gr_is_dir(p));
  return 1;
}

/** Whether something (a file, a folder, ...) is at path. Asked of the file
 * system (stat), nothing is opened, so a file we may not read exists too; a
 * symlink counts as what it points to, so a dangling one does not exist.
 * @function exists
 * @string path the path ("" does not exist)
 * @treturn bool
 */
static int l_exists(lua_State *L) {
  size_t n;
  const char *p = luaL_checklstring(L, 1, &n);
  lua_pushboolean(L, strlen(p) == n && gr_exists(p));
  return 1;
}

/** The regular files in a folder, sorted.
 *
 * Each path is dir .. "/" .. its path below dir (relative when dir is), and
 * the list is sorted by byte order of the whole path: upper case before
 * lower case, and "a/b.png" before "a/b/c.png".
 *
 * - Symlinks count as what they point to: a link to an image is an image
 *   and is listed under the link's name; a link to a folder is entered
 *   (when recursive) unless that folder is already on the way down, so a
 *   link back to a parent is not a loop; a dangling link is left out.
 * - Hidden entries are left out, files and folders alike: every name that
 *   starts with a dot (.DS_Store, ._photo.jpg from macOS, .git/,
 *   .ipynb_checkpoints/). dir itself may be hidden.
 * - A sub-folder that may not be read (a root-owned lost+found) is passed
 *   over; dir itself missing, not a folder or unreadable is a failure.
 * @function files
 * @string dir the folder
 * @tparam[opt] table opts
 * `recursive` (boolean, default false): the files of sub-folders too, at
 * any depth;
 * `ext` (a string or a list of them): only files whose name ends in a dot
 * and one of these, compared ignoring case ("png" takes x.PNG; a leading
 * dot, ".png", is allowed); without it every file
 * @return the list of paths, or nil and a message
 * @usage local images = assert(gan.io.files(dir, { recursive = true, ext = { "png", "jpg" } }))
 */
static int l_files(lua_State *L) {
  static const char *const names[] = {"recursive", "ext", NULL};
  const char *dir = check_path(L, 1);
  check_options(L, 2, names, "recursive, ext");
  lua_settop(L, 2);
  gr_list_opts o = {.recursive = opt_bool(L, 2, "recursive")};
  int t = lua_isnil(L, 2) ? LUA_TNIL : lua_getfield(L, 2, "ext");
  if (t == LUA_TSTRING || t == LUA_TTABLE) {
    lua_Integer len_ext = t == LUA_TSTRING ? 1 : luaL_len(L, 3);
    if (len_ext > 1 << 20) luaL_argerror(L, 2, "ext has more than 2^20 elements");
    int n = len_ext < 0 ? 0 : (int)len_ext;
    const char **exts = gan_scratch(L, (size_t)(n > 0 ? n : 1) * sizeof *exts);
    /* the extensions point into strings kept alive in here */
    lua_createtable(L, n, 0);
    int keep = lua_gettop(L);
    for (int i = 0; i < n; i++) {
      if (t == LUA_TTABLE)
        lua_geti(L, 3, i + 1);
      else
        lua_pushvalue(L, 3);
      size_t len;
      const char *e = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
      if (!e)
        luaL_argerror(
            L, 2, lua_pushfstring(L, "ext[%d] is a %s, not a string", i + 1, luaL_typename(L, -1)));
      if (e[0] == '.') e++, len--;
      if (len == 0 || strlen(e) != len || strchr(e, '.') || strchr(e, '/'))
        luaL_argerror(L, 2,
                      lua_pushfstring(L, "ext[%d] \"%s\" is not an extension such as \"png\"",
                                      i + 1, lua_tostring(L, -1)));
      exts[i] = e;
      lua_rawseti(L, keep, i + 1);
    }
    o.exts = exts;
    o.next = n;
    /* an empty list takes nothing, not everything */
    if (n == 0) {
      lua_newtable(L);
      return 1;
    }
  } else if (t != LUA_TNIL) {
    luaL_argerror(L, 2,
                  lua_pushfstring(L, "ext must be a string or a list of strings, not a %s",
                                  lua_typename(L, t)));
  }
  io_held *h = new_held(L);
  if (gr_list_files(dir, &o, &h->files) != GR_OK) return io_fail(L);
  lua_createtable(L, h->files.n > INT32_MAX ? INT32_MAX : (int)h->files.n, 0);
  for (size_t i = 0; i < h->files.n; i++) {
    lua_pushstring(L, h->files.paths[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  free_held(h);
  return 1;
}

/** The working directory.
 * @function cwd
 * @return its absolute path, or nil and a message (it was removed)
 */
static int l_cwd(lua_State *L) {
  io_held *h = new_held(L);
  if (!(h->str = gr_cwd())) return io_fail(L);
  lua_pushstring(L, h->str);
  free_held(h);
  return 1;
}

/** path made absolute against the working directory, and tidied: repeated
 * slashes, "." parts and a trailing slash go. ".." parts stay (taking them
 * away by text is wrong when the part before is a symlink). The path need
 * not exist; symlinks are not resolved.
 * @function abspath
 * @string path the path
 * @return the absolute path, or nil and a message (the working directory
 * was removed)
 * @usage gan.io.abspath("./runs//x/")   --> "/home/me/ganlua/runs/x"
 */
static int l_abspath(lua_State *L) {
  const char *path = check_path(L, 1);
  io_held *h = new_held(L);
  if (!(h->str = gr_abspath(path))) return io_fail(L);
  lua_pushstring(L, h->str);
  free_held(h);
  return 1;
}

/** The absolute path of the running program (from /proc/self/exe, so
 * Linux): ganlua itself, whatever name or PATH entry started it, so that a
 * script can start "this same ganlua" with @{run}. Under a stock Lua that
 * loaded gan, it is that interpreter.
 * @function executable
 * @return the path, or nil and a message
 * @usage gan.io.run({ gan.io.executable(), "dcgan", "--iters=100" })
 */
static int l_executable(lua_State *L) {
  io_held *h = new_held(L);
  if (!(h->str = gr_executable())) return io_fail(L);
  lua_pushstring(L, h->str);
  free_held(h);
  return 1;
}

/* --- programs ---------------------------------------------------------------------- */

/** Runs a program and waits for it to end. No shell is involved: each
 * element of argv reaches the program exactly as given, spaces, quotes,
 * dollars and stars included, so nothing needs quoting.
 *
 * The program shares our standard input. Its standard output and error go
 * where ours go, or, with `capture`, are collected, merged in the order the
 * program wrote them, and returned as a string of any size (read while the
 * program runs, so megabytes of output do not stall it). Our own buffered
 * output is flushed first, so it comes before the program's.
 * @function run
 * @tparam {string,...} argv the program and its arguments: argv[1] is looked
 * up on PATH unless it holds a slash; numbers are taken as their text
 * @tparam[opt] table opts `capture` (boolean, default false): collect the
 * output instead of passing it through
 * @return ok: true when the program exited with status 0;
 * code: its exit status (an integer), or, when a signal ended it, a text
 * such as "signal 9 (Killed)";
 * output: with `capture`, what it wrote.
 * Or nil and a message when it cannot be started (not found on PATH, not
 * executable).
 * @usage local ok, code, text =
 *   gan.io.run({ "ganlua", "dcgan", "--iters=10", "--out=" .. dir }, { capture = true })
 * if not ok then error(("dcgan failed (%s):\n%s"):format(code, text)) end
 */
static int l_run(lua_State *L) {
  static const char *const names[] = {"capture", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  check_options(L, 2, names, "capture");
  lua_settop(L, 2);
  bool capture = opt_bool(L, 2, "capture");
  lua_Integer n = luaL_len(L, 1);
  if (n < 1) return luaL_argerror(L, 1, "argv is empty: argv[1] is the program");
  if (n > 1 << 20) return luaL_argerror(L, 1, "argv has more than 2^20 elements");
  const char **argv = gan_scratch(L, (size_t)(n + 1) * sizeof *argv);
  /* the argument strings (numbers turned into text) stay alive in here */
  lua_createtable(L, (int)n, 0);
  int keep = lua_gettop(L);
  for (lua_Integer i = 1; i <= n; i++) {
    int t = lua_geti(L, 1, i);
    if (t != LUA_TSTRING && t != LUA_TNUMBER)
      return luaL_argerror(
          L, 1, lua_pushfstring(L, "argv[%I] is a %s, not a string", i, lua_typename(L, t)));
    size_t len;
    const char *a = lua_tolstring(L, -1, &len);
    if (strlen(a) != len)
      return luaL_argerror(L, 1, lua_pushfstring(L, "argv[%I] holds a zero byte", i));
    if (i == 1 && len == 0) return luaL_argerror(L, 1, "argv[1], the program, is empty");
    argv[i - 1] = a;
    lua_rawseti(L, keep, i);
  }
  argv[n] = NULL;
  io_held *h = new_held(L);
  if (gr_run(argv, capture ? GR_RUN_CAPTURE : GR_RUN_INHERIT, &h->run) != GR_OK) return io_fail(L);
  lua_pushboolean(L, h->run.signal == 0 && h->run.code == 0);
  if (h->run.signal) {
    const char *what = strsignal(h->run.signal);
    lua_pushfstring(L, "signal %d (%s)", h->run.signal, what ? what : "unknown");
  } else {
    lua_pushinteger(L, h->run.code);
  }
  if (capture) lua_pushlstring(L, h->run.output ? h->run.output : "", h->run.len);
  free_held(h);
  return capture ? 3 : 2;
}

void gan_open_io(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"save_safetensors", l_save_safetensors}, {"load_safetensors", l_load_safetensors},
    {"load_image", l_load_image}, {"save_png", l_save_png}, {"load_idx", l_load_idx},
    {"mkdir", l_mkdir}, {"isdir", l_isdir}, {"exists", l_exists}, {"files", l_files},
    {"cwd", l_cwd}, {"abspath", l_abspath}, {"executable", l_executable}, {"run", l_run},
    {NULL, NULL},
  };
  if (luaL_newmetatable(L, GAN_IO_HELD)) {
    lua_pushcfunction(L, held_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  lua_setfield(L, -2, "io");
}
