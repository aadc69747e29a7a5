/* A timing wrapper around any kernel table: one entry per op, same signatures. Each call also
 * adds its flops and least bytes (kernels/profile_cost.c says what is counted per op), for the
 * roofline table of lvit bench --profile. */
#include <stdio.h>
#include <string.h>
#include "core/log.h"
#include "kernels/kernels.h"
#include "kernels/profile_cost.h"

enum {
    P_zero, P_copy, P_linear_fwd, P_linear_bwd, P_layernorm_fwd, P_layernorm_bwd, P_gelu_fwd, P_gelu_bwd,
    P_add_inplace, P_lerp, P_patch_embed_fwd, P_patch_embed_bwd, P_pos_lead_fwd, P_pos_lead_bwd, P_var_attn_fwd,
    P_var_attn_bwd, P_unpatchify, P_mse_loss, P_sumsq, P_scale, P_adamw, P_attn_fwd, P_attn_bwd, P_attn_merge, P_patchify,
    P_conv3x3_fwd, P_conv3x3_bwd, P_pixel_shuffle_fwd, P_pixel_shuffle_bwd, P_tv_loss, P_token_mean_fwd, P_token_mean_bwd, P_class_loss, P_N
};
_Static_assert((int)P_N <= (int)KERNELS_PROFILE_MAX_OPS, "KERNELS_PROFILE_MAX_OPS holds every op");
static const char *g_names[P_N] = {
    "zero", "copy", "linear_fwd", "linear_bwd", "layernorm_fwd", "layernorm_bwd", "gelu_fwd", "gelu_bwd",
    "add_inplace", "lerp", "patch_embed_fwd", "patch_embed_bwd", "pos_lead_fwd", "pos_lead_bwd", "var_attn_fwd",
    "var_attn_bwd", "unpatchify", "mse_loss", "sumsq", "scale", "adamw", "attn_fwd", "attn_bwd", "attn_merge", "patchify",
    "conv3x3_fwd", "conv3x3_bwd", "pixel_shuffle_fwd", "pixel_shuffle_bwd", "tv_loss", "token_mean_fwd", "token_mean_bwd", "class_loss"};
static double g_time[P_N], g_flops[P_N], g_bytes[P_N];
static long g_calls[P_N];
static const Kernels *g_base;
static Kernels g_prof;

#define T0 double t0_ = now_sec()
/* the cost is computed after the clock stops, so that it is not timed */
#define T1(id, cost)                                                                                   \
    do {                                                                                               \
        g_base->sync();                                                                                \
        g_time[id] += now_sec() - t0_;                                                                 \
        g_calls[id]++;                                                                                 \
        const OpCost c_ = cost;                                                                        \
        g_flops[id] += c_.flops, g_bytes[id] += c_.bytes;                                              \
    } while (0)

