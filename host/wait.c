/* Waits: a task parks on one thing at a time, watching the clock, an
 * explicit signal and its own cancellation; wakes and aborts end the wait. */
#include <stdlib.h>
#include "host.h"
#include "task.h"

EBB_THREAD_LOCAL int ebb_no_wait_depth;

ebb_task *ebb_check_in_task(lua_State *L) {
  ebb_task *t = NULL;
  if (ebb_no_wait_depth > 0)
    ebb_error_at_caller(L, "cannot wait outside a task: abort listeners run synchronously inside abort() and must not wait");
  if (sched.running_co && L != sched.L) t = sched_current_record(L);
  if (!t) ebb_error_at_caller(L, "cannot wait outside a task (wrap the code in task.spawn, or run it as a script)");
  return t;
}

/* The running task's own signal when it is aborted and not shielded; no
 * record is made for the check. */
static ebb_signal *own_abort(lua_State *L) {
  ebb_signal *s;
  ebb_task *t;
  if (!sched.running_co || !sched.cancelled_live) return NULL;
  if (sched.current) {
    t = sched.current;
    s = record_signal(L, t);
    return s && ebb_signal_aborted(s) && !t->shield ? s : NULL;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, sched.cur_ref);
  lua_rawgeti(L, -1, 1);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 2);
    return NULL;
  }
  lua_pushliteral(L, "signal"); /* raw: the task's __index would make one */
  lua_rawget(L, -2);
  s = ebb_to_signal(L, -1);
  t = s && ebb_signal_aborted(s) ? record_of(L, -2) : NULL;
  lua_pop(L, 3);
  if (!s || !ebb_signal_aborted(s) || (t && t->shield)) return NULL;
  return s; /* anchored by the task's table, which the running task holds */
}

/* ---- waits ---- */

ebb_task *wait_task(ebb_wait *w) { return ebb_container(w, ebb_task, wait); }
static EBB_THREAD_LOCAL uv_timer_t watchdog;
static EBB_THREAD_LOCAL ebb_task *watched;

/* Off the owner's list and the clock. */
static void wait_unlink(ebb_wait *w) {
  if (watched == wait_task(w)) {
    uv_timer_stop(&watchdog);
    watched = NULL;
  }
  ebb_node_unlink(&w->link);
  ebb_timer_stop(&w->timer);
}

void wait_detach(ebb_wait *w) {
  struct ebb_wait_more *m;
  wait_unlink(w);
  m = w->more;
  if (m && m->signal) { /* listened to once armed: a yield that raised never was */
    if (ebb_node_linked(&m->on_abort.link)) ebb_signal_unlisten(m->signal, &m->on_abort);
    m->signal = NULL;
  }
}

/* The want's on_cancel is not to be called (the wait ended otherwise). */
static void forget_cancel(ebb_wait *w) {
  if (w->more) w->more->want.on_cancel = NULL;
}

static void (*take_cancel(ebb_wait *w))(ebb_wait *, int) {
  void (*on_cancel)(ebb_wait *, int) = w->more ? w->more->want.on_cancel : NULL;
  forget_cancel(w);
  return on_cancel;
}

/* Ends an armed wait: values are pushed by the caller right after. The
 * explicit signal stays listened to until the task runs (run_record detaches
 * it): aborted in between, the task gives back what it was handed, exactly as
 * when its own cancellation comes in between. */
lua_State *wait_end(ebb_wait *w, int result) {
  ebb_task *t = wait_task(w);
  wait_unlink(w);
  t->wait_state = W_WOKEN;
  t->wait_result = result;
  ready_push(t);
  return t->co;
}

void ebb_wake(ebb_wait *w) {
  ebb_task *t = wait_task(w);
  if (t->wait_state != W_ARMED) return;
  lua_pushboolean(wait_end(w, EBB_WOKE), 1);
  t->nresume = 1;
}

lua_State *ebb_wake_push(ebb_wait *w) {
  ebb_task *t = wait_task(w);
  if (t->wait_state != W_ARMED) return NULL;
  forget_cancel(w);
  return wait_end(w, EBB_WOKE);
}

void ebb_wake_done(ebb_wait *w, int nvalues) { wait_task(w)->nresume = nvalues; }

void ebb_wake_handed(ebb_wait *w, int nvalues, const ebb_want *give_back) {
  wait_task(w)->nresume = nvalues;
  if (give_back) *ebb_wait_want(w) = *give_back;
}

lua_State *ebb_wait_thread(ebb_wait *w) { return wait_task(w)->co; }

void ebb_wake_fail(lua_State *L, ebb_wait *w) {
  ebb_task *t = wait_task(w);
  lua_State *co;
  if (t->wait_state != W_ARMED) {
    lua_pop(L, 1);
    return;
  }
  forget_cancel(w);
  co = wait_end(w, EBB_ABORTED);
  lua_pushboolean(co, 0);
  lua_xmove(L, co, 1);
  t->nresume = 2;
}

void wake_list(ebb_waitlist *list) {
  ebb_node *n;
  while ((n = ebb_list_shift(list)) != NULL) ebb_wake(ebb_container(n, ebb_wait, link));
}

void ebb_wake_all(ebb_waitlist *list) { wake_list(list); }

