/* What the converter refuses in a reader's series before it normalizes them (data/convert.c):
 * coordinates that are no latitude-longitude grid and values that are no numbers. */
#ifndef LVIT_SERIES_CHECK_H
#define LVIT_SERIES_CHECK_H
#include <stddef.h>
#include "data/series.h"

/* Values beyond this magnitude in a cell not marked missing are refused (no physical field
 * comes near it; 3e38 or 9.99e20 are fill values the file forgot to declare). */
#define LVIT_HUGE_VALUE 1e30

/* 0, or -1 with err naming the file, the variable and the first problem:
 * - latitudes: finite, in [-90, 90], strictly increasing or decreasing (no duplicates);
 * - longitudes: finite, in [-360, 720], strictly increasing or decreasing modulo 360 (a
 *   regional grid may cross the date line or the meridian), spanning less than 360 degrees
 *   (a repeated cyclic column is refused);
 * - a global grid whose coordinates span pi and 2pi: radians, refused;
 * - values: infinite or beyond LVIT_HUGE_VALUE in a cell not marked missing (NAN), named by
 *   time (index and date), row and column with their coordinates; no valid cell at all. */
int series_check(const VarSeries *s, char *err, size_t errlen);

#endif
