/* test_serve.c - unit tests of the HTTP server's parsers: query strings, where/order/
 * time values, listen addresses, content types, ingest bodies, the table API's query
 * plan (identifiers only from the table, values only as binds) and the `serve:` block. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/serve.h"
#include "../../src/serve_int.h"
#include "sluice/error.h"
#include "t.h"

static sl_arena_t A;
static void arena_fresh(void) {
    sl_arena_free(&A);
    sl_arena_init(&A, 4096);
}

TEST(query_string_decodes) {
    arena_fresh();
    sl_qarg_t *a;
    size_t n;
    const char *q = "a=1&b=x%20y+z&c&&where=id%3Aeq%3A5&e=";
    CHECK_INT(sl_http_query_parse(q, strlen(q), &A, &a, &n), 0);
    CHECK_INT(n, 5);
    CHECK_STR(a[0].key, "a");
    CHECK_STR(a[0].val, "1");
    CHECK_STR(a[1].val, "x y z");
    CHECK_STR(a[2].key, "c");
    CHECK_STR(a[2].val, "");
    CHECK_STR(sl_http_query_get(a, n, "where"), "id:eq:5");
    CHECK(sl_http_query_get(a, n, "zz") == NULL);
    CHECK_INT(sl_http_query_parse("", 0, &A, &a, &n), 0);
    CHECK_INT(n, 0);
}

TEST(query_string_rejects_nul_and_bad_escapes) {
    arena_fresh();
    sl_qarg_t *a;
    size_t n;
    CHECK_INT(sl_http_query_parse("a=%00", 5, &A, &a, &n), SL_PARSE);
    CHECK_INT(sl_http_query_parse("a=%zz", 5, &A, &a, &n), SL_PARSE);
    CHECK_INT(sl_http_query_parse("a=%4", 4, &A, &a, &n), SL_PARSE);
    CHECK_INT(sl_http_query_parse("a=%", 3, &A, &a, &n), SL_PARSE);
    CHECK(sl_http_segment_decode("a%2Fb", 5, &A) == NULL);
    CHECK(sl_http_segment_decode("", 0, &A) == NULL);
    CHECK_STR(sl_http_segment_decode("iss%2Epositions", 15, &A), "iss.positions");
}

TEST(where_values) {
    arena_fresh();
    sl_where_t w;
    char why[200];
    CHECK_INT(sl_http_where_parse("price:ge:10.5", &A, &w, why, sizeof why), 0);
    CHECK_STR(w.col, "price");
    CHECK_INT(w.op, SL_WHERE_GE);
    CHECK_STR(w.val, "10.5");
    CHECK_INT(sl_http_where_parse("seen_at:lt:2024-01-01T00:00:00Z", &A, &w, why, sizeof why), 0);
    CHECK_STR(w.val, "2024-01-01T00:00:00Z");
    CHECK_INT(sl_http_where_parse("name:like:%btc%", &A, &w, why, sizeof why), 0);
    CHECK_INT(w.op, SL_WHERE_LIKE);
    CHECK_INT(sl_http_where_parse("name:is:x", &A, &w, why, sizeof why), SL_PARSE);
    CHECK(strstr(why, "'is'") != NULL);
    CHECK_INT(sl_http_where_parse("name", &A, &w, why, sizeof why), SL_PARSE);
    CHECK_INT(sl_http_where_parse(":eq:1", &A, &w, why, sizeof why), SL_PARSE);
}

TEST(order_values) {
    arena_fresh();
    char *col, why[200];
    bool desc;
    CHECK_INT(sl_http_order_parse("ts", &A, &col, &desc, why, sizeof why), 0);
    CHECK_STR(col, "ts");
    CHECK(!desc);
    CHECK_INT(sl_http_order_parse("ts desc", &A, &col, &desc, why, sizeof why), 0);
    CHECK(desc);
    CHECK_INT(sl_http_order_parse("ts ASC", &A, &col, &desc, why, sizeof why), 0);
    CHECK(!desc);
    CHECK_INT(sl_http_order_parse("-ts", &A, &col, &desc, why, sizeof why), 0);
    CHECK(desc);
    CHECK_INT(sl_http_order_parse("ts desc, 1", &A, &col, &desc, why, sizeof why), SL_PARSE);
    CHECK_INT(sl_http_order_parse("ts; drop table x", &A, &col, &desc, why, sizeof why), SL_PARSE);
    CHECK_INT(sl_http_order_parse("", &A, &col, &desc, why, sizeof why), SL_PARSE);
}

TEST(time_values) {
    int64_t ms;
    bool d;
    CHECK_INT(sl_http_time_parse("2024-01-01", &ms, &d), 0);
    CHECK_INT(ms, INT64_C(1704067200000));
    CHECK(d);
    CHECK_INT(sl_http_time_parse("2024-01-01T00:01Z", &ms, &d), 0);
    CHECK_INT(ms, INT64_C(1704067260000));
    CHECK(!d);
    CHECK_INT(sl_http_time_parse("2024-01-01T00:00:01.5Z", &ms, &d), 0);
    CHECK_INT(ms, INT64_C(1704067201500));
    CHECK_INT(sl_http_time_parse("2024-01-01T02:00:00+02:00", &ms, &d), 0);
    CHECK_INT(ms, INT64_C(1704067200000));
    CHECK_INT(sl_http_time_parse("1704067200000", &ms, &d), 0);
    CHECK_INT(ms, INT64_C(1704067200000));
    CHECK_INT(sl_http_time_parse("2024-02-29", &ms, &d), 0);
    CHECK_INT(sl_http_time_parse("2023-02-29", &ms, &d), SL_PARSE);
    CHECK_INT(sl_http_time_parse("2024-13-01", &ms, &d), SL_PARSE);
    CHECK_INT(sl_http_time_parse("2024-01-01T25:00Z", &ms, &d), SL_PARSE);
    CHECK_INT(sl_http_time_parse("yesterday", &ms, &d), SL_PARSE);
    CHECK_INT(sl_http_time_parse("2024-01-01x", &ms, &d), SL_PARSE);
    CHECK_INT(sl_http_time_parse("", &ms, &d), SL_PARSE);
    char iso[32];
    sl_http_time_iso(INT64_C(1704067201500), iso);
    CHECK_STR(iso, "2024-01-01T00:00:01.500Z");
    sl_http_time_iso(0, iso);
    CHECK_STR(iso, "1970-01-01T00:00:00.000Z");
}

TEST(listen_addresses) {
    char host[64];
    int port;
    CHECK_INT(sl_http_listen_parse("127.0.0.1:8080", host, sizeof host, &port), 0);
    CHECK_STR(host, "127.0.0.1");
    CHECK_INT(port, 8080);
    CHECK_INT(sl_http_listen_parse("[::1]:9", host, sizeof host, &port), 0);
    CHECK_STR(host, "::1");
    CHECK_INT(sl_http_listen_parse(":8080", host, sizeof host, &port), 0);
    CHECK_STR(host, "");
    CHECK_INT(sl_http_listen_parse("8080", host, sizeof host, &port), 0);
    CHECK_STR(host, "127.0.0.1");
    CHECK_INT(sl_http_listen_parse("x:99999", host, sizeof host, &port), SL_PARSE);
    CHECK_INT(sl_http_listen_parse("::1:80", host, sizeof host, &port), SL_PARSE);
    CHECK_INT(sl_http_listen_parse("a b:80", host, sizeof host, &port), SL_PARSE);
    CHECK(sl_http_host_loopback("127.0.0.1"));
    CHECK(sl_http_host_loopback("127.8.9.1"));
    CHECK(sl_http_host_loopback("::1"));
    CHECK(sl_http_host_loopback("localhost"));
    CHECK(!sl_http_host_loopback("0.0.0.0"));
    CHECK(!sl_http_host_loopback(""));
    CHECK(!sl_http_host_loopback("127.0.0.1.example"));  /* a name, not the loopback address */
    CHECK(!sl_http_host_loopback("example.org"));
}

