/* step_util.h - pieces the built-in steps share: a list of (path, expression) pairs
 * compiled from a YAML mapping, and compacting a batch after records are dropped. */
#ifndef SLUICE_STEP_UTIL_H
#define SLUICE_STEP_UTIL_H

#include "sluice/plugin.h"

typedef struct sl_assign {
    const char *path;          /* dotted path */
    uint32_t path_len;
    bool dotted;               /* path has a '.' (else a top-level field) */
    sl_expr_t *expr;
    const sl_cnode_t *node;
} sl_assign_t;

typedef struct sl_assigns {
    sl_assign_t *v;
    size_t n;
} sl_assigns_t;

/* Compile `{path: expr, ...}`; reports to ctx->diags; returns 0 or -1. */
int sl_assigns_compile(sl_assigns_t *out, const sl_cnode_t *node, sl_init_ctx_t *ctx);
void sl_assigns_free(sl_assigns_t *a);

/* Report a problem at a node. */
void sl_step_diag(sl_init_ctx_t *ctx, const sl_cnode_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
