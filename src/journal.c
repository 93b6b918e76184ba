/* journal.c - the embedded topic backend: open/recovery, topics, transactions, consumer
 * groups, the group-commit flusher and retention.  Segments and reading live in
 * journal_segment.c, meta.log in journal_meta.c; bytes in docs/FORMAT.md.
 *
 * Invariants:
 *  J1. A partition is owned by at most one transaction from its first append to its
 *      commit or abort; only the owner writes its files.  So the batches of one
 *      partition beyond its committed end belong to one transaction, and moving the
 *      committed end to that transaction's end exposes nothing uncommitted.
 *  J2. Ownership is taken in whatever order a transaction appends; a wait that would
 *      close a cycle (txn A waits for B which waits for A) fails with SL_RETRY
 *      instead of blocking: the caller aborts and retries.  Retention takes
 *      ownership too (never waiting), so it never races an appender.
 *  J3. A commit becomes visible in memory (committed ends, cursor) only after its
 *      record is in meta.log, in the same j->mu section, so a snapshot never misses
 *      a commit that readers saw.
 *  J4. durable_seq only advances after the partition files and then meta.log were
 *      synced; commits with fsync `always` are synced before sl_txn_commit returns.
 *  J5. Offsets are never reused for different records once readers could see them:
 *      recovery only cuts what no commit covers (and fsck keeps the numbering).
 *  J6. Retention deletes a segment only when every reader of its topic (a group that
 *      committed on it, or one declared by sl_journal_reader) has committed past its
 *      last record, unless the topic says on_full: drop_oldest, and then each record
 *      deleted unread is counted and logged.  A partition over retention_bytes with
 *      nothing more it may delete is full: appends to it fail with SL_RETRY before
 *      writing a byte, so backpressure reaches the writers instead of loss.
 *  J7. Recovery never cuts a batch that passes its crc (docs/FORMAT.md invariant 8):
 *      a damaged or missing meta.log, or commits lost from it, make every partition's
 *      committed end its data end; a topic meta file that does not account for a
 *      partition holding data makes open refuse before it writes anything.
 *
 * Ownership states of a partition:  free --append--> owned(txn) --commit/abort--> free
 *                                   free --retention (try)--> owned(retention) --> free */
#include "journal_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

/* ---- small helpers shared by the journal files ---- */

char *sl_jstrndup(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) abort();
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *sl_jstrdup(const char *s) { return sl_jstrndup(s, strlen(s)); }

static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (!p) abort();
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

int sl_jfsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return SL_IO;
    int rc = fsync(fd) == 0 ? 0 : SL_IO;
    close(fd);
    return rc;
}

int sl_jwrite_all(int fd, const void *p, size_t n, int64_t pos) {
    const char *b = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, b, n, (off_t)pos);
        if (w < 0) {
            if (errno == EINTR) continue;
            return SL_IO;
        }
        b += w;
        n -= (size_t)w;
        pos += w;
    }
    return 0;
}

int sl_jread_all(int fd, void *p, size_t n, int64_t pos) {
    char *b = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)(pos + (int64_t)got));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (int)got;
}

void sl_load_report(sl_load_ctx_t *ctx, const char *path, uint64_t file_off, int64_t offset,
                    bool tail, const char *fmt, ...) {
    ctx->damages++;
    if (!tail) ctx->serious++;
    if (!ctx->report) return;
    sl_journal_damage_t d;
    memset(&d, 0, sizeof d);
    snprintf(d.path, sizeof d.path, "%s", path);
    d.file_offset = file_off;
    d.offset = offset;
    d.tail = tail;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d.what, sizeof d.what, fmt, ap);
    va_end(ap);
    ctx->report(ctx->opaque, &d);
}

static void timespec_in(struct timespec *ts, int64_t ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* ---- topics ---- */

void sl_topic_opts_default(sl_topic_opts_t *opts) {
    opts->partitions = 1;
    opts->fsync = SL_FSYNC_INTERVAL;
    opts->fsync_interval_ms = 50;
    opts->retention_ms = 7LL * 24 * 3600 * 1000;
    opts->retention_bytes = 0;
    opts->segment_bytes = 64LL << 20;
    opts->on_full = SL_ON_FULL_PAUSE;
}

static bool topic_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 200 || strcmp(name, ".") == 0 || strstr(name, "..")) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') return false;
    }
    return true;
}

static void opts_fix(sl_topic_opts_t *o) {
    sl_topic_opts_t d;
    sl_topic_opts_default(&d);
    if (o->partitions < 1) o->partitions = d.partitions;
    if (o->fsync < SL_FSYNC_ALWAYS || o->fsync > SL_FSYNC_OFF) o->fsync = d.fsync;
    if (o->fsync_interval_ms <= 0) o->fsync_interval_ms = d.fsync_interval_ms;
    if (o->retention_ms < 0) o->retention_ms = 0;
    if (o->retention_bytes < 0) o->retention_bytes = 0;
    if (o->segment_bytes <= 0) o->segment_bytes = d.segment_bytes;
    if (o->segment_bytes < 4096) o->segment_bytes = 4096;
    if (o->segment_bytes > (3LL << 30)) o->segment_bytes = 3LL << 30;  /* u32 index positions */
    if (o->on_full != SL_ON_FULL_DROP_OLDEST) o->on_full = SL_ON_FULL_PAUSE;
}

/* DIR/topics/<name>/meta: "key value" lines, rewritten with tmp + rename. */
static int topic_meta_write(const sl_topic_t *t, sl_error_t *err) {
    char *path = path_join(t->dir, "meta"), *tmp = path_join(t->dir, "meta.tmp");
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (!f) {
        rc = sl_error_set(err, SL_IO, "%s: %s", tmp, sl_strerror(errno));
    } else {
        fprintf(f, "partitions %d\nfsync %d\nfsync_interval_ms %" PRId64 "\nretention_ms %" PRId64
                   "\nretention_bytes %" PRId64 "\nsegment_bytes %" PRId64 "\non_full %d\n",
                t->nparts, t->opts.fsync, t->opts.fsync_interval_ms, t->opts.retention_ms,
                t->opts.retention_bytes, t->opts.segment_bytes, t->opts.on_full);
        if (fflush(f) != 0 || fsync(fileno(f)) != 0) rc = SL_IO;
        if (fclose(f) != 0) rc = SL_IO;
        if (rc == 0 && rename(tmp, path) != 0) rc = SL_IO;
        if (rc) sl_error_set(err, SL_IO, "%s: %s", path, sl_strerror(errno));
        else sl_jfsync_dir(t->dir);
    }
    free(path);
    free(tmp);
    return rc;
}

static bool topic_meta_read(const char *dir, sl_topic_opts_t *o) {
    char *path = path_join(dir, "meta");
    FILE *f = fopen(path, "r");
    free(path);
    if (!f) return false;
    sl_topic_opts_default(o);
    o->partitions = 0;
    char key[64];
    long long v;
    while (fscanf(f, "%63s %lld", key, &v) == 2) {
        if (strcmp(key, "partitions") == 0) o->partitions = (int)v;
        else if (strcmp(key, "fsync") == 0) o->fsync = (int)v;
        else if (strcmp(key, "fsync_interval_ms") == 0) o->fsync_interval_ms = v;
        else if (strcmp(key, "retention_ms") == 0) o->retention_ms = v;
        else if (strcmp(key, "retention_bytes") == 0) o->retention_bytes = v;
        else if (strcmp(key, "segment_bytes") == 0) o->segment_bytes = v;
        else if (strcmp(key, "on_full") == 0) o->on_full = (int)v;
    }
    fclose(f);
    if (o->partitions < 1 || o->partitions > 100000) return false;
    opts_fix(o);
    return true;
}

