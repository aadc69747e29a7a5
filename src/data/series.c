#include "data/series.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/check.h"

void series_free(VarSeries *s) {
    free(s->time);
    free(s->lat);
    free(s->lon);
    free(s->values);
    memset(s, 0, sizeof *s);
}

void series_list_free(SeriesList *l) {
    for (int i = 0; i < l->n; i++) series_free(&l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

VarSeries *series_list_add(SeriesList *l) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        VarSeries *ns = realloc(l->s, sizeof(VarSeries) * (size_t)l->cap);
        if (!ns) DIE("out of memory growing the series list");
        l->s = ns;
    }
    VarSeries *s = &l->s[l->n++];
    memset(s, 0, sizeof *s);
    s->level = NAN;
    return s;
}

/* Days from 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

double civil_to_hours(int y, int mo, int d, int h, int mi, double s) {
    return (double)days_from_civil(y, mo, d) * 24.0 + h + mi / 60.0 + s / 3600.0;
}

void hours_to_iso(double hours, char *buf, size_t n) {
    if (!(fabs(hours) < 1e12)) { /* beyond a hundred million years (or NaN): no calendar date */
        snprintf(buf, n, "%g h from 1970", hours);
        return;
    }
    int64_t mins = (int64_t)llround(hours * 60.0);
    int64_t z = (mins >= 0 ? mins : mins - 1439) / 1440, rem = mins - z * 1440;
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
    snprintf(buf, n, "%04lld-%02lld-%02lldT%02lld:%02lld", (long long)y, (long long)m, (long long)d,
             (long long)(rem / 60), (long long)(rem % 60));
}

int cf_time_units(const char *units, double *to_hours, double *origin_hours) {
    char unit[32];
    const char *p = units;
    while (isspace((unsigned char)*p)) p++;
    size_t k = 0;
    while (*p && !isspace((unsigned char)*p) && k + 1 < sizeof unit) unit[k++] = *p++;
    unit[k] = 0;
    while (isspace((unsigned char)*p)) p++;
    if (strncasecmp(p, "since", 5) != 0) return -1;
    p += 5;
    static const struct { const char *name; double hours; } table[] = {
        {"seconds", 1.0 / 3600}, {"second", 1.0 / 3600}, {"secs", 1.0 / 3600}, {"sec", 1.0 / 3600}, {"s", 1.0 / 3600},
        {"minutes", 1.0 / 60},   {"minute", 1.0 / 60},   {"mins", 1.0 / 60},   {"min", 1.0 / 60},
        {"hours", 1},            {"hour", 1},            {"hrs", 1},           {"hr", 1},          {"h", 1},
        {"days", 24},            {"day", 24},            {"d", 24},
    };
    double f = 0;
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (strcasecmp(unit, table[i].name) == 0) f = table[i].hours;
    if (f == 0) return -1;
    int y, mo, d, h = 0, mi = 0, n = 0;
    double s = 0;
    while (isspace((unsigned char)*p)) p++;
    if (sscanf(p, "%d-%d-%d%n", &y, &mo, &d, &n) != 3) return -1;
    p += n;
    if (*p == 'T' || *p == ' ') {
        int n2 = 0;
        if (sscanf(p + 1, "%d:%d%n", &h, &mi, &n2) == 2) {
            p += 1 + n2;
            if (*p == ':') {
                int n3 = 0;
                if (sscanf(p + 1, "%lf%n", &s, &n3) == 1) p += 1 + n3;
            }
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 24 || mi < 0 || mi > 59 || s < 0 || s >= 61) return -1;
    /* an optional zone: Z, UTC, +hh:mm / -hh */
    while (isspace((unsigned char)*p)) p++;
    double zone = 0;
    if (*p == 'Z' || strncasecmp(p, "UTC", 3) == 0 || strncasecmp(p, "GMT", 3) == 0) {
    } else if (*p == '+' || *p == '-') {
        int zh = 0, zm = 0;
        if (sscanf(p + 1, "%d:%d", &zh, &zm) < 1) return -1;
        zone = (*p == '-' ? -1 : 1) * (zh + zm / 60.0);
    } else if (*p) {
        return -1;
    }
    *to_hours = f;
    *origin_hours = civil_to_hours(y, mo, d, h, mi, s) - zone;
    return 0;
}
