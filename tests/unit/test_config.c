/* test_config.c - unit tests of the YAML config tree, positions, env expansion,
 * diagnostics, scalar conversions and declarative config maps. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/config.h"
#include "sluice/error.h"
#include "t.h"


/* ---- helpers ---- */

static int load(sl_conf_t *conf, sl_diags_t *diags, const char *text) {
    return sl_conf_load_string(conf, "t.yaml", text, strlen(text), diags);
}

/* The diagnostics as printed, in a static buffer. */
static const char *printed(sl_diags_t *diags) {
    static char out[8192];
    FILE *f = tmpfile();
    if (!f) return "(tmpfile failed)";
    sl_diags_print(diags, f);
    long n = ftell(f);
    rewind(f);
    size_t got = fread(out, 1, n > 0 && (size_t)n < sizeof out ? (size_t)n : 0, f);
    out[got] = 0;
    fclose(f);
    return out;
}

/* The node at a dotted path ("sources.iss.every"; a number indexes a sequence). */
static sl_cnode_t *at(sl_cnode_t *node, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *part = strtok(buf, "/"); part && node; part = strtok(NULL, "/")) {
        if (node->kind == SL_CNODE_SEQ) {
            size_t i = (size_t)atoi(part);
            node = i < node->n ? node->items[i] : NULL;
        } else {
            node = sl_cnode_get(node, part);
        }
    }
    return node;
}

#define CHECK_POS(node, l, c)                                                  \
    do {                                                                       \
        const sl_cnode_t *n_ = (node);                                         \
        CHECK(n_ != NULL);                                                     \
        if (n_) { CHECK_INT(n_->line, l); CHECK_INT(n_->col, c); }             \
    } while (0)

#define CHECK_POS_AT(node, off, l, c)                                          \
    do {                                                                       \
        int l_ = -1, c_ = -1;                                                  \
        sl_cnode_pos_at((node), (off), &l_, &c_);                              \
        CHECK_INT(l_, l);                                                      \
        CHECK_INT(c_, c);                                                      \
    } while (0)

/* ---- the tree and its positions ---- */

static const char *sample =
    "# a multi-document sample\n"                           /* 1 */
    "data_dir: ./data\n"                                    /* 2 */
    "topics:\n"                                             /* 3 */
    "  iss.positions: { partitions: 1, retention: 7d }\n"  /* 4 */
    "---\n"                                                 /* 5 */
    "sources:\n"                                            /* 6 */
    "  iss:\n"                                              /* 7 */
    "    every: 5s\n"                                       /* 8 */
    "    to: iss.positions\n"                               /* 9 */
    "    hosts:\n"                                          /* 10 */
    "      - a\n"                                           /* 11 */
    "      -   &h \"b\"\n"                                  /* 12 */
    "    again: *h\n";                                      /* 13 */

TEST(tree_positions_multi_doc) {
    sl_conf_t conf;
    sl_diags_t diags = {0};
    CHECK_INT(load(&conf, &diags, sample), 0);
    CHECK_INT(diags.n, 0);
    sl_cnode_t *root = conf.root;
    CHECK(root && root->kind == SL_CNODE_MAP);
    if (!root) return;
    CHECK_INT(root->n, 3);   /* the documents' mappings are joined */
    CHECK_STR(root->file, "t.yaml");
    CHECK_STR(conf.file, "t.yaml");
    CHECK_POS(root, 2, 1);
    CHECK_POS(root->pairs[0].key, 2, 1);
    CHECK_POS(at(root, "data_dir"), 2, 11);
    CHECK_STR(at(root, "data_dir")->str, "./data");
    CHECK_POS(at(root, "topics"), 4, 3);
    CHECK_POS(at(root, "topics/iss.positions"), 4, 18);
    CHECK_POS(at(root, "topics/iss.positions/partitions"), 4, 32);
    CHECK_POS(at(root, "topics/iss.positions/retention"), 4, 46);
    CHECK_POS(root->pairs[2].key, 6, 1);
    CHECK_POS(at(root, "sources/iss/every"), 8, 12);
    CHECK_POS(at(root, "sources/iss/to"), 9, 9);
    CHECK_POS(at(root, "sources/iss/hosts"), 11, 7);
    CHECK_POS(at(root, "sources/iss/hosts/0"), 11, 9);
    /* an anchor is not the value: the node starts at the quote */
    CHECK_POS(at(root, "sources/iss/hosts/1"), 12, 14);
    CHECK(at(root, "sources/iss/again") == at(root, "sources/iss/hosts/1"));
    CHECK_INT(at(root, "sources/iss/hosts/1")->style, '"');
    CHECK_INT(at(root, "sources/iss/hosts")->kind, SL_CNODE_SEQ);
    CHECK(sl_cnode_get(root, "nope") == NULL);
    CHECK(sl_cnode_get(at(root, "data_dir"), "x") == NULL);
    CHECK_STR(sl_cnode_kind_name(SL_CNODE_SCALAR), "scalar");
    CHECK_STR(sl_cnode_kind_name(SL_CNODE_MAP), "mapping");
    CHECK_STR(sl_cnode_kind_name(SL_CNODE_SEQ), "sequence");
    sl_conf_free(&conf);
    sl_diags_free(&diags);
}

