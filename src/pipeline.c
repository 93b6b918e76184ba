/* pipeline.c - load a pipeline file into topics, sources and jobs, reporting every
 * problem as FILE:LINE:COL (what `sluice check` prints). */
#include "pipeline.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "kafka_transport.h"
#include "preset.h"
#include "serve.h"
#include "web.h"
#include "sluice/value.h"

static const char *const top_keys[] = {"data_dir", "vars",  "transport", "serve",
                                       "topics",   "sources", "jobs",    "alerts",
                                       "dashboard", "tests", NULL};
static const char *const source_keys[] = {"to", "key", "ts", "every", "cron", "run_for",
                                          "records", "params", NULL};
static const char *const job_keys[] = {"from", "steps", "to", "max_batch", "max_batch_bytes",
                                       NULL};

/* ---------------------------------------------------------------- helpers */

static void diag_at(sl_diags_t *d, const sl_cnode_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void diag_at(sl_diags_t *d, const sl_cnode_t *n, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n) sl_diags_add(d, n->file, n->line, n->col, "%s", msg);
    else sl_diags_add(d, NULL, 0, 0, "%s", msg);
}

static bool want_kind(sl_diags_t *d, const sl_cnode_t *n, sl_cnode_kind_t kind, const char *what) {
    if (n->kind == kind) return true;
    diag_at(d, n, "%s must be a %s, got a %s", what, sl_cnode_kind_name(kind),
            sl_cnode_kind_name(n->kind));
    return false;
}

static void unknown_key(sl_diags_t *d, const sl_cnode_t *key, const char *what,
                        const char *const *known) {
    const char *near = sl_did_you_mean(key->str, known);
    if (near)
        diag_at(d, key, "unknown key '%s' in %s (did you mean '%s'?)", key->str, what, near);
    else
        diag_at(d, key, "unknown key '%s' in %s", key->str, what);
}

static bool in_list(const char *s, const char *const *list) {
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0) return true;
    return false;
}

static bool valid_topic_name(const char *s) {
    if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return false;
    for (const char *p = s; *p; p++)
        if (*p == '/' || (unsigned char)*p < 0x20 || *p == '\\') return false;
    return strlen(s) < 200;
}

/* Index of a topic config by name, adding a referenced one when absent. */
static sl_topic_cfg_t *topic_ref(sl_pipeline_t *p, const char *name, size_t *cap) {
    for (size_t i = 0; i < p->ntopics; i++)
        if (strcmp(p->topics[i].name, name) == 0) return &p->topics[i];
    if (p->ntopics == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        sl_topic_cfg_t *t = realloc(p->topics, *cap * sizeof *t);
        if (!t) abort();
        p->topics = t;
    }
    sl_topic_cfg_t *t = &p->topics[p->ntopics++];
    memset(t, 0, sizeof *t);
    t->name = sl_arena_strndup(&p->arena, name, strlen(name));
    sl_topic_opts_default(&t->opts);
    return t;
}

sl_value_t sl_cnode_to_value(sl_arena_t *arena, const sl_cnode_t *n) {
    if (!n) return sl_null();
    if (n->kind == SL_CNODE_MAP) {
        sl_value_t obj = sl_object_new(arena, n->n);
        for (size_t i = 0; i < n->n; i++)
            sl_value_set(arena, &obj, n->pairs[i].key->str, n->pairs[i].key->len,
                         sl_cnode_to_value(arena, n->pairs[i].val));
        return obj;
    }
    if (n->kind == SL_CNODE_SEQ) {
        sl_value_t arr = sl_array_new(arena, n->n);
        for (size_t i = 0; i < n->n; i++) arr.u.a[i] = sl_cnode_to_value(arena, n->items[i]);
        arr.len = (uint32_t)n->n;
        return arr;
    }
    const char *s = n->str;
    if (n->style == 0) {
        if (n->len == 0 || strcmp(s, "null") == 0 || strcmp(s, "~") == 0) return sl_null();
        if (strcmp(s, "true") == 0) return sl_bool(true);
        if (strcmp(s, "false") == 0) return sl_bool(false);
        char *end;
        errno = 0;
        long long i = strtoll(s, &end, 10);
        if (*end == 0 && errno == 0 && end != s) return sl_int(i);
        double d = strtod(s, &end);
        if (*end == 0 && end != s && (s[0] == '-' || s[0] == '+' || s[0] == '.' ||
                                      (s[0] >= '0' && s[0] <= '9')))
            return sl_double(d);
    }
    return sl_str_dup(arena, s, n->len);
}

/* ---------------------------------------------------------------- plugins */

