/* Forecast with a trained lvit model through the installed library (include/lvit.h).
 *
 *   forecast CHECKPOINT                          prints what the model is
 *   forecast CHECKPOINT IN.raw LEAD_H OUT.raw    also forecasts: IN.raw holds the initial state,
 *                                                float32 [V][H][W] in physical units (native byte
 *                                                order, NaN = missing); OUT.raw gets [Vo][H][W]
 * Build (docs/api.md):  cc forecast.c $(pkg-config --cflags --libs lvit) -o forecast */
#include <lvit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what) {
    fprintf(stderr, "forecast: %s: %s\n", what, lvit_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 5) {
        fprintf(stderr, "usage: forecast CHECKPOINT [IN.raw LEAD_HOURS OUT.raw]\n");
        return 2;
    }
    lvit_model *m;
    if (lvit_open(argv[1], NULL, &m) != LVIT_OK) return fail("open");
    int H, W, Hp, Wp;
    lvit_grid(m, &H, &W);
    lvit_padded_grid(m, &Hp, &Wp);
    const int V = lvit_num_inputs(m), Vo = lvit_num_outputs(m);
    printf("lvit %s: %s model, checkpoint format %d, data from %s\n", lvit_version(), lvit_task(m),
           lvit_format_version(m), *lvit_data_source(m) ? lvit_data_source(m) : "(not recorded)");
    printf("grid %dx%d (the model computes on %dx%d, patch %d), lead input = hours / %g\n", H, W, Hp, Wp,
           lvit_patch_size(m), lvit_lead_divisor(m));
    if (lvit_lat(m)) printf("lat %g .. %g, lon %g .. %g\n", lvit_lat(m)[0], lvit_lat(m)[H - 1], lvit_lon(m)[0], lvit_lon(m)[W - 1]);
    for (int v = 0; v < V; v++) {
        double mu, sd;
        lvit_norm(m, v, &mu, &sd);
        printf("  input %d %-12s units '%s' mean %g std %g%s\n", v, lvit_var_name(m, v), lvit_units(m, v), mu, sd,
               v < Vo ? "" : " (static)");
    }
    if (argc == 2) {
        lvit_close(m);
        return 0;
    }
    const size_t n = (size_t)V * H * W, no = (size_t)Vo * H * W;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * no);
    unsigned char *mask = malloc(n);
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(x, sizeof(float), n, f) != n) {
        fprintf(stderr, "forecast: %s: cannot read %zu float32 values ([%d][%d][%d])\n", argv[2], n, V, H, W);
        return 1;
    }
    fclose(f);
    for (size_t i = 0; i < n; i++) mask[i] = !isnan(x[i]); /* missing values in, NaN out */
    if (lvit_forecast(m, x, mask, (float)atof(argv[3]), y) != LVIT_OK) return fail("forecast");
    f = fopen(argv[4], "wb");
    if (!f || fwrite(y, sizeof(float), no, f) != no || fclose(f)) {
        fprintf(stderr, "forecast: cannot write %s\n", argv[4]);
        return 1;
    }
    printf("wrote %s: [%d][%d][%d] float32, +%s h\n", argv[4], Vo, H, W, argv[3]);
    free(x), free(y), free(mask);
    lvit_close(m);
    return 0;
}
