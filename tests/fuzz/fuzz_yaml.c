/* fuzz_yaml.c - libFuzzer target for the config loader: sl_conf_load_string, a walk of
 * the tree checking its invariants, sl_cnode_pos_at inside scalars, and a config map.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_yaml.c
 *        src/config.c src/config_map.c src/diag.c src/arena.c src/buf.c src/error.c -lyaml -lm */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/config.h"

typedef struct fuzz_conf {
    char *s;
    int64_t i, ms, bytes;
    int e;
    sl_strlist_t list;
    const sl_cnode_t *node, *expr;
} fuzz_conf_t;

static const sl_config_map_t fuzz_map[] = {
    {"s", SL_CFG_STR, "x", 0, offsetof(fuzz_conf_t, s), NULL, ""},
    {"i", SL_CFG_INT, "1", 0, offsetof(fuzz_conf_t, i), NULL, ""},
    {"every", SL_CFG_DURATION, "5s", 0, offsetof(fuzz_conf_t, ms), NULL, ""},
    {"size", SL_CFG_SIZE, "1k", 0, offsetof(fuzz_conf_t, bytes), NULL, ""},
    {"e", SL_CFG_ENUM, "a", 0, offsetof(fuzz_conf_t, e), "a|b|c", ""},
    {"list", SL_CFG_STRLIST, "[a]", 0, offsetof(fuzz_conf_t, list), NULL, ""},
    {"node", SL_CFG_NODE, NULL, 0, offsetof(fuzz_conf_t, node), NULL, ""},
    {"expr", SL_CFG_EXPR, NULL, SL_CFG_REQUIRED, offsetof(fuzz_conf_t, expr), NULL, ""},
    SL_CONFIG_END,
};

/* Aliases make the tree a DAG that can be far larger walked than stored. */
static long fuzz_budget;

static void fuzz_check(int ok) {
    if (!ok) __builtin_trap();
}

static void fuzz_walk(const sl_cnode_t *n, int nlines, sl_arena_t *arena, sl_diags_t *diags) {
    if (--fuzz_budget < 0) return;
    fuzz_check(n->line >= 1 && n->line <= nlines && n->col >= 1);
    switch (n->kind) {
    case SL_CNODE_SCALAR: {
        fuzz_check(n->str != NULL && n->str[n->len] == 0);
        size_t offs[] = {0, 1, n->len / 2, n->len ? n->len - 1 : 0, n->len, n->len + 7};
        for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
            int line = 0, col = 0;
            sl_cnode_pos_at(n, offs[i], &line, &col);
            fuzz_check(line >= 1 && line <= nlines + 1 && col >= 1);
        }
        int64_t v;
        bool b;
        (void)sl_parse_duration(n->str, &v);
        (void)sl_parse_size(n->str, &v);
        (void)sl_parse_bool(n->str, &b);
        break;
    }
    case SL_CNODE_MAP: {
        for (size_t i = 0; i < n->n; i++) {
            fuzz_check(n->pairs[i].key->kind == SL_CNODE_SCALAR);
            fuzz_walk(n->pairs[i].key, nlines, arena, diags);
            fuzz_walk(n->pairs[i].val, nlines, arena, diags);
        }
        fuzz_conf_t c;
        memset(&c, 0, sizeof c);
        (void)sl_config_apply(fuzz_map, n, &c, "block 'fuzz'", arena, diags);
        break;
    }
    case SL_CNODE_SEQ:
        for (size_t i = 0; i < n->n; i++) fuzz_walk(n->items[i], nlines, arena, diags);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setenv("FUZZ_SET", "value", 0);
    sl_conf_t conf;
    sl_diags_t diags = {0};
    int rc = sl_conf_load_string(&conf, "fuzz.yaml", (const char *)data, size, &diags);
    fuzz_check(rc == 0 || diags.n > 0);
    int nlines = 1;
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n' || data[i] == '\r') nlines++;   /* an upper bound of libyaml's */
    nlines += (int)(size / 2);   /* NEL/LS/PS count as breaks too */
    if (conf.root) {
        sl_arena_t arena;
        sl_arena_init(&arena, 4096);
        fuzz_budget = 20000;
        fuzz_walk(conf.root, nlines, &arena, &diags);
        sl_arena_free(&arena);
    }
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull) {
        sl_diags_print(&diags, devnull);
        fclose(devnull);
    }
    sl_diags_free(&diags);
    sl_conf_free(&conf);
    return 0;
}