TEST(content_types) {
    CHECK_INT(sl_http_content_kind("application/json"), SL_CT_JSON);
    CHECK_INT(sl_http_content_kind("Application/JSON; charset=utf-8"), SL_CT_JSON);
    CHECK_INT(sl_http_content_kind("application/x-ndjson"), SL_CT_NDJSON);
    CHECK_INT(sl_http_content_kind("application/jsonl"), SL_CT_NDJSON);
    CHECK_INT(sl_http_content_kind("text/plain"), SL_CT_OTHER);
    CHECK_INT(sl_http_content_kind("application/jsonx"), SL_CT_OTHER);
    CHECK_INT(sl_http_content_kind(NULL), SL_CT_OTHER);
}

TEST(ingest_bodies) {
    sl_batch_t b;
    sl_json_error_t e;
    sl_batch_init(&b);
    CHECK_INT(sl_http_ingest_parse("{\"a\":1}", 7, SL_CT_JSON, &b, &e), 0);
    CHECK_INT(b.n, 1);
    sl_batch_reset(&b);
    CHECK_INT(sl_http_ingest_parse("[{\"a\":1},{\"a\":2},{}]", 20, SL_CT_JSON, &b, &e), 0);
    CHECK_INT(b.n, 3);
    sl_batch_reset(&b);
    CHECK_INT(sl_http_ingest_parse("[]", 2, SL_CT_JSON, &b, &e), 0);
    CHECK_INT(b.n, 0);
    sl_batch_reset(&b);
    const char *nd = "{\"a\":1}\n\n  \r\n{\"a\":2}\r\n{\"a\":3}";
    CHECK_INT(sl_http_ingest_parse(nd, strlen(nd), SL_CT_NDJSON, &b, &e), 0);
    CHECK_INT(b.n, 3);
    sl_batch_reset(&b);
    const char *bad = "{\"a\":1}\n{\"a\":}\n";
    CHECK_INT(sl_http_ingest_parse(bad, strlen(bad), SL_CT_NDJSON, &b, &e), SL_PARSE);
    CHECK_INT(e.offset, 13);
    sl_batch_reset(&b);
    CHECK_INT(sl_http_ingest_parse("[1,", 3, SL_CT_JSON, &b, &e), SL_PARSE);
    CHECK_INT(e.offset, 3);
    CHECK(strncmp(e.reason, "malformed JSON: ", 16) == 0);
    sl_batch_free(&b);
}

