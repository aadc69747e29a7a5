/* What an image dataset holds, in words (lvit info): images, bands, split, labels and classes. */
#include <stdio.h>
#include <string.h>
#include "core/json.h"
#include "data/dataset.h"
#include "data/dataset_describe.h"

void dataset_describe(const Dataset *ds, FILE *out, int all) {
    if (ds->kind != DATASET_IMAGE) return;
    const DatasetImages *im = &ds->img;
    int cnt[3] = {0, 0, 0};
    for (int t = 0; t < ds->T; t++) cnt[im->split[t]]++;
    char jerr[256];
    JsonValue *m = json_parse(im->meta, strlen(im->meta), 1 << 26, "lvit.dataset", jerr, sizeof jerr);
    const JsonValue *vars = json_get(m, "vars"), *classes = json_get(json_get(m, "labels"), "classes");
    const char *dropped = json_as_string(json_get(m, "dropped_bands"));
    fprintf(out, "  dataset: images, %d image%s of %d bands, %dx%d pixels; split (images): train %d, validation %d, "
            "test %d%s%s\n", ds->T, ds->T == 1 ? "" : "s", ds->V, ds->H, ds->W, cnt[0], cnt[1], cnt[2],
            dropped && *dropped ? "; dropped bands " : "", dropped && *dropped ? dropped : "");
    static const char *kinds[] = {"none", "one class per image (label [N])", "multi-label (label_multi [N,C])",
                                  "label raster (label_map [N,H,W], -1 = unlabelled)"};
    fprintf(out, "  labels: %s, %d classes\n", kinds[im->label_kind], im->C);
    for (int c = 0; c < im->C && (all || c < 50); c++) {
        const JsonValue *cj = json_at(classes, (size_t)c);
        double v = c;
        int64_t n = 0;
        json_as_double(json_get(cj, "value"), &v);
        json_as_int64(json_get(cj, "count"), 0, INT64_MAX, &n);
        fprintf(out, "    %3d %-40s value %-6g %lld %s\n", c, im->class_names[c], v, (long long)n,
                im->label_kind == LABELS_MAP ? "pixels" : "images");
    }
    if (!all && im->C > 50) fprintf(out, "    ... %d more (--all to list them)\n", im->C - 50);
    for (int b = 0; b < ds->V && (all || b < 20); b++) {
        const JsonValue *bj = json_at(vars, (size_t)b);
        const char *ln = json_as_string(json_get(bj, "long_name")), *src = json_as_string(json_get(bj, "source"));
        int64_t num = 0;
        json_as_int64(json_get(bj, "band"), 0, INT32_MAX, &num);
        fprintf(out, "    band %-4d %-24s mean %-12.6g std %-12.6g %s band %lld%s%s\n", b, ds->names[b], ds->mean[b],
                ds->std[b], src ? src : "?", (long long)num, ln && *ln && strcmp(ln, ds->names[b]) ? ", " : "",
                ln && *ln && strcmp(ln, ds->names[b]) ? ln : "");
    }
    if (!all && ds->V > 20) fprintf(out, "    ... %d more bands (--all to list them)\n", ds->V - 20);
    json_free(m);
}
