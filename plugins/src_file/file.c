/* file.c - source `file`: JSON lines from a file, optionally following it as it grows.
 * The read position (byte offset + inode) is the cursor, committed with the records,
 * so a restart neither skips nor repeats a line.  A malformed line goes to
 * `<source>.dlq` with its line's byte offset. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sluice/json.h"
#include "sluice/plugin.h"

typedef struct file_conf {
    char *path;
    int format;          /* 0 = jsonl */
    bool follow;
    int64_t chunk;       /* lines per commit */
    int64_t poll_ms;
    int64_t max_line;
} file_conf_t;

static const sl_config_map_t file_map[] = {
    {"path", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(file_conf_t, path), NULL,
     "the file to read"},
    {"format", SL_CFG_ENUM, "jsonl", 0, offsetof(file_conf_t, format), "jsonl",
     "one JSON value per line"},
    {"follow", SL_CFG_BOOL, "false", 0, offsetof(file_conf_t, follow), NULL,
     "keep reading as the file grows (and start over when it is replaced)"},
    {"chunk", SL_CFG_INT, "1000", 0, offsetof(file_conf_t, chunk), NULL, "lines per journal commit"},
    {"poll", SL_CFG_DURATION, "250ms", 0, offsetof(file_conf_t, poll_ms), NULL,
     "how often a followed file is checked for more"},
    {"max_line", SL_CFG_SIZE, "16MiB", 0, offsetof(file_conf_t, max_line), NULL,
     "longer lines go to the dead-letter topic"},
    SL_CONFIG_END};

typedef struct file_cursor { uint64_t pos, ino; } file_cursor_t;

typedef struct file_state {
    FILE *f;
    file_cursor_t cur;
    char *line;
    size_t line_cap;
} file_state_t;

static int file_init(sl_source_t *src, sl_init_ctx_t *ctx) {
    file_conf_t *c = src->conf;
    if (c->chunk < 1) c->chunk = 1;
    src->state = calloc(1, sizeof(file_state_t));
    return 0;
}

static int file_open(sl_source_t *src, sl_error_t *err) {
    file_conf_t *c = src->conf;
    file_state_t *st = src->state;
    memset(&st->cur, 0, sizeof st->cur);
    if (src->cursor && src->cursor_len == sizeof st->cur) memcpy(&st->cur, src->cursor, sizeof st->cur);
    st->f = fopen(c->path, "rb");
    if (st->f) setvbuf(st->f, NULL, _IOFBF, 1 << 16);   /* 64 KiB reads, not stdio's 4 KiB */
    if (!st->f) {
        if (errno == ENOENT && c->follow) return 0;  /* appears later */
        return sl_error_set(err, errno == ENOENT ? SL_FATAL : SL_RETRY, "cannot open %s: %s", c->path,
                            sl_strerror(errno));
    }
    struct stat sb;
    fstat(fileno(st->f), &sb);
    if (st->cur.ino && st->cur.ino != (uint64_t)sb.st_ino) st->cur.pos = 0;  /* replaced */
    if ((uint64_t)sb.st_size < st->cur.pos) st->cur.pos = 0;                  /* truncated */
    st->cur.ino = (uint64_t)sb.st_ino;
    fseeko(st->f, (off_t)st->cur.pos, SEEK_SET);
    return 0;
}

static int file_poll(sl_source_t *src, sl_emit_t *emit, int64_t *next_ms, sl_error_t *err) {
    file_conf_t *c = src->conf;
    file_state_t *st = src->state;
    if (!st->f) {
        int rc = file_open(src, err);
        if (rc) return rc;
        if (!st->f) {
            if (src->once) return SL_EOF;
            *next_ms = sl_mono_ms() + c->poll_ms;
            return 0;
        }
    }
    sl_arena_t *arena = sl_emit_arena(emit);
    file_cursor_t cur = st->cur;
    int64_t lines = 0;
    bool eof = false;
    while (lines < c->chunk) {
        ssize_t n = getline(&st->line, &st->line_cap, st->f);
        if (n <= 0) {
            eof = true;
            clearerr(st->f);
            break;
        }
        if (st->line[n - 1] != '\n' && c->follow && !src->once) {
            /* a partial last line: wait until the writer finishes it */
            fseeko(st->f, (off_t)cur.pos, SEEK_SET);
            eof = true;
            break;
        }
        uint64_t at = cur.pos;
        cur.pos += (uint64_t)n;
        size_t len = (size_t)n;
        while (len && (st->line[len - 1] == '\n' || st->line[len - 1] == '\r')) len--;
        size_t skip = 0;
        while (skip < len && (st->line[skip] == ' ' || st->line[skip] == '\t')) skip++;
        if (skip == len) continue;  /* blank line */
        lines++;
        char where[64];
        snprintf(where, sizeof where, "byte %llu", (unsigned long long)at);
        if ((int64_t)len > c->max_line) {
            sl_emit_dlq(emit, st->line, len < 256 ? len : 256, where, "line longer than max_line (%zu bytes)", len);
            continue;
        }
        sl_value_t v;
        sl_json_error_t jerr;
        if (sl_json_parse(arena, st->line + skip, len - skip, &v, &jerr) != 0) {
            sl_emit_dlq(emit, st->line, len, where, "malformed JSON at byte %zu of the line: %s",
                        jerr.offset + skip, jerr.reason);
            continue;
        }
        sl_record_t *rec = sl_emit_record(emit);
        rec->value = v;
        rec->raw = sl_arena_strndup(arena, st->line + skip, len - skip);  /* stored as read */
        rec->raw_len = (uint32_t)(len - skip);
    }
    int rc = sl_emit_commit(emit, &cur, sizeof cur, err);
    if (rc) {
        fseeko(st->f, (off_t)st->cur.pos, SEEK_SET);
        return rc;
    }
    st->cur = cur;
    if (!eof) {
        *next_ms = 0;
        return 0;
    }
    if (!c->follow || src->once) return SL_EOF;
    /* replaced or truncated? reopen on the next poll */
    struct stat sb;
    if (stat(c->path, &sb) != 0 || (uint64_t)sb.st_ino != st->cur.ino ||
        (uint64_t)sb.st_size < st->cur.pos) {
        fclose(st->f);
        st->f = NULL;
    }
    *next_ms = sl_mono_ms() + c->poll_ms;
    return 0;
}

static void file_close(sl_source_t *src) {
    file_state_t *st = src->state;
    if (st && st->f) fclose(st->f);
    if (st) st->f = NULL;
}

static void file_free(sl_source_t *src) {
    file_state_t *st = src->state;
    if (!st) return;
    free(st->line);
    free(st);
    src->state = NULL;
}

const sl_source_plugin_t sl_source_file = {
    .abi = SL_PLUGIN_ABI,
    .name = "file",
    .description = "Reads JSON lines from a file (and follows it as it grows); the read position is the cursor.",
    .config = file_map,
    .config_size = sizeof(file_conf_t),
    .shorthand = "path",
    .init = file_init,
    .open = file_open,
    .poll = file_poll,
    .close = file_close,
    .free = file_free,
};
