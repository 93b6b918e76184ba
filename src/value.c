/* value.c - the JSON value model: lookup, copy-on-write update, equality, order, copy. */
#include "sluice/value.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Zero-length arrays and objects point here rather than at NULL, so that callers may
 * pass .a/.o to memcpy with a zero length without undefined behaviour.  With cap 0
 * nobody may write through them. */
static sl_value_t value_empty_items[1];
static sl_member_t value_empty_members[1];

const char *sl_type_name(sl_type_t type) {
    switch (type) {
    case SL_T_NULL: return "null";
    case SL_T_BOOL: return "bool";
    case SL_T_INT: return "int";
    case SL_T_DOUBLE: return "double";
    case SL_T_STRING: return "string";
    case SL_T_ARRAY: return "array";
    case SL_T_OBJECT: return "object";
    }
    return "unknown";
}

sl_value_t sl_str_dup(sl_arena_t *arena, const char *s, size_t len) {
    return sl_str(sl_arena_strndup(arena, s, len), len);
}

sl_value_t sl_array_new(sl_arena_t *arena, size_t cap) {
    sl_value_t v = {SL_T_ARRAY, 0, {.a = value_empty_items}};
    if (cap) v.u.a = sl_arena_alloc(arena, cap * sizeof(sl_value_t));
    return v;
}

sl_value_t sl_object_new(sl_arena_t *arena, size_t cap) {
    sl_value_t v = {SL_T_OBJECT, 0, {.o = value_empty_members}};
    if (cap) v.u.o = sl_arena_alloc(arena, cap * sizeof(sl_member_t));
    return v;
}

double sl_value_num(sl_value_t v) {
    if (v.type == SL_T_INT) return (double)v.u.i;
    if (v.type == SL_T_DOUBLE) return v.u.d;
    return 0;
}

static inline bool value_key_eq(const sl_member_t *m, const char *key, size_t key_len) {
    return m->key_len == key_len && memcmp(m->key, key, key_len) == 0;
}

const sl_value_t *sl_value_get(const sl_value_t *obj, const char *key, size_t key_len) {
    if (!obj || obj->type != SL_T_OBJECT) return NULL;
    /* From the end: the last of duplicate keys is the visible one. */
    for (uint32_t i = obj->len; i-- > 0;) {
        const sl_member_t *m = &obj->u.o[i];
        if (value_key_eq(m, key, key_len)) return &m->val;
    }
    return NULL;
}

const sl_value_t *sl_value_get_path(const sl_value_t *obj, const char *path) {
    const sl_value_t *cur = obj;
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        cur = sl_value_get(cur, p, n);
        if (!cur || !dot) return cur;
        p = dot + 1;
    }
}

void sl_value_set(sl_arena_t *arena, sl_value_t *obj, const char *key, size_t key_len,
                  sl_value_t val) {
    if (obj->type != SL_T_OBJECT) *obj = sl_object_new(arena, 0);
    uint32_t n = obj->len, dups = 0;
    const sl_member_t *old = obj->u.o;
    for (uint32_t i = 0; i < n; i++)
        if (value_key_eq(&old[i], key, key_len)) dups++;
    /* Copy-on-write: a fresh members array; earlier duplicates of the key are dropped
     * so keys are unique afterwards, and a replaced member keeps its position (the
     * last one's, which is the one sl_value_get saw). */
    uint32_t cap = dups ? n - dups + 1 : n + 1;
    sl_value_t nv = sl_object_new(arena, cap);
    sl_member_t *m = nv.u.o;
    uint32_t k = 0, seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (value_key_eq(&old[i], key, key_len)) {
            if (++seen < dups) continue;
            m[k] = old[i];
            m[k].val = val;
            k++;
            continue;
        }
        m[k++] = old[i];
    }
    if (!dups) {
        m[k].key = sl_arena_strndup(arena, key, key_len);
        m[k].key_len = (uint32_t)key_len;
        m[k].val = val;
        k++;
    }
    nv.len = k;
    *obj = nv;
}

void sl_value_set_path(sl_arena_t *arena, sl_value_t *obj, const char *path, sl_value_t val) {
    const char *dot = strchr(path, '.');
    if (!dot) {
        sl_value_set(arena, obj, path, strlen(path), val);
        return;
    }
    size_t n = (size_t)(dot - path);
    if (obj->type != SL_T_OBJECT) *obj = sl_object_new(arena, 0);
    const sl_value_t *cur = sl_value_get(obj, path, n);
    /* A copy of the child (16 bytes; its members stay shared) that the recursive set
     * replaces by a new one, so nothing shared is written through. */
    sl_value_t child = (cur && cur->type == SL_T_OBJECT) ? *cur : sl_object_new(arena, 0);
    sl_value_set_path(arena, &child, dot + 1, val);
    sl_value_set(arena, obj, path, n, child);
}

