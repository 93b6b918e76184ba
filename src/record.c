/* record.c - batches of records and clocks (see record.h). */
#include "sluice/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void sl_batch_init(sl_batch_t *batch) {
    memset(batch, 0, sizeof *batch);
    sl_arena_init(&batch->arena, 64 * 1024);
}

void sl_batch_free(sl_batch_t *batch) {
    sl_arena_free(&batch->arena);
    free(batch->recs);
    batch->recs = NULL;
    batch->n = batch->cap = 0;
}

void sl_batch_reset(sl_batch_t *batch) {
    sl_arena_reset(&batch->arena);
    batch->n = 0;
    batch->bytes = 0;
}

sl_record_t *sl_batch_push(sl_batch_t *batch) {
    if (batch->n == batch->cap) {
        size_t cap = batch->cap ? batch->cap * 2 : 256;
        sl_record_t *r = realloc(batch->recs, cap * sizeof *r);
        if (!r) {
            fputs("sluice: out of memory\n", stderr);
            abort();
        }
        batch->recs = r;
        batch->cap = cap;
    }
    sl_record_t *rec = &batch->recs[batch->n++];
    memset(rec, 0, sizeof *rec);
    rec->partition = -1;
    rec->offset = -1;
    return rec;
}

int64_t sl_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sl_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
