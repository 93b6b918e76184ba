/* journal_meta.c - DIR/meta.log, the journal's metadata log: transaction commits
 * (committed ends + writer cursors), consumer-group commits, and snapshots that
 * compact it.  Formats: docs/FORMAT.md, "meta.log".
 *
 * Invariants:
 *  M1. A commit record is written only after the batches it covers were written;
 *      with fsync `always` and `interval` they are also synced before meta.log is.
 *  M2. Recovery applies records in order and stops at a torn tail.  A commit that
 *      names an end beyond the data found in its partition (its data did not survive
 *      a power loss, or a segment was cut) still moves the committed end (offsets
 *      are never reused; the missing records are reported as lost), but from then on
 *      its writer's cursor stays where it was before: a writer's cursor never runs
 *      ahead of its records, so the source fetches them again.
 *  M3. A snapshot is written to meta.log.tmp, synced, and renamed over meta.log, after
 *      every partition file was synced; it holds the whole state.
 *  M4. Damage is not a tail: a record that fails its crc or is malformed while whole
 *      records follow it (or whose length field alone was hit, or a run of zeros) is
 *      skipped, the replay goes on, and every partition's committed end is rebuilt
 *      from its valid batches (journal_load), so no batch that passed its crc is cut
 *      (DESIGN 2.7).  The damaged file is copied to DIR/quarantine/ before a snapshot
 *      replaces it.  Only a record cut short at the very end is a torn tail (cut). */
#include "journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- in-memory state ---- */

void sl_meta_set_cursor(sl_journal_t *j, const char *writer, const void *cur, size_t len) {
    sl_writer_cur_t *w = NULL;
    for (size_t i = 0; i < j->nwriters && !w; i++)
        if (strcmp(j->writers[i].name, writer) == 0) w = &j->writers[i];
    if (!w) {
        if (j->nwriters == j->capwriters) {
            size_t cap = j->capwriters ? j->capwriters * 2 : 8;
            sl_writer_cur_t *n = realloc(j->writers, cap * sizeof *n);
            if (!n) abort();
            j->writers = n;
            j->capwriters = cap;
        }
        w = &j->writers[j->nwriters++];
        w->name = sl_jstrdup(writer);
        w->cur = NULL;
        w->len = 0;
    }
    free(w->cur);
    w->cur = malloc(len ? len : 1);
    if (!w->cur) abort();
    if (len) memcpy(w->cur, cur, len);
    w->len = len;
}

sl_group_t *sl_meta_group(sl_journal_t *j, const char *name, bool create) {
    for (size_t i = 0; i < j->ngroups; i++)
        if (strcmp(j->groups[i].name, name) == 0) return &j->groups[i];
    if (!create) return NULL;
    if (j->ngroups == j->capgroups) {
        size_t cap = j->capgroups ? j->capgroups * 2 : 8;
        sl_group_t *n = realloc(j->groups, cap * sizeof *n);
        if (!n) abort();
        j->groups = n;
        j->capgroups = cap;
    }
    sl_group_t *g = &j->groups[j->ngroups++];
    memset(g, 0, sizeof *g);
    g->name = sl_jstrdup(name);
    return g;
}

void sl_meta_group_set(sl_group_t *g, const char *topic, int32_t partition, int64_t off) {
    for (size_t i = 0; i < g->n; i++)
        if (g->offs[i].partition == partition && strcmp(g->offs[i].topic, topic) == 0) {
            g->offs[i].offset = off;
            return;
        }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        sl_group_off_t *n = realloc(g->offs, cap * sizeof *n);
        if (!n) abort();
        g->offs = n;
        g->cap = cap;
    }
    g->offs[g->n].topic = sl_jstrdup(topic);
    g->offs[g->n].partition = partition;
    g->offs[g->n].offset = off;
    g->n++;
}

static void group_set_state(sl_group_t *g, const void *state, size_t len) {
    free(g->state);
    g->state = malloc(len ? len : 1);
    if (!g->state) abort();
    if (len) memcpy(g->state, state, len);
    g->state_len = len;
}

