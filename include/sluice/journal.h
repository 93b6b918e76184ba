/* journal.h - the embedded topic backend: partitioned, append-only, durable logs in
 * data_dir (a local Kafka).  Byte layout and invariants: docs/FORMAT.md.
 *
 * Promises:
 *  1. A transaction's records and its writer cursor become visible together or not at
 *     all: after a crash, a partition is cut back to the last offset a committed
 *     transaction reached, and the cursor read back is that transaction's.
 *  2. A batch is read back only if its checksum matches; a torn tail is cut on open,
 *     damage elsewhere is reported with its file and byte offset, never delivered,
 *     and skipped by readers.  Recovery never cuts a batch that passes its checksum
 *     (damaged metadata is rebuilt from the segments, or open refuses, changing
 *     nothing).
 *  3. Consumer-group offsets (and an optional state blob) are committed atomically.
 *  4. With fsync `always`, commit returns after the data is on disk; with `interval`,
 *     a flusher thread syncs every interval and sl_journal_wait_durable() waits for
 *     it; with `off`, only the OS decides.
 *
 * Threads: every function is safe to call from any thread (one lock per journal for
 * metadata, one per partition for appends; readers do not block writers). */
#ifndef SLUICE_JOURNAL_H
#define SLUICE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"
#include "sluice/record.h"

typedef struct sl_journal sl_journal_t;
typedef struct sl_topic sl_topic_t;
typedef struct sl_txn sl_txn_t;

enum { SL_FSYNC_ALWAYS = 0, SL_FSYNC_INTERVAL = 1, SL_FSYNC_OFF = 2 };
/* What a partition over retention_bytes does when only data some consumer group has not
 * committed is left to delete (DESIGN §2.8). */
enum { SL_ON_FULL_PAUSE = 0, SL_ON_FULL_DROP_OLDEST = 1 };

typedef struct sl_topic_opts {
    int partitions;           /* >= 1; default 1 */
    int fsync;                /* SL_FSYNC_*; default interval */
    int64_t fsync_interval_ms;/* default 50 */
    int64_t retention_ms;     /* 0 = keep forever (default 7 days) */
    int64_t retention_bytes;  /* per partition; 0 = unlimited */
    int64_t segment_bytes;    /* roll a new segment past this; default 64 MiB */
    int on_full;              /* SL_ON_FULL_*; default pause */
} sl_topic_opts_t;

void sl_topic_opts_default(sl_topic_opts_t *opts);

/* A problem found while opening or checking (a damaged batch, a cut tail). */
typedef struct sl_journal_damage {
    char path[512];
    uint64_t file_offset;     /* byte offset of the bad batch in the file */
    int64_t offset;           /* first record offset affected, -1 if unknown */
    bool tail;                /* at the end of the last segment (cut on repair/open) */
    char what[160];
} sl_journal_damage_t;

typedef void (*sl_journal_report_fn)(void *opaque, const sl_journal_damage_t *damage);

typedef struct sl_journal_opts {
    bool read_only;           /* no lock, no recovery writes (tail, topics from outside) */
    sl_journal_report_fn report;  /* called for every damage found on open (may be NULL) */
    void *report_opaque;
} sl_journal_opts_t;

/* Open (creating if needed) the journal in dir.  Unless read_only, takes an exclusive
 * lock on dir (another process holding it: SL_RETRY with its pid in the message),
 * recovers every topic (cuts torn/uncommitted tails) and starts the flusher thread. */
int sl_journal_open(const char *dir, const sl_journal_opts_t *opts, sl_journal_t **out,
                    sl_error_t *err);
/* Flush, sync and close; every sl_topic_t of it becomes invalid.  Transactions still
 * open are aborted (and freed). */
void sl_journal_close(sl_journal_t *journal);
/* Number of damages that cost or risk data, found while opening or by a reader since
 * (a batch skipped because its checksum fails, records missing, metadata rebuilt);
 * torn tails cut on open are not counted.  0 = healthy; /health reports "degraded". */
int sl_journal_damages(const sl_journal_t *journal);
/* Apply retention now (the flusher also does it every 2 s); returns segments deleted.
 * Retention (by age or bytes) never deletes a segment holding a record that a reader
 * of the topic has not committed, unless the topic's on_full is drop_oldest: then such
 * records are deleted, counted (sl_topic_dropped, the metric
 * sluice_topic_dropped_records_total) and logged.  A topic's readers are the groups
 * that committed offsets on it plus those declared with sl_journal_reader; a topic
 * nobody reads (a dead-letter topic) keeps plain log-style retention. */
int sl_journal_retention(sl_journal_t *journal);
/* Declare that consumer group `group` reads `topic` (in memory, for this process): until
 * it commits, retention keeps everything of the topic for it.  Idempotent. */
int sl_journal_reader(sl_journal_t *journal, const char *group, const char *topic);

/* Get a topic, creating it with opts when it does not exist (opts NULL = defaults).
 * An existing topic keeps its partition count (a different count in opts is an error:
 * SL_CONFIG); its other options are updated from opts.  The topic lives as long as the
 * journal. */
int sl_journal_topic(sl_journal_t *journal, const char *name, const sl_topic_opts_t *opts,
                     sl_topic_t **out, sl_error_t *err);
/* Names of existing topics (heap array of heap strings; free with sl_journal_names_free). */
int sl_journal_list(sl_journal_t *journal, char ***names, size_t *n);
void sl_journal_names_free(char **names, size_t n);

