/* main.c - the sluice command line (DESIGN §3): parses the command and its options and
 * calls the engine.  Exit codes: 0 ok, 1 check/test failure, 2 usage error, 3 fatal. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "http_cli.h"
#include "kafka_transport.h"
#include "log.h"
#include "pipeline.h"
#include "runner.h"
#include "sluice/json.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.1.0"
#endif

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_FATAL = 3 };

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
    const char *help;
} command_t;

static const command_t *find_command(const char *name);

static int usage_error(const char *cmd, const char *fmt, const char *arg) {
    fprintf(stderr, "sluice %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see 'sluice %s --help')\n", cmd);
    return EXIT_USAGE;
}

static bool wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
    return false;
}

static int print_help(const char *name) {
    const command_t *c = find_command(name);
    printf("usage: sluice %s\n\n%s\n", c->usage, c->help);
    return EXIT_OK;
}

/* Global options valid for every command: --log-format text|json, --log-level L. */
static int take_log_opts(int *argc, char **argv) {
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--log-format") == 0 && i + 1 < *argc) {
            const char *f = argv[++i];
            if (strcmp(f, "json") == 0) sl_log_json = 1;
            else if (strcmp(f, "text") == 0) sl_log_json = 0;
            else return usage_error(argv[0], "--log-format must be text or json, not '%s'", f);
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < *argc) {
            const char *l = argv[++i];
            static const char *const lv[] = {"debug", "info", "warn", "error"};
            int found = -1;
            for (int k = 0; k < 4; k++)
                if (strcmp(l, lv[k]) == 0) found = k;
            if (found < 0) return usage_error(argv[0], "--log-level must be debug, info, warn or error, not '%s'", l);
            sl_log_level = found;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

static sl_pipeline_t *load_files_or_report(const char *const *paths, size_t n, int *code) {
    sl_diags_t d = {0};
    sl_pipeline_t *p = NULL;
    for (size_t i = 0; i < n; i++)
        if (access(paths[i], R_OK) != 0) {
            fprintf(stderr, "%s: error: cannot read the file: %s\n", paths[i], sl_strerror(errno));
            *code = EXIT_FAIL;
            return NULL;
        }
    if (sl_pipeline_load_files(paths, n, &p, &d) != 0) {
        sl_diags_print(&d, stderr);
        *code = EXIT_FAIL;
    }
    sl_diags_free(&d);
    return p;
}

static sl_pipeline_t *load_or_report(const char *path, int *code) { return load_files_or_report(&path, 1, code); }

/* ------------------------------------------------------------------ run */

static int cmd_run(int argc, char **argv) {
    sl_run_opts_t o = {0};
    const char *files[16];
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0) o.once = true;
        else if (strcmp(argv[i], "--replay") == 0) {
            if (i + 1 >= argc) return usage_error("run", "%s needs a directory", "--replay");
            o.replay_dir = argv[++i];
        } else if (argv[i][0] == '-') return usage_error("run", "unknown option '%s'", argv[i]);
        else if (nfiles < 16) files[nfiles++] = argv[i];
        else return usage_error("run", "%s", "takes at most 16 files");
    }
    if (nfiles == 0) return usage_error("run", "%s", "needs a pipeline FILE");
    int code = 0;
    sl_pipeline_t *p = load_files_or_report(files, (size_t)nfiles, &code);
    if (!p) return EXIT_FATAL;
    sl_runner_install_signals();
    code = sl_run(p, &o);
    sl_pipeline_free(p);
    return code;
}

/* ------------------------------------------------------------------ check */

static int cmd_check(int argc, char **argv) {
    if (argc < 2) return usage_error("check", "%s", "needs at least one pipeline FILE");
    int code = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') return usage_error("check", "unknown option '%s'", argv[i]);
        int c = 0;
        sl_pipeline_t *p = load_or_report(argv[i], &c);
        if (!p) code = EXIT_FAIL;
        sl_pipeline_free(p);
    }
    return code;
}

