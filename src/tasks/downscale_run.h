/* What the downscaling task's eval and predict share: the run's model and data, the kernel
 * table of --device, the time range of a split, the fine truth of a time. */
#ifndef LVIT_DOWNSCALE_RUN_H
#define LVIT_DOWNSCALE_RUN_H
#include "tasks/downscale_setup.h"

typedef struct DsRun {
    VitConfig cfg;
    float *mean, *std;
    Dataset ds;
    TaskOptions f;
    DownscaleData dd;
    char ckpt[4096];
    char *desc;
} DsRun;

/* The run's model and data: the options given override what lvit.data recorded (data file,
 * static inputs, coarse files). */
void ds_run_open(DsRun *r, const char *run, const char *data, const char *statics, const char *coarse,
                 const TaskOptions *tiles, const char *cmd);
void ds_run_close(DsRun *r);
/* --device: the CPU's kernel table or the GPU's (exit 2 with the reason when there is none) */
const Kernels *ds_kernels(int device, const char *cmd);
/* The times [t0, t1) of split "test", "val" or "train" */
void split_range(const Dataset *ds, const char *split, int *t0, int *t1, const char *cmd);
/* The fine truth y [Vo, H, W] of time t and its validity */
void truth_at(const Downscale *d, int t, float *y, unsigned char *ok);

#endif
