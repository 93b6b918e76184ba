/* runner.c - the engine loop: sources -> journal -> jobs (steps) -> sinks.
 *
 * Threads: one for every source (polls in turn, honouring each source's schedule and
 * backoff), one per job (read -> steps -> sinks -> commit), and the journal's flusher.
 * They meet only at the journal.  Invariants:
 *  1. A job commits its offsets only after every sink acknowledged the batch.
 *  2. A transactional sink is never given a record it already holds (offset below what
 *     it reported in committed()), so restarts write each record exactly once there.
 *  3. A failing sink is retried with exponential backoff and jitter, forever (or until
 *     stop); the batch is never skipped.
 *  4. On stop, the batch in flight is finished (written and committed) before exit.
 *  5. A failing source is retried after sl_backoff_next() (1 s doubling, jitter, the
 *     schedule and Retry-After; src/backoff.h), never sooner; only a completed poll
 *     ends the backoff, not a call that found its transfer still in flight.
 *  6. A source commit that fails on the journal's storage (SL_IO: a full disk) is
 *     SL_RETRY to the source: nothing of the poll is visible, its cursor has not moved,
 *     it backs off and tries again (never "done"); meanwhile it is stuck: /health 503,
 *     sluice_source_stuck 1.  The first commit that succeeds clears it. */
#include "runner.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "engine.h"
#include "kafka_transport.h"
#include "log.h"
#include "metrics.h"
#include "serve.h"
#include "sluice/fsutil.h"
#include "sluice/json.h"

volatile sig_atomic_t sl_stop_requested = 0;

static void on_signal(int sig) {
    (void)sig;
    if (sl_stop_requested) _exit(130);  /* second ^C: leave at once */
    sl_stop_requested = 1;
}

void sl_runner_install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* ------------------------------------------------------------------ state */

typedef struct runner runner_t;

typedef struct topic_rt {
    const char *name;
    sl_topic_t *topic;         /* the journal's (with transport kafka: unused but open) */
    int partitions;
    int writers;               /* sources and topic sinks still running (for --once) */
} topic_rt_t;

typedef struct source_rt {
    sl_source_cfg_t *cfg;
    topic_rt_t *to;
    bool done, opened;
    bool paused;               /* its topic is full (on_full: pause): not polled meanwhile */
    int64_t due, started, backoff_ms;
    int64_t backoff_nominal;   /* the run of failures (backoff.h); 0 = none */
    uint64_t polls, failures, records;
    uint64_t next_seq;
    sl_batch_t batch;          /* pending poll */
    sl_record_t *dlq;          /* pending dead letters (values in batch.arena) */
    size_t ndlq, dlq_cap;
    sl_topic_t *dlq_topic;     /* <source>.dlq, opened on first use */
    pthread_mutex_t ingest_lock;  /* one ingest transaction at a time */
    int64_t last_poll_ms, last_ok_ms;  /* wall clock */
    char last_error[600];      /* written by the sources thread; read racily by status */
    _Atomic bool stuck;        /* its last commit failed on local storage (disk full) */
    char stuck_error[600];     /* why; written before stuck is set, read racily by /health */
    sl_metric_t *m_polls, *m_failures, *m_records, *m_dlq, *m_last_poll, *m_stuck;
    runner_t *r;
} source_rt_t;

typedef struct job_rt {
    sl_job_cfg_t *cfg;
    runner_t *r;
    pthread_t thread;
    topic_rt_t **from;         /* per from-topic */
    topic_rt_t *dlq;
    topic_rt_t **sink_topics;  /* topics written by `topic` sinks (for --once closing) */
    size_t nsink_topics;
    uint64_t records_in, records_out, dlq_count, batches;
    sl_metric_t *m_in, *m_out, *m_dlq, *m_batches, *m_latency, **m_rows, **m_errors, **m_write;
    _Atomic int state;         /* 0 starting, 1 running, 2 retrying a sink, 3 stopped */
    _Atomic int64_t kafka_lag; /* transport kafka: records behind, over the partitions held */
    int exit_code;
} job_rt_t;

struct runner {
    sl_pipeline_t *pipe;
    const sl_run_opts_t *opts;
    sl_journal_t *journal;     /* with transport kafka: only the jobs' step state */
    sl_kt_t *kt;               /* transport kafka, or NULL */
    topic_rt_t *topics;
    size_t ntopics;
    source_rt_t *sources;
    job_rt_t *jobs;
    pthread_mutex_t lock;      /* writers counts */
    bool sources_done;
    int exit_code;
};

static topic_rt_t *rt_topic(runner_t *r, const char *name) {
    for (size_t i = 0; i < r->ntopics; i++)
        if (strcmp(r->topics[i].name, name) == 0) return &r->topics[i];
    return NULL;
}

static void writer_done(runner_t *r, topic_rt_t *t) {
    pthread_mutex_lock(&r->lock);
    if (t && t->writers > 0) t->writers--;
    pthread_mutex_unlock(&r->lock);
}

