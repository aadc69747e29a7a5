/* libFuzzer target: lvit dataset files (lvit convert's output, opened by train/eval/predict).
 * dataset_open on the input; when it accepts the file, everything it promised is used the way
 * training does: the first and last element of every array, a sampler over each split and a
 * batch filled from its first samples, latitude weights, then dataset_free. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset_file.h"
#include "data/dataset.h"
#include "fuzz_util.h"

static volatile float ds_fuzz_sink;

static void ds_fuzz_use(const Dataset *ds) {
    FUZZ_ASSERT(ds->T >= 1 && ds->V >= 1 && ds->H >= 1 && ds->W >= 1 && ds->V <= LVIT_MAX_VARS);
    FUZZ_ASSERT(1 <= ds->t_train_end && ds->t_train_end <= ds->t_val_end && ds->t_val_end <= ds->T);
    size_t n4 = (size_t)ds->T * ds->V * ds->H * ds->W, n3 = (size_t)ds->V * ds->H * ds->W;
    float acc = ds->data[0] + ds->data[n4 - 1] + ds->lat[0] + ds->lat[ds->H - 1] + ds->lon[0] + ds->lon[ds->W - 1];
    if (ds->valid) acc += ds->valid[0] + ds->valid[n4 - 1];
    if (ds->clim) acc += ds->clim[0] + ds->clim[n3 - 1];
    for (int v = 0; v < ds->V; v++) {
        FUZZ_ASSERT(ds->names[v][0] && memchr(ds->names[v], 0, LVIT_VAR_NAME) && memchr(ds->units[v], 0, 32));
        /* The batch normalizes with (x - mean) / std in float. */
        FUZZ_ASSERT(isfinite(ds->mean[v]) && isfinite(ds->std[v]) && ds->std[v] > 0);
    }
    for (int i = 0; i < ds->H; i++) FUZZ_ASSERT(fabs(ds->lat[i]) <= 90);
    for (int j = 0; j < ds->W; j++) FUZZ_ASSERT(isfinite(ds->lon[j]));
    for (int t = 1; t < ds->T; t++) FUZZ_ASSERT(ds->hours[t] > ds->hours[t - 1]);
    ds_fuzz_sink = acc;

    float *wlat = malloc(sizeof(float) * (size_t)ds->H);
    FUZZ_ASSERT(wlat);
    dataset_lat_weights(ds, wlat, ds->H);
    free(wlat);
    /* Batches only for grids whose buffers stay small. */
    if ((size_t)ds->V * ds->H * ds->W > ((size_t)1 << 16)) return;
    int ranges[3][2] = {{0, ds->t_train_end}, {ds->t_train_end, ds->t_val_end}, {ds->t_val_end, ds->T}};
    for (int r = 0; r < 3; r++) {
        if (ranges[r][0] >= ranges[r][1]) continue;
        double span = ds->hours[ranges[r][1] - 1] - ds->hours[ranges[r][0]];
        float leads[2] = {6.0f, span > 0 && span < 1e30 ? (float)span : 1.0f};
        Sampler s;
        char err[512];
        if (sampler_init(&s, ds, ranges[r][0], ranges[r][1], leads, 2, 1, 1, err, sizeof err)) continue;
        if (s.n > 0) {
            HostBatch hb;
            host_batch_init(&hb, 2, ds->V, ds->H + 1, ds->W + 1);   /* padded by one row and column */
            for (int i = 0; i < 2; i++) {
                hb.residual = i;
                host_batch_fill(&hb, i, &s, sampler_next(&s));
            }
            ds_fuzz_sink = hb.x[0] + hb.y[0];
            host_batch_free(&hb);
        }
        sampler_free(&s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[4096], err[1024];
    fuzz_write_temp("ds", path, sizeof path, data, size);
    Dataset ds;
    err[0] = 0;
    if (dataset_open(&ds, path, err, sizeof err) == 0) {
        ds_fuzz_use(&ds);
        dataset_free(&ds);
    } else {
        FUZZ_ASSERT(err[0]);
    }
    unlink(path);
    return 0;
}
