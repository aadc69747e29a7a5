/* Logging and timing. Only rank 0 prints info lines; warnings and errors from every rank. */
#ifndef LVIT_LOG_H
#define LVIT_LOG_H

double now_sec(void);   /* monotonic seconds */
void log_set_quiet(int quiet);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "1h02m", "3m05s", "12.3s" */
void fmt_duration(char *buf, int n, double seconds);

#endif
