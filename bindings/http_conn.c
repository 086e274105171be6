/* An HTTP server's connection: reads the socket in C, parses with
 * http-parser, hands each request head to the server's dispatcher, queues
 * its body for the reader, and reads the next request once the response to
 * this one is written (pipelined requests wait their turn in `unparsed`).
 * Limits and timeouts end a connection with the status they call for. */
#include <stdlib.h>
#include <string.h>
#include "http_server.h"

static hconn *conn_of(uvs *s) { return s->hooked; }

static void release_refs(hconn *c) {
  lua_State *L = ebb_main_state();
  if (!ebb_lua_alive()) return;
  luaL_unref(L, LUA_REGISTRYINDEX, c->box_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, c->srv_ref);
  c->box_ref = c->srv_ref = LUA_NOREF;
}

/* The request in flight is let go, and so is a head half read. */
static void drop_request(hconn *c) {
  hreq *r = c->req;
  c->req = NULL;
  if (r) hreq_release(r);
}

static void on_closing(uvs *s) {
  hconn *c = conn_of(s);
  c->closed = 1;
  ebb_fail_all(&s->writers, UV_ECONNRESET); /* a response's writer waiting for the queue to drain */
  ebb_timer_stop(&c->timer);
  ebb_node_unlink(&c->link);
  c->srv->nconns--;
  if (c->req) {
    hreq_client_gone(c->req);
    drop_request(c);
  }
  release_refs(c);
}

static void on_freed(uvs *s) {
  hconn *c = conn_of(s);
  free(c->head);
  free(c->fields);
  free(c->unparsed);
  free(c);
}

void hconn_close(hconn *c) {
  if (!c->closed) uvs_close(c->s);
}

static void on_shut(uv_shutdown_t *req, int status) {
  uvs *s = (uvs *)req->handle;
  (void)status;
  free(req);
  uvs_close(s);
}

/* A client that does not take the rest of what is queued is not waited for
 * longer than an idle one would be. */
#define LINGER_MS 5000

void hconn_end(hconn *c) {
  uv_shutdown_t *req;
  if (c->closed || c->ending) return;
  c->ending = 1;
  ebb_timer_start(&c->timer, c->srv->keep_alive_timeout > 0 ? c->srv->keep_alive_timeout : LINGER_MS);
  uvs_read_stop(c->s);
  if (!(req = malloc(sizeof *req)) || uv_shutdown(req, &c->s->u.stream, on_shut) != 0) {
    free(req);
    hconn_close(c);
  }
}

/* ---- timeouts ---- */

static void timer_fired(ebb_timer *t) {
  hconn *c = ebb_container(t, hconn, timer);
  hreq *r = c->req;
  if (!c->in_message || c->ending) {
    hconn_close(c); /* idle too long, or its last bytes not taken */
    return;
  }
  if (r) hreq_body_failed(r, UV_ETIMEDOUT); /* the body came too slowly */
  if (r && r->headers_sent) hconn_close(c);
  else hresp_status_only(c, r, 408);
}

static void arm(hconn *c, double ms) {
  if (ms > 0) ebb_timer_start(&c->timer, ms);
  else ebb_timer_stop(&c->timer);
}

/* ---- the head, as http-parser hands it in pieces ---- */

static int append(hconn *c, const char *at, size_t len) {
  if (c->head_len + len > c->srv->max_header_size) {
    c->fail_status = 431;
    return -1;
  }
  if (c->head_len + len > c->head_cap) {
    size_t cap = c->head_cap ? c->head_cap * 2 : 1024;
    char *p;
    while (cap < c->head_len + len) cap *= 2;
    if (!(p = realloc(c->head, cap))) return -1;
    c->head = p;
    c->head_cap = cap;
  }
  memcpy(c->head + c->head_len, at, len);
  c->head_len += len;
  return 0;
}

static int on_message_begin(http_parser *p) {
  hconn *c = p->data;
  c->in_message = 1;
  c->head_len = c->url_len = 0;
  c->nfields = 0;
  c->in_value = 0;
  c->began = ebb_now();
  arm(c, c->srv->headers_timeout);
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  hconn *c = p->data;
  if (append(c, at, len)) return -1;
  c->url_len += len;
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  hconn *c = p->data;
  hfield *f;
  if (c->in_value || c->nfields == 0) {
    if (c->nfields == c->fields_cap) {
      int cap = c->fields_cap ? c->fields_cap * 2 : 16;
      hfield *n = realloc(c->fields, (size_t)cap * sizeof *n);
      if (!n) return -1;
      c->fields = n;
      c->fields_cap = cap;
    }
    f = &c->fields[c->nfields++];
    f->name = c->head_len;
    f->name_len = f->value_len = 0;
    f->value = c->head_len;
    c->in_value = 0;
  }
  f = &c->fields[c->nfields - 1];
  if (append(c, at, len)) return -1;
  f->name_len += len;
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  hconn *c = p->data;
  hfield *f = &c->fields[c->nfields - 1];
  if (!c->in_value) {
    f->value = c->head_len;
    c->in_value = 1;
  }
  if (append(c, at, len)) return -1;
  f->value_len += len;
  return 0;
}

