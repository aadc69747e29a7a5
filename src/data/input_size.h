/* Is an input file as long as its own header says? libnetcdf reads the data of a truncated
 * netCDF-3 file past its end as zeros without an error, and HDF5 refuses a truncated file with
 * only "HDF error"; this reads the header itself (netCDF classic, 64-bit offset and CDF-5: where
 * every variable's data begins and how long it is; HDF5: the end-of-file address in the
 * superblock; GRIB: each message's total length) and compares with the file's size; a Zarr
 * v2 store (a directory) goes to zarr_check (data/zarr_check.h). What is checked: docs/validation.md. */
#ifndef LVIT_INPUT_SIZE_H
#define LVIT_INPUT_SIZE_H
#include <stddef.h>

/* 0 when the file is long enough or is not netCDF-3/HDF5/GRIB/Zarr (another reader judges it); -1
 * with msg (no input path in it) saying what the header promises and what is there. */
int input_size_check(const char *path, char *msg, size_t n);

#endif
