/* The scheduler: tasks on pooled coroutines, one ready queue, and the loop
 * that drives libuv. Waits are in wait.c, the Lua functions in bindings/task.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "host.h"
#include "runtime.h"
#include "task.h"

struct sched sched;
char sched_wait_key, sched_done_key;

ebb_task *ebb_current(void) { return sched.current; }
ebb_wait *ebb_task_wait(ebb_task *t) { return &t->wait; }

/* ---- the ready queue ---- */

void ready_push(ebb_task *t) {
  ebb_list_push(&sched.ready, &t->ready_link);
  sched.nready++;
}

/* ---- coroutines ---- */

lua_State *pool_take(lua_State *L, int *ref) {
  lua_State *co;
  if (sched.npool) {
    sched.npool--;
    *ref = sched.pool_ref[sched.npool];
    return sched.pool_co[sched.npool];
  }
  co = lua_newthread(L);
  *ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_rawgeti(co, LUA_REGISTRYINDEX, sched.trampoline_ref);
  return co;
}

void pool_give(lua_State *co, int ref) {
  lua_settop(co, 0);
  if (lua_status(co) == 0) /* never resumed: it still needs its body */
    lua_rawgeti(co, LUA_REGISTRYINDEX, sched.trampoline_ref);
  if (sched.npool < POOL_MAX) {
    sched.pool_co[sched.npool] = co;
    sched.pool_ref[sched.npool++] = ref;
  } else {
    luaL_unref(sched.L, LUA_REGISTRYINDEX, ref);
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
void push_env(lua_State *L, ebb_task *t, int idx) {
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


ebb_task *task_new(lua_State *L) {
  ebb_task *t = lua_newuserdata(L, sizeof *t);
  memset(t, 0, sizeof *t);
  t->co_ref = LUA_NOREF;
  ebb_list_init(&t->awaiters);
  ebb_list_init(&t->watchers);
  ebb_timer_init(&t->wait.timer, timer_fire);
  t->owner = sched.current ? sched.current->owner : 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, sched.task_mt_ref); /* not by name: this is the hot path */
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  t->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  ebb_list_push(&sched.live, &t->live_link);
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


static void add_unhandled(ebb_task *t) {
  if (sched.nunhandled == sched.cap_unhandled) {
    int cap = sched.cap_unhandled ? sched.cap_unhandled * 2 : 16;
    ebb_task **a = realloc(sched.unhandled, (size_t)cap * sizeof *a);
    if (!a) abort();
    sched.unhandled = a;
    sched.cap_unhandled = cap;
  }
  sched.unhandled[sched.nunhandled++] = t;
  t->unhandled = 1;
}

static void release_anchor(lua_State *L, ebb_task *t) {
  if (t->unhandled || t == sched.root) return; /* kept until the end-of-turn check has seen it */
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
void task_settle(lua_State *L, ebb_task *t, int ok, int first, const char *traceback) {
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
  sched.current = t;
  status = lua_resume(co, nresume);
  t = sched.current; /* next_job may have gone on to later tasks on this coroutine */
  sched.current = NULL;
  if (status == LUA_YIELD) {
    n = lua_gettop(co);
    if (n >= 2 && lua_touserdata(co, 1) == &sched_done_key) {
      /* (DONE, true, results...) or (DONE, false, error, traceback) */
      if (lua_toboolean(co, 2)) task_settle(co, t, 1, 3, NULL);
      else task_settle(co, t, 0, 3, lua_tostring(co, 4));
      return;
    }
    waited = n >= 1 && lua_touserdata(co, 1) == &sched_wait_key;
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
  luaL_unref(sched.L, LUA_REGISTRYINDEX, t->co_ref);
  t->co = NULL;
  t->co_ref = LUA_NOREF;
  task_settle(co, t, 0, lua_gettop(co), NULL);
}

/* next_job(ok, results... | error, traceback): the trampoline's report that
 * the current task's function has ended. When the next ready task has not
 * started yet, it goes on at once on this same coroutine (fn and arguments
 * are returned), which saves a resume for every task that never waits;
 * otherwise the report is yielded to the scheduler. */
int sched_next_job(lua_State *L) {
  ebb_task *t = sched.current, *next;
  ebb_node *head = sched.ready.next;
  int n;
  if (sched.batch_left <= 0 || head == &sched.ready || !t || t->co != L) goto yield;
  next = ebb_container(head, ebb_task, ready_link);
  if (next->started || !next->co || next->state != T_PENDING) goto yield;
  t->co = NULL; /* this coroutine goes on to `next`, not back to the pool */
  if (lua_toboolean(L, 1)) task_settle(L, t, 1, 2, NULL);
  else task_settle(L, t, 0, 2, lua_tostring(L, 3));
  lua_settop(L, 0);
  ebb_node_unlink(head);
  sched.nready--;
  sched.batch_left--;
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
  sched.current = next;
  return n;
yield:
  lua_pushlightuserdata(L, &sched_done_key);
  lua_insert(L, 1);
  return lua_yield(L, lua_gettop(L));
}

static void run_batch(void) {
  sched.batch_left = sched.nready;
  while (sched.batch_left-- > 0) {
    int n = 0;
    (void)n;
    ebb_node *node = ebb_list_shift(&sched.ready);
    ebb_task *t;
    if (!node) break;
    sched.nready--;
    t = ebb_container(node, ebb_task, ready_link);
    if (t->state >= T_DONE) continue;
    run_task(t);
  }
}

static void report_unhandled(void) {
  lua_State *L = sched.L;
  int i, n = sched.nunhandled;
  sched.nunhandled = 0;
  for (i = 0; i < n; i++) {
    ebb_task *t = sched.unhandled[i];
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

ebb_signal *task_signal(lua_State *L, ebb_task *t, int idx) {
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
      sched.nready--;
    }
    ebb_signal_push_reason(L, s);
    task_settle(L, t, 0, lua_gettop(L), NULL);
    lua_pop(L, 1);
    return;
  }
  if (!t->shield) end_aborted(t, s);
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

/* ---- the loop ---- */

static int io_pending(uv_loop_t *loop) {
  int n = (int)loop->active_handles + (int)loop->active_reqs.count;
  return n - sched_internal_handles() - watchdog_active() > 0;
}

void sched_spawn_root(lua_State *L, int nargs) {
  sched.root = sched_spawn(L, nargs);
  sched.root->observed = 1;
}

int sched_root_finished(void) { return sched.root && sched.root->state >= T_DONE; }

void sched_run(lua_State *L) {
  uv_loop_t *loop = ebb_loop();
  (void)L;
  for (;;) {
    if (sched.nready) run_batch();
    if (sched.nunhandled) report_unhandled();
    clock_fire_due();
    runtime_poll_signals();
    if (sched.nready) {
      uv_run(loop, UV_RUN_NOWAIT);
      continue;
    }
    if (!ebb_list_empty(&sched.idle)) {
      wake_list(&sched.idle);
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
  sched.L = L;
  ebb_list_init(&sched.ready);
  ebb_list_init(&sched.live);
  ebb_list_init(&sched.idle);
  sched.trampoline_ref = LUA_NOREF;
  join_init(L);
  luaL_newmetatable(L, TASK_MT);
  lua_pushvalue(L, -1);
  sched.task_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushliteral(L, "Task");
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}

/* The trampoline is the Lua function every pooled coroutine runs. */
void sched_set_trampoline(lua_State *L) { sched.trampoline_ref = luaL_ref(L, LUA_REGISTRYINDEX); }

void sched_close(lua_State *L) {
  int i;
  for (i = 0; i < sched.npool; i++) luaL_unref(L, LUA_REGISTRYINDEX, sched.pool_ref[i]);
  sched.npool = 0;
  free(sched.unhandled);
  sched.unhandled = NULL;
}
