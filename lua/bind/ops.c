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

/// More elementwise ops, with parameters, and dtype conversion.
// @section elementwise

/*** (max(x, 0) + slope min(x, 0)) * gain: with a gain, the same numbers as
 * `x:leaky_relu(slope) * gain` in one op (one pass over memory fewer, each
 * way), as StyleGAN's bias_act uses it.
 * @function leaky_relu
 * @tparam Tensor x
 * @number[opt=0.01] slope
 * @number[opt=1] gain
 * @treturn Tensor */
static int l_leaky_relu(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "leaky_relu",
                    gr_leaky_relu_gain(x, luaL_optnumber(L, 2, 0.01), luaL_optnumber(L, 3, 1.0)));
}

/*** x for x > 0, alpha (e^x - 1) below.
 * @function elu
 * @tparam Tensor x
 * @number[opt=1] alpha
 * @treturn Tensor */
static int l_elu(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "elu", gr_elu(x, luaL_optnumber(L, 2, 1.0)));
}

/*** log(1 + e^(beta x)) / beta; x itself where beta x > threshold.
 * @function softplus
 * @tparam Tensor x
 * @number[opt=1] beta
 * @number[opt=20] threshold
 * @treturn Tensor */
static int l_softplus(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  double beta = luaL_optnumber(L, 2, 1.0), threshold = luaL_optnumber(L, 3, 20.0);
  return gan_result(L, "softplus", gr_softplus(x, beta, threshold));
}

/*** Each element clamped into [lo, hi] (nil: no bound on that side); the
 * gradient is 1 inside, 0 outside.
 * @function clamp
 * @tparam Tensor x
 * @number[opt] lo
 * @number[opt] hi
 * @treturn Tensor
 * @usage local img = x:clamp(-1, 1) */
static int l_clamp(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  double lo = luaL_optnumber(L, 2, NAN), hi = luaL_optnumber(L, 3, NAN);
  return gan_result(L, "clamp", gr_clamp(x, lo, hi));
}

/*** x as float32: x itself (the same storage) when it is float32 already,
 * else a converted copy.
 * @function float
 * @tparam Tensor x
 * @treturn Tensor */
static int l_float(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "float", gr_to_dtype(x, GR_F32));
}

/*** x as int64, each value rounded toward zero; not differentiable.
 * @function long
 * @tparam Tensor x
 * @treturn Tensor */
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

/// Ops of two operands. `gan.name(a, b)`, `a:name(b)`; either may be a
// number, and shapes broadcast as in NumPy (sizes that differ must be 1 on
// one side). `+ - * / ^` and unary `-` on tensors call add, sub, mul, div,
// pow and neg. The comparisons give float 0/1 and are constants to autograd.
// @section binary

/*** a + b.
 * @function add
 * @tparam Tensor|number a
 * @tparam Tensor|number b
 * @treturn Tensor */

/*** a - b.
 * @function sub
 * @tparam Tensor|number a
 * @tparam Tensor|number b
 * @treturn Tensor */

/*** a * b, elementwise (for the matrix product see matmul).
 * @function mul
 * @tparam Tensor|number a
 * @tparam Tensor|number b
 * @treturn Tensor */

/*** a / b.
 * @function div
 * @tparam Tensor|number a
 * @tparam Tensor|number b
 * @treturn Tensor */

/*** a to the power b.
 * @function pow
 * @tparam Tensor|number a
 * @tparam Tensor|number b
 * @treturn Tensor */

/*** The larger of a and b, elementwise (the gradient goes to the larger).
 * @function maximum
 * @tparam Tensor|number a
 * @tparam Tensor|number b
 * @treturn Tensor */

/*** The smaller of a and b, elementwise.
 * @function minimum
 * @tparam Tensor|number a
 * @tparam Tensor|number b
 * @treturn Tensor */

/*** 1 where a == b, else 0.
 * @function eq
 * @tparam Tensor|number a
 * @tparam Tensor|number b
 * @treturn Tensor float 0/1 */

/*** 1 where a ~= b, else 0.
 * @function ne
 * @tparam Tensor|number a
 * @tparam Tensor|number b
 * @treturn Tensor float 0/1 */

/*** 1 where a < b, else 0.
 * @function lt
 * @tparam Tensor|number a
 * @tparam Tensor|number b
 * @treturn Tensor float 0/1 */

/*** 1 where a <= b, else 0.
 * @function le
 * @tparam Tensor|number a
 * @tparam Tensor|number b
 * @treturn Tensor float 0/1 */

