/* harness.h - the in-process engine test harness: a case loads a pipeline from a YAML
 * string, runs it to the end of its input in this process (sl_run with --once, what
 * `sluice run --once` calls) and compares what its sinks wrote with golden rows.
 *
 * Invariants:
 *  1. Every case runs in its own forked child: the runner keeps process-wide state
 *     (runner.c's `current`, sl_runner_journal, the metrics registry, serve's server,
 *     sl_stop_requested), so no case sees another's.  The parent never calls into the
 *     engine or librdkafka (nothing to inherit across fork but this harness's tables).
 *  2. A case registered for both backends runs twice with the same YAML: once on the
 *     embedded journal, once with `transport: kafka` on a librdkafka mock cluster (3
 *     brokers on 127.0.0.1, random ports) created inside the child.  The harness gives
 *     the pipeline a first file holding data_dir and, on Kafka, the transport (the
 *     case's YAML names neither); every topic of the loaded pipeline (dead-letter
 *     topics included) and the transport's coordination topics are created on the
 *     mock up front with their configured partitions (CreateTopics times out on it).
 *  3. A child is bounded in time: alarm(ENG_CASE_SECONDS) kills a case that hangs, and
 *     the parent reports it failed (signal 14).  No check depends on timing; a reader
 *     of a Kafka topic waits (bounded) for the topic's high watermarks, not a sleep.
 *  4. Each child works in a fresh mkdtemp directory the parent makes and removes when
 *     the child ended, however it ended (KEEP=1 keeps it and prints its path); ${T_DIR}
 *     in a case's YAML names it.  A server a case starts (SMTP) is stopped by its pid at
 *     the case's end or when its alarm fires.
 *
 * Ownership: the strings eng_file, eng_sql and eng_json return live in e->arena until the
 * case ends; a batch eng_topic_read fills (and its values) is the caller's; a pipeline
 * eng_load_with returns is the caller's (sl_pipeline_free).
 *
 * Output: "ok CASE/BACKEND" or the failed checks and "FAIL CASE/BACKEND" per run, then
 * "N passed, N failed" (scripts/run-unit.sh sums it).  An argument runs only the cases
 * whose "CASE/BACKEND" contains it; ENG_JOBS children run at once (default 2); a
 * child's output is printed when it failed (always with ENG_VERBOSE=1); ENG_LOG=1
 * logs at level info. */
#ifndef SLUICE_ENGINE_HARNESS_H
#define SLUICE_ENGINE_HARNESS_H

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/kafka_transport.h"
#include "../../src/log.h"
#include "../../src/pipeline.h"
#include "../../src/runner.h"
#include "sluice/buf.h"
#include "sluice/json.h"

#ifndef ENG_CASE_SECONDS
#define ENG_CASE_SECONDS 150
#endif

enum { ENG_JOURNAL = 1, ENG_KAFKA = 2, ENG_BOTH = 3 };

/* One run of one case (child process). */
typedef struct eng {
    const char *name;           /* the case's name */
    bool kafka;                 /* transport kafka on the mock cluster */
    char dir[256];              /* fresh temp dir: ${T_DIR} */
    char data_dir[300];         /* dir/data */
    char brokers[512];          /* the mock's bootstrap servers (kafka) */
    rd_kafka_t *mock_rk;        /* hosts the mock cluster's threads */
    rd_kafka_mock_cluster_t *mock;
    sl_arena_t arena;           /* strings the helpers return; freed at the end */
    int failed;                 /* failed checks */
    int runs;                   /* pipelines loaded so far (file names) */
    pid_t smtp_pid;             /* the SMTP server of eng_smtp_start, 0: none */
} eng_t;

/* The SMTP server of the running case, stopped when the case's alarm fires. */
static volatile pid_t eng_smtp_pid;

typedef void (*eng_fn)(eng_t *e);
static struct { const char *name; eng_fn fn; int backends; } eng_cases[64];
static int eng_ncases;

#define ENGINE_CASE(fn_, backends_)                                             \
    static void fn_(eng_t *e);                                                  \
    __attribute__((constructor)) static void eng_reg_##fn_(void) {              \
        eng_cases[eng_ncases].name = #fn_;                                      \
        eng_cases[eng_ncases].backends = (backends_);                           \
        eng_cases[eng_ncases++].fn = fn_;                                       \
    }                                                                           \
    static void fn_(eng_t *e)

