/* http_cli.c - `sluice backfill` and `sluice record`: the http source driven from the
 * command line, blocking, outside the runner (see http_cli.h). */
#include "http_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../plugins/src_http/http.h"
#include "engine.h"
#include "log.h"
#include "pipeline.h"
#include "runner.h"

static int cli_usage(const char *cmd, const char *msg) {
    fprintf(stderr, "sluice %s: %s\n(see 'sluice %s --help')\n", cmd, msg, cmd);
    return 2;
}

/* Load FILE and find SOURCE, which must be an http source.  NULL + *code on failure. */
static sl_pipeline_t *cli_load(const char *cmd, const char *file, const char *source,
                               sl_source_cfg_t **out, int *code) {
    sl_diags_t d = {0};
    sl_pipeline_t *p = NULL;
    if (access(file, R_OK) != 0) {
        fprintf(stderr, "%s: error: cannot read the file: %s\n", file, sl_strerror(errno));
        *code = 1;
        return NULL;
    }
    if (sl_pipeline_load(file, &p, &d) != 0) {
        sl_diags_print(&d, stderr);
        sl_diags_free(&d);
        *code = 1;
        return NULL;
    }
    sl_diags_free(&d);
    const sl_source_cfg_t *s = sl_pipeline_source(p, source);
    if (!s) {
        fprintf(stderr, "sluice %s: %s has no source '%s'\n", cmd, file, source);
        sl_pipeline_free(p);
        *code = 2;
        return NULL;
    }
    if (!sl_http_is_source(&s->inst)) {
        fprintf(stderr, "sluice %s: source '%s' is not an http source (or preset)\n", cmd, source);
        sl_pipeline_free(p);
        *code = 2;
        return NULL;
    }
    *out = (sl_source_cfg_t *)s;
    return p;
}

