/* luaopen_gan_core: the module table, autograd, random state, threads,
 * kernels, the fused optimizer updates, and memory counters. */
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "bind.h"

/***
 * Gradients, the random state, threads and kernels, the fused optimizer
 * updates, and counters. Every function here is a field of the gan table:
 * `gan.grad(loss, params)`, `gan.no_grad(fn)`; gan.kernels and gan.fused
 * are tables of functions.
 * @module gan.autograd
 */
/* --- autograd ------------------------------------------------------------------------
 * gan.grad(outputs, inputs [, opts]): outputs and inputs are a tensor or a
 * list of tensors; so is opts.grad_outputs. */

/* A tensor or a list of tensors at arg, in Lua-owned scratch memory. */
static gr_tensor **tensors_arg(lua_State *L, int arg, const char *what, int *n) {
  gr_tensor *one = gan_test(L, arg);
  if (one) {
    gr_tensor **xs = gan_scratch(L, sizeof *xs);
    xs[0] = one;
    *n = 1;
    return xs;
  }
  if (!lua_istable(L, arg))
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a gan.Tensor or a list of them, not a %s",
                                          what, luaL_typename(L, arg)));
  *n = (int)luaL_len(L, arg);
  gr_tensor **xs = gan_scratch(L, (size_t)*n * sizeof *xs);
  for (int i = 0; i < *n; i++) {
    lua_geti(L, arg, i + 1);
    xs[i] = gan_test(L, -1);
    if (!xs[i])
      luaL_argerror(L, arg, lua_pushfstring(L, "%s[%d] is a %s, not a gan.Tensor", what, i + 1,
                                            luaL_typename(L, -1)));
    lua_pop(L, 1);
  }
  return xs;
}

static bool opt_flag(lua_State *L, int arg, const char *key) {
  if (lua_isnoneornil(L, arg)) return false;
  lua_getfield(L, arg, key);
  bool on = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return on;
}

/*** The gradients of outputs with respect to inputs: d(sum of the outputs,
 * each weighted by its grad_output) / d input. The gradient rules are
 * written in ops, so with `create_graph` the gradients are differentiable
 * tensors themselves: gradient penalties (WGAN-GP, R1) and path length
 * regularization take a gradient of a gradient. An input the outputs do not
 * depend on gets zeros (nil with `allow_unused`). Without `retain_graph`
 * (or `create_graph`) the graph gives back its saved values: a second
 * gan.grad through it is an error.
 * @function grad
 * @tparam Tensor|{Tensor,...} outputs
 * @tparam Tensor|{Tensor,...} inputs
 * @tparam[opt] table opts `create_graph` (record the backward pass, default
 * false), `retain_graph` (keep the graph for another pass, default false),
 * `allow_unused` (default false), `grad_outputs` (a tensor or a list, one
 * per output, of the outputs' shapes; default ones)
 * @treturn Tensor|{Tensor,...} a tensor when inputs is one tensor, else a
 * list in the order of inputs
 * @usage local x = gan.randn(3):requires_grad(true)
 * local g = gan.grad((x * x):sum(), x) -- 2x
 * local gw = gan.grad(D(xhat):sum(), xhat, {create_graph = true}) -- WGAN-GP */
