/* libFuzzer target: training-state checkpoints (src/io/train_state.c). The first byte chooses
 * what the rest is: even, a state file (state_00000.safetensors of a one-file checkpoint whose
 * manifest is valid), gathered by the ranges of a 3-rank layout and of one rank; odd, the text of
 * manifest.json, read. Whatever the input, no crash, leak or huge allocation, and an error that
 * names the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fuzz_util.h"
#include "io/train_state.h"

enum { FZ_N = 256 }; /* the manifest's n_params */

static const char *fz_state_dir(void) {
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/lvit-fuzz-state-%ld", t && t[0] ? t : "/tmp", (long)getpid());
        mkdir(dir, 0755);
    }
    return dir;
}

static void fz_put(const char *dir, const char *name, const uint8_t *data, size_t size) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
        perror(path);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *dir = fz_state_dir();
    char err[8192];
    StateManifest m;
    if (data[0] & 1) {
        fz_put(dir, "manifest.json", data + 1, size - 1);
        if (state_read_manifest(dir, &m, err, sizeof err) == 0) {
            FUZZ_ASSERT(m.nfiles >= 1 && m.dp >= 1 && m.sp >= 1 && m.zero >= 0 && m.zero <= 3 && m.n_params >= 0);
            FUZZ_ASSERT(memchr(m.config, 0, sizeof m.config) != NULL);
        } else {
            FUZZ_ASSERT(strstr(err, "manifest.json") != NULL);
        }
        return 0;
    }
    static const char man[] = "{\"step\":10,\"files\":1,\"dp\":1,\"sp\":1,\"zero\":0,\"n_params\":256,\"batch\":4,"
                              "\"seed\":1,\"config\":\"{}\"}\n";
    fz_put(dir, "manifest.json", (const uint8_t *)man, sizeof man - 1);
    fz_put(dir, "state_00000.safetensors", data + 1, size - 1);
    if (state_read_manifest(dir, &m, err, sizeof err)) abort();
    float *buf = calloc(3 * FZ_N, sizeof(float));
    /* as rank 1 of 3 (a shard in two pieces) and as one rank holding everything */
    StateRange shard[2] = {{129, 43}, {86, 43}}, all = {0, FZ_N};
    for (int layout = 0; layout < 2; layout++) {
        const StateRange *r = layout ? &all : shard;
        int nr = layout ? 1 : 2;
        StatePart want[3] = {{SV_PARAMS, buf, &all, 1}, {SV_ADAM_M, buf + FZ_N, r, nr}, {SV_ADAM_V, buf + 2 * FZ_N, r, nr}};
        TrainState ts;
        if (state_gather(dir, &m, want, 3, &ts, err, sizeof err) == 0) FUZZ_ASSERT(ts.step == 10);
        else FUZZ_ASSERT(strstr(err, dir) != NULL);
    }
    free(buf);
    return 0;
}
