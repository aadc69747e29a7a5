/* Class maps as GeoTIFF and PNG (tasks/class_map_out.h). */
#include "tasks/class_map_out.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/check.h"
#include "core/json.h"
#include "eval/class_metrics.h"
#include "tasks/label_split.h"

static int ends_with(const char *s, const char *t) {
    const size_t a = strlen(s), b = strlen(t);
    return a >= b && strcasecmp(s + a - b, t) == 0;
}

int class_map_kind(const PredictOptions *o) {
    if (!o->out) DIE_USER("lvit predict: -o MAP.tif or MAP.png is required (the predicted class map)");
    const int tif = ends_with(o->out, ".tif") || ends_with(o->out, ".tiff");
    if (!tif && !ends_with(o->out, ".png"))
        DIE_USER("lvit predict -o %s: a class map is written as MAP.tif (GeoTIFF, and MAP.png beside it) or MAP.png", o->out);
    return tif;
}

void class_map_write(const ImageRun *r, const PredictOptions *o, int img, const int32_t *pred, int K,
                     const char *const *names, char *png, size_t pnglen) {
    const int H = r->ds.H, W = r->ds.W, labelled = image_run_labelled(r) && r->ds.img.label_map;
    char err[4400];
    snprintf(png, pnglen, "%s", o->out);
    if (class_map_kind(o)) {
        double *cv = xmalloc(sizeof(double) * (size_t)K), geo[6];
        if (labelled && label_split_class_values(&r->ds, cv, err, sizeof err)) DIE_USER("lvit predict: %s", err);
        if (!labelled && (!r->class_values || r->nclass != K))
            DIE_USER("lvit predict -o %s: the model %s does not record its classes' label values (trained by an older "
                     "lvit): write the map as PNG (-o MAP.png)", o->out, r->ckpt);
        if (!labelled) memcpy(cv, r->class_values, sizeof(double) * (size_t)K);
        if (!o->tiles.write_raster) DIE_USER("lvit predict -o %s: this program writes no GeoTIFF (the lvit command does)", o->out);
        int32_t *vals = xmalloc(sizeof(int32_t) * (size_t)H * W);
        for (int64_t k = 0; k < (int64_t)H * W; k++) vals[k] = (int32_t)cv[pred[k]];
        char *wkt;
        const int has_geo = label_split_image_georef(&r->ds, img, geo, &wkt) == 0;
        if (o->tiles.write_raster(o->out, vals, H, W, has_geo ? geo : NULL, wkt, err, sizeof err))
            DIE_USER("lvit predict: %s", err);
        printf("wrote %s (%dx%d class values%s)\n", o->out, H, W, has_geo ? ", georeferenced as the input" : "");
        free(vals), free(cv), free(wkt);
        char *dot = strrchr(png, '.');
        snprintf(dot, pnglen - (size_t)(dot - png), ".png");
    }
    const int32_t *maps[2] = {labelled ? r->ds.img.label_map + (int64_t)img * H * W : pred, pred};
    const char *titles[2] = {labelled ? "labels" : "predicted (every pixel)", "predicted (every pixel)"};
    int scale = 512 / (H > W ? H : W);
    if (scale < 1) scale = 1;
    if (class_maps_png(png, maps, titles, labelled ? 2 : 1, H, W, K, names, scale, r->ckpt, NULL, err, sizeof err))
        DIE_USER("lvit predict: %s", err);
    printf("wrote %s\n", png);
}