/* Parse a plugin's block through its config table into a fresh struct. */
static void *plugin_conf(sl_pipeline_t *p, const sl_config_map_t *map, size_t size,
                         const char *shorthand, const sl_cnode_t *block, const char *what,
                         sl_diags_t *d) {
    void *conf = sl_arena_calloc(&p->arena, size ? size : 1);
    if (!map) return conf;
    if (block && block->kind == SL_CNODE_SCALAR && shorthand) {
        /* `topic: enriched` == `topic: {name: enriched}` */
        sl_cnode_t *key = sl_arena_calloc(&p->arena, sizeof *key);
        *key = *block;
        key->str = (char *)shorthand;
        key->len = strlen(shorthand);
        key->style = 0;
        sl_cnode_t *m = sl_arena_calloc(&p->arena, sizeof *m);
        *m = *block;
        m->kind = SL_CNODE_MAP;
        m->pairs = sl_arena_alloc(&p->arena, sizeof *m->pairs);
        m->pairs[0].key = key;
        m->pairs[0].val = (sl_cnode_t *)block;
        m->n = 1;
        block = m;
    } else if (block && block->kind == SL_CNODE_SCALAR && block->len == 0) {
        block = NULL;  /* `stdout:` with nothing = defaults */
    }
    if (block && block->kind != SL_CNODE_MAP) {
        diag_at(d, block, "%s must be a mapping, got a %s", what, sl_cnode_kind_name(block->kind));
        return conf;
    }
    sl_config_apply(map, block, conf, what, &p->arena, d);
    return conf;
}

static void init_ctx(sl_pipeline_t *p, sl_init_ctx_t *ctx, const char *what,
                     const sl_cnode_t *node, sl_diags_t *d) {
    memset(ctx, 0, sizeof *ctx);
    ctx->what = what;
    ctx->node = node;
    ctx->data_dir = p->data_dir;
    ctx->vars = &p->vars;
    ctx->arena = &p->arena;
    ctx->diags = d;
    ctx->kafka_brokers = p->kafka ? p->kafka->brokers : NULL;
}

static const char *plugin_names(sl_pipeline_t *p, int kind) {
    sl_buf_t b = SL_BUF_INIT;
    if (kind == 0)
        for (size_t i = 0; sl_source_plugins[i]; i++)
            sl_buf_printf(&b, "%s%s", i ? ", " : "", sl_source_plugins[i]->name);
    else if (kind == 1)
        for (size_t i = 0; sl_step_plugins[i]; i++)
            sl_buf_printf(&b, "%s%s", i ? ", " : "", sl_step_plugins[i]->name);
    else
        for (size_t i = 0; sl_sink_plugins[i]; i++)
            sl_buf_printf(&b, "%s%s", i ? ", " : "", sl_sink_plugins[i]->name);
    const char *s = sl_arena_strndup(&p->arena, b.data ? b.data : "", b.len);
    sl_buf_free(&b);
    return s;
}

