/* map.c - step `map: {path: expr}`: replace each record by a new one built from
 * expressions over the old one (a projection). */
#include <stdlib.h>

#include "../../src/step_util.h"

static int map_compile(sl_step_t *step, sl_init_ctx_t *ctx) {
    sl_assigns_t *a = calloc(1, sizeof *a);
    step->state = a;
    return sl_assigns_compile(a, step->node, ctx);
}

static int map_apply(sl_step_t *step, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err) {
    const sl_assigns_t *a = step->state;
    sl_arena_t *arena = &batch->arena;
    size_t out = 0;
    for (size_t i = 0; i < batch->n; i++) {
        sl_record_t *rec = &batch->recs[i];
        sl_expr_ctx_t ec;
        sl_step_expr_ctx(ctx, rec, &ec);
        sl_value_t obj = sl_object_new(arena, a->n);
        bool ok = true;
        for (size_t k = 0; k < a->n; k++) {
            sl_value_t v;
            sl_error_t e = {0};
            if (sl_expr_eval(a->v[k].expr, &ec, &v, &e) != 0) {
                sl_step_dlq(ctx, rec, "map %s: %s", a->v[k].path, e.msg);
                ok = false;
                break;
            }
            sl_value_set_path(arena, &obj, a->v[k].path, v);
        }
        if (!ok) continue;
        rec->value = obj;
        batch->recs[out++] = *rec;
    }
    batch->n = out;
    return 0;
}

static void map_free(sl_step_t *step) {
    if (!step->state) return;
    sl_assigns_free(step->state);
    free(step->state);
    step->state = NULL;
}

const sl_step_plugin_t sl_step_map = {
    .abi = SL_PLUGIN_ABI,
    .name = "map",
    .description = "`map: {path: expr, ...}` replaces the record by a new one built from the expressions (a projection).",
    .compile = map_compile,
    .apply = map_apply,
    .free = map_free,
};
