/* log.h - leveled logging to stderr, as text or JSON lines (--log-format json).
 * Thread-safe (one write(2) per line).  Filtered levels cost one comparison. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

enum { SL_LOG_DEBUG = 0, SL_LOG_INFO = 1, SL_LOG_WARN = 2, SL_LOG_ERROR = 3 };

extern int sl_log_level;
extern int sl_log_json;

void sl_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sl_log(level, ...)                                            \
    do { if ((level) >= sl_log_level) sl_log_write((level), __VA_ARGS__); } while (0)
#define sl_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)
#define sl_info(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_warn(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_errorf(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)

#endif