static int writers_left(runner_t *r, topic_rt_t *t) {
    pthread_mutex_lock(&r->lock);
    int n = t->writers;
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* Sleep up to ms, waking early on stop. */
static void nap(int64_t ms) {
    while (ms > 0 && !sl_stop_requested) {
        int64_t step = ms > 50 ? 50 : ms;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* Exponential backoff with full jitter: 100 ms doubling to 30 s. */
static int64_t next_backoff(int64_t prev) {
    int64_t b = prev ? prev * 2 : 100;
    if (b > 30000) b = 30000;
    return b / 2 + (int64_t)(rand() % (int)(b / 2 + 1));
}

/* ------------------------------------------------------------------ emit */

struct sl_emit {
    source_rt_t *s;
    bool pending;              /* sl_emit_pending(): this call completed no poll */
};

void sl_emit_pending(sl_emit_t *emit) { emit->pending = true; }

/* A commit that failed on the journal's storage (a full disk, an I/O error): the source
 * is stuck until a commit succeeds; it retries with backoff (SL_RETRY), its cursor has
 * not moved, and /health and sluice_source_stuck say so meanwhile. */
static int commit_failed(source_rt_t *s, int rc, sl_error_t *err) {
    if (rc != SL_IO) return rc;
    snprintf(s->stuck_error, sizeof s->stuck_error, "cannot commit to the journal: %.500s", err->msg);
    if (!s->stuck) sl_errorf("source %s: %s (retrying with backoff; nothing is lost)", s->cfg->name, s->stuck_error);
    s->stuck = true;
    sl_metric_set(s->m_stuck, 1);
    return sl_error_set(err, SL_RETRY, "%s", s->stuck_error);
}

static void commit_ok(source_rt_t *s) {
    if (!s->stuck) return;
    s->stuck = false;
    sl_metric_set(s->m_stuck, 0);
    sl_info("source %s: commits to the journal work again", s->cfg->name);
}

sl_record_t *sl_emit_record(sl_emit_t *emit) {
    source_rt_t *s = emit->s;
    sl_record_t *rec = sl_batch_push(&s->batch);
    rec->source = s->cfg->name;
    return rec;
}

sl_arena_t *sl_emit_arena(sl_emit_t *emit) { return &emit->s->batch.arena; }

int sl_emit_commit(sl_emit_t *emit, const void *cursor, size_t cursor_len, sl_error_t *err) {
    source_rt_t *s = emit->s;
    sl_batch_t *b = &s->batch;
    int64_t now = sl_now_ms();
    for (size_t i = 0; i < b->n; i++) {
        sl_record_t *rec = &b->recs[i];
        rec->ingest_ts = now;
        if (!rec->ts) rec->ts = now;
        rec->source = s->cfg->name;
        sl_error_t kerr = {0};
        if (sl_record_key_ts(rec, s->cfg->key, s->cfg->ts, &s->r->pipe->vars, &b->arena, &kerr) != 0)
            sl_warn("source %s: record %zu: %s (kept with ingest time and no key)", s->cfg->name, i,
                    kerr.msg);
    }
    if (s->r->kt) {
        char dlq[300];
        snprintf(dlq, sizeof dlq, "%s.dlq", s->cfg->name);
        int rc = sl_kt_source_commit(s->r->kt, s->cfg->name, s->to->name, b->recs, b->n, dlq, s->dlq, s->ndlq,
                                     cursor, cursor_len, err);
        if (rc == 0) {
            s->records += b->n;
            sl_metric_add(s->m_records, (double)b->n);
            sl_metric_add(s->m_dlq, (double)s->ndlq);
            if (s->ndlq) sl_warn("source %s: %zu bad input(s) to %s", s->cfg->name, s->ndlq, dlq);
        }
        sl_batch_reset(b);
        s->ndlq = 0;
        return rc;
    }
    if (s->ndlq && !s->dlq_topic) {
        char name[300];
        snprintf(name, sizeof name, "%s.dlq", s->cfg->name);
        int trc = sl_journal_topic(s->r->journal, name, NULL, &s->dlq_topic, err);
        if (trc != 0) {
            sl_batch_reset(b);
            s->ndlq = 0;
            commit_failed(s, trc, err);
            return SL_RETRY;
        }
    }
    sl_txn_t *txn = sl_txn_begin(s->r->journal, s->cfg->name);
    int rc = b->n ? sl_txn_append(txn, s->to->topic, b->recs, b->n, err) : 0;
    if (rc == 0 && s->ndlq) rc = sl_txn_append(txn, s->dlq_topic, s->dlq, s->ndlq, err);
    if (rc != 0) {
        sl_txn_abort(txn);
        sl_batch_reset(b);
        s->ndlq = 0;
        return commit_failed(s, rc, err);
    }
    rc = sl_txn_commit(txn, cursor, cursor_len, NULL, err);
    if (rc != 0) rc = commit_failed(s, rc, err);
    if (rc == 0) {
        commit_ok(s);
        s->records += b->n;
        sl_metric_add(s->m_records, (double)b->n);
        sl_metric_add(s->m_dlq, (double)s->ndlq);
    }
    if (rc == 0 && s->ndlq) {
        const sl_value_t *why = sl_value_get(&s->dlq[0].value, "error", 5);
        sl_warn("source %s: %zu bad input(s) to %s.dlq (first: %.*s)", s->cfg->name, s->ndlq, s->cfg->name,
                why && why->type == SL_T_STRING ? (int)(why->len > 300 ? 300 : why->len) : 0,
                why && why->type == SL_T_STRING ? why->u.s : "");
    }
    sl_batch_reset(b);
    s->ndlq = 0;
    return rc;
}

void sl_emit_dlq(sl_emit_t *emit, const char *raw, size_t raw_len, const char *at,
                 const char *fmt, ...) {
    source_rt_t *s = emit->s;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->ndlq == s->dlq_cap) {
        s->dlq_cap = s->dlq_cap ? s->dlq_cap * 2 : 16;
        s->dlq = sl_xrealloc(s->dlq, s->dlq_cap * sizeof *s->dlq);
        if (!s->dlq) abort();
    }
    sl_arena_t *a = &s->batch.arena;
    sl_record_t *d = &s->dlq[s->ndlq++];
    memset(d, 0, sizeof *d);
    d->partition = -1;
    d->offset = -1;
    d->ingest_ts = d->ts = sl_now_ms();
    d->source = s->cfg->name;
    sl_value_t env = sl_object_new(a, 4);
    sl_value_set(a, &env, "error", 5, sl_str_dup(a, msg, strlen(msg)));
    sl_value_set(a, &env, "raw", 3, sl_str_dup(a, raw, raw_len));
    sl_value_set(a, &env, "source", 6, sl_str(s->cfg->name, strlen(s->cfg->name)));
    sl_value_set(a, &env, "at", 2, at ? sl_str_dup(a, at, strlen(at)) : sl_null());
    d->value = env;
}

void sl_emit_fail(sl_emit_t *emit, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* counted by the runner when the poll returns SL_RETRY (once per poll) */
    snprintf(emit->s->last_error, sizeof emit->s->last_error, "%.599s", msg);
    sl_warn("source %s: poll failed: %s", emit->s->cfg->name, msg);
}

/* ------------------------------------------------------------------ sources */

/* The schedule's interval, the cap of the source's backoff when longer than 5 min. */
static int64_t source_interval(const source_rt_t *s) {
    return s->cfg->inst.interval_ms > 0 ? s->cfg->inst.interval_ms : s->cfg->every_ms;
}

static void source_finish(runner_t *r, source_rt_t *s) {
    if (s->done) return;
    s->done = true;
    writer_done(r, s->to);
    sl_info("source %s: done (%llu records in %llu polls, %llu failed)", s->cfg->name,
            (unsigned long long)s->records, (unsigned long long)s->polls,
            (unsigned long long)s->failures);
}

static void *sources_main(void *arg) {
    runner_t *r = arg;
    sl_pipeline_t *p = r->pipe;
    size_t active = p->nsources;
    int64_t start = sl_mono_ms();
    for (size_t i = 0; i < p->nsources; i++) {
        source_rt_t *s = &r->sources[i];
        s->started = start;
        s->due = start;
    }
    uint64_t lease_seen = 0;
    while (active && !sl_stop_requested) {
        if (r->kt) {
            /* transport kafka: only the holder of the lease polls; a (re)gained lease
             * reopens every source with the cursor its last holder committed */
            uint64_t epoch = 0;
            bool held = sl_kt_lease(r->kt, &epoch);
            if (!held || epoch != lease_seen)
                for (size_t i = 0; i < p->nsources; i++) {
                    source_rt_t *s = &r->sources[i];
                    if (s->opened && s->cfg->inst.plugin->close) s->cfg->inst.plugin->close(&s->cfg->inst);
                    s->opened = false;
                }
            if (!held) {
                nap(100);
                continue;
            }
            lease_seen = epoch;
        }
        int64_t now = sl_mono_ms(), soonest = now + 100;
        for (size_t i = 0; i < p->nsources && !sl_stop_requested; i++) {
            source_rt_t *s = &r->sources[i];
            if (s->done) continue;
            if (s->cfg->run_for_ms && now - s->started >= s->cfg->run_for_ms) {
                source_finish(r, s);
                active--;
                continue;
            }
            if (s->due > now) {
                if (s->due < soonest) soonest = s->due;
                continue;
            }
            /* backpressure (DESIGN §2.8): a full topic is not polled into; a local check,
             * so re-checking every 100 ms is no tight loop */
            bool full = !r->kt && s->to->topic && sl_topic_full(s->to->topic) > 0;
            if (full != s->paused) {
                s->paused = full;
                if (full) sl_warn("source %s: topic %s is full: paused until its consumer groups commit",
                                  s->cfg->name, s->to->name);
                else sl_info("source %s: topic %s has room again: resumed", s->cfg->name, s->to->name);
            }
            if (full) {
                s->due = now + 100;
                if (s->due < soonest) soonest = s->due;
                continue;
            }
            const sl_source_plugin_t *plug = s->cfg->inst.plugin;
            sl_error_t err = {0};
            if (!s->opened) {
                void *cur = NULL;
                size_t len = 0;
                if (r->kt) sl_kt_cursor(r->kt, s->cfg->name, &cur, &len);
                else sl_journal_cursor(r->journal, s->cfg->name, &cur, &len);
                s->cfg->inst.cursor = cur;
                s->cfg->inst.cursor_len = len;
                int rc = plug->open ? plug->open(&s->cfg->inst, &err) : 0;
                free(cur);
                s->cfg->inst.cursor = NULL;
                if (rc == SL_RETRY) {
                    s->backoff_ms = sl_backoff_next(&s->backoff_nominal, source_interval(s), -1, (uint32_t)rand());
                    s->due = now + s->backoff_ms;
                    sl_warn("source %s: cannot open: %s (retry in %lld ms)", s->cfg->name, err.msg,
                            (long long)s->backoff_ms);
                    continue;
                }
                if (rc != 0) {
                    sl_errorf("source %s: %s", s->cfg->name, err.msg);
                    r->exit_code = 3;
                    source_finish(r, s);
                    active--;
                    continue;
                }
                s->opened = true;
            }
            sl_emit_t emit = {.s = s};
            int64_t next = 0;
            int64_t wall = sl_now_ms();
            int rc = plug->poll(&s->cfg->inst, &emit, &next, &err);
            sl_batch_reset(&s->batch);  /* uncommitted records of a failed poll */
            s->ndlq = 0;
            /* A call that only advanced a transfer in flight (or found nothing due) is no
             * poll: it is not counted and does not end a run of failures (backoff.h 4). */
            bool completed = rc != 0 || !emit.pending;
            /* an append refused by a full topic is backpressure, not a failed poll */
            bool refused_full = rc == SL_RETRY && !r->kt && s->to->topic && sl_topic_full(s->to->topic) > 0;
            if (completed) {
                s->polls++;
                sl_metric_add(s->m_polls, 1);
                s->last_poll_ms = wall;
                sl_metric_set(s->m_last_poll, (double)wall / 1000.0);
            }
            if (rc != 0 && rc != SL_EOF) {
                /* every failed poll counts, the last one before a give-up too */
                if (!refused_full) {
                    s->failures++;
                    sl_metric_add(s->m_failures, 1);
                }
                snprintf(s->last_error, sizeof s->last_error, "%s", err.msg[0] ? err.msg : sl_err_str(rc));
            } else if (completed) {
                s->last_ok_ms = sl_now_ms();
                s->last_error[0] = 0;
            }
            if (rc == 0) {
                if (completed) s->backoff_ms = s->backoff_nominal = 0;
                s->due = next;
            } else if (rc == SL_EOF) {
                source_finish(r, s);
                active--;
            } else if (refused_full) {
                s->paused = true;   /* filled up during this poll: nothing was written */
                sl_warn("source %s: %s (paused until its consumer groups commit)", s->cfg->name, err.msg);
                s->due = now + 100;
            } else if (rc == SL_RETRY) {
                if (s->cfg->inst.replay) {
                    /* recorded responses: nothing remote to spare; only the cassette's
                     * Retry-After applies */
                    s->backoff_ms = next > now ? next - now : 0;
                } else {
                    s->backoff_ms = sl_backoff_next(&s->backoff_nominal, source_interval(s),
                                                    next > now ? next - now : -1, (uint32_t)rand());
                }
                s->due = now + s->backoff_ms;
                if (err.msg[0]) sl_warn("source %s: %s (retry in %lld ms)", s->cfg->name, err.msg,
                                        (long long)s->backoff_ms);
            } else {
                sl_errorf("source %s: %s", s->cfg->name, err.msg[0] ? err.msg : sl_err_str(rc));
                r->exit_code = 3;
                source_finish(r, s);
                active--;
            }
            now = sl_mono_ms();
            if (!s->done && s->due < soonest) soonest = s->due;
        }
        if (!active) break;
        int64_t wait = soonest - sl_mono_ms();
        if (wait > 0) nap(wait > 100 ? 100 : wait);
    }
    for (size_t i = 0; i < p->nsources; i++) {
        source_rt_t *s = &r->sources[i];
        if (s->opened && s->cfg->inst.plugin->close) s->cfg->inst.plugin->close(&s->cfg->inst);
        s->opened = false;
        if (!s->done) {
            s->done = true;
            writer_done(r, s->to);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ jobs */

typedef struct tp {
    topic_rt_t *t;
    int partition;
    int64_t pos;               /* next offset to read */
    int64_t held[16];          /* per transactional sink: what it already holds (-1 none) */
} tp_t;

struct sink_job_ctx {
    sl_step_ctx_t *steps;      /* where rejected rows go */
    const char *name;
};

void sl_sink_reject(sl_sink_t *sink, const sl_record_t *rec, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct sink_job_ctx *c = sink->job_ctx;
    if (!c || !c->steps) {
        sl_warn("sink %s of job %s rejected a record: %s", sink->plugin->name, sink->job, msg);
        return;
    }
    sl_dlq_add(c->steps, rec, c->name, msg);
}

static int append_dlq(runner_t *r, job_rt_t *jr, sl_step_ctx_t *ctx) {
    if (!ctx->ndlq) return 0;
    sl_error_t err = {0};
    char writer[300];
    snprintf(writer, sizeof writer, "%s:dlq", jr->cfg->name);
    for (;;) {
        int rc;
        if (r->kt) {
            rc = sl_kt_append(r->kt, jr->cfg->dlq, ctx->dlq, ctx->ndlq, &err);
        } else {
            sl_txn_t *txn = sl_txn_begin(r->journal, writer);
            rc = sl_txn_append(txn, jr->dlq->topic, ctx->dlq, ctx->ndlq, &err);
            if (rc == 0) rc = sl_txn_commit(txn, NULL, 0, NULL, &err);
            else sl_txn_abort(txn);
        }
        if (rc == 0) break;
        sl_errorf("job %s: cannot write its dead-letter topic: %s", jr->cfg->name, err.msg);
        if (sl_stop_requested) return rc;
        nap(1000);
    }
    jr->dlq_count += ctx->ndlq;
    sl_metric_add(jr->m_dlq, (double)ctx->ndlq);
    sl_warn("job %s: %zu record(s) to %s (first: %s)", jr->cfg->name, ctx->ndlq, jr->cfg->dlq,
            sl_value_get(&ctx->dlq[0].value, "error", 5)->u.s);
    ctx->ndlq = 0;
    return 0;
}

/* Write a batch to one sink, retrying until it acknowledges (or stop). */
static int write_sink(job_rt_t *jr, sl_sink_t *sink, const sl_batch_t *view, const sl_offsets_t *upto) {
    int64_t backoff = 0;
    for (;;) {
        sl_error_t err = {0};
        int64_t t0 = sl_mono_ms();
        int rc = sink->plugin->write(sink, view, upto, &err);
        sl_metric_observe(jr->m_write[sink->index], (double)(sl_mono_ms() - t0) / 1000.0);
        if (rc == 0) {
            jr->state = 1;
            sl_metric_add(jr->m_rows[sink->index], (double)view->n);
            return 0;
        }
        sl_metric_add(jr->m_errors[sink->index], 1);
        if (rc != SL_RETRY) {
            sl_errorf("job %s: sink %s failed: %s", jr->cfg->name, sink->plugin->name, err.msg);
            return rc;
        }
        backoff = next_backoff(backoff);
        sl_warn("job %s: sink %s: %s (retry in %lld ms)", jr->cfg->name, sink->plugin->name,
                err.msg, (long long)backoff);
        jr->state = 2;
        if (sl_stop_requested) return SL_RETRY;
        nap(backoff);
        if (sl_stop_requested) return SL_RETRY;
    }
}

static int open_sink(job_rt_t *jr, sl_sink_t *sink) {
    int64_t backoff = 0;
    for (;;) {
        sl_error_t err = {0};
        int rc = sink->plugin->open ? sink->plugin->open(sink, &err) : 0;
        if (rc == 0) return 0;
        if (rc != SL_RETRY) {
            sl_errorf("job %s: cannot open sink %s: %s", jr->cfg->name, sink->plugin->name, err.msg);
            return rc;
        }
        backoff = next_backoff(backoff);
        sl_warn("job %s: sink %s: %s (retry in %lld ms)", jr->cfg->name, sink->plugin->name,
                err.msg, (long long)backoff);
        if (sl_stop_requested) return SL_RETRY;
        nap(backoff);
    }
}

/* Restore the step state checkpointed with the offsets (layout: per stateful step:
 * u32 index, u32 len, bytes). */
static void restore_state(runner_t *r, sl_job_cfg_t *job) {
    void *state = NULL;
    size_t state_len = 0;
    sl_journal_group_state(r->journal, job->name, &state, &state_len);
    size_t at = 0;
    while (state && at + 8 <= state_len) {
        uint32_t idx, len;
        memcpy(&idx, (char *)state + at, 4);
        memcpy(&len, (char *)state + at + 4, 4);
        at += 8;
        if (at + len > state_len) break;
        if (idx < job->nsteps && job->steps[idx].plugin->restore) {
            sl_error_t err = {0};
            if (job->steps[idx].plugin->restore(&job->steps[idx], (char *)state + at, len, &err) != 0)
                sl_warn("job %s: step %u: state not restored: %s", job->name, idx, err.msg);
        }
        at += len;
    }
    free(state);
}

static void snapshot_state(const sl_job_cfg_t *job, sl_buf_t *st) {
    for (size_t i = 0; i < job->nsteps; i++) {
        if (!job->steps[i].plugin->snapshot) continue;
        size_t at = st->len;
        uint32_t idx = (uint32_t)i, len = 0;
        sl_buf_append(st, &idx, 4);
        sl_buf_append(st, &len, 4);
        job->steps[i].plugin->snapshot(&job->steps[i], st);
        len = (uint32_t)(st->len - at - 8);
        memcpy(st->data + at + 4, &len, 4);
    }
}

/* What transactional sink s holds for the job's partitions (tps[].held[s]). */
static int learn_held(job_rt_t *jr, size_t s, tp_t *tps, size_t ntp) {
    sl_sink_t *sink = &jr->cfg->sinks[s];
    if (!sink->plugin->transactional || !sink->plugin->committed || s >= 16) return 0;
    sl_offsets_t held = {0};
    sl_error_t err = {0};
    if (sink->plugin->committed(sink, &held, &err) != 0) {
        sl_errorf("job %s: sink %s: %s", jr->cfg->name, sink->plugin->name, err.msg);
        return -1;
    }
    for (size_t h = 0; h < held.n; h++)
        for (size_t t = 0; t < ntp; t++)
            if (strcmp(held.v[h].topic, tps[t].t->name) == 0 && held.v[h].partition == tps[t].partition)
                tps[t].held[s] = held.v[h].offset;
    for (size_t h = 0; h < held.n; h++) free((char *)held.v[h].topic);
    free(held.v);
    return 0;
}

/* Open every sink (retrying), learn what transactional sinks hold.  Returns 0, or the
 * job's exit code. */
static int open_sinks(job_rt_t *jr, sl_step_ctx_t *ctx, struct sink_job_ctx *sctx, tp_t *tps, size_t ntp,
                      size_t *nopen) {
    sl_job_cfg_t *job = jr->cfg;
    for (size_t s = 0; s < job->nsinks; s++) {
        sl_sink_t *sink = &job->sinks[s];
        sctx[s].steps = ctx;
        sctx[s].name = sl_arena_sprintf(&jr->r->pipe->arena, "sink:%s", sink->plugin->name);
        sink->job_ctx = &sctx[s];
        if (open_sink(jr, sink) != 0) return sl_stop_requested ? 0 : 3;
        (*nopen)++;
        if (learn_held(jr, s, tps, ntp) != 0) return 3;
    }
    return 0;
}

/* Give the batch to every sink (invariant 2: a transactional sink gets only what it
 * does not hold yet).  0 when every sink acknowledged. */
static int write_sinks(job_rt_t *jr, tp_t *tps, size_t ntp, const sl_batch_t *batch, sl_batch_t *view,
                       const sl_offsets_t *upto) {
    sl_job_cfg_t *job = jr->cfg;
    int rc = 0;
    for (size_t s = 0; s < job->nsinks && rc == 0; s++) {
        sl_sink_t *sink = &job->sinks[s];
        const sl_batch_t *give = batch;
        if (sink->plugin->transactional && s < 16) {
            bool skip_any = false;
            for (size_t t = 0; t < ntp; t++)
                if (tps[t].held[s] > tps[t].pos) skip_any = true;
            if (skip_any) {
                if (view->cap < batch->n) {
                    view->cap = batch->n;
                    view->recs = sl_xrealloc(view->recs, view->cap * sizeof *view->recs);
                }
                view->n = 0;
                for (size_t i = 0; i < batch->n; i++) {
                    const sl_record_t *rec = &batch->recs[i];
                    bool held = false;
                    for (size_t t = 0; t < ntp; t++)
                        if (tps[t].t->name == rec->topic || strcmp(tps[t].t->name, rec->topic) == 0)
                            if (tps[t].partition == rec->partition && rec->offset < tps[t].held[s]) held = true;
                    if (!held) view->recs[view->n++] = *rec;
                }
                give = view;
            }
        }
        rc = write_sink(jr, sink, give, upto);
    }
    return rc;
}

static void count_batch(job_rt_t *jr, const sl_batch_t *batch) {
    jr->records_out += batch->n;
    jr->batches++;
    sl_metric_add(jr->m_out, (double)batch->n);
    sl_metric_add(jr->m_batches, 1);
    int64_t done_ms = sl_now_ms();
    for (size_t i = 0; i < batch->n; i++)
        if (batch->recs[i].ingest_ts > 0)
            sl_metric_observe(jr->m_latency, (double)(done_ms - batch->recs[i].ingest_ts) / 1000.0);
}

static void close_job(job_rt_t *jr, size_t nopen) {
    runner_t *r = jr->r;
    sl_job_cfg_t *job = jr->cfg;
    jr->state = 3;
    for (size_t s = 0; s < nopen; s++)
        if (job->sinks[s].plugin->close) job->sinks[s].plugin->close(&job->sinks[s]);
    for (size_t s = 0; s < jr->nsink_topics; s++) writer_done(r, jr->sink_topics[s]);
    sl_info("job %s: stopped (%llu records in, %llu out, %llu to %s)", job->name,
            (unsigned long long)jr->records_in, (unsigned long long)jr->records_out,
            (unsigned long long)jr->dlq_count, job->dlq);
}

static bool writers_closed(job_rt_t *jr) {
    for (size_t i = 0; i < jr->cfg->nfrom; i++)
        if (writers_left(jr->r, jr->from[i])) return false;
    return true;
}

/* --once, at the end of every topic: the steps' last records (open windows) once.
 * Returns 0 when the batch has something to write, else the loop ends. */
static int once_flush(job_rt_t *jr, sl_batch_t *batch, sl_step_ctx_t *ctx, bool *flushed) {
    if (*flushed) return 1;
    *flushed = true;
    sl_error_t err = {0};
    if (sl_job_flush(jr->cfg, batch, ctx, &err) != 0) {
        sl_errorf("job %s: %s", jr->cfg->name, err.msg);
        jr->exit_code = 3;
        return 1;
    }
    return batch->n == 0 && ctx->ndlq == 0;
}

/* The job's partitions, from-topic major; every tp starts unheld at -1. */
static tp_t *make_tps(job_rt_t *jr, size_t *ntp) {
    size_t n = 0;
    for (size_t i = 0; i < jr->cfg->nfrom; i++) n += (size_t)jr->from[i]->partitions;
    tp_t *tps = calloc(n ? n : 1, sizeof *tps);
    size_t k = 0;
    for (size_t i = 0; i < jr->cfg->nfrom; i++)
        for (int p = 0; p < jr->from[i]->partitions; p++, k++) {
            tps[k].t = jr->from[i];
            tps[k].partition = p;
            tps[k].pos = -1;
            for (size_t s = 0; s < 16; s++) tps[k].held[s] = -1;
        }
    *ntp = n;
    return tps;
}

static void *job_main(void *arg) {
    job_rt_t *jr = arg;
    runner_t *r = jr->r;
    sl_job_cfg_t *job = jr->cfg;
    size_t ntp = 0;
    tp_t *tps = make_tps(jr, &ntp);
    sl_offset_t *offs = calloc(ntp ? ntp : 1, sizeof *offs);
    struct sink_job_ctx *sctx = calloc(job->nsinks ? job->nsinks : 1, sizeof *sctx);
    sl_batch_t batch, view;
    sl_batch_init(&batch);
    memset(&view, 0, sizeof view);
    sl_step_ctx_t ctx;
    sl_step_ctx_init(&ctx, job, &r->pipe->vars, &batch);
    size_t nopen = 0;
    for (size_t t = 0; t < ntp; t++) {
        int64_t off = sl_journal_group_offset(r->journal, job->name, tps[t].t->name, tps[t].partition);
        int64_t start = sl_topic_start(tps[t].t->topic, tps[t].partition);
        tps[t].pos = off < start ? start : off;
    }
    restore_state(r, job);
    int code = open_sinks(jr, &ctx, sctx, tps, ntp, &nopen);
    if (code) {
        jr->exit_code = code;
        goto out;
    }
    jr->state = 1;
    sl_info("job %s: started (%zu partition(s), %zu step(s), %zu sink(s))", job->name, ntp,
            job->nsteps, job->nsinks);
    uint64_t seen = 0;
    size_t rr = 0;
    bool flushed = false;
    for (;;) {
        if (sl_stop_requested) break;  /* invariant 4: the previous batch is committed */
        sl_batch_reset(&batch);
        ctx.now_ms = sl_now_ms();
        ctx.ndlq = 0;
        int64_t next[ntp ? ntp : 1];
        for (size_t t = 0; t < ntp; t++) next[t] = tps[t].pos;
        bool corrupt = false;
        /* read round-robin, starting at a different partition each time (fairness) */
        for (size_t c = 0; c < ntp && batch.n < (size_t)job->max_batch &&
                           batch.bytes < (size_t)job->max_batch_bytes; c++) {
            size_t t = (rr + c) % ntp;
            sl_error_t err = {0};
            size_t want = (size_t)job->max_batch - batch.n;
            int rc = sl_topic_read(tps[t].t->topic, tps[t].partition, tps[t].pos, want,
                                   (size_t)job->max_batch_bytes - batch.bytes, &batch, &next[t], &err);
            if (rc != 0) {
                sl_errorf("job %s: reading %s/%d at %lld: %s", job->name, tps[t].t->name,
                          tps[t].partition, (long long)tps[t].pos, err.msg);
                corrupt = true;
            }
        }
        rr++;
        if (corrupt) {
            jr->exit_code = 3;
            break;
        }
        bool at_end = batch.n == 0;
        if (at_end) {
            if (sl_stop_requested) break;
            if (r->opts->once && writers_closed(jr)) {
                /* re-check the ends after writers closed: nothing may be left */
                bool more = false;
                for (size_t t = 0; t < ntp; t++)
                    if (sl_topic_end(tps[t].t->topic, tps[t].partition) > tps[t].pos) more = true;
                if (more) continue;
                if (once_flush(jr, &batch, &ctx, &flushed) != 0) break;
            } else {
                sl_journal_wait(r->journal, &seen, 200);
                continue;
            }
        }
        if (!at_end) {  /* the flush batch of --once already went through the steps */
            jr->records_in += batch.n;
            sl_metric_add(jr->m_in, (double)batch.n);
            for (size_t i = 0; i < batch.n; i++) batch.recs[i].orig = batch.recs[i].value;
            sl_error_t err = {0};
            if (sl_job_apply(job, &batch, &ctx, &err) != 0) {
                sl_errorf("job %s: %s", job->name, err.msg);
                jr->exit_code = 3;
                break;
            }
        }
        /* offsets after this batch */
        for (size_t t = 0; t < ntp; t++) {
            offs[t].topic = tps[t].t->name;
            offs[t].partition = tps[t].partition;
            offs[t].offset = next[t];
        }
        sl_offsets_t upto = {job->name, offs, ntp};
        if (write_sinks(jr, tps, ntp, &batch, &view, &upto) != 0) {
            if (!sl_stop_requested) jr->exit_code = 3;
            break;
        }
        if (append_dlq(r, jr, &ctx) != 0) break;
        /* invariant 1: commit after every sink acknowledged */
        sl_buf_t st = SL_BUF_INIT;
        snapshot_state(job, &st);
        for (;;) {
            sl_error_t cerr = {0};
            if (sl_journal_group_commit(r->journal, job->name, offs, ntp, st.data, st.len, &cerr) == 0)
                break;
            sl_errorf("job %s: cannot commit offsets: %s", job->name, cerr.msg);
            if (sl_stop_requested) break;
            nap(1000);
        }
        sl_buf_free(&st);
        for (size_t t = 0; t < ntp; t++) tps[t].pos = next[t];
        count_batch(jr, &batch);
        if (at_end) break;  /* the flush batch of --once */
    }
out:
    close_job(jr, nopen);
    sl_step_ctx_free(&ctx);
    sl_batch_free(&batch);
    free(view.recs);
    free(tps);
    free(offs);
    free(sctx);
    return NULL;
}

/* ---- the same loop over Kafka (transport kafka) ---- */

typedef struct kjob {
    job_rt_t *jr;
    tp_t *tps;
    size_t ntp;
    size_t *base;              /* per from-topic: index of its partition 0 in tps */
    bool *owned;
    int64_t *next;             /* offsets after the batch being read */
    sl_step_ctx_t *ctx;
} kjob_t;

static size_t kjob_tp(const kjob_t *k, size_t from, int partition) {
    if (from >= k->jr->cfg->nfrom || partition < 0 || partition >= k->jr->from[from]->partitions) return (size_t)-1;
    return k->base[from] + (size_t)partition;
}

/* Job thread, inside sl_kt_consume: a partition comes or goes.  A transactional sink's
 * stored offsets are the truth: they are read again (another process may have written
 * since), and when every sink is transactional the partition starts at the lowest. */
static void kjob_assign(void *opaque, size_t from, int partition, bool assigned, int64_t *start) {
    kjob_t *k = opaque;
    size_t t = kjob_tp(k, from, partition);
    if (t == (size_t)-1) return;
    k->owned[t] = assigned;
    if (!assigned) return;
    job_rt_t *jr = k->jr;
    bool all_tx = jr->cfg->nsinks > 0 && jr->cfg->nsinks <= 16;
    int64_t low = INT64_MAX;
    for (size_t s = 0; s < jr->cfg->nsinks && s < 16; s++) {
        k->tps[t].held[s] = -1;
        const sl_sink_plugin_t *pl = jr->cfg->sinks[s].plugin;
        if (!pl->transactional || !pl->committed) {
            all_tx = false;
            continue;
        }
        /* a sink that cannot say what it holds is asked again: guessing "nothing"
         * would write twice what it holds */
        while (learn_held(jr, s, k->tps, k->ntp) != 0 && !sl_stop_requested) nap(500);
        if (k->tps[t].held[s] < 0) all_tx = false;
        else if (k->tps[t].held[s] < low) low = k->tps[t].held[s];
    }
    k->tps[t].pos = all_tx ? low : -1;   /* -1: the group's committed offset */
    k->next[t] = k->tps[t].pos;
    *start = k->tps[t].pos;
}

static bool kjob_keep(void *opaque, size_t from, int partition, int64_t offset) {
    kjob_t *k = opaque;
    size_t t = kjob_tp(k, from, partition);
    if (t == (size_t)-1 || !k->owned[t]) return false;   /* invariant: held partitions only */
    if (k->tps[t].pos >= 0 && offset < k->tps[t].pos) return false;
    k->next[t] = offset + 1;
    return true;
}

static void kjob_bad(void *opaque, const sl_record_t *rec, const char *why) {
    kjob_t *k = opaque;
    sl_dlq_add(k->ctx, rec, "kafka", why);
}

static void *job_main_kafka(void *arg) {
    job_rt_t *jr = arg;
    runner_t *r = jr->r;
    sl_job_cfg_t *job = jr->cfg;
    kjob_t k = {.jr = jr};
    k.tps = make_tps(jr, &k.ntp);
    size_t ntp = k.ntp;
    tp_t *tps = k.tps;
    k.base = calloc(job->nfrom ? job->nfrom : 1, sizeof *k.base);
    for (size_t i = 1; i < job->nfrom; i++) k.base[i] = k.base[i - 1] + (size_t)jr->from[i - 1]->partitions;
    k.owned = calloc(ntp ? ntp : 1, sizeof *k.owned);
    k.next = calloc(ntp ? ntp : 1, sizeof *k.next);
    sl_offset_t *offs = calloc(ntp ? ntp : 1, sizeof *offs);
    struct sink_job_ctx *sctx = calloc(job->nsinks ? job->nsinks : 1, sizeof *sctx);
    const char **names = calloc(job->nfrom ? job->nfrom : 1, sizeof *names);
    for (size_t i = 0; i < job->nfrom; i++) names[i] = jr->from[i]->name;
    sl_batch_t batch, view;
    sl_batch_init(&batch);
    memset(&view, 0, sizeof view);
    sl_step_ctx_t ctx;
    sl_step_ctx_init(&ctx, job, &r->pipe->vars, &batch);
    k.ctx = &ctx;
    size_t nopen = 0;
    sl_kt_consumer_t *c = NULL;
    restore_state(r, job);
    int code = open_sinks(jr, &ctx, sctx, tps, ntp, &nopen);
    if (code) {
        jr->exit_code = code;
        goto out;
    }
    for (int64_t backoff = 0;;) {
        sl_error_t err = {0};
        if (sl_kt_consumer_open(r->kt, job->name, names, job->nfrom, kjob_assign, kjob_keep, kjob_bad, &k, &c,
                                &err) == 0)
            break;
        if (err.code != SL_RETRY || sl_stop_requested) {
            sl_errorf("%s", err.msg);
            jr->exit_code = sl_stop_requested ? 0 : 3;
            goto out;
        }
        backoff = next_backoff(backoff);
        sl_warn("%s (retry in %lld ms)", err.msg, (long long)backoff);
        nap(backoff);
    }
    jr->state = 1;
    sl_info("job %s: started on Kafka as group sluice.%s (%zu partition(s), %zu step(s), %zu sink(s))", job->name,
            job->name, ntp, job->nsteps, job->nsinks);
    bool flushed = false;
    for (;;) {
        if (sl_stop_requested) break;  /* invariant 4 */
        sl_batch_reset(&batch);
        ctx.now_ms = sl_now_ms();
        ctx.ndlq = 0;
        for (size_t t = 0; t < ntp; t++) k.next[t] = tps[t].pos;
        sl_kt_consume(c, &batch, (size_t)job->max_batch, (size_t)job->max_batch_bytes, 200);
        bool at_end = batch.n == 0 && ctx.ndlq == 0;
        if (at_end) {
            if (sl_stop_requested) break;
            if (!r->opts->once || !writers_closed(jr)) continue;
            /* --once: done when this process holds every partition and is at its end */
            bool more = false;
            for (size_t t = 0; t < ntp && !more; t++) {
                if (!k.owned[t]) {
                    more = true;
                    break;
                }
                int64_t pos = tps[t].pos >= 0 ? tps[t].pos : sl_kt_committed(c, tps[t].t->name, tps[t].partition);
                int64_t end = sl_kt_end(c, tps[t].t->name, tps[t].partition);
                if (end < 0 || (end > 0 && pos < end)) more = true;
            }
            if (more) continue;
            if (once_flush(jr, &batch, &ctx, &flushed) != 0) break;
        } else {
            jr->records_in += batch.n;
            sl_metric_add(jr->m_in, (double)batch.n);
            for (size_t i = 0; i < batch.n; i++) batch.recs[i].orig = batch.recs[i].value;
            sl_error_t err = {0};
            if (sl_job_apply(job, &batch, &ctx, &err) != 0) {
                sl_errorf("job %s: %s", job->name, err.msg);
                jr->exit_code = 3;
                break;
            }
        }
        /* only partitions this process holds and has a position in: a sink must never
         * overwrite the offsets another process stored for the others */
        size_t nup = 0;
        for (size_t t = 0; t < ntp; t++)
            if (k.owned[t] && k.next[t] >= 0) {
                offs[nup].topic = tps[t].t->name;
                offs[nup].partition = tps[t].partition;
                offs[nup++].offset = k.next[t];
            }
        sl_offsets_t upto = {job->name, offs, nup};
        if (write_sinks(jr, tps, ntp, &batch, &view, &upto) != 0) {
            if (!sl_stop_requested) jr->exit_code = 3;
            break;
        }
        if (append_dlq(r, jr, &ctx) != 0) break;
        /* invariant 1: commit after every sink acknowledged; step state stays local */
        sl_buf_t st = SL_BUF_INIT;
        snapshot_state(job, &st);
        if (st.len) {
            sl_error_t serr = {0};
            if (sl_journal_group_commit(r->journal, job->name, NULL, 0, st.data, st.len, &serr) != 0)
                sl_errorf("job %s: cannot save its step state: %s", job->name, serr.msg);
        }
        sl_buf_free(&st);
        for (;;) {
            sl_error_t cerr = {0};
            if (sl_kt_commit(c, offs, nup, &cerr) == 0) break;
            sl_errorf("job %s: cannot commit offsets: %s", job->name, cerr.msg);
            if (sl_stop_requested) break;
            nap(1000);
        }
        int64_t lag = 0;
        for (size_t t = 0; t < ntp; t++) {
            if (!k.owned[t]) continue;
            tps[t].pos = k.next[t];
            int64_t end = sl_kt_cached_end(c, tps[t].t->name, tps[t].partition);
            if (end > tps[t].pos && tps[t].pos >= 0) lag += end - tps[t].pos;
        }
        jr->kafka_lag = lag;
        count_batch(jr, &batch);
        if (at_end) break;  /* the flush batch of --once */
    }
out:
    sl_kt_consumer_close(c);   /* may call kjob_assign (revocations): k is still alive */
    close_job(jr, nopen);
    sl_step_ctx_free(&ctx);
    sl_batch_free(&batch);
    free(view.recs);
    free(tps);
    free(k.base);
    free(k.owned);
    free(k.next);
    free(names);
    free(offs);
    free(sctx);
    return NULL;
}

/* ------------------------------------------------------------------ run */

static void report_damage(void *opaque, const sl_journal_damage_t *d) {
    (void)opaque;
    /* Torn tails are normal crash recovery; the rest cost or risk data (/health says
     * degraded: sl_journal_damages). */
    if (!d->tail)
        sl_metric_add(sl_metric_counter("sluice_journal_damages_total",
                                        "Journal damages found: batches skipped, records missing, metadata rebuilt.",
                                        ""),
                      1);
    sl_warn("journal: %s at byte %llu of %s%s", d->what, (unsigned long long)d->file_offset, d->path,
            d->tail ? " (torn tail cut)" : "");
}

int sl_runner_open_journal(const sl_pipeline_t *p, bool read_only, sl_journal_t **out,
                           sl_error_t *err) {
    sl_journal_opts_t jo = {.read_only = read_only, .report = report_damage};
    if (!read_only && sl_mkdir_p(p->data_dir) != 0)
        return sl_error_set(err, SL_IO, "cannot create %s: %s", p->data_dir, sl_strerror(errno));
    int rc = sl_journal_open(p->data_dir, &jo, out, err);
    if (rc != 0 || read_only) return rc;
    for (size_t i = 0; i < p->ntopics; i++) {
        sl_topic_t *t;
        rc = sl_journal_topic(*out, p->topics[i].name, &p->topics[i].opts, &t, err);
        if (rc != 0) {
            sl_journal_close(*out);
            *out = NULL;
            return rc;
        }
    }
    return 0;
}

sl_journal_t *sl_runner_journal;
static runner_t *current;      /* the running pipeline, for ingest endpoints */

int sl_runner_status_json(sl_buf_t *out) {
    runner_t *r = current;
    if (!r) return SL_RETRY;
    static const char *const jstates[] = {"starting", "running", "retrying", "stopped"};
    sl_buf_puts(out, "{\"sources\":[");
    for (size_t i = 0; i < r->pipe->nsources; i++) {
        source_rt_t *s = &r->sources[i];
        if (i) sl_buf_putc(out, ',');
        sl_buf_puts(out, "{\"name\":");
        sl_json_write_string(out, s->cfg->name, strlen(s->cfg->name));
        sl_buf_printf(out, ",\"type\":\"%s\",\"topic\":", s->cfg->inst.plugin->name);
        sl_json_write_string(out, s->cfg->to, strlen(s->cfg->to));
        const char *state = s->done ? "done" : s->paused ? "paused" : s->last_error[0] ? "failing"
                          : s->opened ? "running" : "starting";
        sl_buf_printf(out, ",\"state\":\"%s\",\"polls\":%.0f,\"failures\":%.0f,\"records\":%.0f,"
                      "\"last_poll_ms\":%lld,\"last_ok_ms\":%lld,\"next_poll_in_ms\":%lld,\"backoff_ms\":%lld",
                      state, sl_metric_value(s->m_polls), sl_metric_value(s->m_failures),
                      sl_metric_value(s->m_records), (long long)s->last_poll_ms, (long long)s->last_ok_ms,
                      (long long)(s->done ? -1 : s->due - sl_mono_ms()), (long long)s->backoff_ms);
        sl_buf_printf(out, ",\"stuck\":%s,\"last_error\":", s->stuck ? "true" : "false");
        char err[600];
        snprintf(err, sizeof err, "%s", s->last_error);
        if (err[0]) sl_json_write_string(out, err, strlen(err));
        else sl_buf_puts(out, "null");
        sl_buf_putc(out, '}');
    }
    sl_buf_puts(out, "],\"jobs\":[");
    for (size_t i = 0; i < r->pipe->njobs; i++) {
        job_rt_t *jr = &r->jobs[i];
        if (i) sl_buf_putc(out, ',');
        sl_buf_puts(out, "{\"name\":");
        sl_json_write_string(out, jr->cfg->name, strlen(jr->cfg->name));
        int64_t lag = r->kt ? jr->kafka_lag : 0;
        for (size_t f = 0; f < jr->cfg->nfrom && !r->kt; f++)
            for (int p = 0; p < sl_topic_partitions(jr->from[f]->topic); p++) {
                int64_t off = sl_journal_group_offset(r->journal, jr->cfg->name, jr->from[f]->name, p);
                int64_t start = sl_topic_start(jr->from[f]->topic, p);
                lag += sl_topic_end(jr->from[f]->topic, p) - (off < start ? start : off);
            }
        sl_buf_printf(out, ",\"state\":\"%s\",\"records_in\":%.0f,\"records_out\":%.0f,\"dead_letters\":%.0f,"
                      "\"lag\":%lld,\"dlq\":", jstates[jr->state], sl_metric_value(jr->m_in),
                      sl_metric_value(jr->m_out), sl_metric_value(jr->m_dlq), (long long)lag);
        sl_json_write_string(out, jr->cfg->dlq, strlen(jr->cfg->dlq));
        sl_buf_puts(out, ",\"from\":[");
        for (size_t f = 0; f < jr->cfg->nfrom; f++) {
            if (f) sl_buf_putc(out, ',');
            sl_json_write_string(out, jr->cfg->from[f], strlen(jr->cfg->from[f]));
        }
        sl_buf_puts(out, "],\"sinks\":[");
        for (size_t k = 0; k < jr->cfg->nsinks; k++) {
            double writes = sl_metric_value(jr->m_write[k]);
            sl_buf_printf(out, "%s{\"type\":\"%s\",\"records\":%.0f,\"errors\":%.0f,\"writes\":%.0f,"
                          "\"write_latency_ms\":%.1f}", k ? "," : "", jr->cfg->sinks[k].plugin->name,
                          sl_metric_value(jr->m_rows[k]), sl_metric_value(jr->m_errors[k]), writes,
                          writes > 0 ? sl_metric_sum(jr->m_write[k]) * 1000.0 / writes : 0.0);
        }
        sl_buf_puts(out, "]}");
    }
    /* alerts are jobs named alert.<name> (src/alerts.c); a notification is a firing or a
     * resolution that went through the notify sinks */
    sl_buf_puts(out, "],\"alerts\":[");
    size_t na = 0;
    for (size_t i = 0; i < r->pipe->njobs; i++) {
        job_rt_t *jr = &r->jobs[i];
        if (strncmp(jr->cfg->name, "alert.", 6) != 0) continue;
        sl_buf_puts(out, na++ ? ",{\"name\":" : "{\"name\":");
        sl_json_write_string(out, jr->cfg->name + 6, strlen(jr->cfg->name + 6));
        sl_buf_printf(out, ",\"state\":\"%s\",\"records_checked\":%.0f,\"notifications\":%.0f,"
                      "\"dead_letters\":%.0f}", jstates[jr->state], sl_metric_value(jr->m_in),
                      sl_metric_value(jr->m_out), sl_metric_value(jr->m_dlq));
    }
    sl_buf_puts(out, "],\"topics\":[");
    for (size_t i = 0; i < r->ntopics; i++) {
        topic_rt_t *t = &r->topics[i];
        if (i) sl_buf_putc(out, ',');
        sl_buf_puts(out, "{\"name\":");
        sl_json_write_string(out, t->name, strlen(t->name));
        if (r->kt) {   /* the cluster has the figures: `sluice topics` */
            sl_buf_printf(out, ",\"transport\":\"kafka\",\"partition_count\":%d,\"partitions\":[]}", t->partitions);
            continue;
        }
        sl_buf_printf(out, ",\"full_partitions\":%d,\"dropped\":%llu,\"partitions\":[", sl_topic_full(t->topic),
                      (unsigned long long)sl_topic_dropped(t->topic));
        for (int p = 0; p < sl_topic_partitions(t->topic); p++)
            sl_buf_printf(out, "%s{\"start\":%lld,\"end\":%lld,\"bytes\":%lld}", p ? "," : "",
                          (long long)sl_topic_start(t->topic, p), (long long)sl_topic_end(t->topic, p),
                          (long long)sl_topic_bytes(t->topic, p));
        sl_buf_puts(out, "]}");
    }
    sl_buf_puts(out, "]}");
    return 0;
}

int sl_runner_health_json(sl_buf_t *out) {
    runner_t *r = current;
    size_t nfull = 0, nstuck = 0;
    sl_buf_t names = SL_BUF_INIT, stuck = SL_BUF_INIT, problems = SL_BUF_INIT;
    /* unhealthy: a source cannot commit to the journal (a full disk); it retries */
    for (size_t i = 0; r && i < r->pipe->nsources; i++) {
        source_rt_t *s = &r->sources[i];
        if (!s->stuck) continue;
        char msg[800];
        snprintf(msg, sizeof msg, "source %.100s %.600s: retrying with backoff", s->cfg->name, s->stuck_error);
        if (nstuck++) sl_buf_putc(&stuck, ',');
        if (problems.len) sl_buf_putc(&problems, ',');
        sl_json_write_string(&stuck, s->cfg->name, strlen(s->cfg->name));
        sl_json_write_string(&problems, msg, strlen(msg));
    }
    for (size_t i = 0; r && !r->kt && i < r->ntopics; i++) {
        topic_rt_t *t = &r->topics[i];
        int n = t->topic ? sl_topic_full(t->topic) : 0;
        if (n <= 0) continue;
        char msg[400];
        snprintf(msg, sizeof msg, "topic %.200s is full (%d partition(s)): its sources are paused until its "
                 "consumer groups commit", t->name, n);
        if (nfull++) sl_buf_putc(&names, ',');
        if (problems.len) sl_buf_putc(&problems, ',');
        sl_json_write_string(&names, t->name, strlen(t->name));
        sl_json_write_string(&problems, msg, strlen(msg));
    }
    /* the journal lost or skipped data (damage found on open or by a reader) */
    int dmg = r && !r->kt && r->journal ? sl_journal_damages(r->journal) : 0;
    if (dmg) {
        char msg[200];
        snprintf(msg, sizeof msg, "the journal found %d damaged region(s): see the log and `sluice fsck`", dmg);
        if (problems.len) sl_buf_putc(&problems, ',');
        sl_json_write_string(&problems, msg, strlen(msg));
    }
    if (!nfull && !nstuck && !dmg) sl_buf_puts(out, "{\"status\":\"ok\"}");
    else {
        sl_buf_printf(out, "{\"status\":\"%s\",\"problems\":[", nstuck ? "unhealthy" : "degraded");
        sl_buf_append(out, problems.data, problems.len);
        sl_buf_puts(out, "],\"full_topics\":[");
        sl_buf_append(out, names.data, names.len);
        sl_buf_puts(out, "],\"stuck_sources\":[");
        sl_buf_append(out, stuck.data, stuck.len);
        sl_buf_printf(out, "],\"journal_damages\":%d}", dmg);
    }
    sl_buf_free(&names);
    sl_buf_free(&stuck);
    sl_buf_free(&problems);
    return nstuck ? 503 : 200;
}

const sl_pipeline_t *sl_runner_kafka_pipeline(void) {
    runner_t *r = current;
    return r && r->kt ? r->pipe : NULL;
}

int sl_runner_append(const char *topic, const sl_record_t *recs, size_t n, const char *writer, sl_error_t *err) {
    runner_t *r = current;
    if (!r) return sl_error_set(err, SL_RETRY, "the pipeline is not running");
    if (r->kt) return sl_kt_append(r->kt, topic, recs, n, err);
    sl_topic_t *t;
    if (sl_journal_topic(r->journal, topic, NULL, &t, err) != 0) return SL_RETRY;
    /* the journal sets partition/offset on the records it appends: work on a copy */
    sl_record_t *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy) return sl_error_set(err, SL_NOMEM, "out of memory");
    memcpy(copy, recs, n * sizeof *copy);
    for (size_t i = 0; i < n; i++) copy[i].partition = -1;
    sl_txn_t *txn = sl_txn_begin(r->journal, writer);
    int rc = sl_txn_append(txn, t, copy, n, err);
    if (rc == 0) rc = sl_txn_commit(txn, NULL, 0, NULL, err);
    else sl_txn_abort(txn);
    free(copy);
    return rc == 0 ? 0 : SL_RETRY;
}

int sl_runner_ingest(const char *source, sl_batch_t *batch, int64_t timeout_ms, sl_error_t *err) {
    runner_t *r = current;
    if (!r) return sl_error_set(err, SL_RETRY, "the pipeline is not running");
    source_rt_t *s = NULL;
    for (size_t i = 0; i < r->pipe->nsources; i++)
        if (strcmp(r->sources[i].cfg->name, source) == 0) s = &r->sources[i];
    if (!s) return sl_error_set(err, SL_NOTFOUND, "no source '%s'", source);
    int64_t now = sl_now_ms();
    for (size_t i = 0; i < batch->n; i++) {
        sl_record_t *rec = &batch->recs[i];
        rec->ingest_ts = now;
        if (!rec->ts) rec->ts = now;
        rec->source = s->cfg->name;
        sl_error_t kerr = {0};
        if (sl_record_key_ts(rec, s->cfg->key, s->cfg->ts, &r->pipe->vars, &batch->arena, &kerr) != 0)
            return sl_error_set(err, SL_EVAL, "record %zu: %s", i, kerr.msg);
    }
    if (r->kt) {
        int rc = sl_kt_append(r->kt, s->cfg->to, batch->recs, batch->n, err);
        if (rc == 0) sl_metric_add(s->m_records, (double)batch->n);
        return rc;
    }
    pthread_mutex_lock(&s->ingest_lock);
    sl_txn_t *txn = sl_txn_begin(r->journal, s->cfg->name);
    int rc = sl_txn_append(txn, s->to->topic, batch->recs, batch->n, err);
    uint64_t seq = 0;
    if (rc == 0) rc = sl_txn_commit(txn, NULL, 0, &seq, err);
    else sl_txn_abort(txn);
    pthread_mutex_unlock(&s->ingest_lock);
    if (rc == 0) rc = sl_journal_wait_durable(r->journal, seq, timeout_ms);
    if (rc == 0) sl_metric_add(s->m_records, (double)batch->n);
    else if (!err->msg[0]) sl_error_set(err, rc, "not durable within %lld ms", (long long)timeout_ms);
    return rc;
}

int sl_run(sl_pipeline_t *p, const sl_run_opts_t *opts) {
    runner_t r;
    memset(&r, 0, sizeof r);
    r.pipe = p;
    r.opts = opts;
    pthread_mutex_init(&r.lock, NULL);
    srand((unsigned)(sl_now_ms() ^ getpid()));
    sl_error_t err = {0};
    if (sl_runner_open_journal(p, false, &r.journal, &err) != 0) {
        sl_errorf("cannot open the journal in %s: %s", p->data_dir, err.msg);
        return 3;
    }
    sl_runner_journal = r.journal;
    if (p->kafka) {
        for (int64_t backoff = 0;;) {
            sl_error_t kerr = {0};
            if (sl_kt_open(p, &r.kt, &kerr) == 0) break;
            if (kerr.code != SL_RETRY || sl_stop_requested) {
                sl_errorf("transport kafka: %s", kerr.msg);
                sl_journal_close(r.journal);
                sl_runner_journal = NULL;
                return 3;
            }
            backoff = next_backoff(backoff);
            sl_warn("transport kafka: %s (retry in %lld ms)", kerr.msg, (long long)backoff);
            nap(backoff);
        }
    }
    r.ntopics = p->ntopics;
    r.topics = calloc(p->ntopics ? p->ntopics : 1, sizeof *r.topics);
    for (size_t i = 0; i < p->ntopics; i++) {
        r.topics[i].name = p->topics[i].name;
        sl_journal_topic(r.journal, p->topics[i].name, NULL, &r.topics[i].topic, &err);
        r.topics[i].partitions = r.kt ? sl_kt_partitions(r.kt, p->topics[i].name) : sl_topic_partitions(r.topics[i].topic);
    }
    r.sources = calloc(p->nsources ? p->nsources : 1, sizeof *r.sources);
    for (size_t i = 0; i < p->nsources; i++) {
        source_rt_t *s = &r.sources[i];
        s->cfg = &p->sources[i];
        s->r = &r;
        s->to = rt_topic(&r, s->cfg->to);
        s->to->writers++;
        s->cfg->inst.once = opts->once;
        s->cfg->inst.every_ms = s->cfg->every_ms;
        s->cfg->inst.vars = &p->vars;
        if (opts->replay_dir) {
            s->cfg->inst.replay = true;
            s->cfg->inst.replay_dir = sl_arena_sprintf(&p->arena, "%s/%s", opts->replay_dir, s->cfg->name);
        }
        sl_batch_init(&s->batch);
        pthread_mutex_init(&s->ingest_lock, NULL);
        sl_buf_t l = SL_BUF_INIT;
        sl_metrics_label(&l, "source", s->cfg->name);
        s->m_polls = sl_metric_counter("sluice_source_polls_total", "Polls done per source (succeeded or failed; a transfer in flight is not counted twice).", l.data);
        s->m_failures = sl_metric_counter("sluice_source_poll_failures_total", "Failed polls per source.", l.data);
        s->m_records = sl_metric_counter("sluice_source_records_total", "Records a source committed to its topic.", l.data);
        s->m_dlq = sl_metric_counter("sluice_source_dead_letters_total", "Malformed inputs sent to <source>.dlq.", l.data);
        s->m_last_poll = sl_metric_gauge("sluice_source_last_poll_timestamp_seconds", "When the source last polled.", l.data);
        s->m_stuck = sl_metric_gauge("sluice_source_stuck", "1 while the source cannot commit to the journal (disk full, I/O error); it retries with backoff.", l.data);
        sl_buf_free(&l);
    }
    /* J6 of journal.c: retention keeps what a job has not committed, from its start */
    for (size_t i = 0; i < p->njobs && !r.kt; i++)
        for (size_t f = 0; f < p->jobs[i].nfrom; f++) sl_journal_reader(r.journal, p->jobs[i].name, p->jobs[i].from[f]);
    r.jobs = calloc(p->njobs ? p->njobs : 1, sizeof *r.jobs);
    for (size_t i = 0; i < p->njobs; i++) {
        job_rt_t *jr = &r.jobs[i];
        jr->cfg = &p->jobs[i];
        jr->r = &r;
        jr->from = calloc(jr->cfg->nfrom ? jr->cfg->nfrom : 1, sizeof *jr->from);
        for (size_t f = 0; f < jr->cfg->nfrom; f++) jr->from[f] = rt_topic(&r, jr->cfg->from[f]);
        jr->dlq = rt_topic(&r, jr->cfg->dlq);
        sl_buf_t l = SL_BUF_INIT;
        sl_metrics_label(&l, "job", jr->cfg->name);
        jr->m_in = sl_metric_counter("sluice_job_records_in_total", "Records a job read from its topics.", l.data);
        jr->m_out = sl_metric_counter("sluice_job_records_out_total", "Records a job wrote to its sinks and committed.", l.data);
        jr->m_dlq = sl_metric_counter("sluice_job_dead_letters_total", "Records a job sent to its dead-letter topic.", l.data);
        jr->m_batches = sl_metric_counter("sluice_job_batches_total", "Batches a job committed.", l.data);
        jr->m_latency = sl_metric_histogram("sluice_end_to_end_latency_seconds",
                                            "From a record's ingest to its job's commit after every sink.", l.data);
        size_t ns = jr->cfg->nsinks ? jr->cfg->nsinks : 1;
        jr->m_rows = calloc(ns, sizeof *jr->m_rows);
        jr->m_errors = calloc(ns, sizeof *jr->m_errors);
        jr->m_write = calloc(ns, sizeof *jr->m_write);
        for (size_t k = 0; k < jr->cfg->nsinks; k++) {
            sl_buf_t sl = SL_BUF_INIT;
            sl_metrics_label(&sl, "job", jr->cfg->name);
            sl_metrics_label(&sl, "sink", jr->cfg->sinks[k].plugin->name);
            char idx[32];
            snprintf(idx, sizeof idx, "%zu", k);
            sl_metrics_label(&sl, "index", idx);
            jr->m_rows[k] = sl_metric_counter("sluice_sink_records_total", "Records a sink acknowledged.", sl.data);
            jr->m_errors[k] = sl_metric_counter("sluice_sink_errors_total", "Failed sink writes (retried).", sl.data);
            jr->m_write[k] = sl_metric_histogram("sluice_sink_write_seconds", "Time of one sink write.", sl.data);
            sl_buf_free(&sl);
        }
        sl_buf_free(&l);
        jr->sink_topics = calloc(jr->cfg->nsinks ? jr->cfg->nsinks : 1, sizeof *jr->sink_topics);
        for (size_t s = 0; s < jr->cfg->nsinks; s++)
            if (strcmp(jr->cfg->sinks[s].plugin->name, "topic") == 0) {
                const char *name = *(const char *const *)jr->cfg->sinks[s].conf;
                topic_rt_t *t = rt_topic(&r, name);
                if (t) {
                    jr->sink_topics[jr->nsink_topics++] = t;
                    t->writers++;
                }
            }
    }
    sl_info("running %s: %zu source(s), %zu job(s), %zu topic(s), %s%s%s", p->file, p->nsources, p->njobs,
            p->ntopics, r.kt ? "topics on Kafka, state in " : "data in ", p->data_dir, opts->once ? " (once)" : "");
    current = &r;
    if (sl_serve_wanted(p)) {
        sl_error_t serr = {0};
        if (sl_serve_start(p, &serr) != 0) {
            if (opts->once) {
                sl_warn("serve: %s (running without the HTTP server)", serr.msg);
            } else {
                sl_errorf("serve: %s", serr.msg);
                r.exit_code = 3;
                sl_stop_requested = 1;
            }
        }
    }
    pthread_t src_thread;
    bool src_started = p->nsources && pthread_create(&src_thread, NULL, sources_main, &r) == 0;
    for (size_t i = 0; i < p->njobs; i++) pthread_create(&r.jobs[i].thread, NULL, r.kt ? job_main_kafka : job_main, &r.jobs[i]);
    /* main thread: wait for stop (or, with --once, for everything to finish) */
    if (!opts->once)
        while (!sl_stop_requested) nap(100);
    if (src_started) pthread_join(src_thread, NULL);
    int code = r.exit_code;
    for (size_t i = 0; i < p->njobs; i++) {
        pthread_join(r.jobs[i].thread, NULL);
        if (r.jobs[i].exit_code) code = r.jobs[i].exit_code;
    }
    sl_serve_stop();  /* before current and the journal go: it joins every handler */
    current = NULL;
    for (size_t i = 0; i < p->nsources; i++) {
        sl_batch_free(&r.sources[i].batch);
        free(r.sources[i].dlq);
        pthread_mutex_destroy(&r.sources[i].ingest_lock);
    }
    for (size_t i = 0; i < p->njobs; i++) {
        free(r.jobs[i].from);
        free(r.jobs[i].sink_topics);
        free(r.jobs[i].m_rows);
        free(r.jobs[i].m_errors);
        free(r.jobs[i].m_write);
    }
    free(r.sources);
    free(r.jobs);
    free(r.topics);
    sl_kt_close(r.kt);
    sl_journal_close(r.journal);
    sl_runner_journal = NULL;
    pthread_mutex_destroy(&r.lock);
    return code;
}
