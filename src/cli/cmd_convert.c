/* lvit convert: netCDF / Zarr / GRIB files -> an lvit dataset. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/common.h"
#include "core/check.h"
#include "data/convert.h"

/* Splits "a,b,c" in place into at most n pieces. */
static int split_list(char *s, const char **out, int n) {
    int k = 0;
    for (char *tok = strtok(s, ","); tok && k < n; tok = strtok(NULL, ",")) out[k++] = tok;
    return k;
}

int cmd_convert(int argc, char **argv) {
    const char *out = NULL, *vars = NULL, *levels = NULL, *rename = NULL, *split = "0.625,0.125";
    ArgSpec specs[] = {
        {"output", ARG_STR, &out, "dataset file to write (also -o; required)", NULL, 0, 0, 0},
        {"vars", ARG_STR, &vars, "variables to keep, by their names in the files, comma separated (default all)", NULL, 0, 0, 0},
        {"levels", ARG_STR, &levels, "pressure levels in hPa to keep, comma separated (default all)", NULL, 0, 0, 0},
        {"rename", ARG_STR, &rename, "names for variables: FILE:VAR=NAME or VAR=NAME, comma separated", NULL, 0, 0, 0},
        {"split", ARG_STR, &split, "training and validation fractions of the times (the rest is test)", NULL, 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const char *inputs[1024];
    int n = args_parse(specs, argc, argv, 2, "convert", "-o DATASET INPUT... [--vars a,b] [--levels 500,850] [--rename F:V=N]",
                       inputs, 1024);
    if (!out) DIE_USER("lvit convert: -o DATASET is required");
    if (n < 1) DIE_USER("lvit convert: no INPUT files (netCDF, Zarr directories or GRIB)");
    ConvertOptions o = {0};
    char *vbuf = vars ? xstrdup(vars) : NULL, *lbuf = levels ? xstrdup(levels) : NULL, *rbuf = rename ? xstrdup(rename) : NULL;
    const char *vlist[256], *llist[64], *rlist[256];
    double lv[64];
    if (vbuf) o.filter.nvars = split_list(vbuf, vlist, 256), o.filter.vars = vlist;
    if (lbuf) {
        o.filter.nlevels = split_list(lbuf, llist, 64);
        for (int i = 0; i < o.filter.nlevels; i++) {
            char *end;
            lv[i] = strtod(llist[i], &end);
            if (end == llist[i] || *end || !(lv[i] > 0)) DIE_USER("lvit convert: --levels expects hPa values like 500,850; got '%s'", llist[i]);
        }
        o.filter.levels = lv;
    }
    if (rbuf) {
        o.nrename = split_list(rbuf, rlist, 256);
        for (int i = 0; i < o.nrename; i++)
            if (!strchr(rlist[i], '=') || strchr(rlist[i], '=')[1] == 0)
                DIE_USER("lvit convert: --rename expects FILE:VAR=NAME or VAR=NAME; got '%s'", rlist[i]);
        o.rename = rlist;
    }
    float fr[2];
    if (parse_float_list(split, fr, 2) != 2) DIE_USER("lvit convert: --split expects two fractions like 0.625,0.125; got '%s'", split);
    o.train_frac = fr[0];
    o.val_frac = fr[1];
    char err[2048];
    if (convert_files(out, n, inputs, &o, err, sizeof err)) DIE_USER("lvit convert: %s", err);
    free(vbuf);
    free(lbuf);
    free(rbuf);
    return 0;
}