/* ---- records ---- */

/* Why meta_apply returned a reason: the record names data that is missing (applied
 * but for the writer's cursor: APPLY_LOST, M2), or is itself damaged (skipped; the
 * state is rebuilt from the segments, M4).  APPLY_BEYOND is ends_ok's finding. */
enum { APPLY_BEYOND = 1, APPLY_MALFORMED = 2, APPLY_LOST = 3 };

/* A string from the reader as a NUL-terminated heap copy (names never hold NUL). */
static char *rd_str(sl_jrd_t *r) {
    const char *p;
    size_t n;
    if (!sl_jrd_bytes(r, &p, &n) || memchr(p, 0, n)) return NULL;
    return sl_jstrndup(p, n);
}

/* NULL when every end of the commit is covered by the data found on disk; else why
 * not.  An entry naming a topic or partition that is not here (a topic directory
 * removed by hand) is ignored rather than refused: refusing would stop the replay and
 * cut the other topics' data (DESIGN 2.7). */
static const char *ends_ok(sl_journal_t *j, sl_jrd_t r, uint64_t n, char *why, size_t whylen,
                           int *kind) {
    for (uint64_t i = 0; i < n; i++) {
        char *topic = rd_str(&r);
        uint64_t part, end;
        if (!topic || !sl_jrd_varint(&r, &part) || !sl_jrd_varint(&r, &end)) {
            free(topic);
            *kind = APPLY_MALFORMED;
            return "malformed record";
        }
        sl_part_t *p = sl_journal_find_part(j, topic, (int64_t)part);
        if (p && (int64_t)end > p->data_end) {
            snprintf(why, whylen, "commit names %s/%" PRIu64 " end %" PRIu64 " beyond its data (%" PRId64 ")",
                     topic, part, end, p->data_end);
            free(topic);
            *kind = APPLY_BEYOND;
            return why;
        }
        free(topic);
    }
    return NULL;
}

static void ends_apply(sl_journal_t *j, sl_jrd_t *r, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        char *topic = rd_str(r);
        uint64_t part = 0, end = 0;
        sl_jrd_varint(r, &part);
        sl_jrd_varint(r, &end);
        sl_part_t *p = sl_journal_find_part(j, topic, (int64_t)part);
        if (p && (int64_t)end > p->committed) p->committed = (int64_t)end;
        free(topic);
    }
}