TEST(tree_styles_nulls_crlf_bom) {
    sl_conf_t conf;
    sl_diags_t diags = {0};
    const char *text = "\xEF\xBB\xBF" "a: x\r\nb:\r\nc: ~\r\nd: 'q'\r\ne: |\r\n  lit\r\nf: >\r\n  fold\r\n";
    CHECK_INT(load(&conf, &diags, text), 0);
    sl_cnode_t *r = conf.root;
    CHECK_POS(at(r, "a"), 1, 4);   /* the BOM is not a column */
    CHECK_POS(at(r, "b"), 2, 3);
    CHECK(sl_cnode_is_null(at(r, "b")));
    CHECK(sl_cnode_is_null(at(r, "c")));
    CHECK(!sl_cnode_is_null(at(r, "d")));
    CHECK(sl_cnode_is_null(NULL));
    CHECK_INT(at(r, "a")->style, 0);
    CHECK_INT(at(r, "d")->style, '\'');
    CHECK_INT(at(r, "e")->style, '|');
    CHECK_INT(at(r, "f")->style, '>');
    CHECK_STR(at(r, "e")->str, "lit\n");
    CHECK_POS_AT(at(r, "e"), 1, 6, 4);
    CHECK_POS_AT(at(r, "f"), 2, 8, 5);
    sl_conf_free(&conf);
    sl_diags_free(&diags);
}

TEST(tree_empty_and_non_mapping) {
    sl_conf_t conf;
    sl_diags_t diags = {0};
    CHECK_INT(load(&conf, &diags, ""), 0);
    CHECK(conf.root == NULL);
    sl_conf_free(&conf);
    CHECK_INT(load(&conf, &diags, "# only a comment\n"), 0);
    CHECK(conf.root == NULL);
    sl_conf_free(&conf);
    CHECK_INT(load(&conf, &diags, "- 1\n- 2\n"), 0);
    CHECK(conf.root && conf.root->kind == SL_CNODE_SEQ && conf.root->n == 2);
    sl_conf_free(&conf);
    CHECK_INT(load(&conf, &diags, "just text\n"), 0);
    CHECK(conf.root && conf.root->kind == SL_CNODE_SCALAR);
    sl_conf_free(&conf);
    CHECK_INT(diags.n, 0);
    /* a later document that is not a mapping cannot be joined */
    CHECK_INT(load(&conf, &diags, "a: 1\n---\n- x\n"), SL_CONFIG);
    CHECK_STR(printed(&diags), "t.yaml:3:1: error: each document of a multi-document file must be a mapping, got a sequence\n");
    sl_conf_free(&conf);
    sl_diags_free(&diags);
}

TEST(tree_anchors_merge) {
    sl_conf_t conf;
    sl_diags_t diags = {0};
    const char *text =
        "base: &b { k: 1, j: 2 }\n"
        "more: &m { z: 9, j: 7 }\n"
        "one:\n"
        "  <<: *b\n"
        "  k: 3\n"
        "two:\n"
        "  <<: [*m, *b]\n"
        "'<<': quoted is a plain key\n";
    CHECK_INT(load(&conf, &diags, text), 0);
    CHECK_INT(diags.n, 0);
    sl_cnode_t *r = conf.root;
    CHECK_STR(at(r, "one/k")->str, "3");      /* written keys win */
    CHECK_STR(at(r, "one/j")->str, "2");
    CHECK_INT(at(r, "one")->n, 2);
    CHECK(sl_cnode_get(at(r, "one"), "<<") == NULL);
    CHECK_STR(at(r, "two/j")->str, "7");      /* earlier sources win */
    CHECK_STR(at(r, "two/z")->str, "9");
    CHECK_STR(at(r, "two/k")->str, "1");
    CHECK_POS(at(r, "two/k"), 1, 15);         /* merged nodes keep their place */
    CHECK_STR(sl_cnode_get(r, "<<")->str, "quoted is a plain key");
    sl_conf_free(&conf);

    CHECK_INT(load(&conf, &diags, "a: &a [1, *a]\nm:\n  <<: 5\n"), SL_CONFIG);
    CHECK_STR(printed(&diags),
              "t.yaml:1:7: error: recursive alias: a node cannot contain itself\n"
              "t.yaml:3:7: error: merge key '<<' needs a mapping or a sequence of mappings, got a scalar\n");
    CHECK(conf.root != NULL);   /* kept: the tree is still acyclic */
    sl_conf_free(&conf);
    sl_diags_free(&diags);

    CHECK_INT(load(&conf, &diags, "? [a, b]\n: 1\nc: 2\n"), SL_CONFIG);
    CHECK_STR(printed(&diags), "t.yaml:1:3: error: a mapping key must be a scalar, got a sequence\n");
    CHECK_INT(conf.root->n, 1);
    sl_conf_free(&conf);
    sl_diags_free(&diags);
}

