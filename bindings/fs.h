/* ebb.fs's C half, shared by its files: the file userdata, the write-behind
 * (fs_writer.c) that fs.c's files carry once they use it, and the watchers
 * (fs_watch.c). */
#ifndef EBB_FS_H
#define EBB_FS_H

#include "../host/ebb.h"

#define FILE_MT "ebb.file"

typedef struct wchain wchain;

typedef struct file {
  uv_file fd;      /* -1 once closed */
  int closing;
  int borrowed;    /* a standard stream's fd: never closed here */
  wchain *chain;   /* its write-behind, once used */
} file;

/* The open file at idx, else a Lua error. */
file *fs_check_file(lua_State *L, int idx);

/* fs_writer.c */
/* write_behind(file, data, signal) and flush(file, signal), for ebb.fs.core */
int fs_write_behind(lua_State *L);
int fs_flush(lua_State *L);
/* Whether the file has writes under way (closing it must wait for them). */
int fs_writer_busy(const file *f);
/* The file closes or is collected: its write-behind, idle, goes. */
void fs_writer_free(file *f);

/* fs_watch.c */
/* watch(path, max_buffered), watch_add(watcher, path, prefix),
 * watch_next(watcher, signal), watch_close(watcher) */
int fs_watch(lua_State *L);
int fs_watch_add(lua_State *L);
int fs_watch_next(lua_State *L);
int fs_watch_close(lua_State *L);
void fs_watch_init(lua_State *L); /* the watchers' metatable */

#endif
