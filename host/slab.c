#include <stdlib.h>
#include "slab.h"

#define BLOCK_HEAD 8 /* the next block's pointer, keeping items 8-aligned */

static char *item_at(slab_pool *p, void *block, int i) { return (char *)block + BLOCK_HEAD + (size_t)i * p->item_size; }

void *slab_take(slab_pool *p) {
  void *item = p->free, *block;
  int i;
  if (item) {
    p->free = *(void **)item;
    return item;
  }
  if (!(block = calloc(1, BLOCK_HEAD + SLAB_ITEMS * p->item_size))) return NULL;
  *(void **)block = p->blocks;
  p->blocks = block;
  for (i = SLAB_ITEMS - 1; i > 0; i--) slab_give(p, item_at(p, block, i));
  return item_at(p, block, 0);
}

void slab_give(slab_pool *p, void *item) {
  *(void **)item = p->free;
  p->free = item;
}

void slab_close(slab_pool *p, int (*in_use)(void *item), void (*done)(void *item)) {
  while (p->blocks) {
    void *next = *(void **)p->blocks;
    int i;
    if (done)
      for (i = 0; i < SLAB_ITEMS; i++)
        if (!in_use || in_use(item_at(p, p->blocks, i))) done(item_at(p, p->blocks, i));
    free(p->blocks);
    p->blocks = next;
  }
  p->free = NULL;
}
