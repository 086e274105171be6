/* What a server writes back: the head (status line, the handler's headers,
 * Content-Length or chunked framing, Date, Connection), then the body whole
 * or in chunks, each write one writev (uv_try_write first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "http_server.h"

typedef struct head {
  char *p;
  size_t len, cap;
  char local[1024];
  int failed;
} head;

static void head_init(head *h) {
  h->p = h->local;
  h->len = 0;
  h->cap = sizeof h->local;
  h->failed = 0;
}

static void put(head *h, const char *s, size_t n) {
  if (h->len + n > h->cap) {
    size_t cap = h->cap * 2;
    char *p;
    while (cap < h->len + n) cap *= 2;
    p = h->p == h->local ? malloc(cap) : realloc(h->p, cap);
    if (!p) {
      h->failed = 1;
      return;
    }
    if (h->p == h->local) memcpy(p, h->local, h->len);
    h->p = p;
    h->cap = cap;
  }
  memcpy(h->p + h->len, s, n);
  h->len += n;
}

static void puts_(head *h, const char *s) { put(h, s, strlen(s)); }

static void head_free(head *h) {
  if (h->p != h->local) free(h->p);
}

/* The Date header's value, made once a second. */
static const char *date_now(void) {
  static EBB_THREAD_LOCAL char buf[64];
  static EBB_THREAD_LOCAL time_t made;
  time_t now = time(NULL);
  if (now != made) {
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    made = now;
  }
  return buf;
}

static int no_body_status(int status) { return (status >= 100 && status < 200) || status == 204 || status == 304; }

static void status_line(head *h, int status) {
  char line[64];
  const char *reason = http_status_str((enum http_status)status);
  int n;
  if (!strcmp(reason, "<unknown>")) reason = "Unknown";
  n = snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, reason);
  put(h, line, (size_t)n);
}

enum { SAW_LENGTH = 1, SAW_DATE = 2, SAW_CLOSE = 4 };

static int is(const char *k, size_t n, const char *name) { return n == strlen(name) && !memcmp(k, name, n); }

static void put_field(head *h, const char *k, size_t kn, const char *v, size_t vn) {
  put(h, k, kn);
  put(h, ": ", 2);
  put(h, v, vn);
  put(h, "\r\n", 2);
}

/* The handler's headers: values at vi by lower-case name (a string, or a
 * list of them sent one line each), the names as given at ni. Content-Length
 * is the server's when the body is whole; Transfer-Encoding is always the
 * server's; Connection is left for the caller to send (its value at *conn,
 * *conn_len: the string stays in the table), as the server may have to say
 * close instead. */
