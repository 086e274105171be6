/* ebb.redis's reply reader: hiredis's RESP parser (redisReader) fed the bytes a
 * connection's stream reads, with replies built straight into Lua values by
 * hiredis's object callbacks. lua/ebb/redis_conn.lua hands the replies out. */
#include <stdio.h>
#include <string.h>
#include "redis.h"

#define READER_MT "ebb.redis.reader"
#define MAX_EXACT 9007199254740992.0 /* 2^53: integers past it come as their digits */
#define PREALLOC 1024 /* slots made at once for an array: its count is the server's word */

/* The reader's environment table: the function that makes error replies, what
 * it raised, and the arrays being filled, one per depth (hiredis 0.14 nests at
 * most 8). A partial reply lives there between feeds, so a reply may span any
 * number of reads. */
enum { SLOT_MAKE_ERROR = 1, SLOT_RAISED, SLOT_OPEN };

typedef struct reply_reader {
  redisReader *r; /* NULL once closed or failed */
  const redis_lib *lib;
  lua_State *L;   /* while feeding: where the values are made */
  int env, out;   /* while feeding: stack indexes of the environment and of out */
  int n;          /* while feeding: replies completed into out */
  int deepest;    /* open-array slots the current reply used, to clear after it */
  double limit;   /* max_reply: bytes of a reply, items of an array */
  size_t pending; /* bytes of the reply being read, so far */
  int raised;     /* make_error raised: its error is in SLOT_RAISED */
  char why[160];  /* why the reader stopped (empty while it reads) */
} reply_reader;

static reply_reader *check_reader(lua_State *L) {
  return ebb_check_udata(L, 1, READER_MT, "redis reader");
}

static int depth_of(const redisReadTask *t) {
  int d = 0;
  while (t->parent) t = t->parent, d++;
  return d;
}

/* Puts the value on top of the stack where the task's reply goes (the next
 * entry of out, or its place in the array being filled) and pops it. */
static void *place(reply_reader *rr, const redisReadTask *t) {
  lua_State *L = rr->L;
  if (!t->parent) {
    lua_rawseti(L, rr->out, rr->n + 1);
  } else {
    lua_rawgeti(L, rr->env, SLOT_OPEN + depth_of(t->parent));
    lua_insert(L, -2);
    lua_rawseti(L, -2, t->idx + 1);
    lua_pop(L, 1);
  }
  return rr; /* hiredis needs an object that is not NULL; the values are Lua's */
}

/* NULL stops hiredis (which says "out of memory"): feed reports rr->why instead. */
static void *refuse(reply_reader *rr, const char *what, long long count, const char *unit) {
  snprintf(rr->why, sizeof rr->why, "%s %lld %s is larger than max_reply (%.0f)", what, count, unit, rr->limit);
  return NULL;
}

static void *make_string(const redisReadTask *t, char *s, size_t len) {
  reply_reader *rr = t->privdata;
  lua_State *L = rr->L;
  if (t->type == REDIS_REPLY_ERROR) {
    lua_rawgeti(L, rr->env, SLOT_MAKE_ERROR);
    lua_pushlstring(L, s, len);
    if (lua_pcall(L, 1, 1, 0) != 0) {
      rr->raised = 1;
      lua_rawseti(L, rr->env, SLOT_RAISED);
      return NULL;
    }
  } else {
    if (t->type == REDIS_REPLY_STRING && len > rr->limit) return refuse(rr, "a bulk reply of", (long long)len, "bytes");
    lua_pushlstring(L, s, len);
  }
  return place(rr, t);
}

static void *make_array(const redisReadTask *t, int n) {
  reply_reader *rr = t->privdata;
  lua_State *L = rr->L;
  if (n > rr->limit) return refuse(rr, "an array reply of", n, "items");
  lua_createtable(L, n < PREALLOC ? n : PREALLOC, 1);
  lua_pushinteger(L, n);
  lua_setfield(L, -2, "n");
  if (n > 0) { /* its elements come next: it is the open array at its depth */
    int d = depth_of(t);
    if (d >= rr->deepest) rr->deepest = d + 1;
    if (d == 0) { /* goes to out once whole (maybe a feed later) */
      lua_rawseti(L, rr->env, SLOT_OPEN);
      return rr;
    }
    lua_pushvalue(L, -1);
    lua_rawseti(L, rr->env, SLOT_OPEN + d);
  }
  return place(rr, t);
}

static void *make_integer(const redisReadTask *t, long long v) {
  reply_reader *rr = t->privdata;
  if (v > -MAX_EXACT && v < MAX_EXACT) {
    lua_pushnumber(rr->L, (lua_Number)v);
  } else {
    char digits[24];
    snprintf(digits, sizeof digits, "%lld", v);
    lua_pushstring(rr->L, digits);
  }
  return place(rr, t);
}

static void *make_nil(const redisReadTask *t) {
  reply_reader *rr = t->privdata;
  lua_pushnil(rr->L);
  return place(rr, t);
}

static void forget(void *obj) { (void)obj; /* the values are Lua's: the collector frees them */ }

