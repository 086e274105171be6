/* Finds the Lua modules compiled into the binary. */
#include <string.h>
#include "runtime.h"

const embedded_module *embedded_find(const char *name) {
  const embedded_module *m;
  for (m = embedded_modules; m->name; m++)
    if (!strcmp(m->name, name)) return m;
  return NULL;
}
