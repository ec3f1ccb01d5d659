/* The binding of the job's processes (gan.dist): MPI when ganlua was built
 * with it and started by mpirun, else a world of one that costs nothing.
 *
 *   gan.core.dist_init()                 -- rank, size (starts MPI under mpirun)
 *   gan.core.dist_all_reduce({a, b}, "mean")  -- in place, through one buffer
 *   gan.core.dist_broadcast({a, b}, 0)   -- in place, rank 0's values
 *   gan.core.dist_barrier()
 *   gan.core.dist_abort(msg)             -- prints msg, ends every process
 *   gan.core.dist_stats()                -- seconds, calls, bytes of the all-reduces
 *
 * MPI starts only when the launcher's environment says there is a job
 * (OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_SIZE): a plain `ganlua` never
 * initialises it. Once started with more than one process, the runtime's
 * gr_all_reduce sums through MPI (SyncBN's statistics), and MPI_Finalize
 * runs when the Lua state closes. The tensors given are float and
 * contiguous: several are packed into one buffer so that a list costs one
 * collective call (Horovod's tensor fusion). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/***
 * The processes of a job: the C functions under gan.dist (use gan.dist;
 * these are its parts). MPI when ganlua was built with it and started by
 * mpirun, else a world of one.
 * @module gan.mpi
 */

#include "bind.h"

#ifdef GANLUA_HAVE_MPI
#include <mpi.h>
#endif

static int world_rank = 0, world_size = 1;
/* what the collectives cost so far: wall seconds (waiting for the slowest
 * rank included), calls, bytes reduced or sent */
static double comm_seconds;
static int64_t comm_calls, comm_bytes;

static const char *launcher_size(void) {
  const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", NULL};
  for (int i = 0; vars[i]; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return v;
  }
  return getenv("PMIX_RANK") ? "?" : NULL;
}

#ifdef GANLUA_HAVE_MPI
static bool started = false; /* MPI_Init was called by us */

/* gr_all_reduce's transport: the element-wise sum over the world, in place */
static gr_status mpi_sum(float *data, int64_t n, void *ctx) {
  double t0 = MPI_Wtime();
  comm_calls++;
  comm_bytes += n * (int64_t)sizeof *data;
  for (int64_t i = 0; i < n;) {
    int k = n - i > (1 << 30) ? (1 << 30) : (int)(n - i);
    int rc = MPI_Allreduce(MPI_IN_PLACE, data + i, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return gr_fail(GR_EIO, "MPI_Allreduce failed (code %d)", rc);
    i += k;
  }
  comm_seconds += MPI_Wtime() - t0;
  return GR_OK;
}

static int finalize_gc(lua_State *L) {
  int fin = 0;
  MPI_Finalized(&fin);
  if (started && !fin) MPI_Finalize();
  gr_set_all_reduce(NULL, NULL);
  return 0;
}
#endif

/*** Starts the job's communication under mpirun (once; later calls return
 * the same): this process's rank and the number of processes. Without
 * mpirun, or without MPI in the build, a world of one: 0, 1. Used by
 * gan.dist, which recipes use instead.
 * @function dist_init
 * @treturn int rank
 * @treturn int size */
static int l_init(lua_State *L) {
  const char *env = launcher_size();
#ifdef GANLUA_HAVE_MPI
  int inited = 0;
  MPI_Initialized(&inited);
  if (env && !inited) {
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      return luaL_error(L, "gan.dist: MPI_Init failed");
    started = true;
    inited = 1;
    /* MPI_Finalize when the state closes: a userdata in the registry */
    lua_newuserdatauv(L, 1, 0);
    lua_newtable(L);
    lua_pushcfunction(L, finalize_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "gan.dist.finalizer");
  }
  if (inited) {
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    if (world_size > 1) gr_set_all_reduce(mpi_sum, NULL);
  }
#else
  if (env && strcmp(env, "1") != 0)
    return luaL_error(L, "gan.dist: started by an MPI launcher (%s processes), but this ganlua was built "
                         "without MPI: install libopenmpi-dev and build again", env);
#endif
  lua_pushinteger(L, world_rank);
  lua_pushinteger(L, world_size);
  return 2;
}

/* The float contiguous tensors of the list at arg, and their total size. */
static int64_t check_list(lua_State *L, int arg, const char *fn) {
  luaL_checktype(L, arg, LUA_TTABLE);
  int64_t total = 0;
  lua_Integer n = luaL_len(L, arg);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, arg, i);
    gr_tensor *t = gan_test(L, -1);
    if (!t) return gan_error(L, fn, "entry %d of the list is a %s, not a Tensor", (int)i, luaL_typename(L, -1));
    if (t->dtype != GR_F32 || !gr_is_contiguous(t))
      return gan_error(L, fn, "entry %d of the list must be a contiguous float tensor", (int)i);
    total += gr_numel(t);
    lua_pop(L, 1);
  }
  return total;
}

#ifdef GANLUA_HAVE_MPI
/* Copies the list's tensors into buf (to = true) or back out of it. */
static void pack(lua_State *L, int arg, float *buf, bool to) {
  lua_Integer n = luaL_len(L, arg);
  int64_t at = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, arg, i);
    gr_tensor *t = gan_test(L, -1);
    int64_t k = gr_numel(t);
    if (to) memcpy(buf + at, gr_f32(t), (size_t)k * sizeof *buf);
    else memcpy(gr_f32(t), buf + at, (size_t)k * sizeof *buf);
    at += k;
    lua_pop(L, 1);
  }
}
#endif

