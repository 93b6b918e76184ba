/* kafka.c - sink `kafka`: write records as JSON to an external Kafka topic, keyed by an
 * expression (default: the record's key), with librdkafka's idempotent producer
 * (acks=all).
 *
 * Delivery: at-least-once.  write() queues the batch, flushes, and returns 0 only when
 * every message of the batch has a successful delivery report; any failure returns
 * SL_RETRY and the runner sends the whole batch again (the idempotent producer removes
 * repeats within one producer session; a repeat across a crash is possible, so readers
 * dedup by key).  Nothing is kept between writes: memory is the batch plus
 * librdkafka's queue (queue.buffering.max.kbytes).
 *
 * Speed: a write costs the batch's serialisation plus about one round trip per
 * ProduceRequest still in flight at the end (librdkafka sends one per partition); the
 * job's max_batch sets how often that wait is paid.  Requests leave while the batch is
 * still being queued (linger.ms=1).  TCP_NODELAY (socket.nagle.disable) keeps the last,
 * small requests of a batch from waiting for an ACK.  A broker that leaves Nagle on
 * (librdkafka's mock cluster does; Kafka itself sets TCP_NODELAY) holds back its later
 * responses until this client ACKs the earlier ones, which the kernel delays up to 40 ms
 * when nothing else is sent: every write then waits ~40 ms; against such a broker set
 * max.in.flight.requests.per.connection=1 in props (measured 5x faster on the mock). */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/kafka_conf.h"
#include "sluice/json.h"
#include "sluice/plugin.h"

typedef struct kp_conf {
    char *brokers;
    char *topic;
    const sl_cnode_t *key;       /* expression */
    const sl_cnode_t *props;
    int compression;             /* none|gzip|snappy|lz4|zstd */
    bool headers;
    int64_t timeout_ms;
} kp_conf_t;

static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};

static const sl_config_map_t kp_map[] = {
    {"brokers", SL_CFG_STR, NULL, 0, offsetof(kp_conf_t, brokers), NULL,
     "bootstrap servers, host:port[,host:port...] (default: transport kafka's)"},
    {"topic", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(kp_conf_t, topic), NULL,
     "the Kafka topic to write (auto-created by the cluster when it allows)"},
    {"key", SL_CFG_EXPR, NULL, 0, offsetof(kp_conf_t, key), NULL,
     "expression for the Kafka key (strings as is, other values as JSON; default: the record's key)"},
    {"props", SL_CFG_NODE, NULL, 0, offsetof(kp_conf_t, props), NULL,
     "librdkafka producer properties (they override sluice's defaults)"},
    {"compression", SL_CFG_ENUM, "none", 0, offsetof(kp_conf_t, compression), "none|gzip|snappy|lz4|zstd",
     "compression of message sets"},
    {"headers", SL_CFG_BOOL, "false", 0, offsetof(kp_conf_t, headers), NULL,
     "add headers sluice.source, sluice.topic, sluice.partition, sluice.offset"},
    {"timeout", SL_CFG_DURATION, "30s", 0, offsetof(kp_conf_t, timeout_ms), NULL,
     "how long a write waits for delivery reports before it is retried"},
    SL_CONFIG_END};

typedef struct kp_state {
    const char *what;            /* first: the opaque's log tag (kafka_conf.h) */
    const sl_value_t *vars;
    sl_expr_t *key;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    sl_buf_t buf;                /* one JSON value at a time (librdkafka copies it) */
    sl_arena_t arena;            /* key expressions of one batch */
    size_t failed;               /* delivery failures of the write in progress */
    char first_error[256];
} kp_state_t;

static int kp_init(sl_sink_t *sink, sl_init_ctx_t *ctx) {
    kp_conf_t *c = sink->conf;
    if (!c->brokers) c->brokers = (char *)ctx->kafka_brokers;
    if (!c->brokers && ctx->diags && ctx->node)
        sl_diags_add(ctx->diags, ctx->node->file, ctx->node->line, ctx->node->col,
                     "%s: needs 'brokers' (or the pipeline's transport kafka)", ctx->what);
    kp_state_t *st = calloc(1, sizeof *st);
    if (!st) return SL_NOMEM;
    sink->state = st;
    st->what = ctx->what;
    st->vars = ctx->vars;
    if (c->key) st->key = sl_expr_compile_node(c->key, ctx->diags);
    sl_kafka_props_check(ctx->what, c->props, ctx->diags);
    return 0;
}

/* The job's thread (delivery reports are served by rd_kafka_poll/flush). */
static void kp_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    kp_state_t *st = opaque;
    if (!m->err) return;
    if (!st->failed++)
        snprintf(st->first_error, sizeof st->first_error, "%s", rd_kafka_err2str(m->err));
}

static int kp_open(sl_sink_t *sink, sl_error_t *err) {
    kp_conf_t *c = sink->conf;
    kp_state_t *st = sink->state;
    if (st->rk) return 0;
    const char *defaults[] = {"enable.idempotence", "true",
                              "acks", "all",
                              "compression.codec", codecs[c->compression],
                              "linger.ms", "1",
                              "batch.num.messages", "10000",
                              "queue.buffering.max.kbytes", "16384",
                              "socket.nagle.disable", "true",
                              "client.id", "sluice",
                              NULL};
    rd_kafka_conf_t *conf = sl_kafka_conf_new(st->what, c->brokers, c->props, defaults, NULL, err);
    if (!conf) return SL_FATAL;
    rd_kafka_conf_set_dr_msg_cb(conf, kp_delivered);
    rd_kafka_conf_set_opaque(conf, st);  /* what first: see kafka_conf.h */
    char errstr[512];
    st->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!st->rk) {
        rd_kafka_conf_destroy(conf);
        return sl_error_set(err, SL_FATAL, "cannot create a Kafka producer: %s", errstr);
    }
    st->rkt = rd_kafka_topic_new(st->rk, c->topic, NULL);
    sl_arena_init(&st->arena, 4096);
    return 0;
}

