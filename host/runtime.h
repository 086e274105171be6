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

/* The C modules (ebb.core, ebb.fs.core...), opened at start-up: the list is
 * generated at build time from the luaopen_ebb_*_core functions defined. */
typedef struct c_module {
  const char *name;
  lua_CFunction open;
} c_module;
extern const c_module c_modules[];

lua_State *runtime_open(void);
/* A worker thread's runtime, on a state it has made (with its allocator):
 * no OS signals are handled there. */
lua_State *runtime_open_worker(lua_State *L);
int runtime_run_root(lua_State *L, int nargs);
int runtime_close(lua_State *L, int status);
int runtime_flush_stdout(int status);

void sched_set_runner(lua_State *L);

#endif
