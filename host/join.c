/* Joins: one waiter following many tasks, told of each as it ends, in the
 * order they end. task.all, race, any, all_settled and group stand on them. */
#include <stdlib.h>
#include <string.h>
#include "host.h"
#include "task.h"

#define JOIN_MT "ebb.join"
#define CHUNK 64

typedef struct join_watch {
  ebb_node link; /* in task->watchers */
  struct join *join;
  int index;
} join_watch;

typedef struct join {
  int n;                 /* tasks followed; their list is the join's env table */
  int *done;             /* indices in the order the tasks ended */
  int head, tail, cap;   /* each task ends once, so tail never passes n */
  join_watch **chunks;   /* watch nodes, CHUNK at a time: their addresses stay put */
  ebb_waitlist waiters;
} join;

static void join_push(join *j, int index) {
  j->done[j->tail++] = index;
  ebb_wake_first(&j->waiters);
}

void join_task_ended(ebb_task *t) {
  ebb_node *n;
  while ((n = ebb_list_shift(&t->watchers)) != NULL) {
    join_watch *w = ebb_container(n, join_watch, link);
    join_push(w->join, w->index);
  }
}

static join *check_join(lua_State *L, int idx) {
  join *j = luaL_testudata_compat(L, idx, JOIN_MT);
  if (!j) ebb_argerror_type(L, idx, "join");
  return j;
}

static void grow(join *j) {
  int cap = j->cap ? j->cap * 2 : CHUNK;
  int *done = realloc(j->done, (size_t)cap * sizeof *done);
  join_watch **chunks = realloc(j->chunks, (size_t)(cap / CHUNK) * sizeof *chunks);
  if (!done || !chunks) abort();
  j->done = done;
  j->chunks = chunks;
  j->cap = cap;
}

/* Follows task t, at stack index idx; env at env_idx is the task list. */
static int follow(lua_State *L, join *j, ebb_task *t, int idx, int env_idx) {
  join_watch *w;
  int i = j->n;
  if (i == j->cap) grow(j);
  if (i % CHUNK == 0) {
    j->chunks[i / CHUNK] = malloc(CHUNK * sizeof(join_watch));
    if (!j->chunks[i / CHUNK]) abort();
  }
  w = &j->chunks[i / CHUNK][i % CHUNK];
  w->join = j;
  w->index = ++j->n;
  w->link.next = w->link.prev = NULL;
  lua_pushvalue(L, idx);
  lua_rawseti(L, env_idx, w->index);
  t->observed = 1;
  if (t->state >= T_DONE) join_push(j, w->index);
  else ebb_list_push(&t->watchers, &w->link);
  return w->index;
}

/* A task, or a function to spawn as one; leaves the task at the top. */
static ebb_task *as_task(lua_State *L, int idx) {
  ebb_task *t;
  if (lua_isfunction(L, idx)) {
    lua_pushvalue(L, idx);
    return sched_spawn(L, 0);
  }
  if ((t = task_test(L, idx)) != NULL) lua_pushvalue(L, idx);
  return t;
}

/* join([list [, fname]]) -> join, or nil and a message naming the bad argument
 * (so the Lua caller can raise it at its own caller's line) */
