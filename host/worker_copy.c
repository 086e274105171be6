/* Values copied from one Lua state to another (a worker's arguments and
 * results): nil, booleans, numbers (NaN, infinities and -0 kept bit for
 * bit), strings and tables of those, packed into one buffer by the sender
 * and pushed by the receiver. A long string is copied once into a block of
 * its own, which crosses as it is and is pushed from there. Functions,
 * userdata, coroutines, cycles and tables nested deeper than
 * WORKER_COPY_DEPTH are refused, naming where the value was. Metatables do
 * not cross. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "worker.h"

#define LONG_STRING 16384 /* from this length a string crosses in a block of its own */

/* A table is T_TABLE, its array part 1..n (a count, then the values: holes
 * as T_NIL), then its other keys and values, then T_END. */
enum { T_NIL, T_FALSE, T_TRUE, T_NUMBER, T_STRING, T_LONG_STRING, T_TABLE, T_END };

struct wmsg {
  unsigned char *buf;
  size_t len, cap;
  int count;      /* top-level values */
  void **blocks;  /* long strings, in the order they were packed */
  int nblocks, blocks_cap, next_block;
};

typedef struct packer {
  lua_State *L;
  wmsg *m;
  const void *path_tables[WORKER_COPY_DEPTH + 1];
  int path_keys[WORKER_COPY_DEPTH + 1]; /* stack index of each level's key */
  int depth;
  const char *root;
  int root_index;
  char *why;
  size_t whylen;
} packer;

static int grow(wmsg *m, size_t n) {
  size_t cap = m->cap ? m->cap : 64; /* most jobs: a code string and a few numbers */
  unsigned char *grown;
  while (cap < m->len + n) cap *= 2;
  if (!(grown = realloc(m->buf, cap))) return 0;
  m->buf = grown;
  m->cap = cap;
  return 1;
}

/* Inline: it runs for every value, mostly with a constant size. */
static inline int put(wmsg *m, const void *p, size_t n) {
  if (m->len + n > m->cap && !grow(m, n)) return 0;
  memcpy(m->buf + m->len, p, n);
  m->len += n;
  return 1;
}

static int put_tag(wmsg *m, unsigned char tag) { return put(m, &tag, 1); }

/* "args[2].x", "result[1][3]", `["a b"]`: where the value at the current depth is. */
static void describe_path(packer *p, const char *what) {
  luaL_Buffer b;
  lua_State *L = p->L;
  int i;
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "%s[%d]", p->root, p->root_index);
  luaL_addvalue(&b);
  for (i = 1; i <= p->depth; i++) {
    int k = p->path_keys[i];
    size_t len;
    const char *s;
    if (lua_type(L, k) == LUA_TSTRING) {
      s = lua_tolstring(L, k, &len);
      int ident = len > 0 && len < 64 && !(s[0] >= '0' && s[0] <= '9');
      for (size_t j = 0; ident && j < len; j++)
        ident = (s[j] == '_' || (s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= '0' && s[j] <= '9'));
      if (ident) lua_pushfstring(L, ".%s", s);
      else lua_pushfstring(L, "[\"%s\"]", s);
    } else if (lua_type(L, k) == LUA_TNUMBER) {
      lua_pushvalue(L, k); /* lua_tostring would turn the key itself into a string */
      lua_pushfstring(L, "[%s]", lua_tostring(L, -1));
      lua_remove(L, -2);
    } else {
      lua_pushstring(L, lua_toboolean(L, k) ? "[true]" : "[false]");
    }
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  {
    size_t len;
    const char *path = lua_tolstring(L, -1, &len);
    if (len > 120) /* deep: its start and its end */
      snprintf(p->why, p->whylen, "%.40s...%s: %s", path, path + len - 60, what);
    else
      snprintf(p->why, p->whylen, "%s: %s", path, what);
  }
  lua_pop(L, 1);
}

static int pack_value(packer *p, int idx);

static int refuse(packer *p, const char *fmt, const char *type) {
  char what[128];
  snprintf(what, sizeof what, fmt, type);
  describe_path(p, what);
  return 0;
}

static int pack_string(packer *p, int idx) {
  wmsg *m = p->m;
  size_t len;
  const char *s = lua_tolstring(p->L, idx, &len);
  if (len < LONG_STRING) {
    uint32_t n = (uint32_t)len;
    return put_tag(m, T_STRING) && put(m, &n, sizeof n) && put(m, s, len);
  }
  if (m->nblocks == m->blocks_cap) {
    int cap = m->blocks_cap ? m->blocks_cap * 2 : 4;
    void **grown = realloc(m->blocks, cap * sizeof *grown);
    if (!grown) return 0;
    m->blocks = grown;
    m->blocks_cap = cap;
  }
  void *block = malloc(len);
  if (!block) return 0;
  memcpy(block, s, len);
  m->blocks[m->nblocks++] = block;
  return put_tag(m, T_LONG_STRING) && put(m, &len, sizeof len);
}

static int pack_key(packer *p, int idx) {
  switch (lua_type(p->L, idx)) {
  case LUA_TSTRING: case LUA_TNUMBER: case LUA_TBOOLEAN:
    return pack_value(p, idx);
  default:
    return refuse(p, "a key of type %s cannot be copied to another thread", luaL_typename(p->L, idx));
  }
}

/* The value above `key` on the stack, one level down the path. */
static int pack_entry(packer *p, int key) {
  int ok;
  p->depth++;
  p->path_keys[p->depth] = key;
  ok = pack_value(p, key + 1);
  p->depth--;
  return ok;
}

