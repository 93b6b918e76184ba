/* test_value.c - the value model: lookup, copy-on-write set/del, equality, subset,
 * order, copy, truthiness. */
#include "sluice/value.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sluice/json.h"
#include "t.h"

static sl_value_t J(sl_arena_t *arena, const char *s) {
    sl_value_t v = sl_null();
    sl_json_error_t err;
    if (sl_json_parse(arena, s, strlen(s), &v, &err) != 0)
        fprintf(stderr, "bad test JSON %s: %s at %zu\n", s, err.reason, err.offset);
    return v;
}

/* The compact JSON of v, in the arena (for comparing by text). */
static const char *S(sl_arena_t *arena, sl_value_t v) {
    sl_buf_t b = SL_BUF_INIT;
    sl_json_write(&b, v);
    const char *s = sl_arena_strndup(arena, b.data, b.len);
    sl_buf_free(&b);
    return s;
}

TEST(type_names_and_constructors) {
    CHECK_STR(sl_type_name(SL_T_NULL), "null");
    CHECK_STR(sl_type_name(SL_T_BOOL), "bool");
    CHECK_STR(sl_type_name(SL_T_INT), "int");
    CHECK_STR(sl_type_name(SL_T_DOUBLE), "double");
    CHECK_STR(sl_type_name(SL_T_STRING), "string");
    CHECK_STR(sl_type_name(SL_T_ARRAY), "array");
    CHECK_STR(sl_type_name(SL_T_OBJECT), "object");
    CHECK_INT(sizeof(sl_value_t), 16);
    sl_arena_t arena;
    sl_arena_init(&arena, 256);
    char src[] = "hello";
    sl_value_t s = sl_str_dup(&arena, src, 3);
    src[0] = 'X';
    CHECK_STR(s.u.s, "hel");
    CHECK_INT(s.len, 3);
    sl_value_t a = sl_array_new(&arena, 2);
    CHECK_INT(a.type, SL_T_ARRAY);
    CHECK_INT(a.len, 0);
    a.u.a[0] = sl_int(1);
    a.u.a[1] = sl_double(2.5);
    a.len = 2;
    CHECK_STR(S(&arena, a), "[1,2.5]");
    sl_value_t o = sl_object_new(&arena, 0);
    CHECK_INT(o.type, SL_T_OBJECT);
    CHECK(o.u.o != NULL);
    CHECK_STR(S(&arena, o), "{}");
    CHECK(sl_value_num(sl_int(3)) == 3.0);
    CHECK(sl_value_num(sl_double(2.5)) == 2.5);
    CHECK(sl_value_num(sl_str("7", 1)) == 0.0);
    sl_arena_free(&arena);
}

TEST(get_and_get_path) {
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sl_value_t v = J(&arena, "{\"a\":{\"b\":{\"c\":42}},\"x\":1,\"x\":2,\"arr\":[1]}");
    const sl_value_t *c = sl_value_get_path(&v, "a.b.c");
    CHECK(c && c->type == SL_T_INT && c->u.i == 42);
    CHECK(sl_value_get_path(&v, "a.b.d") == NULL);
    CHECK(sl_value_get_path(&v, "a.b.c.d") == NULL);   /* through a non-object */
    CHECK(sl_value_get_path(&v, "arr.0") == NULL);     /* no indexing */
    const sl_value_t *x = sl_value_get(&v, "x", 1);
    CHECK(x && x->u.i == 2);                          /* the last duplicate wins */
    CHECK(sl_value_get(&v, "xx", 2) == NULL);
    CHECK(sl_value_get(&v, "a.b", 3) == NULL);         /* get takes a key, not a path */
    sl_value_t n = sl_int(1);
    CHECK(sl_value_get(&n, "a", 1) == NULL);
    CHECK(sl_value_get(NULL, "a", 1) == NULL);
    /* Keys with a NUL inside compare by length. */
    sl_value_t k = J(&arena, "{\"a\\u0000b\":1,\"a\":2}");
    const sl_value_t *kk = sl_value_get(&k, "a\0b", 3);
    CHECK(kk && kk->u.i == 1);
    sl_arena_free(&arena);
}

