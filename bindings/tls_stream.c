/* The TLS layer of a stream: OpenSSL works on memory, libuv on the socket.
 * What the socket reads goes into OpenSSL through a BIO of our own that reads
 * straight from libuv's buffer, and what OpenSSL writes collects in a block
 * that goes to the socket whole after each SSL_write (a big write makes
 * full-size records, written with one system call), handed over rather than
 * copied when the socket cannot take it at once. That block is one for all
 * streams (each SSL call's output is written before the next call), so an
 * idle connection holds none. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tls.h"

#define PLAIN_SIZE 65536 /* what one delivery to the readers holds at most */
#define OUT_SIZE (1 << 17) /* a 64 KiB write in records, with room to spare */

typedef struct tls_stream {
  SSL *ssl;
  const char *in; /* bytes read from the socket and not yet taken by OpenSSL */
  size_t in_len;
  char *host; /* the name the certificate must match, for messages */
  char failure[160]; /* why reading failed after the handshake (the stream's read_reason) */
  int handshaking;
} tls_stream;

/* The records the current SSL call made, to be written. */
static EBB_THREAD_LOCAL char *out;
static EBB_THREAD_LOCAL size_t out_len, out_cap;

static tls_stream *of(uvs *s) { return s->layered; }

/* ---- the BIO between OpenSSL and the stream ---- */

static int bio_write(BIO *b, const char *data, int len) {
  size_t need = out_len + (size_t)len;
  (void)b;
  if (need > out_cap) {
    size_t cap = out_cap ? out_cap : OUT_SIZE;
    char *grown;
    while (cap < need) cap *= 2;
    if (!(grown = realloc(out, cap))) return -1;
    out = grown;
    out_cap = cap;
  }
  memcpy(out + out_len, data, (size_t)len);
  out_len = need;
  return len;
}

static int bio_read(BIO *b, char *data, int len) {
  tls_stream *t = BIO_get_data(b);
  size_t n = t->in_len < (size_t)len ? t->in_len : (size_t)len;
  BIO_clear_flags(b, BIO_FLAGS_RWS | BIO_FLAGS_SHOULD_RETRY);
  if (n == 0) { /* more comes when the socket reads it */
    BIO_set_flags(b, BIO_FLAGS_READ | BIO_FLAGS_SHOULD_RETRY);
    return -1;
  }
  memcpy(data, t->in, n);
  t->in += n;
  t->in_len -= n;
  return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b, (void)num, (void)ptr;
  return cmd == BIO_CTRL_FLUSH;
}

/* One for the process, made once whichever thread asks first. */
static BIO_METHOD *method;
static void make_bio_method(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ebb stream");
  if (!m) return;
  BIO_meth_set_write(m, bio_write);
  BIO_meth_set_read(m, bio_read);
  BIO_meth_set_ctrl(m, bio_ctrl);
  method = m;
}

static BIO_METHOD *bio_method(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, make_bio_method);
  return method;
}

/* The records OpenSSL made go to the socket: 0 or a libuv error. */
static int flush(uvs *s) {
  int r;
  if (out_len == 0) return 0;
  r = uvs_write_block(s, out, out_len);
  if (r == 1) out = NULL, out_cap = 0; /* the stream has the block now */
  out_len = 0;
  return r < 0 ? r : 0;
}

/* ---- the handshake ---- */