#define E_FAIL(...)                                                             \
    do {                                                                        \
        fprintf(stderr, "%s:%d: %s/%s: ", __FILE__, __LINE__, e->name,          \
                e->kafka ? "kafka" : "journal");                                \
        fprintf(stderr, __VA_ARGS__);                                           \
        fputc('\n', stderr);                                                    \
        e->failed++;                                                            \
    } while (0)
#define E_CHECK(cond)                                                           \
    do { if (!(cond)) E_FAIL("CHECK(%s) failed", #cond); } while (0)
#define E_INT(a, b)                                                             \
    do { long long e_a = (long long)(a), e_b = (long long)(b);                  \
         if (e_a != e_b) E_FAIL("%s == %lld, expected %lld", #a, e_a, e_b); } while (0)
#define E_STR(a, b)                                                             \
    do { const char *e_a = (a), *e_b = (b);                                     \
         if (!e_a || !e_b || strcmp(e_a, e_b) != 0)                             \
             E_FAIL("%s ==\n  \"%s\", expected\n  \"%s\"", #a,                  \
                    e_a ? e_a : "(null)", e_b ? e_b : "(null)"); } while (0)

/* ---- files ---- */

static __attribute__((unused)) bool eng_write(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* The whole file at dir/name (NUL-terminated, in e->arena), or NULL. */
static __attribute__((unused)) const char *eng_file(eng_t *e, const char *name) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", e->dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    sl_buf_t b = SL_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sl_buf_append(&b, chunk, n);
    fclose(f);
    const char *s = sl_arena_strndup(&e->arena, b.data ? b.data : "", b.len);
    sl_buf_free(&b);
    return s;
}

static __attribute__((unused)) bool eng_put(eng_t *e, const char *name, const char *text) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", e->dir, name);
    return eng_write(path, text);
}

/* Number of lines of a text. */
static __attribute__((unused)) int eng_lines(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* ---- loading and running ---- */

/* Create every topic of p, and the transport's coordination topics, on the mock. */
static __attribute__((unused)) void eng_kafka_topics(eng_t *e, const sl_pipeline_t *p) {
    for (size_t i = 0; i < p->ntopics; i++) {
        int parts = p->topics[i].opts.partitions > 0 ? p->topics[i].opts.partitions : 1;
        rd_kafka_mock_topic_create(e->mock, p->topics[i].name, parts, 1);   /* exists: kept */
    }
    char name[300];
    const char *tn = p->kafka && p->kafka->name ? p->kafka->name : "t";
    snprintf(name, sizeof name, "sluice.%s.coord", tn);
    rd_kafka_mock_topic_create(e->mock, name, 1, 1);
    snprintf(name, sizeof name, "sluice.%s.members", tn);
    rd_kafka_mock_topic_create(e->mock, name, 1, 1);
}

/* Load the pipeline files (the harness's first file, then `yaml` and the files in
 * `more`, NULL-terminated, may be NULL).  NULL, with the problems printed and a failed
 * check, when it does not load.  Free with sl_pipeline_free. */
static __attribute__((unused)) sl_pipeline_t *eng_load_with(eng_t *e, const char *yaml, const char *const *more) {
    char head[600], body[600];
    const char *files[16];
    size_t n = 0;
    e->runs++;
    snprintf(head, sizeof head, "%s/head%d.yaml", e->dir, e->runs);
    snprintf(body, sizeof body, "%s/case%d.yaml", e->dir, e->runs);
    sl_buf_t h = SL_BUF_INIT;
    sl_buf_printf(&h, "data_dir: %s\n", e->data_dir);
    if (e->kafka)
        sl_buf_printf(&h, "transport: { kafka: { brokers: \"%s\", name: %s, props: "
                          "{ session.timeout.ms: \"6000\", heartbeat.interval.ms: \"500\" } } }\n",
                      e->brokers, e->name);
    bool ok = eng_write(head, h.data) && (!yaml || eng_write(body, yaml));
    sl_buf_free(&h);
    if (!ok) {
        E_FAIL("cannot write %s: %s", body, strerror(errno));
        return NULL;
    }
    files[n++] = head;
    if (yaml) files[n++] = body;
    for (size_t i = 0; more && more[i] && n < 16; i++) files[n++] = more[i];
    sl_diags_t d = {0};
    sl_pipeline_t *p = NULL;
    if (sl_pipeline_load_files(files, n, &p, &d) != 0) {
        sl_diags_print(&d, stderr);
        E_FAIL("the pipeline does not load");
        p = NULL;
    }
    sl_diags_free(&d);
    if (p && e->kafka) eng_kafka_topics(e, p);
    return p;
}

/* Run a loaded pipeline as `sluice run --once [--replay DIR]` does; its exit code. */
static __attribute__((unused)) int eng_run_pipeline(eng_t *e, sl_pipeline_t *p, const char *replay_dir) {
    (void)e;
    sl_run_opts_t o = {.once = true, .replay_dir = replay_dir};
    return sl_run(p, &o);
}

/* Load `yaml`, run it --once, free it: the exit code (-1 when it did not load). */
static __attribute__((unused)) int eng_run(eng_t *e, const char *yaml) {
    sl_pipeline_t *p = eng_load_with(e, yaml, NULL);
    if (!p) return -1;
    int rc = eng_run_pipeline(e, p, NULL);
    sl_pipeline_free(p);
    return rc;
}

/* ---- reading back ---- */

/* The rows of `sql` on the SQLite file dir/db: each row's columns joined by ':', rows
 * by ' ' (NULL as "null"); "ERROR: ..." when the query fails. */
static __attribute__((unused)) const char *eng_sql(eng_t *e, const char *db, const char *sql) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", e->dir, db);
    sqlite3 *h = NULL;
    sl_buf_t b = SL_BUF_INIT;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
        sl_buf_printf(&b, "ERROR: %s", h ? sqlite3_errmsg(h) : "cannot open");
    } else {
        int rows = 0, rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (rows++) sl_buf_putc(&b, ' ');
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                if (c) sl_buf_putc(&b, ':');
                const unsigned char *t = sqlite3_column_text(st, c);
                sl_buf_puts(&b, t ? (const char *)t : "null");
            }
        }
        if (rc != SQLITE_DONE) sl_buf_printf(&b, "ERROR: %s", sqlite3_errmsg(h));
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    const char *s = sl_arena_strndup(&e->arena, b.data ? b.data : "", b.len);
    sl_buf_free(&b);
    return s;
}

/* A table as an array of row objects (column name -> INTEGER as int, REAL as double,
 * TEXT as string, NULL as null), leaving out `skip_col` (may be NULL); rows in the order
 * of `order_by`.  Values in arena.  false (and a failed check) when it cannot be read. */
static __attribute__((unused)) bool eng_table(eng_t *e, const char *db, const char *table, const char *order_by, const char *skip_col,
                      sl_arena_t *arena, sl_value_t *out) {
    char path[600], sql[600];
    snprintf(path, sizeof path, "%s/%s", e->dir, db);
    snprintf(sql, sizeof sql, "select * from \"%s\" order by %s", table, order_by);
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
        E_FAIL("%s: %s: %s", db, sql, h ? sqlite3_errmsg(h) : "cannot open");
        sqlite3_close(h);
        return false;
    }
    sl_buf_t rows = SL_BUF_INIT;    /* of sl_value_t */
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sl_value_t row = sl_object_new(arena, 8);
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *col = sqlite3_column_name(st, c);
            if (skip_col && strcmp(col, skip_col) == 0) continue;
            sl_value_t v;
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_INTEGER: v = sl_int(sqlite3_column_int64(st, c)); break;
            case SQLITE_FLOAT: v = sl_double(sqlite3_column_double(st, c)); break;
            case SQLITE_NULL: v = sl_null(); break;
            default:
                v = sl_str_dup(arena, (const char *)sqlite3_column_text(st, c), (size_t)sqlite3_column_bytes(st, c));
            }
            sl_value_set(arena, &row, col, strlen(col), v);
        }
        sl_buf_append(&rows, &row, sizeof row);
    }
    if (rc != SQLITE_DONE) E_FAIL("%s: %s: %s", db, sql, sqlite3_errmsg(h));
    sqlite3_finalize(st);
    sqlite3_close(h);
    size_t n = rows.len / sizeof(sl_value_t);
    *out = sl_array_new(arena, n ? n : 1);
    for (size_t i = 0; i < n; i++) out->u.a[i] = ((sl_value_t *)(void *)rows.data)[i];
    out->len = (uint32_t)n;
    sl_buf_free(&rows);
    return rc == SQLITE_DONE;
}

