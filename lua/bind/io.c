/* gan.io: files. Failures from outside the program (a missing or corrupt
 * file, a full disk) return nil and a message; misuse raises. */
#include <stdlib.h>
#include <string.h>

#include "bind.h"

static int io_fail(lua_State *L) {
  lua_pushnil(L);
  lua_pushstring(L, gr_errmsg());
  return 2;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* save_safetensors(path, {name = tensor, ...} [, {key = value, ...}]):
 * tensors in sorted name order; metadata values as strings (tostring). */
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

/* load_safetensors(path) -> {name = tensor}, {key = value} */
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

static int l_load_image(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int channels = (int)luaL_optinteger(L, 2, 0);
  gr_tensor *t = NULL;
  if (gr_image_load(path, channels, &t) != GR_OK) return io_fail(L);
  return gan_push(L, t);
}

static int l_save_png(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  gr_tensor *x = gan_check(L, 2);
  if (gr_png_save(path, x) != GR_OK) return io_fail(L);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_load_idx(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  gr_tensor *t = NULL;
  if (gr_idx_load(path, lua_toboolean(L, 2), &t) != GR_OK) return io_fail(L);
  return gan_push(L, t);
}

void gan_open_io(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"save_safetensors", l_save_safetensors}, {"load_safetensors", l_load_safetensors},
    {"load_image", l_load_image}, {"save_png", l_save_png}, {"load_idx", l_load_idx},
    {NULL, NULL},
  };
  luaL_newlib(L, fns);
  lua_setfield(L, -2, "io");
}
