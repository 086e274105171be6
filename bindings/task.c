/* ebb.core, the C half of ebb.task: the waits (sleep, yield, settle,
 * waitlists), cancellation of a waiting task, timers that end or start tasks,
 * shielding, and the counters ebb test reads. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "../host/ebb.h"

#define WAITLIST_MT "ebb.waitlist"

static void check_table(lua_State *L, int idx, const char *what) {
  if (!lua_istable(L, idx)) ebb_argerror_type(L, idx, what);
}

/* sleep(ms [, signal]) */
static int l_sleep(lua_State *L) {
  double ms = ebb_check_ms(L, 1, "ms");
  return ebb_sleep(L, ms, 2);
}

static int l_yield(lua_State *L) { return ebb_yield(L); }

/* settle(): resumes once no other task is ready to run */
static int l_settle(lua_State *L) { return ebb_settle(L); }

/* can_wait(): whether the caller could wait here (in a task, not in a listener) */
static int l_can_wait(lua_State *L) {
  lua_pushboolean(L, ebb_can_wait(L));
  return 1;
}

/* check_can_wait(): raises the host's "cannot wait outside a task" at the
 * script's line unless the caller could wait here */
static int l_check_can_wait(lua_State *L) {
  ebb_check_in_task(L);
  return 0;
}

/* check_abort([signal]): false, reason when the signal or the running task is aborted */
static int l_check_abort(lua_State *L) { return ebb_check_abort(L, 1); }

/* shield(delta): while > 0, the running task's waits ignore its cancellation */
static int l_shield(lua_State *L) {
  int delta = (int)ebb_check_whole(L, 1, "delta", -1, 1);
  lua_pushinteger(L, ebb_shield(L, delta));
  return 1;
}

/* cancel_record(task): the task's signal has just been aborted; a waiting
 * task gets the reason at its wait */
static int l_cancel_record(lua_State *L) {
  check_table(L, 1, "task");
  ebb_task_cancelled(L, 1);
  return 0;
}

/* release(task): the task has ended or will never start; its record and
 * its timer go */
static int l_release(lua_State *L) {
  check_table(L, 1, "task");
  ebb_task_release(L, 1);
  return 0;
}

static int start_timer(lua_State *L, int delayed) {
  double ms = ebb_check_ms(L, 2, "ms");
  check_table(L, 1, "task");
  ebb_task_timer(L, 1, ms, delayed);
  return 0;
}

/* timer_task(task, ms): the task ends after ms, with no coroutine at all */
static int l_timer_task(lua_State *L) { return start_timer(L, 0); }

/* delay_timer(task, ms): the task joins the new tasks after ms */
static int l_delay_timer(lua_State *L) { return start_timer(L, 1); }

/* count_cancelled(delta): see ebb_count_cancelled */
static int l_count_cancelled(lua_State *L) {
  ebb_count_cancelled((int)ebb_check_whole(L, 1, "delta", -1, 1));
  return 0;
}

static int l_note_unhandled(lua_State *L) {
  (void)L;
  ebb_note_unhandled();
  return 0;
}

static int l_set_ring(lua_State *L) {
  check_table(L, 1, "ring");
  ebb_set_task_ring(L, 1);
  return 0;
}

static int l_set_exit_status(lua_State *L) {
  ebb_set_exit_status((int)ebb_check_whole(L, 1, "status", INT_MIN, INT_MAX));
  return 0;
}

/* close_handles_of(owner) -> what they were: for ebb test, the handles a
 * unit of specs left open */
static int l_close_handles_of(lua_State *L) {
  ebb_handle_close_owned(L, (int)ebb_check_whole(L, 1, "owner", 1, INT_MAX));
  return 1;
}

