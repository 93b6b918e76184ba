/* test_pipelines.c - the five pipelines of pipelines/, unchanged, replayed in-process
 * from samples/ (`sluice run --once --replay samples`) give exactly the golden tables of
 * tests/golden/pipelines (as tests/runtime/t_pipelines.sh checks the process): each
 * alone on the journal, a second run adds nothing, and all five together in one run on
 * the journal and on Kafka.  Run from the project's root (make engine does). */
#include "harness.h"

/* Mails of solar's alert flare_m5 on the samples: one per flare of class M5 or more (the
 * five X flares; the M4.8 sends none), and none again on a second run. */
#define SOLAR_MAILS 5

/* The tables a pipeline writes: database, table, order of rows. */
static const struct { const char *pipeline, *db, *table, *order; } tables[] = {
    {"solar", "solar.db", "solar_data", "flr_id"},
    {"solar", "solar.db", "notifications", "message_id"},
    {"iss", "iss.db", "iss_data", "seen_at"},
    {"crypto", "crypto.db", "prices", "id, ts"},
    {"users", "users.db", "created_users", "id"},
    {"flights", "flights.db", "flights_latest", "icao24"},
    {"flights", "flights.db", "flights", "icao24, last_contact"},
};

/* Every table of `pipeline` equals its golden file (the wall-clock column
 * processing_time left out, as in the golden files). */
static void compare_tables(eng_t *e, const char *pipeline, const char *label) {
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        if (strcmp(tables[i].pipeline, pipeline) != 0) continue;
        sl_arena_t a;
        sl_arena_init(&a, 0);
        char path[300];
        snprintf(path, sizeof path, "tests/golden/pipelines/%s.json", tables[i].table);
        FILE *f = fopen(path, "r");
        sl_buf_t text = SL_BUF_INIT;
        char chunk[4096];
        size_t n;
        while (f && (n = fread(chunk, 1, sizeof chunk, f)) > 0) sl_buf_append(&text, chunk, n);
        if (f) fclose(f);
        sl_value_t golden = sl_null(), got = sl_null();
        sl_json_error_t jerr;
        if (!f || sl_json_parse(&a, text.data, text.len, &golden, &jerr) != 0 || golden.type != SL_T_ARRAY)
            E_FAIL("%s: cannot read the golden file %s", label, path);
        else if (eng_table(e, tables[i].db, tables[i].table, tables[i].order, "processing_time", &a, &got)) {
            if (got.len != golden.len)
                E_FAIL("%s: table %s has %u rows, the golden file %u", label, tables[i].table, got.len, golden.len);
            for (uint32_t r = 0; r < got.len && r < golden.len; r++)
                if (!sl_value_equal(got.u.a[r], golden.u.a[r])) {
                    E_FAIL("%s: table %s row %u is\n  %s\nnot\n  %s", label, tables[i].table, r,
                           eng_json(e, got.u.a[r]), eng_json(e, golden.u.a[r]));
                    break;
                }
        }
        sl_buf_free(&text);
        sl_arena_free(&a);
    }
}

/* Load pipelines/NAME.yaml for each name, run --once --replay samples: exit code. */
static int replay(eng_t *e, const char *const *names, size_t n) {
    char paths[8][200];
    const char *files[9];
    for (size_t i = 0; i < n && i < 8; i++) {
        snprintf(paths[i], sizeof paths[i], "pipelines/%s.yaml", names[i]);
        files[i] = paths[i];
        if (access(paths[i], R_OK) != 0) {
            E_FAIL("%s not found: run from the project's root", paths[i]);
            return -1;
        }
    }
    files[n < 8 ? n : 8] = NULL;
    sl_pipeline_t *p = eng_load_with(e, NULL, files);
    if (!p) return -1;
    int rc = eng_run_pipeline(e, p, "samples");
    sl_pipeline_free(p);
    return rc;
}

static void one(eng_t *e, const char *name) {
    if (strcmp(name, "solar") == 0 && !eng_smtp_start(e)) return;   /* its alert mails */
    E_INT(replay(e, &name, 1), 0);
    compare_tables(e, name, "first run");
    /* the replay position is the source's cursor: a second run adds nothing */
    E_INT(replay(e, &name, 1), 0);
    compare_tables(e, name, "second run");
    if (strcmp(name, "solar") == 0) E_INT(eng_mails(e), SOLAR_MAILS);
}

ENGINE_CASE(pipeline_solar, ENG_JOURNAL) { one(e, "solar"); }
ENGINE_CASE(pipeline_iss, ENG_JOURNAL) { one(e, "iss"); }
ENGINE_CASE(pipeline_crypto, ENG_JOURNAL) { one(e, "crypto"); }
ENGINE_CASE(pipeline_users, ENG_JOURNAL) { one(e, "users"); }
ENGINE_CASE(pipeline_flights, ENG_JOURNAL) { one(e, "flights"); }

/* The five in one process (`sluice demo --once`'s setup), on both backends. */
ENGINE_CASE(pipelines_all_five, ENG_BOTH) {
    static const char *const names[] = {"solar", "iss", "crypto", "users", "flights"};
    if (!eng_smtp_start(e)) return;
    E_INT(replay(e, names, 5), 0);
    for (size_t i = 0; i < 5; i++) compare_tables(e, names[i], "together");
    E_INT(eng_mails(e), SOLAR_MAILS);
}
