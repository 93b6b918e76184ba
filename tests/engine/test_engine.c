/* test_engine.c - whole pipelines run in-process to the end of their input (the
 * `sluice run --once` path: sl_pipeline_load_files + sl_run), each case in its own
 * forked child (harness.h: the runner keeps process-wide state), on the embedded
 * journal and again on librdkafka's mock cluster (`transport: kafka`), with the sinks'
 * rows compared with golden rows. */
#include "harness.h"

/* generate -> topic (2 partitions) -> set/where -> SQLite: the rows and their values. */
ENGINE_CASE(generate_set_where_sqlite, ENG_BOTH) {
    int rc = eng_run(e,
        "topics:\n"
        "  events: { partitions: 2 }\n"
        "sources:\n"
        "  gen:\n"
        "    generate: { count: 100, chunk: 30, template: { id: \"meta.seq\", name: \"'n' + string(meta.seq)\" } }\n"
        "    key: \"string(id)\"\n"
        "    to: events\n"
        "jobs:\n"
        "  store:\n"
        "    from: events\n"
        "    steps:\n"
        "      - set: { twice: \"id * 2\", tag: \"upper(name)\" }\n"
        "      - where: \"id % 10 == 3\"\n"
        "    to:\n"
        "      - sqlite: { path: \"${T_DIR}/out.db\", table: rows,\n"
        "                  columns: { id: bigint, name: text, twice: bigint, tag: text } }\n");
    E_INT(rc, 0);
    E_STR(eng_sql(e, "out.db", "select count(*), count(distinct id) from rows"), "10:10");
    E_STR(eng_sql(e, "out.db", "select id, name, twice, tag from rows order by id"),
          "3:n3:6:N3 13:n13:26:N13 23:n23:46:N23 33:n33:66:N33 43:n43:86:N43 "
          "53:n53:106:N53 63:n63:126:N63 73:n73:146:N73 83:n83:166:N83 93:n93:186:N93");
    sl_batch_t b;
    sl_batch_init(&b);
    E_INT(eng_topic_read(e, "events", &b), 100);   /* every generated record on the topic */
    sl_batch_free(&b);
}

/* file source (JSON lines) -> explode -> file sink: one line per element, in order. */
ENGINE_CASE(file_explode_file, ENG_BOTH) {
    E_CHECK(eng_put(e, "in.jsonl",
                    "{\"order\":1,\"items\":[{\"sku\":\"a\",\"n\":2},{\"sku\":\"b\",\"n\":1}]}\n"
                    "{\"order\":2,\"items\":[]}\n"
                    "{\"order\":3,\"items\":[{\"sku\":\"c\",\"n\":5}]}\n"));
    int rc = eng_run(e,
        "sources:\n"
        "  orders:\n"
        "    file: { path: \"${T_DIR}/in.jsonl\" }\n"
        "    to: orders\n"
        "jobs:\n"
        "  lines:\n"
        "    from: orders\n"
        "    steps:\n"
        "      - explode: { path: items, as: item }\n"
        "      - map: { order: order, sku: item.sku, n: item.n }\n"
        "    to:\n"
        "      - file: { path: \"${T_DIR}/out.jsonl\" }\n");
    E_INT(rc, 0);
    E_STR(eng_file(e, "out.jsonl"),
          "{\"order\":1,\"sku\":\"a\",\"n\":2}\n"
          "{\"order\":1,\"sku\":\"b\",\"n\":1}\n"
          "{\"order\":3,\"sku\":\"c\",\"n\":5}\n");
}

/* A record failing a step goes to <job>.dlq, naming the step, the reason and the
 * original record; the others reach the sink; the job goes on.  A line that is not
 * JSON goes to <source>.dlq with its raw text. */
