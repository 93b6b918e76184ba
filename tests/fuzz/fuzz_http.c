/* fuzz_http.c - libFuzzer target for the http source's parsers of untrusted text:
 * status lines, header blocks, Retry-After / HTTP dates, Link rel="next", cassette
 * sidecars, and cron expressions / tz offsets.  The first byte picks the parser; the
 * rest is its input.  Checks: no crash, no read past the input, results in range. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/src_http/cron.h"
#include "../../plugins/src_http/httputil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned which = data[0] % 6;
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