int join_new(lua_State *L) {
  const char *fname = luaL_optstring(L, 2, "join");
  int len = 0, i;
  join *j;
  if (!lua_isnoneornil(L, 1)) {
    if (!lua_istable(L, 1)) {
      lua_pushnil(L);
      lua_pushfstring(L, "bad argument #1 to '%s' (list of tasks or functions expected, got %s)", fname,
                      luaL_typename(L, 1));
      return 2;
    }
    len = (int)lua_objlen(L, 1);
    for (i = 1; i <= len; i++) { /* all checked first: nothing is spawned on bad input */
      lua_rawgeti(L, 1, i);
      if (!lua_isfunction(L, -1) && !task_test(L, -1)) {
        lua_pushnil(L);
        lua_pushfstring(L, "bad argument #1 to '%s' (item %d is not a task or function)", fname, i);
        return 2;
      }
      lua_pop(L, 1);
    }
  }
  lua_settop(L, 2);
  j = lua_newuserdata(L, sizeof *j); /* 3 */
  memset(j, 0, sizeof *j);
  ebb_list_init(&j->waiters);
  luaL_getmetatable(L, JOIN_MT);
  lua_setmetatable(L, 3);
  lua_createtable(L, len, 0); /* 4: the tasks */
  lua_pushvalue(L, 4);
  lua_setfenv(L, 3);
  for (i = 1; i <= len; i++) {
    lua_rawgeti(L, 1, i);
    follow(L, j, as_task(L, 5), 6, 4);
    lua_settop(L, 4);
  }
  lua_settop(L, 3);
  return 1;
}

/* j:add(task or fn) -> index */
static int join_add(lua_State *L) {
  join *j = check_join(L, 1);
  ebb_task *t;
  lua_settop(L, 2);
  if ((t = as_task(L, 2)) == NULL) return ebb_argerror_type(L, 2, "task or function");
  lua_getfenv(L, 1);
  lua_pushinteger(L, follow(L, j, t, 3, 4));
  return 1;
}

/* j:next([signal]) -> index, ok, first result or error; nothing once every
 * task has been told of; while none has ended it waits, and the wait gives
 * true (look again) or false, reason (aborted). */
static int join_next(lua_State *L) {
  join *j = check_join(L, 1);
  int aborted;
  if ((aborted = ebb_check_abort(L, 2)) != 0) return aborted;
  if (j->head < j->tail) {
    int idx = j->done[j->head++];
    ebb_task *t;
    lua_getfenv(L, 1);
    lua_rawgeti(L, -1, idx);
    t = lua_touserdata(L, -1);
    lua_pushinteger(L, idx);
    lua_pushboolean(L, task_push_first(L, t, lua_gettop(L) - 1));
    lua_insert(L, -2);
    return 3;
  }
  if (j->head == j->n) return 0;
  return ebb_wait_on(L, &j->waiters, -1, 2);
}

/* j:cancel(reason): cancels every task that has not ended */
static int join_cancel(lua_State *L) {
  join *j = check_join(L, 1);
  int i;
  lua_settop(L, 2);
  lua_getfenv(L, 1);
  for (i = 1; i <= j->n; i++) {
    ebb_task *t;
    lua_rawgeti(L, 3, i);
    t = lua_touserdata(L, -1);
    if (t->state < T_DONE) {
      lua_pushvalue(L, 2);
      task_cancel(L, t, 4);
    }
    lua_settop(L, 3);
  }
  return 0;
}

/* j:task(i) */
static int join_task(lua_State *L) {
  check_join(L, 1);
  lua_getfenv(L, 1);
  lua_rawgeti(L, -1, (int)luaL_checkinteger(L, 2));
  return 1;
}

static int join_size(lua_State *L) {
  lua_pushinteger(L, check_join(L, 1)->n);
  return 1;
}

static int join_gc(lua_State *L) {
  join *j = lua_touserdata(L, 1);
  int i;
  for (i = 0; i < j->n; i++) ebb_node_unlink(&j->chunks[i / CHUNK][i % CHUNK].link);
  for (i = 0; i < (j->n + CHUNK - 1) / CHUNK; i++) free(j->chunks[i]);
  free(j->chunks);
  free(j->done);
  memset(j, 0, sizeof *j);
  return 0;
}

void join_init(lua_State *L) {
  static const luaL_Reg methods[] = {{"add", join_add},       {"next", join_next}, {"cancel", join_cancel},
                                     {"task", join_task},     {"size", join_size}, {NULL, NULL}};
  luaL_newmetatable(L, JOIN_MT);
  lua_newtable(L);
  luaL_register(L, NULL, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, join_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
}