static void p_zero(float *x, int64_t n) {
    T0;
    g_base->zero(x, n);
    T1(P_zero, cost_zero(n));
}
static void p_copy(float *d, const float *s, int64_t n) {
    T0;
    g_base->copy(d, s, n);
    T1(P_copy, cost_copy(n));
}
static void p_linear_fwd(float *o, const float *i, const float *w, const float *b, int64_t M, int64_t K, int64_t N,
                         int acc) {
    T0;
    g_base->linear_fwd(o, i, w, b, M, K, N, acc);
    T1(P_linear_fwd, cost_linear_fwd(M, K, N, b != NULL, acc));
}
static void p_linear_bwd(float *di, float *dw, float *db, const float *dout, const float *in, const float *w,
                         int64_t M, int64_t K, int64_t N) {
    T0;
    g_base->linear_bwd(di, dw, db, dout, in, w, M, K, N);
    T1(P_linear_bwd, cost_linear_bwd(di != NULL, dw != NULL, db != NULL, M, K, N));
}
static void p_layernorm_fwd(float *o, float *mu, float *rs, const float *in, const float *w, const float *b, int64_t M,
                            int64_t C, float eps) {
    T0;
    g_base->layernorm_fwd(o, mu, rs, in, w, b, M, C, eps);
    T1(P_layernorm_fwd, cost_layernorm_fwd(M, C));
}
static void p_layernorm_bwd(float *di, float *dw, float *db, const float *dout, const float *in, const float *w,
                            const float *mu, const float *rs, int64_t M, int64_t C) {
    T0;
    g_base->layernorm_bwd(di, dw, db, dout, in, w, mu, rs, M, C);
    T1(P_layernorm_bwd, cost_layernorm_bwd(di != NULL, dw != NULL, db != NULL, M, C));
}
static void p_gelu_fwd(float *o, const float *i, int64_t n) {
    T0;
    g_base->gelu_fwd(o, i, n);
    T1(P_gelu_fwd, cost_gelu_fwd(n));
}
static void p_gelu_bwd(float *di, const float *d, const float *i, int64_t n) {
    T0;
    g_base->gelu_bwd(di, d, i, n);
    T1(P_gelu_bwd, cost_gelu_bwd(n));
}
static void p_add_inplace(float *y, const float *x, int64_t n) {
    T0;
    g_base->add_inplace(y, x, n);
    T1(P_add_inplace, cost_add_inplace(n));
}
static void p_patch_embed_fwd(float *tok, const float *x, const float *w, const float *b, const float *ve, int B, int V,
                              int H, int W, int p, int D, float *ws) {
    T0;
    g_base->patch_embed_fwd(tok, x, w, b, ve, B, V, H, W, p, D, ws);
    T1(P_patch_embed_fwd, cost_patch_embed_fwd(B, V, H, W, p, D));
}
static void p_patch_embed_bwd(float *dw, float *db, float *dve, const float *dtok, const float *x, int B, int V, int H,
                              int W, int p, int D, float *ws) {
    T0;
    g_base->patch_embed_bwd(dw, db, dve, dtok, x, B, V, H, W, p, D, ws);
    T1(P_patch_embed_bwd, cost_patch_embed_bwd(dw != NULL, db != NULL, dve != NULL, B, V, H, W, p, D));
}
static void p_pos_lead_fwd(float *x, const float *pos, const float *lw, const float *lb, const float *lead, int B,
                           int64_t T, int64_t L, int D) {
    T0;
    g_base->pos_lead_fwd(x, pos, lw, lb, lead, B, T, L, D);
    T1(P_pos_lead_fwd, cost_pos_lead_fwd(B, T, L, D));
}
static void p_pos_lead_bwd(float *dp, float *dlw, float *dlb, const float *dx, const float *lead, int B, int64_t T,
                           int64_t L, int D) {
    T0;
    g_base->pos_lead_bwd(dp, dlw, dlb, dx, lead, B, T, L, D);
    T1(P_pos_lead_bwd, cost_pos_lead_bwd(B, T, L, D));
}
static void p_var_attn_fwd(float *o, float *pr, const float *q, const float *kv, int B, int64_t L, int V, int NH, int D) {
    T0;
    g_base->var_attn_fwd(o, pr, q, kv, B, L, V, NH, D);
    T1(P_var_attn_fwd, cost_var_attn_fwd(B, L, V, NH, D));
}
static void p_var_attn_bwd(float *dq, float *dkv, const float *dout, const float *pr, const float *q, const float *kv,
                           int B, int64_t L, int V, int NH, int D) {
    T0;
    g_base->var_attn_bwd(dq, dkv, dout, pr, q, kv, B, L, V, NH, D);
    T1(P_var_attn_bwd, cost_var_attn_bwd(B, L, V, NH, D));
}
static void p_unpatchify(float *img, const float *pred, int B, int Vo, int H, int W, int p, int multi) {
    T0;
    g_base->unpatchify(img, pred, B, Vo, H, W, p, multi);
    T1(P_unpatchify, cost_rearrange(B, Vo, H, W));
}
static float p_mse_loss(float *dpred, const float *pred, const float *y, const float *mask, const float *wlat, int B,
                        int Vo, int H, int W, int p, int multi, float dloss, double denom, float *ws) {
    T0;
    float r = g_base->mse_loss(dpred, pred, y, mask, wlat, B, Vo, H, W, p, multi, dloss, denom, ws);
    T1(P_mse_loss, cost_mse_loss(mask != NULL, B, Vo, H, W));
    return r;
}
static void p_lerp(float *y, const float *x, float a, int64_t n) {
    T0;
    g_base->lerp(y, x, a, n);
    T1(P_lerp, cost_lerp(n));
}
static double p_sumsq(const float *x, int64_t n) {
    T0;
    double r = g_base->sumsq(x, n);
    T1(P_sumsq, cost_sumsq(n));
    return r;
}
static void p_scale(float *x, float s, int64_t n) {
    T0;
    g_base->scale(x, s, n);
    T1(P_scale, cost_scale(n));
}
static void p_adamw(float *p, float *m, float *v, const float *g, int64_t n, float lr, float b1, float b2, float eps,
                    float wd, float bc1, float bc2) {
    T0;
    g_base->adamw(p, m, v, g, n, lr, b1, b2, eps, wd, bc1, bc2);
    T1(P_adamw, cost_adamw(n));
}
static void p_attn_fwd(float *o, float *lse, const float *q, const float *k, const float *v, const AttnDims *dm, float *ws) {
    T0;
    g_base->attn_fwd(o, lse, q, k, v, dm, ws);
    T1(P_attn_fwd, cost_attn_fwd(dm));
}
static void p_attn_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k, const float *v,
                       const float *o, const float *lse, const AttnDims *dm, float *ws) {
    T0;
    g_base->attn_bwd(dq, dk, dv, dout, q, k, v, o, lse, dm, ws);
    T1(P_attn_bwd, cost_attn_bwd(dm));
}
static void p_attn_merge(float *o, float *lse, const float *o2, const float *lse2, const AttnDims *dm) {
    T0;
    g_base->attn_merge(o, lse, o2, lse2, dm);
    T1(P_attn_merge, cost_attn_merge(dm));
}

