/* test_expr.c - the expression language: paths, literals, operators and precedence,
 * null semantics, compile errors with exact offsets, templates, sl_expr_is_path. */
#include "t.h"

#include "expr_check.h"

#define REC "{\"a\": {\"b\": [1, 2, 3], \"odd key\": \"yes\"}, \"s\": \"text\", \"n\": 7, " \
            "\"d\": 2.5, \"t\": true, \"f\": false, \"z\": null, \"arr\": [\"x\", \"y\"], \"window\": 1}"

TEST(expr_paths) {
    static const ec_case_t cases[] = {
        {"a.b", REC, "[1,2,3]"},
        {"a.b[0]", REC, "1"},
        {"a.b[-1]", REC, "3"},
        {"a.b[-3]", REC, "1"},
        {"a.b[-4]", REC, "null"},
        {"a.b[3]", REC, "null"},
        {"a.b[1.0]", REC, "2"},
        {"a.b[0.5]", REC, "null"},
        {"a[\"odd key\"]", REC, "\"yes\""},
        {"a['odd key']", REC, "\"yes\""},
        {"this.a.b[1]", REC, "2"},
        {"this[\"s\"]", REC, "\"text\""},
        {"missing", REC, "null"},
        {"missing.deeper.still", REC, "null"},
        {"s.length", REC, "null"},             /* field of a non-object */
        {"a.b.c", REC, "null"},
        {"n[0]", REC, "null"},
        {"a[n]", REC, "null"},
        {"arr[n - 6]", REC, "\"y\""},
        {"this", "{\"x\": 1}", "{\"x\":1}"},
        {"this", "[1]", "[1]"},
        {"x", "[1]", "null"},                  /* a bare name on a non-object record */
        {"meta.ts", REC, "1700000000000"},
        {"meta.ingest_ts", REC, "1700000001000"},
        {"meta.key", REC, "\"k1\""},
        {"meta.topic", REC, "\"solar.flares\""},
        {"meta.partition", REC, "2"},
        {"meta.offset", REC, "7"},
        {"meta.source", REC, "\"flares\""},
        {"meta.seq", REC, "9"},
        {"meta.ts - meta.ingest_ts", REC, "-1000"},
        {"meta[\"topic\"]", REC, "\"solar.flares\""},
        {"vars.home.lat", REC, "18.5894739"},
        {"vars.n * 2", REC, "6"},
        {"vars.nope", REC, "null"},
        {"window.start", REC, "\"2024-01-01\""},   /* locals before record fields */
        {"this.window", REC, "1"},
        {"split('a,b', ',')[1]", REC, "\"b\""},
        {"{\"k\": [5, 6]}.k[1]", REC, "6"},
        {"[10, 20, 30][-1]", REC, "30"},
        {"a.if", "{\"a\": {\"if\": 4}}", "4"},      /* keywords are fine after '.' */
        {"this.and", "{\"and\": 5}", "5"},
    };
    EC_RUN(cases);
}

TEST(expr_literals) {
    static const ec_case_t cases[] = {
        {"42", NULL, "42"},
        {"-42", NULL, "-42"},
        {"1.5", NULL, "1.5"},
        {"1e3", NULL, "1000.0"},
        {"2E-3", NULL, "0.002"},
        {"9223372036854775807", NULL, "9223372036854775807"},
        {"9223372036854775808", NULL, "9223372036854775808.0"},
        {"'single'", NULL, "\"single\""},
        {"\"double\"", NULL, "\"double\""},
        {"'it\\'s'", NULL, "\"it's\""},
        {"\"a\\\"b\"", NULL, "\"a\\\"b\""},
        {"'tab\\tnl\\n\\\\'", NULL, "\"tab\\tnl\\n\\\\\""},
        {"'\\u00e9\\u20ac'", NULL, "\"é€\""},
        {"'\\ud83d\\ude00'", NULL, "\"😀\""},
        {"'Sørensen'", NULL, "\"Sørensen\""},
        {"''", NULL, "\"\""},
        {"true", NULL, "true"},
        {"false", NULL, "false"},
        {"null", NULL, "null"},
        {"[]", NULL, "[]"},
        {"[1, 'a', null, [true],]", NULL, "[1,\"a\",null,[true]]"},
        {"{}", NULL, "{}"},
        {"{\"k\": 1, k2: n + 1, 'k3': [s]}", REC, "{\"k\":1,\"k2\":8,\"k3\":[\"text\"]}"},
        {"{a: 1, a: 2}", NULL, "{\"a\":2}"},
        {"{if: 1}", NULL, "{\"if\":1}"},
    };
    EC_RUN(cases);
}

