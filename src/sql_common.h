/* sql_common.h - pieces the SQL sinks (sqlite, postgres, mysql) share: identifier
 * checks, the column list (parsed from `columns:` against a dialect's type table, or
 * inferred from the records), epoch-ms timestamps as text, the offsets group, the
 * offsets a database already holds, and rows rejected until COMMIT.
 *
 * What differs between databases is data in an sl_sql_dialect_t (type names and
 * declarations, identifier lengths); the SQL itself stays in each sink. */
#ifndef SLUICE_SQL_COMMON_H
#define SLUICE_SQL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/plugin.h"

/* How a value is rendered for a column (the SQL type is in sl_sql_column_t.decl). */
enum {
    SL_SQL_TEXT, SL_SQL_INT, SL_SQL_FLOAT, SL_SQL_NUMERIC, SL_SQL_BOOL, SL_SQL_TS, SL_SQL_JSON,
    SL_SQL_NKINDS
};

/* One name accepted in `columns:` (matched case-insensitively). */
typedef struct sl_sql_type {
    const char *name;
    int kind;             /* SL_SQL_* */
    const char *decl;     /* the SQL type */
} sl_sql_type_t;

/* A database's column types and identifier rules.  Static, never freed. */
typedef struct sl_sql_dialect {
    const sl_sql_type_t *types;   /* ends with {NULL} */
    const char *type_list;        /* the names, as listed in "unknown column type '%s' (...)" */
    /* Types with arguments (decimal(p,s), varchar(n)): writes the declaration into
     * decl[0..cap) and returns the kind, or -1 when s is not one.  NULL: none. */
    int (*parse_type)(const char *s, char *decl, size_t cap);
    size_t ident_max;             /* longest identifier */
    size_t infer_max;             /* longest name made from a record field */
    bool infer_nocase;            /* fields whose names differ only in case share a column */
    /* The SQL type of an inferred column by its kind: TEXT INT FLOAT BOOL JSON (the
     * kinds a record's value can have). */
    const char *infer_decl[SL_SQL_NKINDS];
    /* A key column declared TEXT or JSON gets this type instead (an index that cannot
     * hold those whole); NULL: as declared. */
    const char *key_decl;
} sl_sql_dialect_t;

typedef struct sl_sql_column {
    char *name;        /* SQL column */
    char *field;       /* record field (top level) */
    int kind;          /* SL_SQL_* */
    char decl[48];     /* SQL type */
    /* SL_SQL_INT: the range of the declared type, by the name written in `columns:`
     * (smallint 16 bits, int/integer 32, bigint and inferred columns 64) in every
     * database, whatever its own INTEGER holds; and that name for messages. */
    int64_t imin, imax;
    const char *iname;
} sl_sql_column_t;

typedef struct sl_sql_columns {
    sl_sql_column_t *v;
    size_t n;
    bool inferred;     /* no `columns:`: columns come from the records */
    const sl_sql_dialect_t *dialect;
} sl_sql_columns_t;

/* [A-Za-z_][A-Za-z0-9_]* of at most max bytes; false for NULL. */
bool sl_sql_ident_ok(const char *s, size_t max);

/* Report "<what>: <fmt...>" at node n (ctx->node when NULL); the message is cut at
 * 511 bytes. */
