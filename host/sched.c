/* The scheduler: tasks on pooled coroutines, one ready queue, waits that
 * watch signals and the clock, and the loop that drives libuv. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "host.h"
#include "runtime.h"
#include "task.h"

static const char *const status_names[] = {"pending", "running", "done", "failed", "cancelled"};

#define TASK_MT "ebb.task"
#define POOL_MAX 4096

static char WAIT_KEY, DONE_KEY;

static struct {
  lua_State *L;
  ebb_node ready;
  int nready;
  ebb_node live;
  ebb_waitlist idle;
  ebb_task *current;
  lua_State *pool_co[POOL_MAX];
  int pool_ref[POOL_MAX];
  int npool;
  int trampoline_ref;
  ebb_task **unhandled;
  int nunhandled, cap_unhandled;
  int batch_left;   /* tasks the current batch may still run */
  int task_mt_ref;
  ebb_task *root;
} S;

ebb_task *ebb_current(void) { return S.current; }
ebb_wait *ebb_task_wait(ebb_task *t) { return &t->wait; }

int ebb_no_wait_depth;

ebb_task *ebb_check_in_task(lua_State *L) {
  if (ebb_no_wait_depth > 0)
    luaL_error(L, "cannot wait outside a task: abort listeners run synchronously inside abort() and must not wait");
  if (!S.current || L == S.L)
    luaL_error(L, "cannot wait outside a task (wrap the code in task.spawn, or run it as a script)");
  return S.current;
}

/* ---- the ready queue ---- */

static void ready_push(ebb_task *t) {
  ebb_list_push(&S.ready, &t->ready_link);
  S.nready++;
}

/* ---- coroutines ---- */

static lua_State *pool_take(lua_State *L, int *ref) {
  lua_State *co;
  if (S.npool) {
    S.npool--;
    *ref = S.pool_ref[S.npool];
    return S.pool_co[S.npool];
  }
  co = lua_newthread(L);
  *ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_rawgeti(co, LUA_REGISTRYINDEX, S.trampoline_ref);
  return co;
}

static void pool_give(lua_State *co, int ref) {
  lua_settop(co, 0);
  if (lua_status(co) == 0) /* never resumed: it still needs its body */
    lua_rawgeti(co, LUA_REGISTRYINDEX, S.trampoline_ref);
  if (S.npool < POOL_MAX) {
    S.pool_co[S.npool] = co;
    S.pool_ref[S.npool++] = ref;
  } else {
    luaL_unref(S.L, LUA_REGISTRYINDEX, ref);
  }
}

/* ---- the task object ---- */

ebb_task *task_test(lua_State *L, int idx) { return luaL_testudata_compat(L, idx, TASK_MT); }

ebb_task *task_check(lua_State *L, int idx) {
  ebb_task *t = luaL_testudata_compat(L, idx, TASK_MT);
  if (!t) ebb_argerror_type(L, idx, "task");
  return t;
}

/* Pushes the task's own table of extra state, creating it on first use. */
static void push_env(lua_State *L, ebb_task *t, int idx) {
  if (!t->has_env) {
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, -1);
    lua_setfenv(L, idx < 0 ? idx - 2 : idx);
    t->has_env = 1;
    return;
  }
  lua_getfenv(L, idx);
}

void task_push(lua_State *L, ebb_task *t) { lua_rawgeti(L, LUA_REGISTRYINDEX, t->self_ref); }

static void timer_fire(ebb_timer *tm);

static ebb_task *task_new(lua_State *L) {
  ebb_task *t = lua_newuserdata(L, sizeof *t);
  memset(t, 0, sizeof *t);
  t->co_ref = LUA_NOREF;
  ebb_list_init(&t->awaiters);
  ebb_list_init(&t->watchers);
  ebb_timer_init(&t->wait.timer, timer_fire);
  t->owner = S.current ? S.current->owner : 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, S.task_mt_ref); /* not by name: this is the hot path */
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  t->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  ebb_list_push(&S.live, &t->live_link);
  return t;
}

/* fn and its nargs arguments are on top of L; leaves the task there instead. */
ebb_task *sched_spawn(lua_State *L, int nargs) {
  ebb_task *t = task_new(L);
  lua_insert(L, -(nargs + 2));
  t->co = pool_take(L, &t->co_ref);
  lua_xmove(L, t->co, nargs + 1);
  t->nresume = nargs + 1;
  ready_push(t);
  return t;
}

