/* The flops and least bytes of one call of each kernel-table op (kernels/profile_cost.h).
 * Conventions: sizes in floats, times 4 for bytes. Matrix products count 2 flops per
 * multiply-add and nothing for their bias adds or column sums (the convention of the model's
 * FLOP count, vit_flops_per_sample in model/vit.c), so the linear ops' flops add up to the model's. An output written
 * with += counts twice (read and written). A NULL gradient ("not wanted") costs nothing. */
#include "kernels/profile_cost.h"

static OpCost oc(double flops, double floats) { return (OpCost){flops, 4.0 * floats}; }

OpCost cost_zero(int64_t n) { return oc(0, (double)n); }
OpCost cost_copy(int64_t n) { return oc(0, 2.0 * n); }

/* out[M,N] (+)= in[M,K] W[N,K]^T (+ bias[N]): 2MKN flops; in, W, bias read, out written
 * (and read when accumulating). */
OpCost cost_linear_fwd(int64_t M, int64_t K, int64_t N, int bias, int accumulate) {
    const double m = (double)M, k = (double)K, n = (double)N;
    return oc(2 * m * k * n, m * k + k * n + m * n * (accumulate ? 2 : 1) + (bias ? n : 0));
}

/* din += dout W (2MKN flops; W read, din read and written), dw += dout^T in (2MKN; in read, dw
 * read and written), dbias += colsum(dout) (not counted as flops; dbias read and written);
 * dout is read once for all of them. */
OpCost cost_linear_bwd(int din, int dw, int db, int64_t M, int64_t K, int64_t N) {
    const double m = (double)M, k = (double)K, n = (double)N;
    double f = 0, b = m * n;
    if (din) f += 2 * m * k * n, b += n * k + 2 * m * k;
    if (dw) f += 2 * m * k * n, b += m * k + 2 * n * k;
    if (db) b += 2 * n;
    return oc(f, b);
}

/* 8 flops per element (mean 1, variance 3, normalize 2, affine 2); in read, out written,
 * w and b read, mean and rstd written. */
OpCost cost_layernorm_fwd(int64_t M, int64_t C) {
    const double m = (double)M, c = (double)C;
    return oc(8 * m * c, 2 * m * c + 2 * c + 2 * m);
}

/* 14 flops per element; dout, in, mean, rstd read; din (with w) and dw, db read and written. */
OpCost cost_layernorm_bwd(int din, int dw, int db, int64_t M, int64_t C) {
    const double m = (double)M, c = (double)C;
    double b = 2 * m * c + 2 * m;
    if (din) b += 2 * m * c + c;
    if (dw) b += 2 * c;
    if (db) b += 2 * c;
    return oc(14 * m * c, b);
}

/* exact GELU: a nominal 8 flops per element (erf counted as 4); in read, out written. */
OpCost cost_gelu_fwd(int64_t n) { return oc(8.0 * n, 2.0 * n); }
/* 12 flops per element; dout and in read, din read and written. */
OpCost cost_gelu_bwd(int64_t n) { return oc(12.0 * n, 4.0 * n); }
/* y += x: 1 flop; x read, y read and written. */
OpCost cost_add_inplace(int64_t n) { return oc((double)n, 3.0 * n); }
/* y += a (x - y): 3 flops; as add_inplace. */
OpCost cost_lerp(int64_t n) { return oc(3.0 * n, 3.0 * n); }

/* A per-variable Conv2d with kernel = stride = p is a product [B*L, p*p] x [p*p, D] per variable:
 * 2 B V H W D flops (H W = L p p), plus 2 adds per token element (bias, variable embedding).
 * x, w, bias, var_embed read; tok [B,V,L,D] written. */
OpCost cost_patch_embed_fwd(int B, int V, int H, int W, int p, int D) {
    const double L = (double)(H / p) * (W / p), bv = (double)B * V;
    return oc(2 * bv * H * W * D + 2 * bv * L * D, bv * H * W + (double)V * D * p * p + 2.0 * V * D + bv * L * D);
}

