/* serve_tail.c - GET /api/tail/TOPIC: a topic's new records as Server-Sent Events.
 *
 * Each event is `id: <partition>-<offset>` and `data: {topic,partition,offset,key,ts,
 * value}` (the line `sluice tail` prints).  The stream starts at the end of every
 * partition, or at the start with ?from=start, or just after Last-Event-ID in its
 * partition (the others start at their end).  The content reader runs on the
 * connection's own thread and blocks in sl_journal_wait() (1 s slices) until records
 * arrive, a heartbeat (`: ping`) is due, or the server stops.  With transport kafka the
 * topic is read from Kafka (a reader without a group, src/kafka_transport.h). */
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_transport.h"
#include "runner.h"
#include "serve_int.h"
#include "sluice/json.h"

#define TAIL_READ_MAX 256          /* records per partition per read */

typedef struct tail {
    sl_kt_reader_t *kafka;         /* transport kafka: the topic read from Kafka instead */
    sl_journal_t *journal;
    sl_topic_t *topic;
    int nparts;
    int64_t *pos;                  /* next offset per partition */
    sl_batch_t batch;
    sl_buf_t out;                  /* formatted, not yet handed to MHD */
    size_t out_at;
    uint64_t seen;                 /* journal commit counter at the last wait */
    int64_t heartbeat_ms, last_write;
    volatile int *stop;
    _Atomic int *live;             /* the server's count of open tails */
    bool done, counted;
} tail_t;

/* The stream is over (or being freed): the server may stop without waiting for it. */
static void tail_uncount(tail_t *t) {
    if (!t->counted) return;
    t->counted = false;
    atomic_fetch_sub(t->live, 1);
}

static void tail_free(void *cls) {
    tail_t *t = cls;
    tail_uncount(t);
    sl_kt_reader_close(t->kafka);
    sl_batch_free(&t->batch);
    sl_buf_free(&t->out);
    free(t->pos);
    free(t);
}

static void write_event(sl_buf_t *b, const sl_record_t *rec) {
    sl_buf_printf(b, "id: %d-%lld\ndata: {\"topic\":", rec->partition, (long long)rec->offset);
    sl_json_write_string(b, rec->topic, strlen(rec->topic));
    sl_buf_printf(b, ",\"partition\":%d,\"offset\":%lld,\"key\":", rec->partition, (long long)rec->offset);
    if (rec->key) sl_json_write_string(b, rec->key, rec->key_len);
    else sl_buf_puts(b, "null");
    sl_buf_printf(b, ",\"ts\":%lld,\"value\":", (long long)rec->ts);
    sl_json_write(b, rec->value);
    sl_buf_puts(b, "}\n\n");
}

