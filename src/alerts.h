/* alerts.h - the `alerts:` section (DESIGN §1, §4): each alert becomes a job
 * "alert.<name>" over its `from` topics with one `alert` step (the rule, with per-key
 * state that survives restarts), its `notify` sinks, and a SQLite sink appending every
 * firing and resolution to the table alert_history (the dashboard's and /api/alerts'
 * source).  Also the delivery bookkeeping the notify sinks (email, webhook) share. */
#ifndef SLUICE_ALERTS_H
#define SLUICE_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline.h"
#include "sluice/plugin.h"

/* Compile the `alerts:` mapping into jobs appended to p->jobs (the array is replaced
 * by a bigger one in p->arena; pointers into the old one must not be kept).  Every
 * problem goes to diags as FILE:LINE:COL.  tcap is the topic array's capacity (as
 * sl_pipeline_topic_ref wants).  Returns the number of problems added. */
int sl_alerts_load(sl_pipeline_t *p, const sl_cnode_t *alerts, size_t *tcap, sl_diags_t *diags);

/* Is job an alert (its first step is `alert`)?  Then *name is the alert's name. */
bool sl_alerts_is_alert(const sl_job_cfg_t *job, const char **name);

/* Append {"alerts": [{id, alert, key, state, subject, message, ts, since, record}...]}
 * newest first (at most 500), read from every alert's history database (read-only;
 * a database not created yet counts as empty).  Any thread.  Returns 0, or SL_IO with
 * nothing appended when a database cannot be read. */
int sl_alerts_history_json(const sl_pipeline_t *p, sl_buf_t *out);

/* ---- delivery bookkeeping of notify sinks (one per sink instance) ----
 *
 * The runner retries a failed write with the same batch (exponential backoff with
 * jitter, up to 30 s apart); a sink that sends one message per record remembers how far
 * it got, so a retry does not send again what was delivered.  A transient failure is
 * retried until `give_up_after` (default 1h) has passed since the first failed attempt
 * of the run of failures (and, when set, past `retries` consecutive failed attempts);
 * a permanent failure (a 5xx reply, wrong credentials) gives up at once.  Given up =
 * the record goes to the job's dead-letter topic with the reason (`sluice dlq --replay`
 * sends it again).  Pending is durable: the job commits its offsets (and the alert's
 * state) only after the sink acknowledged, so a notification pending at a kill -9 is
 * evaluated and sent again after the restart (its give_up_after counts from the new
 * process's first failure).  The run of failures is not reset by giving up, only by a
 * delivery: while a destination stays down past give_up_after, each later record gets
 * one attempt (not a whole hour) before it goes to the DLQ. */
typedef struct sl_deliver {
    int64_t retries;           /* cap on consecutive failed attempts; < 0 = none */
    int64_t give_up_after_ms;  /* retry transient failures this long; 0 = one attempt */
    int64_t first_fail_ms;     /* monotonic time of the first failure of the run */
    int64_t fails;             /* consecutive failed attempts so far */
    bool gave_up;              /* this run of failures already gave a record up */
    size_t done;               /* records of the batch in progress already handled */
    size_t n;                  /* identity of that batch */
    int64_t first_off, last_off, first_ts;
    int32_t first_part;
} sl_deliver_t;

/* Where to start in batch (0 for a new batch, else the first record not handled). */
size_t sl_deliver_begin(sl_deliver_t *d, const sl_batch_t *batch);
/* Record i was delivered (or skipped). */
void sl_deliver_ok(sl_deliver_t *d);
/* Delivering rec failed with reason `why` (the server's reply; no secrets).  Returns
 * SL_RETRY (stop here; the runner backs off and retries the batch) or 0 (the record
 * was given up: rejected to the DLQ and logged; go on with the next). */
int sl_deliver_fail(sl_deliver_t *d, sl_sink_t *sink, const sl_record_t *rec, bool permanent, const char *what,
                    const char *why, sl_error_t *err);
/* The batch was handled to its end. */
void sl_deliver_end(sl_deliver_t *d);

/* A copy of url without its userinfo (userinfo becomes ***), for logs. */
const char *sl_alerts_redact_url(const char *url, char *out, size_t cap);

/* When rec holds a notification of the alert step ({alert, state, record, ...}),
 * *record is its record; else false. */
bool sl_alerts_notification(const sl_value_t *v, const sl_value_t **record);

#endif
