/* Every op of ops.h as a gan.* function and a Tensor method, and the
 * arithmetic metamethods. Arguments are checked first; then one runtime
 * call (or an expression of calls inside a pool), then the result. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bind.h"

/***
 * The ops of a tensor. Each is a method, `x:name(...)`, and a function of the
 * gan table, `gan.name(x, ...)`. Results are new tensors; an op records its
 * gradient rule on the result when an input requires a gradient.
 * @module gan.Tensor
 */

/* Evaluates expr inside a pool and keeps only its result: temporaries of a
 * small expression (scalars made into tensors, intermediate views) are given
 * back before the result reaches Lua, or before an error is raised. Nothing
 * inside expr may raise a Lua error. */
#define POOLED(expr) (gr_pool_push(), pooled_keep(expr))
static gr_tensor *pooled_keep(gr_tensor *t) {
  gr_retain(t);
  gr_pool_pop();
  return t;
}

/* --- one tensor, nothing else -------------------------------------------------------
 * gan.<name>(x) and x:<name>() call gr_<name>(x). One line per op: the line
 * defines l_unary_<name> and registers it; its LDoc entry follows the list.
 * (Not l_<name>: luaconf.h has macros such as l_floor.) */
#define GAN_UNARY_OPS(X) \
  X(neg)                 \
  X(exp)                 \
  X(log)                 \
  X(log1p)               \
  X(sqrt)                \
  X(rsqrt)               \
  X(abs)                 \
  X(sign)                \
  X(floor)               \
  X(round)               \
  X(ceil)                \
  X(sin)                 \
  X(cos)                 \
  X(square)              \
  X(relu)                \
  X(tanh)                \
  X(sigmoid)             \
  X(contiguous)          \
  X(clone)               \
  X(detach)              \
  X(all_reduce)

#define UNARY(name)                                  \
  static int l_unary_##name(lua_State *L) {          \
    gr_tensor *x = gan_check(L, 1);                  \
    return gan_result(L, #name, gr_##name(x));       \
  }
GAN_UNARY_OPS(UNARY)
#undef UNARY

/// Ops of one tensor: `gan.name(x)` and `x:name()`. The math ones work
// elementwise on float32 (any layout) and keep the shape of x.
// @section unary

/*** -x.
 * @function neg
 * @tparam Tensor x */

/*** e^x.
 * @function exp
 * @tparam Tensor x */

/*** The natural logarithm.
 * @function log
 * @tparam Tensor x */

/*** log(1 + x), accurate for small x.
 * @function log1p
 * @tparam Tensor x */

/*** The square root.
 * @function sqrt
 * @tparam Tensor x */

/*** 1 / sqrt(x).
 * @function rsqrt
 * @tparam Tensor x */

/*** |x|; its gradient is sign(x), 0 at 0.
 * @function abs
 * @tparam Tensor x */

/*** -1, 0 or 1 by the sign of x (0 at NaN). A constant to autograd: the
 * result never requires a gradient.
 * @function sign
 * @tparam Tensor x */

/*** The largest whole number not above x. Exact for every float: +-0, +-inf
 * and NaN pass through. A constant to autograd (its derivative is zero almost
 * everywhere): the result never requires a gradient; for a straight-through
 * gradient write `x + (x:floor() - x):detach()`.
 * @function floor
 * @tparam Tensor x */

/*** The nearest whole number; halves go to the even one, as torch.round:
 * 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> -0. Exact for every float: +-0, +-inf
 * and NaN pass through. A constant to autograd, like floor.
 * @function round
 * @tparam Tensor x */

/*** The smallest whole number not below x (-0 for x in (-1, 0)). Exact for
 * every float: +-0, +-inf and NaN pass through. A constant to autograd, like
 * floor.
 * @function ceil
 * @tparam Tensor x */

/*** The sine (x in radians).
 * @function sin
 * @tparam Tensor x */

/*** The cosine (x in radians).
 * @function cos
 * @tparam Tensor x */

/*** x * x.
 * @function square
 * @tparam Tensor x */

/*** max(x, 0).
 * @function relu
 * @tparam Tensor x */

/*** The hyperbolic tangent.
 * @function tanh
 * @tparam Tensor x */

/*** 1 / (1 + e^-x).
 * @function sigmoid
 * @tparam Tensor x */

/*** x itself when its elements lie in order in memory, else a copy that does.
 * @function contiguous
 * @tparam Tensor x */

/*** A copy of x with storage of its own; gradients flow through it.
 * @function clone
 * @tparam Tensor x */

/*** x without its graph: the same storage, no gradient rule, not requiring
 * a gradient.
 * @function detach
 * @tparam Tensor x */

/*** The element-wise sum of x over the processes of an MPI job (a copy in a
 * world of one); its gradient is the same sum of the incoming gradients
 * (SyncBN's statistics; see gan.dist).
 * @function all_reduce
 * @tparam Tensor x */

static int l_leaky_relu(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "leaky_relu", gr_leaky_relu(x, luaL_optnumber(L, 2, 0.01)));
}

static int l_elu(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "elu", gr_elu(x, luaL_optnumber(L, 2, 1.0)));
}

static int l_softplus(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  double beta = luaL_optnumber(L, 2, 1.0), threshold = luaL_optnumber(L, 3, 20.0);
  return gan_result(L, "softplus", gr_softplus(x, beta, threshold));
}

