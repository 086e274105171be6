/* ebb.core, the C half of ebb.task: spawn, delay, sleep, yield, await,
 * results, cancel, shield, futures' waitlists, and what ebb test asks of tasks. */
#include <string.h>
#include "../host/host.h"
#include "../host/runtime.h"
#include "../host/task.h"

static const char *const status_names[] = {"pending", "running", "done", "failed", "cancelled"};

/* ---- the Lua functions of the core ---- */

static void sleep_task_fire(ebb_timer *tm) {
  ebb_task *t = wait_task(ebb_container(tm, ebb_wait, timer));
  lua_State *L = sched.L;
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
  lua_State *L = sched.L;
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
  if (t->wait_state == W_ARMED) t->wait.data = &sched_wait_key;
  return r;
}

static int l_yield(lua_State *L) {
  ebb_task *t = ebb_check_in_task(L);
  if (!t->shield && t->sig && ebb_signal_aborted(t->sig)) return push_aborted(L, t->sig);
  t->yielding = 1;
  lua_pushlightuserdata(L, &sched_wait_key);
  return lua_yield(L, 1);
}

/* settle(): resumes once no other task is ready to run */
static int l_settle(lua_State *L) { return ebb_wait_on(L, &sched.idle, -1, 0); }

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
  if (t == sched.current) return luaL_error(L, "a task cannot await itself");
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

/* cancel(t, reason) */
static int l_cancel(lua_State *L) {
  ebb_task *t = task_check(L, 1);
  lua_settop(L, 2);
  task_cancel(L, t, 1);
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
  ebb_task *t = sched.current;
  if (!t || !t->sig || !ebb_signal_aborted(t->sig)) return 0;
  ebb_signal_push_reason(L, t->sig);
  return 1;
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
  if (!sched.current) return 0;
  task_push(L, sched.current);
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
  for (n = sched.live.next; n != &sched.live; n = n->next) {
    ebb_task *t = ebb_container(n, ebb_task, live_link);
    if (t->owner != owner || t == sched.current) continue;
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
  lua_pushinteger(L, sched.nready);
  lua_setfield(L, -2, "ready");
  lua_pushinteger(L, sched.npool);
  lua_setfield(L, -2, "pooled");
  return 1;
}

int luaopen_ebb_core(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"spawn", l_spawn},       {"next_job", sched_next_job},       {"set_sleep", l_set_sleep},       {"delay", l_delay},         {"sleep", l_sleep},
    {"yield", l_yield},       {"settle", l_settle},       {"await_begin", l_await_begin},
    {"result", l_result},     {"outcome", l_outcome},     {"cancel", l_cancel},
    {"current", l_current},   {"set_methods", l_set_methods}, {"is_task", l_is_task},
    {"set_owner", l_set_owner},       {"live", l_live},           {"stats", l_stats},
    {"shield", l_shield},     {"cancelled", l_cancelled}, {"join", join_new},     {"waitlist", l_waitlist}, {"set_exit_status", l_set_exit_status},
    {"await_real", wait_lua_await_real}, {"check_abort", l_check_abort},
    {NULL, NULL}};
  luaL_newmetatable(L, WAITLIST_MT);
  lua_newtable(L);
  lua_pushcfunction(L, waitlist_wait);
  lua_setfield(L, -2, "wait");
  lua_pushcfunction(L, waitlist_wake_all);
  lua_setfield(L, -2, "wake_all");
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_getmetatable(L, TASK_MT);
  lua_pushcfunction(L, task_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  lua_pushlightuserdata(L, &sched_wait_key);
  lua_setfield(L, -2, "WAIT");
  lua_pushlightuserdata(L, &sched_done_key);
  lua_setfield(L, -2, "DONE");
  lua_pushliteral(L, EBB_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}

