/* value.h - the JSON value model of a record (object, array, string, int, double,
 * bool, null).
 *
 * Invariants:
 *  1. A value is 16 bytes and is passed by value; what it points to (string bytes,
 *     array items, object members) lives in an arena and is never freed alone.
 *  2. Strings are UTF-8, NUL-terminated, and `len` bytes long (a "\u0000" escape may
 *     put a NUL inside; len is the truth).
 *  3. Objects keep their members in input order; keys are unique after sl_value_set
 *     (the parser keeps the last of duplicate keys visible to sl_value_get).
 *  4. Values are treated as immutable once shared: sl_value_set* copy the members
 *     array it changes (copy-on-write into the arena), never writing through a value
 *     another record may hold. */
#ifndef SLUICE_VALUE_H
#define SLUICE_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/arena.h"
#include "sluice/buf.h"

typedef enum sl_type {
    SL_T_NULL = 0,
    SL_T_BOOL,
    SL_T_INT,     /* int64 */
    SL_T_DOUBLE,
    SL_T_STRING,
    SL_T_ARRAY,
    SL_T_OBJECT,
} sl_type_t;

typedef struct sl_member sl_member_t;

typedef struct sl_value {
    uint32_t type;   /* sl_type_t */
    uint32_t len;    /* bytes of a string, items of an array, members of an object */
    union {
        bool b;
        int64_t i;
        double d;
        const char *s;
        struct sl_value *a;
        sl_member_t *o;
    } u;
} sl_value_t;

struct sl_member {
    const char *key;   /* NUL-terminated, in the arena */
    uint32_t key_len;
    sl_value_t val;
};

/* "null" "bool" "int" "double" "string" "array" "object" */
const char *sl_type_name(sl_type_t type);

static inline sl_value_t sl_null(void) { sl_value_t v = {SL_T_NULL, 0, {.i = 0}}; return v; }
static inline sl_value_t sl_bool(bool b) { sl_value_t v = {SL_T_BOOL, 0, {.b = b}}; return v; }
static inline sl_value_t sl_int(int64_t i) { sl_value_t v = {SL_T_INT, 0, {.i = i}}; return v; }
static inline sl_value_t sl_double(double d) { sl_value_t v = {SL_T_DOUBLE, 0, {.d = d}}; return v; }
/* s must stay valid as long as the value (usually: arena memory or a literal). */
static inline sl_value_t sl_str(const char *s, size_t len) {
    sl_value_t v = {SL_T_STRING, (uint32_t)len, {.s = s}}; return v;
}
static inline bool sl_is_null(sl_value_t v) { return v.type == SL_T_NULL; }
static inline bool sl_is_number(sl_value_t v) { return v.type == SL_T_INT || v.type == SL_T_DOUBLE; }

/* A copy of s[0..len) in the arena. */
sl_value_t sl_str_dup(sl_arena_t *arena, const char *s, size_t len);
/* An empty array with room for `cap` items / object with room for `cap` members.
 * The caller fills a[0..len) / o[0..len) and sets len (<= cap). */
sl_value_t sl_array_new(sl_arena_t *arena, size_t cap);
sl_value_t sl_object_new(sl_arena_t *arena, size_t cap);

/* Number as double (int converted); 0 for non-numbers. */
double sl_value_num(sl_value_t v);

/* Member lookup by key (last match wins); NULL when absent or v is not an object. */
const sl_value_t *sl_value_get(const sl_value_t *obj, const char *key, size_t key_len);
/* Follow a dotted path "a.b.c" (no indexing); NULL when any step is absent. */
const sl_value_t *sl_value_get_path(const sl_value_t *obj, const char *path);

/* Set obj[key] = val, replacing an existing member or appending one.  If *obj is not
 * an object it becomes a new empty object first.  Copy-on-write (invariant 4). */
void sl_value_set(sl_arena_t *arena, sl_value_t *obj, const char *key, size_t key_len,
                  sl_value_t val);
/* Set a dotted path "a.b.c", creating intermediate objects (and replacing non-objects
 * on the way). */
void sl_value_set_path(sl_arena_t *arena, sl_value_t *obj, const char *path, sl_value_t val);
/* Remove obj[key] (and a dotted path); returns true when something was removed. */
bool sl_value_del(sl_arena_t *arena, sl_value_t *obj, const char *key, size_t key_len);
bool sl_value_del_path(sl_arena_t *arena, sl_value_t *obj, const char *path);

/* Deep equality: numbers compare by value (1 == 1.0); objects ignore member order. */
bool sl_value_equal(sl_value_t a, sl_value_t b);
/* "expected is a subset of actual": every member of an expected object is present and
 * subset-equal in actual; arrays element-wise with equal length; scalars equal.
 * Doubles compare with a relative tolerance of 1e-9. Used by `sluice test`. */
bool sl_value_subset(sl_value_t expected, sl_value_t actual);
/* Total order for sorting/min/max: null < bool < numbers < strings < arrays < objects;
 * returns <0, 0, >0. */
int sl_value_cmp(sl_value_t a, sl_value_t b);
/* Deep copy into another arena. */
sl_value_t sl_value_copy(sl_arena_t *arena, sl_value_t v);
/* JavaScript-like truthiness for `where`: false, null, 0, "" are false... but see expr.h:
 * `where` requires a bool; this is for templates. */
bool sl_value_truthy(sl_value_t v);

#endif
