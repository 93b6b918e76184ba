/* kafka.c - source `kafka`: read an external Kafka topic (e.g. a Debezium CDC topic)
 * into a topic of this pipeline.
 *
 * Delivery: at-least-once into the pipeline's topic.  A poll takes what librdkafka has
 * already fetched (never waiting: rd_kafka_consumer_poll with a 0 timeout, so the
 * sources thread never blocks), appends it with sl_emit_commit(), and only after that
 * commit succeeded stores the offsets and commits them to Kafka (asynchronously).  A
 * crash between the two re-reads the messages since the last Kafka commit: they are
 * appended again.  Deduplicate downstream by key (a keyed sink upserts: one row per
 * key), which is why the Kafka key becomes the record key by default.
 *
 * Records: the value is parsed as JSON (malformed -> `<source>.dlq` with partition and
 * offset); an empty value (a tombstone) is skipped; the Kafka key -> record key (a
 * source `key:` expression replaces it); the message timestamp -> ts.
 *
 * Invariants:
 *  1. Offsets are stored/committed only for messages whose sl_emit_commit succeeded.
 *  2. Messages polled but not yet appended (a failed commit) are held and appended by
 *     the next poll, in order; held messages of a partition that is revoked are
 *     dropped (the partition's new owner reads them from the committed offset). */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/kafka_conf.h"
#include "../../src/log.h"
#include "sluice/json.h"
#include "sluice/plugin.h"

typedef struct kc_conf {
    char *brokers;
    char *topic;
    char *group;
    const sl_cnode_t *props;
    int from;              /* 0 earliest, 1 latest */
    int64_t max_batch;     /* messages per append */
    int64_t idle_ms;       /* wait between polls when nothing arrived */
} kc_conf_t;

static const sl_config_map_t kc_map[] = {
    {"brokers", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(kc_conf_t, brokers), NULL,
     "bootstrap servers, host:port[,host:port...]"},
    {"topic", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(kc_conf_t, topic), NULL,
     "the Kafka topic to read"},
    {"group", SL_CFG_STR, NULL, 0, offsetof(kc_conf_t, group), NULL,
     "consumer group (default sluice.<source>); processes of one group share the partitions"},
    {"props", SL_CFG_NODE, NULL, 0, offsetof(kc_conf_t, props), NULL,
     "librdkafka consumer properties (they override sluice's defaults)"},
    {"from", SL_CFG_ENUM, "earliest", 0, offsetof(kc_conf_t, from), "earliest|latest",
     "where a group without committed offsets starts"},
    {"max_batch", SL_CFG_INT, "2000", 0, offsetof(kc_conf_t, max_batch), NULL,
     "messages per journal commit"},
    {"idle", SL_CFG_DURATION, "20ms", 0, offsetof(kc_conf_t, idle_ms), NULL,
     "pause between polls when nothing is waiting"},
    SL_CONFIG_END};

typedef struct kc_state {
    const char *what;
    rd_kafka_t *rk;
    rd_kafka_message_t **held;   /* polled, not yet appended (invariant 2) */
    size_t nheld, cap;
    int assigned;                /* partitions assigned (for --once) */
    int32_t *eof_parts;          /* partitions at end (for --once), by partition number */
    size_t neof, eof_cap;
} kc_state_t;

static int kc_init(sl_source_t *src, sl_init_ctx_t *ctx) {
    kc_conf_t *c = src->conf;
    if (c->max_batch < 1) c->max_batch = 1;
    kc_state_t *st = calloc(1, sizeof *st);
    st->what = ctx->what;
    src->state = st;
    if (!c->group && src->name) c->group = sl_arena_sprintf(ctx->arena, "sluice.%s", src->name);
    sl_kafka_props_check(ctx->what, c->props, ctx->diags);
    return 0;
}

static void drop_held(kc_state_t *st, const rd_kafka_topic_partition_list_t *parts) {
    size_t out = 0;
    for (size_t i = 0; i < st->nheld; i++) {
        bool gone = parts == NULL;
        for (int p = 0; parts && p < parts->cnt && !gone; p++)
            if (parts->elems[p].partition == st->held[i]->partition) gone = true;
        if (gone) rd_kafka_message_destroy(st->held[i]);
        else st->held[out++] = st->held[i];
    }
    st->nheld = out;
}

