/* lvit convert: netCDF / Zarr / GRIB files, or images (GeoTIFF and other GDAL rasters, .mat cubes,
 * JPEG/PNG folders, BigEarthNet), -> an lvit dataset. Flags only: imagery/convert_any.c decides. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/common.h"
#include "core/check.h"
#include "core/parse.h"
#include "imagery/convert_any.h"

/* Splits "a,b,c" in place into at most n pieces. */
static int split_list(char *s, const char **out, int n) {
    int k = 0;
    for (char *tok = strtok(s, ","); tok && k < n; tok = strtok(NULL, ",")) out[k++] = tok;
    return k;
}

int cmd_convert(int argc, char **argv) {
    const char *out = NULL, *vars = NULL, *levels = NULL, *rename = NULL, *split = "0.625,0.125";
    ImageOptions io = {0};
    const char *unl = NULL, *nod = NULL;
    int rs = 0;
    int64_t seed = 0;
    ArgSpec specs[] = {
        {"output", ARG_STR, &out, "dataset file to write (also -o; required)", NULL, 0, 0, 0},
        {"vars", ARG_STR, &vars, "variables to keep, by their names in the files, comma separated (default all)", NULL, 0, 0, 0},
        {"levels", ARG_STR, &levels, "pressure levels in hPa to keep, comma separated (default all)", NULL, 0, 0, 0},
        {"rename", ARG_STR, &rename, "names for variables: FILE:VAR=NAME or VAR=NAME, comma separated (a comma in a name: \\,)", NULL, 0, 0, 0},
        {"split", ARG_STR, &split, "training and validation fractions of the times, or of the images (the rest is test)", NULL, 0, 0, 0},
        /* image inputs (docs/formats.md, "Image datasets") */
        {"var", ARG_STR, &io.var, "images: the .mat variable holding the cube (default: its only 3-D numeric one)", NULL, 0, 0, 0},
        {"labels", ARG_STR, &io.labels, "images: a label raster (.mat, GeoTIFF) or, for an image folder, a labels CSV", NULL, 0, 0, 0},
        {"label-var", ARG_STR, &io.label_var, "images: the .mat variable of the label raster (default: its only 2-D one)", NULL, 0, 0, 0},
        {"drop-bands", ARG_STR, &io.drop_bands, "images: 1-based band numbers to drop, e.g. 108-112,154-167,224", NULL, 0, 0, 0},
        {"classes", ARG_STR, &io.classes, "images: class names (comma list or a file, one per line); label rasters: VALUE=NAME,...", NULL, 0, 0, 0},
        {"csv-columns", ARG_STR, &io.csv_columns, "images: header names of the labels CSV's file and label columns, e.g. Filename,ClassName", NULL, 0, 0, 0},
        {"multi-label", ARG_FLAG, &io.multi_label, "images: CSV labels are multi-hot even with one label per row", NULL, 0, 0, 0},
        {"unlabelled", ARG_STR, &unl, "images: the label-raster value meaning no label (default 0)", NULL, 0, 0, 0},
        {"nodata", ARG_STR, &nod, "images: a value meaning no data in every band (besides each file's own)", NULL, 0, 0, 0},
        {"resample", ARG_CHOICE, &rs, "BigEarthNet: how 20 m and 60 m bands reach the 10 m grid", "bilinear|nearest|cubic", 0, 0, 0},
        {"seed", ARG_I64, &seed, "images: seed of the images' split", NULL, 0, 9e18, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const char *inputs[1024];
    int n = args_parse(specs, argc, argv, 2, "convert", "-o DATASET INPUT... [--vars a,b] [--levels 500,850] [--rename F:V=N] | images: [--labels F] [--drop-bands 1-3]",
                       inputs, 1024);
    if (!out) DIE_USER("lvit convert: -o DATASET is required");
    if (n < 1) DIE_USER("lvit convert: no INPUT files (netCDF, Zarr directories or GRIB; GeoTIFF, .mat, image folders)");
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
        o.nrename = parse_split_escaped(rbuf, ',', rlist, 256); /* a comma in a file name: \, */
        for (int i = 0; i < o.nrename; i++)
            if (!strchr(rlist[i], '=') || strchr(rlist[i], '=')[1] == 0)
                DIE_USER("lvit convert: --rename expects FILE:VAR=NAME or VAR=NAME; got '%s'", rlist[i]);
        o.rename = rlist;
    }
    float fr[2];
    if (parse_float_list(split, fr, 2) != 2) DIE_USER("lvit convert: --split expects two fractions like 0.625,0.125; got '%s'", split);
    o.train_frac = fr[0];
    o.val_frac = fr[1];
    io.train_frac = fr[0];
    io.val_frac = fr[1];
    io.seed = (uint64_t)seed;
    static const char *const resample[] = {"bilinear", "nearest", "cubic"};
    io.resample = resample[rs];
    char *end;
    if (unl && ((io.unlabelled = strtod(unl, &end)), end == unl || *end))
        DIE_USER("lvit convert: --unlabelled expects a number (the label value meaning no label); got '%s'", unl);
    if (nod && ((io.nodata = strtod(nod, &end)), end == nod || *end))
        DIE_USER("lvit convert: --nodata expects a number; got '%s'", nod);
    io.nodata_set = nod != NULL;
    if (io.label_var && !io.labels) DIE_USER("lvit convert: --label-var names a variable of the --labels file: give --labels");
    if ((io.csv_columns || io.multi_label) && !io.labels)
        DIE_USER("lvit convert: --csv-columns and --multi-label describe a labels CSV: give it with --labels");
    static const char *const image_flags[] = {"var", "labels", "label-var", "drop-bands", "classes", "csv-columns",
                                              "multi-label", "unlabelled", "nodata", "resample", "seed"};
    const char *image_flag = NULL;
    for (size_t k = 0; k < sizeof image_flags / sizeof *image_flags && !image_flag; k++)
        if (args_find(specs, image_flags[k])->seen) image_flag = image_flags[k];
    char flagbuf[64];
    if (image_flag) snprintf(flagbuf, sizeof flagbuf, "--%s", image_flag), image_flag = flagbuf;
    char err[2048];
    if (convert_any(out, n, inputs, &o, &io, image_flag, err, sizeof err)) DIE_USER("lvit convert: %s", err);
    free(vbuf);
    free(lbuf);
    free(rbuf);
    return 0;
}
