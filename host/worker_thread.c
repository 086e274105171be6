/* A worker thread: a runtime of its own (state, loop, scheduler) whose root
 * task (ebb/worker_thread.lua) takes one job at a time from its pool. The
 * pool hands jobs over, and asks for cancellation or the end, under the
 * worker's mutex, waking the worker's loop with an async handle; a job that
 * computes without waiting is reached by a count hook armed on the worker's
 * state from the pool's thread (as lua.c arms one from a signal handler). */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include "runtime.h"
#include "worker.h"

static EBB_THREAD_LOCAL worker *self; /* this thread's worker; NULL outside worker threads */
static EBB_THREAD_LOCAL ebb_waitlist message_waiters;
static EBB_THREAD_LOCAL int cancel_error_ref = LUA_NOREF;

static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static int abandoned_live; /* abandoned threads that have not ended, process-wide */

/* ---- the memory limit: every allocation of the state passes here ---- */

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  worker *w = ud;
  void *p;
  if (w->limit_on && nsize > osize && w->used + (long long)(nsize - osize) > (long long)w->max_memory) {
    w->out_of_memory = 1;
    return NULL; /* the state raises "not enough memory" */
  }
  p = w->base_alloc(w->base_ud, ptr, osize, nsize);
  if (p || nsize == 0) w->used += (long long)nsize - (long long)osize;
  return p;
}

/* ---- cancellation of a job that computes ---- */

static void disarm(lua_State *L) { lua_sethook(L, NULL, 0, 0); }

/* Raises the job's cancellation where the job's own code runs: never inside
 * ebb's modules, which it would leave half changed (interrupt.c's rule). */
static void on_cancel_hook(lua_State *L, lua_Debug *ar) {
  int raise;
  if (!self) return;
  pthread_mutex_lock(&self->mu);
  raise = self->cancel && !self->cancel_told && !self->hook_fired;
  pthread_mutex_unlock(&self->mu);
  if (!raise) {
    disarm(L);
    return;
  }
  if (!ebb_hook_at_script_code(L, ar)) return;
  disarm(L);
  pthread_mutex_lock(&self->mu);
  self->hook_fired = 1;
  pthread_mutex_unlock(&self->mu);
  lua_rawgeti(L, LUA_REGISTRYINDEX, cancel_error_ref);
  if (lua_pcall(L, 0, 1, 0) != 0) { /* the message it raised, then */ }
  lua_error(L);
}

/* ---- the pool's side ---- */

int worker_give(worker *w, wjob *job) {
  int given;
  pthread_mutex_lock(&w->mu);
  given = !w->lost;
  if (given) {
    w->job = job;
    w->job_taken = 0;
    if (w->awake) uv_async_send(&w->wake);
  }
  pthread_mutex_unlock(&w->mu);
  return given;
}

static int abandon(worker *w, int only_busy);