static int l_grad(lua_State *L) {
  int nout, nin;
  lua_settop(L, 3); /* scratch memory goes above the arguments */
  gr_tensor **outs = tensors_arg(L, 1, "outputs", &nout);
  bool single = gan_test(L, 2) != NULL;
  gr_tensor **ins = tensors_arg(L, 2, "inputs", &nin);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  gr_grad_opts o = {
    .create_graph = opt_flag(L, 3, "create_graph"),
    .retain_graph = opt_flag(L, 3, "retain_graph"),
    .allow_unused = opt_flag(L, 3, "allow_unused"),
  };
  if (!lua_isnoneornil(L, 3) && lua_getfield(L, 3, "grad_outputs") != LUA_TNIL) {
    int ngo;
    o.grad_outputs = tensors_arg(L, lua_gettop(L) - 0, "grad_outputs", &ngo);
    if (ngo != nout)
      return gan_error(L, "grad", "%d grad_outputs for %d outputs", ngo, nout);
  }
  gr_tensor **grads = gan_scratch(L, (size_t)nin * sizeof *grads);
  if (gr_grad(nout, outs, nin, ins, &o, grads) != GR_OK) return gan_fail(L, "grad");
  if (single) {
    if (grads[0]) return gan_push(L, grads[0]);
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, nin, 0);
  for (int i = 0; i < nin; i++) {
    if (!grads[i]) continue; /* unused, with allow_unused */
    gan_push(L, grads[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* gan.no_grad(fn, ...): fn's results; grad mode restored even when fn fails. */
/*** Calls fn(...) with no op recorded for the gradient (sampling,
 * evaluation, updates by hand), and returns its results. The grad mode is
 * put back afterwards, also when fn raises an error.
 * @function no_grad
 * @tparam function fn
 * @param ... fn's arguments
 * @return fn's results
 * @usage local fake = gan.no_grad(function() return G(z) end) */
static int l_no_grad(lua_State *L) {
  luaL_checkany(L, 1);
  bool prev = gr_set_grad_enabled(false);
  int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  gr_set_grad_enabled(prev);
  if (status != LUA_OK) return lua_error(L); /* the same error value, passed on */
  return lua_gettop(L);
}

/* gan.enable_grad(fn, ...): fn's results with gradients recorded again inside gan.no_grad
 * (a search by gradient descent in an evaluation or sampling hook); the mode is restored
 * even when fn fails. */
/*** Calls fn(...) with ops recorded again, inside gan.no_grad (a search by
 * gradient descent in an evaluation hook); the mode is put back afterwards.
 * @function enable_grad
 * @tparam function fn
 * @param ... fn's arguments
 * @return fn's results */
static int l_enable_grad(lua_State *L) {
  luaL_checkany(L, 1);
  bool prev = gr_set_grad_enabled(true);
  int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  gr_set_grad_enabled(prev);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

/*** Whether ops are recorded for the gradient now (false inside gan.no_grad).
 * @function is_grad_enabled
 * @treturn boolean */
static int l_is_grad_enabled(lua_State *L) {
  lua_pushboolean(L, gr_grad_enabled());
  return 1;
}

/* --- random state ----------------------------------------------------------------------- */

/*** Seeds the one random generator (Philox, counter-based). `gan.manual_seed`
 * (gan/init.lua) calls it and also starts every named stream of gan.random
 * again: call that one.
 * @function manual_seed
 * @int seed */
static int l_manual_seed(lua_State *L) {
  gr_manual_seed((uint64_t)luaL_checkinteger(L, 1));
  return 0;
}

/*** The generator's state, to put back later with gan.set_rng_state.
 * @function rng_state
 * @treturn table {seed=, offset=, stream=} */
static int l_rng_state(lua_State *L) {
  gr_rng_state s = gr_rng_get();
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)s.seed);
  lua_setfield(L, -2, "seed");
  lua_pushinteger(L, (lua_Integer)s.offset);
  lua_setfield(L, -2, "offset");
  lua_pushinteger(L, (lua_Integer)s.stream);
  lua_setfield(L, -2, "stream");
  return 1;
}

/*** Puts back a state that gan.rng_state returned: the draws that follow
 * are the ones that followed it then.
 * @function set_rng_state
 * @tparam table state {seed=, offset= [, stream=]} */
static int l_set_rng_state(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  gr_rng_state s;
  int ok;
  lua_getfield(L, 1, "seed");
  s.seed = (uint64_t)lua_tointegerx(L, -1, &ok);
  if (!ok) return luaL_argerror(L, 1, "seed must be an integer");
  lua_getfield(L, 1, "offset");
  s.offset = (uint64_t)lua_tointegerx(L, -1, &ok);
  if (!ok) return luaL_argerror(L, 1, "offset must be an integer");
  /* the stream is optional: states saved before streams existed have none */
  lua_getfield(L, 1, "stream");
  s.stream = lua_isnil(L, -1) ? 0 : (uint64_t)lua_tointegerx(L, -1, &ok);
  if (!ok) return luaL_argerror(L, 1, "stream must be an integer");
  gr_rng_set(s);
  return 0;
}

/* --- threads and kernels -------------------------------------------------------------------- */

/*** The number of threads the kernels use (0: every core). The same seed
 * and thread count give a bit-identical run.
 * @function set_threads
 * @int n */
static int l_set_threads(lua_State *L) {
  gr_set_threads((int)luaL_checkinteger(L, 1));
  return 0;
}

/*** Whether the number of threads running follows the machine's load: while
 * other processes keep ours waiting for a CPU (a shared machine), the
 * runtime's own loops run one thread fewer, and the count asked for again
 * once they stop (checked every 100 ms of ops). OpenBLAS keeps the count
 * asked for, and the loops' numbers do not depend on their threads, so a
 * run's results do not change. On by default (off when the environment
 * sets GANLUA_ADAPT_THREADS=0); GANLUA_THREADS_TRACE=1 prints every
 * decision on stderr.
 * @function adapt_threads
 * @bool on */
static int l_adapt_threads(lua_State *L) {
  luaL_checktype(L, 1, LUA_TBOOLEAN);
  gr_threads_adapt(lua_toboolean(L, 1));
  return 0;
}

/*** The number of threads the kernels use.
 * @function get_threads
 * @treturn int */
static int l_get_threads(lua_State *L) {
  lua_pushinteger(L, gr_get_threads());
  return 1;
}

/*** `gan.kernels.info()`: which kernels run.
 * @function kernels.info
 * @treturn table {isa = "scalar", "avx2" or "avx512", threads= (asked for),
 * running_threads= (running our loops now: fewer on a busy machine, see
 * adapt_threads), blas = the
 * BLAS library, sanitized = built with the sanitizers} */
static int l_kernels_info(lua_State *L) {
  lua_createtable(L, 0, 4);
  lua_pushstring(L, gr_kernels()->isa);
  lua_setfield(L, -2, "isa");
  lua_pushinteger(L, gr_get_threads());
  lua_setfield(L, -2, "threads");
  lua_pushinteger(L, gr_threads_running());
  lua_setfield(L, -2, "running_threads");
  lua_pushstring(L, gr_blas_info());
  lua_setfield(L, -2, "blas");
#ifdef GANLUA_SANITIZE
  lua_pushboolean(L, 1); /* built with AddressSanitizer + UBSan: several times slower */
#else
  lua_pushboolean(L, 0);
#endif
  lua_setfield(L, -2, "sanitized");
  return 1;
}

/*** `gan.kernels.use(isa)`: runs the kernels of one instruction set from now on
 * (to compare a SIMD kernel with its scalar twin). The environment variable
 * GANLUA_ISA does the same at start.
 * @function kernels.use
 * @string isa "scalar", "avx2" or "avx512"
 * @treturn true, or nil and a message naming the available ones */
static int l_kernels_use(lua_State *L) {
  const char *isa = luaL_checkstring(L, 1);
  if (gr_kernels_use(isa) == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  static const char *const all[] = {"scalar", "avx2", "avx512"};
  for (int i = 0; i < 3; i++) {
    if (!gr_kernels_for(all[i])) continue;
    if (luaL_bufflen(&b)) luaL_addstring(&b, ", ");
    luaL_addstring(&b, all[i]);
  }
  luaL_pushresult(&b);
  lua_pushnil(L);
  lua_pushfstring(L, "gan.kernels.use: \"%s\" is not available on this CPU or build (available: %s)",
                  isa, lua_tostring(L, -2));
  return 2;
}

/* --- fused optimizer updates (in place, recording nothing) ------------------------------ */

/*** `gan.fused.adam(p, g, m, v, lr, beta1, beta2, eps, wd, step, decoupled)`:
 * one Adam update of p in place, with its moments m and v, recording
 * nothing (gan.optim.Adam calls it). wd is L2 weight decay, or AdamW's
 * decoupled decay when decoupled is true; step counts from 1 (bias
 * correction).
 * @function fused.adam
 * @tparam Tensor p the parameter
 * @tparam Tensor g its gradient
 * @tparam Tensor m the first moment
 * @tparam Tensor v the second moment
 * @number lr
 * @number beta1
 * @number beta2
 * @number eps
 * @number[opt=0] wd
 * @int step
 * @bool[opt=false] decoupled */
static int l_adam(lua_State *L) {
  gr_tensor *p = gan_check(L, 1), *g = gan_check(L, 2), *m = gan_check(L, 3), *v = gan_check(L, 4);
  double lr = luaL_checknumber(L, 5), b1 = luaL_checknumber(L, 6), b2 = luaL_checknumber(L, 7);
  double eps = luaL_checknumber(L, 8), wd = luaL_optnumber(L, 9, 0);
  lua_Integer step = luaL_checkinteger(L, 10);
  bool decoupled = lua_toboolean(L, 11);
  if (gr_adam_update(p, g, m, v, lr, b1, b2, eps, wd, step, decoupled) != GR_OK)
    return gan_fail(L, "fused.adam");
  return 0;
}

/*** `gan.fused.sgd(p, g, buf, lr, momentum, dampening, wd, nesterov, first)`:
 * one SGD update of p in place (gan.optim.SGD calls it); buf holds the
 * momentum (nil without); first is true at the first step, when buf takes g.
 * @function fused.sgd
 * @tparam Tensor p
 * @tparam Tensor g
 * @tparam[opt] Tensor buf
 * @number lr
 * @number[opt=0] momentum
 * @number[opt=0] dampening
 * @number[opt=0] wd
 * @bool[opt=false] nesterov
 * @bool[opt=false] first */
static int l_sgd(lua_State *L) {
  gr_tensor *p = gan_check(L, 1), *g = gan_check(L, 2), *buf = gan_opt(L, 3);
  double lr = luaL_checknumber(L, 4), momentum = luaL_optnumber(L, 5, 0);
  double dampening = luaL_optnumber(L, 6, 0), wd = luaL_optnumber(L, 7, 0);
  bool nesterov = lua_toboolean(L, 8), first = lua_toboolean(L, 9);
  if (gr_sgd_update(p, g, buf, lr, momentum, dampening, wd, nesterov, first) != GR_OK)
    return gan_fail(L, "fused.sgd");
  return 0;
}

/*** `gan.fused.rmsprop(p, g, sq, lr, alpha, eps, wd)`: one RMSprop update of p
 * in place (gan.optim.RMSprop calls it); sq is the running mean of g^2.
 * @function fused.rmsprop
 * @tparam Tensor p
 * @tparam Tensor g
 * @tparam Tensor sq
 * @number lr
 * @number alpha
 * @number eps
 * @number[opt=0] wd */
static int l_rmsprop(lua_State *L) {
  gr_tensor *p = gan_check(L, 1), *g = gan_check(L, 2), *sq = gan_check(L, 3);
  double lr = luaL_checknumber(L, 4), alpha = luaL_checknumber(L, 5);
  double eps = luaL_checknumber(L, 6), wd = luaL_optnumber(L, 7, 0);
  if (gr_rmsprop_update(p, g, sq, lr, alpha, eps, wd) != GR_OK) return gan_fail(L, "fused.rmsprop");
  return 0;
}

/* --- memory ---------------------------------------------------------------------------------- */

/*** What the runtime holds now: live tensors, their bytes, graph nodes (a
 * leak shows as numbers that grow from step to step).
 * @function live
 * @treturn table {tensors=, bytes=, nodes=} */
static int l_live(lua_State *L) {
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, gr_live_tensors());
  lua_setfield(L, -2, "tensors");
  lua_pushinteger(L, gr_live_bytes());
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, gr_live_nodes());
  lua_setfield(L, -2, "nodes");
  return 1;
}

/* --- profile -------------------------------------------------------------------------- */

/*** With an argument, starts (from zero) or stops timing every op's kernel;
 * with none, returns the times, longest first.
 * @function profile
 * @bool[opt] on
 * @treturn table (with no argument) a list of {name=, calls=, ms=}
 * @usage gan.profile(true); train_a_bit(); gan.profile(false)
 * for _, r in ipairs(gan.profile()) do print(r.name, r.calls, r.ms) end */
static int l_profile(lua_State *L) {
  if (!lua_isnone(L, 1)) {
    gr_profile_enable(lua_toboolean(L, 1));
    return 0;
  }
  gr_op_profile rows[256];
  int n = gr_profile_read(rows, 256);
  for (int i = 1; i < n; i++) /* insertion sort, longest first */
    for (int j = i; j > 0 && rows[j].ms > rows[j - 1].ms; j--) {
      gr_op_profile t = rows[j];
      rows[j] = rows[j - 1];
      rows[j - 1] = t;
    }
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, rows[i].name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, rows[i].calls);
    lua_setfield(L, -2, "calls");
    lua_pushnumber(L, rows[i].ms);
    lua_setfield(L, -2, "ms");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* --- time and terminal ---------------------------------------------------------------- */

/*** Seconds of a monotonic wall clock (for timing steps).
 * @function clock
 * @treturn number */
static int l_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (double)ts.tv_sec + ts.tv_nsec * 1e-9);
  return 1;
}