void sl_sql_diag(sl_init_ctx_t *ctx, const sl_cnode_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Is col one of the key columns? */
bool sl_sql_is_key(const sl_strlist_t *key, const char *col);

/* Check the key's identifiers and parse `columns:` (NULL: columns are inferred, see
 * below) into cols, which must be zeroed; problems go to ctx->diags at their nodes.
 * Returns 0, or -1 when anything was reported.  cols keeps d (static). */
int sl_sql_columns_parse(sl_sql_columns_t *cols, sl_init_ctx_t *ctx, const sl_cnode_t *columns,
                         const sl_strlist_t *key, const sl_sql_dialect_t *d);

/* Inferred mode: add a column for each top-level field of the batch's objects not seen
 * before (named after the field, other characters as '_'; typed by its value), then the
 * key columns still missing (as text).  Returns true when columns were added; false
 * and nothing done when cols came from `columns:`. */
bool sl_sql_columns_infer(sl_sql_columns_t *cols, const sl_batch_t *batch, const sl_strlist_t *key);

/* Frees the columns (cols may be zeroed or half-built); cols is left empty. */
void sl_sql_columns_free(sl_sql_columns_t *cols);

/* The one meaning of a declared column type, the same in every SQL sink (what
 * PostgreSQL makes of the value's text): does v fit col?  On true, *out is v as the
 * column stores it:
 *   int       an integer in the type's range: an int; a float with no fraction
 *             (5.0); a string of decimal digits with an optional sign ("42"); a bool
 *             (1/0).  Not "x4", 2.5, 1e20, nor a JSON integer of more digits than
 *             the type holds (JSON numbers beyond 64 bits arrive as floats: 30 digits
 *             are 1.2345678901234568e+29, out of range, rejected);
 *   float     any number (a 30-digit integer: the nearest double, ~17 digits kept);
 *             a bool (1/0); a string that is a finite decimal number ("2.5", "1e3");
 *   numeric   as float, kept as given;
 *   bool      a bool; a number (non-zero is true); "true"/"false", "t"/"f",
 *             "yes"/"no", "y"/"n", "on"/"off", "1"/"0" in any case;
 *   timestamp epoch ms as a number within years 1..9999 (an int), or a string
 *             "YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|+HH[:MM]]" (kept as given);
 *   text      anything (arrays and objects as JSON text, numbers as JSON);
 *   json      anything.
 * Null always fits (NOT NULL is the database's to enforce).  On false, why[0..cap)
 * says why, e.g. "'x4' is not an integer (bigint)". */
bool sl_sql_value_fit(const sl_sql_column_t *col, sl_value_t v, sl_value_t *out, char *why, size_t cap);

/* Epoch ms as "2024-01-01T00:00:00.000Z" (sl_sql_iso_ms) or "2024-01-01 00:00:00.000"
 * (sl_sql_datetime_ms), UTC, into out[0..cap); 32 bytes are always enough. */
void sl_sql_iso_ms(char *out, size_t cap, int64_t ms);
void sl_sql_datetime_ms(char *out, size_t cap, int64_t ms);
/* An ISO-8601 time as sl_sql_value_fit accepts it for a timestamp column
 * (YYYY-MM-DD[(T| )HH:MM[:SS[.f]]][Z|+HH[:MM]]): true when it is one, with *ms (may be
 * NULL) its instant in epoch ms (a time without a zone is UTC). */
bool sl_sql_parse_iso_ms(const char *s, size_t n, int64_t *ms);

/* The offsets key of a sink: "<job>:<table>", malloc'd (the caller frees it). */
char *sl_sql_offsets_group(const char *job, const char *table);

/* The offsets the database already held (after a failed write whose COMMIT may have
 * happened): held takes over from's array and topics (from is left empty), and frees
 * what it held before. */
void sl_sql_held_set(sl_offsets_t *held, sl_offsets_t *from);
/* Is rec already in the database by held? */
bool sl_sql_held_covers(const sl_offsets_t *held, const sl_record_t *rec);
void sl_sql_held_free(sl_offsets_t *held);

/* Rows rejected by the database, reported to the DLQ only after COMMIT succeeded. */
typedef struct sl_sql_reject {
    size_t row;        /* index in the batch */
    char *msg;
} sl_sql_reject_t;

typedef struct sl_sql_rejects {
    sl_sql_reject_t *v;
    size_t n, cap;
} sl_sql_rejects_t;

/* Remembers row with a copy of msg. */
void sl_sql_rejects_add(sl_sql_rejects_t *r, size_t row, const char *msg);

/* Whether record i of a batch becomes a row: not a null (dropped), not held already,
 * an object, and there are columns (else it is added to r with the reason). */
bool sl_sql_row_wanted(const sl_offsets_t *held, sl_sql_rejects_t *r, const sl_record_t *rec, size_t i,
                       size_t ncols);
/* Forgets them all (keeps the array). */
void sl_sql_rejects_clear(sl_sql_rejects_t *r);
/* Sends each to sink's DLQ (rows of batch), then forgets them. */
void sl_sql_rejects_report(sl_sql_rejects_t *r, sl_sink_t *sink, const sl_batch_t *batch);
void sl_sql_rejects_free(sl_sql_rejects_t *r);

#endif
