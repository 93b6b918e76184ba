/* test_sql.c - sl_sql_value_fit (src/sql_common.c), the one meaning of a declared SQL
 * column type: a table of JSON values per declared type, each fitting (and stored as)
 * or rejected with its reason. */
#include "t.h"

#include "../../src/sql_common.h"
#include "sluice/json.h"

static sl_sql_column_t col_of(int kind, const char *tname) {
    sl_sql_column_t c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    /* as sl_sql_columns_parse sets them */
    c.imin = INT64_MIN, c.imax = INT64_MAX, c.iname = "bigint";
    if (tname && strcmp(tname, "int") == 0) c.imin = INT32_MIN, c.imax = INT32_MAX, c.iname = "int";
    if (tname && strcmp(tname, "smallint") == 0) c.imin = INT16_MIN, c.imax = INT16_MAX, c.iname = "smallint";
    return c;
}

typedef struct fit_case {
    int kind;
    const char *tname;
    const char *json;
    const char *stored;   /* the stored value as JSON, or NULL: rejected */
    const char *why;      /* a part of the reason when rejected */
} fit_case_t;

static const fit_case_t cases[] = {
    {SL_SQL_INT, "bigint", "42", "42", NULL},
    {SL_SQL_INT, "bigint", "\"42\"", "42", NULL},
    {SL_SQL_INT, "bigint", "\" -7 \"", "-7", NULL},
    {SL_SQL_INT, "bigint", "5.0", "5", NULL},
    {SL_SQL_INT, "bigint", "true", "1", NULL},
    {SL_SQL_INT, "bigint", "null", "null", NULL},
    {SL_SQL_INT, "bigint", "9223372036854775807", "9223372036854775807", NULL},
    {SL_SQL_INT, "bigint", "\"-9223372036854775808\"", "-9223372036854775808", NULL},
    {SL_SQL_INT, "bigint", "\"9223372036854775808\"", NULL, "out of range for bigint"},
    {SL_SQL_INT, "bigint", "\"x4\"", NULL, "'x4' is not an integer (bigint)"},
    {SL_SQL_INT, "bigint", "\"4x\"", NULL, "not an integer"},
    {SL_SQL_INT, "bigint", "\"\"", NULL, "not an integer"},
    {SL_SQL_INT, "bigint", "\"-\"", NULL, "not an integer"},
    {SL_SQL_INT, "bigint", "2.5", NULL, "2.5 is not an integer (bigint)"},
    {SL_SQL_INT, "bigint", "1e20", NULL, "1e+20 is out of range for bigint"},
    {SL_SQL_INT, "bigint", "123456789012345678901234567890", NULL, "more than 19 digits"},
    {SL_SQL_INT, "bigint", "[1]", NULL, "an array does not fit a bigint column"},
    {SL_SQL_INT, "bigint", "{\"a\": 1}", NULL, "an object does not fit"},
    {SL_SQL_INT, "int", "2147483647", "2147483647", NULL},
    {SL_SQL_INT, "int", "2147483648", NULL, "2147483648 is out of range for int"},
    {SL_SQL_INT, "int", "\"-2147483649\"", NULL, "out of range for int"},
    {SL_SQL_INT, "smallint", "32768", NULL, "out of range for smallint"},
    {SL_SQL_FLOAT, NULL, "1e20", "1e+20", NULL},
    {SL_SQL_FLOAT, NULL, "7", "7", NULL},
    {SL_SQL_FLOAT, NULL, "\"2.5\"", "2.5", NULL},
    {SL_SQL_FLOAT, NULL, "\".5e1\"", "5.0", NULL},
    {SL_SQL_FLOAT, NULL, "\"abc\"", NULL, "'abc' is not a number (float)"},
    {SL_SQL_FLOAT, NULL, "\"1e999\"", NULL, "out of range for float"},
    {SL_SQL_FLOAT, NULL, "\"nan\"", NULL, "not a number"},
    {SL_SQL_FLOAT, NULL, "\"1.\"", "1.0", NULL},
    {SL_SQL_FLOAT, NULL, "\"1e\"", NULL, "not a number"},
    {SL_SQL_BOOL, NULL, "false", "false", NULL},
    {SL_SQL_BOOL, NULL, "3", "true", NULL},
    {SL_SQL_BOOL, NULL, "\" Yes \"", "true", NULL},
    {SL_SQL_BOOL, NULL, "\"off\"", "false", NULL},
    {SL_SQL_BOOL, NULL, "\"maybe\"", NULL, "'maybe' is not a bool"},
    {SL_SQL_TS, NULL, "1700000000000", "1700000000000", NULL},
    {SL_SQL_TS, NULL, "1700000000000.7", "1700000000000", NULL},
    {SL_SQL_TS, NULL, "1e300", NULL, "out of range for timestamp"},
    {SL_SQL_TS, NULL, "\"2024-01-02\"", "\"2024-01-02\"", NULL},
    {SL_SQL_TS, NULL, "\"2024-01-02 03:04\"", "\"2024-01-02 03:04\"", NULL},
    {SL_SQL_TS, NULL, "\"2024-01-02T03:04:05.123+01:00\"", "\"2024-01-02T03:04:05.123+01:00\"", NULL},
    {SL_SQL_TS, NULL, "\"2024-13-02\"", NULL, "is not a timestamp"},
    {SL_SQL_TS, NULL, "\"2024-01-02T25:00\"", NULL, "is not a timestamp"},
    {SL_SQL_TS, NULL, "\"2024-01-02Tx\"", NULL, "is not a timestamp"},
    {SL_SQL_TS, NULL, "\"not a time\"", NULL, "is not a timestamp"},
    {SL_SQL_TS, NULL, "true", NULL, "a bool is not a timestamp"},
    {SL_SQL_TEXT, NULL, "123456789012345678901234567890", "1.2345678901234568e+29", NULL},
    {SL_SQL_TEXT, NULL, "{\"a\": [1]}", "{\"a\":[1]}", NULL},
    {SL_SQL_JSON, NULL, "[1, \"x\"]", "[1,\"x\"]", NULL},
};

TEST(value_fit_table) {
    sl_arena_t a;
    sl_arena_init(&a, 4096);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const fit_case_t *c = &cases[i];
        sl_value_t v, out;
        sl_json_error_t je;
        if (sl_json_parse(&a, c->json, strlen(c->json), &v, &je) != 0) {
            T_FAIL("case %zu: cannot parse %s", i, c->json);
            continue;
        }
        sl_sql_column_t col = col_of(c->kind, c->tname);
        char why[300] = "";
        bool fit = sl_sql_value_fit(&col, v, &out, why, sizeof why);
        if (fit != (c->stored != NULL)) {
            T_FAIL("case %zu (%s): fit %d, expected %d (%s)", i, c->json, fit, c->stored != NULL, why);
            continue;
        }
        if (fit) {
            sl_buf_t b = SL_BUF_INIT;
            sl_json_write(&b, out);
            if (strcmp(b.data, c->stored) != 0) T_FAIL("case %zu (%s): stored %s, expected %s", i, c->json, b.data, c->stored);
            sl_buf_free(&b);
        } else if (!strstr(why, c->why)) {
            T_FAIL("case %zu (%s): reason \"%s\" lacks \"%s\"", i, c->json, why, c->why);
        }
    }
    sl_arena_free(&a);
}
