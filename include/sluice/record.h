/* record.h - a record (a JSON value plus metadata) and a batch of records that owns
 * one arena.
 *
 * A batch is the unit that moves between threads: a job reads a batch from its
 * topics, steps transform it in place (records may be added, replaced or marked
 * dropped), sinks write it, and it is freed whole once every sink acknowledged. */
#ifndef SLUICE_RECORD_H
#define SLUICE_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/arena.h"
#include "sluice/value.h"

typedef struct sl_record {
    sl_value_t value;
    const char *key;       /* bytes (may be NULL: no key); not NUL-terminated in general */
    uint32_t key_len;
    int32_t partition;     /* -1 before the record reached a topic */
    int64_t ts;            /* event time, ms since epoch (defaults to ingest_ts) */
    int64_t ingest_ts;     /* when the record entered sluice, ms */
    int64_t offset;        /* offset in its partition, -1 before append */
    const char *topic;     /* NUL-terminated; owned by the pipeline, not the arena */
    const char *source;    /* name of the source that produced it (or NULL) */
    uint64_t seq;          /* position in the source's stream (meta.seq), 0-based */
    sl_value_t orig;       /* the value as read from the topic (for the dead-letter topic) */
    /* The value's JSON text, when a source parsed it from text and did not change it
     * (NULL otherwise): the journal stores these bytes instead of serialising the value
     * again.  Whoever changes `value` of a record that has `raw` must clear it. */
    const char *raw;
    uint32_t raw_len;
} sl_record_t;

typedef struct sl_batch {
    sl_arena_t arena;      /* owns every value of every record */
    sl_record_t *recs;     /* heap array, recs[0..n) */
    size_t n, cap;
    size_t bytes;          /* approximate payload bytes (for limits and metrics) */
} sl_batch_t;

void sl_batch_init(sl_batch_t *batch);
void sl_batch_free(sl_batch_t *batch);
/* Empty the batch and its arena (keeps memory for reuse). */
void sl_batch_reset(sl_batch_t *batch);
/* Append a record slot, zeroed except partition = offset = -1; never NULL. */
sl_record_t *sl_batch_push(sl_batch_t *batch);

/* ms since epoch, wall clock. */
int64_t sl_now_ms(void);
/* Monotonic ms (for timers and durations). */
int64_t sl_mono_ms(void);

#endif
