/* stdout.c - sink `stdout`: each record's value as one JSON line on standard output. */
#include <stdio.h>
#include <string.h>

#include "sluice/json.h"
#include "sluice/plugin.h"

typedef struct stdout_conf { bool meta; } stdout_conf_t;

static const sl_config_map_t stdout_map[] = {
    {"meta", SL_CFG_BOOL, "false", 0, offsetof(stdout_conf_t, meta), NULL,
     "write {topic, partition, offset, key, ts, value} instead of the bare value"},
    SL_CONFIG_END};

static int stdout_write(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto,
                        sl_error_t *err) {
    const stdout_conf_t *c = sink->conf;
    sl_buf_t b = SL_BUF_INIT;
    for (size_t i = 0; i < batch->n; i++) {
        const sl_record_t *rec = &batch->recs[i];
        if (c->meta) {
            sl_buf_puts(&b, "{\"topic\":");
            sl_json_write_string(&b, rec->topic ? rec->topic : "", rec->topic ? strlen(rec->topic) : 0);
            sl_buf_printf(&b, ",\"partition\":%d,\"offset\":%lld,\"key\":", rec->partition,
                          (long long)rec->offset);
            if (rec->key) sl_json_write_string(&b, rec->key, rec->key_len);
            else sl_buf_puts(&b, "null");
            sl_buf_printf(&b, ",\"ts\":%lld,\"value\":", (long long)rec->ts);
            sl_json_write(&b, rec->value);
            sl_buf_puts(&b, "}\n");
        } else {
            sl_json_write(&b, rec->value);
            sl_buf_putc(&b, '\n');
        }
    }
    size_t w = b.len ? fwrite(b.data, 1, b.len, stdout) : 0;
    int bad = w != b.len || fflush(stdout) != 0;
    sl_buf_free(&b);
    return bad ? sl_error_set(err, SL_RETRY, "cannot write to standard output") : 0;
}

const sl_sink_plugin_t sl_sink_stdout = {
    .abi = SL_PLUGIN_ABI,
    .name = "stdout",
    .description = "Writes each record as a JSON line to standard output.",
    .config = stdout_map,
    .config_size = sizeof(stdout_conf_t),
    .write = stdout_write,
};
