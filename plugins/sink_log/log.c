/* log.c - sink `log`: one log line per record (stderr, the engine's log format).  Under
 * an alert: "alert NAME firing [KEY]: SUBJECT"; any other record as its JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/alerts.h"
#include "../../src/log.h"
#include "sluice/json.h"

typedef struct lg_conf {
    int level;      /* debug|info|warn|error */
    bool message;   /* also the notification's message */
} lg_conf_t;

static const sl_config_map_t lg_map[] = {
    {"level", SL_CFG_ENUM, "warn", 0, offsetof(lg_conf_t, level), "debug|info|warn|error",
     "the level of the lines"},
    {"message", SL_CFG_BOOL, "false", 0, offsetof(lg_conf_t, message), NULL,
     "under an alert: also log the notification's message"},
    SL_CONFIG_END};

static int lg_write(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto, sl_error_t *err) {
    (void)upto;
    (void)err;
    lg_conf_t *c = sink->conf;
    if (c->level < sl_log_level) return 0;
    sl_buf_t b = SL_BUF_INIT;
    for (size_t i = 0; i < batch->n; i++) {
        const sl_value_t *v = &batch->recs[i].value;
        if (v->type == SL_T_NULL) continue;
        sl_buf_clear(&b);
        if (sl_alerts_notification(v, NULL)) {
            const sl_value_t *a = sl_value_get(v, "alert", 5), *s = sl_value_get(v, "state", 5),
                             *k = sl_value_get(v, "key", 3), *subj = sl_value_get(v, "subject", 7),
                             *msg = sl_value_get(v, "message", 7);
            sl_buf_printf(&b, "alert %.*s %.*s", (int)a->len, a->u.s, (int)s->len, s->u.s);
            if (k && k->type == SL_T_STRING && k->len) sl_buf_printf(&b, " [%.*s]", (int)k->len, k->u.s);
            if (subj && subj->type == SL_T_STRING) sl_buf_printf(&b, ": %.*s", (int)subj->len, subj->u.s);
            if (c->message && msg && msg->type == SL_T_STRING) {
                sl_buf_puts(&b, " -- ");
                for (uint32_t m = 0; m < msg->len; m++) sl_buf_putc(&b, msg->u.s[m] == '\n' ? ' ' : msg->u.s[m]);
            }
        } else {
            sl_buf_printf(&b, "job %s: ", sink->job);
            sl_json_write(&b, *v);
        }
        sl_log_write(c->level, "%s", b.data);
    }
    sl_buf_free(&b);
    return 0;
}

const sl_sink_plugin_t sl_sink_log = {
    .abi = SL_PLUGIN_ABI,
    .name = "log",
    .description = "One log line per record on stderr: under an alert \"alert NAME firing [KEY]: SUBJECT\", else the record's JSON.",
    .config = lg_map,
    .config_size = sizeof(lg_conf_t),
    .write = lg_write,
};