void worker_cancel(worker *w) {
  pthread_mutex_lock(&w->mu);
  if (w->job && !w->cancel) {
    w->cancel = 1;
    /* a count of 1 with calls and returns, as interrupt.c's: compiled code
     * reports calls and returns, if anything */
    if (w->L) lua_sethook(w->L, on_cancel_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
    if (w->awake) uv_async_send(&w->wake);
  }
  pthread_mutex_unlock(&w->mu);
}

void worker_stop(worker *w) {
  pthread_mutex_lock(&w->mu);
  w->stop = 1;
  if (w->job && !w->cancel) {
    w->cancel = 1;
    if (w->L) lua_sethook(w->L, on_cancel_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  }
  if (w->awake) uv_async_send(&w->wake);
  pthread_mutex_unlock(&w->mu);
}

static void worker_free(worker *w) {
  pthread_mutex_destroy(&w->mu);
  free(w);
}

int worker_join(worker *w, double ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += (time_t)(ms / 1000);
  until.tv_nsec += (long)((ms - (double)(long long)(ms / 1000) * 1000) * 1e6);
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  if (pthread_timedjoin_np(w->thread, NULL, &until) != 0) {
    worker_abandon(w);
    return 0;
  }
  worker_free(w);
  return 1;
}

/* From now on the thread owns w and the job it runs, and frees them if it
 * ever ends; its pool never hears from it again. */
static int abandon(worker *w, int only_busy) {
  int ended;
  pthread_mutex_lock(&w->mu);
  if (only_busy && !w->job) {
    pthread_mutex_unlock(&w->mu);
    return 0;
  }
  ended = w->ended;
  w->abandoned = 1;
  w->stop = 1;
  if (w->awake) uv_async_send(&w->wake);
  if (!ended) { /* from the unlock on, the thread may free w at any moment */
    pthread_mutex_lock(&abandoned_lock);
    abandoned_live++;
    pthread_mutex_unlock(&abandoned_lock);
    pthread_detach(w->thread);
  }
  pthread_mutex_unlock(&w->mu);
  if (ended) { /* it ended on its own already: nothing left to own */
    pthread_join(w->thread, NULL);
    if (w->job) {
      wmsg_free(w->job->in);
      free(w->job);
    }
    worker_free(w);
  }
  return 1;
}

void worker_abandon(worker *w) { abandon(w, 0); }
int worker_abandon_busy(worker *w) { return abandon(w, 1); }

int worker_abandoned_count(void) {
  int n;
  pthread_mutex_lock(&abandoned_lock);
  n = abandoned_live;
  pthread_mutex_unlock(&abandoned_lock);
  return n;
}

/* ---- the worker's side: what ebb/worker_thread.lua calls ---- */

static void on_wake(uv_async_t *h) {
  (void)h;
  ebb_wake_all(&message_waiters);
}

static worker *check_worker(lua_State *L) {
  if (!self) luaL_error(L, "not in a worker thread");
  return self;
}

/* _next() -> "job", context values (by name, or nil), code, args... | "cancel" | "stop" | true (woken: ask again) */
static int l_next(lua_State *L) {
  worker *w = check_worker(L);
  wmsg *in = NULL;
  const char *what = NULL;
  pthread_mutex_lock(&w->mu);
  if (w->job && !w->job_taken) {
    w->job_taken = 1;
    in = w->job->in;
    w->job->in = NULL;
    what = "job";
  } else if (w->cancel && !w->cancel_told && w->job) {
    w->cancel_told = 1; /* the root cancels the job's task: the hook has done its part */
    disarm(L);
    what = "cancel";
  } else if (w->stop) {
    what = "stop";
  }
  pthread_mutex_unlock(&w->mu);
  if (!what) return ebb_wait_on(L, &message_waiters, -1, 0);
  lua_pushstring(L, what);
  return in ? 1 + wmsg_unpack(L, in) : 1;
}

/* _reply(ok, replace, values...) -> true | nil, why: the job's end goes to
 * the pool (ok: the values are its results; else the first is its error);
 * replace: this worker is to end once it has replied (its state is spent). */
static int l_reply(lua_State *L) {
  worker *w = check_worker(L);
  int ok = lua_toboolean(L, 1), replace = lua_toboolean(L, 2);
  char why[256];
  wmsg *out = wmsg_pack(L, 3, lua_gettop(L), ok ? "result" : "error", 1, why, sizeof why);
  wjob *job;
  if (!out) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  pthread_mutex_lock(&w->mu);
  job = w->job;
  w->job = NULL;
  w->job_taken = w->cancel = w->cancel_told = w->hook_fired = 0;
  disarm(L);
  if (replace) w->stop = 1;
  if (job) {
    job->out = out;
    job->end = ok ? JOB_OK : JOB_FAILED;
    job->replace = replace;
    if (!w->abandoned) {
      pool_job_done(w->pool, job);
      job = NULL;
    }
  }
  pthread_mutex_unlock(&w->mu);
  if (job) { /* abandoned: nobody waits for it */
    wmsg_free(job->out);
    wmsg_free(job->in);
    free(job);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* _out_of_memory() -> bool: the job ran out of the state's max_memory; the
 * limit is lifted for what is left to do (the reply), and the worker ends. */
static int l_out_of_memory(lua_State *L) {
  worker *w = check_worker(L);
  int oom = w->out_of_memory;
  if (oom) w->limit_on = 0;
  lua_pushboolean(L, oom);
  return 1;
}

/* _set_cancel_error(fn): what the hook raises in a job that computes */
static int l_set_cancel_error(lua_State *L) {
  check_worker(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_pushvalue(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, cancel_error_ref);
  cancel_error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

/* _stopped(): the job loop has ended: the worker's loop ends too, whatever is left on it. */
static int l_stopped(lua_State *L) {
  worker *w = check_worker(L);
  pthread_mutex_lock(&w->mu);
  w->awake = 0;
  pthread_mutex_unlock(&w->mu);
  uv_close((uv_handle_t *)&w->wake, NULL);
  sched_stop();
  return 0;
}

const luaL_Reg worker_thread_fns[] = {
  {"_next", l_next}, {"_reply", l_reply}, {"_out_of_memory", l_out_of_memory},
  {"_set_cancel_error", l_set_cancel_error}, {"_stopped", l_stopped}, {NULL, NULL}};

/* ---- the thread ---- */

/* The root task runs ebb/worker_thread.lua's job loop; the loop runs until
 * that has ended (sched_stop). Protected: the state may fail. */
static int run_jobs(lua_State *L) {
  ebb_push_hook(L, EBB_HOOK_START_ROOT);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "ebb.worker_thread");
  lua_call(L, 1, 1);
  lua_call(L, 1, 0);
  sched_run(L);
  return 0;
}

/* The state has failed (out of memory in the host's own work) or the
 * thread could not start one: the job it held, if any, ends lost, so that
 * the pool replaces the worker. */
static void tell_lost(worker *w) {
  wjob *job;
  pthread_mutex_lock(&w->mu);
  w->lost = 1; /* no job is given to it any more */
  job = w->job;
  w->job = NULL;
  if (!job && !w->stop && !w->abandoned) job = calloc(1, sizeof *job); /* a notice with no waiter */
  if (job) {
    job->end = JOB_LOST;
    job->worker = w;
    if (!w->abandoned) {
      pool_job_done(w->pool, job);
      job = NULL;
    }
  }
  pthread_mutex_unlock(&w->mu);
  if (job) {
    wmsg_free(job->in);
    free(job);
  }
}

static void *thread_main(void *arg) {
  worker *w = arg;
  lua_State *L;
  pthread_setname_np(pthread_self(), "ebb-worker"); /* as top -H and /proc/self/task/N/comm show it */
  /* computing in the background: the loop's thread, whose latency every
   * timer and socket feels, goes first when the cores are all busy */
  if (w->nice > 0 && setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), getpriority(PRIO_PROCESS, 0) + w->nice) != 0) {
    /* not allowed: it runs at the process's priority */
  }
  L = luaL_newstate();
  int abandoned, failed = 1; /* the state is lost unless the job loop ends as asked */
  self = w;
  ebb_list_init(&message_waiters);
  if (L) {
    w->base_alloc = lua_getallocf(L, &w->base_ud);
    lua_setallocf(L, limited_alloc, w);
    L = runtime_open_worker(L);
  }
  if (L) {
    w->limit_on = w->max_memory > 0;
    uv_async_init(ebb_loop(), &w->wake, on_wake); /* referenced: the loop waits for messages */
    pthread_mutex_lock(&w->mu);
    w->L = L;
    w->awake = 1;
    pthread_mutex_unlock(&w->mu);
    failed = lua_cpcall(L, run_jobs, NULL) != 0;
    pthread_mutex_lock(&w->mu);
    failed = failed || !w->stop;
    w->L = NULL;
    if (w->awake) { /* the job loop did not end by itself */
      w->awake = 0;
      pthread_mutex_unlock(&w->mu);
      uv_close((uv_handle_t *)&w->wake, NULL);
    } else {
      pthread_mutex_unlock(&w->mu);
    }
    w->limit_on = 0;
    runtime_close(L, 0);
  }
  if (failed) tell_lost(w);
  pthread_mutex_lock(&w->mu);
  w->ended = 1;
  abandoned = w->abandoned;
  pthread_mutex_unlock(&w->mu);
  if (abandoned) {
    pthread_mutex_lock(&abandoned_lock);
    abandoned_live--;
    pthread_mutex_unlock(&abandoned_lock);
    if (w->job) {
      wmsg_free(w->job->in);
      free(w->job);
    }
    worker_free(w);
  }
  return NULL;
}

worker *worker_start(wpool *p, int slot) {
  worker *w = calloc(1, sizeof *w);
  sigset_t block, old;
  if (!w) return NULL;
  pthread_mutex_init(&w->mu, NULL);
  w->pool = p;
  w->slot = slot;
  w->max_memory = p->max_memory;
  w->nice = p->nice;
  /* the process's signals are the main thread's (interrupt.c, alarm.c): the
   * new thread starts with them blocked */
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  if (pthread_create(&w->thread, NULL, thread_main, w) != 0) {
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    worker_free(w);
    return NULL;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return w;
}
