/* The Tensor userdata: making, reading, printing, in-place updates, and
 * telling Lua's collector how much memory tensors hold. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bind.h"

/***
 * Making tensors and reading them. Every function here is a field of the gan
 * table (`gan.zeros(2, 3)`); the readers and in-place updates are methods of
 * a tensor (`x:size()`). A shape is given as numbers (`gan.zeros(2, 3)`) or
 * one table (`gan.zeros({2, 3})`); a dtype as "float32" (the default, also
 * "float") or "int64" (also "long"). Dims count from 1, and -1 is the last.
 * The ops on tensors are on the page gan.Tensor.
 *
 * A tensor also answers to Lua's operators: `a + b`, `a - b`, `a * b`,
 * `a / b`, `a ^ b` and `-a` (elementwise, a number on either side); `x[i]`
 * is `x:select(1, i)` (from 1; negative from the end), `x[i] = v` fills
 * that slice with a number or copies a tensor into it, `#x` is
 * `x:size(1)`, and `tostring(x)` (print) shows its values, shape and dtype.
 * @module gan.tensors
 */
/* --- memory accounting --------------------------------------------------------
 * Lua sees a Tensor as a few bytes, not the megabytes it holds, so on its
 * own the collector would let dead tensors pile up. We pace it by tensor
 * bytes instead, the way Lua paces itself by its own heap: after each new
 * tensor, if the runtime's live bytes have grown by half of what was live
 * after the last collection (and by at least GC_FLOOR), a full collection
 * runs. Memory stays within about 1.5 times the truly live tensors plus
 * GC_FLOOR, and the collector's work is paid once per that much allocation,
 * not once per tensor. */
#define GC_FLOOR (16 << 20)

typedef struct gc_acct {
  int64_t base; /* live tensor bytes after the last collection */
} gc_acct;

static const char acct_key = 'a';

static gc_acct *acct(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &acct_key);
  gc_acct *a = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return a;
}

static void account(lua_State *L) {
  gc_acct *a = acct(L);
  if (!a) return;
  int64_t now = gr_live_bytes();
  if (now < a->base) a->base = now; /* Lua's own cycles freed some */
  int64_t allow = a->base / 2 > GC_FLOOR ? a->base / 2 : GC_FLOOR;
  if (now - a->base <= allow) return;
  lua_gc(L, LUA_GCCOLLECT);
  a->base = gr_live_bytes();
}

/* --- the userdata ------------------------------------------------------------ */

gr_tensor *gan_test(lua_State *L, int arg) {
  gan_box *b = luaL_testudata(L, arg, GAN_TENSOR);
  if (b && !b->t) luaL_argerror(L, arg, "tensor was closed");
  return b ? b->t : NULL;
}

gr_tensor *gan_check(lua_State *L, int arg) {
  gan_box *b = luaL_checkudata(L, arg, GAN_TENSOR);
  if (!b->t) luaL_argerror(L, arg, "tensor was closed");
  return b->t;
}

gr_tensor *gan_opt(lua_State *L, int arg) {
  return lua_isnoneornil(L, arg) ? NULL : gan_check(L, arg);
}

int gan_push(lua_State *L, gr_tensor *t) {
  gan_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->t = t;
  luaL_setmetatable(L, GAN_TENSOR);
  account(L);
  return 1;
}

int gan_error(lua_State *L, const char *fn, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  luaL_where(L, 1);
  lua_pushfstring(L, "gan.%s: ", fn);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 3);
  return lua_error(L);
}

int gan_fail(lua_State *L, const char *fn) {
  const char *msg = gr_errmsg();
  size_t n = strlen(fn);
  /* the runtime names its op first; do not say "gan.sum: sum: ..." */
  if (!strncmp(msg, fn, n) && msg[n] == ':' && msg[n + 1] == ' ') msg += n + 2;
  if (!*msg) msg = "failed (no message from the runtime)";
  return gan_error(L, fn, "%s", msg);
}

int gan_result(lua_State *L, const char *fn, gr_tensor *t) {
  if (!t) return gan_fail(L, fn);
  return gan_push(L, t);
}

void *gan_scratch(lua_State *L, size_t nbytes) {
  return lua_newuserdatauv(L, nbytes ? nbytes : 1, 0);
}

/* --- arguments ------------------------------------------------------------------ */

static int64_t check_size(lua_State *L, int arg, int idx) {
  int ok;
  lua_Integer v = lua_tointegerx(L, idx, &ok);
  if (!ok)
    luaL_argerror(L, arg, lua_pushfstring(L, "sizes must be integers, got %s",
                                          luaL_typename(L, idx)));
  return v;
}

int gan_shape(lua_State *L, int arg, int64_t *shape, int *next) {
  int n = 0;
  if (lua_istable(L, arg)) {
    n = (int)luaL_len(L, arg);
    if (n > GR_MAX_DIM)
      luaL_argerror(L, arg, lua_pushfstring(L, "a shape has at most %d dims, got %d", GR_MAX_DIM, n));
    for (int d = 0; d < n; d++) {
      lua_geti(L, arg, d + 1);
      shape[d] = check_size(L, arg, -1);
      lua_pop(L, 1);
    }
    if (next) *next = arg + 1;
    return n;
  }
  int top = lua_gettop(L), i = arg;
  for (; i <= top && lua_type(L, i) == LUA_TNUMBER; i++) {
    if (n == GR_MAX_DIM)
      luaL_argerror(L, i, lua_pushfstring(L, "a shape has at most %d dims", GR_MAX_DIM));
    shape[n++] = check_size(L, i, i);
  }
  if (next) *next = i;
  return n;
}