static int l_clamp(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  double lo = luaL_optnumber(L, 2, NAN), hi = luaL_optnumber(L, 3, NAN);
  return gan_result(L, "clamp", gr_clamp(x, lo, hi));
}

static int l_float(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "float", gr_to_dtype(x, GR_F32));
}

static int l_long(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "long", gr_to_dtype(x, GR_I64));
}

/* --- binary: tensors or numbers on either side ---------------------------------- */

/* gan.<name>(a, b) and a:<name>(b) call gr_<name>(a, b); either side may be a
 * number. One line per op, as for the unary ones. */
#define GAN_BINARY_OPS(X) \
  X(add)                  \
  X(sub)                  \
  X(mul)                  \
  X(div)                  \
  X(pow)                  \
  X(maximum)              \
  X(minimum)              \
  X(eq)                   \
  X(ne)                   \
  X(lt)                   \
  X(le)                   \
  X(gt)                   \
  X(ge)

typedef enum {
#define ENUM(name) B_##name,
  GAN_BINARY_OPS(ENUM)
#undef ENUM
} binop;

static const struct {
  const char *name;
  gr_tensor *(*fn)(gr_tensor *, gr_tensor *);
} binops[] = {
#define ROW(name) [B_##name] = {#name, gr_##name},
  GAN_BINARY_OPS(ROW)
#undef ROW
};

/* x op c (c_first: c op x), with the scalar ops where there is one */
static gr_tensor *with_number(binop op, gr_tensor *x, double c, bool c_first) {
  switch (op) {
  case B_add: return gr_add_scalar(x, c);
  case B_sub: return c_first ? gr_rsub_scalar(x, c) : gr_add_scalar(x, -c);
  case B_mul: return gr_mul_scalar(x, c);
  case B_div: if (c_first) return gr_rdiv_scalar(x, c); break;
  case B_pow: return c_first ? gr_rpow_scalar(x, c) : gr_pow_scalar(x, c);
  default: break;
  }
  gr_tensor *s = gr_scalar(c);
  return c_first ? binops[op].fn(s, x) : binops[op].fn(x, s);
}

static int binary(lua_State *L, binop op) {
  const char *name = binops[op].name;
  gr_tensor *a = gan_test(L, 1), *b = gan_test(L, 2);
  if (!a && lua_type(L, 1) != LUA_TNUMBER) return luaL_typeerror(L, 1, "gan.Tensor or number");
  if (!b && lua_type(L, 2) != LUA_TNUMBER) return luaL_typeerror(L, 2, "gan.Tensor or number");
  if (!a && !b) return gan_error(L, name, "needs a tensor; both arguments are numbers");
  gr_tensor *r;
  if (a && b) r = binops[op].fn(a, b);
  else if (a) r = POOLED(with_number(op, a, lua_tonumber(L, 2), false));
  else r = POOLED(with_number(op, b, lua_tonumber(L, 1), true));
  return gan_result(L, name, r);
}

#define BINARY(name) \
  static int l_##name(lua_State *L) { return binary(L, B_##name); }
GAN_BINARY_OPS(BINARY)
#undef BINARY

static int l_unm(lua_State *L) { return gan_result(L, "neg", gr_neg(gan_check(L, 1))); }

/* a tensor argument, or a number made into a 0-d tensor (pooled) */
static gr_tensor *tensor_or_number(lua_State *L, int arg) {
  gr_tensor *t = gan_test(L, arg);
  if (t) return t;
  luaL_argexpected(L, lua_type(L, arg) == LUA_TNUMBER, arg, "gan.Tensor or number");
  return NULL;
}

static int l_where(lua_State *L) {
  gr_tensor *mask = gan_check(L, 1);
  gr_tensor *a = tensor_or_number(L, 2), *b = tensor_or_number(L, 3);
  double ca = a ? 0 : lua_tonumber(L, 2), cb = b ? 0 : lua_tonumber(L, 3);
  gr_pool_push();
  gr_tensor *r = pooled_keep(gr_where(mask, a ? a : gr_scalar(ca), b ? b : gr_scalar(cb)));
  return gan_result(L, "where", r);
}

/* --- views ---------------------------------------------------------------------------- */

/* x:op(shape...) for the ops that take a tensor and a shape */
typedef gr_tensor *(*shape_op)(gr_tensor *, int, const int64_t *);
static int with_shape(lua_State *L, const char *name, shape_op op) {
  gr_tensor *x = gan_check(L, 1);
  int64_t shape[GR_MAX_DIM];
  int nd = gan_shape(L, 2, shape, NULL);
  return gan_result(L, name, op(x, nd, shape));
}

static int l_reshape(lua_State *L) { return with_shape(L, "reshape", gr_reshape); }

static int l_view(lua_State *L) { return with_shape(L, "view", gr_reshape); }

/* dims as one table or as varargs from arg on, each a Lua dim */
static int dim_list(lua_State *L, int arg, const gr_tensor *x, int *dims) {
  if (lua_istable(L, arg)) return gan_dims(L, arg, x, dims);
  int n = 0, top = lua_gettop(L);
  for (int i = arg; i <= top; i++) {
    if (n == GR_MAX_DIM) luaL_argerror(L, i, "too many dims");
    dims[n++] = gan_dim(L, i, x, x->ndim);
  }
  return n;
}

