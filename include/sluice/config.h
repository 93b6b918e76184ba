/* config.h - the YAML configuration tree with source positions, diagnostics, and the
 * declarative config maps that parse plugin blocks.
 *
 * Loading is two passes: sl_conf_load() turns YAML into a tree of sl_cnode_t (every
 * node knows FILE:LINE:COL; ${VAR} and ${VAR:-default} are expanded in scalars), then
 * the pipeline loader walks the tree and applies one sl_config_map_t table per block.
 * Every problem is added to an sl_diags_t and loading goes on, so one run of
 * `sluice check` reports them all. */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sluice/arena.h"

/* ---- diagnostics ---- */

typedef struct sl_diag {
    char *file;   /* may be NULL (then printed without position) */
    int line, col;  /* 1-based; 0 = unknown */
    char *msg;
} sl_diag_t;

typedef struct sl_diags {
    sl_diag_t *items;
    size_t n, cap;
} sl_diags_t;

void sl_diags_free(sl_diags_t *diags);
void sl_diags_add(sl_diags_t *diags, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Sort by file, line, col (stable) and print "FILE:LINE:COL: error: MSG\n" each. */
void sl_diags_print(sl_diags_t *diags, FILE *out);

/* ---- the tree ---- */

typedef enum { SL_CNODE_SCALAR, SL_CNODE_MAP, SL_CNODE_SEQ } sl_cnode_kind_t;

typedef struct sl_cnode sl_cnode_t;
typedef struct sl_cpair { sl_cnode_t *key; sl_cnode_t *val; } sl_cpair_t;

struct sl_cnode {
    sl_cnode_kind_t kind;
    const char *file;   /* the file it came from (shared string) */
    int line, col;      /* 1-based position of the node's first character */
    /* SCALAR: text after ${VAR} expansion (NUL-terminated), its length, and how it
     * was written: plain (0), single-quoted ('\''), double-quoted ('"'), literal ('|'),
     * folded ('>'). `raw_line/raw_col` is where the scalar's text starts (after an
     * opening quote), for positions inside it. */
    char *str;
    size_t len;
    char style;
    bool expanded;      /* ${...} was substituted: positions inside are approximate */
    /* MAP: pairs[0..n); SEQ: items[0..n).  Every key of a MAP is a SCALAR. */
    sl_cpair_t *pairs;
    sl_cnode_t **items;
    size_t n;
    /* SCALAR, set by sl_conf_load for sl_cnode_pos_at: raw[0..raw_len) is the text as
     * written in the source (after an opening quote; for '|' '>' from the line after
     * the header), starting at raw_line:raw_col.  raw == NULL for nodes made
     * elsewhere: positions inside are then counted from line:col. */
    const char *raw;
    size_t raw_len;
    int raw_line, raw_col;
};

typedef struct sl_conf {
    sl_arena_t arena;   /* owns every node and string */
    sl_cnode_t *root;   /* NULL for an empty document */
    const char *file;
} sl_conf_t;

/* Parse a YAML file.  Returns 0, or SL_CONFIG with diagnostics added (a YAML syntax
 * error is reported at its position; the tree is then NULL).  Anchors/aliases are
 * resolved; merge keys (<<) are supported; duplicate keys are an error.
 */
int sl_conf_load(sl_conf_t *conf, const char *path, sl_diags_t *diags);
/* (Both loaders initialise *conf.  After a syntax error nothing is kept (root NULL);
 * after other errors — an unset variable, a duplicate key — the tree is kept so more
 * problems can be reported.  sl_conf_free() is safe in every case.  A stream of
 * several documents is one configuration: their top-level mappings are joined.
 * ${VAR} reads getenv(); `$${` stands for a literal `${`.) */
/* The same from memory (`name` is used as FILE in positions). */
int sl_conf_load_string(sl_conf_t *conf, const char *name, const char *text, size_t len,
                        sl_diags_t *diags);
void sl_conf_free(sl_conf_t *conf);
/* Parse YAML text into nodes allocated in `arena` (the caller's; nothing else is
 * allocated), as sl_conf_load_string does; used for defaults written in YAML.
 * *root is NULL for an empty text or after a syntax error.  Returns 0 or SL_CONFIG. */
int sl_cnode_parse(sl_arena_t *arena, const char *name, const char *text, size_t len,
                   sl_diags_t *diags, sl_cnode_t **root);

/* Map lookup by key; NULL when absent or node is not a map. */
sl_cnode_t *sl_cnode_get(const sl_cnode_t *map, const char *key);
const char *sl_cnode_kind_name(sl_cnode_kind_t kind);   /* "scalar" "mapping" "sequence" */
/* A YAML null: an empty plain scalar (`key:`), `~` or `null`.  NULL node -> true. */
bool sl_cnode_is_null(const sl_cnode_t *node);

/* Position of byte `offset` inside a scalar's text (for errors inside expressions).
 * Exact for plain and quoted single-line scalars without escapes; otherwise the
 * best estimate (the line of the offset within block scalars). */
void sl_cnode_pos_at(const sl_cnode_t *scalar, size_t offset, int *line, int *col);

/* ---- scalar conversions (return false on a bad value, and add a diagnostic) ---- */

/* "250ms 5s 10m 2h 7d", also a bare integer = seconds; result in ms. */
bool sl_parse_duration(const char *s, int64_t *ms);
/* "512 4k 64KiB 16MB 1GiB" (k/K/KB/KiB = 1024); result in bytes. */
bool sl_parse_size(const char *s, int64_t *bytes);
bool sl_parse_bool(const char *s, bool *out);      /* true/false/yes/no/on/off */

/* The nearest of `candidates` (NULL-terminated) to `word` by edit distance, or NULL
 * when none is close (distance > max(2, len/3)). */
const char *sl_did_you_mean(const char *word, const char *const *candidates);

/* ---- declarative config maps ---- */

typedef enum {
    SL_CFG_STR,       /* char *           (arena string) */
    SL_CFG_INT,       /* int64_t */
    SL_CFG_DOUBLE,    /* double */
    SL_CFG_BOOL,      /* bool */
    SL_CFG_DURATION,  /* int64_t ms */
    SL_CFG_SIZE,      /* int64_t bytes */
    SL_CFG_ENUM,      /* int: index into `choices` ("a|b|c") */
    SL_CFG_STRLIST,   /* sl_strlist_t: a scalar or a sequence of scalars */
    SL_CFG_NODE,      /* sl_cnode_t * (any shape; the plugin checks it) */
    SL_CFG_EXPR,      /* sl_cnode_t * of a scalar, compiled by the plugin */
} sl_cfg_type_t;

enum { SL_CFG_REQUIRED = 1 };

typedef struct sl_strlist { char **v; size_t n; } sl_strlist_t;

typedef struct sl_config_map {
    const char *name;        /* key in the block */
    sl_cfg_type_t type;
    const char *def;         /* default as it would be written in YAML, or NULL */
    unsigned flags;          /* SL_CFG_REQUIRED */
    size_t offset;           /* offsetof(the plugin's config struct, field) */
    const char *choices;     /* SL_CFG_ENUM: "always|interval|off" */
    const char *desc;        /* one line, for --help and docs/CONFIG.md */
} sl_config_map_t;
/* Tables end with an entry whose name is NULL. */
#define SL_CONFIG_END {NULL, 0, NULL, 0, 0, NULL, NULL}

/* Fill `out` (a struct the map's offsets point into) from `block` (a mapping, or NULL
 * or a YAML null for "all defaults").  A key whose value is null counts as absent; an
 * absent key without a default leaves its field as the caller set it.  Unknown keys,
 * missing required keys, wrong shapes and bad scalars each add a diagnostic naming
 * `what` (e.g. "sink 'sqlite' of job 'store'").  Returns the number of diagnostics
 * added (0 = ok).  Strings are copied into `arena`. */
int sl_config_apply(const sl_config_map_t *map, const sl_cnode_t *block, void *out,
                    const char *what, sl_arena_t *arena, sl_diags_t *diags);

/* Markdown table of a map (for docs/CONFIG.md and --help). */
void sl_config_map_doc(const sl_config_map_t *map, FILE *out);

#endif