void task_check_callable(lua_State *L, int idx, const char *name) {
  if (lua_isfunction(L, idx)) return;
  if (luaL_getmetafield(L, idx, "__call")) {
    lua_pop(L, 1);
    return;
  }
  luaL_argerror(L, idx, lua_pushfstring(L, "%s: function expected, got %s", name, luaL_typename(L, idx)));
}

/* ---- finishing ---- */

static void wake_list(ebb_waitlist *list);

static void add_unhandled(ebb_task *t) {
  if (S.nunhandled == S.cap_unhandled) {
    int cap = S.cap_unhandled ? S.cap_unhandled * 2 : 16;
    ebb_task **a = realloc(S.unhandled, (size_t)cap * sizeof *a);
    if (!a) abort();
    S.unhandled = a;
    S.cap_unhandled = cap;
  }
  S.unhandled[S.nunhandled++] = t;
  t->unhandled = 1;
}

static void release_anchor(lua_State *L, ebb_task *t) {
  if (t->unhandled || t == S.root) return; /* kept until the end-of-turn check has seen it */
  luaL_unref(L, LUA_REGISTRYINDEX, t->self_ref);
  t->self_ref = LUA_NOREF;
}

static int is_own_cancellation(lua_State *L, ebb_task *t, int err_idx) {
  int same;
  if (!t->sig || !ebb_signal_aborted(t->sig)) return 0;
  ebb_signal_push_reason(L, t->sig);
  same = lua_rawequal(L, -1, err_idx < 0 ? err_idx - 1 : err_idx);
  lua_pop(L, 1);
  return same;
}

/* The values to keep are on L's stack from `first` to the top. */
static void task_settle(lua_State *L, ebb_task *t, int ok, int first, const char *traceback) {
  int n = lua_gettop(L) - first + 1, i;
  task_push(L, t);
  if (ok) {
    t->state = T_DONE;
    if (n == 1 && (lua_isnumber(L, first) && lua_type(L, first) == LUA_TNUMBER)) {
      t->res_kind = RES_INLINE;
      t->inline_type = LUA_TNUMBER;
      t->inline_num = lua_tonumber(L, first);
    } else if (n == 1 && (lua_isboolean(L, first) || lua_isnil(L, first))) {
      t->res_kind = RES_INLINE;
      t->inline_type = lua_type(L, first);
      t->inline_num = lua_toboolean(L, first);
    } else if (n > 0) {
      t->res_kind = RES_ENV;
      push_env(L, t, -1);
      for (i = 0; i < n; i++) {
        lua_pushvalue(L, first + i);
        lua_rawseti(L, -2, i + 1);
      }
      lua_pushinteger(L, n);
      lua_setfield(L, -2, "n");
      lua_pop(L, 1);
    }
  } else {
    t->state = is_own_cancellation(L, t, first) ? T_CANCELLED : T_FAILED;
    push_env(L, t, -1);
    lua_pushvalue(L, first);
    lua_setfield(L, -2, "error");
    if (traceback) {
      lua_pushstring(L, traceback);
      lua_setfield(L, -2, "traceback");
    }
    lua_pop(L, 1);
    if (t->state == T_FAILED && !t->observed) add_unhandled(t);
  }
  lua_pop(L, 1);
  ebb_node_unlink(&t->live_link);
  if (t->co) {
    pool_give(t->co, t->co_ref);
    t->co = NULL;
    t->co_ref = LUA_NOREF;
  }
  ebb_timer_stop(&t->wait.timer);
  wake_list(&t->awaiters);
  join_task_ended(t);
  release_anchor(L, t);
}

/* ---- running ---- */

