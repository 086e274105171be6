/* ebb.worker: what the pool (worker_pool.c, on the loop that made it), the
 * worker threads (worker_thread.c) and the copier of values between states
 * (worker_copy.c) share. Each worker thread runs a runtime of its own. */
#ifndef EBB_WORKER_H
#define EBB_WORKER_H

#include <pthread.h>
#include "host.h"

/* ---- values copied between states (worker_copy.c) ---- */
#define WORKER_COPY_DEPTH 100 /* tables nested deeper are refused */

typedef struct wmsg wmsg; /* values packed by one state, pushed by another */

/* Packs L's values first..last. NULL on a value that cannot cross: `why`
 * (room for `whylen` bytes) says which, named from `root` ("args[2].x"). */
wmsg *wmsg_pack(lua_State *L, int first, int last, const char *root, int root_base, char *why, size_t whylen);
/* Pushes the values on L and frees m; returns how many. */
int wmsg_unpack(lua_State *L, wmsg *m);
void wmsg_free(wmsg *m);

/* ---- a job: made by the pool, run by a worker ---- */
enum job_end { JOB_RUNNING, JOB_OK, JOB_FAILED, JOB_CANCELLED, JOB_LOST };

typedef struct wjob {
  ebb_node link;        /* in the pool's pending list, then its done list */
  ebb_request r;        /* the awaiting task (r.wait NULL once it has gone) */
  struct wpool *pool;
  struct worker *worker;
  wmsg *in;             /* the code and the arguments */
  wmsg *out;            /* the results, or the error (a table) */
  ebb_timer timeout;    /* the caller's timeout= (on ebb.clock), counted from the job's start */
  double timeout_ms;    /* < 0: none */
  double priority;      /* higher first; first in first out within one */
  enum job_end end;
  int replace;          /* the worker ends after this job (its state is spent) */
} wjob;

/* ---- a worker: one thread, one state, one job at a time ---- */
typedef struct worker {
  pthread_mutex_t mu;   /* guards what both threads touch, below */
  pthread_cond_t ready_cond;
  pthread_t thread;
  struct wpool *pool;
  int slot;             /* its place in the pool */
  size_t max_memory;    /* 0: no limit */
  int nice;             /* nice levels below the process's: the loop's thread goes first */
  /* guarded by mu */
  lua_State *L;         /* the worker's state, while it is open (hooks are armed on it) */
  uv_async_t wake;      /* on the worker's loop; `awake` once it may be sent */
  int awake;
  wjob *job;            /* handed by the pool, taken by the worker */
  int job_taken;
  int cancel;           /* the current job is to stop */
  int stop;             /* the worker is to end */
  int abandoned;        /* the pool has let go of it: it frees itself */
  int lost;             /* its state has failed: it takes no job */
  int cancel_told;      /* the job loop has been told: it cancels the job's task */
  int hook_fired;       /* the hook has raised in the job's code */
  int ended;
  /* the pool's side (its loop's thread only) */
  wjob *assigned;       /* the job it runs, as the pool sees it */
  double grace_at;      /* a cancelled job not ended by then (uv_now): the worker is replaced; 0: none */
  /* the worker's side (its thread only) */
  lua_Alloc base_alloc; /* the state's own allocator, under the limit */
  void *base_ud;
  long long used;       /* bytes its state holds (what it had before the limit: below 0) */
  int limit_on, out_of_memory;
} worker;

typedef struct wpool {
  ebb_handle handle;    /* `wake` below: closed with the pool, or at exit */
  uv_async_t wake;      /* a worker has finished a job */
  pthread_mutex_t mu;   /* guards done */
  ebb_node done;        /* jobs that have ended (worker's thread to pool's) */
  ebb_node pending;     /* jobs waiting for a worker (pool's thread only) */
  worker **workers;
  int size, busy, npending, inflight;
  size_t max_memory;
  int nice;
  double grace_ms;
  int closed;           /* no new runs */
  int paused;           /* no job is handed to a worker (ebb.queue's pause) */
  int shut;             /* its workers have ended (or been let go) */
  uint64_t replaced;
  ebb_waitlist idle_waiters; /* close() waits there for the jobs under way */
  uv_timer_t grace_timer;  /* the earliest grace_at of the workers */
  int handles_open;        /* wake and grace_timer, until their close callbacks */
  int collected;           /* the userdata is gone: the last close callback frees */
} wpool;

/* ---- worker_thread.c: the pool's side of a worker ---- */
worker *worker_start(wpool *p, int slot); /* NULL: the thread could not start */
/* Hands the job to an idle worker; 0 when its state has failed (the pool
 * hears of it and replaces the worker). */
int worker_give(worker *w, wjob *job);
/* Asks the worker's job to stop: a hook reaches busy Lua, the wake a wait. */
void worker_cancel(worker *w);
/* Tells the worker to end; join waits at most ms for it, then lets it go
 * (it frees itself if it ever ends). Returns 1 if joined. */
void worker_stop(worker *w);
int worker_join(worker *w, double ms);
/* The pool lets go of a worker that will not stop: it frees itself (and
 * its job) if it ever ends. */
void worker_abandon(worker *w);
/* worker_abandon, unless its job has ended already (the pool will hear of
 * it): returns 1 when abandoned. */
int worker_abandon_busy(worker *w);
/* Threads abandoned and not yet ended, process-wide. */
int worker_abandoned_count(void);

/* worker_thread.c: the functions the job loop (ebb/worker_thread.lua) calls */
extern const luaL_Reg worker_thread_fns[];

/* ---- worker_pool.c: what a worker's thread tells its pool ---- */
void pool_job_done(wpool *p, wjob *job);

#endif
