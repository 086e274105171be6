/* ebb.net's C half: name resolution, TCP connections and listeners. A
 * connection is an ebb stream (uvstream.c); a listener hands out one
 * connection per accept(), and takes new ones from the kernel only while
 * someone accepts. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "uvstream.h"

typedef struct resolve_op {
  uv_getaddrinfo_t req;
  ebb_request r;
} resolve_op;

typedef struct connect_op {
  uv_connect_t req;
  ebb_request r;
  uvs *s;
  int box_ref; /* the stream's userdata, until the connection is settled */
} connect_op;

/* A numeric address from ip and port: 0 when it is not an IP literal. */
static int parse_addr(const char *ip, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (uv_ip4_addr(ip, port, (struct sockaddr_in *)ss) == 0) return 1;
  if (uv_ip6_addr(ip, port, (struct sockaddr_in6 *)ss) == 0) return 1;
  return 0;
}

/* A new TCP stream, pushed, tracked as `owner`'s. */
static uvs *push_tcp(lua_State *L, int owner) {
  uvs *s = uvs_push_new(L);
  uv_tcp_init(ebb_loop(), &s->u.tcp);
  s->tcp = 1;
  uvs_opened(s, owner);
  return s;
}

static int check_port(lua_State *L, int idx) {
  return (int)ebb_check_whole(L, idx, "port", 0, 65535);
}

static void push_addresses(lua_State *co, const struct addrinfo *ai) {
  int i = 0;
  char ip[64];
  lua_newtable(co);
  for (; ai; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, ip, sizeof ip);
    else if (ai->ai_family == AF_INET6) uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, ip, sizeof ip);
    else continue;
    lua_pushstring(co, ip);
    lua_rawseti(co, -2, ++i);
  }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  resolve_op *op = (resolve_op *)req;
  lua_State *co = ebb_request_finish(&op->r, status);
  if (co) {
    lua_pushboolean(co, 1);
    push_addresses(co, res);
    ebb_request_done(&op->r, 2, NULL);
  }
  uv_freeaddrinfo(res);
  free(op);
}

static void resolve_abandoned(ebb_request *r) {
  uv_cancel((uv_req_t *)&ebb_container(r, resolve_op, r)->req);
}