/*** 1 where a > b, else 0.
 * @function gt
 * @tparam Tensor|number a
 * @tparam Tensor|number b
 * @treturn Tensor float 0/1
 * @usage local acc = D(real):gt(0):mean():item() */

/*** 1 where a >= b, else 0.
 * @function ge
 * @tparam Tensor|number a
 * @tparam Tensor|number b
 * @treturn Tensor float 0/1 */
static int l_unm(lua_State *L) { return gan_result(L, "neg", gr_neg(gan_check(L, 1))); }

/* a tensor argument, or a number made into a 0-d tensor (pooled) */
static gr_tensor *tensor_or_number(lua_State *L, int arg) {
  gr_tensor *t = gan_test(L, arg);
  if (t) return t;
  luaL_argexpected(L, lua_type(L, arg) == LUA_TNUMBER, arg, "gan.Tensor or number");
  return NULL;
}

/*** `gan.where` (a function, not a method): a where mask is nonzero, else b;
 * mask, a and b broadcast together. The gradient flows to a and b, each
 * where it was chosen.
 * @function where
 * @tparam Tensor mask
 * @tparam Tensor|number a
 * @tparam Tensor|number b
 * @treturn Tensor
 * @usage local y = gan.where(x:gt(0), x, 0.2 * x) -- leaky ReLU by hand */
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

/// Views and shapes. The results share x's storage where they can (a
// reshape of a non-contiguous x copies). Dims count from 1; -1 is the last.
// @section views

/*** x with another shape of as many elements; one size may be -1 (inferred).
 * @function reshape
 * @tparam Tensor x
 * @param ... the shape: numbers, or one table
 * @treturn Tensor
 * @usage local flat = x:reshape(x:size(1), -1) */
static int l_reshape(lua_State *L) { return with_shape(L, "reshape", gr_reshape); }

/*** The same as reshape.
 * @function view
 * @tparam Tensor x
 * @param ... the shape: numbers, or one table
 * @treturn Tensor */
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

/*** x with its dims reordered: dim k of the result is dim dims[k] of x.
 * @function permute
 * @tparam Tensor x
 * @param ... a permutation of 1..x:dim(): numbers, or one table
 * @treturn Tensor
 * @usage local nhwc = x:permute(1, 3, 4, 2) */
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

/*** x with dims a and b swapped.
 * @function transpose
 * @tparam Tensor x
 * @int a
 * @int b
 * @treturn Tensor */
static int l_transpose(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int a = gan_dim(L, 2, x, x->ndim), b = gan_dim(L, 3, x, x->ndim);
  return gan_result(L, "transpose", gr_transpose(x, a, b));
}

/*** The transpose of a matrix (x itself for 0 or 1 dims).
 * @function t
 * @tparam Tensor x at most 2 dims
 * @treturn Tensor */
static int l_t(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  if (x->ndim > 2)
    return gan_error(L, "t", "expects a tensor of at most 2 dims, got shape %s", gr_shape_str(x));
  if (x->ndim < 2) return gan_push(L, gr_retain(x));
  return gan_result(L, "t", gr_transpose(x, 0, 1));
}

/*** x repeated along its dims of size 1 to the shape given, without copying
 * (-1 keeps a size); new leading dims may be added.
 * @function expand
 * @tparam Tensor x
 * @param ... the shape: numbers, or one table
 * @treturn Tensor */
static int l_expand(lua_State *L) { return with_shape(L, "expand", gr_expand); }

/*** x summed down to a shape it broadcasts from (the gradient of expand).
 * @function sum_to
 * @tparam Tensor x
 * @param ... the shape: numbers, or one table
 * @treturn Tensor */
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

/*** length elements of dim, from start (counting from 1) on: a view.
 * @function narrow
 * @tparam Tensor x
 * @int dim
 * @int start from 1 (negative: from the end)
 * @int length
 * @treturn Tensor
 * @usage local first8 = x:narrow(1, 1, 8) -- the first 8 of a batch */
static int l_narrow(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int d = gan_dim(L, 2, x, x->ndim);
  int64_t start = position(L, 3, x, d, true);
  lua_Integer len = luaL_checkinteger(L, 4);
  return gan_result(L, "narrow", gr_narrow(x, d, start, len));
}

/*** The slice at index i of dim, without that dim (`x[i]` is `x:select(1, i)`).
 * @function select
 * @tparam Tensor x
 * @int dim
 * @int i from 1 (negative: from the end)
 * @treturn Tensor */