/* Validate, then apply, one record.  NULL when applied, else why it was refused. */
static const char *meta_apply(sl_journal_t *j, int type, const char *body, size_t len, char *why,
                              size_t whylen, int *kind) {
    sl_jrd_t r = {body, body + len};
    *kind = APPLY_MALFORMED;
    if (type == SL_META_COMMIT) {
        uint64_t txn, n;
        const char *w, *cur = NULL;
        size_t wl, cl = 0;
        if (!sl_jrd_u64(&r, &txn) || !sl_jrd_bytes(&r, &w, &wl) || r.p >= r.end) return "malformed commit";
        char has = *r.p++;
        if (has && !sl_jrd_bytes(&r, &cur, &cl)) return "malformed commit";
        if (!sl_jrd_varint(&r, &n)) return "malformed commit";
        const char *bad = ends_ok(j, r, n, why, whylen, kind);
        if (bad && *kind != APPLY_BEYOND) return bad;
        /* M2: the ends apply even when the data is gone (offsets are never reused),
         * but the writer's cursor stays before the lost records, from now on. */
        ends_apply(j, &r, n);
        char *wn = sl_jstrndup(w, wl);
        bool stale = false;
        for (size_t i = 0; i < j->nstale && !stale; i++) stale = strcmp(j->stale[i], wn) == 0;
        if (bad && !stale) {
            char **ns = realloc(j->stale, (j->nstale + 1) * sizeof *ns);
            if (!ns) abort();
            j->stale = ns;
            j->stale[j->nstale++] = sl_jstrdup(wn);
            size_t l = strlen(why);
            snprintf(why + l, whylen - l, ": records lost; writer %s keeps its cursor from before them", wn);
        }
        if (has && !bad && !stale) sl_meta_set_cursor(j, wn, cur, cl);
        free(wn);
        if (txn + 1 > j->next_txn) j->next_txn = txn + 1;
        if (bad) *kind = APPLY_LOST;
        return bad;
    }
    if (type == SL_META_GROUP) {
        char *name = rd_str(&r);
        uint64_t n;
        if (!name || !sl_jrd_varint(&r, &n)) {
            free(name);
            return "malformed group commit";
        }
        sl_jrd_t v = r;
        for (uint64_t i = 0; i < n; i++) {
            const char *t;
            size_t tl;
            uint64_t p, o;
            if (!sl_jrd_bytes(&v, &t, &tl) || !sl_jrd_varint(&v, &p) || !sl_jrd_varint(&v, &o)) {
                free(name);
                return "malformed group commit";
            }
        }
        const char *st = NULL;
        size_t sl = 0;
        char has = v.p < v.end ? *v.p++ : 0;
        if (has && !sl_jrd_bytes(&v, &st, &sl)) {
            free(name);
            return "malformed group commit";
        }
        sl_group_t *g = sl_meta_group(j, name, true);
        for (uint64_t i = 0; i < n; i++) {
            char *t = rd_str(&r);
            uint64_t p = 0, o = 0;
            sl_jrd_varint(&r, &p);
            sl_jrd_varint(&r, &o);
            if (t) sl_meta_group_set(g, t, (int32_t)p, sl_unzigzag(o));
            free(t);
        }
        if (has) group_set_state(g, st, sl);
        free(name);
        return NULL;
    }
    if (type == SL_META_SNAPSHOT) {
        uint64_t next, n;
        if (!sl_jrd_u64(&r, &next) || !sl_jrd_varint(&r, &n)) return "malformed snapshot";
        const char *lost = ends_ok(j, r, n, why, whylen, kind);
        if (lost && *kind != APPLY_BEYOND) return lost;
        ends_apply(j, &r, n);
        if (next > j->next_txn) j->next_txn = next;
        uint64_t nw, ng;
        if (!sl_jrd_varint(&r, &nw)) return "malformed snapshot";
        for (uint64_t i = 0; i < nw; i++) {
            char *name = rd_str(&r);
            const char *c;
            size_t cl;
            if (!name || !sl_jrd_bytes(&r, &c, &cl)) {
                free(name);
                return "malformed snapshot";
            }
            sl_meta_set_cursor(j, name, c, cl);
            free(name);
        }
        if (!sl_jrd_varint(&r, &ng)) return "malformed snapshot";
        for (uint64_t i = 0; i < ng; i++) {
            char *name = rd_str(&r);
            uint64_t no;
            if (!name || !sl_jrd_varint(&r, &no)) {
                free(name);
                return "malformed snapshot";
            }
            sl_group_t *g = sl_meta_group(j, name, true);
            free(name);
            for (uint64_t k = 0; k < no; k++) {
                char *t = rd_str(&r);
                uint64_t p, o;
                if (!t || !sl_jrd_varint(&r, &p) || !sl_jrd_varint(&r, &o)) {
                    free(t);
                    return "malformed snapshot";
                }
                sl_meta_group_set(g, t, (int32_t)p, sl_unzigzag(o));
                free(t);
            }
            if (r.p >= r.end) return "malformed snapshot";
            char has = *r.p++;
            if (has) {
                const char *st;
                size_t sl;
                if (!sl_jrd_bytes(&r, &st, &sl)) return "malformed snapshot";
                group_set_state(g, st, sl);
            }
        }
        if (lost) *kind = APPLY_LOST;
        return lost;
    }
    return "unknown record type";
}

static char *meta_path(const sl_journal_t *j, const char *name) {
    size_t n = strlen(j->dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p) abort();
    snprintf(p, n, "%s/%s", j->dir, name);
    return p;
}

