/* fs.watch's C half: a libuv fs_event handle whose changes wait in a bounded
 * ring until a task takes them. A change that does not fit is counted, and
 * the count is told after the ones that fitted: none is lost unsaid. */
#include <stdlib.h>
#include <string.h>
#include "fs.h"
#include "uvbox.h"

#define WATCHER_MT "ebb.watcher"

typedef struct change {
  char *name; /* NULL when the system did not say */
  int rename; /* else a change of contents or attributes */
} change;

typedef struct watcher {
  uv_fs_event_t h;
  uvbox life;
  ebb_waitlist waiters;
  change *ring;
  size_t cap, head, count;
  double dropped; /* changes that did not fit, not yet told */
  int err;        /* a failure the system reported, not yet told */
} watcher;

static watcher *of(uvbox *b) { return ebb_container(b, watcher, life); }

static void drop_changes(watcher *w) {
  for (; w->count > 0; w->count--) {
    free(w->ring[w->head].name);
    w->head = (w->head + 1) % w->cap;
  }
}

/* As the handle closes: a task waiting for a change sees the end. */
static void closing(uvbox *b) {
  watcher *w = of(b);
  drop_changes(w);
  ebb_wake_all(&w->waiters);
}

static void forgotten(uvbox *b) { uvbox_close(b); }

static void free_watcher(uvbox *b) {
  watcher *w = of(b);
  free(w->ring);
  free(w);
}

static const uvbox_kind watcher_kind = {WATCHER_MT, "watcher", closing, NULL, forgotten, free_watcher};

/* The change is the one before it, still unread: it tells nothing more. */
static int repeats_last(const watcher *w, const char *name, int rename) {
  const change *c;
  if (w->count == 0 || w->dropped > 0) return 0;
  c = &w->ring[(w->head + w->count - 1) % w->cap];
  if (c->rename != rename) return 0;
  return c->name && name ? strcmp(c->name, name) == 0 : c->name == name;
}

static void on_change(uv_fs_event_t *h, const char *name, int events, int status) {
  watcher *w = ebb_container(h, watcher, h);
  int rename = (events & UV_RENAME) != 0; /* both: a rename, as Node says */
  if (status < 0) {
    if (!w->err) w->err = status;
  } else if (repeats_last(w, name, rename)) {
    return;
  } else if (w->count == w->cap) {
    w->dropped++;
  } else {
    change *c = &w->ring[(w->head + w->count) % w->cap];
    c->name = name ? strdup(name) : NULL;
    if (name && !c->name) {
      w->dropped++; /* out of memory: counted as not kept */
      return;
    }
    c->rename = rename;
    w->count++;
  }
  ebb_wake_all(&w->waiters);
}

/* watch(path, max_buffered) -> true, watcher | nil, code, msg */
int fs_watch(lua_State *L) {
  const char *path = ebb_check_cstring(L, 1, "path");
  size_t cap = (size_t)ebb_check_whole(L, 2, "max_buffered", 1, 1 << 20);
  watcher *w;
  int r;
  lua_pushboolean(L, 1);
  uvbox_reserve(L, &watcher_kind);
  if (!(w = calloc(1, sizeof *w)) || !(w->ring = calloc(cap, sizeof *w->ring))) {
    free(w);
    return luaL_error(L, "out of memory");
  }
  w->cap = cap;
  ebb_waitlist_init(&w->waiters);
  uv_fs_event_init(ebb_loop(), &w->h);
  if ((r = uv_fs_event_start(&w->h, on_change, path, 0)) != 0) {
    uvbox_init_unboxed(&w->life, &watcher_kind, (uv_handle_t *)&w->h);
    uvbox_close(&w->life);
    return ebb_push_uv_error(L, r);
  }
  uvbox_fill(L, &w->life, &watcher_kind, (uv_handle_t *)&w->h);
  uvbox_opened(&w->life, ebb_current_owner(L));
  return 2;
}

/* watch_next(watcher, signal) -> true, "rename" | "change", name | true,
 * "overflow", count | true, false (closed) | true (woken: ask again) |
 * false, reason | nil, code, msg */
int fs_watch_next(lua_State *L) {
  watcher *w = of(uvbox_check(L, 1, &watcher_kind));
  int r = ebb_check_abort(L, 2);
  if (r) return r;
  lua_pushboolean(L, 1);
  if (w->count > 0) {
    change *c = &w->ring[w->head];
    lua_pushstring(L, c->rename ? "rename" : "change");
    lua_pushstring(L, c->name); /* nil when NULL */
    free(c->name);
    w->head = (w->head + 1) % w->cap;
    w->count--;
    return 3;
  }
  if (w->dropped > 0) {
    lua_pushliteral(L, "overflow");
    lua_pushnumber(L, w->dropped);
    w->dropped = 0;
    return 3;
  }
  if (w->err) {
    r = w->err;
    w->err = 0;
    return ebb_push_uv_error(L, r);
  }
  if (w->life.closed) {
    lua_pushboolean(L, 0);
    return 2;
  }
  lua_pop(L, 1);
  return ebb_wait_on(L, &w->waiters, -1, 2);
}

int fs_watch_close(lua_State *L) {
  uvbox_close(uvbox_check(L, 1, &watcher_kind));
  return 0;
}

static int watcher_gc(lua_State *L) { return uvbox_gc(L, &watcher_kind); }

void fs_watch_init(lua_State *L) { ebb_new_metatable(L, WATCHER_MT, watcher_gc, NULL); }
