/* job.c - applying a job's steps to a batch, and the dead-letter entries of records
 * that fail (shared by the runner and `sluice test`). */
#include "engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/json.h"

void sl_step_ctx_init(sl_step_ctx_t *ctx, const sl_job_cfg_t *job, const sl_value_t *vars,
                      sl_batch_t *batch) {
    memset(ctx, 0, sizeof *ctx);
    ctx->job = job ? job->name : NULL;
    ctx->vars = vars;
    ctx->batch = batch;
    ctx->now_ms = sl_now_ms();
}

void sl_step_ctx_free(sl_step_ctx_t *ctx) {
    free(ctx->dlq);
    ctx->dlq = NULL;
    ctx->ndlq = ctx->dlq_cap = 0;
}

void sl_dlq_add(sl_step_ctx_t *ctx, const sl_record_t *rec, const char *step, const char *error) {
    sl_arena_t *a = &ctx->batch->arena;
    if (ctx->ndlq == ctx->dlq_cap) {
        ctx->dlq_cap = ctx->dlq_cap ? ctx->dlq_cap * 2 : 16;
        ctx->dlq = sl_xrealloc(ctx->dlq, ctx->dlq_cap * sizeof *ctx->dlq);
        if (!ctx->dlq) abort();
    }
    sl_record_t *d = &ctx->dlq[ctx->ndlq++];
    memset(d, 0, sizeof *d);
    d->partition = -1;
    d->offset = -1;
    d->key = rec->key;
    d->key_len = rec->key_len;
    d->ts = rec->ts;
    d->ingest_ts = rec->ingest_ts;
    d->source = rec->source;
    sl_value_t env = sl_object_new(a, 6);
    sl_value_set(a, &env, "error", 5, sl_str_dup(a, error, strlen(error)));
    sl_value_set(a, &env, "step", 4, sl_str_dup(a, step, strlen(step)));
    sl_value_set(a, &env, "record", 6, rec->orig.type ? rec->orig : rec->value);
    sl_value_set(a, &env, "topic", 5, rec->topic ? sl_str(rec->topic, strlen(rec->topic)) : sl_null());
    sl_value_set(a, &env, "partition", 9, rec->partition >= 0 ? sl_int(rec->partition) : sl_null());
    sl_value_set(a, &env, "offset", 6, rec->offset >= 0 ? sl_int(rec->offset) : sl_null());
    d->value = env;
    if (ctx->step_dlq_counts && ctx->step) ctx->step_dlq_counts[ctx->step->index]++;
}

void sl_step_dlq(sl_step_ctx_t *ctx, const sl_record_t *rec, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_dlq_add(ctx, rec, ctx->step ? ctx->step->name : "?", msg);
}

void sl_step_expr_ctx(sl_step_ctx_t *ctx, const sl_record_t *rec, sl_expr_ctx_t *out) {
    memset(out, 0, sizeof *out);
    out->rec = rec;
    out->vars = ctx->vars;
    out->arena = &ctx->batch->arena;
    out->now_ms = ctx->now_ms;
}

sl_arena_t *sl_step_arena(sl_step_ctx_t *ctx) { return &ctx->batch->arena; }

int sl_job_apply(const sl_job_cfg_t *job, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err) {
    ctx->batch = batch;
    for (size_t i = 0; i < job->nsteps && batch->n; i++) {
        const sl_step_t *st = &job->steps[i];
        ctx->step = st;
        int rc = st->plugin->apply((sl_step_t *)st, batch, ctx, err);
        if (rc != 0) return rc;
    }
    ctx->step = NULL;
    return 0;
}

int sl_job_flush(const sl_job_cfg_t *job, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err) {
    for (size_t i = 0; i < job->nsteps; i++) {
        const sl_step_t *st = &job->steps[i];
        if (!st->plugin->flush) continue;
        size_t before = batch->n;
        ctx->batch = batch;
        ctx->step = st;
        int rc = st->plugin->flush((sl_step_t *)st, batch, ctx, err);
        if (rc != 0) return rc;
        if (batch->n == before || i + 1 == job->nsteps) continue;
        /* The records this flush emitted run through the steps after it, in a batch of
         * their own (a step may add records and so realloc recs[]) that borrows the real
         * batch's arena and gives it back. */
        sl_batch_t tail;
        memset(&tail, 0, sizeof tail);
        tail.arena = batch->arena;
        tail.n = tail.cap = batch->n - before;
        tail.recs = malloc(tail.cap * sizeof *tail.recs);
        if (!tail.recs) abort();
        memcpy(tail.recs, batch->recs + before, tail.n * sizeof *tail.recs);
        batch->n = before;
        ctx->batch = &tail;
        for (size_t k = i + 1; k < job->nsteps && rc == 0 && tail.n; k++) {
            ctx->step = &job->steps[k];
            rc = job->steps[k].plugin->apply((sl_step_t *)&job->steps[k], &tail, ctx, err);
        }
        batch->arena = tail.arena;
        ctx->batch = batch;
        for (size_t r = 0; r < tail.n && rc == 0; r++) *sl_batch_push(batch) = tail.recs[r];
        free(tail.recs);
        if (rc != 0) return rc;
    }
    ctx->batch = batch;
    ctx->step = NULL;
    return 0;
}

int sl_record_key_ts(sl_record_t *rec, const sl_expr_t *key, const sl_expr_t *ts,
                     const sl_value_t *vars, sl_arena_t *arena, sl_error_t *err) {
    sl_expr_ctx_t ec = {.rec = rec, .vars = vars, .arena = arena, .now_ms = rec->ingest_ts};
    if (key) {
        sl_value_t v;
        int rc = sl_expr_eval(key, &ec, &v, err);
        if (rc != 0) return rc;
        if (v.type == SL_T_STRING) {
            rec->key = v.u.s;
            rec->key_len = v.len;
        } else if (v.type != SL_T_NULL) {
            sl_buf_t b = SL_BUF_INIT;
            sl_json_write(&b, v);
            rec->key = sl_arena_strndup(arena, b.data, b.len);
            rec->key_len = (uint32_t)b.len;
            sl_buf_free(&b);
        }
    }
    if (ts) {
        sl_value_t v;
        int rc = sl_expr_eval(ts, &ec, &v, err);
        if (rc != 0) return rc;
        if (sl_is_number(v)) rec->ts = (int64_t)sl_value_num(v);
        else if (v.type != SL_T_NULL)
            return sl_error_set(err, SL_EVAL, "'ts' must give epoch milliseconds (a number), got %s",
                                sl_type_name((sl_type_t)v.type));
    }
    return 0;
}
