/* kafka_transport.c - the pipeline's topics on Kafka (see kafka_transport.h).
 *
 * Invariants:
 *  1. An append returns 0 only after librdkafka delivered every message of it
 *     (acks=all, idempotent producer): the caller may then commit what depends on it.
 *  2. A source cursor is produced only after the records of its poll were delivered.
 *  3. The lease is reported held only once the coordination partition was read to the
 *     end it had when the partition was assigned: every cursor of the previous holder
 *     is known before a source is opened.
 *  4. A job consumer hands out only messages of partitions its job holds (the keep
 *     callback), so a batch never mixes in records of a revoked partition. */
#include "kafka_transport.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka_conf.h"
#include "log.h"
#include "sluice/buf.h"
#include "sluice/json.h"

static const sl_config_map_t kt_map[] = {
    {"brokers", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(sl_kt_conf_t, brokers), NULL,
     "bootstrap servers, host:port[,host:port...]"},
    {"props", SL_CFG_NODE, NULL, 0, offsetof(sl_kt_conf_t, props), NULL,
     "librdkafka properties for every client of the transport (they override sluice's defaults)"},
    {"name", SL_CFG_STR, NULL, 0, offsetof(sl_kt_conf_t, name), NULL,
     "names the coordination topics and the lease group sluice.<name>.*; default: the file's base name"},
    {"compression", SL_CFG_ENUM, "none", 0, offsetof(sl_kt_conf_t, compression), "none|gzip|snappy|lz4|zstd",
     "compression of the messages sluice produces (compression.type; props may override it)"},
    {"publish_every", SL_CFG_DURATION, "3s", 0, offsetof(sl_kt_conf_t, publish_ms), NULL,
     "how often each process publishes what it holds (for `sluice topics`)"},
    SL_CONFIG_END};

const sl_config_map_t *const sl_kt_config_map = kt_map;

int sl_kt_conf_parse(const sl_cnode_t *node, const char *file, sl_arena_t *arena, sl_kt_conf_t *conf,
                     sl_diags_t *d) {
    size_t before = d->n;
    memset(conf, 0, sizeof *conf);
    if (!node || node->kind != SL_CNODE_MAP) {
        if (node) sl_diags_add(d, node->file, node->line, node->col, "'transport' must be a mapping: {kafka: {brokers: ...}}");
        return (int)(d->n - before);
    }
    const sl_cnode_t *k = NULL;
    for (size_t i = 0; i < node->n; i++) {
        const sl_cnode_t *key = node->pairs[i].key;
        if (strcmp(key->str, "kafka") == 0) k = node->pairs[i].val;
        else
            sl_diags_add(d, key->file, key->line, key->col, "unknown transport '%s' (known: kafka; without "
                         "'transport' topics use the embedded journal)", key->str);
    }
    if (!k) {
        if (d->n == before)
            sl_diags_add(d, node->file, node->line, node->col, "'transport' needs a 'kafka' block");
        return (int)(d->n - before);
    }
    if (k->kind != SL_CNODE_MAP) {
        sl_diags_add(d, k->file, k->line, k->col, "'transport.kafka' must be a mapping with 'brokers'");
        return (int)(d->n - before);
    }
    sl_config_apply(kt_map, k, conf, "'transport.kafka'", arena, d);
    sl_kafka_props_check("'transport.kafka'", conf->props, d);
    if (conf->publish_ms < 100) conf->publish_ms = 100;
    if (!conf->name || !*conf->name) {
        const char *base = strrchr(file, '/');
        base = base ? base + 1 : file;
        size_t len = strcspn(base, ".");
        conf->name = sl_arena_strndup(arena, base, len ? len : strlen(base));
    }
    for (const char *c = conf->name; *c; c++)
        if (!(*c == '.' || *c == '_' || *c == '-' || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
              (*c >= 'A' && *c <= 'Z'))) {
            const sl_cnode_t *at = sl_cnode_get(k, "name");
            if (!at) at = k;
            sl_diags_add(d, at->file, at->line, at->col,
                         "'transport.kafka.name' '%s' may hold only letters, digits, '.', '_' and '-' "
                         "(it names Kafka topics)", conf->name);
            break;
        }
    return (int)(d->n - before);
}

/* ------------------------------------------------------------------ state */

typedef struct kt_topic {
    const char *name;
    int partitions;
} kt_topic_t;

typedef struct kt_cursor {
    char *source;
    void *buf;
    size_t len;
} kt_cursor_t;

typedef struct kt_held {      /* what one job holds in this process (for members) */
    char *job;
    char *parts;              /* "topic/0,topic/3" */
} kt_held_t;

/* One append waiting for its delivery reports. */
typedef struct kt_call {
    size_t pending, failed;
    char first_error[256];
} kt_call_t;

struct sl_kt {
    const char *what;          /* first: kafka_conf's log tag (see kafka_conf.h) */
    const sl_pipeline_t *p;
    const sl_kt_conf_t *conf;
    rd_kafka_t *prod;
    pthread_mutex_t lock;      /* calls, cursors, held, dirty */
    pthread_cond_t acked;
    kt_topic_t *topics;
    size_t ntopics;
    char *coord, *members, *lease_group;
    char member[160];
    /* the lease: sources thread only */
    rd_kafka_t *lease;
    bool held, loaded, lease_empty;
    int64_t load_until, lease_pos;
    uint64_t epoch;
    bool lease_failed;
    kt_cursor_t *cursors;
    size_t ncursors;
    kt_held_t *jobs;
    size_t njobs;
    bool dirty;
    bool participant;          /* runs a job or wants the lease: publishes its status */
    pthread_t thread;
    atomic_bool stop;
};

static void nap_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Any thread that polls the producer (the transport's own thread). */
static void kt_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    sl_kt_t *kt = opaque;
    kt_call_t *call = m->_private;
    if (!call) return;
    pthread_mutex_lock(&kt->lock);
    if (m->err && call->failed++ == 0)
        snprintf(call->first_error, sizeof call->first_error, "%s [%d]: %s", rd_kafka_topic_name(m->rkt),
                 (int)m->partition, rd_kafka_err2str(m->err));
    if (--call->pending == 0) pthread_cond_broadcast(&kt->acked);
    pthread_mutex_unlock(&kt->lock);
}