bool sl_value_del(sl_arena_t *arena, sl_value_t *obj, const char *key, size_t key_len) {
    if (obj->type != SL_T_OBJECT) return false;
    uint32_t n = obj->len, hits = 0;
    for (uint32_t i = 0; i < n; i++)
        if (value_key_eq(&obj->u.o[i], key, key_len)) hits++;
    if (!hits) return false;
    sl_value_t nv = sl_object_new(arena, n - hits);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!value_key_eq(&obj->u.o[i], key, key_len)) nv.u.o[k++] = obj->u.o[i];
    nv.len = k;
    *obj = nv;
    return true;
}

bool sl_value_del_path(sl_arena_t *arena, sl_value_t *obj, const char *path) {
    const char *dot = strchr(path, '.');
    if (!dot) return sl_value_del(arena, obj, path, strlen(path));
    size_t n = (size_t)(dot - path);
    const sl_value_t *cur = sl_value_get(obj, path, n);
    if (!cur || cur->type != SL_T_OBJECT) return false;
    sl_value_t child = *cur;
    if (!sl_value_del_path(arena, &child, dot + 1)) return false;
    sl_value_set(arena, obj, path, n, child);
    return true;
}

/* Compare an int with a double exactly (no rounding of the int to double):
 * <0, 0, >0; NaN sorts after every number. */
static int value_cmp_int_double(int64_t i, double d) {
    if (isnan(d)) return -1;
    if (d >= 9223372036854775808.0) return -1;
    if (d < -9223372036854775808.0) return 1;
    double t = trunc(d);
    int64_t di = (int64_t)t;
    if (i != di) return i < di ? -1 : 1;
    /* Same integer part: the fraction decides. */
    if (d > t) return -1;
    if (d < t) return 1;
    return 0;
}

static int value_num_cmp(sl_value_t a, sl_value_t b) {
    if (a.type == SL_T_INT && b.type == SL_T_INT) return (a.u.i > b.u.i) - (a.u.i < b.u.i);
    if (a.type == SL_T_INT) return value_cmp_int_double(a.u.i, b.u.d);
    if (b.type == SL_T_INT) return -value_cmp_int_double(b.u.i, a.u.d);
    double x = a.u.d, y = b.u.d;
    if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
    return (x > y) - (x < y);
}

static bool value_obj_equal(sl_value_t a, sl_value_t b,
                            bool (*eq)(sl_value_t, sl_value_t)) {
    /* Fast path: same keys in the same order (the usual case for records of one
     * source) and every member equal.  A mismatch may still be a hidden duplicate
     * key, so it falls through to the general comparison rather than failing. */
    if (a.len == b.len) {
        uint32_t i = 0;
        for (; i < a.len; i++) {
            const sl_member_t *ma = &a.u.o[i], *mb = &b.u.o[i];
            if (ma->key_len != mb->key_len || memcmp(ma->key, mb->key, ma->key_len) != 0 ||
                !eq(ma->val, mb->val))
                break;
        }
        if (i == a.len) return true;
    }
    /* General case: the visible members (last of each key) must match both ways. */
    for (uint32_t i = 0; i < a.len; i++) {
        const sl_member_t *m = &a.u.o[i];
        const sl_value_t *vb = sl_value_get(&b, m->key, m->key_len);
        if (!vb) return false;
        if (sl_value_get(&a, m->key, m->key_len) != &m->val) continue;  /* hidden dup */
        if (!eq(m->val, *vb)) return false;
    }
    for (uint32_t i = 0; i < b.len; i++)
        if (!sl_value_get(&a, b.u.o[i].key, b.u.o[i].key_len)) return false;
    return true;
}

bool sl_value_equal(sl_value_t a, sl_value_t b) {
    if (sl_is_number(a) && sl_is_number(b)) {
        if (a.type == SL_T_DOUBLE && b.type == SL_T_DOUBLE) return a.u.d == b.u.d;
        return value_num_cmp(a, b) == 0;
    }
    if (a.type != b.type) return false;
    switch ((sl_type_t)a.type) {
    case SL_T_NULL: return true;
    case SL_T_BOOL: return a.u.b == b.u.b;
    case SL_T_STRING: return a.len == b.len && memcmp(a.u.s, b.u.s, a.len) == 0;
    case SL_T_ARRAY:
        if (a.len != b.len) return false;
        for (uint32_t i = 0; i < a.len; i++)
            if (!sl_value_equal(a.u.a[i], b.u.a[i])) return false;
        return true;
    case SL_T_OBJECT: return value_obj_equal(a, b, sl_value_equal);
    default: return false;
    }
}