static const char **plugin_name_list(sl_pipeline_t *p, int kind) {
    size_t n = 0;
    if (kind == 0) while (sl_source_plugins[n]) n++;
    else if (kind == 1) while (sl_step_plugins[n]) n++;
    else while (sl_sink_plugins[n]) n++;
    const char **v = sl_arena_alloc(&p->arena, (n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = kind == 0 ? sl_source_plugins[i]->name
             : kind == 1 ? sl_step_plugins[i]->name : sl_sink_plugins[i]->name;
    v[n] = NULL;
    return v;
}

/* ---------------------------------------------------------------- sections */

static const sl_config_map_t topic_map[] = {
    {"partitions", SL_CFG_INT, "1", 0, offsetof(sl_topic_opts_t, partitions), NULL,
     "number of partitions (records are spread by a hash of their key)"},
    {"fsync", SL_CFG_ENUM, "interval", 0, offsetof(sl_topic_opts_t, fsync), "always|interval|off",
     "when appends reach the disk: every commit, group commit every fsync_interval, or never"},
    {"fsync_interval", SL_CFG_DURATION, "50ms", 0, offsetof(sl_topic_opts_t, fsync_interval_ms),
     NULL, "group-commit interval of fsync: interval"},
    {"retention", SL_CFG_DURATION, "7d", 0, offsetof(sl_topic_opts_t, retention_ms), NULL,
     "delete segments older than this (0 = keep forever); never what a consumer group has not committed "
     "unless on_full is drop_oldest"},
    {"retention_bytes", SL_CFG_SIZE, "0", 0, offsetof(sl_topic_opts_t, retention_bytes), NULL,
     "delete the oldest segments while a partition is larger (0 = no limit); never what a consumer group "
     "has not committed unless on_full is drop_oldest"},
    {"on_full", SL_CFG_ENUM, "pause", 0, offsetof(sl_topic_opts_t, on_full), "pause|drop_oldest",
     "over retention_bytes with only uncommitted records left to delete: pause the topic's sources until "
     "its consumer groups commit (ingest answers 503), or delete the oldest records anyway, counting and "
     "logging each (topics no group reads keep plain log-style retention)"},
    {"segment_bytes", SL_CFG_SIZE, "64MiB", 0, offsetof(sl_topic_opts_t, segment_bytes), NULL,
     "roll to a new segment file past this size"},
    SL_CONFIG_END};

static void load_topics(sl_pipeline_t *p, const sl_cnode_t *n, size_t *cap, sl_diags_t *d) {
    if (!want_kind(d, n, SL_CNODE_MAP, "'topics'")) return;
    for (size_t i = 0; i < n->n; i++) {
        const sl_cnode_t *k = n->pairs[i].key, *v = n->pairs[i].val;
        if (!valid_topic_name(k->str)) {
            diag_at(d, k, "invalid topic name '%s' (no '/', control characters, '.' or '..')", k->str);
            continue;
        }
        sl_topic_cfg_t *t = topic_ref(p, k->str, cap);
        t->node = v;
        char what[300];
        snprintf(what, sizeof what, "topic '%s'", k->str);
        if (v->kind == SL_CNODE_SCALAR && v->len == 0) continue;
        if (!want_kind(d, v, SL_CNODE_MAP, what)) continue;
        sl_config_apply(topic_map, v, &t->opts, what, &p->arena, d);
        if (t->opts.partitions < 1 || t->opts.partitions > 1024)
            diag_at(d, sl_cnode_get(v, "partitions"), "'partitions' of %s must be 1..1024", what);
    }
}

static void load_source(sl_pipeline_t *p, sl_source_cfg_t *s, const sl_cnode_t *k,
                        const sl_cnode_t *v, size_t *tcap, sl_diags_t *d) {
    char what[300];
    snprintf(what, sizeof what, "source '%s'", k->str);
    s->name = sl_arena_strndup(&p->arena, k->str, k->len);
    s->node = v;
    s->inst.name = s->name;
    if (!want_kind(d, v, SL_CNODE_MAP, what)) return;
    if (sl_cnode_get(v, "preset")) {
        /* a preset is data: expand it, then load the result as if written here */
        const sl_cnode_t *expanded = sl_preset_expand(&p->arena, v, d);
        if (!expanded) return;
        v = expanded;
        s->node = v;
    }
    const sl_cnode_t *plug_key = NULL, *plug_val = NULL;
    const char **names = plugin_name_list(p, 0);
    for (size_t i = 0; i < v->n; i++) {
        const sl_cnode_t *kk = v->pairs[i].key, *vv = v->pairs[i].val;
        if (in_list(kk->str, source_keys)) {
            if (strcmp(kk->str, "to") == 0) {
                if (vv->kind != SL_CNODE_SCALAR || !valid_topic_name(vv->str))
                    diag_at(d, vv, "'to' of %s must be a topic name", what);
                else {
                    s->to = sl_arena_strndup(&p->arena, vv->str, vv->len);
                    topic_ref(p, s->to, tcap);
                }
            } else if (strcmp(kk->str, "key") == 0) {
                s->key = sl_expr_compile_node(vv, d);
            } else if (strcmp(kk->str, "ts") == 0) {
                s->ts = sl_expr_compile_node(vv, d);
            } else if (strcmp(kk->str, "every") == 0 || strcmp(kk->str, "run_for") == 0) {
                int64_t ms = 0;
                if (vv->kind != SL_CNODE_SCALAR || !sl_parse_duration(vv->str, &ms) || ms <= 0)
                    diag_at(d, vv, "invalid duration '%s' for '%s' (use e.g. 250ms, 5s, 10m, 2h, 7d)",
                            vv->kind == SL_CNODE_SCALAR ? vv->str : "", kk->str);
                if (kk->str[0] == 'e') s->every_ms = ms;
                else s->run_for_ms = ms;
            }
            /* cron, records, params: read by the plugin that needs them */
            continue;
        }
        bool is_plugin = false;
        for (size_t j = 0; names[j]; j++)
            if (strcmp(names[j], kk->str) == 0) is_plugin = true;
        static const char *const later[] = {"ingest", NULL};
        if (!is_plugin && in_list(kk->str, later)) {
            diag_at(d, kk, "source type '%s' of %s is not available in this build (available: %s)",
                    kk->str, what, plugin_names(p, 0));
            plug_key = kk;  /* do not also report "needs a type" */
            continue;
        }
        if (!is_plugin) {
            const char *all[64];
            size_t na = 0;
            for (size_t j = 0; source_keys[j]; j++) all[na++] = source_keys[j];
            for (size_t j = 0; names[j] && na < 63; j++) all[na++] = names[j];
            all[na] = NULL;
            unknown_key(d, kk, what, all);
            continue;
        }
        if (plug_key) {
            diag_at(d, kk, "%s has two types: '%s' and '%s'", what, plug_key->str, kk->str);
            continue;
        }
        plug_key = kk;
        plug_val = vv;
    }
    if (!s->to) diag_at(d, v, "%s: missing required key 'to'", what);
    if (!plug_key) {
        diag_at(d, v, "%s needs a type: one of %s", what, plugin_names(p, 0));
        return;
    }
    if (!plug_val) return;
    const sl_source_plugin_t *plug = sl_source_plugin_find(plug_key->str);
    s->inst.plugin = plug;
    s->inst.conf = plugin_conf(p, plug->config, plug->config_size, plug->shorthand, plug_val,
                               what, d);
    if (plug->init) {
        sl_init_ctx_t ctx;
        init_ctx(p, &ctx, sl_arena_strndup(&p->arena, what, strlen(what)), plug_val, d);
        ctx.node = v;
        plug->init(&s->inst, &ctx);
    }
}

static void load_step(sl_pipeline_t *p, sl_job_cfg_t *j, sl_step_t *st, const sl_cnode_t *n,
                      sl_diags_t *d) {
    char what[300];
    if (n->kind != SL_CNODE_MAP || n->n != 1) {
        if (n->kind == SL_CNODE_MAP && n->n > 1)
            diag_at(d, n, "a step of job '%s' must be a mapping with one key (the step's name), got %zu keys: "
                    "'%s', '%s'%s; write each step as its own list item", j->name, n->n, n->pairs[0].key->str,
                    n->pairs[1].key->str, n->n > 2 ? ", ..." : "");
        else
            diag_at(d, n, "a step of job '%s' must be a mapping with one key (the step's name, e.g. set, where)",
                    j->name);
        return;
    }
    const sl_cnode_t *k = n->pairs[0].key;
    const sl_step_plugin_t *plug = sl_step_plugin_find(k->str);
    if (!plug) {
        const char *near = sl_did_you_mean(k->str, plugin_name_list(p, 1));
        if (near)
            diag_at(d, k, "unknown step '%s' in job '%s' (did you mean '%s'?)", k->str, j->name, near);
        else
            diag_at(d, k, "unknown step '%s' in job '%s' (steps: %s)", k->str, j->name,
                    plugin_names(p, 1));
        return;
    }
    snprintf(what, sizeof what, "step '%s' of job '%s'", k->str, j->name);
    st->plugin = plug;
    st->name = plug->name;
    st->node = n->pairs[0].val;
    sl_init_ctx_t ctx;
    init_ctx(p, &ctx, sl_arena_strndup(&p->arena, what, strlen(what)), st->node, d);
    if (plug->compile) plug->compile(st, &ctx);
}

static void load_sink(sl_pipeline_t *p, sl_job_cfg_t *j, sl_sink_t *sk, const sl_cnode_t *n,
                      size_t *tcap, sl_diags_t *d) {
    if (n->kind != SL_CNODE_MAP || n->n != 1) {
        diag_at(d, n, "a sink of job '%s' must be a mapping with one key (the sink's type, e.g. sqlite, file)",
                j->name);
        return;
    }
    const sl_cnode_t *k = n->pairs[0].key, *v = n->pairs[0].val;
    const sl_sink_plugin_t *plug = sl_sink_plugin_find(k->str);
    if (!plug) {
        static const char *const later[] = {"http",
                                            "email", "webhook", NULL};
        if (in_list(k->str, later)) {
            diag_at(d, k, "sink type '%s' of job '%s' is not available in this build (available: %s)",
                    k->str, j->name, plugin_names(p, 2));
            return;
        }
        const char *near = sl_did_you_mean(k->str, plugin_name_list(p, 2));
        if (near)
            diag_at(d, k, "unknown sink '%s' in job '%s' (did you mean '%s'?)", k->str, j->name, near);
        else
            diag_at(d, k, "unknown sink '%s' in job '%s' (sinks: %s)", k->str, j->name,
                    plugin_names(p, 2));
        return;
    }
    char what[300];
    snprintf(what, sizeof what, "sink '%s' of job '%s'", k->str, j->name);
    sk->plugin = plug;
    sk->job = j->name;
    sk->conf = plugin_conf(p, plug->config, plug->config_size, plug->shorthand, v, what, d);
    if (plug->init) {
        sl_init_ctx_t ctx;
        init_ctx(p, &ctx, sl_arena_strndup(&p->arena, what, strlen(what)), v, d);
        plug->init(sk, &ctx);
    }
    if (strcmp(plug->name, "topic") == 0) {
        const char *const *name = (const char *const *)sk->conf;  /* first field: name */
        if (*name && valid_topic_name(*name)) topic_ref(p, *name, tcap);
    }
}

static void load_job(sl_pipeline_t *p, sl_job_cfg_t *j, const sl_cnode_t *k, const sl_cnode_t *v,
                     size_t *tcap, sl_diags_t *d) {
    char what[300];
    snprintf(what, sizeof what, "job '%s'", k->str);
    j->name = sl_arena_strndup(&p->arena, k->str, k->len);
    j->node = v;
    j->max_batch = 5000;
    j->max_batch_bytes = 4 << 20;
    j->dlq = sl_arena_sprintf(&p->arena, "%s.dlq", j->name);
    if (!want_kind(d, v, SL_CNODE_MAP, what)) return;
    const sl_cnode_t *from = NULL, *steps = NULL, *to = NULL;
    for (size_t i = 0; i < v->n; i++) {
        const sl_cnode_t *kk = v->pairs[i].key, *vv = v->pairs[i].val;
        if (!in_list(kk->str, job_keys)) {
            unknown_key(d, kk, what, job_keys);
            continue;
        }
        if (strcmp(kk->str, "from") == 0) from = vv;
        else if (strcmp(kk->str, "steps") == 0) steps = vv;
        else if (strcmp(kk->str, "to") == 0) to = vv;
        else {
            int64_t x = 0;
            bool ok = vv->kind == SL_CNODE_SCALAR &&
                      (kk->str[9] == 0 ? (x = strtoll(vv->str, NULL, 10)) > 0
                                       : sl_parse_size(vv->str, &x) && x > 0);
            if (!ok) diag_at(d, vv, "'%s' of %s must be a positive %s", kk->str, what,
                             kk->str[9] == 0 ? "integer" : "size");
            else if (kk->str[9] == 0) j->max_batch = x;
            else j->max_batch_bytes = x;
        }
    }
    if (!from) diag_at(d, v, "%s: missing required key 'from'", what);
    else if (from->kind == SL_CNODE_SCALAR || from->kind == SL_CNODE_SEQ) {
        size_t n = from->kind == SL_CNODE_SCALAR ? 1 : from->n;
        j->from = sl_arena_calloc(&p->arena, (n ? n : 1) * sizeof *j->from);
        for (size_t i = 0; i < n; i++) {
            const sl_cnode_t *f = from->kind == SL_CNODE_SCALAR ? from : from->items[i];
            if (f->kind != SL_CNODE_SCALAR || !valid_topic_name(f->str)) {
                diag_at(d, f, "'from' of %s must name topics", what);
                continue;
            }
            j->from[j->nfrom++] = sl_arena_strndup(&p->arena, f->str, f->len);
            topic_ref(p, f->str, tcap);
        }
    } else diag_at(d, from, "'from' of %s must be a topic name or a list of them", what);
    if (steps && want_kind(d, steps, SL_CNODE_SEQ, "'steps'")) {
        j->steps = sl_arena_calloc(&p->arena, (steps->n ? steps->n : 1) * sizeof *j->steps);
        for (size_t i = 0; i < steps->n; i++) {
            j->steps[j->nsteps].index = (int)j->nsteps;
            load_step(p, j, &j->steps[j->nsteps], steps->items[i], d);
            if (j->steps[j->nsteps].plugin) j->nsteps++;
        }
    }
    if (!to) diag_at(d, v, "%s: missing required key 'to' (a list of sinks)", what);
    else if (to->kind == SL_CNODE_SEQ && to->n > 16) {
        /* the runner tracks what each transactional sink holds for at most 16 sinks */
        diag_at(d, to, "%s writes to %zu sinks; a job has at most 16 (split it, or fan out through a topic)",
                what, to->n);
    } else if (want_kind(d, to, SL_CNODE_SEQ, "'to' of a job")) {
        j->sinks = sl_arena_calloc(&p->arena, (to->n ? to->n : 1) * sizeof *j->sinks);
        for (size_t i = 0; i < to->n; i++) {
            j->sinks[j->nsinks].index = (int)j->nsinks;
            load_sink(p, j, &j->sinks[j->nsinks], to->items[i], tcap, d);
            if (j->sinks[j->nsinks].plugin) j->nsinks++;
        }
    }
    topic_ref(p, j->dlq, tcap);
}

/* ---------------------------------------------------------------- load */

/* A new sequence node holding a's items then b's (for merging files). */
static sl_cnode_t *concat_seq(sl_pipeline_t *p, const sl_cnode_t *a, const sl_cnode_t *b) {
    sl_cnode_t *n = sl_arena_calloc(&p->arena, sizeof *n);
    *n = *a;
    n->items = sl_arena_alloc(&p->arena, (a->n + b->n + 1) * sizeof *n->items);
    memcpy(n->items, a->items, a->n * sizeof *n->items);
    memcpy(n->items + a->n, b->items, b->n * sizeof *n->items);
    n->n = a->n + b->n;
    return n;
}

/* A new mapping holding a's pairs then b's. */
static sl_cnode_t *concat_map(sl_pipeline_t *p, const sl_cnode_t *a, const sl_cnode_t *b) {
    sl_cnode_t *n = sl_arena_calloc(&p->arena, sizeof *n);
    *n = *a;
    n->pairs = sl_arena_alloc(&p->arena, (a->n + b->n + 1) * sizeof *n->pairs);
    memcpy(n->pairs, a->pairs, a->n * sizeof *n->pairs);
    memcpy(n->pairs + a->n, b->pairs, b->n * sizeof *n->pairs);
    n->n = a->n + b->n;
    return n;
}

/* Merge section `v` of a later file into *slot (first file's wins for scalars). */
static void merge_section(sl_pipeline_t *p, const sl_cnode_t **slot, const sl_cnode_t *v, const char *what,
                          sl_diags_t *d) {
    if (!*slot) {
        *slot = v;
        return;
    }
    if ((*slot)->kind != v->kind) {
        diag_at(d, v, "'%s' has a different shape here than in %s", what, (*slot)->file);
        return;
    }
    if (v->kind == SL_CNODE_SEQ) *slot = concat_seq(p, *slot, v);
    else if (v->kind == SL_CNODE_MAP && strcmp(what, "dashboard") == 0) {
        /* dashboards: keep the first title, join the panels */
        const sl_cnode_t *pa = sl_cnode_get(*slot, "panels"), *pb = sl_cnode_get(v, "panels");
        if (pa && pb && pa->kind == SL_CNODE_SEQ && pb->kind == SL_CNODE_SEQ) {
            sl_cnode_t *m = sl_arena_calloc(&p->arena, sizeof *m);
            *m = **slot;
            m->pairs = sl_arena_alloc(&p->arena, m->n * sizeof *m->pairs);
            memcpy(m->pairs, (*slot)->pairs, m->n * sizeof *m->pairs);
            for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->pairs[i].key->str, "panels") == 0) m->pairs[i].val = concat_seq(p, pa, pb);
            *slot = m;
        } else if (pb) {
            *slot = v;
        }
    } else if (v->kind == SL_CNODE_MAP) *slot = concat_map(p, *slot, v);
}