/* The JSON text of v (in e->arena). */
static __attribute__((unused)) const char *eng_json(eng_t *e, sl_value_t v) {
    sl_buf_t b = SL_BUF_INIT;
    sl_json_write(&b, v);
    const char *s = sl_arena_strndup(&e->arena, b.data ? b.data : "", b.len);
    sl_buf_free(&b);
    return s;
}

/* Read every record of a Kafka topic from the beginning up to the high watermarks
 * (queried first), payloads parsed as JSON into batch.  Bounded: 30 s. */
static __attribute__((unused)) int eng_kafka_read(eng_t *e, const char *topic, sl_batch_t *batch) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", e->brokers, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", "engine-test-reader", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        E_FAIL("kafka reader: %s", errstr);
        return -1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    int parts = 0;
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
        !md->topics[0].err)
        parts = md->topics[0].partition_cnt;
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    int64_t *hi = calloc(parts ? (size_t)parts : 1, sizeof *hi), *pos = calloc(parts ? (size_t)parts : 1, sizeof *pos);
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(parts ? parts : 1);
    int64_t want = 0;
    for (int i = 0; i < parts; i++) {
        int64_t lo = 0;
        rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi[i], 10000);
        pos[i] = lo;
        want += hi[i] - lo;
        rd_kafka_topic_partition_list_add(tl, topic, i)->offset = lo;
    }
    int got = 0;
    if (parts > 0 && want > 0) {
        rd_kafka_assign(rk, tl);
        int64_t deadline = sl_mono_ms() + 30000;
        while (sl_mono_ms() < deadline) {
            bool all = true;
            for (int i = 0; i < parts; i++) all = all && pos[i] >= hi[i];
            if (all) break;
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
            if (!m) continue;
            if (!m->err && m->partition >= 0 && m->partition < parts) {
                pos[m->partition] = m->offset + 1;
                sl_record_t *r = sl_batch_push(batch);
                r->partition = m->partition;
                r->offset = m->offset;
                sl_json_error_t jerr;
                if (sl_json_parse(&batch->arena, m->payload, m->len, &r->value, &jerr) != 0)
                    r->value = sl_str_dup(&batch->arena, m->payload, m->len);
                got++;
            }
            rd_kafka_message_destroy(m);
        }
        if (got < want) E_FAIL("kafka reader: %d of %lld records of %s in 30 s", got, (long long)want, topic);
    }
    rd_kafka_topic_partition_list_destroy(tl);
    free(hi);
    free(pos);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got;
}

