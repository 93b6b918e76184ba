/* kafka_conf.h - librdkafka configuration from a sluice config block, shared by the
 * `kafka` source, the `kafka` sink (and any other Kafka client of sluice).
 *
 * Order of precedence (later wins): sluice's defaults for the client, then
 * `bootstrap.servers` = brokers, then every key of the block's `props:` mapping — so a
 * user can override anything, including the defaults that bound memory. */
#ifndef SLUICE_KAFKA_CONF_H
#define SLUICE_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>

#include "sluice/config.h"
#include "sluice/error.h"

/* Make a conf.  `defaults` is a NULL-terminated list of name, value pairs (may be NULL);
 * `props` a YAML mapping of scalars (may be NULL or a YAML null).  librdkafka's logs and
 * errors go to sluice's log, tagged with `what`, which must outlive the client (an
 * arena string of the pipeline).  Returns the conf (the caller owns it until
 * rd_kafka_new() takes it), or NULL with err set (SL_CONFIG) and, when diags is
 * non-NULL, one diagnostic at each bad property's position.
 * The caller sets the conf's opaque (rd_kafka_conf_set_opaque) to its own state, a
 * struct whose FIRST member is `const char *what`: the log and error callbacks read the
 * tag through it (NULL opaque: logged as "kafka"). */
rd_kafka_conf_t *sl_kafka_conf_new(const char *what, const char *brokers, const sl_cnode_t *props,
                                   const char *const *defaults, sl_diags_t *diags, sl_error_t *err);

/* Check a `props:` block at config load (same rules as sl_kafka_conf_new); returns the
 * number of diagnostics added. */
int sl_kafka_props_check(const char *what, const sl_cnode_t *props, sl_diags_t *diags);

/* True when the installed librdkafka has fetch.queue.backoff.ms (2.1+): then set it to
 * 1 and no waker is needed. */
bool sl_kafka_has_fetch_queue_backoff(void);

/* librdkafka 2.0.2 parks a consumer's fetcher once its queue passes
 * queued.max.messages.kbytes and looks again only when a broker thread wakes for some
 * other reason, up to 1 s later.  A waker is a thread that, when kicked, asks the
 * leaders of the consumer's assigned partitions for their end offsets (the answer is
 * unused): the request wakes each broker thread, which re-checks its queue and fetches.
 * Kick it after a poll that drained the queue; kicks coalesce while one is under way.
 * fetch.wait.max.ms bounds how long a request may wait behind a long-poll Fetch. */
typedef struct sl_kafka_waker sl_kafka_waker_t;
sl_kafka_waker_t *sl_kafka_waker_new(rd_kafka_t *rk);
void sl_kafka_waker_kick(sl_kafka_waker_t *w);
void sl_kafka_waker_free(sl_kafka_waker_t *w);   /* joins the thread; NULL ok */

#endif
