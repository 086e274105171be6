/* ebb.redis.core's parts: the reply reader (redis_reader.c) and hiredis (redis_lib.h). */
#ifndef EBB_REDIS_H
#define EBB_REDIS_H

#include "../host/ebb.h"
#include "redis_lib.h"

/* hiredis's functions, or a Lua error saying why it cannot be opened. */
const redis_lib *redis_lib_check(lua_State *L);
/* reader(max_reply, make_error) -> a reader */
int redis_reader_new(lua_State *L);
/* Makes the readers' metatable. */
void redis_reader_init(lua_State *L);

#endif
