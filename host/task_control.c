/* What ebb.core (bindings/task.c) asks of the scheduler: the running task's
 * yield, settle and shielding; about a task, by its Lua table, its
 * cancellation, its own signal, its release and the timers that end or
 * start it; the ring of new tasks and the counters ebb test reads. */
#include <limits.h>
#include "host.h"
#include "task.h"

void *ebb_sched_key(int which) {
  switch (which) {
  case EBB_KEY_WAIT: return &sched_wait_key;
  case EBB_KEY_IDLE: return &sched_idle_key;
  default: return &sched_chunk_key;
  }
}

void ebb_push_current_cell(lua_State *L) { lua_rawgeti(L, LUA_REGISTRYINDEX, sched.cur_ref); }

void ebb_set_task_ring(lua_State *L, int idx) {
  lua_pushvalue(L, idx);
  sched.ring_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

int ebb_yield(lua_State *L) {
  ebb_task *t = ebb_check_in_task(L);
  int aborted = ebb_check_abort(L, 0);
  if (aborted) return aborted;
  t->yielding = 1;
  return sched_yield_wait(L);
}

int ebb_settle(lua_State *L) { return ebb_wait_on(L, &sched.idle, -1, 0); }

int ebb_can_wait(lua_State *L) { return ebb_no_wait_depth == 0 && sched.running_co && L != sched.L; }

int ebb_shield(lua_State *L, int delta) {
  ebb_task *t = ebb_check_in_task(L);
  int shield = t->shield + delta;
  t->shield = shield < 0 ? 0 : shield > USHRT_MAX ? USHRT_MAX : shield;
  return t->shield;
}

void ebb_task_cancelled(lua_State *L, int task_idx) {
  ebb_task *t = record_of(L, task_idx);
  ebb_signal *s;
  if (t && !t->shield && (s = record_signal(L, t)) != NULL) end_aborted(t, s);
}

void ebb_task_release(lua_State *L, int task_idx) {
  ebb_task *t;
  ebb_timed *d;
  if ((t = record_of(L, task_idx)) != NULL) record_free(L, t);
  if ((d = timed_of(L, task_idx)) != NULL) {
    timed_free_push(L, d);
    lua_pop(L, 1);
  }
}

static void timed_fire(ebb_timer *tm) {
  ebb_timed *d = ebb_container(tm, ebb_timed, timer);
  lua_State *L = sched.L;
  ebb_push_hook(L, d->delayed ? EBB_HOOK_ENQUEUE : EBB_HOOK_TIMER_DONE);
  timed_free_push(L, d);
  lua_call(L, 1, 0); /* the loop runs protected: an error here is fatal, not lost */
}

void ebb_task_timer(lua_State *L, int task_idx, double ms, int delayed) {
  ebb_timer_start(&timed_new(L, task_idx, delayed, timed_fire)->timer, ms);
}

void ebb_note_unhandled(void) { sched.unhandled = 1; }

void ebb_count_cancelled(int delta) {
  sched.cancelled_live += delta;
  if (sched.cancelled_live < 0) sched.cancelled_live = 0;
}

void ebb_sched_count(ebb_sched_counts *c) {
  c->ready = sched.nready;
  c->pooled = sched.npool;
  c->records = sched.nrecords;
}