static int l_permute(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int dims[GR_MAX_DIM];
  int n = dim_list(L, 2, x, dims);
  if (n != x->ndim)
    return gan_error(L, "permute", "needs %d dims for a tensor of shape %s, got %d", x->ndim,
                     gr_shape_str(x), n);
  bool seen[GR_MAX_DIM] = {0};
  for (int k = 0; k < n; k++) {
    if (seen[dims[k]])
      return gan_error(L, "permute", "dim %d appears twice; dims must be a permutation of 1..%d",
                       dims[k] + 1, n);
    seen[dims[k]] = true;
  }
  return gan_result(L, "permute", gr_permute(x, dims));
}

static int l_transpose(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int a = gan_dim(L, 2, x, x->ndim), b = gan_dim(L, 3, x, x->ndim);
  return gan_result(L, "transpose", gr_transpose(x, a, b));
}

static int l_t(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  if (x->ndim > 2)
    return gan_error(L, "t", "expects a tensor of at most 2 dims, got shape %s", gr_shape_str(x));
  if (x->ndim < 2) return gan_push(L, gr_retain(x));
  return gan_result(L, "t", gr_transpose(x, 0, 1));
}

static int l_expand(lua_State *L) { return with_shape(L, "expand", gr_expand); }

static int l_sum_to(lua_State *L) { return with_shape(L, "sum_to", gr_sum_to); }

/* a 1-based position along dim d (negative counts from the end) as 0-based */
static int64_t position(lua_State *L, int arg, const gr_tensor *x, int d, bool end_ok) {
  lua_Integer i = luaL_checkinteger(L, arg);
  int64_t n = x->ndim ? x->shape[d] : 1;
  if (i >= 1 && (i <= n || (end_ok && i == n + 1))) return i - 1;
  if (i < 0 && i >= -n) return i + n;
  return luaL_argerror(L, arg, lua_pushfstring(L, "index %I out of range for dim %d of size %I "
                                               "(indices count from 1)", i, d + 1, (lua_Integer)n));
}

static int l_narrow(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int d = gan_dim(L, 2, x, x->ndim);
  int64_t start = position(L, 3, x, d, true);
  lua_Integer len = luaL_checkinteger(L, 4);
  return gan_result(L, "narrow", gr_narrow(x, d, start, len));
}

static int l_select(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int d = gan_dim(L, 2, x, x->ndim);
  return gan_result(L, "select", gr_select(x, d, position(L, 3, x, d, false)));
}

static int l_squeeze(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  if (!lua_isnoneornil(L, 2)) return gan_result(L, "squeeze", gr_squeeze(x, gan_dim(L, 2, x, x->ndim)));
  int64_t shape[GR_MAX_DIM];
  int n = 0;
  for (int d = 0; d < x->ndim; d++)
    if (x->shape[d] != 1) shape[n++] = x->shape[d];
  return gan_result(L, "squeeze", gr_reshape(x, n, shape));
}

static int l_unsqueeze(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "unsqueeze", gr_unsqueeze(x, gan_dim(L, 2, x, x->ndim + 1)));
}

static int l_flatten(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int s = gan_optdim(L, 2, x, x->ndim, 0), e = gan_optdim(L, 3, x, x->ndim, x->ndim ? x->ndim - 1 : 0);
  return gan_result(L, "flatten", gr_flatten(x, s, e));
}

static int l_flip(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int dims[GR_MAX_DIM];
  int n = dim_list(L, 2, x, dims);
  return gan_result(L, "flip", gr_flip(x, n, dims));
}

/* --- reductions ------------------------------------------------------------------------ */

typedef gr_tensor *(*reduce_fn)(gr_tensor *, int, const int *, bool);

static int reduce(lua_State *L, const char *name, reduce_fn fn) {
  gr_tensor *x = gan_check(L, 1);
  int dims[GR_MAX_DIM];
  int n = gan_dims(L, 2, x, dims);
  return gan_result(L, name, fn(x, n, dims, lua_toboolean(L, 3)));
}
static int l_sum(lua_State *L) { return reduce(L, "sum", gr_sum); }
static int l_mean(lua_State *L) { return reduce(L, "mean", gr_mean); }

static int l_logsumexp(lua_State *L) {
  luaL_checkany(L, 2);
  return reduce(L, "logsumexp", gr_logsumexp);
}

static int l_var(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int dims[GR_MAX_DIM];
  int n = gan_dims(L, 2, x, dims);
  int correction = (int)luaL_optinteger(L, 3, 1);
  return gan_result(L, "var", gr_var(x, n, dims, correction, lua_toboolean(L, 4)));
}

typedef gr_tensor *(*extreme_fn)(gr_tensor *, int, bool, gr_tensor **);

/* max/min: over everything (a 0-d tensor), or along a dim (values, indices) */
static int extreme(lua_State *L, const char *name, extreme_fn fn, gr_tensor *(*all)(gr_tensor *)) {
  gr_tensor *x = gan_check(L, 1);
  if (lua_isnoneornil(L, 2)) return gan_result(L, name, all(x));
  int d = gan_dim(L, 2, x, x->ndim);
  gr_tensor *idx = NULL;
  gr_tensor *v = fn(x, d, lua_toboolean(L, 3), &idx);
  if (!v || !idx) {
    gr_release(v);
    gr_release(idx);
    return gan_fail(L, name);
  }
  gan_push(L, v);
  gan_push(L, idx);
  return 2;
}
static int l_max(lua_State *L) { return extreme(L, "max", gr_max_dim, gr_max_all); }
static int l_min(lua_State *L) { return extreme(L, "min", gr_min_dim, gr_min_all); }

