/* kafka_transport.h - `transport: kafka`: the pipeline's topics are Kafka topics.
 *
 * The runner keeps its loop; what the journal did, this does over librdkafka:
 *  - appends: one idempotent producer (acks=all) per process; an append returns once
 *    every record of it is acknowledged.  Record key -> Kafka key, event time -> the
 *    message timestamp, source and ingest time -> headers `sluice.source` and
 *    `sluice.ingest_ts`; the value is the record's JSON.
 *  - sources: polled by exactly one process of all that run the pipeline: the one the
 *    consumer group `sluice.<name>.lease` assigns the single partition of the
 *    coordination topic `sluice.<name>.coord`.  The cursors of the sources live in that
 *    partition too (key `cursor:<source>`), so the lease and the cursors move together:
 *    a new holder reads the partition to its end before it polls anything.
 *  - jobs: consumer group `sluice.<job>` over the job's topics; offsets are committed
 *    after every sink acknowledged; on assignment a partition starts where the
 *    transactional sinks' stored offsets say when every sink is transactional, else at
 *    the group's committed offset.
 *  - members: every process publishes what it holds (lease, partitions per job) to
 *    `sluice.<name>.members` every few seconds; `sluice topics` shows it with the lag.
 *
 * Threads: sl_kt_append from any thread; the lease functions from the sources thread
 * only; a consumer from its job's thread only. */
#ifndef SLUICE_KAFKA_TRANSPORT_H
#define SLUICE_KAFKA_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pipeline.h"
#include "sluice/config.h"
#include "sluice/record.h"

typedef struct sl_kt sl_kt_t;
typedef struct sl_kt_consumer sl_kt_consumer_t;

/* `transport: {kafka: {...}}` */
typedef struct sl_kt_conf {
    char *brokers;
    const sl_cnode_t *props;
    char *name;                /* coordination names; default: the pipeline file's base name */
    int64_t publish_ms;        /* members status interval */
    int compression;           /* index into none|gzip|snappy|lz4|zstd */
} sl_kt_conf_t;

extern const sl_config_map_t *const sl_kt_config_map;

/* Check a `transport:` block at load; fills conf (may be NULL).  Returns diagnostics
 * added. */
int sl_kt_conf_parse(const sl_cnode_t *node, const char *file, sl_arena_t *arena, sl_kt_conf_t *conf,
                     sl_diags_t *d);

/* Connect, create the pipeline's topics (with their partitions; the cluster's
 * auto-create when CreateTopics is refused) and learn their partition counts. */
int sl_kt_open(const sl_pipeline_t *p, sl_kt_t **out, sl_error_t *err);
void sl_kt_close(sl_kt_t *kt);
/* Partitions of a pipeline topic (>= 1). */
int sl_kt_partitions(sl_kt_t *kt, const char *topic);

/* Produce recs to topic and wait for every acknowledgement (or SL_RETRY). */
int sl_kt_append(sl_kt_t *kt, const char *topic, const sl_record_t *recs, size_t n, sl_error_t *err);
/* A source's poll: its records, its dead letters, then its cursor (cursor NULL: keep).
 * At-least-once: a crash between the records' and the cursor's acknowledgement polls
 * again what was already appended. */
int sl_kt_source_commit(sl_kt_t *kt, const char *source, const char *topic, const sl_record_t *recs,
                        size_t n, const char *dlq_topic, const sl_record_t *dlq, size_t ndlq,
                        const void *cursor, size_t cursor_len, sl_error_t *err);

/* The sources' lease (sources thread).  Serves the lease group; true while this process
 * holds it and has read every cursor.  *epoch changes each time the lease is (re)gained:
 * then sources must be reopened with their cursors. */
bool sl_kt_lease(sl_kt_t *kt, uint64_t *epoch);
/* The cursor of source as last committed by any holder (heap copy; NULL/0 none). */
void sl_kt_cursor(sl_kt_t *kt, const char *source, void **cursor, size_t *len);

/* ---- job consumers ---- */

/* Called on the job thread for each partition assigned (*start: in -1, out the offset
 * to start at, or -1 for the group's committed offset) or revoked. */
typedef void (*sl_kt_assign_fn)(void *opaque, size_t from_index, int partition, bool assigned,
                                int64_t *start);
/* Called for each message: false drops it (a partition no longer held, an offset
 * below the position). */
typedef bool (*sl_kt_keep_fn)(void *opaque, size_t from_index, int partition, int64_t offset);
/* Called for a message whose value is not JSON (rec->value is its text). */
typedef void (*sl_kt_bad_fn)(void *opaque, const sl_record_t *rec, const char *why);

int sl_kt_consumer_open(sl_kt_t *kt, const char *job, const char *const *topics, size_t ntopics,
                        sl_kt_assign_fn assign, sl_kt_keep_fn keep, sl_kt_bad_fn bad, void *opaque,
                        sl_kt_consumer_t **out, sl_error_t *err);
/* Read up to max records (about max_bytes) into batch, waiting up to wait_ms for the
 * first.  Records get topic (the pipeline's name), partition, offset, key, ts,
 * ingest_ts, source, raw.  Returns records added (>= 0). */
int sl_kt_consume(sl_kt_consumer_t *c, sl_batch_t *batch, size_t max, size_t max_bytes, int wait_ms);
/* Commit offsets (next to read) of the listed partitions; entries with offset < 0 are
 * skipped.  Stored at once and sent asynchronously; a partition being revoked is
 * committed synchronously first, so its next owner starts exactly there.  A commit
 * refused because the group is rebalancing is not an error (the next owner starts from
 * the previous commit, or the sinks' offsets). */
int sl_kt_commit(sl_kt_consumer_t *c, const sl_offset_t *offs, size_t n, sl_error_t *err);
/* Committed offset of the job's group (-1 none) and the partition's end (blocking). */
int64_t sl_kt_committed(sl_kt_consumer_t *c, const char *topic, int partition);
int64_t sl_kt_end(sl_kt_consumer_t *c, const char *topic, int partition);
/* The partition's end as last seen by the fetcher (no request; -1 unknown). */
int64_t sl_kt_cached_end(sl_kt_consumer_t *c, const char *topic, int partition);
void sl_kt_consumer_close(sl_kt_consumer_t *c);

/* ---- readers: `sluice tail` and the live tail ---- */

typedef struct sl_kt_reader sl_kt_reader_t;
/* Read a pipeline topic without a group: every partition from its start (from_start),
 * or its last `back` records (back > 0), or its end; partition resume_p (>= 0) just
 * after resume_o instead. */
int sl_kt_reader_open(const sl_pipeline_t *p, const char *topic, bool from_start, int64_t back, int resume_p,
                      int64_t resume_o, sl_kt_reader_t **out, sl_error_t *err);
/* Up to max records (a value that is not JSON is a string), waiting up to wait_ms for
 * the first. */
int sl_kt_reader_read(sl_kt_reader_t *r, sl_batch_t *batch, size_t max, int wait_ms);
/* Every partition reached its end since its last record. */
bool sl_kt_reader_at_end(const sl_kt_reader_t *r);
void sl_kt_reader_close(sl_kt_reader_t *r);

/* `sluice topics` with transport kafka: topics, groups' offsets and lag, members. */
int sl_kt_report(const sl_pipeline_t *p, FILE *out, sl_error_t *err);

#endif