static int kt_produce(sl_kt_t *kt, kt_call_t *call, const char *topic, int32_t partition, const void *key,
                      size_t key_len, const void *val, size_t val_len, int64_t ts, const char *source,
                      int64_t ingest_ts, sl_error_t *err) {
    char its[32];
    snprintf(its, sizeof its, "%lld", (long long)ingest_ts);
    pthread_mutex_lock(&kt->lock);
    call->pending++;
    pthread_mutex_unlock(&kt->lock);
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            kt->prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)val, val_len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(ts > 0 ? ts : 0),
            RD_KAFKA_V_HEADER("sluice.source", source ? source : "", -1),
            RD_KAFKA_V_HEADER("sluice.ingest_ts", its, -1), RD_KAFKA_V_OPAQUE(call), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {   /* the transport thread drains it */
            nap_ms(2);
            continue;
        }
        pthread_mutex_lock(&kt->lock);
        call->pending--;
        pthread_mutex_unlock(&kt->lock);
        return sl_error_set(err, SL_RETRY, "cannot produce to %s: %s", topic, rd_kafka_err2str(e));
    }
}

/* Invariant 1: wait for every report of call (librdkafka gives one per message within
 * message.timeout.ms, so this ends). */
static int kt_wait(sl_kt_t *kt, kt_call_t *call, sl_error_t *err) {
    pthread_mutex_lock(&kt->lock);
    while (call->pending > 0) pthread_cond_wait(&kt->acked, &kt->lock);
    pthread_mutex_unlock(&kt->lock);
    if (call->failed)
        return sl_error_set(err, SL_RETRY, "%zu message(s) not delivered (first: %s)", call->failed,
                            call->first_error);
    return 0;
}

static int produce_records(sl_kt_t *kt, kt_call_t *call, const char *topic, const sl_record_t *recs,
                           size_t n, sl_buf_t *tmp, sl_error_t *err) {
    for (size_t i = 0; i < n; i++) {
        const sl_record_t *r = &recs[i];
        const char *val = r->raw;
        size_t len = r->raw_len;
        if (!val) {
            tmp->len = 0;
            sl_json_write(tmp, r->value);
            val = tmp->data;
            len = tmp->len;
        }
        if (kt_produce(kt, call, topic, RD_KAFKA_PARTITION_UA, r->key, r->key ? r->key_len : 0, val, len, r->ts,
                       r->source, r->ingest_ts, err) != 0)
            return SL_RETRY;
    }
    return 0;
}

int sl_kt_append(sl_kt_t *kt, const char *topic, const sl_record_t *recs, size_t n, sl_error_t *err) {
    kt_call_t call = {0};
    sl_buf_t tmp = SL_BUF_INIT;
    int rc = produce_records(kt, &call, topic, recs, n, &tmp, err);
    sl_buf_free(&tmp);
    sl_error_t werr = {0};
    int wrc = kt_wait(kt, &call, &werr);   /* always: call lives on this stack */
    if (rc == 0 && wrc != 0) {
        *err = werr;
        rc = wrc;
    }
    return rc;
}

static void cursor_set(sl_kt_t *kt, const char *source, size_t source_len, const void *buf, size_t len) {
    pthread_mutex_lock(&kt->lock);
    kt_cursor_t *c = NULL;
    for (size_t i = 0; i < kt->ncursors; i++)
        if (strlen(kt->cursors[i].source) == source_len && memcmp(kt->cursors[i].source, source, source_len) == 0)
            c = &kt->cursors[i];
    if (!c) {
        kt->cursors = sl_xrealloc(kt->cursors, (kt->ncursors + 1) * sizeof *kt->cursors);
        c = &kt->cursors[kt->ncursors++];
        c->source = strndup(source, source_len);
        c->buf = NULL;
    }
    free(c->buf);
    c->buf = len ? malloc(len) : NULL;
    if (len) memcpy(c->buf, buf, len);
    c->len = len;
    pthread_mutex_unlock(&kt->lock);
}

static void cursors_clear(sl_kt_t *kt) {
    pthread_mutex_lock(&kt->lock);
    for (size_t i = 0; i < kt->ncursors; i++) {
        free(kt->cursors[i].source);
        free(kt->cursors[i].buf);
    }
    kt->ncursors = 0;
    pthread_mutex_unlock(&kt->lock);
}

void sl_kt_cursor(sl_kt_t *kt, const char *source, void **cursor, size_t *len) {
    *cursor = NULL;
    *len = 0;
    pthread_mutex_lock(&kt->lock);
    for (size_t i = 0; i < kt->ncursors; i++)
        if (strcmp(kt->cursors[i].source, source) == 0 && kt->cursors[i].len) {
            *cursor = malloc(kt->cursors[i].len);
            memcpy(*cursor, kt->cursors[i].buf, kt->cursors[i].len);
            *len = kt->cursors[i].len;
        }
    pthread_mutex_unlock(&kt->lock);
}

int sl_kt_source_commit(sl_kt_t *kt, const char *source, const char *topic, const sl_record_t *recs,
                        size_t n, const char *dlq_topic, const sl_record_t *dlq, size_t ndlq,
                        const void *cursor, size_t cursor_len, sl_error_t *err) {
    kt_call_t call = {0};
    sl_buf_t tmp = SL_BUF_INIT;
    int rc = produce_records(kt, &call, topic, recs, n, &tmp, err);
    if (rc == 0 && ndlq) rc = produce_records(kt, &call, dlq_topic, dlq, ndlq, &tmp, err);
    sl_buf_free(&tmp);
    sl_error_t werr = {0};
    int wrc = kt_wait(kt, &call, &werr);
    if (rc == 0 && wrc != 0) {
        *err = werr;
        rc = wrc;
    }
    if (rc != 0 || !cursor) return rc;
    /* invariant 2: the cursor only after the records */
    char key[300];
    int klen = snprintf(key, sizeof key, "cursor:%s", source);
    kt_call_t cc = {0};
    rc = kt_produce(kt, &cc, kt->coord, 0, key, (size_t)klen, cursor, cursor_len, sl_now_ms(), source, sl_now_ms(), err);
    wrc = kt_wait(kt, &cc, &werr);
    if (rc == 0 && wrc != 0) {
        *err = werr;
        rc = wrc;
    }
    if (rc == 0) cursor_set(kt, source, strlen(source), cursor, cursor_len);
    return rc;
}

/* ------------------------------------------------------------------ members */

static void held_set(sl_kt_t *kt, const char *job, const char *parts) {
    pthread_mutex_lock(&kt->lock);
    kt_held_t *h = NULL;
    for (size_t i = 0; i < kt->njobs; i++)
        if (strcmp(kt->jobs[i].job, job) == 0) h = &kt->jobs[i];
    if (!h) {
        kt->jobs = sl_xrealloc(kt->jobs, (kt->njobs + 1) * sizeof *kt->jobs);
        h = &kt->jobs[kt->njobs++];
        h->job = strdup(job);
        h->parts = NULL;
    }
    kt->participant = true;
    free(h->parts);
    h->parts = strdup(parts);
    kt->dirty = true;
    pthread_mutex_unlock(&kt->lock);
}

