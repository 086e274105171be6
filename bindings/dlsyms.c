/* Opens a shared library and finds its functions (see dlsyms.h). */
#include <dlfcn.h>
#include "dlsyms.h"

int dlsyms_open(const char *soname, const dlsym_slot *symbols, size_t n, void *table) {
  void *so = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!so) return 1;
  for (size_t i = 0; i < n; i++) {
    void *fn = dlsym(so, symbols[i].name);
    if (!fn) return 2;
    *(void **)((char *)table + symbols[i].offset) = fn;
  }
  return 0;
}

const void *dlsyms_once(pthread_once_t *once, void (*open_once)(void), const char *const *error, const void *table,
                        const char **why) {
  pthread_once(once, open_once);
  if (*error) {
    *why = *error;
    return NULL;
  }
  return table;
}