/* ------------------------------------------------------------------ test */

static void print_value(FILE *f, sl_value_t v) {
    sl_buf_t b = SL_BUF_INIT;
    sl_json_write(&b, v);
    fprintf(f, "%s", b.data ? b.data : "");
    sl_buf_free(&b);
}

static int run_one_test(sl_pipeline_t *p, const sl_cnode_t *t, size_t index, int *passed, int *failed) {
    const sl_cnode_t *name = sl_cnode_get(t, "name"), *jobn = sl_cnode_get(t, "job");
    const sl_cnode_t *input = sl_cnode_get(t, "input"), *expect = sl_cnode_get(t, "expect");
    const sl_cnode_t *expect_dlq = sl_cnode_get(t, "expect_dlq");
    char label[256];
    snprintf(label, sizeof label, "%s", name && name->kind == SL_CNODE_SCALAR ? name->str : "");
    if (!label[0]) snprintf(label, sizeof label, "test %zu", index + 1);
    const sl_job_cfg_t *job = jobn && jobn->kind == SL_CNODE_SCALAR ? sl_pipeline_job(p, jobn->str) : NULL;
    if (!job) {
        fprintf(stderr, "%s:%d:%d: error: test '%s' names no job of this file\n", t->file, t->line, t->col, label);
        (*failed)++;
        return 0;
    }
    sl_batch_t batch;
    sl_batch_init(&batch);
    sl_step_ctx_t ctx;
    sl_step_ctx_init(&ctx, job, &p->vars, &batch);
    if (input && input->kind == SL_CNODE_SEQ) {
        for (size_t i = 0; i < input->n; i++) {
            sl_record_t *rec = sl_batch_push(&batch);
            rec->value = sl_cnode_to_value(&batch.arena, input->items[i]);
            rec->orig = rec->value;
            rec->topic = job->nfrom ? job->from[0] : "test";
            rec->partition = 0;
            rec->offset = (int64_t)i;
            rec->seq = i;
            rec->ingest_ts = rec->ts = ctx.now_ms;
        }
    }
    sl_error_t err = {0};
    int rc = sl_job_apply(job, &batch, &ctx, &err);
    if (rc == 0) rc = sl_job_flush(job, &batch, &ctx, &err);
    bool ok = rc == 0;
    if (rc != 0) fprintf(stderr, "FAIL %s: %s\n", label, err.msg);
    if (ok && expect) {
        sl_value_t want = sl_cnode_to_value(&batch.arena, expect);
        size_t nwant = want.type == SL_T_ARRAY ? want.len : 0;
        if (nwant != batch.n) ok = false;
        for (size_t i = 0; ok && i < nwant; i++)
            if (!sl_value_subset(want.u.a[i], batch.recs[i].value)) ok = false;
        if (!ok) {
            fprintf(stderr, "FAIL %s (job %s)\n  expected %zu record(s) containing:\n", label, job->name, nwant);
            for (size_t i = 0; i < nwant; i++) {
                fprintf(stderr, "    ");
                print_value(stderr, want.u.a[i]);
                fprintf(stderr, "\n");
            }
            fprintf(stderr, "  got %zu record(s):\n", batch.n);
            for (size_t i = 0; i < batch.n; i++) {
                fprintf(stderr, "    %s", i < nwant && !sl_value_subset(want.u.a[i], batch.recs[i].value) ? "! " : "");
                print_value(stderr, batch.recs[i].value);
                fprintf(stderr, "\n");
            }
            for (size_t i = 0; i < ctx.ndlq; i++) {
                fprintf(stderr, "  dead letter: ");
                print_value(stderr, ctx.dlq[i].value);
                fprintf(stderr, "\n");
            }
        }
    }
    if (ok && expect_dlq) {
        sl_value_t want = sl_cnode_to_value(&batch.arena, expect_dlq);
        size_t nwant = want.type == SL_T_ARRAY ? want.len : 0;
        bool dok = nwant == ctx.ndlq;
        for (size_t i = 0; dok && i < nwant; i++)
            if (!sl_value_subset(want.u.a[i], ctx.dlq[i].value)) dok = false;
        if (!dok) {
            fprintf(stderr, "FAIL %s (job %s)\n  expected %zu dead letter(s) containing:\n", label, job->name, nwant);
            for (size_t i = 0; i < nwant; i++) {
                fprintf(stderr, "    ");
                print_value(stderr, want.u.a[i]);
                fprintf(stderr, "\n");
            }
            fprintf(stderr, "  got %zu:\n", ctx.ndlq);
            for (size_t i = 0; i < ctx.ndlq; i++) {
                fprintf(stderr, "    ");
                print_value(stderr, ctx.dlq[i].value);
                fprintf(stderr, "\n");
            }
        }
        ok = dok;
    }
    if (ok) {
        printf("ok %s\n", label);
        (*passed)++;
    } else {
        printf("FAIL %s\n", label);
        (*failed)++;
    }
    sl_step_ctx_free(&ctx);
    sl_batch_free(&batch);
    return 0;
}

