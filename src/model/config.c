/* Model configuration: checks with messages that say what would work, and its JSON form
 * (the "lvit.config" metadata of checkpoints, read by the PyTorch twin too). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/json.h"
#include "model/config.h"

const char *vit_mode_name(ChannelMode m) { return m == CH_AGG ? "agg" : m == CH_GROUPS ? "groups" : "multi"; }

void vit_config_set_default_names(VitConfig *c) {
    free(c->var_names);
    c->var_names = xcalloc((size_t)(c->V > 0 ? c->V : 1), LVIT_VAR_NAME);
    for (int v = 0; v < c->V; v++) snprintf(c->var_names[v], LVIT_VAR_NAME, "var%d", v);
}

void vit_config_copy(VitConfig *dst, const VitConfig *src) {
    *dst = *src;
    dst->var_names = xcalloc((size_t)(src->V > 0 ? src->V : 1), LVIT_VAR_NAME);
    if (src->var_names) memcpy(dst->var_names, src->var_names, (size_t)src->V * LVIT_VAR_NAME);
    dst->group_start = NULL;
    if (src->group_start) {
        dst->group_start = xcalloc((size_t)src->groups + 1, sizeof(int));
        memcpy(dst->group_start, src->group_start, sizeof(int) * ((size_t)src->groups + 1));
    }
}

void vit_config_free(VitConfig *c) {
    free(c->var_names);
    c->var_names = NULL;
    free(c->group_start);
    c->group_start = NULL;
}

int vit_config_set_band_groups(VitConfig *c, const char *spec, char *err, size_t n) {
    int start[LVIT_MAX_VARS + 1], G = 0;
    char *end;
    long x = strtol(spec, &end, 10);
    if (*spec && *end == 0) { /* "N": contiguous groups, the first V % N one band larger */
        if (x < 1 || x > c->V) {
            snprintf(err, n, "--band-groups %s: expected 1..%d groups (the data has %d bands)", spec, c->V, c->V);
            return -1;
        }
        G = (int)x;
        for (int g = 0, b = 0; g <= G; b += c->V / G + (g < c->V % G), g++) start[g] = b;
    } else { /* "a-b,c-d,...": inclusive ranges, in order, covering every band once */
        const char *s = spec;
        int next = 0;
        while (*s) {
            long a = strtol(s, &end, 10), b = a;
            if (end == s) break;
            if (*end == '-') {
                const char *t = end + 1;
                b = strtol(t, &end, 10);
                if (end == t) break;
            }
            if (a != next || b < a || b >= c->V || G >= LVIT_MAX_VARS) {
                snprintf(err, n, "--band-groups %s: the range %ld-%ld does not follow on from band %d (ranges of bands "
                         "0..%d in order, each band in one group, e.g. 0-29,30-%d)", spec, a, b, next, c->V - 1, c->V - 1);
                return -1;
            }
            start[G++] = (int)a;
            next = (int)b + 1;
            s = *end == ',' ? end + 1 : end;
            if (*end != ',' && *end) break;
        }
        if (*s || next != c->V || G == 0) {
            snprintf(err, n, "--band-groups %s: expected N (equal contiguous groups) or ranges a-b,c-d,... covering the "
                     "bands 0..%d in order", spec, c->V - 1);
            return -1;
        }
        start[G] = c->V;
    }
    free(c->group_start);
    c->group_start = xcalloc((size_t)G + 1, sizeof(int));
    memcpy(c->group_start, start, sizeof(int) * ((size_t)G + 1));
    c->groups = G;
    c->mode = CH_GROUPS;
    return 0;
}

