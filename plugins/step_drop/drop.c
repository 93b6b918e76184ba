/* drop.c - step `drop: [path, ...]`: remove fields (dotted paths reach inside). */
#include <stdlib.h>
#include <string.h>

#include "../../src/step_util.h"

typedef struct drop_state { const char **paths; size_t n; } drop_state_t;

static int drop_compile(sl_step_t *step, sl_init_ctx_t *ctx) {
    const sl_cnode_t *n = step->node;
    drop_state_t *st = calloc(1, sizeof *st);
    step->state = st;
    if (n->kind == SL_CNODE_SCALAR && n->len) {
        st->paths = calloc(1, sizeof *st->paths);
        st->paths[st->n++] = n->str;
        return 0;
    }
    if (n->kind != SL_CNODE_SEQ || n->n == 0) {
        sl_step_diag(ctx, n, "%s must be a list of field paths", ctx->what);
        return -1;
    }
    st->paths = calloc(n->n, sizeof *st->paths);
    for (size_t i = 0; i < n->n; i++) {
        if (n->items[i]->kind != SL_CNODE_SCALAR || n->items[i]->len == 0) {
            sl_step_diag(ctx, n->items[i], "%s: each item must be a field path", ctx->what);
            return -1;
        }
        st->paths[st->n++] = n->items[i]->str;
    }
    return 0;
}

static int drop_apply(sl_step_t *step, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err) {
    const drop_state_t *st = step->state;
    for (size_t i = 0; i < batch->n; i++)
        for (size_t k = 0; k < st->n; k++)
            sl_value_del_path(&batch->arena, &batch->recs[i].value, st->paths[k]);
    return 0;
}

static void drop_free(sl_step_t *step) {
    drop_state_t *st = step->state;
    if (!st) return;
    free(st->paths);
    free(st);
    step->state = NULL;
}

const sl_step_plugin_t sl_step_drop = {
    .abi = SL_PLUGIN_ABI,
    .name = "drop",
    .description = "`drop: [path, ...]` removes fields.",
    .compile = drop_compile,
    .apply = drop_apply,
    .free = drop_free,
};