/* Is there a whole record at buf[pos..size): length in range, a known type, crc ok? */
static bool rec_ok(const char *buf, size_t size, size_t pos) {
    if (size - pos < SL_META_HDR + 1) return false;
    uint32_t len = sl_get_u32(buf + pos);
    unsigned char type = (unsigned char)buf[pos + SL_META_HDR];
    if (len == 0 || len > SL_META_MAX || len > size - pos - SL_META_HDR) return false;
    if (type < SL_META_COMMIT || type > SL_META_SNAPSHOT) return false;
    return sl_jcrc(buf + pos + SL_META_HDR, len) == sl_get_u32(buf + pos + 4);
}

/* The first position >= from where a whole record starts, or size. */
static size_t rec_resync(const char *buf, size_t size, size_t from) {
    for (size_t p = from; p + SL_META_HDR < size; p++)
        if (rec_ok(buf, size, p)) return p;
    return size;
}

/* Keep a copy of a damaged meta.log in DIR/quarantine/ before it is rewritten. */
static void meta_quarantine(sl_journal_t *j, const char *buf, size_t size) {
    size_t n = strlen(j->dir) + 64;
    char *q = malloc(n);
    if (!q) abort();
    snprintf(q, n, "%s/quarantine", j->dir);
    mkdir(q, 0755);
    snprintf(q, n, "%s/quarantine/meta.log.%08x.bad", j->dir, (unsigned)sl_jcrc(buf, size));
    int fd = open(q, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (sl_jwrite_all(fd, buf, size, 0) != 0 || fsync(fd) != 0) { /* reported by the caller */ }
        close(fd);
    }
    free(q);
}

int sl_meta_load(sl_load_ctx_t *ctx, sl_error_t *err) {
    sl_journal_t *j = ctx->journal;
    bool ro = ctx->mode == SL_LOAD_RO || ctx->mode == SL_LOAD_FSCK;
    bool cut = ctx->mode == SL_LOAD_RW || ctx->mode == SL_LOAD_REPAIR;
    char *path = meta_path(j, "meta.log");
    struct stat pst;
    j->meta_missing = stat(path, &pst) != 0 && errno == ENOENT;
    int fd = open(path, (ro ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC, 0644);
    if (fd < 0 && !(ro && errno == ENOENT)) {
        int e = errno;
        free(path);
        return sl_error_set(err, SL_IO, "%s/meta.log: %s", j->dir, sl_strerror(e));
    }
    char *buf = NULL;
    size_t size = 0;
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) != 0) {
            int e = errno;
            close(fd);
            free(path);
            return sl_error_set(err, SL_IO, "%s/meta.log: %s", j->dir, sl_strerror(e));
        }
        size = (size_t)st.st_size;
        buf = malloc(size ? size : 1);
        if (!buf) abort();
        if (size && sl_jread_all(fd, buf, size, 0) != (int)size) {
            free(buf);
            close(fd);
            free(path);
            return sl_error_set(err, SL_IO, "%s/meta.log: short read", j->dir);
        }
    }
    size_t pos = 0;
    const char *bad = NULL;
    char why[256];
    bool rewrite = false;   /* a damaged record was skipped or mended: M4 */
    while (pos < size) {
        const char *reason = NULL;
        bool torn = false;
        uint32_t len = 0, crc = 0;
        if (size - pos < SL_META_HDR + 1) {
            reason = "torn record header";
            torn = true;
        } else {
            len = sl_get_u32(buf + pos);
            crc = sl_get_u32(buf + pos + 4);
            if (len == 0 || len > SL_META_MAX) reason = "bad record length";
            else if (len > size - pos - SL_META_HDR) reason = "torn record", torn = true;
            else if (sl_jcrc(buf + pos + SL_META_HDR, len) != crc) reason = "checksum mismatch";
        }
        if (!reason) {
            const char *body = buf + pos + SL_META_HDR;
            int kind;
            reason = meta_apply(j, (unsigned char)body[0], body + 1, len - 1, why, sizeof why, &kind);
            if (!reason) {
                pos += SL_META_HDR + len;
                continue;
            }
            if (kind == APPLY_LOST) {   /* M2: applied, but its data is gone */
                sl_load_report(ctx, path, pos, -1, false, "%s", reason);
                rewrite = true;    /* a snapshot keeps the cursors as recovered */
                pos += SL_META_HDR + len;
                continue;
            }
        }
        /* Damage or a torn tail at pos.  Where does the next whole record start? */
        size_t q = rec_resync(buf, size, pos + 1);
        if (q - pos > SL_META_HDR + 1 && sl_get_u32(buf + pos) != q - pos - SL_META_HDR &&
            sl_jcrc(buf + pos + SL_META_HDR, q - pos - SL_META_HDR) == sl_get_u32(buf + pos + 4)) {
            /* Only the length field was hit: the crc still vouches for the body. */
            const char *body = buf + pos + SL_META_HDR;
            int kind;
            if (!meta_apply(j, (unsigned char)body[0], body + 1, q - pos - SL_META_HDR - 1, why,
                            sizeof why, &kind)) {
                sl_load_report(ctx, path, pos, -1, false, "damaged record length (record recovered%s)",
                               cut ? "; meta.log rewritten" : "");
                rewrite = true;
                pos = q;
                continue;
            }
        }
        if (q == size && torn) {   /* an append cut short (M2): the tail */
            bad = reason;
            break;
        }
        /* Damage inside meta.log: skip to the next whole record and keep going; the
         * committed ends are rebuilt from the segments (M4). */
        sl_load_report(ctx, path, pos, -1, false,
                       "%s: %zu bytes unreadable, skipped; committed ends rebuilt from the segments%s",
                       reason, q - pos, cut ? " (meta.log kept in quarantine/ and rewritten)" : "");
        rewrite = true;
        j->meta_damaged = true;
        pos = q;
    }
    j->meta_cut = -1;
    if (bad) {
        sl_load_report(ctx, path, pos, -1, true, "%s (%zu bytes from here %s)", bad, size - pos,
                       cut ? "cut" : "ignored");
        j->meta_cut = (int64_t)pos;
    }
    if (rewrite && cut) {
        meta_quarantine(j, buf, size);
        j->need_snapshot = true;
    }
    j->meta_buf = buf;
    j->meta_buf_len = size;
    free(path);
    j->meta_size = (int64_t)pos;
    j->meta_fd = fd;
    return 0;
}

