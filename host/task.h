/* The C side of a task, shared by the scheduler (sched.c), waits (wait.c), sleeps (sleep.c)
 * and what ebb.core asks of them (task_control.c). A task itself is a Lua table (ebb.task);
 * it gets this record only while it waits, holds a timer or is shielded. */
#ifndef EBB_TASK_H
#define EBB_TASK_H

#include "ebb.h"

enum { W_IDLE, W_ARMED, W_WOKEN };

/* 64 bytes, from slabs: a task that waits costs its coroutine, its closure,
 * its Lua table and this (a plain sleep, a sleeper of 32: sleep.c). Rarer state lives elsewhere: a wait's
 * want and explicit signal in wait.more, a hand-over's parent in the
 * scheduler's list (handover.c), the wait being armed in the scheduler.
 * wait.link is in the owner's list while the wait is armed, in the ready
 * list once woken (W_WOKEN): a task is never in both. */
struct ebb_task {
  lua_State *co;         /* the coroutine it runs on, while it waits */
  int co_ref;
  int table_ref;         /* the Lua task, anchored while the record lives (0: a free record) */
  ebb_wait wait;         /* where a sleeper (sleep.c) has its link: the ready list holds both */
  short nresume;         /* values on co's stack for the next resume (C pushes at most 8000) */
  unsigned short shield; /* > 0: waits ignore the task's own cancellation */
  signed char wait_state;
  signed char wait_result;
  unsigned char yielding : 1, sleeps : 1; /* sleeps: the wait's deadline is the good outcome */
};
/* A task that is only a timer: a delay not yet due, or spawn(task.sleep, ms). */
typedef struct ebb_timed {
  ebb_timer timer;
  ebb_node all_link;
  int table_ref;
  int delayed;
} ebb_timed;

#define POOL_MAX 4096

/* The scheduler's state: sched.c owns it; wait.c and task_control.c use it. */
struct sched {
  lua_State *L;
  ebb_node ready;          /* records woken: they run in the current batch */
  ebb_node yielded;        /* records that yielded: they run in the next one */
  int nready;              /* on either list */
  double polled_at;        /* when the loop last polled for I/O */
  ebb_waitlist idle;       /* tasks waiting until nothing else is ready */
  ebb_task *current;       /* the running task's record, when C knows it */
  lua_State *running_co;   /* the coroutine being resumed, and its ref */
  int running_ref;
  lua_State *pool_co[POOL_MAX];
  int pool_ref[POOL_MAX];
  int npool;
  int runner_ref;          /* the Lua function pooled coroutines run */
  int cur_ref;             /* the Lua table whose [1] is the running task */
  lua_State *holder;       /* a thread that only holds that table, in its slot 1 */
  int holder_ref;
  int ring_ref;            /* ebb.task's ring of new tasks (fields head, tail, stop, batch_end) */
  int key_head, key_tail, key_stop, key_batch_end, key_first;
  int unhandled;           /* a failure to report at the end of the turn */
  lua_State *waited;       /* the coroutine that has just yielded in sched_yield_wait */
  int cancelled_live;      /* tasks cancelled (their own signal aborted) that have not ended */
  ebb_node timeds;
  int nrecords;
  int stopping;            /* sched_stop: the loop ends at its next turn */
  /* what ebb_wait_with asked for is armed (wait_arm) only once the yield
   * has happened: a yield that raises (across a C call) leaves nothing
   * linked. Until then the list waits here (reset at each resume: it is the
   * running task's), the signal in wait.more, the deadline in wait.timer. */
  ebb_waitlist *arm_list;
  int arm_timed;
  int sleeps;              /* the task has yielded in ebb_sleep, with no record: a sleeper (sleep.c) */
  double sleep_deadline;
  struct handover *handovers; /* tasks handed over to a coroutine of their own */
};
extern EBB_THREAD_LOCAL struct sched sched;
/* Yielded by a task that waits, by a runner with nothing left to run, and
 * by a task that hands over to a coroutine of its own (key, co, args...):
 * the scheduler resumes co as the task's, and once it returns, resumes the
 * task with what coroutine.resume(co, args...) would have returned. */
extern char sched_wait_key, sched_idle_key, sched_chunk_key;
/* Yields the running task for a wait of the host's (as yielding
 * sched_wait_key, but with nothing pushed that the scheduler must read). */
int sched_yield_wait(lua_State *L);

/* sched.c */
void ready_push(ebb_task *t);
void ready_push_node(ebb_node *n);
ebb_task *record_alloc(lua_State *L); /* not cleared */
ebb_task *record_new(lua_State *L, int table_idx);
void record_free(lua_State *L, ebb_task *t);
ebb_task *record_of(lua_State *L, int table_idx); /* NULL when it has none */
ebb_signal *record_signal(lua_State *L, ebb_task *t); /* the task's own, NULL: none yet */
struct ebb_wait_more *wait_more_new(ebb_task *t);
static inline struct ebb_wait_more *wait_more(ebb_task *t) { /* made on first need */
  return t->wait.more ? t->wait.more : wait_more_new(t);
}
void record_push_table(lua_State *L, ebb_task *t);
/* The timer of a task (field tmr); freeing it pushes the task's table. */
ebb_timed *timed_new(lua_State *L, int table_idx, int delayed, void (*fire)(ebb_timer *));
ebb_timed *timed_of(lua_State *L, int table_idx);
void timed_free_push(lua_State *L, ebb_timed *d);
/* The record of the running task, made on first need. */
ebb_task *sched_current_record(lua_State *L);
ebb_task *sched_current_record_if_any(lua_State *L);

/* handover.c: after a resume of *co, 1 when the task goes on at once on the
 * *co, *ref and *nargs they set (handed over to, or handed back from). */
int sched_hand_over(lua_State **co, int *ref, int *nargs);
int sched_hand_back(lua_State **co, int *ref, int *nargs, int status);
void handovers_forget(ebb_task *t); /* the record goes */
void handovers_close(void);

/* sleep.c: a task that sleeps with no record (at its table's [0], tagged) */
void sleeper_start(lua_State *L, lua_State *co, int co_ref, int table_idx);
int sleeper_tagged(void *p);
ebb_task *sleeper_to_record(lua_State *L, void *tagged, int table_idx);
/* Of a node of the ready list whose table_ref is < 0 (a record's never is):
 * the coroutine of a woken sleeper, the task made the running one and the
 * sleeper freed (*co_ref: its ref). */
lua_State *sleeper_take_woken(ebb_node *n, int *co_ref);
void sleepers_close(void);

/* wait.c */
ebb_task *wait_task(ebb_wait *w);
lua_State *wait_end(ebb_wait *w, int result);
void wait_detach(ebb_wait *w);
void end_aborted(ebb_task *t, ebb_signal *s);
void timer_fire(ebb_timer *tm);
void wait_arm(ebb_task *t);
void wake_list(ebb_waitlist *list);
int push_aborted(lua_State *L, ebb_signal *s);

#endif