static void nap_ms(int64_t ms) {
    while (ms > 0 && !sl_stop_requested) {
        int64_t step = ms > 100 ? 100 : ms;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* ------------------------------------------------------------------ backfill */

int sl_cmd_backfill(int argc, char **argv) {
    const char *cmd = "backfill", *pos[2] = {NULL, NULL}, *from_s = NULL, *to_s = NULL;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) from_s = argv[++i];
        else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) to_s = argv[++i];
        else if (argv[i][0] == '-') return cli_usage(cmd, "unknown option (use --from DATE --to DATE)");
        else if (npos < 2) pos[npos++] = argv[i];
        else return cli_usage(cmd, "too many arguments");
    }
    if (npos != 2 || !from_s || !to_s) return cli_usage(cmd, "needs FILE SOURCE --from YYYY-MM-DD --to YYYY-MM-DD");
    int64_t from = sl_http_parse_day(from_s), to = sl_http_parse_day(to_s);
    if (from < 0 || to < 0) return cli_usage(cmd, "--from and --to must be dates YYYY-MM-DD");
    if (to < from) return cli_usage(cmd, "--to is before --from");
    int code = 0;
    sl_source_cfg_t *s;
    sl_pipeline_t *p = cli_load(cmd, pos[0], pos[1], &s, &code);
    if (!p) return code;
    int64_t size = sl_http_window_days(&s->inst);
    if (size <= 0) {
        fprintf(stderr, "sluice backfill: source '%s' has no `window:` (backfill needs a windowed source)\n", s->name);
        sl_pipeline_free(p);
        return 2;
    }
    sl_journal_t *j = NULL;
    sl_error_t err = {0};
    if (sl_runner_open_journal(p, false, &j, &err) != 0) {
        fprintf(stderr, "sluice backfill: cannot open the journal in %s: %s\n", p->data_dir, err.msg);
        sl_pipeline_free(p);
        return 3;
    }
    sl_topic_t *topic;
    if (sl_journal_topic(j, s->to, NULL, &topic, &err) != 0) {
        fprintf(stderr, "sluice backfill: topic %s: %s\n", s->to, err.msg);
        sl_journal_close(j);
        sl_pipeline_free(p);
        return 3;
    }
    char writer[400];
    snprintf(writer, sizeof writer, "%s:backfill:%s:%s", s->name, from_s, to_s);
    /* the cursor: the last finished window's last day */
    int64_t done_upto = from - 1;
    void *cur = NULL;
    size_t cur_len = 0;
    sl_journal_cursor(j, writer, &cur, &cur_len);
    if (cur && cur_len == 10) {
        char d[11];
        memcpy(d, cur, 10);
        d[10] = 0;
        int64_t day = sl_http_parse_day(d);
        if (day >= from) done_upto = day;
    }
    free(cur);
    sl_runner_install_signals();
    sl_source_t *inst = &s->inst;
    inst->once = true;
    inst->vars = &p->vars;
    if (inst->plugin->open && inst->plugin->open(inst, &err) != 0) {
        fprintf(stderr, "sluice backfill: %s\n", err.msg);
        sl_journal_close(j);
        sl_pipeline_free(p);
        return 3;
    }
    int64_t n = (to - from + size) / size;
    int64_t total = 0;
    if (done_upto >= from)
        fprintf(stderr, "backfill %s: resuming after %s\n", s->name, writer);
    sl_arena_t arena;
    sl_arena_init(&arena, 65536);
    code = 0;
    for (int64_t i = 0; i < n && !sl_stop_requested; i++) {
        int64_t ws = from + i * size, we = ws + size - 1;
        if (we > to) we = to;
        char a[11], b[11];
        sl_http_format_day(ws, a);
        sl_http_format_day(we, b);
        if (we <= done_upto) {
            fprintf(stderr, "backfill %s: window %lld/%lld %s..%s: done before, skipped\n", s->name,
                    (long long)(i + 1), (long long)n, a, b);
            continue;
        }
        sl_record_t *recs = NULL, *dl = NULL;
        size_t nrecs = 0, ndl = 0;
        int64_t backoff = 0;
        int attempts = 0, rc;
        for (;;) {
            sl_arena_reset(&arena);
            int64_t retry_ms = -1;
            memset(&err, 0, sizeof err);
            rc = sl_http_fetch_window(inst, ws, we, &arena, &recs, &nrecs, &dl, &ndl, &retry_ms, &err);
            if (rc != SL_RETRY || sl_stop_requested) break;
            if (++attempts >= 8) break;
            backoff = backoff ? backoff * 2 : 1000;
            if (backoff > 60000) backoff = 60000;
            int64_t wait = retry_ms >= 0 ? retry_ms : backoff;
            fprintf(stderr, "backfill %s: window %lld/%lld %s..%s failed: %s (retry in %lld ms)\n", s->name,
                    (long long)(i + 1), (long long)n, a, b, err.msg, (long long)wait);
            free(recs);
            free(dl);
            recs = dl = NULL;
            nap_ms(wait);
        }
        if (rc != 0) {
            free(recs);
            free(dl);
            if (sl_stop_requested) break;
            fprintf(stderr, "backfill %s: window %lld/%lld %s..%s: %s\n", s->name, (long long)(i + 1),
                    (long long)n, a, b, err.msg);
            code = 3;
            break;
        }
        int64_t now = sl_now_ms();
        for (size_t k = 0; k < nrecs; k++) {
            sl_record_t *r = &recs[k];
            r->ingest_ts = now;
            if (!r->ts) r->ts = now;
            sl_error_t kerr = {0};
            if (sl_record_key_ts(r, s->key, s->ts, &p->vars, &arena, &kerr) != 0)
                sl_warn("backfill %s: record %zu: %s (kept with ingest time and no key)", s->name, k, kerr.msg);
        }
        /* what the live source dead-letters (a malformed body, scalar records) goes to
         * <source>.dlq in the same commit: the window is done either way */
        sl_topic_t *dlq_topic = NULL;
        char dlq_name[300];
        snprintf(dlq_name, sizeof dlq_name, "%s.dlq", s->name);
        rc = ndl ? sl_journal_topic(j, dlq_name, NULL, &dlq_topic, &err) : 0;
        sl_txn_t *txn = rc == 0 ? sl_txn_begin(j, writer) : NULL;
        if (rc == 0 && nrecs) rc = sl_txn_append(txn, topic, recs, nrecs, &err);
        if (rc == 0 && ndl) rc = sl_txn_append(txn, dlq_topic, dl, ndl, &err);
        if (rc == 0) rc = sl_txn_commit(txn, b, 10, NULL, &err);
        else sl_txn_abort(txn);
        if (rc == 0 && ndl) {
            const sl_value_t *why = sl_value_get(&dl[0].value, "error", 5);
            fprintf(stderr, "backfill %s: window %lld/%lld %s..%s: %zu bad input(s) to %s (first: %.*s)\n",
                    s->name, (long long)(i + 1), (long long)n, a, b, ndl, dlq_name,
                    why && why->type == SL_T_STRING ? (int)(why->len > 300 ? 300 : why->len) : 0,
                    why && why->type == SL_T_STRING ? why->u.s : "");
        }
        free(recs);
        free(dl);
        if (rc != 0) {
            fprintf(stderr, "backfill %s: cannot append to %s: %s\n", s->name, s->to, err.msg);
            code = 3;
            break;
        }
        total += (int64_t)nrecs;
        fprintf(stderr, "backfill %s: window %lld/%lld %s..%s: %zu records\n", s->name, (long long)(i + 1),
                (long long)n, a, b, nrecs);
    }
    if (sl_stop_requested && code == 0)
        fprintf(stderr, "backfill %s: interrupted; run the same command again to continue\n", s->name);
    else if (code == 0)
        fprintf(stderr, "backfill %s: done, %lld records to %s\n", s->name, (long long)total, s->to);
    if (inst->plugin->close) inst->plugin->close(inst);
    sl_arena_free(&arena);
    sl_journal_close(j);
    sl_pipeline_free(p);
    return code;
}

