/* lvit_forecast: one state in physical units to the state lead hours later, with the numbers of
 * `lvit predict` (src/tasks/forecast_predict.c): the same float32 normalisation, padding, lead input
 * and de-normalisation, so a forecast through the library equals the command's. */
#include <omp.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "api/api_internal.h"

/* The model input [V, Hp, Wp]: normalised as host_batch_fill does ((x - mean) * (1 / std) in
 * float32), 0 at unobserved and padded cells. Refuses non-finite values at observed cells. */
lvit_status api_normalise_input(lvit_model *m, const float *x, const unsigned char *mask, const char *fn) {
    const VitConfig *c = &m->cfg;
    const int H = m->H, W = m->W, Hp = c->H, Wp = c->W;
    for (int v = 0; v < c->V; v++) {
        const float mu = m->mean[v], inv = 1.0f / m->std[v];
        const float *src = x + (size_t)v * H * W;
        const unsigned char *ok = mask ? mask + (size_t)v * H * W : NULL;
        float *dst = m->xin + (size_t)v * Hp * Wp;
        for (int r = 0; r < Hp; r++)
            for (int col = 0; col < Wp; col++) {
                const size_t q = (size_t)r * W + col;
                const int in = r < H && col < W, obs = in && (!ok || ok[q]);
                if (obs && !isfinite(src[q]))
                    return api_fail(LVIT_E_ARG, "%s: input variable %d ('%s') is %g at row %d, column %d, "
                                    "which is marked observed (give a mask with 0 there)", fn, v, c->var_names[v],
                                    (double)src[q], r, col);
                dst[(size_t)r * Wp + col] = obs ? (src[q] - mu) * inv : 0.0f;
            }
    }
    return LVIT_OK;
}

void api_run_model(lvit_model *m, float lead) {
    const VitConfig *c = &m->cfg;
    ApiThreads th; /* a host that raised OpenMP's threads after lvit_open gets those sized for */
    api_threads_enter(&th, m->threads > 0 ? m->threads : omp_get_max_threads() > m->ws_threads ? m->ws_threads : 0);
    const Kernels *k = m->vit.k;
    const int s = vit_scale(c);
    const int64_t img = (int64_t)c->V * c->H * c->W, oimg = (int64_t)c->Vo * s * c->H * s * c->W;
    k->upload(m->dev, m->xin, img);
    k->upload(m->dev + img + oimg, &lead, 1);
    Batch b = {.B = 1, .x = m->dev, .y = NULL, .mask = NULL, .lead = m->dev + img + oimg, .wlat = NULL};
    vit_forward(&m->vit, &b);
    vit_prediction(&m->vit, m->dev + img, 1);
    k->download(m->pred, m->dev + img, oimg);
    api_threads_leave(&th);
}

static lvit_status forecast_impl(lvit_model *m, const float *x, const unsigned char *mask, float lead_hours, float *y) {
    if (!m || !x || !y) return api_fail(LVIT_E_ARG, "lvit_forecast: model, x and y must not be NULL");
    const VitConfig *c = &m->cfg;
    if (vit_reslim(c))
        return api_fail(LVIT_E_ARG, "lvit_forecast: %s is a downscaling model (task \"downscale\"): use lvit_downscale",
                        m->path);
    if (vit_classify(c) || vit_segment(c))
        return api_fail(LVIT_E_ARG, "lvit_forecast: %s is a model of task \"%s\": use lvit_%s", m->path, lvit_task(m),
                        lvit_task(m));
    if (!(lead_hours > 0) || !isfinite(lead_hours))
        return api_fail(LVIT_E_ARG, "lvit_forecast: lead_hours %g is not a positive number of hours", (double)lead_hours);
    lvit_status st = api_normalise_input(m, x, mask, "lvit_forecast");
    if (st != LVIT_OK) return st;
    api_run_model(m, lead_hours / (float)m->meta.lead_divisor); /* as host_batch_fill: lead / 100.0f */
    /* back to physical units on the data grid, as cmd_predict writes them */
    const int H = m->H, W = m->W;
    const Anchor *an = &m->anchor;
    for (int v = 0; v < c->Vo; v++) {
        const float a = an->nlead ? anchor_coef(an, v, lead_hours) : 0.0f,
                    sc = an->nlead ? anchor_scale(an, v, lead_hours) * anchor_gain(an, v, lead_hours) : 1.0f;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                const size_t o = ((size_t)v * H + i) * W + j, mo = ((size_t)v * c->H + i) * c->W + j;
                /* as forecast_denorm_base (tasks/forecast_run.h) */
                const float z = c->residual ? m->pred[mo] + m->xin[mo]
                                : an->nlead ? m->pred[mo] * sc + anchor_value(m->xin[mo], an->clim[o], a) : m->pred[mo];
                y[o] = mask && !mask[o] ? NAN : z * m->std[v] + m->mean[v];
            }
    }
    return LVIT_OK;
}

lvit_status lvit_forecast(lvit_model *m, const float *x, const unsigned char *mask, float lead_hours, float *y) {
    api_clear_error();
    API_GUARDED(forecast_impl(m, x, mask, lead_hours, y));
}

lvit_status lvit_forecast_sized(lvit_model *m, const float *x, size_t nx, const unsigned char *mask, size_t nmask,
                                float lead_hours, float *y, size_t ny) {
    api_clear_error();
    if (!m) return api_fail(LVIT_E_ARG, "lvit_forecast: model must not be NULL");
    const size_t plane = (size_t)m->H * m->W, nin = (size_t)m->cfg.V * plane, nout = (size_t)m->cfg.Vo * plane;
    if (nx != nin)
        return api_fail(LVIT_E_ARG, "lvit_forecast: x has %zu values; %s takes %d variables x %d x %d = %zu", nx,
                        m->path, m->cfg.V, m->H, m->W, nin);
    if (!mask && nmask != 0)
        return api_fail(LVIT_E_ARG, "lvit_forecast: mask is NULL but nmask is %zu (NULL goes with 0)", nmask);
    if (mask && nmask != nin)
        return api_fail(LVIT_E_ARG, "lvit_forecast: mask has %zu values; %s takes %d variables x %d x %d = %zu", nmask,
                        m->path, m->cfg.V, m->H, m->W, nin);
    if (ny != nout)
        return api_fail(LVIT_E_ARG, "lvit_forecast: y has room for %zu values; %s writes %d variables x %d x %d = %zu",
                        ny, m->path, m->cfg.Vo, m->H, m->W, nout);
    return lvit_forecast(m, x, mask, lead_hours, y);
}