TEST(set_is_copy_on_write) {
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sl_value_t orig = J(&arena, "{\"a\":1,\"b\":{\"c\":2}}");
    sl_value_t v = orig;
    sl_value_set(&arena, &v, "a", 1, sl_int(10));
    sl_value_set(&arena, &v, "z", 1, sl_str("new", 3));
    CHECK_STR(S(&arena, v), "{\"a\":10,\"b\":{\"c\":2},\"z\":\"new\"}");
    CHECK_STR(S(&arena, orig), "{\"a\":1,\"b\":{\"c\":2}}");
    /* Replacing keeps the position; duplicates collapse to one (keys unique after set). */
    sl_value_t d = J(&arena, "{\"k\":1,\"m\":0,\"k\":2}");
    sl_value_t d0 = d;
    sl_value_set(&arena, &d, "k", 1, sl_int(3));
    CHECK_STR(S(&arena, d), "{\"m\":0,\"k\":3}");
    CHECK_STR(S(&arena, d0), "{\"k\":1,\"m\":0,\"k\":2}");
    /* A non-object becomes an object. */
    sl_value_t n = sl_int(5);
    sl_value_set(&arena, &n, "q", 1, sl_bool(true));
    CHECK_STR(S(&arena, n), "{\"q\":true}");
    /* The key is copied. */
    char key[] = "kk";
    sl_value_t e = sl_object_new(&arena, 0);
    sl_value_set(&arena, &e, key, 2, sl_null());
    key[0] = 'X';
    CHECK(sl_value_get(&e, "kk", 2) != NULL);
    CHECK_STR(e.u.o[0].key, "kk");
    sl_arena_free(&arena);
}

TEST(set_path_creates_objects) {
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sl_value_t orig = J(&arena, "{\"a\":{\"b\":1,\"keep\":true},\"s\":\"str\"}");
    sl_value_t v = orig;
    sl_value_set_path(&arena, &v, "a.b", sl_int(2));
    sl_value_set_path(&arena, &v, "a.c.d", sl_int(3));
    sl_value_set_path(&arena, &v, "s.t", sl_int(4));      /* replaces a non-object */
    sl_value_set_path(&arena, &v, "new.deep.path", sl_null());
    sl_value_set_path(&arena, &v, "top", sl_int(5));
    CHECK_STR(S(&arena, v),
              "{\"a\":{\"b\":2,\"keep\":true,\"c\":{\"d\":3}},\"s\":{\"t\":4},"
              "\"new\":{\"deep\":{\"path\":null}},\"top\":5}");
    /* The original and its nested objects are untouched. */
    CHECK_STR(S(&arena, orig), "{\"a\":{\"b\":1,\"keep\":true},\"s\":\"str\"}");
    sl_value_t n = sl_null();
    sl_value_set_path(&arena, &n, "x.y", sl_int(1));
    CHECK_STR(S(&arena, n), "{\"x\":{\"y\":1}}");
    sl_arena_free(&arena);
}

TEST(del_and_del_path) {
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sl_value_t orig = J(&arena, "{\"a\":1,\"b\":{\"c\":2,\"d\":3},\"a\":4}");
    sl_value_t v = orig;
    CHECK(sl_value_del(&arena, &v, "a", 1));   /* every duplicate goes */
    CHECK(sl_value_get(&v, "a", 1) == NULL);
    CHECK(!sl_value_del(&arena, &v, "a", 1));
    CHECK(sl_value_del_path(&arena, &v, "b.c"));
    CHECK(!sl_value_del_path(&arena, &v, "b.zz"));
    CHECK(!sl_value_del_path(&arena, &v, "nope.c"));
    CHECK_STR(S(&arena, v), "{\"b\":{\"d\":3}}");
    CHECK_STR(S(&arena, orig), "{\"a\":1,\"b\":{\"c\":2,\"d\":3},\"a\":4}");
    sl_value_t n = sl_int(1);
    CHECK(!sl_value_del(&arena, &n, "a", 1));
    CHECK(!sl_value_del_path(&arena, &n, "a.b"));
    sl_arena_free(&arena);
}