static int l_select(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int d = gan_dim(L, 2, x, x->ndim);
  return gan_result(L, "select", gr_select(x, d, position(L, 3, x, d, false)));
}

/*** x without its dims of size 1 (or only dim, when given and of size 1).
 * @function squeeze
 * @tparam Tensor x
 * @int[opt] dim
 * @treturn Tensor */
static int l_squeeze(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  if (!lua_isnoneornil(L, 2)) return gan_result(L, "squeeze", gr_squeeze(x, gan_dim(L, 2, x, x->ndim)));
  int64_t shape[GR_MAX_DIM];
  int n = 0;
  for (int d = 0; d < x->ndim; d++)
    if (x->shape[d] != 1) shape[n++] = x->shape[d];
  return gan_result(L, "squeeze", gr_reshape(x, n, shape));
}

/*** x with a new dim of size 1 at position dim (1 .. x:dim() + 1).
 * @function unsqueeze
 * @tparam Tensor x
 * @int dim
 * @treturn Tensor */
static int l_unsqueeze(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "unsqueeze", gr_unsqueeze(x, gan_dim(L, 2, x, x->ndim + 1)));
}

/*** Dims first_dim to last_dim merged into one.
 * @function flatten
 * @tparam Tensor x
 * @int[opt=1] first_dim
 * @int[opt=-1] last_dim
 * @treturn Tensor
 * @usage local h = x:flatten(2) -- (N, C, H, W) -> (N, C*H*W) */
static int l_flatten(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int s = gan_optdim(L, 2, x, x->ndim, 0), e = gan_optdim(L, 3, x, x->ndim, x->ndim ? x->ndim - 1 : 0);
  return gan_result(L, "flatten", gr_flatten(x, s, e));
}

/*** x reversed along the dims given (a copy).
 * @function flip
 * @tparam Tensor x
 * @param ... the dims: numbers, or one table
 * @treturn Tensor */
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
/// Reductions. dims is a dim or a table of dims (none: every element, a
// 0-d result); keepdim keeps each reduced dim with size 1.
// @section reductions

/*** The sum of the elements, over dims.
 * @function sum
 * @tparam Tensor x
 * @tparam[opt] int|table dims
 * @bool[opt=false] keepdim
 * @treturn Tensor
 * @usage local total = x:sum() -- 0-d
 * local rows = x:sum(2, true) -- (N, 1) */
static int l_sum(lua_State *L) { return reduce(L, "sum", gr_sum); }
/*** The mean of the elements, over dims.
 * @function mean
 * @tparam Tensor x
 * @tparam[opt] int|table dims
 * @bool[opt=false] keepdim
 * @treturn Tensor */
static int l_mean(lua_State *L) { return reduce(L, "mean", gr_mean); }

/*** log(sum(e^x)) over dims, computed without overflow.
 * @function logsumexp
 * @tparam Tensor x
 * @tparam int|table dims (required)
 * @bool[opt=false] keepdim
 * @treturn Tensor */
static int l_logsumexp(lua_State *L) {
  luaL_checkany(L, 2);
  return reduce(L, "logsumexp", gr_logsumexp);
}

/*** The variance over dims: the sum of squared deviations divided by
 * n - correction (1: the unbiased estimate, 0: the population variance).
 * @function var
 * @tparam Tensor x
 * @tparam[opt] int|table dims
 * @int[opt=1] correction
 * @bool[opt=false] keepdim
 * @treturn Tensor */
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
/*** The largest element (a 0-d tensor), or along dim the largest values and
 * their indices (int64, counting from 0).
 * @function max
 * @tparam Tensor x
 * @int[opt] dim
 * @bool[opt=false] keepdim
 * @treturn Tensor values
 * @treturn Tensor indices (with dim only) */
/*** The smallest element (a 0-d tensor), or along dim the smallest values and
 * their indices (int64, counting from 0).
 * @function min
 * @tparam Tensor x
 * @int[opt] dim
 * @bool[opt=false] keepdim
 * @treturn Tensor values
 * @treturn Tensor indices (with dim only) */
static int l_max(lua_State *L) { return extreme(L, "max", gr_max_dim, gr_max_all); }
static int l_min(lua_State *L) { return extreme(L, "min", gr_min_dim, gr_min_all); }

