/* step_util.c - shared pieces of the built-in steps (see step_util.h). */
#include "step_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_step_diag(sl_init_ctx_t *ctx, const sl_cnode_t *node, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!node) node = ctx->node;
    sl_diags_add(ctx->diags, node ? node->file : NULL, node ? node->line : 0, node ? node->col : 0,
                 "%s", msg);
}

int sl_assigns_compile(sl_assigns_t *out, const sl_cnode_t *node, sl_init_ctx_t *ctx) {
    memset(out, 0, sizeof *out);
    if (!node || node->kind != SL_CNODE_MAP || node->n == 0) {
        sl_step_diag(ctx, node, "%s must be a mapping of field: expression", ctx->what);
        return -1;
    }
    out->v = calloc(node->n, sizeof *out->v);
    int bad = 0;
    for (size_t i = 0; i < node->n; i++) {
        const sl_cnode_t *k = node->pairs[i].key, *v = node->pairs[i].val;
        if (k->len == 0 || k->str[0] == '.' || k->str[k->len - 1] == '.' || strstr(k->str, "..")) {
            sl_step_diag(ctx, k, "invalid field path '%s' in %s", k->str, ctx->what);
            bad = -1;
            continue;
        }
        sl_assign_t *a = &out->v[out->n];
        a->path = k->str;
        a->path_len = (uint32_t)k->len;
        a->dotted = strchr(k->str, '.') != NULL;
        a->node = v;
        a->expr = sl_expr_compile_node(v, ctx->diags);
        if (!a->expr) bad = -1;
        else out->n++;
    }
    return bad;
}

void sl_assigns_free(sl_assigns_t *a) {
    for (size_t i = 0; i < a->n; i++) sl_expr_free(a->v[i].expr);
    free(a->v);
    a->v = NULL;
    a->n = 0;
}