TEST(equal) {
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    CHECK(sl_value_equal(sl_int(1), sl_double(1.0)));
    CHECK(sl_value_equal(sl_double(1.0), sl_int(1)));
    CHECK(!sl_value_equal(sl_int(1), sl_double(1.5)));
    CHECK(sl_value_equal(sl_double(0.0), sl_double(-0.0)));
    CHECK(!sl_value_equal(sl_double(NAN), sl_double(NAN)));
    /* No rounding of large ints: 2^53+1 is not the double 2^53. */
    CHECK(!sl_value_equal(sl_int(9007199254740993LL), sl_double(9007199254740992.0)));
    CHECK(sl_value_equal(sl_int(INT64_MIN), sl_double(-9223372036854775808.0)));
    CHECK(!sl_value_equal(sl_int(INT64_MAX), sl_double(9223372036854775808.0)));
    CHECK(!sl_value_equal(sl_int(1), sl_str("1", 1)));
    CHECK(!sl_value_equal(sl_null(), sl_bool(false)));
    CHECK(sl_value_equal(sl_str("ab", 2), sl_str("ab", 2)));
    CHECK(!sl_value_equal(sl_str("ab", 2), sl_str("abc", 3)));
    CHECK(sl_value_equal(J(&arena, "{\"a\":1,\"b\":[1,2,{\"c\":null}]}"),
                         J(&arena, "{\"b\":[1.0,2,{\"c\":null}],\"a\":1}")));
    CHECK(!sl_value_equal(J(&arena, "{\"a\":1,\"b\":2}"), J(&arena, "{\"a\":1}")));
    CHECK(!sl_value_equal(J(&arena, "{\"a\":1}"), J(&arena, "{\"a\":1,\"b\":2}")));
    CHECK(!sl_value_equal(J(&arena, "{\"a\":1,\"b\":2}"), J(&arena, "{\"a\":1,\"c\":2}")));
    CHECK(!sl_value_equal(J(&arena, "[1,2]"), J(&arena, "[2,1]")));
    CHECK(!sl_value_equal(J(&arena, "[1,2]"), J(&arena, "[1,2,3]")));
    /* Duplicate keys: what sl_value_get sees counts. */
    CHECK(sl_value_equal(J(&arena, "{\"a\":1,\"a\":2}"), J(&arena, "{\"a\":2}")));
    CHECK(sl_value_equal(J(&arena, "{\"a\":0,\"b\":1,\"a\":2}"), J(&arena, "{\"a\":3,\"b\":1,\"a\":2}")));
    CHECK(!sl_value_equal(J(&arena, "{\"a\":1,\"a\":2}"), J(&arena, "{\"a\":1}")));
    CHECK(sl_value_equal(J(&arena, "{}"), sl_object_new(&arena, 0)));
    CHECK(!sl_value_equal(J(&arena, "{}"), J(&arena, "[]")));
    sl_arena_free(&arena);
}

TEST(subset) {
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sl_value_t actual = J(&arena, "{\"flare_rank\":51.2,\"duration_s\":1800,\"x\":{\"y\":1,\"z\":2},\"l\":[1,{\"a\":1,\"b\":2}]}");
    CHECK(sl_value_subset(J(&arena, "{\"flare_rank\":51.2,\"duration_s\":1800}"), actual));
    CHECK(sl_value_subset(J(&arena, "{\"duration_s\":1800.0}"), actual));
    CHECK(sl_value_subset(J(&arena, "{\"x\":{\"z\":2}}"), actual));
    CHECK(sl_value_subset(J(&arena, "{\"l\":[1,{\"b\":2}]}"), actual));
    CHECK(sl_value_subset(J(&arena, "{}"), actual));
    CHECK(!sl_value_subset(J(&arena, "{\"l\":[1]}"), actual));    /* arrays: same length */
    CHECK(!sl_value_subset(J(&arena, "{\"missing\":null}"), actual));
    CHECK(!sl_value_subset(J(&arena, "{\"x\":{\"z\":3}}"), actual));
    CHECK(!sl_value_subset(actual, J(&arena, "{\"flare_rank\":51.2}")));
    /* Relative tolerance 1e-9 on doubles. */
    CHECK(sl_value_subset(sl_double(51.2), sl_double(51.2 * (1 + 1e-12))));
    CHECK(sl_value_subset(sl_double(0.1 + 0.2), sl_double(0.3)));
    CHECK(!sl_value_subset(sl_double(51.2), sl_double(51.2 * (1 + 1e-7))));
    CHECK(sl_value_subset(sl_int(1800), sl_double(1800.0000000001)));
    CHECK(!sl_value_subset(sl_int(1), sl_str("1", 1)));
    CHECK(sl_value_subset(sl_str("a", 1), sl_str("a", 1)));
    CHECK(sl_value_subset(sl_null(), sl_null()));
    sl_arena_free(&arena);
}

