/* The parameter table expanded at run time for a configuration: state-dict specs, the flat
 * layout and its tensor-parallel pieces, carving, and the ClimaX-style initialization. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/rng.h"
#include "model/params.h"

/* PyTorch's state-dict order for the ClimaX module: the model's own parameters, then its
 * submodules in registration order; inside a repeated module (token embed, block, head layer)
 * its tensors in table order. */
static int sd_group(const char *name) {
    static const char *prefix[] = {"var_embed", "var_query", "pos_embed", "token_embeds.", "var_agg.", "chag.",
                                   "lead_time_embed.", "blocks.", "norm.", "head.", "mask_token", "decoder_"};
    static const int group[] = {0, 0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 7};
    for (size_t i = 0; i < sizeof prefix / sizeof *prefix; i++)
        if (strncmp(name, prefix[i], strlen(prefix[i])) == 0) return group[i];
    return 7;
}

static int sd_index(const char *name) {
    const char *dot = strchr(name, '.');
    return dot && dot[1] >= '0' && dot[1] <= '9' ? atoi(dot + 1) : 0;
}

static int sd_cmp(const void *pa, const void *pb) {
    const ParamSpec *a = pa, *b = pb;
    int ga = sd_group(a->name), gb = sd_group(b->name);
    if (ga != gb) return ga - gb;
    int ia = sd_index(a->name), ib = sd_index(b->name);
    if (ia != ib) return ia - ib;
    return a->field - b->field;
}

/* The fields and state-dict specs of configuration c (its tp decides the shapes): every
 * consumer (carving, checkpoints, optimizer decay flags, tests) reads these instead of listing
 * tensors again. */