/* Thread: the connection's.  Blocks until there is something to send. */
static ssize_t tail_read(void *cls, uint64_t at, char *buf, size_t max) {
    (void)at;
    tail_t *t = cls;
    for (;;) {
        if (t->out_at < t->out.len) {
            size_t n = t->out.len - t->out_at;
            if (n > max) n = max;
            memcpy(buf, t->out.data + t->out_at, n);
            t->out_at += n;
            t->last_write = sl_mono_ms();
            return (ssize_t)n;
        }
        sl_buf_clear(&t->out);
        t->out_at = 0;
        if (t->done || *t->stop || sl_stop_requested) {
            tail_uncount(t);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (t->kafka) {
            int64_t idle = sl_mono_ms() - t->last_write, wait = t->heartbeat_ms - idle;
            if (wait <= 0) {
                sl_buf_puts(&t->out, ": ping\n\n");
                continue;
            }
            sl_batch_reset(&t->batch);
            sl_kt_reader_read(t->kafka, &t->batch, TAIL_READ_MAX, wait > 1000 ? 1000 : (int)wait);
            for (size_t i = 0; i < t->batch.n; i++) write_event(&t->out, &t->batch.recs[i]);
            continue;
        }
        for (int p = 0; p < t->nparts; p++) {
            sl_batch_reset(&t->batch);
            int64_t next = t->pos[p];
            sl_error_t err = {0};
            if (sl_topic_read(t->topic, p, t->pos[p], TAIL_READ_MAX, 1 << 20, &t->batch, &next, &err) != 0) {
                sl_buf_puts(&t->out, "event: error\ndata: {\"error\":\"the topic cannot be read\"}\n\n");
                t->done = true;
                break;
            }
            for (size_t i = 0; i < t->batch.n; i++) write_event(&t->out, &t->batch.recs[i]);
            t->pos[p] = next;
        }
        if (t->out.len) continue;
        int64_t idle = sl_mono_ms() - t->last_write;
        if (idle >= t->heartbeat_ms) {
            sl_buf_puts(&t->out, ": ping\n\n");
            continue;
        }
        int64_t wait = t->heartbeat_ms - idle;
        sl_journal_wait(t->journal, &t->seen, wait > 1000 ? 1000 : wait);
    }
}

static struct MHD_Response *start(tail_t *t, int *status, sl_buf_t *body);

/* Last-Event-ID "PARTITION-OFFSET" (none: *p stays -1); np < 0: any partition number. */
static int parse_resume(const char *id, int np, int *p, long long *o, int *status, sl_buf_t *body) {
    if (!id || !*id) return 0;
    int used = 0;
    if (sscanf(id, "%d-%lld%n", p, o, &used) != 2 || id[used] != 0 || *p < 0 || (np >= 0 && *p >= np) || *o < 0) {
        *status = 400;
        sl_serve_error_json(body, "Last-Event-ID must be PARTITION-OFFSET as sent in 'id:'");
        return -1;
    }
    return 0;
}

static tail_t *new_tail(int *status, sl_buf_t *body) {
    tail_t *t = calloc(1, sizeof *t);
    if (!t) {
        *status = 500;
        sl_serve_error_json(body, "out of memory");
    }
    return t;
}

/* transport kafka: the same stream, read from Kafka without a consumer group. */
static struct MHD_Response *tail_kafka(const sl_pipeline_t *p, const char *name, const char *last_event_id,
                                       bool from_start, int64_t heartbeat_ms, volatile int *stop, _Atomic int *live,
                                       int *status, sl_buf_t *body) {
    if (!sl_pipeline_topic(p, name)) {
        char msg[300];
        snprintf(msg, sizeof msg, "no topic '%.200s'", name);
        *status = 404;
        sl_serve_error_json(body, msg);
        return NULL;
    }
    int resume_p = -1;
    long long resume_o = -1;
    if (parse_resume(last_event_id, -1, &resume_p, &resume_o, status, body) != 0) return NULL;
    tail_t *t = new_tail(status, body);
    if (!t) return NULL;
    sl_error_t err = {0};
    if (sl_kt_reader_open(p, name, from_start, 0, resume_p, resume_o, &t->kafka, &err) != 0) {
        free(t);
        *status = 503;
        sl_serve_error_json(body, err.msg);
        return NULL;
    }
    t->heartbeat_ms = heartbeat_ms > 100 ? heartbeat_ms : 100;
    t->stop = stop;
    t->live = live;
    return start(t, status, body);
}

struct MHD_Response *sl_serve_tail_response(const char *name, const char *last_event_id,
                                            bool from_start, int64_t heartbeat_ms,
                                            volatile int *stop, _Atomic int *live, int *status,
                                            sl_buf_t *body) {
    sl_journal_t *j = sl_runner_journal;
    if (!j) {
        *status = 503;
        sl_serve_error_json(body, "the pipeline is not running");
        return NULL;
    }
    const sl_pipeline_t *kp = sl_runner_kafka_pipeline();
    if (kp) return tail_kafka(kp, name, last_event_id, from_start, heartbeat_ms, stop, live, status, body);
    /* look the topic up without creating it */
    char **names = NULL;
    size_t n = 0;
    bool found = false;
    if (sl_journal_list(j, &names, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(names[i], name) == 0) found = true;
        sl_journal_names_free(names, n);
    }
    sl_topic_t *topic = NULL;
    sl_error_t err = {0};
    if (!found || sl_journal_topic(j, name, NULL, &topic, &err) != 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "no topic '%.200s'", name);
        *status = 404;
        sl_serve_error_json(body, msg);
        return NULL;
    }
    int np = sl_topic_partitions(topic);
    int resume_p = -1;
    long long resume_o = -1;
    if (parse_resume(last_event_id, np, &resume_p, &resume_o, status, body) != 0) return NULL;
    tail_t *t = new_tail(status, body);
    if (!t) return NULL;
    t->journal = j;
    t->topic = topic;
    t->nparts = np;
    t->pos = calloc((size_t)np, sizeof *t->pos);
    t->heartbeat_ms = heartbeat_ms > 100 ? heartbeat_ms : 100;
    t->stop = stop;
    t->live = live;
    for (int p = 0; p < np; p++) {
        int64_t end = sl_topic_end(topic, p);
        t->pos[p] = from_start ? sl_topic_start(topic, p)
                  : p == resume_p && resume_o + 1 < end ? resume_o + 1 : end;
    }
    return start(t, status, body);
}

static struct MHD_Response *start(tail_t *t, int *status, sl_buf_t *body) {
    t->counted = true;
    atomic_fetch_add(t->live, 1);
    sl_batch_init(&t->batch);
    /* first bytes at once, so clients see the stream open */
    sl_buf_puts(&t->out, "retry: 3000\n: connected\n\n");
    t->last_write = sl_mono_ms();
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, tail_read, t,
                                                                  tail_free);
    if (!resp) {
        tail_free(t);
        *status = 500;
        sl_serve_error_json(body, "out of memory");
    }
    return resp;
}