static redisReplyObjectFunctions lua_values = {make_string, make_array, make_integer, make_nil, forget};

/* The reader takes nothing more; why may be the hiredis reader's own text. */
static void stop(reply_reader *rr, const char *why) {
  if (!rr->why[0]) snprintf(rr->why, sizeof rr->why, "%s", why);
  if (rr->r) rr->lib->reader_free(rr->r);
  rr->r = NULL;
}

/* reader(max_reply, make_error) -> a reader */
int redis_reader_new(lua_State *L) {
  double limit = ebb_check_whole(L, 1, "max_reply", 1, EBB_MAX_WHOLE);
  const redis_lib *lib;
  reply_reader *rr;
  ebb_check_type(L, 2, LUA_TFUNCTION);
  lib = redis_lib_check(L);
  rr = lua_newuserdata(L, sizeof *rr);
  memset(rr, 0, sizeof *rr);
  rr->lib = lib;
  rr->limit = limit;
  luaL_getmetatable(L, READER_MT);
  lua_setmetatable(L, -2);
  if (!(rr->r = lib->reader_create(&lua_values))) return luaL_error(L, "not enough memory");
  redisReaderSetPrivdata(rr->r, rr);
  lua_createtable(L, SLOT_OPEN + 8, 0);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, SLOT_MAKE_ERROR);
  lua_setfenv(L, -2);
  return 1;
}

/* A reply is whole: an array (its elements made, maybe over many feeds) goes
 * to out, and the slots it used are emptied. */
static void take_reply(reply_reader *rr) {
  lua_State *L = rr->L;
  rr->n++;
  if (rr->deepest) {
    lua_rawgeti(L, rr->env, SLOT_OPEN);
    lua_rawseti(L, rr->out, rr->n);
    for (int d = 0; d < rr->deepest; d++) {
      lua_pushnil(L);
      lua_rawseti(L, rr->env, SLOT_OPEN + d);
    }
    rr->deepest = 0;
  }
  rr->pending = rr->r->len - rr->r->pos; /* the rest belongs to the replies after */
}

/* reader:feed(bytes, out) -> n [, why]: every reply the bytes complete goes to
 * out[1..n] (a nil reply leaves a hole); why once the bytes are not RESP or a
 * reply is larger than max_reply, after which the reader takes nothing more. */
static int reader_feed(lua_State *L) {
  reply_reader *rr = check_reader(L);
  size_t len;
  const char *bytes;
  void *reply;
  if (lua_type(L, 2) != LUA_TSTRING) return ebb_argerror_type(L, 2, "string");
  bytes = lua_tolstring(L, 2, &len);
  ebb_check_type(L, 3, LUA_TTABLE);
  if (rr->L) return luaL_error(L, "the redis reader is already feeding (from its make_error)");
  rr->n = 0;
  if (!rr->r) goto stopped;
  lua_settop(L, 3);
  lua_getfenv(L, 1);
  rr->L = L, rr->env = 4, rr->out = 3;
  if (rr->lib->reader_feed(rr->r, bytes, len) != REDIS_OK) goto failed;
  rr->pending += len;
  for (;;) {
    if (rr->lib->reader_get_reply(rr->r, &reply) != REDIS_OK) goto failed;
    if (!reply) break;
    take_reply(rr);
  }
  rr->L = NULL;
  if (rr->pending > rr->limit) {
    char why[sizeof rr->why];
    snprintf(why, sizeof why, "a reply still incomplete at %zu bytes is larger than max_reply (%.0f)", rr->pending,
             rr->limit);
    stop(rr, why);
    goto stopped;
  }
  lua_pushinteger(L, rr->n);
  return 1;
failed:
  rr->L = NULL;
  stop(rr, rr->r->errstr);
  if (rr->raised) {
    lua_rawgeti(L, 4, SLOT_RAISED);
    return lua_error(L);
  }
stopped:
  lua_pushinteger(L, rr->n);
  lua_pushstring(L, rr->why);
  return 2;
}

/* reader:close(), and __gc: its buffer freed; feed answers 0, "the redis reader
 * is closed". (Never while it feeds: make_error may be any function.) */
static int reader_close(lua_State *L) {
  reply_reader *rr = check_reader(L);
  if (rr->L) return luaL_error(L, "the redis reader cannot close while it feeds");
  stop(rr, "the redis reader is closed");
  return 0;
}

static int reader_tostring(lua_State *L) {
  reply_reader *rr = check_reader(L);
  if (rr->r) lua_pushfstring(L, "RedisReader (%d bytes pending)", (int)rr->pending);
  else lua_pushfstring(L, "RedisReader (stopped: %s)", rr->why);
  return 1;
}

void redis_reader_init(lua_State *L) {
  static const luaL_Reg methods[] = {{"feed", reader_feed}, {"close", reader_close}, {NULL, NULL}};
  ebb_new_metatable(L, READER_MT, reader_close, reader_tostring);
  luaL_getmetatable(L, READER_MT);
  lua_newtable(L);
  ebb_register(L, methods, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