static int cmd_test(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-') return usage_error("test", "%s", "needs one pipeline FILE");
    int code = 0;
    sl_pipeline_t *p = load_or_report(argv[1], &code);
    if (!p) return EXIT_FAIL;
    int passed = 0, failed = 0;
    const sl_cnode_t *tests = p->tests;
    if (tests && tests->kind == SL_CNODE_SEQ)
        for (size_t i = 0; i < tests->n; i++) {
            if (tests->items[i]->kind != SL_CNODE_MAP) {
                fprintf(stderr, "%s:%d:%d: error: a test must be a mapping (name, job, input, expect)\n",
                        tests->items[i]->file, tests->items[i]->line, tests->items[i]->col);
                failed++;
                continue;
            }
        {
            /* each test starts from fresh step state (dedup sets, windows): reload */
            sl_pipeline_t *fresh = load_or_report(argv[1], &code);
            if (!fresh) return EXIT_FAIL;
            run_one_test(fresh, fresh->tests->items[i], i, &passed, &failed);
            sl_pipeline_free(fresh);
        }
        }
    else if (tests)
        fprintf(stderr, "%s:%d:%d: error: 'tests' must be a list\n", tests->file, tests->line, tests->col), failed++;
    printf("%d passed, %d failed\n", passed, failed);
    sl_pipeline_free(p);
    return failed ? EXIT_FAIL : EXIT_OK;
}

/* ------------------------------------------------------------------ tail, produce, topics */

static void write_record_line(sl_buf_t *b, const sl_record_t *rec) {
    sl_buf_puts(b, "{\"topic\":");
    sl_json_write_string(b, rec->topic, strlen(rec->topic));
    sl_buf_printf(b, ",\"partition\":%d,\"offset\":%lld,\"key\":", rec->partition, (long long)rec->offset);
    if (rec->key) sl_json_write_string(b, rec->key, rec->key_len);
    else sl_buf_puts(b, "null");
    sl_buf_printf(b, ",\"ts\":%lld,\"value\":", (long long)rec->ts);
    sl_json_write(b, rec->value);
    sl_buf_puts(b, "}\n");
}

