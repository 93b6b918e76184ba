/* expr_check.h - helpers shared by the expression unit tests: evaluate an expression
 * against a JSON record and compare with expected JSON (types compared strictly, so
 * 3 and 3.0 differ), an expected evaluation error ("!message") or compile error
 * ("@offset: message"). */
#ifndef SLUICE_EXPR_CHECK_H
#define SLUICE_EXPR_CHECK_H

#include <stdio.h>
#include <string.h>

#include "sluice/expr.h"
#include "sluice/json.h"

typedef struct ec_case {
    const char *expr;
    const char *rec;      /* JSON of the record value, or NULL for {} */
    const char *want;     /* JSON, "!eval error message", "@offset: compile error" */
} ec_case_t;

static bool ec_strict_equal(sl_value_t a, sl_value_t b) {
    if (a.type != b.type) return false;
    switch (a.type) {
    case SL_T_NULL: return true;
    case SL_T_BOOL: return a.u.b == b.u.b;
    case SL_T_INT: return a.u.i == b.u.i;
    case SL_T_DOUBLE: return a.u.d == b.u.d;
    case SL_T_STRING: return a.len == b.len && memcmp(a.u.s, b.u.s, a.len) == 0;
    case SL_T_ARRAY:
        if (a.len != b.len) return false;
        for (uint32_t i = 0; i < a.len; i++)
            if (!ec_strict_equal(a.u.a[i], b.u.a[i])) return false;
        return true;
    case SL_T_OBJECT:
        if (a.len != b.len) return false;
        for (uint32_t i = 0; i < a.len; i++)
            if (a.u.o[i].key_len != b.u.o[i].key_len ||
                memcmp(a.u.o[i].key, b.u.o[i].key, a.u.o[i].key_len) != 0 ||
                !ec_strict_equal(a.u.o[i].val, b.u.o[i].val))
                return false;
        return true;
    }
    return false;
}

/* A record with known metadata, vars and locals for every case. */
typedef struct ec_env {
    sl_arena_t arena;
    sl_record_t rec;
    sl_value_t vars, locals;
    sl_expr_ctx_t ctx;
} ec_env_t;

static void ec_env_init(ec_env_t *env, const char *rec_json) {
    memset(env, 0, sizeof *env);
    sl_arena_init(&env->arena, 4096);
    sl_json_error_t je;
    const char *rj = rec_json ? rec_json : "{}";
    if (sl_json_parse(&env->arena, rj, strlen(rj), &env->rec.value, &je) != 0) {
        fprintf(stderr, "bad test record JSON %s: %s\n", rj, je.reason);
        abort();
    }
    static const char vars[] = "{\"home\": {\"lat\": 18.5894739, \"lon\": 74.0105505}, \"n\": 3}";
    static const char locals[] = "{\"window\": {\"start\": \"2024-01-01\", \"end\": \"2024-01-31\"}}";
    sl_json_parse(&env->arena, vars, strlen(vars), &env->vars, &je);
    sl_json_parse(&env->arena, locals, strlen(locals), &env->locals, &je);
    env->rec.key = "k1xyz";
    env->rec.key_len = 2;
    env->rec.ts = 1700000000000LL;
    env->rec.ingest_ts = 1700000001000LL;
    env->rec.topic = "solar.flares";
    env->rec.partition = 2;
    env->rec.offset = 7;
    env->rec.source = "flares";
    env->rec.seq = 9;
    env->ctx.rec = &env->rec;
    env->ctx.vars = &env->vars;
    env->ctx.arena = &env->arena;
    env->ctx.now_ms = 1727793660000LL;
    env->ctx.locals = &env->locals;
}

/* Check one case; returns true when it matched (and prints why when not). */
static bool ec_check(const ec_case_t *c, const char *file, int line) {
    ec_env_t env;
    ec_env_init(&env, c->rec);
    bool ok = false;
    char got[1024] = "";
    size_t off = 0;
    char msg[256];
    sl_expr_t *e = sl_expr_compile(c->expr, strlen(c->expr), &off, msg, sizeof msg);
    if (!e) {
        snprintf(got, sizeof got, "@%zu: %s", off, msg);
        ok = strcmp(got, c->want) == 0;
    } else {
        sl_value_t v;
        sl_error_t err;
        if (sl_expr_eval(e, &env.ctx, &v, &err) != 0) {
            snprintf(got, sizeof got, "!%s", err.msg);
            ok = strcmp(got, c->want) == 0;
        } else {
            sl_buf_t b = SL_BUF_INIT;
            sl_json_write(&b, v);
            snprintf(got, sizeof got, "%s", b.data ? b.data : "");
            sl_buf_free(&b);
            sl_value_t want;
            sl_json_error_t je;
            if (c->want[0] != '!' && c->want[0] != '@' &&
                sl_json_parse(&env.arena, c->want, strlen(c->want), &want, &je) == 0)
                ok = ec_strict_equal(v, want);
        }
        sl_expr_free(e);
    }
    if (!ok)
        fprintf(stderr, "%s:%d: %s  =>  %s   (expected %s)\n", file, line, c->expr, got, c->want);
    sl_arena_free(&env.arena);
    return ok;
}

#define EC_RUN(cases)                                                             \
    do {                                                                          \
        for (size_t i_ = 0; i_ < sizeof(cases) / sizeof(cases)[0]; i_++)         \
            if (!ec_check(&(cases)[i_], __FILE__, __LINE__)) T_FAIL("case %zu: %s", i_, (cases)[i_].expr); \
    } while (0)

#endif