static int value_is(const hreq *r, const hfield *f, const char *name, const char *value) {
  size_t n = strlen(value);
  return f->name_len == strlen(name) && memcmp(r->head + f->name, name, f->name_len) == 0 &&
         f->value_len == n && strncasecmp(r->head + f->value, value, n) == 0;
}

/* The head is whole: it becomes a request, handed to the dispatcher. */
static int on_headers_complete(http_parser *p) {
  hconn *c = p->data;
  hserver *srv = c->srv;
  hreq *r = calloc(1, sizeof *r);
  int has_length = p->content_length > 0 && p->content_length != ULLONG_MAX, i;
  if (!r) return -1;
  r->has_body = (p->flags & F_CHUNKED) || has_length;
  ebb_timer_stop(&c->timer);
  if (r->has_body && srv->request_timeout > 0) { /* the body has what is left of request_timeout */
    double left = srv->request_timeout - (ebb_now() - c->began);
    ebb_timer_start(&c->timer, left > 0 ? left : 0);
  }
  r->head = c->head;
  r->url_len = c->url_len;
  r->fields = c->fields;
  r->nfields = c->nfields;
  c->head = NULL;
  c->fields = NULL;
  c->head_cap = 0;
  c->fields_cap = 0;
  for (i = 0; i < r->nfields; i++) { /* names are matched in lower case */
    char *n = r->head + r->fields[i].name;
    size_t k;
    for (k = 0; k < r->fields[i].name_len; k++) n[k] = (char)(n[k] >= 'A' && n[k] <= 'Z' ? n[k] + 32 : n[k]);
    if (value_is(r, &r->fields[i], "expect", "100-continue")) r->expect_continue = 1;
  }
  r->conn = c;
  r->id = ++srv->next_id;
  r->method = (unsigned char)p->method;
  r->major = (unsigned char)p->http_major;
  r->minor = (unsigned char)p->http_minor;
  r->keep_alive = http_should_keep_alive(p) && !p->upgrade;
  r->is_head = p->method == HTTP_HEAD;
  r->body_done = !r->has_body;
  r->signal_ref = r->reason_ref = LUA_NOREF;
  ebb_waitlist_init(&r->readers);
  c->req = r;
  if (has_length && p->content_length > srv->max_body_size) {
    c->fail_status = 413;
    return -1;
  }
  ebb_list_push(&srv->ready, &r->ready_link);
  if (!ebb_list_empty(&srv->dispatcher)) ebb_wake(ebb_container(srv->dispatcher.next, ebb_wait, link));
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  hconn *c = p->data;
  hreq *r = c->req;
  r->body_total += len;
  if (r->body_total > c->srv->max_body_size) {
    c->fail_status = 413;
    return -1;
  }
  if (!r->finished) hreq_body(r, at, len); /* once answered, the rest is read and dropped */
  return 0;
}

static int on_message_complete(http_parser *p) {
  hconn *c = p->data;
  hreq *r = c->req;
  c->in_message = 0;
  ebb_timer_stop(&c->timer);
  r->body_done = 1;
  hreq_body(r, NULL, 0);
  if (!r->finished) {
    http_parser_pause(p, 1); /* the next request waits for this response */
    return 0;
  }
  drop_request(c); /* answered before its body had come */
  arm(c, c->srv->keep_alive_timeout);
  return 0;
}

static const http_parser_settings settings = {
  .on_message_begin = on_message_begin,
  .on_url = on_url,
  .on_header_field = on_header_field,
  .on_header_value = on_header_value,
  .on_headers_complete = on_headers_complete,
  .on_body = on_body,
  .on_message_complete = on_message_complete,
};

/* ---- reading ---- */

static int status_of(hconn *c) {
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (c->fail_status) return c->fail_status;
  if (e == HPE_HEADER_OVERFLOW) return 431;
  return 400;
}

/* Bad input: the request in flight, if any, fails; the client gets the
 * status unless its response has begun; the connection closes after. */
