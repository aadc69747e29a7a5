/* lvit_classify and lvit_segment: one window of bands through a pixel classifier or a segmentation
 * model, with the numbers of lvit predict (classify_fill_x in src/tasks/classify_data.c: the
 * window's bands normalised with the model's statistics, 0 at unobserved cells and padding; zero
 * lead input). The caller builds the window, mirrored at the scene's edges as lvit does. */
#include <math.h>
#include <string.h>
#include "api/api_internal.h"

static lvit_status image_impl(lvit_model *m, const float *x, size_t nx, const unsigned char *mask, size_t nmask,
                              float *out, size_t nout, int seg, const char *fn) {
    if (!m || !x || !out) return api_fail(LVIT_E_ARG, "%s: model, x and the output must not be NULL", fn);
    const VitConfig *c = &m->cfg;
    if (seg ? !vit_segment(c) : !vit_classify(c))
        return api_fail(LVIT_E_ARG, "%s: %s is a model of task \"%s\"; %s runs %s models", fn, m->path, lvit_task(m), fn,
                        seg ? "segmentation (\"segment\")" : "classification (\"classify\")");
    const size_t n_in = (size_t)c->V * m->H * m->W, K = (size_t)m->nclass;
    const size_t n_out = seg ? K * m->H * m->W : K;
    if (nx != (size_t)-1 && (nx != n_in || (mask ? nmask != n_in : nmask != 0) || nout != n_out))
        return api_fail(LVIT_E_ARG, "%s: sizes x %zu, mask %zu, output %zu; the model takes x and mask of %d x %d x %d = %zu "
                        "(mask may be NULL with 0) and writes %zu", fn, nx, nmask, nout, c->V, m->H, m->W, n_in, n_out);
    lvit_status st = api_normalise_input(m, x, mask, fn);
    if (st != LVIT_OK) return st;
    api_run_model(m, 0.0f);
    if (!seg) {
        memcpy(out, m->pred, sizeof(float) * K);
        return LVIT_OK;
    }
    /* the logit image [K, Hp, Wp] cropped to the window [K, H, W] */
    for (size_t k = 0; k < K; k++)
        for (int r = 0; r < m->H; r++)
            memcpy(out + (k * m->H + r) * m->W, m->pred + (k * c->H + r) * c->W, sizeof(float) * (size_t)m->W);
    return LVIT_OK;
}

lvit_status lvit_classify(lvit_model *m, const float *x, const unsigned char *mask, float *logits) {
    api_clear_error();
    API_GUARDED(image_impl(m, x, (size_t)-1, mask, 0, logits, 0, 0, "lvit_classify"));
}

lvit_status lvit_classify_sized(lvit_model *m, const float *x, size_t nx, const unsigned char *mask, size_t nmask,
                                float *logits, size_t nlogits) {
    api_clear_error();
    API_GUARDED(image_impl(m, x, nx, mask, nmask, logits, nlogits, 0, "lvit_classify"));
}

lvit_status lvit_segment(lvit_model *m, const float *x, const unsigned char *mask, float *logits) {
    api_clear_error();
    API_GUARDED(image_impl(m, x, (size_t)-1, mask, 0, logits, 0, 1, "lvit_segment"));
}

lvit_status lvit_segment_sized(lvit_model *m, const float *x, size_t nx, const unsigned char *mask, size_t nmask,
                               float *logits, size_t nlogits) {
    api_clear_error();
    API_GUARDED(image_impl(m, x, nx, mask, nmask, logits, nlogits, 1, "lvit_segment"));
}