/* After the partitions settled: cut a torn tail of meta.log, or (when the state was
 * rebuilt) keep a copy of it in quarantine/; then close it unless open read-write. */
int sl_meta_settle(sl_load_ctx_t *ctx, sl_error_t *err) {
    sl_journal_t *j = ctx->journal;
    bool cut = ctx->mode == SL_LOAD_RW || ctx->mode == SL_LOAD_REPAIR;
    int rc = 0;
    if (cut && j->meta_damaged && !j->need_snapshot) {
        meta_quarantine(j, j->meta_buf, j->meta_buf_len);
        j->need_snapshot = true;
    }
    if (cut && !j->need_snapshot && j->meta_cut >= 0 && j->meta_fd >= 0 &&
        ftruncate(j->meta_fd, (off_t)j->meta_cut) != 0)
        rc = sl_error_set(err, SL_IO, "%s/meta.log: %s", j->dir, sl_strerror(errno));
    free(j->meta_buf);
    j->meta_buf = NULL;
    j->meta_buf_len = 0;
    if (ctx->mode != SL_LOAD_RW) {
        if (j->meta_fd >= 0) close(j->meta_fd);
        j->meta_fd = -1;
    }
    return rc;
}

int sl_meta_append(sl_journal_t *j, int type, const sl_buf_t *body, sl_error_t *err) {
    size_t len = 1 + body->len;
    char *rec = malloc(SL_META_HDR + len);
    if (!rec) abort();
    rec[SL_META_HDR] = (char)type;
    if (body->len) memcpy(rec + SL_META_HDR + 1, body->data, body->len);
    sl_put_u32(rec, (uint32_t)len);
    sl_put_u32(rec + 4, sl_jcrc(rec + SL_META_HDR, len));
    int rc = sl_jwrite_all(j->meta_fd, rec, SL_META_HDR + len, j->meta_size);
    free(rec);
    if (rc != 0) {
        int e = errno;
        /* Leave no half record behind: the next one would sit after garbage. */
        if (ftruncate(j->meta_fd, j->meta_size) != 0) { /* the crc catches it on open */ }
        return sl_error_set(err, SL_IO, "%s/meta.log: %s", j->dir, sl_strerror(e));
    }
    j->meta_size += (int64_t)(SL_META_HDR + len);
    return 0;
}