static gr_tensor *argmax_of(gr_tensor *x, int d, bool keep) {
  gr_tensor *idx = NULL;
  gr_tensor *v = gr_max_dim(x, d, keep, &idx);
  if (!v) return NULL;
  gr_release(v);
  return idx;
}

/*** The index (int64, counting from 0) of the largest element: along dim,
 * or of the flattened x.
 * @function argmax
 * @tparam Tensor x
 * @int[opt] dim
 * @bool[opt=false] keepdim
 * @treturn Tensor int64
 * @usage local class = logits:argmax(2) -- (N) */
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

/*** e^x / sum(e^x) along dim.
 * @function softmax
 * @tparam Tensor x
 * @int dim
 * @treturn Tensor */
static int l_softmax(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "softmax", gr_softmax(x, gan_dim(L, 2, x, x->ndim)));
}

/*** x - logsumexp(x) along dim.
 * @function log_softmax
 * @tparam Tensor x
 * @int dim
 * @treturn Tensor */
static int l_log_softmax(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "log_softmax", gr_log_softmax(x, gan_dim(L, 2, x, x->ndim)));
}

/* --- linear algebra, convolution ------------------------------------------------------ */

/// Matrix products and convolutions (OpenBLAS).
// @section linear

/*** The matrix product a b: (..., n, k) times (..., k, m), batch dims
 * broadcast; 1-d operands as in NumPy.
 * @function matmul
 * @tparam Tensor a
 * @tparam Tensor b
 * @treturn Tensor */
static int l_matmul(lua_State *L) {
  gr_tensor *a = gan_check(L, 1), *b = gan_check(L, 2);
  return gan_result(L, "matmul", gr_matmul(a, b));
}

/*** x w^T + b: a fully connected layer.
 * @function linear
 * @tparam Tensor x (..., in)
 * @tparam Tensor w (out, in)
 * @tparam[opt] Tensor b (out)
 * @treturn Tensor (..., out) */
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

/*** 2-d convolution (cross-correlation, as in PyTorch).
 * @function conv2d
 * @tparam Tensor x (N, C, H, W)
 * @tparam Tensor w (O, C / groups, kh, kw)
 * @tparam[opt] Tensor b (O)
 * @tparam[opt] table opts `stride`, `padding`, `dilation` (each a number or
 * `{h, w}`; defaults 1, 0, 1) and `groups` (default 1)
 * @treturn Tensor (N, O, Ho, Wo)
 * @usage local y = gan.conv2d(x, w, b, {stride = 2, padding = 1}) */
static int l_conv2d(lua_State *L) {
  gr_tensor *x = gan_check(L, 1), *w = gan_check(L, 2), *b = gan_opt(L, 3);
  return gan_result(L, "conv2d", gr_conv2d(x, w, b, conv_opts(L, 4)));
}

/*** 2-d transposed convolution (the gradient of conv2d in x): upsampling by
 * stride.
 * @function conv_transpose2d
 * @tparam Tensor x (N, C, H, W)
 * @tparam Tensor w (C, O / groups, kh, kw)
 * @tparam[opt] Tensor b (O)
 * @tparam[opt] table opts `stride`, `padding`, `dilation`,
 * `output_padding` (each a number or `{h, w}`) and `groups`
 * @treturn Tensor (N, O, Ho, Wo) */
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
/// Pooling and resampling of (N, C, H, W) images.
// @section resampling

/*** The mean over k x k windows.
 * @function avg_pool2d
 * @tparam Tensor x (N, C, H, W)
 * @tparam int|table k the window: a number or `{h, w}`
 * @tparam[opt=k] int|table stride
 * @tparam[opt=0] int|table padding
 * @treturn Tensor */
/*** The largest value of k x k windows.
 * @function max_pool2d
 * @tparam Tensor x (N, C, H, W)
 * @tparam int|table k the window: a number or `{h, w}`
 * @tparam[opt=k] int|table stride
 * @tparam[opt=0] int|table padding
 * @treturn Tensor */
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
/*** Resizes images to a size, or by a scale factor.
 * @function upsample
 * @tparam Tensor x (N, C, H, W)
 * @tparam table opts `size = {h, w}` or `scale = s` (a number or `{sh, sw}`);
 * may also hold `mode`, `align_corners` and `recompute_scale_factor` (true: the
 * scale is taken as size / input, the mapping a size gives; else output pixel o
 * maps to o / s, as PyTorch's scale_factor)
 * @string[opt="nearest"] mode "nearest" or "bilinear"
 * @bool[opt=false] align_corners (bilinear)
 * @treturn Tensor
 * @usage local up = x:upsample({scale = 2}) */
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

