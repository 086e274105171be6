/* The scheduler: pooled coroutines that run new tasks (ebb.task's runner),
 * the records of tasks that wait, one ready queue, and the loop that drives
 * libuv. Waits are in wait.c, what ebb.core asks of them in task_control.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "host.h"
#include "runtime.h"
#include "slab.h"
#include "task.h"

EBB_THREAD_LOCAL struct sched sched;
char sched_wait_key, sched_idle_key, sched_chunk_key;

int sched_yield_wait(lua_State *L) {
  /* a coroutine of the task's own passes the key on (coroutine.resume); when
   * lua_yield cannot yield, it raises the reason */
  int r;
  if (L != sched.running_co) {
    lua_pushlightuserdata(L, &sched_wait_key);
    return lua_yield(L, 1);
  }
  r = lua_yield(L, 0); /* raises when it cannot yield: then nothing says it waited */
  sched.waited = L;
  return r;
}

static EBB_THREAD_LOCAL struct ebb_wait_more *free_mores; /* first word: the next */

ebb_wait *ebb_task_wait(ebb_task *t) { return &t->wait; }

void ready_push_node(ebb_node *n) {
  ebb_list_push(&sched.ready, n);
  sched.nready++;
}

void ready_push(ebb_task *t) { ready_push_node(&t->wait.link); /* off the owner's list by now */ }

/* ---- coroutines ---- */

static lua_State *pool_take(lua_State *L, int *ref) {
  lua_State *co;
  if (sched.npool) {
    sched.npool--;
    *ref = sched.pool_ref[sched.npool];
    return sched.pool_co[sched.npool];
  }
  co = lua_newthread(L);
  *ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_rawgeti(co, LUA_REGISTRYINDEX, sched.runner_ref);
  return co;
}

static void pool_give(lua_State *co, int ref) {
  lua_settop(co, 0);
  if (sched.npool < POOL_MAX) {
    sched.pool_co[sched.npool] = co;
    sched.pool_ref[sched.npool++] = ref;
  } else {
    luaL_unref(sched.L, LUA_REGISTRYINDEX, ref);
  }
}

/* ---- records ---- */

void record_push_table(lua_State *L, ebb_task *t) { lua_rawgeti(L, LUA_REGISTRYINDEX, t->table_ref); }

/* A task's field `key`, read raw (its __index would make a signal). */
static void *raw_pointer(lua_State *L, int table_idx, const char *key) {
  void *p;
  lua_pushstring(L, key);
  lua_rawget(L, table_idx < 0 ? table_idx - 1 : table_idx);
  p = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return p;
}

/* A running task's [0] is free (ebb.task: the count of its arguments has
 * been read, that of its results not yet written): its record is kept there. */
ebb_task *record_of(lua_State *L, int table_idx) {
  ebb_task *t;
  lua_rawgeti(L, table_idx, 0);
  t = lua_type(L, -1) == LUA_TLIGHTUSERDATA ? lua_touserdata(L, -1) : NULL;
  lua_pop(L, 1);
  return t && sleeper_tagged(t) ? sleeper_to_record(L, t, table_idx) : t;
}

/* Records come from slabs: a waiting task costs no allocation header and no
 * list link, and the slabs are walked once at exit for records still in use
 * (table_ref > 0). */
static EBB_THREAD_LOCAL slab_pool records = {sizeof(ebb_task), NULL, NULL};

ebb_task *record_alloc(lua_State *L) {
  ebb_task *t = slab_take(&records);
  if (!t) luaL_error(L, "out of memory");
  return t;
}

ebb_task *record_new(lua_State *L, int table_idx) {
  ebb_task *t = record_alloc(L);
  memset(t, 0, sizeof *t);
  t->co_ref = LUA_NOREF;
  ebb_timer_init(&t->wait.timer, timer_fire);
  lua_pushvalue(L, table_idx);
  t->table_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, t);
  lua_rawseti(L, table_idx < 0 ? table_idx - 1 : table_idx, 0);
  sched.nrecords++;
  return t;
}

void record_free(lua_State *L, ebb_task *t) {
  if (t->wait_state == W_WOKEN && ebb_node_linked(&t->wait.link)) { /* ready, not run yet */
    ebb_node_unlink(&t->wait.link);
    sched.nready--;
  }
  wait_detach(&t->wait);
  handovers_forget(t);
  if (t->wait.more) {
    *(struct ebb_wait_more **)t->wait.more = free_mores;
    free_mores = t->wait.more;
  }
  record_push_table(L, t);
  lua_pushinteger(L, 0); /* no results yet: ebb.task counts them next, if any */
  lua_rawseti(L, -2, 0);
  lua_pop(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, t->table_ref);
  t->table_ref = 0;
  if (sched.current == t) sched.current = NULL;
  slab_give(&records, t);
  sched.nrecords--;
}