int sl_meta_compact(sl_journal_t *j, sl_error_t *err) {
    sl_buf_t body = SL_BUF_INIT;
    sl_jbuf_u64(&body, j->next_txn);
    size_t nends = 0;
    for (size_t t = 0; t < j->ntopics; t++) nends += (size_t)j->topics[t]->nparts;
    sl_jbuf_varint(&body, nends);
    for (size_t t = 0; t < j->ntopics; t++) {
        sl_topic_t *topic = j->topics[t];
        for (int p = 0; p < topic->nparts; p++) {
            sl_part_t *part = &topic->parts[p];
            pthread_rwlock_rdlock(&part->rw);
            int64_t end = part->committed;
            /* M3: the data a snapshot names must be on disk before the snapshot. */
            if (part->nseg) fdatasync(part->segs[part->nseg - 1]->fd);
            pthread_rwlock_unlock(&part->rw);
            sl_jbuf_bytes(&body, topic->name, strlen(topic->name));
            sl_jbuf_varint(&body, (uint64_t)p);
            sl_jbuf_varint(&body, (uint64_t)end);
        }
    }
    sl_jbuf_varint(&body, j->nwriters);
    for (size_t i = 0; i < j->nwriters; i++) {
        sl_jbuf_bytes(&body, j->writers[i].name, strlen(j->writers[i].name));
        sl_jbuf_bytes(&body, j->writers[i].cur, j->writers[i].len);
    }
    sl_jbuf_varint(&body, j->ngroups);
    for (size_t i = 0; i < j->ngroups; i++) {
        sl_group_t *g = &j->groups[i];
        sl_jbuf_bytes(&body, g->name, strlen(g->name));
        sl_jbuf_varint(&body, g->n);
        for (size_t k = 0; k < g->n; k++) {
            sl_jbuf_bytes(&body, g->offs[k].topic, strlen(g->offs[k].topic));
            sl_jbuf_varint(&body, (uint64_t)g->offs[k].partition);
            sl_jbuf_varint(&body, sl_zigzag(g->offs[k].offset));
        }
        sl_buf_putc(&body, g->state ? 1 : 0);
        if (g->state) sl_jbuf_bytes(&body, g->state, g->state_len);
    }
    char *tmp = meta_path(j, "meta.log.tmp"), *path = meta_path(j, "meta.log");
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = 0;
    if (fd < 0) {
        rc = sl_error_set(err, SL_IO, "%s: %s", tmp, sl_strerror(errno));
    } else {
        int old = j->meta_fd;
        int64_t old_size = j->meta_size;
        j->meta_fd = fd;
        j->meta_size = 0;
        rc = sl_meta_append(j, SL_META_SNAPSHOT, &body, err);
        if (rc == 0 && fsync(fd) != 0) rc = sl_error_set(err, SL_IO, "%s: %s", tmp, sl_strerror(errno));
        if (rc == 0 && rename(tmp, path) != 0) rc = sl_error_set(err, SL_IO, "%s: %s", path, sl_strerror(errno));
        if (rc == 0) {
            sl_jfsync_dir(j->dir);
            if (old >= 0) close(old);
        } else {
            close(fd);
            unlink(tmp);
            j->meta_fd = old;
            j->meta_size = old_size;
        }
    }
    free(tmp);
    free(path);
    sl_buf_free(&body);
    return rc;
}
