/* log.c - leveled logging to stderr (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sluice/buf.h"
#include "sluice/json.h"

int sl_log_level = SL_LOG_INFO;
int sl_log_json = 0;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void sl_log_write(int level, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[80];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    sl_buf_t line = SL_BUF_INIT;
    if (sl_log_json) {
        sl_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", when, level_names[level]);
        sl_json_write_string(&line, msg, strlen(msg));
        sl_buf_puts(&line, "}\n");
    } else {
        sl_buf_printf(&line, "%s %-5s %s\n", when, level_names[level], msg);
    }
    ssize_t w = write(2, line.data, line.len);
    (void)w;
    sl_buf_free(&line);
}
