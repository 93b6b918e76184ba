/* diag.c - the list of configuration problems, printed sorted as FILE:LINE:COL: error: MSG. */
#include "sluice/config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void diag_oom(void) {
    fputs("sluice: out of memory\n", stderr);
    abort();
}

static char *diag_strdup(const char *s) {
    size_t len = strlen(s);
    char *p = malloc(len + 1);
    if (!p) diag_oom();
    memcpy(p, s, len + 1);
    return p;
}

void sl_diags_free(sl_diags_t *diags) {
    for (size_t i = 0; i < diags->n; i++) {
        free(diags->items[i].file);
        free(diags->items[i].msg);
    }
    free(diags->items);
    diags->items = NULL;
    diags->n = diags->cap = 0;
}

void sl_diags_add(sl_diags_t *diags, const char *file, int line, int col, const char *fmt, ...) {
    if (diags->n == diags->cap) {
        size_t cap = diags->cap ? diags->cap * 2 : 16;
        sl_diag_t *items = realloc(diags->items, cap * sizeof *items);
        if (!items) diag_oom();
        diags->items = items;
        diags->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    char *msg = malloc((size_t)n + 1);
    if (!msg) diag_oom();
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    va_end(ap);

    sl_diag_t *d = &diags->items[diags->n++];
    d->file = file ? diag_strdup(file) : NULL;
    d->line = line > 0 ? line : 0;
    d->col = col > 0 ? col : 0;
    d->msg = msg;
}

/* qsort is not stable, so the original index breaks ties: problems at one position
 * keep the order in which they were found. */
typedef struct { sl_diag_t d; size_t idx; } diag_slot_t;

static int diag_cmp(const void *a, const void *b) {
    const diag_slot_t *x = a, *y = b;
    if (!x->d.file != !y->d.file) return x->d.file ? 1 : -1;   /* no file first */
    if (x->d.file) {
        int c = strcmp(x->d.file, y->d.file);
        if (c) return c;
    }
    if (x->d.line != y->d.line) return x->d.line < y->d.line ? -1 : 1;
    if (x->d.col != y->d.col) return x->d.col < y->d.col ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static bool diag_same_pos(const sl_diag_t *a, const sl_diag_t *b) {
    if (!a->file != !b->file) return false;
    /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): a->file non-NULL implies b->file non-NULL (the line above) */
    if (a->file && strcmp(a->file, b->file) != 0) return false;
    return a->line == b->line && a->col == b->col;
}

void sl_diags_print(sl_diags_t *diags, FILE *out) {
    if (diags->n == 0) return;
    diag_slot_t *slots = malloc(diags->n * sizeof *slots);
    if (!slots) diag_oom();
    for (size_t i = 0; i < diags->n; i++) {
        slots[i].d = diags->items[i];
        slots[i].idx = i;
    }
    qsort(slots, diags->n, sizeof *slots, diag_cmp);
    for (size_t i = 0; i < diags->n; i++) diags->items[i] = slots[i].d;
    free(slots);

    size_t run = 0;   /* first item at the current position */
    for (size_t i = 0; i < diags->n; i++) {
        const sl_diag_t *d = &diags->items[i];
        if (i == 0 || !diag_same_pos(&diags->items[run], d)) run = i;
        /* The same problem can be found twice (a node shared through an alias is
         * checked once per use); print it once. */
        bool dup = false;
        for (size_t j = run; j < i && !dup; j++) dup = strcmp(diags->items[j].msg, d->msg) == 0;
        if (dup) continue;
        if (d->file && d->line > 0 && d->col > 0)
            fprintf(out, "%s:%d:%d: error: %s\n", d->file, d->line, d->col, d->msg);
        else if (d->file && d->line > 0)
            fprintf(out, "%s:%d: error: %s\n", d->file, d->line, d->msg);
        else if (d->file)
            fprintf(out, "%s: error: %s\n", d->file, d->msg);
        else
            fprintf(out, "error: %s\n", d->msg);
    }
}
