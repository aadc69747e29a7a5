#include "log.h"
#include "check.h"
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int g_quiet = 0;

double now_sec(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

void log_set_quiet(int quiet) { g_quiet = quiet; }

void log_info(const char *fmt, ...) {
    if (g_quiet || lvit_rank() != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

void log_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lvit: [rank %d] warning: ", lvit_rank());
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void fmt_duration(char *buf, int n, double s) {
    if (s < 0) s = 0;
    if (s < 60) snprintf(buf, n, "%.1fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}
