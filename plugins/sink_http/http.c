/* http.c - sink `http`: the webhook sink under the name DESIGN §4 gives it
 * (`- http: {url, headers}`); the code is plugins/sink_webhook/webhook.c. */
#include "../sink_webhook/webhook.h"

const sl_sink_plugin_t sl_sink_http = {
    .abi = SL_PLUGIN_ABI,
    .name = "http",
    .description = SL_WEBHOOK_DESCRIPTION " Same as `webhook`.",
    .config = sl_webhook_config,
    .config_size = sizeof(sl_webhook_conf_t),
    .init = sl_webhook_init,
    .open = sl_webhook_open,
    .write = sl_webhook_write,
    .close = sl_webhook_close,
    .free = sl_webhook_free,
};
