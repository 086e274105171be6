/* ebb.udp.core: the UDP sockets of ebb.net (net.udp): binding, connecting,
 * sending and the socket's options; udp_recv.c receives. A send goes out at
 * once when the socket takes it, and otherwise waits for libuv to send it.
 * Functions given an address take an IP literal and return nothing for
 * anything else: the Lua half resolves names. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "udp.h"

#define UDP_MT "ebb.udp"
#define MAX_PAYLOAD_IPV4 65507 /* 65535 less the IPv4 and UDP headers */
#define MAX_PAYLOAD_IPV6 65527 /* 65535 less the UDP header */

typedef struct send_op {
  uv_udp_send_t req;
  ebb_request r;
  int ref; /* the string being sent */
} send_op;

static udp *of(uvbox *b) { return ebb_container(b, udp, life); }

static void closing(uvbox *b) { udp_recv_closing(of(b)); }
static void forgotten(uvbox *b) { uvbox_close(b); }
static void free_udp(uvbox *b) { free(of(b)); }

static const uvbox_kind udp_kind = {UDP_MT, "UDP socket", closing, NULL, forgotten, free_udp};

udp *udp_check(lua_State *L, int idx) { return of(uvbox_check(L, idx, &udp_kind)); }

int udp_parse_addr(const char *ip, int port, udp_addr *a) {
  memset(a, 0, sizeof *a);
  if (!ip) return 0;
  if (uv_ip4_addr(ip, port, &a->in) == 0) return AF_INET;
  if (uv_ip6_addr(ip, port, &a->in6) == 0) return AF_INET6;
  return 0;
}

static int same_ip(const udp_addr *a, const udp_addr *b) {
  if (a->sa.sa_family != b->sa.sa_family) return 0;
  if (a->sa.sa_family == AF_INET6)
    return memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof a->in6.sin6_addr) == 0 &&
           a->in6.sin6_scope_id == b->in6.sin6_scope_id;
  return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
}

int udp_push_addr(lua_State *L, const udp_addr *a) {
  static EBB_THREAD_LOCAL udp_addr last; /* the address last written out: datagrams tend to come from few peers */
  static EBB_THREAD_LOCAL char ip[64];
  if (!ip[0] || !same_ip(a, &last)) {
    if (a->sa.sa_family == AF_INET6) {
      size_t len, room;
      uv_ip6_name(&a->in6, ip, sizeof ip);
      len = strlen(ip);
      room = sizeof ip - len - 1;
      /* a link-local peer is answered through the interface it came by: "fe80::1%eth0" */
      if (a->in6.sin6_scope_id && room > 1 && uv_if_indextoname(a->in6.sin6_scope_id, ip + len + 1, &room) == 0)
        ip[len] = '%';
    } else {
      uv_ip4_name(&a->in, ip, sizeof ip);
    }
    last = *a;
  }
  lua_pushstring(L, ip);
  lua_pushinteger(L, ntohs(a->sa.sa_family == AF_INET6 ? a->in6.sin6_port : a->in.sin_port));
  return 2;
}

/* true | nil, code, msg */
static int push_status(lua_State *L, int r) {
  if (r != 0) return ebb_push_uv_error(L, r);
  lua_pushboolean(L, 1);
  return 1;
}

/* The socket at idx, and whether it is closed. */
static udp *check_open(lua_State *L, int idx, int *closed) {
  udp *u = udp_check(L, idx);
  *closed = u->life.closed;
  return u;
}

/* Notes the family of the socket's address once it has one (made with a
 * type, bound, connected, or bound by libuv at its first send). */
static void note_family(udp *u) {
  udp_addr a;
  int len = sizeof a;
  if (u->family || u->life.closed || uv_udp_getsockname(&u->h, &a.sa, &len) != 0) return;
  u->family = a.sa.sa_family == AF_INET6 ? AF_INET6 : AF_INET;
}

/* new(family (0, 4 or 6), max_queued) -> socket | nil, code, msg */
static int l_new(lua_State *L) {
  int family = (int)ebb_check_whole(L, 1, "family", 0, 6), r;
  double max_queued = ebb_check_whole(L, 2, "max_queued", 0, EBB_MAX_WHOLE);
  udp *u;
  if (family != 0 && family != 4 && family != 6) return ebb_argerror(L, 1, "family must be 0, 4 or 6");
  uvbox_reserve(L, &udp_kind);
  if (!(u = calloc(1, sizeof *u))) return luaL_error(L, "out of memory");
  ebb_waitlist_init(&u->readers);
  u->max_queued = (size_t)max_queued;
  uvbox_fill(L, &u->life, &udp_kind, (uv_handle_t *)&u->h);
  r = uv_udp_init_ex(ebb_loop(), &u->h, family == 6 ? AF_INET6 : family == 4 ? AF_INET : AF_UNSPEC);
  if (r != 0) {
    uvbox_close(&u->life); /* never initialized: only let go */
    return ebb_push_uv_error(L, r);
  }
  uvbox_opened(&u->life, ebb_current_owner(L));
  note_family(u);
  return 1;
}

