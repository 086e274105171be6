/* Abort signals with DOM semantics: listeners, abort.any dependents and
 * abort.timeout. A signal keeps itself alive only while it could still call
 * a Lua listener, so a long-lived source holds no growing state. Their Lua
 * face (methods, ebb.abort.core) is bindings/abort.c. */
#include <stdlib.h>
#include <string.h>
#include "host.h"

#define SIGNAL_MT "ebb.abort.signal" /* not ebb.signal: that module is OS signals */

enum { SIG_PLAIN, SIG_TIMEOUT, SIG_ANY };

typedef struct dep_link {
  ebb_node in_source; /* in source->dependents, in creation order */
  ebb_signal *source;
  ebb_signal *dependent;
} dep_link;

struct ebb_signal {
  int aborted;
  int kind;
  int reason_ref;
  int self_ref;        /* anchor in the registry while a Lua listener may still run */
  int nlua;            /* Lua listeners linked */
  int ndependents;
  ebb_node listeners;
  ebb_node dependents;
  ebb_signal *abort_next;
  ebb_timer timer;     /* SIG_TIMEOUT */
  int nlinks;
  dep_link links[];    /* SIG_ANY: one per source */
};

typedef struct lua_listener {
  ebb_listener l;
  ebb_signal *signal;
  int fn_ref;
  int self_ref;
  int owner; /* of the task that added it: what it makes when the loop fires it is that owner's */
} lua_listener;

int ebb_signal_aborted(const ebb_signal *s) { return s->aborted; }

void ebb_signal_push_reason(lua_State *L, const ebb_signal *s) {
  if (s->aborted) lua_rawgeti(L, LUA_REGISTRYINDEX, s->reason_ref);
  else lua_pushnil(L);
}

static int has_live_source(const ebb_signal *s) {
  int i;
  for (i = 0; i < s->nlinks; i++)
    if (ebb_node_linked(&s->links[i].in_source)) return 1;
  return 0;
}

static int wants_anchor(const ebb_signal *s) {
  if (s->aborted) return 0;
  switch (s->kind) {
  case SIG_TIMEOUT: return ebb_timer_armed(&s->timer) && (s->nlua > 0 || s->ndependents > 0);
  case SIG_ANY: return s->nlua > 0 && has_live_source(s);
  default: return 0;
  }
}

/* idx: the signal's userdata on L's stack, needed only to anchor it. */
static void update_anchor(lua_State *L, ebb_signal *s, int idx) {
  int want = wants_anchor(s);
  if (want && s->self_ref == LUA_NOREF && idx) {
    lua_pushvalue(L, idx);
    s->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  } else if (!want && s->self_ref != LUA_NOREF) {
    luaL_unref(L, LUA_REGISTRYINDEX, s->self_ref);
    s->self_ref = LUA_NOREF;
  }
}

/* A timeout keeps the process alive only while something listens to it or
 * depends on it; otherwise its timer is weak, as Node unrefs these. */
static void timeout_strength(ebb_signal *s) {
  if (s->kind == SIG_TIMEOUT)
    ebb_timer_set_weak(&s->timer, ebb_list_empty(&s->listeners) && s->ndependents == 0);
}

static void unlink_sources(lua_State *L, ebb_signal *s) {
  int i;
  for (i = 0; i < s->nlinks; i++) {
    dep_link *k = &s->links[i];
    if (!ebb_node_linked(&k->in_source)) continue;
    ebb_node_unlink(&k->in_source);
    k->source->ndependents--;
    timeout_strength(k->source);
    update_anchor(L, k->source, 0);
  }
}

void ebb_signal_listen(ebb_signal *s, ebb_listener *l) {
  ebb_list_push(&s->listeners, &l->link);
  timeout_strength(s);
}

void ebb_signal_unlisten(ebb_signal *s, ebb_listener *l) {
  ebb_node_unlink(&l->link);
  timeout_strength(s);
}

static EBB_THREAD_LOCAL lua_State *listener_L; /* the state Lua listeners run on during an abort */

static void run_listeners(ebb_signal *s) {
  ebb_node *n;
  while ((n = ebb_list_shift(&s->listeners)) != NULL) {
    ebb_listener *l = ebb_container(n, ebb_listener, link);
    l->fn(l, s);
  }
}

