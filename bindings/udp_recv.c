/* Receiving on a UDP socket. libuv reads from the first recv on, until the
 * socket closes; each datagram goes to the first task waiting for one, else
 * into the socket's queue, and past the queue's limit it is dropped and
 * counted, as a full socket buffer drops it. The handle keeps the loop
 * running only while a task waits on it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "udp.h"

static int put(udp *u, const char *data, size_t len, const udp_addr *from, int at_front) {
  udp_dgram *d = malloc(sizeof *d + len);
  if (!d) return UV_ENOMEM;
  d->from = *from;
  d->len = len;
  memcpy(d->data, data, len);
  if (at_front) {
    d->next = u->head;
    u->head = d;
    if (!u->tail) u->tail = d;
  } else {
    d->next = NULL;
    if (u->tail) u->tail->next = d;
    else u->head = d;
    u->tail = d;
  }
  u->queued++;
  return 0;
}

static udp_dgram *take(udp *u) {
  udp_dgram *d = u->head;
  if (!d) return NULL;
  if (!(u->head = d->next)) u->tail = NULL;
  u->queued--;
  return d;
}

/* Only a task that waits holds the loop: a socket left open does not keep
 * the process from ending. */
static void hold_loop(udp *u) {
  if (u->life.closed) return;
  if (ebb_list_empty(&u->readers)) uv_unref((uv_handle_t *)&u->h);
  else uv_ref((uv_handle_t *)&u->h);
}

/* true, data, ip, port */
static int push_dgram(lua_State *L, const char *data, size_t len, const udp_addr *from) {
  lua_pushboolean(L, 1);
  lua_pushlstring(L, data, len);
  return 2 + udp_push_addr(L, from);
}

/* The first task still waiting, taken off the list; NULL when none. */
static lua_State *take_reader(udp *u, ebb_wait **w) {
  ebb_node *n;
  while ((n = ebb_list_shift(&u->readers)) != NULL) {
    lua_State *co = ebb_wake_push(*w = ebb_container(n, ebb_wait, link));
    if (co) return co;
  }
  return NULL;
}

static int hand_to_reader(udp *u, const char *data, size_t len, const udp_addr *from);

/* A reader that left: by an abort before anything came (it is off the list
 * now), or after it was handed a datagram, which then goes to the next
 * reader or back to the front of the queue (past its limit: it was taken
 * in already). */
static void reader_left(ebb_wait *w, int handed) {
  udp *u = ebb_wait_want(w)->owner;
  lua_State *co = ebb_wait_thread(w);
  udp_addr from;
  const char *data;
  size_t len;
  if (!handed || u->life.closed || lua_gettop(co) < 4 || lua_type(co, 2) != LUA_TSTRING) {
    hold_loop(u);
    return;
  }
  data = lua_tolstring(co, 2, &len);
  if (!udp_parse_addr(lua_tostring(co, 3), (int)lua_tointeger(co, 4), &from)) return;
  if (!hand_to_reader(u, data, len, &from) && put(u, data, len, &from, 1) != 0) u->dropped++;
}

static int hand_to_reader(udp *u, const char *data, size_t len, const udp_addr *from) {
  ebb_wait *w;
  lua_State *co = take_reader(u, &w);
  if (!co) return 0;
  ebb_wake_handed(w, push_dgram(co, data, len, from), &(ebb_want){.owner = u, .on_cancel = reader_left});
  hold_loop(u);
  return 1;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static EBB_THREAD_LOCAL char space[65536]; /* each datagram is copied out before the next is read */
  (void)h;
  (void)hint;
  *buf = uv_buf_init(space, sizeof space);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr, unsigned flags) {
  udp *u = (udp *)h;
  udp_addr from;
  (void)flags;
  if (nread < 0) { /* an ICMP error of a connected socket (ECONNREFUSED): the next reader's */
    ebb_wait *w;
    lua_State *co = take_reader(u, &w);
    if (co) {
      ebb_wake_done(w, ebb_push_uv_error(co, (int)nread));
      hold_loop(u);
    } else {
      u->recv_error = (int)nread;
    }
    return;
  }
  if (!addr) return; /* nothing more to read for now */
  memset(&from, 0, sizeof from);
  memcpy(&from, addr, addr->sa_family == AF_INET6 ? sizeof from.in6 : sizeof from.in);
  if (hand_to_reader(u, buf->base, (size_t)nread, &from)) return;
  if (u->queued >= u->max_queued || put(u, buf->base, (size_t)nread, &from, 0) != 0) u->dropped++;
}

