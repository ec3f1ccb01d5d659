/* gan.stats: statistics of feature sets (runtime/include/ganrt/stats.h).
 *
 *   local a, b = gan.stats.fit(real_features), gan.stats.fit(fake_features)
 *   gan.stats.frechet(a, b)                          -- a number
 *   gan.stats.kid(x, y, { subsets = 100, size = 1000, seed = 1 })   -- mean, std
 *   gan.stats.precision_recall(real, fake, 3)        -- precision, recall
 *
 * A Gaussian fit is a userdata (metatable "gan.Gaussian") holding its mean
 * and covariance in double precision. */
#include "bind.h"

/***
 * Statistics of feature sets, in double precision: the Fréchet distance
 * (FID's formula), the kernel inception distance and k-NN precision and
 * recall. gan.metrics computes features and calls these.
 * @module gan.stats
 */
#define GAN_GAUSS "gan.Gaussian"

typedef struct gauss_box {
  gr_gauss *g;
} gauss_box;

static gr_gauss *check_gauss(lua_State *L, int arg) {
  gauss_box *b = luaL_checkudata(L, arg, GAN_GAUSS);
  return b->g;
}

static int push_gauss(lua_State *L, const char *fn, gr_gauss *g) {
  if (!g) return gan_fail(L, fn);
  gauss_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->g = g;
  luaL_setmetatable(L, GAN_GAUSS);
  return 1;
}

static int gauss_gc(lua_State *L) {
  gauss_box *b = luaL_checkudata(L, 1, GAN_GAUSS);
  gr_gauss_free(b->g);
  b->g = NULL;
  return 0;
}

/*** `gan.stats.fit(x)`: the Gaussian fit of the rows of x: a gan.Gaussian,
 * whose methods are `g:mean()` (a tensor (D)), `g:cov()` (D, D), `g:count()`
 * (the rows fitted), `g:dim()` (D) and `g:frechet(other)`.
 * @function stats.fit
 * @tparam Tensor x (N, D) features
 * @return a gan.Gaussian
 * @usage local fd = gan.stats.fit(real):frechet(gan.stats.fit(fake)) */
static int l_fit(lua_State *L) {
  return push_gauss(L, "stats.fit", gr_gauss_fit(gan_check(L, 1)));
}

/*** `gan.stats.gaussian(mean, cov)`: a gan.Gaussian from its mean and
 * covariance (statistics saved earlier).
 * @function stats.gaussian
 * @tparam Tensor mean (D)
 * @tparam Tensor cov (D, D)
 * @return a gan.Gaussian */
static int l_gaussian(lua_State *L) {
  return push_gauss(L, "stats.gaussian", gr_gauss_new(gan_check(L, 1), gan_check(L, 2)));
}

/*** `gan.stats.frechet(a, b)`: the Fréchet distance between two Gaussian fits,
 * |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)).
 * @function stats.frechet
 * @param a a gan.Gaussian
 * @param b a gan.Gaussian of the same dim
 * @treturn number */
static int l_frechet(lua_State *L) {
  gr_gauss *a = check_gauss(L, 1), *b = check_gauss(L, 2);
  double fd;
  if (gr_frechet(a, b, &fd) != GR_OK) return gan_fail(L, "stats.frechet");
  lua_pushnumber(L, fd);
  return 1;
}

/* A float tensor of the double values v (n, or d x d when square). */
static int push_doubles(lua_State *L, const double *v, int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  gr_tensor *t = gr_empty(GR_F32, ndim, shape);
  if (!t) return gan_fail(L, "stats");
  float *p = gr_f32(t);
  for (int64_t i = 0; i < n; i++) p[i] = (float)v[i];
  return gan_push(L, t);
}

static int gauss_mean(lua_State *L) {
  gr_gauss *g = check_gauss(L, 1);
  int64_t shape[1] = {g->d};
  return push_doubles(L, g->mean, 1, shape);
}

static int gauss_cov(lua_State *L) {
  gr_gauss *g = check_gauss(L, 1);
  int64_t shape[2] = {g->d, g->d};
  return push_doubles(L, g->cov, 2, shape);
}

static int gauss_count(lua_State *L) {
  lua_pushinteger(L, check_gauss(L, 1)->n);
  return 1;
}