static void run_task(ebb_task *t) {
  lua_State *co = t->co;
  int status, n, waited, nresume = t->nresume;
  t->state = T_RUNNING;
  t->started = 1;
  t->wait_state = W_IDLE;
  t->nresume = 0;
  S.current = t;
  status = lua_resume(co, nresume);
  t = S.current; /* next_job may have gone on to later tasks on this coroutine */
  S.current = NULL;
  if (status == LUA_YIELD) {
    n = lua_gettop(co);
    if (n >= 2 && lua_touserdata(co, 1) == &DONE_KEY) {
      /* (DONE, true, results...) or (DONE, false, error, traceback) */
      if (lua_toboolean(co, 2)) task_settle(co, t, 1, 3, NULL);
      else task_settle(co, t, 0, 3, lua_tostring(co, 4));
      return;
    }
    waited = n >= 1 && lua_touserdata(co, 1) == &WAIT_KEY;
    lua_settop(co, 0);
    if (!waited || t->yielding) { /* task.yield(), or a bare coroutine.yield() */
      t->yielding = 0;
      t->wait_state = W_WOKEN;
      t->wait_result = EBB_WOKE;
      t->wait.on_cancel = NULL;
      lua_pushboolean(co, 1);
      t->nresume = 1;
      ready_push(t);
    }
    return;
  }
  /* the trampoline itself failed or returned: the coroutine is spent */
  if (status == 0) lua_pushliteral(co, "task coroutine ended unexpectedly");
  luaL_unref(S.L, LUA_REGISTRYINDEX, t->co_ref);
  t->co = NULL;
  t->co_ref = LUA_NOREF;
  task_settle(co, t, 0, lua_gettop(co), NULL);
}

/* next_job(ok, results... | error, traceback): the trampoline's report that
 * the current task's function has ended. When the next ready task has not
 * started yet, it goes on at once on this same coroutine (fn and arguments
 * are returned), which saves a resume for every task that never waits;
 * otherwise the report is yielded to the scheduler. */
static int l_next_job(lua_State *L) {
  ebb_task *t = S.current, *next;
  ebb_node *head = S.ready.next;
  int n;
  if (S.batch_left <= 0 || head == &S.ready || !t || t->co != L) goto yield;
  next = ebb_container(head, ebb_task, ready_link);
  if (next->started || !next->co || next->state != T_PENDING) goto yield;
  t->co = NULL; /* this coroutine goes on to `next`, not back to the pool */
  if (lua_toboolean(L, 1)) task_settle(L, t, 1, 2, NULL);
  else task_settle(L, t, 0, 2, lua_tostring(L, 3));
  lua_settop(L, 0);
  ebb_node_unlink(head);
  S.nready--;
  S.batch_left--;
  n = next->nresume;
  lua_xmove(next->co, L, n);
  pool_give(next->co, next->co_ref);
  next->co = L;
  next->co_ref = t->co_ref;
  t->co_ref = LUA_NOREF;
  next->nresume = 0;
  next->state = T_RUNNING;
  next->started = 1;
  next->wait_state = W_IDLE;
  S.current = next;
  return n;
yield:
  lua_pushlightuserdata(L, &DONE_KEY);
  lua_insert(L, 1);
  return lua_yield(L, lua_gettop(L));
}

static void run_batch(void) {
  S.batch_left = S.nready;
  while (S.batch_left-- > 0) {
    int n = 0;
    (void)n;
    ebb_node *node = ebb_list_shift(&S.ready);
    ebb_task *t;
    if (!node) break;
    S.nready--;
    t = ebb_container(node, ebb_task, ready_link);
    if (t->state >= T_DONE) continue;
    run_task(t);
  }
}

static void report_unhandled(void) {
  lua_State *L = S.L;
  int i, n = S.nunhandled;
  S.nunhandled = 0;
  for (i = 0; i < n; i++) {
    ebb_task *t = S.unhandled[i];
    t->unhandled = 0;
    if (!t->observed) {
      task_push(L, t);
      lua_getfenv(L, -1);
      ebb_get_private(L, "report_unhandled");
      lua_pushvalue(L, -3); /* the task */
      lua_getfield(L, -3, "error");
      lua_getfield(L, -4, "traceback");
      if (lua_pcall(L, 3, 0, 0) != 0) lua_pop(L, 1);
      lua_pop(L, 2);
    }
    release_anchor(L, t);
  }
}

/* ---- waits ---- */

static ebb_task *wait_task(ebb_wait *w) { return ebb_container(w, ebb_task, wait); }
static uv_timer_t watchdog;
static ebb_task *watched;
static int watchdog_active;

static void wait_detach(ebb_wait *w) {
  if (watched == wait_task(w)) {
    uv_timer_stop(&watchdog);
    watchdog_active = 0;
    watched = NULL;
  }
  ebb_node_unlink(&w->link);
  ebb_timer_stop(&w->timer);
  if (w->signal) {
    ebb_signal_unlisten(w->signal, &w->on_abort);
    w->signal = NULL;
  }
}