TEST(expr_arithmetic) {
    static const ec_case_t cases[] = {
        {"1 + 2", NULL, "3"},
        {"7 - 10", NULL, "-3"},
        {"6 * 7", NULL, "42"},
        {"7 / 2", NULL, "3.5"},
        {"6 / 3", NULL, "2"},
        {"-7 / 2", NULL, "-3.5"},
        {"7 % 3", NULL, "1"},
        {"-7 % 3", NULL, "-1"},
        {"7.5 % 2", NULL, "1.5"},
        {"1 / 0", NULL, "null"},
        {"1.0 / 0", NULL, "null"},
        {"5 % 0", NULL, "null"},
        {"0 / 5", NULL, "0"},
        {"1 + 2.5", NULL, "3.5"},
        {"0.1 + 0.2", NULL, "0.30000000000000004"},
        {"d * 2", REC, "5.0"},
        {"9223372036854775807 + 1", NULL, "9223372036854775808.0"},
        {"-9223372036854775807 - 2", NULL, "-9223372036854775809.0"},
        {"4611686018427387904 * 2", NULL, "9223372036854775808.0"},
        {"-(-9223372036854775807 - 1)", NULL, "9223372036854775808.0"},
        {"(-9223372036854775807 - 1) / -1", NULL, "9223372036854775808.0"},
        {"(-9223372036854775807 - 1) % -1", NULL, "0"},
        {"1e308 * 10", NULL, "null"},
        {"-n", REC, "-7"},
        {"- -n", REC, "7"},
        {"+n", REC, "7"},
        {"-d", REC, "-2.5"},
        {"-z", REC, "null"},
        {"n + z", REC, "null"},
        {"z * 2", REC, "null"},
        {"missing - 1", REC, "null"},
        {"'a' + 'b'", NULL, "\"ab\""},
        {"'n=' + n", REC, "\"n=7\""},
        {"d + '!'", REC, "\"2.5!\""},
        {"'x' + true", NULL, "\"xtrue\""},
        {"'x' + [1, 'y']", NULL, "\"x[1,\\\"y\\\"]\""},
        {"'x' + z", REC, "null"},
        {"[1] + [2, 3]", NULL, "[1,2,3]"},
        {"'a' - 1", NULL, "!operator '-' cannot take string and int"},
        {"t + 1", REC, "!operator '+' cannot take bool and int"},
        {"{} * 2", NULL, "!operator '*' cannot take object and int"},
        {"-s", REC, "!unary '-' cannot take string"},
    };
    EC_RUN(cases);
}