static void publish(sl_kt_t *kt, bool gone) {
    sl_buf_t b = SL_BUF_INIT;
    pthread_mutex_lock(&kt->lock);
    sl_buf_puts(&b, "{\"member\":");
    sl_json_write_string(&b, kt->member, strlen(kt->member));
    sl_buf_printf(&b, ",\"lease\":%s,\"gone\":%s,\"ts\":%lld,\"jobs\":{", kt->held && kt->loaded && !gone ? "true" : "false",
                  gone ? "true" : "false", (long long)sl_now_ms());
    for (size_t i = 0; i < kt->njobs; i++) {
        if (i) sl_buf_putc(&b, ',');
        sl_json_write_string(&b, kt->jobs[i].job, strlen(kt->jobs[i].job));
        sl_buf_putc(&b, ':');
        const char *parts = gone ? "" : kt->jobs[i].parts;
        sl_json_write_string(&b, parts, strlen(parts));
    }
    sl_buf_puts(&b, "}}");
    kt->dirty = false;
    pthread_mutex_unlock(&kt->lock);
    /* fire and forget: a lost status is replaced by the next one */
    rd_kafka_producev(kt->prod, RD_KAFKA_V_TOPIC(kt->members), RD_KAFKA_V_PARTITION(0),
                      RD_KAFKA_V_KEY(kt->member, strlen(kt->member)), RD_KAFKA_V_VALUE(b.data, b.len),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    sl_buf_free(&b);
}

/* The transport's thread: serves delivery reports and publishes the member status. */
static void *kt_main(void *arg) {
    sl_kt_t *kt = arg;
    int64_t next = 0;
    while (!atomic_load(&kt->stop)) {
        rd_kafka_poll(kt->prod, 50);
        int64_t now = sl_mono_ms();
        pthread_mutex_lock(&kt->lock);
        bool dirty = kt->dirty, member = kt->participant;
        pthread_mutex_unlock(&kt->lock);
        if (member && (now >= next || dirty)) {
            publish(kt, false);
            next = now + kt->conf->publish_ms;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ open */

static rd_kafka_conf_t *kt_conf(const sl_kt_conf_t *c, const char *const *defaults, void *opaque,
                                sl_error_t *err) {
    rd_kafka_conf_t *conf = sl_kafka_conf_new("transport kafka", c->brokers, c->props, defaults, NULL, err);
    if (conf) rd_kafka_conf_set_opaque(conf, opaque);
    return conf;
}

/* Create the topics the cluster does not have yet (CreateTopics; a cluster that refuses
 * it auto-creates them when asked for their metadata). */
static void create_topics(sl_kt_t *kt) {
    size_t all = kt->ntopics + 2;
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(kt->prod, 1, NULL, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) md = NULL;
    rd_kafka_NewTopic_t **nt = calloc(all, sizeof *nt);
    char errstr[256];
    size_t n = 0;
    for (size_t i = 0; i < all; i++) {
        const char *name = i < kt->ntopics ? kt->topics[i].name : i == kt->ntopics ? kt->coord : kt->members;
        bool exists = false;
        for (int k = 0; md && k < md->topic_cnt; k++)
            if (strcmp(md->topics[k].topic, name) == 0 && !md->topics[k].err) exists = true;
        if (exists) continue;
        int parts = i < kt->ntopics ? kt->topics[i].partitions : 1;
        nt[n] = rd_kafka_NewTopic_new(name, parts, -1, errstr, sizeof errstr);
        if (nt[n] && i >= kt->ntopics) rd_kafka_NewTopic_set_config(nt[n], "cleanup.policy", "compact");
        if (nt[n]) n++;
    }
    if (md) rd_kafka_metadata_destroy(md);
    if (n == 0) {
        free(nt);
        return;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(kt->prod);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(kt->prod, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(o, 5000, errstr, sizeof errstr);
    rd_kafka_CreateTopics(kt->prod, nt, n, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 8000);
    if (!ev) sl_warn("transport kafka: no answer to CreateTopics; topics are left to the cluster's auto-create");
    else if (rd_kafka_event_error(ev))
        sl_info("transport kafka: CreateTopics: %s; topics are left to the cluster's auto-create",
                rd_kafka_event_error_string(ev));
    else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                sl_info("transport kafka: created topic %s", rd_kafka_topic_result_name(res[i]));
            else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                sl_info("transport kafka: topic %s: %s (left to auto-create)", rd_kafka_topic_result_name(res[i]),
                        rd_kafka_topic_result_error_string(res[i]));
        }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    for (size_t i = 0; i < n; i++)
        if (nt[i]) rd_kafka_NewTopic_destroy(nt[i]);
    free(nt);
}

/* Partitions of topic per the cluster (asking for it auto-creates it where allowed). */
static int topic_partitions(rd_kafka_t *rk, const char *name, sl_error_t *err) {
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, name, NULL);
    int parts = 0;
    const char *why = "no answer";
    for (int attempt = 0; attempt < 20 && parts <= 0; attempt++) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 5000);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && !md->topics[0].err)
            parts = md->topics[0].partition_cnt;
        else
            why = rd_kafka_err2str(e ? e : md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC);
        if (md) rd_kafka_metadata_destroy(md);
        if (parts <= 0) nap_ms(250);
    }
    rd_kafka_topic_destroy(t);
    if (parts <= 0) return sl_error_set(err, SL_RETRY, "topic %s: %s", name, why);
    return parts;
}

int sl_kt_open(const sl_pipeline_t *p, sl_kt_t **out, sl_error_t *err) {
    const sl_kt_conf_t *c = p->kafka;
    sl_kt_t *kt = calloc(1, sizeof *kt);
    kt->what = "transport kafka";
    kt->p = p;
    kt->conf = c;
    pthread_mutex_init(&kt->lock, NULL);
    pthread_cond_init(&kt->acked, NULL);
    char host[100] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(kt->member, sizeof kt->member, "%s:%d", host, (int)getpid());
    kt->coord = sl_arena_sprintf((sl_arena_t *)&p->arena, "sluice.%s.coord", c->name);
    kt->members = sl_arena_sprintf((sl_arena_t *)&p->arena, "sluice.%s.members", c->name);
    kt->lease_group = sl_arena_sprintf((sl_arena_t *)&p->arena, "sluice.%s.lease", c->name);
    static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    const char *prod_defaults[] = {
        "enable.idempotence", "true", "acks", "all", "linger.ms", "5", "partitioner", "murmur2_random",
        "message.timeout.ms", "60000", "queue.buffering.max.kbytes", "16384", "client.id", "sluice",
        "socket.nagle.disable", "true",
        "compression.type", codecs[c->compression >= 0 && c->compression < 5 ? c->compression : 0], NULL};
    rd_kafka_conf_t *conf = kt_conf(c, prod_defaults, kt, err);
    if (!conf) goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, kt_delivered);
    char errstr[512];
    kt->prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!kt->prod) {
        rd_kafka_conf_destroy(conf);
        sl_error_set(err, SL_CONFIG, "transport kafka: %s", errstr);
        goto fail;
    }
    kt->ntopics = p->ntopics;
    kt->topics = calloc(p->ntopics ? p->ntopics : 1, sizeof *kt->topics);
    for (size_t i = 0; i < p->ntopics; i++) {
        kt->topics[i].name = p->topics[i].name;
        kt->topics[i].partitions = p->topics[i].opts.partitions > 0 ? p->topics[i].opts.partitions : 1;
    }
    create_topics(kt);
    for (size_t i = 0; i < kt->ntopics; i++) {
        int parts = topic_partitions(kt->prod, kt->topics[i].name, err);
        if (parts < 0) goto fail;
        if (parts != kt->topics[i].partitions)
            sl_warn("transport kafka: topic %s has %d partition(s) on the cluster, %d configured (records "
                    "of different keys may now be read in another order)", kt->topics[i].name, parts,
                    kt->topics[i].partitions);
        kt->topics[i].partitions = parts;
    }
    if (topic_partitions(kt->prod, kt->coord, err) < 0 || topic_partitions(kt->prod, kt->members, err) < 0)
        goto fail;
    if (pthread_create(&kt->thread, NULL, kt_main, kt) != 0) {
        sl_error_set(err, SL_FATAL, "cannot start the transport thread");
        goto fail;
    }
    sl_info("transport kafka: %s, %zu topic(s); member %s, lease group %s", c->brokers, kt->ntopics, kt->member,
            kt->lease_group);
    *out = kt;
    return 0;
