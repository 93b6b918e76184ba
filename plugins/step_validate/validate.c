/* validate.c - step `validate: {fields: {name: type}, required: [name]}`: records
 * whose fields have the wrong type, or lack a required field, go to the dead-letter
 * topic with every reason ("field 'price' must be number, got string"); the others
 * pass unchanged.
 *
 * Types: string number int bool object array any time.  `int` accepts a double with
 * no fractional part (JSON 3.0); `time` is what parse_time() accepts (an ISO-8601
 * string or epoch seconds/milliseconds).  A field that is absent or null is only an
 * error when it is required.  Names are dotted paths (`a.b`). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/step_util.h"

typedef enum { VT_STRING, VT_NUMBER, VT_INT, VT_BOOL, VT_OBJECT, VT_ARRAY, VT_ANY, VT_TIME } vt_t;

static const char *const vt_names[] = {"string", "number", "int", "bool", "object",
                                       "array",  "any",    "time", NULL};

typedef struct vfield {
    const char *name;
    int type;            /* vt_t, or -1: only required */
    bool required;
} vfield_t;

typedef struct validate {
    vfield_t *v;
    size_t n;
    sl_expr_t *parse_time;   /* `parse_time(value)`, value bound as a local */
} validate_t;

typedef struct v_conf {
    const sl_cnode_t *fields;
    sl_strlist_t required;
} v_conf_t;

static const sl_config_map_t validate_map[] = {
    {"fields", SL_CFG_NODE, NULL, 0, offsetof(v_conf_t, fields), NULL,
     "mapping of field (dotted path) to type: string number int bool object array any time"},
    {"required", SL_CFG_STRLIST, NULL, 0, offsetof(v_conf_t, required), NULL,
     "fields that must be present and not null"},
    SL_CONFIG_END,
};

static bool bad_path(const char *p) {
    size_t n = strlen(p);
    return n == 0 || p[0] == '.' || p[n - 1] == '.' || strstr(p, "..") != NULL;
}

static vfield_t *vfield_of(validate_t *vd, const char *name) {
    for (size_t i = 0; i < vd->n; i++)
        if (strcmp(vd->v[i].name, name) == 0) return &vd->v[i];
    return NULL;
}

static int validate_compile(sl_step_t *step, sl_init_ctx_t *ctx) {
    validate_t *vd = calloc(1, sizeof *vd);
    step->state = vd;
    const sl_cnode_t *node = step->node;
    if (!node || node->kind != SL_CNODE_MAP) {
        sl_step_diag(ctx, node, "%s must be a mapping {fields: {name: type}, required: [name]}",
                     ctx->what);
        return -1;
    }
    v_conf_t conf = {0};
    if (sl_config_apply(validate_map, node, &conf, ctx->what, ctx->arena, ctx->diags) != 0)
        return -1;
    if (conf.fields && sl_cnode_is_null(conf.fields)) conf.fields = NULL;
    if (conf.fields && conf.fields->kind != SL_CNODE_MAP) {
        sl_step_diag(ctx, conf.fields, "%s: 'fields' must be a mapping of field: type", ctx->what);
        return -1;
    }
    size_t nf = conf.fields ? conf.fields->n : 0;
    if (nf + conf.required.n == 0) {
        sl_step_diag(ctx, node, "%s needs 'fields' or 'required'", ctx->what);
        return -1;
    }
    vd->v = calloc(nf + conf.required.n, sizeof *vd->v);
    int bad = 0;
    for (size_t i = 0; i < nf; i++) {
        const sl_cnode_t *k = conf.fields->pairs[i].key, *t = conf.fields->pairs[i].val;
        if (bad_path(k->str)) {
            sl_step_diag(ctx, k, "invalid field path '%s' in %s", k->str, ctx->what);
            bad = -1;
            continue;
        }
        int type = -1;
        if (t->kind == SL_CNODE_SCALAR)
            for (int j = 0; vt_names[j]; j++)
                if (strcmp(t->str, vt_names[j]) == 0) type = j;
        if (type < 0) {
            const char *near = t->kind == SL_CNODE_SCALAR ? sl_did_you_mean(t->str, vt_names) : NULL;
            if (near)
                sl_step_diag(ctx, t, "unknown type '%s' for field '%s' in %s (did you mean '%s'?)",
                             t->str, k->str, ctx->what, near);
            else
                sl_step_diag(ctx, t,
                             "the type of field '%s' in %s must be one of: string number int bool object array any time",
                             k->str, ctx->what);
            bad = -1;
            continue;
        }
        vd->v[vd->n++] = (vfield_t){k->str, type, false};
    }
    const sl_cnode_t *req = sl_cnode_get(node, "required");
    for (size_t i = 0; i < conf.required.n; i++) {
        const char *name = conf.required.v[i];
        const sl_cnode_t *at = req && req->kind == SL_CNODE_SEQ && i < req->n ? req->items[i] : req;
        if (bad_path(name)) {
            sl_step_diag(ctx, at, "invalid field path '%s' in %s", name, ctx->what);
            bad = -1;
            continue;
        }
        vfield_t *f = vfield_of(vd, name);
        if (f) f->required = true;
        else vd->v[vd->n++] = (vfield_t){name, -1, true};
    }
    vd->parse_time = sl_expr_compile("parse_time(value)", 17, &(size_t){0}, (char[64]){0}, 64);
    if (!vd->parse_time) abort();
    return bad;
}

