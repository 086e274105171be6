/* The chunks a stream has read and nobody has taken yet. */
#include <stdlib.h>
#include <string.h>
#include "uvstream.h"

int uvs_queue_put(uvs_queue *q, const char *data, size_t len, int at_front) {
  uvs_chunk *c = malloc(sizeof *c + len);
  if (!c) return UV_ENOMEM;
  c->len = len;
  memcpy(c->data, data, len);
  if (at_front) {
    c->next = q->head;
    q->head = c;
    if (!q->tail) q->tail = c;
  } else {
    c->next = NULL;
    if (q->tail) q->tail->next = c;
    else q->head = c;
    q->tail = c;
  }
  q->buffered += len;
  return 0;
}

uvs_chunk *uvs_queue_take(uvs_queue *q) {
  uvs_chunk *c = q->head;
  if (!c) return NULL;
  if (!(q->head = c->next)) q->tail = NULL;
  q->buffered -= c->len;
  return c;
}

void uvs_queue_drop(uvs_queue *q) {
  uvs_chunk *c;
  while ((c = uvs_queue_take(q)) != NULL) free(c);
}

int uvs_queue_push_next(lua_State *L, uvs_queue *q) {
  uvs_chunk *c = uvs_queue_take(q);
  if (!c) return 0;
  lua_pushboolean(L, 1);
  lua_pushlstring(L, c->data, c->len);
  free(c);
  return 2;
}