static gr_tensor *argmax_of(gr_tensor *x, int d, bool keep) {
  gr_tensor *idx = NULL;
  gr_tensor *v = gr_max_dim(x, d, keep, &idx);
  if (!v) return NULL;
  gr_release(v);
  return idx;
}

static int l_argmax(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  if (lua_isnoneornil(L, 2)) { /* the index into the flattened tensor */
    int64_t all = -1;
    gr_tensor *flat = gr_reshape(x, 1, &all); /* owned: argmax_of releases, so no pool here */
    gr_tensor *r = flat ? argmax_of(flat, 0, false) : NULL;
    gr_release(flat);
    return gan_result(L, "argmax", r);
  }
  int d = gan_dim(L, 2, x, x->ndim);
  return gan_result(L, "argmax", argmax_of(x, d, lua_toboolean(L, 3)));
}

static int l_softmax(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "softmax", gr_softmax(x, gan_dim(L, 2, x, x->ndim)));
}

static int l_log_softmax(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "log_softmax", gr_log_softmax(x, gan_dim(L, 2, x, x->ndim)));
}

/* --- linear algebra, convolution ------------------------------------------------------ */

static int l_matmul(lua_State *L) {
  gr_tensor *a = gan_check(L, 1), *b = gan_check(L, 2);
  return gan_result(L, "matmul", gr_matmul(a, b));
}

static int l_linear(lua_State *L) {
  gr_tensor *x = gan_check(L, 1), *w = gan_check(L, 2), *b = gan_opt(L, 3);
  return gan_result(L, "linear", gr_linear(x, w, b));
}

/* a number (both) or a {h, w} pair, from the field of the table at arg */
static void int_pair(lua_State *L, int arg, const char *field, int out[2]) {
  int t = lua_getfield(L, arg, field);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (t == LUA_TTABLE) {
    for (int k = 0; k < 2; k++) {
      lua_geti(L, -1, k + 1);
      int ok;
      out[k] = (int)lua_tointegerx(L, -1, &ok);
      if (!ok) luaL_argerror(L, arg, lua_pushfstring(L, "%s must be an integer or {h, w}", field));
      lua_pop(L, 1);
    }
  } else {
    int ok;
    out[0] = out[1] = (int)lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_argerror(L, arg, lua_pushfstring(L, "%s must be an integer or {h, w}", field));
  }
  lua_pop(L, 1);
}

static gr_conv_args conv_opts(lua_State *L, int arg) {
  gr_conv_args a = {{1, 1}, {0, 0}, {1, 1}, {0, 0}, 1};
  if (lua_isnoneornil(L, arg)) return a;
  luaL_checktype(L, arg, LUA_TTABLE);
  int_pair(L, arg, "stride", a.stride);
  int_pair(L, arg, "padding", a.pad);
  int_pair(L, arg, "dilation", a.dilation);
  int_pair(L, arg, "output_padding", a.output_padding);
  int groups[2] = {1, 1};
  int_pair(L, arg, "groups", groups);
  a.groups = groups[0];
  return a;
}

static int l_conv2d(lua_State *L) {
  gr_tensor *x = gan_check(L, 1), *w = gan_check(L, 2), *b = gan_opt(L, 3);
  return gan_result(L, "conv2d", gr_conv2d(x, w, b, conv_opts(L, 4)));
}

static int l_conv_transpose2d(lua_State *L) {
  gr_tensor *x = gan_check(L, 1), *w = gan_check(L, 2), *b = gan_opt(L, 3);
  return gan_result(L, "conv_transpose2d", gr_conv_transpose2d(x, w, b, conv_opts(L, 4)));
}

/* --- pooling and resampling --------------------------------------------------------- */

/* a number or {h, w} at arg; def when absent (def NULL: required) */
static void pair_arg(lua_State *L, int arg, int out[2], const int *def) {
  if (def && lua_isnoneornil(L, arg)) {
    out[0] = def[0];
    out[1] = def[1];
    return;
  }
  if (lua_istable(L, arg)) {
    for (int k = 0; k < 2; k++) {
      lua_geti(L, arg, k + 1);
      int ok;
      out[k] = (int)lua_tointegerx(L, -1, &ok);
      if (!ok) luaL_argerror(L, arg, "expected an integer or {h, w}");
      lua_pop(L, 1);
    }
    return;
  }
  out[0] = out[1] = (int)luaL_checkinteger(L, arg);
}

typedef gr_tensor *(*pool_fn)(gr_tensor *, int, int, int, int, int, int);

static int pool2d(lua_State *L, const char *name, pool_fn fn) {
  gr_tensor *x = gan_check(L, 1);
  int k[2], s[2], p[2], zero[2] = {0, 0};
  pair_arg(L, 2, k, NULL);
  pair_arg(L, 3, s, k);
  pair_arg(L, 4, p, zero);
  return gan_result(L, name, fn(x, k[0], k[1], s[0], s[1], p[0], p[1]));
}
static int l_avg_pool2d(lua_State *L) { return pool2d(L, "avg_pool2d", gr_avg_pool2d); }
static int l_max_pool2d(lua_State *L) { return pool2d(L, "max_pool2d", gr_max_pool2d); }