/* `sluice tail` with transport kafka: the same lines, read without a consumer group. */
static int tail_kafka(const sl_pipeline_t *p, const char *topic, bool from_start, bool follow, long long limit) {
    sl_kt_reader_t *r;
    sl_error_t err = {0};
    if (sl_kt_reader_open(p, topic, from_start, limit >= 0 ? limit : 10, -1, -1, &r, &err) != 0) {
        fprintf(stderr, "sluice tail: %s\n", err.msg);
        return EXIT_FATAL;
    }
    sl_runner_install_signals();
    sl_batch_t b;
    sl_batch_init(&b);
    sl_buf_t out = SL_BUF_INIT;
    long long printed = 0;
    while (!sl_stop_requested && !(limit >= 0 && printed >= limit)) {
        sl_batch_reset(&b);
        sl_kt_reader_read(r, &b, 256, 500);
        for (size_t k = 0; k < b.n && !(limit >= 0 && printed >= limit); k++) {
            sl_buf_clear(&out);
            write_record_line(&out, &b.recs[k]);
            fwrite(out.data, 1, out.len, stdout);
            printed++;
        }
        fflush(stdout);
        if (!b.n && !follow && sl_kt_reader_at_end(r)) break;
    }
    sl_buf_free(&out);
    sl_batch_free(&b);
    sl_kt_reader_close(r);
    return EXIT_OK;
}

static int cmd_tail(int argc, char **argv) {
    bool from_start = false, follow = false;
    long long limit = -1;
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--from-start") == 0) from_start = true;
        else if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0) follow = true;
        else if (strcmp(argv[i], "--limit") == 0) {
            char *end;
            if (i + 1 >= argc || (limit = strtoll(argv[++i], &end, 10)) < 0 || *end)
                return usage_error("tail", "%s needs a number >= 0", "--limit");
        } else if (argv[i][0] == '-') return usage_error("tail", "unknown option '%s'", argv[i]);
        else if (npos < 2) pos[npos++] = argv[i];
        else return usage_error("tail", "unexpected argument '%s'", argv[i]);
    }
    if (npos != 2) return usage_error("tail", "%s", "needs FILE and TOPIC");
    int code = 0;
    sl_pipeline_t *p = load_or_report(pos[0], &code);
    if (!p) return EXIT_FATAL;
    if (p->kafka) {
        code = tail_kafka(p, pos[1], from_start, follow, limit);
        sl_pipeline_free(p);
        return code;
    }
    sl_journal_t *j;
    sl_error_t err = {0};
    if (sl_runner_open_journal(p, true, &j, &err) != 0) {
        fprintf(stderr, "sluice tail: cannot open the journal in %s: %s\n", p->data_dir, err.msg);
        sl_pipeline_free(p);
        return EXIT_FATAL;
    }
    sl_topic_t *t;
    if (sl_journal_topic(j, pos[1], NULL, &t, &err) != 0) {
        fprintf(stderr, "sluice tail: no topic '%s' in %s: %s\n", pos[1], p->data_dir, err.msg);
        sl_journal_close(j);
        sl_pipeline_free(p);
        return EXIT_FATAL;
    }
    sl_runner_install_signals();
    int np = sl_topic_partitions(t);
    int64_t *at = calloc((size_t)np, sizeof *at);
    /* without --from-start: the last `limit` (default 10) records of each partition */
    for (int i = 0; i < np; i++) {
        int64_t start = sl_topic_start(t, i), end = sl_topic_end(t, i);
        int64_t back = limit >= 0 ? limit : 10;
        at[i] = from_start ? start : (end - back > start ? end - back : start);
    }
    long long printed = 0;
    sl_batch_t b;
    sl_batch_init(&b);
    sl_buf_t out = SL_BUF_INIT;
    code = EXIT_OK;
    for (;;) {
        bool any = false;
        for (int i = 0; i < np && !(limit >= 0 && printed >= limit); i++) {
            sl_batch_reset(&b);
            int64_t next;
            size_t want = limit >= 0 ? (size_t)(limit - printed) : 1000;
            if (want > 1000) want = 1000;
            if (sl_topic_read(t, i, at[i], want, 4 << 20, &b, &next, &err) != 0) {
                fprintf(stderr, "sluice tail: %s\n", err.msg);
                code = EXIT_FATAL;
                goto done;
            }
            for (size_t k = 0; k < b.n; k++) {
                sl_buf_clear(&out);
                write_record_line(&out, &b.recs[k]);
                fwrite(out.data, 1, out.len, stdout);
                printed++;
            }
            if (b.n) any = true;
            at[i] = next;
        }
        fflush(stdout);
        if (limit >= 0 && printed >= limit) break;
        if (!any) {
            if (!follow || sl_stop_requested) break;
            /* another process appends: re-open read-only to see its commits */
            usleep(200 * 1000);
            sl_journal_close(j);
            if (sl_runner_open_journal(p, true, &j, &err) != 0 || sl_journal_topic(j, pos[1], NULL, &t, &err) != 0) {
                code = EXIT_FATAL;
                break;
            }
        }
    }