void ebb_signal_abort(lua_State *L, ebb_signal *s) {
  ebb_signal *deps = NULL, **tail = &deps, *d;
  lua_State *saved = listener_L;
  ebb_node *n;
  if (s->aborted) {
    lua_pop(L, 1);
    return;
  }
  lua_pushvalue(L, -1);
  s->reason_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  s->aborted = 1;
  if (s->kind == SIG_TIMEOUT) ebb_timer_stop(&s->timer);
  /* DOM: every dependent is marked aborted before any listener runs. A
   * dependent with listeners is kept alive by them (an anchor or a waiting
   * task), so only those are remembered for the second pass. */
  while ((n = ebb_list_shift(&s->dependents)) != NULL) {
    d = ebb_container(n, dep_link, in_source)->dependent;
    s->ndependents--;
    if (d->aborted) continue;
    lua_pushvalue(L, -1);
    d->reason_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    d->aborted = 1;
    unlink_sources(L, d);
    if (!ebb_list_empty(&d->listeners)) {
      d->abort_next = NULL;
      *tail = d;
      tail = &d->abort_next;
    }
  }
  lua_pop(L, 1);
  listener_L = L;
  run_listeners(s);
  for (d = deps; d; d = d->abort_next) run_listeners(d);
  listener_L = saved;
  for (d = deps; d; d = d->abort_next) update_anchor(L, d, 0);
  update_anchor(L, s, 0);
}

/* ---- Lua listeners ---- */

static void lua_listener_release(lua_State *L, lua_listener *ll) {
  if (ll->signal) ll->signal->nlua--;
  ll->signal = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, ll->fn_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, ll->self_ref);
  ll->fn_ref = ll->self_ref = LUA_NOREF;
}

static void lua_listener_fire(ebb_listener *l, ebb_signal *s) {
  lua_listener *ll = (lua_listener *)l;
  lua_State *L = listener_L ? listener_L : ebb_main_state();
  int status, handler, owner = ll->owner, lent = 0; /* ll may be collected once released */
  /* the handler notes where a plain error was raised, for its report */
  ebb_push_hook(L, EBB_HOOK_TRACED);
  handler = lua_isfunction(L, -1) ? lua_gettop(L) : 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ll->fn_ref);
  ebb_signal_push_reason(L, s);
  lua_listener_release(L, ll);
  if (owner) lent = ebb_lend_owner(L, owner);
  ebb_no_wait_depth++;
  status = lua_pcall(L, 1, 0, handler);
  ebb_no_wait_depth--;
  if (owner) ebb_lend_owner(L, lent);
  if (status != 0) {
    ebb_push_hook(L, EBB_HOOK_REPORT_LISTENER_ERROR);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 0, 0) != 0) lua_pop(L, 1);
  }
  lua_pop(L, 1); /* the handler */
}

static int listener_off(lua_State *L) {
  lua_listener *ll = lua_touserdata(L, lua_upvalueindex(1));
  ebb_signal *s = ll->signal;
  if (!s || !ebb_node_linked(&ll->l.link)) return 0;
  ebb_node_unlink(&ll->l.link);
  lua_listener_release(L, ll);
  timeout_strength(s);
  update_anchor(L, s, 0);
  return 0;
}

static int noop(lua_State *L) {
  (void)L;
  return 0;
}

void ebb_signal_on_abort(lua_State *L, int signal_idx, int fn_idx) {
  ebb_signal *s = ebb_check_signal(L, signal_idx);
  lua_listener *ll;
  if (s->aborted) {
    lua_pushcfunction(L, noop);
    return;
  }
  ll = lua_newuserdata(L, sizeof *ll);
  memset(ll, 0, sizeof *ll);
  ll->signal = s;
  ll->owner = ebb_current_owner(L);
  lua_pushvalue(L, fn_idx);
  ll->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  ll->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  ll->l.fn = lua_listener_fire;
  ebb_signal_listen(s, &ll->l);
  s->nlua++;
  update_anchor(L, s, signal_idx);
  lua_pushcclosure(L, listener_off, 1);
}

/* ---- the userdata ---- */

static ebb_signal *signal_alloc(lua_State *L, int kind, int nlinks) {
  size_t size = sizeof(ebb_signal) + (size_t)nlinks * sizeof(dep_link);
  ebb_signal *s = lua_newuserdata(L, size);
  memset(s, 0, size);
  s->kind = kind;
  s->reason_ref = s->self_ref = LUA_NOREF;
  ebb_list_init(&s->listeners);
  ebb_list_init(&s->dependents);
  ebb_timer_init(&s->timer, NULL);
  s->nlinks = nlinks;
  luaL_getmetatable(L, SIGNAL_MT);
  lua_setmetatable(L, -2);
  return s;
}

ebb_signal *ebb_signal_new(lua_State *L) { return signal_alloc(L, SIG_PLAIN, 0); }

ebb_signal *ebb_check_signal(lua_State *L, int idx) {
  return ebb_check_udata(L, idx, SIGNAL_MT, "abort signal");
}

ebb_signal *ebb_opt_signal(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return NULL;
  return ebb_check_signal(L, idx);
}

static int signal_gc(lua_State *L) {
  ebb_signal *s = ebb_check_signal(L, 1);
  ebb_node *n;
  /* dependents lose this source; one left with none can never abort */
  while ((n = ebb_list_shift(&s->dependents)) != NULL)
    update_anchor(L, ebb_container(n, dep_link, in_source)->dependent, 0);
  s->ndependents = 0;
  unlink_sources(L, s);
  ebb_timer_stop(&s->timer);
  while ((n = ebb_list_shift(&s->listeners)) != NULL) {
    ebb_listener *l = ebb_container(n, ebb_listener, link);
    if (l->fn == lua_listener_fire) lua_listener_release(L, (lua_listener *)l);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, s->reason_ref);
  s->reason_ref = LUA_NOREF;
  return 0;
}

