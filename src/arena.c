/* arena.c - bump allocator (see arena.h). */
#include "sluice/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl_arena_chunk {
    sl_arena_chunk_t *next;
    size_t size;
    char data[];
};

#define SL_ARENA_MAX_CHUNK ((size_t)1 << 20)

static void *arena_oom(void) {
    fputs("sluice: out of memory\n", stderr);
    abort();
}

void sl_arena_init(sl_arena_t *arena, size_t first_chunk) {
    memset(arena, 0, sizeof *arena);
    arena->chunk_size = first_chunk ? first_chunk : 4096;
}

static void free_chain(sl_arena_chunk_t *c) {
    while (c) {
        sl_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
}

void sl_arena_free(sl_arena_t *arena) {
    free_chain(arena->head);
    free_chain(arena->spare);
    arena->head = arena->spare = NULL;
    arena->ptr = arena->end = NULL;
    arena->used = 0;
}

void sl_arena_reset(sl_arena_t *arena) {
    /* move every chunk to the spare list, then start over in the largest one */
    sl_arena_chunk_t *c = arena->head;
    while (c) {
        sl_arena_chunk_t *next = c->next;
        c->next = arena->spare;
        arena->spare = c;
        c = next;
    }
    arena->head = NULL;
    arena->ptr = arena->end = NULL;
    arena->used = 0;
}

static void arena_grow(sl_arena_t *arena, size_t need) {
    /* reuse a spare chunk that is big enough (the largest first) */
    sl_arena_chunk_t **best = NULL;
    for (sl_arena_chunk_t **pp = &arena->spare; *pp; pp = &(*pp)->next)
        if ((*pp)->size >= need && (!best || (*pp)->size > (*best)->size)) best = pp;
    sl_arena_chunk_t *c;
    if (best) {
        c = *best;
        *best = c->next;
    } else {
        size_t size = arena->chunk_size;
        while (size < need) size *= 2;
        c = malloc(sizeof *c + size);
        if (!c) arena_oom();
        c->size = size;
        if (arena->chunk_size < SL_ARENA_MAX_CHUNK) arena->chunk_size *= 2;
    }
    c->next = arena->head;
    arena->head = c;
    arena->ptr = c->data;
    arena->end = c->data + c->size;
}

void *sl_arena_alloc(sl_arena_t *arena, size_t size) {
    size = (size + 7) & ~(size_t)7;
    if ((size_t)(arena->end - arena->ptr) < size) arena_grow(arena, size);
    void *p = arena->ptr;
    arena->ptr += size;
    arena->used += size;
    return p;
}

void *sl_arena_calloc(sl_arena_t *arena, size_t size) {
    void *p = sl_arena_alloc(arena, size);
    memset(p, 0, size);
    return p;
}

char *sl_arena_strndup(sl_arena_t *arena, const char *s, size_t len) {
    char *p = sl_arena_alloc(arena, len + 1);
    if (len) memcpy(p, s, len);
    p[len] = 0;
    return p;
}

char *sl_arena_sprintf(sl_arena_t *arena, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof tmp) return sl_arena_strndup(arena, tmp, (size_t)n);
    char *p = sl_arena_alloc(arena, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
