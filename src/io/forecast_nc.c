#include "io/forecast_nc.h"
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/check.h"
#include "data/series.h"

#define NC(call)                                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != NC_NOERR) {                                                                     \
            snprintf(err, errlen, "%s: cannot write netCDF: %s (%s)", path, nc_strerror(rc_), #call); \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

static int put_text(int nc, int var, const char *name, const char *value) {
    return nc_put_att_text(nc, var, name, strlen(value), value);
}

int forecast_write_nc(const char *path, const Dataset *ds, const float *fc, const unsigned char *ok, double init_hours,
                      double valid_hours, char *err, size_t errlen) {
    return forecast_write_nc_info(path, ds, fc, ok, init_hours, valid_hours, NULL, err, errlen);
}

int forecast_write_nc_info(const char *path, const Dataset *ds, const float *fc, const unsigned char *ok,
                           double init_hours, double valid_hours, const ForecastNcInfo *info, char *err, size_t errlen) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int nc = -1, dt, dlat, dlon, vt, vlat, vlon, vref, vlead;
    int *vid = xcalloc((size_t)ds->V, sizeof(int));
    size_t plane = (size_t)ds->H * ds->W;
    float *buf = xmalloc(sizeof(float) * plane);
    const float fill = 9.96921e36f; /* the netCDF default float fill value */
    char iso[32], ref[128];
    NC(nc_create(tmp, NC_CLOBBER | NC_NETCDF4, &nc));
    NC(nc_def_dim(nc, "time", 1, &dt));
    NC(nc_def_dim(nc, "lat", (size_t)ds->H, &dlat));
    NC(nc_def_dim(nc, "lon", (size_t)ds->W, &dlon));
    NC(nc_def_var(nc, "time", NC_DOUBLE, 1, &dt, &vt));
    NC(put_text(nc, vt, "units", "hours since 1970-01-01 00:00:00"));
    NC(put_text(nc, vt, "calendar", "proleptic_gregorian"));
    NC(put_text(nc, vt, "standard_name", "time"));
    NC(put_text(nc, vt, "long_name", "valid time"));
    NC(put_text(nc, vt, "axis", "T"));
    NC(nc_def_var(nc, "forecast_reference_time", NC_DOUBLE, 0, NULL, &vref));
    NC(put_text(nc, vref, "units", "hours since 1970-01-01 00:00:00"));
    NC(put_text(nc, vref, "standard_name", "forecast_reference_time"));
    NC(put_text(nc, vref, "calendar", "proleptic_gregorian"));
    NC(put_text(nc, vref, "long_name", "initial time of the forecast"));
    NC(nc_def_var(nc, "leadtime", NC_DOUBLE, 0, NULL, &vlead));
    NC(put_text(nc, vlead, "units", "hours"));
    NC(put_text(nc, vlead, "standard_name", "forecast_period"));
    NC(nc_def_var(nc, "lat", NC_DOUBLE, 1, &dlat, &vlat));
    NC(put_text(nc, vlat, "units", "degrees_north"));
    NC(put_text(nc, vlat, "standard_name", "latitude"));
    NC(nc_def_var(nc, "lon", NC_DOUBLE, 1, &dlon, &vlon));
    NC(put_text(nc, vlon, "units", "degrees_east"));
    NC(put_text(nc, vlon, "standard_name", "longitude"));
    int dims[3] = {dt, dlat, dlon};
    for (int v = 0; v < ds->V; v++) {
        NC(nc_def_var(nc, ds->names[v], NC_FLOAT, 3, dims, &vid[v]));
        NC(nc_put_att_float(nc, vid[v], "_FillValue", NC_FLOAT, 1, &fill));
        if (ds->units && ds->units[v][0]) NC(put_text(nc, vid[v], "units", ds->units[v]));
        NC(put_text(nc, vid[v], "coordinates", "forecast_reference_time leadtime"));
    }
    NC(put_text(nc, NC_GLOBAL, "Conventions", "CF-1.8"));
    NC(put_text(nc, NC_GLOBAL, "title", "lvit forecast"));
    NC(put_text(nc, NC_GLOBAL, "source", "lvit " LVIT_VERSION));
    hours_to_iso(init_hours, iso, sizeof iso);
    snprintf(ref, sizeof ref, "initialized %s, lead %g h", iso, valid_hours - init_hours);
    NC(put_text(nc, NC_GLOBAL, "history", ref));
    NC(put_text(nc, NC_GLOBAL, "lvit_missing", "cells where the initial state was not observed are _FillValue "
                "(the same cells are NaN in lvit's safetensors forecasts and in the C API's output)"));
    if (info && info->Hp > 0) {
        char pad[512];
        snprintf(pad, sizeof pad, "the model computed on a %dx%d grid: this %dx%d grid with %d rows and %d columns "
                 "of zeros (masked in training) appended after its last row and column; they are not written",
                 info->Hp, info->Wp, ds->H, ds->W, info->Hp - ds->H, info->Wp - ds->W);
        NC(put_text(nc, NC_GLOBAL, "lvit_padding", pad));
        int pg[2] = {info->Hp, info->Wp};
        NC(nc_put_att_int(nc, NC_GLOBAL, "lvit_model_grid", NC_INT, 2, pg));
    }
    if (info && info->checkpoint) NC(put_text(nc, NC_GLOBAL, "lvit_checkpoint", info->checkpoint));
    NC(nc_enddef(nc));
    NC(nc_put_var_double(nc, vt, &valid_hours));
    NC(nc_put_var_double(nc, vref, &init_hours));
    double lead = valid_hours - init_hours;
    NC(nc_put_var_double(nc, vlead, &lead));
    NC(nc_put_var_double(nc, vlat, ds->lat));
    NC(nc_put_var_double(nc, vlon, ds->lon));
    for (int v = 0; v < ds->V; v++) {
        for (size_t c = 0; c < plane; c++) buf[c] = (!ok || ok[(size_t)v * plane + c]) ? fc[(size_t)v * plane + c] : fill;
        NC(nc_put_var_float(nc, vid[v], buf));
    }
    NC(nc_close(nc));
    nc = -1;
    if (rename(tmp, path)) {
        snprintf(err, errlen, "%s: cannot rename the finished file into place", path);
        goto fail;
    }
    free(vid), free(buf);
    return 0;
fail:
    if (nc >= 0) nc_close(nc);
    remove(tmp);
    free(vid), free(buf);
    return -1;
}