done:
    sl_buf_free(&out);
    sl_batch_free(&b);
    free(at);
    sl_journal_close(j);
    sl_pipeline_free(p);
    return code;
}

static int cmd_produce(int argc, char **argv) {
    if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
        return usage_error("produce", "%s", "needs FILE and TOPIC (records come from stdin, one JSON per line)");
    int code = 0;
    sl_pipeline_t *p = load_or_report(argv[1], &code);
    if (!p) return EXIT_FATAL;
    sl_journal_t *j = NULL;
    sl_kt_t *kt = NULL;
    sl_error_t err = {0};
    if (p->kafka) {
        if (!sl_pipeline_topic(p, argv[2])) {
            fprintf(stderr, "sluice produce: no topic '%s' in %s\n", argv[2], p->file);
            sl_pipeline_free(p);
            return EXIT_FATAL;
        }
        if (sl_kt_open(p, &kt, &err) != 0) {
            fprintf(stderr, "sluice produce: transport kafka: %s\n", err.msg);
            sl_pipeline_free(p);
            return EXIT_FATAL;
        }
    } else if (sl_runner_open_journal(p, false, &j, &err) != 0) {
        fprintf(stderr, "sluice produce: cannot open the journal in %s: %s\n", p->data_dir, err.msg);
        sl_pipeline_free(p);
        return EXIT_FATAL;
    }
    const sl_topic_cfg_t *tc = sl_pipeline_topic(p, argv[2]);
    sl_topic_t *t = NULL;
    if (j && sl_journal_topic(j, argv[2], tc ? &tc->opts : NULL, &t, &err) != 0) {
        fprintf(stderr, "sluice produce: %s\n", err.msg);
        sl_journal_close(j);
        sl_pipeline_free(p);
        return EXIT_FATAL;
    }
    sl_batch_t b;
    sl_batch_init(&b);
    char *line = NULL;
    size_t cap = 0, lineno = 0, total = 0, bad = 0;
    ssize_t n;
    code = EXIT_OK;
    for (;;) {
        n = getline(&line, &cap, stdin);
        if (n > 0) {
            lineno++;
            size_t len = (size_t)n;
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
            if (len) {
                sl_json_error_t je;
                sl_value_t v;
                if (sl_json_parse(&b.arena, line, len, &v, &je) != 0) {
                    fprintf(stderr, "stdin:%zu:%zu: error: %s\n", lineno, je.offset + 1, je.reason);
                    bad++;
                } else {
                    sl_record_t *rec = sl_batch_push(&b);
                    rec->value = v;
                    rec->ingest_ts = rec->ts = sl_now_ms();
                    rec->source = "produce";
                }
            }
        }
        if ((n <= 0 && b.n) || b.n >= 1000) {
            int rc;
            if (kt) {
                rc = sl_kt_append(kt, argv[2], b.recs, b.n, &err);
            } else {
                sl_txn_t *txn = sl_txn_begin(j, "produce");
                rc = sl_txn_append(txn, t, b.recs, b.n, &err);
                uint64_t seq = 0;
                if (rc == 0) rc = sl_txn_commit(txn, NULL, 0, &seq, &err);
                else sl_txn_abort(txn);
                if (rc == 0) rc = sl_journal_wait_durable(j, seq, 10000);
            }
            if (rc != 0) {
                fprintf(stderr, "sluice produce: %s\n", err.msg);
                code = EXIT_FATAL;
                break;
            }
            total += b.n;
            sl_batch_reset(&b);
        }
        if (n <= 0) break;
    }
    free(line);
    sl_batch_free(&b);
    if (j) sl_journal_close(j);
    sl_kt_close(kt);
    sl_pipeline_free(p);
    fprintf(stderr, "produced %zu record(s) to %s%s\n", total, argv[2], bad ? " (some lines were rejected)" : "");
    if (code == EXIT_OK && bad) code = EXIT_FAIL;
    return code;
}