/*** Whether the file descriptor fd is a terminal.
 * @function isatty
 * @int fd 0 standard input, 1 standard output, 2 standard error
 * @treturn boolean */
static int l_isatty(lua_State *L) {
  lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
  return 1;
}

/*** The columns of the terminal on a file descriptor (the progress line
 * fits them), or nil when fd is not a terminal or does not say.
 * @function terminal_width
 * @int fd 1 standard output, 2 standard error
 * @treturn ?int columns */
static int l_terminal_width(lua_State *L) {
  struct winsize ws;
  int fd = (int)luaL_checkinteger(L, 1);
  if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) lua_pushinteger(L, ws.ws_col);
  else lua_pushnil(L);
  return 1;
}

/* --- Ctrl-C as a flag -------------------------------------------------------------------
 * While caught, the first SIGINT only sets a flag that a training loop reads
 * between two steps (so it can stop and save exactly); a second one goes to
 * the previous handler, which interrupts at once. */

static volatile sig_atomic_t g_interrupted;
static struct sigaction g_prev_sigint;
static int g_catching;

static void on_sigint(int sig) {
  if (g_interrupted) {
    sigaction(SIGINT, &g_prev_sigint, NULL);
    raise(sig);
    return;
  }
  g_interrupted = 1;
}

/*** While on, the first Ctrl-C only sets the flag gan.interrupted reads
 * (gan.train stops between two steps and saves); a second one interrupts
 * at once.
 * @function catch_interrupt
 * @bool on */
