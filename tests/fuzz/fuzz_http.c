/* fuzz_http.c - libFuzzer target for the http source's parsers of untrusted text:
 * status lines, header blocks, Retry-After / HTTP dates, Link rel="next", cassette
 * sidecars, cron expressions / tz offsets, TZif zone files and POSIX TZ strings (with
 * cron's next firing in the zone).  The first byte picks the parser (mod 8; seeds made
 * for the older mod 6 keep their meaning); the rest is its input.  Checks: no crash, no
 * read past the input, results in range. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/src_http/cron.h"
#include "../../plugins/src_http/httputil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned which = data[0] % 8;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    /* an exact-size heap copy so ASan sees any read past the end */
    char *buf = malloc(len ? len : 1);
    if (!buf) return 0;
    memcpy(buf, s, len);
    switch (which) {
    case 0: {
        int st = sl_http_status_line(buf, len);
        if (st != -1 && (st < 100 || st > 999)) abort();
        break;
    }
    case 1: {
        size_t vl = 0;
        const char *v = sl_http_header(buf, len, "Retry-After", &vl);
        if (v && (v < buf || v + vl > buf + len)) abort();
        if (v) (void)sl_http_retry_after(v, vl, 1704067200000LL);
        break;
    }
    case 2: {
        int64_t ms = sl_http_retry_after(buf, len, 1704067200000LL);
        if (ms < -1) abort();
        (void)sl_http_date(buf, len);
        break;
    }
    case 3: {
        char out[128];
        int n = sl_http_link_next(buf, len, out, sizeof out);
        if (n >= (int)sizeof out || (n >= 0 && strlen(out) != (size_t)n)) abort();
        break;
    }
    case 4: {
        int status = 0;
        sl_buf_t h = SL_BUF_INIT;
        if (sl_http_sidecar_parse(buf, len, &status, &h) == 0 && (status < 100 || status > 999)) abort();
        size_t vl;
        if (h.data) (void)sl_http_header(h.data, h.len, "Retry-After", &vl);
        sl_buf_free(&h);
        break;
    }
    case 6:
    case 7: {
        sl_cron_tz_t *tz;
        char err[200];
        if (which == 6) {
            tz = sl_cron_tz_from_tzif(buf, len, err, sizeof err);
        } else {
            char *z = malloc(len + 1);
            if (!z) break;
            memcpy(z, buf, len);
            z[len] = 0;
            tz = sl_cron_tz_from_posix(z);
            free(z);
        }
        if (!tz) break;
        static const int64_t at[] = {-2208988800LL, 0, 1711846800LL, 1729990800LL, 2216250000LL, 4102444800LL};
        for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
            int32_t off = sl_cron_tz_offset(tz, at[i]);
            if (off < -26 * 3600 || off > 26 * 3600) abort();
        }
        static const char *const exprs[] = {"30 2 * * *", "*/30 * * * *", "0 0 29 2 *"};
        for (size_t i = 0; i < 3; i++) {
            sl_cron_t c;
            if (sl_cron_parse(exprs[i], &c, err, sizeof err) != 0) abort();
            for (int64_t after = 1704067200000LL; after < 1704067200000LL + 3 * 31536000000LL; after += 15768000000LL) {
                int64_t t = sl_cron_next_tz(&c, after, tz);
                if (t != -1 && (t <= after || t % 60000)) abort();
            }
        }
        sl_cron_tz_free(tz);
        break;
    }
    default: {
        char *z = malloc(len + 1);
        if (!z) break;
        memcpy(z, buf, len);
        z[len] = 0;
        sl_cron_t c;
        char err[200];
        if (sl_cron_parse(z, &c, err, sizeof err) == 0) {
            int64_t t = sl_cron_next(&c, 1704067200000LL, 0);
            if (t != -1 && (t <= 1704067200000LL || t % 60000)) abort();
        }
        int off;
        if (sl_cron_parse_tz(z, &off) == 0 && (off < -900 || off > 900)) abort();
        free(z);
    }
    }
    free(buf);
    return 0;
}
