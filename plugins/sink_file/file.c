/* file.c - sink `file`: JSON lines (or CSV) appended to a file whose path may hold a
 * strftime date of each record's event time ("out/%Y-%m-%d.jsonl").  Each batch is
 * written and fdatasync'ed before the job commits: at-least-once (a crash between the
 * write and the commit repeats the batch's tail). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sluice/fsutil.h"
#include "sluice/json.h"
#include "sluice/plugin.h"

typedef struct fsink_conf {
    char *path;
    int format;         /* 0 jsonl, 1 csv */
    sl_strlist_t columns;
    bool sync;
} fsink_conf_t;

static const sl_config_map_t fsink_map[] = {
    {"path", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(fsink_conf_t, path), NULL,
     "file to append to; strftime patterns (%Y-%m-%d) use each record's event time, UTC"},
    {"format", SL_CFG_ENUM, "jsonl", 0, offsetof(fsink_conf_t, format), "jsonl|csv",
     "JSON lines, or CSV with a header"},
    {"columns", SL_CFG_STRLIST, NULL, 0, offsetof(fsink_conf_t, columns), NULL,
     "CSV: the fields to write (default: the first record's top-level fields)"},
    {"sync", SL_CFG_BOOL, "true", 0, offsetof(fsink_conf_t, sync), NULL,
     "fdatasync each batch before the job commits"},
    SL_CONFIG_END};

typedef struct fsink_state {
    char *cur_path;
    int fd;
    char **cols;
    size_t ncols;
} fsink_state_t;

static int fsink_init(sl_sink_t *sink, sl_init_ctx_t *ctx) {
    sink->state = calloc(1, sizeof(fsink_state_t));
    ((fsink_state_t *)sink->state)->fd = -1;
    return 0;
}

static int open_path(fsink_state_t *st, const char *path, sl_error_t *err) {
    if (st->cur_path && strcmp(st->cur_path, path) == 0) return 0;
    if (st->fd >= 0) close(st->fd);
    free(st->cur_path);
    st->cur_path = strdup(path);
    sl_mkdir_parent(path);
    st->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (st->fd < 0) return sl_error_set(err, SL_RETRY, "cannot open %s: %s", path, sl_strerror(errno));
    return 0;
}

static void csv_field(sl_buf_t *b, sl_value_t v) {
    sl_buf_t t = SL_BUF_INIT;
    if (v.type == SL_T_STRING) sl_buf_append(&t, v.u.s, v.len);
    else if (v.type != SL_T_NULL) sl_json_write(&t, v);
    bool quote = t.len && strpbrk(t.data, ",\"\n\r") != NULL;
    if (quote) {
        sl_buf_putc(b, '"');
        for (size_t i = 0; i < t.len; i++) {
            if (t.data[i] == '"') sl_buf_putc(b, '"');
            sl_buf_putc(b, t.data[i]);
        }
        sl_buf_putc(b, '"');
    } else if (t.len) {
        sl_buf_append(b, t.data, t.len);
    }
    sl_buf_free(&t);
}

static int flush_buf(fsink_state_t *st, sl_buf_t *b, bool sync, sl_error_t *err) {
    size_t at = 0;
    while (at < b->len) {
        ssize_t w = write(st->fd, b->data + at, b->len - at);
        if (w < 0) {
            if (errno == EINTR) continue;
            return sl_error_set(err, SL_RETRY, "cannot write %s: %s", st->cur_path, sl_strerror(errno));
        }
        at += (size_t)w;
    }
    if (sync && b->len && fdatasync(st->fd) != 0)
        return sl_error_set(err, SL_RETRY, "cannot sync %s: %s", st->cur_path, sl_strerror(errno));
    sl_buf_clear(b);
    return 0;
}

static int fsink_write(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto,
                       sl_error_t *err) {
    const fsink_conf_t *c = sink->conf;
    fsink_state_t *st = sink->state;
    bool dated = strchr(c->path, '%') != NULL;
    sl_buf_t b = SL_BUF_INIT;
    int rc = 0;
    char path[4096];
    if (!dated) {
        rc = open_path(st, c->path, err);
        if (rc) return rc;
    }
    for (size_t i = 0; i < batch->n && rc == 0; i++) {
        const sl_record_t *rec = &batch->recs[i];
        if (dated) {
            time_t secs = (time_t)(rec->ts / 1000);
            struct tm tm;
            gmtime_r(&secs, &tm);
            if (strftime(path, sizeof path, c->path, &tm) == 0) snprintf(path, sizeof path, "%s", c->path);
            if (!st->cur_path || strcmp(path, st->cur_path) != 0) {
                rc = st->fd >= 0 ? flush_buf(st, &b, c->sync, err) : 0;
                if (rc == 0) rc = open_path(st, path, err);
                if (rc) break;
            }
        }
        if (c->format == 1) {
            if (!st->cols) {
                if (c->columns.n) {
                    st->ncols = c->columns.n;
                    st->cols = calloc(st->ncols, sizeof *st->cols);
                    if (!st->cols) abort();
                    for (size_t k = 0; k < st->ncols; k++) st->cols[k] = strdup(c->columns.v[k]);
                } else if (rec->value.type == SL_T_OBJECT) {
                    st->ncols = rec->value.len;
                    st->cols = calloc(st->ncols ? st->ncols : 1, sizeof *st->cols);
                    if (!st->cols) abort();
                    for (size_t k = 0; k < st->ncols; k++) st->cols[k] = strdup(rec->value.u.o[k].key);
                }
            }
            struct stat sb;
            if (fstat(st->fd, &sb) == 0 && sb.st_size == 0 && b.len == 0) {
                for (size_t k = 0; k < st->ncols; k++) {
                    if (k) sl_buf_putc(&b, ',');
                    /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): cols is NULL only while ncols is 0 */
                    csv_field(&b, sl_str(st->cols[k], strlen(st->cols[k])));
                }
                sl_buf_putc(&b, '\n');
            }
            for (size_t k = 0; k < st->ncols; k++) {
                if (k) sl_buf_putc(&b, ',');
                /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): cols is NULL only while ncols is 0 */
                const sl_value_t *v = sl_value_get_path(&rec->value, st->cols[k]);
                csv_field(&b, v ? *v : sl_null());
            }
            sl_buf_putc(&b, '\n');
        } else {
            sl_json_write(&b, rec->value);
            sl_buf_putc(&b, '\n');
        }
        if (b.len > (1 << 20)) rc = flush_buf(st, &b, false, err);
    }
    if (rc == 0 && st->fd >= 0) rc = flush_buf(st, &b, c->sync, err);
    sl_buf_free(&b);
    return rc;
}

static void fsink_close(sl_sink_t *sink) {
    fsink_state_t *st = sink->state;
    if (!st) return;
    if (st->fd >= 0) close(st->fd);
    st->fd = -1;
    free(st->cur_path);
    st->cur_path = NULL;
}

static void fsink_free(sl_sink_t *sink) {
    fsink_state_t *st = sink->state;
    if (!st) return;
    fsink_close(sink);
    for (size_t k = 0; k < st->ncols; k++) free(st->cols[k]);
    free(st->cols);
    free(st);
    sink->state = NULL;
}

const sl_sink_plugin_t sl_sink_file = {
    .abi = SL_PLUGIN_ABI,
    .name = "file",
    .description = "Appends records to a file as JSON lines or CSV; the path may hold a strftime date of the record's event time.",
    .config = fsink_map,
    .config_size = sizeof(fsink_conf_t),
    .shorthand = "path",
    .init = fsink_init,
    .write = fsink_write,
    .close = fsink_close,
    .free = fsink_free,
};
