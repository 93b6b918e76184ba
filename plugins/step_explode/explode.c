/* explode.c - step `explode: expr`: one record per element of the array expr.
 *
 * Two forms:
 *   explode: items                      the element becomes the record
 *   explode: {path: items, as: item}    a copy of the record with the element at `as`
 * Every output record keeps its parent's key, ts and metadata (and its original value,
 * for the dead-letter topic).  null or [] gives no record; any other non-array, or an
 * evaluation error, sends the parent to the dead-letter topic.
 *
 * Memory: the outputs are built in an array in the batch's arena (no malloc per
 * element), then copied back into recs[] with sl_batch_push, which grows the heap array
 * only when the batch got bigger. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/step_util.h"

typedef struct explode_conf {
    const sl_cnode_t *path;   /* the expression's node */
    char *as;                 /* field to set, or NULL: the element is the record */
} explode_conf_t;

typedef struct explode {
    sl_expr_t *expr;
    char *as;
} explode_t;

static const sl_config_map_t explode_map[] = {
    {"path", SL_CFG_EXPR, NULL, SL_CFG_REQUIRED, offsetof(explode_conf_t, path), NULL,
     "expression giving the array to explode"},
    {"as", SL_CFG_STR, NULL, 0, offsetof(explode_conf_t, as), NULL,
     "field (dotted path) that holds the element in a copy of the record; absent: the element is the record"},
    SL_CONFIG_END,
};

static bool bad_path(const char *p) {
    size_t n = strlen(p);
    return n == 0 || p[0] == '.' || p[n - 1] == '.' || strstr(p, "..") != NULL;
}

static int explode_compile(sl_step_t *step, sl_init_ctx_t *ctx) {
    explode_t *x = calloc(1, sizeof *x);
    step->state = x;
    const sl_cnode_t *node = step->node;
    if (node && node->kind == SL_CNODE_MAP) {
        explode_conf_t conf = {0};
        if (sl_config_apply(explode_map, node, &conf, ctx->what, ctx->arena, ctx->diags) != 0)
            return -1;
        if (conf.as && bad_path(conf.as)) {
            sl_step_diag(ctx, sl_cnode_get(node, "as"), "invalid field path '%s' in %s", conf.as,
                         ctx->what);
            return -1;
        }
        x->as = conf.as;
        node = conf.path;
    } else if (!node || node->kind != SL_CNODE_SCALAR || sl_cnode_is_null(node)) {
        sl_step_diag(ctx, node, "%s needs an expression giving an array, or {path: expr, as: field}",
                     ctx->what);
        return -1;
    }
    x->expr = sl_expr_compile_node(node, ctx->diags);
    return x->expr ? 0 : -1;
}

static int explode_apply(sl_step_t *step, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err) {
    const explode_t *x = step->state;
    sl_arena_t *arena = &batch->arena;
    size_t n = batch->n;
    if (n == 0) return 0;
    /* pass 1: evaluate (failures and nulls stay null: they give no record) */
    sl_value_t *arrays = sl_arena_alloc(arena, n * sizeof *arrays);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        sl_record_t *rec = &batch->recs[i];
        sl_expr_ctx_t ec;
        sl_step_expr_ctx(ctx, rec, &ec);
        sl_value_t v;
        sl_error_t e = {0};
        arrays[i] = sl_null();
        if (sl_expr_eval(x->expr, &ec, &v, &e) != 0) {
            sl_step_dlq(ctx, rec, "explode: %s", e.msg);
            continue;
        }
        if (v.type == SL_T_NULL) continue;
        if (v.type != SL_T_ARRAY) {
            sl_step_dlq(ctx, rec, "explode: '%s' gave %s, not an array", sl_expr_text(x->expr),
                        sl_type_name((sl_type_t)v.type));
            continue;
        }
        arrays[i] = v;
        total += v.len;
    }
    /* pass 2: the outputs, in the arena */
    sl_record_t *out = total ? sl_arena_alloc(arena, total * sizeof *out) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const sl_value_t arr = arrays[i];
        if (arr.type != SL_T_ARRAY) continue;
        const sl_record_t *parent = &batch->recs[i];
        for (uint32_t j = 0; j < arr.len; j++) {
            sl_record_t *r = &out[k++];
            /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): out is NULL only when total == 0, i.e. no array has an item */
            *r = *parent;
            if (x->as) sl_value_set_path(arena, &r->value, x->as, arr.u.a[j]);
            else r->value = arr.u.a[j];
            if (!parent->orig.type) r->orig = parent->value;
        }
    }
    /* pass 3: back into recs[] (sl_batch_push may move recs: no pointer is held) */
    batch->n = 0;
    for (size_t i = 0; i < total; i++) *sl_batch_push(batch) = out[i];
    return 0;
}

static void explode_free(sl_step_t *step) {
    explode_t *x = step->state;
    if (!x) return;
    sl_expr_free(x->expr);
    free(x);
    step->state = NULL;
}

const sl_step_plugin_t sl_step_explode = {
    .abi = SL_PLUGIN_ABI,
    .name = "explode",
    .description = "`explode: expr` gives one record per element of the array expr (the element becomes the record); `explode: {path: expr, as: field}` sets the element at `as` in a copy of the record instead. Key, ts and metadata are kept; null or [] gives no record; another non-array sends the record to the dead-letter topic.",
    .compile = explode_compile,
    .apply = explode_apply,
    .free = explode_free,
};