static sl_topic_t *topic_new(sl_journal_t *j, const char *name, const sl_topic_opts_t *opts) {
    sl_topic_t *t = calloc(1, sizeof *t);
    if (!t) abort();
    t->journal = j;
    t->name = sl_jstrdup(name);
    char *tdir = path_join(j->dir, "topics");
    t->dir = path_join(tdir, name);
    free(tdir);
    t->opts = *opts;
    t->nparts = opts->partitions;
    t->parts = calloc((size_t)t->nparts, sizeof *t->parts);
    if (!t->parts) abort();
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* Readers come and go all the time: let a waiting appender in first. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    for (int i = 0; i < t->nparts; i++) {
        sl_part_t *p = &t->parts[i];
        p->topic = t;
        p->id = i;
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        p->dir = path_join(t->dir, num);
        p->committed = -1;
        pthread_rwlock_init(&p->rw, &attr);
        pthread_mutex_init(&p->hole_mu, NULL);
    }
    pthread_rwlockattr_destroy(&attr);
    if (j->ntopics == j->captopics) {
        size_t cap = j->captopics ? j->captopics * 2 : 16;
        sl_topic_t **n = realloc(j->topics, cap * sizeof *n);
        if (!n) abort();
        j->topics = n;
        j->captopics = cap;
    }
    j->topics[j->ntopics++] = t;
    return t;
}

static void topic_free(sl_topic_t *t) {
    for (int i = 0; i < t->nparts; i++) {
        sl_part_t *p = &t->parts[i];
        sl_part_unload(p);
        free(p->segs);
        free(p->ldmg);
        free(p->holes);
        free(p->dir);
        pthread_rwlock_destroy(&p->rw);
        pthread_mutex_destroy(&p->hole_mu);
    }
    free(t->parts);
    free(t->name);
    free(t->dir);
    free(t);
}

sl_topic_t *sl_journal_find_topic(sl_journal_t *j, const char *name) {
    for (size_t i = 0; i < j->ntopics; i++)
        if (strcmp(j->topics[i]->name, name) == 0) return j->topics[i];
    return NULL;
}

sl_part_t *sl_journal_find_part(sl_journal_t *j, const char *topic, int64_t partition) {
    sl_topic_t *t = topic ? sl_journal_find_topic(j, topic) : NULL;
    if (!t || partition < 0 || partition >= t->nparts) return NULL;
    return &t->parts[partition];
}

/* ---- open / load ---- */

static sl_journal_t *journal_new(const char *dir, bool ro) {
    sl_journal_t *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->dir = sl_jstrdup(dir);
    j->ro = ro;
    j->lock_fd = -1;
    j->meta_fd = -1;
    j->next_txn = 1;
    pthread_mutex_init(&j->mu, NULL);
    pthread_mutex_init(&j->own_mu, NULL);
    pthread_cond_init(&j->commit_cv, NULL);
    pthread_cond_init(&j->durable_cv, NULL);
    pthread_cond_init(&j->flush_cv, NULL);
    pthread_cond_init(&j->own_cv, NULL);
    j->retention_owner = calloc(1, sizeof *j->retention_owner);
    if (!j->retention_owner) abort();
    return j;
}

static void journal_free(sl_journal_t *j) {
    for (size_t i = 0; i < j->ntopics; i++) topic_free(j->topics[i]);
    free(j->topics);
    for (size_t i = 0; i < j->nwriters; i++) {
        free(j->writers[i].name);
        free(j->writers[i].cur);
    }
    free(j->writers);
    for (size_t i = 0; i < j->ngroups; i++) {
        sl_group_t *g = &j->groups[i];
        for (size_t k = 0; k < g->n; k++) free(g->offs[k].topic);
        free(g->offs);
        free(g->state);
        free(g->name);
    }
    free(j->groups);
    for (size_t i = 0; i < j->nreaders; i++) {
        free(j->readers[i].group);
        free(j->readers[i].topic);
    }
    free(j->readers);
    if (j->meta_fd >= 0) close(j->meta_fd);
    free(j->meta_buf);
    for (size_t i = 0; i < j->nstale; i++) free(j->stale[i]);
    free(j->stale);
    if (j->lock_fd >= 0) close(j->lock_fd);   /* releases the flock */
    pthread_mutex_destroy(&j->mu);
    pthread_mutex_destroy(&j->own_mu);
    pthread_cond_destroy(&j->commit_cv);
    pthread_cond_destroy(&j->durable_cv);
    pthread_cond_destroy(&j->flush_cv);
    pthread_cond_destroy(&j->own_cv);
    free(j->retention_owner);
    free(j->dir);
    free(j);
}

static int journal_lock(sl_journal_t *j, sl_error_t *err) {
    char *path = path_join(j->dir, "LOCK");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(path);
    if (fd < 0) return sl_error_set(err, SL_IO, "%s/LOCK: %s", j->dir, sl_strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        int n = sl_jread_all(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        close(fd);
        if (e == EWOULDBLOCK)
            return sl_error_set(err, SL_RETRY, "journal %s is locked by pid %s", j->dir, pid[0] ? pid : "?");
        return sl_error_set(err, SL_IO, "%s/LOCK: %s", j->dir, sl_strerror(e));
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || sl_jwrite_all(fd, pid, (size_t)n, 0) != 0) { /* the lock still holds */ }
    j->lock_fd = fd;
    return 0;
}

/* The highest partition directory N of a topic (DIR/topics/<name>/N/) that holds a
 * non-empty segment, or -1: data the topic's meta file must account for. */
static int topic_data_parts(const char *tdir) {
    DIR *d = opendir(tdir);
    if (!d) return -1;
    int max = -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long n = strtol(de->d_name, &end, 10);
        if (!de->d_name[0] || *end || n < 0 || n > 1000000 || n <= max) continue;
        char *pdir = path_join(tdir, de->d_name);
        DIR *pd = opendir(pdir);
        struct dirent *se;
        while (pd && (se = readdir(pd))) {
            size_t l = strlen(se->d_name);
            if (l < 5 || strcmp(se->d_name + l - 4, ".log") != 0) continue;
            char *seg = path_join(pdir, se->d_name);
            struct stat st;
            if (stat(seg, &st) == 0 && st.st_size > 0) max = (int)n;
            free(seg);
            if (max == (int)n) break;
        }
        if (pd) closedir(pd);
        free(pdir);
    }
    closedir(d);
    return max;
}

/* Discover DIR/topics/<name>/ and scan every partition, then apply meta.log and
 * settle (cut) every partition: the recovery algorithm of docs/FORMAT.md. */
