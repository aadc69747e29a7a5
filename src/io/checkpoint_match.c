/* --init across configurations (io/checkpoint_match.h). */
#include "io/checkpoint_match.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "optim/param_groups.h"

static int same_shape(const ParamSpec *ps, const StTensor *t) {
    if (ps->ndim != t->ndim) return 0;
    for (int d = 0; d < ps->ndim; d++)
        if (ps->shape[d] != t->shape[d]) return 0;
    return 1;
}

static void fmt_shape(char *out, size_t n, int ndim, const int64_t *shape) {
    size_t len = (size_t)snprintf(out, n, "[");
    for (int d = 0; d < ndim && len < n; d++) len += (size_t)snprintf(out + len, n - len, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (len < n) snprintf(out + len, n - len, "]");
}

/* what a name's siblings share: "blocks.3.", "head.0.", "token_embeds.1." (a numbered part), else
 * the part before the first dot ("norm.", "var_agg."); 0 when the name has no dot */
static size_t name_stem(const char *s) {
    const char *d1 = strchr(s, '.');
    if (!d1) return 0;
    const char *d2 = strchr(d1 + 1, '.');
    if (d2 && d2 > d1 + 1 && strspn(d1 + 1, "0123456789") == (size_t)(d2 - d1 - 1)) return (size_t)(d2 - s) + 1;
    return (size_t)(d1 - s) + 1;
}

/* names [n] of a set all [nall] as a short list: "stem*" where every name of all with that stem is
 * in the list, up to 8 items, then "and K more tensors" */
static void name_list(char *out, size_t cap, const char **names, int n, const char **all, int nall) {
    size_t len = 0;
    int items = 0, shown = 0;
    out[0] = 0;
    char *done = xcalloc((size_t)(n ? n : 1), 1);
    for (int i = 0; i < n; i++) {
        if (done[i]) continue;
        size_t st = name_stem(names[i]);
        int in_list = 0, in_all = 0;
        for (int j = i; j < n && st; j++) in_list += !done[j] && strlen(names[j]) > st && !strncmp(names[j], names[i], st);
        for (int j = 0; j < nall && st; j++) in_all += strlen(all[j]) > st && !strncmp(all[j], names[i], st);
        const int group = st && in_list > 1 && in_list == in_all;
        int covered = 0;
        for (int j = i; j < n; j++)
            if (!done[j] && (j == i || (group && strlen(names[j]) > st && !strncmp(names[j], names[i], st)))) done[j] = 1, covered++;
        if (items < 8 && len < cap) {
            len += group ? (size_t)snprintf(out + len, cap - len, "%s%.*s*", items ? ", " : "", (int)st, names[i])
                         : (size_t)snprintf(out + len, cap - len, "%s%s", items ? ", " : "", names[i]);
            shown += covered;
        }
        items++;
    }
    if (shown < n && len < cap) snprintf(out + len, cap - len, " and %d more tensors", n - shown);
    free(done);
}

/* the flag that likely makes an encoder tensor's shape differ */
static const char *shape_hint(int field, int64_t file_dim, int64_t dim) {
    if (file_dim > 0 && file_dim != dim) return "--dim";
    switch (field) {
    case PF_tok_w: return "--patch";
    case PF_var_embed: return "--vars (the number of input variables)";
    case PF_fc1_w: case PF_fc1_b: case PF_fc2_w: return "the MLP ratio";
    case PF_cq: case PF_c_in_w: case PF_c_in_b: case PF_c_out_w: case PF_c_out_b: return "--channel-parallel or --chag-group";
    default: return "a model flag (lvit info FILE prints the file's model)";
    }
}

/* the grid of patches of a configuration: "RxC patches (a HxW grid, patch p)" */
static void grid_desc(char *out, size_t n, const VitConfig *c) {
    snprintf(out, n, "%dx%d patches (a %dx%d grid, patch %d)", c->H / c->p, c->W / c->p, c->H, c->W, c->p);
}

int ckpt_load_matching(const Vit *m, const char *path, float *canon, CkptMatch *r, char *err, size_t errlen) {
    StFile f;
    memset(r, 0, sizeof *r);
    if (st_open(&f, path, err, errlen)) return -1;
    int rc = -1, have_cfg = 0;
    VitConfig fc;
    char diff[1024] = "", pre[1400], a[96], b[96];
    const char **kept = xcalloc((size_t)m->nspecs + 1, sizeof *kept), **mnames = xcalloc((size_t)m->nspecs + 1, sizeof *mnames);
    const char **unused = xcalloc((size_t)f.n + 1, sizeof *unused), **fnames = xcalloc((size_t)f.n + 1, sizeof *fnames);
    const char *cj = st_meta(&f, "lvit.config");
    if (cj) { /* files from elsewhere (converted PyTorch weights) may have none: names and shapes decide */
        char cerr[512];
        if (vit_config_from_json(&fc, cj, cerr, sizeof cerr)) {
            snprintf(err, errlen, "%s: %s", path, cerr);
            goto done;
        }
        have_cfg = 1;
        ckpt_config_diff(&fc, &m->cfg, diff, sizeof diff);
    }
    /* refusals: "FILE holds another model: what differs; why" or "FILE: why" */
    if (*diff) snprintf(pre, sizeof pre, "%s holds another model: %s;", path, diff);
    else snprintf(pre, sizeof pre, "%s:", path);

    /* another depth: the stack would be loaded in part, which is never what fine-tuning means */
    int fblocks = 0;
    for (int i = 0; i < f.n; i++) {
        int k;
        if (sscanf(f.t[i].name, "blocks.%d.", &k) == 1 && k + 1 > fblocks) fblocks = k + 1;
    }
    if (fblocks && fblocks != m->cfg.depth) {
        snprintf(err, errlen, "%s its encoder has %d transformer blocks, this run's %d: give --depth %d", pre, fblocks,
                 m->cfg.depth, fblocks);
        goto done;
    }
    /* another grid of patches: a learned position embedding cannot be carried over */
    const ParamSpec *pe = vit_find_param(m, "pos_embed");
    const StTensor *pt = st_find(&f, "pos_embed");
    if (pe && pt && pt->ndim == 3 && pt->shape[1] != pe->shape[1]) {
        char g1[160], g2[160];
        grid_desc(g2, sizeof g2, &m->cfg);
        if (have_cfg) grid_desc(g1, sizeof g1, &fc);
        else snprintf(g1, sizeof g1, "%lld positions", (long long)pt->shape[1]);
        snprintf(err, errlen, "%s its position embedding is for %s, this run's for %s: train on the file's grid of "
                 "patches (--grid or the data's, and --patch)", pre, g1, g2);
        goto done;
    }
    /* the width from the file itself when it has no configuration */
    const StTensor *nt = st_find(&f, "norm.weight");
    const int64_t fdim = have_cfg ? fc.D : nt && nt->ndim == 1 ? nt->shape[0] : 0;
    for (int i = 0; i < m->nspecs; i++) {
        const ParamSpec *ps = &m->specs[i];
        const StTensor *t = st_find(&f, ps->name);
        if (param_group(ps->name) != PG_ENCODER || !t || same_shape(ps, t)) continue;
        fmt_shape(a, sizeof a, t->ndim, t->shape);
        fmt_shape(b, sizeof b, ps->ndim, ps->shape);
        snprintf(err, errlen, "%s tensor '%s' is %s there and %s in this run: %s probably differs", pre, ps->name, a, b,
                 shape_hint(ps->field, fdim, m->cfg.D));
        goto done;
    }
    /* a head group is the task's: taken whole, when the file has exactly its tensors and shapes */
    int take[PG_COUNT], has[PG_COUNT];
    char why[PG_COUNT][512];
    for (int g = 0; g < PG_COUNT; g++) take[g] = 1, has[g] = 0, why[g][0] = 0;
    for (int i = 0; i < m->nspecs; i++) {
        const ParamSpec *ps = &m->specs[i];
        const int g = param_group(ps->name);
        const StTensor *t = st_find(&f, ps->name);
        has[g] = 1;
        if (g == PG_ENCODER || (t && same_shape(ps, t))) continue;
        if (take[g] && !t) snprintf(why[g], sizeof why[g], "'%s' is not in the file", ps->name);
        if (take[g] && t) {
            fmt_shape(a, sizeof a, t->ndim, t->shape);
            fmt_shape(b, sizeof b, ps->ndim, ps->shape);
            snprintf(why[g], sizeof why[g], "'%s' is %s there, %s here", ps->name, a, b);
        }
        take[g] = 0;
    }
    for (int i = 0; i < f.n; i++) {
        const int g = param_group(f.t[i].name);
        if (!strcmp(f.t[i].name, CKPT_ANCHOR_CLIM)) continue; /* the data's climatology, not a weight */
        if (g != PG_ENCODER && take[g] && !vit_find_param(m, f.t[i].name)) {
            snprintf(why[g], sizeof why[g], "the file's '%s' is not in this model", f.t[i].name);
            take[g] = 0;
        }
    }
    int nkept = 0, nunused = 0;
    for (int i = 0; i < m->nspecs; i++) {
        const ParamSpec *ps = &m->specs[i];
        const int g = param_group(ps->name);
        mnames[i] = ps->name;
        r->tensors++, r->params += ps->numel;
        if (!st_find(&f, ps->name) || !take[g]) { /* keeps its initial value */
            kept[nkept++] = ps->name;
            r->kept_encoder += g == PG_ENCODER;
            continue;
        }
        if (ckpt_read_param(&f, ps, canon + ps->offset, path, err, errlen)) goto done;
        r->loaded++, r->loaded_params += ps->numel;
    }
    if (!r->loaded) {
        snprintf(err, errlen, "%s none of its %d tensors is a tensor of this model (its first is '%s', this model's "
                 "first '%s')", pre, f.n, f.n ? f.t[0].name : "(none)", m->nspecs ? m->specs[0].name : "(none)");
        goto done;
    }
    for (int i = 0; i < f.n; i++) {
        fnames[i] = f.t[i].name;
        if (!vit_find_param(m, f.t[i].name) || !take[param_group(f.t[i].name)]) unused[nunused++] = f.t[i].name;
    }
    if (have_cfg) ckpt_config_notes(&fc, &m->cfg, path);

    /* the one line */
    char *s = r->summary;
    const size_t cap = sizeof r->summary;
    size_t len = (size_t)snprintf(s, cap, "--init %s: loaded %d of %d tensors (%lld of %lld parameters)", path, r->loaded,
                                  r->tensors, (long long)r->loaded_params, (long long)r->params);
    char list[600];
    if (nkept && len < cap) {
        name_list(list, sizeof list, kept, nkept, mnames, m->nspecs);
        len += (size_t)snprintf(s + len, cap - len, "; kept their initialization: %s", list);
        for (int g = 1; g < PG_COUNT; g++)
            if (has[g] && !take[g] && *why[g] && len < cap)
                len += (size_t)snprintf(s + len, cap - len, " (%s: %s)", param_group_name((ParamGroup)g), why[g]);
    }
    if (nunused && len < cap) {
        name_list(list, sizeof list, unused, nunused, fnames, f.n);
        len += (size_t)snprintf(s + len, cap - len, "; %d tensors of the file unused: %s", nunused, list);
    }
    if (*diff && len < cap) snprintf(s + len, cap - len, "; the file's model: %s", diff);
    if (r->kept_encoder) {
        const char **enc = xcalloc((size_t)r->kept_encoder, sizeof *enc);
        int k = 0;
        for (int i = 0; i < nkept; i++)
            if (param_group(kept[i]) == PG_ENCODER) enc[k++] = kept[i];
        name_list(r->kept_encoder_names, sizeof r->kept_encoder_names, enc, k, mnames, m->nspecs);
        free(enc);
    }
    rc = 0;
done:
    if (have_cfg) vit_config_free(&fc);
    free(kept), free(mnames), free(unused), free(fnames);
    st_close(&f);
    return rc;
}