int vit_config_check(const VitConfig *c, char *err, size_t n) {
#define BAD(...) do { snprintf(err, n, __VA_ARGS__); return -1; } while (0)
    if (c->V < 1 || c->V > LVIT_MAX_VARS) BAD("--vars: %d variables; expected 1..%d", c->V, LVIT_MAX_VARS);
    if (c->scale > 1) {
        if (c->scale > 16) BAD("--scale %d: expected 2..16", c->scale);
        if (c->Vo < 1 || c->Vo > c->V)
            BAD("downscaling: %d output variables, expected 1..%d (the inputs are the outputs, then static fields)", c->Vo, c->V);
        if (c->mode != CH_AGG) BAD("--task downscale needs --channels agg (the head emits every variable of a token)");
        if (c->residual) BAD("--residual is for forecasting; downscaling has Reslim's own residual path");
        if (c->res_width < 1 || c->res_width > 4096) BAD("--res-width %d: expected 1..4096", c->res_width);
    } else if (vit_classify(c) && (c->classes < (c->multilabel ? 1 : 2) || c->classes > 100000)) {
        BAD("%d classes: expected %d..100000", c->classes, c->multilabel ? 1 : 2);
    } else if (vit_classify(c) && c->residual) {
        BAD("--residual is for forecasting; a classifier predicts labels, not a change of its input");
    } else if (vit_segment(c)) {
        if (c->seg_classes < 2 || c->seg_classes > 100000 || c->Vo != c->seg_classes)
            BAD("segmentation: %d classes (%d outputs per pixel): expected 2..100000, one output per class", c->seg_classes, c->Vo);
        if (c->mode != CH_AGG) BAD("--task segment needs --channels agg (a token's head emits every class of its pixels)");
        if (c->residual) BAD("--residual is for forecasting; segmentation predicts labels, not a change of its input");
    } else if (c->history && (c->history < 0 || c->history > 64 || c->mode != CH_AGG)) {
        BAD("--history %d: expected 1..64 earlier states, with --channels agg (the head emits the variables of each token)",
            c->history);
    } else if (c->Vo * (c->history + 1) != c->V) {
        BAD("output variables (%d) must equal input variables (%d)", c->Vo, c->V);
    }
    if (c->mode == CH_GROUPS) {
        if (c->groups < 1 || c->groups > c->V || !c->group_start || c->group_start[0] != 0 || c->group_start[c->groups] != c->V)
            BAD("band groups: %d groups of %d bands", c->groups, c->V);
        for (int g = 0; g < c->groups; g++)
            if (c->group_start[g + 1] <= c->group_start[g]) BAD("band groups: group %d is empty", g);
    } else if (c->groups) {
        BAD("band groups without --band-groups");
    }
    if (vit_mae(c)) {
        if (c->mode == CH_MULTI) BAD("--task mae needs --channels agg or --band-groups (the mask selects locations)");
        if (c->mae_keep >= c->W / (c->p > 0 ? c->p : 1))
            BAD("--mask-ratio: %d of the %d tokens of a patch row kept, nothing masked; give a ratio above 0", c->mae_keep,
                c->W / (c->p > 0 ? c->p : 1));
        if (c->mae_depth < 1 || c->mae_depth > 64) BAD("--mae-decoder-depth %d: expected 1..64", c->mae_depth);
        if (vit_classify(c) || c->scale > 1 || c->residual) BAD("--task mae is a task of its own (no classes, scale or residual)");
    }
    if (c->p < 1 || c->p > 64) BAD("--patch %d: expected 1..64", c->p);
    if (c->H < c->p || c->W < c->p || c->H % c->p || c->W % c->p)
        BAD("grid %dx%d is not a multiple of --patch %d (try a grid of %dx%d)", c->H, c->W, c->p,
            (c->H + c->p - 1) / c->p * c->p, (c->W + c->p - 1) / c->p * c->p);
    if (c->D < 4 || c->D % 4) BAD("--dim %d: must be a positive multiple of 4 (2-D sin-cos position embedding)", c->D);
    if (c->NH < 1 || c->D % c->NH) BAD("--heads %d does not divide --dim %d", c->NH, c->D);
    if (c->depth < 0 || c->depth > 1000) BAD("--depth %d: expected 0..1000", c->depth);
    if (c->dec_depth < 0 || c->dec_depth > 100) BAD("--decoder-depth %d: expected 0..100", c->dec_depth);
    if (c->mlp_ratio < 1 || c->mlp_ratio > 64) BAD("mlp ratio %d: expected 1..64", c->mlp_ratio);
    if (vit_S(c) > ((int64_t)1 << 31)) BAD("sequence of %lld tokens is too long", (long long)vit_S(c));
    if (c->chag > 1) {
        if (c->mode != CH_AGG)
            BAD("--channel-parallel %d: D-CHAG aggregates channels, which needs --channels agg (not multi or --band-groups)",
                c->chag);
        if (c->V % c->chag)
            BAD("--channel-parallel %d does not divide the %d variables (channels): each block takes V/C of them", c->chag, c->V);
        if (c->chag_group < 0 || (c->chag_group > 0 && (c->V / c->chag) % c->chag_group))
            BAD("--chag-group %d does not divide the %d channels of a D-CHAG block (%d / --channel-parallel %d)",
                c->chag_group, c->V / c->chag, c->V, c->chag);
    } else if (c->chag_group) {
        BAD("--chag-group %d needs --channel-parallel C (D-CHAG blocks)", c->chag_group);
    }
    return 0;
#undef BAD
}

