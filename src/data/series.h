/* What a file reader hands to the dataset converter: time series of 2-D fields of one
 * variable (at one pressure level) on one lat-lon grid, in physical units, exactly as the file
 * has them (orientation, longitude convention and time order are normalized later by the
 * assembler in data/convert.c). Readers: netCDF/Zarr (data/read_netcdf.c), GRIB
 * (data/read_grib.c). */
#ifndef LVIT_SERIES_H
#define LVIT_SERIES_H
#include <stddef.h>
#include <stdint.h>

typedef struct VarSeries {
    char name[64];        /* lvit variable name: the file's short name, "_<level>" appended for
                             pressure levels ("z_500", "t_850"); made unique by the assembler */
    char file_name[64];   /* the variable's name inside the file ("t", "z", "u") */
    char long_name[128];  /* from attributes when present, else "" */
    char units[32];       /* from attributes when present, else "" */
    double level;         /* pressure level in hPa, or NAN for a single-level field */
    int T, H, W;
    double *time;         /* [T] hours since 1970-01-01 00:00 UTC (proleptic Gregorian) */
    double *lat;          /* [H] degrees north, as stored in the file (either order) */
    double *lon;          /* [W] degrees east, as stored (0..360 or -180..180, either order) */
    float *values;        /* [T,H,W] physical units (unpacked); NAN marks a missing value */
    char source[512];     /* the file it came from */
} VarSeries;

typedef struct SeriesList {
    int n, cap;
    VarSeries *s;
} SeriesList;

/* What to read: variable short names (NULL = all 2-D/3-D/4-D fields on a lat-lon grid) and
 * pressure levels in hPa (NULL = all levels). */
typedef struct ReadFilter {
    int nvars;
    const char *const *vars;
    int nlevels;
    const double *levels;
    int lenient;   /* 1: requested variables/levels absent from this file are skipped, not errors
                      (several inputs: the converter checks that each was found in some file) */
} ReadFilter;

void series_list_free(SeriesList *l);
/* Appends a zeroed series and returns it (arrays still NULL). */
VarSeries *series_list_add(SeriesList *l);
void series_free(VarSeries *s);

/* Readers append to out. 0 on success; -1 with err naming the file, the variable and what was
 * wrong (missing file, unknown variable, no lat/lon coordinates, unparseable time units, NaN in
 * data that declares no fill value, ...). */
int read_netcdf(const char *path, const ReadFilter *f, SeriesList *out, char *err, size_t errlen);
int read_grib(const char *path, const ReadFilter *f, SeriesList *out, char *err, size_t errlen);

/* CF time units: "<unit> since <date>[ <time>][ <zone>]" with unit in seconds/minutes/hours/
 * days (and their abbreviations); returns 0 and the factor to hours and the origin in hours
 * since 1970-01-01, or -1. Exposed for tests and for both readers. */
int cf_time_units(const char *units, double *to_hours, double *origin_hours);
/* Hours since 1970-01-01 of a proleptic Gregorian date and time. */
double civil_to_hours(int y, int mo, int d, int h, int mi, double s);
/* "YYYY-MM-DDTHH:MM" of hours since 1970-01-01 (buf >= 20). */
void hours_to_iso(double hours, char *buf, size_t n);

#endif