/* ---- abort.timeout and abort.any ---- */

static void timeout_fire(ebb_timer *t) {
  ebb_signal *s = ebb_container(t, ebb_signal, timer);
  lua_State *L = ebb_main_state();
  ebb_push_hook(L, EBB_HOOK_TIMEOUT_ERROR);
  if (lua_pcall(L, 0, 1, 0) != 0) { /* fall back to the message alone */
    lua_pop(L, 1);
    lua_pushliteral(L, "TimeoutError: The operation timed out");
  }
  ebb_signal_abort(L, s);
}

ebb_signal *ebb_signal_timeout(lua_State *L, double ms) {
  ebb_signal *s = signal_alloc(L, SIG_TIMEOUT, 0);
  ebb_timer_set_fire(&s->timer, timeout_fire);
  ebb_timer_set_weak(&s->timer, 1); /* nothing listens yet */
  ebb_timer_start(&s->timer, ms);
  return s;
}

static int add_source(ebb_signal **srcs, int n, ebb_signal *s) {
  int i;
  for (i = 0; i < n; i++)
    if (srcs[i] == s) return n;
  srcs[n] = s;
  return n + 1;
}

/* Sources are flattened, as in DOM, so dependents never chain. */
ebb_signal *ebb_signal_any(lua_State *L, int list_idx) {
  int len, i, j, n = 0, cap = 0;
  ebb_signal **srcs, *d, *few[16];
  if (list_idx < 0) list_idx = lua_gettop(L) + list_idx + 1;
  len = (int)lua_objlen(L, list_idx);
  for (i = 1; i <= len; i++) {
    ebb_signal *s;
    lua_rawgeti(L, list_idx, i);
    s = lua_touserdata(L, -1);
    if (s->aborted) {
      lua_pop(L, 1);
      d = signal_alloc(L, SIG_PLAIN, 0);
      ebb_signal_push_reason(L, s);
      ebb_signal_abort(L, d);
      return d;
    }
    cap += s->kind == SIG_ANY ? s->nlinks : 1;
    lua_pop(L, 1);
  }
  srcs = cap <= 16 ? few : lua_newuserdata(L, (size_t)cap * sizeof *srcs);
  for (i = 1; i <= len; i++) {
    ebb_signal *s;
    lua_rawgeti(L, list_idx, i);
    s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (s->kind != SIG_ANY) {
      n = add_source(srcs, n, s);
      continue;
    }
    for (j = 0; j < s->nlinks; j++)
      if (ebb_node_linked(&s->links[j].in_source)) n = add_source(srcs, n, s->links[j].source);
  }
  d = signal_alloc(L, SIG_ANY, n);
  for (i = 0; i < n; i++) {
    d->links[i].source = srcs[i];
    d->links[i].dependent = d;
    ebb_list_push(&srcs[i]->dependents, &d->links[i].in_source);
    srcs[i]->ndependents++;
    timeout_strength(srcs[i]);
  }
  for (i = 0; i < n; i++) {
    /* a timeout source must now outlive its timer: anchor it while on the stack */
    if (srcs[i]->kind == SIG_TIMEOUT && srcs[i]->self_ref == LUA_NOREF) {
      int k;
      for (k = 1; k <= len; k++) {
        lua_rawgeti(L, list_idx, k);
        if (lua_touserdata(L, -1) == srcs[i]) update_anchor(L, srcs[i], lua_gettop(L));
        lua_pop(L, 1);
      }
    }
  }
  return d;
}

/* Async-signal-safe: it only reads (interrupt.c asks from its handler). */
int ebb_signal_watched(const ebb_signal *s) {
  return !ebb_list_empty(&s->listeners) || s->ndependents > 0;
}

int ebb_signal_abortable(const ebb_signal *s) { return s->kind == SIG_PLAIN; }

int ebb_signal_listener_count(const ebb_signal *s) {
  const ebb_node *n;
  int count = 0;
  for (n = s->listeners.next; n != &s->listeners; n = n->next) count++;
  return count;
}

int ebb_signal_dependent_count(const ebb_signal *s) { return s->ndependents; }


/* The signals' metatable; bindings/abort.c adds their Lua face to it. */
void signal_init(lua_State *L) {
  luaL_newmetatable(L, SIGNAL_MT);
  lua_pushcfunction(L, signal_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushliteral(L, "AbortSignal");
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}

void ebb_push_signal_metatable(lua_State *L) { luaL_getmetatable(L, SIGNAL_MT); }

ebb_signal *ebb_to_signal(lua_State *L, int idx) { return luaL_testudata_compat(L, idx, SIGNAL_MT); }
