/* ebb.worker.core: a pool of worker threads, on the loop of the state that
 * made it. A job waits in the pool's list until a worker is idle, is handed
 * to it, and comes back through the pool's done list and async handle; the
 * awaiting task is woken with its results. A job whose task goes first
 * (cancel, signal, timeout) is cancelled in its worker, which is replaced
 * if it has not stopped within the pool's grace period. */
#include <stdlib.h>
#include <string.h>
#include "worker.h"

#define POOL_MT "ebb.worker.Pool"

static wpool *check_pool(lua_State *L, int idx) {
  wpool *p = *(wpool **)ebb_check_udata(L, idx, POOL_MT, "worker pool");
  if (!p) ebb_argerror_type(L, idx, "worker pool"); /* its __gc has run */
  return p;
}

/* The loop is kept alive by the jobs that will end by themselves: the jobs queued
 * in a paused pool wait for a resume that only the script can give, so they hold
 * nothing (as ebb.queue's do not). */
static void set_alive(wpool *p) {
  if (p->inflight - (p->paused ? p->npending : 0) > 0) uv_ref((uv_handle_t *)&p->wake);
  else uv_unref((uv_handle_t *)&p->wake);
}

static void job_free(wjob *job) {
  ebb_timer_stop(&job->timeout);
  wmsg_free(job->in);
  wmsg_free(job->out);
  free(job);
}

/* The pool is done with the job (ended, or left with an abandoned worker). */
static void job_forget(wpool *p) {
  p->inflight--;
  set_alive(p);
  if (p->inflight == 0) ebb_wake_all(&p->idle_waiters);
}

static void on_grace(uv_timer_t *h);

/* The grace period is real time, not ebb.clock's: it waits on a thread. */
static void arm_grace(wpool *p) {
  double next = 0, now = (double)uv_now(ebb_loop());
  int i;
  for (i = 0; i < p->size; i++) {
    worker *w = p->workers[i];
    if (w && w->grace_at > 0 && (next == 0 || w->grace_at < next)) next = w->grace_at;
  }
  if (next > 0) uv_timer_start(&p->grace_timer, on_grace, (uint64_t)(next > now ? next - now : 0), 0);
  else uv_timer_stop(&p->grace_timer);
}

static void dispatch(wpool *p) {
  int i;
  if (p->paused) return;
  for (i = 0; i < p->size && p->npending > 0; i++) {
    worker *w = p->workers[i];
    wjob *job;
    if (!w || w->assigned) continue;
    job = ebb_container(ebb_list_shift(&p->pending), wjob, link); /* before the worker may reply */
    if (!worker_give(w, job)) { /* its state has just failed: back first in line */
      ebb_list_push(p->pending.next, &job->link);
      continue;
    }
    p->npending--;
    p->busy++;
    w->assigned = job;
    job->worker = w;
    if (job->timeout_ms >= 0) ebb_timer_start(&job->timeout, job->timeout_ms); /* as ebb.queue's: from the start */
  }
}

/* The worker in slot i is let go (it will not stop, or its state is spent)
 * and a fresh one takes its place. */
static void replace(wpool *p, int i, int only_busy) {
  worker *w = p->workers[i];
  if (only_busy) {
    if (!worker_abandon_busy(w)) return; /* its job has just ended: it stays */
  } else {
    worker_abandon(w);
  }
  p->replaced++;
  p->workers[i] = p->closed ? NULL : worker_start(p, i);
}

/* ---- a job's awaiting task goes first ---- */

static void cancel_running(wjob *job) {
  wpool *p = job->pool;
  worker *w = job->worker;
  ebb_timer_stop(&job->timeout);
  if (!w) { /* still waiting for a worker: it never runs */
    ebb_node_unlink(&job->link);
    p->npending--;
    job_free(job);
    job_forget(p);
    return;
  }
  worker_cancel(w);
  if (p->grace_ms >= 0 && w->grace_at == 0) {
    w->grace_at = (double)uv_now(ebb_loop()) + p->grace_ms;
    arm_grace(p);
  }
}

static void job_abandoned(ebb_request *r) { cancel_running(ebb_container(r, wjob, r)); }