/* resolve(host, signal) -> true, {ip...} | nil, code, msg */
static int l_resolve(lua_State *L) {
  const char *host = ebb_check_cstring(L, 1, "host");
  struct sockaddr_storage ss;
  struct addrinfo hints;
  resolve_op *op;
  int r = ebb_request_begin(L, 2);
  if (r) return r;
  if (parse_addr(host, 0, &ss)) { /* a literal: nothing to look up */
    lua_pushboolean(L, 1);
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    return 2;
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (!(op = calloc(1, sizeof *op))) return luaL_error(L, "out of memory");
  op->r.abandon = resolve_abandoned;
  if ((r = uv_getaddrinfo(ebb_loop(), &op->req, on_resolved, host, NULL, &hints)) != 0) {
    free(op);
    return ebb_push_uv_error(L, r);
  }
  return ebb_request_await(L, &op->r, 2);
}

/* ---- connecting ---- */

/* A task handed a new connection but cancelled before it ran: nobody will
 * ever get the stream, so it is closed now rather than by the GC. */
static void drop_handed(ebb_wait *w, int handed) {
  if (handed) uvs_close(ebb_wait_want(w)->owner);
}

static void on_connected(uv_connect_t *req, int status) {
  connect_op *op = (connect_op *)req;
  lua_State *co = ebb_request_finish(&op->r, status);
  if (co) {
    lua_pushboolean(co, 1);
    lua_rawgeti(co, LUA_REGISTRYINDEX, op->box_ref);
    ebb_request_done(&op->r, 2, &(ebb_want){.owner = op->s, .on_cancel = drop_handed});
  } else {
    uvs_close(op->s); /* failed, or nobody will take it (closed already if the waiter went) */
  }
  if (ebb_lua_alive()) luaL_unref(ebb_main_state(), LUA_REGISTRYINDEX, op->box_ref);
  free(op);
}

static void connect_abandoned(ebb_request *r) {
  uvs_close(ebb_container(r, connect_op, r)->s); /* the connect ends with ECANCELED */
}

/* connect(ip, port, signal) -> true, stream | nil, code, msg */
static int l_connect(lua_State *L) {
  const char *ip = ebb_check_cstring(L, 1, "ip");
  int port = check_port(L, 2), r = ebb_request_begin(L, 3);
  struct sockaddr_storage ss;
  connect_op *op;
  uvs *s;
  if (r) return r;
  if (!parse_addr(ip, port, &ss)) return ebb_argerror(L, 1, "IP address expected");
  s = push_tcp(L, ebb_current_owner(L));
  if (!(op = calloc(1, sizeof *op))) {
    uvs_close(s);
    return luaL_error(L, "out of memory");
  }
  op->s = s;
  op->r.abandon = connect_abandoned;
  op->box_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if ((r = uv_tcp_connect(&op->req, &s->u.tcp, (struct sockaddr *)&ss, on_connected)) != 0) {
    uvs_close(s);
    luaL_unref(L, LUA_REGISTRYINDEX, op->box_ref);
    free(op);
    return ebb_push_uv_error(L, r);
  }
  return ebb_request_await(L, &op->r, 3);
}

/* ---- listening ---- */

static int accept_into(lua_State *co, uvs *server) {
  uvs *c = push_tcp(co, server->life.track.owner); /* what a server accepts belongs with the server */
  int r;
  if ((r = uv_accept(&server->u.stream, &c->u.stream)) != 0) {
    uvs_close(c);
    lua_pop(co, 1);
  }
  return r;
}

static void on_connection(uv_stream_t *stream, int status) {
  uvs *server = (uvs *)stream;
  ebb_wait *w;
  lua_State *co;
  if (status < 0) { /* the waiting accept fails, rather than waiting forever */
    uvs_read_failed(server, status);
    return;
  }
  server->pending++;
  while (server->pending && (co = uvs_take_reader(server, &w)) != NULL) {
    int r;
    server->pending--;
    if ((r = accept_into(co, server)) != 0) { /* an error, not the end (nil) */
      ebb_wake_done(w, ebb_push_uv_error(co, r));
      continue;
    }
    lua_pushboolean(co, 1);
    lua_insert(co, -2);
    ebb_wake_handed(w, 2, &(ebb_want){.owner = uvs_check(co, -1), .on_cancel = drop_handed});
  }
}

/* listen(ip, port, backlog) -> stream (a listener) | nil, code, msg */
static int l_listen(lua_State *L) {
  const char *ip = ebb_check_cstring(L, 1, "ip");
  int port = check_port(L, 2), backlog = (int)ebb_opt_whole(L, 3, "backlog", 1, INT_MAX, 511), r;
  struct sockaddr_storage ss;
  uvs *s;
  if (!parse_addr(ip, port, &ss)) return ebb_argerror(L, 1, "IP address expected");
  s = push_tcp(L, ebb_current_owner(L));
  s->listening = 1;
  s->life.track.kind = "listener";
  if ((r = uv_tcp_bind(&s->u.tcp, (struct sockaddr *)&ss, 0)) == 0)
    r = uv_listen(&s->u.stream, backlog, on_connection);
  if (r != 0) {
    uvs_close(s);
    return ebb_push_uv_error(L, r);
  }
  return 1;
}

/* accept(listener, signal) -> true, stream | true, nil once closed | nil, code, msg */
static int l_accept(lua_State *L) {
  uvs *s = uvs_check(L, 1);
  int r = ebb_request_begin(L, 2);
  if (r) return r;
  if (!s->listening) return ebb_argerror(L, 1, "listener expected, got a connection");
  while (s->pending && !s->life.closed) {
    s->pending--;
    lua_pushboolean(L, 1);
    if (accept_into(L, s) == 0) return 2;
    lua_pop(L, 1);
  }
  if (s->life.closed) {
    lua_pushboolean(L, 1);
    lua_pushnil(L);
    return 2;
  }
  if (s->read_error) return ebb_push_uv_error(L, s->read_error);
  return uvs_wait_reader(L, s, 2);
}

/* address(stream, peer) -> ip, port, family ("inet" | "inet6") | nil, code, msg */
static int l_address(lua_State *L) {
  uvs *s = uvs_check(L, 1);
  struct sockaddr_storage ss;
  int len = sizeof ss, r;
  char ip[64];
  if (!s->tcp) return ebb_argerror(L, 1, "TCP stream expected");
  if (s->life.closed) return ebb_push_uv_error(L, UV_EBADF);
  r = lua_toboolean(L, 2) ? uv_tcp_getpeername(&s->u.tcp, (struct sockaddr *)&ss, &len)
                          : uv_tcp_getsockname(&s->u.tcp, (struct sockaddr *)&ss, &len);
  if (r != 0) return ebb_push_uv_error(L, r);
  if (ss.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
    lua_pushstring(L, ip);
    lua_pushinteger(L, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    lua_pushliteral(L, "inet6");
  } else {
    uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
    lua_pushstring(L, ip);
    lua_pushinteger(L, ntohs(((struct sockaddr_in *)&ss)->sin_port));
    lua_pushliteral(L, "inet");
  }
  return 3;
}

static int l_set_nodelay(lua_State *L) {
  uvs *s = uvs_check(L, 1);
  if (s->tcp && !s->life.closed) uv_tcp_nodelay(&s->u.tcp, lua_toboolean(L, 2));
  return 0;
}

int luaopen_ebb_net_core(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"resolve", l_resolve}, {"connect", l_connect}, {"listen", l_listen}, {"accept", l_accept},
    {"address", l_address}, {"set_nodelay", l_set_nodelay}, {NULL, NULL}};
  uvs_make_metatable(L);
  return ebb_new_module(L, fns);
}