/* a number (both) or a {h, w} pair of numbers, from the field of the table at arg */
static bool num_pair(lua_State *L, int arg, const char *field, double out[2]) {
  int t = lua_getfield(L, arg, field);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return false;
  }
  int ok = 1, ok2 = 1;
  if (t == LUA_TTABLE) {
    lua_geti(L, -1, 1);
    lua_geti(L, -2, 2);
    out[0] = lua_tonumberx(L, -2, &ok);
    out[1] = lua_tonumberx(L, -1, &ok2);
    lua_pop(L, 2);
  } else {
    out[0] = out[1] = lua_tonumberx(L, -1, &ok);
  }
  if (!ok || !ok2) luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a number or {h, w}", field));
  lua_pop(L, 1);
  return true;
}

/* x:upsample({size = {h, w}} or {scale = s} [, mode [, align_corners]]);
 * mode, align_corners and recompute_scale_factor may also be fields of the
 * table. A scale s (a number or {sh, sw}) gives the size floor(H s) x floor(W s)
 * and, as PyTorch's scale_factor, maps output pixel o to source o / s; with
 * recompute_scale_factor = true the scale is taken as size / input (PyTorch's
 * flag of that name), the mapping a size gives. */
static int l_upsample(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 4);
  if (x->ndim != 4)
    return gan_error(L, "upsample", "expects x of shape (N, C, H, W), got %s", gr_shape_str(x));
  double size[2], scale[2] = {0, 0}; /* scale 0: none, the mapping of a size */
  int64_t h, w;
  if (num_pair(L, 2, "size", size)) {
    h = (int64_t)size[0];
    w = (int64_t)size[1];
  } else if (num_pair(L, 2, "scale", scale)) {
    if (!(scale[0] > 0 && scale[1] > 0 && isfinite(scale[0]) && isfinite(scale[1])))
      return luaL_argerror(L, 2, lua_pushfstring(L, "scale must be positive and finite, got %f x %f",
                                                 scale[0], scale[1]));
    h = (int64_t)floor((double)x->shape[2] * scale[0]);
    w = (int64_t)floor((double)x->shape[3] * scale[1]);
    lua_getfield(L, 2, "recompute_scale_factor");
    if (lua_toboolean(L, -1)) scale[0] = scale[1] = 0;
    lua_pop(L, 1);
  } else {
    return luaL_argerror(L, 2, "needs size = {h, w} or scale = s");
  }
  if (lua_isnil(L, 3)) lua_getfield(L, 2, "mode");
  else lua_pushvalue(L, 3);
  const char *mode = lua_isnil(L, -1) ? "nearest" : lua_tostring(L, -1);
  if (!mode) return luaL_argerror(L, 3, "mode must be a string");
  bool align = lua_toboolean(L, 4);
  if (lua_isnil(L, 4)) {
    lua_getfield(L, 2, "align_corners");
    align = lua_toboolean(L, -1);
  }
  if (!strcmp(mode, "nearest"))
    return gan_result(L, "upsample", gr_upsample_nearest2d(x, h, w, scale[0], scale[1]));
  if (!strcmp(mode, "bilinear"))
    return gan_result(L, "upsample", gr_upsample_bilinear2d(x, h, w, align, scale[0], scale[1]));
  return luaL_argerror(L, 3, lua_pushfstring(L, "mode must be \"nearest\" or \"bilinear\", not \"%s\"", mode));
}

/* padding modes by name; grid_sample's names too ("border", "reflection") */
static gr_pad_mode pad_mode(lua_State *L, int arg, const char *name) {
  static const struct { const char *name; gr_pad_mode mode; } modes[] = {
    {"zeros", GR_PAD_ZEROS},         {"constant", GR_PAD_ZEROS},
    {"reflect", GR_PAD_REFLECT},     {"reflection", GR_PAD_REFLECT},
    {"replicate", GR_PAD_REPLICATE}, {"border", GR_PAD_REPLICATE},
  };
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
    if (!strcmp(name, modes[i].name)) return modes[i].mode;
  return (gr_pad_mode)luaL_argerror(L, arg, lua_pushfstring(L, "unknown padding mode \"%s\"", name));
}

static int l_pad(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int p[4];
  if (lua_type(L, 2) == LUA_TNUMBER) {
    p[0] = p[1] = p[2] = p[3] = (int)luaL_checkinteger(L, 2);
  } else {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    if (n != 4 && n != 2) return luaL_argerror(L, 2, "expected {left, right, top, bottom}");
    for (int k = 0; k < 4; k++) {
      if (k >= n) {
        p[k] = 0;
        continue;
      }
      lua_geti(L, 2, k + 1);
      int ok;
      p[k] = (int)lua_tointegerx(L, -1, &ok);
      if (!ok) return luaL_argerror(L, 2, "paddings must be integers");
      lua_pop(L, 1);
    }
  }
  gr_pad_mode mode = pad_mode(L, 3, luaL_optstring(L, 3, "zeros"));
  return gan_result(L, "pad", gr_pad2d(x, p[0], p[1], p[2], p[3], mode));
}

