/* engine.h - what the runner and `sluice test` share: the step context and applying a
 * job's steps to a batch, with failed records collected for the dead-letter topic. */
#ifndef SLUICE_ENGINE_H
#define SLUICE_ENGINE_H

#include "pipeline.h"
#include "sluice/plugin.h"

/* The context steps run in (plugin.h keeps it opaque). */
struct sl_step_ctx {
    const char *job;
    const sl_value_t *vars;
    int64_t now_ms;
    sl_batch_t *batch;          /* the batch being transformed (its arena) */
    const sl_step_t *step;      /* the step running now */
    sl_record_t *dlq;           /* dead-letter entries (values in batch->arena) */
    size_t ndlq, dlq_cap;
    uint64_t *step_dlq_counts;  /* per step index (may be NULL) */
};

void sl_step_ctx_init(sl_step_ctx_t *ctx, const sl_job_cfg_t *job, const sl_value_t *vars,
                      sl_batch_t *batch);
void sl_step_ctx_free(sl_step_ctx_t *ctx);

/* Add a dead-letter entry {error, step, record, topic, partition, offset} for rec. */
void sl_dlq_add(sl_step_ctx_t *ctx, const sl_record_t *rec, const char *step, const char *error);

/* Run every step of job over batch (in place).  A step's failure on a record sends it
 * to ctx->dlq; an error returned here is a failure of the whole step (fatal). */
int sl_job_apply(const sl_job_cfg_t *job, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err);
/* End of input: let stateful steps emit what they hold (windows), then run the
 * remaining steps over it.  Appends to batch. */
int sl_job_flush(const sl_job_cfg_t *job, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err);

/* Key and event time of a record from a source's `key:` / `ts:` expressions. */
int sl_record_key_ts(sl_record_t *rec, const sl_expr_t *key, const sl_expr_t *ts,
                     const sl_value_t *vars, sl_arena_t *arena, sl_error_t *err);

#endif
