/* expr.h - the expression language: compiled once when the config loads, evaluated
 * per record.
 *
 * Grammar, operators and functions are documented in docs/EXPRESSIONS.md (generated
 * from the function table in src/expr_func.c).  Evaluation allocates only from the
 * context's arena.  An evaluation error (a conversion that fails, a wrong type where
 * the function documents an error) returns SL_EVAL with a message: the job sends the
 * record to its dead-letter topic; it never stops the job. */
#ifndef SLUICE_EXPR_H
#define SLUICE_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/arena.h"
#include "sluice/config.h"
#include "sluice/error.h"
#include "sluice/record.h"
#include "sluice/value.h"

typedef struct sl_expr sl_expr_t;

/* What an expression sees while it runs. */
typedef struct sl_expr_ctx {
    const sl_record_t *rec;    /* `this` is rec->value; meta.* come from rec (may be NULL) */
    const sl_value_t *vars;    /* `vars.*` (an object, or NULL) */
    sl_arena_t *arena;         /* every value the evaluation builds goes here */
    int64_t now_ms;            /* now(): fixed per batch so a batch is deterministic */
    const sl_value_t *locals;  /* extra names (e.g. `window` for templates), object or NULL */
} sl_expr_ctx_t;

/* Compile src[0..len).  On error returns NULL and sets *err_offset (byte offset in src)
 * and errbuf (a message without position).  The result is heap-owned by the caller. */
sl_expr_t *sl_expr_compile(const char *src, size_t len, size_t *err_offset, char *errbuf,
                           size_t errlen);
/* Compile a config scalar; on error add "FILE:LINE:COL" (pointing inside the YAML
 * string) to diags and return NULL.  Non-scalar nodes are an error too. */
sl_expr_t *sl_expr_compile_node(const sl_cnode_t *node, sl_diags_t *diags);
void sl_expr_free(sl_expr_t *expr);
/* The source text (NUL-terminated). */
const char *sl_expr_text(const sl_expr_t *expr);
/* True when the expression is a plain path into the record (e.g. `a.b`), and then
 * its dotted text in *path (static inside expr).  Used by sinks to name columns. */
bool sl_expr_is_path(const sl_expr_t *expr, const char **path);

/* Evaluate.  Returns 0 with *out set, or SL_EVAL with err->msg. */
int sl_expr_eval(const sl_expr_t *expr, const sl_expr_ctx_t *ctx, sl_value_t *out,
                 sl_error_t *err);

/* ---- templates: text with {{expression}} placeholders ---- */

typedef struct sl_template sl_template_t;

/* Compile "The ISS is {{round(d)}} km away".  A string without {{ is a constant.
 * On error: NULL, diagnostic with the position of the bad placeholder. */
sl_template_t *sl_template_compile_node(const sl_cnode_t *node, sl_diags_t *diags);
sl_template_t *sl_template_compile(const char *src, size_t len, size_t *err_offset,
                                   char *errbuf, size_t errlen);
void sl_template_free(sl_template_t *tpl);
/* Render into the arena (strings inserted as is, other values as JSON, null as "").
 * Returns 0 or SL_EVAL. */
int sl_template_render(const sl_template_t *tpl, const sl_expr_ctx_t *ctx, const char **out,
                       size_t *out_len, sl_error_t *err);

/* ---- the function table (also generates docs/EXPRESSIONS.md) ---- */

/* Write the Markdown reference of every function to out. */
void sl_expr_doc(FILE *out);
/* NULL-terminated list of function names (for "did you mean"). */
const char *const *sl_expr_function_names(void);

#endif