int gan_shape1(lua_State *L, int arg, int64_t *shape) {
  if (lua_type(L, arg) == LUA_TNUMBER) {
    shape[0] = check_size(L, arg, arg);
    return 1;
  }
  luaL_checktype(L, arg, LUA_TTABLE);
  return gan_shape(L, arg, shape, NULL);
}

static int to_cdim(lua_State *L, int arg, lua_Integer d, const gr_tensor *x, int n) {
  int m = n == 0 ? 1 : n; /* a 0-d tensor answers to dim 1 and -1, as in PyTorch */
  if (d >= 1 && d <= m) return (int)d - 1;
  if (d <= -1 && d >= -m) return (int)(d + m);
  if (d == 0)
    return luaL_argerror(L, arg, "dims count from 1 (1 = first, -1 = last); 0 is not a dim");
  return luaL_argerror(L, arg, lua_pushfstring(L, "dim %I out of range for a tensor of shape %s",
                                               d, gr_shape_str(x)));
}

int gan_dim(lua_State *L, int arg, const gr_tensor *x, int n) {
  return to_cdim(L, arg, luaL_checkinteger(L, arg), x, n);
}

int gan_optdim(lua_State *L, int arg, const gr_tensor *x, int n, int def) {
  return lua_isnoneornil(L, arg) ? def : gan_dim(L, arg, x, n);
}

int gan_dims(lua_State *L, int arg, const gr_tensor *x, int *dims) {
  if (lua_isnoneornil(L, arg)) return 0;
  if (!lua_istable(L, arg)) {
    dims[0] = gan_dim(L, arg, x, x->ndim);
    return 1;
  }
  int n = (int)luaL_len(L, arg);
  if (n > GR_MAX_DIM)
    luaL_argerror(L, arg, lua_pushfstring(L, "at most %d dims, got %d", GR_MAX_DIM, n));
  for (int k = 0; k < n; k++) {
    lua_geti(L, arg, k + 1);
    int ok;
    lua_Integer d = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_argerror(L, arg, "dims must be integers");
    dims[k] = to_cdim(L, arg, d, x, x->ndim);
    lua_pop(L, 1);
  }
  return n;
}

gr_dtype gan_dtype(lua_State *L, int arg, gr_dtype def) {
  static const char *const names[] = {"float32", "int64", "float", "long", NULL};
  if (lua_isnoneornil(L, arg)) return def;
  int i = luaL_checkoption(L, arg, NULL, names);
  return (i == 1 || i == 3) ? GR_I64 : GR_F32;
}

/* --- element access -------------------------------------------------------------- */

/* storage offset of the element at logical flat index i */
static int64_t flat_off(const gr_tensor *t, int64_t i) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    off += (i % t->shape[d]) * t->stride[d];
    i /= t->shape[d];
  }
  return off;
}

static void push_elem(lua_State *L, const gr_tensor *t, int64_t off) {
  if (t->dtype == GR_I64) lua_pushinteger(L, ((const int64_t *)t->storage->data)[off]);
  else lua_pushnumber(L, ((const float *)t->storage->data)[off]);
}

/* --- constructors ----------------------------------------------------------------- */