static int l_grid_sample(lua_State *L) {
  gr_tensor *x = gan_check(L, 1), *grid = gan_check(L, 2);
  gr_pad_mode mode = GR_PAD_ZEROS;
  bool align = false;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_getfield(L, 3, "padding_mode");
    if (!lua_isnil(L, -1)) {
      const char *name = lua_tostring(L, -1);
      if (!name) return luaL_argerror(L, 3, "padding_mode must be a string");
      mode = pad_mode(L, 3, name);
    }
    lua_getfield(L, 3, "align_corners");
    align = lua_toboolean(L, -1);
  }
  return gan_result(L, "grid_sample", gr_grid_sample(x, grid, mode, align));
}

/// FIR resampling: the filter of StyleGAN2's up and down blocks.
// @section fir

/* opts.<field> into out (n ints): absent leaves out as it is; a number sets
 * every entry; a list has n entries, or for the pads ({x, y}) two, each
 * then on both sides as NVlabs' padding takes it */
static void int_opt(lua_State *L, int arg, const char *field, int *out, int n, const char *form) {
  int t = lua_getfield(L, arg, field), ok = 1;
  lua_Integer v[4] = {0};
  lua_Integer len = t == LUA_TTABLE ? luaL_len(L, -1) : 1;
  if (t != LUA_TNIL && t != LUA_TNUMBER && t != LUA_TTABLE) ok = 0;
  if (t == LUA_TTABLE && len != n && !(n == 4 && len == 2)) ok = 0;
  for (lua_Integer k = 0; ok && t != LUA_TNIL && k < len; k++) {
    if (t == LUA_TTABLE) lua_geti(L, -1, k + 1);
    v[k] = lua_tointegerx(L, -1, &ok);
    if (t == LUA_TTABLE) lua_pop(L, 1);
    if (v[k] < -(1 << 30) || v[k] > 1 << 30) ok = 0;
  }
  if (!ok) luaL_argerror(L, arg, lua_pushfstring(L, "%s must be %s", field, form));
  lua_pop(L, 1);
  if (t == LUA_TNIL) return;
  for (int k = 0; k < n; k++) out[k] = (int)(len == 1 ? v[0] : len == n ? v[k] : v[k / 2]);
}

/* upfirdn2d's options: up, down, pad, flip, gain; another key is an error */
static gr_upfirdn_args upfirdn_opts(lua_State *L, int arg) {
  gr_upfirdn_args a = gr_upfirdn_defaults();
  if (lua_isnoneornil(L, arg)) return a;
  luaL_checktype(L, arg, LUA_TTABLE);
  static const char *const keys[] = {"up", "down", "pad", "flip", "gain"};
  for (lua_pushnil(L); lua_next(L, arg); lua_pop(L, 1)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    size_t i = 0;
    while (k && i < sizeof keys / sizeof *keys && strcmp(k, keys[i])) i++;
    if (!k)
      luaL_argerror(L, arg, lua_pushfstring(L, "options are named (up, down, pad, flip, gain), "
                                            "not a %s key", luaL_typename(L, -2)));
    if (i == sizeof keys / sizeof *keys)
      luaL_argerror(L, arg, lua_pushfstring(L, "unknown option %s (up, down, pad, flip, gain)", k));
  }
  int_opt(L, arg, "up", a.up, 2, "an integer or {x, y}");
  int_opt(L, arg, "down", a.down, 2, "an integer or {x, y}");
  int_opt(L, arg, "pad", a.pad, 4, "an integer, {x, y} or {x0, x1, y0, y1}");
  int t = lua_getfield(L, arg, "flip");
  if (t != LUA_TNIL && t != LUA_TBOOLEAN) luaL_argerror(L, arg, "flip must be a boolean");
  a.flip = lua_toboolean(L, -1);
  int ok = 1;
  if (lua_getfield(L, arg, "gain") != LUA_TNIL) a.gain = lua_tonumberx(L, -1, &ok);
  if (!ok) luaL_argerror(L, arg, "gain must be a number");
  lua_pop(L, 2);
  return a;
}

/*** Upsample, pad, filter and downsample every plane: NVlabs' `upfirdn2d`
 * (StyleGAN2). Each (H, W) plane of x is upsampled by inserting `up - 1`
 * zeros after each pixel, padded with zeros (negative pads crop), filtered
 * with f over the windows inside it, and every `down`-th pixel is kept:
 *
 *     Ho = (H*uy + y0 + y1 - fh) // dy + 1,  Wo = (W*ux + x0 + x1 - fw) // dx + 1
 *
 * f is the same for every channel: taps (k), used as the separable k x k
 * filter f f^T, or a 2-d filter (fh, fw). It is a constant: an f that
 * requires a gradient is an error. The gradient in x is upfirdn2d again (up
 * and down swapped, f reversed, the padding mapped), so gradients of any
 * order work (R1, path length). StyleGAN2's 2x upsampling with 4 taps f is
 * `{up = 2, pad = {2, 1, 2, 1}, gain = 4}`, its 2x downsampling
 * `{down = 2, pad = 1}`, its blur `{pad = {2, 1, 2, 1}}`.
 * @function upfirdn2d
 * @tparam Tensor x float (N, C, H, W)
 * @tparam Tensor f float taps (k), or a filter (fh, fw)
 * @tparam[opt] table opts `up` (an integer or `{x, y}`, default 1), `down`
 * (likewise), `pad` (an integer, `{x, y}` or `{x0, x1, y0, y1}`, on the
 * upsampled planes; default 0), `flip` (false: convolution, true:
 * correlation; default false), `gain` (the result times gain; default 1)
 * @treturn Tensor (N, C, Ho, Wo)
 * @usage local f = gan.tensor {1, 3, 3, 1} / 8
 * local up = x:upfirdn2d(f, {up = 2, pad = {2, 1, 2, 1}, gain = 4}) -- (N, C, 2H, 2W) */