static int l_stats(lua_State *L) {
  ebb_sched_counts counts;
  ebb_sched_count(&counts);
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, (lua_Integer)ebb_timer_count());
  lua_setfield(L, -2, "timers");
  lua_pushinteger(L, ebb_handle_count());
  lua_setfield(L, -2, "handles");
  lua_pushinteger(L, counts.ready);
  lua_setfield(L, -2, "ready");
  lua_pushinteger(L, counts.pooled);
  lua_setfield(L, -2, "pooled");
  lua_pushinteger(L, counts.records);
  lua_setfield(L, -2, "records");
  return 1;
}

/* ---- tracebacks ---- */

static EBB_THREAD_LOCAL int bottoms_ref = LUA_NOREF;

/* set_stack_bottoms(fn...): the host's functions a traceback stops at */
static int l_set_stack_bottoms(lua_State *L) {
  int i, n = lua_gettop(L);
  lua_createtable(L, 0, n);
  for (i = 1; i <= n; i++) {
    ebb_check_type(L, i, LUA_TFUNCTION);
    lua_pushvalue(L, i);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, bottoms_ref);
  bottoms_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

/* traceback([level]): as debug.traceback("", level) prints it, less the
 * host's own frames under the task's function; errors take one each time
 * one is made, so it must be cheap: it stops where the task began. */
static int l_traceback(lua_State *L) {
  int level = (int)ebb_opt_whole(L, 1, "level", 0, INT_MAX, 1), bottoms;
  lua_Debug ar, below;
  luaL_Buffer b;
  lua_rawgeti(L, LUA_REGISTRYINDEX, bottoms_ref);
  bottoms = lua_gettop(L);
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "stack traceback:");
  while (lua_getstack(L, level++, &ar)) {
    char num[32];
    int stop;
    lua_getinfo(L, "Slnf", &ar);
    lua_rawget(L, bottoms); /* the function, pushed by "f" */
    stop = lua_toboolean(L, -1);
    lua_pop(L, 1);
    /* the C function a main chunk is called from, at the bottom of its coroutine */
    if (!stop && *ar.what == 'C') stop = !lua_getstack(L, level, &below);
    if (stop) break;
    luaL_addstring(&b, "\n\t");
    luaL_addstring(&b, ar.short_src);
    if (ar.currentline > 0) {
      snprintf(num, sizeof num, ":%d:", ar.currentline);
      luaL_addstring(&b, num);
    } else {
      luaL_addchar(&b, ':');
    }
    if (*ar.namewhat) {
      luaL_addstring(&b, " in function '");
      luaL_addstring(&b, ar.name);
      luaL_addchar(&b, '\'');
    } else if (*ar.what == 'm') {
      luaL_addstring(&b, " in main chunk");
    } else if (*ar.what == 'C') {
      luaL_addstring(&b, " ?");
    } else {
      snprintf(num, sizeof num, ":%d>", ar.linedefined);
      luaL_addstring(&b, " in function <");
      luaL_addstring(&b, ar.short_src);
      luaL_addstring(&b, num);
    }
  }
  luaL_pushresult(&b);
  return 1;
}

/* ---- options tables ---- */

/* option_problem(opts, valid) -> nothing | "unknown", key | "bad", key, why:
 * each key of opts looked up in valid, whose rule(value) returns why it is
 * wrong or nil. The walk is C's lua_next: LuaJIT's compiled pairs() loops
 * (Debian's snapshot) have been seen handing a loop here keys of another
 * table, which then read as unknown options. */
