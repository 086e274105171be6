/* A request as Lua sees it: a box over the C request, its head read on
 * demand (headers, the peer's address) and its body read chunk by chunk,
 * with the socket paused while too much waits unread. The request lives
 * until both its connection has let it go and its box is collected. */
#include <stdlib.h>
#include <string.h>
#include "http_server.h"

typedef struct rbox {
  hreq *r; /* NULL once collected */
} rbox;

static void drop_body(hreq *r) { uvs_queue_drop(&r->body); }

static void free_request(hreq *r) {
  drop_body(r);
  free(r->head);
  free(r->fields);
  free(r);
}

static void unref(int *ref) {
  if (*ref != LUA_NOREF && ebb_lua_alive()) luaL_unref(ebb_main_state(), LUA_REGISTRYINDEX, *ref);
  *ref = LUA_NOREF;
}

void hreq_release(hreq *r) {
  ebb_node_unlink(&r->ready_link);
  r->conn = NULL;
  if (!r->body_done && !r->body_error) r->body_error = UV_ECONNRESET;
  drop_body(r);
  if (r->body_error) ebb_fail_all(&r->readers, r->body_error);
  else ebb_wake_all(&r->readers); /* woken readers find the end */
  unref(&r->signal_ref);
  unref(&r->reason_ref);
  if (!r->boxed || r->box_gone) free_request(r);
}

void hreq_push_box(lua_State *L, hreq *r) {
  rbox *b = lua_newuserdata(L, sizeof *b);
  b->r = r;
  r->boxed = 1;
  luaL_getmetatable(L, HTTP_REQUEST_MT);
  lua_setmetatable(L, -2);
}

hreq *hreq_check(lua_State *L, int idx) {
  rbox *b = ebb_check_udata(L, idx, HTTP_REQUEST_MT, "request");
  if (!b->r) ebb_argerror_type(L, idx, "request");
  return b->r;
}

static int box_gc(lua_State *L) {
  rbox *b = ebb_check_udata(L, 1, HTTP_REQUEST_MT, "request");
  hreq *r = b->r;
  if (!r) return 0;
  b->r = NULL;
  r->box_gone = 1;
  if (!r->conn) free_request(r);
  return 0;
}

void hreq_make_metatable(lua_State *L) { ebb_new_metatable(L, HTTP_REQUEST_MT, box_gc, NULL); }

/* ---- the body ---- */

static void queue(hreq *r, const char *data, size_t len, int at_front) {
  if (uvs_queue_put(&r->body, data, len, at_front) != 0) r->body_error = UV_ENOMEM;
}

/* A reader handed a chunk but cancelled before it ran: the chunk goes back
 * to the front of the body, for the next read. */
static void reader_cancelled(ebb_wait *w, int handed) {
  hreq *r = ebb_wait_want(w)->owner;
  lua_State *co = ebb_wait_thread(w);
  size_t len;
  const char *data;
  if (!handed || !r->conn || lua_gettop(co) < 2 || lua_type(co, 2) != LUA_TSTRING) return;
  data = lua_tolstring(co, 2, &len);
  queue(r, data, len, 1);
}

void hreq_body(hreq *r, const char *data, size_t len) {
  ebb_wait *w;
  lua_State *co;
  if (!data) { /* the end: a reader waiting gets it */
    if (!r->body.head && !ebb_list_empty(&r->readers)) {
      r->body_end_seen = 1;
      ebb_wake_all(&r->readers);
    }
    return;
  }
  if (!r->body.head && !ebb_list_empty(&r->readers)) {
    w = ebb_container(ebb_list_shift(&r->readers), ebb_wait, link);
    if ((co = ebb_wake_push(w)) != NULL) {
      lua_pushboolean(co, 1);
      lua_pushlstring(co, data, len);
      ebb_wake_handed(w, 2, &(ebb_want){.owner = r, .on_cancel = reader_cancelled});
      return;
    }
  }
  queue(r, data, len, 0);
  if (r->body.buffered >= HTTP_BODY_HWM && r->conn) uvs_read_stop(r->conn->s);
}

void hreq_body_failed(hreq *r, int err) {
  if (r->body_error || r->body_done) return;
  r->body_error = err;
  ebb_fail_all(&r->readers, err);
}