static int l_upfirdn2d(lua_State *L) {
  gr_tensor *x = gan_check(L, 1), *f = gan_check(L, 2);
  return gan_result(L, "upfirdn2d", gr_upfirdn2d(x, f, upfirdn_opts(L, 3)));
}

/* --- normalisation ----------------------------------------------------------------------- */

static int l_batch_norm(lua_State *L) {
  gr_tensor *x = gan_check(L, 1), *w = gan_opt(L, 2), *b = gan_opt(L, 3);
  gr_tensor *rm = gan_opt(L, 4), *rv = gan_opt(L, 5);
  bool training = lua_toboolean(L, 6);
  double momentum = luaL_optnumber(L, 7, 0.1), eps = luaL_optnumber(L, 8, 1e-5);
  return gan_result(L, "batch_norm", gr_batch_norm(x, w, b, rm, rv, training, momentum, eps));
}

static int l_instance_norm(lua_State *L) {
  gr_tensor *x = gan_check(L, 1), *w = gan_opt(L, 2), *b = gan_opt(L, 3);
  return gan_result(L, "instance_norm", gr_instance_norm(x, w, b, luaL_optnumber(L, 4, 1e-5)));
}

static int l_group_norm(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int groups = (int)luaL_checkinteger(L, 2);
  gr_tensor *w = gan_opt(L, 3), *b = gan_opt(L, 4);
  return gan_result(L, "group_norm", gr_group_norm(x, groups, w, b, luaL_optnumber(L, 5, 1e-5)));
}

static int l_layer_norm(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int nnorm = (int)luaL_checkinteger(L, 2);
  gr_tensor *w = gan_opt(L, 3), *b = gan_opt(L, 4);
  return gan_result(L, "layer_norm", gr_layer_norm(x, nnorm, w, b, luaL_optnumber(L, 5, 1e-5)));
}

/* --- joining and indexing ------------------------------------------------------------------ */

/* the tensors of the list at arg, in Lua-owned scratch memory */
static gr_tensor **tensor_list(lua_State *L, int arg, int *n) {
  luaL_checktype(L, arg, LUA_TTABLE);
  *n = (int)luaL_len(L, arg);
  gr_tensor **xs = gan_scratch(L, (size_t)*n * sizeof *xs);
  for (int i = 0; i < *n; i++) {
    lua_geti(L, arg, i + 1);
    xs[i] = gan_test(L, -1);
    if (!xs[i])
      luaL_argerror(L, arg, lua_pushfstring(L, "element %d is a %s, not a gan.Tensor", i + 1,
                                            luaL_typename(L, -1)));
    lua_pop(L, 1);
  }
  return xs;
}

static int join(lua_State *L, const char *name, bool stack) {
  int n;
  lua_settop(L, 2); /* scratch memory goes above the arguments */
  gr_tensor **xs = tensor_list(L, 1, &n);
  if (n == 0) return luaL_argerror(L, 1, "needs at least one tensor");
  int d = gan_optdim(L, 2, xs[0], xs[0]->ndim + (stack ? 1 : 0), 0);
  return gan_result(L, name, stack ? gr_stack(n, xs, d) : gr_cat(n, xs, d));
}
static int l_cat(lua_State *L) { return join(L, "cat", false); }
static int l_stack(lua_State *L) { return join(L, "stack", true); }