/* Every record of a pipeline topic, from the start: through the journal API (read-only
 * open of data_dir) or, on Kafka, a consumer.  Returns the count; values in batch. */
static __attribute__((unused)) int eng_topic_read(eng_t *e, const char *topic, sl_batch_t *batch) {
    if (e->kafka) return eng_kafka_read(e, topic, batch);
    sl_journal_opts_t o = {.read_only = true};
    sl_journal_t *j = NULL;
    sl_error_t err = {0};
    if (sl_journal_open(e->data_dir, &o, &j, &err) != 0) {
        E_FAIL("journal %s: %s", e->data_dir, err.msg);
        return -1;
    }
    char **names = NULL;
    size_t nn = 0;
    bool exists = false;
    sl_journal_list(j, &names, &nn);
    for (size_t i = 0; i < nn; i++) exists = exists || strcmp(names[i], topic) == 0;
    sl_journal_names_free(names, nn);
    int got = 0;
    sl_topic_t *t = NULL;
    if (exists && sl_journal_topic(j, topic, NULL, &t, &err) == 0) {
        for (int part = 0; part < sl_topic_partitions(t); part++) {
            int64_t off = sl_topic_start(t, part), end = sl_topic_end(t, part), next = off;
            while (off < end) {
                size_t before = batch->n;
                if (sl_topic_read(t, part, off, 1000, 1 << 20, batch, &next, &err) != 0) {
                    E_FAIL("reading %s/%d: %s", topic, part, err.msg);
                    break;
                }
                got += (int)(batch->n - before);
                if (next <= off) break;
                off = next;
            }
        }
    }
    sl_journal_close(j);
    return got;
}

/* ---- a real SMTP server (Debian's python3-aiosmtpd) for pipelines that mail ---- */

