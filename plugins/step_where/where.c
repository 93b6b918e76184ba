/* where.c - step `where: expr`: keep the records for which expr is true.  null counts
 * as false (the record is dropped quietly); any other non-boolean result, or an
 * evaluation error, sends the record to the dead-letter topic. */
#include "../../src/step_util.h"

static int where_compile(sl_step_t *step, sl_init_ctx_t *ctx) {
    sl_expr_t *e = sl_expr_compile_node(step->node, ctx->diags);
    step->state = e;
    return e ? 0 : -1;
}

static int where_apply(sl_step_t *step, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err) {
    const sl_expr_t *e = step->state;
    size_t out = 0;
    for (size_t i = 0; i < batch->n; i++) {
        sl_record_t *rec = &batch->recs[i];
        sl_expr_ctx_t ec;
        sl_step_expr_ctx(ctx, rec, &ec);
        sl_value_t v;
        sl_error_t ee = {0};
        if (sl_expr_eval(e, &ec, &v, &ee) != 0) {
            sl_step_dlq(ctx, rec, "where: %s", ee.msg);
            continue;
        }
        if (v.type == SL_T_BOOL) {
            if (v.u.b) batch->recs[out++] = *rec;
        } else if (v.type != SL_T_NULL) {
            sl_step_dlq(ctx, rec, "where: the condition gave %s, not true/false",
                        sl_type_name((sl_type_t)v.type));
        }
    }
    batch->n = out;
    return 0;
}

static void where_free(sl_step_t *step) {
    sl_expr_free(step->state);
    step->state = NULL;
}

const sl_step_plugin_t sl_step_where = {
    .abi = SL_PLUGIN_ABI,
    .name = "where",
    .description = "`where: expr` keeps records for which expr is true; null drops the record, any other non-boolean sends it to the dead-letter topic.",
    .compile = where_compile,
    .apply = where_apply,
    .free = where_free,
};
