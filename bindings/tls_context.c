/* TLS contexts: OpenSSL's SSL_CTX made from the options of a connect or a
 * listen (the certificate authorities to trust, the certificate and key to
 * show, the protocols to offer). Certificates and keys come as PEM text:
 * ebb.net reads the files of the _file options on the loop. */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include "tls.h"

const char *tls_last_reason(const char *dflt) {
  const char *reason = ERR_reason_error_string(ERR_peek_last_error());
  return reason ? reason : dflt;
}

tls_context *tls_context_check(lua_State *L, int idx) {
  return ebb_check_udata(L, idx, TLS_CONTEXT_MT, "TLS context");
}

static int context_gc(lua_State *L) {
  tls_context *c = tls_context_check(L, 1);
  if (c->ctx) SSL_CTX_free(c->ctx); /* connections made from it hold their own reference */
  c->ctx = NULL;
  return 0;
}

void tls_context_make_metatable(lua_State *L) { ebb_new_metatable(L, TLS_CONTEXT_MT, context_gc, NULL); }

static BIO *pem_bio(lua_State *L, int idx) {
  size_t len;
  const char *pem = lua_tolstring(L, idx, &len);
  return BIO_new_mem_buf(pem, (int)len);
}

/* Each certificate of the PEM text trusted: 0, or the reason it is not. */
static const char *add_authorities(lua_State *L, int idx, SSL_CTX *ctx) {
  BIO *bio = pem_bio(L, idx);
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  X509 *x;
  int n = 0;
  if (!bio) return "out of memory";
  while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    int ok = X509_STORE_add_cert(store, x);
    X509_free(x);
    if (!ok) {
      BIO_free(bio);
      return tls_last_reason("the certificate cannot be trusted");
    }
    n++;
  }
  BIO_free(bio);
  ERR_clear_error(); /* the end of the text reads as an error */
  return n ? NULL : "no PEM certificate in it";
}

/* The system's authorities, one store for every context that trusts them:
 * looked up by subject in the hashed directory (SSL_CERT_DIR, else
 * /usr/lib/ssl/certs) as a chain needs them, and a bundle named by
 * SSL_CERT_FILE read whole, once (some 140 certificates: 30 ms or more). */
static X509_STORE *authorities; /* process-wide, made by whichever thread asks first */
static void load_system_authorities(void) {
  const char *dir = getenv(X509_get_default_cert_dir_env()), *file = getenv(X509_get_default_cert_file_env());
  X509_STORE *store = X509_STORE_new();
  if (!store) return;
  X509_STORE_load_path(store, dir && *dir ? dir : X509_get_default_cert_dir());
  if (file && *file) X509_STORE_load_file(store, file);
  ERR_clear_error(); /* a directory or file that is not there is not an error */
  authorities = store;
}

static X509_STORE *system_authorities(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, load_system_authorities);
  return authorities;
}

/* The first certificate of the PEM text is shown, those after it are the
 * chain up to the authority: 0, or the reason it cannot be used. */
static const char *use_certificate(lua_State *L, int idx, SSL_CTX *ctx) {
  BIO *bio = pem_bio(L, idx);
  X509 *x;
  const char *why = NULL;
  if (!bio) return "out of memory";
  if (!(x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) why = "no PEM certificate in it";
  else if (!SSL_CTX_use_certificate(ctx, x)) why = tls_last_reason("the certificate cannot be used");
  X509_free(x);
  while (!why && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    if (!SSL_CTX_add_extra_chain_cert(ctx, x)) { /* it owns x once added */
      X509_free(x);
      why = tls_last_reason("the chain cannot be used");
    }
  }
  BIO_free(bio);
  if (!why) ERR_clear_error();
  return why;
}

/* An encrypted key would make OpenSSL ask the terminal for a passphrase. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return -1;
}

static const char *use_key(lua_State *L, int idx, SSL_CTX *ctx) {
  BIO *bio = pem_bio(L, idx);
  EVP_PKEY *key;
  const char *why = NULL;
  if (!bio) return "out of memory";
  key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
  BIO_free(bio);
  if (!key) return tls_last_reason("no PEM private key in it");
  if (!SSL_CTX_use_PrivateKey(ctx, key) || !SSL_CTX_check_private_key(ctx)) {
    unsigned long e = ERR_peek_last_error();
    int mismatch = (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) ||
                   (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_PRIVATE_KEY_MISMATCH);
    why = mismatch ? "the key does not match the certificate" : tls_last_reason("the key cannot be used");
  }
  EVP_PKEY_free(key);
  return why;
}

/* A server picks the first of its protocols that the client offers; none
 * in common ends the handshake (RFC 7301). */
static int select_protocol(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                           unsigned int inlen, void *arg) {
  tls_context *c = arg;
  unsigned char *chosen;
  (void)ssl;
  if (SSL_select_next_proto(&chosen, outlen, c->alpn, (unsigned)c->alpn_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

static int failed(lua_State *L, const char *what, const char *why) {
  lua_pushnil(L);
  lua_pushstring(L, what);
  lua_pushstring(L, why);
  return 3;
}

int tls_context_new(lua_State *L) {
  int server = lua_toboolean(L, 1), verify = lua_toboolean(L, 2);
  size_t alpn_len = 0;
  const char *alpn = lua_isstring(L, 6) ? lua_tolstring(L, 6, &alpn_len) : NULL, *why, *lib_why;
  tls_context *c;
  if (!tls_lib_open(&lib_why)) return failed(L, "library", lib_why);
  c = lua_newuserdata(L, sizeof *c + alpn_len);
  memset(c, 0, sizeof *c);
  luaL_getmetatable(L, TLS_CONTEXT_MT);
  lua_setmetatable(L, -2);
  c->server = server;
  if (!(c->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method())))
    return failed(L, "library", tls_last_reason("SSL_CTX_new failed"));
  SSL_CTX_set_min_proto_version(c->ctx, (int)luaL_optinteger(L, 7, TLS1_2_VERSION));
  SSL_CTX_set_max_proto_version(c->ctx, (int)luaL_optinteger(L, 8, TLS1_3_VERSION));
  SSL_CTX_set_options(c->ctx, SSL_OP_NO_RENEGOTIATION);
  if (verify) SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
  else SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
  if (lua_isstring(L, 3)) {
    if ((why = add_authorities(L, 3, c->ctx)) != NULL) return failed(L, "ca", why);
  } else if (verify && !server) {
    X509_STORE *store = system_authorities();
    if (!store) return failed(L, "ca", "out of memory");
    SSL_CTX_set1_cert_store(c->ctx, store);
  }
  if (lua_isstring(L, 4) && (why = use_certificate(L, 4, c->ctx)) != NULL) return failed(L, "cert", why);
  if (lua_isstring(L, 5) && (why = use_key(L, 5, c->ctx)) != NULL) return failed(L, "key", why);
  if (alpn) {
    memcpy(c->alpn, alpn, alpn_len);
    c->alpn_len = alpn_len;
    if (server) SSL_CTX_set_alpn_select_cb(c->ctx, select_protocol, c);
    else if (SSL_CTX_set_alpn_protos(c->ctx, c->alpn, (unsigned)alpn_len) != 0)
      return failed(L, "alpn", tls_last_reason("the protocols cannot be offered"));
  }
  return 1;
}
