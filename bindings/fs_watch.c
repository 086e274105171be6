/* fs.watch's C half: a libuv fs_event handle (and, for a recursive watch, one
 * more per directory below it) whose changes wait in a bounded ring until a
 * task takes them. A change that does not fit is counted, and the count is
 * told after the ones that fitted: none is lost unsaid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fs.h"
#include "uvbox.h"

#define WATCHER_MT "ebb.watcher"

typedef struct change {
  char *name; /* NULL when the system did not say */
  int rename; /* else a change of contents or attributes */
} change;

struct watcher;

/* The handle of a directory below the watched one; its changes' names start
 * with the directory's path under the watched one. */
typedef struct subwatch {
  uv_fs_event_t h;
  struct watcher *w;
  ebb_handle track;
  size_t slot; /* in w->subs */
  int closed;
  const char *path; /* the directory's path, after the prefix in names */
  char names[];     /* the prefix ("a/b/"), then the path */
} subwatch;

typedef struct watcher {
  uv_fs_event_t h;
  uvbox life;
  ebb_waitlist waiters;
  change *ring;
  size_t cap, head, count;
  double dropped; /* changes that did not fit, not yet told */
  int err;        /* a failure the system reported, not yet told */
  subwatch **subs;
  size_t nsubs, subs_open;
  int free_pending; /* its box and handle are gone: freed once the subs close */
} watcher;

static watcher *of(uvbox *b) { return ebb_container(b, watcher, life); }

static void free_now(watcher *w) {
  free(w->subs);
  free(w->ring);
  free(w);
}

static void on_sub_closed(uv_handle_t *h) {
  subwatch *s = (subwatch *)h;
  watcher *w = s->w;
  w->subs[s->slot] = NULL;
  free(s);
  if (--w->subs_open == 0 && w->free_pending) free_now(w);
}

static void close_sub(subwatch *s) {
  if (s->closed) return;
  s->closed = 1;
  ebb_handle_untrack(&s->track);
  uv_close((uv_handle_t *)&s->h, on_sub_closed);
}

static void close_sub_tracked(ebb_handle *h) { close_sub(ebb_container(h, subwatch, track)); }

static void drop_changes(watcher *w) {
  for (; w->count > 0; w->count--) {
    free(w->ring[w->head].name);
    w->head = (w->head + 1) % w->cap;
  }
}

/* As the handle closes: the subs close too, and a task waiting for a change
 * sees the end. */
static void closing(uvbox *b) {
  watcher *w = of(b);
  size_t i;
  for (i = 0; i < w->nsubs; i++)
    if (w->subs[i]) close_sub(w->subs[i]);
  drop_changes(w);
  ebb_wake_all(&w->waiters);
}

static void forgotten(uvbox *b) { uvbox_close(b); }

