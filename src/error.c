/* error.c - names and strings of the error table in error.h. */
#include "sluice/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *sl_err_name(int code) {
    switch (code) {
#define SL_ERR_NAME(name, c, str) case c: return "SL_" #name;
        SL_ERRORS(SL_ERR_NAME)
#undef SL_ERR_NAME
    }
    return "SL_UNKNOWN";
}

const char *sl_err_str(int code) {
    switch (code) {
#define SL_ERR_STR(name, c, str) case c: return str;
        SL_ERRORS(SL_ERR_STR)
#undef SL_ERR_STR
    }
    return "unknown error";
}

int sl_error_set(sl_error_t *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}