bool sl_value_subset(sl_value_t expected, sl_value_t actual) {
    if (sl_is_number(expected) && sl_is_number(actual)) {
        if (expected.type == SL_T_INT && actual.type == SL_T_INT) return expected.u.i == actual.u.i;
        double x = sl_value_num(expected), y = sl_value_num(actual);
        if (x == y) return true;
        double scale = fmax(fabs(x), fabs(y));
        return fabs(x - y) <= 1e-9 * scale;
    }
    if (expected.type != actual.type) return false;
    switch ((sl_type_t)expected.type) {
    case SL_T_ARRAY:
        if (expected.len != actual.len) return false;
        for (uint32_t i = 0; i < expected.len; i++)
            if (!sl_value_subset(expected.u.a[i], actual.u.a[i])) return false;
        return true;
    case SL_T_OBJECT:
        for (uint32_t i = 0; i < expected.len; i++) {
            const sl_member_t *m = &expected.u.o[i];
            if (sl_value_get(&expected, m->key, m->key_len) != &m->val) continue;
            const sl_value_t *av = sl_value_get(&actual, m->key, m->key_len);
            if (!av || !sl_value_subset(m->val, *av)) return false;
        }
        return true;
    default: return sl_value_equal(expected, actual);
    }
}

static int value_rank(uint32_t type) {
    switch (type) {
    case SL_T_NULL: return 0;
    case SL_T_BOOL: return 1;
    case SL_T_INT:
    case SL_T_DOUBLE: return 2;
    case SL_T_STRING: return 3;
    case SL_T_ARRAY: return 4;
    default: return 5;
    }
}

int sl_value_cmp(sl_value_t a, sl_value_t b) {
    int ra = value_rank(a.type), rb = value_rank(b.type);
    if (ra != rb) return ra < rb ? -1 : 1;
    switch (ra) {
    case 0: return 0;
    case 1: return (int)a.u.b - (int)b.u.b;
    case 2: return value_num_cmp(a, b);
    case 3: {
        /* Byte order, which for UTF-8 is code point order. */
        uint32_t n = a.len < b.len ? a.len : b.len;
        int c = n ? memcmp(a.u.s, b.u.s, n) : 0;
        if (c) return c < 0 ? -1 : 1;
        return (a.len > b.len) - (a.len < b.len);
    }
    case 4: {
        uint32_t n = a.len < b.len ? a.len : b.len;
        for (uint32_t i = 0; i < n; i++) {
            int c = sl_value_cmp(a.u.a[i], b.u.a[i]);
            if (c) return c;
        }
        return (a.len > b.len) - (a.len < b.len);
    }
    default: {
        /* Objects: fewer members first, then member by member in stored order. */
        if (a.len != b.len) return a.len < b.len ? -1 : 1;
        for (uint32_t i = 0; i < a.len; i++) {
            const sl_member_t *ma = &a.u.o[i], *mb = &b.u.o[i];
            sl_value_t ka = sl_str(ma->key, ma->key_len), kb = sl_str(mb->key, mb->key_len);
            int c = sl_value_cmp(ka, kb);
            if (!c) c = sl_value_cmp(ma->val, mb->val);
            if (c) return c;
        }
        return 0;
    }
    }
}

sl_value_t sl_value_copy(sl_arena_t *arena, sl_value_t v) {
    switch ((sl_type_t)v.type) {
    case SL_T_STRING: return sl_str_dup(arena, v.u.s, v.len);
    case SL_T_ARRAY: {
        sl_value_t c = sl_array_new(arena, v.len);
        for (uint32_t i = 0; i < v.len; i++) c.u.a[i] = sl_value_copy(arena, v.u.a[i]);
        c.len = v.len;
        return c;
    }
    case SL_T_OBJECT: {
        sl_value_t c = sl_object_new(arena, v.len);
        for (uint32_t i = 0; i < v.len; i++) {
            const sl_member_t *m = &v.u.o[i];
            c.u.o[i].key = sl_arena_strndup(arena, m->key, m->key_len);
            c.u.o[i].key_len = m->key_len;
            c.u.o[i].val = sl_value_copy(arena, m->val);
        }
        c.len = v.len;
        return c;
    }
    default: return v;
    }
}

bool sl_value_truthy(sl_value_t v) {
    switch ((sl_type_t)v.type) {
    case SL_T_NULL: return false;
    case SL_T_BOOL: return v.u.b;
    case SL_T_INT: return v.u.i != 0;
    case SL_T_DOUBLE: return v.u.d != 0 && !isnan(v.u.d);
    case SL_T_STRING: return v.len != 0;
    default: return true;  /* arrays and objects, even empty ones, as in JavaScript */
    }
}