static int kp_write(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto,
                    sl_error_t *err) {
    kp_conf_t *c = sink->conf;
    kp_state_t *st = sink->state;
    st->failed = 0;
    sl_arena_reset(&st->arena);
    int64_t now = sl_now_ms();
    for (size_t i = 0; i < batch->n; i++) {
        const sl_record_t *rec = &batch->recs[i];
        if (rec->value.type == SL_T_NULL) continue;
        const char *key = rec->key;
        size_t key_len = rec->key_len;
        if (st->key) {
            sl_expr_ctx_t ec = {.rec = rec, .vars = st->vars, .arena = &st->arena, .now_ms = now};
            sl_value_t kv;
            sl_error_t kerr = {0};
            if (sl_expr_eval(st->key, &ec, &kv, &kerr) != 0) {
                sl_sink_reject(sink, rec, "key: %s", kerr.msg);
                continue;
            }
            if (kv.type == SL_T_STRING) {
                key = kv.u.s;
                key_len = kv.len;
            } else if (kv.type == SL_T_NULL) {
                key = NULL;
                key_len = 0;
            } else {
                sl_buf_clear(&st->buf);
                sl_json_write(&st->buf, kv);
                key = sl_arena_strndup(&st->arena, st->buf.data, st->buf.len);
                key_len = st->buf.len;
            }
        }
        sl_buf_clear(&st->buf);
        sl_json_write(&st->buf, rec->value);
        rd_kafka_headers_t *hdrs = NULL;
        if (c->headers) {
            char num[32];
            hdrs = rd_kafka_headers_new(4);
            if (rec->source) rd_kafka_header_add(hdrs, "sluice.source", -1, rec->source, -1);
            if (rec->topic) rd_kafka_header_add(hdrs, "sluice.topic", -1, rec->topic, -1);
            snprintf(num, sizeof num, "%d", (int)rec->partition);
            rd_kafka_header_add(hdrs, "sluice.partition", -1, num, -1);
            snprintf(num, sizeof num, "%lld", (long long)rec->offset);
            rd_kafka_header_add(hdrs, "sluice.offset", -1, num, -1);
        }
        for (;;) {
            /* the key and (with F_COPY) the value are copied; headers pass to the message */
            rd_kafka_resp_err_t e =
                hdrs ? rd_kafka_producev(st->rk, RD_KAFKA_V_RKT(st->rkt),
                                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                         RD_KAFKA_V_VALUE(st->buf.data, st->buf.len),
                                         RD_KAFKA_V_KEY(key, key_len),
                                         RD_KAFKA_V_TIMESTAMP(rec->ts > 0 ? rec->ts : 0),
                                         RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END)
                     : rd_kafka_producev(st->rk, RD_KAFKA_V_RKT(st->rkt),
                                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                         RD_KAFKA_V_VALUE(st->buf.data, st->buf.len),
                                         RD_KAFKA_V_KEY(key, key_len),
                                         RD_KAFKA_V_TIMESTAMP(rec->ts > 0 ? rec->ts : 0), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(st->rk, 50);  /* backpressure: wait for deliveries */
                continue;
            }
            if (hdrs) rd_kafka_headers_destroy(hdrs);
            rd_kafka_flush(st->rk, (int)c->timeout_ms);
            return sl_error_set(err, SL_RETRY, "kafka produce to %s: %s", c->topic, rd_kafka_err2str(e));
        }
        rd_kafka_poll(st->rk, 0);
    }
    rd_kafka_resp_err_t e = rd_kafka_flush(st->rk, (int)c->timeout_ms);
    if (e) return sl_error_set(err, SL_RETRY, "kafka flush to %s: %s (%d message(s) in flight)", c->topic,
                               rd_kafka_err2str(e), rd_kafka_outq_len(st->rk));
    if (st->failed)
        return sl_error_set(err, SL_RETRY, "kafka: %zu message(s) to %s not delivered: %s", st->failed,
                            c->topic, st->first_error);
    char fatal[512];
    if (rd_kafka_fatal_error(st->rk, fatal, sizeof fatal))
        return sl_error_set(err, SL_FATAL, "kafka producer: %s", fatal);
    return 0;
}

static void kp_close(sl_sink_t *sink) {
    kp_state_t *st = sink->state;
    if (!st || !st->rk) return;
    rd_kafka_flush(st->rk, 5000);
    rd_kafka_topic_destroy(st->rkt);
    rd_kafka_destroy(st->rk);
    st->rk = NULL;
    st->rkt = NULL;
    sl_arena_free(&st->arena);
}

static void kp_free(sl_sink_t *sink) {
    kp_state_t *st = sink->state;
    if (!st) return;
    sl_expr_free(st->key);
    sl_buf_free(&st->buf);
    free(st);
    sink->state = NULL;
}

const sl_sink_plugin_t sl_sink_kafka = {
    .abi = SL_PLUGIN_ABI,
    .name = "kafka",
    .description = "Writes records as JSON to a Kafka topic with the idempotent producer (acks=all), keyed by an expression; a write returns after every delivery report (at-least-once).",
    .config = kp_map,
    .config_size = sizeof(kp_conf_t),
    .init = kp_init,
    .open = kp_open,
    .write = kp_write,
    .close = kp_close,
    .free = kp_free,
};
