/* ebb.httpserver.core: the C half of ebb.http's server. Lua accepts each
 * connection (ebb.net's listener) and hands it here; from then on C reads
 * and parses it, and the server's dispatcher task takes one request at a
 * time (next) to run its handler in a task of its own. */
#include <stdlib.h>
#include <string.h>
#include "http_server.h"

static hserver *check_server(lua_State *L, int idx) {
  return ebb_check_udata(L, idx, HTTP_SERVER_MT, "http server");
}

/* new(max_header_size, max_body_size, headers_timeout, request_timeout,
 * keep_alive_timeout) -> server */
static int l_new(lua_State *L) {
  double header = ebb_check_whole(L, 1, "max_header_size", 1, 1 << 30);
  double body = ebb_check_whole(L, 2, "max_body_size", 0, EBB_MAX_WHOLE);
  double headers_timeout = ebb_check_ms(L, 3, "headers_timeout");
  double request_timeout = ebb_check_ms(L, 4, "request_timeout");
  double keep_alive = ebb_check_ms(L, 5, "keep_alive_timeout");
  hserver *srv = lua_newuserdata(L, sizeof *srv);
  memset(srv, 0, sizeof *srv);
  ebb_waitlist_init(&srv->dispatcher);
  ebb_list_init(&srv->ready);
  ebb_list_init(&srv->conns);
  srv->max_header_size = (size_t)header;
  srv->max_body_size = body >= (double)SIZE_MAX ? SIZE_MAX : (size_t)body;
  srv->headers_timeout = headers_timeout;
  srv->request_timeout = request_timeout;
  srv->keep_alive_timeout = keep_alive;
  luaL_getmetatable(L, HTTP_SERVER_MT);
  lua_setmetatable(L, -2);
  return 1;
}

/* attach(server, stream): the server reads the connection from now on */
static int l_attach(lua_State *L) {
  hserver *srv = check_server(L, 1);
  uvs *s = uvs_check(L, 2);
  if (s->life.closed || s->listening || s->hooks) return ebb_argerror(L, 2, "an open connection expected");
  if (srv->closing) {
    uvs_close(s);
    return 0;
  }
  hconn_attach(L, srv, s, 2, 1);
  return 0;
}

/* next(server, signal) -> request, method, target, id | true when woken
 * (call again) | nil once the server is closing | false, reason */
static int l_next(lua_State *L) {
  hserver *srv = check_server(L, 1);
  ebb_node *n;
  hreq *r;
  if (srv->closing) return 0;
  if ((n = ebb_list_shift(&srv->ready)) == NULL) return ebb_wait_on(L, &srv->dispatcher, -1, 2);
  r = ebb_container(n, hreq, ready_link);
  hreq_push_box(L, r);
  lua_pushstring(L, http_method_str((enum http_method)r->method));
  lua_pushlstring(L, r->head, r->url_len);
  lua_pushnumber(L, r->id);
  return 4;
}

/* shutdown(server): no more requests are read; idle connections close now,
 * the others once their responses are written. The dispatcher ends. */
static int l_shutdown(lua_State *L) {
  hserver *srv = check_server(L, 1);
  ebb_node *n, *next;
  srv->closing = 1;
  ebb_wake_all(&srv->dispatcher);
  while ((n = ebb_list_shift(&srv->ready)) != NULL) { /* read but never taken: not answered */
    hreq *r = ebb_container(n, hreq, ready_link);
    if (r->conn) hconn_close(r->conn);
  }
  for (n = srv->conns.next; n != &srv->conns; n = next) {
    hconn *c = ebb_container(n, hconn, link);
    next = n->next;
    if (!c->req) hconn_close(c);
  }
  return 0;
}

/* close_all(server): every connection closes at once */
static int l_close_all(lua_State *L) {
  hserver *srv = check_server(L, 1);
  ebb_node *n;
  while ((n = srv->conns.next) != &srv->conns) hconn_close(ebb_container(n, hconn, link));
  return 0;
}

/* connections(server) -> how many are open */
static int l_connections(lua_State *L) {
  lua_pushinteger(L, check_server(L, 1)->nconns);
  return 1;
}

int luaopen_ebb_httpserver_core(lua_State *L) {
  static const luaL_Reg fns[] = {{"new", l_new}, {"attach", l_attach}, {"next", l_next},
    {"shutdown", l_shutdown}, {"close_all", l_close_all}, {"connections", l_connections}, {NULL, NULL}};
  ebb_new_metatable(L, HTTP_SERVER_MT, NULL, NULL);
  hreq_make_metatable(L);
  uvs_make_metatable(L);
  http_parser_set_max_header_size(UINT32_MAX); /* the server's own limit applies (431) */
  ebb_new_module(L, fns);
  ebb_register(L, hreq_fns, 0);
  ebb_register(L, hresp_fns, 0);
  return 1;
}