static void on_timeout(ebb_timer *t) {
  wjob *job = ebb_container(t, wjob, timeout);
  lua_State *co = ebb_request_finish(&job->r, 0);
  if (co) {
    lua_pushboolean(co, 1);
    lua_pushliteral(co, "timeout");
    ebb_request_done(&job->r, 2, NULL);
  }
  cancel_running(job);
}

static void on_grace(uv_timer_t *h) {
  wpool *p = ebb_container(h, wpool, grace_timer);
  double now = (double)uv_now(ebb_loop());
  int i;
  for (i = 0; i < p->size; i++) {
    worker *w = p->workers[i];
    if (!w || w->grace_at == 0 || w->grace_at > now) continue;
    w->grace_at = 0;
    if (!w->assigned) continue;
    replace(p, i, 1);
    if (p->workers[i] != w) { /* let go with its job, which the thread now owns */
      p->busy--;
      job_forget(p);
    }
  }
  arm_grace(p);
  dispatch(p);
}

/* ---- jobs come back ---- */

void pool_job_done(wpool *p, wjob *job) {
  pthread_mutex_lock(&p->mu);
  ebb_list_push(&p->done, &job->link);
  pthread_mutex_unlock(&p->mu);
  uv_async_send(&p->wake);
}

static const char *const end_names[] = {"running", "ok", "error", "cancelled", "lost"};

static void deliver(wjob *job) {
  lua_State *co = ebb_request_finish(&job->r, 0);
  int n;
  if (!co) return;
  lua_pushboolean(co, 1);
  lua_pushstring(co, end_names[job->end]);
  n = job->out ? wmsg_unpack(co, job->out) : 0;
  job->out = NULL;
  ebb_request_done(&job->r, 2 + n, NULL);
}

static void on_done(uv_async_t *h) {
  wpool *p = ebb_container(h, wpool, wake);
  ebb_node done;
  ebb_node *n;
  ebb_list_init(&done);
  pthread_mutex_lock(&p->mu);
  while ((n = ebb_list_shift(&p->done)) != NULL) ebb_list_push(&done, n);
  pthread_mutex_unlock(&p->mu);
  while ((n = ebb_list_shift(&done)) != NULL) {
    wjob *job = ebb_container(n, wjob, link);
    worker *w = job->worker;
    int slot = w->slot, real = job->pool != NULL;
    if (real) {
      w->assigned = NULL;
      w->grace_at = 0;
      p->busy--;
      deliver(job);
      job_forget(p);
    }
    if (job->end == JOB_LOST || job->replace) replace(p, slot, 0);
    job_free(job);
  }
  arm_grace(p);
  dispatch(p);
}

/* ---- the pool's life ---- */

static void handle_closed(uv_handle_t *h) {
  wpool *p = h->data;
  if (--p->handles_open == 0 && p->collected) free(p);
}

/* Ends every worker: jobs under way are cancelled, and a worker that has
 * not ended within the grace period is let go; jobs still queued are dropped. */
static void shutdown_pool(wpool *p) {
  int i;
  ebb_node *n;
  if (p->shut) return;
  p->shut = p->closed = 1;
  while ((n = ebb_list_shift(&p->pending)) != NULL) {
    wjob *job = ebb_container(n, wjob, link);
    ebb_request_finish(&job->r, UV_ECANCELED);
    job_free(job);
  }
  p->npending = 0;
  for (i = 0; i < p->size; i++)
    if (p->workers[i]) worker_stop(p->workers[i]);
  for (i = 0; i < p->size; i++) {
    if (!p->workers[i]) continue;
    if (!worker_join(p->workers[i], p->grace_ms > 0 ? p->grace_ms : 0)) p->replaced++;
    p->workers[i] = NULL;
  }
  while ((n = ebb_list_shift(&p->done)) != NULL) { /* ended as they were told to stop */
    wjob *job = ebb_container(n, wjob, link);
    if (job->pool) ebb_request_finish(&job->r, UV_ECANCELED);
    job_free(job);
  }
  ebb_handle_untrack(&p->handle);
  uv_close((uv_handle_t *)&p->wake, handle_closed);
  uv_close((uv_handle_t *)&p->grace_timer, handle_closed);
  pthread_mutex_destroy(&p->mu);
  free(p->workers);
  p->workers = NULL;
  p->size = 0;
}

