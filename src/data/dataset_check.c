#include "data/dataset_check.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/check.h"

int dataset_check_cells(const Dataset *ds, const char *path, char *err, size_t errlen) {
    const size_t plane = (size_t)ds->H * ds->W;
    int64_t *nvalid = xcalloc((size_t)ds->V, sizeof(int64_t));
    int rc = 0;
    for (int t = 0; t < ds->T && !rc; t++)
        for (int v = 0; v < ds->V && !rc; v++) {
            const size_t o = ((size_t)t * ds->V + v) * plane;
            const float *x = ds->data + o;
            const uint8_t *ok = ds->valid + o;
            int64_t n = 0;
            int bad = 0;
            for (size_t c = 0; c < plane; c++) {
                n += ok[c] != 0;
                bad |= ok[c] && !(fabsf(x[c]) <= 1e30f);
            }
            nvalid[v] += n;
            for (size_t c = 0; bad && c < plane; c++)
                if (ok[c] && !(fabsf(x[c]) <= 1e30f)) {
                    if (ds->kind == DATASET_IMAGE) /* images have no coordinates: the image and pixel */
                        snprintf(err, errlen, "%s: band '%s' holds %g in image %d at pixel (row %zu, column %zu), a "
                                 "cell marked valid; expected a finite value within +-1e30 (or the cell marked invalid)",
                                 path, ds->names[v], (double)x[c], t, c / (size_t)ds->W, c % (size_t)ds->W);
                    else
                        snprintf(err, errlen, "%s: variable '%s' holds %g at time %d, row %zu column %zu (lat %g, lon "
                                 "%g), a cell marked valid; expected a finite value within +-1e30 (or the cell marked "
                                 "invalid)", path, ds->names[v], (double)x[c], t, c / (size_t)ds->W, c % (size_t)ds->W,
                                 ds->lat[c / (size_t)ds->W], ds->lon[c % (size_t)ds->W]);
                    rc = -1;
                    break;
                }
        }
    for (int v = 0; v < ds->V && !rc; v++)
        if (!nvalid[v]) {
            snprintf(err, errlen, "%s: variable '%s' has no valid cell (all %d x %d x %d are marked invalid); nothing to "
                     "train on or score", path, ds->names[v], ds->T, ds->H, ds->W);
            rc = -1;
        }
    free(nvalid);
    return rc;
}