TEST(cmp_total_order) {
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    /* null < bool < numbers < strings < arrays < objects */
    sl_value_t order[] = {
        sl_null(),         sl_bool(false),   sl_bool(true),     sl_int(INT64_MIN), sl_double(-1.5),
        sl_int(-1),        sl_double(0.5),   sl_int(1),         sl_double(1.5),    sl_int(INT64_MAX),
        sl_double(1e300),  sl_str("", 0),    sl_str("a", 1),    sl_str("ab", 2),   sl_str("b", 1),
        J(&arena, "[]"),   J(&arena, "[1]"), J(&arena, "[1,2]"), J(&arena, "[2]"),
        J(&arena, "{}"),   J(&arena, "{\"a\":1}"), J(&arena, "{\"a\":2}"), J(&arena, "{\"b\":0}"),
        J(&arena, "{\"a\":1,\"b\":1}"),
    };
    size_t n = sizeof order / sizeof *order;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int c = sl_value_cmp(order[i], order[j]);
            int want = (i > j) - (i < j);
            if ((c > 0) - (c < 0) != want) T_FAIL("cmp(#%zu, #%zu) = %d, want %d", i, j, c, want);
        }
    }
    CHECK_INT(sl_value_cmp(sl_int(2), sl_double(2.0)), 0);
    CHECK(sl_value_cmp(sl_int(9007199254740993LL), sl_double(9007199254740992.0)) > 0);
    CHECK(sl_value_cmp(sl_double(9007199254740992.0), sl_int(9007199254740993LL)) < 0);
    CHECK(sl_value_cmp(sl_str("\xc3\xa9", 2), sl_str("z", 1)) > 0);   /* code point order */
    sl_arena_free(&arena);
}

TEST(copy_is_deep) {
    sl_arena_t a1, a2;
    sl_arena_init(&a1, 1024);
    sl_arena_init(&a2, 1024);
    sl_value_t v = J(&a1, "{\"s\":\"text\",\"n\":[1,2.5,null,true,{\"k\":\"v\"}],\"e\":{},\"ea\":[]}");
    sl_value_t c = sl_value_copy(&a2, v);
    CHECK(sl_value_equal(v, c));
    const char *text = S(&a2, c);
    sl_arena_free(&a1);   /* the copy must not point into the freed arena (ASan) */
    CHECK_STR(S(&a2, c), text);
    CHECK_STR(text, "{\"s\":\"text\",\"n\":[1,2.5,null,true,{\"k\":\"v\"}],\"e\":{},\"ea\":[]}");
    sl_arena_free(&a2);
}

TEST(truthy) {
    sl_arena_t arena;
    sl_arena_init(&arena, 256);
    CHECK(!sl_value_truthy(sl_null()));
    CHECK(!sl_value_truthy(sl_bool(false)));
    CHECK(sl_value_truthy(sl_bool(true)));
    CHECK(!sl_value_truthy(sl_int(0)));
    CHECK(sl_value_truthy(sl_int(-1)));
    CHECK(!sl_value_truthy(sl_double(0.0)));
    CHECK(!sl_value_truthy(sl_double(-0.0)));
    CHECK(!sl_value_truthy(sl_double(NAN)));
    CHECK(sl_value_truthy(sl_double(0.1)));
    CHECK(!sl_value_truthy(sl_str("", 0)));
    CHECK(sl_value_truthy(sl_str("0", 1)));
    CHECK(sl_value_truthy(J(&arena, "[]")));
    CHECK(sl_value_truthy(J(&arena, "{}")));
    sl_arena_free(&arena);
}