static int cmd_topics(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-') return usage_error("topics", "%s", "needs one pipeline FILE");
    int code = 0;
    sl_pipeline_t *p = load_or_report(argv[1], &code);
    if (!p) return EXIT_FATAL;
    sl_journal_t *j;
    sl_error_t err = {0};
    if (p->kafka) {
        int rc = sl_kt_report(p, stdout, &err);
        if (rc != 0) fprintf(stderr, "sluice topics: transport kafka: %s\n", err.msg);
        sl_pipeline_free(p);
        return rc ? EXIT_FATAL : EXIT_OK;
    }
    if (sl_runner_open_journal(p, true, &j, &err) != 0) {
        fprintf(stderr, "sluice topics: cannot open the journal in %s: %s\n", p->data_dir, err.msg);
        sl_pipeline_free(p);
        return EXIT_FATAL;
    }
    char **names = NULL, **groups = NULL;
    size_t n = 0, ng = 0;
    sl_journal_list(j, &names, &n);
    sl_journal_groups(j, &groups, &ng);
    printf("%-32s %4s %12s %12s %12s\n", "TOPIC", "PART", "START", "END", "BYTES");
    for (size_t i = 0; i < n; i++) {
        sl_topic_t *t;
        if (sl_journal_topic(j, names[i], NULL, &t, &err) != 0) continue;
        for (int pi = 0; pi < sl_topic_partitions(t); pi++)
            printf("%-32s %4d %12lld %12lld %12lld\n", names[i], pi, (long long)sl_topic_start(t, pi),
                   (long long)sl_topic_end(t, pi), (long long)sl_topic_bytes(t, pi));
    }
    printf("\n%-32s %-32s %4s %12s %12s\n", "GROUP", "TOPIC", "PART", "COMMITTED", "LAG");
    for (size_t g = 0; g < ng; g++)
        for (size_t i = 0; i < n; i++) {
            sl_topic_t *t;
            if (sl_journal_topic(j, names[i], NULL, &t, &err) != 0) continue;
            for (int pi = 0; pi < sl_topic_partitions(t); pi++) {
                int64_t off = sl_journal_group_offset(j, groups[g], names[i], pi);
                if (off < 0) continue;
                printf("%-32s %-32s %4d %12lld %12lld\n", groups[g], names[i], pi, (long long)off,
                       (long long)(sl_topic_end(t, pi) - off));
            }
        }
    sl_journal_names_free(names, n);
    sl_journal_names_free(groups, ng);
    sl_journal_close(j);
    sl_pipeline_free(p);
    return EXIT_OK;
}

/* ------------------------------------------------------------------ fsck */

static void fsck_report(void *opaque, const sl_journal_damage_t *d) {
    (void)opaque;
    printf("%s: byte %llu: %s%s", d->path, (unsigned long long)d->file_offset, d->what,
           d->tail ? " (torn tail)" : "");
    if (d->offset >= 0) printf(" (records from offset %lld)", (long long)d->offset);
    printf("\n");
}

