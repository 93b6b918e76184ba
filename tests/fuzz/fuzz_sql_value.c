/* fuzz_sql_value.c - libFuzzer target for sl_sql_value_fit (src/sql_common.c), the
 * check of a record's value against a declared SQL column type: any string, for every
 * kind and integer range, must fit (and come out as the kind's value, integers within
 * the range) or not fit with a reason, without crashing or reading past the string.
 *   make build-fuzz/fuzz_sql_value && build-fuzz/fuzz_sql_value tests/fuzz/corpus/fuzz_sql_value */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/sql_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size ? size : 1);   /* exactly size bytes: no NUL to lean on */
    memcpy(s, data, size);
    sl_value_t v = {SL_T_STRING, (uint32_t)size, {.s = s}};
    static const char *const names[] = {"smallint", "int", "bigint"};
    for (int kind = 0; kind < SL_SQL_NKINDS; kind++)
        for (int r = 0; r < 3; r++) {
            sl_sql_column_t col;
            memset(&col, 0, sizeof col);
            col.kind = kind;
            col.iname = names[r];
            col.imin = r == 0 ? INT16_MIN : r == 1 ? INT32_MIN : INT64_MIN;
            col.imax = r == 0 ? INT16_MAX : r == 1 ? INT32_MAX : INT64_MAX;
            sl_value_t out;
            char why[300];
            why[0] = 0;
            if (sl_sql_value_fit(&col, v, &out, why, sizeof why)) {
                if (kind == SL_SQL_INT && (out.type != SL_T_INT || out.u.i < col.imin || out.u.i > col.imax)) abort();
                if (kind == SL_SQL_FLOAT && (out.type != SL_T_DOUBLE || !isfinite(out.u.d))) abort();
                if (kind == SL_SQL_BOOL && out.type != SL_T_BOOL) abort();
            } else if (!why[0] || memchr(why, 0, sizeof why) == NULL) {
                abort();
            }
        }
    free(s);
    return 0;
}