/* dw += (2 B V H W D flops; x read, dw read and written); dbias, dvar_embed += column sums
 * (B V L D adds each; read and written); dtok read. */
OpCost cost_patch_embed_bwd(int dw, int db, int dve, int B, int V, int H, int W, int p, int D) {
    const double L = (double)(H / p) * (W / p), bv = (double)B * V;
    double f = 0, b = bv * L * D;
    if (dw) f += 2 * bv * H * W * D, b += bv * H * W + 2.0 * V * D * p * p;
    if (db) f += bv * L * D, b += 2.0 * V * D;
    if (dve) f += bv * L * D, b += 2.0 * V * D;
    return oc(f, b);
}

/* x += pos + lead_w lead + lead_b: 4 flops per element of x [B,T,D] (read and written); pos
 * [L,D], lead_w, lead_b [D], lead [B] read. */
OpCost cost_pos_lead_fwd(int B, int64_t T, int64_t L, int D) {
    const double btd = (double)B * T * D;
    return oc(4 * btd, 2 * btd + (double)L * D + 2.0 * D + B);
}

/* dpos, dlead_w, dlead_b += (4 flops per element of dx [B,T,D], read); dpos [L,D], dlead_w,
 * dlead_b [D] read and written; lead [B] read. */
OpCost cost_pos_lead_bwd(int B, int64_t T, int64_t L, int D) {
    const double btd = (double)B * T * D;
    return oc(4 * btd, btd + 2.0 * L * D + 4.0 * D + B);
}

/* One query over V tokens per location and head: scores and the weighted sum, 2 V d flops
 * each, and a nominal 4 per score for the softmax; summed over heads 4 V D + 4 V NH per location.
 * q [D], kv [B,V,L,2,D] read; out [B,L,D], probs [B,L,NH,V] written. */
OpCost cost_var_attn_fwd(int B, int64_t L, int V, int NH, int D) {
    const double bl = (double)B * L;
    return oc(bl * (4.0 * V * D + 4.0 * V * NH), D + bl * (2.0 * V * D + D + (double)NH * V));
}

/* dprobs, dv, dq and dk, 2 V d flops each, and 4 per score for the softmax's backward; dout,
 * probs, q, kv read; dq [D] and dkv [B,V,L,2,D] read and written. */
OpCost cost_var_attn_bwd(int B, int64_t L, int V, int NH, int D) {
    const double bl = (double)B * L;
    return oc(bl * (8.0 * V * D + 4.0 * V * NH), 3.0 * D + bl * (D + (double)NH * V + 6.0 * V * D));
}

/* A permutation of B Vo H W floats: read once, written once. */
OpCost cost_rearrange(int B, int Vo, int H, int W) { return oc(0, 2.0 * B * Vo * H * W); }

/* 7 flops per cell (difference, square, latitude weight, mask, sum, gradient 2); pred, y (and
 * mask) read, wlat [H] read, dpred written. */
OpCost cost_mse_loss(int mask, int B, int Vo, int H, int W) {
    const double n = (double)B * Vo * H * W;
    return oc(7 * n, (mask ? 4 : 3) * n + H);
}

/* sum of squares: 2 flops, x read. */
OpCost cost_sumsq(int64_t n) { return oc(2.0 * n, (double)n); }
/* x *= s: 1 flop, x read and written. */
OpCost cost_scale(int64_t n) { return oc((double)n, 2.0 * n); }
/* AdamW: a nominal 16 flops per parameter (decay 1, moments 7, update 8 with the sqrt and
 * division counted as 1 each); p, m, v read and written, g read. */
OpCost cost_adamw(int64_t n) { return oc(16.0 * n, 7.0 * n); }

/* Non-causal attention, QK^T and PV: 4 B NH Sq Sk d flops (the softmax's exp not counted);
 * q [B,Sq,NH,d], k, v [B,Sk,NH,d] read, o written, lse [B,NH,Sq] written. */
