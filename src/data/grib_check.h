/* GRIB message layout, checked before ecCodes parses a message. ecCodes trusts each section's
 * stated length: a length of 0, one shorter than the section's template, or sections that run
 * past the message make it "assume" another size and go on, and some such messages then keep
 * it busy for minutes on the first time key (found by fuzz_convert, regress/convert/grib-*).
 * GRIB1 and GRIB2 are walked section by section here; what is checked: docs/validation.md. */
#ifndef LVIT_GRIB_CHECK_H
#define LVIT_GRIB_CHECK_H
#include <eccodes.h>
#include <stddef.h>

/* Where each section of one message begins, in bytes from "GRIB" (GRIB2: sections 1-7, their
 * first occurrence; GRIB1: 1 product, 2 grid, 3 bitmap, 4 data); -1 when absent. */
typedef struct GribLayout {
    int edition;
    int checked; /* 0 for ECMWF's large-GRIB1 length encoding, which is left to ecCodes */
    long long off[8];
} GribLayout;

/* Walks one message held in memory (m starts with "GRIB", len bytes): 0 with its layout, or -1
 * with msg saying which section is wrong and how. */
int grib_layout(const unsigned char *m, size_t len, GribLayout *L, char *msg, size_t n);

/* Every message of the file at path, found the way ecCodes finds them (the next "GRIB"; an
 * edition other than 1 or 2 is refused): 0, or -1 with msg (no path in it) naming the message, its byte offset and
 * what is wrong. Reads only the section headers, not the data. */
int grib_file_check(const char *path, char *msg, size_t n);

/* 1 when the message's forecast time has a unit of its edition's code table (GRIB2 4.4, GRIB1 4)
 * or is zero; 0 otherwise, with the unit code: ecCodes' validityDate then either does not return
 * or ignores the time (found by crafting GRIB2 and GRIB1 messages, regress/convert/grib2-time-unit-101). */
int grib_time_unit_known(codes_handle *h, long *unit, long *edition);

#endif
