/* ebb.tls.core, the TLS of ebb.net: contexts (tls_context.c) and the layer
 * that encrypts a stream (tls_stream.c). */
#ifndef EBB_TLS_H
#define EBB_TLS_H

#include "tls_lib.h"
#include "uvstream.h"

#define TLS_CONTEXT_MT "ebb.tls.context"

/* What a connection is made from: OpenSSL's context and, for a server, the
 * protocols it offers to ALPN (wire format: each name after its length). */
typedef struct tls_context {
  SSL_CTX *ctx;
  int server;
  size_t alpn_len;
  unsigned char alpn[];
} tls_context;

tls_context *tls_context_check(lua_State *L, int idx);
/* context(server, verify, ca, cert, key, alpn, min_version, max_version) ->
 * context | nil, what, why; the versions are OpenSSL's numbers (TLS1_2_VERSION) */
int tls_context_new(lua_State *L);
void tls_context_make_metatable(lua_State *L);
/* The reason of OpenSSL's last error ("wrong version number"), or dflt. */
const char *tls_last_reason(const char *dflt);

#endif