TEST(expr_comparison) {
    static const ec_case_t cases[] = {
        {"1 == 1.0", NULL, "true"},
        {"1 != 1.0", NULL, "false"},
        {"2 < 2.5", NULL, "true"},
        {"9007199254740993 > 9007199254740992.0", NULL, "true"},   /* exact int/double order */
        {"9007199254740993 == 9007199254740992.0", NULL, "false"},
        {"'abc' < 'abd'", NULL, "true"},
        {"'ab' < 'abc'", NULL, "true"},
        {"'B' < 'a'", NULL, "true"},                      /* bytewise */
        {"'é' > 'z'", NULL, "true"},
        {"false < true", NULL, "true"},
        {"n >= 7 and n <= 7", REC, "true"},
        {"n > 7", REC, "false"},
        {"z == null", REC, "true"},
        {"missing == null", REC, "true"},
        {"z != null", REC, "false"},
        {"z < 1", REC, "null"},
        {"1 >= missing", REC, "null"},
        {"'1' == 1", NULL, "false"},
        {"[1, {\"a\": 2}] == [1.0, {\"a\": 2}]", NULL, "true"},
        {"{\"a\": 1, \"b\": 2} == {\"b\": 2, \"a\": 1}", NULL, "true"},
        {"{\"a\": 1} == {\"a\": 1, \"b\": 2}", NULL, "false"},
        {"'1' < 2", NULL, "!operator '<' cannot take string and int"},
        {"[1] < [2]", NULL, "!operator '<' cannot take array and array"},
        {"2 in [1, 2.0]", NULL, "true"},
        {"3 in [1, 2]", NULL, "false"},
        {"'ex' in s", REC, "true"},
        {"'' in s", REC, "true"},
        {"'b' in a", REC, "true"},
        {"'odd key' in a", REC, "true"},
        {"'q' in a", REC, "false"},
        {"'q' not in a", REC, "true"},
        {"2 not in a.b", REC, "false"},
        {"1 in z", REC, "null"},
        {"z in s", REC, "null"},
        {"1 in s", REC, "!operator 'in' cannot take int and string"},
        {"1 in 5", NULL, "!operator 'in' cannot take int and int"},
    };
    EC_RUN(cases);
}

TEST(expr_logic) {
    static const ec_case_t cases[] = {
        {"true and true", NULL, "true"},
        {"true and false", NULL, "false"},
        {"false or true", NULL, "true"},
        {"not true", NULL, "false"},
        {"not not true", NULL, "true"},
        {"not z", REC, "null"},
        /* three-valued */
        {"z and false", REC, "false"},
        {"false and z", REC, "false"},
        {"z and true", REC, "null"},
        {"true and z", REC, "null"},
        {"z or true", REC, "true"},
        {"true or z", REC, "true"},
        {"z or false", REC, "null"},
        {"z or z", REC, "null"},
        /* short-circuit: the right side is not evaluated */
        {"false and upper(5) == 'x'", NULL, "false"},
        {"true or upper(5) == 'x'", NULL, "true"},
        {"n and true", REC, "!'and' needs a bool, got int"},
        {"true and s", REC, "!'and' needs a bool, got string"},
        {"f or 1", REC, "!'or' needs a bool, got int"},
        {"not 's'", NULL, "!'not' needs a bool, got string"},
        /* ?? */
        {"z ?? 5", REC, "5"},
        {"missing ?? z ?? 'x'", REC, "\"x\""},
        {"n ?? upper(5)", REC, "7"},
        {"f ?? true", REC, "false"},
        {"0 ?? 1", NULL, "0"},
        /* if */
        {"if n > 5 then 'big' else 'small'", REC, "\"big\""},
        {"if n > 50 then 'big' else 'small'", REC, "\"small\""},
        {"if z then 1 else 2", REC, "2"},
        {"if true then 1 else upper(5)", NULL, "1"},
        {"if n then 1 else 2", REC, "!'if' needs a bool, got int"},
        {"if f then 1 else if t then 2 else 3", REC, "2"},
        {"1 + if t then 1 else 2", REC, "2"},
        {"if t then 1 else 2 + 10", REC, "1"},
        {"if f then 1 else 2 + 10", REC, "12"},
    };
    EC_RUN(cases);
}