/* Ends an armed wait: values are pushed by the caller right after. */
static lua_State *wait_end(ebb_wait *w, int result) {
  ebb_task *t = wait_task(w);
  wait_detach(w);
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

static void wake_list(ebb_waitlist *list) {
  ebb_node *n;
  while ((n = ebb_list_shift(list)) != NULL) ebb_wake(ebb_container(n, ebb_wait, link));
}

void ebb_wake_all(ebb_waitlist *list) { wake_list(list); }

ebb_wait *ebb_wake_first(ebb_waitlist *list) {
  ebb_node *n = ebb_list_shift(list);
  ebb_wait *w;
  if (!n) return NULL;
  w = ebb_container(n, ebb_wait, link);
  ebb_wake(w);
  return w;
}

static void end_aborted(ebb_task *t, ebb_signal *s) {
  lua_State *co;
  if (t->wait_state == W_ARMED) {
    co = wait_end(&t->wait, EBB_ABORTED);
  } else if (t->wait_state == W_WOKEN && t->wait_result == EBB_WOKE && t->nresume >= 0) {
    /* woken but not yet resumed: what it was handed goes back */
    co = t->co;
    if (t->wait.on_cancel) t->wait.on_cancel(&t->wait);
    lua_settop(co, 0);
    t->wait_result = EBB_ABORTED;
  } else {
    return;
  }
  t->wait.on_cancel = NULL;
  lua_pushboolean(co, 0);
  ebb_signal_push_reason(co, s);
  t->nresume = 2;
}

static void wait_signal_fired(ebb_listener *l, ebb_signal *s) {
  ebb_wait *w = ebb_container(l, ebb_wait, on_abort);
  end_aborted(wait_task(w), s);
}

static void timer_fire(ebb_timer *tm) {
  ebb_wait *w = ebb_container(tm, ebb_wait, timer);
  ebb_task *t = wait_task(w);
  lua_State *co;
  if (t->wait_state != W_ARMED) return;
  if (w->data == &WAIT_KEY) { /* a sleep: its deadline is the good outcome */
    ebb_wake(w);
    return;
  }
  co = wait_end(w, EBB_TIMEDOUT);
  w->on_cancel = NULL;
  lua_pushnil(co);
  lua_pushliteral(co, "timeout");
  t->nresume = 2;
}

static int push_aborted(lua_State *L, ebb_signal *s) {
  lua_pushboolean(L, 0);
  ebb_signal_push_reason(L, s);
  return 2;
}

int ebb_check_abort(lua_State *L, int signal_idx) {
  ebb_task *t = S.current;
  ebb_signal *s = signal_idx ? ebb_opt_signal(L, signal_idx) : NULL;
  if (t && !t->shield && t->sig && ebb_signal_aborted(t->sig)) return push_aborted(L, t->sig);
  if (s && ebb_signal_aborted(s)) return push_aborted(L, s);
  return 0;
}

int ebb_wait_on(lua_State *L, ebb_waitlist *list, double timeout_ms, int signal_idx) {
  ebb_task *t = ebb_check_in_task(L);
  ebb_signal *s = signal_idx ? ebb_opt_signal(L, signal_idx) : NULL;
  ebb_wait *w = &t->wait;
  if (!t->shield && t->sig && ebb_signal_aborted(t->sig)) return push_aborted(L, t->sig);
  if (s && ebb_signal_aborted(s)) return push_aborted(L, s);
  w->data = NULL;
  w->on_cancel = NULL;
  if (list) ebb_list_push(list, &w->link);
  if (timeout_ms >= 0) {
    w->timer.fire = timer_fire;
    ebb_timer_start(&w->timer, timeout_ms);
  }
  if (s) {
    w->signal = s;
    w->on_abort.fn = wait_signal_fired;
    ebb_signal_listen(s, &w->on_abort);
  }
  t->wait_state = W_ARMED;
  lua_pushlightuserdata(L, &WAIT_KEY);
  return lua_yield(L, 1);
}

/* ---- the Lua functions of the core ---- */

static void sleep_task_fire(ebb_timer *tm) {
  ebb_task *t = wait_task(ebb_container(tm, ebb_wait, timer));
  lua_State *L = S.L;
  t->delayed = 0;
  task_settle(L, t, 1, lua_gettop(L) + 1, NULL);
}

/* spawn(task.sleep, ms [, signal]) is a timer, not a coroutine: it needs no
 * stack, which makes many concurrent sleepers cheap. */
static int spawn_sleep(lua_State *L) {
  double ms = ebb_check_ms(L, 2, "ms");
  ebb_task *t;
  if (!lua_isnoneornil(L, 3)) return 0;
  t = task_new(L);
  t->state = T_RUNNING;
  t->started = t->delayed = 1;
  t->wait.timer.fire = sleep_task_fire;
  ebb_timer_start(&t->wait.timer, ms);
  return 1;
}

static int l_spawn(lua_State *L) {
  task_check_callable(L, 1, "fn");
  if (lua_rawequal(L, 1, lua_upvalueindex(1)) && spawn_sleep(L)) return 1;
  sched_spawn(L, lua_gettop(L) - 1);
  return 1;
}

/* set_sleep(fn): the Lua-side task.sleep that spawn may turn into a timer */
static int l_set_sleep(lua_State *L) {
  lua_getfield(L, LUA_GLOBALSINDEX, "package");
  lua_getfield(L, -1, "loaded");
  lua_getfield(L, -1, "ebb.core");
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, l_spawn, 1);
  lua_setfield(L, -2, "spawn");
  return 0;
}

