/* ebb.json's C half, shared by its files: the growable byte buffer the
 * encoder writes into, the array metatable, numbers, and the two entry
 * points. Parsing and writing JSON is yajl's (Debian's libyajl2); walking
 * Lua's tables and numbers is ours. */
#ifndef EBB_JSON_H
#define EBB_JSON_H
#include <stddef.h>
#include <locale.h>
#include <yajl/yajl_gen.h>
#include "../host/ebb.h"

/* Decoded arrays carry it, and a table with it encodes as an array even empty. */
#define JSON_ARRAY_MT "ebb.json.array"
#define JSON_MAX_DEPTH 1000
/* A yajl generator holds at most 127 levels: each one writes this many, and
 * the levels below go to the next one, into the same buffer. */
#define JSON_GEN_LEVELS 100
#define JSON_GENS (JSON_MAX_DEPTH / JSON_GEN_LEVELS + 1)

typedef struct json_buf {
  char *data;
  size_t len, cap;
} json_buf;

int ebb_json_buf_grow(json_buf *b, size_t more); /* 0, or -1: out of memory */
/* Room for `more` bytes after len: 0, or -1 when memory ran out. */
static inline int ebb_json_buf_reserve(json_buf *b, size_t more) {
  return b->cap - b->len >= more ? 0 : ebb_json_buf_grow(b, more);
}
void ebb_json_buf_shrink(json_buf *b);              /* gives back a large buffer after use */
locale_t ebb_json_c_locale(void);                   /* numbers are read and written in "C" */

/* Where one generator prints: the shared buffer, the indentation of the
 * levels above it after each newline, and a newline it still owes (yajl
 * ends its text with one, which is dropped). */
typedef struct json_out {
  json_buf *b;
  size_t prefix;
  int indented;
  int newline;
  int failed; /* memory ran out */
} json_out;

/* The encoder's state, one per Lua state (an upvalue whose __gc frees it),
 * kept between calls: the buffer and the generators, made as deep tables
 * need them. A call made while another runs (from a __gc) gets its own. */
typedef struct json_state {
  json_buf buf;
  yajl_gen gen[JSON_GENS];
  json_out out[JSON_GENS];
  int busy;
} json_state;

/* json_number.c: v (finite) as JavaScript writes it, into out (at least 32
 * bytes); returns the length. */
size_t ebb_json_format_number(char *out, double v);
/* The number of a valid JSON number's text, when the exact fast path can
 * read it (1), else 0: strtod's turn. */
int ebb_json_fast_number(const char *p, const char *end, double *out);

int ebb_json_encode(lua_State *L); /* encode(value, indent, sort_keys) -> text | nil, msg, path */
int ebb_json_decode(lua_State *L); /* decode(text) -> true, value | nil, msg, byte position */

#endif