/* A free TCP port on 127.0.0.1 (0 when none). */
static __attribute__((unused)) int eng_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* Start an SMTP server on 127.0.0.1 writing each message to dir/mail/NNN.eml; sets
 * SMTP_PORT (the pipelines' ${SMTP_PORT}).  Waits (bounded, 60 s) until it is ready.
 * Stopped by its pid when the case ends. */
static __attribute__((unused)) bool eng_smtp_start(eng_t *e) {
    static const char script[] =
        "import os, signal, sys\n"
        "from aiosmtpd.controller import Controller\n"
        "port, out = int(sys.argv[1]), sys.argv[2]\n"
        "os.makedirs(out, exist_ok=True)\n"
        "class Handler:\n"
        "    n = 0\n"
        "    async def handle_DATA(self, server, session, envelope):\n"
        "        Handler.n += 1\n"
        "        base = os.path.join(out, '%03d' % Handler.n)\n"
        "        with open(base + '.tmp', 'wb') as f: f.write(envelope.original_content)\n"
        "        os.rename(base + '.tmp', base + '.eml')\n"
        "        return '250 OK'\n"
        "c = Controller(Handler(), hostname='127.0.0.1', port=port)\n"
        "c.start()\n"
        "open(out + '/../smtp.ready', 'w').close()\n"
        "signal.sigwait({signal.SIGTERM, signal.SIGINT})\n"
        "c.stop()\n";
    int port = eng_free_port();
    char py[600], mail[600], ready[600], portstr[16];
    snprintf(py, sizeof py, "%s/smtpd.py", e->dir);
    snprintf(mail, sizeof mail, "%s/mail", e->dir);
    snprintf(ready, sizeof ready, "%s/smtp.ready", e->dir);
    snprintf(portstr, sizeof portstr, "%d", port);
    if (port == 0 || !eng_write(py, script)) {
        E_FAIL("cannot set up the SMTP server");
        return false;
    }
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/usr/bin/python3", "python3", py, portstr, mail, (char *)NULL);
        _exit(127);
    }
    e->smtp_pid = eng_smtp_pid = pid;
    for (int i = 0; i < 600 && access(ready, F_OK) != 0; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            e->smtp_pid = eng_smtp_pid = 0;
            E_FAIL("the SMTP server exited (is python3-aiosmtpd installed? scripts/deps.sh)");
            return false;
        }
        usleep(100 * 1000);
    }
    if (access(ready, F_OK) != 0) {
        E_FAIL("the SMTP server is not ready after 60 s");
        return false;
    }
    setenv("SMTP_PORT", portstr, 1);
    return true;
}

/* Messages the SMTP server received (dir/mail/NNN.eml). */
static __attribute__((unused)) int eng_mails(eng_t *e) {
    int n = 0;
    for (int i = 1; i < 1000; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/mail/%03d.eml", e->dir, i);
        if (access(path, F_OK) != 0) break;
        n++;
    }
    return n;
}

/* ---- the runner of cases ---- */

static int eng_rmrf(const char *dir) {
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid > 0) waitpid(pid, &st, 0);
    return st;
}