static int journal_load(sl_journal_t *j, sl_load_ctx_t *ctx, sl_error_t *err) {
    char *tdir = path_join(j->dir, "topics");
    bool ro = ctx->mode == SL_LOAD_RO || ctx->mode == SL_LOAD_FSCK;
    if (!ro && mkdir(tdir, 0755) != 0 && errno != EEXIST) {
        int e = errno;
        free(tdir);
        return sl_error_set(err, SL_IO, "%s/topics: %s", j->dir, sl_strerror(e));
    }
    DIR *d = opendir(tdir);
    if (d) {
        struct dirent *de;
        char **names = NULL;
        size_t n = 0, cap = 0;
        while ((de = readdir(d))) {
            if (!topic_name_ok(de->d_name)) continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                char **nn = realloc(names, cap * sizeof *nn);
                if (!nn) abort();
                names = nn;
            }
            names[n++] = sl_jstrdup(de->d_name);
        }
        closedir(d);
        int rc = 0;
        for (size_t i = 0; i < n; i++) {
            char *dir = path_join(tdir, names[i]);
            sl_topic_opts_t o;
            struct stat st;
            if (rc == 0 && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
                /* A topic's meta file must account for every partition holding data:
                 * otherwise opening would cut what it does not see.  Refuse before
                 * any byte changes (fsck reports it and checks the rest). */
                bool ok = topic_meta_read(dir, &o);
                int data = topic_data_parts(dir);
                char why[160] = "";
                if (!ok && data >= 0)
                    snprintf(why, sizeof why, "topic has data in partition %d but no readable meta file", data);
                else if (ok && data >= o.partitions)
                    snprintf(why, sizeof why, "meta says %d partition(s) but partition %d holds data",
                             o.partitions, data);
                if (why[0]) {
                    sl_load_report(ctx, dir, 0, -1, false, "%s: left untouched (restore %s/meta)", why, dir);
                    if (ctx->mode != SL_LOAD_FSCK)
                        rc = sl_error_set(err, SL_CORRUPT,
                                          "%s: %s; nothing was changed: restore its meta file "
                                          "(\"partitions N\") or move the topic away",
                                          dir, why);
                } else if (ok) {
                    topic_new(j, names[i], &o);
                } else {
                    sl_load_report(ctx, dir, 0, -1, false, "topic without a readable meta file (ignored)");
                }
            }
            free(dir);
            free(names[i]);
        }
        free(names);
        if (rc) {
            free(tdir);
            return rc;
        }
    }
    free(tdir);
    int rc = 0;
    for (size_t t = 0; t < j->ntopics && rc == 0; t++)
        for (int p = 0; p < j->topics[t]->nparts && rc == 0; p++)
            rc = sl_part_load(ctx, &j->topics[t]->parts[p], err);
    if (rc == 0) rc = sl_meta_load(ctx, err);
    /* Never hand out a txn id a batch on disk already carries (meta.log may have lost
     * the commits that named it): the lost-commit check below relies on them. */
    if (j->max_batch_txn + 1 > j->next_txn) j->next_txn = j->max_batch_txn + 1;
    /* Is meta.log missing commits?  Gone with data in the partitions, damaged, or a
     * partition holds batches of two transactions beyond its committed end (J1 allows
     * one: the transaction open at the crash), so a commit record was lost. */
    bool has_data = false;
    for (size_t t = 0; t < j->ntopics && rc == 0; t++) {
        for (int p = 0; p < j->topics[t]->nparts; p++) {
            sl_part_t *part = &j->topics[t]->parts[p];
            if (part->committed < 0) part->committed = part->nseg ? part->segs[0]->base : 0;
            if (part->nseg && part->data_end > part->segs[0]->base) has_data = true;
            if (part->tail_txn_from > part->committed && !j->meta_damaged) {
                sl_load_report(ctx, part->dir, 0, part->committed, false,
                               "meta.log lacks the commit of records [%" PRId64 ", %" PRId64
                               ") (their transaction record is lost): kept",
                               part->committed, part->tail_txn_from);
                j->meta_damaged = true;
            }
        }
    }
    if (rc == 0 && j->meta_missing && has_data) {
        sl_load_report(ctx, j->dir, 0, -1, false,
                       "meta.log is missing: committed ends rebuilt from the segments; source "
                       "cursors and group offsets start over");
        j->meta_damaged = true;
    }
    for (size_t t = 0; t < j->ntopics && rc == 0; t++) {
        for (int p = 0; p < j->topics[t]->nparts && rc == 0; p++) {
            sl_part_t *part = &j->topics[t]->parts[p];
            if (j->meta_damaged && part->data_end > part->committed) {
                /* DESIGN 2.7: with damaged metadata every batch that passed its crc
                 * is kept (a source may fetch some again: duplicates, never loss). */
                sl_load_report(ctx, part->dir, 0, part->committed, false,
                               "records [%" PRId64 ", %" PRId64 ") kept as committed (meta.log damaged)",
                               part->committed, part->data_end);
                part->committed = part->data_end;
            }
            rc = sl_part_settle(ctx, part, err);
            free(part->ldmg);
            part->ldmg = NULL;
            part->nldmg = part->capldmg = 0;
        }
    }
    if (rc == 0) rc = sl_meta_settle(ctx, err);
    if (rc == 0 && j->need_snapshot && (ctx->mode == SL_LOAD_RW || ctx->mode == SL_LOAD_REPAIR))
        rc = sl_meta_compact(j, err);
    return rc;
}

static void *flusher_main(void *arg);