/* A datagram the system already has that libuv has not read yet: a recv
 * with a timeout takes it now, as a timeout may pass before the loop next
 * polls the socket (at once with 0, or on virtual time). Only when no task
 * waits before this one. Returns what it pushed; 0 when there is none. */
static int read_arrived(lua_State *L, udp *u) {
  static EBB_THREAD_LOCAL char space[65536];
  uv_os_fd_t fd;
  udp_addr from;
  socklen_t len = sizeof from;
  ssize_t n;
  if (!ebb_list_empty(&u->readers) || uv_fileno((uv_handle_t *)&u->h, &fd) != 0) return 0;
  memset(&from, 0, sizeof from);
  do n = recvfrom(fd, space, sizeof space, MSG_DONTWAIT, &from.sa, &len);
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : ebb_push_uv_error(L, -errno);
  return push_dgram(L, space, (size_t)n, &from);
}

void udp_recv_closing(udp *u) {
  udp_dgram *d;
  ebb_wait *w;
  lua_State *co;
  while ((d = take(u)) != NULL) free(d);
  while ((co = take_reader(u, &w)) != NULL) {
    lua_pushboolean(co, 1);
    lua_pushnil(co);
    ebb_wake_done(w, 2);
  }
}

/* Whether the socket has an address to receive on (not the wildcard
 * libuv would bind to on its own). */
static int bound(udp *u) {
  udp_addr a;
  int len = sizeof a;
  if (uv_udp_getsockname(&u->h, &a.sa, &len) != 0) return 0;
  return a.sa.sa_family == AF_INET6 ? a.in6.sin6_port != 0 : a.in.sin_port != 0;
}

/* recv(h, timeout_ms|nil, signal) -> true, data, ip, port | true, nil once
 * closed | nil, code, msg | nil, "timeout" | false, reason */
int udp_l_recv(lua_State *L) {
  udp *u = udp_check(L, 1);
  double timeout = lua_isnoneornil(L, 2) ? -1 : ebb_check_ms(L, 2, "timeout");
  int r = ebb_request_begin(L, 3);
  udp_dgram *d;
  if (r) return r;
  if ((d = take(u)) != NULL) {
    r = push_dgram(L, d->data, d->len, &d->from);
    free(d);
    return r;
  }
  if (u->life.closed) {
    lua_pushboolean(L, 1);
    lua_pushnil(L);
    return 2;
  }
  if ((r = u->recv_error) != 0) {
    u->recv_error = 0;
    return ebb_push_uv_error(L, r);
  }
  if (!u->receiving) {
    if (!bound(u)) return ebb_push_uv_error(L, UV_ENOTCONN);
    if ((r = uv_udp_recv_start(&u->h, on_alloc, on_recv)) != 0) return ebb_push_uv_error(L, r);
    u->receiving = 1;
  }
  if (timeout >= 0 && (r = read_arrived(L, u)) != 0) return r;
  uv_ref((uv_handle_t *)&u->h);
  return ebb_wait_with(L, &u->readers, timeout, 3, &(ebb_want){.owner = u, .on_cancel = reader_left});
}

/* A recv that ended without a datagram (timed out, or aborted after it
 * timed out) may have left the readers' list without a word: the loop is
 * held again only as the readers left say. */
int udp_l_recv_ended(lua_State *L) {
  hold_loop(udp_check(L, 1));
  return 0;
}

/* queued(h) -> datagrams waiting to be received, datagrams dropped */
int udp_l_queued(lua_State *L) {
  udp *u = udp_check(L, 1);
  lua_pushnumber(L, (lua_Number)u->queued);
  lua_pushnumber(L, u->dropped);
  return 2;
}
