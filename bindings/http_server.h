/* ebb.http's server in C: a server's connections (each an ebb stream read
 * in C by http-parser), the requests they hand to the Lua side one at a
 * time, and the responses written back. Shared by http_server.c (the Lua
 * face), http_conn.c (reading and parsing), http_request.c (a request's
 * head and body) and http_response.c (what is written back). */
#ifndef EBB_HTTP_SERVER_H
#define EBB_HTTP_SERVER_H

#include <http_parser.h>
#include "uvstream.h"

#define HTTP_SERVER_MT "ebb.http.server"
#define HTTP_REQUEST_MT "ebb.http.request"
#define HTTP_BODY_HWM 65536 /* body bytes buffered before the socket stops being read */

typedef struct hserver {
  ebb_waitlist dispatcher; /* the task that takes requests */
  ebb_node ready;          /* requests whose heads are read, not yet taken */
  ebb_node conns;
  size_t max_header_size, max_body_size;
  double headers_timeout, request_timeout, keep_alive_timeout;
  double next_id;
  int nconns;
  unsigned closing : 1;
} hserver;

typedef struct hfield {
  size_t name, name_len, value, value_len; /* offsets in the head */
} hfield;

typedef struct hconn hconn;

typedef struct hreq {
  ebb_node ready_link;   /* in the server's ready list until taken */
  hconn *conn;           /* NULL once the connection has let it go */
  char *head;            /* the target, then each header's name (lower case) and value */
  size_t url_len;
  hfield *fields;
  int nfields;
  double id;
  unsigned char method, major, minor;
  unsigned keep_alive : 1, has_body : 1, body_done : 1, expect_continue : 1, continue_sent : 1,
    is_head : 1, headers_sent : 1, chunked : 1, finished : 1, by_server : 1, client_gone : 1,
    boxed : 1, box_gone : 1, close_after : 1, silent : 1, body_end_seen : 1;
  uvs_queue body;        /* read and not yet taken */
  size_t body_total;
  int body_error;        /* a libuv error, or UV_EOF when the client went away */
  ebb_waitlist readers;  /* the task reading the body */
  int signal_ref, reason_ref; /* req.signal and the reason it aborts with, once made */
} hreq;

struct hconn {
  ebb_node link;         /* in the server's conns */
  hserver *srv;
  uvs *s;
  int box_ref, srv_ref;  /* the stream's and the server's userdata, held while open */
  http_parser parser;
  ebb_timer timer;       /* headers, then request timeout while a request is read; keep-alive while idle */
  double began;          /* when the request being read began (ebb_now) */
  hreq *req;             /* the request being read or answered: one at a time */
  char *head;
  size_t head_len, head_cap, url_len;
  hfield *fields;
  int nfields, fields_cap, fail_status;
  char *unparsed;        /* bytes read past a message whose response is pending */
  size_t unparsed_len;
  unsigned in_value : 1, in_message : 1, paused : 1, eof : 1, closed : 1, ending : 1;
};

/* http_conn.c */
void hconn_attach(lua_State *L, hserver *srv, uvs *s, int stream_idx, int server_idx);
/* The response to c's request is all written: the next request is read. */
void hconn_response_done(hconn *c);
/* Closes c at once (the request in flight, if any, is let go). */
void hconn_close(hconn *c);
/* Stops reading requests and closes once what is queued is written. */
void hconn_end(hconn *c);
/* The body reader took bytes: reading may go on. */
void hconn_body_drained(hconn *c);

/* http_request.c */
void hreq_push_box(lua_State *L, hreq *r);
hreq *hreq_check(lua_State *L, int idx);
/* The connection lets r go: waits on it end, it is freed once its box is. */
void hreq_release(hreq *r);
/* A chunk of the body (NULL, 0: its end) for the reader or the buffer. */
void hreq_body(hreq *r, const char *data, size_t len);
/* The body ends in an error (a libuv error): the reader gets it. */
void hreq_body_failed(hreq *r, int err);
/* The client went away: req.signal aborts. */
void hreq_client_gone(hreq *r);
void hreq_make_metatable(lua_State *L);
extern const luaL_Reg hreq_fns[];

/* http_response.c */
/* Writes a response of the server's own (400, 408, 413, 431, 500) with a
 * short text body; the connection closes after it. */
void hresp_status_only(hconn *c, hreq *r, int status);
extern const luaL_Reg hresp_fns[];

#endif
