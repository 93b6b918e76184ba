/* debezium.c - step `debezium: {deletes: skip|dlq|keep}`: unwrap Debezium change
 * events into the row they describe.
 *
 * Accepted shapes: the JSON converter's envelope with a schema ({schema, payload:
 * {before, after, op, source, ts_ms}}) and the bare envelope without one ({before,
 * after, op, ...}).  What becomes of each event, by `op`:
 *   c (create), u (update), r (snapshot read)  -> the `after` row;
 *   d (delete): deletes: skip (default) -> dropped (the row stays in the sink: sinks
 *               upsert, they never delete);
 *               deletes: dlq  -> the event goes to the job's dead-letter topic;
 *               deletes: keep -> the `before` row with `_deleted: true` (a soft delete:
 *               a keyed sink marks the row); in this mode every after-row carries
 *               `_deleted: false`, so a re-insert clears the mark;
 *   t (truncate) -> dropped.
 * An event with no `op`, an unknown op, or a missing row image goes to the dead-letter
 * topic with the reason.  (Kafka tombstones, the empty messages Debezium sends after a
 * delete, never reach a step: the kafka source skips them.) */
#include <stdlib.h>
#include <string.h>

#include "../../src/step_util.h"

typedef struct dbz_conf {
    int deletes;               /* 0 skip, 1 dlq, 2 keep */
    char *flag;                /* the soft-delete field */
} dbz_conf_t;

enum { DEL_SKIP, DEL_DLQ, DEL_KEEP };

static const sl_config_map_t dbz_map[] = {
    {"deletes", SL_CFG_ENUM, "skip", 0, offsetof(dbz_conf_t, deletes), "skip|dlq|keep",
     "what a delete event becomes: dropped, a dead letter, or the before-row with the flag set"},
    {"flag", SL_CFG_STR, "_deleted", 0, offsetof(dbz_conf_t, flag), NULL,
     "the soft-delete field of deletes: keep"},
    SL_CONFIG_END};

static int dbz_compile(sl_step_t *step, sl_init_ctx_t *ctx) {
    dbz_conf_t *c = sl_arena_calloc(ctx->arena, sizeof *c);
    c->flag = "_deleted";
    step->state = c;
    const sl_cnode_t *n = step->node;
    if (n && n->kind == SL_CNODE_SCALAR && !sl_cnode_is_null(n)) {
        /* shorthand: `debezium: keep` */
        static const char *const names[] = {"skip", "dlq", "keep"};
        for (int i = 0; i < 3; i++)
            if (strcmp(n->str, names[i]) == 0) {
                c->deletes = i;
                return 0;
            }
        sl_step_diag(ctx, n, "%s: unknown value '%s' (use skip, dlq or keep, or {deletes: ...})", ctx->what,
                     n->str);
        return -1;
    }
    return sl_config_apply(dbz_map, n, c, ctx->what, ctx->arena, ctx->diags) ? -1 : 0;
}

static const sl_value_t *member(const sl_value_t *obj, const char *key) {
    return sl_value_get(obj, key, strlen(key));
}

static int dbz_apply(sl_step_t *step, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err) {
    const dbz_conf_t *c = step->state;
    sl_arena_t *arena = &batch->arena;
    size_t flag_len = strlen(c->flag);
    size_t out = 0;
    for (size_t i = 0; i < batch->n; i++) {
        sl_record_t *rec = &batch->recs[i];
        const sl_value_t *env = &rec->value;
        const sl_value_t *payload = member(env, "payload");
        if (payload && payload->type == SL_T_OBJECT && (member(env, "schema") || member(payload, "op")))
            env = payload;
        const sl_value_t *op = member(env, "op");
        if (!op || op->type != SL_T_STRING || op->len != 1) {
            sl_step_dlq(ctx, rec, "debezium: not a change event (no 'op' in the envelope or its payload)");
            continue;
        }
        const sl_value_t *row;
        bool deleted = false;
        switch (op->u.s[0]) {
        case 'c': case 'u': case 'r':
            row = member(env, "after");
            break;
        case 'd':
            if (c->deletes == DEL_SKIP) continue;
            if (c->deletes == DEL_DLQ) {
                sl_step_dlq(ctx, rec, "debezium: delete event (deletes: dlq)");
                continue;
            }
            row = member(env, "before");
            deleted = true;
            break;
        case 't':
            continue;
        default:
            sl_step_dlq(ctx, rec, "debezium: unknown op '%s'", op->u.s);
            continue;
        }
        if (!row || row->type != SL_T_OBJECT) {
            sl_step_dlq(ctx, rec, "debezium: op '%s' without an object in '%s'", op->u.s,
                        deleted ? "before" : "after");
            continue;
        }
        sl_value_t v = *row;
        if (c->deletes == DEL_KEEP) sl_value_set(arena, &v, c->flag, flag_len, sl_bool(deleted));
        rec->value = v;
        batch->recs[out++] = *rec;
    }
    batch->n = out;
    return 0;
}

const sl_step_plugin_t sl_step_debezium = {
    .abi = SL_PLUGIN_ABI,
    .name = "debezium",
    .description = "`debezium: {deletes: skip|dlq|keep}` unwraps Debezium change events (with or without schema) into payload.after; deletes are dropped, sent to the dead-letter topic, or kept as the before-row with `_deleted: true`.",
    .compile = dbz_compile,
    .apply = dbz_apply,
};
