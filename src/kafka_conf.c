/* kafka_conf.c - librdkafka configuration from a sluice config block (see kafka_conf.h). */
#include "kafka_conf.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

/* Any librdkafka thread. */
static void kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    const char *const *tag = rd_kafka_opaque(rk);
    const char *what = tag ? *tag : NULL;
    /* one set of props serves producers and consumers alike (transport kafka) */
    if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "property and will be ignored by this")) level = 7;
    if (level <= 4) sl_warn("%s: kafka %s: %s", what ? what : "kafka", fac, buf);
    else sl_debug("%s: kafka %s: %s", what ? what : "kafka", fac, buf);
}

/* The thread that polls the client. */
static void kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    const char *const *tag = opaque;
    const char *what = tag ? *tag : NULL;
    /* transport errors come and go while brokers restart: librdkafka retries them */
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        sl_info("%s: kafka: %s", what ? what : "kafka", reason);
    else
        sl_warn("%s: kafka: %s", what ? what : "kafka", reason);
}

static int set_one(rd_kafka_conf_t *conf, const char *name, const char *value, const sl_cnode_t *at,
                   const char *what, sl_diags_t *diags, sl_error_t *err) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) == RD_KAFKA_CONF_OK) return 0;
    if (diags && at)
        sl_diags_add(diags, at->file, at->line, at->col, "%s: kafka property '%s': %s", what, name, errstr);
    sl_error_set(err, SL_CONFIG, "%s: kafka property '%s': %s", what, name, errstr);
    return -1;
}

static int apply_props(rd_kafka_conf_t *conf, const char *what, const sl_cnode_t *props,
                       sl_diags_t *diags, sl_error_t *err) {
    if (!props || sl_cnode_is_null(props)) return 0;
    if (props->kind != SL_CNODE_MAP) {
        if (diags)
            sl_diags_add(diags, props->file, props->line, props->col,
                         "%s: 'props' must be a mapping of librdkafka properties, got a %s", what,
                         sl_cnode_kind_name(props->kind));
        sl_error_set(err, SL_CONFIG, "%s: 'props' must be a mapping", what);
        return -1;
    }
    int bad = 0;
    for (size_t i = 0; i < props->n; i++) {
        const sl_cnode_t *k = props->pairs[i].key, *v = props->pairs[i].val;
        if (v->kind != SL_CNODE_SCALAR) {
            if (diags)
                sl_diags_add(diags, v->file, v->line, v->col, "%s: kafka property '%s' must be a scalar", what,
                             k->str);
            sl_error_set(err, SL_CONFIG, "%s: kafka property '%s' must be a scalar", what, k->str);
            bad++;
            continue;
        }
        if (set_one(conf, k->str, v->str, k, what, diags, err) != 0) bad++;
    }
    return bad ? -1 : 0;
}

rd_kafka_conf_t *sl_kafka_conf_new(const char *what, const char *brokers, const sl_cnode_t *props,
                                   const char *const *defaults, sl_diags_t *diags, sl_error_t *err) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, kafka_log);
    rd_kafka_conf_set_error_cb(conf, kafka_error);
    int bad = 0;
    for (size_t i = 0; defaults && defaults[i]; i += 2)
        if (set_one(conf, defaults[i], defaults[i + 1], NULL, what, NULL, err) != 0) bad++;
    if (brokers && set_one(conf, "bootstrap.servers", brokers, NULL, what, diags, err) != 0) bad++;
    if (apply_props(conf, what, props, diags, err) != 0) bad++;
    if (bad) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

int sl_kafka_props_check(const char *what, const sl_cnode_t *props, sl_diags_t *diags) {
    size_t before = diags ? diags->n : 0;
    sl_error_t err = {0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    apply_props(conf, what, props, diags, &err);
    rd_kafka_conf_destroy(conf);
    return diags ? (int)(diags->n - before) : (err.code ? 1 : 0);
}