/* Shape of a nested table: the lengths along its first elements. */
static int nested_shape(lua_State *L, int arg, int64_t *shape) {
  int n = 0;
  lua_pushvalue(L, arg);
  while (lua_istable(L, -1)) {
    if (n == GR_MAX_DIM)
      luaL_argerror(L, arg, lua_pushfstring(L, "more than %d levels of nesting", GR_MAX_DIM));
    shape[n++] = (int64_t)lua_rawlen(L, -1);
    if (shape[n - 1] == 0) break;
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
  return n;
}

/* Writes the numbers of the table at idx (depth d) into t, checking that it
 * is rectangular. pos holds the 0-based index being filled, for messages. */
static void fill_nested(lua_State *L, int idx, gr_tensor *t, int d, int64_t *flat, int64_t *pos) {
  int64_t n = (int64_t)lua_rawlen(L, idx);
  if (n != t->shape[d]) {
    gan_error(L, "tensor", "ragged nesting: the list at %s has length %I, expected %I",
              gr_dims_str(d, pos), (lua_Integer)n, (lua_Integer)t->shape[d]);
  }
  for (int64_t i = 0; i < n; i++) {
    pos[d] = i + 1;
    lua_rawgeti(L, idx, i + 1);
    if (d + 1 < t->ndim) {
      if (!lua_istable(L, -1))
        gan_error(L, "tensor", "expected a list at %s, got %s", gr_dims_str(d + 1, pos),
                  luaL_typename(L, -1));
      fill_nested(L, lua_gettop(L), t, d + 1, flat, pos);
    } else {
      int ok;
      if (t->dtype == GR_I64) {
        lua_Integer v = lua_tointegerx(L, -1, &ok);
        if (!ok)
          gan_error(L, "tensor", "element at %s is %s, not an integer", gr_dims_str(d + 1, pos),
                    lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
        gr_i64(t)[(*flat)++] = v;
      } else {
        lua_Number v = lua_tonumberx(L, -1, &ok);
        if (!ok)
          gan_error(L, "tensor", "element at %s is a %s, not a number", gr_dims_str(d + 1, pos),
                    luaL_typename(L, -1));
        gr_f32(t)[(*flat)++] = (float)v;
      }
    }
    lua_pop(L, 1);
  }
}

/*** A tensor from Lua values: a nested table of numbers (its shape read
 * from the nesting), a number (a 0-d tensor), or a tensor (a copy).
 * @function tensor
 * @tparam table|number|Tensor values
 * @string[opt="float32"] dtype "float32" or "int64"
 * @treturn Tensor
 * @usage local x = gan.tensor {{1, 2}, {3, 4}} -- shape (2, 2) */
static int l_tensor(lua_State *L) {
  gr_dtype dt = gan_dtype(L, 2, GR_F32);
  gr_tensor *src = gan_test(L, 1);
  if (src) { /* a copy, converted to dtype */
    gr_tensor *t = gr_empty(dt, src->ndim, src->shape);
    if (!t) return gan_fail(L, "tensor");
    if (gr_copy_(t, src) != GR_OK) {
      gr_release(t);
      return gan_fail(L, "tensor");
    }
    return gan_push(L, t);
  }
  if (lua_type(L, 1) == LUA_TNUMBER) {
    gr_tensor *t = gr_empty(dt, 0, NULL);
    if (!t) return gan_fail(L, "tensor");
    if (dt == GR_I64) {
      int ok;
      lua_Integer v = lua_tointegerx(L, 1, &ok);
      if (!ok) {
        gr_release(t);
        return luaL_argerror(L, 1, "not an integer");
      }
      gr_i64(t)[0] = v;
    } else {
      gr_f32(t)[0] = (float)lua_tonumber(L, 1);
    }
    return gan_push(L, t);
  }
  luaL_argexpected(L, lua_istable(L, 1), 1, "table, number or gan.Tensor");
  int64_t shape[GR_MAX_DIM], pos[GR_MAX_DIM + 1] = {0}, flat = 0;
  int nd = nested_shape(L, 1, shape);
  /* pushed first: if the table is bad, the collector frees the tensor */
  gan_result(L, "tensor", gr_empty(dt, nd, shape));
  gr_tensor *t = gan_check(L, -1);
  if (gr_numel(t) > 0) fill_nested(L, 1, t, 0, &flat, pos);
  return 1;
}

/* empty/zeros/ones(shape... [, dtype]) */
static int make_filled(lua_State *L, const char *fn, int what) {
  int64_t shape[GR_MAX_DIM];
  int next;
  int nd = gan_shape(L, 1, shape, &next);
  gr_dtype dt = gan_dtype(L, next, GR_F32);
  gr_tensor *t = what == 0 ? gr_empty(dt, nd, shape)
               : what == 1 ? gr_zeros(dt, nd, shape)
                           : gr_full(dt, nd, shape, 1.0);
  return gan_result(L, fn, t);
}
/*** A tensor whose elements are not set: fill it before reading.
 * @function empty
 * @param ... the shape: numbers, or one table
 * @string[opt="float32"] dtype
 * @treturn Tensor */
/*** A tensor of zeros.
 * @function zeros
 * @param ... the shape: numbers, or one table
 * @string[opt="float32"] dtype
 * @treturn Tensor
 * @usage local z = gan.zeros(64, 100) */
/*** A tensor of ones.
 * @function ones
 * @param ... the shape: numbers, or one table
 * @string[opt="float32"] dtype
 * @treturn Tensor */
static int l_empty(lua_State *L) { return make_filled(L, "empty", 0); }
static int l_zeros(lua_State *L) { return make_filled(L, "zeros", 1); }
static int l_ones(lua_State *L) { return make_filled(L, "ones", 2); }

/*** A tensor whose every element is v.
 * @function full
 * @tparam table|int shape a table, or a number for one dim
 * @number v
 * @string[opt="float32"] dtype
 * @treturn Tensor
 * @usage local half = gan.full({2, 3}, 0.5) */
static int l_full(lua_State *L) {
  int64_t shape[GR_MAX_DIM];
  int nd = gan_shape1(L, 1, shape);
  double v = luaL_checknumber(L, 2);
  return gan_result(L, "full", gr_full(gan_dtype(L, 3, GR_F32), nd, shape, v));
}

/*** A 0-d float tensor holding v.
 * @function scalar
 * @number v
 * @treturn Tensor */
static int l_scalar(lua_State *L) { return gan_result(L, "scalar", gr_scalar(luaL_checknumber(L, 1))); }

/*** Uniform draws in [0, 1) from the current random stream (see gan.random).
 * @function rand
 * @param ... the shape: numbers, or one table
 * @treturn Tensor float */
static int l_rand(lua_State *L) {
  int64_t shape[GR_MAX_DIM];
  int nd = gan_shape(L, 1, shape, NULL);
  return gan_result(L, "rand", gr_rand(nd, shape));
}

/*** Draws from the standard normal distribution N(0, 1), from the current
 * random stream.
 * @function randn
 * @param ... the shape: numbers, or one table
 * @treturn Tensor float
 * @usage local z = gan.randn(64, 100) */
static int l_randn(lua_State *L) {
  int64_t shape[GR_MAX_DIM];
  int nd = gan_shape(L, 1, shape, NULL);
  return gan_result(L, "randn", gr_randn(nd, shape));
}

/*** Uniform draws in [lo, hi).
 * @function uniform
 * @tparam table|int shape a table, or a number for one dim
 * @number[opt=0] lo
 * @number[opt=1] hi
 * @treturn Tensor float */
static int l_uniform(lua_State *L) {
  int64_t shape[GR_MAX_DIM];
  int nd = gan_shape1(L, 1, shape);
  double lo = luaL_optnumber(L, 2, 0), hi = luaL_optnumber(L, 3, 1);
  return gan_result(L, "uniform", gr_uniform(nd, shape, lo, hi));
}

/*** Draws from N(mean, std^2).
 * @function normal
 * @tparam table|int shape a table, or a number for one dim
 * @number[opt=0] mean
 * @number[opt=1] std
 * @treturn Tensor float */
static int l_normal(lua_State *L) {
  int64_t shape[GR_MAX_DIM];
  int nd = gan_shape1(L, 1, shape);
  double mean = luaL_optnumber(L, 2, 0), std = luaL_optnumber(L, 3, 1);
  return gan_result(L, "normal", gr_normal(nd, shape, mean, std));
}

/*** Whole numbers drawn uniformly from lo, lo + 1, ..., hi - 1.
 * @function randint
 * @int lo the smallest value
 * @int hi one more than the largest value
 * @param ... the shape: numbers, or one table
 * @treturn Tensor int64
 * @usage local labels = gan.randint(0, 10, 64) -- 64 classes in 0..9 */
static int l_randint(lua_State *L) {
  int64_t shape[GR_MAX_DIM];
  lua_Integer lo = luaL_checkinteger(L, 1), hi = luaL_checkinteger(L, 2);
  int nd = gan_shape(L, 3, shape, NULL);
  return gan_result(L, "randint", gr_randint(nd, shape, lo, hi));
}

/*** A random permutation of 0, 1, ..., n - 1 (counting from 0, as indices
 * of index_select and gather do).
 * @function randperm
 * @int n
 * @treturn Tensor int64 of shape (n) */
static int l_randperm(lua_State *L) {
  return gan_result(L, "randperm", gr_randperm(luaL_checkinteger(L, 1)));
}

/*** The numbers from start up to (not including) stop, step apart;
 * `gan.arange(n)` is 0, 1, ..., n - 1.
 * @function arange
 * @number start (or stop, when it is the only argument)
 * @number[opt] stop
 * @number[opt=1] step
 * @treturn Tensor float */
static int l_arange(lua_State *L) {
  double a = luaL_checknumber(L, 1);
  if (lua_isnoneornil(L, 2)) return gan_result(L, "arange", gr_arange(0, a, 1));
  double b = luaL_checknumber(L, 2), step = luaL_optnumber(L, 3, 1);
  return gan_result(L, "arange", gr_arange(a, b, step));
}

/*** n numbers evenly spaced from a to b, both included.
 * @function linspace
 * @number a
 * @number b
 * @int n
 * @treturn Tensor float of shape (n) */
static int l_linspace(lua_State *L) {
  double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
  return gan_result(L, "linspace", gr_linspace(a, b, luaL_checkinteger(L, 3)));
}

/*** The n x n identity matrix.
 * @function eye
 * @int n
 * @treturn Tensor float of shape (n, n) */
static int l_eye(lua_State *L) { return gan_result(L, "eye", gr_eye(luaL_checkinteger(L, 1))); }

/*** Whether v is a gan.Tensor.
 * @function is_tensor
 * @param v any value
 * @treturn boolean */
static int l_is_tensor(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, GAN_TENSOR) != NULL);
  return 1;
}

