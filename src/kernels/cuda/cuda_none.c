/* Builds without the CUDA toolkit (or sanitizer builds, where ASan and the CUDA runtime do not
 * mix): no device, and the launchers are never reached. */
#include <stdio.h>
#include "core/check.h"
#include "kernels/cuda/ops_cuda.h"

int cuda_device_count(char *err, size_t errlen) {
    if (err && errlen) snprintf(err, errlen, "this lvit was built without CUDA (install the CUDA toolkit and rebuild)");
    return 0;
}
void cuda_device_name(char *buf, size_t n) {
    if (buf && n) snprintf(buf, n, "none");
}
#define NO_CUDA(...) DIE("built without CUDA")
double cuda_mem_used(void) { return 0; }
void cuda_set_device(int i) { (void)i; }
void *cuda_alloc(size_t bytes) { (void)bytes; NO_CUDA(); }
void cuda_free(void *p) { (void)p; }
void cuda_zero(float *x, int64_t n) { (void)x, (void)n; NO_CUDA(); }
void cuda_copy(float *dst, const float *src, int64_t n) { (void)dst, (void)src, (void)n; NO_CUDA(); }
void cuda_upload(float *dst, const float *host, int64_t n) { (void)dst, (void)host, (void)n; NO_CUDA(); }
void cuda_download(float *host, const float *src, int64_t n) { (void)host, (void)src, (void)n; NO_CUDA(); }
void cuda_sync(void) {}
void gelu_fwd_cuda(float *out, const float *in, int64_t n) { (void)out, (void)in, (void)n; NO_CUDA(); }
void gelu_bwd_cuda(float *din, const float *dout, const float *in, int64_t n) { (void)din, (void)dout, (void)in, (void)n; NO_CUDA(); }
void add_inplace_cuda(float *y, const float *x, int64_t n) { (void)y, (void)x, (void)n; NO_CUDA(); }
void lerp_cuda(float *y, const float *x, float a, int64_t n) { (void)y, (void)x, (void)a, (void)n; NO_CUDA(); }
void scale_cuda(float *x, float s, int64_t n) { (void)x, (void)s, (void)n; NO_CUDA(); }
double sumsq_cuda(const float *x, int64_t n) { (void)x, (void)n; NO_CUDA(); }
void adamw_cuda(float *p, float *m, float *v, const float *g, int64_t n, float lr, float b1, float b2, float eps,
                float wd, float bc1, float bc2) {
    (void)p, (void)m, (void)v, (void)g, (void)n, (void)lr, (void)b1, (void)b2, (void)eps, (void)wd, (void)bc1, (void)bc2;
    NO_CUDA();
}
void layernorm_fwd_cuda(float *out, float *mean, float *rstd, const float *in, const float *w, const float *b,
                        int64_t M, int64_t C, float eps) {
    (void)out, (void)mean, (void)rstd, (void)in, (void)w, (void)b, (void)M, (void)C, (void)eps;
    NO_CUDA();
}
void layernorm_bwd_cuda(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                        const float *mean, const float *rstd, int64_t M, int64_t C) {
    (void)din, (void)dw, (void)db, (void)dout, (void)in, (void)w, (void)mean, (void)rstd, (void)M, (void)C;
    NO_CUDA();
}
void pos_lead_fwd_cuda(float *x, const float *pos, const float *lead_w, const float *lead_b, const float *lead,
                       int B, int64_t T, int64_t L, int D) {
    (void)x, (void)pos, (void)lead_w, (void)lead_b, (void)lead, (void)B, (void)T, (void)L, (void)D;
    NO_CUDA();
}
void pos_lead_bwd_cuda(float *dpos, float *dlead_w, float *dlead_b, const float *dx, const float *lead, int B,
                       int64_t T, int64_t L, int D) {
    (void)dpos, (void)dlead_w, (void)dlead_b, (void)dx, (void)lead, (void)B, (void)T, (void)L, (void)D;
    NO_CUDA();
}
void unpatchify_cuda(float *img, const float *pred, int B, int Vo, int H, int W, int p, int multi) {
    (void)img, (void)pred, (void)B, (void)Vo, (void)H, (void)W, (void)p, (void)multi;
    NO_CUDA();
}
void patchify_cuda(float *pred, const float *img, int B, int Vo, int H, int W, int p, int multi) {
    (void)img, (void)pred, (void)B, (void)Vo, (void)H, (void)W, (void)p, (void)multi;
    NO_CUDA();
}
float mse_loss_cuda(float *dpred, const float *pred, const float *y, const float *mask, const float *wlat, int B,
                    int Vo, int H, int W, int p, int multi, float dloss, double denom, float *ws) {
    (void)dpred, (void)pred, (void)y, (void)mask, (void)wlat, (void)B, (void)Vo, (void)H, (void)W, (void)p;
    (void)multi, (void)dloss, (void)denom, (void)ws;
    NO_CUDA();
}
void token_mean_fwd_cuda(float *out, const float *x, int B, int64_t S, int D, float scale) {
    (void)out, (void)x, (void)B, (void)S, (void)D, (void)scale;
    NO_CUDA();
}
void token_mean_bwd_cuda(float *dx, const float *dout, int B, int64_t S, int D, float scale) {
    (void)dx, (void)dout, (void)B, (void)S, (void)D, (void)scale;
    NO_CUDA();
}
float class_loss_cuda(float *dlogits, const float *logits, const float *y, const float *mask, int B, int K, int multi,
                      float dloss, double denom) {
    (void)dlogits, (void)logits, (void)y, (void)mask, (void)B, (void)K, (void)multi, (void)dloss, (void)denom;
    NO_CUDA();
}
void var_attn_fwd_cuda(float *out, float *probs, const float *q, const float *kv, int B, int64_t L, int V, int NH,
                       int D) {
    (void)out, (void)probs, (void)q, (void)kv, (void)B, (void)L, (void)V, (void)NH, (void)D;
    NO_CUDA();
}
void var_attn_bwd_cuda(float *dq, float *dkv, const float *dout, const float *probs, const float *q, const float *kv,
                       int B, int64_t L, int V, int NH, int D) {
    (void)dq, (void)dkv, (void)dout, (void)probs, (void)q, (void)kv, (void)B, (void)L, (void)V, (void)NH, (void)D;
    NO_CUDA();
}
void patch_embed_fwd_cuda(float *tok, const float *x, const float *w, const float *bias, const float *var_embed,
                          int B, int V, int H, int W, int p, int D) {
    (void)tok, (void)x, (void)w, (void)bias, (void)var_embed, (void)B, (void)V, (void)H, (void)W, (void)p, (void)D;
    NO_CUDA();
}
void patch_embed_bwd_cuda(float *dw, float *dbias, float *dvar_embed, const float *dtok, const float *x, int B,
                          int V, int H, int W, int p, int D) {
    (void)dw, (void)dbias, (void)dvar_embed, (void)dtok, (void)x, (void)B, (void)V, (void)H, (void)W, (void)p, (void)D;
    NO_CUDA();
}
void linear_fwd_cuda(float *out, const float *in, const float *w, const float *bias, int64_t M, int64_t K, int64_t N,
                     int accumulate) {
    (void)out, (void)in, (void)w, (void)bias, (void)M, (void)K, (void)N, (void)accumulate;
    NO_CUDA();
}
void linear_bwd_cuda(float *din, float *dw, float *dbias, const float *dout, const float *in, const float *w,
                     int64_t M, int64_t K, int64_t N) {
    (void)din, (void)dw, (void)dbias, (void)dout, (void)in, (void)w, (void)M, (void)K, (void)N;
    NO_CUDA();
}
void linear_fwd_gelu_cuda(float *out, float *pre, const float *in, const float *w, const float *bias, int64_t M,
                          int64_t K, int64_t N) {
    (void)out, (void)pre, (void)in, (void)w, (void)bias, (void)M, (void)K, (void)N;
    NO_CUDA();
}
void conv3x3_fwd_cuda(float *out, const float *in, const float *w, const float *bias, int64_t B, int64_t Cin,
                      int64_t Cout, int64_t H, int64_t W) {
    (void)out, (void)in, (void)w, (void)bias, (void)B, (void)Cin, (void)Cout, (void)H, (void)W;
    NO_CUDA();
}
void conv3x3_bwd_cuda(float *din, float *dw, float *dbias, const float *dout, const float *in, const float *w,
                      int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
    (void)din, (void)dw, (void)dbias, (void)dout, (void)in, (void)w, (void)B, (void)Cin, (void)Cout, (void)H, (void)W;
    NO_CUDA();
}
void pixel_shuffle_fwd_cuda(float *out, const float *in, int64_t B, int64_t C, int64_t H, int64_t W, int r) {
    (void)out, (void)in, (void)B, (void)C, (void)H, (void)W, (void)r;
    NO_CUDA();
}
void pixel_shuffle_bwd_cuda(float *din, const float *dout, int64_t B, int64_t C, int64_t H, int64_t W, int r) {
    (void)din, (void)dout, (void)B, (void)C, (void)H, (void)W, (void)r;
    NO_CUDA();
}
float tv_loss_cuda(float *dimg, const float *img, const float *vw, int B, int V, int H, int W, double denom,
                   float dloss) {
    (void)dimg, (void)img, (void)vw, (void)B, (void)V, (void)H, (void)W, (void)denom, (void)dloss;
    NO_CUDA();
}
size_t attn_ws_floats_cuda(const AttnDims *dm, int nthreads) {
    (void)dm, (void)nthreads;
    return 0;
}
void attn_fwd_cuda(float *o, float *lse, const float *q, const float *k, const float *v, const AttnDims *dm,
                   float *ws) {
    (void)o, (void)lse, (void)q, (void)k, (void)v, (void)dm, (void)ws;
    NO_CUDA();
}
void attn_bwd_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k, const float *v,
                   const float *o, const float *lse, const AttnDims *dm, float *ws) {
    (void)dq, (void)dk, (void)dv, (void)dout, (void)q, (void)k, (void)v, (void)o, (void)lse, (void)dm, (void)ws;
    NO_CUDA();
}
void attn_merge_cuda(float *o, float *lse, const float *o2, const float *lse2, const AttnDims *dm) {
    (void)o, (void)lse, (void)o2, (void)lse2, (void)dm;
    NO_CUDA();
}