/* An address of the family the socket has, if it has one; 0 when ip is not
 * an IP literal (nothing pushed: the Lua half resolves it). */
static int check_addr(lua_State *L, udp *u, int ip_idx, int min_port, udp_addr *a) {
  const char *ip = ebb_check_cstring(L, ip_idx, "host");
  int port = (int)ebb_check_whole(L, ip_idx + 1, "port", min_port, 65535);
  int family = udp_parse_addr(ip, port, a), own = u->family;
  if (family && own && family != own)
    ebb_argerror(L, ip_idx - 1, own == AF_INET ? "host: an IPv6 address for an IPv4 socket"
                                               : "host: an IPv4 address for an IPv6 socket (write it ::ffff:a.b.c.d)");
  return family;
}

/* bind(h, ip, port, reuse_address, ipv6_only) -> true | nil, code, msg | nothing */
static int l_bind(lua_State *L) {
  int closed;
  udp *u = check_open(L, 1, &closed);
  udp_addr a;
  int r;
  unsigned flags = (lua_toboolean(L, 4) ? UV_UDP_REUSEADDR : 0) | (lua_toboolean(L, 5) ? UV_UDP_IPV6ONLY : 0);
  if (!check_addr(L, u, 2, 0, &a)) return 0;
  if (closed) return ebb_push_uv_error(L, UV_EBADF);
  r = uv_udp_bind(&u->h, &a.sa, flags);
  note_family(u); /* made by the bind, even one that failed */
  return push_status(L, r);
}

/* connect(h, ip, port) -> true | nil, code, msg | nothing */
static int l_connect(lua_State *L) {
  int closed, r;
  udp *u = check_open(L, 1, &closed);
  udp_addr a;
  if (!check_addr(L, u, 2, 1, &a)) return 0;
  if (closed) return ebb_push_uv_error(L, UV_EBADF);
  r = uv_udp_connect(&u->h, &a.sa);
  note_family(u);
  return push_status(L, r);
}

/* disconnect(h) -> true | nil, code, msg */
static int l_disconnect(lua_State *L) {
  int closed;
  udp *u = check_open(L, 1, &closed);
  return push_status(L, closed ? UV_EBADF : uv_udp_connect(&u->h, NULL));
}

static void on_sent(uv_udp_send_t *req, int status) {
  send_op *op = (send_op *)req;
  lua_State *co = ebb_request_finish(&op->r, status);
  if (co) {
    lua_pushboolean(co, 1);
    ebb_request_done(&op->r, 1, NULL);
  }
  if (ebb_lua_alive()) luaL_unref(ebb_main_state(), LUA_REGISTRYINDEX, op->ref);
  free(op);
}

/* send(h, data, ip|nil, port|nil, signal) -> true once sent | nil, code, msg
 * | false, reason | nothing. Once libuv has it, a send goes out even if its
 * waiter goes: a datagram is never cut short. */
static int l_send(lua_State *L) {
  int closed, family, r;
  udp *u = check_open(L, 1, &closed);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  int to = !lua_isnoneornil(L, 3);
  udp_addr a;
  uv_buf_t buf;
  send_op *op;
  if (to && !check_addr(L, u, 3, 1, &a)) return 0;
  if ((r = ebb_request_begin(L, 5)) != 0) return r;
  if (closed) return ebb_push_uv_error(L, UV_EBADF);
  family = to ? a.sa.sa_family : u->family;
  if (len > (family == AF_INET6 ? MAX_PAYLOAD_IPV6 : MAX_PAYLOAD_IPV4)) {
    lua_pushfstring(L, "data must be at most %d bytes over %s, got %f", family == AF_INET6 ? MAX_PAYLOAD_IPV6 : MAX_PAYLOAD_IPV4,
                    family == AF_INET6 ? "IPv6" : "IPv4", (lua_Number)len);
    return ebb_argerror(L, 1, lua_tostring(L, -1));
  }
  buf = uv_buf_init((char *)data, (unsigned)len);
  r = uv_udp_try_send(&u->h, &buf, 1, to ? &a.sa : NULL);
  note_family(u); /* libuv binds a socket that has no address at its first send */
  if (r != UV_EAGAIN) return push_status(L, r < 0 ? r : 0);
  if (!(op = calloc(1, sizeof *op))) return luaL_error(L, "out of memory");
  lua_pushvalue(L, 2);
  op->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if ((r = uv_udp_send(&op->req, &u->h, &buf, 1, to ? &a.sa : NULL, on_sent)) != 0) {
    luaL_unref(L, LUA_REGISTRYINDEX, op->ref);
    free(op);
    return ebb_push_uv_error(L, r);
  }
  return ebb_request_await(L, &op->r, 5);
}