static int user_headers(lua_State *L, int vi, int ni, head *h, int whole, const char **conn, size_t *conn_len) {
  int saw = 0;
  if (lua_type(L, vi) != LUA_TTABLE) return 0;
  lua_pushnil(L);
  while (lua_next(L, vi)) {
    size_t kn, vn, i, n;
    int vt = lua_type(L, -1);
    const char *k, *v;
    if (lua_type(L, -2) != LUA_TSTRING || (vt != LUA_TSTRING && vt != LUA_TTABLE)) {
      lua_pop(L, 1);
      continue;
    }
    k = lua_tolstring(L, -2, &kn);
    if (is(k, kn, "transfer-encoding") || (whole && is(k, kn, "content-length"))) {
      lua_pop(L, 1);
      continue;
    }
    if (is(k, kn, "connection") && vt == LUA_TSTRING) {
      *conn = lua_tolstring(L, -1, conn_len);
      lua_pop(L, 1);
      continue;
    }
    if (is(k, kn, "content-length")) saw |= SAW_LENGTH;
    else if (is(k, kn, "date")) saw |= SAW_DATE;
    if (lua_type(L, ni) == LUA_TTABLE) {
      lua_pushvalue(L, -2);
      lua_rawget(L, ni);
      if (lua_type(L, -1) == LUA_TSTRING) k = lua_tolstring(L, -1, &kn); /* held by ni */
      lua_pop(L, 1);
    }
    if (vt == LUA_TSTRING) {
      v = lua_tolstring(L, -1, &vn);
      put_field(h, k, kn, v, vn);
    } else {
      for (i = 1, n = lua_objlen(L, -1); i <= n; i++) {
        lua_rawgeti(L, -1, (int)i);
        if (lua_type(L, -1) == LUA_TSTRING) {
          v = lua_tolstring(L, -1, &vn);
          put_field(h, k, kn, v, vn);
        }
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  return saw;
}

/* Whether the connection closes after r's response (a client still waiting
 * to send a body nobody asked for with 100 Continue included). */
static int closes(const hreq *r) {
  return r->close_after || !r->keep_alive || (r->conn && (r->conn->srv->closing || r->conn->eof)) ||
         (r->expect_continue && !r->continue_sent && !r->body_done);
}

/* The head of r's response; whole: the body follows in full (len bytes). */
static void build_head(lua_State *L, hreq *r, head *h, int status, int whole, size_t len) {
  const char *conn = NULL;
  size_t conn_len = 0;
  /* a HEAD's Content-Length is what a GET would have: the handler's, if set */
  int saw = user_headers(L, 3, 4, h, whole && !r->is_head, &conn, &conn_len);
  char line[64];
  if (conn && conn_len == 5 && !strncasecmp(conn, "close", 5)) r->close_after = 1;
  if (!no_body_status(status)) {
    if (whole && !(saw & SAW_LENGTH)) {
      int n = snprintf(line, sizeof line, "Content-Length: %zu\r\n", len);
      put(h, line, (size_t)n);
    } else if (!(saw & SAW_LENGTH)) {
      if (r->major == 1 && r->minor >= 1) {
        r->chunked = 1;
        puts_(h, "Transfer-Encoding: chunked\r\n");
      } else {
        r->close_after = 1; /* HTTP/1.0: the end of the body is the end of the connection */
      }
    }
  }
  if (!(saw & SAW_DATE)) {
    puts_(h, "Date: ");
    puts_(h, date_now());
    puts_(h, "\r\n");
  }
  if (closes(r)) {
    puts_(h, "Connection: close\r\n\r\n");
  } else if (conn) {
    puts_(h, "Connection: ");
    put(h, conn, conn_len);
    puts_(h, "\r\n\r\n");
  } else if (r->minor == 0) {
    puts_(h, "Connection: keep-alive\r\n\r\n");
  } else {
    puts_(h, "\r\n");
  }
}

static void finished(hreq *r) {
  r->finished = 1;
  if (r->conn) hconn_response_done(r->conn);
}

/* send(req, status, values, names, chunk, last, signal) -> true | false, reason | nil, code, msg
 * The first call writes the head: with last, a whole response (chunk is
 * its body); without, a streamed one (chunked on HTTP/1.1 unless the
 * handler set Content-Length). Waits while the socket's queue is full. */
static int l_send(lua_State *L) {
  hreq *r = hreq_check(L, 1);
  int status = (int)ebb_check_whole(L, 2, "status", 100, 999);
  size_t len = 0;
  const char *chunk = lua_isnoneornil(L, 5) ? NULL : luaL_checklstring(L, 5, &len);
  int last = lua_toboolean(L, 6), nb = 0, err, n;
  uv_buf_t bufs[4];
  char size[24];
  head h;
  uvs *s;
  if (!last && (n = ebb_request_begin(L, 7)) != 0) return n;
  if (r->finished || !r->conn || r->conn->closed || r->conn->ending) {
    if (last) r->finished = 1;
    if (last || r->by_server) {
      lua_pushboolean(L, 1);
      return 1;
    }
    return ebb_push_uv_error(L, UV_ECONNRESET);
  }
  s = r->conn->s;
  head_init(&h);
  if (!r->headers_sent) {
    r->headers_sent = 1;
    status_line(&h, status);
    build_head(L, r, &h, status, last && !r->chunked, len);
    if (h.failed) {
      head_free(&h);
      return luaL_error(L, "out of memory");
    }
    bufs[nb++] = uv_buf_init(h.p, (unsigned)h.len);
    if (r->is_head || no_body_status(status)) { /* the head says what a body would be; none follows */
      r->silent = 1;
      r->chunked = 0;
    }
  }
  if (r->silent) len = 0;
  if (len > 0 && r->chunked) {
    n = snprintf(size, sizeof size, "%zx\r\n", len);
    bufs[nb++] = uv_buf_init(size, (unsigned)n);
  }
  if (len > 0) bufs[nb++] = uv_buf_init((char *)chunk, (unsigned)len);
  if (r->chunked) {
    if (len > 0 && last) bufs[nb++] = uv_buf_init("\r\n0\r\n\r\n", 7);
    else if (len > 0) bufs[nb++] = uv_buf_init("\r\n", 2);
    else if (last) bufs[nb++] = uv_buf_init("0\r\n\r\n", 5);
  }
  err = nb ? uvs_write_copy(s, bufs, (unsigned)nb) : 0;
  head_free(&h);
  if (err) {
    hconn_close(r->conn);
    if (last) r->finished = 1;
    return last ? (lua_pushboolean(L, 1), 1) : ebb_push_uv_error(L, err);
  }
  if (last) {
    finished(r);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (s->u.stream.write_queue_size <= s->high_water_mark) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return ebb_wait_on(L, &s->writers, -1, 7);
}

/* abort(req): a response cut short (its handler failed after the head was
 * sent): the connection closes, so the client sees it incomplete. */
static int l_abort(lua_State *L) {
  hreq *r = hreq_check(L, 1);
  r->finished = 1;
  if (r->conn) hconn_close(r->conn);
  return 0;
}

/* close_after(req): the connection ends once this response is written (a
 * written body short of its Content-Length, which the client still waits for). */
static int l_close_after(lua_State *L) {
  hreq *r = hreq_check(L, 1);
  if (!r->silent) r->close_after = 1;
  return 0;
}

/* state(req) -> headers sent, answered by the server (bad input) */
static int l_state(lua_State *L) {
  hreq *r = hreq_check(L, 1);
  lua_pushboolean(L, r->headers_sent);
  lua_pushboolean(L, r->by_server);
  return 2;
}

void hresp_status_only(hconn *c, hreq *r, int status) {
  char text[256];
  const char *reason = http_status_str((enum http_status)status);
  int n = snprintf(text, sizeof text,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                   "Date: %s\r\nConnection: close\r\n\r\n%s",
                   status, reason, strlen(reason), date_now(), reason);
  uv_buf_t b = uv_buf_init(text, (unsigned)n);
  if (r) r->headers_sent = r->finished = r->by_server = 1;
  if (c->closed || c->ending) return;
  uvs_write_copy(c->s, &b, 1);
  hconn_end(c);
}

const luaL_Reg hresp_fns[] = {
  {"send", l_send}, {"abort", l_abort}, {"close_after", l_close_after}, {"state", l_state}, {NULL, NULL}};