static int l_catch_interrupt(lua_State *L) {
  int on = lua_toboolean(L, 1);
  if (on && !g_catching) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    g_interrupted = 0;
    sigaction(SIGINT, &sa, &g_prev_sigint);
    g_catching = 1;
  } else if (!on && g_catching) {
    sigaction(SIGINT, &g_prev_sigint, NULL);
    g_catching = 0;
    g_interrupted = 0;
  }
  return 0;
}

/*** Whether Ctrl-C arrived while caught (cleared when catching stops).
 * @function interrupted
 * @treturn boolean */
static int l_interrupted(lua_State *L) {
  lua_pushboolean(L, g_interrupted);
  return 1;
}

static const luaL_Reg autograd_fns[] = {
  {"clock", l_clock}, {"isatty", l_isatty}, {"terminal_width", l_terminal_width}, {"profile", l_profile},
  {"catch_interrupt", l_catch_interrupt}, {"interrupted", l_interrupted},
  {"grad", l_grad}, {"no_grad", l_no_grad}, {"is_grad_enabled", l_is_grad_enabled},
  {"enable_grad", l_enable_grad},
  {"manual_seed", l_manual_seed}, {"rng_state", l_rng_state}, {"set_rng_state", l_set_rng_state},
  {"set_threads", l_set_threads}, {"get_threads", l_get_threads}, {"adapt_threads", l_adapt_threads}, {"live", l_live},
  {NULL, NULL},
};