/*** Reduces a list of float32 tensors across the processes in place,
 * through one buffer (gan.dist.all_reduce).
 * @function dist_all_reduce
 * @tparam table list tensors
 * @string op "sum", "mean", "max" or "min" */
static int l_all_reduce(lua_State *L) {
  static const char *const ops[] = {"sum", "mean", "max", "min", NULL};
  int64_t total = check_list(L, 1, "dist.all_reduce");
  int op = luaL_checkoption(L, 2, "sum", ops);
  if (world_size == 1 || total == 0) return 0;
#ifdef GANLUA_HAVE_MPI
  float *buf = gan_scratch(L, (size_t)total * sizeof *buf);
  pack(L, 1, buf, true);
  MPI_Op mop = op == 2 ? MPI_MAX : op == 3 ? MPI_MIN : MPI_SUM;
  double t0 = MPI_Wtime();
  comm_calls++;
  comm_bytes += total * (int64_t)sizeof *buf;
  for (int64_t i = 0; i < total;) {
    int k = total - i > (1 << 30) ? (1 << 30) : (int)(total - i);
    if (MPI_Allreduce(MPI_IN_PLACE, buf + i, k, MPI_FLOAT, mop, MPI_COMM_WORLD) != MPI_SUCCESS)
      return gan_error(L, "dist.all_reduce", "MPI_Allreduce failed");
    i += k;
  }
  comm_seconds += MPI_Wtime() - t0;
  if (op == 1)
    for (int64_t i = 0; i < total; i++) buf[i] /= (float)world_size;
  pack(L, 1, buf, false);
#else
  (void)op;
#endif
  return 0;
}

/*** Gives every process the values of process root, in place, through one
 * buffer (gan.dist.broadcast).
 * @function dist_broadcast
 * @tparam table list tensors
 * @int root the rank whose values are sent */
static int l_broadcast(lua_State *L) {
  int64_t total = check_list(L, 1, "dist.broadcast");
  lua_Integer root = luaL_optinteger(L, 2, 0);
  if (root < 0 || root >= world_size)
    return luaL_argerror(L, 2, lua_pushfstring(L, "root %d is not a rank of a world of %d", (int)root, world_size));
  if (world_size == 1 || total == 0) return 0;
#ifdef GANLUA_HAVE_MPI
  float *buf = gan_scratch(L, (size_t)total * sizeof *buf);
  if (world_rank == root) pack(L, 1, buf, true);
  for (int64_t i = 0; i < total;) {
    int k = total - i > (1 << 30) ? (1 << 30) : (int)(total - i);
    if (MPI_Bcast(buf + i, k, MPI_FLOAT, (int)root, MPI_COMM_WORLD) != MPI_SUCCESS)
      return gan_error(L, "dist.broadcast", "MPI_Bcast failed");
    i += k;
  }
  pack(L, 1, buf, false);
#endif
  return 0;
}

/*** Waits until every process of the job reaches it (gan.dist.barrier).
 * @function dist_barrier */
static int l_barrier(lua_State *L) {
#ifdef GANLUA_HAVE_MPI
  if (world_size > 1) MPI_Barrier(MPI_COMM_WORLD);
#endif
  return 0;
}

/* dist_abort(msg): prints "ganlua (rank r of n): msg" on stderr and ends
 * every process of the job (exit code 1). In a world of one it only exits. */
void gan_dist_abort(const char *msg) {
  fprintf(stderr, "ganlua (rank %d of %d): %s\n", world_rank, world_size, msg ? msg : "stopped");
  fflush(stderr);
#ifdef GANLUA_HAVE_MPI
  if (world_size > 1) MPI_Abort(MPI_COMM_WORLD, 1);
#endif
  exit(EXIT_FAILURE);
}

/* Whether more than one process runs (for the host program). */
int gan_dist_size(void) { return world_size; }

/*** What the all-reduces have cost so far in this process (gan.dist.stats).
 * @function dist_stats
 * @treturn number seconds
 * @treturn int calls
 * @treturn int bytes */
static int l_stats(lua_State *L) {
  lua_pushnumber(L, comm_seconds);
  lua_pushinteger(L, comm_calls);
  lua_pushinteger(L, comm_bytes);
  return 3;
}

/*** Prints "ganlua (rank r of n): msg" on standard error and ends every
 * process of the job with exit status 1 (gan.dist.abort); in a world of
 * one it only exits.
 * @function dist_abort
 * @string[opt] msg the message */
static int l_abort(lua_State *L) {
  gan_dist_abort(luaL_optstring(L, 1, NULL));
  return 0;
}

static const luaL_Reg dist_funcs[] = {
    {"dist_init", l_init},       {"dist_all_reduce", l_all_reduce}, {"dist_broadcast", l_broadcast},
    {"dist_barrier", l_barrier}, {"dist_abort", l_abort},           {"dist_stats", l_stats},
    {NULL, NULL},
};

void gan_open_dist(lua_State *L) { luaL_setfuncs(L, dist_funcs, 0); }
