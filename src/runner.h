/* runner.h - runs a loaded pipeline: one thread for the sources, one per job, the
 * journal's flusher; drains and exits on SIGINT/SIGTERM or, with --once, when every
 * source is done and every job reached the end of its topics. */
#ifndef SLUICE_RUNNER_H
#define SLUICE_RUNNER_H

#include <signal.h>
#include <stdbool.h>

#include "pipeline.h"

typedef struct sl_run_opts {
    bool once;
    const char *replay_dir;     /* --replay DIR */
} sl_run_opts_t;

/* Set by the signal handler; every loop of the runner checks it. */
extern volatile sig_atomic_t sl_stop_requested;
/* Install SIGINT/SIGTERM handlers that set sl_stop_requested. */
void sl_runner_install_signals(void);

/* Run until stopped.  Returns the process exit code: 0 ok, 3 fatal runtime error. */
int sl_run(sl_pipeline_t *pipe, const sl_run_opts_t *opts);

/* Open the pipeline's journal (data_dir), creating its topics.  For the CLI's tail,
 * produce and topics. */
int sl_runner_open_journal(const sl_pipeline_t *pipe, bool read_only, sl_journal_t **out,
                           sl_error_t *err);

/* Append records that arrived at an ingest endpoint of `source` (any thread): key and
 * event time from the source's `key:`/`ts:`, one journal transaction, and wait until
 * they are durable per the topic's fsync policy (so a 2xx answer means durable).
 * Returns 0, SL_NOTFOUND (no such source), SL_EVAL (a key/ts expression failed), or
 * SL_RETRY (not running, or not durable within timeout_ms). */
int sl_runner_ingest(const char *source, sl_batch_t *batch, int64_t timeout_ms, sl_error_t *err);

/* Append records to a topic of the running pipeline (the `topic` sink; any thread):
 * one journal transaction of `writer`, or with transport kafka a produce that returns
 * once every record is acknowledged.  SL_RETRY when not running or not appended. */
int sl_runner_append(const char *topic, const sl_record_t *recs, size_t n, const char *writer, sl_error_t *err);

/* The running pipeline when its topics are on Kafka (transport kafka), else NULL. */
const sl_pipeline_t *sl_runner_kafka_pipeline(void);

/* Append the running pipeline's status as JSON: {sources: [{name, type, topic, state,
 * polls, failures, records, last_poll_ms, last_ok_ms, next_poll_in_ms, backoff_ms, stuck,
 * last_error}], jobs: [{name, state, records_in, records_out, dead_letters, lag, dlq,
 * from, sinks: [{type, records, errors, writes, write_latency_ms}]}], alerts: [{name, state,
 * records_checked, notifications, dead_letters}], topics: [{name, full_partitions,
 * dropped, partitions: [{start, end, bytes}]}]}.  A source's state is one of starting,
 * running, failing, paused (its topic is full), done.  Any thread.  SL_RETRY when nothing
 * runs. */
int sl_runner_status_json(sl_buf_t *out);

/* Append the body of /health and return its HTTP status: {"status":"ok"} (200);
 * {"status":"degraded",...} (200) while a topic is full (its sources paused); or
 * {"status":"unhealthy",...} (503) while a source cannot commit to the journal (a full
 * disk: it retries with backoff and resumes by itself).  Beyond "ok": "problems"
 * (sentences), "full_topics" and "stuck_sources" (names).  Any thread; "ok" when
 * nothing runs. */
int sl_runner_health_json(sl_buf_t *out);

/* The journal of the running pipeline, for sinks that write to its other topics (the
 * `topic` sink); NULL when nothing runs. */
extern sl_journal_t *sl_runner_journal;

#endif