static void delay_fire(ebb_timer *tm) {
  ebb_task *t = wait_task(ebb_container(tm, ebb_wait, timer));
  lua_State *L = S.L;
  int n, i;
  t->delayed = 0;
  task_push(L, t);
  lua_getfenv(L, -1);
  lua_getfield(L, -1, "start");
  lua_pushnil(L);
  lua_setfield(L, -3, "start");
  n = (int)lua_objlen(L, -1);
  t->co = pool_take(L, &t->co_ref);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    lua_xmove(L, t->co, 1);
  }
  lua_pop(L, 3);
  t->nresume = n;
  ready_push(t);
}

/* delay(ms, fn, ...) */
static int l_delay(lua_State *L) {
  double ms = ebb_check_ms(L, 1, "ms");
  int n = lua_gettop(L) - 1, i;
  ebb_task *t;
  task_check_callable(L, 2, "fn");
  t = task_new(L);
  t->delayed = 1;
  lua_createtable(L, n, 0);
  for (i = 1; i <= n; i++) {
    lua_pushvalue(L, i + 1);
    lua_rawseti(L, -2, i);
  }
  push_env(L, t, -2);
  lua_insert(L, -2);
  lua_setfield(L, -2, "start");
  lua_pop(L, 1);
  t->wait.timer.fire = delay_fire;
  ebb_timer_start(&t->wait.timer, ms);
  return 1;
}

static int l_sleep(lua_State *L) {
  double ms = ebb_check_ms(L, 1, "ms");
  ebb_task *t = ebb_check_in_task(L);
  int r = ebb_wait_on(L, NULL, ms, 2);
  if (t->wait_state == W_ARMED) t->wait.data = &WAIT_KEY;
  return r;
}

static int l_yield(lua_State *L) {
  ebb_task *t = ebb_check_in_task(L);
  if (!t->shield && t->sig && ebb_signal_aborted(t->sig)) return push_aborted(L, t->sig);
  t->yielding = 1;
  lua_pushlightuserdata(L, &WAIT_KEY);
  return lua_yield(L, 1);
}

/* settle(): resumes once no other task is ready to run */
static int l_settle(lua_State *L) { return ebb_wait_on(L, &S.idle, -1, 0); }

/* await_begin(t): true when t has ended, else waits for it */
/* await_begin(t [, signal [, timeout_ms]]) */
static int l_await_begin(lua_State *L) {
  ebb_task *t = task_check(L, 1);
  double ms = lua_isnoneornil(L, 3) ? -1 : ebb_check_ms(L, 3, "timeout");
  int aborted;
  t->observed = 1;
  if ((aborted = ebb_check_abort(L, 2)) != 0) return aborted;
  if (t->state >= T_DONE) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (t == S.current) return luaL_error(L, "a task cannot await itself");
  return ebb_wait_on(L, &t->awaiters, ms, 2);
}