fail:
    if (kt->prod) rd_kafka_destroy(kt->prod);
    free(kt->topics);
    pthread_mutex_destroy(&kt->lock);
    pthread_cond_destroy(&kt->acked);
    free(kt);
    return err->code ? err->code : SL_RETRY;
}

int sl_kt_partitions(sl_kt_t *kt, const char *topic) {
    for (size_t i = 0; i < kt->ntopics; i++)
        if (strcmp(kt->topics[i].name, topic) == 0) return kt->topics[i].partitions;
    return 1;
}

void sl_kt_close(sl_kt_t *kt) {
    if (!kt) return;
    if (kt->lease) {
        rd_kafka_consumer_close(kt->lease);   /* leave the group: the lease moves at once */
        rd_kafka_destroy(kt->lease);
    }
    kt->held = kt->loaded = false;
    atomic_store(&kt->stop, true);
    pthread_join(kt->thread, NULL);
    if (kt->participant) publish(kt, true);
    rd_kafka_flush(kt->prod, 5000);
    rd_kafka_destroy(kt->prod);
    cursors_clear(kt);
    free(kt->cursors);
    for (size_t i = 0; i < kt->njobs; i++) {
        free(kt->jobs[i].job);
        free(kt->jobs[i].parts);
    }
    free(kt->jobs);
    free(kt->topics);
    pthread_mutex_destroy(&kt->lock);
    pthread_cond_destroy(&kt->acked);
    free(kt);
}

/* ------------------------------------------------------------------ the lease */

/* Sources thread, inside rd_kafka_consumer_poll of the lease consumer.  The group is
 * cooperative-sticky: a rebalance (a process joins or leaves) leaves the lease where it
 * is unless its holder left; the callbacks carry only what changes. */
static void lease_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                            void *opaque) {
    sl_kt_t *kt = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    bool zero = false;
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].partition == 0) zero = true;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e) rd_kafka_error_destroy(e);
        } else {
            rd_kafka_assign(rk, parts);
        }
        /* the lease is partition 0 (a cluster that auto-created the topic with more
         * partitions hands the others out too: they mean nothing) */
        if (zero) {
            kt->held = true;
            kt->loaded = false;
            kt->load_until = -1;
            kt->lease_pos = 0;
            kt->lease_empty = false;
            cursors_clear(kt);
            sl_info("transport kafka: lease of the sources assigned; reading the cursors");
        }
    } else {
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
            if (e) rd_kafka_error_destroy(e);
        } else {
            rd_kafka_assign(rk, NULL);
            zero = true;
        }
        if (zero && kt->held) sl_info("transport kafka: lease of the sources revoked; sources stop here");
        if (zero) kt->held = kt->loaded = false;
    }
    pthread_mutex_lock(&kt->lock);
    kt->dirty = true;
    pthread_mutex_unlock(&kt->lock);
}

static int lease_start(sl_kt_t *kt) {
    static const char *const defaults[] = {"enable.auto.commit", "false", "auto.offset.reset", "earliest",
                                           "enable.partition.eof", "false", "client.id", "sluice-lease",
                                           "partition.assignment.strategy", "cooperative-sticky", NULL};
    sl_error_t err = {0};
    rd_kafka_conf_t *conf = kt_conf(kt->conf, defaults, kt, &err);
    if (!conf) {
        sl_errorf("transport kafka: lease: %s", err.msg);
        return -1;
    }
    char errstr[512];
    rd_kafka_conf_set(conf, "group.id", kt->lease_group, errstr, sizeof errstr);
    rd_kafka_conf_set_rebalance_cb(conf, lease_rebalance);
    kt->lease = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!kt->lease) {
        rd_kafka_conf_destroy(conf);
        sl_errorf("transport kafka: lease consumer: %s", errstr);
        return -1;
    }
    rd_kafka_poll_set_consumer(kt->lease);
    pthread_mutex_lock(&kt->lock);
    kt->participant = true;
    pthread_mutex_unlock(&kt->lock);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, kt->coord, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(kt->lease, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        sl_errorf("transport kafka: cannot subscribe to %s: %s", kt->coord, rd_kafka_err2str(e));
        rd_kafka_destroy(kt->lease);
        kt->lease = NULL;
        return -1;
    }
    return 0;
}

