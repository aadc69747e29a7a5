/* lvit_downscale: a coarse field to the fine one with a Reslim model, whole grid at once (no
 * TILES windows), with the numbers of lvit predict's untiled inference (ds_infer in
 * src/tasks/downscale_setup.c over downscale_fill in src/data/downscale.c): the same normalisation,
 * padding, zero lead, bicubic base and de-normalisation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "api/api_internal.h"
#include "data/resample.h"

/* Whether the fine grid is a whole longitude circle, decided as downscale_init does (from the
 * float32 longitudes; cropped grids never are): the bicubic base then wraps its columns. */
static int fine_grid_global(const lvit_model *m) {
    const RunMeta *r = &m->meta;
    const int s = vit_scale(&m->cfg);
    if (!r->lon || r->W < 2) return 0;
    const double dlon = fabs((float)r->lon[1] - (float)r->lon[0]);
    return s * m->W == r->W && fabs(dlon * r->W - 360.0) < 1e-3 * dlon;
}

static lvit_status wrong_task(const lvit_model *m) {
    return api_fail(LVIT_E_ARG, "lvit_downscale: %s is a model of task \"%s\"; lvit_downscale runs downscaling "
                    "(\"downscale\") models", m->path, lvit_task(m));
}

static lvit_status downscale_impl(lvit_model *m, const float *coarse, const unsigned char *mask, float *fine) {
    if (!m || !coarse || !fine) return api_fail(LVIT_E_ARG, "lvit_downscale: model, coarse and fine must not be NULL");
    const VitConfig *c = &m->cfg;
    if (!vit_reslim(c)) return wrong_task(m);
    if (c->ds_base && !m->meta.lon)
        return api_fail(LVIT_E_FORMAT, "lvit_downscale: %s adds a bicubic interpolation (base \"bicubic\") whose "
                        "wrapping depends on the fine grid's longitudes, which the checkpoint does not record (format "
                        "%d; retrain or rewrite it with this lvit)", m->path, m->meta.format);
    lvit_status st = api_normalise_input(m, coarse, mask, "lvit_downscale");
    if (st != LVIT_OK) return st;
    api_run_model(m, 0.0f); /* downscaling samples carry lead 0 */
    const int s = vit_scale(c), h = m->H, w = m->W, Hf = s * h, Wf = s * w, Wpf = s * c->W;
    const size_t hw = (size_t)h * w, HW = (size_t)Hf * Wf;
    float *cn = NULL, *base = NULL;
    if (c->ds_base) {
        /* the bicubic interpolation of the normalised coarse input (0 at unobserved cells), as training */
        cn = xmalloc(sizeof(float) * hw);
        base = xmalloc(sizeof(float) * HW);
    }
    const int global = fine_grid_global(m);
    for (int v = 0; v < c->Vo; v++) {
        const float mu = m->mean[v], sd = m->std[v];
        if (base) {
            for (int r = 0; r < h; r++)
                for (int col = 0; col < w; col++) cn[(size_t)r * w + col] = m->xin[((size_t)v * c->H + r) * c->W + col];
            resample_upsample(base, cn, h, w, s, RS_BICUBIC, global);
        }
        const unsigned char *ok = mask ? mask + (size_t)v * hw : NULL;
        for (int r = 0; r < Hf; r++)
            for (int col = 0; col < Wf; col++) {
                const size_t o = (size_t)v * HW + (size_t)r * Wf + col;
                const float p = m->pred[((size_t)v * s * c->H + r) * Wpf + col];
                fine[o] = ok && !ok[(size_t)(r / s) * w + col / s] ? NAN
                                                                   : (p + (base ? base[(size_t)r * Wf + col] : 0.0f)) * sd + mu;
            }
    }
    free(cn), free(base);
    return LVIT_OK;
}

lvit_status lvit_downscale(lvit_model *m, const float *coarse, const unsigned char *mask, float *fine) {
    api_clear_error();
    API_GUARDED(downscale_impl(m, coarse, mask, fine));
}

lvit_status lvit_downscale_sized(lvit_model *m, const float *coarse, size_t ncoarse, const unsigned char *mask,
                                 size_t nmask, float *fine, size_t nfine) {
    api_clear_error();
    if (!m) return api_fail(LVIT_E_ARG, "lvit_downscale: model must not be NULL");
    if (!vit_reslim(&m->cfg)) return wrong_task(m); /* (before the sizes, which would be another task's) */
    const int s = vit_scale(&m->cfg);
    const size_t nin = (size_t)m->cfg.V * m->H * m->W, nout = (size_t)m->cfg.Vo * s * m->H * s * m->W;
    if (ncoarse != nin || (mask && nmask != nin))
        return api_fail(LVIT_E_ARG, "lvit_downscale: %s has %zu values; %s takes %d inputs x %d x %d = %zu",
                        ncoarse != nin ? "coarse" : "mask", ncoarse != nin ? ncoarse : nmask, m->path, m->cfg.V, m->H,
                        m->W, nin);
    if (nfine != nout)
        return api_fail(LVIT_E_ARG, "lvit_downscale: fine has room for %zu values; %s writes %d variables x %d x %d = %zu",
                        nfine, m->path, m->cfg.Vo, s * m->H, s * m->W, nout);
    return lvit_downscale(m, coarse, mask, fine);
}