/* ---- timers that are tasks ---- */

static EBB_THREAD_LOCAL ebb_timed *free_timeds;

ebb_timed *timed_new(lua_State *L, int table_idx, int delayed, void (*fire)(ebb_timer *)) {
  ebb_timed *d = free_timeds;
  if (d) free_timeds = *(ebb_timed **)d;
  else if (!(d = malloc(sizeof *d))) luaL_error(L, "out of memory");
  ebb_timer_init(&d->timer, fire);
  ebb_list_push(&sched.timeds, &d->all_link);
  d->delayed = delayed;
  lua_pushvalue(L, table_idx);
  d->table_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, d);
  lua_setfield(L, table_idx < 0 ? table_idx - 1 : table_idx, "tmr");
  return d;
}

ebb_timed *timed_of(lua_State *L, int table_idx) { return raw_pointer(L, table_idx, "tmr"); }

void timed_free_push(lua_State *L, ebb_timed *d) {
  ebb_timer_stop(&d->timer);
  ebb_node_unlink(&d->all_link);
  lua_rawgeti(L, LUA_REGISTRYINDEX, d->table_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, d->table_ref);
  lua_pushliteral(L, "tmr");
  lua_pushboolean(L, 0);
  lua_rawset(L, -3);
  *(ebb_timed **)d = free_timeds;
  free_timeds = d;
}

/* The task's own signal, read from its table each time (only cancellation
 * asks, and only while some task is cancelled): the table anchors it. */
ebb_signal *record_signal(lua_State *L, ebb_task *t) {
  ebb_signal *s;
  record_push_table(L, t);
  lua_pushliteral(L, "signal"); /* raw: the task's __index would make one */
  lua_rawget(L, -2);
  s = ebb_to_signal(L, -1);
  lua_pop(L, 2);
  return s;
}

struct ebb_wait_more *wait_more_new(ebb_task *t) {
  struct ebb_wait_more *m;
  if ((m = free_mores) != NULL) free_mores = *(struct ebb_wait_more **)m;
  else if (!(m = malloc(sizeof *m))) abort(); /* as the clock's heap: no Lua state to raise in */
  memset(m, 0, sizeof *m);
  m->task = t;
  return t->wait.more = m;
}

ebb_want *ebb_wait_want_made(ebb_wait *w) { return &wait_more(wait_task(w))->want; }

static void push_current_table(lua_State *L) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, sched.cur_ref);
  lua_rawgeti(L, -1, 1);
  lua_remove(L, -2);
}

/* cur[1] = the task: on the holder thread, whose first slot is cur, and
 * whose stack nothing else touches (one registry read, not two, a resume). */
static void set_current_table(ebb_task *t) {
  lua_State *h = sched.holder;
  if (t) record_push_table(h, t);
  else lua_pushnil(h);
  lua_rawseti(h, 1, 1);
  sched.current = t;
}

static int owner_field(lua_State *L, int idx) {
  int owner;
  lua_pushliteral(L, "owner");
  lua_rawget(L, idx < 0 ? idx - 1 : idx);
  owner = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return owner;
}

int ebb_current_owner(lua_State *L) {
  int owner;
  lua_rawgeti(L, LUA_REGISTRYINDEX, sched.cur_ref);
  lua_rawgeti(L, -1, 1);
  owner = owner_field(L, lua_istable(L, -1) ? -1 : -2); /* no task: the owner lent */
  lua_pop(L, 2);
  return owner;
}

int ebb_lend_owner(lua_State *L, int owner) {
  int was;
  lua_rawgeti(L, LUA_REGISTRYINDEX, sched.cur_ref);
  was = owner_field(L, -1);
  lua_pushliteral(L, "owner");
  if (owner) lua_pushinteger(L, owner);
  else lua_pushnil(L);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  return was;
}

