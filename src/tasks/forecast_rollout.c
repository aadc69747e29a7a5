/* A batch's forecast at any lead, rolled out beyond the trained leads (tasks/forecast_run.h). */
#include <math.h>
#include <string.h>
#include "core/check.h"
#include "tasks/forecast_run.h"

/* One pass at lead_h: out [b, Vo, Hp, Wp] = the model's output on x plus its anchor (normalised),
 * 0 outside the data grid. */
static void one_pass(Vit *m, const ForecastRun *r, const float *x, int b, float lead_h, float *dev, int64_t img, float *out) {
    const VitConfig *c = &m->cfg;
    const Kernels *k = m->k;
    const int H = r->ds.H, W = r->ds.W, Vo = c->Vo;
    const int64_t plane = (int64_t)c->H * c->W, dplane = (int64_t)H * W;
    float lead_in[64];
    CHECK(b <= 64, "forecast_rollout: batch %d", b);
    for (int i = 0; i < b; i++) lead_in[i] = lead_h / 100.0f; /* as host_batch_fill */
    k->upload(dev, x, (int64_t)b * c->V * plane);
    k->upload(dev + 2 * img, lead_in, b);
    Batch bt = {.B = b, .x = dev, .lead = dev + 2 * img};
    vit_forward(m, &bt);
    vit_prediction(m, dev + img, b);
    k->download(out, dev + img, (int64_t)b * Vo * plane);
    const Anchor *an = &r->anchor;
    for (int v = 0; v < Vo; v++) {
        const float a = an->nlead ? anchor_coef(an, v, lead_h) : 0.0f,
                    s = an->nlead ? anchor_scale(an, v, lead_h) * anchor_gain(an, v, lead_h) : 1.0f;
        const float *cl = an->nlead ? an->clim + (int64_t)v * dplane : NULL;
        for (int i = 0; i < b; i++) {
            float *o = out + ((int64_t)i * Vo + v) * plane;
            const float *xi = x + ((int64_t)i * c->V + v) * plane;
            for (int rr = 0; rr < c->H; rr++)
                for (int q = 0; q < c->W; q++) {
                    const int64_t e = (int64_t)rr * c->W + q;
                    o[e] = rr < H && q < W ? forecast_denorm_base(r, o[e], xi[e], cl ? cl[(int64_t)rr * W + q] : 0.0f, a, s)
                                           : 0.0f;
                }
        }
    }
}

int forecast_rollout(Vit *m, const ForecastRun *r, float *x, const float *xvalid, int b, float lead_h, float *dev,
                     int64_t img, float *out) {
    const VitConfig *c = &m->cfg;
    const float step = r->max_lead_h;
    int passes = 1;
    float left = lead_h;
    /* (a small tolerance: 48 h from 24 h steps is two passes, not three) */
    while (step > 0 && left > step * (1.0f + 1e-6f)) {
        CHECK(c->history == 0, "forecast_rollout with history inputs");
        one_pass(m, r, x, b, step, dev, img, out);
        const int64_t plane = (int64_t)c->H * c->W;
        for (int i = 0; i < b; i++) /* the forecast becomes the next initial state where it was observed */
            for (int v = 0; v < c->Vo; v++) {
                float *xi = x + ((int64_t)i * c->V + v) * plane;
                const float *oi = out + ((int64_t)i * c->Vo + v) * plane, *ok = xvalid + ((int64_t)i * c->Vo + v) * plane;
                for (int64_t e = 0; e < plane; e++) xi[e] = ok[e] != 0 ? oi[e] : 0.0f;
            }
        left -= step;
        passes++;
    }
    one_pass(m, r, x, b, left, dev, img, out);
    return passes;
}

/* ok [Vo, Hp, Wp]: 1 where sample id's initial state is observed inside the data grid */
void forecast_initial_valid(const Dataset *ds, const Sampler *s, int64_t id, float *ok, int Hp, int Wp) {
    int t, t2;
    float lead;
    sampler_decode(s, id, &t, &t2, &lead);
    const int64_t dplane = (int64_t)ds->H * ds->W;
    for (int v = 0; v < ds->V; v++)
        for (int r = 0; r < Hp; r++)
            for (int q = 0; q < Wp; q++) {
                const int in = r < ds->H && q < ds->W;
                ok[((int64_t)v * Hp + r) * Wp + q] =
                    in && (!ds->valid || ds->valid[((int64_t)t * ds->V + v) * dplane + (int64_t)r * ds->W + q]) ? 1.0f : 0.0f;
            }
}