static const char *verify_code(long v) {
  switch (v) {
#define NAME(c) \
  case X509_V_ERR_##c: \
    return #c;
    NAME(HOSTNAME_MISMATCH) NAME(IP_ADDRESS_MISMATCH) NAME(CERT_HAS_EXPIRED) NAME(CERT_NOT_YET_VALID)
    NAME(DEPTH_ZERO_SELF_SIGNED_CERT) NAME(SELF_SIGNED_CERT_IN_CHAIN) NAME(UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
    NAME(UNABLE_TO_GET_ISSUER_CERT) NAME(UNABLE_TO_VERIFY_LEAF_SIGNATURE) NAME(CERT_UNTRUSTED)
    NAME(CERT_REJECTED) NAME(CERT_REVOKED) NAME(INVALID_PURPOSE) NAME(CERT_SIGNATURE_FAILURE)
#undef NAME
  default:
    return "CERT_VERIFY_FAILED";
  }
}

static int is_ssl_reason(unsigned long e, int reason) {
  return ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == reason;
}

/* Pushes nil, code, message for a handshake that failed; returns 3. */
static int push_failure(lua_State *co, tls_stream *t) {
  unsigned long e = ERR_peek_last_error();
  long v = SSL_get_verify_result(t->ssl);
  const char *reason = tls_last_reason(NULL);
  lua_pushnil(co);
  if (is_ssl_reason(e, SSL_R_CERTIFICATE_VERIFY_FAILED) && v != X509_V_OK) {
    lua_pushstring(co, verify_code(v));
    if ((v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH) && t->host)
      lua_pushfstring(co, "certificate verify failed: %s (expected %s)", X509_verify_cert_error_string(v), t->host);
    else lua_pushfstring(co, "certificate verify failed: %s", X509_verify_cert_error_string(v));
  } else if (is_ssl_reason(e, SSL_R_WRONG_VERSION_NUMBER) || is_ssl_reason(e, SSL_R_HTTP_REQUEST) ||
             is_ssl_reason(e, SSL_R_PACKET_LENGTH_TOO_LONG)) {
    lua_pushliteral(co, "HANDSHAKE_FAILED");
    lua_pushfstring(co, "handshake failed: %s (is the peer speaking TLS?)", reason);
  } else {
    lua_pushliteral(co, "HANDSHAKE_FAILED");
    lua_pushfstring(co, "handshake failed: %s", reason ? reason : "the peer broke off");
  }
  ERR_clear_error();
  return 3;
}

/* A step of the handshake with what has arrived: 1 once it is done, 0 while
 * it waits for more, -1 when it failed (the waiter is told). */
static int handshake_step(uvs *s, tls_stream *t) {
  int r, err;
  ebb_wait *w;
  lua_State *co;
  ERR_clear_error();
  r = SSL_do_handshake(t->ssl);
  err = r == 1 ? 0 : SSL_get_error(t->ssl, r);
  if (flush(s) != 0 && !err) err = SSL_ERROR_SYSCALL;
  if (err == SSL_ERROR_WANT_READ) return 0;
  t->handshaking = 0;
  co = uvs_take_reader(s, &w); /* the handshake's waiter waits as a reader */
  if (!err) {
    if (co) {
      lua_pushboolean(co, 1);
      lua_pushboolean(co, 1);
      ebb_wake_done(w, 2);
    }
    return 1;
  }
  if (co) ebb_wake_done(w, push_failure(co, t)); /* else l_handshake pushes it */
  s->read_error = UV_EPROTO;
  uvs_read_stop(s);
  return -1;
}

/* ---- the layer ---- */

/* Decrypts all that arrived: what it holds goes to the readers in chunks of
 * up to PLAIN_SIZE; the peer's close_notify is the end. */
static void received(uvs *s, const char *data, size_t len) {
  static EBB_THREAD_LOCAL char plain[PLAIN_SIZE];
  tls_stream *t = of(s);
  size_t n = 0;
  int r, ended = 0;
  t->in = data;
  t->in_len = len;
  if (t->handshaking && handshake_step(s, t) <= 0) {
    t->in_len = 0;
    return;
  }
  ERR_clear_error();
  for (;;) {
    r = SSL_read(t->ssl, plain + n, PLAIN_SIZE - (int)n);
    if (r > 0) {
      if ((n += (size_t)r) == PLAIN_SIZE) {
        flush(s); /* what reading made OpenSSL answer goes first */
        uvs_deliver(s, plain, n);
        n = 0;
      }
      continue;
    }
    r = SSL_get_error(t->ssl, r);
    if (r != SSL_ERROR_WANT_READ) ended = r == SSL_ERROR_ZERO_RETURN ? UV_EOF : UV_EPROTO;
    break;
  }
  if (ended == UV_EPROTO) { /* a fatal alert from the peer, a record that does not decrypt */
    snprintf(t->failure, sizeof t->failure, "TLS failed: %s", tls_last_reason("a broken record"));
    s->read_reason = t->failure;
  }
  ERR_clear_error();
  t->in_len = 0;
  flush(s); /* what reading made OpenSSL answer (a key update) */
  if (n) uvs_deliver(s, plain, n);
  if (ended && !s->life.closed) uvs_read_ended(s, ended);
}

static int layer_write(uvs *s, const char *data, size_t len) {
  tls_stream *t = of(s);
  while (len > 0) {
    int part = len > (1u << 30) ? 1 << 30 : (int)len, r;
    ERR_clear_error();
    if ((r = SSL_write(t->ssl, data, part)) <= 0) {
      ERR_clear_error();
      return UV_EPROTO;
    }
    data += r;
    len -= (size_t)r;
  }
  return flush(s);
}

/* The write side ends with close_notify before the socket's FIN. A peer
 * gone already has nobody to tell: the finish succeeds, as TCP's does. */
static int layer_finish(uvs *s) {
  tls_stream *t = of(s);
  int r;
  ERR_clear_error();
  if (!(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN)) SSL_shutdown(t->ssl);
  ERR_clear_error();
  r = flush(s);
  if (r == UV_EPIPE || r == UV_ECONNRESET) s->write_error = r = 0;
  return r;
}

static void layer_freed(uvs *s) {
  tls_stream *t = of(s);
  SSL_free(t->ssl);
  free(t->host);
  free(t);
  s->layered = NULL;
}

static const uvs_layer tls_layer = {received, layer_write, layer_finish, layer_freed};

/* ---- Lua ---- */

/* A handshake cancelled, or done for a task cancelled before it ran: the
 * connection is of no use to anyone. */
static void handshake_cancelled(ebb_wait *w, int handed) {
  (void)handed;
  uvs_close(ebb_wait_want(w)->owner);
}

static tls_stream *attach(lua_State *L, uvs *s, tls_context *c, const char *servername, const char *host) {
  tls_stream *t = calloc(1, sizeof *t);
  BIO *bio;
  if (!t) luaL_error(L, "out of memory");
  if (!(t->ssl = SSL_new(c->ctx)) || !(bio = BIO_new(bio_method()))) {
    if (t->ssl) SSL_free(t->ssl);
    free(t);
    luaL_error(L, "out of memory");
  }
  BIO_set_data(bio, t);
  BIO_set_init(bio, 1);
  SSL_set_bio(t->ssl, bio, bio);
  if (c->server) {
    SSL_set_accept_state(t->ssl);
  } else {
    SSL_set_connect_state(t->ssl);
    if (servername) SSL_set_tlsext_host_name(t->ssl, servername);
    if (host) {
      SSL_set1_host(t->ssl, host); /* an IP address is checked as one */
      t->host = strdup(host);
    }
  }
  t->handshaking = 1;
  s->layered = t;
  s->layer = &tls_layer;
  return t;
}

/* handshake(stream, context, servername, host, signal, timeout) -> true, true
 * | true, nil when the peer closed first | nil, code, msg | nil, "timeout" |
 * false, reason. servername: sent as SNI; host: what the certificate must
 * match (both nil for a server). */
static int l_handshake(lua_State *L) {
  uvs *s = uvs_check(L, 1);
  tls_context *c = tls_context_check(L, 2);
  const char *servername = ebb_opt_cstring(L, 3, "servername", NULL);
  const char *host = ebb_opt_cstring(L, 4, "host", NULL);
  double timeout = lua_isnoneornil(L, 6) ? -1 : ebb_check_ms(L, 6, "timeout");
  tls_stream *t;
  int r = ebb_request_begin(L, 5);
  if (r) return r;
  if (!s->tcp || s->listening || s->layer || s->hooks) return ebb_argerror(L, 1, "a TCP connection expected");
  if (s->life.closed) return ebb_push_uv_error(L, UV_EPIPE);
  t = attach(L, s, c, servername, host);
  /* the context stays on this stack while the handshake runs: a server's
   * choice of protocol reads it */
  if (handshake_step(s, t) < 0 || (r = uvs_read_start(s)) != 0) {
    if (!t->handshaking) return push_failure(L, t);
    return ebb_push_uv_error(L, r);
  }
  return ebb_wait_with(L, &s->readers, timeout, 5, &(ebb_want){.owner = s, .on_cancel = handshake_cancelled});
}

/* info(stream) -> alpn protocol or nil, servername or nil, version, cipher */
static int l_info(lua_State *L) {
  uvs *s = uvs_check(L, 1);
  tls_stream *t = s->layer == &tls_layer ? of(s) : NULL;
  const unsigned char *alpn;
  unsigned alpn_len = 0;
  const char *name;
  if (!t) return 0;
  SSL_get0_alpn_selected(t->ssl, &alpn, &alpn_len);
  if (alpn_len) lua_pushlstring(L, (const char *)alpn, alpn_len);
  else lua_pushnil(L);
  if ((name = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name)) != NULL) lua_pushstring(L, name);
  else lua_pushnil(L);
  lua_pushstring(L, SSL_get_version(t->ssl));
  lua_pushstring(L, SSL_CIPHER_get_name(SSL_get_current_cipher(t->ssl)));
  return 4;
}

int luaopen_ebb_tls_core(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"context", tls_context_new}, {"handshake", l_handshake}, {"info", l_info}, {NULL, NULL}};
  tls_context_make_metatable(L);
  uvs_make_metatable(L);
  return ebb_new_module(L, fns);
}