static int cmd_fsck(int argc, char **argv) {
    bool repair = false;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--repair") == 0) repair = true;
        else if (argv[i][0] == '-') return usage_error("fsck", "unknown option '%s'", argv[i]);
        else if (!dir) dir = argv[i];
        else return usage_error("fsck", "unexpected argument '%s'", argv[i]);
    }
    if (!dir) return usage_error("fsck", "%s", "needs the data DIR (the pipeline's data_dir)");
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "sluice fsck: %s is not a directory\n", dir);
        return EXIT_FATAL;
    }
    sl_error_t err = {0};
    int n = sl_journal_fsck(dir, repair, fsck_report, NULL, &err);
    if (n < 0) {
        fprintf(stderr, "sluice fsck: %s\n", err.msg);
        return EXIT_FATAL;
    }
    if (n == 0) {
        printf("%s: clean\n", dir);
        return EXIT_OK;
    }
    if (!repair) {
        printf("%s: %d problem(s) found (run with --repair to cut them)\n", dir, n);
        return EXIT_FAIL;
    }
    /* --repair: exit 0 only when a fresh check finds nothing left. */
    int left = sl_journal_fsck(dir, false, NULL, NULL, &err);
    if (left == 0) {
        printf("%s: %d problem(s) found, all repaired\n", dir, n);
        return EXIT_OK;
    }
    printf("%s: %d problem(s) found; %d left after repair\n", dir, n, left < 0 ? n : left);
    return EXIT_FAIL;
}

/* ------------------------------------------------------------------ demo, version, docs */

/* The project's root: the folder above the binary (build/sluice), or the cwd. */
static void project_root(char *out, size_t cap) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    snprintf(out, cap, ".");
    if (n <= 0) return;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = 0;                 /* .../build */
    slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = 0;                 /* ... */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/pipelines/solar.yaml", exe);
    if (access(probe, R_OK) == 0) snprintf(out, cap, "%s", exe);
}

static int cmd_demo(int argc, char **argv) {
    bool once = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0) once = true;
        else return usage_error("demo", "unknown option '%s'", argv[i]);
    }
    static const char *const names[] = {"solar", "iss", "crypto", "users", "flights"};
    char root[4096], paths[5][4200], samples[4200];
    const char *files[5];
    project_root(root, sizeof root);
    for (int i = 0; i < 5; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/pipelines/%s.yaml", root, names[i]);
        files[i] = paths[i];
        if (access(files[i], R_OK) != 0) {
            fprintf(stderr, "sluice demo: %s not found (run it from the sluice source tree)\n", files[i]);
            return EXIT_FATAL;
        }
    }
    snprintf(samples, sizeof samples, "%s/samples", root);
    int code = 0;
    sl_pipeline_t *p = load_files_or_report(files, 5, &code);
    if (!p) return EXIT_FATAL;
    sl_run_opts_t o = {.once = once, .replay_dir = samples};
    sl_runner_install_signals();
    if (!once)
        fprintf(stderr, "sluice demo: the five systems on the sample responses in %s; tables in %s;\n"
                        "             dashboard at http://%s/ (Ctrl-C to stop)\n",
                samples, getenv("SLUICE_OUT") ? getenv("SLUICE_OUT") : "./demo-out",
                getenv("SLUICE_LISTEN") ? getenv("SLUICE_LISTEN") : "127.0.0.1:8080");
    code = sl_run(p, &o);
    sl_pipeline_free(p);
    return code;
}

static int cmd_version(int argc, char **argv) {
    printf("sluice %s\n", SLUICE_VERSION);
    return EXIT_OK;
}

static int cmd_docs(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "config") == 0) {
        sl_pipeline_doc(stdout);
        return EXIT_OK;
    }
    if (argc == 2 && strcmp(argv[1], "expressions") == 0) {
        sl_expr_doc(stdout);
        return EXIT_OK;
    }
    return usage_error("docs", "%s", "needs 'config' or 'expressions'");
}

