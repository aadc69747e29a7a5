/* Comparison of two geotransforms (core/georef.h). */
#include "core/georef.h"
#include <math.h>
#include <stdio.h>

int georef_same_grid(const double a[6], const double b[6], char *why, size_t n) {
    const double px = fmax(fabs(a[1]) + fabs(a[2]), 1e-300), py = fmax(fabs(a[4]) + fabs(a[5]), 1e-300);
    int same = fabs(a[0] - b[0]) < 0.5 * px && fabs(a[3] - b[3]) < 0.5 * py;
    for (int k = 1; k < 6 && same; k++)
        if (k != 3) same = fabs(a[k] - b[k]) <= 1e-3 * (k < 3 ? px : py);
    if (!same)
        snprintf(why, n, "upper-left corner (%.10g, %.10g) with pixels %.6g x %.6g, against (%.10g, %.10g) with "
                 "%.6g x %.6g (CRS units)", b[0], b[3], b[1], b[5], a[0], a[3], a[1], a[5]);
    return same;
}
