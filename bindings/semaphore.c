/* ebb.semaphore's C half: weighted permits, a strict FIFO of waiters, and a
 * waiter aborted at any moment gives back what it got. O(1) per operation
 * (a release wakes as many waiters as it can serve, each in O(1)). */
#include <stdio.h>
#include <string.h>
#include "../host/ebb.h"

#define SEMAPHORE_MT "ebb.semaphore"

#define SEMAPHORE_MAGIC 0x53454d41u /* tells our userdata from others of its size */

typedef struct semaphore {
  unsigned magic;
  double size;        /* permits it was made with */
  double available;
  int waiting;
  int closed;
  int reason_ref;     /* why it was closed */
  ebb_waitlist waiters;
} semaphore;

/* Every operation checks its semaphore: by size and mark, not by metatable,
 * because this is the hot path of every acquire and release. */
static semaphore *check_semaphore(lua_State *L, int idx) {
  semaphore *s = lua_touserdata(L, idx); /* a light userdata has no length: refused before it is read */
  if (!s || lua_objlen(L, idx) != sizeof *s || s->magic != SEMAPHORE_MAGIC) ebb_argerror_type(L, idx, "semaphore");
  return s;
}

/* Counts stay at or below 2^53, where every whole double is exact. The Lua
 * half passes no count for the usual 1. */
static double check_count(lua_State *L, int idx, const char *what) {
  if (lua_gettop(L) < idx) return 1;
  return ebb_check_whole(L, idx, what, 1, EBB_MAX_WHOLE);
}

/* Serves waiters from the front while the first one can be served: a later,
 * smaller request never overtakes it. */
static void dispatch(semaphore *s) {
  while (!ebb_list_empty(&s->waiters)) {
    ebb_wait *w = ebb_container(s->waiters.next, ebb_wait, link);
    if (ebb_wait_want(w)->permits > s->available) break;
    s->available -= ebb_wait_want(w)->permits;
    s->waiting--;
    ebb_wake(w);
  }
}

static void on_cancel(ebb_wait *w, int handed) {
  semaphore *s = ebb_wait_want(w)->owner;
  if (handed) s->available += ebb_wait_want(w)->permits;
  else s->waiting--;
  dispatch(s);
}

/* new(permits) */
static int l_new(lua_State *L) {
  double n = ebb_check_whole(L, 1, "permits", 0, EBB_MAX_WHOLE);
  semaphore *s = lua_newuserdata(L, sizeof *s);
  memset(s, 0, sizeof *s);
  s->magic = SEMAPHORE_MAGIC;
  s->size = s->available = n;
  s->reason_ref = LUA_NOREF;
  ebb_list_init(&s->waiters);
  luaL_getmetatable(L, SEMAPHORE_MT);
  lua_setmetatable(L, -2);
  return 1;
}

static int push_closed(lua_State *L, semaphore *s) {
  lua_pushboolean(L, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->reason_ref);
  return 2;
}

/* acquire(sem[, n, signal]): true once the permits are the caller's; false,
 * reason when aborted or closed; nothing when n is above the size (the Lua
 * half raises that at its caller's line) */
static int l_acquire(lua_State *L) {
  semaphore *s = check_semaphore(L, 1);
  double n = check_count(L, 2, "n");
  int signal_idx = lua_gettop(L) < 3 ? 0 : 3, r;
  if (signal_idx) ebb_opt_signal(L, signal_idx);
  if (s->closed) return push_closed(L, s);
  if (n > s->size) return 0;
  if ((r = ebb_check_abort(L, signal_idx)) != 0) return r;
  if (ebb_list_empty(&s->waiters) && s->available >= n) {
    s->available -= n;
    lua_pushboolean(L, 1);
    return 1;
  }
  r = ebb_wait_with(L, &s->waiters, -1, signal_idx, &(ebb_want){.owner = s, .on_cancel = on_cancel, .permits = n});
  if (lua_status(L) == LUA_YIELD) s->waiting++;
  return r;
}

/* try_acquire(sem[, n]) -> boolean; never overtakes a waiter */
static int l_try_acquire(lua_State *L) {
  semaphore *s = check_semaphore(L, 1);
  double n = check_count(L, 2, "n");
  int ok = !s->closed && ebb_list_empty(&s->waiters) && s->available >= n;
  if (ok) s->available -= n;
  lua_pushboolean(L, ok);
  return 1;
}

/* release(sem[, n]) -> nothing, or the message of a release beyond the size
 * (raised by the Lua half, at its caller's line) */
static int l_release(lua_State *L) {
  semaphore *s = check_semaphore(L, 1);
  double n = check_count(L, 2, "n");
  if (s->available + n > s->size) {
    lua_pushfstring(L, "semaphore released more permits than were acquired (%f of %f free)", s->available, s->size);
    return 1;
  }
  s->available += n;
  dispatch(s);
  return 0;
}

/* close(sem, reason): every waiter, and every later acquire, fails with reason */
static int l_close(lua_State *L) {
  semaphore *s = check_semaphore(L, 1);
  ebb_node *node;
  if (s->closed) return 0;
  lua_settop(L, 2);
  s->closed = 1;
  lua_pushvalue(L, 2);
  s->reason_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  while ((node = ebb_list_shift(&s->waiters)) != NULL) {
    s->waiting--;
    lua_pushvalue(L, 2);
    ebb_wake_fail(L, ebb_container(node, ebb_wait, link));
  }
  return 0;
}

/* state(sem) -> available, waiting, closed */
static int l_state(lua_State *L) {
  semaphore *s = check_semaphore(L, 1);
  lua_pushnumber(L, s->available);
  lua_pushinteger(L, s->waiting);
  lua_pushboolean(L, s->closed);
  return 3;
}

static int sem_gc(lua_State *L) {
  semaphore *s = check_semaphore(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, s->reason_ref);
  s->reason_ref = LUA_NOREF;
  return 0;
}

static int sem_tostring(lua_State *L) {
  semaphore *s = check_semaphore(L, 1);
  char available[32], size[32];
  snprintf(available, sizeof available, "%.0f", s->available);
  snprintf(size, sizeof size, "%.0f", s->size);
  lua_pushfstring(L, "Semaphore (%s of %s free, %d waiting)", available, size, s->waiting);
  return 1;
}

/* set_index(fn): the Lua side's __index for every semaphore (methods in
 * Lua are found without a call into C) */
static int l_set_index(lua_State *L) {
  ebb_check_type(L, 1, LUA_TFUNCTION);
  luaL_getmetatable(L, SEMAPHORE_MT);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "__index");
  return 0;
}

int luaopen_ebb_semaphore_core(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"new", l_new},         {"acquire", l_acquire}, {"try_acquire", l_try_acquire},
    {"release", l_release}, {"close", l_close},     {"set_index", l_set_index},
    {"state", l_state},
    {NULL, NULL}};
  ebb_new_metatable(L, SEMAPHORE_MT, sem_gc, sem_tostring);
  return ebb_new_module(L, fns);
}