/*** Pads the last two dims.
 * @function pad
 * @tparam Tensor x
 * @tparam int|table p a number (every side), `{left, right, top, bottom}` or
 * `{left, right}`
 * @string[opt="zeros"] mode "zeros" (or "constant"), "reflect" or "replicate"
 * @treturn Tensor
 * @usage local y = x:pad(3, "reflect") -- CycleGAN's ResNet blocks */
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

/*** Samples x bilinearly at the points of grid, coordinates in [-1, 1]
 * (x first, then y), as PyTorch's grid_sample (geometric augmentation).
 * @function grid_sample
 * @tparam Tensor x (N, C, H, W)
 * @tparam Tensor grid (N, Ho, Wo, 2)
 * @tparam[opt] table opts `padding_mode` ("zeros", "border" or "reflection")
 * and `align_corners` (default false)
 * @treturn Tensor (N, C, Ho, Wo) */
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

/// Normalization. weight and bias, when given, scale and shift each channel
// (each feature for layer_norm) after normalizing.
// @section norm

/*** Batch normalization over (N, H, W) for each channel C (or over N for
 * (N, C)). In training the batch statistics are used and running_mean and
 * running_var (when given) updated in place; otherwise the running ones.
 * @function batch_norm
 * @tparam Tensor x (N, C) or (N, C, H, W)
 * @tparam[opt] Tensor weight (C)
 * @tparam[opt] Tensor bias (C)
 * @tparam[opt] Tensor running_mean (C)
 * @tparam[opt] Tensor running_var (C)
 * @bool[opt=false] training
 * @number[opt=0.1] momentum
 * @number[opt=1e-5] eps
 * @treturn Tensor */
static int l_batch_norm(lua_State *L) {
  gr_tensor *x = gan_check(L, 1), *w = gan_opt(L, 2), *b = gan_opt(L, 3);
  gr_tensor *rm = gan_opt(L, 4), *rv = gan_opt(L, 5);
  bool training = lua_toboolean(L, 6);
  double momentum = luaL_optnumber(L, 7, 0.1), eps = luaL_optnumber(L, 8, 1e-5);
  return gan_result(L, "batch_norm", gr_batch_norm(x, w, b, rm, rv, training, momentum, eps));
}

/*** Instance normalization: each (H, W) plane of each sample to mean 0 and
 * variance 1.
 * @function instance_norm
 * @tparam Tensor x (N, C, H, W)
 * @tparam[opt] Tensor weight (C)
 * @tparam[opt] Tensor bias (C)
 * @number[opt=1e-5] eps
 * @treturn Tensor */
static int l_instance_norm(lua_State *L) {
  gr_tensor *x = gan_check(L, 1), *w = gan_opt(L, 2), *b = gan_opt(L, 3);
  return gan_result(L, "instance_norm", gr_instance_norm(x, w, b, luaL_optnumber(L, 4, 1e-5)));
}

/*** Group normalization: the channels of each sample in groups, each group
 * normalized on its own.
 * @function group_norm
 * @tparam Tensor x (N, C, ...)
 * @int groups divides C
 * @tparam[opt] Tensor weight (C)
 * @tparam[opt] Tensor bias (C)
 * @number[opt=1e-5] eps
 * @treturn Tensor */
static int l_group_norm(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int groups = (int)luaL_checkinteger(L, 2);
  gr_tensor *w = gan_opt(L, 3), *b = gan_opt(L, 4);
  return gan_result(L, "group_norm", gr_group_norm(x, groups, w, b, luaL_optnumber(L, 5, 1e-5)));
}

/*** Layer normalization over the last n dims.
 * @function layer_norm
 * @tparam Tensor x
 * @int n how many trailing dims are normalized together
 * @tparam[opt] Tensor weight of those n dims' shape
 * @tparam[opt] Tensor bias likewise
 * @number[opt=1e-5] eps
 * @treturn Tensor */
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
/// Joining, splitting and indexing. Index tensors are int64 and count from
// 0 (as randperm and argmax give them); dims count from 1.
// @section indexing

/*** `gan.cat` (a function, not a method): the tensors joined along dim;
 * their other sizes agree.
 * @function cat
 * @tparam {Tensor,...} xs a list of tensors
 * @int[opt=1] dim
 * @treturn Tensor
 * @usage local both = gan.cat({real, fake}) -- (2N, C, H, W)
 * local pair = gan.cat({a, b}, 2) -- along the channels */