/* result(t): t's results, or raises its error */
static int l_result(lua_State *L) {
  ebb_task *t = task_check(L, 1);
  int n;
  t->observed = 1;
  switch (t->state) {
  case T_DONE:
    if (t->res_kind == RES_NONE) return 0;
    if (t->res_kind == RES_INLINE) {
      if (t->inline_type == LUA_TNUMBER) lua_pushnumber(L, t->inline_num);
      else if (t->inline_type == LUA_TBOOLEAN) lua_pushboolean(L, t->inline_num != 0);
      else lua_pushnil(L);
      return 1;
    }
    lua_getfenv(L, 1);
    lua_getfield(L, -1, "n");
    n = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    luaL_checkstack(L, n, "too many results");
    {
      int i, env = lua_gettop(L);
      for (i = 1; i <= n; i++) lua_rawgeti(L, env, i);
    }
    return n;
  case T_FAILED:
  case T_CANCELLED:
    lua_getfenv(L, 1);
    lua_getfield(L, -1, "error");
    if (lua_type(L, -1) != LUA_TTABLE) { /* keep where a plain error was raised */
      ebb_get_private(L, "remember");
      lua_pushvalue(L, -2);
      lua_getfield(L, -4, "traceback");
      lua_call(L, 2, 0);
    }
    return lua_error(L);
  default:
    return luaL_error(L, "the task has not finished");
  }
}

/* outcome(t): ok, error-or-nil, traceback-or-nil, for all_settled and reports */
static int l_outcome(lua_State *L) {
  ebb_task *t = task_check(L, 1);
  t->observed = 1;
  if (t->state < T_DONE) return 0;
  lua_pushboolean(L, t->state == T_DONE);
  if (t->state == T_DONE) return 1;
  lua_getfenv(L, 1);
  lua_getfield(L, -1, "error");
  lua_getfield(L, -2, "traceback");
  lua_remove(L, -3);
  return 3;
}

static ebb_signal *task_signal(lua_State *L, ebb_task *t, int idx) {
  if (!t->sig) {
    push_env(L, t, idx);
    t->sig = ebb_signal_new(L);
    lua_setfield(L, -2, "signal");
    lua_pop(L, 1);
  }
  return t->sig;
}

void task_cancel(lua_State *L, ebb_task *t, int idx) {
  ebb_signal *s;
  if (t->state >= T_DONE) {
    lua_pop(L, 1);
    return;
  }
  s = task_signal(L, t, idx);
  if (ebb_signal_aborted(s)) {
    lua_pop(L, 1);
    return;
  }
  ebb_signal_abort(L, s); /* pops the reason */
  if (t->delayed || !t->started) { /* fn has not run, and now never will */
    if (t->delayed) { /* a delay not yet due, or a timer task */
      ebb_timer_stop(&t->wait.timer);
      t->delayed = 0;
    } else {
      ebb_node_unlink(&t->ready_link);
      S.nready--;
    }
    ebb_signal_push_reason(L, s);
    task_settle(L, t, 0, lua_gettop(L), NULL);
    lua_pop(L, 1);
    return;
  }
  if (!t->shield) end_aborted(t, s);
}

/* cancel(t, reason) */
static int l_cancel(lua_State *L) {
  ebb_task *t = task_check(L, 1);
  lua_settop(L, 2);
  task_cancel(L, t, 1);
  return 0;
}

int task_push_first(lua_State *L, ebb_task *t, int idx) {
  if (t->state == T_DONE) {
    if (t->res_kind == RES_INLINE) {
      if (t->inline_type == LUA_TNUMBER) lua_pushnumber(L, t->inline_num);
      else if (t->inline_type == LUA_TBOOLEAN) lua_pushboolean(L, t->inline_num != 0);
      else lua_pushnil(L);
    } else if (t->res_kind == RES_ENV) {
      lua_getfenv(L, idx);
      lua_rawgeti(L, -1, 1);
      lua_remove(L, -2);
    } else {
      lua_pushnil(L);
    }
    return 1;
  }
  lua_getfenv(L, idx);
  lua_getfield(L, -1, "error");
  lua_remove(L, -2);
  return 0;
}

/* shield(delta): while > 0, the current task's waits ignore its cancellation */
static int l_shield(lua_State *L) {
  ebb_task *t = ebb_check_in_task(L);
  t->shield += (int)luaL_checkinteger(L, 1);
  if (t->shield < 0) t->shield = 0;
  lua_pushinteger(L, t->shield);
  return 1;
}