/* DESIGN 2.9: a record is a JSON object; anything else rejects the whole body, naming
 * the element or line (issue 12: 5, "str" and null were accepted, null vanished). */
TEST(ingest_rejects_non_objects) {
    sl_batch_t b;
    sl_json_error_t e;
    sl_batch_init(&b);
    static const struct { const char *body; int kind; size_t offset; const char *reason; } bad[] = {
        {"[{\"a\":1}, 5, {\"a\":2}]", SL_CT_JSON, 10,
         "element 1 of the array (from 0) is a number: a record must be a JSON object"},
        {"[{\"a\":1},\"str\"]", SL_CT_JSON, 9,
         "element 1 of the array (from 0) is a string: a record must be a JSON object"},
        {"[{\"a\":1},{\"b\":[1,2]},\n null ]", SL_CT_JSON, 23,
         "element 2 of the array (from 0) is null: a record must be a JSON object"},
        {"[[{\"a\":1}]]", SL_CT_JSON, 1, "element 0 of the array (from 0) is an array: a record must be a JSON object"},
        {"  true", SL_CT_JSON, 2,
         "the body (neither an object nor an array of objects) is a boolean: a record must be a JSON object"},
        {"null", SL_CT_JSON, 0,
         "the body (neither an object nor an array of objects) is null: a record must be a JSON object"},
        {"{\"a\":1}\n\n  null\n{\"a\":2}\n", SL_CT_NDJSON, 11, "line 3 is null: a record must be a JSON object"},
        {"{\"a\":1}\n[{\"a\":2}]\n", SL_CT_NDJSON, 8, "line 2 is an array: a record must be a JSON object"},
        {"7", SL_CT_NDJSON, 0, "line 1 is a number: a record must be a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_batch_reset(&b);
        memset(&e, 0, sizeof e);
        CHECK_INT(sl_http_ingest_parse(bad[i].body, strlen(bad[i].body), bad[i].kind, &b, &e), SL_PARSE);
        CHECK_INT(e.offset, bad[i].offset);
        CHECK_STR(e.reason, bad[i].reason);
    }
    sl_batch_reset(&b);
    CHECK_INT(sl_http_ingest_parse("{\"a\":1}\n{\"a\":}\n", 16, SL_CT_NDJSON, &b, &e), SL_PARSE);
    CHECK(strncmp(e.reason, "line 2: malformed JSON: ", 24) == 0);
    sl_batch_free(&b);
}

static const sl_qcol_t cols[] = {{"id", "INTEGER", true}, {"name", "TEXT", false},
                                 {"seen_at", "TEXT", false}, {"ms", "INTEGER", true}};

static int plan(const char *q, sl_qplan_t *p, char *why) {
    sl_qarg_t *a;
    size_t n;
    if (sl_http_query_parse(q, strlen(q), &A, &a, &n) != 0) return -100;
    return sl_qplan_build(cols, 4, a, n, &A, p, why, 256);
}

TEST(query_plan_filters_and_order) {
    arena_fresh();
    sl_qplan_t p;
    char why[256];
    CHECK_INT(plan("where=id:gt:5&where=name:like:b%25&order=seen_at%20desc&limit=20&offset=40", &p, why), 0);
    CHECK_STR(p.where.data, " WHERE \"id\" > ? AND \"name\" LIKE ? ESCAPE '\\'");
    CHECK_STR(p.order.data, " ORDER BY \"seen_at\" DESC");
    CHECK_INT(p.nbinds, 2);
    CHECK_INT(p.binds[0].kind, 1);
    CHECK_INT(p.binds[0].i, 5);
    CHECK_STR(p.binds[1].s, "b%");
    CHECK_INT(p.limit, 20);
    CHECK_INT(p.offset, 40);
    sl_qplan_free(&p);
    CHECK_INT(plan("time=seen_at&from=2024-01-01&to=2024-01-02", &p, why), 0);
    CHECK_STR(p.where.data, " WHERE \"seen_at\" >= ? AND \"seen_at\" < ?");
    CHECK_STR(p.binds[0].s, "2024-01-01T00:00:00.000Z");
    CHECK_STR(p.binds[1].s, "2024-01-03T00:00:00.000Z");
    sl_qplan_free(&p);
    CHECK_INT(plan("time=ms&from=1000&to=2024-01-01T00:00Z", &p, why), 0);
    CHECK_STR(p.where.data, " WHERE \"ms\" >= ? AND \"ms\" <= ?");
    CHECK_INT(p.binds[0].i, 1000);
    CHECK_INT(p.binds[1].i, INT64_C(1704067200000));
    sl_qplan_free(&p);
    CHECK_INT(plan("limit=99999999&_=123", &p, why), 0);
    CHECK_INT(p.limit, SL_QUERY_LIMIT_MAX);
    sl_qplan_free(&p);
    CHECK_INT(plan("", &p, why), 0);
    CHECK_INT(p.limit, SL_QUERY_LIMIT_DEFAULT);
    sl_qplan_free(&p);
}

TEST(query_plan_rejects_injection) {
    arena_fresh();
    sl_qplan_t p;
    char why[256];
    CHECK_INT(plan("where=id%22%20OR%201%3D1--:eq:1", &p, why), SL_PARSE);
    CHECK(strstr(why, "unknown column") != NULL);
    sl_qplan_free(&p);
    CHECK_INT(plan("order=id;DROP%20TABLE%20t", &p, why), SL_PARSE);
    sl_qplan_free(&p);
    CHECK_INT(plan("order=(select%201)", &p, why), SL_PARSE);
    sl_qplan_free(&p);
    CHECK_INT(plan("where=name:eq:x'%20OR%20'1'='1", &p, why), 0);  /* a value: bound */
    CHECK_STR(p.where.data, " WHERE \"name\" = ?");
    CHECK_STR(p.binds[0].s, "x' OR '1'='1");
    sl_qplan_free(&p);
    CHECK_INT(plan("time=nope&from=2024-01-01", &p, why), SL_PARSE);
    sl_qplan_free(&p);
    CHECK_INT(plan("time=seen_at&from=2024-02-30", &p, why), SL_PARSE);
    CHECK(strstr(why, "malformed date") != NULL);
    sl_qplan_free(&p);
    CHECK_INT(plan("from=2024-01-01", &p, why), SL_PARSE);
    sl_qplan_free(&p);
    CHECK_INT(plan("limit=-1", &p, why), SL_PARSE);
    sl_qplan_free(&p);
    CHECK_INT(plan("limit=1&limit=2", &p, why), SL_PARSE);
    sl_qplan_free(&p);
    CHECK_INT(plan("select=1", &p, why), SL_PARSE);
    sl_qplan_free(&p);
    sl_buf_t b = SL_BUF_INIT;
    sl_sql_ident(&b, "a\"b");
    CHECK_STR(b.data, "\"a\"\"b\"");
    sl_buf_free(&b);
}

static int serve_block(const char *yaml, sl_diags_t *d) {
    sl_conf_t conf;
    int rc = sl_conf_load_string(&conf, "t.yaml", yaml, strlen(yaml), d);
    if (rc != 0) return -100;
    sl_serve_conf_t sc;
    arena_fresh();
    int n = sl_serve_conf_parse(sl_cnode_get(conf.root, "serve"), &A, &sc, d);
    sl_conf_free(&conf);
    return n;
}

TEST(serve_block_defaults_and_token_rule) {
    sl_diags_t d = {0};
    sl_conf_t conf;
    CHECK_INT(sl_conf_load_string(&conf, "t.yaml", "serve: {}\n", 10, &d), 0);
    sl_serve_conf_t sc;
    arena_fresh();
    CHECK_INT(sl_serve_conf_parse(sl_cnode_get(conf.root, "serve"), &A, &sc, &d), 0);
    CHECK_STR(sc.listen, "127.0.0.1:8080");
    CHECK_INT(sc.max_body, 1 << 20);
    CHECK_INT(sc.timeout_ms, 30000);
    CHECK(sc.token == NULL && sc.cors == NULL);
    sl_conf_free(&conf);
    CHECK_INT(serve_block("serve: { listen: 0.0.0.0:8080 }\n", &d), 1);
    CHECK_INT(d.items[0].line, 1);
    CHECK_INT(d.items[0].col, 18);
    CHECK(strstr(d.items[0].msg, "token") != NULL);
    sl_diags_free(&d);
    memset(&d, 0, sizeof d);
    CHECK_INT(serve_block("serve: { listen: \"0.0.0.0:8080\", token: abc }\n", &d), 0);
    CHECK_INT(serve_block("serve: { listen: \"[::1]:8080\" }\n", &d), 0);
    CHECK_INT(serve_block("serve: { listen: nowhere }\n", &d), 1);
    CHECK_INT(serve_block("serve: { lisen: 1 }\n", &d), 1);
    sl_diags_free(&d);
    sl_arena_free(&A);
}

/* Issue 12: limits against slow and greedy clients, with defaults and bounds. */
TEST(serve_block_connection_limits) {
    sl_diags_t d = {0};
    sl_conf_t conf;
    CHECK_INT(sl_conf_load_string(&conf, "t.yaml", "serve: {}\n", 10, &d), 0);
    sl_serve_conf_t sc;
    arena_fresh();
    CHECK_INT(sl_serve_conf_parse(sl_cnode_get(conf.root, "serve"), &A, &sc, &d), 0);
    CHECK_INT(sc.max_conns, 1024);
    CHECK_INT(sc.max_conns_client, 256);
    CHECK_INT(sc.request_timeout_ms, 30000);
    CHECK_INT(sc.session_ttl_ms, 12 * 3600 * 1000);
    sl_conf_free(&conf);
    CHECK_INT(serve_block("serve: { max_connections: 8 }\n", &d), 1);
    CHECK(strstr(d.items[0].msg, "'max_connections' of 'serve' must be 16..60000") != NULL);
    CHECK_INT(serve_block("serve: { max_connections_per_client: 0 }\n", &d), 1);
    CHECK_INT(serve_block("serve: { request_timeout: 10ms }\n", &d), 1);
    CHECK_INT(serve_block("serve: { session_ttl: 500ms }\n", &d), 1);
    CHECK_INT(serve_block("serve: { max_connections: 64, max_connections_per_client: 4, request_timeout: 5s, "
                          "session_ttl: 1h }\n", &d), 0);
    sl_diags_free(&d);
    sl_arena_free(&A);
}

/* Issue 12: 300 wrong /login guesses took 0.04 s.  After SL_LOGIN_FREE_TRIES wrong
 * tokens an address waits 1 s, doubling per further wrong token (at most 5 min), and is
 * not checked meanwhile; a right token clears it; other addresses are untouched. */
TEST(login_throttle) {
    static sl_login_fail_t tab[4];
    memset(tab, 0, sizeof tab);
    const unsigned char a[4] = {127, 0, 0, 1}, b[4] = {127, 0, 0, 2};
    int64_t t = 1000000;
    for (int i = 0; i < SL_LOGIN_FREE_TRIES - 1; i++) {
        CHECK_INT(sl_login_wait(tab, 4, a, 4, t), 0);
        CHECK_INT(sl_login_note(tab, 4, a, 4, false, t), 0);
    }
    CHECK_INT(sl_login_note(tab, 4, a, 4, false, t), 1000);
    CHECK_INT(sl_login_wait(tab, 4, a, 4, t), 1000);
    CHECK_INT(sl_login_wait(tab, 4, a, 4, t + 999), 1);
    CHECK_INT(sl_login_wait(tab, 4, b, 4, t), 0);
    CHECK_INT(sl_login_wait(tab, 4, a, 4, t + 1000), 0);
    CHECK_INT(sl_login_note(tab, 4, a, 4, false, t + 1000), 2000);
    CHECK_INT(sl_login_note(tab, 4, a, 4, false, t + 3000), 4000);
    int64_t block = 0;
    for (int i = 0; i < 40; i++) block = sl_login_note(tab, 4, a, 4, false, t + 10000);
    CHECK_INT(block, SL_LOGIN_BLOCK_MAX_MS);
    CHECK_INT(sl_login_note(tab, 4, a, 4, true, t + 400000), 0);
    CHECK_INT(sl_login_wait(tab, 4, a, 4, t + 400000), 0);
    CHECK_INT(sl_login_note(tab, 4, a, 4, false, t + 400000), 0);  /* counting afresh */
    /* failures are forgotten after a quiet quarter of an hour */
    for (int i = 0; i < SL_LOGIN_FREE_TRIES - 2; i++) sl_login_note(tab, 4, b, 4, false, t);
    CHECK_INT(sl_login_note(tab, 4, b, 4, false, t + SL_LOGIN_FORGET_MS + 1), 0);
    /* a full table drops the least recent address, never fails */
    for (unsigned char k = 10; k < 20; k++) {
        const unsigned char c[4] = {10, 0, 0, k};
        sl_login_note(tab, 4, c, 4, false, t + 500000 + k);
    }
    const unsigned char last[4] = {10, 0, 0, 19};
    CHECK_INT(sl_login_wait(tab, 4, last, 4, t), 0);
    int used = 0;
    for (int i = 0; i < 4; i++) used += tab[i].addrlen == 4 && tab[i].addr[3] == 19;
    CHECK_INT(used, 1);
}

/* Issue 12: the session cookie was a fixed SHA-1 of the token.  Now a random id per
 * login, with an expiry, ended by logout (and by restart: the table is in memory). */
TEST(sessions) {
    static sl_session_t tab[3];
    memset(tab, 0, sizeof tab);
    char s1[65], s2[65];
    CHECK_INT(sl_session_new(tab, 3, 60000, 1000, s1), 0);
    CHECK_INT(sl_session_new(tab, 3, 60000, 1000, s2), 0);
    CHECK_INT(strlen(s1), 64);
    CHECK(strspn(s1, "0123456789abcdef") == 64);
    CHECK(strcmp(s1, s2) != 0);
    CHECK(sl_session_valid(tab, 3, s1, 1000));
    CHECK(sl_session_valid(tab, 3, s2, 60999));
    CHECK(!sl_session_valid(tab, 3, s2, 61000));   /* expired ... */
    CHECK(!sl_session_valid(tab, 3, s2, 1000));    /* ... and forgotten */
    char forged[65];
    memcpy(forged, s1, 65);
    forged[63] = forged[63] == '0' ? '1' : '0';
    CHECK(!sl_session_valid(tab, 3, forged, 1000));
    CHECK(!sl_session_valid(tab, 3, "", 1000));
    CHECK(!sl_session_valid(tab, 3, NULL, 1000));
    sl_session_end(tab, 3, s1);
    CHECK(!sl_session_valid(tab, 3, s1, 1000));
    /* full: the session expiring first makes room */
    char k[4][65];
    for (int i = 0; i < 4; i++) CHECK_INT(sl_session_new(tab, 3, 1000 * (i + 1), 5000, k[i]), 0);
    CHECK(!sl_session_valid(tab, 3, k[0], 5000));
    for (int i = 1; i < 4; i++) CHECK(sl_session_valid(tab, 3, k[i], 5000));
}