bool sl_kt_lease(sl_kt_t *kt, uint64_t *epoch) {
    if (!kt->lease && !kt->lease_failed && lease_start(kt) != 0) kt->lease_failed = true;
    if (!kt->lease) return false;
    rd_kafka_message_t *m;
    while ((m = rd_kafka_consumer_poll(kt->lease, 0)) != NULL) {
        if (!m->err && kt->held && m->partition == 0) {
            kt->lease_pos = m->offset + 1;
            /* while reading up to the end; later messages are this process's own */
            if (!kt->loaded && m->key_len > 7 && memcmp(m->key, "cursor:", 7) == 0)
                cursor_set(kt, (const char *)m->key + 7, m->key_len - 7, m->payload, m->len);
        } else if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            sl_debug("transport kafka: lease: %s", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    if (kt->held && !kt->loaded) {
        if (kt->load_until < 0) {
            int64_t lo = 0, hi = 0;
            if (rd_kafka_query_watermark_offsets(kt->lease, kt->coord, 0, &lo, &hi, 2000) == 0) {
                kt->load_until = hi;
                kt->lease_empty = lo >= hi;
            }
        }
        if (kt->load_until >= 0 && (kt->lease_empty || kt->lease_pos >= kt->load_until)) {
            kt->loaded = true;
            kt->epoch++;
            sl_info("transport kafka: this process holds the lease of the sources (%zu cursor(s) read)",
                    kt->ncursors);
            pthread_mutex_lock(&kt->lock);
            kt->dirty = true;
            pthread_mutex_unlock(&kt->lock);
        }
    }
    *epoch = kt->epoch;
    return kt->held && kt->loaded;
}

/* ------------------------------------------------------------------ job consumers */

struct sl_kt_consumer {
    const char *what;          /* first: the log tag */
    sl_kt_t *kt;
    char *job;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    const char *const *topics;
    size_t ntopics;
    sl_kt_assign_fn assign;
    sl_kt_keep_fn keep;
    sl_kt_bad_fn bad;
    void *opaque;
    rd_kafka_message_t **msgs;
    size_t cap;
    sl_kafka_waker_t *waker;   /* NULL where librdkafka has fetch.queue.backoff.ms */
    size_t taken, wake_bytes;  /* bytes consumed since the last kick; half the prefetch cap */
    struct { size_t t; int p; } *owned;
    size_t nowned;
};

static size_t topic_index(const sl_kt_consumer_t *c, const char *name) {
    for (size_t i = 0; i < c->ntopics; i++)
        if (strcmp(c->topics[i], name) == 0) return i;
    return (size_t)-1;
}

static void owned_publish(sl_kt_consumer_t *c) {
    sl_buf_t b = SL_BUF_INIT;
    for (size_t i = 0; i < c->nowned; i++)
        sl_buf_printf(&b, "%s%s/%d", i ? "," : "", c->topics[c->owned[i].t], c->owned[i].p);
    sl_buf_putc(&b, 0);
    held_set(c->kt, c->job, b.data);
    sl_buf_free(&b);
}

/* The job's thread, inside rd_kafka_consume_batch_queue. */
static void job_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                          void *opaque) {
    sl_kt_consumer_t *c = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (!coop) c->nowned = 0;
        c->owned = sl_xrealloc(c->owned, (c->nowned + (size_t)parts->cnt + 1) * sizeof *c->owned);
        for (int i = 0; i < parts->cnt; i++) {
            size_t t = topic_index(c, parts->elems[i].topic);
            int64_t start = -1;
            if (t != (size_t)-1) {
                c->assign(c->opaque, t, parts->elems[i].partition, true, &start);
                c->owned[c->nowned].t = t;
                c->owned[c->nowned++].p = parts->elems[i].partition;
            }
            parts->elems[i].offset = start >= 0 ? start : RD_KAFKA_OFFSET_INVALID;
        }
        sl_info("job %s: %d partition(s) assigned", c->job, parts->cnt);
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e) rd_kafka_error_destroy(e);
        } else {
            rd_kafka_assign(rk, parts);
        }
        /* Where the sinks already hold more than the group committed (a process killed
         * after its sinks' commit, before its Kafka commit), the group's offset moves up
         * to what they hold now: else, with nothing left to read there, it would stay
         * behind for good and `sluice topics` would report lag that is not there. */
        rd_kafka_topic_partition_list_t *held = rd_kafka_topic_partition_list_new(parts->cnt + 1);
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].offset >= 0)
                rd_kafka_topic_partition_list_add(held, parts->elems[i].topic, parts->elems[i].partition)->offset =
                    parts->elems[i].offset;
        if (held->cnt && rd_kafka_offsets_store(rk, held) == RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_commit(rk, NULL, 1);
        rd_kafka_topic_partition_list_destroy(held);
    } else {
        /* what the job wrote and stored goes to Kafka before the partitions do (a
         * partition lost with its session cannot be committed: the sinks' offsets or a
         * repeat cover it) */
        if (!rd_kafka_assignment_lost(rk)) {
            rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0);
            if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
                sl_info("job %s: commit on revoke: %s", c->job, rd_kafka_err2str(e));
        }
        for (int i = 0; i < parts->cnt; i++) {
            size_t t = topic_index(c, parts->elems[i].topic);
            if (t == (size_t)-1) continue;
            c->assign(c->opaque, t, parts->elems[i].partition, false, NULL);
            for (size_t k = 0; k < c->nowned; k++)
                if (c->owned[k].t == t && c->owned[k].p == parts->elems[i].partition)
                    c->owned[k] = c->owned[--c->nowned];
        }
        sl_info("job %s: %d partition(s) revoked", c->job, parts->cnt);
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
            if (e) rd_kafka_error_destroy(e);
        } else {
            rd_kafka_assign(rk, NULL);
            c->nowned = 0;
        }
    }
    owned_publish(c);
}