ebb_task *sched_current_record(lua_State *L) {
  ebb_task *t = sched.current; /* known while C resumed it */
  if (!t) {
    push_current_table(L);
    if (!lua_istable(L, -1)) {
      lua_pop(L, 1);
      return NULL;
    }
    t = record_of(L, -1);
    if (!t) t = record_new(L, -1);
    lua_pop(L, 1);
  }
  if (!t->co) { /* from now on it waits on the coroutine it runs on */
    t->co = sched.running_co;
    t->co_ref = sched.running_ref;
  }
  sched.current = t; /* until the runner goes on to another task (release) */
  return t;
}

ebb_task *ebb_current(void) { return sched.running_co ? sched_current_record(sched.L) : NULL; }

/* ---- running ---- */

/* An ebb error (a table with a traceback string) took its own traceback. */
/* Whether the error at idx carries a traceback with a frame in it: one made
 * where no script ran (a timeout's reason, by its timer) has none, and the
 * place it was raised is taken instead. */
static int carries_traceback(lua_State *L, int idx) {
  int yes;
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  lua_pushliteral(L, "traceback");
  lua_rawget(L, idx < 0 ? idx - 1 : idx);
  yes = lua_type(L, -1) == LUA_TSTRING && strchr(lua_tostring(L, -1), '\n') != NULL;
  lua_pop(L, 1);
  return yes;
}

/* The running task's record, if it has one (none is made). */
ebb_task *sched_current_record_if_any(lua_State *L) {
  ebb_task *t = sched.current;
  if (!t) {
    push_current_table(L);
    t = lua_istable(L, -1) ? record_of(L, -1) : NULL;
    lua_pop(L, 1);
  }
  return t;
}

/* After a resume: a runner with nothing left goes back to the pool; a task
 * that waits keeps the coroutine in its record; a task that failed ends.
 * Returns 1 when the task goes on at once on *co (a hand-over, or back). */
static int after_resume(lua_State **co_at, int *ref_at, int *nargs, int status) {
  lua_State *L = sched.L, *co = *co_at;
  int ref = *ref_at;
  if (status == LUA_YIELD) {
    void *key;
    ebb_task *t;
    if (sched.waited == co) { /* a wait of the host's own: its stack is empty */
      sched.waited = NULL;
      key = &sched_wait_key;
      if (sched.sleeps) {
        push_current_table(L);
        sleeper_start(L, co, ref, -1);
        lua_pop(L, 1);
        return 0;
      }
    } else {
      int n = lua_gettop(co);
      key = n >= 1 && lua_islightuserdata(co, 1) ? lua_touserdata(co, 1) : NULL;
      if (key == &sched_idle_key) {
        pool_give(co, ref);
        return 0;
      }
      if (key == &sched_chunk_key && sched_hand_over(co_at, ref_at, nargs)) return 1;
      lua_settop(co, 0);
    }
    t = sched_current_record(L);
    if (!t) { /* cannot happen: a yield outside any task */
      pool_give(co, ref);
      return 0;
    }
    if (key != &sched_wait_key || t->yielding) { /* task.yield(), or a bare coroutine.yield() */
      t->yielding = 0;
      t->wait_state = W_WOKEN;
      t->wait_result = EBB_WOKE;
      if (t->wait.more) t->wait.more->want.on_cancel = NULL;
      lua_pushboolean(co, 1);
      t->nresume = 1;
      ebb_list_push(&sched.yielded, &t->wait.link); /* after everything runnable now */
      sched.nready++;
    } else {
      wait_arm(t); /* the wait ebb_wait_with asked for has really yielded */
    }
    return 0;
  }
  if (sched_hand_back(co_at, ref_at, nargs, status)) return 1;
  /* the running task raised: the error ends it, and its coroutine is spent */
  ebb_push_hook(L, EBB_HOOK_TASK_FAILED);
  push_current_table(L);
  if (status == 0) lua_pushliteral(L, "a task's coroutine returned");
  else lua_xmove(co, L, 1);
  if (carries_traceback(L, -1)) lua_pushnil(L);
  else luaL_traceback(L, co, NULL, 0);
  lua_call(L, 3, 0); /* runs protected by the loop's caller: an error here is fatal, not lost */
  luaL_unref(L, LUA_REGISTRYINDEX, ref);
  return 0;
}

static void resume(lua_State *co, int ref, int nargs) {
  lua_State *saved = sched.running_co;
  int saved_ref = sched.running_ref;
  do {
    sched.running_co = co;
    sched.running_ref = ref;
    sched.waited = NULL;
    sched.arm_list = NULL; /* what the task resumed asks for, if it waits */
    sched.arm_timed = 0;
    sched.sleeps = 0;
    /* after_resume: sched.current is still the task that yielded */
  } while (after_resume(&co, &ref, &nargs, lua_resume(co, nargs)));
  sched.running_co = saved; /* cur[1] stays until the batch ends (run_batch) */
  sched.running_ref = saved_ref;
}