static void free_watcher(uvbox *b) {
  watcher *w = of(b);
  if (w->subs_open > 0) w->free_pending = 1; /* the last sub's close frees it */
  else free_now(w);
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

/* A change in the watcher's ring; name: NULL, or one malloc made, which the
 * ring takes (or frees). */
static void add_change(watcher *w, char *name, int events, int status);

static void on_change(uv_fs_event_t *h, const char *name, int events, int status) {
  char *copy = name ? strdup(name) : NULL;
  if (name && !copy) status = UV_ENOMEM;
  add_change(ebb_container(h, watcher, h), copy, events, status);
}

/* Closes the subs of the directory named prefix and of those below it. */
static void close_below(watcher *w, const char *prefix) {
  size_t i, len = strlen(prefix);
  for (i = 0; i < w->nsubs; i++)
    if (w->subs[i] && strncmp(w->subs[i]->names, prefix, len) == 0) close_sub(w->subs[i]);
}

/* A change the system tells of the directory itself names it by its own
 * name, as if it were an entry in it: one that is no entry in it is the
 * directory's own change, which the watch of the directory above tells. */
static int of_itself(const subwatch *s, const char *name) {
  size_t plen = strlen(s->names), nlen = strlen(name);
  uv_fs_t req;
  char *entry;
  int missing;
  if (plen < nlen + 1 || strncmp(s->names + plen - nlen - 1, name, nlen) != 0) return 0;
  if (plen > nlen + 1 && s->names[plen - nlen - 2] != '/') return 0;
  if (!(entry = malloc(strlen(s->path) + nlen + 2))) return 0;
  sprintf(entry, "%s/%s", s->path, name);
  missing = uv_fs_lstat(ebb_loop(), &req, entry, NULL) < 0;
  uv_fs_req_cleanup(&req);
  free(entry);
  return missing;
}

static void on_sub_change(uv_fs_event_t *h, const char *name, int events, int status) {
  subwatch *s = (subwatch *)h;
  char *full = NULL;
  if (status == 0 && name && of_itself(s, name)) {
    if (events & UV_RENAME) close_below(s->w, s->names); /* gone or moved: watched anew by its new name */
    return;
  }
  if (name && (full = malloc(strlen(s->names) + strlen(name) + 1)) != NULL) {
    strcpy(full, s->names);
    strcat(full, name);
  }
  if (name && !full) status = UV_ENOMEM;
  add_change(s->w, full, events, status);
}

static void add_change(watcher *w, char *name, int events, int status) {
  int rename = (events & UV_RENAME) != 0; /* both: a rename, as Node says */
  if (status < 0) {
    if (status == UV_ENOMEM) w->dropped++; /* a name not copied: counted as not kept */
    else if (!w->err) w->err = status;
  } else if (repeats_last(w, name, rename)) {
    free(name);
    return;
  } else if (w->count == w->cap) {
    w->dropped++;
  } else {
    change *c = &w->ring[(w->head + w->count) % w->cap];
    c->name = name;
    c->rename = rename;
    w->count++;
    name = NULL;
  }
  free(name);
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

static void free_handle(uv_handle_t *h) { free(h); }

/* watch_add(watcher, path, prefix) -> true | nil, code, msg: the changes in
 * the directory path, named prefix .. name, join the watcher's */
int fs_watch_add(lua_State *L) {
  watcher *w = of(uvbox_check(L, 1, &watcher_kind));
  const char *path = ebb_check_cstring(L, 2, "path");
  size_t len;
  const char *prefix = luaL_checklstring(L, 3, &len);
  subwatch *s, **subs;
  int r;
  if (w->life.closed) return ebb_push_uv_error(L, UV_EBADF);
  if (!(subs = realloc(w->subs, (w->nsubs + 1) * sizeof *subs))) return luaL_error(L, "out of memory");
  w->subs = subs;
  size_t path_len = strlen(path);
  if (!(s = calloc(1, sizeof *s + len + 1 + path_len + 1))) return luaL_error(L, "out of memory");
  memcpy(s->names, prefix, len + 1);
  memcpy(s->names + len + 1, path, path_len + 1);
  s->path = s->names + len + 1;
  s->w = w;
  uv_fs_event_init(ebb_loop(), &s->h);
  if ((r = uv_fs_event_start(&s->h, on_sub_change, path, 0)) != 0) {
    uv_close((uv_handle_t *)&s->h, free_handle);
    return ebb_push_uv_error(L, r);
  }
  s->slot = w->nsubs;
  w->subs[w->nsubs++] = s;
  w->subs_open++;
  ebb_handle_track(&s->track, (uv_handle_t *)&s->h, close_sub_tracked, ebb_current_owner(L));
  lua_pushboolean(L, 1);
  return 1;
}

int fs_watch_close(lua_State *L) {
  uvbox_close(uvbox_check(L, 1, &watcher_kind));
  return 0;
}

static int watcher_gc(lua_State *L) { return uvbox_gc(L, &watcher_kind); }

void fs_watch_init(lua_State *L) { ebb_new_metatable(L, WATCHER_MT, watcher_gc, NULL); }