static const command_t commands[] = {
    {"run", cmd_run, "run FILE [--once] [--replay DIR]",
     "Run the pipeline until SIGINT/SIGTERM, then drain the batches in flight and exit 0.\n"
     "  --once        poll every source once (a finite source runs to its end), drain every\n"
     "                job to the end of its topics, then exit\n"
     "  --replay DIR  HTTP sources read recorded responses from DIR/<source>/"},
    {"check", cmd_check, "check FILE...",
     "Validate pipeline files; print one line per problem as FILE:LINE:COL: error: MESSAGE.\n"
     "Exit 0 when valid, 1 when not."},
    {"test", cmd_test, "test FILE",
     "Run the pipeline's `tests:` (input records through a job's steps, compared with\n"
     "`expect` by subset match and `expect_dlq`); ends with 'N passed, N failed'."},
    {"tail", cmd_tail, "tail FILE TOPIC [--from-start] [--follow] [--limit N]",
     "Print records of a topic as JSON lines {topic, partition, offset, key, ts, value}.\n"
     "Without --from-start, starts at the last N (default 10) records of each partition."},
    {"produce", cmd_produce, "produce FILE TOPIC < records.jsonl",
     "Append JSON lines from standard input to a topic (durable before exit)."},
    {"topics", cmd_topics, "topics FILE", "Show topics, partitions, offsets, bytes, consumer groups and lag."},
    {"backfill", sl_cmd_backfill, "backfill FILE SOURCE --from YYYY-MM-DD --to YYYY-MM-DD",
     "Poll a windowed HTTP source over a date range, window by window, into its topic; shows\n"
     "progress and is resumable (a rerun continues after the last finished window)."},
    {"record", sl_cmd_record, "record FILE SOURCE DIR",
     "Fetch once from the live API of an HTTP source and save DIR/SOURCE/<time>.json (+ .http with the\n"
     "status and headers): a replay cassette for run --replay."},
    {"fsck", cmd_fsck, "fsck DIR [--repair]",
     "Verify the journal's checksums in DIR; exit 0 when clean, 1 when damage was found.\n"
     "  --repair   cut torn tails and quarantine damaged batches (see docs/FORMAT.md)"},
    {"demo", cmd_demo, "demo [--once]",
     "Run the five systems (pipelines/{solar,iss,crypto,users,flights}.yaml) on the bundled sample\n"
     "responses (samples/), with the journal, SQLite (./demo-out) and the dashboard on :8080,\n"
     "until Ctrl-C.  --once: replay, drain and exit.  SLUICE_OUT, SLUICE_DATA and SLUICE_LISTEN\n"
     "change where the tables, the journal and the dashboard go."},
    {"version", cmd_version, "version", "Print the version."},
    {"docs", cmd_docs, "docs config|expressions", "Print the generated reference (docs/CONFIG.md, docs/EXPRESSIONS.md)."},
    {NULL, NULL, NULL, NULL}};

static const command_t *find_command(const char *name) {
    for (size_t i = 0; commands[i].name; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

static void main_usage(FILE *f) {
    fprintf(f, "usage: sluice COMMAND [ARGS] [--log-format text|json] [--log-level LEVEL]\n\ncommands:\n");
    for (size_t i = 0; commands[i].name; i++)
        if (strcmp(commands[i].name, "docs") != 0) fprintf(f, "  %s\n", commands[i].usage);
    fprintf(f, "\n'sluice COMMAND --help' tells more.\n");
}

int main(int argc, char **argv) {
    /* two malloc arenas for all threads: ~3 MB less peak RSS, the same speed (bench/kafka.sh) */
    /* NOLINTNEXTLINE(concurrency-mt-unsafe): main thread, before any other thread starts */
    mallopt(M_ARENA_MAX, 2);
    if (argc < 2) {
        main_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        main_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) return cmd_version(0, NULL);
    const command_t *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "sluice: unknown command '%s'\n", argv[1]);
        main_usage(stderr);
        return EXIT_USAGE;
    }
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    if (wants_help(sub_argc, sub_argv)) return print_help(c->name);
    int rc = take_log_opts(&sub_argc, sub_argv);
    if (rc) return rc;
    return c->fn(sub_argc, sub_argv);
}