static void run_record(ebb_task *t) {
  lua_State *co = t->co;
  int ref = t->co_ref, n = t->nresume;
  t->co = NULL; /* running: the coroutine is the scheduler's again */
  t->co_ref = LUA_NOREF;
  t->nresume = 0;
  t->wait_state = W_IDLE;
  wait_detach(&t->wait); /* the explicit signal, watched until now */
  set_current_table(t);
  resume(co, ref, n);
}

static double hr_ms(void) { return (double)uv_hrtime() / 1e6; }

/* Tasks that keep waking each other would make one endless batch: the clock
 * is read every TURN_CHECK woken tasks (and between chunks of new ones), and
 * once the loop has gone TURN_MS without its turn (timers, I/O, signals) the
 * batch stops; the rest run after it. */
#define TURN_MS 1.0
#define TURN_CHECK 32

static int sched_turn_over(void) { return hr_ms() - sched.polled_at >= TURN_MS; }

/* How many new tasks ebb.task's ring holds beyond what has been taken, up to
 * its end (key_tail), the batch's share (key_batch_end) or the chunk the
 * runners are in (key_stop). */
static int ring_pending(int end_key) {
  lua_State *L = sched.L;
  int head, end;
  lua_rawgeti(L, LUA_REGISTRYINDEX, sched.ring_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, sched.key_head); /* keys made once: no interning here */
  lua_rawget(L, -2);
  lua_rawgeti(L, LUA_REGISTRYINDEX, end_key);
  lua_rawget(L, -3);
  head = (int)lua_tointeger(L, -2);
  end = (int)lua_tointeger(L, -1);
  lua_pop(L, 3);
  return end - head;
}

/* New tasks run on runner coroutines, one after another, until the batch's
 * share of the ring is done; each one that waits keeps its runner. The share
 * is taken in chunks (ebb.task's RING_CHUNK tasks), and between two the
 * batch stops if the loop has waited long enough for its turn: the check
 * costs nothing per task. What a runner is told, and how far the ring then
 * holds work for it: */
enum ring_start {
  GO_ON,      /* false: go on with the chunk (up to stop) */
  NEW_BATCH,  /* true: the batch's share is what the ring holds now (up to tail) */
  NEXT_CHUNK, /* "more": the next chunk of the batch's share (up to batch_end) */
};

/* What the runner reads in the ring's field `first` (not an argument of the
 * resume: the runner's frame stays small, see ebb.task's runner). */
static void ring_set_first(enum ring_start start) {
  lua_State *L = sched.L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, sched.ring_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, sched.key_first);
  if (start == NEXT_CHUNK) lua_pushliteral(L, "more");
  else lua_pushboolean(L, start == NEW_BATCH);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

static void run_ring(void) {
  enum ring_start start = NEW_BATCH;
  int end_key[] = {[GO_ON] = sched.key_stop, [NEW_BATCH] = sched.key_tail, [NEXT_CHUNK] = sched.key_batch_end};
  while (ring_pending(end_key[start]) > 0) {
    int ref;
    lua_State *co = pool_take(sched.L, &ref);
    sched.current = NULL; /* the runner sets cur[1] for each task it starts */
    ring_set_first(start);
    resume(co, ref, 0);
    start = GO_ON;
    if (ring_pending(sched.key_stop) <= 0) { /* the chunk is done */
      if (sched_turn_over()) break;
      start = NEXT_CHUNK;
    }
  }
}

/* A batch: the new tasks first, then every task woken, including those
 * woken during the batch (as promise reactions run in Node); tasks that
 * yielded run in the next batch, after I/O had its chance. */
static void run_batch(void) {
  ebb_node *node;
  unsigned n = 0;
  run_ring();
  while ((node = ebb_list_shift(&sched.ready)) != NULL) {
    ebb_task *t = ebb_container(node, ebb_task, wait.link);
    sched.nready--;
    if (t->table_ref < 0) { /* a woken sleeper (sleep.c), whose fields begin as a record's */
      int ref;
      lua_State *co = sleeper_take_woken(node, &ref);
      resume(co, ref, 1);
    } else {
      run_record(t);
    }
    if (++n % TURN_CHECK == 0 && sched_turn_over()) break;
  }
  while ((node = ebb_list_shift(&sched.yielded)) != NULL) ebb_list_push(&sched.ready, node);
  set_current_table(NULL); /* once, not after every resume: what runs next runs in no task */
}

