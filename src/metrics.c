/* metrics.c - counters, gauges and histograms with Prometheus text exposition (see
 * metrics.h).  Series live in one list guarded by a mutex for registration and
 * exposition; values are C11 atomics. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M_COUNTER, M_GAUGE, M_HISTOGRAM };

static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

struct sl_metric {
    struct sl_metric *next;
    int kind;
    char *name, *help, *labels;
    _Atomic uint64_t bits;              /* counter/gauge: the double's bits */
    _Atomic uint64_t counts[NBUCKETS + 1]; /* histogram: per bucket (+Inf last) */
    _Atomic uint64_t sum_bits;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sl_metric_t *head, **tail = &head;

static double from_bits(uint64_t b) { double d; memcpy(&d, &b, 8); return d; }
static uint64_t to_bits(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }

static sl_metric_t *get(int kind, const char *name, const char *help, const char *labels) {
    pthread_mutex_lock(&lock);
    sl_metric_t *m;
    for (m = head; m; m = m->next)
        if (strcmp(m->name, name) == 0 && strcmp(m->labels, labels ? labels : "") == 0) break;
    if (!m) {
        m = calloc(1, sizeof *m);
        if (!m) abort();
        m->kind = kind;
        m->name = strdup(name);
        m->help = strdup(help ? help : "");
        m->labels = strdup(labels ? labels : "");
        *tail = m;
        tail = &m->next;
    }
    pthread_mutex_unlock(&lock);
    return m;
}

sl_metric_t *sl_metric_counter(const char *n, const char *h, const char *l) { return get(M_COUNTER, n, h, l); }
sl_metric_t *sl_metric_gauge(const char *n, const char *h, const char *l) { return get(M_GAUGE, n, h, l); }
sl_metric_t *sl_metric_histogram(const char *n, const char *h, const char *l) { return get(M_HISTOGRAM, n, h, l); }

static void atomic_add_double(_Atomic uint64_t *p, double v) {
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed), nw;
    do nw = to_bits(from_bits(old) + v);
    while (!atomic_compare_exchange_weak_explicit(p, &old, nw, memory_order_relaxed, memory_order_relaxed));
}

void sl_metric_add(sl_metric_t *m, double v) { atomic_add_double(&m->bits, v); }
void sl_metric_set(sl_metric_t *m, double v) { atomic_store_explicit(&m->bits, to_bits(v), memory_order_relaxed); }

void sl_metric_observe(sl_metric_t *m, double v) {
    size_t i = 0;
    while (i < NBUCKETS && v > buckets[i]) i++;
    atomic_fetch_add_explicit(&m->counts[i], 1, memory_order_relaxed);
    atomic_add_double(&m->sum_bits, v);
}

double sl_metric_value(const sl_metric_t *m) {
    if (m->kind != M_HISTOGRAM) return from_bits(atomic_load(&((sl_metric_t *)m)->bits));
    uint64_t n = 0;
    for (size_t i = 0; i <= NBUCKETS; i++) n += atomic_load(&((sl_metric_t *)m)->counts[i]);
    return (double)n;
}

double sl_metric_sum(const sl_metric_t *m) {
    return from_bits(atomic_load(&((sl_metric_t *)m)->sum_bits));
}

void sl_metrics_label(sl_buf_t *out, const char *key, const char *value) {
    if (out->len) sl_buf_putc(out, ',');
    sl_buf_printf(out, "%s=\"", key);
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\') sl_buf_puts(out, "\\\\");
        else if (*p == '"') sl_buf_puts(out, "\\\"");
        else if (*p == '\n') sl_buf_puts(out, "\\n");
        else sl_buf_putc(out, *p);
    }
    sl_buf_putc(out, '"');
}

static void write_num(sl_buf_t *out, double v) {
    if (isnan(v)) sl_buf_puts(out, "NaN");
    else if (isinf(v)) sl_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15) sl_buf_printf(out, "%.0f", v);
    else sl_buf_printf(out, "%.17g", v);
}

static void series(sl_buf_t *out, const char *name, const char *suffix, const char *labels, const char *extra) {
    sl_buf_printf(out, "%s%s", name, suffix);
    if (*labels || extra) {
        sl_buf_putc(out, '{');
        sl_buf_puts(out, labels);
        if (extra) sl_buf_printf(out, "%s%s", *labels ? "," : "", extra);
        sl_buf_putc(out, '}');
    }
    sl_buf_putc(out, ' ');
}

static void write_one(sl_buf_t *out, sl_metric_t *m) {
    if (m->kind != M_HISTOGRAM) {
        series(out, m->name, "", m->labels, NULL);
        write_num(out, from_bits(atomic_load(&m->bits)));
        sl_buf_putc(out, '\n');
        return;
    }
    uint64_t cum = 0;
    char le[64];
    for (size_t i = 0; i <= NBUCKETS; i++) {
        cum += atomic_load(&m->counts[i]);
        if (i < NBUCKETS) snprintf(le, sizeof le, "le=\"%g\"", buckets[i]);
        else snprintf(le, sizeof le, "le=\"+Inf\"");
        series(out, m->name, "_bucket", m->labels, le);
        sl_buf_printf(out, "%llu\n", (unsigned long long)cum);
    }
    series(out, m->name, "_sum", m->labels, NULL);
    write_num(out, from_bits(atomic_load(&m->sum_bits)));
    sl_buf_putc(out, '\n');
    series(out, m->name, "_count", m->labels, NULL);
    sl_buf_printf(out, "%llu\n", (unsigned long long)cum);
}

void sl_metrics_write(sl_buf_t *out) {
    static const char *const kinds[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&lock);
    for (sl_metric_t *m = head; m; m = m->next) {
        /* a family is written whole (HELP, TYPE, every series) at its first series */
        bool first = true;
        for (sl_metric_t *p = head; p != m && first; p = p->next)
            if (strcmp(p->name, m->name) == 0) first = false;
        if (!first) continue;
        sl_buf_printf(out, "# HELP %s ", m->name);
        for (const char *c = m->help; *c; c++) {
            if (*c == '\\') sl_buf_puts(out, "\\\\");
            else if (*c == '\n') sl_buf_puts(out, "\\n");
            else sl_buf_putc(out, *c);
        }
        sl_buf_printf(out, "\n# TYPE %s %s\n", m->name, kinds[m->kind]);
        for (sl_metric_t *p = m; p; p = p->next)
            if (strcmp(p->name, m->name) == 0) write_one(out, p);
    }
    pthread_mutex_unlock(&lock);
}

