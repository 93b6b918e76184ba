/* rename.c - step `rename: {old: new}`: move fields (dotted paths on both sides). */
#include <stdlib.h>
#include <string.h>

#include "../../src/step_util.h"

typedef struct rename_state { const char **from, **to; size_t n; } rename_state_t;

static int rename_compile(sl_step_t *step, sl_init_ctx_t *ctx) {
    const sl_cnode_t *n = step->node;
    rename_state_t *st = calloc(1, sizeof *st);
    step->state = st;
    if (n->kind != SL_CNODE_MAP || n->n == 0) {
        sl_step_diag(ctx, n, "%s must be a mapping of old: new field names", ctx->what);
        return -1;
    }
    st->from = calloc(n->n, sizeof *st->from);
    st->to = calloc(n->n, sizeof *st->to);
    for (size_t i = 0; i < n->n; i++) {
        const sl_cnode_t *v = n->pairs[i].val;
        if (v->kind != SL_CNODE_SCALAR || v->len == 0) {
            sl_step_diag(ctx, v, "%s: the new name of '%s' must be a field path", ctx->what,
                         n->pairs[i].key->str);
            return -1;
        }
        st->from[st->n] = n->pairs[i].key->str;
        st->to[st->n++] = v->str;
    }
    return 0;
}

static int rename_apply(sl_step_t *step, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err) {
    const rename_state_t *st = step->state;
    for (size_t i = 0; i < batch->n; i++) {
        sl_value_t *v = &batch->recs[i].value;
        for (size_t k = 0; k < st->n; k++) {
            const sl_value_t *old = sl_value_get_path(v, st->from[k]);
            if (!old) continue;
            sl_value_t keep = *old;
            sl_value_del_path(&batch->arena, v, st->from[k]);
            sl_value_set_path(&batch->arena, v, st->to[k], keep);
        }
    }
    return 0;
}

static void rename_free(sl_step_t *step) {
    rename_state_t *st = step->state;
    if (!st) return;
    free(st->from);
    free(st->to);
    free(st);
    step->state = NULL;
}

const sl_step_plugin_t sl_step_rename = {
    .abi = SL_PLUGIN_ABI,
    .name = "rename",
    .description = "`rename: {old: new, ...}` moves fields to new names.",
    .compile = rename_compile,
    .apply = rename_apply,
    .free = rename_free,
};
