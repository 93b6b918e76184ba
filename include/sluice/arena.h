/* arena.h - bump allocator: many small allocations freed at once.
 *
 * Every record of a batch, and every value an expression builds for it, lives in the
 * batch's arena and is freed with it.  Not thread-safe: one arena belongs to one thread
 * at a time. */
#ifndef SLUICE_ARENA_H
#define SLUICE_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_arena_chunk sl_arena_chunk_t;

typedef struct sl_arena {
    sl_arena_chunk_t *head;  /* current chunk (newest first) */
    sl_arena_chunk_t *spare; /* chunks kept by sl_arena_reset for reuse */
    char *ptr, *end;         /* free space of the current chunk */
    size_t chunk_size;       /* size of the next chunk */
    size_t used;             /* bytes handed out since the last reset (for limits) */
} sl_arena_t;

void sl_arena_init(sl_arena_t *arena, size_t first_chunk);
/* Free every chunk; the arena may be init'ed again. */
void sl_arena_free(sl_arena_t *arena);
/* Forget every allocation but keep the chunks for reuse (a batch arena settles at the
 * size its batches need instead of asking the system for fresh pages every batch). */
void sl_arena_reset(sl_arena_t *arena);

/* 8-byte aligned memory, never NULL (aborts on out-of-memory: an arena is sized by
 * configuration, so running out of memory here is not recoverable). */
void *sl_arena_alloc(sl_arena_t *arena, size_t size);
void *sl_arena_calloc(sl_arena_t *arena, size_t size);
/* A NUL-terminated copy of s[0..len). */
char *sl_arena_strndup(sl_arena_t *arena, const char *s, size_t len);
char *sl_arena_sprintf(sl_arena_t *arena, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