void end_aborted(ebb_task *t, ebb_signal *s) {
  lua_State *co;
  void (*on_cancel)(ebb_wait *, int) = take_cancel(&t->wait);
  if (t->wait_state == W_ARMED) {
    co = wait_end(&t->wait, EBB_ABORTED);
    if (on_cancel) on_cancel(&t->wait, 0); /* it has left the owner's list */
  } else if (t->wait_state == W_WOKEN && t->wait_result != EBB_ABORTED && t->nresume >= 0) {
    /* woken (or timed out) but not yet resumed: what it was handed goes back */
    co = t->co;
    if (on_cancel) on_cancel(&t->wait, t->wait_result == EBB_WOKE);
    lua_settop(co, 0);
    t->wait_result = EBB_ABORTED;
  } else {
    return;
  }
  lua_pushboolean(co, 0);
  ebb_signal_push_reason(co, s);
  t->nresume = 2;
}

static void wait_signal_fired(ebb_listener *l, ebb_signal *s) {
  struct ebb_wait_more *m = ebb_container(l, struct ebb_wait_more, on_abort);
  end_aborted(m->task, s);
}

void timer_fire(ebb_timer *tm) {
  ebb_wait *w = ebb_container(tm, ebb_wait, timer);
  ebb_task *t = wait_task(w);
  lua_State *co;
  if (t->wait_state != W_ARMED) return;
  if (t->sleeps) { /* its deadline is the good outcome */
    ebb_wake(w);
    return;
  }
  co = wait_end(w, EBB_TIMEDOUT);
  forget_cancel(w);
  lua_pushnil(co);
  lua_pushliteral(co, "timeout");
  t->nresume = 2;
}

int push_aborted(lua_State *L, ebb_signal *s) {
  lua_pushboolean(L, 0);
  ebb_signal_push_reason(L, s);
  return 2;
}

int ebb_check_abort(lua_State *L, int signal_idx) {
  ebb_signal *s = signal_idx ? ebb_opt_signal(L, signal_idx) : NULL;
  ebb_signal *own = own_abort(L);
  if (own) return push_aborted(L, own);
  if (s && ebb_signal_aborted(s)) return push_aborted(L, s);
  return 0;
}

/* A sleep's want is a flag of the record; any other goes into wait.more. */
static void set_want(ebb_task *t, const ebb_want *want) {
  static const ebb_want nothing;
  t->sleeps = want->sleeps;
  if (want->owner || want->on_cancel || want->kind || want->count) {
    ebb_want *w = &wait_more(t)->want;
    *w = *want;
    w->sleeps = 0;
  } else if (t->wait.more) {
    t->wait.more->want = nothing;
  }
}

int ebb_wait_with(lua_State *L, ebb_waitlist *list, double timeout_ms, int signal_idx, const ebb_want *want) {
  static const ebb_want nothing;
  ebb_task *t = ebb_check_in_task(L);
  ebb_signal *s = signal_idx ? ebb_opt_signal(L, signal_idx) : NULL;
  ebb_signal *own = sched.cancelled_live ? record_signal(L, t) : NULL;
  t->yielding = 0; /* a task.yield that could not yield left it set */
  if (!t->shield && own && ebb_signal_aborted(own)) return push_aborted(L, own);
  if (s && ebb_signal_aborted(s)) return push_aborted(L, s);
  /* armed by the scheduler (wait_arm) once the yield has happened: when
   * lua_yield raises instead (a C call in between, e.g. table.sort's
   * comparator), nothing is linked that a wake or abort could reach */
  sched.arm_list = list;
  set_want(t, want ? want : &nothing);
  if (s) wait_more(t)->signal = s;
  else if (t->wait.more) t->wait.more->signal = NULL; /* a yield that raised left one */
  sched.arm_timed = timeout_ms >= 0;
  if (sched.arm_timed) /* the deadline is fixed now; NaN and negatives: at once */
    t->wait.timer.deadline = ebb_now() + (timeout_ms > 0 ? timeout_ms : 0);
  return sched_yield_wait(L);
}

int ebb_wait_on(lua_State *L, ebb_waitlist *list, double timeout_ms, int signal_idx) {
  return ebb_wait_with(L, list, timeout_ms, signal_idx, NULL);
}

void wait_arm(ebb_task *t) {
  ebb_wait *w = &t->wait;
  struct ebb_wait_more *m = w->more;
  if (sched.arm_list) ebb_list_push(sched.arm_list, &w->link);
  if (sched.arm_timed) {
    ebb_timer_set_fire(&w->timer, timer_fire);
    ebb_timer_start_at(&w->timer, w->timer.deadline);
  }
  if (m && m->signal) {
    m->on_abort.fn = wait_signal_fired;
    ebb_signal_listen(m->signal, &m->on_abort);
  }
  sched.arm_list = NULL;
  sched.arm_timed = 0;
  t->wait_state = W_ARMED;
}

/* ---- a real-time limit on one wait, outside the clock (for ebb test) ---- */

static void on_watchdog(uv_timer_t *h) {
  ebb_task *t = watched;
  lua_State *co;
  (void)h;
  watched = NULL;
  if (!t || t->wait_state != W_ARMED) return;
  co = wait_end(&t->wait, EBB_TIMEDOUT);
  lua_pushnil(co);
  lua_pushliteral(co, "timeout");
  t->nresume = 2;
}

int ebb_wait_real(lua_State *L, ebb_waitlist *list, double ms) {
  ebb_task *self = ebb_check_in_task(L);
  int r;
  if (!watchdog.loop) uv_timer_init(ebb_loop(), &watchdog);
  r = ebb_wait_on(L, list, -1, 0);
  if (lua_status(L) == LUA_YIELD) {
    watched = self;
    uv_update_time(ebb_loop()); /* stale after a stretch with no poll: the limit would be short */
    uv_timer_start(&watchdog, on_watchdog, (uint64_t)ms, 0);
  }
  return r;
}
