/* error.h - the one table of sluice's error codes (names and strings generated from it).
 *
 * 0 is success; every error is negative. SL_RETRY means "the same call may succeed
 * later" (a remote is down, a lock is busy); every other negative code is fatal for the
 * operation that returned it. The runner, never a plugin, owns retries and backoff. */
#ifndef SLUICE_ERROR_H
#define SLUICE_ERROR_H

#include <stddef.h>

#define SL_ERRORS(X)                                                        \
    X(OK, 0, "ok")                                                          \
    X(RETRY, -1, "temporary failure, retry later")                          \
    X(FATAL, -2, "fatal error")                                             \
    X(NOMEM, -3, "out of memory")                                           \
    X(IO, -4, "input/output error")                                         \
    X(PARSE, -5, "malformed input")                                         \
    X(CONFIG, -6, "invalid configuration")                                  \
    X(NOTFOUND, -7, "not found")                                            \
    X(CORRUPT, -8, "data is corrupt")                                       \
    X(EVAL, -9, "expression evaluation failed")                             \
    X(TOOBIG, -10, "too large")                                             \
    X(USAGE, -11, "usage error")                                            \
    X(EOF, -12, "end of input")                                             \
    X(CLOSED, -13, "closed")

enum {
#define SL_ERR_ENUM(name, code, str) SL_##name = code,
    SL_ERRORS(SL_ERR_ENUM)
#undef SL_ERR_ENUM
};

/* The text of a code; never NULL. */
const char *sl_err_str(int code);

/* The text of errno value `errnum`, as strerror(3) but safe on any thread (strerror is
 * not: it may share one buffer between threads).  The text lives in a buffer of the
 * calling thread, valid until that thread's next sl_strerror call: one per statement. */
const char *sl_strerror(int errnum);

/* An error with its message, filled by functions that can fail.  `code` is one of the
 * codes above; `msg` is a human sentence without a trailing newline. */
typedef struct sl_error {
    int code;
    char msg[512];
} sl_error_t;

/* Set err (if non-NULL) and return code.  printf-style. */
int sl_error_set(sl_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