int sl_journal_open(const char *dir, const sl_journal_opts_t *opts, sl_journal_t **out,
                    sl_error_t *err) {
    *out = NULL;
    bool ro = opts && opts->read_only;
    if (!ro && mkdir(dir, 0755) != 0 && errno != EEXIST)
        return sl_error_set(err, SL_IO, "%s: %s", dir, sl_strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return sl_error_set(err, ro ? SL_NOTFOUND : SL_IO, "%s: not a journal directory", dir);
    sl_journal_t *j = journal_new(dir, ro);
    if (opts) j->opts = *opts;
    int rc = ro ? 0 : journal_lock(j, err);
    if (rc) {
        journal_free(j);
        return rc;
    }
    sl_load_ctx_t ctx = {j, ro ? SL_LOAD_RO : SL_LOAD_RW, j->opts.report, j->opts.report_opaque, 0, 0};
    rc = journal_load(j, &ctx, err);
    if (rc) {
        journal_free(j);
        return rc;
    }
    atomic_store(&j->damages, ctx.serious);
    if (!ro) {
        if (pthread_create(&j->flusher, NULL, flusher_main, j) != 0) {
            journal_free(j);
            return sl_error_set(err, SL_FATAL, "cannot start the journal flusher thread");
        }
        j->flusher_on = true;
    }
    *out = j;
    return 0;
}

static void flush_now(sl_journal_t *j, bool all);

int sl_journal_damages(const sl_journal_t *j) { return atomic_load(&((sl_journal_t *)j)->damages); }

void sl_journal_close(sl_journal_t *j) {
    if (!j) return;
    /* A transaction still open at close never committed: forget it (cut on open). */
    for (;;) {
        pthread_mutex_lock(&j->mu);
        sl_txn_t *txn = j->txns;
        pthread_mutex_unlock(&j->mu);
        if (!txn) break;
        sl_txn_abort(txn);
    }
    if (j->flusher_on) {
        pthread_mutex_lock(&j->mu);
        j->stop = true;
        pthread_cond_broadcast(&j->flush_cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->flusher, NULL);
        pthread_mutex_lock(&j->mu);
        flush_now(j, true);
        pthread_mutex_unlock(&j->mu);
    }
    journal_free(j);
}

int sl_journal_topic(sl_journal_t *j, const char *name, const sl_topic_opts_t *opts,
                     sl_topic_t **out, sl_error_t *err) {
    *out = NULL;
    if (!name || !topic_name_ok(name))
        return sl_error_set(err, SL_CONFIG, "invalid topic name \"%s\"", name ? name : "");
    sl_topic_opts_t o;
    if (opts) o = *opts;
    else sl_topic_opts_default(&o);
    opts_fix(&o);
    int rc = 0;
    pthread_mutex_lock(&j->mu);
    sl_topic_t *t = sl_journal_find_topic(j, name);
    if (t) {
        if (opts && opts->partitions > 0 && opts->partitions != t->nparts) {
            rc = sl_error_set(err, SL_CONFIG, "topic %s has %d partitions, not %d", name, t->nparts,
                              opts->partitions);
        } else if (opts) {
            o.partitions = t->nparts;
            bool changed = memcmp(&o, &t->opts, sizeof o) != 0;
            t->opts = o;
            if (changed && !j->ro) topic_meta_write(t, NULL);
        }
    } else if (j->ro) {
        rc = sl_error_set(err, SL_NOTFOUND, "no topic %s in %s", name, j->dir);
    } else {
        t = topic_new(j, name, &o);
        if (mkdir(t->dir, 0755) != 0 && errno != EEXIST)
            rc = sl_error_set(err, SL_IO, "%s: %s", t->dir, sl_strerror(errno));
        for (int p = 0; p < t->nparts && rc == 0; p++) {
            sl_part_t *part = &t->parts[p];
            if (mkdir(part->dir, 0755) != 0 && errno != EEXIST)
                rc = sl_error_set(err, SL_IO, "%s: %s", part->dir, sl_strerror(errno));
            if (rc == 0) rc = sl_part_roll(part, 0, err);
            part->committed = part->next = part->start = 0;
        }
        /* The meta file last: a topic directory without it is ignored on open. */
        if (rc == 0) rc = topic_meta_write(t, err);
        if (rc == 0) sl_jfsync_dir(t->dir);
        if (rc) {
            j->ntopics--;
            topic_free(t);
            t = NULL;
        }
    }
    pthread_mutex_unlock(&j->mu);
    if (rc == 0) *out = t;
    return rc;
}

int sl_journal_list(sl_journal_t *j, char ***names, size_t *n) {
    pthread_mutex_lock(&j->mu);
    *n = j->ntopics;
    *names = calloc(j->ntopics ? j->ntopics : 1, sizeof **names);
    if (!*names) abort();
    for (size_t i = 0; i < j->ntopics; i++) (*names)[i] = sl_jstrdup(j->topics[i]->name);
    pthread_mutex_unlock(&j->mu);
    return 0;
}

void sl_journal_names_free(char **names, size_t n) {
    if (!names) return;
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

const char *sl_topic_name(const sl_topic_t *t) { return t->name; }
int sl_topic_partitions(const sl_topic_t *t) { return t->nparts; }

int64_t sl_topic_start(sl_topic_t *t, int partition) {
    if (partition < 0 || partition >= t->nparts) return -1;
    sl_part_t *p = &t->parts[partition];
    pthread_rwlock_rdlock(&p->rw);
    int64_t v = p->start;
    pthread_rwlock_unlock(&p->rw);
    return v;
}

int64_t sl_topic_end(sl_topic_t *t, int partition) {
    if (partition < 0 || partition >= t->nparts) return -1;
    sl_part_t *p = &t->parts[partition];
    pthread_rwlock_rdlock(&p->rw);
    int64_t v = p->committed;
    pthread_rwlock_unlock(&p->rw);
    return v;
}

int64_t sl_topic_bytes(sl_topic_t *t, int partition) {
    if (partition < 0 || partition >= t->nparts) return -1;
    sl_part_t *p = &t->parts[partition];
    int64_t v = 0;
    pthread_rwlock_rdlock(&p->rw);
    for (size_t i = 0; i < p->nseg; i++) v += p->segs[i]->size;
    pthread_rwlock_unlock(&p->rw);
    return v;
}

/* FNV-1a 64: stable across runs, machines and versions (part of the format). */
static uint64_t fnv1a(const char *key, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

int sl_topic_partition_of(const sl_topic_t *t, const char *key, size_t key_len) {
    return (int)(fnv1a(key, key_len) % (uint64_t)t->nparts);
}

/* ---- transactions ---- */

sl_txn_t *sl_txn_begin(sl_journal_t *j, const char *writer) {
    sl_txn_t *txn = calloc(1, sizeof *txn);
    if (!txn) abort();
    txn->journal = j;
    txn->writer = sl_jstrdup(writer ? writer : "");
    pthread_mutex_lock(&j->mu);
    txn->id = j->next_txn++;
    txn->next = j->txns;
    if (j->txns) j->txns->prev = txn;
    j->txns = txn;
    pthread_mutex_unlock(&j->mu);
    return txn;
}

static void txn_free(sl_txn_t *txn) {
    sl_journal_t *j = txn->journal;
    pthread_mutex_lock(&j->mu);
    if (txn->prev) txn->prev->next = txn->next;
    else j->txns = txn->next;
    if (txn->next) txn->next->prev = txn->prev;
    pthread_mutex_unlock(&j->mu);
    sl_buf_free(&txn->buf);
    sl_buf_free(&txn->scratch);
    free(txn->parts);
    free(txn->writer);
    free(txn);
}

/* J2: take ownership of part for txn, waiting unless that would deadlock. */
static int part_acquire(sl_txn_t *txn, sl_part_t *p, sl_error_t *err) {
    for (size_t i = 0; i < txn->nparts; i++)
        if (txn->parts[i].part == p) return 0;
    sl_journal_t *j = txn->journal;
    pthread_mutex_lock(&j->own_mu);
    while (p->owner && p->owner != txn) {
        for (sl_txn_t *t = p->owner; t;) {
            if (t == txn) {
                pthread_mutex_unlock(&j->own_mu);
                return sl_error_set(err, SL_RETRY,
                                    "transaction of %s would deadlock on %s/%d: abort and retry",
                                    txn->writer, p->topic->name, p->id);
            }
            t = t->waiting_for ? t->waiting_for->owner : NULL;
        }
        txn->waiting_for = p;
        pthread_cond_wait(&j->own_cv, &j->own_mu);
        txn->waiting_for = NULL;
    }
    p->owner = txn;
    pthread_mutex_unlock(&j->own_mu);
    if (txn->nparts == txn->capparts) {
        size_t cap = txn->capparts ? txn->capparts * 2 : 4;
        sl_txn_part_t *n = realloc(txn->parts, cap * sizeof *n);
        if (!n) abort();
        txn->parts = n;
        txn->capparts = cap;
    }
    /* Only the owner changes these, and we are it: no lock needed to read them. */
    sl_seg_t *seg = p->segs[p->nseg - 1];
    sl_txn_part_t *tp = &txn->parts[txn->nparts++];
    tp->part = p;
    tp->start_next = p->next;
    tp->start_nseg = p->nseg;
    tp->start_size = seg->size;
    tp->start_max_ingest = seg->max_ingest;
    tp->start_nidx = seg->nidx;
    tp->start_idx_last = seg->idx_last_pos;
    return 0;
}

static bool part_try_own(sl_journal_t *j, sl_part_t *p, sl_txn_t *owner) {
    pthread_mutex_lock(&j->own_mu);
    bool ok = p->owner == NULL;
    if (ok) p->owner = owner;
    pthread_mutex_unlock(&j->own_mu);
    return ok;
}

static void parts_release(sl_journal_t *j, sl_txn_t *txn) {
    pthread_mutex_lock(&j->own_mu);
    for (size_t i = 0; i < txn->nparts; i++) txn->parts[i].part->owner = NULL;
    pthread_cond_broadcast(&j->own_cv);
    pthread_mutex_unlock(&j->own_mu);
}

static int part_full_check(sl_journal_t *j, sl_part_t *p, const sl_topic_opts_t *o, sl_error_t *err);

/* Write one batch of recs[idx[0..n)] to part (owned by txn). */
static int part_append(sl_txn_t *txn, sl_part_t *p, sl_record_t *recs, const size_t *idx, size_t n,
                       const sl_topic_opts_t *o, sl_error_t *err) {
    int rc = part_acquire(txn, p, err);
    if (rc) return rc;
    rc = part_full_check(txn->journal, p, o, err);  /* J6: before a byte is written */
    if (rc) return rc;
    int64_t imax;
    sl_batch_encode(txn, recs, idx, n, p->next, &imax);
    size_t len = txn->buf.len;
    sl_seg_t *seg = p->segs[p->nseg - 1];
    if (seg->size > 0 && seg->size + (int64_t)len > o->segment_bytes) {
        /* Roll.  The old segment is synced now so a commit only syncs the active one. */
        if (o->fsync != SL_FSYNC_OFF) fdatasync(seg->fd);
        rc = sl_part_roll(p, p->next, err);
        if (rc) return rc;
        seg = p->segs[p->nseg - 1];
    }
    int64_t pos = seg->size;
    if (sl_jwrite_all(seg->fd, txn->buf.data, len, pos) != 0) {
        int e = errno;
        if (ftruncate(seg->fd, pos) != 0) { /* cut again on open */ }
        return sl_error_set(err, SL_IO, "%s: %s", seg->path, sl_strerror(e));
    }
    size_t nidx_before = seg->nidx;
    pthread_rwlock_wrlock(&p->rw);
    sl_seg_index_add(seg, p->next, pos, false);
    seg->size = pos + (int64_t)len;
    seg->end = p->next + (int64_t)n;
    if (imax > seg->max_ingest) seg->max_ingest = imax;
    pthread_rwlock_unlock(&p->rw);
    if (seg->nidx > nidx_before) {
        char e[8];
        sl_put_u32(e, seg->idx[seg->nidx - 1].rel);
        sl_put_u32(e + 4, seg->idx[seg->nidx - 1].pos);
        sl_jwrite_all(seg->idx_fd, e, 8, (int64_t)(seg->nidx - 1) * 8);  /* a cache: S3 */
    }
    for (size_t k = 0; k < n; k++) {
        recs[idx[k]].partition = p->id;
        recs[idx[k]].offset = p->next + (int64_t)k;
    }
    p->next += (int64_t)n;
    return 0;
}

int sl_txn_append(sl_txn_t *txn, sl_topic_t *topic, sl_record_t *recs, size_t n, sl_error_t *err) {
    sl_journal_t *j = txn->journal;
    if (j->ro) return sl_error_set(err, SL_USAGE, "journal %s is open read-only", j->dir);
    if (txn->failed) return sl_error_set(err, txn->failed, "transaction of %s already failed", txn->writer);
    if (n == 0) return 0;
    pthread_mutex_lock(&j->mu);
    sl_topic_opts_t o = topic->opts;
    pthread_mutex_unlock(&j->mu);
    int64_t now = sl_now_ms();
    /* Keyless records of one call stay together in one partition ("sticky"): one
     * batch instead of one per partition. */
    int sticky = topic->nparts > 1 ? (int)(atomic_fetch_add(&topic->rr, 1) % (unsigned)topic->nparts) : 0;
    int np = topic->nparts;
    size_t *idx = malloc(n * sizeof *idx);
    int *pof = malloc(n * sizeof *pof);
    size_t *cnt = calloc((size_t)np + 1, sizeof *cnt);
    if (!idx || !pof || !cnt) abort();
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        sl_record_t *r = &recs[i];
        if (r->ingest_ts == 0) r->ingest_ts = now;
        if (r->ts == 0) r->ts = r->ingest_ts;
        int p;
        if (r->partition >= 0) {
            if (r->partition >= np) {
                rc = sl_error_set(err, SL_USAGE, "topic %s has no partition %d", topic->name, r->partition);
                break;
            }
            p = r->partition;
        } else if (r->key) {
            p = sl_topic_partition_of(topic, r->key, r->key_len);
        } else {
            p = sticky;
        }
        pof[i] = p;
        cnt[p + 1]++;
    }
    if (rc == 0) {
        for (int p = 0; p < np; p++) cnt[p + 1] += cnt[p];
        size_t *fill = calloc((size_t)np, sizeof *fill);
        if (!fill) abort();
        /* NOLINTNEXTLINE(clang-analyzer-core.uninitialized.ArraySubscript): rc == 0: the loop above set pof[i] for every i */
        for (size_t i = 0; i < n; i++) idx[cnt[pof[i]] + fill[pof[i]]++] = i;
        free(fill);
        for (int p = 0; p < np && rc == 0; p++)
            if (cnt[p + 1] > cnt[p])
                rc = part_append(txn, &topic->parts[p], recs, idx + cnt[p], cnt[p + 1] - cnt[p], &o, err);
        if (rc && rc != SL_RETRY) txn->failed = rc;
    }
    free(idx);
    free(pof);
    free(cnt);
    return rc;
}

void sl_txn_abort(sl_txn_t *txn) {
    if (!txn) return;
    for (size_t i = 0; i < txn->nparts; i++) {
        sl_txn_part_t *tp = &txn->parts[i];
        sl_part_t *p = tp->part;
        pthread_rwlock_wrlock(&p->rw);
        while (p->nseg > tp->start_nseg) {
            sl_seg_t *s = p->segs[--p->nseg];
            sl_seg_unlink(s);
            sl_seg_close(s);
        }
        sl_seg_t *seg = p->segs[p->nseg - 1];
        if (ftruncate(seg->fd, tp->start_size) != 0) { /* cut on the next open */ }
        seg->size = tp->start_size;
        seg->end = tp->start_next;
        seg->max_ingest = tp->start_max_ingest;
        seg->nidx = tp->start_nidx;
        seg->idx_last_pos = tp->start_idx_last;
        if (seg->idx_fd >= 0 && ftruncate(seg->idx_fd, (off_t)seg->nidx * 8) != 0) { /* a cache */ }
        p->next = tp->start_next;
        pthread_rwlock_unlock(&p->rw);
    }
    parts_release(txn->journal, txn);
    txn_free(txn);
}

int sl_txn_commit(sl_txn_t *txn, const void *cursor, size_t cursor_len, uint64_t *durable_seq,
                  sl_error_t *err) {
    sl_journal_t *j = txn->journal;
    if (durable_seq) *durable_seq = 0;
    if (txn->failed) {
        int rc = sl_error_set(err, txn->failed, "transaction of %s failed earlier: aborted", txn->writer);
        sl_txn_abort(txn);
        return rc;
    }
    bool has_cursor = cursor && cursor_len > 0;
    if (j->ro) {
        sl_txn_abort(txn);
        return sl_error_set(err, SL_USAGE, "journal %s is open read-only", j->dir);
    }
    if (txn->nparts == 0 && !has_cursor) {
        txn_free(txn);
        return 0;
    }
    bool any_always = false, any_interval = txn->nparts == 0;
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < txn->nparts; i++) {
        int f = txn->parts[i].part->topic->opts.fsync;
        any_always |= f == SL_FSYNC_ALWAYS;
        any_interval |= f == SL_FSYNC_INTERVAL;
    }
    pthread_mutex_unlock(&j->mu);
    int rc = 0;
    if (any_always) {
        /* M1: every partition of the txn on disk before its commit record is. */
        for (size_t i = 0; i < txn->nparts && rc == 0; i++) {
            sl_part_t *p = txn->parts[i].part;
            if (fdatasync(p->segs[p->nseg - 1]->fd) != 0)
                rc = sl_error_set(err, SL_IO, "%s: fdatasync: %s", p->segs[p->nseg - 1]->path, sl_strerror(errno));
        }
        if (rc) {
            sl_txn_abort(txn);
            return rc;
        }
    }
    sl_buf_t body = SL_BUF_INIT;
    sl_jbuf_u64(&body, txn->id);
    sl_jbuf_bytes(&body, txn->writer, strlen(txn->writer));
    sl_buf_putc(&body, has_cursor ? 1 : 0);
    if (has_cursor) sl_jbuf_bytes(&body, cursor, cursor_len);
    sl_jbuf_varint(&body, txn->nparts);
    for (size_t i = 0; i < txn->nparts; i++) {
        sl_part_t *p = txn->parts[i].part;
        sl_jbuf_bytes(&body, p->topic->name, strlen(p->topic->name));
        sl_jbuf_varint(&body, (uint64_t)p->id);
        sl_jbuf_varint(&body, (uint64_t)p->next);
    }
    pthread_mutex_lock(&j->mu);
    rc = sl_meta_append(j, SL_META_COMMIT, &body, err);
    sl_buf_free(&body);
    if (rc) {
        pthread_mutex_unlock(&j->mu);
        sl_txn_abort(txn);
        return rc;
    }
    for (size_t i = 0; i < txn->nparts; i++) {
        sl_part_t *p = txn->parts[i].part;
        pthread_rwlock_wrlock(&p->rw);
        p->committed = p->next;
        pthread_rwlock_unlock(&p->rw);
        if (p->topic->opts.fsync == SL_FSYNC_INTERVAL) p->dirty = true;
    }
    if (has_cursor) sl_meta_set_cursor(j, txn->writer, cursor, cursor_len);
    uint64_t seq = ++j->commit_seq;
    if (txn->nparts) j->data_commits++;
    if (any_always && fdatasync(j->meta_fd) != 0)
        rc = sl_error_set(err, SL_IO, "%s/meta.log: fdatasync: %s", j->dir, sl_strerror(errno));
    if (any_interval) {
        j->meta_dirty = true;
        if (durable_seq) *durable_seq = seq;
    }
    pthread_cond_broadcast(&j->commit_cv);
    if (j->meta_size > SL_META_COMPACT_BYTES) sl_meta_compact(j, NULL);  /* retried next commit */
    pthread_mutex_unlock(&j->mu);
    parts_release(j, txn);
    txn_free(txn);
    return rc;
}

int sl_journal_cursor(sl_journal_t *j, const char *writer, void **cursor, size_t *len) {
    *cursor = NULL;
    *len = 0;
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->nwriters; i++) {
        if (strcmp(j->writers[i].name, writer) != 0) continue;
        *cursor = malloc(j->writers[i].len ? j->writers[i].len : 1);
        if (!*cursor) abort();
        memcpy(*cursor, j->writers[i].cur, j->writers[i].len);
        *len = j->writers[i].len;
        break;
    }
    pthread_mutex_unlock(&j->mu);
    return 0;
}