static void fail(hconn *c) {
  int status = status_of(c);
  hreq *r = c->req;
  if (r) hreq_body_failed(r, status == 413 ? UV_E2BIG : UV_EPROTO);
  if (r && r->headers_sent) hconn_close(c);
  else hresp_status_only(c, r, status);
}

/* Keeps what the parser did not take (it paused after a message) for later:
 * bytes just read are added to those kept. */
static void keep(hconn *c, const char *data, size_t len) {
  char *p = realloc(c->unparsed, c->unparsed_len + len);
  if (!p) {
    hconn_close(c);
    return;
  }
  memcpy(p + c->unparsed_len, data, len);
  c->unparsed = p;
  c->unparsed_len += len;
}

/* While a response is pending the socket is still read, so that a client
 * going away is seen, until a window's worth of the next requests is kept. */
static void hold(hconn *c, const char *data, size_t len) {
  keep(c, data, len);
  if (c->unparsed_len >= HTTP_BODY_HWM) uvs_read_stop(c->s);
}

static void parse(hconn *c, const char *data, size_t len) {
  size_t n;
  if (c->paused) {
    hold(c, data, len);
    return;
  }
  n = http_parser_execute(&c->parser, &settings, data, len);
  if (c->closed || c->ending) return;
  if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED) {
    c->paused = 1;
    if (n < len) hold(c, data + n, len - n);
    return;
  }
  if (c->parser.upgrade && HTTP_PARSER_ERRNO(&c->parser) == HPE_OK) {
    uvs_read_stop(c->s); /* what follows is another protocol: the response ends the connection */
    return;
  }
  if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || n != len) fail(c);
}

/* Parses what was kept while the last response was pending. */
static void parse_kept(hconn *c) {
  char *data = c->unparsed;
  size_t len = c->unparsed_len;
  c->unparsed = NULL;
  c->unparsed_len = 0;
  parse(c, data, len);
  free(data);
}

static void on_data(uvs *s, const char *data, size_t len) { parse(conn_of(s), data, len); }

/* The client sent its end, or the socket failed. Go's way: a request in
 * flight learns the client is gone (its signal aborts); after an end its
 * response is still written, then the connection closes. */
static void on_ended(uvs *s, int err) {
  hconn *c = conn_of(s);
  c->eof = 1;
  if (c->req) {
    if (!c->req->body_done) hreq_body_failed(c->req, err == UV_EOF ? UV_ECONNRESET : err);
    hreq_client_gone(c->req);
  }
  if (err != UV_EOF || !c->req) hconn_close(c);
}

static const uvs_hooks hooks = {on_data, on_ended, on_closing, on_freed};

void hconn_response_done(hconn *c) {
  hreq *r = c->req;
  if (c->closed || c->ending) return;
  if (r->close_after || !r->keep_alive || c->srv->closing || c->eof) {
    drop_request(c);
    hconn_end(c);
    return;
  }
  if (!r->body_done) {
    if (!r->expect_continue || r->continue_sent) { /* the rest of the body is read and dropped */
      uvs_read_start(c->s);
      return;
    }
    drop_request(c); /* the client waits for a 100 it will not get: it may not send the body */
    hconn_end(c);
    return;
  }
  drop_request(c);
  arm(c, c->srv->keep_alive_timeout);
  c->paused = 0;
  http_parser_pause(&c->parser, 0);
  if (c->unparsed_len) parse_kept(c);
  if (!c->closed && !c->ending && c->unparsed_len < HTTP_BODY_HWM && !c->eof) uvs_read_start(c->s);
}

void hconn_body_drained(hconn *c) {
  if (!c->closed && !c->ending && c->unparsed_len < HTTP_BODY_HWM) uvs_read_start(c->s);
}

void hconn_attach(lua_State *L, hserver *srv, uvs *s, int stream_idx, int server_idx) {
  hconn *c = calloc(1, sizeof *c);
  int r;
  if (!c) luaL_error(L, "out of memory");
  c->srv = srv;
  c->s = s;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  ebb_timer_init(&c->timer, timer_fired);
  ebb_timer_set_weak(&c->timer, 1);
  lua_pushvalue(L, stream_idx);
  c->box_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, server_idx);
  c->srv_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  ebb_list_push(&srv->conns, &c->link);
  srv->nconns++;
  s->hooked = c;
  s->hooks = &hooks;
  arm(c, srv->headers_timeout); /* a client that connects and says nothing counts as slow */
  if ((r = uvs_read_start(s)) != 0) hconn_close(c);
}