/* Sources thread (called from inside rd_kafka_consumer_poll). */
static void kc_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    kc_state_t *st = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        sl_info("%s: %d partition(s) assigned", st->what, parts->cnt);
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e) rd_kafka_error_destroy(e);
            st->assigned += parts->cnt;
        } else {
            rd_kafka_assign(rk, parts);
            st->assigned = parts->cnt;
            st->neof = 0;
        }
        return;
    }
    /* revoked: what was appended is committed already (stored offsets); commit again
     * synchronously so the next owner starts exactly there, and drop what was polled
     * but not appended (invariant 2) */
    sl_info("%s: %d partition(s) revoked", st->what, parts->cnt);
    drop_held(st, parts);
    rd_kafka_commit(rk, NULL, 0);
    if (coop) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e) rd_kafka_error_destroy(e);
        st->assigned -= parts->cnt;
    } else {
        rd_kafka_assign(rk, NULL);
        st->assigned = 0;
    }
    st->neof = 0;
}

static int kc_open(sl_source_t *src, sl_error_t *err) {
    kc_conf_t *c = src->conf;
    kc_state_t *st = src->state;
    /* memory: librdkafka prefetches up to queued.max.messages.kbytes per client */
    const char *defaults[] = {"group.id", c->group,
                              "enable.auto.commit", "false",
                              "enable.auto.offset.store", "false",
                              "auto.offset.reset", c->from ? "latest" : "earliest",
                              "queued.max.messages.kbytes", "16384",
                              "fetch.max.bytes", "1048576",
                              "enable.partition.eof", src->once ? "true" : "false",
                              "client.id", "sluice",
                              NULL};
    rd_kafka_conf_t *conf = sl_kafka_conf_new(st->what, c->brokers, c->props, defaults, NULL, err);
    if (!conf) return SL_FATAL;
    rd_kafka_conf_set_rebalance_cb(conf, kc_rebalance);
    rd_kafka_conf_set_opaque(conf, st);
    char errstr[512];
    st->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!st->rk) {
        rd_kafka_conf_destroy(conf);
        return sl_error_set(err, SL_FATAL, "cannot create a Kafka consumer: %s", errstr);
    }
    rd_kafka_poll_set_consumer(st->rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, c->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(st->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        rd_kafka_destroy(st->rk);
        st->rk = NULL;
        return sl_error_set(err, SL_RETRY, "cannot subscribe to %s: %s", c->topic, rd_kafka_err2str(e));
    }
    sl_info("%s: consuming %s as group %s", st->what, c->topic, c->group);
    return 0;
}

static void note_eof(kc_state_t *st, int32_t partition) {
    for (size_t i = 0; i < st->neof; i++)
        if (st->eof_parts[i] == partition) return;
    if (st->neof == st->eof_cap) {
        st->eof_cap = st->eof_cap ? st->eof_cap * 2 : 8;
        st->eof_parts = realloc(st->eof_parts, st->eof_cap * sizeof *st->eof_parts);
        if (!st->eof_parts) abort();
    }
    st->eof_parts[st->neof++] = partition;
}

static void clear_eof(kc_state_t *st, int32_t partition) {
    for (size_t i = 0; i < st->neof; i++)
        if (st->eof_parts[i] == partition) st->eof_parts[i] = st->eof_parts[--st->neof];
}