/*** `gan.stack` (a function, not a method): the tensors, all of one shape,
 * along a new dim.
 * @function stack
 * @tparam {Tensor,...} xs a list of tensors
 * @int[opt=1] dim the position of the new dim
 * @treturn Tensor */
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
/*** x cut along dim into pieces of size n (the last may be smaller): views.
 * @function split
 * @tparam Tensor x
 * @int n
 * @int[opt=1] dim
 * @treturn {Tensor,...} */
/*** x cut along dim into k pieces of about one size: views.
 * @function chunk
 * @tparam Tensor x
 * @int k
 * @int[opt=1] dim
 * @treturn {Tensor,...}
 * @usage local mu, logvar = table.unpack(h:chunk(2, 2)) */
static int l_split(lua_State *L) { return pieces(L, "split", true); }
static int l_chunk(lua_State *L) { return pieces(L, "chunk", false); }

/*** The slices of x along dim at the indices given, in their order.
 * @function index_select
 * @tparam Tensor x
 * @int dim
 * @tparam Tensor index int64 (k), from 0
 * @treturn Tensor x's shape with size k along dim
 * @usage local batch = data:index_select(1, gan.randperm(n):narrow(1, 1, 64)) */
static int l_index_select(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int d = gan_dim(L, 2, x, x->ndim);
  return gan_result(L, "index_select", gr_index_select(x, d, gan_check(L, 3)));
}

/*** out[i][j] = x[i][index[i][j]] along dim 2 (likewise for any dim):
 * picks one element per position.
 * @function gather
 * @tparam Tensor x
 * @int dim
 * @tparam Tensor index int64 of x's rank, from 0
 * @treturn Tensor of index's shape */
static int l_gather(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int d = gan_dim(L, 2, x, x->ndim);
  return gan_result(L, "gather", gr_gather(x, d, gan_check(L, 3)));
}

/*** x plus src added at the indices along dim (the gradient of gather);
 * repeated indices add up.
 * @function scatter_add
 * @tparam Tensor x
 * @int dim
 * @tparam Tensor index int64 of src's shape, from 0
 * @tparam Tensor src
 * @treturn Tensor a new tensor; x is not changed */
static int l_scatter_add(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  int d = gan_dim(L, 2, x, x->ndim);
  gr_tensor *idx = gan_check(L, 3), *src = gan_check(L, 4);
  return gan_result(L, "scatter_add", gr_scatter_add(x, d, idx, src));
}

/*** Each index as a row of classes floats, 1 at the index.
 * @function one_hot
 * @tparam Tensor index int64, from 0
 * @int classes
 * @treturn Tensor float, index's shape then (classes)
 * @usage local y = labels:one_hot(10) -- (N, 10) */
static int l_one_hot(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  return gan_result(L, "one_hot", gr_one_hot(x, luaL_checkinteger(L, 2)));
}

/*** The rows of weight at the indices: a lookup table (class embeddings
 * of conditional GANs).
 * @function embedding
 * @tparam Tensor weight (V, D)
 * @tparam Tensor index int64 of any shape, from 0
 * @treturn Tensor index's shape then (D) */
static int l_embedding(lua_State *L) {
  gr_tensor *w = gan_check(L, 1), *idx = gan_check(L, 2);
  return gan_result(L, "embedding", gr_embedding(w, idx));
}

/* --- random -------------------------------------------------------------------------- */

/// Random draws.
// @section random

/*** In training, each element zeroed with probability p and the others
 * scaled by 1 / (1 - p); otherwise x.
 * @function dropout
 * @tparam Tensor x
 * @number[opt=0.5] p
 * @bool[opt=true] training
 * @treturn Tensor */
static int l_dropout(lua_State *L) {
  gr_tensor *x = gan_check(L, 1);
  double p = luaL_optnumber(L, 2, 0.5);
  bool training = lua_isnoneornil(L, 3) ? true : lua_toboolean(L, 3);
  return gan_result(L, "dropout", gr_dropout(x, p, training));
}

/*** 1 with probability p, else 0, for each element of p.
 * @function bernoulli
 * @tparam Tensor p probabilities in [0, 1]
 * @treturn Tensor float 0/1 */
static int l_bernoulli(lua_State *L) { return gan_result(L, "bernoulli", gr_bernoulli(gan_check(L, 1))); }

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
