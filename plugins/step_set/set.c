/* set.c - step `set: {path: expr}`: add or replace fields, in order (a later
 * expression sees the fields set before it).  A failing expression sends the record to
 * the dead-letter topic. */
#include <stdlib.h>
#include <string.h>

#include "../../src/step_util.h"

static int set_compile(sl_step_t *step, sl_init_ctx_t *ctx) {
    sl_assigns_t *a = calloc(1, sizeof *a);
    step->state = a;
    return sl_assigns_compile(a, step->node, ctx);
}

/* The record's members, copied once per record with room for every assignment, so a
 * top-level `set` replaces or appends in place instead of copying the object once per
 * field (the copy is this step's own, so writing into it is safe: value.h invariant 4). */
static sl_value_t own_object(sl_arena_t *arena, const sl_value_t *v, size_t extra) {
    uint32_t n = v->type == SL_T_OBJECT ? v->len : 0;
    sl_value_t nv = sl_object_new(arena, n + extra);
    if (n) memcpy(nv.u.o, v->u.o, n * sizeof *nv.u.o);
    nv.len = n;
    return nv;
}

static void set_top(sl_value_t *obj, const char *key, uint32_t key_len, sl_value_t val) {
    for (uint32_t i = obj->len; i-- > 0;) {  /* the last match is the one sl_value_get sees */
        sl_member_t *m = &obj->u.o[i];
        if (m->key_len == key_len && memcmp(m->key, key, key_len) == 0) {
            m->val = val;
            return;
        }
    }
    sl_member_t *m = &obj->u.o[obj->len++];
    m->key = key;          /* the config's string: lives as long as the pipeline */
    m->key_len = key_len;
    m->val = val;
}

static int set_apply(sl_step_t *step, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err) {
    const sl_assigns_t *a = step->state;
    sl_arena_t *arena = &batch->arena;
    size_t out = 0;
    for (size_t i = 0; i < batch->n; i++) {
        sl_record_t *rec = &batch->recs[i];
        sl_expr_ctx_t ec;
        sl_step_expr_ctx(ctx, rec, &ec);
        rec->value = own_object(arena, &rec->value, a->n);
        rec->raw = NULL;
        bool ok = true;
        for (size_t k = 0; k < a->n; k++) {
            sl_value_t v;
            sl_error_t e = {0};
            if (sl_expr_eval(a->v[k].expr, &ec, &v, &e) != 0) {
                sl_step_dlq(ctx, rec, "set %s: %s", a->v[k].path, e.msg);
                ok = false;
                break;
            }
            if (!a->v[k].dotted && rec->value.type == SL_T_OBJECT)
                set_top(&rec->value, a->v[k].path, a->v[k].path_len, v);
            else
                sl_value_set_path(arena, &rec->value, a->v[k].path, v);
        }
        if (ok) batch->recs[out++] = *rec;
    }
    batch->n = out;
    return 0;
}

static void set_free(sl_step_t *step) {
    if (!step->state) return;
    sl_assigns_free(step->state);
    free(step->state);
    step->state = NULL;
}

const sl_step_plugin_t sl_step_set = {
    .abi = SL_PLUGIN_ABI,
    .name = "set",
    .description = "`set: {path: expr, ...}` adds or replaces fields (dotted paths create objects); expressions run in order and see earlier ones.",
    .compile = set_compile,
    .apply = set_apply,
    .free = set_free,
};