int sl_pipeline_load_files(const char *const *paths, size_t nfiles, sl_pipeline_t **out, sl_diags_t *d) {
    *out = NULL;
    size_t before = d->n;
    sl_pipeline_t *p = calloc(1, sizeof *p);
    if (!p) return SL_NOMEM;
    sl_arena_init(&p->arena, 16384);
    p->file = nfiles == 1 ? sl_arena_strndup(&p->arena, paths[0], strlen(paths[0]))
                          : sl_arena_sprintf(&p->arena, "%s (+%zu more)", paths[0], nfiles - 1);
    p->data_dir = "./sluice-data";
    p->vars = sl_object_new(&p->arena, 0);
    p->confs = calloc(nfiles ? nfiles : 1, sizeof *p->confs);
    const sl_cnode_t *sources = NULL, *jobs = NULL, *data_dir = NULL;
    size_t tcap = 0;
    for (size_t f = 0; f < nfiles; f++) {
        size_t fbefore = d->n;
        int rc = sl_conf_load(&p->confs[f], paths[f], d);
        p->nconfs = f + 1;
        if (rc != 0 || !p->confs[f].root) {
            if (d->n == fbefore)
                sl_diags_add(d, paths[f], 1, 1, "the file is empty (expected a mapping with sources, jobs, ...)");
            continue;
        }
        const sl_cnode_t *root = p->confs[f].root;
        if (root->kind != SL_CNODE_MAP) {
            diag_at(d, root, "the top of a pipeline file must be a mapping, got a %s", sl_cnode_kind_name(root->kind));
            continue;
        }
        for (size_t i = 0; i < root->n; i++) {
            const sl_cnode_t *k = root->pairs[i].key, *v = root->pairs[i].val;
            if (!in_list(k->str, top_keys)) {
                unknown_key(d, k, "the pipeline", top_keys);
                continue;
            }
            if (strcmp(k->str, "data_dir") == 0) {
                if (v->kind != SL_CNODE_SCALAR || v->len == 0) diag_at(d, v, "'data_dir' must be a path");
                else if (!data_dir) {
                    data_dir = v;
                    p->data_dir = sl_arena_strndup(&p->arena, v->str, v->len);
                } else if (strcmp(data_dir->str, v->str) != 0)
                    diag_at(d, v, "data_dir '%s' differs from '%s' set in %s:%d; files run together share one",
                            v->str, data_dir->str, data_dir->file, data_dir->line);
            } else if (strcmp(k->str, "vars") == 0) {
                if (want_kind(d, v, SL_CNODE_MAP, "'vars'")) {
                    sl_value_t more = sl_cnode_to_value(&p->arena, v);
                    for (size_t m = 0; m < more.len; m++)
                        sl_value_set(&p->arena, &p->vars, more.u.o[m].key, more.u.o[m].key_len, more.u.o[m].val);
                }
            } else if (strcmp(k->str, "topics") == 0) load_topics(p, v, &tcap, d);
            else if (strcmp(k->str, "sources") == 0) {
                if (want_kind(d, v, SL_CNODE_MAP, "'sources'")) merge_section(p, &sources, v, "sources", d);
            } else if (strcmp(k->str, "jobs") == 0) {
                if (want_kind(d, v, SL_CNODE_MAP, "'jobs'")) merge_section(p, &jobs, v, "jobs", d);
            } else if (strcmp(k->str, "serve") == 0) {
                if (!p->serve) {
                    p->serve = v;
                    sl_serve_conf_t sc;
                    sl_serve_conf_parse(v, &p->arena, &sc, d);
                }
            } else if (strcmp(k->str, "dashboard") == 0) merge_section(p, &p->dashboard, v, "dashboard", d);
            else if (strcmp(k->str, "alerts") == 0) merge_section(p, &p->alerts, v, "alerts", d);
            else if (strcmp(k->str, "tests") == 0) merge_section(p, &p->tests, v, "tests", d);
            else if (strcmp(k->str, "transport") == 0) {
                if (!p->transport) p->transport = v;
            }
        }
    }
    if (p->dashboard) sl_dashboard_check(p->dashboard, d);
    if (p->transport && !sl_cnode_is_null(p->transport)) {
        p->kafka = sl_arena_calloc(&p->arena, sizeof *p->kafka);
        sl_kt_conf_parse(p->transport, p->transport->file, &p->arena, p->kafka, d);
    }
    if (sources) {
        p->sources = sl_arena_calloc(&p->arena, (sources->n ? sources->n : 1) * sizeof *p->sources);
        for (size_t i = 0; i < sources->n; i++) {
            const sl_cnode_t *k = sources->pairs[i].key;
            bool dup = false;
            for (size_t j = 0; j < i; j++)
                if (strcmp(sources->pairs[j].key->str, k->str) == 0) dup = true;
            if (dup) {
                diag_at(d, k, "source '%s' is defined twice", k->str);
                continue;
            }
            load_source(p, &p->sources[p->nsources++], k, sources->pairs[i].val, &tcap, d);
        }
    }
    if (jobs) {
        p->jobs = sl_arena_calloc(&p->arena, (jobs->n ? jobs->n : 1) * sizeof *p->jobs);
        for (size_t i = 0; i < jobs->n; i++) {
            const sl_cnode_t *k = jobs->pairs[i].key;
            bool dup = false;
            for (size_t j = 0; j < i; j++)
                if (strcmp(jobs->pairs[j].key->str, k->str) == 0) dup = true;
            if (dup) {
                diag_at(d, k, "job '%s' is defined twice", k->str);
                continue;
            }
            load_job(p, &p->jobs[p->njobs++], k, jobs->pairs[i].val, &tcap, d);
        }
    }
    /* alerts become jobs "alert.<name>" (src/alerts.c), after the jobs they may not clash with */
    if (p->alerts) sl_alerts_load(p, p->alerts, &tcap, d);
    /* names must be unique across sources and jobs: both name writers and groups */
    for (size_t i = 0; i < p->njobs; i++)
        for (size_t k = 0; k < p->nsources; k++)
            if (p->jobs[i].name && p->sources[k].name && strcmp(p->jobs[i].name, p->sources[k].name) == 0)
                diag_at(d, p->jobs[i].node, "job '%s' has the name of a source; names must be unique",
                        p->jobs[i].name);
    if (d->n > before) {
        sl_pipeline_free(p);
        return SL_CONFIG;
    }
    *out = p;
    return 0;
}