TEST(expr_precedence) {
    static const ec_case_t cases[] = {
        {"1 + 2 * 3", NULL, "7"},
        {"(1 + 2) * 3", NULL, "9"},
        {"10 - 4 - 3", NULL, "3"},            /* left associative */
        {"100 / 10 / 5", NULL, "2"},
        {"2 * 3 % 4", NULL, "2"},
        {"-2 * 3", NULL, "-6"},
        {"-a.b[1]", REC, "-2"},               /* postfix binds tighter than unary */
        {"1 + 2 == 3", NULL, "true"},
        {"1 < 2 == true", NULL, "true"},
        {"not 1 == 2", NULL, "true"},          /* not < comparison */
        {"not t and f", REC, "false"},         /* (not t) and f */
        {"t or f and f", REC, "true"},         /* and binds tighter than or */
        {"(t or f) and f", REC, "false"},
        {"z ?? 1 + 2", REC, "3"},              /* ?? is loosest */
        {"z ?? f or t", REC, "true"},          /* z ?? (f or t) */
        {"n ?? 0 == 7", REC, "7"},             /* n ?? (0 == 7) */
        {"(n ?? 0) == 7", REC, "true"},
        {"1 + 1 in [2]", NULL, "true"},
        {"not 3 in [1]", NULL, "true"},
        {"'a' + 1 + 2", NULL, "\"a12\""},
        {"1 + 2 + 'a'", NULL, "\"3a\""},
    };
    EC_RUN(cases);
}

TEST(expr_compile_errors) {
    static const ec_case_t cases[] = {
        {"", NULL, "@0: empty expression"},
        {"   ", NULL, "@3: empty expression"},
        {"(1", NULL, "@2: expected ')', got end of expression"},
        {"(1 + 2", NULL, "@6: expected ')', got end of expression"},
        {"1 +", NULL, "@3: expected an expression, got end of expression"},
        {"1 2", NULL, "@2: unexpected a number after the expression"},
        {"a b", NULL, "@2: unexpected 'b' after the expression"},
        {"uper(s)", NULL, "@0: unknown function 'uper' (did you mean 'upper'?)"},
        {"1 + frobnicate(s)", NULL, "@4: unknown function 'frobnicate'"},
        {"substr(s)", NULL, "@0: function 'substr' takes 2 or 3 arguments, got 1"},
        {"upper()", NULL, "@0: function 'upper' takes 1 argument, got 0"},
        {"now(1)", NULL, "@0: function 'now' takes 0 arguments, got 1"},
        {"distance_km(1, 2)", NULL, "@0: function 'distance_km' takes 4 arguments, got 2"},
        {"max()", NULL, "@0: function 'max' takes at least 1 argument, got 0"},
        {"upper(s", NULL, "@7: expected ')', got end of expression"},
        {"upper(s,)", NULL, "@8: expected an expression, got ')'"},
        {"'abc", NULL, "@0: unterminated string"},
        {"x + \"abc", NULL, "@4: unterminated string"},
        {"'a\\qb'", NULL, "@2: unknown escape '\\q'"},
        {"'\\u12'", NULL, "@1: bad \\u escape (expected 4 hex digits)"},
        {"'\\ud800'", NULL, "@1: lone surrogate in \\u escape"},
        {"a = 1", NULL, "@2: unexpected '=' (use '==' to compare)"},
        {"!a", NULL, "@0: unexpected '!' (use 'not')"},
        {"a && b", NULL, "@2: unexpected '&' (use 'and')"},
        {"a || b", NULL, "@2: unexpected '|' (use 'or')"},
        {"a ? b", NULL, "@2: unexpected '?' (did you mean '?" "?')"},
        {"a # b", NULL, "@2: unexpected character '#'"},
        {"12abc", NULL, "@2: unexpected 'a' after number"},
        {"meta.foo", NULL, "@5: unknown meta field 'foo' (expected key, ts, ingest_ts, topic, partition, offset, source or seq)"},
        {"meta.", NULL, "@5: expected a name after 'meta.', got end of expression"},
        {"a.", NULL, "@2: expected a field name after '.', got end of expression"},
        {"a.1", NULL, "@2: expected a field name after '.', got a number"},
        {"a[1", NULL, "@3: expected ']', got end of expression"},
        {"[1, 2", NULL, "@5: expected ']', got end of expression"},
        {"{a 1}", NULL, "@3: expected ':', got a number"},
        {"{1: 2}", NULL, "@1: expected an object key, got a number"},
        {"if a then b", NULL, "@11: expected 'else', got end of expression"},
        {"if a b", NULL, "@5: expected 'then', got 'b'"},
        {"then", NULL, "@0: unexpected keyword 'then'"},
        {"a not b", NULL, "@6: expected 'in' after 'not', got 'b'"},
        {"1 and", NULL, "@5: expected an expression, got end of expression"},
        {"regex_match(s, '(')", NULL,
         "@15: regex_match: invalid regular expression: Unmatched ( or \\("},
        {"'a' \x01", NULL, "@4: unexpected byte 0x01"},
    };
    EC_RUN(cases);
}