int sl_kt_consumer_open(sl_kt_t *kt, const char *job, const char *const *topics, size_t ntopics,
                        sl_kt_assign_fn assign, sl_kt_keep_fn keep, sl_kt_bad_fn bad, void *opaque,
                        sl_kt_consumer_t **out, sl_error_t *err) {
    sl_kt_consumer_t *c = calloc(1, sizeof *c);
    c->kt = kt;
    c->job = strdup(job);
    c->what = c->job;
    c->topics = topics;
    c->ntopics = ntopics;
    c->assign = assign;
    c->keep = keep;
    c->bad = bad;
    c->opaque = opaque;
    char group[300];
    snprintf(group, sizeof group, "sluice.%s", job);
    /* memory: a 1 MiB prefetch (librdkafka 2.0.2 then parks its fetcher often: the
     * waker restarts it, see kafka_conf.h) */
    bool qbackoff = sl_kafka_has_fetch_queue_backoff();
    /* offsets are stored once every sink acknowledged and committed at once
     * (sl_kt_commit); the auto-commit of what is stored, every second, is the retry of an
     * asynchronous commit that failed (a rebalance, a coordinator move), which nothing
     * else would send again once the partition has no more to read */
    const char *defaults[] = {"group.id", group, "enable.auto.commit", "true", "auto.commit.interval.ms", "1000",
                              "enable.auto.offset.store", "false",
                              "auto.offset.reset", "earliest", "enable.partition.eof", "false",
                              "queued.max.messages.kbytes", "1024", "fetch.wait.max.ms", "25",
                              "socket.nagle.disable", "true",
                              "partition.assignment.strategy", "range,roundrobin", "client.id", "sluice",
                              qbackoff ? "fetch.queue.backoff.ms" : NULL, "1", NULL};
    rd_kafka_conf_t *conf = kt_conf(kt->conf, defaults, c, err);
    if (!conf) goto fail;
    char kb[32];
    size_t kblen = sizeof kb;
    c->wake_bytes = rd_kafka_conf_get(conf, "queued.max.messages.kbytes", kb, &kblen) == RD_KAFKA_CONF_OK
                        ? (size_t)strtoll(kb, NULL, 10) * 512 : 512 * 1024;
    rd_kafka_conf_set_rebalance_cb(conf, job_rebalance);
    char errstr[512];
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        sl_error_set(err, SL_FATAL, "job %s: cannot create a Kafka consumer: %s", job, errstr);
        goto fail;
    }
    rd_kafka_poll_set_consumer(c->rk);
    c->q = rd_kafka_queue_get_consumer(c->rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new((int)ntopics);
    for (size_t i = 0; i < ntopics; i++) rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        sl_error_set(err, SL_RETRY, "job %s: cannot subscribe: %s", job, rd_kafka_err2str(e));
        goto fail;
    }
    if (!qbackoff) c->waker = sl_kafka_waker_new(c->rk);
    held_set(kt, job, "");
    *out = c;
    return 0;
fail:
    if (c->q) rd_kafka_queue_destroy(c->q);
    if (c->rk) rd_kafka_destroy(c->rk);
    free(c->job);
    free(c);
    return err->code ? err->code : SL_RETRY;
}

static const char *source_name(const sl_pipeline_t *p, sl_arena_t *a, const char *s, size_t len) {
    for (size_t i = 0; i < p->nsources; i++)
        if (strlen(p->sources[i].name) == len && memcmp(p->sources[i].name, s, len) == 0) return p->sources[i].name;
    return len ? sl_arena_strndup(a, s, len) : NULL;
}

/* A message as a record of topic (the pipeline's name) in batch.  A value that is not
 * JSON becomes a string value and `why` is filled: returns -1. */
static int decode(const sl_pipeline_t *p, const char *topic, const rd_kafka_message_t *m, sl_batch_t *batch,
                  char *why, size_t why_len) {
    sl_arena_t *a = &batch->arena;
    sl_record_t *rec = sl_batch_push(batch);
    rec->topic = topic;
    rec->partition = m->partition;
    rec->offset = m->offset;
    if (m->key && m->key_len) {
        rec->key = sl_arena_strndup(a, m->key, m->key_len);
        rec->key_len = (uint32_t)m->key_len;
    }
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    rec->ts = ts > 0 ? ts : sl_now_ms();
    rec->ingest_ts = rec->ts;
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const void *v;
        size_t len;
        if (rd_kafka_header_get_last(h, "sluice.source", &v, &len) == RD_KAFKA_RESP_ERR_NO_ERROR && v)
            rec->source = source_name(p, a, v, len);
        if (rd_kafka_header_get_last(h, "sluice.ingest_ts", &v, &len) == RD_KAFKA_RESP_ERR_NO_ERROR && v &&
            len < 24) {
            char buf[24];
            memcpy(buf, v, len);
            buf[len] = 0;
            int64_t its = strtoll(buf, NULL, 10);
            if (its > 0) rec->ingest_ts = its;
        }
    }
    const char *text = m->len ? sl_arena_strndup(a, m->payload, m->len) : "";
    batch->bytes += m->len;
    sl_json_error_t jerr;
    if (sl_json_parse(a, text, m->len, &rec->value, &jerr) != 0) {
        rec->value = sl_str(text, m->len);
        snprintf(why, why_len, "not JSON: %s at byte %zu", jerr.reason, jerr.offset);
        return -1;
    }
    if (!memchr(text, '\n', m->len)) {
        rec->raw = text;
        rec->raw_len = (uint32_t)m->len;
    }
    return 0;
}

int sl_kt_consume(sl_kt_consumer_t *c, sl_batch_t *batch, size_t max, size_t max_bytes, int wait_ms) {
    (void)max_bytes;   /* bounded by max records; librdkafka gives whole messages */
    if (max == 0) return 0;
    if (c->cap < max) {
        c->cap = max;
        c->msgs = sl_xrealloc(c->msgs, max * sizeof *c->msgs);
    }
    ssize_t got = rd_kafka_consume_batch_queue(c->q, 0, c->msgs, max);
    if (got == 0 && wait_ms > 0) {
        got = rd_kafka_consume_batch_queue(c->q, wait_ms, c->msgs, 1);
        if (got == 1 && max > 1) {
            ssize_t more = rd_kafka_consume_batch_queue(c->q, 0, c->msgs + 1, max - 1);
            if (more > 0) got += more;
        }
    }
    if (got < 0) return 0;
    size_t before = batch->n;
    for (ssize_t i = 0; i < got; i++) c->taken += c->msgs[i]->len + c->msgs[i]->key_len;
    if ((size_t)got < max && c->taken >= c->wake_bytes) {   /* drained what may have been a full queue */
        sl_kafka_waker_kick(c->waker);
        c->taken = 0;
    }
    for (ssize_t i = 0; i < got; i++) {
        rd_kafka_message_t *m = c->msgs[i];
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                sl_warn("job %s: kafka: %s", c->job, rd_kafka_message_errstr(m));
        } else {
            size_t t = topic_index(c, rd_kafka_topic_name(m->rkt));
            char why[200];
            if (t != (size_t)-1 && c->keep(c->opaque, t, m->partition, m->offset) &&
                decode(c->kt->p, c->topics[t], m, batch, why, sizeof why) != 0) {
                c->bad(c->opaque, &batch->recs[batch->n - 1], why);
                batch->n--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    return (int)(batch->n - before);
}

int sl_kt_commit(sl_kt_consumer_t *c, const sl_offset_t *offs, size_t n, sl_error_t *err) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n + 1);
    for (size_t i = 0; i < n; i++)
        if (offs[i].offset >= 0) rd_kafka_topic_partition_list_add(l, offs[i].topic, offs[i].partition)->offset = offs[i].offset;
    /* stored, then committed asynchronously: the revocation of a partition commits what
     * is stored synchronously before the partition goes (job_rebalance) */
    rd_kafka_resp_err_t e = l->cnt ? rd_kafka_offsets_store(c->rk, l) : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && l->cnt) e = rd_kafka_commit(c->rk, NULL, 1);
    rd_kafka_topic_partition_list_destroy(l);
    switch (e) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
    case RD_KAFKA_RESP_ERR__NO_OFFSET:
        return 0;
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR__STATE:
        sl_info("job %s: offsets not committed (%s): the group is rebalancing", c->job, rd_kafka_err2str(e));
        return 0;
    default:
        return sl_error_set(err, SL_RETRY, "commit: %s", rd_kafka_err2str(e));
    }
}

