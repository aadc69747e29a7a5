/* libFuzzer target: lvit convert on netCDF-3 and GRIB files (issue 20 item 4). The first byte
 * picks the reader, the rest is the file: even, a netCDF-3 file (it must start with "CDF", so
 * the fuzzer stays out of HDF5, whose library is not the converter's to harden), read through
 * the header size check, libnetcdf and the series checks; odd, a file named .grib, decoded by
 * ecCodes message by message. convert_files runs to the end (assembly, statistics, the dataset
 * written to a temporary file); when it says "ok" the dataset it wrote must open. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "data/convert.h"
#include "data/dataset_file.h"
#include "fuzz_util.h"

static void cv_fuzz_path(char *path, size_t n, const char *what) {
    const char *dir = getenv("TMPDIR");
    snprintf(path, n, "%s/lvit-fuzz-cv-%ld.%s", dir && dir[0] ? dir : "/tmp", (long)getpid(), what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const int grib = data[0] & 1;
    data++, size--;
    if (!grib && (size < 4 || memcmp(data, "CDF", 3))) return 0;
    log_set_quiet(1);
    char in[4096], out[4096], err[1024];
    cv_fuzz_path(in, sizeof in, grib ? "grib" : "nc");
    cv_fuzz_path(out, sizeof out, "lvd");
    FILE *fp = fopen(in, "wb");
    if (!fp || (size && fwrite(data, 1, size, fp) != size) || fclose(fp) != 0) {
        perror(in);
        abort();
    }
    const char *inputs[1] = {in};
    ConvertOptions o = {.train_frac = 0.5, .val_frac = 0.25};
    err[0] = 0;
    if (convert_files(out, 1, inputs, &o, err, sizeof err) == 0) {
        Dataset ds;
        char derr[1024];
        if (dataset_open(&ds, out, derr, sizeof derr)) {
            fprintf(stderr, "convert wrote a dataset that does not open: %s\n", derr);
            FUZZ_ASSERT(0);
        }
        dataset_free(&ds);
        unlink(out);
    } else {
        FUZZ_ASSERT(err[0]);
    }
    unlink(in);
    return 0;
}
