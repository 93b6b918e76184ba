/* generate.c - source `generate`: records made from a template of expressions, for
 * demos, tests and benchmarks.  The cursor is the next sequence number, committed with
 * each chunk, so a restart continues exactly where the last commit ended. */
#include <stdlib.h>
#include <string.h>

#include "sluice/plugin.h"

typedef struct gen_conf {
    int64_t count;      /* 0 = forever */
    double rate;        /* records/s; 0 = as fast as the journal takes them */
    int64_t chunk;      /* records per commit */
    const sl_cnode_t *template;
} gen_conf_t;

static const sl_config_map_t gen_map[] = {
    {"count", SL_CFG_INT, "0", 0, offsetof(gen_conf_t, count), NULL,
     "how many records to make (0 = no end)"},
    {"rate", SL_CFG_DOUBLE, "0", 0, offsetof(gen_conf_t, rate), NULL,
     "records per second (0 = as fast as possible)"},
    {"chunk", SL_CFG_INT, "1000", 0, offsetof(gen_conf_t, chunk), NULL,
     "records per journal commit"},
    {"template", SL_CFG_NODE, NULL, 0, offsetof(gen_conf_t, template), NULL,
     "the record: a mapping of field -> expression (nested mappings make objects), or one expression; `meta.seq` is the record's number"},
    SL_CONFIG_END};

/* A compiled template: an expression, or an object of templates. */
typedef struct tpl {
    sl_expr_t *expr;
    const char **keys;
    struct tpl *kids;
    size_t n;
} tpl_t;

typedef struct gen_state {
    tpl_t root;
    uint64_t next;      /* next seq */
    int64_t t0;         /* monotonic start for the rate */
    uint64_t seq0;
} gen_state_t;

static int tpl_compile(tpl_t *t, const sl_cnode_t *n, sl_init_ctx_t *ctx) {
    memset(t, 0, sizeof *t);
    if (n->kind == SL_CNODE_MAP) {
        t->n = n->n;
        t->keys = sl_arena_calloc(ctx->arena, (n->n + 1) * sizeof *t->keys);
        t->kids = calloc(n->n ? n->n : 1, sizeof *t->kids);
        int bad = 0;
        for (size_t i = 0; i < n->n; i++) {
            t->keys[i] = n->pairs[i].key->str;
            bad |= tpl_compile(&t->kids[i], n->pairs[i].val, ctx);
        }
        return bad;
    }
    t->expr = sl_expr_compile_node(n, ctx->diags);
    return t->expr ? 0 : -1;
}

static void tpl_free(tpl_t *t) {
    sl_expr_free(t->expr);
    for (size_t i = 0; i < t->n; i++) tpl_free(&t->kids[i]);
    free(t->kids);
}

static int tpl_eval(const tpl_t *t, const sl_expr_ctx_t *ec, sl_value_t *out, sl_error_t *err) {
    if (t->expr) return sl_expr_eval(t->expr, ec, out, err);
    sl_value_t obj = sl_object_new(ec->arena, t->n);
    for (size_t i = 0; i < t->n; i++) {
        sl_value_t v;
        int rc = tpl_eval(&t->kids[i], ec, &v, err);
        if (rc) return rc;
        obj.u.o[i].key = t->keys[i];
        obj.u.o[i].key_len = (uint32_t)strlen(t->keys[i]);
        obj.u.o[i].val = v;
    }
    obj.len = (uint32_t)t->n;
    *out = obj;
    return 0;
}

static int gen_init(sl_source_t *src, sl_init_ctx_t *ctx) {
    gen_conf_t *c = src->conf;
    gen_state_t *st = calloc(1, sizeof *st);
    src->state = st;
    if (c->count < 0) sl_diags_add(ctx->diags, ctx->node->file, ctx->node->line, ctx->node->col,
                                   "%s: 'count' must be >= 0", ctx->what);
    if (c->chunk < 1) c->chunk = 1;
    if (!c->template) {
        sl_diags_add(ctx->diags, ctx->node->file, ctx->node->line, ctx->node->col,
                     "%s: missing required key 'template'", ctx->what);
        return -1;
    }
    return tpl_compile(&st->root, c->template, ctx);
}

static int gen_open(sl_source_t *src, sl_error_t *err) {
    gen_state_t *st = src->state;
    st->next = 0;
    if (src->cursor && src->cursor_len == sizeof st->next) memcpy(&st->next, src->cursor, sizeof st->next);
    st->t0 = sl_mono_ms();
    st->seq0 = st->next;
    return 0;
}

static int gen_poll(sl_source_t *src, sl_emit_t *emit, int64_t *next_ms, sl_error_t *err) {
    gen_conf_t *c = src->conf;
    gen_state_t *st = src->state;
    if (c->count && st->next >= (uint64_t)c->count) return SL_EOF;
    uint64_t n = (uint64_t)c->chunk;
    if (c->count && st->next + n > (uint64_t)c->count) n = (uint64_t)c->count - st->next;
    int64_t now = sl_mono_ms();
    if (c->rate > 0) {
        /* how many are due by now at this rate */
        double due = (double)(now - st->t0) * c->rate / 1000.0 - (double)(st->next - st->seq0);
        if (due < 1) {
            *next_ms = now + (int64_t)(1000.0 / c->rate) + 1;
            return 0;
        }
        if ((double)n > due) n = (uint64_t)due;
    }
    sl_arena_t *arena = sl_emit_arena(emit);
    for (uint64_t i = 0; i < n; i++) {
        sl_record_t *rec = sl_emit_record(emit);
        rec->seq = st->next + i;
        rec->source = src->name;
        sl_expr_ctx_t ec = {.rec = rec, .vars = src->vars, .arena = arena, .now_ms = sl_now_ms()};
        int rc = tpl_eval(&st->root, &ec, &rec->value, err);
        if (rc) return rc;
    }
    uint64_t cursor = st->next + n;
    int rc = sl_emit_commit(emit, &cursor, sizeof cursor, err);
    if (rc) return rc == SL_RETRY ? SL_RETRY : rc;
    st->next = cursor;
    if (c->count && st->next >= (uint64_t)c->count) return SL_EOF;
    if (src->once && !c->count) return SL_EOF;
    *next_ms = c->rate > 0 ? now + 10 : 0;
    if (src->every_ms) *next_ms = now + src->every_ms;
    return 0;
}

static void gen_close(sl_source_t *src) { (void)src; }

static void gen_free(sl_source_t *src) {
    gen_state_t *st = src->state;
    if (!st) return;
    tpl_free(&st->root);
    free(st);
}

const sl_source_plugin_t sl_source_generate = {
    .abi = SL_PLUGIN_ABI,
    .name = "generate",
    .description = "Makes records from a template (demos, tests, benchmarks); the cursor is the record number.",
    .config = gen_map,
    .config_size = sizeof(gen_conf_t),
    .init = gen_init,
    .open = gen_open,
    .poll = gen_poll,
    .close = gen_close,
    .free = gen_free,
};
