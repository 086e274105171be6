/* Opens libssl at the first TLS context (see tls_lib.h). */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include "tls_lib.h"

tls_lib tls_lib_fns;

static const char *open_error;

/* Process-wide: opened once, by whichever thread (the main one or a
 * worker's) makes the first TLS context. */
static void open_once(void) {
  static const char *const names[] = {
#define TLS_LIB_NAME(name) #name,
    TLS_LIB_FUNCTIONS(TLS_LIB_NAME)
#undef TLS_LIB_NAME
  };
  void *so = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
  void **slot = (void **)&tls_lib_fns;
  if (!so) open_error = "libssl.so.3 cannot be opened (install libssl3)";
  for (size_t i = 0; so && i < sizeof names / sizeof names[0] && !open_error; i++) {
    void *fn = dlsym(so, names[i]);
    if (!fn) open_error = "libssl.so.3 lacks a function ebb calls (OpenSSL 3 is needed)";
    else memcpy(&slot[i], &fn, sizeof fn);
  }
}

int tls_lib_open(const char **why) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, open_once);
  if (open_error) *why = open_error;
  return open_error == NULL;
}
