/* webhook.h - the webhook sink's functions, shared with the sink `http` (DESIGN §4
 * names the webhook sink `http`; both are the same plugin under two names). */
#ifndef SLUICE_WEBHOOK_H
#define SLUICE_WEBHOOK_H

#include "sluice/plugin.h"

typedef struct sl_webhook_conf {
    char *url;
    int method;                /* POST|PUT|PATCH */
    const sl_cnode_t *headers; /* mapping name: value */
    const sl_cnode_t *body;    /* template (default: the record's JSON) */
    int64_t timeout_ms;
    int64_t retries;
    int64_t give_up_after_ms;
} sl_webhook_conf_t;

extern const sl_config_map_t sl_webhook_config[];
int sl_webhook_init(sl_sink_t *sink, sl_init_ctx_t *ctx);
int sl_webhook_open(sl_sink_t *sink, sl_error_t *err);
int sl_webhook_write(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto, sl_error_t *err);
void sl_webhook_close(sl_sink_t *sink);
void sl_webhook_free(sl_sink_t *sink);

#define SL_WEBHOOK_DESCRIPTION                                                                                  \
    "One HTTP request per record (POST of its JSON by default) with `headers`; 2xx is delivered; 408, 429, "   \
    "5xx and connection failures are retried with exponential backoff for `give_up_after` (default 1h; pending " \
    "ones survive restarts); then, or at once for another 4xx, the record goes to the job's dead-letter topic "  \
    "with the status and the reply."

#endif
