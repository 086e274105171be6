/* ebb.json's C half, shared by its files: the growable byte buffer both
 * directions write into, the array metatable, numbers, and the two entry
 * points. */
#ifndef EBB_JSON_H
#define EBB_JSON_H
#include <stddef.h>
#include <locale.h>
#include "../host/ebb.h"

/* Decoded arrays carry it, and a table with it encodes as an array even empty. */
#define JSON_ARRAY_MT "ebb.json.array"
#define JSON_MAX_DEPTH 1000

/* One buffer per Lua state, kept between calls (an upvalue whose __gc frees
 * it): an error leaves it to the next call instead of leaking it. */
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

/* json_number.c: v (finite) as JavaScript writes it, into out (at least 32
 * bytes); returns the length. */
size_t ebb_json_format_number(char *out, double v);
/* The number of a valid JSON number's text, when the exact fast path can
 * read it (1), else 0: strtod's turn. */
int ebb_json_fast_number(const char *p, const char *end, double *out);

int ebb_json_encode(lua_State *L); /* encode(value, indent, sort_keys) -> text | nil, msg, path */
int ebb_json_decode(lua_State *L); /* decode(text) -> true, value | nil, msg, byte position */

#endif