/* split/chunk: a table of views */
static int pieces(lua_State *L, const char *name, bool by_size) {
  gr_tensor *x = gan_check(L, 1);
  lua_Integer k = luaL_checkinteger(L, 2);
  int d = gan_optdim(L, 3, x, x->ndim, 0);
  if (k < 1) return luaL_argerror(L, 2, "must be at least 1");
  int64_t len = x->ndim ? x->shape[d] : 1;
  int64_t max = by_size ? (len + k - 1) / k : k;
  if (max < 1) max = 1;
  if (max > 1 << 24) return luaL_argerror(L, 2, "too many pieces");
  gr_tensor **out = gan_scratch(L, (size_t)max * sizeof *out);
  int got = by_size ? gr_split(x, k, d, out, (int)max) : gr_chunk(x, (int)k, d, out, (int)max);
  if (got < 0) return gan_fail(L, name);
  lua_createtable(L, got, 0);
  for (int i = 0; i < got; i++) {
    gan_push(L, out[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}
static int l_split(lua_State *L) { return pieces(L, "split", true); }
static int l_chunk(lua_State *L) { return pieces(L, "chunk", false); }

static int l_index_select(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int d = gan_dim(L, 2, x, x->ndim);
  return gan_result(L, "index_select", gr_index_select(x, d, gan_check(L, 3)));
}

static int l_gather(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int d = gan_dim(L, 2, x, x->ndim);
  return gan_result(L, "gather", gr_gather(x, d, gan_check(L, 3)));
}

static int l_scatter_add(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int d = gan_dim(L, 2, x, x->ndim);
  gr_tensor *idx = gan_check(L, 3), *src = gan_check(L, 4);
  return gan_result(L, "scatter_add", gr_scatter_add(x, d, idx, src));
}

static int l_one_hot(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "one_hot", gr_one_hot(x, luaL_checkinteger(L, 2)));
}

static int l_embedding(lua_State *L) {
  gr_tensor *w = gan_check(L, 1), *idx = gan_check(L, 2);
  return gan_result(L, "embedding", gr_embedding(w, idx));
}

/* --- random -------------------------------------------------------------------------- */

static int l_dropout(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  double p = luaL_optnumber(L, 2, 0.5);
  bool training = lua_isnoneornil(L, 3) ? true : lua_toboolean(L, 3);
  return gan_result(L, "dropout", gr_dropout(x, p, training));
}

static int l_bernoulli(lua_State *L) { return gan_result(L, "bernoulli", gr_bernoulli(gan_check(L, 1))); }

/// Random draws.
// @section random

/*** `gan.trunc_normal` (a function, not a method): draws from the normal
 * distribution truncated to [mean + a std, mean + b std]: z ~ N(0, 1)
 * restricted to [a, b], then mean + std z (BigGAN's truncation trick draws
 * its z this way). By inverse CDF from the seeded
 * generator's current stream, in double precision: each element takes two
 * 32-bit words, whatever its value, so a draw is the same on any number of
 * threads and moves the stream by the same amount.
 * @function trunc_normal
 * @tparam table|int shape the shape (a number: one dim), as gan.normal takes it
 * @number a the lower bound, in units of std
 * @number b the upper bound (a < b)
 * @number[opt=0] mean
 * @number[opt=1] std (>= 0)
 * @treturn Tensor float of the shape
 * @usage local z = gan.trunc_normal({64, 128}, -0.5, 0.5) -- truncation 0.5 */
static int l_trunc_normal(lua_State *L) {
  int64_t shape[GR_MAX_DIM];
  int nd = gan_shape1(L, 1, shape);
  double a = luaL_checknumber(L, 2), b = luaL_checknumber(L, 3);
  double mean = luaL_optnumber(L, 4, 0), std = luaL_optnumber(L, 5, 1);
  return gan_result(L, "trunc_normal", gr_trunc_normal(nd, shape, mean, std, a, b));
}

/* --- registration ------------------------------------------------------------------------- */

/* both gan.<name>(x, ...) and x:<name>(...): the two lists, then one row for
 * each binder written out above */
#define REG_UNARY(name) {#name, l_unary_##name},
#define REG(name) {#name, l_##name},
static const luaL_Reg ops[] = {
  GAN_UNARY_OPS(REG_UNARY)
  GAN_BINARY_OPS(REG)
  {"leaky_relu", l_leaky_relu}, {"elu", l_elu}, {"softplus", l_softplus}, {"clamp", l_clamp},
  {"float", l_float}, {"long", l_long},
  {"reshape", l_reshape}, {"view", l_view}, {"permute", l_permute}, {"transpose", l_transpose},
  {"t", l_t}, {"expand", l_expand}, {"sum_to", l_sum_to}, {"narrow", l_narrow},
  {"select", l_select}, {"squeeze", l_squeeze}, {"unsqueeze", l_unsqueeze},
  {"flatten", l_flatten}, {"flip", l_flip},
  {"sum", l_sum}, {"mean", l_mean}, {"var", l_var}, {"logsumexp", l_logsumexp},
  {"max", l_max}, {"min", l_min}, {"argmax", l_argmax}, {"softmax", l_softmax},
  {"log_softmax", l_log_softmax},
  {"matmul", l_matmul}, {"linear", l_linear}, {"conv2d", l_conv2d},
  {"conv_transpose2d", l_conv_transpose2d},
  {"avg_pool2d", l_avg_pool2d}, {"max_pool2d", l_max_pool2d}, {"upsample", l_upsample},
  {"pad", l_pad}, {"grid_sample", l_grid_sample}, {"upfirdn2d", l_upfirdn2d},
  {"batch_norm", l_batch_norm}, {"instance_norm", l_instance_norm},
  {"group_norm", l_group_norm}, {"layer_norm", l_layer_norm},
  {"split", l_split}, {"chunk", l_chunk}, {"index_select", l_index_select},
  {"gather", l_gather}, {"scatter_add", l_scatter_add}, {"one_hot", l_one_hot},
  {"embedding", l_embedding}, {"dropout", l_dropout}, {"bernoulli", l_bernoulli},
  {NULL, NULL},
};
#undef REG
#undef REG_UNARY

/* gan.<name> only */
static const luaL_Reg module_only[] = {
  {"where", l_where}, {"cat", l_cat}, {"stack", l_stack}, {"trunc_normal", l_trunc_normal},
  {NULL, NULL},
};

static const luaL_Reg arith[] = {
  {"__add", l_add}, {"__sub", l_sub}, {"__mul", l_mul}, {"__div", l_div},
  {"__pow", l_pow}, {"__unm", l_unm}, {NULL, NULL},
};

void gan_open_ops(lua_State *L) {
  /* stack: methods, module */
  luaL_setfuncs(L, ops, 0);
  luaL_setfuncs(L, module_only, 0);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, ops, 0);
  lua_pop(L, 1);
  luaL_getmetatable(L, GAN_TENSOR);
  luaL_setfuncs(L, arith, 0);
  lua_pop(L, 1);
}