/* ---------------------------------------------------------------- for alerts.c */

void sl_pipeline_load_step(sl_pipeline_t *p, sl_job_cfg_t *j, sl_step_t *st, const sl_cnode_t *n, sl_diags_t *d) {
    load_step(p, j, st, n, d);
}

void sl_pipeline_load_sink(sl_pipeline_t *p, sl_job_cfg_t *j, sl_sink_t *sk, const sl_cnode_t *n, size_t *tcap,
                           sl_diags_t *d) {
    load_sink(p, j, sk, n, tcap, d);
}

sl_topic_cfg_t *sl_pipeline_topic_ref(sl_pipeline_t *p, const char *name, size_t *tcap) {
    return topic_ref(p, name, tcap);
}

bool sl_pipeline_valid_topic_name(const char *name) { return valid_topic_name(name); }

int sl_pipeline_load(const char *path, sl_pipeline_t **out, sl_diags_t *d) {
    return sl_pipeline_load_files(&path, 1, out, d);
}

static void free_plugins(sl_pipeline_t *p) {
    for (size_t i = 0; i < p->nsources; i++) {
        if (p->sources[i].inst.plugin && p->sources[i].inst.plugin->free)
            p->sources[i].inst.plugin->free(&p->sources[i].inst);
        sl_expr_free(p->sources[i].key);
        sl_expr_free(p->sources[i].ts);
    }
    for (size_t i = 0; i < p->njobs; i++) {
        for (size_t k = 0; k < p->jobs[i].nsteps; k++)
            if (p->jobs[i].steps[k].plugin && p->jobs[i].steps[k].plugin->free)
                p->jobs[i].steps[k].plugin->free(&p->jobs[i].steps[k]);
        for (size_t k = 0; k < p->jobs[i].nsinks; k++)
            if (p->jobs[i].sinks[k].plugin && p->jobs[i].sinks[k].plugin->free)
                p->jobs[i].sinks[k].plugin->free(&p->jobs[i].sinks[k]);
    }
}

