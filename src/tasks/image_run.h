/* A trained image-task run (classify or segment) reopened for `lvit eval` and `lvit predict`: its
 * checkpoint's configuration and normalisation, the task options training recorded, and the data
 * (the recorded file or --data) checked band by band against the model. */
#ifndef LVIT_IMAGE_RUN_H
#define LVIT_IMAGE_RUN_H
#include "data/dataset.h"
#include "model/vit.h"
#include "tasks/task.h"

typedef struct ImageRun {
    char ckpt[4096];
    char data[4096]; /* the dataset file opened */
    char tag[256];   /* "" for the run's own data, else "_NAME" (--data NAME.lvd): eval's files are
                      * confusion_test_NAME.csv ..., beside the run's own */
    VitConfig cfg;
    float *mean, *std;
    Dataset ds;
    TaskOptions opts;
    char split_hash[2][17]; /* the split rasters' content hashes at training ("" where not recorded) */
    int nclass;             /* the classes training recorded: names, and the label raster's values */
    char **class_names;     /* [nclass] */
    double *class_values;   /* [nclass], or NULL where not recorded */
} ImageRun;

/* Whether the run's data has labels to score (an image dataset without any is a scene to predict). */
int image_run_labelled(const ImageRun *r);
/* Opens RUN/model.safetensors and its data; the task options come from the checkpoint's "lvit.data"
 * entry named key ("classify", "segment"); rd reads the recorded label rasters again. cmd ("eval",
 * "predict") names the command in errors, which exit with a user error. */
void image_run_open(ImageRun *r, const char *run, const char *data, LabelRasterRead rd, const char *cmd,
                    const char *key);
void image_run_close(ImageRun *r);
/* Warns when a split raster read again (cd, opened from r's options) is not the file training read. */
struct ClassifyData;
void image_run_check_split(const ImageRun *r, const struct ClassifyData *cd);
#endif