static bool is_time(const validate_t *vd, sl_value_t v, sl_step_ctx_t *ctx) {
    if (sl_is_number(v)) return v.type == SL_T_INT || isfinite(v.u.d);
    if (v.type != SL_T_STRING) return false;
    sl_member_t m = {"value", 5, v};
    sl_value_t locals = {SL_T_OBJECT, 1, {.o = &m}};
    sl_expr_ctx_t ec = {.arena = sl_step_arena(ctx), .locals = &locals};
    sl_value_t out;
    sl_error_t e = {0};
    return sl_expr_eval(vd->parse_time, &ec, &out, &e) == 0 && out.type != SL_T_NULL;
}

static bool type_ok(const validate_t *vd, vt_t t, sl_value_t v, sl_step_ctx_t *ctx) {
    switch (t) {
    case VT_STRING: return v.type == SL_T_STRING;
    case VT_NUMBER: return sl_is_number(v);
    case VT_INT: return v.type == SL_T_INT || (v.type == SL_T_DOUBLE && v.u.d == floor(v.u.d) &&
                                                fabs(v.u.d) < 9.2e18);
    case VT_BOOL: return v.type == SL_T_BOOL;
    case VT_OBJECT: return v.type == SL_T_OBJECT;
    case VT_ARRAY: return v.type == SL_T_ARRAY;
    case VT_ANY: return true;
    case VT_TIME: return is_time(vd, v, ctx);
    }
    return false;
}

static int validate_apply(sl_step_t *step, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err) {
    const validate_t *vd = step->state;
    size_t out = 0;
    char msg[900];
    for (size_t i = 0; i < batch->n; i++) {
        sl_record_t *rec = &batch->recs[i];
        size_t len = 0;
        int nbad = 0;
        msg[0] = 0;
        for (size_t k = 0; k < vd->n; k++) {
            const vfield_t *f = &vd->v[k];
            const sl_value_t *v = sl_value_get_path(&rec->value, f->name);
            char why[256];
            if (!v || v->type == SL_T_NULL) {
                if (!f->required) continue;
                snprintf(why, sizeof why, "field '%s' is required, %s", f->name, v ? "got null" : "missing");
            } else if (f->type < 0 || type_ok(vd, (vt_t)f->type, *v, ctx)) {
                continue;
            } else if (f->type == VT_TIME && v->type == SL_T_STRING) {
                snprintf(why, sizeof why, "field '%s' must be time, got a string parse_time cannot read", f->name);
            } else {
                snprintf(why, sizeof why, "field '%s' must be %s, got %s", f->name, vt_names[f->type],
                         sl_type_name((sl_type_t)v->type));
            }
            if (len < sizeof msg) {
                int w = snprintf(msg + len, sizeof msg - len, "%s%s", nbad ? "; " : "", why);
                if (w > 0) len += (size_t)w;
            }
            nbad++;
        }
        if (nbad) sl_step_dlq(ctx, rec, "validate: %s", msg);
        else batch->recs[out++] = *rec;
    }
    batch->n = out;
    return 0;
}

static void validate_free(sl_step_t *step) {
    validate_t *vd = step->state;
    if (!vd) return;
    sl_expr_free(vd->parse_time);
    free(vd->v);
    free(vd);
    step->state = NULL;
}

const sl_step_plugin_t sl_step_validate = {
    .abi = SL_PLUGIN_ABI,
    .name = "validate",
    .description = "`validate: {fields: {name: type}, required: [name]}` sends records with a field of the wrong type (string number int bool object array any time), or without a required field (absent or null), to the dead-letter topic with the reasons; the others pass unchanged.",
    .compile = validate_compile,
    .apply = validate_apply,
    .free = validate_free,
};
