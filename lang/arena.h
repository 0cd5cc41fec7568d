/*
 * lang/arena.h — pool allocation for one compilation.
 *
 * Everything the front end builds (tokens' text, the AST, diagnostics'
 * bookkeeping) lives in one arena and is released by a single arena_free,
 * as QBE does with its pools.  Allocation never fails: on out-of-memory the
 * process exits through mem_xalloc.
 */
#ifndef LAG_ARENA_H
#define LAG_ARENA_H

#include <stddef.h>

typedef struct Arena Arena;

Arena *arena_new(void);
void arena_free(Arena *a); /* arena_free(NULL) is a no-op */
void *arena_alloc(Arena *a, size_t size);           /* zeroed, 16-byte aligned */
char *arena_strndup(Arena *a, const char *s, size_t n); /* NUL-terminated copy */
char *arena_strdup(Arena *a, const char *s);
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