static void pool_handle_close(ebb_handle *h) { shutdown_pool(ebb_container(h, wpool, handle)); }

static int pool_gc(lua_State *L) {
  wpool **box = ebb_check_udata(L, 1, POOL_MT, "worker pool"), *p = *box;
  if (!p) return 0; /* a finalizer called twice does nothing the second time */
  *box = NULL;
  shutdown_pool(p);
  p->collected = 1;
  if (p->handles_open == 0) free(p);
  return 0;
}

/* new(size, max_memory, grace_ms, nice) -> pool | nil, message */
static int l_new(lua_State *L) {
  int size = (int)luaL_checkinteger(L, 1), i;
  wpool *p = calloc(1, sizeof *p);
  wpool **box;
  if (!p || !(p->workers = calloc(size, sizeof *p->workers))) {
    free(p);
    return luaL_error(L, "not enough memory");
  }
  p->size = size;
  p->max_memory = (size_t)luaL_checknumber(L, 2);
  p->grace_ms = luaL_checknumber(L, 3);
  p->nice = (int)luaL_checkinteger(L, 4);
  pthread_mutex_init(&p->mu, NULL);
  ebb_list_init(&p->done);
  ebb_list_init(&p->pending);
  ebb_waitlist_init(&p->idle_waiters);
  uv_async_init(ebb_loop(), &p->wake, on_done);
  uv_timer_init(ebb_loop(), &p->grace_timer);
  p->wake.data = p->grace_timer.data = p;
  p->handles_open = 2;
  set_alive(p);
  box = lua_newuserdata(L, sizeof *box);
  *box = p;
  luaL_getmetatable(L, POOL_MT);
  lua_setmetatable(L, -2);
  ebb_handle_track(&p->handle, (uv_handle_t *)&p->wake, pool_handle_close, ebb_current_owner(L));
  p->handle.kind = "worker pool";
  for (i = 0; i < size; i++) {
    if (!(p->workers[i] = worker_start(p, i))) {
      shutdown_pool(p);
      lua_pushnil(L);
      lua_pushliteral(L, "cannot start a thread");
      return 2;
    }
  }
  return 1;
}

/* Queued behind every job of its priority or a higher one. */
static void enqueue(wpool *p, wjob *job) {
  ebb_node *before = &p->pending;
  while (before->prev != &p->pending && ebb_container(before->prev, wjob, link)->priority < job->priority)
    before = before->prev;
  ebb_list_push(before, &job->link);
  p->npending++;
}

/* The caller's context values (a table by name, made for this job) lose
 * those that cannot cross: in the worker their variables read the default.
 * Returns 1 if any went. */
static int drop_uncopyable(lua_State *L, int idx) {
  char why[8];
  int dropped = 0;
  if (!lua_istable(L, idx)) return 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    wmsg *m = wmsg_pack(L, lua_gettop(L), lua_gettop(L), "context", 0, why, sizeof why);
    lua_pop(L, 1);
    if (m) {
      wmsg_free(m);
      continue;
    }
    lua_pushvalue(L, -1);
    lua_pushnil(L);
    lua_rawset(L, idx); /* clearing a field while traversing is allowed */
    dropped = 1;
  }
  return dropped;
}

/* run(pool, timeout_ms (< 0: none), signal, priority, context, code, args...) -> (after the wait)
 * true, "ok", results... | true, "error", wire | true, "timeout" | true,
 * "lost" | false, reason; at once: nil, "copy", why | nil, "closed" */
