/* The task record, shared by the scheduler (sched.c) and joins (join.c);
 * bindings see tasks only through ebb.h. */
#ifndef EBB_TASK_H
#define EBB_TASK_H

#include "ebb.h"

enum { T_PENDING, T_RUNNING, T_DONE, T_FAILED, T_CANCELLED };
enum { W_IDLE, W_ARMED, W_WOKEN };
enum { RES_NONE, RES_INLINE, RES_ENV };

struct ebb_task {
  ebb_node ready_link;
  ebb_node live_link;    /* every unfinished task, for leak reports */
  lua_State *co;         /* while started and unfinished */
  int co_ref;
  int self_ref;          /* anchor while unfinished (or unreported) */
  int state;
  int nresume;           /* values on co's stack for the next resume */
  int wait_state;
  int wait_result;
  unsigned observed : 1, yielding : 1, has_env : 1, unhandled : 1, delayed : 1, started : 1;
  int res_kind;
  int inline_type;
  double inline_num;
  unsigned owner;        /* the spec that spawned it (tasks inherit it) */
  ebb_wait wait;
  ebb_signal *sig;
  ebb_waitlist awaiters;
  ebb_node watchers;     /* join_watch nodes of the joins following it */
  int shield;            /* > 0: waits ignore the task's own cancellation */
};

#define TASK_MT "ebb.task"
#define POOL_MAX 4096

/* The scheduler's state: sched.c owns it; wait.c and bindings/task.c use it. */
struct sched {
  lua_State *L;
  ebb_node ready;
  int nready;
  ebb_node live;
  ebb_waitlist idle;       /* tasks waiting until nothing else is ready */
  ebb_task *current;
  lua_State *pool_co[POOL_MAX];
  int pool_ref[POOL_MAX];
  int npool;
  int trampoline_ref;
  ebb_task **unhandled;
  int nunhandled, cap_unhandled;
  int batch_left;          /* tasks the current batch may still run */
  int task_mt_ref;
  ebb_task *root;
};
extern struct sched sched;
/* Yielded by a task that waits, and by the trampoline when a function ends. */
extern char sched_wait_key, sched_done_key;

/* sched.c */
void ready_push(ebb_task *t);
lua_State *pool_take(lua_State *L, int *ref);
void pool_give(lua_State *co, int ref);
ebb_task *task_new(lua_State *L);
void push_env(lua_State *L, ebb_task *t, int idx);
ebb_signal *task_signal(lua_State *L, ebb_task *t, int idx);
/* Ends t: the values from `first` to the top of L are its results (ok) or
 * its error (not ok, with the traceback where a plain error was raised). */
void task_settle(lua_State *L, ebb_task *t, int ok, int first, const char *traceback);
/* next_job, the trampoline's report that a task's function has ended */
int sched_next_job(lua_State *L);

/* wait.c */
ebb_task *wait_task(ebb_wait *w);
lua_State *wait_end(ebb_wait *w, int result);
void wait_detach(ebb_wait *w);
void end_aborted(ebb_task *t, ebb_signal *s);
void timer_fire(ebb_timer *tm);
void wake_list(ebb_waitlist *list);
int push_aborted(lua_State *L, ebb_signal *s);
int watchdog_active(void);
/* await_real(t, ms): true once t has ended, or nil, "timeout" after ms of real time */
int wait_lua_await_real(lua_State *L);

ebb_task *task_check(lua_State *L, int idx);
ebb_task *task_test(lua_State *L, int idx);
void task_push(lua_State *L, ebb_task *t);
void task_check_callable(lua_State *L, int idx, const char *name);
/* Pushes the first result (ok) or the error; returns whether it ended well. */
int task_push_first(lua_State *L, ebb_task *t, int idx);
/* Cancels t (at idx) with the reason on top of L (popped). */
void task_cancel(lua_State *L, ebb_task *t, int idx);

/* join.c: called by the scheduler as a task ends */
void join_task_ended(ebb_task *t);
int join_new(lua_State *L);
void join_init(lua_State *L);

#endif
