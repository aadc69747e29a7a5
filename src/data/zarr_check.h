/* Zarr v2 stores (NCZarr or plain, as xarray writes them) checked before libnetcdf opens them.
 * libnetcdf 4.9's NCZarr reader trusts the metadata: a .zarray that is not JSON or lacks shape,
 * chunks, dtype or order, a dtype such as "|O", _ARRAY_DIMENSIONS or NCZarr dimrefs of another
 * rank than the shape, a variable listed in .zgroup whose folder is gone: each crashes it
 * (SIGSEGV). It also reads a chunk cut short, or a missing chunk of an array without a fill
 * value, as zeros. What is checked: docs/validation.md. */
#ifndef LVIT_ZARR_CHECK_H
#define LVIT_ZARR_CHECK_H
#include <stddef.h>

/* 0 when the store under root is consistent; -1 with msg naming the file inside the store
 * (relative to root, which the caller names) and what was expected. */
int zarr_check(const char *root, char *msg, size_t n);

#endif
