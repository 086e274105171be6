/* A task that hands over to a coroutine of its own: it yields
 * (sched_chunk_key, co, args...), the scheduler resumes co as the task's
 * coroutine, so co's waits yield straight to it (no resumer in between to
 * pass them up), and once co has ended the task goes on where it yielded.
 * The host runs each main chunk this way, at the bottom of its coroutine. */
#include <stdlib.h>
#include "host.h"
#include "task.h"

/* The coroutine a task handed over from, and its ref: few tasks ever hand
 * over (the root, for each chunk), so they are kept in a list, not in
 * every task's record. */
struct handover {
  struct handover *next;
  ebb_task *task;
  lua_State *parent_co;
  int parent_ref;
};

static struct handover **find(ebb_task *t) {
  struct handover **at = &sched.handovers;
  while (*at && (*at)->task != t) at = &(*at)->next;
  return at;
}

void handovers_forget(ebb_task *t) {
  struct handover **at, *h;
  if (!sched.handovers || !*(at = find(t))) return;
  h = *at;
  *at = h->next;
  free(h);
}

void handovers_close(void) {
  while (sched.handovers) {
    struct handover *next = sched.handovers->next;
    free(sched.handovers);
    sched.handovers = next;
  }
}

/* Only a coroutine that has not started yet: its function and nothing run. */
static int fresh(lua_State *co) {
  lua_Debug ar;
  return co && lua_status(co) == 0 && lua_gettop(co) > 0 && !lua_getstack(co, 0, &ar);
}

int sched_hand_over(lua_State **co, int *ref, int *nargs) {
  lua_State *L = sched.L, *from = *co, *child;
  ebb_task *t;
  struct handover *h;
  int n = lua_gettop(from) - 2;
  if (n < 0 || !fresh(child = lua_tothread(from, 2)) || child == from) return 0;
  if (!(t = sched_current_record(L)) || *find(t)) return 0; /* one hand-over at a time */
  if (!(h = malloc(sizeof *h))) return 0;
  h->next = sched.handovers;
  sched.handovers = h;
  h->task = t;
  t->co = NULL; /* running, on child from now on */
  t->co_ref = LUA_NOREF;
  h->parent_co = from;
  h->parent_ref = *ref;
  lua_pushvalue(from, 2);
  lua_xmove(from, L, 1);
  *ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_xmove(from, child, n);
  lua_settop(from, 0);
  *co = child;
  *nargs = n;
  return 1;
}

/* The task is told (true, the first two results) or (false, the error). */
int sched_hand_back(lua_State **co, int *ref, int *nargs, int status) {
  lua_State *child = *co, *parent;
  ebb_task *t = sched.handovers ? sched_current_record_if_any(sched.L) : NULL;
  struct handover **at, *h;
  if (!t || !*(at = find(t))) return 0;
  h = *at;
  *at = h->next;
  parent = h->parent_co;
  luaL_unref(sched.L, LUA_REGISTRYINDEX, *ref);
  *co = parent;
  *ref = h->parent_ref;
  free(h);
  lua_pushboolean(parent, status == 0);
  if (status == 0) {
    lua_settop(child, 2);
    lua_xmove(child, parent, 2);
    *nargs = 3;
  } else {
    lua_xmove(child, parent, 1);
    *nargs = 2;
  }
  lua_settop(child, 0);
  return 1;
}