static int pack_table(packer *p, int idx) {
  lua_State *L = p->L;
  const void *t = lua_topointer(L, idx);
  size_t n;
  uint32_t count;
  int i;
  for (i = 0; i <= p->depth; i++)
    if (p->path_tables[i] == t) return refuse(p, "a table that contains itself (a %s cycle) cannot be copied", "reference");
  if (p->depth >= WORKER_COPY_DEPTH) return refuse(p, "tables nested deeper than 100 cannot be copied (%s)", "too deep");
  if (!lua_checkstack(L, 4)) return refuse(p, "%s", "out of Lua stack");
  p->path_tables[p->depth + 1] = t;
  n = lua_objlen(L, idx);
  if (n > UINT32_MAX) n = 0; /* all by key */
  count = (uint32_t)n;
  if (!put_tag(p->m, T_TABLE) || !put(p->m, &count, sizeof count)) return 0;
  for (i = 1; i <= (int)count; i++) { /* the array part: no keys to copy */
    lua_pushinteger(L, i); /* for the path of an error */
    lua_rawgeti(L, idx, i);
    if (!pack_entry(p, lua_gettop(L) - 1)) {
      lua_pop(L, 2);
      return 0;
    }
    lua_pop(L, 2);
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int key = lua_gettop(L) - 1;
    if (count > 0 && lua_type(L, key) == LUA_TNUMBER) { /* in the array part already? */
      lua_Number k = lua_tonumber(L, key);
      if (k >= 1 && k <= count && k == (lua_Number)(uint32_t)k) {
        lua_pop(L, 1);
        continue;
      }
    }
    if (!pack_key(p, key) || !pack_entry(p, key)) { /* a bad key is named as the table's */
      lua_pop(L, 2);
      return 0;
    }
    lua_pop(L, 1);
  }
  return put_tag(p->m, T_END);
}

static int pack_value(packer *p, int idx) {
  lua_State *L = p->L;
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    return put_tag(p->m, T_NIL);
  case LUA_TBOOLEAN:
    return put_tag(p->m, lua_toboolean(L, idx) ? T_TRUE : T_FALSE);
  case LUA_TNUMBER: {
    lua_Number n = lua_tonumber(L, idx);
    return put_tag(p->m, T_NUMBER) && put(p->m, &n, sizeof n);
  }
  case LUA_TSTRING:
    return pack_string(p, idx);
  case LUA_TTABLE:
    return pack_table(p, idx); /* idx is absolute */
  default:
    return refuse(p, "a %s cannot be copied to another thread", luaL_typename(L, idx));
  }
}

void wmsg_free(wmsg *m) {
  int i;
  if (!m) return;
  for (i = m->next_block; i < m->nblocks; i++) free(m->blocks[i]);
  free(m->blocks);
  free(m->buf);
  free(m);
}

wmsg *wmsg_pack(lua_State *L, int first, int last, const char *root, int root_base, char *why, size_t whylen) {
  packer p;
  int i;
  wmsg *m = calloc(1, sizeof *m);
  if (!m) {
    snprintf(why, whylen, "not enough memory");
    return NULL;
  }
  memset(&p, 0, sizeof p);
  p.L = L;
  p.m = m;
  p.root = root;
  p.why = why;
  p.whylen = whylen;
  why[0] = 0;
  for (i = first; i <= last; i++) {
    p.root_index = i - first + root_base;
    p.depth = 0;
    p.path_tables[0] = NULL;
    if (!pack_value(&p, i)) {
      if (!why[0]) snprintf(why, whylen, "not enough memory");
      wmsg_free(m);
      return NULL;
    }
    m->count++;
  }
  return m;
}

/* ---- the receiving side ---- */

typedef struct reader {
  const unsigned char *at, *end;
  wmsg *m;
} reader;

static void take(reader *r, void *out, size_t n) {
  memcpy(out, r->at, n);
  r->at += n;
}

static void push_value(lua_State *L, reader *r);

static void push_table(lua_State *L, reader *r) {
  uint32_t count, i;
  take(r, &count, sizeof count);
  lua_createtable(L, (int)count, 0);
  for (i = 1; i <= count; i++) {
    push_value(L, r);
    lua_rawseti(L, -2, (int)i);
  }
  while (*r->at != T_END) {
    push_value(L, r);
    push_value(L, r);
    lua_rawset(L, -3);
  }
  r->at++;
}

static void push_value(lua_State *L, reader *r) {
  unsigned char tag = *r->at++;
  luaL_checkstack(L, 3, "values nested too deep");
  switch (tag) {
  case T_NIL: lua_pushnil(L); break;
  case T_FALSE: lua_pushboolean(L, 0); break;
  case T_TRUE: lua_pushboolean(L, 1); break;
  case T_NUMBER: {
    lua_Number n;
    take(r, &n, sizeof n);
    lua_pushnumber(L, n);
    break;
  }
  case T_STRING: {
    uint32_t n;
    take(r, &n, sizeof n);
    lua_pushlstring(L, (const char *)r->at, n);
    r->at += n;
    break;
  }
  case T_LONG_STRING: {
    size_t n;
    void *block = r->m->blocks[r->m->next_block];
    take(r, &n, sizeof n);
    lua_pushlstring(L, block, n);
    free(block); /* pushed: it has done its work */
    r->m->next_block++;
    break;
  }
  default: push_table(L, r); break;
  }
}

int wmsg_unpack(lua_State *L, wmsg *m) {
  reader r = {m->buf, m->buf + m->len, m};
  int i, n = m->count;
  luaL_checkstack(L, n + 3, "too many values");
  for (i = 0; i < n; i++) push_value(L, &r);
  wmsg_free(m);
  return n;
}
