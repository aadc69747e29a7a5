/* The CUDA kernel table (fp32, the backend's checking mode): the launchers of the .cu files in
 * this folder behind the same contracts as the CPU table, so the model code runs unchanged on
 * the GPU. Plain C: in builds without CUDA the launchers are cuda_none.c's and kernels_cuda
 * reports that there is no device. */
#include <stdio.h>
#include "kernels/cuda/ops_cuda.h"
#include "kernels/kernels.h"

/* the CUDA patch embedding reads the image directly: no im2col scratch */
static void patch_fwd(float *tok, const float *x, const float *w, const float *bias, const float *var_embed, int B,
                      int V, int H, int W, int p, int D, float *ws) {
    (void)ws;
    patch_embed_fwd_cuda(tok, x, w, bias, var_embed, B, V, H, W, p, D);
}

static void patch_bwd(float *dw, float *dbias, float *dvar_embed, const float *dtok, const float *x, int B, int V,
                      int H, int W, int p, int D, float *ws) {
    (void)ws;
    patch_embed_bwd_cuda(dw, dbias, dvar_embed, dtok, x, B, V, H, W, p, D);
}

/* the CUDA 3x3 convolution is direct: no im2col scratch either */
static void conv_fwd(float *out, const float *in, const float *w, const float *bias, int64_t B, int64_t Cin,
                     int64_t Cout, int64_t H, int64_t W, float *ws) {
    (void)ws;
    conv3x3_fwd_cuda(out, in, w, bias, B, Cin, Cout, H, W);
}

static void conv_bwd(float *din, float *dw, float *dbias, const float *dout, const float *in, const float *w,
                     int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W, float *ws) {
    (void)ws;
    conv3x3_bwd_cuda(din, dw, dbias, dout, in, w, B, Cin, Cout, H, W);
}

static const Kernels g_cuda = {
    .name = "cuda",
    .alloc = cuda_alloc,
    .free = cuda_free,
    .zero = cuda_zero,
    .copy = cuda_copy,
    .upload = cuda_upload,
    .download = cuda_download,
    .sync = cuda_sync,
    .linear_fwd = linear_fwd_cuda,
    .linear_bwd = linear_bwd_cuda,
    .layernorm_fwd = layernorm_fwd_cuda,
    .layernorm_bwd = layernorm_bwd_cuda,
    .gelu_fwd = gelu_fwd_cuda,
    .gelu_bwd = gelu_bwd_cuda,
    .add_inplace = add_inplace_cuda,
    .lerp = lerp_cuda,
    .patch_embed_fwd = patch_fwd,
    .patch_embed_bwd = patch_bwd,
    .pos_lead_fwd = pos_lead_fwd_cuda,
    .pos_lead_bwd = pos_lead_bwd_cuda,
    .var_attn_fwd = var_attn_fwd_cuda,
    .var_attn_bwd = var_attn_bwd_cuda,
    .unpatchify = unpatchify_cuda,
    .patchify = patchify_cuda,
    .mse_loss = mse_loss_cuda,
    .token_mean_fwd = token_mean_fwd_cuda,
    .token_mean_bwd = token_mean_bwd_cuda,
    .class_loss = class_loss_cuda,
    .conv3x3_fwd = conv_fwd,
    .conv3x3_bwd = conv_bwd,
    .pixel_shuffle_fwd = pixel_shuffle_fwd_cuda,
    .pixel_shuffle_bwd = pixel_shuffle_bwd_cuda,
    .tv_loss = tv_loss_cuda,
    .sumsq = sumsq_cuda,
    .scale = scale_cuda,
    .adamw = adamw_cuda,
    .attn_ws_floats = attn_ws_floats_cuda,
    .attn_fwd = attn_fwd_cuda,
    .attn_bwd = attn_bwd_cuda,
    .attn_merge = attn_merge_cuda,
};

const Kernels *kernels_cuda(char *err, size_t errlen) {
    if (cuda_device_count(err, errlen) < 1) return NULL;
    return &g_cuda;
}