static int gauss_dim(lua_State *L) {
  lua_pushinteger(L, check_gauss(L, 1)->d);
  return 1;
}

static int gauss_tostring(lua_State *L) {
  gr_gauss *g = check_gauss(L, 1);
  lua_pushfstring(L, "Gaussian(features=%d, fitted on %I vectors)", g->d, (lua_Integer)g->n);
  return 1;
}

static lua_Integer opt_int_field(lua_State *L, int arg, const char *key, lua_Integer def) {
  if (lua_isnoneornil(L, arg)) return def;
  lua_getfield(L, arg, key);
  lua_Integer v = def;
  if (!lua_isnil(L, -1)) {
    int ok;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_argerror(L, arg, lua_pushfstring(L, "%s must be an integer", key));
  }
  lua_pop(L, 1);
  return v;
}

/*** `gan.stats.kid(x, y [, opts])`: the kernel inception distance: the unbiased
 * MMD^2 with the cubic polynomial kernel, averaged over random subsets.
 * @function stats.kid
 * @tparam Tensor x (N, D) features
 * @tparam Tensor y (M, D) features
 * @tparam[opt] table opts `subsets` (default 100), `size` (rows per subset,
 * default min(1000, N, M)), `seed` (default 0)
 * @treturn number the mean
 * @treturn number the standard deviation over subsets */
static int l_kid(lua_State *L) {
  gr_tensor *x = gan_check(L, 1), *y = gan_check(L, 2);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  int64_t m = 1000;
  if (x->ndim == 2 && x->shape[0] < m) m = x->shape[0];
  if (y->ndim == 2 && y->shape[0] < m) m = y->shape[0];
  lua_Integer subsets = opt_int_field(L, 3, "subsets", 100);
  lua_Integer size = opt_int_field(L, 3, "size", m);
  lua_Integer seed = opt_int_field(L, 3, "seed", 0);
  if (subsets < 1 || subsets > 100000 || size < 2 || size > 1000000)
    return gan_error(L, "stats.kid", "subsets (%d) must be 1 to 100000 and size (%d) 2 to 1000000",
                     (int)subsets, (int)size);
  double mean, std;
  if (gr_kid(x, y, (int)subsets, (int)size, (uint64_t)seed, &mean, &std) != GR_OK)
    return gan_fail(L, "stats.kid");
  lua_pushnumber(L, mean);
  lua_pushnumber(L, std);
  return 2;
}

/*** `gan.stats.precision_recall(real, fake [, k])`: k-NN precision (the share of
 * fake features inside the real ones' k-NN balls) and recall (the reverse).
 * @function stats.precision_recall
 * @tparam Tensor real (N, D)
 * @tparam Tensor fake (M, D)
 * @int[opt=3] k 1 to 64
 * @treturn number precision
 * @treturn number recall */
static int l_precision_recall(lua_State *L) {
  gr_tensor *r = gan_check(L, 1), *f = gan_check(L, 2);
  lua_Integer k = luaL_optinteger(L, 3, 3);
  if (k < 1 || k > 64) return gan_error(L, "stats.precision_recall", "k must be 1 to 64, got %d", (int)k);
  double p, rc;
  if (gr_precision_recall(r, f, (int)k, &p, &rc) != GR_OK) return gan_fail(L, "stats.precision_recall");
  lua_pushnumber(L, p);
  lua_pushnumber(L, rc);
  return 2;
}

void gan_open_stats(lua_State *L) {
  static const luaL_Reg gauss_methods[] = {
    {"mean", gauss_mean}, {"cov", gauss_cov}, {"count", gauss_count}, {"dim", gauss_dim},
    {"frechet", l_frechet}, {NULL, NULL},
  };
  if (luaL_newmetatable(L, GAN_GAUSS)) {
    luaL_newlib(L, gauss_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gauss_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, gauss_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {
    {"fit", l_fit}, {"gaussian", l_gaussian}, {"frechet", l_frechet}, {"kid", l_kid},
    {"precision_recall", l_precision_recall}, {NULL, NULL},
  };
  luaL_newlib(L, fns);
  lua_setfield(L, -2, "stats");
}