TEST(expr_depth_limit) {
    char buf[4096];
    size_t off;
    char msg[128];
    /* deep parentheses */
    size_t n = 0;
    for (int i = 0; i < 1000; i++) buf[n++] = '(';
    buf[n++] = '1';
    for (int i = 0; i < 1000; i++) buf[n++] = ')';
    sl_expr_t *e = sl_expr_compile(buf, n, &off, msg, sizeof msg);
    CHECK(e == NULL);
    CHECK_STR(msg, "expression nested too deeply");
    /* a long flat chain is deep in the tree too */
    n = 0;
    for (int i = 0; i < 1000; i++) { buf[n++] = 'x'; buf[n++] = '+'; }
    buf[n++] = 'x';
    e = sl_expr_compile(buf, n, &off, msg, sizeof msg);
    CHECK(e == NULL);
    CHECK_STR(msg, "expression nested too deeply");
    /* but a moderately long one is fine */
    n = 0;
    for (int i = 0; i < 100; i++) { buf[n++] = 'n'; buf[n++] = '+'; }
    buf[n++] = '1';
    e = sl_expr_compile(buf, n, &off, msg, sizeof msg);
    CHECK(e != NULL);
    ec_env_t env;
    ec_env_init(&env, REC);
    sl_value_t v;
    sl_error_t err;
    CHECK_INT(sl_expr_eval(e, &env.ctx, &v, &err), 0);
    CHECK_INT(v.u.i, 701);
    sl_expr_free(e);
    sl_arena_free(&env.arena);
}

TEST(expr_no_record) {
    /* ctx->rec NULL (e.g. a source's query template): names and meta are null */
    size_t off;
    char msg[128];
    sl_expr_t *e = sl_expr_compile("[x, this, meta.ts, meta, vars]", 30, &off, msg, sizeof msg);
    CHECK(e != NULL);
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sl_expr_ctx_t ctx = {NULL, NULL, &arena, 0, NULL};
    sl_value_t v;
    sl_error_t err;
    CHECK_INT(sl_expr_eval(e, &ctx, &v, &err), 0);
    CHECK_INT(v.type, SL_T_ARRAY);
    CHECK_INT(v.len, 5);
    for (uint32_t i = 0; i < v.len; i++) CHECK_INT(v.u.a[i].type, SL_T_NULL);
    sl_expr_free(e);
    sl_arena_free(&arena);
}

TEST(expr_meta_object) {
    static const ec_case_t cases[] = {
        {"meta", REC, "{\"key\":\"k1\",\"ts\":1700000000000,\"ingest_ts\":1700000001000,"
                      "\"topic\":\"solar.flares\",\"partition\":2,\"offset\":7,\"source\":\"flares\",\"seq\":9}"},
    };
    EC_RUN(cases);
}