void sl_pipeline_free(sl_pipeline_t *p) {
    if (!p) return;
    free_plugins(p);
    /* sinks and sources own nothing beyond the arena until opened (runner closes) */
    free(p->topics);
    for (size_t i = 0; i < p->nconfs; i++) sl_conf_free(&p->confs[i]);
    free(p->confs);
    sl_arena_free(&p->arena);
    free(p);
}

const sl_topic_cfg_t *sl_pipeline_topic(const sl_pipeline_t *p, const char *name) {
    for (size_t i = 0; i < p->ntopics; i++)
        if (strcmp(p->topics[i].name, name) == 0) return &p->topics[i];
    return NULL;
}

const sl_job_cfg_t *sl_pipeline_job(const sl_pipeline_t *p, const char *name) {
    for (size_t i = 0; i < p->njobs; i++)
        if (strcmp(p->jobs[i].name, name) == 0) return &p->jobs[i];
    return NULL;
}

const sl_source_cfg_t *sl_pipeline_source(const sl_pipeline_t *p, const char *name) {
    for (size_t i = 0; i < p->nsources; i++)
        if (strcmp(p->sources[i].name, name) == 0) return &p->sources[i];
    return NULL;
}

void sl_pipeline_doc(FILE *out) {
    fputs("# sluice configuration reference\n\n"
          "Generated by `sluice docs config` from the config tables in the code; do not edit.\n"
          "The shape of a pipeline file is described in the README and ../shared/DESIGN.md §4.\n\n",
          out);
    fputs("## serve\n\nThe embedded HTTP server: dashboard, query API, live tail, /metrics, /health, /ready "
          "and ingest endpoints.\n\n", out);
    sl_config_map_doc(sl_serve_config_map, out);
    fputs("\n", out);
    fputs("## transport.kafka\n\nWith `transport: {kafka: {...}}` every topic of the pipeline is a Kafka topic; "
          "several processes running the same file share the jobs' partitions (consumer group `sluice.<job>`) "
          "and exactly one of them polls the sources (the lease: group `sluice.<name>.lease` on the "
          "single-partition topic `sluice.<name>.coord`, which also holds the sources' cursors). "
          "See docs/SCALING.md.\n\n", out);
    sl_config_map_doc(sl_kt_config_map, out);
    fputs("\n", out);
    fputs("## topics.NAME\n\n", out);
    sl_config_map_doc(topic_map, out);
    fputs("\n## Sources\n\nEvery source has `to` (topic, required), `key` and `ts` (expressions "
          "giving the record's key and event time in ms), and `every` / `run_for` (durations) "
          "where it polls; one more key names its type:\n\n", out);
    for (size_t i = 0; sl_source_plugins[i]; i++) {
        const sl_source_plugin_t *s = sl_source_plugins[i];
        fprintf(out, "### source `%s`\n\n%s\n\n", s->name, s->description);
        if (s->config) sl_config_map_doc(s->config, out);
        fputs("\n", out);
    }
    fputs("## Steps\n\n", out);
    for (size_t i = 0; sl_step_plugins[i]; i++)
        fprintf(out, "### step `%s`\n\n%s\n\n", sl_step_plugins[i]->name, sl_step_plugins[i]->description);
    fputs("## Sinks\n\nA job's `to:` is a list of sinks; each item is a mapping with one key, "
          "the sink type.\n\n", out);
    for (size_t i = 0; sl_sink_plugins[i]; i++) {
        const sl_sink_plugin_t *s = sl_sink_plugins[i];
        fprintf(out, "### sink `%s`\n\n%s%s\n\n", s->name, s->description,
                s->transactional ? " Transactional: stores the job's offsets with the rows (exactly-once)." : "");
        if (s->config) sl_config_map_doc(s->config, out);
        fputs("\n", out);
    }
}
