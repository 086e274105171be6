/* ebb.test.core: ebb test's real-time limit on a body (a spec's, a hook's, a
 * block's), kept by the process's alarm (alarm.c) rather than the loop, which
 * a body that never waits does not return to. Past the limit, the interrupt
 * hook calls the runner's function where the script's own code runs and
 * raises what it returns there (the body's TimeoutError); past the limit
 * again (a C call that blocks, a loop LuaJIT compiled with no call in it:
 * no hook reaches them) the run ends with a message naming the spec or block. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "host.h"

#define STUCK_STATUS 1

static struct {
  int on_expiry; /* the runner's function, in the registry */
  double ms;
  char message[512];
  size_t length;
} S = {LUA_NOREF, 0, "", 0};

/* Async-signal-safe but for the flush, tried only when stdout is not locked:
 * the thread is stuck in compiled code, not in stdio. */
static void on_stuck(void) {
  if (ftrylockfile(stdout) == 0) {
    fflush_unlocked(stdout);
    funlockfile(stdout);
  }
  if (write(STDERR_FILENO, S.message, S.length) < 0) { /* nothing left to tell */ }
  _exit(STUCK_STATUS);
}

static void on_limit(void) {
  interrupt_deadline_passed();
  alarm_set(ALARM_SPEC_LIMIT, S.ms, on_stuck);
}

static void release(lua_State *L) {
  alarm_set(ALARM_SPEC_LIMIT, 0, NULL);
  interrupt_deadline_cleared();
  luaL_unref(L, LUA_REGISTRYINDEX, S.on_expiry);
  S.on_expiry = LUA_NOREF;
}

/* arm(ms, what, on_expiry): on_expiry runs once the limit has passed, in the
 * hook, where the script's own code runs; what it returns, unless nil, is
 * raised there. `what` names the body in the message that ends the run. */
static int l_arm(lua_State *L) {
  double ms = luaL_checknumber(L, 1);
  const char *what = luaL_checkstring(L, 2);
  int n;
  luaL_argcheck(L, isfinite(ms) && ms > 0 && ms <= 1e12, 1, "a positive number of milliseconds, at most 1e12");
  ebb_check_type(L, 3, LUA_TFUNCTION);
  release(L);
  n = snprintf(S.message, sizeof S.message,
               "ebb test: %s did not finish within %g ms, nor %g ms after its TimeoutError (a C "
               "call that blocks, a loop LuaJIT compiled with no call in it, or code that catches "
               "the error and goes on): the run ends here\n", what, ms, ms);
  S.length = n < 0 ? 0 : (size_t)n < sizeof S.message ? (size_t)n : sizeof S.message - 1;
  S.ms = ms;
  lua_pushvalue(L, 3);
  S.on_expiry = luaL_ref(L, LUA_REGISTRYINDEX);
  alarm_set(ALARM_SPEC_LIMIT, ms, on_limit);
  return 0;
}

static int l_disarm(lua_State *L) {
  release(L);
  return 0;
}

/* 1 with what to raise on top, else 0. */
int spec_limit_expired(lua_State *L) {
  if (S.on_expiry == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, S.on_expiry);
  if (lua_pcall(L, 0, 1, 0) == 0 && !lua_isnil(L, -1)) return 1;
  lua_pop(L, 1);
  return 0;
}

int luaopen_ebb_test_core(lua_State *L) {
  static const luaL_Reg fns[] = {{"arm", l_arm}, {"disarm", l_disarm}, {NULL, NULL}};
  return ebb_new_module(L, fns);
}