TEST(tree_alias_bomb_refused) {
    sl_conf_t conf;
    sl_diags_t diags = {0};
    const char *text =
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
        "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    CHECK_INT(load(&conf, &diags, text), SL_CONFIG);
    CHECK(conf.root == NULL);
    CHECK_INT(diags.n, 1);
    sl_conf_free(&conf);
    sl_diags_free(&diags);
}

TEST(tree_duplicate_keys) {
    sl_conf_t conf;
    sl_diags_t diags = {0};
    CHECK_INT(load(&conf, &diags, "a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\na: 4\n"), SL_CONFIG);
    CHECK_STR(printed(&diags),
              "t.yaml:5:3: error: duplicate key 'x' (first defined on line 3)\n"
              "t.yaml:6:1: error: duplicate key 'a' (first defined on line 1)\n");
    CHECK(conf.root != NULL);
    CHECK_STR(at(conf.root, "a")->str, "1");   /* the first one stays */
    CHECK_STR(at(conf.root, "b/x")->str, "1");
    CHECK_INT(at(conf.root, "b")->n, 2);
    sl_conf_free(&conf);
    sl_diags_free(&diags);

    /* across the documents of one file too */
    CHECK_INT(load(&conf, &diags, "a: 1\n---\nb: 2\na: 3\n"), SL_CONFIG);
    CHECK_STR(printed(&diags), "t.yaml:4:1: error: duplicate key 'a' (first defined on line 1)\n");
    sl_conf_free(&conf);
    sl_diags_free(&diags);
}

/* ---- syntax errors ---- */