int sl_journal_wait_durable(sl_journal_t *j, uint64_t durable_seq, int64_t timeout_ms) {
    if (durable_seq == 0 || j->ro) return 0;
    struct timespec ts;
    timespec_in(&ts, timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&j->mu);
    while (j->durable_seq < durable_seq && rc == 0)
        if (pthread_cond_timedwait(&j->durable_cv, &j->mu, &ts) == ETIMEDOUT)
            rc = j->durable_seq >= durable_seq ? 0 : SL_RETRY;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

int sl_journal_wait(sl_journal_t *j, uint64_t *seen_commits, int64_t timeout_ms) {
    struct timespec ts;
    timespec_in(&ts, timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&j->mu);
    while (j->data_commits <= *seen_commits && rc == 0)
        if (pthread_cond_timedwait(&j->commit_cv, &j->mu, &ts) == ETIMEDOUT)
            rc = j->data_commits > *seen_commits ? 0 : SL_RETRY;
    *seen_commits = j->data_commits;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

/* ---- consumer groups ---- */

int sl_journal_group_commit(sl_journal_t *j, const char *group, const sl_offset_t *offs, size_t n,
                            const void *state, size_t state_len, sl_error_t *err) {
    if (j->ro) return sl_error_set(err, SL_USAGE, "journal %s is open read-only", j->dir);
    sl_buf_t body = SL_BUF_INIT;
    sl_jbuf_bytes(&body, group, strlen(group));
    sl_jbuf_varint(&body, n);
    bool always = false;
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < n; i++) {
        sl_jbuf_bytes(&body, offs[i].topic, strlen(offs[i].topic));
        sl_jbuf_varint(&body, (uint64_t)(uint32_t)offs[i].partition);
        sl_jbuf_varint(&body, sl_zigzag(offs[i].offset));
        sl_topic_t *t = sl_journal_find_topic(j, offs[i].topic);
        always |= t && t->opts.fsync == SL_FSYNC_ALWAYS;
    }
    sl_buf_putc(&body, state ? 1 : 0);
    if (state) sl_jbuf_bytes(&body, state, state_len);
    int rc = sl_meta_append(j, SL_META_GROUP, &body, err);
    if (rc == 0) {
        sl_group_t *g = sl_meta_group(j, group, true);
        for (size_t i = 0; i < n; i++) sl_meta_group_set(g, offs[i].topic, offs[i].partition, offs[i].offset);
        if (state) {
            free(g->state);
            g->state = malloc(state_len ? state_len : 1);
            if (!g->state) abort();
            if (state_len) memcpy(g->state, state, state_len);
            g->state_len = state_len;
        }
        j->commit_seq++;
        if (always && fdatasync(j->meta_fd) != 0)
            rc = sl_error_set(err, SL_IO, "%s/meta.log: fdatasync: %s", j->dir, sl_strerror(errno));
        else if (!always) j->meta_dirty = true;
        if (j->meta_size > SL_META_COMPACT_BYTES) sl_meta_compact(j, NULL);
    }
    pthread_mutex_unlock(&j->mu);
    sl_buf_free(&body);
    return rc;
}

int64_t sl_journal_group_offset(sl_journal_t *j, const char *group, const char *topic, int partition) {
    int64_t v = -1;
    pthread_mutex_lock(&j->mu);
    sl_group_t *g = sl_meta_group(j, group, false);
    for (size_t i = 0; g && i < g->n; i++)
        if (g->offs[i].partition == partition && strcmp(g->offs[i].topic, topic) == 0) v = g->offs[i].offset;
    pthread_mutex_unlock(&j->mu);
    return v;
}

int sl_journal_group_state(sl_journal_t *j, const char *group, void **state, size_t *len) {
    *state = NULL;
    *len = 0;
    pthread_mutex_lock(&j->mu);
    sl_group_t *g = sl_meta_group(j, group, false);
    if (g && g->state) {
        *state = malloc(g->state_len ? g->state_len : 1);
        if (!*state) abort();
        memcpy(*state, g->state, g->state_len);
        *len = g->state_len;
    }
    pthread_mutex_unlock(&j->mu);
    return 0;
}

int sl_journal_groups(sl_journal_t *j, char ***names, size_t *n) {
    pthread_mutex_lock(&j->mu);
    *n = j->ngroups;
    *names = calloc(j->ngroups ? j->ngroups : 1, sizeof **names);
    if (!*names) abort();
    for (size_t i = 0; i < j->ngroups; i++) (*names)[i] = sl_jstrdup(j->groups[i].name);
    pthread_mutex_unlock(&j->mu);
    return 0;
}

/* ---- the flusher (group commit) and retention ---- */

/* J4.  Called with j->mu held; drops it while syncing.  all: sync every partition
 * (close), not only the dirty ones. */
static void flush_now(sl_journal_t *j, bool all) {
    uint64_t target = j->commit_seq;
    if (!all && j->durable_seq >= target && !j->meta_dirty) return;
    size_t cap = 16, n = 0;
    sl_part_t **dirty = malloc(cap * sizeof *dirty);
    if (!dirty) abort();
    for (size_t t = 0; t < j->ntopics; t++) {
        for (int p = 0; p < j->topics[t]->nparts; p++) {
            sl_part_t *part = &j->topics[t]->parts[p];
            if (!part->dirty && !all) continue;
            part->dirty = false;
            if (n == cap) {
                cap *= 2;
                sl_part_t **d = realloc(dirty, cap * sizeof *d);
                if (!d) abort();
                dirty = d;
            }
            dirty[n++] = part;
        }
    }
    j->meta_dirty = false;
    int mfd = j->meta_fd >= 0 ? dup(j->meta_fd) : -1;
    pthread_mutex_unlock(&j->mu);
    for (size_t i = 0; i < n; i++) {
        pthread_rwlock_rdlock(&dirty[i]->rw);
        int fd = dirty[i]->nseg ? dup(dirty[i]->segs[dirty[i]->nseg - 1]->fd) : -1;
        pthread_rwlock_unlock(&dirty[i]->rw);
        if (fd >= 0) {
            fdatasync(fd);
            close(fd);
        }
    }
    if (mfd >= 0) {
        fdatasync(mfd);
        close(mfd);
    }
    free(dirty);
    pthread_mutex_lock(&j->mu);
    if (target > j->durable_seq) j->durable_seq = target;
    pthread_cond_broadcast(&j->durable_cv);
}

/* J6: the lowest offset of p that a reader of its topic still needs (0 for a declared
 * reader that has not committed yet: everything), or -1 when nobody reads the topic
 * (log-style retention).  j->mu held. */
static int64_t part_low_water(sl_journal_t *j, const sl_part_t *p) {
    const char *topic = p->topic->name;
    int64_t low = -1;
    for (size_t i = 0; i < j->ngroups; i++) {
        const sl_group_t *g = &j->groups[i];
        for (size_t k = 0; k < g->n; k++)
            if (g->offs[k].partition == p->id && strcmp(g->offs[k].topic, topic) == 0 &&
                (low < 0 || g->offs[k].offset < low))
                low = g->offs[k].offset < 0 ? 0 : g->offs[k].offset;
    }
    for (size_t i = 0; i < j->nreaders; i++) {
        if (strcmp(j->readers[i].topic, topic) != 0) continue;
        int64_t off = 0;   /* not committed yet: it will read from the start */
        const sl_group_t *g = NULL;
        for (size_t k = 0; k < j->ngroups && !g; k++)
            if (strcmp(j->groups[k].name, j->readers[i].group) == 0) g = &j->groups[k];
        bool have = false;
        for (size_t k = 0; g && k < g->n; k++)
            if (g->offs[k].partition == p->id && strcmp(g->offs[k].topic, topic) == 0) have = true;
        if (!have && (low < 0 || off < low)) low = off;
    }
    return low;
}

/* Bytes of p retention may not delete for readers at `low`: every segment from the first
 * one holding an offset >= low on (the active segment always).  p->rw held or p owned. */
static int64_t part_kept_bytes(const sl_part_t *p, int64_t low) {
    int64_t kept = 0;
    for (size_t i = 0; i < p->nseg; i++)
        if (i + 1 == p->nseg || low < 0 || p->segs[i]->end > low) kept += p->segs[i]->size;
    return kept;
}

static bool part_is_full(const sl_part_t *p, const sl_topic_opts_t *o, int64_t low, int64_t end) {
    if (o->on_full != SL_ON_FULL_PAUSE || o->retention_bytes <= 0 || low < 0 || low >= end) return false;
    return part_kept_bytes(p, low) >= o->retention_bytes;
}

/* Record p's full state; on a change log it and move the topic's gauge. */
static void part_set_full(sl_part_t *p, bool full, int64_t low, const sl_topic_opts_t *o) {
    if (atomic_exchange(&p->full, full) == full) return;
    sl_topic_t *t = p->topic;
    int nfull = atomic_fetch_add(&t->nfull, full ? 1 : -1) + (full ? 1 : -1);
    sl_buf_t l = SL_BUF_INIT;
    sl_metrics_label(&l, "topic", t->name);
    sl_metric_set(sl_metric_gauge("sluice_topic_full_partitions",
                                  "Partitions of a topic that are full (on_full: pause): its sources wait.",
                                  l.data ? l.data : ""),
                  (double)nfull);
    sl_buf_free(&l);
    if (full)
        sl_warn("journal: topic %s partition %d is full: retention_bytes %lld reached by records not yet "
                "committed by every consumer group (from offset %lld); its writers wait (on_full: pause)",
                t->name, p->id, (long long)o->retention_bytes, (long long)low);
    else
        sl_info("journal: topic %s partition %d has room again", t->name, p->id);
}

/* J6, the append path: SL_RETRY when p is full.  p owned by the caller. */
static int part_full_check(sl_journal_t *j, sl_part_t *p, const sl_topic_opts_t *o, sl_error_t *err) {
    if (o->on_full != SL_ON_FULL_PAUSE || o->retention_bytes <= 0) return 0;
    pthread_mutex_lock(&j->mu);
    int64_t low = part_low_water(j, p);
    pthread_mutex_unlock(&j->mu);
    bool full = part_is_full(p, o, low, p->next);
    part_set_full(p, full, low, o);
    if (!full) return 0;
    return sl_error_set(err, SL_RETRY,
                        "topic %s partition %d is full: %lld bytes (retention_bytes) not yet committed by every "
                        "consumer group (on_full: pause); retry when they commit",
                        p->topic->name, p->id, (long long)o->retention_bytes);
}

int sl_topic_full(sl_topic_t *t) {
    sl_journal_t *j = t->journal;
    pthread_mutex_lock(&j->mu);
    sl_topic_opts_t o = t->opts;
    int n = 0;
    for (int i = 0; i < t->nparts; i++) {
        sl_part_t *p = &t->parts[i];
        int64_t low = part_low_water(j, p);
        pthread_rwlock_rdlock(&p->rw);
        bool full = p->nseg > 0 && part_is_full(p, &o, low, p->committed);
        pthread_rwlock_unlock(&p->rw);
        part_set_full(p, full, low, &o);
        n += full;
    }
    pthread_mutex_unlock(&j->mu);
    return n;
}

uint64_t sl_topic_dropped(sl_topic_t *t) { return atomic_load(&t->dropped); }

int sl_journal_reader(sl_journal_t *j, const char *group, const char *topic) {
    pthread_mutex_lock(&j->mu);
    bool have = false;
    for (size_t i = 0; i < j->nreaders && !have; i++)
        have = strcmp(j->readers[i].group, group) == 0 && strcmp(j->readers[i].topic, topic) == 0;
    if (!have) {
        if (j->nreaders == j->capreaders) {
            size_t cap = j->capreaders ? j->capreaders * 2 : 8;
            sl_reader_t *n = realloc(j->readers, cap * sizeof *n);
            if (!n) abort();
            j->readers = n;
            j->capreaders = cap;
        }
        j->readers[j->nreaders].group = sl_jstrdup(group);
        j->readers[j->nreaders++].topic = sl_jstrdup(topic);
    }
    pthread_mutex_unlock(&j->mu);
    return 0;
}

/* Delete old segments of every partition (never the active one; J6). */
int sl_journal_retention(sl_journal_t *j) {
    if (j->ro) return 0;
    int64_t now = sl_now_ms();
    int deleted = 0;
    pthread_mutex_lock(&j->mu);
    size_t nt = j->ntopics;
    pthread_mutex_unlock(&j->mu);
    for (size_t t = 0; t < nt; t++) {
        pthread_mutex_lock(&j->mu);
        sl_topic_t *topic = j->topics[t];
        sl_topic_opts_t o = topic->opts;
        pthread_mutex_unlock(&j->mu);
        if (o.retention_ms <= 0 && o.retention_bytes <= 0) continue;
        for (int pi = 0; pi < topic->nparts; pi++) {
            sl_part_t *p = &topic->parts[pi];
            /* read before owning: a commit meanwhile only raises it (safe side) */
            pthread_mutex_lock(&j->mu);
            int64_t low = part_low_water(j, p);
            pthread_mutex_unlock(&j->mu);
            if (!part_try_own(j, p, j->retention_owner)) continue;  /* busy: next round */
            pthread_rwlock_wrlock(&p->rw);
            int64_t total = 0, dropped = 0, drop_from = -1, drop_to = -1;
            for (size_t i = 0; i < p->nseg; i++) total += p->segs[i]->size;
            while (p->nseg > 1) {
                sl_seg_t *s = p->segs[0];
                bool old = o.retention_ms > 0 && s->max_ingest < now - o.retention_ms;
                bool big = o.retention_bytes > 0 && total > o.retention_bytes;
                if (!old && !big) break;
                int64_t from = low > s->base ? low : s->base;
                int64_t unread = low < 0 || s->end <= from ? 0 : s->end - from;
                if (unread > 0 && o.on_full != SL_ON_FULL_DROP_OLDEST) break;  /* J6 */
                if (unread > 0) {
                    dropped += unread;
                    if (drop_from < 0) drop_from = from;
                    drop_to = s->end;
                }
                total -= s->size;
                memmove(p->segs, p->segs + 1, (p->nseg - 1) * sizeof *p->segs);
                p->nseg--;
                sl_seg_unlink(s);
                sl_seg_close(s);
                deleted++;
            }
            p->start = p->segs[0]->base;
            bool full = part_is_full(p, &o, low, p->committed);
            pthread_rwlock_unlock(&p->rw);
            pthread_mutex_lock(&j->own_mu);
            p->owner = NULL;
            pthread_cond_broadcast(&j->own_cv);
            pthread_mutex_unlock(&j->own_mu);
            part_set_full(p, full, low, &o);
            if (dropped > 0) {
                atomic_fetch_add(&topic->dropped, (uint64_t)dropped);
                sl_buf_t l = SL_BUF_INIT;
                sl_metrics_label(&l, "topic", topic->name);
                sl_metric_add(sl_metric_counter("sluice_topic_dropped_records_total",
                                                "Records retention deleted before every consumer group committed "
                                                "them (on_full: drop_oldest).",
                                                l.data ? l.data : ""),
                              (double)dropped);
                sl_buf_free(&l);
                sl_warn("journal: topic %s partition %d: retention dropped %lld record(s) [%lld, %lld) not yet "
                        "committed by every consumer group (on_full: drop_oldest)",
                        topic->name, pi, (long long)dropped, (long long)drop_from, (long long)drop_to);
            }
        }
    }
    return deleted;
}

/* Runs on its own thread: group commit every fsync interval, retention every 2 s. */
static void *flusher_main(void *arg) {
    sl_journal_t *j = arg;
    pthread_mutex_lock(&j->mu);
    j->next_retention_ms = sl_mono_ms() + 1000;
    while (!j->stop) {
        int64_t wait = 50;
        for (size_t t = 0; t < j->ntopics; t++)
            if (j->topics[t]->opts.fsync == SL_FSYNC_INTERVAL && j->topics[t]->opts.fsync_interval_ms < wait)
                wait = j->topics[t]->opts.fsync_interval_ms;
        struct timespec ts;
        timespec_in(&ts, wait);
        pthread_cond_timedwait(&j->flush_cv, &j->mu, &ts);
        if (j->stop) break;
        flush_now(j, false);
        if (sl_mono_ms() >= j->next_retention_ms) {
            pthread_mutex_unlock(&j->mu);
            sl_journal_retention(j);
            pthread_mutex_lock(&j->mu);
            j->next_retention_ms = sl_mono_ms() + 2000;
        }
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* ---- fsck ---- */

int sl_journal_fsck(const char *dir, bool repair, sl_journal_report_fn report, void *opaque,
                    sl_error_t *err) {
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return sl_error_set(err, SL_NOTFOUND, "%s: not a journal directory", dir);
    sl_journal_t *j = journal_new(dir, !repair);
    int rc = repair ? journal_lock(j, err) : 0;
    if (rc == 0) {
        sl_load_ctx_t ctx = {j, repair ? SL_LOAD_REPAIR : SL_LOAD_FSCK, report, opaque, 0, 0};
        rc = journal_load(j, &ctx, err);
        if (rc == 0) rc = ctx.damages;
    }
    journal_free(j);
    return rc;
}