static void eng_on_alarm(int sig) {
    if (eng_smtp_pid > 0) kill(eng_smtp_pid, SIGTERM);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Child: one case on one backend in dir (made by the parent).  Exit status 0 when every
 * check passed. */
static int eng_child(int c, bool kafka, const char *dir) {
    eng_t ev, *e = &ev;
    memset(e, 0, sizeof *e);
    e->name = eng_cases[c].name;
    e->kafka = kafka;
    sl_arena_init(&e->arena, 0);
    signal(SIGALRM, eng_on_alarm);
    alarm(ENG_CASE_SECONDS);
    sl_log_level = getenv("ENG_LOG") ? SL_LOG_INFO : SL_LOG_ERROR;
    snprintf(e->dir, sizeof e->dir, "%.200s", dir);
    snprintf(e->data_dir, sizeof e->data_dir, "%.255s/data", e->dir);
    setenv("T_DIR", e->dir, 1);
    setenv("SLUICE_OUT", e->dir, 1);
    setenv("SLUICE_DATA", e->data_dir, 1);
    setenv("SLUICE_LISTEN", "127.0.0.1:0", 1);
    if (kafka) {
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
        rd_kafka_conf_set(conf, "socket.nagle.disable", "true", errstr, sizeof errstr);
        e->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        e->mock = e->mock_rk ? rd_kafka_mock_cluster_new(e->mock_rk, 3) : NULL;
        if (!e->mock) {
            E_FAIL("cannot start the mock cluster: %s", errstr);
            return 1;
        }
        snprintf(e->brokers, sizeof e->brokers, "%s", rd_kafka_mock_cluster_bootstraps(e->mock));
    }
    eng_cases[c].fn(e);
    if (e->smtp_pid > 0) {
        eng_smtp_pid = 0;
        kill(e->smtp_pid, SIGTERM);
        waitpid(e->smtp_pid, NULL, 0);
    }
    if (e->mock) rd_kafka_mock_cluster_destroy(e->mock);
    if (e->mock_rk) rd_kafka_destroy(e->mock_rk);
    sl_arena_free(&e->arena);
    return e->failed ? 1 : 0;
}

/* Parent: a finished child's result line, after its output (printed only when it failed,
 * or with ENG_VERBOSE). */
static void eng_report(pid_t pid, int st, int *passed, int *failed, pid_t *pids, char (*names)[200],
                       char (*logs)[64], char (*dirs)[64], int slots) {
    for (int k = 0; k < slots; k++) {
        if (pids[k] != pid) continue;
        bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        FILE *f = !ok || getenv("ENG_VERBOSE") ? fopen(logs[k], "r") : NULL;
        char line[4096];
        while (f && fgets(line, sizeof line, f)) fputs(line, stdout);
        if (f) fclose(f);
        unlink(logs[k]);
        if (getenv("KEEP")) printf("kept %s\n", dirs[k]);
        else eng_rmrf(dirs[k]);
        if (ok) {
            (*passed)++;
            printf("ok %s\n", names[k]);
        } else {
            (*failed)++;
            if (WIFSIGNALED(st)) printf("FAIL %s (killed by signal %d)\n", names[k], WTERMSIG(st));
            else printf("FAIL %s (exit %d)\n", names[k], WEXITSTATUS(st));
        }
        fflush(stdout);
        pids[k] = 0;
        return;
    }
}

/* Runs the cases (those whose "NAME/BACKEND" contains argv[1], if given), ENG_JOBS of
 * them at once (default 2: a Kafka case mostly waits for its group joins); each child's
 * output goes to a file the parent prints when the child failed. */
int main(int argc, char **argv) {
    enum { SLOTS = 8 };
    pid_t pids[SLOTS] = {0};
    char names[SLOTS][200], logs[SLOTS][64], dirs[SLOTS][64];
    int slots = getenv("ENG_JOBS") ? atoi(getenv("ENG_JOBS")) : 2;
    if (slots < 1) slots = 1;
    if (slots > SLOTS) slots = SLOTS;
    int passed = 0, failed = 0, running = 0;
    for (int c = 0; c <= eng_ncases; c++) {
        for (int b = ENG_JOURNAL; b <= ENG_KAFKA; b <<= 1) {
            bool start = c < eng_ncases && (eng_cases[c].backends & b);
            char full[200] = "";
            if (start) {
                snprintf(full, sizeof full, "%s/%s", eng_cases[c].name, b == ENG_KAFKA ? "kafka" : "journal");
                start = argc < 2 || strstr(full, argv[1]);
            }
            /* wait for a free slot (or, after the last case, for every child) */
            while (running > 0 && (running >= slots || (!start && c == eng_ncases))) {
                int st = 0;
                pid_t pid = waitpid(-1, &st, 0);
                if (pid < 0) {
                    if (errno == EINTR) continue;
                    break;
                }
                running--;
                eng_report(pid, st, &passed, &failed, pids, names, logs, dirs, slots);
            }
            if (!start) continue;
            int k = 0;
            while (pids[k]) k++;
            snprintf(names[k], sizeof names[k], "%s", full);
            snprintf(logs[k], sizeof logs[k], "/tmp/sluice-engine-log.XXXXXX");
            snprintf(dirs[k], sizeof dirs[k], "/tmp/sluice-engine.XXXXXX");
            int fd = mkstemp(logs[k]);
            if (fd < 0 || !mkdtemp(dirs[k])) {
                perror("mkstemp");
                return 2;
            }
            fflush(stdout);
            fflush(stderr);
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 2;
            }
            if (pid == 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
                int rc = eng_child(c, b == ENG_KAFKA, dirs[k]);
                fflush(stdout);
                exit(rc);   /* exit, not _exit: LeakSanitizer checks the child here */
            }
            close(fd);
            pids[k] = pid;
            running++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