static int kc_poll(sl_source_t *src, sl_emit_t *emit, int64_t *next_ms, sl_error_t *err) {
    kc_conf_t *c = src->conf;
    kc_state_t *st = src->state;
    if (!st->rk) {
        int rc = kc_open(src, err);
        if (rc) return rc;
    }
    if (st->cap < (size_t)c->max_batch) {
        st->cap = (size_t)c->max_batch;
        st->held = realloc(st->held, st->cap * sizeof *st->held);
        if (!st->held) return sl_error_set(err, SL_NOMEM, "out of memory");
    }
    /* fill up to max_batch from what librdkafka already fetched (never wait) */
    while (st->nheld < (size_t)c->max_batch) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(st->rk, 0);
        if (!m) break;
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                note_eof(st, m->partition);
            } else {
                char fatal[512];
                if (rd_kafka_fatal_error(st->rk, fatal, sizeof fatal)) {
                    rd_kafka_message_destroy(m);
                    return sl_error_set(err, SL_FATAL, "kafka: %s", fatal);
                }
                sl_warn("%s: kafka: %s", st->what, rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        clear_eof(st, m->partition);
        st->held[st->nheld++] = m;
    }
    sl_arena_t *arena = sl_emit_arena(emit);
    for (size_t i = 0; i < st->nheld; i++) {
        rd_kafka_message_t *m = st->held[i];
        if (!m->payload || m->len == 0) continue;  /* a tombstone */
        sl_value_t v;
        sl_json_error_t jerr;
        if (sl_json_parse(arena, m->payload, m->len, &v, &jerr) != 0) {
            char at[128];
            snprintf(at, sizeof at, "partition %d offset %lld", (int)m->partition, (long long)m->offset);
            sl_emit_dlq(emit, m->payload, m->len < 4096 ? m->len : 4096, at,
                        "malformed JSON at byte %zu: %s", jerr.offset, jerr.reason);
            continue;
        }
        sl_record_t *rec = sl_emit_record(emit);
        rec->value = v;
        if (m->key && m->key_len) {
            rec->key = sl_arena_strndup(arena, m->key, m->key_len);
            rec->key_len = (uint32_t)m->key_len;
        }
        rd_kafka_timestamp_type_t tt;
        int64_t ts = rd_kafka_message_timestamp(m, &tt);
        if (ts > 0) rec->ts = ts;
    }
    if (st->nheld) {
        int rc = sl_emit_commit(emit, NULL, 0, err);
        if (rc) return rc == SL_RETRY || rc == SL_IO ? SL_RETRY : rc;  /* held: retried next poll */
        /* invariant 1: only now are the offsets stored and committed */
        rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(16);
        for (size_t i = 0; i < st->nheld; i++) {
            rd_kafka_message_t *m = st->held[i];
            rd_kafka_topic_partition_t *tp =
                rd_kafka_topic_partition_list_find(offs, rd_kafka_topic_name(m->rkt), m->partition);
            if (!tp) tp = rd_kafka_topic_partition_list_add(offs, rd_kafka_topic_name(m->rkt), m->partition);
            tp->offset = m->offset + 1;
        }
        size_t n = st->nheld;
        for (size_t i = 0; i < n; i++) rd_kafka_message_destroy(st->held[i]);
        st->nheld = 0;
        rd_kafka_resp_err_t e = rd_kafka_offsets_store(st->rk, offs);
        if (e) sl_debug("%s: storing offsets: %s", st->what, rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(offs);
        e = rd_kafka_commit(st->rk, NULL, 1);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) sl_debug("%s: commit: %s", st->what, rd_kafka_err2str(e));
        if (n == (size_t)c->max_batch) {
            *next_ms = 0;
            return 0;
        }
    }
    if (src->once && st->assigned > 0 && st->neof >= (size_t)st->assigned && !st->nheld) return SL_EOF;
    *next_ms = sl_mono_ms() + c->idle_ms;
    return 0;
}

static void kc_close(sl_source_t *src) {
    kc_state_t *st = src->state;
    if (!st || !st->rk) return;
    drop_held(st, NULL);
    rd_kafka_commit(st->rk, NULL, 0);  /* what was appended and stored */
    rd_kafka_consumer_close(st->rk);   /* leave the group: the others rebalance at once */
    rd_kafka_destroy(st->rk);
    st->rk = NULL;
}

static void kc_free(sl_source_t *src) {
    kc_state_t *st = src->state;
    if (!st) return;
    free(st->held);
    free(st->eof_parts);
    free(st);
    src->state = NULL;
}

const sl_source_plugin_t sl_source_kafka = {
    .abi = SL_PLUGIN_ABI,
    .name = "kafka",
    .description = "Reads an external Kafka topic (JSON values; Kafka key -> record key, timestamp -> ts) as consumer group sluice.<source>; offsets are committed to Kafka after the records are in the pipeline's topic (at-least-once).",
    .config = kc_map,
    .config_size = sizeof(kc_conf_t),
    .init = kc_init,
    .open = kc_open,
    .poll = kc_poll,
    .close = kc_close,
    .free = kc_free,
};
