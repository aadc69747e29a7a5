/* The forecast's anchor (data/anchor.h). */
#include "data/anchor.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/json.h"

float anchor_coef(const Anchor *an, int v, float lead_h) {
    const int n = an->nlead;
    const float *a = an->coef;
    if (lead_h >= an->lead_h[n - 1]) return a[(size_t)(n - 1) * an->V + v];
    float l0 = 0.0f, a0 = 1.0f; /* lead 0 is the initial state itself */
    for (int i = 0; i < n; i++) {
        const float l1 = an->lead_h[i], a1 = a[(size_t)i * an->V + v];
        if (lead_h <= l1) return lead_h <= l0 ? a0 : a0 + (a1 - a0) * (lead_h - l0) / (l1 - l0);
        l0 = l1, a0 = a1;
    }
    return a0;
}

/* tab [nlead, V] at lead_h: linear between the leads, held outside them. */
static float interp_held(const Anchor *an, const float *tab, int v, float lead_h) {
    const int n = an->nlead;
    if (lead_h <= an->lead_h[0]) return tab[v];
    for (int i = 1; i < n; i++)
        if (lead_h <= an->lead_h[i]) {
            const float l0 = an->lead_h[i - 1], l1 = an->lead_h[i], s0 = tab[(size_t)(i - 1) * an->V + v],
                        s1 = tab[(size_t)i * an->V + v];
            return s0 + (s1 - s0) * (lead_h - l0) / (l1 - l0);
        }
    return tab[(size_t)(n - 1) * an->V + v];
}

float anchor_scale(const Anchor *an, int v, float lead_h) { return interp_held(an, an->scale, v, lead_h); }

float anchor_gain(const Anchor *an, int v, float lead_h) { return an->gain ? interp_held(an, an->gain, v, lead_h) : 1.0f; }

void anchor_plane(const Anchor *an, int v, float lead_h, const float *x, float *out) {
    const float a = anchor_coef(an, v, lead_h);
    const size_t plane = (size_t)an->H * an->W;
    const float *c = an->clim + (size_t)v * plane;
    for (size_t i = 0; i < plane; i++) out[i] = anchor_value(x[i], c[i], a);
}

static void put_table(JsonBuf *b, const char *key, const float *tab, int rows, int cols) {
    json_buf_printf(b, ",\"%s\":[", key);
    for (int i = 0; i < rows; i++) {
        json_buf_puts(b, i ? ",[" : "[");
        for (int v = 0; v < cols; v++) {
            if (v) json_buf_puts(b, ",");
            json_buf_put_number(b, tab[(size_t)i * cols + v]);
        }
        json_buf_puts(b, "]");
    }
    json_buf_puts(b, "]");
}

char *anchor_to_json(const Anchor *an) {
    JsonBuf b = {0};
    json_buf_puts(&b, "{\"kind\":\"blend\",\"lead_hours\":[");
    for (int i = 0; i < an->nlead; i++) {
        if (i) json_buf_puts(&b, ",");
        json_buf_put_number(&b, an->lead_h[i]);
    }
    json_buf_puts(&b, "]");
    put_table(&b, "coef", an->coef, an->nlead, an->V);
    put_table(&b, "scale", an->scale, an->nlead, an->V);
    if (an->gain) put_table(&b, "gain", an->gain, an->nlead, an->V);
    json_buf_puts(&b, "}");
    return b.s;
}

int anchor_from_json(Anchor *an, const char *text, int V, int H, int W, char *err, size_t n) {
    memset(an, 0, sizeof *an);
    char jerr[256];
    JsonValue *root = json_parse(text, strlen(text), 1 << 26, "lvit.anchor", jerr, sizeof jerr);
    if (!root) {
        snprintf(err, n, "metadata lvit.anchor: %s", jerr);
        return -1;
    }
    const JsonValue *kind = json_get(root, "kind"), *leads = json_get(root, "lead_hours"), *coef = json_get(root, "coef"),
                    *scale = json_get(root, "scale"), *gain = json_get(root, "gain");
    const size_t nl = json_len(leads);
    int rc = -1;
    if (!kind || kind->type != JSON_STRING || strcmp(kind->str, "blend")) {
        snprintf(err, n, "metadata lvit.anchor: \"kind\" must be \"blend\"");
        goto done;
    }
    if (nl < 1 || nl > ANCHOR_MAX_LEADS || json_len(coef) != nl || json_len(scale) != nl) {
        snprintf(err, n, "metadata lvit.anchor: expected 1..%d \"lead_hours\" and as many \"coef\" and \"scale\" lists",
                 ANCHOR_MAX_LEADS);
        goto done;
    }
    an->V = V, an->H = H, an->W = W, an->nlead = (int)nl;
    an->coef = xmalloc(sizeof(float) * nl * (size_t)V);
    an->scale = xmalloc(sizeof(float) * nl * (size_t)V);
    for (size_t i = 0; i < nl; i++) {
        double l;
        const JsonValue *row = json_at(coef, i);
        if (json_as_double(json_at(leads, i), &l) || !(l > 0) || (i && !(l > an->lead_h[i - 1])) || json_len(row) != (size_t)V) {
            snprintf(err, n, "metadata lvit.anchor: lead %zu must be a positive number of hours above the one before, "
                     "with %d coefficients", i, V);
            goto done;
        }
        an->lead_h[i] = (float)l;
        for (int v = 0; v < V; v++) {
            double a;
            if (json_as_double(json_at(row, (size_t)v), &a) || !(a >= 0 && a <= 1)) {
                snprintf(err, n, "metadata lvit.anchor: coefficient %d at %g h must be in [0, 1]", v, l);
                goto done;
            }
            an->coef[i * (size_t)V + (size_t)v] = (float)a;
            if (json_as_double(json_at(json_at(scale, i), (size_t)v), &a) || !(a > 0 && a < 1e30)) {
                snprintf(err, n, "metadata lvit.anchor: scale %d at %g h must be a positive number", v, l);
                goto done;
            }
            an->scale[i * (size_t)V + (size_t)v] = (float)a;
        }
    }
    if (gain) {
        if (json_len(gain) != nl) {
            snprintf(err, n, "metadata lvit.anchor: \"gain\" needs a list per lead");
            goto done;
        }
        an->gain = xmalloc(sizeof(float) * nl * (size_t)V);
        for (size_t i = 0; i < nl; i++)
            for (int v = 0; v < V; v++) {
                double g;
                if (json_len(json_at(gain, i)) != (size_t)V || json_as_double(json_at(json_at(gain, i), (size_t)v), &g) ||
                    !(g >= 0 && g <= 1)) {
                    snprintf(err, n, "metadata lvit.anchor: gain %d of lead %zu must be in [0, 1]", v, i);
                    goto done;
                }
                an->gain[i * (size_t)V + (size_t)v] = (float)g;
            }
    }
    rc = 0;
done:
    json_free(root);
    if (rc) anchor_free(an);
    return rc;
}

void anchor_free(Anchor *an) {
    free(an->coef);
    free(an->scale);
    free(an->gain);
    free(an->clim);
    memset(an, 0, sizeof *an);
}