int64_t sl_kt_committed(sl_kt_consumer_t *c, const char *topic, int partition) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    int64_t off = -1;
    if (rd_kafka_committed(c->rk, l, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR && l->elems[0].offset >= 0)
        off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return off;
}

int64_t sl_kt_end(sl_kt_consumer_t *c, const char *topic, int partition) {
    int64_t lo = 0, hi = -1;
    if (rd_kafka_query_watermark_offsets(c->rk, topic, partition, &lo, &hi, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    return hi;
}

int64_t sl_kt_cached_end(sl_kt_consumer_t *c, const char *topic, int partition) {
    int64_t lo = 0, hi = -1;
    if (rd_kafka_get_watermark_offsets(c->rk, topic, partition, &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
    return hi;
}

void sl_kt_consumer_close(sl_kt_consumer_t *c) {
    if (!c) return;
    sl_kafka_waker_free(c->waker);
    rd_kafka_consumer_close(c->rk);   /* revokes (callbacks run here), leaves the group */
    rd_kafka_queue_destroy(c->q);
    rd_kafka_destroy(c->rk);
    held_set(c->kt, c->job, "");
    free(c->msgs);
    free(c->owned);
    free(c->job);
    free(c);
}

/* ------------------------------------------------------------------ readers (tail) */

struct sl_kt_reader {
    const char *what;          /* first: the log tag */
    const sl_pipeline_t *p;
    const char *topic;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    int nparts;
    bool *eof;                 /* per partition: at its end since the last message */
    rd_kafka_message_t *msgs[256];
};

int sl_kt_reader_open(const sl_pipeline_t *p, const char *topic, bool from_start, int64_t back, int resume_p,
                      int64_t resume_o, sl_kt_reader_t **out, sl_error_t *err) {
    const sl_topic_cfg_t *tc = sl_pipeline_topic(p, topic);
    if (!tc) return sl_error_set(err, SL_NOTFOUND, "no topic '%s' in the pipeline", topic);
    sl_kt_reader_t *r = calloc(1, sizeof *r);
    r->what = "tail";
    r->p = p;
    r->topic = tc->name;
    static const char *const defaults[] = {"enable.partition.eof", "true", "enable.auto.commit", "false",
                                           "queued.max.messages.kbytes", "1024", "fetch.wait.max.ms", "100",
                                           "client.id", "sluice-tail", "group.id", "sluice.tail", NULL};
    rd_kafka_conf_t *conf = kt_conf(p->kafka, defaults, r, err);
    char errstr[512];
    if (conf && !(r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(conf);
        sl_error_set(err, SL_FATAL, "%s", errstr);
    }
    if (!r->rk) {
        free(r);
        return err->code ? err->code : SL_FATAL;
    }
    r->nparts = topic_partitions(r->rk, topic, err);
    if (r->nparts < 0) {
        rd_kafka_destroy(r->rk);
        free(r);
        return SL_RETRY;
    }
    r->eof = calloc((size_t)r->nparts, sizeof *r->eof);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->nparts);
    for (int i = 0; i < r->nparts; i++)
        rd_kafka_topic_partition_list_add(l, topic, i)->offset =
            from_start ? RD_KAFKA_OFFSET_BEGINNING
            : i == resume_p && resume_o >= 0 ? resume_o + 1
            : back > 0 ? RD_KAFKA_OFFSET_TAIL(back) : RD_KAFKA_OFFSET_END;
    rd_kafka_resp_err_t e = rd_kafka_assign(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        sl_kt_reader_close(r);
        return sl_error_set(err, SL_RETRY, "cannot read %s: %s", topic, rd_kafka_err2str(e));
    }
    r->q = rd_kafka_queue_get_consumer(r->rk);
    *out = r;
    return 0;
}

int sl_kt_reader_read(sl_kt_reader_t *r, sl_batch_t *batch, size_t max, int wait_ms) {
    if (max > sizeof r->msgs / sizeof r->msgs[0]) max = sizeof r->msgs / sizeof r->msgs[0];
    ssize_t got = rd_kafka_consume_batch_queue(r->q, 0, r->msgs, max);
    if (got == 0 && wait_ms > 0) got = rd_kafka_consume_batch_queue(r->q, wait_ms, r->msgs, 1);
    size_t before = batch->n;
    for (ssize_t i = 0; i < got; i++) {
        rd_kafka_message_t *m = r->msgs[i];
        if (m->partition >= 0 && m->partition < r->nparts) r->eof[m->partition] = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
        if (!m->err) {
            char why[200];
            decode(r->p, r->topic, m, batch, why, sizeof why);   /* not JSON: shown as a string */
        }
        rd_kafka_message_destroy(m);
    }
    return (int)(batch->n - before);
}

bool sl_kt_reader_at_end(const sl_kt_reader_t *r) {
    for (int i = 0; i < r->nparts; i++)
        if (!r->eof[i]) return false;
    return true;
}

void sl_kt_reader_close(sl_kt_reader_t *r) {
    if (!r) return;
    if (r->q) rd_kafka_queue_destroy(r->q);
    rd_kafka_destroy(r->rk);
    free(r->eof);
    free(r);
}

/* ------------------------------------------------------------------ sluice topics */

typedef struct member {
    char *key;
    sl_value_t status;
} member_t;

static const char *member_of(const member_t *ms, size_t n, const char *job, const char *topic, int part,
                             int64_t now, int64_t stale_ms) {
    char want[400];
    snprintf(want, sizeof want, "%s/%d", topic, part);
    for (size_t i = 0; i < n; i++) {
        const sl_value_t *gone = sl_value_get(&ms[i].status, "gone", 4);
        const sl_value_t *ts = sl_value_get(&ms[i].status, "ts", 2);
        if ((gone && gone->type == SL_T_BOOL && gone->u.b) || !ts || now - (int64_t)sl_value_num(*ts) > stale_ms) continue;
        const sl_value_t *jobs = sl_value_get(&ms[i].status, "jobs", 4);
        const sl_value_t *parts = jobs ? sl_value_get(jobs, job, strlen(job)) : NULL;
        if (!parts || parts->type != SL_T_STRING) continue;
        char s[8192];
        snprintf(s, sizeof s, "%.*s", (int)parts->len, parts->u.s);
        size_t wl = strlen(want);
        for (const char *at = s; (at = strstr(at, want)) != NULL; at += wl)
            if ((at == s || at[-1] == ',') && (at[wl] == ',' || at[wl] == 0)) return ms[i].key;
    }
    return NULL;
}

int sl_kt_report(const sl_pipeline_t *p, FILE *out, sl_error_t *err) {
    const sl_kt_conf_t *c = p->kafka;
    struct { const char *what; } tag = {"sluice topics"};
    static const char *const defaults[] = {"client.id", "sluice-topics", "enable.partition.eof", "true", NULL};
    rd_kafka_conf_t *conf = kt_conf(c, defaults, &tag, err);
    if (!conf) return SL_CONFIG;
    char errstr[512];
    rd_kafka_conf_set(conf, "group.id", "sluice.topics", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return sl_error_set(err, SL_FATAL, "%s", errstr);
    }
    /* members: the latest status of each, read off the members topic */
    sl_arena_t arena;
    sl_arena_init(&arena, 4096);
    member_t *ms = NULL;
    size_t nms = 0;
    char members[300];
    snprintf(members, sizeof members, "sluice.%s.members", c->name);
    int64_t lo = 0, hi = 0;
    if (rd_kafka_query_watermark_offsets(rk, members, 0, &lo, &hi, 5000) == 0 && hi > lo) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, members, 0)->offset = hi - lo > 5000 ? hi - 5000 : lo;
        rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        int64_t deadline = sl_mono_ms() + 5000;
        while (sl_mono_ms() < deadline) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
            if (!m) continue;
            bool end = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || (!m->err && m->offset >= hi - 1);
            if (!m->err && m->key) {
                sl_value_t v;
                sl_json_error_t je;
                if (sl_json_parse(&arena, m->payload, m->len, &v, &je) == 0) {
                    member_t *slot = NULL;
                    for (size_t i = 0; i < nms; i++)
                        if (strlen(ms[i].key) == m->key_len && memcmp(ms[i].key, m->key, m->key_len) == 0) slot = &ms[i];
                    if (!slot) {
                        ms = sl_xrealloc(ms, (nms + 1) * sizeof *ms);
                        slot = &ms[nms++];
                        slot->key = sl_arena_strndup(&arena, m->key, m->key_len);
                    }
                    slot->status = v;
                }
            }
            rd_kafka_message_destroy(m);
            if (end) break;
        }
        rd_kafka_assign(rk, NULL);
    }
    int64_t now = sl_now_ms(), stale = 3 * c->publish_ms + 10000;
    fprintf(out, "%-32s %4s %12s %12s\n", "TOPIC", "PART", "START", "END");
    for (size_t i = 0; i < p->ntopics; i++) {
        sl_error_t perr = {0};
        int parts = topic_partitions(rk, p->topics[i].name, &perr);
        for (int pi = 0; pi < parts; pi++) {
            int64_t tlo = -1, thi = -1;
            rd_kafka_query_watermark_offsets(rk, p->topics[i].name, pi, &tlo, &thi, 5000);
            fprintf(out, "%-32s %4d %12lld %12lld\n", p->topics[i].name, pi, (long long)tlo, (long long)thi);
        }
    }
    fprintf(out, "\n%-32s %-32s %4s %12s %12s  %s\n", "GROUP", "TOPIC", "PART", "COMMITTED", "LAG", "MEMBER");
    for (size_t j = 0; j < p->njobs; j++) {
        const sl_job_cfg_t *job = &p->jobs[j];
        struct { const char *what; } gtag = {job->name};
        sl_error_t gerr = {0};
        rd_kafka_conf_t *gconf = kt_conf(c, defaults, &gtag, &gerr);
        if (!gconf) continue;
        char group[300];
        snprintf(group, sizeof group, "sluice.%s", job->name);
        rd_kafka_conf_set(gconf, "group.id", group, errstr, sizeof errstr);
        rd_kafka_t *g = rd_kafka_new(RD_KAFKA_CONSUMER, gconf, errstr, sizeof errstr);
        if (!g) {
            rd_kafka_conf_destroy(gconf);
            continue;
        }
        for (size_t f = 0; f < job->nfrom; f++) {
            sl_error_t perr = {0};
            int parts = topic_partitions(rk, job->from[f], &perr);
            for (int pi = 0; pi < parts; pi++) {
                rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(l, job->from[f], pi);
                int64_t off = -1, tlo = 0, thi = 0;
                if (rd_kafka_committed(g, l, 5000) == 0 && l->elems[0].offset >= 0) off = l->elems[0].offset;
                rd_kafka_topic_partition_list_destroy(l);
                rd_kafka_query_watermark_offsets(rk, job->from[f], pi, &tlo, &thi, 5000);
                const char *who = member_of(ms, nms, job->name, job->from[f], pi, now, stale);
                fprintf(out, "%-32s %-32s %4d %12lld %12lld  %s\n", group, job->from[f], pi, (long long)off,
                        (long long)(thi - (off < 0 ? tlo : off)), who ? who : "-");
            }
        }
        rd_kafka_destroy(g);
    }
    fprintf(out, "\n%-40s %-6s %s\n", "MEMBER", "LEASE", "LAST SEEN");
    for (size_t i = 0; i < nms; i++) {
        const sl_value_t *gone = sl_value_get(&ms[i].status, "gone", 4);
        const sl_value_t *lease = sl_value_get(&ms[i].status, "lease", 5);
        const sl_value_t *ts = sl_value_get(&ms[i].status, "ts", 2);
        int64_t age = ts ? now - (int64_t)sl_value_num(*ts) : -1;
        bool left = gone && gone->type == SL_T_BOOL && gone->u.b;
        if (left || age > stale) continue;
        fprintf(out, "%-40s %-6s %.1f s ago\n", ms[i].key, lease && lease->type == SL_T_BOOL && lease->u.b ? "yes" : "no",
                (double)age / 1000.0);
    }
    free(ms);
    sl_arena_free(&arena);
    rd_kafka_destroy(rk);
    return 0;
}
