/* topic.c - sink `topic`: append the records to another topic of this pipeline (keys
 * and event times kept), committed before the job commits: at-least-once.  Through the
 * runner, so the same on the journal and on Kafka. */
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

static int topic_write(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto,
                       sl_error_t *err) {
    (void)upto;
    if (!batch->n) return 0;
    const topic_conf_t *c = sink->conf;
    char writer[300];
    snprintf(writer, sizeof writer, "%s:topic:%d", sink->job, sink->index);
    return sl_runner_append(c->name, batch->recs, batch->n, writer, err) == 0 ? 0 : SL_RETRY;
}

const sl_sink_plugin_t sl_sink_topic = {
    .abi = SL_PLUGIN_ABI,
    .name = "topic",
    .description = "Appends records to another topic of this pipeline (keys and event times kept).",
    .config = topic_map,
    .config_size = sizeof(topic_conf_t),
    .shorthand = "name",
    .write = topic_write,
};
