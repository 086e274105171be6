/* The host's start-up and shut-down, as main.c uses them. */
#ifndef EBB_RUNTIME_H
#define EBB_RUNTIME_H

#include <stddef.h>
#include <lua.h>

typedef struct embedded_module {
  const char *name;
  const unsigned char *data;
  size_t size;
  const char *chunkname;
} embedded_module;

extern const embedded_module embedded_modules[]; /* generated at build time */
const embedded_module *embedded_find(const char *name);

lua_State *runtime_open(void);
int runtime_run_root(lua_State *L, int nargs);
int runtime_close(lua_State *L, int status);
int runtime_flush_stdout(int status);

void sched_set_runner(lua_State *L);

#endif