/* cancelled(): the current task's cancellation reason, or nothing */
static int l_cancelled(lua_State *L) {
  ebb_task *t = S.current;
  if (!t || !t->sig || !ebb_signal_aborted(t->sig)) return 0;
  ebb_signal_push_reason(L, t->sig);
  return 1;
}

/* ---- a real-time limit on one wait, outside the clock (for ebb test) ---- */

static void on_watchdog(uv_timer_t *h) {
  ebb_task *t = watched;
  lua_State *co;
  (void)h;
  watchdog_active = 0;
  watched = NULL;
  if (!t || t->wait_state != W_ARMED) return;
  co = wait_end(&t->wait, EBB_TIMEDOUT);
  lua_pushnil(co);
  lua_pushliteral(co, "timeout");
  t->nresume = 2;
}

/* await_real(t, ms): true once t has ended, or nil, "timeout" after ms of real time */
static int l_await_real(lua_State *L) {
  ebb_task *t = task_check(L, 1);
  double ms = ebb_check_ms(L, 2, "ms");
  ebb_task *self = ebb_check_in_task(L);
  int r;
  t->observed = 1;
  if (t->state >= T_DONE) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (!watchdog.loop) uv_timer_init(ebb_loop(), &watchdog);
  r = ebb_wait_on(L, &t->awaiters, -1, 0);
  if (self->wait_state == W_ARMED) {
    watched = self;
    watchdog_active = 1;
    uv_timer_start(&watchdog, on_watchdog, (uint64_t)ms, 0);
  }
  return r;
}

/* ---- waitlists: a place for Lua-side objects (futures) to park tasks ---- */
#define WAITLIST_MT "ebb.waitlist"

static int l_waitlist(lua_State *L) {
  ebb_waitlist *wl = lua_newuserdata(L, sizeof *wl);
  ebb_list_init(wl);
  luaL_getmetatable(L, WAITLIST_MT);
  lua_setmetatable(L, -2);
  return 1;
}

static ebb_waitlist *check_waitlist(lua_State *L, int idx) {
  ebb_waitlist *wl = luaL_testudata_compat(L, idx, WAITLIST_MT);
  if (!wl) ebb_argerror_type(L, idx, "waitlist");
  return wl;
}

/* wl:wait([signal [, timeout_ms]]) */
static int waitlist_wait(lua_State *L) {
  ebb_waitlist *wl = check_waitlist(L, 1);
  double ms = lua_isnoneornil(L, 3) ? -1 : ebb_check_ms(L, 3, "timeout");
  return ebb_wait_on(L, wl, ms, 2);
}

static int waitlist_wake_all(lua_State *L) {
  wake_list(check_waitlist(L, 1));
  return 0;
}

static int l_current(lua_State *L) {
  if (!S.current) return 0;
  task_push(L, S.current);
  return 1;
}

static int task_index(lua_State *L) {
  ebb_task *t = lua_touserdata(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && !strcmp(k, "status")) {
    lua_pushstring(L, status_names[t->state]);
    return 1;
  }
  if (k && !strcmp(k, "signal")) {
    task_signal(L, t, 1);
    lua_getfenv(L, 1);
    lua_getfield(L, -1, "signal");
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int task_tostring(lua_State *L) {
  ebb_task *t = lua_touserdata(L, 1);
  lua_pushfstring(L, "Task (%s): %p", status_names[t->state], (void *)t);
  return 1;
}

/* set_methods(tbl): the Lua side's methods for every task */
static int l_set_methods(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_getmetatable(L, TASK_MT);
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, task_index, 1);
  lua_setfield(L, -2, "__index");
  return 0;
}

static int l_is_task(lua_State *L) {
  lua_pushboolean(L, luaL_testudata_compat(L, 1, TASK_MT) != NULL);
  return 1;
}

/* set_owner(task, n): the spec a task belongs to; tasks it spawns inherit it */
static int l_set_owner(lua_State *L) {
  ebb_task *t = task_check(L, 1);
  t->owner = (unsigned)luaL_checkinteger(L, 2);
  return 0;
}

/* live(owner): the unfinished tasks of an owner */
static int l_live(lua_State *L) {
  unsigned owner = (unsigned)luaL_checkinteger(L, 1);
  ebb_node *n;
  int i = 0;
  lua_newtable(L);
  for (n = S.live.next; n != &S.live; n = n->next) {
    ebb_task *t = ebb_container(n, ebb_task, live_link);
    if (t->owner != owner || t == S.current) continue;
    task_push(L, t);
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}

/* check_abort([signal]): false, reason when the signal or the current task is aborted */
static int l_check_abort(lua_State *L) { return ebb_check_abort(L, 1); }

static int l_set_exit_status(lua_State *L) {
  runtime_set_exit_status((int)luaL_checkinteger(L, 1));
  return 0;
}

static int l_stats(lua_State *L) {
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)ebb_timer_count());
  lua_setfield(L, -2, "timers");
  lua_pushinteger(L, ebb_handle_count());
  lua_setfield(L, -2, "handles");
  lua_pushinteger(L, S.nready);
  lua_setfield(L, -2, "ready");
  lua_pushinteger(L, S.npool);
  lua_setfield(L, -2, "pooled");
  return 1;
}

