/* netCDF helpers shared by the tests that write small files with the netCDF C API. */
#ifndef LVIT_UTIL_NC_H
#define LVIT_UTIL_NC_H
#include <netcdf.h>

/* A failing netCDF call fails the test with the call and libnetcdf's message. */
#define NC(call)                                                                                     \
    do {                                                                                             \
        int rc_ = (call);                                                                            \
        if (rc_ != NC_NOERR) fail_msg("%s:%d: %s: %s", __FILE__, __LINE__, #call, nc_strerror(rc_)); \
    } while (0)

/* A text attribute (length from the string). */
void tu_nc_put_text(int ncid, int varid, const char *name, const char *value);

#endif
