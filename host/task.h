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
