/* A task that sleeps with no record of its own (task.sleep(ms) with no
 * signal, in a task not shielded, handed over or cancelled) is only a
 * sleeper until it runs again: 32 bytes, not a 64-byte record. Its table's
 * [0] holds it tagged (bit 0 set). Once due, it waits in the ready list
 * through the link that takes its timer's place, its table_ref negated: the
 * scheduler tells it from a record so, and resumes it with no record at
 * all. Anything that asks for the task's record before (its cancellation)
 * turns it into one, in the same state and place. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "host.h"
#include "slab.h"
#include "task.h"

typedef struct sleeper {
  lua_State *co; /* the coroutine it sleeps on, and its ref */
  int co_ref;
  int table_ref; /* the Lua task, anchored while it sleeps (< 0: woken; 0: a free sleeper) */
  union {
    ebb_timer timer; /* while it sleeps */
    ebb_node link;   /* once woken: in the ready list, as a record's wait.link */
  } u;
} sleeper;

_Static_assert(offsetof(sleeper, u.link) == offsetof(ebb_task, wait.link), "a sleeper's link is where a record's is");
_Static_assert(offsetof(sleeper, table_ref) == offsetof(ebb_task, table_ref), "and its table_ref too");

#define SLEEPER_TAG 1

static EBB_THREAD_LOCAL slab_pool sleepers = {sizeof(sleeper), NULL, NULL};

int ebb_sleep(lua_State *L, double ms, int signal_idx) {
  static const ebb_want sleep = {.sleeps = 1};
  int alone = lua_isnoneornil(L, signal_idx) && ebb_no_wait_depth == 0 && L == sched.running_co &&
              !sched.current && !sched.cancelled_live;
  int r;
  if (alone) { /* and the running task has no record */
    ebb_push_current_cell(L);
    lua_rawgeti(L, -1, 1);
    alone = lua_istable(L, -1);
    if (alone) {
      lua_rawgeti(L, -1, 0);
      alone = !lua_islightuserdata(L, -1);
      lua_pop(L, 1);
    }
    lua_pop(L, 2);
  }
  if (!alone) return ebb_wait_with(L, NULL, ms, signal_idx, &sleep);
  sched.sleep_deadline = ebb_now() + (ms > 0 ? ms : 0); /* NaN and negatives: at once */
  r = sched_yield_wait(L); /* raises when it cannot yield: then nothing sleeps */
  sched.sleeps = 1;
  return r;
}

static void sleeper_fire(ebb_timer *tm);

void sleeper_start(lua_State *L, lua_State *co, int co_ref, int table_idx) {
  sleeper *s = slab_take(&sleepers);
  if (!s) luaL_error(L, "out of memory");
  ebb_timer_init(&s->u.timer, sleeper_fire);
  s->co = co;
  s->co_ref = co_ref;
  lua_pushvalue(L, table_idx);
  s->table_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, (char *)s + SLEEPER_TAG);
  lua_rawseti(L, table_idx < 0 ? table_idx - 1 : table_idx, 0);
  ebb_timer_start_at(&s->u.timer, sched.sleep_deadline);
  sched.nrecords++;
}

int sleeper_tagged(void *p) { return ((uintptr_t)p & SLEEPER_TAG) != 0; }

static void sleeper_fire(ebb_timer *tm) {
  sleeper *s = ebb_container(tm, sleeper, u.timer);
  s->table_ref = -s->table_ref;
  lua_pushboolean(s->co, 1); /* what the sleep returns */
  ready_push_node(&s->u.link);
}

/* The sleeper at the task's [0] becomes a record in the same state: armed
 * for the same sleep, in the same place among the timers, or woken, in the
 * same place in the ready list. */
ebb_task *sleeper_to_record(lua_State *L, void *tagged, int table_idx) {
  sleeper *s = (sleeper *)((char *)tagged - SLEEPER_TAG);
  ebb_task *t = record_alloc(L);
  memset(t, 0, sizeof *t);
  t->co = s->co;
  t->co_ref = s->co_ref;
  t->sleeps = 1;
  ebb_timer_init(&t->wait.timer, timer_fire);
  if (s->table_ref > 0) {
    t->table_ref = s->table_ref;
    t->wait_state = W_ARMED;
    ebb_timer_take_place(&s->u.timer, &t->wait.timer);
  } else {
    t->table_ref = -s->table_ref;
    t->wait_state = W_WOKEN;
    t->wait_result = EBB_WOKE;
    t->nresume = 1;
    ebb_list_push(&s->u.link, &t->wait.link); /* just before it, then it goes */
    ebb_node_unlink(&s->u.link);
  }
  lua_pushlightuserdata(L, t);
  lua_rawseti(L, table_idx < 0 ? table_idx - 1 : table_idx, 0);
  s->table_ref = 0;
  slab_give(&sleepers, s);
  return t;
}

lua_State *sleeper_take_woken(ebb_node *n, int *co_ref) {
  sleeper *s = ebb_container(n, sleeper, u.link);
  lua_State *h = sched.holder, *co = s->co;
  lua_rawgeti(h, LUA_REGISTRYINDEX, -s->table_ref);
  lua_pushinteger(h, 0); /* [0] is free again: no record, no results yet */
  lua_rawseti(h, -2, 0);
  lua_rawseti(h, 1, 1); /* the running task (cur[1], see set_current_table) */
  luaL_unref(h, LUA_REGISTRYINDEX, -s->table_ref);
  sched.current = NULL;
  sched.nrecords--;
  *co_ref = s->co_ref;
  s->table_ref = 0;
  slab_give(&sleepers, s);
  return co;
}

static int sleeper_in_use(void *item) { return ((sleeper *)item)->table_ref > 0; }

static void sleeper_close(void *item) { ebb_timer_stop(&((sleeper *)item)->u.timer); }

/* Those still asleep at exit leave the clock; the woken ones are only in the ready list. */
void sleepers_close(void) { slab_close(&sleepers, sleeper_in_use, sleeper_close); }