TEST(syntax_errors) {
    static const struct { const char *text, *want; } cases[] = {
        {"a: b: c\n", "t.yaml:1:5: error: mapping values are not allowed in this context\n"},
        {"a: 1\n  b: 2\n", "t.yaml:2:4: error: mapping values are not allowed in this context\n"},
        {"a: [1, 2\n", "t.yaml:2:1: error: did not find expected ',' or ']'\n"},
        {"key: 'unterminated\n", "t.yaml:2:1: error: found unexpected end of stream\n"},
        {"a:\n\tb: 1\n", "t.yaml:2:1: error: found character that cannot start any token\n"},
        {"a: *nope\n", "t.yaml:1:4: error: found undefined alias\n"},
        {"a: \"\\q\"\n", "t.yaml:1:5: error: found unknown escape character\n"},
        {"a:\n  - b\n c: 1\n", "t.yaml:3:2: error: did not find expected key\n"},
        {"a: \"\xff\"\n", "t.yaml:1:5: error: invalid leading UTF-8 octet\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_conf_t conf;
        sl_diags_t diags = {0};
        CHECK_INT(load(&conf, &diags, cases[i].text), SL_CONFIG);
        CHECK(conf.root == NULL);
        CHECK_STR(printed(&diags), cases[i].want);
        sl_conf_free(&conf);
        sl_conf_free(&conf);   /* harmless twice */
        sl_diags_free(&diags);
    }
}

TEST(load_file) {
    char path[] = "/tmp/sluice_test_configXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    const char *text = "a: 1\nb: [x, y]\n";
    CHECK_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    sl_conf_t conf;
    sl_diags_t diags = {0};
    CHECK_INT(sl_conf_load(&conf, path, &diags), 0);
    CHECK_STR(conf.file, path);
    CHECK_STR(at(conf.root, "b")->file, path);
    CHECK_POS(at(conf.root, "b/1"), 2, 8);
    sl_conf_free(&conf);
    unlink(path);
    CHECK_INT(sl_conf_load(&conf, path, &diags), SL_CONFIG);
    CHECK(conf.root == NULL);
    CHECK_INT(diags.n, 1);
    CHECK(strstr(printed(&diags), "error: cannot read configuration file") != NULL);
    sl_conf_free(&conf);
    sl_diags_free(&diags);
}

/* ---- ${VAR} ---- */

TEST(env_expansion) {
    setenv("SLT_A", "hello", 1);
    setenv("SLT_EMPTY", "", 1);
    unsetenv("SLT_UNSET");
    unsetenv("NASA_API_KEY");
    sl_conf_t conf;
    sl_diags_t diags = {0};
    const char *text =
        "a: ${SLT_A}\n"
        "b: \"pre-${SLT_A}-post\"\n"
        "c: ${SLT_UNSET:-dflt}\n"
        "d: ${SLT_EMPTY:-used}\n"
        "e: \"[${SLT_EMPTY}]\"\n"
        "f: $${SLT_A} and $$ and $x\n"
        "g: cost $5\n"
        "h: ${SLT_UNSET:-}\n"
        "key: ${NASA_API_KEY}\n"
        "i: |\n"
        "  ${SLT_A}\n";
    CHECK_INT(load(&conf, &diags, text), SL_CONFIG);
    sl_cnode_t *r = conf.root;
    CHECK_STR(at(r, "a")->str, "hello");
    CHECK(at(r, "a")->expanded);
    CHECK_INT(at(r, "a")->len, 5);
    CHECK_STR(at(r, "b")->str, "pre-hello-post");
    CHECK_STR(at(r, "c")->str, "dflt");
    CHECK_STR(at(r, "d")->str, "used");
    CHECK_STR(at(r, "e")->str, "[]");
    CHECK_STR(at(r, "f")->str, "${SLT_A} and $$ and $x");
    CHECK_STR(at(r, "g")->str, "cost $5");
    CHECK(!at(r, "g")->expanded);
    CHECK_STR(at(r, "h")->str, "");
    CHECK_STR(at(r, "i")->str, "hello\n");
    CHECK_STR(printed(&diags), "t.yaml:9:6: error: environment variable NASA_API_KEY is not set\n");
    sl_conf_free(&conf);
    sl_diags_free(&diags);

    CHECK_INT(load(&conf, &diags, "a: ${1X}\nb: x ${OPEN\n"), SL_CONFIG);
    CHECK_STR(printed(&diags),
              "t.yaml:1:4: error: invalid environment variable name '1X' in '${...}'\n"
              "t.yaml:2:4: error: unterminated '${' (write '$${' for a literal '${')\n");
    sl_conf_free(&conf);
    sl_diags_free(&diags);
    unsetenv("SLT_A");
    unsetenv("SLT_EMPTY");
}

/* ---- positions inside scalars ---- */

TEST(pos_at_scalars) {
    sl_conf_t conf;
    sl_diags_t diags = {0};
    const char *text =
        "plain: a + b\n"                  /* 1 */
        "single: 'it''s x'\n"             /* 2 */
        "double: \"h\\u00e9 \\\"q\\\" x\"\n" /* 3: "h\u00e9 \"q\" x" */
        "lit: |\n"                        /* 4 */
        "  one\n"                         /* 5 */
        "    two\n"                       /* 6 */
        "  three\n"                       /* 7 */
        "fold: >\n"                       /* 8 */
        "  aa\n"                          /* 9 */
        "  bb\n"                          /* 10 */
        "\n"                              /* 11 */
        "  cc\n"                          /* 12 */
        "multi: first\n"                  /* 13 */
        "   second\n"                     /* 14 */
        "utf: \"é x\"\n";                 /* 15 */
    CHECK_INT(load(&conf, &diags, text), 0);
    sl_cnode_t *r = conf.root;

    sl_cnode_t *n = at(r, "plain");
    CHECK_STR(n->str, "a + b");
    CHECK_POS_AT(n, 0, 1, 8);
    CHECK_POS_AT(n, 4, 1, 12);
    CHECK_POS_AT(n, 5, 1, 13);    /* the end */
    CHECK_POS_AT(n, 99, 1, 13);   /* clamped */

    n = at(r, "single");
    CHECK_STR(n->str, "it's x");
    CHECK_POS(n, 2, 9);           /* the quote */
    CHECK_POS_AT(n, 0, 2, 10);
    CHECK_POS_AT(n, 2, 2, 12);    /* the '' */
    CHECK_POS_AT(n, 3, 2, 14);
    CHECK_POS_AT(n, 5, 2, 16);

    n = at(r, "double");
    CHECK_STR(n->str, "h\xc3\xa9 \"q\" x");
    CHECK_POS_AT(n, 0, 3, 10);
    CHECK_POS_AT(n, 1, 3, 11);    /* \u00e9 is 2 bytes of text */
    CHECK_POS_AT(n, 2, 3, 11);
    CHECK_POS_AT(n, 3, 3, 17);
    CHECK_POS_AT(n, 4, 3, 18);    /* \" */
    CHECK_POS_AT(n, 5, 3, 20);
    CHECK_POS_AT(n, 8, 3, 24);

    n = at(r, "lit");
    CHECK_STR(n->str, "one\n  two\nthree\n");
    CHECK_POS_AT(n, 0, 5, 3);
    CHECK_POS_AT(n, 2, 5, 5);
    CHECK_POS_AT(n, 4, 6, 3);
    CHECK_POS_AT(n, 6, 6, 5);
    CHECK_POS_AT(n, 10, 7, 3);
    CHECK_POS_AT(n, 14, 7, 7);

    n = at(r, "fold");
    CHECK_STR(n->str, "aa bb\ncc\n");
    CHECK_POS_AT(n, 1, 9, 4);
    CHECK_POS_AT(n, 3, 10, 3);
    CHECK_POS_AT(n, 6, 12, 3);
    CHECK_POS_AT(n, 7, 12, 4);

    n = at(r, "multi");
    CHECK_STR(n->str, "first second");
    CHECK_POS_AT(n, 0, 13, 8);
    CHECK_POS_AT(n, 6, 14, 4);
    CHECK_POS_AT(n, 8, 14, 6);

    n = at(r, "utf");
    CHECK_POS_AT(n, 0, 15, 7);
    CHECK_POS_AT(n, 2, 15, 8);    /* columns count characters */
    CHECK_POS_AT(n, 3, 15, 9);

    /* not a scalar, and a node not made by the loader */
    CHECK_POS_AT(r, 3, 1, 1);
    sl_cnode_t made = {0};
    made.kind = SL_CNODE_SCALAR;
    made.str = "abc";
    made.len = 3;
    made.line = 4;
    made.col = 2;
    CHECK_POS_AT(&made, 2, 4, 4);
    sl_conf_free(&conf);
    sl_diags_free(&diags);
}

/* ---- scalar conversions ---- */

TEST(parse_durations) {
    static const struct { const char *s; bool ok; int64_t ms; } cases[] = {
        {"250ms", true, 250},         {"5s", true, 5000},
        {"10m", true, 600000},        {"2h", true, 7200000},
        {"7d", true, 604800000},      {"1h30m", true, 5400000},
        {"1d2h3m4s5ms", true, 93784005}, {"30", true, 30000},
        {"0", true, 0},               {"0s", true, 0},
        {"", false, 0},               {"-5s", false, 0},
        {"5 parsecs", false, 0},      {"5", true, 5000},
        {"5x", false, 0},             {"1h30", false, 0},
        {"s", false, 0},              {" 5s", false, 0},
        {"5s ", false, 0},            {"1.5h", false, 0},
        {"9223372036854775807ms", true, INT64_MAX},
        {"9223372036854775808ms", false, 0},
        {"9223372036854775807s", false, 0},
        {"106751991167d", true, 9223372036828800000},
        {"106751991168d", false, 0},  {"9223372036854776s", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        bool ok = sl_parse_duration(cases[i].s, &ms);
        if (ok != cases[i].ok) T_FAIL("duration '%s': ok=%d", cases[i].s, ok);
        else if (ok) CHECK_INT(ms, cases[i].ms);
    }
    int64_t ms;
    CHECK(!sl_parse_duration(NULL, &ms));
}

TEST(parse_sizes) {
    static const struct { const char *s; bool ok; int64_t n; } cases[] = {
        {"512", true, 512},         {"4k", true, 4096},
        {"4K", true, 4096},         {"4KB", true, 4096},
        {"64KiB", true, 65536},     {"16MB", true, 16 << 20},
        {"16MiB", true, 16 << 20},  {"16M", true, 16 << 20},
        {"1GiB", true, 1 << 30},    {"2G", true, (int64_t)2 << 30},
        {"1TB", true, (int64_t)1 << 40}, {"100B", true, 100},
        {"16 MB", true, 16 << 20},  {"0", true, 0},
        {"", false, 0},             {"-1k", false, 0},
        {"5 parsecs", false, 0},    {"1.5G", false, 0},
        {"k", false, 0},            {"4kk", false, 0},
        {"4 ", false, 0},           {"8589934592G", false, 0},
        {"99999999999999999999", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t n = -1;
        bool ok = sl_parse_size(cases[i].s, &n);
        if (ok != cases[i].ok) T_FAIL("size '%s': ok=%d", cases[i].s, ok);
        else if (ok) CHECK_INT(n, cases[i].n);
    }
}

TEST(parse_bools) {
    static const char *yes[] = {"true", "True", "yes", "on", "ON"}, *no[] = {"false", "no", "Off"},
                      *bad[] = {"", "1", "maybe", "tru"};
    for (size_t i = 0; i < 5; i++) {
        bool b = false;
        CHECK(sl_parse_bool(yes[i], &b) && b);
    }
    for (size_t i = 0; i < 3; i++) {
        bool b = true;
        CHECK(sl_parse_bool(no[i], &b) && !b);
    }
    for (size_t i = 0; i < 4; i++) {
        bool b;
        CHECK(!sl_parse_bool(bad[i], &b));
    }
}

TEST(did_you_mean) {
    static const char *const keys[] = {"every", "cron", "run_for", "to", "key", "ts", "http", NULL};
    CHECK_STR(sl_did_you_mean("evry", keys), "every");
    CHECK_STR(sl_did_you_mean("crom", keys), "cron");
    CHECK_STR(sl_did_you_mean("runfor", keys), "run_for");
    CHECK_STR(sl_did_you_mean("htp", keys), "http");
    CHECK_STR(sl_did_you_mean("every", keys), "every");
    CHECK(sl_did_you_mean("schedule", keys) == NULL);
    CHECK(sl_did_you_mean("completely_unrelated", keys) == NULL);
    static const char *const long_keys[] = {"replication_factor", NULL};
    CHECK_STR(sl_did_you_mean("replicaton_factr", long_keys), "replication_factor");   /* 2 <= 16/3 */
    CHECK(sl_did_you_mean("replic", long_keys) == NULL);
    static const char *const none[] = {NULL};
    CHECK(sl_did_you_mean("x", none) == NULL);
}

/* ---- config maps ---- */

typedef struct sample_conf {
    char *url;
    int64_t partitions;
    double ratio;
    bool follow;
    int64_t every_ms;
    int64_t max_bytes;
    int fsync;
    sl_strlist_t hosts;
    const sl_cnode_t *props;
    const sl_cnode_t *records;
    char *method;
    sl_strlist_t tags;
    const sl_cnode_t *filter;
    int64_t untouched;
} sample_conf_t;

static const sl_config_map_t sample_map[] = {
    {"url", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(sample_conf_t, url), NULL, "where to fetch from"},
    {"partitions", SL_CFG_INT, "1", 0, offsetof(sample_conf_t, partitions), NULL, "partition count"},
    {"ratio", SL_CFG_DOUBLE, "0.5", 0, offsetof(sample_conf_t, ratio), NULL, "a ratio"},
    {"follow", SL_CFG_BOOL, "false", 0, offsetof(sample_conf_t, follow), NULL, "keep reading"},
    {"every", SL_CFG_DURATION, "5s", 0, offsetof(sample_conf_t, every_ms), NULL, "poll interval"},
    {"max_bytes", SL_CFG_SIZE, "1MiB", 0, offsetof(sample_conf_t, max_bytes), NULL, "largest body"},
    {"fsync", SL_CFG_ENUM, "interval", 0, offsetof(sample_conf_t, fsync), "always|interval|off", "when to fsync"},
    {"hosts", SL_CFG_STRLIST, "[127.0.0.1, '::1']", 0, offsetof(sample_conf_t, hosts), NULL, "servers"},
    {"props", SL_CFG_NODE, NULL, 0, offsetof(sample_conf_t, props), NULL, "extra properties"},
    {"records", SL_CFG_EXPR, "this", 0, offsetof(sample_conf_t, records), NULL, "the record list"},
    {"method", SL_CFG_STR, "GET", 0, offsetof(sample_conf_t, method), NULL, "HTTP method | verb"},
    {"tags", SL_CFG_STRLIST, NULL, 0, offsetof(sample_conf_t, tags), NULL, "labels"},
    {"filter", SL_CFG_EXPR, NULL, 0, offsetof(sample_conf_t, filter), NULL, "keep when true"},
    {"untouched", SL_CFG_INT, NULL, 0, offsetof(sample_conf_t, untouched), NULL, "no default"},
    SL_CONFIG_END,
};

TEST(config_apply_every_type) {
    sl_conf_t conf;
    sl_diags_t diags = {0};
    const char *text =
        "src:\n"
        "  url: https://example.org/x\n"
        "  partitions: 12\n"
        "  ratio: 2.5e-1\n"
        "  follow: yes\n"
        "  every: 1h30m\n"
        "  max_bytes: 64KiB\n"
        "  fsync: off\n"
        "  hosts: [a, b, c]\n"
        "  props: { acks: all }\n"
        "  records: body.items\n"
        "  tags: single\n"
        "  filter: \"x > 1\"\n"
        "  untouched:\n";
    CHECK_INT(load(&conf, &diags, text), 0);
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sample_conf_t c;
    memset(&c, 0, sizeof c);
    c.untouched = 42;
    CHECK_INT(sl_config_apply(sample_map, at(conf.root, "src"), &c, "source 'x'", &arena, &diags), 0);
    CHECK_STR(printed(&diags), "");
    CHECK_STR(c.url, "https://example.org/x");
    CHECK_INT(c.partitions, 12);
    CHECK_NEAR(c.ratio, 0.25, 1e-12);
    CHECK(c.follow);
    CHECK_INT(c.every_ms, 5400000);
    CHECK_INT(c.max_bytes, 65536);
    CHECK_INT(c.fsync, 2);
    CHECK_INT(c.hosts.n, 3);
    if (c.hosts.n == 3) CHECK_STR(c.hosts.v[2], "c");
    CHECK(c.props == at(conf.root, "src/props"));
    CHECK(c.records == at(conf.root, "src/records"));
    CHECK_STR(c.records->str, "body.items");
    CHECK_STR(c.method, "GET");
    CHECK_INT(c.tags.n, 1);
    if (c.tags.n == 1) CHECK_STR(c.tags.v[0], "single");
    CHECK_STR(c.filter->str, "x > 1");
    CHECK_INT(c.untouched, 42);   /* null = absent, and no default */
    sl_conf_free(&conf);          /* strings were copied into the arena */
    CHECK_STR(c.url, "https://example.org/x");
    sl_arena_free(&arena);
    sl_diags_free(&diags);
}

TEST(config_apply_defaults) {
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sl_diags_t diags = {0};
    static const sl_config_map_t opt_map[] = {
        {"partitions", SL_CFG_INT, "1", 0, offsetof(sample_conf_t, partitions), NULL, ""},
        {"every", SL_CFG_DURATION, "5s", 0, offsetof(sample_conf_t, every_ms), NULL, ""},
        {"max_bytes", SL_CFG_SIZE, "1MiB", 0, offsetof(sample_conf_t, max_bytes), NULL, ""},
        {"fsync", SL_CFG_ENUM, "interval", 0, offsetof(sample_conf_t, fsync), "always|interval|off", ""},
        {"hosts", SL_CFG_STRLIST, "[127.0.0.1, '::1']", 0, offsetof(sample_conf_t, hosts), NULL, ""},
        {"records", SL_CFG_EXPR, "this", 0, offsetof(sample_conf_t, records), NULL, ""},
        {"ratio", SL_CFG_DOUBLE, "0.5", 0, offsetof(sample_conf_t, ratio), NULL, ""},
        {"follow", SL_CFG_BOOL, "on", 0, offsetof(sample_conf_t, follow), NULL, ""},
        {"method", SL_CFG_STR, "GET", 0, offsetof(sample_conf_t, method), NULL, ""},
        SL_CONFIG_END,
    };
    sample_conf_t c;
    memset(&c, 0, sizeof c);
    CHECK_INT(sl_config_apply(opt_map, NULL, &c, "topic 'x'", &arena, &diags), 0);
    CHECK_INT(c.partitions, 1);
    CHECK_INT(c.every_ms, 5000);
    CHECK_INT(c.max_bytes, 1 << 20);
    CHECK_INT(c.fsync, 1);
    CHECK_INT(c.hosts.n, 2);
    if (c.hosts.n == 2) { CHECK_STR(c.hosts.v[0], "127.0.0.1"); CHECK_STR(c.hosts.v[1], "::1"); }
    CHECK(c.records && c.records->kind == SL_CNODE_SCALAR);
    if (c.records) CHECK_STR(c.records->str, "this");
    CHECK_NEAR(c.ratio, 0.5, 1e-12);
    CHECK(c.follow);
    CHECK_STR(c.method, "GET");

    /* `stdout:` (a YAML null) is "all defaults" too */
    sl_conf_t conf;
    CHECK_INT(load(&conf, &diags, "sink:\n"), 0);
    memset(&c, 0, sizeof c);
    CHECK_INT(sl_config_apply(opt_map, at(conf.root, "sink"), &c, "sink 'stdout'", &arena, &diags), 0);
    CHECK_INT(c.every_ms, 5000);
    sl_conf_free(&conf);

    /* a missing required key without a block has no position */
    memset(&c, 0, sizeof c);
    CHECK_INT(sl_config_apply(sample_map, NULL, &c, "source 'iss'", &arena, &diags), 1);
    CHECK_STR(printed(&diags), "error: source 'iss': missing required key 'url'\n");
    sl_diags_free(&diags);
    sl_arena_free(&arena);
}

TEST(config_apply_errors) {
    sl_conf_t conf;
    sl_diags_t diags = {0};
    const char *text =
        "src:\n"                       /* 1 */
        "  evry: 5s\n"                 /* 2 */
        "  partitions: {a: 1}\n"       /* 3 */
        "  every: 5 parsecs\n"         /* 4 */
        "  fsync: sometimes\n"         /* 5 */
        "  hosts: [a, {b: 1}]\n"       /* 6 */
        "  max_bytes: lots\n"          /* 7 */
        "  ratio: abc\n"               /* 8 */
        "  follow: maybe\n"            /* 9 */
        "  filter: [x]\n"              /* 10 */
        "  zzzzzzzz: 1\n"              /* 11 */
        "  method: [GET]\n"            /* 12 */
        "  tags: {a: b}\n"             /* 13 */
        "  untouched: 12abc\n"         /* 14 */
        "scalar: text\n";              /* 15 */
    CHECK_INT(load(&conf, &diags, text), 0);
    sl_arena_t arena;
    sl_arena_init(&arena, 1024);
    sample_conf_t c;
    memset(&c, 0, sizeof c);
    CHECK_INT(sl_config_apply(sample_map, at(conf.root, "src"), &c, "source 'iss'", &arena, &diags), 14);
    CHECK_STR(printed(&diags),
              "t.yaml:2:3: error: unknown key 'evry' in source 'iss' (did you mean 'every'?)\n"
              "t.yaml:2:3: error: source 'iss': missing required key 'url'\n"
              "t.yaml:3:15: error: 'partitions' of source 'iss' must be an integer, got a mapping\n"
              "t.yaml:4:10: error: invalid duration '5 parsecs' for 'every' (use e.g. 250ms, 5s, 10m, 2h, 7d)\n"
              "t.yaml:5:10: error: 'fsync' must be one of always, interval, off\n"
              "t.yaml:6:14: error: 'hosts' of source 'iss' must be a string or a list of strings, got a sequence holding a mapping\n"
              "t.yaml:7:14: error: invalid size 'lots' for 'max_bytes' (use e.g. 512, 4k, 64KiB, 16MB, 1GiB)\n"
              "t.yaml:8:10: error: invalid number 'abc' for 'ratio'\n"
              "t.yaml:9:11: error: invalid boolean 'maybe' for 'follow' (use true or false)\n"
              "t.yaml:10:11: error: 'filter' of source 'iss' must be an expression (a string), got a sequence\n"
              "t.yaml:11:3: error: unknown key 'zzzzzzzz' in source 'iss'\n"
              "t.yaml:12:11: error: 'method' of source 'iss' must be a string, got a sequence\n"
              "t.yaml:13:9: error: 'tags' of source 'iss' must be a string or a list of strings, got a mapping\n"
              "t.yaml:14:14: error: invalid integer '12abc' for 'untouched'\n");
    sl_diags_free(&diags);

    /* a block that is not a mapping */
    memset(&c, 0, sizeof c);
    CHECK_INT(sl_config_apply(sample_map, at(conf.root, "scalar"), &c, "sink 'file' of job 'j'", &arena, &diags), 1);
    CHECK_STR(printed(&diags), "t.yaml:15:9: error: sink 'file' of job 'j' must be a mapping, got a scalar\n");
    CHECK_INT(c.partitions, 1);   /* defaults are still filled in */
    sl_diags_free(&diags);

    /* ENUM wrong shape and a bad default */
    static const sl_config_map_t bad_default[] = {
        {"every", SL_CFG_DURATION, "soon", 0, offsetof(sample_conf_t, every_ms), NULL, ""},
        {"fsync", SL_CFG_ENUM, NULL, 0, offsetof(sample_conf_t, fsync), "always|interval|off", ""},
        SL_CONFIG_END,
    };
    sl_conf_free(&conf);
    CHECK_INT(load(&conf, &diags, "fsync: [always]\n"), 0);
    CHECK_INT(sl_config_apply(bad_default, conf.root, &c, "topic 't'", &arena, &diags), 2);
    CHECK_STR(printed(&diags),
              "error: invalid duration 'soon' for 'every' (use e.g. 250ms, 5s, 10m, 2h, 7d)\n"
              "t.yaml:1:8: error: 'fsync' of topic 't' must be one of always, interval, off, got a sequence\n");
    sl_diags_free(&diags);
    sl_conf_free(&conf);
    sl_arena_free(&arena);
}

TEST(config_map_doc) {
    static const sl_config_map_t map[] = {
        {"url", SL_CFG_STR, NULL, SL_CFG_REQUIRED, 0, NULL, "where to fetch from"},
        {"fsync", SL_CFG_ENUM, "interval", 0, 0, "always|interval|off", "when to fsync | flush"},
        {"every", SL_CFG_DURATION, "5s", 0, 0, NULL, "poll interval"},
        SL_CONFIG_END,
    };
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f) return;
    sl_config_map_doc(map, f);
    char out[1024];
    rewind(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    fclose(f);
    CHECK_STR(out,
              "| key | type | default | required | description |\n"
              "|---|---|---|---|---|\n"
              "| `url` | string |  | yes | where to fetch from |\n"
              "| `fsync` | one of `always`, `interval`, `off` | `interval` | no | when to fsync \\| flush |\n"
              "| `every` | duration | `5s` | no | poll interval |\n");
}

/* ---- diagnostics ---- */

TEST(diags_sort_print_dedup) {
    sl_diags_t diags = {0};
    sl_diags_add(&diags, "b.yaml", 3, 1, "third in b");
    sl_diags_add(&diags, "a.yaml", 10, 2, "late in a");
    sl_diags_add(&diags, "a.yaml", 2, 7, "first of two at 2:7");
    sl_diags_add(&diags, NULL, 0, 0, "no position %d", 1);
    sl_diags_add(&diags, "a.yaml", 2, 7, "second of two at 2:7");
    sl_diags_add(&diags, "a.yaml", 2, 7, "first of two at 2:7");   /* a duplicate */
    sl_diags_add(&diags, "a.yaml", 2, 3, "earlier column");
    sl_diags_add(&diags, "a.yaml", 0, 0, "whole file");
    sl_diags_add(&diags, "b.yaml", 3, 0, "line only");
    CHECK_INT(diags.n, 9);
    CHECK_STR(printed(&diags),
              "error: no position 1\n"
              "a.yaml: error: whole file\n"
              "a.yaml:2:3: error: earlier column\n"
              "a.yaml:2:7: error: first of two at 2:7\n"
              "a.yaml:2:7: error: second of two at 2:7\n"
              "a.yaml:10:2: error: late in a\n"
              "b.yaml:3: error: line only\n"
              "b.yaml:3:1: error: third in b\n");
    /* printing sorted them in place; printing again gives the same */
    CHECK_STR(diags.items[0].msg, "no position 1");
    CHECK_STR(printed(&diags),
              "error: no position 1\n"
              "a.yaml: error: whole file\n"
              "a.yaml:2:3: error: earlier column\n"
              "a.yaml:2:7: error: first of two at 2:7\n"
              "a.yaml:2:7: error: second of two at 2:7\n"
              "a.yaml:10:2: error: late in a\n"
              "b.yaml:3: error: line only\n"
              "b.yaml:3:1: error: third in b\n");
    sl_diags_free(&diags);
    CHECK_INT(diags.n, 0);
    CHECK_STR(printed(&diags), "");
    sl_diags_free(&diags);
}