void gan_open_autograd(lua_State *L) {
  luaL_setfuncs(L, autograd_fns, 0);
  static const luaL_Reg kernels[] = {{"info", l_kernels_info}, {"use", l_kernels_use}, {NULL, NULL}};
  luaL_newlib(L, kernels);
  lua_setfield(L, -2, "kernels");
  static const luaL_Reg fused[] = {
    {"adam", l_adam}, {"sgd", l_sgd}, {"rmsprop", l_rmsprop}, {NULL, NULL},
  };
  luaL_newlib(L, fused);
  lua_setfield(L, -2, "fused");
}

/* Threads: GANLUA_THREADS, else OMP_NUM_THREADS, else every core. */
static void threads_from_env(void) {
  const char *s = getenv("GANLUA_THREADS");
  if (!s || !*s) s = getenv("OMP_NUM_THREADS");
  gr_set_threads(s && *s ? atoi(s) : 0);
}

int luaopen_gan_core(lua_State *L) {
  threads_from_env();
  gr_set_dim_base(1); /* the runtime's messages count dims as Lua does */
  lua_newtable(L); /* methods */
  lua_newtable(L); /* module */
  gan_open_tensor(L);
  gan_open_ops(L);
  gan_open_autograd(L);
  gan_open_io(L);
  gan_open_stats(L);
  gan_open_dist(L);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "Tensor");
  lua_pushliteral(L, GANRT_VERSION);
  lua_setfield(L, -2, "version");
  lua_newtable(L); /* the reference of the functions above, for gan.help */
  for (int i = 0; gan_doc_blocks[i]; i++) {
    lua_pushstring(L, gan_doc_blocks[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "_docs");
  lua_remove(L, -2);
  return 1;
}