/* address(h, peer) -> ip, port, "udp4" | "udp6" | nil, code, msg */
static int l_address(lua_State *L) {
  int closed, len = sizeof(udp_addr), r;
  udp *u = check_open(L, 1, &closed);
  udp_addr a;
  if (closed) return ebb_push_uv_error(L, UV_EBADF);
  r = lua_toboolean(L, 2) ? uv_udp_getpeername(&u->h, &a.sa, &len) : uv_udp_getsockname(&u->h, &a.sa, &len);
  if (r != 0) return ebb_push_uv_error(L, r);
  udp_push_addr(L, &a);
  lua_pushstring(L, a.sa.sa_family == AF_INET6 ? "udp6" : "udp4");
  return 3;
}

/* ---- options: each -> true | nil, code, msg ---- */

/* The socket at 1 when it has one to set options on (EBADF otherwise). */
static udp *with_socket(lua_State *L, int *err) {
  int closed;
  udp *u = check_open(L, 1, &closed);
  uv_os_fd_t fd;
  *err = closed || uv_fileno((uv_handle_t *)&u->h, &fd) != 0 ? UV_EBADF : 0;
  return u;
}

static int l_set_broadcast(lua_State *L) {
  int err;
  udp *u = with_socket(L, &err);
  return push_status(L, err ? err : uv_udp_set_broadcast(&u->h, lua_toboolean(L, 2)));
}

static int l_set_ttl(lua_State *L) {
  int err, ttl = (int)ebb_check_whole(L, 2, "ttl", 1, 255);
  udp *u = with_socket(L, &err);
  return push_status(L, err ? err : uv_udp_set_ttl(&u->h, ttl));
}

static int l_set_multicast_ttl(lua_State *L) {
  int err, ttl = (int)ebb_check_whole(L, 2, "ttl", 0, 255);
  udp *u = with_socket(L, &err);
  return push_status(L, err ? err : uv_udp_set_multicast_ttl(&u->h, ttl));
}

static int l_set_multicast_loopback(lua_State *L) {
  int err;
  udp *u = with_socket(L, &err);
  return push_status(L, err ? err : uv_udp_set_multicast_loop(&u->h, lua_toboolean(L, 2)));
}

static int l_set_multicast_interface(lua_State *L) {
  int err;
  const char *ip = ebb_check_cstring(L, 2, "interface");
  udp *u = with_socket(L, &err);
  return push_status(L, err ? err : uv_udp_set_multicast_interface(&u->h, ip));
}

/* The kernel's buffer of the socket (SO_RCVBUF or SO_SNDBUF), in bytes. */
static int set_buffer_size(lua_State *L, int (*set)(uv_handle_t *, int *)) {
  int err, size = (int)ebb_check_whole(L, 2, "bytes", 1, INT_MAX);
  udp *u = with_socket(L, &err);
  return push_status(L, err ? err : set((uv_handle_t *)&u->h, &size));
}

static int l_set_recv_buffer_size(lua_State *L) { return set_buffer_size(L, uv_recv_buffer_size); }
static int l_set_send_buffer_size(lua_State *L) { return set_buffer_size(L, uv_send_buffer_size); }

/* membership(h, group, interface|nil) */
static int membership(lua_State *L, uv_membership what) {
  int err;
  const char *group = ebb_check_cstring(L, 2, "group");
  const char *iface = ebb_opt_cstring(L, 3, "interface", NULL);
  udp *u = with_socket(L, &err);
  udp_addr a;
  if (!err && !udp_parse_addr(group, 0, &a)) return ebb_argerror(L, 1, "group: an IP address expected");
  return push_status(L, err ? err : uv_udp_set_membership(&u->h, group, iface, what));
}

static int l_add_membership(lua_State *L) { return membership(L, UV_JOIN_GROUP); }
static int l_drop_membership(lua_State *L) { return membership(L, UV_LEAVE_GROUP); }

/* ---- closing ---- */

/* close(h): at once; tasks waiting to receive see the end, sends waiting fail. */
static int l_close(lua_State *L) {
  if (uvbox_collected(L, 1, &udp_kind)) return 0;
  uvbox_close(&udp_check(L, 1)->life);
  return 0;
}

static int box_gc(lua_State *L) { return uvbox_gc(L, &udp_kind); }

int luaopen_ebb_udp_core(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"new", l_new},
    {"bind", l_bind},
    {"connect", l_connect},
    {"disconnect", l_disconnect},
    {"send", l_send},
    {"recv", udp_l_recv},
    {"recv_ended", udp_l_recv_ended},
    {"queued", udp_l_queued},
    {"address", l_address},
    {"set_broadcast", l_set_broadcast},
    {"set_ttl", l_set_ttl},
    {"set_multicast_ttl", l_set_multicast_ttl},
    {"set_multicast_loopback", l_set_multicast_loopback},
    {"set_multicast_interface", l_set_multicast_interface},
    {"add_membership", l_add_membership},
    {"drop_membership", l_drop_membership},
    {"set_recv_buffer_size", l_set_recv_buffer_size},
    {"set_send_buffer_size", l_set_send_buffer_size},
    {"close", l_close},
    {NULL, NULL}};
  ebb_new_metatable(L, UDP_MT, box_gc, NULL);
  return ebb_new_module(L, fns);
}
