/* test_json.c - the JSON reader and writer: fixtures round trip, malformed input is
 * rejected with an offset and a reason, number edge cases, nesting limit. */
#include "sluice/json.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/error.h"
#include "t.h"

static const char *fixture_dirs[] = {"../shared/fixtures/api", "../shared/fixtures/donki-months"};

typedef struct fixture {
    char path[512];
    char *data;
    size_t len;
} fixture_t;

static fixture_t fixtures[128];
static int nfixtures = -1;

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    /* Exactly n bytes on the heap, no NUL: ASan catches any read past the end. */
    char *b = malloc(n > 0 ? (size_t)n : 1);
    if (n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int fixture_cmp(const void *a, const void *b) {
    return strcmp(((const fixture_t *)a)->path, ((const fixture_t *)b)->path);
}

/* Every *.json of the fixture folders, sorted; 0 (with a note) when ../shared is absent. */
static int load_fixtures(void) {
    if (nfixtures >= 0) return nfixtures;
    nfixtures = 0;
    for (size_t d = 0; d < sizeof fixture_dirs / sizeof *fixture_dirs; d++) {
        DIR *dir = opendir(fixture_dirs[d]);
        if (!dir) {
            fprintf(stderr, "note: %s missing, skipping fixture checks there\n", fixture_dirs[d]);
            continue;
        }
        struct dirent *de;
        while ((de = readdir(dir)) && nfixtures < 128) {
            size_t n = strlen(de->d_name);
            if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0) continue;
            fixture_t *fx = &fixtures[nfixtures];
            snprintf(fx->path, sizeof fx->path, "%s/%s", fixture_dirs[d], de->d_name);
            fx->data = read_file(fx->path, &fx->len);
            if (fx->data) nfixtures++;
        }
        closedir(dir);
    }
    qsort(fixtures, (size_t)nfixtures, sizeof *fixtures, fixture_cmp);
    return nfixtures;
}

static bool is_truncated_fixture(const fixture_t *fx) { return strstr(fx->path, "truncated") != NULL; }

/* Compact (no blanks outside strings) and escaped the way the writer escapes: such
 * inputs must come back byte for byte. */
static bool is_canonical_text(const char *s, size_t len) {
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!in_str) {
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') return false;
            if (c == '"') in_str = true;
            continue;
        }
        if (c == '"') in_str = false;
        else if (c == '\\') {
            if (i + 1 >= len) return false;
            char e = s[++i];
            if (!strchr("\"\\nrtbf", e)) return false;   /* \/ and \uXXXX are rewritten */
        }
    }
    return true;
}

static int parse(sl_arena_t *arena, const char *s, size_t len, sl_value_t *v, sl_json_error_t *err) {
    /* A heap copy of exactly len bytes, so ASan sees any read past the end. */
    char *copy = malloc(len ? len : 1);
    memcpy(copy, s, len);
    int rc = sl_json_parse(arena, copy, len, v, err);
    free(copy);
    return rc;
}

static int parse_str(sl_arena_t *arena, const char *s, sl_value_t *v, sl_json_error_t *err) {
    return parse(arena, s, strlen(s), v, err);
}