static void p_patchify(float *pred, const float *img, int B, int Vo, int H, int W, int p, int multi) {
    T0;
    g_base->patchify(pred, img, B, Vo, H, W, p, multi);
    T1(P_patchify, cost_rearrange(B, Vo, H, W));
}
static void p_conv3x3_fwd(float *out, const float *in, const float *w, const float *bias, int64_t B, int64_t Cin,
                          int64_t Cout, int64_t H, int64_t W, float *ws) {
    T0;
    g_base->conv3x3_fwd(out, in, w, bias, B, Cin, Cout, H, W, ws);
    T1(P_conv3x3_fwd, cost_conv3x3_fwd(bias != NULL, B, Cin, Cout, H, W));
}
static void p_conv3x3_bwd(float *din, float *dw, float *dbias, const float *dout, const float *in, const float *w,
                          int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W, float *ws) {
    T0;
    g_base->conv3x3_bwd(din, dw, dbias, dout, in, w, B, Cin, Cout, H, W, ws);
    T1(P_conv3x3_bwd, cost_conv3x3_bwd(din != NULL, dw != NULL, dbias != NULL, B, Cin, Cout, H, W));
}
static void p_pixel_shuffle_fwd(float *out, const float *in, int64_t B, int64_t C, int64_t H, int64_t W, int r) {
    T0;
    g_base->pixel_shuffle_fwd(out, in, B, C, H, W, r);
    T1(P_pixel_shuffle_fwd, cost_pixel_shuffle_fwd(B, C, H, W, r));
}
static void p_pixel_shuffle_bwd(float *din, const float *dout, int64_t B, int64_t C, int64_t H, int64_t W, int r) {
    T0;
    g_base->pixel_shuffle_bwd(din, dout, B, C, H, W, r);
    T1(P_pixel_shuffle_bwd, cost_pixel_shuffle_bwd(B, C, H, W, r));
}
static float p_tv_loss(float *dimg, const float *img, const float *vw, int B, int V, int H, int W, double denom,
                       float dloss) {
    T0;
    float r = g_base->tv_loss(dimg, img, vw, B, V, H, W, denom, dloss);
    T1(P_tv_loss, cost_tv_loss(dimg != NULL, vw != NULL, B, V, H, W));
    return r;
}

static void p_token_mean_fwd(float *o, const float *x, int B, int64_t S, int D, float scale) {
    T0;
    g_base->token_mean_fwd(o, x, B, S, D, scale);
    T1(P_token_mean_fwd, cost_token_mean(B, S, D, 0));
}
static void p_token_mean_bwd(float *dx, const float *dout, int B, int64_t S, int D, float scale) {
    T0;
    g_base->token_mean_bwd(dx, dout, B, S, D, scale);
    T1(P_token_mean_bwd, cost_token_mean(B, S, D, 1));
}
static float p_class_loss(float *g, const float *z, const float *y, const float *m, int B, int K, int multi, float dloss,
                          double denom) {
    T0;
    float r = g_base->class_loss(g, z, y, m, B, K, multi, dloss, denom);
    T1(P_class_loss, cost_class_loss(B, K));
    return r;
}

const Kernels *kernels_profiled(const Kernels *base) {
    g_base = base;
    g_prof = *base;
#define SET(f) g_prof.f = p_##f;
    SET(zero) SET(copy) SET(linear_fwd) SET(linear_bwd) SET(layernorm_fwd) SET(layernorm_bwd) SET(gelu_fwd)
    SET(gelu_bwd) SET(add_inplace) SET(lerp) SET(patch_embed_fwd) SET(patch_embed_bwd) SET(pos_lead_fwd) SET(pos_lead_bwd)
    SET(var_attn_fwd) SET(var_attn_bwd) SET(unpatchify) SET(mse_loss) SET(sumsq) SET(scale) SET(adamw) SET(attn_fwd)
    SET(attn_bwd) SET(attn_merge) SET(patchify) SET(conv3x3_fwd) SET(conv3x3_bwd) SET(pixel_shuffle_fwd)
    SET(pixel_shuffle_bwd) SET(tv_loss) SET(token_mean_fwd) SET(token_mean_bwd) SET(class_loss)
#undef SET
    return &g_prof;
}

void kernels_profile_reset(void) {
    memset(g_time, 0, sizeof g_time);
    memset(g_calls, 0, sizeof g_calls);
    memset(g_flops, 0, sizeof g_flops);
    memset(g_bytes, 0, sizeof g_bytes);
}

int kernels_profile_ops(KernelProfileOp *ops, int max) {
    int n = 0, used[P_N] = {0};
    while (n < max) {
        int best = -1;
        for (int i = 0; i < P_N; i++)
            if (g_calls[i] && !used[i] && (best < 0 || g_time[i] > g_time[best])) best = i;
        if (best < 0) break;
        used[best] = 1;
        ops[n++] = (KernelProfileOp){g_names[best], g_time[best], g_flops[best], g_bytes[best], g_calls[best]};
    }
    return n;
}
