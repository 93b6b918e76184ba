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
 *     dropped (the partition's new owner reads them from the committed offset).
 *  3. Kafka commits trail the stored offsets by at most KC_COMMIT_MS (one async commit
 *     per interval, not per poll); revoke and close commit synchronously.
 *
 * Fetching and memory: librdkafka prefetches into one consumer queue capped by
 * queued.max.messages.kbytes (1 MiB here), plus up to fetch.max.bytes per broker in
 * flight.  librdkafka 2.0.2 (Debian 12) stops fetching when the queue passes the cap
 * and looks again only when its broker thread wakes for some other reason, up to 1 s
 * later, so a consumer that drains the queue faster than that mostly waits (measured
 * with a 16 MiB cap: 64k msgs/s, in 1 s steps).  A librdkafka that has
 * fetch.queue.backoff.ms gets that property (1 ms) instead; without it a waker thread
 * (kc_waker_main) restarts the fetchers: when a poll has emptied the queue after taking
 * at least half a cap's worth since the last wake-up (so the queue may have been full),
 * it asks the leaders of the assigned partitions for their end offsets
 * (rd_kafka_offsets_for_times, answer unused); the request wakes each broker thread,
 * which re-checks its queue and fetches.  Partitions known to be at their end are left
 * out, as their broker may hold a long-poll Fetch that the request would queue behind;
 * fetch.wait.max.ms (25 ms) bounds that wait when the knowledge is late.  The sources
 * thread never blocks on any of this.
 *
 * Polling: after a poll that found messages the next one comes 1 ms later (the fetcher
 * is refilling the queue), after a full batch at once; with nothing waiting the pause
 * doubles from 2 ms up to `idle`. */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
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
    int64_t idle_ms;       /* longest pause between polls when nothing arrives */
} kc_conf_t;