/* ------------------------------------------------------------------ record */

static int mkdirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *q = buf + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
            *q = '/';
        }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static int write_all(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    int bad = w != len;
    if (fclose(f) != 0) bad = 1;
    return bad ? -1 : 0;
}

int sl_cmd_record(int argc, char **argv) {
    const char *cmd = "record", *pos[3];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') return cli_usage(cmd, "unknown option");
        if (npos == 3) return cli_usage(cmd, "too many arguments");
        pos[npos++] = argv[i];
    }
    if (npos != 3) return cli_usage(cmd, "needs FILE SOURCE DIR");
    int code = 0;
    sl_source_cfg_t *s;
    sl_pipeline_t *p = cli_load(cmd, pos[0], pos[1], &s, &code);
    if (!p) return code;
    sl_source_t *inst = &s->inst;
    inst->once = true;
    inst->vars = &p->vars;
    sl_error_t err = {0};
    if (inst->plugin->open && inst->plugin->open(inst, &err) != 0) {
        fprintf(stderr, "sluice record: %s\n", err.msg);
        sl_pipeline_free(p);
        return 3;
    }
    int status = 0;
    sl_buf_t hdrs = SL_BUF_INIT, body = SL_BUF_INIT;
    int rc = sl_http_fetch_raw(inst, &status, &hdrs, &body, &err);
    if (inst->plugin->close) inst->plugin->close(inst);
    if (rc != 0) {
        fprintf(stderr, "sluice record: %s: %s\n", s->name, err.msg);
        sl_buf_free(&hdrs);
        sl_buf_free(&body);
        sl_pipeline_free(p);
        return 3;
    }
    char dir[4096], stamp[64], path[4200], side[4200];
    snprintf(dir, sizeof dir, "%s/%s", pos[2], s->name);
    if (mkdirs(dir) != 0) {
        fprintf(stderr, "sluice record: cannot create %s: %s\n", dir, sl_strerror(errno));
        code = 1;
        goto out;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    /* never overwrite an earlier recording of the same second */
    for (int k = 0;; k++) {
        if (k == 0) {
            snprintf(path, sizeof path, "%s/%s.json", dir, stamp);
            snprintf(side, sizeof side, "%s/%s.http", dir, stamp);
        } else {
            snprintf(path, sizeof path, "%s/%s-%d.json", dir, stamp, k);
            snprintf(side, sizeof side, "%s/%s-%d.http", dir, stamp, k);
        }
        if (access(path, F_OK) != 0) break;
    }
    sl_buf_t sc = SL_BUF_INIT;
    sl_buf_printf(&sc, "HTTP/1.1 %d\r\n", status);
    /* headers, without the ones that must not be replayed or stored */
    const char *h = hdrs.data ? hdrs.data : "";
    while (*h) {
        const char *nl = strchr(h, '\n');
        size_t len = nl ? (size_t)(nl - h) : strlen(h);
        size_t l = len;
        if (l && h[l - 1] == '\r') l--;
        if (l && strncasecmp(h, "set-cookie:", 11) != 0 && strncasecmp(h, "transfer-encoding:", 18) != 0 &&
            strncasecmp(h, "content-encoding:", 17) != 0 && strncasecmp(h, "content-length:", 15) != 0) {
            sl_buf_append(&sc, h, l);
            sl_buf_puts(&sc, "\r\n");
        }
        h += len + (nl ? 1 : 0);
    }
    if (write_all(path, body.data ? body.data : "", body.len) != 0 || write_all(side, sc.data, sc.len) != 0) {
        fprintf(stderr, "sluice record: cannot write %s: %s\n", path, sl_strerror(errno));
        code = 1;
    } else {
        printf("%s\n", path);
        fprintf(stderr, "record %s: HTTP %d, %zu bytes -> %s (+ %s)\n", s->name, status, body.len, path, side);
    }
    sl_buf_free(&sc);
out:
    sl_buf_free(&hdrs);
    sl_buf_free(&body);
    sl_pipeline_free(p);
    return code;
}