TEST(fixtures_parse_and_round_trip) {
    int n = load_fixtures();
    if (!n) {
        fprintf(stderr, "note: no fixtures found, skipped\n");
        return;
    }
    int parsed = 0, exact = 0, loose = 0;
    for (int i = 0; i < n; i++) {
        fixture_t *fx = &fixtures[i];
        sl_arena_t arena;
        sl_arena_init(&arena, 4096);
        sl_value_t v, v2;
        sl_json_error_t err;
        int rc = sl_json_parse(&arena, fx->data, fx->len, &v, &err);
        if (is_truncated_fixture(fx)) {
            CHECK(rc == SL_PARSE);
            CHECK_INT(err.offset, fx->len);
            CHECK(err.reason[0] != 0);
            sl_arena_free(&arena);
            continue;
        }
        if (rc != 0) T_FAIL("%s: %s at %zu", fx->path, err.reason, err.offset);
        else parsed++;
        sl_buf_t out = SL_BUF_INIT;
        sl_json_write(&out, v);
        rc = sl_json_parse(&arena, out.data, out.len, &v2, &err);
        if (rc != 0) T_FAIL("%s: re-parse: %s at %zu", fx->path, err.reason, err.offset);
        else if (!sl_value_equal(v, v2)) T_FAIL("%s: re-parsed value differs", fx->path);
        if (is_canonical_text(fx->data, fx->len)) {
            if (out.len != fx->len || memcmp(out.data, fx->data, fx->len) != 0)
                T_FAIL("%s: compact input not reproduced byte for byte", fx->path);
            else exact++;
        } else {
            loose++;
            fprintf(stderr, "note: %s is not compact; checked by value only\n", fx->path);
        }
        /* A second write of the re-parsed value is a fixed point. */
        sl_buf_t out2 = SL_BUF_INIT;
        sl_json_write(&out2, v2);
        CHECK(out2.len == out.len && memcmp(out2.data, out.data, out.len) == 0);
        sl_buf_free(&out2);
        sl_buf_free(&out);
        sl_arena_free(&arena);
    }
    fprintf(stderr, "note: %d fixtures parsed, %d byte-exact, %d equal by value\n", parsed, exact, loose);
    CHECK(parsed >= 40);
}

TEST(fixtures_truncated_are_rejected) {
    int n = load_fixtures();
    long checked = 0;
    for (int i = 0; i < n; i++) {
        fixture_t *fx = &fixtures[i];
        /* The document ends at its last non-blank byte; any cut before it is invalid
         * (every fixture is an object or array). */
        size_t last = fx->len;
        while (last > 0 && strchr(" \n\r\t", fx->data[last - 1])) last--;
        if (last == 0) continue;
        size_t step = last <= 3000 ? 1 : last / 300;
        for (size_t cut = 0; cut < last; cut += step) {
            sl_arena_t arena;
            sl_arena_init(&arena, 4096);
            sl_value_t v;
            sl_json_error_t err;
            int rc = parse(&arena, fx->data, cut, &v, &err);
            if (rc != SL_PARSE) {
                T_FAIL("%s cut at %zu accepted", fx->path, cut);
            } else {
                /* At the cut, or at the start of the token the cut broke (a literal,
                 * an escape pair, a UTF-8 sequence). */
                if (err.offset > cut || err.offset + 12 < cut)
                    T_FAIL("%s cut at %zu: offset %zu (%s)", fx->path, cut, err.offset, err.reason);
                if (!err.reason[0]) T_FAIL("%s cut at %zu: no reason", fx->path, cut);
            }
            checked++;
            sl_arena_free(&arena);
        }
    }
    if (n) CHECK(checked > 1000);
}

TEST(fixtures_garbled_are_rejected) {
    int n = load_fixtures();
    for (int i = 0; i < n; i++) {
        fixture_t *fx = &fixtures[i];
        if (is_truncated_fixture(fx) || fx->len < 4) continue;
        char *g = malloc(fx->len + 1);
        for (int k = 0; k < 40; k++) {
            size_t pos = (size_t)k * 7919 % fx->len;
            sl_arena_t arena;
            sl_arena_init(&arena, 4096);
            sl_value_t v;
            sl_json_error_t err;
            /* Flipping the high bit of any byte of valid UTF-8 JSON breaks it. */
            memcpy(g, fx->data, fx->len);
            g[pos] = (char)(g[pos] ^ 0x80);
            int rc = parse(&arena, g, fx->len, &v, &err);
            if (rc != SL_PARSE) T_FAIL("%s flipped at %zu accepted", fx->path, pos);
            else if (err.offset > pos + 1 || err.offset + 4 < pos)
                T_FAIL("%s flipped at %zu: offset %zu (%s)", fx->path, pos, err.offset, err.reason);
            /* Inserting a byte that is never valid (0xFF) or a raw control byte. */
            for (int bad = 0; bad < 2; bad++) {
                memcpy(g, fx->data, pos);
                g[pos] = bad ? 0x01 : (char)0xFF;
                memcpy(g + pos + 1, fx->data + pos, fx->len - pos);
                rc = parse(&arena, g, fx->len + 1, &v, &err);
                if (rc != SL_PARSE) T_FAIL("%s: byte inserted at %zu accepted", fx->path, pos);
                else if (err.offset > pos || err.offset + 4 < pos)
                    T_FAIL("%s: byte inserted at %zu: offset %zu (%s)", fx->path, pos, err.offset, err.reason);
            }
            sl_arena_free(&arena);
        }
        /* A trailing comma before the final bracket of a non-empty document. */
        size_t last = fx->len;
        while (last > 0 && strchr(" \n\r\t", fx->data[last - 1])) last--;
        size_t close = last - 1, prev = close;
        while (prev > 0 && strchr(" \n\r\t", fx->data[prev - 1])) prev--;
        if (fx->data[prev - 1] != '[' && fx->data[prev - 1] != '{') {
            memcpy(g, fx->data, close);
            g[close] = ',';
            memcpy(g + close + 1, fx->data + close, fx->len - close);
            sl_arena_t arena;
            sl_arena_init(&arena, 4096);
            sl_value_t v;
            sl_json_error_t err;
            int rc = parse(&arena, g, fx->len + 1, &v, &err);
            CHECK(rc == SL_PARSE);
            CHECK_INT(err.offset, close + 1);
            sl_arena_free(&arena);
        }
        free(g);
    }
}