static void send_continue(hreq *r) {
  static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
  uv_buf_t b = uv_buf_init((char *)line, sizeof line - 1);
  r->continue_sent = 1;
  if (r->conn && !r->headers_sent) uvs_write_copy(r->conn->s, &b, 1);
}

/* body_read(req, signal) -> true, chunk | true, nil at the end | nil, code, msg
 * (ECANCELED: the response was finished before the body was read to its
 * end, and the rest was dropped) */
static int l_body_read(lua_State *L) {
  hreq *r = hreq_check(L, 1);
  int n = ebb_request_begin(L, 2);
  if (n) return n;
  if (r->finished && !r->body_end_seen) return ebb_push_uv_error(L, UV_ECANCELED);
  if (uvs_queue_push_next(L, &r->body)) {
    if (r->body.buffered < HTTP_BODY_HWM && r->conn) hconn_body_drained(r->conn);
    return 2;
  }
  if (r->body_error) return ebb_push_uv_error(L, r->body_error);
  if (r->body_done || !r->conn) {
    r->body_end_seen = 1;
    lua_pushboolean(L, 1);
    lua_pushnil(L);
    return 2;
  }
  if (r->expect_continue && !r->continue_sent) send_continue(r);
  return ebb_wait_on(L, &r->readers, -1, 2);
}

/* ---- the client going away ---- */

void hreq_client_gone(hreq *r) {
  lua_State *L = ebb_main_state();
  ebb_signal *s;
  if (r->client_gone) return;
  r->client_gone = 1;
  if (r->signal_ref == LUA_NOREF || !ebb_lua_alive()) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->signal_ref);
  s = ebb_to_signal(L, -1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->reason_ref);
  if (s) ebb_signal_abort(L, s);
  else lua_pop(L, 1);
  lua_pop(L, 1);
}

/* watch(req, signal, reason) -> false when the client is gone already: the
 * signal aborts with reason when it goes */
static int l_watch(lua_State *L) {
  hreq *r = hreq_check(L, 1);
  ebb_check_signal(L, 2);
  if (r->client_gone || !r->conn) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_settop(L, 3);
  unref(&r->reason_ref);
  unref(&r->signal_ref);
  r->reason_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  r->signal_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushboolean(L, 1);
  return 1;
}

/* ---- the head ---- */

/* headers(req) -> {name = value}: names in lower case, a repeated header's
 * values joined with ", " (Set-Cookie's with "\n", as they cannot be joined) */
static int l_headers(lua_State *L) {
  hreq *r = hreq_check(L, 1);
  int i;
  lua_createtable(L, 0, r->nfields);
  for (i = 0; i < r->nfields; i++) {
    const hfield *f = &r->fields[i];
    lua_pushlstring(L, r->head + f->name, f->name_len);
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_pushlstring(L, r->head + f->value, f->value_len);
    } else {
      int cookie = f->name_len == 10 && memcmp(r->head + f->name, "set-cookie", 10) == 0;
      lua_pushstring(L, cookie ? "\n" : ", ");
      lua_pushlstring(L, r->head + f->value, f->value_len);
      lua_concat(L, 3);
    }
    lua_rawset(L, -3);
  }
  return 1;
}

/* info(req) -> "1.1", remote ip, remote port, client gone, has a body */
static int l_info(lua_State *L) {
  hreq *r = hreq_check(L, 1);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  char ip[64];
  lua_pushfstring(L, "%d.%d", r->major, r->minor);
  if (r->conn && !r->conn->closed &&
      uv_tcp_getpeername(&r->conn->s->u.tcp, (struct sockaddr *)&ss, &len) == 0) {
    int port;
    if (ss.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
      uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    lua_pushstring(L, ip);
    lua_pushinteger(L, port);
  } else {
    lua_pushnil(L);
    lua_pushnil(L);
  }
  lua_pushboolean(L, r->client_gone);
  lua_pushboolean(L, r->has_body);
  return 5;
}

const luaL_Reg hreq_fns[] = {
  {"body_read", l_body_read}, {"watch", l_watch}, {"headers", l_headers}, {"info", l_info}, {NULL, NULL}};
