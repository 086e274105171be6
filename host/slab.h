/* Small objects of one size from blocks of SLAB_ITEMS: no allocation header,
 * a free list threaded through the first word of each free item. */
#ifndef EBB_SLAB_H
#define EBB_SLAB_H

#include <stddef.h>

#define SLAB_ITEMS 64

typedef struct slab_pool {
  size_t item_size; /* a multiple of 8, at least a pointer */
  void *free;
  void *blocks;     /* each one's first word: the next block */
} slab_pool;

void *slab_take(slab_pool *p); /* not cleared; NULL: out of memory */
void slab_give(slab_pool *p, void *item);
/* Frees every block; each item in use (as in_use says) is passed to
 * done first (either may be NULL). */
void slab_close(slab_pool *p, int (*in_use)(void *item), void (*done)(void *item));

#endif
