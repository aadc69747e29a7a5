/* The description of a run's training data stored in a checkpoint ("lvit.data" in the
 * safetensors __metadata__, docs/formats.md): where the data is (absolute path and a content
 * hash, so a moved or changed file is noticed), what it holds (variables, units, the unpadded
 * grid, lat/lon) and the conventions a caller needs to use the model (lead-time input,
 * padding). Format 2; checkpoints written before it (format 1) hold only source, grid, times,
 * seed and val_frac, and still load: the fields they lack read as unknown. */
#ifndef LVIT_RUN_META_H
#define LVIT_RUN_META_H
#include <stddef.h>
#include <stdint.h>
#include "data/dataset.h"

enum { RUN_META_FORMAT = 2 };
/* The model's lead-time input is lead_hours / RUN_META_LEAD_DIVISOR (data/dataset.c,
 * host_batch_fill). */
#define RUN_META_LEAD_DIVISOR 100.0

/* The "lvit.data" JSON of a run on ds (caller frees). data_arg: the --data argument
 * ("synthetic", or a dataset file: recorded as its absolute path with its FNV-1a 64 hash).
 * extra_json: NULL or a JSON object whose members are added at the top level (the task's own:
 * {"seed":42,"val_frac":0.1,"downscale":{...}}; "task":"downscale" sets the task, default
 * "forecast"). Never fails on a readable dataset; an unreadable data file gets no hash. */
char *run_meta_json(const Dataset *ds, const char *data_arg, const char *extra_json);

/* FNV-1a 64 of a file's bytes as 16 hex digits (out: at least 17 bytes). 0, or -1 with err. */
int run_meta_file_hash(const char *path, char *out, char *err, size_t errlen);

/* What a checkpoint says about its data. */
typedef struct RunMeta {
    int format;              /* 1: the old description (or none), 2: RUN_META_FORMAT */
    char task[16];           /* "forecast" or "downscale" */
    char source[4096];       /* absolute dataset path, "synthetic", or "" (unknown) */
    char hash[17];           /* FNV-1a 64 of the dataset file, "" unknown */
    int V;                   /* variables recorded (0: unknown) */
    char (*names)[64];       /* [V] */
    char (*units)[32];       /* [V], "" unknown */
    int H, W;                /* the unpadded data grid (0: unknown) */
    double *lat, *lon;       /* [H], [W] degrees, or NULL */
    int times;               /* synthetic data: times and seed to rebuild it */
    int64_t seed;
    double lead_divisor;     /* the lead-time input is hours / this */
    double hours0;           /* the data's first time, hours since 1970-01-01 (NAN: unknown) */
    char time_units[64];     /* CF units of the time axis, "" unknown */
} RunMeta;

/* Parses an "lvit.data" text (NULL: nothing recorded, format 1 with everything unknown).
 * 0, or -1 with err (naming where the description came from: `what`). */
int run_meta_parse(RunMeta *m, const char *json, const char *what, char *err, size_t errlen);
/* Opens the data the run of checkpoint ckpt was trained on: data (--data) or the recorded file,
 * with a warning when its content hash is not the recorded one. Exit 2 naming the files when the
 * checkpoint does not say, the file is gone or cannot be read. Returns the path opened. */
const char *run_meta_open_dataset(Dataset *ds, const RunMeta *m, const char *data, const char *ckpt);
void run_meta_free(RunMeta *m);

#endif