OpCost cost_attn_fwd(const AttnDims *dm) {
    const double bh = (double)dm->B * dm->NH, sq = (double)dm->Sq, sk = (double)dm->Sk, d = dm->d;
    return oc(4 * bh * sq * sk * d, bh * (2 * sq * d + 2 * sk * d + sq));
}

/* The backward recomputes QK^T and forms dV, dP, dQ and dK: 2.5 times the forward's flops,
 * 10 B NH Sq Sk d. dout, q, o, lse, k, v read; dq, dk, dv read and written (+=). */
OpCost cost_attn_bwd(const AttnDims *dm) {
    const double bh = (double)dm->B * dm->NH, sq = (double)dm->Sq, sk = (double)dm->Sk, d = dm->d;
    return oc(10 * bh * sq * sk * d, bh * (5 * sq * d + 6 * sk * d + sq));
}

/* Per row a nominal 10 flops for the two exponentials and the log-sum, 3 per element of o;
 * o and lse read and written, o2 and lse2 read. */
OpCost cost_attn_merge(const AttnDims *dm) {
    const double rows = (double)dm->B * dm->NH * dm->Sq, d = dm->d;
    return oc(rows * (3 * d + 10), rows * (3 * d + 3));
}

/* 18 B Cin Cout H W flops (+ a bias add per output); in, w (and bias) read, out written. */
OpCost cost_conv3x3_fwd(int bias, int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
    const double hw = (double)B * H * W, ci = (double)Cin, co = (double)Cout;
    return oc(18 * hw * ci * co + (bias ? hw * co : 0), hw * ci + 9 * ci * co + hw * co + (bias ? co : 0));
}

/* din += (18 B Cin Cout H W flops; w read, din read and written), dw += (as many; in read, dw
 * read and written), dbias += (an add per element of dout; read and written); dout read. */
OpCost cost_conv3x3_bwd(int din, int dw, int dbias, int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
    const double hw = (double)B * H * W, ci = (double)Cin, co = (double)Cout;
    double f = 0, b = hw * co;
    if (din) f += 18 * hw * ci * co, b += 9 * ci * co + 2 * hw * ci;
    if (dw) f += 18 * hw * ci * co, b += hw * ci + 18 * ci * co;
    if (dbias) f += hw * co, b += 2 * co;
    return oc(f, b);
}

/* A permutation of B C r r H W floats: read once, written once. */
OpCost cost_pixel_shuffle_fwd(int64_t B, int64_t C, int64_t H, int64_t W, int r) {
    return oc(0, 2.0 * B * C * r * r * H * W);
}
/* din += permuted dout: 1 flop per element; dout read, din read and written. */
OpCost cost_pixel_shuffle_bwd(int64_t B, int64_t C, int64_t H, int64_t W, int r) {
    const double n = (double)B * C * r * r * H * W;
    return oc(n, 3 * n);
}

/* Four neighbour pairs per cell, a nominal 14 flops for the value and 16 more for the gradient;
 * img (and vw) read, dimg read and written. */
OpCost cost_tv_loss(int grad, int vw, int B, int V, int H, int W) {
    const double n = (double)B * V * H * W;
    return oc((grad ? 30 : 14) * n, (grad ? 3 : 1) * n + (vw ? V : 0));
}

/* Mean over tokens: 1 flop per element of x [B,S,D] read (forward) or read and written
 * (backward, +=); out or dout [B,D] written or read. */
OpCost cost_token_mean(int B, int64_t S, int D, int backward) {
    const double n = (double)B * S * D;
    return oc(n, (backward ? 2.0 : 1.0) * n + (double)B * D);
}

/* Cross-entropy on [B,K] logits: a nominal 10 flops per logit (exp, log, the gradient); logits,
 * y and mask read, the gradient written. */
OpCost cost_class_loss(int B, int K) {
    const double n = (double)B * K;
    return oc(10.0 * n, 4.0 * n);
}