static void build_specs(const VitConfig *c, FieldSpec *fields, ParamSpec **specs_out, int *nspecs_out,
                        int64_t *n_out) {
    int cap = 0, nspecs = 0;
#define COUNT(f_, name_, reps_, mul_, add_, present_, init_, decay_, nd_, d0_, d1_, d2_, d3_) \
    if (present_) cap += (reps_);
    VIT_PARAM_TABLE(COUNT, c)
#undef COUNT
    ParamSpec *specs = xcalloc((size_t)(cap ? cap : 1), sizeof(ParamSpec));
    int64_t off = 0;
    /* memory: the fields outside the blocks first, then the block fields, so that the blocks are
     * one region at the end (ZeRO-3 keeps them sharded and allocates only what comes before) */
#define EXPAND(f_, name_, reps_, mul_, add_, present_, init_, decay_, nd_, d0_, d1_, d2_, d3_) \
    if ((PF_##f_ >= PF_n1_w && PF_##f_ <= PF_fc2_b) == pass) {                                 \
        FieldSpec *fs = &fields[PF_##f_];                                                      \
        fs->field_name = #f_;                                                                  \
        fs->present = (present_);                                                              \
        fs->decay = (decay_);                                                                  \
        fs->offset = off;                                                                      \
        fs->numel = 0;                                                                         \
        if (fs->present) {                                                                     \
            int64_t shp[4] = {(d0_), (d1_), (d2_), (d3_)};                                     \
            int64_t ne = 1;                                                                    \
            for (int i = 0; i < (nd_); i++) ne *= shp[i];                                      \
            for (int r = 0; r < (reps_); r++) {                                                \
                ParamSpec *ps = &specs[nspecs++];                                              \
                snprintf(ps->name, sizeof ps->name, name_, r * (mul_) + (add_));               \
                ps->field = PF_##f_;                                                           \
                ps->rep = r;                                                                   \
                ps->ndim = (nd_);                                                              \
                memcpy(ps->shape, shp, sizeof shp);                                            \
                ps->numel = ne;                                                                \
                ps->offset = off;                                                              \
                ps->init = (init_);                                                            \
                ps->decay = (decay_);                                                          \
                off += ne;                                                                     \
                fs->numel += ne;                                                               \
            }                                                                                  \
        }                                                                                      \
    }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-extra-args"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    for (int pass = 0; pass < 2; pass++) {
        VIT_PARAM_TABLE(EXPAND, c)
    }
#pragma GCC diagnostic pop
#undef EXPAND
    qsort(specs, (size_t)nspecs, sizeof *specs, sd_cmp);
    *specs_out = specs;
    *nspecs_out = nspecs;
    *n_out = off;
}

static int seg_cmp(const void *pa, const void *pb) {
    const VitSeg *a = pa, *b = pb;
    return (a->local > b->local) - (a->local < b->local);
}

/* The pieces of local tensor l (tp rank r of T) in canonical tensor g, appended to s. */
static int tensor_segments(const VitConfig *c, const ParamSpec *l, const ParamSpec *g, int r, int T, VitSeg *s) {
    const TpSplit split = T > 1 ? vit_field_split(c, l->field) : TP_NONE;
    int n = 0;
    if (split == TP_NONE || split == TP_REPS) { /* a whole tensor (TP_REPS: g is the rank's own one) */
        s[n++] = (VitSeg){l->offset, g->offset, l->numel, split == TP_REPS};
    } else if (split == TP_ROWS3 || split == TP_ROWS) {
        /* rows [out, in...]: TP_ROWS3 has q, k, v parts of shape[0]/3 rows each, the rank takes
         * rows [r*n, (r+1)*n) of each part (its heads) */
        const int parts = split == TP_ROWS3 ? 3 : 1;
        const int64_t cols = l->numel / l->shape[0], rl = l->shape[0] / parts, rg = g->shape[0] / parts;
        for (int j = 0; j < parts; j++) s[n++] = (VitSeg){l->offset + j * rl * cols, g->offset + (j * rg + r * rl) * cols, rl * cols, 1};
    } else if (split == TP_VROWS) { /* [1, V, D]: the rank's channels [r*Vl, (r+1)*Vl) */
        s[n++] = (VitSeg){l->offset, g->offset + r * l->numel, l->numel, 1};
    } else { /* TP_COLS: [out, in] with the rank's input columns [r*kl, (r+1)*kl) of every row */
        const int64_t kl = l->shape[1], kg = g->shape[1];
        for (int64_t i = 0; i < l->shape[0]; i++) s[n++] = (VitSeg){l->offset + i * kl, g->offset + i * kg + r * kl, kl, 1};
    }
    return n;
}

void vit_params_layout(const VitConfig *c, int tp_rank, FieldSpec *fields, int64_t *n_params, ParamSpec **specs_out,
                       int *nspecs_out, int64_t *n_canon, VitSeg **seg, int *nseg) {
    const int T = vit_tp(c);
    VitConfig canon = *c;
    canon.tp = canon.pp = canon.pp_stage = 0;
    FieldSpec cf[PF_COUNT];
    ParamSpec *specs;
    int nspecs;
    build_specs(&canon, cf, &specs, &nspecs, n_canon);
    ParamSpec *ls;
    int nl;
    build_specs(c, fields, &ls, &nl, n_params);
    /* the canonical tensor of each local one: the same field and repeat, offset by the rank's
     * first repeat where the tensors themselves are split (D-CHAG's channels) */
    int maxrep = 1;
    for (int i = 0; i < nspecs; i++) maxrep = specs[i].rep + 1 > maxrep ? specs[i].rep + 1 : maxrep;
    int *byrep = xcalloc((size_t)PF_COUNT * (size_t)maxrep, sizeof *byrep);
    for (int i = 0; i < nspecs; i++) byrep[(size_t)specs[i].field * maxrep + specs[i].rep] = i;
    int64_t cap = 0;
    for (int i = 0; i < nl; i++) cap += T > 1 && vit_field_split(c, ls[i].field) == TP_COLS ? ls[i].shape[0] : 3;
    VitSeg *s = xcalloc((size_t)(cap ? cap : 1), sizeof *s);
    int n = 0;
    for (int i = 0; i < nl; i++) {
        const int f = ls[i].field, split = T > 1 ? vit_field_split(c, f) : TP_NONE;
        /* D-CHAG's tensors: the rank's run of them; a pipeline stage's blocks: from its first block on */
        const int reps = (int)(fields[f].numel / ls[i].numel),
                  rep = ls[i].rep + (split == TP_REPS ? tp_rank * reps : 0) +
                        (f >= PF_n1_w && f <= PF_fc2_b ? vit_block0(c) : 0);
        const ParamSpec *g = &specs[byrep[(size_t)f * maxrep + rep]];
        CHECK(g->field == f && g->rep == rep, "model-parallel layout: no canonical tensor for %s", ls[i].name);
        n += tensor_segments(c, &ls[i], g, tp_rank, T, s + n);
    }
    free(byrep);
    qsort(s, (size_t)n, sizeof *s, seg_cmp);
    int k = 0; /* merge pieces that continue each other in both vectors */
    for (int i = 0; i < n; i++) {
        if (k && s[k - 1].sharded == s[i].sharded && s[k - 1].local + s[k - 1].len == s[i].local &&
            s[k - 1].canon + s[k - 1].len == s[i].canon)
            s[k - 1].len += s[i].len;
        else
            s[k++] = s[i];
    }
    *seg = s;
    *nseg = k;
    *specs_out = specs;
    *nspecs_out = nspecs;
    free(ls);
}

void vit_params_carve(const FieldSpec *fields, VitParams *out, float *mem) {
#define CARVE(f, ...) out->f = fields[PF_##f].present ? mem + fields[PF_##f].offset : NULL;
    VIT_PARAM_TABLE(CARVE, (const VitConfig *)0)
#undef CARVE
}

/* Layer l of the 12 fields of a block family (the first block's fields, in BlockParams order). */
static void block_of(const VitConfig *c, int64_t l, const BlockParams *first, BlockParams *o) {
    const int64_t D = c->D, F = vit_Ft(c), Dt = vit_Dt(c);
    *o = (BlockParams){first->n1_w + l * D, first->n1_b + l * D, first->qkv_w + l * 3 * Dt * D,
                       first->qkv_b + l * 3 * Dt, first->proj_w + l * D * Dt, first->proj_b + l * D,
                       first->n2_w + l * D, first->n2_b + l * D, first->fc1_w + l * F * D, first->fc1_b + l * F,
                       first->fc2_w + l * D * F, first->fc2_b + l * D};
}

void vit_block_view(const VitParams *t, const VitConfig *c, int l, BlockParams *o) {
    const BlockParams f = {t->n1_w, t->n1_b, t->qkv_w, t->qkv_b, t->proj_w, t->proj_b,
                           t->n2_w, t->n2_b, t->fc1_w, t->fc1_b, t->fc2_w, t->fc2_b};
    block_of(c, l, &f, o);
}

void vit_dec_block_view(const VitParams *t, const VitConfig *c, int j, BlockParams *o) {
    const BlockParams f = {t->dn1_w, t->dn1_b, t->dqkv_w, t->dqkv_b, t->dproj_w, t->dproj_b,
                           t->dn2_w, t->dn2_b, t->dfc1_w, t->dfc1_b, t->dfc2_w, t->dfc2_b};
    block_of(c, j, &f, o);
}

/* MAE/ClimaX 1-D sin-cos embedding of one position into D values: sin half then cos half. */
static void sincos_1d(float *out, int D, double pos) {
    int half = D / 2;
    for (int i = 0; i < half; i++) {
        double omega = 1.0 / pow(10000.0, (double)i / half);
        out[i] = (float)sin(pos * omega);
        out[half + i] = (float)cos(pos * omega);
    }
}

/* The random stream of a tensor depends only on the seed and its name, so a tensor's initial
 * value does not change when other tensors are added, removed or sharded. */
static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void init_tensor(float *w, const ParamSpec *ps, const VitConfig *c, uint64_t seed) {
    Rng r;
    rng_seed_stream(&r, seed, name_hash(ps->name));
    switch (ps->init) {
    case INIT_ZERO: memset(w, 0, (size_t)ps->numel * sizeof(float)); break;
    case INIT_ONE:
        for (int64_t i = 0; i < ps->numel; i++) w[i] = 1.0f;
        break;
    case INIT_TRUNC02:
        for (int64_t i = 0; i < ps->numel; i++) w[i] = (float)rng_trunc_normal(&r, 0.02);
        break;
    case INIT_XAVIER: {
        double bound = sqrt(6.0 / (double)(ps->shape[0] + ps->shape[1]));
        for (int64_t i = 0; i < ps->numel; i++) w[i] = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
        break;
    }
    case INIT_CONV: {
        const double bound = 1.0 / sqrt((double)(ps->shape[1] * ps->shape[2] * ps->shape[3]));
        for (int64_t i = 0; i < ps->numel; i++) w[i] = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
        break;
    }
    case INIT_VAR_SINCOS:
        for (int64_t v = 0; v < ps->numel / c->D; v++) sincos_1d(w + v * c->D, c->D, (double)v); /* V or G rows */
        break;
    case INIT_POS_SINCOS: {
        /* MAE get_2d_sincos_pos_embed: first half encodes the column, second half the row. */
        int gh = c->H / c->p, gw = c->W / c->p;
        for (int i = 0; i < gh; i++)
            for (int j = 0; j < gw; j++) {
                float *e = w + ((int64_t)i * gw + j) * c->D;
                sincos_1d(e, c->D / 2, j);
                sincos_1d(e + c->D / 2, c->D / 2, i);
            }
        break;
    }
    }
}

void vit_params_init_canonical(const VitConfig *c, const ParamSpec *specs, int nspecs, uint64_t seed, float *canon) {
    for (int i = 0; i < nspecs; i++) init_tensor(canon + specs[i].offset, &specs[i], c, seed);
}
