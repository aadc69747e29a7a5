#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util_nc.h"

void tu_nc_put_text(int ncid, int varid, const char *name, const char *value) {
    NC(nc_put_att_text(ncid, varid, name, strlen(value), value));
}

/* libnetcdf 4.9.0 leaks small lists (nclistnew) on every NCZarr open and variable definition;
 * not ours to fix, so LeakSanitizer ignores exactly those under LVIT_SANITIZE builds (the default
 * fast unwinder records only two frames, so the allocator is the one name it can match). A leak
 * of ours (an unclosed file) would still show through its other allocations. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:nclistnew\n"; }
