#include "data/series_check.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

#define PI 3.14159265358979323846

static int check_lat(const VarSeries *s, char *err, size_t n) {
    for (int i = 0; i < s->H; i++)
        if (!(fabs(s->lat[i]) <= 90.0)) {
            snprintf(err, n, "%s: %s: latitude %g (row %d) is not in [-90, 90] degrees", s->source, s->name, s->lat[i], i);
            return -1;
        }
    for (int i = 1; i < s->H; i++) {
        double d = s->lat[i] - s->lat[i - 1], d0 = s->lat[1] - s->lat[0];
        if (d == 0) {
            snprintf(err, n, "%s: %s: latitude %g appears twice (rows %d and %d); expected each row once", s->source,
                     s->name, s->lat[i], i - 1, i);
            return -1;
        }
        if ((d > 0) != (d0 > 0)) {
            snprintf(err, n, "%s: %s: latitudes are not in order: %g, %g, %g (rows %d..%d); expected them strictly "
                     "increasing or strictly decreasing", s->source, s->name, s->lat[i - 2 >= 0 ? i - 2 : 0],
                     s->lat[i - 1], s->lat[i], i - 2 >= 0 ? i - 2 : 0, i);
            return -1;
        }
    }
    return 0;
}

/* a longitude difference brought into (-180, 180] */
static double wrap(double d) {
    d = fmod(d, 360.0);
    if (d > 180.0) d -= 360.0;
    if (d <= -180.0) d += 360.0;
    return d;
}

static int check_lon(const VarSeries *s, char *err, size_t n) {
    for (int j = 0; j < s->W; j++)
        if (!(s->lon[j] >= -360.0 && s->lon[j] <= 720.0)) {
            snprintf(err, n, "%s: %s: longitude %g (column %d) is not in [-360, 720] degrees", s->source, s->name,
                     s->lon[j], j);
            return -1;
        }
    double sum = 0, d0 = s->W > 1 ? wrap(s->lon[1] - s->lon[0]) : 0;
    for (int j = 1; j < s->W; j++) {
        double d = wrap(s->lon[j] - s->lon[j - 1]);
        if (fabs(d) < 1e-9) {
            snprintf(err, n, "%s: %s: longitude %g (column %d) is longitude %g (column %d) again; expected each "
                     "column once", s->source, s->name, s->lon[j], j, s->lon[j - 1], j - 1);
            return -1;
        }
        if ((d > 0) != (d0 > 0)) {
            snprintf(err, n, "%s: %s: longitudes are not in order: %g after %g (columns %d, %d), against the direction "
                     "of the first columns; expected them strictly increasing or strictly decreasing (modulo 360)",
                     s->source, s->name, s->lon[j], s->lon[j - 1], j, j - 1);
            return -1;
        }
        sum += d;
    }
    /* W columns cover (W-1) steps plus one more cell: a full circle at most */
    double span = fabs(sum), step = s->W > 1 ? span / (s->W - 1) : 0;
    if (s->W > 1 && span + step > 360.0 * (1 + 1e-6)) {
        snprintf(err, n, "%s: %s: the %d longitudes %g..%g go around more than once (%g degrees in steps of %g); "
                 "expected one period of 360 degrees at most (drop a repeated cyclic column)", s->source, s->name, s->W,
                 s->lon[0], s->lon[s->W - 1], span, step);
        return -1;
    }
    return 0;
}

/* A grid spanning pi in latitude and about 2 pi in longitude with all values inside those
 * ranges is in radians: a latitude-longitude box of 3 x 6 degrees at the equator would look
 * the same, but lvit trains on regions far larger than its patches. */
static int check_radians(const VarSeries *s, char *err, size_t n) {
    if (s->H < 3 || s->W < 3) return 0;
    double la = 0, lo0 = s->lon[0], lo1 = s->lon[0];
    for (int i = 0; i < s->H; i++) la = fmax(la, fabs(s->lat[i]));
    for (int j = 0; j < s->W; j++) lo0 = fmin(lo0, s->lon[j]), lo1 = fmax(lo1, s->lon[j]);
    double lat_span = fabs(s->lat[s->H - 1] - s->lat[0]);
    if (la <= PI / 2 + 1e-6 && lat_span >= 0.75 * PI && lo0 >= -PI - 1e-6 && lo1 <= 2 * PI + 1e-6 &&
        lo1 - lo0 >= 0.75 * 2 * PI) {
        snprintf(err, n, "%s: %s: latitudes %g..%g and longitudes %g..%g span pi and 2 pi: they look like radians; "
                 "expected degrees (units degrees_north, degrees_east): multiply the coordinates by 180/pi",
                 s->source, s->name, s->lat[0], s->lat[s->H - 1], lo0, lo1);
        return -1;
    }
    return 0;
}

static int check_values(const VarSeries *s, char *err, size_t n) {
    const size_t plane = (size_t)s->H * s->W;
    size_t valid = 0;
    for (int t = 0; t < s->T; t++)
        for (size_t c = 0; c < plane; c++) {
            float x = s->values[(size_t)t * plane + c];
            if (isnan(x)) continue; /* missing */
            if (!(fabsf(x) <= LVIT_HUGE_VALUE)) {
                char iso[32];
                hours_to_iso(s->time[t], iso, sizeof iso);
                int i = (int)(c / (size_t)s->W), j = (int)(c % (size_t)s->W);
                snprintf(err, n, "%s: %s: value %g at time %d (%s), row %d column %d (lat %g, lon %g) is %s in a cell "
                         "not marked missing; declare it as _FillValue/missing_value (or fix the file)", s->source,
                         s->name, (double)x, t, iso, i, j, s->lat[i], s->lon[j],
                         isinf(x) ? "infinite" : "beyond +-1e30");
                return -1;
            }
            valid++;
        }
    if (!valid) {
        snprintf(err, n, "%s: %s: every one of its %d x %d x %d cells is missing (fill value); nothing to learn from",
                 s->source, s->name, s->T, s->H, s->W);
        return -1;
    }
    return 0;
}

/* times: finite and within a million years of 1970 (a wrong unit or origin gives absurd ones) */
static int check_times(const VarSeries *s, char *err, size_t n) {
    for (int t = 0; t < s->T; t++)
        if (s->T > 1 && !(fabs(s->time[t]) <= 1e10)) {
            snprintf(err, n, "%s: %s: time %d is %g hours from 1970-01-01: not a date (check the time units)", s->source,
                     s->name, t, s->time[t]);
            return -1;
        }
    return 0;
}

int series_check(const VarSeries *s, char *err, size_t errlen) {
    if (check_times(s, err, errlen) || check_lat(s, err, errlen) || check_lon(s, err, errlen) || check_radians(s, err, errlen)) return -1;
    return check_values(s, err, errlen);
}
