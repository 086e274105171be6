/* Opens libssl at the first TLS context (see tls_lib.h). */
#include <dlfcn.h>
#include <string.h>
#include "tls_lib.h"

tls_lib tls_lib_fns;

static const char *open_error;
static int opened;

int tls_lib_open(const char **why) {
  static const char *const names[] = {
#define TLS_LIB_NAME(name) #name,
    TLS_LIB_FUNCTIONS(TLS_LIB_NAME)
#undef TLS_LIB_NAME
  };
  if (!opened) {
    void *so = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
    void **slot = (void **)&tls_lib_fns;
    opened = 1;
    if (!so) open_error = "libssl.so.3 cannot be opened (install libssl3)";
    for (size_t i = 0; so && i < sizeof names / sizeof names[0] && !open_error; i++) {
      void *fn = dlsym(so, names[i]);
      if (!fn) open_error = "libssl.so.3 lacks a function ebb calls (OpenSSL 3 is needed)";
      else memcpy(&slot[i], &fn, sizeof fn);
    }
  }
  if (open_error) *why = open_error;
  return open_error == NULL;
}
