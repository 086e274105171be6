/* Finds the Lua modules compiled into the binary. */
#include <string.h>
#include "ebb.h"
#include "runtime.h"

const embedded_module *embedded_find(const char *name) {
  const embedded_module *m;
  for (m = embedded_modules; m->name; m++)
    if (!strcmp(m->name, name)) return m;
  return NULL;
}

/* The one test of whether a frame is ebb's own Lua: its chunk is one of the
 * modules compiled in ("@ebb/<file>.lua"), not a script that merely lives in
 * a folder named ebb. */
int ebb_host_source(const char *source) {
  const embedded_module *m;
  if (strncmp(source, "@ebb/", 5) != 0) return 0;
  for (m = embedded_modules; m->name; m++)
    if (!strcmp(m->chunkname, source)) return 1;
  return 0;
}