static void report_unhandled(void) {
  lua_State *L = sched.L;
  sched.unhandled = 0;
  ebb_push_hook(L, EBB_HOOK_FLUSH_UNHANDLED);
  lua_call(L, 0, 0);
}

/* ---- the loop ---- */

/* Requests under way (file operations, connects, writes, lookups): their
 * answers come soon, so virtual time waits for them. Open handles that wait
 * for the outside world (a listener, a read, a child) do not hold it back. */
static int requests_pending(uv_loop_t *loop) { return loop->active_reqs.count > 0; }

/* clock.auto: with nothing ready and no request under way, the events that
 * have already arrived are taken first, then the clock jumps to the next timer. */
static int auto_jump(uv_loop_t *loop) {
  if (ebb_clock_mode() != EBB_CLOCK_AUTO || !clock_timer_count() || requests_pending(loop)) return 0;
  uv_run(loop, UV_RUN_NOWAIT);
  if (sched.nready || ring_pending(sched.key_tail) > 0 || requests_pending(loop)) return 1;
  return ebb_clock_fire_next(INFINITY);
}

void sched_run(lua_State *L) {
  uv_loop_t *loop = ebb_loop();
  (void)L;
  while (!sched.stopping) {
    run_batch();
    if (sched.unhandled) report_unhandled();
    clock_fire_due();
    interrupt_poll();
    if (sched.nready || ring_pending(sched.key_tail) > 0) {
      /* busy: poll for I/O once a turn has passed, not every batch */
      if (sched_turn_over()) {
        sched.polled_at = hr_ms();
        uv_run(loop, UV_RUN_NOWAIT);
      }
      continue;
    }
    if (!ebb_list_empty(&sched.idle)) {
      wake_list(&sched.idle);
      continue;
    }
    if (auto_jump(loop)) continue;
    clock_arm();
    if (!uv_loop_alive(loop)) break;
    interrupt_set_polling(1);
    uv_run(loop, UV_RUN_ONCE);
    interrupt_set_polling(0);
    sched.polled_at = hr_ms();
  }
}

void sched_init(lua_State *L) {
  sched.L = L;
  ebb_list_init(&sched.ready);
  ebb_list_init(&sched.yielded);
  ebb_list_init(&sched.idle);
  ebb_list_init(&sched.timeds);
  sched.runner_ref = sched.ring_ref = LUA_NOREF;
  sched.holder = lua_newthread(L);
  sched.holder_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_newtable(sched.holder);
  lua_pushvalue(sched.holder, 1);
  sched.cur_ref = luaL_ref(sched.holder, LUA_REGISTRYINDEX);
  lua_pushliteral(L, "head");
  sched.key_head = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushliteral(L, "tail");
  sched.key_tail = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushliteral(L, "stop");
  sched.key_stop = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushliteral(L, "batch_end");
  sched.key_batch_end = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushliteral(L, "first");
  sched.key_first = luaL_ref(L, LUA_REGISTRYINDEX);
}

void sched_stop(void) { sched.stopping = 1; }

void sched_set_runner(lua_State *L) { sched.runner_ref = luaL_ref(L, LUA_REGISTRYINDEX); }

static int record_in_use(void *item) { return ((ebb_task *)item)->table_ref > 0; }

static void record_close(void *item) {
  ebb_task *t = item;
  wait_detach(&t->wait);
  free(t->wait.more);
}

void sched_close(lua_State *L) {
  int i;
  for (i = 0; i < sched.npool; i++) luaL_unref(L, LUA_REGISTRYINDEX, sched.pool_ref[i]);
  sched.npool = 0;
  slab_close(&records, record_in_use, record_close); /* tasks still waiting at exit */
  sleepers_close();
  while (free_mores) {
    struct ebb_wait_more *next = *(struct ebb_wait_more **)free_mores;
    free(free_mores);
    free_mores = next;
  }
  handovers_close();
  while (!ebb_list_empty(&sched.timeds)) {
    ebb_timed *d = ebb_container(ebb_list_shift(&sched.timeds), ebb_timed, all_link);
    ebb_timer_stop(&d->timer);
    free(d);
  }
  while (free_timeds) {
    ebb_timed *next = *(ebb_timed **)free_timeds;
    free(free_timeds);
    free_timeds = next;
  }
}