static int l_run(lua_State *L) {
  wpool *p = check_pool(L, 1);
  double timeout = luaL_checknumber(L, 2), priority = luaL_checknumber(L, 4);
  char why[256];
  wmsg *in;
  wjob *job;
  int r;
  if (p->closed) { /* close() has been called, even if it still waits */
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
  }
  if ((r = ebb_request_begin(L, 3)) != 0) return r;
  /* context values, code, args...: the args are counted from 1 */
  if (!(in = wmsg_pack(L, 5, lua_gettop(L), "args", -1, why, sizeof why)) && drop_uncopyable(L, 5))
    in = wmsg_pack(L, 5, lua_gettop(L), "args", -1, why, sizeof why);
  if (!in) {
    lua_pushnil(L);
    lua_pushliteral(L, "copy");
    lua_pushstring(L, why);
    return 3;
  }
  if (!(job = calloc(1, sizeof *job))) {
    wmsg_free(in);
    return luaL_error(L, "not enough memory");
  }
  job->in = in;
  job->pool = p;
  job->priority = priority;
  job->r.abandon = job_abandoned;
  ebb_timer_init(&job->timeout, on_timeout);
  job->timeout_ms = timeout;
  enqueue(p, job);
  p->inflight++;
  set_alive(p);
  dispatch(p);
  return ebb_request_await(L, &job->r, 3);
}

/* pause(pool, on): while on, queued jobs stay queued; off hands them out again */
static int l_pause(lua_State *L) {
  wpool *p = check_pool(L, 1);
  p->paused = lua_toboolean(L, 2);
  dispatch(p);
  set_alive(p);
  return 0;
}

/* clear(pool, reason): every job still queued fails with reason, unchanged;
 * the jobs under way go on. */
static int l_clear(lua_State *L) {
  wpool *p = check_pool(L, 1);
  ebb_node *n;
  luaL_checkany(L, 2);
  while ((n = ebb_list_shift(&p->pending)) != NULL) {
    wjob *job = ebb_container(n, wjob, link);
    lua_State *co = ebb_request_finish(&job->r, 0);
    p->npending--;
    if (co) {
      lua_pushboolean(co, 0);
      lua_pushvalue(L, 2);
      lua_xmove(L, co, 1);
      ebb_request_done(&job->r, 2, NULL);
    }
    job_free(job);
    job_forget(p);
  }
  return 0;
}

/* close(pool) -> "done" once every job has ended and every worker with it;
 * while jobs are under way it waits: true (to be called again) or false, reason */
static int l_close(lua_State *L) {
  wpool *p = check_pool(L, 1);
  p->closed = 1;
  if (p->paused) { /* the queued jobs run before the workers end */
    p->paused = 0;
    dispatch(p);
    set_alive(p);
  }
  if (!p->shut && p->inflight > 0) return ebb_wait_on(L, &p->idle_waiters, -1, 0);
  shutdown_pool(p);
  lua_pushliteral(L, "done");
  return 1;
}

/* idle(pool, signal) -> true once no job is queued or under way (at once
 * when none is), false, reason when aborted */
static int l_idle(lua_State *L) {
  wpool *p = check_pool(L, 1);
  int r = ebb_request_begin(L, 2);
  if (r) return r;
  if (p->inflight == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return ebb_wait_on(L, &p->idle_waiters, -1, 2);
}

/* stats(pool) -> size, active, pending, closed, replaced, paused */
static int l_stats(lua_State *L) {
  wpool *p = check_pool(L, 1);
  int size = 0, i;
  for (i = 0; i < p->size; i++) size += p->workers[i] != NULL;
  lua_pushinteger(L, size);
  lua_pushinteger(L, p->busy);
  lua_pushinteger(L, p->npending);
  lua_pushboolean(L, p->closed);
  lua_pushnumber(L, (lua_Number)p->replaced);
  lua_pushboolean(L, p->paused);
  return 6;
}

/* _lasting(pool): the default pool lives as long as the process */
static int l_lasting(lua_State *L) {
  ebb_handle_lasting(&check_pool(L, 1)->handle);
  return 0;
}

static int l_abandoned(lua_State *L) {
  lua_pushinteger(L, worker_abandoned_count());
  return 1;
}

static int l_parallelism(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)uv_available_parallelism());
  return 1;
}

int luaopen_ebb_worker_core(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"new", l_new}, {"run", l_run}, {"clear", l_clear}, {"pause", l_pause}, {"close", l_close}, {"idle", l_idle}, {"stats", l_stats},
    {"abandoned", l_abandoned}, {"parallelism", l_parallelism}, {"_lasting", l_lasting}, {NULL, NULL}};
  ebb_new_metatable(L, POOL_MT, pool_gc, NULL);
  lua_pop(L, 1);
  ebb_new_module(L, fns);
  ebb_register(L, worker_thread_fns, 0);
  return 1;
}