/* Malformed inputs with the exact offset of the problem. */
TEST(malformed_rejected_with_offset) {
    static const struct {
        const char *in;
        size_t offset;
        const char *reason;   /* substring of the reason */
    } cases[] = {
        {"", 0, "end of input"},
        {"   ", 3, "end of input"},
        {"[1,2,]", 5, "trailing comma"},
        {"{\"a\":1,}", 7, "trailing comma"},
        {"{\"a\" 1}", 5, "':'"},
        {"{\"a\":1 \"b\":2}", 7, "','"},
        {"[1 2]", 3, "','"},
        {"{1:2}", 1, "object key"},
        {"01", 0, "leading zeros"},
        {"[-01]", 2, "leading zeros"},
        {"-", 1, "end of input"},
        {"-a", 1, "digit"},
        {"1.", 2, "digit"},
        {"1.e5", 2, "digit"},
        {"1e", 2, "digit"},
        {"1e+", 3, "digit"},
        {".5", 0, "unexpected"},
        {"+1", 0, "unexpected"},
        {"NaN", 0, "unexpected"},
        {"[Infinity]", 1, "unexpected"},
        {"-Infinity", 1, "digit"},
        {"tru", 0, "literal"},
        {"nul", 0, "literal"},
        {"[true false]", 6, "','"},
        {"truex", 4, "after the JSON value"},
        {"{} {}", 3, "after the JSON value"},
        {"\"abc", 4, "unterminated"},
        {"\"a\tb\"", 2, "control character"},
        {"\"a\nb\"", 2, "control character"},
        {"\"a\x01\"", 2, "control character"},
        {"\"\\x\"", 1, "invalid escape"},
        {"\"\\u12\"", 1, "\\u"},
        {"\"\\uD800\"", 1, "lone high surrogate"},
        {"\"ab\\uDC00\"", 3, "lone low surrogate"},
        {"\"\\uD800\\u0041\"", 1, "lone high surrogate"},
        {"\"\\uD83D\"", 1, "lone high surrogate"},
        {"\"a\xff\"", 2, "UTF-8"},
        {"\"a\xc0\xaf\"", 2, "UTF-8"},          /* overlong '/' */
        {"\"a\xe0\x80\xaf\"", 2, "UTF-8"},      /* overlong */
        {"\"a\xed\xa0\x80\"", 2, "UTF-8"},      /* UTF-8 encoded surrogate */
        {"\"a\xf4\x90\x80\x80\"", 2, "UTF-8"},  /* > U+10FFFF */
        {"\"a\xf5\x80\x80\x80\"", 2, "UTF-8"},
        {"\"\x80\"", 1, "UTF-8"},               /* lone continuation */
        {"\"\xc3\"", 1, "UTF-8"},               /* truncated sequence */
        {"\xef\xbb\xbf{}", 0, "unexpected"},    /* a BOM is not JSON */
        {"1e400", 0, "out of range"},
        {"[-1e999]", 1, "out of range"},
        {"{\"a\":}", 5, "unexpected"},
        {"[", 1, "end of input"},
        {"{", 1, "end of input"},
        {"{\"a\"", 4, "end of input"},
        {"{\"a\":", 5, "end of input"},
        {"[1,", 3, "end of input"},
        {"'a'", 0, "unexpected"},
        {"[1]]", 3, "after the JSON value"},
        {"\x00", 0, "unexpected"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sl_arena_t arena;
        sl_arena_init(&arena, 1024);
        sl_value_t v;
        sl_json_error_t err;
        size_t len = strlen(cases[i].in);
        if (i == sizeof cases / sizeof *cases - 1) len = 1;   /* the NUL byte case */
        int rc = parse(&arena, cases[i].in, len, &v, &err);
        if (rc != SL_PARSE) T_FAIL("case %zu accepted: %s", i, cases[i].in);
        else {
            if (err.offset != cases[i].offset)
                T_FAIL("case %zu (%s): offset %zu, expected %zu (%s)", i, cases[i].in, err.offset,
                       cases[i].offset, err.reason);
            if (!strstr(err.reason, cases[i].reason))
                T_FAIL("case %zu (%s): reason \"%s\" lacks \"%s\"", i, cases[i].in, err.reason,
                       cases[i].reason);
        }
        sl_arena_free(&arena);
    }
}

TEST(strings_and_escapes) {
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sl_value_t v;
    sl_json_error_t err;
    CHECK_INT(parse_str(&arena, "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", &v, &err), 0);
    CHECK_INT(v.type, SL_T_STRING);
    CHECK_STR(v.u.s, "a\"b\\c/d\b\f\n\r\t");
    CHECK_INT(parse_str(&arena, "\"\\u003E\\u00e9\\u20AC\\uD83D\\uDE00\"", &v, &err), 0);
    CHECK_STR(v.u.s, ">\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    CHECK_INT(v.len, 1 + 2 + 3 + 4);
    /* \u0000 puts a NUL inside; len is the truth. */
    CHECK_INT(parse_str(&arena, "\"a\\u0000b\"", &v, &err), 0);
    CHECK_INT(v.len, 3);
    CHECK(memcmp(v.u.s, "a\0b", 4) == 0);
    /* C1 control characters and other UTF-8 are ordinary characters. */
    CHECK_INT(parse_str(&arena, "\"it\xc2\x92s S\xc3\xb8rensen \xf0\x9f\x9a\x80\"", &v, &err), 0);
    CHECK_STR(v.u.s, "it\xc2\x92s S\xc3\xb8rensen \xf0\x9f\x9a\x80");
    /* Long strings cross the 16- and 8-byte scanning paths at every alignment. */
    char buf[200];
    for (int n = 0; n < 60; n++) {
        buf[0] = '"';
        for (int k = 0; k < n; k++) buf[1 + k] = (char)('a' + k % 26);
        buf[1 + n] = '"';
        CHECK_INT(parse(&arena, buf, (size_t)n + 2, &v, &err), 0);
        CHECK_INT(v.len, n);
        /* ... and an unterminated one is caught at every length. */
        CHECK_INT(parse(&arena, buf, (size_t)n + 1, &v, &err), SL_PARSE);
        CHECK_INT(err.offset, n + 1);
        /* A quote or control byte at each position is found. */
        if (n > 0) {
            buf[n] = '\x1f';
            CHECK_INT(parse(&arena, buf, (size_t)n + 2, &v, &err), SL_PARSE);
            CHECK_INT(err.offset, n);
        }
    }
    sl_arena_free(&arena);
}

TEST(duplicate_keys_and_order) {
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sl_value_t v, w;
    sl_json_error_t err;
    CHECK_INT(parse_str(&arena, "{\"a\":1,\"b\":2,\"a\":3}", &v, &err), 0);
    CHECK_INT(v.len, 3);   /* every member kept */
    const sl_value_t *a = sl_value_get(&v, "a", 1);
    CHECK(a && a->type == SL_T_INT && a->u.i == 3);
    CHECK_INT(parse_str(&arena, "{\"b\":2,\"a\":3}", &w, &err), 0);
    CHECK(sl_value_equal(v, w));
    sl_buf_t out = SL_BUF_INIT;
    sl_json_write(&out, v);
    CHECK_STR(out.data, "{\"a\":1,\"b\":2,\"a\":3}");
    sl_buf_free(&out);
    sl_arena_free(&arena);
}

TEST(numbers) {
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sl_value_t v;
    sl_json_error_t err;
    struct { const char *in; int type; int64_t i; double d; } cases[] = {
        {"0", SL_T_INT, 0, 0},
        {"42", SL_T_INT, 42, 0},
        {"-7", SL_T_INT, -7, 0},
        {"9223372036854775807", SL_T_INT, INT64_MAX, 0},
        {"-9223372036854775808", SL_T_INT, INT64_MIN, 0},
        {"9223372036854775808", SL_T_DOUBLE, 0, 9223372036854775808.0},
        {"-9223372036854775809", SL_T_DOUBLE, 0, -9223372036854775809.0},
        {"18446744073709551616", SL_T_DOUBLE, 0, 18446744073709551616.0},
        {"123456789012345678901234567890", SL_T_DOUBLE, 0, 123456789012345678901234567890.0},
        {"1.5e-3", SL_T_DOUBLE, 0, 1.5e-3},
        {"1.5", SL_T_DOUBLE, 0, 1.5},
        {"-4.4056644875723e-05", SL_T_DOUBLE, 0, -4.4056644875723e-05},
        {"1e308", SL_T_DOUBLE, 0, 1e308},
        {"1.7976931348623157e308", SL_T_DOUBLE, 0, 1.7976931348623157e308},
        {"1e-320", SL_T_DOUBLE, 0, 1e-320},
        {"4.9406564584124654e-324", SL_T_DOUBLE, 0, 4.9406564584124654e-324},
        {"1e-400", SL_T_DOUBLE, 0, 0.0},
        {"0.1", SL_T_DOUBLE, 0, 0.1},
        {"0.30000000000000004", SL_T_DOUBLE, 0, 0.30000000000000004},
        {"68722.0", SL_T_DOUBLE, 0, 68722.0},
        {"1E2", SL_T_DOUBLE, 0, 100.0},
        {"1e+2", SL_T_DOUBLE, 0, 100.0},
        {"0.000001234", SL_T_DOUBLE, 0, 0.000001234},
        {"123456789.123456789", SL_T_DOUBLE, 0, 123456789.123456789},
        {"2.2250738585072011e-308", SL_T_DOUBLE, 0, 2.2250738585072011e-308},
        {"1e22", SL_T_DOUBLE, 0, 1e22},
        {"1e23", SL_T_DOUBLE, 0, 1e23},
        {"-0.0", SL_T_DOUBLE, 0, -0.0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int rc = parse_str(&arena, cases[k].in, &v, &err);
        if (rc) {
            T_FAIL("%s: %s", cases[k].in, err.reason);
            continue;
        }
        if ((int)v.type != cases[k].type) T_FAIL("%s: type %s", cases[k].in, sl_type_name(v.type));
        else if (v.type == SL_T_INT && v.u.i != cases[k].i) T_FAIL("%s: %lld", cases[k].in, (long long)v.u.i);
        else if (v.type == SL_T_DOUBLE && memcmp(&v.u.d, &cases[k].d, sizeof(double)) != 0)
            T_FAIL("%s: %.17g, expected %.17g", cases[k].in, v.u.d, cases[k].d);
    }
    /* -0 keeps its sign (a double), and writes back as such. */
    CHECK_INT(parse_str(&arena, "-0", &v, &err), 0);
    CHECK_INT(v.type, SL_T_DOUBLE);
    CHECK(v.u.d == 0 && signbit(v.u.d));
    sl_arena_free(&arena);
}

static void check_writes(sl_value_t v, const char *want) {
    sl_buf_t out = SL_BUF_INIT;
    sl_json_write(&out, v);
    CHECK_STR(out.data, want);
    sl_buf_free(&out);
}

TEST(writer) {
    check_writes(sl_int(0), "0");
    check_writes(sl_int(-12345), "-12345");
    check_writes(sl_int(INT64_MAX), "9223372036854775807");
    check_writes(sl_int(INT64_MIN), "-9223372036854775808");
    check_writes(sl_double(0.1), "0.1");
    check_writes(sl_double(1.5e-3), "0.0015");
    check_writes(sl_double(1.0 / 3), "0.3333333333333333");
    check_writes(sl_double(0.30000000000000004), "0.30000000000000004");
    check_writes(sl_double(5.0), "5.0");
    check_writes(sl_double(-0.0), "-0.0");
    check_writes(sl_double(1e308), "1e+308");
    check_writes(sl_double(1e-320), "9.99988867182683e-321");
    check_writes(sl_double(-4.4056644875723e-05), "-4.4056644875723e-05");
    check_writes(sl_double(NAN), "null");
    check_writes(sl_double(INFINITY), "null");
    check_writes(sl_null(), "null");
    check_writes(sl_bool(true), "true");
    check_writes(sl_bool(false), "false");
    check_writes(sl_str("a\"b\\c\n\x01\x1f/\xc2\x92\xe2\x80\xa8\xe2\x80\xa9\xe2\x82\xac", 20),
                 "\"a\\\"b\\\\c\\n\\u0001\\u001f/\xc2\x92\\u2028\\u2029\xe2\x82\xac\"");
    check_writes(sl_str("a\0b", 3), "\"a\\u0000b\"");
    check_writes(sl_str("", 0), "\"\"");
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sl_value_t v;
    sl_json_error_t err;
    CHECK_INT(parse_str(&arena, " { \"a\" : [ 1 , 2.5 , \"x\" , null , true , { } , [ ] ] } ", &v, &err), 0);
    check_writes(v, "{\"a\":[1,2.5,\"x\",null,true,{},[]]}");
    /* Every double written reads back to the same bits. */
    double ds[] = {1e-320, 4.9406564584124654e-324, 1.7976931348623157e308, 0.1, 2.0 / 3,
                   123456789.123456789, 1e21, 1e22, 1e23, -2.2250738585072014e-308, 1e15, 1e16, 1e17};
    for (size_t k = 0; k < sizeof ds / sizeof *ds; k++) {
        sl_buf_t out = SL_BUF_INIT;
        sl_json_write(&out, sl_double(ds[k]));
        CHECK_INT(sl_json_parse(&arena, out.data, out.len, &v, &err), 0);
        CHECK_INT(v.type, SL_T_DOUBLE);
        if (memcmp(&v.u.d, &ds[k], sizeof(double)) != 0) T_FAIL("%.17g wrote %s", ds[k], out.data);
        sl_buf_free(&out);
    }
    /* sl_json_write appends and keeps the buffer NUL-terminated. */
    sl_buf_t out = SL_BUF_INIT;
    sl_buf_puts(&out, "x=");
    sl_json_write(&out, sl_int(7));
    CHECK_STR(out.data, "x=7");
    sl_buf_free(&out);
    sl_arena_free(&arena);
}

TEST(nesting_limit) {
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sl_value_t v;
    sl_json_error_t err;
    size_t n = 100000;
    char *s = malloc(2 * n);
    for (size_t d = SL_JSON_MAX_DEPTH; d <= SL_JSON_MAX_DEPTH + 1; d++) {
        for (size_t i = 0; i < d; i++) s[i] = '[', s[2 * d - 1 - i] = ']';
        int rc = parse(&arena, s, 2 * d, &v, &err);
        if (d == SL_JSON_MAX_DEPTH) CHECK_INT(rc, 0);
        else {
            CHECK_INT(rc, SL_PARSE);
            CHECK_INT(err.offset, SL_JSON_MAX_DEPTH);
            CHECK(strstr(err.reason, "nesting") != NULL);
        }
    }
    /* Objects count too, and very deep input fails fast without recursion. */
    for (size_t i = 0; i < n; i++) s[i] = (i % 2) ? '[' : '{';
    CHECK_INT(parse(&arena, s, n, &v, &err), SL_PARSE);
    for (size_t i = 0; i < n; i++) s[i] = '[';
    CHECK_INT(parse(&arena, s, n, &v, &err), SL_PARSE);
    CHECK_INT(err.offset, SL_JSON_MAX_DEPTH);
    /* {"a":{"a":...}} at the limit. */
    sl_buf_t b = SL_BUF_INIT;
    for (int i = 0; i < SL_JSON_MAX_DEPTH; i++) sl_buf_puts(&b, "{\"a\":");
    sl_buf_puts(&b, "1");
    for (int i = 0; i < SL_JSON_MAX_DEPTH; i++) sl_buf_putc(&b, '}');
    CHECK_INT(parse(&arena, b.data, b.len, &v, &err), 0);
    sl_buf_free(&b);
    free(s);
    sl_arena_free(&arena);
}

TEST(large_containers) {
    /* More items than the scratch stacks start with, nested, so they grow mid-parse. */
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sl_buf_t b = SL_BUF_INIT;
    sl_buf_puts(&b, "[");
    for (int i = 0; i < 5000; i++) {
        sl_buf_printf(&b, "%s{\"k%d\":[%d,%d],\"s\":\"%d\"}", i ? "," : "", i, i, -i, i);
    }
    sl_buf_puts(&b, "]");
    sl_value_t v;
    sl_json_error_t err;
    CHECK_INT(parse(&arena, b.data, b.len, &v, &err), 0);
    CHECK_INT(v.len, 5000);
    CHECK_INT(v.u.a[4999].u.o[0].val.u.a[1].u.i, -4999);
    CHECK_STR(v.u.a[1234].u.o[1].val.u.s, "1234");
    sl_buf_t out = SL_BUF_INIT;
    sl_json_write(&out, v);
    CHECK(out.len == b.len && memcmp(out.data, b.data, b.len) == 0);
    sl_buf_free(&out);
    /* A big object and a long escaped string (past the on-stack scratch). */
    sl_buf_clear(&b);
    sl_buf_puts(&b, "{");
    for (int i = 0; i < 3000; i++) sl_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    sl_buf_puts(&b, ",\"esc\":\"");
    for (int i = 0; i < 3000; i++) sl_buf_puts(&b, "ab\\n\\u00e9");
    sl_buf_puts(&b, "\"}");
    CHECK_INT(parse(&arena, b.data, b.len, &v, &err), 0);
    CHECK_INT(v.len, 3001);
    const sl_value_t *esc = sl_value_get(&v, "esc", 3);
    CHECK(esc && esc->len == 3000 * 5);
    sl_buf_free(&b);
    sl_arena_free(&arena);
}

TEST(parse_prefix_for_streams) {
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    const char *s = "  {\"a\":1}\n[2] 3\n\"x\"";
    size_t len = strlen(s), off = 0, used = 0;
    sl_value_t v;
    sl_json_error_t err;
    CHECK_INT(sl_json_parse_prefix(&arena, s, len, &v, &used, &err), 0);
    CHECK_INT(used, 9);
    CHECK_INT(v.type, SL_T_OBJECT);
    off += used;
    CHECK_INT(sl_json_parse_prefix(&arena, s + off, len - off, &v, &used, &err), 0);
    CHECK_INT(v.type, SL_T_ARRAY);
    off += used;
    CHECK_INT(sl_json_parse_prefix(&arena, s + off, len - off, &v, &used, &err), 0);
    CHECK_INT(v.u.i, 3);
    off += used;
    CHECK_INT(sl_json_parse_prefix(&arena, s + off, len - off, &v, &used, &err), 0);
    CHECK_STR(v.u.s, "x");
    off += used;
    CHECK_INT(off, len);
    CHECK_INT(sl_json_parse_prefix(&arena, s + off, len - off, &v, &used, &err), SL_PARSE);
    CHECK(strstr(err.reason, "end of input") != NULL);
    sl_arena_free(&arena);
}

TEST(write_string_alone) {
    sl_buf_t out = SL_BUF_INIT;
    /* Long plain runs (the 16-byte path) with escapes at the edges. */
    char s[100];
    for (int i = 0; i < 100; i++) s[i] = (char)('a' + i % 26);
    s[0] = '"';
    s[99] = '\n';
    sl_json_write_string(&out, s, 100);
    CHECK_INT(out.len, 104);
    CHECK(memcmp(out.data, "\"\\\"bcd", 6) == 0);
    CHECK(memcmp(out.data + out.len - 3, "\\n\"", 3) == 0);
    sl_buf_free(&out);
}
