/* The life of a handle owned by a Lua userdata: see uvbox.h. */
#include "uvbox.h"

typedef struct box {
  uvbox *b; /* NULL once collected */
} box;

static void maybe_free(uvbox *b) {
  if (b->box_gone && b->handle_gone) b->kind->free(b);
}

static void on_closed(uv_handle_t *h) {
  uvbox *b = h->data;
  b->handle_gone = 1;
  maybe_free(b);
}

void uvbox_init_unboxed(uvbox *b, const uvbox_kind *kind, uv_handle_t *uv) {
  b->kind = kind;
  b->uv = uv;
  b->box_gone = 1;
}

void uvbox_reserve(lua_State *L, const uvbox_kind *kind) {
  box *x = lua_newuserdata(L, sizeof *x);
  x->b = NULL;
  luaL_getmetatable(L, kind->mt);
  lua_setmetatable(L, -2);
}

void uvbox_fill(lua_State *L, uvbox *b, const uvbox_kind *kind, uv_handle_t *uv) {
  box *x = lua_touserdata(L, -1);
  x->b = b;
  b->kind = kind;
  b->uv = uv;
}

void uvbox_close(uvbox *b) {
  if (b->closed) return;
  if (b->kind->closing) b->kind->closing(b);
  b->closed = 1;
  ebb_handle_untrack(&b->track);
  if (!b->uv->loop) { /* its setup failed before libuv initialized it (uv_tty_init may) */
    b->handle_gone = 1;
    maybe_free(b);
    return;
  }
  b->uv->data = b;
  uv_close(b->uv, on_closed);
}

static void close_tracked(ebb_handle *h) {
  uvbox *b = ebb_container(h, uvbox, track);
  if (b->kind->at_exit) b->kind->at_exit(b);
  uvbox_close(b);
}

void uvbox_opened(uvbox *b, int owner) { ebb_handle_track(&b->track, b->uv, close_tracked, owner); }

uvbox *uvbox_check(lua_State *L, int idx, const uvbox_kind *kind) {
  box *x = ebb_check_udata(L, idx, kind->mt, kind->what);
  if (!x->b) ebb_argerror_type(L, idx, kind->what);
  return x->b;
}

int uvbox_collected(lua_State *L, int idx, const uvbox_kind *kind) {
  box *x = luaL_testudata_compat(L, idx, kind->mt);
  return x && !x->b;
}

int uvbox_gc(lua_State *L, const uvbox_kind *kind) {
  box *x = ebb_check_udata(L, 1, kind->mt, kind->what);
  uvbox *b = x->b;
  if (!b) return 0;
  x->b = NULL;
  if (!b->closed && kind->forgotten) kind->forgotten(b);
  b->box_gone = 1;
  maybe_free(b);
  return 0;
}
