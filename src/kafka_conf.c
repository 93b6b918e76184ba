/* kafka_conf.c - librdkafka configuration from a sluice config block (see kafka_conf.h). */
#include "kafka_conf.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

bool sl_kafka_has_fetch_queue_backoff(void) {
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bool ok = rd_kafka_conf_set(conf, "fetch.queue.backoff.ms", "1", errstr, sizeof errstr) == RD_KAFKA_CONF_OK;
    rd_kafka_conf_destroy(conf);
    return ok;
}

struct sl_kafka_waker {
    rd_kafka_t *rk;
    pthread_t thread;
    pthread_mutex_t mu;        /* want, quit */
    pthread_cond_t cv;
    bool want, quit;
};

static void *waker_main(void *arg) {
    sl_kafka_waker_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->want && !w->quit) pthread_cond_wait(&w->cv, &w->mu);
        if (w->quit) break;
        w->want = false;
        pthread_mutex_unlock(&w->mu);
        rd_kafka_topic_partition_list_t *parts = NULL;
        if (rd_kafka_assignment(w->rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
            for (int i = 0; i < parts->cnt; i++) parts->elems[i].offset = RD_KAFKA_OFFSET_END;  /* "latest" */
            if (parts->cnt) rd_kafka_offsets_for_times(w->rk, parts, 1000);
        }
        if (parts) rd_kafka_topic_partition_list_destroy(parts);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

sl_kafka_waker_t *sl_kafka_waker_new(rd_kafka_t *rk) {
    sl_kafka_waker_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->rk = rk;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, waker_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return NULL;
    }
    return w;
}

void sl_kafka_waker_kick(sl_kafka_waker_t *w) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->want = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void sl_kafka_waker_free(sl_kafka_waker_t *w) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