char *vit_config_to_json(const VitConfig *c) {
    JsonBuf b = {0};
    json_buf_puts(&b, "{\"vars\":[");
    for (int v = 0; v < c->V; v++) {
        if (v) json_buf_puts(&b, ",");
        json_buf_put_string(&b, c->var_names[v]);
    }
    json_buf_printf(&b, "],\"img_size\":[%d,%d],\"patch\":%d,\"dim\":%d,\"depth\":%d,\"heads\":%d,"
                        "\"decoder_depth\":%d,\"mlp_ratio\":%d,\"channels\":\"%s\",\"residual\":%s",
                    c->H, c->W, c->p, c->D, c->depth, c->NH, c->dec_depth, c->mlp_ratio, vit_mode_name(c->mode),
                    c->residual ? "true" : "false");
    if (c->history) json_buf_printf(&b, ",\"history\":%d", c->history);
    if (c->chag > 1) json_buf_printf(&b, ",\"chag_blocks\":%d,\"chag_group\":%d", c->chag, c->chag_group);
    if (c->mode == CH_GROUPS) { /* each group's first band, then V */
        json_buf_puts(&b, ",\"band_groups\":[");
        for (int g = 0; g <= c->groups; g++) json_buf_printf(&b, "%s%d", g ? "," : "", c->group_start[g]);
        json_buf_puts(&b, "]");
    }
    if (c->scale > 1)
        json_buf_printf(&b, ",\"task\":\"downscale\",\"scale\":%d,\"out_vars\":%d,\"res_width\":%d,\"base\":\"%s\"",
                        c->scale, c->Vo, c->res_width, c->ds_base ? "bicubic" : "none");
    if (vit_mae(c)) json_buf_printf(&b, ",\"task\":\"mae\",\"mae_keep\":%d,\"mae_depth\":%d", c->mae_keep, c->mae_depth);
    if (vit_classify(c))
        json_buf_printf(&b, ",\"task\":\"classify\",\"classes\":%d,\"multilabel\":%s", c->classes,
                        c->multilabel ? "true" : "false");
    if (vit_segment(c)) json_buf_printf(&b, ",\"task\":\"segment\",\"classes\":%d", c->seg_classes);
    json_buf_puts(&b, "}");
    return b.s;
}