static const sl_config_map_t kc_map[] = {
    {"brokers", SL_CFG_STR, NULL, 0, offsetof(kc_conf_t, brokers), NULL,
     "bootstrap servers, host:port[,host:port...] (default: transport kafka's)"},
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

enum {
    KC_COMMIT_MS = 100,        /* invariant 3 */
    KC_WAKE_TIMEOUT_MS = 1000  /* the waker's wait for its ListOffsets answers */
};

typedef struct kc_state {
    const char *what;            /* first: the opaque's log tag (kafka_conf.h) */
    rd_kafka_t *rk;
    rd_kafka_message_t **held;   /* polled, not yet appended (invariant 2) */
    size_t nheld, cap;
    int64_t *next_off;           /* per partition: offset to store after an append, -1 none */
    size_t nnext;
    int assigned;                /* partitions assigned (for --once) */
    int32_t *eof_parts;          /* partitions at end (for --once and the waker) */
    size_t neof, eof_cap;
    int empty_polls;             /* consecutive polls that found nothing (backoff) */
    int64_t commit_ms;           /* last Kafka commit (invariant 3) */
    bool uncommitted;            /* offsets stored since then */
    /* waking librdkafka's fetcher (see "Fetching" above) */
    bool waker_on;
    size_t wake_bytes, wake_msgs;    /* half of the prefetch caps */
    size_t taken_bytes, taken_msgs;  /* polled since the last wake-up */
    pthread_t waker;
    pthread_mutex_t mu;          /* guards want, quit, skip */
    pthread_cond_t cv;
    bool want, quit;
    int32_t *skip;               /* partitions at their end when the wake-up was asked */
    size_t nskip, skip_cap;
} kc_state_t;

static int kc_init(sl_source_t *src, sl_init_ctx_t *ctx) {
    kc_conf_t *c = src->conf;
    if (!c->brokers) c->brokers = (char *)ctx->kafka_brokers;
    if (!c->brokers && ctx->diags && ctx->node)
        sl_diags_add(ctx->diags, ctx->node->file, ctx->node->line, ctx->node->col,
                     "%s: needs 'brokers' (or the pipeline's transport kafka)", ctx->what);
    if (c->max_batch < 1) c->max_batch = 1;
    kc_state_t *st = calloc(1, sizeof *st);
    if (!st) return SL_NOMEM;
    st->what = ctx->what;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
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
    st->uncommitted = false;
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

/* Waker thread: ask the leaders of the assigned partitions (but those at their end)
 * for their end offsets; the request itself is the wake-up, the answer is unused. */
static void *kc_waker_main(void *arg) {
    kc_state_t *st = arg;
    int32_t *skip = NULL;
    size_t nskip = 0, cap = 0;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (!st->want && !st->quit) pthread_cond_wait(&st->cv, &st->mu);
        if (st->quit) break;
        st->want = false;
        if (cap < st->nskip) {
            int32_t *n = realloc(skip, st->nskip * sizeof *skip);
            if (n) {
                skip = n;
                cap = st->nskip;
            }
        }
        nskip = cap < st->nskip ? cap : st->nskip;
        if (nskip) memcpy(skip, st->skip, nskip * sizeof *skip);
        pthread_mutex_unlock(&st->mu);
        rd_kafka_topic_partition_list_t *parts = NULL;
        if (rd_kafka_assignment(st->rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
            for (int i = parts->cnt - 1; i >= 0; i--) {
                bool at_end = false;
                for (size_t k = 0; k < nskip && !at_end; k++) at_end = skip[k] == parts->elems[i].partition;
                if (at_end) rd_kafka_topic_partition_list_del_by_idx(parts, i);
                else parts->elems[i].offset = RD_KAFKA_OFFSET_END;  /* as a timestamp: latest */
            }
            if (parts->cnt) rd_kafka_offsets_for_times(st->rk, parts, KC_WAKE_TIMEOUT_MS);
        }
        if (parts) rd_kafka_topic_partition_list_destroy(parts);
        pthread_mutex_lock(&st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    free(skip);
    return NULL;
}

/* Sources thread: ask the waker for a wake-up (coalesced while one is under way). */
static void kc_wake(kc_state_t *st) {
    pthread_mutex_lock(&st->mu);
    if (st->skip_cap < st->neof) {
        int32_t *n = realloc(st->skip, st->neof * sizeof *st->skip);
        if (n) {
            st->skip = n;
            st->skip_cap = st->neof;
        }
    }
    st->nskip = st->skip_cap < st->neof ? st->skip_cap : st->neof;
    if (st->nskip) memcpy(st->skip, st->eof_parts, st->nskip * sizeof *st->skip);
    st->want = true;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    st->taken_bytes = st->taken_msgs = 0;
}

static void kc_waker_stop(kc_state_t *st) {
    if (!st->waker_on) return;
    pthread_mutex_lock(&st->mu);
    st->quit = true;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->waker, NULL);
    st->waker_on = false;
    st->quit = st->want = false;
}

/* Whether this librdkafka re-checks a full prefetch queue by itself (newer than the
 * 2.0.2 of Debian 12). */
static bool has_fetch_queue_backoff(void) {
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bool ok = rd_kafka_conf_set(conf, "fetch.queue.backoff.ms", "1", errstr, sizeof errstr) == RD_KAFKA_CONF_OK;
    rd_kafka_conf_destroy(conf);
    return ok;
}

static size_t conf_size(rd_kafka_conf_t *conf, const char *name, size_t dflt) {
    char v[64];
    size_t len = sizeof v;
    if (rd_kafka_conf_get(conf, name, v, &len) != RD_KAFKA_CONF_OK) return dflt;
    long long x = atoll(v);
    return x > 0 ? (size_t)x : dflt;
}

static int kc_open(sl_source_t *src, sl_error_t *err) {
    kc_conf_t *c = src->conf;
    kc_state_t *st = src->state;
    /* memory: librdkafka prefetches up to queued.max.messages.kbytes per client, plus one
     * fetch.max.bytes response per broker in flight; fetch.wait.max.ms bounds how long a
     * broker's long-poll can hold the waker's request; the partition-end events also
     * tell the waker which partitions to leave out; Nagle only delays small requests */
    bool backoff = has_fetch_queue_backoff();
    const char *defaults[] = {"group.id", c->group,
                              "enable.auto.commit", "false",
                              "enable.auto.offset.store", "false",
                              "auto.offset.reset", c->from ? "latest" : "earliest",
                              "queued.max.messages.kbytes", "1024",
                              "fetch.max.bytes", "1048576",
                              "fetch.wait.max.ms", "25",
                              "enable.partition.eof", "true",
                              "socket.nagle.disable", "true",
                              "client.id", "sluice",
                              backoff ? "fetch.queue.backoff.ms" : NULL, "1",
                              NULL};
    rd_kafka_conf_t *conf = sl_kafka_conf_new(st->what, c->brokers, c->props, defaults, NULL, err);
    if (!conf) return SL_FATAL;
    rd_kafka_conf_set_rebalance_cb(conf, kc_rebalance);
    rd_kafka_conf_set_opaque(conf, st);  /* what first: see kafka_conf.h */
    st->wake_bytes = conf_size(conf, "queued.max.messages.kbytes", 1024) * 1024 / 2;
    st->wake_msgs = conf_size(conf, "queued.min.messages", 100000) / 2;
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
    if (!backoff) {
        st->quit = st->want = false;
        st->waker_on = pthread_create(&st->waker, NULL, kc_waker_main, st) == 0;
        if (!st->waker_on) sl_warn("%s: no fetch waker thread: fetching may pause up to 1 s", st->what);
    }
    st->commit_ms = sl_mono_ms();
    sl_info("%s: consuming %s as group %s", st->what, c->topic, c->group);
    return 0;
}

static void note_eof(kc_state_t *st, int32_t partition) {
    for (size_t i = 0; i < st->neof; i++)
        if (st->eof_parts[i] == partition) return;
    if (st->neof == st->eof_cap) {
        st->eof_cap = st->eof_cap ? st->eof_cap * 2 : 8;
        st->eof_parts = sl_xrealloc(st->eof_parts, st->eof_cap * sizeof *st->eof_parts);
        if (!st->eof_parts) abort();
    }
    st->eof_parts[st->neof++] = partition;
}

static void clear_eof(kc_state_t *st, int32_t partition) {
    for (size_t i = 0; i < st->neof; i++)
        if (st->eof_parts[i] == partition) st->eof_parts[i] = st->eof_parts[--st->neof];
}

/* Room in next_off for partitions below n (-1: nothing to store).  A polled message
 * must not be dropped (a later offset of its partition would skip it), so no room is
 * fatal, as in note_eof(). */
static void grow_next_off(kc_state_t *st, size_t n) {
    size_t nn = n > st->nnext * 2 ? n : st->nnext * 2;
    int64_t *x = realloc(st->next_off, nn * sizeof *x);
    if (!x) abort();
    for (size_t k = st->nnext; k < nn; k++) x[k] = -1;
    st->next_off = x;
    st->nnext = nn;
}

/* Invariant 3: commit the stored offsets to Kafka (async) once per KC_COMMIT_MS. */
static void kc_commit_due(kc_state_t *st) {
    if (!st->uncommitted) return;
    int64_t now = sl_mono_ms();
    if (now - st->commit_ms < KC_COMMIT_MS) return;
    rd_kafka_resp_err_t e = rd_kafka_commit(st->rk, NULL, 1);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) sl_debug("%s: commit: %s", st->what, rd_kafka_err2str(e));
    st->commit_ms = now;
    st->uncommitted = false;
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
        st->held = sl_xrealloc(st->held, st->cap * sizeof *st->held);
        if (!st->held) return sl_error_set(err, SL_NOMEM, "out of memory");
    }
    /* fill up to max_batch from what librdkafka already fetched (never wait) */
    bool drained = false;
    while (st->nheld < (size_t)c->max_batch) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(st->rk, 0);
        if (!m) {
            drained = true;
            break;
        }
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
        if ((size_t)m->partition >= st->nnext) grow_next_off(st, (size_t)m->partition + 1);
        if (st->neof) clear_eof(st, m->partition);
        st->taken_bytes += m->len + m->key_len;
        st->taken_msgs++;
        st->held[st->nheld++] = m;
    }
    /* the queue is empty: if it may have passed its cap since the last wake-up, the
     * fetcher may be parked (see "Fetching" above) */
    if (drained && st->waker_on && st->assigned > 0 &&
        (st->taken_bytes >= st->wake_bytes || st->taken_msgs >= st->wake_msgs))
        kc_wake(st);
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
        size_t n = st->nheld;
        for (size_t i = 0; i < n; i++) st->next_off[st->held[i]->partition] = st->held[i]->offset + 1;
        rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(16);
        for (size_t p = 0; p < st->nnext; p++) {
            if (st->next_off[p] < 0) continue;
            rd_kafka_topic_partition_list_add(offs, c->topic, (int32_t)p)->offset = st->next_off[p];
            st->next_off[p] = -1;
        }
        for (size_t i = 0; i < n; i++) rd_kafka_message_destroy(st->held[i]);
        st->nheld = 0;
        rd_kafka_resp_err_t e = rd_kafka_offsets_store(st->rk, offs);
        if (e) sl_debug("%s: storing offsets: %s", st->what, rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(offs);
        st->uncommitted = true;
        st->empty_polls = 0;
        kc_commit_due(st);
        if (n == (size_t)c->max_batch) {
            *next_ms = 0;
            return 0;
        }
    } else {
        if (st->empty_polls < 16) st->empty_polls++;
        kc_commit_due(st);
    }
    if (src->once && st->assigned > 0 && st->neof >= (size_t)st->assigned && !st->nheld) return SL_EOF;
    /* see "Polling" above */
    int64_t pause = st->empty_polls ? (int64_t)1 << st->empty_polls : 1;
    if (pause > c->idle_ms) pause = c->idle_ms;
    *next_ms = sl_mono_ms() + pause;
    return 0;
}

static void kc_close(sl_source_t *src) {
    kc_state_t *st = src->state;
    if (!st || !st->rk) return;
    kc_waker_stop(st);  /* before the consumer goes: the waker uses it */
    drop_held(st, NULL);
    rd_kafka_commit(st->rk, NULL, 0);  /* what was appended and stored */
    st->uncommitted = false;
    rd_kafka_consumer_close(st->rk);   /* leave the group: the others rebalance at once */
    rd_kafka_destroy(st->rk);
    st->rk = NULL;
}

static void kc_free(sl_source_t *src) {
    kc_state_t *st = src->state;
    if (!st) return;
    free(st->held);
    free(st->eof_parts);
    free(st->next_off);
    free(st->skip);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
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