TEST(expr_is_path) {
    static const struct { const char *src; const char *path; } cases[] = {
        {"a", "a"},
        {"a.b.c", "a.b.c"},
        {"this.a.b", "a.b"},
        {"a[\"b\"].c", "a.b.c"},
        {"this", NULL},
        {"a[0]", NULL},
        {"a[\"x.y\"]", NULL},
        {"meta.ts", NULL},
        {"vars.x", NULL},
        {"a + 1", NULL},
        {"upper(a)", NULL},
        {"'a'", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t off;
        char msg[128];
        sl_expr_t *e = sl_expr_compile(cases[i].src, strlen(cases[i].src), &off, msg, sizeof msg);
        CHECK(e != NULL);
        if (!e) continue;
        const char *p = NULL;
        bool is = sl_expr_is_path(e, &p);
        if (cases[i].path) {
            CHECK(is);
            CHECK_STR(p, cases[i].path);
        } else if (is) {
            T_FAIL("%s is not a path, got %s", cases[i].src, p);
        }
        CHECK_STR(sl_expr_text(e), cases[i].src);
        sl_expr_free(e);
    }
}

TEST(expr_constant_folding_keeps_errors_for_runtime) {
    /* number("abc") is constant but fails: it must fail at evaluation, not compile */
    static const ec_case_t cases[] = {
        {"number('abc')", NULL, "!number: not a number: \"abc\""},
        {"upper(1 + 2)", NULL, "!upper: argument 1 must be a string, got int"},
        {"1 + 2 * 3 == 7 and 'a' < 'b'", NULL, "true"},
        {"now() == 1727793660000", NULL, "true"},   /* not folded: comes from ctx */
    };
    EC_RUN(cases);
}

TEST(expr_eval_uses_only_arena) {
    /* A value built by an evaluation lives in ctx->arena: evaluate many times, free
     * the arena, nothing leaks (checked under ASan/LSan). */
    size_t off;
    char msg[128];
    const char *src = "{\"x\": upper(s) + string(n), \"arr\": [n * 2, d], \"s\": split('a,b', ',')}";
    sl_expr_t *e = sl_expr_compile(src, strlen(src), &off, msg, sizeof msg);
    CHECK(e != NULL);
    ec_env_t env;
    ec_env_init(&env, REC);
    for (int i = 0; i < 1000; i++) {
        sl_value_t v;
        sl_error_t err;
        CHECK_INT(sl_expr_eval(e, &env.ctx, &v, &err), 0);
    }
    sl_expr_free(e);
    sl_arena_free(&env.arena);
}

/* ---- templates ---- */

static void tpl_case(const char *src, const char *rec, const char *want, int line) {
    ec_env_t env;
    ec_env_init(&env, rec);
    size_t off = 0;
    char msg[256];
    char got[1024];
    sl_template_t *t = sl_template_compile(src, strlen(src), &off, msg, sizeof msg);
    if (!t) {
        snprintf(got, sizeof got, "@%zu: %s", off, msg);
    } else {
        const char *out;
        size_t len;
        sl_error_t err;
        if (sl_template_render(t, &env.ctx, &out, &len, &err) != 0) snprintf(got, sizeof got, "!%s", err.msg);
        else {
            snprintf(got, sizeof got, "%.*s", (int)len, out);
            if (strlen(got) != len) snprintf(got, sizeof got, "(length mismatch)");
        }
        sl_template_free(t);
    }
    if (strcmp(got, want) != 0) T_FAIL("line %d: template %s => %s (expected %s)", line, src, got, want);
    sl_arena_free(&env.arena);
}

TEST(template_render) {
    tpl_case("plain text", REC, "plain text", __LINE__);
    tpl_case("", REC, "", __LINE__);
    tpl_case("{{s}}", REC, "text", __LINE__);
    tpl_case("n={{n}} d={{d}} t={{t}} z=[{{z}}]", REC, "n=7 d=2.5 t=true z=[]", __LINE__);
    tpl_case("{{ a.b }}|{{arr}}|{{a}}", "{\"a\": {\"b\": [1, \"x\"]}, \"arr\": []}",
             "[1,\"x\"]|[]|{\"b\":[1,\"x\"]}", __LINE__);
    tpl_case("The ISS is {{round(distance_km(vars.home.lat, vars.home.lon, 18.5894739, 75.0105505))}} km away",
             REC, "The ISS is 105 km away", __LINE__);
    tpl_case("{{window.start}}..{{window.end}}", REC, "2024-01-01..2024-01-31", __LINE__);
    tpl_case("{{ {\"a\": {\"b\": 1}} }}", REC, "{\"a\":{\"b\":1}}", __LINE__);
    tpl_case("{{ '}}' }}", REC, "}}", __LINE__);
    tpl_case("a}}b", REC, "a}}b", __LINE__);
    tpl_case("x{{1}}{{2}}y", REC, "x12y", __LINE__);
    tpl_case("{{1.0 * 3}}", REC, "3", __LINE__);   /* doubles as JSON, shortest text */
    tpl_case("{{'Sørensen'}}", REC, "Sørensen", __LINE__);
}

TEST(template_errors) {
    tpl_case("abc {{ s", REC, "@4: '{{' without a closing '}}'", __LINE__);
    tpl_case("{{s}} and {{", REC, "@10: '{{' without a closing '}}'", __LINE__);
    tpl_case("x {{ uper(s) }}", REC, "@5: unknown function 'uper' (did you mean 'upper'?)", __LINE__);
    tpl_case("x {{ s t }} }}", REC, "@7: expected '}}', got 't'", __LINE__);
    tpl_case("x {{ }}", REC, "@5: expected an expression, got '}'", __LINE__);
    tpl_case("{{upper(n)}}", REC, "!upper: argument 1 must be a string, got int", __LINE__);
}

/* ---- config nodes: positions come from the YAML ---- */

TEST(expr_compile_node_positions) {
    const char *yaml = "steps:\n  - where: \"n > 1 and uper(s) == 'X'\"\n  - where: [1, 2]\n"
                       "  - body: 'Hi {{ name'\n";
    sl_conf_t conf;
    sl_diags_t diags = {0};
    CHECK_INT(sl_conf_load_string(&conf, "p.yaml", yaml, strlen(yaml), &diags), 0);
    sl_cnode_t *steps = sl_cnode_get(conf.root, "steps");
    CHECK(steps && steps->n == 3);
    if (!steps || steps->n != 3) { sl_conf_free(&conf); sl_diags_free(&diags); return; }
    sl_expr_t *e = sl_expr_compile_node(sl_cnode_get(steps->items[0], "where"), &diags);
    CHECK(e == NULL);
    CHECK_INT(diags.n, 1);
    if (diags.n >= 1) {
        CHECK_STR(diags.items[0].file, "p.yaml");
        CHECK_INT(diags.items[0].line, 2);
        CHECK_INT(diags.items[0].col, 23);   /* the u of uper: the text starts at col 13 */
        CHECK_STR(diags.items[0].msg, "unknown function 'uper' (did you mean 'upper'?)");
    }
    e = sl_expr_compile_node(sl_cnode_get(steps->items[1], "where"), &diags);
    CHECK(e == NULL);
    CHECK_INT(diags.n, 2);
    if (diags.n >= 2) {
        CHECK_INT(diags.items[1].line, 3);
        CHECK_STR(diags.items[1].msg, "expected an expression (a string), got a sequence");
    }
    sl_template_t *t = sl_template_compile_node(sl_cnode_get(steps->items[2], "body"), &diags);
    CHECK(t == NULL);
    CHECK_INT(diags.n, 3);
    if (diags.n >= 3) {
        CHECK_INT(diags.items[2].line, 4);
        CHECK_INT(diags.items[2].col, 15);   /* the first { */
        CHECK_STR(diags.items[2].msg, "'{{' without a closing '}}'");
    }
    sl_conf_free(&conf);
    sl_diags_free(&diags);
}
