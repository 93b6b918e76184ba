/* expr_int.h - private structures of the expression language: the AST that
 * src/expr.c builds and evaluates, and the function table of src/expr_func.c.
 *
 * Invariants:
 *  1. An sl_expr_t owns one arena (`pool`); every node, literal string and constant
 *     folded value lives in it and is freed with the expression.  Other resources
 *     (compiled regexes) are listed in `cleanup` and released by sl_expr_free.
 *  2. After compilation the tree is immutable: evaluation never writes to it, so one
 *     compiled expression may be evaluated by several threads at once.
 *  3. Evaluation allocates only from ctx->arena (a few functions that need libc
 *     state, e.g. a regex whose pattern is not a literal, allocate and free it
 *     within the call).
 *  4. Node depth is bounded (EX_MAX_DEPTH), so evaluation recursion is bounded. */
#ifndef SLUICE_EXPR_INT_H
#define SLUICE_EXPR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sluice/expr.h"

#define EX_MAX_DEPTH 256
#define EX_MAX_ARGS 32

typedef enum ex_kind {
    EX_LIT,        /* constant value */
    EX_THIS,       /* the record's value */
    EX_NAME,       /* bare name: ctx->locals[name] when present, else this[name] */
    EX_META,       /* meta.<op> (op = ex_meta_t); EX_META_ALL for `meta` alone */
    EX_VARS,       /* ctx->vars */
    EX_FIELD,      /* kids[0].name */
    EX_INDEX,      /* kids[0][kids[1]] */
    EX_NEG,        /* -kids[0] */
    EX_NOT,        /* not kids[0] */
    EX_BIN,        /* kids[0] <op> kids[1], op = ex_op_t */
    EX_AND,
    EX_OR,
    EX_COALESCE,   /* kids[0] ?? kids[1] */
    EX_IF,         /* if kids[0] then kids[1] else kids[2] */
    EX_ARRAY,      /* [kids...] */
    EX_OBJECT,     /* {keys[i]: kids[i]} */
    EX_CALL,       /* fn(kids...) */
} ex_kind_t;

typedef enum ex_op {
    EX_ADD, EX_SUB, EX_MUL, EX_DIV, EX_MOD,
    EX_EQ, EX_NE, EX_LT, EX_LE, EX_GT, EX_GE,
    EX_IN, EX_NOT_IN,
} ex_op_t;

typedef enum ex_meta {
    EX_META_KEY, EX_META_TS, EX_META_INGEST_TS, EX_META_TOPIC, EX_META_PARTITION,
    EX_META_OFFSET, EX_META_SOURCE, EX_META_SEQ, EX_META_ALL,
} ex_meta_t;

typedef struct ex_func ex_func_t;
typedef struct ex_node ex_node_t;

struct ex_node {
    uint8_t kind;          /* ex_kind_t */
    uint8_t op;            /* ex_op_t / ex_meta_t */
    uint16_t depth;        /* 1 + depth of the deepest kid */
    uint32_t pos;          /* byte offset in the source (for messages) */
    uint32_t nkids;
    ex_node_t **kids;
    sl_value_t lit;        /* EX_LIT */
    const char *name;      /* EX_NAME, EX_FIELD (NUL-terminated, in the pool) */
    uint32_t name_len;
    sl_value_t *keys;      /* EX_OBJECT: key strings */
    const ex_func_t *fn;   /* EX_CALL */
    void *cache;           /* EX_CALL: what fn->prepare built (e.g. a regex_t) */
};

typedef struct ex_cleanup {
    struct ex_cleanup *next;
    void (*fn)(void *);
    void *p;
} ex_cleanup_t;

struct sl_expr {
    sl_arena_t pool;
    ex_node_t *root;
    char *text;             /* the source, NUL-terminated */
    size_t text_len;
    const char *path;       /* dotted path when the expression is a plain path */
    ex_cleanup_t *cleanup;
};

/* A function implementation: argv[0..argc) are evaluated arguments (the function may
 * overwrite them).  Returns 0 with *out set, or SL_EVAL via sl_error_set. */
typedef int (*ex_impl_t)(const ex_node_t *call, const sl_expr_ctx_t *ctx, sl_value_t *argv,
                         int argc, sl_value_t *out, sl_error_t *err);
/* Optional compile-time hook (e.g. compile a literal regex): returns 0, or -1 with
 * errbuf set and *err_pos set to the offending byte offset. */
typedef int (*ex_prepare_t)(sl_expr_t *expr, ex_node_t *call, char *errbuf, size_t errlen,
                            size_t *err_pos);

enum { EX_F_PURE = 1 };   /* same arguments -> same result (may be constant-folded) */

struct ex_func {
    const char *name;
    const char *category;
    int min_args, max_args;    /* max_args -1: variadic */
    unsigned flags;
    ex_impl_t impl;
    ex_prepare_t prepare;
    const char *signature;     /* "substr(s, start, len?)" */
    const char *desc;
    const char *nulls;         /* null behaviour */
    const char *example;       /* an expression */
    const char *result;        /* its value as JSON (checked by the unit tests) */
};

/* The table (NULL-name terminated) and lookup by name. */
extern const ex_func_t ex_funcs[];
const ex_func_t *ex_func_find(const char *name, size_t len);

/* Register p to be released with fn when the expression is freed. */
void ex_add_cleanup(sl_expr_t *expr, void (*fn)(void *), void *p);

/* ---- helpers shared by expr.c and expr_func.c ---- */

/* Text of a value as `string()` gives it: strings as is, numbers/bools/arrays/objects
 * as JSON.  The result lives in the arena (or is v's own bytes). */
sl_value_t ex_to_text(sl_arena_t *arena, sl_value_t v);
/* Format a double as the shortest text that reads back to it; returns length. */
int ex_fmt_double(char *buf, size_t cap, double d);
/* A finite double as a value, or null for NaN/inf. */
static inline sl_value_t ex_num(double d) {
    return (d == d && d - d == 0) ? sl_double(d) : sl_null();
}
/* Deep equality (numbers by value: 1 == 1.0; objects ignore member order). */
bool ex_equal(sl_value_t a, sl_value_t b);
/* Order of two numbers or two strings (<0, 0, >0); returns false for other pairs. */
bool ex_order(sl_value_t a, sl_value_t b, int *cmp);
/* The expression's UTC calendar helpers (proleptic Gregorian, any int64 ms). */
int64_t ex_days_from_civil(int64_t y, unsigned m, unsigned d);
void ex_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