/* --- reading ---------------------------------------------------------------------- */

/* A shape table prints as {2, 3}: print(x:size()) in a script says the shape. */
#define GAN_SIZE "gan.Size"

static int size_tostring(lua_State *L) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addchar(&b, '{');
  lua_Integer n = luaL_len(L, 1);
  for (lua_Integer i = 1; i <= n; i++) {
    if (i > 1) luaL_addstring(&b, ", ");
    lua_geti(L, 1, i);
    luaL_tolstring(L, -1, NULL); /* whatever a user stored there */
    lua_remove(L, -2);
    luaL_addvalue(&b);
  }
  luaL_addchar(&b, '}');
  luaL_pushresult(&b);
  return 1;
}

static void push_sizes(lua_State *L, const gr_tensor *t) {
  lua_createtable(L, t->ndim, 0);
  for (int d = 0; d < t->ndim; d++) {
    lua_pushinteger(L, t->shape[d]);
    lua_rawseti(L, -2, d + 1);
  }
  if (luaL_newmetatable(L, GAN_SIZE)) {
    lua_pushcfunction(L, size_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
}

/*** The shape as a table of numbers (printed as `{2, 3}`), or the size of
 * one dim. A 0-d tensor has the shape {} and size 1 along dim 1 and -1.
 * @function size
 * @tparam Tensor x
 * @int[opt] dim
 * @treturn table|int
 * @usage local n = x:size(1) -- the batch size */
static int m_size(lua_State *L) {
  gr_tensor *t = gan_check(L, 1);
  if (lua_isnoneornil(L, 2)) {
    push_sizes(L, t);
    return 1;
  }
  int d = gan_dim(L, 2, t, t->ndim);
  lua_pushinteger(L, t->ndim ? t->shape[d] : 1);
  return 1;
}

/*** The shape as a table of numbers; the same as `x:size()`.
 * @function shape
 * @tparam Tensor x
 * @treturn table */
static int m_shape(lua_State *L) {
  push_sizes(L, gan_check(L, 1));
  return 1;
}

/*** The number of dims (0 for a 0-d tensor).
 * @function dim
 * @tparam Tensor x
 * @treturn int */
static int m_dim(lua_State *L) {
  lua_pushinteger(L, gan_check(L, 1)->ndim);
  return 1;
}

/*** The number of elements: the product of the sizes.
 * @function numel
 * @tparam Tensor x
 * @treturn int */
static int m_numel(lua_State *L) {
  lua_pushinteger(L, gr_numel(gan_check(L, 1)));
  return 1;
}

/*** The element type: "float32" or "int64".
 * @function dtype
 * @tparam Tensor x
 * @treturn string */
static int m_dtype(lua_State *L) {
  lua_pushstring(L, gr_dtype_name(gan_check(L, 1)->dtype));
  return 1;
}

/*** The value of a one-element tensor as a Lua number (an integer for int64).
 * @function item
 * @tparam Tensor x
 * @treturn number
 * @usage print(loss:item()) */
static int m_item(lua_State *L) {
  gr_tensor *t = gan_check(L, 1);
  if (gr_numel(t) != 1)
    return gan_error(L, "item", "only a one-element tensor has an item; this one has shape %s",
                     gr_shape_str(t));
  push_elem(L, t, flat_off(t, 0));
  return 1;
}

/*** The elements as nested Lua tables (a number for a 0-d tensor).
 * @function totable
 * @tparam Tensor x
 * @treturn table|number */
static void totable_rec(lua_State *L, const gr_tensor *t, int d, int64_t off) {
  if (d == t->ndim) {
    push_elem(L, t, off);
    return;
  }
  lua_createtable(L, (int)t->shape[d], 0);
  for (int64_t i = 0; i < t->shape[d]; i++) {
    totable_rec(L, t, d + 1, off + i * t->stride[d]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int m_totable(lua_State *L) {
  gr_tensor *t = gan_check(L, 1);
  luaL_checkstack(L, t->ndim + 4, "totable");
  totable_rec(L, t, 0, t->offset);
  return 1;
}

/*** Whether the elements lie in order in memory (no view has reordered or
 * skipped them).
 * @function is_contiguous
 * @tparam Tensor x
 * @treturn boolean */
static int m_is_contiguous(lua_State *L) {
  lua_pushboolean(L, gr_is_contiguous(gan_check(L, 1)));
  return 1;
}

/*** With no argument, whether x requires a gradient; with one, sets it and
 * returns x. Only a leaf (a tensor no recorded op made) may be set.
 * @function requires_grad
 * @tparam Tensor x
 * @bool[opt] flag
 * @treturn boolean|Tensor
 * @usage local w = gan.randn(3, 3):requires_grad(true) */
static int m_requires_grad(lua_State *L) {
  gr_tensor *t = gan_check(L, 1);
  if (lua_isnone(L, 2)) {
    lua_pushboolean(L, t->requires_grad);
    return 1;
  }
  if (gr_set_requires_grad(t, lua_toboolean(L, 2)) != GR_OK) return gan_fail(L, "requires_grad");
  lua_settop(L, 1);
  return 1;
}

/*** The name of the op that made x, when that op was recorded for the
 * gradient; nil for a leaf.
 * @function grad_fn
 * @tparam Tensor x
 * @treturn string|nil */
static int m_grad_fn(lua_State *L) {
  const char *name = gr_grad_fn_name(gan_check(L, 1));
  if (*name) lua_pushstring(L, name);
  else lua_pushnil(L);
  return 1;
}

/* --- printing ----------------------------------------------------------------------
 * Like PyTorch: values right-aligned to a common width, four decimals (or
 * "1." for whole floats, or scientific for wide ranges), rows wrapped at 80
 * columns, and past 1000 elements only the 3 first and last of each dim. */
#define PRINT_THRESHOLD 1000
#define PRINT_EDGE 3
#define PRINT_WIDTH 80

typedef struct printer {
  const gr_tensor *t;
  bool summarize;
  int mode; /* 0 int64, 1 whole floats, 2 fixed, 3 scientific */
  int width;
  int indent;
  luaL_Buffer *b;
} printer;

static bool shown(const printer *p, int d, int64_t i) {
  int64_t n = p->t->shape[d];
  return !p->summarize || n <= 2 * PRINT_EDGE || i < PRINT_EDGE || i >= n - PRINT_EDGE;
}

static int format_value(const printer *p, int64_t off, char *buf, size_t cap) {
  if (p->mode == 0) return snprintf(buf, cap, "%lld", (long long)((int64_t *)p->t->storage->data)[off]);
  double v = ((float *)p->t->storage->data)[off];
  if (isnan(v)) return snprintf(buf, cap, "nan");
  if (isinf(v)) return snprintf(buf, cap, v > 0 ? "inf" : "-inf");
  if (p->mode == 1) return snprintf(buf, cap, "%.0f.", v);
  if (p->mode == 2) return snprintf(buf, cap, "%.4f", v);
  return snprintf(buf, cap, "%.4e", v);
}

/* Visits every shown element: fn(p, off, ctx). */
typedef void (*visit_fn)(printer *p, int64_t off, void *ctx);
static void visit(printer *p, int d, int64_t off, visit_fn fn, void *ctx) {
  if (d == p->t->ndim) {
    fn(p, off, ctx);
    return;
  }
  for (int64_t i = 0; i < p->t->shape[d]; i++) {
    if (!shown(p, d, i)) continue;
    visit(p, d + 1, off + i * p->t->stride[d], fn, ctx);
  }
}

typedef struct stats {
  double maxabs, minabs; /* over finite values; minabs over nonzero ones */
  bool whole;
} stats;

static void gather_stats(printer *p, int64_t off, void *ctx) {
  stats *s = ctx;
  double v = ((float *)p->t->storage->data)[off];
  if (!isfinite(v)) return;
  double a = fabs(v);
  if (a > s->maxabs) s->maxabs = a;
  if (a > 0 && (s->minabs == 0 || a < s->minabs)) s->minabs = a;
  if (v != floor(v)) s->whole = false;
}

static void measure(printer *p, int64_t off, void *ctx) {
  char buf[64];
  int n = format_value(p, off, buf, sizeof buf);
  if (n > p->width) p->width = n;
}

static void add_spaces(luaL_Buffer *b, int n) {
  for (int i = 0; i < n; i++) luaL_addchar(b, ' ');
}

static void print_rec(printer *p, int d, int64_t off) {
  const gr_tensor *t = p->t;
  luaL_Buffer *b = p->b;
  if (d == t->ndim) {
    char buf[64];
    int n = format_value(p, off, buf, sizeof buf);
    add_spaces(b, p->width - n);
    luaL_addlstring(b, buf, (size_t)n);
    return;
  }
  luaL_addchar(b, '[');
  bool last = d == t->ndim - 1;
  int per_line = (PRINT_WIDTH - p->indent - t->ndim) / (p->width + 2);
  if (per_line < 1) per_line = 1;
  int on_line = 0;
  bool first = true;
  for (int64_t i = 0; i < t->shape[d]; i++) {
    if (!shown(p, d, i)) {
      if (i != PRINT_EDGE) continue;
      /* the elided middle: one "..." in its own slot */
      if (last) {
        luaL_addstring(b, ", ...");
        on_line++;
      } else {
        luaL_addchar(b, ',');
        for (int k = 0; k < t->ndim - d - 1; k++) luaL_addchar(b, '\n');
        add_spaces(b, p->indent + d + 1);
        luaL_addstring(b, "...");
      }
      continue;
    }
    if (!first) {
      luaL_addchar(b, ',');
      if (last && on_line < per_line) {
        luaL_addchar(b, ' ');
      } else {
        for (int k = 0; k < (last ? 1 : t->ndim - d - 1); k++) luaL_addchar(b, '\n');
        add_spaces(b, p->indent + d + 1);
        on_line = 0;
      }
    }
    first = false;
    print_rec(p, d + 1, off + i * t->stride[d]);
    on_line++;
  }
  luaL_addchar(b, ']');
}

static int m_tostring(lua_State *L) {
  gan_box *box = luaL_checkudata(L, 1, GAN_TENSOR);
  const gr_tensor *t = box->t;
  if (!t) {
    lua_pushliteral(L, "tensor(closed)");
    return 1;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  printer p = {.t = t, .summarize = gr_numel(t) > PRINT_THRESHOLD, .indent = 7, .b = &b};
  luaL_addstring(&b, "tensor(");
  if (gr_numel(t) == 0) {
    luaL_addstring(&b, "[]");
  } else {
    if (t->dtype == GR_I64) {
      p.mode = 0;
    } else {
      stats s = {0, 0, true};
      visit(&p, 0, t->offset, gather_stats, &s);
      if (s.whole && s.maxabs < 1e8) p.mode = 1;
      else if (s.maxabs >= 1e8 || (s.minabs > 0 && s.minabs < 1e-4) ||
               (s.minabs > 0 && s.maxabs / s.minabs > 1000))
        p.mode = 3;
      else p.mode = 2;
    }
    visit(&p, 0, t->offset, measure, NULL);
    print_rec(&p, 0, t->offset);
  }
  if (t->ndim > 0) {
    luaL_addstring(&b, ", shape=(");
    for (int d = 0; d < t->ndim; d++) {
      lua_pushfstring(L, d ? ", %I" : "%I", (lua_Integer)t->shape[d]);
      luaL_addvalue(&b);
    }
    luaL_addstring(&b, t->ndim == 1 ? ",)" : ")");
  }
  if (t->dtype == GR_I64) luaL_addstring(&b, ", dtype=int64");
  const char *fn = gr_grad_fn_name(t);
  if (*fn) {
    luaL_addstring(&b, ", grad_fn=");
    luaL_addstring(&b, fn);
  } else if (t->requires_grad) {
    luaL_addstring(&b, ", requires_grad=true");
  }
  luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return 1;
}

/* --- in place ----------------------------------------------------------------------
 * Never recorded. A tensor some recorded op made (requires grad and has a
 * grad_fn) is refused: its old values may still be needed by the graph. */
static gr_tensor *check_inplace(lua_State *L, const char *fn) {
  gr_tensor *t = gan_check(L, 1);
  if (t->requires_grad && t->grad_fn)
    gan_error(L, fn,
              "cannot change in place a tensor made by a recorded op (%s); "
              "use x:detach() or work under gan.no_grad",
              gr_grad_fn_name(t));
  return t;
}

static int inplace_done(lua_State *L, const char *fn, gr_status s) {
  if (s != GR_OK) return gan_fail(L, fn);
  lua_settop(L, 1);
  return 1;
}

/*** Sets every element to v, in place; returns x. The in-place methods are
 * never recorded: a tensor made by a recorded op is refused (use
 * `x:detach()` or work under gan.no_grad).
 * @function fill_
 * @tparam Tensor x
 * @number v
 * @treturn Tensor x */
static int m_fill_(lua_State *L) {
  gr_tensor *t = check_inplace(L, "fill_");
  return inplace_done(L, "fill_", gr_fill_(t, luaL_checknumber(L, 2)));
}

/*** Sets every element to 0, in place; returns x.
 * @function zero_
 * @tparam Tensor x
 * @treturn Tensor x */
static int m_zero_(lua_State *L) {
  gr_tensor *t = check_inplace(L, "zero_");
  return inplace_done(L, "zero_", gr_fill_(t, 0));
}

/*** Copies the elements of src into x, in place, in order (src has as many
 * elements as x; its shape may differ); returns x.
 * @function copy_
 * @tparam Tensor x
 * @tparam Tensor src
 * @treturn Tensor x */
static int m_copy_(lua_State *L) {
  gr_tensor *t = check_inplace(L, "copy_");
  return inplace_done(L, "copy_", gr_copy_(t, gan_check(L, 2)));
}

/*** Clamps every element into [lo, hi], in place (WGAN's weight clipping);
 * returns x.
 * @function clamp_
 * @tparam Tensor x
 * @number[opt=-inf] lo
 * @number[opt=inf] hi
 * @treturn Tensor x */
static int m_clamp_(lua_State *L) {
  gr_tensor *t = check_inplace(L, "clamp_");
  double lo = luaL_optnumber(L, 2, -INFINITY), hi = luaL_optnumber(L, 3, INFINITY);
  return inplace_done(L, "clamp_", gr_clamp_(t, lo, hi));
}

/*** Multiplies every element by s, in place; returns x.
 * @function mul_
 * @tparam Tensor x
 * @number s
 * @treturn Tensor x */
static int m_mul_(lua_State *L) {
  gr_tensor *t = check_inplace(L, "mul_");
  return inplace_done(L, "mul_", gr_scale_(t, luaL_checknumber(L, 2)));
}

/*** x = decay x + (1 - decay) y, in place (an exponential moving average of
 * weights); returns x.
 * @function lerp_
 * @tparam Tensor x
 * @tparam Tensor y of x's shape
 * @number decay
 * @treturn Tensor x */
static int m_lerp_(lua_State *L) {
  gr_tensor *t = check_inplace(L, "lerp_");
  gr_tensor *x = gan_check(L, 2);
  return inplace_done(L, "lerp_", gr_lerp_(t, x, luaL_checknumber(L, 3)));
}

/* self = a fresh draw of its shape (so the stream is the same as gan.normal's) */
static int refill(lua_State *L, const char *fn, gr_tensor *t, gr_tensor *draw) {
  if (!draw) return gan_fail(L, fn);
  gr_status s = gr_copy_(t, draw);
  gr_release(draw);
  return inplace_done(L, fn, s);
}

/*** Fills x with draws from N(mean, std^2), in place (the same draws as
 * gan.normal of x's shape); returns x.
 * @function normal_
 * @tparam Tensor x
 * @number[opt=0] mean
 * @number[opt=1] std
 * @treturn Tensor x */
static int m_normal_(lua_State *L) {
  gr_tensor *t = check_inplace(L, "normal_");
  double mean = luaL_optnumber(L, 2, 0), std = luaL_optnumber(L, 3, 1);
  return refill(L, "normal_", t, gr_normal(t->ndim, t->shape, mean, std));
}

/*** Fills x with uniform draws in [lo, hi), in place; returns x.
 * @function uniform_
 * @tparam Tensor x
 * @number[opt=0] lo
 * @number[opt=1] hi
 * @treturn Tensor x */
static int m_uniform_(lua_State *L) {
  gr_tensor *t = check_inplace(L, "uniform_");
  double lo = luaL_optnumber(L, 2, 0), hi = luaL_optnumber(L, 3, 1);
  return refill(L, "uniform_", t, gr_uniform(t->ndim, t->shape, lo, hi));
}

/* --- metamethods --------------------------------------------------------------------- */

static int m_gc(lua_State *L) {
  gan_box *b = luaL_checkudata(L, 1, GAN_TENSOR);
  gr_release(b->t);
  b->t = NULL;
  return 0;
}

/* x[i] is x:select(1, i); other keys are methods. */
static int m_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TNUMBER) {
    gr_tensor *t = gan_check(L, 1);
    if (t->ndim == 0) return gan_error(L, "index", "a 0-d tensor cannot be indexed");
    int ok;
    lua_Integer i = lua_tointegerx(L, 2, &ok);
    if (!ok) return gan_error(L, "index", "index %s is not an integer", lua_tostring(L, 2));
    int64_t n = t->shape[0];
    if (i < -n || i > n || i == 0)
      return gan_error(L, "index", "index %I out of range for dim 1 of size %I (indices count from 1)",
                       i, (lua_Integer)n);
    return gan_result(L, "index", gr_select(t, 0, i > 0 ? i - 1 : i + n));
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

/* x[i] = v: fills (v a number) or copies into (v a tensor) x:select(1, i). */
static int m_newindex(lua_State *L) {
  gr_tensor *t = check_inplace(L, "newindex");
  int ok;
  lua_Integer i = lua_tointegerx(L, 2, &ok);
  if (!ok || t->ndim == 0) return gan_error(L, "newindex", "only x[i] = v with an integer i can be set");
  int64_t n = t->shape[0];
  if (i < -n || i > n || i == 0)
    return gan_error(L, "newindex", "index %I out of range for dim 1 of size %I", i, (lua_Integer)n);
  gr_tensor *src = gan_test(L, 3);
  if (!src && lua_type(L, 3) != LUA_TNUMBER)
    return luaL_typeerror(L, 3, "number or gan.Tensor");
  double v = src ? 0 : lua_tonumber(L, 3);
  gr_tensor *row = gr_select(t, 0, i > 0 ? i - 1 : i + n);
  if (!row) return gan_fail(L, "newindex");
  gr_status s = src ? gr_copy_(row, src) : gr_fill_(row, v);
  gr_release(row);
  if (s != GR_OK) return gan_fail(L, "newindex");
  return 0;
}

static int m_len(lua_State *L) {
  gr_tensor *t = gan_check(L, 1);
  if (t->ndim == 0) return gan_error(L, "len", "a 0-d tensor has no length");
  lua_pushinteger(L, t->shape[0]);
  return 1;
}

/* --- registration ----------------------------------------------------------------------- */

static const luaL_Reg module_fns[] = {
  {"tensor", l_tensor},     {"empty", l_empty},       {"zeros", l_zeros},
  {"ones", l_ones},         {"full", l_full},         {"scalar", l_scalar},
  {"rand", l_rand},         {"randn", l_randn},       {"uniform", l_uniform},
  {"normal", l_normal},     {"randint", l_randint},   {"randperm", l_randperm},
  {"arange", l_arange},     {"linspace", l_linspace}, {"eye", l_eye},
  {"is_tensor", l_is_tensor}, {NULL, NULL},
};

static const luaL_Reg methods[] = {
  {"size", m_size},       {"shape", m_shape},     {"dim", m_dim},
  {"numel", m_numel},     {"dtype", m_dtype},     {"item", m_item},
  {"totable", m_totable}, {"is_contiguous", m_is_contiguous},
  {"requires_grad", m_requires_grad}, {"grad_fn", m_grad_fn},
  {"fill_", m_fill_},     {"zero_", m_zero_},     {"copy_", m_copy_},
  {"clamp_", m_clamp_},   {"mul_", m_mul_},       {"lerp_", m_lerp_},
  {"normal_", m_normal_}, {"uniform_", m_uniform_}, {NULL, NULL},
};

void gan_open_tensor(lua_State *L) {
  /* stack: methods, module */
  luaL_setfuncs(L, module_fns, 0);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 1);

  if (!lua_rawgetp(L, LUA_REGISTRYINDEX, &acct_key)) {
    gc_acct *a = lua_newuserdatauv(L, sizeof *a, 0);
    a->base = gr_live_bytes();
    lua_rawsetp(L, LUA_REGISTRYINDEX, &acct_key);
  }
  lua_pop(L, 1);

  luaL_newmetatable(L, GAN_TENSOR);
  static const luaL_Reg meta[] = {
    {"__gc", m_gc}, {"__close", m_gc}, {"__tostring", m_tostring},
    {"__newindex", m_newindex}, {"__len", m_len}, {NULL, NULL},
  };
  luaL_setfuncs(L, meta, 0);
  lua_pushvalue(L, -3); /* the methods are __index's upvalue */
  lua_pushcclosure(L, m_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
