/* The classification head's kernels on the CPU: the mean over a sample's tokens and the softmax /
 * sigmoid cross-entropy fused with its gradient (contracts in kernels/kernels.h). */
#include <math.h>
#include "kernels/cpu/ops_cpu.h"

void token_mean_fwd_cpu(float *out, const float *x, int B, int64_t S, int D, float scale) {
    /* per sample, the tokens in order: the same sum whatever the thread count */
#pragma omp parallel for schedule(static) if ((int64_t)B * S * D > PAR_MIN)
    for (int b = 0; b < B; b++) {
        float *o = out + (int64_t)b * D;
        const float *xb = x + (int64_t)b * S * D;
        for (int d = 0; d < D; d++) o[d] = 0.0f;
        for (int64_t s = 0; s < S; s++) {
            const float *r = xb + s * D;
#pragma omp simd
            for (int d = 0; d < D; d++) o[d] += r[d];
        }
        for (int d = 0; d < D; d++) o[d] *= scale;
    }
}

void token_mean_bwd_cpu(float *dx, const float *dout, int B, int64_t S, int D, float scale) {
#pragma omp parallel for collapse(2) schedule(static) if ((int64_t)B * S * D > PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int64_t s = 0; s < S; s++) {
            float *r = dx + ((int64_t)b * S + s) * D;
            const float *g = dout + (int64_t)b * D;
#pragma omp simd
            for (int d = 0; d < D; d++) r[d] += scale * g[d];
        }
}

/* One sample's loss (times its weight) and unnormalized gradient (weight x dloss/dz) into g;
 * returns the weight through *w. */
static double sample_loss(float *g, const float *z, const float *y, const float *m, int K, int multi, double *w) {
    double loss = 0.0, ws = 0.0;
    if (multi) {
        for (int k = 0; k < K; k++) {
            const double zk = z[k], e = exp(-fabs(zk));
            /* softplus(z) - y z, stable for either sign of z */
            loss += m[k] * ((zk > 0 ? zk : 0.0) + log1p(e) - y[k] * zk);
            const double sig = zk >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
            g[k] = (float)(m[k] * (sig - y[k]));
            ws += m[k];
        }
    } else {
        double zmax = z[0], se = 0.0, ysum = 0.0;
        for (int k = 1; k < K; k++) zmax = z[k] > zmax ? z[k] : zmax;
        for (int k = 0; k < K; k++) se += exp(z[k] - zmax), ysum += y[k], ws += m[k];
        const double lse = zmax + log(se);
        for (int k = 0; k < K; k++) {
            loss -= y[k] * (z[k] - lse);
            g[k] = (float)(ws * (exp(z[k] - lse) * ysum - y[k]));
        }
        loss *= ws;
    }
    *w = ws;
    return loss;
}

float class_loss_cpu(float *dlogits, const float *logits, const float *y, const float *mask, int B, int K, int multi,
                     float dloss, double denom) {
    double loss = 0.0, msum = 0.0;
    for (int b = 0; b < B; b++) {
        double w;
        const int64_t o = (int64_t)b * K;
        loss += sample_loss(dlogits + o, logits + o, y + o, mask + o, K, multi, &w);
        msum += w;
    }
    if (denom > 0.0) msum = denom;
    const float s = msum > 0.0 ? (float)((double)dloss / msum) : 0.0f;
    for (int64_t i = 0; i < (int64_t)B * K; i++) dlogits[i] *= s;
    return msum > 0.0 ? (float)(loss / msum) : 0.0f;
}