const char *sl_topic_name(const sl_topic_t *topic);
int sl_topic_partitions(const sl_topic_t *topic);
/* First readable offset (after retention) and next offset to be written (committed). */
int64_t sl_topic_start(sl_topic_t *topic, int partition);
int64_t sl_topic_end(sl_topic_t *topic, int partition);
/* Bytes on disk of one partition. */
int64_t sl_topic_bytes(sl_topic_t *topic, int partition);
/* Number of partitions of topic that are full: on_full pause, retention_bytes set, and
 * the bytes retention may not delete (not yet committed by every reader) at or over
 * retention_bytes.  Appending to a full partition fails with SL_RETRY (nothing
 * written) until the readers commit; the runner pauses the topic's sources meanwhile.
 * Also updates the gauge sluice_topic_full_partitions and logs changes. */
int sl_topic_full(sl_topic_t *topic);
/* Records retention deleted before every reader committed them (drop_oldest), since
 * the journal was opened. */
uint64_t sl_topic_dropped(sl_topic_t *topic);
/* Partition of a key (stable hash; same key -> same partition). */
int sl_topic_partition_of(const sl_topic_t *topic, const char *key, size_t key_len);

/* ---- writing: transactions ---- */

/* Begin a transaction of `writer` (a source name, "produce", "ingest:/path", a job's
 * topic sink...).  Only one transaction per writer at a time. */
sl_txn_t *sl_txn_begin(sl_journal_t *journal, const char *writer);
/* Append records to a topic.  A record with partition >= 0 goes there; otherwise by
 * key hash, or round-robin when it has no key.  Sets each record's partition and
 * offset.  The records' values are serialised now; the caller keeps ownership. */
int sl_txn_append(sl_txn_t *txn, sl_topic_t *topic, sl_record_t *recs, size_t n,
                  sl_error_t *err);
/* Make the appended records visible together with the writer's cursor (bytes, may be
 * NULL/0 to keep the old cursor).  Frees txn.  *durable_seq (may be NULL) receives a
 * number to pass to sl_journal_wait_durable. */
int sl_txn_commit(sl_txn_t *txn, const void *cursor, size_t cursor_len, uint64_t *durable_seq,
                  sl_error_t *err);
/* Forget what was appended (it is cut on the next open and never read).  Frees txn. */
void sl_txn_abort(sl_txn_t *txn);

/* The last committed cursor of writer, copied into a heap buffer (*cursor NULL and
 * *len 0 when none).  Caller frees *cursor. */
int sl_journal_cursor(sl_journal_t *journal, const char *writer, void **cursor, size_t *len);

/* Block until everything committed up to durable_seq is on disk per its topics' fsync
 * policies (returns at once for `off`), or timeout_ms passes (SL_RETRY). */
int sl_journal_wait_durable(sl_journal_t *journal, uint64_t durable_seq, int64_t timeout_ms);

/* Block until something new is committed to any topic, or timeout_ms passes.
 * Returns 0 when woken by a commit, SL_RETRY on timeout. */
int sl_journal_wait(sl_journal_t *journal, uint64_t *seen_commits, int64_t timeout_ms);

/* ---- reading ---- */

/* Read records of one partition from `offset` (at most max_records / about max_bytes)
 * into batch (appending; values parsed into batch's arena; topic/partition/offset/key/
 * ts/ingest_ts/source/seq set).  *next is the offset after the last record read (==
 * offset when nothing is there yet).  An offset below the start is moved up to the
 * start (retention).  A damaged batch is never returned: it is stepped over (reported
 * through opts.report and counted in sl_journal_damages) and reading goes on after
 * it, so *next may jump; SL_CORRUPT only when a batch that passed its checksum cannot
 * be decoded. */
int sl_topic_read(sl_topic_t *topic, int partition, int64_t offset, size_t max_records,
                  size_t max_bytes, sl_batch_t *batch, int64_t *next, sl_error_t *err);

/* ---- consumer groups ---- */

typedef struct sl_offset {
    const char *topic;
    int32_t partition;
    int64_t offset;           /* next offset to read */
} sl_offset_t;

/* Commit offsets of a group (all or none), with an optional state blob (step state:
 * dedup sets, open windows).  Durable per the strictest fsync policy of the topics.
 * Offsets of partitions not listed are kept; state NULL keeps the previous blob. */
int sl_journal_group_commit(sl_journal_t *journal, const char *group, const sl_offset_t *offs,
                            size_t n, const void *state, size_t state_len, sl_error_t *err);
/* Committed offset of group on topic/partition, or -1 when none. */
int64_t sl_journal_group_offset(sl_journal_t *journal, const char *group, const char *topic,
                                int partition);
/* The state blob of the last commit of group (heap copy; NULL/0 when none). */
int sl_journal_group_state(sl_journal_t *journal, const char *group, void **state, size_t *len);
/* Names of groups that committed anything (heap, free with sl_journal_names_free). */
int sl_journal_groups(sl_journal_t *journal, char ***names, size_t *n);

/* ---- checking ---- */

/* Verify every checksum of every topic in dir (not opened by this process).  Calls
 * report for each damage; with repair, cuts torn tails and quarantines damaged
 * segments' bad batches as documented in FORMAT.md.  Returns the number of damages
 * found (0 = clean), or a negative error. */
int sl_journal_fsck(const char *dir, bool repair, sl_journal_report_fn report, void *opaque,
                    sl_error_t *err);

#endif
