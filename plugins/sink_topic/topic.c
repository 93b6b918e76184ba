/* topic.c - sink `topic`: append the records to another topic of this pipeline (keys
 * and event times kept), committed before the job commits: at-least-once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/runner.h"
#include "sluice/plugin.h"

typedef struct topic_conf { char *name; } topic_conf_t;   /* name first: the runner reads it */

static const sl_config_map_t topic_map[] = {
    {"name", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(topic_conf_t, name), NULL,
     "the topic to append to (`- topic: enriched` is short for `- topic: {name: enriched}`)"},
    SL_CONFIG_END};

static int topic_open(sl_sink_t *sink, sl_error_t *err) {
    const topic_conf_t *c = sink->conf;
    if (!sl_runner_journal) return sl_error_set(err, SL_FATAL, "no journal is open");
    sl_topic_t *t;
    int rc = sl_journal_topic(sl_runner_journal, c->name, NULL, &t, err);
    sink->state = t;
    return rc;
}

static int topic_write(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto,
                       sl_error_t *err) {
    if (!batch->n) return 0;
    char writer[300];
    snprintf(writer, sizeof writer, "%s:topic:%d", sink->job, sink->index);
    /* the journal sets partition/offset on the records it appends: work on a copy */
    sl_record_t *recs = malloc(batch->n * sizeof *recs);
    if (!recs) return sl_error_set(err, SL_NOMEM, "out of memory");
    memcpy(recs, batch->recs, batch->n * sizeof *recs);
    for (size_t i = 0; i < batch->n; i++) recs[i].partition = -1;
    sl_txn_t *txn = sl_txn_begin(sl_runner_journal, writer);
    int rc = sl_txn_append(txn, sink->state, recs, batch->n, err);
    if (rc == 0) rc = sl_txn_commit(txn, NULL, 0, NULL, err);
    else sl_txn_abort(txn);
    free(recs);
    return rc == 0 ? 0 : SL_RETRY;
}

const sl_sink_plugin_t sl_sink_topic = {
    .abi = SL_PLUGIN_ABI,
    .name = "topic",
    .description = "Appends records to another topic of this pipeline (keys and event times kept).",
    .config = topic_map,
    .config_size = sizeof(topic_conf_t),
    .shorthand = "name",
    .open = topic_open,
    .write = topic_write,
};
