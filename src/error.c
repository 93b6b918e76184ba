/* error.c - names and strings of the error table in error.h, and sl_strerror. */
#include "sluice/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *sl_err_str(int code) {
    switch (code) {
#define SL_ERR_STR(name, c, str) case c: return str;
        SL_ERRORS(SL_ERR_STR)
#undef SL_ERR_STR
    }
    return "unknown error";
}

const char *sl_strerror(int errnum) {
    static _Thread_local char text[128];
    /* the GNU strerror_r (_GNU_SOURCE): returns a static string or text, never NULL */
    return strerror_r(errnum, text, sizeof text);
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