ENGINE_CASE(failing_step_dlq, ENG_BOTH) {
    E_CHECK(eng_put(e, "in.jsonl",
                    "{\"id\":1,\"price\":\"10.5\"}\n"
                    "{\"id\":2,\"price\":\"abc\"}\n"
                    "not json at all\n"
                    "{\"id\":3,\"price\":\"7\"}\n"
                    "{\"id\":4,\"price\":\"x\"}\n"));
    int rc = eng_run(e,
        "sources:\n"
        "  prices:\n"
        "    file: { path: \"${T_DIR}/in.jsonl\" }\n"
        "    to: raw\n"
        "jobs:\n"
        "  clean:\n"
        "    from: raw\n"
        "    steps:\n"
        "      - set: { value: \"number(price)\" }\n"
        "    to:\n"
        "      - sqlite: { path: \"${T_DIR}/out.db\", table: prices, key: [id] }\n");
    E_INT(rc, 0);
    E_STR(eng_sql(e, "out.db", "select id, value from prices order by id"), "1:10.5 3:7.0");
    sl_batch_t b;
    sl_batch_init(&b);
    E_INT(eng_topic_read(e, "clean.dlq", &b), 2);
    int seen = 0;
    for (size_t i = 0; i < b.n; i++) {
        const sl_value_t *v = &b.recs[i].value, *step = sl_value_get(v, "step", 4),
                         *why = sl_value_get(v, "error", 5), *id = sl_value_get_path(v, "record.id"),
                         *topic = sl_value_get(v, "topic", 5);
        E_CHECK(step && step->type == SL_T_STRING && strcmp(step->u.s, "set") == 0);
        E_CHECK(why && why->type == SL_T_STRING && strstr(why->u.s, "number"));
        E_CHECK(topic && topic->type == SL_T_STRING && strcmp(topic->u.s, "raw") == 0);
        if (id && id->type == SL_T_INT) seen |= 1 << id->u.i;
        else E_FAIL("dead letter without record.id: %s", eng_json(e, *v));
    }
    E_INT(seen, (1 << 2) | (1 << 4));
    sl_batch_reset(&b);
    E_INT(eng_topic_read(e, "prices.dlq", &b), 1);
    if (b.n == 1) E_CHECK(strstr(eng_json(e, b.recs[0].value), "not json at all") != NULL);
    sl_batch_free(&b);
}

/* dedup's seen keys survive a second run on the same data_dir: the repeats of the
 * second file chunk (ids 3..5) are dropped, the new ones pass. */
ENGINE_CASE(dedup_across_runs, ENG_BOTH) {
    static const char yaml[] =
        "sources:\n"
        "  feed:\n"
        "    file: { path: \"${T_DIR}/in.jsonl\" }\n"
        "    to: feed\n"
        "jobs:\n"
        "  uniq:\n"
        "    from: feed\n"
        "    steps:\n"
        "      - dedup: { key: id, within: 1d }\n"
        "    to:\n"
        "      - file: { path: \"${T_DIR}/out.jsonl\" }\n";
    E_CHECK(eng_put(e, "in.jsonl", "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n{\"id\":4}\n{\"id\":5}\n{\"id\":2}\n"));
    E_INT(eng_run(e, yaml), 0);
    E_STR(eng_file(e, "out.jsonl"), "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n{\"id\":4}\n{\"id\":5}\n");
    /* the file source goes on after its cursor: the second run reads only these */
    FILE *f = fopen(sl_arena_sprintf(&e->arena, "%s/in.jsonl", e->dir), "a");
    E_CHECK(f != NULL);
    if (f) {
        fputs("{\"id\":3}\n{\"id\":6}\n{\"id\":4}\n{\"id\":5}\n{\"id\":7}\n", f);
        fclose(f);
    }
    E_INT(eng_run(e, yaml), 0);
    E_STR(eng_file(e, "out.jsonl"),
          "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n{\"id\":4}\n{\"id\":5}\n{\"id\":6}\n{\"id\":7}\n");
}

/* One job, two sinks: SQLite (upsert by key) and a JSON-lines file get the same
 * records; a topic sink feeds a second job. */
ENGINE_CASE(two_sinks, ENG_BOTH) {
    int rc = eng_run(e,
        "sources:\n"
        "  gen:\n"
        "    generate: { count: 50, chunk: 20, template: { id: \"meta.seq\", v: \"meta.seq * meta.seq\" } }\n"
        "    to: nums\n"
        "jobs:\n"
        "  both:\n"
        "    from: nums\n"
        "    steps:\n"
        "      - where: \"id < 5 or id >= 48\"\n"
        "    to:\n"
        "      - sqlite: { path: \"${T_DIR}/out.db\", table: nums, key: [id] }\n"
        "      - file: { path: \"${T_DIR}/out.jsonl\" }\n"
        "      - topic: picked\n"
        "  count:\n"
        "    from: picked\n"
        "    steps:\n"
        "      - map: { id: id }\n"
        "    to:\n"
        "      - file: { path: \"${T_DIR}/picked.jsonl\" }\n");
    E_INT(rc, 0);
    E_STR(eng_sql(e, "out.db", "select id, v from nums order by id"), "0:0 1:1 2:4 3:9 4:16 48:2304 49:2401");
    const char *lines = eng_file(e, "out.jsonl");
    E_INT(eng_lines(lines), 7);
    E_CHECK(lines && strstr(lines, "{\"id\":49,\"v\":2401}\n"));
    E_INT(eng_lines(eng_file(e, "picked.jsonl")), 7);
}
