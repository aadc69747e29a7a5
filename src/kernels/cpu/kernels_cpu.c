/* The CPU kernel table: fp32 kernels from ops_cpu.c, embed_cpu.c and upsample_cpu.c and classify_cpu.c, flash
 * attention from attention/flash_cpu.c. */
#include "kernels/kernels.h"

#include "attention/attention.h"
#include "kernels/cpu/ops_cpu.h"

static void sync_cpu(void) {}

static const Kernels g_cpu = {
    .name = "cpu",
    .alloc = alloc_cpu,
    .free = free_cpu,
    .zero = zero_cpu,
    .copy = copy_cpu,
    .upload = upload_cpu,
    .download = download_cpu,
    .sync = sync_cpu,
    .linear_fwd = linear_fwd_cpu,
    .linear_bwd = linear_bwd_cpu,
    .layernorm_fwd = layernorm_fwd_cpu,
    .layernorm_bwd = layernorm_bwd_cpu,
    .gelu_fwd = gelu_fwd_cpu,
    .gelu_bwd = gelu_bwd_cpu,
    .add_inplace = add_inplace_cpu,
    .lerp = lerp_cpu,
    .patch_embed_fwd = patch_embed_fwd_cpu,
    .patch_embed_bwd = patch_embed_bwd_cpu,
    .pos_lead_fwd = pos_lead_fwd_cpu,
    .pos_lead_bwd = pos_lead_bwd_cpu,
    .var_attn_fwd = var_attn_fwd_cpu,
    .var_attn_bwd = var_attn_bwd_cpu,
    .unpatchify = unpatchify_cpu,
    .patchify = patchify_cpu,
    .mse_loss = mse_loss_cpu,
    .token_mean_fwd = token_mean_fwd_cpu,
    .token_mean_bwd = token_mean_bwd_cpu,
    .class_loss = class_loss_cpu,
    .conv3x3_fwd = conv3x3_fwd_cpu,
    .conv3x3_bwd = conv3x3_bwd_cpu,
    .pixel_shuffle_fwd = pixel_shuffle_fwd_cpu,
    .pixel_shuffle_bwd = pixel_shuffle_bwd_cpu,
    .tv_loss = tv_loss_cpu,
    .sumsq = sumsq_cpu,
    .scale = scale_cpu,
    .adamw = adamw_cpu,
    .attn_ws_floats = attn_workspace_floats_cpu,
    .attn_fwd = attn_fwd_cpu,
    .attn_bwd = attn_bwd_cpu,
    .attn_merge = attn_merge_cpu,
};

const Kernels *kernels_cpu(void) { return &g_cpu; }