int luaopen_ebb_core(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"spawn", l_spawn},       {"next_job", l_next_job},       {"set_sleep", l_set_sleep},       {"delay", l_delay},         {"sleep", l_sleep},
    {"yield", l_yield},       {"settle", l_settle},       {"await_begin", l_await_begin},
    {"result", l_result},     {"outcome", l_outcome},     {"cancel", l_cancel},
    {"current", l_current},   {"set_methods", l_set_methods}, {"is_task", l_is_task},
    {"set_owner", l_set_owner},       {"live", l_live},           {"stats", l_stats},
    {"shield", l_shield},     {"cancelled", l_cancelled}, {"join", join_new},     {"waitlist", l_waitlist}, {"set_exit_status", l_set_exit_status},
    {"await_real", l_await_real}, {"check_abort", l_check_abort},
    {NULL, NULL}};
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  lua_pushlightuserdata(L, &WAIT_KEY);
  lua_setfield(L, -2, "WAIT");
  lua_pushlightuserdata(L, &DONE_KEY);
  lua_setfield(L, -2, "DONE");
  lua_pushliteral(L, EBB_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}

/* ---- the loop ---- */

static int io_pending(uv_loop_t *loop) {
  int n = (int)loop->active_handles + (int)loop->active_reqs.count;
  return n - sched_internal_handles() - watchdog_active > 0;
}

void sched_spawn_root(lua_State *L, int nargs) {
  S.root = sched_spawn(L, nargs);
  S.root->observed = 1;
}

int sched_root_finished(void) { return S.root && S.root->state >= T_DONE; }

void sched_run(lua_State *L) {
  uv_loop_t *loop = ebb_loop();
  (void)L;
  for (;;) {
    if (S.nready) run_batch();
    if (S.nunhandled) report_unhandled();
    clock_fire_due();
    runtime_poll_signals();
    if (S.nready) {
      uv_run(loop, UV_RUN_NOWAIT);
      continue;
    }
    if (!ebb_list_empty(&S.idle)) {
      wake_list(&S.idle);
      continue;
    }
    if (clock_mode() == CLOCK_AUTO && ebb_timer_count() && !io_pending(loop) &&
        clock_fire_next(INFINITY))
      continue;
    clock_arm();
    if (!uv_loop_alive(loop)) break;
    uv_run(loop, UV_RUN_ONCE);
  }
}

void sched_init(lua_State *L) {
  S.L = L;
  ebb_list_init(&S.ready);
  ebb_list_init(&S.live);
  ebb_list_init(&S.idle);
  S.trampoline_ref = LUA_NOREF;
  join_init(L);
  luaL_newmetatable(L, WAITLIST_MT);
  lua_newtable(L);
  lua_pushcfunction(L, waitlist_wait);
  lua_setfield(L, -2, "wait");
  lua_pushcfunction(L, waitlist_wake_all);
  lua_setfield(L, -2, "wake_all");
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newmetatable(L, TASK_MT);
  lua_pushvalue(L, -1);
  S.task_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushcfunction(L, task_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "Task");
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}

/* The trampoline is the Lua function every pooled coroutine runs. */
void sched_set_trampoline(lua_State *L) { S.trampoline_ref = luaL_ref(L, LUA_REGISTRYINDEX); }

void sched_close(lua_State *L) {
  int i;
  for (i = 0; i < S.npool; i++) luaL_unref(L, LUA_REGISTRYINDEX, S.pool_ref[i]);
  S.npool = 0;
  free(S.unhandled);
  S.unhandled = NULL;
}