static int l_option_problem(lua_State *L) {
  ebb_check_type(L, 1, LUA_TTABLE);
  ebb_check_type(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lua_pushnil(L);
  while (lua_next(L, 1)) { /* key at 3, value at 4 */
    lua_pushvalue(L, 3);
    lua_rawget(L, 2); /* the rule, at 5 */
    if (lua_isnil(L, 5)) {
      lua_pushliteral(L, "unknown");
      lua_pushvalue(L, 3);
      return 2;
    }
    lua_pushvalue(L, 4);
    lua_call(L, 1, 1); /* why, at 5 */
    if (!lua_isnil(L, 5)) {
      lua_pushliteral(L, "bad");
      lua_pushvalue(L, 3);
      lua_pushvalue(L, 5);
      return 3;
    }
    lua_settop(L, 3);
  }
  return 0;
}

/* ---- waitlists: where Lua-side objects (tasks, joins, futures) park waiters ---- */

static int l_waitlist(lua_State *L) {
  ebb_waitlist *wl = lua_newuserdata(L, sizeof *wl);
  ebb_list_init(wl);
  luaL_getmetatable(L, WAITLIST_MT);
  lua_setmetatable(L, -2);
  return 1;
}

static ebb_waitlist *check_waitlist(lua_State *L, int idx) {
  return ebb_check_udata(L, idx, WAITLIST_MT, "waitlist");
}

/* wl:wait([signal [, timeout_ms]]) */
static int waitlist_wait(lua_State *L) {
  ebb_waitlist *wl = check_waitlist(L, 1);
  double ms = lua_isnoneornil(L, 3) ? -1 : ebb_check_ms(L, 3, "timeout");
  return ebb_wait_on(L, wl, ms, 2);
}

/* wl:wait_real(ms): a limit in real time, which virtual time does not move */
static int waitlist_wait_real(lua_State *L) {
  ebb_waitlist *wl = check_waitlist(L, 1);
  return ebb_wait_real(L, wl, ebb_check_ms(L, 2, "ms"));
}

static int waitlist_wake_all(lua_State *L) {
  ebb_wake_all(check_waitlist(L, 1));
  return 0;
}

/* host_source(source): is lua_Debug's source (a chunk name) ebb's own Lua? */
static int l_host_source(lua_State *L) {
  lua_pushboolean(L, ebb_host_source(luaL_checkstring(L, 1)));
  return 1;
}

static char loading_key;

int luaopen_ebb_core(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"sleep", l_sleep},                 {"yield", l_yield},
    {"settle", l_settle},               {"check_abort", l_check_abort},
    {"shield", l_shield},               {"cancel_record", l_cancel_record},
    {"release", l_release},             {"timer_task", l_timer_task},
    {"delay_timer", l_delay_timer},     {"note_unhandled", l_note_unhandled},
    {"count_cancelled", l_count_cancelled},
    {"set_ring", l_set_ring},           {"set_exit_status", l_set_exit_status},
    {"stats", l_stats}, {"close_handles_of", l_close_handles_of},                 {"waitlist", l_waitlist},
    {"traceback", l_traceback},         {"option_problem", l_option_problem},         {"can_wait", l_can_wait},         {"check_can_wait", l_check_can_wait},         {"set_stack_bottoms", l_set_stack_bottoms},
    {"host_source", l_host_source},
    {NULL, NULL}};
  static const luaL_Reg waitlist_methods[] = {
    {"wait", waitlist_wait},         {"wait_real", waitlist_wait_real},
    {"wake_all", waitlist_wake_all},
    {NULL, NULL}};
  luaL_newmetatable(L, WAITLIST_MT);
  lua_newtable(L);
  ebb_register(L, waitlist_methods, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_newtable(L);
  ebb_register(L, fns, 0);
  lua_pushlightuserdata(L, ebb_sched_key(EBB_KEY_WAIT));
  lua_setfield(L, -2, "WAIT");
  lua_pushlightuserdata(L, ebb_sched_key(EBB_KEY_IDLE));
  lua_setfield(L, -2, "IDLE");
  lua_pushlightuserdata(L, ebb_sched_key(EBB_KEY_CHUNK));
  lua_setfield(L, -2, "CHUNK");
  /* require's mark for a module being loaded: a light userdata, as LuaJIT's,
   * so luaL_register and module() make the module's table themselves */
  lua_pushlightuserdata(L, &loading_key);
  lua_setfield(L, -2, "LOADING");
  ebb_push_current_cell(L);
  lua_setfield(L, -2, "cur");
  lua_pushliteral(L, EBB_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