static int get_int(const JsonValue *o, const char *key, int *out, char *err, size_t n) {
    const JsonValue *v = json_get(o, key);
    int64_t x;
    if (json_as_int64(v, 0, 1000000000, &x) != 0) {
        snprintf(err, n, "model config: \"%s\" missing or not a non-negative integer", key);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int vit_config_from_json(VitConfig *c, const char *text, char *err, size_t n) {
    memset(c, 0, sizeof *c);
    char jerr[256];
    JsonValue *root = json_parse(text, strlen(text), 1 << 20, "lvit.config", jerr, sizeof jerr);
    if (!root) {
        snprintf(err, n, "model config is not valid JSON: %s", jerr);
        return -1;
    }
    int rc = -1;
    const JsonValue *vars = json_get(root, "vars"), *img = json_get(root, "img_size"), *ch = json_get(root, "channels");
    int64_t h = 0, w = 0;
    if (!vars || json_len(vars) < 1 || json_len(img) != 2 || json_as_int64(json_at(img, 0), 1, 1000000, &h) ||
        json_as_int64(json_at(img, 1), 1, 1000000, &w)) {
        snprintf(err, n, "model config: \"vars\" (list of names) and \"img_size\" [H,W] are required");
        goto done;
    }
    c->V = c->Vo = (int)json_len(vars);
    if (c->V > LVIT_MAX_VARS) {
        snprintf(err, n, "model config: %d variables, at most %d", c->V, LVIT_MAX_VARS);
        goto done;
    }
    c->H = (int)h;
    c->W = (int)w;
    c->var_names = xcalloc((size_t)c->V, LVIT_VAR_NAME);
    for (int v = 0; v < c->V; v++) {
        const char *s = json_as_string(json_at(vars, v));
        if (!s) {
            snprintf(err, n, "model config: variable %d has no name", v);
            goto done;
        }
        snprintf(c->var_names[v], LVIT_VAR_NAME, "%s", s);
    }
    if (get_int(root, "patch", &c->p, err, n) || get_int(root, "dim", &c->D, err, n) ||
        get_int(root, "depth", &c->depth, err, n) || get_int(root, "heads", &c->NH, err, n) ||
        get_int(root, "decoder_depth", &c->dec_depth, err, n))
        goto done;
    c->mlp_ratio = 4;
    if (json_get(root, "mlp_ratio") && get_int(root, "mlp_ratio", &c->mlp_ratio, err, n)) goto done;
    const char *mode = ch ? json_as_string(ch) : "agg";
    if (!mode || (strcmp(mode, "agg") && strcmp(mode, "multi") && strcmp(mode, "groups"))) {
        snprintf(err, n, "model config: \"channels\" must be \"agg\", \"multi\" or \"groups\"");
        goto done;
    }
    c->mode = strcmp(mode, "agg") == 0 ? CH_AGG : strcmp(mode, "multi") == 0 ? CH_MULTI : CH_GROUPS;
    if (c->mode == CH_GROUPS) {
        const JsonValue *bg = json_get(root, "band_groups");
        const int ng = (int)json_len(bg) - 1;
        if (ng < 1 || ng > c->V) {
            snprintf(err, n, "model config: \"band_groups\" (each group's first band, then the band count) is required "
                     "with \"channels\": \"groups\"");
            goto done;
        }
        c->groups = ng;
        c->group_start = xcalloc((size_t)ng + 1, sizeof(int));
        for (int g = 0; g <= ng; g++) {
            int64_t x;
            if (json_as_int64(json_at(bg, g), 0, c->V, &x)) {
                snprintf(err, n, "model config: \"band_groups\"[%d] is not a band index 0..%d", g, c->V);
                goto done;
            }
            c->group_start[g] = (int)x;
        }
    }
    const JsonValue *res = json_get(root, "residual");
    if (res && res->type != JSON_BOOL) {
        snprintf(err, n, "model config: \"residual\" must be true or false");
        goto done;
    }
    c->residual = res ? res->boolean : 0;
    if (json_get(root, "history")) {
        if (get_int(root, "history", &c->history, err, n)) goto done;
        if (c->history < 1 || c->history > 64 || c->V % (c->history + 1)) {
            snprintf(err, n, "model config: \"history\" %d does not divide the %d variables into states", c->history, c->V);
            goto done;
        }
        c->Vo = c->V / (c->history + 1);
    }
    if ((json_get(root, "chag_blocks") && get_int(root, "chag_blocks", &c->chag, err, n)) ||
        (json_get(root, "chag_group") && get_int(root, "chag_group", &c->chag_group, err, n)))
        goto done;
    const JsonValue *task = json_get(root, "task");
    const char *tname = task ? json_as_string(task) : "forecast";
    if (!tname || (strcmp(tname, "downscale") && strcmp(tname, "forecast") && strcmp(tname, "classify") &&
                   strcmp(tname, "mae") && strcmp(tname, "segment"))) {
        snprintf(err, n, "model config: \"task\" must be \"forecast\", \"downscale\", \"classify\", \"mae\" or \"segment\"");
        goto done;
    }
    if (strcmp(tname, "segment") == 0) {
        if (get_int(root, "classes", &c->seg_classes, err, n)) goto done;
        c->Vo = c->seg_classes;
    }
    if (strcmp(tname, "mae") == 0 &&
        (get_int(root, "mae_keep", &c->mae_keep, err, n) || get_int(root, "mae_depth", &c->mae_depth, err, n)))
        goto done;
    if (strcmp(tname, "classify") == 0) {
        const JsonValue *ml = json_get(root, "multilabel");
        if (get_int(root, "classes", &c->classes, err, n)) goto done;
        if (ml && ml->type != JSON_BOOL) {
            snprintf(err, n, "model config: \"multilabel\" must be true or false");
            goto done;
        }
        c->multilabel = ml ? ml->boolean : 0;
    }
    if (task && strcmp(json_as_string(task), "downscale") == 0 &&
        (get_int(root, "scale", &c->scale, err, n) || get_int(root, "out_vars", &c->Vo, err, n) ||
         get_int(root, "res_width", &c->res_width, err, n)))
        goto done;
    const JsonValue *base = json_get(root, "base");
    if (base && (!json_as_string(base) || (strcmp(json_as_string(base), "none") && strcmp(json_as_string(base), "bicubic")))) {
        snprintf(err, n, "model config: \"base\" must be \"none\" or \"bicubic\"");
        goto done;
    }
    c->ds_base = base && strcmp(json_as_string(base), "bicubic") == 0;
    rc = vit_config_check(c, err, n);
done:
    json_free(root);
    if (rc) vit_config_free(c);
    return rc;
}
